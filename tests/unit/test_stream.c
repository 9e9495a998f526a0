/*
 * test_stream.c - the stream container of muse-format(5) (lib/stream.c):
 * writer and reader round trips, concatenation, empty streams, and a
 * reader that distrusts every byte (every truncation, every single-bit
 * flip, absurd block sizes, reordered or dropped blocks, trailing
 * garbage).  Streams are written to memory with open_memstream and read
 * back with muse_input_mem.  Prints one TAP-like line per check and a
 * summary line; exits 1 when any check failed.  "quick" as the first
 * argument (the sanitizer build) thins the every-offset loops.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "hll.h"
#include "sketch.h"
#include "stream.h"

#include "check.h"

static int quick;
static int read_ahead;          /* read_image reads blocks on a second thread */
static int write_behind;        /* write_stream writes blocks on a second thread */

/* ------------------------------------------------------------------ */
/* Building streams in memory                                           */
/* ------------------------------------------------------------------ */

static struct muse_header events_header(int table)
{
	struct muse_header h;

	memset(&h, 0, sizeof(h));
	h.kind = MUSE_KIND_EVENTS;
	h.table = (uint8_t)table;
	h.hash = MUSE_HASH_XXH3;
	h.seed = MUSE_HASH_SEED;
	return h;
}

/*
 * The container does not look inside records, except that a sorted sketch
 * stream (a store) indexes their keys in its footer: these tests write
 * arbitrary records, so their sketch streams are not flagged sorted.
 */
static struct muse_header sketch_header(void)
{
	struct muse_header h;

	memset(&h, 0, sizeof(h));
	h.kind = MUSE_KIND_SKETCH;
	h.flags = 0;
	h.hash = MUSE_HASH_XXH3;
	h.seed = MUSE_HASH_SEED;
	h.dims = 1u << MUSE_DIM_TITLE | 1u << MUSE_DIM_ASSET |
	    1u << MUSE_DIM_DATE | 1u << MUSE_DIM_SEGMENT;
	h.grain = MUSE_GRAIN_DAY;
	h.lgk = 14;
	h.metrics = MUSE_METRICS_V1;
	h.window_s = 86400;
	h.qualify_ms = 60000;
	h.authentic_ms = 900000;
	return h;
}

/* A set of records: their bytes end to end, and each one's length. */
struct recs {
	struct muse_buf bytes;
	size_t *len;
	size_t n, cap;
};

static void recs_add(struct recs *r, const void *p, size_t n)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->len = realloc(r->len, r->cap * sizeof(*r->len));
		if (r->len == NULL)
			abort();
	}
	r->len[r->n++] = n;
	if (muse_buf_put(&r->bytes, p, n))
		abort();
}

static void recs_clear(struct recs *r)
{
	r->n = 0;
	r->bytes.len = 0;
}

static void recs_free(struct recs *r)
{
	muse_buf_free(&r->bytes);
	free(r->len);
	memset(r, 0, sizeof(*r));
}

static int recs_equal(const struct recs *a, const struct recs *b)
{
	return a->n == b->n && a->bytes.len == b->bytes.len &&
	    (a->n == 0 || memcmp(a->len, b->len, a->n * sizeof(*a->len)) == 0) &&
	    (a->bytes.len == 0 ||
	    memcmp(a->bytes.p, b->bytes.p, a->bytes.len) == 0);
}

/* A memory image of one or more streams. */
struct image {
	char *p;
	size_t n;
};

static void image_free(struct image *im)
{
	free(im->p);
	im->p = NULL;
	im->n = 0;
}

static void image_append(struct image *im, const void *p, size_t n)
{
	im->p = realloc(im->p, im->n + n + 1);
	if (im->p == NULL)
		abort();
	memcpy(im->p + im->n, p, n);
	im->n += n;
}

/*
 * Writes one stream holding recs (each record in turn) after whatever im
 * already holds.  Returns 0, or the first error code.
 */
static int write_stream(struct image *im, const struct muse_header *h,
	const struct recs *recs, int level)
{
	struct muse_err e;
	char *p = NULL;
	size_t n = 0, off = 0;
	FILE *fp = open_memstream(&p, &n);
	muse_writer *w;
	int rc = 0;

	if (fp == NULL)
		abort();
	muse_err_clear(&e);
	w = muse_writer_new(fp, "<memory>", h, level, &e);
	if (w != NULL && write_behind && muse_writer_write_behind(w) != 1)
		abort();
	if (w == NULL) {
		rc = e.code;
	} else {
		for (size_t i = 0; i < recs->n && rc == 0; i++) {
			rc = muse_writer_add(w, recs->bytes.p + off, recs->len[i], &e);
			off += recs->len[i];
		}
		if (rc == 0 && muse_writer_records(w) != recs->n)
			rc = -100;
		if (rc == 0)
			rc = muse_writer_finish(w, &e);
		muse_writer_free(w);
	}
	if (fclose(fp) != 0)
		abort();
	image_append(im, p, n);
	free(p);
	return rc;
}

/* What reading an image gave. */
struct result {
	int rc;                     /* 0: clean end; else the error code */
	int nstreams;
	struct muse_header h[4];    /* headers of the first streams */
	struct recs recs[4];        /* records of the first streams */
	struct muse_err e;
};

static void result_free(struct result *res)
{
	for (int i = 0; i < 4; i++)
		recs_free(&res->recs[i]);
}

/*
 * Reads every stream and record of p[0..n) into res.  Returns res->rc.
 * skip_first: leave stream 1 without reading its records (the reader
 * must still verify it when moving on).
 */
