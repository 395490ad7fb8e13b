/*
 * it_apps: completion and workflow apps, how the proxy finds out which
 * kind an app is (GET /info, the guess chain, the cache), and the "apps"
 * config that routes by model name.
 *
 * The "kinds" case shares one look-alike and one passthrough proxy; the
 * others start the proxies they need inside the test (a fresh cache, a
 * config of their own), and stop them before the test ends.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "it_suites.h"

static struct proc	ap_mock, ap_proxy;

/* One look-alike and one default (passthrough) proxy for the case. */
static void
ap_setup(void)
{
	harness_mock_start(&ap_mock, NULL);
	harness_proxy_start(&ap_proxy, ap_mock.port, NULL);
}

/* Stop both; the proxy must exit cleanly with no sanitizer report. */
static void
ap_teardown(void)
{
	int	rc = harness_proc_stop(&ap_proxy);
	int	mrc = harness_proc_stop(&ap_mock);

	ck_assert_msg(rc == 0, "proxy did not shut down cleanly");
	ck_assert_msg(mrc == 0, "look-alike did not shut down cleanly");
}

/* A look-alike for the config case (each test starts its proxies). */
static void
ap_cfg_setup(void)
{
	harness_mock_start(&ap_mock, NULL);
}

/* Stop the config case's look-alike. */
static void
ap_cfg_teardown(void)
{
	ck_assert_msg(harness_proc_stop(&ap_mock) == 0,
	    "look-alike did not shut down cleanly");
}

/* Stop a proxy a test started; it must exit 0 with no sanitizer report. */
static void
ap_stop(struct proc *p)
{
	ck_assert_msg(harness_proc_stop(p) == 0, "proxy %s did not shut down "
	    "cleanly", p->log);
}

/*
 * A chat body naming model with one user message; extra holds more
 * members ("\"user\":\"x\"") or is NULL.  Caller frees it.
 */
static char *
ap_body(const char *model, const char *text, const char *extra, int stream,
    int include_usage)
{
	json_t	*j;
	char	*s, *t;

	j = json_pack("{s:s, s:[{s:s, s:s}]}", "model", model, "messages",
	    "role", "user", "content", text);
	ck_assert_ptr_nonnull(j);
	if (stream)
		json_object_set_new(j, "stream", json_true());
	if (include_usage)
		json_object_set_new(j, "stream_options",
		    json_pack("{s:b}", "include_usage", 1));
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (extra != NULL) {
		if (asprintf(&t, "%.*s,%s}", (int)strlen(s) - 1, s, extra) < 0)
			abort();
		free(s);
		s = t;
	}
	return (s);
}

/*
 * The content of a chat.completion, checking its shape and a "stop"
 * finish; *usage (if not NULL) gets its usage object (caller decrefs).
 */
static char *
ap_json_content(const struct http_response *r, json_t **usage)
{
	json_t	*j, *choice, *msg;
	char	*h, *content;

	h = http_header(r, "Content-Type");
	ck_assert_str_eq(h, "application/json");
	free(h);
	j = json_loads(r->body, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", r->body);
	ck_assert_str_eq(json_string_value(json_object_get(j, "object")),
	    "chat.completion");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "choices")), 1);
	choice = json_array_get(json_object_get(j, "choices"), 0);
	msg = json_object_get(choice, "message");
	ck_assert_str_eq(json_string_value(json_object_get(msg, "role")),
	    "assistant");
	ck_assert_msg(json_is_string(json_object_get(msg, "content")),
	    "content is not a string: %s", r->body);
	ck_assert_str_eq(json_string_value(json_object_get(choice,
	    "finish_reason")), "stop");
	content = strdup(json_string_value(json_object_get(msg, "content")));
	if (usage != NULL)
		*usage = json_incref(json_object_get(j, "usage"));
	json_decref(j);
	return (content);
}

/*
 * The content of a stream, checking the framing: SSE headers, the role
 * chunk first, exactly one finish (with "stop"), then the usage chunk
 * when one came, then [DONE].  *usage (if not NULL) gets the usage
 * chunk's usage, NULL when there is none (caller decrefs).
 */
static char *
ap_stream_content(const struct http_response *r, json_t **usage)
{
	struct sse_frames	 f;
	json_t			*j, *u = NULL;
	const char		*fr;
	char			*h, *content;
	size_t			 i, last, finishes = 0, finish_at = 0;

	h = http_header(r, "Content-Type");
	ck_assert_str_eq(h, "text/event-stream");
	free(h);
	ck_assert(r->complete);
	sse_split(r->body, r->bodylen, &f);
	ck_assert_msg(f.well_formed, "bad framing: %s", r->body);
	ck_assert_uint_ge(f.n, 3);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	last = f.n - 2;
	for (i = 0; i + 1 < f.n; i++) {
		j = json_loads(f.data[i], 0, NULL);
		ck_assert_msg(j != NULL, "frame %zu not JSON: %s", i,
		    f.data[i]);
		ck_assert_msg(json_object_get(j, "error") == NULL,
		    "error frame: %s", f.data[i]);
		ck_assert_str_eq(json_string_value(json_object_get(j,
		    "object")), "chat.completion.chunk");
		if (i == 0)
			ck_assert_str_eq(json_string_value(json_object_get(
			    json_object_get(json_array_get(json_object_get(j,
			    "choices"), 0), "delta"), "role")), "assistant");
		if (i == last && json_array_size(json_object_get(j,
		    "choices")) == 0) {
			/* The include_usage chunk. */
			u = json_incref(json_object_get(j, "usage"));
			ck_assert_msg(json_is_object(u), "usage chunk: %s",
			    f.data[i]);
		}
		fr = json_string_value(json_object_get(json_array_get(
		    json_object_get(j, "choices"), 0), "finish_reason"));
		if (fr != NULL) {
			ck_assert_str_eq(fr, "stop");
			finishes++;
			finish_at = i;
		}
		json_decref(j);
	}
	ck_assert_uint_eq(finishes, 1);
	/* The finish is the last chunk but for the usage chunk. */
	ck_assert_uint_eq(finish_at, u != NULL ? last - 1 : last);
	content = sse_content(&f);
	sse_frames_free(&f);
	if (usage != NULL)
		*usage = u;
	else
		json_decref(u);
	return (content);
}

