/*
 * chat_request: an OpenAI chat completion request, read and turned into
 * the body of Dify's POST /chat-messages.
 *
 * Every field a client may send is accepted; the ones that map are used
 * (messages, model, stream, stream_options.include_usage, user), the rest
 * are ignored, and only what decides the answer is validated, with a 400
 * that names the offending param.
 *
 * Dify takes one query string, not a list of messages.  A first turn (one
 * user message) sends that message's text.  A request with earlier turns or
 * a system prompt and no Dify conversation to continue sends a transcript:
 * the system prompts, then every turn in order, each under its role, so
 * nothing the client sent is dropped.  With a conversation to continue,
 * Dify holds the history and only the last user message is sent.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "chat_request.h"
#include "dify_upload.h"
#include "json_text.h"
#include "tool_call.h"
#include "json_reader.h"
#include "util.h"

#define CHAT_REQUEST_DEFAULT_MODEL	"dify"

enum chat_role {
	CHAT_ROLE_SYSTEM,	/* system and developer */
	CHAT_ROLE_USER,
	CHAT_ROLE_ASSISTANT,
	CHAT_ROLE_TOOL,		/* tool and function */
	CHAT_ROLE_INVALID
};

/* Role of a message, from its role string. */
static enum chat_role
chat_request_role(const char *role)
{
	if (strcmp(role, "user") == 0)
		return (CHAT_ROLE_USER);
	if (strcmp(role, "assistant") == 0)
		return (CHAT_ROLE_ASSISTANT);
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
		return (CHAT_ROLE_SYSTEM);
	if (strcmp(role, "tool") == 0 || strcmp(role, "function") == 0)
		return (CHAT_ROLE_TOOL);
	return (CHAT_ROLE_INVALID);
}

/* JSON type name for error messages, as OpenAI words them. */
static const char *
chat_request_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return ("an object");
	case JSON_ARRAY:
		return ("an array");
	case JSON_STRING:
		return ("a string");
	case JSON_INTEGER:
		return ("an integer");
	case JSON_REAL:
		return ("a number");
	case JSON_TRUE:
	case JSON_FALSE:
		return ("a boolean");
	default:
		return ("null");
	}
}

/* 400 for a parameter of the wrong JSON type. */
static int
chat_request_bad_type(struct api_error *err, const char *param,
    const char *expected, const json_t *got)
{
	api_error_set(err, 400, "invalid_request_error", "invalid_type", param,
	    "Invalid type for '%s': expected %s, but got %s instead.", param,
	    expected, chat_request_type_name(got));
	return (-1);
}

/* The image URL of an image_url part ({"url": ...} or a bare string). */
static const char *
chat_request_image_url(json_t *part)
{
	json_t	*img = json_object_get(part, "image_url");

	if (json_is_string(img))
		return (json_string_value(img));
	if (json_is_object(img) && json_is_string(json_object_get(img, "url")))
		return (json_string_value(json_object_get(img, "url")));
	return (NULL);
}

/* True if url is http(s), the only kind Dify can fetch itself. */
static int
chat_request_is_remote(const char *url)
{
	return (strncmp(url, "https://", 8) == 0 ||
	    strncmp(url, "http://", 7) == 0);
}

/*
 * Check one message's content: a string, null, or an array of parts.
 * Sets *has_text when there is non-empty text.  Returns 0 or -1 with err.
 */
