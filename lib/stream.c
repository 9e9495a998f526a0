/*
 * stream.c - writer and reader of muse-format(5) streams.
 *
 * Layout (the man page is the specification; this is a summary):
 *
 *   stream  := header block* trailer
 *   header  := 64 bytes: magic, version, kind, flags, schema, parameters,
 *              XXH32 of the first 60 bytes
 *   block   := 24-byte block header (type 'B' or 'S', record count, raw
 *              and stored sizes, XXH64 of the first 16 header bytes and
 *              the payload) + payload (zstd frame for 'B', raw for 'S')
 *   trailer := 32 bytes: 'E', block count, record count, XXH64 of the
 *              sequence of block checksums, XXH64 of the trailer itself
 *
 * Blocks are cut after the record that brings the raw size to
 * MUSE_BLOCK_TARGET or beyond (and in a store, before a record of another
 * title once the block holds MUSE_BLOCK_TITLE_MIN), so the bytes of a
 * stream depend only on its records and the zstd level: the same content
 * always serialises the same.
 *
 * The reader trusts nothing: every size is checked against the limits
 * before anything is allocated, checksums before decompressing, and the
 * decompressed size and record count against the block header.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>
#include <zstd.h>

#include "sketch.h"
#include "stream.h"
#include "suggest.h"

static const uint8_t magic[8] = { 0x8A, 'M', 'U', 'S', 'E', '\r', '\n', 0x1A };

enum { BLOCK_DATA = 'B', BLOCK_SKIP = 'S', BLOCK_END = 'E' };

static const char *const table_names[] = {
	NULL, "impressions", "plays", "affinities", "assets"
};
static const char *const dim_names[MUSE_NDIMS] = {
	"title", "asset", "date", "segment", "country"
};

const char *muse_table_name(int table)
{
	if (table < 1 || table > MUSE_TABLE_ASSETS)
		return "unknown";
	return table_names[table];
}

int muse_table_parse(const char *s)
{
	for (int i = 1; i <= MUSE_TABLE_ASSETS; i++)
		if (strcmp(s, table_names[i]) == 0)
			return i;
	return -1;
}

int muse_table_lookup(const char *s, struct muse_err *e)
{
	int t = muse_table_parse(s);

	if (t < 0)
		return muse_err_unknown(e, "table", s, strlen(s), table_names + 1,
		    MUSE_TABLE_ASSETS);
	return t;
}

const char *muse_kind_name(int kind)
{
	switch (kind) {
	case MUSE_KIND_EVENTS: return "events";
	case MUSE_KIND_SKETCH: return "sketch";
	case MUSE_KIND_DELTA: return "delta";
	}
	return "unknown";
}

const char *muse_grain_name(int grain)
{
	static const char *const names[] = { "day", "week", "month", "quarter" };

	return grain >= 0 && grain <= MUSE_GRAIN_QUARTER ? names[grain] :
	    "unknown";
}

const char *muse_dim_name(int dim)
{
	return dim >= 0 && dim < MUSE_NDIMS ? dim_names[dim] : "unknown";
}

int muse_dim_parse(const char *s, size_t n)
{
	for (int i = 0; i < MUSE_NDIMS; i++)
		if (strlen(dim_names[i]) == n && strncmp(s, dim_names[i], n) == 0)
			return i;
	return -1;
}

static void dims_text(uint8_t dims, char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < MUSE_NDIMS; i++)
		if (dims & (1u << i))
			len += (size_t)snprintf(buf + len, len < n ? n - len : 0,
			    "%s%s", len ? "," : "", dim_names[i]);
	if (len == 0)
		snprintf(buf, n, "(none)");
}

const char *muse_hash_name(int hash)
{
	return hash == MUSE_HASH_XXH3 ? "xxh3" :
	    hash == MUSE_HASH_DATASKETCHES ? "datasketches" : "?";
}

int muse_hash_parse(const char *s, uint8_t *hash, uint64_t *seed)
{
	if (strcmp(s, "xxh3") == 0) {
		*hash = MUSE_HASH_XXH3;
		*seed = MUSE_HASH_SEED;
	} else if (strcmp(s, "datasketches") == 0) {
		*hash = MUSE_HASH_DATASKETCHES;
		*seed = MUSE_HASH_DS_SEED;
	} else {
		return -1;
	}
	return 0;
}

int muse_header_compatible(const struct muse_header *a,
	const struct muse_header *b, struct muse_err *e)
{
	char x[64], y[64];

	if (a->kind != b->kind)
		return muse_err_set(e, MUSE_EPARAM, "stream kinds differ: %s vs %s",
		    muse_kind_name(a->kind), muse_kind_name(b->kind));
	if (a->hash != b->hash || a->seed != b->seed)
		return muse_err_set(e, MUSE_EPARAM, "user-id hashing differs: "
		    "%s seed %llu vs %s seed %llu (streams hashed differently "
		    "cannot meet: a user would count twice)",
		    muse_hash_name(a->hash), (unsigned long long)a->seed,
		    muse_hash_name(b->hash), (unsigned long long)b->seed);
	if (a->kind == MUSE_KIND_EVENTS) {
		if (a->table != b->table)
			return muse_err_set(e, MUSE_EPARAM, "tables differ: %s vs %s",
			    muse_table_name(a->table), muse_table_name(b->table));
		return 0;
	}
	if (a->dims != b->dims) {
		dims_text(a->dims, x, sizeof(x));
		dims_text(b->dims, y, sizeof(y));
		return muse_err_set(e, MUSE_EPARAM,
		    "dimensions differ: \"%s\" vs \"%s\"", x, y);
	}
	if ((a->dims & (1u << MUSE_DIM_DATE)) && a->grain != b->grain)
		return muse_err_set(e, MUSE_EPARAM, "date grains differ: %s vs %s",
		    muse_grain_name(a->grain), muse_grain_name(b->grain));
	if (a->lgk != b->lgk)
		return muse_err_set(e, MUSE_EPARAM,
		    "hll precision differs: lgk %u vs %u", a->lgk, b->lgk);
	if (a->window_s != b->window_s)
		return muse_err_set(e, MUSE_EPARAM,
		    "attribution window differs: %u s vs %u s", a->window_s,
		    b->window_s);
	if (a->qualify_ms != b->qualify_ms)
		return muse_err_set(e, MUSE_EPARAM,
		    "qualify threshold differs: %.3f s vs %.3f s",
		    a->qualify_ms / 1000.0, b->qualify_ms / 1000.0);
	if (a->authentic_ms != b->authentic_ms)
		return muse_err_set(e, MUSE_EPARAM,
		    "authentic threshold differs: %.3f s vs %.3f s",
		    a->authentic_ms / 1000.0, b->authentic_ms / 1000.0);
	if (a->metrics != b->metrics)
		return muse_err_set(e, MUSE_EPARAM, "metric sets differ");
	return 0;
}

static void header_encode(const struct muse_header *h, uint8_t *p)
{
	memset(p, 0, MUSE_HEADER_SIZE);
	memcpy(p, magic, 8);
	p[8] = MUSE_FORMAT_VERSION;
	p[9] = 0;
	p[10] = h->kind;
	p[11] = h->flags;
	p[12] = h->table;
	p[13] = h->hash;
	p[14] = h->dims;
	p[15] = h->grain;
	p[16] = h->lgk;
	p[18] = (uint8_t)h->metrics;
	p[19] = (uint8_t)(h->metrics >> 8);
	muse_st32(p + 20, h->window_s);
	muse_st32(p + 24, h->qualify_ms);
	muse_st32(p + 28, h->authentic_ms);
	muse_st64(p + 32, h->seed);
	muse_st64(p + 40, h->src_content);
	muse_st64(p + 48, h->src_version);
	muse_st32(p + 60, XXH32(p, 60, 0));
}

int muse_header_parse(const uint8_t *p, struct muse_header *h,
	struct muse_err *e)
{
	if (memcmp(p, magic, 8) != 0)
		return muse_err_set(e, MUSE_EFORMAT, "not a muse stream (bad magic)");
	if (muse_le32(p + 60) != XXH32(p, 60, 0))
		return muse_err_set(e, MUSE_ECHECKSUM, "header checksum mismatch");
	if (p[8] != MUSE_FORMAT_VERSION || p[9] != 0)
		return muse_err_set(e, MUSE_EFORMAT,
		    "unsupported format version %u", p[8] | p[9] << 8);
	memset(h, 0, sizeof(*h));
	h->kind = p[10];
	h->flags = p[11];
	h->table = p[12];
	h->hash = p[13];
	h->dims = p[14];
	h->grain = p[15];
	h->lgk = p[16];
	h->metrics = (uint16_t)(p[18] | p[19] << 8);
	h->window_s = muse_le32(p + 20);
	h->qualify_ms = muse_le32(p + 24);
	h->authentic_ms = muse_le32(p + 28);
	h->seed = muse_le64(p + 32);
	h->src_content = muse_le64(p + 40);
	h->src_version = muse_le64(p + 48);
	for (int i = 56; i < 60; i++)
		if (p[i] != 0)
			return muse_err_set(e, MUSE_EFORMAT,
			    "reserved header byte %d is not zero", i);
	if (p[17] != 0 || (h->flags & ~MUSE_FLAG_SORTED))
		return muse_err_set(e, MUSE_EFORMAT, "unknown header flags");
	if (h->hash != MUSE_HASH_XXH3 && h->hash != MUSE_HASH_DATASKETCHES)
		return muse_err_set(e, MUSE_EFORMAT, "unknown hash %u", h->hash);
	switch (h->kind) {
	case MUSE_KIND_EVENTS:
		if (h->table < 1 || h->table > MUSE_TABLE_ASSETS)
			return muse_err_set(e, MUSE_EFORMAT, "unknown table %u",
			    h->table);
		for (int i = 14; i < 56; i++)
			if (p[i] != 0 && (i < 32 || i >= 40))
				return muse_err_set(e, MUSE_EFORMAT,
				    "event stream header byte %d is not zero", i);
		break;
	case MUSE_KIND_SKETCH:
	case MUSE_KIND_DELTA:
		if (h->dims >= 1u << MUSE_NDIMS || h->grain > MUSE_GRAIN_QUARTER ||
		    h->lgk < 4 || h->lgk > 21 || h->metrics != MUSE_METRICS_V1 ||
		    h->table != 0 ||
		    (!(h->dims & 1u << MUSE_DIM_DATE) && h->grain != MUSE_GRAIN_DAY))
			return muse_err_set(e, MUSE_EFORMAT, "bad %s schema",
			    muse_kind_name(h->kind));
		/* Only a roll-up (weeks, months, quarters) names its source. */
		if ((h->src_content || h->src_version) &&
		    (h->kind != MUSE_KIND_SKETCH || h->grain == MUSE_GRAIN_DAY ||
		    h->src_content == 0))
			return muse_err_set(e, MUSE_EFORMAT,
			    "bad roll-up source in the header");
		/* A delta's records are in key order, as a store's are. */
		if (h->kind == MUSE_KIND_DELTA && !(h->flags & MUSE_FLAG_SORTED))
			return muse_err_set(e, MUSE_EFORMAT,
			    "delta stream not flagged sorted");
		break;
	default:
		return muse_err_set(e, MUSE_EFORMAT, "unknown stream kind %u",
		    h->kind);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Writer                                                               */
