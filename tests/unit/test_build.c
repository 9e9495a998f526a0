/*
 * test_build.c - the sketch build (lib/build.c) read from event streams
 * made in memory: every kind of malformed event record is refused with the
 * decoder's message (the build reads records with its own fast path), and
 * the store does not depend on the order of the input records (events of
 * one user in any order, ties of time, users whose events are far from
 * time order, which the sort finishes with its fallback).
 * Prints one TAP-like line per check and a summary line; exits 1 when any
 * check failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "event.h"
#include "stream.h"
#include "zio.h"

#include "check.h"

/* A stream of one table in memory. */
struct mem {
	char *p;
	size_t n;
};

/* A table's records: their bytes end to end, and each one's length. */
struct recs {
	struct muse_buf bytes;
	size_t len[4096];
	size_t n;
};

static void add_rec(struct recs *r, const void *p, size_t n)
{
	if (r->n == sizeof(r->len) / sizeof(r->len[0]) ||
	    muse_buf_reserve(&r->bytes, n))
		abort();
	memcpy(r->bytes.p + r->bytes.len, p, n);
	r->bytes.len += n;
	r->len[r->n++] = n;
}

static void add_event(struct recs *r, const struct muse_event *ev)
{
	struct muse_buf b = { 0 };

	if (muse_event_encode(ev, &b))
		abort();
	add_rec(r, b.p, b.len);
	muse_buf_free(&b);
}

/* The stream of table's records, in the order given by perm (or as is). */
static struct mem stream_of(int table, const struct recs *r,
	const size_t *perm)
{
	struct muse_header h;
	struct muse_err e;
	struct mem m = { NULL, 0 };
	size_t *off = calloc(r->n + 1, sizeof(size_t));
	FILE *fp = open_memstream(&m.p, &m.n);
	muse_writer *w;

	if (off == NULL || fp == NULL)
		abort();
	for (size_t i = 0; i < r->n; i++)
		off[i + 1] = off[i] + r->len[i];
	memset(&h, 0, sizeof(h));
	h.kind = MUSE_KIND_EVENTS;
	h.table = (uint8_t)table;
	h.hash = MUSE_HASH_XXH3;
	h.seed = MUSE_HASH_SEED;
	muse_err_clear(&e);
	if ((w = muse_writer_new(fp, "mem", &h, 0, &e)) == NULL)
		abort();
	for (size_t i = 0; i < r->n; i++) {
		size_t k = perm ? perm[i] : i;

		if (muse_writer_add(w, r->bytes.p + off[k], r->len[k], &e))
			abort();
	}
	if (muse_writer_finish(w, &e))
		abort();
	muse_writer_free(w);
	fclose(fp);
	free(off);
	return m;
}

static struct muse_build_opts opts(void)
{
	struct muse_build_opts o;

	memset(&o, 0, sizeof(o));
	o.dims = 1u << MUSE_DIM_TITLE | 1u << MUSE_DIM_ASSET |
	    1u << MUSE_DIM_DATE | 1u << MUSE_DIM_SEGMENT |
	    1u << MUSE_DIM_COUNTRY;
	o.lgk = 12;
	o.window_s = 86400;
	o.qualify_ms = 60000;
	o.authentic_ms = 900000;
	return o;
}

/*
 * Builds from the streams; the store's bytes in *out (when the build
 * succeeds).  Returns the build's status, e filled on failure.
 */
static int build(const struct mem *s, int ns, struct mem *out,
	struct muse_err *e)
{
	struct muse_build_opts o = opts();
	muse_build *b = muse_build_new(&o, e);
	FILE *fp;
	int rc = 0;

	out->p = NULL;
	out->n = 0;
	if (b == NULL)
		abort();
	for (int i = 0; i < ns && rc == 0; i++) {
		muse_input *in = muse_input_mem(s[i].p, s[i].n, "mem", e);
		muse_reader *r = in ? muse_reader_new(in, e) : NULL;
		struct muse_header h;

		if (r == NULL)
			abort();
		while (rc == 0 && (rc = muse_reader_next_stream(r, &h, e)) == 1)
			rc = muse_build_add(b, r, &h, e);
		muse_reader_free(r);
	}
	if (rc == 0) {
		if ((fp = open_memstream(&out->p, &out->n)) == NULL)
			abort();
		rc = muse_build_finish(b, fp, "mem", e);
		fclose(fp);
	}
	muse_build_free(b);
	return rc;
}

