/*
 * ingest.h - turning rows of a CSV/TSV table into events (SPEC 3).
 *
 * The header row names the columns (case-insensitive, any order, extra
 * columns ignored); the table is given or inferred from which columns are
 * present.  Every field is validated; a bad row is an error naming the
 * input, the line and the column, and the reader goes on with the next row
 * when called again, so a caller may skip a bounded number of bad rows.
 */
#ifndef MUSE_INGEST_H
#define MUSE_INGEST_H

#include "csv.h"
#include "event.h"

typedef struct muse_ingest muse_ingest;

/*
 * Reads the header row of csv (taking ownership of csv).  table 0 infers
 * it from the columns.  NULL on error (empty input, missing column,
 * ambiguous table) with e filled.
 */
muse_ingest *muse_ingest_new(muse_csv *csv, int table, uint64_t seed,
	struct muse_err *e);
void muse_ingest_free(muse_ingest *g);
/*
 * Hashes user ids with hash (MUSE_HASH_XXH3, the default, or
 * MUSE_HASH_DATASKETCHES) and seed from now on.
 */
void muse_ingest_set_hash(muse_ingest *g, uint8_t hash, uint64_t seed);
int muse_ingest_table(const muse_ingest *g);
/*
 * Next event: 1 with *ev filled (strings valid until the next call), 0 at
 * end of input, MUSE_EINPUT for a bad row (e names line and column; the
 * next call continues after it), or another error (I/O, a CSV syntax error
 * that ends reading).
 */
int muse_ingest_next(muse_ingest *g, struct muse_event *ev,
	struct muse_err *e);
/* The CSV record the last event or error came from (for --rejects). */
const struct muse_csv_row *muse_ingest_row(const muse_ingest *g);
/*
 * After a row refused for its CSV syntax: its text as it was; NULL when
 * the last error was about a field (then muse_ingest_row has the row).
 */
const char *muse_ingest_raw(const muse_ingest *g, size_t *n);
/* The header row's fields, for writing a rejects file. */
const struct muse_csv_row *muse_ingest_header(const muse_ingest *g);

#endif
