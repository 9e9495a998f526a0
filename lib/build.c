/*
 * build.c - the attribution join and aggregation (SPEC 4).
 *
 * All events that can matter are loaded into compact arrays, with every
 * string interned to a 32-bit id.  After loading, ids are renumbered in
 * bytewise order of their strings, so that integer comparisons of ids give
 * the key order of muse-format(5) and the "bytewise smallest asset_id"
 * tie-break of the attribution rule.
 *
 * The join works per (user, title): impressions sorted by time ascending
 * and, for equal times, asset descending; plays sorted by time.  For each
 * play at t the last impression with ts <= t is, by that order, the latest
 * one with the smallest asset among equals; it counts when ts >= t - W.
 * One pointer walks the impressions as the plays advance, so the join is
 * linear after sorting.
 *
 * With a date range, impressions of the days counted are counted, and the
 * impressions of the window before the first day are loaded only to
 * attribute plays; plays are counted by their own day.  A play is keyed by
 * its impression's day, which may lie before the range: that is what makes
 * daily batches add up to the whole period, byte for byte.
 *
 * Aggregation is a hash map from key tuples of ids to accumulators; the
 * keys are sorted at the end and written in order.
 */
#include <stdlib.h>
#include <string.h>

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

struct imp {
	int64_t ts;
	struct muse_uid u;
	uint32_t asset, title, country;
	uint32_t counted;
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

#define ARRAY(T) struct { T *v; size_t n, cap; }

struct keyslot {
	uint32_t id[MUSE_NDIMS];  /* string ids; the date slot holds the day */
	uint32_t acc;             /* index into accs */
	uint32_t used;
};

struct muse_build {
	struct muse_build_opts o;
	struct strtab strs;
	ARRAY(struct imp) imps;
	ARRAY(struct play) plays;
	ARRAY(struct aff) affs;
	uint32_t star;            /* id of "*" */
	/* aggregation */
	struct keyslot *slots;
	size_t nslots, nkeys;
	struct muse_acc *accs;
	size_t naccs, capaccs;
};

#define PUSH(arr, item) \
	((arr).n == (arr).cap ? grow((void **)&(arr).v, &(arr).cap, \
	    sizeof(*(arr).v)) : 0) || ((arr).v[(arr).n++] = (item), 0)

static int grow(void **v, size_t *cap, size_t size)
{
	size_t nc = *cap ? *cap * 2 : 4096;
	void *p = realloc(*v, nc * size);

	if (p == NULL)
		return MUSE_ENOMEM;
	*v = p;
	*cap = nc;
	return 0;
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
	free(b->imps.v);
	free(b->plays.v);
	free(b->affs.v);
	for (size_t i = 0; i < b->naccs; i++)
		muse_acc_free(&b->accs[i]);
	free(b->accs);
	free(b->slots);
	free(b);
}

void muse_build_header(const muse_build *b, struct muse_header *h)
{
	memset(h, 0, sizeof(*h));
	h->kind = MUSE_KIND_SKETCH;
	h->flags = MUSE_FLAG_SORTED;
	h->hash = MUSE_HASH_XXH3;
	h->seed = MUSE_HASH_SEED;
	h->dims = b->o.dims;
	h->grain = MUSE_GRAIN_DAY;
	h->lgk = (uint8_t)b->o.lgk;
	h->metrics = MUSE_METRICS_V1;
	h->window_s = b->o.window_s;
	h->qualify_ms = b->o.qualify_ms;
	h->authentic_ms = b->o.authentic_ms;
}

static int keep_user(const muse_build *b, const struct muse_uid *u)
{
	return b->o.nbuckets == 0 ||
	    muse_uid_bucket(u, b->o.nbuckets) == b->o.bucket;
}

int muse_build_add(muse_build *b, muse_reader *r, const struct muse_header *h,
	struct muse_err *e)
{
	struct muse_event ev;
	const uint8_t *rec;
	size_t n;
	int rc;
	int64_t from = b->o.day_from * 86400, to = (b->o.day_to + 1) * 86400;
	int64_t wfrom = from - (int64_t)b->o.window_s;

