/*
 * fuzz_stream.c - the stream reader (lib/stream.h) over input in memory,
 * and the record decoders behind it: event records (lib/event.h), sketch
 * records (lib/sketch.h) and delta records (an op byte, then a sketch
 * record or a key).
 *
 * The first byte says what fz_rebuild repairs (FZ_SUMS, FZ_PACK,
 * FZ_COUNTS, see fuzz.h); bit 3 skips every other stream with
 * muse_reader_skip_stream instead of reading it; bit 4 hands the reader
 * the bytes as one zstd frame, as a compressed file would be; bit 5 reads
 * only the first record of each stream and moves on to the next stream,
 * which passes over the rest.
 *
 * Checks: records are canonical, so every record that decodes encodes
 * back to exactly its bytes; a finished stream's footer (when present)
 * counts the records read.
 */
#include "fuzz.h"

#include "event.h"
#include "sketch.h"
#include "zio.h"

enum { SKIP_ODD = 8, ZSTD_WRAP = 16, ABANDON = 32 };

static void check_sketch(const struct muse_header *h, const uint8_t *rec,
	size_t n, struct muse_acc *acc, struct muse_buf *b)
{
	struct muse_key k;
	struct muse_err e;

	if (muse_rec_decode(h, rec, n, &k, acc, &e) != 0)
		return;
	b->len = 0;
	FZ_CHECK(muse_rec_encode(h, &k, acc, b) == 0);
	FZ_CHECK(b->len == n && memcmp(b->p, rec, n) == 0);
	FZ_CHECK(acc->qplays <= acc->plays);
}

static void check_delta(const struct muse_header *h, const uint8_t *rec,
	size_t n, struct muse_acc *acc, struct muse_buf *b)
{
	struct muse_key k;
	const uint8_t *after;

	if (n < 1)
		return;
	if (rec[0] == 1) {
		check_sketch(h, rec + 1, n - 1, acc, b);
	} else if (rec[0] == 2 &&
	    muse_key_decode(h->dims, rec + 1, rec + n, &k, &after) == 0) {
		b->len = 0;
		FZ_CHECK(muse_key_encode(h->dims, &k, b) == 0);
		FZ_CHECK(b->len == (size_t)(after - rec - 1) &&
		    (b->len == 0 || memcmp(b->p, rec + 1, b->len) == 0));
	}
}

static void check_event(const struct muse_header *h, const uint8_t *rec,
	size_t n, struct muse_buf *b)
{
	struct muse_event ev;
	struct muse_err e;

	if (muse_event_decode(h->table, rec, n, &ev, &e) != 0)
		return;
	FZ_CHECK(ev.table == h->table);
	b->len = 0;
	FZ_CHECK(muse_event_encode(&ev, b) == 0);
	FZ_CHECK(b->len == n && memcmp(b->p, rec, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct muse_buf rebuilt = { 0 }, packed = { 0 }, b = { 0 };
	const uint8_t *p;
	size_t n;
	unsigned flags;
	struct muse_err e;
	struct muse_header h;
	muse_input *in;
	muse_reader *r;
	int rc;

	if (size < 1)
		return 0;
	flags = data[0];
	p = data + 1;
	n = size - 1;
	if (flags & (FZ_SUMS | FZ_PACK | FZ_COUNTS)) {
		fz_rebuild(p, n, flags, NULL, &rebuilt);
		p = rebuilt.p;
		n = rebuilt.len;
	}
	if (flags & ZSTD_WRAP) {
		size_t bound = ZSTD_compressBound(n);

		if (muse_buf_reserve(&packed, bound))
			abort();
		packed.len = ZSTD_compress(packed.p, bound, p, n, 1);
		if (ZSTD_isError(packed.len))
			abort();
		p = packed.p;
		n = packed.len;
	}
	muse_err_clear(&e);
	if ((in = muse_input_mem(p, n, "fuzz.mev", &e)) == NULL ||
	    (r = muse_reader_new(in, &e)) == NULL)
		abort();
	for (unsigned i = 0; (rc = muse_reader_next_stream(r, &h, &e)) == 1; i++) {
		struct muse_acc acc;
		struct muse_footer f;
		const uint8_t *rec;
		size_t len;
		uint64_t count = 0;
		int sketchy = h.kind == MUSE_KIND_SKETCH || h.kind == MUSE_KIND_DELTA;

		FZ_CHECK(h.kind >= MUSE_KIND_EVENTS && h.kind <= MUSE_KIND_DELTA);
		if ((flags & SKIP_ODD) && (i & 1)) {
			if (muse_reader_skip_stream(r, &e) < 0)
				break;
			continue;
		}
		if (sketchy && muse_acc_init(&acc, h.lgk) != 0)
			abort();
		while ((rc = muse_reader_next(r, &rec, &len, &e)) == 1) {
			count++;
			if (h.kind == MUSE_KIND_EVENTS)
				check_event(&h, rec, len, &b);
			else if (h.kind == MUSE_KIND_SKETCH)
				check_sketch(&h, rec, len, &acc, &b);
			else
				check_delta(&h, rec, len, &acc, &b);
			if (flags & ABANDON)
				break;
		}
		if (sketchy)
			muse_acc_free(&acc);
		if (rc < 0)
			break;
		if (rc == 1)
			continue;
		muse_reader_footer(r, &f);
		FZ_CHECK(!f.present || f.records == count);
	}
	muse_reader_free(r);
	muse_buf_free(&rebuilt);
	muse_buf_free(&packed);
	muse_buf_free(&b);
	return 0;
}
