/*
 * stream.h - the binary stream format of muse-format(5): a header, zstd
 * compressed blocks of length-prefixed records each with its own xxHash
 * checksum, and a trailer that counts blocks and records, so a cut stream
 * is an error and never a smaller answer.  Streams concatenate.
 */
#ifndef MUSE_STREAM_H
#define MUSE_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "err.h"
#include "zio.h"

#define MUSE_FORMAT_VERSION 1
#define MUSE_HEADER_SIZE 64
#define MUSE_BLOCK_HEADER_SIZE 24
#define MUSE_TRAILER_SIZE 32
/* A block's records are cut at this raw size (deterministic blocking). */
#define MUSE_BLOCK_TARGET (128u << 10)
/*
 * In a store (sorted, indexed) whose keys have a title, a block that
 * holds this much is also cut before a record of another title, so that
 * most blocks hold one title and the key ranges of the index tell a
 * title's assets apart (muse-format(5), DATA BLOCKS).
 */
#define MUSE_BLOCK_TITLE_MIN (16u << 10)
/* Upper bound on one block's raw or compressed size and one record. */
#define MUSE_BLOCK_MAX (64u << 20)

enum muse_kind { MUSE_KIND_EVENTS = 1, MUSE_KIND_SKETCH = 2, MUSE_KIND_DELTA = 3 };

enum muse_table {
	MUSE_TABLE_IMPRESSIONS = 1,
	MUSE_TABLE_PLAYS = 2,
	MUSE_TABLE_AFFINITIES = 3,
	MUSE_TABLE_ASSETS = 4,
};

/* Dimensions of a sketch key, in key order (bit i of the dims mask). */
enum muse_dim {
	MUSE_DIM_TITLE = 0,
	MUSE_DIM_ASSET = 1,
	MUSE_DIM_DATE = 2,
	MUSE_DIM_SEGMENT = 3,
	MUSE_DIM_COUNTRY = 4,
	MUSE_NDIMS = 5
};

/* Date grain of a sketch stream's date dimension. */
enum muse_grain { MUSE_GRAIN_DAY = 0, MUSE_GRAIN_WEEK = 1, MUSE_GRAIN_MONTH = 2,
	MUSE_GRAIN_QUARTER = 3 };

#define MUSE_FLAG_SORTED 0x01
#define MUSE_HASH_XXH3 1
/* The documented seed of the user-id hash: "muse" in ASCII. */
#define MUSE_HASH_SEED UINT64_C(0x6d757365)
/*
 * DataSketches' hashing (muse-ingest --hash datasketches, muse-import):
 * MurmurHash3 x64 128 of the UTF-8 id with seed 9001, so that the
 * coupons are those DataSketches makes of the same ids.
 */
#define MUSE_HASH_DATASKETCHES 2
#define MUSE_HASH_DS_SEED UINT64_C(9001)
/* "xxh3", "datasketches" (or "?"). */
const char *muse_hash_name(int hash);
/* The hash of a name, with its seed: 0, or -1 for an unknown name. */
int muse_hash_parse(const char *s, uint8_t *hash, uint64_t *seed);
/* Stored metrics (bit mask); version 1 streams carry all seven. */
#define MUSE_METRICS_V1 0x7F

/*
 * How a long call of the library (muse_build_*, muse_merge_*,
 * muse_delta_diff/apply, muse_publish) tells its caller how far it has
 * gone: fn, from the calling thread, when a phase starts, every
 * MUSE_PROGRESS_EVERY records of it and when it ends, with the phase's
 * name ("reading records", "joining events", "merging records", ...),
 * the records done so far in it and how many it will do
 * (MUSE_COUNT_UNKNOWN when that is not known).  fn NULL: no calls.  The library keeps nothing of it but
 * the pointer; what to draw and how often is the caller's business.
 */
struct muse_progress_hook {
	void (*fn)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void *ctx;
};
#define MUSE_PROGRESS_EVERY 16384u
#define MUSE_COUNT_UNKNOWN UINT64_MAX

static inline void muse_progress_report(const struct muse_progress_hook *h,
	const char *phase, uint64_t done, uint64_t total)
{
	if (h != NULL && h->fn != NULL)
		h->fn(h->ctx, phase, done, total);
}