static int read_image(const void *p, size_t n, struct result *res,
	int skip_first)
{
	struct muse_header h;
	muse_input *in;
	muse_reader *r;
	const uint8_t *rec;
	size_t len;
	int rc;

	for (int i = 0; i < 4; i++)
		recs_clear(&res->recs[i]);
	res->nstreams = 0;
	muse_err_clear(&res->e);
	if ((in = muse_input_mem(p, n, "mem", &res->e)) == NULL)
		return res->rc = res->e.code;
	if ((r = muse_reader_new(in, &res->e)) == NULL)
		return res->rc = res->e.code;
	if (read_ahead && muse_reader_read_ahead(r) != 1)
		abort();
	while ((rc = muse_reader_next_stream(r, &h, &res->e)) == 1) {
		int s = res->nstreams++;

		if (s < 4)
			res->h[s] = h;
		if (s == 0 && skip_first)
			continue;
		while ((rc = muse_reader_next(r, &rec, &len, &res->e)) == 1)
			if (s < 4)
				recs_add(&res->recs[s], rec, len);
		if (rc < 0)
			break;
	}
	muse_reader_free(r);
	return res->rc = rc;
}

static int header_equal(const struct muse_header *a,
	const struct muse_header *b)
{
	return a->kind == b->kind && a->flags == b->flags &&
	    a->table == b->table && a->hash == b->hash && a->dims == b->dims &&
	    a->grain == b->grain && a->lgk == b->lgk &&
	    a->metrics == b->metrics && a->window_s == b->window_s &&
	    a->qualify_ms == b->qualify_ms &&
	    a->authentic_ms == b->authentic_ms && a->seed == b->seed &&
	    a->src_content == b->src_content &&
	    a->src_version == b->src_version;
}

/*
 * The stream of im read again with its header replaced by hdr, whose
 * checksum is made right first: what is checked is the header's content.
 */
static void read_with_header(struct image *im, uint8_t *hdr,
	struct result *res)
{
	muse_st32(hdr + 60, XXH32(hdr, 60, 0));
	memcpy(im->p, hdr, MUSE_HEADER_SIZE);
	read_image(im->p, im->n, res, 0);
}

/* A sorted sketch stream: a store, with a footer and an index. */
static struct muse_header sketch_header_sorted(void)
{
	struct muse_header h = sketch_header();

	h.flags = MUSE_FLAG_SORTED;
	return h;
}

/*
 * A roll-up's header names the store it was made from (bytes 40 to 55);
 * only a week or month sketch stream may, and never a version alone.
 */
static void test_rollup_source(void)
{
	struct muse_header h = sketch_header(), he = events_header(
	    MUSE_TABLE_IMPRESSIONS);
	struct recs none = { 0 };
	struct image im = { 0 };
	struct result res = { 0 };
	uint8_t hdr[MUSE_HEADER_SIZE];

	h.grain = MUSE_GRAIN_MONTH;
	h.src_content = UINT64_C(0x0123456789abcdef);
	h.src_version = 42;
	write_stream(&im, &h, &none, 0);
	check(muse_le64((const uint8_t *)im.p + 40) == h.src_content &&
	    muse_le64((const uint8_t *)im.p + 48) == 42, "the source is at header bytes 40 and 48");
	read_image(im.p, im.n, &res, 0);
	check(res.rc == 0 && res.nstreams == 1 && header_equal(&res.h[0], &h),
	    "a month roll-up's source round-trips (rc %d: %s)", res.rc,
	    res.e.msg);
	memcpy(hdr, im.p, sizeof(hdr));
	hdr[15] = MUSE_GRAIN_DAY;
	read_with_header(&im, hdr, &res);
	check(res.rc == MUSE_EFORMAT && strstr(res.e.msg, "roll-up") != NULL,
	    "a stream of days naming a source is refused (rc %d: %s)", res.rc,
	    res.e.msg);
	hdr[15] = MUSE_GRAIN_WEEK;
	memset(hdr + 40, 0, 8);
	read_with_header(&im, hdr, &res);
	check(res.rc == MUSE_EFORMAT,
	    "a source version without a checksum is refused (rc %d: %s)",
	    res.rc, res.e.msg);
	image_free(&im);
	write_stream(&im, &he, &none, 0);
	memcpy(hdr, im.p, sizeof(hdr));
	hdr[44] = 1;
	read_with_header(&im, hdr, &res);
	check(res.rc == MUSE_EFORMAT,
	    "an event stream naming a source is refused (rc %d: %s)", res.rc,
	    res.e.msg);
	image_free(&im);
	result_free(&res);
}

/* Deterministic pseudo-random bytes (xorshift). */
static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* n records of assorted sizes: empty, tiny, text-like and random. */
static void make_records(struct recs *r, size_t n)
{
	uint8_t buf[600];

	for (size_t i = 0; i < n; i++) {
		size_t len = i == 0 ? 0 : (size_t)(next_rand() % sizeof(buf));

		for (size_t k = 0; k < len; k++)
			buf[k] = (i % 3 == 0) ? (uint8_t)next_rand() :
			    (uint8_t)("title,asset,date,segment"[(i + k) % 24]);
		recs_add(r, buf, len);
	}
}

/* Records large enough (but compressible) to need more than one block. */
static void make_big_records(struct recs *r, size_t nblocks)
{
	size_t recsz = 16u << 10;
	size_t total = nblocks * MUSE_BLOCK_TARGET - MUSE_BLOCK_TARGET / 2;
	uint8_t *buf = malloc(recsz);

	if (buf == NULL)
		abort();
	for (size_t i = 0; i * recsz < total; i++) {
		memset(buf, (int)('a' + i % 26), recsz);
		memcpy(buf, &i, sizeof(i));
		recs_add(r, buf, recsz);
	}
	free(buf);
}

/* Offsets of the parts of a single-stream image. */
struct layout {
	size_t nblocks;
	size_t block_off[64];
	size_t block_len[64];   /* header + payload */
	size_t trailer_off;
};

static int parse_layout(const struct image *im, struct layout *l)
{
	size_t off = MUSE_HEADER_SIZE;
	const uint8_t *p = (const uint8_t *)im->p;

	l->nblocks = 0;
	while (off + MUSE_BLOCK_HEADER_SIZE <= im->n && p[off] != 'E') {
		size_t len = MUSE_BLOCK_HEADER_SIZE + muse_le32(p + off + 12);

		if (l->nblocks == 64)
			return -1;
		l->block_off[l->nblocks] = off;
		l->block_len[l->nblocks++] = len;
		off += len;
	}
	l->trailer_off = off;
	return off + MUSE_TRAILER_SIZE == im->n ? 0 : -1;
}

