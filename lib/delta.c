/*
 * delta.c - deltas between stores, and the publishing directory.
 *
 * Design.  A store is a sorted sketch stream; a delta is a sorted stream
 * of upserts (a whole new record) and deletes (a key alone), one per key
 * that changed (muse-format(5), DELTA STREAMS).  Everything here is a
 * merge walk over sorted inputs, one record of each at a time, so memory
 * does not grow with the stores and a delta's size follows the keys that
 * changed:
 *
 *   diff   OLD and NEW in step: a key only in OLD is deleted, a key only
 *          in NEW or with other bytes is upserted; the reverse delta (NEW
 *          to OLD) falls out of the same walk.
 *   apply  a store and a delta in step; several deltas make a chain of
 *          such walks, each pulling records from the one below, so a
 *          store and any number of deltas become the result in one pass.
 *
 * Every input is a "source" handing out records in key order: a file
 * (store or delta), whose keys are checked to ascend and whose delta
 * records are decoded in full before use, or an applied delta over
 * another source.  A source advances lazily (only when asked for the next
 * record), so the record it handed out stays valid until then.
 *
 * Trust.  A delta names the version, content checksum and record count
 * of the state it starts from and of the state it produces.  Before a
 * byte is written, the footers of the deltas (read ahead, checksums
 * verified) must chain from the store's footer; at the end of the walk
 * the checksum of what was read (for stores without a footer) and of what
 * was produced must be the ones promised.  A failure anywhere leaves the
 * output uncommitted: callers write through a temporary file.
 *
 * Publishing.  One producer, many consumers, plain files (muse-delta(1),
 * "PUBLISHING"):
 *
 *   DIR/LATEST              "VERSION\n", replaced atomically, last
 *   DIR/snapshots/V.msk     every N versions: the whole store
 *   DIR/deltas/A-B.mdelta   from version A to B = A + 1, and back
 *   DIR/cache/V.msk         stores built for consumers (and the latest
 *                           version, by the producer); disposable
 *   DIR/.lock               flock(2)ed by the producer while it works
 *
 * A version's files are all in place before LATEST names it, and every
 * file appears by rename(2) of a synced temporary, so a reader never sees
 * a partial file and a producer killed at any point leaves the previous
 * version whole.
 */
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "delta.h"
#include "sketch.h"
#include "store.h"
#include "zio.h"

/* ------------------------------------------------------------------ */
/* Sources                                                              */
/* ------------------------------------------------------------------ */

enum { SRC_FILE, SRC_APPLY };

struct src {
	int type;
	uint8_t dims;
	struct muse_header h;
	/* the record handed out: its bytes (after a delta's op byte) */
	int have, started, ended;
	const uint8_t *rec;
	size_t n, keylen;
	struct muse_key key;
	int op;
	/* what this source handed out: count and content checksum */
	uint64_t count;
	XXH3_state_t *sum;
	/* SRC_FILE */
	muse_reader *r;
	int is_delta;
	struct muse_footer foot;
	struct muse_buf prev;      /* key bytes of the record before */
	int has_prev;
	struct muse_acc acc;       /* a delta's upserts are decoded in full */
	uint64_t upserts, deletes;
	/* SRC_APPLY */
	struct src *lower, *delta;
	int adv_lower, adv_delta;
	muse_writer *rev;          /* the reverse delta, when wanted */
	struct muse_buf scratch;
};

static int src_next(struct src *s, struct muse_err *e);

static int src_fail(struct src *s, struct muse_err *e, int code,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int src_fail(struct src *s, struct muse_err *e, int code,
	const char *fmt, ...)
{
	va_list ap;
	char msg[sizeof(e->msg)];
	struct src *f = s->type == SRC_FILE ? s : s->delta;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	muse_err_where(e, muse_reader_name(f->r), 0, UINT64_MAX);
	return muse_err_set(e, code, "%s", msg);
}

static void src_free(struct src *s)
{
	if (s == NULL)
		return;
	muse_reader_free(s->r);
	XXH3_freeState(s->sum);
	muse_buf_free(&s->prev);
	muse_buf_free(&s->scratch);
	muse_acc_free(&s->acc);
	free(s);
}

static struct src *src_alloc(int type, struct muse_err *e)
{
	struct src *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->sum = XXH3_createState()) == NULL) {
		free(s);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	XXH3_64bits_reset(s->sum);
	s->type = type;
	return s;
}

/* Adds one record, as stored (varint length, bytes), to a checksum. */
static void sum_record(XXH3_state_t *st, const uint8_t *p, size_t n)
{
	uint8_t v[10];
	size_t k = 0;
	uint64_t x = n;

	do {
		v[k++] = (uint8_t)(x & 0x7f) | (x > 0x7f ? 0x80 : 0);
		x >>= 7;
	} while (x);
	XXH3_64bits_update(st, v, k);
	XXH3_64bits_update(st, p, n);
}

/* What a source's records add up to, once it has ended. */
static uint64_t src_content(const struct src *s)
{
	return XXH3_64bits_digest(s->sum);
}

/* The version of the state a source hands out (0: a store without one). */
static uint64_t src_version(const struct src *s)
{
	if (s->type == SRC_APPLY)
		return s->delta->foot.to_version;
	return s->foot.present ? s->foot.version : 0;
}

/*
 * Opens a file source: path, or (mem, len) read in its place under that
 * name.  Reads the header; the caller checks the kind.
 */
static struct src *src_open(const char *path, const uint8_t *mem, size_t len,
	struct muse_err *e)
{
	struct src *s = src_alloc(SRC_FILE, e);
	muse_input *in;
	int rc;

	if (s == NULL)
		return NULL;
	in = mem ? muse_input_mem(mem, len, strcmp(path, "-") ? path :
	    "<stdin>", e) : muse_input_open(path, e);
	if (in == NULL || (s->r = muse_reader_new(in, e)) == NULL) {
		src_free(s);
		return NULL;
	}
	rc = muse_reader_next_stream(s->r, &s->h, e);
	if (rc == 0) {
		muse_err_where(e, muse_reader_name(s->r), 0, UINT64_MAX);
		muse_err_set(e, MUSE_ETRUNC, "empty input (no stream)");
	}
	if (rc <= 0) {
		src_free(s);
		return NULL;
	}
	s->dims = s->h.dims;
	s->is_delta = s->h.kind == MUSE_KIND_DELTA;
	if (s->is_delta && muse_acc_init(&s->acc, s->h.lgk)) {
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		src_free(s);
		return NULL;
	}
	return s;
}

