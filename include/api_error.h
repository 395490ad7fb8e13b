/*
 * api_error: OpenAI-shaped errors, and the table that maps Dify's errors
 * onto them.
 */
#ifndef ODP_API_ERROR_H
#define ODP_API_ERROR_H

#include <stddef.h>

#include "buf.h"

struct api_error {
	int	 status;		/* HTTP status for the client */
	char	 type[32];		/* OpenAI error type */
	char	 code[64];		/* OpenAI or Dify code; "" for null */
	char	 param[96];		/* offending parameter; "" for null */
	char	 message[640];
	int	 retry_after;		/* seconds for Retry-After; 0 for none */
};

/* Failures of the upstream exchange that Dify did not describe itself. */
enum api_error_upstream {
	API_ERROR_UPSTREAM_UNREACHABLE,	/* refused, unreachable, no route */
	API_ERROR_UPSTREAM_DNS,		/* name did not resolve */
	API_ERROR_UPSTREAM_TLS,		/* handshake or verification failed */
	API_ERROR_UPSTREAM_TIMEOUT,	/* nothing arrived in time */
	API_ERROR_UPSTREAM_INCOMPLETE,	/* stream ended before its end event */
	API_ERROR_UPSTREAM_PROTOCOL,	/* bytes we cannot read as Dify's */
	API_ERROR_UPSTREAM_NO_DESCRIPTORS /* the proxy ran out of sockets */
};

void	 api_error_set(struct api_error *, int, const char *, const char *,
	    const char *, const char *, ...)
	    __attribute__((format(printf, 6, 7)));
void	 api_error_from_dify(struct api_error *, int, const char *, size_t,
	    const char *, size_t);
void	 api_error_from_dify_body(struct api_error *, int, const char *,
	    size_t);
void	 api_error_upstream(struct api_error *, enum api_error_upstream,
	    const char *);
void	 api_error_sanitize(const char *, size_t, int, char *, size_t);
void	 api_error_json(const struct api_error *, struct buf *);

#endif
