/*
 * check_metrics: the shared slots, their sums, and the Prometheus text.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check_suites.h"
#include "metrics.h"

static pid_t	check_metrics_dead;	/* the pid the fake test calls dead */

/* metrics_alive_fn: every pid but check_metrics_dead is alive. */
static int
check_metrics_alive(pid_t pid)
{
	return (pid != check_metrics_dead);
}

static const struct metrics_info check_metrics_info = {
	"9.9", "2.1.12-stable", "OpenSSL 3"
};

/* Render m into a NUL-terminated string (malloc'd). */
static char *
check_metrics_text(struct metrics *m)
{
	struct buf	b = BUF_INIT;
	char		*s;

	metrics_render(m, &check_metrics_info, &b);
	s = strdup(buf_cstr(&b));
	buf_free(&b);
	return (s);
}

/* Bucket i holds values up to and including its bound. */
START_TEST(check_metrics_bucket_math)
{
	ck_assert_int_eq(metrics_bucket(0), 0);
	ck_assert_int_eq(metrics_bucket(1000), 0);
	ck_assert_int_eq(metrics_bucket(1001), 1);
	ck_assert_int_eq(metrics_bucket(300000000), METRICS_NBUCKETS - 1);
	ck_assert_int_eq(metrics_bucket(300000001), METRICS_NBUCKETS);
	ck_assert(metrics_bucket_bound(METRICS_NBUCKETS) == UINT64_MAX);
	ck_assert_int_eq(metrics_end_parse("complete"), METRICS_END_COMPLETE);
	ck_assert_int_eq(metrics_end_parse("some_dify_code"),
	    METRICS_END_ERROR);
	ck_assert_int_eq(metrics_end_parse(NULL), METRICS_END_UNKNOWN);
	ck_assert_int_eq(metrics_end_parse("proxy_overloaded"),
	    METRICS_END_OVERLOADED);
}
END_TEST

/* Two slots sum; histograms are cumulative with +Inf equal to _count. */
START_TEST(check_metrics_sums_and_format)
{
	static const char *const	 names[] = { "a\"b\\c", "two" };
	struct metrics			*m;
	struct metrics_slot		*s1, *s2;
	char				*t;

	m = metrics_new(4, names, 2);
	ck_assert_ptr_nonnull(m);
	metrics_set_alive(m, check_metrics_alive);
	s1 = metrics_claim(m, 101, names, 2);
	s2 = metrics_claim(m, 102, names, 2);
	ck_assert_ptr_nonnull(s1);
	ck_assert_ptr_nonnull(s2);
	metrics_request(s1, METRICS_ROUTE_CHAT, 0, 200, METRICS_END_COMPLETE,
	    500);
	metrics_request(s2, METRICS_ROUTE_CHAT, 0, 200, METRICS_END_COMPLETE,
	    2000000);
	metrics_request(s2, METRICS_ROUTE_CHAT, METRICS_APP_PASSTHROUGH, 502,
	    METRICS_END_UPSTREAM_UNREACHABLE, 10);
	metrics_tokens(s1, 1, 3, 4);
	metrics_tokens(s2, 1, 5, 6);
	metrics_streams(s1, 1);
	metrics_streams(s2, 2);
	metrics_rate_limited(s1, 0, METRICS_LIMIT_STREAMS);
	metrics_redis(s1, METRICS_REDIS_CONVERSATIONS, 1);
	metrics_redis(s2, METRICS_REDIS_CONVERSATIONS, 0);
	metrics_request(NULL, METRICS_ROUTE_CHAT, 0, 200, 0, 0);  /* no-op */
	t = check_metrics_text(m);
	ck_assert_msg(strstr(t, "odp_requests_total{route=\"chat\",app="
	    "\"a\\\"b\\\\c\",status=\"200\",end=\"complete\"} 2\n") != NULL,
	    "%s", t);
	ck_assert(strstr(t, "odp_requests_total{route=\"chat\",app="
	    "\"passthrough\",status=\"502\",end=\"upstream_unreachable\"} 1\n")
	    != NULL);
	ck_assert(strstr(t, "# TYPE odp_request_duration_seconds histogram\n")
	    != NULL);
	ck_assert(strstr(t, "odp_request_duration_seconds_bucket{route=\"chat\","
	    "app=\"a\\\"b\\\\c\",le=\"0.001000\"} 1\n") != NULL);
	ck_assert(strstr(t, "odp_request_duration_seconds_bucket{route=\"chat\","
	    "app=\"a\\\"b\\\\c\",le=\"2.500000\"} 2\n") != NULL);
	ck_assert(strstr(t, "odp_request_duration_seconds_bucket{route=\"chat\","
	    "app=\"a\\\"b\\\\c\",le=\"+Inf\"} 2\n") != NULL);
	ck_assert(strstr(t, "odp_request_duration_seconds_sum{route=\"chat\","
	    "app=\"a\\\"b\\\\c\"} 2.000500\n") != NULL);
	ck_assert(strstr(t, "odp_request_duration_seconds_count{route=\"chat\","
	    "app=\"a\\\"b\\\\c\"} 2\n") != NULL);
	ck_assert(strstr(t, "odp_tokens_total{app=\"two\",direction=\"prompt\"}"
	    " 8\n") != NULL);
	ck_assert(strstr(t, "odp_tokens_total{app=\"two\",direction="
	    "\"completion\"} 10\n") != NULL);
	ck_assert(strstr(t, "odp_open_streams 3\n") != NULL);
	ck_assert(strstr(t, "odp_rate_limited_total{app=\"a\\\"b\\\\c\","
	    "limit=\"streams\"} 1\n") != NULL);
	ck_assert(strstr(t, "odp_redis_up{use=\"conversations\"} 0\n") != NULL);
	ck_assert(strstr(t, "odp_build_info{version=\"9.9\",libevent="
	    "\"2.1.12-stable\",openssl=\"OpenSSL 3\"} 1\n") != NULL);
	free(t);
	metrics_release(s1);
	metrics_release(s2);
	metrics_free(m);
}
END_TEST

