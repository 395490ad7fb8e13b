/*
 * server: the evhttp server, its dispatch, and what every response shares.
 *
 * The routes, the methods each takes and the 404 and 405 are route.c's;
 * the CORS headers cors.c's, and the key a request carries auth.c's.
 * This file asks them and answers through evhttp: the chat goes to
 * exchange.c, the models to models.c, the preflight and /healthz are
 * answered here.
 *
 * Every response carries X-Request-Id (the client's, if it sent a usable
 * one) and, for browser callers, the CORS headers.  Errors are always
 * OpenAI's {"error": {...}} with Content-Type application/json.
 *
 * Memory: under load the pools and glibc's heap keep freed memory for
 * the next requests (main.c, mempool.c, buf.c), so after a peak the
 * process stays at the peak's size.  Once no task has started or ended
 * for SERVER_QUIET_MS, server_quiet hands back what is free: empty
 * mempool slabs, pooled buffers and glibc's free heap.  The size a
 * worker keeps is thus its working set under load, and its baseline
 * plus libevent's per-descriptor tables (sized by the highest
 * descriptor seen) when quiet.
 *
 * Shutdown: server_drain stops accepting, lets the tasks (exchanges,
 * model lookups, stop calls) finish up to drain_timeout, then aborts what
 * is left, gives the aborts a moment to reach clients and Dify, and ends
 * the event loop.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include <openssl/crypto.h>

#include "api_error.h"
#include "app_cache.h"
#include "apps.h"
#include "auth.h"
#include "buf.h"
#include "chat_request.h"
#include "client_conn.h"
#include "config.h"
#include "conversation_store.h"
#include "cors.h"
#include "exchange.h"
#include "http_date.h"
#include "log.h"
#include "mempool.h"
#include "metrics.h"
#include "models.h"
#include "proxy_keys.h"
#include "rate_limit_store.h"
#include "readiness.h"
#include "tls_context.h"
#include "route.h"
#include "sd_notify.h"
#include "server.h"
#include "sock.h"
#include "upstream.h"
#include "url.h"
#include "util.h"

#define SERVER_ABORT_GRACE_MS	1000
/* Dify keys whose app name, mode and form are remembered. */
#define SERVER_APP_CACHE_SLOTS	256
/* A worker quiet this long gives back the memory its last peak left. */
#define SERVER_QUIET_MS		2000
/* Connections refused at most per accept error, before the loop runs on. */
#define SERVER_REFUSE_BATCH	64

static void	server_quiet(int, short, void *);

/* Register work the server waits for at shutdown. */
void
server_task_add(struct server *srv, struct server_task *t,
    void (*abort_fn)(void *), void *arg)
{
	t->abort = abort_fn;
	t->arg = arg;
	TAILQ_INSERT_TAIL(&srv->tasks, t, entry);
	srv->ntasks++;
	srv->last_busy = util_now_usec();
}

/*
 * A draining server with no task and no client connection left stops its
 * loop (once).
 */
static void
server_drain_check(void *arg)
{
	struct server	*srv = arg;

	if (srv->draining && !srv->exiting && !srv->closing &&
	    srv->ntasks == 0 && client_conns_open(srv->conns) == 0) {
		srv->exiting = 1;
		event_base_loopexit(srv->base, NULL);
	}
}

/* Work finished; a draining server with nothing left stops its loop. */
void
server_task_remove(struct server *srv, struct server_task *t)
{
	TAILQ_REMOVE(&srv->tasks, t, entry);
	srv->ntasks--;
	srv->last_busy = util_now_usec();
	server_drain_check(srv);
}

/* Convert milliseconds to a timeval. */
static struct timeval
server_tv(unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return (tv);
}

/*
 * Copy the key of the request's Authorization header into out (see
 * auth_bearer).  Returns 0, or -1 if there is no usable key.
 */
int
server_api_key(struct evhttp_request *req, char *out, size_t size)
{
	return (auth_bearer(evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization"), out,
	    size));
}

/* Headers that go with an error: when to retry. */
void
server_error_headers(struct evkeyvalq *h, const struct api_error *e)
{
	char	secs[16];

	if (e->retry_after > 0) {
		snprintf(secs, sizeof(secs), "%d", e->retry_after);
		evhttp_add_header(h, "Retry-After", secs);
	}
}

/* Send an OpenAI-shaped error as the whole response. */
void
server_send_error(struct server *srv UNUSED, struct evhttp_request *req,
    const char *extra_close, const struct api_error *e)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct buf		 b = BUF_INIT;

	evhttp_add_header(h, "Content-Type", "application/json");
	server_error_headers(h, e);
	if (extra_close != NULL)
		evhttp_add_header(h, "Connection", "close");
	api_error_json(e, &b);
	evbuffer_add(evhttp_request_get_output_buffer(req), b.data, b.len);
	evhttp_send_reply(req, e->status, NULL, NULL);
	buf_free(&b);
}

/* Choose the request id: the client's if usable, else a new one. */
static void
server_request_id(struct evhttp_request *req, char *out, size_t size)
{
	const char	*v;
	size_t		 len;

	v = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Request-Id");
	if (v != NULL && (len = strlen(v)) <= 64 &&
	    util_token_is_printable(v, len)) {
		snprintf(out, size, "%s", v);
		return;
	}
	memcpy(out, "req_", 4);
	util_random_alnum(out + 4, 24);
}