/* ------------------------------------------------------------------ */

struct muse_writer {
	FILE *out;
	char *name;
	ZSTD_CCtx *cctx;
	int own_cctx;             /* 0: borrowed (muse_writer_new_cctx) */
	int level;
	struct muse_buf raw;
	struct muse_buf packed;
	uint32_t block_records;
	uint32_t nblocks;
	uint64_t nrecords;
	XXH64_state_t *digest;
	XXH3_state_t *content;
	int failed;
	uint64_t pos;             /* bytes written since the stream began */
	/* store footer: an index of the data blocks, version and checksum */
	int indexed;
	uint8_t dims;
	uint64_t version;
	/* delta footer: the states the delta goes from and to */
	int delta;
	uint64_t from_version, from_content, from_records, to_content,
	    to_records;
	struct muse_buf index;    /* the entries so far */
	struct muse_buf first;    /* first key of the open block */
	struct muse_buf last;     /* key of the last record added */
	struct muse_buf title;    /* title of the open block's first key */
	struct muse_zone zone;    /* what the open block's keys hold */
	muse_behind *behind;      /* the thread writing its blocks, or NULL */
	int own_behind;           /* made by muse_writer_write_behind */
	uint32_t inflight;        /* blocks of this writer not written yet */
	int brc;                  /* that thread's first error for this writer */
	struct muse_err berr;
};

/*
 * A block handed to a second thread, with the writer it belongs to and
 * what the index says of it.  While a writer has blocks there, that
 * thread alone uses its output, compressor, digests, index and counts of
 * bytes and blocks.
 */
struct wblock {
	muse_writer *w;
	struct muse_buf raw, first, last;
	uint32_t records;
	struct muse_zone zone;
};