/* A trailer for blocks whose 8-byte checksums are given in order. */
static void make_trailer(uint8_t *t, const uint8_t *const *sums,
	size_t nblocks, uint64_t nrecords)
{
	XXH64_state_t *st = XXH64_createState();

	if (st == NULL)
		abort();
	XXH64_reset(st, 0);
	for (size_t i = 0; i < nblocks; i++)
		XXH64_update(st, sums[i], 8);
	memset(t, 0, MUSE_TRAILER_SIZE);
	t[0] = 'E';
	muse_st32(t + 4, (uint32_t)nblocks);
	muse_st64(t + 8, nrecords);
	muse_st64(t + 16, XXH64_digest(st));
	muse_st64(t + 24, XXH64(t, 24, 0));
	XXH64_freeState(st);
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

static void test_round_trip(void)
{
	struct muse_header hs = sketch_header(), he = events_header(
	    MUSE_TABLE_PLAYS);
	struct recs recs = { 0 };
	struct image a = { 0 }, b = { 0 }, c = { 0 };
	struct result res = { 0 };

	make_records(&recs, 500);
	check(write_stream(&a, &hs, &recs, 0) == 0, "writer: 500 records written");
	read_image(a.p, a.n, &res, 0);
	check(res.rc == 0 && res.nstreams == 1,
	    "reader: one stream, clean end (rc %d: %s)", res.rc, res.e.msg);
	check(header_equal(&res.h[0], &hs), "reader: sketch header round-trips");
	check(res.recs[0].n == 500, "reader: record count 500 (got %zu)",
	    res.recs[0].n);
	check(recs_equal(&res.recs[0], &recs),
	    "reader: records byte for byte and in order");
	check(res.recs[0].n > 0 && res.recs[0].len[0] == 0,
	    "reader: an empty record survives");

	/* Writing what was read gives the same bytes: the format is canonical. */
	check(write_stream(&b, &hs, &res.recs[0], 0) == 0 && b.n == a.n &&
	    memcmp(a.p, b.p, a.n) == 0,
	    "rewriting the records read gives identical bytes");

	write_stream(&c, &he, &recs, 0);
	read_image(c.p, c.n, &res, 0);
	check(res.rc == 0 &&
	    header_equal(&res.h[0], &he) && recs_equal(&res.recs[0], &recs),
	    "events header and records round-trip");
	image_free(&c);
	write_stream(&c, &hs, &recs, 19);
	read_image(c.p, c.n, &res, 0);
	check(res.rc == 0 &&
	    recs_equal(&res.recs[0], &recs),
	    "zstd level 19: records round-trip");

	image_free(&a);
	image_free(&b);
	image_free(&c);
	recs_free(&recs);
	result_free(&res);
}

static void test_multi_block(void)
{
	struct muse_header h = events_header(MUSE_TABLE_IMPRESSIONS);
	struct recs recs = { 0 };
	struct image im = { 0 }, sw = { 0 };
	struct result res = { 0 };
	struct layout l;

	make_big_records(&recs, 3);
	check(write_stream(&im, &h, &recs, 0) == 0, "multi-block stream written");
	if (parse_layout(&im, &l) != 0)
		l.nblocks = 0;
	check(l.nblocks == 3,
	    "records cut into 3 blocks at MUSE_BLOCK_TARGET (got %zu)",
	    l.nblocks);
	read_image(im.p, im.n, &res, 0);
	check(res.rc == 0 &&
	    recs_equal(&res.recs[0], &recs),
	    "multi-block: records byte for byte (rc %d: %s)", res.rc, res.e.msg);

	/* Swap blocks 1 and 2: each block is intact, the order is not. */
	if (l.nblocks == 3) {
		image_append(&sw, im.p, l.block_off[0]);
		image_append(&sw, im.p + l.block_off[1], l.block_len[1]);
		image_append(&sw, im.p + l.block_off[0], l.block_len[0]);
		image_append(&sw, im.p + l.block_off[2], im.n - l.block_off[2]);
		read_image(sw.p, sw.n, &res, 0);
		check(res.rc == MUSE_ECHECKSUM,
		    "reordered blocks refused by the stream digest (rc %d: %s)",
		    res.rc, res.e.msg);
		image_free(&sw);
		/* Drop block 2. */
		image_append(&sw, im.p, l.block_off[1]);
		image_append(&sw, im.p + l.block_off[2], im.n - l.block_off[2]);
		read_image(sw.p, sw.n, &res, 0);
		check(res.rc < 0,
		    "a dropped block is refused (rc %d: %s)", res.rc, res.e.msg);
		read_image(sw.p, sw.n, &res, 1);
		check(res.rc < 0,
		    "a dropped block is refused when the stream is skipped "
		    "(rc %d)", res.rc);
		image_free(&sw);
		/* Duplicate block 1. */
		image_append(&sw, im.p, l.block_off[1]);
		image_append(&sw, im.p + l.block_off[0], im.n - l.block_off[0]);
		read_image(sw.p, sw.n, &res, 0);
		check(res.rc < 0,
		    "a duplicated block is refused (rc %d: %s)", res.rc, res.e.msg);
		image_free(&sw);
	}
	image_free(&im);
	recs_free(&recs);
	result_free(&res);
}

static void test_concat(void)
{
	struct muse_header h1 = events_header(MUSE_TABLE_IMPRESSIONS);
	struct muse_header h2 = events_header(MUSE_TABLE_AFFINITIES);
	struct muse_header h3 = sketch_header();
	struct recs r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
	struct image im = { 0 };
	struct result res = { 0 };

	make_records(&r1, 40);
	make_records(&r2, 0);
	make_records(&r3, 7);
	check(write_stream(&im, &h1, &r1, 0) == 0 &&
	    write_stream(&im, &h2, &r2, 0) == 0 &&
	    write_stream(&im, &h3, &r3, 0) == 0, "three streams concatenated");
	read_image(im.p, im.n, &res, 0);
	check(res.rc == 0 && res.nstreams == 3,
	    "concatenation: 3 streams, clean end (rc %d, %d streams: %s)",
	    res.rc, res.nstreams, res.e.msg);
	check(header_equal(&res.h[0], &h1) && header_equal(&res.h[1], &h2) &&
	    header_equal(&res.h[2], &h3), "concatenation: each header in order");
	check(recs_equal(&res.recs[0], &r1) && res.recs[1].n == 0 &&
	    recs_equal(&res.recs[2], &r3),
	    "concatenation: each stream's records, none leaking across");
	read_image(im.p, im.n, &res, 1);
	check(res.rc == 0 && res.nstreams == 3 &&
	    recs_equal(&res.recs[2], &r3),
	    "a stream left unread is skipped and the next one read (rc %d)",
	    res.rc);
	image_free(&im);
	recs_free(&r1);
	recs_free(&r2);
	recs_free(&r3);
	result_free(&res);
}

static void test_empty(void)
{
	struct muse_header h = sketch_header();
	struct recs none = { 0 };
	struct image im = { 0 };
	struct result res = { 0 };

	check(write_stream(&im, &h, &none, 0) == 0, "empty stream written");
	check(im.n == MUSE_HEADER_SIZE + MUSE_TRAILER_SIZE,
	    "empty stream is header and trailer only (%zu bytes)", im.n);
	read_image(im.p, im.n, &res, 0);
	check(res.rc == 0 && res.nstreams == 1 &&
	    res.recs[0].n == 0, "empty stream: one stream, no records (rc %d)",
	    res.rc);
	read_image(im.p, 0, &res, 0);
	check(res.rc == 0 && res.nstreams == 0,
	    "empty input: no stream, clean end (rc %d)", res.rc);
	image_free(&im);
	result_free(&res);
}

/*
 * Every cut of the image in [1, n) must be an error, never a clean end
 * with fewer records; cuts inside the stream must say "truncated".
 */
static void check_cuts(const struct image *im, const char *what, size_t step)
{
	struct result res = { 0 };
	size_t bad = 0, first_bad = 0, checked = 0;
	int bad_rc = 0;

	for (size_t cut = 1; cut < im->n; cut += (cut < 80 || cut + 80 > im->n)
	    ? 1 : step) {
		char *copy = malloc(cut);   /* exact size: ASan sees overreads */

		if (copy == NULL)
			abort();
		memcpy(copy, im->p, cut);
		read_image(copy, cut, &res, 0);
		if (res.rc != MUSE_ETRUNC) {
			if (bad++ == 0) {
				first_bad = cut;
				bad_rc = res.rc;
			}
		}
		checked++;
		free(copy);
	}
	check(bad == 0, "%s: %zu cuts, each refused as truncated (%zu not; "
	    "first at %zu: rc %d)", what, checked, bad, first_bad, bad_rc);
	result_free(&res);
}

static void test_truncation(void)
{
	struct muse_header h = sketch_header();
	struct recs recs = { 0 }, big = { 0 };
	struct image im = { 0 }, mb = { 0 };
	struct result res = { 0 };

	make_records(&recs, 60);
	write_stream(&im, &h, &recs, 0);
	check_cuts(&im, "one-block stream", 1);
	image_free(&im);

	recs_clear(&recs);
	write_stream(&im, &h, &recs, 0);
	check_cuts(&im, "empty stream", 1);
	image_free(&im);

	make_big_records(&big, 3);
	write_stream(&mb, &h, &big, 0);
	check_cuts(&mb, "multi-block stream", quick ? 7 : 1);

	/* A cut inside the second of two streams: the first still reads. */
	recs_clear(&recs);
	make_records(&recs, 5);
	write_stream(&im, &h, &recs, 0);
	{
		size_t one = im.n;

		write_stream(&im, &h, &recs, 0);
		read_image(im.p, im.n - 1, &res, 0);
		check(res.rc == MUSE_ETRUNC && res.nstreams == 2 &&
		    recs_equal(&res.recs[0], &recs),
		    "cut in stream 2: stream 1 intact, then truncated (rc %d)",
		    res.rc);
		read_image(im.p, one + 5, &res, 0);
		check(res.rc == MUSE_ETRUNC,
		    "cut in stream 2's magic is truncated (rc %d: %s)", res.rc,
		    res.e.msg);
	}
	image_free(&im);
	image_free(&mb);
	recs_free(&recs);
	recs_free(&big);
	result_free(&res);
}

/* Every single-bit flip of the image must be refused. */
static void check_flips(const struct image *im, const char *what,
	const struct recs *want)
{
	struct result res = { 0 };
	char *copy = malloc(im->n);
	size_t bad = 0, first_bad = 0, flips = 0;

	if (copy == NULL)
		abort();
	for (size_t i = 0; i < im->n; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, im->p, im->n);
			copy[i] ^= (char)(1 << bit);
			read_image(copy, im->n, &res, 0);
			flips++;
			if (res.rc >= 0 && bad++ == 0)
				first_bad = i * 8 + (size_t)bit;
		}
	check(bad == 0, "%s: %zu single-bit flips, each refused (%zu not; "
	    "first at byte %zu bit %zu)", what, flips, bad, first_bad / 8,
	    first_bad % 8);
	/* The intact image still reads. */
	memcpy(copy, im->p, im->n);
	read_image(copy, im->n, &res, 0);
	check(res.rc == 0 &&
	    (want == NULL || recs_equal(&res.recs[0], want)),
	    "%s: unflipped copy reads", what);
	free(copy);
	result_free(&res);
}

