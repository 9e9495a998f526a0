/*
 * build.c - the attribution join and aggregation (SPEC 4).
 *
 * All events that can matter are loaded into compact arrays, with every
 * string interned to a 32-bit id.  After loading, ids are renumbered in
 * bytewise order of their strings, so that integer comparisons of ids give
 * the key order of muse-format(5) and the "bytewise smallest asset_id"
 * tie-break of the attribution rule.
 *
 * The join works per user: the user's impressions sorted by time and, for
 * equal times, by descending asset, then country; plays by time.  One
 * pointer walks the impressions as the plays advance, keeping in a table
 * by title the last impression of each title so far: for a play at t,
 * that is the latest impression of its title with ts <= t, the one with
 * the smallest asset among equals; it counts when ts >= t - W.  So the
 * join is linear after sorting, and the sort is by user and time, which
 * is mostly the order events are read in (tables are written by day).
 *
 * Events are read straight from their records into arrays (32 bytes an
 * impression: its strings interned as one triple, its base key found
 * once per triple and day), kept in NPARTS parts by user hash; each part
 * is sorted (a counting scatter on the user hash, then an insertion sort
 * of each user's run) and joined on its own, then freed.
 *
 * With a date range, impressions of the days counted are counted, and the
 * impressions of the window before the first day are loaded only to
 * attribute plays; plays are counted by their own day.  A play is keyed by
 * its impression's day, which may lie before the range: that is what makes
 * daily batches add up to the whole period, byte for byte.
 *
 * Aggregation.  Each impression carries the id of its "base" key: the
 * tuple (title, asset, date, country) reduced to the grain, interned once
 * at load.  A cell of the aggregate is (base, segment): at base * nslots +
 * slot of two arrays when that table is small, else found in a hash map
 * keyed by one 64-bit word.  A cell keeps exact counters and, for each
 * distinct count, the coupons of its users in a chain of chunks of one
 * pool; because the join visits one user at a time, a cell skips a coupon
 * equal to the last one it took, so a vector holds each (user, cell) once.
 * Sketches are built only at the end, from the sorted vectors: coupons
 * then arrive in ascending order, the cheap case for a sparse sketch.
 * Cells are sorted by key and written in order.
 *
 * Progress goes to the caller's hook (o.progress), every
 * MUSE_PROGRESS_EVERY records of each phase.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Inlined: the intern tables hash a few short strings per event. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "build.h"
#include "event.h"
#include "sketch.h"
#include "ts.h"

/* ---- string interning ---- */

struct strtab {
	char **s;
	uint32_t *len;
	uint32_t n, cap;
	uint32_t *slots;   /* open addressing: id + 1, 0 empty */
	uint32_t nslots;
};

static int strtab_grow(struct strtab *t)
{
	uint32_t ns = t->nslots ? t->nslots * 2 : 1024;
	uint32_t *slots = calloc(ns, sizeof(uint32_t));

	if (slots == NULL)
		return MUSE_ENOMEM;
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t j = (uint32_t)XXH3_64bits(t->s[i], t->len[i]) & (ns - 1);

		while (slots[j])
			j = (j + 1) & (ns - 1);
		slots[j] = i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = ns;
	return 0;
}

static int strtab_intern(struct strtab *t, const char *s, size_t n,
	uint32_t *id)
{
	uint32_t j;

	if ((t->n + 1) * 2 > t->nslots && strtab_grow(t))
		return MUSE_ENOMEM;
	j = (uint32_t)XXH3_64bits(s, n) & (t->nslots - 1);
	while (t->slots[j]) {
		uint32_t k = t->slots[j] - 1;

		if (t->len[k] == n && memcmp(t->s[k], s, n) == 0) {
			*id = k;
			return 0;
		}
		j = (j + 1) & (t->nslots - 1);
	}
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 256;
		char **ns = realloc(t->s, cap * sizeof(char *));
		uint32_t *nl;

		if (ns == NULL)
			return MUSE_ENOMEM;
		t->s = ns;
		nl = realloc(t->len, cap * sizeof(uint32_t));
		if (nl == NULL)
			return MUSE_ENOMEM;
		t->len = nl;
		t->cap = cap;
	}
	if ((t->s[t->n] = malloc(n + 1)) == NULL)
		return MUSE_ENOMEM;
	memcpy(t->s[t->n], s, n);
	t->s[t->n][n] = '\0';
	t->len[t->n] = (uint32_t)n;
	t->slots[j] = t->n + 1;
	*id = t->n++;
	return 0;
}

static void strtab_free(struct strtab *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	free(t->len);
	free(t->slots);
}

/* ---- events ---- */

#define ARRAY(T) struct { T *v; size_t n, cap; }

/*
 * An impression: 32 bytes.  Its strings are those of triple trip (after
 * renumbering, triples are numbered in the order that breaks ties of time:
 * see cmp_imp); whether it is counted follows from its time.
 */
struct imp {
	int64_t ts;
	struct muse_uid u;
	uint32_t trip;            /* in trip */
	uint32_t base;            /* the key tuple at the grain, in bases */
};

struct play {
	int64_t ts;
	struct muse_uid u;
	uint32_t title;
	uint64_t dur_ms;
};

struct aff {
	struct muse_uid u;
	uint32_t cluster;
};

/* An impression's strings, and the base of the last day it was seen in. */
struct triple {
	uint32_t asset, title, country;
	int64_t day;              /* -1: none yet */
	uint32_t base;
};

/* A key tuple reduced to the grain; dimensions not in it are 0. */
struct base {
	uint32_t title, asset, country;
	uint32_t day;
};

/*
 * Coupons of a cell's users for one distinct count: a chain of chunks in
 * the build's pool (struct pool), so that a vector grows without copying.
 * A chunk is 8 << level words (level 0 to CHUNK_LEVELS), its first the
 * offset of the next chunk, the rest coupons; offsets are in units of 8
 * words.
 */
struct cvec {
	uint32_t head, tail;      /* first and last chunk */
	uint32_t n;               /* coupons */
	uint32_t last;            /* the last coupon taken, 0 for none */
	uint16_t left;            /* room in the last chunk */
	uint8_t level;            /* of the last chunk */
};

#define CHUNK_LEVELS 9

struct pool {
	uint32_t *w;
	size_t n, cap;            /* in words */
};

