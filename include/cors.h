/*
 * cors: the CORS headers a response and a preflight get, as name and
 * value pairs for server.c to add.
 */
#ifndef ODP_CORS_H
#define ODP_CORS_H

#include <stddef.h>

struct config;

/* The most headers either call gives. */
#define CORS_MAX_HEADERS	4

struct cors_header {
	const char	*name;
	const char	*value;		/* static, or a request's own value */
};

/* Headers in the order they are to be added. */
struct cors_headers {
	struct cors_header	 v[CORS_MAX_HEADERS];
	size_t			 n;
};

void	cors_response(struct cors_headers *, const struct config *,
	    const char *);
void	cors_preflight(struct cors_headers *, const struct config *,
	    const char *, const char *);

#endif