/*
 * POST body with the key (NULL: no Authorization) and expect a 200
 * answer; returns its content, streamed or not as the body asked.
 */
static char *
ap_ask(int port, const char *key, const char *body, int stream,
    json_t **usage)
{
	struct http_response	 r;
	char			*content;

	ck_assert_int_eq(http_chat(port, key, body, &r), 0);
	ck_assert_msg(r.status == 200, "status %d for %s: %s", r.status, body,
	    r.body);
	content = stream ? ap_stream_content(&r, usage) :
	    ap_json_content(&r, usage);
	http_response_free(&r);
	return (content);
}

/* Ask with a one-message body and compare the content with want. */
static void
ap_expect(int port, const char *key, const char *model, const char *text,
    int stream, const char *want)
{
	char	*body, *got;

	body = ap_body(model, text, NULL, stream, 0);
	got = ap_ask(port, key, body, stream, NULL);
	ck_assert_msg(strcmp(got, want) == 0, "%s (stream=%d): got \"%s\", "
	    "want \"%s\"", text, stream, got, want);
	free(got);
	free(body);
}

/* Check a usage object's three counts. */
static void
ap_usage_is(json_t *u, long long prompt, long long completion,
    long long total)
{
	ck_assert_msg(json_is_object(u), "no usage");
	ck_assert_int_eq(json_integer_value(json_object_get(u,
	    "prompt_tokens")), prompt);
	ck_assert_int_eq(json_integer_value(json_object_get(u,
	    "completion_tokens")), completion);
	ck_assert_int_eq(json_integer_value(json_object_get(u,
	    "total_tokens")), total);
}

/*
 * Check an OpenAI error body: status, shape, type and code.  Returns the
 * message (caller frees).
 */
static char *
ap_error(const struct http_response *r, int status, const char *type,
    const char *code)
{
	json_t	*j, *e;
	char	*h, *msg;

	ck_assert_msg(r->status == status, "status %d, want %d: %s",
	    r->status, status, r->body);
	h = http_header(r, "Content-Type");
	ck_assert_str_eq(h, "application/json");
	free(h);
	j = json_loads(r->body, 0, NULL);
	ck_assert_msg(j != NULL, "error body is not JSON: %s", r->body);
	ck_assert_uint_eq(json_object_size(j), 1);
	e = json_object_get(j, "error");
	ck_assert_msg(json_is_object(e), "no error object: %s", r->body);
	ck_assert(json_is_string(json_object_get(e, "message")));
	ck_assert(json_object_get(e, "param") != NULL);
	ck_assert_str_eq(json_string_value(json_object_get(e, "type")), type);
	ck_assert_str_eq(json_string_value(json_object_get(e, "code")), code);
	msg = strdup(json_string_value(json_object_get(e, "message")));
	json_decref(j);
	return (msg);
}

/* The look-alike's generation requests since the last reset. */
static json_t *
ap_requests(int mock_port)
{
	json_t	*reqs = mock_get(mock_port, "/mock/requests");

	ck_assert_msg(json_is_array(reqs), "no /mock/requests");
	return (reqs);
}

/* How many generation requests the look-alike got since the last reset. */
static size_t
ap_nrequests(int mock_port)
{
	json_t	*reqs = ap_requests(mock_port);
	size_t	 n = json_array_size(reqs);

	json_decref(reqs);
	return (n);
}

/* The paths of those requests, space-separated (caller frees). */
static char *
ap_paths(int mock_port)
{
	json_t	*reqs = ap_requests(mock_port), *r;
	char	*out = strdup(""), *t;
	size_t	 i;

	json_array_foreach(reqs, i, r) {
		if (asprintf(&t, "%s%s%s", out, i > 0 ? " " : "",
		    json_string_value(json_object_get(r, "path"))) < 0)
			abort();
		free(out);
		out = t;
	}
	json_decref(reqs);
	return (out);
}

/* The one request the look-alike got since the last reset. */
static json_t *
ap_only_request(int mock_port)
{
	json_t	*reqs = ap_requests(mock_port), *r;

	ck_assert_msg(json_array_size(reqs) == 1, "%zu requests, want 1",
	    json_array_size(reqs));
	r = json_incref(json_array_get(reqs, 0));
	json_decref(reqs);
	return (r);
}

/* A string member of a record, "" if absent. */
static const char *
ap_str(json_t *o, const char *name)
{
	const char	*s = json_string_value(json_object_get(o, name));

	return (s != NULL ? s : "");
}

/* Check a record's path and key. */
static void
ap_request_is(json_t *rec, const char *path, const char *key)
{
	ck_assert_str_eq(ap_str(rec, "path"), path);
	ck_assert_str_eq(ap_str(rec, "key"), key);
}

/* Check a record's inputs equal the JSON text want. */
static void
ap_inputs_are(json_t *rec, const char *want)
{
	json_t	*w = json_loads(want, 0, NULL);
	char	*got;

	ck_assert_ptr_nonnull(w);
	got = json_dumps(json_object_get(rec, "inputs"), JSON_COMPACT |
	    JSON_SORT_KEYS | JSON_ENCODE_ANY);
	ck_assert_msg(json_equal(json_object_get(rec, "inputs"), w),
	    "inputs %s, want %s", got, want);
	free(got);
	json_decref(w);
}

/* A counter of GET /mock/stats. */
static long long
ap_stat(int mock_port, const char *name)
{
	json_t		*s = mock_get(mock_port, "/mock/stats");
	long long	 v;

	ck_assert_msg(json_is_integer(json_object_get(s, name)), "no %s",
	    name);
	v = json_integer_value(json_object_get(s, name));
	json_decref(s);
	return (v);
}

/* Send a chat request on an open socket without reading. */
static void
ap_send(int fd, const char *key, const char *body)
{
	char	*req;
	int	 n;

	n = asprintf(&req, "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
	    "Connection: close\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n%s", key, strlen(body), body);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(http_send_all(fd, req, (size_t)n), 0);
	free(req);
}

