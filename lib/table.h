/*
 * table.h - partitioned table directories (the warehouse of SPEC 2).
 *
 * A table directory holds event streams partitioned by table, UTC date
 * and user-hash bucket, as immutable data files, and a numbered sequence
 * of manifests naming them:
 *
 *     DIR/versions/00000007     the manifest of version 7
 *     DIR/data/plays/2025-07-01/b003-<tag>.mev
 *
 * A commit writes its data files first (fsynced, under names no other
 * writer can pick), then manifest N+1 = manifest N plus the new files,
 * published with link(2), which fails when another writer published N+1
 * first; the loser reads the new N+1 and tries again.  So a version, once
 * visible, never changes, a reader that picked version N reads the same
 * files whatever commits land after, and a crash leaves at most data
 * files that no manifest names (invisible; muse-format(5), TABLE
 * DIRECTORIES).  The bucket count is fixed per table by its first commit.
 */
#ifndef MUSE_TABLE_H
#define MUSE_TABLE_H

#include <stdint.h>

#include "err.h"
#include "event.h"

#define MUSE_TABLE_BUCKETS_DEFAULT 16
#define MUSE_TABLE_BUCKETS_MAX 4096
#define MUSE_TABLE_NODATE INT64_MIN  /* affinities and assets: no date */

/* One data file of a version. */
struct muse_table_file {
	int table;          /* enum muse_table */
	int64_t day;        /* days since 1970-01-01, or MUSE_TABLE_NODATE */
	uint32_t bucket, nbuckets;
	uint64_t rows, bytes;
	int64_t min_ts, max_ts; /* 0 when the table has no timestamps */
	uint64_t xxh64;     /* of the file's bytes */
	char *path;         /* relative to the directory */
	char *schema;       /* the source's columns, comma-separated */
};

struct muse_manifest {
	uint64_t version;   /* 0: the empty table (no manifest yet) */
	uint32_t buckets[5]; /* by enum muse_table (1..4); 0 = not fixed */
	struct muse_table_file *f;
	size_t n, cap;
};

void muse_manifest_free(struct muse_manifest *m);

/*
 * A manifest's text (modified in place; len bytes, NUL after them) into
 * m, every field checked; MUSE_EFORMAT naming name and the line, m then
 * empty.  And back: the canonical text of m (muse-format(5), TABLE
 * DIRECTORIES).
 */
int muse_manifest_parse(char *text, size_t len, const char *name,
	struct muse_manifest *m, struct muse_err *e);
int muse_manifest_format(const struct muse_manifest *m, struct muse_buf *b);

/* Whether path is a table directory (has a versions/ subdirectory). */
int muse_table_is_dir(const char *path);

/*
 * The newest version (version 0), or the given one; version 0 of an empty
 * table gives an empty manifest.  A version that does not exist is
 * MUSE_EUSAGE ("no version 9 (newest is 7)").
 */
int muse_table_load(const char *dir, uint64_t version,
	struct muse_manifest *m, struct muse_err *e);

/*
 * Which files muse-sketch needs for the days from..to (has_dates 0: all)
 * and the user bucket b of n (n 0: all users): plays of those days,
 * impressions from window_s before the first day to the last, affinities
 * and assets of every date; only buckets that can hold users of bucket
 * b of n.  Fills idx with indexes into m->f (caller frees *idx).
 */
int muse_table_select(const struct muse_manifest *m, int has_dates,
	int64_t day_from, int64_t day_to, uint32_t window_s, uint32_t b,
	uint32_t n, size_t **idx, size_t *nidx, struct muse_err *e);

/* ---- writing: one commit ---- */

typedef struct muse_table_writer muse_table_writer;

/*
 * Starts a commit to dir (created when missing).  buckets 0 takes each
 * table's bucket count, or the default for a new table.  level: zstd
 * level of the data files.
 */
muse_table_writer *muse_table_writer_new(const char *dir, uint32_t buckets,
	int level, struct muse_err *e);
/*
 * From now on, the data files' blocks are compressed and written on a
 * second thread while rows are added (the same bytes).  0 or an error.
 */
int muse_table_writer_write_behind(muse_table_writer *t, struct muse_err *e);
/* The user-id hashing of the rows to come (default xxh3, MUSE_HASH_SEED). */
void muse_table_writer_hash(muse_table_writer *t, uint8_t hash,
	uint64_t seed);
/*
 * Starts rows of one table from one source, whose columns (comma-separated)
 * go into the manifest.  Fails when the table's bucket count is fixed to
 * another value than the one asked for.
 */
int muse_table_writer_source(muse_table_writer *t, int table,
	const char *schema, struct muse_err *e);
/* One encoded event record of the current source's table. */
int muse_table_writer_add(muse_table_writer *t, const struct muse_event *ev,
	const void *rec, size_t n, struct muse_err *e);
/*
 * Finishes and fsyncs the data files and publishes the next version;
 * *version gets its number.  Retries when another writer won the version
 * (up to a bound, then MUSE_EIO "too many concurrent commits").
 */
int muse_table_writer_commit(muse_table_writer *t, uint64_t *version,
	struct muse_err *e);
/* Removes the data files of a commit not made (and frees). */
void muse_table_writer_free(muse_table_writer *t);

/* ---- tiers: rotation commits ---- */

struct muse_table_rotation {
	uint64_t version;         /* the version committed; 0: nothing to do */
	uint64_t partitions;      /* partitions rewritten or dropped */
	uint64_t files_in, bytes_in, files_out, bytes_out, rows;
};

/*
 * Compacts every dated partition before before_day that is not compacted
 * yet (more than one file, or a file not written by compaction): its
 * files become one stream at zstd level `level`, in blocks that decode
 * independently.  One commit; the old files stay for older versions
 * until muse_table_vacuum.
 */
int muse_table_compact(const char *dir, int64_t before_day, int level,
	struct muse_table_rotation *r, struct muse_err *e);
/*
 * Drops the dated partitions before before_day whose days lie in
 * [covered_from, covered_to] (the days a sketch store holds); one commit.
 */
int muse_table_expire(const char *dir, int64_t before_day,
	int64_t covered_from, int64_t covered_to, struct muse_table_rotation *r,
	struct muse_err *e);
/*
 * Keeps the newest `keep` versions: removes older manifests, and data
 * files and temporaries that no kept manifest names and that were last
 * changed more than grace_s seconds ago (a writer's files before its
 * commit are younger).  *removed counts the files removed.
 */
int muse_table_vacuum(const char *dir, uint64_t keep, uint64_t grace_s,
	uint64_t *removed, struct muse_err *e);

#endif
