/*
 * check_chat_request: reading OpenAI chat requests, the 400s for bad ones,
 * and the Dify /chat-messages body built from them (checked as parsed
 * JSON).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_error.h"
#include "buf.h"
#include "chat_request.h"
#include "check_suites.h"

/* Parse a NUL-terminated body that must be accepted. */
static void
check_chat_request_ok(struct chat_request *cr, const char *body)
{
	struct api_error	e;

	memset(&e, 0, sizeof(e));
	ck_assert_msg(chat_request_parse(cr, body, strlen(body), &e) == 0,
	    "refused (%s, param %s): %s", e.code, e.param, e.message);
}

/*
 * Parse a body that must be refused with a 400 invalid_request_error of
 * the given code and param ("" for null; NULL not to check).
 */
static void
check_chat_request_bad(const char *body, size_t len, const char *code,
    const char *param)
{
	struct chat_request	cr;
	struct api_error	e;

	memset(&e, 0, sizeof(e));
	ck_assert_msg(chat_request_parse(&cr, body, len, &e) == -1,
	    "accepted: %.*s", (int)len, body);
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_msg(strcmp(e.code, code) == 0, "code \"%s\", want \"%s\" "
	    "(%s)", e.code, code, e.message);
	if (param != NULL)
		ck_assert_msg(strcmp(e.param, param) == 0, "param \"%s\", want "
		    "\"%s\" (%s)", e.param, param, e.message);
	ck_assert_str_ne(e.message, "");
}

/* Build the Dify body and parse it (the caller frees the result). */
static json_t *
check_chat_request_body(const struct chat_request *cr, const char *user,
    const char *conversation_id, int auto_name)
{
	struct buf	 b = BUF_INIT;
	json_t		*v;
	json_error_t	 err;

	chat_request_dify_body(cr, user, conversation_id, auto_name, &b);
	v = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &err);
	ck_assert_msg(v != NULL, "Dify body is not JSON (%s): %s", err.text,
	    buf_cstr(&b));
	ck_assert(json_is_object(v));
	buf_free(&b);
	return (v);
}

/* The query of a parsed Dify body. */
static const char *
check_chat_request_query(json_t *body)
{
	json_t	*q = json_object_get(body, "query");

	ck_assert(json_is_string(q));
	return (json_string_value(q));
}

/* Parse a request and return the query Dify gets (no conversation). */
static void
check_chat_request_query_is(const char *request, const char *want)
{
	struct chat_request	 cr;
	json_t			*body;

	check_chat_request_ok(&cr, request);
	body = check_chat_request_body(&cr, "u", NULL, 0);
	ck_assert_str_eq(check_chat_request_query(body), want);
	json_decref(body);
	chat_request_free(&cr);
}

/* A first turn: the message is the query; the body's other members. */
START_TEST(check_chat_request_first_turn)
{
	struct chat_request	 cr;
	json_t			*body, *v;

	check_chat_request_ok(&cr, "{\"model\":\"gpt-4o\",\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"Hello\"}]}");
	ck_assert_uint_eq(cr.modellen, 6);
	ck_assert_int_eq(memcmp(cr.model, "gpt-4o", 6), 0);
	ck_assert_int_eq(cr.stream, 0);
	ck_assert_int_eq(cr.include_usage, 0);
	ck_assert_str_eq(cr.user, "");
	ck_assert_uint_eq(cr.nmessages, 1);
	ck_assert_uint_eq(cr.last_user, 0);
	ck_assert_int_eq(cr.first_turn, 1);
	ck_assert_uint_eq(cr.nfiles, 0);

	body = check_chat_request_body(&cr, "u1", NULL, 0);
	ck_assert_str_eq(check_chat_request_query(body), "Hello");
	ck_assert_str_eq(json_string_value(json_object_get(body,
	    "response_mode")), "streaming");
	ck_assert_str_eq(json_string_value(json_object_get(body, "user")),
	    "u1");
	v = json_object_get(body, "inputs");
	ck_assert(json_is_object(v));
	ck_assert_uint_eq(json_object_size(v), 0);
	ck_assert(json_is_false(json_object_get(body, "auto_generate_name")));
	ck_assert_ptr_null(json_object_get(body, "conversation_id"));
	ck_assert_ptr_null(json_object_get(body, "files"));
	ck_assert_uint_eq(json_object_size(body), 5);
	json_decref(body);

	body = check_chat_request_body(&cr, "someone else", NULL, 1);
	ck_assert(json_is_true(json_object_get(body, "auto_generate_name")));
	ck_assert_str_eq(json_string_value(json_object_get(body, "user")),
	    "someone else");
	json_decref(body);
	chat_request_free(&cr);
}
END_TEST

/* Content as an array of text parts is joined with newlines. */
START_TEST(check_chat_request_text_parts)
{
	check_chat_request_query_is("{\"model\":\"m\",\"messages\":[{\"role\":"
	    "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"first\"},"
	    "{\"type\":\"text\",\"text\":\"second\"},{\"type\":\"text\","
	    "\"text\":\"third\"}]}]}", "first\nsecond\nthird");
	/* Empty parts add nothing (no doubled newline). */
	check_chat_request_query_is("{\"messages\":[{\"role\":\"user\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\","
	    "\"text\":\"a\"},{\"type\":\"text\",\"text\":\"\"},{\"type\":"
	    "\"text\",\"text\":\"b\"}]}]}", "a\nb");
}
END_TEST

/* A system (or developer) prompt makes a transcript, system first. */
START_TEST(check_chat_request_transcript_system)
{
	check_chat_request_query_is("{\"messages\":[{\"role\":\"system\","
	    "\"content\":\"You are terse.\"},{\"role\":\"user\",\"content\":"
	    "\"Hi\"}]}", "System: You are terse.\n\nUser: Hi");
	check_chat_request_query_is("{\"messages\":[{\"role\":\"developer\","
	    "\"content\":\"Be brief\"},{\"role\":\"user\",\"content\":"
	    "\"Hi\"}]}", "System: Be brief\n\nUser: Hi");
	/* A developer prompt given as text parts. */
	check_chat_request_query_is("{\"messages\":[{\"role\":\"developer\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"Rule 1\"},{\"type\":"
	    "\"text\",\"text\":\"Rule 2\"}]},{\"role\":\"user\",\"content\":"
	    "\"Go\"}]}", "System: Rule 1\nRule 2\n\nUser: Go");
}
END_TEST

