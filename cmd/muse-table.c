/*
 * muse-table - looks after a table directory (SPEC 2; muse-table(1)):
 * lists its versions and files, and rotates it through its tiers:
 * compaction of old partitions, expiry of partitions a sketch store
 * covers, removal of what no kept version names.  Every change is one
 * commit, so readers never see a half-rotated table.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "opts.h"
#include "store.h"
#include "table.h"
#include "ts.h"

static const char *prog = "muse-table";

enum { OPT_AS_OF = CHAR_MAX + 1, OPT_BEFORE, OPT_COVERED_BY, OPT_GRACE,
	OPT_KEEP, OPT_LEVEL, OPT_OLDER_THAN };

static const struct option longopts[] = {
	{ "as-of", required_argument, NULL, OPT_AS_OF },
	{ "before", required_argument, NULL, OPT_BEFORE },
	{ "covered-by", required_argument, NULL, OPT_COVERED_BY },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "help", no_argument, NULL, 'h' },
	{ "keep", required_argument, NULL, OPT_KEEP },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "older-than", required_argument, NULL, OPT_OLDER_THAN },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-table log DIR\n"
	    "       muse-table ls [--as-of VERSION] DIR\n"
	    "       muse-table compact [-v] [--before DATE | --older-than DAYS]\n"
	    "                  [--level N] DIR\n"
	    "       muse-table expire [-v] (--before DATE | --older-than DAYS)\n"
	    "                  --covered-by STORE DIR\n"
	    "       muse-table vacuum [-v] [--keep N] [--grace SEC] DIR\n"
	    "       muse-table -h | -V\n"
	    "Look after a table directory written by muse-ingest -O: list its\n"
	    "versions and files, and move old partitions through the tiers.  Each\n"
	    "change is one commit: readers see the table before it or after it.\n"
	    "\n"
	    "  log        every version: number, files, rows, bytes, commit time\n"
	    "  ls         the files of the newest version (or --as-of) as TSV\n"
	    "  compact    rewrite each old partition as one file at a higher zstd\n"
	    "             level (default: partitions before today - 7 days)\n"
	    "  expire     drop old partitions whose days STORE covers (the raw\n"
	    "             rows go, the sketches stay)\n"
	    "  vacuum     remove old manifests and the files no kept version names\n"
	    "\n"
	    "      --as-of VERSION    ls: that version instead of the newest\n"
	    "      --before DATE      partitions of days before DATE (YYYY-MM-DD)\n"
	    "      --covered-by STORE expire: only days this sketch store covers\n"
	    "      --grace SEC        vacuum: spare unnamed files younger than SEC\n"
	    "                         seconds, a writer's before it commits\n"
	    "                         (default 3600)\n"
	    "  -h, --help             show this help and exit\n"
	    "      --keep N           vacuum: versions kept (default 10)\n"
	    "      --level N          compact: zstd level, 1 to 22 (default 19)\n"
	    "      --older-than DAYS  partitions of days before today (UTC) - DAYS\n"
	    "  -v, --verbose          say what was done, on stderr\n"
	    "  -V, --version          show the version and exit\n"
	    "\n"
	    "Exit status: 0 success (also when there was nothing to do), 2 error.\n");
}

struct opts {
	uint64_t as_of, keep, grace, level;
	int64_t before;
	int has_before, verbose;
	const char *covered_by;
};

static int fail(const struct muse_err *e)
{
	muse_cli_err(prog, e);
	return MUSE_EXIT_ERROR;
}

static void day_str(int64_t day, char buf[16])
{
	if (day == MUSE_TABLE_NODATE)
		strcpy(buf, "-");
	else
		muse_day_format(day, buf);
}

static int cmd_log(const struct opts *o, const char *dir)
{
	struct muse_manifest newest;
	struct muse_err e;

	(void)o;
	muse_err_clear(&e);
	if (muse_table_load(dir, 0, &newest, &e))
		return fail(&e);
	printf("version\tfiles\trows\tbytes\tcommitted\n");
	for (uint64_t v = newest.version; v >= 1; v--) {
		struct muse_manifest m;
		struct stat st;
		char path[4096], when[32] = "-";
		uint64_t rows = 0, bytes = 0;

		if (muse_table_load(dir, v, &m, &e)) {
			/* removed by vacuum: the log ends there */
			if (e.sys_errno)
				break;
			muse_manifest_free(&newest);
			return fail(&e);
		}
		for (size_t i = 0; i < m.n; i++) {
			rows += m.f[i].rows;
			bytes += m.f[i].bytes;
		}
		snprintf(path, sizeof(path), "%s/versions/%08" PRIu64, dir, v);
		if (stat(path, &st) == 0) {
			struct tm tm;

			gmtime_r(&st.st_mtime, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		}
		printf("%" PRIu64 "\t%zu\t%" PRIu64 "\t%" PRIu64 "\t%s\n", v, m.n,
		    rows, bytes, when);
		muse_manifest_free(&m);
	}
	muse_manifest_free(&newest);
	return MUSE_EXIT_OK;
}

