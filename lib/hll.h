/*
 * hll.h - HyperLogLog distinct-count sketches (see lib/hll.c for the design).
 *
 * A sketch holds "coupons": 32-bit values derived from a 128-bit item hash
 * exactly as Apache DataSketches derives them (value << 26 | address, where
 * the address is the low 26 bits of the first hash word and the value is
 * 1 + the number of leading zeros of the second word, capped at 63).  While
 * few coupons are held the sketch keeps them all (sparse: an exact count);
 * past MUSE_HLL_SPARSE_MAX(lgk) it keeps one 8-bit register per slot
 * (dense).  The representation is a function of the set of coupons added,
 * never of their order, so equal inputs always encode to equal bytes.
 */
#ifndef MUSE_HLL_H
#define MUSE_HLL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define MUSE_HLL_LGK_MIN 4
#define MUSE_HLL_LGK_MAX 21
#define MUSE_HLL_LGK_DEFAULT 14
/* Sparse while it holds at most K/4 coupons (4 bytes each: smaller than K). */
#define MUSE_HLL_SPARSE_MAX(lgk) ((uint32_t)1 << ((lgk) - 2))

typedef struct muse_hll muse_hll;

/* Coupon of a 128-bit hash (h1 = first word, h2 = second); never 0. */
static inline uint32_t muse_hll_coupon(uint64_t h1, uint64_t h2)
{
	unsigned lz = h2 ? (unsigned)__builtin_clzll(h2) : 64;
	unsigned v = (lz > 62 ? 62 : lz) + 1;
	return (uint32_t)v << 26 | (uint32_t)(h1 & 0x3FFFFFF);
}

muse_hll *muse_hll_new(unsigned lgk);          /* NULL on ENOMEM or bad lgk */
void muse_hll_free(muse_hll *h);               /* NULL is fine */
void muse_hll_clear(muse_hll *h);              /* back to empty, same lgk */
unsigned muse_hll_lgk(const muse_hll *h);
int muse_hll_copy(muse_hll *dst, const muse_hll *src); /* same lgk */

int muse_hll_add(muse_hll *h, uint32_t coupon);            /* 0 / ENOMEM */
int muse_hll_merge(muse_hll *dst, const muse_hll *src);     /* EPARAM on lgk */

int muse_hll_is_empty(const muse_hll *h);
int muse_hll_is_dense(const muse_hll *h);
/*
 * Sparse: the coupons, sorted ascending, unique (an empty sketch gives a
 * non-NULL pointer and *n = 0).  Dense: NULL and *n = 0.  The array lives
 * until the sketch next changes.  Note: a sparse sketch buffers recent
 * coupons, and this call sorts them into place, so it must not run on one
 * sketch from two threads at once (see "Pending coupons" in hll.c).
 */
const uint32_t *muse_hll_coupons(const muse_hll *h, size_t *n);
/* Dense: the 2^lgk registers.  Sparse: NULL. */
const uint8_t *muse_hll_registers(const muse_hll *h);
/*
 * Makes h dense with a copy of the 2^lgk registers reg (each 0..63), as
 * registers read from elsewhere (a DataSketches HLL image) are; all zero
 * makes h empty.  MUSE_EPARAM on a register above 63, MUSE_ENOMEM; h is
 * unchanged on failure.
 */
int muse_hll_set_registers(muse_hll *h, const uint8_t *reg);

/* The estimate: exact coupon count when sparse, Ertl's estimator when dense. */
double muse_hll_estimate(const muse_hll *h);
/*
 * Relative standard error of the estimate (0 when sparse), and bounds at z
 * standard errors (z = 1, 1.96, 2.576 for 68/95/99 %).  lo is never below
 * the number of non-empty registers.
 */
double muse_hll_rse(const muse_hll *h);
void muse_hll_bounds(const muse_hll *h, double z, double *lo, double *hi);

/* Canonical encoding (muse-format(5), "HLL field"), appended to out. */
int muse_hll_encode(const muse_hll *h, struct muse_buf *out);
/*
 * Decodes one encoded sketch at *pp (not past end) into h, which must have
 * the stream's lgk; advances *pp.  Checks every length, the order of sparse
 * coupons and the register range.  MUSE_EFORMAT with e filled on failure.
 */
int muse_hll_decode(muse_hll *h, const uint8_t **pp, const uint8_t *end,
	struct muse_err *e);

/*
 * Adds n coupons, as n calls of muse_hll_add would, with a tighter loop
 * once the sketch is dense, and in one pass when the sketch is empty and
 * the coupons come in ascending order (repeats allowed).  0, or
 * MUSE_ENOMEM with some of them added (adding them again is harmless).
 */
int muse_hll_add_many(muse_hll *h, const uint32_t *coupons, size_t n);

/*
 * A union of many encoded sketches of one lgk, built as they are decoded
 * (see "Unions of many encoded sketches" in hll.c): the same result as
 * decoding each with muse_hll_decode and merging it with muse_hll_merge,
 * the same checks and errors, in a fraction of the time.
 */
typedef struct muse_hll_union muse_hll_union;
muse_hll_union *muse_hll_union_new(unsigned lgk);   /* NULL on ENOMEM, bad lgk */
void muse_hll_union_free(muse_hll_union *u);        /* NULL is fine */
/* Decodes the field at *pp (as muse_hll_decode) into the union. */
int muse_hll_union_decode(muse_hll_union *u, const uint8_t **pp,
	const uint8_t *end, struct muse_err *e);
/*
 * h (of the same lgk) becomes the union, and u starts empty again.
 * 0, MUSE_EPARAM on lgk, or MUSE_ENOMEM.
 */
int muse_hll_union_get(muse_hll_union *u, muse_hll *h);

/*
 * The loops over dense registers, in every variant compiled in, for tests
 * and benchmarks; the library picks one itself on each call.  The list
 * runs fastest first and ends with the portable C one; call a variant
 * only when its usable() returns non-zero on this CPU.  All variants give
 * the same results: max sets d[i] = max(d[i], s[i]) for i < k, with k a
 * power of two >= 16 and d and s apart; histogram sets c[v], v < 64, to
 * the number of the k registers holding v (a value above 63 counts as its
 * low 6 bits; a valid sketch has none).
 */
struct muse_hll_kernel {
	const char *name;            /* "avx512bw", "avx2", "sse2", "portable" */
	int (*usable)(void);
	void (*max)(uint8_t *d, const uint8_t *s, size_t k);
	void (*histogram)(const uint8_t *reg, size_t k, uint32_t c[64]);
};
const struct muse_hll_kernel *muse_hll_kernels(size_t *n);

#endif
