/*
 * check_http_reply: whole error responses written outside evhttp.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check_suites.h"
#include "http_reply.h"

/* Status line, headers in order, Content-Length that matches the body. */
START_TEST(check_http_reply_is_a_whole_json_response)
{
	struct api_error	 e;
	struct buf		 b = BUF_INIT;
	const char		*body, *head;
	char			*text;
	json_t			*j;
	size_t			 len;

	api_error_set(&e, 400, "invalid_request_error", "bad_request", NULL,
	    "two \"Content-Length\" headers");
	http_reply_error(&b, &e, "req_abc", 784111777);
	text = strndup(b.data, b.len);
	head = "HTTP/1.1 400 Bad Request\r\n"
	    "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: ";
	ck_assert(strncmp(text, head, strlen(head)) == 0);
	ck_assert(strstr(text, "\r\nConnection: close\r\n") != NULL);
	ck_assert(strstr(text, "\r\nX-Request-Id: req_abc\r\n") != NULL);
	ck_assert(strstr(text, "Retry-After") == NULL);
	body = strstr(text, "\r\n\r\n") + 4;
	len = strtoul(strstr(text, "Content-Length: ") + 16, NULL, 10);
	ck_assert_uint_eq(len, strlen(body));
	j = json_loads(body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j,
	    "error"), "message")), "two \"Content-Length\" headers");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j,
	    "error"), "code")), "bad_request");
	json_decref(j);
	free(text);
	buf_free(&b);
}
END_TEST

/* A retry hint becomes Retry-After; each status has its reason phrase. */
START_TEST(check_http_reply_retry_after_and_reasons)
{
	struct api_error	 e;
	struct buf		 b = BUF_INIT;

	api_error_set(&e, 503, "server_error", "overloaded", NULL, "busy");
	e.retry_after = 3;
	http_reply_error(&b, &e, "req_x", 0);
	ck_assert(b.len > 34 &&
	    memcmp(b.data, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
	ck_assert(memmem(b.data, b.len, "\r\nRetry-After: 3\r\n\r\n", 20) !=
	    NULL);
	buf_free(&b);
	ck_assert_str_eq(http_reply_reason(408), "Request Timeout");
	ck_assert_str_eq(http_reply_reason(413), "Content Too Large");
	ck_assert_str_eq(http_reply_reason(414), "URI Too Long");
	ck_assert_str_eq(http_reply_reason(417), "Expectation Failed");
	ck_assert_str_eq(http_reply_reason(431),
	    "Request Header Fields Too Large");
	ck_assert_str_eq(http_reply_reason(501), "Not Implemented");
	ck_assert_str_eq(http_reply_reason(505), "HTTP Version Not Supported");
	ck_assert_str_eq(http_reply_reason(499), "Client Error");
}
END_TEST

/* The suite. */
Suite *
http_reply_suite(void)
{
	Suite	*s = suite_create("http_reply");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, check_http_reply_is_a_whole_json_response);
	tcase_add_test(tc, check_http_reply_retry_after_and_reasons);
	suite_add_tcase(s, tc);
	return (s);
}
