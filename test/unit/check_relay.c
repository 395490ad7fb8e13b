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

/*
 * Start an exchange of an app kind (NULL: chat) with the example id,
 * created and model; split_think as the config's "split_think".
 */
static void
check_relay_start_opts(struct check_relay_run *t, const struct dify_app *app,
    int split_think, int stream, int include_usage, size_t max_event,
    size_t max_answer)
{
	struct relay_params	p;

	memset(t, 0, sizeof(*t));
	memset(&p, 0, sizeof(p));
	p.app = app;
	p.split_think = split_think;
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

/* Start a chat exchange, the splitter off. */
static void
check_relay_start_max(struct check_relay_run *t, int stream,
    int include_usage, size_t max_event, size_t max_answer)
{
	check_relay_start_opts(t, NULL, 0, stream, include_usage, max_event,
	    max_answer);
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

/* Expected reasoning chunk (text is already JSON-escaped). */
static void
check_relay_want_reasoning(struct buf *b, int usage, const char *text)
{
	buf_add_str(b, "data: " CHECK_RELAY_HEAD CHECK_RELAY_CHOICE
	    "{\"reasoning_content\":\"");
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

/* A tap that keeps what it sees; (NULL, 0) starts it again. */
static void
check_relay_tap(void *arg, const char *text, size_t len)
{
	struct buf	*b = arg;

	if (text == NULL)
		buf_reset(b);
	else
		buf_add(b, text, len);
}

/*
 * Continuity's view of an answer: the tap sees exactly the content the
 * client got, streamed or not (a non-stream answer replaced by
 * moderation starts again); with name_conversation a non-stream body
 * names Dify's conversation.
 */
START_TEST(check_relay_tap_answer)
{
	struct relay_params	 p;
	struct relay		 r;
	struct buf		 seen = BUF_INIT;
	const char		*in = "data: " CHECK_FX_CHAT_1 "\n\ndata: "
				    CHECK_FX_CHAT_2 "\n\ndata: " CHECK_FX_CHAT_3
				    "\n\n";
	int			 stream;

	for (stream = 0; stream < 2; stream++) {
		memset(&p, 0, sizeof(p));
		p.id = "chatcmpl-abc";
		p.model = "m";
		p.modellen = 1;
		p.stream = stream;
		p.max_event = 65536;
		p.max_answer = 65536;
		p.tap = check_relay_tap;
		p.tap_arg = &seen;
		p.name_conversation = 1;
		buf_reset(&seen);
		relay_init(&r, &p);
		relay_response(&r, 200, CHECK_RELAY_SSE, NULL);
		relay_data(&r, in, strlen(in));
		ck_assert_int_eq(r.state, RELAY_DONE);
		ck_assert_str_eq(buf_cstr(&seen), "Hello! How can I help?");
		ck_assert_str_eq(r.conversation_id,
		    "45701982-8118-4bc5-8e9b-64562b4555f2");
		if (!stream)
			ck_assert_ptr_nonnull(strstr(buf_cstr(&r.out),
			    ",\"conversation_id\":\"45701982-8118-4bc5-8e9b-"
			    "64562b4555f2\"}"));
		else
			ck_assert_ptr_null(strstr(buf_cstr(&r.out),
			    "\"conversation_id\""));
		relay_free(&r);
	}
	/* Without name_conversation the body is as before. */
	p.stream = 0;
	p.name_conversation = 0;
	relay_init(&r, &p);
	relay_response(&r, 200, CHECK_RELAY_SSE, NULL);
	relay_data(&r, in, strlen(in));
	ck_assert_ptr_null(strstr(buf_cstr(&r.out), "\"conversation_id\""));
	relay_free(&r);
	buf_free(&seen);
}
END_TEST

/* Feed input to a fresh relay cut at the given positions; return output. */
static void
check_relay_feed_cut_opts(const struct dify_app *app, int split_think,
    int stream, int usage, const char *input, size_t len, const size_t *cuts,
    size_t ncuts, int end, struct buf *out)
{
	struct check_relay_run	t;
	size_t			i, start = 0, stop;

	check_relay_start_opts(&t, app, split_think, stream, usage, 256 * 1024,
	    1024 * 1024);
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

/* The same for a chat exchange with the splitter off. */
static void
check_relay_feed_cut(int stream, int usage, const char *input, size_t len,
    const size_t *cuts, size_t ncuts, int end, struct buf *out)
{
	check_relay_feed_cut_opts(NULL, 0, stream, usage, input, len, cuts,
	    ncuts, end, out);
}

/*
 * Feed input whole, in two at every position and byte by byte, streamed
 * and not, with and without include_usage: the client bytes never change.
 */
static void
check_relay_every_split_opts(const char *name, const struct dify_app *app,
    int split_think, const char *input, int end)
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
			check_relay_feed_cut_opts(app, split_think, stream,
			    usage, input, len, NULL, 0, end, &whole);
			ck_assert_uint_gt(whole.len, 0);
			for (i = 1; i < len; i++) {
				buf_reset(&got);
				check_relay_feed_cut_opts(app, split_think,
				    stream, usage, input, len, &i, 1, end,
				    &got);
				ck_assert_msg(check_same_buf(&got, &whole,
				    msg, sizeof(msg)), "%s stream=%d usage=%d "
				    "split at %zu: %s", name, stream, usage, i,
				    msg);
			}
			for (i = 0; i + 1 < len; i++)
				cuts[i] = i + 1;
			buf_reset(&got);
			check_relay_feed_cut_opts(app, split_think, stream,
			    usage, input, len, cuts, len - 1, end, &got);
			ck_assert_msg(check_same_buf(&got, &whole, msg,
			    sizeof(msg)), "%s stream=%d usage=%d byte by byte: "
			    "%s", name, stream, usage, msg);
		}
	}
	free(cuts);
	buf_free(&whole);
	buf_free(&got);
}

/* The same for a chat exchange with the splitter off. */
static void
check_relay_every_split(const char *name, const char *input, int end)
{
	check_relay_every_split_opts(name, NULL, 0, input, end);
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

/*
 * Agent stream: only agent_message text is content; the tool call and its
 * result are reasoning, each once, though Dify repeats the thought.
 */
#define CHECK_RELAY_AGENT_TOOL \
	"Tool: current_time\\nInput: {\\\"current_time\\\": " \
	"{\\\"timezone\\\": \\\"UTC\\\"}}\\n\\n"
#define CHECK_RELAY_AGENT_OBSERVATION \
	"Observation: {\\\"current_time\\\": " \
	"\\\"2026-06-12 10:00:00\\\"}\\n\\n"

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
		check_relay_want_reasoning(&w, usage, CHECK_RELAY_AGENT_TOOL);
		check_relay_want_reasoning(&w, usage,
		    CHECK_RELAY_AGENT_OBSERVATION);
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
	    "\"assistant\",\"content\":\"It is 10:00 UTC.\","
	    "\"reasoning_content\":\"" CHECK_RELAY_AGENT_TOOL
	    CHECK_RELAY_AGENT_OBSERVATION "\",\"refusal\":null},"
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

/*
 * Reasoning.  A <think> block at the start of the answer goes out as
 * reasoning when split_think is on (relay_content runs think.c), agent
 * thoughts always do (relay_reasoning): reasoning_content chunks for
 * streams, message.reasoning_content otherwise, and the answer in
 * content is exactly the answer.
 */

/* A chat message event; a is JSON-escaped. */
#define CHECK_RELAY_MSG_PRE \
	"data: {\"event\":\"message\",\"conversation_id\":\"C\"," \
	"\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\"," \
	"\"id\":\"M\",\"answer\":\""
#define CHECK_RELAY_MSG_SUF	"\",\"from_variable_selector\":null}\n\n"
#define CHECK_RELAY_MSG(a)	CHECK_RELAY_MSG_PRE a CHECK_RELAY_MSG_SUF
#define CHECK_RELAY_MSG_END \
	"data: {\"event\":\"message_end\",\"conversation_id\":\"C\"," \
	"\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\"," \
	"\"id\":\"M\",\"metadata\":{\"usage\":{\"prompt_tokens\":3," \
	"\"completion_tokens\":4,\"total_tokens\":7}},\"files\":null}\n\n"

/* "<think>\nI think.\n</think>\n\nHello!", both tags cut across events. */
#define CHECK_RELAY_THINK_STREAM \
	CHECK_RELAY_MSG("<thi") CHECK_RELAY_MSG("nk>\\nI th") \
	CHECK_RELAY_MSG("ink.\\n</th") "event: ping\n\n" \
	CHECK_RELAY_MSG("ink>\\n") CHECK_RELAY_MSG("\\nHel") \
	CHECK_RELAY_MSG("lo!") CHECK_RELAY_MSG_END

/* An agent_thought; the strings are JSON-escaped. */
#define CHECK_RELAY_THOUGHT(id, pos, thought, tool, input, obs) \
	"data: {\"event\":\"agent_thought\",\"conversation_id\":\"C\"," \
	"\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\"," \
	"\"id\":\"" id "\",\"position\":" pos ",\"thought\":\"" thought \
	"\",\"observation\":\"" obs "\",\"tool\":\"" tool "\"," \
	"\"tool_labels\":{},\"tool_input\":\"" input "\"," \
	"\"message_files\":[]}\n\n"
#define CHECK_RELAY_AGENT_MSG(a) \
	"data: {\"event\":\"agent_message\",\"conversation_id\":\"C\"," \
	"\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\"," \
	"\"id\":\"M\",\"answer\":\"" a "\"}\n\n"
#define CHECK_RELAY_AGENT_END	"data: " CHECK_FX_AGENT_END "\n\n"

/* A workflow text_chunk and a successful workflow_finished (JSON-escaped). */
#define CHECK_RELAY_WF_CHUNK(a) \
	"data: {\"event\":\"text_chunk\",\"workflow_run_id\":\"R\"," \
	"\"task_id\":\"T\",\"data\":{\"text\":\"" a "\"," \
	"\"from_variable_selector\":[\"1\",\"text\"]}}\n\n"
#define CHECK_RELAY_WF_DONE(outputs) \
	"data: {\"event\":\"workflow_finished\",\"workflow_run_id\":\"R\"," \
	"\"task_id\":\"T\",\"data\":{\"id\":\"R\",\"status\":\"succeeded\"," \
	"\"outputs\":" outputs ",\"error\":null,\"total_tokens\":9}}\n\n"

/* One expected chunk: 'R' reasoning, 'C' content (JSON-escaped text). */
struct check_relay_piece {
	char		 kind;
	const char	*text;
};

/* Expected stream: role, the pieces, finish, usage if asked, [DONE]. */
static void
check_relay_want_stream(struct buf *w, int usage,
    const struct check_relay_piece *p, const char *finish, unsigned pt,
    unsigned ct)
{
	check_relay_want_role(w, usage);
	for (; p->text != NULL; p++) {
		if (p->kind == 'R')
			check_relay_want_reasoning(w, usage, p->text);
		else
			check_relay_want_content(w, usage, p->text);
	}
	check_relay_want_finish(w, usage, finish);
	if (usage)
		check_relay_want_usage(w, pt, ct, pt + ct);
	check_relay_want_done(w);
}

/* Expected non-stream body; reasoning NULL for none (JSON-escaped). */
static void
check_relay_want_completion(struct buf *w, const char *content,
    const char *reasoning, const char *finish, unsigned pt, unsigned ct,
    unsigned tt)
{
	buf_add_str(w, "{\"id\":\"chatcmpl-abc\",\"object\":"
	    "\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o\","
	    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	    "\"content\":\"");
	buf_add_str(w, content);
	buf_add_char(w, '"');
	if (reasoning != NULL) {
		buf_add_str(w, ",\"reasoning_content\":\"");
		buf_add_str(w, reasoning);
		buf_add_char(w, '"');
	}
	buf_printf(w, ",\"refusal\":null},\"logprobs\":null,"
	    "\"finish_reason\":\"%s\"}],\"usage\":{\"prompt_tokens\":%u,"
	    "\"completion_tokens\":%u,\"total_tokens\":%u}}", finish, pt, ct,
	    tt);
}

/* A whole exchange of a kind (NULL: chat) with the splitter as given. */
static void
check_relay_think_run(const struct dify_app *app, int split_think,
    int stream, int usage, const char *ct, const char *body, size_t len,
    struct buf *out)
{
	struct check_relay_run	t;

	check_relay_start_opts(&t, app, split_think, stream, usage,
	    256 * 1024, 1024 * 1024);
	check_relay_response(&t, 200, ct, NULL);
	check_relay_datan(&t, body, len);
	check_relay_end(&t, RELAY_END_EOF, NULL);
	ck_assert(t.r.complete);
	ck_assert_int_eq(t.r.state, RELAY_DONE);
	buf_add(out, t.out.data, t.out.len);
	check_relay_stop(&t);
}

/* Check a whole exchange's client bytes against want. */
#define check_relay_think_is(app, split, stream, usage, body, want) do { \
	struct buf	got_ = BUF_INIT; \
	char		msg_[4096]; \
	check_relay_think_run((app), (split), (stream), (usage), \
	    CHECK_RELAY_SSE, (body), strlen(body), &got_); \
	ck_assert_msg(check_same_buf(&got_, (want), msg_, sizeof(msg_)), \
	    "stream=%d usage=%d: %s", (stream), (usage), msg_); \
	buf_free(&got_); \
} while (0)

/* Append text (n bytes) JSON-escaped, as the expected bytes have it. */
static void
check_relay_esc(struct buf *b, const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '"':
			buf_add_str(b, "\\\"");
			break;
		case '\\':
			buf_add_str(b, "\\\\");
			break;
		case '\n':
			buf_add_str(b, "\\n");
			break;
		case '\r':
			buf_add_str(b, "\\r");
			break;
		case '\t':
			buf_add_str(b, "\\t");
			break;
		default:
			ck_assert_int_ge((unsigned char)s[i], 0x20);
			buf_add_char(b, s[i]);
			break;
		}
	}
}

