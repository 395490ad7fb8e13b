/*
 * check_url: the Dify base URL: scheme, host, port, base path, and what
 * is refused.
 */
#include <check.h>
#include <string.h>

#include "check_suites.h"
#include "buf.h"
#include "url.h"

/* Parse a URL that must be accepted. */
static void
check_url_ok(const char *s, struct url *u)
{
	char	err[128];

	err[0] = '\0';
	ck_assert_msg(url_parse(s, u, err, sizeof(err)) == 0, "%s refused: %s",
	    s, err);
}

/* Parse a URL that must be refused with a message. */
static void
check_url_bad(const char *s)
{
	struct url	u;
	char		err[128];

	err[0] = '\0';
	ck_assert_msg(url_parse(s, &u, err, sizeof(err)) == -1,
	    "\"%s\" accepted (host \"%s\", port %d, path \"%s\")", s, u.host,
	    u.port, u.path);
	ck_assert_msg(err[0] != '\0', "\"%s\": no message", s);
}

/* https and http with their default ports. */
START_TEST(check_url_defaults)
{
	struct url	u;

	check_url_ok("https://api.dify.ai/v1", &u);
	ck_assert_int_eq(u.tls, 1);
	ck_assert_str_eq(u.host, "api.dify.ai");
	ck_assert_int_eq(u.port, 443);
	ck_assert_int_eq(u.host_is_ip, 0);
	ck_assert_str_eq(u.path, "/v1");

	check_url_ok("http://localhost", &u);
	ck_assert_int_eq(u.tls, 0);
	ck_assert_str_eq(u.host, "localhost");
	ck_assert_int_eq(u.port, 80);
	ck_assert_int_eq(u.host_is_ip, 0);
	ck_assert_str_eq(u.path, "");

	/* The scheme is case-insensitive. */
	check_url_ok("HTTPS://Dify.Example.com/V1", &u);
	ck_assert_int_eq(u.tls, 1);
	ck_assert_int_eq(u.port, 443);
	ck_assert_str_eq(u.path, "/V1");
}
END_TEST

/* An explicit port. */
START_TEST(check_url_port)
{
	struct url	u;

	check_url_ok("http://dify.local:5001/v1", &u);
	ck_assert_int_eq(u.tls, 0);
	ck_assert_str_eq(u.host, "dify.local");
	ck_assert_int_eq(u.port, 5001);
	ck_assert_str_eq(u.path, "/v1");
	check_url_ok("https://h:1", &u);
	ck_assert_int_eq(u.port, 1);
	ck_assert_str_eq(u.path, "");
	check_url_ok("https://h:65535/", &u);
	ck_assert_int_eq(u.port, 65535);
	check_url_ok("https://h:443/v1", &u);
	ck_assert_int_eq(u.port, 443);
	ck_assert_int_eq(u.tls, 1);
}
END_TEST

/* IP literals. */
START_TEST(check_url_ip)
{
	struct url	u;

	check_url_ok("http://[::1]:8080/v1", &u);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_int_eq(u.port, 8080);
	ck_assert_int_eq(u.host_is_ip, 1);
	ck_assert_str_eq(u.path, "/v1");

	check_url_ok("https://[2001:db8::42]/api/v1/", &u);
	ck_assert_str_eq(u.host, "2001:db8::42");
	ck_assert_int_eq(u.port, 443);
	ck_assert_int_eq(u.host_is_ip, 1);
	ck_assert_str_eq(u.path, "/api/v1");

	check_url_ok("http://[::ffff:10.0.0.1]", &u);
	ck_assert_str_eq(u.host, "::ffff:10.0.0.1");
	ck_assert_int_eq(u.host_is_ip, 1);

	check_url_ok("http://127.0.0.1:5001/v1", &u);
	ck_assert_str_eq(u.host, "127.0.0.1");
	ck_assert_int_eq(u.host_is_ip, 1);
	ck_assert_int_eq(u.port, 5001);

	/* Names that look a little like addresses are names. */
	check_url_ok("http://10.0.0.1.nip.io/v1", &u);
	ck_assert_int_eq(u.host_is_ip, 0);
	check_url_ok("http://dify-api_1/v1", &u);
	ck_assert_str_eq(u.host, "dify-api_1");
	ck_assert_int_eq(u.host_is_ip, 0);
}
END_TEST

/* The base path is kept without its trailing slashes. */
START_TEST(check_url_path)
{
	struct url	u;

	check_url_ok("https://api.dify.ai/v1/", &u);
	ck_assert_str_eq(u.path, "/v1");
	check_url_ok("https://api.dify.ai/", &u);
	ck_assert_str_eq(u.path, "");
	check_url_ok("https://example.com/dify/v1//", &u);
	ck_assert_str_eq(u.path, "/dify/v1");
	check_url_ok("http://h:8080/a/b/c", &u);
	ck_assert_str_eq(u.path, "/a/b/c");
	ck_assert_int_eq(u.port, 8080);
}
END_TEST

