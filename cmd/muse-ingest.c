/*
 * muse-ingest - CSV/TSV tables to binary event streams.
 *
 * Each input file becomes one event stream on the output (streams
 * concatenate, so downstream programs take them in any order).  Bad rows
 * are fatal unless --max-errors allows skipping them; an error leaves no
 * output file, and on standard output the stream is left without its
 * trailer so that no reader can take it for a complete one.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ingest.h"
#include "stream.h"

static const char *prog = "muse-ingest";

enum { OPT_HASH = CHAR_MAX + 1, OPT_MAX_ERRORS, OPT_PROGRESS, OPT_REJECTS };

static const struct option longopts[] = {
	{ "force", no_argument, NULL, 'f' },
	{ "hash", required_argument, NULL, OPT_HASH },
	{ "help", no_argument, NULL, 'h' },
	{ "max-errors", required_argument, NULL, OPT_MAX_ERRORS },
	{ "output", required_argument, NULL, 'o' },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "rejects", required_argument, NULL, OPT_REJECTS },
	{ "table", required_argument, NULL, 't' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-ingest [-fhqV] [-t TABLE] [-o FILE] [--hash NAME]\n"
	    "                   [--max-errors N] [--progress] [--rejects FILE]\n"
	    "                   [FILE...]\n"
	    "Convert CSV/TSV tables (impressions, plays, affinities, assets) into\n"
	    "binary event streams.  With no FILE, or when FILE is -, read standard\n"
	    "input.  zstd-compressed input is read transparently.\n"
	    "\n"
	    "  -f, --force            write binary output to a terminal\n"
	    "      --hash NAME        user-id hash: xxh3 (default) or datasketches\n"
	    "                         (MurmurHash3 x64 128, seed 9001, as Apache\n"
	    "                         DataSketches hashes a UTF-8 string)\n"
	    "  -h, --help             show this help and exit\n"
	    "      --max-errors N     skip up to N bad rows (each reported)\n"
	    "  -o, --output FILE      write FILE (atomically) instead of stdout\n"
	    "      --progress         show progress even when stderr is not a\n"
	    "                         terminal\n"
	    "  -q, --quiet            do not report skipped rows; no progress\n"
	    "      --rejects FILE     keep skipped rows in FILE (CSV)\n"
	    "  -t, --table TABLE      impressions, plays, affinities or assets\n"
	    "                         (default: inferred from the header)\n"
	    "  -V, --version          show the version and exit\n"
	    "\n"
	    "Exit status: 0 success, 2 error (bad input, usage, I/O).\n");
}

/* Writes one CSV field, quoted when it needs to be. */
static void put_field(FILE *fp, const char *s, size_t n)
{
	if (strcspn(s, ",\"\r\n") == n) {
		fwrite(s, 1, n, fp);
		return;
	}
	fputc('"', fp);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', fp);
		fputc(s[i], fp);
	}
	fputc('"', fp);
}

static void put_row(FILE *fp, const struct muse_csv_row *row)
{
	for (size_t i = 0; i < row->nfields; i++) {
		if (i)
			fputc(',', fp);
		put_field(fp, row->field[i], row->len[i]);
	}
	fputc('\n', fp);
}

struct job {
	struct muse_out *out;
	struct muse_out *rejects;
	int table;
	uint8_t hash;
	uint64_t seed;
	uint64_t max_errors;
	uint64_t errors;
	int quiet;
	struct muse_buf rec;
	struct muse_progress progress;
};

