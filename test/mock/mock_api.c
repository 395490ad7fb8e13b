/*
 * api: the HTTP surface.  Routes requests, authenticates the app key,
 * validates POST /v1/chat-messages, /v1/completion-messages and
 * /v1/workflows/run in Dify's order and hands valid ones to the stream
 * module; answers the stop endpoints, /v1/, /v1/info, /v1/parameters,
 * POST /v1/files/upload, GET /v1/messages and DELETE /v1/conversations/
 * {id} (the conversations themselves are in mock_conversation.c); keeps
 * the bounded records behind the /mock/ introspection endpoints.
 *
 * Every reply made here is a one-shot evhttp_send_reply: libevent frees
 * the request after writing it, and nothing here keeps a pointer to it.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
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
#define API_UNAVAILABLE	"App unavailable, please check your app " \
			"configurations."
#define API_BAD_FILE	"Invalid upload file id"
#define API_NO_CONV	"Conversation Not Exists."
#define API_NO_FIRST	"First Message Not Exists."
#define API_DEFAULT_USER "DEFAULT-USER"
#define API_MIB		(1024 * 1024)
#define API_IMAGE_MAX	(10 * API_MIB)	/* UPLOAD_IMAGE_FILE_SIZE_LIMIT */
#define API_FILE_MAX	(15 * API_MIB)	/* UPLOAD_FILE_SIZE_LIMIT */

/* The user input forms (GET /v1/parameters, inputs validation). */
static const struct mock_var api_form_completion[] = {
	{ "paragraph", "Prompt", "prompt", 1, 0 }
};
static const struct mock_var api_form_workflow[] = {
	{ "text-input", "Language", "lang", 0, 48 },
	{ "paragraph", "Input", "input_text", 1, 0 }
};
#define API_FORM(f)	(f), sizeof(f) / sizeof((f)[0])
#define API_NO_FORM	NULL, 0

static const struct mock_app api_apps[] = {
	{ "app-chat", "Mock Chat", "chat", APP_CHAT, API_NO_FORM, 0 },
	{ "app-agent", "Mock Agent", "agent-chat", APP_AGENT, API_NO_FORM,
	    0 },
	{ "app-chatflow", "Mock Chatflow", "advanced-chat", APP_CHATFLOW,
	    API_NO_FORM, 0 },
	{ "app-chatflow-old", "Mock Chatflow Old", "advanced-chat",
	    APP_CHATFLOW_OLD, API_NO_FORM, 0 },
	{ "app-chatflow-1130", "Mock Chatflow 1130", "advanced-chat",
	    APP_CHATFLOW_1130, API_NO_FORM, 0 },
	{ "app-workflow", "Mock Workflow", "workflow", APP_WORKFLOW,
	    API_FORM(api_form_workflow), 0 },
	{ "app-completion", "Mock Completion", "completion", APP_COMPLETION,
	    API_FORM(api_form_completion), 0 },
	{ "app-completion-plain", "Mock Completion Plain", "completion",
	    APP_COMPLETION, API_NO_FORM, 0 },
	/* Older Dify: GET /v1/info has no "mode". */
	{ "app-legacy-completion", "Mock Legacy Completion", "completion",
	    APP_COMPLETION, API_FORM(api_form_completion), 1 },
	{ "app-legacy-workflow", "Mock Legacy Workflow", "workflow",
	    APP_WORKFLOW, API_FORM(api_form_workflow), 1 },
	{ "app-info-nomode", "Mock Info No Mode", "chat", APP_CHAT,
	    API_NO_FORM, 1 }
};

/* Which generation endpoint a request came to. */
enum api_route {
	AR_CHAT,		/* /v1/chat-messages */
	AR_COMPLETION,		/* /v1/completion-messages */
	AR_WORKFLOW		/* /v1/workflows/run */
};

static json_t	*api_requests;		/* generation requests */
static json_t	*api_stops;		/* stop calls, in order */
static json_t	*api_uploads;		/* POST /v1/files/upload */

/* POST /mock/upload-fail: the next upload's error, once. */
static struct {
	int		 armed;
	int		 status;
	char		 code[64];
	char		*message;
} api_upload_fail;

/* Create the record arrays. */
void
api_init(void)
{
	api_requests = json_array();
	api_stops = json_array();
	api_uploads = json_array();
	if (api_requests == NULL || api_stops == NULL || api_uploads == NULL)
		abort();
	upload_init();
	conv_init();
}

/* Release the record arrays. */
void
api_free(void)
{
	json_decref(api_requests);
	json_decref(api_stops);
	json_decref(api_uploads);
	api_requests = api_stops = api_uploads = NULL;
	free(api_upload_fail.message);
	memset(&api_upload_fail, 0, sizeof(api_upload_fail));
	upload_free();
	conv_free();
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
	case 204:
		return ("NO CONTENT");
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

/*
 * Remember a generation request for /mock/requests: the chat fields and
 * the path; with_body (completion, workflow) also the whole body as
 * parsed, which chat records have never carried.
 */
static void
api_record_request(struct evhttp_request *req, const char *path,
    const char *token, json_t *root, int with_body)
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
	json_object_set_new(r, "path", json_string(path));
	if (with_body)
		json_object_set_new(r, "body", root != NULL ?
		    json_deep_copy(root) : json_null());
	api_record(api_requests, r);
}

