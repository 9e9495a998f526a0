/*
 * opts.c - shared option values.  Strict: anything not exactly in the
 * documented form is refused rather than half understood.
 */
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "stream.h"
#include "suggest.h"
#include "ts.h"

int muse_parse_dims(const char *s, uint8_t *mask, struct muse_err *e)
{
	const char *p = s;

	*mask = 0;
	if (strcmp(s, "none") == 0 || *s == '\0')
		return 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		int d = muse_dim_parse(p, n);

		if (d < 0) {
			static const char *const names[] = { "title", "asset",
				"date", "segment", "country", "none" };

			muse_err_unknown(e, "dimension", p, n, names,
			    sizeof(names) / sizeof(names[0]));
			return -1;
		}
		*mask |= (uint8_t)(1u << d);
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

/* One end of a range: a day, a month or a quarter, as [first, last]. */
static int parse_period(const char *s, size_t n, int64_t *first,
	int64_t *last)
{
	char buf[16];
	int y, m;
	char c;

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (n == 10) {
		if (muse_day_parse(s, n, first))
			return -1;
		*last = *first;
		return 0;
	}
	if (n == 7 && buf[4] == '-' && sscanf(buf, "%4d-%2d%c", &y, &m, &c) == 2 &&
	    y >= 1970 && y <= 9999 && m >= 1 && m <= 12 &&
	    buf[5] >= '0' && buf[6] >= '0') {
		*first = muse_days_from_civil(y, (unsigned)m, 1);
		*last = (m == 12 ? muse_days_from_civil(y + 1, 1, 1) :
		    muse_days_from_civil(y, (unsigned)m + 1, 1)) - 1;
		return 0;
	}
	if (n == 7 && buf[4] == '-' && buf[5] == 'Q' && buf[6] >= '1' &&
	    buf[6] <= '4' && sscanf(buf, "%4d", &y) == 1 && y >= 1970 &&
	    y <= 9999) {
		int q = buf[6] - '0';

		*first = muse_days_from_civil(y, (unsigned)(3 * q - 2), 1);
		*last = (q == 4 ? muse_days_from_civil(y + 1, 1, 1) :
		    muse_days_from_civil(y, (unsigned)(3 * q + 1), 1)) - 1;
		return 0;
	}
	return -1;
}

int muse_parse_date_range(const char *s, int64_t *from, int64_t *to,
	struct muse_err *e)
{
	const char *dots = strstr(s, "..");
	int64_t a, b;

	if (dots == NULL) {
		if (parse_period(s, strlen(s), from, to) == 0)
			return 0;
		goto bad;
	}
	*from = INT64_MIN;
	*to = INT64_MAX;
	if (dots > s && parse_period(s, (size_t)(dots - s), from, &b))
		goto bad;
	if (dots[2] != '\0' && parse_period(dots + 2, strlen(dots + 2), &a, to))
		goto bad;
	if (dots == s && dots[2] == '\0')
		goto bad;
	if (*from > *to) {
		muse_err_set(e, MUSE_EUSAGE, "empty date range \"%s\"", s);
		return -1;
	}
	return 0;
bad:
	muse_err_set(e, MUSE_EUSAGE,
	    "bad date range \"%s\" (YYYY-MM-DD, FROM..TO, FROM.., ..TO, "
	    "YYYY-MM, YYYY-Qn)", s);
	return -1;
}

int muse_parse_duration(const char *s, uint32_t *seconds, struct muse_err *e)
{
	char *end;
	unsigned long long v;
	unsigned long long mult = 1;

	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mult = 60, end++;
	else if (*end == 'h')
		mult = 3600, end++;
	else if (*end == 'd')
		mult = 86400, end++;
	if (*end != '\0' || v > UINT32_MAX / mult)
		goto bad;
	*seconds = (uint32_t)(v * mult);
	return 0;
bad:
	muse_err_set(e, MUSE_EUSAGE,
	    "bad duration \"%s\" (seconds, or a number with s, m, h or d)", s);
	return -1;
}

int muse_parse_seconds_ms(const char *s, uint32_t *ms, struct muse_err *e)
{
	uint64_t v;

	if (muse_duration_parse(s, strlen(s), &v) || v > UINT32_MAX) {
		muse_err_set(e, MUSE_EUSAGE, "bad number of seconds \"%s\"", s);
		return -1;
	}
	*ms = (uint32_t)v;
	return 0;
}
