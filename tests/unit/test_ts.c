/*
 * test_ts.c - timestamps, calendar helpers, identifiers and durations
 * (lib/ts.c).  Prints one TAP-like line per check and a summary line;
 * exits 1 when any check failed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ts.h"

#include "check.h"

/* Seconds of a UTC date and time, from the calendar code under test. */
static int64_t utc(int y, unsigned mo, unsigned d, int h, int mi, int s)
{
	return muse_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static void ts_ok(const char *s, int64_t want)
{
	int64_t got = -42;
	int r = muse_ts_parse(s, strlen(s), &got);

	check(r == 0 && got == want, "ts \"%s\" = %lld (got %d, %lld)", s,
	    (long long)want, r, (long long)got);
}

static void ts_bad(const char *s)
{
	int64_t got = -42;
	int r = muse_ts_parse(s, strlen(s), &got);

	check(r == -1 && got == -42, "ts \"%s\" refused", s);
}

static void test_ts(void)
{
	int64_t jul1 = utc(2025, 7, 1, 0, 0, 0);

	check(jul1 == 1751328000, "2025-07-01 is epoch 1751328000");
	ts_ok("2025-07-01T00:00:00Z", jul1);
	ts_ok("1970-01-01T00:00:00Z", 0);
	ts_ok("2025-07-01T12:34:56Z", jul1 + 12 * 3600 + 34 * 60 + 56);
	ts_ok("2025-07-01 12:34:56", jul1 + 12 * 3600 + 34 * 60 + 56);
	/* Fractions are dropped, never rounded up. */
	ts_ok("2025-07-01T00:00:00.999Z", jul1);
	ts_ok("2025-07-01T00:00:00.5Z", jul1);
	ts_ok("2025-07-01T23:59:59.999999999Z", jul1 + 86399);
	ts_ok("2025-07-01T00:00:00.000+00:00", jul1);
	ts_ok("2025-07-01T00:00:00-00:00", jul1);
	/* Offsets: local minus offset is UTC, across days and years. */
	ts_ok("2025-07-01T02:00:00+02:00", jul1);
	ts_ok("2025-07-01T01:00:00+02:00", jul1 - 3600);
	ts_ok("2025-06-30T22:30:00-05:00", jul1 + 3 * 3600 + 1800);
	ts_ok("2025-06-30T23:59:59.999-00:30", jul1 + 1799);
	ts_ok("2025-01-01T00:30:00+01:00", utc(2024, 12, 31, 23, 30, 0));
	ts_ok("2024-12-31T23:00:00-01:00", utc(2025, 1, 1, 0, 0, 0));
	ts_ok("2024-02-29T23:59:59-23:59", utc(2024, 3, 1, 23, 58, 59));
	ts_ok("2024-03-01T00:00:00+23:59", utc(2024, 2, 29, 0, 1, 0));
	ts_ok("2024-02-29T00:00:00Z", utc(2024, 2, 29, 0, 0, 0));
	ts_ok("2000-02-29T00:00:00Z", utc(2000, 2, 29, 0, 0, 0));
	ts_ok("9999-12-31T23:59:59Z", INT64_C(253402300799));
	ts_ok("9999-12-31T23:59:59+01:00", INT64_C(253402300799) - 3600);
	/* Epoch seconds (up to 12 digits) and 13-digit milliseconds. */
	ts_ok("1751328000", jul1);
	ts_ok("0", 0);
	ts_ok("2025", 2025);
	ts_ok("253402300799", INT64_C(253402300799));
	ts_ok("1751328000000", jul1);
	ts_ok("1751328000999", jul1);
	ts_ok("1751327999999", jul1 - 1);
	ts_ok("0000000000999", 0);
	ts_ok("0000000001000", 1);
	ts_ok("9999999999999", INT64_C(9999999999));

	ts_bad("");
	ts_bad("2025-13-01");
	ts_bad("2025-13-01T00:00:00Z");
	ts_bad("2025-00-10T00:00:00Z");
	ts_bad("2025-01-00T00:00:00Z");
	ts_bad("2025-01-32T00:00:00Z");
	ts_bad("2025-04-31T00:00:00Z");
	ts_bad("2025-02-29T00:00:00Z");
	ts_bad("2100-02-29T00:00:00Z");
	ts_bad("2025-07-01T24:00:00Z");
	ts_bad("2025-07-01T23:60:00Z");
	ts_bad("2025-07-01T23:59:60Z");
	ts_bad("2025-07-01T00:00:00");          /* no zone */
	ts_bad("2025-07-01T00:00:00.5");
	ts_bad("2025-07-01 00:00:00Z");         /* space form is UTC only */
	ts_bad("2025-07-01 00:00:00+01:00");
	ts_bad("2025-07-01 00:00:00.5");
	ts_bad("2025-07-01T00:00:00z");
	ts_bad("2025-07-01t00:00:00Z");
	ts_bad("2025-07-01T00:00:00.Z");
	ts_bad("2025-07-01T00:00:00+24:00");
	ts_bad("2025-07-01T00:00:00+05:60");
	ts_bad("2025-07-01T00:00:00+0500");
	ts_bad("2025-07-01T00:00:00+05");
	ts_bad("2025-07-01T00:00:00+05:00 ");
	ts_bad("2025-07-01T00:00:00Z ");
	ts_bad(" 2025-07-01T00:00:00Z");
	ts_bad("2025-07-01");
	ts_bad("2025-7-01T00:00:00Z");
	ts_bad("2025-07-01T0:00:00Z");
	ts_bad("2025/07/01T00:00:00Z");
	ts_bad("1969-12-31T23:59:59Z");
	ts_bad("1970-01-01T00:30:00+01:00");    /* UTC lands in 1969 */
	ts_bad("9999-12-31T23:59:59-00:01");    /* UTC lands in 10000 */
	ts_bad("253402300800");
	ts_bad("10000000000000");               /* 14 digits */
	ts_bad("-1751328000");
	ts_bad("+1751328000");
	ts_bad("1751328000.5");
	ts_bad("1751328000 ");
	ts_bad("0x10");
	ts_bad("2025-07-01T00:00:00\xEF\xBC\xBA");
	{
		/* Embedded NUL: the length, not the terminator, bounds the input. */
		int64_t t;

		check(muse_ts_parse("1751328000\0" "1", 12, &t) == -1,
		    "ts with an embedded NUL refused");
		check(muse_ts_parse("2025-07-01T00:00:00Zjunk", 20, &t) == 0 &&
		    t == jul1, "ts bounded by its length");
	}
}

static void test_day(void)
{
	int64_t day;
	int y, bad = 0;
	unsigned m, d, mm = 1, dd = 1;
	int yy = 1600;
	char buf[16];

	check(muse_days_from_civil(1970, 1, 1) == 0, "1970-01-01 is day 0");
	check(muse_days_from_civil(1969, 12, 31) == -1, "1969-12-31 is day -1");
	check(muse_days_from_civil(2000, 3, 1) == 11017, "2000-03-01 is day 11017");
	check(muse_ts_day(-1) == -1 && muse_ts_day(-86400) == -1 &&
	    muse_ts_day(-86401) == -2 && muse_ts_day(86399) == 0,
	    "muse_ts_day floors");

	/* Walk every day from 1600 to 2600 and compare with a naive count. */
	for (day = muse_days_from_civil(1600, 1, 1);
	    yy < 2600; day++) {
		static const unsigned len[] = {
			31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
		};
		unsigned ml = len[mm - 1] + (mm == 2 && (yy % 4 == 0 &&
		    (yy % 100 != 0 || yy % 400 == 0)));

		if (muse_days_from_civil(yy, mm, dd) != day)
			bad++;
		muse_civil_from_days(day, &y, &m, &d);
		if (y != yy || m != mm || d != dd)
			bad++;
		if (++dd > ml) {
			dd = 1;
			if (++mm > 12) {
				mm = 1;
				yy++;
			}
		}
	}
	check(bad == 0, "calendar agrees with a day-by-day walk 1600..2599 "
	    "(%d mismatches)", bad);
	muse_civil_from_days(-719468, &y, &m, &d);
	check(y == 0 && m == 3 && d == 1, "day -719468 is 0000-03-01");
	muse_civil_from_days(-719469 - 146097, &y, &m, &d);
	check(y == -400 && m == 2 && d == 29, "a negative era: -0400-02-29");

	check(strcmp(muse_day_format(0, buf), "1970-01-01") == 0,
	    "format day 0");
	check(strcmp(muse_day_format(muse_days_from_civil(2024, 2, 29), buf),
	    "2024-02-29") == 0, "format 2024-02-29");
	check(strcmp(muse_day_format(muse_days_from_civil(9999, 12, 31), buf),
	    "9999-12-31") == 0, "format 9999-12-31");
	check(muse_day_parse("2024-02-29", 10, &day) == 0 &&
	    day == muse_days_from_civil(2024, 2, 29), "parse 2024-02-29");
	check(muse_day_parse("1900-01-01", 10, &day) == 0 &&
	    day == muse_days_from_civil(1900, 1, 1), "parse 1900-01-01");
	check(muse_day_parse("2025-02-29", 10, &day) == -1,
	    "parse 2025-02-29 refused");
	check(muse_day_parse("2025-13-01", 10, &day) == -1,
	    "parse 2025-13-01 refused");
	check(muse_day_parse("2025-1-01", 9, &day) == -1,
	    "parse 2025-1-01 refused");
	check(muse_day_parse("2025-01-01T", 11, &day) == -1,
	    "parse with trailing bytes refused");
	check(muse_day_parse("2025-01-0x", 10, &day) == -1,
	    "parse 2025-01-0x refused");
	bad = 0;
	for (day = -1000; day < 40000; day += 7) {
		int64_t back;

		muse_day_format(day, buf);
		if (muse_day_parse(buf, strlen(buf), &back) != 0 || back != day)
			bad++;
	}
	check(bad == 0, "day format and parse round-trip");
}

static void week_is(int y, unsigned m, unsigned d, int wy, unsigned wn)
{
	int gy = 0;
	unsigned gw = 0;

	muse_iso_week(muse_days_from_civil(y, m, d), &gy, &gw);
	check(gy == wy && gw == wn, "%04d-%02u-%02u is %04d-W%02u (got "
	    "%04d-W%02u)", y, m, d, wy, wn, gy, gw);
}

static void test_week(void)
{
	int64_t day;
	int bad = 0;

	week_is(2021, 1, 3, 2020, 53);
	week_is(2021, 1, 4, 2021, 1);
	week_is(2020, 12, 31, 2020, 53);
	week_is(2024, 12, 29, 2024, 52);
	week_is(2024, 12, 30, 2025, 1);
	week_is(2025, 1, 1, 2025, 1);
	week_is(2026, 1, 1, 2026, 1);
	week_is(2027, 1, 1, 2026, 53);
	week_is(2008, 12, 29, 2009, 1);
	week_is(2010, 1, 3, 2009, 53);
	week_is(1970, 1, 1, 1970, 1);
	week_is(2025, 7, 1, 2025, 27);

	check(muse_week_start(muse_days_from_civil(2025, 7, 3)) ==
	    muse_days_from_civil(2025, 6, 30), "week of 2025-07-03 starts "
	    "on Monday 2025-06-30");
	check(muse_week_start(muse_days_from_civil(2025, 6, 30)) ==
	    muse_days_from_civil(2025, 6, 30), "a Monday starts its own week");
	check(muse_week_start(muse_days_from_civil(2025, 7, 6)) ==
	    muse_days_from_civil(2025, 6, 30), "a Sunday ends the week");
	check(muse_week_start(0) == -3, "week of 1970-01-01 starts 1969-12-29");
	check(muse_week_start(-4) == -10, "week start before 1970");

	/* Properties: weeks are 7 days, start on Monday, number 1..53. */
	for (day = 0; day < 30000; day++) {
		int y, y1;
		unsigned w, w1;
		int64_t ws = muse_week_start(day);

		muse_iso_week(day, &y, &w);
		muse_iso_week(ws, &y1, &w1);
		if (y != y1 || w != w1 || w < 1 || w > 53 || day - ws > 6 ||
		    (ws + 3) % 7 != 0)
			bad++;
		if (ws == day && day > 0) {
			muse_iso_week(day - 1, &y1, &w1);
			if (!(y1 == y && w1 == w - 1) && !(w == 1 && y1 == y - 1))
				bad++;
		}
	}
	check(bad == 0, "ISO weeks are consistent over 30000 days");

	check(muse_month_start(muse_days_from_civil(2024, 2, 29)) ==
	    muse_days_from_civil(2024, 2, 1), "month of 2024-02-29");
	check(muse_month_start(muse_days_from_civil(2025, 1, 1)) ==
	    muse_days_from_civil(2025, 1, 1), "month of a first day");
	check(muse_month_start(muse_days_from_civil(2025, 12, 31)) ==
	    muse_days_from_civil(2025, 12, 1), "month of 2025-12-31");
}

static void ident(const char *s, size_t n, const char *want, const char *name)
{
	const char *got = muse_ident_check(s, n);

	check(want == NULL ? got == NULL : got != NULL && strcmp(got, want) == 0,
	    "ident %s: %s (got %s)", name, want ? want : "valid",
	    got ? got : "valid");
}

#define IDENT(lit, want, name) ident(lit, sizeof(lit) - 1, want, name)

static void test_ident(void)
{
	char big[300];

	IDENT("abc", NULL, "ascii");
	IDENT("Sci-Fi & Fantasy", NULL, "segment name");
	IDENT("\xC3\xA9t\xC3\xA9", NULL, "two-byte UTF-8");
	IDENT("\xE6\x97\xA5\xE6\x9C\xAC", NULL, "three-byte UTF-8");
	IDENT("\xF0\x9F\x98\x80", NULL, "four-byte UTF-8");
	IDENT("\xF4\x8F\xBF\xBF", NULL, "U+10FFFF");
	IDENT("\xC2\xA0", NULL, "U+00A0 just after C1");
	IDENT("\xEF\xBB\xBF", NULL, "U+FEFF inside");
	IDENT("\xED\x9F\xBF", NULL, "U+D7FF before surrogates");
	IDENT("\xEE\x80\x80", NULL, "U+E000 after surrogates");
	IDENT("", "empty", "empty");
	IDENT("\xC0\xAF", "invalid UTF-8", "overlong two-byte slash");
	IDENT("\xC1\xBF", "invalid UTF-8", "overlong C1 lead");
	IDENT("\xE0\x80\xAF", "invalid UTF-8", "overlong three-byte");
	IDENT("\xE0\x9F\xBF", "invalid UTF-8", "overlong three-byte max");
	IDENT("\xF0\x8F\xBF\xBF", "invalid UTF-8", "overlong four-byte");
	IDENT("\xED\xA0\x80", "invalid UTF-8", "surrogate U+D800");
	IDENT("\xED\xBF\xBF", "invalid UTF-8", "surrogate U+DFFF");
	IDENT("\xF4\x90\x80\x80", "invalid UTF-8", "above U+10FFFF");
	IDENT("\xF5\x80\x80\x80", "invalid UTF-8", "lead F5");
	IDENT("\xFF", "invalid UTF-8", "byte FF");
	IDENT("\x80", "invalid UTF-8", "lone continuation");
	IDENT("a\xE6\x97", "invalid UTF-8", "truncated sequence");
	IDENT("\xC3(", "invalid UTF-8", "bad continuation");
	IDENT("\xC2\x85", "control character", "C1 NEL U+0085");
	IDENT("\xC2\x80", "control character", "C1 U+0080");
	IDENT("\xC2\x9F", "control character", "C1 U+009F");
	IDENT("a\tb", "control character", "tab");
	IDENT("a\rb", "control character", "CR");
	IDENT("a\x7F", "control character", "DEL");
	IDENT("\x1F", "control character", "unit separator");
	IDENT("a\0b", "control character", "NUL inside");

	memset(big, 'x', sizeof(big));
	ident(big, 255, NULL, "255 bytes");
	ident(big, 256, "longer than 255 bytes", "256 bytes");
	/* 85 three-byte characters are 255 bytes; one more byte is too many. */
	for (int i = 0; i < 85; i++)
		memcpy(big + 3 * i, "\xE6\x97\xA5", 3);
	ident(big, 255, NULL, "255 bytes of three-byte characters");
	big[255] = 'x';
	ident(big, 256, "longer than 255 bytes", "256 bytes multibyte");
}

static uint64_t rng = 0x2545F4914F6CDD1Du;

static uint64_t next_rand(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1Du;
}

/*
 * The identifier rules written the plain way, one byte at a time, as a
 * reference for the word-at-a-time check of lib/ts.c.
 */
static const char *ident_plain(const unsigned char *p, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return "empty";
	if (n > 255)
		return "longer than 255 bytes";
	while (i < n) {
		unsigned c = p[i], cp, k;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7F)
				return "control character";
			i++;
			continue;
		}
		k = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 :
		    c >= 0xF0 && c <= 0xF4 ? 3 : 0;
		if (k == 0 || n - i <= k)
			return "invalid UTF-8";
		cp = c & (0x3F >> k);
		for (unsigned j = 1; j <= k; j++) {
			if ((p[i + j] & 0xC0) != 0x80)
				return "invalid UTF-8";
			cp = cp << 6 | (p[i + j] & 0x3F);
		}
		if (cp < (k == 1 ? 0x80u : k == 2 ? 0x800u : 0x10000u) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return "invalid UTF-8";
		if (cp <= 0x9F)
			return "control character";
		i += k + 1;
	}
	return NULL;
}