static int
chat_request_check_content(json_t *content, size_t i, struct api_error *err,
    int *has_text)
{
	char		 param[96];
	json_t		*part, *type, *text;
	const char	*t, *url;
	size_t		 j;

	/*
	 * Parameter names are formatted only for errors: valid requests,
	 * long conversations included, pay no printf per message.
	 */
	*has_text = 0;
	if (content == NULL || json_is_null(content))
		return (0);
	if (json_is_string(content)) {
		*has_text = json_string_length(content) > 0;
		return (0);
	}
	if (!json_is_array(content)) {
		snprintf(param, sizeof(param), "messages[%zu].content", i);
		return (chat_request_bad_type(err, param,
		    "a string or an array of content parts", content));
	}

	json_array_foreach(content, j, part) {
		if (!json_is_object(part)) {
			snprintf(param, sizeof(param),
			    "messages[%zu].content[%zu]", i, j);
			return (chat_request_bad_type(err, param, "an object",
			    part));
		}
		type = json_object_get(part, "type");
		if (!json_is_string(type)) {
			snprintf(param, sizeof(param),
			    "messages[%zu].content[%zu].type", i, j);
			api_error_set(err, 400, "invalid_request_error",
			    "missing_required_parameter", param,
			    "Missing required parameter: '%s'.", param);
			return (-1);
		}
		t = json_string_value(type);
		if (strcmp(t, "text") == 0 || strcmp(t, "refusal") == 0) {
			text = json_object_get(part, t);
			if (!json_is_string(text)) {
				snprintf(param, sizeof(param),
				    "messages[%zu].content[%zu].%s", i, j, t);
				return (chat_request_bad_type(err, param,
				    "a string", text ? text : json_null()));
			}
			if (json_string_length(text) > 0)
				*has_text = 1;
		} else if (strcmp(t, "image_url") == 0) {
			url = chat_request_image_url(part);
			if (url == NULL) {
				snprintf(param, sizeof(param),
				    "messages[%zu].content[%zu].image_url", i,
				    j);
				api_error_set(err, 400, "invalid_request_error",
				    "missing_required_parameter", param,
				    "Missing required parameter: '%s.url'.",
				    param);
				return (-1);
			}
			if (!chat_request_is_remote(url) &&
			    !dify_upload_is_data_url(url)) {
				snprintf(param, sizeof(param),
				    "messages[%zu].content[%zu].image_url", i,
				    j);
				api_error_set(err, 400, "invalid_request_error",
				    "unsupported_value", param,
				    "Only http, https and data: image URLs are "
				    "supported.");
				return (-1);
			}
		} else {
			snprintf(param, sizeof(param),
			    "messages[%zu].content[%zu].type", i, j);
			api_error_set(err, 400, "invalid_request_error",
			    "unsupported_value", param,
			    "Content parts of type '%s' are not supported.", t);
			return (-1);
		}
	}
	return (0);
}

/*
 * Append a message's text to out: a string as is, text parts joined by
 * newlines.  Images become "[image]" in history; in the message that Dify
 * receives as files they are left out of the text.
 */
static void
chat_request_text(json_t *content, int images_inline, struct buf *out)
{
	json_t		*part, *text;
	const char	*t;
	size_t		 j, start = out->len;

	if (json_is_string(content)) {
		buf_add(out, json_string_value(content),
		    json_string_length(content));
		return;
	}
	if (!json_is_array(content))
		return;
	json_array_foreach(content, j, part) {
		t = json_string_value(json_object_get(part, "type"));
		if (strcmp(t, "image_url") == 0) {
			if (!images_inline)
				continue;
			if (out->len > start)
				buf_add_char(out, '\n');
			buf_add_str(out, "[image]");
			continue;
		}
		text = json_object_get(part, t);
		if (json_string_length(text) == 0)
			continue;
		if (out->len > start)
			buf_add_char(out, '\n');
		buf_add(out, json_string_value(text), json_string_length(text));
	}
}

/*
 * Add the images of the user message msg (index i) as Dify files: http(s)
 * ones as remote_url files, inline ones decoded and checked for upload
 * (their local_file mappings are added once Dify gave their ids).
 * Returns 0, or -1 with err for an image that cannot be sent.
 */
