/*
 * relay: the translation state machine of one exchange, without I/O.
 *
 * The glue (exchange.c) tells the relay what happened upstream: Dify's
 * status, body bytes in whatever pieces they arrived, how the body ended,
 * and timer ticks.  After each call the relay says what the client gets:
 * status and whether headers may go (headers_ready), body bytes (out, which
 * the glue drains), whether that was the last of them (complete), and
 * whether Dify is still needed (upstream_done).
 *
 * States and transitions (all through relay_set_state):
 *
 *   AWAIT_RESPONSE --200 SSE--> AWAIT_EVENT --data event--> STREAMING
 *   AWAIT_RESPONSE --200 JSON--> JSON_BODY --end--> DONE | FAILED
 *   AWAIT_RESPONSE --4xx/5xx--> ERROR_BODY --end--> FAILED
 *   AWAIT_RESPONSE --transport failure--> FAILED
 *   STREAMING --the kind's end event--> DONE
 *   STREAMING --the first of two end events (chatflow)-->
 *       FINISHING --the other one, EOF or grace timer--> DONE
 *   AWAIT_EVENT, STREAMING --error event, failed workflow, EOF or
 *       timeout before the end event--> FAILED
 *
 * What the events mean depends on the kind of Dify app (dify_app.h): the
 * relay handles what every kind shares (ids, error events, the stream's
 * start and end) and hands every other event to the kind's table, which
 * calls back relay_content, relay_finish and relay_finishing.
 * Streaming clients get their 200 and SSE headers at Dify's first data
 * event, so an error that Dify reports as its first event (Dify >= 1.13
 * reports validation failures that way) still gets its own HTTP status.
 * The keepalive tick commits the stream earlier if Dify is slow to start.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay.h"
#include "util.h"

/* Limit on an error or blocking body kept for parsing. */
#define RELAY_MAX_ERROR_BODY	(64 * 1024)

static const char *relay_state_names[] = {
	[RELAY_AWAIT_RESPONSE] = "await_response",
	[RELAY_AWAIT_EVENT] = "await_event",
	[RELAY_STREAMING] = "streaming",
	[RELAY_FINISHING] = "finishing",
	[RELAY_ERROR_BODY] = "error_body",
	[RELAY_JSON_BODY] = "json_body",
	[RELAY_DONE] = "done",
	[RELAY_FAILED] = "failed",
};

/* Name of a state, for logs. */
const char *
relay_state_name(enum relay_state s)
{
	return (relay_state_names[s]);
}

/* Move to a new state; terminal states also release Dify. */
static void
relay_set_state(struct relay *r, enum relay_state s)
{
	r->state = s;
	if (s == RELAY_DONE || s == RELAY_FAILED) {
		r->upstream_done = 1;
		r->complete = 1;
		r->headers_ready = 1;
	}
}

/* Set up a relay for one exchange. */
void
relay_init(struct relay *r, const struct relay_params *p)
{
	memset(r, 0, sizeof(*r));
	r->state = RELAY_AWAIT_RESPONSE;
	r->app = p->app != NULL ? p->app : &dify_app_chat;
	r->app_state.output_var = p->output_var;
	r->file_origin = p->file_origin;
	r->split_think = p->split_think;
	think_init(&r->think);
	if (!r->split_think)
		r->think.state = THINK_PASS;
	r->tool_names = p->tool_names;
	r->tool_names_len = p->tool_names_len;
	tool_gate_init(&r->gate);
	if (r->tool_names_len == 0)
		r->gate.state = TOOL_GATE_PASS;
	r->stream = p->stream;
	r->include_usage = p->include_usage;
	r->max_answer = p->max_answer;
	r->finish_reason = "stop";
	buf_init(&r->out);
	buf_init(&r->answer);
	r->tap = p->tap;
	r->tap_arg = p->tap_arg;
	buf_init(&r->reasoning);
	buf_init(&r->body);
	sse_parser_init(&r->sse, p->max_event);
	openai_format_init(&r->fmt, p->id, p->created, p->model, p->modellen,
	    p->include_usage);
	if (p->name_conversation)
		r->fmt.conversation_id = r->conversation_id;
}

/*
 * Give a relay that has seen nothing of Dify yet the kind of app whose
 * events it will read (the exchange learns it after relay_init).
 */
void
relay_set_app(struct relay *r, const struct dify_app *app)
{
	if (r->state == RELAY_AWAIT_RESPONSE)
		r->app = app;
}

