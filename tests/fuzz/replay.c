/*
 * replay.c - runs a fuzz target over files without libFuzzer, so that
 * `make check` replays the corpus and every crash ever found, in the
 * normal build and under ASan + UBSan.
 *
 * Usage: fuzz_NAME PATH...  Each PATH is a file or a directory whose
 * files (not those starting with '.') are taken in name order; a missing
 * PATH is passed over (a target may have no crashes kept).  Each input is
 * read whole into a buffer of exactly its size, so that a read past its
 * end is caught by ASan as libFuzzer would catch it.  Before each input
 * its path goes to stderr, so that the last line before a crash names the
 * culprit.  Prints one TAP line for the summary of tests/run.sh:
 * "ok 1 - fuzz_NAME: N inputs"; a crash ends the program before it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *prog = "replay";

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	/* malloc(0) may give NULL; the target still gets a valid pointer. */
	if ((buf = malloc(n ? (size_t)n : 1)) == NULL ||
	    (n && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		fprintf(stderr, "%s: %s: cannot read\n", prog, path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	fprintf(stderr, "# %s\n", path);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every file of dir in name order; returns the count or -1. */
static long run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	char **names = NULL;
	size_t n = 0, cap = 0;
	long count = 0;

	if (d == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
		return -1;
	}
	while ((ent = readdir(d)) != NULL) {
		char *p;

		if (ent->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **v = realloc(names, (cap = cap ? 2 * cap : 64) *
			    sizeof(*v));

			if (v == NULL)
				abort();
			names = v;
		}
		if ((p = malloc(strlen(dir) + strlen(ent->d_name) + 2)) == NULL)
			abort();
		sprintf(p, "%s/%s", dir, ent->d_name);
		names[n++] = p;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(names[i]) < 0)
				count = -1;
			else if (count >= 0)
				count++;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

int main(int argc, char **argv)
{
	long total = 0;
	int failed = 0;

	if (argc > 0 && argv[0]) {
		const char *slash = strrchr(argv[0], '/');

		prog = slash ? slash + 1 : argv[0];
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		long k;

		if (stat(argv[i], &st) != 0) {
			if (errno == ENOENT)
				continue;
			fprintf(stderr, "%s: %s: %s\n", prog, argv[i],
			    strerror(errno));
			failed = 1;
			continue;
		}
		k = S_ISDIR(st.st_mode) ? run_dir(argv[i]) :
		    run_file(argv[i]) < 0 ? -1 : 1;
		if (k < 0)
			failed = 1;
		else
			total += k;
	}
	if (failed || total == 0) {
		printf("not ok 1 - %s: %s\n", prog, failed ? "unreadable input" :
		    "no inputs");
		return 1;
	}
	printf("ok 1 - %s: %ld inputs\n", prog, total);
	return 0;
}