/*
 * Check the local_file items of files (dify-api.md 2.4): each must carry
 * an upload_file_id issued to this key and this user.  Anything else is
 * left alone, as before.  Returns -1 if one does not.
 */
static int
api_files_ok(json_t *files, const char *key, const char *user)
{
	json_t		*f, *id;
	const char	*tm;
	size_t		 i;

	if (!json_is_array(files))
		return (0);
	json_array_foreach(files, i, f) {
		if (!json_is_object(f))
			continue;
		tm = json_string_value(json_object_get(f, "transfer_method"));
		if (tm == NULL || strcmp(tm, "local_file") != 0)
			continue;
		id = json_object_get(f, "upload_file_id");
		if (!json_is_string(id) || json_string_length(id) !=
		    strlen(json_string_value(id)) ||
		    !upload_known(json_string_value(id), key, user))
			return (-1);
	}
	return (0);
}

/* Characters in a UTF-8 string, as Python's len() counts them. */
static size_t
api_chars(const char *s, size_t n)
{
	size_t	i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return (c);
}

/*
 * Validate inputs against the app's form like _validate_inputs: a required
 * variable must be truthy, a given one a string within max_length.  On
 * failure send the 400 and return -1.
 */
static int
api_inputs_ok(struct evhttp_request *req, const struct mock_app *app,
    json_t *inputs)
{
	const struct mock_var	*var;
	json_t			*v;
	char			 msg[256];
	size_t			 i;

	for (i = 0; i < app->nform; i++) {
		var = &app->form[i];
		v = json_object_get(inputs, var->variable);
		if (!api_truthy(v)) {
			if (!var->required)
				continue;
			snprintf(msg, sizeof(msg), "%s is required in input "
			    "form", var->variable);
		} else if (!json_is_string(v))
			snprintf(msg, sizeof(msg), "(type '%s') %s in input "
			    "form must be a string", var->type, var->variable);
		else if (var->max_length > 0 &&
		    api_chars(json_string_value(v), json_string_length(v)) >
		    (size_t)var->max_length)
			snprintf(msg, sizeof(msg), "%s in input form must be "
			    "less than %d characters", var->variable,
			    var->max_length);
		else
			continue;
		api_error(req, 400, "invalid_param", msg);
		return (-1);
	}
	return (0);
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

/*
 * The text a completion or workflow request is about: the input of the
 * form's first paragraph (else text-input) variable, inputs.query for an
 * app without a form, then for completion the legacy body field query.
 */
static char *
api_form_text(const struct mock_app *app, json_t *inputs, json_t *root,
    int legacy, size_t *len)
{
	const char	*var = NULL;
	json_t		*v;
	size_t		 i;

	for (i = 0; i < app->nform && var == NULL; i++)
		if (strcmp(app->form[i].type, "paragraph") == 0)
			var = app->form[i].variable;
	for (i = 0; i < app->nform && var == NULL; i++)
		if (strcmp(app->form[i].type, "text-input") == 0)
			var = app->form[i].variable;
	v = json_object_get(inputs, var != NULL ? var : "query");
	if ((!json_is_string(v) || json_string_length(v) == 0) && legacy)
		v = json_object_get(root, "query");
	if (!json_is_string(v)) {
		*len = 0;
		return (util_xstrdup(""));
	}
	return (api_query(v, len));
}

/*
 * Prepare p for a failure the directives ask for before any byte: an HTTP
 * error (mock:http), or, in blocking mode, the error a failed generation
 * becomes.  flow: a chatflow, whose mock:workflow_failed is a 400 too.
 */
static void
api_failure(const struct directives *d, int streaming, int flow,
    struct stream_params *p, struct mbuf *body)
{
	char	msg[128];

	if (d->http) {
		p->reply = RK_HTTPERR;
		p->status = d->http_status;
		p->retry_after = api_http_directive(d, body);
	} else if (!streaming && (d->error || d->error_first ||
	    (flow && d->workflow_failed))) {
		/* A failed generation in blocking mode is an HTTP error. */
		p->reply = RK_HTTPERR;
		if (d->error_first) {
			p->status = d->error_first_status;
			snprintf(msg, sizeof(msg), "mock error %s",
			    d->error_first_code);
			jw_error_body(body, p->status, d->error_first_code,
			    msg);
		} else if (d->error) {
			p->status = 400;
			jw_error_body(body, 400, "completion_request_error",
			    "[openai] Error: quota exceeded");
		} else {
			p->status = 400;
			jw_error_body(body, 400, "invalid_param",
			    "Run failed: boom in node llm");
		}
	}
}

/* Read response_mode; on a bad one send the 400 and return -1. */
static int
api_response_mode(struct evhttp_request *req, json_t *root,
    const char *model, int *streaming)
{
	json_t		*v;
	const char	*s;
	char		 msg[256];

	*streaming = 0;
	v = json_object_get(root, "response_mode");
	if (v == NULL || json_is_null(v))
		return (0);
	s = json_string_value(v);
	if (s != NULL && strcmp(s, "streaming") == 0) {
		*streaming = 1;
		return (0);
	}
	if (s != NULL && strcmp(s, "blocking") == 0)
		return (0);
	snprintf(msg, sizeof(msg), "1 validation error for %s\n"
	    "response_mode\n  Input should be 'blocking' or 'streaming' "
	    "[type=literal_error]", model);
	api_error(req, 400, "invalid_param", msg);
	return (-1);
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
	char			 conv[37];
	const char		*cid = NULL, *s;
	size_t			 qlen, n;
	int			 rc, streaming = 0, flow;

	env.chat_requests++;
	rc = api_token(req, &token);
	root = api_body(req);
	api_record_request(req, "/v1/chat-messages", token, root, 0);
	if ((app = api_auth(req, rc, token)) == NULL)
		goto done;
	if (app->kind == APP_WORKFLOW || app->kind == APP_COMPLETION) {
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
	if (api_response_mode(req, root, "ChatRequestPayload",
	    &streaming) == -1)
		goto done;
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
	/*
	 * The generator looks the conversation up (app, this user) after
	 * its own checks and before the files and the input form.
	 */
	if (cid != NULL && conv_find(cid, token, user) == NULL) {
		api_error(req, 404, "not_found", API_NO_CONV);
		goto done;
	}
	if (api_files_ok(json_object_get(root, "files"), token, user) == -1) {
		api_error(req, 400, "invalid_param", API_BAD_FILE);
		goto done;
	}
	if (api_inputs_ok(req, app, inputs) == -1)
		goto done;

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
	api_failure(&d, streaming, flow, &p, &body);
	stream_start(req, &p);
done:
	mbuf_free(&body);
	free(token);
	free(user);
	free(query);
	json_decref(root);
}

/*
 * POST /v1/completion-messages and POST /v1/workflows/run: auth, JSON,
 * user, app mode, the payload model, files, the input form; then the
 * stream module runs it like a chat with the app's own events.
 */
static void
api_run(struct evhttp_request *req, enum api_route route)
{
	const struct mock_app	*app;
	struct stream_params	 p;
	struct directives	 d;
	struct mbuf		 body = { NULL, 0, 0 };
	json_t			*root, *v, *inputs;
	char			*token = NULL, *user = NULL, *query = NULL;
	char			 msg[256];
	const char		*model;
	size_t			 qlen;
	int			 rc, streaming = 0, wf = route == AR_WORKFLOW;

	if (wf)
		env.workflow_requests++;
	else
		env.completion_requests++;
	model = wf ? "WorkflowRunPayload" : "CompletionRequestPayload";
	rc = api_token(req, &token);
	root = api_body(req);
	api_record_request(req, wf ? "/v1/workflows/run" :
	    "/v1/completion-messages", token, root, 1);
	if ((app = api_auth(req, rc, token)) == NULL)
		goto done;
	if (root == NULL || !json_is_object(root)) {
		api_error(req, 400, "bad_request", API_BAD_JSON);
		goto done;
	}
	if (!api_truthy(v = json_object_get(root, "user"))) {
		api_error(req, 400, "invalid_param", API_NO_USER);
		goto done;
	}
	user = api_user_str(v);
	if (wf && app->kind != APP_WORKFLOW) {
		api_error(req, 400, "not_workflow_app", API_NOT_CHAT);
		goto done;
	}
	if (!wf && app->kind != APP_COMPLETION) {
		api_error(req, 400, "app_unavailable", API_UNAVAILABLE);
		goto done;
	}
	inputs = json_object_get(root, "inputs");
	if (!json_is_object(inputs)) {
		snprintf(msg, sizeof(msg), "1 validation error for %s\n"
		    "inputs\n  %s", model, inputs == NULL ?
		    "Field required [type=missing]" :
		    "Input should be a valid dictionary [type=dict_type]");
		api_error(req, 400, "invalid_param", msg);
		goto done;
	}
	v = json_object_get(root, "query");
	if (!wf && v != NULL && !json_is_string(v)) {
		snprintf(msg, sizeof(msg), "1 validation error for %s\n"
		    "query\n  Input should be a valid string "
		    "[type=string_type]", model);
		api_error(req, 400, "invalid_param", msg);
		goto done;
	}
	if (api_response_mode(req, root, model, &streaming) == -1)
		goto done;
	if (api_files_ok(json_object_get(root, "files"), token, user) == -1) {
		api_error(req, 400, "invalid_param", API_BAD_FILE);
		goto done;
	}
	if (api_inputs_ok(req, app, inputs) == -1)
		goto done;

	query = api_form_text(app, inputs, root, !wf, &qlen);
	directive_parse(&d, query, qlen);
	memset(&p, 0, sizeof(p));
	p.app = app;
	p.key = token;
	p.user = user;
	p.query = query;
	p.query_len = qlen;
	p.inputs = inputs;
	p.dir = &d;
	p.body = &body;
	p.reply = streaming ? RK_SSE : RK_BLOCKING;
	/* A failed workflow run is still a 200 (dify-api.md 4.3). */
	api_failure(&d, streaming, 0, &p, &body);
	stream_start(req, &p);
done:
	mbuf_free(&body);
	free(token);
	free(user);
	free(query);
	json_decref(root);
}

/*
 * POST /v1/chat-messages/{task_id}/stop, /v1/completion-messages/
 * {task_id}/stop and /v1/workflows/tasks/{task_id}/stop.  The workflow
 * stop ends a run whoever its user is (dify-api.md 2.5).
 */
static void
api_stop(struct evhttp_request *req, const char *path, const char *task_id,
    enum api_route route)
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
	json_object_set_new(r, "path", json_string(path));
	api_record(api_stops, r);
	if ((app = api_auth(req, rc, token)) == NULL)
		goto done;
	if (!api_truthy(user)) {
		api_error(req, 400, "invalid_param", API_NO_USER);
		goto done;
	}
	if (route == AR_CHAT && (app->kind == APP_WORKFLOW ||
	    app->kind == APP_COMPLETION)) {
		api_error(req, 400, "not_chat_app", API_NOT_CHAT);
		goto done;
	}
	if (route == AR_COMPLETION && app->kind != APP_COMPLETION) {
		api_error(req, 400, "app_unavailable", API_UNAVAILABLE);
		goto done;
	}
	if (route == AR_WORKFLOW && app->kind != APP_WORKFLOW) {
		api_error(req, 400, "not_workflow_app", API_NOT_CHAT);
		goto done;
	}
	ustr = api_user_str(user);
	stream_stop(task_id, token, route == AR_WORKFLOW ? NULL : ustr);
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
		if (!app->info_no_mode) {
			jw_key(&w, "mode");
			jw_str(&w, app->mode);
			jw_key(&w, "author_name");
			jw_str(&w, "mock");
		}
		jw_close(&w);
		mbuf_addc(&b, '\n');
		api_reply(req, 200, "application/json", b.p, b.len);
		mbuf_free(&b);
	}
	free(token);
}