/* Add the headers in h to the response. */
static void
server_add_cors(struct evhttp_request *req, const struct cors_headers *h)
{
	struct evkeyvalq	*out = evhttp_request_get_output_headers(req);
	size_t			 i;

	for (i = 0; i < h->n; i++)
		evhttp_add_header(out, h->v[i].name, h->v[i].value);
}

/*
 * Add Date (from the once-a-second cache, which spares evhttp formatting
 * its own), X-Request-Id and, for browsers, CORS headers to any response.
 */
static void
server_common_headers(struct server *srv, struct evhttp_request *req,
    const char *request_id)
{
	struct evkeyvalq	*out = evhttp_request_get_output_headers(req);
	struct cors_headers	 cors;

	evhttp_add_header(out, "Date", http_date_for(util_wall_sec()));
	evhttp_add_header(out, "X-Request-Id", request_id);
	cors_response(&cors, srv->cfg, evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Origin"));
	server_add_cors(req, &cors);
}

/* Answer a CORS preflight. */
static void
server_preflight(struct server *srv, struct evhttp_request *req)
{
	struct evkeyvalq	*in = evhttp_request_get_input_headers(req);
	struct cors_headers	 cors;

	cors_preflight(&cors, srv->cfg, evhttp_find_header(in, "Origin"),
	    evhttp_find_header(in, "Access-Control-Request-Headers"));
	server_add_cors(req, &cors);
	evhttp_send_reply(req, 204, "No Content", NULL);
}

/* evhttp's method as the router's. */
static enum route_method
server_method(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return (ROUTE_METHOD_GET);
	case EVHTTP_REQ_POST:
		return (ROUTE_METHOD_POST);
	case EVHTTP_REQ_HEAD:
		return (ROUTE_METHOD_HEAD);
	case EVHTTP_REQ_PUT:
		return (ROUTE_METHOD_PUT);
	case EVHTTP_REQ_DELETE:
		return (ROUTE_METHOD_DELETE);
	case EVHTTP_REQ_OPTIONS:
		return (ROUTE_METHOD_OPTIONS);
	case EVHTTP_REQ_TRACE:
		return (ROUTE_METHOD_TRACE);
	case EVHTTP_REQ_CONNECT:
		return (ROUTE_METHOD_CONNECT);
	case EVHTTP_REQ_PATCH:
		return (ROUTE_METHOD_PATCH);
	}
	return (ROUTE_METHOD_OTHER);
}

/* Count a request answered here, without an exchange. */
static void
server_count(struct server *srv, enum metrics_route route, int status,
    enum metrics_end end)
{
	metrics_request(srv->metrics, route, METRICS_APP_NONE, status, end, 0);
}

/* Log a request answered here, without an exchange. */
static void
server_log_local(struct server *srv, const char *request_id,
    enum route_method m, const char *path, int status, const char *end)
{
	server_count(srv, path[0] == '-' ? METRICS_ROUTE_NONE :
	    METRICS_ROUTE_CHAT, status, metrics_end_parse(end));
	log_info("access id=%s method=%s path=%s status=%d end=%s",
	    request_id, route_method_name(m), path, status, end);
}

/* 401 for a missing or malformed key, without asking Dify. */
static void
server_no_key(struct server *srv, struct evhttp_request *req)
{
	struct api_error	e;

	api_error_set(&e, 401, "authentication_error", "missing_api_key",
	    NULL, "You didn't provide an API key. Send your Dify app key "
	    "as 'Authorization: Bearer <key>'.");
	server_send_error(srv, req, NULL, &e);
}

/* 401 for a key that is none of the proxy's (never echoed back). */
static void
server_bad_key(struct server *srv, struct evhttp_request *req)
{
	struct api_error	e;

	api_error_set(&e, 401, "invalid_request_error", "invalid_api_key",
	    NULL, "Incorrect API key provided. Ask the operator of this "
	    "proxy for a key.");
	server_send_error(srv, req, NULL, &e);
}

/*
 * POST /v1/chat/completions.  The body's size was checked by the guard
 * (client_conn.c) before evhttp read it.
 */