static int
chat_request_collect_files(struct chat_request *cr, json_t *content,
    size_t i, struct api_error *err)
{
	struct dify_upload_image	*img;
	json_t				*part, *v;
	const char			*t, *url;
	size_t				 j;

	if (!json_is_array(content))
		return (0);
	json_array_foreach(content, j, part) {
		t = json_string_value(json_object_get(part, "type"));
		if (strcmp(t, "image_url") != 0)
			continue;
		url = chat_request_image_url(part);
		if (dify_upload_is_data_url(url)) {
			if (cr->nimages == DIFY_UPLOAD_MAX_IMAGES) {
				api_error_set(err, 400, "invalid_request_error",
				    "too_many_images", "messages",
				    "At most %d inline images are taken in one "
				    "message.", DIFY_UPLOAD_MAX_IMAGES);
				return (-1);
			}
			/* Most requests have none: the table comes with the first. */
			if (cr->images == NULL)
				cr->images = xcalloc(DIFY_UPLOAD_MAX_IMAGES,
				    sizeof(*cr->images));
			img = &cr->images[cr->nimages++];
			snprintf(img->param, sizeof(img->param),
			    "messages[%zu].content[%zu].image_url", i, j);
			v = json_object_get(part, "image_url");
			if (json_is_object(v))
				v = json_object_get(v, "url");
			if (dify_upload_decode(url, json_string_length(v), img,
			    err) != 0)
				return (-1);
			continue;
		}
		if (cr->nfiles++ > 0)
			buf_add_char(&cr->files, ',');
		buf_add_str(&cr->files, "{\"type\":\"image\","
		    "\"transfer_method\":\"remote_url\",\"url\":");
		buf_add_json_cstring(&cr->files, url);
		buf_add_char(&cr->files, '}');
	}
	return (0);
}

/* Append the files of the run: remote images, then uploaded ones. */
static void
chat_request_add_files(const struct chat_request *cr, struct buf *out)
{
	size_t	i, n = cr->nfiles;

	for (i = 0; i < cr->nimages; i++)
		n += cr->images[i].file_id[0] != '\0';
	if (n == 0)
		return;
	buf_add_str(out, ",\"files\":[");
	buf_add(out, cr->files.data, cr->files.len);
	n = cr->nfiles;
	for (i = 0; i < cr->nimages; i++) {
		if (cr->images[i].file_id[0] == '\0')
			continue;
		if (n++ > 0)
			buf_add_char(out, ',');
		buf_add_str(out, "{\"type\":\"image\",\"transfer_method\":"
		    "\"local_file\",\"upload_file_id\":");
		buf_add_json_cstring(out, cr->images[i].file_id);
		buf_add_char(out, '}');
	}
	buf_add_char(out, ']');
}

/* Read the OpenAI user: a string, an Open WebUI user object, or a number. */
static int
chat_request_user(struct chat_request *cr, json_t *user, struct api_error *err)
{
	const char	*s = NULL;
	size_t		 len = 0;
	json_t		*id;

	if (json_is_string(user)) {
		s = json_string_value(user);
		len = json_string_length(user);
	} else if (json_is_object(user) &&
	    json_is_string(id = json_object_get(user, "id"))) {
		s = json_string_value(id);
		len = json_string_length(id);
	} else if (json_is_integer(user)) {
		snprintf(cr->user, sizeof(cr->user), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(user));
		return (0);
	}
	if (s == NULL || len == 0)
		return (0);
	if (len > CHAT_REQUEST_MAX_USER || memchr(s, '\0', len) != NULL) {
		api_error_set(err, 400, "invalid_request_error",
		    "invalid_value", "user",
		    "Invalid 'user': at most %d bytes without NUL characters "
		    "are accepted.", CHAT_REQUEST_MAX_USER);
		return (-1);
	}
	memcpy(cr->user, s, len);
	cr->user[len] = '\0';
	return (0);
}

/* Check the messages array and find the turn structure. */
static int
chat_request_messages(struct chat_request *cr, json_t *messages,
    struct api_error *err)
{
	char		 param[64];
	json_t		*msg, *role;
	enum chat_role	 r;
	size_t		 i;
	int		 has_text, found_user = 0, user_text = 0;

