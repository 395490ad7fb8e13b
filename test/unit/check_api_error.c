/*
 * check_api_error: the Dify to OpenAI error table (one test per row), the
 * cleaning of Dify's messages, Dify's exact error bodies, the upstream
 * failure kinds and the exact JSON of an error.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api_error.h"
#include "buf.h"
#include "check_suites.h"

#define CHECK_API_ERROR_PREFIX	"Dify reported an internal error: "

/* Map (status, code, message) through api_error_from_dify. */
static void
check_api_error_map(struct api_error *e, int status, const char *code,
    const char *msg)
{
	memset(e, 0x5a, sizeof(*e));	/* stale bytes must not survive */
	api_error_from_dify(e, status, code, code != NULL ? strlen(code) : 0,
	    msg, msg != NULL ? strlen(msg) :
	    0);
}

/* Map an HTTP status and body through api_error_from_dify_body. */
static void
check_api_error_body(struct api_error *e, int status, const char *body)
{
	memset(e, 0x5a, sizeof(*e));
	api_error_from_dify_body(e, status, body, strlen(body));
}

/* True if s is valid UTF-8 (checked by jansson, which refuses invalid). */
static int
check_api_error_utf8(const char *s)
{
	json_t	*v;

	if ((v = json_stringn(s, strlen(s))) == NULL)
		return (0);
	json_decref(v);
	return (1);
}

/* Row: (400, invalid_param) -> 400 invalid_request_error invalid_param. */
START_TEST(check_api_error_row_invalid_param)
{
	struct api_error	e;

	check_api_error_map(&e, 400, "invalid_param",
	    "Arg user must be provided.");
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_str_eq(e.code, "invalid_param");
	ck_assert_str_eq(e.param, "");
	ck_assert_str_eq(e.message, "Arg user must be provided.");
	ck_assert_int_eq(e.retry_after, 0);
}
END_TEST

/* Row: (401, unauthorized) -> 401 authentication_error invalid_api_key. */
START_TEST(check_api_error_row_unauthorized)
{
	struct api_error	e;

	check_api_error_map(&e, 401, "unauthorized", "Access token is invalid");
	ck_assert_int_eq(e.status, 401);
	ck_assert_str_eq(e.type, "authentication_error");
	ck_assert_str_eq(e.code, "invalid_api_key");
	ck_assert_str_eq(e.message, "Access token is invalid");
	ck_assert_int_eq(e.retry_after, 0);
}
END_TEST

/* Row: (403, forbidden) -> 403 permission_error. */
START_TEST(check_api_error_row_forbidden)
{
	struct api_error	e;

	check_api_error_map(&e, 403, "forbidden",
	    "The app's API service has been disabled.");
	ck_assert_int_eq(e.status, 403);
	ck_assert_str_eq(e.type, "permission_error");
	ck_assert_str_eq(e.code, "forbidden");
	ck_assert_str_eq(e.message, "The app's API service has been disabled.");
}
END_TEST

/* Row: (404, not_found) -> 404 invalid_request_error, restx suffix cut. */
START_TEST(check_api_error_row_not_found)
{
	struct api_error	e;

	check_api_error_map(&e, 404, "not_found",
	    "Conversation Not Exists. You have requested this URI "
	    "[/v1/chat-messages] but did you mean /v1/chat-messages or "
	    "/api/chat-messages or /v1/chat-messages/<string:task_id>/stop ?");
	ck_assert_int_eq(e.status, 404);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_str_eq(e.code, "not_found");
	ck_assert_str_eq(e.message, "Conversation Not Exists.");
}
END_TEST

/* Row: (400, provider_quota_exceeded) -> 429 insufficient_quota. */
START_TEST(check_api_error_row_quota)
{
	struct api_error	e;

	check_api_error_map(&e, 400, "provider_quota_exceeded",
	    "Your quota for Dify Hosted Model Provider has been exhausted. "
	    "Please go to Settings -> Model Provider to complete your own "
	    "provider credentials.");
	ck_assert_int_eq(e.status, 429);
	ck_assert_str_eq(e.type, "insufficient_quota");
	ck_assert_str_eq(e.code, "insufficient_quota");
	ck_assert_str_eq(e.message, "Your quota for Dify Hosted Model Provider "
	    "has been exhausted. Please go to Settings -> Model Provider to "
	    "complete your own provider credentials.");
}
END_TEST