/* A think block cut across events: reasoning chunks, then content. */
START_TEST(check_relay_think_stream)
{
	static const struct check_relay_piece	 want[] = {
		{ 'R', "\\nI th" }, { 'R', "ink.\\n" }, { 'C', "Hel" },
		{ 'C', "lo!" }, { 0, NULL }
	};
	struct check_relay_run			 t;
	struct buf				 w = BUF_INIT;
	char					 msg[4096];
	int					 usage;

	for (usage = 0; usage <= 1; usage++) {
		buf_reset(&w);
		check_relay_want_stream(&w, usage, want, "stop", 3, 4);
		check_relay_think_is(NULL, 1, 1, usage,
		    CHECK_RELAY_THINK_STREAM, &w);
	}
	/* Not streamed: the block in reasoning_content, the answer alone. */
	buf_reset(&w);
	check_relay_want_completion(&w, "Hello!", "\\nI think.\\n", "stop", 3,
	    4, 7);
	check_relay_think_is(NULL, 1, 0, 0, CHECK_RELAY_THINK_STREAM, &w);
	check_relay_think_is(NULL, 1, 0, 1, CHECK_RELAY_THINK_STREAM, &w);

	/* Nothing of the block is content, and its tags are nowhere. */
	check_relay_start_opts(&t, NULL, 1, 1, 0, 256 * 1024, 1024 * 1024);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, CHECK_RELAY_THINK_STREAM);
	ck_assert_uint_eq(t.r.content_bytes, 6);
	ck_assert_uint_eq(t.r.reasoning_bytes, 10);
	ck_assert_ptr_null(memmem(t.out.data, t.out.len, "think>", 6));
	check_relay_stop(&t);

	/* However Dify's bytes are cut, the client bytes are these. */
	check_relay_every_split_opts("think", NULL, 1,
	    CHECK_RELAY_THINK_STREAM, 1);
	buf_free(&w);
	(void)msg;
}
END_TEST