/* Earlier turns: every turn in order; system prompts moved first. */
START_TEST(check_chat_request_transcript_turns)
{
	struct chat_request	cr;

	check_chat_request_query_is("{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"What is 2+2?\"},{\"role\":\"assistant\",\"content\":"
	    "\"4\"},{\"role\":\"user\",\"content\":\"And 3+3?\"}]}",
	    "User: What is 2+2?\n\nAssistant: 4\n\nUser: And 3+3?");
	check_chat_request_query_is("{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"A\"},{\"role\":\"system\",\"content\":\"S1\"},"
	    "{\"role\":\"assistant\",\"content\":\"B\"},{\"role\":"
	    "\"developer\",\"content\":\"S2\"},{\"role\":\"user\",\"content\":"
	    "\"C\"}]}", "System: S1\n\nSystem: S2\n\nUser: A\n\n"
	    "Assistant: B\n\nUser: C");
	/* The last user message is found even when others follow it. */
	check_chat_request_ok(&cr, "{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"A\"},{\"role\":\"user\",\"content\":\"B\"},"
	    "{\"role\":\"assistant\",\"content\":\"C\"}]}");
	ck_assert_uint_eq(cr.last_user, 1);
	ck_assert_int_eq(cr.first_turn, 0);
	ck_assert_uint_eq(cr.nmessages, 3);
	chat_request_free(&cr);
	/* An assistant refusal part is text too. */
	check_chat_request_query_is("{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
	    "\"refusal\",\"refusal\":\"No.\"}]},{\"role\":\"user\",\"content\":"
	    "\"why\"}]}", "User: x\n\nAssistant: No.\n\nUser: why");
}
END_TEST

/* Tool calls and tool results in the transcript. */
START_TEST(check_chat_request_transcript_tools)
{
	struct chat_request	 cr;
	json_t			*body;
	const char		*q;

	check_chat_request_query_is("{\"messages\":["
	    "{\"role\":\"system\",\"content\":\"You are a weather bot.\"},"
	    "{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
	    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
	    "\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\",\"arguments\":"
	    "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":"
	    "\"18C and sunny\"},"
	    "{\"role\":\"user\",\"content\":\"Thanks! And tomorrow?\"}]}",
	    "System: You are a weather bot.\n\n"
	    "User: Weather in Paris?\n\n"
	    "Assistant: [called tool get_weather({\"city\":\"Paris\"})]\n\n"
	    "Tool (call_1): 18C and sunny\n\n"
	    "User: Thanks! And tomorrow?");

	/* Text and two calls; a tool result as text parts. */
	check_chat_request_ok(&cr, "{\"messages\":["
	    "{\"role\":\"user\",\"content\":\"Go\"},"
	    "{\"role\":\"assistant\",\"content\":\"Let me check.\","
	    "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":"
	    "{\"name\":\"alpha\",\"arguments\":\"{}\"}},{\"id\":\"c2\","
	    "\"type\":\"function\",\"function\":{\"name\":\"beta\","
	    "\"arguments\":\"{\\\"x\\\":1}\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"A\"}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"B\"},"
	    "{\"role\":\"user\",\"content\":\"Now?\"}]}");
	body = check_chat_request_body(&cr, "u", NULL, 0);
	q = check_chat_request_query(body);
	ck_assert_msg(strncmp(q, "User: Go\n\nAssistant: Let me check.", 34) ==
	    0, "%s", q);
	ck_assert_msg(strstr(q, "[called tool alpha({})]") != NULL, "%s", q);
	ck_assert_msg(strstr(q, "[called tool beta({\"x\":1})]") != NULL, "%s",
	    q);
	ck_assert_msg(strstr(q, "]\n\nTool (c1): A\n\nTool (c2): B\n\n"
	    "User: Now?") != NULL, "%s", q);
	json_decref(body);
	chat_request_free(&cr);

	/* The deprecated function role is a tool result. */
	check_chat_request_query_is("{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"q\"},{\"role\":\"function\",\"name\":\"f\","
	    "\"content\":\"r\"},{\"role\":\"user\",\"content\":\"s\"}]}",
	    "User: q\n\nTool: r\n\nUser: s");
}
END_TEST

/* Continuing a Dify conversation: only the last user message. */
START_TEST(check_chat_request_continuing)
{
	struct chat_request	 cr;
	json_t			*body;
	struct buf		 q = BUF_INIT;

	check_chat_request_ok(&cr, "{\"messages\":[{\"role\":\"system\","
	    "\"content\":\"S\"},{\"role\":\"user\",\"content\":\"A\"},"
	    "{\"role\":\"assistant\",\"content\":\"B\"},{\"role\":\"user\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"C1\"},{\"type\":"
	    "\"text\",\"text\":\"C2\"}]}]}");
	body = check_chat_request_body(&cr, "u", "45701982-8118-4bc5-8e9b-"
	    "64562b4555f2", 0);
	ck_assert_str_eq(check_chat_request_query(body), "C1\nC2");
	ck_assert_str_eq(json_string_value(json_object_get(body,
	    "conversation_id")), "45701982-8118-4bc5-8e9b-64562b4555f2");
	ck_assert_uint_eq(json_object_size(body), 6);
	json_decref(body);

	/* Without one, the same request is a transcript. */
	body = check_chat_request_body(&cr, "u", NULL, 0);
	ck_assert_str_eq(check_chat_request_query(body),
	    "System: S\n\nUser: A\n\nAssistant: B\n\nUser: C1\nC2");
	json_decref(body);

	/* chat_request_query directly. */
	chat_request_query(&cr, 1, &q);
	ck_assert_str_eq(buf_cstr(&q), "C1\nC2");
	buf_free(&q);
	chat_request_free(&cr);
}
END_TEST