struct muse_header {
	uint8_t kind;
	uint8_t flags;
	uint8_t table;        /* events */
	uint8_t hash;
	uint8_t dims;         /* sketch: mask of enum muse_dim */
	uint8_t grain;        /* sketch: enum muse_grain */
	uint8_t lgk;          /* sketch */
	uint16_t metrics;     /* sketch: MUSE_METRICS_V1 */
	uint32_t window_s;    /* sketch: attribution window W */
	uint32_t qualify_ms;  /* sketch: Q */
	uint32_t authentic_ms; /* sketch: A */
	uint64_t seed;
	/*
	 * sketch: a roll-up made from one day store (muse-merge --rollup)
	 * names that store's content checksum and version, so that a query
	 * uses it only beside that very store; both 0 otherwise.
	 */
	uint64_t src_content;
	uint64_t src_version;
};

const char *muse_kind_name(int kind);  /* "events", "sketch", "delta" */
const char *muse_table_name(int table);
int muse_table_parse(const char *s);  /* enum value or -1 */
/* The same, or MUSE_EUSAGE with "unknown table" and the nearest name in e. */
int muse_table_lookup(const char *s, struct muse_err *e);
const char *muse_dim_name(int dim);
/* "day", "week", "month", "quarter" (or "unknown"). */
const char *muse_grain_name(int grain);
int muse_dim_parse(const char *s, size_t n);

/*
 * Whether two headers may meet in one merge: same kind, table (events),
 * parameters, hash and schema (a roll-up's source is no part of it).  0, or MUSE_EPARAM with a message naming
 * the first difference ("window differs: 86400 s vs 3600 s").
 */
int muse_header_compatible(const struct muse_header *a,
	const struct muse_header *b, struct muse_err *e);

/* Decodes and checks the 64-byte header at p. */
int muse_header_parse(const uint8_t *p, struct muse_header *h,
	struct muse_err *e);

/* ---- writing ---- */

typedef struct muse_writer muse_writer;

/* Writes the header at once.  level: zstd level (0 = default 3). */
muse_writer *muse_writer_new(FILE *out, const char *name,
	const struct muse_header *h, int level, struct muse_err *e);
/*
 * The same with a zstd compression context that the caller owns and may
 * share among writers used one at a time (many open partitions).
 */
muse_writer *muse_writer_new_cctx(FILE *out, const char *name,
	const struct muse_header *h, int level, void *cctx, struct muse_err *e);
void *muse_zstd_cctx_new(void);
void muse_zstd_cctx_free(void *cctx);
/* Appends one record. */
int muse_writer_add(muse_writer *w, const void *rec, size_t n,
	struct muse_err *e);
/*
 * Sorted sketch streams (stores) end with a footer: an index of their
 * blocks (offset, record count, first and last key), a version number and
 * a checksum of their content (XXH3-64 of the records as stored, each
 * with its length), so that a reader can fetch only the blocks a query
 * needs and a delta can name the states it goes from and to.
 *
 * Delta streams end with a footer of their own type: their content
 * checksum and record count, and the version, content checksum (and
 * record count) of the state they start from and the state they produce
 * (muse-format(5), DELTA STREAMS).  Every delta stream has one.
 */
#define MUSE_FOOTER_STORE 1
#define MUSE_FOOTER_DELTA 2
/*
 * A block's zone, kept in the footer's index: the range of its days and,
 * for asset, segment and country, a 64-bit set of hashed values (bit
 * XXH3-64(value) mod 64), so that a query can pass over blocks that cannot
 * hold the values it asks for even where the key order does not help.
 */
struct muse_key;
struct muse_zone {
	uint32_t min_day, max_day;
	uint64_t bits[3];     /* asset, segment, country */
};
uint64_t muse_zone_bit(const char *s, size_t n);
void muse_zone_add(struct muse_zone *z, uint8_t dims, const struct muse_key *k);
#define MUSE_FOOTER_MAGIC "MUSEFOOT"
/* The version a store's footer carries (default 0). */
void muse_writer_set_version(muse_writer *w, uint64_t version);
/* What a delta stream's footer says of its origin and target (default 0). */
void muse_writer_set_delta(muse_writer *w, uint64_t from_version,
	uint64_t from_content, uint64_t from_records, uint64_t to_version,
	uint64_t to_content, uint64_t to_records);
