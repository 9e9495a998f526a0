/*
 * muse-gen - deterministic synthetic impressions, plays, affinities and
 * assets, as CSV or straight as event streams, for demos, tests and
 * benchmarks.  The simulation is lib/gen.c; this file reads the options,
 * opens the outputs, draws the progress line and commits the outputs all
 * together or not at all.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "gen.h"
#include "stream.h"
#include "ts.h"

static const char *prog = "muse-gen";

#define NTABLES MUSE_GEN_NTABLES

static void usage(FILE *fp)
{
	fprintf(fp,
	    "Usage: %s [-hqV] [-d N] [-s N] [-T N] [-u N] [--events] [--progress]\n"
	    "                [--start DATE] -O DIR\n"
	    "       %s [-fhqV] [-d N] [-s N] [-T N] [-u N] [--events] [--progress]\n"
	    "                [--start DATE] --table TABLE [-o FILE]\n",
	    prog, prog);
}

static void help(void)
{
	usage(stdout);
	printf("\n"
	    "Writes deterministic synthetic impressions, plays, affinities and "
	    "assets as\n"
	    "CSV, or with --events as event streams.\n"
	    "\n"
	    "  -d, --days N         number of days (default 7)\n"
	    "      --events         write event streams, as muse-ingest makes "
	    "of the CSV,\n"
	    "                       instead of CSV (DIR/TABLE.mev with -O)\n"
	    "  -f, --force          with --events: write binary output to a "
	    "terminal\n"
	    "  -h, --help           print this help and exit\n"
	    "  -O, --output-dir DIR write DIR/impressions.csv, DIR/plays.csv,\n"
	    "                       DIR/affinities.csv and DIR/assets.csv\n"
	    "                       (DIR is created if missing)\n"
	    "  -o, --output FILE    with --table: write FILE instead of "
	    "standard output\n"
	    "      --progress       show progress even when stderr is not a "
	    "terminal\n"
	    "  -q, --quiet          no progress\n"
	    "  -s, --seed N         seed (default 42)\n"
	    "      --start DATE     first day, YYYY-MM-DD (default 2025-07-01)\n"
	    "      --table TABLE    write one table: impressions, plays, "
	    "affinities or assets\n"
	    "  -T, --titles N       number of titles, 1 to 9999 (default 50)\n"
	    "  -u, --users N        number of users (default 10000)\n"
	    "  -V, --version        print the version and exit\n"
	    "\n"
	    "The same options always give the same bytes; --table X writes "
	    "exactly\n"
	    "DIR/X.csv, and with --events exactly what muse-ingest makes of "
	    "it.\n"
	    "\n"
	    "Exit status: 0 success, 2 error (usage, I/O).\n");
}

enum {
	OPT_EVENTS = CHAR_MAX + 1,
	OPT_PROGRESS,
	OPT_START,
	OPT_TABLE,
};

static const struct option longopts[] = {
	{ "days", required_argument, NULL, 'd' },
	{ "events", no_argument, NULL, OPT_EVENTS },
	{ "force", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "output", required_argument, NULL, 'o' },
	{ "output-dir", required_argument, NULL, 'O' },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "seed", required_argument, NULL, 's' },
	{ "start", required_argument, NULL, OPT_START },
	{ "table", required_argument, NULL, OPT_TABLE },
	{ "titles", required_argument, NULL, 'T' },
	{ "users", required_argument, NULL, 'u' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int bad_number(const char *opt, const char *arg, uint64_t min,
	uint64_t max)
{
	return muse_cli_usage_error(prog, "bad %s value \"%s\": expected an "
	    "integer from %llu to %llu", opt, arg, (unsigned long long)min,
	    (unsigned long long)max);
}

/* ------------------------------------------------------------------ */
/* Progress                                                            */
/* ------------------------------------------------------------------ */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void show_day(void *ctx, const struct muse_gen_progress *p)
{
	double dt = now() - *(const double *)ctx;

	fprintf(stderr, "\r%s: day %u/%u: %llu rows, %.1f MB, %.0f MB/s ",
	    prog, (unsigned)p->day, (unsigned)p->days,
	    (unsigned long long)p->rows, p->bytes / 1e6,
	    dt > 0 ? p->bytes / 1e6 / dt : 0.0);
}

