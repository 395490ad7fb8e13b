/*
 * check_relay: the per-exchange state machine, driven the way the glue
 * drives it (status, body bytes in any pieces, end, timer ticks), with the
 * client bytes checked exactly.
 *
 * After every call the test appends r.out to its own buffer and empties
 * r.out, as exchange.c does.  Expected bytes are built here by hand from
 * OpenAI's chunk shape, not with openai_format.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "check_fixtures.h"
#include "check_suites.h"
#include "check_util.h"
#include "relay.h"

#define CHECK_RELAY_HEAD	"{\"id\":\"chatcmpl-abc\",\"object\":" \
				"\"chat.completion.chunk\",\"created\":" \
				"1700000000,\"model\":\"gpt-4o\""
#define CHECK_RELAY_CHOICE	",\"choices\":[{\"index\":0,\"delta\":"
#define CHECK_RELAY_SSE		"text/event-stream; charset=utf-8"
#define CHECK_RELAY_JSON	"application/json; charset=utf-8"
#define CHECK_RELAY_CHAT_TASK	"c3800678-a077-43df-a102-53f23ed20b88"

/* One exchange under test. */
struct check_relay_run {
	struct relay	r;
	struct buf	out;	/* every byte the client got */
	int		stream;
	int		include_usage;
};

/* Start an exchange with the example id, created and model. */
static void
check_relay_start_max(struct check_relay_run *t, int stream,
    int include_usage, size_t max_event, size_t max_answer)
{
	struct relay_params	p;

	memset(t, 0, sizeof(*t));
	memset(&p, 0, sizeof(p));
	p.id = "chatcmpl-abc";
	p.created = 1700000000;
	p.model = "gpt-4o";
	p.modellen = 6;
	p.stream = stream;
	p.include_usage = include_usage;
	p.max_event = max_event;
	p.max_answer = max_answer;
	t->stream = stream;
	t->include_usage = include_usage;
	buf_init(&t->out);
	relay_init(&t->r, &p);
}

/* Start an exchange with generous limits. */
static void
check_relay_start(struct check_relay_run *t, int stream, int include_usage)
{
	check_relay_start_max(t, stream, include_usage, 256 * 1024,
	    1024 * 1024);
}

/* Move what the relay produced to the client, as the glue does. */
static void
check_relay_drain(struct check_relay_run *t)
{
	buf_add(&t->out, t->r.out.data, t->r.out.len);
	buf_reset(&t->r.out);
}

/* Dify's status and headers. */
static void
check_relay_response(struct check_relay_run *t, int status, const char *ct,
    const char *retry_after)
{
	relay_response(&t->r, status, ct, retry_after);
	check_relay_drain(t);
}

/* Body bytes, as one piece. */
static void
check_relay_data(struct check_relay_run *t, const char *s)
{
	relay_data(&t->r, s, strlen(s));
	check_relay_drain(t);
}

/* Body bytes, len of them. */
static void
check_relay_datan(struct check_relay_run *t, const char *s, size_t len)
{
	relay_data(&t->r, s, len);
	check_relay_drain(t);
}

/* The end of Dify's response. */
static void
check_relay_end(struct check_relay_run *t, enum relay_end how,
    const char *detail)
{
	relay_end(&t->r, how, detail);
	check_relay_drain(t);
}

/* A keepalive tick. */
static void
check_relay_keepalive(struct check_relay_run *t)
{
	relay_keepalive(&t->r);
	check_relay_drain(t);
}

/* The chatflow grace timer. */
static void
check_relay_grace(struct check_relay_run *t)
{
	relay_grace_expired(&t->r);
	check_relay_drain(t);
}

/* Release an exchange. */
static void
check_relay_stop(struct check_relay_run *t)
{
	relay_free(&t->r);
	buf_free(&t->out);
}

/* Expected role chunk. */
static void
check_relay_want_role(struct buf *b, int usage)
{
	buf_add_str(b, "data: " CHECK_RELAY_HEAD CHECK_RELAY_CHOICE
	    "{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
	    "\"finish_reason\":null}]");
	buf_add_str(b, usage ? ",\"usage\":null}\n\n" : "}\n\n");
}

/* Expected content chunk; text is already JSON-escaped. */
static void
check_relay_want_content(struct buf *b, int usage, const char *text)
{
	buf_add_str(b, "data: " CHECK_RELAY_HEAD CHECK_RELAY_CHOICE
	    "{\"content\":\"");
	buf_add_str(b, text);
	buf_add_str(b, "\"},\"logprobs\":null,\"finish_reason\":null}]");
	buf_add_str(b, usage ? ",\"usage\":null}\n\n" : "}\n\n");
}

/* Expected finish chunk. */
static void
check_relay_want_finish(struct buf *b, int usage, const char *reason)
{
	buf_printf(b, "data: " CHECK_RELAY_HEAD CHECK_RELAY_CHOICE "{},"
	    "\"logprobs\":null,\"finish_reason\":\"%s\"}]", reason);
	buf_add_str(b, usage ? ",\"usage\":null}\n\n" : "}\n\n");
}

/* Expected usage chunk. */
static void
check_relay_want_usage(struct buf *b, unsigned p, unsigned c, unsigned t)
{
	buf_printf(b, "data: " CHECK_RELAY_HEAD ",\"choices\":[],\"usage\":"
	    "{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
	    "\"total_tokens\":%u}}\n\n", p, c, t);
}

/* Expected terminator. */
static void
check_relay_want_done(struct buf *b)
{
	buf_add_str(b, "data: [DONE]\n\n");
}

/* True if got holds exactly the NUL-terminated want. */
static int
check_relay_is(const struct buf *got, const char *want, char *msg,
    size_t size)
{
	struct buf	w = BUF_INIT;
	int		ok;

	buf_add_str(&w, want);
	ok = check_same_buf(got, &w, msg, size);
	buf_free(&w);
	return (ok);
}

/* What a stream's frames hold. */
struct check_relay_frames {
	int	 n;		/* frames */
	int	 chunks;	/* chat.completion.chunk frames */
	int	 done;		/* data: [DONE] frames */
	int	 errors;	/* {"error":...} frames */
	int	 last_is_error;
	int	 last_is_done;
	char	 error_code[64];	/* of the last error frame */
	char	 error_type[64];
	char	 error_message[640];
};

/*
 * Check that out is a sequence of "data: <one line>\n\n" frames, each
 * [DONE], an error object or a chunk with the example id, created and
 * model, and count them.
 */
static void
check_relay_frames(const struct buf *out, struct check_relay_frames *f)
{
	const char	*p = out->data, *end = out->data + out->len, *nl;
	json_t		*v, *e;
	json_error_t	 err;
	char		 show[1500];

	memset(f, 0, sizeof(*f));
	while (p < end) {
		check_show(p, (size_t)(end - p), show, sizeof(show));
		ck_assert_msg(end - p > 8 && memcmp(p, "data: ", 6) == 0,
		    "frame %d is not a data line: %s", f->n, show);
		nl = memchr(p, '\n', (size_t)(end - p));
		ck_assert_msg(nl != NULL && nl + 1 < end && nl[1] == '\n',
		    "frame %d does not end in a blank line: %s", f->n, show);
		ck_assert_msg(memchr(p, '\r', (size_t)(nl - p)) == NULL,
		    "CR in frame %d", f->n);
		f->n++;
		f->last_is_error = f->last_is_done = 0;
		if (nl - p == 12 && memcmp(p, "data: [DONE]", 12) == 0) {
			f->done++;
			f->last_is_done = 1;
			p = nl + 2;
			continue;
		}
		v = json_loadb(p + 6, (size_t)(nl - p - 6), 0, &err);
		ck_assert_msg(v != NULL, "frame %d is not JSON (%s): %s", f->n,
		    err.text, show);
		if ((e = json_object_get(v, "error")) != NULL) {
			ck_assert(json_is_object(e));
			ck_assert_uint_eq(json_object_size(v), 1);
			f->errors++;
			f->last_is_error = 1;
			snprintf(f->error_code, sizeof(f->error_code), "%s",
			    json_is_string(json_object_get(e, "code")) ?
			    json_string_value(json_object_get(e, "code")) :
			    "(null)");
			snprintf(f->error_type, sizeof(f->error_type), "%s",
			    json_string_value(json_object_get(e, "type")));
			snprintf(f->error_message, sizeof(f->error_message),
			    "%s", json_string_value(json_object_get(e,
			    "message")));
		} else {
			f->chunks++;
			ck_assert_str_eq(json_string_value(json_object_get(v,
			    "id")), "chatcmpl-abc");
			ck_assert_str_eq(json_string_value(json_object_get(v,
			    "object")), "chat.completion.chunk");
			ck_assert_int_eq(json_integer_value(json_object_get(v,
			    "created")), 1700000000);
			ck_assert_str_eq(json_string_value(json_object_get(v,
			    "model")), "gpt-4o");
			ck_assert(json_is_array(json_object_get(v, "choices")));
		}
		json_decref(v);
		p = nl + 2;
	}
}

