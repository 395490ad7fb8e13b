/*
 * check_app_cache: what Dify said about each key, kept for a while.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "app_cache.h"
#include "check_suites.h"
#include "siphash.h"

/* An entry is found by its key until it expires, and not after. */
START_TEST(check_app_cache_expiry)
{
	struct app_cache	*c = app_cache_new(4);
	struct app_cache_entry	*e;

	ck_assert_ptr_null(app_cache_get(c, "k1", 1000));
	ck_assert_ptr_nonnull(e = app_cache_put(c, "k1", 1000, 60));
	app_cache_set_name(e, "App One");
	e->mode = DIFY_APP_WORKFLOW;
	ck_assert_ptr_eq(app_cache_get(c, "k1", 1000 + 59999), e);
	ck_assert_str_eq(e->name, "App One");
	ck_assert_ptr_null(app_cache_get(c, "k1", 1000 + 60000));
	ck_assert_ptr_null(app_cache_get(c, "k2", 1000));
	/* A put keeps what the entry knows and extends it. */
	ck_assert_ptr_eq(app_cache_put(c, "k1", 50000, 60), e);
	ck_assert_int_eq(e->mode, DIFY_APP_WORKFLOW);
	ck_assert_ptr_eq(app_cache_get(c, "k1", 50000 + 59999), e);
	/* TTL 0: caching is off. */
	ck_assert_ptr_null(app_cache_put(c, "k3", 1000, 0));
	app_cache_free(c);
}
END_TEST

/* A full cache gives the slot that expires first to a new key. */
START_TEST(check_app_cache_eviction)
{
	struct app_cache	*c = app_cache_new(2);
	struct app_cache_entry	*a, *b, *n;

	a = app_cache_put(c, "a", 0, 10);
	app_cache_set_name(a, "A");
	b = app_cache_put(c, "b", 0, 20);
	n = app_cache_put(c, "c", 0, 30);
	ck_assert_ptr_eq(n, a);
	ck_assert_ptr_null(n->name);
	ck_assert_int_eq(n->mode, DIFY_APP_UNKNOWN);
	ck_assert_ptr_null(app_cache_get(c, "a", 1));
	ck_assert_ptr_eq(app_cache_get(c, "b", 1), b);
	ck_assert_ptr_eq(app_cache_get(c, "c", 1), n);
	app_cache_free(c);
}
END_TEST

/* The form's input: a name, or known to be none; too long is none. */
START_TEST(check_app_cache_input)
{
	struct app_cache	*c = app_cache_new(1);
	struct app_cache_entry	*e = app_cache_put(c, "k", 0, 10);
	char			 big[APP_CACHE_MAX_VAR + 1];

	ck_assert_int_eq(e->have_input, 0);
	app_cache_set_input(e, DIFY_APP_WORKFLOW, "input_text");
	ck_assert_int_eq(e->input_mode, DIFY_APP_WORKFLOW);
	ck_assert_int_eq(e->have_input, 1);
	ck_assert_str_eq(e->input_var, "input_text");
	app_cache_set_input(e, DIFY_APP_COMPLETION, NULL);
	ck_assert_int_eq(e->have_input, 1);
	ck_assert_str_eq(e->input_var, "");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	app_cache_set_input(e, DIFY_APP_COMPLETION, big);
	ck_assert_str_eq(e->input_var, "");
	/* The key itself is not in the entry. */
	ck_assert_ptr_null(memmem(e, sizeof(*e), "k", 2));
	app_cache_free(c);
}
END_TEST

/* SipHash-2-4-128 gives the reference implementation's vectors. */
START_TEST(check_app_cache_siphash_vectors)
{
	static const struct {
		size_t		 len;
		const char	*hex;
	} want[] = {
		{ 0, "a3817f04ba25a8e66df67214c7550293" },
		{ 1, "da87c1d86b99af44347659119b22fc45" },
		{ 7, "a1f1ebbed8dbc153c0b84aa61ff08239" },
		{ 8, "3b62a9ba6258f5610f83e264f31497b4" },
		{ 15, "5493e99933b0a8117e08ec0f97cfc3d9" },
		{ 63, "5150d1772f50834a503e069a973fbd7c" },
	};
	unsigned char	key[SIPHASH_KEY_LEN], msg[64], out[SIPHASH_OUT_LEN];
	char		hex[2 * SIPHASH_OUT_LEN + 1];
	size_t		i, j;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		siphash128(key, msg, want[i].len, out);
		for (j = 0; j < sizeof(out); j++)
			snprintf(hex + 2 * j, 3, "%02x", out[j]);
		ck_assert_str_eq(hex, want[i].hex);
	}
}
END_TEST

/*
 * The streaming form gives the one-shot result however the bytes are
 * split (every split of 0..63 bytes into three pieces), and a result
 * taken midway leaves the stream as it was.
 */
START_TEST(check_app_cache_siphash_streaming)
{
	unsigned char		 key[SIPHASH_KEY_LEN], msg[64];
	unsigned char		 one[SIPHASH_OUT_LEN], got[SIPHASH_OUT_LEN];
	unsigned char		 mid[SIPHASH_OUT_LEN];
	struct siphash_state	 st;
	size_t			 i, len, a, b;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(0xa5 ^ i);
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 37 + 1);
	for (len = 0; len < sizeof(msg); len++)
	for (a = 0; a <= len; a++)
	for (b = a; b <= len; b++) {
		siphash128(key, msg, len, one);
		siphash128_init(&st, key);
		siphash128_update(&st, msg, a);
		siphash128_final(&st, mid);
		siphash128(key, msg, a, got);
		ck_assert_msg(memcmp(mid, got, sizeof(got)) == 0,
		    "prefix %zu: a midway result differs", a);
		siphash128_update(&st, msg + a, b - a);
		siphash128_update(&st, msg + b, len - b);
		siphash128_final(&st, got);
		ck_assert_msg(memcmp(one, got, sizeof(got)) == 0,
		    "%zu bytes split at %zu and %zu: differs", len, a, b);
	}
}
END_TEST

Suite *
app_cache_suite(void)
{
	Suite	*s = suite_create("app_cache");
	TCase	*tc = tcase_create("cache");

	tcase_add_test(tc, check_app_cache_expiry);
	tcase_add_test(tc, check_app_cache_eviction);
	tcase_add_test(tc, check_app_cache_input);
	tcase_add_test(tc, check_app_cache_siphash_vectors);
	tcase_add_test(tc, check_app_cache_siphash_streaming);
	suite_add_tcase(s, tc);
	return (s);
}
