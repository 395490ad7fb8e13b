/*
 * it_limits: the proxy's own keys and its rate limits, through the real
 * proxy and the Dify look-alike.
 *
 * Keys are made by the proxy itself (-k), so the digest in the config is
 * the one it prints.  Limits are checked with several workers (the
 * counts are the instance's, not a worker's) and with two instances
 * sharing a real redis-server (the counts are the cluster's), then with
 * Redis gone (each instance counts on its own).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "it_suites.h"

static struct proc	lm_mock, lm_proxy, lm_proxy2, lm_redis;

/* A key made by the proxy: the secret and its digest. */
struct lm_key {
	char	key[128];
	char	sha256[80];
};

/* Ask the proxy for a new key (-k), as an operator would. */
static void
lm_new_key(struct lm_key *k)
{
	char	cmd[512], line[512];
	FILE	*f;

	memset(k, 0, sizeof(*k));
	snprintf(cmd, sizeof(cmd), "%s/openai-dify-proxy -k someone",
	    harness_build);
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "key: %127s", k->key);
		sscanf(line, "sha256: %79s", k->sha256);
	}
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_int_eq(strncmp(k->key, "sk-odp-", 7), 0);
	ck_assert_uint_eq(strlen(k->sha256), 64);
}

/* One look-alike; each case starts its own proxies. */
static void
lm_setup(void)
{
	harness_mock_start(&lm_mock, NULL);
	memset(&lm_proxy, 0, sizeof(lm_proxy));
	memset(&lm_proxy2, 0, sizeof(lm_proxy2));
	memset(&lm_redis, 0, sizeof(lm_redis));
}

/* Stop everything; each must exit cleanly with no sanitizer report. */
static void
lm_teardown(void)
{
	int	rc = harness_proc_stop(&lm_proxy);
	int	rc2 = harness_proc_stop(&lm_proxy2);
	int	mrc = harness_proc_stop(&lm_mock);

	harness_proc_stop(&lm_redis);
	ck_assert_msg(rc == 0 && rc2 == 0, "proxy did not shut down cleanly");
	ck_assert_msg(mrc == 0, "look-alike did not shut down cleanly");
}

/* Send one chat to port as key, for model, with text; r is filled in. */
static void
lm_chat(int port, const char *key, const char *model, int stream,
    const char *text, struct http_response *r)
{
	json_t	*body;
	char	*s, hdrs[512];

	body = json_pack("{s:s,s:[{s:s,s:s}],s:b}", "model", model,
	    "messages", "role", "user", "content", text, "stream", stream);
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	hdrs[0] = '\0';
	if (key != NULL)
		snprintf(hdrs, sizeof(hdrs), "Authorization: Bearer %s\r\n",
		    key);
	ck_assert_int_eq(http_request(port, "POST", "/v1/chat/completions",
	    hdrs, s, r, 15000), 0);
	free(s);
}

/* The status of one chat (the response is freed). */
static int
lm_status(int port, const char *key, const char *model)
{
	struct http_response	r;
	int			status;

	lm_chat(port, key, model, 0, "hello", &r);
	status = r.status;
	http_response_free(&r);
	return (status);
}

/* The error code of a response's body ("" if none). */
static void
lm_error_code(const struct http_response *r, char *out, size_t size)
{
	json_t		*j = json_loads(r->body, 0, NULL);
	const char	*code = NULL;

	json_unpack(j, "{s:{s?s}}", "error", "code", &code);
	snprintf(out, size, "%s", code != NULL ? code : "");
	json_decref(j);
}

/*
 * With api_keys: a listed key may use its models only, and the Dify key
 * comes from the apps config; no key, a wrong key and a raw Dify key
 * are refused; /v1/models lists a key's models; the log names a key by
 * its digest's prefix, never the key.
 */