static void
server_chat(struct server *srv, struct evhttp_request *req,
    struct client_conn *conn, const char *path, const char *request_id)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	const struct config	*cfg = srv->cfg;
	struct chat_request	 cr;
	struct exchange_target	 to;
	struct api_error	 e;
	char			 key[AUTH_MAX_KEY];
	size_t			 len;
	const char		*body, *conv;
	int			 rc, have_key;

	have_key = server_api_key(req, key, sizeof(key)) == 0;
	memset(&to, 0, sizeof(to));
	if (cfg->api_keys.n > 0) {
		/* The proxy's own keys: one of them, or nothing at all. */
		if (!have_key) {
			server_no_key(srv, req);
			server_log_local(srv, request_id, ROUTE_METHOD_POST, path,
			    401, "no_key");
			return;
		}
		if ((to.key = proxy_keys_find(&cfg->api_keys, key,
		    strlen(key))) == NULL) {
			server_bad_key(srv, req);
			server_log_local(srv, request_id, ROUTE_METHOD_POST, path,
			    401, "bad_key");
			return;
		}
		have_key = 0;	/* it is not a Dify key */
	}
	if (!have_key && cfg->apps == NULL) {
		/* Only a Dify key can be used: no need to read the body. */
		server_no_key(srv, req);
		server_log_local(srv, request_id, ROUTE_METHOD_POST, path, 401,
		    "no_key");
		return;
	}
	len = evbuffer_get_length(in);
	body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	rc = chat_request_parse(&cr, body, len, &e);
	/*
	 * The parsed request owns copies of what it needs: the body's
	 * memory goes now, not when the (maybe long) response ends.
	 */
	evbuffer_drain(in, len);
	if (rc != 0) {
		server_send_error(srv, req, NULL, &e);
		server_log_local(srv, request_id, ROUTE_METHOD_POST, path, e.status,
		    "bad_request");
		return;
	}
	/* The body's conversation_id wins over the header. */
	if (cr.conversation_id[0] == '\0' && (conv = evhttp_find_header(
	    evhttp_request_get_input_headers(req),
	    "X-Dify-Conversation-Id")) != NULL && conv[0] != '\0' &&
	    chat_request_name_conversation(&cr, conv, strlen(conv),
	    "X-Dify-Conversation-Id", &e) != 0) {
		chat_request_free(&cr);
		server_send_error(srv, req, NULL, &e);
		server_log_local(srv, request_id, ROUTE_METHOD_POST, path, e.status,
		    "bad_request");
		return;
	}
	switch (apps_pick(cfg->apps, cfg->passthrough, cr.model, cr.modellen,
	    have_key || to.key != NULL, &to.app)) {
	case APPS_PICK_APP:
		if (to.key != NULL && !proxy_key_allows(to.key, cr.model,
		    cr.modellen)) {
			/* As OpenAI: a model the key has no access to. */
			models_not_found(srv, req, cr.model, cr.modellen);
			chat_request_free(&cr);
			server_log_local(srv, request_id, ROUTE_METHOD_POST, path,
			    404, "model_not_allowed");
			return;
		}
		to.api_key = to.app->key;
		to.upstream = srv->app_upstreams[to.app - cfg->apps->v];
		break;
	case APPS_PICK_PASSTHROUGH:
		to.api_key = key;
		to.upstream = srv->upstream;
		break;
	case APPS_PICK_NO_KEY:
		chat_request_free(&cr);
		server_no_key(srv, req);
		server_log_local(srv, request_id, ROUTE_METHOD_POST, path, 401,
		    "no_key");
		return;
	case APPS_PICK_UNKNOWN_MODEL:
		models_not_found(srv, req, cr.model, cr.modellen);
		chat_request_free(&cr);
		server_log_local(srv, request_id, ROUTE_METHOD_POST, path, 404,
		    "model_not_found");
		return;
	}
	exchange_start(srv, req, conn, path, &cr, &to, request_id, len);
}

/*
 * GET /v1/models, and /v1/models/{id} with model_id (still URL-encoded)
 * not NULL.  Returns the status if answered at once, 0 if Dify is asked.
 */
static int
server_models(struct server *srv, struct evhttp_request *req,
    struct client_conn *conn, const char *model_id, const char *request_id)
{
	struct buf		 id = BUF_INIT;
	struct api_error	 e;
	const struct proxy_key	*pk = NULL;
	char			 key[AUTH_MAX_KEY];
	int			 have_key, status;

	/* Configured apps are listed without a key, unless keys are set. */
	have_key = server_api_key(req, key, sizeof(key)) == 0;
	if (srv->cfg->api_keys.n > 0) {
		if (!have_key) {
			server_no_key(srv, req);
			return (401);
		}
		if ((pk = proxy_keys_find(&srv->cfg->api_keys, key,
		    strlen(key))) == NULL) {
			server_bad_key(srv, req);
			return (401);
		}
		have_key = 0;	/* not a Dify key */
	}
	if (!have_key && srv->cfg->apps == NULL) {
		server_no_key(srv, req);
		return (401);
	}
	if (model_id != NULL && url_decode_segment(model_id, &id) != 0) {
		buf_free(&id);
		api_error_set(&e, 400, "invalid_request_error",
		    "invalid_value", NULL,
		    "The model id in the URL is malformed.");
		server_send_error(srv, req, NULL, &e);
		return (400);
	}
	status = models_handle(srv, req, conn, model_id != NULL ?
	    buf_cstr(&id) : NULL, have_key ? key : NULL, pk, request_id);
	buf_free(&id);
	return (status);
}

/* GET /healthz. */
static void
server_health(struct evhttp_request *req)
{
	static const char	body[] = "{\"status\":\"ok\"}";

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), body,
	    sizeof(body) - 1);
	evhttp_send_reply(req, 200, "OK", NULL);
}

/*
 * GET /readyz: 200 while this worker takes new work, 503 from the moment
 * it is told to stop, so a load balancer stops sending before the
 * listener closes (drain_delay later; meanwhile requests are served),
 * and 503 while Dify has not answered the readiness probe recently (with
 * ready_probe_interval set; readiness.c).  /healthz stays the liveness
 * check: it answers 200 as long as the process serves at all.  Returns
 * the status sent.
 */
static int
server_ready(struct server *srv, struct evhttp_request *req)
{
	static const char	ready[] = "{\"status\":\"ready\"}";
	static const char	draining[] = "{\"status\":\"draining\"}";
	static const char	unreachable[] =
				    "{\"status\":\"dify_unreachable\"}";

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	if (srv->unready) {
		evbuffer_add(evhttp_request_get_output_buffer(req), draining,
		    sizeof(draining) - 1);
		evhttp_send_reply(req, 503, "Service Unavailable", NULL);
		return (503);
	}
	if (!readiness_ok(srv->readiness, util_now_usec())) {
		evbuffer_add(evhttp_request_get_output_buffer(req),
		    unreachable, sizeof(unreachable) - 1);
		evhttp_send_reply(req, 503, "Service Unavailable", NULL);
		return (503);
	}
	evbuffer_add(evhttp_request_get_output_buffer(req), ready,
	    sizeof(ready) - 1);
	evhttp_send_reply(req, 200, "OK", NULL);
	return (200);
}