/*
 * From now on, compresses and writes each block on a second thread while
 * the caller fills the next (up to three waiting): the same bytes, in the
 * same order.  While it runs, out belongs to that thread; a write error
 * comes back from a later muse_writer_add or from muse_writer_finish,
 * which ends the thread.  Returns 1, or 0 when no thread could be started
 * (then everything happens on the caller's thread, as before).
 */
int muse_writer_write_behind(muse_writer *w);
/*
 * One such thread, with a compressor of its own, shared by the writers a
 * caller has open at once (the partition files of a table, say): they
 * must all be used from one thread, and all be finished or freed before
 * muse_behind_free.  A writer given to it with muse_writer_behind writes
 * the same bytes as without it.
 */
typedef struct muse_behind muse_behind;
muse_behind *muse_behind_new(struct muse_err *e);
void muse_behind_free(muse_behind *b);
void muse_writer_behind(muse_writer *w, muse_behind *b);
/* Flushes the last block and writes the trailer (does not close out). */
int muse_writer_finish(muse_writer *w, struct muse_err *e);
void muse_writer_free(muse_writer *w);
uint64_t muse_writer_records(const muse_writer *w);

/* ---- reading ---- */

typedef struct muse_reader muse_reader;

/* Takes ownership of in. */
muse_reader *muse_reader_new(muse_input *in, struct muse_err *e);
void muse_reader_free(muse_reader *r);
/*
 * Moves to the next stream of the input: 1 and *h filled, 0 at a clean end
 * of input, or an error (bad magic, bad header, trailing garbage).
 */
int muse_reader_next_stream(muse_reader *r, struct muse_header *h,
	struct muse_err *e);
/*
 * Next record of the current stream: 1 with *rec and *n pointing into the
 * reader's block (valid until the next call), 0 at the stream's verified
 * trailer, or an error: checksum, truncation, counts that disagree.
 */
int muse_reader_next(muse_reader *r, const uint8_t **rec, size_t *n,
	struct muse_err *e);
/*
 * Reads another input (which it takes, freeing the one it had) from its
 * start, keeping its buffers: many files read in turn cost one reader.
 * Reading ahead is off again until asked for.
 */
void muse_reader_reopen(muse_reader *r, muse_input *in);
/*
 * From the next block on, reads and decompresses the blocks of a stream on
 * a second thread, up to four ahead of the records asked for, so that
 * decoding the input overlaps the caller's work on its records.  Only for
 * a regular file (returns 1; else 0 and nothing changes).  The records,
 * errors and checks are those of a reader without it; while the stream is
 * being read, the input belongs to that thread (use muse_reader_consumed,
 * not muse_reader_input, for progress).
 */
int muse_reader_read_ahead(muse_reader *r);
/* Bytes of the input consumed up to the block records come from now. */
uint64_t muse_reader_consumed(const muse_reader *r);
/* Reads the rest of the current stream, skipping blocks without
 * decompressing them (checksums still verified). */
int muse_reader_skip_stream(muse_reader *r, struct muse_err *e);
const char *muse_reader_name(const muse_reader *r);
/* Byte offset in the input where the current stream began. */
uint64_t muse_reader_stream_offset(const muse_reader *r);
muse_input *muse_reader_input(muse_reader *r);
/*
 * Records of the current stream read or skipped so far; once its trailer
 * is read (muse_reader_next returned 0, or muse_reader_skip_stream), all.
 */
uint64_t muse_reader_records(const muse_reader *r);

/* What a footer says, once the stream's trailer has been read. */
struct muse_footer {
	int present;
	int type;             /* MUSE_FOOTER_STORE or MUSE_FOOTER_DELTA */
	uint64_t version;     /* a store's; a delta's target version */
	uint64_t content;     /* XXH3-64 of the stream's records, see above */
	uint64_t records;     /* the stream's own records */
	/* deltas: the state they start from and the state they produce */
	uint64_t from_version, from_content, from_records;
	uint64_t to_version, to_content, to_records;
};
/*
 * The footer of the stream just finished (after muse_reader_next returned
 * 0, or muse_reader_skip_stream); present is 0 for streams without one.
 * The reader has checked the record count, and the content checksum
 * against the records it returned when it skipped none.
 */
void muse_reader_footer(const muse_reader *r, struct muse_footer *f);

#endif
