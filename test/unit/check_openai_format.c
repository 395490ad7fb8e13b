/*
 * check_openai_format: the exact bytes of OpenAI chat completion chunks,
 * the stream terminator, error frames and whole chat.completion objects.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api_error.h"
#include "buf.h"
#include "check_suites.h"
#include "check_util.h"
#include "openai_format.h"

#define CHECK_OF_HEAD	"{\"id\":\"chatcmpl-abc\",\"object\":" \
			"\"chat.completion.chunk\",\"created\":1700000000," \
			"\"model\":\"gpt-4o\""
#define CHECK_OF_PREFIX	"data: " CHECK_OF_HEAD ",\"choices\":[{\"index\":0," \
			"\"delta\":"
#define CHECK_OF_SUFFIX	",\"logprobs\":null,\"finish_reason\":null}]"

/* True if b holds exactly want; otherwise msg shows both. */
static int
check_openai_format_is(const struct buf *b, const char *want, char *msg,
    size_t size)
{
	return (check_same(b->data ? b->data : "", b->len, want, strlen(want),
	    msg, size));
}

/* Set up the format of the examples: chatcmpl-abc, 1700000000, gpt-4o. */
static void
check_openai_format_init(struct openai_format *f, int include_usage)
{
	openai_format_init(f, "chatcmpl-abc", 1700000000, "gpt-4o", 6,
	    include_usage);
}

/*
 * Check that b is exactly one "data: <json>\n\n" frame whose JSON is one
 * line and parses; returns the parsed JSON (the caller frees it).
 */
static json_t *
check_openai_format_frame(const struct buf *b)
{
	json_t		*v;
	json_error_t	 err;
	char		 show[1500];

	check_show(b->data, b->len, show, sizeof(show));
	ck_assert_msg(b->len > 8 && memcmp(b->data, "data: ", 6) == 0,
	    "not a data frame: %s", show);
	ck_assert_msg(memcmp(b->data + b->len - 2, "\n\n", 2) == 0,
	    "no blank line at the end: %s", show);
	ck_assert_msg(memchr(b->data, '\n', b->len - 2) == NULL &&
	    memchr(b->data, '\r', b->len) == NULL, "more than one line: %s",
	    show);
	v = json_loadb(b->data + 6, b->len - 8, 0, &err);
	ck_assert_msg(v != NULL, "not JSON (%s): %s", err.text, show);
	return (v);
}

/* The role chunk, byte for byte. */
START_TEST(check_openai_format_role)
{
	struct openai_format	f;
	struct buf		b = BUF_INIT;
	char			msg[4096];

	check_openai_format_init(&f, 0);
	openai_format_role_chunk(&f, &b);
	ck_assert_msg(check_openai_format_is(&b,
	    "data: {\"id\":\"chatcmpl-abc\",\"object\":"
	    "\"chat.completion.chunk\",\"created\":1700000000,"
	    "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":"
	    "{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
	    "\"finish_reason\":null}]}\n\n", msg, sizeof(msg)), "%s", msg);
	openai_format_free(&f);
	buf_free(&b);
}
END_TEST