/*
 * Every byte of the answer its own message event: each reasoning byte
 * and each answer byte its own chunk, in order; the tags and the
 * newlines after </think> nowhere.
 */
START_TEST(check_relay_think_byte_events)
{
	static const char	 answer[] = "<think>\nx < y\n</think>\n\n"
				    "Hi \"there\"";
	static const char	 reasoning[] = "\nx < y\n";
	static const char	 content[] = "Hi \"there\"";
	struct buf		 in = BUF_INIT, w = BUF_INIT, e = BUF_INIT;
	size_t			 i;
	int			 usage;

	for (i = 0; i < sizeof(answer) - 1; i++) {
		buf_add_str(&in, CHECK_RELAY_MSG_PRE);
		check_relay_esc(&in, answer + i, 1);
		buf_add_str(&in, CHECK_RELAY_MSG_SUF);
	}
	buf_add_str(&in, CHECK_RELAY_MSG_END);

	for (usage = 0; usage <= 1; usage++) {
		buf_reset(&w);
		check_relay_want_role(&w, usage);
		for (i = 0; i < sizeof(reasoning) - 1; i++) {
			buf_reset(&e);
			check_relay_esc(&e, reasoning + i, 1);
			check_relay_want_reasoning(&w, usage, buf_cstr(&e));
		}
		for (i = 0; i < sizeof(content) - 1; i++) {
			buf_reset(&e);
			check_relay_esc(&e, content + i, 1);
			check_relay_want_content(&w, usage, buf_cstr(&e));
		}
		check_relay_want_finish(&w, usage, "stop");
		if (usage)
			check_relay_want_usage(&w, 3, 4, 7);
		check_relay_want_done(&w);
		check_relay_think_is(NULL, 1, 1, usage, buf_cstr(&in), &w);
	}
	buf_reset(&w);
	check_relay_want_completion(&w, "Hi \\\"there\\\"", "\\nx < y\\n",
	    "stop", 3, 4, 7);
	check_relay_think_is(NULL, 1, 0, 0, buf_cstr(&in), &w);
	check_relay_every_split_opts("think bytes", NULL, 1, buf_cstr(&in), 1);
	buf_free(&in);
	buf_free(&w);
	buf_free(&e);
}
END_TEST