static void test_bit_flips(void)
{
	struct muse_header h = sketch_header(), he = events_header(
	    MUSE_TABLE_PLAYS);
	struct recs recs = { 0 }, none = { 0 };
	struct image im = { 0 };

	make_records(&recs, quick ? 4 : 12);
	write_stream(&im, &h, &recs, 0);
	check_flips(&im, "sketch stream", &recs);
	image_free(&im);
	write_stream(&im, &he, &none, 0);
	check_flips(&im, "empty events stream", NULL);
	image_free(&im);
	recs_free(&recs);
}

/* A stream header, then a block header with the given fields. */
static void forged_block(struct image *im, int type, uint32_t nrec,
	uint32_t rawsz, uint32_t size, size_t payload)
{
	struct muse_header h = events_header(MUSE_TABLE_PLAYS);
	struct recs none = { 0 };
	uint8_t bh[MUSE_BLOCK_HEADER_SIZE];
	XXH64_state_t *st = XXH64_createState();

	write_stream(im, &h, &none, 0);
	im->n = MUSE_HEADER_SIZE;   /* keep the header, drop the trailer */
	memset(bh, 0, sizeof(bh));
	bh[0] = (uint8_t)type;
	muse_st32(bh + 4, nrec);
	muse_st32(bh + 8, rawsz);
	muse_st32(bh + 12, size);
	XXH64_reset(st, 0);
	XXH64_update(st, bh, 16);
	muse_st64(bh + 16, XXH64_digest(st));
	XXH64_freeState(st);
	image_append(im, bh, sizeof(bh));
	for (size_t i = 0; i < payload; i++)
		image_append(im, "x", 1);
}