/* The metrics label of a route. */
static enum metrics_route
server_metrics_route(enum route route)
{
	static const enum metrics_route map[] = {
		[ROUTE_NONE] = METRICS_ROUTE_NONE,
		[ROUTE_CHAT] = METRICS_ROUTE_CHAT,
		[ROUTE_MODELS] = METRICS_ROUTE_MODELS,
		[ROUTE_MODEL] = METRICS_ROUTE_MODEL,
		[ROUTE_HEALTH] = METRICS_ROUTE_HEALTH,
		[ROUTE_READY] = METRICS_ROUTE_READY,
	};

	return (map[route]);
}

/* GET /metrics: every worker's counts, summed from the shared mapping. */
static void
server_metrics(struct server *srv, struct evhttp_request *req)
{
	struct metrics_info	 info;
	struct buf		 b = BUF_INIT;

	info.version = ODP_VERSION;
	info.libevent = event_get_version();
	info.openssl = OpenSSL_version(OPENSSL_VERSION);
	metrics_render(srv->shared->metrics, &info, &b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evbuffer_add(evhttp_request_get_output_buffer(req), b.data, b.len);
	evhttp_send_reply(req, 200, "OK", NULL);
	buf_free(&b);
	server_count(srv, METRICS_ROUTE_METRICS, 200, METRICS_END_LOCAL);
}

/* A request on metrics_listen: GET /metrics, else a 404. */
static void
server_metrics_handle(struct evhttp_request *req, void *arg)
{
	struct server		*srv = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = uri != NULL ? evhttp_uri_get_path(uri) :
				    NULL;
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);

	if (path != NULL && strcmp(path, "/metrics") == 0 &&
	    (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)) {
		server_metrics(srv, req);
		return;
	}
	evhttp_send_reply(req, 404, "Not Found", NULL);
}

/*
 * Answer a request route.c has no handler for: a 404 for an unknown
 * path, a 405 with the Allow list for a method its route does not take.
 */
static void
server_unrouted(struct server *srv, struct evhttp_request *req,
    enum route route, enum route_method m, const char *path,
    const char *request_id)
{
	struct api_error	 e;

	route_error(&e, route, m, path);
	if (route_allow(route) != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", route_allow(route));
	server_send_error(srv, req, NULL, &e);
	if (route == ROUTE_NONE)
		server_log_local(srv, request_id, m, "-", 404, "unknown_url");
	else
		server_count(srv, server_metrics_route(route), e.status,
		    METRICS_END_METHOD_NOT_ALLOWED);
}

/* Dispatch a request to its route. */
static void
server_handle(struct evhttp_request *req, void *arg)
{
	struct server		*srv = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	enum route_method	 m;
	const char		*path, *model_id = NULL;
	char			 request_id[72];
	int			 status;
	enum route		 route;
	struct api_error	 e;
	struct client_conn	*conn;

	/* Every connection has one (client_conn.c); this is the request's. */
	if ((conn = client_conns_find(srv->conns, req)) == NULL) {
		log_error("a request on an unknown connection; closing it");
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		evhttp_send_reply(req, 500, "Internal Server Error", NULL);
		return;
	}
	client_conn_begin(conn, req);
	server_request_id(req, request_id, sizeof(request_id));
	server_common_headers(srv, req, request_id);
	m = server_method(evhttp_request_get_command(req));
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL)
		path = "";

	/*
	 * Draining, a request on a connection opened before is served
	 * (client_conn.c closes the connection after it), until the drain
	 * deadline aborts what runs.
	 */
	if (srv->aborted) {
		api_error_set(&e, 503, "server_error", "shutting_down", NULL,
		    "the proxy is shutting down; retry the request");
		e.retry_after = 1;
		server_send_error(srv, req, "close", &e);
		server_count(srv, server_metrics_route(route_match(path,
		    &model_id)), 503, METRICS_END_SHUTDOWN);
		return;
	}
	if (m == ROUTE_METHOD_OPTIONS) {
		server_preflight(srv, req);
		server_count(srv, server_metrics_route(route_match(path,
		    &model_id)), 204, METRICS_END_LOCAL);
		return;
	}
	if (srv->cfg->metrics_mode == CONFIG_METRICS_MAIN &&
	    srv->shared->metrics != NULL && strcmp(path, "/metrics") == 0 &&
	    (m == ROUTE_METHOD_GET || m == ROUTE_METHOD_HEAD)) {
		server_metrics(srv, req);
		return;
	}

	route = route_match(path, &model_id);
	if (!route_allows(route, m)) {
		server_unrouted(srv, req, route, m, path, request_id);
		return;
	}
	switch (route) {
	case ROUTE_CHAT:
		server_chat(srv, req, conn, path, request_id);
		break;
	case ROUTE_MODELS:
	case ROUTE_MODEL:
		/* Answered at once (a lookup counts when it ends). */
		if ((status = server_models(srv, req, conn, route ==
		    ROUTE_MODEL ? model_id : NULL, request_id)) != 0)
			server_count(srv, route == ROUTE_MODEL ?
			    METRICS_ROUTE_MODEL : METRICS_ROUTE_MODELS, status,
			    status < 400 ? METRICS_END_LOCAL : status == 401 ?
			    METRICS_END_NO_KEY : status == 404 ?
			    METRICS_END_MODEL_NOT_FOUND : METRICS_END_ERROR);
		break;
	case ROUTE_HEALTH:
		server_health(req);
		server_count(srv, METRICS_ROUTE_HEALTH, 200, METRICS_END_LOCAL);
		break;
	case ROUTE_READY:
		server_count(srv, METRICS_ROUTE_READY, server_ready(srv, req),
		    METRICS_END_LOCAL);
		break;
	case ROUTE_NONE:
		break;
	}
}

