/*
 * check_tool_call: OpenAI function calling in prompt mode (tool_call.c),
 * and the relay that turns an answer into tool_calls (relay.c with
 * relay_params.tool_names set), with the client bytes checked exactly.
 *
 * Call ids are random ("call_" + 24 letters and digits): the relay tests
 * check each one's shape, then replace it by call_ + 24 'X' before the
 * bytes are compared.  Expected bytes are built by hand from OpenAI's
 * chunk shape, not with openai_format.
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "chat_request.h"
#include "check_suites.h"
#include "check_util.h"
#include "relay.h"
#include "tool_call.h"

/* The fixed parts of the preamble. */
#define TC_PRE_HEAD	"You can call these functions, described as JSON:\n"
#define TC_PRE_TAIL	"\nTo call a function, answer with only this, once " \
			"per call and nothing else:\n<tool_call>{\"name\": " \
			"\"<function name>\", \"arguments\": {<the arguments " \
			"as a JSON object>}}</tool_call>\nA function's " \
			"result comes back in a later message as \"Tool " \
			"(<call id>): <result>\"."
#define TC_PRE_AUTO	"\nIf no function is needed, answer normally."
#define TC_PRE_MUST	"\nYou must call a function now."

/* Two tools as a request has them. */
#define TC_WEATHER \
	"{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"," \
	"\"description\":\"Get the weather \\\"now\\\"\",\"parameters\":" \
	"{\"type\":\"object\",\"properties\":{\"city\":{\"type\":" \
	"\"string\"}},\"required\":[\"city\"]}}}"
#define TC_WEATHER_DESC \
	"{\"name\":\"get_weather\",\"description\":\"Get the weather " \
	"\\\"now\\\"\",\"parameters\":{\"type\":\"object\",\"properties\":" \
	"{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}"
#define TC_TIME \
	"{\"type\":\"function\",\"function\":{\"name\":\"get_time\"," \
	"\"strict\":true}}"
#define TC_TIME_DESC	"{\"name\":\"get_time\"}"

/* The names the tests' answers may call. */
#define TC_NAMES	"get_weather\0get_time\0"
#define TC_NAMESLEN	(sizeof(TC_NAMES) - 1)

/* A JSON value from text that must parse (the caller decrefs). */
static json_t *
tc_json(const char *s)
{
	json_t		*v;
	json_error_t	 err;

	if (s == NULL)
		return (NULL);
	v = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	ck_assert_msg(v != NULL, "bad test JSON (%s): %s", err.text, s);
	return (v);
}

/* True if got holds exactly want (wantlen bytes); msg says why not. */
static int
tc_is(const struct buf *got, const char *want, size_t wantlen, char *msg,
    size_t size)
{
	return (check_same(got->data ? got->data : "", got->len, want,
	    wantlen, msg, size));
}

/*
 * Run the preamble on tools and choice (JSON text, NULL for none); check
 * the count, the exact text (NULL: nothing written) and names.
 */
static void
tc_preamble_is(const char *tools, const char *choice, int want_n,
    const char *want, const char *want_names, size_t want_nameslen)
{
	struct buf	 out = BUF_INIT, names = BUF_INIT;
	json_t		*t = tc_json(tools), *c = tc_json(choice);
	char		 msg[4096];
	int		 n;

	n = tool_call_preamble(t, c, &out, &names);
	ck_assert_msg(n == want_n, "tools %s choice %s: %d tools, want %d",
	    tools ? tools : "NULL", choice ? choice : "NULL", n, want_n);
	ck_assert_msg(tc_is(&out, want ? want : "", want ? strlen(want) : 0,
	    msg, sizeof(msg)), "tools %s choice %s: preamble %s",
	    tools ? tools : "NULL", choice ? choice : "NULL", msg);
	ck_assert_msg(tc_is(&names, want_names, want_nameslen, msg,
	    sizeof(msg)), "tools %s choice %s: names %s",
	    tools ? tools : "NULL", choice ? choice : "NULL", msg);
	buf_free(&out);
	buf_free(&names);
	json_decref(t);
	json_decref(c);
}

/* One tool: its description, parameters and the one call format. */
START_TEST(tc_preamble_one)
{
	tc_preamble_is("[" TC_WEATHER "]", NULL, 1,
	    TC_PRE_HEAD "[" TC_WEATHER_DESC "]" TC_PRE_TAIL TC_PRE_AUTO,
	    "get_weather", 12);
}
END_TEST

/* Two tools, in their order; members other than the three are left out. */
START_TEST(tc_preamble_two)
{
	tc_preamble_is("[" TC_WEATHER "," TC_TIME "]", NULL, 2,
	    TC_PRE_HEAD "[" TC_WEATHER_DESC "," TC_TIME_DESC "]" TC_PRE_TAIL
	    TC_PRE_AUTO, TC_NAMES, TC_NAMESLEN);
	/* UTF-8 is kept as it is. */
	tc_preamble_is("[{\"function\":{\"name\":\"m\\u00e9t\\u00e9o\","
	    "\"description\":\"Temps \\u00e0 Paris\\n\"}}]", NULL, 1,
	    TC_PRE_HEAD "[{\"name\":\"m\xc3\xa9t\xc3\xa9o\",\"description\":"
	    "\"Temps \xc3\xa0 Paris\\n\"}]" TC_PRE_TAIL TC_PRE_AUTO,
	    "m\xc3\xa9t\xc3\xa9o", 8);
}
END_TEST

/* tool_choice: none offers nothing, auto (or null) lets the app choose. */
START_TEST(tc_preamble_choice)
{
	static const char	 tools[] = "[" TC_WEATHER "," TC_TIME "]";

	tc_preamble_is(tools, "\"none\"", 0, NULL, "", 0);
	tc_preamble_is(tools, "\"auto\"", 2, TC_PRE_HEAD "[" TC_WEATHER_DESC
	    "," TC_TIME_DESC "]" TC_PRE_TAIL TC_PRE_AUTO, TC_NAMES,
	    TC_NAMESLEN);
	tc_preamble_is(tools, "null", 2, TC_PRE_HEAD "[" TC_WEATHER_DESC
	    "," TC_TIME_DESC "]" TC_PRE_TAIL TC_PRE_AUTO, TC_NAMES,
	    TC_NAMESLEN);
	tc_preamble_is(tools, "\"required\"", 2, TC_PRE_HEAD "["
	    TC_WEATHER_DESC "," TC_TIME_DESC "]" TC_PRE_TAIL TC_PRE_MUST,
	    TC_NAMES, TC_NAMESLEN);
}
END_TEST

/* A named function: only that tool is offered, and it must be called. */
START_TEST(tc_preamble_named)
{
	static const char	 tools[] = "[" TC_WEATHER "," TC_TIME "]";

	tc_preamble_is(tools, "{\"type\":\"function\",\"function\":"
	    "{\"name\":\"get_time\"}}", 1, TC_PRE_HEAD "[" TC_TIME_DESC "]"
	    TC_PRE_TAIL TC_PRE_MUST, "get_time", 9);
	tc_preamble_is(tools, "{\"type\":\"function\",\"function\":"
	    "{\"name\":\"get_weather\"}}", 1, TC_PRE_HEAD "[" TC_WEATHER_DESC
	    "]" TC_PRE_TAIL TC_PRE_MUST, "get_weather", 12);
	/* A name the request does not offer: nothing to offer. */
	tc_preamble_is(tools, "{\"type\":\"function\",\"function\":"
	    "{\"name\":\"get_moon\"}}", 0, NULL, "", 0);
}
END_TEST

/* Tools without a usable name are skipped. */
START_TEST(tc_preamble_skips)
{
	tc_preamble_is("[{\"type\":\"function\"},{\"function\":{}},"
	    "{\"function\":{\"name\":\"\"}},{\"function\":{\"name\":5}},"
	    "{\"function\":{\"name\":\"a\\u0000b\"}},{\"name\":\"top\"},"
	    "7,\"x\"," TC_TIME "]", NULL, 1,
	    TC_PRE_HEAD "[" TC_TIME_DESC "]" TC_PRE_TAIL TC_PRE_AUTO,
	    "get_time", 9);
	/* None usable at all: nothing. */
	tc_preamble_is("[{\"type\":\"function\"},{\"function\":{\"name\":"
	    "null}}]", NULL, 0, NULL, "", 0);
}
END_TEST