/* The last line; with --events the bytes are those of the CSV. */
static void show_total(const muse_gen *g, double t0)
{
	struct muse_gen_progress p;
	double dt = now() - t0;

	muse_gen_totals(g, &p);
	fprintf(stderr, "\r%s: %llu rows, %.1f MB in %.2f s (%.0f MB/s)\n",
	    prog, (unsigned long long)p.rows, p.bytes / 1e6, dt,
	    dt > 0 ? p.bytes / 1e6 / dt : 0.0);
}

/* ------------------------------------------------------------------ */
/* Outputs                                                             */
/* ------------------------------------------------------------------ */

/*
 * Opens the outputs: all four tables in dir, or the one table.  On
 * failure reports, aborts what was opened, and is -1.
 */
static int open_outputs(struct muse_out *out, struct muse_gen_out *sink,
	const char *dir, int table, const char *output, int events, int force)
{
	struct muse_err e;

	muse_err_clear(&e);
	if (dir != NULL) {
		if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
			muse_cli_warn(prog, "%s: cannot create directory: %s",
			    dir, strerror(errno));
			return -1;
		}
		for (int i = 0; i < NTABLES; i++) {
			size_t n = strlen(dir) + 32;
			char *path = malloc(n);

			if (path == NULL) {
				muse_cli_warn(prog, "out of memory");
				goto fail;
			}
			snprintf(path, n, "%s/%s.%s", dir,
			    muse_table_name(i + 1), events ? "mev" : "csv");
			if (muse_out_open(&out[i], path, events, force,
			    &e) != 0) {
				free(path);
				muse_cli_err(prog, &e);
				goto fail;
			}
			free(path);
		}
	} else if (muse_out_open(&out[table - 1], output, events, force,
	    &e) != 0) {
		muse_cli_err(prog, &e);
		return -1;
	}
	for (int i = 0; i < NTABLES; i++) {
		sink[i].fp = out[i].fp;
		sink[i].name = out[i].is_stdout ? NULL : out[i].path;
	}
	return 0;
fail:
	for (int i = 0; i < NTABLES; i++)
		if (out[i].fp != NULL)
			muse_out_abort(&out[i]);
	return -1;
}

