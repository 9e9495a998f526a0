/*
 * sketch.c - sketch record encoding, key order and accumulation.
 *
 * Key order is the order of the dimensions (title, asset, date, segment,
 * country); strings compare bytewise (a proper prefix first) and dates as
 * numbers.  Sorted sketch streams are in this order with no key repeated,
 * which is what lets muse-merge combine sorted inputs in one pass.
 */
#include <string.h>

#include "sketch.h"

int muse_acc_init(struct muse_acc *a, unsigned lgk)
{
	memset(a, 0, sizeof(*a));
	a->reach = muse_hll_new(lgk);
	a->qreach = muse_hll_new(lgk);
	a->areach = muse_hll_new(lgk);
	if (!a->reach || !a->qreach || !a->areach) {
		muse_acc_free(a);
		return MUSE_ENOMEM;
	}
	return 0;
}

void muse_acc_clear(struct muse_acc *a)
{
	a->impressions = a->plays = a->qplays = a->watch_ms = 0;
	muse_hll_clear(a->reach);
	muse_hll_clear(a->qreach);
	muse_hll_clear(a->areach);
}

void muse_acc_free(struct muse_acc *a)
{
	muse_hll_free(a->reach);
	muse_hll_free(a->qreach);
	muse_hll_free(a->areach);
	memset(a, 0, sizeof(*a));
}

int muse_acc_merge(struct muse_acc *dst, const struct muse_acc *src)
{
	dst->impressions += src->impressions;
	dst->plays += src->plays;
	dst->qplays += src->qplays;
	dst->watch_ms += src->watch_ms;
	if (muse_hll_merge(dst->reach, src->reach) ||
	    muse_hll_merge(dst->qreach, src->qreach) ||
	    muse_hll_merge(dst->areach, src->areach))
		return MUSE_ENOMEM;
	return 0;
}

int muse_key_encode(uint8_t dims, const struct muse_key *k,
	struct muse_buf *out)
{
	for (int d = 0; d < MUSE_NDIMS; d++) {
		if (!(dims & (1u << d)))
			continue;
		if (d == MUSE_DIM_DATE) {
			if (muse_buf_put_varint(out, (uint64_t)k->day))
				return MUSE_ENOMEM;
		} else if (muse_buf_put_str(out, k->s[d].p, k->s[d].n)) {
			return MUSE_ENOMEM;
		}
	}
	return 0;
}

int muse_key_decode(uint8_t dims, const uint8_t *p, const uint8_t *end,
	struct muse_key *k, const uint8_t **after)
{
	for (int d = 0; d < MUSE_NDIMS; d++) {
		if (!(dims & (1u << d))) {
			k->s[d].p = NULL;
			k->s[d].n = 0;
			continue;
		}
		if (d == MUSE_DIM_DATE) {
			uint64_t v;

			/* Days up to year 9999 (2932896) fit easily. */
			if (muse_get_varint(&p, end, &v) || v > 2932896)
				return -1;
			k->day = (int64_t)v;
		} else if (muse_get_str(&p, end, &k->s[d].p, &k->s[d].n) ||
		    k->s[d].n == 0 || k->s[d].n > 255) {
			return -1;
		}
	}
	if (!(dims & (1u << MUSE_DIM_DATE)))
		k->day = 0;
	*after = p;
	return 0;
}

static int str_cmp(const struct muse_str *a, const struct muse_str *b)
{
	size_t n = a->n < b->n ? a->n : b->n;
	int c = n ? memcmp(a->p, b->p, n) : 0;

	if (c)
		return c;
	return (a->n > b->n) - (a->n < b->n);
}

int muse_key_cmp(uint8_t dims, const struct muse_key *a,
	const struct muse_key *b)
{
	for (int d = 0; d < MUSE_NDIMS; d++) {
		int c;

		if (!(dims & (1u << d)))
			continue;
		if (d == MUSE_DIM_DATE)
			c = (a->day > b->day) - (a->day < b->day);
		else
			c = str_cmp(&a->s[d], &b->s[d]);
		if (c)
			return c;
	}
	return 0;
}

int muse_rec_cmp(uint8_t dims, const uint8_t *a, size_t an, const uint8_t *b,
	size_t bn)
{
	struct muse_key ka, kb;
	const uint8_t *x;

	muse_key_decode(dims, a, a + an, &ka, &x);
	muse_key_decode(dims, b, b + bn, &kb, &x);
	return muse_key_cmp(dims, &ka, &kb);
}

