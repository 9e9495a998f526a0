/*
 * query.c - the query engine.
 *
 * A query reads the records of its stores, keeps those that pass the
 * filters, and folds each into the group its key belongs to: counters add,
 * sketches unite (so a user counts once across any union of keys).  Then
 * every group's metrics are computed, sorted and written.
 *
 * Segments need care.  Counters of different segments cannot be added:
 * a user in two clusters has every impression counted in both.  So when
 * neither --segment nor --by segment is given only the "*" rows are read
 * (they hold the all-users figures), and a group that unites several
 * segments reports its distinct counts and their rates but leaves the
 * counters empty, with a warning, rather than print a wrong number.
 */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "buf.h"
#include "cli.h"
#include "dsketch.h"
#include "opts.h"
#include "query.h"
#include "sketch.h"
#include "store.h"
#include "stream.h"
#include "ts.h"

static const char *const metric_names[MUSE_NMETRICS] = {
	"impressions", "reach", "plays", "qplays", "qreach", "areach",
	"watch_s", "take_rate", "authentic_rate", "bounce_rate"
};

static const char *const group_names[MUSE_NGROUPS] = {
	"title", "asset", "date", "segment", "country", "week", "month"
};

const char *muse_metric_name(int m)
{
	return m >= 0 && m < MUSE_NMETRICS ? metric_names[m] : "unknown";
}

struct patterns {
	char **v;
	size_t n;
	unsigned char *hit;
};

struct group {
	char *key;            /* group values, each followed by a NUL */
	size_t keylen;
	struct muse_acc acc;
	char seg[256];        /* the first segment folded in */
	int multi_seg;
};

struct row {
	struct group *g;
	double v[MUSE_NMETRICS], lo[MUSE_NMETRICS], hi[MUSE_NMETRICS];
	unsigned char ok[MUSE_NMETRICS];
};

struct muse_query {
	struct patterns filter[MUSE_NDIMS];
	int has_dates;
	int64_t day_from, day_to;
	uint8_t by;                 /* mask over MUSE_NGROUPS */
	int by_order[MUSE_NGROUPS]; /* group columns as the user listed them */
	int nby;
	int metrics[MUSE_NMETRICS];
	int nmetrics;
	double z;                   /* 0: no bounds */
	int sort_metric;            /* -1: by group */
	int sort_asc;
	uint64_t top;
	enum muse_format fmt;
	enum muse_sketch_kind sketch;
	const char *sketch_dir;     /* NULL: base64 in the answer */
	/* state */
	int have_h;
	struct muse_header h;
	struct group *groups;
	size_t ngroups, capgroups;
	size_t *slots;              /* group index + 1 */
	size_t nslots;
	struct muse_acc rec;
	struct muse_buf key;
	uint64_t version, content;  /* named by JSON lines (--serve) */
	uint64_t blocks_read;       /* of indexed stores, for --stats */
	uint64_t blocks_total;
	uint64_t stores_scanned;    /* read whole, without an index */
};

muse_query *muse_query_new(struct muse_err *e)
{
	static const int defaults[] = { MUSE_M_IMPRESSIONS, MUSE_M_REACH,
		MUSE_M_PLAYS, MUSE_M_QREACH, MUSE_M_TAKE_RATE };
	muse_query *q = calloc(1, sizeof(*q));

	if (q == NULL) {
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	q->nmetrics = (int)(sizeof(defaults) / sizeof(defaults[0]));
	memcpy(q->metrics, defaults, sizeof(defaults));
	q->sort_metric = -1;
	q->fmt = MUSE_FMT_TSV;
	return q;
}

void muse_query_free(muse_query *q)
{
	if (q == NULL)
		return;
	for (int d = 0; d < MUSE_NDIMS; d++) {
		for (size_t i = 0; i < q->filter[d].n; i++)
			free(q->filter[d].v[i]);
		free(q->filter[d].v);
		free(q->filter[d].hit);
	}
	for (size_t i = 0; i < q->ngroups; i++) {
		free(q->groups[i].key);
		muse_acc_free(&q->groups[i].acc);
	}
	free(q->groups);
	free(q->slots);
	muse_acc_free(&q->rec);
	muse_buf_free(&q->key);
	free(q);
}

/* ---- options ---- */

int muse_query_filter(muse_query *q, int dim, const char *list,
	struct muse_err *e)
{
	struct patterns *p = &q->filter[dim];
	const char *s = list;

	for (;;) {
		size_t n = strcspn(s, ",");
		char **v;
		unsigned char *hit;

		if (n == 0)
			return muse_err_set(e, MUSE_EUSAGE,
			    "empty value in --%s list \"%s\"", muse_dim_name(dim),
			    list);
		v = realloc(p->v, (p->n + 1) * sizeof(char *));
		if (v)
			p->v = v;
		hit = realloc(p->hit, p->n + 1);
		if (hit)
			p->hit = hit;
		if (v == NULL || hit == NULL ||
		    (p->v[p->n] = strndup(s, n)) == NULL)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		p->hit[p->n++] = 0;
		if (s[n] == '\0')
			return 0;
		s += n + 1;
	}
}

int muse_query_dates(muse_query *q, const char *range, struct muse_err *e)
{
	if (muse_parse_date_range(range, &q->day_from, &q->day_to, e))
		return MUSE_EUSAGE;
	q->has_dates = 1;
	return 0;
}

static int lookup(const char *const *names, int n, const char *s, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0)
			return i;
	return -1;
}

