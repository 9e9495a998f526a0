/*
 * import.c - tables of keys and DataSketches HLL images into a sorted
 * sketch stream (muse-import(1)).
 *
 * The images are decoded as the tables are read, so a corrupt one is
 * reported with its table and line before anything is written, and kept
 * decoded (struct muse_ds) until the end, because the lgK of the stream
 * is known only then: by default the smallest lgK among the images, as
 * the reference union lands on the smallest lgK of its HLL inputs.  Then
 * every image folds into its key's reach sketch at that lgK: LIST and SET
 * coupons as they are (coupons do not depend on lgK), HLL registers of a
 * larger lgK folded down by slot, as hll_union does (lib/dsketch.c).
 * Rows with the same key unite.  The keys are sorted with muse_rec_cmp,
 * the stream's own order, and written as one indexed, sorted stream.
 *
 * An imported record has a reach sketch only: qualified and authentic
 * reach are empty and the counters 0, since an image carries none of
 * them.  Merged with a store, the record unites its users into the
 * store's reach of that key and leaves the rest as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "dsketch.h"
#include "import.h"
#include "sketch.h"
#include "ts.h"

struct row {
	struct muse_buf key;     /* encoded with the table's dims */
	struct muse_ds img;
	uint32_t table;          /* index into names */
	uint64_t line;
};

struct muse_import {
	struct row *rows;
	size_t n, cap;
	char **names;            /* table names, for errors */
	size_t nnames;
	int dims;                /* -1 until the first table */
};