static int cmd_ls(const struct opts *o, const char *dir)
{
	struct muse_manifest m;
	struct muse_err e;

	muse_err_clear(&e);
	if (muse_table_load(dir, o->as_of, &m, &e))
		return fail(&e);
	printf("table\tdate\tbucket\trows\tbytes\tmin_ts\tmax_ts\txxh64\tschema\tpath\n");
	for (size_t i = 0; i < m.n; i++) {
		const struct muse_table_file *f = &m.f[i];
		char day[16];

		day_str(f->day, day);
		printf("%s\t%s\t%u/%u\t%" PRIu64 "\t%" PRIu64 "\t%" PRId64 "\t%"
		    PRId64 "\t%016" PRIx64 "\t%s\t%s\n", muse_table_name(f->table),
		    day, f->bucket, f->nbuckets, f->rows, f->bytes, f->min_ts,
		    f->max_ts, f->xxh64, f->schema, f->path);
	}
	muse_manifest_free(&m);
	return MUSE_EXIT_OK;
}

static void report(const struct opts *o, const char *dir, const char *what,
	const struct muse_table_rotation *r)
{
	if (!o->verbose)
		return;
	if (r->version == 0)
		fprintf(stderr, "%s: %s: nothing %s\n", prog, dir, what);
	else
		fprintf(stderr, "%s: %s: version %" PRIu64 ": %s %" PRIu64
		    " partitions, %" PRIu64 " files, %" PRIu64 " bytes -> %"
		    PRIu64 " files, %" PRIu64 " bytes\n", prog, dir, r->version,
		    what, r->partitions, r->files_in, r->bytes_in, r->files_out,
		    r->bytes_out);
}

static int cmd_compact(const struct opts *o, const char *dir)
{
	struct muse_table_rotation r;
	struct muse_err e;

	muse_err_clear(&e);
	if (muse_table_compact(dir, o->before, (int)o->level, &r, &e))
		return fail(&e);
	report(o, dir, "compacted", &r);
	return MUSE_EXIT_OK;
}

static int cmd_expire(const struct opts *o, const char *dir)
{
	struct muse_table_rotation r;
	struct muse_err e;
	muse_store *s;
	int64_t from, to;

	muse_err_clear(&e);
	if (!o->has_before)
		return muse_cli_usage_error(prog,
		    "expire needs --before DATE or --older-than DAYS");
	if (o->covered_by == NULL)
		return muse_cli_usage_error(prog, "expire needs --covered-by STORE");
	if ((s = muse_store_open(o->covered_by, &e)) == NULL) {
		if (e.code == MUSE_OK) {
			muse_err_where(&e, o->covered_by, 0, UINT64_MAX);
			muse_err_set(&e, MUSE_EUSAGE, "not a store with an index "
			    "(a sorted sketch stream written by muse-sketch or "
			    "muse-merge)");
		}
		return fail(&e);
	}
	if (muse_store_days(s, &from, &to)) {
		muse_store_free(s);
		muse_err_where(&e, o->covered_by, 0, UINT64_MAX);
		muse_err_set(&e, MUSE_EUSAGE, "the store has no date dimension "
		    "or no record: it covers no day");
		return fail(&e);
	}
	muse_store_free(s);
	if (muse_table_expire(dir, o->before, from, to, &r, &e))
		return fail(&e);
	report(o, dir, "expired", &r);
	return MUSE_EXIT_OK;
}

static int cmd_vacuum(const struct opts *o, const char *dir)
{
	struct muse_err e;
	uint64_t removed;

	muse_err_clear(&e);
	if (muse_table_vacuum(dir, o->keep, o->grace, &removed, &e))
		return fail(&e);
	if (o->verbose)
		fprintf(stderr, "%s: %s: removed %" PRIu64 " files\n", prog, dir,
		    removed);
	return MUSE_EXIT_OK;
}