/* Release everything the relay holds. */
void
relay_free(struct relay *r)
{
	buf_free(&r->out);
	buf_free(&r->answer);
	buf_free(&r->reasoning);
	buf_free(&r->body);
	tool_gate_free(&r->gate);
	sse_parser_free(&r->sse);
	dify_event_clear(&r->ev);
	openai_format_free(&r->fmt);
	free(r->error);
	r->error = NULL;
}

/* True once the response is complete, successfully or not. */
static int
relay_finished(const struct relay *r)
{
	return (r->state == RELAY_DONE || r->state == RELAY_FAILED);
}

/* Send the stream's status, headers and role chunk, once. */
static void
relay_commit_stream(struct relay *r)
{
	if (r->headers_ready)
		return;
	r->status = 200;
	r->event_stream = 1;
	r->headers_ready = 1;
	if (r->tool_names_len > 0)
		openai_format_role_chunk_null(&r->fmt, &r->out);
	else
		openai_format_role_chunk(&r->fmt, &r->out);
}

/*
 * End the response with an error: an in-stream error frame once the stream
 * has started, else the error as the HTTP response.  The error frame is the
 * last thing sent; no [DONE] follows, so no client takes the cut answer
 * for a complete one.
 */
void
relay_fail(struct relay *r, const struct api_error *e)
{
	if (relay_finished(r))
		return;
	/* Made only for a failed response: 840 bytes every stream need not hold. */
	r->error = xmalloc(sizeof(*r->error));
	*r->error = *e;
	if (r->stream && r->headers_ready)
		openai_format_error_frame(e, &r->out);
	else {
		buf_reset(&r->out);
		r->status = e->status;
		r->event_stream = 0;
		r->retry_after = e->retry_after;
		api_error_json(e, &r->out);
	}
	relay_set_state(r, RELAY_FAILED);
}

/* Fail with one of the upstream failure kinds. */
void
relay_fail_upstream(struct relay *r, enum api_error_upstream what,
    const char *detail)
{
	struct api_error	e;

	api_error_upstream(&e, what, detail);
	relay_fail(r, &e);
}

static void	relay_think_emit(void *, enum think_part, const char *,
		    size_t);
static void	relay_content_out(struct relay *, const char *, size_t);

/* A stream's last chunks: the finish reason, usage if asked, [DONE]. */
static void
relay_stream_end(struct relay *r, const char *finish_reason)
{
	openai_format_finish_chunk(&r->fmt, &r->out, finish_reason);
	if (r->include_usage)
		openai_format_usage_chunk(&r->fmt, &r->out, &r->usage);
	openai_format_done(&r->out);
}

/*
 * The answer ended while the tool gate held it: if it is well-formed
 * calls, end the response with them (0); else let the held text go out
 * as content and the response end as usual (-1).
 */
static int
relay_tool_calls(struct relay *r)
{
	struct tool_calls	calls;
	size_t			i;

	if (r->gate.state != TOOL_GATE_CAPTURING ||
	    tool_call_parse(r->gate.text.data, r->gate.text.len,
	    r->tool_names, r->tool_names_len, &calls) != 0) {
		r->gate.state = TOOL_GATE_PASS;
		relay_content_out(r, r->gate.text.data, r->gate.text.len);
		buf_free(&r->gate.text);
		return (-1);
	}
	r->gate.state = TOOL_GATE_PASS;
	buf_free(&r->gate.text);
	r->content_events++;
	if (r->stream) {
		relay_commit_stream(r);
		for (i = 0; i < calls.n; i++)
			openai_format_tool_call_chunk(&r->fmt, &r->out, i,
			    &calls.v[i]);
		relay_stream_end(r, "tool_calls");
	} else {
		r->status = 200;
		r->event_stream = 0;
		openai_format_completion_calls(&r->fmt, &r->out,
		    r->reasoning.len > 0 ? r->reasoning.data : NULL,
		    r->reasoning.len, &calls, &r->usage);
		buf_free(&r->answer);
		buf_free(&r->reasoning);
	}
	tool_calls_free(&calls);
	r->finish_reason = "tool_calls";
	relay_set_state(r, RELAY_DONE);
	return (0);
}

