/*
 * muse-cat - print any muse stream as text, or check it end to end.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dump.h"
#include "suggest.h"

static const char *prog = "muse-cat";

static const struct option longopts[] = {
	{ "check", no_argument, NULL, 'c' },
	{ "format", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void usage(void)
{
	printf("Usage: muse-cat [-chqV] [-o FORMAT] [FILE...]\n"
	    "Print muse streams (events, sketches, deltas) as text (user ids\n"
	    "appear only as their hash), or check them: checksums, record counts,\n"
	    "trailer, key order.  With no FILE, or when FILE is -, read standard\n"
	    "input.\n"
	    "\n"
	    "  -c, --check            verify only; print one line per stream\n"
	    "  -h, --help             show this help and exit\n"
	    "  -o, --format FORMAT    tsv (default) or json (one object per line)\n"
	    "  -q, --quiet            with --check, print nothing (exit status only)\n"
	    "  -V, --version          show the version and exit\n"
	    "\n"
	    "Exit status: 0 success (every stream valid), 2 error.\n");
}

static int cat_file(const char *path, int form, int quiet)
{
	struct muse_err e;
	struct muse_header h;
	muse_input *in;
	muse_reader *r;
	unsigned n = 0;
	int rc;

	muse_err_clear(&e);
	if ((in = muse_input_open(path, &e)) == NULL ||
	    (r = muse_reader_new(in, &e)) == NULL) {
		muse_cli_err(prog, &e);
		return -1;
	}
	while ((rc = muse_reader_next_stream(r, &h, &e)) == 1) {
		uint64_t records;
		char line[256];

		n++;
		if (form == MUSE_DUMP_JSON) {
			muse_dump_header(&h, line, sizeof(line));
			printf("{\"stream\": %u, \"header\": \"%s\"}\n", n, line);
		}
		if ((rc = muse_dump_stream(r, &h, form, stdout, &records, &e)) < 0)
			break;
		if (form == MUSE_DUMP_NONE && !quiet) {
			muse_dump_header(&h, line, sizeof(line));
			printf("%s: stream %u: %s: %" PRIu64 " records: ok\n",
			    muse_reader_name(r), n, line, records);
		}
	}
	if (rc == 0 && n == 0) {
		muse_err_where(&e, muse_reader_name(r), 0, UINT64_MAX);
		rc = muse_err_set(&e, MUSE_EFORMAT, "empty input (no stream)");
	}
	if (rc < 0)
		muse_cli_err(prog, &e);
	muse_reader_free(r);
	return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	int c, form = MUSE_DUMP_TSV, check = 0, quiet = 0;
	int status = MUSE_EXIT_OK;

	muse_cli_setup();
	while ((c = muse_cli_getopt(prog, argc, argv, "cho:qV",
	    longopts)) != -1) {
		switch (c) {
		case 'c':
			check = 1;
			break;
		case 'h':
			usage();
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		case 'o':
			if (strcmp(optarg, "tsv") == 0)
				form = MUSE_DUMP_TSV;
			else if (strcmp(optarg, "json") == 0)
				form = MUSE_DUMP_JSON;
			else {
				static const char *const forms[] = { "tsv", "json" };
				struct muse_err ue;

				muse_err_unknown(&ue, "format", optarg,
				    strlen(optarg), forms, 2);
				return muse_cli_usage_error(prog, "%s", ue.msg);
			}
			break;
		case 'q':
			quiet = 1;
			break;
		case 'V':
			muse_cli_version(prog);
			return muse_cli_close_stdout(prog, MUSE_EXIT_OK);
		default:
			return muse_cli_usage_error(prog, MUSE_GETOPT_ERROR);
		}
	}
	if (check)
		form = MUSE_DUMP_NONE;
	if (optind == argc && cat_file("-", form, quiet))
		status = MUSE_EXIT_ERROR;
	for (int i = optind; i < argc; i++)
		if (cat_file(argv[i], form, quiet))
			status = MUSE_EXIT_ERROR;
	return muse_cli_close_stdout(prog, status);
}