/* Row: (429, too_many_requests) -> 429 rate_limit_error, retry_after. */
START_TEST(check_api_error_row_too_many_requests)
{
	struct api_error	e;

	check_api_error_map(&e, 429, "too_many_requests",
	    "Too many requests. Please try again later.");
	ck_assert_int_eq(e.status, 429);
	ck_assert_str_eq(e.type, "rate_limit_error");
	ck_assert_int_gt(e.retry_after, 0);
	ck_assert_str_eq(e.message,
	    "Too many requests. Please try again later.");
	/* Dify may send the same code under 400 (§5.3): still a 429. */
	check_api_error_map(&e, 400, "too_many_requests", "Too many requests.");
	ck_assert_int_eq(e.status, 429);
	ck_assert_str_eq(e.type, "rate_limit_error");
	ck_assert_int_gt(e.retry_after, 0);
}
END_TEST

/* Row: (429, rate_limit_error) -> 429 rate_limit_error, retry_after. */
START_TEST(check_api_error_row_rate_limit_error)
{
	struct api_error	e;

	check_api_error_map(&e, 429, "rate_limit_error",
	    "Workflow execution quota limit reached for tenant t-1");
	ck_assert_int_eq(e.status, 429);
	ck_assert_str_eq(e.type, "rate_limit_error");
	ck_assert_int_gt(e.retry_after, 0);
	ck_assert_str_eq(e.message,
	    "Workflow execution quota limit reached for tenant t-1");
	/* A 429 without a code is a rate limit too. */
	check_api_error_map(&e, 429, NULL, "slow down");
	ck_assert_int_eq(e.status, 429);
	ck_assert_str_eq(e.type, "rate_limit_error");
	ck_assert_int_gt(e.retry_after, 0);
}
END_TEST

/* Row: (500, internal_server_error) -> 502 server_error, prefixed. */
START_TEST(check_api_error_row_internal)
{
	struct api_error	e;

	check_api_error_map(&e, 500, "internal_server_error",
	    "Internal Server Error, please contact support.");
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.type, "server_error");
	ck_assert_str_eq(e.message, CHECK_API_ERROR_PREFIX
	    "Internal Server Error, please contact support.");
	ck_assert_int_eq(e.retry_after, 0);
}
END_TEST

/* Row: (503, anything) -> 502 server_error. */
START_TEST(check_api_error_row_503)
{
	struct api_error	e;

	check_api_error_map(&e, 503, "service_unavailable", "Overloaded");
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.type, "server_error");
	ck_assert_str_eq(e.message, CHECK_API_ERROR_PREFIX "Overloaded");
	check_api_error_map(&e, 503, NULL, NULL);
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.type, "server_error");
}
END_TEST

/* Row: other 4xx keep their status, invalid_request_error, Dify's code. */
START_TEST(check_api_error_row_other_4xx)
{
	struct api_error	e;

	check_api_error_map(&e, 400, "completion_request_error",
	    "[openai] Error: Incorrect API key provided");
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_str_eq(e.code, "completion_request_error");
	ck_assert_str_eq(e.message,
	    "[openai] Error: Incorrect API key provided");

	check_api_error_map(&e, 400, "not_chat_app",
	    "Please check if your app mode matches the right API route.");
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_str_eq(e.code, "not_chat_app");
	ck_assert_str_eq(e.message,
	    "Please check if your app mode matches the right API route.");

	check_api_error_map(&e, 413, "file_too_large", "File size exceeded.");
	ck_assert_int_eq(e.status, 413);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_str_eq(e.code, "file_too_large");
	ck_assert_str_eq(e.message, "File size exceeded.");

	/* invalid_param under another 4xx keeps that status. */
	check_api_error_map(&e, 422, "invalid_param", "bad");
	ck_assert_int_eq(e.status, 422);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_str_eq(e.code, "invalid_param");
}
END_TEST

