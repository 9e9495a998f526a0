/*
 * build.h - event streams to a sketch stream: the attribution join and the
 * audience expansion of SPEC 4, and the aggregation per key.
 */
#ifndef MUSE_BUILD_H
#define MUSE_BUILD_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "stream.h"

struct muse_build_opts {
	uint8_t dims;             /* grain: mask of enum muse_dim */
	unsigned lgk;
	uint32_t window_s;        /* W */
	uint32_t qualify_ms;      /* Q */
	uint32_t authentic_ms;    /* A */
	int has_dates;            /* count only the days from..to */
	int64_t day_from, day_to;
	uint32_t bucket, nbuckets; /* nbuckets 0: all users */
	int write_behind;         /* output blocks compressed on a second thread */
	/*
	 * Phases: "reading records" (of the stream muse_build_add reads),
	 * then in muse_build_finish "sorting events", "joining events" (of
	 * all impressions and plays) and "writing sketches" (of all keys).
	 */
	struct muse_progress_hook progress;
};

typedef struct muse_build muse_build;

muse_build *muse_build_new(const struct muse_build_opts *o,
	struct muse_err *e);
void muse_build_free(muse_build *b);
/* The header that the output stream will carry. */
void muse_build_header(const muse_build *b, struct muse_header *h);
/*
 * Reads the records of the reader's current stream (an event stream, of
 * any table; assets are accepted and not used).
 */
int muse_build_add(muse_build *b, muse_reader *r, const struct muse_header *h,
	struct muse_err *e);
/* Joins, aggregates and writes the sorted sketch stream. */
int muse_build_finish(muse_build *b, FILE *out, const char *name,
	struct muse_err *e);

#endif