/* Write a {"enabled": false} feature flag under key k. */
static void
api_flag_off(struct jw *w, const char *k)
{
	jw_key(w, k);
	jw_obj(w);
	jw_key(w, "enabled");
	jw_raw(w, "false");
	jw_close(w);
}

/* GET /v1/parameters (dify-api.md 4.5), the app's form included. */
static void
api_parameters(struct evhttp_request *req)
{
	const struct mock_app	*app;
	const struct mock_var	*var;
	struct mbuf		 b = { NULL, 0, 0 };
	struct jw		 w;
	char			*token;
	size_t			 i;
	int			 rc;

	env.parameters_calls++;
	rc = api_token(req, &token);
	if ((app = api_auth(req, rc, token)) == NULL)
		goto done;
	jw_init(&w, &b, JW_UJSON);
	jw_obj(&w);
	jw_key(&w, "opening_statement");
	jw_str(&w, "");
	jw_key(&w, "suggested_questions");
	jw_raw(&w, "[]");
	api_flag_off(&w, "suggested_questions_after_answer");
	api_flag_off(&w, "speech_to_text");
	api_flag_off(&w, "text_to_speech");
	api_flag_off(&w, "retriever_resource");
	api_flag_off(&w, "annotation_reply");
	api_flag_off(&w, "more_like_this");
	jw_key(&w, "user_input_form");
	jw_arr(&w);
	for (i = 0; i < app->nform; i++) {
		var = &app->form[i];
		jw_obj(&w);
		jw_key(&w, var->type);
		jw_obj(&w);
		jw_key(&w, "label");
		jw_str(&w, var->label);
		jw_key(&w, "variable");
		jw_str(&w, var->variable);
		jw_key(&w, "required");
		jw_raw(&w, var->required ? "true" : "false");
		jw_key(&w, "default");
		jw_str(&w, "");
		if (var->max_length > 0) {
			jw_key(&w, "max_length");
			jw_int(&w, var->max_length);
		}
		jw_close(&w);
		jw_close(&w);
	}
	jw_close(&w);
	api_flag_off(&w, "sensitive_word_avoidance");
	jw_key(&w, "file_upload");
	jw_obj(&w);
	jw_key(&w, "image");
	jw_obj(&w);
	jw_key(&w, "enabled");
	jw_raw(&w, "true");
	jw_key(&w, "number_limits");
	jw_int(&w, 3);
	jw_key(&w, "detail");
	jw_str(&w, "high");
	jw_key(&w, "transfer_methods");
	jw_arr(&w);
	jw_str(&w, "remote_url");
	jw_str(&w, "local_file");
	jw_close(&w);
	jw_close(&w);
	jw_close(&w);
	jw_key(&w, "system_parameters");
	jw_obj(&w);
	jw_key(&w, "image_file_size_limit");
	jw_int(&w, 10);
	jw_key(&w, "video_file_size_limit");
	jw_int(&w, 100);
	jw_key(&w, "audio_file_size_limit");
	jw_int(&w, 50);
	jw_key(&w, "file_size_limit");
	jw_int(&w, 15);
	jw_key(&w, "workflow_file_upload_limit");
	jw_int(&w, 10);
	jw_close(&w);
	jw_close(&w);
	mbuf_addc(&b, '\n');
	api_reply(req, 200, "application/json", b.p, b.len);
	mbuf_free(&b);
done:
	free(token);
}

