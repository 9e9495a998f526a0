/*
 * qline.c - the --serve query line parser.  It is a parser of untrusted
 * input: every length is bounded (MUSE_QLINE_MAX bytes, MUSE_QLINE_WORDS
 * words), quotes must close, and nothing is allocated beyond a copy of the
 * line.  Options are matched by exact name; values go to the same setters
 * the command line uses, so both accept the same things.
 */
#include <stdlib.h>
#include <string.h>

#include "qline.h"
#include "stream.h"
#include "suggest.h"

struct opt {
	const char *name;
	char letter;
	int which;
	int flag;           /* takes no value */
};

enum { Q_ASSET, Q_TITLE, Q_SEGMENT, Q_COUNTRY, Q_DATE, Q_BY, Q_METRICS,
	Q_CI, Q_SORT, Q_TOP, Q_ASSET_TYPE, Q_COMPARE, Q_FORMAT, Q_OUTLIERS,
	Q_MIN_REACH, Q_THRESHOLD, Q_WIDTH };

static const struct opt opts[] = {
	{ "alert", 0, Q_OUTLIERS, 1 },
	{ "asset", 'a', Q_ASSET, 0 },
	{ "asset-type", 0, Q_ASSET_TYPE, 0 },
	{ "by", 'b', Q_BY, 0 },
	{ "ci", 0, Q_CI, 0 },
	{ "compare", 0, Q_COMPARE, 0 },
	{ "country", 'c', Q_COUNTRY, 0 },
	{ "date", 'd', Q_DATE, 0 },
	{ "format", 'o', Q_FORMAT, 0 },
	{ "metrics", 'm', Q_METRICS, 0 },
	{ "min-reach", 0, Q_MIN_REACH, 0 },
	{ "outliers", 0, Q_OUTLIERS, 1 },
	{ "segment", 's', Q_SEGMENT, 0 },
	{ "sort", 0, Q_SORT, 0 },
	{ "threshold", 0, Q_THRESHOLD, 0 },
	{ "title", 't', Q_TITLE, 0 },
	{ "top", 0, Q_TOP, 0 },
	{ "width", 0, Q_WIDTH, 0 },
};

/* A count of 1 or more (0 too when zero_ok), strictly decimal. */
static int count(const char *v, int zero_ok, uint64_t *out)
{
	uint64_t n = 0;

	if (*v == '\0')
		return -1;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || n > UINT64_MAX / 10 - 1)
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (n == 0 && !zero_ok)
		return -1;
	*out = n;
	return 0;
}

/*
 * Splits buf in place into words; returns their count, or -1 with e set.
 * Quotes group, backslash escapes the next byte (outside single quotes).
 */
static int split(char *buf, char **words, struct muse_err *e)
{
	char *r = buf, *w = buf;
	int n = 0;

	for (;;) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (*r == '\0')
			return n;
		if (n == MUSE_QLINE_WORDS) {
			muse_err_set(e, MUSE_EUSAGE, "more than %d words in a query",
			    MUSE_QLINE_WORDS);
			return -1;
		}
		words[n++] = w;
		while (*r && *r != ' ' && *r != '\t') {
			if (*r == '\'') {
				char *end = strchr(r + 1, '\'');

				if (end == NULL)
					goto unterminated;
				memmove(w, r + 1, (size_t)(end - r - 1));
				w += end - r - 1;
				r = end + 1;
			} else if (*r == '"') {
				r++;
				while (*r && *r != '"') {
					if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
						r++;
					*w++ = *r++;
				}
				if (*r != '"')
					goto unterminated;
				r++;
			} else if (*r == '\\' && r[1]) {
				*w++ = r[1];
				r += 2;
			} else {
				*w++ = *r++;
			}
		}
		if (*r)
			r++;
		*w++ = '\0';
	}
unterminated:
	muse_err_set(e, MUSE_EUSAGE, "unterminated quote in query");
	return -1;
}