/* Refuses a file source that is not of the kind wanted. */
static int src_want(struct src *s, int kind, struct muse_err *e)
{
	if (kind == MUSE_KIND_DELTA && s->h.kind != MUSE_KIND_DELTA)
		return src_fail(s, e, MUSE_EUSAGE, "not a delta (%s)",
		    s->h.kind == MUSE_KIND_SKETCH ? "a sketch stream: a store?" :
		    "an event stream");
	if (kind == MUSE_KIND_SKETCH && s->h.kind != MUSE_KIND_SKETCH)
		return src_fail(s, e, MUSE_EUSAGE, "not a store (%s)",
		    s->h.kind == MUSE_KIND_DELTA ? "a delta" :
		    "an event stream: run muse-sketch first");
	if (kind == MUSE_KIND_SKETCH && !(s->h.flags & MUSE_FLAG_SORTED))
		return src_fail(s, e, MUSE_EUSAGE,
		    "not a store (an unsorted sketch stream: muse-merge sorts it)");
	return 0;
}

/* The end of a file: its footer, and no second stream after it. */
static int file_end(struct src *s, struct muse_err *e)
{
	struct muse_header h;
	int rc;

	muse_reader_footer(s->r, &s->foot);
	s->have = 0;
	s->ended = 1;
	rc = muse_reader_next_stream(s->r, &h, e);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return src_fail(s, e, MUSE_EUSAGE, "more than one stream (%s)",
		    s->is_delta ? "one delta per file" :
		    "a store is one stream: muse-merge makes one");
	return 0;
}

static int file_next(struct src *s, struct muse_err *e)
{
	const uint8_t *p, *after;
	size_t n;
	int rc = muse_reader_next(s->r, &p, &n, e);

	if (rc < 0)
		return rc;
	if (rc == 0)
		return file_end(s, e);
	if (!s->is_delta)
		sum_record(s->sum, p, n);
	s->count++;
	if (s->is_delta) {
		if (n < 1 || (p[0] != MUSE_DELTA_UPSERT &&
		    p[0] != MUSE_DELTA_DELETE))
			return src_fail(s, e, MUSE_EFORMAT,
			    "record %" PRIu64 ": bad delta op %u", s->count,
			    n ? p[0] : 0);
		s->op = p[0];
		p++;
		n--;
	} else {
		s->op = MUSE_DELTA_UPSERT;
	}
	if (muse_key_decode(s->dims, p, p + n, &s->key, &after))
		return src_fail(s, e, MUSE_EFORMAT,
		    "record %" PRIu64 ": malformed key", s->count);
	s->keylen = (size_t)(after - p);
	if (s->is_delta && s->op == MUSE_DELTA_DELETE) {
		if (after != p + n)
			return src_fail(s, e, MUSE_EFORMAT, "record %" PRIu64
			    ": a delete with bytes after its key", s->count);
		s->deletes++;
	} else if (s->is_delta) {
		struct muse_key k;
		struct muse_err sub;

		muse_err_clear(&sub);
		muse_acc_clear(&s->acc);
		if ((rc = muse_rec_decode(&s->h, p, n, &k, &s->acc, &sub)))
			return src_fail(s, e, rc, "record %" PRIu64 ": %s",
			    s->count, sub.msg);
		s->upserts++;
	}
	if (s->has_prev) {
		struct muse_key pk;
		const uint8_t *x;

		muse_key_decode(s->dims, s->prev.p, s->prev.p + s->prev.len, &pk,
		    &x);
		if (muse_key_cmp(s->dims, &pk, &s->key) >= 0)
			return src_fail(s, e, MUSE_EFORMAT, "record %" PRIu64
			    ": keys out of order", s->count);
	}
	s->prev.len = 0;
	if (muse_buf_put(&s->prev, p, s->keylen))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	s->has_prev = 1;
	s->rec = p;
	s->n = n;
	s->have = 1;
	return 1;
}

static int put_op(muse_writer *w, struct muse_buf *b, int op,
	const uint8_t *p, size_t n, struct muse_err *e)
{
	b->len = 0;
	if (muse_buf_put_u8(b, (uint8_t)op) || muse_buf_put(b, p, n))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	return muse_writer_add(w, b->p, b->len, e);
}

static void hex(uint64_t v, char buf[17])
{
	snprintf(buf, 17, "%016" PRIx64, v);
}

/*
 * The end of an applied delta: what it read must be the state it starts
 * from (this is where a store read from a pipe, whose footer comes last,
 * is checked), and what it produced the state it promises.
 */
static int apply_end(struct src *s, struct muse_err *e)
{
	const struct muse_footer *f = &s->delta->foot;
	struct src *lo = s->lower;
	char a[17], b[17];

	s->have = 0;
	s->ended = 1;
	if (src_version(lo) != f->from_version ||
	    src_content(lo) != f->from_content || lo->count != f->from_records) {
		hex(f->from_content, a);
		hex(src_content(lo), b);
		return src_fail(s, e, MUSE_EUSAGE, "delta starts from version %"
		    PRIu64 " (checksum %s), %s version %" PRIu64 " (checksum %s)",
		    f->from_version, a, lo->type == SRC_FILE ? "store is" :
		    "the delta before it ends at", src_version(lo), b);
	}
	if (src_content(s) != f->to_content || s->count != f->to_records) {
		hex(src_content(s), a);
		hex(f->to_content, b);
		return src_fail(s, e, MUSE_ECHECKSUM, "the result (checksum %s, %"
		    PRIu64 " records) is not the delta's target (checksum %s, %"
		    PRIu64 " records)", a, s->count, b, f->to_records);
	}
	return 0;
}

static int apply_next(struct src *s, struct muse_err *e)
{
	struct src *lo = s->lower, *d = s->delta;
	struct src *out;
	int rc;

	if (s->adv_lower && (rc = src_next(lo, e)) < 0)
		return rc;
	if (s->adv_delta && (rc = src_next(d, e)) < 0)
		return rc;
	s->adv_lower = s->adv_delta = 0;
	for (;;) {
		int c;

		if (!lo->have && !d->have)
			return apply_end(s, e);
		c = !lo->have ? 1 : !d->have ? -1 :
		    muse_key_cmp(s->dims, &lo->key, &d->key);
		if (c < 0) {
			out = lo;
			s->adv_lower = 1;
			break;
		}
		if (d->op == MUSE_DELTA_DELETE) {
			if (c > 0)
				return src_fail(s, e, MUSE_EFORMAT, "record %" PRIu64
				    " deletes a key that the store does not have",
				    d->count);
			if (s->rev && (rc = put_op(s->rev, &s->scratch,
			    MUSE_DELTA_UPSERT, lo->rec, lo->n, e)))
				return rc;
			if ((rc = src_next(lo, e)) < 0 || (rc = src_next(d, e)) < 0)
				return rc;
			continue;
		}
		if (s->rev && c > 0)
			rc = put_op(s->rev, &s->scratch, MUSE_DELTA_DELETE, d->rec,
			    d->keylen, e);
		else if (s->rev && (lo->n != d->n || memcmp(lo->rec, d->rec,
		    d->n) != 0))
			rc = put_op(s->rev, &s->scratch, MUSE_DELTA_UPSERT, lo->rec,
			    lo->n, e);
		else
			rc = 0;
		if (rc)
			return rc;
		out = d;
		s->adv_delta = 1;
		s->adv_lower = c == 0;
		break;
	}
	s->rec = out->rec;
	s->n = out->n;
	s->keylen = out->keylen;
	s->key = out->key;
	s->op = MUSE_DELTA_UPSERT;
	s->have = 1;
	s->count++;
	sum_record(s->sum, s->rec, s->n);
	return 1;
}

