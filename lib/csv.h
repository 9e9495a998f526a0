/*
 * csv.h - streaming RFC 4180 CSV and TSV reader (see lib/csv.c).
 *
 * Quoted fields may hold the separator, doubled quotes and newlines.  A
 * leading UTF-8 byte-order mark is skipped; CRLF and LF both end a record.
 * The separator is ',' or '\t'; with sep 0 it is guessed from the first
 * line (a tab before any comma means TSV).  TSV fields are taken literally
 * (no quoting), as in the IANA text/tab-separated-values type.  Completely
 * empty lines are skipped; the last record needs no newline.
 */
#ifndef MUSE_CSV_H
#define MUSE_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "zio.h"

typedef struct muse_csv muse_csv;

struct muse_csv_row {
	size_t nfields;
	char **field;      /* NUL-terminated; valid until the next call */
	size_t *len;       /* byte lengths (fields may not hold NUL: refused) */
	uint64_t line;     /* line number where the record starts (1-based) */
	uint64_t lines;    /* physical lines the record spans */
};

/*
 * Takes ownership of in (freed on failure too).  sep: ',' '\t' or 0
 * (guess).  Reads the first block at once, for the byte-order mark and the
 * guess; NULL on error, e filled.
 */
muse_csv *muse_csv_new(muse_input *in, int sep, struct muse_err *e);
/*
 * The same with the initial read-buffer size chosen (at least 1 byte; the
 * buffer still grows to hold the longest record).  Tests use tiny buffers
 * to put fields across buffer boundaries.
 */
muse_csv *muse_csv_new_bufsize(muse_input *in, int sep, size_t bufsize,
	struct muse_err *e);
void muse_csv_free(muse_csv *c);
int muse_csv_sep(const muse_csv *c);
/*
 * Reads the next record: 1 when one was read, 0 at end of input, or a
 * negative code (unterminated quote, stray quote, NUL byte, a record over
 * the field or byte limits) with e naming the input and the line where the
 * record starts.  After MUSE_EINPUT the reader may be called again: it
 * resumes after the line on which the fault was found.
 */
int muse_csv_next(muse_csv *c, struct muse_csv_row *row, struct muse_err *e);
muse_input *muse_csv_input(muse_csv *c);
/*
 * After muse_csv_next refused a record for its syntax: the record's text as
 * it was in the input, up to the end of the line where the fault was found
 * (without the line end), for keeping in a rejects file.
 */
const char *muse_csv_raw(const muse_csv *c, size_t *n);

/* Limits that keep hostile input from taking unbounded memory. */
#define MUSE_CSV_MAX_FIELDS 4096
#define MUSE_CSV_MAX_RECORD (16u << 20)

#endif
