/*
 * dsketch.h - Apache DataSketches HLL images (HLL_4, HLL_6, HLL_8 in their
 * LIST, SET and HLL modes, compact or updatable) to and from muse HLL
 * sketches.  lib/dsketch.c explains the design; muse-format(5),
 * "DataSketches HLL images", describes the bytes.
 */
#ifndef MUSE_DSKETCH_H
#define MUSE_DSKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "hll.h"

/* Target types (bits 2-3 of the mode byte) and modes (bits 0-1). */
enum { MUSE_DS_HLL4 = 0, MUSE_DS_HLL6 = 1, MUSE_DS_HLL8 = 2 };
enum { MUSE_DS_LIST = 0, MUSE_DS_SET = 1, MUSE_DS_HLL = 2 };

/*
 * A decoded image: the state of the reference sketch it was taken from.
 * LIST: cp[0..count) in insertion order.  SET: cp is the hash table of
 * 2^lgarr cells (0 = empty) holding count coupons.  HLL: reg holds the
 * 2^lgk register values (for HLL_4 the real values, curmin and exceptions
 * included), aux the HLL_4 exception table of 2^lgaux cells (NULL when
 * there is none) holding naux entries value << 26 | slot.
 */
struct muse_ds {
	unsigned lgk, type, mode;
	int ooo;              /* flag 0x10: HIP not valid (after a union) */
	int full;             /* flag 0x20 (C++: started in HLL mode) */
	uint32_t *cp, count;
	unsigned lgarr;
	uint8_t *reg;
	double hip, kxq0, kxq1;
	unsigned curmin;
	uint32_t nacm;        /* registers at curmin */
	uint32_t *aux, naux;
	unsigned lgaux;
};

void muse_ds_init(struct muse_ds *d);
void muse_ds_free(struct muse_ds *d);   /* back to the state of init */

/*
 * Decodes an image of n bytes, checking every field, length and
 * register, into d (initialised, overwritten).  MUSE_EFORMAT with e
 * filled (byte offset of the fault) when the image is corrupt.
 */
int muse_ds_decode(struct muse_ds *d, const uint8_t *p, size_t n,
	struct muse_err *e);
/* Appends d's image, compact (non-zero) or updatable, to out. */
int muse_ds_encode(const struct muse_ds *d, int compact, struct muse_buf *out);

/*
 * The state the reference would hold for h's coupons or registers, in
 * the target type: LIST or SET for a sparse sketch small enough (coupons
 * in ascending order), else HLL mode flagged out of order (HIP 0), as
 * an hll_union result is, with KxQ, curMin and the HLL_4 exceptions
 * rebuilt from the registers in slot order.
 */
int muse_ds_from_hll(struct muse_ds *d, const muse_hll *h, unsigned type);
/*
 * Folds d into h (merged, not replaced): coupons are added, registers of
 * an image of larger lgk fold down as the reference union does.  An HLL
 * image of smaller lgk than h's is MUSE_EPARAM with e filled.
 */
int muse_ds_merge_into(muse_hll *h, const struct muse_ds *d,
	struct muse_err *e);

/*
 * The reference library's estimate of the image: the coupon estimator
 * in LIST and SET modes, the HIP accumulator in HLL mode in order, and
 * muse's estimator of the registers when out of order.
 */
double muse_ds_estimate(const struct muse_ds *d);

/* "hll4", "hll6", "hll8" (also "HLL_4", ...) to a type; -1 if none. */
int muse_ds_type_parse(const char *s);
const char *muse_ds_type_name(unsigned type);   /* "HLL_4", ... */

/* The compact image of h in the given type, appended to out. */
int muse_ds_export(const muse_hll *h, unsigned type, struct muse_buf *out);

/* Base64 (RFC 4648, padded): appends n bytes' text to out (no NUL). */
int muse_b64_encode(const uint8_t *p, size_t n, struct muse_buf *out);
/*
 * Decodes base64 text s[0..n) to out; MUSE_EINPUT with e filled on a bad
 * character, bad padding or length.
 */
int muse_b64_decode(const char *s, size_t n, struct muse_buf *out,
	struct muse_err *e);

#endif