/*
 * The server of this process.  libevent calls a listener's error callback
 * with the listener's own argument, which evhttp set to itself, not with
 * ours; a worker runs one server, so the callback finds it here.
 */
static struct server	*server_self;

/* Re-enable accepting after a pause. */
static void
server_accept_resume(int fd UNUSED, short what UNUSED, void *arg)
{
	struct server	*srv = arg;
	size_t		 i;

	for (i = 0; i < srv->nbound && !srv->draining; i++)
		evconnlistener_enable(evhttp_bound_socket_get_listener(
		    srv->bound[i]));
}

/* Open the descriptor kept in reserve for refusing at EMFILE. */
static void
server_reserve_open(struct server *srv)
{
	if (srv->reserve_fd == -1)
		srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * Out of descriptors: answer what waits in the backlog with a 503 instead
 * of leaving it there.  The reserve descriptor is closed to make room for
 * one accept(2) at a time and opened again after it.  Returns how many
 * connections were refused; stops when the backlog is empty.
 */
static unsigned
server_refuse_backlog(struct server *srv, int lfd)
{
	unsigned	n = 0;
	int		fd;

	while (srv->reserve_fd != -1 && n < SERVER_REFUSE_BATCH) {
		close(srv->reserve_fd);
		srv->reserve_fd = -1;
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			sock_refuse(fd, "the proxy is out of file descriptors; "
			    "retry the request");
			n++;
		}
		server_reserve_open(srv);
		if (fd == -1)
			break;
	}
	return (n);
}

/*
 * accept() failed.  Out of descriptors, the listener would spin on a
 * readable socket it cannot accept from: the waiting connections are
 * refused with a 503 through the reserve descriptor, and if even that is
 * not possible the listener pauses for a second.  Open connections and
 * streams are not touched.
 */
static void
server_accept_error(struct evconnlistener *l, void *arg UNUSED)
{
	struct server	*srv = server_self;
	struct timeval	 tv = { 1, 0 };
	int		 err = EVUTIL_SOCKET_ERROR();
	uint64_t	 now;
	unsigned	 refused;

	if (err != EMFILE && err != ENFILE && err != ENOBUFS &&
	    err != ENOMEM) {
		log_warn("accept: %s", strerror(err));
		return;
	}
	refused = server_refuse_backlog(srv, evconnlistener_get_fd(l));
	now = util_now_usec();
	srv->refused_fd += refused;
	if (now - srv->refused_logged >= 1000000) {
		log_warn("accept: %s; %llu connections refused with 503 since "
		    "the last report", strerror(err),
		    (unsigned long long)srv->refused_fd);
		srv->refused_fd = 0;
		srv->refused_logged = now;
	}
	if (srv->reserve_fd == -1) {
		log_warn("accept: no reserve descriptor; pausing new "
		    "connections for 1 s");
		evconnlistener_disable(l);
		evtimer_add(srv->accept_ev, &tv);
	}
}

/* Close listening sockets that were not taken over. */
static void
server_close_fds(const int *fds, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * Accept connections on fds, listening sockets (all taken over: those
 * not taken by evhttp are closed here on failure).
 */
static int
server_listen(struct server *srv, const int *fds, size_t n, char **cause)
{
	size_t	i;

	srv->bound = xcalloc(n, sizeof(*srv->bound));
	for (i = 0; i < n; i++) {
		if ((srv->bound[i] = evhttp_accept_socket_with_handle(srv->http,
		    fds[i])) == NULL) {
			server_close_fds(fds + i, n - i);
			*cause = xstrdup("evhttp cannot accept on the socket");
			return (-1);
		}
		srv->nbound++;
		evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(
		    srv->bound[i]), server_accept_error);
	}
	return (0);
}

/*
 * The Dify client of each configured app: the shared one, or the app's
 * own for an app with its own dify_api_url.  Returns 0, or -1 with cause.
 */
static int
server_app_upstreams(struct server *srv, char **cause)
{
	const struct apps	*apps = srv->cfg->apps;
	size_t			 i;

	if (apps == NULL)
		return (0);
	srv->app_upstreams = xcalloc(apps->n + 1, sizeof(*srv->app_upstreams));
	for (i = 0; i < apps->n; i++) {
		if (apps->v[i].dify_api_url == NULL)
			srv->app_upstreams[i] = srv->upstream;
		else if ((srv->app_upstreams[i] = upstream_new(srv->base,
		    srv->cfg, &apps->v[i].url, cause)) == NULL)
			return (-1);
	}
	return (0);
}