/* Parse a non-stream body as JSON (the caller frees it). */
static json_t *
check_relay_json(const struct buf *out)
{
	json_t		*v;
	json_error_t	 err;
	char		 show[1500];

	check_show(out->data, out->len, show, sizeof(show));
	v = json_loadb(out->data, out->len, 0, &err);
	ck_assert_msg(v != NULL, "body is not JSON (%s): %s", err.text, show);
	return (v);
}

/* Code member of an error body, or "(null)". */
static const char *
check_relay_error_code(json_t *v)
{
	json_t	*c = json_object_get(json_object_get(v, "error"), "code");

	return (json_is_string(c) ? json_string_value(c) : "(null)");
}

/* Expected client bytes of the §3.5 chat stream. */
static void
check_relay_want_chat(struct buf *w, int usage)
{
	check_relay_want_role(w, usage);
	check_relay_want_content(w, usage, "Hello");
	check_relay_want_content(w, usage, "! How can I help?");
	check_relay_want_finish(w, usage, "stop");
	if (usage)
		check_relay_want_usage(w, 17, 9, 26);
	check_relay_want_done(w);
}

/* Expected non-stream body of the §3.5 chat stream. */
#define CHECK_RELAY_CHAT_COMPLETION \
	"{\"id\":\"chatcmpl-abc\",\"object\":\"chat.completion\"," \
	"\"created\":1700000000,\"model\":\"gpt-4o\",\"choices\":" \
	"[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":" \
	"\"Hello! How can I help?\",\"refusal\":null},\"logprobs\":null," \
	"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":17," \
	"\"completion_tokens\":9,\"total_tokens\":26}}"

/* A mid-stream error frame for the §3.5 error event. */
#define CHECK_RELAY_CHAT_ERROR_FRAME \
	"data: {\"error\":{\"message\":\"Incorrect API key provided\"," \
	"\"type\":\"invalid_request_error\",\"param\":null," \
	"\"code\":\"completion_request_error\"}}\n\n"

/* §3.5 chat stream, streamed: states and exact bytes. */
START_TEST(check_relay_chat_stream)
{
	struct check_relay_run		t;
	struct check_relay_frames	f;
	struct buf			w = BUF_INIT;
	char				msg[4096];

	check_relay_start(&t, 1, 0);
	ck_assert_int_eq(t.r.state, RELAY_AWAIT_RESPONSE);
	ck_assert_int_eq(t.r.headers_ready, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	ck_assert_int_eq(t.r.state, RELAY_AWAIT_EVENT);
	ck_assert_int_eq(t.r.headers_ready, 0);
	ck_assert_uint_eq(t.out.len, 0);

	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n");
	ck_assert_int_eq(t.r.headers_ready, 1);
	ck_assert_int_eq(t.r.status, 200);
	ck_assert_int_eq(t.r.event_stream, 1);
	ck_assert_int_eq(t.r.state, RELAY_STREAMING);
	ck_assert_int_eq(t.r.complete, 0);
	ck_assert_int_eq(t.r.upstream_done, 0);
	check_relay_want_role(&w, 0);
	check_relay_want_content(&w, 0, "Hello");
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);

	check_relay_data(&t, "data: " CHECK_FX_CHAT_2 "\n\nevent: ping\n\n");
	ck_assert_int_eq(t.r.complete, 0);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_3 "\n\n");
	ck_assert_int_eq(t.r.complete, 1);
	ck_assert_int_eq(t.r.upstream_done, 1);
	ck_assert_int_eq(t.r.state, RELAY_DONE);
	ck_assert_int_eq(t.r.status, 200);
	ck_assert_int_eq(t.r.event_stream, 1);
	ck_assert_str_eq(t.r.task_id, CHECK_RELAY_CHAT_TASK);

	buf_reset(&w);
	check_relay_want_chat(&w, 0);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_frames(&t.out, &f);
	ck_assert_int_eq(f.n, 5);
	ck_assert_int_eq(f.chunks, 4);
	ck_assert_int_eq(f.done, 1);
	ck_assert(f.last_is_done);
	ck_assert_int_eq(f.errors, 0);

	/* The end of the body changes nothing any more. */
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	ck_assert_int_eq(t.r.state, RELAY_DONE);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* §3.5 chat stream with include_usage: usage 17/9/26 before [DONE]. */
START_TEST(check_relay_chat_stream_usage)
{
	struct check_relay_run		t;
	struct check_relay_frames	f;
	struct buf			w = BUF_INIT;
	char				msg[4096];

	check_relay_start(&t, 1, 1);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, CHECK_FX_CHAT_STREAM);
	check_relay_want_chat(&w, 1);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_frames(&t.out, &f);
	ck_assert_int_eq(f.n, 6);
	ck_assert(f.last_is_done);
	ck_assert_int_eq(t.r.complete, 1);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* §3.5 chat stream, not streamed: nothing until message_end. */
START_TEST(check_relay_chat_nonstream)
{
	struct check_relay_run	t;
	char			msg[4096];

	check_relay_start(&t, 0, 1);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n");
	check_relay_data(&t, "data: " CHECK_FX_CHAT_2 "\n\nevent: ping\n\n");
	ck_assert_uint_eq(t.out.len, 0);
	ck_assert_int_eq(t.r.headers_ready, 0);
	ck_assert_int_eq(t.r.complete, 0);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_3 "\n\n");
	ck_assert_int_eq(t.r.complete, 1);
	ck_assert_int_eq(t.r.headers_ready, 1);
	ck_assert_int_eq(t.r.status, 200);
	ck_assert_int_eq(t.r.event_stream, 0);
	ck_assert_int_eq(t.r.upstream_done, 1);
	ck_assert_msg(check_relay_is(&t.out, CHECK_RELAY_CHAT_COMPLETION, msg,
	    sizeof(msg)), "%s", msg);
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_msg(check_relay_is(&t.out, CHECK_RELAY_CHAT_COMPLETION, msg,
	    sizeof(msg)), "%s", msg);
	check_relay_stop(&t);
}
END_TEST

/* Feed input to a fresh relay cut at the given positions; return output. */
static void
check_relay_feed_cut(int stream, int usage, const char *input, size_t len,
    const size_t *cuts, size_t ncuts, int end, struct buf *out)
{
	struct check_relay_run	t;
	size_t			i, start = 0, stop;

	check_relay_start(&t, stream, usage);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	for (i = 0; i <= ncuts; i++) {
		stop = i < ncuts ? cuts[i] : len;
		check_relay_datan(&t, input + start, stop - start);
		start = stop;
	}
	if (end)
		check_relay_end(&t, RELAY_END_EOF, NULL);
	buf_add(out, t.out.data, t.out.len);
	check_relay_stop(&t);
}

/*
 * Feed input whole, in two at every position and byte by byte, streamed
 * and not, with and without include_usage: the client bytes never change.
 */