static int ingest_file(struct job *j, const char *path)
{
	struct muse_err e;
	struct muse_header h;
	struct muse_event ev;
	muse_input *in;
	muse_csv *csv;
	muse_ingest *g;
	muse_writer *w;
	int rc, header_written = 0;
	uint64_t rows = 0;
	int64_t total;

	muse_err_clear(&e);
	muse_progress_input(&j->progress, strcmp(path, "-") ? path : "<stdin>");
	if ((in = muse_input_open(path, &e)) == NULL ||
	    (csv = muse_csv_new(in, 0, &e)) == NULL ||
	    (g = muse_ingest_new(csv, j->table, j->seed, &e)) == NULL) {
		muse_cli_err(prog, &e);
		return -1;
	}
	muse_ingest_set_hash(g, j->hash, j->seed);
	/* in belongs to csv, and csv to g, from here on. */
	total = muse_progress_total(in, path);
	memset(&h, 0, sizeof(h));
	h.kind = MUSE_KIND_EVENTS;
	h.table = (uint8_t)muse_ingest_table(g);
	h.hash = j->hash;
	h.seed = j->seed;
	/*
	 * Event streams are an intermediate form, read once or twice by
	 * muse-sketch: zstd level 1 takes about a third less time than the
	 * default level 3, for 7% more bytes.
	 */
	w = muse_writer_new(j->out->fp, j->out->path, &h, 1, &e);
	if (w == NULL) {
		muse_cli_err(prog, &e);
		muse_ingest_free(g);
		return -1;
	}
	while ((rc = muse_ingest_next(g, &ev, &e)) != 0) {
		/* The clock is read every 256 rows, the first row included. */
		if (j->progress.on && (++rows & 255) == 1)
			muse_progress_update(&j->progress, rows,
			    muse_input_consumed(in), total);
		if (rc == MUSE_EINPUT && j->errors < j->max_errors) {
			j->errors++;
			if (!j->quiet)
				muse_cli_err(prog, &e);
			if (j->rejects) {
				const char *raw;
				size_t n;

				/* Each input's rejected rows go under its own header. */
				if (!header_written) {
					put_row(j->rejects->fp, muse_ingest_header(g));
					header_written = 1;
				}
				if ((raw = muse_ingest_raw(g, &n)) != NULL) {
					fwrite(raw, 1, n, j->rejects->fp);
					fputc('\n', j->rejects->fp);
				} else {
					put_row(j->rejects->fp, muse_ingest_row(g));
				}
			}
			muse_err_clear(&e);
			continue;
		}
		if (rc < 0) {
			if (rc == MUSE_EINPUT && j->max_errors)
				muse_cli_warn(prog, "more than %llu bad rows",
				    (unsigned long long)j->max_errors);
			break;
		}
		j->rec.len = 0;
		if (muse_event_encode(&ev, &j->rec)) {
			rc = muse_err_set(&e, MUSE_ENOMEM, "out of memory");
			break;
		}
		if ((rc = muse_writer_add(w, j->rec.p, j->rec.len, &e)) < 0)
			break;
	}
	if (rc == 0)
		rc = muse_writer_finish(w, &e);
	if (rc < 0)
		muse_cli_err(prog, &e);
	muse_writer_free(w);
	muse_ingest_free(g);
	return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct job j;
	struct muse_out out, rejects;
	struct muse_err e;
	const char *output = NULL, *rejects_path = NULL;
	int c, force = 0, progress = 0, status = MUSE_EXIT_OK;
	uint64_t v;

	muse_cli_setup();
	memset(&j, 0, sizeof(j));
	j.hash = MUSE_HASH_XXH3;
	j.seed = MUSE_HASH_SEED;
	while ((c = getopt_long(argc, argv, "fho:qt:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = 1;
			break;
		case OPT_HASH:
			if (muse_hash_parse(optarg, &j.hash, &j.seed))
				return muse_cli_usage_error(prog, "bad --hash "
				    "\"%s\" (xxh3, datasketches)", optarg);
			break;
		case 'h':
			usage();
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		case OPT_MAX_ERRORS:
			if (muse_cli_u64(optarg, 0, UINT64_MAX, &v))
				return muse_cli_usage_error(prog,
				    "bad --max-errors \"%s\"", optarg);
			j.max_errors = v;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case 'q':
			j.quiet = 1;
			break;
		case OPT_REJECTS:
			rejects_path = optarg;
			break;
		case 't':
			j.table = muse_table_parse(optarg);
			if (j.table < 0)
				return muse_cli_usage_error(prog,
				    "unknown table \"%s\" (impressions, plays, "
				    "affinities, assets)", optarg);
			break;
		case 'V':
			muse_cli_version(prog);
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		default:
			return muse_cli_usage_error(prog, MUSE_GETOPT_ERROR);
		}
	}
	muse_err_clear(&e);
	if (muse_out_open(&out, output, 1, force, &e)) {
		muse_cli_err(prog, &e);
		return MUSE_EXIT_ERROR;
	}
	j.out = &out;
	if (rejects_path) {
		if (muse_out_open(&rejects, rejects_path, 0, 1, &e)) {
			muse_cli_err(prog, &e);
			muse_out_abort(&out);
			return MUSE_EXIT_ERROR;
		}
		j.rejects = &rejects;
	}
	muse_progress_start(&j.progress, prog,
	    muse_cli_progress_wanted(progress, j.quiet));
	if (optind == argc) {
		if (ingest_file(&j, "-"))
			status = MUSE_EXIT_ERROR;
	}
	for (int i = optind; i < argc && status == MUSE_EXIT_OK; i++)
		if (ingest_file(&j, argv[i]))
			status = MUSE_EXIT_ERROR;
	muse_progress_end(&j.progress);
	muse_buf_free(&j.rec);
	if (status == MUSE_EXIT_OK && j.rejects &&
	    muse_out_commit(j.rejects, &e)) {
		muse_cli_err(prog, &e);
		status = MUSE_EXIT_ERROR;
	}
	if (status == MUSE_EXIT_OK && muse_out_commit(&out, &e)) {
		muse_cli_err(prog, &e);
		status = MUSE_EXIT_ERROR;
	}
	if (status != MUSE_EXIT_OK) {
		muse_out_abort(&out);
		if (j.rejects)
			muse_out_abort(j.rejects);
	}
	return muse_cli_close_stdout(prog, status);
}
