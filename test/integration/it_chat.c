/*
 * it_chat: exact answers for every app kind, streamed and not, over real
 * sockets through the proxy and the Dify look-alike.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "it_suites.h"

static struct proc	chat_mock, chat_proxy;

/* Start one look-alike and one proxy for the whole case. */
static void
chat_setup(void)
{
	harness_mock_start(&chat_mock, NULL);
	harness_proxy_start(&chat_proxy, chat_mock.port, NULL);
}

/* Stop both; the proxy must exit 0 with no sanitizer report. */
static void
chat_teardown(void)
{
	int	rc = harness_proc_stop(&chat_proxy);
	int	mrc = harness_proc_stop(&chat_mock);

	ck_assert_msg(rc == 0, "proxy did not shut down cleanly");
	ck_assert_msg(mrc == 0, "look-alike did not shut down cleanly");
}

/*
 * Stream a request and check the OpenAI stream invariants: 200, SSE
 * headers, only "data: X\n\n" frames, role chunk first, one id for all
 * chunks, a finish chunk, [DONE] last.  Returns the frames.
 */
static void
chat_stream(const char *key, const char *body, struct sse_frames *f,
    const char *finish)
{
	struct http_response	 r;
	json_t			*j, *first = NULL;
	char			*h;
	size_t			 i;
	const char		*fr;
	int			 finishes = 0;

	ck_assert_int_eq(http_chat(chat_proxy.port, key, body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(r.complete);
	h = http_header(&r, "Content-Type");
	ck_assert_ptr_nonnull(h);
	ck_assert_str_eq(h, "text/event-stream");
	free(h);
	h = http_header(&r, "Cache-Control");
	ck_assert_str_eq(h, "no-cache");
	free(h);
	h = http_header(&r, "X-Accel-Buffering");
	ck_assert_str_eq(h, "no");
	free(h);
	h = http_header(&r, "X-Request-Id");
	ck_assert_ptr_nonnull(h);
	free(h);

	sse_split(r.body, r.bodylen, f);
	ck_assert_msg(f->well_formed, "bad framing: %s", r.body);
	ck_assert_uint_ge(f->n, 3);
	ck_assert_str_eq(f->data[f->n - 1], "[DONE]");
	for (i = 0; i + 1 < f->n; i++) {
		j = json_loads(f->data[i], 0, NULL);
		ck_assert_msg(j != NULL, "frame %zu not JSON: %s", i,
		    f->data[i]);
		ck_assert_str_eq(json_string_value(json_object_get(j,
		    "object")), "chat.completion.chunk");
		ck_assert_str_eq(json_string_value(json_object_get(j,
		    "model")), "gpt-4o");
		ck_assert(strncmp(json_string_value(json_object_get(j, "id")),
		    "chatcmpl-", 9) == 0);
		ck_assert(json_is_array(json_object_get(j, "choices")));
		ck_assert_ptr_null(json_object_get(j, "error"));
		if (first == NULL) {
			first = j;
			ck_assert_str_eq(json_string_value(json_object_get(
			    json_object_get(json_array_get(json_object_get(j,
			    "choices"), 0), "delta"), "role")), "assistant");
			continue;
		}
		ck_assert_str_eq(json_string_value(json_object_get(j, "id")),
		    json_string_value(json_object_get(first, "id")));
		ck_assert_int_eq(json_integer_value(json_object_get(j,
		    "created")), json_integer_value(json_object_get(first,
		    "created")));
		fr = json_string_value(json_object_get(json_array_get(
		    json_object_get(j, "choices"), 0), "finish_reason"));
		if (fr != NULL) {
			finishes++;
			ck_assert_str_eq(fr, finish);
		}
		json_decref(j);
	}
	json_decref(first);
	ck_assert_int_eq(finishes, 1);
	http_response_free(&r);
}

/* Stream a single user message and compare the content. */
static void
chat_expect_stream(const char *key, const char *text, const char *want)
{
	struct sse_frames	 f;
	char			*body, *got;

	body = chat_body(text, NULL, 1, 0);
	chat_stream(key, body, &f, "stop");
	got = sse_content(&f);
	ck_assert_str_eq(got, want);
	free(got);
	free(body);
	sse_frames_free(&f);
}

/* Non-streaming request: one chat.completion with the whole answer. */
static void
chat_expect_json(const char *key, const char *text, const char *want,
    int prompt, int completion)
{
	struct http_response	 r;
	json_t			*j, *choice, *usage;
	char			*body, *h;

	body = chat_body(text, NULL, 0, 0);
	ck_assert_int_eq(http_chat(chat_proxy.port, key, body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	h = http_header(&r, "Content-Type");
	ck_assert_str_eq(h, "application/json");
	free(h);
	j = json_loads(r.body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "object")),
	    "chat.completion");
	choice = json_array_get(json_object_get(j, "choices"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    choice, "message"), "content")), want);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    choice, "message"), "role")), "assistant");
	ck_assert_str_eq(json_string_value(json_object_get(choice,
	    "finish_reason")), "stop");
	usage = json_object_get(j, "usage");
	ck_assert_int_eq(json_integer_value(json_object_get(usage,
	    "prompt_tokens")), prompt);
	ck_assert_int_eq(json_integer_value(json_object_get(usage,
	    "completion_tokens")), completion);
	ck_assert_int_eq(json_integer_value(json_object_get(usage,
	    "total_tokens")), prompt + completion);
	json_decref(j);
	free(body);
	http_response_free(&r);
}