static void
check_relay_every_split(const char *name, const char *input, int end)
{
	struct buf	 whole = BUF_INIT, got = BUF_INIT;
	size_t		 len = strlen(input), i, *cuts;
	int		 stream, usage;
	char		 msg[4096];

	cuts = calloc(len + 1, sizeof(*cuts));
	ck_assert_ptr_nonnull(cuts);
	for (stream = 0; stream <= 1; stream++) {
		for (usage = 0; usage <= 1; usage++) {
			buf_reset(&whole);
			check_relay_feed_cut(stream, usage, input, len, NULL, 0,
			    end, &whole);
			ck_assert_uint_gt(whole.len, 0);
			for (i = 1; i < len; i++) {
				buf_reset(&got);
				check_relay_feed_cut(stream, usage, input, len,
				    &i, 1, end, &got);
				ck_assert_msg(check_same_buf(&got, &whole,
				    msg, sizeof(msg)), "%s stream=%d usage=%d "
				    "split at %zu: %s", name, stream, usage, i,
				    msg);
			}
			for (i = 0; i + 1 < len; i++)
				cuts[i] = i + 1;
			buf_reset(&got);
			check_relay_feed_cut(stream, usage, input, len, cuts,
			    len - 1, end, &got);
			ck_assert_msg(check_same_buf(&got, &whole, msg,
			    sizeof(msg)), "%s stream=%d usage=%d byte by byte: "
			    "%s", name, stream, usage, msg);
		}
	}
	free(cuts);
	buf_free(&whole);
	buf_free(&got);
}

/* Text split across reads: every split of the chat stream is the same. */
START_TEST(check_relay_split_chat)
{
	struct buf	got = BUF_INIT, w = BUF_INIT;
	size_t		one = 100;
	char		msg[4096];

	/* The whole stream gives the expected bytes... */
	check_relay_feed_cut(1, 0, CHECK_FX_CHAT_STREAM,
	    strlen(CHECK_FX_CHAT_STREAM), &one, 1, 0, &got);
	check_relay_want_chat(&w, 0);
	ck_assert_msg(check_same_buf(&got, &w, msg, sizeof(msg)), "%s", msg);
	/* ...and so does every other way of cutting it. */
	check_relay_every_split("chat", CHECK_FX_CHAT_STREAM, 1);
	buf_free(&got);
	buf_free(&w);
}
END_TEST

/* Every split of the chatflow stream (multi-byte UTF-8) is the same. */
START_TEST(check_relay_split_chatflow)
{
	check_relay_every_split("chatflow", CHECK_FX_CF_STREAM, 1);
}
END_TEST

/* Every split of the agent stream, and of a CRLF stream, is the same. */
START_TEST(check_relay_split_agent_crlf)
{
	check_relay_every_split("agent", "data: " CHECK_FX_AGENT_1 "\n\n"
	    "data: " CHECK_FX_AGENT_2 "\n\n" "data: " CHECK_FX_AGENT_5 "\n\n"
	    "data: " CHECK_FX_AGENT_6 "\n\n" "data: " CHECK_FX_AGENT_END
	    "\n\n", 1);
	check_relay_every_split("crlf", "data: " CHECK_FX_CHAT_1 "\r\n\r\n"
	    "event: ping\r\n\r\n"
	    "data: {\"event\":\"message\",\"task_id\":\"T\",\"answer\":"
	    "\"\xe4\xbd\xa0\xe5\xa5\xbd\xf0\x9f\x99\x82\"}\r\n\r\n"
	    "data: " CHECK_FX_CHAT_3 "\r\n\r\n", 0);
}
END_TEST

/* Agent stream: only agent_message text is content. */
START_TEST(check_relay_agent_stream)
{
	struct check_relay_run	t;
	struct buf		w = BUF_INIT;
	char			msg[4096];
	int			usage;

	for (usage = 0; usage <= 1; usage++) {
		check_relay_start(&t, 1, usage);
		check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
		check_relay_data(&t, "data: " CHECK_FX_AGENT_1 "\n\n"
		    "data: " CHECK_FX_AGENT_2 "\n\n"
		    "data: " CHECK_FX_AGENT_3 "\n\n"
		    "data: " CHECK_FX_AGENT_4 "\n\n"
		    "data: " CHECK_FX_AGENT_5 "\n\n"
		    "data: " CHECK_FX_AGENT_6 "\n\n"
		    "data: " CHECK_FX_AGENT_END "\n\n");
		buf_reset(&w);
		check_relay_want_role(&w, usage);
		check_relay_want_content(&w, usage, "It is 10:00 UTC.");
		check_relay_want_finish(&w, usage, "stop");
		if (usage)
			check_relay_want_usage(&w, 50, 7, 57);
		check_relay_want_done(&w);
		ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)),
		    "usage=%d: %s", usage, msg);
		ck_assert_int_eq(t.r.state, RELAY_DONE);
		ck_assert_str_eq(t.r.task_id, "T");
		check_relay_stop(&t);
	}

	/* Not streamed: the answer is the agent_message text alone. */
	check_relay_start(&t, 0, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_AGENT_1 "\n\n"
	    "data: " CHECK_FX_AGENT_3 "\n\n" "data: " CHECK_FX_AGENT_5 "\n\n"
	    "data: " CHECK_FX_AGENT_6 "\n\n" "data: " CHECK_FX_AGENT_END
	    "\n\n");
	ck_assert_msg(check_relay_is(&t.out, "{\"id\":\"chatcmpl-abc\","
	    "\"object\":\"chat.completion\",\"created\":1700000000,\"model\":"
	    "\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":\"It is 10:00 UTC.\",\"refusal\":null},"
	    "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":"
	    "{\"prompt_tokens\":50,\"completion_tokens\":7,"
	    "\"total_tokens\":57}}",
	    msg, sizeof(msg)), "%s", msg);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/*
 * A "New Agent" (mode agent) stream, dify-api.md §1.3: agent_message
 * deltas, agent_thought, then one closing message carrying the full
 * answer, then message_end.  The client must get the answer once.
 */
#define CHECK_RELAY_NEW_AGENT \
	"data: {\"event\":\"agent_message\",\"conversation_id\":\"C\"," \
	"\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\"," \
	"\"id\":\"M\",\"answer\":\"It is \"}\n\n" \
	"data: {\"event\":\"agent_message\",\"conversation_id\":\"C\"," \
	"\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\"," \
	"\"id\":\"M\",\"answer\":\"10:00 UTC.\"}\n\n" \
	"data: " CHECK_FX_AGENT_6 "\n\n" \
	"data: {\"event\":\"message\",\"conversation_id\":\"C\"," \
	"\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\"," \
	"\"id\":\"M\",\"answer\":\"It is 10:00 UTC.\"," \
	"\"from_variable_selector\":null}\n\n" \
	"data: " CHECK_FX_AGENT_END "\n\n"

/* New Agent: the closing full-answer message does not repeat the text. */
START_TEST(check_relay_new_agent_once)
{
	struct check_relay_run	t;
	struct buf		w = BUF_INIT;
	char			msg[4096];

	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, CHECK_RELAY_NEW_AGENT);
	check_relay_want_role(&w, 0);
	check_relay_want_content(&w, 0, "It is ");
	check_relay_want_content(&w, 0, "10:00 UTC.");
	check_relay_want_finish(&w, 0, "stop");
	check_relay_want_done(&w);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_stop(&t);

	check_relay_start(&t, 0, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, CHECK_RELAY_NEW_AGENT);
	ck_assert_msg(check_relay_is(&t.out, "{\"id\":\"chatcmpl-abc\","
	    "\"object\":\"chat.completion\",\"created\":1700000000,\"model\":"
	    "\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":\"It is 10:00 UTC.\",\"refusal\":null},"
	    "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":"
	    "{\"prompt_tokens\":50,\"completion_tokens\":7,"
	    "\"total_tokens\":57}}",
	    msg, sizeof(msg)), "%s", msg);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/*
 * message_file with an answer is text; a real file of the assistant is a
 * Markdown link in the answer, one of the user's is left out.
 */