enum { BEHIND_SLOTS = 4 };

/*
 * The thread that compresses and writes blocks, in the order they come,
 * for one writer (muse_writer_write_behind) or for all the writers of one
 * caller (muse_behind_new), which then share its compressor.
 */
struct muse_behind {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wblock slot[BEHIND_SLOTS];
	uint64_t queued, done;    /* blocks handed over, blocks written */
	int closing;              /* no more blocks will come */
	ZSTD_CCtx *cctx;          /* shared: its own compressor, else NULL */
};

/* A mutex and a condition for a second thread: 0, or -1 (none made). */
static int sync_init(pthread_mutex_t *mu, pthread_cond_t *cv)
{
	if (pthread_mutex_init(mu, NULL))
		return -1;
	if (pthread_cond_init(cv, NULL)) {
		pthread_mutex_destroy(mu);
		return -1;
	}
	return 0;
}

/* (On the second thread when it runs: flush_block marks the failure.) */
static int write_bytes(muse_writer *w, const void *p, size_t n,
	struct muse_err *e)
{
	if (n && fwrite(p, 1, n, w->out) != n) {
		int err = errno ? errno : EIO;

		muse_err_where(e, w->name, 0, UINT64_MAX);
		muse_err_set(e, MUSE_EIO, "write error: %s", strerror(err));
		e->sys_errno = err;
		return MUSE_EIO;
	}
	w->pos += n;
	return 0;
}

void *muse_zstd_cctx_new(void)
{
	return ZSTD_createCCtx();
}

void muse_zstd_cctx_free(void *cctx)
{
	ZSTD_freeCCtx(cctx);
}

muse_writer *muse_writer_new(FILE *out, const char *name,
	const struct muse_header *h, int level, struct muse_err *e)
{
	return muse_writer_new_cctx(out, name, h, level, NULL, e);
}

muse_writer *muse_writer_new_cctx(FILE *out, const char *name,
	const struct muse_header *h, int level, void *cctx, struct muse_err *e)
{
	muse_writer *w = calloc(1, sizeof(*w));
	uint8_t hdr[MUSE_HEADER_SIZE];

	if (w && cctx) {
		w->cctx = cctx;
	} else if (w) {
		w->cctx = ZSTD_createCCtx();
		w->own_cctx = 1;
	}
	if (w == NULL || (w->name = strdup(name ? name : "<stdout>")) == NULL ||
	    w->cctx == NULL ||
	    (w->digest = XXH64_createState()) == NULL ||
	    (w->content = XXH3_createState()) == NULL) {
		muse_writer_free(w);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	w->out = out;
	w->level = level ? level : 3;
	XXH64_reset(w->digest, 0);
	XXH3_64bits_reset(w->content);
	if (h->kind == MUSE_KIND_SKETCH && (h->flags & MUSE_FLAG_SORTED)) {
		w->indexed = 1;
		w->dims = h->dims;
	}
	w->delta = h->kind == MUSE_KIND_DELTA;
	header_encode(h, hdr);
	if (write_bytes(w, hdr, sizeof(hdr), e)) {
		muse_writer_free(w);
		return NULL;
	}
	return w;
}

/*
 * Compresses and writes one block of records, raw[0..), with its index
 * entry: on the caller's thread, or on the second one.
 */
static int pack_block(muse_writer *w, const struct muse_buf *raw,
	uint32_t records, const struct muse_zone *zone,
	const struct muse_buf *first, const struct muse_buf *last,
	struct muse_err *e)
{
	uint8_t bh[MUSE_BLOCK_HEADER_SIZE];
	size_t bound, n;
	XXH64_state_t st;
	uint64_t sum;

	/*
	 * Only footers carry the content checksum: it is taken a block at a
	 * time (the same digest as record by record, at a fraction of the
	 * calls), and not at all for event streams.
	 */
	if (w->indexed || w->delta)
		XXH3_64bits_update(w->content, raw->p, raw->len);
	bound = ZSTD_compressBound(raw->len);
	w->packed.len = 0;
	if (muse_buf_reserve(&w->packed, bound))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	n = ZSTD_compressCCtx(w->cctx, w->packed.p, bound, raw->p, raw->len,
	    w->level);
	if (ZSTD_isError(n))
		return muse_err_set(e, MUSE_EIO, "zstd: %s", ZSTD_getErrorName(n));
	memset(bh, 0, sizeof(bh));
	bh[0] = BLOCK_DATA;
	muse_st32(bh + 4, records);
	muse_st32(bh + 8, (uint32_t)raw->len);
	muse_st32(bh + 12, (uint32_t)n);
	XXH64_reset(&st, 0);
	XXH64_update(&st, bh, 16);
	XXH64_update(&st, w->packed.p, n);
	sum = XXH64_digest(&st);
	muse_st64(bh + 16, sum);
	XXH64_update(w->digest, bh + 16, 8);
	if (w->indexed && (muse_buf_put_le64(&w->index, w->pos) ||
	    muse_buf_put_le64(&w->index, sum) ||
	    muse_buf_put_le32(&w->index, records) ||
	    muse_buf_put_le32(&w->index, zone->min_day) ||
	    muse_buf_put_le32(&w->index, zone->max_day) ||
	    muse_buf_put_le32(&w->index, 0) ||
	    muse_buf_put_le64(&w->index, zone->bits[0]) ||
	    muse_buf_put_le64(&w->index, zone->bits[1]) ||
	    muse_buf_put_le64(&w->index, zone->bits[2]) ||
	    muse_buf_put_str(&w->index, (const char *)first->p, first->len) ||
	    muse_buf_put_str(&w->index, (const char *)last->p, last->len)))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if (write_bytes(w, bh, sizeof(bh), e) ||
	    write_bytes(w, w->packed.p, n, e))
		return MUSE_EIO;
	w->nblocks++;
	return 0;
}

/* The second thread: writes the blocks handed over, in order. */
static void *behind_main(void *arg)
{
	muse_behind *b = arg;

	for (;;) {
		struct muse_err err;
		struct wblock *s;
		muse_writer *w;
		int rc;

		pthread_mutex_lock(&b->mu);
		while (b->done == b->queued && !b->closing)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->done == b->queued) {
			pthread_mutex_unlock(&b->mu);
			return NULL;
		}
		s = &b->slot[b->done % BEHIND_SLOTS];
		w = s->w;
		rc = w->brc;
		pthread_mutex_unlock(&b->mu);
		/* After an error a writer's blocks are only taken off the queue. */
		muse_err_clear(&err);
		if (rc == 0)
			rc = pack_block(w, &s->raw, s->records, &s->zone, &s->first,
			    &s->last, &err);
		pthread_mutex_lock(&b->mu);
		b->done++;
		w->inflight--;
		if (rc && w->brc == 0) {
			w->brc = rc;
			w->berr = err;
		}
		pthread_cond_broadcast(&b->cv);
		pthread_mutex_unlock(&b->mu);
	}
}

