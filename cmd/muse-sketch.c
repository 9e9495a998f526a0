/*
 * muse-sketch - event streams to a sorted sketch stream (SPEC 4).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "cli.h"
#include "hll.h"
#include "merge.h"
#include "opts.h"
#include "stream.h"
#include "table.h"

static const char *prog = "muse-sketch";

enum { OPT_AS_OF = CHAR_MAX + 1, OPT_AUTHENTIC, OPT_BUCKET, OPT_LGK,
	OPT_MEMORY, OPT_PROGRESS,
	OPT_QUALIFY, OPT_READ_AHEAD, OPT_WINDOW };

static const struct option longopts[] = {
	{ "as-of", required_argument, NULL, OPT_AS_OF },
	{ "authentic", required_argument, NULL, OPT_AUTHENTIC },
	{ "bucket", required_argument, NULL, OPT_BUCKET },
	{ "by", required_argument, NULL, 'b' },
	{ "date", required_argument, NULL, 'd' },
	{ "force", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "lgk", required_argument, NULL, OPT_LGK },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "output", required_argument, NULL, 'o' },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "qualify", required_argument, NULL, OPT_QUALIFY },
	{ "quiet", no_argument, NULL, 'q' },
	{ "read-ahead", no_argument, NULL, OPT_READ_AHEAD },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-sketch [-fhqvV] [-b DIMS] [-d RANGE] [-o FILE] [--bucket B[/N]]\n"
	    "                   [--as-of VERSION] [--lgk N] [--memory SIZE]\n"
	    "                   [--window DUR] [--qualify SEC] [--authentic SEC]\n"
	    "                   [--read-ahead] [--progress]\n"
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
	    "      --memory SIZE      work in passes over sub-buckets of users so\n"
	    "                         that each fits in about SIZE (suffix K, M\n"
	    "                         or G; default: one pass)\n"
	    "  -o, --output FILE      write FILE (atomically) instead of stdout\n"
	    "      --progress         show progress even when stderr is not a\n"
	    "                         terminal\n"
	    "      --qualify SEC      qualify threshold Q (default 60)\n"
	    "  -q, --quiet            no progress\n"
	    "      --read-ahead       read and decompress the blocks of input\n"
	    "                         files on a second thread, ahead of the join\n"
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
	uint64_t *pinned;         /* per input: the version read (0: a file) */
};

/* What a build holds in memory, roughly, per event row (measured: about
 * 80 bytes), and per byte of an event stream file (level-1 zstd). */
#define ROW_BYTES 100
#define STREAM_BYTE_FACTOR 8

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
	int ahead;                /* read files' blocks on a second thread */
	muse_reader *keep;        /* the reader, kept from input to input */
};

static void on_progress(void *ctx, const char *phase, uint64_t done,
	uint64_t total)
{
	struct shown *s = ctx;

	if (s->r != NULL && strcmp(phase, "reading records") == 0) {
		s->now = done;
		muse_progress_update(s->p, s->before + done,
		    muse_reader_consumed(s->r), s->total);
		return;
	}
	muse_progress_count(s->p, phase, done, total);
}

static int add_input(muse_build *b, const char *path, struct shown *s);

/*
 * Before any pass: picks the version of each table directory (the newest
 * now, or --as-of) so that every pass reads the same one, resolves
 * --bucket B against the directories' bucket count, and estimates the
 * memory the whole build needs.  Inputs are given as argv[0..n).
 */
static int prepare(char **inputs, int n, struct muse_build_opts *o,
	struct dir_opts *d, uint64_t *need)
{
	struct muse_err e;

	struct stat st;

