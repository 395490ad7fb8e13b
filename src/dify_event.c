/*
 * dify_event: read one Dify stream event (the JSON of a data: line).
 *
 * The strings in a parsed event point into the JSON tree in ev->root and
 * live until dify_event_clear or the next dify_event_parse on the same
 * struct, which releases the tree.
 */
#include <string.h>

#include <jansson.h>

#include "dify_event.h"
#include "util.h"

static const struct {
	const char		*name;
	enum dify_event_type	 type;
} dify_event_names[] = {
	{ "message", DIFY_EVENT_MESSAGE },
	{ "agent_message", DIFY_EVENT_AGENT_MESSAGE },
	{ "message_file", DIFY_EVENT_MESSAGE_FILE },
	{ "message_replace", DIFY_EVENT_MESSAGE_REPLACE },
	{ "message_end", DIFY_EVENT_MESSAGE_END },
	{ "workflow_started", DIFY_EVENT_WORKFLOW_STARTED },
	{ "workflow_finished", DIFY_EVENT_WORKFLOW_FINISHED },
	{ "workflow_paused", DIFY_EVENT_WORKFLOW_PAUSED },
	{ "error", DIFY_EVENT_ERROR },
	{ "ping", DIFY_EVENT_OTHER },
	{ "agent_thought", DIFY_EVENT_OTHER },
	{ "agent_log", DIFY_EVENT_OTHER },
	{ "tts_message", DIFY_EVENT_OTHER },
	{ "tts_message_end", DIFY_EVENT_OTHER },
	{ "node_started", DIFY_EVENT_OTHER },
	{ "node_finished", DIFY_EVENT_OTHER },
	{ "node_retry", DIFY_EVENT_OTHER },
	{ "iteration_started", DIFY_EVENT_OTHER },
	{ "iteration_next", DIFY_EVENT_OTHER },
	{ "iteration_completed", DIFY_EVENT_OTHER },
	{ "loop_started", DIFY_EVENT_OTHER },
	{ "loop_next", DIFY_EVENT_OTHER },
	{ "loop_completed", DIFY_EVENT_OTHER },
	{ "text_chunk", DIFY_EVENT_OTHER },
	{ "text_replace", DIFY_EVENT_OTHER },
	{ "reasoning_chunk", DIFY_EVENT_OTHER },
	{ "human_input_required", DIFY_EVENT_OTHER },
	{ "human_input_form_filled", DIFY_EVENT_OTHER },
	{ "human_input_form_timeout", DIFY_EVENT_OTHER },
};

/* Point out at the string member key of obj, if it is a string. */
static void
dify_event_str(json_t *obj, const char *key, struct dify_str *out)
{
	json_t	*v = json_object_get(obj, key);

	if (json_is_string(v)) {
		out->s = json_string_value(v);
		out->len = json_string_length(v);
	}
}

/* Read a non-negative integer member; returns 0 if present. */
static int
dify_event_count(json_t *obj, const char *key, uint64_t *out)
{
	json_t	*v = json_object_get(obj, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return (0);
	}
	return (-1);
}

/* Read LLM usage counts from a metadata.usage object. */
static void
dify_event_usage(json_t *usage, struct dify_usage *u)
{
	int	have_prompt, have_completion, have_total;

	if (!json_is_object(usage))
		return;
	have_prompt = dify_event_count(usage, "prompt_tokens",
	    &u->prompt_tokens) == 0;
	have_completion = dify_event_count(usage, "completion_tokens",
	    &u->completion_tokens) == 0;
	have_total = dify_event_count(usage, "total_tokens",
	    &u->total_tokens) == 0;
	u->present = have_prompt || have_completion || have_total;
	u->split = have_prompt && have_completion;
	if (!have_total)
		u->total_tokens = u->prompt_tokens + u->completion_tokens;
}

/*
 * Parse len bytes of event JSON into ev (cleared first).  Returns 0, or -1
 * if the bytes are not a JSON object.  An object without a known "event"
 * parses as DIFY_EVENT_UNKNOWN.
 */
int
dify_event_parse(struct dify_event *ev, const char *json, size_t len)
{
	json_t	*root, *data, *metadata, *status;
	size_t	 i;

	dify_event_clear(ev);
	root = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
	if (root == NULL)
		return (-1);
	if (!json_is_object(root)) {
		json_decref(root);
		return (-1);
	}
	ev->root = root;

	dify_event_str(root, "event", &ev->name);
	if (ev->name.s != NULL) {
		for (i = 0; i < nitems(dify_event_names); i++) {
			if (strcmp(ev->name.s, dify_event_names[i].name) == 0) {
				ev->type = dify_event_names[i].type;
				break;
			}
		}
	}
	dify_event_str(root, "task_id", &ev->task_id);
	dify_event_str(root, "conversation_id", &ev->conversation_id);
	dify_event_str(root, "message_id", &ev->message_id);

	switch (ev->type) {
	case DIFY_EVENT_MESSAGE:
	case DIFY_EVENT_AGENT_MESSAGE:
	case DIFY_EVENT_MESSAGE_FILE:
	case DIFY_EVENT_MESSAGE_REPLACE:
		dify_event_str(root, "answer", &ev->answer);
		/* A blocking-mode body carries the usage as well. */
		metadata = json_object_get(root, "metadata");
		if (json_is_object(metadata))
			dify_event_usage(json_object_get(metadata, "usage"),
			    &ev->usage);
		break;
	case DIFY_EVENT_MESSAGE_END:
		metadata = json_object_get(root, "metadata");
		if (json_is_object(metadata))
			dify_event_usage(json_object_get(metadata, "usage"),
			    &ev->usage);
		break;
	case DIFY_EVENT_ERROR:
		dify_event_str(root, "code", &ev->code);
		dify_event_str(root, "message", &ev->message);
		status = json_object_get(root, "status");
		if (json_is_integer(status) && json_integer_value(status) > 0 &&
		    json_integer_value(status) < 1000)
			ev->status = (int)json_integer_value(status);
		break;
	case DIFY_EVENT_WORKFLOW_FINISHED:
	case DIFY_EVENT_WORKFLOW_PAUSED:
		data = json_object_get(root, "data");
		if (json_is_object(data)) {
			dify_event_str(data, "status", &ev->wf_status);
			dify_event_str(data, "error", &ev->wf_error);
			if (dify_event_count(data, "total_tokens",
			    &ev->usage.total_tokens) == 0)
				ev->usage.present = 1;
		}
		break;
	default:
		break;
	}
	return (0);
}

/* Release the event's JSON tree and clear every field. */
void
dify_event_clear(struct dify_event *ev)
{
	if (ev->root != NULL)
		json_decref((json_t *)ev->root);
	memset(ev, 0, sizeof(*ev));
}

/*
 * True if the event carries answer text: message and agent_message, and a
 * message_file with an "answer" (Dify >= 1.11.2 labels LLM text chunks
 * message_file once the message has a file; a real file event has url,
 * type and belongs_to instead).
 */
int
dify_event_is_text(const struct dify_event *ev)
{
	switch (ev->type) {
	case DIFY_EVENT_MESSAGE:
	case DIFY_EVENT_AGENT_MESSAGE:
	case DIFY_EVENT_MESSAGE_FILE:
		return (ev->answer.s != NULL);
	default:
		return (0);
	}
}
