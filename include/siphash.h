/*
 * siphash: SipHash-2-4 with a 128-bit result, a keyed hash for tables
 * whose keys are secrets.
 */
#ifndef ODP_SIPHASH_H
#define ODP_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN	16
#define SIPHASH_OUT_LEN	16

void	siphash128(const unsigned char [SIPHASH_KEY_LEN], const void *, size_t,
	    unsigned char [SIPHASH_OUT_LEN]);

#endif