	if (messages == NULL) {
		api_error_set(err, 400, "invalid_request_error",
		    "missing_required_parameter", "messages",
		    "Missing required parameter: 'messages'.");
		return (-1);
	}
	if (!json_is_array(messages))
		return (chat_request_bad_type(err, "messages", "an array",
		    messages));
	if (json_array_size(messages) == 0) {
		api_error_set(err, 400, "invalid_request_error", "empty_array",
		    "messages", "Invalid 'messages': empty array. Expected an "
		    "array with minimum length 1, but got an empty array "
		    "instead.");
		return (-1);
	}
	json_array_foreach(messages, i, msg) {
		if (!json_is_object(msg)) {
			snprintf(param, sizeof(param), "messages[%zu]", i);
			return (chat_request_bad_type(err, param, "an object",
			    msg));
		}
		role = json_object_get(msg, "role");
		r = role != NULL && json_is_string(role) ?
		    chat_request_role(json_string_value(role)) :
		    CHAT_ROLE_INVALID;
		if (r == CHAT_ROLE_INVALID)
			snprintf(param, sizeof(param), "messages[%zu].role", i);
		if (role == NULL) {
			api_error_set(err, 400, "invalid_request_error",
			    "missing_required_parameter", param,
			    "Missing required parameter: '%s'.", param);
			return (-1);
		}
		if (!json_is_string(role))
			return (chat_request_bad_type(err, param, "a string",
			    role));
		if (r == CHAT_ROLE_INVALID) {
			api_error_set(err, 400, "invalid_request_error",
			    "invalid_value", param,
			    "Invalid value for '%s'. Supported values are: "
			    "'system', 'developer', 'user', 'assistant', "
			    "'tool', and 'function'.", param);
			return (-1);
		}
		if (chat_request_check_content(json_object_get(msg, "content"),
		    i, err, &has_text) != 0)
			return (-1);
		if (r == CHAT_ROLE_USER) {
			found_user = 1;
			cr->last_user = i;
			user_text |= has_text;
		}
	}
	if (!found_user || !user_text) {
		api_error_set(err, 400, "invalid_request_error",
		    "invalid_value", "messages",
		    found_user ? "No user message in 'messages' has text." :
		    "'messages' must contain a user message.");
		return (-1);
	}
	cr->nmessages = json_array_size(messages);
	cr->first_turn = cr->nmessages == 1;
	return (0);
}

/*
 * Parse and validate a request body.  On success returns 0 and cr holds
 * the request (free with chat_request_free); on failure returns -1 with
 * err set to the 400 to send, and cr needs no freeing.
 */
int
chat_request_parse(struct chat_request *cr, const char *body, size_t len,
    struct api_error *err)
{
	json_t		*root, *v, *opts, *messages;
	struct json_reader_error	 jerr;

	memset(cr, 0, sizeof(*cr));
	buf_init(&cr->files);
	cr->body_len = len;
	if (len == 0) {
		api_error_set(err, 400, "invalid_request_error", "invalid_json",
		    NULL, "The request body is empty; a JSON object is "
		    "expected.");
		return (-1);
	}
	root = json_reader_parse(body, len, &jerr);
	if (root == NULL) {
		api_error_set(err, 400, "invalid_request_error", "invalid_json",
		    NULL, "We could not parse the JSON body of your request: "
		    "%s (line %d, column %d).", jerr.text, jerr.line,
		    jerr.column);
		return (-1);
	}
	cr->root = root;
	if (!json_is_object(root)) {
		chat_request_bad_type(err, "body", "an object", root);
		goto fail;
	}