/* 1 and the next record in s->rec, 0 at the (verified) end, or an error. */
static int src_next(struct src *s, struct muse_err *e)
{
	if (s->ended)
		return 0;
	s->started = 1;
	return s->type == SRC_FILE ? file_next(s, e) : apply_next(s, e);
}

/* A delta applied over another source; takes neither. */
static struct src *src_apply(struct src *lower, struct src *delta,
	muse_writer *rev, struct muse_err *e)
{
	struct src *s = src_alloc(SRC_APPLY, e);

	if (s == NULL)
		return NULL;
	s->lower = lower;
	s->delta = delta;
	s->h = lower->h;
	s->dims = lower->dims;
	s->rev = rev;
	/* The first call primes both inputs. */
	s->adv_lower = !lower->started;
	s->adv_delta = 1;
	return s;
}

/* ------------------------------------------------------------------ */
/* Reading ahead: a delta's footer, a store's footer                    */
/* ------------------------------------------------------------------ */

/* A delta read ahead: its header, its footer, and its bytes if piped. */
struct ahead {
	const char *path;
	struct muse_header h;
	struct muse_footer f;
	struct muse_buf mem;       /* standard input, kept for the walk */
	int piped;
};

static int slurp_stdin(struct muse_buf *b, struct muse_err *e)
{
	muse_input *in = muse_input_open("-", e);
	long k;

	if (in == NULL)
		return e->code;
	for (;;) {
		if (muse_buf_reserve(b, 1 << 16)) {
			muse_input_free(in);
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		}
		k = muse_input_read(in, b->p + b->len, 1 << 16, e);
		if (k <= 0)
			break;
		b->len += (size_t)k;
	}
	muse_input_free(in);
	return k < 0 ? (int)k : 0;
}

/*
 * Reads a delta through to its trailer, checking every block checksum
 * without decompressing, for its footer.  The walk later reads it again
 * and checks the rest.
 */
static int read_ahead(struct ahead *a, const char *path, struct muse_err *e)
{
	struct src *s;
	int rc;

	memset(a, 0, sizeof(*a));
	a->path = path;
	if (strcmp(path, "-") == 0) {
		a->piped = 1;
		if ((rc = slurp_stdin(&a->mem, e)))
			return rc;
	}
	s = src_open(path, a->piped ? (a->mem.p ? a->mem.p : (uint8_t *)"") :
	    NULL, a->mem.len, e);
	if (s == NULL)
		return e->code;
	if ((rc = src_want(s, MUSE_KIND_DELTA, e)) == 0 &&
	    (rc = muse_reader_skip_stream(s->r, e)) == 0)
		rc = file_end(s, e);
	a->h = s->h;
	a->f = s->foot;
	src_free(s);
	return rc;
}

static void ahead_free(struct ahead *a)
{
	muse_buf_free(&a->mem);
}

static struct src *ahead_open(struct ahead *a, struct muse_err *e)
{
	return src_open(a->path, a->piped ? (a->mem.p ? a->mem.p :
	    (uint8_t *)"") : NULL, a->mem.len, e);
}

/*
 * What a store file's footer says, without reading the file: 1 and the
 * fields, 0 when it cannot tell (a pipe, no footer), or an error.
 */
static int store_ahead(const char *path, uint64_t *version, uint64_t *content,
	uint64_t *records, struct muse_err *e)
{
	muse_store *st;

	if (strcmp(path, "-") == 0)
		return 0;
	if ((st = muse_store_open(path, e)) == NULL)
		return e->code;
	*version = muse_store_version(st);
	*content = muse_store_content(st);
	*records = muse_store_records(st);
	muse_store_free(st);
	return 1;
}

/*
 * Roll-ups are made again from each new version of their day store
 * (muse-merge --rollup), never patched: a patched roll-up would still
 * name the version it was made from.
 */
static int not_rollup(const struct src *s, struct muse_err *e)
{
	if (s->h.src_content == 0)
		return 0;
	muse_err_where(e, muse_reader_name(s->r), 0, UINT64_MAX);
	return muse_err_set(e, MUSE_EUSAGE, "a roll-up of version %" PRIu64
	    " of a store: deltas are for day stores; make the roll-up again "
	    "from the new version with muse-merge --rollup",
	    s->h.src_version);
}

/* A delta's schema against a store's (kinds aside). */
static int schema_check(const struct muse_header *store,
	const struct ahead *a, struct muse_err *e)
{
	struct muse_header h = a->h;

	h.kind = store->kind;
	h.flags = store->flags;
	if (muse_header_compatible(store, &h, e)) {
		muse_err_where(e, strcmp(a->path, "-") ? a->path : "<stdin>", 0,
		    UINT64_MAX);
		return e->code;
	}
	return 0;
}

static int chain_fail(const char *path, struct muse_err *e,
	const struct muse_footer *f, const char *what, uint64_t version,
	uint64_t content)
{
	char a[17], b[17];

	hex(f->from_content, a);
	hex(content, b);
	muse_err_where(e, strcmp(path, "-") ? path : "<stdin>", 0, UINT64_MAX);
	return muse_err_set(e, MUSE_EUSAGE, "delta starts from version %" PRIu64
	    " (checksum %s), %s version %" PRIu64 " (checksum %s)",
	    f->from_version, a, what, version, b);
}

/* ------------------------------------------------------------------ */
/* Operations                                                           */
/* ------------------------------------------------------------------ */

static muse_writer *new_writer(const struct muse_delta_out *o,
	const struct muse_header *base, int kind, struct muse_err *e)
{
	struct muse_header h = *base;

	if (o == NULL || o->fp == NULL)
		return NULL;
	h.kind = (uint8_t)kind;
	h.flags = MUSE_FLAG_SORTED;
	return muse_writer_new(o->fp, o->name, &h, 0, e);
}

static int wanted(const struct muse_delta_out *o)
{
	return o != NULL && o->fp != NULL;
}

static void fill_info(struct muse_delta_info *info, const struct muse_header *h,
	uint64_t from_version, uint64_t from_content, uint64_t from_records,
	uint64_t to_version, uint64_t to_content, uint64_t to_records)
{
	if (info == NULL)
		return;
	info->h = *h;
	info->from_version = from_version;
	info->from_content = from_content;
	info->from_records = from_records;
	info->to_version = to_version;
	info->to_content = to_content;
	info->to_records = to_records;
}