/* Row: no status and no code -> 502 server_error, code null. */
START_TEST(check_api_error_row_no_status)
{
	struct api_error	e;

	check_api_error_map(&e, 0, NULL, "something broke");
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.type, "server_error");
	ck_assert_str_eq(e.code, "");
	ck_assert_str_eq(e.param, "");
	ck_assert_int_eq(e.retry_after, 0);
	ck_assert_ptr_nonnull(strstr(e.message, "something broke"));

	check_api_error_map(&e, 0, NULL, NULL);
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.type, "server_error");
	ck_assert_str_ne(e.message, "");
	ck_assert(check_api_error_utf8(e.message));
}
END_TEST

/* A Dify code is kept only as [a-z0-9_]. */
START_TEST(check_api_error_code_chars)
{
	struct api_error	e;

	check_api_error_map(&e, 400, "bad\"code\n<x>_1", "m");
	ck_assert_str_eq(e.code, "badcodex_1");
	check_api_error_map(&e, 400, "", "m");
	ck_assert_str_eq(e.code, "");
}
END_TEST

/* pydantic's details and "For further information" lines are dropped. */
START_TEST(check_api_error_pydantic)
{
	struct api_error	e;

	check_api_error_map(&e, 400, "invalid_param",
	    "1 validation error for ChatRequestPayload\n"
	    "query\n"
	    "  Field required [type=missing, input_value={'inputs': {}, "
	    "'user': 'abc-123'}, input_type=dict]\n"
	    "    For further information visit "
	    "https://errors.pydantic.dev/2.11/v/missing");
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.message,
	    "1 validation error for ChatRequestPayload query Field required");

	check_api_error_map(&e, 400, "invalid_param",
	    "2 validation errors for ChatRequestPayload\n"
	    "inputs\n"
	    "  Input should be a valid dictionary [type=dict_type, "
	    "input_value='x', input_type=str]\n"
	    "    For further information visit "
	    "https://errors.pydantic.dev/2.11/v/dict_type\n"
	    "response_mode\n"
	    "  Input should be 'blocking' or 'streaming' [type=literal_error, "
	    "input_value='fast', input_type=str]\n"
	    "    For further information visit "
	    "https://errors.pydantic.dev/2.11/v/literal_error");
	ck_assert_str_eq(e.message,
	    "2 validation errors for ChatRequestPayload inputs Input should "
	    "be a valid dictionary response_mode Input should be 'blocking' "
	    "or 'streaming'");
}
END_TEST

/*
 * The echoed input_value of a request with files holds brackets of its
 * own; the whole [type=...] detail must still go, echo included.
 */
START_TEST(check_api_error_pydantic_nested)
{
	struct api_error	e;

	check_api_error_map(&e, 400, "invalid_param",
	    "1 validation error for ChatRequestPayload\n"
	    "query\n"
	    "  Field required [type=missing, input_value={'inputs': {}, "
	    "'files': [{'type': 'image', 'transfer_method': 'remote_url', "
	    "'url': 'https://example.com/a.png'}], 'user': 'abc-123'}, "
	    "input_type=dict]\n"
	    "    For further information visit "
	    "https://errors.pydantic.dev/2.11/v/missing");
	ck_assert_str_eq(e.message,
	    "1 validation error for ChatRequestPayload query Field required");
}
END_TEST

/* For 5xx only the first line is kept, after the prefix. */
START_TEST(check_api_error_5xx_first_line)
{
	struct api_error	e;

	check_api_error_map(&e, 500, "internal_server_error",
	    "Database is down\nconnection to 10.0.0.5:5432 refused\n"
	    "password=hunter2");
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.message, CHECK_API_ERROR_PREFIX "Database is down");

	/* Leading blank lines do not count as the first line. */
	check_api_error_map(&e, 500, NULL, "\n\n  Worker crashed\nsecret");
	ck_assert_str_eq(e.message, CHECK_API_ERROR_PREFIX "Worker crashed");

	/* The ≥1.13 no-code error event. */
	check_api_error_map(&e, 500, NULL, "Conversation Not Exists.");
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.type, "server_error");
	ck_assert_str_eq(e.code, "");
	ck_assert_str_eq(e.message, CHECK_API_ERROR_PREFIX
	    "Conversation Not Exists.");
}
END_TEST

