/*
 * muse-delta - deltas between versions of a store: diff, apply (in place,
 * atomically), reverse, and the publishing directory that consumers
 * follow (SPEC 2; muse-delta(1)).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "delta.h"

static const char *prog = "muse-delta";

enum { OPT_IN_PLACE = CHAR_MAX + 1, OPT_PROGRESS, OPT_REVERSE,
	OPT_SNAPSHOT_EVERY, OPT_TO_VERSION };

static const struct option longopts[] = {
	{ "force", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "in-place", no_argument, NULL, OPT_IN_PLACE },
	{ "output", required_argument, NULL, 'o' },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "reverse", required_argument, NULL, OPT_REVERSE },
	{ "snapshot-every", required_argument, NULL, OPT_SNAPSHOT_EVERY },
	{ "to-version", required_argument, NULL, OPT_TO_VERSION },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-delta diff [-fq] [-o FILE] [--progress] [--reverse FILE]\n"
	    "                        [--to-version N] OLD NEW\n"
	    "       muse-delta apply [-fq] [-o FILE | --in-place] [--progress]\n"
	    "                        STORE DELTA...\n"
	    "       muse-delta reverse [-fq] [-o FILE] [--progress] STORE DELTA\n"
	    "       muse-delta stamp [-f] [-o FILE | --in-place] STORE VERSION\n"
	    "       muse-delta info FILE...\n"
	    "       muse-delta publish [-q] [--progress] [--snapshot-every N] DIR STORE\n"
	    "       muse-delta checkout [-f] [-o FILE] DIR [VERSION]\n"
	    "       muse-delta -h | -V\n"
	    "Compute what changed between two versions of a store (a delta: upserts\n"
	    "and deletes of keys), apply deltas, reverse them, and publish versions\n"
	    "in a directory that any number of readers follow.  A delta names the\n"
	    "version and content checksum it starts from and produces; apply refuses\n"
	    "any other starting point and verifies the result.\n"
	    "\n"
	    "  diff       the delta from OLD to NEW\n"
	    "  apply      STORE with the deltas applied in order\n"
	    "  reverse    the delta that undoes DELTA (STORE is where DELTA starts)\n"
	    "  stamp      STORE again, with VERSION in its footer\n"
	    "  info       check stores and deltas; print versions, checksums, counts\n"
	    "  publish    STORE as the next version of the publishing directory DIR\n"
	    "  checkout   a version of DIR as a store (default the latest)\n"
	    "\n"
	    "  -f, --force            write binary output to a terminal\n"
	    "  -h, --help             show this help and exit\n"
	    "      --in-place         replace STORE atomically (apply, stamp)\n"
	    "  -o, --output FILE      write FILE (atomically) instead of stdout\n"
	    "      --progress         show progress even when stderr is not a\n"
	    "                         terminal (diff, apply, reverse, publish)\n"
	    "  -q, --quiet            no progress\n"
	    "      --reverse FILE     diff: also write the reverse delta to FILE\n"
	    "      --snapshot-every N  publish: a whole store every N versions, 1 to\n"
	    "                         100 (default 10); deltas between\n"
	    "      --to-version N     diff: the version the delta produces (default\n"
	    "                         NEW's if above OLD's, else OLD's + 1)\n"
	    "  -V, --version          show the version and exit\n"
	    "\n"
	    "Exit status: 0 success, 2 error (bad input, a delta that does not start\n"
	    "from the store, a publisher already at work, usage, I/O).\n");
}

struct opts {
	int force, in_place;
	const char *output, *reverse;
	int set_version;
	uint64_t to_version, snapshot_every;
	int seen_snapshot;
	/* Progress of diff, apply, reverse and publish: NULL when off. */
	const struct muse_progress_hook *progress;
};

/* The library's progress reports, drawn on the line. */
static void on_progress(void *ctx, const char *phase, uint64_t done,
	uint64_t total)
{
	muse_progress_count(ctx, phase, done, total);
}

static int fail(const struct muse_err *e)
{
	muse_cli_err(prog, e);
	return MUSE_EXIT_ERROR;
}

static void hex(uint64_t v, char buf[17])
{
	snprintf(buf, 17, "%016" PRIx64, v);
}

/* ---- diff ---- */

