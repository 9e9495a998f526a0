/*
 * store.h - a store file opened for random access: the file is mapped into
 * memory, its footer (muse-format(5), "Store footer") gives the blocks and
 * their key ranges, and only the blocks a query can need are checked and
 * decompressed.  A query's cost then follows what it asks, not the size of
 * the store.
 */
#ifndef MUSE_STORE_H
#define MUSE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sketch.h"
#include "stream.h"

typedef struct muse_store muse_store;

/*
 * Maps a store.  Returns NULL with e->code MUSE_OK when the file is fine
 * but cannot be read by blocks (not a regular file, several streams, no
 * footer): the caller then reads it as a stream.  Any other NULL is an
 * error: a footer, trailer or header that is corrupt.
 */
muse_store *muse_store_open(const char *path, struct muse_err *e);
void muse_store_free(muse_store *s);
const struct muse_header *muse_store_header(const muse_store *s);
uint64_t muse_store_version(const muse_store *s);
uint64_t muse_store_content(const muse_store *s);
uint64_t muse_store_records(const muse_store *s);
size_t muse_store_nblocks(const muse_store *s);
/* The first and last keys of block i (keys point into the mapping). */
void muse_store_block_keys(const muse_store *s, size_t i,
	struct muse_key *first, struct muse_key *last);
/*
 * Lets the store keep up to bytes of decompressed blocks in memory once
 * they have been read and checked (a long-lived server answers from
 * memory; a one-shot query needs no cache).  Default 0.
 */
void muse_store_cache(muse_store *s, size_t bytes);
/*
 * The days the store's keys cover, from the first day of its earliest
 * period to the last day of its latest (a week or month key covers the
 * whole week or month); -1 when it has no date dimension or no record.
 */
int muse_store_days(const muse_store *s, int64_t *from, int64_t *to);
/*
 * With a cache: the distinct values of string dimension dim among the
 * records of block i, once the block has been read and cached (n of them);
 * NULL while they are not known.
 */
const struct muse_str *muse_store_block_values(const muse_store *s,
	size_t i, int dim, size_t *n);
/* The zone of block i: its days and hashed sets of values. */
const struct muse_zone *muse_store_block_zone(const muse_store *s, size_t i);
/*
 * Checks and decompresses block i; then muse_store_next hands out its
 * records one by one (1, or 0 at the block's end).
 */
int muse_store_read_block(muse_store *s, size_t i, struct muse_err *e);
int muse_store_next(muse_store *s, const uint8_t **rec, size_t *n,
	struct muse_err *e);

#endif
