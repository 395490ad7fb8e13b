/*
 * dify_app_chat: chat-family apps on POST /chat-messages.
 *
 * One kind serves Dify's chat, agent-chat, agent ("New Agent") and
 * advanced-chat (chatflow) modes: they share the endpoint, the body and
 * the message events, and differ only in what the stream tells apart as
 * it goes:
 *   - agent apps stream agent_message deltas; the New Agent then repeats
 *     the whole answer in one closing message, which is not new text;
 *   - chatflow runs as a workflow (workflow_started) and ends with both
 *     message_end and workflow_finished, in either order by Dify version
 *     (and 1.13.0 loses message_end): the first one leaves the relay
 *     FINISHING, the second, EOF or the grace timer ends it;
 *   - message_replace (output moderation) replaces a non-streaming answer
 *     and follows a streamed one, ending with content_filter;
 *   - a message_file the assistant made is a Markdown link in the answer
 *     (dify_app_file_link);
 *   - an agent's tool use (agent_thought: the thought, the tool and its
 *     input, then its observation) is reasoning, written for a person to
 *     read, never content.
 */
#include <string.h>

#include "chat_request.h"
#include "dify_app.h"
#include "dify_event.h"
#include "relay.h"

/* The body of POST /chat-messages. */
static void
dify_app_chat_body(const struct dify_app_call *c, struct buf *out)
{
	chat_request_dify_body(c->cr, c->user, c->conversation_id,
	    c->auto_generate_name, out);
}

/* The first of chatflow's two end events finishes later; both finish now. */
static void
dify_app_chat_end_event(struct relay *r)
{
	struct dify_app_state	*st = &r->app_state;

	if (!st->chatflow || (st->saw_message_end && st->saw_workflow_finished))
		relay_finish(r);
	else
		relay_finishing(r);
}

/* Longest tool input or observation shown in the reasoning. */
#define DIFY_APP_CHAT_MAX_SHOWN	4096

/* Append a field for a person to read, cut (on a UTF-8 boundary) if long. */
static void
dify_app_chat_field(struct buf *b, const char *label,
    const struct dify_str *v)
{
	size_t	len = v->len;

	if (len > DIFY_APP_CHAT_MAX_SHOWN) {
		len = DIFY_APP_CHAT_MAX_SHOWN;
		while (len > 0 && ((unsigned char)v->s[len] & 0xc0) == 0x80)
			len--;
	}
	buf_add_str(b, label);
	buf_add(b, v->s, len);
	if (len < v->len)
		buf_add_str(b, " [...]");
	buf_add_char(b, '\n');
}

/*
 * An agent_thought.  Dify sends each thought several times under one id
 * as it grows (empty, then with the tool call, then with the tool's
 * result; dify-api.md §3.4): each part goes out as reasoning once, when
 * it first appears.  A thought without a tool is the answer about to be
 * streamed as agent_message text, so it is not repeated.
 */
static void
dify_app_chat_thought(struct relay *r, const struct dify_event *ev)
{
	struct dify_app_state	*st = &r->app_state;
	struct buf		 b = BUF_INIT;

	if (ev->id.s != NULL && !(ev->id.len < sizeof(st->thought_id) &&
	    strlen(st->thought_id) == ev->id.len &&
	    memcmp(st->thought_id, ev->id.s, ev->id.len) == 0)) {
		/* A new thought (ids too long to keep compare unequal). */
		st->thought_id[0] = '\0';
		if (ev->id.len < sizeof(st->thought_id)) {
			memcpy(st->thought_id, ev->id.s, ev->id.len);
			st->thought_id[ev->id.len] = '\0';
		}
		st->tool_shown = st->observation_shown = 0;
	}
	if (!st->tool_shown && ev->tool.s != NULL && ev->tool.len > 0) {
		if (ev->thought.s != NULL && ev->thought.len > 0)
			dify_app_chat_field(&b, "Thought: ", &ev->thought);
		dify_app_chat_field(&b, "Tool: ", &ev->tool);
		if (ev->tool_input.s != NULL && ev->tool_input.len > 0)
			dify_app_chat_field(&b, "Input: ", &ev->tool_input);
		buf_add_char(&b, '\n');
		st->tool_shown = 1;
	}
	if (st->tool_shown && !st->observation_shown &&
	    ev->observation.s != NULL && ev->observation.len > 0) {
		dify_app_chat_field(&b, "Observation: ", &ev->observation);
		buf_add_char(&b, '\n');
		st->observation_shown = 1;
	}
	if (b.len > 0)
		relay_reasoning(r, b.data, b.len);
	buf_free(&b);
}

