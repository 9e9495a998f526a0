/*
 * dsketch.c - Apache DataSketches HLL images to and from muse sketches.
 *
 * Muse's coupons are DataSketches' coupons (lib/hll.h), so the two meet
 * without loss: a muse sketch's sorted coupons are a DataSketches LIST or
 * SET, its dense registers an HLL_8 array, and an image's coupons or
 * registers fold into a muse sketch as they are.  What the two do not
 * share is order.  The reference sketch keeps LIST coupons in insertion
 * order, lays out its SET hash table by insertion order and accumulates a
 * HIP estimate over the update sequence; a muse sketch is a function of
 * the set of coupons alone.  So this file works through struct muse_ds,
 * the state an image carries, field by field:
 *
 *   image -> muse_ds -> image     exact: every golden image the reference
 *                                 re-serializes identically comes back
 *                                 byte for byte (HIP, KxQ, curMin and the
 *                                 HLL_4 exception order kept as read);
 *   muse_ds -> muse sketch        coupons added, registers set; images of
 *                                 a larger lgK fold down by slot & (K-1)
 *                                 with max, exactly as hll_union does;
 *   muse sketch -> muse_ds        what the reference holds for that set:
 *                                 up to 7 coupons a LIST, then (lgK >= 8)
 *                                 a SET built by inserting the coupons in
 *                                 ascending order with the reference's
 *                                 probe, growth and rehash rules, else HLL
 *                                 mode marked out of order with HIP 0, as
 *                                 an hll_union result is.  A HIP replayed
 *                                 over sorted coupons would be biased (the
 *                                 order depends on the hash), so none is
 *                                 claimed; the reference then uses its
 *                                 composite estimator.  KxQ (exact sums of
 *                                 powers of two), curMin and the HLL_4
 *                                 exceptions are rebuilt by replaying the
 *                                 registers in slot order through the
 *                                 HLL_4 update, as hll_union::get_result
 *                                 does, so a union of muse sketches
 *                                 exports to the same bytes as the
 *                                 reference union of the same inputs.
 *
 * Layout, in short (muse-format(5) has the tables): an 8-byte preamble
 * (preamble ints 2/3/10 for LIST/SET/HLL, serial version 1, family 7,
 * lgK, lgArr, flags, LIST count or HLL curMin, mode byte), then LIST
 * coupons; or a SET count and coupons; or HIP, KxQ0, KxQ1 (doubles),
 * numAtCurMin and the HLL_4 exception count, the registers (4, 6 or 8
 * bits a slot) and the HLL_4 exceptions.  Everything little-endian.
 *
 * The decoder distrusts every byte: preamble values, mode and type,
 * flags, the exact length for the mode and form, coupon values, the SET
 * table (every coupon reachable by its probe sequence, no repeats, the
 * fill the reference allows), register ranges, the HLL_4 exceptions (one
 * per saturated nibble, each above curMin + 14, no repeated slot), and,
 * unless flag 0x20 says the writer left them to be rebuilt, curMin,
 * numAtCurMin and both KxQ sums against the registers.
 *
 * The coupon estimator.  In LIST and SET modes the reference estimates
 * the distinct count from the coupon count c by cubic interpolation in a
 * table computed for its coupon space.  The closed form used here, the
 * expected number of draws that yield c distinct values out of 3 * 2^26
 * equally likely ones (the collision rate of coupons, whose values are
 * geometric), agrees with all of the reference's stored estimates to
 * within 2e-8 relative (c = 2 to 99984), far inside its bounds; it is an
 * estimate, not the reference's bits, and no image field depends on it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsketch.h"

#define PRE_LIST 2
#define PRE_SET 3
#define PRE_HLL 10
#define SER_VER 1
#define FAMILY_HLL 7
#define F_EMPTY 0x04
#define F_COMPACT 0x08
#define F_OOO 0x10
#define F_FULL 0x20
#define LIST_CELLS 8
#define SET_LG_MIN 5
#define HLL_HDR 40
#define AUX_TOKEN 15
#define ADDR26 0x3FFFFFFu

/* log2 of the initial HLL_4 exception table size, by lgK. */
static const uint8_t lg_aux_init[22] = {
	0, 0, 0, 0, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 11, 12, 13
};

void muse_ds_init(struct muse_ds *d)
{
	memset(d, 0, sizeof(*d));
}

void muse_ds_free(struct muse_ds *d)
{
	free(d->cp);
	free(d->reg);
	free(d->aux);
	muse_ds_init(d);
}

int muse_ds_type_parse(const char *s)
{
	static const char *const names[3][2] = {
		{ "hll4", "HLL_4" }, { "hll6", "HLL_6" }, { "hll8", "HLL_8" }
	};

	for (int t = 0; t < 3; t++)
		if (strcmp(s, names[t][0]) == 0 || strcmp(s, names[t][1]) == 0)
			return t;
	return -1;
}

const char *muse_ds_type_name(unsigned type)
{
	static const char *const names[3] = { "HLL_4", "HLL_6", "HLL_8" };

	return type < 3 ? names[type] : "?";
}

