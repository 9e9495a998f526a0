/*
 * fuzz_ts.c - the text parsers of lib/ts.h: timestamps, days, durations
 * and the identifier check, each on the whole input (copied to a buffer
 * of exactly its size, with no NUL after it, as CSV fields are not).
 *
 * Checks: a parsed timestamp lies in 1970..9999 and prints back (as ISO
 * 8601 with Z, and as epoch seconds) to text that parses to the same
 * instant, and its day prints as a date that parses to the same day; a
 * parsed day prints as exactly the input; calendar helpers agree (civil
 * date round trip, Monday week start, first of the month, ISO week 1-53);
 * a parsed duration prints back to the same milliseconds; the identifier
 * check agrees with a plain, independent reading of RFC 3629.
 */
#include "fuzz.h"

#include "ts.h"

#define TS_MAX INT64_C(253402300799)

static void check_day(int64_t day)
{
	char buf[11];
	int64_t back;
	int y, iy;
	unsigned m, d, w;

	muse_day_format(day, buf);
	FZ_CHECK(muse_day_parse(buf, strlen(buf), &back) == 0 && back == day);
	muse_civil_from_days(day, &y, &m, &d);
	FZ_CHECK(m >= 1 && m <= 12 && d >= 1 && d <= 31);
	FZ_CHECK(muse_days_from_civil(y, m, d) == day);
	/* 1970-01-05 (day 4) was a Monday. */
	back = muse_week_start(day);
	FZ_CHECK(back <= day && day - back < 7 && ((back - 4) % 7 + 7) % 7 == 0);
	back = muse_month_start(day);
	FZ_CHECK(back <= day && day - back == (int64_t)d - 1);
	muse_iso_week(day, &iy, &w);
	FZ_CHECK(w >= 1 && w <= 53 && iy >= y - 1 && iy <= y + 1);
}

/* RFC 3629 UTF-8, no C0, DEL or C1, 1 to 255 bytes: 1 if valid. */
static int ident_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || n > 255)
		return 0;
	while (i < n) {
		uint32_t cp;
		size_t len;

		if (s[i] < 0x80)
			len = 1, cp = s[i];
		else if ((s[i] & 0xE0) == 0xC0)
			len = 2, cp = s[i] & 0x1F;
		else if ((s[i] & 0xF0) == 0xE0)
			len = 3, cp = s[i] & 0x0F;
		else if ((s[i] & 0xF8) == 0xF0)
			len = 4, cp = s[i] & 0x07;
		else
			return 0;
		if (n - i < len)
			return 0;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		/* Overlong forms: the shortest encoding only. */
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000))
			return 0;
		if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
			return 0;
		i += len;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1), buf[64];
	int64_t ts, day, back;
	uint64_t ms, ms2;
	int k;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);

	if (muse_ts_parse(s, size, &ts) == 0) {
		int y;
		unsigned m, d;
		int64_t sec;

		FZ_CHECK(ts >= 0 && ts <= TS_MAX);
		day = muse_ts_day(ts);
		check_day(day);
		muse_civil_from_days(day, &y, &m, &d);
		sec = ts - day * 86400;
		k = snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02dZ",
		    y, m, d, (int)(sec / 3600), (int)(sec / 60 % 60),
		    (int)(sec % 60));
		FZ_CHECK(muse_ts_parse(buf, (size_t)k, &back) == 0 && back == ts);
		k = snprintf(buf, sizeof(buf), "%lld", (long long)ts);
		FZ_CHECK(muse_ts_parse(buf, (size_t)k, &back) == 0 && back == ts);
	}

	if (muse_day_parse(s, size, &day) == 0) {
		check_day(day);
		muse_day_format(day, buf);
		FZ_CHECK(size == 10 && memcmp(buf, s, 10) == 0);
	}

	if (muse_duration_parse(s, size, &ms) == 0) {
		k = snprintf(buf, sizeof(buf), "%llu.%03u",
		    (unsigned long long)(ms / 1000), (unsigned)(ms % 1000));
		FZ_CHECK(muse_duration_parse(buf, (size_t)k, &ms2) == 0 &&
		    ms2 == ms);
	}

	FZ_CHECK((muse_ident_check(s, size) == NULL) ==
	    ident_ok((const uint8_t *)s, size));
	free(s);
	return 0;
}
