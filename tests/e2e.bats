#!/usr/bin/env bats
# End-to-end: the whole pipeline (muse-ingest | muse-sketch | muse-merge |
# muse-query, dumped with muse-cat) against tests/reference.py, an
# independent implementation of SPEC sections 3, 4 and 7 that counts users
# exactly.  Counters must match exactly, key for key; distinct counts
# exactly while a sketch is sparse (and for small unions), within three
# standard errors once dense.  The fixtures under tests/fixtures/attr have
# answers worked out by hand (each is written out below).

load helpers

ALL=impressions,reach,plays,qplays,qreach,areach,watch_s,take_rate,authentic_rate,bounce_rate
CSVS="impressions.csv plays.csv affinities.csv"

# Two generated data sets, ingested once per file: gen_small (600 users, 4
# days from Tuesday 2025-07-01, one ISO week) and "span" (300 users, 5 days
# from Saturday 2025-06-28: two ISO weeks, two months).
setup_file() {
	export SMALL=$BATS_FILE_TMPDIR/s SPAN=$BATS_FILE_TMPDIR/span
	mkdir -p "$SMALL" "$SPAN"
	cd "$SMALL" || return 1
	gen_small || return 1
	muse-ingest impressions.csv > imp.mev || return 1
	muse-ingest plays.csv > plays.mev || return 1
	muse-ingest affinities.csv > aff.mev || return 1
	muse-sketch imp.mev plays.mev aff.mev > store.msk || return 1
	cd "$SPAN" || return 1
	muse-gen -q -O . --users 300 --days 5 --titles 6 --seed 11 \
	    --start 2025-06-28 || return 1
	muse-ingest impressions.csv > imp.mev || return 1
	muse-ingest plays.csv > plays.mev || return 1
	muse-ingest affinities.csv > aff.mev || return 1
	muse-sketch imp.mev plays.mev aff.mev > store.msk || return 1
	muse-sketch --by title,asset,date,segment,country \
	    imp.mev plays.mev aff.mev > full.msk || return 1
}

# run_ok OUT CMD...: CMD's standard output goes to OUT, its standard error
# to OUT.err; the test fails, showing that error, unless CMD exits 0.
run_ok() {
	local out=$1 rc
	shift
	"$@" > "$out" 2> "$out.err" && return 0
	rc=$?
	fail "$* (status $rc): $(head -c 3000 "$out.err")"
}

# quiet_ok OUT CMD...: run_ok, and nothing on standard error.
quiet_ok() {
	run_ok "$@" || return 1
	[ ! -s "$1.err" ] || fail "$2: unexpected standard error: $(cat "$1.err")"
}

