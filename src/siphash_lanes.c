/*
 * siphash_lanes: a keyed hash of long inputs made of SipHash-1-3, for
 * the conversation digests, which hash a chat's whole history (about
 * 100 KB for a 20-turn chat) on every request.
 *
 * One SipHash is a single chain of dependent additions and rotations:
 * the CPU waits on each round, and a 100 KB history took a tenth of a
 * continued request's CPU.  Here the input is cut into 64-byte blocks
 * and word i of every block goes to lane i, eight lanes in all, each a
 * SipHash-1-3-128 under its own key (siphash_lanes_key: SipHash-2-4 of
 * the lane's number under the key).  The lanes do not depend on each
 * other, so a CPU with AVX-512 runs all eight in one vector, one with
 * AVX2 in two, and any other side by side in its pipelines.  The result is
 * SipHash-1-3-128 under the key of the lanes' eight results, the bytes
 * of an unfinished block and the total length (8 bytes, little-endian).
 *
 * Why this is still a PRF: each lane is one on its words; the lanes'
 * results, the tail and the length together determine the input (whole
 * blocks are rebuilt from the lanes' word sequences, whose length the
 * total gives), so two inputs that differ differ in some lane's input or
 * in the joined bytes, and a collision needs a collision of SipHash.
 * test/unit/check_siphash_lanes.c computes the same thing with siphash.c
 * alone, lane by lane.
 *
 * The result is the same on every CPU (the vector path is checked
 * against the plain one); a state is plain data that may be copied, and
 * a result may be taken without ending the stream.
 */
#include <endian.h>
#include <string.h>

#include "siphash_lanes.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define SIPHASH_LANES_WIDE	1
#endif

#define SIPHASH_LANES_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/*
 * The widest path that runs: 0 plain, 1 AVX2, 2 AVX-512; -1 until the
 * CPU is asked.
 */
static int	siphash_lanes_wide = -1;

/*
 * Let the vector paths run, up to level (2: AVX-512, the default; 1:
 * AVX2; 0: none, for tests), as far as the CPU has them; returns the
 * level asked for before (2 if none was).
 */
int
siphash_lanes_use_wide(int level)
{
	static int	asked = 2;
	int		was = asked;

	asked = level;
#ifdef SIPHASH_LANES_WIDE
	__builtin_cpu_init();
	if (level >= 2 && __builtin_cpu_supports("avx512f"))
		siphash_lanes_wide = 2;
	else if (level >= 1 && __builtin_cpu_supports("avx2"))
		siphash_lanes_wide = 1;
	else
		siphash_lanes_wide = 0;
#else
	siphash_lanes_wide = 0;
#endif
	return (was);
}

/* The key of lane i under key: SipHash-2-4 of the bytes 'L' and i. */
void
siphash_lanes_key(const unsigned char key[SIPHASH_KEY_LEN], int i,
    unsigned char out[SIPHASH_KEY_LEN])
{
	unsigned char	msg[2] = { 'L', (unsigned char)i };

	siphash128(key, msg, sizeof(msg), out);
}

/* Read 8 bytes as a little-endian integer. */
static inline uint64_t
siphash_lanes_le64(const unsigned char *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
	return (le64toh(v));
}

/* Start a hash under key: every lane as SipHash-128 starts, its own key. */
void
siphash_lanes_init(struct siphash_lanes_state *st,
    const unsigned char key[SIPHASH_KEY_LEN])
{
	struct siphash_state	lane;
	unsigned char		k[SIPHASH_KEY_LEN];
	int			i;

	memset(st, 0, sizeof(*st));
	memcpy(st->key, key, SIPHASH_KEY_LEN);
	for (i = 0; i < SIPHASH_LANES; i++) {
		siphash_lanes_key(key, i, k);
		siphash128_init(&lane, k, SIPHASH_1_3);
		st->v[0][i] = lane.v0;
		st->v[1][i] = lane.v1;
		st->v[2][i] = lane.v2;
		st->v[3][i] = lane.v3;
	}
}

/*
 * Take n whole blocks at p, a block at a time and the lanes side by side
 * within it (eight chains the CPU's pipelines can overlap).
 */