/* A Python traceback and everything after it is dropped. */
START_TEST(check_api_error_traceback)
{
	struct api_error	e;

	check_api_error_map(&e, 400, "invalid_param",
	    "Run failed: boom Traceback (most recent call last):\n"
	    "  File \"/app/api/core/x.py\", line 12, in run\n"
	    "    raise ValueError(os.environ['SECRET_KEY'])\n"
	    "ValueError: s3cr3t");
	ck_assert_str_eq(e.message, "Run failed: boom");

	check_api_error_map(&e, 500, NULL,
	    "Traceback (most recent call last):\n  File \"x.py\"\nKeyError");
	ck_assert_int_eq(e.status, 502);
	ck_assert_ptr_null(strstr(e.message, "Traceback"));
	ck_assert_ptr_null(strstr(e.message, "x.py"));
	ck_assert_ptr_null(strstr(e.message, "KeyError"));
	ck_assert_str_eq(e.message, "Dify reported an internal error");
}
END_TEST

/* Control characters become spaces and blank runs collapse. */
START_TEST(check_api_error_controls)
{
	struct api_error	e;

	check_api_error_map(&e, 400, "invalid_param", "a\tb\x01" "c\x7f" "d");
	ck_assert_str_eq(e.message, "a b c d");
	check_api_error_map(&e, 400, "invalid_param", "line one\nline two\r\n");
	ck_assert_str_eq(e.message, "line one line two");
	check_api_error_map(&e, 400, "invalid_param", "  x \t\t  y  ");
	ck_assert_str_eq(e.message, "x y");
	/* UTF-8 text is kept as it is. */
	check_api_error_map(&e, 400, "invalid_param",
	    "\xe5\x8f\x82\xe6\x95\xb0\xe9\x94\x99\xe8\xaf\xaf "
	    "\xf0\x9f\x99\x82");
	ck_assert_str_eq(e.message,
	    "\xe5\x8f\x82\xe6\x95\xb0\xe9\x94\x99\xe8\xaf\xaf "
	    "\xf0\x9f\x99\x82");
}
END_TEST

/* A long message is cut on a UTF-8 boundary to fit. */
START_TEST(check_api_error_cut_utf8)
{
	struct api_error	 e;
	struct buf		 b = BUF_INIT;
	const char		*msg;
	size_t			 i, n;

	/* 400 x "é" (800 bytes), and the same after one ASCII byte. */
	for (i = 0; i < 400; i++)
		buf_add_str(&b, "\xc3\xa9");
	msg = buf_cstr(&b);
	check_api_error_map(&e, 400, "invalid_param", msg);
	n = strlen(e.message);
	ck_assert_uint_lt(n, sizeof(e.message));
	ck_assert_uint_ge(n, sizeof(e.message) - 4);
	ck_assert(check_api_error_utf8(e.message));
	ck_assert_int_eq(memcmp(e.message, msg, n), 0);

	buf_reset(&b);
	buf_add_char(&b, 'a');
	for (i = 0; i < 400; i++)
		buf_add_str(&b, "\xc3\xa9");
	msg = buf_cstr(&b);
	check_api_error_map(&e, 400, "invalid_param", msg);
	n = strlen(e.message);
	ck_assert_uint_ge(n, sizeof(e.message) - 4);
	ck_assert(check_api_error_utf8(e.message));
	ck_assert_int_eq(memcmp(e.message, msg, n), 0);

	/* With the 5xx prefix, and 4-byte characters. */
	buf_reset(&b);
	for (i = 0; i < 300; i++)
		buf_add_str(&b, "\xf0\x9f\x99\x82");
	msg = buf_cstr(&b);
	check_api_error_map(&e, 500, NULL, msg);
	n = strlen(e.message);
	ck_assert_uint_lt(n, sizeof(e.message));
	ck_assert_uint_ge(n, sizeof(e.message) - 5);
	ck_assert(check_api_error_utf8(e.message));
	ck_assert_int_eq(strncmp(e.message, CHECK_API_ERROR_PREFIX,
	    strlen(CHECK_API_ERROR_PREFIX)), 0);
	buf_free(&b);
}
END_TEST