int muse_delta_diff(const char *old_path, const char *new_path,
	int set_version, uint64_t to_version, const struct muse_delta_out *fwd,
	const struct muse_delta_out *rev, const struct muse_delta_out *copy,
	struct muse_delta_info *info, const struct muse_progress_hook *progress,
	struct muse_err *e)
{
	struct src *a = NULL, *b = NULL;
	muse_writer *wf = NULL, *wr = NULL, *wc = NULL;
	struct muse_buf scratch = { 0 };
	uint64_t ups = 0, dels = 0, from_v, to_v;
	uint64_t total = MUSE_COUNT_UNKNOWN, next = MUSE_PROGRESS_EVERY;
	int rc = 0;

	muse_err_clear(e);
	if (info)
		memset(info, 0, sizeof(*info));
	if ((a = src_open(old_path, NULL, 0, e)) == NULL ||
	    (rc = src_want(a, MUSE_KIND_SKETCH, e)) ||
	    (b = src_open(new_path, NULL, 0, e)) == NULL ||
	    (rc = src_want(b, MUSE_KIND_SKETCH, e)))
		goto out;
	if ((rc = muse_header_compatible(&a->h, &b->h, e))) {
		muse_err_where(e, muse_reader_name(b->r), 0, UINT64_MAX);
		goto out;
	}
	if ((rc = not_rollup(a, e)) || (rc = not_rollup(b, e)))
		goto out;
	if ((wanted(fwd) && (wf = new_writer(fwd, &a->h, MUSE_KIND_DELTA,
	    e)) == NULL) || (wanted(rev) && (wr = new_writer(rev, &a->h,
	    MUSE_KIND_DELTA, e)) == NULL) || (wanted(copy) &&
	    (wc = new_writer(copy, &a->h, MUSE_KIND_SKETCH, e)) == NULL))
		goto out;
	if (progress != NULL && progress->fn != NULL) {
		struct muse_err pe;
		uint64_t v, c, ra, rb;

		/* Both counts from the stores' footers, when they have them. */
		muse_err_clear(&pe);
		if (store_ahead(old_path, &v, &c, &ra, &pe) == 1 &&
		    store_ahead(new_path, &v, &c, &rb, &pe) == 1)
			total = ra + rb;
		muse_progress_report(progress, "comparing records", 0, total);
	}
	if ((rc = src_next(a, e)) < 0 || (rc = src_next(b, e)) < 0)
		goto out;
	while (a->have || b->have) {
		int c = !a->have ? 1 : !b->have ? -1 :
		    muse_key_cmp(a->dims, &a->key, &b->key);

		rc = 0;
		if (a->count + b->count >= next) {
			muse_progress_report(progress, "comparing records",
			    a->count + b->count, total);
			next = a->count + b->count + MUSE_PROGRESS_EVERY;
		}
		if (c < 0) {
			dels++;
			if ((wf && (rc = put_op(wf, &scratch, MUSE_DELTA_DELETE,
			    a->rec, a->keylen, e))) || (wr && (rc = put_op(wr,
			    &scratch, MUSE_DELTA_UPSERT, a->rec, a->n, e))))
				goto out;
		} else if (c > 0 || a->n != b->n ||
		    memcmp(a->rec, b->rec, a->n) != 0) {
			ups++;
			if ((wf && (rc = put_op(wf, &scratch, MUSE_DELTA_UPSERT,
			    b->rec, b->n, e))) || (wr && (rc = put_op(wr, &scratch,
			    c > 0 ? MUSE_DELTA_DELETE : MUSE_DELTA_UPSERT,
			    c > 0 ? b->rec : a->rec, c > 0 ? b->keylen : a->n, e))))
				goto out;
		}
		if (c >= 0 && wc && (rc = muse_writer_add(wc, b->rec, b->n, e)))
			goto out;
		if ((c <= 0 && (rc = src_next(a, e)) < 0) ||
		    (c >= 0 && (rc = src_next(b, e)) < 0))
			goto out;
	}
	from_v = src_version(a);
	if (set_version) {
		to_v = to_version;
	} else if (src_version(b) > from_v) {
		to_v = src_version(b);
	} else if (from_v == UINT64_MAX) {
		muse_err_where(e, muse_reader_name(a->r), 0, UINT64_MAX);
		rc = muse_err_set(e, MUSE_ELIMIT, "no version after %" PRIu64,
		    from_v);
		goto out;
	} else {
		to_v = from_v + 1;
	}
	if (wf)
		muse_writer_set_delta(wf, from_v, src_content(a), a->count, to_v,
		    src_content(b), b->count);
	if (wr)
		muse_writer_set_delta(wr, to_v, src_content(b), b->count, from_v,
		    src_content(a), a->count);
	if (wc)
		muse_writer_set_version(wc, to_v);
	if ((wf && (rc = muse_writer_finish(wf, e))) ||
	    (wr && (rc = muse_writer_finish(wr, e))) ||
	    (wc && (rc = muse_writer_finish(wc, e))))
		goto out;
	muse_progress_report(progress, "comparing records", a->count + b->count,
	    total);
	fill_info(info, &a->h, from_v, src_content(a), a->count, to_v,
	    src_content(b), b->count);
	if (info) {
		info->upserts = ups;
		info->deletes = dels;
		info->records = ups + dels;
		info->version = to_v;
	}
	rc = 0;
out:
	if (rc == 0 && e->code)
		rc = e->code;
	muse_writer_free(wf);
	muse_writer_free(wr);
	muse_writer_free(wc);
	muse_buf_free(&scratch);
	src_free(a);
	src_free(b);
	return rc;
}