/* End the response successfully. */
void
relay_finish(struct relay *r)
{
	if (relay_finished(r))
		return;
	/* Bytes held as a possible tag are text after all. */
	if (r->split_think)
		think_end(&r->think, relay_think_emit, r);
	if (r->gate.state != TOOL_GATE_PASS && !relay_finished(r) &&
	    relay_tool_calls(r) == 0)
		return;
	if (relay_finished(r))
		return;		/* the answer outgrew max_answer */
	if (r->stream) {
		relay_commit_stream(r);
		relay_stream_end(r, r->finish_reason);
	} else {
		r->status = 200;
		r->event_stream = 0;
		openai_format_completion_reasoning(&r->fmt, &r->out,
		    r->answer.data ? r->answer.data : "", r->answer.len,
		    r->reasoning.len > 0 ? r->reasoning.data : NULL,
		    r->reasoning.len, r->finish_reason, &r->usage);
		buf_free(&r->answer);
		buf_free(&r->reasoning);
	}
	relay_set_state(r, RELAY_DONE);
}

/* Hold text for a non-stream answer, failing when it grows too large. */
static int
relay_hold(struct relay *r, struct buf *b, const char *text, size_t len)
{
	if (r->answer.len + r->reasoning.len + len > r->max_answer) {
		relay_fail_upstream(r, API_ERROR_UPSTREAM_PROTOCOL,
		    "the answer is larger than the proxy holds for a "
		    "non-streaming response; use stream=true");
		return (-1);
	}
	buf_add(b, text, len);
	return (0);
}

static void	relay_content_out(struct relay *, const char *, size_t);

/*
 * Deliver text of the answer proper.  With prompt tools, the answer's
 * first bytes decide: one that may be a call is held by the gate
 * (tool_call.c) until it is known not to be one, or to its end.
 */
static void
relay_content_text(struct relay *r, const char *text, size_t len)
{
	size_t	n;

	if (len == 0 || relay_finished(r))
		return;
	if (r->gate.state != TOOL_GATE_PASS) {
		if (r->gate.text.len + len > r->max_answer) {
			relay_fail_upstream(r, API_ERROR_UPSTREAM_PROTOCOL,
			    "the answer is larger than the proxy holds");
			return;
		}
		n = tool_gate_feed(&r->gate, text, len);
		if (r->gate.state == TOOL_GATE_PASS) {
			relay_content_out(r, r->gate.text.data, n);
			buf_free(&r->gate.text);
		}
		return;
	}
	relay_content_out(r, text, len);
}

/* Send or hold text of the answer. */
static void
relay_content_out(struct relay *r, const char *text, size_t len)
{
	if (len == 0 || relay_finished(r))
		return;
	r->content_events++;
	r->content_bytes += len;
	if (r->tap != NULL)
		r->tap(r->tap_arg, text, len);
	if (r->stream) {
		relay_commit_stream(r);
		openai_format_content_chunk(&r->fmt, &r->out, text, len);
	} else
		relay_hold(r, &r->answer, text, len);
}

/*
 * Deliver reasoning (agent thoughts, a <think> block): reasoning_content
 * chunks for streams, message.reasoning_content otherwise.  The answer in
 * content stays exactly the answer.
 */
void
relay_reasoning(struct relay *r, const char *text, size_t len)
{
	if (len == 0 || relay_finished(r))
		return;
	r->reasoning_bytes += len;
	if (r->stream) {
		relay_commit_stream(r);
		openai_format_reasoning_chunk(&r->fmt, &r->out, text, len);
	} else
		relay_hold(r, &r->reasoning, text, len);
}

/* think_emit_fn: the splitter's pieces to content or reasoning. */
static void
relay_think_emit(void *arg, enum think_part part, const char *text,
    size_t len)
{
	if (part == THINK_REASONING)
		relay_reasoning(arg, text, len);
	else
		relay_content_text(arg, text, len);
}

/*
 * Deliver answer text: a chunk for streams, the running answer otherwise.
 * With split_think a <think> block at the answer's start goes out as
 * reasoning instead (think.c).
 */
void
relay_content(struct relay *r, const char *text, size_t len)
{
	if (len == 0)
		return;
	/* Past the answer's first bytes, both are settled: one test. */
	if ((r->think.state | r->gate.state) == 0)
		relay_content_out(r, text, len);
	else if (r->split_think && r->think.state != THINK_PASS)
		think_feed(&r->think, text, len, relay_think_emit, r);
	else
		relay_content_text(r, text, len);
}

/*
 * Deliver content that is not the model's text (a file link): it is
 * neither a think block nor a call, and leaves the answer's start, where
 * those are looked for, to the text that follows.
 */
void
relay_content_plain(struct relay *r, const char *text, size_t len)
{
	relay_content_out(r, text, len);
}