static int cmd_diff(const struct opts *o, int argc, char **argv)
{
	struct muse_out out, rev = { 0 };
	struct muse_delta_out fwd, rv = { 0 };
	struct muse_err e;

	muse_err_clear(&e);
	if (argc != 2)
		return muse_cli_usage_error(prog, "diff takes OLD and NEW");
	if (strcmp(argv[0], "-") == 0 && strcmp(argv[1], "-") == 0)
		return muse_cli_usage_error(prog,
		    "OLD and NEW cannot both be standard input");
	if (muse_out_open(&out, o->output, 1, o->force, &e))
		return fail(&e);
	if (o->reverse && muse_out_open(&rev, o->reverse, 1, 1, &e)) {
		muse_out_abort(&out);
		return fail(&e);
	}
	fwd.fp = out.fp;
	fwd.name = o->output ? o->output : "<stdout>";
	if (o->reverse) {
		rv.fp = rev.fp;
		rv.name = o->reverse;
	}
	if (muse_delta_diff(argv[0], argv[1], o->set_version, o->to_version,
	    &fwd, &rv, NULL, NULL, o->progress, &e) ||
	    (o->reverse && muse_out_commit(&rev, &e)) ||
	    muse_out_commit(&out, &e)) {
		muse_out_abort(&out);
		if (o->reverse)
			muse_out_abort(&rev);
		return fail(&e);
	}
	return MUSE_EXIT_OK;
}

/* ---- apply, stamp: to stdout, -o FILE, or in place ---- */

/*
 * Runs one operation into the output the options ask for: the store
 * itself replaced atomically (--in-place), FILE (-o), or stdout.
 */
static int run_out(const struct opts *o, const char *store,
	int (*op)(const char *store, const struct muse_delta_out *out,
	void *arg, struct muse_err *e), void *arg)
{
	struct muse_delta_out d;
	struct muse_err e;

	muse_err_clear(&e);
	if (o->in_place) {
		struct muse_delta_file f;
		char *target = realpath(store, NULL);

		if (target == NULL) {
			muse_cli_warn(prog, "%s: %s", store, strerror(errno));
			return MUSE_EXIT_ERROR;
		}
		if (muse_delta_file_open(&f, target, &e)) {
			free(target);
			return fail(&e);
		}
		d.fp = f.fp;
		d.name = store;
		if (op(store, &d, arg, &e) || muse_delta_file_commit(&f, &e)) {
			muse_delta_file_abort(&f);
			free(target);
			return fail(&e);
		}
		free(target);
		return MUSE_EXIT_OK;
	} else {
		struct muse_out out;

		if (muse_out_open(&out, o->output, 1, o->force, &e))
			return fail(&e);
		d.fp = out.fp;
		d.name = o->output ? o->output : "<stdout>";
		if (op(store, &d, arg, &e) || muse_out_commit(&out, &e)) {
			muse_out_abort(&out);
			return fail(&e);
		}
	}
	return MUSE_EXIT_OK;
}

struct apply_arg {
	const char *const *deltas;
	size_t n;
	const struct muse_progress_hook *progress;
};

static int op_apply(const char *store, const struct muse_delta_out *out,
	void *arg, struct muse_err *e)
{
	const struct apply_arg *a = arg;

	return muse_delta_apply(store, a->deltas, a->n, out, NULL, NULL,
	    a->progress, e);
}

static int op_stamp(const char *store, const struct muse_delta_out *out,
	void *arg, struct muse_err *e)
{
	return muse_delta_stamp(store, *(const uint64_t *)arg, out, e);
}

/* At most one operand may be standard input; --in-place needs a file. */
static int check_stdin(const struct opts *o, int argc, char **argv)
{
	int dash = 0;

	for (int i = 0; i < argc; i++)
		dash += strcmp(argv[i], "-") == 0;
	if (dash > 1)
		return muse_cli_usage_error(prog,
		    "standard input can be read only once");
	if (o->in_place && strcmp(argv[0], "-") == 0)
		return muse_cli_usage_error(prog,
		    "--in-place needs a store file, not standard input");
	return 0;
}

static int cmd_apply(const struct opts *o, int argc, char **argv)
{
	struct apply_arg a;

	if (argc < 2)
		return muse_cli_usage_error(prog, "apply takes STORE and DELTA...");
	if (check_stdin(o, argc, argv))
		return MUSE_EXIT_ERROR;
	a.deltas = (const char *const *)argv + 1;
	a.n = (size_t)argc - 1;
	a.progress = o->progress;
	return run_out(o, argv[0], op_apply, &a);
}