/*
 * A cell in two parts, at the same index of two arrays: what an
 * impression touches (32 bytes, two to a cache line), and the rest.
 */
struct hot {
	uint64_t impressions;
	struct cvec reach;
	uint32_t live;            /* the cell exists */
};

struct cell {
	struct cvec qreach, areach;
	uint64_t plays, qplays, watch_ms;
	uint32_t base, seg;
};

/* Open addressing from a 64-bit key to an index + 1 (0: empty). */
struct map {
	uint64_t *keys;
	uint32_t *vals;
	size_t n, cap;
};

/*
 * Events are kept in NPARTS parts by the low bits of the user hash's
 * second word (bits that no bucket selection constrains): users of
 * different parts are different, so each part is sorted and joined on
 * its own, in a space that stays in cache, and the sort needs scratch
 * the size of one part instead of a copy of all events.
 */
#define NPARTS 16

struct part {
	ARRAY(struct imp) imps;
	ARRAY(struct play) plays;
	ARRAY(struct aff) affs;
};

static size_t part_of(const struct muse_uid *u)
{
	return (size_t)(u->h2 & (NPARTS - 1));
}

struct muse_build {
	struct muse_build_opts o;
	struct strtab strs;
	struct part part[NPARTS];
	uint64_t nimps, nplays;   /* in all parts */
	uint32_t star;            /* id of "*" */
	ARRAY(struct base) bases;
	struct map base_map;      /* hash of a base tuple -> bases index */
	/*
	 * The bytes of an impression's asset, title and country (their
	 * lengths included) interned whole: one look-up per impression.
	 * spans.s[k] is described by trip.v[k].
	 */
	struct strtab spans;
	ARRAY(struct triple) trip;
	/*
	 * Cells: when bases times segments is small next to the events, at
	 * index base * nslots + slot (slot_of[segment id] is the segment's
	 * slot + 1), so that the segments of one base are side by side;
	 * else in order of creation, found through cell_map.  live lists
	 * the indices of the cells that exist.
	 */
	ARRAY(struct hot) hot;
	ARRAY(struct cell) cells;
	ARRAY(uint32_t) live;
	int dense;
	uint32_t *slot_of;
	uint32_t nslots;
	struct map cell_map;      /* base << 32 | segment -> cells index */
	struct pool pool;         /* the cells' coupons */
	uint32_t *scratch;        /* 2 * nscratch words, for fill */
	size_t nscratch;
	int have_hash;            /* an event stream was read: */
	uint8_t hash;             /* its user-id hashing, which all share */
	uint64_t seed;
};

#define PUSH(arr, item) \
	((arr).n == (arr).cap ? grow((void **)&(arr).v, &(arr).cap, \
	    sizeof(*(arr).v)) : 0) || ((arr).v[(arr).n++] = (item), 0)

static int grow(void **v, size_t *cap, size_t size)
{
	size_t nc = *cap ? *cap * 2 : 256;
	void *p = realloc(*v, nc * size);

	if (p == NULL)
		return MUSE_ENOMEM;
	*v = p;
	*cap = nc;
	return 0;
}

/* ---- hash maps ---- */

/* The finaliser of MurmurHash3: a cheap, well-mixing 64-bit hash. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

static int map_grow(struct map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 4096;
	uint64_t *keys = malloc(cap * sizeof(uint64_t));
	uint32_t *vals = calloc(cap, sizeof(uint32_t));

	if (keys == NULL || vals == NULL) {
		free(keys);
		free(vals);
		return MUSE_ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->vals[i])
			continue;
		j = mix64(m->keys[i]) & (cap - 1);
		while (vals[j])
			j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

/*
 * The slot of key: where it is, or the empty slot where it belongs.  For
 * the base map the key is a hash of the tuple, so a hit must also compare
 * the tuple (same says whether the entry at a slot is the one wanted).
 */
static size_t map_slot(const struct map *m, uint64_t key,
	int (*same)(const muse_build *, uint32_t, const void *),
	const muse_build *b, const void *what)
{
	size_t j = mix64(key) & (m->cap - 1);

	while (m->vals[j] && (m->keys[j] != key ||
	    (same && !same(b, m->vals[j] - 1, what))))
		j = (j + 1) & (m->cap - 1);
	return j;
}

static int same_base(const muse_build *b, uint32_t i, const void *what)
{
	return memcmp(&b->bases.v[i], what, sizeof(struct base)) == 0;
}

/* The index of a base tuple, interned on first sight; -1 on ENOMEM. */
static int64_t base_of(muse_build *b, const struct base *t)
{
	uint64_t key = mix64((uint64_t)t->title << 32 | t->asset) ^
	    ((uint64_t)t->country << 32 | t->day);
	size_t j;

	if ((b->base_map.n + 1) * 2 > b->base_map.cap &&
	    map_grow(&b->base_map))
		return -1;
	j = map_slot(&b->base_map, key, same_base, b, t);
	if (b->base_map.vals[j])
		return b->base_map.vals[j] - 1;
	if (PUSH(b->bases, *t))
		return -1;
	b->base_map.keys[j] = key;
	b->base_map.vals[j] = (uint32_t)b->bases.n;
	b->base_map.n++;
	return (int64_t)b->bases.n - 1;
}

/* A new cell at index i (pushed first when not dense).  0 or ENOMEM. */
static int cell_new(muse_build *b, size_t i, uint32_t base, uint32_t seg)
{
	if (!b->dense) {
		struct hot h;
		struct cell c;

		memset(&h, 0, sizeof(h));
		memset(&c, 0, sizeof(c));
		if (PUSH(b->hot, h) || PUSH(b->cells, c))
			return MUSE_ENOMEM;
	}
	if (PUSH(b->live, (uint32_t)i))
		return MUSE_ENOMEM;
	b->hot.v[i].live = 1;
	b->cells.v[i].base = base;
	b->cells.v[i].seg = seg;
	return 0;
}

/*
 * The index of the cell of (base, segment), created on first sight;
 * SIZE_MAX on ENOMEM.
 */
