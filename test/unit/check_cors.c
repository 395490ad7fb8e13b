/*
 * check_cors: the exact CORS headers, in order, of a response and of a
 * preflight: no Origin, an origin not let in, "*", a listed origin, and
 * a preflight's request-headers list valid, refused, empty or absent.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_suites.h"
#include "config.h"
#include "cors.h"

#define CHECK_CORS_EXPOSE \
	"Access-Control-Expose-Headers: x-request-id, retry-after, " \
	"retry-after-ms, x-should-retry, openai-processing-ms, " \
	"x-dify-conversation-id, x-ratelimit-limit-requests, " \
	"x-ratelimit-remaining-requests, x-ratelimit-reset-requests\n"

/* The request headers a preflight names when the browser's will not do. */
static const char *const	 check_cors_default_names[] = {
	"authorization", "content-type", "accept", "user-agent",
	"x-requested-with", "openai-beta", "openai-organization",
	"openai-project", "x-request-id", "x-stainless-arch",
	"x-stainless-async", "x-stainless-lang", "x-stainless-os",
	"x-stainless-package-version", "x-stainless-retry-count",
	"x-stainless-runtime", "x-stainless-runtime-version",
	"x-stainless-timeout", "x-dify-conversation-id"
};

static char	 check_cors_o_star[] = "*";
static char	 check_cors_o_a[] = "https://a.example";
static char	 check_cors_o_b[] = "http://localhost:3000";
static char	*check_cors_star[] = { check_cors_o_star, NULL };
static char	*check_cors_listed[] = { check_cors_o_a, check_cors_o_b, NULL };
static char	*check_cors_mixed[] = { check_cors_o_a, check_cors_o_star,
	    NULL };
static char	*check_cors_empty[] = { NULL };

/* A config of which only the origin list is read. */
static void
check_cors_config(struct config *c, char **origins)
{
	memset(c, 0, sizeof(*c));
	c->cors_origins = origins;
}

/* check_cors_default_names, comma-separated. */
static const char *
check_cors_default(void)
{
	static char	text[1024];
	size_t		i, off = 0;

	text[0] = '\0';
	for (i = 0; i < sizeof(check_cors_default_names) /
	    sizeof(check_cors_default_names[0]); i++)
		off += snprintf(text + off, sizeof(text) - off, "%s%s",
		    i > 0 ? ", " : "", check_cors_default_names[i]);
	ck_assert_uint_lt(off, sizeof(text));
	return (text);
}

/* The headers a preflight must add, naming allow_headers, as text. */
static const char *
check_cors_preflight_want(const char *allow_headers)
{
	static char	text[4096];

	snprintf(text, sizeof(text),
	    "Access-Control-Allow-Methods: GET, POST, OPTIONS\n"
	    "Access-Control-Allow-Headers: %s\n"
	    "Access-Control-Max-Age: 86400\n"
	    "Vary: Origin, Access-Control-Request-Headers\n", allow_headers);
	return (text);
}

/* The headers as "Name: value\n" lines, in order. */
static const char *
check_cors_text(const struct cors_headers *h)
{
	static char	text[8192];
	size_t		i, off = 0;

	ck_assert_uint_le(h->n, CORS_MAX_HEADERS);
	text[0] = '\0';
	for (i = 0; i < h->n; i++)
		off += snprintf(text + off, sizeof(text) - off, "%s: %s\n",
		    h->v[i].name, h->v[i].value);
	ck_assert_uint_lt(off, sizeof(text));
	return (text);
}

/* The response headers for origin under origins, as text. */
static const char *
check_cors_response(char **origins, const char *origin)
{
	struct config		c;
	struct cors_headers	h;

	check_cors_config(&c, origins);
	memset(&h, 0x5a, sizeof(h));
	cors_response(&h, &c, origin);
	return (check_cors_text(&h));
}

/* The preflight's added headers for origin and want, as text. */
static const char *
check_cors_preflight(char **origins, const char *origin, const char *want)
{
	struct config		c;
	struct cors_headers	h;

	check_cors_config(&c, origins);
	memset(&h, 0x5a, sizeof(h));
	cors_preflight(&h, &c, origin, want);
	return (check_cors_text(&h));
}

/* No Origin, or one not let in: no CORS header on a response. */
START_TEST(check_cors_response_not_allowed)
{
	ck_assert_str_eq(check_cors_response(check_cors_star, NULL), "");
	ck_assert_str_eq(check_cors_response(check_cors_listed, NULL), "");
	ck_assert_str_eq(check_cors_response(check_cors_listed,
	    "https://evil.example"), "");
	ck_assert_str_eq(check_cors_response(check_cors_listed,
	    "https://a.example/"), "");
	ck_assert_str_eq(check_cors_response(check_cors_listed,
	    "http://a.example"), "");
	ck_assert_str_eq(check_cors_response(check_cors_listed,
	    "HTTPS://A.EXAMPLE"), "");
	ck_assert_str_eq(check_cors_response(check_cors_listed, ""), "");
	ck_assert_str_eq(check_cors_response(check_cors_listed, "*"), "");
	ck_assert_str_eq(check_cors_response(check_cors_empty,
	    "https://a.example"), "");
	ck_assert_str_eq(check_cors_response(NULL, "https://a.example"), "");
}
END_TEST

/* "*" lets every origin in and answers "*", without Vary. */
START_TEST(check_cors_response_star)
{
	static const char	want[] = "Access-Control-Allow-Origin: *\n"
	    CHECK_CORS_EXPOSE;

	ck_assert_str_eq(check_cors_response(check_cors_star,
	    "https://anything.example"), want);
	ck_assert_str_eq(check_cors_response(check_cors_star, "null"), want);
	ck_assert_str_eq(check_cors_response(check_cors_star, ""), want);
	/* "*" anywhere in the list wins over the origin named before it. */
	ck_assert_str_eq(check_cors_response(check_cors_mixed,
	    "https://a.example"), want);
	ck_assert_str_eq(check_cors_response(check_cors_mixed,
	    "https://other.example"), want);
}
END_TEST