static int cmd_stamp(const struct opts *o, int argc, char **argv)
{
	uint64_t v;

	if (argc != 2)
		return muse_cli_usage_error(prog, "stamp takes STORE and VERSION");
	if (muse_cli_u64(argv[1], 0, UINT64_MAX, &v))
		return muse_cli_usage_error(prog, "bad VERSION \"%s\"", argv[1]);
	if (check_stdin(o, 1, argv))
		return MUSE_EXIT_ERROR;
	return run_out(o, argv[0], op_stamp, &v);
}

/* ---- reverse ---- */

static int cmd_reverse(const struct opts *o, int argc, char **argv)
{
	struct muse_out out;
	struct muse_delta_out rv;
	struct muse_err e;

	muse_err_clear(&e);
	if (argc != 2)
		return muse_cli_usage_error(prog, "reverse takes STORE and DELTA");
	if (check_stdin(o, argc, argv))
		return MUSE_EXIT_ERROR;
	if (muse_out_open(&out, o->output, 1, o->force, &e))
		return fail(&e);
	rv.fp = out.fp;
	rv.name = o->output ? o->output : "<stdout>";
	if (muse_delta_apply(argv[0], (const char *const *)argv + 1, 1, NULL,
	    &rv, NULL, o->progress, &e) || muse_out_commit(&out, &e)) {
		muse_out_abort(&out);
		return fail(&e);
	}
	return MUSE_EXIT_OK;
}

/* ---- info ---- */

static int cmd_info(const struct opts *o, int argc, char **argv)
{
	int status = MUSE_EXIT_OK;

	if (argc < 1)
		return muse_cli_usage_error(prog, "info takes FILE...");
	if (check_stdin(o, argc, argv))
		return MUSE_EXIT_ERROR;
	for (int i = 0; i < argc; i++) {
		struct muse_delta_info in;
		struct muse_err e;
		const char *name = strcmp(argv[i], "-") ? argv[i] : "<stdin>";
		char a[17], b[17];

		muse_err_clear(&e);
		if (muse_delta_info(argv[i], &in, &e)) {
			status = fail(&e);
			continue;
		}
		hex(in.content, a);
		if (in.h.kind == MUSE_KIND_SKETCH) {
			printf("%s: store: version %" PRIu64 " (checksum %s, %" PRIu64
			    " records): ok\n", name, in.version, a, in.records);
			continue;
		}
		hex(in.from_content, a);
		hex(in.to_content, b);
		printf("%s: delta: version %" PRIu64 " (checksum %s, %" PRIu64
		    " records) -> version %" PRIu64 " (checksum %s, %" PRIu64
		    " records): %" PRIu64 " upserts, %" PRIu64 " deletes: ok\n",
		    name, in.from_version, a, in.from_records, in.to_version, b,
		    in.to_records, in.upserts, in.deletes);
	}
	return status;
}

/* ---- publish, checkout ---- */

static int cmd_publish(const struct opts *o, int argc, char **argv)
{
	struct muse_err e;

	muse_err_clear(&e);
	if (argc != 2)
		return muse_cli_usage_error(prog, "publish takes DIR and STORE");
	if (muse_publish(argv[0], argv[1], o->snapshot_every, NULL, o->progress,
	    &e))
		return fail(&e);
	return MUSE_EXIT_OK;
}

static int cmd_checkout(const struct opts *o, int argc, char **argv)
{
	struct muse_out out;
	struct muse_err e;
	uint64_t v;
	char *path = NULL, buf[1 << 16];
	FILE *in;
	size_t n;
	int err = 0;

	muse_err_clear(&e);
	if (argc < 1 || argc > 2)
		return muse_cli_usage_error(prog, "checkout takes DIR [VERSION]");
	if (argc == 2 && muse_cli_u64(argv[1], 1, UINT64_MAX, &v))
		return muse_cli_usage_error(prog, "bad VERSION \"%s\"", argv[1]);
	if ((argc == 1 && muse_publish_latest(argv[0], &v, &e)) ||
	    muse_publish_materialize(argv[0], v, &path, &e))
		return fail(&e);
	if ((in = fopen(path, "rb")) == NULL) {
		muse_cli_warn(prog, "%s: cannot open: %s", path, strerror(errno));
		free(path);
		return MUSE_EXIT_ERROR;
	}
	if (muse_out_open(&out, o->output, 1, o->force, &e)) {
		fclose(in);
		free(path);
		return fail(&e);
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out.fp) != n)
			break;
	if (ferror(in))
		err = errno ? errno : EIO;
	fclose(in);
	if (err) {
		muse_out_abort(&out);
		muse_cli_warn(prog, "%s: read error: %s", path, strerror(err));
		free(path);
		return MUSE_EXIT_ERROR;
	}
	free(path);
	if (muse_out_commit(&out, &e)) {
		muse_out_abort(&out);
		return fail(&e);
	}
	return MUSE_EXIT_OK;
}

