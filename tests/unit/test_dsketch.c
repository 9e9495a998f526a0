/*
 * test_dsketch.c - unit tests for lib/dsketch.c and lib/murmur3.c against
 * the Apache DataSketches golden vectors in tests/golden/datasketches
 * (copied from the shared interop set; its README says how they were
 * made).  Run from the top of the tree, as tests/run.sh does.
 *
 *   hash      MurmurHash3 x64 128 seed 9001 and the coupon of every row
 *             of coupons.tsv (u64 items and strings of 1..17 bytes);
 *   golden    every image listed in SHA256SUMS decodes; its mode, lgK and
 *             type are those of vectors.tsv; re-encoded in the same form
 *             it gives the same bytes where vectors.tsv says the reference
 *             re-serializes identically (else it decodes to the same
 *             state); the estimate lies within the reference's 2-sigma
 *             bounds and equals the stored HIP where the image is in order;
 *   muse      an image turned into a muse sketch and exported again gives
 *             the same bytes when the reference's state was order-free
 *             (union results), else the same registers with HIP dropped;
 *   items     muse sketches built from the vectors' items, hashed the
 *             DataSketches way, hold the same coupons or registers as the
 *             reference's images, and the union recipes of the vectors
 *             (including the lgK 14 + 12 fold) export to the reference's
 *             bytes;
 *   corrupt   truncations, named field corruptions and random byte flips
 *             are refused with MUSE_EFORMAT (and never crash: ASan build);
 *   base64    round trips and refusals.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsketch.h"
#include "hll.h"
#include "murmur3.h"

#include "check.h"

#define DIR "tests/golden/datasketches/"

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "test_dsketch: out of memory\n");
		exit(1);
	}
	return p;
}

static uint8_t *slurp(const char *name, size_t *n)
{
	char path[512];
	FILE *f;
	uint8_t *p;
	long len;

	snprintf(path, sizeof(path), DIR "%s", name);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = xmalloc((size_t)len);
	if (fread(p, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		free(p);
		return NULL;
	}
	fclose(f);
	*n = (size_t)len;
	return p;
}

/* Splits a tab-separated line in place; returns the field count. */
static int split(char *line, char **f, int max)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == '\t') {
			*p = 0;
			f[n++] = p + 1;
		}
	return n;
}

static void hash_u64(uint64_t v, uint64_t *h1, uint64_t *h2)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> 8 * i);
	muse_murmur3_128(b, 8, MUSE_MURMUR3_DS_SEED, h1, h2);
}

/* ---------------------------------------------------------------------
 * Hash vectors
 */

static void test_hash(void)
{
	FILE *f = fopen(DIR "coupons.tsv", "r");
	char line[1024], *c[16];
	unsigned rows = 0, bad = 0;

	check(f != NULL, "coupons.tsv opens");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		uint8_t bytes[64];
		size_t n;
		uint64_t h1, h2;
		uint32_t cp;

		if (split(line, c, 16) < 8 || strcmp(c[0], "item_kind") == 0)
			continue;
		n = strlen(c[2]) / 2;
		for (size_t i = 0; i < n && i < sizeof(bytes); i++)
			sscanf(c[2] + 2 * i, "%2hhx", &bytes[i]);
		muse_murmur3_128(bytes, n, MUSE_MURMUR3_DS_SEED, &h1, &h2);
		cp = muse_hll_coupon(h1, h2);
		if (h1 != strtoull(c[3], NULL, 16) ||
		    h2 != strtoull(c[4], NULL, 16) ||
		    cp != strtoul(c[7], NULL, 16)) {
			bad++;
			printf("# hash mismatch for %s %s\n", c[0], c[1]);
		}
		if (strcmp(c[0], "str") == 0 && (strlen(c[1]) != n ||
		    memcmp(c[1], bytes, n) != 0))
			bad++;
		rows++;
	}
	fclose(f);
	check(rows >= 137 && bad == 0, "murmur3 x64 128 seed 9001 and coupons "
	    "of %u rows of coupons.tsv (%u wrong)", rows, bad);
}