# use DIR: work on a copy of a cached data set (its CSVs, event streams and
# stores).
use() {
	cp "$1"/* .
}

# sketch_vs_ref NAME SKETCH-OPTIONS...: muse-sketch the event streams with
# the options, dump the store, and compare it with the reference given the
# same options (compare options come from $CMP).
sketch_vs_ref() {
	local name=$1
	shift
	quiet_ok "$name.msk" muse-sketch "$@" imp.mev plays.mev aff.mev
	quiet_ok "$name.cat" muse-cat "$name.msk"
	run_ok "$name.ref" $REF "$@" $CSVS
	run_ok "$name.cmp" $REF compare --check-order $CMP "$name.ref" "$name.cat"
}

# query_vs_ref STORE QUERY-OPTIONS...: muse-query against the reference's
# exact answer (compare options come from $CMP).
query_vs_ref() {
	local store=$1
	shift
	quiet_ok q.out muse-query "$store" "$@"
	run_ok q.ref $REF query "$@" $CSVS
	run_ok q.cmp $REF compare --check-order $CMP q.ref q.out
}

# table FILE: the rows of a store as muse-cat prints them, without the
# stream header line and without the *_form columns.
table() {
	muse-cat "$1" > "$1.txt" || fail "muse-cat $1 failed"
	awk -F'\t' -v OFS='\t' '
		/^# / { next }
		!n { for (i = 1; i <= NF; i++) keep[i] = $i !~ /_form$/; n = NF }
		{ s = ""; for (i = 1; i <= NF; i++) if (keep[i]) s = s (s == "" ? "" : OFS) $i; print s }
	' "$1.txt"
}

# expect_table FILE: standard input, '|' standing for a tab, is exactly
# what `table FILE` prints.
expect_table() {
	tr '|' '\t' > "$1.want"
	table "$1" > "$1.got" || return 1
	diff -u "$1.want" "$1.got" || fail "$1: not the expected rows"
}

# days: the UTC days of the events in the current directory.
days() {
	muse-cat imp.mev plays.mev | awk -F'\t' '$1 ~ /^[0-9][0-9][0-9][0-9]-/ { print substr($1, 1, 10) }' | sort -u
}

# ------------------------------------------------- sketches vs reference

@test "e2e: ingest and sketch gen_small; every counter and distinct count matches the reference" {
	use "$SMALL"
	# The table named or inferred from the header: the same stream.
	quiet_ok i2.mev muse-ingest --table impressions impressions.csv
	cmp i2.mev imp.mev
	sketch_vs_ref grain
	cmp grain.msk store.msk
	grep -q '^# sketch dims=title,asset,date,segment .*window=86400s qualify=60.000s authentic=900.000s' grain.cat
	head -2 grain.cat | tail -1 > cols
	printf 'title\tasset\tdate\tsegment\timpressions\tplays\tqplays\twatch_s\treach\treach_form\tqreach\tqreach_form\tareach\tareach_form\n' | diff -u - cols
}

@test "e2e: muse-sketch takes its inputs in any order, as files or concatenated on stdin" {
	use "$SMALL"
	quiet_ok a.msk muse-sketch aff.mev imp.mev plays.mev
	cmp a.msk store.msk
	quiet_ok b.msk muse-sketch plays.mev aff.mev imp.mev
	cmp b.msk store.msk
	cat plays.mev aff.mev imp.mev > all.mev
	quiet_ok c.msk muse-sketch < all.mev
	cmp c.msk store.msk
	quiet_ok d.msk muse-sketch - < all.mev
	cmp d.msk store.msk
	quiet_ok e.msk muse-sketch imp.mev - aff.mev < plays.mev
	cmp e.msk store.msk
}

@test "e2e: --by title,country matches the reference" {
	use "$SMALL"
	sketch_vs_ref tc --by title,country
	grep -q '^# sketch dims=title,country ' tc.cat
}

@test "e2e: --by asset,segment,country matches the reference" {
	use "$SMALL"
	sketch_vs_ref asc --by asset,segment,country
}

@test "e2e: all five dimensions, and the dimensions given in another order" {
	use "$SMALL"
	sketch_vs_ref full --by title,asset,date,segment,country
	quiet_ok other.msk muse-sketch --by country,segment,date,asset,title imp.mev plays.mev aff.mev
	cmp other.msk full.msk
}

@test "e2e: --window 3600 --qualify 30 --authentic 600 match the reference" {
	use "$SMALL"
	sketch_vs_ref p --window 3600 --qualify 30 --authentic 600
	grep -q '^# sketch .*window=3600s qualify=30.000s authentic=600.000s' p.cat
	sketch_vs_ref p2 --window 3600 --qualify 30 --authentic 600 --by title,country
}

@test "e2e: a one-day batch (--date) matches the reference, plays keyed by the day before" {
	use "$SMALL"
	sketch_vs_ref d2 --date 2025-07-02
	# Plays of 07-02 attributed to impressions of 07-01 appear under 07-01.
	awk -F'\t' '$3 == "2025-07-01" && $5 == 0 && $6 > 0' d2.cat | grep -q .
	sketch_vs_ref d34 --date 2025-07-03..2025-07-04 --by date,segment
}

@test "e2e: dense sketches (--lgk 8) within three standard errors of the exact counts" {
	use "$SMALL"
	CMP="--lgk 8" sketch_vs_ref l8 --lgk 8
	grep -q 'dense' l8.cat || fail "no dense sketch at lgk 8"
	CMP="--lgk 8" sketch_vs_ref l8s --lgk 8 --by segment,country
	CMP="--lgk 6" sketch_vs_ref l6 --lgk 6 --by title,date
	grep -q '^# sketch .*lgk=6 ' l6.cat
}

@test "e2e: a dense sketch at the default precision within three standard errors" {
	muse-gen -q -O . --users 20000 --days 1 --titles 3 --seed 3
	for t in impressions plays affinities; do
		quiet_ok $t.mev muse-ingest $t.csv
	done
	mv impressions.mev imp.mev && mv affinities.mev aff.mev
	sketch_vs_ref big --by date,segment
	awk -F'\t' '$2 == "*" && $8 == "dense"' big.cat | grep -q . ||
	    fail "expected a dense reach: $(cat big.cat)"
}

# ------------------------------------------------------ batches add up

@test "e2e: daily batches merged are byte for byte the store of one run, in any order" {
	use "$SMALL"
	days > days.txt
	[ "$(wc -l < days.txt)" -eq 4 ] || fail "days: $(cat days.txt)"
	for d in $(cat days.txt); do
		quiet_ok "day-$d.msk" muse-sketch --date "$d" imp.mev plays.mev aff.mev
	done
	quiet_ok m1.msk muse-merge day-*.msk
	cmp m1.msk store.msk
	quiet_ok m2.msk muse-merge $(ls day-*.msk | sort -r)
	cmp m2.msk store.msk
	cat day-2025-07-03.msk day-2025-07-01.msk day-2025-07-04.msk day-2025-07-02.msk > cat.msk
	quiet_ok m3.msk muse-merge < cat.msk
	cmp m3.msk store.msk
	# Merging merges: ((1 2) (3 4)) == whole.
	quiet_ok a.msk muse-merge day-2025-07-01.msk day-2025-07-02.msk
	quiet_ok b.msk muse-merge day-2025-07-04.msk day-2025-07-03.msk
	quiet_ok m4.msk muse-merge b.msk a.msk
	cmp m4.msk store.msk
	# A range batch equals the merge of its days.
	quiet_ok r.msk muse-sketch --date 2025-07-02..2025-07-03 imp.mev plays.mev aff.mev
	quiet_ok m5.msk muse-merge day-2025-07-02.msk day-2025-07-03.msk
	cmp r.msk m5.msk
}

@test "e2e: user-hash buckets merged are the whole, in any order" {
	use "$SMALL"
	for b in 0 1 2 3; do
		quiet_ok "b$b.msk" muse-sketch --bucket "$b/4" imp.mev plays.mev aff.mev
	done
	quiet_ok m1.msk muse-merge b0.msk b1.msk b2.msk b3.msk
	cmp m1.msk store.msk
	quiet_ok m2.msk muse-merge b3.msk b1.msk b0.msk b2.msk
	cmp m2.msk store.msk
	cat b2.msk b0.msk b3.msk b1.msk > cat.msk
	quiet_ok m3.msk muse-merge - < cat.msk
	cmp m3.msk store.msk
	# Buckets are disjoint: their impressions add up to the whole.
	for b in 0 1 2 3; do
		[ -s "b$b.msk" ]
		cmp -s "b$b.msk" store.msk && fail "bucket $b is the whole store"
	done
	true
}

@test "e2e: day x bucket batches merged are the whole, also at another grain and parameters" {
	use "$SMALL"
	for d in $(days); do
		for b in 0 1 2 3; do
			quiet_ok "x-$d-$b.msk" muse-sketch --date "$d" --bucket "$b/4" imp.mev plays.mev aff.mev
		done
	done
	quiet_ok m.msk muse-merge x-*.msk
	cmp m.msk store.msk
	quiet_ok whole.msk muse-sketch --by title,country --window 3600 --qualify 30 imp.mev plays.mev aff.mev
	for d in $(days); do
		for b in 0 1; do
			quiet_ok "y-$d-$b.msk" muse-sketch --by title,country --window 3600 --qualify 30 \
			    --date "$d" --bucket "$b/2" imp.mev plays.mev aff.mev
		done
	done
	cat $(ls y-*.msk | sort -r) | muse-merge > m2.msk
	cmp m2.msk whole.msk
}

@test "e2e: streams built with different definitions refuse to merge" {
	use "$SMALL"
	quiet_ok w.msk muse-sketch --window 1h imp.mev plays.mev aff.mev
	quiet_ok w2.msk muse-sketch --window 3600 imp.mev plays.mev aff.mev
	cmp w.msk w2.msk
	run muse-merge -o out.msk store.msk w.msk
	expect_status 2
	expect_output_contains "w.msk"
	no_partial out.msk
	quiet_ok q.msk muse-sketch --qualify 30 imp.mev plays.mev aff.mev
	run muse-merge -o out.msk q.msk store.msk
	expect_status 2
	no_partial out.msk
	quiet_ok g.msk muse-sketch --by title,country imp.mev plays.mev aff.mev
	run muse-merge -o out.msk store.msk g.msk
	expect_status 2
	no_partial out.msk
}

# ------------------------------------------------------------- roll-ups

@test "e2e: muse-merge --rollup week, month and all match the reference" {
	use "$SPAN"
	for g in week month all; do
		quiet_ok "$g.msk" muse-merge --rollup "$g" store.msk
		quiet_ok "$g.cat" muse-cat "$g.msk"
		run_ok "$g.ref" $REF --rollup "$g" $CSVS
		run_ok "$g.cmp" $REF compare --check-order "$g.ref" "$g.cat"
	done
	# The data span two weeks and two months.
	[ "$(cut -f3 week.ref | sort -u | grep -c W)" -eq 2 ]
	[ "$(cut -f3 month.ref | sort -u | grep -c -- '-0[67]$')" -eq 2 ]
	# Rolling up a roll-up: all of months is all.
	quiet_ok all2.msk muse-merge --rollup all month.msk
	quiet_ok all2.cat muse-cat all2.msk
	run_ok c.cmp $REF compare all.ref all2.cat
}

@test "e2e: muse-merge --drop segment (with and without a roll-up) matches the reference" {
	use "$SPAN"
	quiet_ok d.msk muse-merge --drop segment store.msk
	quiet_ok d.cat muse-cat d.msk
	run_ok d.ref $REF --by title,asset,date $CSVS
	run_ok d.cmp $REF compare --check-order d.ref d.cat
	# Dropping the segment at merge time is sketching without it.
	quiet_ok d2.msk muse-sketch --by title,asset,date imp.mev plays.mev aff.mev
	quiet_ok d2.cat muse-cat d2.msk
	run_ok d2.cmp $REF compare --check-order d.ref d2.cat
	quiet_ok w.msk muse-merge --rollup week --drop segment full.msk
	quiet_ok w.cat muse-cat w.msk
	run_ok w.ref $REF --by title,asset,date,country --rollup week $CSVS
	run_ok w.cmp $REF compare --check-order w.ref w.cat
}

@test "e2e: querying a rolled-up store answers what the daily store answers" {
	use "$SPAN"
	quiet_ok week.msk muse-merge --rollup week full.msk
	quiet_ok month.msk muse-merge --rollup month full.msk
	quiet_ok a.out muse-query full.msk --by week,segment -m "$ALL"
	quiet_ok b.out muse-query week.msk --by week,segment -m "$ALL"
	diff -u a.out b.out
	quiet_ok a.out muse-query full.msk --by month,country -a 't0002-*' -m "$ALL"
	quiet_ok b.out muse-query month.msk --by month,country -a 't0002-*' -m "$ALL"
	diff -u a.out b.out
	run_ok q.ref $REF query --by month,country -a 't0002-*' $CSVS
	run_ok q.cmp $REF compare q.ref b.out
}

# ------------------------------------------------------------ muse-query

@test "e2e: muse-query filters and groupings match the reference's exact unions" {
	use "$SPAN"
	query_vs_ref full.msk -m "$ALL"
	query_vs_ref full.msk -m "$ALL" --by title
	query_vs_ref full.msk -m "$ALL" -a 't0001-*' --by asset,week
	query_vs_ref full.msk -m "$ALL" -a 't0001-*,t0003-a1' --by month,segment
	query_vs_ref full.msk -m "$ALL" -t 't000[23]' -c US,BR --by country,date
	query_vs_ref full.msk -m "$ALL" -c 'U?' --by month
	query_vs_ref full.msk -m "$ALL" -s 'Anime,Korean Dramas' --by segment,title
	query_vs_ref full.msk -m "$ALL" --by segment
	query_vs_ref full.msk -m "$ALL" -d 2025-07-02 --by segment,country
	query_vs_ref full.msk -m "$ALL" --by title,asset,date,segment,country
	query_vs_ref store.msk -m "$ALL" --by asset,date,segment
}

@test "e2e: muse-query date ranges: day, FROM..TO, FROM.., ..TO, month, quarter" {
	use "$SPAN"
	query_vs_ref full.msk -m "$ALL" -d 2025-06-29..2025-07-01 --by week,segment
	query_vs_ref full.msk -m "$ALL" -d 2025-06-30.. --by country
	query_vs_ref full.msk -m "$ALL" -d ..2025-06-29 --by date
	query_vs_ref full.msk -m "$ALL" -d 2025-06 --by title
	query_vs_ref full.msk -m "$ALL" -d 2025-07 --by week
	query_vs_ref full.msk -m "$ALL" -d 2025-Q3 --by asset
	query_vs_ref full.msk -m "$ALL" -d 2025-Q2
	query_vs_ref full.msk -m "$ALL" -d 2025-06-28
}

@test "e2e: muse-query formats: tsv, csv (RFC 4180 quoting) and json carry the same answers" {
	use "$SPAN"
	query_vs_ref full.msk -m "$ALL" --by segment,week -o tsv
	query_vs_ref full.msk -m "$ALL" --by segment,week -o csv
	# Segment names with a comma and with quotes survive CSV.
	grep -q '^"True Crime, Docs",' q.out
	grep -q '^"Stand-Up ""Specials""",' q.out
	query_vs_ref full.msk -m "$ALL" --by segment,week -o json
	python3 -m json.tool q.out > /dev/null
	python3 - q.out <<-'EOF'
	import json, sys
	rows = json.load(open(sys.argv[1]))
	assert isinstance(rows, list) and rows, rows
	for r in rows:
	    for k in ("impressions", "reach", "plays", "qplays", "qreach", "areach"):
	        assert type(r[k]) is int, (k, r)
	    assert isinstance(r["watch_s"], (int, float)), r
	    for k in ("take_rate", "authentic_rate", "bounce_rate"):
	        assert r[k] is None or isinstance(r[k], (int, float)), (k, r)
	    assert isinstance(r["segment"], str) and isinstance(r["week"], str)
	EOF
}

@test "e2e: muse-query header names and value forms are those of SPEC 7" {
	use "$SPAN"
	quiet_ok h.out muse-query full.msk --by title,asset,date,segment,country -m "$ALL"
	head -1 h.out | tr '\t' '\n' | sort > got
	printf '%s\n' title asset date segment country impressions reach plays qplays \
	    qreach areach watch_s take_rate authentic_rate bounce_rate | sort > want
	diff -u want got
	quiet_ok w.out muse-query full.msk --by week -m reach
	head -1 w.out | grep -qx "week	reach"
	tail -n +2 w.out | cut -f1 | grep -vqE '^[0-9]{4}-W[0-9]{2}$' && fail "bad week: $(cat w.out)"
	tail -n +2 w.out | cut -f1 | sort > weeks
	printf '2025-W26\n2025-W27\n' | diff -u - weeks
	quiet_ok m.out muse-query full.msk --by month -m take_rate
	head -1 m.out | grep -qx "month	take_rate"
	tail -n +2 m.out | cut -f1 | sort > months
	printf '2025-06\n2025-07\n' | diff -u - months
	tail -n +2 m.out | cut -f2 | grep -vqE '^[0-9]\.[0-9]{4}$' && fail "rates: $(cat m.out)"
	quiet_ok s.out muse-query full.msk --by segment -m reach
	grep -q '^\*	' s.out
	# The metrics come in the order asked for.
	quiet_ok o.out muse-query full.msk -m qreach,impressions,take_rate
	head -1 o.out | grep -qx "qreach	impressions	take_rate"
}

@test "e2e: unions of several segments: distinct counts exact, counters left empty with a warning" {
	use "$SPAN"
	run_ok q.out muse-query full.msk -m "$ALL" -s 'Anime,Korean Dramas'
	grep -q 'counters left empty' q.out.err
	run_ok q.ref $REF query -s 'Anime,Korean Dramas' $CSVS
	run_ok q.cmp $REF compare --allow-empty-counters q.ref q.out
	run_ok q.out muse-query full.msk -m "$ALL" -s 'A*' --by date -o json
	run_ok q.ref $REF query -s 'A*' --by date $CSVS
	run_ok q.cmp $REF compare --allow-empty-counters --check-order q.ref q.out
}

@test "e2e: muse-query --segment '*' is the all-users segment, as with no --segment" {
	use "$SPAN"
	quiet_ok a.out muse-query full.msk -m "$ALL" --by title
	run_ok b.out muse-query full.msk -m "$ALL" --by title -s '*'
	diff -u a.out b.out || fail "-s '*' differs from the default (stderr: $(cat b.out.err))"
}

@test "e2e: muse-query --sort and --top order by a metric" {
	use "$SPAN"
	quiet_ok all.out muse-query full.msk --by asset -m reach,take_rate,impressions
	quiet_ok s.out muse-query full.msk --by asset -m reach,take_rate,impressions --sort reach
	# The same rows, reach non-increasing.
	diff <(sort all.out) <(sort s.out)
	tail -n +2 s.out | cut -f2 > v
	sort -s -n -r v | diff -u - v
	quiet_ok a.out muse-query full.msk --by asset -m reach,take_rate,impressions --sort impressions:asc
	tail -n +2 a.out | cut -f4 > v
	sort -s -n v | diff -u - v
	quiet_ok t.out muse-query full.msk --by asset -m reach,take_rate,impressions --sort reach --top 5
	[ "$(wc -l < t.out)" -eq 6 ]
	head -6 s.out | diff -u - t.out
	quiet_ok t2.out muse-query full.msk --by asset -m reach,take_rate,impressions --sort take_rate:asc --top 3
	tail -n +2 t2.out | cut -f3 > v
	sort -s -n v | diff -u - v
	run_ok ref.tsv $REF query --by asset $CSVS
	run_ok c.cmp $REF compare --subset ref.tsv t2.out
}

@test "e2e: --ci bounds hold the estimate and, mostly, the exact value (dense sketches)" {
	use "$SPAN"
	quiet_ok l8.msk muse-sketch --lgk 8 --by title,asset,date,segment,country imp.mev plays.mev aff.mev
	CMP="--lgk 8 --exact-below 0 --min-ci 0.9"
	query_vs_ref l8.msk -m "$ALL" --ci 95 --by asset
	grep -q reach_lo q.out
	grep -q take_rate_hi q.out
	query_vs_ref l8.msk -m "$ALL" --ci 99 --by title,date -o csv
	query_vs_ref l8.msk -m "$ALL" --ci 95 --by segment -o json
	CMP="--lgk 8 --exact-below 0 --min-ci 0.5"
	query_vs_ref l8.msk -m "$ALL" --ci 68 --by country,week
	# At the default precision these sizes are exact: bounds collapse.
	CMP="--min-ci 1"
	query_vs_ref full.msk -m "$ALL" --ci 95 --by asset
}

@test "e2e: muse-query with no --by prints one row even when nothing matches" {
	use "$SPAN"
	run_ok q.out muse-query full.msk -a 'no-such-asset*' -m impressions,reach
	[ "$(wc -l < q.out)" -eq 2 ] || fail "expected a header and one row: $(cat q.out)"
	tail -1 q.out | grep -qx '0	0'
}

# ------------------------------------------------ hand-written fixtures
#
# tests/fixtures/attr: impressions, plays and affinities whose answers are
# worked out by hand (SPEC 4, W = 24h, Q = 60 s, A = 900 s):
#   alice  impressions T1-b, T1-Z, T1-a at the same second: the play 30 min
#          later goes to T1-Z (bytewise smallest: 'Z' < 'a' < 'b'; neither
#          the first nor the last row).  Clusters "Drama|Comedy" and again
#          Drama: two segments.
#   bob    impression T1-b 03-10 08:00; plays at 03-11 08:00:00 (exactly W
#          later: attributed, keyed by 03-10) and 08:00:01 (organic).
#   carol  play before her impression (organic); a preview (ignored); plays
#          of 59.999 s (not qualified) and 60 s (qualified).  Clusters
#          "Drama|Sci-Fi, Space" (quoted, embedded comma).
#   dave   T1-a 03-10 23:59:59, T1-b 03-11 00:00:10, play 00:05 of 900 s
#          (authentic): T1-b, 03-11.  A play of T2 (no T2 impression):
#          organic.  Cluster Émigrés (sorts after ASCII, bytewise).
#   erin   six impressions of T2-a at one instant in six forms (ISO Z,
#          space, epoch s, epoch ms, +01:00 with a fraction, -00:30); a play
#          at .999 of that second (truncated: attributed).  A T1-a
#          impression at 16:00:00.900 and a play at 16:00:00.100: the same
#          second, attributed.  No affinities: only in '*'.
#   frank  T1-a at 01:00+02:00 (= 03-10 23:00Z) and T1-b at 23:30-01:00
#          (= 03-11 00:30Z); a play at 03-11 00:30Z of 1500.25 s: T1-b,
#          03-11 (ts = t is inside the window).

fixture() {
	cp "$FIXTURES"/attr/* .
	quiet_ok imp.mev muse-ingest impressions.csv
	quiet_ok plays.mev muse-ingest plays.csv
	quiet_ok aff.mev muse-ingest affinities.csv
}

FX_DEFAULT='title|asset|date|segment|impressions|plays|qplays|watch_s|reach|qreach|areach
T1|T1-Z|2025-03-10|*|1|1|1|100.000|1|1|0
T1|T1-Z|2025-03-10|Comedy|1|1|1|100.000|1|1|0
T1|T1-Z|2025-03-10|Drama|1|1|1|100.000|1|1|0
T1|T1-a|2025-03-10|*|4|1|1|61.000|4|1|0
T1|T1-a|2025-03-10|Comedy|1|0|0|0.000|1|0|0
T1|T1-a|2025-03-10|Drama|1|0|0|0.000|1|0|0
T1|T1-a|2025-03-10|Stand-Up "Live"|1|0|0|0.000|1|0|0
T1|T1-a|2025-03-10|Émigrés|1|0|0|0.000|1|0|0
T1|T1-b|2025-03-10|*|2|1|1|1000.000|2|1|1
T1|T1-b|2025-03-10|Comedy|2|1|1|1000.000|2|1|1
T1|T1-b|2025-03-10|Drama|1|0|0|0.000|1|0|0
T1|T1-b|2025-03-11|*|2|2|2|2400.250|2|2|2
T1|T1-b|2025-03-11|Stand-Up "Live"|1|1|1|1500.250|1|1|1
T1|T1-b|2025-03-11|Émigrés|1|1|1|900.000|1|1|1
T2|T2-a|2025-03-10|*|7|3|2|180.000|2|2|0
T2|T2-a|2025-03-10|Drama|1|2|1|60.000|1|1|0
T2|T2-a|2025-03-10|Sci-Fi, Space|1|2|1|60.000|1|1|0'

@test "fixture: attribution, ties, window edges, organic plays, previews, segments (default grain)" {
	fixture
	quiet_ok fx.msk muse-sketch imp.mev plays.mev aff.mev
	expect_table fx.msk <<<"$FX_DEFAULT"
	# The reference agrees with the hand-written answer.
	run_ok ref.tsv $REF $CSVS
	printf '%s\n' "$FX_DEFAULT" | tr '|' '\t' | diff -u - ref.tsv
}

@test "fixture: a batch without plays, or without affinities" {
	fixture
	quiet_ok i.msk muse-sketch imp.mev
	expect_table i.msk <<-'EOF'
	title|asset|date|segment|impressions|plays|qplays|watch_s|reach|qreach|areach
	T1|T1-Z|2025-03-10|*|1|0|0|0.000|1|0|0
	T1|T1-a|2025-03-10|*|4|0|0|0.000|4|0|0
	T1|T1-b|2025-03-10|*|2|0|0|0.000|2|0|0
	T1|T1-b|2025-03-11|*|2|0|0|0.000|2|0|0
	T2|T2-a|2025-03-10|*|7|0|0|0.000|2|0|0
	EOF
	# Without affinities every user is only in '*': the '*' rows.
	quiet_ok ip.msk muse-sketch plays.mev imp.mev
	printf '%s\n' "$FX_DEFAULT" | awk -F'|' 'NR == 1 || $4 == "*"' | expect_table ip.msk
}

@test "fixture: by title and country" {
	fixture
	quiet_ok fx.msk muse-sketch --by title,country imp.mev plays.mev aff.mev
	expect_table fx.msk <<-'EOF'
	title|country|impressions|plays|qplays|watch_s|reach|qreach|areach
	T1|FR|1|1|1|1000.000|1|1|1
	T1|GB|2|1|1|900.000|1|1|1
	T1|US|6|3|3|1661.250|3|3|1
	T2|US|7|3|2|180.000|2|2|0
	EOF
}

@test "fixture: a one-hour window leaves bob's next-day play organic" {
	fixture
	quiet_ok fx.msk muse-sketch --window 3600 --by title,country imp.mev plays.mev aff.mev
	expect_table fx.msk <<-'EOF'
	title|country|impressions|plays|qplays|watch_s|reach|qreach|areach
	T1|FR|1|0|0|0.000|1|0|0
	T1|GB|2|1|1|900.000|1|1|1
	T1|US|6|3|3|1661.250|3|3|1
	T2|US|7|3|2|180.000|2|2|0
	EOF
}

@test "fixture: the 03-11 batch holds bob's play under the impression's day, 03-10" {
	fixture
	quiet_ok d.msk muse-sketch --date 2025-03-11 imp.mev plays.mev aff.mev
	expect_table d.msk <<-'EOF'
	title|asset|date|segment|impressions|plays|qplays|watch_s|reach|qreach|areach
	T1|T1-b|2025-03-10|*|0|1|1|1000.000|0|1|1
	T1|T1-b|2025-03-10|Comedy|0|1|1|1000.000|0|1|1
	T1|T1-b|2025-03-11|*|2|2|2|2400.250|2|2|2
	T1|T1-b|2025-03-11|Stand-Up "Live"|1|1|1|1500.250|1|1|1
	T1|T1-b|2025-03-11|Émigrés|1|1|1|900.000|1|1|1
	EOF
	quiet_ok e.msk muse-sketch --date 2025-03-10 imp.mev plays.mev aff.mev
	quiet_ok m.msk muse-merge d.msk e.msk
	expect_table m.msk <<<"$FX_DEFAULT"
}

@test "fixture: muse-query by segment and a union of segments, worked by hand" {
	fixture
	quiet_ok fx.msk muse-sketch imp.mev plays.mev aff.mev
	quiet_ok s.out muse-query fx.msk --by segment -m "$ALL"
	tr '|' '\t' > want <<-'EOF'
	segment|impressions|reach|plays|qplays|qreach|areach|watch_s|take_rate|authentic_rate|bounce_rate
	*|16|6|8|7|6|3|3741.250|1.0000|0.5000|0.1250
	Comedy|4|2|2|2|2|1|1100.000|1.0000|0.5000|0.0000
	Drama|4|2|3|2|2|0|160.000|1.0000|0.0000|0.3333
	Sci-Fi, Space|1|1|2|1|1|0|60.000|1.0000|0.0000|0.5000
	Stand-Up "Live"|2|1|1|1|1|1|1500.250|1.0000|1.0000|0.0000
	Émigrés|2|1|1|1|1|1|900.000|1.0000|1.0000|0.0000
	EOF
	diff -u want s.out
	# Comedy = {alice, bob}, Drama = {alice, carol}: alice counts once.
	run_ok u.out muse-query fx.msk -s Comedy,Drama -m reach,qreach,areach,take_rate,authentic_rate
	printf 'reach\tqreach\tareach\ttake_rate\tauthentic_rate\n3\t3\t1\t1.0000\t0.3333\n' | diff -u - u.out
	# Assets T1-Z and T1-b: alice, bob, dave and frank.
	quiet_ok t.out muse-query fx.msk -a 'T1-[Zb]' -m impressions,reach,plays,qreach
	printf 'impressions\treach\tplays\tqreach\n5\t4\t4\t4\n' | diff -u - t.out
	quiet_ok c.out muse-query fx.msk -t T1 --by date -m impressions,reach,plays,qreach,areach
	printf 'date\timpressions\treach\tplays\tqreach\tareach\n2025-03-10\t7\t5\t3\t3\t1\n2025-03-11\t2\t2\t2\t2\t2\n' | diff -u - c.out
}

@test "fixture: header case and order, extra columns, CRLF + BOM, TSV, zstd, stdin: the same events" {
	fixture
	quiet_ok u.mev muse-ingest impressions-upper.csv
	cmp u.mev imp.mev
	{ printf '\357\273\277'; sed 's/$/\r/' plays.csv; } > plays-crlf.csv
	quiet_ok c.mev muse-ingest plays-crlf.csv
	cmp c.mev plays.mev
	tr , '\t' < plays.csv > plays.tsv
	quiet_ok t.mev muse-ingest plays.tsv
	cmp t.mev plays.mev
	{ printf '\357\273\277'; sed 's/$/\r/' affinities.csv; } > aff-crlf.csv
	quiet_ok ac.mev muse-ingest aff-crlf.csv
	cmp ac.mev aff.mev
	zstd -q -o affinities.csv.zst affinities.csv
	quiet_ok z.mev muse-ingest affinities.csv.zst
	cmp z.mev aff.mev
	quiet_ok zs.mev muse-ingest < affinities.csv.zst
	cmp zs.mev aff.mev
	quiet_ok zi.mev muse-ingest --table impressions - < impressions-upper.csv
	cmp zi.mev imp.mev
}

@test "fixture: plays without a kind column are all plays" {
	fixture
	# The same plays less the preview, without the kind column.
	grep -v ',preview$' plays.csv | cut -d, -f1-4 > nokind.csv
	quiet_ok nk.mev muse-ingest nokind.csv
	quiet_ok fx.msk muse-sketch imp.mev plays.mev aff.mev
	quiet_ok nk.msk muse-sketch imp.mev nk.mev aff.mev
	cmp fx.msk nk.msk
}

@test "fixture: the timestamp forms of SPEC 3 denote the same instant" {
	fixture
	quiet_ok i.txt muse-cat imp.mev
	grep -c "^2025-03-10T14:00:00Z	" i.txt > n
	[ "$(cat n)" -eq 6 ] || fail "expected six impressions at 14:00:00Z: $(cat i.txt)"
	grep -q "^2025-03-10T23:00:00Z	" i.txt
	grep -q "^2025-03-11T00:30:00Z	" i.txt
	grep -q "^2025-03-10T16:00:00Z	" i.txt
}