/* api_error_sanitize on its own, into a small buffer. */
START_TEST(check_api_error_sanitize_small)
{
	char	out[8];

	api_error_sanitize("abcdefghij", 10, 400, out, sizeof(out));
	ck_assert_str_eq(out, "abcdefg");
	/* "ab" then 你 (3 bytes) then 好: 你 fits, 好 does not. */
	api_error_sanitize("ab\xe4\xbd\xa0\xe5\xa5\xbd", 8, 400, out,
	    sizeof(out));
	ck_assert_str_eq(out, "ab\xe4\xbd\xa0");
	api_error_sanitize("abcde\xe4\xbd\xa0", 8, 400, out, sizeof(out));
	ck_assert_str_eq(out, "abcde");
	/* Exactly size - 1 bytes fit whole. */
	api_error_sanitize("abcd\xe4\xbd\xa0", 7, 400, out, sizeof(out));
	ck_assert_str_eq(out, "abcd\xe4\xbd\xa0");
	api_error_sanitize("", 0, 400, out, sizeof(out));
	ck_assert_str_eq(out, "");
	/* Only len bytes are read. */
	api_error_sanitize("abcXYZ", 3, 400, out, sizeof(out));
	ck_assert_str_eq(out, "abc");
}
END_TEST

/* An empty Dify message gets a generic text, never an empty message. */
START_TEST(check_api_error_empty_message)
{
	struct api_error	e;

	check_api_error_map(&e, 400, "invalid_param", "");
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.message, "Dify rejected the request (HTTP 400)");
	check_api_error_map(&e, 500, "internal_server_error", "  \n ");
	ck_assert_str_eq(e.message, "Dify reported an internal error");
}
END_TEST

/* Dify's exact 401 body (ujson, trailing newline). */
START_TEST(check_api_error_body_401)
{
	struct api_error	e;

	check_api_error_body(&e, 401, "{\"code\":\"unauthorized\",\"message\":"
	    "\"Access token is invalid\",\"status\":401}\n");
	ck_assert_int_eq(e.status, 401);
	ck_assert_str_eq(e.type, "authentication_error");
	ck_assert_str_eq(e.code, "invalid_api_key");
	ck_assert_str_eq(e.message, "Access token is invalid");

	check_api_error_body(&e, 401, "{\"code\":\"unauthorized\",\"message\":"
	    "\"Authorization header must be provided and start with "
	    "'Bearer'\",\"status\":401}\n");
	ck_assert_str_eq(e.message, "Authorization header must be provided "
	    "and start with 'Bearer'");
}
END_TEST

/* Dify's exact 404 body of issue #28481, with \/ escapes. */
START_TEST(check_api_error_body_404)
{
	struct api_error	e;

	check_api_error_body(&e, 404, "{\"code\":\"not_found\",\"message\":"
	    "\"Conversation Not Exists. You have requested this URI "
	    "[\\/v1\\/chat-messages] but did you mean \\/v1\\/chat-messages "
	    "or \\/api\\/chat-messages or "
	    "\\/v1\\/chat-messages\\/<string:task_id>\\/stop ?\","
	    "\"status\":404}\n");
	ck_assert_int_eq(e.status, 404);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_str_eq(e.code, "not_found");
	ck_assert_str_eq(e.message, "Conversation Not Exists.");
}
END_TEST