/* ---------------------------------------------------------------------
 * Golden images
 */

struct vec {
	char file[128];
	unsigned lgk, type, mode, compact, ooo, identical;
	double n, est, lb2, ub2;
	uint32_t naux;
};

static struct vec *vecs;
static size_t nvecs;

/* Rows of vectors.tsv whose file was copied (listed in SHA256SUMS). */
static void load_vectors(void)
{
	FILE *f = fopen(DIR "vectors.tsv", "r"), *s = fopen(DIR "SHA256SUMS", "r");
	char line[2048], *c[32], sums[65536];
	size_t sl;

	check(f != NULL && s != NULL, "vectors.tsv and SHA256SUMS open");
	if (f == NULL || s == NULL)
		exit(check_done("test_dsketch"));
	sl = fread(sums, 1, sizeof(sums) - 1, s);
	sums[sl] = 0;
	fclose(s);
	vecs = xmalloc(256 * sizeof(*vecs));
	while (fgets(line, sizeof(line), f) && nvecs < 256) {
		struct vec *v = &vecs[nvecs];
		char key[160];

		if (split(line, c, 32) < 21 || strcmp(c[0], "file") == 0)
			continue;
		snprintf(key, sizeof(key), "  %s\n", c[0]);
		if (strstr(sums, key) == NULL)
			continue;
		snprintf(v->file, sizeof(v->file), "%s", c[0]);
		v->lgk = (unsigned)atoi(c[1]);
		v->type = (unsigned)muse_ds_type_parse(c[2]);
		v->n = atof(c[3]);
		v->est = strtod(c[5], NULL);
		v->lb2 = strtod(c[7], NULL);
		v->ub2 = strtod(c[10], NULL);
		v->mode = strcmp(c[13], "LIST") == 0 ? MUSE_DS_LIST :
		    strcmp(c[13], "SET") == 0 ? MUSE_DS_SET : MUSE_DS_HLL;
		v->compact = strcmp(c[14], "compact") == 0;
		v->ooo = atoi(c[15]);
		v->naux = (uint32_t)atoi(c[17]);
		v->identical = strcmp(c[19], "identical") == 0;
		nvecs++;
	}
	fclose(f);
}

/* The registers of h at its lgK (coupons folded when sparse). */
static uint8_t *regs_of(const muse_hll *h)
{
	size_t k = (size_t)1 << muse_hll_lgk(h), n;
	uint8_t *r = xmalloc(k);
	const uint32_t *c = muse_hll_coupons(h, &n);

	if (c == NULL) {
		memcpy(r, muse_hll_registers(h), k);
		return r;
	}
	memset(r, 0, k);
	for (size_t i = 0; i < n; i++)
		if (c[i] >> 26 > r[c[i] & (k - 1)])
			r[c[i] & (k - 1)] = (uint8_t)(c[i] >> 26);
	return r;
}

/*
 * Equal sketches: the same coupons when both are sparse, else the same
 * registers (a muse sketch keeps coupons up to K/4, where the reference
 * has turned to registers, and the other way at lgK 4).
 */
static int hll_equal(const muse_hll *a, const muse_hll *b)
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
	ok = muse_hll_encode(a, &x) == 0 && muse_hll_encode(b, &y) == 0 &&
	    x.len == y.len && memcmp(x.p, y.p, x.len) == 0;
	muse_buf_free(&x);
	muse_buf_free(&y);
	return ok;
}

/* Same coupons (LIST/SET) or registers (HLL) in two decoded images. */
static int same_state(const struct muse_ds *a, const struct muse_ds *b)
{
	muse_hll *x = muse_hll_new(a->lgk), *y = muse_hll_new(a->lgk);
	struct muse_err e;
	int ok = a->lgk == b->lgk && muse_ds_merge_into(x, a, &e) == 0 &&
	    muse_ds_merge_into(y, b, &e) == 0 && hll_equal(x, y);

	muse_hll_free(x);
	muse_hll_free(y);
	return ok;
}