/* Whether an upload may have this MIME type. */
static int
api_mime_ok(const char *mime)
{
	static const char *const	 ok[] = {
		"image/png", "image/jpeg", "image/gif", "image/webp",
		"image/svg+xml", "application/pdf", "text/plain"
	};
	size_t				 i;

	for (i = 0; mime != NULL && i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(mime, ok[i]) == 0)
			return (1);
	return (0);
}

/* The extension of a file name, lowercase, "" if none; caller frees. */
static char *
api_extension(const char *name)
{
	const char	*dot = strrchr(name, '.');
	char		*e;
	size_t		 i;

	if (dot == NULL || strchr(dot, '/') != NULL)
		return (util_xstrdup(""));
	e = util_xstrdup(dot + 1);
	for (i = 0; e[i] != '\0'; i++)
		e[i] = (char)tolower((unsigned char)e[i]);
	return (e);
}

/* The 201 body of a successful upload (flask-restx marshal). */
static void
api_upload_body(struct mbuf *b, const char *id, const struct upload_form *f)
{
	struct jw	 w;
	char		 creator[37], *ext;

	util_uuid4(creator);
	ext = api_extension(f->filename);
	jw_init(&w, b, JW_UJSON);
	jw_obj(&w);
	jw_key(&w, "id");
	jw_str(&w, id);
	jw_key(&w, "name");
	jw_str(&w, f->filename);
	jw_key(&w, "size");
	jw_int(&w, (long long)f->size);
	jw_key(&w, "extension");
	jw_str(&w, ext);
	jw_key(&w, "mime_type");
	jw_str(&w, f->mime);
	jw_key(&w, "created_by");
	jw_str(&w, creator);
	jw_key(&w, "created_at");
	jw_int(&w, (long long)time(NULL));
	jw_key(&w, "preview_url");
	jw_raw(&w, "null");
	jw_key(&w, "source_url");
	jw_str(&w, "");
	jw_key(&w, "original_url");
	jw_raw(&w, "null");
	jw_key(&w, "user_id");
	jw_raw(&w, "null");
	jw_key(&w, "tenant_id");
	jw_str(&w, upload_tenant());
	jw_key(&w, "conversation_id");
	jw_raw(&w, "null");
	jw_key(&w, "file_key");
	jw_raw(&w, "null");
	jw_close(&w);
	mbuf_addc(b, '\n');
	free(ext);
}