/* Read from fd until needle shows up or timeout_ms passes. */
static int
ap_read_until(int fd, const char *needle, int timeout_ms)
{
	char		 buf[65536];
	size_t		 len = 0;
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	ssize_t		 n;

	for (; timeout_ms > 0; timeout_ms -= 50) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
			return (0);
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, needle) != NULL)
			return (1);
		if (len > sizeof(buf) / 2) {
			memmove(buf, buf + len - 1024, 1024);
			len = 1024;
		}
	}
	return (0);
}

/* Wait until the look-alike recorded n stop calls; returns them. */
static json_t *
ap_wait_stops(int mock_port, size_t n, int timeout_ms)
{
	json_t	*stops = NULL;

	for (; timeout_ms > 0; timeout_ms -= 50) {
		json_decref(stops);
		stops = mock_get(mock_port, "/mock/stops");
		if (json_array_size(stops) >= n)
			break;
		harness_sleep_ms(50);
	}
	return (stops);
}

/*
 * Stream a long answer from key through the proxy on port, hang up after
 * two pieces, and check the look-alike on mock_port got exactly one stop
 * call on prefix + task + suffix for the stream's task, with the key.
 */
static void
ap_disconnect_stops(int port, int mock_port, const char *key,
    const char *model, const char *prefix, const char *suffix)
{
	json_t	*stops, *streams, *stop;
	char	*body, want[256];
	int	 fd;

	body = ap_body(model, "mock:events=50 mock:interval=100",
	    "\"user\":\"dave\"", 1, 0);
	ck_assert_int_ge(fd = http_connect(port), 0);
	ap_send(fd, key, body);
	ck_assert_msg(ap_read_until(fd, "\"content\":\"w1 \"", 5000),
	    "no second piece before the hang-up");
	close(fd);
	stops = ap_wait_stops(mock_port, 1, 4000);
	ck_assert_msg(json_array_size(stops) == 1, "%zu stop calls, want 1",
	    json_array_size(stops));
	stop = json_array_get(stops, 0);
	streams = mock_get(mock_port, "/mock/streams");
	ck_assert_uint_eq(json_array_size(streams), 1);
	snprintf(want, sizeof(want), "%s%s%s", prefix,
	    ap_str(json_array_get(streams, 0), "task_id"), suffix);
	ck_assert_str_eq(ap_str(stop, "path"), want);
	ck_assert_str_eq(ap_str(stop, "key"), key);
	ck_assert_str_eq(ap_str(stop, "user"), "dave");
	json_decref(streams);
	json_decref(stops);
	free(body);
}

/* Completion key: echo; completion-messages, inputs.prompt, no conversation. */
START_TEST(completion_app_by_passthrough_key)
{
	static const char	 text[] = "Tell me a story mock:usage=5,7";
	int			 stream = _i;
	json_t			*rec, *body, *u;
	char			*b, *got;

	mock_reset(ap_mock.port);
	b = ap_body("gpt-4o", text, NULL, stream, 0);
	got = ap_ask(ap_proxy.port, "app-completion", b, stream, &u);
	ck_assert_str_eq(got, "Echo: Tell me a story mock:usage=5,7");
	if (!stream)
		ap_usage_is(u, 5, 7, 12);
	else
		ck_assert_ptr_null(u);	/* none without include_usage */
	json_decref(u);
	free(got);
	free(b);

	rec = ap_only_request(ap_mock.port);
	ap_request_is(rec, "/v1/completion-messages", "app-completion");
	ap_inputs_are(rec, "{\"prompt\":\"Tell me a story mock:usage=5,7\"}");
	body = json_object_get(rec, "body");
	ck_assert(json_is_object(body));
	ck_assert_ptr_null(json_object_get(body, "conversation_id"));
	/* The form names the input: no legacy top-level query. */
	ck_assert_ptr_null(json_object_get(body, "query"));
	ck_assert_str_eq(ap_str(body, "response_mode"), "streaming");
	ck_assert_str_eq(ap_str(body, "user"), "openai-dify-proxy");
	json_decref(rec);
}
END_TEST

/* Completion stream, include_usage: stop, the mock's usage chunk, [DONE]. */
START_TEST(completion_app_stream_include_usage)
{
	char	*b, *got;
	json_t	*u;

	mock_reset(ap_mock.port);
	b = ap_body("gpt-4o", "Count mock:usage=5,7", NULL, 1, 1);
	got = ap_ask(ap_proxy.port, "app-completion", b, 1, &u);
	ck_assert_str_eq(got, "Echo: Count mock:usage=5,7");
	ap_usage_is(u, 5, 7, 12);
	json_decref(u);
	free(got);
	free(b);
}
END_TEST

/* A completion app without a form: text in inputs.query and in query. */
START_TEST(completion_app_without_form_sends_query_twice)
{
	int	 stream = _i;
	json_t	*rec, *body;

	mock_reset(ap_mock.port);
	ap_expect(ap_proxy.port, "app-completion-plain", "gpt-4o",
	    "Plain words", stream, "Echo: Plain words");
	rec = ap_only_request(ap_mock.port);
	ap_request_is(rec, "/v1/completion-messages", "app-completion-plain");
	ap_inputs_are(rec, "{\"query\":\"Plain words\"}");
	body = json_object_get(rec, "body");
	ck_assert_str_eq(ap_str(body, "query"), "Plain words");
	ck_assert_ptr_null(json_object_get(body, "conversation_id"));
	json_decref(rec);
}
END_TEST