/* ---------------------------------------------------------------------
 * Hash tables: the SET (keyed by coupon) and the HLL_4 exceptions (keyed
 * by slot).  Both probe from key & mask with an odd stride taken from
 * the bits above the mask, and grow by two when over three quarters
 * full, reinserting the old cells in index order.
 */

/* SET: the cell of coupon c, or of the empty cell where it would go. */
static uint32_t set_find(const uint32_t *t, unsigned lg, uint32_t c,
	int *found)
{
	uint32_t mask = ((uint32_t)1 << lg) - 1, i = c & mask;
	uint32_t stride = ((c & ADDR26) >> lg) | 1;

	for (uint32_t n = 0; n <= mask; n++) {
		if (t[i] == 0 || t[i] == c) {
			*found = t[i] == c;
			return i;
		}
		i = (i + stride) & mask;
	}
	*found = 0;
	return UINT32_MAX;   /* full, which a valid table never is */
}

/* Aux: the cell of slot s (entry & (K - 1) == s), or an empty one. */
static uint32_t aux_find(const uint32_t *t, unsigned lg, uint32_t kmask,
	uint32_t s, int *found)
{
	uint32_t mask = ((uint32_t)1 << lg) - 1, i = s & mask;
	uint32_t stride = (s >> lg) | 1;

	for (uint32_t n = 0; n <= mask; n++) {
		if (t[i] == 0 || (t[i] & kmask) == s) {
			*found = t[i] != 0;
			return i;
		}
		i = (i + stride) & mask;
	}
	*found = 0;
	return UINT32_MAX;
}

/*
 * Inserts entry v (not present) into the table *t of 2^*lg cells holding
 * *n, growing it as the reference does.  For the SET, kmask is 0 and the
 * key is the coupon; for the exceptions the key is v & kmask.
 */
static int table_insert(uint32_t **t, unsigned *lg, uint32_t *n,
	uint32_t kmask, uint32_t v)
{
	int found;
	uint32_t i = kmask ? aux_find(*t, *lg, kmask, v & kmask, &found)
	    : set_find(*t, *lg, v, &found);

	if (i == UINT32_MAX)
		return MUSE_EFORMAT;
	(*t)[i] = v;
	(*n)++;
	if (4 * (uint64_t)*n > 3 * ((uint64_t)1 << *lg)) {
		size_t sz = (size_t)1 << *lg;
		uint32_t *nt = calloc(2 * sz, sizeof(*nt)), *old = *t;

		if (nt == NULL)
			return MUSE_ENOMEM;
		(*lg)++;
		for (size_t j = 0; j < sz; j++) {
			if (old[j] == 0)
				continue;
			i = kmask ? aux_find(nt, *lg, kmask, old[j] & kmask,
			    &found) : set_find(nt, *lg, old[j], &found);
			nt[i] = old[j];
		}
		free(old);
		*t = nt;
	}
	return 0;
}

/* The largest SET the reference keeps at lgK before it turns to HLL. */
static uint32_t set_max(unsigned lgk)
{
	return lgk < 8 ? LIST_CELLS - 1 : 3u << (lgk - 5);
}

/* ---------------------------------------------------------------------
 * Registers and HLL_4
 */

/*
 * The KxQ sums of the registers, from their histogram: every term is a
 * power of two and both sums are exact in a double (FORMAT of the
 * reference: kxq0 <= 2^21 with granularity 2^-31, kxq1 within 2^52 of
 * its smallest term), so the order of the additions does not matter and
 * 64 ldexp calls replace one a register.
 */
static void histogram(const uint8_t *reg, size_t k, uint32_t c[64])
{
	memset(c, 0, 64 * sizeof(*c));
	for (size_t i = 0; i < k; i++)
		c[reg[i] & 63]++;
}

static void kxq_of(const uint32_t c[64], double *k0, double *k1)
{
	double a = 0, b = 0;

	for (int v = 63; v >= 0; v--) {
		if (v < 32)
			a += ldexp((double)c[v], -v);
		else
			b += ldexp((double)c[v], -v);
	}
	*k0 = a;
	*k1 = b;
}

/*
 * Rebuilds curMin, numAtCurMin and the exception table of an HLL_4 from
 * d->reg by replaying the registers in slot order through the HLL_4
 * update (nibbles relative to curMin, shifting curMin up whenever no
 * register is left at it, the exception table rebuilt at each shift by
 * walking the old one in index order), as the reference's get_result
 * does.  nib is scratch of 2^lgk bytes.
 */