/* tools that are not a non-empty array: no tools. */
START_TEST(tc_preamble_not_array)
{
	static const char *const	 bad[] = {
		"{\"function\":{\"name\":\"get_time\"}}", "\"get_time\"",
		"[]", "null", "true", "3", NULL
	};
	size_t				 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tc_preamble_is(bad[i], NULL, 0, NULL, "", 0);
	tc_preamble_is(NULL, "\"required\"", 0, NULL, "", 0);
}
END_TEST

/* Render calls (JSON text) after prefix; check the exact result. */
static void
tc_render_is(const char *prefix, const char *calls, const char *want)
{
	struct buf	 out = BUF_INIT;
	json_t		*c = tc_json(calls);
	char		 msg[4096];

	buf_add_str(&out, prefix);
	tool_call_render(c, &out);
	ck_assert_msg(tc_is(&out, want, strlen(want), msg, sizeof(msg)),
	    "calls %s: %s", calls ? calls : "NULL", msg);
	buf_free(&out);
	json_decref(c);
}

/* Assistant tool_calls written back as the app makes them. */
START_TEST(tc_render)
{
	tc_render_is("", "[{\"id\":\"call_1\",\"type\":\"function\","
	    "\"function\":{\"name\":\"get_weather\",\"arguments\":"
	    "\"{\\\"city\\\": \\\"Paris\\\"}\"}}]",
	    "<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":"
	    "\"Paris\"}}</tool_call>");
	/* Two: one a line; the arguments' members in their order. */
	tc_render_is("", "[{\"id\":\"a\",\"type\":\"function\",\"function\":"
	    "{\"name\":\"get_weather\",\"arguments\":\"{\\\"z\\\":1,"
	    "\\\"a\\\":[true,null]}\"}},{\"id\":\"b\",\"type\":\"function\","
	    "\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]",
	    "<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"z\":1,"
	    "\"a\":[true,null]}}</tool_call>\n<tool_call>{\"name\":"
	    "\"get_time\",\"arguments\":{}}</tool_call>");
	/* After text already there, a newline first. */
	tc_render_is("Let me look.", "[{\"function\":{\"name\":\"get_time\","
	    "\"arguments\":\"{}\"}}]", "Let me look.\n<tool_call>{\"name\":"
	    "\"get_time\",\"arguments\":{}}</tool_call>");
	/* Names needing escapes stay JSON. */
	tc_render_is("", "[{\"function\":{\"name\":\"a\\\"b\","
	    "\"arguments\":\"{\\\"q\\\":\\\"x\\\\ny\\\"}\"}}]",
	    "<tool_call>{\"name\":\"a\\\"b\",\"arguments\":{\"q\":"
	    "\"x\\ny\"}}</tool_call>");
}
END_TEST

/* Bad arguments strings become {}; calls without a name are skipped. */
START_TEST(tc_render_bad)
{
	static const char	 empty[] = "<tool_call>{\"name\":\"f\","
				    "\"arguments\":{}}</tool_call>";
	static const char *const args[] = {
		"\"nope\"", "\"\"", "\"{\\\"a\\\":\"", "\"5\"", "null", "7",
		"\"{} trailing\""
	};
	char			 calls[256];
	size_t			 i;

	for (i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		snprintf(calls, sizeof(calls), "[{\"function\":{\"name\":"
		    "\"f\",\"arguments\":%s}}]", args[i]);
		tc_render_is("", calls, empty);
	}
	/* No arguments at all. */
	tc_render_is("", "[{\"function\":{\"name\":\"f\"}}]", empty);
	/* No name, a name not a string, no function: skipped. */
	tc_render_is("", "[{\"function\":{\"arguments\":\"{}\"}},"
	    "{\"function\":{\"name\":3}},{\"id\":\"x\"},5,"
	    "{\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]", empty);
	/* Not an array: nothing. */
	tc_render_is("", NULL, "");
	tc_render_is("", "{\"function\":{\"name\":\"f\"}}", "");
	tc_render_is("x", "[]", "x");
}
END_TEST

/*
 * Arguments that are JSON but not an object: the transcript must show the
 * one format the preamble describes (an object), as for other bad ones.
 */
START_TEST(tc_render_not_object)
{
	static const char	 empty[] = "<tool_call>{\"name\":\"f\","
				    "\"arguments\":{}}</tool_call>";

	tc_render_is("", "[{\"function\":{\"name\":\"f\",\"arguments\":"
	    "\"[1,2]\"}}]", empty);
}
END_TEST

/* Check a call id: "call_" and 24 letters or digits. */
static void
tc_id_ok(const char *id)
{
	size_t	i;

	ck_assert_msg(strncmp(id, "call_", 5) == 0, "id %s", id);
	ck_assert_msg(strlen(id) == 29, "id %s is not 29 bytes", id);
	for (i = 5; i < 29; i++)
		ck_assert_msg(isalnum((unsigned char)id[i]) && (unsigned char)
		    id[i] < 0x80, "id %s: byte %zu", id, i);
}

/* Parse text that must be calls; check the count (the caller frees). */
static void
tc_parse_ok(const char *text, struct tool_calls *calls, size_t n)
{
	size_t	i, j;

	ck_assert_msg(tool_call_parse(text, strlen(text), TC_NAMES,
	    TC_NAMESLEN, calls) == 0, "refused: %s", text);
	ck_assert_uint_eq(calls->n, n);
	for (i = 0; i < n; i++) {
		tc_id_ok(calls->v[i].id);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(calls->v[i].id, calls->v[j].id);
	}
}

/* Text that must not be calls: -1, nothing left in calls. */
static void
tc_parse_bad_len(const char *text, size_t len)
{
	struct tool_calls	calls;
	char			show[600];

	memset(&calls, 0x5a, sizeof(calls));
	check_show(text, len, show, sizeof(show));
	ck_assert_msg(tool_call_parse(text, len, TC_NAMES, TC_NAMESLEN,
	    &calls) == -1, "accepted: %s", show);
	ck_assert_msg(calls.n == 0, "%zu calls left after refusing %s",
	    calls.n, show);
	tool_calls_free(&calls);
}

static void
tc_parse_bad(const char *text)
{
	tc_parse_bad_len(text, strlen(text));
}

#define TC_CALL(body)	"<tool_call>" body "</tool_call>"
#define TC_PARIS	TC_CALL("{\"name\": \"get_weather\", \"arguments\": " \
			    "{\"city\": \"Paris\"}}")

/* One call: its name and its arguments, compact. */
START_TEST(tc_parse_one)
{
	struct tool_calls	calls;

	tc_parse_ok(TC_PARIS, &calls, 1);
	ck_assert_str_eq(calls.v[0].name, "get_weather");
	ck_assert_str_eq(calls.v[0].arguments, "{\"city\":\"Paris\"}");
	tool_calls_free(&calls);
	ck_assert_uint_eq(calls.n, 0);

	/* Whitespace around it and inside the JSON. */
	tc_parse_ok("\n  " TC_CALL(" {\n\"arguments\" : {\"n\": [1, 2.5, "
	    "\"\\u00e9\"], \"o\": {}},\t\"name\":\"get_time\"} ") " \r\n",
	    &calls, 1);
	ck_assert_str_eq(calls.v[0].name, "get_time");
	ck_assert_str_eq(calls.v[0].arguments,
	    "{\"n\":[1,2.5,\"\xc3\xa9\"],\"o\":{}}");
	tool_calls_free(&calls);
}
END_TEST

/* Two calls with whitespace and newlines between: both, in order. */
START_TEST(tc_parse_two)
{
	struct tool_calls	calls;

	tc_parse_ok(TC_PARIS "\n\n \t" TC_CALL("{\"name\":\"get_time\","
	    "\"arguments\":{\"tz\":\"UTC\"}}") "\n", &calls, 2);
	ck_assert_str_eq(calls.v[0].name, "get_weather");
	ck_assert_str_eq(calls.v[0].arguments, "{\"city\":\"Paris\"}");
	ck_assert_str_eq(calls.v[1].name, "get_time");
	ck_assert_str_eq(calls.v[1].arguments, "{\"tz\":\"UTC\"}");
	tool_calls_free(&calls);
	/* Back to back, the same name twice. */
	tc_parse_ok(TC_PARIS TC_PARIS, &calls, 2);
	ck_assert_str_eq(calls.v[1].name, "get_weather");
	tool_calls_free(&calls);
}
END_TEST

