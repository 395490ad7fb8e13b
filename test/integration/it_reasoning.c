/*
 * it_reasoning: reasoning through the real proxy and the Dify look-alike.
 * An agent's tool round and a reasoning model's <think> block go out as
 * reasoning (delta.reasoning_content, message.reasoning_content), and
 * content is exactly the answer, whatever the app kind and however Dify
 * cuts the text into events; "split_think": false leaves the block in
 * content.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "it_suites.h"

static struct proc	rs_mock, rs_proxy;

/* One look-alike and one default (passthrough) proxy for the case. */
static void
rs_setup(void)
{
	harness_mock_start(&rs_mock, NULL);
	harness_proxy_start(&rs_proxy, rs_mock.port, NULL);
}

/* Stop both; each must exit cleanly with no sanitizer report. */
static void
rs_teardown(void)
{
	int	rc = harness_proc_stop(&rs_proxy);
	int	mrc = harness_proc_stop(&rs_mock);

	ck_assert_msg(rc == 0, "proxy did not shut down cleanly");
	ck_assert_msg(mrc == 0, "look-alike did not shut down cleanly");
}

/* The block mock:think puts before the answer, and its reasoning. */
#define RS_BLOCK	"<think>\nThe user wants a mock answer.\n</think>\n\n"
#define RS_REASONING	"\nThe user wants a mock answer.\n"
/* The image the agent's tool made, a Markdown link in the answer. */
#define RS_TOOL_IMAGE	"![image](https://files.example/mock/image-1.png)\n\n"
/* The agent's tool round as reasoning. */
#define RS_TOOL_ROUND \
	"Thought: I should use the calculator to work out 2+2.\n" \
	"Tool: calculator\n" \
	"Input: {\"calculator\": {\"expression\": \"2+2\"}}\n\n" \
	"Observation: {\"calculator\": \"4\"}\n\n"

/* What a streamed answer held. */
struct rs_answer {
	char	*content;		/* delta.content, joined */
	char	*reasoning;		/* delta.reasoning_content, joined */
	int	 reasoning_frames;
	int	 content_frames;	/* with non-empty content */
	int	 first_content;		/* frame index, -1: none */
	int	 last_reasoning;	/* frame index, -1: none */
};

/* Append s to a malloc'd string. */
static char *
rs_cat(char *to, const char *s, size_t n)
{
	size_t	len = to != NULL ? strlen(to) : 0;

	to = realloc(to, len + n + 1);
	ck_assert_ptr_nonnull(to);
	memcpy(to + len, s, n);
	to[len + n] = '\0';
	return (to);
}

static void
rs_answer_free(struct rs_answer *a)
{
	free(a->content);
	free(a->reasoning);
	memset(a, 0, sizeof(*a));
}

/*
 * Stream body with key through port and read the answer, checking the
 * stream: 200, SSE framing, chunks only, role first, no delta with both
 * reasoning and content, one "stop" finish, [DONE] last.
 */