/* A content chunk escapes its text. */
START_TEST(check_openai_format_content)
{
	struct openai_format	f;
	struct buf		b = BUF_INIT;
	char			msg[4096];

	check_openai_format_init(&f, 0);
	openai_format_content_chunk(&f, &b, "Hi \"you\"\n", 9);
	ck_assert_msg(check_openai_format_is(&b, CHECK_OF_PREFIX
	    "{\"content\":\"Hi \\\"you\\\"\\n\"}" CHECK_OF_SUFFIX "}\n\n",
	    msg, sizeof(msg)), "%s", msg);
	/* Chunks append: a second one follows the first. */
	openai_format_content_chunk(&f, &b, "\xe4\xbd\xa0\\", 4);
	ck_assert_msg(check_openai_format_is(&b, CHECK_OF_PREFIX
	    "{\"content\":\"Hi \\\"you\\\"\\n\"}" CHECK_OF_SUFFIX "}\n\n"
	    CHECK_OF_PREFIX "{\"content\":\"\xe4\xbd\xa0\\\\\"}" CHECK_OF_SUFFIX
	    "}\n\n", msg, sizeof(msg)), "%s", msg);
	buf_reset(&b);
	/* The empty chunk used as a keepalive. */
	openai_format_content_chunk(&f, &b, "", 0);
	ck_assert_msg(check_openai_format_is(&b, CHECK_OF_PREFIX
	    "{\"content\":\"\"}" CHECK_OF_SUFFIX "}\n\n", msg, sizeof(msg)),
	    "%s", msg);
	openai_format_free(&f);
	buf_free(&b);
}
END_TEST

/* The finish chunk: empty delta and the reason. */
START_TEST(check_openai_format_finish)
{
	struct openai_format	f;
	struct buf		b = BUF_INIT;
	char			msg[4096];

	check_openai_format_init(&f, 0);
	openai_format_finish_chunk(&f, &b, "stop");
	ck_assert_msg(check_openai_format_is(&b, CHECK_OF_PREFIX "{},"
	    "\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n", msg,
	    sizeof(msg)), "%s", msg);
	buf_reset(&b);
	openai_format_finish_chunk(&f, &b, "content_filter");
	ck_assert_msg(check_openai_format_is(&b, CHECK_OF_PREFIX "{},"
	    "\"logprobs\":null,\"finish_reason\":\"content_filter\"}]}\n\n",
	    msg, sizeof(msg)), "%s", msg);
	buf_reset(&b);
	openai_format_finish_chunk(&f, &b, "length");
	ck_assert_msg(check_openai_format_is(&b, CHECK_OF_PREFIX "{},"
	    "\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n", msg,
	    sizeof(msg)), "%s", msg);
	openai_format_free(&f);
	buf_free(&b);
}
END_TEST

/* With include_usage every chunk carries "usage":null after choices. */
START_TEST(check_openai_format_include_usage)
{
	struct openai_format	f;
	struct buf		b = BUF_INIT;
	char			msg[4096];

	check_openai_format_init(&f, 1);
	openai_format_role_chunk(&f, &b);
	ck_assert_msg(check_openai_format_is(&b, CHECK_OF_PREFIX
	    "{\"role\":\"assistant\",\"content\":\"\"}" CHECK_OF_SUFFIX
	    ",\"usage\":null}\n\n", msg, sizeof(msg)), "%s", msg);
	buf_reset(&b);
	openai_format_content_chunk(&f, &b, "Hello", 5);
	ck_assert_msg(check_openai_format_is(&b, CHECK_OF_PREFIX
	    "{\"content\":\"Hello\"}" CHECK_OF_SUFFIX ",\"usage\":null}\n\n",
	    msg, sizeof(msg)), "%s", msg);
	buf_reset(&b);
	openai_format_finish_chunk(&f, &b, "stop");
	ck_assert_msg(check_openai_format_is(&b, CHECK_OF_PREFIX "{},"
	    "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}"
	    "\n\n", msg, sizeof(msg)), "%s", msg);
	openai_format_free(&f);
	buf_free(&b);
}
END_TEST

