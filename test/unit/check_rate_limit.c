/*
 * check_rate_limit: the proxy's own keys (proxy_keys.c) and the rate
 * limits' arithmetic and shared table (rate_limit.c), without sockets.
 */
#include <sys/wait.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "proxy_keys.h"
#include "rate_limit.h"
#include "check_suites.h"

/* A digest (any 64 hex digits) no test key hashes to. */
#define KEY1_SHA "3b7b4dd6d55edf05f7b7d0a08d3fc5e18b0c20bfb80f9b7b1c6f1c5e50a4fb4d"

/* Parse keys from JSON text; returns the error count. */
static int
ck_keys(struct proxy_keys *ks, const char *text, struct config_errors *e)
{
	json_t	*v = json_loads(text, 0, NULL);
	int	 rc;

	ck_assert_ptr_nonnull(v);
	rc = proxy_keys_parse(ks, v, "t.json", e);
	json_decref(v);
	return (rc);
}

/* A generated key is found by its digest, and nothing else is. */
START_TEST(proxy_keys_generate_find)
{
	struct proxy_keys	 ks = { NULL, 0 };
	struct config_errors	 e = { NULL, 0 };
	char			 key[PROXY_KEY_NEW_SIZE], hex[65], text[512];
	const struct proxy_key	*k;

	ck_assert_int_eq(proxy_keys_generate(key, sizeof(key), hex,
	    sizeof(hex)), 0);
	ck_assert_uint_eq(strlen(key), PROXY_KEY_NEW_SIZE - 1);
	ck_assert_int_eq(strncmp(key, "sk-odp-", 7), 0);
	ck_assert_ptr_null(strpbrk(key, "+/="));
	snprintf(text, sizeof(text), "[{\"name\":\"a\",\"sha256\":\"%s\","
	    "\"models\":[\"m1\"],\"rpm\":5},{\"name\":\"b\",\"sha256\":"
	    "\"%064d\"}]", hex, 0);
	ck_assert_int_eq(ck_keys(&ks, text, &e), 0);
	ck_assert_ptr_nonnull(k = proxy_keys_find(&ks, key, strlen(key)));
	ck_assert_str_eq(k->name, "a");
	ck_assert_uint_eq(k->rpm, 5);
	ck_assert_int_eq(strncmp(k->log_id, hex, PROXY_KEY_LOG_PREFIX), 0);
	ck_assert(proxy_key_allows(k, "m1", 2));
	ck_assert(!proxy_key_allows(k, "m2", 2));
	ck_assert(!proxy_key_allows(k, "m", 1));
	ck_assert(proxy_key_allows(&ks.v[1], "anything", 8));
	/* One byte off, longer, shorter: no key. */
	key[10] ^= 1;
	ck_assert_ptr_null(proxy_keys_find(&ks, key, strlen(key)));
	key[10] ^= 1;
	ck_assert_ptr_null(proxy_keys_find(&ks, key, strlen(key) - 1));
	ck_assert_ptr_null(proxy_keys_find(&ks, "", 0));
	proxy_keys_free(&ks);
	config_errors_free(&e);
}
END_TEST

/* Bad entries are each reported, and nothing is kept. */
START_TEST(proxy_keys_errors)
{
	struct proxy_keys	 ks = { NULL, 0 };
	struct config_errors	 e = { NULL, 0 };

	ck_assert_int_eq(ck_keys(&ks, "[{\"name\":\"a b\",\"sha256\":\"x\","
	    "\"rpm\":-1,\"colour\":1}]", &e), 4);
	ck_assert_uint_eq(ks.n, 0);
	config_errors_free(&e);
	ck_assert_int_eq(ck_keys(&ks, "[{\"name\":\"a\",\"sha256\":\""
	    KEY1_SHA "\"},{\"name\":\"a\",\"sha256\":\"" KEY1_SHA "\"}]",
	    &e), 1);
	ck_assert_ptr_nonnull(strstr(e.v[0], "has the name or the digest"));
	ck_assert_uint_eq(ks.n, 0);
	config_errors_free(&e);
	ck_assert_int_eq(ck_keys(&ks, "{}", &e), 1);
	config_errors_free(&e);
}
END_TEST

/* Keys need apps, may not name unknown ones, and turn passthrough off. */
START_TEST(proxy_keys_config)
{
	struct config		 c;
	struct config_errors	 e = { NULL, 0 };
	const char		*ok = "{\"apps\":[{\"model\":\"m1\",\"key\":"
	    "\"app-x\"}],\"api_keys\":[{\"name\":\"a\",\"sha256\":\""
	    KEY1_SHA "\",\"models\":[\"m1\"]}]}";
	const char		*bad = "{\"api_keys\":[{\"name\":\"a\","
	    "\"sha256\":\"" KEY1_SHA "\",\"models\":[\"m2\"]}],"
	    "\"passthrough\":true}";

	config_defaults(&c);
	ck_assert_int_eq(config_load_text(&c, "t.json", ok, strlen(ok), &e),
	    0);
	ck_assert_int_eq(config_finish(&c, &e), 0);
	ck_assert_uint_eq(c.api_keys.n, 1);
	ck_assert_int_eq(c.passthrough, 0);
	config_free(&c);
	config_defaults(&c);
	ck_assert_int_eq(config_load_text(&c, "t.json", bad, strlen(bad), &e),
	    0);
	ck_assert_int_eq(config_finish(&c, &e), 2);	/* no apps; passthrough */
	config_free(&c);
	config_errors_free(&e);
}
END_TEST

