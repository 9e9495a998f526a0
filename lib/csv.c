/*
 * csv.c - streaming RFC 4180 CSV and TSV reader.
 *
 * Design.  Input is read in large blocks (1 MiB) into one buffer and every
 * record is parsed in place: a field is a pointer into the buffer, its
 * terminator (separator, newline or closing quote) is overwritten with NUL,
 * and a quoted field with doubled quotes is compacted where it lies, which
 * only ever moves bytes towards the front.  Nothing is copied for the
 * common record, which is what makes the reader fast.
 *
 * Parsing a record has two phases.  The scan walks the bytes and records
 * where each field starts and ends without changing anything; only once
 * the record is known to be complete does the fix-up write the NULs and
 * compact quotes.  So when a record runs off the end of the buffer, the
 * scan can simply give up ("need more"), the partial record is moved to the
 * front of the buffer, more input is read after it (the buffer doubles when
 * the record alone fills it) and the record is scanned again from its
 * start.  A record is rescanned at most once per doubling plus once per
 * block boundary, so the total work stays linear in the input.
 *
 * An unquoted field stops at the separator, newline, quote (CSV only) or
 * NUL; a quoted one at a quote, newline (to count lines) or NUL.  Quoted
 * runs are scanned a byte at a time with a table lookup.  Unquoted runs,
 * the bulk of most files, are scanned 64 bytes at a time on x86-64: one
 * SSE2 pass makes a bit mask of the stop bytes, and each field's end is
 * the next set bit, so a whole record usually costs one mask (a byte loop
 * with a table lookup elsewhere).  The buffer always holds a NUL just
 * past its data, so the loops need no bounds test: a NUL at the end means
 * "need more", anywhere else it is a NUL byte in the input, which is
 * refused (fields are C strings).  SLACK zero bytes follow that NUL,
 * inside the allocation, so a window loaded at any position up to it is
 * within bounds and fully defined.
 *
 * Rules, beyond RFC 4180:
 *  - a record ends at LF; a CR directly before that LF belongs to the line
 *    end, any other CR is data (and identifiers refuse it later);
 *  - a completely empty line (nothing, or only CR, before the LF) is
 *    skipped rather than returned as a record with one empty field: every
 *    table has at least two columns, so such a line is never a row, and
 *    blank lines at the end of hand-edited files are common;
 *  - the last record need not end with a newline;
 *  - a quote inside an unquoted field, or anything but a separator or line
 *    end after a closing quote, is an error rather than being taken
 *    literally, because such input is usually a broken export and guessing
 *    would shift columns silently;
 *  - TSV has no quoting at all: a quote is an ordinary byte there;
 *  - a record may hold at most MUSE_CSV_MAX_FIELDS fields and
 *    MUSE_CSV_MAX_RECORD bytes (not counting its line end), so hostile
 *    input cannot make the buffer grow without bound.
 *
 * Errors carry the input's name and the line on which the record starts.
 * After a malformed record the reader resynchronises: the next call drops
 * the rest of the physical line on which the fault was found and carries
 * on after it, so a caller may skip bad records (muse-ingest --max-errors).
 * When the fault lies inside a quoted field that spans lines, the restart
 * point may fall inside that field; the text after it is then read as
 * records of its own, which the caller's column checks usually refuse in
 * turn.  An unterminated quoted field runs to the end of input, so nothing
 * follows it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "buf.h"
#include "csv.h"

#define BLOCK (1u << 20)
/* Bytes after the sentinel NUL that word loads may touch (kept zero). */
#define SLACK 64
/* The longest record plus CR LF: a full buffer of this size is an error. */
#define BUF_LIMIT ((size_t)MUSE_CSV_MAX_RECORD + 2)

/* What a scan ended with, besides the error codes. */
enum { SCAN_END = 0, SCAN_RECORD = 1, SCAN_MORE = 2 };

