/*
 * fuzz_dsketch.c - the DataSketches HLL image decoder (lib/dsketch.h) and
 * what is done with a decoded image: encode in both forms, estimate, fold
 * into muse sketches, export again; and the base64 decoder.
 *
 * The input is one image.  Checks: a refusal is MUSE_EFORMAT; a decoded
 * image encodes (compact and updatable) to images of the same mode, type
 * and lgK that decode to the same coupons or registers; the estimate is
 * finite and not negative; the image folds into a muse sketch of its lgK
 * (and into one of lgK 4, since images fold down), and that sketch
 * exports to an image that decodes to the same coupons or registers.  The same bytes are also read as
 * base64 text: a refusal is MUSE_EINPUT, and an accepted text encodes
 * back to itself.
 */
#include <math.h>

#include "fuzz.h"

#include "dsketch.h"
#include "hll.h"

static int same(const struct muse_buf *a, const struct muse_buf *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->p, b->p, a->len) == 0);
}

/* The registers of h (coupons folded when sparse), K bytes malloc'd. */
static uint8_t *regs_of(const muse_hll *h)
{
	size_t k = (size_t)1 << muse_hll_lgk(h), n;
	uint8_t *r = calloc(k, 1);
	const uint32_t *c = muse_hll_coupons(h, &n);

	if (r == NULL)
		abort();
	if (c == NULL) {
		memcpy(r, muse_hll_registers(h), k);
		return r;
	}
	for (size_t i = 0; i < n; i++)
		if (c[i] >> 26 > r[c[i] & (k - 1)])
			r[c[i] & (k - 1)] = (uint8_t)(c[i] >> 26);
	return r;
}

/*
 * The same coupons when both are sparse, else the same registers (an
 * image in HLL mode holds registers where muse may still keep coupons).
 */
static int same_hll(const muse_hll *a, const muse_hll *b)
{
	struct muse_buf x = { 0 }, y = { 0 };
	int ok;

	if (muse_hll_is_dense(a) || muse_hll_is_dense(b)) {
		uint8_t *ra = regs_of(a), *rb = regs_of(b);

		ok = memcmp(ra, rb, (size_t)1 << muse_hll_lgk(a)) == 0;
		free(ra);
		free(rb);
		return ok;
	}
	FZ_CHECK(muse_hll_encode(a, &x) == 0 && muse_hll_encode(b, &y) == 0);
	ok = same(&x, &y);
	muse_buf_free(&x);
	muse_buf_free(&y);
	return ok;
}

/* d2 has d's mode, type and lgK, and the same coupons or registers. */
static int same_ds(const struct muse_ds *d, const struct muse_ds *d2)
{
	muse_hll *a = muse_hll_new(d->lgk), *b = muse_hll_new(d->lgk);
	struct muse_err e;
	int ok;

	FZ_CHECK(a && b);
	ok = d->mode == d2->mode && d->type == d2->type && d->lgk == d2->lgk &&
	    muse_ds_merge_into(a, d, &e) == 0 &&
	    muse_ds_merge_into(b, d2, &e) == 0 && same_hll(a, b);
	muse_hll_free(a);
	muse_hll_free(b);
	return ok;
}

static void base64(const uint8_t *data, size_t size)
{
	struct muse_buf bin = { 0 }, txt = { 0 };
	struct muse_err e;

	if (muse_b64_decode((const char *)data, size, &bin, &e) != 0) {
		FZ_CHECK(e.code == MUSE_EINPUT);
	} else {
		FZ_CHECK(muse_b64_encode(bin.p, bin.len, &txt) == 0);
		FZ_CHECK(txt.len == size && (size == 0 ||
		    memcmp(txt.p, data, size) == 0));
	}
	muse_buf_free(&bin);
	muse_buf_free(&txt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct muse_ds d, d2, d3;
	struct muse_buf c1 = { 0 }, c2 = { 0 }, u1 = { 0 }, u2 = { 0 };
	struct muse_err e;
	muse_hll *h, *h4, *back;
	double est;

	base64(data, size);
	muse_ds_init(&d);
	muse_ds_init(&d2);
	muse_ds_init(&d3);
	if (muse_ds_decode(&d, data, size, &e) != 0) {
		FZ_CHECK(e.code == MUSE_EFORMAT);
		return 0;
	}
	/* Both forms decode to the same state. */
	FZ_CHECK(muse_ds_encode(&d, 1, &c1) == 0);
	FZ_CHECK(muse_ds_encode(&d, 0, &u1) == 0);
	FZ_CHECK(muse_ds_decode(&d2, c1.p, c1.len, &e) == 0);
	FZ_CHECK(same_ds(&d, &d2));
	FZ_CHECK(muse_ds_decode(&d3, u1.p, u1.len, &e) == 0);
	FZ_CHECK(same_ds(&d, &d3));
	FZ_CHECK(muse_ds_encode(&d3, 0, &u2) == 0);
	FZ_CHECK(u1.len == u2.len);
	est = muse_ds_estimate(&d);
	FZ_CHECK(isfinite(est) && est >= 0);

	/* Into muse sketches, and out again. */
	h = muse_hll_new(d.lgk);
	h4 = muse_hll_new(4);
	back = muse_hll_new(d.lgk);
	FZ_CHECK(h && h4 && back);
	FZ_CHECK(muse_ds_merge_into(h, &d, &e) == 0);
	FZ_CHECK(muse_ds_merge_into(h4, &d, &e) == 0);
	muse_ds_free(&d2);
	c2.len = 0;
	FZ_CHECK(muse_ds_export(h, d.type, &c2) == 0);
	FZ_CHECK(muse_ds_decode(&d2, c2.p, c2.len, &e) == 0);
	FZ_CHECK(muse_ds_merge_into(back, &d2, &e) == 0);
	FZ_CHECK(same_hll(h, back));
	muse_hll_free(h);
	muse_hll_free(h4);
	muse_hll_free(back);
	muse_ds_free(&d);
	muse_ds_free(&d2);
	muse_ds_free(&d3);
	muse_buf_free(&c1);
	muse_buf_free(&c2);
	muse_buf_free(&u1);
	muse_buf_free(&u2);
	return 0;
}