/* split_think off: the block is content, byte for byte as Dify sent it. */
START_TEST(check_relay_think_off)
{
	static const struct check_relay_piece	 want[] = {
		{ 'C', "<thi" }, { 'C', "nk>\\nI th" }, { 'C', "ink.\\n</th" },
		{ 'C', "ink>\\n" }, { 'C', "\\nHel" }, { 'C', "lo!" },
		{ 0, NULL }
	};
	struct buf				 w = BUF_INIT;
	int					 usage;

	for (usage = 0; usage <= 1; usage++) {
		buf_reset(&w);
		check_relay_want_stream(&w, usage, want, "stop", 3, 4);
		check_relay_think_is(NULL, 0, 1, usage,
		    CHECK_RELAY_THINK_STREAM, &w);
	}
	buf_reset(&w);
	check_relay_want_completion(&w,
	    "<think>\\nI think.\\n</think>\\n\\nHello!", NULL, "stop", 3, 4, 7);
	check_relay_think_is(NULL, 0, 0, 0, CHECK_RELAY_THINK_STREAM, &w);
	buf_free(&w);
}
END_TEST

/* Answers without a block: the same bytes with the splitter on and off. */
START_TEST(check_relay_think_no_block)
{
	static const char *const	 streams[] = {
		CHECK_FX_CHAT_STREAM, CHECK_FX_CF_STREAM,
		"data: " CHECK_FX_AGENT_1 "\n\n" "data: " CHECK_FX_AGENT_2
		"\n\n" "data: " CHECK_FX_AGENT_3 "\n\n" "data: "
		CHECK_FX_AGENT_5 "\n\n" "data: " CHECK_FX_AGENT_END "\n\n",
		CHECK_RELAY_MSG("Hello <think>x</think>") CHECK_RELAY_MSG_END,
		CHECK_RELAY_MSG("\\n") CHECK_RELAY_MSG("<th") CHECK_RELAY_MSG(
		    "inking>") CHECK_RELAY_MSG_END,
	};
	struct buf			 off = BUF_INIT, on = BUF_INIT;
	char				 msg[4096];
	size_t				 i;
	int				 stream, usage;

	for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++)
		for (stream = 0; stream <= 1; stream++)
			for (usage = 0; usage <= 1; usage++) {
				buf_reset(&off);
				buf_reset(&on);
				check_relay_think_run(NULL, 0, stream, usage,
				    CHECK_RELAY_SSE, streams[i],
				    strlen(streams[i]), &off);
				check_relay_think_run(NULL, 1, stream, usage,
				    CHECK_RELAY_SSE, streams[i],
				    strlen(streams[i]), &on);
				ck_assert_msg(check_same_buf(&on, &off, msg,
				    sizeof(msg)), "stream %zu stream=%d "
				    "usage=%d: %s", i, stream, usage, msg);
			}

	/*
	 * Leading spaces are held while the start is undecided, then go out
	 * as a content chunk of their own: the same text, one chunk more.
	 */
	buf_reset(&off);
	buf_reset(&on);
	check_relay_want_stream(&off, 0, (const struct check_relay_piece[]){
	    { 'C', "  " }, { 'C', "Hello <think>x</think>" }, { 0, NULL } },
	    "stop", 3, 4);
	check_relay_think_is(NULL, 1, 1, 0, CHECK_RELAY_MSG(
	    "  Hello <think>x</think>") CHECK_RELAY_MSG_END, &off);
	buf_reset(&off);
	check_relay_want_completion(&off, "  Hello <think>x</think>", NULL,
	    "stop", 3, 4, 7);
	check_relay_think_is(NULL, 1, 0, 0, CHECK_RELAY_MSG(
	    "  Hello <think>x</think>") CHECK_RELAY_MSG_END, &off);
	buf_free(&off);
	buf_free(&on);
}
END_TEST

/* What is held at the end goes out as what it would have been. */
START_TEST(check_relay_think_held_at_end)
{
	static const struct check_relay_piece	 unclosed[] = {
		{ 'R', "abc" }, { 'R', "</thi" }, { 0, NULL }
	};
	static const struct check_relay_piece	 open[] = {
		{ 'C', "<th" }, { 0, NULL }
	};
	static const struct check_relay_piece	 spaces[] = {
		{ 'C', " \\n" }, { 0, NULL }
	};
	struct buf				 w = BUF_INIT;

	/* An unclosed block is reasoning, "</thi" at the finish. */
	check_relay_want_stream(&w, 0, unclosed, "stop", 3, 4);
	check_relay_think_is(NULL, 1, 1, 0, CHECK_RELAY_MSG("<think>abc</thi")
	    CHECK_RELAY_MSG_END, &w);
	buf_reset(&w);
	check_relay_want_completion(&w, "", "abc</thi", "stop", 3, 4, 7);
	check_relay_think_is(NULL, 1, 0, 0, CHECK_RELAY_MSG("<think>abc</thi")
	    CHECK_RELAY_MSG_END, &w);
	/* The start of what may have been a tag is content. */
	buf_reset(&w);
	check_relay_want_stream(&w, 0, open, "stop", 3, 4);
	check_relay_think_is(NULL, 1, 1, 0, CHECK_RELAY_MSG("<th")
	    CHECK_RELAY_MSG_END, &w);
	buf_reset(&w);
	check_relay_want_completion(&w, "<th", NULL, "stop", 3, 4, 7);
	check_relay_think_is(NULL, 1, 0, 0, CHECK_RELAY_MSG("<th")
	    CHECK_RELAY_MSG_END, &w);
	/* So are spaces with nothing after them. */
	buf_reset(&w);
	check_relay_want_stream(&w, 0, spaces, "stop", 3, 4);
	check_relay_think_is(NULL, 1, 1, 0, CHECK_RELAY_MSG(" ")
	    CHECK_RELAY_MSG("\\n") CHECK_RELAY_MSG_END, &w);
	buf_free(&w);
}
END_TEST

