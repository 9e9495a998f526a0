/*
 * chart.c - bar charts with confidence intervals, in the terminal and as
 * SVG.
 *
 * Honesty first: every scale starts at zero (a bar's length is its value,
 * never a difference from some cut-off), ends at the largest upper bound
 * drawn, and the interval of an estimate is drawn as part of its bar.  In
 * the terminal one cell is eight eighths: an exact value is drawn to the
 * eighth with the partial block characters U+2589..U+258F; an estimate is
 * drawn in whole cells, full blocks up to the cell that holds its lower
 * bound, a light shade over every cell its interval touches (never
 * narrower than the interval), and a dark shade on the cell of the
 * estimate itself.  The numbers follow each bar, so nothing is read off
 * the drawing alone.
 *
 * Widths are counted in code points, which is what the block characters
 * and the labels (UTF-8, mostly Latin) take in a terminal.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"

static const char *const eighths[8] = {
	"", "\u258F", "\u258E", "\u258D", "\u258C", "\u258B", "\u258A", "\u2589"
};
#define FULL "\u2588"
#define LIGHT "\u2591"
#define DARK "\u2593"

static size_t cps(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* Writes s in exactly w code points: cut with an ellipsis, or padded. */
static void put_fit(FILE *out, const char *s, size_t w, int right)
{
	size_t n = cps(s);

	if (n > w) {
		size_t k = 0;

		/* The first w - 1 code points, then an ellipsis. */
		for (; *s; s++) {
			if (((unsigned char)*s & 0xC0) != 0x80 && ++k >= w)
				break;
			fputc(*s, out);
		}
		if (w)
			fputs("\u2026", out);
		return;
	}
	if (right)
		fprintf(out, "%*s%s", (int)(w - n), "", s);
	else
		fprintf(out, "%s%*s", s, (int)(w - n), "");
}

static char *numtext(const struct muse_chart *c, const struct muse_chart_bar *b)
{
	char buf[160];
	int d = c->decimals;

	if (!b->ok)
		snprintf(buf, sizeof(buf), "-");
	else if (b->lo == b->hi)
		snprintf(buf, sizeof(buf), "%.*f", d, b->v);
	else
		snprintf(buf, sizeof(buf), "%.*f [%.*f,%.*f]", d, b->v, d, b->lo,
		    d, b->hi);
	return strdup(buf);
}

static double scale_max(const struct muse_chart *c)
{
	double max = 0;

	for (size_t i = 0; i < c->n; i++)
		if (c->bars[i].ok && c->bars[i].hi > max)
			max = c->bars[i].hi;
	for (size_t i = 0; i < c->n; i++)
		if (c->bars[i].ok && c->bars[i].v > max)
			max = c->bars[i].v;
	return max > 0 ? max : 1;
}

static void draw_bar(FILE *out, const struct muse_chart_bar *b, double max,
	size_t w)
{
	double e = (double)w * 8 / max;

	if (!b->ok) {
		fprintf(out, "%*s", (int)w, "");
		return;
	}
	if (b->lo == b->hi) {
		size_t v8 = (size_t)floor(b->v * e + 0.5), i;

		if (v8 > w * 8)
			v8 = w * 8;
		for (i = 0; i < v8 / 8; i++)
			fputs(FULL, out);
		if (v8 % 8) {
			fputs(eighths[v8 % 8], out);
			i++;
		}
		fprintf(out, "%*s", (int)(w - i), "");
		return;
	}
	/* Cells [0, lo_c) full, [lo_c, hi_c) shaded, the estimate's dark. */
	size_t lo_c = (size_t)floor(b->lo * e / 8);
	size_t hi_c = (size_t)ceil(b->hi * e / 8);
	size_t v_c = (size_t)floor(b->v * e / 8);

	if (hi_c > w)
		hi_c = w;
	if (hi_c <= lo_c)
		hi_c = lo_c + 1 <= w ? lo_c + 1 : w;
	if (v_c >= hi_c)
		v_c = hi_c - 1;
	if (v_c < lo_c)
		v_c = lo_c;
	for (size_t i = 0; i < w; i++)
		fputs(i < lo_c ? FULL : i == v_c && i < hi_c ? DARK :
		    i < hi_c ? LIGHT : " ", out);
}