int muse_delta_apply(const char *store_path, const char *const *deltas,
	size_t n, const struct muse_delta_out *out,
	const struct muse_delta_out *rev, struct muse_delta_info *info,
	const struct muse_progress_hook *progress, struct muse_err *e)
{
	struct ahead *ah = NULL;
	struct src *base = NULL, **lv = NULL, **dl = NULL, *top;
	muse_writer *w = NULL, *wr = NULL;
	uint64_t v = 0, c = 0, r = 0;
	size_t opened = 0;
	int rc = 0;

	muse_err_clear(e);
	if (info)
		memset(info, 0, sizeof(*info));
	if (n == 0 || (wanted(rev) && n != 1))
		return muse_err_set(e, MUSE_EUSAGE, n ? "a reverse delta needs "
		    "exactly one delta" : "no delta to apply");
	if ((ah = calloc(n, sizeof(*ah))) == NULL ||
	    (lv = calloc(n, sizeof(*lv))) == NULL ||
	    (dl = calloc(n, sizeof(*dl))) == NULL) {
		rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		goto out;
	}
	/* Everything that can be checked before a byte is written. */
	if ((base = src_open(store_path, NULL, 0, e)) == NULL ||
	    (rc = src_want(base, MUSE_KIND_SKETCH, e)) ||
	    (rc = not_rollup(base, e)))
		goto out;
	for (opened = 0; opened < n; opened++) {
		if ((rc = read_ahead(&ah[opened], deltas[opened], e)) ||
		    (rc = schema_check(&base->h, &ah[opened], e)))
			goto out;
	}
	if ((rc = store_ahead(store_path, &v, &c, &r, e)) < 0)
		goto out;
	if (rc == 1 && (v != ah[0].f.from_version ||
	    c != ah[0].f.from_content || r != ah[0].f.from_records)) {
		rc = chain_fail(deltas[0], e, &ah[0].f, "store is", v, c);
		goto out;
	}
	for (size_t i = 1; i < n; i++) {
		const struct muse_footer *p = &ah[i - 1].f, *f = &ah[i].f;

		if (f->from_version != p->to_version ||
		    f->from_content != p->to_content ||
		    f->from_records != p->to_records) {
			rc = chain_fail(deltas[i], e, f, "the delta before it ends at",
			    p->to_version, p->to_content);
			goto out;
		}
	}
	muse_err_clear(e);
	/* The walk: each delta over the result of the ones before. */
	if (wanted(rev) && (wr = new_writer(rev, &base->h, MUSE_KIND_DELTA,
	    e)) == NULL) {
		rc = e->code;
		goto out;
	}
	top = base;
	for (size_t i = 0; i < n; i++) {
		if ((dl[i] = ahead_open(&ah[i], e)) == NULL) {
			rc = e->code;
			goto out;
		}
		if ((rc = src_want(dl[i], MUSE_KIND_DELTA, e)))
			goto out;
		if ((lv[i] = src_apply(top, dl[i], i == 0 ? wr : NULL, e)) == NULL) {
			rc = e->code;
			goto out;
		}
		top = lv[i];
	}
	if (wanted(out) && (w = new_writer(out, &base->h, MUSE_KIND_SKETCH,
	    e)) == NULL) {
		rc = e->code;
		goto out;
	}
	muse_progress_report(progress, "applying deltas", 0,
	    ah[n - 1].f.to_records);
	while ((rc = src_next(top, e)) == 1) {
		if (top->count % MUSE_PROGRESS_EVERY == 0)
			muse_progress_report(progress, "applying deltas", top->count,
			    ah[n - 1].f.to_records);
		if (w && (rc = muse_writer_add(w, top->rec, top->n, e)))
			goto out;
	}
	if (rc < 0)
		goto out;
	muse_progress_report(progress, "applying deltas", top->count,
	    ah[n - 1].f.to_records);
	/* A delta read twice must have said the same both times. */
	for (size_t i = 0; i < n; i++)
		if (memcmp(&dl[i]->foot, &ah[i].f, sizeof(ah[i].f)) != 0) {
			rc = src_fail(dl[i], e, MUSE_EIO,
			    "input changed while it was being read");
			goto out;
		}
	if (w) {
		muse_writer_set_version(w, src_version(top));
		if ((rc = muse_writer_finish(w, e)))
			goto out;
	}
	if (wr) {
		const struct muse_footer *f = &dl[0]->foot;

		muse_writer_set_delta(wr, f->to_version, f->to_content,
		    f->to_records, src_version(base), src_content(base),
		    base->count);
		if ((rc = muse_writer_finish(wr, e)))
			goto out;
	}
	fill_info(info, &base->h, src_version(base), src_content(base),
	    base->count, src_version(top), src_content(top), top->count);
	if (info) {
		info->version = src_version(top);
		info->content = src_content(top);
		info->records = top->count;
	}
out:
	muse_writer_free(w);
	muse_writer_free(wr);
	for (size_t i = 0; lv && i < n; i++) {
		src_free(lv[i]);
		src_free(dl[i]);
	}
	for (size_t i = 0; ah && i < n; i++)
		ahead_free(&ah[i]);
	src_free(base);
	free(ah);
	free(lv);
	free(dl);
	return rc;
}

int muse_delta_stamp(const char *store_path, uint64_t version,
	const struct muse_delta_out *out, struct muse_err *e)
{
	struct src *s;
	muse_writer *w = NULL;
	int rc;

	if ((s = src_open(store_path, NULL, 0, e)) == NULL)
		return e->code;
	if ((rc = src_want(s, MUSE_KIND_SKETCH, e)) == 0 &&
	    (w = new_writer(out, &s->h, MUSE_KIND_SKETCH, e)) == NULL)
		rc = e->code;
	while (rc == 0 && (rc = src_next(s, e)) == 1)
		rc = muse_writer_add(w, s->rec, s->n, e);
	if (rc == 0) {
		muse_writer_set_version(w, version);
		rc = muse_writer_finish(w, e);
	}
	muse_writer_free(w);
	src_free(s);
	return rc;
}

int muse_delta_info(const char *path, struct muse_delta_info *info,
	struct muse_err *e)
{
	struct src *s;
	int rc;

	memset(info, 0, sizeof(*info));
	if ((s = src_open(path, NULL, 0, e)) == NULL)
		return e->code;
	if ((rc = src_want(s, s->is_delta ? MUSE_KIND_DELTA : MUSE_KIND_SKETCH,
	    e)) == 0)
		while ((rc = src_next(s, e)) == 1)
			;
	if (rc == 0) {
		info->h = s->h;
		info->records = s->count;
		info->content = s->is_delta ? s->foot.content : src_content(s);
		info->version = src_version(s);
		info->upserts = s->upserts;
		info->deletes = s->deletes;
		if (s->is_delta)
			fill_info(info, &s->h, s->foot.from_version,
			    s->foot.from_content, s->foot.from_records,
			    s->foot.to_version, s->foot.to_content,
			    s->foot.to_records);
	}
	src_free(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Files replaced whole                                                 */
/* ------------------------------------------------------------------ */

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	if ((d = malloc((size_t)(slash - path) + 1)) != NULL) {
		memcpy(d, path, (size_t)(slash - path));
		d[slash - path] = '\0';
	}
	return d;
}

/*
 * "DIR/.BASE.tmp.PID.TAG" for the file at path: hidden from "*.msk", and
 * unique among the files a process has open at once when TAG is one of
 * its descriptors.
 */
static char *hidden_temp(const char *path, int tag)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t n = strlen(path) + 48;
	char *t = malloc(n);

	if (t != NULL)
		snprintf(t, n, "%.*s.%s.tmp.%ld.%d", slash ? (int)(slash - path +
		    1) : 0, path, base, (long)getpid(), tag);
	return t;
}

static int sync_dir(const char *path)
{
	char *d = dir_of(path);
	int fd, rc = 0;

	if (d == NULL)
		return ENOMEM;
	fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(d);
	if (fd < 0)
		return errno;
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = errno;
	close(fd);
	return rc;
}

