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
 *
 * Three answers go beyond a table of groups (the formulae are in
 * muse-query(1), "STATISTICS"):
 *
 *  - --compare A,B folds each record into its group and a side (A or B, by
 *    its asset), then sets the two sides of a group side by side with
 *    their difference and a z-test of it that counts both errors a figure
 *    has: the sketch's (the relative standard error of each estimated
 *    distinct count) and, for a rate, the binomial sampling error given
 *    its denominator (a pooled two-proportion test).
 *  - --outliers groups by asset (and title unless --by says otherwise)
 *    and compares each row with its peers, the rows equal on every other
 *    column: a robust z-score from the peers' median and median absolute
 *    deviation, counting only rows with at least the minimum reach.
 *  - --format bars and svg draw the first metric (lib/chart.c).
 *
 * The assets table (lib/assets.c), when given, adds the asset_type column
 * to group and filter by; it is looked up per record, never stored.
 *
 * A filter value that matches nothing is said so, with the nearest value
 * of the store when one is close (lib/suggest.h).  The candidates cost no
 * extra reading: they are the keys of the records read and the first and
 * last keys of every block in a store's index, offered only to literal
 * values (no glob) that have not matched, and only when they differ from
 * the value offered before (keys are sorted, so values repeat).
 */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "assets.h"
#include "buf.h"
#include "chart.h"
#include "cli.h"
#include "dsketch.h"
#include "opts.h"
#include "pghll.h"
#include "query.h"
#include "sketch.h"
#include "store.h"
#include "stream.h"
#include "suggest.h"
#include "ts.h"

static const char *const metric_names[MUSE_NMETRICS] = {
	"impressions", "reach", "plays", "qplays", "qreach", "areach",
	"watch_s", "take_rate", "authentic_rate", "bounce_rate", "countries"
};

static const char *const group_names[MUSE_NGROUPS] = {
	"title", "asset", "date", "segment", "country", "week", "month",
	"asset_type"
};
/* What --by accepts: the group names and "none". */
static const char *const by_names[MUSE_NGROUPS + 1] = {
	"title", "asset", "date", "segment", "country", "week", "month",
	"asset_type", "none"
};

const char *muse_metric_name(int m)
{
	return m >= 0 && m < MUSE_NMETRICS ? metric_names[m] : "unknown";
}

struct patterns {
	char **v;
	size_t n;
	unsigned char *hit;
	struct muse_near *near;     /* per value; word NULL for a glob */
	char last[256];             /* the value offered last */
	size_t lastlen;             /* SIZE_MAX: none yet */
	unsigned char *lit;   /* v[i] matches only itself: compared, not fnmatch'd */
	size_t *len;          /* strlen(v[i]) */
};

struct group {
	char *key;            /* group values, each followed by a NUL */
	size_t keylen;
	struct muse_fold fold;    /* the records, united as they are read */
	struct muse_acc acc;      /* the fold's result, when the answer is made */
	char seg[256];        /* the first segment folded in */
	int multi_seg;
	uint64_t *ctry;       /* hashes of the countries shown in (countries) */
	size_t nctry, capctry;
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
	uint16_t by;                /* mask over MUSE_NGROUPS */
	int by_order[MUSE_NGROUPS]; /* group columns as the user listed them */
	int nby;
	int metrics[MUSE_NMETRICS];
	int nmetrics;
	int metrics_set;            /* given with --metrics */
	double z;                   /* 0: no bounds */
	int level;                  /* of z: 68, 95 or 99 */
	int sort_metric;            /* -1: by group */
	int sort_asc;
	uint64_t top;
	enum muse_format fmt;
	enum muse_sketch_kind sketch;  /* the sketch column, or none */
	const char *sketch_dir;     /* NULL: the images in the answer */
	enum muse_format chart;     /* in a JSON line: MUSE_FMT_BARS, _SVG */
	unsigned width;             /* of --format bars */
	int compare;                /* --compare: the two sides */
	struct patterns side[2];
	char *side_spec[2];
	int outliers;               /* --outliers */
	uint64_t min_reach;
	double threshold;
	size_t flagged;
	const muse_assets *assets;  /* joined for asset_type */
	struct patterns atype;      /* --asset-type */
	/* state */
	int modes_checked;
	int have_h;
	struct muse_header h;
	struct group *groups;
	size_t ngroups, capgroups;
	size_t *slots;              /* group index + 1 */
	size_t nslots;
	struct muse_acc rec;        /* a record apart (country stores) */
	struct muse_buf key;
	uint64_t version, content;  /* named by JSON lines (--serve) */
	uint64_t blocks_read;       /* of indexed stores, for --stats */
	uint64_t blocks_total;
	uint64_t stores_scanned;    /* read whole, without an index */
	uint64_t zone_want[3];      /* see zone_prepare; 0: no constraint */
	/* roll-ups: open (muse_query_rollup, not owned) or named */
	struct rollup {
		muse_store *st;
		char *path;           /* named: opened when first chosen */
		struct muse_header h;
	} rollup[MUSE_QUERY_MAX_ROLLUPS];
	size_t nrollups;
	int has_hole;               /* days the roll-up answered: not read */
	int64_t hole_from, hole_to;
	uint64_t rollup_blocks;     /* of roll-ups, for --stats */
	size_t rollup_stale;        /* roll-ups of another version */
	size_t rollup_used;
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
	q->min_reach = 100;
	q->threshold = 3.5;
	return q;
}

static void patterns_free(struct patterns *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	free(p->hit);
	free(p->near);
	free(p->lit);
	free(p->len);
}

void muse_query_free(muse_query *q)
{
	if (q == NULL)
		return;
	for (int d = 0; d < MUSE_NDIMS; d++)
		patterns_free(&q->filter[d]);
	for (int i = 0; i < 2; i++) {
		patterns_free(&q->side[i]);
		free(q->side_spec[i]);
	}
	patterns_free(&q->atype);
	for (size_t i = 0; i < q->ngroups; i++) {
		free(q->groups[i].key);
		free(q->groups[i].ctry);
		muse_fold_free(&q->groups[i].fold);
		muse_acc_free(&q->groups[i].acc);
	}
	free(q->groups);
	free(q->slots);
	muse_acc_free(&q->rec);
	muse_buf_free(&q->key);
	for (size_t i = 0; i < q->nrollups; i++)
		if (q->rollup[i].path != NULL) {       /* ours */
			muse_store_free(q->rollup[i].st);
			free(q->rollup[i].path);
		}
	free(q);
}

/* ---- options ---- */

/* Adds the items of a list separated by sep to p; what names the option. */
/* dim: the filter's dimension, or -1 (the segment "*" is no glob). */
static int add_patterns(struct patterns *p, int dim, const char *list,
	const char *sep, const char *what, struct muse_err *e)
{
	const char *s = list;

	for (;;) {
		size_t n = strcspn(s, sep);
		char **v;
		unsigned char *hit, *lit;
		size_t *len;
		struct muse_near *near;

		if (n == 0)
			return muse_err_set(e, MUSE_EUSAGE,
			    "empty value in --%s list \"%s\"", what, list);
		v = realloc(p->v, (p->n + 1) * sizeof(char *));
		if (v)
			p->v = v;
		hit = realloc(p->hit, p->n + 1);
		if (hit)
			p->hit = hit;
		near = realloc(p->near, (p->n + 1) * sizeof(*near));
		if (near)
			p->near = near;
		lit = realloc(p->lit, p->n + 1);
		if (lit)
			p->lit = lit;
		len = realloc(p->len, (p->n + 1) * sizeof(size_t));
		if (len)
			p->len = len;
		if (v == NULL || hit == NULL || near == NULL || lit == NULL ||
		    len == NULL || (p->v[p->n] = strndup(s, n)) == NULL)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		muse_near_init(&p->near[p->n], p->v[p->n], n);
		if (strcspn(p->v[p->n], "*?[\\") != n)
			p->near[p->n].word = NULL;
		p->lastlen = SIZE_MAX;
		/* In a segment filter "*" is the all-users segment, no glob. */
		p->lit[p->n] = strcspn(p->v[p->n], "*?[\\") == n ||
		    (dim == MUSE_DIM_SEGMENT && strcmp(p->v[p->n], "*") == 0);
		p->len[p->n] = n;
		p->hit[p->n++] = 0;
		if (s[n] == '\0')
			return 0;
		s += n + 1;
	}
}