	if (h->kind != MUSE_KIND_EVENTS) {
		muse_err_where(e, muse_reader_name(r), 0, muse_reader_stream_offset(r));
		return muse_err_set(e, MUSE_EUSAGE,
		    "expected an event stream, found a sketch stream");
	}
	if (h->seed != MUSE_HASH_SEED || h->hash != MUSE_HASH_XXH3) {
		muse_err_where(e, muse_reader_name(r), 0, muse_reader_stream_offset(r));
		return muse_err_set(e, MUSE_EPARAM, "user-id hashing differs");
	}
	while ((rc = muse_reader_next(r, &rec, &n, e)) == 1) {
		if ((rc = muse_event_decode(h->table, rec, n, &ev, e))) {
			muse_err_where(e, muse_reader_name(r), 0, UINT64_MAX);
			return rc;
		}
		if (h->table == MUSE_TABLE_ASSETS || !keep_user(b, &ev.user))
			continue;
		if (h->table == MUSE_TABLE_IMPRESSIONS) {
			struct imp im;

			if (b->o.has_dates && (ev.ts < wfrom || ev.ts >= to))
				continue;
			im.ts = ev.ts;
			im.u = ev.user;
			im.counted = !b->o.has_dates || ev.ts >= from;
			if (strtab_intern(&b->strs, ev.asset.p, ev.asset.n, &im.asset) ||
			    strtab_intern(&b->strs, ev.title.p, ev.title.n, &im.title) ||
			    strtab_intern(&b->strs, ev.country.p, ev.country.n,
			    &im.country) || PUSH(b->imps, im))
				goto nomem;
		} else if (h->table == MUSE_TABLE_PLAYS) {
			struct play pl;

			/* Previews never count (SPEC 4). */
			if (ev.kind != MUSE_KIND_PLAY ||
			    (b->o.has_dates && (ev.ts < from || ev.ts >= to)))
				continue;
			pl.ts = ev.ts;
			pl.u = ev.user;
			pl.dur_ms = ev.duration_ms;
			if (strtab_intern(&b->strs, ev.title.p, ev.title.n, &pl.title) ||
			    PUSH(b->plays, pl))
				goto nomem;
		} else {
			struct aff af;

			af.u = ev.user;
			if (strtab_intern(&b->strs, ev.cluster.p, ev.cluster.n,
			    &af.cluster) || PUSH(b->affs, af))
				goto nomem;
		}
	}
	return rc;
nomem:
	return muse_err_set(e, MUSE_ENOMEM, "out of memory");
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

static int cmp_imp(const void *a, const void *b)
{
	const struct imp *x = a, *y = b;
	int c = muse_uid_cmp(&x->u, &y->u);

	if (c)
		return c;
	if (x->title != y->title)
		return x->title < y->title ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	/*
	 * Descending asset, then country: the last of equal times is the
	 * smallest asset (SPEC 4), and among impressions of one asset in one
	 * second, the smallest country (the SPEC is silent; this is fixed so
	 * that the answer never depends on input order).
	 */
	if (x->asset != y->asset)
		return x->asset > y->asset ? -1 : 1;
	if (x->country != y->country)
		return x->country > y->country ? -1 : 1;
	return (x->counted > y->counted) - (x->counted < y->counted);
}

static int cmp_play(const void *a, const void *b)
{
	const struct play *x = a, *y = b;
	int c = muse_uid_cmp(&x->u, &y->u);

	if (c)
		return c;
	if (x->title != y->title)
		return x->title < y->title ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
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

/* ---- aggregation map ---- */

static uint64_t key_hash(const uint32_t *id)
{
	return XXH3_64bits(id, MUSE_NDIMS * sizeof(uint32_t));
}

static int map_grow(muse_build *b)
{
	size_t ns = b->nslots ? b->nslots * 2 : 4096;
	struct keyslot *slots = calloc(ns, sizeof(*slots));

	if (slots == NULL)
		return MUSE_ENOMEM;
	for (size_t i = 0; i < b->nslots; i++) {
		size_t j;

		if (!b->slots[i].used)
			continue;
		j = key_hash(b->slots[i].id) & (ns - 1);
		while (slots[j].used)
			j = (j + 1) & (ns - 1);
		slots[j] = b->slots[i];
	}
	free(b->slots);
	b->slots = slots;
	b->nslots = ns;
	return 0;
}

/* Finds or creates the accumulator of a key tuple. */
static struct muse_acc *acc_of(muse_build *b, const uint32_t *id)
{
	size_t j;

	if ((b->nkeys + 1) * 4 > b->nslots * 3 && map_grow(b))
		return NULL;
	j = key_hash(id) & (b->nslots - 1);
	while (b->slots[j].used) {
		if (memcmp(b->slots[j].id, id, sizeof(b->slots[j].id)) == 0)
			return &b->accs[b->slots[j].acc];
		j = (j + 1) & (b->nslots - 1);
	}
	if (b->naccs == b->capaccs &&
	    grow((void **)&b->accs, &b->capaccs, sizeof(*b->accs)))
		return NULL;
	if (muse_acc_init(&b->accs[b->naccs], b->o.lgk))
		return NULL;
	memcpy(b->slots[j].id, id, sizeof(b->slots[j].id));
	b->slots[j].used = 1;
	b->slots[j].acc = (uint32_t)b->naccs;
	b->nkeys++;
	return &b->accs[b->naccs++];
}

/* The key tuple of an impression for one segment, reduced to the grain. */
static void make_key(const muse_build *b, const struct imp *im, uint32_t seg,
	uint32_t *id)
{
	uint8_t d = b->o.dims;

	id[MUSE_DIM_TITLE] = d & 1u << MUSE_DIM_TITLE ? im->title : 0;
	id[MUSE_DIM_ASSET] = d & 1u << MUSE_DIM_ASSET ? im->asset : 0;
	id[MUSE_DIM_DATE] = d & 1u << MUSE_DIM_DATE ?
	    (uint32_t)muse_ts_day(im->ts) : 0;
	id[MUSE_DIM_SEGMENT] = d & 1u << MUSE_DIM_SEGMENT ? seg : 0;
	id[MUSE_DIM_COUNTRY] = d & 1u << MUSE_DIM_COUNTRY ? im->country : 0;
}

enum { EV_IMPRESSION, EV_PLAY };

/* Adds one impression or attributed play to every segment of its user. */
static int credit(muse_build *b, const struct imp *im, const uint32_t *segs,
	size_t nsegs, int what, uint64_t dur_ms)
{
	uint32_t coupon = muse_hll_coupon(im->u.h1, im->u.h2);
	uint32_t id[MUSE_NDIMS];

	for (size_t s = 0; s < nsegs; s++) {
		struct muse_acc *a;

		make_key(b, im, segs[s], id);
		if ((a = acc_of(b, id)) == NULL)
			return MUSE_ENOMEM;
		if (what == EV_IMPRESSION) {
			a->impressions++;
			if (muse_hll_add(a->reach, coupon))
				return MUSE_ENOMEM;
			continue;
		}
		a->plays++;
		if (dur_ms < b->o.qualify_ms)
			continue;
		a->qplays++;
		a->watch_ms += dur_ms;
		if (muse_hll_add(a->qreach, coupon) ||
		    (dur_ms >= b->o.authentic_ms && muse_hll_add(a->areach, coupon)))
			return MUSE_ENOMEM;
	}
	return 0;
}

/* Runs the join over every user; events and affinities are sorted. */
static int join(muse_build *b)
{
	size_t ii = 0, pi = 0, ai = 0;
	uint32_t *segs = NULL;
	size_t segcap = 0;
	int with_segments = b->o.dims & 1u << MUSE_DIM_SEGMENT;
	int rc = 0;

	while (ii < b->imps.n || pi < b->plays.n) {
		struct muse_uid u;
		size_t nsegs = 0, ie, pe;

		/* The next user with impressions or plays. */
		if (ii < b->imps.n && (pi >= b->plays.n ||
		    muse_uid_cmp(&b->imps.v[ii].u, &b->plays.v[pi].u) <= 0))
			u = b->imps.v[ii].u;
		else
			u = b->plays.v[pi].u;
		for (ie = ii; ie < b->imps.n &&
		    muse_uid_cmp(&u, &b->imps.v[ie].u) == 0; ie++)
			;
		for (pe = pi; pe < b->plays.n &&
		    muse_uid_cmp(&u, &b->plays.v[pe].u) == 0; pe++)
			;
		/* The user's segments: "*" and each cluster (deduplicated). */
		while (ai < b->affs.n && muse_uid_cmp(&b->affs.v[ai].u, &u) < 0)
			ai++;
		if (segcap == 0 && grow((void **)&segs, &segcap, sizeof(*segs)))
			goto nomem;
		segs[nsegs++] = b->star;
		for (; ai < b->affs.n && muse_uid_cmp(&b->affs.v[ai].u, &u) == 0;
		    ai++) {
			if (!with_segments || b->affs.v[ai].cluster == segs[nsegs - 1] ||
			    b->affs.v[ai].cluster == b->star)
				continue;
			if (nsegs == segcap &&
			    grow((void **)&segs, &segcap, sizeof(*segs)))
				goto nomem;
			segs[nsegs++] = b->affs.v[ai].cluster;
		}
		for (size_t i = ii; i < ie; i++)
			if (b->imps.v[i].counted &&
			    (rc = credit(b, &b->imps.v[i], segs, nsegs, EV_IMPRESSION, 0)))
				goto out;
		/* Plays against impressions of the same title. */
		for (size_t p = pi, i = ii; p < pe; p++) {
			const struct play *pl = &b->plays.v[p];
			const struct imp *best = NULL;

			while (i < ie && b->imps.v[i].title < pl->title)
				i++;
			while (i < ie && b->imps.v[i].title == pl->title &&
			    b->imps.v[i].ts <= pl->ts)
				i++;
			if (i > ii && b->imps.v[i - 1].title == pl->title &&
			    b->imps.v[i - 1].ts <= pl->ts)
				best = &b->imps.v[i - 1];
			if (best == NULL || best->ts < pl->ts - (int64_t)b->o.window_s)
				continue;
			if ((rc = credit(b, best, segs, nsegs, EV_PLAY, pl->dur_ms)))
				goto out;
		}
		ii = ie;
		pi = pe;
	}
out:
	free(segs);
	return rc;
nomem:
	free(segs);
	return MUSE_ENOMEM;
}

/* ---- output ---- */

static int cmp_slot(const void *a, const void *b)
{
	const struct keyslot *x = a, *y = b;

	for (int d = 0; d < MUSE_NDIMS; d++) {
		/* Dates are days since 1970: unsigned order is numeric order. */
		if (x->id[d] != y->id[d])
			return x->id[d] < y->id[d] ? -1 : 1;
	}
	return 0;
}

int muse_build_finish(muse_build *b, FILE *out, const char *name,
	struct muse_err *e)
{
	struct muse_header h;
	struct muse_buf rec = { 0 };
	struct keyslot *keys = NULL;
	muse_writer *w = NULL;
	uint32_t *rank;
	size_t k = 0;
	int rc = MUSE_ENOMEM;

	if ((rank = rank_strings(&b->strs)) == NULL)
		goto nomem;
	for (size_t i = 0; i < b->imps.n; i++) {
		b->imps.v[i].asset = rank[b->imps.v[i].asset];
		b->imps.v[i].title = rank[b->imps.v[i].title];
		b->imps.v[i].country = rank[b->imps.v[i].country];
	}
	for (size_t i = 0; i < b->plays.n; i++)
		b->plays.v[i].title = rank[b->plays.v[i].title];
	for (size_t i = 0; i < b->affs.n; i++)
		b->affs.v[i].cluster = rank[b->affs.v[i].cluster];
	b->star = rank[b->star];
	/* The string of each new id, for writing keys. */
	{
		char **s = malloc((b->strs.n + 1) * sizeof(char *));
		uint32_t *l = malloc((b->strs.n + 1) * sizeof(uint32_t));

		if (s == NULL || l == NULL) {
			free(s);
			free(l);
			goto nomem;
		}
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
	}
	if (b->imps.n)
		qsort(b->imps.v, b->imps.n, sizeof(struct imp), cmp_imp);
	if (b->plays.n)
		qsort(b->plays.v, b->plays.n, sizeof(struct play), cmp_play);
	if (b->affs.n)
		qsort(b->affs.v, b->affs.n, sizeof(struct aff), cmp_aff);
	if ((rc = join(b)))
		goto nomem;
	keys = malloc((b->nkeys + 1) * sizeof(*keys));
	if (keys == NULL)
		goto nomem;
	for (size_t i = 0; i < b->nslots; i++)
		if (b->slots[i].used)
			keys[k++] = b->slots[i];
	qsort(keys, k, sizeof(*keys), cmp_slot);
	muse_build_header(b, &h);
	if ((w = muse_writer_new(out, name, &h, 0, e)) == NULL) {
		rc = e->code;
		goto done;
	}
	for (size_t i = 0; i < k; i++) {
		struct muse_key key;

		memset(&key, 0, sizeof(key));
		for (int d = 0; d < MUSE_NDIMS; d++) {
			if (d == MUSE_DIM_DATE) {
				key.day = keys[i].id[d];
				continue;
			}
			key.s[d].p = b->strs.s[keys[i].id[d]];
			key.s[d].n = b->strs.len[keys[i].id[d]];
		}
		rec.len = 0;
		if (muse_rec_encode(&h, &key, &b->accs[keys[i].acc], &rec))
			goto nomem;
		if ((rc = muse_writer_add(w, rec.p, rec.len, e)))
			goto done;
	}
	rc = muse_writer_finish(w, e);
	goto done;
nomem:
	rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
done:
	muse_writer_free(w);
	muse_buf_free(&rec);
	free(keys);
	free(rank);
	return rc;
}
