/*
 * ts.c - timestamps, calendar arithmetic and identifier checks for text
 * input (SPEC section 3).
 *
 * Design.  Everything here is a pure function of its arguments: no locale,
 * no time zone database, no libc time functions (timegm is not in C11 and
 * mktime depends on TZ).  Time is seconds since the Unix epoch; a day is
 * the floor of that divided by 86400.
 *
 * Calendar.  Dates convert to and from day numbers with the era-based
 * method of Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms"
 * (2013): the year is shifted to start on 1 March, so that the leap day
 * is the last day of the shifted year and month lengths follow the
 * pattern 31-30-31-30-31 that (153 * m + 2) / 5 reproduces; 400-year eras
 * of 146097 days make the arithmetic exact for every year, negative ones
 * included.  No tables, no loops.
 *
 * Timestamps.  The accepted forms are exactly those of SPEC 3; anything
 * else is refused rather than guessed, because a wrong guess (a local time
 * taken for UTC, a millisecond count taken for seconds) would move events
 * to another day without any error:
 *
 *   YYYY-MM-DDTHH:MM:SS[.f...](Z|+HH:MM|-HH:MM)   zone required
 *   YYYY-MM-DD HH:MM:SS                            UTC, nothing after
 *   DDDDDDDDDDDDD                                  exactly 13 digits: ms
 *   D... (1 to 12 digits)                          seconds
 *
 * Timestamps have one-second resolution, so a fraction is dropped, which
 * truncates toward the past (all accepted times are after 1970, so
 * truncation and floor agree; milliseconds are divided likewise).  Second
 * 60 (a leap second) is refused: epoch time has no name for it, and
 * mapping it onto the next second would move an event at 23:59:60 into the
 * next day.  Both the written date and the resulting UTC instant must lie
 * in the years 1970 to 9999, so that day numbers are never negative and
 * dates always print as four-digit years.
 *
 * Identifiers are checked against RFC 3629: no overlong forms, no UTF-16
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF; and no control
 * characters (C0, DEL, C1), which would corrupt terminal and TSV output.
 */
#include <stdio.h>
#include <string.h>

#include "ts.h"

/* 9999-12-31T23:59:59Z, the last accepted instant. */
#define TS_MAX INT64_C(253402300799)

/* ------------------------------------------------------------------ */
/* Calendar                                                             */
/* ------------------------------------------------------------------ */

int64_t muse_days_from_civil(int y, unsigned m, unsigned d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	unsigned yoe = (unsigned)(yy - era * 400);              /* 0..399 */
	unsigned mp = m > 2 ? m - 3 : m + 9;                    /* March = 0 */
	unsigned doy = (153 * mp + 2) / 5 + d - 1;              /* 0..365 */
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;   /* 0..146096 */

	/* 719468 days separate 0000-03-01 from 1970-01-01. */
	return era * 146097 + (int64_t)doe - 719468;
}