muse_behind *muse_behind_new(struct muse_err *e)
{
	muse_behind *b = calloc(1, sizeof(*b));

	if (b == NULL || (b->cctx = ZSTD_createCCtx()) == NULL) {
		free(b);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	if (sync_init(&b->mu, &b->cv) == 0) {
		if (pthread_create(&b->th, NULL, behind_main, b) == 0)
			return b;
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
	}
	ZSTD_freeCCtx(b->cctx);
	free(b);
	muse_err_set(e, MUSE_ENOMEM, "cannot start a thread");
	return NULL;
}

void muse_behind_free(muse_behind *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->closing = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->th, NULL);
	for (int i = 0; i < BEHIND_SLOTS; i++) {
		muse_buf_free(&b->slot[i].raw);
		muse_buf_free(&b->slot[i].first);
		muse_buf_free(&b->slot[i].last);
	}
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	ZSTD_freeCCtx(b->cctx);
	free(b);
}

void muse_writer_behind(muse_writer *w, muse_behind *b)
{
	w->behind = b;
	w->own_behind = 0;
	if (b->cctx != NULL) {
		if (w->own_cctx)
			ZSTD_freeCCtx(w->cctx);
		w->cctx = b->cctx;
		w->own_cctx = 0;
	}
}

int muse_writer_write_behind(muse_writer *w)
{
	muse_behind *b;

	if (w->behind != NULL)
		return 1;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return 0;
	if (sync_init(&b->mu, &b->cv)) {
		free(b);
		return 0;
	}
	if (pthread_create(&b->th, NULL, behind_main, b)) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b);
		return 0;
	}
	w->behind = b;
	w->own_behind = 1;
	return 1;
}

/*
 * Waits until the thread has written every block of w handed over (and
 * ends it, when it is w's own); then w's state is the caller's again.
 * Returns the thread's error for w, if any.
 */
static int behind_end(muse_writer *w, struct muse_err *e)
{
	muse_behind *b = w->behind;
	int rc;

	if (b == NULL)
		return 0;
	pthread_mutex_lock(&b->mu);
	while (w->inflight)
		pthread_cond_wait(&b->cv, &b->mu);
	rc = w->brc;
	pthread_mutex_unlock(&b->mu);
	if (w->own_behind)
		muse_behind_free(b);
	w->behind = NULL;
	if (rc) {
		*e = w->berr;
		w->failed = 1;
	}
	return rc;
}

/*
 * The open block to the thread: its records change places with the empty
 * buffer of a free slot, so nothing is copied but the keys of its index
 * entry.  Only one thread hands blocks to a muse_behind.
 */
static int hand_over(muse_writer *w, struct muse_err *e)
{
	muse_behind *b = w->behind;
	struct muse_buf t;
	struct wblock *s;
	int rc;

	pthread_mutex_lock(&b->mu);
	while (b->queued - b->done == BEHIND_SLOTS && w->brc == 0)
		pthread_cond_wait(&b->cv, &b->mu);
	rc = w->brc;
	pthread_mutex_unlock(&b->mu);
	if (rc) {
		behind_end(w, e);
		return rc;
	}
	s = &b->slot[b->queued % BEHIND_SLOTS];
	t = s->raw;
	s->raw = w->raw;
	w->raw = t;
	w->raw.len = 0;
	s->w = w;
	s->records = w->block_records;
	s->zone = w->zone;
	s->first.len = s->last.len = 0;
	if (w->indexed && (muse_buf_put(&s->first, w->first.p, w->first.len) ||
	    muse_buf_put(&s->last, w->last.p, w->last.len)))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	pthread_mutex_lock(&b->mu);
	b->queued++;
	w->inflight++;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return 0;
}

static int flush_block(muse_writer *w, struct muse_err *e)
{
	int rc;

	if (w->block_records == 0)
		return 0;
	rc = w->behind != NULL ? hand_over(w, e) :
	    pack_block(w, &w->raw, w->block_records, &w->zone, &w->first,
		&w->last, e);
	if (rc) {
		w->failed = 1;
		return rc;
	}
	w->raw.len = 0;
	w->block_records = 0;
	return 0;
}

int muse_writer_add(muse_writer *w, const void *rec, size_t n,
	struct muse_err *e)
{
	struct muse_key k;
	const uint8_t *after;
	uint8_t *o;
	size_t v;

	if (w->failed)
		return MUSE_EIO;
	if (n > MUSE_BLOCK_MAX / 2)
		return muse_err_set(e, MUSE_ELIMIT, "record of %zu bytes is too large",
		    n);
	if (w->raw.len + n + 10 > MUSE_BLOCK_MAX && flush_block(w, e))
		return e->code;
	if (w->indexed) {
		if (muse_key_decode(w->dims, rec, (const uint8_t *)rec + n, &k,
		    &after))
			return muse_err_set(e, MUSE_EFORMAT,
			    "record without a valid key");
		if ((w->dims & 1u << MUSE_DIM_TITLE) && w->block_records &&
		    w->raw.len >= MUSE_BLOCK_TITLE_MIN &&
		    (w->title.len != k.s[MUSE_DIM_TITLE].n ||
		    memcmp(w->title.p, k.s[MUSE_DIM_TITLE].p, w->title.len) != 0) &&
		    flush_block(w, e))
			return e->code;
	}
	/* The length as a varint, then the record, written in one go. */
	if (muse_buf_reserve(&w->raw, n + 10))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	o = w->raw.p + w->raw.len;
	for (v = n; v >= 0x80; v >>= 7)
		*o++ = (uint8_t)(v | 0x80);
	*o++ = (uint8_t)v;
	memcpy(o, rec, n);
	w->raw.len = (size_t)(o + n - w->raw.p);
	if (w->indexed) {
		w->last.len = 0;
		if (muse_buf_put(&w->last, rec, (size_t)(after -
		    (const uint8_t *)rec)) || (w->block_records == 0 &&
		    (w->first.len = 0, muse_buf_put(&w->first, w->last.p,
		    w->last.len))))
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		if (w->block_records == 0) {
			w->title.len = 0;
			if ((w->dims & 1u << MUSE_DIM_TITLE) &&
			    muse_buf_put(&w->title, k.s[MUSE_DIM_TITLE].p,
			    k.s[MUSE_DIM_TITLE].n))
				return muse_err_set(e, MUSE_ENOMEM, "out of memory");
			w->zone.min_day = UINT32_MAX;
			w->zone.max_day = 0;
			memset(w->zone.bits, 0, sizeof(w->zone.bits));
		}
		muse_zone_add(&w->zone, w->dims, &k);
	}
	w->block_records++;
	w->nrecords++;
	if (w->raw.len >= MUSE_BLOCK_TARGET)
		return flush_block(w, e);
	return 0;
}