/* openai-node's "all optional params" request: every field is ignored. */
START_TEST(check_chat_request_all_params)
{
	static const char	 verbatim[] =
	    "{\"messages\":[{\"content\":\"string\",\"role\":\"developer\","
	    "\"name\":\"name\"}],\"model\":\"gpt-5.4\","
	    "\"audio\":{\"format\":\"wav\",\"voice\":\"alloy\"},"
	    "\"frequency_penalty\":-2,\"function_call\":\"none\","
	    "\"functions\":[{\"name\":\"name\",\"description\":\"description\","
	    "\"parameters\":{\"foo\":\"bar\"}}],"
	    "\"logit_bias\":{\"foo\":0},\"logprobs\":true,"
	    "\"max_completion_tokens\":0,\"max_tokens\":0,"
	    "\"metadata\":{\"foo\":\"string\"},"
	    "\"modalities\":[\"text\"],\"n\":1,\"parallel_tool_calls\":true,"
	    "\"prediction\":{\"content\":\"string\",\"type\":\"content\"},"
	    "\"presence_penalty\":-2,\"prompt_cache_key\":"
	    "\"prompt-cache-key-1234\",\"reasoning_effort\":\"none\","
	    "\"response_format\":{\"type\":\"text\"},\"safety_identifier\":"
	    "\"safety-identifier-1234\",\"seed\":-9007199254740991,"
	    "\"service_tier\":\"auto\",\"stop\":\"\\n\",\"store\":true,"
	    "\"stream\":false,"
	    "\"stream_options\":{\"include_obfuscation\":true,"
	    "\"include_usage\":true},\"temperature\":1,"
	    "\"tool_choice\":\"none\","
	    "\"tools\":[{\"function\":{\"name\":\"name\",\"description\":"
	    "\"description\",\"parameters\":{\"foo\":\"bar\"},\"strict\":true},"
	    "\"type\":\"function\"}],"
	    "\"top_logprobs\":0,\"top_p\":1,\"user\":\"user-1234\","
	    "\"verbosity\":\"low\"}";
	struct buf		 b = BUF_INIT;
	struct chat_request	 cr;
	json_t			*body;

	/*
	 * Verbatim it has no user message, which is the one thing refused
	 * (see check_chat_request_errors_messages).
	 */
	check_chat_request_bad(verbatim, sizeof(verbatim) - 1,
	    "invalid_value", "messages");

	/*
	 * With a user message added (and a few non-OpenAI extras), it is
	 * accepted: everything after "messages" is the verbatim payload.
	 */
	buf_add_str(&b, "{\"messages\":[{\"content\":\"string\",\"role\":"
	    "\"developer\",\"name\":\"name\"},{\"role\":\"user\",\"content\":"
	    "\"Hello\",\"name\":\"bob\",\"cache_control\":{\"type\":"
	    "\"ephemeral\"}}],");
	buf_add(&b, strstr(verbatim, "\"model\""),
	    strlen(strstr(verbatim, "\"model\"")) - 1);
	buf_add_str(&b, ",\"chat_id\":42,\"reasoning\":{\"effort\":\"high\"},"
	    "\"extra\":[null,true,1.5,{\"a\":[]}]}");
	check_chat_request_ok(&cr, buf_cstr(&b));
	ck_assert_uint_eq(cr.modellen, 7);
	ck_assert_int_eq(memcmp(cr.model, "gpt-5.4", 7), 0);
	ck_assert_int_eq(cr.stream, 0);
	ck_assert_int_eq(cr.include_usage, 1);
	ck_assert_str_eq(cr.user, "user-1234");
	body = check_chat_request_body(&cr, cr.user, NULL, 0);
	ck_assert_str_eq(check_chat_request_query(body),
	    "System: string\n\nUser: Hello");
	json_decref(body);
	chat_request_free(&cr);
	buf_free(&b);
}
END_TEST

/*
 * A client may name the Dify conversation in the body: kept as given;
 * null or "" names none; a non-string or an id no Dify makes is a 400.
 */
START_TEST(check_chat_request_named_conversation)
{
	struct chat_request	cr;
	static const char	ok[] = "{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}],\"conversation_id\":"
	    "\"45701982-8118-4bc5-8e9b-64562b4555f2\"}";
	static const char	none[] = "{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}],\"conversation_id\":\"\"}";
	static const char	num[] = "{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}],\"conversation_id\":7}";
	static const char	evil[] = "{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}],\"conversation_id\":\"a\\r\\nSet-Cookie: x\"}";

	check_chat_request_ok(&cr, ok);
	ck_assert_str_eq(cr.conversation_id,
	    "45701982-8118-4bc5-8e9b-64562b4555f2");
	chat_request_free(&cr);
	check_chat_request_ok(&cr, none);
	ck_assert_str_eq(cr.conversation_id, "");
	chat_request_free(&cr);
	check_chat_request_bad(num, strlen(num), "invalid_type",
	    "conversation_id");
	check_chat_request_bad(evil, strlen(evil), "invalid_value",
	    "conversation_id");
}
END_TEST

/* stream, stream_options.include_usage and model are read. */
START_TEST(check_chat_request_options)
{
	struct chat_request	cr;

	check_chat_request_ok(&cr, "{\"model\":\"my-app\",\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":true},\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}]}");
	ck_assert_int_eq(cr.stream, 1);
	ck_assert_int_eq(cr.include_usage, 1);
	ck_assert_uint_eq(cr.modellen, 6);
	ck_assert_int_eq(memcmp(cr.model, "my-app", 6), 0);
	chat_request_free(&cr);

	check_chat_request_ok(&cr, "{\"stream\":null,\"stream_options\":null,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
	ck_assert_int_eq(cr.stream, 0);
	ck_assert_int_eq(cr.include_usage, 0);
	chat_request_free(&cr);

	check_chat_request_ok(&cr, "{\"stream\":true,\"stream_options\":"
	    "{\"include_usage\":false},\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}");
	ck_assert_int_eq(cr.stream, 1);
	ck_assert_int_eq(cr.include_usage, 0);
	chat_request_free(&cr);
}
END_TEST

/* A missing, null or empty model is "dify". */
START_TEST(check_chat_request_default_model)
{
	static const char	*bodies[] = {
		"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
		"{\"model\":null,\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}]}",
		"{\"model\":\"\",\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}]}",
	};
	struct chat_request	 cr;
	size_t			 i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		check_chat_request_ok(&cr, bodies[i]);
		ck_assert_uint_eq(cr.modellen, 4);
		ck_assert_int_eq(memcmp(cr.model, "dify", 4), 0);
		chat_request_free(&cr);
	}
}
END_TEST