	v = json_object_get(root, "model");
	if (v == NULL || json_is_null(v) ||
	    (json_is_string(v) && json_string_length(v) == 0)) {
		cr->model = CHAT_REQUEST_DEFAULT_MODEL;
		cr->modellen = strlen(cr->model);
	} else if (json_is_string(v)) {
		cr->model = json_string_value(v);
		cr->modellen = json_string_length(v);
	} else {
		chat_request_bad_type(err, "model", "a string", v);
		goto fail;
	}

	v = json_object_get(root, "stream");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v)) {
		chat_request_bad_type(err, "stream", "a boolean", v);
		goto fail;
	}
	cr->stream = json_is_true(v);
	opts = json_object_get(root, "stream_options");
	if (json_is_object(opts))
		cr->include_usage = json_is_true(json_object_get(opts,
		    "include_usage"));

	if (chat_request_user(cr, json_object_get(root, "user"), err) != 0)
		goto fail;

	v = json_object_get(root, "inputs");
	if (v != NULL && !json_is_null(v) && !json_is_object(v)) {
		chat_request_bad_type(err, "inputs", "an object", v);
		goto fail;
	}

	v = json_object_get(root, "conversation_id");
	if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
		chat_request_bad_type(err, "conversation_id", "a string", v);
		goto fail;
	}
	if (json_is_string(v) && json_string_length(v) > 0 &&
	    chat_request_name_conversation(cr, json_string_value(v),
	    json_string_length(v), "conversation_id", err) != 0)
		goto fail;

	messages = json_object_get(root, "messages");
	if (chat_request_messages(cr, messages, err) != 0)
		goto fail;
	if (chat_request_collect_files(cr, json_object_get(json_array_get(
	    messages, cr->last_user), "content"), cr->last_user, err) != 0)
		goto fail;
	return (0);

fail:
	chat_request_free(cr);
	return (-1);
}

/* Release the parsed request. */
void
chat_request_free(struct chat_request *cr)
{
	size_t	i;

	json_decref((json_t *)cr->root);
	buf_free(&cr->files);
	buf_free(&cr->tools_prompt);
	for (i = 0; i < cr->nimages; i++)
		dify_upload_image_free(&cr->images[i]);
	free(cr->images);
	memset(cr, 0, sizeof(*cr));
}

/* Label of a role in the transcript. */
static const char *
chat_request_label(enum chat_role r)
{
	switch (r) {
	case CHAT_ROLE_SYSTEM:
		return ("System");
	case CHAT_ROLE_USER:
		return ("User");
	case CHAT_ROLE_ASSISTANT:
		return ("Assistant");
	default:
		return ("Tool");
	}
}

/* Append an assistant message's tool calls as readable lines. */
static void
chat_request_tool_calls(json_t *msg, struct buf *out)
{
	json_t		*calls, *call, *fn, *name, *args;
	size_t		 i;

	calls = json_object_get(msg, "tool_calls");
	if (!json_is_array(calls))
		return;
	json_array_foreach(calls, i, call) {
		fn = json_object_get(call, "function");
		name = json_object_get(fn, "name");
		args = json_object_get(fn, "arguments");
		if (!json_is_string(name))
			continue;
		if (out->len > 0)
			buf_add_char(out, '\n');
		buf_add_str(out, "[called tool ");
		buf_add(out, json_string_value(name), json_string_length(name));
		buf_add_char(out, '(');
		if (json_is_string(args))
			buf_add(out, json_string_value(args),
			    json_string_length(args));
		buf_add_str(out, ")]");
	}
}

