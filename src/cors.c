/*
 * cors: the CORS headers a response and a preflight get.
 *
 * A browser caller sends Origin.  If cors_allowed_origins lets it in,
 * every response names it back (or "*" when every origin is allowed, in
 * which case the answer does not vary by Origin) and exposes the headers
 * OpenAI's clients read.  A preflight (OPTIONS, any path) gets those and
 * the methods and request headers a browser may use, for a day.  An
 * origin not let in gets no CORS header at all, and the browser refuses
 * the response on its own.
 *
 * The results are pairs of pointers to static strings or to the values
 * passed in (the request's Origin and Access-Control-Request-Headers):
 * they are good as long as the request's headers are, which is as long as
 * server.c needs them to add the headers.
 */
#include <stddef.h>

#include "config.h"
#include "cors.h"

/* What a browser may read of a response, and send on a request. */
#define CORS_EXPOSE_HEADERS \
	"x-request-id, retry-after, retry-after-ms, x-should-retry, " \
	"openai-processing-ms, x-dify-conversation-id, " \
	"x-ratelimit-limit-requests, x-ratelimit-remaining-requests, " \
	"x-ratelimit-reset-requests"
#define CORS_ALLOW_HEADERS \
	"authorization, content-type, accept, user-agent, " \
	"x-requested-with, openai-beta, openai-organization, " \
	"openai-project, x-request-id, x-stainless-arch, " \
	"x-stainless-async, x-stainless-lang, x-stainless-os, " \
	"x-stainless-package-version, x-stainless-retry-count, " \
	"x-stainless-runtime, x-stainless-runtime-version, " \
	"x-stainless-timeout, x-dify-conversation-id"
/* A request-headers list longer than this plus one gets ours instead. */
#define CORS_LIST_MAX		2048

/* Append a header to h. */
static void
cors_add(struct cors_headers *h, const char *name, const char *value)
{
	h->v[h->n].name = name;
	h->v[h->n].value = value;
	h->n++;
}

/* True if a request with this Origin (NULL: none) gets CORS headers. */
static int
cors_allowed(const struct config *cfg, const char *origin)
{
	return (origin != NULL && config_cors_allows(cfg, origin));
}

/* True if s is a comma-separated list of header names. */
static int
cors_header_list_ok(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++, n++) {
		if (n > CORS_LIST_MAX)
			return (0);
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		    *s == ',' || *s == ' '))
			return (0);
	}
	return (1);
}

/*
 * The CORS headers of any response to a request with this Origin (NULL:
 * none): none, or Access-Control-Allow-Origin (with Vary: Origin unless
 * every origin is allowed) and Access-Control-Expose-Headers.
 */
void
cors_response(struct cors_headers *h, const struct config *cfg,
    const char *origin)
{
	h->n = 0;
	if (!cors_allowed(cfg, origin))
		return;
	if (config_cors_allows(cfg, "*"))
		cors_add(h, "Access-Control-Allow-Origin", "*");
	else {
		cors_add(h, "Access-Control-Allow-Origin", origin);
		cors_add(h, "Vary", "Origin");
	}
	cors_add(h, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
}

/*
 * The headers a preflight gets after cors_response's: none for an origin
 * not let in, else the methods, the request headers (the browser's own
 * Access-Control-Request-Headers if it is a plain list, else ours), how
 * long to keep them, and what the answer varies by.
 */
void
cors_preflight(struct cors_headers *h, const struct config *cfg,
    const char *origin, const char *want)
{
	h->n = 0;
	if (!cors_allowed(cfg, origin))
		return;
	cors_add(h, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
	/* Authorization must be named: "*" does not cover it. */
	cors_add(h, "Access-Control-Allow-Headers",
	    want != NULL && cors_header_list_ok(want) ? want :
	    CORS_ALLOW_HEADERS);
	cors_add(h, "Access-Control-Max-Age", "86400");
	cors_add(h, "Vary", "Origin, Access-Control-Request-Headers");
}
