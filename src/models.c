/*
 * models: GET /v1/models and /v1/models/{id}.
 *
 * With apps configured (apps.c), the list is those apps: each model name
 * is an id, owned_by the app's Dify name once a call has learnt it (the
 * server's app_cache), else "dify".  Nothing is asked of Dify, and no key
 * is needed to list them.  An id that is not an app is a 404
 * model_not_found, unless passthrough is on and the caller sent a key.
 *
 * In passthrough the caller's key selects the Dify app, so the model list
 * is that app: GET /info with the key gives its name (and mode), kept in
 * the app_cache for models_cache_ttl.  The chat endpoint accepts any
 * model name, so /v1/models/{id} answers for any id once the key is
 * known to be valid.
 *
 * A lookup that has to ask Dify holds two references, like an exchange:
 * the downstream until released and the upstream call until done or
 * cancelled; it is freed from its own event when both are gone.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "app_cache.h"
#include "apps.h"
#include "buf.h"
#include "config.h"
#include "dify_app.h"
#include "downstream.h"
#include "log.h"
#include "metrics.h"
#include "models.h"
#include "proxy_keys.h"
#include "server.h"
#include "upstream.h"
#include "util.h"

#define MODELS_MAX_BODY		(64 * 1024)

struct models_req {
	struct server		*srv;
	struct server_task	 task;
	int			 refs;
	struct downstream	 ds;
	int			 ds_live;
	struct upstream_call	*call;
	char			*model_id;	/* NULL: the list */
	char			*api_key;
	int			 status;
	struct buf		 body;
	struct event		*free_ev;
};

/* Append one model object. */
static void
models_object(struct buf *b, const char *id, int64_t created,
    const char *owner)
{
	buf_add_str(b, "{\"id\":");
	buf_add_json_cstring(b, id);
	buf_add_str(b, ",\"object\":\"model\",\"created\":");
	buf_add_int(b, created);
	buf_add_str(b, ",\"owned_by\":");
	buf_add_json_cstring(b, owner);
	buf_add_char(b, '}');
}

/* A configured app as a model: owned by its Dify name where known. */
static void
models_app_object(struct server *srv, const struct app *a, struct buf *b)
{
	struct app_cache_entry	*e;

	e = app_cache_get(srv->app_cache, a->key, util_now_usec());
	models_object(b, a->model, srv->started, e != NULL && e->name != NULL ?
	    e->name : "dify");
}

/* Send a whole JSON answer without an exchange. */
static void
models_send(struct evhttp_request *req, int status, const struct buf *b)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), b->data, b->len);
	evhttp_send_reply(req, status, NULL, NULL);
}

/* The 404 for a model the proxy does not serve, as OpenAI words it. */
void
models_not_found(struct server *srv, struct evhttp_request *req,
    const char *model, size_t len)
{
	struct api_error	e;

	api_error_set(&e, 404, "invalid_request_error", "model_not_found",
	    "model", "The model `%.*s` does not exist or you do not have "
	    "access to it. GET /v1/models lists the models this proxy serves.",
	    (int)(len > 200 ? 200 : len), model);
	server_send_error(srv, req, NULL, &e);
}

/* Build the passthrough answer: the list, or the one model asked for. */
static void
models_answer(struct server *srv, const char *model_id, const char *name,
    struct buf *b)
{
	if (model_id != NULL) {
		models_object(b, model_id, srv->started, "dify");
		return;
	}
	buf_add_str(b, "{\"object\":\"list\",\"data\":[");
	models_object(b, name, srv->started, "dify");
	buf_add_str(b, "]}");
}

/* Free a lookup and leave the task list. */
static void
models_req_free(int fd UNUSED, short what UNUSED, void *arg)
{
	struct models_req	*mr = arg;

	/* Answered after asking Dify: counted here (server.c counts the
	 * others). */
	metrics_request(mr->srv->metrics, mr->model_id != NULL ?
	    METRICS_ROUTE_MODEL : METRICS_ROUTE_MODELS, METRICS_APP_NONE,
	    mr->ds.status, mr->ds.status == 0 ? METRICS_END_CLIENT_GONE :
	    mr->ds.status < 400 ? METRICS_END_LOCAL : METRICS_END_ERROR, 0);
	event_free(mr->free_ev);
	downstream_free(&mr->ds);
	buf_free(&mr->body);
	free(mr->model_id);
	free(mr->api_key);
	server_task_remove(mr->srv, &mr->task);
	free(mr);
}

