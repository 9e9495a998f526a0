/*
 * muse-sketch - event streams to a sorted sketch stream (SPEC 4).
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "cli.h"
#include "hll.h"
#include "opts.h"
#include "stream.h"
#include "table.h"

static const char *prog = "muse-sketch";

enum { OPT_AS_OF = CHAR_MAX + 1, OPT_AUTHENTIC, OPT_BUCKET, OPT_LGK, OPT_PROGRESS,
	OPT_QUALIFY, OPT_WINDOW };

static const struct option longopts[] = {
	{ "as-of", required_argument, NULL, OPT_AS_OF },
	{ "authentic", required_argument, NULL, OPT_AUTHENTIC },
	{ "bucket", required_argument, NULL, OPT_BUCKET },
	{ "by", required_argument, NULL, 'b' },
	{ "date", required_argument, NULL, 'd' },
	{ "force", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "lgk", required_argument, NULL, OPT_LGK },
	{ "output", required_argument, NULL, 'o' },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "qualify", required_argument, NULL, OPT_QUALIFY },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-sketch [-fhqvV] [-b DIMS] [-d RANGE] [-o FILE] [--bucket B[/N]]\n"
	    "                   [--as-of VERSION] [--lgk N] [--window DUR]\n"
	    "                   [--qualify SEC] [--authentic SEC] [--progress]\n"
	    "                   [FILE | DIR...]\n"
	    "Join impressions, plays and affinities from event streams (any order,\n"
	    "files or concatenated on standard input, or the files of a table\n"
	    "directory that can match --date and --bucket) and write a sorted\n"
	    "sketch stream: counters and HyperLogLog sketches per key.\n"
	    "\n"
	    "      --as-of VERSION    read that version of a table directory\n"
	    "                         (default: the newest when we start)\n"
	    "      --authentic SEC    authentic threshold A (default 900)\n"
	    "      --bucket B[/N]     only users whose id hash falls in bucket B of N\n"
	    "                         (N defaults to the table directory's count)\n"
	    "  -b, --by DIMS          grain: title, asset, date, segment, country\n"
	    "                         (default title,asset,date,segment)\n"
	    "  -d, --date RANGE       count impressions and plays of these days only\n"
	    "                         (YYYY-MM-DD, FROM..TO, YYYY-MM, YYYY-Qn)\n"
	    "  -f, --force            write binary output to a terminal\n"
	    "  -h, --help             show this help and exit\n"
	    "      --lgk N            HyperLogLog precision, 4..21 (default 14)\n"
	    "  -o, --output FILE      write FILE (atomically) instead of stdout\n"
	    "      --progress         show progress even when stderr is not a\n"
	    "                         terminal\n"
	    "      --qualify SEC      qualify threshold Q (default 60)\n"
	    "  -q, --quiet            no progress\n"
	    "  -v, --verbose          say which version and how many files of a\n"
	    "                         table directory are read\n"
	    "  -V, --version          show the version and exit\n"
	    "      --window DUR       attribution window W (default 24h)\n"
	    "\n"
	    "Exit status: 0 success, 2 error (bad input, usage, I/O).\n");
}

static int parse_bucket(const char *s, struct muse_build_opts *o)
{
	const char *slash = strchr(s, '/');
	char b[32];
	uint64_t bv, nv;

	if (slash == NULL) {
		/* B alone: N is the table directory's (checked later). */
		if (muse_cli_u64(s, 0, (1u << 20) - 1, &bv))
			return -1;
		o->bucket = (uint32_t)bv;
		o->nbuckets = 0;
		return 1;
	}
	if ((size_t)(slash - s) >= sizeof(b))
		return -1;
	memcpy(b, s, (size_t)(slash - s));
	b[slash - s] = '\0';
	if (muse_cli_u64(slash + 1, 1, 1u << 20, &nv) ||
	    muse_cli_u64(b, 0, nv - 1, &bv))
		return -1;
	o->bucket = (uint32_t)bv;
	o->nbuckets = (uint32_t)nv;
	return 0;
}

struct dir_opts {
	uint64_t as_of;
	int verbose;
	int bucket_alone;         /* --bucket B without /N */
};

static int add_input(muse_build *b, const char *path, struct muse_progress *p);

/*
 * A table directory: the files of one version (the newest when we start,
 * or --as-of) that can hold rows of the days and the bucket asked for.
 */
