/*
 * qline.h - one query as a line of text, as muse-query --serve reads them:
 * the options of the muse-query command line, split like a shell would
 * split them (single and double quotes, backslash escapes).
 */
#ifndef MUSE_QLINE_H
#define MUSE_QLINE_H

#include "err.h"
#include "query.h"

/* The longest line accepted, and the most words in it. */
#define MUSE_QLINE_MAX 65536
#define MUSE_QLINE_WORDS 256

/*
 * Applies the options of line (n bytes, no NUL needed) to q: -a/--asset,
 * -t/--title, -s/--segment, -c/--country, -d/--date, -b/--by, -m/--metrics,
 * --ci, --sort, --top, --asset-type, --compare, --min-reach, --threshold,
 * --width and -o/--format (json, bars or svg), each as "--opt VALUE",
 * "--opt=VALUE" or "-aVALUE"; and --outliers and --alert (the same in a
 * query line: the answer says how many rows were flagged).
 * 0, or MUSE_EUSAGE with e saying what was wrong.
 */
int muse_qline_apply(muse_query *q, const char *line, size_t n,
	struct muse_err *e);

#endif