/* The usage chunk: empty choices and the three counts. */
START_TEST(check_openai_format_usage_chunk)
{
	struct openai_format	f;
	struct buf		b = BUF_INIT;
	struct dify_usage	u;
	char			msg[4096];

	memset(&u, 0, sizeof(u));
	u.present = 1;
	u.split = 1;
	u.prompt_tokens = 17;
	u.completion_tokens = 9;
	u.total_tokens = 26;
	check_openai_format_init(&f, 1);
	openai_format_usage_chunk(&f, &b, &u);
	ck_assert_msg(check_openai_format_is(&b, "data: " CHECK_OF_HEAD
	    ",\"choices\":[],\"usage\":{\"prompt_tokens\":17,"
	    "\"completion_tokens\":9,\"total_tokens\":26}}\n\n", msg,
	    sizeof(msg)), "%s", msg);
	buf_reset(&b);
	/* No usage from Dify: zeros, still a valid usage chunk. */
	memset(&u, 0, sizeof(u));
	openai_format_usage_chunk(&f, &b, &u);
	ck_assert_msg(check_openai_format_is(&b, "data: " CHECK_OF_HEAD
	    ",\"choices\":[],\"usage\":{\"prompt_tokens\":0,"
	    "\"completion_tokens\":0,\"total_tokens\":0}}\n\n", msg,
	    sizeof(msg)), "%s", msg);
	buf_reset(&b);
	openai_format_usage(&b, &u);
	ck_assert_str_eq(buf_cstr(&b), "{\"prompt_tokens\":0,"
	    "\"completion_tokens\":0,\"total_tokens\":0}");
	openai_format_free(&f);
	buf_free(&b);
}
END_TEST

/* The terminator. */
START_TEST(check_openai_format_done)
{
	struct buf	b = BUF_INIT;
	char		msg[4096];

	openai_format_done(&b);
	ck_assert_msg(check_openai_format_is(&b, "data: [DONE]\n\n", msg,
	    sizeof(msg)), "%s", msg);
	buf_free(&b);
}
END_TEST

/* The in-stream error frame. */
START_TEST(check_openai_format_error_frame)
{
	struct api_error	e;
	struct buf		b = BUF_INIT;
	char			msg[4096];

	api_error_set(&e, 502, "server_error", "upstream_incomplete", NULL,
	    "Dify closed the stream");
	openai_format_error_frame(&e, &b);
	ck_assert_msg(check_openai_format_is(&b, "data: {\"error\":"
	    "{\"message\":\"Dify closed the stream\",\"type\":\"server_error\","
	    "\"param\":null,\"code\":\"upstream_incomplete\"}}\n\n", msg,
	    sizeof(msg)), "%s", msg);
	buf_reset(&b);
	api_error_set(&e, 400, "invalid_request_error", NULL, NULL,
	    "line\nbreak \"quoted\"");
	openai_format_error_frame(&e, &b);
	ck_assert_msg(check_openai_format_is(&b, "data: {\"error\":"
	    "{\"message\":\"line\\nbreak \\\"quoted\\\"\",\"type\":"
	    "\"invalid_request_error\",\"param\":null,\"code\":null}}\n\n",
	    msg, sizeof(msg)), "%s", msg);
	buf_free(&b);
}
END_TEST

/* A whole chat.completion with usage. */
START_TEST(check_openai_format_completion_usage)
{
	struct openai_format	f;
	struct buf		b = BUF_INIT;
	struct dify_usage	u;
	char			msg[4096];

	memset(&u, 0, sizeof(u));
	u.present = 1;
	u.split = 1;
	u.prompt_tokens = 17;
	u.completion_tokens = 9;
	u.total_tokens = 26;
	check_openai_format_init(&f, 0);
	openai_format_completion(&f, &b, "Hello! How can I help?", 22, "stop",
	    &u);
	ck_assert_msg(check_openai_format_is(&b, "{\"id\":\"chatcmpl-abc\","
	    "\"object\":\"chat.completion\",\"created\":1700000000,"
	    "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":"
	    "{\"role\":\"assistant\",\"content\":\"Hello! How can I help?\","
	    "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
	    "\"usage\":{\"prompt_tokens\":17,\"completion_tokens\":9,"
	    "\"total_tokens\":26}}", msg, sizeof(msg)), "%s", msg);
	openai_format_free(&f);
	buf_free(&b);
}
END_TEST