START_TEST(chat_app_streams_exact_text)
{
	chat_expect_stream("app-chat", "Hello, world!",
	    "Echo: Hello, world!");
}
END_TEST

START_TEST(chat_multibyte_text_survives_event_splits)
{
	/* 8-byte pieces split these characters across Dify events. */
	chat_expect_stream("app-chat", "héllo wörld 你好世界 🙂 ok",
	    "Echo: héllo wörld 你好世界 🙂 ok");
}
END_TEST

START_TEST(chat_app_non_streaming)
{
	/* "Echo: Hello" is 11 bytes: two 8-byte pieces. */
	chat_expect_json("app-chat", "Hello", "Echo: Hello", 17, 2);
}
END_TEST

/* The image a tool made is a Markdown link; thoughts are not content. */
#define CHAT_TOOL_IMAGE	"![image](https://files.example/mock/image-1.png)\n\n"

START_TEST(agent_app_streams_answer_and_tool_image)
{
	chat_expect_stream("app-agent", "What time is it?",
	    CHAT_TOOL_IMAGE "Echo: What time is it?");
}
END_TEST

START_TEST(agent_app_non_streaming_works)
{
	/* Dify refuses blocking mode for agents; the proxy never asks. */
	chat_expect_json("app-agent", "Hi there",
	    CHAT_TOOL_IMAGE "Echo: Hi there", 17, 2);
}
END_TEST

START_TEST(chatflow_new_order_streams)
{
	chat_expect_stream("app-chatflow", "Flow me", "Echo: Flow me");
}
END_TEST

START_TEST(chatflow_old_order_streams)
{
	chat_expect_stream("app-chatflow-old", "Flow me", "Echo: Flow me");
}
END_TEST

START_TEST(chatflow_1130_without_message_end_finishes)
{
	chat_expect_stream("app-chatflow-1130", "Flow me", "Echo: Flow me");
}
END_TEST

START_TEST(chatflow_non_streaming_all_orders)
{
	chat_expect_json("app-chatflow", "abc", "Echo: abc", 17, 2);
	chat_expect_json("app-chatflow-old", "abc", "Echo: abc", 17, 2);
}
END_TEST

START_TEST(include_usage_chunk)
{
	struct sse_frames	 f;
	json_t			*j, *u;
	char			*body;
	size_t			 i;

	body = chat_body("Usage please mock:usage=30,12", NULL, 1, 1);
	chat_stream("app-chat", body, &f, "stop");
	/* Every chunk before the usage chunk has "usage": null. */
	for (i = 0; i + 2 < f.n; i++) {
		j = json_loads(f.data[i], 0, NULL);
		ck_assert(json_is_null(json_object_get(j, "usage")));
		json_decref(j);
	}
	j = json_loads(f.data[f.n - 2], 0, NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "choices")), 0);
	u = json_object_get(j, "usage");
	ck_assert_int_eq(json_integer_value(json_object_get(u,
	    "prompt_tokens")), 30);
	ck_assert_int_eq(json_integer_value(json_object_get(u,
	    "completion_tokens")), 12);
	ck_assert_int_eq(json_integer_value(json_object_get(u,
	    "total_tokens")), 42);
	json_decref(j);
	sse_frames_free(&f);
	free(body);
}
END_TEST

