/*
 * api: the HTTP surface.  Routes requests, authenticates the app key,
 * validates POST /v1/chat-messages in Dify's order and hands valid ones to
 * the stream module; answers the stop endpoint, /v1/ and /v1/info; keeps
 * the bounded records behind the /mock/ introspection endpoints.
 *
 * Every reply made here is a one-shot evhttp_send_reply: libevent frees
 * the request after writing it, and nothing here keeps a pointer to it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "mock.h"

#define API_NOT_CHAT	"Please check if your app mode matches the right " \
			"API route."
#define API_BAD_JSON	"Invalid JSON payload received or JSON payload " \
			"is empty."
#define API_NO_USER	"Arg user must be provided."
#define API_NO_AUTH	"Authorization header must be provided and start " \
			"with 'Bearer'"
#define API_BAD_SCHEME	"Authorization scheme must be 'Bearer'"
#define API_BAD_TOKEN	"Access token is invalid"
#define API_404_SUFFIX	" You have requested this URI [/v1/chat-messages] " \
			"but did you mean /v1/chat-messages or " \
			"/v1/chat-messages/<string:task_id>/stop ?"
#define API_500_MSG	"The server encountered an internal error and was " \
			"unable to complete your request."

static const struct mock_app api_apps[] = {
	{ "app-chat", "Mock Chat", "chat", APP_CHAT },
	{ "app-agent", "Mock Agent", "agent-chat", APP_AGENT },
	{ "app-chatflow", "Mock Chatflow", "advanced-chat", APP_CHATFLOW },
	{ "app-chatflow-old", "Mock Chatflow Old", "advanced-chat",
	    APP_CHATFLOW_OLD },
	{ "app-chatflow-1130", "Mock Chatflow 1130", "advanced-chat",
	    APP_CHATFLOW_1130 },
	{ "app-workflow", "Mock Workflow", "workflow", APP_WORKFLOW }
};

static json_t	*api_requests;		/* POST /v1/chat-messages */
static json_t	*api_stops;		/* stop calls, in order */

/* Create the record arrays. */
void
api_init(void)
{
	api_requests = json_array();
	api_stops = json_array();
	if (api_requests == NULL || api_stops == NULL)
		abort();
}

/* Release the record arrays. */
void
api_free(void)
{
	json_decref(api_requests);
	json_decref(api_stops);
	api_requests = api_stops = NULL;
}

/* The reason phrase werkzeug would send for a status. */
const char *
api_reason(int status)
{
	switch (status) {
	case 200:
		return ("OK");
	case 201:
		return ("CREATED");
	case 400:
		return ("BAD REQUEST");
	case 401:
		return ("UNAUTHORIZED");
	case 403:
		return ("FORBIDDEN");
	case 404:
		return ("NOT FOUND");
	case 405:
		return ("METHOD NOT ALLOWED");
	case 413:
		return ("REQUEST ENTITY TOO LARGE");
	case 415:
		return ("UNSUPPORTED MEDIA TYPE");
	case 429:
		return ("TOO MANY REQUESTS");
	case 499:
		return ("CLIENT CLOSED REQUEST");
	case 500:
		return ("INTERNAL SERVER ERROR");
	case 502:
		return ("BAD GATEWAY");
	case 503:
		return ("SERVICE UNAVAILABLE");
	case 504:
		return ("GATEWAY TIMEOUT");
	}
	return ("ERROR");
}

/*
 * Append to a bounded record array.  At twice the limit the oldest half
 * goes at once: removing one entry per request would move the whole array
 * every time (a per-request cost the benchmarks would see).
 */
static void
api_record(json_t *a, json_t *v)
{
	json_t	*keep;
	size_t	 i, n;

	if (env.no_records) {
		json_decref(v);
		return;
	}
	json_array_append_new(a, v);
	if ((n = json_array_size(a)) < 2 * MOCK_RECORDS_MAX)
		return;
	keep = json_array();
	for (i = n - MOCK_RECORDS_MAX; i < n; i++)
		json_array_append(keep, json_array_get(a, i));
	json_array_clear(a);
	json_array_extend(a, keep);
	json_decref(keep);
}