/* Everything a base URL must not be. */
START_TEST(check_url_refused)
{
	static const char	*bad[] = {
		"api.dify.ai/v1",		/* no scheme */
		"//api.dify.ai/v1",
		"ftp://api.dify.ai/v1",
		"ws://api.dify.ai/v1",
		"https:/api.dify.ai/v1",
		"https://user@api.dify.ai/v1",	/* user info */
		"https://user:pw@api.dify.ai/v1",
		"https://api.dify.ai/v1?x=1",	/* query */
		"https://api.dify.ai/v1#frag",	/* fragment */
		"https://api.dify.ai?x",
		"http://h:0/v1",		/* port */
		"http://h:70000/v1",
		"http://h:65536",
		"http://h:abc/v1",
		"http://h:/v1",
		"http://h:-1/",
		"http://h:80:81/",
		"http:///v1",			/* empty host */
		"https://",
		"http://:8080/v1",
		"http://h /v1",			/* spaces, controls */
		" http://h/v1",
		"http://h/v1 ",
		"http://h/v\t1",
		"http://h/v1\n",
		"http://[::1/v1",		/* IPv6 */
		"http://[zz::1]/v1",
		"http://[]/v1",
		"http://[::1]x/v1",
		"http://[127.0.0.1]/",
		"http://h!/v1",			/* host characters */
		"http://h%41/v1",
		"http://h\xc3\xa9/v1",
		"",
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_url_bad(bad[i]);
}
END_TEST

/* Over-long hosts and paths are refused, not cut. */
START_TEST(check_url_lengths)
{
	struct url	u;
	char		s[1200];

	memcpy(s, "http://", 7);
	memset(s + 7, 'a', 255);
	s[7 + 255] = '\0';
	check_url_ok(s, &u);
	ck_assert_uint_eq(strlen(u.host), 255);
	memset(s + 7, 'a', 256);
	s[7 + 256] = '\0';
	check_url_bad(s);

	memcpy(s, "http://h/", 9);
	memset(s + 9, 'p', 510);
	s[9 + 510] = '\0';
	check_url_ok(s, &u);
	ck_assert_uint_eq(strlen(u.path), 511);
	memset(s + 9, 'p', 600);
	s[9 + 600] = '\0';
	check_url_bad(s);
}
END_TEST

/* A path segment: %XX decoded, '+' and broken escapes kept, NUL refused. */
START_TEST(check_url_decode_segment)
{
	struct buf	b = BUF_INIT;

	ck_assert_int_eq(url_decode_segment("app%20one", &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "app one");
	ck_assert_int_eq(url_decode_segment("a+b%2Fc%e4%B8%AD", &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "a+b/c\xe4\xb8\xad");
	ck_assert_int_eq(url_decode_segment("%zz%4%", &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "%zz%4%");
	ck_assert_int_eq(url_decode_segment("", &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "");
	ck_assert_int_eq(url_decode_segment("a%00b", &b), -1);
	buf_free(&b);
}
END_TEST

/* The url suite. */
/* The origin a relative Dify file url is resolved against. */
START_TEST(check_url_origin)
{
	static const struct {
		const char	*url;
		const char	*origin;
	} cases[] = {
		{ "https://api.dify.ai/v1", "https://api.dify.ai" },
		{ "http://dify.internal/v1", "http://dify.internal" },
		{ "http://10.0.0.9:5001/v1", "http://10.0.0.9:5001" },
		{ "https://h:443/x", "https://h" },
		{ "http://[::1]:8080/v1", "http://[::1]:8080" },
		{ "https://[2001:db8::1]/v1", "https://[2001:db8::1]" },
	};
	struct url	u;
	char		err[128], out[320];
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(url_parse(cases[i].url, &u, err, sizeof(err)),
		    0);
		url_origin(&u, out, sizeof(out));
		ck_assert_str_eq(out, cases[i].origin);
	}
}
END_TEST

Suite *
url_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("url");
	tc = tcase_create("parse");
	tcase_add_test(tc, check_url_defaults);
	tcase_add_test(tc, check_url_port);
	tcase_add_test(tc, check_url_ip);
	tcase_add_test(tc, check_url_path);
	tcase_add_test(tc, check_url_refused);
	tcase_add_test(tc, check_url_lengths);
	tcase_add_test(tc, check_url_decode_segment);
	tcase_add_test(tc, check_url_origin);
	suite_add_tcase(s, tc);
	return (s);
}