/* Remember an upload attempt for /mock/uploads. */
static void
api_record_upload(const char *token, const struct upload_form *f,
    const char *id, int status)
{
	static const char	 hex[] = "0123456789abcdef";
	json_t			*r;
	char			 head[33];
	size_t			 i;

	if (env.no_records)
		return;
	r = json_object();
	json_object_set_new(r, "key",
	    token != NULL ? json_string(token) : json_null());
	json_object_set_new(r, "user", json_string(f->user != NULL &&
	    f->user[0] != '\0' ? f->user : API_DEFAULT_USER));
	json_object_set_new(r, "name", f->has_file ?
	    json_string(f->filename) : json_null());
	json_object_set_new(r, "mime_type", f->mime != NULL ?
	    json_string(f->mime) : json_null());
	json_object_set_new(r, "size", f->has_file ?
	    json_integer((json_int_t)f->size) : json_null());
	json_object_set_new(r, "id", id != NULL ? json_string(id) :
	    json_null());
	json_object_set_new(r, "status", json_integer(status));
	if (f->has_file) {
		for (i = 0; i < 16 && i < f->size; i++) {
			head[2 * i] = hex[(unsigned char)f->data[i] >> 4];
			head[2 * i + 1] = hex[(unsigned char)f->data[i] & 15];
		}
		head[2 * i] = '\0';
		json_object_set_new(r, "head", json_string(head));
	} else
		json_object_set_new(r, "head", json_null());
	api_record(api_uploads, r);
}

/*
 * POST /v1/files/upload (dify-api.md 2.4): one multipart part "file" and
 * an optional field "user"; 201 with the file, or Dify's upload errors.
 */
static void
api_upload(struct evhttp_request *req)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct upload_form	 f;
	struct mbuf		 b = { NULL, 0, 0 };
	const char		*ctype, *body, *user;
	char			*token = NULL, id[37], msg[128];
	size_t			 len, max;
	int			 rc, status;

	env.upload_requests++;
	rc = api_token(req, &token);
	ctype = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	len = evbuffer_get_length(in);
	body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : NULL;
	upload_parse(ctype, body, len, &f);
	if (api_auth(req, rc, token) == NULL) {
		api_record_upload(token, &f, NULL, 401);
		goto done;
	}
	status = 400;
	if (api_upload_fail.armed) {
		api_upload_fail.armed = 0;
		status = api_upload_fail.status;
		api_error(req, status, api_upload_fail.code,
		    api_upload_fail.message);
	} else if (!f.has_file)
		api_error(req, 400, "no_file_uploaded",
		    "Please upload your file.");
	else if (f.nfiles > 1)
		api_error(req, 400, "too_many_files",
		    "Only one file is allowed.");
	else if (!api_mime_ok(f.mime)) {
		status = 415;
		api_error(req, 415, "unsupported_file_type",
		    "File type not allowed.");
	} else if (f.size > (max = strncmp(f.mime, "image/", 6) == 0 ?
	    API_IMAGE_MAX : API_FILE_MAX)) {
		status = 413;
		snprintf(msg, sizeof(msg), "File size exceeded. %zu > %zu",
		    f.size, max);
		api_error(req, 413, "file_too_large", msg);
	} else {
		status = 201;
		user = f.user != NULL && f.user[0] != '\0' ? f.user :
		    API_DEFAULT_USER;
		util_uuid4(id);
		upload_issue(id, token, user);
		api_upload_body(&b, id, &f);
		api_reply(req, 201, "application/json", b.p, b.len);
		mbuf_free(&b);
		api_record_upload(token, &f, id, status);
		goto done;
	}
	api_record_upload(token, &f, NULL, status);