/* user: a string, Open WebUI's object, a number; at most 255 bytes. */
START_TEST(check_chat_request_user)
{
	struct chat_request	cr;
	struct buf		b = BUF_INIT;
	size_t			i;

	check_chat_request_ok(&cr, "{\"user\":\"alice\",\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}]}");
	ck_assert_str_eq(cr.user, "alice");
	chat_request_free(&cr);

	check_chat_request_ok(&cr, "{\"user\":{\"name\":\"Alice\",\"id\":"
	    "\"u1\",\"email\":\"a@example.com\",\"role\":\"user\"},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
	ck_assert_str_eq(cr.user, "u1");
	chat_request_free(&cr);

	check_chat_request_ok(&cr, "{\"user\":42,\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}]}");
	ck_assert_str_eq(cr.user, "42");
	chat_request_free(&cr);

	check_chat_request_ok(&cr, "{\"user\":-7,\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}]}");
	ck_assert_str_eq(cr.user, "-7");
	chat_request_free(&cr);

	/* None, null, empty, or an object without an id: no user. */
	check_chat_request_ok(&cr, "{\"user\":null,\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}]}");
	ck_assert_str_eq(cr.user, "");
	chat_request_free(&cr);
	check_chat_request_ok(&cr, "{\"user\":\"\",\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}]}");
	ck_assert_str_eq(cr.user, "");
	chat_request_free(&cr);
	check_chat_request_ok(&cr, "{\"user\":{\"name\":\"n\"},\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}]}");
	ck_assert_str_eq(cr.user, "");
	chat_request_free(&cr);

	/* 255 bytes fit. */
	buf_add_str(&b, "{\"user\":\"");
	for (i = 0; i < 255; i++)
		buf_add_char(&b, 'a' + i % 26);
	buf_add_str(&b, "\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]}");
	check_chat_request_ok(&cr, buf_cstr(&b));
	ck_assert_uint_eq(strlen(cr.user), 255);
	ck_assert_int_eq(memcmp(cr.user, buf_cstr(&b) + 9, 255), 0);
	chat_request_free(&cr);

	/* 256 do not, as a string or as an object's id. */
	buf_reset(&b);
	buf_add_str(&b, "{\"user\":\"");
	for (i = 0; i < 256; i++)
		buf_add_char(&b, 'a');
	buf_add_str(&b, "\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]}");
	check_chat_request_bad(b.data, b.len, "invalid_value", "user");
	buf_reset(&b);
	buf_add_str(&b, "{\"user\":{\"id\":\"");
	for (i = 0; i < 300; i++)
		buf_add_char(&b, 'b');
	buf_add_str(&b, "\"},\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]}");
	check_chat_request_bad(b.data, b.len, "invalid_value", "user");
	buf_free(&b);
}
END_TEST

/* Bodies that are not a JSON object. */
START_TEST(check_chat_request_errors_body)
{
	check_chat_request_bad("{\"messages\": [", 14, "invalid_json", "");
	check_chat_request_bad("not json", 8, "invalid_json", "");
	check_chat_request_bad("", 0, "invalid_json", "");
	check_chat_request_bad("[]", 2, "invalid_type", NULL);
	check_chat_request_bad("[{\"role\":\"user\",\"content\":\"x\"}]", 31,
	    "invalid_type", NULL);
}
END_TEST

/*
 * A body that is not JSON gets a message saying what is wrong and where:
 * the line and column of the offending byte, not of the string holding it.
 */
START_TEST(check_chat_request_errors_say_where)
{
	static const struct {
		const char	*body;
		const char	*says;
	} cases[] = {
		{ "{\"model\": \"m\",\n \"messages\": [{\"role\": \"user\", "
		    "\"content\": \"one\ttwo\"}]}",
		    "a raw control character in a string (it must be escaped) "
		    "(line 2, column 47)" },
		{ "{\"messages\": [{\"content\": \"caf\\xe9\"}]}",
		    "an invalid escape in a string (line 1, column 31)" },
		{ "{\"messages\": [{\"content\": \"caf\xe9\"}]}",
		    "invalid UTF-8 in a string (line 1, column 31)" },
		{ "{\"messages\": [1,]}",
		    "a value expected (line 1, column 17)" },
	};
	struct chat_request	cr;
	struct api_error	e;
	size_t			i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&e, 0, sizeof(e));
		ck_assert_int_eq(chat_request_parse(&cr, cases[i].body,
		    strlen(cases[i].body), &e), -1);
		ck_assert_str_eq(e.code, "invalid_json");
		ck_assert_msg(strstr(e.message, cases[i].says) != NULL,
		    "case %zu: \"%s\" does not say \"%s\"", i, e.message,
		    cases[i].says);
	}
}
END_TEST

/* The messages array and each message. */
START_TEST(check_chat_request_errors_messages)
{
	static const struct {
		const char	*body;
		const char	*code;
		const char	*param;
	} rows[] = {
		{ "{\"model\":\"m\"}", "missing_required_parameter",
		    "messages" },
		{ "{\"messages\":\"hi\"}", "invalid_type", "messages" },
		{ "{\"messages\":{\"role\":\"user\"}}", "invalid_type",
		    "messages" },
		{ "{\"messages\":null}", "invalid_type", "messages" },
		{ "{\"messages\":[]}", "empty_array", "messages" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
		    "\"b\"]}", "invalid_type", "messages[1]" },
		{ "{\"messages\":[{\"content\":\"a\"}]}",
		    "missing_required_parameter", "messages[0].role" },
		{ "{\"messages\":[{\"role\":\"wizard\",\"content\":\"a\"}]}",
		    "invalid_value", "messages[0].role" },
		{ "{\"messages\":[{\"role\":7,\"content\":\"a\"}]}",
		    "invalid_type", "messages[0].role" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
		    "{\"role\":\"User\",\"content\":\"b\"}]}",
		    "invalid_value", "messages[1].role" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":42}]}",
		    "invalid_type", "messages[0].content" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":{\"text\":"
		    "\"a\"}}]}", "invalid_type", "messages[0].content" },
		{ "{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
		    "invalid_value", "messages" },
		{ "{\"messages\":[{\"role\":\"assistant\",\"content\":\"x\"}]}",
		    "invalid_value", "messages" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}",
		    "invalid_value", "messages" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":null}]}",
		    "invalid_value", "messages" },
		{ "{\"messages\":[{\"role\":\"user\"}]}", "invalid_value",
		    "messages" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[]}]}",
		    "invalid_value", "messages" },
		{ "{\"messages\":[{\"role\":\"system\",\"content\":\"x\"},"
		    "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
		    "\"text\":\"\"}]}]}", "invalid_value", "messages" },
	};
	size_t	i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_chat_request_bad(rows[i].body, strlen(rows[i].body),
		    rows[i].code, rows[i].param);
}
END_TEST