/*
 * The footer: a skippable block after the data blocks whose payload ends
 * with its own length and a magic, so that a reader can find it from the
 * end of the file (muse-format(5), STORE FOOTER and DELTA STREAMS).
 * Both types share the first 48 bytes; a store's index or a delta's
 * origin and target follow.
 */
static int write_footer(muse_writer *w, struct muse_err *e)
{
	struct muse_buf p = { 0 };
	uint8_t bh[MUSE_BLOCK_HEADER_SIZE];
	XXH64_state_t st;
	uint64_t sum;
	int rc;

	if (muse_buf_put_u8(&p, w->delta ? MUSE_FOOTER_DELTA : MUSE_FOOTER_STORE) ||
	    muse_buf_put(&p, "\0\0\0\0\0\0\0", 7) ||
	    muse_buf_put_le64(&p, w->version) ||
	    muse_buf_put_le64(&p, XXH3_64bits_digest(w->content)) ||
	    muse_buf_put_le64(&p, w->pos) ||
	    muse_buf_put_le64(&p, w->nrecords) ||
	    muse_buf_put_le32(&p, w->nblocks) ||
	    muse_buf_put_le32(&p, 0) ||
	    (w->delta ? muse_buf_put_le64(&p, w->from_version) ||
	    muse_buf_put_le64(&p, w->from_content) ||
	    muse_buf_put_le64(&p, w->from_records) ||
	    muse_buf_put_le64(&p, w->to_content) ||
	    muse_buf_put_le64(&p, w->to_records) :
	    muse_buf_put(&p, w->index.p, w->index.len)) ||
	    muse_buf_put_le64(&p, p.len) ||
	    muse_buf_put(&p, MUSE_FOOTER_MAGIC, 8)) {
		muse_buf_free(&p);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	memset(bh, 0, sizeof(bh));
	bh[0] = BLOCK_SKIP;
	muse_st32(bh + 8, (uint32_t)p.len);
	muse_st32(bh + 12, (uint32_t)p.len);
	XXH64_reset(&st, 0);
	XXH64_update(&st, bh, 16);
	XXH64_update(&st, p.p, p.len);
	sum = XXH64_digest(&st);
	muse_st64(bh + 16, sum);
	XXH64_update(w->digest, bh + 16, 8);
	rc = write_bytes(w, bh, sizeof(bh), e);
	if (rc == 0)
		rc = write_bytes(w, p.p, p.len, e);
	w->nblocks++;
	muse_buf_free(&p);
	return rc;
}

uint64_t muse_zone_bit(const char *s, size_t n)
{
	return UINT64_C(1) << (XXH3_64bits(s, n) & 63);
}

void muse_zone_add(struct muse_zone *z, uint8_t dims, const struct muse_key *k)
{
	static const int dim[3] = { MUSE_DIM_ASSET, MUSE_DIM_SEGMENT,
		MUSE_DIM_COUNTRY };
	uint32_t day = (uint32_t)k->day;

	if (day < z->min_day)
		z->min_day = day;
	if (day > z->max_day)
		z->max_day = day;
	for (int i = 0; i < 3; i++)
		if (dims & 1u << dim[i])
			z->bits[i] |= muse_zone_bit(k->s[dim[i]].p, k->s[dim[i]].n);
}

void muse_writer_set_version(muse_writer *w, uint64_t version)
{
	w->version = version;
}

void muse_writer_set_delta(muse_writer *w, uint64_t from_version,
	uint64_t from_content, uint64_t from_records, uint64_t to_version,
	uint64_t to_content, uint64_t to_records)
{
	w->from_version = from_version;
	w->from_content = from_content;
	w->from_records = from_records;
	w->version = to_version;
	w->to_content = to_content;
	w->to_records = to_records;
}

int muse_writer_finish(muse_writer *w, struct muse_err *e)
{
	uint8_t t[MUSE_TRAILER_SIZE];

	if (w->failed)
		return MUSE_EIO;
	if (flush_block(w, e))
		return e->code;
	if (behind_end(w, e))
		return e->code;
	if ((w->indexed || w->delta) && write_footer(w, e))
		return e->code;
	memset(t, 0, sizeof(t));
	t[0] = BLOCK_END;
	muse_st32(t + 4, w->nblocks);
	muse_st64(t + 8, w->nrecords);
	muse_st64(t + 16, XXH64_digest(w->digest));
	muse_st64(t + 24, XXH64(t, 24, 0));
	return write_bytes(w, t, sizeof(t), e);
}

uint64_t muse_writer_records(const muse_writer *w)
{
	return w->nrecords;
}

void muse_writer_free(muse_writer *w)
{
	struct muse_err e;

	if (w == NULL)
		return;
	behind_end(w, &e);
	if (w->own_cctx)
		ZSTD_freeCCtx(w->cctx);
	XXH64_freeState(w->digest);
	XXH3_freeState(w->content);
	muse_buf_free(&w->index);
	muse_buf_free(&w->first);
	muse_buf_free(&w->title);
	muse_buf_free(&w->last);
	muse_buf_free(&w->raw);
	muse_buf_free(&w->packed);
	free(w->name);
	free(w);
}

/* ------------------------------------------------------------------ */
/* Reader                                                               */
/* ------------------------------------------------------------------ */

/*
 * One block as read: its header (or the whole trailer), its stored bytes
 * and, for a data block, its records decompressed.  An unthreaded reader
 * reads into one; a reader that reads ahead fills a ring of them on a
 * second thread, reused from block to block (a buffer per block would
 * cost a page fault per page).
 */
struct rblock {
	int rc;                   /* 1 data, 2 trailer, else the MUSE_E* code */
	uint8_t bh[MUSE_TRAILER_SIZE];
	uint64_t offset;          /* of the block in the input */
	uint64_t consumed;        /* muse_input_consumed after it */
	struct muse_buf packed;
	struct muse_buf raw;
	size_t rawlen;
	struct muse_err err;      /* when rc < 0, on the second thread */
};

enum { AHEAD_SLOTS = 4 };

/*
 * The second thread of a reader reading ahead: it runs for one stream,
 * from the first record asked for to the trailer (or an error), and is
 * the only user of the input, the stream digest, the block count and the
 * footer while it runs.  filled and released count blocks; the caller
 * holds at most one (the one its records point into).
 */
struct ahead {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rblock slot[AHEAD_SLOTS];
	uint64_t filled, taken, released;
	int stop;                 /* the reader is freed */
	int skip;                 /* records are not wanted: no decompressing */
};

struct muse_reader {
	muse_input *in;
	ZSTD_DCtx *dctx;
	uint64_t pos;            /* bytes consumed from the input */
	uint64_t stream_start;
	int in_stream;
	uint8_t kind;             /* of the current stream */
	int want_content;         /* the stream may have a footer */
	struct rblock one;        /* the block, when not reading ahead */
	const struct rblock *blk; /* the block records come from */
	const uint8_t *cur, *end; /* records left in the current block */
	uint32_t block_left;      /* records the block header promised */
	uint32_t nblocks;
	uint64_t nrecords;
	XXH64_state_t *digest;
	XXH3_state_t *content;    /* of the records returned by next */
	int skipped;              /* some records were skipped unread */
	struct muse_footer footer;
	int can_ahead;            /* muse_reader_read_ahead, regular file */
	struct ahead *ahead;      /* its ring, once reading ahead is asked */
	int running;              /* the second thread runs for this stream */
	uint64_t seen;            /* input consumed up to the block taken */
	int failed;               /* an error ended the reading ahead */
	struct muse_err failure;
};

muse_reader *muse_reader_new(muse_input *in, struct muse_err *e)
{
	muse_reader *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->dctx = ZSTD_createDCtx()) == NULL ||
	    (r->digest = XXH64_createState()) == NULL ||
	    (r->content = XXH3_createState()) == NULL) {
		if (r) {
			ZSTD_freeDCtx(r->dctx);
			XXH64_freeState(r->digest);
		}
		free(r);
		muse_input_free(in);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	r->in = in;
	return r;
}