/* A blocking JSON answer with a block: split as a streamed one is. */
START_TEST(check_relay_think_blocking)
{
	static const char			 body[] = "{\"event\":\"message\","
	    "\"task_id\":\"T\",\"id\":\"M\",\"message_id\":\"M\","
	    "\"conversation_id\":\"C\",\"mode\":\"chat\",\"answer\":"
	    "\"<think>\\nr\\n</think>\\n\\nA\",\"metadata\":{\"usage\":"
	    "{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}},"
	    "\"created_at\":1718000000}";
	static const struct check_relay_piece	 want[] = {
		{ 'R', "\\nr\\n" }, { 'C', "A" }, { 0, NULL }
	};
	struct buf				 w = BUF_INIT, got = BUF_INIT;
	char					 msg[4096];

	check_relay_want_stream(&w, 0, want, "stop", 3, 4);
	check_relay_think_run(NULL, 1, 1, 0, CHECK_RELAY_JSON, body,
	    sizeof(body) - 1, &got);
	ck_assert_msg(check_same_buf(&got, &w, msg, sizeof(msg)), "%s", msg);
	buf_reset(&w);
	buf_reset(&got);
	check_relay_want_completion(&w, "A", "\\nr\\n", "stop", 3, 4, 7);
	check_relay_think_run(NULL, 1, 0, 0, CHECK_RELAY_JSON, body,
	    sizeof(body) - 1, &got);
	ck_assert_msg(check_same_buf(&got, &w, msg, sizeof(msg)), "%s", msg);
	buf_free(&w);
	buf_free(&got);
}
END_TEST

#define CHECK_RELAY_REPLACE(a) \
	"data: {\"event\":\"message_replace\",\"conversation_id\":\"C\"," \
	"\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\"," \
	"\"answer\":\"" a "\",\"reason\":\"\"}\n\n"

/*
 * message_replace inside the block: the replacement is content (never a
 * block of its own), nothing after it is reasoning, and a non-stream
 * answer is only the replacement.
 */
START_TEST(check_relay_think_replace)
{
	static const char			 in[] =
	    CHECK_RELAY_MSG("<think>\\nabc")
	    CHECK_RELAY_REPLACE("Replaced.")
	    CHECK_RELAY_MSG(" more</think>\\n\\nx")
	    CHECK_RELAY_MSG_END;
	static const char			 held[] =
	    CHECK_RELAY_MSG("<think>\\nabc <")
	    CHECK_RELAY_REPLACE("Replaced.")
	    CHECK_RELAY_MSG("/think>x") CHECK_RELAY_MSG_END;
	static const char			 tagged[] =
	    CHECK_RELAY_REPLACE("<think>no</think>ok") CHECK_RELAY_MSG_END;
	static const struct check_relay_piece	 want[] = {
		{ 'R', "\\nabc" }, { 'C', "Replaced." }, { 0, NULL }
	};
	static const struct check_relay_piece	 want_held[] = {
		{ 'R', "\\nabc " }, { 'R', "<" }, { 'C', "Replaced." },
		{ 0, NULL }
	};
	static const struct check_relay_piece	 want_tagged[] = {
		{ 'C', "<think>no</think>ok" }, { 0, NULL }
	};
	struct check_relay_run			 t;
	struct buf				 w = BUF_INIT;

	check_relay_want_stream(&w, 0, want, "content_filter", 3, 4);
	check_relay_think_is(NULL, 1, 1, 0, in, &w);
	buf_reset(&w);
	check_relay_want_completion(&w, "Replaced.", NULL, "content_filter", 3,
	    4, 7);
	check_relay_think_is(NULL, 1, 0, 0, in, &w);

	/* The splitter is done with after the replacement. */
	check_relay_start_opts(&t, NULL, 1, 1, 0, 256 * 1024, 1024 * 1024);
	check_relay_response(&t, 200, CHECK_RELAY_SSE, NULL);
	check_relay_data(&t, CHECK_RELAY_MSG("<think>\\nabc")
	    CHECK_RELAY_REPLACE("Replaced."));
	ck_assert_int_eq(t.r.think.state, THINK_PASS);
	ck_assert_uint_eq(t.r.think.nheld, 0);
	check_relay_stop(&t);

	/*
	 * A "<" held as a possible "</think>" when the replacement comes is
	 * reasoning after all: a stream shows all of the old text, then the
	 * replacement.
	 */
	buf_reset(&w);
	check_relay_want_stream(&w, 0, want_held, "content_filter", 3, 4);
	check_relay_think_is(NULL, 1, 1, 0, held, &w);

	/* A replacement that looks like a block is plain text. */
	buf_reset(&w);
	check_relay_want_stream(&w, 0, want_tagged, "content_filter", 3, 4);
	check_relay_think_is(NULL, 1, 1, 0, tagged, &w);
	buf_reset(&w);
	check_relay_want_completion(&w, "<think>no</think>ok", NULL,
	    "content_filter", 3, 4, 7);
	check_relay_think_is(NULL, 1, 0, 0, tagged, &w);

	/* A workflow's text_replace inside the block: the same. */
	buf_reset(&w);
	check_relay_want_completion(&w, "Replaced.", NULL, "content_filter", 0,
	    0, 9);
	check_relay_think_is(&dify_app_workflow, 1, 0, 0,
	    CHECK_RELAY_WF_CHUNK("<think>\\nabc")
	    "data: {\"event\":\"text_replace\",\"task_id\":\"T\",\"data\":"
	    "{\"text\":\"Replaced.\"}}\n\n"
	    CHECK_RELAY_WF_CHUNK("</think>x")
	    CHECK_RELAY_WF_DONE("{\"text\":\"<think>\\nabc</think>x\"}"), &w);
	buf_free(&w);
}
END_TEST