/* Without usage from Dify, a completion has no usage member at all. */
START_TEST(check_openai_format_completion_no_usage)
{
	struct openai_format	f;
	struct buf		b = BUF_INIT;
	struct dify_usage	u;
	char			msg[4096];

	memset(&u, 0, sizeof(u));
	/* include_usage does not matter for a non-stream answer. */
	check_openai_format_init(&f, 1);
	openai_format_completion(&f, &b, "a\"b\n", 4, "content_filter", &u);
	ck_assert_msg(check_openai_format_is(&b, "{\"id\":\"chatcmpl-abc\","
	    "\"object\":\"chat.completion\",\"created\":1700000000,"
	    "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":"
	    "{\"role\":\"assistant\",\"content\":\"a\\\"b\\n\","
	    "\"refusal\":null},\"logprobs\":null,"
	    "\"finish_reason\":\"content_filter\"}]}", msg, sizeof(msg)), "%s",
	    msg);
	buf_reset(&b);
	openai_format_completion(&f, &b, "", 0, "stop", &u);
	ck_assert_msg(check_openai_format_is(&b, "{\"id\":\"chatcmpl-abc\","
	    "\"object\":\"chat.completion\",\"created\":1700000000,"
	    "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":"
	    "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
	    "\"logprobs\":null,\"finish_reason\":\"stop\"}]}", msg,
	    sizeof(msg)), "%s", msg);
	openai_format_free(&f);
	buf_free(&b);
}
END_TEST

/* A model name with quotes, control bytes and UTF-8 is escaped. */
START_TEST(check_openai_format_model_escaped)
{
	static const char	 model[] =
	    "my \"model\"\\\n\xe4\xbd\xa0\xe5\xa5\xbd";
	struct openai_format	 f;
	struct buf		 b = BUF_INIT;
	struct dify_usage	 u;
	json_t			*v;
	char			 msg[4096];

	memset(&u, 0, sizeof(u));
	openai_format_init(&f, "chatcmpl-x", 1, model, sizeof(model) - 1, 0);
	openai_format_role_chunk(&f, &b);
	ck_assert_msg(check_openai_format_is(&b, "data: {\"id\":\"chatcmpl-x\","
	    "\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
	    "\"my \\\"model\\\"\\\\\\n\xe4\xbd\xa0\xe5\xa5\xbd\",\"choices\":"
	    "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
	    "\"logprobs\":null,\"finish_reason\":null}]}\n\n", msg,
	    sizeof(msg)), "%s", msg);
	v = check_openai_format_frame(&b);
	ck_assert_str_eq(json_string_value(json_object_get(v, "model")), model);
	json_decref(v);

	/* The completion object too. */
	buf_reset(&b);
	openai_format_completion(&f, &b, "x", 1, "stop", &u);
	v = json_loadb(b.data, b.len, 0, NULL);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(json_string_value(json_object_get(v, "model")), model);
	ck_assert_str_eq(json_string_value(json_object_get(v, "object")),
	    "chat.completion");
	json_decref(v);
	openai_format_free(&f);
	buf_free(&b);
}
END_TEST

/* Only modellen bytes of the model are used. */
START_TEST(check_openai_format_modellen)
{
	struct openai_format	f;
	struct buf		b = BUF_INIT;
	char			msg[4096];

	openai_format_init(&f, "chatcmpl-abc", 1700000000, "gpt-4o-mini", 6, 0);
	openai_format_content_chunk(&f, &b, "x", 1);
	ck_assert_msg(check_openai_format_is(&b, CHECK_OF_PREFIX
	    "{\"content\":\"x\"}" CHECK_OF_SUFFIX "}\n\n", msg, sizeof(msg)),
	    "%s", msg);
	openai_format_free(&f);
	buf_free(&b);
}
END_TEST

