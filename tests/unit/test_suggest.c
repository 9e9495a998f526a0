/*
 * test_suggest.c - edit distance and "did you mean" (lib/suggest.c).
 * The distance is checked against a plain recursive definition of the
 * optimal string alignment distance on every pair of short words over a
 * small alphabet, then the rules of what is offered by named cases.
 */
#include <stdio.h>
#include <string.h>

#include "suggest.h"

#include "check.h"

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
	unsigned m = a < b ? a : b;

	return m < c ? m : c;
}

/* The definition, by recursion on the lengths (exponential, short words). */
static unsigned osa(const char *a, size_t i, const char *b, size_t j)
{
	unsigned d;

	if (i == 0)
		return (unsigned)j;
	if (j == 0)
		return (unsigned)i;
	d = min3(osa(a, i - 1, b, j) + 1, osa(a, i, b, j - 1) + 1,
	    osa(a, i - 1, b, j - 1) + (a[i - 1] != b[j - 1]));
	if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
	    osa(a, i - 2, b, j - 2) + 1 < d)
		d = osa(a, i - 2, b, j - 2) + 1;
	return d;
}

/* Every word of up to 4 letters over "abc", in order: 121 words. */
static int words(char w[][5])
{
	int n = 0;

	for (int len = 0; len <= 4; len++) {
		int total = 1;

		for (int k = 0; k < len; k++)
			total *= 3;
		for (int x = 0; x < total; x++) {
			int v = x;

			for (int k = 0; k < len; k++, v /= 3)
				w[n][k] = (char)('a' + v % 3);
			w[n++][len] = '\0';
		}
	}
	return n;
}

static void test_distance(void)
{
	static char w[121][5];
	int n = words(w), bad = 0, asym = 0;

	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			size_t a = strlen(w[i]), b = strlen(w[j]);
			unsigned d = muse_edit_distance(w[i], a, w[j], b);

			bad += d != osa(w[i], a, w[j], b);
			asym += d != muse_edit_distance(w[j], b, w[i], a);
		}
	check(n == 121 && bad == 0, "distance equals the definition on %d pairs "
	    "(%d differ)", n * n, bad);
	check(asym == 0, "distance is symmetric (%d pairs not)", asym);
	check(muse_edit_distance("reach", 5, "REACH", 5) == 0,
	    "letters compare without case");
	check(muse_edit_distance("metircs", 7, "metrics", 7) == 1,
	    "a swap of neighbours is one edit");
	check(muse_edit_distance("ca", 2, "abc", 3) == 3,
	    "no substring is edited twice (ca -> abc is 3, not 2)");
}

static void phrase(const char *word, const char *const *names, size_t n,
	const char *pre, const char *want)
{
	char buf[256];

	muse_suggest(word, strlen(word), names, n, pre, buf, sizeof(buf));
	check(strcmp(buf, want) == 0, "\"%s\" -> '%s' (got '%s')", word, want,
	    buf);
}

static void test_offers(void)
{
	static const char *const metrics[] = { "impressions", "reach", "plays",
		"qplays", "qreach", "areach", "watch_s", "take_rate",
		"authentic_rate", "bounce_rate" };
	static const char *const opts[] = { "segment", "serve", "sort", "stats",
		"top", "title" };
	static const char *const one[] = { "x" };
	size_t nm = sizeof(metrics) / sizeof(metrics[0]);
	size_t no = sizeof(opts) / sizeof(opts[0]);
	struct muse_near nr;
	char buf[256];

	phrase("rech", metrics, nm, "", "; did you mean \"reach\"?");
	phrase("tkae_rate", metrics, nm, "", "; did you mean \"take_rate\"?");
	phrase("Plays", metrics, nm, "", "; did you mean \"plays\"?");
	phrase("impr", metrics, nm, "", "; did you mean \"impressions\"?");
	phrase("qreah", metrics, nm, "", "; did you mean \"qreach\"?");
	phrase("bogus", metrics, nm, "", "");
	phrase("", metrics, nm, "", "");
	phrase("y", one, 1, "", "");
	phrase("sotr", opts, no, "--", "; did you mean \"--sort\"?");
	phrase("tpo", opts, no, "--", "; did you mean \"--top\"?");
	phrase("stat", opts, no, "--", "; did you mean \"--stats\"?");
	phrase("srt", opts, no, "--", "; did you mean \"--sort\"?");
	phrase("seve", opts, no, "--", "; did you mean \"--serve\"?");
	phrase("tile", opts, no, "--", "; did you mean \"--title\"?");
	phrase("to", opts, no, "--", "; did you mean \"--top\"?");
	phrase("t", opts, no, "--", "");

	muse_near_init(&nr, "t1-a3", 5);
	muse_near_offer(&nr, "t1-a1", 5);
	muse_near_offer(&nr, "t1-a2", 5);
	muse_near_offer(&nr, "t1-a1", 5);
	muse_near_offer(&nr, "t2-b9", 5);
	muse_near_phrase(&nr, "", buf, sizeof(buf));
	check(strcmp(buf, "; did you mean \"t1-a1\" or \"t1-a2\"?") == 0,
	    "ties are all offered, each once (got '%s')", buf);
	muse_near_offer(&nr, "t1-a3x", 6);
	muse_near_offer(&nr, "t1-a", 4);
	muse_near_offer(&nr, "t1-a0", 5);
	muse_near_offer(&nr, "t1-a9", 5);
	muse_near_phrase(&nr, "", buf, sizeof(buf));
	check(strcmp(buf, "; did you mean \"t1-a1\", \"t1-a2\" or \"t1-a3x\"?")
	    == 0, "at most %d are kept (got '%s')", MUSE_NEAR_MAX, buf);
	muse_near_offer(&nr, "T1-A3", 5);
	muse_near_phrase(&nr, "", buf, sizeof(buf));
	check(strcmp(buf, "; did you mean \"T1-A3\"?") == 0,
	    "a nearer name replaces the others (got '%s')", buf);

	{
		struct muse_err e;
		static const char *const forms[] = { "table", "tsv", "csv",
			"json" };

		muse_err_clear(&e);
		check(muse_err_unknown(&e, "format", "jsno", 4, forms, 4) ==
		    MUSE_EUSAGE && strcmp(e.msg, "unknown format \"jsno\"; did "
		    "you mean \"json\"?") == 0, "unknown, near: %s", e.msg);
		check(muse_err_unknown(&e, "format", "xml!", 3, forms, 4) ==
		    MUSE_EUSAGE && strcmp(e.msg, "unknown format \"xml\" (table, "
		    "tsv, csv, json)") == 0, "unknown, far: %s", e.msg);
	}
}

int main(void)
{
	test_distance();
	test_offers();
	return check_done("suggest");
}