static int hll4_rebuild(struct muse_ds *d, uint8_t *nib)
{
	uint32_t k = (uint32_t)1 << d->lgk, kmask = k - 1;
	unsigned cur = 0;
	uint32_t nacm = k, *aux = NULL, naux = 0;
	unsigned lgaux = lg_aux_init[d->lgk];
	int rc, found;

	memset(nib, 0, k);
	for (uint32_t s = 0; s < k; s++) {
		unsigned v = d->reg[s], old;
		uint32_t at = 0;

		if (v <= cur)
			continue;
		if (nib[s] == AUX_TOKEN) {
			at = aux_find(aux, lgaux, kmask, s, &found);
			old = aux[at] >> 26;
		} else {
			old = nib[s] + cur;
		}
		if (v <= old)
			continue;
		if (nib[s] == AUX_TOKEN) {
			aux[at] = (uint32_t)v << 26 | s;
		} else if (v - cur >= AUX_TOKEN) {
			nib[s] = AUX_TOKEN;
			if (aux == NULL) {
				lgaux = lg_aux_init[d->lgk];
				aux = calloc((size_t)1 << lgaux, sizeof(*aux));
				if (aux == NULL)
					return MUSE_ENOMEM;
			}
			if ((rc = table_insert(&aux, &lgaux, &naux, kmask,
			    (uint32_t)v << 26 | s)) != 0)
				goto fail;
		} else {
			nib[s] = (uint8_t)(v - cur);
		}
		if (old == cur)
			nacm--;
		while (nacm == 0) {
			uint32_t *old_t = aux, old_n = naux;
			unsigned old_lg = lgaux;

			cur++;
			for (uint32_t j = 0; j < k; j++)
				if (nib[j] != AUX_TOKEN && --nib[j] == 0)
					nacm++;
			aux = NULL;
			naux = 0;
			lgaux = lg_aux_init[d->lgk];
			for (size_t j = 0; old_n && j < ((size_t)1 << old_lg);
			    j++) {
				uint32_t e = old_t[j], sl = e & kmask;

				if (e == 0)
					continue;
				if ((e >> 26) - cur < AUX_TOKEN) {
					nib[sl] = (uint8_t)((e >> 26) - cur);
					continue;
				}
				if (aux == NULL && (aux = calloc((size_t)1 <<
				    lgaux, sizeof(*aux))) == NULL) {
					free(old_t);
					return MUSE_ENOMEM;
				}
				if ((rc = table_insert(&aux, &lgaux, &naux,
				    kmask, e)) != 0) {
					free(old_t);
					goto fail;
				}
			}
			free(old_t);
		}
	}
	free(d->aux);
	d->aux = aux;
	d->naux = naux;
	d->lgaux = aux ? lgaux : 0;
	d->curmin = cur;
	d->nacm = nacm;
	return 0;
fail:
	free(aux);
	return rc;
}

static size_t reg_bytes(unsigned type, unsigned lgk)
{
	size_t k = (size_t)1 << lgk;

	return type == MUSE_DS_HLL4 ? k / 2 : type == MUSE_DS_HLL6 ?
	    3 * k / 4 + 1 : k;
}

/* ---------------------------------------------------------------------
 * Decoding
 */

static int bad(struct muse_err *e, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct muse_err *e, size_t off, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	muse_err_set(e, MUSE_EFORMAT, "datasketches image: %s", msg);
	e->offset = off;
	return MUSE_EFORMAT;
}

static int check_coupon(uint32_t c, size_t off, struct muse_err *e)
{
	if ((c >> 26) == 0)
		return bad(e, off, "coupon %#x has value 0", (unsigned)c);
	return 0;
}

static int decode_list(struct muse_ds *d, const uint8_t *p, size_t n,
	int compact, struct muse_err *e)
{
	uint32_t cnt = p[6];

	/* A compact LIST has no table, so its lgArr is not read. */
	if (!compact && p[4] != 3)
		return bad(e, 4, "LIST lgArr %u, not 3", p[4]);
	if (cnt >= LIST_CELLS)
		return bad(e, 6, "LIST count %u, more than 7", (unsigned)cnt);
	if (n != (compact ? 8 + 4 * (size_t)cnt : 8 + 4 * LIST_CELLS))
		return bad(e, n, "LIST of %u coupons is %zu bytes, not %zu",
		    (unsigned)cnt, n, compact ? 8 + 4 * (size_t)cnt :
		    (size_t)8 + 4 * LIST_CELLS);
	if ((d->cp = calloc(LIST_CELLS, sizeof(*d->cp))) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < (compact ? cnt : LIST_CELLS); i++) {
		uint32_t c = muse_le32(p + 8 + 4 * i);

		if (i >= cnt) {
			if (c != 0)
				return bad(e, 8 + 4 * i, "LIST cell %u "
				    "past the count is not empty",
				    (unsigned)i);
			continue;
		}
		if (check_coupon(c, 8 + 4 * i, e))
			return MUSE_EFORMAT;
		for (uint32_t j = 0; j < i; j++)
			if (d->cp[j] == c)
				return bad(e, 8 + 4 * i,
				    "LIST coupon %#x repeated", (unsigned)c);
		d->cp[i] = c;
	}
	d->count = cnt;
	d->lgarr = 3;
	return 0;
}