/* Drop a reference; the last one schedules the free. */
static void
models_req_unref(struct models_req *mr)
{
	if (--mr->refs == 0)
		event_active(mr->free_ev, EV_TIMEOUT, 1);
}

/* Send an error to the client. */
static void
models_req_error(struct models_req *mr, const struct api_error *e)
{
	struct evkeyvalq	*h;
	struct buf		 b = BUF_INIT;

	if ((h = downstream_headers(&mr->ds)) == NULL)
		return;
	evhttp_add_header(h, "Content-Type", "application/json");
	server_error_headers(h, e);
	api_error_json(e, &b);
	downstream_reply(&mr->ds, e->status, b.data, b.len);
	buf_free(&b);
}

/* Dify's /info status. */
static void
models_up_response(void *arg, int status, struct evkeyvalq *h UNUSED)
{
	struct models_req	*mr = arg;

	mr->status = status;
}

/* Dify's /info body, kept up to a limit. */
static void
models_up_data(void *arg, const char *data, size_t len)
{
	struct models_req	*mr = arg;

	if (mr->body.len + len > MODELS_MAX_BODY)
		len = MODELS_MAX_BODY - mr->body.len;
	buf_add(&mr->body, data, len);
}

/* Dify's /info ended: answer the client. */
static void
models_up_done(void *arg, enum upstream_result result, const char *detail)
{
	static const enum api_error_upstream kinds[] = {
		[UPSTREAM_OK] = API_ERROR_UPSTREAM_PROTOCOL,
		[UPSTREAM_UNREACHABLE] = API_ERROR_UPSTREAM_UNREACHABLE,
		[UPSTREAM_DNS] = API_ERROR_UPSTREAM_DNS,
		[UPSTREAM_TLS] = API_ERROR_UPSTREAM_TLS,
		[UPSTREAM_TIMEOUT] = API_ERROR_UPSTREAM_TIMEOUT,
		[UPSTREAM_BROKEN] = API_ERROR_UPSTREAM_INCOMPLETE,
		[UPSTREAM_NO_DESCRIPTORS] = API_ERROR_UPSTREAM_NO_DESCRIPTORS,
	};
	struct models_req	*mr = arg;
	struct api_error	 e;
	struct evkeyvalq	*h;
	struct app_cache_entry	*ce;
	struct buf		 b = BUF_INIT;
	enum dify_app_mode	 mode;
	char			*name = NULL;

	mr->call = NULL;
	if (result != UPSTREAM_OK) {
		api_error_upstream(&e, kinds[result], detail);
		models_req_error(mr, &e);
	} else if (mr->status != 200) {
		api_error_from_dify_body(&e, mr->status, mr->body.data ?
		    mr->body.data : "", mr->body.len);
		models_req_error(mr, &e);
	} else if (dify_app_info_parse(mr->body.data ? mr->body.data : "",
	    mr->body.len, &name, &mode) != 0 || name == NULL) {
		api_error_upstream(&e, API_ERROR_UPSTREAM_PROTOCOL,
		    "GET /info did not name the app");
		models_req_error(mr, &e);
	} else {
		if ((ce = app_cache_put(mr->srv->app_cache, mr->api_key,
		    util_now_usec(), mr->srv->cfg->models_cache_ttl_ms)) !=
		    NULL) {
			app_cache_set_name(ce, name);
			if (mode != DIFY_APP_UNKNOWN)
				ce->mode = mode;
		}
		if ((h = downstream_headers(&mr->ds)) != NULL) {
			evhttp_add_header(h, "Content-Type",
			    "application/json");
			models_answer(mr->srv, mr->model_id, name, &b);
			downstream_reply(&mr->ds, 200, b.data, b.len);
		}
	}
	free(name);
	buf_free(&b);
	models_req_unref(mr);
}

/* The client left: Dify's answer is not needed. */
static void
models_ds_gone(void *arg)
{
	struct models_req	*mr = arg;

	if (mr->call != NULL) {
		upstream_call_cancel(mr->call);
		mr->call = NULL;
		models_req_unref(mr);
	}
}

/* The client side is finished with. */
static void
models_ds_released(void *arg)
{
	struct models_req	*mr = arg;

	mr->ds_live = 0;
	models_req_unref(mr);
}

