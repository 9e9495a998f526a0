/*
 * test_hll.c - unit tests for lib/hll.c: coupon derivation against the
 * DataSketches vectors, canonical encoding and its decoder's checks, the
 * algebra of merge (commutative, associative, idempotent, equal to adding
 * everything to one sketch, independent of order and batching), the
 * sparse-to-dense switch, and the accuracy that SPEC section 5 promises.
 *
 * Items in the accuracy runs are random 64-bit words (a per-trial base
 * plus a counter) pushed through two different mixers to make h1 and h2;
 * hashing real bytes would only slow the runs down.  Every seed is fixed,
 * so each run computes the same numbers.  "quick" as the first argument,
 * or MUSE_TEST_QUICK=1, cuts the trials for the sanitizer build; the
 * accuracy checks then widen to what the fewer trials can show.
 *
 * Output is TAP-like ("ok N - name"); the accuracy table comes out as "# "
 * lines for the man page.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hll.h"

#include "check.h"

/* ---------------------------------------------------------------------
 * Harness
 */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "test_hll: out of memory\n");
		exit(1);
	}
	return p;
}

static muse_hll *xnew(unsigned lgk)
{
	muse_hll *h = muse_hll_new(lgk);

	if (h == NULL) {
		fprintf(stderr, "test_hll: muse_hll_new(%u) failed\n", lgk);
		exit(1);
	}
	return h;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------
 * Items
 */

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* MurmurHash3's finaliser: a second mixer, unrelated to splitmix64. */
static uint64_t fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xFF51AFD7ED558CCDULL;
	x ^= x >> 33;
	x *= 0xC4CEB9FE1A85EC53ULL;
	return x ^ (x >> 33);
}

/* The coupon of item x: h1 and h2 from two independent mixes of x. */
static uint32_t item(uint64_t x)
{
	uint64_t h1 = splitmix64(x), h2 = fmix64(x ^ 0x2545F4914F6CDD1DULL);

	return muse_hll_coupon(h1, h2);
}

/* Adds items base + i for i in [lo, hi). */
static void add_range(muse_hll *h, uint64_t base, uint64_t lo, uint64_t hi)
{
	uint64_t i;

	for (i = lo; i < hi; i++)
		if (muse_hll_add(h, item(base + i)) != 0) {
			fprintf(stderr, "test_hll: add failed\n");
			exit(1);
		}
}

/* A small deterministic generator for shuffles and simulations. */
struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	return splitmix64(r->s++ * 0x9E3779B97F4A7C15ULL);
}

/* Uniform in (0, 1]. */
static double rng_unit(struct rng *r)
{
	return ((rng_next(r) >> 11) + 1) * 0x1p-53;
}