/* Content parts. */
START_TEST(check_chat_request_errors_parts)
{
	static const struct {
		const char	*body;
		const char	*code;
		const char	*param;
	} rows[] = {
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"text\"}]}]}", "invalid_type",
		    "messages[0].content[0].text" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"text\",\"text\":5}]}]}", "invalid_type",
		    "messages[0].content[0].text" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"text\",\"text\":\"a\"},{\"type\":\"input_audio\","
		    "\"input_audio\":{\"data\":\"AAAA\",\"format\":"
		    "\"wav\"}}]}]}",
		    "unsupported_value", "messages[0].content[1].type" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"file\",\"file\":{\"file_id\":\"f\"}}]}]}",
		    "unsupported_value", "messages[0].content[0].type" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"text\",\"text\":\"hi\"},{\"type\":\"image_url\","
		    "\"image_url\":{\"url\":"
		    "\"data:image/png;base64,iVBORw0\"}}]}]}",
		    /* Inline images are taken now; five bytes are no PNG. */
		    "invalid_image_format", "messages[0].content[1].image_url" },
		{ "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
		    "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
		    "\"image_url\":\"file:///etc/passwd\"},{\"type\":\"text\","
		    "\"text\":\"hi\"}]}]}",
		    "unsupported_value", "messages[1].content[0].image_url" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"image_url\",\"image_url\":{}}]}]}",
		    "missing_required_parameter",
		    "messages[0].content[0].image_url" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[\"text\"]}]}",
		    "invalid_type", "messages[0].content[0]" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":"
		    "\"a\"}]}]}", "missing_required_parameter",
		    "messages[0].content[0].type" },
	};
	size_t	i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_chat_request_bad(rows[i].body, strlen(rows[i].body),
		    rows[i].code, rows[i].param);
}
END_TEST

/* model, stream and inputs of the wrong type. */
START_TEST(check_chat_request_errors_fields)
{
	static const char	 msgs[] =
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
	struct buf		 b = BUF_INIT;

	buf_add_str(&b, "{\"model\":42,");
	buf_add_str(&b, msgs);
	check_chat_request_bad(b.data, b.len, "invalid_type", "model");
	buf_reset(&b);
	buf_add_str(&b, "{\"model\":[\"gpt\"],");
	buf_add_str(&b, msgs);
	check_chat_request_bad(b.data, b.len, "invalid_type", "model");
	buf_reset(&b);
	buf_add_str(&b, "{\"stream\":\"yes\",");
	buf_add_str(&b, msgs);
	check_chat_request_bad(b.data, b.len, "invalid_type", "stream");
	buf_reset(&b);
	buf_add_str(&b, "{\"stream\":1,");
	buf_add_str(&b, msgs);
	check_chat_request_bad(b.data, b.len, "invalid_type", "stream");
	buf_reset(&b);
	buf_add_str(&b, "{\"inputs\":\"x\",");
	buf_add_str(&b, msgs);
	check_chat_request_bad(b.data, b.len, "invalid_type", "inputs");
	buf_free(&b);
}
END_TEST

/* https images of the last user message become Dify remote_url files. */
START_TEST(check_chat_request_images)
{
	struct chat_request	 cr;
	json_t			*body, *files, *f;

	check_chat_request_ok(&cr, "{\"model\":\"gpt-5.4\",\"messages\":"
	    "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"What is in this image?\"},{\"type\":\"image_url\",\"image_url\":"
	    "{\"url\":\"https://upload.wikimedia.org/a.jpg\",\"detail\":"
	    "\"low\"}},{\"type\":\"image_url\",\"image_url\":"
	    "\"http://example.com/b.png\"}]}],\"max_tokens\":300}");
	ck_assert_uint_eq(cr.nfiles, 2);
	body = check_chat_request_body(&cr, "u", NULL, 0);
	ck_assert_str_eq(check_chat_request_query(body),
	    "What is in this image?");
	files = json_object_get(body, "files");
	ck_assert(json_is_array(files));
	ck_assert_uint_eq(json_array_size(files), 2);
	f = json_array_get(files, 0);
	ck_assert_uint_eq(json_object_size(f), 3);
	ck_assert_str_eq(json_string_value(json_object_get(f, "type")),
	    "image");
	ck_assert_str_eq(json_string_value(json_object_get(f,
	    "transfer_method")), "remote_url");
	ck_assert_str_eq(json_string_value(json_object_get(f, "url")),
	    "https://upload.wikimedia.org/a.jpg");
	f = json_array_get(files, 1);
	ck_assert_str_eq(json_string_value(json_object_get(f, "url")),
	    "http://example.com/b.png");
	json_decref(body);
	chat_request_free(&cr);

	/* Images of earlier messages are not files; "[image]" in history. */
	check_chat_request_ok(&cr, "{\"messages\":[{\"role\":\"user\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"Look\"},{\"type\":"
	    "\"image_url\",\"image_url\":{\"url\":\"https://e.com/1.png\"}}]},"
	    "{\"role\":\"assistant\",\"content\":\"A cat.\"},"
	    "{\"role\":\"user\","
	    "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"https://e.com/2.png\"}},{\"type\":\"text\",\"text\":"
	    "\"And this?\"}]}]}");
	ck_assert_uint_eq(cr.nfiles, 1);
	body = check_chat_request_body(&cr, "u", NULL, 0);
	files = json_object_get(body, "files");
	ck_assert_uint_eq(json_array_size(files), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(files,
	    0), "url")), "https://e.com/2.png");
	ck_assert_str_eq(check_chat_request_query(body),
	    "User: Look\n[image]\n\nAssistant: A cat.\n\n"
	    "User: [image]\nAnd this?");
	json_decref(body);
	/* Continuing: the last message's text alone, its image as a file. */
	body = check_chat_request_body(&cr, "u", "c-1", 0);
	ck_assert_str_eq(check_chat_request_query(body), "And this?");
	ck_assert_uint_eq(json_array_size(json_object_get(body, "files")), 1);
	json_decref(body);
	chat_request_free(&cr);
}
END_TEST

