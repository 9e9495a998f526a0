/*
 * ingest.c - CSV rows to events.
 *
 * Columns are located once from the header.  A row must have exactly as
 * many fields as the header (a short or long row is almost always a
 * quoting mistake upstream, and guessing would be a silent wrong answer).
 * The affinities table may hold several clusters in one field separated by
 * '|'; such a row yields one event per cluster, handed out one per call.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest.h"
#include "stream.h"
#include "suggest.h"
#include "ts.h"

enum col {
	C_TS, C_USER, C_ASSET, C_TITLE, C_COUNTRY, C_DURATION, C_KIND,
	C_CLUSTER, C_TYPE, NCOLS
};

static const char *const col_names[NCOLS] = {
	"ts", "user_id", "asset_id", "title_id", "country", "duration_s",
	"kind", "cluster", "asset_type"
};

/* Required columns per table (bit mask of enum col). */
static const unsigned required[] = {
	[MUSE_TABLE_IMPRESSIONS] = 1u << C_TS | 1u << C_USER | 1u << C_ASSET |
	    1u << C_TITLE | 1u << C_COUNTRY,
	[MUSE_TABLE_PLAYS] = 1u << C_TS | 1u << C_USER | 1u << C_TITLE |
	    1u << C_DURATION,
	[MUSE_TABLE_AFFINITIES] = 1u << C_USER | 1u << C_CLUSTER,
	[MUSE_TABLE_ASSETS] = 1u << C_ASSET | 1u << C_TITLE | 1u << C_TYPE,
};

struct muse_ingest {
	muse_csv *csv;
	int table;
	uint64_t seed;
	uint8_t hash;             /* MUSE_HASH_* */
	int col[NCOLS];              /* field index, or -1 */
	size_t nfields;
	struct muse_csv_row header;  /* a private copy */
	struct muse_csv_row row;
	int syntax;                  /* the last error was the CSV syntax */
	/* affinities: clusters of the current row still to hand out */
	const char *pending;
	size_t pending_len;
	struct muse_uid pending_user;
	struct muse_ts_cache ts_cache;  /* the date of the last timestamp */
};

/*
 * For a header that lacks columns: the first field of it that is no
 * column the toolkit knows but is near one of want (a mask of enum col),
 * as "; unknown column \"usr_id\": did you mean \"user_id\"?", or "".
 */
static const char *near_column(const struct muse_csv_row *row, unsigned want,
	char *buf, size_t size)
{
	const char *names[NCOLS];
	char near[256];
	size_t n = 0;

	buf[0] = '\0';
	for (int c = 0; c < NCOLS; c++)
		if (want & 1u << c)
			names[n++] = col_names[c];
	for (size_t i = 0; i < row->nfields; i++) {
		int known = 0;

		for (int c = 0; c < NCOLS; c++)
			known |= strcasecmp(row->field[i], col_names[c]) == 0;
		if (known || *muse_suggest(row->field[i], row->len[i], names, n,
		    "", near, sizeof(near)) == '\0')
			continue;
		/* near is "; did you mean ...?" */
		snprintf(buf, size, "; unknown column \"%.64s\": %s", row->field[i],
		    near + 2);
		return buf;
	}
	return buf;
}

static void free_row(struct muse_csv_row *r)
{
	for (size_t i = 0; i < r->nfields; i++)
		free(r->field[i]);
	free(r->field);
	free(r->len);
	memset(r, 0, sizeof(*r));
}

static int copy_row(struct muse_csv_row *dst, const struct muse_csv_row *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->field = calloc(src->nfields, sizeof(char *));
	dst->len = calloc(src->nfields, sizeof(size_t));
	if (dst->field == NULL || dst->len == NULL)
		return MUSE_ENOMEM;
	dst->nfields = src->nfields;
	for (size_t i = 0; i < src->nfields; i++) {
		dst->field[i] = strdup(src->field[i]);
		dst->len[i] = src->len[i];
		if (dst->field[i] == NULL)
			return MUSE_ENOMEM;
	}
	dst->line = src->line;
	return 0;
}

muse_ingest *muse_ingest_new(muse_csv *csv, int table, uint64_t seed,
	struct muse_err *e)
{
	muse_ingest *g = calloc(1, sizeof(*g));
	const char *name = muse_input_name(muse_csv_input(csv));
	struct muse_csv_row row;
	unsigned have = 0;
	char near[400];
	int rc;