static void
rs_stream(int port, const char *key, const char *body, struct rs_answer *a)
{
	struct http_response	 r;
	struct sse_frames	 f;
	json_t			*j, *choice, *delta, *c, *rc;
	const char		*fr;
	char			*h;
	size_t			 i;
	int			 finishes = 0;

	memset(a, 0, sizeof(*a));
	a->content = strdup("");
	a->reasoning = strdup("");
	a->first_content = a->last_reasoning = -1;
	ck_assert_int_eq(http_chat(port, key, body, &r), 0);
	ck_assert_msg(r.status == 200, "status %d: %s", r.status, r.body);
	ck_assert(r.complete);
	h = http_header(&r, "Content-Type");
	ck_assert_str_eq(h, "text/event-stream");
	free(h);
	sse_split(r.body, r.bodylen, &f);
	ck_assert_msg(f.well_formed, "bad framing: %s", r.body);
	ck_assert_uint_ge(f.n, 3);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	for (i = 0; i + 1 < f.n; i++) {
		j = json_loads(f.data[i], 0, NULL);
		ck_assert_msg(j != NULL, "frame %zu not JSON: %s", i,
		    f.data[i]);
		ck_assert_msg(json_object_get(j, "error") == NULL,
		    "error frame: %s", f.data[i]);
		ck_assert_str_eq(json_string_value(json_object_get(j,
		    "object")), "chat.completion.chunk");
		choice = json_array_get(json_object_get(j, "choices"), 0);
		delta = json_object_get(choice, "delta");
		if (i == 0)
			ck_assert_str_eq(json_string_value(json_object_get(
			    delta, "role")), "assistant");
		c = json_object_get(delta, "content");
		rc = json_object_get(delta, "reasoning_content");
		ck_assert_msg(!(rc != NULL && c != NULL), "both in one delta: "
		    "%s", f.data[i]);
		if (rc != NULL) {
			ck_assert_msg(json_is_string(rc) &&
			    json_string_length(rc) > 0, "empty reasoning: %s",
			    f.data[i]);
			a->reasoning = rs_cat(a->reasoning,
			    json_string_value(rc), json_string_length(rc));
			a->reasoning_frames++;
			a->last_reasoning = (int)i;
		}
		if (json_is_string(c) && json_string_length(c) > 0) {
			a->content = rs_cat(a->content, json_string_value(c),
			    json_string_length(c));
			a->content_frames++;
			if (a->first_content < 0)
				a->first_content = (int)i;
		}
		fr = json_string_value(json_object_get(choice,
		    "finish_reason"));
		if (fr != NULL) {
			ck_assert_str_eq(fr, "stop");
			finishes++;
		}
		json_decref(j);
	}
	ck_assert_int_eq(finishes, 1);
	sse_frames_free(&f);
	http_response_free(&r);
}

/*
 * Ask without streaming; *content and *reasoning (NULL when the message
 * has no reasoning_content) are malloc'd.
 */