static void test_huge_block(void)
{
	struct image im = { 0 };
	struct result res = { 0 };
	static const uint32_t sizes[] = {
		MUSE_BLOCK_MAX + 1, 0x80000000u, 0xFFFFFFFFu
	};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		forged_block(&im, 'B', 1, 16, sizes[i], 64);
		read_image(im.p, im.n, &res, 0);
		check(res.rc == MUSE_EFORMAT && res.e.offset == MUSE_HEADER_SIZE,
		    "stored size %u refused before allocating (rc %d at byte "
		    "%llu: %s)", sizes[i], res.rc,
		    (unsigned long long)res.e.offset, res.e.msg);
		image_free(&im);
		forged_block(&im, 'B', 1, sizes[i], 16, 16);
		read_image(im.p, im.n, &res, 0);
		check(res.rc == MUSE_EFORMAT,
		    "raw size %u refused before allocating (rc %d: %s)", sizes[i],
		    res.rc, res.e.msg);
		image_free(&im);
	}
	/* Sizes within the limit but beyond the input: truncated. */
	forged_block(&im, 'B', 1, 16, 1u << 20, 64);
	read_image(im.p, im.n, &res, 0);
	check(res.rc == MUSE_ETRUNC,
	    "a block longer than the input is truncated (rc %d: %s)", res.rc,
	    res.e.msg);
	image_free(&im);
	/* A skippable block must not claim records. */
	forged_block(&im, 'S', 3, 8, 8, 8);
	read_image(im.p, im.n, &res, 0);
	check(res.rc == MUSE_EFORMAT,
	    "a skippable block claiming records is refused (rc %d: %s)", res.rc,
	    res.e.msg);
	image_free(&im);
	result_free(&res);
}

/* A skippable block ('S') is passed over and counted by the trailer. */
static void test_skippable(void)
{
	struct muse_header h = events_header(MUSE_TABLE_PLAYS);
	struct recs recs = { 0 };
	struct image im = { 0 }, out = { 0 };
	struct result res = { 0 };
	struct layout l;
	uint8_t sb[MUSE_BLOCK_HEADER_SIZE + 5], t[MUSE_TRAILER_SIZE];
	XXH64_state_t *st = XXH64_createState();

	make_records(&recs, 9);
	write_stream(&im, &h, &recs, 0);
	if (parse_layout(&im, &l) != 0 || l.nblocks != 1) {
		check(0, "skippable block: layout of a one-block stream");
		goto done;
	}
	memset(sb, 0, sizeof(sb));
	sb[0] = 'S';
	muse_st32(sb + 8, 5);
	muse_st32(sb + 12, 5);
	memcpy(sb + MUSE_BLOCK_HEADER_SIZE, "meta!", 5);
	XXH64_reset(st, 0);
	XXH64_update(st, sb, 16);
	XXH64_update(st, sb + MUSE_BLOCK_HEADER_SIZE, 5);
	muse_st64(sb + 16, XXH64_digest(st));
	{
		const uint8_t *sums[2] = {
			sb + 16,
			(const uint8_t *)im.p + l.block_off[0] + 16
		};

		make_trailer(t, sums, 2, recs.n);
	}
	image_append(&out, im.p, MUSE_HEADER_SIZE);
	image_append(&out, sb, sizeof(sb));
	image_append(&out, im.p + l.block_off[0], l.block_len[0]);
	image_append(&out, t, sizeof(t));
	read_image(out.p, out.n, &res, 0);
	check(res.rc == 0 &&
	    recs_equal(&res.recs[0], &recs),
	    "a skippable block is passed over (rc %d: %s)", res.rc, res.e.msg);
	/* Damage the skippable payload: still checked, though skipped. */
	out.p[MUSE_HEADER_SIZE + MUSE_BLOCK_HEADER_SIZE] ^= 1;
	read_image(out.p, out.n, &res, 0);
	check(res.rc == MUSE_ECHECKSUM,
	    "a damaged skippable block is refused (rc %d: %s)", res.rc,
	    res.e.msg);
done:
	XXH64_freeState(st);
	image_free(&im);
	image_free(&out);
	recs_free(&recs);
	result_free(&res);
}

static void test_trailing_garbage(void)
{
	static const uint8_t magic_part[5] = { 0x8A, 'M', 'U', 'S', 'E' };
	struct muse_header h = sketch_header();
	struct recs recs = { 0 };
	struct image im = { 0 };
	struct result res = { 0 };
	uint8_t zeros[200];
	size_t n;

	memset(zeros, 0, sizeof(zeros));
	make_records(&recs, 10);
	write_stream(&im, &h, &recs, 0);
	n = im.n;
	image_append(&im, "garbage\n", 8);
	read_image(im.p, im.n, &res, 0);
	check(res.rc == MUSE_EFORMAT && res.nstreams == 1 &&
	    recs_equal(&res.recs[0], &recs) && res.e.offset == n,
	    "text after the trailer is refused at its offset (rc %d at byte "
	    "%llu: %s)", res.rc, (unsigned long long)res.e.offset, res.e.msg);
	im.n = n;
	image_append(&im, zeros, sizeof(zeros));
	read_image(im.p, im.n, &res, 0);
	check(res.rc == MUSE_EFORMAT,
	    "zero bytes after the trailer are refused (rc %d: %s)", res.rc,
	    res.e.msg);
	im.n = n;
	image_append(&im, zeros, 1);
	read_image(im.p, im.n, &res, 0);
	check(res.rc < 0,
	    "one byte after the trailer is refused (rc %d: %s)", res.rc,
	    res.e.msg);
	im.n = n;
	image_append(&im, magic_part, sizeof(magic_part));
	read_image(im.p, im.n, &res, 0);
	check(res.rc == MUSE_ETRUNC,
	    "a partial second header is truncated (rc %d: %s)", res.rc,
	    res.e.msg);
	im.n = n;
	image_append(&im, "\x8a" "MUSE\r\n\x1a", 8);
	image_append(&im, zeros, MUSE_HEADER_SIZE - 8);
	read_image(im.p, im.n, &res, 0);
	check(res.rc == MUSE_ECHECKSUM,
	    "a second header with a bad checksum is refused (rc %d: %s)",
	    res.rc, res.e.msg);
	image_free(&im);
	recs_free(&recs);
	result_free(&res);
}