	if (g == NULL) {
		muse_csv_free(csv);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	g->csv = csv;
	g->seed = seed;
	g->hash = MUSE_HASH_XXH3;
	muse_ts_cache_init(&g->ts_cache);
	for (int i = 0; i < NCOLS; i++)
		g->col[i] = -1;
	rc = muse_csv_next(csv, &row, e);
	if (rc <= 0) {
		if (rc == 0) {
			muse_err_where(e, name, 0, UINT64_MAX);
			muse_err_set(e, MUSE_EINPUT, "empty input (no header row)");
		}
		goto fail;
	}
	for (size_t i = 0; i < row.nfields; i++)
		for (int c = 0; c < NCOLS; c++)
			if (strcasecmp(row.field[i], col_names[c]) == 0) {
				if (g->col[c] >= 0) {
					muse_err_where(e, name, row.line, UINT64_MAX);
					muse_err_set(e, MUSE_EINPUT,
					    "column \"%s\" appears twice in the header",
					    col_names[c]);
					goto fail;
				}
				g->col[c] = (int)i;
				have |= 1u << c;
			}
	if (table == 0) {
		for (int t = MUSE_TABLE_IMPRESSIONS; t <= MUSE_TABLE_ASSETS; t++) {
			if ((have & required[t]) != required[t])
				continue;
			if (table) {
				muse_err_where(e, name, row.line, UINT64_MAX);
				muse_err_set(e, MUSE_EINPUT,
				    "cannot tell the table from the header "
				    "(it has the columns of %s and of %s); use --table",
				    muse_table_name(table), muse_table_name(t));
				goto fail;
			}
			table = t;
		}
		if (!table) {
			muse_err_where(e, name, row.line, UINT64_MAX);
			muse_err_set(e, MUSE_EINPUT,
			    "cannot tell the table from the header; expected the "
			    "columns of impressions, plays, affinities or assets "
			    "(or use --table)%s", near_column(&row,
			    (1u << NCOLS) - 1, near, sizeof(near)));
			goto fail;
		}
	}
	for (int c = 0; c < NCOLS; c++)
		if ((required[table] & (1u << c)) && g->col[c] < 0) {
			muse_err_where(e, name, row.line, UINT64_MAX);
			muse_err_set(e, MUSE_EINPUT,
			    "missing column \"%s\" for table %s%s", col_names[c],
			    muse_table_name(table), near_column(&row,
			    required[table] & ~have, near, sizeof(near)));
			goto fail;
		}
	/* Only the columns of this table matter; forget the others. */
	for (int c = 0; c < NCOLS; c++)
		if (!(required[table] & (1u << c)) &&
		    !(table == MUSE_TABLE_PLAYS && c == C_KIND))
			g->col[c] = -1;
	g->table = table;
	g->nfields = row.nfields;
	if (copy_row(&g->header, &row)) {
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		goto fail;
	}
	return g;
fail:
	muse_ingest_free(g);
	return NULL;
}

void muse_ingest_free(muse_ingest *g)
{
	if (g == NULL)
		return;
	muse_csv_free(g->csv);
	free_row(&g->header);
	free(g);
}

void muse_ingest_set_hash(muse_ingest *g, uint8_t hash, uint64_t seed)
{
	g->hash = hash;
	g->seed = seed;
}

int muse_ingest_table(const muse_ingest *g)
{
	return g->table;
}

const struct muse_csv_row *muse_ingest_row(const muse_ingest *g)
{
	return &g->row;
}

const struct muse_csv_row *muse_ingest_header(const muse_ingest *g)
{
	return &g->header;
}

const char *muse_ingest_raw(const muse_ingest *g, size_t *n)
{
	if (!g->syntax)
		return NULL;
	return muse_csv_raw(g->csv, n);
}

/*
 * Appends one code point of s (at most n bytes) to out when it is valid
 * UTF-8 and printable; returns its length, or 0 when the byte at s must be
 * escaped.
 */
static size_t printable_utf8(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0xC2 || s[0] > 0xF4)
		return 0;
	len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 ||
	    cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF) || cp < 0xA0)
		return 0;
	return len;
}

static int bad_field(muse_ingest *g, struct muse_err *e, int c,
	const char *what)
{
	const char *v = g->row.field[g->col[c]];
	size_t n = g->row.len[g->col[c]];
	char shown[80];
	size_t k = 0;

	/*
	 * Show the value quoted and cut, with every byte that is not
	 * printable UTF-8 escaped, so that the message itself stays clean.
	 */
	for (size_t i = 0; i < n && k + 8 < sizeof(shown) - 4;) {
		unsigned char ch = (unsigned char)v[i];
		size_t u = ch >= 0x80 ?
		    printable_utf8((const unsigned char *)v + i, n - i) : 0;

		if (u) {
			memcpy(shown + k, v + i, u);
			k += u;
			i += u;
		} else if (ch < 0x20 || ch >= 0x7F || ch == '"' || ch == '\\') {
			k += (size_t)snprintf(shown + k, sizeof(shown) - k, "\\x%02x",
			    ch);
			i++;
		} else {
			shown[k++] = (char)ch;
			i++;
		}
		if (i < n && k + 8 >= sizeof(shown) - 4)
			k += (size_t)snprintf(shown + k, sizeof(shown) - k, "...");
	}
	shown[k] = '\0';
	muse_err_where(e, muse_input_name(muse_csv_input(g->csv)), g->row.line,
	    UINT64_MAX);
	if (what)
		return muse_err_set(e, MUSE_EINPUT, "bad %s \"%s\": %s",
		    col_names[c], shown, what);
	return muse_err_set(e, MUSE_EINPUT, "bad %s \"%s\"", col_names[c],
	    shown);
}