static void test_golden(void)
{
	unsigned decoded = 0, same = 0, samestate = 0, inb = 0, hip = 0;
	unsigned nident = 0, nhip = 0, back = 0, nback = 0, masked = 0;
	unsigned nmasked = 0;

	for (size_t i = 0; i < nvecs; i++) {
		struct vec *v = &vecs[i];
		struct muse_ds d, d2, m;
		struct muse_buf out = { 0 }, out2 = { 0 };
		struct muse_err e;
		muse_hll *h;
		size_t n;
		uint8_t *p = slurp(v->file, &n);
		double est;

		muse_ds_init(&d);
		muse_ds_init(&d2);
		muse_ds_init(&m);
		if (p == NULL || muse_ds_decode(&d, p, n, &e) != 0 ||
		    d.lgk != v->lgk || d.type != v->type || d.mode != v->mode ||
		    d.ooo != (int)v->ooo || (d.type == MUSE_DS_HLL4 &&
		    d.mode == MUSE_DS_HLL && d.naux != v->naux)) {
			printf("# %s: does not decode as listed (%s)\n", v->file,
			    p ? e.msg : "missing");
			free(p);
			continue;
		}
		decoded++;
		/* Re-encoding in the same form. */
		muse_ds_encode(&d, v->compact, &out);
		if (v->identical) {
			nident++;
			if (out.len == n && memcmp(out.p, p, n) == 0)
				same++;
			else
				printf("# %s: re-encoded bytes differ\n", v->file);
		} else if (muse_ds_decode(&d2, out.p, out.len, &e) == 0 &&
		    out.len == n && same_state(&d, &d2)) {
			samestate++;
		} else {
			printf("# %s: re-encoding changes the state\n", v->file);
		}
		/* The estimate. */
		est = muse_ds_estimate(&d);
		if (est >= v->lb2 && est <= v->ub2)
			inb++;
		else
			printf("# %s: estimate %.17g outside [%.17g, %.17g]\n",
			    v->file, est, v->lb2, v->ub2);
		if (d.mode == MUSE_DS_HLL && !d.ooo) {
			nhip++;
			if (est == v->est)
				hip++;
		}
		/* Through a muse sketch and back. */
		h = muse_hll_new(d.lgk);
		out.len = 0;
		if (h && muse_ds_merge_into(h, &d, &e) == 0 &&
		    muse_ds_from_hll(&m, h, d.type) == 0 &&
		    muse_ds_encode(&m, v->compact, &out2) == 0) {
			if (d.mode == MUSE_DS_HLL && d.ooo) {
				/* The canonical union form (FORMAT.md Q2). */
				const char *want = strstr(v->file,
				    "_after_estimate") ?
				    "union_lgk12_a12_b12_t8.bin" : v->file;
				size_t wn;
				uint8_t *w = slurp(want, &wn);

				nback++;
				if (w && wn == out2.len && memcmp(w, out2.p,
				    wn) == 0)
					back++;
				else
					printf("# %s: muse export differs\n",
					    v->file);
				free(w);
			} else if (muse_hll_is_empty(h)) {
				/* An empty full-size image: the empty LIST. */
				nmasked++;
				if (out2.len == (v->compact ? 8u : 40u) &&
				    m.mode == MUSE_DS_LIST)
					masked++;
				else
					printf("# %s: empty export differs\n",
					    v->file);
			} else if (d.mode == MUSE_DS_HLL) {
				/* Same bytes but the flags and HIP. */
				nmasked++;
				if (out2.len == n && m.ooo && memcmp(out2.p, p,
				    5) == 0 && memcmp(out2.p + 6, p + 6, 2) == 0
				    && memcmp(out2.p + 16, p + 16, n - 16) == 0)
					masked++;
				else
					printf("# %s: muse export differs "
					    "beyond HIP\n", v->file);
			} else {
				nmasked++;
				muse_ds_free(&d2);
				if (muse_ds_decode(&d2, out2.p, out2.len, &e) ==
				    0 && same_state(&d, &d2) &&
				    (d2.mode == d.mode || (d.lgk < 5 &&
				    d.count > MUSE_HLL_SPARSE_MAX(d.lgk))) &&
				    (d.mode != MUSE_DS_SET || d2.lgarr ==
				    d.lgarr))
					masked++;
				else
					printf("# %s: muse export changes the "
					    "coupons\n", v->file);
			}
		}
		muse_hll_free(h);
		muse_ds_free(&d);
		muse_ds_free(&d2);
		muse_ds_free(&m);
		muse_buf_free(&out);
		muse_buf_free(&out2);
		free(p);
	}
	check(nvecs >= 150 && decoded == nvecs, "%u of %zu golden images decode "
	    "as vectors.tsv lists them", decoded, nvecs);
	check(nident > 100 && same == nident, "%u of %u images the reference "
	    "re-serializes identically re-encode byte for byte", same, nident);
	check(samestate == nvecs - nident, "%u of %zu other images (compact "
	    "SET) re-encode to the same state and size", samestate,
	    nvecs - nident);
	check(inb == nvecs, "%u of %zu estimates within the reference's "
	    "2-sigma bounds", inb, nvecs);
	check(nhip > 50 && hip == nhip, "%u of %u in-order HLL images estimate "
	    "their stored HIP exactly", hip, nhip);
	check(nback >= 9 && back == nback, "%u of %u union images come back "
	    "byte for byte through a muse sketch", back, nback);
	check(nmasked > 100 && masked == nmasked, "%u of %u other images come "
	    "back through a muse sketch with the same coupons or registers "
	    "(HIP dropped)", masked, nmasked);
}

