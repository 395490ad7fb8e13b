/*
 * dify_app: the table of Dify app kinds and what they share.
 *
 * Dify serves its apps on three generation endpoints, each with its own
 * body and events (dify-api.md §1.3): chat-family apps (chat, agent-chat,
 * agent and advanced-chat, which is chatflow) on /chat-messages, text
 * generators on /completion-messages and workflows on /workflows/run.
 * Each kind is one file (dify_app_<kind>.c) that fills a struct dify_app;
 * the exchange asks the kind for paths and the body, the relay hands it
 * the events.  Nothing outside these files names an endpoint.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api_error.h"
#include "dify_app.h"
#include "dify_event.h"
#include "relay.h"
#include "util.h"

/* Dify's mode strings (GET /info "mode") and the kind serving each. */
static const struct {
	const char		*name;
	enum dify_app_mode	 mode;
} dify_app_modes[] = {
	{ "chat", DIFY_APP_CHAT },
	{ "agent-chat", DIFY_APP_CHAT },
	{ "agent", DIFY_APP_CHAT },
	{ "advanced-chat", DIFY_APP_CHAT },
	{ "completion", DIFY_APP_COMPLETION },
	{ "workflow", DIFY_APP_WORKFLOW },
};

/* The kind that serves a mode (the chat kind for UNKNOWN). */
const struct dify_app *
dify_app_for_mode(enum dify_app_mode mode)
{
	switch (mode) {
	case DIFY_APP_COMPLETION:
		return (&dify_app_completion);
	case DIFY_APP_WORKFLOW:
		return (&dify_app_workflow);
	default:
		return (&dify_app_chat);
	}
}

/* The mode a Dify mode string names; UNKNOWN for one we do not serve. */
enum dify_app_mode
dify_app_mode_parse(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < nitems(dify_app_modes); i++) {
		if (strlen(dify_app_modes[i].name) == len &&
		    memcmp(dify_app_modes[i].name, s, len) == 0)
			return (dify_app_modes[i].mode);
	}
	return (DIFY_APP_UNKNOWN);
}

/* Name of a mode, for logs and config. */
const char *
dify_app_mode_name(enum dify_app_mode mode)
{
	switch (mode) {
	case DIFY_APP_CHAT:
		return ("chat");
	case DIFY_APP_COMPLETION:
		return ("completion");
	case DIFY_APP_WORKFLOW:
		return ("workflow");
	default:
		return ("unknown");
	}
}

/*
 * Write the stop path for a task into out.  The id goes into the URL, so
 * only what a UUID is made of is accepted.  Returns 0, or -1 for an id
 * that cannot be sent.
 */
int
dify_app_stop_path(const struct dify_app *app, const char *task_id,
    char *out, size_t size)
{
	const char	*p;
	int		 n;

	if (*task_id == '\0')
		return (-1);
	for (p = task_id; *p != '\0'; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || *p == '-'))
			return (-1);
	}
	n = snprintf(out, size, "%s%s/stop", app->stop_prefix, task_id);
	return (n < 0 || (size_t)n >= size ? -1 : 0);
}

/* True if a workflow status means the run produced its answer. */
static int
dify_app_workflow_ok(const struct dify_str *status)
{
	if (status->s == NULL)
		return (1);
	return (dify_str_eq(status, "succeeded") ||
	    dify_str_eq(status, "partial-succeeded"));
}

/*
 * A workflow_finished event (chatflow or workflow): if the run did not
 * succeed, fail the relay with what Dify said and return 1; else 0.
 */
int
dify_app_workflow_failed(struct relay *r, const struct dify_event *ev)
{
	struct api_error	e;
	char			msg[512];

	if (dify_app_workflow_ok(&ev->wf_status))
		return (0);
	if (dify_str_eq(&ev->wf_status, "stopped"))
		api_error_set(&e, 502, "server_error", "workflow_stopped", NULL,
		    "the Dify workflow run was stopped");
	else {
		api_error_sanitize(ev->wf_error.s ? ev->wf_error.s : "",
		    ev->wf_error.len, 500, msg, sizeof(msg));
		if (msg[0] == '\0')
			api_error_sanitize(ev->wf_status.s, ev->wf_status.len,
			    500, msg, sizeof(msg));
		api_error_set(&e, 502, "server_error", "workflow_failed", NULL,
		    "Run failed: %s", msg);
	}
	relay_fail(r, &e);
	return (1);
}

/*
 * The first usable variable name (non-empty, no NUL, shorter than size)
 * of the form's items of type (NULL: a paragraph, else a text-input, as
 * each item has one), or NULL.  Each item is {"<type>": {"variable"}}.
 */
static const char *
dify_app_form_find(json_t *form, const char *type, size_t size)
{
	json_t	*item, *entry, *var;
	size_t	 i;

	json_array_foreach(form, i, item) {
		if (type != NULL)
			entry = json_object_get(item, type);
		else if ((entry = json_object_get(item, "paragraph")) == NULL)
			entry = json_object_get(item, "text-input");
		var = json_object_get(entry, "variable");
		if (json_is_string(var) && json_string_length(var) > 0 &&
		    json_string_length(var) < size &&
		    strlen(json_string_value(var)) == json_string_length(var))
			return (json_string_value(var));
	}
	return (NULL);
}

/*
 * Find the text input of an app's form (the JSON text of GET /parameters)
 * and copy its variable name to out: for a workflow the first paragraph,
 * else the first text-input; for a completion app the first paragraph or
 * text-input, whichever comes first.  Returns 0, or -1 if the form has
 * none (or is not Dify's shape, or the name does not fit).
 */
