/*
 * merge.c - k-way merge of sorted sketch runs, combining equal keys.
 *
 * Every input stream becomes a run: a sorted sequence of records.  A
 * sorted stream in a regular file is read in place, one block at a time,
 * so its memory cost is one block whatever its size.  Anything else
 * (standard input, compressed files, unsorted streams, and every stream
 * when keys are rewritten by a roll-up) is spooled into memory; when the
 * spool passes the memory budget it is sorted and spilled to a temporary
 * run file.  The runs are then merged, and records with equal keys are
 * combined: counters add, sketches unite.
 *
 * A record that meets no equal key is copied through as bytes; records
 * are canonical, so this is the same as decoding and encoding it again.
 *
 * Dropping the segment dimension keeps only the "*" rows: they already
 * hold the all-users figures, while adding up the segments would count a
 * user once per cluster.
 *
 * Progress (o.progress): the records each run will give are known before
 * the merge starts (a file run's from its trailer, checked when it was
 * skipped; a spilled run's from its writer; the memory run's count), so
 * the merge reports how many of all it has taken.
 */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <xxhash.h>

#include "merge.h"
#include "store.h"
#include "sketch.h"
#include "ts.h"
#include "zio.h"

struct memrec {
	uint8_t *p;
	size_t n;
};

struct run {
	char *path;              /* file runs: the input's path */
	unsigned stream;         /* which stream of the file */
	int fd;                  /* spilled runs: an unlinked temporary, or -1 */
	muse_reader *r;
	struct memrec *mem;      /* memory run */
	size_t memn, memi;
	const uint8_t *rec;      /* current record */
	size_t n;
	uint64_t taken;          /* input records it stands for */
	struct muse_buf prev;    /* key bytes of the previous record */
	int has_prev;
	struct roll *roll;       /* a sorted input rolled up as it is read */
};

/*
 * A roll-up of a sorted file, made as it is read, without spooling it: in
 * key order (title, asset, date, segment, country) the days of one
 * period of one title and asset come together, so each such group is
 * folded by its output key (the segments and countries it holds), and its
 * records are given out sorted when the next group begins.
 */
struct roll_entry {
	struct muse_buf key;     /* the output key, encoded */
	struct muse_fold f;
	uint64_t taken;          /* input records folded into it */
};

struct roll {
	struct roll_entry *e;    /* entries of the group; pool of folds */
	size_t n, cap, next;     /* in the group; allocated; next to give */
	uint32_t *order;         /* the group's entries in key order */
	uint32_t *slot;          /* hash of output keys: entry + 1, or 0 */
	size_t nslot;
	struct muse_buf group;   /* the group's key: dims before date, period */
	struct muse_buf pend;    /* the first record of the next group */
	int have_pend, done;
	struct muse_acc acc;
	struct muse_buf out;     /* the record given out */
	struct muse_buf gk, ok;  /* scratch: a record's group and output keys */
	uint8_t dims;
	unsigned lgk;
};

/* Combines equal adjacent keys and writes records. */
struct emitter {
	muse_writer *w;
	const struct muse_header *h;
	struct muse_buf pend;
	int have, merged;
	struct muse_fold f;       /* the records of the pending key, united */
	struct muse_acc a;
	struct muse_buf out;
};

struct muse_merge {
	struct muse_merge_opts o;
	int have_base;
	struct muse_header in_h;     /* the inputs' common header */
	struct muse_header out_h;
	int transform;
	struct run *runs;
	size_t nruns, capruns;
	/* spool */
	struct memrec *spool;
	size_t nspool, capspool, spool_bytes;
	struct muse_acc acc;         /* scratch for transforms */
	struct muse_buf scratch;
	uint64_t total;              /* records of all runs */
	/*
	 * A roll-up of exactly one input that is an indexed day store names
	 * that store (muse-format(5), HEADER), so that muse-query can tell
	 * it belongs beside it.
	 */
	unsigned ninputs;
	int src_known;
	uint64_t src_content, src_version;
};

