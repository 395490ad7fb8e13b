/*
 * check_http_date: the Date header's value and its once-a-second cache.
 */
#include <string.h>

#include "check_suites.h"
#include "http_date.h"

/* Known instants format as RFC 9110's IMF-fixdate, in English, in UTC. */
START_TEST(check_http_date_known_instants)
{
	char	out[HTTP_DATE_LEN];

	http_date_format(784111777, out);	/* RFC 9110's own example */
	ck_assert_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	http_date_format(0, out);
	ck_assert_str_eq(out, "Thu, 01 Jan 1970 00:00:00 GMT");
	http_date_format(1795495550, out);
	ck_assert_str_eq(out, "Tue, 24 Nov 2026 04:45:50 GMT");
	http_date_format(951782400, out);	/* a leap day */
	ck_assert_str_eq(out, "Tue, 29 Feb 2000 00:00:00 GMT");
	ck_assert_uint_eq(strlen(out), HTTP_DATE_LEN - 1);
}
END_TEST

/* The cache follows the second: same second same text, next second new. */
START_TEST(check_http_date_cache_follows_the_second)
{
	char	copy[HTTP_DATE_LEN];

	memcpy(copy, http_date_for(1795495550), sizeof(copy));
	ck_assert_str_eq(copy, "Tue, 24 Nov 2026 04:45:50 GMT");
	ck_assert_str_eq(http_date_for(1795495550), copy);
	ck_assert_str_eq(http_date_for(1795495551),
	    "Tue, 24 Nov 2026 04:45:51 GMT");
	/* Going back (a clock step) formats again too. */
	ck_assert_str_eq(http_date_for(784111777),
	    "Sun, 06 Nov 1994 08:49:37 GMT");
}
END_TEST

/* Times gmtime cannot put in four digits fall back to the epoch. */
START_TEST(check_http_date_out_of_range)
{
	char	out[HTTP_DATE_LEN];

	http_date_format(INT64_MAX, out);
	ck_assert_str_eq(out, "Thu, 01 Jan 1970 00:00:00 GMT");
	http_date_format(-62167219201LL, out);	/* the year -1 */
	ck_assert_str_eq(out, "Thu, 01 Jan 1970 00:00:00 GMT");
}
END_TEST

/* The suite. */
Suite *
http_date_suite(void)
{
	Suite	*s = suite_create("http_date");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, check_http_date_known_instants);
	tcase_add_test(tc, check_http_date_cache_follows_the_second);
	tcase_add_test(tc, check_http_date_out_of_range);
	suite_add_tcase(s, tc);
	return (s);
}