done:
	upload_form_free(&f);
	free(token);
}

/* POST /mock/upload-fail: arm the next upload's error. */
static void
api_arm_upload_fail(struct evhttp_request *req)
{
	static const char	 ok[] = "{\"ok\":true}";
	json_t			*root, *v;
	long long		 status = 500;
	const char		*code = "internal_server_error";
	const char		*msg = API_500_MSG;

	root = api_body(req);
	if (root != NULL && !json_is_object(root)) {
		json_decref(root);
		root = NULL;
	}
	if (json_is_integer(v = json_object_get(root, "status")))
		status = json_integer_value(v);
	if (json_is_string(v = json_object_get(root, "code")))
		code = json_string_value(v);
	if (json_is_string(v = json_object_get(root, "message")))
		msg = json_string_value(v);
	if (status < 100 || status > 599) {
		api_error(req, 400, "bad_request", "status must be 100-599");
		json_decref(root);
		return;
	}
	free(api_upload_fail.message);
	api_upload_fail.armed = 1;
	api_upload_fail.status = (int)status;
	snprintf(api_upload_fail.code, sizeof(api_upload_fail.code), "%s",
	    code);
	api_upload_fail.message = util_xstrdup(msg);
	json_decref(root);
	api_reply(req, 200, "application/json", ok, sizeof(ok) - 1);
}

/*
 * The first value of name in a query string, decoded as werkzeug does
 * ("+" is a space, %XX a byte; a pair without "=" has an empty value);
 * NULL if it is not there.  The caller frees it.
 */
static char *
api_arg(const char *qs, const char *name)
{
	const char	*p = qs, *end, *eq;
	char		*raw, *k, *v = NULL;
	int		 match;

	while (p != NULL && v == NULL) {
		if ((end = strchr(p, '&')) == NULL)
			end = p + strlen(p);
		if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL)
			eq = end;
		raw = util_xstrndup(p, (size_t)(eq - p));
		if ((k = evhttp_uridecode(raw, 1, NULL)) == NULL)
			abort();
		match = strcmp(k, name) == 0;
		free(k);
		free(raw);
		if (match) {
			raw = util_xstrndup(eq < end ? eq + 1 : end,
			    (size_t)(end - (eq < end ? eq + 1 : end)));
			if ((v = evhttp_uridecode(raw, 1, NULL)) == NULL)
				abort();
			free(raw);
		}
		p = *end == '&' ? end + 1 : NULL;
	}
	return (v);
}

/* Add one pydantic error (field, then what) to a message being built. */
static void
api_pyerr(struct mbuf *m, int *n, const char *field, const char *what)
{
	mbuf_addf(m, "\n%s\n  %s", field, what);
	(*n)++;
}

/* Check MessageListQuery.limit (int, 1-100) like pydantic's lax mode. */
static void
api_limit(const char *s, long long *limit, struct mbuf *m, int *nerr)
{
	const char	*p = s;
	long long	 v = 0;
	int		 neg = 0, digits = 0;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; isdigit((unsigned char)*p); p++, digits++)
		if (v < 1000)
			v = v * 10 + (*p - '0');
	while (isspace((unsigned char)*p))
		p++;
	if (digits == 0 || *p != '\0')
		api_pyerr(m, nerr, "limit", "Input should be a valid integer, "
		    "unable to parse string as an integer [type=int_parsing]");
	else if (neg || v < 1)
		api_pyerr(m, nerr, "limit", "Input should be greater than or "
		    "equal to 1 [type=greater_than_equal]");
	else if (v > 100)
		api_pyerr(m, nerr, "limit", "Input should be less than or "
		    "equal to 100 [type=less_than_equal]");
	else
		*limit = v;
}

/*
 * GET /v1/messages (message.py, MessageListApi): the key; the user from
 * the query string, DEFAULT-USER without one (validate_app_token does not
 * require it here); a chat app; MessageListQuery (conversation_id
 * required, "" for none, first_id, limit 1-100, 20 by default); then the
 * conversation of this key and user, or 404.
 */