/* Send a complete reply with a body. */
static void
api_reply(struct evhttp_request *req, int status, const char *ctype,
    const void *body, size_t len)
{
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(req);

	evhttp_add_header(oh, "Content-Type", ctype);
	evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	evhttp_send_reply(req, status, api_reason(status), NULL);
}

/* Send Dify's error envelope. */
static void
api_error(struct evhttp_request *req, int status, const char *code,
    const char *msg)
{
	struct mbuf	b = { NULL, 0, 0 };

	jw_error_body(&b, status, code, msg);
	if (status == 401)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer realm=\"api\"");
	api_reply(req, status, "application/json", b.p, b.len);
	mbuf_free(&b);
}

/* Send a jansson value as a compact JSON body and release it. */
static void
api_reply_json(struct evhttp_request *req, int status, json_t *v)
{
	char	*s;

	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		abort();
	api_reply(req, status, "application/json", s, strlen(s));
	free(s);
	json_decref(v);
}

/*
 * Split the Authorization header like Dify: returns 0 with *token set,
 * -1 when missing or without a space, -2 when the scheme is not bearer.
 */
static int
api_token(struct evhttp_request *req, char **token)
{
	const char	*h, *p, *scheme;
	size_t		 slen;

	*token = NULL;
	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (h == NULL || strchr(h, ' ') == NULL)
		return (-1);
	for (p = h; isspace((unsigned char)*p); p++)
		;
	scheme = p;
	while (*p != '\0' && !isspace((unsigned char)*p))
		p++;
	slen = (size_t)(p - scheme);
	while (isspace((unsigned char)*p))
		p++;
	if (slen != 6 || strncasecmp(scheme, "bearer", 6) != 0)
		return (-2);
	*token = util_xstrdup(p);
	return (0);
}

/* The app for a key, or NULL. */
static const struct mock_app *
api_app(const char *token)
{
	size_t	i;

	if (token == NULL)
		return (NULL);
	for (i = 0; i < sizeof(api_apps) / sizeof(api_apps[0]); i++)
		if (strcmp(api_apps[i].key, token) == 0)
			return (&api_apps[i]);
	return (NULL);
}

/* Check the result of api_token; on failure send the 401 and return NULL. */
static const struct mock_app *
api_auth(struct evhttp_request *req, int rc, const char *token)
{
	const struct mock_app	*app;

	if (rc == -1)
		api_error(req, 401, "unauthorized", API_NO_AUTH);
	else if (rc == -2)
		api_error(req, 401, "unauthorized", API_BAD_SCHEME);
	else if ((app = api_app(token)) == NULL)
		api_error(req, 401, "unauthorized", API_BAD_TOKEN);
	else
		return (app);
	return (NULL);
}

/* Parse the request body as any JSON value; NULL if empty or invalid. */
static json_t *
api_body(struct evhttp_request *req)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	json_error_t	 err;
	size_t		 len;
	const char	*p;

	if ((len = evbuffer_get_length(in)) == 0)
		return (NULL);
	p = (const char *)evbuffer_pullup(in, -1);
	return (json_loadb(p, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err));
}

/* Python truthiness of a JSON value. */
static int
api_truthy(json_t *v)
{
	if (v == NULL)
		return (0);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return (json_object_size(v) > 0);
	case JSON_ARRAY:
		return (json_array_size(v) > 0);
	case JSON_STRING:
		return (json_string_length(v) > 0);
	case JSON_INTEGER:
		return (json_integer_value(v) != 0);
	case JSON_REAL:
		return (json_real_value(v) != 0.0);
	case JSON_TRUE:
		return (1);
	default:
		return (0);
	}
}

