/*
 * it_metrics: GET /metrics over real sockets, parsed strictly, against
 * the traffic the test sent.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "it_suites.h"
#include "prom_text.h"

static struct proc	mt_mock;

/* One look-alike for the case. */
static void
mt_setup(void)
{
	harness_mock_start(&mt_mock, NULL);
}

/* Stop the look-alike. */
static void
mt_teardown(void)
{
	ck_assert_int_eq(harness_proc_stop(&mt_mock), 0);
}

/* Scrape port's /metrics and parse it strictly (the test fails if not). */
static void
mt_scrape(int port, struct prom_doc *d)
{
	struct http_response	 r;
	char			 err[256], *ct;

	ck_assert_int_eq(http_request(port, "GET", "/metrics", NULL, NULL, &r,
	    5000), 0);
	ck_assert_int_eq(r.status, 200);
	ct = http_header(&r, "Content-Type");
	ck_assert_ptr_nonnull(ct);
	ck_assert_msg(strstr(ct, "version=0.0.4") != NULL, "type %s", ct);
	free(ct);
	if (prom_parse(r.body, d, err, sizeof(err)) != 0)
		ck_abort_msg("bad exposition: %s\n%s", err, r.body);
	http_response_free(&r);
}

/* Scrape until the series reaches want (exchanges count at their end). */
static double
mt_wait(int port, const char *name, const char *match, double want)
{
	struct prom_doc	d;
	double		v = -1;
	int		i;

	for (i = 0; i < 100; i++) {
		mt_scrape(port, &d);
		v = prom_sum(&d, name, match);
		prom_free(&d);
		if (v >= want)
			break;
		harness_sleep_ms(30);
	}
	return (v);
}

/* Send one chat and check its status. */
static void
mt_chat(int port, const char *model, int stream, int want)
{
	struct http_response	 r;
	char			*body, extra[64];

	snprintf(extra, sizeof(extra), "\"model\":\"%s\"", model);
	body = chat_body("Hello metrics", NULL, stream, 0);
	/* chat_body names gpt-4o: swap in the model asked for. */
	{
		char	*at = strstr(body, "\"model\":\"gpt-4o\""), *nb;

		ck_assert_ptr_nonnull(at);
		ck_assert_int_ge(asprintf(&nb, "%.*s%s%s", (int)(at - body),
		    body, extra, at + strlen("\"model\":\"gpt-4o\"")), 0);
		free(body);
		body = nb;
	}
	ck_assert_int_eq(http_chat(port, NULL, body, &r), 0);
	ck_assert_msg(r.status == want, "status %d: %s", r.status, r.body);
	http_response_free(&r);
	free(body);
}

/*
 * Two workers: known traffic, scraped several times (any worker may
 * answer), must show the same instance-wide counts.
 */