START_TEST(check_relay_message_file)
{
	struct check_relay_run	t;
	struct buf		w = BUF_INIT;
	char			msg[4096];

	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t,
	    "data: {\"event\":\"message_file\",\"conversation_id\":\"C\","
	    "\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\","
	    "\"id\":\"F1\",\"type\":\"image\",\"belongs_to\":\"assistant\","
	    "\"url\":\"https://upload.dify.ai/files/F1/file-preview?s=x\"}\n\n"
	    "data: {\"event\":\"message_file\",\"conversation_id\":\"C\","
	    "\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\","
	    "\"id\":\"M\",\"answer\":\"Here is \",\"from_variable_selector\":"
	    "null}\n\n"
	    "data: {\"event\":\"message\",\"conversation_id\":\"C\","
	    "\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\","
	    "\"id\":\"M\",\"answer\":\"the picture.\","
	    "\"from_variable_selector\":null}\n\n"
	    "data: {\"event\":\"message_file\",\"conversation_id\":\"C\","
	    "\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\","
	    "\"id\":\"F2\",\"type\":\"image\",\"belongs_to\":\"user\","
	    "\"url\":\"https://example.com/u.png\"}\n\n"
	    "data: {\"event\":\"message_end\",\"conversation_id\":\"C\","
	    "\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\","
	    "\"id\":\"M\",\"metadata\":{\"usage\":{\"prompt_tokens\":3,"
	    "\"completion_tokens\":4,\"total_tokens\":7}},\"files\":null}\n\n");
	check_relay_want_role(&w, 0);
	check_relay_want_content(&w, 0,
	    "![image](https://upload.dify.ai/files/F1/file-preview?s=x)\\n\\n");
	check_relay_want_content(&w, 0, "Here is ");
	check_relay_want_content(&w, 0, "the picture.");
	check_relay_want_finish(&w, 0, "stop");
	check_relay_want_done(&w);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* Expected client bytes of the chatflow stream. */
static void
check_relay_want_chatflow(struct buf *w, int usage)
{
	check_relay_want_role(w, usage);
	check_relay_want_content(w, usage, "Bonjour");
	check_relay_want_content(w, usage, " le monde \xf0\x9f\x99\x82");
	check_relay_want_finish(w, usage, "stop");
	if (usage)
		check_relay_want_usage(w, 120, 30, 150);
	check_relay_want_done(w);
}