/* A listed origin is named back, with Vary: Origin. */
START_TEST(check_cors_response_listed)
{
	struct config		c;
	struct cors_headers	h;
	const char		*origin = "http://localhost:3000";

	ck_assert_str_eq(check_cors_response(check_cors_listed,
	    "https://a.example"),
	    "Access-Control-Allow-Origin: https://a.example\n"
	    "Vary: Origin\n" CHECK_CORS_EXPOSE);
	ck_assert_str_eq(check_cors_response(check_cors_listed, origin),
	    "Access-Control-Allow-Origin: http://localhost:3000\n"
	    "Vary: Origin\n" CHECK_CORS_EXPOSE);

	/* The value is the request's own string, not a copy. */
	check_cors_config(&c, check_cors_listed);
	cors_response(&h, &c, origin);
	ck_assert_uint_eq(h.n, 3);
	ck_assert_ptr_eq(h.v[0].value, origin);
}
END_TEST

/* A preflight from an origin not let in gets nothing more. */
START_TEST(check_cors_preflight_not_allowed)
{
	ck_assert_str_eq(check_cors_preflight(check_cors_listed, NULL, NULL),
	    "");
	ck_assert_str_eq(check_cors_preflight(check_cors_listed, NULL,
	    "authorization"), "");
	ck_assert_str_eq(check_cors_preflight(check_cors_star, NULL,
	    "authorization"), "");
	ck_assert_str_eq(check_cors_preflight(check_cors_listed,
	    "https://evil.example", "authorization"), "");
	ck_assert_str_eq(check_cors_preflight(check_cors_empty,
	    "https://a.example", NULL), "");
}
END_TEST

/* Without a request-headers list the preflight names ours. */
START_TEST(check_cors_preflight_default_headers)
{
	const char	*want = check_cors_preflight_want(check_cors_default());

	ck_assert_str_eq(check_cors_preflight(check_cors_star,
	    "https://anything.example", NULL), want);
	ck_assert_str_eq(check_cors_preflight(check_cors_listed,
	    "https://a.example", NULL), want);
}
END_TEST

/* A plain list of header names is echoed as it came. */
START_TEST(check_cors_preflight_echoes_list)
{
	struct config		 c;
	struct cors_headers	 h;
	const char		*want = "authorization, content-type";

	ck_assert_str_eq(check_cors_preflight(check_cors_listed,
	    "https://a.example", "authorization, content-type"),
	    check_cors_preflight_want("authorization, content-type"));
	ck_assert_str_eq(check_cors_preflight(check_cors_star, "null",
	    "X-Custom_Header,Another-1,x-stainless-os"),
	    check_cors_preflight_want("X-Custom_Header,Another-1,x-stainless-os"));
	/* An empty list is a list: echoed, empty. */
	ck_assert_str_eq(check_cors_preflight(check_cors_star, "null", ""),
	    check_cors_preflight_want(""));
	ck_assert_str_eq(check_cors_preflight(check_cors_star, "null",
	    " , ,"), check_cors_preflight_want(" , ,"));

	check_cors_config(&c, check_cors_star);
	cors_preflight(&h, &c, "null", want);
	ck_assert_uint_eq(h.n, 4);
	ck_assert_ptr_eq(h.v[1].value, want);
}
END_TEST

/* A list with any other character gets ours instead. */
START_TEST(check_cors_preflight_refuses_list)
{
	static const char *const	 bad[] = {
		"x-weird$hdr", "authorization;content-type", "a:b",
		"a\tb", "a\r\nb", "a.b", "a/b", "a*", "*", "caf\303\251",
		"a\"b"
	};
	const char			*want;
	size_t				 i;

	want = check_cors_preflight_want(check_cors_default());

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(strcmp(check_cors_preflight(check_cors_star,
		    "null", bad[i]), want) == 0, "list \"%s\" was echoed",
		    bad[i]);
}
END_TEST

/* Up to 2049 characters are echoed; 2050 get ours. */
START_TEST(check_cors_preflight_list_length)
{
	static char		list[2051];
	struct config		c;
	struct cors_headers	h;

	check_cors_config(&c, check_cors_star);
	memset(list, 'a', 2049);
	list[2049] = '\0';
	cors_preflight(&h, &c, "null", list);
	ck_assert_uint_eq(h.n, 4);
	ck_assert_str_eq(h.v[1].name, "Access-Control-Allow-Headers");
	ck_assert_ptr_eq(h.v[1].value, list);

	list[2049] = 'a';
	list[2050] = '\0';
	cors_preflight(&h, &c, "null", list);
	ck_assert_uint_eq(h.n, 4);
	ck_assert_str_eq(h.v[1].value, check_cors_default());
}
END_TEST

/* The suite. */
Suite *
cors_suite(void)
{
	Suite	*s = suite_create("cors");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, check_cors_response_not_allowed);
	tcase_add_test(tc, check_cors_response_star);
	tcase_add_test(tc, check_cors_response_listed);
	tcase_add_test(tc, check_cors_preflight_not_allowed);
	tcase_add_test(tc, check_cors_preflight_default_headers);
	tcase_add_test(tc, check_cors_preflight_echoes_list);
	tcase_add_test(tc, check_cors_preflight_refuses_list);
	tcase_add_test(tc, check_cors_preflight_list_length);
	suite_add_tcase(s, tc);
	return (s);
}