static size_t cell_of(muse_build *b, uint32_t base, uint32_t seg)
{
	uint64_t key = (uint64_t)base << 32 | seg;
	size_t i, j;

	if (b->dense) {
		i = (size_t)base * b->nslots + b->slot_of[seg] - 1;
		if (!b->hot.v[i].live && cell_new(b, i, base, seg))
			return SIZE_MAX;
		return i;
	}
	if ((b->cell_map.n + 1) * 2 > b->cell_map.cap &&
	    map_grow(&b->cell_map))
		return SIZE_MAX;
	j = map_slot(&b->cell_map, key, NULL, b, NULL);
	if (b->cell_map.vals[j])
		return b->cell_map.vals[j] - 1;
	i = b->cells.n;
	if (i >= UINT32_MAX || cell_new(b, i, base, seg))
		return SIZE_MAX;
	b->cell_map.keys[j] = key;
	b->cell_map.vals[j] = (uint32_t)i + 1;
	b->cell_map.n++;
	return i;
}

muse_build *muse_build_new(const struct muse_build_opts *o,
	struct muse_err *e)
{
	muse_build *b = calloc(1, sizeof(*b));

	if (b == NULL || strtab_intern(&b->strs, "*", 1, &b->star)) {
		muse_build_free(b);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	b->o = *o;
	return b;
}

void muse_build_free(muse_build *b)
{
	if (b == NULL)
		return;
	strtab_free(&b->strs);
	strtab_free(&b->spans);
	free(b->trip.v);
	for (size_t k = 0; k < NPARTS; k++) {
		free(b->part[k].imps.v);
		free(b->part[k].plays.v);
		free(b->part[k].affs.v);
	}
	free(b->bases.v);
	free(b->base_map.keys);
	free(b->base_map.vals);
	free(b->hot.v);
	free(b->cells.v);
	free(b->live.v);
	free(b->pool.w);
	free(b->scratch);
	free(b->cell_map.keys);
	free(b->cell_map.vals);
	free(b->slot_of);
	free(b);
}

void muse_build_header(const muse_build *b, struct muse_header *h)
{
	memset(h, 0, sizeof(*h));
	h->kind = MUSE_KIND_SKETCH;
	h->flags = MUSE_FLAG_SORTED;
	h->hash = b->have_hash ? b->hash : MUSE_HASH_XXH3;
	h->seed = b->have_hash ? b->seed : MUSE_HASH_SEED;
	h->dims = b->o.dims;
	h->grain = MUSE_GRAIN_DAY;
	h->lgk = (uint8_t)b->o.lgk;
	h->metrics = MUSE_METRICS_V1;
	h->window_s = b->o.window_s;
	h->qualify_ms = b->o.qualify_ms;
	h->authentic_ms = b->o.authentic_ms;
}

/*
 * Interns an impression's strings (span: their bytes as in the record,
 * length prefixes included, which parse as asset, title, country) and sets
 * them and its base key.  Impressions come mostly in time order, so the
 * base of the last day seen for these strings is kept.
 */
static int base_id(muse_build *b, const struct triple *t, int64_t ts,
	uint32_t *base);

static int intern_imp(muse_build *b, const uint8_t *span, size_t n,
	struct imp *im)
{
	uint32_t k;
	int64_t day = muse_ts_day(im->ts);
	struct triple *t;

	if (strtab_intern(&b->spans, (const char *)span, n, &k))
		return MUSE_ENOMEM;
	if (k == b->trip.n) {
		const uint8_t *p = span, *end = span + n;
		struct muse_str s[3];
		struct triple nt;

		for (int i = 0; i < 3; i++)
			(void)muse_get_str(&p, end, &s[i].p, &s[i].n);
		if (strtab_intern(&b->strs, s[0].p, s[0].n, &nt.asset) ||
		    strtab_intern(&b->strs, s[1].p, s[1].n, &nt.title) ||
		    strtab_intern(&b->strs, s[2].p, s[2].n, &nt.country))
			return MUSE_ENOMEM;
		nt.day = -1;
		nt.base = 0;
		if (PUSH(b->trip, nt))
			return MUSE_ENOMEM;
	}
	t = &b->trip.v[k];
	if (t->day != day) {
		if (base_id(b, t, im->ts, &t->base))
			return MUSE_ENOMEM;
		t->day = day;
	}
	im->trip = k;
	im->base = t->base;
	return 0;
}

/* The base key of an impression: its tuple reduced to the grain. */
static int base_id(muse_build *b, const struct triple *tr, int64_t ts,
	uint32_t *base)
{
	uint8_t d = b->o.dims;
	struct base t;
	int64_t id;

	t.title = d & 1u << MUSE_DIM_TITLE ? tr->title : 0;
	t.asset = d & 1u << MUSE_DIM_ASSET ? tr->asset : 0;
	t.country = d & 1u << MUSE_DIM_COUNTRY ? tr->country : 0;
	t.day = d & 1u << MUSE_DIM_DATE ? (uint32_t)muse_ts_day(ts) : 0;
	if ((id = base_of(b, &t)) < 0)
		return MUSE_ENOMEM;
	*base = (uint32_t)id;
	return 0;
}

static int keep_user(const muse_build *b, const struct muse_uid *u)
{
	return b->o.nbuckets == 0 ||
	    muse_uid_bucket(u, b->o.nbuckets) == b->o.bucket;
}

/*
 * The fields of an event record, read straight from its bytes (the format
 * of lib/event.c, with the same checks): the time, the user, and where
 * its strings start.  -1 when the record is malformed.
 */
static int get_ident(const uint8_t **p, const uint8_t *end, const char **s,
	size_t *n)
{
	return muse_get_str(p, end, s, n) || *n == 0 || *n > 255 ? -1 : 0;
}

static int get_head(const uint8_t **pp, const uint8_t *end, int64_t *ts,
	struct muse_uid *u)
{
	uint64_t v;