static int ident(muse_ingest *g, struct muse_err *e, int c,
	struct muse_str *s)
{
	const char *why;

	s->p = g->row.field[g->col[c]];
	s->n = g->row.len[g->col[c]];
	why = muse_ident_check(s->p, s->n);
	return why ? bad_field(g, e, c, why) : 0;
}

static int user(muse_ingest *g, struct muse_err *e, struct muse_uid *u)
{
	struct muse_str s;
	int rc = ident(g, e, C_USER, &s);

	if (rc == 0 && g->hash == MUSE_HASH_DATASKETCHES)
		muse_uid_hash_ds(s.p, s.n, g->seed, u);
	else if (rc == 0)
		muse_uid_hash(s.p, s.n, g->seed, u);
	return rc;
}

/* Hands out the next cluster of a '|'-separated affinities field. */
static int next_cluster(muse_ingest *g, struct muse_event *ev,
	struct muse_err *e)
{
	const char *p = g->pending, *bar;
	size_t n;
	const char *why;

	bar = memchr(p, '|', g->pending_len);
	n = bar ? (size_t)(bar - p) : g->pending_len;
	g->pending = bar ? bar + 1 : NULL;
	g->pending_len = bar ? g->pending_len - n - 1 : 0;
	why = muse_ident_check(p, n);
	if (why) {
		g->pending = NULL;
		return bad_field(g, e, C_CLUSTER, why);
	}
	memset(ev, 0, sizeof(*ev));
	ev->table = MUSE_TABLE_AFFINITIES;
	ev->user = g->pending_user;
	ev->cluster.p = p;
	ev->cluster.n = n;
	return 1;
}

int muse_ingest_next(muse_ingest *g, struct muse_event *ev,
	struct muse_err *e)
{
	const char *name = muse_input_name(muse_csv_input(g->csv));
	int rc;

	g->syntax = 0;
	if (g->pending)
		return next_cluster(g, ev, e);
	rc = muse_csv_next(g->csv, &g->row, e);
	if (rc <= 0) {
		g->syntax = rc == MUSE_EINPUT;
		return rc;
	}
	if (g->row.nfields != g->nfields) {
		muse_err_where(e, name, g->row.line, UINT64_MAX);
		return muse_err_set(e, MUSE_EINPUT,
		    "expected %zu fields, found %zu", g->nfields,
		    g->row.nfields);
	}
	memset(ev, 0, sizeof(*ev));
	ev->table = g->table;
	switch (g->table) {
	case MUSE_TABLE_IMPRESSIONS:
	case MUSE_TABLE_PLAYS: {
		const char *ts = g->row.field[g->col[C_TS]];

		if (muse_ts_parse_cached(ts, g->row.len[g->col[C_TS]],
		    &g->ts_cache, &ev->ts))
			return bad_field(g, e, C_TS, NULL);
		if ((rc = user(g, e, &ev->user)) ||
		    (rc = ident(g, e, C_TITLE, &ev->title)))
			return rc;
		if (g->table == MUSE_TABLE_IMPRESSIONS) {
			if ((rc = ident(g, e, C_ASSET, &ev->asset)) ||
			    (rc = ident(g, e, C_COUNTRY, &ev->country)))
				return rc;
			break;
		}
		if (muse_duration_parse(g->row.field[g->col[C_DURATION]],
		    g->row.len[g->col[C_DURATION]], &ev->duration_ms))
			return bad_field(g, e, C_DURATION, NULL);
		ev->kind = MUSE_KIND_PLAY;
		if (g->col[C_KIND] >= 0) {
			const char *k = g->row.field[g->col[C_KIND]];
			size_t kn = g->row.len[g->col[C_KIND]];

			/* An empty kind is a missing one: a play (SPEC 3).
			 * (Fields hold no NUL, so lengths and bytes decide.) */
			if (kn == 7 && memcmp(k, "preview", 7) == 0)
				ev->kind = MUSE_KIND_PREVIEW;
			else if (!(kn == 4 && memcmp(k, "play", 4) == 0) && kn != 0)
				return bad_field(g, e, C_KIND,
				    "expected play or preview");
		}
		break;
	}
	case MUSE_TABLE_AFFINITIES:
		if ((rc = user(g, e, &g->pending_user)))
			return rc;
		g->pending = g->row.field[g->col[C_CLUSTER]];
		g->pending_len = g->row.len[g->col[C_CLUSTER]];
		return next_cluster(g, ev, e);
	case MUSE_TABLE_ASSETS:
		if ((rc = ident(g, e, C_ASSET, &ev->asset)) ||
		    (rc = ident(g, e, C_TITLE, &ev->title)) ||
		    (rc = ident(g, e, C_TYPE, &ev->type)))
			return rc;
		break;
	}
	return 1;
}