static void test_not_a_stream(void)
{
	struct result res = { 0 };
	static const char csv[] = "ts,user_id,asset_id,title_id,country\n"
	    "2025-07-01T00:00:00Z,u1,a1,t1,US\n";
	uint8_t hdr[MUSE_HEADER_SIZE];
	struct muse_header h = events_header(MUSE_TABLE_PLAYS);
	struct recs none = { 0 };
	struct image im = { 0 };

	read_image(csv, sizeof(csv) - 1, &res, 0);
	check(res.rc == MUSE_EFORMAT &&
	    res.e.offset == 0, "a CSV file is not a stream (rc %d: %s)", res.rc,
	    res.e.msg);
	read_image("x", 1, &res, 0);
	check(res.rc == MUSE_EFORMAT,
	    "one foreign byte is not a stream (rc %d: %s)", res.rc, res.e.msg);

	/* A future format version, with a valid header checksum. */
	write_stream(&im, &h, &none, 0);
	memcpy(hdr, im.p, sizeof(hdr));
	hdr[8] = MUSE_FORMAT_VERSION + 1;
	read_with_header(&im, hdr, &res);
	check(res.rc == MUSE_EFORMAT &&
	    strstr(res.e.msg, "version") != NULL,
	    "an unknown format version is refused by name (rc %d: %s)", res.rc,
	    res.e.msg);
	/* A reserved byte set, with a valid checksum. */
	hdr[8] = MUSE_FORMAT_VERSION;
	hdr[57] = 1;
	read_with_header(&im, hdr, &res);
	check(res.rc == MUSE_EFORMAT,
	    "a reserved header byte that is not zero is refused (rc %d: %s)",
	    res.rc, res.e.msg);
	/* An unknown stream kind, with a valid checksum. */
	hdr[57] = 0;
	hdr[10] = 9;
	read_with_header(&im, hdr, &res);
	check(res.rc == MUSE_EFORMAT,
	    "an unknown stream kind is refused (rc %d: %s)", res.rc, res.e.msg);
	image_free(&im);
	result_free(&res);
}

static void test_compatible(void)
{
	struct muse_header a = sketch_header(), b;
	struct muse_err e;

	muse_err_clear(&e);
	b = a;
	check(muse_header_compatible(&a, &b, &e) == 0,
	    "identical sketch headers are compatible");
	b.window_s = 3600;
	check(muse_header_compatible(&a, &b, &e) == MUSE_EPARAM &&
	    strstr(e.msg, "window") != NULL,
	    "different windows: refused naming the window (%s)", e.msg);
	b = a;
	b.lgk = 12;
	check(muse_header_compatible(&a, &b, &e) == MUSE_EPARAM &&
	    strstr(e.msg, "lgk") != NULL,
	    "different lgk: refused naming it (%s)", e.msg);
	b = a;
	b.dims &= (uint8_t)~(1u << MUSE_DIM_ASSET);
	check(muse_header_compatible(&a, &b, &e) == MUSE_EPARAM &&
	    strstr(e.msg, "dimensions") != NULL,
	    "different dimensions: refused naming them (%s)", e.msg);
	b = events_header(MUSE_TABLE_PLAYS);
	check(muse_header_compatible(&a, &b, &e) == MUSE_EPARAM,
	    "a sketch and an events header are incompatible (%s)", e.msg);
	a = events_header(MUSE_TABLE_IMPRESSIONS);
	check(muse_header_compatible(&a, &b, &e) == MUSE_EPARAM &&
	    strstr(e.msg, "tables differ") != NULL,
	    "events of different tables are incompatible (%s)", e.msg);
}

static void test_writer_errors(void)
{
	struct muse_header h = events_header(MUSE_TABLE_PLAYS);
	struct muse_err e;
	muse_writer *w;
	FILE *fp;
	char *p = NULL;
	size_t n = 0;
	size_t big = MUSE_BLOCK_MAX / 2 + 1;
	uint8_t *rec = calloc(1, big);

	if (rec == NULL)
		abort();
	muse_err_clear(&e);
	fp = open_memstream(&p, &n);
	w = muse_writer_new(fp, "mem", &h, 0, &e);
	check(w != NULL && muse_writer_add(w, rec, big, &e) == MUSE_ELIMIT,
	    "a record over MUSE_BLOCK_MAX/2 is refused (%s)", e.msg);
	check(w != NULL && muse_writer_add(w, rec, 10, &e) == 0 &&
	    muse_writer_finish(w, &e) == 0 && muse_writer_records(w) == 1,
	    "the writer goes on after refusing a record");
	muse_writer_free(w);
	fclose(fp);
	free(p);
	free(rec);

	/* Unbuffered, so the failure shows at the write that meets it. */
	if ((fp = fopen("/dev/full", "wb")) == NULL)
		return;
	setvbuf(fp, NULL, _IONBF, 0);
	muse_err_clear(&e);
	w = muse_writer_new(fp, "full", &h, 0, &e);
	check(w == NULL && e.code == MUSE_EIO && strstr(e.msg, "write error"),
	    "writing to /dev/full: write error at the header (%s)", e.msg);
	muse_writer_free(w);
	fclose(fp);
	muse_writer_free(NULL);
	muse_reader_free(NULL);
	check(1, "_free(NULL) is harmless");
}

