/*
 * store.c - random access to a store through its footer.
 *
 * Opening checks everything that does not depend on the query: the
 * trailer's own checksum, the footer block's checksum, the header, that
 * the footer's index describes blocks in order inside the file, that the
 * trailer's block count, record count and stream digest agree with the
 * index (the digest is recomputed from the block checksums the index
 * holds, so a block swapped for another is caught without reading it).
 * Reading a block then checks its header against the index, its checksum,
 * its decompressed size and its record count.  Whatever is not read is
 * not trusted either: it is simply not used.
 */
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "store.h"
#include "ts.h"

struct entry {
	uint64_t offset;
	uint64_t sum;
	uint32_t nrecords;
	struct muse_zone zone;
	struct muse_key first, last;
	uint8_t *cached;          /* the checked, decompressed records */
	uint32_t cached_len;
	struct values *values;    /* of a cached block: its distinct values */
};

/*
 * The distinct values of each string dimension among a cached block's
 * records (pointing into the cached records).  The footer's zone keeps
 * 64-bit hashed sets, which a block of many small keys fills; a serving
 * process that holds the block anyway can afford the exact sets, and so
 * passes over blocks the zone cannot rule out.
 */
struct values {
	struct muse_str *v[MUSE_NDIMS];
	size_t n[MUSE_NDIMS];
};

struct muse_store {
	char *name;
	const uint8_t *map;
	size_t size;
	struct muse_header h;
	uint64_t version, content, records;
	struct entry *blocks;
	size_t nblocks;
	ZSTD_DCtx *dctx;
	struct muse_buf raw;
	size_t cache_left;        /* bytes the block cache may still take */
	const uint8_t *cur, *end;
	uint32_t left;
	size_t block;
};

static muse_store *bad(muse_store *s, struct muse_err *e, int code,
	const char *msg)
{
	muse_err_where(e, s->name, 0, UINT64_MAX);
	muse_err_set(e, code, "%s", msg);
	muse_store_free(s);
	return NULL;
}

/* Not an error: the caller reads the file as a stream instead. */
static muse_store *not_indexed(muse_store *s, struct muse_err *e)
{
	muse_store_free(s);
	e->code = MUSE_OK;
	return NULL;
}