/* Chatflow, ≥1.13.1 order: message_end, then workflow_finished. */
START_TEST(check_relay_chatflow_new_order)
{
	struct check_relay_run	t;
	struct buf		w = BUF_INIT;
	char			msg[4096];

	check_relay_start(&t, 1, 1);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "event: ping\n\n");
	ck_assert_int_eq(t.r.headers_ready, 0);
	ck_assert_uint_eq(t.out.len, 0);
	check_relay_data(&t, "data: " CHECK_FX_CF_STARTED "\n\n"
	    "data: " CHECK_FX_CF_NODE_STARTED "\n\n"
	    "data: " CHECK_FX_CF_MSG1 "\n\n" "data: " CHECK_FX_CF_MSG2 "\n\n"
	    "data: " CHECK_FX_CF_NODE_FINISHED "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_STREAMING);
	check_relay_data(&t, "data: " CHECK_FX_CF_END "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_FINISHING);
	ck_assert_int_eq(t.r.complete, 0);
	ck_assert_int_eq(t.r.upstream_done, 0);
	ck_assert_ptr_null(strstr(buf_cstr(&t.out), "finish_reason\":\"stop"));
	ck_assert_ptr_null(strstr(buf_cstr(&t.out), "[DONE]"));
	check_relay_data(&t, "data: " CHECK_FX_CF_WF_FINISHED "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_DONE);
	ck_assert_int_eq(t.r.complete, 1);
	ck_assert_int_eq(t.r.upstream_done, 1);
	check_relay_want_chatflow(&w, 1);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	ck_assert_str_eq(t.r.task_id, "T2");
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* Chatflow, ≤1.12 order: workflow_finished, then message_end. */
START_TEST(check_relay_chatflow_old_order)
{
	struct check_relay_run	t;
	struct buf		w = BUF_INIT;
	char			msg[4096];

	check_relay_start(&t, 1, 1);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CF_STARTED "\n\n"
	    "data: " CHECK_FX_CF_MSG1 "\n\n" "data: " CHECK_FX_CF_MSG2 "\n\n"
	    "data: " CHECK_FX_CF_WF_FINISHED "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_FINISHING);
	ck_assert_int_eq(t.r.complete, 0);
	ck_assert_ptr_null(strstr(buf_cstr(&t.out), "[DONE]"));
	check_relay_data(&t, "data: " CHECK_FX_CF_END "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_DONE);
	ck_assert_int_eq(t.r.complete, 1);
	/* message_end's split usage wins over the workflow's total. */
	check_relay_want_chatflow(&w, 1);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* Chatflow on 1.13.0: workflow_finished, then EOF with no message_end. */
START_TEST(check_relay_chatflow_1130)
{
	struct check_relay_run		t;
	struct check_relay_frames	f;
	struct buf			w = BUF_INIT;
	char				msg[4096];

	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "event: ping\n\n"
	    "data: " CHECK_FX_CF_STARTED "\n\n"
	    "data: " CHECK_FX_CF_MSG1 "\n\n" "data: " CHECK_FX_CF_MSG2 "\n\n"
	    "data: " CHECK_FX_CF_WF_FINISHED "\n\n");
	ck_assert_int_eq(t.r.complete, 0);
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.state, RELAY_DONE);
	ck_assert_int_eq(t.r.complete, 1);
	check_relay_want_chatflow(&w, 0);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_frames(&t.out, &f);
	ck_assert_int_eq(f.errors, 0);
	check_relay_stop(&t);

	/* Not streamed: the whole answer, with the workflow's total. */
	check_relay_start(&t, 0, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CF_STARTED "\n\n"
	    "data: " CHECK_FX_CF_MSG1 "\n\n" "data: " CHECK_FX_CF_MSG2 "\n\n"
	    "data: " CHECK_FX_CF_WF_FINISHED "\n\n");
	ck_assert_uint_eq(t.out.len, 0);
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.status, 200);
	ck_assert_msg(check_relay_is(&t.out, "{\"id\":\"chatcmpl-abc\","
	    "\"object\":\"chat.completion\",\"created\":1700000000,\"model\":"
	    "\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":\"Bonjour le monde \xf0\x9f\x99\x82\","
	    "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
	    "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,"
	    "\"total_tokens\":150}}", msg, sizeof(msg)), "%s", msg);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* FINISHING and the grace timer: finish without the second end event. */
START_TEST(check_relay_chatflow_grace)
{
	struct check_relay_run	t;
	struct buf		w = BUF_INIT;
	char			msg[4096];

	check_relay_start(&t, 1, 1);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	/* The timer means nothing outside FINISHING. */
	check_relay_grace(&t);
	ck_assert_int_eq(t.r.state, RELAY_AWAIT_EVENT);
	check_relay_data(&t, "data: " CHECK_FX_CF_STARTED "\n\n"
	    "data: " CHECK_FX_CF_MSG1 "\n\n");
	check_relay_grace(&t);
	ck_assert_int_eq(t.r.state, RELAY_STREAMING);
	ck_assert_int_eq(t.r.complete, 0);
	check_relay_data(&t, "data: " CHECK_FX_CF_MSG2 "\n\n"
	    "data: " CHECK_FX_CF_END "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_FINISHING);
	check_relay_grace(&t);
	ck_assert_int_eq(t.r.state, RELAY_DONE);
	ck_assert_int_eq(t.r.complete, 1);
	ck_assert_int_eq(t.r.upstream_done, 1);
	check_relay_want_chatflow(&w, 1);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	/* A late workflow_finished adds nothing. */
	check_relay_data(&t, "data: " CHECK_FX_CF_WF_FINISHED "\n\n");
	check_relay_grace(&t);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* A failed workflow ends the stream with an error frame, no [DONE]. */
START_TEST(check_relay_workflow_failed)
{
	struct check_relay_run		 t;
	struct check_relay_frames	 f;
	json_t				*v;

	check_relay_start(&t, 1, 1);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CF_STARTED "\n\n"
	    "data: " CHECK_FX_CF_MSG1 "\n\n"
	    "data: " CHECK_FX_CF_WF_FAILED "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.complete, 1);
	ck_assert_int_eq(t.r.upstream_done, 1);
	check_relay_frames(&t.out, &f);
	ck_assert_int_eq(f.errors, 1);
	ck_assert(f.last_is_error);
	ck_assert_int_eq(f.done, 0);
	ck_assert_str_eq(f.error_type, "server_error");
	ck_assert_ptr_nonnull(strstr(f.error_message, "Node LLM run failed"));
	ck_assert_ptr_null(strstr(buf_cstr(&t.out), "finish_reason\":\"stop"));
	/* Dify's trailing error event and EOF add nothing. */
	check_relay_data(&t, "data: {\"event\":\"error\",\"code\":"
	    "\"invalid_param\",\"status\":400,\"message\":\"Run failed: x\"}"
	    "\n\n");
	check_relay_end(&t, RELAY_END_EOF, NULL);
	check_relay_frames(&t.out, &f);
	ck_assert_int_eq(f.errors, 1);
	check_relay_stop(&t);

	/* Not streamed: an error response instead of an answer. */
	check_relay_start(&t, 0, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CF_STARTED "\n\n"
	    "data: " CHECK_FX_CF_MSG1 "\n\n"
	    "data: " CHECK_FX_CF_WF_FAILED "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.status, 502);
	ck_assert_int_eq(t.r.event_stream, 0);
	v = check_relay_json(&t.out);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v,
	    "error"), "type")), "server_error");
	json_decref(v);
	check_relay_stop(&t);
}
END_TEST

/* An error event after content: one error frame, last, no [DONE]. */
START_TEST(check_relay_error_mid_stream)
{
	struct check_relay_run		t;
	struct check_relay_frames	f;
	struct buf			w = BUF_INIT;
	char				msg[4096];

	check_relay_start(&t, 1, 1);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n"
	    CHECK_FX_CHAT_ERROR_STREAM);
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.complete, 1);
	ck_assert_int_eq(t.r.upstream_done, 1);
	ck_assert_int_eq(t.r.status, 200);
	ck_assert_int_eq(t.r.event_stream, 1);
	check_relay_want_role(&w, 1);
	check_relay_want_content(&w, 1, "Hello");
	buf_add_str(&w, CHECK_RELAY_CHAT_ERROR_FRAME);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_frames(&t.out, &f);
	ck_assert_int_eq(f.errors, 1);
	ck_assert(f.last_is_error);
	ck_assert_int_eq(f.done, 0);

	/* Whatever comes later adds nothing. */
	check_relay_data(&t, "data: " CHECK_FX_CHAT_2 "\n\n"
	    "data: " CHECK_FX_CHAT_3 "\n\n");
	check_relay_keepalive(&t);
	check_relay_grace(&t);
	check_relay_end(&t, RELAY_END_EOF, NULL);
	check_relay_end(&t, RELAY_END_TIMEOUT, NULL);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* The same error event in the middle of one piece of input. */
START_TEST(check_relay_error_then_more_in_one_piece)
{
	struct check_relay_run	t;
	struct buf		w = BUF_INIT;
	char			msg[4096];

	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n"
	    CHECK_FX_CHAT_ERROR_STREAM
	    "data: " CHECK_FX_CHAT_2 "\n\n" "data: " CHECK_FX_CHAT_3 "\n\n");
	check_relay_want_role(&w, 0);
	check_relay_want_content(&w, 0, "Hello");
	buf_add_str(&w, CHECK_RELAY_CHAT_ERROR_FRAME);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* The ≥1.13 no-code error as the first event: a 502 JSON response. */
START_TEST(check_relay_error_first_nocode)
{
	struct check_relay_run	t;
	char			msg[4096];
	int			stream;

	for (stream = 0; stream <= 1; stream++) {
		check_relay_start(&t, stream, 1);
		check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
		check_relay_data(&t, "event: ping\n\n");
		ck_assert_int_eq(t.r.headers_ready, 0);
		check_relay_data(&t, "data: {\"event\":\"error\",\"message\":"
		    "\"Conversation Not Exists.\",\"status\":500}\n\n");
		ck_assert_int_eq(t.r.state, RELAY_FAILED);
		ck_assert_int_eq(t.r.status, 502);
		ck_assert_int_eq(t.r.event_stream, 0);
		ck_assert_int_eq(t.r.headers_ready, 1);
		ck_assert_int_eq(t.r.complete, 1);
		ck_assert_int_eq(t.r.upstream_done, 1);
		ck_assert_msg(check_relay_is(&t.out, "{\"error\":{\"message\":"
		    "\"Dify reported an internal error: Conversation Not "
		    "Exists.\",\"type\":\"server_error\",\"param\":null,"
		    "\"code\":null}}", msg, sizeof(msg)), "stream=%d: %s",
		    stream, msg);
		check_relay_stop(&t);
	}
}
END_TEST

/* invalid_param as the first event: a 400 JSON response. */
START_TEST(check_relay_error_first_400)
{
	struct check_relay_run	t;
	char			msg[4096];

	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: {\"event\":\"error\",\"conversation_id\":"
	    "\"C\",\"message_id\":\"M\",\"created_at\":1718000000,\"code\":"
	    "\"invalid_param\",\"status\":400,\"message\":\"query is "
	    "required\"}\n\n");
	ck_assert_int_eq(t.r.status, 400);
	ck_assert_int_eq(t.r.event_stream, 0);
	ck_assert_int_eq(t.r.complete, 1);
	ck_assert_msg(check_relay_is(&t.out, "{\"error\":{\"message\":\"query "
	    "is required\",\"type\":\"invalid_request_error\",\"param\":null,"
	    "\"code\":\"invalid_param\"}}", msg, sizeof(msg)), "%s", msg);
	check_relay_stop(&t);
}
END_TEST

/* Dify's 401: an OpenAI authentication_error. */
START_TEST(check_relay_http_401)
{
	struct check_relay_run	t;
	char			msg[4096];
	int			stream;

	for (stream = 0; stream <= 1; stream++) {
		check_relay_start(&t, stream, 0);
		check_relay_response(&t, 401, "application/json", NULL);
		ck_assert_int_eq(t.r.state, RELAY_ERROR_BODY);
		ck_assert_int_eq(t.r.headers_ready, 0);
		check_relay_data(&t, "{\"code\":\"unauthorized\",");
		check_relay_data(&t, "\"message\":\"Access token is invalid\","
		    "\"status\":401}\n");
		ck_assert_uint_eq(t.out.len, 0);
		ck_assert_int_eq(t.r.complete, 0);
		check_relay_end(&t, RELAY_END_EOF, NULL);
		ck_assert_int_eq(t.r.state, RELAY_FAILED);
		ck_assert_int_eq(t.r.status, 401);
		ck_assert_int_eq(t.r.event_stream, 0);
		ck_assert_int_eq(t.r.headers_ready, 1);
		ck_assert_int_eq(t.r.complete, 1);
		ck_assert_int_eq(t.r.retry_after, 0);
		ck_assert_msg(check_relay_is(&t.out, "{\"error\":{\"message\":"
		    "\"Access token is invalid\",\"type\":"
		    "\"authentication_error\",\"param\":null,\"code\":"
		    "\"invalid_api_key\"}}", msg, sizeof(msg)), "%s", msg);
		check_relay_stop(&t);
	}
}
END_TEST

/* Dify's 429 with Retry-After: 7 gives retry_after 7. */
START_TEST(check_relay_http_429)
{
	struct check_relay_run	 t;
	json_t			*v;

	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 429, "application/json", "7");
	check_relay_data(&t, "{\"code\":\"too_many_requests\",\"message\":"
	    "\"Too many requests. Please try again later.\",\"status\":429}\n");
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.status, 429);
	ck_assert_int_eq(t.r.retry_after, 7);
	ck_assert_int_eq(t.r.event_stream, 0);
	v = check_relay_json(&t.out);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v,
	    "error"), "type")), "rate_limit_error");
	json_decref(v);
	check_relay_stop(&t);

	/* Without the header, the table still asks for a retry later. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 429, "application/json", NULL);
	check_relay_data(&t, "{\"code\":\"too_many_requests\",\"message\":"
	    "\"x\",\"status\":429}\n");
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.status, 429);
	ck_assert_int_gt(t.r.retry_after, 0);
	check_relay_stop(&t);

	/* A bad header is ignored. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 429, "application/json", "soon");
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.status, 429);
	ck_assert_int_gt(t.r.retry_after, 0);
	check_relay_stop(&t);
}
END_TEST

/* Dify's 404 with the flask-restx suffix, and a 500 with a bare body. */
START_TEST(check_relay_http_other)
{
	struct check_relay_run	 t;
	json_t			*v;
	char			 msg[4096];

	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 404, "application/json", NULL);
	check_relay_data(&t, "{\"code\":\"not_found\",\"message\":"
	    "\"Conversation Not Exists. You have requested this URI "
	    "[\\/v1\\/chat-messages] "
	    "but did you mean \\/v1\\/chat-messages or \\/api\\/chat-messages "
	    "or \\/v1\\/chat-messages\\/<string:task_id>\\/stop ?\","
	    "\"status\":404}\n");
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.status, 404);
	ck_assert_msg(check_relay_is(&t.out, "{\"error\":{\"message\":"
	    "\"Conversation Not Exists.\",\"type\":\"invalid_request_error\","
	    "\"param\":null,\"code\":\"not_found\"}}", msg, sizeof(msg)), "%s",
	    msg);
	check_relay_stop(&t);

	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 502, "text/html", NULL);
	check_relay_data(&t, "<html>Bad Gateway</html>");
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.status, 502);
	ck_assert_int_eq(t.r.event_stream, 0);
	v = check_relay_json(&t.out);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v,
	    "error"), "type")), "server_error");
	json_decref(v);
	check_relay_stop(&t);
}
END_TEST