static void
siphash_lanes_blocks_plain(struct siphash_lanes_state *st,
    const unsigned char *p, size_t n)
{
	uint64_t	v0[SIPHASH_LANES], v1[SIPHASH_LANES];
	uint64_t	v2[SIPHASH_LANES], v3[SIPHASH_LANES], m;
	size_t		b;
	int		i;

	memcpy(v0, st->v[0], sizeof(v0));
	memcpy(v1, st->v[1], sizeof(v1));
	memcpy(v2, st->v[2], sizeof(v2));
	memcpy(v3, st->v[3], sizeof(v3));
	for (b = 0; b < n; b++, p += SIPHASH_LANES_BLOCK) {
		for (i = 0; i < SIPHASH_LANES; i++) {
			m = siphash_lanes_le64(p + 8 * i);
			v3[i] ^= m;
			v0[i] += v1[i];
			v1[i] = SIPHASH_LANES_ROTL(v1[i], 13) ^ v0[i];
			v0[i] = SIPHASH_LANES_ROTL(v0[i], 32);
			v2[i] += v3[i];
			v3[i] = SIPHASH_LANES_ROTL(v3[i], 16) ^ v2[i];
			v0[i] += v3[i];
			v3[i] = SIPHASH_LANES_ROTL(v3[i], 21) ^ v0[i];
			v2[i] += v1[i];
			v1[i] = SIPHASH_LANES_ROTL(v1[i], 17) ^ v2[i];
			v2[i] = SIPHASH_LANES_ROTL(v2[i], 32);
			v0[i] ^= m;
		}
	}
	memcpy(st->v[0], v0, sizeof(v0));
	memcpy(st->v[1], v1, sizeof(v1));
	memcpy(st->v[2], v2, sizeof(v2));
	memcpy(st->v[3], v3, sizeof(v3));
}

#ifdef SIPHASH_LANES_WIDE
/*
 * The same with the eight lanes in one vector: a block is one load, its
 * word i in lane i.  Little-endian x86 only, so the load is the words.
 */
static __attribute__((target("avx512f"))) void
siphash_lanes_blocks_wide(struct siphash_lanes_state *st,
    const unsigned char *p, size_t n)
{
	__m512i	v0 = _mm512_loadu_si512(st->v[0]);
	__m512i	v1 = _mm512_loadu_si512(st->v[1]);
	__m512i	v2 = _mm512_loadu_si512(st->v[2]);
	__m512i	v3 = _mm512_loadu_si512(st->v[3]);
	__m512i	m;
	size_t	b;

	for (b = 0; b < n; b++, p += SIPHASH_LANES_BLOCK) {
		m = _mm512_loadu_si512(p);
		v3 = _mm512_xor_si512(v3, m);
		v0 = _mm512_add_epi64(v0, v1);
		v1 = _mm512_xor_si512(_mm512_rol_epi64(v1, 13), v0);
		v0 = _mm512_rol_epi64(v0, 32);
		v2 = _mm512_add_epi64(v2, v3);
		v3 = _mm512_xor_si512(_mm512_rol_epi64(v3, 16), v2);
		v0 = _mm512_add_epi64(v0, v3);
		v3 = _mm512_xor_si512(_mm512_rol_epi64(v3, 21), v0);
		v2 = _mm512_add_epi64(v2, v1);
		v1 = _mm512_xor_si512(_mm512_rol_epi64(v1, 17), v2);
		v2 = _mm512_rol_epi64(v2, 32);
		v0 = _mm512_xor_si512(v0, m);
	}
	_mm512_storeu_si512(st->v[0], v0);
	_mm512_storeu_si512(st->v[1], v1);
	_mm512_storeu_si512(st->v[2], v2);
	_mm512_storeu_si512(st->v[3], v3);
}
/* Rotate each 64-bit lane of x left by b. */
#define SIPHASH_LANES_ROTL256(x, b) \
	_mm256_or_si256(_mm256_slli_epi64((x), (b)), \
	    _mm256_srli_epi64((x), 64 - (b)))

/* One SipRound on four lanes, m being their words. */
#define SIPHASH_LANES_ROUND256(v0, v1, v2, v3, m) do {			\
	v3 = _mm256_xor_si256(v3, m);					\
	v0 = _mm256_add_epi64(v0, v1);					\
	v1 = _mm256_xor_si256(SIPHASH_LANES_ROTL256(v1, 13), v0);	\
	v0 = _mm256_shuffle_epi32(v0, 0xb1);				\
	v2 = _mm256_add_epi64(v2, v3);					\
	v3 = _mm256_xor_si256(SIPHASH_LANES_ROTL256(v3, 16), v2);	\
	v0 = _mm256_add_epi64(v0, v3);					\
	v3 = _mm256_xor_si256(SIPHASH_LANES_ROTL256(v3, 21), v0);	\
	v2 = _mm256_add_epi64(v2, v1);					\
	v1 = _mm256_xor_si256(SIPHASH_LANES_ROTL256(v1, 17), v2);	\
	v2 = _mm256_shuffle_epi32(v2, 0xb1);				\
	v0 = _mm256_xor_si256(v0, m);					\
} while (0)

/*
 * The same with AVX2: lanes 0-3 in one set of vectors, 4-7 in another,
 * two independent chains (a rotation by 32 is a swap of halves).
 */
