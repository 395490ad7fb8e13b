/*
 * dify_app_workflow: workflow apps on POST /workflows/run.
 *
 * The conversation goes into the workflow's text input (its first
 * paragraph input, or the one the apps config names).  The answer:
 *   - streams as text_chunk events as the workflow produces it;
 *   - if nothing streamed, neither content nor reasoning (a workflow
 *     whose End node is not fed by a streaming node), or the apps config
 *     names an output, the answer is
 *     that output of workflow_finished, chosen by
 *     dify_app_workflow_output: the named one, else text, answer,
 *     output or result, else the single string output, else all the
 *     outputs as JSON text;
 *   - a failed or stopped run is an error (dify_app_workflow_failed);
 *   - usage is data.total_tokens, the one count a workflow reports.
 * text_replace (output moderation) is handled as message_replace is for
 * chat apps.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_text.h"
#include "chat_request.h"
#include "dify_app.h"
#include "dify_event.h"
#include "relay.h"
#include "util.h"

/* Output names taken as the answer, in this order. */
static const char *dify_app_workflow_answer_names[] = {
	"text", "answer", "output", "result"
};

/* Append a value: a string's text, anything else as JSON text. */
static void
dify_app_workflow_value(json_t *v, struct buf *out)
{
	if (json_is_string(v))
		buf_add(out, json_string_value(v), json_string_length(v));
	else
		json_text_append(v, JSON_INDENT(2) | JSON_ENCODE_ANY, out);
}

/*
 * Append the answer a workflow's outputs (the JSON text of
 * workflow_finished's data.outputs) give: the output named name (NULL
 * for none) if present and not null, else the first of text, answer, output and
 * result that is a string, else the only string output, else the
 * outputs as JSON text.  Empty or absent outputs give nothing.
 */
void
dify_app_workflow_output(const char *json, size_t len, const char *name,
    struct buf *out)
{
	json_t		*outputs, *v, *only = NULL;
	const char	*key;
	size_t		 i, nstrings = 0;

	if (json == NULL || (outputs = json_loadb(json, len,
	    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)) == NULL)
		return;
	if (!json_is_object(outputs)) {
		if (!json_is_null(outputs))
			dify_app_workflow_value(outputs, out);
		json_decref(outputs);
		return;
	}
	if (name != NULL && (v = json_object_get(outputs, name)) != NULL &&
	    !json_is_null(v)) {
		dify_app_workflow_value(v, out);
		goto done;
	}
	for (i = 0; i < nitems(dify_app_workflow_answer_names); i++) {
		v = json_object_get(outputs, dify_app_workflow_answer_names[i]);
		if (json_is_string(v)) {
			dify_app_workflow_value(v, out);
			goto done;
		}
	}
	json_object_foreach(outputs, key, v) {
		if (json_is_string(v)) {
			only = v;
			nstrings++;
		}
	}
	if (nstrings == 1)
		dify_app_workflow_value(only, out);
	else if (json_object_size(outputs) > 0)
		dify_app_workflow_value(outputs, out);
done:
	json_decref(outputs);
}

/* The body of POST /workflows/run. */
static void
dify_app_workflow_body(const struct dify_app_call *c, struct buf *out)
{
	chat_request_dify_run_body(c->cr, c->user,
	    c->input_var != NULL ? c->input_var : "query", 0, out);
}

/* The run finished well: answer from its outputs if nothing streamed. */
static void
dify_app_workflow_done(struct relay *r, const struct dify_event *ev)
{
	const char	*name = r->app_state.output_var;
	struct buf	 answer = BUF_INIT;

	/*
	 * After output moderation, the replacement is the whole answer; a
	 * stream that was all reasoning (a think block) streamed too.
	 */
	if (!r->frozen && (name != NULL || (r->content_events == 0 &&
	    r->reasoning_bytes == 0))) {
		dify_app_workflow_output(ev->wf_outputs.s, ev->wf_outputs.len,
		    name, &answer);
		if (answer.len > 0)
			relay_content(r, answer.data, answer.len);
		buf_free(&answer);
	}
	if (ev->usage.present)
		r->usage = ev->usage;
	relay_finish(r);
}

/* Translate one event of a workflow stream. */
static void
dify_app_workflow_event(struct relay *r, const struct dify_event *ev)
{
	switch (ev->type) {
	case DIFY_EVENT_TEXT_CHUNK:
		/* A named output is the answer: the stream is not. */
		if (r->app_state.output_var == NULL && ev->answer.s != NULL &&
		    !r->frozen)
			relay_content(r, ev->answer.s, ev->answer.len);
		break;
	case DIFY_EVENT_TEXT_REPLACE:
		relay_replace(r, &ev->answer);
		break;
	case DIFY_EVENT_WORKFLOW_FINISHED:
		if (!dify_app_workflow_failed(r, ev))
			dify_app_workflow_done(r, ev);
		break;
	default:
		/* workflow_started, node and iteration events: not text. */
		break;
	}
}

/*
 * A blocking body (dify-api.md §4.3): {"task_id", "data": {"status",
 * "outputs", "error", "total_tokens"}}, read into an event so that it
 * ends as a streamed run does.
 */
static void
dify_app_workflow_blocking(struct relay *r, const char *json, size_t len)
{
	struct dify_event	 ev;
	json_t			*root, *data, *v;
	struct buf		 outputs = BUF_INIT;

	memset(&ev, 0, sizeof(ev));
	if ((root = json_loadb(json, len, JSON_ALLOW_NUL, NULL)) == NULL ||
	    !json_is_object(data = json_object_get(root, "data"))) {
		json_decref(root);
		relay_fail_upstream(r, API_ERROR_UPSTREAM_PROTOCOL,
		    "the answer was not Dify's JSON");
		return;
	}
	ev.type = DIFY_EVENT_WORKFLOW_FINISHED;
	if (json_is_string(v = json_object_get(root, "task_id"))) {
		ev.task_id.s = json_string_value(v);
		ev.task_id.len = json_string_length(v);
	}
	if (json_is_string(v = json_object_get(data, "status"))) {
		ev.wf_status.s = json_string_value(v);
		ev.wf_status.len = json_string_length(v);
	}
	if (json_is_string(v = json_object_get(data, "error"))) {
		ev.wf_error.s = json_string_value(v);
		ev.wf_error.len = json_string_length(v);
	}
	if (json_is_integer(v = json_object_get(data, "total_tokens")) &&
	    json_integer_value(v) >= 0) {
		ev.usage.present = 1;
		ev.usage.total_tokens = (uint64_t)json_integer_value(v);
	}
	if ((v = json_object_get(data, "outputs")) != NULL &&
	    json_text_append(v, JSON_COMPACT | JSON_ENCODE_ANY,
	    &outputs) == 0) {
		ev.wf_outputs.s = buf_cstr(&outputs);
		ev.wf_outputs.len = outputs.len;
	}
	relay_keep_ids(r, &ev);
	if (!dify_app_workflow_failed(r, &ev))
		dify_app_workflow_done(r, &ev);
	buf_free(&outputs);
	json_decref(root);
}

const struct dify_app dify_app_workflow = {
	DIFY_APP_WORKFLOW,
	"workflow",
	"/workflows/run",
	"/workflows/tasks/",
	dify_app_workflow_body,
	dify_app_workflow_event,
	dify_app_workflow_blocking,
};
