/*
 * merge.h - many sketch streams into one sorted stream, with roll-ups.
 */
#ifndef MUSE_MERGE_H
#define MUSE_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "stream.h"

struct muse_merge_opts {
	int rollup;           /* -1 none, MUSE_GRAIN_WEEK, _MONTH, _QUARTER */
	uint8_t drop;         /* dimensions to drop (mask of enum muse_dim) */
	size_t memory;        /* bytes of records held before spilling */
	const char *tmpdir;   /* where spilled runs go */
	int write_behind;     /* output blocks compressed on a second thread */
	/*
	 * Phases: "reading records" (of the input muse_merge_add spools;
	 * sorted files are read in place later, not here), then in
	 * muse_merge_finish "merging records" (of all inputs).
	 */
	struct muse_progress_hook progress;
};

typedef struct muse_merge muse_merge;

muse_merge *muse_merge_new(const struct muse_merge_opts *o, struct muse_err *e);
void muse_merge_free(muse_merge *m);
/* Adds every stream of one input ("-" is standard input). */
int muse_merge_add(muse_merge *m, const char *path, struct muse_err *e);
/* Writes the merged, sorted stream.  No input at all is an error. */
int muse_merge_finish(muse_merge *m, FILE *out, const char *name,
	struct muse_err *e);

#endif