int muse_query_by(muse_query *q, const char *list, struct muse_err *e)
{
	const char *s = list;

	q->by = 0;
	q->nby = 0;
	if (strcmp(list, "none") == 0 || *list == '\0')
		return 0;
	for (;;) {
		size_t n = strcspn(s, ",");
		int g = lookup(group_names, MUSE_NGROUPS, s, n);

		if (g < 0)
			return muse_err_set(e, MUSE_EUSAGE,
			    "unknown dimension \"%.*s\" (title, asset, date, week, "
			    "month, segment, country, none)", (int)n, s);
		if (!(q->by & 1u << g))
			q->by_order[q->nby++] = g;
		q->by |= (uint8_t)(1u << g);
		if (s[n] == '\0')
			break;
		s += n + 1;
	}
	if ((q->by & 1u << MUSE_G_WEEK) && (q->by & 1u << MUSE_G_MONTH))
		return muse_err_set(e, MUSE_EUSAGE,
		    "group by week or by month, not both");
	return 0;
}

int muse_query_metrics(muse_query *q, const char *list, struct muse_err *e)
{
	const char *s = list;

	q->nmetrics = 0;
	for (;;) {
		size_t n = strcspn(s, ",");
		int m = lookup(metric_names, MUSE_NMETRICS, s, n);

		if (m < 0)
			return muse_err_set(e, MUSE_EUSAGE,
			    "unknown metric \"%.*s\" (impressions, reach, plays, "
			    "qplays, qreach, areach, watch_s, take_rate, "
			    "authentic_rate, bounce_rate)", (int)n, s);
		if (q->nmetrics == MUSE_NMETRICS)
			return muse_err_set(e, MUSE_EUSAGE, "too many metrics");
		q->metrics[q->nmetrics++] = m;
		if (s[n] == '\0')
			return 0;
		s += n + 1;
	}
}

int muse_query_ci(muse_query *q, const char *level, struct muse_err *e)
{
	if (strcmp(level, "68") == 0)
		q->z = 1.0;
	else if (strcmp(level, "95") == 0)
		q->z = 1.959963984540054;
	else if (strcmp(level, "99") == 0)
		q->z = 2.5758293035489004;
	else
		return muse_err_set(e, MUSE_EUSAGE,
		    "bad --ci \"%s\" (68, 95 or 99)", level);
	return 0;
}

int muse_query_sort(muse_query *q, const char *spec, struct muse_err *e)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	int m = lookup(metric_names, MUSE_NMETRICS, spec, n);

	if (m < 0)
		return muse_err_set(e, MUSE_EUSAGE,
		    "unknown metric \"%.*s\" in --sort", (int)n, spec);
	if (colon && strcmp(colon, ":asc") != 0 && strcmp(colon, ":desc") != 0)
		return muse_err_set(e, MUSE_EUSAGE,
		    "bad --sort \"%s\" (METRIC, METRIC:asc or METRIC:desc)", spec);
	q->sort_metric = m;
	q->sort_asc = colon && strcmp(colon, ":asc") == 0;
	return 0;
}

void muse_query_top(muse_query *q, uint64_t n)
{
	q->top = n;
}

int muse_query_format(muse_query *q, const char *name, struct muse_err *e)
{
	static const char *const names[] = { "table", "tsv", "csv", "json" };
	int f = lookup(names, 4, name, strlen(name));

	if (f < 0)
		return muse_err_set(e, MUSE_EUSAGE,
		    "unknown format \"%s\" (table, tsv, csv, json)", name);
	q->fmt = (enum muse_format)f;
	return 0;
}

int muse_query_sketch(muse_query *q, const char *kind, struct muse_err *e)
{
	static const struct {
		const char *name;
		enum muse_sketch_kind kind;
	} kinds[] = {
		{ "hll4", MUSE_SKETCH_HLL4 },
		{ "hll6", MUSE_SKETCH_HLL6 },
		{ "hll8", MUSE_SKETCH_HLL8 },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kind, kinds[i].name) == 0) {
			q->sketch = kinds[i].kind;
			return 0;
		}
	}
	return muse_err_set(e, MUSE_EUSAGE, "unknown sketch kind \"%s\" "
	    "(hll4, hll6, hll8)", kind);
}

void muse_query_sketch_dir(muse_query *q, const char *dir)
{
	q->sketch_dir = dir;
}

void muse_query_set_format(muse_query *q, enum muse_format f)
{
	q->fmt = f;
}

void muse_query_set_version(muse_query *q, uint64_t version, uint64_t content)
{
	q->version = version;
	q->content = content;
}

/* ---- reading ---- */

