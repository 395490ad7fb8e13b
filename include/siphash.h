/*
 * siphash: SipHash-2-4 and SipHash-1-3 with a 128-bit result, keyed
 * hashes for tables whose keys are secrets.
 */
#ifndef ODP_SIPHASH_H
#define ODP_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN	16
#define SIPHASH_OUT_LEN	16

/* The strength of a SipHash: rounds per word, then at the end. */
enum siphash_rounds {
	SIPHASH_2_4,
	SIPHASH_1_3
};

/* A SipHash-128 in progress; see siphash.c. */
struct siphash_state {
	uint64_t	v0, v1, v2, v3;
	uint64_t	len;		/* bytes taken */
	unsigned char	tail[8];	/* the last len % 8 of them */
	unsigned char	rounds;		/* an enum siphash_rounds */
};

void	siphash128_init(struct siphash_state *,
	    const unsigned char [SIPHASH_KEY_LEN], enum siphash_rounds);
void	siphash128_update(struct siphash_state *, const void *, size_t);
void	siphash128_final(const struct siphash_state *,
	    unsigned char [SIPHASH_OUT_LEN]);
void	siphash128(const unsigned char [SIPHASH_KEY_LEN], const void *, size_t,
	    unsigned char [SIPHASH_OUT_LEN]);

#endif