struct muse_csv {
	muse_input *in;
	int sep;
	int eof;             /* the input has no more bytes */
	uint8_t *buf;        /* cap + 1 + SLACK bytes; buf[len] is always NUL */
	size_t cap;
	size_t len;
	size_t pos;          /* where the next record (or blank line) starts */
	uint64_t line;       /* the line number at pos */
	int resync;          /* a malformed record was reported: skip ahead */
	size_t skip;         /* from here to the next LF is dropped */
	uint64_t skip_line;  /* the line number at skip */
	uint8_t stop[256];   /* nonzero: the byte ends an unquoted run */
	int quote;           /* '"' for CSV; for TSV, LF again (no quoting) */
	uint8_t qstop[256];  /* nonzero: the byte ends a quoted run */
	size_t fcap;         /* room in the field arrays */
	char **field;
	size_t *flen;
	uint8_t *dq;         /* the field holds doubled quotes to compact */
	struct muse_buf raw; /* the last record refused for its syntax */
};

/*
 * Reports a malformed record and arranges for the next call to resume
 * after the physical line on which the problem was found (at).  Nothing
 * in the buffer has been written yet, so the newlines before at can still
 * be counted to know that line's number.
 */
static int syntax_error(muse_csv *c, const uint8_t *at, struct muse_err *e,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int syntax_error(muse_csv *c, const uint8_t *at, struct muse_err *e,
	const char *fmt, ...)
{
	const uint8_t *p = c->buf + c->pos, *nl;
	char msg[128];
	va_list ap;

	c->skip_line = c->line;
	while ((nl = memchr(p, '\n', (size_t)(at - p))) != NULL) {
		c->skip_line++;
		p = nl + 1;
	}
	c->skip = (size_t)(at - c->buf);
	c->resync = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	muse_err_where(e, muse_input_name(c->in), c->line, UINT64_MAX);
	return muse_err_set(e, MUSE_EINPUT, "%s", msg);
}

static int too_long(muse_csv *c, const uint8_t *at, struct muse_err *e)
{
	return syntax_error(c, at, e, "record longer than %u MiB",
	    MUSE_CSV_MAX_RECORD >> 20);
}

static int nomem(muse_csv *c, struct muse_err *e)
{
	muse_err_where(e, muse_input_name(c->in), c->line, UINT64_MAX);
	return muse_err_set(e, MUSE_ENOMEM, "out of memory");
}

/*
 * Keeps the bytes from pos on, moved to the front, and reads more after
 * them; the buffer doubles when those bytes fill it.  0 or a negative code.
 */
static int refill(muse_csv *c, struct muse_err *e)
{
	size_t keep = c->len - c->pos;
	long n;

	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, keep);
		c->len = keep;
		c->pos = 0;
	}
	if (c->len == c->cap) {
		size_t cap = c->cap * 2;
		uint8_t *p;

		if (c->cap >= BUF_LIMIT)
			return too_long(c, c->buf + c->len, e);
		if (cap > BUF_LIMIT)
			cap = BUF_LIMIT;
		p = realloc(c->buf, cap + 1 + SLACK);
		if (p == NULL)
			return nomem(c, e);
		c->buf = p;
		c->cap = cap;
	}
	n = muse_input_read(c->in, c->buf + c->len, c->cap - c->len, e);
	if (n < 0) {
		/* A failed read may have written part of its output: put the
		 * sentinel the scanner relies on back in place. */
		memset(c->buf + c->len, 0, 1 + SLACK);
		return (int)n;
	}
	/* Reads are short only at the end of the input. */
	if ((size_t)n < c->cap - c->len)
		c->eof = 1;
	c->len += (size_t)n;
	memset(c->buf + c->len, 0, 1 + SLACK);
	return 0;
}

static int grow_fields(muse_csv *c, struct muse_err *e)
{
	size_t cap = c->fcap ? c->fcap * 2 : 64;
	char **f;
	size_t *l;
	uint8_t *d;

	if (cap > MUSE_CSV_MAX_FIELDS)
		cap = MUSE_CSV_MAX_FIELDS;
	f = realloc(c->field, cap * sizeof(*f));
	if (f == NULL)
		return nomem(c, e);
	c->field = f;
	l = realloc(c->flen, cap * sizeof(*l));
	if (l == NULL)
		return nomem(c, e);
	c->flen = l;
	d = realloc(c->dq, cap);
	if (d == NULL)
		return nomem(c, e);
	c->dq = d;
	c->fcap = cap;
	return 0;
}

