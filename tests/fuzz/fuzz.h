/*
 * fuzz.h - what the fuzz targets share: a check that aborts (so that
 * libFuzzer and the replay driver both report it), a file per process for
 * readers that take a path, and the stream rebuilder.
 *
 * Why a rebuilder.  Every block of a stream carries an XXH64 checksum, the
 * trailer a digest of those, the header an XXH32, a footer the content
 * checksum of the records, and block payloads are zstd frames.  Mutated
 * bytes almost never get past all that, so a fuzzer fed raw streams only
 * ever tests the checks at the door.  The first byte of a stream target's
 * input therefore says what to repair in the rest before the library sees
 * it:
 *
 *   FZ_SUMS    recompute the header, block and trailer checksums, the
 *              trailer's digest, and a footer's content checksum;
 *   FZ_PACK    data-block payloads are given raw: compress each with zstd
 *              and set the raw and stored sizes (tests/fuzz/unpack.c
 *              turns real streams into this form for the seed corpus);
 *   FZ_COUNTS  set the trailer's block and record counts, and a footer's
 *              length, offset, record and block counts and, for a store,
 *              the offsets and checksums of the blocks its index lists.
 *
 * With none of them the bytes go through as they are, so the checks at
 * the door are fuzzed too.  The rebuilder trusts nothing either: whatever
 * it cannot parse it copies through unchanged.
 */
#ifndef MUSE_FUZZ_H
#define MUSE_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "buf.h"
#include "err.h"
#include "hll.h"
#include "sketch.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the library that does not hold: abort, naming it. */
#define FZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* Out of memory in the harness itself is not a finding. */
static inline void fz_put(struct muse_buf *b, const void *p, size_t n)
{
	if (muse_buf_put(b, p, n) != 0)
		abort();
}

/*
 * Writes n bytes to a file named after tag and the process, for readers
 * that take a path (muse_store_open maps its file).  Returns the path
 * (static storage), or NULL when the file cannot be written.
 */
static inline const char *fz_file(const char *tag, const uint8_t *p, size_t n)
{
	static char path[4096];
	const char *dir = getenv("TMPDIR");
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/muse-fuzz-%s.%ld",
	    dir && *dir ? dir : "/tmp", tag, (long)getpid());
	if ((f = fopen(path, "wb")) == NULL)
		return NULL;
	/* Close in any case; a short write or a failed close both fail. */
	ok = n == 0 || fwrite(p, 1, n, f) == n;
	if (fclose(f) != 0 || !ok) {
		unlink(path);
		return NULL;
	}
	return path;
}

/*
 * Writes a small store to path (version 1): dims title, asset, date and
 * segment at lgk 6, two titles, three assets, three days, the "*" segment
 * and two others, with counters and sketches that differ by key, some
 * sparse and some dense.  Targets that need a real store to work on (a
 * query to answer, a delta to apply) use variant 0.  Other variants make
 * stores to compute seed deltas from (tests/fuzz/seedtool.c): bit 0 drops
 * some keys, bit 1 adds users on the second day, bit 2 adds a fourth
 * asset.  0, or -1.
 */