static void ahead_stop(muse_reader *r);

void muse_reader_free(muse_reader *r)
{
	if (r == NULL)
		return;
	ahead_stop(r);
	if (r->ahead != NULL) {
		for (int i = 0; i < AHEAD_SLOTS; i++) {
			muse_buf_free(&r->ahead->slot[i].packed);
			muse_buf_free(&r->ahead->slot[i].raw);
		}
		pthread_mutex_destroy(&r->ahead->mu);
		pthread_cond_destroy(&r->ahead->cv);
		free(r->ahead);
	}
	muse_input_free(r->in);
	ZSTD_freeDCtx(r->dctx);
	XXH64_freeState(r->digest);
	XXH3_freeState(r->content);
	muse_buf_free(&r->one.packed);
	muse_buf_free(&r->one.raw);
	free(r);
}

void muse_reader_reopen(muse_reader *r, muse_input *in)
{
	ahead_stop(r);
	muse_input_free(r->in);
	r->in = in;
	r->pos = r->stream_start = 0;
	r->in_stream = 0;
	r->cur = r->end = NULL;
	r->blk = NULL;
	r->block_left = 0;
	r->nblocks = 0;
	r->nrecords = 0;
	r->skipped = 0;
	r->failed = 0;
	memset(&r->footer, 0, sizeof(r->footer));
	r->can_ahead = 0;
}

int muse_reader_read_ahead(muse_reader *r)
{
	if (muse_input_size(r->in) < 0)
		return 0;
	if (r->ahead == NULL) {
		struct ahead *a = calloc(1, sizeof(*a));

		if (a == NULL)
			return 0;
		if (sync_init(&a->mu, &a->cv)) {
			free(a);
			return 0;
		}
		r->ahead = a;
	}
	r->can_ahead = 1;
	return 1;
}

uint64_t muse_reader_consumed(const muse_reader *r)
{
	return r->running ? r->seen : muse_input_consumed(r->in);
}

const char *muse_reader_name(const muse_reader *r)
{
	return muse_input_name(r->in);
}

uint64_t muse_reader_stream_offset(const muse_reader *r)
{
	return r->stream_start;
}

muse_input *muse_reader_input(muse_reader *r)
{
	return r->in;
}

uint64_t muse_reader_records(const muse_reader *r)
{
	return r->nrecords;
}

static int fail(muse_reader *r, struct muse_err *e, uint64_t off, int code,
	const char *msg)
{
	muse_err_where(e, muse_input_name(r->in), 0, off);
	return muse_err_set(e, code, "%s", msg);
}

