/*
 * muse-import - tables of keys and DataSketches HLL images to a sketch
 * stream (lib/import.c).
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hll.h"
#include "import.h"
#include "stream.h"
#include "zio.h"

static const char *prog = "muse-import";

enum { OPT_HASH = CHAR_MAX + 1, OPT_LGK, OPT_LIKE };

static const struct option longopts[] = {
	{ "force", no_argument, NULL, 'f' },
	{ "hash", required_argument, NULL, OPT_HASH },
	{ "help", no_argument, NULL, 'h' },
	{ "lgk", required_argument, NULL, OPT_LGK },
	{ "like", required_argument, NULL, OPT_LIKE },
	{ "output", required_argument, NULL, 'o' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-import [-fhV] [-o FILE] [--hash NAME] [--like STORE]\n"
	    "                   [--lgk N] [TABLE...]\n"
	    "Turn CSV or TSV tables of keys and DataSketches HLL images (HLL_4,\n"
	    "HLL_6 or HLL_8; LIST, SET or HLL mode; compact or updatable) into\n"
	    "a sorted sketch stream for muse-merge and muse-query.  Key columns:\n"
	    "title, asset, date, segment, country; the image in a column\n"
	    "\"sketch\" (base64) or \"sketch_file\" (a raw file, relative to the\n"
	    "table's directory).  The images become each key's reach.  No TABLE\n"
	    "or - reads standard input.\n"
	    "\n"
	    "  -f, --force            write binary output to a terminal\n"
	    "      --hash NAME        how the images' items were hashed:\n"
	    "                         datasketches (default: MurmurHash3, seed\n"
	    "                         9001) or xxh3 (images muse-query exported)\n"
	    "  -h, --help             show this help and exit\n"
	    "      --lgk N            lgK of the stream (4..21; default the\n"
	    "                         smallest of the images, or --like's)\n"
	    "      --like STORE       take window, thresholds, date grain and lgK\n"
	    "                         from STORE's header, to merge with it\n"
	    "  -o, --output FILE      write FILE (atomically) instead of stdout\n"
	    "  -V, --version          show the version and exit\n"
	    "\n"
	    "Exit status: 0 success, 2 error (corrupt image, bad table, usage,\n"
	    "I/O).\n");
}

/* The header of the first stream of path. */
static int read_like(const char *path, struct muse_header *h,
	struct muse_err *e)
{
	muse_input *in = muse_input_open(path, e);
	muse_reader *r;
	int rc;

	if (in == NULL)
		return e->code;
	if ((r = muse_reader_new(in, e)) == NULL)
		return e->code;
	rc = muse_reader_next_stream(r, h, e);
	if (rc == 0)
		rc = muse_err_set(e, MUSE_EFORMAT, "no stream in it");
	else if (rc == 1 && h->kind != MUSE_KIND_SKETCH)
		rc = muse_err_set(e, MUSE_EUSAGE, "not a sketch stream");
	muse_reader_free(r);
	if (rc < 0 && e->name[0] == '\0')
		muse_err_where(e, path, 0, UINT64_MAX);
	return rc < 0 ? rc : 0;
}

/* Reads one table; sketch files are relative to its directory. */
static int add_table(muse_import *im, const char *arg, struct muse_err *e)
{
	int is_stdin = strcmp(arg, "-") == 0;
	muse_input *in = is_stdin ? muse_input_fd(0, "<stdin>", e) :
	    muse_input_open(arg, e);
	char *copy, *dir;
	int rc;

	if (in == NULL) {
		if (e->name[0] == '\0')
			muse_err_where(e, arg, 0, UINT64_MAX);
		return e->code;
	}
	if ((copy = strdup(arg)) == NULL) {
		muse_input_free(in);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	dir = is_stdin ? "." : dirname(copy);
	rc = muse_import_add(im, in, dir, e);
	free(copy);
	return rc;
}

int main(int argc, char **argv)
{
	struct muse_header like;
	struct muse_err e;
	struct muse_out out;
	const char *output = NULL, *like_path = NULL;
	uint8_t hash = MUSE_HASH_DATASKETCHES;
	uint64_t seed = MUSE_HASH_DS_SEED, v;
	unsigned lgk = 0;
	muse_import *im;
	int c, force = 0, status = MUSE_EXIT_OK;

	muse_cli_setup();
	muse_err_clear(&e);
	while ((c = muse_cli_getopt(prog, argc, argv, "fho:V", longopts)) != -1) {
		switch (c) {
		case 'f':
			force = 1;
			break;
		case OPT_HASH:
			if (muse_hash_parse(optarg, &hash, &seed))
				return muse_cli_usage_error(prog, "bad --hash "
				    "\"%s\" (datasketches, xxh3)", optarg);
			break;
		case 'h':
			usage();
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		case OPT_LGK:
			if (muse_cli_u64(optarg, MUSE_HLL_LGK_MIN,
			    MUSE_HLL_LGK_MAX, &v))
				return muse_cli_usage_error(prog, "bad --lgk "
				    "\"%s\" (4 to 21)", optarg);
			lgk = (unsigned)v;
			break;
		case OPT_LIKE:
			like_path = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'V':
			muse_cli_version(prog);
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		default:
			return muse_cli_usage_error(prog, MUSE_GETOPT_ERROR);
		}
	}
	if (like_path != NULL && read_like(like_path, &like, &e)) {
		muse_cli_err(prog, &e);
		return muse_cli_close_stdout(prog, MUSE_EXIT_ERROR);
	}
	if ((im = muse_import_new(&e)) == NULL) {
		muse_cli_err(prog, &e);
		return MUSE_EXIT_ERROR;
	}
	if (optind == argc && add_table(im, "-", &e))
		status = MUSE_EXIT_ERROR;
	for (int i = optind; i < argc && status == MUSE_EXIT_OK; i++)
		if (add_table(im, argv[i], &e))
			status = MUSE_EXIT_ERROR;
	if (status == MUSE_EXIT_OK &&
	    (muse_out_open(&out, output, 1, force, &e) ||
	    muse_import_finish(im, like_path ? &like : NULL, lgk, hash, seed,
	    out.fp, output, &e) || muse_out_commit(&out, &e))) {
		muse_out_abort(&out);
		status = MUSE_EXIT_ERROR;
	}
	if (status != MUSE_EXIT_OK)
		muse_cli_err(prog, &e);
	muse_import_free(im);
	return muse_cli_close_stdout(prog, status);
}