/*
 * A dead worker's slot is reclaimed: its counters stay (sums stay
 * monotonic), its gauges go at once, and an app the mapping does not
 * know counts as "other".
 */
START_TEST(check_metrics_reclaim)
{
	static const char *const	 names[] = { "one" };
	static const char *const	 later[] = { "new", "one" };
	struct metrics			*m;
	struct metrics_slot		*s1, *s2, *s3;
	char				*t;

	m = metrics_new(1, names, 1);
	metrics_set_alive(m, check_metrics_alive);
	s1 = metrics_claim(m, 201, names, 1);
	ck_assert_ptr_nonnull(s1);
	ck_assert_ptr_null(metrics_claim(m, 202, names, 1));	/* full */
	metrics_request(s1, METRICS_ROUTE_HEALTH, METRICS_APP_NONE, 200,
	    METRICS_END_LOCAL, 0);
	metrics_streams(s1, 4);
	metrics_upstream_conns(s1, 2, 1);
	/* 201 dies without releasing. */
	check_metrics_dead = 201;
	t = check_metrics_text(m);
	ck_assert(strstr(t, "odp_open_streams 0\n") != NULL);
	ck_assert(strstr(t, "odp_upstream_connections{state=\"idle\"} 0\n") !=
	    NULL);
	free(t);
	s2 = metrics_claim(m, 203, later, 2);
	ck_assert_ptr_nonnull(s2);
	metrics_request(s2, METRICS_ROUTE_HEALTH, METRICS_APP_NONE, 200,
	    METRICS_END_LOCAL, 0);
	metrics_request(s2, METRICS_ROUTE_CHAT, 0, 200, METRICS_END_COMPLETE,
	    0);
	metrics_request(s2, METRICS_ROUTE_CHAT, 1, 200, METRICS_END_COMPLETE,
	    0);
	t = check_metrics_text(m);
	ck_assert_msg(strstr(t, "odp_requests_total{route=\"healthz\",app="
	    "\"none\",status=\"200\",end=\"local\"} 2\n") != NULL, "%s", t);
	ck_assert(strstr(t, "app=\"other\",status=\"200\",end=\"complete\"} 1\n")
	    != NULL);
	ck_assert(strstr(t, "app=\"one\",status=\"200\",end=\"complete\"} 1\n")
	    != NULL);
	ck_assert(strstr(t, "odp_open_streams 0\n") != NULL);
	free(t);
	/* A clean exit frees the slot for the next one. */
	metrics_release(s2);
	s3 = metrics_claim(m, 204, names, 1);
	ck_assert_ptr_nonnull(s3);
	metrics_release(s3);
	/* The dead worker's handle (its memory went with its process). */
	metrics_release(s1);
	metrics_free(m);
}
END_TEST

/* The suite. */
Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("metrics");

	tcase_add_test(tc, check_metrics_bucket_math);
	tcase_add_test(tc, check_metrics_sums_and_format);
	tcase_add_test(tc, check_metrics_reclaim);
	suite_add_tcase(s, tc);
	return (s);
}