/* Arguments as a JSON string holding an object; missing arguments: {}. */
START_TEST(tc_parse_arguments)
{
	struct tool_calls	calls;

	tc_parse_ok(TC_CALL("{\"name\":\"get_weather\",\"arguments\":"
	    "\"{\\\"city\\\": \\\"Paris\\\"}\"}"), &calls, 1);
	ck_assert_str_eq(calls.v[0].arguments, "{\"city\":\"Paris\"}");
	tool_calls_free(&calls);
	tc_parse_ok(TC_CALL("{\"name\":\"get_time\"}"), &calls, 1);
	ck_assert_str_eq(calls.v[0].name, "get_time");
	ck_assert_str_eq(calls.v[0].arguments, "{}");
	tool_calls_free(&calls);
	tc_parse_ok(TC_CALL("{\"name\":\"get_time\",\"arguments\":\"{}\"}"),
	    &calls, 1);
	ck_assert_str_eq(calls.v[0].arguments, "{}");
	tool_calls_free(&calls);
	/* A tag inside a string of the arguments is the arguments'. */
	tc_parse_ok(TC_CALL("{\"name\":\"get_time\",\"arguments\":{\"q\":"
	    "\"<tool_call>\"}}"), &calls, 1);
	ck_assert_str_eq(calls.v[0].arguments, "{\"q\":\"<tool_call>\"}");
	tool_calls_free(&calls);
}
END_TEST

/* Names: only those offered, exactly. */
START_TEST(tc_parse_names)
{
	tc_parse_bad(TC_CALL("{\"name\":\"get_moon\",\"arguments\":{}}"));
	tc_parse_bad(TC_CALL("{\"name\":\"get\",\"arguments\":{}}"));
	tc_parse_bad(TC_CALL("{\"name\":\"get_weatherx\",\"arguments\":{}}"));
	tc_parse_bad(TC_CALL("{\"name\":\"GET_TIME\",\"arguments\":{}}"));
	tc_parse_bad(TC_CALL("{\"name\":\"\",\"arguments\":{}}"));
	tc_parse_bad(TC_CALL("{\"name\":5,\"arguments\":{}}"));
	tc_parse_bad(TC_CALL("{\"name\":null,\"arguments\":{}}"));
	tc_parse_bad(TC_CALL("{\"arguments\":{}}"));
	/* One good call and one unknown: none. */
	tc_parse_bad(TC_PARIS TC_CALL("{\"name\":\"x\",\"arguments\":{}}"));
	/* A NUL in the name, even before a known one's end. */
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\\u0000x\","
	    "\"arguments\":{}}"));
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\\u0000\","
	    "\"arguments\":{}}"));
	/* No names offered: nothing is a call. */
	{
		struct tool_calls	calls;

		ck_assert_int_eq(tool_call_parse(TC_PARIS, strlen(TC_PARIS),
		    "", 0, &calls), -1);
		ck_assert_uint_eq(calls.n, 0);
	}
}
END_TEST

/* Anything but blocks and whitespace: no calls. */
START_TEST(tc_parse_text)
{
	tc_parse_bad("Sure! " TC_PARIS);
	tc_parse_bad(TC_PARIS " Done.");
	tc_parse_bad(TC_PARIS "\n\nThat is the call.");
	tc_parse_bad(TC_PARIS "x" TC_PARIS);
	tc_parse_bad("");
	tc_parse_bad(" \n\t\r ");
	tc_parse_bad("Hello");
	tc_parse_bad_len(TC_PARIS "\0", sizeof(TC_PARIS));
	tc_parse_bad("\f" TC_PARIS);
	tc_parse_bad("<TOOL_CALL>{\"name\":\"get_time\"}</TOOL_CALL>");
	tc_parse_bad("<tool_call >{\"name\":\"get_time\"}</tool_call>");
	tc_parse_bad("```\n" TC_PARIS "\n```");
}
END_TEST

/* Unterminated blocks, bad JSON, wrong shapes: no calls. */
START_TEST(tc_parse_malformed)
{
	tc_parse_bad("<tool_call>{\"name\":\"get_time\"}");
	tc_parse_bad("<tool_call>{\"name\":\"get_time\"}</tool_call");
	tc_parse_bad(TC_PARIS "<tool_call>{\"name\":\"get_time\"}");
	tc_parse_bad("<tool_call>");
	tc_parse_bad("<tool_call");
	tc_parse_bad("</tool_call>");
	tc_parse_bad(TC_CALL(""));
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\""));
	tc_parse_bad(TC_CALL("{'name':'get_time'}"));
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\"} {}"));
	tc_parse_bad(TC_CALL("[\"get_time\"]"));
	tc_parse_bad(TC_CALL("\"get_time\""));
	tc_parse_bad(TC_CALL("null"));
	/* A close tag inside a string cuts the JSON short. */
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\",\"arguments\":{\"q\":"
	    "\"</tool_call>\"}}"));
}
END_TEST

/* Arguments that are not an object, nor a string holding one. */
START_TEST(tc_parse_bad_arguments)
{
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\",\"arguments\":[1]}"));
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\",\"arguments\":[]}"));
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\",\"arguments\":1}"));
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\",\"arguments\":true}"));
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\",\"arguments\":null}"));
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\",\"arguments\":"
	    "\"[1]\"}"));
}
END_TEST

/* A string of arguments must hold an object: text that is not JSON is no call. */
START_TEST(tc_parse_arguments_string_not_json)
{
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\",\"arguments\":"
	    "\"oops\"}"));
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\",\"arguments\":\"\"}"));
	tc_parse_bad(TC_CALL("{\"name\":\"get_time\",\"arguments\":"
	    "\"{\\\"a\\\":\"}"));
}
END_TEST

/* At most TOOL_CALL_MAX calls: 16 are taken, 17 are no calls at all. */
START_TEST(tc_parse_max)
{
	struct tool_calls	 calls;
	struct buf		 b = BUF_INIT;
	size_t			 i;

	ck_assert_int_eq(TOOL_CALL_MAX, 16);
	for (i = 0; i < 16; i++)
		buf_printf(&b, "<tool_call>{\"name\":\"get_time\","
		    "\"arguments\":{\"i\":%zu}}</tool_call>\n", i);
	tc_parse_ok(buf_cstr(&b), &calls, 16);
	ck_assert_str_eq(calls.v[0].arguments, "{\"i\":0}");
	ck_assert_str_eq(calls.v[15].arguments, "{\"i\":15}");
	tool_calls_free(&calls);
	buf_add_str(&b, TC_PARIS);
	tc_parse_bad(buf_cstr(&b));
	buf_free(&b);
}
END_TEST

/* Feed s to the gate; check what it returns and the state after. */
static void
tc_gate_feed_is(struct tool_gate *g, const char *s, size_t want_ret,
    enum tool_gate_state want_state)
{
	size_t	n;

	n = tool_gate_feed(g, s, strlen(s));
	ck_assert_msg(n == want_ret, "feeding \"%s\": returned %zu, want "
	    "%zu", s, n, want_ret);
	ck_assert_msg(g->state == want_state, "feeding \"%s\": state %d, "
	    "want %d", s, g->state, want_state);
}

/* The gate holds exactly want. */
static void
tc_gate_holds(const struct tool_gate *g, const char *want)
{
	char	msg[2048];

	ck_assert_msg(tc_is(&g->text, want, strlen(want), msg, sizeof(msg)),
	    "held: %s", msg);
}

