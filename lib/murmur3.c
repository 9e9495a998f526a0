/*
 * murmur3.c - MurmurHash3 x64 128 (Austin Appleby's 128-bit variant for
 * 64-bit machines), written from the algorithm's description.
 *
 * Both state words start at the seed.  The input is read in 16-byte
 * blocks of two little-endian 64-bit lanes; each lane is multiplied by a
 * constant, rotated, multiplied by the other constant and folded into its
 * state word, and the two words are then rotated, added and stirred.  The
 * 1..15 bytes left over are gathered little-endian into the two lanes
 * (bytes 0-7 in the first, 8-14 in the second) and folded in the same way
 * without the stir.  The length is xored into both words, the words are
 * added into each other, each goes through the 64-bit finaliser (xor-shift
 * by 33 and two multiplies) and they are added into each other once more.
 * The byte order is fixed by the reads, never by the machine, so the
 * result is the same on any host.
 *
 * tests/unit/test_dsketch.c checks it against vectors/coupons.tsv of the
 * DataSketches golden set (u64 items and strings of 1 to 17 bytes, so
 * tails either side of one block).
 */
#include "murmur3.h"

#define C1 0x87c37b91114253d5ULL
#define C2 0x4cf5ad432745937fULL

static uint64_t rotl(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t fmix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

static uint64_t mix1(uint64_t k)
{
	return rotl(k * C1, 31) * C2;
}

static uint64_t mix2(uint64_t k)
{
	return rotl(k * C2, 33) * C1;
}

void muse_murmur3_128(const void *data, size_t n, uint64_t seed, uint64_t *o1,
	uint64_t *o2)
{
	const uint8_t *p = data;
	uint64_t h1 = seed, h2 = seed, k1 = 0, k2 = 0;
	size_t i, blocks = n / 16, rest = n % 16;

	for (i = 0; i < blocks; i++, p += 16) {
		h1 ^= mix1(le64(p));
		h1 = rotl(h1, 27) + h2;
		h1 = h1 * 5 + 0x52dce729;
		h2 ^= mix2(le64(p + 8));
		h2 = rotl(h2, 31) + h1;
		h2 = h2 * 5 + 0x38495ab5;
	}
	for (i = rest; i > 8; i--)
		k2 = k2 << 8 | p[i - 1];
	for (i = rest < 8 ? rest : 8; i > 0; i--)
		k1 = k1 << 8 | p[i - 1];
	if (rest > 8)
		h2 ^= mix2(k2);
	if (rest > 0)
		h1 ^= mix1(k1);
	h1 ^= (uint64_t)n;
	h2 ^= (uint64_t)n;
	h1 += h2;
	h2 += h1;
	h1 = fmix(h1);
	h2 = fmix(h2);
	h1 += h2;
	h2 += h1;
	*o1 = h1;
	*o2 = h2;
}