int muse_rec_encode(const struct muse_header *h, const struct muse_key *k,
	const struct muse_acc *a, struct muse_buf *out)
{
	if (muse_key_encode(h->dims, k, out) ||
	    muse_buf_put_varint(out, a->impressions) ||
	    muse_buf_put_varint(out, a->plays) ||
	    muse_buf_put_varint(out, a->qplays) ||
	    muse_buf_put_varint(out, a->watch_ms) ||
	    muse_hll_encode(a->reach, out) ||
	    muse_hll_encode(a->qreach, out) ||
	    muse_hll_encode(a->areach, out))
		return MUSE_ENOMEM;
	return 0;
}

int muse_rec_decode(const struct muse_header *h, const uint8_t *p, size_t n,
	struct muse_key *k, struct muse_acc *a, struct muse_err *e)
{
	const uint8_t *end = p + n;
	int rc;

	if (muse_key_decode(h->dims, p, end, k, &p) ||
	    muse_get_varint(&p, end, &a->impressions) ||
	    muse_get_varint(&p, end, &a->plays) ||
	    muse_get_varint(&p, end, &a->qplays) ||
	    muse_get_varint(&p, end, &a->watch_ms))
		return muse_err_set(e, MUSE_EFORMAT, "malformed sketch record");
	if ((rc = muse_hll_decode(a->reach, &p, end, e)) ||
	    (rc = muse_hll_decode(a->qreach, &p, end, e)) ||
	    (rc = muse_hll_decode(a->areach, &p, end, e)))
		return rc;
	if (p != end)
		return muse_err_set(e, MUSE_EFORMAT,
		    "sketch record has trailing bytes");
	if (a->qplays > a->plays)
		return muse_err_set(e, MUSE_EFORMAT,
		    "sketch record has more qualified plays than plays");
	return 0;
}

/* ---- folds: many records united as they are decoded ---- */

int muse_fold_init(struct muse_fold *f, unsigned lgk)
{
	memset(f, 0, sizeof(*f));
	f->reach = muse_hll_union_new(lgk);
	f->qreach = muse_hll_union_new(lgk);
	f->areach = muse_hll_union_new(lgk);
	if (!f->reach || !f->qreach || !f->areach) {
		muse_fold_free(f);
		return MUSE_ENOMEM;
	}
	return 0;
}

void muse_fold_free(struct muse_fold *f)
{
	muse_hll_union_free(f->reach);
	muse_hll_union_free(f->qreach);
	muse_hll_union_free(f->areach);
	memset(f, 0, sizeof(*f));
}

int muse_rec_fold(const struct muse_header *h, const uint8_t *p, size_t n,
	struct muse_fold *f, struct muse_err *e)
{
	const uint8_t *end = p + n;
	struct muse_key k;
	uint64_t impressions, plays, qplays, watch_ms;
	int rc;

	if (muse_key_decode(h->dims, p, end, &k, &p) ||
	    muse_get_varint(&p, end, &impressions) ||
	    muse_get_varint(&p, end, &plays) ||
	    muse_get_varint(&p, end, &qplays) ||
	    muse_get_varint(&p, end, &watch_ms))
		return muse_err_set(e, MUSE_EFORMAT, "malformed sketch record");
	if ((rc = muse_hll_union_decode(f->reach, &p, end, e)) ||
	    (rc = muse_hll_union_decode(f->qreach, &p, end, e)) ||
	    (rc = muse_hll_union_decode(f->areach, &p, end, e)))
		return rc;
	if (p != end)
		return muse_err_set(e, MUSE_EFORMAT,
		    "sketch record has trailing bytes");
	if (qplays > plays)
		return muse_err_set(e, MUSE_EFORMAT,
		    "sketch record has more qualified plays than plays");
	f->impressions += impressions;
	f->plays += plays;
	f->qplays += qplays;
	f->watch_ms += watch_ms;
	return 0;
}

int muse_fold_get(struct muse_fold *f, struct muse_acc *a)
{
	int rc;

	a->impressions = f->impressions;
	a->plays = f->plays;
	a->qplays = f->qplays;
	a->watch_ms = f->watch_ms;
	if ((rc = muse_hll_union_get(f->reach, a->reach)) ||
	    (rc = muse_hll_union_get(f->qreach, a->qreach)) ||
	    (rc = muse_hll_union_get(f->areach, a->areach)))
		return rc;
	f->impressions = f->plays = f->qplays = f->watch_ms = 0;
	return 0;
}