/*
 * The stop bytes of an unquoted run (separator, LF, quote or NUL) among
 * the 64 bytes at p, as a bit mask (bit i: p[i]).  SSE2 is part of every
 * x86-64, so this needs no run-time dispatch; elsewhere the byte loop of
 * unquoted_end does the work.
 */
#ifdef __SSE2__
static inline uint64_t stop_mask(const muse_csv *c, const uint8_t *p)
{
	const __m128i sep = _mm_set1_epi8((char)c->sep);
	const __m128i nl = _mm_set1_epi8('\n');
	const __m128i quote = _mm_set1_epi8((char)c->quote);
	const __m128i zero = _mm_setzero_si128();
	uint64_t m = 0;

	for (int i = 0; i < 4; i++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)
		    (p + 16 * i));
		__m128i hit = _mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(x, sep), _mm_cmpeq_epi8(x, nl)),
		    _mm_or_si128(_mm_cmpeq_epi8(x, quote),
		    _mm_cmpeq_epi8(x, zero)));

		m |= (uint64_t)(uint16_t)_mm_movemask_epi8(hit) << (16 * i);
	}
	return m;
}
#endif

/*
 * The first byte at or after p that ends an unquoted run.  p may be
 * anywhere up to the sentinel.  *wb and *wm hold the last 64-byte window
 * looked at and its stop mask, so that the fields of a record, which lie
 * one after the other, mostly take one window between them; the caller
 * starts each scan with *wb NULL, as the buffer may have changed.
 */
static inline uint8_t *unquoted_end(const muse_csv *c, uint8_t *p,
	uint8_t **wb, uint64_t *wm)
{
#ifdef __SSE2__
	for (;;) {
		if (*wb != NULL && p >= *wb && p < *wb + 64) {
			uint64_t m = *wm >> (p - *wb);

			if (m)
				return p + __builtin_ctzll(m);
			p = *wb + 64;
		}
		*wb = p;
		*wm = stop_mask(c, p);
	}
#else
	(void)wb;
	(void)wm;
	while (!c->stop[*p])
		p++;
	return p;
#endif
}

/* Removes one quote of every doubled pair; returns the new length. */
static size_t compact_quotes(char *s, size_t n)
{
	char *r = memchr(s, '"', n), *w, *end = s + n;

	if (r == NULL)
		return n;
	w = r;
	while (r < end) {
		if (*r == '"')
			r++;    /* the first of a pair; keep the second */
		*w++ = *r++;
	}
	return (size_t)(w - s);
}

/*
 * Scans one record from pos.  Returns SCAN_RECORD with the record's fields
 * noted (nothing written yet) and *next just past its line end, SCAN_END at
 * the end of input, SCAN_MORE when the buffer ends first, or an error.
 */