/* Workflow text_chunks with a block: split as chat answers are. */
START_TEST(check_relay_think_workflow)
{
	static const char			 in[] =
	    CHECK_RELAY_WF_CHUNK("<think>\\nr") CHECK_RELAY_WF_CHUNK(
	    "\\n</think>\\n\\n") CHECK_RELAY_WF_CHUNK("Bonjour")
	    CHECK_RELAY_WF_DONE("{\"text\":\"<think>\\nr\\n</think>\\n\\n"
	    "Bonjour\"}");
	static const struct check_relay_piece	 want[] = {
		{ 'R', "\\nr" }, { 'R', "\\n" }, { 'C', "Bonjour" },
		{ 0, NULL }
	};
	struct buf				 w = BUF_INIT;

	check_relay_want_stream(&w, 0, want, "stop", 0, 0);
	check_relay_think_is(&dify_app_workflow, 1, 1, 0, in, &w);
	buf_reset(&w);
	check_relay_want_completion(&w, "Bonjour", "\\nr\\n", "stop", 0, 0, 9);
	check_relay_think_is(&dify_app_workflow, 1, 0, 0, in, &w);
	check_relay_every_split_opts("workflow think", &dify_app_workflow, 1,
	    in, 1);

	/* No text_chunk: the block in the outputs is split the same way. */
	buf_reset(&w);
	check_relay_want_completion(&w, "Bonjour", "\\nr\\n", "stop", 0, 0, 9);
	check_relay_think_is(&dify_app_workflow, 1, 0, 0, CHECK_RELAY_WF_DONE(
	    "{\"text\":\"<think>\\nr\\n</think>\\n\\nBonjour\"}"), &w);
	buf_free(&w);
}
END_TEST

/*
 * A workflow whose streamed text is nothing but a block: text did stream,
 * so the outputs (which repeat it) must not be added as the answer.
 */
START_TEST(check_relay_think_workflow_only_reasoning)
{
	static const char			 in[] =
	    CHECK_RELAY_WF_CHUNK("<think>r</think>")
	    CHECK_RELAY_WF_DONE("{\"text\":\"<think>r</think>\"}");
	static const struct check_relay_piece	 want[] = {
		{ 'R', "r" }, { 0, NULL }
	};
	struct buf				 w = BUF_INIT;

	check_relay_want_stream(&w, 0, want, "stop", 0, 0);
	check_relay_think_is(&dify_app_workflow, 1, 1, 0, in, &w);
	buf_reset(&w);
	check_relay_want_completion(&w, "", "r", "stop", 0, 0, 9);
	check_relay_think_is(&dify_app_workflow, 1, 0, 0, in, &w);
	buf_free(&w);
}
END_TEST

/* The reasoning of one tool call, JSON-escaped as the client gets it. */
#define CHECK_RELAY_TIME_TOOL \
	"Thought: I need the time.\\nTool: current_time\\n" \
	"Input: {\\\"tz\\\": \\\"UTC\\\"}\\n\\n"
#define CHECK_RELAY_TIME_THOUGHT(obs) \
	CHECK_RELAY_THOUGHT("A1", "1", "I need the time.", "current_time", \
	    "{\\\"tz\\\": \\\"UTC\\\"}", obs)

/* One thought id, sent again and again as it grows: each part once. */
START_TEST(check_relay_thought_repeated)
{
	static const char			 in[] =
	    CHECK_RELAY_THOUGHT("A1", "1", "", "", "", "")
	    CHECK_RELAY_TIME_THOUGHT("")
	    CHECK_RELAY_TIME_THOUGHT("")
	    CHECK_RELAY_TIME_THOUGHT("10:00")
	    CHECK_RELAY_TIME_THOUGHT("10:00")
	    CHECK_RELAY_THOUGHT("A2", "2", "", "", "", "")
	    CHECK_RELAY_AGENT_MSG("It is 10:00.")
	    CHECK_RELAY_THOUGHT("A2", "2", "It is 10:00.", "", "", "")
	    CHECK_RELAY_AGENT_END;
	static const struct check_relay_piece	 want[] = {
		{ 'R', CHECK_RELAY_TIME_TOOL },
		{ 'R', "Observation: 10:00\\n\\n" },
		{ 'C', "It is 10:00." }, { 0, NULL }
	};
	struct buf				 w = BUF_INIT;
	int					 usage;

	for (usage = 0; usage <= 1; usage++) {
		buf_reset(&w);
		check_relay_want_stream(&w, usage, want, "stop", 50, 7);
		check_relay_think_is(NULL, 1, 1, usage, in, &w);
		/* Thoughts are reasoning with the splitter off too. */
		check_relay_think_is(NULL, 0, 1, usage, in, &w);
	}
	buf_reset(&w);
	check_relay_want_completion(&w, "It is 10:00.", CHECK_RELAY_TIME_TOOL
	    "Observation: 10:00\\n\\n", "stop", 50, 7, 57);
	check_relay_think_is(NULL, 1, 0, 0, in, &w);
	check_relay_every_split_opts("repeated thought", NULL, 1, in, 1);
	buf_free(&w);
}
END_TEST

