/*
 * muse-query - ad-hoc questions over sketch stores (SPEC 7).
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "query.h"
#include "stream.h"

static const char *prog = "muse-query";

enum { OPT_CI = CHAR_MAX + 1, OPT_SORT, OPT_STATS, OPT_TOP };

static const struct option longopts[] = {
	{ "asset", required_argument, NULL, 'a' },
	{ "by", required_argument, NULL, 'b' },
	{ "ci", required_argument, NULL, OPT_CI },
	{ "country", required_argument, NULL, 'c' },
	{ "date", required_argument, NULL, 'd' },
	{ "format", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ "metrics", required_argument, NULL, 'm' },
	{ "segment", required_argument, NULL, 's' },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "title", required_argument, NULL, 't' },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-query [-hV] [-a LIST] [-t LIST] [-s LIST] [-c LIST] [-d RANGE]\n"
	    "                  [-b DIMS] [-m LIST] [--ci LEVEL] [--sort METRIC[:asc]]\n"
	    "                  [--stats] [--top N] [-o FORMAT] STORE...\n"
	    "Answer questions over sketch stores: filter keys, group them, unite\n"
	    "their sketches (a user counts once in any union) and print metrics.\n"
	    "STORE - reads standard input.\n"
	    "\n"
	    "  -a, --asset LIST       assets (comma-separated, shell globs allowed)\n"
	    "  -b, --by DIMS          group by title, asset, date, week, month,\n"
	    "                         segment, country; none = one row (default)\n"
	    "      --ci LEVEL         add bounds of estimates: 68, 95 or 99\n"
	    "  -c, --country LIST     countries\n"
	    "  -d, --date RANGE       YYYY-MM-DD, FROM..TO, FROM.., ..TO, YYYY-MM,\n"
	    "                         YYYY-Qn (inclusive)\n"
	    "  -h, --help             show this help and exit\n"
	    "  -m, --metrics LIST     impressions, reach, plays, qplays, qreach,\n"
	    "                         areach, watch_s, take_rate, authentic_rate,\n"
	    "                         bounce_rate (default impressions,reach,plays,\n"
	    "                         qreach,take_rate)\n"
	    "  -o, --format FORMAT    table (default on a terminal), tsv (default\n"
	    "                         otherwise), csv, json\n"
	    "  -s, --segment LIST     audience segments ('*' is all users, the\n"
	    "                         default)\n"
	    "      --sort METRIC[:asc]  order rows by a metric (descending)\n"
	    "      --stats            report on stderr how many blocks were read\n"
	    "  -t, --title LIST       titles\n"
	    "      --top N            keep the first N rows\n"
	    "  -V, --version          show the version and exit\n"
	    "\n"
	    "Exit status: 0 success, 2 error (bad store, usage, I/O).\n");
}

static void warn_cb(void *ctx, const char *msg)
{
	(void)ctx;
	muse_cli_warn(prog, "%s", msg);
}

int main(int argc, char **argv)
{
	struct muse_err e;
	muse_query *q;
	int c, rc = 0, status = MUSE_EXIT_OK, fmt_set = 0, stats = 0;
	uint64_t v;

	muse_cli_setup();
	muse_err_clear(&e);
	if ((q = muse_query_new(&e)) == NULL) {
		muse_cli_err(prog, &e);
		return MUSE_EXIT_ERROR;
	}
	while ((c = getopt_long(argc, argv, "a:b:c:d:hm:o:s:t:V", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'a':
			rc = muse_query_filter(q, MUSE_DIM_ASSET, optarg, &e);
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
	if (!fmt_set)
		muse_query_set_format(q, isatty(STDOUT_FILENO) ? MUSE_FMT_TABLE :
		    MUSE_FMT_TSV);
	for (int i = optind; i < argc && status == MUSE_EXIT_OK; i++)
		if (muse_query_add_store(q, argv[i], &e)) {
			muse_cli_err(prog, &e);
			status = MUSE_EXIT_ERROR;
		}
	if (status == MUSE_EXIT_OK &&
	    muse_query_write(q, stdout, warn_cb, NULL, &e)) {
		if (e.name[0] == '\0' && e.code == MUSE_EIO)
			muse_err_where(&e, "<stdout>", 0, UINT64_MAX);
		muse_cli_err(prog, &e);
		status = MUSE_EXIT_ERROR;
	}
	if (stats && status == MUSE_EXIT_OK) {
		uint64_t nread, ntotal, nscanned;

		muse_query_stats(q, &nread, &ntotal, &nscanned);
		muse_cli_warn(prog, "read %llu of %llu indexed blocks; %llu "
		    "store(s) read whole", (unsigned long long)nread,
		    (unsigned long long)ntotal, (unsigned long long)nscanned);
	}
	muse_query_free(q);
	return muse_cli_close_stdout(prog, status);
}
