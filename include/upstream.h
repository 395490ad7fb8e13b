/*
 * upstream: HTTP(S) calls to Dify over a pool of keep-alive connections.
 */
#ifndef ODP_UPSTREAM_H
#define ODP_UPSTREAM_H

#include <stddef.h>

#include <event2/event.h>
#include <event2/http.h>

struct config;
struct evbuffer;
struct evkeyvalq;
struct metrics_slot;
struct upstream;
struct upstream_call;
struct url;

enum upstream_result {
	UPSTREAM_OK,		/* the whole response arrived */
	UPSTREAM_UNREACHABLE,	/* could not connect */
	UPSTREAM_DNS,		/* the host name did not resolve */
	UPSTREAM_TLS,		/* handshake or certificate check failed */
	UPSTREAM_TIMEOUT,	/* nothing arrived within the timeout */
	UPSTREAM_BROKEN,	/* closed, reset or malformed mid-response */
	UPSTREAM_NO_DESCRIPTORS	/* the proxy is out of file descriptors */
};

struct upstream_handlers {
	/* Status line and headers arrived. */
	void	(*response)(void *, int, struct evkeyvalq *);
	/* Body bytes arrived (decoded); they are gone when this returns. */
	void	(*data)(void *, const char *, size_t);
	/*
	 * The call ended, successfully or not; called exactly once unless
	 * the call was cancelled.  The call is freed when this returns.
	 */
	void	(*done)(void *, enum upstream_result, const char *);
};

struct upstream_request {
	enum evhttp_cmd_type	 method;
	const char		*path;		/* after the base path */
	const char		*api_key;	/* Bearer token */
	const char		*accept;
	const char		*request_id;
	const void		*body;		/* NULL for none */
	const char		*content_type;	/* of body; NULL: JSON */
	size_t			 bodylen;
};

struct upstream	*upstream_new(struct event_base *, const struct config *,
		    const struct url *, char **);
void		 upstream_free(struct upstream *);
struct upstream_call *upstream_call_start(struct upstream *,
		    const struct upstream_request *,
		    const struct upstream_handlers *, void *);
void		 upstream_call_cancel(struct upstream_call *);
void		 upstream_call_pause(struct upstream_call *, int);
int		 upstream_call_reads_whole(const struct upstream_call *);
const char	*upstream_result_name(enum upstream_result);
const char	*upstream_origin(const struct upstream *);
void		 upstream_set_metrics(struct upstream *,
		    struct metrics_slot *);

#endif
