/*
 * muse-merge - sketch streams to one sorted, merged stream; roll-ups.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "merge.h"
#include "opts.h"
#include "suggest.h"

static const char *prog = "muse-merge";

enum { OPT_DROP = CHAR_MAX + 1, OPT_MEMORY, OPT_PROGRESS, OPT_ROLLUP };

static const struct option longopts[] = {
	{ "drop", required_argument, NULL, OPT_DROP },
	{ "force", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "output", required_argument, NULL, 'o' },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "rollup", required_argument, NULL, OPT_ROLLUP },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-merge [-fhqV] [-o FILE] [--rollup week|month|quarter|all]\n"
	    "                  [--drop DIMS] [--memory SIZE] [--progress] [FILE...]\n"
	    "Merge sketch streams (files, or concatenated on standard input, sorted\n"
	    "or not) into one sorted stream: counters add, sketches unite.\n"
	    "\n"
	    "      --drop DIMS        drop dimensions (segment keeps the '*' rows)\n"
	    "  -f, --force            write binary output to a terminal\n"
	    "  -h, --help             show this help and exit\n"
	    "      --memory SIZE      memory for unsorted input before spilling to\n"
	    "                         $TMPDIR (default 1G; suffix K, M or G)\n"
	    "  -o, --output FILE      write FILE (atomically) instead of stdout\n"
	    "      --progress         show progress even when stderr is not a\n"
	    "                         terminal\n"
	    "  -q, --quiet            no progress\n"
	    "      --rollup GRAIN     dates to weeks (ISO, Monday), months or\n"
	    "                         quarters, or all (drop the date dimension)\n"
	    "  -V, --version          show the version and exit\n"
	    "\n"
	    "Exit status: 0 success, 2 error (bad input, mismatched parameters,\n"
	    "usage, I/O).\n");
}

/* The library's progress reports, drawn on the line. */
static void on_progress(void *ctx, const char *phase, uint64_t done,
	uint64_t total)
{
	muse_progress_count(ctx, phase, done, total);
}

int main(int argc, char **argv)
{
	struct muse_merge_opts o = {
		.rollup = -1,
		.memory = (size_t)1 << 30,
		.tmpdir = getenv("TMPDIR"),
		/* Compressing the output overlaps merging when a CPU is free. */
		.write_behind = sysconf(_SC_NPROCESSORS_ONLN) > 1,
	};
	struct muse_err e;
	struct muse_out out;
	struct muse_progress pr;
	const char *output = NULL;
	char what[64];
	muse_merge *m;
	int c, force = 0, progress = 0, quiet = 0, status = MUSE_EXIT_OK;

	muse_cli_setup();
	muse_err_clear(&e);
	while ((c = muse_cli_getopt(prog, argc, argv, "fho:qV",
	    longopts)) != -1) {
		switch (c) {
		case OPT_DROP:
			if (muse_parse_dims(optarg, &o.drop, &e))
				return muse_cli_usage_error(prog, "%s", e.msg);
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			usage();
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		case OPT_MEMORY:
			if (muse_cli_size(optarg, &o.memory))
				return muse_cli_usage_error(prog,
				    "bad --memory \"%s\"", optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case OPT_ROLLUP:
			if (strcmp(optarg, "week") == 0)
				o.rollup = MUSE_GRAIN_WEEK;
			else if (strcmp(optarg, "month") == 0)
				o.rollup = MUSE_GRAIN_MONTH;
			else if (strcmp(optarg, "quarter") == 0)
				o.rollup = MUSE_GRAIN_QUARTER;
			else if (strcmp(optarg, "all") == 0)
				o.drop |= 1u << MUSE_DIM_DATE;
			else {
				static const char *const grains[] = { "week", "month",
					"quarter", "all" };

				muse_err_unknown(&e, "rollup", optarg,
				    strlen(optarg), grains, 4);
				return muse_cli_usage_error(prog, "%s", e.msg);
			}
			break;
		case 'V':
			muse_cli_version(prog);
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		default:
			return muse_cli_usage_error(prog, MUSE_GETOPT_ERROR);
		}
	}
	if (o.tmpdir == NULL || *o.tmpdir == '\0')
		o.tmpdir = "/tmp";
	/*
	 * Progress names each input as it is read (with the records the
	 * library spools from it), then the merge with its count of records.
	 */
	muse_progress_start(&pr, prog, muse_cli_progress_wanted(progress, quiet));
	if (pr.on) {
		o.progress.fn = on_progress;
		o.progress.ctx = &pr;
	}
	if ((m = muse_merge_new(&o, &e)) == NULL) {
		muse_cli_err(prog, &e);
		return MUSE_EXIT_ERROR;
	}
	if (optind == argc) {
		muse_progress_input(&pr, "<stdin>");
		if (muse_merge_add(m, "-", &e))
			status = MUSE_EXIT_ERROR;
	}
	for (int i = optind; i < argc && status == MUSE_EXIT_OK; i++) {
		muse_progress_input(&pr, strcmp(argv[i], "-") ? argv[i] : "<stdin>");
		if (muse_merge_add(m, argv[i], &e)) {
			if (e.name[0] == '\0')
				muse_err_where(&e, argv[i], 0, UINT64_MAX);
			status = MUSE_EXIT_ERROR;
		}
	}
	if (status == MUSE_EXIT_OK) {
		int n = argc > optind ? argc - optind : 1;

		snprintf(what, sizeof(what), "merging %d input%s", n,
		    n > 1 ? "s" : "");
		pr.name = NULL;     /* the merge is of all inputs */
		muse_progress_note(&pr, what);
	}
	if (status == MUSE_EXIT_OK &&
	    (muse_out_open(&out, output, 1, force, &e) ||
	    muse_merge_finish(m, out.fp, output, &e) ||
	    muse_out_commit(&out, &e))) {
		muse_out_abort(&out);
		status = MUSE_EXIT_ERROR;
	}
	muse_progress_end(&pr);
	if (status != MUSE_EXIT_OK)
		muse_cli_err(prog, &e);
	muse_merge_free(m);
	return muse_cli_close_stdout(prog, status);
}