int main(int argc, char **argv)
{
	struct muse_gen_opts o;
	struct muse_gen_out sink[NTABLES];
	struct muse_out out[NTABLES];
	struct muse_err e;
	muse_gen *g;
	const char *dir = NULL, *output = NULL, *start = "2025-07-01";
	uint64_t users = 10000, days = 7, titles = 50, seed = 42;
	int64_t first, last_ok;
	int c, table = 0, quiet = 0, progress = 0, events = 0, force = 0;
	int rc, status = MUSE_EXIT_OK, to_stdout;
	double t0;

	muse_cli_setup();
	memset(sink, 0, sizeof(sink));
	memset(out, 0, sizeof(out));
	while ((c = muse_cli_getopt(prog, argc, argv, "d:fhO:o:qs:T:u:V",
	    longopts)) != -1) {
		switch (c) {
		case 'd':
			if (muse_cli_u64(optarg, 1, MUSE_GEN_MAX_DAYS,
			    &days) != 0)
				return bad_number("--days", optarg, 1,
				    MUSE_GEN_MAX_DAYS);
			break;
		case OPT_EVENTS:
			events = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			help();
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		case 'O':
			dir = optarg;
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
		case 's':
			if (muse_cli_u64(optarg, 0, UINT64_MAX, &seed) != 0)
				return bad_number("--seed", optarg, 0,
				    UINT64_MAX);
			break;
		case OPT_START:
			start = optarg;
			break;
		case OPT_TABLE:
			if ((table = muse_table_lookup(optarg, &e)) < 0)
				return muse_cli_usage_error(prog, "%s", e.msg);
			break;
		case 'T':
			if (muse_cli_u64(optarg, 1, MUSE_GEN_MAX_TITLES,
			    &titles) != 0)
				return bad_number("--titles", optarg, 1,
				    MUSE_GEN_MAX_TITLES);
			break;
		case 'u':
			if (muse_cli_u64(optarg, 1, MUSE_GEN_MAX_USERS,
			    &users) != 0)
				return bad_number("--users", optarg, 1,
				    MUSE_GEN_MAX_USERS);
			break;
		case 'V':
			muse_cli_version(prog);
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		default:
			return muse_cli_usage_error(prog, MUSE_GETOPT_ERROR);
		}
	}
	if (optind < argc)
		return muse_cli_usage_error(prog, "unexpected argument \"%s\"",
		    argv[optind]);
	if (dir != NULL && table > 0)
		return muse_cli_usage_error(prog, "-O and --table cannot be "
		    "used together");
	if (dir == NULL && table <= 0)
		return muse_cli_usage_error(prog, "say where to write: -O DIR "
		    "or --table TABLE");
	if (output != NULL && table <= 0)
		return muse_cli_usage_error(prog, "-o needs --table");
	if (dir != NULL && *dir == '\0')
		return muse_cli_usage_error(prog, "bad -O value \"\": empty "
		    "directory name");
	/* The bounds of lib/gen.h, said in terms of the options. */
	last_ok = muse_days_from_civil(9999, 12, 30);
	if (muse_day_parse(start, strlen(start), &first) != 0 || first < 1 ||
	    first > last_ok)
		return muse_cli_usage_error(prog, "bad --start value \"%s\": "
		    "expected a date YYYY-MM-DD from 1970-01-02 to 9999-12-30",
		    start);
	if (first + (int64_t)days - 1 > last_ok)
		return muse_cli_usage_error(prog, "--start %s with --days %llu "
		    "goes past 9999-12-30", start, (unsigned long long)days);

	memset(&o, 0, sizeof(o));
	o.users = (uint32_t)users;
	o.days = (uint32_t)days;
	o.titles = (uint32_t)titles;
	o.seed = seed;
	o.start = first;
	muse_err_clear(&e);
	if ((g = muse_gen_new(&o, &e)) == NULL) {
		muse_cli_err(prog, &e);
		return MUSE_EXIT_ERROR;
	}
	if (open_outputs(out, sink, dir, table, output, events, force) != 0) {
		muse_gen_free(g);
		return MUSE_EXIT_ERROR;
	}
	to_stdout = dir == NULL && out[table - 1].is_stdout;

	progress = muse_cli_progress_wanted(progress, quiet);
	t0 = now();
	if (events)
		rc = muse_gen_run_events(g, sink, progress ? show_day : NULL,
		    &t0, &e);
	else
		rc = muse_gen_run(g, sink, progress ? show_day : NULL, &t0,
		    &e);
	if (progress)
		show_total(g, t0);
	if (rc != 0) {
		muse_cli_err(prog, &e);
		status = MUSE_EXIT_ERROR;
	}

	/* All tables or none: nothing is renamed into place after a failure. */
	muse_err_clear(&e);
	for (int i = 0; i < NTABLES; i++) {
		if (out[i].fp == NULL)
			continue;
		if (status != MUSE_EXIT_OK) {
			muse_out_abort(&out[i]);
		} else if (!out[i].is_stdout &&
		    muse_out_commit(&out[i], &e) != 0) {
			muse_cli_err(prog, &e);
			status = MUSE_EXIT_ERROR;
		}
	}
	muse_gen_free(g);
	if (to_stdout)
		return status == MUSE_EXIT_OK ?
		    muse_cli_close_stdout(prog, status) : status;
	return status;
}