/* Every prefix of the tag keeps deciding; the whole tag captures. */
START_TEST(tc_gate_prefixes)
{
	static const char	 tag[] = TOOL_CALL_OPEN;
	struct tool_gate	 g;
	char			 piece[2] = { 0, 0 }, pre[16];
	size_t			 i;

	ck_assert_str_eq(tag, "<tool_call>");
	/* Each prefix at once. */
	for (i = 1; i < sizeof(tag) - 1; i++) {
		tool_gate_init(&g);
		ck_assert_int_eq(g.state, TOOL_GATE_DECIDING);
		memcpy(pre, tag, i);
		pre[i] = '\0';
		tc_gate_feed_is(&g, pre, 0, TOOL_GATE_DECIDING);
		tc_gate_holds(&g, pre);
		tool_gate_free(&g);
	}
	/* Byte by byte. */
	tool_gate_init(&g);
	for (i = 0; i + 1 < sizeof(tag) - 1; i++) {
		piece[0] = tag[i];
		tc_gate_feed_is(&g, piece, 0, TOOL_GATE_DECIDING);
	}
	piece[0] = tag[i];
	tc_gate_feed_is(&g, piece, 0, TOOL_GATE_CAPTURING);
	tc_gate_holds(&g, tag);
	tool_gate_free(&g);
	/* At once. */
	tool_gate_init(&g);
	tc_gate_feed_is(&g, tag, 0, TOOL_GATE_CAPTURING);
	tool_gate_free(&g);
	/* Nothing fed: still deciding. */
	tool_gate_init(&g);
	ck_assert_uint_eq(tool_gate_feed(&g, "", 0), 0);
	ck_assert_int_eq(g.state, TOOL_GATE_DECIDING);
	tool_gate_free(&g);
}
END_TEST

/* Leading whitespace is held while deciding, and is not text yet. */
START_TEST(tc_gate_whitespace)
{
	struct tool_gate	g;

	tool_gate_init(&g);
	tc_gate_feed_is(&g, " ", 0, TOOL_GATE_DECIDING);
	tc_gate_feed_is(&g, "\n\t\r ", 0, TOOL_GATE_DECIDING);
	tc_gate_feed_is(&g, "<tool_", 0, TOOL_GATE_DECIDING);
	tc_gate_feed_is(&g, "call>{", 0, TOOL_GATE_CAPTURING);
	tc_gate_holds(&g, " \n\t\r <tool_call>{");
	tool_gate_free(&g);

	/* Whitespace, then text: all of it passes. */
	tool_gate_init(&g);
	tc_gate_feed_is(&g, "\n\n", 0, TOOL_GATE_DECIDING);
	tc_gate_feed_is(&g, "Hi", 4, TOOL_GATE_PASS);
	ck_assert_int_eq(memcmp(g.text.data, "\n\nHi", 4), 0);
	tool_gate_free(&g);

	/* A form feed is not JSON whitespace: it is text. */
	tool_gate_init(&g);
	tc_gate_feed_is(&g, "\f<tool_call>", 12, TOOL_GATE_PASS);
	tool_gate_free(&g);
}
END_TEST

/* "<tool" then "x": passes, and returns every byte held. */
START_TEST(tc_gate_pass_late)
{
	struct tool_gate	g;

	tool_gate_init(&g);
	tc_gate_feed_is(&g, "<tool", 0, TOOL_GATE_DECIDING);
	tc_gate_feed_is(&g, "x", 6, TOOL_GATE_PASS);
	ck_assert_uint_ge(g.text.len, 6);
	ck_assert_int_eq(memcmp(g.text.data, "<toolx", 6), 0);
	tool_gate_free(&g);

	/* With whitespace before and more text in the same piece. */
	tool_gate_init(&g);
	tc_gate_feed_is(&g, "  <to", 0, TOOL_GATE_DECIDING);
	tc_gate_feed_is(&g, "ols are here", 17, TOOL_GATE_PASS);
	ck_assert_int_eq(memcmp(g.text.data, "  <tools are here", 17), 0);
	tool_gate_free(&g);

	/* One byte off at the tag's last byte. */
	tool_gate_init(&g);
	tc_gate_feed_is(&g, "<tool_call", 0, TOOL_GATE_DECIDING);
	tc_gate_feed_is(&g, "]", 11, TOOL_GATE_PASS);
	tool_gate_free(&g);

	/* "<<": the second cannot follow. */
	tool_gate_init(&g);
	tc_gate_feed_is(&g, "<", 0, TOOL_GATE_DECIDING);
	tc_gate_feed_is(&g, "<", 2, TOOL_GATE_PASS);
	tool_gate_free(&g);

	/* Another tag. */
	tool_gate_init(&g);
	tc_gate_feed_is(&g, "<think>", 7, TOOL_GATE_PASS);
	tool_gate_free(&g);
	tool_gate_init(&g);
	tc_gate_feed_is(&g, "<TOOL_CALL>", 11, TOOL_GATE_PASS);
	tool_gate_free(&g);
}
END_TEST

/* Text that cannot start the tag passes at its first byte. */
START_TEST(tc_gate_pass_at_once)
{
	struct tool_gate	g;

	tool_gate_init(&g);
	tc_gate_feed_is(&g, "Hello", 5, TOOL_GATE_PASS);
	ck_assert_int_eq(memcmp(g.text.data, "Hello", 5), 0);
	tool_gate_free(&g);
	tool_gate_init(&g);
	tc_gate_feed_is(&g, "H", 1, TOOL_GATE_PASS);
	tool_gate_free(&g);
	tool_gate_init(&g);
	tc_gate_feed_is(&g, "\xe4\xbd\xa0", 3, TOOL_GATE_PASS);
	tool_gate_free(&g);
}
END_TEST

/* Once the tag is whole, everything is held, returning 0. */
/* An empty feed is nothing; once passed, the gate holds nothing more. */
START_TEST(tc_gate_empty_and_after_pass)
{
	struct tool_gate	g;

	tool_gate_init(&g);
	ck_assert_uint_eq(tool_gate_feed(&g, "", 0), 0);
	ck_assert_int_eq(g.state, TOOL_GATE_DECIDING);
	ck_assert_uint_eq(g.text.len, 0);
	ck_assert_uint_eq(tool_gate_feed(&g, "Hi", 2), 2);
	ck_assert_int_eq(g.state, TOOL_GATE_PASS);
	buf_reset(&g.text);
	ck_assert_uint_eq(tool_gate_feed(&g, " there", 6), 0);
	ck_assert_uint_eq(g.text.len, 0);
	tool_gate_free(&g);
}
END_TEST

START_TEST(tc_gate_capturing)
{
	struct tool_gate	g;

	tool_gate_init(&g);
	tc_gate_feed_is(&g, "<tool_call>", 0, TOOL_GATE_CAPTURING);
	tc_gate_feed_is(&g, "{\"name\": \"get_time\"}", 0,
	    TOOL_GATE_CAPTURING);
	tc_gate_feed_is(&g, "</tool_call>", 0, TOOL_GATE_CAPTURING);
	tc_gate_feed_is(&g, " and some text after", 0, TOOL_GATE_CAPTURING);
	tc_gate_feed_is(&g, "Hello", 0, TOOL_GATE_CAPTURING);
	tc_gate_holds(&g, "<tool_call>{\"name\": \"get_time\"}</tool_call>"
	    " and some text after" "Hello");
	tool_gate_free(&g);

	/* The tag and more in one piece. */
	tool_gate_init(&g);
	tc_gate_feed_is(&g, " " TC_PARIS, 0, TOOL_GATE_CAPTURING);
	tc_gate_holds(&g, " " TC_PARIS);
	tool_gate_free(&g);
}
END_TEST

/*
 * The relay with prompt tools.
 */

#define TC_HEAD		"{\"id\":\"chatcmpl-abc\",\"object\":" \
			"\"chat.completion.chunk\",\"created\":" \
			"1700000000,\"model\":\"gpt-4o\""
#define TC_CHOICE	",\"choices\":[{\"index\":0,\"delta\":"
#define TC_SSE		"text/event-stream; charset=utf-8"
#define TC_ID		"call_XXXXXXXXXXXXXXXXXXXXXXXX"

/* A chat message event; a is JSON-escaped. */
#define TC_MSG_PRE \
	"data: {\"event\":\"message\",\"conversation_id\":\"C\"," \
	"\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\"," \
	"\"id\":\"M\",\"answer\":\""