/* History and a system prompt: the completion input holds the transcript. */
START_TEST(completion_app_gets_the_transcript)
{
	static const char	 body[] = "{\"model\":\"gpt-4o\",\"messages\":["
	    "{\"role\":\"user\",\"content\":\"Hi\"},"
	    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
	    "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"What is 2+2?\"}]}]%s}";
	static const char	 want[] = "System: Be brief.\n\nUser: Hi\n\n"
	    "Assistant: Hello!\n\nUser: What is 2+2?";
	int			 stream = _i;
	json_t			*rec;
	char			*b, *got, echo[256];

	mock_reset(ap_mock.port);
	if (asprintf(&b, body, stream ? ",\"stream\":true" : "") < 0)
		abort();
	got = ap_ask(ap_proxy.port, "app-completion", b, stream, NULL);
	snprintf(echo, sizeof(echo), "Echo: %s", want);
	ck_assert_str_eq(got, echo);
	rec = ap_only_request(ap_mock.port);
	ap_request_is(rec, "/v1/completion-messages", "app-completion");
	ck_assert_str_eq(ap_str(json_object_get(rec, "inputs"), "prompt"),
	    want);
	ck_assert_uint_eq(json_object_size(json_object_get(rec, "inputs")), 1);
	ck_assert_ptr_null(json_object_get(json_object_get(rec, "body"),
	    "conversation_id"));
	json_decref(rec);
	free(got);
	free(b);
}
END_TEST

/* Workflow: text_chunks, inputs.input_text only, workflow_finished usage. */
START_TEST(workflow_app_streams_text_chunks)
{
	static const char	 text[] = "Translate this mock:usage=30,12";
	int			 stream = _i;
	json_t			*rec, *u;
	char			*b, *got;

	mock_reset(ap_mock.port);
	b = ap_body("gpt-4o", text, NULL, stream, stream);
	got = ap_ask(ap_proxy.port, "app-workflow", b, stream, &u);
	ck_assert_str_eq(got, "Echo: Translate this mock:usage=30,12");
	/* A workflow reports only a total: prompt and completion are 0. */
	ap_usage_is(u, 0, 0, 42);
	json_decref(u);
	free(got);
	free(b);
	rec = ap_only_request(ap_mock.port);
	ap_request_is(rec, "/v1/workflows/run", "app-workflow");
	/* The paragraph input gets the text; the text-input lang is not sent. */
	ap_inputs_are(rec,
	    "{\"input_text\":\"Translate this mock:usage=30,12\"}");
	ck_assert_ptr_null(json_object_get(json_object_get(rec, "body"),
	    "query"));
	ck_assert_ptr_null(json_object_get(json_object_get(rec, "body"),
	    "conversation_id"));
	json_decref(rec);
}
END_TEST

/* No text_chunk: the answer is picked from the outputs by the rules. */
START_TEST(workflow_output_selection)
{
	static const struct {
		const char	*shape;
		const char	*want;	/* NULL: JSON, compared below */
	} cases[] = {
		{ "text", "A" }, { "answer", "A" }, { "output", "A" },
		{ "result", "A" }, { "single", "A" }, { "multi", NULL },
		{ "object", NULL }, { "named", "decoy" }, { "none", "" },
	};
	int	 stream = _i;
	size_t	 i;
	json_t	*got_j, *want_j;
	char	 text[128], answer[160], *b, *got, *want_text;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "Sum mock:no_text_chunk "
		    "mock:wf_outputs=%s", cases[i].shape);
		snprintf(answer, sizeof(answer), "Echo: %s", text);
		b = ap_body("gpt-4o", text, NULL, stream, 0);
		got = ap_ask(ap_proxy.port, "app-workflow", b, stream, NULL);
		if (cases[i].want != NULL) {
			ck_assert_msg(strcmp(got, strcmp(cases[i].want, "A") ==
			    0 ? answer : cases[i].want) == 0,
			    "%s (stream=%d): got \"%s\"", cases[i].shape,
			    stream, got);
		} else {
			/* All the outputs, as JSON text. */
			if (strcmp(cases[i].shape, "multi") == 0)
				want_j = json_pack("{s:s, s:s}", "title", "T",
				    "body", answer);
			else
				want_j = json_pack("{s:{s:s, s:i}}", "data",
				    "answer", answer, "n", 1);
			got_j = json_loads(got, 0, NULL);
			want_text = json_dumps(want_j, JSON_COMPACT);
			ck_assert_msg(got_j != NULL && json_equal(got_j, want_j),
			    "%s (stream=%d): got \"%s\", want %s",
			    cases[i].shape, stream, got, want_text);
			free(want_text);
			json_decref(got_j);
			json_decref(want_j);
		}
		free(got);
		free(b);
	}
}
END_TEST

/* A configured "output" is the answer, not "decoy", text chunks or not. */
START_TEST(configured_output_is_the_answer)
{
	static const char *const	 texts[] = {
		"Go mock:wf_outputs=named",
		"Go mock:wf_outputs=named mock:no_text_chunk",
		"Go mock:wf_outputs=named mock:events=4",
	};
	struct proc			 p;
	json_t				*rec;
	char				 want[128];
	size_t				 i;
	int				 stream;

	harness_proxy_start(&p, ap_mock.port, "\"apps\": [{\"model\": "
	    "\"wf-final\", \"key\": \"app-workflow\", \"output\": "
	    "\"final\"}]");
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		for (stream = 0; stream < 2; stream++) {
			mock_reset(ap_mock.port);
			if (i == 2)
				mock_words(4, want, sizeof(want));
			else
				snprintf(want, sizeof(want), "Echo: %s",
				    texts[i]);
			ap_expect(p.port, NULL, "wf-final", texts[i], stream,
			    want);
			rec = ap_only_request(ap_mock.port);
			ap_request_is(rec, "/v1/workflows/run",
			    "app-workflow");
			json_decref(rec);
		}
	}
	ap_stop(&p);
}
END_TEST

