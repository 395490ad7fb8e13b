/*
 * route: the handler a request path goes to, and the methods it takes.
 *
 * Routes:
 *   POST /v1/chat/completions, /chat/completions   chat (exchange.c)
 *   GET  /v1/models, /models                       the app as a model
 *   GET  /v1/models/{id}, /models/{id}             one model (models.c)
 *   GET  /healthz                                  200 while serving
 *   GET  /readyz                                   200 until draining
 *   OPTIONS anything                               CORS preflight (cors.c)
 * HEAD goes wherever GET does.  The /v1 prefix is optional on every path
 * (/v1/healthz is /healthz too), and a path may end in one slash, not
 * two.  Anything else is a JSON 404, and a method a known path does not
 * take a JSON 405 with its Allow list.
 *
 * Nothing here knows evhttp: server.c hands over the path and the method
 * as a route_method, and sends what comes back.  OPTIONS is in every
 * known route's Allow list, but server.c answers it before it routes.
 */
#include <string.h>

#include "api_error.h"
#include "route.h"
#include "util.h"

#define ROUTE_BIT(m)	(1U << ROUTE_METHOD_ ## m)

/* What a route takes: its Allow header, and the same as method bits. */
static const struct route_methods {
	const char	*allow;
	unsigned	 methods;
} route_methods[] = {
	[ROUTE_NONE] = { NULL, 0 },
	[ROUTE_CHAT] = { "POST, OPTIONS",
	    ROUTE_BIT(POST) | ROUTE_BIT(OPTIONS) },
	[ROUTE_MODELS] = { "GET, HEAD, OPTIONS",
	    ROUTE_BIT(GET) | ROUTE_BIT(HEAD) | ROUTE_BIT(OPTIONS) },
	[ROUTE_MODEL] = { "GET, HEAD, OPTIONS",
	    ROUTE_BIT(GET) | ROUTE_BIT(HEAD) | ROUTE_BIT(OPTIONS) },
	[ROUTE_HEALTH] = { "GET, HEAD, OPTIONS",
	    ROUTE_BIT(GET) | ROUTE_BIT(HEAD) | ROUTE_BIT(OPTIONS) },
	[ROUTE_READY] = { "GET, HEAD, OPTIONS",
	    ROUTE_BIT(GET) | ROUTE_BIT(HEAD) | ROUTE_BIT(OPTIONS) }
};

/* Method names, for messages and logs. */
static const char *const route_method_names[] = {
	[ROUTE_METHOD_GET] = "GET",
	[ROUTE_METHOD_POST] = "POST",
	[ROUTE_METHOD_HEAD] = "HEAD",
	[ROUTE_METHOD_PUT] = "PUT",
	[ROUTE_METHOD_DELETE] = "DELETE",
	[ROUTE_METHOD_OPTIONS] = "OPTIONS",
	[ROUTE_METHOD_TRACE] = "TRACE",
	[ROUTE_METHOD_CONNECT] = "CONNECT",
	[ROUTE_METHOD_PATCH] = "PATCH",
	[ROUTE_METHOD_OTHER] = "?"
};

/* Match a path to a route; *model_id points into path for ROUTE_MODEL. */
enum route
route_match(const char *path, const char **model_id)
{
	size_t	len;

	if (strncmp(path, "/v1/", 4) == 0)
		path += 3;
	len = strlen(path);
	if (len > 1 && path[len - 1] == '/')
		len--;
	if (len == 17 && strncmp(path, "/chat/completions", 17) == 0)
		return (ROUTE_CHAT);
	if (len == 7 && strncmp(path, "/models", 7) == 0)
		return (ROUTE_MODELS);
	if (len > 8 && strncmp(path, "/models/", 8) == 0) {
		*model_id = path + 8;
		return (ROUTE_MODEL);
	}
	if (len == 8 && strncmp(path, "/healthz", 8) == 0)
		return (ROUTE_HEALTH);
	if (len == 7 && strncmp(path, "/readyz", 7) == 0)
		return (ROUTE_READY);
	return (ROUTE_NONE);
}

/* The Allow header of a route; NULL for ROUTE_NONE, which takes nothing. */
const char *
route_allow(enum route r)
{
	if ((unsigned)r >= nitems(route_methods))
		return (NULL);
	return (route_methods[r].allow);
}

/* True if route r takes method m, i.e. m is in route_allow(r). */
int
route_allows(enum route r, enum route_method m)
{
	if ((unsigned)r >= nitems(route_methods) ||
	    (unsigned)m >= ROUTE_METHOD_OTHER)
		return (0);
	return ((route_methods[r].methods & (1U << m)) != 0);
}

/* Name of a method for messages. */
const char *
route_method_name(enum route_method m)
{
	if ((unsigned)m >= nitems(route_method_names))
		m = ROUTE_METHOD_OTHER;
	return (route_method_names[m]);
}

/*
 * The error for method m on path, which matched r and which r does not
 * take: a 404 for ROUTE_NONE, else a 405 (whose Allow header is
 * route_allow(r)).
 */
void
route_error(struct api_error *e, enum route r, enum route_method m,
    const char *path)
{
	if (route_allow(r) == NULL) {
		api_error_set(e, 404, "invalid_request_error", "unknown_url",
		    NULL, "Unknown request URL: %s %.200s. Use POST "
		    "/v1/chat/completions or GET /v1/models.",
		    route_method_name(m), path);
		return;
	}
	api_error_set(e, 405, "invalid_request_error", "method_not_allowed",
	    NULL, "%s is not allowed here; allowed: %s.",
	    route_method_name(m), route_allow(r));
}
