/*
 * chart.h - charts of one metric per group, for muse-query --format bars
 * (Unicode block characters in a terminal) and --format svg (a standalone
 * SVG file): a horizontal bar per group with its confidence interval.
 */
#ifndef MUSE_CHART_H
#define MUSE_CHART_H

#include <stddef.h>
#include <stdio.h>

struct muse_chart_bar {
	const char *label;
	int ok;                 /* 0: no value (drawn empty, shown as "-") */
	double v, lo, hi;       /* lo <= v <= hi; lo == hi when exact */
};

struct muse_chart {
	const char *title;      /* first line of the chart */
	int decimals;           /* of the values printed */
	size_t n;
	const struct muse_chart_bar *bars;
};

/* The narrowest terminal chart; a narrower width is taken as this. */
#define MUSE_CHART_MIN_WIDTH 40

/*
 * Writes the chart in at most width columns (code points) per line.  The
 * scale starts at 0 and ends at the largest upper bound.
 */
void muse_chart_bars(FILE *out, const struct muse_chart *c, unsigned width);
/* Writes the chart as a standalone SVG document (one rect.bar per bar). */
void muse_chart_svg(FILE *out, const struct muse_chart *c);

#endif
