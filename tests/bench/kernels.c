/*
 * kernels.c - times the HLL kernels of lib/hll.c the way the DataSketches
 * C++ figures in interop/datasketches/MEASUREMENTS.md were taken, and
 * prints both side by side as a Markdown section for tests/bench/RESULTS.md
 * (tests/bench/kernels.sh puts it there).  A benchmark, not a test: it
 * checks nothing but that the library calls succeed.
 *
 * Method, as in MEASUREMENTS.md: every row is measured once per round,
 * rounds interleave (so a slow phase of the host hits all rows alike),
 * and a row reports the median over the rounds with its [min, max].
 *
 * Rows.  Hash and coupon alone; updates of a fresh sketch with N distinct
 * u64 items a run (10^8 unless -n says otherwise), hash included, one
 * muse_hll_add a coupon and muse_hll_add_many of BATCH coupons; the
 * register-max merge of a dense B into a dense A and the whole union
 * (new, copy, merge, estimate, free), both on lgk 14 inputs of 10^6
 * distinct items each, disjoint; the estimate; encode and decode.  The
 * item's hash is the pipeline's user-id hash (lib/event.c): XXH3-128 with
 * MUSE_HASH_SEED over the item's 8 bytes, inlined here as DataSketches
 * inlines its MurmurHash3_x64_128; one row hashes through muse_uid_hash,
 * which calls the shared libxxhash as ingest does.  Then every kernel
 * variant of the library (muse_hll_kernels) called directly.
 *
 * Sizes: sketches of n distinct items, encoded with muse_hll_encode and
 * compressed with zstd level 3 as a stream block is, both alone (zstd
 * frame overhead included) and packed into blocks of MUSE_BLOCK_TARGET raw
 * bytes, and the same blocks had every sketch been written dense, beside
 * the compact DataSketches HLL_4 image of the same coupons
 * (interop/datasketches/FORMAT.md section 5): 8 + 4 count bytes as a
 * LIST, 12 + 4 count as a SET, 40 + K/2 + 4 aux as HLL, where aux counts
 * the registers at least 15 above the smallest one.
 *
 * usage: kernels [-q] [-n items] [-r rounds]
 *   -n  distinct items per update run (default 100000000)
 *   -q  quick: as -n 1000000 -r 3, and size blocks of 16 KiB
 *   -r  rounds (default 9)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL /* the hash inlined, as DataSketches inlines MurmurHash3 */
#include <xxhash.h>
#include <zstd.h>

#include "event.h"
#include "hll.h"
#include "stream.h"

/* ---------------------------------------------------------------------
 * Reference figures: DataSketches C++ (commit c228885, HLL code of release
 * 5.2.0), g++ 12.2 -O3 -march=native, on an Intel Xeon (family 6, model
 * 207) KVM guest; medians and [min, max] of 9 interleaved rounds, quoted
 * from interop/datasketches/MEASUREMENTS.md ("Speed").
 */

struct ref {
	double med, lo, hi;
};

/* "MurmurHash3_x64_128 + coupon only (no sketch)", ns an item. */
static const struct ref ds_hash = { 3.62, 3.62, 3.66 };
/* "update(uint64_t)", 10^8 distinct, ns an item: HLL_8 and HLL_4. */
static const struct ref ds_update12_hll8 = { 5.52, 5.51, 6.16 };
static const struct ref ds_update14_hll8 = { 5.60, 5.53, 6.10 };
static const struct ref ds_update12_hll4 = { 5.75, 5.71, 5.79 };
static const struct ref ds_update14_hll4 = { 5.83, 5.81, 6.54 };
/* "union.update(B) into a gadget already in HLL mode", HLL_8 input, us. */
static const struct ref ds_merge = { 11.3, 11.28, 11.67 };
/* "whole union ... HLL_8 inputs", get_result(HLL_8) + get_estimate(), us. */
static const struct ref ds_union = { 100.5, 100.3, 113.1 };
/* serialize_compact() and deserialize(ptr, len) of dense lgk 14 HLL_8, ns. */
static const double ds_serialize_hll8 = 241, ds_deserialize_hll8 = 257;

/* ---------------------------------------------------------------------
 * Harness
 */

#define MAX_ROUNDS 99

#ifdef __clang__
#define COMPILER "clang " __clang_version__
#else
#define COMPILER "gcc " __VERSION__
#endif

