/*
 * assets.c - the assets table, joined at query time.
 *
 * The table is small (one row per asset, thousands, not billions), so it
 * is read whole into memory and kept as an open-addressing hash table from
 * asset id to asset_type.  It may come as CSV or TSV (zstd-compressed or
 * not), parsed by the same ingest code as muse-ingest so that both accept
 * exactly the same rows, or as the event stream muse-ingest makes of it;
 * an event stream starts with the stream magic, whose first byte (0x8A)
 * can never start a UTF-8 text, so one look at the first byte tells them
 * apart.  The table is read-only once loaded: a serving process shares one
 * among all its queries.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "assets.h"
#include "buf.h"
#include "csv.h"
#include "event.h"
#include "ingest.h"
#include "stream.h"
#include "zio.h"

struct entry {
	char *id;
	size_t idlen;
	char *type;
};

struct muse_assets {
	struct entry *slots;
	size_t nslots;      /* a power of two, at least twice the count */
	size_t count;
};

void muse_assets_free(muse_assets *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nslots; i++) {
		free(a->slots[i].id);
		free(a->slots[i].type);
	}
	free(a->slots);
	free(a);
}

size_t muse_assets_count(const muse_assets *a)
{
	return a->count;
}

static struct entry *slot(const muse_assets *a, const char *id, size_t n)
{
	size_t j = XXH3_64bits(id, n) & (a->nslots - 1);

	while (a->slots[j].id != NULL && (a->slots[j].idlen != n ||
	    memcmp(a->slots[j].id, id, n) != 0))
		j = (j + 1) & (a->nslots - 1);
	return &a->slots[j];
}

const char *muse_assets_type(const muse_assets *a, const char *id, size_t n)
{
	const struct entry *s = slot(a, id, n);

	return s->id ? s->type : NULL;
}

static int grow(muse_assets *a)
{
	size_t ns = a->nslots ? a->nslots * 2 : 256;
	struct entry *old = a->slots;
	size_t on = a->nslots;

	if ((a->slots = calloc(ns, sizeof(*a->slots))) == NULL) {
		a->slots = old;
		return MUSE_ENOMEM;
	}
	a->nslots = ns;
	for (size_t i = 0; i < on; i++)
		if (old[i].id)
			*slot(a, old[i].id, old[i].idlen) = old[i];
	free(old);
	return 0;
}

/* Adds one row; a second row for an asset must agree with the first. */
static int add(muse_assets *a, const struct muse_event *ev, struct muse_err *e)
{
	struct entry *s;

	if ((a->count + 1) * 2 > a->nslots && grow(a))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	s = slot(a, ev->asset.p, ev->asset.n);
	if (s->id) {
		if (strlen(s->type) == ev->type.n &&
		    memcmp(s->type, ev->type.p, ev->type.n) == 0)
			return 0;
		return muse_err_set(e, MUSE_EINPUT,
		    "asset \"%.*s\" listed as \"%s\" and as \"%.*s\"",
		    (int)ev->asset.n, ev->asset.p, s->type, (int)ev->type.n,
		    ev->type.p);
	}
	if ((s->id = strndup(ev->asset.p, ev->asset.n)) == NULL ||
	    (s->type = strndup(ev->type.p, ev->type.n)) == NULL) {
		free(s->id);
		s->id = NULL;
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	s->idlen = ev->asset.n;
	a->count++;
	return 0;
}

static int load_stream(muse_assets *a, muse_input *in, struct muse_err *e)
{
	muse_reader *r = muse_reader_new(in, e);
	struct muse_header h;
	int rc;

	if (r == NULL)
		return e->code;
	while ((rc = muse_reader_next_stream(r, &h, e)) == 1) {
		const uint8_t *rec;
		size_t n;

		if (h.kind != MUSE_KIND_EVENTS || h.table != MUSE_TABLE_ASSETS) {
			rc = muse_err_set(e, MUSE_EINPUT,
			    "not an assets table (a %s stream)",
			    h.kind == MUSE_KIND_EVENTS ? muse_table_name(h.table) :
			    muse_kind_name(h.kind));
			break;
		}
		while ((rc = muse_reader_next(r, &rec, &n, e)) == 1) {
			struct muse_event ev;

			if ((rc = muse_event_decode(MUSE_TABLE_ASSETS, rec, n, &ev,
			    e)) || (rc = add(a, &ev, e)))
				break;
		}
		if (rc < 0)
			break;
	}
	if (rc < 0 && e->name[0] == '\0')
		muse_err_where(e, muse_reader_name(r), 0, UINT64_MAX);
	muse_reader_free(r);
	return rc < 0 ? rc : 0;
}

static int load_csv(muse_assets *a, muse_input *in, struct muse_err *e)
{
	muse_csv *csv = muse_csv_new(in, 0, e);
	muse_ingest *g;
	struct muse_event ev;
	int rc;

	if (csv == NULL)
		return e->code;
	if ((g = muse_ingest_new(csv, MUSE_TABLE_ASSETS, MUSE_HASH_SEED, e)) ==
	    NULL)
		return e->code;
	while ((rc = muse_ingest_next(g, &ev, e)) == 1)
		if ((rc = add(a, &ev, e))) {
			muse_err_where(e, NULL, muse_ingest_row(g)->line, UINT64_MAX);
			break;
		}
	muse_ingest_free(g);
	return rc < 0 ? rc : 0;
}

muse_assets *muse_assets_load(const char *path, struct muse_err *e)
{
	struct muse_buf b = { 0 };
	muse_assets *a;
	muse_input *in;
	long n;
	int rc;

	if ((a = calloc(1, sizeof(*a))) == NULL || grow(a)) {
		free(a);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	if ((in = muse_input_open(path, e)) == NULL) {
		muse_assets_free(a);
		return NULL;
	}
	/* The whole (decompressed) file, so that its first byte can decide. */
	do {
		if (muse_buf_reserve(&b, 65536)) {
			n = muse_err_set(e, MUSE_ENOMEM, "out of memory");
			break;
		}
		n = muse_input_read(in, b.p + b.len, 65536, e);
		if (n > 0)
			b.len += (size_t)n;
	} while (n > 0);
	muse_input_free(in);
	if (n < 0 || (in = muse_input_mem(b.p, b.len, path, e)) == NULL) {
		muse_buf_free(&b);
		muse_assets_free(a);
		return NULL;
	}
	if (b.len > 0 && b.p[0] == 0x8A)
		rc = load_stream(a, in, e);
	else
		rc = load_csv(a, in, e);
	muse_buf_free(&b);
	if (rc) {
		if (e->name[0] == '\0')
			muse_err_where(e, path, e->line, UINT64_MAX);
		muse_assets_free(a);
		return NULL;
	}
	return a;
}
