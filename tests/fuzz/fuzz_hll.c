/*
 * fuzz_hll.c - the HLL field decoder (lib/hll.h) and what is done with a
 * decoded sketch: encode, estimate, bounds, copy, add, merge.
 *
 * The first byte chooses lgk (4 + byte mod 18, so 4..21); the rest is a
 * sequence of encoded sketches, decoded one after the other into the same
 * sketch (so every change of form, sparse to dense and back, is tried)
 * until one is refused or the input ends.
 *
 * Checks: the decoder accepts only canonical fields, so each decoded
 * sketch encodes back to exactly its bytes; the estimate is finite and
 * not negative, and exact (the coupon count) when sparse; bounds are
 * finite with lo <= hi; the coupons of a sparse sketch are sorted and
 * distinct, and adding them one by one to an empty sketch gives the same
 * bytes; a copy encodes the same; merge is commutative and idempotent (the
 * running union of all sketches decoded, merged both ways).
 */
#include <math.h>

#include "fuzz.h"

#include "hll.h"

static void encode(const muse_hll *h, struct muse_buf *b)
{
	b->len = 0;
	FZ_CHECK(muse_hll_encode(h, b) == 0);
}

static int same(const struct muse_buf *a, const struct muse_buf *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct muse_buf b = { 0 }, b2 = { 0 };
	const uint8_t *p, *end;
	muse_hll *h, *t, *acc, *u;
	unsigned lgk;

	if (size < 1)
		return 0;
	lgk = 4 + data[0] % 18;
	p = data + 1;
	end = data + size;
	if ((h = muse_hll_new(lgk)) == NULL || (t = muse_hll_new(lgk)) == NULL ||
	    (acc = muse_hll_new(lgk)) == NULL || (u = muse_hll_new(lgk)) == NULL)
		abort();
	FZ_CHECK(muse_hll_lgk(h) == lgk && muse_hll_is_empty(h));
	while (p < end) {
		const uint8_t *start = p;
		struct muse_err e;
		double est, lo, hi;
		size_t n;
		const uint32_t *cp;

		if (muse_hll_decode(h, &p, end, &e) != 0) {
			FZ_CHECK(p == start);
			break;
		}
		FZ_CHECK(p > start && p <= end);
		encode(h, &b);
		FZ_CHECK(b.len == (size_t)(p - start) &&
		    memcmp(b.p, start, b.len) == 0);

		/* Finite even with every register at 63 (hll-2 of README.md). */
		est = muse_hll_estimate(h);
		FZ_CHECK(isfinite(est) && est >= 0);
		muse_hll_bounds(h, 1.96, &lo, &hi);
		FZ_CHECK(isfinite(lo) && isfinite(hi) && lo <= hi);
		FZ_CHECK(isfinite(muse_hll_rse(h)));

		cp = muse_hll_coupons(h, &n);
		if (muse_hll_is_dense(h)) {
			FZ_CHECK(cp == NULL && muse_hll_registers(h) != NULL);
		} else {
			FZ_CHECK(cp != NULL && muse_hll_registers(h) == NULL);
			FZ_CHECK(n <= MUSE_HLL_SPARSE_MAX(lgk));
			FZ_CHECK(est == (double)n);
			FZ_CHECK((n == 0) == (muse_hll_is_empty(h) != 0));
			muse_hll_clear(t);
			for (size_t i = 0; i < n; i++) {
				FZ_CHECK(i == 0 || cp[i - 1] < cp[i]);
				FZ_CHECK(muse_hll_add(t, cp[i]) == 0);
			}
			encode(t, &b2);
			FZ_CHECK(same(&b, &b2));
		}

		FZ_CHECK(muse_hll_copy(t, h) == 0);
		encode(t, &b2);
		FZ_CHECK(same(&b, &b2));

		/* t = h + acc, u = acc + h: the same set. */
		FZ_CHECK(muse_hll_merge(t, acc) == 0);
		FZ_CHECK(muse_hll_copy(u, acc) == 0);
		FZ_CHECK(muse_hll_merge(u, h) == 0);
		encode(t, &b);
		encode(u, &b2);
		FZ_CHECK(same(&b, &b2));
		FZ_CHECK(muse_hll_merge(u, h) == 0);
		encode(u, &b2);
		FZ_CHECK(same(&b, &b2));
		FZ_CHECK(muse_hll_copy(acc, u) == 0);
		FZ_CHECK(muse_hll_estimate(acc) >= 0);
	}
	muse_hll_free(h);
	muse_hll_free(t);
	muse_hll_free(acc);
	muse_hll_free(u);
	muse_buf_free(&b);
	muse_buf_free(&b2);
	return 0;
}