/* Dify's 400, 403, 429 and 500 bodies. */
START_TEST(check_api_error_body_others)
{
	struct api_error	e;

	check_api_error_body(&e, 400, "{\"code\":\"invalid_param\",\"message\":"
	    "\"Arg user must be provided.\",\"status\":400}\n");
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.code, "invalid_param");
	ck_assert_str_eq(e.message, "Arg user must be provided.");

	check_api_error_body(&e, 403, "{\"code\":\"forbidden\",\"message\":"
	    "\"The app's status is abnormal.\",\"status\":403}\n");
	ck_assert_int_eq(e.status, 403);
	ck_assert_str_eq(e.type, "permission_error");
	ck_assert_str_eq(e.message, "The app's status is abnormal.");

	check_api_error_body(&e, 429, "{\"code\":\"too_many_requests\","
	    "\"message\":\"Too many requests. Please try again later. The "
	    "current maximum concurrent requests allowed for app-1 is 2.\","
	    "\"status\":429}\n");
	ck_assert_int_eq(e.status, 429);
	ck_assert_str_eq(e.type, "rate_limit_error");
	ck_assert_int_gt(e.retry_after, 0);

	check_api_error_body(&e, 500, "{\"code\":\"internal_server_error\","
	    "\"message\":\"The server encountered an internal error and was "
	    "unable to complete your request. Either the server is overloaded "
	    "or there is an error in the application.\",\"status\":500}\n");
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.type, "server_error");
	ck_assert_str_eq(e.message, CHECK_API_ERROR_PREFIX "The server "
	    "encountered an internal error and was unable to complete your "
	    "request. Either the server is overloaded or there is an error in "
	    "the application.");

	/* The old spaced json.dumps form with \u escapes reads the same. */
	check_api_error_body(&e, 400, "{\"code\": \"invalid_param\", "
	    "\"message\": \"caf\\u00e9 is required in input form\", "
	    "\"status\": 400}");
	ck_assert_str_eq(e.message, "caf\xc3\xa9 is required in input form");
}
END_TEST

/* A body that is not Dify's JSON: the status alone decides. */
START_TEST(check_api_error_body_not_json)
{
	struct api_error	e;

	check_api_error_body(&e, 502, "<html><body>502 Bad Gateway</body>"
	    "</html>\n");
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.type, "server_error");
	ck_assert_str_eq(e.code, "");
	ck_assert_str_eq(e.message, "Dify answered HTTP 502");

	check_api_error_body(&e, 401, "Unauthorized");
	ck_assert_int_eq(e.status, 401);
	ck_assert_str_eq(e.type, "authentication_error");
	ck_assert_str_eq(e.message, "Dify rejected the request (HTTP 401)");

	check_api_error_body(&e, 400, "[\"code\",\"message\"]");
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_str_eq(e.message, "Dify rejected the request (HTTP 400)");

	check_api_error_body(&e, 429, "Too Many Requests");
	ck_assert_int_eq(e.status, 429);
	ck_assert_str_eq(e.type, "rate_limit_error");
	ck_assert_int_gt(e.retry_after, 0);
}
END_TEST

/* An empty body: the status alone decides. */
START_TEST(check_api_error_body_empty)
{
	struct api_error	e;

	check_api_error_body(&e, 500, "");
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.type, "server_error");
	ck_assert_str_eq(e.message, "Dify answered HTTP 500");

	check_api_error_body(&e, 404, "");
	ck_assert_int_eq(e.status, 404);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_str_eq(e.message, "Dify rejected the request (HTTP 404)");
}
END_TEST