/* One malformed record among good ones must stop the build with msg. */
static void expect_malformed(int table, const void *bad, size_t n,
	const char *what)
{
	struct recs r;
	struct muse_event ev;
	struct muse_err e;
	struct mem s, out;
	int rc;

	memset(&r, 0, sizeof(r));

	memset(&ev, 0, sizeof(ev));
	ev.table = table;
	ev.ts = 1751328000;
	ev.user.h1 = 1;
	ev.user.h2 = 2;
	ev.asset.p = ev.title.p = ev.country.p = ev.cluster.p = ev.type.p = "x";
	ev.asset.n = ev.title.n = ev.country.n = ev.cluster.n = ev.type.n = 1;
	add_event(&r, &ev);
	add_rec(&r, bad, n);
	s = stream_of(table, &r, NULL);
	muse_err_clear(&e);
	rc = build(&s, 1, &out, &e);
	check(rc == MUSE_EFORMAT && strstr(e.msg, "malformed") != NULL &&
	    strstr(e.msg, muse_table_name(table)) != NULL,
	    "%s %s: refused (%d, \"%s\")", muse_table_name(table), what, rc,
	    e.msg);
	free(s.p);
	free(out.p);
	muse_buf_free(&r.bytes);
}

static void malformed(void)
{
	/* 1751328000 as a varint: 5 bytes. */
	static const uint8_t ts[] = { 0x80, 0xca, 0x8c, 0xc3, 0x06 };
	static const uint8_t big[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0x7f };        /* 2^63 - 1 > INT64_MAX / 2 */
	uint8_t rec[600], uid[16] = { 1, 2, 3 };
	size_t n;

#define PUT(p, k) (memcpy(rec + n, (p), (k)), n += (k))
	/* impressions: ts, user, asset, title, country */
	n = 0; PUT(ts, 5); PUT(uid, 15);
	expect_malformed(MUSE_TABLE_IMPRESSIONS, rec, n, "truncated user");
	n = 0; PUT(ts, 5); PUT(uid, 16); PUT("\1a\1b", 4);
	expect_malformed(MUSE_TABLE_IMPRESSIONS, rec, n, "no country");
	n = 0; PUT(ts, 5); PUT(uid, 16); PUT("\1a\0\1c", 5);
	expect_malformed(MUSE_TABLE_IMPRESSIONS, rec, n, "empty title");
	n = 0; PUT(ts, 5); PUT(uid, 16); PUT("\1a\1b\1cz", 7);
	expect_malformed(MUSE_TABLE_IMPRESSIONS, rec, n, "a byte past the end");
	n = 0; PUT(big, 9); PUT(uid, 16); PUT("\1a\1b\1c", 6);
	expect_malformed(MUSE_TABLE_IMPRESSIONS, rec, n, "time out of range");
	n = 0; PUT(ts, 5); PUT(uid, 16); PUT("\1a\1b\3c", 6);
	expect_malformed(MUSE_TABLE_IMPRESSIONS, rec, n, "string past the end");
	n = 0; PUT(ts, 5); PUT(uid, 16); PUT("\x80\x02", 2);
	memset(rec + n, 'a', 256); n += 256; PUT("\1b\1c", 4);
	expect_malformed(MUSE_TABLE_IMPRESSIONS, rec, n, "identifier of 256 bytes");
	/* plays: ts, user, title, duration, kind */
	n = 0; PUT(ts, 5); PUT(uid, 16); PUT("\1t\x05\x02", 4);
	expect_malformed(MUSE_TABLE_PLAYS, rec, n, "kind 2");
	n = 0; PUT(ts, 5); PUT(uid, 16); PUT("\1t\x05", 3);
	expect_malformed(MUSE_TABLE_PLAYS, rec, n, "no kind");
	n = 0; PUT(ts, 5); PUT(uid, 16); PUT("\1t\x05\0\0", 5);
	expect_malformed(MUSE_TABLE_PLAYS, rec, n, "a byte past the end");
	n = 0; PUT(ts, 5); PUT(uid, 16); PUT("\1t\x85", 3);
	expect_malformed(MUSE_TABLE_PLAYS, rec, n, "truncated duration");
	/* affinities: user, cluster */
	n = 0; PUT(uid, 16); PUT("\0", 1);
	expect_malformed(MUSE_TABLE_AFFINITIES, rec, n, "empty cluster");
	n = 0; PUT(uid, 10);
	expect_malformed(MUSE_TABLE_AFFINITIES, rec, n, "truncated user");
	n = 0; PUT(uid, 16); PUT("\1kk", 3);
	expect_malformed(MUSE_TABLE_AFFINITIES, rec, n, "a byte past the end");
	/* assets: asset, title, type (checked, not used) */
	n = 0; PUT("\1a\1t", 4);
	expect_malformed(MUSE_TABLE_ASSETS, rec, n, "no type");
#undef PUT
}

/* A small deterministic generator (xorshift). */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void shuffle(size_t *p, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		p[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd(s) % i, t = p[i - 1];

		p[i - 1] = p[j];
		p[j] = t;
	}
}

/*
 * Events of a few users: many impressions at equal times (ties of asset
 * and country), plays at the times of impressions and between them, one
 * user with hundreds of events.  Written in time order, reversed, and
 * shuffled: the same store every time.
 */
