/*
 * dump.c - streams as text.  User ids appear only as their hash (32 hex
 * digits): the raw id never reached the stream.
 */
#include <inttypes.h>
#include <string.h>

#include "dump.h"
#include "event.h"
#include "sketch.h"
#include "ts.h"

void muse_dump_header(const struct muse_header *h, char *buf, size_t n)
{
	size_t len;

	if (h->kind == MUSE_KIND_EVENTS) {
		len = (size_t)snprintf(buf, n, "events table=%s",
		    muse_table_name(h->table));
		/* Only the hash that is not the default is named. */
		if (h->hash != MUSE_HASH_XXH3 && len < n)
			snprintf(buf + len, n - len, " hash=%s",
			    muse_hash_name(h->hash));
		return;
	}
	len = (size_t)snprintf(buf, n, "%s dims=",
	    h->kind == MUSE_KIND_DELTA ? "delta" : "sketch");
	for (int d = 0, first = 1; d < MUSE_NDIMS && len < n; d++)
		if (h->dims & 1u << d) {
			len += (size_t)snprintf(buf + len, n - len, "%s%s",
			    first ? "" : ",", muse_dim_name(d));
			first = 0;
		}
	if (len < n)
		snprintf(buf + len, n - len,
		    "%s grain=%s lgk=%u window=%us qualify=%.3fs authentic=%.3fs "
		    "sorted=%s", h->dims ? "" : "none", muse_grain_name(h->grain), h->lgk,
		    h->window_s, h->qualify_ms / 1000.0, h->authentic_ms / 1000.0,
		    h->flags & MUSE_FLAG_SORTED ? "yes" : "no");
	len = strlen(buf);
	if (h->hash != MUSE_HASH_XXH3 && len < n)
		snprintf(buf + len, n - len, " hash=%s", muse_hash_name(h->hash));
	len = strlen(buf);
	if (h->src_content && len < n)
		snprintf(buf + len, n - len, " rollup-of=%016llx@%llu",
		    (unsigned long long)h->src_content,
		    (unsigned long long)h->src_version);
}

