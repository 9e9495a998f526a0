/*
 * delta.h - what changed between two versions of a store, as a stream of
 * its own (muse-format(5), DELTA STREAMS): computed from two stores,
 * applied to the store it starts from, reversed; and the publishing
 * directory through which one producer hands versions to many consumers
 * (muse-delta(1), "PUBLISHING").
 *
 * A delta names the state it starts from and the state it produces by
 * version and content checksum; applying it to anything else is refused,
 * and the result is verified against the target before it is kept.
 */
#ifndef MUSE_DELTA_H
#define MUSE_DELTA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "stream.h"

/* The op byte that starts every delta record. */
#define MUSE_DELTA_UPSERT 1
#define MUSE_DELTA_DELETE 2

/* An output stream; fp NULL means not wanted. */
struct muse_delta_out {
	FILE *fp;
	const char *name;     /* for messages */
};

/*
 * What muse_delta_info finds in a store or a delta (h.kind tells which);
 * diff describes the delta it wrote (its content left 0), apply the store
 * it produced (from: the store it read; to: the result).
 */
struct muse_delta_info {
	struct muse_header h;
	uint64_t records;         /* the stream's own records */
	uint64_t content;         /* its own content checksum */
	uint64_t version;         /* a store's version; a delta's target */
	uint64_t upserts, deletes; /* a delta's records by op */
	uint64_t from_version, from_content, from_records;
	uint64_t to_version, to_content, to_records;
};

/*
 * The delta from the store at old_path to the store at new_path (either
 * may be "-", not both) into fwd; with rev->fp, the reverse delta too;
 * with copy->fp, NEW again with the target version in its footer.  The
 * target version is to_version when set_version is given, else NEW's
 * version when it is above OLD's, else OLD's version + 1.  *info (may be
 * NULL) describes the forward delta.  progress (may be NULL) hears of the
 * phase "comparing records" (of both stores; the total is known when both
 * are indexed files).
 */
int muse_delta_diff(const char *old_path, const char *new_path,
	int set_version, uint64_t to_version, const struct muse_delta_out *fwd,
	const struct muse_delta_out *rev, const struct muse_delta_out *copy,
	struct muse_delta_info *info, const struct muse_progress_hook *progress,
	struct muse_err *e);

/*
 * Applies n deltas in order to the store at store_path and writes the
 * result to out (out->fp may be NULL to verify only).  Each delta must
 * start from the state the one before produced (the first from the
 * store's version and content checksum): anything else is refused before
 * a byte is written.  The result is checked against the last delta's
 * target (content checksum and record count) and carries its version.
 * With rev->fp (n must be 1) the reverse delta is written as well.
 * *info describes the result.  progress (may be NULL) hears of the phase
 * "applying deltas" (records of the result, whose count the last delta
 * promises).
 */
int muse_delta_apply(const char *store_path, const char *const *deltas,
	size_t n, const struct muse_delta_out *out,
	const struct muse_delta_out *rev, struct muse_delta_info *info,
	const struct muse_progress_hook *progress, struct muse_err *e);

/* The store at store_path again, with version in its footer. */
int muse_delta_stamp(const char *store_path, uint64_t version,
	const struct muse_delta_out *out, struct muse_err *e);

/*
 * Reads a store or a delta whole, verifying everything (checksums, key
 * order, op bytes, the records of upserts) and describes it.
 */
int muse_delta_info(const char *path, struct muse_delta_info *info,
	struct muse_err *e);

/*
 * A file that is replaced whole or not at all: the data go to an unnamed
 * temporary file in the target's directory (O_TMPFILE; where the file
 * system lacks it, a hidden ".NAME.tmp.PID.N" beside the target), which
 * commit syncs, links and renames over the target, then syncs the
 * directory.  A process killed at any point leaves the old file (and,
 * with O_TMPFILE, nothing else).  A replaced file keeps its mode.
 */
struct muse_delta_file {
	FILE *fp;
	char *path;
	char *tmp;            /* the hidden name, when O_TMPFILE was not used */
};
int muse_delta_file_open(struct muse_delta_file *f, const char *path,
	struct muse_err *e);
int muse_delta_file_commit(struct muse_delta_file *f, struct muse_err *e);
void muse_delta_file_abort(struct muse_delta_file *f);

/* ---- publishing (muse-delta(1), "PUBLISHING") ---- */

/*
 * Publishes the store at new_path as the next version in dir (created
 * when missing): deltas from and to the previous version, a snapshot when
 * snapshot_every versions have passed since the last one (or a copy in
 * dir/cache otherwise), then dir/LATEST, replaced atomically.  Holds
 * dir/.lock meanwhile; another publisher gets MUSE_EUSAGE.  progress
 * (may be NULL) hears of the diff against the previous version.
 */
int muse_publish(const char *dir, const char *new_path,
	uint64_t snapshot_every, uint64_t *version,
	const struct muse_progress_hook *progress, struct muse_err *e);

/* The latest version published in dir (dir/LATEST). */
int muse_publish_latest(const char *dir, uint64_t *version,
	struct muse_err *e);

/*
 * A path to a store file of that version of dir: its snapshot, or a copy
 * built from the nearest snapshot through forward or reverse deltas into
 * dir/cache (or a cache under $TMPDIR when dir is read-only), atomically;
 * cheap once cached.  *path_out is malloc'd.  Cached files may be removed
 * by a later publish: open the path at once, and ask again on ENOENT.
 */
int muse_publish_materialize(const char *dir, uint64_t version,
	char **path_out, struct muse_err *e);

#endif