static int check_dims(muse_query *q, struct muse_err *e)
{
	uint8_t need = q->by & 0x1F;

	if (q->by & (1u << MUSE_G_WEEK | 1u << MUSE_G_MONTH) || q->has_dates)
		need |= 1u << MUSE_DIM_DATE;
	for (int d = 0; d < MUSE_NDIMS; d++)
		if (q->filter[d].n)
			need |= (uint8_t)(1u << d);
	for (int d = 0; d < MUSE_NDIMS; d++)
		if ((need & 1u << d) && !(q->h.dims & 1u << d))
			return muse_err_set(e, MUSE_EUSAGE,
			    "the store has no %s dimension (rebuild it with "
			    "muse-sketch --by including %s)", muse_dim_name(d),
			    muse_dim_name(d));
	if ((q->by & 1u << MUSE_DIM_DATE) && q->h.grain != MUSE_GRAIN_DAY)
		return muse_err_set(e, MUSE_EUSAGE,
		    "the store holds %s, not days: group by %s",
		    q->h.grain == MUSE_GRAIN_WEEK ? "weeks" : "months",
		    q->h.grain == MUSE_GRAIN_WEEK ? "week" : "month");
	if ((q->by & 1u << MUSE_G_WEEK) && q->h.grain == MUSE_GRAIN_MONTH)
		return muse_err_set(e, MUSE_EUSAGE,
		    "the store holds months: it cannot be grouped by week");
	if ((q->by & 1u << MUSE_G_MONTH) && q->h.grain == MUSE_GRAIN_WEEK)
		return muse_err_set(e, MUSE_EUSAGE,
		    "the store holds weeks, which straddle months: it cannot "
		    "be grouped by month");
	return 0;
}

/*
 * Whether a value matches any pattern of a filter.  In a segment filter the
 * pattern "*" is the all-users segment, not a glob for every segment.
 */
static int matches(struct patterns *p, int dim, const struct muse_str *s)
{
	char buf[256];
	int any = 0;

	memcpy(buf, s->p, s->n);
	buf[s->n] = '\0';
	for (size_t i = 0; i < p->n; i++)
		if (dim == MUSE_DIM_SEGMENT && strcmp(p->v[i], "*") == 0 ?
		    strcmp(buf, "*") == 0 : fnmatch(p->v[i], buf, 0) == 0) {
			p->hit[i] = 1;
			any = 1;
		}
	return any;
}

static int group_grow(muse_query *q)
{
	size_t ns = q->nslots ? q->nslots * 2 : 1024;
	size_t *slots = calloc(ns, sizeof(size_t));

	if (slots == NULL)
		return MUSE_ENOMEM;
	for (size_t i = 0; i < q->ngroups; i++) {
		size_t j = XXH3_64bits(q->groups[i].key, q->groups[i].keylen) &
		    (ns - 1);

		while (slots[j])
			j = (j + 1) & (ns - 1);
		slots[j] = i + 1;
	}
	free(q->slots);
	q->slots = slots;
	q->nslots = ns;
	return 0;
}

static struct group *group_of(muse_query *q, const uint8_t *key, size_t n)
{
	struct group *g;
	size_t j;

	if ((q->ngroups + 1) * 2 > q->nslots && group_grow(q))
		return NULL;
	j = XXH3_64bits(key, n) & (q->nslots - 1);
	while (q->slots[j]) {
		g = &q->groups[q->slots[j] - 1];
		if (g->keylen == n && (n == 0 || memcmp(g->key, key, n) == 0))
			return g;
		j = (j + 1) & (q->nslots - 1);
	}
	if (q->ngroups == q->capgroups) {
		size_t cap = q->capgroups ? q->capgroups * 2 : 256;
		struct group *v = realloc(q->groups, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		q->groups = v;
		q->capgroups = cap;
	}
	g = &q->groups[q->ngroups];
	memset(g, 0, sizeof(*g));
	if ((g->key = malloc(n ? n : 1)) == NULL ||
	    muse_acc_init(&g->acc, q->h.lgk)) {
		free(g->key);
		return NULL;
	}
	if (n)
		memcpy(g->key, key, n);
	g->keylen = n;
	q->slots[j] = ++q->ngroups;
	return g;
}

static int put_value(struct muse_buf *b, const char *s, size_t n)
{
	return muse_buf_put(b, s, n) || muse_buf_put_u8(b, 0);
}

/* Builds the group key of a record; 1 if the record is filtered out. */
static int fold(muse_query *q, const struct muse_key *k)
{
	int seg_in_store = q->h.dims & 1u << MUSE_DIM_SEGMENT;
	char buf[16];

	for (int d = 0; d < MUSE_NDIMS; d++)
		if (d != MUSE_DIM_DATE && q->filter[d].n &&
		    !matches(&q->filter[d], d, &k->s[d]))
			return 1;
	if (seg_in_store && !q->filter[MUSE_DIM_SEGMENT].n &&
	    !(q->by & 1u << MUSE_DIM_SEGMENT) &&
	    !(k->s[MUSE_DIM_SEGMENT].n == 1 && k->s[MUSE_DIM_SEGMENT].p[0] == '*'))
		return 1;
	if (q->has_dates && (k->day < q->day_from || k->day > q->day_to))
		return 1;
	q->key.len = 0;
	for (int i = 0; i < q->nby; i++) {
		int g = q->by_order[i], rc = 0;

		if (g == MUSE_DIM_DATE) {
			muse_day_format(k->day, buf);
			rc = put_value(&q->key, buf, 10);
		} else if (g == MUSE_G_WEEK) {
			int y;
			unsigned w;

			muse_iso_week(k->day, &y, &w);
			snprintf(buf, sizeof(buf), "%04d-W%02u", y, w);
			rc = put_value(&q->key, buf, strlen(buf));
		} else if (g == MUSE_G_MONTH) {
			muse_day_format(k->day, buf);
			rc = put_value(&q->key, buf, 7);
		} else {
			rc = put_value(&q->key, k->s[g].p, k->s[g].n);
		}
		if (rc)
			return MUSE_ENOMEM;
	}
	return 0;
}

/* Takes the header of a stream: the first fixes the schema, the others
 * must agree with it. */
static int begin_stream(muse_query *q, const struct muse_header *h,
	struct muse_err *e)
{
	int rc;