/* Reads exactly n bytes; returns n, or the short count at end of input. */
static long read_exact(muse_reader *r, void *buf, size_t n, struct muse_err *e)
{
	size_t got = 0;

	while (got < n) {
		long k = muse_input_read(r->in, (uint8_t *)buf + got, n - got, e);

		if (k < 0)
			return k;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	r->pos += got;
	return (long)got;
}

int muse_reader_next_stream(muse_reader *r, struct muse_header *h,
	struct muse_err *e)
{
	uint8_t hdr[MUSE_HEADER_SIZE];
	uint64_t start = r->pos;
	long k;
	int rc;

	while (r->in_stream) {
		rc = muse_reader_skip_stream(r, e);
		if (rc < 0)
			return rc;
		start = r->pos;
	}
	k = read_exact(r, hdr, sizeof(hdr), e);
	if (k < 0)
		return (int)k;
	if (k == 0)
		return 0;
	if (k < (long)sizeof(hdr)) {
		if (memcmp(hdr, magic, (size_t)k < 8 ? (size_t)k : 8) == 0)
			return fail(r, e, start, MUSE_ETRUNC,
			    "truncated stream header");
		return fail(r, e, start, MUSE_EFORMAT,
		    "not a muse stream (bad magic)");
	}
	rc = muse_header_parse(hdr, h, e);
	if (rc) {
		muse_err_where(e, muse_input_name(r->in), 0, start);
		return rc;
	}
	r->stream_start = start;
	r->in_stream = 1;
	r->kind = h->kind;
	r->nblocks = 0;
	r->nrecords = 0;
	r->cur = r->end = NULL;
	r->block_left = 0;
	XXH64_reset(r->digest, 0);
	XXH3_64bits_reset(r->content);
	r->skipped = 0;
	r->want_content = h->kind != MUSE_KIND_EVENTS;
	memset(&r->footer, 0, sizeof(r->footer));
	return 1;
}

void muse_reader_footer(const muse_reader *r, struct muse_footer *f)
{
	*f = r->footer;
}

/*
 * Notes what a footer says.  A store's index is read by lib/store.c; here
 * only the fixed fields matter, checked again at the trailer.  A footer
 * must suit its stream: a store footer ends a sorted sketch stream, a
 * delta footer a delta stream.
 */
static int note_footer(muse_reader *r, const uint8_t *p, size_t n,
	uint64_t off, struct muse_err *e)
{
	if (n < 64 || (p[0] != MUSE_FOOTER_STORE && p[0] != MUSE_FOOTER_DELTA) ||
	    memcmp(p + n - 8, MUSE_FOOTER_MAGIC, 8) != 0)
		return 0;       /* some other skippable block: passed over */
	if (muse_le64(p + n - 16) != n - 16 ||
	    (p[0] == MUSE_FOOTER_DELTA && n != 104))
		return fail(r, e, off, MUSE_EFORMAT, "bad footer length");
	if (r->footer.present)
		return fail(r, e, off, MUSE_EFORMAT, "two footers in one stream");
	if (p[0] == MUSE_FOOTER_STORE ? r->kind != MUSE_KIND_SKETCH :
	    r->kind != MUSE_KIND_DELTA)
		return fail(r, e, off, MUSE_EFORMAT, p[0] == MUSE_FOOTER_STORE ?
		    "store footer in a stream that is not a sketch stream" :
		    "delta footer in a stream that is not a delta stream");
	if (memcmp(p + 1, "\0\0\0\0\0\0\0", 7) != 0 || muse_le32(p + 44) != 0)
		return fail(r, e, off, MUSE_EFORMAT,
		    "reserved footer bytes are not zero");
	if (muse_le64(p + 24) != off - r->stream_start)
		return fail(r, e, off, MUSE_EFORMAT,
		    "footer offset disagrees with its place in the stream");
	r->footer.present = 1;
	r->footer.type = p[0];
	r->footer.version = muse_le64(p + 8);
	r->footer.content = muse_le64(p + 16);
	r->footer.records = muse_le64(p + 32);
	if (p[0] == MUSE_FOOTER_DELTA) {
		r->footer.from_version = muse_le64(p + 48);
		r->footer.from_content = muse_le64(p + 56);
		r->footer.from_records = muse_le64(p + 64);
		r->footer.to_version = r->footer.version;
		r->footer.to_content = muse_le64(p + 72);
		r->footer.to_records = muse_le64(p + 80);
	}
	return 0;
}

/*
 * Reads the next block header and payload into b: 1 for a data block
 * (decompressed when asked), 2 for the trailer (its own checksum and
 * reserved bytes checked; the counts are verify_trailer's, which needs
 * the records the caller took), or an error.  Skippable blocks are
 * consumed here and footers noted.  On the second thread of a reader
 * reading ahead, this is all it does.
 */
static int fetch_block(muse_reader *r, struct rblock *b, int decompress,
	struct muse_err *e)
{
	uint8_t *bh = b->bh;

	for (;;) {
		uint64_t off = r->pos;
		uint32_t nrec, rawsz, size;
		XXH64_state_t st;
		size_t got;
		long k;

		k = read_exact(r, bh, MUSE_BLOCK_HEADER_SIZE, e);
		if (k < 0)
			return (int)k;
		if (k < MUSE_BLOCK_HEADER_SIZE)
			return fail(r, e, off, MUSE_ETRUNC,
			    "truncated stream (no trailer)");
		b->offset = off;
		if (bh[0] == BLOCK_END) {
			k = read_exact(r, bh + MUSE_BLOCK_HEADER_SIZE,
			    MUSE_TRAILER_SIZE - MUSE_BLOCK_HEADER_SIZE, e);
			if (k < 0)
				return (int)k;
			if (k < MUSE_TRAILER_SIZE - MUSE_BLOCK_HEADER_SIZE)
				return fail(r, e, off, MUSE_ETRUNC,
				    "truncated stream trailer");
			if (muse_le64(bh + 24) != XXH64(bh, 24, 0))
				return fail(r, e, off, MUSE_ECHECKSUM,
				    "trailer checksum mismatch");
			if (bh[1] || bh[2] || bh[3])
				return fail(r, e, off, MUSE_EFORMAT,
				    "reserved trailer bytes are not zero");
			return 2;
		}
		if ((bh[0] != BLOCK_DATA && bh[0] != BLOCK_SKIP) || bh[1] ||
		    bh[2] || bh[3])
			return fail(r, e, off, MUSE_EFORMAT, "bad block header");
		nrec = muse_le32(bh + 4);
		rawsz = muse_le32(bh + 8);
		size = muse_le32(bh + 12);
		if (rawsz > MUSE_BLOCK_MAX || size > MUSE_BLOCK_MAX ||
		    (bh[0] == BLOCK_SKIP && (nrec != 0 || rawsz != size)))
			return fail(r, e, off, MUSE_EFORMAT,
			    "block sizes out of range");
		b->packed.len = 0;
		if (muse_buf_reserve(&b->packed, size))
			return fail(r, e, off, MUSE_ENOMEM, "out of memory");
		k = read_exact(r, b->packed.p, size, e);
		if (k < 0)
			return (int)k;
		if ((uint32_t)k < size)
			return fail(r, e, off, MUSE_ETRUNC,
			    "truncated stream (block cut short)");
		b->packed.len = size;
		XXH64_reset(&st, 0);
		XXH64_update(&st, bh, 16);
		XXH64_update(&st, b->packed.p, size);
		if (XXH64_digest(&st) != muse_le64(bh + 16))
			return fail(r, e, off, MUSE_ECHECKSUM,
			    "block checksum mismatch");
		XXH64_update(r->digest, bh + 16, 8);
		r->nblocks++;
		if (bh[0] == BLOCK_SKIP) {
			if ((k = note_footer(r, b->packed.p, size, off, e)) < 0)
				return (int)k;
			continue;
		}
		if (!decompress)
			return 1;
		b->raw.len = 0;
		if (muse_buf_reserve(&b->raw, (size_t)rawsz + 1))
			return fail(r, e, off, MUSE_ENOMEM, "out of memory");
		got = ZSTD_decompressDCtx(r->dctx, b->raw.p, rawsz, b->packed.p,
		    size);
		if (ZSTD_isError(got) || got != rawsz)
			return fail(r, e, off, MUSE_EFORMAT,
			    "block does not decompress to its stated size");
		if (nrec == 0 && got != 0)
			return fail(r, e, off, MUSE_EFORMAT,
			    "block holds more records than its header says");
		b->rawlen = got;
		return 1;
	}
}

/* The trailer in b against what the stream gave: 0, or an error. */
static int verify_trailer(muse_reader *r, const struct rblock *b,
	struct muse_err *e)
{
	const uint8_t *t = b->bh;

	if (muse_le32(t + 4) != r->nblocks || muse_le64(t + 8) != r->nrecords)
		return fail(r, e, b->offset, MUSE_EFORMAT,
		    "trailer counts disagree with the blocks read "
		    "(blocks missing or added)");
	if (muse_le64(t + 16) != XXH64_digest(r->digest))
		return fail(r, e, b->offset, MUSE_ECHECKSUM,
		    "stream digest mismatch (blocks reordered or replaced)");
	if (r->footer.present && (r->footer.records != r->nrecords ||
	    (!r->skipped && r->footer.content != XXH3_64bits_digest(r->content))))
		return fail(r, e, b->offset, MUSE_ECHECKSUM,
		    r->kind == MUSE_KIND_DELTA ?
		    "delta footer disagrees with the records" :
		    "store footer disagrees with the records");
	if (r->kind == MUSE_KIND_DELTA && !r->footer.present)
		return fail(r, e, b->offset, MUSE_EFORMAT,
		    "delta stream without its footer");
	r->in_stream = 0;
	return 0;
}

/*
 * The second thread: fills the ring with the blocks of the stream until
 * its trailer or an error (which it leaves in the slot for the caller to
 * meet in order), or until the reader is freed.
 */
static void *ahead_main(void *arg)
{
	muse_reader *r = arg;
	struct ahead *a = r->ahead;

	for (;;) {
		struct rblock *b;
		int skip, rc;

		pthread_mutex_lock(&a->mu);
		while (!a->stop && a->filled - a->released == AHEAD_SLOTS)
			pthread_cond_wait(&a->cv, &a->mu);
		skip = a->skip;
		if (a->stop) {
			pthread_mutex_unlock(&a->mu);
			return NULL;
		}
		b = &a->slot[a->filled % AHEAD_SLOTS];
		pthread_mutex_unlock(&a->mu);
		muse_err_clear(&b->err);
		rc = fetch_block(r, b, !skip, &b->err);
		b->rc = rc;
		b->consumed = muse_input_consumed(r->in);
		pthread_mutex_lock(&a->mu);
		a->filled++;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		if (rc != 1)
			return NULL;
	}
}

/* Ends the second thread, wherever it is. */
static void ahead_stop(muse_reader *r)
{
	struct ahead *a = r->ahead;

	if (!r->running)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->th, NULL);
	r->running = 0;
	r->blk = NULL;
}

