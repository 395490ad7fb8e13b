/*
 * siphash: SipHash-2-4 with a 128-bit result (Aumasson and Bernstein,
 * "SipHash: a fast short-input PRF", 2012; the 128-bit variant of the
 * reference implementation), a keyed hash for tables whose keys are
 * secrets.
 *
 * app_cache finds what Dify said about an API key by a hash of it, so
 * that the key itself is never kept.  With a random key per process the
 * stored values reveal nothing about the API keys without that key
 * (SipHash is a PRF), and 128 bits make a collision between two API
 * keys negligible, while hashing a key costs about a tenth of OpenSSL 3's
 * SHA-256 on the request path.
 *
 * conversation digests a whole chat history with it, fed in pieces: the
 * streaming form (init, update, final) gives the same result as the
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

/* Start a SipHash-2-4-128 under key. */
void
siphash128_init(struct siphash_state *st,
    const unsigned char key[SIPHASH_KEY_LEN])
{
	uint64_t	k0 = siphash_le64(key), k1 = siphash_le64(key + 8);

	st->v0 = 0x736f6d6570736575ULL ^ k0;
	st->v1 = (0x646f72616e646f6dULL ^ k1) ^ 0xee;
	st->v2 = 0x6c7967656e657261ULL ^ k0;
	st->v3 = 0x7465646279746573ULL ^ k1;
	st->len = 0;
}

/*
 * Take len more bytes: whole words through the rounds, the rest kept in
 * the state's tail until a word is complete.
 */
void
siphash128_update(struct siphash_state *st, const void *data, size_t len)
{
	const unsigned char	*p = data, *end;
	uint64_t		 v0 = st->v0, v1 = st->v1, v2 = st->v2;
	uint64_t		 v3 = st->v3, m;
	size_t			 have = (size_t)(st->len & 7), n;

	st->len += len;
	if (have > 0) {
		n = 8 - have < len ? 8 - have : len;
		memcpy(st->tail + have, p, n);
		p += n;
		len -= n;
		if (have + n < 8)
			return;
		m = siphash_le64(st->tail);
		v3 ^= m;
		SIPHASH_ROUND(v0, v1, v2, v3);
		SIPHASH_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (end = p + (len & ~(size_t)7); p < end; p += 8) {
		m = siphash_le64(p);
		v3 ^= m;
		SIPHASH_ROUND(v0, v1, v2, v3);
		SIPHASH_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	memcpy(st->tail, p, len & 7);
	st->v0 = v0;
	st->v1 = v1;
	st->v2 = v2;
	st->v3 = v3;
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
	int		i;

	memset(tail, 0, sizeof(tail));
	memcpy(tail, st->tail, (size_t)(st->len & 7));
	b |= siphash_le64(tail);
	v3 ^= b;
	SIPHASH_ROUND(v0, v1, v2, v3);
	SIPHASH_ROUND(v0, v1, v2, v3);
	v0 ^= b;

	v2 ^= 0xee;
	for (i = 0; i < 4; i++)
		SIPHASH_ROUND(v0, v1, v2, v3);
	siphash_put64(out, v0 ^ v1 ^ v2 ^ v3);
	v1 ^= 0xdd;
	for (i = 0; i < 4; i++)
		SIPHASH_ROUND(v0, v1, v2, v3);
	siphash_put64(out + 8, v0 ^ v1 ^ v2 ^ v3);
}

/* SipHash-2-4-128 of len bytes at data under key, into out. */
void
siphash128(const unsigned char key[SIPHASH_KEY_LEN], const void *data,
    size_t len, unsigned char out[SIPHASH_OUT_LEN])
{
	struct siphash_state	st;

	siphash128_init(&st, key);
	siphash128_update(&st, data, len);
	siphash128_final(&st, out);
}