	if (muse_get_varint(pp, end, &v) || v > INT64_MAX / 2 || end - *pp < 16)
		return -1;
	*ts = (int64_t)v;
	u->h1 = muse_le64(*pp);
	u->h2 = muse_le64(*pp + 8);
	*pp += 16;
	return 0;
}

/*
 * Each adds one record of its table (or skips it: another bucket, days
 * not counted, a preview).  0, MUSE_EFORMAT when the record is malformed
 * (muse_event_decode then says how), or MUSE_ENOMEM.
 */
static int add_imp(muse_build *b, const uint8_t *p, size_t n,
	int64_t wfrom, int64_t to)
{
	const uint8_t *end = p + n, *span;
	const char *s;
	size_t len;
	struct imp im;

	if (get_head(&p, end, &im.ts, &im.u))
		return MUSE_EFORMAT;
	span = p;
	if (get_ident(&p, end, &s, &len) || get_ident(&p, end, &s, &len) ||
	    get_ident(&p, end, &s, &len) || p != end)
		return MUSE_EFORMAT;
	if (!keep_user(b, &im.u) ||
	    (b->o.has_dates && (im.ts < wfrom || im.ts >= to)))
		return 0;
	if (intern_imp(b, span, (size_t)(end - span), &im) ||
	    PUSH(b->part[part_of(&im.u)].imps, im))
		return MUSE_ENOMEM;
	b->nimps++;
	return 0;
}

static int add_play(muse_build *b, const uint8_t *p, size_t n, int64_t from,
	int64_t to)
{
	const uint8_t *end = p + n;
	const char *s;
	size_t len;
	struct play pl;

	if (get_head(&p, end, &pl.ts, &pl.u) || get_ident(&p, end, &s, &len) ||
	    muse_get_varint(&p, end, &pl.dur_ms) || end - p != 1 ||
	    *p > MUSE_KIND_PREVIEW)
		return MUSE_EFORMAT;
	/* Previews never count (SPEC 4). */
	if (*p != MUSE_KIND_PLAY || !keep_user(b, &pl.u) ||
	    (b->o.has_dates && (pl.ts < from || pl.ts >= to)))
		return 0;
	if (strtab_intern(&b->strs, s, len, &pl.title) ||
	    PUSH(b->part[part_of(&pl.u)].plays, pl))
		return MUSE_ENOMEM;
	b->nplays++;
	return 0;
}

static int add_aff(muse_build *b, const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;
	const char *s;
	size_t len;
	struct aff af;

	if (end - p < 16)
		return MUSE_EFORMAT;
	af.u.h1 = muse_le64(p);
	af.u.h2 = muse_le64(p + 8);
	p += 16;
	if (get_ident(&p, end, &s, &len) || p != end)
		return MUSE_EFORMAT;
	if (!keep_user(b, &af.u))
		return 0;
	if (strtab_intern(&b->strs, s, len, &af.cluster) ||
	    PUSH(b->part[part_of(&af.u)].affs, af))
		return MUSE_ENOMEM;
	return 0;
}

int muse_build_add(muse_build *b, muse_reader *r, const struct muse_header *h,
	struct muse_err *e)
{
	struct muse_event ev;
	const uint8_t *rec;
	size_t n;
	uint64_t nread = 0;
	int rc;
	int64_t from = b->o.day_from * 86400, to = (b->o.day_to + 1) * 86400;
	int64_t wfrom = from - (int64_t)b->o.window_s;

	if (h->kind != MUSE_KIND_EVENTS) {
		muse_err_where(e, muse_reader_name(r), 0, muse_reader_stream_offset(r));
		return muse_err_set(e, MUSE_EUSAGE,
		    "expected an event stream, found a sketch stream");
	}
	/* One user must have one hash across the inputs (--hash). */
	if (b->have_hash && (h->hash != b->hash || h->seed != b->seed)) {
		muse_err_where(e, muse_reader_name(r), 0, muse_reader_stream_offset(r));
		return muse_err_set(e, MUSE_EPARAM, "user-id hashing differs: "
		    "%s, but earlier streams used %s (ingest every table with "
		    "the same --hash)", muse_hash_name(h->hash),
		    muse_hash_name(b->hash));
	}
	b->have_hash = 1;
	b->hash = h->hash;
	b->seed = h->seed;
	muse_progress_report(&b->o.progress, "reading records", 0, MUSE_COUNT_UNKNOWN);
	while ((rc = muse_reader_next(r, &rec, &n, e)) == 1) {
		if (++nread % MUSE_PROGRESS_EVERY == 0)
			muse_progress_report(&b->o.progress, "reading records", nread,
			    MUSE_COUNT_UNKNOWN);
		switch (h->table) {
		case MUSE_TABLE_IMPRESSIONS:
			rc = add_imp(b, rec, n, wfrom, to);
			break;
		case MUSE_TABLE_PLAYS:
			rc = add_play(b, rec, n, from, to);
			break;
		case MUSE_TABLE_AFFINITIES:
			rc = add_aff(b, rec, n);
			break;
		default:
			/* Assets are checked (below) and not used. */
			rc = muse_event_decode(h->table, rec, n, &ev, e);
			break;
		}
		if (rc == MUSE_ENOMEM)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		if (rc) {
			/* The full decoder names what is wrong. */
			if (muse_event_decode(h->table, rec, n, &ev, e) == 0)
				muse_err_set(e, MUSE_EFORMAT, "malformed %s record",
				    muse_table_name(h->table));
			muse_err_where(e, muse_reader_name(r), 0, UINT64_MAX);
			return e->code;
		}
	}
	if (rc == 0)
		muse_progress_report(&b->o.progress, "reading records", nread,
		    MUSE_COUNT_UNKNOWN);
	return rc;
}

/* ---- renumbering ids in string order ---- */

static int cmp_ids(const void *a, const void *b, void *tab)
{
	const struct strtab *t = tab;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	uint32_t lx = t->len[x], ly = t->len[y];
	int c = memcmp(t->s[x], t->s[y], lx < ly ? lx : ly);

	return c ? c : (lx > ly) - (lx < ly);
}

/* Returns the permutation old id -> rank in bytewise string order. */
static uint32_t *rank_strings(struct strtab *t)
{
	uint32_t *order = malloc((t->n + 1) * sizeof(uint32_t));
	uint32_t *rank = malloc((t->n + 1) * sizeof(uint32_t));

	if (order == NULL || rank == NULL) {
		free(order);
		free(rank);
		return NULL;
	}
	for (uint32_t i = 0; i < t->n; i++)
		order[i] = i;
	qsort_r(order, t->n, sizeof(uint32_t), cmp_ids, t);
	for (uint32_t i = 0; i < t->n; i++)
		rank[order[i]] = i;
	free(order);
	return rank;
}

/* ---- sorting events ---- */

/*
 * The join needs each user's events together and, within a user, in time
 * order; the title is only a tie-break (the join keeps the last impression
 * of every title as it walks the user's events by time).  Every order
 * below is total on the fields the join reads, so any correct sort gives
 * the same arrays.
 */
static int cmp_imp(const void *a, const void *b)
{
	const struct imp *x = a, *y = b;
	int c = muse_uid_cmp(&x->u, &y->u);

	if (c)
		return c;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	/* Equal times: by triple, in the order of cmp_trip. */
	return (x->trip > y->trip) - (x->trip < y->trip);
}

static int cmp_play(const void *a, const void *b)
{
	const struct play *x = a, *y = b;
	int c = muse_uid_cmp(&x->u, &y->u);

	if (c)
		return c;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->title != y->title)
		return x->title < y->title ? -1 : 1;
	return (x->dur_ms > y->dur_ms) - (x->dur_ms < y->dur_ms);
}

