/*
 * gen.c - deterministic synthetic event data for demos, tests and
 * benchmarks: impressions, plays, affinities and assets as CSV (SPEC 3),
 * or straight as event streams (muse-format(5)); muse-gen(1) is its program.
 *
 * Determinism.  Everything is a pure function of the options.  Each
 * random decision draws from a xoshiro256** generator seeded (through
 * splitmix64) from the seed, a tag naming the purpose, and the user and
 * day it concerns; no draw depends on which tables are written.  So the
 * plays table written alone is byte for byte the one written beside the
 * other three, and a user's clusters are the same whether asked for by
 * the affinities table or by the simulation.  The sampling path uses only
 * + - * / on doubles (xlog and xexp below stand in for libm), so the
 * output is also the same on every IEEE-754 machine, which lets golden
 * files depend on it.
 *
 * The model.  Titles have Zipf popularity (s = 1.1, ranks shuffled) and
 * one or two genre clusters; each title has 2 to 5 assets, artwork
 * "tNNNN-aK" and trailers "tNNNN-tK", each with an appeal factor (one in
 * six converts twice as well as its siblings) and one in fifteen a
 * clickbait: many plays, mostly bounces.  A user has a home country, an
 * activity level (skewed: most users are occasional, a few are heavy), an
 * engagement level and 0 to 5 of twelve taste clusters, whose names
 * exercise CSV quoting (a comma, doubled quotes, UTF-8).  On each day an
 * active user browses in one to three sessions at a local evening-heavy
 * hour; each impression picks a title by popularity, drawn from one of the
 * user's clusters with a per-user focus, and one of its assets uniformly.
 * A play may follow after a delay that is mostly minutes, sometimes hours,
 * and in about 3% of cases more than the 24 h attribution window (so it
 * is organic); some follow at the very second of the impression, some at
 * exactly 86400 and 86401 seconds.  Users also play titles with no
 * impression (organic) and watch previews (kind "preview").
 *
 * Edge cases on purpose: two impressions of different assets of one
 * title at one second (the tie rule), plays on an impression's second,
 * durations 0, 59.999, 60, 60.0, 899.999 and 900, timestamps in every
 * form SPEC 3 accepts (fractions, offsets from -12:00 to +14:00 that move
 * the local date, 13-digit milliseconds), user ids as UUIDs, e-mail
 * addresses and UTF-8 names, and rows that arrive up to ten minutes late,
 * so files are in time order only roughly.
 *
 * Layout of the work.  Days are simulated in order.  Impressions of day D
 * and the plays they cause (on D, D+1 or D+2: delays stay under 36 h) are
 * kept in memory; when D is done its rows are complete, so they are put in
 * order with a counting sort on the second of the day and written.  Plays
 * after the last day are dropped: the data cover exactly the days asked for.
 * Memory is therefore about 48 bytes per row of one day (the rows and
 * their sorted copy): some 45 MB for 200000 users.
 *
 * Output.  Each table is formatted into a 1 MiB buffer of its own, which
 * goes to the caller's stream when full; the first write error of a table
 * is kept and stops the simulation at the end of the day, and a table not
 * wanted costs nothing but the simulation itself.
 *
 * Straight to event streams.  An event stream must be byte for byte what
 * muse-ingest makes of the CSV, so the CSV is made and ingested: each
 * table's buffers go through a pipe to a thread of its own that reads
 * them with the ingest library, exactly as muse-ingest does, and writes
 * the stream.  Parsing what was just formatted costs time, but the
 * threads run beside the simulation (all four tables take about as long
 * as ingesting the impressions alone), and there is one implementation of
 * SPEC 3 (the timestamp forms, the hashing of user ids) instead of two
 * that could drift apart.  A thread that fails keeps reading its pipe to
 * the end, so the simulation never blocks on it; and no stream gets its
 * trailer until every table has been made without error, so a failed run
 * never leaves a stream that reads as complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen.h"
#include "ingest.h"
#include "stream.h"
#include "ts.h"

/* ------------------------------------------------------------------ */
/* Random numbers                                                      */
/* ------------------------------------------------------------------ */