/* str(user) as Dify stores it; the caller frees the result. */
static char *
api_user_str(json_t *v)
{
	struct mbuf	 b = { NULL, 0, 0 };
	struct jw	 w;
	char		*s;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return (util_xstrdup(json_string_value(v)));
	case JSON_TRUE:
		return (util_xstrdup("True"));
	case JSON_FALSE:
		return (util_xstrdup("False"));
	default:
		jw_init(&w, &b, JW_PY);
		jw_json(&w, v);
		s = util_xstrndup(b.p != NULL ? b.p : "", b.len);
		mbuf_free(&b);
		return (s);
	}
}

/*
 * Validate a conversation id like Python's uuid.UUID(): optional braces
 * and "urn:uuid:" prefix, hyphens anywhere, 32 hex digits.  Writes the
 * canonical lowercase form.  Returns 0 if valid.
 */
static int
api_uuid(const char *s, size_t n, char out[37])
{
	char			 d[32];
	size_t			 i, nd = 0;

	if (n >= 9 && strncasecmp(s, "urn:uuid:", 9) == 0) {
		s += 9;
		n -= 9;
	} else if (n >= 5 && strncasecmp(s, "uuid:", 5) == 0) {
		s += 5;
		n -= 5;
	}
	if (n >= 2 && s[0] == '{' && s[n - 1] == '}') {
		s++;
		n -= 2;
	}
	for (i = 0; i < n; i++) {
		if (s[i] == '-')
			continue;
		if (!isxdigit((unsigned char)s[i]) || nd == 32)
			return (-1);
		d[nd++] = (char)tolower((unsigned char)s[i]);
	}
	if (nd != 32)
		return (-1);
	for (i = 0, nd = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[nd++] = '-';
		out[nd++] = d[i];
	}
	out[nd] = '\0';
	return (0);
}

/* A request header as a JSON string, or null. */
static json_t *
api_header_json(struct evhttp_request *req, const char *name)
{
	const char	*v;

	v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
	return (v != NULL ? json_string(v) : json_null());
}

/* A body field as received, or null. */
static json_t *
api_field(json_t *root, const char *name)
{
	json_t	*v;

	if (root == NULL || !json_is_object(root) ||
	    (v = json_object_get(root, name)) == NULL)
		return (json_null());
	return (json_deep_copy(v));
}

/* Remember a POST /v1/chat-messages for /mock/requests. */
static void
api_record_request(struct evhttp_request *req, const char *token,
    json_t *root)
{
	json_t	*r;

	if (env.no_records)
		return;
	r = json_object();
	json_object_set_new(r, "key",
	    token != NULL ? json_string(token) : json_null());
	json_object_set_new(r, "user", api_field(root, "user"));
	json_object_set_new(r, "query", api_field(root, "query"));
	json_object_set_new(r, "response_mode",
	    api_field(root, "response_mode"));
	json_object_set_new(r, "conversation_id",
	    api_field(root, "conversation_id"));
	json_object_set_new(r, "inputs", api_field(root, "inputs"));
	json_object_set_new(r, "auto_generate_name",
	    api_field(root, "auto_generate_name"));
	json_object_set_new(r, "files", api_field(root, "files"));
	json_object_set_new(r, "host", api_header_json(req, "Host"));
	json_object_set_new(r, "content_type",
	    api_header_json(req, "Content-Type"));
	json_object_set_new(r, "accept", api_header_json(req, "Accept"));
	api_record(api_requests, r);
}

/* Format mock:http's error envelope into b; returns the Retry-After. */
static int
api_http_directive(const struct directives *d, struct mbuf *b)
{
	struct mbuf	msg = { NULL, 0, 0 };

	if (d->http_status == 500)
		mbuf_adds(&msg, API_500_MSG);
	else {
		mbuf_addf(&msg, "mock http error %s", d->http_code);
		if (d->http_status == 404)
			mbuf_adds(&msg, API_404_SUFFIX);
	}
	jw_error_body(b, d->http_status, d->http_code, msg.p);
	mbuf_free(&msg);
	return (d->http_status == 429 ? 7 : 0);
}