/* Two tool rounds (one with its result in the same event), both shown. */
START_TEST(check_relay_thought_two_rounds)
{
	static const char			 in[] =
	    CHECK_RELAY_THOUGHT("A1", "1", "", "calculator", "2+2", "")
	    CHECK_RELAY_THOUGHT("A1", "1", "", "calculator", "2+2", "4")
	    CHECK_RELAY_THOUGHT("A2", "2", "Now the weather.", "search",
	    "weather", "sunny")
	    CHECK_RELAY_THOUGHT("A3", "3", "", "", "", "")
	    CHECK_RELAY_AGENT_MSG("4, sunny.")
	    CHECK_RELAY_THOUGHT("A3", "3", "4, sunny.", "", "", "")
	    CHECK_RELAY_AGENT_END;
	static const struct check_relay_piece	 want[] = {
		{ 'R', "Tool: calculator\\nInput: 2+2\\n\\n" },
		{ 'R', "Observation: 4\\n\\n" },
		{ 'R', "Thought: Now the weather.\\nTool: search\\n"
		    "Input: weather\\n\\nObservation: sunny\\n\\n" },
		{ 'C', "4, sunny." }, { 0, NULL }
	};
	struct buf				 w = BUF_INIT;

	check_relay_want_stream(&w, 0, want, "stop", 50, 7);
	check_relay_think_is(NULL, 1, 1, 0, in, &w);
	buf_reset(&w);
	check_relay_want_completion(&w, "4, sunny.", "Tool: calculator\\n"
	    "Input: 2+2\\n\\nObservation: 4\\n\\nThought: Now the weather.\\n"
	    "Tool: search\\nInput: weather\\n\\nObservation: sunny\\n\\n",
	    "stop", 50, 7, 57);
	check_relay_think_is(NULL, 1, 0, 0, in, &w);
	buf_free(&w);
}
END_TEST

/* Several tools in one thought ("a;b"): shown as Dify sends them. */
START_TEST(check_relay_thought_several_tools)
{
	static const char			 in[] =
	    CHECK_RELAY_THOUGHT("A1", "1", "", "time;weather",
	    "{\\\"time\\\": {}, \\\"weather\\\": {\\\"city\\\": \\\"Paris\\\"}}",
	    "")
	    CHECK_RELAY_THOUGHT("A1", "1", "", "time;weather",
	    "{\\\"time\\\": {}, \\\"weather\\\": {\\\"city\\\": \\\"Paris\\\"}}",
	    "{\\\"time\\\": \\\"10:00\\\", \\\"weather\\\": \\\"sunny\\\"}")
	    CHECK_RELAY_AGENT_MSG("Ten, sunny.") CHECK_RELAY_AGENT_END;
	static const struct check_relay_piece	 want[] = {
		{ 'R', "Tool: time;weather\\nInput: {\\\"time\\\": {}, "
		    "\\\"weather\\\": {\\\"city\\\": \\\"Paris\\\"}}\\n\\n" },
		{ 'R', "Observation: {\\\"time\\\": \\\"10:00\\\", "
		    "\\\"weather\\\": \\\"sunny\\\"}\\n\\n" },
		{ 'C', "Ten, sunny." }, { 0, NULL }
	};
	struct buf				 w = BUF_INIT;

	check_relay_want_stream(&w, 0, want, "stop", 50, 7);
	check_relay_think_is(NULL, 1, 1, 0, in, &w);
	buf_free(&w);
}
END_TEST

/* A thought without a tool is not shown, nor an observation without one. */
START_TEST(check_relay_thought_no_tool)
{
	static const char			 in[] =
	    CHECK_RELAY_THOUGHT("A1", "1", "Just musing.", "", "", "")
	    CHECK_RELAY_THOUGHT("A1", "1", "Just musing.", "", "", "stray")
	    CHECK_RELAY_AGENT_MSG("Hi.") CHECK_RELAY_AGENT_END;
	static const struct check_relay_piece	 want[] = {
		{ 'C', "Hi." }, { 0, NULL }
	};
	struct buf				 w = BUF_INIT;

	check_relay_want_stream(&w, 0, want, "stop", 50, 7);
	check_relay_think_is(NULL, 1, 1, 0, in, &w);
	buf_reset(&w);
	check_relay_want_completion(&w, "Hi.", NULL, "stop", 50, 7, 57);
	check_relay_think_is(NULL, 1, 0, 0, in, &w);
	buf_free(&w);
}
END_TEST

/* Append n copies of s. */
static void
check_relay_rep(struct buf *b, const char *s, size_t n)
{
	while (n-- > 0)
		buf_add_str(b, s);
}

/*
 * Long fields are cut at 4096 bytes, back to a UTF-8 boundary, with
 * " [...]": a 5000-byte observation with a 3-byte character across byte
 * 4096 keeps 4095 bytes, one with a 4-byte emoji there keeps 4094;
 * a 4096-byte input is whole, a 4097-byte one cut; a thought of 2-byte
 * characters off by one keeps 4095.
 */