/*
 * Output moderation replaced the answer (message_replace, text_replace).
 * A non-streaming answer is replaced, reasoning included; a stream has
 * already shown the old text, so the replacement follows it.  Either way
 * the replacement is final and the answer ends with content_filter.
 */
void
relay_replace(struct relay *r, const struct dify_str *text)
{
	/* What the splitter held goes where it belonged, as it would have. */
	if (r->split_think)
		think_end(&r->think, relay_think_emit, r);
	if (!r->stream) {
		buf_reset(&r->answer);
		buf_reset(&r->reasoning);
		if (r->tap != NULL)
			r->tap(r->tap_arg, NULL, 0);
	}
	/* The replacement is plain text, never a think block or a call. */
	r->think.state = THINK_PASS;
	r->think.nheld = 0;
	r->gate.state = TOOL_GATE_PASS;
	buf_free(&r->gate.text);
	if (text->s != NULL)
		relay_content_out(r, text->s, text->len);
	r->finish_reason = "content_filter";
	r->frozen = 1;
}

/* Keep a copy of an identifier Dify sent, the first time it is seen. */
static void
relay_keep_id(char *dst, size_t size, const struct dify_str *s)
{
	if (dst[0] != '\0' || s->s == NULL || s->len == 0 || s->len >= size)
		return;
	if (!util_token_is_printable(s->s, s->len))
		return;
	memcpy(dst, s->s, s->len);
	dst[s->len] = '\0';
}

/* Keep the task and conversation ids an event names. */
void
relay_keep_ids(struct relay *r, const struct dify_event *ev)
{
	relay_keep_id(r->task_id, sizeof(r->task_id), &ev->task_id);
	relay_keep_id(r->conversation_id, sizeof(r->conversation_id),
	    &ev->conversation_id);
}

/*
 * The answer is whole but an end event may still come (chatflow sends
 * two): wait for it, for EOF or for the grace timer.
 */
void
relay_finishing(struct relay *r)
{
	if (!relay_finished(r))
		relay_set_state(r, RELAY_FINISHING);
}

/*
 * Handle one Dify event.  Returns non-zero when the response is finished,
 * which tells the SSE parser to ignore whatever follows.
 */
static int
relay_event(struct relay *r, const char *data, size_t len)
{
	struct dify_event	*ev = &r->ev;
	struct api_error	 e;

	if (len == 0)
		return (0);
	if (dify_event_parse(ev, data, len) != 0) {
		relay_fail_upstream(r, API_ERROR_UPSTREAM_PROTOCOL,
		    "an event was not a JSON object");
		return (1);
	}
	relay_keep_ids(r, ev);

	if (ev->type == DIFY_EVENT_ERROR) {
		api_error_from_dify(&e, ev->status, ev->code.s, ev->code.len,
		    ev->message.s, ev->message.len);
		relay_fail(r, &e);
		return (1);
	}
	if (r->state == RELAY_AWAIT_EVENT) {
		relay_set_state(r, RELAY_STREAMING);
		if (r->stream)
			relay_commit_stream(r);
	}
	if (ev->type == DIFY_EVENT_WORKFLOW_PAUSED) {
		api_error_set(&e, 502, "server_error", "workflow_paused", NULL,
		    "the Dify app paused for human input, which the Chat "
		    "Completions API cannot express");
		relay_fail(r, &e);
		return (1);
	}
	r->app->event(r, ev);
	return (relay_finished(r));
}

/* sse_event_fn adapter. */
static int
relay_sse_event(void *arg, const char *event UNUSED, size_t eventlen UNUSED,
    const char *data, size_t len)
{
	return (relay_event(arg, data, len));
}

/*
 * Dify's status line and headers arrived.  retry_after is Dify's
 * Retry-After header or NULL.
 */
void
relay_response(struct relay *r, int status, const char *content_type,
    const char *retry_after)
{
	uint64_t	secs;

	if (r->state != RELAY_AWAIT_RESPONSE)
		return;
	r->upstream_status = status;
	if (status >= 200 && status < 300) {
		if (content_type != NULL &&
		    strncasecmp(content_type, "application/json", 16) == 0)
			relay_set_state(r, RELAY_JSON_BODY);
		else
			relay_set_state(r, RELAY_AWAIT_EVENT);
		return;
	}
	relay_set_state(r, RELAY_ERROR_BODY);
	if (retry_after != NULL &&
	    util_parse_uint(retry_after, strlen(retry_after), 3600,
	    &secs) == 0 && secs > 0)
		r->retry_after = (int)secs;
}