START_TEST(no_usage_chunk_unless_asked)
{
	struct sse_frames	 f;
	json_t			*j;
	size_t			 i;
	char			*body;

	body = chat_body("no usage", NULL, 1, 0);
	chat_stream("app-chat", body, &f, "stop");
	for (i = 0; i + 1 < f.n; i++) {
		j = json_loads(f.data[i], 0, NULL);
		ck_assert_ptr_null(json_object_get(j, "usage"));
		ck_assert_uint_eq(json_array_size(json_object_get(j,
		    "choices")), 1);
		json_decref(j);
	}
	sse_frames_free(&f);
	free(body);
}
END_TEST

START_TEST(message_file_text_is_content)
{
	/* The text labelled message_file, and the file as its paragraph. */
	chat_expect_stream("app-chat", "files mock:message_file",
	    "Echo: files mock\n\n" CHAT_TOOL_IMAGE ":message_file");
}
END_TEST

START_TEST(message_replace_ends_with_content_filter)
{
	struct sse_frames	 f;
	char			*body, *got;

	body = chat_body("bad words mock:replace", NULL, 1, 0);
	chat_stream("app-chat", body, &f, "content_filter");
	got = sse_content(&f);
	/* The shown text, then the replacement. */
	ck_assert_str_eq(got, "Echo: bad words mock:replace"
	    "Replaced: content policy");
	free(got);
	sse_frames_free(&f);
	free(body);
}
END_TEST

START_TEST(message_replace_non_streaming_replaces)
{
	struct http_response	 r;
	json_t			*j, *choice;
	char			*body;

	body = chat_body("bad mock:replace", NULL, 0, 0);
	ck_assert_int_eq(http_chat(chat_proxy.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	choice = json_array_get(json_object_get(j, "choices"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    choice, "message"), "content")), "Replaced: content policy");
	ck_assert_str_eq(json_string_value(json_object_get(choice,
	    "finish_reason")), "content_filter");
	json_decref(j);
	free(body);
	http_response_free(&r);
}
END_TEST

START_TEST(fragmented_crlf_spaced_and_pinged_streams)
{
	/* Dify's bytes split anywhere, CRLF, old json.dumps, pings. */
	chat_expect_stream("app-chat", "frag 你好 mock:fragment",
	    "Echo: frag 你好 mock:fragment");
	chat_expect_stream("app-chat", "crlf 你好 mock:crlf",
	    "Echo: crlf 你好 mock:crlf");
	chat_expect_stream("app-chat", "old 你好🙂 mock:spaced",
	    "Echo: old 你好🙂 mock:spaced");
	chat_expect_stream("app-agent", "pings mock:ping",
	    CHAT_TOOL_IMAGE "Echo: pings mock:ping");
}
END_TEST

START_TEST(hundred_events_in_order)
{
	struct sse_frames	 f;
	char			*body, *got, want[1024];

	mock_words(100, want, sizeof(want));
	body = chat_body("mock:events=100", NULL, 1, 0);
	chat_stream("app-chat", body, &f, "stop");
	got = sse_content(&f);
	ck_assert_str_eq(got, want);
	/* role + 100 content + finish + [DONE] */
	ck_assert_uint_eq(f.n, 103);
	free(got);
	sse_frames_free(&f);
	free(body);
}
END_TEST

/* The chat suite. */
Suite *
it_chat_suite(void)
{
	Suite	*s = suite_create("chat");
	TCase	*tc = tcase_create("answers");

	tcase_add_unchecked_fixture(tc, chat_setup, chat_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, chat_app_streams_exact_text);
	tcase_add_test(tc, chat_multibyte_text_survives_event_splits);
	tcase_add_test(tc, chat_app_non_streaming);
	tcase_add_test(tc, agent_app_streams_answer_and_tool_image);
	tcase_add_test(tc, agent_app_non_streaming_works);
	tcase_add_test(tc, chatflow_new_order_streams);
	tcase_add_test(tc, chatflow_old_order_streams);
	tcase_add_test(tc, chatflow_1130_without_message_end_finishes);
	tcase_add_test(tc, chatflow_non_streaming_all_orders);
	tcase_add_test(tc, include_usage_chunk);
	tcase_add_test(tc, no_usage_chunk_unless_asked);
	tcase_add_test(tc, message_file_text_is_content);
	tcase_add_test(tc, message_replace_ends_with_content_filter);
	tcase_add_test(tc, message_replace_non_streaming_replaces);
	tcase_add_test(tc, fragmented_crlf_spaced_and_pinged_streams);
	tcase_add_test(tc, hundred_events_in_order);
	suite_add_tcase(s, tc);
	return (s);
}