static void shuffle(uint64_t *a, size_t n, struct rng *r)
{
	size_t i;

	for (i = n; i > 1; i--) {
		size_t j = (size_t)(rng_next(r) % i);
		uint64_t t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* ---------------------------------------------------------------------
 * Encodings
 */

struct enc {
	uint8_t *p;
	size_t len;
};

static struct enc encode(const muse_hll *h)
{
	struct muse_buf b = { 0 };
	struct enc r;

	if (muse_hll_encode(h, &b) != 0) {
		fprintf(stderr, "test_hll: encode failed\n");
		exit(1);
	}
	r.p = b.p;
	r.len = b.len;
	return r;
}

static int same_bytes(const muse_hll *a, const muse_hll *b)
{
	struct enc x = encode(a), y = encode(b);
	int same = x.len == y.len && memcmp(x.p, y.p, x.len) == 0;

	free(x.p);
	free(y.p);
	return same;
}

/* Decodes all of p[0..n) into h; 0, or the error code. */
static int decode_all(muse_hll *h, const uint8_t *p, size_t n,
	struct muse_err *e)
{
	const uint8_t *q = p;
	int rc;

	muse_err_clear(e);
	rc = muse_hll_decode(h, &q, p + n, e);
	if (rc == 0 && q != p + n)
		return 1;
	return rc;
}

/* A sketch of items base + [lo, hi) at lgk. */
static muse_hll *sketch(unsigned lgk, uint64_t base, uint64_t lo, uint64_t hi)
{
	muse_hll *h = xnew(lgk);

	add_range(h, base, lo, hi);
	return h;
}

static muse_hll *merged(const muse_hll *a, const muse_hll *b)
{
	muse_hll *h = xnew(muse_hll_lgk(a));

	if (muse_hll_copy(h, a) != 0 || muse_hll_merge(h, b) != 0) {
		fprintf(stderr, "test_hll: copy or merge failed\n");
		exit(1);
	}
	return h;
}

/* ---------------------------------------------------------------------
 * Coupons and registers
 */

/* Rows of the DataSketches vectors (interop/datasketches coupons.tsv). */
static const struct {
	uint64_t h1, h2;
	uint32_t coupon;
	unsigned value, slot14;
} vectors[] = {
	{ 0x40890191dcc2d7cbULL, 0x9a7acdbe1b80efb2ULL, 0x04c2d7cb, 1, 6091 },
	{ 0x3d3ae10225f92f86ULL, 0x36ea833e82fcfb0aULL, 0x0df92f86, 3, 12166 },
	{ 0x2999228ce4e6657bULL, 0x735fd1816fc2ad0bULL, 0x08e6657b, 2, 9595 },
	{ 0xfc6b7296ee465bb0ULL, 0x17ac6fd223ad841fULL, 0x12465bb0, 4, 7088 },
	{ 0x7f17b2f1eb5bf0ceULL, 0x031e73458b5585abULL, 0x1f5bf0ce, 7, 12494 },
	{ 0x395c1979c09be49eULL, 0x0616a7802a570759ULL, 0x189be49e, 6, 9374 },
	{ 0x526c530dae8773aaULL, 0x0e7a31170a4223aaULL, 0x168773aa, 5, 13226 },
	{ 0xd05b995330bc50d4ULL, 0xe51f1c0b50b9beb6ULL, 0x04bc50d4, 1, 4308 },
	{ 0x1cf79f8c1be764d9ULL, 0x64879b0f1ffb7e86ULL, 0x0be764d9, 2, 9433 },
	{ 0xdf226fa7a64cbb4bULL, 0x7f0156f937db8ac3ULL, 0x0a4cbb4b, 2, 15179 },
	{ 0x9d65180a94df5057ULL, 0x038f797332837922ULL, 0x1cdf5057, 7, 4183 },
};

static void test_coupons(void)
{
	size_t i, nv = sizeof(vectors) / sizeof(vectors[0]);
	muse_hll *h = xnew(14);
	const uint8_t *reg;
	int good = 1;

	for (i = 0; i < nv; i++)
		good &= muse_hll_coupon(vectors[i].h1, vectors[i].h2) ==
		    vectors[i].coupon;
	check(good, "coupons match the DataSketches vectors");
	/* The value saturates at 63 for 62 or more leading zeros. */
	check(muse_hll_coupon(5, 0) == (63u << 26 | 5) &&
	    muse_hll_coupon(5, 1) == (63u << 26 | 5) &&
	    muse_hll_coupon(5, 2) == (63u << 26 | 5) &&
	    muse_hll_coupon(5, 4) == (62u << 26 | 5) &&
	    muse_hll_coupon(5, UINT64_MAX) == (1u << 26 | 5),
	    "coupon values saturate at 63");

	/* Filler coupons of value 1 make the sketch dense without masking. */
	for (i = 0; i <= MUSE_HLL_SPARSE_MAX(14); i++)
		muse_hll_add(h, 1u << 26 | (uint32_t)i * 3);
	for (i = 0; i < nv; i++)
		muse_hll_add(h, vectors[i].coupon);
	reg = muse_hll_registers(h);
	good = reg != NULL;
	for (i = 0; good && i < nv; i++)
		good &= reg[vectors[i].slot14] == vectors[i].value;
	check(good, "dense registers take the DataSketches slot and value");
	muse_hll_free(h);
}

/* ---------------------------------------------------------------------
 * Handles, encoding and decoding
 */

static void test_basics(void)
{
	muse_hll *h = xnew(14), *g = xnew(12);
	const uint32_t *c;
	uint32_t prev = 0;
	size_t n, i;
	double lo, hi;
	int good;

	check(muse_hll_new(3) == NULL && muse_hll_new(22) == NULL,
	    "new refuses lgk 3 and 22");
	muse_hll_free(NULL);
	check(muse_hll_lgk(h) == 14 && muse_hll_is_empty(h) &&
	    !muse_hll_is_dense(h) && muse_hll_estimate(h) == 0 &&
	    muse_hll_rse(h) == 0, "a new sketch is empty and sparse");
	c = muse_hll_coupons(h, &n);
	check(c != NULL && n == 0 && muse_hll_registers(h) == NULL,
	    "an empty sketch has no coupons, and no registers");

	muse_hll_add(h, 12345);
	check(muse_hll_is_empty(h), "a coupon of value 0 is ignored");

	add_range(h, 1, 0, 1000);
	add_range(h, 1, 500, 1500);
	c = muse_hll_coupons(h, &n);
	good = n == (size_t)muse_hll_estimate(h) && n > 1490 && n <= 1500;
	for (i = 0; good && i < n; i++) {
		good = c[i] > prev;
		prev = c[i];
	}
	check(good, "sparse coupons come sorted and distinct, one per item");
	muse_hll_bounds(h, 1.96, &lo, &hi);
	check(lo == (double)n && hi == (double)n && muse_hll_rse(h) == 0,
	    "a sparse sketch is exact: rse 0, bounds at the count");

	check(muse_hll_copy(g, h) == MUSE_EPARAM &&
	    muse_hll_merge(g, h) == MUSE_EPARAM && muse_hll_is_empty(g),
	    "copy and merge refuse a different lgk");

	add_range(h, 1, 0, 100000);
	check(muse_hll_is_dense(h) && muse_hll_registers(h) != NULL &&
	    muse_hll_coupons(h, &n) == NULL && n == 0,
	    "a dense sketch has registers and no coupons");
	muse_hll_bounds(h, 1.96, &lo, &hi);
	check(lo < muse_hll_estimate(h) && muse_hll_estimate(h) < hi &&
	    fabs(muse_hll_rse(h) - 1.04 / 128) < 1e-12,
	    "dense bounds surround the estimate, rse 1.04/sqrt(K)");
	muse_hll_bounds(h, 1e6, &lo, &hi);
	{
		const uint8_t *r = muse_hll_registers(h);
		size_t nz = 0;

		for (i = 0; i < 16384; i++)
			nz += r[i] != 0;
		check(lo == (double)nz && hi >= lo,
		    "the lower bound stops at the non-empty registers");
	}
	muse_hll_clear(h);
	check(muse_hll_is_empty(h) && !muse_hll_is_dense(h) &&
	    muse_hll_lgk(h) == 14, "clear empties a dense sketch");
	add_range(h, 7, 0, 10);
	check(muse_hll_estimate(h) == 10, "a cleared sketch is usable again");
	muse_hll_free(h);
	muse_hll_free(g);
}

static void test_round_trip(void)
{
	static const struct {
		const char *name;
		uint64_t n;
	} cases[] = {
		{ "empty", 0 }, { "sparse", 1 }, { "sparse", 300 },
		{ "sparse", 4096 }, { "dense", 5000 }, { "dense", 1000000 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		muse_hll *h = sketch(14, 99, 0, cases[i].n), *g = xnew(14);
		struct enc a = encode(h), b;
		struct muse_err e;
		int rc;

		/* Decode over something else, to see it replaced. */
		add_range(g, 5, 0, 20000);
		rc = decode_all(g, a.p, a.len, &e);
		b = encode(g);
		check(rc == 0 && a.len == b.len && !memcmp(a.p, b.p, a.len) &&
		    muse_hll_estimate(g) == muse_hll_estimate(h) &&
		    muse_hll_is_dense(g) == muse_hll_is_dense(h),
		    "%s sketch of %llu items round-trips byte for byte (%zu bytes)",
		    cases[i].name, (unsigned long long)cases[i].n, a.len);
		free(a.p);
		free(b.p);
		muse_hll_free(h);
		muse_hll_free(g);
	}

	/* Two fields back to back: each decode stops at its own end. */
	{
		muse_hll *a = sketch(10, 1, 0, 50), *b = sketch(10, 2, 0, 9000);
		muse_hll *x = xnew(10), *y = xnew(10);
		struct muse_buf buf = { 0 };
		const uint8_t *p;
		struct muse_err e;
		int rc;

		muse_hll_encode(a, &buf);
		muse_hll_encode(b, &buf);
		p = buf.p;
		rc = muse_hll_decode(x, &p, buf.p + buf.len, &e);
		rc |= muse_hll_decode(y, &p, buf.p + buf.len, &e);
		check(rc == 0 && p == buf.p + buf.len && same_bytes(a, x) &&
		    same_bytes(b, y), "concatenated fields decode one by one");
		muse_buf_free(&buf);
		muse_hll_free(a);
		muse_hll_free(b);
		muse_hll_free(x);
		muse_hll_free(y);
	}
}

/* Expects decoding p[0..n) to fail with EFORMAT and leave the sketch be. */
static void expect_bad(unsigned lgk, const uint8_t *p, size_t n,
	const char *what, const char *msg)
{
	muse_hll *h = sketch(lgk, 3, 0, 7), *orig = sketch(lgk, 3, 0, 7);
	const uint8_t *q = p;
	struct muse_err e;
	int rc;

	muse_err_clear(&e);
	rc = muse_hll_decode(h, &q, p + n, &e);
	check(rc == MUSE_EFORMAT && e.code == MUSE_EFORMAT && q == p &&
	    strstr(e.msg, msg) != NULL && same_bytes(h, orig),
	    "decode refuses %s (\"%s\")", what, e.msg);
	muse_hll_free(h);
	muse_hll_free(orig);
}

/* Builds an encoding from varints. */
static size_t varints(uint8_t *out, const uint64_t *v, size_t n)
{
	struct muse_buf b = { 0 };
	size_t i, len;

	for (i = 0; i < n; i++)
		muse_buf_put_varint(&b, v[i]);
	len = b.len;
	memcpy(out, b.p, len);
	muse_buf_free(&b);
	return len;
}

static void test_corrupt(void)
{
	muse_hll *h = sketch(14, 11, 0, 6), *d = sketch(8, 11, 0, 1000);
	struct enc a = encode(h), b = encode(d);
	uint8_t t[64], *big;
	size_t i, n;
	int good = 1;

	/* Every proper prefix of a sparse field is truncated. */
	for (i = 0; i < a.len; i++) {
		muse_hll *g = sketch(14, 3, 0, 7), *orig = sketch(14, 3, 0, 7);
		struct muse_err e;
		const uint8_t *q = a.p;
		int rc = muse_hll_decode(g, &q, a.p + i, &e);

		good &= rc == MUSE_EFORMAT && q == a.p && same_bytes(g, orig) &&
		    strncmp(e.msg, "hll: ", 5) == 0;
		muse_hll_free(g);
		muse_hll_free(orig);
	}
	check(good, "every truncation of a %zu-byte sparse field fails cleanly",
	    a.len);
	good = 1;
	for (i = 0; i < b.len; i += (i < 8 ? 1 : 37)) {
		muse_hll *g = xnew(8);
		struct muse_err e;

		good &= decode_all(g, b.p, i, &e) == MUSE_EFORMAT &&
		    muse_hll_is_empty(g);
		muse_hll_free(g);
	}
	check(good, "truncations of a dense field fail cleanly");

	{
		uint64_t v[] = { 6, 5u << 26, 7, 0 };

		n = varints(t, v, 4);
		expect_bad(14, t, n, "a repeated coupon", "out of order");
	}
	{
		uint64_t v[] = { 4, 0xFFFFFFF0u, 0x20 };

		n = varints(t, v, 3);
		expect_bad(14, t, n, "a coupon past 2^32", "past 2^32");
	}
	{
		uint64_t v[] = { 2, 12345 };

		n = varints(t, v, 2);
		expect_bad(14, t, n, "a coupon of value 0", "value 0");
	}
	{
		uint64_t v[] = { 2 * (uint64_t)MUSE_HLL_SPARSE_MAX(14) + 2 };

		n = varints(t, v, 1);
		expect_bad(14, t, n, "more sparse coupons than K/4",
		    "more than 4096");
	}
	{
		uint64_t v[] = { 3, 5u << 26 };

		n = varints(t, v, 2);
		expect_bad(14, t, n, "an odd tag above 1", "bad tag 3");
	}
	{
		uint64_t v[] = { UINT64_MAX };

		n = varints(t, v, 1);
		expect_bad(14, t, n, "a 64-bit tag", "bad tag");
	}
	t[0] = 0x80;
	t[1] = 0x00;
	expect_bad(14, t, 2, "an overlong empty tag", "overlong varint");
	{
		uint64_t v[] = { 4, 5u << 26 };

		n = varints(t, v, 2);
		t[n++] = 0x81;
		t[n++] = 0x00;
		expect_bad(14, t, n, "an overlong coupon gap", "overlong varint");
	}
	memset(t, 0xFF, 11);
	t[11] = 0x01;
	expect_bad(14, t, 12, "a varint of 12 bytes", "bad or overlong varint");

	big = xmalloc(b.len);
	memcpy(big, b.p, b.len);
	big[1 + 77] = 64;
	expect_bad(8, big, b.len, "register 64", "register 77 is 64");
	big[1 + 77] = 255;
	expect_bad(8, big, b.len, "register 255", "register 77 is 255");
	big[1 + 200] = 70;
	expect_bad(8, big, b.len, "two registers out of range, naming the first",
	    "register 77 is 255");
	big[1 + 77] = big[1 + 200] = 1;
	big[b.len - 1] = 64;
	expect_bad(8, big, b.len, "the last register out of range",
	    "register 255 is 64");
	memset(big + 1, 0, b.len - 1);
	expect_bad(8, big, b.len, "a dense field with no register set",
	    "no register set");
	free(big);
	/* A field written at one lgk is not one of another. */
	expect_bad(9, b.p, b.len, "a dense field of a smaller lgk",
	    "truncated registers");

	free(a.p);
	free(b.p);
	muse_hll_free(h);
	muse_hll_free(d);
}

/*
 * Random damage to valid fields: whatever still decodes must be canonical,
 * that is, encode back to exactly the bytes it was decoded from; the rest
 * must fail with EFORMAT.  (The sanitizer build checks that nothing is
 * read out of bounds.)
 */
static void test_mutations(int quick)
{
	const unsigned lgk = 6;
	const uint64_t sizes[] = { 0, 1, 2, 5, 16, 40 };
	struct rng rg = { 12345 };
	unsigned rounds = quick ? 3000 : 30000, i, decoded = 0;
	int good = 1;

	for (i = 0; i < rounds; i++) {
		muse_hll *src = sketch(lgk, i, 0, sizes[i % 6]), *h = xnew(lgk);
		struct enc a = encode(src);
		uint8_t buf[128];
		size_t len = a.len, f, flips = 1 + rng_next(&rg) % 3;
		const uint8_t *q = buf;
		struct muse_err e;
		int rc;

		memcpy(buf, a.p, len);
		for (f = 0; f < flips; f++) {
			size_t at = (size_t)(rng_next(&rg) % len);

			if (rng_next(&rg) & 1)
				buf[at] ^= (uint8_t)(1u << rng_next(&rg) % 8);
			else
				buf[at] = (uint8_t)rng_next(&rg);
		}
		if (rng_next(&rg) % 4 == 0)
			len = (size_t)(rng_next(&rg) % (len + 1));
		rc = muse_hll_decode(h, &q, buf + len, &e);
		if (rc == 0) {
			struct enc b = encode(h);

			good &= b.len == (size_t)(q - buf) &&
			    memcmp(b.p, buf, b.len) == 0;
			decoded++;
			free(b.p);
		} else {
			good &= rc == MUSE_EFORMAT && q == buf;
		}
		free(a.p);
		muse_hll_free(src);
		muse_hll_free(h);
	}
	check(good, "%u damaged fields: %u decoded, all canonical; the rest refused",
	    rounds, decoded);
}

/*
 * muse_hll_union: the union of many encoded sketches decoded into it is
 * byte for byte what decoding each and merging it one by one gives, for
 * mixes of empty, sparse and dense fields, overlapping or not, around the
 * switch; the union starts empty again after muse_hll_union_get.  And a
 * damaged field gets exactly the decoder's answer: the same status, the
 * same message, the same position.
 */
static void test_union(unsigned lgk, int quick)
{
	struct rng rg = { 777 + lgk };
	uint64_t k = (uint64_t)1 << lgk, q4 = k / 4;
	unsigned rounds = quick ? 40 : 200, r;
	int good = 1, reused = 1;
	muse_hll_union *u = muse_hll_union_new(lgk);
	muse_hll *got = xnew(lgk);

	for (r = 0; r < rounds; r++) {
		unsigned n = 1 + (unsigned)(rng_next(&rg) % (r % 3 ? 40 : 400));
		struct muse_buf all = { 0 };
		muse_hll *want = xnew(lgk);
		const uint8_t *p;
		struct muse_err e;
		int rc = 0;

		for (unsigned i = 0; i < n; i++) {
			/* sizes: mostly small, some near K/4, a few dense */
			uint64_t pick = rng_next(&rg) % 20, size;
			uint64_t lo = rng_next(&rg) % (2 * q4 + 1);
			muse_hll *h;

			size = pick < 2 ? 0 : pick < 14 ? rng_next(&rg) % 50 :
			    pick < 19 ? q4 + rng_next(&rg) % 17 - (q4 < 8 ? q4 : 8) :
			    3 * q4;
			h = sketch(lgk, r % 2 ? 1 : 100 + i, lo, lo + size);
			if (muse_hll_encode(h, &all) != 0 || muse_hll_merge(want, h) != 0) {
				fprintf(stderr, "test_hll: out of memory\n");
				exit(1);
			}
			muse_hll_free(h);
		}
		p = all.p;
		for (unsigned i = 0; i < n && rc == 0; i++)
			rc = muse_hll_union_decode(u, &p, all.p + all.len, &e);
		good &= rc == 0 && p == all.p + all.len &&
		    muse_hll_union_get(u, got) == 0 && same_bytes(got, want);
		/* Empty again: the union of nothing. */
		reused &= muse_hll_union_get(u, got) == 0 && muse_hll_is_empty(got);
		muse_hll_free(want);
		muse_buf_free(&all);
	}
	check(good, "lgk %u: %u unions of encoded sketches equal the merges one "
	    "by one", lgk, rounds);
	check(reused, "lgk %u: a union starts empty after it is taken", lgk);

	good = 1;
	for (r = 0; r < (quick ? 2000u : 20000u); r++) {
		uint64_t sizes[] = { 0, 1, 3, 20, q4, q4 + 1 };
		muse_hll *src = sketch(lgk, r, 0, sizes[r % 6]), *h = xnew(lgk);
		struct enc a = encode(src);
		uint8_t *buf = xmalloc(a.len);
		size_t len = a.len;
		const uint8_t *q1 = buf, *q2 = buf;
		struct muse_err e1, e2;
		int rc1, rc2;

		memcpy(buf, a.p, len);
		for (int f = 0; f < 1 + (int)(rng_next(&rg) % 3); f++) {
			size_t at = (size_t)(rng_next(&rg) % (len < 12 ? len : 12));

			if (rng_next(&rg) & 1)
				buf[at] ^= (uint8_t)(1u << rng_next(&rg) % 8);
			else
				buf[at] = (uint8_t)rng_next(&rg);
		}
		if (rng_next(&rg) % 4 == 0)
			len = (size_t)(rng_next(&rg) % (len + 1));
		muse_err_clear(&e1);
		muse_err_clear(&e2);
		rc1 = muse_hll_decode(h, &q1, buf + len, &e1);
		rc2 = muse_hll_union_decode(u, &q2, buf + len, &e2);
		good &= rc1 == rc2 && q1 == q2 &&
		    (rc1 == 0 || strcmp(e1.msg, e2.msg) == 0);
		if (rc2 == 0)
			good &= muse_hll_union_get(u, got) == 0 && same_bytes(got, h);
		else
			muse_hll_union_get(u, got);     /* drop what it holds */
		free(buf);
		free(a.p);
		muse_hll_free(src);
		muse_hll_free(h);
	}
	check(good, "lgk %u: damaged fields: the union decodes or refuses each "
	    "exactly as muse_hll_decode does", lgk);
	muse_hll_union_free(u);
	muse_hll_free(got);
}

/* Reading the coupons between adds must not change what the adds build. */
static void test_reads_between_adds(void)
{
	muse_hll *h = xnew(16), *ref = sketch(16, 31, 0, 15000);
	struct rng rg = { 99 };
	const uint32_t *c;
	size_t n, i;
	int good = 1;

	for (i = 0; i < 15000; i++) {
		muse_hll_add(h, item(31 + i));
		if (rng_next(&rg) % 97 == 0) {
			c = muse_hll_coupons(h, &n);
			good &= n == (size_t)muse_hll_estimate(h) &&
			    (n < 2 || c[n - 2] < c[n - 1]);
		}
	}
	check(good && same_bytes(h, ref),
	    "reading coupons between adds leaves the same sketch");
	muse_hll_free(h);
	muse_hll_free(ref);
}

/* ---------------------------------------------------------------------
 * Merge algebra, order independence, the switch to dense
 */

static void test_merge_algebra(unsigned lgk)
{
	/* Item ranges: empty, sparse, near the switch, dense, overlapping. */
	uint64_t k4 = MUSE_HLL_SPARSE_MAX(lgk);
	const uint64_t r[][2] = {
		{ 0, 0 }, { 0, 10 }, { 5, 300 }, { 0, k4 * 3 / 4 },
		{ k4 / 2, k4 + k4 / 4 }, { 100, 8 * k4 }, { 40 * k4, 60 * k4 },
	};
	enum { NR = sizeof(r) / sizeof(r[0]) };
	muse_hll *s[NR];
	size_t i, j, l;
	int comm = 1, idem = 1, self = 1, direct = 1, assoc = 1;

	for (i = 0; i < NR; i++)
		s[i] = sketch(lgk, 42, r[i][0], r[i][1]);
	for (i = 0; i < NR; i++) {
		muse_hll *t = merged(s[i], s[i]), *u = merged(s[i], s[i]);

		idem &= same_bytes(t, s[i]);
		muse_hll_merge(u, u);
		self &= same_bytes(u, s[i]);
		muse_hll_free(t);
		muse_hll_free(u);
		for (j = 0; j < NR; j++) {
			muse_hll *ab = merged(s[i], s[j]);
			muse_hll *ba = merged(s[j], s[i]);
			muse_hll *all = sketch(lgk, 42, r[i][0], r[i][1]);

			add_range(all, 42, r[j][0], r[j][1]);
			comm &= same_bytes(ab, ba);
			direct &= same_bytes(ab, all);
			for (l = 0; l < NR; l++) {
				muse_hll *ab_c = merged(ab, s[l]);
				muse_hll *bc = merged(s[j], s[l]);
				muse_hll *a_bc = merged(s[i], bc);

				assoc &= same_bytes(ab_c, a_bc);
				muse_hll_free(ab_c);
				muse_hll_free(bc);
				muse_hll_free(a_bc);
			}
			muse_hll_free(ab);
			muse_hll_free(ba);
			muse_hll_free(all);
		}
	}
	check(comm, "lgk %u: merge is commutative", lgk);
	check(assoc, "lgk %u: merge is associative", lgk);
	check(idem && self, "lgk %u: merge is idempotent, also into itself",
	    lgk);
	check(direct, "lgk %u: a merge equals adding both inputs to one sketch",
	    lgk);
	for (i = 0; i < NR; i++)
		muse_hll_free(s[i]);
}

/*
 * Adds items [0, n) (each twice) in a shuffled order, and in shuffled
 * batches merged in turn, and compares with adding them in order.
 */
static void test_order(unsigned lgk, uint64_t n)
{
	muse_hll *ref = sketch(lgk, 77, 0, n), *h = xnew(lgk), *u = xnew(lgk);
	uint64_t *x = xmalloc(2 * n * sizeof(*x));
	struct rng rg = { lgk * 1000003 + n };
	size_t i, at = 0;

	for (i = 0; i < 2 * n; i++)
		x[i] = 77 + i % n;
	shuffle(x, 2 * n, &rg);
	for (i = 0; i < 2 * n; i++)
		muse_hll_add(h, item(x[i]));
	/* Batches of random sizes, each its own sketch. */
	while (at < 2 * n) {
		muse_hll *b = xnew(lgk);
		size_t len = 1 + (size_t)(rng_next(&rg) % (n / 3 + 1));

		for (i = at; i < at + len && i < 2 * n; i++)
			muse_hll_add(b, item(x[i]));
		at = i;
		muse_hll_merge(u, b);
		muse_hll_free(b);
	}
	check(same_bytes(h, ref) && same_bytes(u, ref),
	    "lgk %u, %llu items: shuffled adds and shuffled batches give the same bytes (%s)",
	    lgk, (unsigned long long)n,
	    muse_hll_is_dense(ref) ? "dense" : "sparse");
	free(x);
	muse_hll_free(ref);
	muse_hll_free(h);
	muse_hll_free(u);
}

/* The coupon number i, distinct for every i < 2^26. */
static uint32_t nth(uint32_t i)
{
	return (uint32_t)(1 + i % 7) << 26 | (i * 2654435761u & 0x3FFFFFF);
}

static void test_switch(unsigned lgk)
{
	uint32_t max = MUSE_HLL_SPARSE_MAX(lgk), i;
	muse_hll *h = xnew(lgk), *a = xnew(lgk), *b = xnew(lgk), *c;
	size_t n;
	int good;

	for (i = 0; i < max; i++)
		muse_hll_add(h, nth(i));
	muse_hll_add(h, nth(0));
	good = !muse_hll_is_dense(h) && muse_hll_estimate(h) == max &&
	    muse_hll_coupons(h, &n) != NULL && n == max;
	muse_hll_add(h, nth(max));
	good &= muse_hll_is_dense(h);
	check(good, "lgk %u: sparse up to %u coupons, dense at %u", lgk, max,
	    max + 1);

	/* The same boundary through merge: halves that overlap by one. */
	for (i = 0; i <= max / 2; i++)
		muse_hll_add(a, nth(i));
	for (i = max / 2; i < max; i++)
		muse_hll_add(b, nth(i));
	c = merged(a, b);
	good = !muse_hll_is_dense(c) && muse_hll_estimate(c) == max;
	muse_hll_add(b, nth(max));
	muse_hll_free(c);
	c = merged(b, a);
	good &= muse_hll_is_dense(c) && same_bytes(c, h);
	check(good, "lgk %u: a merge of %u coupons stays sparse, of %u turns dense",
	    lgk, max, max + 1);
	muse_hll_free(c);

	/* Copies carry either form across. */
	c = xnew(lgk);
	muse_hll_copy(c, h);
	good = same_bytes(c, h);
	muse_hll_copy(c, a);
	good &= same_bytes(c, a) && !muse_hll_is_dense(c);
	muse_hll_copy(c, h);
	good &= same_bytes(c, h);
	check(good, "lgk %u: copy reproduces sparse and dense sketches", lgk);
	muse_hll_free(c);
	muse_hll_free(h);
	muse_hll_free(a);
	muse_hll_free(b);
}

/* ---------------------------------------------------------------------
 * Accuracy (SPEC section 5)
 */

struct stats {
	double sum, sum2;
	unsigned n, covered;
};

static void stats_add(struct stats *s, const muse_hll *h, double truth)
{
	double e = muse_hll_estimate(h) / truth - 1, lo, hi;

	muse_hll_bounds(h, 1.96, &lo, &hi);
	s->sum += e;
	s->sum2 += e * e;
	s->covered += lo <= truth && truth <= hi;
	s->n++;
}

static double stats_mean(const struct stats *s)
{
	return s->sum / s->n;
}

static double stats_rse(const struct stats *s)
{
	return sqrt(s->sum2 / s->n);
}

/* Number of distinct coupons among items base + [lo, hi), sorted. */
static uint64_t distinct_coupons(uint64_t base, uint64_t lo, uint64_t hi)
{
	uint32_t *c = xmalloc((hi - lo) * sizeof(*c));
	uint64_t i, k = 0, n = hi - lo;

	for (i = 0; i < n; i++) {
		uint32_t v = item(base + lo + i), j = (uint32_t)k;

		/* Insertion sort: the sizes here are at most 4096. */
		while (j > 0 && c[j - 1] > v) {
			c[j] = c[j - 1];
			j--;
		}
		if (j > 0 && c[j - 1] == v) {
			memmove(c + j, c + j + 1, (k - j) * sizeof(*c));
			continue;
		}
		c[j] = v;
		k++;
	}
	free(c);
	return k;
}

/*
 * Registers of a sketch of a Poisson(lambda) number of distinct items,
 * drawn directly: a register sees Poisson(lambda/m) items, so
 * P(value <= v) = exp(-(lambda/m) 2^-v) for v < 63.  Inverting that gives
 * value = ceil(log2((lambda/m) / E)) with E ~ Exp(1), clamped to 0..63.
 * This is the model of [Ertl17] and reaches 10^9 items in microseconds.
 */
static void poisson_registers(uint8_t *reg, size_t k, double lambda,
	struct rng *rg)
{
	double mu = lambda / (double)k;
	size_t i;

	for (i = 0; i < k; i++) {
		double v = ceil(log2(mu / -log(rng_unit(rg))));

		reg[i] = v <= 0 ? 0 : v >= 63 ? 63 : (uint8_t)v;
	}
}

static void load_registers(muse_hll *h, const uint8_t *reg, size_t k)
{
	uint8_t *enc = xmalloc(k + 1);
	struct muse_err e;

	enc[0] = 1;
	memcpy(enc + 1, reg, k);
	if (decode_all(h, enc, k + 1, &e) != 0) {
		fprintf(stderr, "test_hll: %s\n", e.msg);
		exit(1);
	}
	free(enc);
}

struct row {
	double n;
	unsigned trials, quick_trials;
	int sim;         /* registers drawn from the Poisson model */
};

static void test_accuracy(int quick)
{
	static const struct row rows[] = {
		{ 1, 100, 10, 0 }, { 10, 100, 10, 0 }, { 100, 100, 10, 0 },
		{ 1000, 100, 10, 0 }, { 4096, 100, 10, 0 },
		{ 4097, 1000, 30, 0 }, { 5000, 1000, 30, 0 },
		{ 1e4, 1000, 30, 0 }, { 3e4, 1000, 30, 0 },
		{ 1e5, 1000, 30, 0 }, { 1e6, 300, 10, 0 },
		{ 1e7, 160, 0, 0 }, { 1e8, 1000, 30, 1 }, { 1e9, 1000, 30, 1 },
	};
	const unsigned lgk = MUSE_HLL_LGK_DEFAULT;
	const size_t k = (size_t)1 << lgk;
	muse_hll *h = xnew(lgk), *a = xnew(lgk), *b = xnew(lgk), *g = xnew(lgk);
	uint8_t *ra = xmalloc(k), *rb = xmalloc(k), *rx = xmalloc(k);
	double rse, t0 = now();
	size_t ri, i;

	add_range(h, 0, 0, 100000);
	rse = muse_hll_rse(h);
	printf("# accuracy at lgk %u: e = estimate/n - 1, rse = sqrt(mean(e^2));"
	    " stated rse %.4f%%\n", lgk, 100 * rse);
	printf("# single: one sketch of n items; union: a merge of two sketches"
	    " of items [0, 3n/4) and [n/4, n)\n");
	printf("# (sim): registers drawn from the Poisson model, n its mean;"
	    " \"in ci\": n within the z = 1.96 bounds\n");
	printf("#          n  trials   single: mean      rse    in ci"
	    "   union: mean      rse    in ci\n");

	for (ri = 0; ri < sizeof(rows) / sizeof(rows[0]); ri++) {
		const struct row *w = &rows[ri];
		unsigned trials = quick ? w->quick_trials : w->trials, t;
		uint64_t n = (uint64_t)w->n;
		struct stats s1 = { 0 }, s2 = { 0 };
		int exact = 1, bytes = 1;

		if (trials == 0)
			continue;
		for (t = 0; t < trials; t++) {
			/* Fresh, unrelated items for every trial and column. */
			uint64_t base = splitmix64((uint64_t)ri << 32 | t);
			uint64_t ubase =
			    splitmix64(base ^ 0x6A09E667F3BCC908ULL);
			struct rng rg = { base };

			muse_hll_clear(h);
			muse_hll_clear(a);
			muse_hll_clear(b);
			if (w->sim) {
				poisson_registers(rx, k, w->n, &rg);
				load_registers(h, rx, k);
				/* Items only in A, in both, only in B. */
				poisson_registers(rx, k, w->n / 4, &rg);
				poisson_registers(rb, k, w->n / 2, &rg);
				poisson_registers(ra, k, w->n / 4, &rg);
				for (i = 0; i < k; i++) {
					uint8_t both = rb[i];

					rb[i] = both > ra[i] ? both : ra[i];
					ra[i] = both > rx[i] ? both : rx[i];
					rx[i] = ra[i] > rb[i] ? ra[i] : rb[i];
				}
				load_registers(a, ra, k);
				load_registers(b, rb, k);
				if (t == 0)
					load_registers(g, rx, k);
			} else {
				add_range(h, base, 0, n);
				add_range(a, ubase, 0, n * 3 / 4);
				add_range(b, ubase, n / 4, n);
				if (t == 0) {
					muse_hll_clear(g);
					add_range(g, ubase, 0, n);
				}
			}
			muse_hll_merge(a, b);
			/* The union must be the sketch of all its items. */
			if (t == 0)
				bytes = same_bytes(a, g);
			if (n <= MUSE_HLL_SPARSE_MAX(lgk) && t < 10)
				exact &= muse_hll_estimate(h) ==
				    (double)distinct_coupons(base, 0, n) &&
				    muse_hll_estimate(a) ==
				    (double)distinct_coupons(ubase, 0, n);
			stats_add(&s1, h, w->n);
			stats_add(&s2, a, w->n);
		}
		printf("# %10.0f%-5s %6u   %+9.4f%% %7.4f%% %7.1f%%   %+9.4f%% %7.4f%% %7.1f%%\n",
		    w->n, w->sim ? "(sim)" : "", trials,
		    100 * stats_mean(&s1), 100 * stats_rse(&s1),
		    100.0 * s1.covered / s1.n,
		    100 * stats_mean(&s2), 100 * stats_rse(&s2),
		    100.0 * s2.covered / s2.n);
		fflush(stdout);
		check(bytes, "n %.0f: the union is byte for byte the sketch of all items",
		    w->n);
		if (n <= MUSE_HLL_SPARSE_MAX(lgk)) {
			check(exact, "n %.0f: sparse estimate is the exact coupon count",
			    w->n);
			continue;
		}
		{
			/*
			 * Full runs have at least 160 trials, so 3 standard
			 * errors of the mean (3 rse / sqrt(trials)) are under
			 * 0.2% and the 0.2% bound itself means something.
			 * Quick runs can only show 3 standard errors, and the
			 * rse within its own sampling error (relative sd
			 * 1/sqrt(2 trials)).
			 */
			double mean_tol = quick ?
			    fmax(0.002, 3 * rse / sqrt(trials)) : 0.002;
			double rse_tol = 1.1 * rse *
			    (quick ? 1 + 3 / sqrt(2.0 * trials) : 1);

			check(fabs(stats_mean(&s1)) <= mean_tol &&
			    fabs(stats_mean(&s2)) <= mean_tol,
			    "n %.0f: |mean error| %.4f%% and %.4f%% within %.3f%%",
			    w->n, 100 * fabs(stats_mean(&s1)),
			    100 * fabs(stats_mean(&s2)), 100 * mean_tol);
			check(stats_rse(&s1) <= rse_tol &&
			    stats_rse(&s2) <= rse_tol && (quick ||
			    (stats_rse(&s1) <= 0.01 && stats_rse(&s2) <= 0.01)),
			    "n %.0f: rse %.4f%% and %.4f%% within %.4f%%%s",
			    w->n, 100 * stats_rse(&s1), 100 * stats_rse(&s2),
			    100 * rse_tol, quick ? "" : " and SPEC's 1%");
			if (!quick)
				check(s1.covered >= 0.9 * trials &&
				    s2.covered >= 0.9 * trials,
				    "n %.0f: the 95%% bounds hold n in at least 90%% of trials",
				    w->n);
		}
	}
	printf("# accuracy runs took %.1f s\n", now() - t0);
	free(ra);
	free(rb);
	free(rx);
	muse_hll_free(h);
	muse_hll_free(a);
	muse_hll_free(b);
	muse_hll_free(g);
}

/* ---------------------------------------------------------------------
 * Kernels: every variant this CPU runs against plain loops
 */

/* Fills r[0..k) with one of the register patterns of test_kernels. */
static void fill_pattern(uint8_t *r, size_t k, int pattern, struct rng *rg)
{
	static const double lambdas[] = { 0.01, 0.3, 1, 61, 1e4, 1e12 };
	size_t i;

	switch (pattern) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		/* Registers of a sketch of lambda K items. */
		poisson_registers(r, k, lambdas[pattern] * (double)k, rg);
		break;
	case 6:     /* every value, evenly: most fall outside any window */
		for (i = 0; i < k; i++)
			r[i] = (uint8_t)(rng_next(rg) % 64);
		break;
	case 7:     /* all empty */
		memset(r, 0, k);
		break;
	case 8:     /* all saturated */
		memset(r, 63, k);
		break;
	case 9:     /* the two ends, alternating in runs */
		for (i = 0; i < k; i++)
			r[i] = (i / 3) % 2 ? 63 : 0;
		break;
	case 10:    /* a narrow band at the top, with a few at 0 */
		for (i = 0; i < k; i++)
			r[i] = rng_next(rg) % 97 == 0 ? 0 :
			    (uint8_t)(60 + rng_next(rg) % 4);
		break;
	default:    /* any byte: not registers, but max must not care */
		for (i = 0; i < k; i++)
			r[i] = (uint8_t)rng_next(rg);
		break;
	}
}

#define NPATTERNS 12

static void test_kernels(void)
{
	static const unsigned lgks[] = { 4, 5, 6, 7, 9, 10, 11, 14, 17, 21 };
	size_t nk, ki, li, i;
	const struct muse_hll_kernel *kern = muse_hll_kernels(&nk);
	struct rng rg = { 4242 };
	size_t big = (size_t)1 << MUSE_HLL_LGK_MAX;
	/* One spare byte in front, so that the arrays can start unaligned. */
	uint8_t *a = xmalloc(big + 1), *b = xmalloc(big + 1);
	uint8_t *want = xmalloc(big), *got = xmalloc(big + 1);
	char names[128] = "";
	int tried = 0;

	for (ki = 0; ki < nk; ki++) {
		if (!kern[ki].usable())
			continue;
		tried++;
		strcat(names, " ");
		strcat(names, kern[ki].name);
	}
	check(tried >= 1 && strcmp(kern[nk - 1].name, "portable") == 0 &&
	    kern[nk - 1].usable(),
	    "kernels this CPU runs:%s (the portable one last)", names);

	for (ki = 0; ki < nk; ki++) {
		const struct muse_hll_kernel *kv = &kern[ki];
		int max_ok = 1, hist_ok = 1, cases = 0;

		if (!kv->usable())
			continue;
		for (li = 0; li < sizeof(lgks) / sizeof(lgks[0]); li++) {
			size_t k = (size_t)1 << lgks[li];
			int pa, pb;

			for (pa = 0; pa < NPATTERNS; pa++) {
				uint32_t c[64], ref[64] = { 0 };
				size_t off = (size_t)pa % 2;
				uint8_t *x = a + off, *y = b + 1 - off;

				/* Big arrays take fewer patterns: time. */
				if (lgks[li] >= 17 && pa % 3 != 0)
					continue;
				pb = (pa + 1 + (int)(rng_next(&rg) % 5)) %
				    NPATTERNS;
				fill_pattern(x, k, pa, &rg);
				fill_pattern(y, k, pb, &rg);
				/* Plain loops give the expected results. */
				for (i = 0; i < k; i++) {
					want[i] = x[i] > y[i] ? x[i] : y[i];
					ref[x[i] & 63]++;
				}
				kv->histogram(x, k, c);
				hist_ok &= memcmp(c, ref, sizeof(ref)) == 0;
				memcpy(got + off, x, k);
				kv->max(got + off, y, k);
				max_ok &= memcmp(got + off, want, k) == 0;
				cases++;
			}
		}
		check(max_ok, "%s: register max equals the plain loop (%d cases)",
		    kv->name, cases);
		check(hist_ok, "%s: histogram equals the plain count (%d cases)",
		    kv->name, cases);
	}
	free(a);
	free(b);
	free(want);
	free(got);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* muse_hll_add_many builds what one muse_hll_add per coupon builds. */
static void test_add_many(void)
{
	static const size_t sizes[] = { 0, 1, 5, 3000, 4096, 4097, 5000, 300000 };
	size_t si, i;
	int good = 1;

	for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		size_t n = sizes[si], at = 0;
		uint32_t *c = xmalloc((n + 1) * sizeof(*c));
		muse_hll *one = xnew(14), *many = xnew(14), *pre = xnew(14);
		struct rng rg = { n };

		for (i = 0; i < n; i++)
			c[i] = i % 11 == 10 ? 12345 : item(7000 + i % (n / 2 + 1));
		for (i = 0; i < n; i++)
			muse_hll_add(one, c[i]);
		/* Batches of random sizes, the switch to dense inside one. */
		while (at < n) {
			size_t len = 1 + (size_t)(rng_next(&rg) % 700);

			len = len > n - at ? n - at : len;
			good &= muse_hll_add_many(many, c + at, len) == 0;
			at += len;
		}
		good &= muse_hll_add_many(many, c, 0) == 0;
		good &= same_bytes(one, many);
		/* Into a sketch that is already dense. */
		add_range(pre, 1, 0, 20000);
		add_range(one, 1, 0, 20000);
		good &= muse_hll_add_many(pre, c, n) == 0 &&
		    same_bytes(one, pre);
		free(c);
		muse_hll_free(one);
		muse_hll_free(many);
		muse_hll_free(pre);
	}
	check(good, "add_many gives the bytes of one add a coupon, in any batches");

	/* Sorted input into an empty sketch takes the one-pass way. */
	good = 1;
	for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		size_t n = sizes[si];
		uint32_t *c = xmalloc((n + 1) * sizeof(*c));
		muse_hll *one = xnew(14), *many = xnew(14);

		for (i = 0; i < n; i++)
			c[i] = i % 11 == 10 ? 12345 : item(9000 + i % (n / 2 + 1));
		qsort(c, n, sizeof(*c), cmp_u32);
		for (i = 0; i < n; i++)
			muse_hll_add(one, c[i]);
		/* A cleared sketch keeps its buffers, of some other size. */
		add_range(many, 3, 0, si % 2 ? 10 : 3000);
		muse_hll_clear(many);
		good &= muse_hll_add_many(many, c, n) == 0 &&
		    same_bytes(one, many) &&
		    muse_hll_estimate(one) == muse_hll_estimate(many);
		/* Then more, one by one and in a batch, on top. */
		add_range(one, 5, 0, 100);
		for (i = 0; i < 100; i++) {
			uint32_t x = item(5 + i);

			good &= muse_hll_add_many(many, &x, 1) == 0;
		}
		good &= same_bytes(one, many);
		/* Sorted input into a sketch that is not empty. */
		muse_hll_clear(many);
		if (n > 0)
			muse_hll_add(many, c[n / 2]);
		good &= muse_hll_add_many(many, c, n) == 0;
		muse_hll_clear(one);
		for (i = 0; i < n; i++)
			muse_hll_add(one, c[i]);
		good &= same_bytes(one, many);
		free(c);
		muse_hll_free(one);
		muse_hll_free(many);
	}
	check(good, "add_many of sorted coupons with repeats gives the same bytes");
}

/* ---------------------------------------------------------------------
 * Speed notes (printed, not checked: machines differ)
 */

static void report_speed(void)
{
	muse_hll *h = sketch(14, 5, 0, 1000000), *g = sketch(14, 6, 0, 1000000);
	muse_hll *s = sketch(14, 8, 0, MUSE_HLL_SPARSE_MAX(14));
	struct enc e = encode(s);
	volatile double sink = 0;
	double t;
	int i, reps = 2000;

	t = now();
	for (i = 0; i < reps; i++)
		sink += muse_hll_estimate(h);
	printf("# estimate of a dense lgk 14 sketch: %.2f us\n",
	    (now() - t) / reps * 1e6);
	t = now();
	for (i = 0; i < reps; i++)
		muse_hll_merge(h, g);
	printf("# merge of two dense lgk 14 sketches: %.2f us\n",
	    (now() - t) / reps * 1e6);
	printf("# sparse field at lgk 14 with %u coupons: %zu bytes (dense: %u)\n",
	    MUSE_HLL_SPARSE_MAX(14), e.len, (1u << 14) + 1);
	t = now();
	muse_hll_free(s);
	s = sketch(21, 9, 0, MUSE_HLL_SPARSE_MAX(21));
	printf("# %u distinct adds to a sparse lgk 21 sketch: %.1f ms\n",
	    MUSE_HLL_SPARSE_MAX(21), (now() - t) * 1e3);
	(void)sink;
	free(e.p);
	muse_hll_free(h);
	muse_hll_free(g);
	muse_hll_free(s);
}

int main(int argc, char **argv)
{
	const char *env = getenv("MUSE_TEST_QUICK");
	int quick = (argc > 1 && strcmp(argv[1], "quick") == 0) ||
	    (env != NULL && strcmp(env, "1") == 0);
	unsigned lgk;

	test_coupons();
	test_basics();
	test_round_trip();
	test_corrupt();
	test_mutations(quick);
	test_reads_between_adds();
	test_merge_algebra(4);
	test_merge_algebra(10);
	test_merge_algebra(14);
	test_order(4, 3);
	test_order(4, 100);
	test_order(14, 3000);
	test_order(14, 4096);
	test_order(14, 4200);
	test_order(14, 50000);
	test_order(21, quick ? 20000 : 200000);
	for (lgk = MUSE_HLL_LGK_MIN; lgk <= MUSE_HLL_LGK_MAX; lgk++)
		if (!quick || lgk % 4 == 0 || lgk == MUSE_HLL_LGK_MAX)
			test_switch(lgk);
	test_kernels();
	test_add_many();
	test_union(4, quick);
	test_union(10, quick);
	test_union(14, quick);
	test_accuracy(quick);
	report_speed();
	return check_done("test_hll");
}