/* Inline images for the tests below: PNG, JPEG and GIF magic numbers. */
#define CR_PNG	"data:image/png;base64,iVBORw0KGgo="	/* 8 bytes */
#define CR_JPEG	"data:image/jpeg;base64,/9j/4AAQ"	/* 6 bytes */
#define CR_GIF	"data:image/gif;base64,R0lGODlh"	/* GIF89a */
#define CR_PART(url) \
	"{\"type\":\"image_url\",\"image_url\":{\"url\":\"" url "\"}}"

/* The raw Dify body must end with tail (its files, then "}"). */
static void
check_chat_request_tail_is(const struct chat_request *cr, int run,
    const char *tail)
{
	struct buf	 b = BUF_INIT;
	size_t		 n = strlen(tail);

	if (run)
		chat_request_dify_run_body(cr, "u", "prompt", 0, &b);
	else
		chat_request_dify_body(cr, "u", NULL, 0, &b);
	ck_assert_msg(b.len >= n && memcmp(b.data + b.len - n, tail, n) == 0,
	    "body %s does not end with %s", buf_cstr(&b), tail);
	/* And files, if any, only there. */
	ck_assert_msg(strstr(buf_cstr(&b), "\"files\"") == NULL ||
	    strstr(buf_cstr(&b), "\"files\"") == strstr(b.data + b.len - n,
	    "\"files\""), "files twice in %s", buf_cstr(&b));
	buf_free(&b);
}

#define CR_REMOTE	"{\"type\":\"image\",\"transfer_method\":" \
			"\"remote_url\",\"url\":\"https://e.com/r.png\"}"
#define CR_LOCAL(id)	"{\"type\":\"image\",\"transfer_method\":" \
			"\"local_file\",\"upload_file_id\":\"" id "\"}"

/*
 * Inline images of the last user message are decoded (with the part each
 * came from); an https one stays remote.  The files: remote ones first,
 * then the uploaded ones, in their order, once they have their ids.
 */
START_TEST(check_chat_request_inline_images)
{
	struct chat_request	 cr;
	json_t			*body;
	int			 run;

	check_chat_request_ok(&cr, "{\"messages\":[{\"role\":\"user\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"Compare\"},"
	    CR_PART(CR_PNG) ",{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"https://e.com/r.png\",\"detail\":\"high\"}},"
	    "{\"type\":\"image_url\",\"image_url\":\"" CR_JPEG "\"}]}]}");
	ck_assert_uint_eq(cr.nfiles, 1);
	ck_assert_uint_eq(cr.nimages, 2);
	ck_assert_str_eq(cr.images[0].param,
	    "messages[0].content[1].image_url");
	ck_assert_str_eq(cr.images[0].mime, "image/png");
	ck_assert_str_eq(cr.images[0].ext, "png");
	ck_assert_uint_eq(cr.images[0].data.len, 8);
	ck_assert_int_eq(memcmp(cr.images[0].data.data,
	    "\x89PNG\r\n\x1a\n", 8), 0);
	ck_assert_str_eq(cr.images[0].file_id, "");
	ck_assert_str_eq(cr.images[1].param,
	    "messages[0].content[3].image_url");
	ck_assert_str_eq(cr.images[1].mime, "image/jpeg");
	ck_assert_str_eq(cr.images[1].ext, "jpg");
	ck_assert_uint_eq(cr.images[1].data.len, 6);
	ck_assert_int_eq(memcmp(cr.images[1].data.data,
	    "\xff\xd8\xff\xe0\0\x10", 6), 0);
	/* The images are files, not text. */
	body = check_chat_request_body(&cr, "u", NULL, 0);
	ck_assert_str_eq(check_chat_request_query(body), "Compare");
	json_decref(body);

	for (run = 0; run < 2; run++) {
		/* Not uploaded yet: only the remote one. */
		check_chat_request_tail_is(&cr, run,
		    ",\"files\":[" CR_REMOTE "]}");
		/* The second uploaded only: it alone follows. */
		snprintf(cr.images[1].file_id, sizeof(cr.images[1].file_id),
		    "%s", "id-jpg");
		check_chat_request_tail_is(&cr, run,
		    ",\"files\":[" CR_REMOTE "," CR_LOCAL("id-jpg") "]}");
		snprintf(cr.images[0].file_id, sizeof(cr.images[0].file_id),
		    "%s", "72fa9618-8f89-4a37-9b33-7e1178a24a67");
		check_chat_request_tail_is(&cr, run,
		    ",\"files\":[" CR_REMOTE ","
		    CR_LOCAL("72fa9618-8f89-4a37-9b33-7e1178a24a67") ","
		    CR_LOCAL("id-jpg") "]}");
		cr.images[0].file_id[0] = cr.images[1].file_id[0] = '\0';
	}
	chat_request_free(&cr);

	/* Inline images only: no remote item, no leading comma. */
	check_chat_request_ok(&cr, "{\"messages\":[{\"role\":\"user\","
	    "\"content\":[" CR_PART(CR_GIF) ",{\"type\":\"text\",\"text\":"
	    "\"Two\"}," CR_PART("DATA:IMAGE/PNG;BASE64,iVBORw0KGgo") "]}]}");
	ck_assert_uint_eq(cr.nfiles, 0);
	ck_assert_uint_eq(cr.nimages, 2);
	ck_assert_str_eq(cr.images[0].param,
	    "messages[0].content[0].image_url");
	ck_assert_str_eq(cr.images[0].mime, "image/gif");
	ck_assert_str_eq(cr.images[1].param,
	    "messages[0].content[2].image_url");
	ck_assert_str_eq(cr.images[1].mime, "image/png");
	for (run = 0; run < 2; run++) {
		/* Nothing uploaded: no files member at all. */
		check_chat_request_tail_is(&cr, run, run ?
		    "\"user\":\"u\"}" : "\"auto_generate_name\":false}");
		snprintf(cr.images[0].file_id, sizeof(cr.images[0].file_id),
		    "%s", "a");
		snprintf(cr.images[1].file_id, sizeof(cr.images[1].file_id),
		    "%s", "b");
		check_chat_request_tail_is(&cr, run,
		    ",\"files\":[" CR_LOCAL("a") "," CR_LOCAL("b") "]}");
		cr.images[0].file_id[0] = cr.images[1].file_id[0] = '\0';
	}
	chat_request_free(&cr);
}
END_TEST

/*
 * Inline images of earlier messages are not decoded nor uploaded: they
 * are "[image]" in the transcript.  Only the last user message's are.
 */
