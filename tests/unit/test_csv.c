/*
 * test_csv.c - the CSV/TSV reader (lib/csv.c) and the input layer under it
 * (lib/zio.c): quoting, line ends, line numbers, every error, buffer
 * boundaries, and zstd input including truncated and corrupt frames.
 *
 * Most cases are written as input and the expected rendering of what the
 * reader returns, one line per record: "LINE+SPAN:[f1][f2]...", or
 * "error LINE: MESSAGE".  Every case is also run with read buffers of 1 to
 * 64 bytes, so that every field and line end falls across a buffer
 * boundary somewhere, and must give the same rendering.
 *
 * Prints one TAP-like line per check and a summary line; exits 1 when any
 * check failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "buf.h"
#include "csv.h"
#include "zio.h"

#include "check.h"

static void put(struct muse_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct muse_buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	muse_buf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/*
 * Parses all of a reader into its rendering (NUL-terminated, caller
 * frees).  Also checks the row invariants that every caller relies on.
 */
static char *render_csv(muse_csv *c, int keep_going, struct muse_err *e)
{
	struct muse_buf b = { 0 };
	struct muse_csv_row row;
	int r, errors = 0;

	for (;;) {
		r = muse_csv_next(c, &row, e);
		/* Keeps going after bad records, as muse-ingest --max-errors. */
		if (r == MUSE_EINPUT && keep_going && ++errors < 20) {
			put(&b, "error %llu: %s\n", (unsigned long long)e->line,
			    e->msg);
			continue;
		}
		if (r != 1)
			break;
		put(&b, "%llu+%llu:", (unsigned long long)row.line,
		    (unsigned long long)row.lines);
		for (size_t i = 0; i < row.nfields; i++) {
			if (row.field[i][row.len[i]] != 0 ||
			    strlen(row.field[i]) != row.len[i])
				put(&b, "{BAD TERMINATOR}");
			muse_buf_put(&b, "[", 1);
			muse_buf_put(&b, row.field[i], row.len[i]);
			muse_buf_put(&b, "]", 1);
		}
		muse_buf_put(&b, "\n", 1);
	}
	if (r < 0)
		put(&b, "error %llu: %s", (unsigned long long)e->line, e->msg);
	else if (r != 0)
		put(&b, "bad return %d", r);
	muse_buf_put(&b, "", 1);
	return (char *)b.p;
}

static char *render(const char *data, size_t n, int sep, size_t bufsize,
	int keep_going)
{
	struct muse_err e;
	muse_input *in;
	muse_csv *c;
	char *out;

	muse_err_clear(&e);
	in = muse_input_mem(data, n, "t.csv", &e);
	if (in == NULL)
		return strdup("input failed");
	c = bufsize ? muse_csv_new_bufsize(in, sep, bufsize, &e) :
	    muse_csv_new(in, sep, &e);
	if (c == NULL) {
		char *s = malloc(600);

		snprintf(s, 600, "new failed: %s", e.msg);
		return s;
	}
	out = render_csv(c, keep_going, &e);
	if (e.code != 0 && strcmp(e.name, "t.csv") != 0) {
		char *s = malloc(strlen(out) + 64);

		sprintf(s, "%s {error names \"%s\"}", out, e.name);
		free(out);
		out = s;
	}
	muse_csv_free(c);
	return out;
}

/* Shows control characters in failure messages. */
static const char *vis(const char *s, char *buf, size_t n)
{
	size_t j = 0;

	for (; *s && j + 5 < n; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\n')
			j += (size_t)snprintf(buf + j, n - j, "\\n");
		else if (ch < 0x20 || ch >= 0x7F)
			j += (size_t)snprintf(buf + j, n - j, "\\x%02X", ch);
		else
			buf[j++] = (char)ch;
	}
	buf[j] = 0;
	return buf;
}

static void case_n(const char *name, const char *data, size_t n, int sep,
	int keep_going, const char *want)
{
	char *got = render(data, n, sep, 0, keep_going);
	int same = 1;
	char v1[600], v2[600];

	check(strcmp(got, want) == 0, "%s: %s%s%s", name, vis(got, v1,
	    sizeof(v1)), strcmp(got, want) ? " != " : "",
	    strcmp(got, want) ? vis(want, v2, sizeof(v2)) : "");
	for (size_t bs = 1; bs <= 64 && same; bs++) {
		char *small = render(data, n, sep, bs, keep_going);

		if (strcmp(small, want) != 0) {
			same = 0;
			printf("# %s: buffer %zu: %s\n", name, bs,
			    vis(small, v1, sizeof(v1)));
		}
		free(small);
	}
	check(same, "%s: same with read buffers of 1..64 bytes", name);
	free(got);
}