static int cmp_aff(const void *a, const void *b)
{
	const struct aff *x = a, *y = b;
	int c = muse_uid_cmp(&x->u, &y->u);

	if (c)
		return c;
	return (x->cluster > y->cluster) - (x->cluster < y->cluster);
}

#define MAX_EVENT_SIZE 64
_Static_assert(sizeof(struct imp) <= MAX_EVENT_SIZE &&
    sizeof(struct play) <= MAX_EVENT_SIZE &&
    sizeof(struct aff) <= MAX_EVENT_SIZE, "sort_run's buffer is too small");

/*
 * Sorts the m records of one bucket.  The scatter that made the bucket is
 * stable, so its records are in input order, which is mostly time order
 * already (tables are written by day): an insertion sort does that in
 * about one comparison per record.  Input far from that order (more
 * moves than a few per record) is finished by qsort instead.
 */
static inline void sort_run(char *a, size_t m, size_t size,
	int (*cmp)(const void *, const void *))
{
	size_t moves = 0, budget = 4 * m + 32;
	char t[MAX_EVENT_SIZE];

	for (size_t i = 1; i < m; i++) {
		size_t j = i;

		if (cmp(a + i * size, a + (i - 1) * size) >= 0)
			continue;
		memcpy(t, a + i * size, size);
		do {
			memcpy(a + j * size, a + (j - 1) * size, size);
			j--;
			moves++;
		} while (j > 0 && cmp(t, a + (j - 1) * size) < 0);
		memcpy(a + j * size, t, size);
		if (moves > budget) {
			qsort(a, m, size, cmp);
			return;
		}
	}
}

/*
 * Sorts events by user first.  User hashes are uniform, so a counting
 * pass on the top bits of h1 spreads the events over buckets of about one
 * user each, in user order (a stable scatter into the scratch array, which
 * then swaps places with the events' array: *scratch and *nscratch, in
 * bytes, are passed from call to call); each bucket is then sorted by the
 * full order.
 */
static inline int sort_by_user(void **vp, size_t *capp, size_t n,
	size_t size, size_t uid_off, int (*cmp)(const void *, const void *),
	void **scratch, size_t *nscratch)
{
	unsigned bits = 1;
	size_t *start;
	char *tmp, *base = *vp;
	size_t had;

	if (n < 2)
		return 0;
	while (bits < 22 && ((size_t)1 << bits) * 4 < n)
		bits++;
	if (*nscratch < n * size) {
		free(*scratch);
		*nscratch = 0;
		if ((*scratch = malloc(n * size)) == NULL)
			return MUSE_ENOMEM;
		*nscratch = n * size;
	}
	tmp = *scratch;
	if ((start = calloc(((size_t)1 << bits) + 1, sizeof(size_t))) == NULL)
		return MUSE_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct muse_uid *u = (const void *)(base + i * size + uid_off);

		start[(u->h1 >> (64 - bits)) + 1]++;
	}
	for (size_t k = 1; k <= (size_t)1 << bits; k++)
		start[k] += start[k - 1];
	for (size_t i = 0; i < n; i++) {
		const struct muse_uid *u = (const void *)(base + i * size + uid_off);
		size_t k = u->h1 >> (64 - bits);

		memcpy(tmp + start[k]++ * size, base + i * size, size);
	}
	*scratch = *vp;
	*vp = tmp;
	had = *nscratch;
	*nscratch = *capp * size;
	*capp = had / size;
	/* start[k] is now the end of bucket k, and the start of bucket k+1. */
	for (size_t k = 0, from = 0; k < (size_t)1 << bits; k++) {
		if (start[k] - from > 1)
			sort_run(tmp + from * size, start[k] - from, size, cmp);
		from = start[k];
	}
	free(start);
	return 0;
}

/* ---- aggregation ---- */

/* Takes a chunk of 8 << level words; its offset in *at.  0 or ENOMEM. */
static int chunk_new(struct pool *p, unsigned level, uint32_t *at)
{
	size_t words = (size_t)8 << level;

	if (p->n + words > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 65536;
		uint32_t *w;

		if (cap / 8 > UINT32_MAX ||
		    (w = realloc(p->w, cap * sizeof(uint32_t))) == NULL)
			return MUSE_ENOMEM;
		p->w = w;
		p->cap = cap;
	}
	*at = (uint32_t)(p->n / 8);
	p->n += words;
	return 0;
}

static int cvec_add(struct pool *p, struct cvec *c, uint32_t coupon)
{
	if (c->last == coupon)
		return 0;
	if (c->left == 0) {
		unsigned level = c->n == 0 ? 0 : c->level + (c->level < CHUNK_LEVELS);
		uint32_t k;

		if (chunk_new(p, level, &k))
			return MUSE_ENOMEM;
		if (c->n == 0)
			c->head = k;
		else
			p->w[(size_t)c->tail * 8] = k;
		c->tail = k;
		c->level = (uint8_t)level;
		c->left = (uint16_t)((8u << level) - 1);
	}
	p->w[(size_t)c->tail * 8 + ((8u << c->level) - c->left--)] = coupon;
	c->n++;
	c->last = coupon;
	return 0;
}

enum { EV_IMPRESSION, EV_PLAY };