/* EOF before message_end: upstream_incomplete, never finish or [DONE]. */
START_TEST(check_relay_eof_mid_stream)
{
	struct check_relay_run		 t;
	struct check_relay_frames	 f;
	json_t				*v;

	check_relay_start(&t, 1, 1);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n"
	    "data: " CHECK_FX_CHAT_2 "\n\n" "data: {\"event\":\"mess");
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.complete, 1);
	ck_assert_int_eq(t.r.upstream_done, 1);
	check_relay_frames(&t.out, &f);
	ck_assert_int_eq(f.errors, 1);
	ck_assert(f.last_is_error);
	ck_assert_int_eq(f.done, 0);
	ck_assert_str_eq(f.error_code, "upstream_incomplete");
	ck_assert_str_eq(f.error_type, "server_error");
	ck_assert_ptr_null(strstr(buf_cstr(&t.out), "\"finish_reason\":\"s"));
	ck_assert_ptr_null(strstr(buf_cstr(&t.out), "\"usage\":{"));
	check_relay_stop(&t);

	/* A broken connection is the same. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n");
	check_relay_end(&t, RELAY_END_BROKEN, "connection reset");
	check_relay_frames(&t.out, &f);
	ck_assert(f.last_is_error);
	ck_assert_int_eq(f.done, 0);
	ck_assert_str_eq(f.error_code, "upstream_incomplete");
	check_relay_stop(&t);

	/* Not streamed: a 502, not the partial answer. */
	check_relay_start(&t, 0, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n");
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.status, 502);
	ck_assert_int_eq(t.r.event_stream, 0);
	v = check_relay_json(&t.out);
	ck_assert_str_eq(check_relay_error_code(v), "upstream_incomplete");
	json_decref(v);
	ck_assert_ptr_null(strstr(buf_cstr(&t.out), "Hello"));
	check_relay_stop(&t);

	/* A 200 then EOF with no event at all: a 502 response. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "event: ping\n\n");
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.status, 502);
	ck_assert_int_eq(t.r.event_stream, 0);
	v = check_relay_json(&t.out);
	ck_assert_str_eq(check_relay_error_code(v), "upstream_incomplete");
	json_decref(v);
	check_relay_stop(&t);
}
END_TEST

/* Transport failures before any response. */
START_TEST(check_relay_transport_failures)
{
	static const struct {
		enum relay_end	 how;
		int		 status;
		const char	*code;
	} rows[] = {
		{ RELAY_END_TIMEOUT, 504, "upstream_timeout" },
		{ RELAY_END_UNREACHABLE, 502, "upstream_unreachable" },
		{ RELAY_END_DNS, 502, "upstream_dns_error" },
		{ RELAY_END_TLS, 502, "upstream_tls_error" },
	};
	struct check_relay_run	 t;
	json_t			*v;
	size_t			 i;
	int			 stream;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (stream = 0; stream <= 1; stream++) {
			check_relay_start(&t, stream, 1);
			check_relay_end(&t, rows[i].how, "detail");
			ck_assert_int_eq(t.r.state, RELAY_FAILED);
			ck_assert_int_eq(t.r.status, rows[i].status);
			ck_assert_int_eq(t.r.event_stream, 0);
			ck_assert_int_eq(t.r.headers_ready, 1);
			ck_assert_int_eq(t.r.complete, 1);
			ck_assert_int_eq(t.r.upstream_done, 1);
			v = check_relay_json(&t.out);
			ck_assert_str_eq(check_relay_error_code(v),
			    rows[i].code);
			ck_assert_str_eq(json_string_value(json_object_get(
			    json_object_get(v, "error"), "type")),
			    "server_error");
			json_decref(v);
			check_relay_stop(&t);
		}
	}
	/* A timeout mid-stream is an error frame. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n");
	check_relay_end(&t, RELAY_END_TIMEOUT, NULL);
	{
		struct check_relay_frames	f;

		check_relay_frames(&t.out, &f);
		ck_assert(f.last_is_error);
		ck_assert_str_eq(f.error_code, "upstream_timeout");
		ck_assert_int_eq(f.done, 0);
	}
	check_relay_stop(&t);
}
END_TEST

/* message_replace, streamed: the replacement follows, content_filter. */
START_TEST(check_relay_replace_stream)
{
	struct check_relay_run	t;
	struct buf		w = BUF_INIT;
	char			msg[4096];

	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t,
	    "data: {\"event\":\"message\",\"task_id\":\"T\",\"answer\":"
	    "\"Some bad \"}\n\n"
	    "data: {\"event\":\"message\",\"task_id\":\"T\",\"answer\":"
	    "\"words\"}\n\n"
	    "data: {\"event\":\"message_replace\",\"conversation_id\":\"C\","
	    "\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\","
	    "\"answer\":\"I cannot answer that.\",\"reason\":\"\"}\n\n");
	ck_assert_int_eq(t.r.complete, 0);
	check_relay_data(&t, "data: {\"event\":\"message_end\",\"task_id\":"
	    "\"T\",\"metadata\":{\"usage\":{\"prompt_tokens\":1,"
	    "\"completion_tokens\":2,\"total_tokens\":3}},\"files\":null}\n\n");
	check_relay_want_role(&w, 0);
	check_relay_want_content(&w, 0, "Some bad ");
	check_relay_want_content(&w, 0, "words");
	check_relay_want_content(&w, 0, "I cannot answer that.");
	check_relay_want_finish(&w, 0, "content_filter");
	check_relay_want_done(&w);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* message_replace, not streamed: the answer is only the replacement. */