#define CASE(name, lit, sep, want) \
	case_n(name, lit, sizeof(lit) - 1, sep, 0, want)
#define RESYNC(name, lit, want) case_n(name, lit, sizeof(lit) - 1, ',', 1, want)

static void test_cases(void)
{
	CASE("plain", "a,b,c\n1,2,3\n", ',',
	    "1+1:[a][b][c]\n2+1:[1][2][3]\n");
	CASE("empty input", "", ',', "");
	CASE("empty fields", ",,\n,\n", ',', "1+1:[][][]\n2+1:[][]\n");
	CASE("quoted separator", "\"a,b\",c\n", ',', "1+1:[a,b][c]\n");
	CASE("doubled quotes", "\"he said \"\"hi\"\"\",x\n", ',',
	    "1+1:[he said \"hi\"][x]\n");
	CASE("only doubled quotes", "\"\"\"\"\"\",\"\"\n", ',',
	    "1+1:[\"\"][]\n");
	CASE("empty quoted", "\"\",x,\"\"\n", ',', "1+1:[][x][]\n");
	CASE("embedded newline", "a,\"x\ny\"\nb,c\n", ',',
	    "1+2:[a][x\ny]\n3+1:[b][c]\n");
	CASE("many embedded newlines", "\"\n\n\n\",1\n\"a\nb\",\"c\nd\"\nz\n",
	    ',', "1+4:[\n\n\n][1]\n5+3:[a\nb][c\nd]\n8+1:[z]\n");
	CASE("CRLF", "a,b\r\nc,d\r\n", ',', "1+1:[a][b]\n2+1:[c][d]\n");
	CASE("CRLF after quote", "\"a\",\"b\"\r\n\"c\"\r\n", ',',
	    "1+1:[a][b]\n2+1:[c]\n");
	CASE("CRLF inside quotes", "\"x\r\ny\",z\r\nw\r\n", ',',
	    "1+2:[x\r\ny][z]\n3+1:[w]\n");
	CASE("lone CR is data", "a\rb,c\n", ',', "1+1:[a\rb][c]\n");
	CASE("CR before EOF is data", "a,b\r", ',', "1+1:[a][b\r]\n");
	CASE("empty last field CRLF", "a,\r\n", ',', "1+1:[a][]\n");
	CASE("BOM", "\xEF\xBB\xBF" "a,b\n", ',', "1+1:[a][b]\n");
	CASE("BOM then quote", "\xEF\xBB\xBF\"a\",b\n", ',', "1+1:[a][b]\n");
	CASE("BOM only", "\xEF\xBB\xBF", ',', "");
	CASE("BOM not at start", "a,\xEF\xBB\xBF" "b\n", ',',
	    "1+1:[a][\xEF\xBB\xBF" "b]\n");
	CASE("no final newline", "a,b\nc,d", ',', "1+1:[a][b]\n2+1:[c][d]\n");
	CASE("no final newline quoted", "a,\"b\"", ',', "1+1:[a][b]\n");
	CASE("no final newline empty field", "a,", ',', "1+1:[a][]\n");
	CASE("blank lines skipped", "\n\na,b\n\r\n\nc,d\n\n", ',',
	    "3+1:[a][b]\n6+1:[c][d]\n");
	CASE("only blank lines", "\n\r\n\n", ',', "");
	CASE("quoted empty line is a record", "\"\"\n", ',', "1+1:[]\n");
	CASE("spaces kept", " a , b \n", ',', "1+1:[ a ][ b ]\n");
	CASE("UTF-8 kept", "\xC3\xA9,\"\xE6\x97\xA5\"\n", ',',
	    "1+1:[\xC3\xA9][\xE6\x97\xA5]\n");
	CASE("TSV", "a\tb\tc\n1\t2\t3\n", '\t',
	    "1+1:[a][b][c]\n2+1:[1][2][3]\n");
	CASE("TSV quotes are data", "\"a\tb\"c\t\"\n", '\t',
	    "1+1:[\"a][b\"c][\"]\n");
	CASE("TSV commas are data", "a,b\tc\r\n", '\t', "1+1:[a,b][c]\n");
	CASE("guess TSV", "a\tb,c\nd\te\n", 0, "1+1:[a][b,c]\n2+1:[d][e]\n");
	CASE("guess CSV", "a,b\tc\n", 0, "1+1:[a][b\tc]\n");
	CASE("guess CSV without separator", "abc\n\"d\"\n", 0,
	    "1+1:[abc]\n2+1:[d]\n");
	CASE("guess after BOM", "\xEF\xBB\xBF" "a\tb\n", 0, "1+1:[a][b]\n");

	CASE("unterminated quote", "a,b\nc,\"d\n\ne\n", ',',
	    "1+1:[a][b]\nerror 2: unterminated quoted field");
	CASE("unterminated after multi-line record",
	    "\"x\ny\",1\n\"z\n", ',',
	    "1+2:[x\ny][1]\nerror 3: unterminated quoted field");
	CASE("unterminated lone quote", "\"", ',',
	    "error 1: unterminated quoted field");
	CASE("quote in unquoted field", "a,b\"c\n", ',',
	    "error 1: unexpected quote in unquoted field");
	CASE("quote at end of unquoted field", "x\ny\n\nab\",c\n", ',',
	    "1+1:[x]\n2+1:[y]\nerror 4: unexpected quote in unquoted field");
	CASE("character after closing quote", "\"a\"b,c\n", ',',
	    "error 1: character after closing quote");
	CASE("space after closing quote", "1\n\"a\" ,c\n", ',',
	    "1+1:[1]\nerror 2: character after closing quote");
	CASE("CR then other after closing quote", "\"a\"\rb\n", ',',
	    "error 1: character after closing quote");
	CASE("CR at EOF after closing quote", "\"a\"\r", ',',
	    "error 1: character after closing quote");
	CASE("NUL in field", "a,b\0c\n", ',', "error 1: NUL byte");
	CASE("NUL in quoted field", "ok\n\"a\0\"\n", ',',
	    "1+1:[ok]\nerror 2: NUL byte");
	CASE("NUL after closing quote", "\"a\"\0\n", ',', "error 1: NUL byte");
	CASE("NUL in TSV", "a\t\0\n", '\t', "error 1: NUL byte");
	CASE("NUL at start", "\0", ',', "error 1: NUL byte");
}