/* Copy the query without NUL bytes, as Dify strips them. */
static char *
api_query(json_t *q, size_t *len)
{
	const char	*s = json_string_value(q);
	size_t		 n = json_string_length(q), i, j;
	char		*out;

	out = util_xmalloc(n + 1);
	for (i = 0, j = 0; i < n; i++)
		if (s[i] != '\0')
			out[j++] = s[i];
	out[j] = '\0';
	*len = j;
	return (out);
}

/* POST /v1/chat-messages. */
static void
api_chat(struct evhttp_request *req)
{
	const struct mock_app	*app;
	struct stream_params	 p;
	struct directives	 d;
	struct mbuf		 body = { NULL, 0, 0 };
	json_t			*root, *v, *inputs;
	char			*token = NULL, *user = NULL, *query = NULL;
	char			 conv[37], msg[128];
	const char		*cid = NULL, *s;
	size_t			 qlen, n;
	int			 rc, streaming = 0, flow;

	env.chat_requests++;
	rc = api_token(req, &token);
	root = api_body(req);
	api_record_request(req, token, root);
	if ((app = api_auth(req, rc, token)) == NULL)
		goto done;
	if (app->kind == APP_WORKFLOW) {
		api_error(req, 400, "not_chat_app", API_NOT_CHAT);
		goto done;
	}
	if (root == NULL || !json_is_object(root)) {
		api_error(req, 400, "bad_request", API_BAD_JSON);
		goto done;
	}
	if (!api_truthy(v = json_object_get(root, "user"))) {
		api_error(req, 400, "invalid_param", API_NO_USER);
		goto done;
	}
	user = api_user_str(v);
	inputs = json_object_get(root, "inputs");
	if (!json_is_object(inputs)) {
		api_error(req, 400, "invalid_param", inputs == NULL ?
		    "1 validation error for ChatRequestPayload\ninputs\n"
		    "  Field required [type=missing]" :
		    "1 validation error for ChatRequestPayload\ninputs\n"
		    "  Input should be a valid dictionary [type=dict_type]");
		goto done;
	}
	v = json_object_get(root, "query");
	if (!json_is_string(v) || json_string_length(v) == 0) {
		api_error(req, 400, "invalid_param", "query is required");
		goto done;
	}
	query = api_query(v, &qlen);
	v = json_object_get(root, "response_mode");
	if (v != NULL && !json_is_null(v)) {
		s = json_string_value(v);
		if (s != NULL && strcmp(s, "streaming") == 0)
			streaming = 1;
		else if (s == NULL || strcmp(s, "blocking") != 0) {
			api_error(req, 400, "invalid_param",
			    "1 validation error for ChatRequestPayload\n"
			    "response_mode\n  Input should be 'blocking' or "
			    "'streaming' [type=literal_error]");
			goto done;
		}
	}
	v = json_object_get(root, "conversation_id");
	if (v != NULL && !json_is_null(v)) {
		if ((s = json_string_value(v)) == NULL) {
			api_error(req, 400, "invalid_param",
			    "conversation_id must be a valid UUID");
			goto done;
		}
		n = json_string_length(v);
		while (n > 0 && isspace((unsigned char)*s)) {
			s++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		if (n > 0) {
			if (api_uuid(s, n, conv) == -1) {
				api_error(req, 400, "invalid_param",
				    "conversation_id must be a valid UUID");
				goto done;
			}
			cid = conv;
		}
	}
	if (app->kind == APP_AGENT && !streaming) {
		api_error(req, 400, "invalid_param",
		    "Agent Chat App does not support blocking mode");
		goto done;
	}

	directive_parse(&d, query, qlen);
	flow = app->kind == APP_CHATFLOW || app->kind == APP_CHATFLOW_OLD ||
	    app->kind == APP_CHATFLOW_1130;
	memset(&p, 0, sizeof(p));
	p.app = app;
	p.key = token;
	p.user = user;
	p.query = query;
	p.query_len = qlen;
	p.inputs = inputs;
	p.conversation_id = cid;
	p.dir = &d;
	p.body = &body;
	p.reply = streaming ? RK_SSE : RK_BLOCKING;
	if (d.http) {
		p.reply = RK_HTTPERR;
		p.status = d.http_status;
		p.retry_after = api_http_directive(&d, &body);
	} else if (!streaming && (d.error || d.error_first ||
	    (flow && d.workflow_failed))) {
		/* A failed generation in blocking mode is an HTTP error. */
		p.reply = RK_HTTPERR;
		if (d.error_first) {
			p.status = d.error_first_status;
			snprintf(msg, sizeof(msg), "mock error %s",
			    d.error_first_code);
			jw_error_body(&body, p.status, d.error_first_code, msg);
		} else if (d.error) {
			p.status = 400;
			jw_error_body(&body, 400, "completion_request_error",
			    "[openai] Error: quota exceeded");
		} else {
			p.status = 400;
			jw_error_body(&body, 400, "invalid_param",
			    "Run failed: boom in node llm");
		}
	}
	stream_start(req, &p);
done:
	mbuf_free(&body);
	free(token);
	free(user);
	free(query);
	json_decref(root);
}

/* POST /v1/chat-messages/{task_id}/stop. */
static void
api_stop(struct evhttp_request *req, const char *task_id)
{
	const struct mock_app	*app;
	json_t			*root, *user, *r;
	char			*token = NULL, *ustr;
	static const char	 ok[] = "{\"result\":\"success\"}\n";
	int			 rc;

	rc = api_token(req, &token);
	root = api_body(req);
	user = root != NULL && json_is_object(root) ?
	    json_object_get(root, "user") : NULL;
	r = json_object();
	json_object_set_new(r, "task_id", json_string(task_id));
	json_object_set_new(r, "user",
	    user != NULL ? json_deep_copy(user) : json_null());
	json_object_set_new(r, "key",
	    token != NULL ? json_string(token) : json_null());
	json_object_set_new(r, "time", json_real(util_wall()));
	api_record(api_stops, r);
	if ((app = api_auth(req, rc, token)) == NULL)
		goto done;
	if (!api_truthy(user)) {
		api_error(req, 400, "invalid_param", API_NO_USER);
		goto done;
	}
	if (app->kind == APP_WORKFLOW) {
		api_error(req, 400, "not_chat_app", API_NOT_CHAT);
		goto done;
	}
	ustr = api_user_str(user);
	stream_stop(task_id, token, ustr);
	free(ustr);
	api_reply(req, 200, "application/json", ok, sizeof(ok) - 1);
done:
	free(token);
	json_decref(root);
}

/* GET /v1/info. */
static void
api_info(struct evhttp_request *req)
{
	const struct mock_app	*app;
	struct mbuf		 b = { NULL, 0, 0 };
	struct jw		 w;
	char			*token;
	int			 rc;

	env.info_calls++;
	rc = api_token(req, &token);
	if ((app = api_auth(req, rc, token)) != NULL) {
		jw_init(&w, &b, JW_UJSON);
		jw_obj(&w);
		jw_key(&w, "name");
		jw_str(&w, app->name);
		jw_key(&w, "description");
		jw_str(&w, "");
		jw_key(&w, "tags");
		jw_raw(&w, "[]");
		jw_key(&w, "mode");
		jw_str(&w, app->mode);
		jw_key(&w, "author_name");
		jw_str(&w, "mock");
		jw_close(&w);
		mbuf_addc(&b, '\n');
		api_reply(req, 200, "application/json", b.p, b.len);
		mbuf_free(&b);
	}
	free(token);
}

/* GET /mock/stats. */
static void
api_stats(struct evhttp_request *req)
{
	api_reply_json(req, 200, json_pack("{s:I, s:I, s:i, s:I}",
	    "info_calls", (json_int_t)env.info_calls,
	    "chat_requests", (json_int_t)env.chat_requests,
	    "streams_running", stream_running(),
	    "connections_accepted", (json_int_t)env.conns_accepted));
}

/* POST /mock/reset. */
static void
api_reset(struct evhttp_request *req)
{
	static const char	ok[] = "{\"ok\":true}";

	json_array_clear(api_requests);
	json_array_clear(api_stops);
	stream_reset();
	env.info_calls = 0;
	env.chat_requests = 0;
	env.conns_accepted = 0;
	api_reply(req, 200, "application/json", ok, sizeof(ok) - 1);
}

/* The name of a request method, for the log. */
static const char *
api_method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return ("GET");
	case EVHTTP_REQ_POST:
		return ("POST");
	case EVHTTP_REQ_HEAD:
		return ("HEAD");
	case EVHTTP_REQ_PUT:
		return ("PUT");
	case EVHTTP_REQ_DELETE:
		return ("DELETE");
	case EVHTTP_REQ_OPTIONS:
		return ("OPTIONS");
	case EVHTTP_REQ_PATCH:
		return ("PATCH");
	default:
		return ("OTHER");
	}
}

