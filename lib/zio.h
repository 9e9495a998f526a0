/*
 * zio.h - byte input from a file or standard input, with zstd-compressed
 * input decompressed transparently (detected by the zstd frame magic).
 */
#ifndef MUSE_ZIO_H
#define MUSE_ZIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

typedef struct muse_input muse_input;

/*
 * path "-" (or NULL) is standard input.  NULL on error, e filled.  The
 * first bytes are read at open to detect compression, so opening a pipe
 * waits for its first four bytes (or its end).
 */
muse_input *muse_input_open(const char *path, struct muse_err *e);

/*
 * A temporary file in dir ("PREFIX.XXXXXX"), unlinked as soon as it is
 * made, so nothing is left behind whatever happens to the process: the
 * FILE writes it through a descriptor of its own, and *fd stays open to
 * read it back (as "/proc/self/fd/N", or with pread).  NULL with e filled
 * (MUSE_EIO naming the path) on failure.
 */
FILE *muse_tmp_file(const char *dir, const char *prefix, int *fd,
	struct muse_err *e);
/* Reads from an open descriptor, which the input owns (and closes). */
muse_input *muse_input_fd(int fd, const char *name, struct muse_err *e);
/* Reads from an in-memory buffer (not copied; must outlive the input). */
muse_input *muse_input_mem(const void *p, size_t n, const char *name,
	struct muse_err *e);
void muse_input_free(muse_input *in);
/* The name errors use: the path, or "<stdin>". */
const char *muse_input_name(const muse_input *in);
/*
 * Reads up to n bytes; returns the count (0 at end of input) or a negative
 * MUSE_E* code with e filled.  Short reads happen only at the end.
 */
long muse_input_read(muse_input *in, void *buf, size_t n, struct muse_err *e);
/* Size of the underlying file when known and not compressed, else -1. */
int64_t muse_input_size(const muse_input *in);
/* Bytes consumed from the underlying file so far (for progress). */
uint64_t muse_input_consumed(const muse_input *in);
/* 1 when the input is zstd-compressed (known from open on), else 0. */
int muse_input_compressed(const muse_input *in);

#endif