START_TEST(check_relay_replace_nonstream)
{
	struct check_relay_run	t;
	char			msg[4096];

	check_relay_start(&t, 0, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t,
	    "data: {\"event\":\"message\",\"task_id\":\"T\",\"answer\":"
	    "\"Some bad \"}\n\n"
	    "data: {\"event\":\"message\",\"task_id\":\"T\",\"answer\":"
	    "\"words\"}\n\n"
	    "data: {\"event\":\"message_replace\",\"task_id\":\"T\","
	    "\"answer\":\"I cannot answer that.\",\"reason\":\"\"}\n\n"
	    "data: {\"event\":\"message\",\"task_id\":\"T\",\"answer\":"
	    "\" more\"}\n\n"
	    "data: {\"event\":\"message_end\",\"task_id\":\"T\","
	    "\"metadata\":{\"usage\":{\"prompt_tokens\":1,"
	    "\"completion_tokens\":2,\"total_tokens\":3}},\"files\":null}\n\n");
	ck_assert_msg(check_relay_is(&t.out, "{\"id\":\"chatcmpl-abc\","
	    "\"object\":\"chat.completion\",\"created\":1700000000,\"model\":"
	    "\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":\"I cannot answer that.\",\"refusal\":"
	    "null},\"logprobs\":null,\"finish_reason\":\"content_filter\"}],"
	    "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,"
	    "\"total_tokens\":3}}", msg, sizeof(msg)), "%s", msg);
	check_relay_stop(&t);
}
END_TEST

/* Keepalive ticks: commit a slow stream, then empty content chunks. */
START_TEST(check_relay_keepalive_stream)
{
	struct check_relay_run	t;
	struct buf		w = BUF_INIT;
	char			msg[4096];

	check_relay_start(&t, 1, 1);
	/* Before Dify answered: nothing. */
	check_relay_keepalive(&t);
	ck_assert_uint_eq(t.out.len, 0);
	ck_assert_int_eq(t.r.headers_ready, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_keepalive(&t);
	ck_assert_int_eq(t.r.headers_ready, 1);
	ck_assert_int_eq(t.r.status, 200);
	ck_assert_int_eq(t.r.event_stream, 1);
	ck_assert_int_eq(t.r.complete, 0);
	check_relay_want_role(&w, 1);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_keepalive(&t);
	check_relay_want_content(&w, 1, "");
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	/* The stream then goes on with no second role chunk. */
	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n");
	check_relay_keepalive(&t);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_2 "\n\n"
	    "data: " CHECK_FX_CHAT_3 "\n\n");
	check_relay_want_content(&w, 1, "Hello");
	check_relay_want_content(&w, 1, "");
	check_relay_want_content(&w, 1, "! How can I help?");
	check_relay_want_finish(&w, 1, "stop");
	check_relay_want_usage(&w, 17, 9, 26);
	check_relay_want_done(&w);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	/* After the end: nothing. */
	check_relay_keepalive(&t);
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* Keepalive ticks never touch a non-stream or an error response. */
START_TEST(check_relay_keepalive_never)
{
	struct check_relay_run		t;
	struct check_relay_frames	f;
	char				msg[4096];

	check_relay_start(&t, 0, 0);
	check_relay_keepalive(&t);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_keepalive(&t);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n");
	check_relay_keepalive(&t);
	ck_assert_uint_eq(t.out.len, 0);
	ck_assert_int_eq(t.r.headers_ready, 0);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_2 "\n\n"
	    "data: " CHECK_FX_CHAT_3 "\n\n");
	ck_assert_msg(check_relay_is(&t.out, CHECK_RELAY_CHAT_COMPLETION, msg,
	    sizeof(msg)), "%s", msg);
	check_relay_stop(&t);

	/* While reading an error body the status is not known to be 200. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 401, "application/json", NULL);
	check_relay_keepalive(&t);
	ck_assert_uint_eq(t.out.len, 0);
	ck_assert_int_eq(t.r.headers_ready, 0);
	check_relay_stop(&t);

	/* A committed stream that then fails gets an error frame. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_keepalive(&t);
	check_relay_data(&t, "data: {\"event\":\"error\",\"message\":"
	    "\"Conversation Not Exists.\",\"status\":500}\n\n");
	ck_assert_int_eq(t.r.status, 200);
	ck_assert_int_eq(t.r.event_stream, 1);
	check_relay_frames(&t.out, &f);
	ck_assert_int_eq(f.n, 2);
	ck_assert(f.last_is_error);
	check_relay_stop(&t);
}
END_TEST

/* Event JSON that is not an object: upstream_protocol_error. */
START_TEST(check_relay_not_object)
{
	struct check_relay_run		 t;
	struct check_relay_frames	 f;
	json_t				*v;

	/* As the first event: a 502 response. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: [1,2,3]\n\n");
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.status, 502);
	ck_assert_int_eq(t.r.event_stream, 0);
	ck_assert_int_eq(t.r.upstream_done, 1);
	v = check_relay_json(&t.out);
	ck_assert_str_eq(check_relay_error_code(v), "upstream_protocol_error");
	json_decref(v);
	check_relay_stop(&t);

	/* Mid-stream, not JSON at all: an error frame. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n"
	    "data: <html>oops</html>\n\n" "data: " CHECK_FX_CHAT_3 "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	check_relay_frames(&t.out, &f);
	ck_assert(f.last_is_error);
	ck_assert_int_eq(f.done, 0);
	ck_assert_str_eq(f.error_code, "upstream_protocol_error");
	check_relay_stop(&t);

	/* A JSON string. */
	check_relay_start(&t, 0, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: \"message\"\n\n");
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.status, 502);
	v = check_relay_json(&t.out);
	ck_assert_str_eq(check_relay_error_code(v), "upstream_protocol_error");
	json_decref(v);
	check_relay_stop(&t);
}
END_TEST

/* task_id comes from the first event that carries one. */
START_TEST(check_relay_task_id)
{
	struct check_relay_run	t;

	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	ck_assert_str_eq(t.r.task_id, "");
	check_relay_data(&t, "event: ping\n\n"
	    "data: {\"event\":\"message\",\"answer\":\"a\"}\n\n");
	ck_assert_str_eq(t.r.task_id, "");
	check_relay_data(&t, "data: {\"event\":\"message\",\"task_id\":"
	    "\"first-task\",\"answer\":\"b\"}\n\n");
	ck_assert_str_eq(t.r.task_id, "first-task");
	check_relay_data(&t, "data: {\"event\":\"message\",\"task_id\":"
	    "\"second-task\",\"answer\":\"c\"}\n\n");
	ck_assert_str_eq(t.r.task_id, "first-task");
	check_relay_stop(&t);

	/* The first event of the §3.5 workflow stream after its ping. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "event: ping\n\ndata: " CHECK_FX_WORKFLOW_1
	    "\n\n");
	ck_assert_str_eq(t.r.task_id, "T");
	check_relay_stop(&t);

	/* An error event that is the first to carry one. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: {\"event\":\"error\",\"task_id\":\"E1\","
	    "\"code\":\"invalid_param\",\"status\":400,\"message\":\"x\"}\n\n");
	ck_assert_str_eq(t.r.task_id, "E1");
	check_relay_stop(&t);
}
END_TEST

/* A 200 with a blocking JSON answer (§4.1). */
START_TEST(check_relay_blocking_json)
{
	struct check_relay_run	t;
	struct buf		w = BUF_INIT;
	static const char	body[] = CHECK_FX_BLOCKING;
	char			msg[4096];
	int			usage;

	for (usage = 0; usage <= 1; usage++) {
		check_relay_start(&t, 1, usage);
		check_relay_response(&t, 200, CHECK_RELAY_JSON, NULL);
		ck_assert_int_eq(t.r.state, RELAY_JSON_BODY);
		check_relay_datan(&t, body, 100);
		check_relay_datan(&t, body + 100, sizeof(body) - 1 - 100);
		ck_assert_uint_eq(t.out.len, 0);
		ck_assert_int_eq(t.r.complete, 0);
		check_relay_end(&t, RELAY_END_EOF, NULL);
		ck_assert_int_eq(t.r.state, RELAY_DONE);
		ck_assert_int_eq(t.r.complete, 1);
		ck_assert_int_eq(t.r.status, 200);
		ck_assert_int_eq(t.r.event_stream, 1);
		buf_reset(&w);
		check_relay_want_role(&w, usage);
		check_relay_want_content(&w, usage,
		    "iPhone 13 Pro Max specs are listed here:...");
		check_relay_want_finish(&w, usage, "stop");
		if (usage)
			check_relay_want_usage(&w, 1033, 128, 1161);
		check_relay_want_done(&w);
		ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)),
		    "usage=%d: %s", usage, msg);
		check_relay_stop(&t);
	}

	check_relay_start(&t, 0, 0);
	check_relay_response(&t, 200, "application/json", NULL);
	check_relay_data(&t, body);
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.status, 200);
	ck_assert_int_eq(t.r.event_stream, 0);
	ck_assert_msg(check_relay_is(&t.out, "{\"id\":\"chatcmpl-abc\","
	    "\"object\":\"chat.completion\",\"created\":1700000000,\"model\":"
	    "\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":\"iPhone 13 Pro Max specs are listed "
	    "here:...\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":"
	    "\"stop\"}],\"usage\":{\"prompt_tokens\":1033,"
	    "\"completion_tokens\":128,\"total_tokens\":1161}}", msg,
	    sizeof(msg)), "%s", msg);
	check_relay_stop(&t);

	/* A blocking body that is cut off is not an answer. */
	check_relay_start(&t, 1, 0);
	check_relay_response(&t, 200, "application/json", NULL);
	check_relay_datan(&t, body, 50);
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.status, 502);
	ck_assert_int_eq(t.r.event_stream, 0);
	check_relay_stop(&t);
	buf_free(&w);
}
END_TEST