#define TC_MSG_SUF	"\",\"from_variable_selector\":null}\n\n"
#define TC_MSG(a)	TC_MSG_PRE a TC_MSG_SUF
#define TC_MSG_END \
	"data: {\"event\":\"message_end\",\"conversation_id\":\"C\"," \
	"\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\"," \
	"\"id\":\"M\",\"metadata\":{\"usage\":{\"prompt_tokens\":3," \
	"\"completion_tokens\":4,\"total_tokens\":7}},\"files\":null}\n\n"

/* The look-alike's call, as the app answers it. */
#define TC_ANSWER	"<tool_call>{\"name\": \"get_weather\", " \
			"\"arguments\": {\"city\": \"Paris\"}}</tool_call>"
/* Its arguments in a chunk: a JSON string of compact JSON. */
#define TC_ARGS_ESC	"{\\\"city\\\":\\\"Paris\\\"}"

/* One exchange under test. */
struct tc_run {
	struct relay	r;
	struct buf	out;
};

/* Start a chat exchange offering names (nameslen 0: no prompt tools). */
static void
tc_start(struct tc_run *t, int split_think, int stream, int usage,
    const char *names, size_t nameslen)
{
	struct relay_params	p;

	memset(t, 0, sizeof(*t));
	memset(&p, 0, sizeof(p));
	p.split_think = split_think;
	p.tool_names = names;
	p.tool_names_len = nameslen;
	p.id = "chatcmpl-abc";
	p.created = 1700000000;
	p.model = "gpt-4o";
	p.modellen = 6;
	p.stream = stream;
	p.include_usage = usage;
	p.max_event = 256 * 1024;
	p.max_answer = 1024 * 1024;
	buf_init(&t->out);
	relay_init(&t->r, &p);
	relay_response(&t->r, 200, TC_SSE, NULL);
	buf_add(&t->out, t->r.out.data, t->r.out.len);
	buf_reset(&t->r.out);
}

/* Body bytes, as the glue hands them over; r.out moves to the client. */
static void
tc_data(struct tc_run *t, const char *s, size_t len)
{
	relay_data(&t->r, s, len);
	buf_add(&t->out, t->r.out.data, t->r.out.len);
	buf_reset(&t->r.out);
}

/* The end of Dify's body. */
static void
tc_end(struct tc_run *t)
{
	relay_end(&t->r, RELAY_END_EOF, NULL);
	buf_add(&t->out, t->r.out.data, t->r.out.len);
	buf_reset(&t->r.out);
}

static void
tc_stop(struct tc_run *t)
{
	relay_free(&t->r);
	buf_free(&t->out);
}

/*
 * Check every call id in out ("id":"call_...) and replace it with TC_ID;
 * the ids must differ.  Returns how many there were.
 */
static size_t
tc_norm_ids(struct buf *out)
{
	static const char	 key[] = "\"id\":\"call_";
	char			 seen[TOOL_CALL_MAX + 1][32], show[200];
	char			*p, *end;
	size_t			 n = 0, i, j;

	p = out->data;
	end = out->data != NULL ? out->data + out->len : NULL;
	while (p != NULL && (p = memmem(p, (size_t)(end - p), key,
	    sizeof(key) - 1)) != NULL) {
		p += 6;		/* at call_ */
		check_show(p, (size_t)(end - p) < 60 ? (size_t)(end - p) : 60,
		    show, sizeof(show));
		ck_assert_msg(end - p >= 30 && p[29] == '"', "id not 29 "
		    "bytes: %s", show);
		for (i = 5; i < 29; i++)
			ck_assert_msg(isalnum((unsigned char)p[i]) &&
			    (unsigned char)p[i] < 0x80, "id byte %zu: %s", i,
			    show);
		ck_assert_uint_le(n, TOOL_CALL_MAX);
		memcpy(seen[n], p, 29);
		seen[n][29] = '\0';
		for (j = 0; j < n; j++)
			ck_assert_msg(strcmp(seen[j], seen[n]) != 0, "id %s "
			    "twice", seen[n]);
		n++;
		memcpy(p, TC_ID, 29);
		p += 29;
	}
	return (n);
}

/* Expected chunk with a delta (the delta's JSON as given). */
static void
tc_want_chunk(struct buf *b, int usage, const char *delta)
{
	buf_add_str(b, "data: " TC_HEAD TC_CHOICE);
	buf_add_str(b, delta);
	buf_add_str(b, ",\"logprobs\":null,\"finish_reason\":null}]");
	buf_add_str(b, usage ? ",\"usage\":null}\n\n" : "}\n\n");
}

/*
 * The role chunk when tools are offered: content null, as OpenAI starts a
 * stream that may be calls (an SDK's message then keeps content null).
 */
static void
tc_want_role(struct buf *b, int usage)
{
	tc_want_chunk(b, usage, "{\"role\":\"assistant\",\"content\":null}");
}

/* The role chunk without prompt tools. */
static void
tc_want_role_text(struct buf *b, int usage)
{
	tc_want_chunk(b, usage, "{\"role\":\"assistant\",\"content\":\"\"}");
}

/* Content (text already JSON-escaped). */
static void
tc_want_content(struct buf *b, int usage, const char *text)
{
	struct buf	d = BUF_INIT;

	buf_printf(&d, "{\"content\":\"%s\"}", text);
	tc_want_chunk(b, usage, buf_cstr(&d));
	buf_free(&d);
}

static void
tc_want_reasoning(struct buf *b, int usage, const char *text)
{
	struct buf	d = BUF_INIT;

	buf_printf(&d, "{\"reasoning_content\":\"%s\"}", text);
	tc_want_chunk(b, usage, buf_cstr(&d));
	buf_free(&d);
}

/* One call's chunk (args already escaped as a JSON string's content). */
static void
tc_want_call(struct buf *b, int usage, size_t index, const char *name,
    const char *args)
{
	struct buf	d = BUF_INIT;

	buf_printf(&d, "{\"tool_calls\":[{\"index\":%zu,\"id\":\"" TC_ID
	    "\",\"type\":\"function\",\"function\":{\"name\":\"%s\","
	    "\"arguments\":\"%s\"}}]}", index, name, args);
	tc_want_chunk(b, usage, buf_cstr(&d));
	buf_free(&d);
}

/* The finish chunk, usage chunk if asked (3, 4, 7) and [DONE]. */
static void
tc_want_end(struct buf *b, int usage, const char *reason)
{
	buf_printf(b, "data: " TC_HEAD TC_CHOICE "{},\"logprobs\":null,"
	    "\"finish_reason\":\"%s\"}]", reason);
	buf_add_str(b, usage ? ",\"usage\":null}\n\n" : "}\n\n");
	if (usage)
		buf_add_str(b, "data: " TC_HEAD ",\"choices\":[],\"usage\":"
		    "{\"prompt_tokens\":3,\"completion_tokens\":4,"
		    "\"total_tokens\":7}}\n\n");
	buf_add_str(b, "data: [DONE]\n\n");
}

/* The head of a non-stream body. */
#define TC_COMPLETION_HEAD \
	"{\"id\":\"chatcmpl-abc\",\"object\":\"chat.completion\"," \
	"\"created\":1700000000,\"model\":\"gpt-4o\",\"choices\":" \
	"[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
#define TC_COMPLETION_USAGE \
	",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4," \
	"\"total_tokens\":7}}"

/* A non-stream body that is calls (the calls' JSON given, ids TC_ID). */
static void
tc_want_completion_calls(struct buf *b, const char *reasoning,
    const char *calls)
{
	buf_add_str(b, TC_COMPLETION_HEAD "null");
	if (reasoning != NULL)
		buf_printf(b, ",\"reasoning_content\":\"%s\"", reasoning);
	buf_printf(b, ",\"tool_calls\":[%s],\"refusal\":null},\"logprobs\":"
	    "null,\"finish_reason\":\"tool_calls\"}]" TC_COMPLETION_USAGE,
	    calls);
}

/* A non-stream body of text (content already JSON-escaped). */
static void
tc_want_completion_text(struct buf *b, const char *content)
{
	buf_printf(b, TC_COMPLETION_HEAD "\"%s\",\"refusal\":null},"
	    "\"logprobs\":null,\"finish_reason\":\"stop\"}]"
	    TC_COMPLETION_USAGE, content);
}