int muse_query_filter(muse_query *q, int dim, const char *list,
	struct muse_err *e)
{
	return add_patterns(&q->filter[dim], dim, list, ",", muse_dim_name(dim),
	    e);
}

int muse_query_asset_type(muse_query *q, const char *list, struct muse_err *e)
{
	return add_patterns(&q->atype, -1, list, ",", "asset-type", e);
}

void muse_query_assets(muse_query *q, const muse_assets *a)
{
	q->assets = a;
}

int muse_query_compare(muse_query *q, const char *spec, struct muse_err *e)
{
	const char *comma = strchr(spec, ',');
	int rc;

	if (comma == NULL || strchr(comma + 1, ',') != NULL ||
	    comma == spec || comma[1] == '\0')
		return muse_err_set(e, MUSE_EUSAGE, "bad --compare \"%s\" (two "
		    "sides A,B; assets of one side joined with +)", spec);
	for (int i = 0; i < 2; i++) {
		patterns_free(&q->side[i]);
		memset(&q->side[i], 0, sizeof(q->side[i]));
		free(q->side_spec[i]);
	}
	if ((q->side_spec[0] = strndup(spec, (size_t)(comma - spec))) == NULL ||
	    (q->side_spec[1] = strdup(comma + 1)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	for (int i = 0; i < 2; i++)
		if ((rc = add_patterns(&q->side[i], MUSE_DIM_ASSET,
		    q->side_spec[i], "+", "compare", e)))
			return rc;
	q->compare = 1;
	return 0;
}

void muse_query_outliers(muse_query *q)
{
	q->outliers = 1;
}

void muse_query_min_reach(muse_query *q, uint64_t n)
{
	q->min_reach = n;
}

int muse_query_threshold(muse_query *q, const char *z, struct muse_err *e)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(z, &end);
	if (errno || end == z || *end != '\0' || !(v > 0) || v > 1e6)
		return muse_err_set(e, MUSE_EUSAGE,
		    "bad --threshold \"%s\" (a robust z-score above 0)", z);
	q->threshold = v;
	return 0;
}

size_t muse_query_flagged(const muse_query *q)
{
	return q->flagged;
}

void muse_query_width(muse_query *q, unsigned columns)
{
	q->width = columns;
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
			return muse_err_unknown(e, "dimension", s, n, by_names,
			    MUSE_NGROUPS + 1);
		if (!(q->by & 1u << g))
			q->by_order[q->nby++] = g;
		q->by |= (uint16_t)(1u << g);
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
	q->metrics_set = 1;
	for (;;) {
		size_t n = strcspn(s, ",");
		int m = lookup(metric_names, MUSE_NMETRICS, s, n);

		if (m < 0)
			return muse_err_unknown(e, "metric", s, n, metric_names,
			    MUSE_NMETRICS);
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
	q->level = atoi(level);
	return 0;
}

int muse_query_sort(muse_query *q, const char *spec, struct muse_err *e)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	int m = lookup(metric_names, MUSE_NMETRICS, spec, n);

	if (m < 0)
		return muse_err_unknown(e, "metric", spec, n, metric_names,
		    MUSE_NMETRICS);
	if (colon && strcmp(colon, ":asc") != 0 && strcmp(colon, ":desc") != 0) {
		static const char *const orders[] = { "asc", "desc" };
		char near[256];

		muse_suggest(colon + 1, strlen(colon + 1), orders, 2, "", near,
		    sizeof(near));
		return muse_err_set(e, MUSE_EUSAGE, near[0] ? "bad --sort order "
		    "\"%s\"%s" : "bad --sort \"%s\" (METRIC, METRIC:asc or "
		    "METRIC:desc)%s", near[0] ? colon + 1 : spec, near);
	}
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
	static const char *const names[] = { "table", "tsv", "csv", "json",
		"bars", "svg" };
	int f = lookup(names, 6, name, strlen(name));

	if (f < 0)
		return muse_err_unknown(e, "format", name, strlen(name), names, 6);
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
		{ "pg", MUSE_SKETCH_PG },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kind, kinds[i].name) == 0) {
			q->sketch = kinds[i].kind;
			return 0;
		}
	}
	return muse_err_set(e, MUSE_EUSAGE, "unknown sketch kind \"%s\" "
	    "(hll4, hll6, hll8, pg)", kind);
}

void muse_query_sketch_dir(muse_query *q, const char *dir)
{
	q->sketch_dir = dir;
}

