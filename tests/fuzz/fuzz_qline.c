/*
 * fuzz_qline.c - the query line parser of muse-query --serve
 * (lib/qline.h), which reads untrusted lines from a pipe or socket, and
 * the option setters of lib/query.h behind it.
 *
 * The input is one line.  Each run applies it to a fresh query; a line
 * that is accepted is then answered, as --serve answers it, from a small
 * store (fz_small_store, mapped once per process, with a block cache as
 * the server keeps), so that what the parser accepted (globs, date
 * ranges, groupings, metrics, sort keys, --top, --ci) is also used.
 */
#include "fuzz.h"

#include "qline.h"
#include "query.h"
#include "store.h"

static muse_store *store;
static FILE *null;

static void setup(void)
{
	const char *path = fz_file("qline-store", NULL, 0);
	struct muse_err e;

	if (path == NULL || fz_small_store(path, 0) != 0 ||
	    (store = muse_store_open(path, &e)) == NULL ||
	    (null = fopen("/dev/null", "w")) == NULL)
		abort();
	unlink(path);
	muse_store_cache(store, 1u << 20);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct muse_err e;
	muse_query *q;

	if (store == NULL)
		setup();
	muse_err_clear(&e);
	if ((q = muse_query_new(&e)) == NULL)
		abort();
	muse_query_set_format(q, MUSE_FMT_JSONL);
	muse_query_set_version(q, muse_store_version(store),
	    muse_store_content(store));
	if (muse_qline_apply(q, (const char *)data, size, &e) == 0) {
		if (muse_query_add_mapped(q, store, &e) == 0)
			muse_query_write(q, null, NULL, NULL, &e);
	} else {
		FZ_CHECK(e.code == MUSE_EUSAGE || e.code == MUSE_ENOMEM);
		FZ_CHECK(memchr(e.msg, '\0', sizeof(e.msg)) != NULL);
	}
	muse_query_free(q);
	return 0;
}