/* ---------------------------------------------------------------------
 * Items hashed the DataSketches way
 */

static muse_hll *from_items(unsigned lgk, uint64_t lo, uint64_t hi)
{
	muse_hll *h = muse_hll_new(lgk);

	for (uint64_t i = lo; i < hi; i++) {
		uint64_t h1, h2;

		hash_u64(i, &h1, &h2);
		muse_hll_add(h, muse_hll_coupon(h1, h2));
	}
	return h;
}

/* The image of name exported from h in its type equals the file. */
static int exports_as(const muse_hll *h, unsigned type, const char *name)
{
	struct muse_buf out = { 0 };
	size_t n;
	uint8_t *p = slurp(name, &n);
	int ok = p && muse_ds_export(h, type, &out) == 0 && out.len == n &&
	    memcmp(out.p, p, n) == 0;

	free(p);
	muse_buf_free(&out);
	return ok;
}

static muse_hll *from_file(unsigned lgk, const char *name)
{
	struct muse_ds d;
	struct muse_err e;
	size_t n;
	uint8_t *p = slurp(name, &n);
	muse_hll *h = muse_hll_new(lgk);

	muse_ds_init(&d);
	if (p == NULL || muse_ds_decode(&d, p, n, &e) != 0 ||
	    muse_ds_merge_into(h, &d, &e) != 0) {
		muse_hll_free(h);
		h = NULL;
	}
	muse_ds_free(&d);
	free(p);
	return h;
}