START_TEST(check_relay_thought_long)
{
	struct buf	 in = BUF_INIT, w = BUF_INIT, got = BUF_INIT, obs1 = BUF_INIT,
			 obs2 = BUF_INIT, thought = BUF_INIT, e = BUF_INIT;
	char		 msg[4096];

	/* 4095 'a', "你" at 4095..4097, 'b' to 5000 bytes. */
	check_relay_rep(&obs1, "a", 4095);
	buf_add_str(&obs1, "\xe4\xbd\xa0");
	check_relay_rep(&obs1, "b", 5000 - obs1.len);
	ck_assert_uint_eq(obs1.len, 5000);
	/* 4094 'a', "🙂" at 4094..4097, 'c' to 5000 bytes. */
	check_relay_rep(&obs2, "a", 4094);
	buf_add_str(&obs2, "\xf0\x9f\x99\x82");
	check_relay_rep(&obs2, "c", 5000 - obs2.len);
	ck_assert_uint_eq(obs2.len, 5000);
	/* "x" then "é" (2 bytes) to 4101 bytes: byte 4096 continues one. */
	buf_add_str(&thought, "x");
	check_relay_rep(&thought, "\xc3\xa9", 2050);

	buf_add_str(&in, "data: {\"event\":\"agent_thought\",\"task_id\":\"T\","
	    "\"id\":\"A1\",\"position\":1,\"thought\":\"\",\"observation\":\"");
	buf_add(&in, obs1.data, obs1.len);
	buf_add_str(&in, "\",\"tool\":\"t1\",\"tool_input\":\"");
	check_relay_rep(&in, "i", 4096);
	buf_add_str(&in, "\"}\n\n");
	buf_add_str(&in, "data: {\"event\":\"agent_thought\",\"task_id\":\"T\","
	    "\"id\":\"A2\",\"position\":2,\"thought\":\"");
	buf_add(&in, thought.data, thought.len);
	buf_add_str(&in, "\",\"observation\":\"\",\"tool\":\"t2\","
	    "\"tool_input\":\"");
	check_relay_rep(&in, "j", 4097);
	buf_add_str(&in, "\"}\n\n");
	buf_add_str(&in, "data: {\"event\":\"agent_thought\",\"task_id\":\"T\","
	    "\"id\":\"A2\",\"position\":2,\"thought\":\"\",\"observation\":\"");
	buf_add(&in, obs2.data, obs2.len);
	buf_add_str(&in, "\",\"tool\":\"t2\",\"tool_input\":\"\"}\n\n");
	buf_add_str(&in, CHECK_RELAY_AGENT_MSG("ok") CHECK_RELAY_AGENT_END);

	/* The first thought: tool and result in one event, one chunk. */
	buf_add_str(&e, "Tool: t1\\nInput: ");
	check_relay_rep(&e, "i", 4096);
	buf_add_str(&e, "\\n\\nObservation: ");
	check_relay_rep(&e, "a", 4095);
	buf_add_str(&e, " [...]\\n\\n");
	check_relay_want_role(&w, 0);
	check_relay_want_reasoning(&w, 0, buf_cstr(&e));
	buf_reset(&e);
	buf_add_str(&e, "Thought: ");
	buf_add(&e, thought.data, 4095);
	buf_add_str(&e, " [...]\\nTool: t2\\nInput: ");
	check_relay_rep(&e, "j", 4096);
	buf_add_str(&e, " [...]\\n\\n");
	check_relay_want_reasoning(&w, 0, buf_cstr(&e));
	buf_reset(&e);
	buf_add_str(&e, "Observation: ");
	check_relay_rep(&e, "a", 4094);
	buf_add_str(&e, " [...]\\n\\n");
	check_relay_want_reasoning(&w, 0, buf_cstr(&e));
	check_relay_want_content(&w, 0, "ok");
	check_relay_want_finish(&w, 0, "stop");
	check_relay_want_done(&w);

	check_relay_think_run(NULL, 1, 1, 0, CHECK_RELAY_SSE, in.data, in.len,
	    &got);
	ck_assert_msg(check_same_buf(&got, &w, msg, sizeof(msg)), "%s", msg);
	/* Nothing of the cut tails went out. */
	ck_assert_ptr_null(memmem(got.data, got.len, "bbbb", 4));
	ck_assert_ptr_null(memmem(got.data, got.len, "\xe4\xbd\xa0", 3));
	ck_assert_ptr_null(memmem(got.data, got.len, "\xf0\x9f\x99\x82", 4));
	buf_free(&in);
	buf_free(&w);
	buf_free(&got);
	buf_free(&obs1);
	buf_free(&obs2);
	buf_free(&thought);
	buf_free(&e);
}
END_TEST

/*
 * An agent whose tool made a file, answering with a reasoning model: the
 * file's link comes first (message_file before the agent_message text),
 * then the answer with its block.  The link is the proxy's text, not the
 * model's: the block at the start of the model's answer is still
 * reasoning.
 */
START_TEST(check_relay_think_agent_file_first)
{
	static const char			 in[] =
	    CHECK_RELAY_THOUGHT("A1", "1", "", "dalle", "a cat", "")
	    CHECK_RELAY_THOUGHT("A1", "1", "", "dalle", "a cat", "done")
	    "data: {\"event\":\"message_file\",\"conversation_id\":\"C\","
	    "\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\","
	    "\"id\":\"F1\",\"type\":\"image\",\"belongs_to\":\"assistant\","
	    "\"url\":\"https://upload.dify.ai/files/F1/file-preview?s=x\"}\n\n"
	    CHECK_RELAY_THOUGHT("A2", "2", "", "", "", "")
	    CHECK_RELAY_AGENT_MSG("<think>\\nplan\\n</think>\\n\\nA cat.")
	    CHECK_RELAY_AGENT_END;
	static const struct check_relay_piece	 want[] = {
		{ 'R', "Tool: dalle\\nInput: a cat\\n\\n" },
		{ 'R', "Observation: done\\n\\n" },
		{ 'C', "![image](https://upload.dify.ai/files/F1/"
		    "file-preview?s=x)\\n\\n" },
		{ 'R', "\\nplan\\n" }, { 'C', "A cat." }, { 0, NULL }
	};
	struct buf				 w = BUF_INIT;

	check_relay_want_stream(&w, 0, want, "stop", 50, 7);
	check_relay_think_is(NULL, 1, 1, 0, in, &w);
	buf_free(&w);
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
	tcase_add_test(tc, check_relay_tap_answer);
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

	tc = tcase_create("reasoning");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, check_relay_think_stream);
	tcase_add_test(tc, check_relay_think_byte_events);
	tcase_add_test(tc, check_relay_think_off);
	tcase_add_test(tc, check_relay_think_no_block);
	tcase_add_test(tc, check_relay_think_held_at_end);
	tcase_add_test(tc, check_relay_think_blocking);
	tcase_add_test(tc, check_relay_think_replace);
	tcase_add_test(tc, check_relay_think_workflow);
	tcase_add_test(tc, check_relay_think_workflow_only_reasoning);
	tcase_add_test(tc, check_relay_thought_repeated);
	tcase_add_test(tc, check_relay_thought_two_rounds);
	tcase_add_test(tc, check_relay_thought_several_tools);
	tcase_add_test(tc, check_relay_thought_no_tool);
	tcase_add_test(tc, check_relay_thought_long);
	tcase_add_test(tc, check_relay_think_agent_file_first);
	suite_add_tcase(s, tc);
	return (s);
}