void muse_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t zz = z + 719468;
	int64_t era = (zz >= 0 ? zz : zz - 146096) / 146097;
	unsigned doe = (unsigned)(zz - era * 146097);
	/* Leap days are every 1460 days, less every 36524, plus every 146096. */
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int is_leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static unsigned month_days(int y, unsigned m)
{
	static const unsigned char len[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* Monday is 0; 1970-01-01 was a Thursday (3). */
static unsigned weekday(int64_t day)
{
	int64_t w = (day + 3) % 7;

	return (unsigned)(w < 0 ? w + 7 : w);
}

int64_t muse_week_start(int64_t day)
{
	return day - weekday(day);
}

void muse_iso_week(int64_t day, int *year, unsigned *week)
{
	/* A week belongs to the ISO year that holds its Thursday. */
	int64_t thursday = muse_week_start(day) + 3;
	unsigned m, d;

	muse_civil_from_days(thursday, year, &m, &d);
	*week = (unsigned)((thursday - muse_days_from_civil(*year, 1, 1)) / 7
	    + 1);
}

int64_t muse_month_start(int64_t day)
{
	int y;
	unsigned m, d;

	muse_civil_from_days(day, &y, &m, &d);
	return day - (d - 1);
}

int64_t muse_quarter_start(int64_t day)
{
	int y;
	unsigned m, d;

	muse_civil_from_days(day, &y, &m, &d);
	return muse_days_from_civil(y, m - (m - 1) % 3, 1);
}

char *muse_day_format(int64_t day, char *buf)
{
	int y;
	unsigned m, d;

	muse_civil_from_days(day, &y, &m, &d);
	if (y >= 0 && y <= 9999) {
		buf[0] = (char)('0' + y / 1000);
		buf[1] = (char)('0' + y / 100 % 10);
		buf[2] = (char)('0' + y / 10 % 10);
		buf[3] = (char)('0' + y % 10);
		buf[4] = '-';
		buf[5] = (char)('0' + m / 10);
		buf[6] = (char)('0' + m % 10);
		buf[7] = '-';
		buf[8] = (char)('0' + d / 10);
		buf[9] = (char)('0' + d % 10);
		buf[10] = 0;
	} else {
		/* Outside four-digit years the text may not fit: cut it short. */
		snprintf(buf, 11, "%d-%02u-%02u", y, m, d);
	}
	return buf;
}

/* ------------------------------------------------------------------ */
/* Timestamps                                                           */
/* ------------------------------------------------------------------ */

/* Reads exactly k digits at s; -1 if any is not a digit. */
static int digits(const char *s, int k)
{
	int v = 0;

	for (int i = 0; i < k; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "YYYY-MM-DD" at s (10 bytes), validated; 0 or -1. */
static int parse_date(const char *s, int ymin, int64_t *day)
{
	int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);

	if (y < ymin || m < 1 || d < 1 || s[4] != '-' || s[7] != '-')
		return -1;
	if (m > 12 || (unsigned)d > month_days(y, (unsigned)m))
		return -1;
	*day = muse_days_from_civil(y, (unsigned)m, (unsigned)d);
	return 0;
}

int muse_day_parse(const char *s, size_t n, int64_t *day)
{
	/* Any four-digit year: query ranges may reach before 1970. */
	if (n != 10)
		return -1;
	return parse_date(s, 0, day);
}

/* "HH:MM:SS" at s (8 bytes), second 60 refused; seconds of day or -1. */
static int parse_time(const char *s)
{
	/* As unsigned differences, any byte but a digit is above 9. */
	unsigned d[6] = {
		(unsigned char)s[0] - '0', (unsigned char)s[1] - '0',
		(unsigned char)s[3] - '0', (unsigned char)s[4] - '0',
		(unsigned char)s[6] - '0', (unsigned char)s[7] - '0'
	};
	int h, m, sec;

	if ((d[0] > 9) | (d[1] > 9) | (d[2] > 9) | (d[3] > 9) | (d[4] > 9) |
	    (d[5] > 9) | (s[2] != ':') | (s[5] != ':'))
		return -1;
	h = (int)(d[0] * 10 + d[1]);
	m = (int)(d[2] * 10 + d[3]);
	sec = (int)(d[4] * 10 + d[5]);
	if (h > 23 || m > 59 || sec > 59)
		return -1;
	return h * 3600 + m * 60 + sec;
}

static int parse_epoch(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;

	if (n == 0 || n > 13)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (n == 13)
		v /= 1000;
	if (v > TS_MAX)
		return -1;
	*out = v;
	return 0;
}

void muse_ts_cache_init(struct muse_ts_cache *c)
{
	memset(c->date, 0, sizeof(c->date));
	c->day = -1;
}

/* The date of a timestamp (at least 19 bytes), from c when it has it. */
static int ts_date(const char *s, struct muse_ts_cache *c, int64_t *day)
{
	if (c == NULL)
		return parse_date(s, 1970, day);
	if (c->day >= 0 && memcmp(s, c->date, 10) == 0) {
		*day = c->day;
		return 0;
	}
	if (parse_date(s, 1970, day) < 0)
		return -1;
	memcpy(c->date, s, 10);
	c->day = *day;
	return 0;
}

static int ts_parse(const char *s, size_t n, struct muse_ts_cache *c,
	int64_t *out)
{
	int64_t day, t;
	int tod, off = 0;
	size_t i;

	if (n > 0 && s[0] >= '0' && s[0] <= '9' && (n < 5 || s[4] != '-'))
		return parse_epoch(s, n, out);
	if (n < 19 || ts_date(s, c, &day) < 0 ||
	    (s[10] != 'T' && s[10] != ' ') || (tod = parse_time(s + 11)) < 0)
		return -1;
	i = 19;
	if (s[10] == ' ') {
		if (n != 19)
			return -1;
	} else {
		if (i < n && s[i] == '.') {
			size_t f = ++i;

			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
			if (i == f)
				return -1;
		}
		if (i == n)
			return -1;    /* a local time: no zone to read it in */
		if (s[i] == 'Z') {
			if (i + 1 != n)
				return -1;
		} else if (s[i] == '+' || s[i] == '-') {
			int oh, om;

			if (n - i != 6 || s[i + 3] != ':')
				return -1;
			oh = digits(s + i + 1, 2);
			om = digits(s + i + 4, 2);
			if (oh < 0 || om < 0 || oh > 23 || om > 59)
				return -1;
			off = (oh * 60 + om) * 60;
			if (s[i] == '-')
				off = -off;
		} else {
			return -1;
		}
	}
	/* Local time minus its offset is UTC: +02:00 is two hours ahead. */
	t = day * 86400 + tod - off;
	if (t < 0 || t > TS_MAX)
		return -1;
	*out = t;
	return 0;
}

int muse_ts_parse(const char *s, size_t n, int64_t *out)
{
	return ts_parse(s, n, NULL, out);
}

int muse_ts_parse_cached(const char *s, size_t n, struct muse_ts_cache *c,
	int64_t *out)
{
	return ts_parse(s, n, c, out);
}

/* ------------------------------------------------------------------ */
/* Identifiers and durations                                            */
/* ------------------------------------------------------------------ */

/*
 * Whether all eight bytes of x are printable ASCII (0x20..0x7E): no high
 * bit, no byte below 0x20, no DEL.  Each test is the exact "some byte is
 * less than k" word trick (k <= 0x80), so nothing is ever let through.
 */
static inline int printable8(uint64_t x)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t high = UINT64_C(0x8080808080808080);
	uint64_t del = x ^ (ones * 0x7F);

	return ((x | ((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) &
	    high) == 0;
}

const char *muse_ident_check(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	uint64_t x;

	if (n == 0)
		return "empty";
	if (n > 255)
		return "longer than 255 bytes";
	/*
	 * Most identifiers are plain ASCII: take them eight bytes at a time
	 * (the tail padded with 'A'), and leave the byte loop below the first
	 * word that holds anything else, so that it finds the same fault.
	 */
	while (end - p >= 8) {
		memcpy(&x, p, 8);
		if (!printable8(x))
			break;
		p += 8;
	}
	if (end - p < 8) {
		size_t r = (size_t)(end - p);

		/*
		 * The tail in whole loads (a byte-wise copy would stall the
		 * word load behind it): the last eight bytes when the field
		 * has them, else two overlapping loads padded with 'A'.
		 */
		if (n >= 8) {
			memcpy(&x, end - 8, 8);
		} else if (r >= 4) {
			uint32_t a, b;

			memcpy(&a, p, 4);
			memcpy(&b, end - 4, 4);
			x = a | (uint64_t)b << 32;
		} else if (r >= 2) {
			uint16_t a, b;

			memcpy(&a, p, 2);
			memcpy(&b, end - 2, 2);
			x = UINT64_C(0x4141414100000000) | a | (uint64_t)b << 16;
		} else {
			x = UINT64_C(0x4141414141414100) | p[0];
		}
		if (printable8(x))
			return NULL;
	}
	while (p < end) {
		unsigned c = *p, cp, k, min;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7F)
				return "control character";
			p++;
			continue;
		}
		/* Lead byte: the sequence length and the smallest code point
		 * that needs it (anything smaller is an overlong form). */
		if (c >= 0xC2 && c <= 0xDF) {
			k = 1, cp = c & 0x1F, min = 0x80;
		} else if (c >= 0xE0 && c <= 0xEF) {
			k = 2, cp = c & 0x0F, min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return "invalid UTF-8";   /* continuation, C0, C1, F5.. */
		}
		if ((size_t)(end - p) <= k)
			return "invalid UTF-8";
		for (unsigned j = 1; j <= k; j++) {
			if ((p[j] & 0xC0) != 0x80)
				return "invalid UTF-8";
			cp = cp << 6 | (p[j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return "invalid UTF-8";
		if (cp <= 0x9F)
			return "control character";   /* C1: U+0080..U+009F */
		p += k + 1;
	}
	return NULL;
}

int muse_duration_parse(const char *s, size_t n, uint64_t *ms)
{
	uint64_t secs = 0, frac = 0;
	size_t i = 0, f;
	unsigned k;

	while (i < n && s[i] >= '0' && s[i] <= '9') {
		secs = secs * 10 + (uint64_t)(s[i] - '0');
		if (secs > UINT64_C(1000000000000))
			return -1;
		i++;
	}
	/* "12", "12.5", ".5" and "12." are numbers; "." and "" are not. */
	if (i == 0 && (n < 2 || s[0] != '.'))
		return -1;
	if (i < n) {
		if (s[i] != '.')
			return -1;
		f = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i != n || (f == 1 && i == f))
			return -1;
		/* Milliseconds from three decimals, half up from the fourth. */
		for (k = 0; k < 3; k++)
			frac = frac * 10 +
			    (f + k < n ? (uint64_t)(s[f + k] - '0') : 0);
		if (f + 3 < n && s[f + 3] >= '5')
			frac++;
		if (secs == UINT64_C(1000000000000)) {
			/* Only an all-zero fraction keeps it within the limit. */
			for (size_t j = f; j < n; j++)
				if (s[j] != '0')
					return -1;
		}
	}
	*ms = secs * 1000 + frac;
	return 0;
}