/* Whether reading p[0..n) with and without read-ahead gives the same. */
static int same_both_ways(const void *p, size_t n, int skip_first,
	struct result *a, struct result *b)
{
	read_ahead = 0;
	read_image(p, n, a, skip_first);
	read_ahead = 1;
	read_image(p, n, b, skip_first);
	read_ahead = 0;
	if (a->rc != b->rc || a->nstreams != b->nstreams)
		return 0;
	for (int i = 0; i < 4 && i < a->nstreams; i++)
		if (!header_equal(&a->h[i], &b->h[i]) ||
		    !recs_equal(&a->recs[i], &b->recs[i]))
			return 0;
	return a->rc == 0 || (a->e.code == b->e.code &&
	    a->e.offset == b->e.offset && strcmp(a->e.msg, b->e.msg) == 0 &&
	    strcmp(a->e.name, b->e.name) == 0);
}

/*
 * A reader decoding blocks on a second thread gives what one without it
 * does: the same records, and the same error, offset and message for
 * every damage, whether the records are read or the stream skipped.
 */
static void test_read_ahead(void)
{
	struct muse_header he = events_header(MUSE_TABLE_IMPRESSIONS);
	struct muse_header hs = sketch_header();
	struct recs big = { 0 }, small = { 0 };
	struct image im = { 0 };
	struct result a = { 0 }, b = { 0 };
	struct layout l;
	size_t one, diff = 0, cases = 0, first = 0;
	char *copy;

	make_big_records(&big, 9);
	make_records(&small, 40);
	write_stream(&im, &he, &big, 0);
	one = im.n;
	write_stream(&im, &hs, &small, 0);
	write_stream(&im, &he, &big, 0);
	check(same_both_ways(im.p, im.n, 0, &a, &b) && b.rc == 0 &&
	    b.nstreams == 3 && recs_equal(&b.recs[0], &big) &&
	    recs_equal(&b.recs[1], &small) && recs_equal(&b.recs[2], &big),
	    "read ahead: three streams, 9 + 1 + 9 blocks, records byte for byte "
	    "(rc %d: %s)", b.rc, b.e.msg);
	check(same_both_ways(im.p, im.n, 1, &a, &b) && b.rc == 0 &&
	    recs_equal(&b.recs[2], &big),
	    "read ahead: the first stream skipped, the others read");
	if ((copy = malloc(im.n)) == NULL)
		abort();
	/* Damage every block header, payload and trailer of stream 1. */
	memcpy(copy, im.p, one);
	if (parse_layout(&(struct image){ .p = copy, .n = one }, &l) != 0)
		l.nblocks = 0;
	check(l.nblocks == 9, "stream 1 has 9 blocks (%zu)", l.nblocks);
	for (size_t k = 0; k <= l.nblocks; k++) {
		size_t at = k < l.nblocks ? l.block_off[k] : l.trailer_off;
		size_t span = k < l.nblocks ? l.block_len[k] : MUSE_TRAILER_SIZE;
		size_t where[] = { 0, 4, 8, 12, 16, MUSE_BLOCK_HEADER_SIZE,
			span / 2, span - 1 };

		for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++)
			for (int skip = 0; skip < 2; skip++) {
				memcpy(copy, im.p, im.n);
				copy[at + where[w]] ^= 0x20;
				cases++;
				if (!same_both_ways(copy, im.n, skip, &a, &b) ||
				    a.rc >= 0) {
					if (diff++ == 0)
						first = at + where[w];
				}
				/* cut there: truncated the same way */
				cases++;
				if (!same_both_ways(im.p, at + where[w], skip,
				    &a, &b) || a.rc != MUSE_ETRUNC) {
					if (diff++ == 0)
						first = at + where[w];
				}
			}
	}
	check(diff == 0, "read ahead: %zu damaged or cut images, each refused "
	    "with the same error, offset and message both ways (%zu differ; "
	    "first at byte %zu)", cases, diff, first);
	/* A reader freed in the middle of a stream stops its thread. */
	{
		struct muse_err e;
		struct muse_header h;
		const uint8_t *rec;
		size_t len;
		muse_input *in = muse_input_mem(im.p, im.n, "mem", &e);
		muse_reader *r = in ? muse_reader_new(in, &e) : NULL;
		int rc = -1;

		if (r != NULL && muse_reader_read_ahead(r) == 1 &&
		    muse_reader_next_stream(r, &h, &e) == 1)
			rc = muse_reader_next(r, &rec, &len, &e);
		check(rc == 1 && len == big.len[0] &&
		    memcmp(rec, big.bytes.p, len) == 0,
		    "read ahead: first record, then the reader freed mid-stream");
		muse_reader_free(r);
	}
	free(copy);
	image_free(&im);
	recs_free(&big);
	recs_free(&small);
	result_free(&a);
	result_free(&b);
}

/*
 * Sorted sketch records with valid keys (title, asset, date, segment),
 * enough of them for many blocks of an indexed store.
 */
static void make_store_records(struct recs *r, size_t n)
{
	const struct muse_header h = sketch_header_sorted();
	struct muse_buf b = { 0 };
	struct muse_acc a;
	char t[16], as[40], sg[16];

	if (muse_acc_init(&a, h.lgk))
		abort();
	for (size_t i = 0; i < n; i++) {
		struct muse_key k;

		memset(&k, 0, sizeof(k));
		snprintf(t, sizeof(t), "t%04zu", i / 64);
		snprintf(as, sizeof(as), "%s-a%zu", t, i / 16 % 4);
		snprintf(sg, sizeof(sg), "s%zu", i % 16 / 4);
		k.s[MUSE_DIM_TITLE].p = t;
		k.s[MUSE_DIM_TITLE].n = strlen(t);
		k.s[MUSE_DIM_ASSET].p = as;
		k.s[MUSE_DIM_ASSET].n = strlen(as);
		k.s[MUSE_DIM_SEGMENT].p = sg;
		k.s[MUSE_DIM_SEGMENT].n = strlen(sg);
		k.day = 20270 + (int64_t)(i % 4);
		muse_acc_clear(&a);
		a.impressions = i + 1;
		for (size_t c = 0; c < 20 + i % 50; c++)
			muse_hll_add(a.reach, muse_hll_coupon(next_rand(),
			    next_rand()));
		b.len = 0;
		if (muse_rec_encode(&h, &k, &a, &b))
			abort();
		recs_add(r, b.p, b.len);
	}
	muse_acc_free(&a);
	muse_buf_free(&b);
}

