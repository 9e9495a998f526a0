#!/usr/bin/env bats
# muse-query --sketch pg against the real thing: a throwaway PostgreSQL 15
# cluster with the hll extension (postgresql-15-hll) loads the exported
# values with \copy, prints them back byte for byte, and its
# hll_cardinality and hll_union_agg agree with muse-query.  The tests that
# need PostgreSQL are skipped, with the reason, when it or the extension
# is not installed (.ci/run installs both); the others always run.

load helpers
bats_require_minimum_version 1.5.0

PGBIN=${MUSE_PGBIN:-/usr/lib/postgresql/15/bin}

# Stores of the small tables at three precisions: lgk 8 (most keys dense,
# SPARSE and FULL values), 14 (the default: sparse, exact keys) and 18
# (folded to the extension's largest log2m, 17).
build_stores() {
	gen_small
	for t in impressions plays affinities; do
		muse-ingest -o "$t.mev" "$t.csv" || return 1
	done
	for k in 8 14 18; do
		muse-sketch -q -o "s$k.msk" --lgk "$k" impressions.mev plays.mev \
		    affinities.mev || return 1
	done
}

# Starts the cluster: initdb and pg_ctl in a temporary directory, listening
# only on a Unix socket there.  initdb refuses to run as root, so as root
# the server runs as the postgres user (or nobody) in a directory it owns.
start_cluster() {
	local dir=$1
	AS=()
	if [ "$(id -u)" -eq 0 ]; then
		local u=postgres
		id "$u" >/dev/null 2>&1 || u=nobody
		chown "$u" "$dir" || return 1
		AS=(runuser -u "$u" --)
	fi
	(cd "$dir" && "${AS[@]}" "$PGBIN/initdb" -D "$dir/data" -A trust -U muse \
	    --no-sync -E UTF8 --locale=C > "$dir/initdb.log" 2>&1) ||
	    { cat "$dir/initdb.log" >&2; return 1; }
	(cd "$dir" && "${AS[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
	    -w -t 20 -o "-k $dir -p $PGPORT -c listen_addresses='' -c fsync=off" \
	    start > /dev/null) || { cat "$dir/server.log" >&2; return 1; }
}

setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	build_stores || return 1
	export PG_SKIP=
	if [ ! -x "$PGBIN/initdb" ]; then
		PG_SKIP="PostgreSQL 15 is not installed ($PGBIN/initdb missing; apt-get install postgresql-15 postgresql-15-hll)"
	elif [ ! -f "$("$PGBIN/pg_config" --sharedir)/extension/hll.control" ]; then
		PG_SKIP="the PostgreSQL hll extension is not installed (apt-get install postgresql-15-hll)"
	elif [ "$(id -u)" -eq 0 ] && ! command -v runuser >/dev/null; then
		PG_SKIP="running as root without runuser to start PostgreSQL as another user"
	fi
	[ -z "$PG_SKIP" ] || return 0
	# A short path: a Unix socket's name must fit in 107 bytes.
	export PGDIR_=$(mktemp -d /tmp/muse-pg.XXXXXX) || return 1
	export PGHOST=$PGDIR_ PGPORT=5432 PGUSER=muse PGDATABASE=postgres
	unset PGSERVICE PGPASSWORD PGOPTIONS
	if ! start_cluster "$PGDIR_" || ! psql_ -c 'CREATE EXTENSION hll'; then
		teardown_file
		return 1
	fi
}

# Always stops the cluster, also when a test or setup_file failed: the
# server is up while its pid file exists.
teardown_file() {
	[ -n "${PGDIR_:-}" ] && [ -d "$PGDIR_" ] || return 0
	if [ -f "$PGDIR_/data/postmaster.pid" ]; then
		local as=()
		[ "$(id -u)" -ne 0 ] || as=(runuser -u "$(stat -c %U "$PGDIR_")" --)
		(cd "$PGDIR_" && "${as[@]}" "$PGBIN/pg_ctl" -D "$PGDIR_/data" \
		    -m immediate -w stop > /dev/null 2>&1)
	fi
	rm -rf "$PGDIR_"
}

need_pg() {
	[ -z "$PG_SKIP" ] || skip "$PG_SKIP"
}