/* After a malformed record the reader resumes after the faulty line. */
static void test_resync(void)
{
	RESYNC("resume after stray quote", "a,b\"c,d\ne,f\n",
	    "error 1: unexpected quote in unquoted field\n2+1:[e][f]\n");
	RESYNC("resume after closing quote", "\"a\"x,b\nc,d\n",
	    "error 1: character after closing quote\n2+1:[c][d]\n");
	RESYNC("resume after multi-line record", "x\n\"multi\nline\"junk\n"
	    "\nok,1\n",
	    "1+1:[x]\nerror 2: character after closing quote\n5+1:[ok][1]\n");
	RESYNC("resume after NUL", "a\0b\nc\n",
	    "error 1: NUL byte\n2+1:[c]\n");
	RESYNC("several faults", "\"a\"b\n\"c\"d\r\ne\"\n\"ok\"\n",
	    "error 1: character after closing quote\n"
	    "error 2: character after closing quote\n"
	    "error 3: unexpected quote in unquoted field\n4+1:[ok]\n");
	RESYNC("fault on the last line", "a\nb\"", "1+1:[a]\n"
	    "error 2: unexpected quote in unquoted field\n");
	RESYNC("nothing after unterminated", "a\n\"b\nc,d\n",
	    "1+1:[a]\nerror 2: unterminated quoted field\n");
}