static void any_order(void)
{
	static const char *assets[] = { "a1", "a2", "b1", "c1" };
	static const char *titles[] = { "A", "A", "B", "C" };
	static const char *countries[] = { "FR", "DE", "US" };
	static const char *clusters[] = { "k1", "k2", "*" };
	static struct recs imp, play, aff;
	uint64_t seed = 0x9E3779B97F4A7C15u;
	struct mem ref, s[3], out;
	struct muse_err e;
	size_t perm[3][4096];
	int same = 1, rc;

	for (int u = 0; u < 6; u++) {
		struct muse_event ev;
		int nimp = u == 0 ? 600 : 30;

		memset(&ev, 0, sizeof(ev));
		ev.user.h1 = rnd(&seed);
		ev.user.h2 = rnd(&seed);
		for (int i = 0; i < nimp; i++) {
			int a = (int)(rnd(&seed) % 4);

			ev.table = MUSE_TABLE_IMPRESSIONS;
			ev.ts = 1751328000 + 600 * (i / 3) + (int64_t)(rnd(&seed) % 2);
			ev.asset.p = assets[a];
			ev.asset.n = 2;
			ev.title.p = titles[a];
			ev.title.n = 1;
			ev.country.p = countries[rnd(&seed) % 3];
			ev.country.n = 2;
			add_event(&imp, &ev);
			if (i % 4 == 0) {
				ev.table = MUSE_TABLE_PLAYS;
				ev.ts += (int64_t)(rnd(&seed) % 3) * 300;
				ev.title.p = titles[rnd(&seed) % 4];
				ev.duration_ms = rnd(&seed) % 2000000;
				ev.kind = MUSE_KIND_PLAY;
				add_event(&play, &ev);
			}
		}
		for (int k = 0; k < 3; k++) {
			if (rnd(&seed) % 2)
				continue;
			ev.table = MUSE_TABLE_AFFINITIES;
			ev.cluster.p = clusters[k];
			ev.cluster.n = strlen(clusters[k]);
			add_event(&aff, &ev);
		}
	}
	s[0] = stream_of(MUSE_TABLE_IMPRESSIONS, &imp, NULL);
	s[1] = stream_of(MUSE_TABLE_PLAYS, &play, NULL);
	s[2] = stream_of(MUSE_TABLE_AFFINITIES, &aff, NULL);
	muse_err_clear(&e);
	rc = build(s, 3, &ref, &e);
	check(rc == 0 && ref.n > 0, "a build in time order (%d, %zu bytes)", rc,
	    ref.n);
	for (int i = 0; i < 3; i++)
		free(s[i].p);
	for (int round = 0; round < 4; round++) {
		const struct recs *t[3] = { &imp, &play, &aff };

		for (int k = 0; k < 3; k++) {
			if (round == 0)
				for (size_t i = 0; i < t[k]->n; i++)
					perm[k][i] = t[k]->n - 1 - i;
			else
				shuffle(perm[k], t[k]->n, &seed);
			s[k] = stream_of(k == 0 ? MUSE_TABLE_IMPRESSIONS :
			    k == 1 ? MUSE_TABLE_PLAYS : MUSE_TABLE_AFFINITIES,
			    t[k], perm[k]);
		}
		/* Tables in another order too. */
		{
			struct mem x = s[0];

			s[0] = s[2];
			s[2] = x;
		}
		rc = build(s, 3, &out, &e);
		same = rc == 0 && out.n == ref.n && memcmp(out.p, ref.p, ref.n) == 0;
		check(same, "%s input: the same store", round == 0 ? "reversed" :
		    "shuffled");
		free(out.p);
		for (int i = 0; i < 3; i++)
			free(s[i].p);
	}
	free(ref.p);
	muse_buf_free(&imp.bytes);
	muse_buf_free(&play.bytes);
	muse_buf_free(&aff.bytes);
}

/* Affinities alone make no cell: an empty store, written all the same. */
static void no_cells(void)
{
	static struct recs aff;
	struct muse_event ev;
	struct muse_err e;
	struct mem s, out;
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.table = MUSE_TABLE_AFFINITIES;
	ev.user.h1 = 7;
	ev.cluster.p = "k";
	ev.cluster.n = 1;
	add_event(&aff, &ev);
	s = stream_of(MUSE_TABLE_AFFINITIES, &aff, NULL);
	muse_err_clear(&e);
	rc = build(&s, 1, &out, &e);
	check(rc == 0 && out.n > 0, "affinities alone: an empty store (%d, %zu bytes)",
	    rc, out.n);
	free(out.p);
	rc = build(NULL, 0, &out, &e);
	check(rc == 0 && out.n > 0, "no input: an empty store (%d)", rc);
	free(out.p);
	free(s.p);
	muse_buf_free(&aff.bytes);
}

int main(void)
{
	no_cells();
	malformed();
	any_order();
	return check_done("build");
}