static inline int fz_small_store(const char *path, unsigned variant)
{
	static const char *const asset[4] = { "t1-a1", "t1-a2", "t2-a1",
		"t3-a1" };
	static const char *const seg[3] = { "*", "Anime", "Drama" };
	struct muse_header h = {
		.kind = MUSE_KIND_SKETCH, .flags = MUSE_FLAG_SORTED,
		.hash = MUSE_HASH_XXH3, .dims = 0x0F, .grain = MUSE_GRAIN_DAY,
		.lgk = 6, .metrics = MUSE_METRICS_V1, .window_s = 86400,
		.qualify_ms = 60000, .authentic_ms = 900000,
		.seed = MUSE_HASH_SEED,
	};
	struct muse_buf b = { 0 };
	struct muse_acc acc;
	struct muse_err e;
	muse_writer *w;
	FILE *f;
	int rc = 0;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	if (muse_acc_init(&acc, h.lgk) != 0 ||
	    (w = muse_writer_new(f, path, &h, 1, &e)) == NULL)
		abort();
	muse_writer_set_version(w, 1);
	for (int a = 0; a < (variant & 4 ? 4 : 3); a++)
		for (int d = 0; d < 3; d++)
			for (int s = 0; s < 3; s++) {
				struct muse_key k = { .day = 20270 + d };
				unsigned users = 1 + (unsigned)(a * 9 + d * 3 + s) * 3;

				if ((variant & 1) && (a + d + s) % 4 == 0)
					continue;
				if ((variant & 2) && d == 1)
					users += 5;

				k.s[MUSE_DIM_TITLE].p = asset[a];
				k.s[MUSE_DIM_TITLE].n = 2;
				k.s[MUSE_DIM_ASSET].p = asset[a];
				k.s[MUSE_DIM_ASSET].n = 5;
				k.s[MUSE_DIM_SEGMENT].p = seg[s];
				k.s[MUSE_DIM_SEGMENT].n = strlen(seg[s]);
				muse_acc_clear(&acc);
				acc.impressions = 2 * users;
				acc.plays = users;
				acc.qplays = users / 2;
				acc.watch_ms = 60000 * (uint64_t)users;
				for (unsigned u = 0; u < users; u++) {
					uint64_t x = XXH3_64bits(&u, sizeof(u));
					uint32_t c = muse_hll_coupon(x, x * 31 + 7);

					if (muse_hll_add(acc.reach, c) ||
					    (u % 2 == 0 && muse_hll_add(acc.qreach, c)) ||
					    (u % 4 == 0 && muse_hll_add(acc.areach, c)))
						abort();
				}
				b.len = 0;
				if (muse_rec_encode(&h, &k, &acc, &b) ||
				    muse_writer_add(w, b.p, b.len, &e))
					abort();
			}
	if (muse_writer_finish(w, &e) != 0)
		rc = -1;
	muse_writer_free(w);
	muse_acc_free(&acc);
	muse_buf_free(&b);
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

enum { FZ_SUMS = 1, FZ_PACK = 2, FZ_COUNTS = 4 };

/* A data block of the stream being rebuilt: where it is, its checksum. */
struct fz_block {
	uint64_t off;
	uint64_t sum;
};

/* Skips a varint-length string of a footer's index; 0 or -1. */
static inline int fz_skip_str(const uint8_t **q, const uint8_t *end)
{
	const char *s;
	size_t n;

	return muse_get_str(q, end, &s, &n);
}

/*
 * Sets what FZ_COUNTS (and FZ_SUMS, the content checksum) repair in the
 * payload p (len bytes) of a skippable block that ends with a footer.
 */
static inline void fz_fix_footer(uint8_t *p, size_t len, unsigned flags,
	const uint64_t *from, uint64_t off, const struct fz_block *blk,
	uint32_t nblk, uint64_t nrec, int content_known, uint64_t content)
{
	const uint8_t *q, *end;

	if (len < 64 || (p[0] != MUSE_FOOTER_STORE && p[0] != MUSE_FOOTER_DELTA) ||
	    memcmp(p + len - 8, MUSE_FOOTER_MAGIC, 8) != 0)
		return;
	if ((flags & FZ_SUMS) && content_known)
		muse_st64(p + 16, content);
	if (from && p[0] == MUSE_FOOTER_DELTA && len == 104) {
		muse_st64(p + 48, from[0]);
		muse_st64(p + 56, from[1]);
		muse_st64(p + 64, from[2]);
	}
	if (!(flags & FZ_COUNTS))
		return;
	muse_st64(p + len - 16, len - 16);
	muse_st64(p + 24, off);
	muse_st64(p + 32, nrec);
	if (p[0] != MUSE_FOOTER_STORE)
		return;
	muse_st32(p + 40, nblk);
	q = p + 48;
	end = p + len - 16;
	for (uint32_t i = 0; end - q >= 56; i++) {
		if (i < nblk) {
			muse_st64((uint8_t *)q, blk[i].off);
			muse_st64((uint8_t *)q + 8, blk[i].sum);
		}
		q += 56;
		if (fz_skip_str(&q, end) || fz_skip_str(&q, end))
			return;
	}
}

/*
 * Rebuilds the streams in (n bytes) into out as flags say (see the top of
 * this file).  With from (version, content checksum, record count), a
 * delta's footer is made to start from that state.  out is emptied first.
 */
static inline void fz_rebuild(const uint8_t *in, size_t n, unsigned flags,
	const uint64_t *from, struct muse_buf *out)
{
	struct muse_buf blocks = { 0 }, tmp = { 0 };
	XXH3_state_t *content = XXH3_createState();
	size_t pos = 0;

	if (content == NULL)
		abort();
	out->len = 0;
	while (n - pos >= MUSE_HEADER_SIZE) {
		size_t start = out->len;
		XXH64_state_t *dig = XXH64_createState();
		uint32_t nblocks = 0, ndata = 0;
		uint64_t nrec = 0;
		int content_known = 1, ended = 0;

		if (dig == NULL)
			abort();
		XXH64_reset(dig, 0);
		XXH3_64bits_reset(content);
		blocks.len = 0;
		fz_put(out, in + pos, MUSE_HEADER_SIZE);
		if (flags & FZ_SUMS)
			muse_st32(out->p + start + 60, XXH32(out->p + start, 60, 0));
		pos += MUSE_HEADER_SIZE;
		while (n - pos >= MUSE_BLOCK_HEADER_SIZE) {
			const uint8_t *bh = in + pos;
			uint32_t size = muse_le32(bh + 12);
			size_t h = out->len;
			uint8_t *ob;

			if (bh[0] == 'E') {
				if (n - pos < MUSE_TRAILER_SIZE)
					break;
				fz_put(out, bh, MUSE_TRAILER_SIZE);
				ob = out->p + h;
				if (flags & FZ_COUNTS) {
					muse_st32(ob + 4, nblocks);
					muse_st64(ob + 8, nrec);
				}
				if (flags & FZ_SUMS) {
					muse_st64(ob + 16, XXH64_digest(dig));
					muse_st64(ob + 24, XXH64(ob, 24, 0));
				}
				pos += MUSE_TRAILER_SIZE;
				ended = 1;
				break;
			}
			if (size > n - pos - MUSE_BLOCK_HEADER_SIZE)
				break;
			fz_put(out, bh, MUSE_BLOCK_HEADER_SIZE);
			if (bh[0] == 'B' && (flags & FZ_PACK)) {
				size_t bound = ZSTD_compressBound(size), k;

				if (muse_buf_reserve(out, bound))
					abort();
				k = ZSTD_compress(out->p + out->len, bound,
				    bh + MUSE_BLOCK_HEADER_SIZE, size, 1);
				if (ZSTD_isError(k))
					abort();
				out->len += k;
				muse_st32(out->p + h + 8, size);
				muse_st32(out->p + h + 12, (uint32_t)k);
				XXH3_64bits_update(content, bh + MUSE_BLOCK_HEADER_SIZE,
				    size);
			} else {
				fz_put(out, bh + MUSE_BLOCK_HEADER_SIZE, size);
				if (bh[0] == 'B' && (flags & FZ_SUMS)) {
					/* The content checksum needs the raw records. */
					uint32_t raw = muse_le32(bh + 8);
					size_t got;

					tmp.len = 0;
					if (raw > (1u << 24) || muse_buf_reserve(&tmp, raw + 1))
						got = 1;
					else
						got = ZSTD_decompress(tmp.p, raw,
						    bh + MUSE_BLOCK_HEADER_SIZE, size);
					if (!ZSTD_isError(got) && got == raw)
						XXH3_64bits_update(content, tmp.p, raw);
					else
						content_known = 0;
				}
			}
			ob = out->p + h;
			if (bh[0] == 'S')
				fz_fix_footer(ob + MUSE_BLOCK_HEADER_SIZE,
				    out->len - h - MUSE_BLOCK_HEADER_SIZE, flags,
				    from, h - start, (const struct fz_block *)blocks.p, ndata,
				    nrec, content_known, XXH3_64bits_digest(content));
			if (flags & FZ_SUMS) {
				XXH64_state_t *st = XXH64_createState();

				if (st == NULL)
					abort();
				XXH64_reset(st, 0);
				XXH64_update(st, ob, 16);
				XXH64_update(st, ob + MUSE_BLOCK_HEADER_SIZE,
				    out->len - h - MUSE_BLOCK_HEADER_SIZE);
				muse_st64(ob + 16, XXH64_digest(st));
				XXH64_freeState(st);
			}
			XXH64_update(dig, ob + 16, 8);
			nblocks++;
			if (bh[0] == 'B') {
				struct fz_block b = { h - start, muse_le64(ob + 16) };

				nrec += muse_le32(ob + 4);
				fz_put(&blocks, &b, sizeof(b));
				ndata++;
			}
			pos += MUSE_BLOCK_HEADER_SIZE + size;
		}
		XXH64_freeState(dig);
		if (!ended)
			break;
	}
	fz_put(out, in + pos, n - pos);
	XXH3_freeState(content);
	muse_buf_free(&blocks);
	muse_buf_free(&tmp);
}

#endif
