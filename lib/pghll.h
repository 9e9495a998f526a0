/*
 * pghll.h - muse sketches as values of the PostgreSQL hll type (the
 * postgresql-hll extension), in its storage format, schema version 1.
 * See lib/pghll.c for what maps exactly and what does not.
 */
#ifndef MUSE_PGHLL_H
#define MUSE_PGHLL_H

#include <stdint.h>

#include "buf.h"
#include "hll.h"

/*
 * The parameters of every value written.  postgresql-hll keeps at most
 * 2^17 registers (log2m 4..17); a sketch of larger lgk is folded down to
 * 2^17 registers, which is exact (see pghll.c).  Register width 5, and
 * the cutoff byte of the extension's defaults (EXPLICIT threshold auto,
 * SPARSE on), so that a value fits a column declared hll(LOG2M) and
 * unites with hll_empty(LOG2M).
 */
#define MUSE_PGHLL_LOG2M_MAX 17
#define MUSE_PGHLL_REGWIDTH 5

/* The storage types of schema version 1 (the low nibble of byte 0). */
enum { MUSE_PGHLL_EMPTY = 1, MUSE_PGHLL_EXPLICIT = 2, MUSE_PGHLL_SPARSE = 3,
	MUSE_PGHLL_FULL = 4 };

/* log2m of the values written for sketches of this lgk. */
unsigned muse_pghll_log2m(unsigned lgk);

/*
 * Appends the storage bytes of h (EMPTY, SPARSE or FULL, whichever
 * postgresql-hll itself would write for the same registers) to out.
 * 0 or MUSE_ENOMEM.
 */
int muse_pghll_encode(const muse_hll *h, struct muse_buf *out);

/*
 * Appends the text form the type's input function accepts, "\x" and the
 * storage bytes in lower-case hex (as postgresql-hll prints a value),
 * with no terminating NUL.  0 or MUSE_ENOMEM.
 */
int muse_pghll_text(const muse_hll *h, struct muse_buf *out);

#endif