START_TEST(check_chat_request_inline_images_history)
{
	struct chat_request	 cr;
	json_t			*body;

	check_chat_request_ok(&cr, "{\"messages\":[{\"role\":\"user\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"Look\"},"
	    CR_PART(CR_PNG) "]},{\"role\":\"assistant\",\"content\":"
	    "\"A cat.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"And this?\"}]}]}");
	ck_assert_uint_eq(cr.nimages, 0);
	ck_assert_uint_eq(cr.nfiles, 0);
	body = check_chat_request_body(&cr, "u", NULL, 0);
	ck_assert_str_eq(check_chat_request_query(body),
	    "User: Look\n[image]\n\nAssistant: A cat.\n\nUser: And this?");
	ck_assert_ptr_null(json_object_get(body, "files"));
	json_decref(body);
	chat_request_free(&cr);

	/* History and last message both with one: only the last's counts. */
	check_chat_request_ok(&cr, "{\"messages\":[{\"role\":\"user\","
	    "\"content\":[" CR_PART(CR_JPEG) "," CR_PART(CR_PNG) ",{\"type\":"
	    "\"text\",\"text\":\"Old\"}]},{\"role\":\"assistant\","
	    "\"content\":\"Two.\"},{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"Now\"}," CR_PART(CR_GIF) "]}]}");
	ck_assert_uint_eq(cr.nimages, 1);
	ck_assert_str_eq(cr.images[0].param,
	    "messages[2].content[1].image_url");
	ck_assert_str_eq(cr.images[0].mime, "image/gif");
	ck_assert_uint_eq(cr.images[0].data.len, 6);
	body = check_chat_request_body(&cr, "u", NULL, 0);
	ck_assert_str_eq(check_chat_request_query(body),
	    "User: [image]\n[image]\nOld\n\nAssistant: Two.\n\n"
	    "User: Now\n[image]");
	json_decref(body);
	/* Continuing: the last message's text alone. */
	body = check_chat_request_body(&cr, "u", "c-1", 0);
	ck_assert_str_eq(check_chat_request_query(body), "Now");
	json_decref(body);
	snprintf(cr.images[0].file_id, sizeof(cr.images[0].file_id), "%s",
	    "g1");
	check_chat_request_tail_is(&cr, 0, ",\"files\":[" CR_LOCAL("g1") "]}");
	chat_request_free(&cr);

	/* The last user message, though an assistant message follows it. */
	check_chat_request_ok(&cr, "{\"messages\":[{\"role\":\"user\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"Hi\"},"
	    CR_PART(CR_PNG) "]},{\"role\":\"assistant\",\"content\":"
	    "\"Hm\"}]}");
	ck_assert_uint_eq(cr.nimages, 1);
	ck_assert_str_eq(cr.images[0].param,
	    "messages[0].content[1].image_url");
	chat_request_free(&cr);
}
END_TEST

/* A request with n inline PNGs (and extra remote ones) in one message. */
static char *
check_chat_request_n_images(size_t n, size_t remote)
{
	struct buf	b = BUF_INIT;
	size_t		i;

	buf_add_str(&b, "{\"messages\":[{\"role\":\"user\",\"content\":["
	    "{\"type\":\"text\",\"text\":\"many\"}");
	for (i = 0; i < n; i++)
		buf_add_str(&b, "," CR_PART(CR_PNG));
	for (i = 0; i < remote; i++)
		buf_add_str(&b, "," CR_PART("https://e.com/r.png"));
	buf_add_str(&b, "]}]}");
	return (buf_detach(&b));
}

/* At most 10 inline images in the message: the 11th is a 400. */
START_TEST(check_chat_request_too_many_images)
{
	struct chat_request	 cr;
	struct api_error	 e;
	char			*req, want[64];
	size_t			 i;

	ck_assert_int_eq(DIFY_UPLOAD_MAX_IMAGES, 10);
	/* Ten, and remote ones besides: those do not count. */
	req = check_chat_request_n_images(10, 3);
	check_chat_request_ok(&cr, req);
	ck_assert_uint_eq(cr.nimages, 10);
	ck_assert_uint_eq(cr.nfiles, 3);
	for (i = 0; i < 10; i++) {
		snprintf(want, sizeof(want), "messages[0].content[%zu]."
		    "image_url", i + 1);
		ck_assert_str_eq(cr.images[i].param, want);
		ck_assert_uint_eq(cr.images[i].data.len, 8);
	}
	chat_request_free(&cr);
	free(req);

	req = check_chat_request_n_images(11, 0);
	check_chat_request_bad(req, strlen(req), "too_many_images",
	    "messages");
	ck_assert_int_eq(chat_request_parse(&cr, req, strlen(req), &e), -1);
	ck_assert_msg(strstr(e.message, "10") != NULL, "%s", e.message);
	free(req);
	req = check_chat_request_n_images(30, 1);
	check_chat_request_bad(req, strlen(req), "too_many_images",
	    "messages");
	free(req);
}
END_TEST

/*
 * A bad inline image in an earlier message is only "[image]" text: not
 * an error.  One in the last user message is a 400 naming its part.
 */