	*need = 0;
	muse_err_clear(&e);
	/* Standard input counts when it is a file; a pipe's size is unknown. */
	if (n == 0 && fstat(0, &st) == 0 && S_ISREG(st.st_mode))
		*need += (uint64_t)st.st_size * STREAM_BYTE_FACTOR;
	for (int i = 0; i < n; i++) {
		struct muse_manifest m;
		size_t *idx, nidx;

		if (strcmp(inputs[i], "-") == 0) {
			if (fstat(0, &st) == 0 && S_ISREG(st.st_mode))
				*need += (uint64_t)st.st_size * STREAM_BYTE_FACTOR;
			continue;
		}
		if (!muse_table_is_dir(inputs[i])) {
			if (stat(inputs[i], &st) == 0)
				*need += (uint64_t)st.st_size * STREAM_BYTE_FACTOR;
			continue;
		}
		if (muse_table_load(inputs[i], d->as_of, &m, &e)) {
			muse_cli_err(prog, &e);
			return -1;
		}
		if (m.version == 0) {
			muse_cli_warn(prog, "%s: empty table directory (no version "
			    "yet)", inputs[i]);
			return -1;
		}
		d->pinned[i] = m.version;
		if (d->bucket_alone) {
			uint32_t nb = 0;

			for (int t = MUSE_TABLE_IMPRESSIONS; t <= MUSE_TABLE_AFFINITIES; t++) {
				if (m.buckets[t] && nb && m.buckets[t] != nb) {
					muse_cli_warn(prog, "%s: tables have different "
					    "bucket counts (%u, %u): give --bucket B/N",
					    inputs[i], nb, m.buckets[t]);
					muse_manifest_free(&m);
					return -1;
				}
				if (m.buckets[t])
					nb = m.buckets[t];
			}
			if (nb && o->bucket >= nb) {
				muse_cli_warn(prog, "%s: --bucket %u is beyond the "
				    "table's %u buckets", inputs[i], o->bucket, nb);
				muse_manifest_free(&m);
				return -1;
			}
			if (o->nbuckets && nb != o->nbuckets) {
				muse_cli_warn(prog, "%s: %u buckets, but an earlier "
				    "table directory has %u: give --bucket B/N",
				    inputs[i], nb, o->nbuckets);
				muse_manifest_free(&m);
				return -1;
			}
			o->nbuckets = nb;
		}
		if (muse_table_select(&m, o->has_dates, o->day_from, o->day_to,
		    o->window_s, o->bucket, o->nbuckets, &idx, &nidx, &e)) {
			muse_cli_err(prog, &e);
			muse_manifest_free(&m);
			return -1;
		}
		for (size_t k = 0; k < nidx; k++)
			*need += m.f[idx[k]].rows * ROW_BYTES;
		free(idx);
		muse_manifest_free(&m);
	}
	return 0;
}

/*
 * A table directory: the files of its pinned version that can hold rows
 * of the days and the bucket the build counts.
 */
static int add_dir(muse_build *b, const char *dir, uint64_t version,
	const struct muse_build_opts *o, const struct dir_opts *d,
	struct shown *p)
{
	struct muse_manifest m;
	struct muse_err e;
	size_t *idx = NULL, nidx = 0;
	int rc = 0;