static void test_items(int quick)
{
	static const unsigned lgks[] = { 4, 8, 12, 14, 21 };
	static const unsigned ns[] = { 1, 2, 7, 100, 1000, 10000, 100000,
		1000000 };
	unsigned cmp = 0, eq = 0;
	muse_hll *u, *a, *b;

	for (size_t li = 0; li < 5; li++) {
		for (size_t ni = 0; ni < 8; ni++) {
			muse_hll *h;

			if (quick && ns[ni] > 100000)
				continue;
			h = from_items(lgks[li], 0, ns[ni]);
			for (unsigned t = 0; t < 3; t++) {
				char name[128];
				muse_hll *g;

				snprintf(name, sizeof(name),
				    "hll_lgk%u_t%u_n%u_u64.bin", lgks[li],
				    t == 0 ? 4 : t == 1 ? 6 : 8, ns[ni]);
				g = from_file(lgks[li], name);
				if (g == NULL)
					continue;   /* not copied (lgK 21) */
				cmp++;
				if (hll_equal(g, h))
					eq++;
				else
					printf("# %s: muse sketch of the items "
					    "differs\n", name);
				muse_hll_free(g);
			}
			muse_hll_free(h);
		}
	}
	check(cmp >= (quick ? 90u : 110u) && eq == cmp, "%u of %u images hold "
	    "the coupons/registers of a muse sketch of the same items", eq,
	    cmp);

	u = from_items(12, 0, 150000);
	check(exports_as(u, MUSE_DS_HLL8, "union_lgk12_a12_b12_t8.bin") &&
	    exports_as(u, MUSE_DS_HLL6, "union_lgk12_a12_b12_t6.bin") &&
	    exports_as(u, MUSE_DS_HLL4, "union_lgk12_a12_b12_t4.bin") &&
	    exports_as(u, MUSE_DS_HLL4, "union_lgk14_a14_b12_t4.bin"),
	    "items 0..149999 at lgK 12 export as the reference union's "
	    "HLL_8, HLL_6 and HLL_4 images, byte for byte");
	muse_hll_free(u);

	/* hll_union(12): A at lgK 14 folds down, then B (Q1 fixed). */
	a = from_file(12, "hll_lgk14_t8_n100000_u64.bin");
	b = from_file(12, "union_in_lgk12_t8_u64_50000_150000.bin");
	check(a && b && muse_hll_merge(a, b) == 0 &&
	    exports_as(a, MUSE_DS_HLL8, "union_lgk12_a12_b12_t8.bin"),
	    "an lgK 14 image folded into lgK 12 and merged gives the "
	    "reference union's bytes");
	muse_hll_free(a);
	muse_hll_free(b);

	/* An lgK 12 HLL image cannot join an lgK 14 sketch. */
	{
		struct muse_ds d;
		struct muse_err e;
		size_t n;
		uint8_t *p = slurp("hll_lgk12_t8_n100000_u64.bin", &n);
		muse_hll *h = muse_hll_new(14);

		muse_ds_init(&d);
		check(p && muse_ds_decode(&d, p, n, &e) == 0 &&
		    muse_ds_merge_into(h, &d, &e) == MUSE_EPARAM &&
		    strstr(e.msg, "lgK 12") != NULL,
		    "an HLL image of smaller lgK is refused: %s", e.msg);
		muse_ds_free(&d);
		muse_hll_free(h);
		free(p);
	}

	/* SET results: same coupons, even if the table order differs. */
	u = from_items(12, 0, 75);
	a = from_file(12, "union_lgk12_d12set_e12set_t8.bin");
	check(a && hll_equal(u, a), "the SET union of D and E holds the "
	    "coupons of items 0..74");
	muse_hll_free(u);
	muse_hll_free(a);
}

/* ---------------------------------------------------------------------
 * Corrupt images
 */

static int refused(const uint8_t *p, size_t n, const char *what)
{
	struct muse_ds d;
	struct muse_err e;
	int rc;

	muse_ds_init(&d);
	muse_err_clear(&e);
	rc = muse_ds_decode(&d, p, n, &e);
	muse_ds_free(&d);
	if (rc != MUSE_EFORMAT)
		printf("# %s: not refused (rc %d)\n", what, rc);
	else if (strstr(e.msg, "datasketches image") == NULL)
		printf("# %s: message \"%s\"\n", what, e.msg);
	return rc == MUSE_EFORMAT;
}

