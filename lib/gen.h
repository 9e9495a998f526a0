/*
 * gen.h - deterministic synthetic data: the impressions, plays, affinities
 * and assets of a simulated streaming service, as the CSV tables of SPEC 3
 * or straight as event streams (muse-format(5)).  lib/gen.c describes the
 * model.
 *
 * The bytes are a pure function of the options, the same on every
 * IEEE-754 machine, and which tables are asked for changes none of them:
 * a table written alone is the one written with the others.
 *
 * Tables are given in the order of enum muse_table (stream.h), so the
 * sink of table t is out[t - 1].
 */
#ifndef MUSE_GEN_H
#define MUSE_GEN_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define MUSE_GEN_NTABLES 4

/* Bounds of the options; muse_gen_new refuses others (MUSE_EUSAGE). */
#define MUSE_GEN_MAX_USERS 10000000u
#define MUSE_GEN_MAX_DAYS 3660u
#define MUSE_GEN_MAX_TITLES 9999u

struct muse_gen_opts {
	uint32_t users;      /* 1 to MUSE_GEN_MAX_USERS */
	uint32_t days;       /* 1 to MUSE_GEN_MAX_DAYS */
	uint32_t titles;     /* 1 to MUSE_GEN_MAX_TITLES */
	uint64_t seed;       /* any value */
	/*
	 * First day, in days since 1970-01-01.  All days must lie from
	 * 1970-01-02 to 9999-12-30, so that timestamps written with an
	 * offset keep their local date within what SPEC 3 accepts.
	 */
	int64_t start;
};

/* Where a table goes. */
struct muse_gen_out {
	FILE *fp;            /* NULL: the table is not wanted */
	const char *name;    /* what errors call it; NULL: standard output */
};

/* How far a run has got; all tables together. */
struct muse_gen_progress {
	uint32_t day;        /* days simulated */
	uint32_t days;       /* of this many */
	uint64_t rows;       /* rows made, headers not counted */
	uint64_t bytes;      /* bytes of CSV made, headers counted */
};

/* Called after each simulated day (only when impressions or plays are
 * wanted: the other tables are made before the first day). */
typedef void muse_gen_progress_fn(void *ctx, const struct muse_gen_progress *p);

typedef struct muse_gen muse_gen;

/*
 * Checks the options and builds the world (titles, assets, popularity).
 * NULL on error with e filled: MUSE_EUSAGE for an option out of bounds,
 * MUSE_ENOMEM.  A run takes about 48 bytes per row of one day, and with
 * event streams up to 32 MiB more per table, for the rows in flight.
 */
muse_gen *muse_gen_new(const struct muse_gen_opts *o, struct muse_err *e);
/* NULL is fine. */
void muse_gen_free(muse_gen *g);

/*
 * Runs the simulation and writes each wanted table as CSV to its stream,
 * which is flushed at the end but not closed.  progress may be NULL.  0,
 * or MUSE_ENOMEM, or MUSE_EIO for the first table (in table order) whose
 * stream failed, e naming it ("write error: No space left on device"); the
 * simulation stops at the end of the day a write fails, and what was
 * written is then incomplete.  A handle may run more than once, and makes
 * the same bytes each time.
 */
int muse_gen_run(muse_gen *g, const struct muse_gen_out out[MUSE_GEN_NTABLES],
	muse_gen_progress_fn *progress, void *ctx, struct muse_err *e);

/*
 * The same, but each wanted table is written as one event stream, byte
 * for byte what muse-ingest(1) makes of the CSV that muse_gen_run writes
 * (the table's CSV is formatted and ingested, one thread per table, beside
 * the simulation).  The rows and bytes of progress are still those of the
 * CSV.  On error (the first in table order; MUSE_EIO also for a thread or
 * a pipe that could not be made) the caller should discard what was
 * written: the streams get their trailers only after every table was made
 * without error, so a stream cut short by an error never reads as complete.
 */
int muse_gen_run_events(muse_gen *g,
	const struct muse_gen_out out[MUSE_GEN_NTABLES],
	muse_gen_progress_fn *progress, void *ctx, struct muse_err *e);

/* Totals of the last run (or of the run under way, from a callback). */
void muse_gen_totals(const muse_gen *g, struct muse_gen_progress *p);

#endif