muse_merge *muse_merge_new(const struct muse_merge_opts *o, struct muse_err *e)
{
	muse_merge *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	m->o = *o;
	m->transform = o->rollup >= 0 || o->drop != 0;
	return m;
}

static void roll_free(struct roll *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->cap; i++) {
		muse_buf_free(&g->e[i].key);
		muse_fold_free(&g->e[i].f);
	}
	free(g->e);
	free(g->order);
	free(g->slot);
	muse_buf_free(&g->group);
	muse_buf_free(&g->pend);
	muse_acc_free(&g->acc);
	muse_buf_free(&g->out);
	muse_buf_free(&g->gk);
	muse_buf_free(&g->ok);
	free(g);
}

static void run_close(struct run *r)
{
	roll_free(r->roll);
	r->roll = NULL;
	muse_reader_free(r->r);
	r->r = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->path);
	r->path = NULL;
	if (r->mem) {
		for (size_t i = 0; i < r->memn; i++)
			free(r->mem[i].p);
		free(r->mem);
		r->mem = NULL;
	}
	muse_buf_free(&r->prev);
}

static void spool_free(muse_merge *m)
{
	for (size_t i = 0; i < m->nspool; i++)
		free(m->spool[i].p);
	free(m->spool);
	m->spool = NULL;
	m->nspool = m->capspool = m->spool_bytes = 0;
}

void muse_merge_free(muse_merge *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nruns; i++)
		run_close(&m->runs[i]);
	free(m->runs);
	spool_free(m);
	muse_acc_free(&m->acc);
	muse_buf_free(&m->scratch);
	free(m);
}

static struct run *new_run(muse_merge *m)
{
	if (m->nruns == m->capruns) {
		size_t cap = m->capruns ? m->capruns * 2 : 16;
		struct run *r = realloc(m->runs, cap * sizeof(*r));

		if (r == NULL)
			return NULL;
		m->runs = r;
		m->capruns = cap;
	}
	memset(&m->runs[m->nruns], 0, sizeof(struct run));
	m->runs[m->nruns].fd = -1;
	return &m->runs[m->nruns++];
}

/* ---- emitting ---- */

static int emitter_init(struct emitter *x, muse_writer *w,
	const struct muse_header *h)
{
	memset(x, 0, sizeof(*x));
	x->w = w;
	x->h = h;
	if (muse_acc_init(&x->a, h->lgk) || muse_fold_init(&x->f, h->lgk))
		return MUSE_ENOMEM;
	return 0;
}

static void emitter_free(struct emitter *x)
{
	muse_acc_free(&x->a);
	muse_fold_free(&x->f);
	muse_buf_free(&x->pend);
	muse_buf_free(&x->out);
}

static int emit_pending(struct emitter *x, struct muse_err *e)
{
	struct muse_key k;
	const uint8_t *after;

	if (!x->have)
		return 0;
	x->have = 0;
	if (!x->merged)
		return muse_writer_add(x->w, x->pend.p, x->pend.len, e);
	muse_key_decode(x->h->dims, x->pend.p, x->pend.p + x->pend.len, &k,
	    &after);
	x->out.len = 0;
	if (muse_fold_get(&x->f, &x->a) ||
	    muse_rec_encode(x->h, &k, &x->a, &x->out))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	return muse_writer_add(x->w, x->out.p, x->out.len, e);
}

static int emit(struct emitter *x, const uint8_t *rec, size_t n,
	struct muse_err *e)
{
	int rc;

	/* Records of one key go straight into unions as they are decoded. */
	if (x->have && muse_rec_cmp(x->h->dims, rec, n, x->pend.p,
	    x->pend.len) == 0) {
		if (!x->merged) {
			if ((rc = muse_rec_fold(x->h, x->pend.p, x->pend.len, &x->f,
			    e)))
				return rc;
			x->merged = 1;
		}
		return muse_rec_fold(x->h, rec, n, &x->f, e);
	}
	if ((rc = emit_pending(x, e)))
		return rc;
	x->pend.len = 0;
	if (muse_buf_put(&x->pend, rec, n))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	x->have = 1;
	x->merged = 0;
	return 0;
}