START_TEST(check_chat_request_bad_inline_image)
{
	static const char *const	 history[] = {
		"data:image/png;base64,!!!",		/* not base64 */
		"data:image/tiff;base64,SUkqAA==",	/* not a type */
		"data:image/png;base64,/9j/4AAQ",	/* not a PNG */
		"data:image/png,raw",			/* not base64 */
		"data:",
	};
	static const char		 pfx[] = "Invalid image in "
					    "'messages[2].content[1].image_url': ";
	struct chat_request		 cr;
	struct api_error		 e;
	json_t				*body;
	const char			*lit;
	char				*req;
	size_t				 i;

	for (i = 0; i < sizeof(history) / sizeof(history[0]); i++) {
		if (asprintf(&req, "{\"messages\":[{\"role\":\"user\","
		    "\"content\":[{\"type\":\"text\",\"text\":\"Old\"},"
		    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"%s\"}}]},"
		    "{\"role\":\"assistant\",\"content\":\"ok\"},{\"role\":"
		    "\"user\",\"content\":\"New\"}]}", history[i]) < 0)
			abort();
		check_chat_request_ok(&cr, req);
		ck_assert_uint_eq(cr.nimages, 0);
		body = check_chat_request_body(&cr, "u", NULL, 0);
		ck_assert_str_eq(check_chat_request_query(body),
		    "User: Old\n[image]\n\nAssistant: ok\n\nUser: New");
		ck_assert_ptr_null(json_object_get(body, "files"));
		json_decref(body);
		chat_request_free(&cr);

		/* The same image in the last message: named in a 400. */
		free(req);
		if (asprintf(&req, "{\"messages\":[{\"role\":\"user\","
		    "\"content\":\"Old\"},{\"role\":\"assistant\",\"content\":"
		    "\"ok\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
		    "\"text\":\"New\"},{\"type\":\"image_url\",\"image_url\":"
		    "{\"url\":\"%s\"}}]}]}", history[i]) < 0)
			abort();
		check_chat_request_bad(req, strlen(req), "invalid_image_format",
		    "messages[2].content[1].image_url");
		ck_assert_int_eq(chat_request_parse(&cr, req, strlen(req), &e),
		    -1);
		ck_assert_msg(strncmp(e.message, pfx, strlen(pfx)) == 0, "%s",
		    e.message);
		free(req);
	}

	/* A good image, then a bad one: the bad one is named. */
	lit = "{\"messages\":[{\"role\":\"user\",\"content\":["
	    CR_PART(CR_PNG) "," CR_PART("data:image/gif;base64,iVBORw0KGgo=")
	    ",{\"type\":\"text\",\"text\":\"x\"}]}]}";
	check_chat_request_bad(lit, strlen(lit), "invalid_image_format",
	    "messages[0].content[1].image_url");
	ck_assert_int_eq(chat_request_parse(&cr, lit, strlen(lit), &e), -1);
	ck_assert_msg(strstr(e.message, "not a GIF image") != NULL, "%s",
	    e.message);
	/* The type is named, as given. */
	lit = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"x\"}," CR_PART("data:image/bmp;base64,Qk0=")
	    "]}]}";
	ck_assert_int_eq(chat_request_parse(&cr, lit, strlen(lit), &e), -1);
	ck_assert_str_eq(e.param, "messages[0].content[1].image_url");
	ck_assert_msg(strstr(e.message, "'image/bmp'") != NULL, "%s",
	    e.message);
}
END_TEST

/* inputs are passed through to Dify. */
START_TEST(check_chat_request_inputs)
{
	struct chat_request	 cr;
	json_t			*body, *inputs;

	check_chat_request_ok(&cr, "{\"inputs\":{\"city\":\"Paris\",\"n\":2},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
	body = check_chat_request_body(&cr, "u", NULL, 0);
	inputs = json_object_get(body, "inputs");
	ck_assert_uint_eq(json_object_size(inputs), 2);
	ck_assert_str_eq(json_string_value(json_object_get(inputs, "city")),
	    "Paris");
	ck_assert_int_eq(json_integer_value(json_object_get(inputs, "n")), 2);
	json_decref(body);
	chat_request_free(&cr);
}
END_TEST

/* NUL bytes inside strings neither crash nor cut the text. */
START_TEST(check_chat_request_nul)
{
	static const char	 nul_user[] = "{\"user\":\"a\\u0000b\","
				    "\"messages\":[{\"role\":\"user\","
				    "\"content\":\"x\"}]}";
	struct chat_request	 cr;
	json_t			*body, *q;

	check_chat_request_ok(&cr, "{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"a\\u0000b and the rest\"}]}");
	body = check_chat_request_body(&cr, "u", NULL, 0);
	q = json_object_get(body, "query");
	ck_assert_uint_eq(json_string_length(q), 16);
	ck_assert_int_eq(memcmp(json_string_value(q), "a\0b and the rest", 16),
	    0);
	json_decref(body);
	chat_request_free(&cr);

	check_chat_request_ok(&cr, "{\"messages\":[{\"role\":\"system\","
	    "\"content\":\"s\\u0000t\"},{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"text\",\"text\":\"x\\u0000y\"},{\"type\":\"text\","
	    "\"text\":\"z\"}]}]}");
	body = check_chat_request_body(&cr, "u", NULL, 0);
	q = json_object_get(body, "query");
	ck_assert_uint_eq(json_string_length(q), 24);
	ck_assert_int_eq(memcmp(json_string_value(q),
	    "System: s\0t\n\nUser: x\0y\nz", 24), 0);
	json_decref(body);
	chat_request_free(&cr);

	/* In the user field NUL is refused rather than cut. */
	check_chat_request_bad(nul_user, strlen(nul_user), "invalid_value",
	    "user");
}
END_TEST

/* Text with quotes, newlines and UTF-8 reaches Dify unchanged. */
START_TEST(check_chat_request_escaping)
{
	check_chat_request_query_is("{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"say \\\"hi\\\"\\n\\t\\\\ \\u4f60\\u597d "
	    "\xf0\x9f\x99\x82\"}]}",
	    "say \"hi\"\n\t\\ \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x99\x82");
}
END_TEST

/* The chat_request suite. */
Suite *
chat_request_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("chat_request");
	tc = tcase_create("parse");
	tcase_add_test(tc, check_chat_request_first_turn);
	tcase_add_test(tc, check_chat_request_text_parts);
	tcase_add_test(tc, check_chat_request_transcript_system);
	tcase_add_test(tc, check_chat_request_transcript_turns);
	tcase_add_test(tc, check_chat_request_transcript_tools);
	tcase_add_test(tc, check_chat_request_continuing);
	tcase_add_test(tc, check_chat_request_all_params);
	tcase_add_test(tc, check_chat_request_options);
	tcase_add_test(tc, check_chat_request_named_conversation);
	tcase_add_test(tc, check_chat_request_default_model);
	tcase_add_test(tc, check_chat_request_user);
	tcase_add_test(tc, check_chat_request_images);
	tcase_add_test(tc, check_chat_request_inline_images);
	tcase_add_test(tc, check_chat_request_inline_images_history);
	tcase_add_test(tc, check_chat_request_too_many_images);
	tcase_add_test(tc, check_chat_request_bad_inline_image);
	tcase_add_test(tc, check_chat_request_inputs);
	tcase_add_test(tc, check_chat_request_nul);
	tcase_add_test(tc, check_chat_request_escaping);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, check_chat_request_errors_body);
	tcase_add_test(tc, check_chat_request_errors_say_where);
	tcase_add_test(tc, check_chat_request_errors_messages);
	tcase_add_test(tc, check_chat_request_errors_parts);
	tcase_add_test(tc, check_chat_request_errors_fields);
	suite_add_tcase(s, tc);
	return (s);
}
