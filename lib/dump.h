/*
 * dump.h - streams as text: every record of an event or sketch stream as a
 * TSV row or a JSON line, and a checking pass that verifies a stream end to
 * end (checksums, counts, trailer, key order of sorted sketch streams).
 */
#ifndef MUSE_DUMP_H
#define MUSE_DUMP_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "stream.h"

enum { MUSE_DUMP_TSV, MUSE_DUMP_JSON, MUSE_DUMP_NONE };

/*
 * Reads the current stream of r to its trailer, writing it to out in the
 * given form (MUSE_DUMP_NONE only checks).  *records gets the count.
 */
int muse_dump_stream(muse_reader *r, const struct muse_header *h, int form,
	FILE *out, uint64_t *records, struct muse_err *e);

/* One line describing a header ("sketch title,asset,date,segment lgk=14 ..."). */
void muse_dump_header(const struct muse_header *h, char *buf, size_t n);

#endif