psql_() {
	"$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

# sql SCRIPT: runs SQL from standard input with \copy reading files of the
# test's directory; the answer on stdout.
sql() {
	psql_ -f -
}

S=$BATS_FILE_TMPDIR

# Relative allowance of hll_cardinality against muse-query's estimate of
# the same registers: 4 standard errors 1.04/sqrt(m) (see man/muse-query.1).
allow() { # LOG2M
	awk -v l="$1" 'BEGIN { printf "%.6f", 4 * 1.04 / sqrt(2 ^ l) }'
}

# ---------------------------------------------------------------------
# Without PostgreSQL

@test "--sketch pg: a sketch column in TSV, CSV and JSON, the same values" {
	muse-query "$S/s8.msk" --by title -m reach --sketch pg -o tsv > t.tsv
	muse-query "$S/s8.msk" --by title -m reach --sketch pg -o csv > t.csv
	muse-query "$S/s8.msk" --by title -m reach --sketch pg -o json > t.json
	[ "$(head -1 t.tsv)" = "$(printf 'title\treach\tsketch')" ] ||
	    fail "tsv header: $(head -1 t.tsv)"
	[ "$(head -1 t.csv)" = title,reach,sketch ] || fail "csv header"
	[ "$(wc -l < t.tsv)" -eq 13 ] || fail "expected 12 titles: $(cat t.tsv)"
	tr '\t' , < t.tsv | cmp - t.csv || fail "TSV and CSV differ"
	python3 - t.json t.csv <<'EOF' || fail "JSON differs from CSV"
import csv, json, sys
j = json.load(open(sys.argv[1]))
c = list(csv.DictReader(open(sys.argv[2])))
assert [r["sketch"] for r in j] == [r["sketch"] for r in c]
assert [r["title"] for r in j] == [r["title"] for r in c]
assert all(r["sketch"].startswith("\\x1") for r in j)
EOF
	# Every value names log2m 8, width 5 and the default cutoff byte.
	cut -f3 t.tsv | tail -n +2 | grep -qv '^\\x1[34]887f' &&
	    fail "header bytes: $(cut -c1-40 t.tsv)"
	return 0
}

@test "--sketch pg: empty union, folded precision, and a bad format refused" {
	muse-query "$S/s14.msk" -a nothing -m reach --sketch pg -o csv \
	    > e.csv 2> e.err
	[ "$(tail -1 e.csv)" = '0,\x118e7f' ] || fail "empty: $(cat e.csv)"
	muse-query "$S/s18.msk" -m reach --sketch pg -o csv > f.csv
	[[ $(tail -1 f.csv) == *',\x1'[34]'917f'* ]] || fail "lgk 18: $(cut -c1-40 f.csv)"
	run --separate-stderr muse-query "$S/s14.msk" --sketch hll9
	expect_status 2
	expect_stderr_contains 'unknown sketch kind "hll9" (hll4, hll6, hll8, pg)'
	[ -z "$output" ] || fail "stdout: $output"
	# the column belongs to plain answers only
	for mode in "--compare t0001-a1,t0001-a2" --outliers "-o bars"; do
		run --separate-stderr muse-query "$S/s14.msk" --sketch pg $mode
		expect_status 2
		expect_stderr_contains "--sketch adds a column to plain answers"
	done
}

# ---------------------------------------------------------------------
# Against PostgreSQL

# load LGK TABLE ARGS...: muse-query ARGS... --sketch pg on store LGK into
# a new table TABLE (its columns as the CSV's, the sketch as text).
load_csv() {
	local lgk=$1 table=$2 cols
	shift 2
	muse-query "$S/s$lgk.msk" -m reach --sketch pg -o csv "$@" > "$table.csv" ||
	    return 1
	cols=$(head -1 "$table.csv" | sed 's/,/ text, /g; s/reach text/reach bigint/; s/$/ text/')
	sql <<EOF
CREATE TABLE $table ($cols);
\copy $table from '$table.csv' with (format csv, header)
EOF
}

@test "PostgreSQL loads every exported value and prints back the same bytes" {
	need_pg
	local k l by t n out
	for k in 8 14 18; do
		l=$((k < 17 ? k : 17))
		for by in asset,date title; do
			t=load${k}_${by%%,*}
			load_csv "$k" "$t" --by "$by"
			n=$(($(wc -l < "$t.csv") - 1))
			out=$(sql <<EOF
SELECT count(*), count(*) FILTER (WHERE sketch::hll::text = sketch),
    count(*) FILTER (WHERE hll_log2m(sketch::hll) = $l AND
        hll_regwidth(sketch::hll) = 5),
    count(*) FILTER (WHERE hll_type(sketch::hll) = 3),
    count(*) FILTER (WHERE hll_type(sketch::hll) = 4)
FROM $t;
EOF
)
			IFS='|' read -r total same params sparse full <<< "$out"
			[ "$total" -eq "$n" ] && [ "$n" -ge 12 ] || fail "$t: $out of $n"
			[ "$same" -eq "$n" ] || fail "$t: $same of $n printed back the same"
			[ "$params" -eq "$n" ] || fail "$t: $params of $n have log2m $l, width 5"
			echo "# lgk $k by $by: $n values, $sparse SPARSE, $full FULL" >&3
		done
	done
	# At lgk 8 some titles are past the extension's switch to FULL.
	[ "$(sql <<< 'SELECT count(*) FROM load8_title WHERE hll_type(sketch::hll) = 4')" -gt 0 ] ||
	    fail "no FULL value at lgk 8"
	# A column declared hll(14) takes the values, and they unite with
	# hll_empty(14) (the extension's defaults but for log2m).
	out=$(sql <<'EOF'
CREATE TABLE typed (sketch hll(14));
INSERT INTO typed SELECT sketch::hll FROM load14_asset;
SELECT hll_union_agg(sketch) = hll_union_agg(sketch) || hll_empty(14) FROM typed;
EOF
)
	[ "$out" = t ] || fail "hll(14) column: $out"
}

@test "hll_cardinality of every key agrees with muse-query's reach" {
	need_pg
	local k l a out
	for k in 8 14 18; do
		l=$((k < 17 ? k : 17))
		a=$(allow "$l")
		load_csv "$k" "card$k" --by asset,date
		# Beyond the allowance; and keys whose users all have registers
		# of their own (as many filled registers as muse counts, which
		# hll_print states) where muse is exact and n^2/2m < 1/2: there
		# the estimate must round to muse's count.
		out=$(sql <<EOF
WITH c AS (
    SELECT reach, hll_cardinality(sketch::hll) AS pg,
        substring(hll_print(sketch::hll)::text FROM '([0-9]+) filled')::bigint
            AS filled
    FROM card$k)
SELECT count(*) FILTER (WHERE abs(pg - reach) > $a * reach + 1),
    count(*) FILTER (WHERE filled = reach AND reach < sqrt(2 ^ $l) AND
        reach < 2 ^ ($k - 2)),
    count(*) FILTER (WHERE filled = reach AND reach < sqrt(2 ^ $l) AND
        reach < 2 ^ ($k - 2) AND round(pg) <> reach),
    max(abs(pg - reach) / reach)
FROM c;
EOF
)
		IFS='|' read -r beyond exact wrong worst <<< "$out"
		[ "$beyond" -eq 0 ] || fail "lgk $k: $beyond keys beyond $a relative: $out"
		[ "$wrong" -eq 0 ] || fail "lgk $k: $wrong of $exact exact keys differ"
		echo "# lgk $k: largest relative difference $worst (allowed $a); $exact keys equal" >&3
	done
	[ "$exact" -gt 100 ] || fail "lgk 18: only $exact keys compared for equality"
}

@test "hll_union_agg over keys is muse-query's union of the same keys, byte for byte" {
	need_pg
	local k l a out
	for k in 8 14 18; do
		l=$((k < 17 ? k : 17))
		a=$(allow "$l")
		load_csv "$k" "u$k" --by asset,date
		load_csv "$k" "ut$k" --by title
		# Several keys united per title, in SQL and by muse-query.
		out=$(sql <<EOF
SELECT count(*), count(*) FILTER (WHERE u.h = t.sketch::hll),
    count(*) FILTER (WHERE abs(hll_cardinality(u.h) - t.reach) >
        $a * t.reach + 1)
FROM ut$k t JOIN (SELECT split_part(asset, '-', 1) AS title,
        hll_union_agg(sketch::hll) AS h
    FROM u$k GROUP BY 1) u USING (title);
EOF
)
		IFS='|' read -r n same beyond <<< "$out"
		[ "$n" -eq 12 ] && [ "$same" -eq 12 ] && [ "$beyond" -eq 0 ] ||
		    fail "lgk $k by title (titles, equal, beyond bounds): $out"
		# An ad-hoc selection: the assets of two titles over two days.
		muse-query "$S/s$k.msk" -t t0003,t0007 -d 2025-07-01..2025-07-02 \
		    -m reach --sketch pg -o csv > one.csv
		out=$(sql <<EOF
CREATE TEMP TABLE one (reach bigint, sketch text);
\copy one from 'one.csv' with (format csv, header)
SELECT (SELECT hll_union_agg(sketch::hll) FROM u$k
        WHERE asset ~ '^t000[37]-' AND date IN ('2025-07-01', '2025-07-02'))
    = sketch::hll, reach FROM one;
EOF
)
		[[ $out == 't|'* ]] || fail "lgk $k: union of a selection: $out"
	done
}

@test "TSV output loads with FORMAT csv and a tab delimiter" {
	need_pg
	muse-query "$S/s8.msk" --by title -m reach --sketch pg -o tsv > t.tsv
	muse-query "$S/s8.msk" --by title -m reach --sketch pg -o csv > t.csv
	out=$(sql <<'EOF'
CREATE TABLE tt (title text, reach bigint, sketch hll);
CREATE TABLE tc (title text, reach bigint, sketch hll);
\copy tt from 't.tsv' with (format csv, header, delimiter E'\t')
\copy tc from 't.csv' with (format csv, header)
SELECT count(*), count(*) FILTER (WHERE tt.sketch = tc.sketch)
FROM tt JOIN tc USING (title, reach);
EOF
)
	[ "$out" = '12|12' ] || fail "TSV and CSV loads differ: $out"
}