void muse_chart_bars(FILE *out, const struct muse_chart *c, unsigned width)
{
	char **num = calloc(c->n + 1, sizeof(char *));
	size_t labw = 0, numw = 1, barw, w = width;
	double max = scale_max(c);
	char maxs[64];

	if (num == NULL)
		return;
	if (w < MUSE_CHART_MIN_WIDTH)
		w = MUSE_CHART_MIN_WIDTH;
	for (size_t i = 0; i < c->n; i++) {
		size_t n;

		if ((num[i] = numtext(c, &c->bars[i])) == NULL)
			goto done;
		if ((n = cps(num[i])) > numw)
			numw = n;
		if ((n = cps(c->bars[i].label)) > labw)
			labw = n;
	}
	if (labw < 1)
		labw = 1;
	/* Labels take at most a third; the bar at least ten cells. */
	if (labw > w / 3)
		labw = w / 3;
	if (numw > w / 2)
		numw = w / 2;
	barw = w > labw + numw + 4 + 10 ? w - labw - numw - 4 : 10;
	if (labw + numw + 4 + barw > w)
		labw = w - numw - 4 - barw;
	if (cps(c->title) > w)
		put_fit(out, c->title, w, 0);
	else
		fputs(c->title, out);
	fputc('\n', out);
	for (size_t i = 0; i < c->n; i++) {
		put_fit(out, c->bars[i].label, labw, 0);
		fputs("  ", out);
		draw_bar(out, &c->bars[i], max, barw);
		fputs("  ", out);
		put_fit(out, num[i], numw, 1);
		fputc('\n', out);
	}
	/* The axis: 0 under the start of the bars, the maximum at their end. */
	snprintf(maxs, sizeof(maxs), "%.*f", c->decimals, max);
	fprintf(out, "%*s0", (int)(labw + 2), "");
	if (barw > strlen(maxs) + 1)
		fprintf(out, "%*s", (int)(barw - 1), maxs);
	fputc('\n', out);
done:
	for (size_t i = 0; i < c->n; i++)
		free(num[i]);
	free(num);
}

/* ---- SVG ---- */

static void put_xml(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&apos;", out); break;
		default: fputc(*s, out);
		}
	}
}

void muse_chart_svg(FILE *out, const struct muse_chart *c)
{
	const double lab = 240, bar = 420, num = 220, row = 22, top = 40;
	double max = scale_max(c), width = lab + bar + num + 20;
	double height = top + row * (double)c->n + 30;

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	    "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
	    "font-family=\"sans-serif\" font-size=\"12\">\n",
	    width, height, width, height);
	fputs("<title>", out);
	put_xml(out, c->title);
	fputs("</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
	    "<text x=\"10\" y=\"22\" font-size=\"14\" font-weight=\"bold\">", out);
	put_xml(out, c->title);
	fputs("</text>\n", out);
	for (size_t i = 0; i < c->n; i++) {
		const struct muse_chart_bar *b = &c->bars[i];
		double y = top + row * (double)i;
		double bw = b->ok ? b->v / max * bar : 0;
		char *t = numtext(c, b);

		fputs("<g class=\"row\">\n<text x=\"10\" y=\"", out);
		fprintf(out, "%.1f\">", y + 14);
		put_xml(out, b->label);
		fprintf(out, "</text>\n<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" "
		    "width=\"%.2f\" height=\"%.1f\" fill=\"#4878a8\"/>\n",
		    lab, y + 3, bw, row - 6);
		if (b->ok && b->lo != b->hi)
			fprintf(out, "<line class=\"ci\" x1=\"%.2f\" y1=\"%.1f\" "
			    "x2=\"%.2f\" y2=\"%.1f\" stroke=\"black\" "
			    "stroke-width=\"2\"/>\n", lab + b->lo / max * bar,
			    y + row / 2, lab + b->hi / max * bar, y + row / 2);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", lab + bar + 10, y + 14);
		put_xml(out, t ? t : "");
		fputs("</text>\n</g>\n", out);
		free(t);
	}
	fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
	    "stroke=\"gray\"/>\n", lab, top, lab, top + row * (double)c->n);
	fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">0</text>\n", lab,
	    top + row * (double)c->n + 16);
	fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f"
	    "</text>\n</svg>\n", lab + bar, top + row * (double)c->n + 16,
	    c->decimals, max);
}
