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

static const char *prog = "muse-sketch";

enum { OPT_AUTHENTIC = CHAR_MAX + 1, OPT_BUCKET, OPT_LGK, OPT_PROGRESS,
	OPT_QUALIFY, OPT_WINDOW };

static const struct option longopts[] = {
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
	{ "version", no_argument, NULL, 'V' },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-sketch [-fhqV] [-b DIMS] [-d RANGE] [-o FILE] [--bucket B/N]\n"
	    "                   [--lgk N] [--window DUR] [--qualify SEC]\n"
	    "                   [--authentic SEC] [--progress] [FILE...]\n"
	    "Join impressions, plays and affinities from event streams (any order,\n"
	    "files or concatenated on standard input) and write a sorted sketch\n"
	    "stream: counters and HyperLogLog sketches per key.\n"
	    "\n"
	    "      --authentic SEC    authentic threshold A (default 900)\n"
	    "      --bucket B/N       only users whose id hash falls in bucket B of N\n"
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

	if (slash == NULL || (size_t)(slash - s) >= sizeof(b))
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

/*
 * The library's progress reports (struct muse_progress_hook) drawn on the
 * line: while an input is read, its records with the bytes of it read so
 * far (an input may hold several streams: cat *.mev | muse-sketch), then
 * the phases of muse_build_finish with their counts.
 */
struct shown {
	struct muse_progress *p;
	muse_reader *r;           /* the input being read, or NULL */
	int64_t total;            /* its size, or -1 */
	uint64_t before;          /* records of its streams read before */
	uint64_t now;             /* of the stream being read */
};

static void on_progress(void *ctx, const char *phase, uint64_t done,
	uint64_t total)
{
	struct shown *s = ctx;

	if (s->r != NULL && strcmp(phase, "reading records") == 0) {
		s->now = done;
		muse_progress_update(s->p, s->before + done,
		    muse_input_consumed(muse_reader_input(s->r)), s->total);
		return;
	}
	muse_progress_count(s->p, phase, done, total);
}

static int add_input(muse_build *b, const char *path, struct shown *s)
{
	struct muse_progress *p = s->p;
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
	s->r = r;
	s->total = total;
	s->before = s->now = 0;
	while ((rc = muse_reader_next_stream(r, &h, &e)) == 1) {
		streams++;
		if ((rc = muse_build_add(b, r, &h, &e)) < 0)
			break;
		s->before += s->now;
		s->now = 0;
	}
	s->r = NULL;
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
	struct shown shown = { .p = &pr };
	const char *output = NULL;
	muse_build *b;
	int c, force = 0, progress = 0, quiet = 0, status = MUSE_EXIT_OK;
	uint64_t v;

	muse_cli_setup();
	muse_err_clear(&e);
	while ((c = muse_cli_getopt(prog, argc, argv, "b:d:fho:qV",
	    longopts)) != -1) {
		switch (c) {
		case OPT_AUTHENTIC:
			if (muse_parse_seconds_ms(optarg, &o.authentic_ms, &e))
				return muse_cli_usage_error(prog, "%s", e.msg);
			break;
		case OPT_BUCKET:
			if (parse_bucket(optarg, &o))
				return muse_cli_usage_error(prog,
				    "bad --bucket \"%s\" (B/N with 0 <= B < N)", optarg);
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
	muse_progress_start(&pr, prog, muse_cli_progress_wanted(progress, quiet));
	pr.unit = "record";
	if (pr.on) {
		o.progress.fn = on_progress;
		o.progress.ctx = &shown;
	}
	if ((b = muse_build_new(&o, &e)) == NULL) {
		muse_cli_err(prog, &e);
		return MUSE_EXIT_ERROR;
	}
	if (optind == argc && add_input(b, "-", &shown))
		status = MUSE_EXIT_ERROR;
	for (int i = optind; i < argc && status == MUSE_EXIT_OK; i++)
		if (add_input(b, argv[i], &shown))
			status = MUSE_EXIT_ERROR;
	if (status == MUSE_EXIT_OK) {
		pr.name = NULL;     /* the phases are of all inputs */
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
