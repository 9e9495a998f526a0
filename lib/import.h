/*
 * import.h - tables of keys and DataSketches HLL images (what muse-query
 * --sketch writes, or what Druid, Spark or Hive export) into a sorted
 * muse sketch stream that muse-merge and muse-query take (muse-import(1)).
 */
#ifndef MUSE_IMPORT_H
#define MUSE_IMPORT_H

#include <stdio.h>

#include "err.h"
#include "stream.h"
#include "zio.h"

typedef struct muse_import muse_import;

muse_import *muse_import_new(struct muse_err *e);
void muse_import_free(muse_import *im);

/*
 * Reads one CSV or TSV table (separator guessed from the header line).
 * The header names the key columns (title, asset, date, segment,
 * country; every table of one import must name the same ones) and either
 * "sketch" (a base64 image) or "sketch_file" (a raw image file, relative
 * to dir unless absolute); other columns are ignored.  Takes ownership of
 * in.  Errors name the table and line.
 */
int muse_import_add(muse_import *im, muse_input *in, const char *dir,
	struct muse_err *e);

/*
 * Writes the stream: one record a key (rows with the same key unite),
 * the images as its reach sketch, qualified and authentic reach empty,
 * counters 0.  The header takes window, thresholds, grain and lgK from
 * like when it is not NULL (defaults as muse-sketch's otherwise), the
 * dimensions from the columns, the user-id hashing from hash/seed; lgk,
 * when not 0, overrides.  Without either the lgK is the smallest of the
 * images'.  An HLL image of smaller lgK than chosen is an error naming
 * its table and line.
 */
int muse_import_finish(muse_import *im, const struct muse_header *like,
	unsigned lgk, uint8_t hash, uint64_t seed, FILE *out, const char *name,
	struct muse_err *e);

#endif
