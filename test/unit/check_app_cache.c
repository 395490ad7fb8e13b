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
 * A SipHash-128 written from the paper apart from siphash.c, a byte at a
 * time, with c rounds per word and d at the end: an oracle for SipHash-
 * 1-3, which has no published vectors; check_app_cache_siphash_reference
 * holds it to the 2-4 vectors first.
 */
static void
reference_siphash128(const unsigned char key[16], const unsigned char *msg,
    size_t len, int c, int d, unsigned char out[16])
{
	uint64_t	k0 = 0, k1 = 0, v[4], m = 0;
	size_t		i;
	int		r, half, b;

#define REF_ROTL(x, n)	(((x) << (n)) | ((x) >> (64 - (n))))
#define REF_ROUND() do {						\
	v[0] += v[1]; v[1] = REF_ROTL(v[1], 13); v[1] ^= v[0];		\
	v[0] = REF_ROTL(v[0], 32);					\
	v[2] += v[3]; v[3] = REF_ROTL(v[3], 16); v[3] ^= v[2];		\
	v[0] += v[3]; v[3] = REF_ROTL(v[3], 21); v[3] ^= v[0];		\
	v[2] += v[1]; v[1] = REF_ROTL(v[1], 17); v[1] ^= v[2];		\
	v[2] = REF_ROTL(v[2], 32);					\
} while (0)
	for (b = 7; b >= 0; b--) {
		k0 = (k0 << 8) | key[b];
		k1 = (k1 << 8) | key[8 + b];
	}
	v[0] = k0 ^ 0x736f6d6570736575ULL;
	v[1] = k1 ^ 0x646f72616e646f6dULL ^ 0xee;
	v[2] = k0 ^ 0x6c7967656e657261ULL;
	v[3] = k1 ^ 0x7465646279746573ULL;
	for (i = 0; i <= len; i++) {
		/* Byte i of the current word; the last word carries len. */
		if (i < len)
			m |= (uint64_t)msg[i] << (8 * (i % 8));
		if (i == len)
			m |= (uint64_t)(len & 0xff) << 56;
		if (i % 8 == 7 || i == len) {
			v[3] ^= m;
			for (r = 0; r < c; r++)
				REF_ROUND();
			v[0] ^= m;
			m = 0;
		}
	}
	v[2] ^= 0xee;
	for (half = 0; half < 2; half++) {
		if (half == 1)
			v[1] ^= 0xdd;
		for (r = 0; r < d; r++)
			REF_ROUND();
		m = v[0] ^ v[1] ^ v[2] ^ v[3];
		for (b = 0; b < 8; b++)
			out[8 * half + b] = (unsigned char)(m >> (8 * b));
	}
#undef REF_ROUND
#undef REF_ROTL
}

/*
 * The oracle gives the 2-4 vectors and the one-shot siphash128 on every
 * length to 200; with 1-3 rounds it gives what a SipHash-1-3 stream
 * gives.  A 1-3 that ran 2-4's rounds anywhere would fail.
 */
START_TEST(check_app_cache_siphash_reference)
{
	unsigned char		 key[SIPHASH_KEY_LEN], msg[200];
	unsigned char		 want[SIPHASH_OUT_LEN], got[SIPHASH_OUT_LEN];
	char			 hex[2 * SIPHASH_OUT_LEN + 1];
	struct siphash_state	 st;
	size_t			 i, len;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	reference_siphash128(key, msg, 63, 2, 4, want);
	for (i = 0; i < sizeof(want); i++)
		snprintf(hex + 2 * i, 3, "%02x", want[i]);
	ck_assert_str_eq(hex, "5150d1772f50834a503e069a973fbd7c");
	for (len = 0; len <= sizeof(msg); len++) {
		reference_siphash128(key, msg, len, 2, 4, want);
		siphash128(key, msg, len, got);
		ck_assert_msg(memcmp(want, got, sizeof(got)) == 0,
		    "2-4, %zu bytes: differs from the reference", len);
		reference_siphash128(key, msg, len, 1, 3, want);
		siphash128_init(&st, key, SIPHASH_1_3);
		siphash128_update(&st, msg, len);
		siphash128_final(&st, got);
		ck_assert_msg(memcmp(want, got, sizeof(got)) == 0,
		    "1-3, %zu bytes: differs from the reference", len);
		reference_siphash128(key, msg, len, 2, 4, want);
		ck_assert_msg(memcmp(want, got, sizeof(got)) != 0,
		    "1-3, %zu bytes: the same as 2-4", len);
	}
}
END_TEST

/*
 * The streaming form gives the one-shot result however the bytes are
 * split (every split of 0..63 bytes into three pieces), and a result
 * taken midway leaves the stream as it was, in both strengths.
 */
/* The one-shot SipHash-128 of the given strength, through the stream. */
static void
siphash_whole(const unsigned char *key, const unsigned char *msg, size_t len,
    enum siphash_rounds rounds, unsigned char *out)
{
	struct siphash_state	st;

	if (rounds == SIPHASH_2_4) {
		siphash128(key, msg, len, out);
		return;
	}
	siphash128_init(&st, key, rounds);
	siphash128_update(&st, msg, len);
	siphash128_final(&st, out);
}

START_TEST(check_app_cache_siphash_streaming)
{
	static const enum siphash_rounds strengths[] = {
		SIPHASH_2_4, SIPHASH_1_3
	};
	unsigned char		 key[SIPHASH_KEY_LEN], msg[64];
	unsigned char		 one[SIPHASH_OUT_LEN], got[SIPHASH_OUT_LEN];
	unsigned char		 mid[SIPHASH_OUT_LEN];
	struct siphash_state	 st;
	size_t			 i, s, len, a, b;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(0xa5 ^ i);
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 37 + 1);
	for (s = 0; s < sizeof(strengths) / sizeof(strengths[0]); s++)
	for (len = 0; len < sizeof(msg); len++)
	for (a = 0; a <= len; a++)
	for (b = a; b <= len; b++) {
		siphash_whole(key, msg, len, strengths[s], one);
		siphash128_init(&st, key, strengths[s]);
		siphash128_update(&st, msg, a);
		siphash128_final(&st, mid);
		siphash_whole(key, msg, a, strengths[s], got);
		ck_assert_msg(memcmp(mid, got, sizeof(got)) == 0,
		    "strength %zu, prefix %zu: a midway result differs", s, a);
		siphash128_update(&st, msg + a, b - a);
		siphash128_update(&st, msg + b, len - b);
		siphash128_final(&st, got);
		ck_assert_msg(memcmp(one, got, sizeof(got)) == 0,
		    "strength %zu, %zu bytes split at %zu and %zu: differs",
		    s, len, a, b);
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
	tcase_add_test(tc, check_app_cache_siphash_reference);
	tcase_add_test(tc, check_app_cache_siphash_streaming);
	suite_add_tcase(s, tc);
	return (s);
}
