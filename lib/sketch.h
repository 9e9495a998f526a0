/*
 * sketch.h - sketch records: a key (the stream's dimensions) and the
 * metrics of SPEC 4 that are stored (counters and three HLL sketches).
 * See muse-format(5), "Sketch records".
 */
#ifndef MUSE_SKETCH_H
#define MUSE_SKETCH_H

#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "event.h"
#include "hll.h"
#include "stream.h"

struct muse_key {
	struct muse_str s[MUSE_NDIMS];  /* string dimensions */
	int64_t day;                    /* date dimension (days since epoch) */
};

/* The stored metrics of one key. */
struct muse_acc {
	uint64_t impressions, plays, qplays, watch_ms;
	muse_hll *reach, *qreach, *areach;
};

int muse_acc_init(struct muse_acc *a, unsigned lgk);
void muse_acc_clear(struct muse_acc *a);   /* zero, keep allocations */
void muse_acc_free(struct muse_acc *a);
int muse_acc_merge(struct muse_acc *dst, const struct muse_acc *src);

int muse_key_encode(uint8_t dims, const struct muse_key *k,
	struct muse_buf *out);
/* Decodes the key at the start of a record; *after points past it. */
int muse_key_decode(uint8_t dims, const uint8_t *p, const uint8_t *end,
	struct muse_key *k, const uint8_t **after);
int muse_key_cmp(uint8_t dims, const struct muse_key *a,
	const struct muse_key *b);
/* Compares two encoded records by key (both must be valid). */
int muse_rec_cmp(uint8_t dims, const uint8_t *a, size_t an, const uint8_t *b,
	size_t bn);

int muse_rec_encode(const struct muse_header *h, const struct muse_key *k,
	const struct muse_acc *a, struct muse_buf *out);
/* Decodes a whole record, validating it; a must be initialised (lgk). */
int muse_rec_decode(const struct muse_header *h, const uint8_t *p, size_t n,
	struct muse_key *k, struct muse_acc *a, struct muse_err *e);

/*
 * A group of records united as they are decoded: the counters add and the
 * sketches go straight into unions (muse_hll_union), never through a
 * decoded sketch of their own.  muse_fold_get then gives the same
 * muse_acc as decoding each record with muse_rec_decode and merging it
 * with muse_acc_merge.
 */
struct muse_fold {
	uint64_t impressions, plays, qplays, watch_ms;
	muse_hll_union *reach, *qreach, *areach;
};

int muse_fold_init(struct muse_fold *f, unsigned lgk);
void muse_fold_free(struct muse_fold *f);
/*
 * Checks a whole record as muse_rec_decode does (the same errors) and
 * unites it into f.  After an error f holds part of the record: drop it.
 */
int muse_rec_fold(const struct muse_header *h, const uint8_t *p, size_t n,
	struct muse_fold *f, struct muse_err *e);
/* a (initialised, same lgk) becomes f's union; f starts again empty. */
int muse_fold_get(struct muse_fold *f, struct muse_acc *a);

#endif