/* A copy of name with byte at set to v (or ored/xored by the helpers). */
static uint8_t *mut(const char *name, size_t *n)
{
	uint8_t *p = slurp(name, n);

	if (p == NULL) {
		fprintf(stderr, "test_dsketch: %s missing\n", name);
		exit(1);
	}
	return p;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static void test_corrupt(int quick)
{
	static const char *const small[] = {
		"hll_lgk12_t8_n7_u64.bin", "hll_lgk12_t8_n100_u64.bin",
		"hll_lgk12_t4_n1000_u64.bin", "hll_lgk12_t6_n1000_u64.bin",
		"hll_lgk12_t4_n1000000_u64.bin", "hll_lgk12_t8_n100_u64_updatable.bin",
		"hll_lgk12_t4_n1000000_u64_updatable.bin",
		"hll_lgk4_t4_n1000000_u64.bin", "hll_lgk8_t6_n100_u64.bin",
	};
	unsigned ok = 0, total = 0, flips = 0, flipped_ok = 0;
	uint64_t seed = 42;
	size_t n;
	uint8_t *p;

	/* Every truncation and one trailing byte. */
	for (size_t f = 0; f < sizeof(small) / sizeof(small[0]); f++) {
		uint8_t *q = mut(small[f], &n), *r = xmalloc(n + 1);

		for (size_t len = 0; len < n; len++, total++)
			ok += refused(q, len, small[f]);
		memcpy(r, q, n);
		r[n] = 0;
		total++;
		ok += refused(r, n + 1, "trailing byte");
		free(r);
		free(q);
	}
	check(ok == total, "%u of %u truncated or overlong images refused", ok,
	    total);

#define CASE(file, what, edit) do { \
	p = mut(file, &n); \
	edit; \
	check(refused(p, n, what), "refused: %s", what); \
	free(p); \
} while (0)
	CASE("hll_lgk12_t8_n7_u64.bin", "serial version 2", p[1] = 2);
	CASE("hll_lgk12_t8_n7_u64.bin", "family 3 (theta)", p[2] = 3);
	CASE("hll_lgk12_t8_n7_u64.bin", "lgK 3", p[3] = 3);
	CASE("hll_lgk12_t8_n7_u64.bin", "lgK 22", p[3] = 22);
	CASE("hll_lgk12_t8_n7_u64.bin", "mode 3", p[7] = 0x0B);
	CASE("hll_lgk12_t8_n7_u64.bin", "type 3", p[7] = 0x0C);
	CASE("hll_lgk12_t8_n7_u64.bin", "preamble ints of SET on a LIST",
	    p[0] = 3);
	CASE("hll_lgk12_t8_n7_u64.bin", "LIST count 8", p[6] = 8);
	CASE("hll_lgk12_t8_n7_u64.bin", "LIST coupon repeated",
	    memcpy(p + 12, p + 8, 4));
	CASE("hll_lgk12_t8_n7_u64.bin", "LIST coupon of value 0",
	    p[11] &= 0x03);
	CASE("hll_lgk12_t8_n7_u64.bin", "EMPTY flag with coupons",
	    p[5] |= 0x04);
	CASE("hll_lgk12_t8_n7_u64.bin", "unknown flag", p[5] |= 0x40);
	CASE("hll_lgk12_t8_n7_u64_updatable.bin", "LIST cell past the count",
	    memcpy(p + 36, p + 8, 4));
	CASE("hll_lgk12_t8_n100_u64.bin", "SET count off by one",
	    put32(p + 8, 99));
	CASE("hll_lgk12_t8_n100_u64.bin", "SET coupon repeated",
	    memcpy(p + 16, p + 12, 4));
	CASE("hll_lgk12_t8_n100_u64_updatable.bin", "SET count off by one "
	    "(updatable)", put32(p + 8, 101));
	CASE("hll_lgk12_t8_n100_u64_updatable.bin", "SET lgArr 4",
	    p[4] = 4);
	CASE("hll_lgk4_t8_n100_u64.bin", "SET mode at lgK 4",
	    (p[0] = 3, p[7] = 0x09));
	CASE("hll_lgk12_t8_n1000_u64.bin", "HLL_8 register 64",
	    p[40 + 17] = 64);
	CASE("hll_lgk12_t8_n1000_u64.bin", "HLL_8 register raised (KxQ)",
	    p[40 + 17] += 1);
	CASE("hll_lgk12_t8_n1000_u64.bin", "numAtCurMin off by one",
	    p[32] ^= 1);
	CASE("hll_lgk12_t8_n1000_u64.bin", "KxQ0 changed", p[16] ^= 1);
	CASE("hll_lgk12_t8_n1000_u64.bin", "HIP NaN",
	    memset(p + 8, 0xFF, 8));
	CASE("hll_lgk12_t8_n1000_u64.bin", "HLL_8 with exceptions",
	    p[36] = 1);
	CASE("hll_lgk12_t6_n1000_u64.bin", "HLL_6 spare byte",
	    p[n - 1] = 1);
	CASE("hll_lgk12_t4_n1000000_u64.bin", "HLL_4 exception for a nibble "
	    "below 15", p[n - 4] ^= 1);
	CASE("hll_lgk12_t4_n1000000_u64.bin", "HLL_4 exception too small",
	    p[n - 1] = (uint8_t)((p[6] + 14) << 2));
	CASE("hll_lgk12_t4_n1000000_u64.bin", "HLL_4 curMin raised",
	    p[6] += 1);
	CASE("hll_lgk12_t4_n10000_u64.bin", "HLL_4 nibble 15 with no "
	    "exception", p[40] |= 0x0F);
#undef CASE

	/* Random flips: refused, or decoded to a state that re-encodes. */
	for (size_t f = 0; f < sizeof(small) / sizeof(small[0]); f++) {
		uint8_t *q = mut(small[f], &n);
		unsigned rounds = quick ? 300 : 3000;

		for (unsigned r = 0; r < rounds; r++) {
			uint8_t *c = xmalloc(n);
			struct muse_ds d, d2;
			struct muse_err e;
			struct muse_buf out = { 0 };

			memcpy(c, q, n);
			for (int k = 0; k < 1 + (int)(r % 3); k++) {
				seed = seed * 6364136223846793005ULL +
				    1442695040888963407ULL;
				c[(seed >> 33) % n] ^= (uint8_t)(1 << (seed >>
				    20 & 7));
			}
			muse_ds_init(&d);
			muse_ds_init(&d2);
			flips++;
			if (muse_ds_decode(&d, c, n, &e) != 0)
				flipped_ok += e.code == MUSE_EFORMAT;
			else
				flipped_ok += muse_ds_encode(&d, 1, &out) == 0
				    && muse_ds_decode(&d2, out.p, out.len, &e)
				    == 0;
			muse_ds_free(&d);
			muse_ds_free(&d2);
			muse_buf_free(&out);
			free(c);
		}
		free(q);
	}
	check(flipped_ok == flips, "%u of %u images with flipped bits refused "
	    "with MUSE_EFORMAT or decoded consistently", flipped_ok, flips);
}

