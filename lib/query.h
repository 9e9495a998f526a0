/*
 * query.h - ad-hoc questions over sketch stores (SPEC 7): filters, groups,
 * unions of sketches, metrics with confidence bounds, output formats.
 */
#ifndef MUSE_QUERY_H
#define MUSE_QUERY_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"

/*
 * Group-by columns: the five key dimensions, then week and month, then the
 * asset_type of the assets table joined at query time.
 */
enum { MUSE_G_WEEK = 5, MUSE_G_MONTH = 6, MUSE_G_ASSET_TYPE = 7,
	MUSE_NGROUPS = 8 };

enum muse_metric {
	MUSE_M_IMPRESSIONS, MUSE_M_REACH, MUSE_M_PLAYS, MUSE_M_QPLAYS,
	MUSE_M_QREACH, MUSE_M_AREACH, MUSE_M_WATCH_S, MUSE_M_TAKE_RATE,
	MUSE_M_AUTHENTIC_RATE, MUSE_M_BOUNCE_RATE, MUSE_M_COUNTRIES,
	MUSE_NMETRICS
};

/*
 * MUSE_FMT_JSONL: one JSON object per answer on one line (--serve); a chart
 * asked for on a query line comes inside it as a string.
 */
enum muse_format { MUSE_FMT_TABLE, MUSE_FMT_TSV, MUSE_FMT_CSV, MUSE_FMT_JSON,
	MUSE_FMT_BARS, MUSE_FMT_SVG, MUSE_FMT_JSONL };

typedef struct muse_query muse_query;

muse_query *muse_query_new(struct muse_err *e);
void muse_query_free(muse_query *q);

/* Each setter parses an option value; 0 or MUSE_EUSAGE with e filled. */
int muse_query_filter(muse_query *q, int dim, const char *list,
	struct muse_err *e);
int muse_query_dates(muse_query *q, const char *range, struct muse_err *e);
int muse_query_by(muse_query *q, const char *list, struct muse_err *e);
int muse_query_metrics(muse_query *q, const char *list, struct muse_err *e);
int muse_query_ci(muse_query *q, const char *level, struct muse_err *e);
int muse_query_sort(muse_query *q, const char *spec, struct muse_err *e);
void muse_query_top(muse_query *q, uint64_t n);
int muse_query_format(muse_query *q, const char *name, struct muse_err *e);
void muse_query_set_format(muse_query *q, enum muse_format f);
/*
 * A query line's --format (--serve): json (the default), or bars or svg,
 * drawn into the JSON line's "chart" member.
 */
int muse_query_line_format(muse_query *q, const char *name,
	struct muse_err *e);
/* Terminal width for --format bars (0: 80 columns). */
void muse_query_width(muse_query *q, unsigned columns);

/*
 * --compare A,B: two sides, each an asset pattern or several joined with
 * "+"; one row per group of --by with each metric for both sides, their
 * difference and its significance at the --ci level (95 by default).
 */
int muse_query_compare(muse_query *q, const char *spec, struct muse_err *e);
/*
 * --outliers: rows whose take rate or authentic rate is far from their
 * peers' (robust z-score), with the minimum reach and the threshold.
 */
void muse_query_outliers(muse_query *q);
void muse_query_min_reach(muse_query *q, uint64_t n);
int muse_query_threshold(muse_query *q, const char *z, struct muse_err *e);
/* The rows --outliers flagged in the last answer written. */
size_t muse_query_flagged(const muse_query *q);

/*
 * The assets table to join (not owned; it must outlive the query), for
 * --asset-type (a LIST like --asset's) and --by asset_type.
 */
struct muse_assets;
void muse_query_assets(muse_query *q, const struct muse_assets *a);
int muse_query_asset_type(muse_query *q, const char *list, struct muse_err *e);

/*
 * Sketch export (--sketch, --sketch-dir): each output row also carries
 * the union of its reach sketches as an image of another system, at the
 * store's lgK.  The kinds, by option value:
 */
enum muse_sketch_kind {
	MUSE_SKETCH_NONE,
	MUSE_SKETCH_HLL4,     /* "hll4": DataSketches HLL_4 compact image */
	MUSE_SKETCH_HLL6,     /* "hll6": HLL_6 */
	MUSE_SKETCH_HLL8,     /* "hll8": HLL_8 */
	MUSE_SKETCH_PG,       /* "pg": a PostgreSQL hll value (lib/pghll.h) */
};
/*
 * Sets the kind from its option value; MUSE_EUSAGE naming the values on
 * an unknown one.  The answer then has a column "sketch" of base64 text
 * (for pg, the \x-hex text form that COPY reads), or with a directory
 * (muse_query_sketch_dir) a column "sketch_file" naming the raw image file
 * written there for the row ("DIR/1.bin", ...).
 */
int muse_query_sketch(muse_query *q, const char *kind, struct muse_err *e);
void muse_query_sketch_dir(muse_query *q, const char *dir);

struct muse_store;
/* Reads every stream of a store file into the query's groups. */
int muse_query_add_store(muse_query *q, const char *path, struct muse_err *e);
/* Reads the blocks of an open, indexed store that the filters can need. */
int muse_query_add_mapped(muse_query *q, struct muse_store *st,
	struct muse_err *e);
/*
 * Roll-ups (muse-merge --rollup) that muse_query_add_mapped may answer
 * from: not owned, kept open by the caller.  A roll-up is used only for
 * a store whose content checksum is the one its header names, for the
 * whole weeks or months inside the query's dates, and only when the
 * query's groups allow (none by date; by week only from weeks, by month
 * only from months); the other days come from the day store.  The answer
 * is the same to the byte, read from fewer blocks.
 */
#define MUSE_QUERY_MAX_ROLLUPS 4
void muse_query_rollup(muse_query *q, struct muse_store *r);
/*
 * The same for a roll-up file: only its header is read now (MUSE_EUSAGE
 * when it is no roll-up); it is mapped when a query first chooses it, and
 * freed with the query.
 */
int muse_query_rollup_file(muse_query *q, const char *path,
	struct muse_err *e);
/*
 * After muse_query_add_mapped: the times a roll-up answered, the roll-up
 * blocks read, and how many of the roll-ups given were made from another
 * version of the store (so unused) at the last store.
 */
void muse_query_rollup_stats(const muse_query *q, uint64_t *used,
	uint64_t *blocks, uint64_t *stale);
/* The version and content checksum a JSON line answer names. */
void muse_query_set_version(muse_query *q, uint64_t version, uint64_t content);
/*
 * Writes the answer.  Warnings that are not errors (a filter value that
 * matches nothing, counters that cannot be added over several segments)
 * are returned through warn (one line each) for the caller to print.
 */
int muse_query_write(muse_query *q, FILE *out,
	void (*warn)(void *ctx, const char *msg), void *ctx, struct muse_err *e);

const char *muse_metric_name(int m);
/*
 * How much was read: blocks of indexed stores read and held (the others
 * were pruned by their key ranges), and stores read whole as streams.
 */
void muse_query_stats(const muse_query *q, uint64_t *read, uint64_t *total,
	uint64_t *scanned);

#endif
