/*
 * fuzz_table.c - the manifest reader of table directories (lib/table.h):
 * muse_manifest_parse on the whole input, and muse_table_select on what
 * it accepts.
 *
 * Checks: a manifest accepted has a version, tables 1 to 4, each file's
 * bucket below its count and its count the table's, relative paths without
 * "..", and prints (muse_manifest_format) to text that parses to the same
 * manifest and prints to the same bytes again; muse_table_select keeps
 * only files of the manifest, each once, in order, and with no date range
 * and no bucket keeps them all.
 */
#include "fuzz.h"

#include "buf.h"
#include "table.h"

static void same(const struct muse_manifest *a, const struct muse_manifest *b)
{
	FZ_CHECK(a->version == b->version && a->n == b->n);
	FZ_CHECK(memcmp(a->buckets, b->buckets, sizeof(a->buckets)) == 0);
	for (size_t i = 0; i < a->n; i++) {
		const struct muse_table_file *x = &a->f[i], *y = &b->f[i];

		FZ_CHECK(x->table == y->table && x->day == y->day &&
		    x->bucket == y->bucket && x->nbuckets == y->nbuckets &&
		    x->rows == y->rows && x->bytes == y->bytes &&
		    x->min_ts == y->min_ts && x->max_ts == y->max_ts &&
		    x->xxh64 == y->xxh64 && strcmp(x->path, y->path) == 0 &&
		    strcmp(x->schema, y->schema) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct muse_manifest m, m2;
	struct muse_buf t1 = { 0 }, t2 = { 0 };
	struct muse_err e;
	char *s = malloc(size + 1);
	size_t *idx = NULL, nidx;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	muse_err_clear(&e);
	if (muse_manifest_parse(s, size, "fuzz", &m, &e) != 0) {
		FZ_CHECK(e.code == MUSE_EFORMAT || e.code == MUSE_ENOMEM);
		free(s);
		return 0;
	}
	FZ_CHECK(m.version >= 1);
	for (size_t i = 0; i < m.n; i++) {
		const struct muse_table_file *f = &m.f[i];

		FZ_CHECK(f->table >= 1 && f->table <= 4);
		FZ_CHECK(f->bucket < f->nbuckets && f->nbuckets == m.buckets[f->table]);
		FZ_CHECK(f->path[0] != '/' && strstr(f->path, "..") == NULL);
	}
	/* Canonical text: print, parse, print again. */
	FZ_CHECK(muse_manifest_format(&m, &t1) == 0);
	FZ_CHECK(muse_buf_reserve(&t1, 1) == 0);
	t1.p[t1.len] = '\0';
	{
		char *copy = malloc(t1.len + 1);

		FZ_CHECK(copy != NULL);
		memcpy(copy, t1.p, t1.len + 1);
		FZ_CHECK(muse_manifest_parse(copy, t1.len, "printed", &m2, &e) == 0);
		same(&m, &m2);
		FZ_CHECK(muse_manifest_format(&m2, &t2) == 0);
		FZ_CHECK(t1.len == t2.len && memcmp(t1.p, t2.p, t1.len) == 0);
		muse_manifest_free(&m2);
		free(copy);
	}
	/* Selection: a sub-list of the files, in order; all without limits. */
	FZ_CHECK(muse_table_select(&m, 0, 0, 0, 86400, 0, 0, &idx, &nidx, &e) == 0);
	FZ_CHECK(nidx == m.n);
	free(idx);
	{
		uint32_t n = size ? (uint32_t)data[0] % 9 + 1 : 1;
		uint32_t b = size > 1 ? (uint32_t)data[1] % n : 0;
		int64_t from = size > 2 ? 20270 + data[2] % 8 : 20270;

		FZ_CHECK(muse_table_select(&m, 1, from, from + 2, 86400, b, n,
		    &idx, &nidx, &e) == 0);
		FZ_CHECK(nidx <= m.n);
		for (size_t i = 0; i < nidx; i++)
			FZ_CHECK(idx[i] < m.n && (i == 0 || idx[i] > idx[i - 1]));
		free(idx);
	}
	muse_buf_free(&t1);
	muse_buf_free(&t2);
	muse_manifest_free(&m);
	free(s);
	return 0;
}