START_TEST(metrics_counts_traffic_over_workers)
{
	struct http_response	 r;
	struct prom_doc		 d;
	struct proc		 p;
	int			 i;

	harness_proxy_start(&p, mt_mock.port, "\"workers\": 2, \"apps\": "
	    "[{\"model\": \"sup\\\"port\", \"key\": \"app-chat\"}]");
	ck_assert_int_gt(p.metrics_port, 0);
	ck_assert_int_ne(p.metrics_port, p.port);
	for (i = 0; i < 3; i++)
		mt_chat(p.port, "sup\\\"port", 0, 200);
	for (i = 0; i < 2; i++)
		mt_chat(p.port, "sup\\\"port", 1, 200);
	mt_chat(p.port, "nope", 0, 404);
	ck_assert_int_eq(http_request(p.port, "GET", "/nope", NULL, NULL, &r,
	    5000), 0);
	ck_assert_int_eq(r.status, 404);
	http_response_free(&r);
	/* The default keeps /metrics off the main port. */
	ck_assert_int_eq(http_request(p.port, "GET", "/metrics", NULL, NULL,
	    &r, 5000), 0);
	ck_assert_int_eq(r.status, 404);
	http_response_free(&r);

	ck_assert_int_eq((int)mt_wait(p.metrics_port, "odp_requests_total",
	    "route=chat,app=sup\"port,status=200,end=complete", 5), 5);
	for (i = 0; i < 6; i++) {
		mt_scrape(p.metrics_port, &d);
		ck_assert_int_eq((int)prom_sum(&d, "odp_requests_total",
		    "route=chat,app=sup\"port,status=200,end=complete"), 5);
		ck_assert_int_eq((int)prom_sum(&d, "odp_requests_total",
		    "route=chat,app=none,status=404,end=model_not_found"), 1);
		/* GET /nope, and /metrics on the main port. */
		ck_assert_int_eq((int)prom_sum(&d, "odp_requests_total",
		    "route=none,status=404,end=unknown_url"), 2);
		ck_assert_int_eq((int)prom_sum(&d,
		    "odp_request_duration_seconds_count",
		    "route=chat,app=sup\"port"), 5);
		ck_assert_int_eq((int)prom_sum(&d,
		    "odp_time_to_first_token_seconds_count", "app=sup\"port"),
		    5);
		ck_assert_int_eq((int)prom_sum(&d, "odp_tokens_total",
		    "app=sup\"port,direction=prompt"), 5 * 17);
		ck_assert_int_eq((int)prom_sum(&d, "odp_open_streams", ""), 0);
		ck_assert_int_eq((int)prom_sum(&d, "odp_upstream_connections",
		    "state=busy"), 0);
		ck_assert_int_ge((int)prom_sum(&d,
		    "odp_upstream_connections_opened_total", ""), 1);
		ck_assert_int_eq((int)prom_sum(&d,
		    "odp_upstream_connect_failures_total", ""), 0);
		ck_assert_int_eq((int)prom_count(&d, "odp_build_info", ""), 1);
		prom_free(&d);
	}
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/* metrics_listen "main": /metrics on the main port, a 401 counted. */
START_TEST(metrics_on_main_port)
{
	struct http_response	 r;
	struct proc		 p;

	harness_proxy_start(&p, mt_mock.port, "\"metrics_listen\": \"main\"");
	ck_assert_int_eq(p.metrics_port, 0);
	ck_assert_int_eq(http_chat(p.port, NULL, "{}", &r), 0);
	ck_assert_int_eq(r.status, 401);
	http_response_free(&r);
	ck_assert_int_eq((int)mt_wait(p.port, "odp_requests_total",
	    "route=chat,status=401,end=no_key", 1), 1);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/* The parser rejects what it must, so the checks above can fail. */
START_TEST(metrics_parser_is_strict)
{
	static const char *const bad[] = {
		"odp_x 1\n",					/* no TYPE */
		"# TYPE odp_x counter\nodp_x{a=\"b} 1\n",	/* quote */
		"# TYPE odp_x counter\nodp_x{a=\"\\t\"} 1\n",	/* escape */
		"# TYPE odp_x counter\nodp_x one\n",
		"# TYPE odp_h histogram\nodp_h_bucket{le=\"1\"} 2\n"
		    "odp_h_bucket{le=\"+Inf\"} 1\nodp_h_sum 1\nodp_h_count 1\n",
		"# TYPE odp_h histogram\nodp_h_bucket{le=\"+Inf\"} 2\n"
		    "odp_h_sum 1\nodp_h_count 3\n",
		"# TYPE odp_x counter\n# TYPE odp_x gauge\nodp_x 1\n",
	};
	struct prom_doc	d;
	char		err[256];
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(prom_parse(bad[i], &d, err, sizeof(err)) == -1,
		    "accepted: %s", bad[i]);
		prom_free(&d);
	}
	ck_assert_int_eq(prom_parse("# HELP odp_h h\n# TYPE odp_h histogram\n"
	    "odp_h_bucket{a=\"x\\\"\",le=\"1\"} 1\n"
	    "odp_h_bucket{a=\"x\\\"\",le=\"+Inf\"} 2\n"
	    "odp_h_sum{a=\"x\\\"\"} 3.5\nodp_h_count{a=\"x\\\"\"} 2\n", &d,
	    err, sizeof(err)), 0);
	ck_assert_int_eq((int)prom_sum(&d, "odp_h_count", "a=x\""), 2);
	prom_free(&d);
}
END_TEST

/* The suite. */
Suite *
it_metrics_suite(void)
{
	Suite	*s = suite_create("it_metrics");
	TCase	*tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, mt_setup, mt_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, metrics_counts_traffic_over_workers);
	tcase_add_test(tc, metrics_on_main_port);
	tcase_add_test(tc, metrics_parser_is_strict);
	suite_add_tcase(s, tc);
	return (s);
}
