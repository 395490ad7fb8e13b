/*
 * check_siphash_lanes: the eight-lane hash against the same thing built
 * from siphash.c alone, on every path, whole and in pieces.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "siphash.h"
#include "siphash_lanes.h"

/* A small deterministic generator for the tests' inputs. */
static uint64_t
check_siphash_lanes_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

/* Fill n bytes at p from the generator. */
static void
check_siphash_lanes_fill(uint64_t *s, unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)check_siphash_lanes_rand(s);
}

/*
 * The oracle, from siphash.c and the definition alone: lane i is
 * SipHash-1-3-128, under SipHash-2-4 of "L" and i, of word i of every
 * whole 64-byte block; the result is SipHash-1-3-128 under the key of
 * the eight lanes' results, the bytes after the last whole block and
 * the length as 8 little-endian bytes.
 */
static void
check_siphash_lanes_oracle(const unsigned char key[16],
    const unsigned char *p, size_t n, unsigned char out[16])
{
	struct siphash_state	st;
	unsigned char		lanes[8][16], lkey[16], id[2], len[8];
	size_t			b, blocks = n / 64;
	int			i;

	for (i = 0; i < 8; i++) {
		id[0] = 'L';
		id[1] = (unsigned char)i;
		siphash128(key, id, 2, lkey);
		siphash128_init(&st, lkey, SIPHASH_1_3);
		for (b = 0; b < blocks; b++)
			siphash128_update(&st, p + 64 * b + 8 * i, 8);
		siphash128_final(&st, lanes[i]);
	}
	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (8 * i));
	siphash128_init(&st, key, SIPHASH_1_3);
	siphash128_update(&st, lanes, sizeof(lanes));
	siphash128_update(&st, p + 64 * blocks, n - 64 * blocks);
	siphash128_update(&st, len, sizeof(len));
	siphash128_final(&st, out);
}

/* One update of n bytes, on the widest path up to wide (0, 1, 2). */
static void
check_siphash_lanes_once(int wide, const unsigned char key[16],
    const unsigned char *p, size_t n, unsigned char out[16])
{
	struct siphash_lanes_state	st;
	int				was;

	was = siphash_lanes_use_wide(wide);
	siphash_lanes_init(&st, key);
	siphash_lanes_update(&st, p, n);
	siphash_lanes_final(&st, out);
	siphash_lanes_use_wide(was);
}

/*
 * Every length from 0 to 700 and some long ones, under random keys, on
 * each path the CPU has, against the oracle.
 */
START_TEST(check_siphash_lanes_against_oracle)
{
	static const size_t	 longs[] = { 1023, 1024, 4097, 70001 };
	uint64_t		 seed = 0x9e3779b97f4a7c15ULL;
	unsigned char		 key[16], want[16], got[16], *msg;
	size_t			 n, k;
	int			 wide;

	ck_assert_ptr_nonnull(msg = malloc(70001));
	for (n = 0; n <= 700 + sizeof(longs) / sizeof(longs[0]); n++) {
		k = n <= 700 ? n : longs[n - 701];
		check_siphash_lanes_fill(&seed, key, sizeof(key));
		check_siphash_lanes_fill(&seed, msg, k);
		check_siphash_lanes_oracle(key, msg, k, want);
		for (wide = 0; wide <= 2; wide++) {
			check_siphash_lanes_once(wide, key, msg, k, got);
			if (memcmp(got, want, 16) != 0)
				ck_abort_msg("%zu bytes, path %d: not the "
				    "oracle's", k, wide);
		}
	}
	free(msg);
}
END_TEST

/*
 * In pieces: every split of inputs up to 200 bytes (the path switched
 * at each split, in turn), single bytes and random pieces; a result taken midway
 * leaves the state as it was, and a copied state goes on alike.
 */
START_TEST(check_siphash_lanes_streaming)
{
	uint64_t			 seed = 0x243f6a8885a308d3ULL;
	struct siphash_lanes_state	 st, copy;
	unsigned char			 key[16], msg[300], want[16], got[16];
	unsigned char			 mid[16];
	size_t				 n, cut, at, piece;
	int				 was;

	was = siphash_lanes_use_wide(2);
	for (n = 0; n <= 300; n += (n < 200 ? 1 : 50)) {
		check_siphash_lanes_fill(&seed, key, sizeof(key));
		check_siphash_lanes_fill(&seed, msg, n);
		check_siphash_lanes_oracle(key, msg, n, want);
		for (cut = 0; cut <= n; cut++) {
			siphash_lanes_use_wide(2);
			siphash_lanes_init(&st, key);
			siphash_lanes_update(&st, msg, cut);
			siphash_lanes_final(&st, mid);
			check_siphash_lanes_oracle(key, msg, cut, got);
			if (memcmp(mid, got, 16) != 0)
				ck_abort_msg("%zu of %zu bytes: the result "
				    "midway is not the prefix's", cut, n);
			siphash_lanes_use_wide((int)(cut % 3));
			copy = st;
			memset(&st, 0xa5, sizeof(st));
			siphash_lanes_update(&copy, msg + cut, n - cut);
			siphash_lanes_final(&copy, got);
			if (memcmp(got, want, 16) != 0)
				ck_abort_msg("%zu bytes split at %zu: not the "
				    "oracle's", n, cut);
		}
		siphash_lanes_init(&st, key);
		for (at = 0; at < n; at++)
			siphash_lanes_update(&st, msg + at, 1);
		siphash_lanes_final(&st, got);
		ck_assert_msg(memcmp(got, want, 16) == 0, "%zu bytes one by "
		    "one: not the oracle's", n);
		siphash_lanes_init(&st, key);
		for (at = 0; at < n; at += piece) {
			piece = 1 + check_siphash_lanes_rand(&seed) % 150;
			if (piece > n - at)
				piece = n - at;
			siphash_lanes_update(&st, msg + at, piece);
		}
		siphash_lanes_final(&st, got);
		ck_assert_msg(memcmp(got, want, 16) == 0, "%zu bytes in random "
		    "pieces: not the oracle's", n);
	}
	siphash_lanes_use_wide(was);
}
END_TEST

/*
 * Inputs that differ only by trailing zeros, by a zero block, or by
 * where a block ends all hash apart (the length is part of the join),
 * and the lane keys differ from each other and from the key.
 */
START_TEST(check_siphash_lanes_near_inputs)
{
	unsigned char	key[16] = { 7 }, zeros[200], d[41][16], k[9][16];
	size_t		n, m;
	int		i, j;

	memset(zeros, 0, sizeof(zeros));
	for (n = 0; n < 41; n++)
		check_siphash_lanes_once(2, key, zeros, n * 4, d[n]);
	for (n = 0; n < 41; n++)
		for (m = n + 1; m < 41; m++)
			ck_assert_msg(memcmp(d[n], d[m], 16) != 0, "%zu and %zu "
			    "zero bytes hash alike", n * 4, m * 4);
	for (i = 0; i < 8; i++)
		siphash_lanes_key(key, i, k[i]);
	memcpy(k[8], key, 16);
	for (i = 0; i < 9; i++)
		for (j = i + 1; j < 9; j++)
			ck_assert_msg(memcmp(k[i], k[j], 16) != 0, "keys %d and "
			    "%d alike", i, j);
}
END_TEST

/* The siphash_lanes suite. */
Suite *
siphash_lanes_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("siphash_lanes");
	tc = tcase_create("lanes");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_siphash_lanes_against_oracle);
	tcase_add_test(tc, check_siphash_lanes_streaming);
	tcase_add_test(tc, check_siphash_lanes_near_inputs);
	suite_add_tcase(s, tc);
	return (s);
}
