/*
 * route: the handler a request path goes to, the methods each route
 * takes, and the 404 or 405 for a request that fits none.
 */
#ifndef ODP_ROUTE_H
#define ODP_ROUTE_H

#include "api_error.h"

enum route {
	ROUTE_NONE,		/* no such path: 404 */
	ROUTE_CHAT,		/* /v1/chat/completions */
	ROUTE_MODELS,		/* /v1/models */
	ROUTE_MODEL,		/* /v1/models/{id} */
	ROUTE_HEALTH,		/* /healthz */
	ROUTE_READY		/* /readyz */
};

/* The methods evhttp takes; server.c maps its own onto these. */
enum route_method {
	ROUTE_METHOD_GET,
	ROUTE_METHOD_POST,
	ROUTE_METHOD_HEAD,
	ROUTE_METHOD_PUT,
	ROUTE_METHOD_DELETE,
	ROUTE_METHOD_OPTIONS,
	ROUTE_METHOD_TRACE,
	ROUTE_METHOD_CONNECT,
	ROUTE_METHOD_PATCH,
	ROUTE_METHOD_OTHER	/* none of these; named "?" */
};

enum route	 route_match(const char *, const char **);
const char	*route_allow(enum route);
int		 route_allows(enum route, enum route_method);
const char	*route_method_name(enum route_method);
void		 route_error(struct api_error *, enum route, enum route_method,
		    const char *);

#endif