enum { O_AS_OF = 1, O_BEFORE = 2, O_COVERED = 4, O_GRACE = 8, O_KEEP = 16,
	O_LEVEL = 32 };

static const struct {
	const char *name;
	int (*run)(const struct opts *, const char *);
	unsigned opts;
} cmds[] = {
	{ "log", cmd_log, 0 },
	{ "ls", cmd_ls, O_AS_OF },
	{ "compact", cmd_compact, O_BEFORE | O_LEVEL },
	{ "expire", cmd_expire, O_BEFORE | O_COVERED },
	{ "vacuum", cmd_vacuum, O_GRACE | O_KEEP },
};

static int64_t today(void)
{
	return muse_ts_day((int64_t)time(NULL));
}

int main(int argc, char **argv)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ O_AS_OF, "--as-of" }, { O_BEFORE, "--before/--older-than" },
		{ O_COVERED, "--covered-by" }, { O_GRACE, "--grace" },
		{ O_KEEP, "--keep" }, { O_LEVEL, "--level" },
	};
	struct opts o = { .keep = 10, .grace = 3600, .level = 19 };
	unsigned given = 0;
	const char *cmd;
	size_t k;
	int ki;
	uint64_t v;
	int c;

	muse_cli_setup();
	o.before = today() - 7;
	while ((c = muse_cli_getopt(prog, argc, argv, "hvV", longopts)) != -1) {
		switch (c) {
		case OPT_AS_OF:
			if (muse_cli_u64(optarg, 1, UINT64_MAX, &o.as_of))
				return muse_cli_usage_error(prog,
				    "bad --as-of \"%s\" (a version number)", optarg);
			given |= O_AS_OF;
			break;
		case OPT_BEFORE:
			if (muse_day_parse(optarg, strlen(optarg), &o.before))
				return muse_cli_usage_error(prog,
				    "bad --before \"%s\" (YYYY-MM-DD)", optarg);
			o.has_before = 1;
			given |= O_BEFORE;
			break;
		case OPT_COVERED_BY:
			o.covered_by = optarg;
			given |= O_COVERED;
			break;
		case OPT_GRACE:
			if (muse_cli_u64(optarg, 0, UINT32_MAX, &o.grace))
				return muse_cli_usage_error(prog,
				    "bad --grace \"%s\" (seconds)", optarg);
			given |= O_GRACE;
			break;
		case 'h':
			usage();
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		case OPT_KEEP:
			if (muse_cli_u64(optarg, 1, UINT32_MAX, &o.keep))
				return muse_cli_usage_error(prog,
				    "bad --keep \"%s\" (1 or more)", optarg);
			given |= O_KEEP;
			break;
		case OPT_LEVEL:
			if (muse_cli_u64(optarg, 1, 22, &o.level))
				return muse_cli_usage_error(prog,
				    "bad --level \"%s\" (1 to 22)", optarg);
			given |= O_LEVEL;
			break;
		case OPT_OLDER_THAN:
			if (muse_cli_u64(optarg, 0, 1000000, &v))
				return muse_cli_usage_error(prog,
				    "bad --older-than \"%s\" (days)", optarg);
			o.before = today() - (int64_t)v;
			o.has_before = 1;
			given |= O_BEFORE;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'V':
			muse_cli_version(prog);
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		default:
			return muse_cli_usage_error(prog, MUSE_GETOPT_ERROR);
		}
	}
	if (optind == argc)
		return muse_cli_usage_error(prog,
		    "no command (log, ls, compact, expire, vacuum)");
	cmd = argv[optind++];
	if ((ki = muse_cli_command(prog, cmd, cmds,
	    sizeof(cmds) / sizeof(cmds[0]), sizeof(cmds[0]))) < 0)
		return MUSE_EXIT_ERROR;
	k = (size_t)ki;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((given & names[i].bit) && !(cmds[k].opts & names[i].bit))
			return muse_cli_usage_error(prog, "%s is not an option of %s",
			    names[i].name, cmd);
	if (argc - optind != 1)
		return muse_cli_usage_error(prog, "%s takes one DIR", cmd);
	if (!muse_table_is_dir(argv[optind])) {
		muse_cli_warn(prog, "%s: not a table directory (no versions/)",
		    argv[optind]);
		return MUSE_EXIT_ERROR;
	}
	return muse_cli_close_stdout(prog, cmds[k].run(&o, argv[optind]));
}
