/*
 * fuzz_csv.c - the CSV/TSV reader (lib/csv.h) and the rows-to-events layer
 * over it (lib/ingest.h), on input in memory.
 *
 * The input is read three times: by the CSV reader with a buffer that
 * holds it whole (64 KiB; libFuzzer's inputs are smaller), by the CSV
 * reader with a buffer of 1 to 8 bytes to start with, and by ingest over
 * a reader of the default size.  The first byte chooses: bits 0-1 the
 * separator (guess, ',', '\t', guess), bits 2-4 the small buffer's size,
 * bits 5-7 the table for ingest (0 infers it; 1-4 force one; 5-7 infer
 * too).  The rest is the table text.
 *
 * Checks: every record has fields that are C strings of the stated
 * length; the reader gives the same records, errors and line numbers
 * whatever its initial buffer size (so fields cut across buffer
 * boundaries are put back together right); every event ingest hands out
 * is of the table it reported, encodes, and decodes back to the same
 * bytes.
 */
#include "fuzz.h"

#include "csv.h"
#include "event.h"
#include "ingest.h"
#include "zio.h"

/*
 * Each call of muse_csv_next consumes a line or more, so no input makes it
 * loop: it returns at most one record or error per byte of text.  The text
 * of a compressed input is far less than 2^32 bytes for any input
 * libFuzzer makes.
 */
static uint64_t call_limit(muse_csv *c, size_t n)
{
	return muse_input_compressed(muse_csv_input(c)) ? UINT64_C(1) << 32 :
	    (uint64_t)n + 2;
}

/*
 * Reads every record into a digest of what was read (records, errors,
 * lines, raw text of refused records).  Returns the digest, or 0 when the
 * input itself failed (a corrupt compressed input: what was read before
 * depends on how much the reader asked for at a time).
 */
static uint64_t read_all(const uint8_t *p, size_t n, int sep, size_t bufsize)
{
	struct muse_err e;
	muse_input *in = muse_input_mem(p, n, "fuzz.csv", &e);
	XXH64_state_t *st = XXH64_createState();
	struct muse_csv_row row;
	muse_csv *c;
	uint64_t sum, calls = 0, limit;
	int rc, failed = 0;

	if (st == NULL)
		abort();
	XXH64_reset(st, 0);
	muse_err_clear(&e);
	if (in == NULL)
		abort();
	c = muse_csv_new_bufsize(in, sep, bufsize, &e);
	if (c == NULL) {
		failed = 1;
		goto out;
	}
	XXH64_update(st, &(int){ muse_csv_sep(c) }, sizeof(int));
	limit = call_limit(c, n);
	for (;;) {
		rc = muse_csv_next(c, &row, &e);
		FZ_CHECK(++calls <= limit);
		XXH64_update(st, &rc, sizeof(rc));
		if (rc == 1) {
			FZ_CHECK(row.nfields >= 1 &&
			    row.nfields <= MUSE_CSV_MAX_FIELDS);
			FZ_CHECK(row.line >= 1 && row.lines >= 1);
			XXH64_update(st, &row.nfields, sizeof(row.nfields));
			XXH64_update(st, &row.line, sizeof(row.line));
			XXH64_update(st, &row.lines, sizeof(row.lines));
			for (size_t i = 0; i < row.nfields; i++) {
				FZ_CHECK(strlen(row.field[i]) == row.len[i]);
				XXH64_update(st, &row.len[i], sizeof(row.len[i]));
				XXH64_update(st, row.field[i], row.len[i]);
			}
			continue;
		}
		if (rc == MUSE_EINPUT) {
			size_t k;
			const char *raw = muse_csv_raw(c, &k);

			XXH64_update(st, &e.line, sizeof(e.line));
			if (raw) {
				XXH64_update(st, &k, sizeof(k));
				XXH64_update(st, raw, k);
			}
			continue;
		}
		failed = rc < 0;
		break;
	}
	muse_csv_free(c);
out:
	sum = XXH64_digest(st);
	XXH64_freeState(st);
	return failed ? 0 : sum | 1;
}

static void ingest_all(const uint8_t *p, size_t n, int sep, int table)
{
	struct muse_err e;
	muse_input *in;
	muse_csv *c;
	muse_ingest *g;
	struct muse_event ev, back;
	struct muse_buf b = { 0 }, b2 = { 0 };
	uint64_t calls = 0, limit;
	int rc;

	muse_err_clear(&e);
	if ((in = muse_input_mem(p, n, "fuzz.csv", &e)) == NULL)
		abort();
	if ((c = muse_csv_new(in, sep, &e)) == NULL)
		return;
	if ((g = muse_ingest_new(c, table, MUSE_HASH_SEED, &e)) == NULL)
		return;
	FZ_CHECK(muse_ingest_table(g) >= MUSE_TABLE_IMPRESSIONS &&
	    muse_ingest_table(g) <= MUSE_TABLE_ASSETS);
	FZ_CHECK(table == 0 || muse_ingest_table(g) == table);
	/* An affinities row yields an event per cluster ('|'). */
	limit = 2 * call_limit(c, n);
	while ((rc = muse_ingest_next(g, &ev, &e)) != 0) {
		FZ_CHECK(++calls <= limit);
		if (rc == MUSE_EINPUT) {
			size_t k;

			muse_ingest_raw(g, &k);
			continue;
		}
		if (rc < 0)
			break;
		FZ_CHECK(ev.table == muse_ingest_table(g));
		b.len = 0;
		FZ_CHECK(muse_event_encode(&ev, &b) == 0);
		FZ_CHECK(muse_event_decode(ev.table, b.p, b.len, &back, &e) == 0);
		b2.len = 0;
		FZ_CHECK(muse_event_encode(&back, &b2) == 0);
		FZ_CHECK(b2.len == b.len && memcmp(b.p, b2.p, b.len) == 0);
	}
	muse_ingest_free(g);
	muse_buf_free(&b);
	muse_buf_free(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int seps[4] = { 0, ',', '\t', 0 };
	int sep, table;
	size_t small;
	uint64_t a, b;

	if (size < 1)
		return 0;
	sep = seps[data[0] & 3];
	small = 1 + (data[0] >> 2 & 7);
	table = data[0] >> 5;
	if (table > MUSE_TABLE_ASSETS)
		table = 0;
	data++;
	size--;
	a = read_all(data, size, sep, 1u << 16);
	b = read_all(data, size, sep, small);
	FZ_CHECK(a == b || a == 0 || b == 0);
	ingest_all(data, size, sep, table);
	return 0;
}
