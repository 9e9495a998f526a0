/*
 * event.h - event records of the four input tables, as carried by event
 * streams (muse-format(5), "Event records"), and the user-id hash.
 *
 * User ids are hashed once, at ingest, with XXH3-128 and the documented
 * seed MUSE_HASH_SEED; the raw id never enters a stream.  The two 64-bit
 * words of the hash feed everything downstream: the HLL coupon (address
 * from h1's low bits, rank from h2), the user-hash bucket (h1's high 32
 * bits), and user identity in the attribution join (both words).
 */
#ifndef MUSE_EVENT_H
#define MUSE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct muse_uid {
	uint64_t h1, h2;
};

struct muse_str {
	const char *p;
	size_t n;
};

enum { MUSE_KIND_PLAY = 0, MUSE_KIND_PREVIEW = 1 };

struct muse_event {
	int table;                /* enum muse_table */
	int64_t ts;               /* impressions, plays: epoch seconds */
	struct muse_uid user;     /* impressions, plays, affinities */
	struct muse_str asset;    /* impressions, assets */
	struct muse_str title;    /* impressions, plays, assets */
	struct muse_str country;  /* impressions */
	struct muse_str cluster;  /* affinities */
	struct muse_str type;     /* assets: asset_type */
	uint64_t duration_ms;     /* plays */
	int kind;                 /* plays: MUSE_KIND_* */
};

void muse_uid_hash(const char *id, size_t n, uint64_t seed,
	struct muse_uid *u);
/*
 * The same as DataSketches hashes a string item: MurmurHash3 x64 128 of
 * its bytes with the given seed (9001), h1 and h2 its two words.
 */
void muse_uid_hash_ds(const char *id, size_t n, uint64_t seed,
	struct muse_uid *u);

/* Bucket of a user among n (n >= 1): the high 32 bits of h1 scaled to n. */
static inline uint32_t muse_uid_bucket(const struct muse_uid *u, uint32_t n)
{
	return (uint32_t)(((u->h1 >> 32) * (uint64_t)n) >> 32);
}

static inline int muse_uid_cmp(const struct muse_uid *a,
	const struct muse_uid *b)
{
	if (a->h1 != b->h1)
		return a->h1 < b->h1 ? -1 : 1;
	if (a->h2 != b->h2)
		return a->h2 < b->h2 ? -1 : 1;
	return 0;
}

int muse_event_encode(const struct muse_event *ev, struct muse_buf *out);
/* Decodes a record of the given table; strings point into p. */
int muse_event_decode(int table, const uint8_t *p, size_t n,
	struct muse_event *ev, struct muse_err *e);

#endif