/* Append one transcript entry: "Role: text" and a blank line between. */
static void
chat_request_entry(json_t *msg, enum chat_role r, int tools, struct buf *out)
{
	json_t	*id;
	size_t	 start;

	if (out->len > 0)
		buf_add_str(out, "\n\n");
	buf_add_str(out, chat_request_label(r));
	if (r == CHAT_ROLE_TOOL && json_is_string(id = json_object_get(msg,
	    "tool_call_id"))) {
		buf_add_str(out, " (");
		buf_add(out, json_string_value(id), json_string_length(id));
		buf_add_char(out, ')');
	}
	buf_add_str(out, ": ");
	start = out->len;
	chat_request_text(json_object_get(msg, "content"), 1, out);
	if (r == CHAT_ROLE_ASSISTANT) {
		struct buf	calls = BUF_INIT;

		/* With prompt tools, calls are written as the app makes them. */
		if (tools)
			tool_call_render(json_object_get(msg, "tool_calls"),
			    &calls);
		else
			chat_request_tool_calls(msg, &calls);
		if (calls.len > 0) {
			if (out->len > start)
				buf_add_char(out, '\n');
			buf_add(out, calls.data, calls.len);
		}
		buf_free(&calls);
	}
}

/*
 * Append the Dify query: the last user message's text when this is a first
 * turn or Dify holds the conversation (continuing), else the transcript.
 */
void
chat_request_query(const struct chat_request *cr, int continuing,
    struct buf *out)
{
	json_t		*messages, *msg;
	enum chat_role	 r;
	size_t		 i;
	int		 pass, tools = cr->tools_prompt.len > 0;

	messages = json_object_get((json_t *)cr->root, "messages");
	if ((cr->first_turn || continuing) && !tools) {
		msg = json_array_get(messages, cr->last_user);
		chat_request_text(json_object_get(msg, "content"), 0, out);
		return;
	}
	/* The tools first, then system prompts, then the turns in order. */
	if (tools) {
		buf_add_str(out, "System: ");
		buf_add(out, cr->tools_prompt.data, cr->tools_prompt.len);
	}
	for (pass = 0; pass < 2; pass++) {
		json_array_foreach(messages, i, msg) {
			r = chat_request_role(json_string_value(
			    json_object_get(msg, "role")));
			if ((r == CHAT_ROLE_SYSTEM) != (pass == 0))
				continue;
			chat_request_entry(msg, r, tools, out);
		}
	}
}

/*
 * Append the JSON body for POST /chat-messages.  user is the Dify user to
 * act as; conversation_id continues a Dify conversation (NULL for a new
 * one).  The response is always streamed: Dify refuses blocking mode for
 * agent apps and Dify Cloud cuts blocking calls at about 100 s.
 */
void
chat_request_dify_body(const struct chat_request *cr, const char *user,
    const char *conversation_id, int auto_generate_name, struct buf *out)
{
	json_t	*inputs;

	buf_add_str(out, "{\"inputs\":");
	inputs = json_object_get((json_t *)cr->root, "inputs");
	if (!json_is_object(inputs) ||
	    json_text_append(inputs, JSON_COMPACT, out) != 0)
		buf_add_str(out, "{}");
	buf_add_str(out, ",\"query\":\"");
	{
		struct buf	q = BUF_INIT;

		/*
		 * The query is the request's text, not much more than its
		 * body (labels in, JSON syntax out): room for it up front
		 * spares a long context its doublings, which past the buffer
		 * pool's largest class are reallocs copying it each time.
		 */
		buf_reserve(&q, cr->body_len + 256);
		chat_request_query(cr, conversation_id != NULL, &q);
		buf_add_json_escaped(out, q.data ? q.data : "", q.len);
		buf_free(&q);
	}
	buf_add_str(out, "\",\"response_mode\":\"streaming\",\"user\":");
	buf_add_json_cstring(out, user);
	buf_add_str(out, ",\"auto_generate_name\":");
	buf_add_str(out, auto_generate_name ? "true" : "false");
	if (conversation_id != NULL) {
		buf_add_str(out, ",\"conversation_id\":");
		buf_add_json_cstring(out, conversation_id);
	}
	chat_request_add_files(cr, out);
	buf_add_char(out, '}');
}

/* Append the request's inputs as a JSON object, without the key skip. */
static void
chat_request_inputs_without(const struct chat_request *cr, const char *skip,
    struct buf *out)
{
	json_t	*inputs, *copy;

