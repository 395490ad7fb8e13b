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
};

/* The kind that serves a mode (the chat kind for UNKNOWN). */
const struct dify_app *
dify_app_for_mode(enum dify_app_mode mode)
{
	switch (mode) {
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
