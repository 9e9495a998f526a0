/*
 * event.c - event record encoding.  Integers are varints (timestamps are
 * never negative: the text parser accepts years from 1970), the user hash
 * is 16 bytes little-endian (h1 then h2), strings are varint length and
 * bytes.  zstd takes care of the repetition across records.
 */
#include <string.h>

/*
 * The user-id hash runs once per input row: inlined, it costs about 2 ns
 * instead of 11 through the shared library (same function, same values).
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "event.h"
#include "murmur3.h"
#include "stream.h"

void muse_uid_hash(const char *id, size_t n, uint64_t seed, struct muse_uid *u)
{
	XXH128_hash_t h = XXH3_128bits_withSeed(id, n, seed);

	u->h1 = h.low64;
	u->h2 = h.high64;
}

void muse_uid_hash_ds(const char *id, size_t n, uint64_t seed,
	struct muse_uid *u)
{
	muse_murmur3_128(id, n, seed, &u->h1, &u->h2);
}

/*
 * The encoder runs once per input row: it makes room for the longest
 * record the event can give at once and writes through a pointer, with
 * no call per field.
 */
static inline uint8_t *put_varint(uint8_t *o, uint64_t v)
{
	while (v >= 0x80) {
		*o++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*o++ = (uint8_t)v;
	return o;
}

static inline uint8_t *put_uid(uint8_t *o, const struct muse_uid *u)
{
	muse_st64(o, u->h1);
	muse_st64(o + 8, u->h2);
	return o + 16;
}

static inline uint8_t *put_str(uint8_t *o, const struct muse_str *s)
{
	o = put_varint(o, s->n);
	if (s->n)
		memcpy(o, s->p, s->n);
	return o + s->n;
}

int muse_event_encode(const struct muse_event *ev, struct muse_buf *b)
{
	size_t max;
	uint8_t *o;

	/* Two varints, the user hash, the kind and three strings at most. */
	switch (ev->table) {
	case MUSE_TABLE_IMPRESSIONS:
		max = 10 + 16 + 30 + ev->asset.n + ev->title.n + ev->country.n;
		break;
	case MUSE_TABLE_PLAYS:
		max = 10 + 16 + 10 + ev->title.n + 10 + 1;
		break;
	case MUSE_TABLE_AFFINITIES:
		max = 16 + 10 + ev->cluster.n;
		break;
	case MUSE_TABLE_ASSETS:
		max = 30 + ev->asset.n + ev->title.n + ev->type.n;
		break;
	default:
		return MUSE_EUSAGE;
	}
	if (muse_buf_reserve(b, max))
		return MUSE_ENOMEM;
	o = b->p + b->len;
	switch (ev->table) {
	case MUSE_TABLE_IMPRESSIONS:
		o = put_varint(o, (uint64_t)ev->ts);
		o = put_uid(o, &ev->user);
		o = put_str(o, &ev->asset);
		o = put_str(o, &ev->title);
		o = put_str(o, &ev->country);
		break;
	case MUSE_TABLE_PLAYS:
		o = put_varint(o, (uint64_t)ev->ts);
		o = put_uid(o, &ev->user);
		o = put_str(o, &ev->title);
		o = put_varint(o, ev->duration_ms);
		*o++ = (uint8_t)ev->kind;
		break;
	case MUSE_TABLE_AFFINITIES:
		o = put_uid(o, &ev->user);
		o = put_str(o, &ev->cluster);
		break;
	case MUSE_TABLE_ASSETS:
		o = put_str(o, &ev->asset);
		o = put_str(o, &ev->title);
		o = put_str(o, &ev->type);
		break;
	}
	b->len = (size_t)(o - b->p);
	return 0;
}

static int get_uid(const uint8_t **pp, const uint8_t *end, struct muse_uid *u)
{
	if (end - *pp < 16)
		return -1;
	u->h1 = muse_le64(*pp);
	u->h2 = muse_le64(*pp + 8);
	*pp += 16;
	return 0;
}

static int get_ident(const uint8_t **pp, const uint8_t *end,
	struct muse_str *s)
{
	if (muse_get_str(pp, end, &s->p, &s->n) || s->n == 0 || s->n > 255)
		return -1;
	return 0;
}

int muse_event_decode(int table, const uint8_t *p, size_t n,
	struct muse_event *ev, struct muse_err *e)
{
	const uint8_t *end = p + n;
	uint64_t v;
	int bad = 0;

	memset(ev, 0, sizeof(*ev));
	ev->table = table;
	switch (table) {
	case MUSE_TABLE_IMPRESSIONS:
		bad = muse_get_varint(&p, end, &v) || v > INT64_MAX / 2 ||
		    get_uid(&p, end, &ev->user) ||
		    get_ident(&p, end, &ev->asset) ||
		    get_ident(&p, end, &ev->title) ||
		    get_ident(&p, end, &ev->country);
		ev->ts = (int64_t)v;
		break;
	case MUSE_TABLE_PLAYS:
		bad = muse_get_varint(&p, end, &v) || v > INT64_MAX / 2 ||
		    get_uid(&p, end, &ev->user) ||
		    get_ident(&p, end, &ev->title) ||
		    muse_get_varint(&p, end, &ev->duration_ms) || p >= end ||
		    *p > MUSE_KIND_PREVIEW;
		ev->ts = (int64_t)v;
		if (!bad)
			ev->kind = *p++;
		break;
	case MUSE_TABLE_AFFINITIES:
		bad = get_uid(&p, end, &ev->user) ||
		    get_ident(&p, end, &ev->cluster);
		break;
	case MUSE_TABLE_ASSETS:
		bad = get_ident(&p, end, &ev->asset) ||
		    get_ident(&p, end, &ev->title) ||
		    get_ident(&p, end, &ev->type);
		break;
	default:
		bad = 1;
	}
	if (bad || p != end)
		return muse_err_set(e, MUSE_EFORMAT, "malformed %s record",
		    muse_table_name(table));
	return 0;
}