/* ---------------------------------------------------------------------
 * Base64
 */

static void test_base64(void)
{
	static const char *const good[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const char *const badtext[] = { "Zg=", "Zg=a", "Z===",
		"Zh==", "Zm9v!A==", "====" };
	unsigned ok = 0, nok = 0;

	for (size_t i = 0; i < 7; i++) {
		struct muse_buf a = { 0 }, b = { 0 };
		struct muse_err e;
		size_t n = strlen(good[i][0]);

		ok += muse_b64_encode((const uint8_t *)good[i][0], n, &a) == 0 &&
		    a.len == strlen(good[i][1]) &&
		    (n == 0 || memcmp(a.p, good[i][1], a.len) == 0) &&
		    muse_b64_decode(good[i][1], strlen(good[i][1]), &b, &e) ==
		    0 && b.len == n && (n == 0 || memcmp(b.p, good[i][0], n) == 0);
		muse_buf_free(&a);
		muse_buf_free(&b);
	}
	check(ok == 7, "base64 of the RFC 4648 test vectors, both ways");
	for (size_t i = 0; i < 6; i++) {
		struct muse_buf b = { 0 };
		struct muse_err e;

		nok += muse_b64_decode(badtext[i], strlen(badtext[i]), &b, &e) ==
		    MUSE_EINPUT;
		muse_buf_free(&b);
	}
	check(nok == 6, "%u of 6 malformed base64 texts refused", nok);
}

int main(int argc, char **argv)
{
	int quick = (argc > 1 && strcmp(argv[1], "quick") == 0) ||
	    (getenv("MUSE_TEST_QUICK") && strcmp(getenv("MUSE_TEST_QUICK"),
	    "1") == 0);

	test_hash();
	load_vectors();
	test_golden();
	test_items(quick);
	test_corrupt(quick);
	test_base64();
	free(vecs);
	return check_done("test_dsketch");
}
