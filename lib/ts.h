/*
 * ts.h - timestamps, calendar dates and identifier checks for text input.
 *
 * Time is integer seconds since 1970-01-01T00:00:00Z; days are days since
 * that date (UTC).  The proleptic Gregorian calendar is used throughout.
 */
#ifndef MUSE_TS_H
#define MUSE_TS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses any accepted form (SPEC 3): ISO 8601 with T, optional fraction and
 * Z or an offset; "YYYY-MM-DD HH:MM:SS" (UTC); epoch seconds; 13-digit epoch
 * milliseconds.  Fractions are truncated toward the past.  Returns 0, or -1
 * for anything else (including out-of-range fields such as month 13).
 * Accepted range: years 1970..9999.
 */
int muse_ts_parse(const char *s, size_t n, int64_t *out);
/*
 * The same, remembering the last date it read in c (zeroed before the
 * first call): rows of one day share it, and its check and day number are
 * then taken from c.  Same results as muse_ts_parse for every input.
 */
struct muse_ts_cache {
	char date[10];        /* "YYYY-MM-DD", valid when day >= 0 */
	int64_t day;          /* -1: nothing remembered */
};
void muse_ts_cache_init(struct muse_ts_cache *c);
int muse_ts_parse_cached(const char *s, size_t n, struct muse_ts_cache *c,
	int64_t *out);

int64_t muse_days_from_civil(int y, unsigned m, unsigned d);
void muse_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);
static inline int64_t muse_ts_day(int64_t ts)
{
	return ts >= 0 ? ts / 86400 : -((-ts + 86399) / 86400);
}
/* "YYYY-MM-DD" into buf (at least 11 bytes). */
char *muse_day_format(int64_t day, char *buf);
/* Parses exactly "YYYY-MM-DD"; 0 or -1. */
int muse_day_parse(const char *s, size_t n, int64_t *day);
/* ISO 8601 week: year and week number of a day; Monday of that week. */
void muse_iso_week(int64_t day, int *year, unsigned *week);
int64_t muse_week_start(int64_t day);
int64_t muse_month_start(int64_t day);
/* The first day of the calendar quarter of day. */
int64_t muse_quarter_start(int64_t day);

/*
 * Checks an identifier (SPEC 3): 1 to 255 bytes of valid UTF-8 with no
 * control characters (C0, DEL, C1).  Returns NULL when valid, else a short
 * reason ("empty", "longer than 255 bytes", "invalid UTF-8", "control
 * character").
 */
const char *muse_ident_check(const char *s, size_t n);

/*
 * Parses a non-negative decimal number of seconds ("12", "12.5", "0.001")
 * into milliseconds, rounding to nearest; -1 for anything else (sign,
 * exponent, empty, more than 10^12 seconds).
 */
int muse_duration_parse(const char *s, size_t n, uint64_t *ms);

#endif
