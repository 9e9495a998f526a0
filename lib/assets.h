/*
 * assets.h - the optional assets table (SPEC 3: asset_id, title_id,
 * asset_type), loaded whole for muse-query to join at query time: the
 * asset_type of each asset, for --asset-type and --by asset_type.
 */
#ifndef MUSE_ASSETS_H
#define MUSE_ASSETS_H

#include <stddef.h>

#include "err.h"

typedef struct muse_assets muse_assets;

/*
 * Reads an assets table: CSV or TSV with a header row (zstd-compressed or
 * not), or an event stream of the assets table (muse-ingest).  An asset
 * listed twice with two types is an error naming the line.  NULL with e
 * filled on error.
 */
muse_assets *muse_assets_load(const char *path, struct muse_err *e);
void muse_assets_free(muse_assets *a);
/* The asset_type of an asset id (n bytes), or NULL when it is not listed. */
const char *muse_assets_type(const muse_assets *a, const char *id, size_t n);
/* How many assets the table lists. */
size_t muse_assets_count(const muse_assets *a);

#endif