START_TEST(it_limits_keys)
{
	struct lm_key		 alice, bob;
	struct http_response	 r;
	char			 extra[1024], code[64], want[32];
	json_t			*j;

	lm_new_key(&alice);
	lm_new_key(&bob);
	snprintf(extra, sizeof(extra), "\"apps\": [{\"model\": \"support\", "
	    "\"key\": \"app-chat\"}, {\"model\": \"writer\", \"key\": "
	    "\"app-chat\"}], \"api_keys\": [{\"name\": \"alice\", "
	    "\"sha256\": \"%s\", \"models\": [\"support\"]}, {\"name\": "
	    "\"bob\", \"sha256\": \"%s\"}]", alice.sha256, bob.sha256);
	harness_proxy_start(&lm_proxy, lm_mock.port, extra);

	ck_assert_int_eq(lm_status(lm_proxy.port, alice.key, "support"), 200);
	ck_assert_int_eq(lm_status(lm_proxy.port, bob.key, "writer"), 200);

	lm_chat(lm_proxy.port, alice.key, "writer", 0, "hello", &r);
	ck_assert_int_eq(r.status, 404);
	lm_error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "model_not_found");
	http_response_free(&r);

	lm_chat(lm_proxy.port, NULL, "support", 0, "hello", &r);
	ck_assert_int_eq(r.status, 401);
	lm_error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "missing_api_key");
	http_response_free(&r);

	lm_chat(lm_proxy.port, "sk-odp-wrong", "support", 0, "hello", &r);
	ck_assert_int_eq(r.status, 401);
	lm_error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "invalid_api_key");
	ck_assert_ptr_null(strstr(r.body, "sk-odp-wrong"));
	http_response_free(&r);

	/* A Dify key is not a proxy key: no passthrough with api_keys. */
	ck_assert_int_eq(lm_status(lm_proxy.port, "app-chat", "support"), 401);

	snprintf(extra, sizeof(extra), "Authorization: Bearer %s\r\n",
	    alice.key);
	ck_assert_int_eq(http_request(lm_proxy.port, "GET", "/v1/models",
	    extra, NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(j = json_loads(r.body, 0, NULL));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "data")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "data"), 0), "id")), "support");
	json_decref(j);
	http_response_free(&r);
	ck_assert_int_eq(http_request(lm_proxy.port, "GET", "/v1/models",
	    NULL, NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 401);
	http_response_free(&r);

	/* The models answers are counted; the refused keys too. */
	ck_assert_int_eq(http_request(lm_proxy.metrics_port, "GET", "/metrics",
	    NULL, NULL, &r, 5000), 0);
	ck_assert_ptr_nonnull(strstr(r.body, "odp_requests_total{route="
	    "\"models\",app=\"none\",status=\"200\",end=\"local\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "odp_requests_total{route="
	    "\"models\",app=\"none\",status=\"401\",end=\"no_key\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "status=\"401\",end=\""
	    "invalid_api_key\"} 2\n"));
	http_response_free(&r);

	harness_sleep_ms(100);
	snprintf(want, sizeof(want), "key=%.8s", alice.sha256);
	ck_assert_msg(harness_log_contains(&lm_proxy, want),
	    "the access log names the key by %s", want);
	ck_assert(!harness_log_contains(&lm_proxy, alice.key));
	ck_assert(!harness_log_contains(&lm_proxy, bob.key));
}
END_TEST

/*
 * A key's requests a minute over two workers: the bucket's size goes,
 * with x-ratelimit-* headers counting down, then a 429 as OpenAI sends
 * it (Retry-After, retry-after-ms), and after the wait it lets one in.
 */
START_TEST(it_limits_rpm_workers)
{
	struct lm_key		 k;
	struct http_response	 r;
	char			 extra[1024], code[64], *h;
	long			 retry_ms;
	int			 i;

	lm_new_key(&k);
	snprintf(extra, sizeof(extra), "\"workers\": 2, \"apps\": [{"
	    "\"model\": \"support\", \"key\": \"app-chat\"}], \"api_keys\": "
	    "[{\"name\": \"carol\", \"sha256\": \"%s\", \"rpm\": 30}]",
	    k.sha256);
	harness_proxy_start(&lm_proxy, lm_mock.port, extra);
	for (i = 0; i < 30; i++) {
		lm_chat(lm_proxy.port, k.key, "support", i % 2, "hi", &r);
		ck_assert_msg(r.status == 200, "request %d: %d", i, r.status);
		h = http_header(&r, "x-ratelimit-limit-requests");
		ck_assert_str_eq(h, "30");
		free(h);
		h = http_header(&r, "x-ratelimit-remaining-requests");
		ck_assert_ptr_nonnull(h);
		/* Refill may give back one while the loop runs. */
		ck_assert_int_le(atoi(h), 29 - i + 1);
		free(h);
		http_response_free(&r);
	}
	lm_chat(lm_proxy.port, k.key, "support", 0, "hi", &r);
	ck_assert_int_eq(r.status, 429);
	lm_error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "rate_limit_exceeded");
	ck_assert_ptr_nonnull(strstr(r.body, "\"type\":\"requests\""));
	ck_assert_ptr_nonnull(h = http_header(&r, "Retry-After"));
	ck_assert_int_ge(atoi(h), 1);
	ck_assert_int_le(atoi(h), 2);
	free(h);
	ck_assert_ptr_nonnull(h = http_header(&r, "retry-after-ms"));
	retry_ms = atol(h);
	ck_assert_int_gt(retry_ms, 0);
	ck_assert_int_le(retry_ms, 2000);
	free(h);
	ck_assert_ptr_nonnull(h = http_header(&r,
	    "x-ratelimit-remaining-requests"));
	ck_assert_str_eq(h, "0");
	free(h);
	http_response_free(&r);
	harness_sleep_ms(100);	/* the access line follows the response */
	ck_assert(harness_log_contains(&lm_proxy, "end=limit_requests"));

	/* The scrape shows the refusal, under the app's configured name. */
	ck_assert_int_eq(http_request(lm_proxy.metrics_port, "GET", "/metrics",
	    NULL, NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "odp_rate_limited_total{app="
	    "\"support\",limit=\"requests\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "odp_rate_limited_total{app="
	    "\"support\",limit=\"streams\"} 0\n"));
	http_response_free(&r);

	harness_sleep_ms((int)retry_ms + 50);
	ck_assert_int_eq(lm_status(lm_proxy.port, k.key, "support"), 200);
}
END_TEST

/*
 * An app's requests at once over two workers: two slow streams hold both
 * places, a third is refused, and once they end a new one goes.
 */
START_TEST(it_limits_streams_workers)
{
	struct http_response	 r;
	char			 code[64];
	pid_t			 kids[2];
	int			 i, st;

	harness_proxy_start(&lm_proxy, lm_mock.port, "\"workers\": 2, "
	    "\"apps\": [{\"model\": \"support\", \"key\": \"app-chat\", "
	    "\"max_streams\": 2}]");
	for (i = 0; i < 2; i++) {
		if ((kids[i] = fork()) == 0) {
			lm_chat(lm_proxy.port, NULL, "support", 1,
			    "mock:events=8 mock:interval=200", &r);
			_exit(r.status == 200 && r.complete ? 0 : 1);
		}
	}
	harness_sleep_ms(500);
	lm_chat(lm_proxy.port, NULL, "support", 1, "hi", &r);
	ck_assert_int_eq(r.status, 429);
	lm_error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "rate_limit_exceeded");
	ck_assert_ptr_nonnull(strstr(r.body, "at once"));
	http_response_free(&r);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "slow stream %d failed", i);
	}
	harness_sleep_ms(100);
	ck_assert_int_eq(lm_status(lm_proxy.port, NULL, "support"), 200);
	ck_assert(harness_log_contains(&lm_proxy, "end=limit_streams"));
}
END_TEST