enum row {
	ROW_HASH, ROW_HASH_LIB, ROW_UPD12, ROW_UPD14, ROW_MANY12, ROW_MANY14,
	ROW_SPARSE12, ROW_SPARSE14, ROW_SORTED14, ROW_MERGE, ROW_UNION, ROW_EST, ROW_ENCODE, ROW_DECODE, NROWS
};

/* Coupons a muse_hll_add_many call takes in the batched update rows. */
#define BATCH 256
#define STR(x) #x
#define XSTR(x) STR(x)

static double samples[NROWS][MAX_ROUNDS];

/* Each kernel variant called directly: register max and histogram, us. */
#define MAX_KERNELS 8
static double kernel_max[MAX_KERNELS][MAX_ROUNDS];
static double kernel_hist[MAX_KERNELS][MAX_ROUNDS];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "kernels: %s failed\n", what);
	exit(1);
}

static muse_hll *xnew(unsigned lgk)
{
	muse_hll *h = muse_hll_new(lgk);

	if (h == NULL)
		die("muse_hll_new");
	return h;
}

/* The coupon of item x, hashed as lib/event.c hashes a user id. */
static inline uint32_t coupon_of(uint64_t x)
{
	XXH128_hash_t h = XXH3_128bits_withSeed(&x, sizeof(x), MUSE_HASH_SEED);

	return muse_hll_coupon(h.low64, h.high64);
}

