/*
 * murmur3.h - MurmurHash3 x64 128, the hash Apache DataSketches applies to
 * every item (seed 9001), so that toolkit sketches can hold the same
 * coupons as DataSketches sketches of the same items (lib/dsketch.h).
 */
#ifndef MUSE_MURMUR3_H
#define MUSE_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

/* DataSketches' default seed (DEFAULT_SEED). */
#define MUSE_MURMUR3_DS_SEED 9001

/*
 * The two 64-bit words of MurmurHash3_x64_128 of n bytes at p (p may be
 * NULL when n is 0); *h1 is the first word, *h2 the second.
 */
void muse_murmur3_128(const void *p, size_t n, uint64_t seed, uint64_t *h1,
	uint64_t *h2);

#endif