/* Shutdown: answer 503 and stop waiting for Dify. */
static void
models_req_abort(void *arg)
{
	struct models_req	*mr = arg;
	struct api_error	 e;

	api_error_set(&e, 503, "server_error", "shutting_down", NULL,
	    "the proxy is shutting down; retry the request");
	models_req_error(mr, &e);
	models_ds_gone(mr);
}

static const struct upstream_handlers models_upstream_handlers = {
	models_up_response,
	models_up_data,
	models_up_done,
};

static const struct downstream_handlers models_downstream_handlers = {
	models_ds_gone,
	NULL,
	models_ds_released,
};

/*
 * Answer GET /v1/models (model_id NULL) or /v1/models/{model_id} with the
 * configured apps (only those proxy key pk may use, if not NULL).
 * Returns the status answered, or -1 if the id is not an app and
 * passthrough with api_key should answer.
 */
static int
models_apps(struct server *srv, struct evhttp_request *req,
    const char *model_id, const char *api_key, const struct proxy_key *pk)
{
	const struct config	*cfg = srv->cfg;
	const struct app	*a;
	struct buf		 b = BUF_INIT;
	size_t			 i, n;

	if (model_id == NULL) {
		buf_add_str(&b, "{\"object\":\"list\",\"data\":[");
		for (i = 0, n = 0; i < cfg->apps->n; i++) {
			a = &cfg->apps->v[i];
			if (pk != NULL && !proxy_key_allows(pk, a->model,
			    strlen(a->model)))
				continue;
			if (n++ > 0)
				buf_add_char(&b, ',');
			models_app_object(srv, a, &b);
		}
		buf_add_str(&b, "]}");
	} else if ((a = apps_find(cfg->apps, model_id,
	    strlen(model_id))) != NULL && (pk == NULL ||
	    proxy_key_allows(pk, model_id, strlen(model_id))))
		models_app_object(srv, a, &b);
	else if (cfg->passthrough && api_key != NULL)
		return (-1);
	else {
		models_not_found(srv, req, model_id, strlen(model_id));
		return (404);
	}
	models_send(req, 200, &b);
	buf_free(&b);
	return (200);
}

/*
 * Answer GET /v1/models (model_id NULL) or /v1/models/{model_id}: the
 * configured apps, or the app behind api_key (NULL if none was sent;
 * the caller has answered 401 when one is needed), only those proxy key
 * pk (if not NULL) may use.  Returns the status if answered at once, 0
 * if Dify is asked (the lookup counts itself in the metrics).
 */
int
models_handle(struct server *srv, struct evhttp_request *req,
    struct client_conn *conn, const char *model_id, const char *api_key,
    const struct proxy_key *pk, const char *request_id)
{
	struct models_req	*mr;
	struct upstream_request	 ur;
	struct app_cache_entry	*ce;
	struct buf		 b = BUF_INIT;
	int			 status;

	if (srv->cfg->apps != NULL && srv->cfg->apps->n > 0 &&
	    (status = models_apps(srv, req, model_id, api_key, pk)) > 0)
		return (status);
	if ((ce = app_cache_get(srv->app_cache, api_key, util_now_usec())) !=
	    NULL && ce->name != NULL) {
		models_answer(srv, model_id, ce->name, &b);
		models_send(req, 200, &b);
		buf_free(&b);
		return (200);
	}

	mr = xcalloc(1, sizeof(*mr));
	mr->srv = srv;
	mr->refs = 2;
	mr->ds_live = 1;
	mr->api_key = xstrdup(api_key);
	if (model_id != NULL)
		mr->model_id = xstrdup(model_id);
	mr->free_ev = event_new(srv->base, -1, 0, models_req_free, mr);
	server_task_add(srv, &mr->task, models_req_abort, mr);
	downstream_init(&mr->ds, req, srv->base, srv->cfg, conn,
	    &models_downstream_handlers, mr);

	memset(&ur, 0, sizeof(ur));
	ur.method = EVHTTP_REQ_GET;
	ur.path = "/info";
	ur.api_key = api_key;
	ur.accept = "application/json";
	ur.request_id = request_id;
	mr->call = upstream_call_start(srv->upstream, &ur,
	    &models_upstream_handlers, mr);
	return (0);
}
