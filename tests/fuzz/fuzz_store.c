/*
 * fuzz_store.c - stores opened for random access (lib/store.h): the
 * footer, its block index, key ranges and zones, every block and record;
 * then the query engine (lib/query.h) over the same file, as muse-query
 * and --serve read it (mapped when indexed, as a stream when not).
 *
 * muse_store_open takes a path and maps the file, so the input goes to a
 * file of this process first (fz_file), removed once the run is over.
 * The first byte: bits 0-2 what fz_rebuild repairs (see fuzz.h); bit 3
 * gives the store a block cache, and then every block is read twice (the
 * second time from the cache); bits 4-7 choose the query's grouping and
 * output format.
 *
 * Checks: a store that opens is a sorted sketch stream; zones have
 * min_day <= max_day; records decode and encode back to their bytes; a
 * block read again (from the cache) gives the same records; the blocks
 * hold as many records as the store says.
 */
#include "fuzz.h"

#include "query.h"
#include "sketch.h"
#include "store.h"

enum { CACHE = 8 };

/*
 * Reads block i; returns the XXH64 of its records, or 0 on an error.
 * Adds the records read to *count.
 */
static uint64_t read_block(muse_store *s, size_t i, struct muse_acc *acc,
	struct muse_buf *b, uint64_t *count)
{
	const struct muse_header *h = muse_store_header(s);
	XXH64_state_t *st = XXH64_createState();
	struct muse_err e;
	const uint8_t *rec;
	size_t n;
	uint64_t sum;
	int rc;

	if (st == NULL)
		abort();
	XXH64_reset(st, 0);
	if (muse_store_read_block(s, i, &e) != 0) {
		XXH64_freeState(st);
		return 0;
	}
	while ((rc = muse_store_next(s, &rec, &n, &e)) == 1) {
		struct muse_key k;

		XXH64_update(st, &n, sizeof(n));
		XXH64_update(st, rec, n);
		++*count;
		if (muse_rec_decode(h, rec, n, &k, acc, &e) != 0)
			continue;
		b->len = 0;
		FZ_CHECK(muse_rec_encode(h, &k, acc, b) == 0);
		FZ_CHECK(b->len == n && memcmp(b->p, rec, n) == 0);
	}
	sum = XXH64_digest(st);
	XXH64_freeState(st);
	return rc == 0 ? sum | 1 : 0;
}

static void query(const char *path, muse_store *s, unsigned v)
{
	static const char *const by[8] = {
		NULL, "asset", "segment", "date", "title,country", "week",
		"month", "asset,segment,date"
	};
	static const enum muse_format fmt[2] = { MUSE_FMT_JSONL, MUSE_FMT_TABLE };
	static FILE *null;
	struct muse_err e;
	muse_query *q;

	if (null == NULL && (null = fopen("/dev/null", "w")) == NULL)
		abort();
	muse_err_clear(&e);
	if ((q = muse_query_new(&e)) == NULL)
		abort();
	muse_query_set_format(q, fmt[v >> 3 & 1]);
	if (by[v & 7])
		FZ_CHECK(muse_query_by(q, by[v & 7], &e) == 0);
	if ((s ? muse_query_add_mapped(q, s, &e) :
	    muse_query_add_store(q, path, &e)) == 0)
		muse_query_write(q, null, NULL, NULL, &e);
	muse_query_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct muse_buf rebuilt = { 0 }, b = { 0 };
	const uint8_t *p;
	const char *path;
	size_t n;
	unsigned flags;
	struct muse_err e;
	muse_store *s;

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
	if ((path = fz_file("store", p, n)) == NULL)
		abort();
	s = muse_store_open(path, &e);
	if (s != NULL) {
		const struct muse_header *h = muse_store_header(s);
		struct muse_acc acc;
		uint64_t count = 0;
		int all = 1;

		FZ_CHECK(h->kind == MUSE_KIND_SKETCH &&
		    (h->flags & MUSE_FLAG_SORTED));
		if (muse_acc_init(&acc, h->lgk) != 0)
			abort();
		if (flags & CACHE)
			muse_store_cache(s, 1u << 20);
		for (size_t i = 0; i < muse_store_nblocks(s); i++) {
			const struct muse_zone *z = muse_store_block_zone(s, i);
			struct muse_key first, last;
			uint64_t sum, again = 0;

			FZ_CHECK(z->min_day <= z->max_day);
			muse_store_block_keys(s, i, &first, &last);
			sum = read_block(s, i, &acc, &b, &count);
			all &= sum != 0;
			if (flags & CACHE)
				FZ_CHECK(read_block(s, i, &acc, &b, &again) == sum);
		}
		if (all)
			FZ_CHECK(count == muse_store_records(s));
		muse_acc_free(&acc);
		query(path, s, flags >> 4);
		muse_store_free(s);
	} else if (e.code == MUSE_OK) {
		query(path, NULL, flags >> 4);
	}
	unlink(path);
	muse_buf_free(&rebuilt);
	muse_buf_free(&b);
	return 0;
}