static int decode_set(struct muse_ds *d, const uint8_t *p, size_t n,
	int compact, struct muse_err *e)
{
	uint32_t cnt, i;
	unsigned lg;
	int rc, found;

	if (d->lgk < 8)
		return bad(e, 3, "SET mode at lgK %u (below 8)", d->lgk);
	if (n < 12)
		return bad(e, n, "SET image cut short");
	cnt = muse_le32(p + 8);
	if (cnt > set_max(d->lgk))
		return bad(e, 8, "SET count %u, more than %u at lgK %u",
		    (unsigned)cnt, (unsigned)set_max(d->lgk), d->lgk);
	if (compact) {
		if (n != 12 + 4 * (size_t)cnt)
			return bad(e, n, "SET of %u coupons is %zu bytes, "
			    "not %zu", (unsigned)cnt, n, 12 + 4 * (size_t)cnt);
		/* Re-inserted in stored order, as the reference reads it. */
		lg = SET_LG_MIN;
		if ((d->cp = calloc((size_t)1 << lg, sizeof(*d->cp))) == NULL)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		d->count = 0;
		for (i = 0; i < cnt; i++) {
			uint32_t c = muse_le32(p + 12 + 4 * i);

			if (check_coupon(c, 12 + 4 * i, e))
				return MUSE_EFORMAT;
			set_find(d->cp, lg, c, &found);
			if (found)
				return bad(e, 12 + 4 * i, "SET coupon %#x "
				    "repeated", (unsigned)c);
			rc = table_insert(&d->cp, &lg, &d->count, 0, c);
			if (rc == MUSE_ENOMEM)
				return muse_err_set(e, rc, "out of memory");
		}
		d->lgarr = lg;
		return 0;
	}
	lg = p[4];
	if (lg < SET_LG_MIN || lg > d->lgk - 3)
		return bad(e, 4, "SET lgArr %u outside %d..%u", lg, SET_LG_MIN,
		    d->lgk - 3);
	if (n != 12 + ((size_t)4 << lg))
		return bad(e, n, "SET table of 2^%u cells is %zu bytes, not %zu",
		    lg, n, 12 + ((size_t)4 << lg));
	if (4 * (uint64_t)cnt > 3 * ((uint64_t)1 << lg))
		return bad(e, 8, "SET count %u overfills 2^%u cells",
		    (unsigned)cnt, lg);
	if ((d->cp = malloc(((size_t)1 << lg) * sizeof(*d->cp))) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	for (i = 0; i < ((uint32_t)1 << lg); i++)
		d->cp[i] = muse_le32(p + 12 + 4 * i);
	d->count = 0;
	for (i = 0; i < ((uint32_t)1 << lg); i++) {
		uint32_t c = d->cp[i];

		if (c == 0)
			continue;
		if (check_coupon(c, 12 + 4 * i, e))
			return MUSE_EFORMAT;
		/* Its probe sequence must reach it before any gap or twin. */
		if (set_find(d->cp, lg, c, &found) != i)
			return bad(e, 12 + 4 * i, "SET coupon %#x misplaced "
			    "or repeated", (unsigned)c);
		d->count++;
	}
	if (d->count != cnt)
		return bad(e, 8, "SET count %u, but %u coupons in the table",
		    (unsigned)cnt, (unsigned)d->count);
	d->lgarr = lg;
	return 0;
}

/* Registers of the packed array at p into d->reg (HLL_4: nibbles). */
static int unpack(struct muse_ds *d, const uint8_t *p, struct muse_err *e)
{
	uint32_t k = (uint32_t)1 << d->lgk;
	uint8_t *r = d->reg, top = 0;

	if (d->type == MUSE_DS_HLL8) {
		memcpy(r, p, k);
		for (uint32_t s = 0; s < k; s++)
			top = r[s] > top ? r[s] : top;
		if (top > 63) {
			uint32_t s = 0;

			while (r[s] <= 63)
				s++;
			return bad(e, HLL_HDR + s, "register %u is %u, more "
			    "than 63", (unsigned)s, r[s]);
		}
	} else if (d->type == MUSE_DS_HLL6) {
		/* Four registers in every three bytes. */
		for (uint32_t s = 0; s < k; s += 4, p += 3) {
			uint32_t w = p[0] | p[1] << 8 | (uint32_t)p[2] << 16;

			r[s] = w & 0x3F;
			r[s + 1] = w >> 6 & 0x3F;
			r[s + 2] = w >> 12 & 0x3F;
			r[s + 3] = w >> 18 & 0x3F;
		}
		if (*p != 0)
			return bad(e, HLL_HDR + 3 * (size_t)k / 4,
			    "HLL_6 spare byte is not 0");
	} else {
		for (uint32_t j = 0; j < k / 2; j++) {
			r[2 * j] = p[j] & 0xF;
			r[2 * j + 1] = p[j] >> 4;
		}
	}
	return 0;
}

/*
 * HLL_4: turns nibbles into values and checks the exceptions, n of them
 * at q (compact, stored order) or a table of 2^lg cells at q.
 */
static int hll4_values(struct muse_ds *d, const uint8_t *q, size_t off,
	uint32_t n, int compact, unsigned lg, struct muse_err *e)
{
	uint32_t k = (uint32_t)1 << d->lgk, kmask = k - 1, seen = 0;
	uint32_t cells = compact ? n : (uint32_t)1 << lg;
	int found;

	if (compact) {
		lg = lg_aux_init[d->lgk];
		while (4 * (uint64_t)n > 3 * ((uint64_t)1 << lg))
			lg++;
	}
	if (n > 0 || !compact) {
		if ((d->aux = calloc((size_t)1 << lg, sizeof(*d->aux))) == NULL)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		d->lgaux = lg;
	}
	for (uint32_t i = 0; i < cells; i++) {
		uint32_t x = muse_le32(q + 4 * i), s = x & ADDR26, at;
		unsigned v = x >> 26;

		if (x == 0 && !compact)
			continue;
		if (s >= k || d->reg[s] != AUX_TOKEN)
			return bad(e, off + 4 * i, "exception for slot %u, "
			    "whose nibble is not 15", (unsigned)s);
		if (v < d->curmin + AUX_TOKEN || v > 63)
			return bad(e, off + 4 * i, "exception value %u outside "
			    "%u..63", v, d->curmin + AUX_TOKEN);
		at = aux_find(d->aux, lg, kmask, s, &found);
		if (found || (!compact && at != i))
			return bad(e, off + 4 * i, "exception for slot %u "
			    "repeated or misplaced", (unsigned)s);
		d->aux[at] = x;
		seen++;
	}
	if (seen != n)
		return bad(e, 36, "exception count %u, but %u in the table",
		    (unsigned)n, (unsigned)seen);
	d->naux = n;
	for (uint32_t s = 0; s < k; s++) {
		if (d->reg[s] == AUX_TOKEN) {
			uint32_t at = d->aux == NULL ? 0 :
			    aux_find(d->aux, lg, kmask, s, &found);

			if (d->aux == NULL || !found)
				return bad(e, HLL_HDR + s / 2, "nibble of slot "
				    "%u is 15 with no exception", (unsigned)s);
			d->reg[s] = (uint8_t)(d->aux[at] >> 26);
		} else if (d->reg[s] + d->curmin > 63) {
			return bad(e, HLL_HDR + s / 2, "register %u is %u, "
			    "more than 63", (unsigned)s, d->reg[s] + d->curmin);
		} else {
			d->reg[s] = (uint8_t)(d->reg[s] + d->curmin);
		}
	}
	if (d->naux == 0) {
		free(d->aux);
		d->aux = NULL;
		d->lgaux = 0;
	}
	return 0;
}

static int decode_hll(struct muse_ds *d, const uint8_t *p, size_t n,
	unsigned flags, int compact, struct muse_err *e)
{
	uint32_t k = (uint32_t)1 << d->lgk, naux, at_min = 0;
	size_t rb = reg_bytes(d->type, d->lgk), want;
	unsigned lg = p[4], low;
	uint32_t c[64];
	double k0, k1;

	if (n < HLL_HDR)
		return bad(e, n, "HLL image cut short in its header");
	d->curmin = p[6];
	memcpy(&d->hip, p + 8, 8);
	memcpy(&d->kxq0, p + 16, 8);
	memcpy(&d->kxq1, p + 24, 8);
	d->nacm = muse_le32(p + 32);
	naux = muse_le32(p + 36);
	if (d->curmin > 63)
		return bad(e, 6, "curMin %u, more than 63", d->curmin);
	if (!isfinite(d->hip) || d->hip < 0 || !isfinite(d->kxq0) ||
	    d->kxq0 < 0 || !isfinite(d->kxq1) || d->kxq1 < 0)
		return bad(e, 8, "HIP or KxQ not a finite value >= 0");
	if (d->type != MUSE_DS_HLL4) {
		if (naux != 0)
			return bad(e, 36, "%s with exception count %u",
			    muse_ds_type_name(d->type), (unsigned)naux);
		if (lg != 0)
			return bad(e, 4, "%s with lgArr %u, not 0",
			    muse_ds_type_name(d->type), lg);
		want = HLL_HDR + rb;
	} else if (naux > k) {
		return bad(e, 36, "exception count %u, more than K",
		    (unsigned)naux);
	} else if (compact) {
		want = HLL_HDR + rb + 4 * (size_t)naux;
	} else {
		if (lg == 0)
			lg = lg_aux_init[d->lgk];
		else if (lg < lg_aux_init[d->lgk] || lg > d->lgk)
			return bad(e, 4, "exception table lgArr %u outside "
			    "%u..%u", lg, lg_aux_init[d->lgk], d->lgk);
		want = HLL_HDR + rb + ((size_t)4 << lg);
	}
	if (n != want)
		return bad(e, n < want ? n : want, "%s image is %zu bytes, "
		    "not %zu", muse_ds_type_name(d->type), n, want);
	if ((d->reg = malloc(k)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if (unpack(d, p + HLL_HDR, e))
		return MUSE_EFORMAT;
	if (d->type == MUSE_DS_HLL4 && hll4_values(d, p + HLL_HDR + rb,
	    HLL_HDR + rb, naux, compact, lg, e))
		return MUSE_EFORMAT;
	/* The summary fields, unless the writer left them to be rebuilt. */
	histogram(d->reg, k, c);
	for (low = 0; c[low] == 0; low++)
		;
	at_min = c[d->curmin];
	if ((flags & F_EMPTY) && c[0] != k)
		return bad(e, 5, "EMPTY flag on registers that are set");
	if ((flags & F_FULL) && d->ooo) {
		/* Java's union marks such fields stale (flag 0x20). */
		kxq_of(c, &d->kxq0, &d->kxq1);
		if (d->type != MUSE_DS_HLL4)
			d->curmin = 0;
		d->nacm = c[d->curmin];
	} else {
		if (d->curmin > low || (d->type == MUSE_DS_HLL4 &&
		    d->curmin != low))
			return bad(e, 6, "curMin %u, but the least register "
			    "is %u", d->curmin, low);
		if (d->nacm != at_min)
			return bad(e, 32, "numAtCurMin %u, but %u registers "
			    "hold %u", (unsigned)d->nacm, (unsigned)at_min,
			    d->curmin);
		kxq_of(c, &k0, &k1);
		if (k0 != d->kxq0 || k1 != d->kxq1)
			return bad(e, 16, "KxQ sums do not match the "
			    "registers");
	}
	return 0;
}

int muse_ds_decode(struct muse_ds *d, const uint8_t *p, size_t n,
	struct muse_err *e)
{
	unsigned pre, flags, mode, type;
	int compact, rc;

	muse_ds_free(d);
	if (n < 8)
		return bad(e, n, "image of %zu bytes, shorter than its "
		    "8-byte preamble", n);
	pre = p[0];
	flags = p[5];
	mode = p[7] & 3;
	type = p[7] >> 2 & 3;
	if (p[1] != SER_VER)
		return bad(e, 1, "serial version %u, not 1", p[1]);
	if (p[2] != FAMILY_HLL)
		return bad(e, 2, "family %u, not 7 (HLL)", p[2]);
	if (p[3] < MUSE_HLL_LGK_MIN || p[3] > MUSE_HLL_LGK_MAX)
		return bad(e, 3, "lgK %u outside 4..21", p[3]);
	if (mode == 3 || type == 3 || p[7] > 15)
		return bad(e, 7, "mode byte %#x", p[7]);
	if (pre != (mode == MUSE_DS_LIST ? PRE_LIST : mode == MUSE_DS_SET ?
	    PRE_SET : PRE_HLL))
		return bad(e, 0, "preamble ints %u do not fit mode %u", pre,
		    mode);
	if (flags & 0xC0)
		return bad(e, 5, "unknown flags %#x", flags);
	d->lgk = p[3];
	d->mode = mode;
	d->type = type;
	d->ooo = !!(flags & F_OOO);
	d->full = !!(flags & F_FULL);
	/*
	 * HLL_6 and HLL_8 have one layout: Java writes it without the
	 * compact flag, so the flag is not trusted there.
	 */
	compact = !!(flags & F_COMPACT);
	if (mode == MUSE_DS_LIST)
		rc = decode_list(d, p, n, compact, e);
	else if (mode == MUSE_DS_SET)
		rc = decode_set(d, p, n, compact, e);
	else
		rc = decode_hll(d, p, n, flags, compact, e);
	if (rc == 0 && mode != MUSE_DS_HLL && (flags & F_EMPTY) &&
	    d->count != 0)
		rc = bad(e, 5, "EMPTY flag on %u coupons", (unsigned)d->count);
	if (rc != 0)
		muse_ds_free(d);
	return rc;
}

/* ---------------------------------------------------------------------
 * Encoding
 */

static void put_f64(uint8_t *p, double v)
{
	memcpy(p, &v, 8);
}

int muse_ds_encode(const struct muse_ds *d, int compact, struct muse_buf *out)
{
	uint32_t k = (uint32_t)1 << d->lgk;
	size_t rb = reg_bytes(d->type, d->lgk), len, at = out->len;
	unsigned flags = compact ? F_COMPACT : 0;
	uint8_t *p;

	if (d->ooo)
		flags |= F_OOO;
	if (d->full)
		flags |= F_FULL;
	if (d->mode == MUSE_DS_LIST)
		len = 8 + 4 * (size_t)(compact ? d->count : LIST_CELLS);
	else if (d->mode == MUSE_DS_SET)
		len = 12 + 4 * (compact ? (size_t)d->count :
		    (size_t)1 << d->lgarr);
	else if (d->type != MUSE_DS_HLL4)
		len = HLL_HDR + rb;
	else if (compact)
		len = HLL_HDR + rb + 4 * (size_t)d->naux;
	else
		len = HLL_HDR + rb + ((size_t)4 << (d->aux ? d->lgaux :
		    lg_aux_init[d->lgk]));
	if (muse_buf_reserve(out, len))
		return MUSE_ENOMEM;
	p = out->p + at;
	memset(p, 0, len);
	p[0] = d->mode == MUSE_DS_LIST ? PRE_LIST : d->mode == MUSE_DS_SET ?
	    PRE_SET : PRE_HLL;
	p[1] = SER_VER;
	p[2] = FAMILY_HLL;
	p[3] = (uint8_t)d->lgk;
	p[7] = (uint8_t)(d->type << 2 | d->mode);
	if (d->mode == MUSE_DS_LIST) {
		p[4] = 3;
		p[6] = (uint8_t)d->count;
		if (d->count == 0)
			flags |= F_EMPTY;
		for (uint32_t i = 0; i < d->count; i++)
			muse_st32(p + 8 + 4 * i, d->cp[i]);
	} else if (d->mode == MUSE_DS_SET) {
		uint32_t j = 0;

		p[4] = (uint8_t)d->lgarr;
		if (d->count == 0)
			flags |= F_EMPTY;
		muse_st32(p + 8, d->count);
		for (uint32_t i = 0; i < ((uint32_t)1 << d->lgarr); i++)
			if (!compact || d->cp[i] != 0)
				muse_st32(p + 12 + 4 * j++, d->cp[i]);
	} else {
		uint8_t *r = p + HLL_HDR;

		p[4] = (uint8_t)(d->type == MUSE_DS_HLL4 && d->aux ?
		    d->lgaux : 0);
		p[6] = (uint8_t)d->curmin;
		if (d->curmin == 0 && d->nacm == k)
			flags |= F_EMPTY;
		put_f64(p + 8, d->hip);
		put_f64(p + 16, d->kxq0);
		put_f64(p + 24, d->kxq1);
		muse_st32(p + 32, d->nacm);
		muse_st32(p + 36, d->type == MUSE_DS_HLL4 ? d->naux : 0);
		for (uint32_t s = 0; s < k; s++) {
			unsigned v = d->reg[s];

			if (d->type == MUSE_DS_HLL8) {
				r[s] = (uint8_t)v;
			} else if (d->type == MUSE_DS_HLL6) {
				size_t bit = 6 * (size_t)s;

				r[bit / 8] |= (uint8_t)(v << (bit % 8));
				r[bit / 8 + 1] |= (uint8_t)(v << (bit % 8) >> 8);
			} else {
				v = v - d->curmin >= AUX_TOKEN ? AUX_TOKEN :
				    v - d->curmin;
				r[s / 2] |= (uint8_t)(s & 1 ? v << 4 : v);
			}
		}
		if (d->type == MUSE_DS_HLL4 && d->aux) {
			uint32_t j = 0;

			for (uint32_t i = 0; i < ((uint32_t)1 << d->lgaux); i++)
				if (!compact || d->aux[i] != 0)
					muse_st32(r + rb + 4 * j++, d->aux[i]);
		}
	}
	p[5] = (uint8_t)flags;
	out->len += len;
	return 0;
}

/* ---------------------------------------------------------------------
 * Muse sketches
 */

int muse_ds_from_hll(struct muse_ds *d, const muse_hll *h, unsigned type)
{
	unsigned lgk = muse_hll_lgk(h);
	uint32_t k = (uint32_t)1 << lgk;
	const uint8_t *reg = muse_hll_registers(h);
	const uint32_t *c;
	uint32_t hist[64];
	size_t n;
	int rc;

	muse_ds_free(d);
	d->lgk = lgk;
	d->type = type;
	c = muse_hll_coupons(h, &n);
	if (reg == NULL && n < LIST_CELLS) {
		d->mode = MUSE_DS_LIST;
		d->lgarr = 3;
		if ((d->cp = calloc(LIST_CELLS, sizeof(*d->cp))) == NULL)
			return MUSE_ENOMEM;
		memcpy(d->cp, c, n * sizeof(*c));
		d->count = (uint32_t)n;
		return 0;
	}
	if (reg == NULL && lgk >= 8 && n <= set_max(lgk)) {
		d->mode = MUSE_DS_SET;
		d->lgarr = SET_LG_MIN;
		if ((d->cp = calloc((size_t)1 << SET_LG_MIN, 4)) == NULL)
			return MUSE_ENOMEM;
		for (size_t i = 0; i < n; i++)
			if ((rc = table_insert(&d->cp, &d->lgarr, &d->count, 0,
			    c[i])) != 0)
				goto fail;
		return 0;
	}
	d->mode = MUSE_DS_HLL;
	d->ooo = 1;
	if ((d->reg = calloc(k, 1)) == NULL)
		return MUSE_ENOMEM;
	if (reg != NULL) {
		memcpy(d->reg, reg, k);
	} else {
		for (size_t i = 0; i < n; i++) {
			uint8_t *r = &d->reg[c[i] & (k - 1)];

			if (c[i] >> 26 > *r)
				*r = (uint8_t)(c[i] >> 26);
		}
	}
	histogram(d->reg, k, hist);
	kxq_of(hist, &d->kxq0, &d->kxq1);
	if (type == MUSE_DS_HLL4) {
		uint8_t *nib = malloc(k);

		if (nib == NULL) {
			rc = MUSE_ENOMEM;
			goto fail;
		}
		rc = hll4_rebuild(d, nib);
		free(nib);
		if (rc != 0)
			goto fail;
	} else {
		d->nacm = hist[0];
	}
	return 0;
fail:
	muse_ds_free(d);
	return rc;
}

int muse_ds_merge_into(muse_hll *h, const struct muse_ds *d,
	struct muse_err *e)
{
	unsigned lgk = muse_hll_lgk(h);
	uint32_t k = (uint32_t)1 << lgk, kd = (uint32_t)1 << d->lgk;
	muse_hll *t;
	uint8_t *reg;
	int rc;

	if (d->mode != MUSE_DS_HLL) {
		uint32_t cells = d->mode == MUSE_DS_LIST ? d->count :
		    (uint32_t)1 << d->lgarr;

		for (uint32_t i = 0; i < cells; i++)
			if (d->cp[i] != 0 && (rc = muse_hll_add(h, d->cp[i])) != 0)
				return muse_err_set(e, rc, "out of memory");
		return 0;
	}
	if (d->lgk < lgk)
		return muse_err_set(e, MUSE_EPARAM, "HLL image at lgK %u "
		    "cannot join sketches at lgK %u (a sketch cannot gain "
		    "precision; choose lgK %u or less)", d->lgk, lgk, d->lgk);
	/* Fold a larger image down by slot & (K - 1), by maximum. */
	if ((reg = calloc(k, 1)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	for (uint32_t s = 0; s < kd; s++)
		if (d->reg[s] > reg[s & (k - 1)])
			reg[s & (k - 1)] = d->reg[s];
	t = muse_hll_new(lgk);
	rc = t == NULL ? MUSE_ENOMEM : muse_hll_set_registers(t, reg);
	if (rc == 0)
		rc = muse_hll_merge(h, t);
	muse_hll_free(t);
	free(reg);
	if (rc != 0)
		return muse_err_set(e, rc, "out of memory");
	return 0;
}

/* Draws that give c distinct values out of 3 * 2^26 on average. */
static double coupon_estimate(uint32_t c)
{
	const double m = 3.0 * (1 << 26);
	double f;

	if (c == 0)
		return 0;
	f = log1p(-(double)c / m) / log1p(-1 / m);
	return f > c ? f : c;
}

double muse_ds_estimate(const struct muse_ds *d)
{
	muse_hll *h;
	double v;

	if (d->mode != MUSE_DS_HLL)
		return coupon_estimate(d->count);
	if (!d->ooo)
		return d->hip;
	h = muse_hll_new(d->lgk);
	if (h == NULL || muse_hll_set_registers(h, d->reg) != 0) {
		muse_hll_free(h);
		return NAN;
	}
	v = muse_hll_estimate(h);
	muse_hll_free(h);
	return v;
}

int muse_ds_export(const muse_hll *h, unsigned type, struct muse_buf *out)
{
	struct muse_ds d;
	int rc;

	muse_ds_init(&d);
	rc = muse_ds_from_hll(&d, h, type);
	if (rc == 0)
		rc = muse_ds_encode(&d, 1, out);
	muse_ds_free(&d);
	return rc;
}

/* ---------------------------------------------------------------------
 * Base64
 */

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int muse_b64_encode(const uint8_t *p, size_t n, struct muse_buf *out)
{
	char *w;

	if (n == 0)
		return 0;
	if (muse_buf_reserve(out, (n + 2) / 3 * 4))
		return MUSE_ENOMEM;
	w = (char *)out->p + out->len;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] : 0)
		    << 8 | (i + 2 < n ? p[i + 2] : 0);

		*w++ = b64[v >> 18];
		*w++ = b64[v >> 12 & 63];
		*w++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*w++ = i + 2 < n ? b64[v & 63] : '=';
	}
	out->len += (n + 2) / 3 * 4;
	return 0;
}

static int b64_val(char c)
{
	const char *q = c ? strchr(b64, c) : NULL;

	return q ? (int)(q - b64) : -1;
}

int muse_b64_decode(const char *s, size_t n, struct muse_buf *out,
	struct muse_err *e)
{
	size_t pad = 0;

	if (n % 4 != 0)
		return muse_err_set(e, MUSE_EINPUT, "base64 text of %zu "
		    "characters, not a multiple of 4", n);
	if (n >= 1 && s[n - 1] == '=')
		pad = n >= 2 && s[n - 2] == '=' ? 2 : 1;
	if (muse_buf_reserve(out, n / 4 * 3))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i += 4) {
		uint32_t v = 0;

		for (size_t j = 0; j < 4; j++) {
			int x = b64_val(s[i + j]);

			if (x < 0 && !(i + j >= n - pad))
				return muse_err_set(e, MUSE_EINPUT, "bad "
				    "base64 character at %zu", i + j + 1);
			v = v << 6 | (x < 0 ? 0 : (uint32_t)x);
		}
		out->p[out->len++] = (uint8_t)(v >> 16);
		if (i + 4 < n || pad < 2)
			out->p[out->len++] = (uint8_t)(v >> 8);
		if (i + 4 < n || pad < 1)
			out->p[out->len++] = (uint8_t)v;
		/* Padding hides bits that must be zero (canonical form). */
		if (i + 4 == n && ((pad == 1 && (v & 0xFF)) ||
		    (pad == 2 && (v & 0xFFFF))))
			return muse_err_set(e, MUSE_EINPUT, "base64 padding "
			    "hides set bits");
	}
	return 0;
}
