/*
 * fuzz_delta.c - delta streams (lib/delta.h): read and verified whole by
 * muse_delta_info, and applied with muse_delta_apply to a small store
 * (fz_small_store, written once per process), with the reverse delta.
 * Both calls take paths, so the input goes to a file of this process.
 *
 * The first byte: bits 0-2 what fz_rebuild repairs (see fuzz.h); bit 3
 * makes the delta's footer start from the small store's version, content
 * checksum and record count, so that the walk over store and delta
 * starts (a seed delta made from that store starts there already).
 *
 * Checks: when an apply succeeds, the result is a store that
 * muse_delta_info accepts with the records and content checksum the
 * apply reported, and the reverse delta applied to it gives back the
 * small store's records (its content checksum and record count).
 */
#include "fuzz.h"

#include "delta.h"
#include "store.h"

enum { CHAIN = 8 };

static char base[4096];
static uint64_t from[3];

static void cleanup(void)
{
	unlink(base);
}

static void setup(void)
{
	const char *path = fz_file("delta-base", NULL, 0);
	struct muse_err e;
	muse_store *s;

	if (path == NULL)
		abort();
	snprintf(base, sizeof(base), "%s", path);
	if (fz_small_store(base, 0) != 0 || (s = muse_store_open(base, &e)) == NULL)
		abort();
	from[0] = muse_store_version(s);
	from[1] = muse_store_content(s);
	from[2] = muse_store_records(s);
	muse_store_free(s);
	atexit(cleanup);
}

/* fz_file's path is overwritten by its next call: a copy. */
static const char *keep_path(const char *path, char *copy, size_t cap)
{
	snprintf(copy, cap, "%s", path);
	return copy;
}

/* Writes the bytes of a memory stream to a file named after tag. */
static const char *keep(const char *tag, char *p, size_t n, char *copy,
	size_t cap)
{
	const char *path = fz_file(tag, (const uint8_t *)p, n);

	if (path == NULL)
		abort();
	return keep_path(path, copy, cap);
}

/* The result and its reverse delta must undo each other. */
static void round_trip(const struct muse_delta_info *got, char *res,
	size_t nres, char *rev, size_t nrev)
{
	char rpath[4096], vpath[4096];
	const char *vp;
	struct muse_delta_info info, back;
	struct muse_delta_out none = { NULL, NULL };
	struct muse_err e;

	keep("delta-result", res, nres, rpath, sizeof(rpath));
	vp = keep("delta-reverse", rev, nrev, vpath, sizeof(vpath));
	FZ_CHECK(muse_delta_info(rpath, &info, &e) == 0);
	FZ_CHECK(info.records == got->records && info.content == got->content);
	FZ_CHECK(muse_delta_info(vpath, &info, &e) == 0);
	FZ_CHECK(muse_delta_apply(rpath, &vp, 1, &none, NULL, &back, NULL, &e) == 0);
	FZ_CHECK(back.records == from[2] && back.content == from[1] &&
	    back.version == from[0]);
	unlink(rpath);
	unlink(vpath);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct muse_buf rebuilt = { 0 };
	struct muse_delta_info info;
	struct muse_delta_out out, rev;
	struct muse_err e;
	const uint8_t *p;
	const char *path;
	char dpath[4096], *res = NULL, *rv = NULL;
	size_t n, nres = 0, nrv = 0;
	unsigned flags;
	int rc;

	if (size < 1)
		return 0;
	if (base[0] == '\0')
		setup();
	flags = data[0];
	p = data + 1;
	n = size - 1;
	if (flags & (FZ_SUMS | FZ_PACK | FZ_COUNTS | CHAIN)) {
		fz_rebuild(p, n, flags, flags & CHAIN ? from : NULL, &rebuilt);
		p = rebuilt.p;
		n = rebuilt.len;
	}
	if ((path = fz_file("delta", p, n)) == NULL)
		abort();
	path = keep_path(path, dpath, sizeof(dpath));
	muse_err_clear(&e);
	rc = muse_delta_info(path, &info, &e);
	FZ_CHECK(rc == 0 || (rc < 0 && e.code == rc));
	if (rc == 0)
		FZ_CHECK(info.upserts + info.deletes ==
		    (info.h.kind == MUSE_KIND_DELTA ? info.records : 0));

	out.fp = open_memstream(&res, &nres);
	out.name = "result";
	rev.fp = open_memstream(&rv, &nrv);
	rev.name = "reverse";
	if (out.fp == NULL || rev.fp == NULL)
		abort();
	muse_err_clear(&e);
	rc = muse_delta_apply(base, &path, 1, &out, &rev, &info, NULL, &e);
	fclose(out.fp);
	fclose(rev.fp);
	if (rc == 0)
		round_trip(&info, res, nres, rv, nrv);
	unlink(path);
	free(res);
	free(rv);
	muse_buf_free(&rebuilt);
	return 0;
}