static int file_err(struct muse_err *e, const char *path, const char *what,
	int err)
{
	muse_err_where(e, path, 0, UINT64_MAX);
	muse_err_set(e, MUSE_EIO, "%s: %s", what, strerror(err));
	e->sys_errno = err;
	return MUSE_EIO;
}

int muse_delta_file_open(struct muse_delta_file *f, const char *path,
	struct muse_err *e)
{
	struct stat st;
	char *d;
	int fd = -1, err;

	memset(f, 0, sizeof(*f));
	if ((f->path = strdup(path)) == NULL || (d = dir_of(path)) == NULL) {
		free(f->path);
		f->path = NULL;
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	/* Unnamed until commit, when /proc lets it be linked. */
#ifdef O_TMPFILE
	if (access("/proc/self/fd", X_OK) == 0)
		fd = open(d, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
#endif
	free(d);
	/* Else a hidden name of its own, found with O_EXCL. */
	for (int tag = 0; fd < 0 && tag < 1000; tag++) {
		free(f->tmp);
		if ((f->tmp = hidden_temp(path, tag)) == NULL) {
			muse_delta_file_abort(f);
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		}
		fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		err = errno;
		free(f->tmp);
		f->tmp = NULL;
		muse_delta_file_abort(f);
		return file_err(e, path, "cannot create", err);
	}
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		(void)fchmod(fd, st.st_mode & 07777);
	if ((f->fp = fdopen(fd, "wb")) == NULL) {
		err = errno;
		close(fd);
		muse_delta_file_abort(f);
		return file_err(e, path, "cannot create", err);
	}
	return 0;
}

int muse_delta_file_commit(struct muse_delta_file *f, struct muse_err *e)
{
	int err = 0;

	if (fflush(f->fp) != 0 || ferror(f->fp) || fsync(fileno(f->fp)) != 0)
		err = errno ? errno : EIO;
	if (err == 0 && f->tmp == NULL) {
		char proc[64];

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fileno(f->fp));
		if ((f->tmp = hidden_temp(f->path, fileno(f->fp))) == NULL) {
			err = ENOMEM;
		} else {
			unlink(f->tmp);
			if (linkat(AT_FDCWD, proc, AT_FDCWD, f->tmp,
			    AT_SYMLINK_FOLLOW) != 0) {
				err = errno;
				free(f->tmp);
				f->tmp = NULL;
			}
		}
	}
	if (fclose(f->fp) != 0 && err == 0)
		err = errno ? errno : EIO;
	f->fp = NULL;
	if (err == 0 && rename(f->tmp, f->path) != 0)
		err = errno;
	if (err == 0) {
		free(f->tmp);
		f->tmp = NULL;
		err = sync_dir(f->path);
	}
	if (err) {
		file_err(e, f->path, "write error", err);
		muse_delta_file_abort(f);
		return MUSE_EIO;
	}
	free(f->path);
	f->path = NULL;
	return 0;
}

void muse_delta_file_abort(struct muse_delta_file *f)
{
	if (f->fp != NULL)
		fclose(f->fp);
	f->fp = NULL;
	if (f->tmp != NULL)
		unlink(f->tmp);
	free(f->tmp);
	free(f->path);
	f->tmp = f->path = NULL;
}

/* ------------------------------------------------------------------ */
/* Publishing                                                           */
/* ------------------------------------------------------------------ */

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *pathf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (p = malloc((size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/* A strict decimal of s[0..n): no sign, no leading zero, no overflow. */
static int parse_version(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

/* 1 and *v from DIR/LATEST, 0 when there is none yet, or an error. */
static int read_latest(const char *dir, uint64_t *v, struct muse_err *e)
{
	char *p = pathf("%s/LATEST", dir);
	char buf[32];
	ssize_t n;
	int fd, err;

	if (p == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		err = errno;
		if (err == ENOENT) {
			struct stat st;

			free(p);
			if (stat(dir, &st) != 0)
				return file_err(e, dir, "cannot open", errno);
			if (!S_ISDIR(st.st_mode))
				return file_err(e, dir, "cannot open", ENOTDIR);
			return 0;
		}
		file_err(e, p, "cannot open", err);
		free(p);
		return MUSE_EIO;
	}
	n = read(fd, buf, sizeof(buf));
	err = errno;
	close(fd);
	if (n < 0) {
		file_err(e, p, "read error", err);
		free(p);
		return MUSE_EIO;
	}
	if (n < 2 || buf[n - 1] != '\n' || parse_version(buf, (size_t)n - 1, v) ||
	    *v == 0) {
		muse_err_where(e, p, 0, UINT64_MAX);
		free(p);
		return muse_err_set(e, MUSE_EFORMAT,
		    "not a version number and a newline");
	}
	free(p);
	return 1;
}

int muse_publish_latest(const char *dir, uint64_t *version,
	struct muse_err *e)
{
	int rc = read_latest(dir, version, e);

	if (rc == 0) {
		muse_err_where(e, dir, 0, UINT64_MAX);
		muse_err_set(e, MUSE_EIO, "nothing published yet (no LATEST)");
		e->sys_errno = ENOENT;
		return MUSE_EIO;
	}
	return rc < 0 ? rc : 0;
}

/* The versions of the "V.msk" files of a directory, ascending. */
static int list_versions(const char *dir, uint64_t **out, size_t *n,
	struct muse_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (d == NULL)
		return errno == ENOENT ? 0 : file_err(e, dir, "cannot read", errno);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		uint64_t v;

		if (len < 5 || strcmp(de->d_name + len - 4, ".msk") != 0 ||
		    parse_version(de->d_name, len - 4, &v))
			continue;
		if (*n == cap) {
			uint64_t *x = realloc(*out, (cap = cap ? cap * 2 : 16) *
			    sizeof(*x));

			if (x == NULL) {
				closedir(d);
				free(*out);
				*out = NULL;
				return muse_err_set(e, MUSE_ENOMEM, "out of memory");
			}
			*out = x;
		}
		(*out)[(*n)++] = v;
	}
	closedir(d);
	for (size_t i = 1; i < *n; i++)          /* a few dozen: insertion */
		for (size_t j = i; j > 0 && (*out)[j - 1] > (*out)[j]; j--) {
			uint64_t t = (*out)[j];

			(*out)[j] = (*out)[j - 1];
			(*out)[j - 1] = t;
		}
	return 0;
}

/*
 * 1 when path is a whole store of that version, 0 when there is no such
 * file (or, for a cache, one that is not it), or an error.
 */
static int have_store(const char *path, uint64_t version, int strict,
	struct muse_err *e)
{
	muse_store *st;
	int ok;

	if (access(path, F_OK) != 0)
		return 0;
	if ((st = muse_store_open(path, e)) == NULL) {
		if (!strict)
			return 0;
		if (e->code == MUSE_OK) {
			muse_err_where(e, path, 0, UINT64_MAX);
			muse_err_set(e, MUSE_EFORMAT, "not a store with a footer");
		}
		return e->code;
	}
	ok = muse_store_version(st) == version;
	muse_store_free(st);
	if (!ok && strict) {
		muse_err_where(e, path, 0, UINT64_MAX);
		return muse_err_set(e, MUSE_EFORMAT,
		    "snapshot does not carry version %" PRIu64, version);
	}
	return ok;
}

/*
 * Where this process keeps the stores it builds: DIR/cache when it may
 * write there, else a directory of its own under $TMPDIR named after
 * DIR's device and inode.
 */
static char *cache_dir(const char *dir, struct muse_err *e)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st, own;
	char *c = pathf("%s/cache", dir);

	if (c == NULL)
		goto nomem;
	if ((mkdir(c, 0777) == 0 || errno == EEXIST) && access(c, W_OK) == 0)
		return c;
	free(c);
	if (stat(dir, &st) != 0) {
		file_err(e, dir, "cannot open", errno);
		return NULL;
	}
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((c = pathf("%s/muse-cache-%ld-%llx-%llx", tmp, (long)getuid(),
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino)) == NULL)
		goto nomem;
	/* Only a directory of ours, not a link someone planted. */
	if ((mkdir(c, 0700) != 0 && errno != EEXIST) || lstat(c, &own) != 0 ||
	    !S_ISDIR(own.st_mode) || own.st_uid != getuid()) {
		file_err(e, c, "cannot use as a cache", errno ? errno : EPERM);
		free(c);
		return NULL;
	}
	return c;
nomem:
	muse_err_set(e, MUSE_ENOMEM, "out of memory");
	return NULL;
}

/* Builds version v from the store at base (version b) into path. */
static int build(const char *dir, const char *base, uint64_t b, uint64_t v,
	const char *path, struct muse_err *e)
{
	size_t k = b < v ? v - b : b - v;
	char **ds = calloc(k ? k : 1, sizeof(*ds));
	struct muse_delta_file f;
	struct muse_delta_out out;
	int rc = 0;

	if (ds == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	for (size_t i = 0; i < k && rc == 0; i++) {
		uint64_t x = b < v ? b + i : b - i, y = b < v ? x + 1 : x - 1;

		if ((ds[i] = pathf("%s/deltas/%" PRIu64 "-%" PRIu64 ".mdelta", dir,
		    x, y)) == NULL)
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	if (rc == 0 && (rc = muse_delta_file_open(&f, path, e)) == 0) {
		out.fp = f.fp;
		out.name = path;
		if (k == 0)
			rc = muse_delta_stamp(base, v, &out, e);
		else
			rc = muse_delta_apply(base, (const char *const *)ds, k, &out,
			    NULL, NULL, NULL, e);
		if (rc == 0)
			rc = muse_delta_file_commit(&f, e);
		else
			muse_delta_file_abort(&f);
	}
	for (size_t i = 0; i < k; i++)
		free(ds[i]);
	free(ds);
	return rc;
}

static uint64_t dist(uint64_t a, uint64_t b)
{
	return a < b ? b - a : a - b;
}

/*
 * The version of vs nearest to v but not v itself (that one has been
 * found wanting), or UINT64_MAX when there is none.
 */
static uint64_t nearest(const uint64_t *vs, size_t n, uint64_t v,
	uint64_t latest)
{
	uint64_t best = UINT64_MAX;

	for (size_t i = 0; i < n; i++)
		if (vs[i] >= 1 && vs[i] <= latest && vs[i] != v &&
		    (best == UINT64_MAX ||
		    dist(vs[i], v) < dist(best, v)))
			best = vs[i];
	return best;
}

int muse_publish_materialize(const char *dir, uint64_t version,
	char **path_out, struct muse_err *e)
{
	uint64_t latest, *snaps = NULL, *cached = NULL, s, c;
	size_t nsnaps = 0, ncached = 0;
	char *cdir = NULL, *p = NULL, *sdir = NULL, *base = NULL;
	int rc;

	*path_out = NULL;
	muse_err_clear(e);
	if ((rc = muse_publish_latest(dir, &latest, e)))
		return rc;
	if (version == 0 || version > latest) {
		muse_err_where(e, dir, 0, UINT64_MAX);
		return muse_err_set(e, MUSE_EUSAGE, "version %" PRIu64
		    " is not published (versions 1 to %" PRIu64 ")", version,
		    latest);
	}
	/* A snapshot, or a copy in the shared cache, is there as it is. */
	if ((p = pathf("%s/snapshots/%" PRIu64 ".msk", dir, version)) == NULL)
		goto nomem;
	if ((rc = have_store(p, version, 1, e)) != 0)
		goto done;
	free(p);
	if ((p = pathf("%s/cache/%" PRIu64 ".msk", dir, version)) == NULL)
		goto nomem;
	if ((rc = have_store(p, version, 0, e)) != 0)
		goto done;
	free(p);
	p = NULL;
	if ((cdir = cache_dir(dir, e)) == NULL) {
		rc = e->code;
		goto done;
	}
	if ((p = pathf("%s/%" PRIu64 ".msk", cdir, version)) == NULL)
		goto nomem;
	if ((rc = have_store(p, version, 0, e)) != 0)
		goto done;
	/*
	 * Built from the nearest snapshot, or from a nearer store of the
	 * cache; a cached store that fails (removed meanwhile, or not what it
	 * claims) gives way to the snapshot.
	 */
	if ((sdir = pathf("%s/snapshots", dir)) == NULL)
		goto nomem;
	if ((rc = list_versions(sdir, &snaps, &nsnaps, e)) ||
	    (rc = list_versions(cdir, &cached, &ncached, e)))
		goto done;
	s = nearest(snaps, nsnaps, version, latest);
	c = nearest(cached, ncached, version, latest);
	if (c != UINT64_MAX && (s == UINT64_MAX || dist(c, version) <
	    dist(s, version))) {
		if ((base = pathf("%s/%" PRIu64 ".msk", cdir, c)) == NULL)
			goto nomem;
		if (build(dir, base, c, version, p, e) == 0) {
			rc = 1;
			goto done;
		}
		muse_err_clear(e);
		free(base);
		base = NULL;
	}
	if (s == UINT64_MAX) {
		muse_err_where(e, dir, 0, UINT64_MAX);
		rc = muse_err_set(e, MUSE_EFORMAT, "no snapshot to build version %"
		    PRIu64 " from", version);
		goto done;
	}
	if ((base = pathf("%s/%" PRIu64 ".msk", sdir, s)) == NULL)
		goto nomem;
	if ((rc = build(dir, base, s, version, p, e)) == 0)
		rc = 1;
	goto done;
nomem:
	rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
done:
	free(snaps);
	free(cached);
	free(cdir);
	free(sdir);
	free(base);
	if (rc == 1) {
		*path_out = p;
		muse_err_clear(e);
		return 0;
	}
	free(p);
	return rc < 0 ? rc : muse_err_set(e, MUSE_EIO, "cannot materialize");
}

/* Removes what a publisher killed half way left: its hidden temporaries. */
static void sweep(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *p;

		if (de->d_name[0] != '.' || strstr(de->d_name, ".tmp.") == NULL ||
		    (p = pathf("%s/%s", dir, de->d_name)) == NULL)
			continue;
		unlink(p);
		free(p);
	}
	closedir(d);
}

static int make_dir(const char *path, struct muse_err *e)
{
	if (mkdir(path, 0777) != 0 && errno != EEXIST)
		return file_err(e, path, "cannot create directory", errno);
	return 0;
}

/* Holds DIR/.lock for the publisher: flock(2), released when it exits. */
static int take_lock(const char *dir, int *fd, struct muse_err *e)
{
	char *p = pathf("%s/.lock", dir);
	char buf[32];
	int n;

	if (p == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if ((*fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0) {
		file_err(e, p, "cannot open", errno);
		free(p);
		return MUSE_EIO;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		ssize_t k = pread(*fd, buf, sizeof(buf) - 1, 0);

		close(*fd);
		*fd = -1;
		if (err != EWOULDBLOCK) {
			file_err(e, p, "cannot lock", err);
			free(p);
			return MUSE_EIO;
		}
		buf[k > 0 ? k : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		muse_err_where(e, p, 0, UINT64_MAX);
		free(p);
		return muse_err_set(e, MUSE_EUSAGE,
		    "another publisher is at work (process %s)", buf[0] ? buf : "?");
	}
	free(p);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(*fd, 0) != 0 || pwrite(*fd, buf, (size_t)n, 0) != n)
		return file_err(e, dir, "cannot write .lock", errno);
	return 0;
}

static int write_latest(const char *dir, uint64_t v, struct muse_err *e)
{
	struct muse_delta_file f;
	char *p = pathf("%s/LATEST", dir);
	int rc;

	if (p == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if ((rc = muse_delta_file_open(&f, p, e)) == 0) {
		fprintf(f.fp, "%" PRIu64 "\n", v);
		rc = muse_delta_file_commit(&f, e);
	}
	free(p);
	return rc;
}

/* Keeps the latest two versions in DIR/cache; the rest is rebuilt on demand. */
static void prune_cache(const char *dir, uint64_t v)
{
	char *c = pathf("%s/cache", dir), *p;
	uint64_t *vs = NULL;
	size_t n = 0;
	struct muse_err e;

	if (c == NULL)
		return;
	if (list_versions(c, &vs, &n, &e) == 0)
		for (size_t i = 0; i < n; i++)
			if (vs[i] + 1 < v && (p = pathf("%s/%" PRIu64 ".msk", c,
			    vs[i])) != NULL) {
				unlink(p);
				free(p);
			}
	free(vs);
	free(c);
}

int muse_publish(const char *dir, const char *new_path,
	uint64_t snapshot_every, uint64_t *version,
	const struct muse_progress_hook *progress, struct muse_err *e)
{
	struct muse_delta_file ff = { 0 }, fr = { 0 }, fc = { 0 };
	struct muse_delta_out of, orv, oc;
	char *sdir = NULL, *ddir = NULL, *cdir = NULL, *dest = NULL;
	char *pf = NULL, *pr = NULL, *prev = NULL;
	uint64_t latest = 0, v, *snaps = NULL, last_snap = 0;
	size_t nsnaps = 0;
	int lock = -1, rc, have;

	muse_err_clear(e);
	if (snapshot_every == 0)
		snapshot_every = 1;
	if ((sdir = pathf("%s/snapshots", dir)) == NULL ||
	    (ddir = pathf("%s/deltas", dir)) == NULL ||
	    (cdir = pathf("%s/cache", dir)) == NULL) {
		rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = make_dir(dir, e)) || (rc = take_lock(dir, &lock, e)) ||
	    (rc = make_dir(sdir, e)) || (rc = make_dir(ddir, e)) ||
	    (rc = make_dir(cdir, e)))
		goto out;
	sweep(dir);
	sweep(sdir);
	sweep(ddir);
	if ((have = read_latest(dir, &latest, e)) < 0) {
		rc = have;
		goto out;
	}
	if (have && latest == UINT64_MAX) {
		muse_err_where(e, dir, 0, UINT64_MAX);
		rc = muse_err_set(e, MUSE_ELIMIT, "no version after %" PRIu64,
		    latest);
		goto out;
	}
	v = have ? latest + 1 : 1;
	if ((rc = list_versions(sdir, &snaps, &nsnaps, e)))
		goto out;
	for (size_t i = 0; i < nsnaps; i++)
		if (snaps[i] <= latest && snaps[i] > last_snap)
			last_snap = snaps[i];
	/* A snapshot every N versions; the versions between live in deltas. */
	if ((dest = last_snap == 0 || v - last_snap >= snapshot_every ?
	    pathf("%s/%" PRIu64 ".msk", sdir, v) :
	    pathf("%s/%" PRIu64 ".msk", cdir, v)) == NULL) {
		rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = muse_delta_file_open(&fc, dest, e)))
		goto out;
	oc.fp = fc.fp;
	oc.name = dest;
	if (have) {
		if ((rc = muse_publish_materialize(dir, latest, &prev, e)))
			goto out;
		if ((pf = pathf("%s/%" PRIu64 "-%" PRIu64 ".mdelta", ddir, latest,
		    v)) == NULL || (pr = pathf("%s/%" PRIu64 "-%" PRIu64
		    ".mdelta", ddir, v, latest)) == NULL) {
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
			goto out;
		}
		if ((rc = muse_delta_file_open(&ff, pf, e)) ||
		    (rc = muse_delta_file_open(&fr, pr, e)))
			goto out;
		of.fp = ff.fp;
		of.name = pf;
		orv.fp = fr.fp;
		orv.name = pr;
		if ((rc = muse_delta_diff(prev, new_path, 1, v, &of, &orv, &oc,
		    NULL, progress, e)) || (rc = muse_delta_file_commit(&ff, e)) ||
		    (rc = muse_delta_file_commit(&fr, e)))
			goto out;
	} else if ((rc = muse_delta_stamp(new_path, v, &oc, e))) {
		goto out;
	}
	/* The version's files are all in place before LATEST names it. */
	if ((rc = muse_delta_file_commit(&fc, e)) ||
	    (rc = write_latest(dir, v, e)))
		goto out;
	prune_cache(dir, v);
	if (version)
		*version = v;
out:
	if (ff.path)
		muse_delta_file_abort(&ff);
	if (fr.path)
		muse_delta_file_abort(&fr);
	if (fc.path)
		muse_delta_file_abort(&fc);
	if (lock >= 0)
		close(lock);
	free(snaps);
	free(sdir);
	free(ddir);
	free(cdir);
	free(dest);
	free(pf);
	free(pr);
	free(prev);
	return rc;
}