/* A failed workflow: 502 workflow_failed, or an error frame, no [DONE]. */
START_TEST(failed_workflow_is_an_error)
{
	struct http_response	 r;
	struct sse_frames	 f;
	json_t			*j, *e;
	char			*b, *msg;
	size_t			 i, errors = 0;

	mock_reset(ap_mock.port);
	b = ap_body("gpt-4o", "x mock:workflow_failed", NULL, 0, 0);
	ck_assert_int_eq(http_chat(ap_proxy.port, "app-workflow", b, &r), 0);
	msg = ap_error(&r, 502, "server_error", "workflow_failed");
	ck_assert_msg(strncmp(msg, "Run failed: mock failure", 24) == 0,
	    "message: %s", msg);
	free(msg);
	http_response_free(&r);
	free(b);

	b = ap_body("gpt-4o", "x mock:workflow_failed", NULL, 1, 0);
	ck_assert_int_eq(http_chat(ap_proxy.port, "app-workflow", b, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(r.complete);
	sse_split(r.body, r.bodylen, &f);
	ck_assert_msg(f.well_formed, "bad framing: %s", r.body);
	ck_assert_uint_ge(f.n, 1);
	j = json_loads(f.data[f.n - 1], 0, NULL);
	e = json_object_get(j, "error");
	ck_assert_msg(json_is_object(e), "last frame: %s", f.data[f.n - 1]);
	ck_assert_str_eq(ap_str(e, "code"), "workflow_failed");
	ck_assert_str_eq(ap_str(e, "type"), "server_error");
	ck_assert_msg(strncmp(ap_str(e, "message"), "Run failed: mock failure",
	    24) == 0, "message: %s", ap_str(e, "message"));
	json_decref(j);
	for (i = 0; i < f.n; i++)
		if (strncmp(f.data[i], "{\"error\"", 8) == 0)
			errors++;
	ck_assert_uint_eq(errors, 1);
	ck_assert(strstr(r.body, "[DONE]") == NULL);
	ck_assert(strstr(r.body, "\"finish_reason\":\"stop\"") == NULL);
	sse_frames_free(&f);
	http_response_free(&r);
	free(b);
}
END_TEST

/* Client gone mid-stream: POST /v1/completion-messages/{task}/stop. */
START_TEST(disconnect_stops_completion_task)
{
	mock_reset(ap_mock.port);
	ap_disconnect_stops(ap_proxy.port, ap_mock.port, "app-completion",
	    "gpt-4o", "/v1/completion-messages/", "/stop");
}
END_TEST

/* Client gone mid-stream: POST /v1/workflows/tasks/{task}/stop. */
START_TEST(disconnect_stops_workflow_task)
{
	mock_reset(ap_mock.port);
	ap_disconnect_stops(ap_proxy.port, ap_mock.port, "app-workflow",
	    "gpt-4o", "/v1/workflows/tasks/", "/stop");
}
END_TEST

/* /info and /parameters are asked once per key per worker, then cached. */
START_TEST(detection_is_cached_per_key)
{
	struct proc	p;
	long long	info, params;
	int		k;

	harness_proxy_start(&p, ap_mock.port, "\"workers\": 1");
	mock_reset(ap_mock.port);
	info = ap_stat(ap_mock.port, "info_calls");
	params = ap_stat(ap_mock.port, "parameters_calls");
	for (k = 0; k < 2; k++)
		ap_expect(p.port, "app-workflow", "gpt-4o", "Cache me", k,
		    "Echo: Cache me");
	ck_assert_int_eq(ap_stat(ap_mock.port, "info_calls"), info + 1);
	ck_assert_int_eq(ap_stat(ap_mock.port, "parameters_calls"),
	    params + 1);
	ck_assert_int_eq(ap_stat(ap_mock.port, "workflow_requests"), 2);
	ck_assert_int_eq(ap_stat(ap_mock.port, "chat_requests"), 0);
	ap_stop(&p);
}
END_TEST

/* No mode in /info: guess chat, completion, workflow; then use the cache. */
START_TEST(detection_guess_chain_then_cache)
{
	static const struct {
		const char	*key;
		const char	*first;
		const char	*second;
	} cases[] = {
		{ "app-legacy-completion",
		    "/v1/chat-messages /v1/completion-messages",
		    "/v1/completion-messages" },
		{ "app-legacy-workflow",
		    "/v1/chat-messages /v1/completion-messages "
		    "/v1/workflows/run", "/v1/workflows/run" },
		{ "app-info-nomode", "/v1/chat-messages",
		    "/v1/chat-messages" },
	};
	struct proc	 p;
	int		 stream = _i;
	size_t		 i;
	char		*paths;

	harness_proxy_start(&p, ap_mock.port, "\"workers\": 1");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mock_reset(ap_mock.port);
		ap_expect(p.port, cases[i].key, "gpt-4o", "Guess me", stream,
		    "Echo: Guess me");
		paths = ap_paths(ap_mock.port);
		ck_assert_msg(strcmp(paths, cases[i].first) == 0,
		    "%s first (stream=%d): %s", cases[i].key, stream, paths);
		free(paths);
		ck_assert_int_eq(ap_stat(ap_mock.port, "info_calls"), 1);

		mock_reset(ap_mock.port);
		ap_expect(p.port, cases[i].key, "gpt-4o", "Again", stream,
		    "Echo: Again");
		paths = ap_paths(ap_mock.port);
		ck_assert_msg(strcmp(paths, cases[i].second) == 0,
		    "%s second (stream=%d): %s", cases[i].key, stream, paths);
		free(paths);
		ck_assert_int_eq(ap_stat(ap_mock.port, "info_calls"), 0);
		ck_assert_int_eq(ap_stat(ap_mock.port, "parameters_calls"), 0);
	}
	ap_stop(&p);
}
END_TEST

/* The config of the routing tests: three apps, one key from the environment. */
#define AP_THREE_APPS \
	"\"apps\": [" \
	"{\"model\": \"support\", \"key\": \"env:ITAPPS_SUPPORT_KEY\"}, " \
	"{\"model\": \"writer\", \"key\": \"app-completion\", " \
	"\"mode\": \"completion\"}, " \
	"{\"model\": \"translate\", \"key\": \"app-workflow\", " \
	"\"inputs\": {\"lang\": \"fr\"}}]"

/* Check a 404 model_not_found names the model and no app key. */
static void
ap_model_not_found(const struct http_response *r, const char *model)
{
	char	*msg, want[128];

	msg = ap_error(r, 404, "invalid_request_error", "model_not_found");
	snprintf(want, sizeof(want), "The model `%s` does not exist or you "
	    "do not have access to it.", model);
	ck_assert_msg(strncmp(msg, want, strlen(want)) == 0, "message: %s",
	    msg);
	ck_assert_msg(strstr(msg, "app-") == NULL, "a key in: %s", msg);
	ck_assert_msg(strstr(r->body, "app-chat") == NULL &&
	    strstr(r->body, "app-completion") == NULL &&
	    strstr(r->body, "app-workflow") == NULL &&
	    strstr(r->body, "ITAPPS") == NULL, "a key in: %s", r->body);
	free(msg);
}

/* Check GET /v1/models lists exactly the three apps, owned as expected. */
static void
ap_models_list(int port, const char *const owners[3])
{
	static const char *const	 ids[] = { "support", "writer",
					    "translate" };
	struct http_response		 r;
	json_t				*j, *data, *m;
	size_t				 i;

	ck_assert_int_eq(http_request(port, "GET", "/v1/models", NULL, NULL,
	    &r, 5000), 0);
	ck_assert_msg(r.status == 200, "status %d: %s", r.status, r.body);
	j = json_loads(r.body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(ap_str(j, "object"), "list");
	data = json_object_get(j, "data");
	ck_assert_uint_eq(json_array_size(data), 3);
	json_array_foreach(data, i, m) {
		ck_assert_str_eq(ap_str(m, "id"), ids[i]);
		ck_assert_str_eq(ap_str(m, "object"), "model");
		ck_assert_str_eq(ap_str(m, "owned_by"), owners[i]);
		ck_assert(json_is_integer(json_object_get(m, "created")));
	}
	json_decref(j);
	http_response_free(&r);
}

/* Apps route by model, no key needed; a client Bearer is unused; inputs win. */
START_TEST(apps_route_by_model)
{
	static const char *const	 fresh[] = { "dify", "dify", "dify" };
	static const char *const	 known[] = { "Mock Chat", "dify",
					    "Mock Workflow" };
	struct proc			 p;
	json_t				*rec;
	const char			*key;
	char				*b, *got;
	int				 stream, k;

	ck_assert_int_eq(setenv("ITAPPS_SUPPORT_KEY", "app-chat", 1), 0);
	harness_proxy_start(&p, ap_mock.port, AP_THREE_APPS);
	/* Nothing learnt yet: every app is owned by "dify". */
	ap_models_list(p.port, fresh);
	for (k = 0; k < 4; k++) {
		stream = k & 1;
		key = k < 2 ? NULL : "sk-whatever";

		mock_reset(ap_mock.port);
		ap_expect(p.port, key, "support", "Route one", stream,
		    "Echo: Route one");
		rec = ap_only_request(ap_mock.port);
		ap_request_is(rec, "/v1/chat-messages", "app-chat");
		ck_assert_str_eq(ap_str(rec, "query"), "Route one");
		json_decref(rec);

		mock_reset(ap_mock.port);
		ap_expect(p.port, key, "writer", "Route two", stream,
		    "Echo: Route two");
		rec = ap_only_request(ap_mock.port);
		ap_request_is(rec, "/v1/completion-messages",
		    "app-completion");
		ap_inputs_are(rec, "{\"prompt\":\"Route two\"}");
		json_decref(rec);
		/* The configured mode: /info is never asked for writer. */
		ck_assert_int_eq(ap_stat(ap_mock.port, "info_calls"), 0);

		mock_reset(ap_mock.port);
		b = ap_body("translate", "Route three", "\"inputs\":"
		    "{\"lang\":\"de\",\"tone\":\"dry\"}", stream, 0);
		got = ap_ask(p.port, key, b, stream, NULL);
		ck_assert_str_eq(got, "Echo: Route three");
		rec = ap_only_request(ap_mock.port);
		ap_request_is(rec, "/v1/workflows/run", "app-workflow");
		/* The operator's lang wins; the client's other inputs stay. */
		ap_inputs_are(rec, "{\"lang\":\"fr\",\"tone\":\"dry\","
		    "\"input_text\":\"Route three\"}");
		json_decref(rec);
		free(got);
		free(b);
	}
	/* Without any inputs from the client, the fixed one still goes. */
	mock_reset(ap_mock.port);
	ap_expect(p.port, NULL, "translate", "Bare", 0, "Echo: Bare");
	rec = ap_only_request(ap_mock.port);
	ap_inputs_are(rec, "{\"lang\":\"fr\",\"input_text\":\"Bare\"}");
	json_decref(rec);
	/* Names learnt from /info show; writer never asked. */
	ap_models_list(p.port, known);
	ap_stop(&p);
}
END_TEST

/* /v1/models/<app> is 200; unknown model: 404 model_not_found, no key shown. */
START_TEST(apps_models_and_unknown_model)
{
	static const char *const names[] = { "support", "writer", "translate" };
	struct http_response	 r;
	struct proc		 p;
	json_t			*j;
	char			*b, path[64];
	size_t			 i;

	ck_assert_int_eq(setenv("ITAPPS_SUPPORT_KEY", "app-chat", 1), 0);
	harness_proxy_start(&p, ap_mock.port, AP_THREE_APPS);
	mock_reset(ap_mock.port);

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/v1/models/%s", names[i]);
		ck_assert_int_eq(http_request(p.port, "GET", path, NULL, NULL,
		    &r, 5000), 0);
		ck_assert_msg(r.status == 200, "%s: status %d: %s", path,
		    r.status, r.body);
		j = json_loads(r.body, 0, NULL);
		ck_assert_str_eq(ap_str(j, "id"), names[i]);
		ck_assert_str_eq(ap_str(j, "object"), "model");
		ck_assert_str_eq(ap_str(j, "owned_by"), "dify");
		json_decref(j);
		http_response_free(&r);
	}

	ck_assert_int_eq(http_request(p.port, "GET", "/v1/models/nope", NULL,
	    NULL, &r, 5000), 0);
	ap_model_not_found(&r, "nope");
	http_response_free(&r);
	ck_assert_int_eq(http_request(p.port, "GET", "/v1/models/nope",
	    "Authorization: Bearer sk-whatever\r\n", NULL, &r, 5000), 0);
	ap_model_not_found(&r, "nope");
	http_response_free(&r);

	b = ap_body("nope", "hello", NULL, 0, 0);
	ck_assert_int_eq(http_chat(p.port, NULL, b, &r), 0);
	ap_model_not_found(&r, "nope");
	http_response_free(&r);
	/* A key does not make an unknown model passthrough (it is off). */
	ck_assert_int_eq(http_chat(p.port, "app-chat", b, &r), 0);
	ap_model_not_found(&r, "nope");
	http_response_free(&r);
	free(b);
	b = ap_body("nope", "hello", NULL, 1, 0);
	ck_assert_int_eq(http_chat(p.port, NULL, b, &r), 0);
	ap_model_not_found(&r, "nope");
	http_response_free(&r);
	free(b);
	/* Nothing reached Dify. */
	ck_assert_uint_eq(ap_nrequests(ap_mock.port), 0);
	ck_assert_int_eq(ap_stat(ap_mock.port, "info_calls"), 0);
	ap_stop(&p);
}
END_TEST

/* Apps and passthrough: unknown model with a key is passthrough, else 401. */
START_TEST(apps_with_passthrough)
{
	struct http_response	 r;
	struct proc		 p;
	json_t			*rec;
	char			*b, *msg;

	ck_assert_int_eq(setenv("ITAPPS_SUPPORT_KEY", "app-chat", 1), 0);
	harness_proxy_start(&p, ap_mock.port,
	    AP_THREE_APPS ", \"passthrough\": true");
	mock_reset(ap_mock.port);
	ap_expect(p.port, "app-chat", "anything", "Pass me", 0,
	    "Echo: Pass me");
	rec = ap_only_request(ap_mock.port);
	ap_request_is(rec, "/v1/chat-messages", "app-chat");
	json_decref(rec);
	/* A configured model still uses its own key, not the client's. */
	mock_reset(ap_mock.port);
	ap_expect(p.port, "app-chat", "writer", "Mine", 1, "Echo: Mine");
	rec = ap_only_request(ap_mock.port);
	ap_request_is(rec, "/v1/completion-messages", "app-completion");
	json_decref(rec);

	mock_reset(ap_mock.port);
	b = ap_body("anything", "No key", NULL, 0, 0);
	ck_assert_int_eq(http_chat(p.port, NULL, b, &r), 0);
	msg = ap_error(&r, 401, "authentication_error", "missing_api_key");
	free(msg);
	http_response_free(&r);
	free(b);
	ck_assert_uint_eq(ap_nrequests(ap_mock.port), 0);
	ap_stop(&p);
}
END_TEST

/* An app's own dify_api_url gets its calls; the others go to the default. */
START_TEST(app_with_own_dify)
{
	struct proc	 second, p;
	json_t		*rec;
	char		 cfg[512];
	int		 stream = _i;

	harness_mock_start(&second, NULL);
	snprintf(cfg, sizeof(cfg), "\"dify_api_url\": "
	    "\"http://127.0.0.1:%d/v1\", \"apps\": ["
	    "{\"model\": \"here\", \"key\": \"app-chat\"}, "
	    "{\"model\": \"there\", \"key\": \"app-completion\", "
	    "\"dify_api_url\": \"http://127.0.0.1:%d/v1\"}]", ap_mock.port,
	    second.port);
	harness_proxy_start(&p, ap_mock.port, cfg);
	mock_reset(ap_mock.port);
	mock_reset(second.port);

	ap_expect(p.port, NULL, "here", "Near", stream, "Echo: Near");
	rec = ap_only_request(ap_mock.port);
	ap_request_is(rec, "/v1/chat-messages", "app-chat");
	json_decref(rec);
	ck_assert_uint_eq(ap_nrequests(second.port), 0);
	ck_assert_int_eq(ap_stat(second.port, "info_calls"), 0);

	mock_reset(ap_mock.port);
	ap_expect(p.port, NULL, "there", "Far", stream, "Echo: Far");
	rec = ap_only_request(second.port);
	ap_request_is(rec, "/v1/completion-messages", "app-completion");
	ap_inputs_are(rec, "{\"prompt\":\"Far\"}");
	json_decref(rec);
	/* Detection asked the app's own Dify, and only it. */
	ck_assert_int_eq(ap_stat(second.port, "info_calls"), 1);
	ck_assert_int_eq(ap_stat(second.port, "parameters_calls"), 1);
	ck_assert_uint_eq(ap_nrequests(ap_mock.port), 0);
	ck_assert_int_eq(ap_stat(ap_mock.port, "info_calls"), 0);
	ck_assert_int_eq(ap_stat(ap_mock.port, "parameters_calls"), 0);
	ap_stop(&p);
	ck_assert_msg(harness_proc_stop(&second) == 0,
	    "second look-alike did not shut down cleanly");
}
END_TEST

/* Client gone from an app with its own Dify: the stop call goes there. */
START_TEST(app_with_own_dify_gets_the_stop_call)
{
	struct proc	 second, p;
	json_t		*stops, *others;
	char		 cfg[512], *body;
	int		 fd;

	harness_mock_start(&second, NULL);
	snprintf(cfg, sizeof(cfg), "\"dify_api_url\": "
	    "\"http://127.0.0.1:%d/v1\", \"apps\": ["
	    "{\"model\": \"there\", \"key\": \"app-completion\", "
	    "\"mode\": \"completion\", \"dify_api_url\": "
	    "\"http://127.0.0.1:%d/v1\"}]", ap_mock.port, second.port);
	harness_proxy_start(&p, ap_mock.port, cfg);
	mock_reset(ap_mock.port);
	mock_reset(second.port);
	body = ap_body("there", "mock:events=50 mock:interval=100", NULL, 1,
	    0);
	ck_assert_int_ge(fd = http_connect(p.port), 0);
	ap_send(fd, "app-completion", body);
	ck_assert(ap_read_until(fd, "\"content\":\"w1 \"", 5000));
	close(fd);
	free(body);
	stops = ap_wait_stops(second.port, 1, 3000);
	others = mock_get(ap_mock.port, "/mock/stops");
	ck_assert_msg(json_array_size(stops) == 1 &&
	    json_array_size(others) == 0, "stop calls: %zu at the app's Dify, "
	    "%zu at the default Dify", json_array_size(stops),
	    json_array_size(others));
	json_decref(others);
	json_decref(stops);
	/* The same check as for the default Dify: path, task and key. */
	mock_reset(second.port);
	ap_disconnect_stops(p.port, second.port, "app-completion", "there",
	    "/v1/completion-messages/", "/stop");
	ap_stop(&p);
	ck_assert_msg(harness_proc_stop(&second) == 0,
	    "second look-alike did not shut down cleanly");
}
END_TEST

/* A configured mode beats detection: 400 not_chat_app, no /info, no guess. */
START_TEST(configured_mode_overrides_detection)
{
	struct http_response	 r;
	struct proc		 p;
	int			 stream = _i;
	char			*b, *msg, *paths;

	harness_proxy_start(&p, ap_mock.port, "\"apps\": [{\"model\": "
	    "\"wf-as-chat\", \"key\": \"app-workflow\", \"mode\": \"chat\"}]");
	mock_reset(ap_mock.port);
	b = ap_body("wf-as-chat", "Hello", NULL, stream, 0);
	ck_assert_int_eq(http_chat(p.port, NULL, b, &r), 0);
	msg = ap_error(&r, 400, "invalid_request_error", "not_chat_app");
	free(msg);
	http_response_free(&r);
	free(b);
	paths = ap_paths(ap_mock.port);
	ck_assert_str_eq(paths, "/v1/chat-messages");
	free(paths);
	ck_assert_int_eq(ap_stat(ap_mock.port, "info_calls"), 0);
	ck_assert_int_eq(ap_stat(ap_mock.port, "parameters_calls"), 0);
	ap_stop(&p);
}
END_TEST

/*
 * Run the proxy on a config file holding text, with -t first when check
 * is set, its output into out; returns its exit status, or -2 if it was
 * still running after 5 s (then it is killed).
 */
static int
ap_run_config(const char *text, int check, const char *out)
{
	char	 bin[256], path[128], opt_t[] = "-t", opt_c[] = "-c";
	char	*argv[5];
	FILE	*f;
	pid_t	 pid, r = 0;
	int	 status = 0, i, fd, argc = 0;

	snprintf(bin, sizeof(bin), "%s/openai-dify-proxy", harness_build);
	snprintf(path, sizeof(path), "/tmp/odp-apps-%d.json", (int)getpid());
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	argv[argc++] = bin;
	if (check)
		argv[argc++] = opt_t;
	argv[argc++] = opt_c;
	argv[argc++] = path;
	argv[argc] = NULL;
	if ((pid = fork()) == 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(bin, argv);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	for (i = 0; i < 500; i++) {
		if ((r = waitpid(pid, &status, WNOHANG)) == pid)
			break;
		harness_sleep_ms(10);
	}
	unlink(path);
	if (r != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return (-2);
	}
	return (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* An app without "key": start and -t exit 1, naming apps[0]. */
START_TEST(apps_entry_without_key_fails_to_start)
{
	struct proc	 out;
	char		 text[256];
	int		 check;

	memset(&out, 0, sizeof(out));
	snprintf(out.log, sizeof(out.log), "/tmp/odp-apps-%d.out",
	    (int)getpid());
	snprintf(text, sizeof(text), "{\"host\": \"127.0.0.1\", \"port\": 0, "
	    "\"dify_api_url\": \"http://127.0.0.1:%d/v1\", "
	    "\"apps\": [{\"model\": \"support\"}]}\n", ap_mock.port);
	for (check = 0; check < 2; check++) {
		ck_assert_int_eq(ap_run_config(text, check, out.log), 1);
		ck_assert_msg(harness_log_contains(&out,
		    "apps[0]: \"key\" is required"), "no apps[0] error "
		    "(check=%d)", check);
		ck_assert(!harness_log_contains(&out, "listening on"));
		ck_assert(!harness_log_contains(&out, "configuration OK"));
	}
	unlink(out.log);
}
END_TEST

/* The apps suite. */
Suite *
it_apps_suite(void)
{
	Suite	*s = suite_create("apps");
	TCase	*tc = tcase_create("kinds");
	TCase	*tcc = tcase_create("config");

	tcase_add_unchecked_fixture(tc, ap_setup, ap_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, completion_app_by_passthrough_key, 0, 2);
	tcase_add_test(tc, completion_app_stream_include_usage);
	tcase_add_loop_test(tc, completion_app_without_form_sends_query_twice,
	    0, 2);
	tcase_add_loop_test(tc, completion_app_gets_the_transcript, 0, 2);
	tcase_add_loop_test(tc, workflow_app_streams_text_chunks, 0, 2);
	tcase_add_loop_test(tc, workflow_output_selection, 0, 2);
	tcase_add_test(tc, failed_workflow_is_an_error);
	tcase_add_test(tc, disconnect_stops_completion_task);
	tcase_add_test(tc, disconnect_stops_workflow_task);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(tcc, ap_cfg_setup, ap_cfg_teardown);
	tcase_set_timeout(tcc, 30);
	tcase_add_test(tcc, detection_is_cached_per_key);
	tcase_add_loop_test(tcc, detection_guess_chain_then_cache, 0, 2);
	tcase_add_test(tcc, apps_route_by_model);
	tcase_add_test(tcc, apps_models_and_unknown_model);
	tcase_add_test(tcc, apps_with_passthrough);
	tcase_add_loop_test(tcc, app_with_own_dify, 0, 2);
	tcase_add_test(tcc, app_with_own_dify_gets_the_stop_call);
	tcase_add_test(tcc, configured_output_is_the_answer);
	tcase_add_loop_test(tcc, configured_mode_overrides_detection, 0, 2);
	tcase_add_test(tcc, apps_entry_without_key_fails_to_start);
	suite_add_tcase(s, tcc);
	return (s);
}
