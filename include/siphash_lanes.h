/*
 * siphash_lanes: SipHash-1-3 in eight interleaved lanes, a keyed hash of
 * long inputs that runs the lanes side by side (AVX-512 where the CPU
 * has it) and gives the same result everywhere.
 */
#ifndef ODP_SIPHASH_LANES_H
#define ODP_SIPHASH_LANES_H

#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

#define SIPHASH_LANES		8
#define SIPHASH_LANES_BLOCK	(8 * SIPHASH_LANES)	/* a word per lane */

/*
 * A hash in progress; plain data, copied by assignment.  v[k][i] is the
 * SipHash word vk of lane i (lanes side by side, as a vector holds them).
 */
struct siphash_lanes_state {
	uint64_t	v[4][SIPHASH_LANES];
	uint64_t	blocks;			/* whole blocks taken */
	unsigned char	key[SIPHASH_KEY_LEN];	/* the joining hash's */
	unsigned char	tail[SIPHASH_LANES_BLOCK];
	unsigned char	ntail;			/* bytes in tail */
};

void	siphash_lanes_init(struct siphash_lanes_state *,
	    const unsigned char [SIPHASH_KEY_LEN]);
void	siphash_lanes_update(struct siphash_lanes_state *, const void *,
	    size_t);
void	siphash_lanes_final(const struct siphash_lanes_state *,
	    unsigned char [SIPHASH_OUT_LEN]);
void	siphash_lanes_key(const unsigned char [SIPHASH_KEY_LEN], int,
	    unsigned char [SIPHASH_KEY_LEN]);
int	siphash_lanes_use_wide(int);

#endif