static void test_limits(void)
{
	struct muse_buf b = { 0 };
	char *got;
	int ok;

	/* 4096 fields pass, 4097 do not. */
	for (int i = 0; i < 4095; i++)
		muse_buf_put(&b, "x,", 2);
	muse_buf_put(&b, "x\n", 2);
	got = render((char *)b.p, b.len, ',', 0, 0);
	ok = strncmp(got, "1+1:[x]", 7) == 0 && strlen(got) == 4 + 3 * 4096 + 1;
	check(ok, "4096 fields accepted");
	free(got);
	b.len--;
	muse_buf_put(&b, ",y\n", 3);
	got = render((char *)b.p, b.len, ',', 0, 0);
	check(strcmp(got, "error 1: more than 4096 fields") == 0,
	    "4097 fields refused (%s)", got);
	free(got);
	got = render((char *)b.p, b.len, ',', 7, 0);
	check(strcmp(got, "error 1: more than 4096 fields") == 0,
	    "4097 fields refused with a small buffer");
	free(got);
	muse_buf_put(&b, "z\n", 2);
	got = render((char *)b.p, b.len, ',', 0, 1);
	check(strcmp(got, "error 1: more than 4096 fields\n2+1:[z]\n") == 0,
	    "reading resumes after 4097 fields");
	free(got);

	/* A record of exactly 16 MiB (plus CR LF) passes, one byte more not. */
	b.len = 0;
	muse_buf_put(&b, "a,b\n", 4);
	muse_buf_reserve(&b, MUSE_CSV_MAX_RECORD + 16);
	memset(b.p + b.len, 'z', MUSE_CSV_MAX_RECORD - 2);
	b.len += MUSE_CSV_MAX_RECORD - 2;
	muse_buf_put(&b, ",q\r\nc,d\n", 8);
	got = render((char *)b.p, b.len, ',', 0, 0);
	ok = strncmp(got, "1+1:[a][b]\n2+1:[zzz", 19) == 0 &&
	    strcmp(got + strlen(got) - 18, "zz][q]\n3+1:[c][d]\n") == 0;
	check(ok, "a record of exactly 16 MiB accepted");
	free(got);
	got = render((char *)b.p, b.len, ',', 1, 0);
	check(strncmp(got, "1+1:[a][b]\n2+1:[zzz", 19) == 0 &&
	    strstr(got, "error") == NULL,
	    "a record of exactly 16 MiB accepted from a 1-byte buffer");
	free(got);
	b.len -= 8;
	muse_buf_put(&b, ",qq\r\nc,d\n", 9);
	got = render((char *)b.p, b.len, ',', 0, 0);
	check(strcmp(got, "1+1:[a][b]\nerror 2: record longer than 16 MiB") == 0,
	    "a record of 16 MiB + 1 refused");
	free(got);
	got = render((char *)b.p, b.len, ',', 0, 1);
	check(strcmp(got, "1+1:[a][b]\nerror 2: record longer than 16 MiB\n"
	    "3+1:[c][d]\n") == 0, "reading resumes after a long record");
	free(got);
	/* Longer still: the fault is found with the buffer full. */
	b.len -= 9;
	muse_buf_reserve(&b, 4096 + 16);
	memset(b.p + b.len, 'z', 4096);
	b.len += 4096;
	muse_buf_put(&b, "\n\nc,d\n", 6);
	got = render((char *)b.p, b.len, ',', 0, 1);
	check(strcmp(got, "1+1:[a][b]\nerror 2: record longer than 16 MiB\n"
	    "4+1:[c][d]\n") == 0, "reading resumes after a record beyond "
	    "the buffer");
	free(got);
	/* Unterminated: the buffer may not grow past the limit. */
	b.len = 0;
	muse_buf_put(&b, "\"", 1);
	muse_buf_reserve(&b, MUSE_CSV_MAX_RECORD + 100);
	memset(b.p + 1, 'z', MUSE_CSV_MAX_RECORD + 100);
	b.len += MUSE_CSV_MAX_RECORD + 100;
	got = render((char *)b.p, b.len, ',', 0, 0);
	check(strcmp(got, "error 1: record longer than 16 MiB") == 0,
	    "an endless quoted field stops at the limit");
	free(got);
	got = render((char *)b.p, b.len, ',', 0, 1);
	check(strcmp(got, "error 1: record longer than 16 MiB\n") == 0,
	    "nothing follows an endless quoted field");
	free(got);
	muse_buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* Round trip of random records                                         */
/* ------------------------------------------------------------------ */

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next_rand(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1Du;
}

/*
 * Random records written the RFC 4180 way (quoted when needed), and the
 * rendering the reader must give back.  Long fields appear now and then so
 * that records cross the 1 MiB block boundary of the default buffer.
 */
static void random_csv(struct muse_buf *csv, struct muse_buf *want,
	size_t target, int crlf)
{
	static const char alpha[] = "abcxyz019 ,\"\n\r;\xC3\xA9";
	uint64_t line = 1;

	while (csv->len < target) {
		size_t nf = 1 + next_rand() % 8;
		uint64_t nl = 0;
		struct muse_buf rec = { 0 };

		for (size_t i = 0; i < nf; i++) {
			size_t len = next_rand() % 12;
			struct muse_buf f = { 0 };
			int quote = next_rand() % 4 == 0;

			if (next_rand() % 500 == 0)
				len = 1000 + next_rand() % 300000;
			for (size_t j = 0; j < len; j++) {
				char ch = alpha[next_rand() % (sizeof(alpha) - 1)];

				muse_buf_put(&f, &ch, 1);
			}
			for (size_t j = 0; j < f.len; j++)
				if (strchr(",\"\n\r", f.p[j]))
					quote = 1;
			/* A lone unquoted empty field would make a blank line. */
			if (nf == 1 && f.len == 0)
				quote = 1;
			if (i)
				muse_buf_put(csv, ",", 1);
			if (quote)
				muse_buf_put(csv, "\"", 1);
			for (size_t j = 0; j < f.len; j++) {
				if (f.p[j] == '"')
					muse_buf_put(csv, "\"", 1);
				if (f.p[j] == '\n')
					nl++;
				muse_buf_put(csv, &f.p[j], 1);
			}
			if (quote)
				muse_buf_put(csv, "\"", 1);
			muse_buf_put(&rec, "[", 1);
			muse_buf_put(&rec, f.p, f.len);
			muse_buf_put(&rec, "]", 1);
			muse_buf_free(&f);
		}
		muse_buf_put(csv, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
		put(want, "%llu+%llu:", (unsigned long long)line,
		    (unsigned long long)(nl + 1));
		muse_buf_put(want, rec.p, rec.len);
		muse_buf_put(want, "\n", 1);
		muse_buf_free(&rec);
		line += nl + 1;
	}
	muse_buf_put(want, "", 1);
}

static void test_random(void)
{
	for (int crlf = 0; crlf <= 1; crlf++) {
		struct muse_buf csv = { 0 }, want = { 0 };
		static const size_t sizes[] = { 0, 1, 7, 4096, 65536 };
		char *got;

		random_csv(&csv, &want, (3u << 20) + 12345, crlf);
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			got = render((char *)csv.p, csv.len, ',', sizes[k], 0);
			check(strcmp(got, (char *)want.p) == 0,
			    "random %s records, %zu bytes, buffer %zu: round "
			    "trip", crlf ? "CRLF" : "LF", csv.len, sizes[k]);
			free(got);
		}
		muse_buf_free(&csv);
		muse_buf_free(&want);
	}
}

/*
 * Unquoted runs are scanned in 64-byte windows: every field length from 0
 * to 150, so that each stop byte (separator, LF, CR LF, a stray quote, a
 * NUL, the end of input) falls at every offset of a window and just past
 * it, in CSV and in TSV (where a quote is data), with buffers that cut
 * the record anywhere too.
 */
static void test_windows(void)
{
	int all = 1, errs = 1;
	char v[600];

	for (int tsv = 0; tsv <= 1; tsv++) {
		const char sep = tsv ? '\t' : ',';

		for (size_t len = 0; len <= 150 && all; len++) {
			struct muse_buf csv = { 0 }, want = { 0 };
			char *got;
			size_t k;

			/* A lead field of len bytes puts what follows anywhere. */
			for (int rec = 0; rec < 3; rec++) {
				for (k = 0; k < len; k++)
					muse_buf_put_u8(&csv, (uint8_t)(tsv && k % 7 == 3 ?
					    '"' : 'a' + (k + rec) % 26));
				put(&csv, "%cx%cyy%s", sep, sep, rec == 1 ? "\r\n" :
				    "\n");
				put(&want, "%d+1:[", rec + 1);
				muse_buf_put(&want, csv.p + csv.len - len -
				    (rec == 1 ? 7 : 6), len);
				put(&want, "][x][yy]\n");
			}
			/* The last record without a line end. */
			for (k = 0; k < len; k++)
				muse_buf_put_u8(&csv, 'z');
			muse_buf_put(&want, "4+1:[", 5);
			muse_buf_put(&want, csv.p + csv.len - len, len);
			muse_buf_put(&want, "]\n", 2);
			if (len == 0)
				want.len -= 7;    /* nothing after the last LF */
			muse_buf_put(&want, "", 1);
			for (size_t bs = 0; bs <= 70 && all; bs += bs < 3 ? 1 : 67) {
				got = render((char *)csv.p, csv.len, sep, bs, 0);
				if (strcmp(got, (char *)want.p) != 0) {
					all = 0;
					printf("# %s field of %zu, buffer %zu: %s\n",
					    tsv ? "TSV" : "CSV", len, bs,
					    vis(got, v, sizeof(v)));
				}
				free(got);
			}
			muse_buf_free(&csv);
			muse_buf_free(&want);
		}
	}
	check(all, "fields of 0..150 bytes end where they should, CSV and TSV");

	/* A NUL or a stray quote at any offset is found, on the right line. */
	for (size_t at = 0; at <= 140 && errs; at++) {
		for (int what = 0; what < 2; what++) {
			struct muse_buf csv = { 0 };
			char want[128], *got;

			put(&csv, "a,b\n");
			for (size_t k = 0; k < 141; k++)
				muse_buf_put_u8(&csv, (uint8_t)(k == at ?
				    (what ? '"' : 0) : 'q'));
			put(&csv, ",c\n");
			snprintf(want, sizeof(want), "1+1:[a][b]\nerror 2: %s",
			    what ? "unexpected quote in unquoted field" : "NUL byte");
			if (what && at == 0)    /* then the field is quoted */
				snprintf(want, sizeof(want), "1+1:[a][b]\nerror 2: "
				    "unterminated quoted field");
			got = render((char *)csv.p, csv.len, ',', 0, 0);
			if (strcmp(got, want) != 0) {
				errs = 0;
				printf("# %s at %zu: %s\n", what ? "quote" : "NUL", at,
				    vis(got, v, sizeof(v)));
			}
			free(got);
			muse_buf_free(&csv);
		}
	}
	check(errs, "a NUL or a stray quote at any offset of a long field is "
	    "refused");
}

/* ------------------------------------------------------------------ */
/* zstd input                                                           */
/* ------------------------------------------------------------------ */

static void compress_into(struct muse_buf *out, const void *p, size_t n,
	int checksum)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t bound = ZSTD_compressBound(n), r;

	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, checksum);
	muse_buf_reserve(out, bound);
	r = ZSTD_compress2(cc, out->p + out->len, bound, p, n);
	if (!ZSTD_isError(r))
		out->len += r;
	ZSTD_freeCCtx(cc);
}