static int add_dir(muse_build *b, const char *dir, struct muse_build_opts *o,
	const struct dir_opts *d, struct muse_progress *p)
{
	struct muse_manifest m;
	struct muse_err e;
	size_t *idx = NULL, nidx = 0;
	int rc = 0;

	muse_err_clear(&e);
	if (muse_table_load(dir, d->as_of, &m, &e)) {
		muse_cli_err(prog, &e);
		return -1;
	}
	if (m.version == 0) {
		muse_cli_warn(prog, "%s: empty table directory (no version yet)", dir);
		return -1;
	}
	if (d->bucket_alone) {
		uint32_t n = 0;

		for (int t = MUSE_TABLE_IMPRESSIONS; t <= MUSE_TABLE_AFFINITIES; t++) {
			if (m.buckets[t] && n && m.buckets[t] != n) {
				muse_cli_warn(prog, "%s: tables have different bucket "
				    "counts (%u, %u): give --bucket B/N", dir, n,
				    m.buckets[t]);
				muse_manifest_free(&m);
				return -1;
			}
			if (m.buckets[t])
				n = m.buckets[t];
		}
		if (n && o->bucket >= n) {
			muse_cli_warn(prog, "%s: --bucket %u is beyond the table's "
			    "%u buckets", dir, o->bucket, n);
			muse_manifest_free(&m);
			return -1;
		}
		if (o->nbuckets && n != o->nbuckets) {
			muse_cli_warn(prog, "%s: %u buckets, but an earlier table "
			    "directory has %u: give --bucket B/N", dir, n,
			    o->nbuckets);
			muse_manifest_free(&m);
			return -1;
		}
		o->nbuckets = n;
		muse_build_set_bucket(b, o->bucket, n);
	}
	if (muse_table_select(&m, o->has_dates, o->day_from, o->day_to,
	    o->window_s, o->bucket, o->nbuckets, &idx, &nidx, &e)) {
		muse_cli_err(prog, &e);
		muse_manifest_free(&m);
		return -1;
	}
	if (d->verbose)
		fprintf(stderr, "%s: %s: version %llu: reading %zu of %zu files\n",
		    prog, dir, (unsigned long long)m.version, nidx, m.n);
	for (size_t i = 0; i < nidx && rc == 0; i++) {
		const struct muse_table_file *f = &m.f[idx[i]];
		size_t n = strlen(dir) + strlen(f->path) + 2;
		char *path = malloc(n);

		if (path == NULL) {
			muse_cli_warn(prog, "out of memory");
			rc = -1;
			break;
		}
		snprintf(path, n, "%s/%s", dir, f->path);
		rc = add_input(b, path, p);
		free(path);
	}
	free(idx);
	muse_manifest_free(&m);
	return rc;
}

/*
 * Progress comes between streams: muse_build_add reads a whole stream, and
 * an input holds one or more (cat *.mev | muse-sketch).
 */