static int apply(muse_query *q, int which, const char *v, struct muse_err *e)
{
	uint64_t n = 0;

	switch (which) {
	case Q_ASSET: return muse_query_filter(q, MUSE_DIM_ASSET, v, e);
	case Q_TITLE: return muse_query_filter(q, MUSE_DIM_TITLE, v, e);
	case Q_SEGMENT: return muse_query_filter(q, MUSE_DIM_SEGMENT, v, e);
	case Q_COUNTRY: return muse_query_filter(q, MUSE_DIM_COUNTRY, v, e);
	case Q_DATE: return muse_query_dates(q, v, e);
	case Q_BY: return muse_query_by(q, v, e);
	case Q_METRICS: return muse_query_metrics(q, v, e);
	case Q_CI: return muse_query_ci(q, v, e);
	case Q_SORT: return muse_query_sort(q, v, e);
	case Q_TOP:
		if (count(v, 0, &n))
			return muse_err_set(e, MUSE_EUSAGE, "bad --top \"%s\"", v);
		muse_query_top(q, n);
		return 0;
	case Q_ASSET_TYPE: return muse_query_asset_type(q, v, e);
	case Q_COMPARE: return muse_query_compare(q, v, e);
	case Q_FORMAT: return muse_query_line_format(q, v, e);
	case Q_OUTLIERS:
		muse_query_outliers(q);
		return 0;
	case Q_MIN_REACH:
		if (count(v, 1, &n))
			return muse_err_set(e, MUSE_EUSAGE, "bad --min-reach \"%s\"",
			    v);
		muse_query_min_reach(q, n);
		return 0;
	case Q_THRESHOLD: return muse_query_threshold(q, v, e);
	case Q_WIDTH:
		if (count(v, 0, &n) || n > 10000)
			return muse_err_set(e, MUSE_EUSAGE, "bad --width \"%s\"", v);
		muse_query_width(q, (unsigned)n);
		return 0;
	}
	return muse_err_set(e, MUSE_EUSAGE, "bad option");
}

int muse_qline_apply(muse_query *q, const char *line, size_t n,
	struct muse_err *e)
{
	char *buf, *words[MUSE_QLINE_WORDS];
	int nw, rc = 0;

	if (n > MUSE_QLINE_MAX)
		return muse_err_set(e, MUSE_EUSAGE, "query longer than %d bytes",
		    MUSE_QLINE_MAX);
	if (memchr(line, '\0', n) != NULL)
		return muse_err_set(e, MUSE_EUSAGE, "NUL byte in query");
	if ((buf = malloc(n + 1)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	memcpy(buf, line, n);
	buf[n] = '\0';
	if ((nw = split(buf, words, e)) < 0) {
		free(buf);
		return MUSE_EUSAGE;
	}
	for (int i = 0; i < nw && rc == 0; i++) {
		const char *w = words[i], *val = NULL;
		const struct opt *o = NULL;

		if (w[0] == '-' && w[1] == '-') {
			const char *eq = strchr(w + 2, '=');
			size_t len = eq ? (size_t)(eq - w - 2) : strlen(w + 2);

			for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
				if (strlen(opts[k].name) == len &&
				    strncmp(opts[k].name, w + 2, len) == 0)
					o = &opts[k];
			if (eq)
				val = eq + 1;
			if (o && o->flag && eq) {
				rc = muse_err_set(e, MUSE_EUSAGE,
				    "option \"--%s\" takes no value", o->name);
				break;
			}
		} else if (w[0] == '-' && w[1] != '\0') {
			for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
				if (opts[k].letter == w[1])
					o = &opts[k];
			if (w[2] != '\0')
				val = w + 2;
		}
		if (o == NULL && w[0] == '-' && w[1] == '-') {
			struct muse_near nr;
			char near[256];

			muse_near_init(&nr, w + 2, strcspn(w + 2, "="));
			for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
				muse_near_offer(&nr, opts[k].name, strlen(opts[k].name));
			rc = muse_err_set(e, MUSE_EUSAGE, "unknown option \"%.*s\"%s",
			    (int)(2 + nr.wlen), w,
			    muse_near_phrase(&nr, "--", near, sizeof(near)));
			break;
		}
		if (o == NULL) {
			rc = muse_err_set(e, MUSE_EUSAGE,
			    w[0] == '-' ? "unknown option \"%s\"" :
			    "unexpected word \"%s\" (a query holds options only)",
			    w);
			break;
		}
		if (val == NULL && !o->flag) {
			if (i + 1 == nw) {
				rc = muse_err_set(e, MUSE_EUSAGE,
				    "option \"%s\" needs a value", w);
				break;
			}
			val = words[++i];
		}
		rc = apply(q, o->which, val, e);
	}
	free(buf);
	return rc;
}