/* Adds one impression or attributed play to every segment of its user. */
static int credit(muse_build *b, const struct imp *im, const uint32_t *segs,
	size_t nsegs, int what, uint64_t dur_ms)
{
	uint32_t coupon = muse_hll_coupon(im->u.h1, im->u.h2);

	for (size_t s = 0; s < nsegs; s++) {
		size_t i = cell_of(b, im->base, segs[s]);
		struct cell *c;

		if (i == SIZE_MAX)
			return MUSE_ENOMEM;
		if (what == EV_IMPRESSION) {
			b->hot.v[i].impressions++;
			if (cvec_add(&b->pool, &b->hot.v[i].reach, coupon))
				return MUSE_ENOMEM;
			continue;
		}
		c = &b->cells.v[i];
		c->plays++;
		if (dur_ms < b->o.qualify_ms)
			continue;
		c->qplays++;
		c->watch_ms += dur_ms;
		if (cvec_add(&b->pool, &c->qreach, coupon) ||
		    (dur_ms >= b->o.authentic_ms &&
		    cvec_add(&b->pool, &c->areach, coupon)))
			return MUSE_ENOMEM;
	}
	return 0;
}

/*
 * Runs the join over every user; events and affinities are sorted.  Per
 * user, impressions and plays are walked together by time: last[t] holds
 * the user's latest impression of title t so far (by the order of
 * cmp_imp: among equal times the smallest asset, then country), stamped
 * with the user's number so that the table is never cleared.
 */
struct last_imp {
	size_t stamp;             /* user number + 1 */
	size_t i;                 /* the impression, in imps */
};

struct join {
	size_t user;              /* users joined */
	struct last_imp *last;    /* by title */
	uint32_t *segs;
	size_t segcap;
	uint64_t done, next;      /* events joined, and at the next report */
};

static int join_part(muse_build *b, const struct part *pt, struct join *j)
{
	size_t ii = 0, pi = 0, ai = 0;
	int with_segments = b->o.dims & 1u << MUSE_DIM_SEGMENT;
	int64_t from = b->o.day_from * 86400;
	const struct imp *imps = pt->imps.v;
	const struct play *plays = pt->plays.v;
	const struct aff *affs = pt->affs.v;
	struct last_imp *last = j->last;
	int rc;

	while (ii < pt->imps.n || pi < pt->plays.n) {
		struct muse_uid u;
		size_t nsegs = 0, ie, pe;
		uint32_t *segs;

		if (j->done + ii + pi >= j->next) {
			muse_progress_report(&b->o.progress, "joining events",
			    j->done + ii + pi, b->nimps + b->nplays);
			j->next = j->done + ii + pi + MUSE_PROGRESS_EVERY;
		}

		/* The next user with impressions or plays. */
		if (ii < pt->imps.n && (pi >= pt->plays.n ||
		    muse_uid_cmp(&imps[ii].u, &plays[pi].u) <= 0))
			u = imps[ii].u;
		else
			u = plays[pi].u;
		for (ie = ii; ie < pt->imps.n && muse_uid_cmp(&u, &imps[ie].u) == 0;
		    ie++)
			;
		for (pe = pi; pe < pt->plays.n &&
		    muse_uid_cmp(&u, &plays[pe].u) == 0; pe++)
			;
		/* The user's segments: "*" and each cluster (deduplicated). */
		while (ai < pt->affs.n && muse_uid_cmp(&affs[ai].u, &u) < 0)
			ai++;
		if (j->segcap == 0 &&
		    grow((void **)&j->segs, &j->segcap, sizeof(*j->segs)))
			return MUSE_ENOMEM;
		j->segs[nsegs++] = b->star;
		for (; ai < pt->affs.n && muse_uid_cmp(&affs[ai].u, &u) == 0; ai++) {
			if (!with_segments || affs[ai].cluster == j->segs[nsegs - 1] ||
			    affs[ai].cluster == b->star)
				continue;
			if (nsegs == j->segcap &&
			    grow((void **)&j->segs, &j->segcap, sizeof(*j->segs)))
				return MUSE_ENOMEM;
			j->segs[nsegs++] = affs[ai].cluster;
		}
		segs = j->segs;
		for (size_t i = ii; i < ie; i++)
			if ((!b->o.has_dates || imps[i].ts >= from) &&
			    (rc = credit(b, &imps[i], segs, nsegs, EV_IMPRESSION, 0)))
				return rc;
		/* Each play against the latest impression of its title. */
		j->user++;
		for (size_t p = pi, i = ii; p < pe; p++) {
			const struct play *pl = &plays[p];
			const struct imp *best;

			for (; i < ie && imps[i].ts <= pl->ts; i++) {
				uint32_t t = b->trip.v[imps[i].trip].title;

				last[t].stamp = j->user;
				last[t].i = i;
			}
			if (last[pl->title].stamp != j->user)
				continue;
			best = &imps[last[pl->title].i];
			if (best->ts < pl->ts - (int64_t)b->o.window_s)
				continue;
			if ((rc = credit(b, best, segs, nsegs, EV_PLAY, pl->dur_ms)))
				return rc;
		}
		ii = ie;
		pi = pe;
	}
	j->done += ii + pi;
	return 0;
}

/*
 * Sorts each part's events by user and joins it: the scratch of the sort
 * is the array the part's events were in before, passed on to the next.
 */
static int sort_and_join(muse_build *b)
{
	struct join j;
	void *scratch = NULL;
	size_t nscratch = 0;      /* bytes */
	int rc = 0;

	memset(&j, 0, sizeof(j));
	j.next = MUSE_PROGRESS_EVERY;
	if ((j.last = calloc(b->strs.n + 1, sizeof(*j.last))) == NULL)
		return MUSE_ENOMEM;
	muse_progress_report(&b->o.progress, "joining events", 0,
	    b->nimps + b->nplays);
	for (size_t k = 0; k < NPARTS && rc == 0; k++) {
		struct part *pt = &b->part[k];

		if ((rc = sort_by_user((void **)&pt->imps.v, &pt->imps.cap,
		    pt->imps.n, sizeof(struct imp), offsetof(struct imp, u),
		    cmp_imp, &scratch, &nscratch)) ||
		    (rc = sort_by_user((void **)&pt->plays.v, &pt->plays.cap,
		    pt->plays.n, sizeof(struct play), offsetof(struct play, u),
		    cmp_play, &scratch, &nscratch)) ||
		    (rc = sort_by_user((void **)&pt->affs.v, &pt->affs.cap,
		    pt->affs.n, sizeof(struct aff), offsetof(struct aff, u),
		    cmp_aff, &scratch, &nscratch)))
			break;
		rc = join_part(b, pt, &j);
		/* The part's events are done with. */
		free(pt->imps.v);
		free(pt->plays.v);
		free(pt->affs.v);
		memset(pt, 0, sizeof(*pt));
	}
	if (rc == 0)
		muse_progress_report(&b->o.progress, "joining events",
		    b->nimps + b->nplays, b->nimps + b->nplays);
	free(scratch);
	free(j.last);
	free(j.segs);
	return rc;
}