static muse_hll *sketch_of(unsigned lgk, uint64_t base, uint64_t n)
{
	muse_hll *h = xnew(lgk);
	uint64_t i;

	for (i = 0; i < n; i++)
		if (muse_hll_add(h, coupon_of(base + i)) != 0)
			die("muse_hll_add");
	return h;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct ref summarize(const double *x, unsigned rounds)
{
	double v[MAX_ROUNDS];
	struct ref s;

	memcpy(v, x, rounds * sizeof(v[0]));
	qsort(v, rounds, sizeof(v[0]), cmp_double);
	s.med = v[rounds / 2];
	s.lo = v[0];
	s.hi = v[rounds - 1];
	return s;
}

static struct ref summary(enum row r, unsigned rounds)
{
	return summarize(samples[r], rounds);
}

/* ---------------------------------------------------------------------
 * The kernels, one run each; every function returns its time per
 * operation (ns an item for hashing and updates, us for the rest).
 */

/* Folds results into a sink the compiler cannot see through. */
static volatile uint64_t sink;

static double run_hash(uint64_t base, uint64_t n)
{
	uint64_t i, acc = 0;
	double t = now();

	for (i = 0; i < n; i++)
		acc += coupon_of(base + i);
	t = now() - t;
	sink += acc;
	return t / n * 1e9;
}

/* The same through muse_uid_hash, which calls libxxhash as ingest does. */
static double run_hash_lib(uint64_t base, uint64_t n)
{
	uint64_t i, acc = 0;
	double t = now();

	for (i = 0; i < n; i++) {
		uint64_t x = base + i;
		struct muse_uid u;

		muse_uid_hash((const char *)&x, sizeof(x), MUSE_HASH_SEED, &u);
		acc += muse_hll_coupon(u.h1, u.h2);
	}
	t = now() - t;
	sink += acc;
	return t / n * 1e9;
}

/* Hashes BATCH items at a time, then adds their coupons in one call. */
static double run_update_many(unsigned lgk, uint64_t base, uint64_t n)
{
	double t = now();
	muse_hll *h = xnew(lgk);
	uint32_t c[BATCH];
	uint64_t i, j, m;

	for (i = 0; i < n; i += m) {
		m = n - i < BATCH ? n - i : BATCH;
		for (j = 0; j < m; j++)
			c[j] = coupon_of(base + i + j);
		if (muse_hll_add_many(h, c, m) != 0)
			die("muse_hll_add_many");
	}
	t = now() - t;
	sink += (uint64_t)muse_hll_estimate(h);
	muse_hll_free(h);
	return t / n * 1e9;
}

static double run_update(unsigned lgk, uint64_t base, uint64_t n)
{
	double t = now();
	muse_hll *h = xnew(lgk);
	uint64_t i;

	for (i = 0; i < n; i++)
		if (muse_hll_add(h, coupon_of(base + i)) != 0)
			die("muse_hll_add");
	t = now() - t;
	sink += (uint64_t)muse_hll_estimate(h);
	muse_hll_free(h);
	return t / n * 1e9;
}

/*
 * Sparse updates: fresh sketches each filled to K/4 distinct items, the
 * most they hold sparse, until about n items in all; ns an item.
 */
static double run_sparse(unsigned lgk, uint64_t base, uint64_t n)
{
	uint64_t per = MUSE_HLL_SPARSE_MAX(lgk), runs = n / per / 16 + 1, i, j;
	double t = now();

	for (j = 0; j < runs; j++) {
		muse_hll *h = xnew(lgk);

		for (i = 0; i < per; i++)
			if (muse_hll_add(h, coupon_of(base + j * per + i)) != 0)
				die("muse_hll_add");
		sink += muse_hll_is_dense(h);
		muse_hll_free(h);
	}
	return (now() - t) / (runs * per) * 1e9;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * A builder's way: the K/4 coupons of a sketch hashed and sorted first
 * (not timed), then one muse_hll_add_many into a fresh sketch; ns a coupon.
 */
static double run_sorted(unsigned lgk, uint64_t base, uint64_t n)
{
	uint64_t per = MUSE_HLL_SPARSE_MAX(lgk), runs = n / per / 16 + 1, i, j;
	uint32_t *c = malloc(per * sizeof(*c));
	double t = 0;

	if (c == NULL)
		die("malloc");
	for (j = 0; j < runs; j++) {
		muse_hll *h;
		double t0;

		for (i = 0; i < per; i++)
			c[i] = coupon_of(base + j * per + i);
		qsort(c, per, sizeof(*c), cmp_u32);
		t0 = now();
		h = xnew(lgk);
		if (muse_hll_add_many(h, c, per) != 0)
			die("muse_hll_add_many");
		sink += muse_hll_is_dense(h);
		muse_hll_free(h);
		t += now() - t0;
	}
	free(c);
	return t / (runs * per) * 1e9;
}

static double run_merge(muse_hll *a, const muse_hll *b, int reps)
{
	double t = now();
	int i;

	for (i = 0; i < reps; i++)
		if (muse_hll_merge(a, b) != 0)
			die("muse_hll_merge");
	return (now() - t) / reps * 1e6;
}

/* new + copy A + merge B + estimate + free: the whole union. */
static double run_union(const muse_hll *a, const muse_hll *b, int reps)
{
	double t = now(), acc = 0;
	int i;

	for (i = 0; i < reps; i++) {
		muse_hll *u = xnew(muse_hll_lgk(a));

		if (muse_hll_copy(u, a) != 0 || muse_hll_merge(u, b) != 0)
			die("union");
		acc += muse_hll_estimate(u);
		muse_hll_free(u);
	}
	t = now() - t;
	sink += (uint64_t)acc;
	return t / reps * 1e6;
}

static double run_estimate(const muse_hll *h, int reps)
{
	double t = now(), acc = 0;
	int i;

	for (i = 0; i < reps; i++)
		acc += muse_hll_estimate(h);
	t = now() - t;
	sink += (uint64_t)acc;
	return t / reps * 1e6;
}

static double run_encode(const muse_hll *h, int reps)
{
	struct muse_buf b = { 0 };
	double t;
	int i;

	if (muse_hll_encode(h, &b) != 0)
		die("muse_hll_encode");
	t = now();
	for (i = 0; i < reps; i++) {
		b.len = 0;
		if (muse_hll_encode(h, &b) != 0)
			die("muse_hll_encode");
	}
	t = now() - t;
	sink += b.p[b.len - 1];
	muse_buf_free(&b);
	return t / reps * 1e6;
}

static double run_decode(const muse_hll *h, int reps)
{
	struct muse_buf b = { 0 };
	muse_hll *g = xnew(muse_hll_lgk(h));
	struct muse_err e;
	double t;
	int i;

	if (muse_hll_encode(h, &b) != 0)
		die("muse_hll_encode");
	t = now();
	for (i = 0; i < reps; i++) {
		const uint8_t *p = b.p;

		if (muse_hll_decode(g, &p, b.p + b.len, &e) != 0)
			die("muse_hll_decode");
	}
	t = now() - t;
	muse_buf_free(&b);
	muse_hll_free(g);
	return t / reps * 1e6;
}

static double run_kernel(const struct muse_hll_kernel *kv, const muse_hll *a,
	const muse_hll *b, int reps, double *hist_us)
{
	size_t k = (size_t)1 << muse_hll_lgk(a);
	uint8_t *d = malloc(k);
	uint32_t c[64];
	double t;
	int i;

	if (d == NULL)
		die("malloc");
	memcpy(d, muse_hll_registers(a), k);
	t = now();
	for (i = 0; i < reps; i++)
		kv->max(d, muse_hll_registers(b), k);
	t = now() - t;
	sink += d[k - 1];
	*hist_us = now();
	for (i = 0; i < reps / 4; i++) {
		kv->histogram(muse_hll_registers(a), k, c);
		sink += c[5];
	}
	*hist_us = (now() - *hist_us) / (reps / 4) * 1e6;
	free(d);
	return t / reps * 1e6;
}

/* ---------------------------------------------------------------------
 * Sizes
 */

struct size_row {
	unsigned lgk;
	uint64_t n;
};

/*
 * The sparse limit is K/4 coupons (1024 at lgk 12, 4096 at 14);
 * DataSketches leaves its SET at 3K/32 (384, 1536).  The rows between
 * show where a sparse field outgrows the HLL_4 image.
 */
static const struct size_row size_rows[] = {
	{ 12, 100 }, { 12, 700 }, { 12, 800 }, { 12, 1024 }, { 12, 1025 },
	{ 12, 10000 }, { 12, 1000000 },
	{ 14, 100 }, { 14, 1000 }, { 14, 2000 }, { 14, 3000 }, { 14, 3300 },
	{ 14, 3600 }, { 14, 4096 }, { 14, 4097 }, { 14, 10000 },
	{ 14, 100000 }, { 14, 1000000 },
};

/* The K registers of h: its own, or those its coupons make. */
static uint8_t *registers_of(const muse_hll *h)
{
	size_t k = (size_t)1 << muse_hll_lgk(h), cnt, i;
	const uint32_t *c = muse_hll_coupons(h, &cnt);
	uint8_t *reg = calloc(k, 1);

	if (reg == NULL)
		die("calloc");
	if (c == NULL) {
		memcpy(reg, muse_hll_registers(h), k);
		return reg;
	}
	for (i = 0; i < cnt; i++) {
		uint8_t v = (uint8_t)(c[i] >> 26);

		if (v > reg[c[i] & (k - 1)])
			reg[c[i] & (k - 1)] = v;
	}
	return reg;
}

/* Bytes of the compact DataSketches HLL_4 image holding h's coupons. */
static size_t ds_hll4_bytes(const muse_hll *h, const char **mode)
{
	unsigned lgk = muse_hll_lgk(h);
	size_t k = (size_t)1 << lgk, cnt, i, aux = 0;
	/* The largest SET (FORMAT.md section 3): 3/4 of a 2^(lgk-3) table. */
	size_t set_max = lgk >= 8 ? (size_t)3 << (lgk - 5) : 7;
	uint8_t *reg, min = 63;

	if (muse_hll_coupons(h, &cnt) != NULL && cnt <= 7) {
		*mode = "LIST";
		return 8 + 4 * cnt;
	}
	if (muse_hll_coupons(h, &cnt) != NULL && cnt <= set_max) {
		*mode = "SET";
		return 12 + 4 * cnt;
	}
	/* HLL: 4-bit registers above the smallest, 15 or more go to aux. */
	reg = registers_of(h);
	for (i = 0; i < k; i++)
		min = reg[i] < min ? reg[i] : min;
	for (i = 0; i < k; i++)
		aux += reg[i] - min >= 15;
	free(reg);
	*mode = "HLL";
	return 40 + k / 2 + 4 * aux;
}

static size_t zstd3(const void *p, size_t n)
{
	size_t cap = ZSTD_compressBound(n), r;
	void *out = malloc(cap);

	if (out == NULL)
		die("malloc");
	r = ZSTD_compress(out, cap, p, n, 3);
	if (ZSTD_isError(r))
		die("ZSTD_compress");
	free(out);
	return r;
}

/* Appends h's field to blk, and the dense field of its registers to dns. */
static void put_both(const muse_hll *h, struct muse_buf *blk,
	struct muse_buf *dns)
{
	size_t k = (size_t)1 << muse_hll_lgk(h);
	uint8_t *reg = registers_of(h);

	if (muse_hll_encode(h, blk) != 0 || muse_buf_put_u8(dns, 1) != 0 ||
	    muse_buf_put(dns, reg, k) != 0)
		die("encode");
	free(reg);
}

static void print_sizes(int quick)
{
	size_t ri, nrows = sizeof(size_rows) / sizeof(size_rows[0]);
	size_t target = quick ? MUSE_BLOCK_TARGET / 8 : MUSE_BLOCK_TARGET;
	uint64_t base = 0x5eed000000000000ULL;

	printf("\n### Serialized bytes a sketch\n\n");
	printf("Sketches of n distinct items. *alone*: the field by itself"
	    " through zstd -3, frame overhead included; *in blocks*: the fields"
	    " of as many such sketches (of other items) as fill %zu KiB, as a"
	    " stream block holds them, compressed together, divided by their"
	    " number. *if dense*: the same in blocks, had the sketches been"
	    " written as dense registers. DataSketches: the compact HLL_4 image"
	    " of the same coupons (its mode in brackets).\n\n", target >> 10);
	printf("| lgK | n | muse form | field bytes | zstd alone | zstd in blocks"
	    " | if dense | DataSketches HLL_4 | muse / DS | at most DS? |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	for (ri = 0; ri < nrows; ri++) {
		const struct size_row *w = &size_rows[ri];
		struct muse_buf one = { 0 }, blk = { 0 }, dns = { 0 };
		muse_hll *h = sketch_of(w->lgk, base, w->n);
		const char *mode;
		size_t ds = ds_hll4_bytes(h, &mode), alone, nblk = 1;
		double per, per_dense;

		base += w->n;
		if (muse_hll_encode(h, &one) != 0)
			die("muse_hll_encode");
		alone = zstd3(one.p, one.len);
		put_both(h, &blk, &dns);
		/* More sketches of other items until the block is full. */
		while (blk.len < target) {
			muse_hll *g = sketch_of(w->lgk, base, w->n);

			base += w->n;
			put_both(g, &blk, &dns);
			muse_hll_free(g);
			nblk++;
		}
		per = (double)zstd3(blk.p, blk.len) / nblk;
		per_dense = (double)zstd3(dns.p, dns.len) / nblk;
		printf("| %u | %" PRIu64 " | %s | %zu | %zu | %.0f | %.0f | %zu (%s) | %.2f | %s |\n",
		    w->lgk, w->n, muse_hll_is_dense(h) ? "dense" : "sparse",
		    one.len, alone, per, per_dense, ds, mode, per / ds,
		    per <= ds ? "yes" : "**no**");
		muse_buf_free(&one);
		muse_buf_free(&blk);
		muse_buf_free(&dns);
		muse_hll_free(h);
	}
}

/* ---------------------------------------------------------------------
 * Report
 */

static void cell(const struct ref *s, const char *unit)
{
	printf(" %.*f %s [%.*f–%.*f] |", s->med < 10 ? 2 : 1, s->med, unit,
	    s->lo < 10 ? 2 : 1, s->lo, s->hi < 10 ? 2 : 1, s->hi);
}

/* One speed row; bar is the largest muse/DS ratio that meets it, or 0. */
static void speed_row(const char *what, enum row r, unsigned rounds,
	const char *unit, const struct ref *ds, const char *ds_note,
	double bar, const char *bar_text)
{
	struct ref s = summary(r, rounds);

	printf("| %s |", what);
	cell(&s, unit);
	if (ds != NULL) {
		cell(ds, unit);
		printf(" %.3f |", s.med / ds->med);
	} else {
		printf(" %s | |", ds_note);
	}
	if (bar > 0)
		printf(" %s: %s |\n", bar_text,
		    s.hi / ds->med <= bar ? "met (max too)" :
		    s.med / ds->med <= bar ? "met (median)" : "**not met**");
	else
		printf(" %s |\n", bar_text);
}

/* The CPU's model name from /proc/cpuinfo, or "unknown CPU". */
static const char *cpu_model(void)
{
	static char model[128];
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	strcpy(model, "unknown CPU");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) != 0 || colon == NULL)
			continue;
		snprintf(model, sizeof(model), "%s", colon + 2);
		model[strcspn(model, "\n")] = '\0';
		break;
	}
	if (f != NULL)
		fclose(f);
	return model;
}