/* Translate one event of a chat-family stream (and a completion's). */
void
dify_app_chat_event(struct relay *r, const struct dify_event *ev)
{
	struct dify_app_state	*st = &r->app_state;

	switch (ev->type) {
	case DIFY_EVENT_WORKFLOW_STARTED:
		st->chatflow = 1;
		break;
	case DIFY_EVENT_AGENT_MESSAGE:
		st->agent_text = 1;
		/* FALLTHROUGH */
	case DIFY_EVENT_MESSAGE:
	case DIFY_EVENT_MESSAGE_FILE:
		/*
		 * Dify's New Agent (mode "agent") streams agent_message deltas
		 * and then one closing message repeating the whole answer:
		 * after agent text, message events are not new text.
		 */
		if ((ev->type == DIFY_EVENT_MESSAGE && st->agent_text) ||
		    r->frozen)
			break;
		/* Text (message_file too, when it carries an answer). */
		if (ev->answer.s != NULL)
			relay_content(r, ev->answer.s, ev->answer.len);
		else if (ev->type == DIFY_EVENT_MESSAGE_FILE)
			dify_app_file_link(r, ev);
		break;
	case DIFY_EVENT_MESSAGE_REPLACE:
		/*
		 * Output moderation replaced the answer.  A non-streaming
		 * answer is replaced; a stream has already shown the old
		 * text, so the replacement follows it and the stream ends
		 * with content_filter.
		 */
		relay_replace(r, &ev->answer);
		break;
	case DIFY_EVENT_MESSAGE_END:
		st->saw_message_end = 1;
		if (ev->usage.present)
			r->usage = ev->usage;
		dify_app_chat_end_event(r);
		break;
	case DIFY_EVENT_WORKFLOW_FINISHED:
		st->chatflow = 1;
		if (dify_app_workflow_failed(r, ev))
			break;
		st->saw_workflow_finished = 1;
		if (!r->usage.present && ev->usage.present)
			r->usage = ev->usage;
		dify_app_chat_end_event(r);
		break;
	case DIFY_EVENT_AGENT_THOUGHT:
		dify_app_chat_thought(r, ev);
		break;
	default:
		/* Nodes, TTS and unknown events: not text. */
		break;
	}
}

/*
 * A blocking JSON answer (200, application/json) arrived whole: the
 * message with its answer and usage (dify-api.md §4.1, §4.2).
 */
void
dify_app_chat_blocking(struct relay *r, const char *json, size_t len)
{
	struct dify_event	*ev = &r->ev;

	if (dify_event_parse(ev, json, len) != 0 || ev->answer.s == NULL) {
		relay_fail_upstream(r, API_ERROR_UPSTREAM_PROTOCOL,
		    "the answer was not Dify's JSON");
		return;
	}
	relay_keep_ids(r, ev);
	if (ev->usage.present)
		r->usage = ev->usage;
	relay_content(r, ev->answer.s, ev->answer.len);
	relay_finish(r);
}

const struct dify_app dify_app_chat = {
	DIFY_APP_CHAT,
	"chat",
	"/chat-messages",
	"/chat-messages/",
	dify_app_chat_body,
	dify_app_chat_event,
	dify_app_chat_blocking,
};