/* Free the apps' own Dify clients (the shared one is not theirs). */
static void
server_app_upstreams_free(struct server *srv)
{
	size_t	i;

	if (srv->app_upstreams == NULL)
		return;
	for (i = 0; i < srv->cfg->apps->n; i++) {
		if (srv->app_upstreams[i] != srv->upstream)
			upstream_free(srv->app_upstreams[i]);
	}
	free(srv->app_upstreams);
	srv->app_upstreams = NULL;
}

/*
 * Claim this worker's metrics slot and serve GET /metrics on metrics_fd
 * (a listening socket, taken over; -1 for none).  Returns 0, or -1 with
 * cause.
 */
static int
server_metrics_start(struct server *srv, int metrics_fd, char **cause)
{
	const struct apps	*apps = srv->cfg->apps;
	const char		**names;
	size_t			 i, n = apps != NULL ? apps->n : 0;

	if (srv->shared->metrics != NULL) {
		names = xcalloc(n + 1, sizeof(*names));
		for (i = 0; i < n; i++)
			names[i] = apps->v[i].model;
		srv->metrics = metrics_claim(srv->shared->metrics, getpid(),
		    names, n);
		free(names);
		if (srv->metrics == NULL)
			log_warn("metrics: every slot is taken; this worker's "
			    "requests are not counted");
	}
	if (metrics_fd == -1)
		return (0);
	if ((srv->metrics_http = evhttp_new(srv->base)) == NULL ||
	    evhttp_accept_socket_with_handle(srv->metrics_http,
	    metrics_fd) == NULL) {
		close(metrics_fd);
		*cause = xstrdup("cannot serve metrics_listen");
		return (-1);
	}
	evhttp_set_gencb(srv->metrics_http, server_metrics_handle, srv);
	evhttp_set_timeout(srv->metrics_http, 10);
	evhttp_set_max_headers_size(srv->metrics_http, 8192);
	evhttp_set_max_body_size(srv->metrics_http, 0);
	return (0);
}

/*
 * Create the server on base, accepting on the n listening sockets fds
 * and serving /metrics on metrics_fd (or -1).  Every descriptor is taken
 * over, whether or not this succeeds.
 */
struct server *
server_new(struct event_base *base, const struct config *cfg,
    const struct server_shared *shared, const int *fds, size_t n,
    int metrics_fd, char **cause)
{
	struct server	*srv;
	struct timeval	 tv;
	size_t		 i;
	int		 listening = 0, metrics_fd_left = metrics_fd;

	srv = xcalloc(1, sizeof(*srv));
	srv->base = base;
	srv->cfg = cfg;
	srv->shared = shared;
	srv->started = util_wall_sec();
	TAILQ_INIT(&srv->tasks);
	srv->accept_ev = evtimer_new(base, server_accept_resume, srv);
	srv->reserve_fd = -1;
	server_reserve_open(srv);
	server_self = srv;

	if ((srv->http = evhttp_new(base)) == NULL) {
		*cause = xstrdup("evhttp_new failed");
		goto fail;
	}
	evhttp_set_gencb(srv->http, server_handle, srv);
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_CONNECT);
	/* Connections, their limits and deadlines, and the guard. */
	srv->conns = client_conns_new(base, cfg, srv->http);
	if (cfg->tls_cert_file != NULL) {
		char	err[512];
		SSL_CTX	*ctx;

		/* Read now: a reload's new workers read the new files. */
		if ((ctx = tls_context_new(cfg->tls_cert_file,
		    cfg->tls_key_file, err, sizeof(err))) == NULL) {
			*cause = xstrdup(err);
			goto fail;
		}
		client_conns_set_tls(srv->conns, ctx);
	}
	tv = server_tv(cfg->client_idle_timeout_ms);
	evhttp_set_timeout_tv(srv->http, &tv);

	if ((srv->upstream = upstream_new(base, cfg, &cfg->upstream,
	    cause)) == NULL) {
		goto fail;
	}
	srv->app_cache = app_cache_new(SERVER_APP_CACHE_SLOTS);
	if ((cfg->redis_url != NULL || shared->conversations != NULL) &&
	    (srv->conversations = conversation_store_new(base, cfg,
	    shared->conversations, cause)) == NULL) {
		goto fail;
	}
	srv->limits = rate_limit_store_new(base, cfg, shared->limits);
	srv->readiness = readiness_new(base, srv->upstream,
	    cfg->ready_probe_interval_ms, 0);
	if (server_app_upstreams(srv, cause) != 0) {
		goto fail;
	}
	tv = server_tv(SERVER_QUIET_MS);
	srv->quiet_ev = event_new(base, -1, EV_PERSIST, server_quiet, srv);
	evtimer_add(srv->quiet_ev, &tv);
	metrics_fd_left = -1;	/* taken over, in any case */
	if (server_metrics_start(srv, metrics_fd, cause) != 0)
		goto fail;
	upstream_set_metrics(srv->upstream, srv->metrics);
	conversation_store_set_metrics(srv->conversations, srv->metrics);
	rate_limit_store_set_metrics(srv->limits, srv->metrics);
	client_conns_set_metrics(srv->conns, srv->metrics);
	for (i = 0; cfg->apps != NULL && i < cfg->apps->n; i++)
		if (srv->app_upstreams[i] != srv->upstream)
			upstream_set_metrics(srv->app_upstreams[i],
			    srv->metrics);
	listening = 1;		/* taken over, in any case */
	if (server_listen(srv, fds, n, cause) != 0)
		goto fail;
	return (srv);