/* Purposes, so that streams for different things never coincide. */
enum {
	TAG_WORLD = 1,
	TAG_USER,
	TAG_USERID,
	TAG_ACTIVITY,
	TAG_ACTIVE,
	TAG_DAY,
	TAG_AFFIN,
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t hash4(uint64_t seed, uint64_t tag, uint64_t a, uint64_t b)
{
	uint64_t x = seed;
	uint64_t h = splitmix64(&x);

	x = h ^ tag;
	h = splitmix64(&x);
	x = h ^ a;
	h = splitmix64(&x);
	x = h ^ b;
	return splitmix64(&x);
}

struct rng {
	uint64_t s[4];
};

static void rng_seed(struct rng *r, uint64_t seed, uint64_t tag, uint64_t a,
	uint64_t b)
{
	uint64_t x = hash4(seed, tag, a, b);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna). */
static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* Uniform in [0, 1). */
static inline double rng_u01(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1p-53;
}

/* Uniform in [0, n), n < 2^32. */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

static inline int rng_chance(struct rng *r, double p)
{
	return rng_u01(r) < p;
}

/*
 * Natural logarithm and exponential from basic operations only: a
 * reduction to [1/sqrt2, sqrt2) and the atanh series, and a reduction to
 * |r| <= ln2/2 and the Taylor series.  Accurate to a few ulp, which is
 * plenty here; what matters is that they give the same bits everywhere.
 */
#define LN2 0.69314718055994530942

static double xlog(double x)
{
	double z, z2, t, sum = 0;
	int e = 0;

	while (x >= 1.4142135623730951) {
		x *= 0.5;
		e++;
	}
	while (x < 0.7071067811865476) {
		x *= 2;
		e--;
	}
	z = (x - 1) / (x + 1);
	z2 = z * z;
	t = z;
	for (int k = 1; k < 40; k += 2) {
		sum += t / k;
		t *= z2;
	}
	return 2 * sum + e * LN2;
}

static double xexp(double y)
{
	int k = (int)(y / LN2 + (y >= 0 ? 0.5 : -0.5));
	double r = y - k * LN2, t = 1, sum = 1;

	for (int i = 1; i < 22; i++) {
		t *= r / i;
		sum += t;
	}
	for (; k > 0; k--)
		sum *= 2;
	for (; k < 0; k++)
		sum *= 0.5;
	return sum;
}

/* Log-uniform in [lo, hi), given ln(hi / lo). */
static double rng_logu(struct rng *r, double lo, double ln_ratio)
{
	return lo * xexp(rng_u01(r) * ln_ratio);
}

/* ------------------------------------------------------------------ */
/* The world: clusters, countries, titles and assets                   */
/* ------------------------------------------------------------------ */

#define NCLUSTERS 12
#define MAX_USER_CLUSTERS 5

static const char *const cluster_name[NCLUSTERS] = {
	"Sci-Fi & Fantasy",
	"Dark Comedies",
	"Feel-Good Romance",
	"Mind-Bending Thrillers",
	"True Crime, Docs",
	"Anime",
	"Family Night",
	"Critically Acclaimed",
	"Korean Dramas",
	"Stand-Up \"Specials\"",
	"Action & Adventure",
	u8"Cin\u00e9ma Fran\u00e7ais",
};
/* How often each cluster is a user's taste or a title's genre. */
static const unsigned cluster_weight[NCLUSTERS] = {
	12, 8, 9, 8, 9, 7, 10, 11, 6, 5, 12, 3,
};
#define CLUSTER_WEIGHT_SUM 100

struct country {
	char code[3];
	unsigned weight;     /* out of 100 */
	int utc_off_min;     /* when the evening happens */
};
static const struct country countries[] = {
	{ "US", 34, -300 }, { "BR", 10, -180 }, { "IN", 10, 330 },
	{ "GB", 9, 0 }, { "DE", 7, 60 }, { "MX", 7, -360 }, { "FR", 6, 60 },
	{ "JP", 6, 540 }, { "CA", 5, -300 }, { "KR", 4, 540 }, { "ES", 2, 60 },
};
#define NCOUNTRIES (sizeof(countries) / sizeof(countries[0]))

/* Share of sessions starting in each local hour. */
static const unsigned hour_weight[24] = {
	3, 2, 1, 1, 1, 1, 2, 3, 4, 4, 4, 5, 6, 6, 5, 5, 6, 7, 9, 11, 12, 11, 8, 5,
};
#define HOUR_WEIGHT_SUM 122

/* Offsets used to write ISO 8601 timestamps with an offset, in minutes. */
static const int ts_offsets[] = {
	120, -300, 330, 540, -180, 60, -420, 0, -570, 345, 840, -720,
};
#define NOFFSETS (sizeof(ts_offsets) / sizeof(ts_offsets[0]))

struct title {
	char id[6];          /* "t0042" */
	uint16_t genres;     /* bit set of clusters */
	uint32_t asset0;     /* first of its assets in the asset table */
	uint32_t nassets;
};

struct asset {
	char id[10];         /* "t0042-a1" */
	uint32_t title;
	uint8_t trailer;
	uint8_t clickbait;
	double appeal;       /* multiplies the chance of a play */
};

static unsigned pick_weighted(struct rng *r, const unsigned *w, unsigned n,
	unsigned sum)
{
	unsigned x = rng_below(r, sum);

	for (unsigned i = 0; i < n; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

static unsigned pick_country(struct rng *r)
{
	unsigned x = rng_below(r, 100);

	for (unsigned i = 0; i < NCOUNTRIES; i++) {
		if (x < countries[i].weight)
			return i;
		x -= countries[i].weight;
	}
	return 0;
}

/*
 * Index of the first cdf entry above u * total.  Entries of weight zero
 * never win, including when rounding puts the target on the total.
 */
static uint32_t cdf_pick(const double *cdf, uint32_t n, double u)
{
	double x = u * cdf[n - 1];
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (cdf[mid] > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == n) {
		lo = n - 1;
		while (lo > 0 && cdf[lo - 1] == cdf[lo])
			lo--;
	}
	return lo;
}

/* ------------------------------------------------------------------ */
/* Users                                                               */
/* ------------------------------------------------------------------ */

struct user {
	uint32_t idx;
	uint8_t country;
	uint8_t ncl;
	uint8_t cl[MAX_USER_CLUSTERS];
	uint16_t mask;
	double engagement;   /* multiplies the chance of a play */
	double focus;        /* chance that a pick follows the user's tastes */
};

/*
 * Most users are occasional, a few are heavy.  Kept apart from the other
 * traits so that a day can be skipped without building the user.
 */
static double user_activity(uint64_t seed, uint32_t idx)
{
	double a = (double)(hash4(seed, TAG_ACTIVITY, idx, 0) >> 11) * 0x1p-53;

	return 0.04 + 0.9 * a * a;
}

/* Users are recomputed where needed rather than stored: memory stays flat. */
static void user_make(uint64_t seed, uint32_t idx, struct user *u)
{
	static const unsigned ncl_weight[MAX_USER_CLUSTERS + 1] = {
		15, 25, 25, 17, 11, 7,
	};
	struct rng r;

	rng_seed(&r, seed, TAG_USER, idx, 0);
	memset(u, 0, sizeof(*u));
	u->idx = idx;
	u->country = (uint8_t)pick_country(&r);
	u->engagement = 0.5 + rng_u01(&r);
	u->focus = 0.3 + 0.4 * rng_u01(&r);
	u->ncl = (uint8_t)pick_weighted(&r, ncl_weight, MAX_USER_CLUSTERS + 1,
	    100);
	for (unsigned i = 0; i < u->ncl; i++) {
		unsigned c;

		do
			c = pick_weighted(&r, cluster_weight, NCLUSTERS,
			    CLUSTER_WEIGHT_SUM);
		while (u->mask & (1u << c));
		u->cl[i] = (uint8_t)c;
		u->mask |= (uint16_t)(1u << c);
	}
}

/* ------------------------------------------------------------------ */
/* Rows in memory                                                      */
/* ------------------------------------------------------------------ */

/* Timestamp forms (SPEC 3). */
enum {
	TS_ISO,              /* 2025-07-01T13:45:10Z */
	TS_ISO_F1,           /* 2025-07-01T13:45:10.7Z (aux = tenths) */
	TS_ISO_F3,           /* 2025-07-01T13:45:10.734Z (aux = ms) */
	TS_ISO_OFF,          /* 2025-07-01T15:45:10+02:00 (aux = offset index) */
	TS_SPACE,            /* 2025-07-01 13:45:10 */
	TS_EPOCH,            /* 1751377510 */
	TS_EPOCH_MS,         /* 1751377510734 (aux = ms) */
};

#define KIND_PREVIEW 4   /* in ev.info for plays, above the decimals */
#define MAX_LATE 600     /* how late (s) a row may arrive in the file */
#define NKEYS (86400 + MAX_LATE)

struct ev {
	uint32_t key;        /* place in the file: second of day plus lateness */
	uint32_t sec;        /* second of the day, UTC */
	uint32_t user;
	uint32_t what;       /* asset (impressions) or title (plays) index */
	uint32_t dur_ms;     /* plays: duration in milliseconds */
	uint16_t aux;        /* per timestamp form */
	uint8_t tsfmt;
	uint8_t info;        /* impressions: country; plays: kind | decimals */
};

struct evvec {
	struct ev *v;
	size_t n, cap;
};

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

/* Tables in the order of enum muse_table: TBL_X is MUSE_TABLE_X - 1. */
enum { TBL_IMPRESSIONS, TBL_PLAYS, TBL_AFFINITIES, TBL_ASSETS, NTABLES };
static const char *const table_header[NTABLES] = {
	"ts,user_id,asset_id,title_id,country\n",
	"ts,user_id,title_id,duration_s,kind\n",
	"user_id,cluster\n",
	"asset_id,title_id,asset_type\n",
};

#define SINK_CAP (1u << 20)
#define ROW_MAX 512          /* more than any row this program writes */

/*
 * A handoff: full buffers on their way from the simulation to a feeder
 * thread (events only, see "Straight to event streams").  Buffers go round
 * between the sink, the queue of full ones and the pool of free ones; at
 * most HANDOFF_BUFS of them exist, so a slow reader stops the simulation
 * only after that many MiB.
 */
#define HANDOFF_BUFS 32

struct handoff {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *full[HANDOFF_BUFS];    /* a ring, oldest at head */
	size_t len[HANDOFF_BUFS];
	unsigned head, nfull;
	char *spare[HANDOFF_BUFS];   /* free buffers */
	unsigned nspare;
	unsigned nbufs;              /* allocated, the sink's own included */
	int closed;                  /* no more buffers will come */
};

/* Queues buf (n bytes) and returns a free buffer to go on with. */
static char *handoff_swap(struct handoff *h, char *buf, size_t n)
{
	char *next = NULL;

	pthread_mutex_lock(&h->mu);
	h->full[(h->head + h->nfull) % HANDOFF_BUFS] = buf;
	h->len[(h->head + h->nfull) % HANDOFF_BUFS] = n;
	h->nfull++;
	pthread_cond_broadcast(&h->cv);
	if (h->nspare == 0 && h->nbufs < HANDOFF_BUFS) {
		/* Short of memory, the buffers there are go round. */
		if ((next = malloc(SINK_CAP)) != NULL)
			h->nbufs++;
	}
	while (next == NULL && h->nspare == 0)
		pthread_cond_wait(&h->cv, &h->mu);
	if (next == NULL)
		next = h->spare[--h->nspare];
	pthread_mutex_unlock(&h->mu);
	return next;
}

/* A table being written: a large buffer in front of a stream or handoff. */
struct sink {
	int wanted;
	FILE *fp;            /* where the CSV goes, or */
	struct handoff *h;   /* to whom it goes */
	const char *name;    /* for errors; NULL: standard output */
	char *buf;
	size_t len;
	uint64_t bytes;
	uint64_t rows;
	int err;             /* errno of the first failed write */
};

static void sink_flush(struct sink *s)
{
	if (s->len > 0 && s->err == 0) {
		if (s->h != NULL) {
			s->buf = handoff_swap(s->h, s->buf, s->len);
		} else {
			errno = 0;
			if (fwrite(s->buf, 1, s->len, s->fp) != s->len)
				s->err = errno ? errno : EIO;
		}
	}
	s->bytes += s->len;
	s->len = 0;
}

static inline char *sink_room(struct sink *s)
{
	if (s->len + ROW_MAX > SINK_CAP)
		sink_flush(s);
	return s->buf + s->len;
}

static inline void sink_done(struct sink *s, char *end)
{
	s->len = (size_t)(end - s->buf);
	s->rows++;
}

static inline char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

static inline char *put_2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* A CSV field, quoted when it holds a comma, a quote or a line break. */
static char *put_csv(char *p, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL)
		return put_str(p, s);
	*p++ = '"';
	for (; *s; s++) {
		if (*s == '"')
			*p++ = '"';
		*p++ = *s;
	}
	*p++ = '"';
	return p;
}

/* ------------------------------------------------------------------ */
/* The generator                                                       */
/* ------------------------------------------------------------------ */

struct muse_gen {
	uint64_t seed;
	uint32_t nusers, ndays, ntitles, nassets;
	int64_t start;               /* first day, days since the epoch */
	uint64_t uid_key;            /* picks the form of each user id */
	struct title *titles;
	struct asset *assets;
	double *cdf;                 /* [0]: all titles; [1 + c]: cluster c */
	double ctotal[NCLUSTERS];
	char (*dates)[11];           /* "YYYY-MM-DD" of days -1 .. ndays */
	struct evvec imps;
	struct evvec plays[3];       /* ring: plays of days d, d+1, d+2 */
	struct evvec sorted;
	uint32_t *counts;
	struct sink sink[NTABLES];
	uint32_t days_done;
	int oom;
};

static double zipf_weight(uint32_t rank)
{
	return xexp(-1.1 * xlog((double)rank));
}

static int world_init(muse_gen *g)
{
	struct rng r;
	uint32_t *rank;
	uint32_t a = 0;
	uint32_t t, n = g->ntitles;

	rng_seed(&r, g->seed, TAG_WORLD, 0, 0);
	g->uid_key = hash4(g->seed, TAG_USERID, 0, 0);
	g->titles = calloc(n, sizeof(*g->titles));
	g->assets = calloc((size_t)n * 5, sizeof(*g->assets));
	g->cdf = calloc((size_t)n * (NCLUSTERS + 1), sizeof(*g->cdf));
	g->dates = calloc((size_t)g->ndays + 2, sizeof(*g->dates));
	g->counts = calloc(NKEYS + 1, sizeof(*g->counts));
	rank = calloc(n, sizeof(*rank));
	if (!g->titles || !g->assets || !g->cdf || !g->dates || !g->counts ||
	    !rank) {
		free(rank);
		return -1;
	}

	/* Popularity ranks are shuffled so that t0001 is not always the hit. */
	for (t = 0; t < n; t++)
		rank[t] = t + 1;
	for (t = n; t > 1; t--) {
		uint32_t j = rng_below(&r, t), x = rank[t - 1];

		rank[t - 1] = rank[j];
		rank[j] = x;
	}

	for (t = 0; t < n; t++) {
		struct title *ti = &g->titles[t];
		unsigned c1, c2, ntrailers, nart;
		double pop = zipf_weight(rank[t]);

		ti->id[0] = 't';
		for (unsigned i = 4, v = t + 1; i > 0; i--, v /= 10)
			ti->id[i] = (char)('0' + v % 10);
		c1 = pick_weighted(&r, cluster_weight, NCLUSTERS,
		    CLUSTER_WEIGHT_SUM);
		ti->genres = (uint16_t)(1u << c1);
		if (rng_chance(&r, 0.4)) {
			c2 = pick_weighted(&r, cluster_weight, NCLUSTERS,
			    CLUSTER_WEIGHT_SUM);
			ti->genres |= (uint16_t)(1u << c2);
		}
		ti->asset0 = a;
		ti->nassets = 2 + rng_below(&r, 4);
		ntrailers = rng_below(&r, ti->nassets < 3 ? ti->nassets : 3);
		nart = ti->nassets - ntrailers;
		for (unsigned k = 0; k < ti->nassets; k++, a++) {
			struct asset *as = &g->assets[a];
			int tr = k >= nart;

			memcpy(as->id, ti->id, 5);
			as->id[5] = '-';
			as->id[6] = tr ? 't' : 'a';
			as->id[7] = (char)('1' + (tr ? k - nart : k));
			as->title = t;
			as->trailer = (uint8_t)tr;
			as->appeal = 0.6 + 0.8 * rng_u01(&r);
			if (rng_chance(&r, 1.0 / 6))
				as->appeal *= 2;
			as->clickbait = (uint8_t)rng_chance(&r, 1.0 / 15);
		}

		/* Cumulative weights: overall, and within each cluster. */
		g->cdf[t] = (t ? g->cdf[t - 1] : 0) + pop;
		for (unsigned c = 0; c < NCLUSTERS; c++) {
			double *cdf = g->cdf + (size_t)(1 + c) * n;
			double w = (ti->genres & (1u << c)) ? pop : 0;

			cdf[t] = (t ? cdf[t - 1] : 0) + w;
		}
	}
	g->nassets = a;
	for (unsigned c = 0; c < NCLUSTERS; c++)
		g->ctotal[c] = g->cdf[(size_t)(2 + c) * n - 1];
	free(rank);

	for (uint32_t d = 0; d < g->ndays + 2; d++)
		muse_day_format(g->start + d - 1, g->dates[d]);
	return 0;
}

void muse_gen_free(muse_gen *g)
{
	if (g == NULL)
		return;
	free(g->titles);
	free(g->assets);
	free(g->cdf);
	free(g->dates);
	free(g->counts);
	free(g->imps.v);
	for (int i = 0; i < 3; i++)
		free(g->plays[i].v);
	free(g->sorted.v);
	for (int i = 0; i < NTABLES; i++)
		free(g->sink[i].buf);
	free(g);
}

muse_gen *muse_gen_new(const struct muse_gen_opts *o, struct muse_err *e)
{
	/*
	 * Every timestamp form must stay within what SPEC 3 accepts,
	 * including local dates a day either side of the range.
	 */
	int64_t last_ok = muse_days_from_civil(9999, 12, 30);
	muse_gen *g;

	if (o->users < 1 || o->users > MUSE_GEN_MAX_USERS) {
		muse_err_set(e, MUSE_EUSAGE, "users %lu: expected 1 to %lu",
		    (unsigned long)o->users, (unsigned long)MUSE_GEN_MAX_USERS);
		return NULL;
	}
	if (o->days < 1 || o->days > MUSE_GEN_MAX_DAYS) {
		muse_err_set(e, MUSE_EUSAGE, "days %lu: expected 1 to %lu",
		    (unsigned long)o->days, (unsigned long)MUSE_GEN_MAX_DAYS);
		return NULL;
	}
	if (o->titles < 1 || o->titles > MUSE_GEN_MAX_TITLES) {
		muse_err_set(e, MUSE_EUSAGE, "titles %lu: expected 1 to %lu",
		    (unsigned long)o->titles,
		    (unsigned long)MUSE_GEN_MAX_TITLES);
		return NULL;
	}
	if (o->start < 1 || o->start > last_ok - (int64_t)o->days + 1) {
		muse_err_set(e, MUSE_EUSAGE, "days from day %lld on go outside "
		    "1970-01-02 to 9999-12-30", (long long)o->start);
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	g->seed = o->seed;
	g->nusers = o->users;
	g->ndays = o->days;
	g->ntitles = o->titles;
	g->start = o->start;
	if (world_init(g) != 0) {
		muse_gen_free(g);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	return g;
}

static struct ev *ev_push(muse_gen *g, struct evvec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 4096;
		struct ev *nv = realloc(v->v, cap * sizeof(*nv));

		if (nv == NULL) {
			g->oom = 1;
			return NULL;
		}
		v->v = nv;
		v->cap = cap;
	}
	return &v->v[v->n++];
}

/* A user id; standard ones are "u" and 7 digits, a few are not. */
static char *put_user(const muse_gen *g, char *p, uint32_t idx)
{
	static const char *const names[] = {
		u8"zo\u00eb", u8"jos\u00e9", u8"s\u00f8ren", u8"\u0142ukasz",
		u8"\u7f8e\u54b2",
	};
	static const char hex[] = "0123456789abcdef";
	uint64_t x = g->uid_key ^ idx, h = splitmix64(&x);
	unsigned kind = (unsigned)(h % 1000);

	if (kind < 20) {
		/* A version 4 UUID made of the hash. */
		uint64_t y = h, hi = splitmix64(&y), lo = splitmix64(&y);

		hi = (hi & ~0xf000ULL) | 0x4000ULL;
		lo = (lo & ~(3ULL << 62)) | 2ULL << 62;
		for (int i = 0; i < 32; i++) {
			uint64_t w = i < 16 ? hi : lo;

			if (i == 8 || i == 12 || i == 16 || i == 20)
				*p++ = '-';
			*p++ = hex[(w >> (60 - 4 * (i % 16))) & 15];
		}
		return p;
	}
	if (kind < 30) {
		p = put_str(p, kind & 1 ? "viewer." : "fan+muse.");
		p = put_u64(p, (uint64_t)idx + 1);
		return put_str(p, "@example.com");
	}
	if (kind < 33) {
		p = put_str(p, names[(h >> 32) % 5]);
		*p++ = '.';
		return put_u64(p, (uint64_t)idx + 1);
	}
	*p++ = 'u';
	if (idx + 1 < 10000000) {
		uint32_t v = idx + 1;

		for (int i = 6; i >= 0; i--) {
			p[i] = (char)('0' + v % 10);
			v /= 10;
		}
		return p + 7;
	}
	return put_u64(p, (uint64_t)idx + 1);
}

static char *put_datetime(char *p, const char *date, uint32_t sec, char sep)
{
	memcpy(p, date, 10);
	p[10] = sep;
	p = put_2(p + 11, sec / 3600);
	*p++ = ':';
	p = put_2(p, sec / 60 % 60);
	*p++ = ':';
	return put_2(p, sec % 60);
}

/* The timestamp of a row of day d (0-based) in its chosen form. */
static char *put_ts(const muse_gen *g, char *p, uint32_t d,
	const struct ev *e)
{
	uint64_t ts = (uint64_t)(g->start + d) * 86400 + e->sec;
	const char *date = g->dates[d + 1];

	switch (e->tsfmt) {
	case TS_ISO_F1:
		p = put_datetime(p, date, e->sec, 'T');
		*p++ = '.';
		*p++ = (char)('0' + e->aux);
		*p++ = 'Z';
		return p;
	case TS_ISO_F3:
		p = put_datetime(p, date, e->sec, 'T');
		*p++ = '.';
		*p++ = (char)('0' + e->aux / 100);
		p = put_2(p, e->aux % 100);
		*p++ = 'Z';
		return p;
	case TS_ISO_OFF: {
		int off = ts_offsets[e->aux];
		int64_t local = (int64_t)e->sec + off * 60;
		int64_t ld = local < 0 ? -1 : local / 86400;
		unsigned a = (unsigned)(off < 0 ? -off : off);

		p = put_datetime(p, g->dates[d + 1 + ld],
		    (uint32_t)(local - ld * 86400), 'T');
		*p++ = off < 0 ? '-' : '+';
		p = put_2(p, a / 60);
		*p++ = ':';
		return put_2(p, a % 60);
	}
	case TS_SPACE:
		return put_datetime(p, date, e->sec, ' ');
	case TS_EPOCH:
		return put_u64(p, ts);
	case TS_EPOCH_MS:
		/* Only where it has 13 digits, else it would read as seconds. */
		if (ts >= 1000000000ULL && ts < 10000000000ULL)
			return put_u64(p, ts * 1000 + e->aux);
		return put_u64(p, ts);
	default:
		p = put_datetime(p, date, e->sec, 'T');
		*p++ = 'Z';
		return p;
	}
}

/* Puts rows in order of key (stable) into g->sorted. */
static int sort_rows(muse_gen *g, const struct evvec *v)
{
	uint32_t *cnt = g->counts;

	if (g->sorted.cap < v->n) {
		struct ev *nv = realloc(g->sorted.v, v->n * sizeof(*nv));

		if (nv == NULL)
			return -1;
		g->sorted.v = nv;
		g->sorted.cap = v->n;
	}
	memset(cnt, 0, (NKEYS + 1) * sizeof(*cnt));
	for (size_t i = 0; i < v->n; i++)
		cnt[v->v[i].key + 1]++;
	for (size_t k = 1; k <= NKEYS; k++)
		cnt[k] += cnt[k - 1];
	for (size_t i = 0; i < v->n; i++)
		g->sorted.v[cnt[v->v[i].key]++] = v->v[i];
	g->sorted.n = v->n;
	return 0;
}

static void emit_impressions(muse_gen *g, uint32_t d)
{
	struct sink *s = &g->sink[TBL_IMPRESSIONS];

	for (size_t i = 0; i < g->sorted.n; i++) {
		const struct ev *e = &g->sorted.v[i];
		const struct asset *a = &g->assets[e->what];
		char *p = sink_room(s);

		p = put_ts(g, p, d, e);
		*p++ = ',';
		p = put_user(g, p, e->user);
		*p++ = ',';
		memcpy(p, a->id, 8);
		p[8] = ',';
		memcpy(p + 9, g->titles[a->title].id, 5);
		p[14] = ',';
		memcpy(p + 15, countries[e->info].code, 2);
		p[17] = '\n';
		sink_done(s, p + 18);
	}
}

static void emit_plays(muse_gen *g, uint32_t d)
{
	struct sink *s = &g->sink[TBL_PLAYS];

	for (size_t i = 0; i < g->sorted.n; i++) {
		const struct ev *e = &g->sorted.v[i];
		unsigned ndec = e->info & 3;
		char *p = sink_room(s);

		p = put_ts(g, p, d, e);
		*p++ = ',';
		p = put_user(g, p, e->user);
		*p++ = ',';
		memcpy(p, g->titles[e->what].id, 5);
		p[5] = ',';
		p = put_u64(p + 6, e->dur_ms / 1000);
		if (ndec > 0) {
			unsigned ms = e->dur_ms % 1000;

			*p++ = '.';
			*p++ = (char)('0' + ms / 100);
			if (ndec > 1)
				*p++ = (char)('0' + ms / 10 % 10);
			if (ndec > 2)
				*p++ = (char)('0' + ms % 10);
		}
		p = put_str(p, e->info & KIND_PREVIEW ? ",preview\n" : ",play\n");
		sink_done(s, p);
	}
}

/* ------------------------------------------------------------------ */
/* Simulation                                                          */
/* ------------------------------------------------------------------ */

/* How late a row lands in the file, in seconds: mostly not at all. */
static uint32_t lateness(struct rng *r)
{
	return rng_chance(r, 0.03) ? 1 + rng_below(r, MAX_LATE - 1) : 0;
}

static void push_impression(muse_gen *g, struct rng *r, uint32_t sec,
	uint32_t user, uint32_t asset, unsigned country)
{
	struct ev *e = ev_push(g, &g->imps);
	uint32_t x = rng_below(r, 100);

	if (e == NULL)
		return;
	e->sec = sec;
	e->key = sec + lateness(r);
	e->user = user;
	e->what = asset;
	e->dur_ms = 0;
	e->info = (uint8_t)country;
	e->aux = 0;
	if (x < 94) {
		e->tsfmt = TS_ISO;
	} else if (x < 95) {
		e->tsfmt = TS_ISO_F1;
		e->aux = (uint16_t)rng_below(r, 10);
	} else if (x < 97) {
		e->tsfmt = TS_ISO_F3;
		e->aux = (uint16_t)rng_below(r, 1000);
	} else {
		e->tsfmt = TS_ISO_OFF;
		e->aux = (uint16_t)rng_below(r, NOFFSETS);
	}
}

/*
 * A play or preview at sec seconds after the start of day d (possibly on
 * a later day); dropped when past the last day.
 */
static void push_play(muse_gen *g, struct rng *r, uint32_t d, uint64_t sec,
	uint32_t user, uint32_t title, uint32_t dur_ms, unsigned ndec,
	int preview)
{
	uint64_t day = d + sec / 86400;
	uint32_t x = rng_below(r, 100), late = lateness(r);
	struct ev *e;

	if (day >= g->ndays)
		return;
	if ((e = ev_push(g, &g->plays[day % 3])) == NULL)
		return;
	e->sec = (uint32_t)(sec % 86400);
	e->key = e->sec + late;
	e->user = user;
	e->what = title;
	e->dur_ms = dur_ms;
	e->info = (uint8_t)(ndec | (preview ? KIND_PREVIEW : 0));
	e->aux = 0;
	if (x < 30) {
		e->tsfmt = TS_EPOCH;
	} else if (x < 50) {
		e->tsfmt = TS_ISO;
	} else if (x < 55) {
		e->tsfmt = TS_ISO_F3;
		e->aux = (uint16_t)rng_below(r, 1000);
	} else if (x < 70) {
		e->tsfmt = TS_ISO_OFF;
		e->aux = (uint16_t)rng_below(r, NOFFSETS);
	} else if (x < 85) {
		e->tsfmt = TS_SPACE;
	} else {
		e->tsfmt = TS_EPOCH_MS;
		e->aux = (uint16_t)rng_below(r, 1000);
	}
}

/* Decimals a duration is written with: 0 to 3. */
static unsigned pick_decimals(struct rng *r)
{
	uint32_t x = rng_below(r, 100);

	return x < 45 ? 0 : x < 75 ? 1 : x < 90 ? 2 : 3;
}

/* Cuts ms down to what ndec decimals can say (never across a threshold). */
static uint32_t quantize(uint32_t ms, unsigned ndec)
{
	static const uint32_t step[4] = { 1000, 100, 10, 1 };

	return ms - ms % step[ndec];
}

/*
 * A play's duration.  Bounces (< 60 s), middling watches and authentic
 * ones (>= 900 s) in proportions set by the match between user and title,
 * with clickbait mostly bouncing; now and then a value on a threshold.
 */
static void play_duration(struct rng *r, int clickbait, int match,
	uint32_t *ms, unsigned *ndec)
{
	static const struct { uint32_t ms; unsigned ndec; } edge[] = {
		{ 0, 0 }, { 59999, 3 }, { 60000, 0 }, { 60000, 1 },
		{ 899999, 3 }, { 900000, 0 },
	};
	double x = rng_u01(r), bounce, mid;

	if (rng_chance(r, 0.005)) {
		unsigned i = rng_below(r, sizeof(edge) / sizeof(edge[0]));

		*ms = edge[i].ms;
		*ndec = edge[i].ndec;
		return;
	}
	if (clickbait) {
		bounce = 0.70;
		mid = 0.25;
	} else if (match) {
		bounce = 0.18;
		mid = 0.30;
	} else {
		bounce = 0.38;
		mid = 0.37;
	}
	*ndec = pick_decimals(r);
	if (x < bounce)
		*ms = 1000 + rng_below(r, 59000);
	else if (x < bounce + mid)
		*ms = (uint32_t)(rng_logu(r, 60, 2.70805020110221) * 1000);
	else
		*ms = (uint32_t)(rng_logu(r, 900, 2.4849066497880004) * 1000);
	*ms = quantize(*ms, *ndec);
}

/*
 * Seconds from an impression to the play it causes: the same second, a
 * few minutes, a few hours, the window's edge (86400 s is in, 86401 s is
 * out) or beyond it.
 */
static uint32_t play_delay(struct rng *r)
{
	double x = rng_u01(r);

	if (x < 0.020)
		return 0;
	if (x < 0.023)
		return 86400;
	if (x < 0.026)
		return 86401;
	if (x < 0.056)
		return 86402 + rng_below(r, 43200);
	if (x < 0.600)
		return (uint32_t)rng_logu(r, 5, 4.787491742782046);
	if (x < 0.880)
		return (uint32_t)rng_logu(r, 600, 3.1780538303479458);
	return (uint32_t)rng_logu(r, 14400, 1.7917478950870007);
}

static uint32_t pick_title(const muse_gen *g, const struct user *u,
	struct rng *r)
{
	const double *cdf = g->cdf;

	if (u->ncl > 0 && rng_chance(r, u->focus)) {
		unsigned c = u->cl[rng_below(r, u->ncl)];

		if (g->ctotal[c] > 0)
			cdf = g->cdf + (size_t)(1 + c) * g->ntitles;
	}
	return cdf_pick(cdf, g->ntitles, rng_u01(r));
}

/* One impression at sec of day d, and what follows it. */
static void impression(muse_gen *g, struct rng *r, const struct user *u,
	uint32_t d, uint32_t sec, unsigned country)
{
	uint32_t t = pick_title(g, u, r);
	const struct title *ti = &g->titles[t];
	uint32_t k = rng_below(r, ti->nassets);
	const struct asset *a = &g->assets[ti->asset0 + k];
	int match = (ti->genres & u->mask) != 0;
	double p;

	push_impression(g, r, sec, u->idx, ti->asset0 + k, country);

	/* Two assets of one title shown at one second: the tie rule. */
	if (ti->nassets > 1 && rng_chance(r, 0.01)) {
		uint32_t k2 = (k + 1 + rng_below(r, ti->nassets - 1)) %
		    ti->nassets;

		push_impression(g, r, sec, u->idx, ti->asset0 + k2, country);
	}

	/* Previews start as the artwork is hovered: short, never counted. */
	if (rng_chance(r, 0.05)) {
		unsigned ndec = pick_decimals(r);
		uint32_t ms = quantize(3000 + rng_below(r, 27000), ndec);

		push_play(g, r, d, sec + rng_below(r, 4), u->idx, t, ms, ndec,
		    1);
	}

	p = 0.085 * a->appeal * u->engagement * (match ? 2.2 : 1.0) *
	    (a->clickbait ? 2.5 : 1.0);
	if (rng_chance(r, p > 0.95 ? 0.95 : p)) {
		uint32_t delay = play_delay(r), ms;
		unsigned ndec;

		play_duration(r, a->clickbait, match, &ms, &ndec);
		push_play(g, r, d, (uint64_t)sec + delay, u->idx, t, ms, ndec,
		    0);
	}
}

/* A local session start as a UTC second of the day. */
static uint32_t session_start(struct rng *r, const struct user *u)
{
	unsigned h = pick_weighted(r, hour_weight, 24, HOUR_WEIGHT_SUM);
	int64_t local = (int64_t)h * 3600 + rng_below(r, 3600);
	int64_t utc = local - (int64_t)countries[u->country].utc_off_min * 60;

	return (uint32_t)((utc % 86400 + 86400) % 86400);
}

#define MAX_SESSION 32

/* Whether a user is active on day d (0-based); weekends are busier. */
static int user_active(const muse_gen *g, uint32_t idx, uint32_t d,
	int weekend)
{
	double act = user_activity(g->seed, idx) * (weekend ? 1.25 : 1.0);
	uint64_t h = hash4(g->seed, TAG_ACTIVE, idx, d);

	return (double)(h >> 11) * 0x1p-53 < (act > 0.97 ? 0.97 : act);
}

/* The impressions and plays of an active user on day d. */
static void user_day(muse_gen *g, const struct user *u, uint32_t d)
{
	struct rng r;
	unsigned country = u->country, nsess;

	rng_seed(&r, g->seed, TAG_DAY, u->idx, d);
	/* Travellers see their impressions in another country that day. */
	if (rng_chance(&r, 0.02))
		country = pick_country(&r);
	nsess = 1 + rng_chance(&r, 0.3) + rng_chance(&r, 0.1);
	for (unsigned s = 0; s < nsess; s++) {
		uint32_t gap[MAX_SESSION], span = 0, sec;
		unsigned n = 1 + rng_below(&r, 5);

		if (rng_chance(&r, 0.35))
			n += rng_below(&r, 14);
		for (unsigned i = 1; i < n; i++) {
			gap[i] = rng_chance(&r, 0.85) ? 1 + rng_below(&r, 45) :
			    45 + rng_below(&r, 600);
			span += gap[i];
		}
		sec = session_start(&r, u);
		if (sec + span > 86399)
			sec = 86399 - span;
		for (unsigned i = 0; i < n; i++) {
			if (i > 0)
				sec += gap[i];
			impression(g, &r, u, d, sec, country);
		}
	}

	/* Plays found without an impression: search, continue watching. */
	for (int k = (int)rng_chance(&r, 0.22) + rng_chance(&r, 0.06); k > 0;
	    k--) {
		uint32_t t = pick_title(g, u, &r), ms;
		uint32_t sec = session_start(&r, u);
		unsigned ndec;

		play_duration(&r, 0, (g->titles[t].genres & u->mask) != 0, &ms,
		    &ndec);
		push_play(g, &r, d, sec, u->idx, t, ms, ndec, 0);
	}
}

/* ------------------------------------------------------------------ */
/* Static tables                                                       */
/* ------------------------------------------------------------------ */

static void emit_assets(muse_gen *g)
{
	struct sink *s = &g->sink[TBL_ASSETS];

	for (uint32_t i = 0; i < g->nassets; i++) {
		const struct asset *a = &g->assets[i];
		char *p = sink_room(s);

		p = put_str(p, a->id);
		*p++ = ',';
		p = put_str(p, g->titles[a->title].id);
		p = put_str(p, a->trailer ? ",trailer\n" : ",artwork\n");
		sink_done(s, p);
	}
}

/*
 * One row per membership, except that now and then a user's next cluster
 * shares the field with the previous one, separated by "|" (SPEC 3).
 */
static void emit_affinities(muse_gen *g)
{
	struct sink *s = &g->sink[TBL_AFFINITIES];
	struct user u;
	struct rng r;

	for (uint32_t idx = 0; idx < g->nusers; idx++) {
		char field[MAX_USER_CLUSTERS * 32], *f = field;

		user_make(g->seed, idx, &u);
		if (u.ncl == 0)
			continue;
		rng_seed(&r, g->seed, TAG_AFFIN, idx, 0);
		for (unsigned i = 0; i < u.ncl; i++) {
			f = put_str(f, cluster_name[u.cl[i]]);
			if (i + 1 < u.ncl && rng_chance(&r, 0.12)) {
				*f++ = '|';
				continue;
			}
			*f = '\0';
			char *p = sink_room(s);

			p = put_user(g, p, idx);
			*p++ = ',';
			p = put_csv(p, field);
			*p++ = '\n';
			sink_done(s, p);
			f = field;
		}
	}
}


/* ------------------------------------------------------------------ */
/* Driver                                                              */
/* ------------------------------------------------------------------ */

void muse_gen_totals(const muse_gen *g, struct muse_gen_progress *p)
{
	memset(p, 0, sizeof(*p));
	p->day = g->days_done;
	p->days = g->ndays;
	for (int i = 0; i < NTABLES; i++) {
		p->bytes += g->sink[i].bytes + g->sink[i].len;
		p->rows += g->sink[i].rows;
	}
}

static int sinks_failed(const muse_gen *g)
{
	for (int i = 0; i < NTABLES; i++)
		if (g->sink[i].wanted && g->sink[i].err)
			return 1;
	return 0;
}

/* The first table whose stream failed, in table order, as an error. */
static int sink_error(const muse_gen *g, struct muse_err *e)
{
	for (int i = 0; i < NTABLES; i++) {
		const struct sink *s = &g->sink[i];

		if (!s->wanted || s->err == 0)
			continue;
		if (s->name != NULL)
			muse_err_where(e, s->name, 0, UINT64_MAX);
		muse_err_set(e, MUSE_EIO, "write error: %s", strerror(s->err));
		if (e != NULL)
			e->sys_errno = s->err;
		return MUSE_EIO;
	}
	return 0;
}

/*
 * Starts every wanted table afresh: table i goes to h[i] when there is
 * one, else to out[i].fp.  0 or MUSE_ENOMEM.
 */
static int sinks_open(muse_gen *g, const struct muse_gen_out *out,
	struct handoff *const *h)
{
	for (int i = 0; i < NTABLES; i++) {
		struct sink *s = &g->sink[i];

		s->fp = out[i].fp;
		s->h = h != NULL ? h[i] : NULL;
		s->wanted = s->fp != NULL || s->h != NULL;
		s->name = out[i].name;
		s->len = 0;
		s->bytes = 0;
		s->rows = 0;
		s->err = 0;
		if (s->wanted && s->buf == NULL &&
		    (s->buf = malloc(SINK_CAP)) == NULL)
			return MUSE_ENOMEM;
	}
	return 0;
}

/* The simulation, writing each wanted table into its sink. */
static int run(muse_gen *g, const struct muse_gen_out *out,
	struct handoff *const *h, muse_gen_progress_fn *progress, void *ctx,
	struct muse_err *e)
{
	struct sink *imp = &g->sink[TBL_IMPRESSIONS];
	struct sink *pl = &g->sink[TBL_PLAYS];

	g->oom = 0;
	g->days_done = 0;
	g->imps.n = 0;
	for (int i = 0; i < 3; i++)
		g->plays[i].n = 0;
	if (sinks_open(g, out, h) != 0)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");

	for (int i = 0; i < NTABLES; i++)
		if (g->sink[i].wanted) {
			char *p = sink_room(&g->sink[i]);

			p = put_str(p, table_header[i]);
			g->sink[i].len = (size_t)(p - g->sink[i].buf);
		}
	if (g->sink[TBL_ASSETS].wanted)
		emit_assets(g);
	if (g->sink[TBL_AFFINITIES].wanted)
		emit_affinities(g);

	if (imp->wanted || pl->wanted) {
		for (uint32_t d = 0; d < g->ndays && !g->oom; d++) {
			/* 1970-01-01 was a Thursday. */
			int64_t dow = ((g->start + d) % 7 + 7 + 3) % 7;
			struct evvec *pd = &g->plays[d % 3];
			struct user u;

			g->imps.n = 0;
			for (uint32_t idx = 0; idx < g->nusers && !g->oom;
			    idx++) {
				if (!user_active(g, idx, d, dow >= 5))
					continue;
				user_make(g->seed, idx, &u);
				user_day(g, &u, d);
			}
			if (g->oom)
				break;
			if (imp->wanted) {
				if (sort_rows(g, &g->imps) != 0) {
					g->oom = 1;
					break;
				}
				emit_impressions(g, d);
			}
			if (pl->wanted) {
				if (sort_rows(g, pd) != 0) {
					g->oom = 1;
					break;
				}
				emit_plays(g, d);
			}
			pd->n = 0;
			g->days_done = d + 1;
			if (sinks_failed(g))
				break;
			if (progress != NULL) {
				struct muse_gen_progress p;

				muse_gen_totals(g, &p);
				progress(ctx, &p);
			}
		}
	}
	for (int i = 0; i < NTABLES; i++) {
		struct sink *s = &g->sink[i];

		if (!s->wanted)
			continue;
		sink_flush(s);
		errno = 0;
		if (s->fp != NULL && s->err == 0 && fflush(s->fp) != 0)
			s->err = errno ? errno : EIO;
	}
	if (g->oom)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	return sink_error(g, e);
}

int muse_gen_run(muse_gen *g, const struct muse_gen_out out[MUSE_GEN_NTABLES],
	muse_gen_progress_fn *progress, void *ctx, struct muse_err *e)
{
	return run(g, out, NULL, progress, ctx, e);
}

/* ------------------------------------------------------------------ */
/* Straight to event streams                                           */
/* ------------------------------------------------------------------ */

/*
 * Each wanted table has three stages, joined by a handoff and a pipe:
 *
 *   simulation --(handoff: up to 32 MiB)--> feeder --(pipe)--> converter
 *
 * The handoff is what lets the stages overlap: a day is simulated without
 * writing anything and then written all at once, tens of MiB in a burst,
 * and a pipe's 64 KiB to 1 MiB would make the converter wait through the
 * simulation and the simulation through the conversion.  The feeder only
 * moves buffers from the handoff into the pipe, because the ingest library
 * reads a descriptor.
 */

/* The zstd level muse-ingest writes event streams with: its bytes are ours. */
#define EVENTS_LEVEL 1

struct conv {
	int table;             /* enum muse_table */
	int rfd, wfd;          /* the pipe, -1 when closed */
	FILE *out;
	const char *name;
	struct handoff h;
	int h_ready;           /* h's mutex and condition exist */
	pthread_t feeder, converter;
	int feeding, converting;
	int feed_err;          /* errno of a failed write into the pipe */
	muse_ingest *ing;
	muse_writer *w;
	struct muse_buf rec;
	int rc;                /* 0, or the error the converter ended with */
	struct muse_err err;
};

static int sys_error(struct muse_err *e, int err, const char *what)
{
	muse_err_set(e, MUSE_EIO, "%s: %s", what, strerror(err));
	if (e != NULL)
		e->sys_errno = err;
	return MUSE_EIO;
}

/* Moves full buffers from the handoff into the pipe, and closes it. */
static void *feeder_main(void *arg)
{
	struct conv *c = arg;
	struct handoff *h = &c->h;

	for (;;) {
		char *buf;
		size_t n, off = 0;

		pthread_mutex_lock(&h->mu);
		while (h->nfull == 0 && !h->closed)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->nfull == 0) {
			pthread_mutex_unlock(&h->mu);
			break;
		}
		buf = h->full[h->head];
		n = h->len[h->head];
		h->head = (h->head + 1) % HANDOFF_BUFS;
		h->nfull--;
		pthread_mutex_unlock(&h->mu);

		while (off < n && c->feed_err == 0) {
			ssize_t r = write(c->wfd, buf + off, n - off);

			if (r >= 0)
				off += (size_t)r;
			else if (errno != EINTR)
				c->feed_err = errno;
		}

		pthread_mutex_lock(&h->mu);
		h->spare[h->nspare++] = buf;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
	}
	close(c->wfd);
	c->wfd = -1;
	return NULL;
}

/* Reads the pipe to its end, so that nothing upstream blocks on it. */
static void drain(int fd)
{
	char buf[1 << 16];
	ssize_t r;

	do
		r = read(fd, buf, sizeof(buf));
	while (r > 0 || (r < 0 && errno == EINTR));
}

/* The loop of muse-ingest, without skipping: any bad row is an error. */
static void *converter_main(void *arg)
{
	struct conv *c = arg;
	struct muse_header hd;
	struct muse_event ev;
	char inname[32];
	muse_input *in;
	muse_csv *csv;
	int fd, rc;

	snprintf(inname, sizeof(inname), "%s.csv", muse_table_name(c->table));
	/* The input closes its descriptor; the read end stays for drain(). */
	if ((fd = fcntl(c->rfd, F_DUPFD_CLOEXEC, 0)) < 0) {
		c->rc = sys_error(&c->err, errno, "cannot read a pipe");
		goto out;
	}
	if ((in = muse_input_fd(fd, inname, &c->err)) == NULL ||
	    (csv = muse_csv_new(in, 0, &c->err)) == NULL ||
	    (c->ing = muse_ingest_new(csv, c->table, MUSE_HASH_SEED,
	    &c->err)) == NULL) {
		c->rc = c->err.code;
		goto out;
	}
	memset(&hd, 0, sizeof(hd));
	hd.kind = MUSE_KIND_EVENTS;
	hd.table = (uint8_t)muse_ingest_table(c->ing);
	hd.hash = MUSE_HASH_XXH3;
	hd.seed = MUSE_HASH_SEED;
	if ((c->w = muse_writer_new(c->out, c->name, &hd, EVENTS_LEVEL,
	    &c->err)) == NULL) {
		c->rc = c->err.code;
		goto out;
	}
	while ((rc = muse_ingest_next(c->ing, &ev, &c->err)) > 0) {
		c->rec.len = 0;
		if (muse_event_encode(&ev, &c->rec) != 0) {
			rc = muse_err_set(&c->err, MUSE_ENOMEM,
			    "out of memory");
			break;
		}
		if ((rc = muse_writer_add(c->w, c->rec.p, c->rec.len,
		    &c->err)) < 0)
			break;
	}
	c->rc = rc;
out:
	drain(c->rfd);
	return NULL;
}

/* Makes the pipe and the handoff of a table and starts its two threads. */
static int conv_start(struct conv *c, struct muse_err *e)
{
	int fds[2], err;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return sys_error(e, errno, "cannot make a pipe");
	c->rfd = fds[0];
	c->wfd = fds[1];
	/* Fewer, larger reads and writes; the default size is only slower. */
	(void)fcntl(c->wfd, F_SETPIPE_SZ, (int)SINK_CAP);
	if ((err = pthread_mutex_init(&c->h.mu, NULL)) != 0)
		return sys_error(e, err, "cannot make a thread");
	if ((err = pthread_cond_init(&c->h.cv, NULL)) != 0) {
		pthread_mutex_destroy(&c->h.mu);
		return sys_error(e, err, "cannot make a thread");
	}
	c->h_ready = 1;
	c->h.nbufs = 1;          /* the sink's own */
	if ((err = pthread_create(&c->converter, NULL, converter_main, c)) != 0)
		return sys_error(e, err, "cannot start a thread");
	c->converting = 1;
	if ((err = pthread_create(&c->feeder, NULL, feeder_main, c)) != 0)
		return sys_error(e, err, "cannot start a thread");
	c->feeding = 1;
	return 0;
}

/*
 * Ends a table's threads: no more buffers, the end of the pipe (which the
 * feeder closes, or else we do), and the end of the conversion.
 */
static void conv_join(struct conv *c)
{
	if (c->h_ready) {
		pthread_mutex_lock(&c->h.mu);
		c->h.closed = 1;
		pthread_cond_broadcast(&c->h.cv);
		pthread_mutex_unlock(&c->h.mu);
	}
	if (c->feeding)
		pthread_join(c->feeder, NULL);
	if (c->wfd >= 0)
		close(c->wfd);
	if (c->converting)
		pthread_join(c->converter, NULL);
	if (c->rfd >= 0)
		close(c->rfd);
	c->rfd = c->wfd = -1;
}

/* Gives a stream its trailer and flushes it; 0 or an error. */
static int conv_finish(struct conv *c, struct muse_err *e)
{
	int rc = muse_writer_finish(c->w, e);

	errno = 0;
	if (rc == 0 && fflush(c->out) != 0) {
		muse_err_where(e, c->name ? c->name : "<stdout>", 0,
		    UINT64_MAX);
		rc = sys_error(e, errno ? errno : EIO, "write error");
	}
	return rc;
}

static void conv_free(struct conv *c)
{
	muse_writer_free(c->w);
	muse_ingest_free(c->ing);
	muse_buf_free(&c->rec);
	if (c->h_ready) {
		for (unsigned i = 0; i < c->h.nspare; i++)
			free(c->h.spare[i]);
		for (unsigned i = 0; i < c->h.nfull; i++)
			free(c->h.full[(c->h.head + i) % HANDOFF_BUFS]);
		pthread_cond_destroy(&c->h.cv);
		pthread_mutex_destroy(&c->h.mu);
	}
}

int muse_gen_run_events(muse_gen *g,
	const struct muse_gen_out out[MUSE_GEN_NTABLES],
	muse_gen_progress_fn *progress, void *ctx, struct muse_err *e)
{
	struct conv conv[NTABLES];
	struct handoff *h[NTABLES];
	struct muse_gen_out none[NTABLES];
	int rc = 0;

	memset(conv, 0, sizeof(conv));
	memset(none, 0, sizeof(none));
	for (int i = 0; i < NTABLES; i++) {
		conv[i].rfd = conv[i].wfd = -1;
		h[i] = NULL;
		none[i].name = out[i].name;
	}
	for (int i = 0; i < NTABLES && rc == 0; i++) {
		if (out[i].fp == NULL)
			continue;
		conv[i].table = i + 1;
		conv[i].out = out[i].fp;
		conv[i].name = out[i].name;
		muse_err_clear(&conv[i].err);
		rc = conv_start(&conv[i], e);
		h[i] = &conv[i].h;
	}
	if (rc == 0)
		rc = run(g, none, h, progress, ctx, e);
	for (int i = 0; i < NTABLES; i++)
		conv_join(&conv[i]);

	for (int i = 0; i < NTABLES && rc == 0; i++)
		if (conv[i].feed_err != 0) {
			muse_err_where(e, conv[i].name ? conv[i].name :
			    "<stdout>", 0, UINT64_MAX);
			rc = sys_error(e, conv[i].feed_err, "write error");
		} else if (conv[i].converting && conv[i].rc < 0) {
			if (e != NULL)
				*e = conv[i].err;
			rc = conv[i].rc;
		}
	/* Trailers only when every table was made. */
	for (int i = 0; i < NTABLES && rc == 0; i++)
		if (conv[i].converting)
			rc = conv_finish(&conv[i], e);
	for (int i = 0; i < NTABLES; i++)
		conv_free(&conv[i]);
	return rc;
}