/* One call's JSON in a non-stream body. */
#define TC_BODY_CALL(name, args) \
	"{\"id\":\"" TC_ID "\",\"type\":\"function\",\"function\":" \
	"{\"name\":\"" name "\",\"arguments\":\"" args "\"}}"

/* Append s (n bytes) JSON-escaped. */
static void
tc_esc(struct buf *b, const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			buf_add_char(b, '\\');
			buf_add_char(b, s[i]);
		} else if (s[i] == '\n')
			buf_add_str(b, "\\n");
		else if (s[i] == '\t')
			buf_add_str(b, "\\t");
		else if (s[i] == '\r')
			buf_add_str(b, "\\r");
		else {
			ck_assert_int_ge((unsigned char)s[i], 0x20);
			buf_add_char(b, s[i]);
		}
	}
}

/* Dify's stream for answer: one message event per byte, message_end. */
static void
tc_byte_events(struct buf *in, const char *answer)
{
	size_t	i;

	for (i = 0; answer[i] != '\0'; i++) {
		buf_add_str(in, TC_MSG_PRE);
		tc_esc(in, answer + i, 1);
		buf_add_str(in, TC_MSG_SUF);
	}
	buf_add_str(in, TC_MSG_END);
}

/* Dify's stream for answer in one message event. */
static void
tc_one_event(struct buf *in, const char *answer)
{
	buf_add_str(in, TC_MSG_PRE);
	tc_esc(in, answer, strlen(answer));
	buf_add_str(in, TC_MSG_SUF TC_MSG_END);
}

/*
 * A whole exchange offering the test names: in cut at cuts (ncuts of
 * them), then the end; the client bytes, ids normalised, go to out.
 * Returns the number of call ids seen.
 */
static size_t
tc_exchange(int split_think, int stream, int usage, const struct buf *in,
    const size_t *cuts, size_t ncuts, struct buf *out)
{
	struct tc_run	 t;
	size_t		 i, start = 0, stop, n;

	tc_start(&t, split_think, stream, usage, TC_NAMES, TC_NAMESLEN);
	for (i = 0; i <= ncuts; i++) {
		stop = i < ncuts ? cuts[i] : in->len;
		tc_data(&t, in->data + start, stop - start);
		start = stop;
	}
	tc_end(&t);
	ck_assert(t.r.complete);
	ck_assert_int_eq(t.r.state, RELAY_DONE);
	n = tc_norm_ids(&t.out);
	buf_add(out, t.out.data, t.out.len);
	tc_stop(&t);
	return (n);
}

/* Check one exchange's bytes against want. */
#define tc_exchange_is(split, stream, usage, in, cuts, ncuts, want, what) \
do { \
	struct buf	got_ = BUF_INIT; \
	char		msg_[4096]; \
	tc_exchange((split), (stream), (usage), (in), (cuts), (ncuts), \
	    &got_); \
	ck_assert_msg(check_same_buf(&got_, (want), msg_, sizeof(msg_)), \
	    "%s split_think=%d stream=%d usage=%d: %s", (what), (split), \
	    (stream), (usage), msg_); \
	buf_free(&got_); \
} while (0)

/*
 * want(stream, usage) gives the expected bytes.  Check in fed whole with
 * split_think off and on; then, if every, at every two-way split and byte
 * by byte (split_think as given by every_think, -1 for both).
 */
typedef void (*tc_want_fn)(struct buf *, int, int);

static void
tc_check_all(const char *what, const struct buf *in, tc_want_fn want,
    int think_lo, int think_hi, int every)
{
	struct buf	 w = BUF_INIT;
	size_t		*cuts, i;
	int		 stream, usage, split;

	cuts = calloc(in->len + 1, sizeof(*cuts));
	ck_assert_ptr_nonnull(cuts);
	for (split = think_lo; split <= think_hi; split++) {
		for (stream = 0; stream <= 1; stream++) {
			for (usage = 0; usage <= 1; usage++) {
				buf_reset(&w);
				want(&w, stream, usage);
				tc_exchange_is(split, stream, usage, in, NULL,
				    0, &w, what);
				if (!every)
					continue;
				for (i = 1; i < in->len; i++)
					tc_exchange_is(split, stream, usage,
					    in, &i, 1, &w, what);
				for (i = 0; i + 1 < in->len; i++)
					cuts[i] = i + 1;
				tc_exchange_is(split, stream, usage, in, cuts,
				    in->len - 1, &w, what);
			}
		}
	}
	free(cuts);
	buf_free(&w);
}

/* The look-alike's call: role, one tool_calls chunk, tool_calls. */
static void
tc_want_paris(struct buf *w, int stream, int usage)
{
	if (!stream) {
		tc_want_completion_calls(w, NULL,
		    TC_BODY_CALL("get_weather", TC_ARGS_ESC));
		return;
	}
	tc_want_role(w, usage);
	tc_want_call(w, usage, 0, "get_weather", TC_ARGS_ESC);
	tc_want_end(w, usage, "tool_calls");
}

/* A call in one message event: tool_calls, streamed or not. */
START_TEST(tc_relay_call_one_event)
{
	struct buf	in = BUF_INIT;

	tc_one_event(&in, TC_ANSWER);
	tc_check_all("call in one event", &in, tc_want_paris, 0, 1, 0);
	buf_free(&in);
}
END_TEST

/* The same call, every byte its own event, and Dify's bytes cut anywhere. */
START_TEST(tc_relay_call_byte_events)
{
	struct buf	in = BUF_INIT;

	tc_byte_events(&in, TC_ANSWER);
	tc_check_all("call byte events", &in, tc_want_paris, 0, 0, 1);
	tc_check_all("call byte events", &in, tc_want_paris, 1, 1, 1);
	buf_free(&in);
}
END_TEST

/* No text goes to a streaming client before the call is whole. */
START_TEST(tc_relay_call_held)
{
	struct tc_run	 t;
	struct buf	 in = BUF_INIT, w = BUF_INIT;
	char		 msg[4096];
	int		 split;

	for (split = 0; split <= 1; split++) {
		buf_reset(&in);
		buf_add_str(&in, TC_MSG("<tool_ca") TC_MSG("ll>{\\\"nam")
		    TC_MSG("e\\\": \\\"get_weather\\\", \\\"arguments\\\": "
		    "{\\\"city\\\": \\\"Paris\\\"}}</tool_call>"));
		tc_start(&t, split, 1, 0, TC_NAMES, TC_NAMESLEN);
		tc_data(&t, in.data, in.len);
		/* The role chunk may go (the stream is committed); no text. */
		buf_reset(&w);
		tc_want_role(&w, 0);
		ck_assert_msg(t.out.len == 0 || check_same_buf(&t.out, &w, msg,
		    sizeof(msg)), "split_think=%d: before the answer ended: "
		    "%s", split, msg);
		tc_data(&t, TC_MSG_END, strlen(TC_MSG_END));
		tc_norm_ids(&t.out);
		buf_reset(&w);
		tc_want_paris(&w, 1, 0);
		ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)),
		    "split_think=%d: %s", split, msg);
		tc_stop(&t);
	}
	buf_free(&in);
	buf_free(&w);
}
END_TEST

/* Two calls with a newline between: two chunks, indexes 0 and 1. */
static void
tc_want_two(struct buf *w, int stream, int usage)
{
	if (!stream) {
		tc_want_completion_calls(w, NULL,
		    TC_BODY_CALL("get_weather", TC_ARGS_ESC) ","
		    TC_BODY_CALL("get_time", "{\\\"tz\\\":\\\"UTC\\\"}"));
		return;
	}
	tc_want_role(w, usage);
	tc_want_call(w, usage, 0, "get_weather", TC_ARGS_ESC);
	tc_want_call(w, usage, 1, "get_time", "{\\\"tz\\\":\\\"UTC\\\"}");
	tc_want_end(w, usage, "tool_calls");
}