	muse_err_clear(&e);
	if (muse_table_load(dir, version, &m, &e)) {
		muse_cli_err(prog, &e);
		return -1;
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
 * One build over every input into out: the whole job, or one pass (one
 * sub-bucket of users) of a job split to fit --memory.
 */
static int build_once(const struct muse_build_opts *o, char **inputs, int n,
	const struct dir_opts *d, struct shown *pr, FILE *out,
	const char *name)
{
	struct muse_err e;
	muse_build *b;
	int rc = 0;

	muse_err_clear(&e);
	if ((b = muse_build_new(o, &e)) == NULL) {
		muse_cli_err(prog, &e);
		return -1;
	}
	if (n == 0)
		rc = add_input(b, "-", pr);
	for (int i = 0; i < n && rc == 0; i++)
		rc = d->pinned[i] ? add_dir(b, inputs[i], d->pinned[i], o, d, pr) :
		    add_input(b, inputs[i], pr);
	if (rc == 0) {
		pr->p->name = NULL;   /* the phases are of all inputs */
		if (muse_build_finish(b, out, name, &e)) {
			muse_cli_err(prog, &e);
			rc = -1;
		}
	}
	muse_reader_free(pr->keep);
	pr->keep = NULL;
	muse_build_free(b);
	return rc;
}

/*
 * The job in k passes, pass j counting the users of sub-bucket j of the
 * bucket asked for (users of bucket B of N are exactly those of buckets
 * B*k .. B*k+k-1 of N*k), each written to an unlinked temporary file;
 * then the passes merged into out.  The same bytes as one pass, in about
 * 1/k of the memory.
 */
static int build_passes(const struct muse_build_opts *o, unsigned k,
	size_t memory, char **inputs, int n, const struct dir_opts *d,
	struct shown *pr, FILE *out, const char *name)
{
	const char *tmpdir = getenv("TMPDIR");
	struct muse_merge_opts mo = { .rollup = -1, .memory = memory,
		.write_behind = o->write_behind, .progress = o->progress };
	struct muse_err e;
	muse_merge *m;
	int *fds = calloc(k, sizeof(int)), rc = 0;
	uint32_t b0 = o->nbuckets ? o->bucket : 0, n0 = o->nbuckets ? o->nbuckets : 1;

	if (tmpdir == NULL || *tmpdir == '\0')
		tmpdir = "/tmp";
	mo.tmpdir = tmpdir;
	muse_err_clear(&e);
	if (fds == NULL) {
		muse_cli_warn(prog, "out of memory");
		return -1;
	}
	for (unsigned j = 0; j < k; j++)
		fds[j] = -1;
	for (unsigned j = 0; j < k && rc == 0; j++) {
		struct muse_build_opts po = *o;
		char note[64];
		FILE *fp;

		po.bucket = b0 * k + j;
		po.nbuckets = n0 * k;
		if ((fp = muse_tmp_file(tmpdir, "muse-sketch", &fds[j], &e)) == NULL) {
			muse_cli_err(prog, &e);
			rc = -1;
			break;
		}
		snprintf(note, sizeof(note), "pass %u of %u", j + 1, k);
		muse_progress_note(pr->p, note);
		if (d->verbose)
			fprintf(stderr, "%s: %s (users of bucket %u of %u)\n", prog,
			    note, po.bucket, po.nbuckets);
		rc = build_once(&po, inputs, n, d, pr, fp, "temporary pass");
		if (fclose(fp) && rc == 0) {
			muse_cli_warn(prog, "temporary pass: write error: %s",
			    strerror(errno));
			rc = -1;
		}
	}
	if (rc == 0 && (m = muse_merge_new(&mo, &e)) != NULL) {
		muse_progress_note(pr->p, "merging the passes");
		for (unsigned j = 0; j < k && rc == 0; j++) {
			char path[64];

			snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[j]);
			rc = muse_merge_add(m, path, &e);
		}
		if (rc == 0)
			rc = muse_merge_finish(m, out, name, &e);
		if (rc)
			muse_cli_err(prog, &e);
		muse_merge_free(m);
	} else if (rc == 0) {
		muse_cli_err(prog, &e);
		rc = -1;
	}
	for (unsigned j = 0; j < k; j++)
		if (fds[j] >= 0)
			close(fds[j]);
	free(fds);
	return rc ? -1 : 0;
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
	if ((r = s->keep) != NULL) {
		muse_reader_reopen(r, in);
	} else if ((r = s->keep = muse_reader_new(in, &e)) == NULL) {
		muse_cli_err(prog, &e);
		return -1;
	}
	if (s->ahead)
		muse_reader_read_ahead(r);
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
	struct dir_opts d = { 0 };
	size_t memory = 0;
	uint64_t need, passes = 1;
	int stdin_used = 0;
	int c, force = 0, progress = 0, quiet = 0, status = MUSE_EXIT_OK;
	uint64_t v;

	muse_cli_setup();
	muse_err_clear(&e);
	/* Compressing the output overlaps making it when a CPU is free. */
	o.write_behind = sysconf(_SC_NPROCESSORS_ONLN) > 1;
	while ((c = muse_cli_getopt(prog, argc, argv, "b:d:fho:qvV",
	    longopts)) != -1) {
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
		case OPT_MEMORY:
			if (muse_cli_size(optarg, &memory))
				return muse_cli_usage_error(prog,
				    "bad --memory \"%s\"", optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_READ_AHEAD:
			shown.ahead = 1;
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
	if ((d.pinned = calloc((size_t)(argc - optind) + 1, sizeof(uint64_t))) == NULL) {
		muse_cli_warn(prog, "out of memory");
		return MUSE_EXIT_ERROR;
	}
	if (prepare(argv + optind, argc - optind, &o, &d, &need)) {
		free(d.pinned);
		return MUSE_EXIT_ERROR;
	}
	if (memory && need > memory) {
		passes = (need + memory - 1) / memory;
		for (int i = optind; i < argc; i++)
			if (strcmp(argv[i], "-") == 0)
				stdin_used = 1;
		if (stdin_used || optind == argc) {
			muse_cli_warn(prog, "--memory: the job needs %u passes, and "
			    "standard input cannot be read more than once",
			    (unsigned)(passes > UINT_MAX ? UINT_MAX : passes));
			free(d.pinned);
			return MUSE_EXIT_ERROR;
		}
		if (passes > 1024) {
			muse_cli_warn(prog, "--memory %zu is too small for this job "
			    "(%llu passes; at most 1024)", memory,
			    (unsigned long long)passes);
			free(d.pinned);
			return MUSE_EXIT_ERROR;
		}
	}
	muse_progress_start(&pr, prog, muse_cli_progress_wanted(progress, quiet));
	pr.unit = "record";
	if (pr.on) {
		o.progress.fn = on_progress;
		o.progress.ctx = &shown;
	}
	if (muse_out_open(&out, output, 1, force, &e)) {
		muse_cli_err(prog, &e);
		status = MUSE_EXIT_ERROR;
	} else {
		int rc = passes > 1 ?
		    build_passes(&o, (unsigned)passes, memory, argv + optind,
			argc - optind, &d, &shown, out.fp, output) :
		    build_once(&o, argv + optind, argc - optind, &d, &shown, out.fp,
			output);

		if (rc == 0 && muse_out_commit(&out, &e)) {
			muse_cli_err(prog, &e);
			rc = -1;
		}
		if (rc) {
			muse_out_abort(&out);
			status = MUSE_EXIT_ERROR;
		}
	}
	muse_progress_end(&pr);
	free(d.pinned);
	return muse_cli_close_stdout(prog, status);
}