/* Every request starts here (evhttp_set_gencb). */
void
api_dispatch(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri;
	enum evhttp_cmd_type	 m = evhttp_request_get_command(req);
	const char		*path = NULL, *rest, *slash;
	char			*task;
	int			 get = m == EVHTTP_REQ_GET;
	int			 post = m == EVHTTP_REQ_POST;

	(void)arg;
	if ((uri = evhttp_request_get_evhttp_uri(req)) != NULL)
		path = evhttp_uri_get_path(uri);
	if (path == NULL)
		path = "";
	if (!env.quiet)
		fprintf(stderr, "mock-dify: %s %s\n", api_method_name(m),
		    evhttp_request_get_uri(req));

	if (strcmp(path, "/v1/chat-messages") == 0) {
		if (post)
			api_chat(req);
		else
			goto not_allowed;
	} else if (strncmp(path, "/v1/chat-messages/", 18) == 0) {
		rest = path + 18;
		slash = strchr(rest, '/');
		if (slash == NULL || slash == rest ||
		    strcmp(slash, "/stop") != 0)
			goto not_found;
		if (!post)
			goto not_allowed;
		task = util_xstrndup(rest, (size_t)(slash - rest));
		api_stop(req, task);
		free(task);
	} else if (strcmp(path, "/v1/") == 0 || strcmp(path, "/v1") == 0) {
		static const char welcome[] = "{\"welcome\":\"Dify OpenAPI\","
		    "\"api_version\":\"v1\",\"server_version\":\"1.13.1\"}\n";

		if (!get)
			goto not_allowed;
		api_reply(req, 200, "application/json", welcome,
		    sizeof(welcome) - 1);
	} else if (strcmp(path, "/v1/info") == 0) {
		if (!get)
			goto not_allowed;
		api_info(req);
	} else if (strcmp(path, "/mock/stops") == 0) {
		if (!get)
			goto not_allowed;
		api_reply_json(req, 200, json_incref(api_stops));
	} else if (strcmp(path, "/mock/requests") == 0) {
		if (!get)
			goto not_allowed;
		api_reply_json(req, 200, json_incref(api_requests));
	} else if (strcmp(path, "/mock/streams") == 0) {
		if (!get)
			goto not_allowed;
		api_reply_json(req, 200, stream_list_json());
	} else if (strcmp(path, "/mock/stats") == 0) {
		if (!get)
			goto not_allowed;
		api_stats(req);
	} else if (strcmp(path, "/mock/reset") == 0) {
		if (!post)
			goto not_allowed;
		api_reset(req);
	} else
		goto not_found;
	return;

not_found:
	api_error(req, 404, "not_found", "The requested URL was not found on "
	    "the server. If you entered the URL manually please check your "
	    "spelling and try again.");
	return;
not_allowed:
	api_error(req, 405, "method_not_allowed",
	    "The method is not allowed for the requested URL.");
}