int muse_query_line_format(muse_query *q, const char *name,
	struct muse_err *e)
{
	if (strcmp(name, "json") == 0)
		q->chart = 0;
	else if (strcmp(name, "bars") == 0)
		q->chart = MUSE_FMT_BARS;
	else if (strcmp(name, "svg") == 0)
		q->chart = MUSE_FMT_SVG;
	else
		return muse_err_set(e, MUSE_EUSAGE, "unknown format \"%s\" in a "
		    "query line (json, bars, svg)", name);
	return 0;
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

static int wants_metric(const muse_query *q, int m)
{
	for (int i = 0; i < q->nmetrics; i++)
		if (q->metrics[i] == m)
			return 1;
	return 0;
}

/*
 * Settles what the modes imply before the first record is folded: the
 * grouping of --outliers, the defaults of --compare, and the options that
 * cannot go together.
 */
static int check_modes(muse_query *q, struct muse_err *e)
{
	static const int cmp_defaults[] = { MUSE_M_REACH, MUSE_M_TAKE_RATE,
		MUSE_M_AUTHENTIC_RATE };
	int chart = q->fmt == MUSE_FMT_BARS || q->fmt == MUSE_FMT_SVG ||
	    q->chart;

	if (q->compare && q->outliers)
		return muse_err_set(e, MUSE_EUSAGE,
		    "--compare and --outliers are separate questions: ask one");
	if (q->compare && (q->by & 1u << MUSE_DIM_ASSET))
		return muse_err_set(e, MUSE_EUSAGE, "--compare sets assets side by "
		    "side: --by cannot include asset");
	if (q->outliers && chart)
		return muse_err_set(e, MUSE_EUSAGE,
		    "--outliers is a list, not a chart: use table, tsv, csv or "
		    "json");
	if (q->sketch != MUSE_SKETCH_NONE && (q->compare || q->outliers || chart))
		return muse_err_set(e, MUSE_EUSAGE, "--sketch adds a column to "
		    "plain answers, not to --compare, --outliers or a chart");
	if ((q->atype.n || (q->by & 1u << MUSE_G_ASSET_TYPE)) && !q->assets)
		return muse_err_set(e, MUSE_EUSAGE, "--asset-type and --by "
		    "asset_type need the assets table (--assets FILE)");
	if (q->outliers) {
		if (q->nby == 0) {
			q->by_order[q->nby++] = MUSE_DIM_TITLE;
			q->by |= 1u << MUSE_DIM_TITLE;
		}
		if (!(q->by & 1u << MUSE_DIM_ASSET)) {
			q->by_order[q->nby++] = MUSE_DIM_ASSET;
			q->by |= 1u << MUSE_DIM_ASSET;
		}
	}
	if (q->compare && !q->metrics_set) {
		q->nmetrics = 3;
		memcpy(q->metrics, cmp_defaults, sizeof(cmp_defaults));
	}
	/* Significance and charts are at 95% unless --ci says otherwise. */
	if ((q->compare || chart) && q->z == 0) {
		q->z = 1.959963984540054;
		q->level = 95;
	}
	/* The sides of --compare prune blocks as an --asset filter would. */
	if (q->compare && q->filter[MUSE_DIM_ASSET].n == 0)
		for (int i = 0; i < 2; i++)
			for (size_t k = 0; k < q->side[i].n; k++)
				if (muse_query_filter(q, MUSE_DIM_ASSET,
				    q->side[i].v[k], e))
					return e->code;
	return 0;
}

static int check_dims(muse_query *q, struct muse_err *e)
{
	uint8_t need = q->by & 0x1F;

	if (q->by & (1u << MUSE_G_WEEK | 1u << MUSE_G_MONTH) || q->has_dates)
		need |= 1u << MUSE_DIM_DATE;
	if (q->compare || q->outliers || q->atype.n ||
	    (q->by & 1u << MUSE_G_ASSET_TYPE))
		need |= 1u << MUSE_DIM_ASSET;
	if (wants_metric(q, MUSE_M_COUNTRIES) &&
	    !(q->h.dims & 1u << MUSE_DIM_COUNTRY))
		return muse_err_set(e, MUSE_EUSAGE, "the countries metric needs "
		    "a store with a country dimension (rebuild it with "
		    "muse-sketch --by including country)");
	for (int d = 0; d < MUSE_NDIMS; d++)
		if (q->filter[d].n)
			need |= (uint8_t)(1u << d);
	for (int d = 0; d < MUSE_NDIMS; d++)
		if ((need & 1u << d) && !(q->h.dims & 1u << d))
			return muse_err_set(e, MUSE_EUSAGE,
			    "the store has no %s dimension (rebuild it with "
			    "muse-sketch --by including %s)", muse_dim_name(d),
			    muse_dim_name(d));
	if ((q->by & 1u << MUSE_DIM_DATE) && q->h.grain == MUSE_GRAIN_QUARTER)
		return muse_err_set(e, MUSE_EUSAGE,
		    "the store holds quarters, not days: it cannot be grouped "
		    "by date");
	if ((q->by & (1u << MUSE_G_WEEK | 1u << MUSE_G_MONTH)) &&
	    q->h.grain == MUSE_GRAIN_QUARTER)
		return muse_err_set(e, MUSE_EUSAGE,
		    "the store holds quarters: it cannot be grouped by %s",
		    q->by & 1u << MUSE_G_WEEK ? "week" : "month");
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

/* Offers a value of the store to the literal values not matched yet. */
static void offer(struct patterns *p, const char *s, size_t n)
{
	if (n == p->lastlen && memcmp(p->last, s, n) == 0)
		return;
	if (n < sizeof(p->last)) {
		memcpy(p->last, s, n);
		p->lastlen = n;
	}
	for (size_t i = 0; i < p->n; i++)
		if (!p->hit[i] && p->near[i].word != NULL)
			muse_near_offer(&p->near[i], s, n);
}

/*
 * Whether a value matches any pattern of a filter.  In a segment filter the
 * pattern "*" is the all-users segment, not a glob for every segment.
 */
static int matches(struct patterns *p, const struct muse_str *s)
{
	char buf[256];
	int any = 0, copied = 0;

	for (size_t i = 0; i < p->n; i++) {
		int m;

		if (p->lit[i]) {
			m = p->len[i] == s->n && memcmp(p->v[i], s->p, s->n) == 0;
		} else {
			if (!copied) {
				memcpy(buf, s->p, s->n);
				buf[s->n] = '\0';
				copied = 1;
			}
			m = fnmatch(p->v[i], buf, 0) == 0;
		}
		if (m) {
			p->hit[i] = 1;
			any = 1;
		}
	}
	if (!any)
		offer(p, s->p, s->n);
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
	    muse_fold_init(&g->fold, q->h.lgk) ||
	    muse_acc_init(&g->acc, q->h.lgk)) {
		free(g->key);
		muse_fold_free(&g->fold);
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

/*
 * Builds the group key of a record; 1 if the record is filtered out, 2 if
 * its asset matches both sides of --compare (q->key then holds the asset).
 * The side of --compare is the key's last value, "A" or "B".
 */
static int fold(muse_query *q, const struct muse_key *k)
{
	int seg_in_store = q->h.dims & 1u << MUSE_DIM_SEGMENT;
	const struct muse_str *asset = &k->s[MUSE_DIM_ASSET];
	const char *type = NULL;
	int side = 0;
	char buf[16];

	for (int d = 0; d < MUSE_NDIMS; d++)
		if (d != MUSE_DIM_DATE && q->filter[d].n &&
		    !matches(&q->filter[d], &k->s[d]))
			return 1;
	if (seg_in_store && !q->filter[MUSE_DIM_SEGMENT].n &&
	    !(q->by & 1u << MUSE_DIM_SEGMENT) &&
	    !(k->s[MUSE_DIM_SEGMENT].n == 1 && k->s[MUSE_DIM_SEGMENT].p[0] == '*'))
		return 1;
	if (q->has_dates && (k->day < q->day_from || k->day > q->day_to))
		return 1;
	if (q->has_hole && k->day >= q->hole_from && k->day <= q->hole_to)
		return 1;
	if (q->assets && (q->atype.n || (q->by & 1u << MUSE_G_ASSET_TYPE)))
		type = muse_assets_type(q->assets, asset->p, asset->n);
	if (q->atype.n) {
		struct muse_str t = { type, type ? strlen(type) : 0 };

		if (type == NULL || !matches(&q->atype, &t))
			return 1;
	}
	if (q->compare) {
		int a = matches(&q->side[0], asset);
		int b = matches(&q->side[1], asset);

		if (a && b) {
			q->key.len = 0;
			return put_value(&q->key, asset->p, asset->n) ?
			    MUSE_ENOMEM : 2;
		}
		if (!a && !b)
			return 1;
		side = a ? 'A' : 'B';
	}
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
		} else if (g == MUSE_G_ASSET_TYPE) {
			/* An asset the table does not list: "" (no value). */
			rc = put_value(&q->key, type ? type : "",
			    type ? strlen(type) : 0);
		} else {
			rc = put_value(&q->key, k->s[g].p, k->s[g].n);
		}
		if (rc)
			return MUSE_ENOMEM;
	}
	if (side) {
		buf[0] = (char)side;
		if (put_value(&q->key, buf, 1))
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
	if (!q->modes_checked && (rc = check_modes(q, e)))
		return rc;
	q->modes_checked = 1;
	if ((rc = check_dims(q, e)) || (rc = muse_acc_init(&q->rec, h->lgk)))
		return rc;
	return 0;
}

/*
 * Notes a country the group's asset was shown in.  Groups see few
 * countries (a few hundred exist), so a list of 64-bit hashes searched
 * linearly is enough, and a collision of two names is out of reach.
 */
static int add_country(struct group *g, const struct muse_str *c)
{
	uint64_t h = XXH3_64bits(c->p, c->n);

	for (size_t i = 0; i < g->nctry; i++)
		if (g->ctry[i] == h)
			return 0;
	if (g->nctry == g->capctry) {
		size_t cap = g->capctry ? g->capctry * 2 : 8;
		uint64_t *v = realloc(g->ctry, cap * sizeof(*v));

		if (v == NULL)
			return MUSE_ENOMEM;
		g->ctry = v;
		g->capctry = cap;
	}
	g->ctry[g->nctry++] = h;
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
	if (rc == 2)
		return muse_err_set(e, MUSE_EUSAGE, "asset \"%s\" matches both "
		    "sides of --compare", (const char *)q->key.p);
	if (rc || (g = group_of(q, q->key.p, q->key.len)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if ((rc = muse_rec_fold(&q->h, rec, n, &g->fold, e)))
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
	/*
	 * The countries metric counts the countries of the records with
	 * impressions or users: only stores with the country dimension need
	 * the record's figures apart.
	 */
	if (q->h.dims & 1u << MUSE_DIM_COUNTRY) {
		muse_acc_clear(&q->rec);
		if ((rc = muse_rec_decode(&q->h, rec, n, &k, &q->rec, e)))
			return rc;
		if ((q->rec.impressions || !muse_hll_is_empty(q->rec.reach)) &&
		    add_country(g, &k.s[MUSE_DIM_COUNTRY]))
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
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
static int range_may_match(const struct patterns *p,
	const struct muse_str *lo, const struct muse_str *hi)
{
	for (size_t i = 0; i < p->n; i++) {
		const char *pat = p->v[i];
		/* lit covers the segment "*", which is no glob */
		size_t pre = p->lit[i] ? p->len[i] : strcspn(pat, "*?[\\");

		if (p->lit[i]) {
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
	unsigned char hit[1], lit[1] = { 1 };  /* the segment "*": no glob */
	size_t len[1] = { 1 };

	star.v = starv;
	star.n = 1;
	star.hit = hit;
	star.lit = lit;
	star.len = len;
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
		if (p->n && !range_may_match(p, &lo->s[d], &hi->s[d]))
			return 0;
		if (!same)
			return 1;
	}
	return 1;
}

/*
 * What the zones of the blocks must hold for a block to be read: for the
 * asset, segment and country sets, the bits of the filter's values (or of
 * "*", the only segment read without --segment or --by segment).  Only a
 * filter made of literal values can tell (a glob can match anything).
 * Worked out once a query, not once a block.
 */
static void zone_prepare(muse_query *q)
{
	static const int dim[3] = { MUSE_DIM_ASSET, MUSE_DIM_SEGMENT,
		MUSE_DIM_COUNTRY };

	for (int i = 0; i < 3; i++) {
		const struct patterns *p = &q->filter[dim[i]];
		int d = dim[i];

		q->zone_want[i] = 0;
		if (!(q->h.dims & 1u << d))
			continue;
		if (d == MUSE_DIM_SEGMENT && ((!p->n &&
		    !(q->by & 1u << MUSE_DIM_SEGMENT)) ||
		    (p->n == 1 && strcmp(p->v[0], "*") == 0))) {
			q->zone_want[i] = muse_zone_bit("*", 1);
			continue;
		}
		for (size_t j = 0; j < p->n; j++) {
			if (strcspn(p->v[j], "*?[\\") != p->len[j]) {
				q->zone_want[i] = 0;
				break;
			}
			q->zone_want[i] |= muse_zone_bit(p->v[j], p->len[j]);
		}
	}
}

static int block_zone_ok(const muse_query *q, const struct muse_zone *z)
{
	if (q->has_dates && (q->h.dims & 1u << MUSE_DIM_DATE) &&
	    ((int64_t)z->max_day < q->day_from || (int64_t)z->min_day > q->day_to))
		return 0;
	/* With a hole, the days left are [from, hole) and (hole, to]. */
	if (q->has_hole && !((int64_t)z->min_day < q->hole_from &&
	    (int64_t)z->max_day >= q->day_from) &&
	    !((int64_t)z->max_day > q->hole_to &&
	    (int64_t)z->min_day <= q->day_to))
		return 0;
	for (int i = 0; i < 3; i++)
		if (q->zone_want[i] && !(z->bits[i] & q->zone_want[i]))
			return 0;
	return 1;
}

/* Whether a value matches a pattern of a filter; no hit is noted. */
static int value_matches(const struct patterns *p, const struct muse_str *s)
{
	char buf[256];

	for (size_t i = 0; i < p->n; i++) {
		if (p->lit[i]) {
			if (p->len[i] == s->n && memcmp(p->v[i], s->p, s->n) == 0)
				return 1;
			continue;
		}
		memcpy(buf, s->p, s->n);
		buf[s->n] = '\0';
		if (fnmatch(p->v[i], buf, 0) == 0)
			return 1;
	}
	return 0;
}

static int any_value_matches(const struct patterns *p,
	const struct muse_str *v, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (value_matches(p, &v[j]))
			return 1;
	return 0;
}

/*
 * Whether the exact values of a cached block (muse_store_block_values)
 * show that none of its records can pass the filters.  A record is checked
 * dimension by dimension (see fold), and a filter value that matches a
 * record rejected later still counts as found (no "no asset matches"
 * warning); so a block is passed over because of a dimension only when
 * every value of the filters before it has been found already.  Then
 * reading it would change nothing at all.
 */
static int block_values_rule_out(muse_query *q, const muse_store *st,
	size_t i)
{
	static const int order[] = { MUSE_DIM_TITLE, MUSE_DIM_ASSET,
		MUSE_DIM_SEGMENT, MUSE_DIM_COUNTRY };
	const struct muse_str *v;
	size_t n;

	for (int o = 0; o < 4; o++) {
		const struct patterns *p = &q->filter[order[o]];

		if (p->n == 0 || !(q->h.dims & 1u << order[o]))
			continue;
		if ((v = muse_store_block_values(st, i, order[o], &n)) == NULL)
			return 0;
		if (!any_value_matches(p, v, n))
			return 1;
		for (size_t j = 0; j < p->n; j++)
			if (!p->hit[j])
				return 0;
	}
	/* Without --segment or --by segment only the "*" rows are read. */
	if ((q->h.dims & 1u << MUSE_DIM_SEGMENT) &&
	    !q->filter[MUSE_DIM_SEGMENT].n && !(q->by & 1u << MUSE_DIM_SEGMENT) &&
	    (v = muse_store_block_values(st, i, MUSE_DIM_SEGMENT, &n)) != NULL) {
		for (size_t j = 0; j < n; j++)
			if (v[j].n == 1 && v[j].p[0] == '*')
				return 0;
		return 1;
	}
	return 0;
}

/* Reads the blocks of an indexed store that can matter. */
static int read_blocks(muse_query *q, muse_store *st, uint64_t *nread,
	struct muse_err *e)
{
	int rc;

	for (size_t i = 0; i < muse_store_nblocks(st); i++) {
		struct muse_key lo, hi;
		const uint8_t *rec;
		size_t n;

		/* The zone first: a few bit operations rule out most blocks. */
		if (!block_zone_ok(q, muse_store_block_zone(st, i)))
			continue;
		muse_store_block_keys(st, i, &lo, &hi);
		if (!block_may_match(q, &lo, &hi) ||
		    block_values_rule_out(q, st, i))
			continue;
		(*nread)++;
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

void muse_query_rollup(muse_query *q, muse_store *r)
{
	if (q->nrollups < MUSE_QUERY_MAX_ROLLUPS) {
		q->rollup[q->nrollups].st = r;
		q->rollup[q->nrollups].path = NULL;
		q->rollup[q->nrollups++].h = *muse_store_header(r);
	}
}

int muse_query_rollup_file(muse_query *q, const char *path,
	struct muse_err *e)
{
	struct rollup *r;
	uint8_t hb[MUSE_HEADER_SIZE];
	FILE *fp;
	size_t n;

	muse_err_clear(e);
	if (q->nrollups == MUSE_QUERY_MAX_ROLLUPS)
		return muse_err_set(e, MUSE_EUSAGE, "at most %d roll-ups",
		    MUSE_QUERY_MAX_ROLLUPS);
	r = &q->rollup[q->nrollups];
	muse_err_where(e, path, 0, UINT64_MAX);
	if (strcmp(path, "-") == 0)
		return muse_err_set(e, MUSE_EUSAGE, "a roll-up must be an indexed "
		    "store file (one written by muse-merge --rollup), not a pipe");
	if ((fp = fopen(path, "rb")) == NULL)
		return muse_err_set(e, MUSE_EIO, "cannot open: %s", strerror(errno));
	n = fread(hb, 1, sizeof(hb), fp);
	fclose(fp);
	if (n < sizeof(hb))
		return muse_err_set(e, MUSE_ETRUNC, "truncated stream (no header)");
	if (muse_header_parse(hb, &r->h, e))
		return e->code;
	if (r->h.kind != MUSE_KIND_SKETCH || r->h.src_content == 0)
		return muse_err_set(e, MUSE_EUSAGE, "not a roll-up of a store (make "
		    "one with muse-merge --rollup week|month|quarter STORE)");
	if ((r->path = strdup(path)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	r->st = NULL;
	q->nrollups++;
	muse_err_clear(e);
	return 0;
}

/* The first day of the week, month or quarter after the one at p. */
static int64_t period_next(int grain, int64_t p)
{
	return grain == MUSE_GRAIN_WEEK ? p + 7 :
	    grain == MUSE_GRAIN_MONTH ? muse_month_start(p + 31) :
	    muse_quarter_start(p + 92);
}

static int64_t period_start(int grain, int64_t day)
{
	return grain == MUSE_GRAIN_WEEK ? muse_week_start(day) :
	    grain == MUSE_GRAIN_MONTH ? muse_month_start(day) :
	    muse_quarter_start(day);
}

/*
 * The roll-up that answers for the most days of the query, and those
 * days, [*from, *to]: the whole weeks or months inside the query's dates
 * (every day without --date).  A roll-up serves only a store of the
 * records it was made from (the header names their content checksum,
 * whatever version number they were published under), and only a
 * query whose groups it can form: none by date, by week only from weeks,
 * by month only from months.  Everything a roll-up holds of those days is
 * exactly what the day store holds of them, summed and united, so the
 * answer is the same to the byte.
 */
static struct rollup *pick_rollup(muse_query *q, const muse_store *st,
	int64_t *from, int64_t *to)
{
	const struct muse_header *dh = muse_store_header(st);
	struct rollup *best = NULL;
	int64_t best_days = 0;

	q->rollup_stale = 0;
	if (q->nrollups == 0 || !(dh->dims & 1u << MUSE_DIM_DATE) ||
	    dh->grain != MUSE_GRAIN_DAY || (q->by & 1u << MUSE_DIM_DATE))
		return NULL;
	for (size_t i = 0; i < q->nrollups; i++) {
		const struct muse_header *h = &q->rollup[i].h;
		struct muse_header same = *h;
		struct muse_err ignored;
		int g = h->grain;
		int64_t lo, hi, days;

		/* The records decide; the version may be another stamp of them. */
		if (h->src_content != muse_store_content(st)) {
			q->rollup_stale++;
			continue;
		}
		same.grain = dh->grain;
		if (muse_header_compatible(dh, &same, &ignored) ||
		    ((q->by & 1u << MUSE_G_WEEK) && g != MUSE_GRAIN_WEEK) ||
		    ((q->by & 1u << MUSE_G_MONTH) && g != MUSE_GRAIN_MONTH))
			continue;
		if (!q->has_dates) {
			lo = INT64_MIN;
			hi = INT64_MAX;
			days = INT64_MAX;
		} else {
			lo = period_start(g, q->day_from);
			if (lo < q->day_from)
				lo = period_next(g, lo);
			hi = period_start(g, q->day_to + 1) - 1;
			if (hi < lo)
				continue;
			days = hi - lo + 1;
		}
		/* Equal days: the coarser grain, fewer records. */
		if (days > best_days || (days == best_days && best != NULL &&
		    g > best->h.grain)) {
			best = &q->rollup[i];
			best_days = days;
			*from = lo;
			*to = hi;
		}
	}
	return best;
}

int muse_query_add_mapped(muse_query *q, muse_store *st, struct muse_err *e)
{
	struct rollup *r;
	int64_t from, to;
	int rc;

	if ((rc = begin_stream(q, muse_store_header(st), e)))
		return rc;
	zone_prepare(q);
	q->blocks_total += muse_store_nblocks(st);
	r = pick_rollup(q, st, &from, &to);
	/* A roll-up named by its path is mapped when it is first chosen. */
	if (r != NULL && r->st == NULL) {
		if ((r->st = muse_store_open(r->path, e)) == NULL) {
			if (e->code == MUSE_OK) {
				muse_err_where(e, r->path, 0, UINT64_MAX);
				muse_err_set(e, MUSE_EUSAGE, "a roll-up must be an "
				    "indexed store (one written by muse-merge "
				    "--rollup)");
			}
			return e->code;
		}
		if (muse_store_header(r->st)->src_content != r->h.src_content ||
		    muse_store_header(r->st)->src_version != r->h.src_version) {
			muse_err_where(e, r->path, 0, UINT64_MAX);
			return muse_err_set(e, MUSE_EUSAGE, "the roll-up changed "
			    "while it was read");
		}
	}
	if (r == NULL) {
		rc = read_blocks(q, st, &q->blocks_read, e);
	} else {
		int had = q->has_dates;
		int64_t f = q->day_from, t = q->day_to;

		/* The whole periods from the roll-up, the other days from st. */
		q->rollup_used++;
		q->has_dates = had || from != INT64_MIN;
		q->day_from = from;
		q->day_to = to;
		rc = read_blocks(q, r->st, &q->rollup_blocks, e);
		q->has_dates = had;
		q->day_from = f;
		q->day_to = t;
		if (rc == 0 && had && (q->day_from < from || q->day_to > to)) {
			q->has_hole = 1;
			q->hole_from = from;
			q->hole_to = to;
			rc = read_blocks(q, st, &q->blocks_read, e);
			q->has_hole = 0;
		}
	}
	if (rc)
		return rc;
	/*
	 * A literal filter value that matched nothing gets the nearest of the
	 * blocks' first and last keys as candidates (from the index: no extra
	 * reading), offered only then, so that a query that finds its values
	 * pays nothing for it.
	 */
	for (int d = 0; d < MUSE_NDIMS; d++) {
		const struct patterns *p = &q->filter[d];
		int missing = 0;

		for (size_t j = 0; d != MUSE_DIM_DATE && j < p->n; j++)
			missing |= !p->hit[j] && p->near[j].word != NULL;
		for (size_t i = 0; missing && i < muse_store_nblocks(st); i++) {
			struct muse_key lo, hi;

			muse_store_block_keys(st, i, &lo, &hi);
			offer(&q->filter[d], lo.s[d].p, lo.s[d].n);
			offer(&q->filter[d], hi.s[d].p, hi.s[d].n);
		}
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

void muse_query_rollup_stats(const muse_query *q, uint64_t *used,
	uint64_t *blocks, uint64_t *stale)
{
	*used = q->rollup_used;
	*blocks = q->rollup_blocks;
	*stale = q->rollup_stale;
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
	if (q->h.dims & 1u << MUSE_DIM_COUNTRY) {
		r->ok[MUSE_M_COUNTRIES] = 1;
		r->v[MUSE_M_COUNTRIES] = r->lo[MUSE_M_COUNTRIES] =
		    r->hi[MUSE_M_COUNTRIES] = (double)r->g->nctry;
	}
}

static int is_estimate(int m)
{
	return m == MUSE_M_REACH || m == MUSE_M_QREACH || m == MUSE_M_AREACH ||
	    m == MUSE_M_TAKE_RATE || m == MUSE_M_AUTHENTIC_RATE;
}

static int is_rate(int m)
{
	return m == MUSE_M_TAKE_RATE || m == MUSE_M_AUTHENTIC_RATE ||
	    m == MUSE_M_BOUNCE_RATE;
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
	case MUSE_SKETCH_PG:
		return muse_pghll_encode(h, img);
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
		if (q->sketch == MUSE_SKETCH_PG)
			rc = muse_pghll_text(h, &txt) || muse_buf_put_u8(&txt, 0) ?
			    MUSE_ENOMEM : 0;
		else
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
		fprintf(out, "{\"version\": %llu, \"content\": \"%016llx\", ",
		    (unsigned long long)q->version, (unsigned long long)q->content);
		if (q->outliers)
			fprintf(out, "\"flagged\": %zu, ", q->flagged);
		fputs("\"rows\": [", out);
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
	case MUSE_FMT_BARS:
	case MUSE_FMT_SVG:
		break;          /* charts are drawn by chart_rows */
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


/* ---- tables of cells ---- */

struct table {
	char **head;
	size_t ncols;
	struct cell *cells;
	size_t nrows, caprows;
	int oom;
};

static void tab_col(struct table *t, const char *name)
{
	char **h = realloc(t->head, (t->ncols + 1) * sizeof(*h));

	if (h == NULL || (h[t->ncols] = strdup(name)) == NULL) {
		if (h)
			t->head = h;
		t->oom = 1;
		return;
	}
	t->head = h;
	t->ncols++;
}

static void tab_col2(struct table *t, const char *a, const char *b)
{
	char name[80];

	snprintf(name, sizeof(name), "%s%s", a, b);
	tab_col(t, name);
}

/* A new row of empty cells; NULL when out of memory. */
static struct cell *tab_row(struct table *t)
{
	if (t->oom)
		return NULL;
	if (t->nrows == t->caprows) {
		size_t cap = t->caprows ? t->caprows * 2 : 64;
		struct cell *c = realloc(t->cells, cap * t->ncols * sizeof(*c) + 1);

		if (c == NULL) {
			t->oom = 1;
			return NULL;
		}
		t->cells = c;
		t->caprows = cap;
	}
	memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof(struct cell));
	return &t->cells[t->nrows++ * t->ncols];
}

static void tab_free(struct table *t)
{
	for (size_t i = 0; i < t->ncols; i++)
		free(t->head[i]);
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i].s);
	free(t->head);
	free(t->cells);
}

static void cell_set(struct table *t, struct cell *c, char *s, int numeric)
{
	if (s == NULL)
		t->oom = 1;
	c->s = s;
	c->numeric = numeric;
}

static void cell_null(struct table *t, struct cell *c)
{
	cell_set(t, c, strdup(""), 1);
	c->null = 1;
}

static void cell_metric(const muse_query *q, struct table *t, struct cell *c,
	int ok, int m, double v)
{
	if (ok)
		cell_set(t, c, fmt_value(q, m, v), 1);
	else
		cell_null(t, c);
}

static void cell_fixed(struct table *t, struct cell *c, int decimals,
	double v)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	cell_set(t, c, strdup(buf), 1);
}

/* The group values of a key into cells; asset_type "" is no value. */
static struct cell *cell_key(const muse_query *q, struct table *t,
	struct cell *c, const char *k)
{
	for (int i = 0; i < q->nby; i++, c++) {
		if (*k == '\0' && q->by_order[i] == MUSE_G_ASSET_TYPE)
			cell_null(t, c);
		else
			cell_set(t, c, strdup(k), 0);
		k += strlen(k) + 1;
	}
	return c;
}

/* ---- JSON lines and charts ---- */

static void put_json_text(FILE *out, const char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void write_chart(const muse_query *q, FILE *out,
	const struct muse_chart *c, const char *warnings)
{
	int kind = q->fmt == MUSE_FMT_JSONL ? (int)q->chart : (int)q->fmt;
	char *text = NULL;
	size_t n = 0;
	FILE *mem;

	if (q->fmt != MUSE_FMT_JSONL) {
		if (kind == MUSE_FMT_BARS)
			muse_chart_bars(out, c, q->width ? q->width : 80);
		else
			muse_chart_svg(out, c);
		return;
	}
	if ((mem = open_memstream(&text, &n)) == NULL)
		return;
	if (kind == MUSE_FMT_BARS)
		muse_chart_bars(mem, c, q->width ? q->width : 80);
	else
		muse_chart_svg(mem, c);
	if (fclose(mem) == 0) {
		fprintf(out, "{\"version\": %llu, \"content\": \"%016llx\", "
		    "\"format\": \"%s\", \"chart\": ",
		    (unsigned long long)q->version, (unsigned long long)q->content,
		    kind == MUSE_FMT_BARS ? "bars" : "svg");
		put_json_text(out, text, n);
		fprintf(out, ", \"warnings\": [%s]}\n", warnings);
	}
	free(text);
}

/* The label of a row in a chart: its group values joined with " / ". */
static char *row_label(const muse_query *q, const struct group *g,
	const char *side)
{
	struct muse_buf b = { 0 };
	const char *k = g->key;

	for (int i = 0; i < q->nby; i++) {
		if (i)
			muse_buf_put(&b, " / ", 3);
		muse_buf_put(&b, *k ? k : "-", *k ? strlen(k) : 1);
		k += strlen(k) + 1;
	}
	if (side) {
		if (q->nby)
			muse_buf_put(&b, " / ", 3);
		muse_buf_put(&b, side, strlen(side));
	}
	if (b.len == 0)
		muse_buf_put(&b, "all", 3);
	if (muse_buf_put_u8(&b, 0)) {
		muse_buf_free(&b);
		return NULL;
	}
	return (char *)b.p;
}

static int decimals_of(int m)
{
	return is_rate(m) ? 4 : m == MUSE_M_WATCH_S ? 3 : 0;
}

/*
 * Draws metric m of rows (two per group for --compare, A then B).  sides
 * names each bar's side, or is NULL.
 */
static int chart_rows(const muse_query *q, FILE *out, struct row **rows,
	size_t n, const char *const *sides, const char *warnings)
{
	int m = q->metrics[0];
	struct muse_chart_bar *bars = calloc(n + 1, sizeof(*bars));
	struct muse_chart c;
	char title[512], dims[160] = "";
	int rc = 0;

	if (bars == NULL)
		return MUSE_ENOMEM;
	for (int i = 0; i < q->nby; i++)
		snprintf(dims + strlen(dims), sizeof(dims) - strlen(dims), "%s%s",
		    i ? "," : " by ", group_names[q->by_order[i]]);
	if (sides)
		snprintf(title, sizeof(title), "%s%s: %s vs %s (%d%% bounds; "
		    "none: exact)", metric_names[m], dims, q->side_spec[0],
		    q->side_spec[1], q->level);
	else
		snprintf(title, sizeof(title), "%s%s (%d%% bounds; none: exact)",
		    metric_names[m], dims, q->level);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct row *r = rows[i];
		/* An empty side of --compare has the key of the other. */
		const struct group *g = r->g->keylen || !sides ? r->g :
		    rows[i ^ 1]->g;

		bars[i].label = row_label(q, g, sides ? sides[i] : NULL);
		if (bars[i].label == NULL)
			rc = MUSE_ENOMEM;
		bars[i].ok = r->ok[m];
		bars[i].v = r->v[m];
		bars[i].lo = is_estimate(m) ? r->lo[m] : r->v[m];
		bars[i].hi = is_estimate(m) ? r->hi[m] : r->v[m];
	}
	c.title = title;
	c.decimals = decimals_of(m);
	c.n = n;
	c.bars = bars;
	if (rc == 0)
		write_chart(q, out, &c, warnings);
	for (size_t i = 0; i < n; i++)
		free((char *)bars[i].label);
	free(bars);
	return rc;
}

/* ---- plain answers ---- */

static int table_plain(const muse_query *q, struct table *t, struct row *rows,
	size_t nrows, struct muse_err *e)
{
	for (int i = 0; i < q->nby; i++)
		tab_col(t, group_names[q->by_order[i]]);
	for (int i = 0; i < q->nmetrics; i++) {
		int m = q->metrics[i];

		tab_col(t, metric_names[m]);
		if (q->z && is_estimate(m)) {
			tab_col2(t, metric_names[m], "_lo");
			tab_col2(t, metric_names[m], "_hi");
		}
	}
	if (q->sketch != MUSE_SKETCH_NONE)
		tab_col(t, q->sketch_dir ? "sketch_file" : "sketch");
	for (size_t r = 0; r < nrows; r++) {
		struct cell *c = tab_row(t);
		int rc;

		if (c == NULL)
			return 0;
		c = cell_key(q, t, c, rows[r].g->key);
		for (int i = 0; i < q->nmetrics; i++) {
			int m = q->metrics[i];
			int n = q->z && is_estimate(m) ? 3 : 1;
			double vals[3] = { rows[r].v[m], rows[r].lo[m], rows[r].hi[m] };

			for (int j = 0; j < n; j++, c++)
				cell_metric(q, t, c, rows[r].ok[m], m, vals[j]);
		}
		if (q->sketch != MUSE_SKETCH_NONE &&
		    (rc = sketch_cell(q, rows[r].g->acc.reach, r, c, e)) != 0)
			return rc;
	}
	return 0;
}

/* ---- --compare ---- */

/* Relative standard error of the distinct count behind metric m. */
static double rse_of(const struct row *r, int m)
{
	const struct muse_acc *a = &r->g->acc;

	switch (m) {
	case MUSE_M_REACH: return muse_hll_rse(a->reach);
	case MUSE_M_QREACH: return muse_hll_rse(a->qreach);
	case MUSE_M_AREACH: return muse_hll_rse(a->areach);
	}
	return 0;
}

/*
 * The test of the difference a - b of metric m (muse-query(1),
 * STATISTICS): -1 when a side has no value, 0 when neither figure has an
 * error (the difference is exact), 1 with *z its z-score.
 */
static int diff_test(const struct row *a, const struct row *b, int m,
	double *z)
{
	double var, d = a->v[m] - b->v[m];

	if (!a->ok[m] || !b->ok[m])
		return -1;
	if (is_rate(m)) {
		int num = m == MUSE_M_TAKE_RATE ? MUSE_M_QREACH : MUSE_M_AREACH;
		int den = m == MUSE_M_TAKE_RATE ? MUSE_M_REACH : MUSE_M_QREACH;
		double na = a->v[den], nb = b->v[den], p, sa = 0, sb = 0;

		if (m == MUSE_M_BOUNCE_RATE) {
			na = a->v[MUSE_M_PLAYS];
			nb = b->v[MUSE_M_PLAYS];
		} else {
			sa = rse_of(a, num) * rse_of(a, num) +
			    rse_of(a, den) * rse_of(a, den);
			sb = rse_of(b, num) * rse_of(b, num) +
			    rse_of(b, den) * rse_of(b, den);
		}
		p = (a->v[m] * na + b->v[m] * nb) / (na + nb);
		var = p * (1 - p) * (1 / na + 1 / nb) +
		    a->v[m] * a->v[m] * sa + b->v[m] * b->v[m] * sb;
	} else {
		double ea = rse_of(a, m) * a->v[m], eb = rse_of(b, m) * b->v[m];

		var = ea * ea + eb * eb;
	}
	if (!(var > 0))
		return 0;
	*z = d / sqrt(var);
	return 1;
}

static int cmp_keys_only(const void *x, const void *y)
{
	const struct row *a = x, *b = y;

	return cmp_group_keys(a->g, b->g);
}

/* The length of a --compare group key without its side value. */
static size_t prefix_len(const struct group *g)
{
	return g->keylen - 2;
}

/*
 * Pairs the sides of each group: pairs[2i] is side A, pairs[2i+1] side B,
 * a missing side the empty row zero (with the other's key for its label).
 */
static size_t pair_rows(struct row *rows, size_t nrows, struct row **pairs,
	struct row *zero)
{
	size_t n = 0;

	qsort(rows, nrows, sizeof(*rows), cmp_keys_only);
	for (size_t i = 0; i < nrows; i++) {
		const struct group *g = rows[i].g;
		char side = g->key[g->keylen - 2];

		if (side == 'A' && i + 1 < nrows &&
		    prefix_len(rows[i + 1].g) == prefix_len(g) &&
		    memcmp(rows[i + 1].g->key, g->key, prefix_len(g)) == 0) {
			pairs[n++] = &rows[i];
			pairs[n++] = &rows[++i];
		} else if (side == 'A') {
			pairs[n++] = &rows[i];
			pairs[n++] = zero;
		} else {
			pairs[n++] = zero;
			pairs[n++] = &rows[i];
		}
	}
	return n / 2;
}

static void table_compare(const muse_query *q, struct table *t,
	struct row **pairs, size_t npairs)
{
	for (int i = 0; i < q->nby; i++)
		tab_col(t, group_names[q->by_order[i]]);
	tab_col(t, "a");
	tab_col(t, "b");
	for (int i = 0; i < q->nmetrics; i++) {
		const char *name = metric_names[q->metrics[i]];

		tab_col2(t, name, "_a");
		tab_col2(t, name, "_b");
		tab_col2(t, name, "_diff");
		tab_col2(t, name, "_z");
		tab_col2(t, name, "_sig");
	}
	for (size_t p = 0; p < npairs; p++) {
		const struct row *a = pairs[2 * p], *b = pairs[2 * p + 1];
		const struct row *named = a->g->keylen ? a : b;
		struct cell *c = tab_row(t);

		if (c == NULL)
			return;
		c = cell_key(q, t, c, named->g->key);
		cell_set(t, c++, strdup(q->side_spec[0]), 0);
		cell_set(t, c++, strdup(q->side_spec[1]), 0);
		for (int i = 0; i < q->nmetrics; i++) {
			int m = q->metrics[i], ok = a->ok[m] && b->ok[m];
			double z = 0;
			int test = diff_test(a, b, m, &z);

			cell_metric(q, t, c++, a->ok[m], m, a->v[m]);
			cell_metric(q, t, c++, b->ok[m], m, b->v[m]);
			cell_metric(q, t, c++, ok, m, a->v[m] - b->v[m]);
			if (test == 1)
				cell_fixed(t, c++, 2, z);
			else
				cell_null(t, c++);
			if (test < 0)
				cell_null(t, c++);
			else
				cell_set(t, c++, strdup((test == 1 ?
				    fabs(z) > q->z : a->v[m] != b->v[m]) ?
				    "yes" : "no"), 0);
		}
	}
}

/* ---- --outliers ---- */

struct ostat {
	double z[2], med[2];     /* take_rate, authentic_rate */
	size_t peers[2];
	int tested[2];
	char *peerkey;           /* the key without the asset value */
	size_t peerlen;
};

static const int out_metric[2] = { MUSE_M_TAKE_RATE, MUSE_M_AUTHENTIC_RATE };
static const int out_den[2] = { MUSE_M_REACH, MUSE_M_QREACH };

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Robust z-scores of metric k among the rows idx[0..n) (one peer group):
 * z = (x - median) / sqrt(s^2 + median (1 - median) / n), where s, the
 * peers' spread, is 1.4826 MAD (the mean absolute deviation times 1.2533
 * when more than half the peers share the median and the MAD is 0), and
 * the second term is the row's own binomial sampling noise at the peers'
 * rate given its denominator n: a few peers that happen to agree closely
 * do not make every small wobble an outlier.  Only rows whose rate has at
 * least min_reach behind it count, and three of them at least.
 */
static int score(const muse_query *q, struct row *rows, struct ostat *st,
	const size_t *idx, size_t n, int k)
{
	int m = out_metric[k], den = out_den[k];
	double *v = malloc((n + 1) * sizeof(double)), med, mad, mean = 0, scale;
	size_t cnt = 0;

	if (v == NULL)
		return MUSE_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[idx[i]];

		if (r->ok[m] && r->v[den] >= (double)q->min_reach)
			v[cnt++] = r->v[m];
	}
	if (cnt < 3) {
		free(v);
		return 0;
	}
	med = median(v, cnt);
	for (size_t i = 0; i < cnt; i++) {
		v[i] = fabs(v[i] - med);
		mean += v[i] / (double)cnt;
	}
	mad = median(v, cnt);
	free(v);
	scale = mad > 0 ? 1.482602218505602 * mad : 1.253314137315500 * mean;
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[idx[i]];
		struct ostat *s = &st[idx[i]];

		if (!r->ok[m] || r->v[den] < (double)q->min_reach)
			continue;
		/* Plus the row's own sampling noise at the peers' rate. */
		double noise = med * (1 - med) / r->v[den];
		double sd = sqrt(scale * scale + noise);

		s->tested[k] = 1;
		s->med[k] = med;
		s->peers[k] = cnt;
		s->z[k] = sd > 0 ? (r->v[m] - med) / sd : 0;
	}
	return 0;
}

static int cmp_peer(const void *x, const void *y, void *ctx)
{
	const struct ostat *st = ctx;
	const struct ostat *a = &st[*(const size_t *)x];
	const struct ostat *b = &st[*(const size_t *)y];
	size_t n = a->peerlen < b->peerlen ? a->peerlen : b->peerlen;
	int c = n ? memcmp(a->peerkey, b->peerkey, n) : 0;

	if (c == 0)
		c = (a->peerlen > b->peerlen) - (a->peerlen < b->peerlen);
	if (c == 0)
		c = (*(const size_t *)x > *(const size_t *)y) -
		    (*(const size_t *)x < *(const size_t *)y);
	return c;
}

/*
 * How an asset reads against its peers: "clickbait" when its authentic
 * rate is low while its take rate is at or above the peers' median (it
 * draws qualified plays that do not last), else "weak" when a rate is low,
 * else "strong".
 */
static const char *reading(const muse_query *q, const struct row *r,
	const struct ostat *s)
{
	int take_low = s->tested[0] && s->z[0] < -q->threshold;
	int auth_low = s->tested[1] && s->z[1] < -q->threshold;

	if (auth_low && s->tested[0] && r->v[MUSE_M_TAKE_RATE] >= s->med[0])
		return "clickbait";
	return take_low || auth_low ? "weak" : "strong";
}

static int table_outliers(muse_query *q, struct table *t, struct row *rows,
	size_t nrows)
{
	struct ostat *st = calloc(nrows + 1, sizeof(*st));
	size_t *idx = calloc(nrows + 1, sizeof(*idx));
	int apos = 0, rc = 0;

	if (st == NULL || idx == NULL) {
		free(st);
		free(idx);
		return MUSE_ENOMEM;
	}
	for (int i = 0; i < q->nby; i++)
		if (q->by_order[i] == MUSE_DIM_ASSET)
			apos = i;
	/* Each row's peer key: its key without the asset value. */
	for (size_t r = 0; r < nrows && rc == 0; r++) {
		const char *k = rows[r].g->key;
		struct muse_buf b = { 0 };

		for (int i = 0; i < q->nby; i++) {
			size_t n = strlen(k) + 1;

			if (i != apos && muse_buf_put(&b, k, n))
				rc = MUSE_ENOMEM;
			k += n;
		}
		if (muse_buf_put_u8(&b, 0))
			rc = MUSE_ENOMEM;
		st[r].peerkey = (char *)b.p;
		st[r].peerlen = b.len;
		idx[r] = r;
	}
	if (rc == 0)
		qsort_r(idx, nrows, sizeof(*idx), cmp_peer, st);
	for (size_t i = 0; i < nrows && rc == 0;) {
		size_t j = i + 1;

		while (j < nrows && st[idx[j]].peerlen == st[idx[i]].peerlen &&
		    memcmp(st[idx[j]].peerkey, st[idx[i]].peerkey,
		    st[idx[i]].peerlen) == 0)
			j++;
		for (int k = 0; k < 2 && rc == 0; k++)
			rc = score(q, rows, st, &idx[i], j - i, k);
		i = j;
	}
	for (int i = 0; i < q->nby; i++)
		tab_col(t, group_names[q->by_order[i]]);
	{
		static const char *const cols[] = { "metric", "value",
			"peer_median", "robust_z", "direction", "reading", "reach",
			"qreach", "take_rate", "authentic_rate", "peers" };

		for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
			tab_col(t, cols[i]);
	}
	q->flagged = 0;
	for (size_t r = 0; r < nrows && rc == 0; r++) {
		const struct row *row = &rows[r];
		const struct ostat *s = &st[r];

		for (int k = 0; k < 2; k++) {
			int m = out_metric[k];
			struct cell *c;

			if (!s->tested[k] || fabs(s->z[k]) <= q->threshold)
				continue;
			q->flagged++;
			if (q->top && t->nrows >= q->top)
				continue;
			if ((c = tab_row(t)) == NULL)
				break;
			c = cell_key(q, t, c, row->g->key);
			cell_set(t, c++, strdup(metric_names[m]), 0);
			cell_metric(q, t, c++, 1, m, row->v[m]);
			cell_metric(q, t, c++, 1, m, s->med[k]);
			cell_fixed(t, c++, 2, s->z[k]);
			cell_set(t, c++, strdup(s->z[k] > 0 ? "high" : "low"), 0);
			cell_set(t, c++, strdup(reading(q, row, s)), 0);
			cell_metric(q, t, c++, 1, MUSE_M_REACH, row->v[MUSE_M_REACH]);
			cell_metric(q, t, c++, 1, MUSE_M_QREACH,
			    row->v[MUSE_M_QREACH]);
			cell_metric(q, t, c++, row->ok[MUSE_M_TAKE_RATE],
			    MUSE_M_TAKE_RATE, row->v[MUSE_M_TAKE_RATE]);
			cell_metric(q, t, c++, row->ok[MUSE_M_AUTHENTIC_RATE],
			    MUSE_M_AUTHENTIC_RATE, row->v[MUSE_M_AUTHENTIC_RATE]);
			cell_fixed(t, c++, 0, (double)s->peers[k]);
		}
	}
	for (size_t r = 0; r < nrows; r++)
		free(st[r].peerkey);
	free(st);
	free(idx);
	return rc;
}

/* ---- the answer ---- */

static int write_answer(muse_query *q, FILE *out,
	void (*warn)(void *ctx, const char *msg), void *ctx,
	struct muse_buf *warnings, struct muse_err *e)
{
	struct row *rows, zero;
	struct row **pairs = NULL;
	struct group zg;
	struct table t = { 0 };
	size_t nrows, npairs = 0;
	int multi = 0, rc = 0;
	int chart = q->fmt == MUSE_FMT_BARS || q->fmt == MUSE_FMT_SVG ||
	    (q->fmt == MUSE_FMT_JSONL && q->chart);
	char msg[512];

	if (!q->have_h)
		return muse_err_set(e, MUSE_EUSAGE, "no sketch store given");
	if (q->sketch && (q->fmt == MUSE_FMT_TABLE || q->fmt == MUSE_FMT_JSONL))
		return muse_err_set(e, MUSE_EUSAGE, "sketch export needs the "
		    "tsv, csv or json format");
	for (int d = 0; d < MUSE_NDIMS; d++)
		for (size_t i = 0; i < q->filter[d].n; i++)
			if (!q->filter[d].hit[i] && warn) {
				char near[400];

				muse_near_phrase(&q->filter[d].near[i], "", near,
				    sizeof(near));
				snprintf(msg, sizeof(msg), "no %s matches \"%s\" in the "
				    "store%s", muse_dim_name(d), q->filter[d].v[i], near);
				warn(ctx, msg);
			}
	for (size_t i = 0; i < q->atype.n; i++)
		if (!q->atype.hit[i] && warn) {
			snprintf(msg, sizeof(msg), "no asset_type matches \"%s\" "
			    "among the assets of the store", q->atype.v[i]);
			warn(ctx, msg);
		}
	/* Without --by the answer is one row, zeros when nothing matched. */
	if (q->nby == 0 && !q->compare && q->ngroups == 0 &&
	    group_of(q, NULL, 0) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	memset(&zg, 0, sizeof(zg));
	memset(&zero, 0, sizeof(zero));
	rows = calloc(q->ngroups + 1, sizeof(*rows));
	if (rows == NULL || muse_acc_init(&zg.acc, q->h.lgk)) {
		free(rows);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	zero.g = &zg;
	compute(q, &zero);
	for (size_t i = 0; i < q->ngroups; i++) {
		if (muse_fold_get(&q->groups[i].fold, &q->groups[i].acc)) {
			muse_acc_free(&zg.acc);
			free(rows);
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		}
		rows[i].g = &q->groups[i];
		compute(q, &rows[i]);
		multi |= q->groups[i].multi_seg;
	}
	if (multi && warn) {
		for (int i = 0; i < q->nmetrics; i++) {
			int m = q->metrics[i];

			if (!is_estimate(m) && m != MUSE_M_COUNTRIES) {
				warn(ctx, "counters left empty where several segments "
				    "are united (a user in two segments would count "
				    "twice); group by segment for them");
				break;
			}
		}
	}
	nrows = q->ngroups;
	if (q->compare) {
		if ((pairs = calloc(2 * nrows + 1, sizeof(*pairs))) == NULL)
			rc = MUSE_ENOMEM;
		else
			npairs = pair_rows(rows, nrows, pairs, &zero);
		if (q->top && q->top < npairs)
			npairs = (size_t)q->top;
	} else if (q->outliers) {
		qsort(rows, nrows, sizeof(*rows), cmp_keys_only);
	} else {
		qsort_r(rows, nrows, sizeof(*rows), cmp_rows, q);
		if (q->top && q->top < nrows)
			nrows = (size_t)q->top;
	}
	if (rc == 0 && muse_buf_put_u8(warnings, 0))
		rc = MUSE_ENOMEM;
	if (rc == 0 && chart) {
		struct row **list = pairs;
		const char **sides = NULL;
		size_t n = 2 * npairs;

		if (!q->compare) {
			n = nrows;
			if ((list = calloc(n + 1, sizeof(*list))) == NULL)
				rc = MUSE_ENOMEM;
			for (size_t i = 0; list && i < n; i++)
				list[i] = &rows[i];
		} else if ((sides = calloc(n + 1, sizeof(*sides))) == NULL) {
			rc = MUSE_ENOMEM;
		} else {
			for (size_t i = 0; i < n; i++)
				sides[i] = q->side_spec[i % 2];
		}
		if (rc == 0)
			rc = chart_rows(q, out, list, n, sides,
			    (const char *)warnings->p);
		if (list != pairs)
			free(list);
		free(sides);
	} else if (rc == 0) {
		if (q->compare)
			table_compare(q, &t, pairs, npairs);
		else if (q->outliers)
			rc = table_outliers(q, &t, rows, nrows);
		else
			rc = table_plain(q, &t, rows, nrows, e);
		if (t.oom)
			rc = MUSE_ENOMEM;
		if (rc == 0)
			write_cells(q, out, t.head, t.cells, t.ncols, t.nrows,
			    (const char *)warnings->p);
	}
	muse_acc_free(&zg.acc);
	tab_free(&t);
	free(pairs);
	free(rows);
	/* A sketch file that could not be written has said so already. */
	if (rc)
		return e->code ? e->code : muse_err_set(e, MUSE_ENOMEM,
		    "out of memory");
	if (fflush(out) != 0 || ferror(out))
		return muse_err_set(e, MUSE_EIO, "write error: %s",
		    strerror(errno ? errno : EIO));
	return 0;
}