static void put_str(FILE *out, int form, const struct muse_str *s)
{
	if (form == MUSE_DUMP_TSV) {
		fwrite(s->p, 1, s->n, out);
		return;
	}
	fputc('"', out);
	for (size_t i = 0; i < s->n; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void put_ts(FILE *out, int64_t ts)
{
	char day[16];
	int64_t s = ts - muse_ts_day(ts) * 86400;

	muse_day_format(muse_ts_day(ts), day);
	fprintf(out, "%sT%02d:%02d:%02dZ", day, (int)(s / 3600),
	    (int)(s / 60 % 60), (int)(s % 60));
}

static void dump_event(FILE *out, int form, const struct muse_event *ev)
{
	const char *sep = form == MUSE_DUMP_TSV ? "\t" : ", ";
	int json = form == MUSE_DUMP_JSON;

#define FIELD(name) fprintf(out, "%s%s", json ? "\"" name "\": " : "", "")
	if (json)
		fputc('{', out);
	if (ev->table == MUSE_TABLE_IMPRESSIONS || ev->table == MUSE_TABLE_PLAYS) {
		FIELD("ts");
		if (json)
			fputc('"', out);
		put_ts(out, ev->ts);
		if (json)
			fputc('"', out);
		fputs(sep, out);
	}
	if (ev->table != MUSE_TABLE_ASSETS) {
		FIELD("user");
		fprintf(out, json ? "\"%016" PRIx64 "%016" PRIx64 "\"%s" :
		    "%016" PRIx64 "%016" PRIx64 "%s", ev->user.h1, ev->user.h2, sep);
	}
	switch (ev->table) {
	case MUSE_TABLE_IMPRESSIONS:
		FIELD("asset_id"); put_str(out, form, &ev->asset); fputs(sep, out);
		FIELD("title_id"); put_str(out, form, &ev->title); fputs(sep, out);
		FIELD("country"); put_str(out, form, &ev->country);
		break;
	case MUSE_TABLE_PLAYS:
		FIELD("title_id"); put_str(out, form, &ev->title); fputs(sep, out);
		FIELD("duration_s");
		fprintf(out, "%" PRIu64 ".%03u%s", ev->duration_ms / 1000,
		    (unsigned)(ev->duration_ms % 1000), sep);
		FIELD("kind");
		fprintf(out, json ? "\"%s\"" : "%s",
		    ev->kind == MUSE_KIND_PREVIEW ? "preview" : "play");
		break;
	case MUSE_TABLE_AFFINITIES:
		FIELD("cluster"); put_str(out, form, &ev->cluster);
		break;
	case MUSE_TABLE_ASSETS:
		FIELD("asset_id"); put_str(out, form, &ev->asset); fputs(sep, out);
		FIELD("title_id"); put_str(out, form, &ev->title); fputs(sep, out);
		FIELD("asset_type"); put_str(out, form, &ev->type);
		break;
	}
#undef FIELD
	fputs(json ? "}\n" : "\n", out);
}

/*
 * A sketch record, or a delta record: op "upsert" with the record, or
 * "delete" with the key alone (a == NULL; the other TSV columns empty).
 * The op is the first TSV column and the last JSON member.
 */
static void dump_sketch(FILE *out, int form, const struct muse_header *h,
	const char *op, const struct muse_key *k, const struct muse_acc *a)
{
	const char *sep = form == MUSE_DUMP_TSV ? "\t" : ", ";
	static const char *const hn[3] = { "reach", "qreach", "areach" };
	const muse_hll *hl[3];
	int json = form == MUSE_DUMP_JSON;
	char day[16];

	if (json)
		fputc('{', out);
	else if (op != NULL)
		fprintf(out, "%s\t", op);
	for (int d = 0; d < MUSE_NDIMS; d++) {
		if (!(h->dims & 1u << d))
			continue;
		if (json)
			fprintf(out, "\"%s\": ", muse_dim_name(d));
		if (d == MUSE_DIM_DATE) {
			muse_day_format(k->day, day);
			fprintf(out, json ? "\"%s\"" : "%s", day);
		} else {
			put_str(out, form, &k->s[d]);
		}
		fputs(sep, out);
	}
	if (a == NULL) {
		if (json)
			fprintf(out, "\"op\": \"%s\"}\n", op);
		else
			fputs("\t\t\t\t\t\t\t\t\t\n", out);
		return;
	}
	fprintf(out, json ? "\"impressions\": %" PRIu64 ", \"plays\": %" PRIu64
	    ", \"qplays\": %" PRIu64 ", \"watch_s\": %" PRIu64 ".%03u" :
	    "%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 ".%03u",
	    a->impressions, a->plays, a->qplays, a->watch_ms / 1000,
	    (unsigned)(a->watch_ms % 1000));
	hl[0] = a->reach;
	hl[1] = a->qreach;
	hl[2] = a->areach;
	for (int i = 0; i < 3; i++) {
		size_t n = 0;
		const char *rep = muse_hll_is_dense(hl[i]) ? "dense" :
		    muse_hll_is_empty(hl[i]) ? "empty" : "sparse";

		if (!muse_hll_is_dense(hl[i]))
			muse_hll_coupons(hl[i], &n);
		if (json)
			fprintf(out, ", \"%s\": %.0f, \"%s_form\": \"%s\"", hn[i],
			    muse_hll_estimate(hl[i]), hn[i], rep);
		else
			fprintf(out, "\t%.0f\t%s", muse_hll_estimate(hl[i]), rep);
	}
	if (json && op != NULL)
		fprintf(out, ", \"op\": \"%s\"", op);
	fputs(json ? "}\n" : "\n", out);
}

static void dump_columns(FILE *out, const struct muse_header *h)
{
	static const char *const ev_cols[] = {
		NULL, "ts\tuser\tasset_id\ttitle_id\tcountry",
		"ts\tuser\ttitle_id\tduration_s\tkind", "user\tcluster",
		"asset_id\ttitle_id\tasset_type"
	};

	if (h->kind == MUSE_KIND_EVENTS) {
		fprintf(out, "%s\n", ev_cols[h->table]);
		return;
	}
	if (h->kind == MUSE_KIND_DELTA)
		fputs("op\t", out);
	for (int d = 0; d < MUSE_NDIMS; d++)
		if (h->dims & 1u << d)
			fprintf(out, "%s\t", muse_dim_name(d));
	fputs("impressions\tplays\tqplays\twatch_s\treach\treach_form\tqreach\t"
	    "qreach_form\tareach\tareach_form\n", out);
}

int muse_dump_stream(muse_reader *r, const struct muse_header *h, int form,
	FILE *out, uint64_t *records, struct muse_err *e)
{
	struct muse_acc a, none = { 0 };
	struct muse_key k, prev;
	struct muse_buf pk = { 0 };
	const uint8_t *rec;
	size_t n;
	int rc, have_prev = 0;
	char line[256];
	const char *op = NULL;     /* of a delta record */

	*records = 0;
	a = none;
	if (h->kind != MUSE_KIND_EVENTS && muse_acc_init(&a, h->lgk))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if (form == MUSE_DUMP_TSV) {
		muse_dump_header(h, line, sizeof(line));
		fprintf(out, "# %s\n", line);
		dump_columns(out, h);
	}
	while ((rc = muse_reader_next(r, &rec, &n, e)) == 1) {
		(*records)++;
		if (h->kind == MUSE_KIND_EVENTS) {
			struct muse_event ev;

			if ((rc = muse_event_decode(h->table, rec, n, &ev, e)))
				break;
			if (form != MUSE_DUMP_NONE)
				dump_event(out, form, &ev);
			continue;
		}
		/* A delta record: its op byte, then a record or a key alone. */
		if (h->kind == MUSE_KIND_DELTA) {
			const uint8_t *after;

			if (n < 1 || (rec[0] != 1 && rec[0] != 2)) {
				rc = muse_err_set(e, MUSE_EFORMAT, "record %" PRIu64
				    ": bad delta op", *records);
				break;
			}
			op = rec[0] == 1 ? "upsert" : "delete";
			rec++;
			n--;
			if (*op == 'd' && (muse_key_decode(h->dims, rec, rec + n, &k,
			    &after) || after != rec + n)) {
				rc = muse_err_set(e, MUSE_EFORMAT, "record %" PRIu64
				    ": malformed delete", *records);
				break;
			}
		}
		muse_acc_clear(&a);
		if ((op == NULL || *op == 'u') &&
		    (rc = muse_rec_decode(h, rec, n, &k, &a, e)))
			break;
		if (h->flags & MUSE_FLAG_SORTED) {
			const uint8_t *after, *x;

			if (have_prev) {
				muse_key_decode(h->dims, pk.p, pk.p + pk.len, &prev, &x);
				if (muse_key_cmp(h->dims, &prev, &k) >= 0) {
					rc = muse_err_set(e, MUSE_EFORMAT,
					    "record %" PRIu64 ": stream is flagged sorted "
					    "but its keys are out of order", *records);
					break;
				}
			}
			muse_key_decode(h->dims, rec, rec + n, &k, &after);
			pk.len = 0;
			if (muse_buf_put(&pk, rec, (size_t)(after - rec))) {
				rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
				break;
			}
			have_prev = 1;
		}
		if (form != MUSE_DUMP_NONE)
			dump_sketch(out, form, h, op, &k,
			    op != NULL && *op == 'd' ? NULL : &a);
	}
	muse_acc_free(&a);
	muse_buf_free(&pk);
	if (rc < 0 && e->name[0] == '\0')
		muse_err_where(e, muse_reader_name(r), 0, UINT64_MAX);
	return rc;
}