START_TEST(tc_relay_two_calls)
{
	struct buf	in = BUF_INIT;

	tc_byte_events(&in, "\n" TC_ANSWER "\n\n<tool_call>{\"name\": "
	    "\"get_time\", \"arguments\": \"{\\\"tz\\\": \\\"UTC\\\"}\"}"
	    "</tool_call>\n");
	tc_check_all("two calls", &in, tc_want_two, 0, 1, 0);
	buf_free(&in);
	buf_init(&in);
	tc_one_event(&in, "\n" TC_ANSWER "\n\n<tool_call>{\"name\": "
	    "\"get_time\", \"arguments\": \"{\\\"tz\\\": \\\"UTC\\\"}\"}"
	    "</tool_call>\n");
	tc_check_all("two calls, one event", &in, tc_want_two, 0, 1, 0);
	buf_free(&in);
}
END_TEST

/* An answer that starts like a call but is not one: as content, stop. */
static const char	*tc_text_want;	/* its text, JSON-escaped */

static void
tc_want_text(struct buf *w, int stream, int usage)
{
	if (!stream) {
		tc_want_completion_text(w, tc_text_want);
		return;
	}
	tc_want_role(w, usage);
	tc_want_content(w, usage, tc_text_want);
	tc_want_end(w, usage, "stop");
}

START_TEST(tc_relay_invalid_call)
{
	static const char *const	 answers[] = {
		/* A name not offered. */
		"<tool_call>{\"name\": \"get_moon\", \"arguments\": {}}"
		    "</tool_call>",
		/* Text after the block. */
		TC_ANSWER " Done.",
		/* Never closed. */
		"<tool_call>{\"name\": \"get_weather\", \"arguments\": {",
		/* Arguments not an object. */
		"<tool_call>{\"name\": \"get_weather\", \"arguments\": [1]}"
		    "</tool_call>",
		/* Only the tag. */
		"  <tool_call>",
		/* Seventeen calls. */
		TC_ANSWER TC_ANSWER TC_ANSWER TC_ANSWER TC_ANSWER TC_ANSWER
		    TC_ANSWER TC_ANSWER TC_ANSWER TC_ANSWER TC_ANSWER
		    TC_ANSWER TC_ANSWER TC_ANSWER TC_ANSWER TC_ANSWER
		    TC_ANSWER,
	};
	struct buf			 in = BUF_INIT, esc = BUF_INIT;
	size_t				 i;

	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		buf_reset(&esc);
		tc_esc(&esc, answers[i], strlen(answers[i]));
		tc_text_want = buf_cstr(&esc);
		buf_reset(&in);
		tc_byte_events(&in, answers[i]);
		tc_check_all(answers[i], &in, tc_want_text, 0, 1, 0);
		buf_reset(&in);
		tc_one_event(&in, answers[i]);
		tc_check_all(answers[i], &in, tc_want_text, 0, 1, 0);
	}
	/* Cut anywhere, the unknown name's text is the same one chunk. */
	buf_reset(&esc);
	tc_esc(&esc, answers[0], strlen(answers[0]));
	tc_text_want = buf_cstr(&esc);
	buf_reset(&in);
	tc_byte_events(&in, answers[0]);
	tc_check_all("unknown name", &in, tc_want_text, 0, 1, 1);
	buf_free(&in);
	buf_free(&esc);
}
END_TEST

/*
 * Plain text with tools offered: content as it arrives.  The first
 * content chunk is out before message_end, and after the first byte that
 * cannot start the tag nothing is held.
 */
START_TEST(tc_relay_plain_text)
{
	struct tc_run	 t;
	struct buf	 w = BUF_INIT;
	char		 msg[4096];
	int		 split;

	for (split = 0; split <= 1; split++) {
		tc_start(&t, split, 1, 0, TC_NAMES, TC_NAMESLEN);
		tc_data(&t, TC_MSG("Hel"), strlen(TC_MSG("Hel")));
		buf_reset(&w);
		tc_want_role(&w, 0);
		tc_want_content(&w, 0, "Hel");
		ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)),
		    "split_think=%d: %s", split, msg);
		ck_assert_uint_eq(t.r.gate.text.len, 0);
		tc_data(&t, TC_MSG("lo <tool_call>"),
		    strlen(TC_MSG("lo <tool_call>")));
		tc_want_content(&w, 0, "lo <tool_call>");
		ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)),
		    "split_think=%d: %s", split, msg);
		ck_assert_uint_eq(t.r.gate.text.len, 0);
		tc_data(&t, TC_MSG_END, strlen(TC_MSG_END));
		tc_want_end(&w, 0, "stop");
		ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)),
		    "split_think=%d: %s", split, msg);
		tc_stop(&t);

		/*
		 * What may start the tag is held, then goes out in one
		 * chunk at the byte that cannot; the rest as it arrives.
		 */
		tc_start(&t, split, 1, 0, TC_NAMES, TC_NAMESLEN);
		buf_reset(&w);
		tc_want_role(&w, 0);
		tc_data(&t, TC_MSG("\\n <to"), strlen(TC_MSG("\\n <to")));
		ck_assert_msg(t.out.len == 0 || check_same_buf(&t.out, &w, msg,
		    sizeof(msg)), "split_think=%d: held: %s", split, msg);
		tc_data(&t, TC_MSG("ol"), strlen(TC_MSG("ol")));
		ck_assert_msg(t.out.len == 0 || check_same_buf(&t.out, &w, msg,
		    sizeof(msg)), "split_think=%d: held: %s", split, msg);
		ck_assert_uint_eq(t.r.gate.text.len, 7);
		tc_data(&t, TC_MSG("s are"), strlen(TC_MSG("s are")));
		tc_want_content(&w, 0, "\\n <tools are");
		ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)),
		    "split_think=%d: %s", split, msg);
		ck_assert_uint_eq(t.r.gate.text.len, 0);
		tc_data(&t, TC_MSG(" here"), strlen(TC_MSG(" here")));
		tc_want_content(&w, 0, " here");
		ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)),
		    "split_think=%d: %s", split, msg);
		tc_data(&t, TC_MSG_END, strlen(TC_MSG_END));
		tc_want_end(&w, 0, "stop");
		ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)),
		    "split_think=%d: %s", split, msg);
		tc_stop(&t);

		/* Not streamed: the whole text, stop. */
		tc_start(&t, split, 0, 0, TC_NAMES, TC_NAMESLEN);
		tc_data(&t, TC_MSG("\\n <to") TC_MSG("ols are") TC_MSG(" here")
		    TC_MSG_END, strlen(TC_MSG("\\n <to") TC_MSG("ols are")
		    TC_MSG(" here") TC_MSG_END));
		buf_reset(&w);
		tc_want_completion_text(&w, "\\n <tools are here");
		ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)),
		    "split_think=%d: %s", split, msg);
		tc_stop(&t);
	}
	buf_free(&w);
}
END_TEST

/* Without prompt tools, a call's text is plain content as it comes. */
START_TEST(tc_relay_no_tools)
{
	struct tc_run	 t;
	struct buf	 w = BUF_INIT;
	char		 msg[4096];

	tc_start(&t, 0, 1, 0, NULL, 0);
	tc_data(&t, TC_MSG("<tool_ca"), strlen(TC_MSG("<tool_ca")));
	tc_want_role_text(&w, 0);
	tc_want_content(&w, 0, "<tool_ca");
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	tc_data(&t, TC_MSG("ll>") TC_MSG_END, strlen(TC_MSG("ll>")
	    TC_MSG_END));
	tc_want_content(&w, 0, "ll>");
	tc_want_end(&w, 0, "stop");
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	tc_stop(&t);
	buf_free(&w);
}
END_TEST

/* A think block, then a call (split_think on): reasoning, then tool_calls. */
#define TC_THINKING	"\nLet me check.\n"

static void
tc_want_think_call(struct buf *w, int stream, int usage)
{
	static const char	 r[] = TC_THINKING;
	struct buf		 e = BUF_INIT;
	size_t			 i;

	if (!stream) {
		tc_want_completion_calls(w, "\\nLet me check.\\n",
		    TC_BODY_CALL("get_weather", TC_ARGS_ESC));
		return;
	}
	tc_want_role(w, usage);
	/* Each byte of the block its own event, its own chunk. */
	for (i = 0; i < sizeof(r) - 1; i++) {
		buf_reset(&e);
		tc_esc(&e, r + i, 1);
		tc_want_reasoning(w, usage, buf_cstr(&e));
	}
	tc_want_call(w, usage, 0, "get_weather", TC_ARGS_ESC);
	tc_want_end(w, usage, "tool_calls");
	buf_free(&e);
}