/* ---- spooling ---- */

static int cmp_memrec(const void *a, const void *b, void *dims)
{
	const struct memrec *x = a, *y = b;

	return muse_rec_cmp(*(uint8_t *)dims, x->p, x->n, y->p, y->n);
}

/*
 * Sorts the spool and writes it, combined, to a temporary run file.  The
 * file is unlinked as soon as it is created, so nothing is left behind
 * whatever happens to the process; the run keeps its descriptor.
 */
static int spill(muse_merge *m, struct muse_err *e)
{
	const char *dir = m->o.tmpdir ? m->o.tmpdir : "/tmp";
	struct emitter x;
	struct run *r;
	muse_writer *w = NULL;
	FILE *fp;
	int fd, rc = MUSE_ENOMEM;

	if ((r = new_run(m)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if ((fp = muse_tmp_file(dir, "muse-merge", &fd, e)) == NULL) {
		m->nruns--;
		return e->code;
	}
	r->fd = fd;
	qsort_r(m->spool, m->nspool, sizeof(*m->spool), cmp_memrec,
	    &m->out_h.dims);
	if ((w = muse_writer_new(fp, "temporary run", &m->out_h, 1, e)) == NULL) {
		rc = e->code;
		goto out;
	}
	if (emitter_init(&x, w, &m->out_h)) {
		emitter_free(&x);
		rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		goto out;
	}
	rc = 0;
	for (size_t i = 0; i < m->nspool && rc == 0; i++)
		rc = emit(&x, m->spool[i].p, m->spool[i].n, e);
	if (rc == 0)
		rc = emit_pending(&x, e);
	emitter_free(&x);
	if (rc == 0)
		rc = muse_writer_finish(w, e);
	if (rc == 0)
		m->total += muse_writer_records(w);
	if (rc == 0 && fflush(fp) != 0)
		rc = muse_err_set(e, MUSE_EIO, "temporary run: write error: %s",
		    strerror(errno));
out:
	muse_writer_free(w);
	fclose(fp);
	spool_free(m);
	return rc;
}

static int spool_add(muse_merge *m, const uint8_t *rec, size_t n,
	struct muse_err *e)
{
	struct memrec *x;

	if (m->nspool == m->capspool) {
		size_t cap = m->capspool ? m->capspool * 2 : 4096;
		struct memrec *s = realloc(m->spool, cap * sizeof(*s));

		if (s == NULL)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		m->spool = s;
		m->capspool = cap;
	}
	x = &m->spool[m->nspool];
	if ((x->p = malloc(n ? n : 1)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	memcpy(x->p, rec, n);
	x->n = n;
	m->nspool++;
	m->spool_bytes += n + sizeof(*x) + 16;
	if (m->spool_bytes > m->o.memory)
		return spill(m, e);
	return 0;
}

/* Rewrites a record for a roll-up or dropped dimension; 1 = skip it. */
static int transform(muse_merge *m, const uint8_t *rec, size_t n,
	struct muse_err *e)
{
	struct muse_key k;
	int rc;

	muse_acc_clear(&m->acc);
	if ((rc = muse_rec_decode(&m->in_h, rec, n, &k, &m->acc, e)))
		return rc;
	if ((m->o.drop & 1u << MUSE_DIM_SEGMENT) &&
	    !(k.s[MUSE_DIM_SEGMENT].n == 1 && k.s[MUSE_DIM_SEGMENT].p[0] == '*'))
		return 1;
	if (m->o.rollup == MUSE_GRAIN_WEEK)
		k.day = muse_week_start(k.day);
	else if (m->o.rollup == MUSE_GRAIN_MONTH)
		k.day = muse_month_start(k.day);
	else if (m->o.rollup == MUSE_GRAIN_QUARTER)
		k.day = muse_quarter_start(k.day);
	m->scratch.len = 0;
	if (muse_rec_encode(&m->out_h, &k, &m->acc, &m->scratch))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	return 0;
}

/* ---- inputs ---- */

static int set_base(muse_merge *m, const struct muse_header *h,
	struct muse_err *e)
{
	m->in_h = *h;
	m->out_h = *h;
	m->out_h.flags = MUSE_FLAG_SORTED;
	m->out_h.dims &= (uint8_t)~m->o.drop;
	if (m->o.rollup >= 0) {
		if (!(h->dims & 1u << MUSE_DIM_DATE))
			return muse_err_set(e, MUSE_EUSAGE,
			    "cannot roll up: the stream has no date dimension");
		if (h->grain != MUSE_GRAIN_DAY && h->grain != m->o.rollup)
			return muse_err_set(e, MUSE_EUSAGE,
			    "cannot roll up a stream of %ss to %ss",
			    muse_grain_name(h->grain), muse_grain_name(m->o.rollup));
		m->out_h.grain = (uint8_t)m->o.rollup;
	}
	if (!(m->out_h.dims & 1u << MUSE_DIM_DATE))
		m->out_h.grain = MUSE_GRAIN_DAY;
	if (muse_acc_init(&m->acc, h->lgk))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	m->have_base = 1;
	return 0;
}

int muse_merge_add(muse_merge *m, const char *path, struct muse_err *e)
{
	struct muse_header h;
	muse_input *in;
	muse_reader *r;
	int64_t size;
	unsigned stream = 0;
	uint64_t nread = 0;
	int rc, streams = 0;

	if (m->ninputs++ == 0 && m->o.rollup >= 0 && m->o.drop == 0) {
		struct muse_err e2;
		muse_store *st = muse_store_open(path, &e2);

		if (st != NULL && muse_store_header(st)->grain == MUSE_GRAIN_DAY) {
			m->src_known = 1;
			m->src_content = muse_store_content(st);
			m->src_version = muse_store_version(st);
		}
		muse_store_free(st);
	}
	if ((in = muse_input_open(path, e)) == NULL)
		return e->code;
	size = muse_input_size(in);
	if ((r = muse_reader_new(in, e)) == NULL)
		return e->code;
	while ((rc = muse_reader_next_stream(r, &h, e)) == 1) {
		const uint8_t *rec;
		size_t n;

		streams++;
		if (h.kind != MUSE_KIND_SKETCH) {
			rc = muse_err_set(e, MUSE_EUSAGE, h.kind == MUSE_KIND_DELTA ?
			    "expected a sketch stream, found a delta (apply it "
			    "with muse-delta apply)" :
			    "expected a sketch stream, found an event stream "
			    "(run muse-sketch first)");
			break;
		}
		if (!m->have_base && (rc = set_base(m, &h, e)))
			break;
		if ((rc = muse_header_compatible(&m->in_h, &h, e)))
			break;
		if ((!m->transform || (m->o.rollup >= 0 && m->o.drop == 0)) &&
		    (h.flags & MUSE_FLAG_SORTED) && size >= 0 &&
		    strcmp(path, "-") != 0) {
			struct run *run = new_run(m);

			if (run == NULL || (run->path = strdup(path)) == NULL ||
			    (m->transform && (run->roll = calloc(1,
			    sizeof(*run->roll))) == NULL)) {
				rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
				break;
			}
			if (run->roll) {
				run->roll->dims = m->in_h.dims;
				run->roll->lgk = m->in_h.lgk;
				if (muse_acc_init(&run->roll->acc, m->in_h.lgk)) {
					rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
					break;
				}
			}
			run->stream = stream++;
			if ((rc = muse_reader_skip_stream(r, e)))
				break;
			m->total += muse_reader_records(r);
			continue;
		}
		stream++;
		muse_progress_report(&m->o.progress, "reading records", nread,
		    MUSE_COUNT_UNKNOWN);
		while ((rc = muse_reader_next(r, &rec, &n, e)) == 1) {
			if (++nread % MUSE_PROGRESS_EVERY == 0)
				muse_progress_report(&m->o.progress, "reading records", nread,
				    MUSE_COUNT_UNKNOWN);
			if (m->transform) {
				rc = transform(m, rec, n, e);
				if (rc == 1)
					continue;
				if (rc == 0)
					rc = spool_add(m, m->scratch.p, m->scratch.len, e);
			} else {
				rc = spool_add(m, rec, n, e);
			}
			if (rc < 0)
				break;
		}
		if (rc < 0)
			break;
	}
	/* An empty input is a stream cut to nothing, never an empty store. */
	if (rc == 0 && streams == 0)
		rc = muse_err_set(e, MUSE_ETRUNC, "empty input (no stream)");
	if (rc < 0 && e->name[0] == '\0')
		muse_err_where(e, muse_reader_name(r), 0, UINT64_MAX);
	muse_reader_free(r);
	return rc < 0 ? rc : 0;
}

/* ---- merging ---- */

/* Moves a run to its next record; checks that file runs are in order. */
static int file_next(const muse_merge *m, struct run *r, struct muse_err *e)
{
	int rc;

	r->taken = 1;
	if (r->mem) {
		if (r->memi == r->memn) {
			r->rec = NULL;
			return 0;
		}
		r->rec = r->mem[r->memi].p;
		r->n = r->mem[r->memi].n;
		r->memi++;
		return 1;
	}
	rc = muse_reader_next(r->r, &r->rec, &r->n, e);
	if (rc <= 0) {
		r->rec = NULL;
		return rc;
	}
	{
		struct muse_key k, p;
		const uint8_t *after, *x;

		if (muse_key_decode(m->out_h.dims, r->rec, r->rec + r->n, &k,
		    &after)) {
			muse_err_where(e, r->path, 0, UINT64_MAX);
			return muse_err_set(e, MUSE_EFORMAT, "malformed sketch key");
		}
		if (r->has_prev) {
			muse_key_decode(m->out_h.dims, r->prev.p,
			    r->prev.p + r->prev.len, &p, &x);
			if (muse_key_cmp(m->out_h.dims, &p, &k) >= 0) {
				muse_err_where(e, r->path, 0, UINT64_MAX);
				return muse_err_set(e, MUSE_EFORMAT,
				    "stream is flagged sorted but its keys are out "
				    "of order");
			}
		}
		r->prev.len = 0;
		if (muse_buf_put(&r->prev, r->rec, (size_t)(after - r->rec)))
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		r->has_prev = 1;
	}
	return 1;
}

/* The entry of output key g->ok in the group, added if new; NULL: ENOMEM. */
static struct roll_entry *roll_entry(struct roll *g)
{
	uint64_t h = XXH3_64bits(g->ok.p, g->ok.len);
	struct roll_entry *x;
	size_t i;

	if (2 * (g->n + 1) > g->nslot) {
		size_t ns = g->nslot ? 2 * g->nslot : 64;
		uint32_t *s = calloc(ns, sizeof(*s));

		if (s == NULL)
			return NULL;
		for (size_t k = 0; k < g->n; k++) {
			uint64_t hk = XXH3_64bits(g->e[k].key.p, g->e[k].key.len);

			for (i = hk & (ns - 1); s[i]; i = (i + 1) & (ns - 1))
				;
			s[i] = (uint32_t)k + 1;
		}
		free(g->slot);
		g->slot = s;
		g->nslot = ns;
	}
	for (i = h & (g->nslot - 1); g->slot[i]; i = (i + 1) & (g->nslot - 1)) {
		x = &g->e[g->slot[i] - 1];
		if (x->key.len == g->ok.len &&
		    memcmp(x->key.p, g->ok.p, g->ok.len) == 0)
			return x;
	}
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		struct roll_entry *ne = realloc(g->e, cap * sizeof(*ne));
		uint32_t *no;

		if (ne == NULL)
			return NULL;
		g->e = ne;
		memset(ne + g->cap, 0, (cap - g->cap) * sizeof(*ne));
		if ((no = realloc(g->order, cap * sizeof(*no))) == NULL)
			return NULL;
		g->order = no;
		for (size_t k = g->cap; k < cap; k++)
			if (muse_fold_init(&ne[k].f, g->lgk)) {
				g->cap = k;
				return NULL;
			}
		g->cap = cap;
	}
	x = &g->e[g->n];
	x->key.len = 0;
	if (muse_buf_put(&x->key, g->ok.p, g->ok.len))
		return NULL;
	x->taken = 0;
	g->slot[i] = (uint32_t)++g->n;
	return x;
}

static int cmp_entries(const void *a, const void *b, void *ctx)
{
	const struct roll *g = ctx;
	const struct muse_buf *x = &g->e[*(const uint32_t *)a].key;
	const struct muse_buf *y = &g->e[*(const uint32_t *)b].key;

	return muse_rec_cmp(g->dims, x->p, x->len, y->p, y->len);
}

/*
 * Folds the records of the run's next group (one title and asset, say,
 * over one period) by output key.  1 with the group's entries in order,
 * 0 at the end of the run, or an error.
 */
static int roll_group(const muse_merge *m, struct run *r, struct muse_err *e)
{
	struct roll *g = r->roll;
	uint8_t gdims = g->dims & (uint8_t)((2u << MUSE_DIM_DATE) - 1);
	int started = 0, rc;

	g->n = g->next = 0;
	if (g->slot)
		memset(g->slot, 0, g->nslot * sizeof(*g->slot));
	for (;;) {
		struct roll_entry *x;
		struct muse_key k;
		const uint8_t *rec, *after;
		size_t n;

		if (g->have_pend) {
			rec = g->pend.p;
			n = g->pend.len;
			g->have_pend = 0;
		} else if (g->done) {
			break;
		} else if ((rc = file_next(m, r, e)) <= 0) {
			if (rc < 0)
				return rc;
			g->done = 1;
			break;
		} else {
			rec = r->rec;
			n = r->n;
		}
		muse_key_decode(g->dims, rec, rec + n, &k, &after);
		k.day = m->o.rollup == MUSE_GRAIN_WEEK ? muse_week_start(k.day) :
		    m->o.rollup == MUSE_GRAIN_MONTH ? muse_month_start(k.day) :
		    muse_quarter_start(k.day);
		g->gk.len = 0;
		if (muse_key_encode(gdims, &k, &g->gk))
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		if (started && (g->gk.len != g->group.len ||
		    memcmp(g->gk.p, g->group.p, g->gk.len) != 0)) {
			/* The next group's first record waits for it. */
			g->pend.len = 0;
			if (muse_buf_put(&g->pend, rec, n))
				return muse_err_set(e, MUSE_ENOMEM, "out of memory");
			g->have_pend = 1;
			break;
		}
		if (!started) {
			g->group.len = 0;
			if (muse_buf_put(&g->group, g->gk.p, g->gk.len))
				return muse_err_set(e, MUSE_ENOMEM, "out of memory");
			started = 1;
		}
		g->ok.len = 0;
		if (muse_key_encode(g->dims, &k, &g->ok) ||
		    (x = roll_entry(g)) == NULL)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		if ((rc = muse_rec_fold(&m->in_h, rec, n, &x->f, e))) {
			muse_err_where(e, r->path, 0, UINT64_MAX);
			return rc;
		}
		x->taken++;
	}
	if (g->n == 0)
		return 0;
	for (size_t i = 0; i < g->n; i++)
		g->order[i] = (uint32_t)i;
	qsort_r(g->order, g->n, sizeof(*g->order), cmp_entries, g);
	return 1;
}

/* The next record of a roll-up run, made from its group's entries. */
static int roll_next(const muse_merge *m, struct run *r, struct muse_err *e)
{
	struct roll *g = r->roll;
	struct roll_entry *x;
	struct muse_key k;
	const uint8_t *after;
	int rc;

	if (g->next == g->n && (rc = roll_group(m, r, e)) <= 0) {
		r->rec = NULL;
		return rc;
	}
	x = &g->e[g->order[g->next++]];
	muse_key_decode(g->dims, x->key.p, x->key.p + x->key.len, &k, &after);
	g->out.len = 0;
	if (muse_fold_get(&x->f, &g->acc) ||
	    muse_rec_encode(&m->out_h, &k, &g->acc, &g->out))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	r->rec = g->out.p;
	r->n = g->out.len;
	r->taken = x->taken;
	return 1;
}

static int run_next(const muse_merge *m, struct run *r, struct muse_err *e)
{
	return r->roll ? roll_next(m, r, e) : file_next(m, r, e);
}

static int run_open(struct run *r, struct muse_err *e)
{
	struct muse_header h;
	muse_input *in;
	int rc;

	if (r->fd >= 0) {
		if (lseek(r->fd, 0, SEEK_SET) != 0)
			return muse_err_set(e, MUSE_EIO, "temporary run: %s",
			    strerror(errno));
		in = muse_input_fd(r->fd, "temporary run", e);
		r->fd = -1;     /* the input owns it now */
	} else {
		in = muse_input_open(r->path, e);
	}
	if (in == NULL || (r->r = muse_reader_new(in, e)) == NULL)
		return e->code;
	for (unsigned i = 0; i <= r->stream; i++) {
		if ((rc = muse_reader_next_stream(r->r, &h, e)) != 1)
			return rc < 0 ? rc : muse_err_set(e, MUSE_EIO,
			    "input changed while it was being merged");
	}
	return 0;
}

int muse_merge_finish(muse_merge *m, FILE *out, const char *name,
	struct muse_err *e)
{
	struct emitter x;
	muse_writer *w;
	uint64_t done = 0;
	int rc = 0;

	if (!m->have_base)
		return muse_err_set(e, MUSE_EUSAGE, "no sketch stream in the input");
	m->out_h.src_content = m->out_h.src_version = 0;
	if (m->ninputs == 1 && m->src_known) {
		m->out_h.src_content = m->src_content;
		m->out_h.src_version = m->src_version;
	}
	/* What is left in the spool becomes a memory run. */
	if (m->nspool) {
		struct run *r = new_run(m);

		if (r == NULL)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		qsort_r(m->spool, m->nspool, sizeof(*m->spool), cmp_memrec,
		    &m->out_h.dims);
		r->mem = m->spool;
		r->memn = m->nspool;
		m->total += m->nspool;
		m->spool = NULL;
		m->nspool = m->capspool = m->spool_bytes = 0;
	}
	for (size_t i = 0; i < m->nruns; i++) {
		if (!m->runs[i].mem && (rc = run_open(&m->runs[i], e)))
			return rc;
		if ((rc = run_next(m, &m->runs[i], e)) < 0)
			return rc;
	}
	if ((w = muse_writer_new(out, name, &m->out_h, 0, e)) == NULL)
		return e->code;
	if (m->o.write_behind)
		muse_writer_write_behind(w);
	if (emitter_init(&x, w, &m->out_h)) {
		rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		goto done;
	}
	muse_progress_report(&m->o.progress, "merging records", 0, m->total);
	for (;;) {
		struct run *min = NULL;

		for (size_t i = 0; i < m->nruns; i++) {
			struct run *r = &m->runs[i];

			if (r->rec && (min == NULL || muse_rec_cmp(m->out_h.dims,
			    r->rec, r->n, min->rec, min->n) < 0))
				min = r;
		}
		if (min == NULL)
			break;
		/* A roll-up run's record stands for the input records it took. */
		if ((done + min->taken) / MUSE_PROGRESS_EVERY !=
		    done / MUSE_PROGRESS_EVERY)
			muse_progress_report(&m->o.progress, "merging records",
			    done + min->taken, m->total);
		done += min->taken;
		if ((rc = emit(&x, min->rec, min->n, e)) < 0 ||
		    (rc = run_next(m, min, e)) < 0)
			goto done;
	}
	if ((rc = emit_pending(&x, e)) == 0)
		rc = muse_writer_finish(w, e);
	if (rc == 0)
		muse_progress_report(&m->o.progress, "merging records", done,
		    m->total);
done:
	emitter_free(&x);
	muse_writer_free(w);
	return rc;
}
