/*
 * suggest.c - nearest names for words that were not understood.
 *
 * The distance is the optimal string alignment variant of the
 * Damerau-Levenshtein distance (Damerau 1964; Levenshtein 1966): insert,
 * delete, substitute, or swap two neighbours, each one edit, no substring
 * edited twice.  Three rows of the dynamic programme suffice.  Words
 * longer than MUSE_NEAR_LEN are not compared (nothing useful is that
 * long), which bounds the rows and keeps everything on the stack.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "suggest.h"

static int fold(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

unsigned muse_edit_distance(const char *a, size_t an, const char *b,
	size_t bn)
{
	unsigned rows[3][MUSE_NEAR_LEN + 1];
	unsigned *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

	if (an > MUSE_NEAR_LEN || bn > MUSE_NEAR_LEN)
		return 255;
	for (size_t j = 0; j <= bn; j++)
		prev[j] = (unsigned)j;
	for (size_t i = 1; i <= an; i++) {
		unsigned *t;

		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= bn; j++) {
			int same = fold((unsigned char)a[i - 1]) ==
			    fold((unsigned char)b[j - 1]);
			unsigned d = prev[j - 1] + !same;

			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 &&
			    fold((unsigned char)a[i - 1]) == fold((unsigned char)b[j - 2]) &&
			    fold((unsigned char)a[i - 2]) == fold((unsigned char)b[j - 1]) &&
			    prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			cur[j] = d;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[bn] > 255 ? 255 : prev[bn];
}

void muse_near_init(struct muse_near *nr, const char *word, size_t wlen)
{
	memset(nr, 0, sizeof(*nr));
	nr->word = word;
	nr->wlen = wlen;
	nr->best = UINT_MAX;
}

/* The most edits a word of n letters may be away from what is offered. */
static unsigned allowed(size_t n)
{
	unsigned most = n <= 4 ? 1 : n <= 8 ? 2 : 3;

	return n <= most ? (unsigned)(n ? n - 1 : 0) : most;
}

static int kept(const struct muse_near *nr, const char *name, size_t n)
{
	for (int i = 0; i < nr->n; i++)
		if (strlen(nr->name[i]) == n && memcmp(nr->name[i], name, n) == 0)
			return 1;
	return 0;
}

/* Whether name begins with word[0..n), case folded. */
static int begins(const char *name, const char *word, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fold((unsigned char)name[i]) != fold((unsigned char)word[i]))
			return 0;
	return 1;
}

void muse_near_offer(struct muse_near *nr, const char *name, size_t n)
{
	unsigned d;

	if (n >= MUSE_NEAR_LEN || nr->wlen >= MUSE_NEAR_LEN)
		return;
	if (nr->wlen >= 2 && nr->wlen < n && begins(name, nr->word, nr->wlen) &&
	    !(nr->prefix_hits == 1 && strlen(nr->prefix) == n &&
	    memcmp(nr->prefix, name, n) == 0)) {
		if (nr->prefix_hits++ == 0) {
			memcpy(nr->prefix, name, n);
			nr->prefix[n] = '\0';
		}
	}
	d = muse_edit_distance(nr->word, nr->wlen, name, n);
	if (d > allowed(nr->wlen) || d > nr->best || (d == 0 && nr->wlen == n &&
	    memcmp(nr->word, name, n) == 0))
		return;
	if (d < nr->best) {
		nr->best = d;
		nr->n = 0;
	}
	if (nr->n < MUSE_NEAR_MAX && !kept(nr, name, n)) {
		memcpy(nr->name[nr->n], name, n);
		nr->name[nr->n++][n] = '\0';
	}
}

const char *muse_near_phrase(const struct muse_near *nr, const char *pre,
	char *buf, size_t size)
{
	size_t len;

	buf[0] = '\0';
	if (nr->n == 0 && nr->prefix_hits == 1) {
		snprintf(buf, size, "; did you mean \"%s%s\"?", pre, nr->prefix);
		return buf;
	}
	for (int i = 0; i < nr->n; i++) {
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s\"%s%s\"",
		    i == 0 ? "; did you mean " : i + 1 == nr->n ? " or " : ", ",
		    pre, nr->name[i]);
	}
	if (nr->n) {
		len = strlen(buf);
		snprintf(buf + len, size - len, "?");
	}
	return buf;
}

const char *muse_suggest(const char *word, size_t wlen,
	const char *const *names, size_t count, const char *pre, char *buf,
	size_t size)
{
	struct muse_near nr;

	muse_near_init(&nr, word, wlen);
	for (size_t i = 0; i < count; i++)
		muse_near_offer(&nr, names[i], strlen(names[i]));
	return muse_near_phrase(&nr, pre, buf, size);
}

int muse_err_unknown(struct muse_err *e, const char *what, const char *s,
	size_t len, const char *const *names, size_t count)
{
	char near[256], list[256] = "";

	muse_suggest(s, len, names, count, "", near, sizeof(near));
	for (size_t i = 0; near[0] == '\0' && i < count; i++) {
		size_t l = strlen(list);

		snprintf(list + l, sizeof(list) - l, "%s%s%s",
		    i ? ", " : " (", names[i], i + 1 == count ? ")" : "");
	}
	return muse_err_set(e, MUSE_EUSAGE, "unknown %s \"%.*s\"%s%s", what,
	    (int)len, s, near, list);
}
