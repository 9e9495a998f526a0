/*
 * suggest.h - "did you mean": the valid names nearest to a word that was
 * not understood (an option, a metric, a dimension, a filter value).
 *
 * Nearness is the optimal string alignment distance (Levenshtein with
 * transpositions of neighbours) over ASCII letters folded to lower case,
 * so "rech", "raech" and "Reach" are all one edit or less from "reach".
 * A name is offered only when it is close: at most one edit for words of
 * up to four letters, two up to eight, three beyond, and fewer edits than
 * the word has letters; or when the word is the beginning (two letters or
 * more) of exactly one name.  Far guesses help nobody.
 */
#ifndef MUSE_SUGGEST_H
#define MUSE_SUGGEST_H

#include <stddef.h>

#include "err.h"

/* The edit distance of a[0..an) and b[0..bn), case folded; at most 255. */
unsigned muse_edit_distance(const char *a, size_t an, const char *b,
	size_t bn);

/*
 * The tracker of the nearest names offered one at a time (the values a
 * store holds, met while reading it).  Ties are kept, up to
 * MUSE_NEAR_MAX; an offer equal to one kept is ignored.
 */
#define MUSE_NEAR_MAX 3
#define MUSE_NEAR_LEN 128
struct muse_near {
	const char *word;
	size_t wlen;
	unsigned best;                  /* distance of those kept; UINT_MAX none */
	int n;
	char name[MUSE_NEAR_MAX][MUSE_NEAR_LEN];
	int prefix_hits;                /* names the word begins */
	char prefix[MUSE_NEAR_LEN];     /* the first of them */
};
void muse_near_init(struct muse_near *nr, const char *word, size_t wlen);
void muse_near_offer(struct muse_near *nr, const char *name, size_t n);

/*
 * Writes the suggestion for what was offered into buf: ""; or
 * "; did you mean \"X\"?"; or "; did you mean \"X\" or \"Y\"?", each name
 * after pre ("--" for options).  Returns buf.
 */
const char *muse_near_phrase(const struct muse_near *nr, const char *pre,
	char *buf, size_t size);

/* The same for a fixed list of names: muse_near over each. */
const char *muse_suggest(const char *word, size_t wlen,
	const char *const *names, size_t count, const char *pre, char *buf,
	size_t size);

/*
 * Fills e with MUSE_EUSAGE "unknown WHAT \"S\"" and the nearest of names,
 * or when none is near, the whole list: "unknown format \"xml\" (table,
 * tsv, csv, json)".  Returns MUSE_EUSAGE.
 */
int muse_err_unknown(struct muse_err *e, const char *what, const char *s,
	size_t len, const char *const *names, size_t count);

#endif