static char *render_file(const char *path, int sep, struct muse_err *e)
{
	muse_input *in = muse_input_open(path, e);
	muse_csv *c;
	char *out;

	if (in == NULL)
		return strdup("open failed");
	c = muse_csv_new(in, sep, e);
	if (c == NULL)
		return strdup("new failed");
	out = render_csv(c, 0, e);
	muse_csv_free(c);
	return out;
}

static int write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(p, 1, n, f) == n;

	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* Reads all of an input in chunks of the given size into out. */
static int drain(muse_input *in, size_t chunk, struct muse_buf *out,
	struct muse_err *e)
{
	long r;

	do {
		muse_buf_reserve(out, chunk);
		r = muse_input_read(in, out->p + out->len, chunk, e);
		if (r > 0)
			out->len += (size_t)r;
	} while (r > 0);
	return (int)r;
}

static void test_zstd(const char *dir)
{
	struct muse_buf csv = { 0 }, want = { 0 }, z = { 0 }, z2 = { 0 };
	struct muse_err e;
	char path[4096];
	char *plain, *got;
	muse_input *in;

	random_csv(&csv, &want, 2u << 20, 0);
	plain = render((char *)csv.p, csv.len, ',', 0, 0);
	check(strcmp(plain, (char *)want.p) == 0, "plain parse of zstd sample");

	compress_into(&z, csv.p, csv.len, 1);
	check(z.len > 0 && z.len < csv.len, "sample compressed (%zu -> %zu)",
	    csv.len, z.len);
	got = render((char *)z.p, z.len, ',', 0, 0);
	check(strcmp(got, plain) == 0, "zstd in memory parses like plain");
	free(got);
	got = render((char *)z.p, z.len, ',', 1000, 0);
	check(strcmp(got, plain) == 0, "zstd with a small CSV buffer");
	free(got);

	/* Concatenated frames, including an empty one and a skippable one. */
	compress_into(&z2, csv.p, csv.len / 3, 0);
	compress_into(&z2, "", 0, 1);
	muse_buf_put(&z2, "\x5A\x2A\x4D\x18\x03\x00\x00\x00" "abc", 11);
	compress_into(&z2, csv.p + csv.len / 3, csv.len - csv.len / 3, 1);
	got = render((char *)z2.p, z2.len, ',', 0, 0);
	check(strcmp(got, plain) == 0, "concatenated zstd frames parse like "
	    "plain");
	free(got);
	{
		/* A stream that starts with a skippable frame is zstd too. */
		struct muse_buf z3 = { 0 };

		muse_buf_put(&z3, "\x50\x2A\x4D\x18\x00\x00\x00\x00", 8);
		muse_buf_put(&z3, z.p, z.len);
		got = render((char *)z3.p, z3.len, ',', 0, 0);
		check(strcmp(got, plain) == 0, "leading skippable frame");
		free(got);
		muse_buf_free(&z3);
	}

	/* Files: plain and compressed, read through muse_input_open. */
	snprintf(path, sizeof(path), "%s/plain.csv", dir);
	write_file(path, csv.p, csv.len);
	muse_err_clear(&e);
	got = render_file(path, ',', &e);
	check(strcmp(got, plain) == 0, "plain file parses");
	free(got);
	muse_err_clear(&e);
	in = muse_input_open(path, &e);
	check(in != NULL && muse_input_size(in) == (int64_t)csv.len &&
	    !muse_input_compressed(in), "plain file size known");
	muse_input_free(in);

	snprintf(path, sizeof(path), "%s/z.csv.zst", dir);
	write_file(path, z2.p, z2.len);
	muse_err_clear(&e);
	got = render_file(path, 0, &e);
	check(strcmp(got, plain) == 0, "zstd file parses like plain");
	free(got);
	for (size_t chunk = 1; chunk <= 100000; chunk *= 17) {
		struct muse_buf raw = { 0 };
		int r;

		muse_err_clear(&e);
		in = muse_input_open(path, &e);
		r = in != NULL ? drain(in, chunk, &raw, &e) : -1;
		check(r == 0 && raw.len == csv.len &&
		    memcmp(raw.p, csv.p, csv.len) == 0 &&
		    muse_input_compressed(in) && muse_input_size(in) == -1 &&
		    muse_input_consumed(in) == z2.len,
		    "zstd file read in chunks of %zu", chunk);
		muse_input_free(in);
		muse_buf_free(&raw);
	}

	/* Truncated: every cut inside the last frame is an error. */
	{
		static const size_t cuts[] = { 1, 2, 3, 4, 5, 100, 4096 };
		int all = 1;

		for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
			struct muse_buf raw = { 0 };
			int r;

			muse_err_clear(&e);
			in = muse_input_mem(z.p, z.len - cuts[k], "cut.zst", &e);
			r = drain(in, 65536, &raw, &e);
			if (r != MUSE_ETRUNC ||
			    strcmp(e.msg, "zstd: truncated input") != 0 ||
			    strcmp(e.name, "cut.zst") != 0) {
				all = 0;
				printf("# cut %zu: %d %s: %s\n", cuts[k], r,
				    e.name, e.msg);
			}
			/* The error repeats rather than decoding on. */
			if (muse_input_read(in, raw.p, 1, &e) != r)
				all = 0;
			muse_input_free(in);
			muse_buf_free(&raw);
		}
		check(all, "truncated zstd input is MUSE_ETRUNC \"zstd: "
		    "truncated input\"");
		got = render((char *)z.p, z.len - 10, ',', 0, 0);
		check(strstr(got, "error") != NULL &&
		    strstr(got, "zstd: truncated input") != NULL,
		    "truncated zstd stops the CSV reader");
		free(got);
		got = render("\x28\xB5\x2F\xFD", 4, ',', 0, 0);
		check(strcmp(got, "error 0: zstd: truncated input") == 0 ||
		    strcmp(got, "new failed: zstd: truncated input") == 0,
		    "bare zstd magic is truncated (%s)", got);
		free(got);
	}
	/* Truncated file on disk, read through the staging buffer. */
	snprintf(path, sizeof(path), "%s/cut.csv.zst", dir);
	write_file(path, z.p, z.len - 1);
	muse_err_clear(&e);
	got = render_file(path, ',', &e);
	check(strstr(got, "zstd: truncated input") != NULL && e.code ==
	    MUSE_ETRUNC && strcmp(e.name, path) == 0,
	    "truncated zstd file names the file");
	free(got);

	/* Corrupt: damaged content (checksummed), garbage after a frame. */
	{
		struct muse_buf bad = { 0 }, raw = { 0 };
		int r;

		muse_buf_put(&bad, z.p, z.len);
		bad.p[bad.len / 2] ^= 0x55;
		muse_err_clear(&e);
		in = muse_input_mem(bad.p, bad.len, "bad.zst", &e);
		r = drain(in, 65536, &raw, &e);
		check(r == MUSE_EFORMAT && strncmp(e.msg, "zstd: ", 6) == 0 &&
		    e.msg[6] >= 'a' && e.msg[6] <= 'z',
		    "corrupt zstd input is MUSE_EFORMAT, not a bad row (%s)",
		    e.msg);
		muse_input_free(in);
		bad.len = 0;
		raw.len = 0;
		muse_buf_put(&bad, z.p, z.len);
		muse_buf_put(&bad, "a,b\n", 4);
		muse_err_clear(&e);
		in = muse_input_mem(bad.p, bad.len, "tail.zst", &e);
		r = drain(in, 65536, &raw, &e);
		check(r == MUSE_EFORMAT && strncmp(e.msg, "zstd: ", 6) == 0,
		    "text after a zstd frame is an error (%s)", e.msg);
		muse_input_free(in);
		muse_buf_free(&bad);
		muse_buf_free(&raw);
	}

	free(plain);
	muse_buf_free(&csv);
	muse_buf_free(&want);
	muse_buf_free(&z);
	muse_buf_free(&z2);
}

