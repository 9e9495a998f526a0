/*
 * test_chart.c - the charts of lib/chart.c: every terminal line fits the
 * width asked for (labels of any length, UTF-8, any value), bars follow
 * their values, an exact value is drawn to the eighth of a cell, and an
 * estimate's interval is drawn around its estimate.
 */
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "check.h"

/* Code points of a line. */
static size_t cps(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			k++;
	return k;
}

/* The widest line of text, in code points; *lines gets their count. */
static size_t widest(const char *text, size_t *lines)
{
	size_t max = 0;

	*lines = 0;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (cps(p, n) > max)
			max = cps(p, n);
		(*lines)++;
		p += n + (nl != NULL);
	}
	return max;
}

static char *render(const struct muse_chart *c, unsigned width, int svg)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	if (svg)
		muse_chart_svg(f, c);
	else
		muse_chart_bars(f, c, width);
	fclose(f);
	return text;
}

/* Cells of a bar line holding the block character ch (UTF-8). */
static size_t count(const char *line, const char *ch)
{
	size_t k = 0;

	for (const char *p = line; (p = strstr(p, ch)) != NULL; p += strlen(ch))
		k++;
	return k;
}

int main(void)
{
	static const char *labels[] = { "a", "Cin\xc3\xa9ma Fran\xc3\xa7" "ais",
		"a label far longer than any terminal would want to show in full, "
		"with more words", "" };
	struct muse_chart_bar bars[4];
	struct muse_chart c = { "take_rate by segment (95% bounds)", 4, 4, bars };
	unsigned seed = 1;
	int fits = 1, lines_ok = 1;

	/* Random values, exact or not, at every width from 1 to 200. */
	for (unsigned w = 1; w <= 200; w++) {
		char *text;
		size_t lines, max;

		for (int i = 0; i < 4; i++) {
			double v = (seed = seed * 1103515245 + 12345) % 10000 / 1e4;

			bars[i].label = labels[(i + w) % 4];
			bars[i].ok = (w + (unsigned)i) % 7 != 0;
			bars[i].v = v;
			bars[i].lo = w % 2 ? v : v * 0.8;
			bars[i].hi = w % 2 ? v : v * 1.2;
		}
		text = render(&c, w, 0);
		max = widest(text, &lines);
		if (max > (w < MUSE_CHART_MIN_WIDTH ? MUSE_CHART_MIN_WIDTH : w))
			fits = 0;
		if (lines != 6)
			lines_ok = 0;
		free(text);
	}
	check(fits, "every line fits the width (at least the minimum)");
	check(lines_ok, "a title, one line per bar and an axis");

	/* Exact values: half the scale is half the cells, to the eighth. */
	{
		struct muse_chart_bar ex[2] = {
			{ "full", 1, 1.0, 1.0, 1.0 }, { "half", 1, 0.5, 0.5, 0.5 } };
		struct muse_chart e = { "t", 4, 2, ex };
		char *text = render(&e, 80, 0), *l1 = strchr(text, '\n') + 1;
		char *l2 = strchr(l1, '\n') + 1;
		size_t full1, full2;

		*strchr(l1, '\n') = '\0';
		*strchr(l2, '\n') = '\0';
		full1 = count(l1, "\xe2\x96\x88");
		full2 = count(l2, "\xe2\x96\x88");
		check(full1 > 0 && full2 * 2 == full1, "half the value, half the "
		    "bar (%zu and %zu cells)", full1, full2);
		check(count(l1, "\xe2\x96\x91") == 0, "an exact value has no "
		    "interval drawn");
		free(text);
	}
	/* An estimate: full cells, then its interval, the estimate inside. */
	{
		struct muse_chart_bar es[1] = { { "e", 1, 0.5, 0.4, 0.6 } };
		struct muse_chart e = { "t", 4, 1, es };
		char *text = render(&e, 80, 0), *l = strchr(text, '\n') + 1;
		char *full_end, *dark, *light_end;

		*strchr(l, '\n') = '\0';
		full_end = strstr(l, "\xe2\x96\x91");
		dark = strstr(l, "\xe2\x96\x93");
		light_end = strrchr(l, '\x91');
		check(full_end && dark && light_end && full_end < dark &&
		    dark < light_end, "full cells, then the interval around the "
		    "estimate: %s", l);
		check(strstr(l, "0.5000 [0.4000,0.6000]") != NULL, "the figures "
		    "follow the bar");
		free(text);
	}
	/* SVG: markup in labels is escaped, one rect.bar per bar. */
	{
		struct muse_chart_bar sb[2] = { { "<a&b>", 1, 1, 1, 1 },
			{ "\"q\"", 0, 0, 0, 0 } };
		struct muse_chart s = { "x < y", 0, 2, sb };
		char *text = render(&s, 0, 1);

		check(strstr(text, "&lt;a&amp;b&gt;") && strstr(text, "&quot;q&quot;") &&
		    strstr(text, "x &lt; y") && !strstr(text, "<a&b>"),
		    "svg escapes markup");
		check(count(text, "class=\"bar\"") == 2, "one bar per row");
		free(text);
	}
	return check_done("chart");
}