/*
 * A writer compressing on a second thread writes the same bytes, for
 * event streams and for indexed stores (footer and index included), and
 * meets a write error the same way.
 */
static void test_write_behind(void)
{
	struct muse_header he = events_header(MUSE_TABLE_IMPRESSIONS);
	struct muse_header hs = sketch_header_sorted();
	struct recs big = { 0 }, store = { 0 }, none = { 0 };
	struct image a = { 0 }, b = { 0 };
	struct result res = { 0 };
	int ra, rb;

	make_big_records(&big, 9);
	make_store_records(&store, 6000);
	for (int kind = 0; kind < 3; kind++) {
		const struct muse_header *h = kind == 1 ? &hs : &he;
		const struct recs *r = kind == 0 ? &big : kind == 1 ? &store : &none;
		const char *what = kind == 0 ? "events, 9 blocks" :
		    kind == 1 ? "indexed store" : "empty stream";

		write_behind = 0;
		ra = write_stream(&a, h, r, 0);
		write_behind = 1;
		rb = write_stream(&b, h, r, 0);
		write_behind = 0;
		check(ra == 0 && rb == 0 && a.n == b.n && memcmp(a.p, b.p, a.n) == 0,
		    "write behind: %s, the same %zu bytes (%d %d, %zu)", what, a.n,
		    ra, rb, b.n);
		read_image(b.p, b.n, &res, 0);
		check(res.rc == 0 && recs_equal(&res.recs[0], r),
		    "write behind: %s reads back (rc %d: %s)", what, res.rc,
		    res.e.msg);
		image_free(&a);
		image_free(&b);
	}
	/* Two writers sharing one thread, their records interleaved. */
	{
		struct muse_err e;
		muse_behind *bh = muse_behind_new(&e);
		char *p[2] = { NULL, NULL };
		size_t n[2] = { 0, 0 }, off = 0;
		FILE *fp[2];
		muse_writer *w[2];
		int rc = 0;

		if (bh == NULL)
			abort();
		for (int i = 0; i < 2; i++) {
			if ((fp[i] = open_memstream(&p[i], &n[i])) == NULL ||
			    (w[i] = muse_writer_new(fp[i], "mem", &he, 1, &e)) == NULL)
				abort();
			muse_writer_behind(w[i], bh);
		}
		for (size_t i = 0; i < big.n && rc == 0; i++) {
			for (int k = 0; k < 2 && rc == 0; k++)
				rc = muse_writer_add(w[k], big.bytes.p + off, big.len[i],
				    &e);
			off += big.len[i];
		}
		for (int i = 0; i < 2; i++) {
			if (rc == 0)
				rc = muse_writer_finish(w[i], &e);
			muse_writer_free(w[i]);
			fclose(fp[i]);
		}
		muse_behind_free(bh);
		write_stream(&a, &he, &big, 1);
		check(rc == 0 && n[0] == a.n && n[1] == a.n &&
		    memcmp(p[0], a.p, a.n) == 0 && memcmp(p[1], a.p, a.n) == 0,
		    "two writers sharing a thread: each writes the bytes of one "
		    "alone (rc %d: %zu %zu %zu)", rc, n[0], n[1], a.n);
		image_free(&a);
		free(p[0]);
		free(p[1]);
	}
	/* A full device: the error comes back once, from add or finish. */
	{
		FILE *fp = fopen("/dev/full", "wb");
		struct muse_err e;
		muse_writer *w;
		size_t off = 0;
		int rc = 0, adds_failed = 0;

		if (fp != NULL) {
			struct recs noise = { 0 };
			uint8_t buf[4096];

			/* blocks that do not compress: each write passes the buffer */
			for (int i = 0; i < 400; i++) {
				for (size_t k = 0; k < sizeof(buf); k += 8) {
					uint64_t x = next_rand();

					memcpy(buf + k, &x, 8);
				}
				recs_add(&noise, buf, sizeof(buf));
			}
			muse_err_clear(&e);
			/* buffered: the header's write fails later, in a block */
			w = muse_writer_new(fp, "full", &he, 0, &e);
			if (w == NULL || muse_writer_write_behind(w) != 1)
				abort();
			for (size_t i = 0; i < noise.n && rc == 0; i++) {
				rc = muse_writer_add(w, noise.bytes.p + off, noise.len[i],
				    &e);
				off += noise.len[i];
				adds_failed += rc != 0;
			}
			recs_free(&noise);
			if (rc == 0)
				rc = muse_writer_finish(w, &e);
			check(rc == MUSE_EIO && strstr(e.msg, "write error") &&
			    strcmp(e.name, "full") == 0 && adds_failed <= 1,
			    "write behind to /dev/full: a write error naming the "
			    "output (%d: %s; %d adds failed)", rc, e.msg, adds_failed);
			check(muse_writer_finish(w, &e) == MUSE_EIO &&
			    muse_writer_add(w, buf, 10, &e) == MUSE_EIO,
			    "write behind: after the error, the writer refuses more");
			muse_writer_free(w);
			fclose(fp);
		}
	}
	recs_free(&big);
	recs_free(&store);
	result_free(&res);
}

int main(int argc, char **argv)
{
	quick = argc > 1 && strcmp(argv[1], "quick") == 0;
	test_round_trip();
	test_multi_block();
	test_concat();
	test_empty();
	test_truncation();
	test_bit_flips();
	test_huge_block();
	test_skippable();
	test_trailing_garbage();
	test_not_a_stream();
	test_compatible();
	test_rollup_source();
	test_writer_errors();
	test_read_ahead();
	test_write_behind();
	return check_done("test_stream");
}