fail:
	if (!listening)
		server_close_fds(fds, n);
	if (metrics_fd_left != -1)
		close(metrics_fd_left);
	server_free(srv);
	return (NULL);
}

/*
 * Every SERVER_QUIET_MS: if no task started or ended for that long since
 * the last look, give the memory the last peak left back to the system.
 */
static void
server_quiet(int fd UNUSED, short what UNUSED, void *arg)
{
	struct server	*srv = arg;
	size_t		 slabs;

	if (srv->ntasks > 0 || srv->last_busy <= srv->last_trim ||
	    util_now_usec() - srv->last_busy < SERVER_QUIET_MS * 1000ULL)
		return;
	srv->last_trim = util_now_usec();
	buf_pool_drain();
	slabs = mempool_trim();
	malloc_trim(0);
	log_debug("quiet: handed back %zu KiB of slabs and the free heap",
	    slabs / 1024);
}

/* Final stage of shutdown: stop the loop whatever is left. */
static void
server_drain_expired(int fd UNUSED, short what UNUSED, void *arg)
{
	struct server		*srv = arg;
	struct server_task	*t, *last, *next;
	struct timeval		 tv;

	if (srv->aborted) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	srv->aborted = 1;
	if (srv->ntasks > 0)
		log_warn("drain: %u requests still running after %u ms; "
		    "ending them", srv->ntasks, srv->cfg->drain_timeout_ms);
	/* Abort the tasks that exist now; stop calls they start may run. */
	last = TAILQ_LAST(&srv->tasks, server_tasks);
	for (t = TAILQ_FIRST(&srv->tasks); t != NULL; t = next) {
		next = t == last ? NULL : TAILQ_NEXT(t, entry);
		t->abort(t->arg);
	}
	tv = server_tv(SERVER_ABORT_GRACE_MS);
	evtimer_add(srv->drain_ev, &tv);
}

static void	server_drain_now(struct server *);
static void	server_drain_delayed(int, short, void *);

/*
 * Begin a graceful shutdown: stop accepting, let running requests finish
 * until drain_timeout.  A second call ends at once.
 */
void
server_drain(struct server *srv)
{
	struct timeval	tv;

	if (srv->draining || srv->unready) {
		log_info("second signal: exiting now");
		event_base_loopexit(srv->base, NULL);
		return;
	}
	srv->unready = 1;
	readiness_free(srv->readiness);	/* no probe holds the drain up */
	srv->readiness = NULL;
	if (srv->notify)
		sd_notify_send("STOPPING=1\nSTATUS=draining");
	if (srv->cfg->drain_delay_ms > 0) {
		log_info("stopping: /readyz answers 503; requests are still "
		    "taken for %u ms", srv->cfg->drain_delay_ms);
		srv->delay_ev = evtimer_new(srv->base, server_drain_delayed, srv);
		tv = server_tv(srv->cfg->drain_delay_ms);
		evtimer_add(srv->delay_ev, &tv);
		return;
	}
	server_drain_now(srv);
}

/* drain_delay is over: the balancer has seen /readyz; drain now. */
static void
server_drain_delayed(int fd UNUSED, short what UNUSED, void *arg)
{
	server_drain_now(arg);
}

/*
 * Stop taking work: close the listener and the connections that hold no
 * request, serve what the others have sent, and end the loop when the
 * last task and connection are gone or at drain_timeout.
 */
static void
server_drain_now(struct server *srv)
{
	struct timeval	tv;
	size_t		i;
	unsigned	n;

	srv->draining = 1;
	log_info("draining: %u requests running, waiting up to %u ms",
	    srv->ntasks, srv->cfg->drain_timeout_ms);
	/*
	 * Only this process's descriptors close: the master keeps the
	 * sockets, so after a reload the new workers accept what is queued.
	 */
	for (i = 0; i < srv->nbound; i++)
		evhttp_del_accept_socket(srv->http, srv->bound[i]);
	srv->nbound = 0;
	if (srv->metrics_http != NULL) {
		/* The new workers of a reload answer scrapes from now on. */
		evhttp_free(srv->metrics_http);
		srv->metrics_http = NULL;
	}
	n = client_conns_drain(srv->conns, server_drain_check, srv);
	if (n > 0)
		log_info("draining: %u connections hold requests", n);
	server_drain_check(srv);
	if (srv->exiting)
		return;
	srv->drain_ev = evtimer_new(srv->base, server_drain_expired, srv);
	tv = server_tv(srv->cfg->drain_timeout_ms);
	evtimer_add(srv->drain_ev, &tv);
}

/*
 * Free the server after its loop ended.  Client connections go first
 * (their requests release their exchanges), then whatever is still
 * running is aborted and the loop is turned a few more times so every
 * deferred free runs, then the upstream side.
 */