/* Each upstream failure kind, with and without a detail. */
START_TEST(check_api_error_upstream_kinds)
{
	static const struct {
		enum api_error_upstream	 what;
		int			 status;
		const char		*code;
	} rows[] = {
		{ API_ERROR_UPSTREAM_UNREACHABLE, 502, "upstream_unreachable" },
		{ API_ERROR_UPSTREAM_DNS, 502, "upstream_dns_error" },
		{ API_ERROR_UPSTREAM_TLS, 502, "upstream_tls_error" },
		{ API_ERROR_UPSTREAM_TIMEOUT, 504, "upstream_timeout" },
		{ API_ERROR_UPSTREAM_INCOMPLETE, 502, "upstream_incomplete" },
		{ API_ERROR_UPSTREAM_PROTOCOL, 502, "upstream_protocol_error" },
	};
	struct api_error	e;
	size_t			i;
	char			plain[640];

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		api_error_upstream(&e, rows[i].what, NULL);
		ck_assert_int_eq(e.status, rows[i].status);
		ck_assert_str_eq(e.type, "server_error");
		ck_assert_str_eq(e.code, rows[i].code);
		ck_assert_str_eq(e.param, "");
		ck_assert_str_ne(e.message, "");
		snprintf(plain, sizeof(plain), "%s", e.message);

		api_error_upstream(&e, rows[i].what, "");
		ck_assert_str_eq(e.message, plain);

		api_error_upstream(&e, rows[i].what, "Connection refused");
		ck_assert_int_eq(e.status, rows[i].status);
		ck_assert_str_eq(e.code, rows[i].code);
		ck_assert_int_eq(strncmp(e.message, plain, strlen(plain)), 0);
		ck_assert_str_eq(e.message + strlen(plain),
		    ": Connection refused");
	}
}
END_TEST

/* api_error_set fills every field; NULL code and param are empty. */
START_TEST(check_api_error_set_fields)
{
	struct api_error	e;

	memset(&e, 0x5a, sizeof(e));
	api_error_set(&e, 418, "invalid_request_error", NULL, NULL,
	    "n=%d s=%s", 3, "x");
	ck_assert_int_eq(e.status, 418);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_str_eq(e.code, "");
	ck_assert_str_eq(e.param, "");
	ck_assert_str_eq(e.message, "n=3 s=x");
	ck_assert_int_eq(e.retry_after, 0);
}
END_TEST

/* Exact JSON, with null param and code. */
START_TEST(check_api_error_json_nulls)
{
	struct api_error	e;
	struct buf		b = BUF_INIT;

	api_error_set(&e, 502, "server_error", NULL, NULL, "%s",
	    "could not connect to Dify");
	api_error_json(&e, &b);
	ck_assert_str_eq(buf_cstr(&b), "{\"error\":{\"message\":\"could not "
	    "connect to Dify\",\"type\":\"server_error\",\"param\":null,"
	    "\"code\":null}}");
	buf_free(&b);
}
END_TEST

/* Exact JSON with param and code set. */
START_TEST(check_api_error_json_full)
{
	struct api_error	e;
	struct buf		b = BUF_INIT;

	api_error_set(&e, 400, "invalid_request_error", "invalid_value",
	    "messages[0].role", "Invalid value for '%s'.", "messages[0].role");
	api_error_json(&e, &b);
	ck_assert_str_eq(buf_cstr(&b), "{\"error\":{\"message\":"
	    "\"Invalid value for 'messages[0].role'.\","
	    "\"type\":\"invalid_request_error\","
	    "\"param\":\"messages[0].role\",\"code\":\"invalid_value\"}}");
	buf_free(&b);
}
END_TEST

/* Quotes, backslashes, newlines and UTF-8 in a message stay valid JSON. */
START_TEST(check_api_error_json_escaping)
{
	struct api_error	 e;
	struct buf		 b = BUF_INIT;
	json_t			*root, *err;
	json_error_t		 jerr;

	api_error_set(&e, 400, "invalid_request_error", "c\"d", "p\\q",
	    "say \"hi\"\\\n\t\xe4\xbd\xa0\xe5\xa5\xbd \xff");
	api_error_json(&e, &b);
	ck_assert_ptr_null(memchr(b.data, '\n', b.len));
	root = json_loadb(b.data, b.len, 0, &jerr);
	ck_assert_msg(root != NULL, "%s: %s", jerr.text, buf_cstr(&b));
	ck_assert_uint_eq(json_object_size(root), 1);
	err = json_object_get(root, "error");
	ck_assert(json_is_object(err));
	ck_assert_uint_eq(json_object_size(err), 4);
	ck_assert_str_eq(json_string_value(json_object_get(err, "message")),
	    "say \"hi\"\\\n\t\xe4\xbd\xa0\xe5\xa5\xbd \xef\xbf\xbd");
	ck_assert_str_eq(json_string_value(json_object_get(err, "type")),
	    "invalid_request_error");
	ck_assert_str_eq(json_string_value(json_object_get(err, "param")),
	    "p\\q");
	ck_assert_str_eq(json_string_value(json_object_get(err, "code")),
	    "c\"d");
	json_decref(root);
	buf_free(&b);
}
END_TEST