START_TEST(tc_relay_think_then_call)
{
	struct tc_run	 t;
	struct buf	 in = BUF_INIT, w = BUF_INIT;
	char		 msg[4096];

	tc_byte_events(&in, "<think>" TC_THINKING "</think>\n\n" TC_ANSWER);
	tc_check_all("think then call", &in, tc_want_think_call, 1, 1, 1);

	/* In one event: one reasoning chunk, then the call. */
	buf_reset(&in);
	tc_one_event(&in, "<think>" TC_THINKING "</think>\n\n" TC_ANSWER);
	tc_start(&t, 1, 1, 0, TC_NAMES, TC_NAMESLEN);
	tc_data(&t, in.data, in.len);
	tc_end(&t);
	ck_assert_uint_eq(tc_norm_ids(&t.out), 1);
	tc_want_role(&w, 0);
	tc_want_reasoning(&w, 0, "\\nLet me check.\\n");
	tc_want_call(&w, 0, 0, "get_weather", TC_ARGS_ESC);
	tc_want_end(&w, 0, "tool_calls");
	ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)), "%s",
	    msg);
	tc_stop(&t);
	buf_free(&in);
	buf_free(&w);
}
END_TEST

/* A moderation replacement of a held call: plain text, content_filter. */
START_TEST(tc_relay_replace)
{
	static const char	 rep[] = "data: {\"event\":\"message_replace\","
				    "\"task_id\":\"T\",\"answer\":\"I cannot "
				    "answer that.\",\"reason\":\"\"}\n\n";
	struct tc_run		 t;
	struct buf		 w = BUF_INIT;
	char			 msg[4096];
	int			 split;

	for (split = 0; split <= 1; split++) {
		tc_start(&t, split, 1, 0, TC_NAMES, TC_NAMESLEN);
		buf_reset(&w);
		tc_want_role(&w, 0);
		tc_data(&t, TC_MSG("<tool_call>{"),
		    strlen(TC_MSG("<tool_call>{")));
		ck_assert_msg(t.out.len == 0 || check_same_buf(&t.out, &w, msg,
		    sizeof(msg)), "split_think=%d: held: %s", split, msg);
		tc_data(&t, rep, strlen(rep));
		tc_data(&t, TC_MSG_END, strlen(TC_MSG_END));
		tc_want_content(&w, 0, "I cannot answer that.");
		tc_want_end(&w, 0, "content_filter");
		ck_assert_msg(check_same_buf(&t.out, &w, msg, sizeof(msg)),
		    "split_think=%d: %s", split, msg);
		tc_stop(&t);
	}
	buf_free(&w);
}
END_TEST

/*
 * chat_request with prompt tools: the query is a transcript that starts
 * with the preamble, calls rendered as the app makes them.
 */

/* Parse a request, offer its tools, return the query (caller frees). */
static char *
tc_query(const char *body, int continuing, int want_n, struct buf *names)
{
	struct chat_request	 cr;
	struct api_error	 e;
	struct buf		 q = BUF_INIT;
	char			*s;

	memset(&e, 0, sizeof(e));
	ck_assert_msg(chat_request_parse(&cr, body, strlen(body), &e) == 0,
	    "refused (%s): %s", e.code, e.message);
	ck_assert_int_eq(chat_request_prompt_tools(&cr, names), want_n);
	chat_request_query(&cr, continuing, &q);
	s = strdup(buf_cstr(&q));
	buf_free(&q);
	chat_request_free(&cr);
	return (s);
}

START_TEST(tc_request_first_turn)
{
	struct buf	 names = BUF_INIT;
	char		*q;
	int		 continuing;

	for (continuing = 0; continuing <= 1; continuing++) {
		buf_reset(&names);
		q = tc_query("{\"model\":\"m\",\"tools\":[" TC_WEATHER "],"
		    "\"messages\":[{\"role\":\"user\",\"content\":"
		    "\"Weather in Paris?\"}]}", continuing, 1, &names);
		ck_assert_str_eq(q, "System: " TC_PRE_HEAD "[" TC_WEATHER_DESC
		    "]" TC_PRE_TAIL TC_PRE_AUTO "\n\nUser: Weather in Paris?");
		ck_assert_uint_eq(names.len, 12);
		ck_assert_int_eq(memcmp(names.data, "get_weather", 12), 0);
		free(q);
	}
	/* tool_choice none: the plain query. */
	buf_reset(&names);
	q = tc_query("{\"model\":\"m\",\"tools\":[" TC_WEATHER "],"
	    "\"tool_choice\":\"none\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hi\"}]}", 0, 0, &names);
	ck_assert_str_eq(q, "Hi");
	ck_assert_uint_eq(names.len, 0);
	free(q);
	buf_free(&names);
}
END_TEST

START_TEST(tc_request_results)
{
	struct buf	 names = BUF_INIT;
	char		*q;

	q = tc_query("{\"model\":\"m\",\"tools\":[" TC_WEATHER "," TC_TIME
	    "],\"tool_choice\":\"required\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
	    "{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
	    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
	    "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
	    "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_time\",\"arguments\":\"{}\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":"
	    "\"22C\"},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":"
	    "\"10:00\"}]}", 0, 2, &names);
	ck_assert_str_eq(q, "System: " TC_PRE_HEAD "[" TC_WEATHER_DESC ","
	    TC_TIME_DESC "]" TC_PRE_TAIL TC_PRE_MUST
	    "\n\nSystem: Be brief."
	    "\n\nUser: Weather in Paris?"
	    "\n\nAssistant: <tool_call>{\"name\":\"get_weather\","
	    "\"arguments\":{\"city\":\"Paris\"}}</tool_call>\n"
	    "<tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_call>"
	    "\n\nTool (call_1): 22C"
	    "\n\nTool (call_2): 10:00");
	free(q);
	buf_free(&names);
}
END_TEST

/* The tool_call suite. */
Suite *
tool_call_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("tool_call");
	tc = tcase_create("preamble");
	tcase_add_test(tc, tc_preamble_one);
	tcase_add_test(tc, tc_preamble_two);
	tcase_add_test(tc, tc_preamble_choice);
	tcase_add_test(tc, tc_preamble_named);
	tcase_add_test(tc, tc_preamble_skips);
	tcase_add_test(tc, tc_preamble_not_array);
	suite_add_tcase(s, tc);

	tc = tcase_create("render");
	tcase_add_test(tc, tc_render);
	tcase_add_test(tc, tc_render_bad);
	tcase_add_test(tc, tc_render_not_object);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, tc_parse_one);
	tcase_add_test(tc, tc_parse_two);
	tcase_add_test(tc, tc_parse_arguments);
	tcase_add_test(tc, tc_parse_names);
	tcase_add_test(tc, tc_parse_text);
	tcase_add_test(tc, tc_parse_malformed);
	tcase_add_test(tc, tc_parse_bad_arguments);
	tcase_add_test(tc, tc_parse_arguments_string_not_json);
	tcase_add_test(tc, tc_parse_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("gate");
	tcase_add_test(tc, tc_gate_prefixes);
	tcase_add_test(tc, tc_gate_empty_and_after_pass);
	tcase_add_test(tc, tc_gate_whitespace);
	tcase_add_test(tc, tc_gate_pass_late);
	tcase_add_test(tc, tc_gate_pass_at_once);
	tcase_add_test(tc, tc_gate_capturing);
	suite_add_tcase(s, tc);

	tc = tcase_create("relay");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, tc_relay_call_one_event);
	tcase_add_test(tc, tc_relay_call_byte_events);
	tcase_add_test(tc, tc_relay_call_held);
	tcase_add_test(tc, tc_relay_two_calls);
	tcase_add_test(tc, tc_relay_invalid_call);
	tcase_add_test(tc, tc_relay_plain_text);
	tcase_add_test(tc, tc_relay_no_tools);
	tcase_add_test(tc, tc_relay_think_then_call);
	tcase_add_test(tc, tc_relay_replace);
	suite_add_tcase(s, tc);

	tc = tcase_create("request");
	tcase_add_test(tc, tc_request_first_turn);
	tcase_add_test(tc, tc_request_results);
	suite_add_tcase(s, tc);
	return (s);
}