/*
 * Two instances sharing a redis-server count one app's requests
 * together; with Redis gone each counts on its own, and says so.
 */
START_TEST(it_limits_redis_shared)
{
	char	extra[512];
	int	i, ok = 0, refused = 0;

	harness_redis_start(&lm_redis, 0);
	snprintf(extra, sizeof(extra), "\"redis_url\": "
	    "\"redis://127.0.0.1:%d/4\", \"continuity\": false, \"apps\": "
	    "[{\"model\": \"support\", \"key\": \"app-chat\", \"rpm\": 6}]",
	    lm_redis.port);
	harness_proxy_start(&lm_proxy, lm_mock.port, extra);
	harness_proxy_start(&lm_proxy2, lm_mock.port, extra);
	harness_sleep_ms(300);	/* both connect in the background */
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(lm_status(i % 2 ? lm_proxy.port :
		    lm_proxy2.port, NULL, "support"), 200);
	ck_assert_int_eq(lm_status(lm_proxy.port, NULL, "support"), 429);
	ck_assert_int_eq(lm_status(lm_proxy2.port, NULL, "support"), 429);

	/* Redis gone: each instance has its own full bucket of 6. */
	harness_proc_stop(&lm_redis);
	for (i = 0; i < 100 && !harness_log_contains(&lm_proxy,
	    "rate limits count on this instance only"); i++)
		harness_sleep_ms(50);
	ck_assert(harness_log_contains(&lm_proxy,
	    "rate limits count on this instance only"));
	for (i = 0; i < 8; i++) {
		int	s = lm_status(lm_proxy.port, NULL, "support");

		ok += s == 200;
		refused += s == 429;
	}
	ck_assert_int_eq(ok, 6);
	ck_assert_int_eq(refused, 2);
}
END_TEST