muse_store *muse_store_open(const char *path, struct muse_err *e)
{
	muse_store *s = calloc(1, sizeof(*s));
	const uint8_t *t, *p, *fb, *q, *qend;
	struct stat st;
	XXH64_state_t dig;
	uint64_t len, footer_off, prev = 0;
	uint32_t nblocks;
	void *m;
	int fd;

	muse_err_clear(e);
	if (s == NULL || (s->name = strdup(path)) == NULL) {
		free(s);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	if (strcmp(path, "-") == 0)
		return not_indexed(s, e);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		muse_err_where(e, path, 0, UINT64_MAX);
		muse_err_set(e, MUSE_EIO, "cannot open: %s", strerror(err));
		muse_store_free(s);
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < MUSE_HEADER_SIZE + MUSE_TRAILER_SIZE +
	    MUSE_BLOCK_HEADER_SIZE + 64) {
		close(fd);
		return not_indexed(s, e);
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return not_indexed(s, e);
	s->map = m;
	s->size = (size_t)st.st_size;

	/* The trailer, then the footer just before it. */
	t = s->map + s->size - MUSE_TRAILER_SIZE;
	if (t[0] != 'E' || muse_le64(t + 24) != XXH64(t, 24, 0))
		return not_indexed(s, e);    /* cut, or not a stream: let the
					      * stream reader say which */
	if (memcmp(t - 8, MUSE_FOOTER_MAGIC, 8) != 0)
		return not_indexed(s, e);
	len = muse_le64(t - 16);
	if (len < 48 || len > s->size - MUSE_HEADER_SIZE - MUSE_TRAILER_SIZE -
	    MUSE_BLOCK_HEADER_SIZE - 16)
		return bad(s, e, MUSE_EFORMAT, "bad store footer length");
	p = t - 16 - len;
	fb = p - MUSE_BLOCK_HEADER_SIZE;
	if (fb[0] != 'S' || muse_le32(fb + 8) != len + 16 ||
	    muse_le32(fb + 12) != len + 16)
		return bad(s, e, MUSE_EFORMAT, "bad store footer block");
	{
		XXH64_state_t st64;

		XXH64_reset(&st64, 0);
		XXH64_update(&st64, fb, 16);
		XXH64_update(&st64, p, len + 16);
		if (XXH64_digest(&st64) != muse_le64(fb + 16))
			return bad(s, e, MUSE_ECHECKSUM,
			    "store footer checksum mismatch");
	}
	if (p[0] == MUSE_FOOTER_DELTA)
		return bad(s, e, MUSE_EUSAGE, "a delta, not a store (apply it to "
		    "its store with muse-delta apply)");
	if (p[0] != MUSE_FOOTER_STORE)
		return bad(s, e, MUSE_EFORMAT, "unknown footer type");
	s->version = muse_le64(p + 8);
	s->content = muse_le64(p + 16);
	footer_off = muse_le64(p + 24);
	s->records = muse_le64(p + 32);
	nblocks = muse_le32(p + 40);
	/* A footer not at the stream's start + its offset: several streams. */
	if (footer_off != (uint64_t)(fb - s->map))
		return not_indexed(s, e);
	if (muse_header_parse(s->map, &s->h, e)) {
		muse_err_where(e, path, 0, 0);
		muse_store_free(s);
		return NULL;
	}
	if (s->h.kind != MUSE_KIND_SKETCH || !(s->h.flags & MUSE_FLAG_SORTED))
		return bad(s, e, MUSE_EFORMAT, "store footer in a stream that is "
		    "not a sorted sketch stream");
	if (muse_le32(t + 4) != nblocks + 1 || muse_le64(t + 8) != s->records)
		return bad(s, e, MUSE_EFORMAT,
		    "trailer counts disagree with the store footer");
	if (nblocks > len / 58)
		return bad(s, e, MUSE_EFORMAT, "bad store footer block count");
	s->blocks = calloc(nblocks + 1, sizeof(*s->blocks));
	if (s->blocks == NULL)
		return bad(s, e, MUSE_ENOMEM, "out of memory");
	XXH64_reset(&dig, 0);
	q = p + 48;
	qend = p + len;
	for (uint32_t i = 0; i < nblocks; i++) {
		struct entry *b = &s->blocks[i];
		const uint8_t *k;
		size_t kn;
		uint8_t sum[8];

		if (qend - q < 56)
			return bad(s, e, MUSE_EFORMAT, "store footer cut short");
		b->offset = muse_le64(q);
		b->sum = muse_le64(q + 8);
		b->nrecords = muse_le32(q + 16);
		b->zone.min_day = muse_le32(q + 20);
		b->zone.max_day = muse_le32(q + 24);
		b->zone.bits[0] = muse_le64(q + 32);
		b->zone.bits[1] = muse_le64(q + 40);
		b->zone.bits[2] = muse_le64(q + 48);
		if (muse_le32(q + 28) != 0 || b->zone.min_day > b->zone.max_day)
			return bad(s, e, MUSE_EFORMAT, "bad zone in store footer");
		q += 56;
		if (b->offset < MUSE_HEADER_SIZE || b->offset < prev ||
		    b->offset + MUSE_BLOCK_HEADER_SIZE > (uint64_t)(fb - s->map) ||
		    b->nrecords == 0)
			return bad(s, e, MUSE_EFORMAT,
			    "store footer index out of order or range");
		prev = b->offset + MUSE_BLOCK_HEADER_SIZE;
		if (muse_get_str(&q, qend, (const char **)&k, &kn) ||
		    muse_key_decode(s->h.dims, k, k + kn, &b->first, &k) ||
		    muse_get_str(&q, qend, (const char **)&k, &kn) ||
		    muse_key_decode(s->h.dims, k, k + kn, &b->last, &k))
			return bad(s, e, MUSE_EFORMAT, "bad key in store footer");
		muse_st64(sum, b->sum);
		XXH64_update(&dig, sum, 8);
	}
	if (q != qend)
		return bad(s, e, MUSE_EFORMAT, "store footer has trailing bytes");
	{
		uint64_t sum = 0;

		for (uint32_t i = 0; i < nblocks; i++)
			sum += s->blocks[i].nrecords;
		if (sum != s->records)
			return bad(s, e, MUSE_EFORMAT,
			    "store footer's record count disagrees with its blocks");
	}
	XXH64_update(&dig, fb + 16, 8);
	if (XXH64_digest(&dig) != muse_le64(t + 16))
		return bad(s, e, MUSE_ECHECKSUM,
		    "stream digest disagrees with the store footer");
	s->nblocks = nblocks;
	if ((s->dctx = ZSTD_createDCtx()) == NULL)
		return bad(s, e, MUSE_ENOMEM, "out of memory");
	return s;
}

void muse_store_free(muse_store *s)
{
	if (s == NULL)
		return;
	if (s->map)
		munmap((void *)s->map, s->size);
	for (size_t i = 0; s->blocks && i < s->nblocks; i++) {
		struct values *v = s->blocks[i].values;

		free(s->blocks[i].cached);
		for (int d = 0; v && d < MUSE_NDIMS; d++)
			free(v->v[d]);
		free(v);
	}
	ZSTD_freeDCtx(s->dctx);
	muse_buf_free(&s->raw);
	free(s->blocks);
	free(s->name);
	free(s);
}

const struct muse_header *muse_store_header(const muse_store *s)
{
	return &s->h;
}

uint64_t muse_store_version(const muse_store *s)
{
	return s->version;
}

uint64_t muse_store_content(const muse_store *s)
{
	return s->content;
}

uint64_t muse_store_records(const muse_store *s)
{
	return s->records;
}

size_t muse_store_nblocks(const muse_store *s)
{
	return s->nblocks;
}

void muse_store_block_keys(const muse_store *s, size_t i,
	struct muse_key *first, struct muse_key *last)
{
	*first = s->blocks[i].first;
	*last = s->blocks[i].last;
}

int muse_store_days(const muse_store *s, int64_t *from, int64_t *to)
{
	const struct muse_header *h = muse_store_header(s);
	size_t n = muse_store_nblocks(s);
	int64_t lo = INT64_MAX, hi = INT64_MIN;

	if (!(h->dims & 1u << MUSE_DIM_DATE) || n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct muse_zone *z = muse_store_block_zone(s, i);

		if ((int64_t)z->min_day < lo)
			lo = z->min_day;
		if ((int64_t)z->max_day > hi)
			hi = z->max_day;
	}
	if (h->grain == MUSE_GRAIN_WEEK)
		hi += 6;
	else if (h->grain == MUSE_GRAIN_MONTH)
		hi = muse_month_start(muse_month_start(hi) + 31) - 1;
	else if (h->grain == MUSE_GRAIN_QUARTER)
		hi = muse_quarter_start(muse_quarter_start(hi) + 92) - 1;
	*from = lo;
	*to = hi;
	return 0;
}

const struct muse_zone *muse_store_block_zone(const muse_store *s, size_t i)
{
	return &s->blocks[i].zone;
}

static int block_fail(const muse_store *s, const struct entry *b,
	struct muse_err *e, int code, const char *msg)
{
	muse_err_where(e, s->name, 0, b->offset);
	return muse_err_set(e, code, "%s", msg);
}

void muse_store_cache(muse_store *s, size_t bytes)
{
	s->cache_left = bytes;
}

static int add_value(struct values *v, int d, const struct muse_str *x,
	size_t *cap)
{
	/*
	 * Keys are sorted by title, then asset: equal titles and assets come
	 * together, so comparing with the last one found suffices for them;
	 * segments and countries recur and are looked up (they are few).
	 */
	size_t from = d <= MUSE_DIM_ASSET && v->n[d] ? v->n[d] - 1 : 0;

	for (size_t j = from; j < v->n[d]; j++)
		if (v->v[d][j].n == x->n && memcmp(v->v[d][j].p, x->p, x->n) == 0)
			return 0;
	if (v->n[d] == cap[d]) {
		size_t c = cap[d] ? 2 * cap[d] : 8;
		struct muse_str *nv = realloc(v->v[d], c * sizeof(*nv));

		if (nv == NULL)
			return -1;
		v->v[d] = nv;
		cap[d] = c;
	}
	v->v[d][v->n[d]++] = *x;
	return 0;
}

/*
 * The distinct values of a block just cached; NULL when memory is short
 * or a key does not decode (the reader then says what is wrong).
 */
static struct values *block_values(const muse_store *s, const struct entry *b)
{
	struct values *v = calloc(1, sizeof(*v));
	const uint8_t *p = b->cached, *end = b->cached + b->cached_len;
	size_t cap[MUSE_NDIMS] = { 0 };

	if (v == NULL)
		return NULL;
	for (uint32_t r = 0; r < b->nrecords; r++) {
		struct muse_key k;
		const uint8_t *after;
		uint64_t len;

		if (muse_get_varint(&p, end, &len) || len > (uint64_t)(end - p) ||
		    muse_key_decode(s->h.dims, p, p + len, &k, &after))
			goto fail;
		for (int d = 0; d < MUSE_NDIMS; d++)
			if (d != MUSE_DIM_DATE && (s->h.dims & 1u << d) &&
			    add_value(v, d, &k.s[d], cap))
				goto fail;
		p += len;
	}
	return v;
fail:
	for (int d = 0; d < MUSE_NDIMS; d++)
		free(v->v[d]);
	free(v);
	return NULL;
}

int muse_store_read_block(muse_store *s, size_t i, struct muse_err *e)
{
	struct entry *b = &s->blocks[i];
	const uint8_t *bh = s->map + b->offset;
	uint32_t rawsz = muse_le32(bh + 8), size = muse_le32(bh + 12);
	XXH64_state_t st;
	size_t got;

	if (b->cached) {
		s->cur = b->cached;
		s->end = b->cached + b->cached_len;
		s->left = b->nrecords;
		s->block = i;
		return 0;
	}
	if (bh[0] != 'B' || bh[1] || bh[2] || bh[3] ||
	    muse_le32(bh + 4) != b->nrecords || rawsz > MUSE_BLOCK_MAX ||
	    size > MUSE_BLOCK_MAX || muse_le64(bh + 16) != b->sum ||
	    size > s->size - b->offset - MUSE_BLOCK_HEADER_SIZE)
		return block_fail(s, b, e, MUSE_EFORMAT,
		    "block disagrees with the store footer");
	XXH64_reset(&st, 0);
	XXH64_update(&st, bh, 16);
	XXH64_update(&st, bh + MUSE_BLOCK_HEADER_SIZE, size);
	if (XXH64_digest(&st) != b->sum)
		return block_fail(s, b, e, MUSE_ECHECKSUM,
		    "block checksum mismatch");
	s->raw.len = 0;
	if (muse_buf_reserve(&s->raw, (size_t)rawsz + 1))
		return block_fail(s, b, e, MUSE_ENOMEM, "out of memory");
	got = ZSTD_decompressDCtx(s->dctx, s->raw.p, rawsz,
	    bh + MUSE_BLOCK_HEADER_SIZE, size);
	if (ZSTD_isError(got) || got != rawsz)
		return block_fail(s, b, e, MUSE_EFORMAT,
		    "block does not decompress to its stated size");
	s->cur = s->raw.p;
	s->end = s->raw.p + got;
	s->left = b->nrecords;
	s->block = i;
	if (got <= s->cache_left && (b->cached = malloc(got ? got : 1)) != NULL) {
		memcpy(b->cached, s->raw.p, got);
		b->cached_len = (uint32_t)got;
		s->cache_left -= got;
		s->cur = b->cached;
		s->end = b->cached + got;
		b->values = block_values(s, b);
	}
	return 0;
}

const struct muse_str *muse_store_block_values(const muse_store *s,
	size_t i, int dim, size_t *n)
{
	const struct values *v = s->blocks[i].values;

	if (v == NULL || !(s->h.dims & 1u << dim) || dim == MUSE_DIM_DATE)
		return NULL;
	*n = v->n[dim];
	return v->v[dim];
}

int muse_store_next(muse_store *s, const uint8_t **rec, size_t *n,
	struct muse_err *e)
{
	uint64_t len;

	if (s->left == 0) {
		if (s->cur != s->end) {
			muse_err_where(e, s->name, 0, s->blocks[s->block].offset);
			return muse_err_set(e, MUSE_EFORMAT,
			    "block holds more records than its header says");
		}
		return 0;
	}
	if (muse_get_varint(&s->cur, s->end, &len) ||
	    len > (uint64_t)(s->end - s->cur)) {
		muse_err_where(e, s->name, 0, s->blocks[s->block].offset);
		return muse_err_set(e, MUSE_EFORMAT, "bad record length in block");
	}
	*rec = s->cur;
	*n = (size_t)len;
	s->cur += len;
	s->left--;
	return 1;
}
