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
#include <unistd.h>

#include "cli.h"
#include "ingest.h"
#include "opts.h"
#include "stream.h"
#include "table.h"

static const char *prog = "muse-ingest";

enum { OPT_BUCKETS = CHAR_MAX + 1, OPT_HASH, OPT_MAX_ERRORS, OPT_MIN_PREVIEW,
	OPT_PROGRESS, OPT_REJECTS };

static const struct option longopts[] = {
	{ "buckets", required_argument, NULL, OPT_BUCKETS },
	{ "force", no_argument, NULL, 'f' },
	{ "hash", required_argument, NULL, OPT_HASH },
	{ "help", no_argument, NULL, 'h' },
	{ "max-errors", required_argument, NULL, OPT_MAX_ERRORS },
	{ "min-preview", required_argument, NULL, OPT_MIN_PREVIEW },
	{ "output", required_argument, NULL, 'o' },
	{ "output-dir", required_argument, NULL, 'O' },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "rejects", required_argument, NULL, OPT_REJECTS },
	{ "table", required_argument, NULL, 't' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-ingest [-fhqV] [-t TABLE] [-o FILE | -O DIR [--buckets N]]\n"
	    "                   [--hash NAME] [--max-errors N] [--min-preview SEC]\n"
	    "                   [--progress] [--rejects FILE] [FILE...]\n"
	    "Convert CSV/TSV tables (impressions, plays, affinities, assets) into\n"
	    "binary event streams, or commit them to a table directory partitioned\n"
	    "by date and user-hash bucket.  With no FILE, or when FILE is -, read\n"
	    "standard input.  zstd-compressed input is read transparently.\n"
	    "\n"
	    "      --buckets N        user-hash buckets of a new table in DIR\n"
	    "                         (default 16; fixed by a table's first commit)\n"
	    "  -f, --force            write binary output to a terminal\n"
	    "      --hash NAME        user-id hash: xxh3 (default) or datasketches\n"
	    "                         (MurmurHash3 x64 128, seed 9001, as Apache\n"
	    "                         DataSketches hashes a UTF-8 string)\n"
	    "  -h, --help             show this help and exit\n"
	    "      --max-errors N     skip up to N bad rows (each reported)\n"
	    "      --min-preview SEC  drop preview plays shorter than SEC seconds\n"
	    "  -o, --output FILE      write FILE (atomically) instead of stdout\n"
	    "  -O, --output-dir DIR   commit the rows to the table directory DIR\n"
	    "                         as one new version\n"
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
	muse_table_writer *tw;    /* -O DIR */
	struct muse_out *rejects;
	int table;
	uint8_t hash;
	uint64_t seed;
	uint64_t max_errors;
	uint64_t errors;
	uint64_t min_preview_ms;  /* previews shorter than this are dropped */
	int quiet;
	int behind;               /* compress on a second thread */
	struct muse_buf rec;
	struct muse_progress progress;
};

