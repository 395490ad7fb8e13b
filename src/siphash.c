/*
 * siphash: SipHash with a 128-bit result (Aumasson and Bernstein,
 * "SipHash: a fast short-input PRF", 2012; the 128-bit variant of the
 * reference implementation), a keyed hash for tables whose keys are
 * secrets, in two strengths: SipHash-2-4 (two rounds per 8-byte word,
 * four at the end), the paper's, and SipHash-1-3, half the rounds per
 * word, the one Rust's HashMap and CPython's str hash use.
 *
 * app_cache finds what Dify said about an API key by a hash of it, so
 * that the key itself is never kept.  With a random key per process the
 * stored values reveal nothing about the API keys without that key
 * (SipHash is a PRF), and 128 bits make a collision between two API
 * keys negligible, while hashing a key costs about a tenth of OpenSSL 3's
 * SHA-256 on the request path.  That is SipHash-2-4.
 *
 * conversation digests a whole chat history, fed in pieces, with
 * siphash_lanes: eight SipHash-1-3 lanes side by side, joined by one
 * more, each made of this file's state and final.  Every continued
 * request hashes all of its history (about 100 KB for a 20-turn chat),
 * where the rounds are the whole cost, and 1-3 takes half of 2-4's.  Its
 * key is secret to the store (made from the app's Dify key), which is
 * all a PRF with 1-3's smaller margin needs.
 * The streaming form (init, update, final) gives the same result as the
 * one-shot, and a result can be taken without ending the stream.
 */
#include <endian.h>
#include <string.h>

#include "siphash.h"

#define SIPHASH_ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* One SipRound. */
#define SIPHASH_ROUND(v0, v1, v2, v3) do {				\
	v0 += v1; v1 = SIPHASH_ROTL(v1, 13); v1 ^= v0;			\
	v0 = SIPHASH_ROTL(v0, 32);					\
	v2 += v3; v3 = SIPHASH_ROTL(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = SIPHASH_ROTL(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = SIPHASH_ROTL(v1, 17); v1 ^= v2;			\
	v2 = SIPHASH_ROTL(v2, 32);					\
} while (0)

/* Read 8 bytes as a little-endian integer (one load on x86 and ARM). */
static inline uint64_t
siphash_le64(const unsigned char *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
	return (le64toh(v));
}

/* Write an integer as 8 little-endian bytes. */
static void
siphash_put64(unsigned char *p, uint64_t v)
{
	int	i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Start a SipHash-128 of the given rounds under key. */
void
siphash128_init(struct siphash_state *st,
    const unsigned char key[SIPHASH_KEY_LEN], enum siphash_rounds rounds)
{
	uint64_t	k0 = siphash_le64(key), k1 = siphash_le64(key + 8);

	st->v0 = 0x736f6d6570736575ULL ^ k0;
	st->v1 = (0x646f72616e646f6dULL ^ k1) ^ 0xee;
	st->v2 = 0x6c7967656e657261ULL ^ k0;
	st->v3 = 0x7465646279746573ULL ^ k1;
	st->len = 0;
	st->rounds = rounds;
}

/*
 * Take the words whole 8-byte words at p, c rounds each, into the state
 * v (inlined with a constant c: one loop per strength, unrolled).
 */
static inline void
siphash_words(uint64_t v[4], const unsigned char *p, size_t words, int c)
{
	uint64_t	v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3], m;
	int		r;

	for (; words > 0; words--, p += 8) {
		m = siphash_le64(p);
		v3 ^= m;
		for (r = 0; r < c; r++)
			SIPHASH_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	v[0] = v0;
	v[1] = v1;
	v[2] = v2;
	v[3] = v3;
}

/* Take the words at p under the state's strength. */
static void
siphash_compress(struct siphash_state *st, const unsigned char *p,
    size_t words)
{
	uint64_t	v[4] = { st->v0, st->v1, st->v2, st->v3 };

	if (st->rounds == SIPHASH_1_3)
		siphash_words(v, p, words, 1);
	else
		siphash_words(v, p, words, 2);
	st->v0 = v[0];
	st->v1 = v[1];
	st->v2 = v[2];
	st->v3 = v[3];
}

/*
 * Take len more bytes: whole words through the rounds, the rest kept in
 * the state's tail until a word is complete.
 */
void
siphash128_update(struct siphash_state *st, const void *data, size_t len)
{
	const unsigned char	*p = data;
	size_t			 have = (size_t)(st->len & 7), n;

	st->len += len;
	if (have > 0) {
		n = 8 - have < len ? 8 - have : len;
		memcpy(st->tail + have, p, n);
		p += n;
		len -= n;
		if (have + n < 8)
			return;
		siphash_compress(st, st->tail, 1);
	}
	if (len >= 8)
		siphash_compress(st, p, len / 8);
	memcpy(st->tail, p + (len & ~(size_t)7), len & 7);
}

/*
 * The 128-bit result of what st has taken, into out.  st stays as it
 * was: a prefix's result costs no copy of the state.
 */
void
siphash128_final(const struct siphash_state *st,
    unsigned char out[SIPHASH_OUT_LEN])
{
	uint64_t	v0 = st->v0, v1 = st->v1, v2 = st->v2, v3 = st->v3;
	uint64_t	b = st->len << 56;
	unsigned char	tail[8];
	int		i, c = 2, d = 4;

	memset(tail, 0, sizeof(tail));
	memcpy(tail, st->tail, (size_t)(st->len & 7));
	b |= siphash_le64(tail);
	if (st->rounds == SIPHASH_1_3) {
		c = 1;
		d = 3;
	}
	v3 ^= b;
	for (i = 0; i < c; i++)
		SIPHASH_ROUND(v0, v1, v2, v3);
	v0 ^= b;

	v2 ^= 0xee;
	for (i = 0; i < d; i++)
		SIPHASH_ROUND(v0, v1, v2, v3);
	siphash_put64(out, v0 ^ v1 ^ v2 ^ v3);
	v1 ^= 0xdd;
	for (i = 0; i < d; i++)
		SIPHASH_ROUND(v0, v1, v2, v3);
	siphash_put64(out + 8, v0 ^ v1 ^ v2 ^ v3);
}

/* SipHash-2-4-128 of len bytes at data under key, into out. */
void
siphash128(const unsigned char key[SIPHASH_KEY_LEN], const void *data,
    size_t len, unsigned char out[SIPHASH_OUT_LEN])
{
	struct siphash_state	st;

	siphash128_init(&st, key, SIPHASH_2_4);
	siphash128_update(&st, data, len);
	siphash128_final(&st, out);
}