int
dify_app_form_text_input(const char *json, size_t len, enum dify_app_mode mode,
    char *out, size_t size)
{
	json_t		*root, *form;
	const char	*found;

	if ((root = json_loadb(json, len, 0, NULL)) == NULL)
		return (-1);
	form = json_object_get(root, "user_input_form");
	if (mode != DIFY_APP_WORKFLOW)
		found = dify_app_form_find(form, NULL, size);
	else if ((found = dify_app_form_find(form, "paragraph", size)) == NULL)
		found = dify_app_form_find(form, "text-input", size);
	if (found != NULL)
		memcpy(out, found, strlen(found) + 1);
	json_decref(root);
	return (found != NULL ? 0 : -1);
}

/*
 * Read GET /info's body: the app's name (a copy in *name, or NULL) and
 * its mode (UNKNOWN when absent, as on Dify before 1.0, or one the proxy
 * does not serve).  Returns 0, or -1 if the body is not a JSON object.
 */
int
dify_app_info_parse(const char *json, size_t len, char **name,
    enum dify_app_mode *mode)
{
	json_t	*root, *v;

	*name = NULL;
	*mode = DIFY_APP_UNKNOWN;
	if ((root = json_loadb(json, len, 0, NULL)) == NULL)
		return (-1);
	if (!json_is_object(root)) {
		json_decref(root);
		return (-1);
	}
	v = json_object_get(root, "name");
	if (json_is_string(v) && json_string_length(v) > 0 &&
	    strlen(json_string_value(v)) == json_string_length(v))
		*name = xstrdup(json_string_value(v));
	v = json_object_get(root, "mode");
	if (json_is_string(v))
		*mode = dify_app_mode_parse(json_string_value(v),
		    json_string_length(v));
	json_decref(root);
	return (0);
}

/*
 * When the mode was guessed (GET /info did not say) and Dify refused the
 * run as the wrong kind of app, the kind to try next: a chat call's 400
 * not_chat_app means completion or workflow, a completion call's 400
 * app_unavailable means workflow.  UNKNOWN for any other answer.
 */
enum dify_app_mode
dify_app_next_guess(enum dify_app_mode tried, int status, const char *body,
    size_t len)
{
	json_t			*root, *code;
	enum dify_app_mode	 next = DIFY_APP_UNKNOWN;

	if (status != 400 || (root = json_loadb(body, len, 0, NULL)) == NULL)
		return (DIFY_APP_UNKNOWN);
	code = json_object_get(root, "code");
	if (json_is_string(code)) {
		if (tried == DIFY_APP_CHAT &&
		    strcmp(json_string_value(code), "not_chat_app") == 0)
			next = DIFY_APP_COMPLETION;
		else if (tried == DIFY_APP_COMPLETION &&
		    strcmp(json_string_value(code), "app_unavailable") == 0)
			next = DIFY_APP_WORKFLOW;
	}
	json_decref(root);
	return (next);
}

/* Append a URL for a Markdown link, escaping what would end the link. */
static int
dify_app_link_url(const char *origin, const struct dify_str *url,
    struct buf *out)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 i;
	unsigned char		 c;

	if (url->len > 7 && (memcmp(url->s, "http://", 7) == 0 ||
	    (url->len > 8 && memcmp(url->s, "https://", 8) == 0)))
		;
	else if (url->len > 1 && url->s[0] == '/' && url->s[1] != '/' &&
	    origin != NULL)
		buf_add_str(out, origin);	/* Dify without FILES_URL */
	else
		return (-1);
	for (i = 0; i < url->len; i++) {
		c = (unsigned char)url->s[i];
		if (c < 0x20 || c == 0x7f)
			return (-1);
		if (c == ' ' || c == '(' || c == ')' || c == '<' || c == '>' ||
		    c == '[' || c == ']') {
			buf_add_char(out, '%');
			buf_add_char(out, hex[c >> 4]);
			buf_add_char(out, hex[c & 0xf]);
		} else
			buf_add_char(out, (char)c);
	}
	return (0);
}

/*
 * A file the app made (message_file belonging to the assistant: a tool's
 * chart, an image model's picture) becomes a Markdown link in the answer,
 * its own paragraph, so chat UIs show it: ![image](url) for images,
 * [file](url) otherwise.  A relative url (Dify without FILES_URL) is made
 * absolute with the app's Dify origin.  Files of the user, and urls that
 * are neither http(s) nor relative, are left out.
 */
void
dify_app_file_link(struct relay *r, const struct dify_event *ev)
{
	struct buf	link = BUF_INIT;
	int		image = dify_str_eq(&ev->file_type, "image");

	if (!dify_str_eq(&ev->belongs_to, "assistant") || ev->url.s == NULL)
		return;
	if (r->content_events > 0)
		buf_add_str(&link, "\n\n");
	buf_add_str(&link, image ? "![image](" : "[file](");
	if (dify_app_link_url(r->file_origin, &ev->url, &link) == 0) {
		buf_add_str(&link, ")\n\n");
		relay_content_plain(r, link.data, link.len);
	}
	buf_free(&link);
}

/*
 * True if Dify's error says the conversation named in the run is not
 * there (deleted, expired, another user's): a 404 "Conversation Not
 * Exists." before the run, or the same as a stream's error event from
 * Dify 1.13's workers.
 */
int
dify_app_conversation_gone(const struct api_error *e)
{
	return (strstr(e->message, "Conversation Not Exists") != NULL);
}