/* ---- main ---- */

/* The options each command takes. */
enum { O_FORCE = 1, O_OUTPUT = 2, O_IN_PLACE = 4, O_REVERSE = 8,
	O_SNAPSHOT = 16, O_TO_VERSION = 32 };

static const struct {
	const char *name;
	unsigned opts;
	int (*run)(const struct opts *o, int argc, char **argv);
} cmds[] = {
	{ "apply", O_FORCE | O_OUTPUT | O_IN_PLACE, cmd_apply },
	{ "checkout", O_FORCE | O_OUTPUT, cmd_checkout },
	{ "diff", O_FORCE | O_OUTPUT | O_REVERSE | O_TO_VERSION, cmd_diff },
	{ "info", 0, cmd_info },
	{ "publish", O_SNAPSHOT, cmd_publish },
	{ "reverse", O_FORCE | O_OUTPUT, cmd_reverse },
	{ "stamp", O_FORCE | O_OUTPUT | O_IN_PLACE, cmd_stamp },
};

int main(int argc, char **argv)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ O_FORCE, "--force" }, { O_OUTPUT, "--output" },
		{ O_IN_PLACE, "--in-place" }, { O_REVERSE, "--reverse" },
		{ O_SNAPSHOT, "--snapshot-every" }, { O_TO_VERSION, "--to-version" },
	};
	struct opts o = { .snapshot_every = 10 };
	unsigned given = 0;
	const char *cmd;
	size_t k;
	int ki;
	int c, progress = 0, quiet = 0, status;
	struct muse_progress pr;
	struct muse_progress_hook hook = { on_progress, &pr };

	muse_cli_setup();
	while ((c = muse_cli_getopt(prog, argc, argv, "fho:qV",
	    longopts)) != -1) {
		switch (c) {
		case 'f':
			o.force = 1;
			given |= O_FORCE;
			break;
		case 'h':
			usage();
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		case OPT_IN_PLACE:
			o.in_place = 1;
			given |= O_IN_PLACE;
			break;
		case 'o':
			o.output = optarg;
			given |= O_OUTPUT;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case OPT_REVERSE:
			o.reverse = optarg;
			given |= O_REVERSE;
			break;
		case OPT_SNAPSHOT_EVERY:
			if (muse_cli_u64(optarg, 1, 100, &o.snapshot_every))
				return muse_cli_usage_error(prog,
				    "bad --snapshot-every \"%s\" (1 to 100)", optarg);
			given |= O_SNAPSHOT;
			break;
		case OPT_TO_VERSION:
			if (muse_cli_u64(optarg, 0, UINT64_MAX, &o.to_version))
				return muse_cli_usage_error(prog,
				    "bad --to-version \"%s\"", optarg);
			o.set_version = 1;
			given |= O_TO_VERSION;
			break;
		case 'V':
			muse_cli_version(prog);
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		default:
			return muse_cli_usage_error(prog, MUSE_GETOPT_ERROR);
		}
	}
	if (optind == argc)
		return muse_cli_usage_error(prog, "no command (diff, apply, reverse, "
		    "stamp, info, publish, checkout)");
	cmd = argv[optind++];
	if ((ki = muse_cli_command(prog, cmd, cmds,
	    sizeof(cmds) / sizeof(cmds[0]), sizeof(cmds[0]))) < 0)
		return MUSE_EXIT_ERROR;
	k = (size_t)ki;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((given & names[i].bit) && !(cmds[k].opts & names[i].bit))
			return muse_cli_usage_error(prog, "%s is not an option of %s",
			    names[i].name, cmd);
	if (o.in_place && o.output)
		return muse_cli_usage_error(prog,
		    "--in-place and --output exclude each other");
	muse_progress_start(&pr, prog, muse_cli_progress_wanted(progress, quiet));
	pr.name = cmd;
	if (pr.on)
		o.progress = &hook;
	status = cmds[k].run(&o, argc - optind, argv + optind);
	muse_progress_end(&pr);
	return muse_cli_close_stdout(prog, status);
}