static void
api_messages(struct evhttp_request *req)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const struct mock_app	*app;
	const struct conv	*c;
	struct mbuf		 b = { NULL, 0, 0 }, m = { NULL, 0, 0 };
	struct jw		 w;
	const char		*qs = NULL;
	char			*token = NULL, *user = NULL, *cid = NULL;
	char			*first = NULL, *lim = NULL, *msg;
	char			 cbuf[37], fbuf[37];
	long long		 limit = 20;
	int			 rc, nerr = 0, has_first;

	rc = api_token(req, &token);
	if ((app = api_auth(req, rc, token)) == NULL)
		goto done;
	if (uri != NULL)
		qs = evhttp_uri_get_query(uri);
	if (qs != NULL) {
		user = api_arg(qs, "user");
		cid = api_arg(qs, "conversation_id");
		first = api_arg(qs, "first_id");
		lim = api_arg(qs, "limit");
	}
	if (app->kind == APP_WORKFLOW || app->kind == APP_COMPLETION) {
		api_error(req, 400, "not_chat_app", API_NOT_CHAT);
		goto done;
	}
	if (cid == NULL)
		api_pyerr(&m, &nerr, "conversation_id",
		    "Field required [type=missing]");
	else if (cid[0] != '\0' && api_uuid(cid, strlen(cid), cbuf) == -1)
		api_pyerr(&m, &nerr, "conversation_id",
		    "Value error, must be a valid UUID [type=value_error]");
	has_first = first != NULL && first[0] != '\0';
	if (has_first && api_uuid(first, strlen(first), fbuf) == -1)
		api_pyerr(&m, &nerr, "first_id",
		    "Value error, must be a valid UUID [type=value_error]");
	if (lim != NULL)
		api_limit(lim, &limit, &m, &nerr);
	if (nerr > 0) {
		mbuf_addc(&m, '\0');
		if (asprintf(&msg, "%d validation error%s for "
		    "MessageListQuery%s", nerr, nerr > 1 ? "s" : "", m.p) == -1)
			abort();
		api_error(req, 400, "invalid_param", msg);
		free(msg);
		goto done;
	}
	if (cid[0] == '\0') {
		/* pagination_by_first_id: no conversation, no messages. */
		jw_init(&w, &b, JW_UJSON);
		jw_obj(&w);
		jw_key(&w, "limit");
		jw_int(&w, limit);
		jw_key(&w, "has_more");
		jw_raw(&w, "false");
		jw_key(&w, "data");
		jw_raw(&w, "[]");
		jw_close(&w);
		mbuf_addc(&b, '\n');
	} else if ((c = conv_find(cbuf, token, user != NULL &&
	    user[0] != '\0' ? user : API_DEFAULT_USER)) == NULL) {
		api_error(req, 404, "not_found", API_NO_CONV);
		goto done;
	} else if (conv_messages(c, has_first ? fbuf : NULL, limit,
	    &b) == -1) {
		api_error(req, 404, "not_found", API_NO_FIRST);
		goto done;
	}
	api_reply(req, 200, "application/json", b.p, b.len);
done:
	mbuf_free(&b);
	mbuf_free(&m);
	free(token);
	free(user);
	free(cid);
	free(first);
	free(lim);
}

/*
 * DELETE /v1/conversations/{id} (conversation.py, ConversationDetailApi)
 * once its body is in: the key; the user from the JSON body, DEFAULT-USER
 * without one; a chat app; then the conversation of this key and user
 * goes, 204 without a body, or 404.
 */
static void
api_conv_delete_run(struct evhttp_request *req, const char *id)
{
	const struct mock_app	*app;
	struct conv		*c;
	json_t			*root, *v;
	char			*token = NULL, *user = NULL;
	int			 rc;

	rc = api_token(req, &token);
	root = api_body(req);
	if ((app = api_auth(req, rc, token)) == NULL)
		goto done;
	if (root == NULL || !json_is_object(root)) {
		api_error(req, 400, "bad_request", API_BAD_JSON);
		goto done;
	}
	v = json_object_get(root, "user");
	user = api_truthy(v) ? api_user_str(v) :
	    util_xstrdup(API_DEFAULT_USER);
	if (app->kind == APP_WORKFLOW || app->kind == APP_COMPLETION) {
		api_error(req, 400, "not_chat_app", API_NOT_CHAT);
		goto done;
	}
	if ((c = conv_find(id, token, user)) == NULL) {
		api_error(req, 404, "not_found", API_NO_CONV);
		goto done;
	}
	conv_delete(c);
	api_reply(req, 204, "application/json", "", 0);
done:
	free(token);
	free(user);
	json_decref(root);
}

/*
 * DELETE /v1/conversations/{id}.  The libevent here reads a DELETE body
 * like a POST one; a libevent 2.1 that does not (its
 * evhttp_method_may_have_body says no for DELETE) leaves it on the
 * connection, where it is taken if it is all there.  Anything else is a
 * body the look-alike cannot have: 400, and the connection closes so that
 * the body's bytes are never read as a request.
 */
static void
api_conv_delete(struct evhttp_request *req, const char *id)
{
	struct evkeyvalq	*ih = evhttp_request_get_input_headers(req);
	struct evbuffer		*body = evhttp_request_get_input_buffer(req);
	struct evbuffer		*in;
	const char		*cl;
	char			*end;
	unsigned long long	 need = 0;

	if ((cl = evhttp_find_header(ih, "Content-Length")) != NULL) {
		need = strtoull(cl, &end, 10);
		if (!isdigit((unsigned char)*cl) || *end != '\0')
			need = ULLONG_MAX;
	}
	in = bufferevent_get_input(evhttp_connection_get_bufferevent(
	    evhttp_request_get_connection(req)));
	if (evbuffer_get_length(body) == 0 && need > 0 && need <= API_MIB &&
	    evbuffer_get_length(in) >= need)
		evbuffer_remove_buffer(in, body, (size_t)need);
	if (need != ULLONG_MAX && evbuffer_get_length(body) >= need) {
		api_conv_delete_run(req, id);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Connection", "close");
	api_error(req, 400, "bad_request", API_BAD_JSON);
}

/* The canonical (lowercase) form of a path's werkzeug <uuid:...>. */
static int
api_path_uuid(const char *s, char out[37])
{
	size_t	i;

	if (strlen(s) != 36)
		return (-1);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return (-1);
		} else if (!isxdigit((unsigned char)s[i]))
			return (-1);
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	out[36] = '\0';
	return (0);
}

