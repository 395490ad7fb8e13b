/*
 * dify_app_completion: text generator apps on POST /completion-messages.
 *
 * A completion app has no conversation: the whole chat (the transcript,
 * or the one user message of a first turn) goes into the app's text
 * input, whose name the exchange found in the app's form (GET
 * /parameters) or the apps config gave.  Without one it is "query", sent
 * both as inputs.query and as the legacy top-level query.  The events are
 * the chat app's (message, message_replace, message_end), without a
 * conversation id, so the chat kind's translation serves them.
 */
#include "chat_request.h"
#include "dify_app.h"

/* The body of POST /completion-messages. */
static void
dify_app_completion_body(const struct dify_app_call *c, struct buf *out)
{
	chat_request_dify_run_body(c->cr, c->user,
	    c->input_var != NULL ? c->input_var : "query",
	    c->input_var == NULL, out);
}

const struct dify_app dify_app_completion = {
	DIFY_APP_COMPLETION,
	"completion",
	"/completion-messages",
	"/completion-messages/",
	dify_app_completion_body,
	dify_app_chat_event,
	dify_app_chat_blocking,
};