/*
 * What never reaches a route is counted too: a request the guard
 * refuses before routing (a header block over max_header_bytes) and a
 * CORS preflight.
 */
START_TEST(it_limits_metrics_refused_and_preflight)
{
	struct http_response	 r;
	char			*big;
	size_t			 n = 3000;

	harness_proxy_start(&lm_proxy, lm_mock.port, "\"max_header_bytes\": "
	    "1024, \"cors_allowed_origins\": [\"*\"]");
	big = malloc(n + 32);
	memcpy(big, "X-Big: ", 7);
	memset(big + 7, 'a', n);
	memcpy(big + 7 + n, "\r\n", 3);
	ck_assert_int_eq(http_request(lm_proxy.port, "GET", "/healthz", big,
	    NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 431);
	http_response_free(&r);
	free(big);
	ck_assert_int_eq(http_request(lm_proxy.port, "OPTIONS",
	    "/v1/chat/completions", "Origin: http://app.example\r\n"
	    "Access-Control-Request-Method: POST\r\n", NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 204);
	http_response_free(&r);
	harness_sleep_ms(100);
	ck_assert_int_eq(http_request(lm_proxy.metrics_port, "GET", "/metrics",
	    NULL, NULL, &r, 5000), 0);
	ck_assert_ptr_nonnull(strstr(r.body, "odp_requests_total{route="
	    "\"refused\",app=\"none\",status=\"431\","));
	ck_assert_ptr_nonnull(strstr(r.body, "odp_requests_total{route="
	    "\"chat\",app=\"none\",status=\"204\",end=\"local\"} 1\n"));
	http_response_free(&r);
}
END_TEST

/* The cases. */
Suite *
it_limits_suite(void)
{
	Suite	*s = suite_create("limits");
	TCase	*tc = tcase_create("limits");

	tcase_add_checked_fixture(tc, lm_setup, lm_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, it_limits_keys);
	tcase_add_test(tc, it_limits_rpm_workers);
	tcase_add_test(tc, it_limits_streams_workers);
	tcase_add_test(tc, it_limits_redis_shared);
	tcase_add_test(tc, it_limits_metrics_refused_and_preflight);
	suite_add_tcase(s, tc);
	return (s);
}