static int scan(muse_csv *c, size_t *nfields, uint64_t *newlines,
	uint8_t **next, struct muse_err *e)
{
	uint8_t *p = c->buf + c->pos, *end = c->buf + c->len, *q, *rec, *rend;
	const uint8_t *qstop = c->qstop;
	const uint8_t sep = (uint8_t)c->sep;
	const int quoting = c->sep == ',';
	size_t nf = 0;
	uint64_t nl = 0, wm = 0;
	uint8_t *wb = NULL;

	/* Blank lines are consumed for good, so they never need a rescan. */
	for (;;) {
		if (p < end && *p == '\n') {
			p++;
			c->line++;
		} else if (p + 1 < end && p[0] == '\r' && p[1] == '\n') {
			p += 2;
			c->line++;
		} else {
			break;
		}
	}
	c->pos = (size_t)(p - c->buf);
	if (p == end)
		return c->eof ? SCAN_END : SCAN_MORE;
	/* A CR at the end of the buffer may be the start of a blank line. */
	if (*p == '\r' && p + 1 == end && !c->eof)
		return SCAN_MORE;

	rec = p;
	for (;;) {
		if (nf == c->fcap) {
			int r;

			if (nf == MUSE_CSV_MAX_FIELDS)
				return syntax_error(c, p, e,
				    "more than %d fields", MUSE_CSV_MAX_FIELDS);
			if ((r = grow_fields(c, e)) < 0)
				return r;
		}
		if (quoting && *p == '"') {
			int doubled = 0;

			q = p + 1;
			for (;;) {
				while (!qstop[*q])
					q++;
				if (*q == '"') {
					if (q + 1 == end) {
						if (!c->eof)
							return SCAN_MORE;
						break;
					}
					if (q[1] != '"')
						break;
					doubled = 1;
					q += 2;
				} else if (*q == '\n') {
					nl++;
					q++;
				} else if (q < end) {
					return syntax_error(c, q, e, "NUL byte");
				} else if (!c->eof) {
					return SCAN_MORE;
				} else {
					return syntax_error(c, q, e,
					    "unterminated quoted field");
				}
			}
			c->dq[nf] = (uint8_t)doubled;
			c->field[nf] = (char *)p + 1;
			c->flen[nf] = (size_t)(q - p - 1);
			nf++;
			/* q is the closing quote; only a separator or line end may follow. */
			q++;
			if (q == end) {
				rend = p = q;
				break;
			}
			if (*q == sep) {
				p = q + 1;
				continue;
			}
			if (*q == '\n') {
				rend = q;
				p = q + 1;
				break;
			}
			if (*q == '\r' && q + 1 == end && !c->eof)
				return SCAN_MORE;
			if (*q == '\r' && q + 1 < end && q[1] == '\n') {
				rend = q;
				p = q + 2;
				break;
			}
			if (*q == 0)
				return syntax_error(c, q, e, "NUL byte");
			return syntax_error(c, q, e,
			    "character after closing quote");
		}

		q = unquoted_end(c, p, &wb, &wm);
		c->field[nf] = (char *)p;
		c->dq[nf] = 0;
		if (*q == sep) {
			c->flen[nf++] = (size_t)(q - p);
			p = q + 1;
			continue;
		}
		if (*q == '\n') {
			rend = q > p && q[-1] == '\r' ? q - 1 : q;
			c->flen[nf++] = (size_t)(rend - p);
			p = q + 1;
			break;
		}
		if (*q == '"')
			return syntax_error(c, q, e,
			    "unexpected quote in unquoted field");
		if (q < end)
			return syntax_error(c, q, e, "NUL byte");
		if (!c->eof)
			return SCAN_MORE;
		c->flen[nf++] = (size_t)(q - p);
		rend = p = q;
		break;
	}
	if ((size_t)(rend - rec) > MUSE_CSV_MAX_RECORD)
		return too_long(c, rend, e);
	*nfields = nf;
	*newlines = nl;
	*next = p;
	return SCAN_RECORD;
}

/*
 * After a malformed record: drops input up to and including the next LF,
 * keeping the dropped bytes (without the line end, at most a record's
 * worth) for muse_csv_raw.
 */
static int resync(muse_csv *c, struct muse_err *e)
{
	size_t from = c->pos;

	c->raw.len = 0;
	for (;;) {
		uint8_t *nl = memchr(c->buf + c->skip, '\n', c->len - c->skip);
		size_t upto = nl ? (size_t)(nl - c->buf) : c->len;
		int r;

		if (c->raw.len + (upto - from) <= MUSE_CSV_MAX_RECORD &&
		    muse_buf_put(&c->raw, c->buf + from, upto - from))
			return nomem(c, e);
		if (nl != NULL) {
			c->pos = (size_t)(nl + 1 - c->buf);
			c->line = c->skip_line + 1;
			break;
		}
		c->pos = c->skip = c->len;
		if (c->eof) {
			c->line = c->skip_line;
			break;
		}
		if ((r = refill(c, e)) < 0)
			return r;
		c->skip = 0;
		from = 0;
	}
	if (c->raw.len && c->raw.p[c->raw.len - 1] == '\r')
		c->raw.len--;
	c->resync = 0;
	return 0;
}

const char *muse_csv_raw(const muse_csv *c, size_t *n)
{
	*n = c->raw.len;
	return (const char *)c->raw.p;
}