static int add_input(muse_build *b, const char *path, struct muse_progress *p)
{
	struct muse_err e;
	struct muse_header h;
	muse_input *in;
	muse_reader *r;
	int rc, streams = 0;
	int64_t total;

	muse_err_clear(&e);
	muse_progress_input(p, strcmp(path, "-") ? path : "<stdin>");
	if ((in = muse_input_open(path, &e)) == NULL) {
		muse_cli_err(prog, &e);
		return -1;
	}
	total = muse_progress_total(in, path);
	if ((r = muse_reader_new(in, &e)) == NULL) {
		muse_cli_err(prog, &e);
		return -1;
	}
	while ((rc = muse_reader_next_stream(r, &h, &e)) == 1) {
		streams++;
		if ((rc = muse_build_add(b, r, &h, &e)) < 0)
			break;
		muse_progress_update(p, MUSE_PROGRESS_UNKNOWN,
		    muse_input_consumed(muse_reader_input(r)), total);
	}
	/* An empty input is a stream cut to nothing, never an empty table. */
	if (rc == 0 && streams == 0)
		rc = muse_err_set(&e, MUSE_ETRUNC, "empty input (no stream)");
	if (rc < 0) {
		if (e.name[0] == '\0')
			muse_err_where(&e, muse_reader_name(r), 0, UINT64_MAX);
		muse_cli_err(prog, &e);
	}
	muse_reader_free(r);
	return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct muse_build_opts o = {
		.dims = 1u << MUSE_DIM_TITLE | 1u << MUSE_DIM_ASSET |
		    1u << MUSE_DIM_DATE | 1u << MUSE_DIM_SEGMENT,
		.lgk = MUSE_HLL_LGK_DEFAULT,
		.window_s = 86400,
		.qualify_ms = 60000,
		.authentic_ms = 900000,
	};
	struct muse_err e;
	struct muse_out out;
	struct muse_progress pr;
	const char *output = NULL;
	struct dir_opts d = { 0 };
	muse_build *b;
	int c, force = 0, progress = 0, quiet = 0, status = MUSE_EXIT_OK;
	uint64_t v;

	muse_cli_setup();
	muse_err_clear(&e);
	while ((c = getopt_long(argc, argv, "b:d:fho:qvV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_AS_OF:
			if (muse_cli_u64(optarg, 1, UINT64_MAX, &d.as_of))
				return muse_cli_usage_error(prog,
				    "bad --as-of \"%s\" (a version number)", optarg);
			break;
		case OPT_AUTHENTIC:
			if (muse_parse_seconds_ms(optarg, &o.authentic_ms, &e))
				return muse_cli_usage_error(prog, "%s", e.msg);
			break;
		case OPT_BUCKET:
			if ((d.bucket_alone = parse_bucket(optarg, &o)) < 0)
				return muse_cli_usage_error(prog,
				    "bad --bucket \"%s\" (B or B/N with 0 <= B < N)",
				    optarg);
			break;
		case 'b':
			if (muse_parse_dims(optarg, &o.dims, &e))
				return muse_cli_usage_error(prog, "%s", e.msg);
			break;
		case 'd':
			if (muse_parse_date_range(optarg, &o.day_from, &o.day_to, &e))
				return muse_cli_usage_error(prog, "%s", e.msg);
			if (o.day_from == INT64_MIN || o.day_to == INT64_MAX)
				return muse_cli_usage_error(prog,
				    "--date needs both ends of the range");
			o.has_dates = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			usage();
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		case OPT_LGK:
			if (muse_cli_u64(optarg, MUSE_HLL_LGK_MIN, MUSE_HLL_LGK_MAX, &v))
				return muse_cli_usage_error(prog,
				    "bad --lgk \"%s\" (4..21)", optarg);
			o.lgk = (unsigned)v;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_QUALIFY:
			if (muse_parse_seconds_ms(optarg, &o.qualify_ms, &e))
				return muse_cli_usage_error(prog, "%s", e.msg);
			break;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			d.verbose = 1;
			break;
		case 'V':
			muse_cli_version(prog);
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		case OPT_WINDOW:
			if (muse_parse_duration(optarg, &o.window_s, &e))
				return muse_cli_usage_error(prog, "%s", e.msg);
			break;
		default:
			return muse_cli_usage_error(prog, MUSE_GETOPT_ERROR);
		}
	}
	if (d.bucket_alone) {
		int dirs = 0;

		for (int i = optind; i < argc; i++)
			dirs += muse_table_is_dir(argv[i]);
		if (dirs == 0 || dirs != argc - optind)
			return muse_cli_usage_error(prog, "--bucket B without /N "
			    "needs table directories as the only inputs");
	}
	if ((b = muse_build_new(&o, &e)) == NULL) {
		muse_cli_err(prog, &e);
		return MUSE_EXIT_ERROR;
	}
	muse_progress_start(&pr, prog, muse_cli_progress_wanted(progress, quiet));
	if (optind == argc && add_input(b, "-", &pr))
		status = MUSE_EXIT_ERROR;
	for (int i = optind; i < argc && status == MUSE_EXIT_OK; i++)
		if (strcmp(argv[i], "-") && muse_table_is_dir(argv[i]) ?
		    add_dir(b, argv[i], &o, &d, &pr) : add_input(b, argv[i], &pr))
			status = MUSE_EXIT_ERROR;
	if (status == MUSE_EXIT_OK) {
		muse_progress_note(&pr, "joining and writing sketches");
		if (muse_out_open(&out, output, 1, force, &e) ||
		    muse_build_finish(b, out.fp, output, &e) ||
		    muse_out_commit(&out, &e)) {
			muse_cli_err(prog, &e);
			muse_out_abort(&out);
			status = MUSE_EXIT_ERROR;
		}
	}
	muse_progress_end(&pr);
	muse_build_free(b);
	return muse_cli_close_stdout(prog, status);
}