static int ident_same(const unsigned char *p, size_t n)
{
	const char *a = muse_ident_check((const char *)p, n);
	const char *b = ident_plain(p, n);

	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/*
 * The word-at-a-time check against the plain rules: one bad byte at every
 * offset of every length up to 40 (word boundaries and tails of every
 * size), and random strings of bytes that sit on the edges of the rules.
 */
static void test_ident_words(void)
{
	static const unsigned char bad[] = { 0x00, 0x01, 0x1F, 0x7F, 0x80,
		0x9F, 0xA0, 0xC2, 0xC3, 0xE6, 0xED, 0xF4, 0xF5, 0xFF };
	static const unsigned char edge[] = { 0x00, 0x1F, 0x20, 0x21, 0x41,
		0x7E, 0x7F, 0x80, 0x85, 0x9F, 0xA0, 0xBF, 0xC1, 0xC2, 0xC3, 0xDF,
		0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF };
	unsigned char s[300];
	int same = 1, found = 1;

	for (size_t n = 1; n <= 40; n++)
		for (size_t at = 0; at < n; at++)
			for (size_t b = 0; b < sizeof(bad); b++) {
				memset(s, 'k', n);
				s[at] = bad[b];
				same &= ident_same(s, n);
				/* alone among ASCII, each of these is a fault */
				found &= muse_ident_check((char *)s, n) != NULL;
			}
	check(same, "identifiers: one odd byte at every offset of 1..40 bytes, "
	    "same verdict as byte by byte");
	check(found, "identifiers: a control or invalid byte anywhere is found");
	for (int i = 0; i < 300000 && same; i++) {
		size_t n = next_rand() % 4 == 0 ? next_rand() % 260 :
		    next_rand() % 24;
		int ascii = next_rand() % 2;

		for (size_t k = 0; k < n; k++) {
			uint64_t r = next_rand();

			s[k] = ascii && r % 8 ? (unsigned char)(0x20 + r / 8 % 95) :
			    r % 3 ? (unsigned char)(0x80 | r / 3 % 64) :
			    edge[r / 3 % sizeof(edge)];
		}
		if (!ident_same(s, n)) {
			same = 0;
			printf("# differs on a string of %zu bytes\n", n);
		}
	}
	check(same, "identifiers: 300000 random strings, same verdict as byte "
	    "by byte");
}

/*
 * muse_ts_parse_cached gives what muse_ts_parse gives, whatever the cache
 * holds: a run of timestamps that share dates, change them, break them in
 * every field (so a date is refused right after the same text was
 * accepted, and the other way round) and mix in epoch numbers.
 */
static void test_ts_cached(void)
{
	static const char *const base[] = {
		"2025-07-01T10:00:00Z", "2025-07-01 23:59:59",
		"2025-07-01T00:00:00.5+02:00", "2025-07-02T01:02:03-05:30",
		"1970-01-01T00:00:00Z", "1970-01-01T00:30:00+01:00",
		"2024-02-29T12:00:00Z", "2025-02-29T12:00:00Z",
		"1969-12-31T23:59:59Z", "9999-12-31T23:59:59Z",
		"9999-12-31T23:59:59-01:00", "1751328000", "1751328000123",
		"2025-13-01T00:00:00Z", "2025-07-01T24:00:00Z",
		"2025-07-01T10:00:60Z", "2025-07-01", "2025-07-01T10:00:00",
	};
	static const char mutate[] = "0123456789-:TZ +.x";
	struct muse_ts_cache c;
	char t[40];
	int same = 1;
	size_t n;

	muse_ts_cache_init(&c);
	for (int i = 0; i < 200000; i++) {
		int64_t a = -42, b = -42;
		int ra, rb;

		strcpy(t, base[next_rand() % (sizeof(base) / sizeof(base[0]))]);
		n = strlen(t);
		if (next_rand() % 3 == 0)
			t[next_rand() % n] = mutate[next_rand() % (sizeof(mutate) - 1)];
		if (next_rand() % 16 == 0)
			n = next_rand() % (n + 1);
		ra = muse_ts_parse(t, n, &a);
		rb = muse_ts_parse_cached(t, n, &c, &b);
		if (ra != rb || a != b) {
			same = 0;
			printf("# \"%.*s\": %d %lld vs cached %d %lld\n", (int)n, t,
			    ra, (long long)a, rb, (long long)b);
			break;
		}
	}
	check(same, "timestamps: 200000 parses with the date remembered, same "
	    "results as without");
}

/*
 * Every hour 00..99 with edge minutes and seconds, and every position of
 * the time holding each byte that is not what belongs there: accepted
 * exactly when the fields are in range, at the right second of the day.
 */
static void test_time_fields(void)
{
	static const char odd[] = "/:;0 aZ\x7F\xB0";
	static const int ms[] = { 0, 9, 10, 59, 60, 99 };
	int64_t day0 = utc(2025, 7, 1, 0, 0, 0);
	int good = 1;
	char t[32];

	for (int h = 0; h < 100; h++)
		for (size_t i = 0; i < 6; i++)
			for (size_t j = 0; j < 6; j++) {
				int64_t got = -42;
				int r, ok = h <= 23 && ms[i] <= 59 && ms[j] <= 59;

				snprintf(t, sizeof(t), "2025-07-01T%02d:%02d:%02dZ", h,
				    ms[i], ms[j]);
				r = muse_ts_parse(t, strlen(t), &got);
				if (ok ? r != 0 || got != day0 + h * 3600 + ms[i] * 60 +
				    ms[j] : r != -1)
					good = 0;
			}
	for (size_t pos = 11; pos < 19; pos++)
		for (size_t k = 0; k < sizeof(odd) - 1; k++) {
			int64_t got = -42;
			int r, ok;

			strcpy(t, "2025-07-01T12:34:56Z");
			t[pos] = odd[k];
			/* only a digit where a digit was, in range, is fine */
			ok = (pos == 13 || pos == 16) ? odd[k] == ':' :
			    odd[k] == '0';
			r = muse_ts_parse(t, strlen(t), &got);
			if (ok ? r != 0 : r != -1)
				good = 0;
		}
	check(good, "times: every hour with edge minutes and seconds, and any "
	    "odd byte in the time, accepted exactly when valid");
}

static void dur(const char *s, int ok, uint64_t want)
{
	uint64_t got = 424242;
	int r = muse_duration_parse(s, strlen(s), &got);

	if (ok)
		check(r == 0 && got == want, "duration \"%s\" = %llu ms "
		    "(got %llu)", s, (unsigned long long)want,
		    (unsigned long long)got);
	else
		check(r == -1 && got == 424242, "duration \"%s\" refused", s);
}

static void test_duration(void)
{
	dur("12", 1, 12000);
	dur("0", 1, 0);
	dur("12.5", 1, 12500);
	dur("0.001", 1, 1);
	dur("0.0005", 1, 1);
	dur("0.00049", 1, 0);
	dur("0.00049999", 1, 0);
	dur("1.2344", 1, 1234);
	dur("1.2345", 1, 1235);
	dur("0.9995", 1, 1000);
	dur("59.9999", 1, 60000);
	dur("007", 1, 7000);
	dur("60.000000000000000000001", 1, 60000);
	dur("1000000000000", 1, UINT64_C(1000000000000000));
	dur("1000000000000.000", 1, UINT64_C(1000000000000000));
	dur("999999999999.9999", 1, UINT64_C(1000000000000000));
	dur("1000000000001", 0, 0);
	dur("1000000000000.0001", 0, 0);
	dur("99999999999999999999999999", 0, 0);
	dur("", 0, 0);
	dur("-1", 0, 0);
	dur("+1", 0, 0);
	dur("1e3", 0, 0);
	dur("1.", 1, 1000);
	dur(".5", 1, 500);
	dur(".", 0, 0);
	dur("-.5", 0, 0);
	dur(".5.", 0, 0);
	dur(".", 0, 0);
	dur(" 1", 0, 0);
	dur("1 ", 0, 0);
	dur("1.2.3", 0, 0);
	dur("1,5", 0, 0);
	dur("nan", 0, 0);
	dur("inf", 0, 0);
}

int main(void)
{
	test_ts();
	test_day();
	test_week();
	test_ident();
	test_ident_words();
	test_ts_cached();
	test_time_fields();
	test_duration();
	return check_done("test_ts");
}