/* Every mapped error serializes to JSON with the four members. */
START_TEST(check_api_error_json_mapped)
{
	struct api_error	 e;
	struct buf		 b = BUF_INIT;
	json_t			*root, *err;

	check_api_error_map(&e, 401, "unauthorized", "Access token is invalid");
	api_error_json(&e, &b);
	ck_assert_str_eq(buf_cstr(&b), "{\"error\":{\"message\":\"Access token "
	    "is invalid\",\"type\":\"authentication_error\",\"param\":null,"
	    "\"code\":\"invalid_api_key\"}}");
	buf_reset(&b);
	check_api_error_map(&e, 500, NULL, "x\"y");
	api_error_json(&e, &b);
	root = json_loadb(b.data, b.len, 0, NULL);
	ck_assert_ptr_nonnull(root);
	err = json_object_get(root, "error");
	ck_assert(json_is_null(json_object_get(err, "param")));
	ck_assert(json_is_null(json_object_get(err, "code")));
	ck_assert_str_eq(json_string_value(json_object_get(err, "message")),
	    CHECK_API_ERROR_PREFIX "x\"y");
	json_decref(root);
	buf_free(&b);
}
END_TEST

/* The api_error suite. */
Suite *
api_error_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("api_error");
	tc = tcase_create("table");
	tcase_add_test(tc, check_api_error_row_invalid_param);
	tcase_add_test(tc, check_api_error_row_unauthorized);
	tcase_add_test(tc, check_api_error_row_forbidden);
	tcase_add_test(tc, check_api_error_row_not_found);
	tcase_add_test(tc, check_api_error_row_quota);
	tcase_add_test(tc, check_api_error_row_too_many_requests);
	tcase_add_test(tc, check_api_error_row_rate_limit_error);
	tcase_add_test(tc, check_api_error_row_internal);
	tcase_add_test(tc, check_api_error_row_503);
	tcase_add_test(tc, check_api_error_row_other_4xx);
	tcase_add_test(tc, check_api_error_row_no_status);
	tcase_add_test(tc, check_api_error_code_chars);
	suite_add_tcase(s, tc);

	tc = tcase_create("message");
	tcase_add_test(tc, check_api_error_pydantic);
	tcase_add_test(tc, check_api_error_pydantic_nested);
	tcase_add_test(tc, check_api_error_5xx_first_line);
	tcase_add_test(tc, check_api_error_traceback);
	tcase_add_test(tc, check_api_error_controls);
	tcase_add_test(tc, check_api_error_cut_utf8);
	tcase_add_test(tc, check_api_error_sanitize_small);
	tcase_add_test(tc, check_api_error_empty_message);
	suite_add_tcase(s, tc);

	tc = tcase_create("body");
	tcase_add_test(tc, check_api_error_body_401);
	tcase_add_test(tc, check_api_error_body_404);
	tcase_add_test(tc, check_api_error_body_others);
	tcase_add_test(tc, check_api_error_body_not_json);
	tcase_add_test(tc, check_api_error_body_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("upstream_and_json");
	tcase_add_test(tc, check_api_error_upstream_kinds);
	tcase_add_test(tc, check_api_error_set_fields);
	tcase_add_test(tc, check_api_error_json_nulls);
	tcase_add_test(tc, check_api_error_json_full);
	tcase_add_test(tc, check_api_error_json_escaping);
	tcase_add_test(tc, check_api_error_json_mapped);
	suite_add_tcase(s, tc);
	return (s);
}