muse_import *muse_import_new(struct muse_err *e)
{
	muse_import *im = calloc(1, sizeof(*im));

	if (im == NULL) {
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	im->dims = -1;
	return im;
}

void muse_import_free(muse_import *im)
{
	if (im == NULL)
		return;
	for (size_t i = 0; i < im->n; i++) {
		muse_buf_free(&im->rows[i].key);
		muse_ds_free(&im->rows[i].img);
	}
	for (size_t i = 0; i < im->nnames; i++)
		free(im->names[i]);
	free(im->names);
	free(im->rows);
	free(im);
}

/* ---------------------------------------------------------------------
 * Reading tables
 */

/* Column roles: a key dimension, the image (text or file), or neither. */
enum { COL_NONE = -1, COL_SKETCH = MUSE_NDIMS, COL_SKETCH_FILE };

static int read_file(const char *dir, const char *name, struct muse_buf *b,
	struct muse_err *e)
{
	char *path = NULL;
	FILE *f;
	uint8_t chunk[65536];
	size_t n;
	int rc = 0;

	if (name[0] != '/' && dir != NULL && dir[0] != '\0') {
		if ((path = malloc(strlen(dir) + strlen(name) + 2)) == NULL)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		sprintf(path, "%s/%s", dir, name);
	}
	f = fopen(path ? path : name, "rb");
	if (f == NULL) {
		rc = muse_err_set(e, MUSE_EIO, "cannot open sketch file \"%s\": "
		    "%s", path ? path : name, strerror(errno));
		free(path);
		return rc;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b->len + n > ((size_t)8 << 20)) {
			rc = muse_err_set(e, MUSE_ELIMIT, "sketch file \"%s\" "
			    "larger than any image (8 MiB)", path ? path : name);
			break;
		}
		if (muse_buf_put(b, chunk, n)) {
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = muse_err_set(e, MUSE_EIO, "cannot read sketch file \"%s\": "
		    "%s", path ? path : name, strerror(errno));
	fclose(f);
	free(path);
	return rc;
}

/* The header: each column's role; the dims mask and image column. */
static int read_header(const struct muse_csv_row *r, int *role, int *dims,
	struct muse_err *e)
{
	int img = 0;

	*dims = 0;
	for (size_t c = 0; c < r->nfields; c++) {
		const char *f = r->field[c];
		int d = muse_dim_parse(f, r->len[c]);

		role[c] = COL_NONE;
		if (d >= 0) {
			if (*dims & 1 << d)
				return muse_err_set(e, MUSE_EINPUT, "column "
				    "\"%s\" twice", f);
			*dims |= 1 << d;
			role[c] = d;
		} else if (strcmp(f, "sketch") == 0 ||
		    strcmp(f, "sketch_file") == 0) {
			if (img++)
				return muse_err_set(e, MUSE_EINPUT, "more than "
				    "one sketch or sketch_file column");
			role[c] = f[6] ? COL_SKETCH_FILE : COL_SKETCH;
		} else if (strcmp(f, "week") == 0 || strcmp(f, "month") == 0) {
			return muse_err_set(e, MUSE_EINPUT, "a \"%s\" column "
			    "cannot be imported (export by date and roll up "
			    "with muse-merge --rollup)", f);
		}
	}
	if (!img)
		return muse_err_set(e, MUSE_EINPUT, "no \"sketch\" or "
		    "\"sketch_file\" column in the header");
	return 0;
}

static int add_row(muse_import *im, const struct muse_csv_row *r,
	const int *role, const char *dir, struct muse_buf *img,
	struct muse_err *e)
{
	struct muse_key k;
	struct row *w;
	int rc;

	memset(&k, 0, sizeof(k));
	img->len = 0;
	for (size_t c = 0; c < r->nfields; c++) {
		const char *f = r->field[c];
		size_t n = r->len[c];

		if (role[c] == COL_NONE)
			continue;
		if (role[c] == COL_SKETCH) {
			if ((rc = muse_b64_decode(f, n, img, e)) != 0)
				return rc;
		} else if (role[c] == COL_SKETCH_FILE) {
			if (n == 0)
				return muse_err_set(e, MUSE_EINPUT, "empty "
				    "sketch_file");
			if ((rc = read_file(dir, f, img, e)) != 0)
				return rc;
		} else if (role[c] == MUSE_DIM_DATE) {
			if (muse_day_parse(f, n, &k.day) || k.day < 0)
				return muse_err_set(e, MUSE_EINPUT, "bad date "
				    "\"%s\" (YYYY-MM-DD from 1970)", f);
		} else {
			if (n == 0 || n > 255)
				return muse_err_set(e, MUSE_EINPUT, "%s of %zu "
				    "bytes (1 to 255)", muse_dim_name(role[c]),
				    n);
			k.s[role[c]].p = f;
			k.s[role[c]].n = n;
		}
	}
	if (im->n == im->cap) {
		size_t cap = im->cap ? 2 * im->cap : 256;
		struct row *v = realloc(im->rows, cap * sizeof(*v));

		if (v == NULL)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		im->rows = v;
		im->cap = cap;
	}
	w = &im->rows[im->n];
	memset(w, 0, sizeof(*w));
	muse_ds_init(&w->img);
	if ((rc = muse_ds_decode(&w->img, img->p, img->len, e)) != 0)
		return rc;
	if (muse_key_encode((uint8_t)im->dims, &k, &w->key)) {
		muse_ds_free(&w->img);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	w->table = (uint32_t)(im->nnames - 1);
	w->line = r->line;
	im->n++;
	return 0;
}

int muse_import_add(muse_import *im, muse_input *in, const char *dir,
	struct muse_err *e)
{
	char *name = strdup(muse_input_name(in));
	struct muse_csv_row r;
	struct muse_buf img = { 0 };
	int *role = NULL, dims = 0, rc;
	size_t ncols = 0;
	char **nv;
	muse_csv *c;

	nv = name ? realloc(im->names, (im->nnames + 1) * sizeof(*nv)) : NULL;
	if (nv == NULL) {
		free(name);
		muse_input_free(in);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	im->names = nv;
	im->names[im->nnames++] = name;
	if ((c = muse_csv_new(in, 0, e)) == NULL)
		return e->code;
	rc = muse_csv_next(c, &r, e);
	if (rc == 0)
		rc = muse_err_set(e, MUSE_EINPUT, "empty table: no header");
	if (rc == 1) {
		ncols = r.nfields;
		rc = (role = malloc(ncols * sizeof(*role))) == NULL ?
		    muse_err_set(e, MUSE_ENOMEM, "out of memory") :
		    read_header(&r, role, &dims, e);
		if (rc == 0 && im->dims >= 0 && dims != im->dims)
			rc = muse_err_set(e, MUSE_EINPUT, "key columns differ "
			    "from the first table's");
		if (rc == 0)
			im->dims = dims;
		if (rc != 0)
			muse_err_where(e, name, r.line, UINT64_MAX);
	}
	while (rc >= 0 && (rc = muse_csv_next(c, &r, e)) == 1) {
		if (r.nfields != ncols) {
			rc = muse_err_set(e, MUSE_EINPUT, "%zu fields, the "
			    "header has %zu", r.nfields, ncols);
		} else {
			rc = add_row(im, &r, role, dir, &img, e);
		}
		if (rc != 0) {
			muse_err_where(e, name, r.line, UINT64_MAX);
			break;
		}
	}
	free(role);
	muse_buf_free(&img);
	muse_csv_free(c);
	return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------------
 * Writing the stream
 */

static int cmp_rows(const void *x, const void *y, void *ctx)
{
	const struct row *a = x, *b = y;
	int c = muse_rec_cmp((uint8_t)(uintptr_t)ctx, a->key.p, a->key.len,
	    b->key.p, b->key.len);

	/* Equal keys keep their input order, so errors come out in order. */
	if (c == 0)
		c = a->table != b->table ? (a->table > b->table ? 1 : -1) :
		    (a->line > b->line) - (a->line < b->line);
	return c;
}

int muse_import_finish(muse_import *im, const struct muse_header *like,
	unsigned lgk, uint8_t hash, uint64_t seed, FILE *out, const char *name,
	struct muse_err *e)
{
	struct muse_header h;
	struct muse_acc acc;
	struct muse_buf rec = { 0 };
	muse_writer *w;
	int rc = 0;

	if (im->dims < 0)
		return muse_err_set(e, MUSE_EUSAGE, "no table read");
	memset(&h, 0, sizeof(h));
	if (like != NULL) {
		h = *like;
	} else {
		h.grain = MUSE_GRAIN_DAY;
		h.window_s = 86400;
		h.qualify_ms = 60000;
		h.authentic_ms = 900000;
		h.lgk = MUSE_HLL_LGK_MAX;
		for (size_t i = 0; i < im->n; i++)
			if (im->rows[i].img.lgk < h.lgk)
				h.lgk = (uint8_t)im->rows[i].img.lgk;
		if (im->n == 0)
			h.lgk = MUSE_HLL_LGK_DEFAULT;
	}
	if (lgk != 0)
		h.lgk = (uint8_t)lgk;
	h.kind = MUSE_KIND_SKETCH;
	h.flags = MUSE_FLAG_SORTED;
	h.table = 0;
	h.dims = (uint8_t)im->dims;
	h.metrics = MUSE_METRICS_V1;
	h.hash = hash;
	h.seed = seed;
	qsort_r(im->rows, im->n, sizeof(*im->rows), cmp_rows,
	    (void *)(uintptr_t)im->dims);
	if (muse_acc_init(&acc, h.lgk))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if ((w = muse_writer_new(out, name, &h, 0, e)) == NULL) {
		muse_acc_free(&acc);
		return e->code;
	}
	for (size_t i = 0; i < im->n && rc == 0; i++) {
		struct row *r = &im->rows[i];
		struct muse_key k;
		const uint8_t *after;

		if ((rc = muse_ds_merge_into(acc.reach, &r->img, e)) != 0) {
			muse_err_where(e, im->names[r->table], r->line,
			    UINT64_MAX);
			break;
		}
		/* The last row of its key writes the united record. */
		if (i + 1 < im->n && muse_rec_cmp(h.dims, r->key.p, r->key.len,
		    im->rows[i + 1].key.p, im->rows[i + 1].key.len) == 0)
			continue;
		muse_key_decode(h.dims, r->key.p, r->key.p + r->key.len, &k,
		    &after);
		rec.len = 0;
		if (muse_rec_encode(&h, &k, &acc, &rec))
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		else
			rc = muse_writer_add(w, rec.p, rec.len, e);
		muse_acc_clear(&acc);
	}
	if (rc == 0)
		rc = muse_writer_finish(w, e);
	muse_writer_free(w);
	muse_acc_free(&acc);
	muse_buf_free(&rec);
	return rc;
}