static void
rs_json(int port, const char *key, const char *body, char **content,
    char **reasoning)
{
	struct http_response	 r;
	json_t			*j, *choice, *msg, *rc;
	char			*h;

	ck_assert_int_eq(http_chat(port, key, body, &r), 0);
	ck_assert_msg(r.status == 200, "status %d: %s", r.status, r.body);
	h = http_header(&r, "Content-Type");
	ck_assert_str_eq(h, "application/json");
	free(h);
	j = json_loads(r.body, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", r.body);
	ck_assert_str_eq(json_string_value(json_object_get(j, "object")),
	    "chat.completion");
	choice = json_array_get(json_object_get(j, "choices"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(choice,
	    "finish_reason")), "stop");
	msg = json_object_get(choice, "message");
	ck_assert_str_eq(json_string_value(json_object_get(msg, "role")),
	    "assistant");
	ck_assert_msg(json_is_string(json_object_get(msg, "content")),
	    "no content: %s", r.body);
	*content = strdup(json_string_value(json_object_get(msg, "content")));
	rc = json_object_get(msg, "reasoning_content");
	ck_assert_msg(rc == NULL || json_is_string(rc), "reasoning_content "
	    "not a string: %s", r.body);
	*reasoning = rc != NULL ? strdup(json_string_value(rc)) : NULL;
	json_decref(j);
	http_response_free(&r);
}

/* "Echo: " text, malloc'd. */
static char *
rs_echo(const char *text)
{
	char	*s;

	if (asprintf(&s, "Echo: %s", text) < 0)
		abort();
	return (s);
}

/* Agent, streamed: the tool round is reasoning, the answer content. */
START_TEST(agent_tool_round_is_reasoning)
{
	static const char	 text[] = "What is 2+2?";
	struct rs_answer	 a;
	char			*body, *echo, *want;

	body = chat_body(text, NULL, 1, 0);
	rs_stream(rs_proxy.port, "app-agent", body, &a);
	ck_assert_msg(strstr(a.reasoning, "Tool: calculator") != NULL &&
	    strstr(a.reasoning, "Observation:") != NULL, "reasoning: \"%s\"",
	    a.reasoning);
	/* Exactly the round, once, though Dify repeats the thought. */
	ck_assert_str_eq(a.reasoning, RS_TOOL_ROUND);
	ck_assert_int_eq(a.reasoning_frames, 2);
	echo = rs_echo(text);
	if (asprintf(&want, "%s%s", RS_TOOL_IMAGE, echo) < 0)
		abort();
	ck_assert_str_eq(a.content, want);
	/* The round comes before the answer. */
	ck_assert_int_lt(a.last_reasoning, a.first_content);
	rs_answer_free(&a);
	free(want);
	free(echo);
	free(body);
}
END_TEST

/* Agent, not streamed: message.reasoning_content and content. */
START_TEST(agent_non_streaming_reasoning_content)
{
	static const char	 text[] = "Hi there";
	char			*body, *content, *reasoning;

	body = chat_body(text, NULL, 0, 0);
	rs_json(rs_proxy.port, "app-agent", body, &content, &reasoning);
	ck_assert_str_eq(content, RS_TOOL_IMAGE "Echo: Hi there");
	ck_assert_msg(reasoning != NULL, "no reasoning_content");
	ck_assert_str_eq(reasoning, RS_TOOL_ROUND);
	free(content);
	free(reasoning);
	free(body);
}
END_TEST

/* A chat app without a block has no reasoning at all. */
START_TEST(no_block_no_reasoning)
{
	struct rs_answer	 a;
	char			*body, *content, *reasoning;

	body = chat_body("Plain <think>x</think>", NULL, 1, 0);
	rs_stream(rs_proxy.port, "app-chat", body, &a);
	ck_assert_str_eq(a.content, "Echo: Plain <think>x</think>");
	ck_assert_int_eq(a.reasoning_frames, 0);
	rs_answer_free(&a);
	free(body);
	body = chat_body("Plain <think>x</think>", NULL, 0, 0);
	rs_json(rs_proxy.port, "app-chat", body, &content, &reasoning);
	ck_assert_str_eq(content, "Echo: Plain <think>x</think>");
	ck_assert_ptr_null(reasoning);
	free(content);
	free(body);
}
END_TEST

/* The passthrough keys of three kinds, each with its own events. */
static const char *const	rs_keys[] = {
	"app-chat", "app-completion", "app-workflow"
};
/* Dify's cut of the text: its own 8-byte pieces, every byte, 3 bytes. */
static const char *const	rs_splits[] = {
	"", " mock:split=1", " mock:split=3", " mock:split=7"
};

/*
 * mock:think on every kind, however the text is cut into events: the
 * reasoning is exactly the block's text, the content exactly the echo,
 * streamed and not.
 */
START_TEST(think_block_every_kind_and_split)
{
	struct rs_answer	 a;
	char			 text[128], *body, *echo, *content, *reasoning;
	size_t			 k, s;
	int			 stream;

	for (k = 0; k < sizeof(rs_keys) / sizeof(rs_keys[0]); k++)
		for (s = 0; s < sizeof(rs_splits) / sizeof(rs_splits[0]); s++)
			for (stream = 0; stream <= 1; stream++) {
		snprintf(text, sizeof(text), "Think first mock:think%s",
		    rs_splits[s]);
		echo = rs_echo(text);
		body = chat_body(text, NULL, stream, 0);
		if (stream) {
			rs_stream(rs_proxy.port, rs_keys[k], body, &a);
			ck_assert_msg(strcmp(a.reasoning, RS_REASONING) == 0,
			    "%s \"%s\" stream: reasoning \"%s\"", rs_keys[k],
			    text, a.reasoning);
			ck_assert_msg(strcmp(a.content, echo) == 0,
			    "%s \"%s\" stream: content \"%s\"", rs_keys[k],
			    text, a.content);
			ck_assert_int_lt(a.last_reasoning, a.first_content);
			/* split=1: the block's bytes came one by one. */
			if (strcmp(rs_splits[s], " mock:split=1") == 0)
				ck_assert_int_eq(a.reasoning_frames,
				    (int)strlen(RS_REASONING));
			rs_answer_free(&a);
		} else {
			rs_json(rs_proxy.port, rs_keys[k], body, &content,
			    &reasoning);
			ck_assert_msg(strcmp(content, echo) == 0,
			    "%s \"%s\": content \"%s\"", rs_keys[k], text,
			    content);
			ck_assert_msg(reasoning != NULL &&
			    strcmp(reasoning, RS_REASONING) == 0,
			    "%s \"%s\": reasoning \"%s\"", rs_keys[k], text,
			    reasoning != NULL ? reasoning : "(none)");
			free(content);
			free(reasoning);
		}
		free(body);
		free(echo);
			}
}
END_TEST

/* A chatflow's message events split the same way. */
START_TEST(think_block_chatflow)
{
	struct rs_answer	 a;
	char			*body;

	body = chat_body("Flow mock:think mock:split=2", NULL, 1, 0);
	rs_stream(rs_proxy.port, "app-chatflow", body, &a);
	ck_assert_str_eq(a.reasoning, RS_REASONING);
	ck_assert_str_eq(a.content, "Echo: Flow mock:think mock:split=2");
	rs_answer_free(&a);
	free(body);
}
END_TEST

/*
 * An agent answering with a reasoning model: the tool round, then the
 * block, are reasoning; the image link and the echo are content.  (The
 * look-alike sends the tool's message_file before the agent_message
 * text, as Dify does.)
 */
START_TEST(think_block_agent)
{
	struct rs_answer	 a;
	char			*body;

	body = chat_body("Agent mock:think", NULL, 1, 0);
	rs_stream(rs_proxy.port, "app-agent", body, &a);
	ck_assert_str_eq(a.reasoning, RS_TOOL_ROUND RS_REASONING);
	ck_assert_str_eq(a.content, RS_TOOL_IMAGE "Echo: Agent mock:think");
	rs_answer_free(&a);
	free(body);
}
END_TEST

/* "split_think": false: the block stays in content, byte for byte. */
START_TEST(split_think_off_keeps_block)
{
	struct proc		 p;
	struct rs_answer	 a;
	char			 text[128], *body, *content, *reasoning,
				*want;
	size_t			 k, s;

	harness_proxy_start(&p, rs_mock.port, "\"split_think\": false");
	for (k = 0; k < sizeof(rs_keys) / sizeof(rs_keys[0]); k++)
		for (s = 0; s < 3; s++) {
			snprintf(text, sizeof(text), "Keep it mock:think%s",
			    rs_splits[s]);
			if (asprintf(&want, RS_BLOCK "Echo: %s", text) < 0)
				abort();
			body = chat_body(text, NULL, 1, 0);
			rs_stream(p.port, rs_keys[k], body, &a);
			ck_assert_msg(strcmp(a.content, want) == 0,
			    "%s \"%s\": content \"%s\"", rs_keys[k], text,
			    a.content);
			ck_assert_int_eq(a.reasoning_frames, 0);
			rs_answer_free(&a);
			free(body);
			body = chat_body(text, NULL, 0, 0);
			rs_json(p.port, rs_keys[k], body, &content,
			    &reasoning);
			ck_assert_str_eq(content, want);
			ck_assert_ptr_null(reasoning);
			free(content);
			free(body);
			free(want);
		}
	/* Agent thoughts are reasoning whatever split_think says. */
	body = chat_body("Still thoughts", NULL, 1, 0);
	rs_stream(p.port, "app-agent", body, &a);
	ck_assert_str_eq(a.reasoning, RS_TOOL_ROUND);
	ck_assert_str_eq(a.content, RS_TOOL_IMAGE "Echo: Still thoughts");
	rs_answer_free(&a);
	free(body);
	ck_assert_msg(harness_proc_stop(&p) == 0, "proxy %s did not shut "
	    "down cleanly", p.log);
}
END_TEST

/* The reasoning suite. */
Suite *
it_reasoning_suite(void)
{
	Suite	*s = suite_create("reasoning");
	TCase	*tc = tcase_create("reasoning");

	tcase_add_unchecked_fixture(tc, rs_setup, rs_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, agent_tool_round_is_reasoning);
	tcase_add_test(tc, agent_non_streaming_reasoning_content);
	tcase_add_test(tc, no_block_no_reasoning);
	tcase_add_test(tc, think_block_every_kind_and_split);
	tcase_add_test(tc, think_block_chatflow);
	tcase_add_test(tc, think_block_agent);
	tcase_add_test(tc, split_think_off_keeps_block);
	suite_add_tcase(s, tc);
	return (s);
}