/* The source's columns for the manifest: lower case, comma-separated. */
static int source_schema(muse_ingest *g, struct muse_buf *b)
{
	const struct muse_csv_row *hd = muse_ingest_header(g);

	b->len = 0;
	for (size_t i = 0; i < hd->nfields; i++) {
		if (muse_buf_reserve(b, hd->len[i] + 2))
			return -1;
		if (i)
			b->p[b->len++] = ',';
		for (size_t k = 0; k < hd->len[i]; k++) {
			unsigned char c = (unsigned char)hd->field[i][k];

			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			else if (c == ',' || c < 0x20 || c == 0x7f)
				c = '_';
			b->p[b->len++] = c;
		}
	}
	if (muse_buf_reserve(b, 1))
		return -1;
	b->p[b->len] = '\0';
	return 0;
}

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
	if (j->tw) {
		w = NULL;
		if (source_schema(g, &j->rec)) {
			muse_err_set(&e, MUSE_ENOMEM, "out of memory");
			muse_cli_err(prog, &e);
			muse_ingest_free(g);
			return -1;
		}
		if (muse_table_writer_source(j->tw, h.table,
		    (const char *)j->rec.p, &e)) {
			muse_cli_err(prog, &e);
			muse_ingest_free(g);
			return -1;
		}
	} else if ((w = muse_writer_new(j->out->fp, j->out->path, &h, 1,
	    &e)) == NULL) {
		muse_cli_err(prog, &e);
		muse_ingest_free(g);
		return -1;
	} else if (j->behind) {
		muse_writer_write_behind(w);
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
		/* Short previews never count (SPEC 4): not worth storing. */
		if (ev.table == MUSE_TABLE_PLAYS && ev.kind == MUSE_KIND_PREVIEW &&
		    ev.duration_ms < j->min_preview_ms)
			continue;
		j->rec.len = 0;
		if (muse_event_encode(&ev, &j->rec)) {
			rc = muse_err_set(&e, MUSE_ENOMEM, "out of memory");
			break;
		}
		if (j->tw)
			rc = muse_table_writer_add(j->tw, &ev, j->rec.p,
			    j->rec.len, &e);
		else
			rc = muse_writer_add(w, j->rec.p, j->rec.len, &e);
		if (rc < 0)
			break;
	}
	if (rc == 0 && w)
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
	const char *output = NULL, *outdir = NULL, *rejects_path = NULL;
	uint32_t buckets = 0, ms;
	int c, force = 0, progress = 0, status = MUSE_EXIT_OK;
	uint64_t v;

	muse_cli_setup();
	memset(&j, 0, sizeof(j));
	j.hash = MUSE_HASH_XXH3;
	j.seed = MUSE_HASH_SEED;
	/* Compressing the output overlaps parsing when a CPU is free. */
	j.behind = sysconf(_SC_NPROCESSORS_ONLN) > 1;
	while ((c = muse_cli_getopt(prog, argc, argv, "fho:O:qt:V",
	    longopts)) != -1) {
		switch (c) {
		case OPT_BUCKETS:
			if (muse_cli_u64(optarg, 1, MUSE_TABLE_BUCKETS_MAX, &v))
				return muse_cli_usage_error(prog,
				    "bad --buckets \"%s\" (1..%u)", optarg,
				    MUSE_TABLE_BUCKETS_MAX);
			buckets = (uint32_t)v;
			break;
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
		case OPT_MIN_PREVIEW:
			if (muse_parse_seconds_ms(optarg, &ms, &e))
				return muse_cli_usage_error(prog, "%s", e.msg);
			j.min_preview_ms = ms;
			break;
		case 'o':
			output = optarg;
			break;
		case 'O':
			outdir = optarg;
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
			j.table = muse_table_lookup(optarg, &e);
			if (j.table < 0)
				return muse_cli_usage_error(prog, "%s", e.msg);
			break;
		case 'V':
			muse_cli_version(prog);
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		default:
			return muse_cli_usage_error(prog, MUSE_GETOPT_ERROR);
		}
	}
	if (output && outdir)
		return muse_cli_usage_error(prog, "-o and -O exclude each other");
	if (buckets && !outdir)
		return muse_cli_usage_error(prog, "--buckets needs -O DIR");
	muse_err_clear(&e);
	if (outdir) {
		if ((j.tw = muse_table_writer_new(outdir, buckets, 1, &e)) == NULL) {
			muse_cli_err(prog, &e);
			return MUSE_EXIT_ERROR;
		}
		muse_table_writer_hash(j.tw, j.hash, j.seed);
		if (j.behind && muse_table_writer_write_behind(j.tw, &e)) {
			muse_cli_err(prog, &e);
			muse_table_writer_free(j.tw);
			return MUSE_EXIT_ERROR;
		}
	} else if (muse_out_open(&out, output, 1, force, &e)) {
		muse_cli_err(prog, &e);
		return MUSE_EXIT_ERROR;
	} else {
		j.out = &out;
	}
	if (rejects_path) {
		if (muse_out_open(&rejects, rejects_path, 0, 1, &e)) {
			muse_cli_err(prog, &e);
			if (j.out)
				muse_out_abort(&out);
			muse_table_writer_free(j.tw);
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
	if (status == MUSE_EXIT_OK && j.tw) {
		uint64_t version;

		if (muse_table_writer_commit(j.tw, &version, &e)) {
			muse_cli_err(prog, &e);
			status = MUSE_EXIT_ERROR;
		}
	} else if (status == MUSE_EXIT_OK && muse_out_commit(&out, &e)) {
		muse_cli_err(prog, &e);
		status = MUSE_EXIT_ERROR;
	}
	muse_table_writer_free(j.tw);
	if (status != MUSE_EXIT_OK) {
		if (j.out)
			muse_out_abort(&out);
		if (j.rejects)
			muse_out_abort(j.rejects);
	}
	return muse_cli_close_stdout(prog, status);
}