int muse_csv_next(muse_csv *c, struct muse_csv_row *row, struct muse_err *e)
{
	size_t nf = 0, i;
	uint64_t nl = 0;
	uint8_t *next = NULL;
	int r;

	while ((r = scan(c, &nf, &nl, &next, e)) == SCAN_MORE)
		if ((r = refill(c, e)) < 0)
			break;
	if (r < 0 && c->resync) {
		/* Skip the bad record now, so that its text can be kept. */
		struct muse_err e2;
		int r2;

		muse_err_clear(&e2);
		if ((r2 = resync(c, &e2)) < 0) {
			if (e)
				*e = e2;
			return r2;
		}
	}
	if (r != SCAN_RECORD)
		return r;
	for (i = 0; i < nf; i++) {
		if (c->dq[i])
			c->flen[i] = compact_quotes(c->field[i], c->flen[i]);
		c->field[i][c->flen[i]] = 0;
	}
	row->nfields = nf;
	row->field = c->field;
	row->len = c->flen;
	row->line = c->line;
	row->lines = 1 + nl;
	c->line += 1 + nl;
	c->pos = (size_t)(next - c->buf);
	return 1;
}

/* The first line decides: a tab before any comma means TSV. */
static int guess_sep(muse_csv *c, struct muse_err *e)
{
	size_t i = c->pos;
	int r;

	for (;;) {
		for (; i < c->len; i++)
			if (c->buf[i] == '\t' || c->buf[i] == ',' ||
			    c->buf[i] == '\n')
				return c->buf[i] == '\t' ? '\t' : ',';
		if (c->eof)
			return ',';
		i -= c->pos;
		if ((r = refill(c, e)) < 0)
			return r;
	}
}

muse_csv *muse_csv_new_bufsize(muse_input *in, int sep, size_t bufsize,
	struct muse_err *e)
{
	muse_csv *c;
	int r;

	if (sep != 0 && sep != ',' && sep != '\t') {
		muse_err_where(e, muse_input_name(in), 0, UINT64_MAX);
		muse_err_set(e, MUSE_EUSAGE, "separator must be ',' or tab");
		muse_input_free(in);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		muse_err_where(e, muse_input_name(in), 0, UINT64_MAX);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		muse_input_free(in);
		return NULL;
	}
	c->in = in;
	c->line = 1;
	c->cap = bufsize > 0 ? bufsize : 1;
	c->buf = malloc(c->cap + 1 + SLACK);
	if (c->buf == NULL) {
		nomem(c, e);
		goto fail;
	}
	memset(c->buf, 0, 1 + SLACK);
	/* The byte-order mark needs three bytes, however small the buffer. */
	while (c->len < 3 && !c->eof)
		if (refill(c, e) < 0)
			goto fail;
	if (c->len >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0)
		c->pos = 3;
	if (sep == 0 && (sep = guess_sep(c, e)) < 0)
		goto fail;
	c->sep = sep;
	c->stop[(uint8_t)sep] = 1;
	c->stop['\n'] = 1;
	c->stop[0] = 1;
	if (sep == ',')
		c->stop['"'] = 1;
	c->quote = sep == ',' ? '"' : '\n';
	c->qstop['"'] = 1;
	c->qstop['\n'] = 1;
	c->qstop[0] = 1;
	if ((r = grow_fields(c, e)) < 0)
		goto fail;
	return c;

fail:
	muse_csv_free(c);
	return NULL;
}

muse_csv *muse_csv_new(muse_input *in, int sep, struct muse_err *e)
{
	return muse_csv_new_bufsize(in, sep, BLOCK, e);
}

void muse_csv_free(muse_csv *c)
{
	if (c == NULL)
		return;
	muse_input_free(c->in);
	free(c->buf);
	free(c->field);
	free(c->flen);
	free(c->dq);
	muse_buf_free(&c->raw);
	free(c);
}

int muse_csv_sep(const muse_csv *c)
{
	return c->sep;
}

muse_input *muse_csv_input(muse_csv *c)
{
	return c->in;
}