/* An event over max_event, and a non-stream answer over max_answer. */
START_TEST(check_relay_limits)
{
	struct check_relay_run		 t;
	struct check_relay_frames	 f;
	struct buf			 big = BUF_INIT;
	json_t				*v;
	size_t				 i;

	buf_add_str(&big, "data: {\"event\":\"message\",\"answer\":\"");
	for (i = 0; i < 600; i++)
		buf_add_char(&big, 'x');
	buf_add_str(&big, "\"}\n\n");

	/* Too large as the first event: a 502 response. */
	check_relay_start_max(&t, 1, 0, 512, 1024 * 1024);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_datan(&t, big.data, big.len);
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.status, 502);
	v = check_relay_json(&t.out);
	ck_assert_str_eq(check_relay_error_code(v), "upstream_protocol_error");
	json_decref(v);
	check_relay_stop(&t);

	/* Mid-stream, in small pieces: an error frame. */
	check_relay_start_max(&t, 1, 0, 512, 1024 * 1024);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: {\"event\":\"message\",\"answer\":\"a\"}"
	    "\n\n");
	for (i = 0; i < big.len; i += 7)
		check_relay_datan(&t, big.data + i,
		    big.len - i < 7 ? big.len - i : 7);
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	check_relay_frames(&t.out, &f);
	ck_assert(f.last_is_error);
	ck_assert_int_eq(f.errors, 1);
	ck_assert_str_eq(f.error_code, "upstream_protocol_error");
	check_relay_stop(&t);

	/* A non-stream answer larger than max_answer. */
	check_relay_start_max(&t, 0, 0, 64 * 1024, 10);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: {\"event\":\"message\",\"answer\":"
	    "\"0123456789\"}\n\n");
	ck_assert_int_eq(t.r.state, RELAY_STREAMING);
	check_relay_data(&t, "data: {\"event\":\"message\",\"answer\":\"!\"}"
	    "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.status, 502);
	v = check_relay_json(&t.out);
	ck_assert_str_eq(check_relay_error_code(v), "upstream_protocol_error");
	json_decref(v);
	check_relay_stop(&t);
	buf_free(&big);
}
END_TEST

/* A non-stream error event after some text: an error response only. */
START_TEST(check_relay_error_nonstream)
{
	struct check_relay_run	t;
	char			msg[4096];

	check_relay_start(&t, 0, 0);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, "data: " CHECK_FX_CHAT_1 "\n\n"
	    CHECK_FX_CHAT_ERROR_STREAM);
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.status, 400);
	ck_assert_int_eq(t.r.event_stream, 0);
	ck_assert_msg(check_relay_is(&t.out, "{\"error\":{\"message\":"
	    "\"Incorrect API key provided\",\"type\":\"invalid_request_error\","
	    "\"param\":null,\"code\":\"completion_request_error\"}}", msg,
	    sizeof(msg)), "%s", msg);
	check_relay_stop(&t);
}
END_TEST

/* State names for logs. */
START_TEST(check_relay_state_names)
{
	ck_assert_str_eq(relay_state_name(RELAY_AWAIT_RESPONSE),
	    "await_response");
	ck_assert_str_eq(relay_state_name(RELAY_AWAIT_EVENT), "await_event");
	ck_assert_str_eq(relay_state_name(RELAY_STREAMING), "streaming");
	ck_assert_str_eq(relay_state_name(RELAY_FINISHING), "finishing");
	ck_assert_str_eq(relay_state_name(RELAY_ERROR_BODY), "error_body");
	ck_assert_str_eq(relay_state_name(RELAY_JSON_BODY), "json_body");
	ck_assert_str_eq(relay_state_name(RELAY_DONE), "done");
	ck_assert_str_eq(relay_state_name(RELAY_FAILED), "failed");
}
END_TEST

/* The relay suite. */
Suite *
relay_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("relay");
	tc = tcase_create("streams");
	tcase_add_test(tc, check_relay_chat_stream);
	tcase_add_test(tc, check_relay_chat_stream_usage);
	tcase_add_test(tc, check_relay_chat_nonstream);
	tcase_add_test(tc, check_relay_agent_stream);
	tcase_add_test(tc, check_relay_new_agent_once);
	tcase_add_test(tc, check_relay_message_file);
	tcase_add_test(tc, check_relay_chatflow_new_order);
	tcase_add_test(tc, check_relay_chatflow_old_order);
	tcase_add_test(tc, check_relay_chatflow_1130);
	tcase_add_test(tc, check_relay_chatflow_grace);
	tcase_add_test(tc, check_relay_replace_stream);
	tcase_add_test(tc, check_relay_replace_nonstream);
	tcase_add_test(tc, check_relay_blocking_json);
	tcase_add_test(tc, check_relay_task_id);
	tcase_add_test(tc, check_relay_state_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, check_relay_workflow_failed);
	tcase_add_test(tc, check_relay_error_mid_stream);
	tcase_add_test(tc, check_relay_error_then_more_in_one_piece);
	tcase_add_test(tc, check_relay_error_first_nocode);
	tcase_add_test(tc, check_relay_error_first_400);
	tcase_add_test(tc, check_relay_error_nonstream);
	tcase_add_test(tc, check_relay_http_401);
	tcase_add_test(tc, check_relay_http_429);
	tcase_add_test(tc, check_relay_http_other);
	tcase_add_test(tc, check_relay_eof_mid_stream);
	tcase_add_test(tc, check_relay_transport_failures);
	tcase_add_test(tc, check_relay_not_object);
	tcase_add_test(tc, check_relay_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("keepalive");
	tcase_add_test(tc, check_relay_keepalive_stream);
	tcase_add_test(tc, check_relay_keepalive_never);
	suite_add_tcase(s, tc);

	tc = tcase_create("splits");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, check_relay_split_chat);
	tcase_add_test(tc, check_relay_split_chatflow);
	tcase_add_test(tc, check_relay_split_agent_crlf);
	suite_add_tcase(s, tc);
	return (s);
}