	inputs = json_object_get((json_t *)cr->root, "inputs");
	copy = json_is_object(inputs) ? json_copy(inputs) : json_object();
	if (skip != NULL)
		json_object_del(copy, skip);
	if (json_text_append(copy, JSON_COMPACT, out) != 0)
		buf_add_str(out, "{}");
	json_decref(copy);
}

/*
 * Append the JSON body for a run without a conversation (completion and
 * workflow apps): the request's inputs with the whole conversation as
 * the text input text_var, a top-level "query" as well when with_query
 * (older completion apps read it), the user and the files.  Streamed, as
 * every call to Dify is.
 */
void
chat_request_dify_run_body(const struct chat_request *cr, const char *user,
    const char *text_var, int with_query, struct buf *out)
{
	struct buf	q = BUF_INIT;

	buf_reserve(&q, cr->body_len + 256);
	chat_request_query(cr, 0, &q);
	buf_add_str(out, "{\"inputs\":");
	chat_request_inputs_without(cr, text_var, out);
	/* Reopen the object for the text input. */
	out->len--;
	if (out->len > 0 && out->data[out->len - 1] != '{')
		buf_add_char(out, ',');
	buf_add_json_cstring(out, text_var);
	buf_add_str(out, ":\"");
	buf_add_json_escaped(out, q.data ? q.data : "", q.len);
	buf_add_str(out, "\"}");
	if (with_query) {
		buf_add_str(out, ",\"query\":\"");
		buf_add_json_escaped(out, q.data ? q.data : "", q.len);
		buf_add_char(out, '"');
	}
	buf_free(&q);
	buf_add_str(out, ",\"response_mode\":\"streaming\",\"user\":");
	buf_add_json_cstring(out, user);
	chat_request_add_files(cr, out);
	buf_add_char(out, '}');
}

/*
 * Set fixed inputs (a JSON object's text, from the apps config) over the
 * request's own: the operator's values win.  Returns 0, or -1 if the text
 * is not a JSON object (config loading checks it first).
 */
int
chat_request_fix_inputs(struct chat_request *cr, const char *json)
{
	json_t	*fixed, *inputs;

	if ((fixed = json_loads(json, 0, NULL)) == NULL ||
	    !json_is_object(fixed)) {
		json_decref(fixed);
		return (-1);
	}
	inputs = json_object_get((json_t *)cr->root, "inputs");
	if (!json_is_object(inputs)) {
		json_object_set_new((json_t *)cr->root, "inputs", fixed);
		return (0);
	}
	json_object_update(inputs, fixed);
	json_decref(fixed);
	return (0);
}

/*
 * Offer the request's tools to the app in prompt mode (tool_call.c):
 * the query then starts with their description, and the names the
 * answer may call go to names (NUL-separated).  Returns how many tools
 * are offered; 0 when the request has none or tool_choice is "none".
 */
int
chat_request_prompt_tools(struct chat_request *cr, struct buf *names)
{
	json_t	*root = cr->root;

	buf_reset(&cr->tools_prompt);
	return (tool_call_preamble(json_object_get(root, "tools"),
	    json_object_get(root, "tool_choice"), &cr->tools_prompt, names));
}

/*
 * Name the Dify conversation to continue (the body's conversation_id or
 * the X-Dify-Conversation-Id header, which param names).  Returns 0, or
 * -1 with a 400 in err for an id no Dify could have made.
 */
int
chat_request_name_conversation(struct chat_request *cr, const char *id,
    size_t len, const char *param, struct api_error *err)
{
	if (!conversation_id_ok(id, len)) {
		api_error_set(err, 400, "invalid_request_error", "invalid_value",
		    param, "Invalid '%s': a Dify conversation id (a UUID) is "
		    "expected.", param);
		return (-1);
	}
	memcpy(cr->conversation_id, id, len);
	cr->conversation_id[len] = '\0';
	return (0);
}