/* The bucket: full at first, refills at rpm a minute, never above. */
START_TEST(rate_limit_bucket_math)
{
	double		t = 0;
	uint64_t	last = 0, reset, retry;
	unsigned	rem;
	int		i;

	for (i = 0; i < 60; i++)
		ck_assert(rate_limit_bucket(&t, &last, 60, 1000, 1, &rem,
		    &reset, &retry));
	ck_assert_uint_eq(rem, 0);
	ck_assert_uint_eq(reset, 60000);
	ck_assert(!rate_limit_bucket(&t, &last, 60, 1000, 1, &rem, &reset,
	    &retry));
	ck_assert_uint_eq(retry, 1000);
	/* 500 ms later: half a token, 500 ms to wait. */
	ck_assert(!rate_limit_bucket(&t, &last, 60, 1500, 1, &rem, &reset,
	    &retry));
	ck_assert_uint_eq(retry, 500);
	ck_assert(rate_limit_bucket(&t, &last, 60, 2000, 1, &rem, &reset,
	    &retry));
	/* An hour later it is full, not fuller. */
	ck_assert(rate_limit_bucket(&t, &last, 60, 3600000, 0, &rem, &reset,
	    &retry));
	ck_assert_uint_eq(rem, 60);
	ck_assert_uint_eq(reset, 0);
}
END_TEST

/* Admission takes from every rule or from none. */
START_TEST(rate_limit_all_or_none)
{
	struct rate_limit		*rl = rate_limit_new(16);
	struct rate_limit_rule		 r[2];
	struct rate_limit_verdict	 v;
	struct rate_limit_lease		 l1, l2, l3;
	int				 slot;

	ck_assert_ptr_nonnull(rl);
	ck_assert_int_ge(slot = rate_limit_claim(rl, getpid()), 0);
	memset(r, 0, sizeof(r));
	snprintf(r[0].id, sizeof(r[0].id), "key:a");
	r[0].rpm = 100;
	snprintf(r[1].id, sizeof(r[1].id), "app:m");
	r[1].max_streams = 2;
	rate_limit_admit(rl, slot, r, 2, 1000, &v, &l1);
	ck_assert(v.allowed);
	ck_assert_uint_eq(v.limit, 100);
	ck_assert_uint_eq(v.remaining, 99);
	rate_limit_admit(rl, slot, r, 2, 1000, &v, &l2);
	ck_assert(v.allowed);
	rate_limit_admit(rl, slot, r, 2, 1000, &v, &l3);
	ck_assert(!v.allowed);
	ck_assert_int_eq(v.kind, RATE_LIMIT_STREAMS);
	ck_assert_int_eq(v.rule, 1);
	/* The refused one took no token from the key. */
	ck_assert_uint_eq(v.remaining, 98);
	ck_assert_uint_eq(rate_limit_streams(rl, "app:m"), 2);
	ck_assert_uint_eq(rate_limit_streams(rl, "key:a"), 2);
	rate_limit_release(rl, &l1);
	rate_limit_release(rl, &l1);	/* a second release gives nothing */
	ck_assert_uint_eq(rate_limit_streams(rl, "app:m"), 1);
	rate_limit_admit(rl, slot, r, 2, 1000, &v, &l3);
	ck_assert(v.allowed);
	rate_limit_release(rl, &l2);
	rate_limit_release(rl, &l3);
	ck_assert_uint_eq(rate_limit_streams(rl, "app:m"), 0);
	rate_limit_free(rl);
}
END_TEST

/* Workers count together; a dead worker's places are freed on reclaim. */
START_TEST(rate_limit_workers_share)
{
	struct rate_limit		*rl = rate_limit_new(16);
	struct rate_limit_rule		 r;
	struct rate_limit_verdict	 v;
	struct rate_limit_lease		 l;
	pid_t				 pid;
	int				 st, slot, i;

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "app:m");
	r.max_streams = 3;
	if ((pid = fork()) == 0) {
		slot = rate_limit_claim(rl, getpid());
		rate_limit_admit(rl, slot, &r, 1, 1, &v, &l);
		rate_limit_admit(rl, slot, &r, 1, 1, &v, &l);
		_exit(v.allowed ? 0 : 1);	/* dies holding two */
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_uint_eq(rate_limit_streams(rl, "app:m"), 2);
	/* Slots are taken in order: the first free one is the dead one's
	 * only after the live ones; claim until it is reclaimed. */
	for (i = 0; i < RATE_LIMIT_WORKERS &&
	    rate_limit_streams(rl, "app:m") != 0; i++)
		rate_limit_claim(rl, 100000 + i);	/* no such pids */
	ck_assert_uint_eq(rate_limit_streams(rl, "app:m"), 0);
	rate_limit_free(rl);
}
END_TEST

/* Reset times are written as OpenAI writes them. */
START_TEST(rate_limit_reset_format)
{
	char	s[32];

	rate_limit_reset_text(20, s, sizeof(s));
	ck_assert_str_eq(s, "20ms");
	rate_limit_reset_text(1000, s, sizeof(s));
	ck_assert_str_eq(s, "1s");
	rate_limit_reset_text(1001, s, sizeof(s));
	ck_assert_str_eq(s, "2s");
	rate_limit_reset_text(360000, s, sizeof(s));
	ck_assert_str_eq(s, "6m0s");
	rate_limit_reset_text(3723000, s, sizeof(s));
	ck_assert_str_eq(s, "1h2m3s");
}
END_TEST

/* The cases. */
Suite *
rate_limit_suite(void)
{
	Suite	*s = suite_create("rate_limit");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, proxy_keys_generate_find);
	tcase_add_test(tc, proxy_keys_errors);
	tcase_add_test(tc, proxy_keys_config);
	tcase_add_test(tc, rate_limit_bucket_math);
	tcase_add_test(tc, rate_limit_all_or_none);
	tcase_add_test(tc, rate_limit_workers_share);
	tcase_add_test(tc, rate_limit_reset_format);
	suite_add_tcase(s, tc);
	return (s);
}