/* ---- output ---- */

/*
 * Sorts n coupons at v, with tmp (n words) as scratch: insertion for a
 * few, else counting passes (LSD radix) of 8 bits, or of 11 bits for many.
 * Returns where the sorted coupons are: v or tmp.
 */
static uint32_t *sort_u32(uint32_t *v, uint32_t *tmp, uint32_t n)
{
	uint32_t *src = v, *dst = tmp;
	unsigned width = n < 4096 ? 8 : 11;
	uint32_t mask = (1u << width) - 1;
	uint32_t count[2049];

	if (n < 48) {
		for (uint32_t i = 1; i < n; i++) {
			uint32_t x = v[i], j = i;

			for (; j > 0 && v[j - 1] > x; j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
		return v;
	}
	for (unsigned shift = 0; shift < 32; shift += width) {
		uint32_t *t;

		memset(count, 0, (mask + 2) * sizeof(uint32_t));
		for (uint32_t i = 0; i < n; i++)
			count[(src[i] >> shift & mask) + 1]++;
		for (uint32_t k = 1; k <= mask + 1; k++)
			count[k] += count[k - 1];
		for (uint32_t i = 0; i < n; i++)
			dst[count[src[i] >> shift & mask]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	return src;
}

/* Key order of cells: title, asset, date, segment, country (muse-format(5)). */
static int cmp_cells(const void *a, const void *b, void *ctx)
{
	const muse_build *bd = ctx;
	const struct cell *x = &bd->cells.v[*(const uint32_t *)a];
	const struct cell *y = &bd->cells.v[*(const uint32_t *)b];
	const struct base *p = &bd->bases.v[x->base], *q = &bd->bases.v[y->base];

	if (p->title != q->title)
		return p->title < q->title ? -1 : 1;
	if (p->asset != q->asset)
		return p->asset < q->asset ? -1 : 1;
	if (p->day != q->day)
		return p->day < q->day ? -1 : 1;
	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	if (p->country != q->country)
		return p->country < q->country ? -1 : 1;
	return 0;
}

/*
 * Fills a sketch from a vector of coupons: gathered from the pool into
 * the build's scratch and sorted there first (the cheap order to add).
 */
static int fill(muse_build *b, muse_hll *h, const struct cvec *c)
{
	uint32_t *v, k = c->head;

	muse_hll_clear(h);
	if (c->n == 0)
		return 0;
	if (c->n > b->nscratch) {
		free(b->scratch);
		b->nscratch = c->n;
		if ((b->scratch = malloc(2 * b->nscratch * sizeof(uint32_t))) == NULL) {
			b->nscratch = 0;
			return MUSE_ENOMEM;
		}
	}
	for (uint32_t i = 0, level = 0; i < c->n; ) {
		const uint32_t *w = b->pool.w + (size_t)k * 8;
		uint32_t room = (8u << level) - 1;
		uint32_t m = c->n - i < room ? c->n - i : room;

		memcpy(b->scratch + i, w + 1, m * sizeof(uint32_t));
		i += m;
		k = w[0];
		level += level < CHUNK_LEVELS;
	}
	v = sort_u32(b->scratch, b->scratch + b->nscratch, c->n);
	return muse_hll_add_many(h, v, c->n) ? MUSE_ENOMEM : 0;
}

/*
 * Among impressions of one user at one time, the latest (the one a play
 * is attributed to) is the smallest asset (SPEC 4), and among impressions
 * of one asset in one second, the smallest country (the SPEC is silent;
 * this is fixed so that the answer never depends on input order): so
 * triples are ordered by descending asset, then country, then by title.
 */
static int cmp_trip(const void *a, const void *b, void *ctx)
{
	const struct triple *t = ctx;
	const struct triple *x = &t[*(const uint32_t *)a];
	const struct triple *y = &t[*(const uint32_t *)b];

	if (x->asset != y->asset)
		return x->asset > y->asset ? -1 : 1;
	if (x->country != y->country)
		return x->country > y->country ? -1 : 1;
	return (x->title > y->title) - (x->title < y->title);
}

/* Renumbers triples in the order of cmp_trip (strings renumbered first). */
static int order_triples(muse_build *b)
{
	size_t n = b->trip.n;
	uint32_t *order = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *rank = malloc((n + 1) * sizeof(uint32_t));
	struct triple *t = malloc((n + 1) * sizeof(struct triple));

	if (order == NULL || rank == NULL || t == NULL) {
		free(order);
		free(rank);
		free(t);
		return MUSE_ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(uint32_t), cmp_trip, b->trip.v);
	for (uint32_t i = 0; i < n; i++) {
		rank[order[i]] = i;
		t[i] = b->trip.v[order[i]];
	}
	for (size_t k = 0; k < NPARTS; k++)
		for (size_t i = 0; i < b->part[k].imps.n; i++)
			b->part[k].imps.v[i].trip = rank[b->part[k].imps.v[i].trip];
	free(b->trip.v);
	b->trip.v = t;
	b->trip.cap = n + 1;
	free(order);
	free(rank);
	return 0;
}

/* Renumbers every string id in bytewise order of the strings. */
static int renumber(muse_build *b)
{
	uint32_t *rank = rank_strings(&b->strs);
	uint8_t d = b->o.dims;
	char **s;
	uint32_t *l;

	if (rank == NULL)
		return MUSE_ENOMEM;
	s = malloc((b->strs.n + 1) * sizeof(char *));
	l = malloc((b->strs.n + 1) * sizeof(uint32_t));
	if (s == NULL || l == NULL) {
		free(s);
		free(l);
		free(rank);
		return MUSE_ENOMEM;
	}
	for (size_t i = 0; i < b->trip.n; i++) {
		b->trip.v[i].asset = rank[b->trip.v[i].asset];
		b->trip.v[i].title = rank[b->trip.v[i].title];
		b->trip.v[i].country = rank[b->trip.v[i].country];
	}
	for (size_t k = 0; k < NPARTS; k++) {
		struct part *pt = &b->part[k];

		for (size_t i = 0; i < pt->plays.n; i++)
			pt->plays.v[i].title = rank[pt->plays.v[i].title];
		for (size_t i = 0; i < pt->affs.n; i++)
			pt->affs.v[i].cluster = rank[pt->affs.v[i].cluster];
	}
	for (size_t i = 0; i < b->bases.n; i++) {
		struct base *t = &b->bases.v[i];

		if (d & 1u << MUSE_DIM_TITLE)
			t->title = rank[t->title];
		if (d & 1u << MUSE_DIM_ASSET)
			t->asset = rank[t->asset];
		if (d & 1u << MUSE_DIM_COUNTRY)
			t->country = rank[t->country];
	}
	b->star = rank[b->star];
	for (uint32_t i = 0; i < b->strs.n; i++) {
		s[rank[i]] = b->strs.s[i];
		l[rank[i]] = b->strs.len[i];
	}
	free(b->strs.s);
	free(b->strs.len);
	b->strs.s = s;
	b->strs.len = l;
	free(b->strs.slots);    /* the intern map is stale now */
	b->strs.slots = NULL;
	b->strs.nslots = 0;
	free(rank);
	return order_triples(b);
}

/*
 * Numbers the segments ("*" and every cluster of the affinities read) and
 * lays cells out by base and segment when that table is small: at most
 * 16 bytes per event (which takes 32 or more), or 4 MB.  Else cells are
 * made as they come, in cell_map.  0 or MUSE_ENOMEM.
 */
static int index_cells(muse_build *b)
{
	int with_segments = b->o.dims & 1u << MUSE_DIM_SEGMENT;
	uint64_t entries;

	if ((b->slot_of = calloc(b->strs.n + 1, sizeof(uint32_t))) == NULL)
		return MUSE_ENOMEM;
	b->slot_of[b->star] = ++b->nslots;
	for (size_t k = 0; with_segments && k < NPARTS; k++)
		for (size_t i = 0; i < b->part[k].affs.n; i++)
			if (b->slot_of[b->part[k].affs.v[i].cluster] == 0)
				b->slot_of[b->part[k].affs.v[i].cluster] = ++b->nslots;
	entries = (uint64_t)b->bases.n * b->nslots;
	if (entries >= UINT32_MAX || entries * (sizeof(struct hot) +
	    sizeof(struct cell)) > 16 * (b->nimps + b->nplays) +
	    ((uint64_t)4 << 20))
		return 0;
	b->hot.v = calloc((size_t)entries + 1, sizeof(struct hot));
	b->cells.v = calloc((size_t)entries + 1, sizeof(struct cell));
	if (b->hot.v == NULL || b->cells.v == NULL)
		return MUSE_ENOMEM;
	b->hot.n = b->hot.cap = b->cells.n = b->cells.cap = (size_t)entries;
	b->dense = 1;
	return 0;
}

int muse_build_finish(muse_build *b, FILE *out, const char *name,
	struct muse_err *e)
{
	struct muse_header h;
	struct muse_buf rec = { 0 };
	struct muse_acc acc;
	uint32_t *order = NULL;
	muse_writer *w = NULL;
	int rc;

	memset(&acc, 0, sizeof(acc));
	muse_progress_report(&b->o.progress, "sorting events", 0,
	    MUSE_COUNT_UNKNOWN);
	if (renumber(b))
		goto nomem;
	if (index_cells(b) || sort_and_join(b))
		goto nomem;
	order = b->live.v;
	if (muse_acc_init(&acc, b->o.lgk))
		goto nomem;
	if (b->live.n > 1)      /* live.v is NULL when there are no cells */
		qsort_r(order, b->live.n, sizeof(uint32_t), cmp_cells, b);
	muse_build_header(b, &h);
	if ((w = muse_writer_new(out, name, &h, 0, e)) == NULL) {
		rc = e->code;
		goto done;
	}
	if (b->o.write_behind)
		muse_writer_write_behind(w);
	for (size_t i = 0; i < b->live.n; i++) {
		struct hot *hc = &b->hot.v[order[i]];
		struct cell *c = &b->cells.v[order[i]];
		const struct base *t = &b->bases.v[c->base];
		struct muse_key key;
		uint32_t sid[MUSE_NDIMS];

		if (i % MUSE_PROGRESS_EVERY == 0)
			muse_progress_report(&b->o.progress, "writing sketches", i,
			    b->live.n);
		sid[MUSE_DIM_TITLE] = t->title;
		sid[MUSE_DIM_ASSET] = t->asset;
		sid[MUSE_DIM_SEGMENT] = c->seg;
		sid[MUSE_DIM_COUNTRY] = t->country;
		memset(&key, 0, sizeof(key));
		key.day = t->day;
		for (int d = 0; d < MUSE_NDIMS; d++) {
			if (d == MUSE_DIM_DATE || !(b->o.dims & 1u << d))
				continue;
			key.s[d].p = b->strs.s[sid[d]];
			key.s[d].n = b->strs.len[sid[d]];
		}
		acc.impressions = hc->impressions;
		acc.plays = c->plays;
		acc.qplays = c->qplays;
		acc.watch_ms = c->watch_ms;
		rec.len = 0;
		if (fill(b, acc.reach, &hc->reach) ||
		    fill(b, acc.qreach, &c->qreach) ||
		    fill(b, acc.areach, &c->areach) ||
		    muse_rec_encode(&h, &key, &acc, &rec))
			goto nomem;
		if ((rc = muse_writer_add(w, rec.p, rec.len, e)))
			goto done;
	}
	rc = muse_writer_finish(w, e);
	if (rc == 0)
		muse_progress_report(&b->o.progress, "writing sketches",
		    b->live.n, b->live.n);
	goto done;
nomem:
	rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
done:
	muse_writer_free(w);
	muse_buf_free(&rec);
	muse_acc_free(&acc);
	return rc;
}