/*
 * The next block of the current stream into r->blk: read here, or taken
 * from the second thread (started at the stream's first block).  Returns
 * what fetch_block does.
 */
static int next_block(muse_reader *r, int decompress, struct muse_err *e)
{
	struct ahead *a = r->ahead;
	struct rblock *b;

	if (r->failed) {
		*e = r->failure;
		return r->failed;
	}
	if (r->can_ahead && !r->running) {
		a->filled = a->taken = a->released = 0;
		a->stop = 0;
		a->skip = !decompress;
		if (pthread_create(&a->th, NULL, ahead_main, r) == 0)
			r->running = 1;
		else
			r->can_ahead = 0;       /* no thread: read here from now on */
	}
	if (!r->running) {
		r->blk = &r->one;
		return fetch_block(r, &r->one, decompress, e);
	}
	pthread_mutex_lock(&a->mu);
	if (a->released < a->taken)
		a->released++;          /* the block the records came from */
	if (!decompress)
		a->skip = 1;
	pthread_cond_broadcast(&a->cv);
	while (a->filled == a->taken)
		pthread_cond_wait(&a->cv, &a->mu);
	b = &a->slot[a->taken++ % AHEAD_SLOTS];
	pthread_mutex_unlock(&a->mu);
	r->blk = b;
	r->seen = b->consumed;
	if (b->rc == 1)
		return 1;
	/* The thread has stopped after this block: its state is ours again. */
	pthread_join(a->th, NULL);
	r->running = 0;
	if (b->rc < 0) {
		*e = b->err;
		r->failure = b->err;
		r->failed = b->rc;
	}
	return b->rc;
}

int muse_reader_skip_stream(muse_reader *r, struct muse_err *e)
{
	int rc;

	if (r->failed) {
		*e = r->failure;
		return r->failed;
	}
	if (!r->in_stream)
		return 0;
	r->skipped = 1;
	if (r->block_left)
		r->nrecords += r->block_left;
	r->block_left = 0;
	r->cur = r->end = NULL;
	while ((rc = next_block(r, 0, e)) == 1)
		r->nrecords += muse_le32(r->blk->bh + 4);
	if (rc == 2)
		rc = verify_trailer(r, r->blk, e);
	return rc < 0 ? rc : 0;
}

int muse_reader_next(muse_reader *r, const uint8_t **rec, size_t *n,
	struct muse_err *e)
{
	const uint8_t *start;
	uint64_t len;

	if (!r->in_stream)
		return 0;
	while (r->cur == r->end) {
		int rc;

		if (r->block_left)
			return fail(r, e, r->blk->offset, MUSE_EFORMAT,
			    "block holds fewer records than its header says");
		rc = next_block(r, 1, e);
		if (rc < 0)
			return rc;
		if (rc == 2)
			return verify_trailer(r, r->blk, e);
		r->cur = r->blk->raw.p;
		r->end = r->blk->raw.p + r->blk->rawlen;
		r->block_left = muse_le32(r->blk->bh + 4);
	}
	start = r->cur;
	if (r->block_left == 0 || muse_get_varint(&r->cur, r->end, &len) ||
	    len > (uint64_t)(r->end - r->cur))
		return fail(r, e, r->blk->offset, MUSE_EFORMAT,
		    "bad record length in block");
	*rec = r->cur;
	*n = (size_t)len;
	if (r->want_content)
		XXH3_64bits_update(r->content, start,
		    (size_t)(r->cur + len - start));
	r->cur += len;
	r->block_left--;
	r->nrecords++;
	if (r->cur == r->end && r->block_left)
		return fail(r, e, r->blk->offset, MUSE_EFORMAT,
		    "block holds fewer records than its header says");
	if (r->cur != r->end && r->block_left == 0)
		return fail(r, e, r->blk->offset, MUSE_EFORMAT,
		    "block holds more records than its header says");
	return 1;
}