void
server_free(struct server *srv)
{
	struct server_task	*t;
	int			 spins;

	srv->closing = 1;
	if (srv->http != NULL)
		evhttp_free(srv->http);
	srv->http = NULL;
	if (srv->metrics_http != NULL)
		evhttp_free(srv->metrics_http);
	srv->metrics_http = NULL;
	srv->aborted = 1;
	while ((t = TAILQ_FIRST(&srv->tasks)) != NULL) {
		t->abort(t->arg);
		for (spins = 0; spins < 8 && TAILQ_FIRST(&srv->tasks) == t;
		    spins++)
			event_base_loop(srv->base, EVLOOP_NONBLOCK);
		if (TAILQ_FIRST(&srv->tasks) == t) {
			log_error("shutdown: a task did not finish");
			break;
		}
	}
	client_conns_free(srv->conns);
	server_app_upstreams_free(srv);
	readiness_free(srv->readiness);
	upstream_free(srv->upstream);
	app_cache_free(srv->app_cache);
	conversation_store_free(srv->conversations);
	rate_limit_store_free(srv->limits);
	if (srv->drain_ev != NULL)
		event_free(srv->drain_ev);
	if (srv->delay_ev != NULL)
		event_free(srv->delay_ev);
	if (srv->watchdog_ev != NULL)
		event_free(srv->watchdog_ev);
	if (srv->accept_ev != NULL)
		event_free(srv->accept_ev);
	if (srv->quiet_ev != NULL)
		event_free(srv->quiet_ev);
	if (srv->reserve_fd != -1)
		close(srv->reserve_fd);
	free(srv->bound);
	metrics_release(srv->metrics);
	if (server_self == srv)
		server_self = NULL;
	free(srv);
}

/* SIGTERM/SIGINT: drain; runs in the loop, not in signal context. */
static void
server_signal(int sig, short what UNUSED, void *arg)
{
	struct server	*srv = arg;

	log_info("received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	server_drain(srv);
}

/*
 * SIGHUP: a worker leaves reloading to its master (which does not pass
 * it on); a single process cannot start new workers beside itself, so
 * it says how to reload rather than die.
 */
static void
server_sighup(int sig UNUSED, short what UNUSED, void *arg)
{
	const int	*worker = arg;

	if (*worker >= 0)
		log_info("received SIGHUP: ignored by a worker; the master "
		    "(pid %d) reloads", (int)getppid());
	else
		log_info("received SIGHUP: a single process (workers: 1) "
		    "reads its settings at start only; run with workers > 1 "
		    "to reload");
}

/*
 * The event base.  With epoll, libevent's change list folds the many
 * enable/disable calls evhttp makes per request into the few epoll_ctl
 * calls that actually change something (it is unsafe only with dup()ed
 * descriptors, which the proxy never makes).
 */
static struct event_base *
server_base_new(void)
{
	struct event_config	*ec;
	struct event_base	*base;

	if ((ec = event_config_new()) == NULL)
		return (NULL);
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return (base);
}

/* WatchdogSec: the loop still turns. */
static void
server_watchdog(int fd UNUSED, short what UNUSED, void *arg UNUSED)
{
	sd_notify_send("WATCHDOG=1");
}

/*
 * A single process is the one systemd started: tell it the proxy serves,
 * and keep its watchdog fed from the loop.  (Workers never send; their
 * master does.)
 */
static void
server_notify_start(struct server *srv)
{
	struct timeval	tv;
	unsigned	ms;

	srv->notify = 1;
	if (sd_notify_send("READY=1\nSTATUS=serving") == -1)
		log_warn("NOTIFY_SOCKET is set but cannot be reached");
	if ((ms = sd_notify_watchdog_ms()) == 0)
		return;
	srv->watchdog_ev = event_new(srv->base, -1, EV_PERSIST,
	    server_watchdog, srv);
	tv = server_tv(ms);
	evtimer_add(srv->watchdog_ev, &tv);
}

/*
 * Hold back (block != 0) or let through SIGTERM, SIGINT and SIGHUP.  A
 * single process announces its port before server_run has its signal
 * events; a SIGTERM in between (a supervisor or a test stopping it at
 * once) would kill it with the default action instead of draining it.
 * Held back, the signal waits until server_run lets it through.
 */
void
server_signals_block(int block)
{
	sigset_t	set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/*
 * Serve on the n listening sockets fds (taken over) until a SIGTERM or
 * SIGINT drain completes: the whole life of a single process, or of one
 * worker.  ready_fd, unless -1, gets one byte once connections are
 * accepted.  Returns the exit status.
 */
int
server_run(const struct config *cfg, const struct server_shared *shared,
    const int *fds, size_t n, int metrics_fd, int ready_fd, int worker)
{
	struct event_base	*base;
	struct server		*srv;
	struct event		*sigterm, *sigint, *sighup;
	char			*cause = NULL;
	ssize_t			 unused;

	if ((base = server_base_new()) == NULL) {
		log_error("cannot create the event base");
		server_close_fds(fds, n);
		if (metrics_fd != -1)
			close(metrics_fd);
		return (1);
	}
	if ((srv = server_new(base, cfg, shared, fds, n, metrics_fd,
	    &cause)) == NULL) {
		log_error("%s", cause != NULL ? cause : "cannot start");
		free(cause);
		event_base_free(base);
		return (1);
	}
	sigterm = evsignal_new(base, SIGTERM, server_signal, srv);
	sigint = evsignal_new(base, SIGINT, server_signal, srv);
	/* &worker: the event is freed below, before this frame ends. */
	sighup = evsignal_new(base, SIGHUP, server_sighup, &worker);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);
	server_signals_block(0);
	if (ready_fd != -1) {
		unused = write(ready_fd, "", 1);
		(void)unused;
		close(ready_fd);
	}
	if (worker < 0)
		server_notify_start(srv);
	if (worker >= 0)
		log_debug("worker %d serving", worker);

	event_base_dispatch(base);
	log_info("stopped");

	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	server_free(srv);
	event_base_free(base);
	libevent_global_shutdown();
	return (0);
}