/* Bytes of Dify's response body arrived. */
void
relay_data(struct relay *r, const char *data, size_t len)
{
	size_t	room;

	switch (r->state) {
	case RELAY_AWAIT_EVENT:
	case RELAY_STREAMING:
	case RELAY_FINISHING:
		/*
		 * A stream's chunks take about as many bytes as Dify's events:
		 * room for them up front spares the output buffer its growth
		 * (and copies) on the way.
		 */
		if (r->stream)
			buf_reserve(&r->out, len + 512);
		if (sse_parser_feed(&r->sse, data, len, relay_sse_event, r) ==
		    SSE_TOO_LARGE)
			relay_fail_upstream(r, API_ERROR_UPSTREAM_PROTOCOL,
			    "an event was larger than the proxy accepts");
		/* Between reads a stream keeps no event buffer. */
		dify_event_done(&r->ev);
		break;
	case RELAY_ERROR_BODY:
		room = RELAY_MAX_ERROR_BODY - r->body.len;
		buf_add(&r->body, data, len < room ? len : room);
		break;
	case RELAY_JSON_BODY:
		if (r->body.len + len > r->max_answer + RELAY_MAX_ERROR_BODY) {
			relay_fail_upstream(r, API_ERROR_UPSTREAM_PROTOCOL,
			    "the response body was too large");
			break;
		}
		buf_add(&r->body, data, len);
		break;
	default:
		break;
	}
}

/*
 * Dify's response ended: how says whether the body was complete as HTTP
 * (EOF) or the transport failed; detail may describe the failure.
 */
void
relay_end(struct relay *r, enum relay_end how, const char *detail)
{
	static const enum api_error_upstream kinds[] = {
		[RELAY_END_EOF] = API_ERROR_UPSTREAM_INCOMPLETE,
		[RELAY_END_UNREACHABLE] = API_ERROR_UPSTREAM_UNREACHABLE,
		[RELAY_END_DNS] = API_ERROR_UPSTREAM_DNS,
		[RELAY_END_TLS] = API_ERROR_UPSTREAM_TLS,
		[RELAY_END_TIMEOUT] = API_ERROR_UPSTREAM_TIMEOUT,
		[RELAY_END_BROKEN] = API_ERROR_UPSTREAM_INCOMPLETE,
		[RELAY_END_NO_DESCRIPTORS] = API_ERROR_UPSTREAM_NO_DESCRIPTORS,
	};
	struct api_error	e;

	switch (r->state) {
	case RELAY_DONE:
	case RELAY_FAILED:
		return;
	case RELAY_ERROR_BODY:
		api_error_from_dify_body(&e, r->upstream_status,
		    r->body.data ? r->body.data : "", r->body.len);
		if (r->retry_after > 0)
			e.retry_after = r->retry_after;
		relay_fail(r, &e);
		return;
	case RELAY_JSON_BODY:
		if (how == RELAY_END_EOF)
			r->app->blocking(r, r->body.data ? r->body.data : "",
			    r->body.len);
		else
			relay_fail_upstream(r, kinds[how], detail);
		return;
	case RELAY_FINISHING:
		/* Both end events are not needed: the answer is whole. */
		relay_finish(r);
		return;
	case RELAY_AWAIT_RESPONSE:
		if (how == RELAY_END_EOF)
			how = RELAY_END_BROKEN;
		relay_fail_upstream(r, kinds[how], detail);
		return;
	case RELAY_AWAIT_EVENT:
	case RELAY_STREAMING:
		if (r->frozen && how == RELAY_END_EOF) {
			/* The replacement was the whole answer. */
			relay_finish(r);
			return;
		}
		relay_fail_upstream(r, kinds[how], detail);
		return;
	}
}

/*
 * Nothing has been sent to the client for the keepalive interval.  A
 * stream that Dify has accepted is committed (headers and role chunk); a
 * committed stream gets an empty content chunk, which every client reads
 * as nothing (an SSE comment would end continue.dev's stream).
 */
void
relay_keepalive(struct relay *r)
{
	if (!r->stream || relay_finished(r))
		return;
	if (!r->headers_ready) {
		if (r->state == RELAY_AWAIT_EVENT)
			relay_commit_stream(r);
		return;
	}
	openai_format_content_chunk(&r->fmt, &r->out, "", 0);
}

/* Chatflow's second end event did not come in time: finish anyway. */
void
relay_grace_expired(struct relay *r)
{
	if (r->state == RELAY_FINISHING)
		relay_finish(r);
}