/* ------------------------------------------------------------------ */
/* The input layer on its own                                           */
/* ------------------------------------------------------------------ */

static void test_zio(const char *dir)
{
	struct muse_err e;
	muse_input *in;
	char path[4096], buf[64];
	long r;

	muse_err_clear(&e);
	snprintf(path, sizeof(path), "%s/missing.csv", dir);
	in = muse_input_open(path, &e);
	check(in == NULL && e.code == MUSE_EIO && e.sys_errno == ENOENT &&
	    strcmp(e.msg, "cannot open: No such file or directory") == 0 &&
	    strcmp(e.name, path) == 0, "missing file: %s", e.msg);

	muse_err_clear(&e);
	in = muse_input_open(dir, &e);
	check(in == NULL && e.code == MUSE_EIO &&
	    strcmp(e.msg, "cannot open: Is a directory") == 0,
	    "directory: %s", e.msg);

	muse_err_clear(&e);
	in = muse_input_mem("abc", 3, "m", &e);
	r = muse_input_read(in, buf, sizeof(buf), &e);
	check(r == 3 && memcmp(buf, "abc", 3) == 0 &&
	    muse_input_read(in, buf, sizeof(buf), &e) == 0 &&
	    muse_input_size(in) == 3 && strcmp(muse_input_name(in), "m") == 0,
	    "memory input");
	muse_input_free(in);
	muse_input_free(NULL);

	/* Short text (under four bytes) is plain, not half a magic. */
	in = muse_input_mem("\x28\xB5", 2, "m", &e);
	r = muse_input_read(in, buf, sizeof(buf), &e);
	check(r == 2 && !muse_input_compressed(in), "two-byte input is plain");
	muse_input_free(in);

	/* Standard input, here a file put on descriptor 0. */
	snprintf(path, sizeof(path), "%s/stdin.csv", dir);
	write_file(path, "x,y\n1,2\n", 8);
	{
		int saved = dup(0), fd = open(path, O_RDONLY);
		char *got;

		if (saved >= 0 && fd >= 0 && dup2(fd, 0) == 0) {
			muse_err_clear(&e);
			in = muse_input_open("-", &e);
			check(in != NULL && strcmp(muse_input_name(in),
			    "<stdin>") == 0 && muse_input_size(in) == 8,
			    "\"-\" is standard input");
			muse_input_free(in);
			lseek(0, 0, SEEK_SET);
			muse_err_clear(&e);
			got = render_file(NULL, ',', &e);
			check(strcmp(got, "1+1:[x][y]\n2+1:[1][2]\n") == 0,
			    "NULL path reads standard input");
			free(got);
			check(fcntl(0, F_GETFD) != -1,
			    "standard input stays open after free");
			dup2(saved, 0);
		} else {
			check(0, "could not redirect standard input");
		}
		if (fd >= 0)
			close(fd);
		if (saved >= 0)
			close(saved);
	}

	/* A bad separator is refused and the input freed with the reader. */
	muse_err_clear(&e);
	in = muse_input_mem("a;b\n", 4, "m", &e);
	check(muse_csv_new(in, ';', &e) == NULL && e.code == MUSE_EUSAGE,
	    "separator ';' refused");
}

int main(void)
{
	char dir[] = "/tmp/test_csv.XXXXXX";
	char cmd[64];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_cases();
	test_resync();
	test_limits();
	test_random();
	test_windows();
	test_zstd(dir);
	test_zio(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return check_done("test_csv");
}