/* GET /mock/conversations. */
static void
api_conversations(struct evhttp_request *req)
{
	struct mbuf	b = { NULL, 0, 0 };

	conv_list(&b);
	api_reply(req, 200, "application/json", b.p, b.len);
	mbuf_free(&b);
}

/*
 * GET /mock/stats: counters since the start or the last reset; on TLS,
 * the handshakes completed, full and resumed (this request's own
 * included).
 */
static void
api_stats(struct evhttp_request *req)
{
	api_reply_json(req, 200, json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:I, s:I}",
	    "info_calls", (json_int_t)env.info_calls,
	    "parameters_calls", (json_int_t)env.parameters_calls,
	    "chat_requests", (json_int_t)env.chat_requests,
	    "completion_requests", (json_int_t)env.completion_requests,
	    "workflow_requests", (json_int_t)env.workflow_requests,
	    "upload_requests", (json_int_t)env.upload_requests,
	    "streams_running", stream_running(),
	    "connections_accepted", (json_int_t)env.conns_accepted,
	    "tls_handshakes_full", (json_int_t)env.tls_full,
	    "tls_handshakes_resumed", (json_int_t)env.tls_resumed));
}

/* POST /mock/reset. */
static void
api_reset(struct evhttp_request *req)
{
	static const char	ok[] = "{\"ok\":true}";

	json_array_clear(api_requests);
	json_array_clear(api_stops);
	json_array_clear(api_uploads);
	upload_reset();
	conv_reset();
	free(api_upload_fail.message);
	memset(&api_upload_fail, 0, sizeof(api_upload_fail));
	stream_reset();
	env.info_calls = 0;
	env.parameters_calls = 0;
	env.chat_requests = 0;
	env.completion_requests = 0;
	env.workflow_requests = 0;
	env.upload_requests = 0;
	env.conns_accepted = 0;
	env.tls_full = 0;
	env.tls_resumed = 0;
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

/*
 * The task id of a stop path: prefix, then the id, then exactly "/stop".
 * Returns it (the caller frees it), or NULL if the path is not that.
 */
static char *
api_task(const char *path, size_t plen)
{
	const char	*rest = path + plen, *slash;

	slash = strchr(rest, '/');
	if (slash == NULL || slash == rest || strcmp(slash, "/stop") != 0)
		return (NULL);
	return (util_xstrndup(rest, (size_t)(slash - rest)));
}

/* Every request starts here (evhttp_set_gencb). */
void
api_dispatch(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri;
	enum evhttp_cmd_type	 m = evhttp_request_get_command(req);
	const char		*path = NULL;
	char			*task = NULL, conv[37];
	enum api_route		 route;
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
	} else if (strcmp(path, "/v1/completion-messages") == 0) {
		if (!post)
			goto not_allowed;
		api_run(req, AR_COMPLETION);
	} else if (strcmp(path, "/v1/workflows/run") == 0) {
		if (!post)
			goto not_allowed;
		api_run(req, AR_WORKFLOW);
	} else if (strncmp(path, "/v1/chat-messages/", 18) == 0 ||
	    strncmp(path, "/v1/completion-messages/", 24) == 0 ||
	    strncmp(path, "/v1/workflows/tasks/", 20) == 0) {
		if (path[4] == 'c' && path[5] == 'h') {
			route = AR_CHAT;
			task = api_task(path, 18);
		} else if (path[4] == 'c') {
			route = AR_COMPLETION;
			task = api_task(path, 24);
		} else {
			route = AR_WORKFLOW;
			task = api_task(path, 20);
		}
		if (task == NULL)
			goto not_found;
		if (!post) {
			free(task);
			goto not_allowed;
		}
		api_stop(req, path, task, route);
		free(task);
	} else if (strcmp(path, "/v1/messages") == 0) {
		if (!get)
			goto not_allowed;
		api_messages(req);
	} else if (strncmp(path, "/v1/conversations/", 18) == 0) {
		if (api_path_uuid(path + 18, conv) == -1)
			goto not_found;
		if (m != EVHTTP_REQ_DELETE)
			goto not_allowed;
		api_conv_delete(req, conv);
	} else if (strcmp(path, "/mock/conversations") == 0) {
		if (!get)
			goto not_allowed;
		api_conversations(req);
	} else if (strcmp(path, "/v1/parameters") == 0) {
		if (!get)
			goto not_allowed;
		api_parameters(req);
	} else if (strcmp(path, "/v1/files/upload") == 0) {
		if (!post)
			goto not_allowed;
		api_upload(req);
	} else if (strcmp(path, "/mock/uploads") == 0) {
		if (!get)
			goto not_allowed;
		api_reply_json(req, 200, json_incref(api_uploads));
	} else if (strcmp(path, "/mock/upload-fail") == 0) {
		if (!post)
			goto not_allowed;
		api_arm_upload_fail(req);
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