	if (h->kind != MUSE_KIND_SKETCH)
		return muse_err_set(e, MUSE_EUSAGE,
		    "not a sketch store (an event stream: run muse-sketch)");
	if (q->have_h)
		return muse_header_compatible(&q->h, h, e);
	q->h = *h;
	q->have_h = 1;
	if ((rc = check_dims(q, e)) || (rc = muse_acc_init(&q->rec, h->lgk)))
		return rc;
	return 0;
}

/*
 * Folds one record into its group.  The key is looked at first, so that
 * the sketches of records the filters reject are never decoded.
 */
static int take(muse_query *q, const uint8_t *rec, size_t n,
	struct muse_err *e)
{
	struct muse_key k;
	struct group *g;
	const uint8_t *after;
	int rc;

	if (muse_key_decode(q->h.dims, rec, rec + n, &k, &after))
		return muse_err_set(e, MUSE_EFORMAT, "malformed sketch record");
	if ((rc = fold(q, &k)) == 1)
		return 0;
	if (rc || (g = group_of(q, q->key.p, q->key.len)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	muse_acc_clear(&q->rec);
	if ((rc = muse_rec_decode(&q->h, rec, n, &k, &q->rec, e)))
		return rc;
	if (q->h.dims & 1u << MUSE_DIM_SEGMENT) {
		const struct muse_str *sg = &k.s[MUSE_DIM_SEGMENT];

		if (g->seg[0] == '\0') {
			memcpy(g->seg, sg->p, sg->n);
			g->seg[sg->n] = '\0';
		} else if (strlen(g->seg) != sg->n ||
		    memcmp(g->seg, sg->p, sg->n) != 0) {
			g->multi_seg = 1;
		}
	}
	if (muse_acc_merge(&g->acc, &q->rec))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	return 0;
}

/* ---- block pruning ---- */

static int str_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

/*
 * Whether some value of [lo, hi] (bytewise) can match one of the
 * patterns.  A pattern's literal prefix (up to its first glob character)
 * bounds what it can match: every match starts with the prefix.
 */
static int range_may_match(const struct patterns *p, int dim,
	const struct muse_str *lo, const struct muse_str *hi)
{
	for (size_t i = 0; i < p->n; i++) {
		const char *pat = p->v[i];
		size_t pre = dim == MUSE_DIM_SEGMENT && strcmp(pat, "*") == 0 ?
		    1 : strcspn(pat, "*?[\\");

		if (pre == strlen(pat) || (dim == MUSE_DIM_SEGMENT &&
		    strcmp(pat, "*") == 0)) {
			/* A literal: inside the range or not. */
			if (str_cmp(pat, pre, lo->p, lo->n) >= 0 &&
			    str_cmp(pat, pre, hi->p, hi->n) <= 0)
				return 1;
			continue;
		}
		/* Values starting with the prefix lie in [prefix, prefix+max]. */
		if (str_cmp(pat, pre, hi->p, hi->n < pre ? hi->n : pre) <= 0 &&
		    str_cmp(pat, pre, lo->p, lo->n < pre ? lo->n : pre) >= 0)
			return 1;
		if (str_cmp(pat, pre, lo->p, lo->n) >= 0 &&
		    str_cmp(pat, pre, hi->p, hi->n) <= 0)
			return 1;
	}
	return 0;
}

/*
 * Whether a block whose keys run from lo to hi can hold a key that passes
 * the filters.  Keys are sorted by title, asset, date, segment, country:
 * along the dimensions where lo and hi agree every key of the block has
 * that value, and at the first where they differ the block's values form
 * the range [lo, hi]; past that nothing is known.
 */
static int block_may_match(const muse_query *q, const struct muse_key *lo,
	const struct muse_key *hi)
{
	struct patterns star = { 0 };
	char *starv[1] = { "*" };
	unsigned char hit[1];

	star.v = starv;
	star.n = 1;
	star.hit = hit;
	for (int d = 0; d < MUSE_NDIMS; d++) {
		const struct patterns *p = &q->filter[d];
		int same;

		if (!(q->h.dims & 1u << d))
			continue;
		if (d == MUSE_DIM_DATE) {
			if (q->has_dates && (hi->day < q->day_from ||
			    lo->day > q->day_to))
				return 0;
			if (lo->day != hi->day)
				return 1;
			continue;
		}
		if (d == MUSE_DIM_SEGMENT && !p->n &&
		    !(q->by & 1u << MUSE_DIM_SEGMENT))
			p = &star;      /* only the all-users rows are read */
		same = str_cmp(lo->s[d].p, lo->s[d].n, hi->s[d].p, hi->s[d].n) == 0;
		if (p->n && !range_may_match(p, d, &lo->s[d], &hi->s[d]))
			return 0;
		if (!same)
			return 1;
	}
	return 1;
}

/*
 * Whether any value a filter can match has its bit in a zone's set; only
 * filters made of literal values can tell (a glob can match anything).
 */
static int zone_may_match(const struct patterns *p, uint64_t bits)
{
	uint64_t want = 0;

	for (size_t i = 0; i < p->n; i++) {
		if (strcspn(p->v[i], "*?[\\") != strlen(p->v[i]))
			return 1;
		want |= muse_zone_bit(p->v[i], strlen(p->v[i]));
	}
	return p->n == 0 || (want & bits) != 0;
}

static int block_zone_ok(const muse_query *q, const struct muse_zone *z)
{
	static const int dim[3] = { MUSE_DIM_ASSET, MUSE_DIM_SEGMENT,
		MUSE_DIM_COUNTRY };

	if (q->has_dates && (q->h.dims & 1u << MUSE_DIM_DATE) &&
	    ((int64_t)z->max_day < q->day_from || (int64_t)z->min_day > q->day_to))
		return 0;
	for (int i = 0; i < 3; i++) {
		int d = dim[i];

		if (!(q->h.dims & 1u << d))
			continue;
		if (d == MUSE_DIM_SEGMENT && !q->filter[d].n &&
		    !(q->by & 1u << MUSE_DIM_SEGMENT)) {
			if (!(z->bits[i] & muse_zone_bit("*", 1)))
				return 0;
			continue;
		}
		if (d == MUSE_DIM_SEGMENT && q->filter[d].n == 1 &&
		    strcmp(q->filter[d].v[0], "*") == 0) {
			if (!(z->bits[i] & muse_zone_bit("*", 1)))
				return 0;
			continue;
		}
		if (!zone_may_match(&q->filter[d], z->bits[i]))
			return 0;
	}
	return 1;
}

/* Reads the blocks of an indexed store that can matter. */
int muse_query_add_mapped(muse_query *q, muse_store *st, struct muse_err *e)
{
	int rc;

	if ((rc = begin_stream(q, muse_store_header(st), e)))
		return rc;
	q->blocks_total += muse_store_nblocks(st);
	for (size_t i = 0; i < muse_store_nblocks(st); i++) {
		struct muse_key lo, hi;
		const uint8_t *rec;
		size_t n;

		muse_store_block_keys(st, i, &lo, &hi);
		if (!block_may_match(q, &lo, &hi) ||
		    !block_zone_ok(q, muse_store_block_zone(st, i)))
			continue;
		q->blocks_read++;
		if ((rc = muse_store_read_block(st, i, e)))
			return rc;
		while ((rc = muse_store_next(st, &rec, &n, e)) == 1)
			if ((rc = take(q, rec, n, e)))
				return rc;
		if (rc < 0)
			return rc;
	}
	return 0;
}

int muse_query_add_store(muse_query *q, const char *path, struct muse_err *e)
{
	struct muse_header h;
	muse_input *in;
	muse_reader *r;
	muse_store *st;
	int rc, streams = 0;

	if ((st = muse_store_open(path, e)) != NULL) {
		rc = muse_query_add_mapped(q, st, e);
		muse_store_free(st);
		return rc;
	}
	if (e->code != MUSE_OK)
		return e->code;
	q->stores_scanned++;
	if ((in = muse_input_open(path, e)) == NULL ||
	    (r = muse_reader_new(in, e)) == NULL)
		return e->code;
	while ((rc = muse_reader_next_stream(r, &h, e)) == 1) {
		const uint8_t *rec;
		size_t n;

		streams++;
		if ((rc = begin_stream(q, &h, e)))
			break;
		while ((rc = muse_reader_next(r, &rec, &n, e)) == 1)
			if ((rc = take(q, rec, n, e)))
				break;
		if (rc < 0)
			break;
	}
	/* An empty file is a store cut to nothing, never an empty answer. */
	if (rc == 0 && streams == 0)
		rc = muse_err_set(e, MUSE_ETRUNC, "empty input (no stream)");
	if (rc < 0 && e->name[0] == '\0')
		muse_err_where(e, muse_reader_name(r), 0, UINT64_MAX);
	muse_reader_free(r);
	return rc < 0 ? rc : 0;
}

void muse_query_stats(const muse_query *q, uint64_t *read, uint64_t *total,
	uint64_t *scanned)
{
	*read = q->blocks_read;
	*total = q->blocks_total;
	*scanned = q->stores_scanned;
}

/* ---- metrics ---- */

static void estimate(const muse_hll *h, double z, double *v, double *lo,
	double *hi)
{
	*v = muse_hll_estimate(h);
	muse_hll_bounds(h, z, lo, hi);
}

static void ratio(struct row *r, int m, int num, int den, double z,
	double rse_n, double rse_d)
{
	double rel;

	if (!r->ok[num] || !r->ok[den] || r->v[den] <= 0)
		return;
	r->ok[m] = 1;
	r->v[m] = r->v[num] / r->v[den];
	if (r->v[m] > 1)
		r->v[m] = 1;
	rel = z * sqrt(rse_n * rse_n + rse_d * rse_d);
	r->lo[m] = r->v[m] * (1 - rel);
	r->hi[m] = r->v[m] * (1 + rel);
	if (r->lo[m] < 0)
		r->lo[m] = 0;
	if (r->hi[m] > 1)
		r->hi[m] = 1;
}

static void compute(const muse_query *q, struct row *r)
{
	const struct muse_acc *a = &r->g->acc;
	double z = q->z ? q->z : 1;
	int counters = !r->g->multi_seg;

	memset(r->ok, 0, sizeof(r->ok));
	if (counters) {
		r->v[MUSE_M_IMPRESSIONS] = (double)a->impressions;
		r->v[MUSE_M_PLAYS] = (double)a->plays;
		r->v[MUSE_M_QPLAYS] = (double)a->qplays;
		r->v[MUSE_M_WATCH_S] = (double)a->watch_ms / 1000.0;
		r->ok[MUSE_M_IMPRESSIONS] = r->ok[MUSE_M_PLAYS] =
		    r->ok[MUSE_M_QPLAYS] = r->ok[MUSE_M_WATCH_S] = 1;
		if (a->plays) {
			r->ok[MUSE_M_BOUNCE_RATE] = 1;
			r->v[MUSE_M_BOUNCE_RATE] =
			    (double)(a->plays - a->qplays) / (double)a->plays;
			r->lo[MUSE_M_BOUNCE_RATE] = r->hi[MUSE_M_BOUNCE_RATE] =
			    r->v[MUSE_M_BOUNCE_RATE];
		}
	}
	estimate(a->reach, z, &r->v[MUSE_M_REACH], &r->lo[MUSE_M_REACH],
	    &r->hi[MUSE_M_REACH]);
	estimate(a->qreach, z, &r->v[MUSE_M_QREACH], &r->lo[MUSE_M_QREACH],
	    &r->hi[MUSE_M_QREACH]);
	estimate(a->areach, z, &r->v[MUSE_M_AREACH], &r->lo[MUSE_M_AREACH],
	    &r->hi[MUSE_M_AREACH]);
	r->ok[MUSE_M_REACH] = r->ok[MUSE_M_QREACH] = r->ok[MUSE_M_AREACH] = 1;
	ratio(r, MUSE_M_TAKE_RATE, MUSE_M_QREACH, MUSE_M_REACH, z,
	    muse_hll_rse(a->qreach), muse_hll_rse(a->reach));
	ratio(r, MUSE_M_AUTHENTIC_RATE, MUSE_M_AREACH, MUSE_M_QREACH, z,
	    muse_hll_rse(a->areach), muse_hll_rse(a->qreach));
}

static int is_estimate(int m)
{
	return m == MUSE_M_REACH || m == MUSE_M_QREACH || m == MUSE_M_AREACH ||
	    m == MUSE_M_TAKE_RATE || m == MUSE_M_AUTHENTIC_RATE;
}

static int is_rate(int m)
{
	return m >= MUSE_M_TAKE_RATE;
}

static int cmp_group_keys(const struct group *a, const struct group *b)
{
	size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int c = n ? memcmp(a->key, b->key, n) : 0;

	return c ? c : (a->keylen > b->keylen) - (a->keylen < b->keylen);
}

static int cmp_rows(const void *x, const void *y, void *ctx)
{
	const muse_query *q = ctx;
	const struct row *a = x, *b = y;

	if (q->sort_metric >= 0) {
		int m = q->sort_metric;

		if (a->ok[m] != b->ok[m])
			return a->ok[m] ? -1 : 1;     /* empty values last */
		if (a->ok[m] && a->v[m] != b->v[m]) {
			int c = a->v[m] < b->v[m] ? -1 : 1;

			return q->sort_asc ? c : -c;
		}
	}
	return cmp_group_keys(a->g, b->g);
}

/* ---- output ---- */

struct cell {
	char *s;
	int numeric;
	int null;
};

/* The image of the row's reach union in the kind asked for. */
static int sketch_image(const muse_query *q, const muse_hll *h,
	struct muse_buf *img)
{
	switch (q->sketch) {
	case MUSE_SKETCH_HLL4:
		return muse_ds_export(h, MUSE_DS_HLL4, img);
	case MUSE_SKETCH_HLL6:
		return muse_ds_export(h, MUSE_DS_HLL6, img);
	case MUSE_SKETCH_HLL8:
		return muse_ds_export(h, MUSE_DS_HLL8, img);
	case MUSE_SKETCH_NONE:
		break;
	}
	return MUSE_EUSAGE;
}

/*
 * The sketch cell of output row r (0-based): the image in base64, or the
 * path of the file that now holds it, DIR/N.bin with N = r + 1.
 */
static int sketch_cell(const muse_query *q, const muse_hll *h, size_t r,
	struct cell *c, struct muse_err *e)
{
	struct muse_buf img = { 0 }, txt = { 0 };
	char name[32], *path;
	struct muse_out o;
	int rc;

	if ((rc = sketch_image(q, h, &img)) != 0) {
		muse_buf_free(&img);
		return muse_err_set(e, rc, "cannot make the sketch image");
	}
	if (q->sketch_dir == NULL) {
		rc = muse_b64_encode(img.p, img.len, &txt) ||
		    muse_buf_put_u8(&txt, 0) ? MUSE_ENOMEM : 0;
		muse_buf_free(&img);
		if (rc)
			return muse_err_set(e, rc, "out of memory");
		c->s = (char *)txt.p;
		return 0;
	}
	snprintf(name, sizeof(name), "%zu.bin", r + 1);
	if ((path = malloc(strlen(q->sketch_dir) + sizeof(name) + 1)) == NULL) {
		muse_buf_free(&img);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	sprintf(path, "%s/%s", q->sketch_dir, name);
	c->s = path;
	rc = muse_out_open(&o, path, 1, 1, e);
	if (rc == 0 && fwrite(img.p, 1, img.len, o.fp) != img.len) {
		muse_out_abort(&o);
		rc = muse_err_set(e, MUSE_EIO, "write error: %s",
		    strerror(errno ? errno : EIO));
	}
	if (rc == 0)
		rc = muse_out_commit(&o, e);
	if (rc != 0 && e->name[0] == '\0')
		muse_err_where(e, path, 0, UINT64_MAX);
	muse_buf_free(&img);
	return rc;
}

static char *fmt_value(const muse_query *q, int m, double v)
{
	char buf[64];

	(void)q;
	if (is_rate(m))
		snprintf(buf, sizeof(buf), "%.4f", v);
	else if (m == MUSE_M_WATCH_S)
		snprintf(buf, sizeof(buf), "%.3f", v);
	else
		snprintf(buf, sizeof(buf), "%.0f", floor(v + 0.5));
	return strdup(buf);
}

static void put_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void put_csv(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* Display width of a UTF-8 string (code points; good enough here). */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

/* One row as the members of a JSON object, after its opening brace. */
static void put_json_row(FILE *out, char **head, const struct cell *row,
	size_t ncols)
{
	for (size_t c = 0; c < ncols; c++) {
		if (c)
			fputs(", ", out);
		put_json_string(out, head[c]);
		fputs(": ", out);
		if (row[c].null)
			fputs("null", out);
		else if (row[c].numeric)
			fputs(row[c].s, out);
		else
			put_json_string(out, row[c].s);
	}
	fputc('}', out);
}

static void write_cells(const muse_query *q, FILE *out, char **head,
	struct cell *cells, size_t ncols, size_t nrows, const char *warnings)
{
	size_t *w;

	switch (q->fmt) {
	case MUSE_FMT_JSONL:
		fprintf(out, "{\"version\": %llu, \"content\": \"%016llx\", "
		    "\"rows\": [", (unsigned long long)q->version,
		    (unsigned long long)q->content);
		for (size_t r = 0; r < nrows; r++) {
			fputs(r ? ", {" : "{", out);
			put_json_row(out, head, &cells[r * ncols], ncols);
		}
		fprintf(out, "], \"warnings\": [%s]}\n", warnings);
		break;
	case MUSE_FMT_TSV:
	case MUSE_FMT_CSV:
		for (size_t c = 0; c < ncols; c++) {
			if (c)
				fputc(q->fmt == MUSE_FMT_TSV ? '\t' : ',', out);
			fputs(head[c], out);
		}
		fputc('\n', out);
		for (size_t r = 0; r < nrows; r++) {
			for (size_t c = 0; c < ncols; c++) {
				struct cell *x = &cells[r * ncols + c];

				if (c)
					fputc(q->fmt == MUSE_FMT_TSV ? '\t' : ',', out);
				if (x->null)
					continue;
				if (q->fmt == MUSE_FMT_CSV)
					put_csv(out, x->s);
				else
					fputs(x->s, out);
			}
			fputc('\n', out);
		}
		break;
	case MUSE_FMT_JSON:
		fputs("[", out);
		for (size_t r = 0; r < nrows; r++) {
			fputs(r ? ",\n{" : "\n{", out);
			put_json_row(out, head, &cells[r * ncols], ncols);
		}
		fputs(nrows ? "\n]\n" : "]\n", out);
		break;
	case MUSE_FMT_TABLE:
		w = calloc(ncols, sizeof(size_t));
		if (w == NULL)
			return;
		for (size_t c = 0; c < ncols; c++) {
			w[c] = width(head[c]);
			for (size_t r = 0; r < nrows; r++) {
				struct cell *x = &cells[r * ncols + c];
				size_t cw = x->null ? 1 : width(x->s);

				if (cw > w[c])
					w[c] = cw;
			}
		}
		for (size_t r = 0; r <= nrows; r++) {
			for (size_t c = 0; c < ncols; c++) {
				const char *s = r ? cells[(r - 1) * ncols + c].s : head[c];
				int num = r ? cells[(r - 1) * ncols + c].numeric : 0;
				size_t pad;

				if (r && cells[(r - 1) * ncols + c].null)
					s = "-", num = 1;
				pad = w[c] - width(s);
				if (c)
					fputs("  ", out);
				if (num)
					fprintf(out, "%*s", (int)pad, "");
				fputs(s, out);
				if (!num && c + 1 < ncols)
					fprintf(out, "%*s", (int)pad, "");
			}
			fputc('\n', out);
		}
		free(w);
		break;
	}
}

/* Collects warnings as a JSON array's items (for JSON lines). */
static void warn_json(void *ctx, const char *msg)
{
	struct muse_buf *b = ctx;
	char *esc = malloc(2 * strlen(msg) + 3), *w = esc;

	if (esc == NULL)
		return;
	*w++ = '"';
	for (const char *p = msg; *p; p++) {
		if (*p == '"' || *p == '\\')
			*w++ = '\\';
		*w++ = *p;
	}
	*w++ = '"';
	if (b->len)
		muse_buf_put(b, ", ", 2);
	muse_buf_put(b, esc, (size_t)(w - esc));
	free(esc);
}

static int write_answer(muse_query *q, FILE *out,
	void (*warn)(void *ctx, const char *msg), void *ctx,
	struct muse_buf *warnings, struct muse_err *e);

int muse_query_write(muse_query *q, FILE *out,
	void (*warn)(void *ctx, const char *msg), void *ctx, struct muse_err *e)
{
	struct muse_buf wbuf = { 0 };

	if (q->fmt == MUSE_FMT_JSONL) {
		warn = warn_json;
		ctx = &wbuf;
	}
	{
		int rc = write_answer(q, out, warn, ctx, &wbuf, e);

		muse_buf_free(&wbuf);
		return rc;
	}
}

static int write_answer(muse_query *q, FILE *out,
	void (*warn)(void *ctx, const char *msg), void *ctx,
	struct muse_buf *warnings, struct muse_err *e)
{
	struct row *rows;
	struct cell *cells = NULL;
	char *head[MUSE_NGROUPS + 3 * MUSE_NMETRICS + 1];
	char namebuf[3 * MUSE_NMETRICS][40];
	size_t ncols = 0, nrows, nnames = 0;
	int multi = 0;
	char msg[512];

	if (!q->have_h)
		return muse_err_set(e, MUSE_EUSAGE, "no sketch store given");
	if (q->sketch && (q->fmt == MUSE_FMT_TABLE || q->fmt == MUSE_FMT_JSONL))
		return muse_err_set(e, MUSE_EUSAGE, "sketch export needs the "
		    "tsv, csv or json format");
	for (int d = 0; d < MUSE_NDIMS; d++)
		for (size_t i = 0; i < q->filter[d].n; i++)
			if (!q->filter[d].hit[i] && warn) {
				snprintf(msg, sizeof(msg), "no %s matches \"%s\" in the store",
				    muse_dim_name(d), q->filter[d].v[i]);
				warn(ctx, msg);
			}
	/* Without --by the answer is one row, zeros when nothing matched. */
	if (q->nby == 0 && q->ngroups == 0 && group_of(q, NULL, 0) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	rows = calloc(q->ngroups + 1, sizeof(*rows));
	if (rows == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	for (size_t i = 0; i < q->ngroups; i++) {
		rows[i].g = &q->groups[i];
		compute(q, &rows[i]);
		multi |= q->groups[i].multi_seg;
	}
	if (multi && warn) {
		for (int i = 0; i < q->nmetrics; i++) {
			int m = q->metrics[i];

			if (!is_estimate(m)) {
				warn(ctx, "counters left empty where several segments "
				    "are united (a user in two segments would count "
				    "twice); group by segment for them");
				break;
			}
		}
	}
	nrows = q->ngroups;
	qsort_r(rows, nrows, sizeof(*rows), cmp_rows, q);
	if (q->top && q->top < nrows)
		nrows = (size_t)q->top;
	for (int i = 0; i < q->nby; i++)
		head[ncols++] = (char *)group_names[q->by_order[i]];
	for (int i = 0; i < q->nmetrics; i++) {
		int m = q->metrics[i];

		head[ncols++] = (char *)metric_names[m];
		if (q->z && is_estimate(m)) {
			snprintf(namebuf[nnames], 40, "%s_lo", metric_names[m]);
			head[ncols++] = namebuf[nnames++];
			snprintf(namebuf[nnames], 40, "%s_hi", metric_names[m]);
			head[ncols++] = namebuf[nnames++];
		}
	}
	if (q->sketch)
		head[ncols++] = q->sketch_dir ? "sketch_file" : "sketch";
	cells = calloc(nrows * ncols + 1, sizeof(*cells));
	if (cells == NULL) {
		free(rows);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	for (size_t r = 0; r < nrows; r++) {
		struct cell *c = &cells[r * ncols];
		const char *k = rows[r].g->key;

		for (int i = 0; i < q->nby; i++) {
			(c++)->s = strdup(k);
			k += strlen(k) + 1;
		}
		for (int i = 0; i < q->nmetrics; i++) {
			int m = q->metrics[i];
			int n = q->z && is_estimate(m) ? 3 : 1;
			double vals[3] = { rows[r].v[m], rows[r].lo[m], rows[r].hi[m] };

			for (int j = 0; j < n; j++, c++) {
				c->numeric = 1;
				c->null = !rows[r].ok[m];
				c->s = c->null ? strdup("") : fmt_value(q, m, vals[j]);
			}
		}
		if (q->sketch && sketch_cell(q, rows[r].g->acc.reach, r, c,
		    e) != 0) {
			for (size_t i = 0; i < nrows * ncols; i++)
				free(cells[i].s);
			free(cells);
			free(rows);
			return e->code;
		}
	}
	if (muse_buf_put_u8(warnings, 0) == 0)
		write_cells(q, out, head, cells, ncols, nrows,
		    (const char *)warnings->p);
	for (size_t i = 0; i < nrows * ncols; i++)
		free(cells[i].s);
	free(cells);
	free(rows);
	if (warnings->len == 0)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if (fflush(out) != 0 || ferror(out))
		return muse_err_set(e, MUSE_EIO, "write error: %s",
		    strerror(errno ? errno : EIO));
	return 0;
}