static const char *today(void)
{
	static char day[16];
	time_t t = time(NULL);

	strftime(day, sizeof(day), "%Y-%m-%d", gmtime(&t));
	return day;
}

static const char *first_usable(const struct muse_hll_kernel *k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (k[i].usable())
			return k[i].name;
	return "none";
}

static void usage(void)
{
	fprintf(stderr, "usage: kernels [-q] [-n items] [-r rounds]\n");
	exit(2);
}

static uint64_t number(const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "kernels: bad number \"%s\"\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	uint64_t items = 100000000, base = 1;
	unsigned rounds = 9, r;
	int quick = 0, c, reps_merge = 20000, reps_union = 5000;
	int reps_est = 5000, reps_enc = 20000;
	muse_hll *a, *b, *a0;
	double est_a;
	size_t nkern, ki;
	const struct muse_hll_kernel *kern = muse_hll_kernels(&nkern);

	while ((c = getopt(argc, argv, "n:qr:")) != -1) {
		switch (c) {
		case 'n':
			items = number(optarg, 1000, UINT64_C(1) << 40);
			break;
		case 'q':
			quick = 1;
			items = 1000000;
			rounds = 3;
			break;
		case 'r':
			rounds = (unsigned)number(optarg, 1, MAX_ROUNDS);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	/* Dense lgk 14 inputs of 10^6 distinct items each, disjoint. */
	a0 = sketch_of(14, UINT64_C(1) << 62, 1000000);
	b = sketch_of(14, UINT64_C(1) << 63, 1000000);
	a = xnew(14);
	if (muse_hll_copy(a, a0) != 0)
		die("muse_hll_copy");
	est_a = muse_hll_estimate(a0);

	for (r = 0; r < rounds; r++) {
		fprintf(stderr, "kernels: round %u of %u\n", r + 1, rounds);
		samples[ROW_HASH][r] = run_hash(base, items);
		samples[ROW_HASH_LIB][r] = run_hash_lib(base, items);
		samples[ROW_UPD12][r] = run_update(12, base, items);
		samples[ROW_UPD14][r] = run_update(14, base, items);
		samples[ROW_MANY12][r] = run_update_many(12, base, items);
		samples[ROW_MANY14][r] = run_update_many(14, base, items);
		samples[ROW_SPARSE12][r] = run_sparse(12, base, items);
		samples[ROW_SPARSE14][r] = run_sparse(14, base, items);
		samples[ROW_SORTED14][r] = run_sorted(14, base, items);
		base += items;
		samples[ROW_MERGE][r] = run_merge(a, b, reps_merge);
		samples[ROW_UNION][r] = run_union(a0, b, reps_union);
		samples[ROW_EST][r] = run_estimate(a0, reps_est);
		samples[ROW_ENCODE][r] = run_encode(a0, reps_enc) * 1e3;
		samples[ROW_DECODE][r] = run_decode(a0, reps_enc) * 1e3;
		for (ki = 0; ki < nkern && ki < MAX_KERNELS; ki++)
			if (kern[ki].usable())
				kernel_max[ki][r] = run_kernel(&kern[ki], a0, b,
				    reps_merge, &kernel_hist[ki][r]);
	}

	printf("## Sketch kernels\n\n");
	printf("Written by tests/bench/kernels.sh on %s: %s, %ld CPUs;"
	    " %s with the default CFLAGS (no -march), SIMD chosen at run"
	    " time: %s.\n\n", today(), cpu_model(), sysconf(_SC_NPROCESSORS_ONLN),
	    COMPILER, first_usable(kern, nkern));
	printf("Medians of %u interleaved rounds with [min–max], the method of"
	    " the DataSketches C++ figures quoted beside them from"
	    " interop/datasketches/MEASUREMENTS.md. Those were taken on another"
	    " machine (an Intel Xeon KVM guest, g++ 12.2 -O3 -march=native), so"
	    " the ratios are across machines. Updates: %" PRIu64 " distinct"
	    " u64 items a run into a fresh sketch, hash included (muse:"
	    " XXH3-128 with the pipeline's seed; DataSketches: MurmurHash3)."
	    " Unions: dense lgK 14 inputs of 10^6 distinct items each, disjoint"
	    " (A alone estimates %.0f).\n\n", rounds, items, est_a);
	printf("| kernel | muse | DataSketches C++ (HLL_8) | muse / DS | issue 3 bar |\n");
	printf("|---|---|---|---|---|\n");
	speed_row("hash + coupon only, no sketch (XXH3-128 inlined)", ROW_HASH,
	    rounds, "ns", &ds_hash, NULL, 0, "");
	speed_row("the same through muse_uid_hash (libxxhash call, as ingest)",
	    ROW_HASH_LIB, rounds, "ns", &ds_hash, NULL, 0, "");
	speed_row("update, lgK 12: hash + muse_hll_add", ROW_UPD12, rounds, "ns",
	    &ds_update12_hll8, NULL, 0.5, "at most 1/2");
	speed_row("update, lgK 14: hash + muse_hll_add", ROW_UPD14, rounds, "ns",
	    &ds_update14_hll8, NULL, 0.5, "at most 1/2");
	speed_row("update, lgK 12: hash + muse_hll_add_many of " XSTR(BATCH),
	    ROW_MANY12, rounds, "ns", &ds_update12_hll8, NULL, 0.5,
	    "at most 1/2");
	speed_row("update, lgK 14: hash + muse_hll_add_many of " XSTR(BATCH),
	    ROW_MANY14, rounds, "ns", &ds_update14_hll8, NULL, 0.5,
	    "at most 1/2");
	speed_row("update while sparse, lgK 12: fresh sketches of 1024 items",
	    ROW_SPARSE12, rounds, "ns", NULL, "not measured", 0, "");
	speed_row("update while sparse, lgK 14: fresh sketches of 4096 items",
	    ROW_SPARSE14, rounds, "ns", NULL, "not measured", 0, "");
	speed_row("fill a fresh lgK 14 sketch from 4096 sorted coupons"
	    " (muse_hll_add_many; hashing and sorting not timed)",
	    ROW_SORTED14, rounds, "ns", NULL, "not measured", 0, "");
	speed_row("merge of dense B into dense A (register max)", ROW_MERGE,
	    rounds, "µs", &ds_merge, NULL, 0.1, "at most 1/10");
	speed_row("whole union: new, copy A, merge B, estimate, free",
	    ROW_UNION, rounds, "µs", &ds_union, NULL, 0.1, "at most 1/10");
	speed_row("estimate of a dense lgK 14 sketch", ROW_EST, rounds, "µs",
	    NULL, "O(1): kept up by every update (HIP)", 0, "");
	speed_row("encode a dense lgK 14 sketch", ROW_ENCODE, rounds, "ns",
	    NULL, "", 0, "");
	speed_row("decode a dense lgK 14 sketch (every register checked)",
	    ROW_DECODE, rounds, "ns", NULL, "", 0, "");
	{
		struct ref s = summary(ROW_EST, rounds);

		printf("\nEstimate bar (at most 5 µs at lgK 14): %s (median %.2f µs, max %.2f µs).\n",
		    s.hi <= 5 ? "met" : s.med <= 5 ? "met by the median only" :
		    "**not met**", s.med, s.hi);
	}
	printf("DataSketches HLL_4 updates for reference: lgK 12 %.2f ns,"
	    " lgK 14 %.2f ns; compact serialize %.0f ns and deserialize %.0f ns"
	    " (HLL_8, dense lgK 14).\n", ds_update12_hll4.med,
	    ds_update14_hll4.med, ds_serialize_hll8, ds_deserialize_hll8);

	printf("\nEach kernel variant compiled in, called directly on the same"
	    " registers (the library takes the first one this CPU runs):\n\n");
	printf("| variant | register max, lgK 14 | histogram, lgK 14 (the pass"
	    " of the estimate) |\n|---|---|---|\n");
	for (ki = 0; ki < nkern && ki < MAX_KERNELS; ki++) {
		struct ref m, hs;

		if (!kern[ki].usable()) {
			printf("| %s | not on this CPU | |\n", kern[ki].name);
			continue;
		}
		m = summarize(kernel_max[ki], rounds);
		hs = summarize(kernel_hist[ki], rounds);
		printf("| %s |", kern[ki].name);
		cell(&m, "µs");
		cell(&hs, "µs");
		printf("\n");
	}

	print_sizes(quick);

	muse_hll_free(a);
	muse_hll_free(a0);
	muse_hll_free(b);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "kernels: write error\n");
		return 1;
	}
	return 0;
}
