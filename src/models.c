/*
 * models: GET /v1/models and /v1/models/{id}, named after the Dify app.
 *
 * In passthrough mode the caller's key selects the Dify app, so the model
 * list is that app: GET /info with the key gives its name, which is cached
 * for models_cache_ttl under a SHA-256 of the key (the key itself is not
 * kept).  The chat endpoint accepts any model name, so /v1/models/{id}
 * answers for any id once the key is known to be valid.
 *
 * A lookup that has to ask Dify holds two references, like an exchange:
 * the downstream until released and the upstream call until done or
 * cancelled; it is freed from its own event when both are gone.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/sha.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "buf.h"
#include "config.h"
#include "downstream.h"
#include "log.h"
#include "models.h"
#include "server.h"
#include "upstream.h"
#include "util.h"

#define MODELS_CACHE_SIZE	128
#define MODELS_MAX_BODY		(64 * 1024)

struct models_entry {
	unsigned char	 hash[SHA256_DIGEST_LENGTH];
	char		*name;
	uint64_t	 expires;	/* monotonic usec; 0: empty slot */
};

struct models {
	struct models_entry	 cache[MODELS_CACHE_SIZE];
};

struct models_req {
	struct server		*srv;
	struct server_task	 task;
	int			 refs;
	struct downstream	 ds;
	int			 ds_live;
	struct upstream_call	*call;
	char			*model_id;	/* NULL: the list */
	unsigned char		 hash[SHA256_DIGEST_LENGTH];
	int			 status;
	struct buf		 body;
	struct event		*free_ev;
};

/* Create an empty cache. */
struct models *
models_new(void)
{
	return (xcalloc(1, sizeof(struct models)));
}

/* Free the cache. */
void
models_free(struct models *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < MODELS_CACHE_SIZE; i++)
		free(m->cache[i].name);
	free(m);
}

/* Find a fresh cache entry for a key hash. */
static const char *
models_lookup(struct models *m, const unsigned char *hash)
{
	uint64_t	now = util_now_usec();
	size_t		i;

	for (i = 0; i < MODELS_CACHE_SIZE; i++) {
		if (m->cache[i].expires > now &&
		    memcmp(m->cache[i].hash, hash, SHA256_DIGEST_LENGTH) == 0)
			return (m->cache[i].name);
	}
	return (NULL);
}

/* Remember an app name, replacing the entry that expires first. */
static void
models_store(struct models *m, const unsigned char *hash, const char *name,
    unsigned ttl_ms)
{
	struct models_entry	*e, *slot = &m->cache[0];
	size_t			 i;

	if (ttl_ms == 0)
		return;
	for (i = 0; i < MODELS_CACHE_SIZE; i++) {
		e = &m->cache[i];
		if (memcmp(e->hash, hash, SHA256_DIGEST_LENGTH) == 0) {
			slot = e;
			break;
		}
		if (e->expires < slot->expires)
			slot = e;
	}
	free(slot->name);
	memcpy(slot->hash, hash, SHA256_DIGEST_LENGTH);
	slot->name = xstrdup(name);
	slot->expires = util_now_usec() + (uint64_t)ttl_ms * 1000;
}

/* Append one model object. */
static void
models_object(struct buf *b, const char *id, int64_t created)
{
	buf_add_str(b, "{\"id\":");
	buf_add_json_cstring(b, id);
	buf_add_str(b, ",\"object\":\"model\",\"created\":");
	buf_add_int(b, created);
	buf_add_str(b, ",\"owned_by\":\"dify\"}");
}

/* Build the answer: the list, or the one model asked for. */
static void
models_answer(struct server *srv, const char *model_id, const char *name,
    struct buf *b)
{
	if (model_id != NULL) {
		models_object(b, model_id, srv->started);
		return;
	}
	buf_add_str(b, "{\"object\":\"list\",\"data\":[");
	models_object(b, name, srv->started);
	buf_add_str(b, "]}");
}

/* Free a lookup and leave the task list. */
static void
models_req_free(int fd UNUSED, short what UNUSED, void *arg)
{
	struct models_req	*mr = arg;

	event_free(mr->free_ev);
	downstream_free(&mr->ds);
	buf_free(&mr->body);
	free(mr->model_id);
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
	struct buf		 b = BUF_INIT;
	json_t			*root = NULL, *name;

	mr->call = NULL;
	if (result != UPSTREAM_OK) {
		api_error_upstream(&e, kinds[result], detail);
		models_req_error(mr, &e);
	} else if (mr->status != 200) {
		api_error_from_dify_body(&e, mr->status, mr->body.data ?
		    mr->body.data : "", mr->body.len);
		models_req_error(mr, &e);
	} else if ((root = json_loadb(mr->body.data ? mr->body.data : "",
	    mr->body.len, 0, NULL)) == NULL ||
	    !json_is_string(name = json_object_get(root, "name")) ||
	    json_string_length(name) == 0) {
		api_error_upstream(&e, API_ERROR_UPSTREAM_PROTOCOL,
		    "GET /info did not name the app");
		models_req_error(mr, &e);
	} else {
		models_store(mr->srv->models, mr->hash,
		    json_string_value(name), mr->srv->cfg->models_cache_ttl_ms);
		if ((h = downstream_headers(&mr->ds)) != NULL) {
			evhttp_add_header(h, "Content-Type",
			    "application/json");
			models_answer(mr->srv, mr->model_id,
			    json_string_value(name), &b);
			downstream_reply(&mr->ds, 200, b.data, b.len);
		}
	}
	json_decref(root);
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
 * Answer GET /v1/models (model_id NULL) or /v1/models/{model_id} for the
 * app behind api_key.
 */
void
models_handle(struct server *srv, struct evhttp_request *req,
    struct client_conn *conn, const char *model_id, const char *api_key,
    const char *request_id)
{
	struct models_req	*mr;
	struct upstream_request	 ur;
	unsigned char		 hash[SHA256_DIGEST_LENGTH];
	const char		*name;
	struct buf		 b = BUF_INIT;

	SHA256((const unsigned char *)api_key, strlen(api_key), hash);
	if ((name = models_lookup(srv->models, hash)) != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", "application/json");
		models_answer(srv, model_id, name, &b);
		evbuffer_add(evhttp_request_get_output_buffer(req), b.data,
		    b.len);
		evhttp_send_reply(req, 200, NULL, NULL);
		buf_free(&b);
		return;
	}

	mr = xcalloc(1, sizeof(*mr));
	mr->srv = srv;
	mr->refs = 2;
	mr->ds_live = 1;
	memcpy(mr->hash, hash, sizeof(hash));
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
}