static __attribute__((target("avx2"))) void
siphash_lanes_blocks_avx2(struct siphash_lanes_state *st,
    const unsigned char *p, size_t n)
{
	__m256i	a0, a1, a2, a3, b0, b1, b2, b3, ma, mb;
	size_t	b;

	a0 = _mm256_loadu_si256((const __m256i *)(const void *)st->v[0]);
	a1 = _mm256_loadu_si256((const __m256i *)(const void *)st->v[1]);
	a2 = _mm256_loadu_si256((const __m256i *)(const void *)st->v[2]);
	a3 = _mm256_loadu_si256((const __m256i *)(const void *)st->v[3]);
	b0 = _mm256_loadu_si256((const __m256i *)(const void *)(st->v[0] + 4));
	b1 = _mm256_loadu_si256((const __m256i *)(const void *)(st->v[1] + 4));
	b2 = _mm256_loadu_si256((const __m256i *)(const void *)(st->v[2] + 4));
	b3 = _mm256_loadu_si256((const __m256i *)(const void *)(st->v[3] + 4));
	for (b = 0; b < n; b++, p += SIPHASH_LANES_BLOCK) {
		ma = _mm256_loadu_si256((const __m256i *)(const void *)p);
		mb = _mm256_loadu_si256((const __m256i *)(const void *)
		    (p + 32));
		SIPHASH_LANES_ROUND256(a0, a1, a2, a3, ma);
		SIPHASH_LANES_ROUND256(b0, b1, b2, b3, mb);
	}
	_mm256_storeu_si256((__m256i *)(void *)st->v[0], a0);
	_mm256_storeu_si256((__m256i *)(void *)st->v[1], a1);
	_mm256_storeu_si256((__m256i *)(void *)st->v[2], a2);
	_mm256_storeu_si256((__m256i *)(void *)st->v[3], a3);
	_mm256_storeu_si256((__m256i *)(void *)(st->v[0] + 4), b0);
	_mm256_storeu_si256((__m256i *)(void *)(st->v[1] + 4), b1);
	_mm256_storeu_si256((__m256i *)(void *)(st->v[2] + 4), b2);
	_mm256_storeu_si256((__m256i *)(void *)(st->v[3] + 4), b3);
}
#endif

/* Take n whole blocks at p, on the best path the CPU has. */
static void
siphash_lanes_blocks(struct siphash_lanes_state *st, const unsigned char *p,
    size_t n)
{
	st->blocks += n;
#ifdef SIPHASH_LANES_WIDE
	if (siphash_lanes_wide < 0)
		siphash_lanes_use_wide(2);
	if (siphash_lanes_wide == 2) {
		siphash_lanes_blocks_wide(st, p, n);
		return;
	}
	if (siphash_lanes_wide == 1) {
		siphash_lanes_blocks_avx2(st, p, n);
		return;
	}
#endif
	siphash_lanes_blocks_plain(st, p, n);
}

/*
 * Take len more bytes: whole blocks through the lanes, the rest kept in
 * the tail until a block is complete.
 */
void
siphash_lanes_update(struct siphash_lanes_state *st, const void *data,
    size_t len)
{
	const unsigned char	*p = data;
	size_t			 n;

	if (len == 0)
		return;
	if (st->ntail > 0) {
		n = SIPHASH_LANES_BLOCK - st->ntail;
		if (n > len)
			n = len;
		memcpy(st->tail + st->ntail, p, n);
		st->ntail += (unsigned char)n;
		p += n;
		len -= n;
		if (st->ntail < SIPHASH_LANES_BLOCK)
			return;
		siphash_lanes_blocks(st, st->tail, 1);
		st->ntail = 0;
	}
	if (len >= SIPHASH_LANES_BLOCK)
		siphash_lanes_blocks(st, p, len / SIPHASH_LANES_BLOCK);
	n = len % SIPHASH_LANES_BLOCK;
	memcpy(st->tail, p + (len - n), n);
	st->ntail = (unsigned char)n;
}

/*
 * The 128-bit result of what st has taken, into out: each lane ended as
 * SipHash-1-3-128 ends, then the join.  st stays as it was.
 */
void
siphash_lanes_final(const struct siphash_lanes_state *st,
    unsigned char out[SIPHASH_OUT_LEN])
{
	struct siphash_state	lane, join;
	unsigned char		lanes[SIPHASH_LANES][SIPHASH_OUT_LEN];
	unsigned char		len[8];
	uint64_t		total;
	int			i;

	for (i = 0; i < SIPHASH_LANES; i++) {
		memset(&lane, 0, sizeof(lane));
		lane.v0 = st->v[0][i];
		lane.v1 = st->v[1][i];
		lane.v2 = st->v[2][i];
		lane.v3 = st->v[3][i];
		lane.len = st->blocks * 8;
		lane.rounds = SIPHASH_1_3;
		siphash128_final(&lane, lanes[i]);
	}
	total = st->blocks * SIPHASH_LANES_BLOCK + st->ntail;
	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)(total >> (8 * i));
	siphash128_init(&join, st->key, SIPHASH_1_3);
	siphash128_update(&join, lanes, sizeof(lanes));
	siphash128_update(&join, st->tail, st->ntail);
	siphash128_update(&join, len, sizeof(len));
	siphash128_final(&join, out);
}