/* Every chunk is one line of JSON with the shared id, created, model. */
START_TEST(check_openai_format_chunks_parse)
{
	static const char	*texts[] = {
		"plain", "multi\nline\r\ntext", "tab\tand\001control",
		"quote \" backslash \\ slash /", "\xf0\x9f\x99\x82 emoji",
		"bad \xff\xfe utf8 \xc3", "\xe2\x80\xa8 line separator", ""
	};
	struct openai_format	 f;
	struct buf		 b = BUF_INIT;
	struct dify_usage	 u;
	json_t			*v, *choice, *delta;
	size_t			 i;
	int			 usage;

	memset(&u, 0, sizeof(u));
	u.present = 1;
	u.total_tokens = 5;
	for (usage = 0; usage <= 1; usage++) {
		check_openai_format_init(&f, usage);
		for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
			buf_reset(&b);
			openai_format_content_chunk(&f, &b, texts[i],
			    strlen(texts[i]));
			v = check_openai_format_frame(&b);
			ck_assert_str_eq(json_string_value(json_object_get(v,
			    "id")), "chatcmpl-abc");
			ck_assert_str_eq(json_string_value(json_object_get(v,
			    "object")), "chat.completion.chunk");
			ck_assert_int_eq(json_integer_value(json_object_get(v,
			    "created")), 1700000000);
			ck_assert_str_eq(json_string_value(json_object_get(v,
			    "model")), "gpt-4o");
			ck_assert_uint_eq(json_array_size(json_object_get(v,
			    "choices")), 1);
			choice = json_array_get(json_object_get(v, "choices"),
			    0);
			ck_assert(json_is_null(json_object_get(choice,
			    "finish_reason")));
			delta = json_object_get(choice, "delta");
			ck_assert_uint_eq(json_object_size(delta), 1);
			ck_assert(json_is_string(json_object_get(delta,
			    "content")));
			ck_assert_int_eq(json_object_get(v, "usage") != NULL,
			    usage);
			ck_assert(json_object_get(v, "error") == NULL);
			json_decref(v);
		}
		buf_reset(&b);
		openai_format_role_chunk(&f, &b);
		json_decref(check_openai_format_frame(&b));
		buf_reset(&b);
		openai_format_finish_chunk(&f, &b, "stop");
		json_decref(check_openai_format_frame(&b));
		buf_reset(&b);
		openai_format_usage_chunk(&f, &b, &u);
		v = check_openai_format_frame(&b);
		ck_assert_uint_eq(json_array_size(json_object_get(v,
		    "choices")), 0);
		ck_assert_int_eq(json_integer_value(json_object_get(
		    json_object_get(v, "usage"), "total_tokens")), 5);
		json_decref(v);
		openai_format_free(&f);
	}
	/* Plain text keeps its bytes through JSON. */
	check_openai_format_init(&f, 0);
	buf_reset(&b);
	openai_format_content_chunk(&f, &b, texts[1], strlen(texts[1]));
	v = check_openai_format_frame(&b);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    json_array_get(json_object_get(v, "choices"), 0), "delta"),
	    "content")), texts[1]);
	json_decref(v);
	openai_format_free(&f);
	buf_free(&b);
}
END_TEST

/* The openai_format suite. */
Suite *
openai_format_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("openai_format");
	tc = tcase_create("bytes");
	tcase_add_test(tc, check_openai_format_role);
	tcase_add_test(tc, check_openai_format_content);
	tcase_add_test(tc, check_openai_format_finish);
	tcase_add_test(tc, check_openai_format_include_usage);
	tcase_add_test(tc, check_openai_format_usage_chunk);
	tcase_add_test(tc, check_openai_format_done);
	tcase_add_test(tc, check_openai_format_error_frame);
	tcase_add_test(tc, check_openai_format_completion_usage);
	tcase_add_test(tc, check_openai_format_completion_no_usage);
	tcase_add_test(tc, check_openai_format_model_escaped);
	tcase_add_test(tc, check_openai_format_modellen);
	tcase_add_test(tc, check_openai_format_chunks_parse);
	suite_add_tcase(s, tc);
	return (s);
}
