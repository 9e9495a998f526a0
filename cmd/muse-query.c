/*
 * muse-query - ad-hoc questions over sketch stores (SPEC 7).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "assets.h"
#include "cli.h"
#include "delta.h"
#include "qline.h"
#include "query.h"
#include "store.h"
#include "stream.h"

static const char *prog = "muse-query";

enum { OPT_ALERT = CHAR_MAX + 1, OPT_AS_OF, OPT_ASSET_TYPE, OPT_ASSETS,
	OPT_CI, OPT_COMPARE, OPT_MIN_REACH, OPT_OUTLIERS, OPT_ROLLUP, OPT_SERVE, OPT_SKETCH,
	OPT_SKETCH_DIR, OPT_SORT, OPT_STATS, OPT_THRESHOLD, OPT_TOP, OPT_WIDTH };

static const struct option longopts[] = {
	{ "alert", no_argument, NULL, OPT_ALERT },
	{ "as-of", required_argument, NULL, OPT_AS_OF },
	{ "asset", required_argument, NULL, 'a' },
	{ "asset-type", required_argument, NULL, OPT_ASSET_TYPE },
	{ "assets", required_argument, NULL, OPT_ASSETS },
	{ "by", required_argument, NULL, 'b' },
	{ "ci", required_argument, NULL, OPT_CI },
	{ "compare", required_argument, NULL, OPT_COMPARE },
	{ "country", required_argument, NULL, 'c' },
	{ "date", required_argument, NULL, 'd' },
	{ "format", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ "metrics", required_argument, NULL, 'm' },
	{ "min-reach", required_argument, NULL, OPT_MIN_REACH },
	{ "outliers", no_argument, NULL, OPT_OUTLIERS },
	{ "rollup", required_argument, NULL, OPT_ROLLUP },
	{ "segment", required_argument, NULL, 's' },
	{ "serve", no_argument, NULL, OPT_SERVE },
	{ "sketch", required_argument, NULL, OPT_SKETCH },
	{ "sketch-dir", required_argument, NULL, OPT_SKETCH_DIR },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "threshold", required_argument, NULL, OPT_THRESHOLD },
	{ "title", required_argument, NULL, 't' },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "version", no_argument, NULL, 'V' },
	{ "width", required_argument, NULL, OPT_WIDTH },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-query [-hV] [-a LIST] [-t LIST] [-s LIST] [-c LIST] [-d RANGE]\n"
	    "                  [--as-of VERSION]"
	    " [--assets FILE] [--asset-type LIST]\n"
	    "                  [-b DIMS] [-m LIST] [--ci LEVEL]"
	    " [--sketch KIND [--sketch-dir DIR]]\n"
	    "                  [--sort METRIC[:asc]] [--stats] [--top N]"
	    " [--compare A,B]\n"
	    "                  [--outliers] [--alert] [--min-reach N]"
	    " [--threshold Z]\n"
	    "                  [--rollup FILE ...] [--width N] [-o FORMAT] STORE...\n"
	    "       muse-query --serve [--assets FILE] [--rollup FILE ...] STORE\n"
	    "Answer questions over sketch stores: filter keys, group them, unite\n"
	    "their sketches (a user counts once in any union) and print metrics.\n"
	    "STORE - reads standard input; a STORE that is a publishing directory\n"
	    "(muse-delta publish) means its latest version.\n"
	    "\n"
	    "      --alert            as --outliers, and exit 1 when any row is\n"
	    "                         flagged (for cron)\n"
	    "      --as-of VERSION    answer from that version of a publishing\n"
	    "                         directory\n"
	    "  -a, --asset LIST       assets (comma-separated, shell globs allowed)\n"
	    "      --asset-type LIST  assets whose asset_type (--assets) matches\n"
	    "      --assets FILE      the assets table (CSV, TSV or its event\n"
	    "                         stream) for --asset-type and --by asset_type\n"
	    "  -b, --by DIMS          group by title, asset, date, week, month,\n"
	    "                         segment, country, asset_type; none = one row\n"
	    "                         (default)\n"
	    "      --ci LEVEL         add bounds of estimates: 68, 95 or 99\n"
	    "      --compare A,B      two assets (ASSET+ASSET... for a group) side\n"
	    "                         by side per group: difference, z, significance\n"
	    "  -c, --country LIST     countries\n"
	    "  -d, --date RANGE       YYYY-MM-DD, FROM..TO, FROM.., ..TO, YYYY-MM,\n"
	    "                         YYYY-Qn (inclusive)\n"
	    "  -h, --help             show this help and exit\n"
	    "  -m, --metrics LIST     impressions, reach, plays, qplays, qreach,\n"
	    "                         areach, watch_s, take_rate, authentic_rate,\n"
	    "                         bounce_rate, countries (default impressions,\n"
	    "                         reach,plays,qreach,take_rate)\n"
	    "      --min-reach N      --outliers: rates with less reach behind them\n"
	    "                         are never flagged nor peers (default 100)\n"
	    "  -o, --format FORMAT    table (default on a terminal), tsv (default\n"
	    "                         otherwise), csv, json, bars (a chart of the\n"
	    "                         first metric), svg\n"
	    "      --outliers         assets whose take or authentic rate is far\n"
	    "                         from their peers' (robust z-score)\n"
	    "      --rollup FILE      a week, month or quarter roll-up of STORE\n"
	    "                         (muse-merge --rollup): whole periods are read\n"
	    "                         from it, the same answer from fewer blocks;\n"
	    "                         ignored for another version of STORE\n"
	    "  -s, --segment LIST     audience segments ('*' is all users, the\n"
	    "                         default)\n"
	    "      --serve            answer one query (options as above) per line\n"
	    "                         of stdin with one JSON line each, following\n"
	    "                         STORE (or the directory's LATEST) as new\n"
	    "                         versions land\n"
	    "      --sketch KIND      add a column \"sketch\": each row's reach union\n"
	    "                         as a DataSketches image in base64 (hll4,\n"
	    "                         hll6, hll8; compact, at the store's lgK) or\n"
	    "                         a PostgreSQL hll value (pg)\n"
	    "      --sketch-dir DIR   write the images as raw files DIR/N.bin (N\n"
	    "                         the row) and give their paths in a column\n"
	    "                         \"sketch_file\" instead\n"
	    "      --sort METRIC[:asc]  order rows by a metric (descending)\n"
	    "      --stats            report on stderr how many blocks were read\n"
	    "      --threshold Z      --outliers: robust z-score beyond which a\n"
	    "                         rate is flagged (default 3.5)\n"
	    "  -t, --title LIST       titles\n"
	    "      --top N            keep the first N rows\n"
	    "  -V, --version          show the version and exit\n"
	    "      --width N          columns of --format bars (default $COLUMNS,\n"
	    "                         the terminal's, or 80)\n"
	    "\n"
	    "Exit status: 0 success, 1 --alert found outliers, 2 error (bad\n"
	    "store, usage, I/O).\n");
}

/* Columns for --format bars: $COLUMNS, else the terminal's, else 80. */
static unsigned term_width(void)
{
	const char *c = getenv("COLUMNS");
	struct winsize ws;
	uint64_t n;

	if (c && muse_cli_u64(c, 1, 10000, &n) == 0)
		return (unsigned)n;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static void warn_cb(void *ctx, const char *msg)
{
	(void)ctx;
	muse_cli_warn(prog, "%s", msg);
}

/* ------------------------------------------------------------------ */
/* --serve                                                              */
/* ------------------------------------------------------------------ */

/*
 * The serve loop answers from one mapped version of the store at a time.
 * A watcher thread notices when the path names a new file (a publisher
 * renames a new version over it), maps it and leaves it in `next`; the
 * loop takes it between two queries.  An answer is computed from one
 * mapping from start to end, so none mixes two versions, and the old
 * mapping stays valid until the loop lets it go, so no answer waits for
 * the new version to load.
 */
/*
 * The store file a STORE argument names: itself, or for a publishing
 * directory the file of its latest version (or of --as-of).  *path is
 * malloc'd; *version is the version asked for (0 for a plain file).
 */
static int resolve(const char *arg, uint64_t as_of, char **path,
	uint64_t *version, struct muse_err *e)
{
	struct stat st;
	uint64_t v = as_of;
	int rc;

	*version = 0;
	if (strcmp(arg, "-") == 0 || stat(arg, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (as_of)
			return muse_err_set(e, MUSE_EUSAGE,
			    "--as-of needs a publishing directory, not \"%s\"", arg);
		*path = strdup(arg);
		return *path ? 0 : muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	if (v == 0 && (rc = muse_publish_latest(arg, &v, e)))
		return rc;
	*version = v;
	return muse_publish_materialize(arg, v, path, e);
}

/* Opens a --rollup FILE: an indexed roll-up made from one day store. */
static muse_store *open_rollup(const char *path, struct muse_err *e)
{
	muse_store *r = muse_store_open(path, e);

	if (r == NULL && e->code == MUSE_OK) {
		muse_err_where(e, path, 0, UINT64_MAX);
		muse_err_set(e, MUSE_EUSAGE, "--rollup needs an indexed store "
		    "(one written by muse-merge --rollup)");
	}
	if (r != NULL && muse_store_header(r)->src_content == 0) {
		muse_err_where(e, path, 0, UINT64_MAX);
		muse_err_set(e, MUSE_EUSAGE, "not a roll-up of a store (make one "
		    "with muse-merge --rollup week|month|quarter STORE)");
		muse_store_free(r);
		r = NULL;
	}
	return r;
}

struct rollups {
	const char *path[MUSE_QUERY_MAX_ROLLUPS];
	muse_store *st[MUSE_QUERY_MAX_ROLLUPS];
	size_t n;
};

static int rollups_open(struct rollups *r, struct muse_err *e)
{
	for (size_t i = 0; i < r->n; i++)
		if ((r->st[i] = open_rollup(r->path[i], e)) == NULL)
			return e->code;
	return 0;
}

static void rollups_close(struct rollups *r)
{
	for (size_t i = 0; i < r->n; i++)
		muse_store_free(r->st[i]);
}

/* Decompressed blocks a serving process keeps in memory. */
#define SERVE_CACHE ((size_t)2 << 30)

/* A file as it was when last mapped: a rename over it changes this. */
struct file_id {
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
};

static void file_id_set(struct file_id *id, const struct stat *st)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->mtime = st->st_mtim;
}

static int same_file(const struct file_id *id, const struct stat *st)
{
	return st->st_dev == id->dev && st->st_ino == id->ino &&
	    st->st_mtim.tv_sec == id->mtime.tv_sec &&
	    st->st_mtim.tv_nsec == id->mtime.tv_nsec;
}

struct follow {
	const char *path;
	int is_dir;               /* a publishing directory: follow LATEST */
	uint64_t version;         /* of the directory, last taken */
	pthread_mutex_t lock;
	muse_store *next;         /* a newer version, not yet taken */
	struct file_id id;
	/* the --rollup files, which a producer replaces as the store's */
	const struct rollups *ru;
	struct file_id rid[MUSE_QUERY_MAX_ROLLUPS];
	muse_store *rnext[MUSE_QUERY_MAX_ROLLUPS];
	int stop;
};

/*
 * A --rollup file renamed over by a new one is mapped and left in rnext;
 * one that is not a roll-up (yet) is passed over, the old one serves.
 */
static void watch_rollups(struct follow *f)
{
	for (size_t i = 0; i < f->ru->n; i++) {
		struct muse_err e;
		struct stat st;
		muse_store *s;

		if (stat(f->ru->path[i], &st) != 0 || same_file(&f->rid[i], &st))
			continue;
		if ((s = open_rollup(f->ru->path[i], &e)) == NULL)
			continue;
		muse_store_cache(s, SERVE_CACHE / 4);
		pthread_mutex_lock(&f->lock);
		muse_store_free(f->rnext[i]);
		f->rnext[i] = s;
		file_id_set(&f->rid[i], &st);
		pthread_mutex_unlock(&f->lock);
	}
}

static void *watch(void *arg)
{
	struct follow *f = arg;
	const struct timespec pause = { 0, 20 * 1000 * 1000 };

	for (;;) {
		struct stat st;
		struct muse_err e;
		muse_store *s;
		int stop;

		nanosleep(&pause, NULL);
		pthread_mutex_lock(&f->lock);
		stop = f->stop;
		pthread_mutex_unlock(&f->lock);
		if (stop)
			return NULL;
		watch_rollups(f);
		if (f->is_dir) {
			uint64_t v;
			char *p = NULL;

			/* A version that cannot be had is skipped; the old one serves. */
			if (muse_publish_latest(f->path, &v, &e) || v == f->version ||
			    muse_publish_materialize(f->path, v, &p, &e)) {
				free(p);
				continue;
			}
			s = muse_store_open(p, &e);
			free(p);
			if (s == NULL)
				continue;
			muse_store_cache(s, SERVE_CACHE);
			pthread_mutex_lock(&f->lock);
			muse_store_free(f->next);
			f->next = s;
			f->version = v;
			pthread_mutex_unlock(&f->lock);
			continue;
		}
		if (stat(f->path, &st) != 0 || same_file(&f->id, &st))
			continue;
		/* A version that fails to open is skipped; the old one serves. */
		if ((s = muse_store_open(f->path, &e)) == NULL)
			continue;
		muse_store_cache(s, SERVE_CACHE);
		pthread_mutex_lock(&f->lock);
		muse_store_free(f->next);
		f->next = s;
		file_id_set(&f->id, &st);
		pthread_mutex_unlock(&f->lock);
	}
}

static void json_error(const char *msg, uint64_t version)
{
	printf("{\"version\": %llu, \"error\": \"", (unsigned long long)version);
	for (const char *p = msg; *p; p++) {
		if (*p == '"' || *p == '\\')
			putchar('\\');
		if ((unsigned char)*p >= 0x20)
			putchar(*p);
	}
	printf("\"}\n");
}

static int serve(const char *path, const muse_assets *assets,
	struct rollups *ru)
{
	struct follow f;
	struct muse_err e;
	struct stat st;
	muse_store *cur = NULL;
	pthread_t tid;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	memset(&f, 0, sizeof(f));
	muse_err_clear(&e);
	f.path = path;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		char *file = NULL;

		f.is_dir = 1;
		if (resolve(path, 0, &file, &f.version, &e)) {
			muse_cli_err(prog, &e);
			return MUSE_EXIT_ERROR;
		}
		cur = muse_store_open(file, &e);
		free(file);
	}
	if (!f.is_dir && stat(path, &st) != 0)
		muse_err_set(&e, MUSE_EIO, "cannot open: %s", strerror(errno));
	else if (!f.is_dir)
		cur = muse_store_open(path, &e);
	if (cur == NULL) {
		if (e.code == MUSE_OK || e.name[0] == '\0') {
			muse_err_where(&e, path, 0, UINT64_MAX);
			muse_err_set(&e, MUSE_EUSAGE, "--serve needs an indexed store "
			    "(one written by muse-sketch or muse-merge)");
		}
		muse_cli_err(prog, &e);
		return MUSE_EXIT_ERROR;
	}
	muse_store_cache(cur, SERVE_CACHE);
	file_id_set(&f.id, &st);
	f.ru = ru;
	for (size_t i = 0; i < ru->n; i++) {
		struct stat rs;

		muse_store_cache(ru->st[i], SERVE_CACHE / 4);
		if (stat(ru->path[i], &rs) == 0)
			file_id_set(&f.rid[i], &rs);
	}
	pthread_mutex_init(&f.lock, NULL);
	if (pthread_create(&tid, NULL, watch, &f) != 0) {
		muse_cli_warn(prog, "cannot start the watcher thread");
		muse_store_free(cur);
		pthread_mutex_destroy(&f.lock);
		return MUSE_EXIT_ERROR;
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		muse_query *q;
		uint64_t version;

		pthread_mutex_lock(&f.lock);
		if (f.next) {
			muse_store_free(cur);
			cur = f.next;
			f.next = NULL;
		}
		for (size_t i = 0; i < ru->n; i++)
			if (f.rnext[i]) {
				muse_store_free(ru->st[i]);
				ru->st[i] = f.rnext[i];
				f.rnext[i] = NULL;
			}
		pthread_mutex_unlock(&f.lock);
		version = muse_store_version(cur);
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		muse_err_clear(&e);
		if ((q = muse_query_new(&e)) == NULL) {
			json_error(e.msg, version);
			continue;
		}
		muse_query_set_format(q, MUSE_FMT_JSONL);
		muse_query_set_version(q, version, muse_store_content(cur));
		muse_query_assets(q, assets);
		for (size_t i = 0; i < ru->n; i++)
			muse_query_rollup(q, ru->st[i]);
		if (muse_qline_apply(q, line, (size_t)n, &e) ||
		    muse_query_add_mapped(q, cur, &e) ||
		    muse_query_write(q, stdout, NULL, NULL, &e)) {
			char buf[1024];

			json_error(muse_err_format(&e, buf, sizeof(buf)), version);
		}
		muse_query_free(q);
		if (fflush(stdout) != 0)
			break;
	}
	free(line);
	pthread_mutex_lock(&f.lock);
	f.stop = 1;
	pthread_mutex_unlock(&f.lock);
	pthread_join(tid, NULL);
	muse_store_free(f.next);
	for (size_t i = 0; i < ru->n; i++)
		muse_store_free(f.rnext[i]);
	muse_store_free(cur);
	pthread_mutex_destroy(&f.lock);
	return MUSE_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct muse_err e;
	muse_query *q;
	int c, rc = 0, status = MUSE_EXIT_OK, fmt_set = 0, stats = 0;
	int serving = 0, alert = 0, width_set = 0, sketch = 0;
	const char *sketch_dir = NULL;
	uint64_t as_of = 0;
	uint64_t v;
	muse_assets *assets = NULL;
	const char *assets_path = NULL;
	struct rollups ru = { .n = 0 };

	muse_cli_setup();
	muse_err_clear(&e);
	if ((q = muse_query_new(&e)) == NULL) {
		muse_cli_err(prog, &e);
		return MUSE_EXIT_ERROR;
	}
	while ((c = muse_cli_getopt(prog, argc, argv, "a:b:c:d:hm:o:s:t:V",
	    longopts)) != -1) {
		switch (c) {
		case 'a':
			rc = muse_query_filter(q, MUSE_DIM_ASSET, optarg, &e);
			break;
		case OPT_ALERT:
			alert = 1;
			muse_query_outliers(q);
			break;
		case OPT_ASSET_TYPE:
			rc = muse_query_asset_type(q, optarg, &e);
			break;
		case OPT_ASSETS:
			assets_path = optarg;
			break;
		case OPT_COMPARE:
			rc = muse_query_compare(q, optarg, &e);
			break;
		case OPT_MIN_REACH:
			if (muse_cli_u64(optarg, 0, UINT64_MAX, &v))
				rc = muse_err_set(&e, MUSE_EUSAGE,
				    "bad --min-reach \"%s\"", optarg);
			else
				muse_query_min_reach(q, v);
			break;
		case OPT_OUTLIERS:
			muse_query_outliers(q);
			break;
		case OPT_THRESHOLD:
			rc = muse_query_threshold(q, optarg, &e);
			break;
		case OPT_WIDTH:
			if (muse_cli_u64(optarg, 1, 10000, &v))
				rc = muse_err_set(&e, MUSE_EUSAGE,
				    "bad --width \"%s\" (1 to 10000 columns)", optarg);
			else
				muse_query_width(q, (unsigned)v);
			width_set = 1;
			break;
		case OPT_AS_OF:
			if (muse_cli_u64(optarg, 1, UINT64_MAX, &as_of))
				rc = muse_err_set(&e, MUSE_EUSAGE,
				    "bad --as-of \"%s\" (a version, 1 or more)", optarg);
			break;
		case 'b':
			rc = muse_query_by(q, optarg, &e);
			break;
		case OPT_CI:
			rc = muse_query_ci(q, optarg, &e);
			break;
		case 'c':
			rc = muse_query_filter(q, MUSE_DIM_COUNTRY, optarg, &e);
			break;
		case 'd':
			rc = muse_query_dates(q, optarg, &e);
			break;
		case 'h':
			usage();
			muse_query_free(q);
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		case 'm':
			rc = muse_query_metrics(q, optarg, &e);
			break;
		case 'o':
			rc = muse_query_format(q, optarg, &e);
			fmt_set = 1;
			break;
		case 's':
			rc = muse_query_filter(q, MUSE_DIM_SEGMENT, optarg, &e);
			break;
		case OPT_ROLLUP:
			if (ru.n == MUSE_QUERY_MAX_ROLLUPS)
				rc = muse_err_set(&e, MUSE_EUSAGE, "at most %d --rollup "
				    "files", MUSE_QUERY_MAX_ROLLUPS);
			else
				ru.path[ru.n++] = optarg;
			break;
		case OPT_SERVE:
			serving = 1;
			break;
		case OPT_SKETCH:
			rc = muse_query_sketch(q, optarg, &e);
			sketch = 1;
			break;
		case OPT_SKETCH_DIR:
			sketch_dir = optarg;
			muse_query_sketch_dir(q, optarg);
			break;
		case OPT_SORT:
			rc = muse_query_sort(q, optarg, &e);
			break;
		case OPT_STATS:
			stats = 1;
			break;
		case 't':
			rc = muse_query_filter(q, MUSE_DIM_TITLE, optarg, &e);
			break;
		case OPT_TOP:
			if (muse_cli_u64(optarg, 1, UINT64_MAX, &v)) {
				rc = muse_err_set(&e, MUSE_EUSAGE, "bad --top \"%s\"",
				    optarg);
				break;
			}
			muse_query_top(q, v);
			break;
		case 'V':
			muse_cli_version(prog);
			muse_query_free(q);
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		default:
			muse_query_free(q);
			return muse_cli_usage_error(prog, MUSE_GETOPT_ERROR);
		}
		if (rc) {
			muse_query_free(q);
			return muse_cli_usage_error(prog, "%s", e.msg);
		}
	}
	if (optind == argc) {
		muse_query_free(q);
		return muse_cli_usage_error(prog, "no STORE given");
	}
	if (serving) {
		muse_query_free(q);
		if (argc - optind != 1)
			return muse_cli_usage_error(prog,
			    "--serve follows exactly one STORE");
		if (as_of)
			return muse_cli_usage_error(prog,
			    "--serve follows the latest version; --as-of is for "
			    "one-shot queries");
		if (assets_path && (assets = muse_assets_load(assets_path,
		    &e)) == NULL) {
			muse_cli_err(prog, &e);
			return MUSE_EXIT_ERROR;
		}
		if (rollups_open(&ru, &e)) {
			muse_cli_err(prog, &e);
			rollups_close(&ru);
			muse_assets_free(assets);
			return MUSE_EXIT_ERROR;
		}
		status = serve(argv[optind], assets, &ru);
		rollups_close(&ru);
		muse_assets_free(assets);
		return muse_cli_close_stdout(prog, status);
	}
	if (assets_path) {
		if ((assets = muse_assets_load(assets_path, &e)) == NULL) {
			muse_cli_err(prog, &e);
			muse_query_free(q);
			return MUSE_EXIT_ERROR;
		}
		muse_query_assets(q, assets);
	}
	if (sketch_dir != NULL && !sketch) {
		muse_query_free(q);
		return muse_cli_usage_error(prog, "--sketch-dir needs --sketch");
	}
	if (sketch_dir != NULL && mkdir(sketch_dir, 0777) != 0 &&
	    errno != EEXIST) {
		muse_cli_warn(prog, "%s: cannot create: %s", sketch_dir,
		    strerror(errno));
		muse_query_free(q);
		return muse_cli_close_stdout(prog, MUSE_EXIT_ERROR);
	}
	/* Images are no table: --sketch answers in TSV unless told. */
	if (!fmt_set)
		muse_query_set_format(q, isatty(STDOUT_FILENO) && !sketch ?
		    MUSE_FMT_TABLE : MUSE_FMT_TSV);
	if (!width_set)
		muse_query_width(q, term_width());
	/* One question: a roll-up is mapped only if it is chosen. */
	for (size_t i = 0; i < ru.n; i++)
		if (muse_query_rollup_file(q, ru.path[i], &e)) {
			muse_cli_err(prog, &e);
			muse_query_free(q);
			muse_assets_free(assets);
			return muse_cli_close_stdout(prog, MUSE_EXIT_ERROR);
		}
	for (int i = optind; i < argc && status == MUSE_EXIT_OK; i++) {
		char *path = NULL;
		uint64_t version, used, blocks, stale;

		if (resolve(argv[i], as_of, &path, &version, &e) ||
		    muse_query_add_store(q, path, &e)) {
			if (e.name[0] == '\0')
				muse_err_where(&e, argv[i], 0, UINT64_MAX);
			muse_cli_err(prog, &e);
			status = MUSE_EXIT_ERROR;
		}
		muse_query_rollup_stats(q, &used, &blocks, &stale);
		if (status == MUSE_EXIT_OK && stale > 0)
			muse_cli_warn(prog, "%s: %llu of the --rollup files were made "
			    "from another version of it: not used",
			    argv[i], (unsigned long long)stale);
		free(path);
	}
	if (status == MUSE_EXIT_OK &&
	    muse_query_write(q, stdout, warn_cb, NULL, &e)) {
		if (e.name[0] == '\0' && e.code == MUSE_EIO)
			muse_err_where(&e, "<stdout>", 0, UINT64_MAX);
		muse_cli_err(prog, &e);
		status = MUSE_EXIT_ERROR;
	}
	if (stats && status == MUSE_EXIT_OK) {
		uint64_t nread, ntotal, nscanned, used, rblocks, stale;

		muse_query_stats(q, &nread, &ntotal, &nscanned);
		muse_query_rollup_stats(q, &used, &rblocks, &stale);
		muse_cli_warn(prog, "read %llu of %llu indexed blocks; %llu "
		    "store(s) read whole", (unsigned long long)nread,
		    (unsigned long long)ntotal, (unsigned long long)nscanned);
		if (ru.n)
			muse_cli_warn(prog, "roll-ups: used for %llu store(s), "
			    "%llu of their blocks read", (unsigned long long)used,
			    (unsigned long long)rblocks);
	}
	if (alert && status == MUSE_EXIT_OK && muse_query_flagged(q) > 0)
		status = MUSE_EXIT_NEGATIVE;
	muse_query_free(q);
	muse_assets_free(assets);
	return muse_cli_close_stdout(prog, status);
}
