/*
 * opts.h - parsing of the option values that several programs share:
 * dimension lists, date ranges, durations.  Each returns 0, or -1 with a
 * message in e (lower-case, the value quoted).
 */
#ifndef MUSE_OPTS_H
#define MUSE_OPTS_H

#include <stdint.h>

#include "err.h"

/* "title,asset,date" into a mask of enum muse_dim. */
int muse_parse_dims(const char *s, uint8_t *mask, struct muse_err *e);
/*
 * A date range: YYYY-MM-DD, FROM..TO (inclusive), FROM.., ..TO, YYYY-MM,
 * YYYY-Qn; FROM and TO are themselves days, months or quarters.  Open
 * ends become INT64_MIN / INT64_MAX.
 */
int muse_parse_date_range(const char *s, int64_t *from, int64_t *to,
	struct muse_err *e);
/* A duration: seconds, or a number with suffix s, m, h or d. */
int muse_parse_duration(const char *s, uint32_t *seconds, struct muse_err *e);
/* Seconds with up to three decimals, into milliseconds. */
int muse_parse_seconds_ms(const char *s, uint32_t *ms, struct muse_err *e);

#endif
