#!/bin/bash
# Checks that the SQL given to DuckDB in the benchmark race computes what
# the toolkit computes (so the race is the same race), on small data sets:
#   - muse-gen --users 2000 --days 4, with the default parameters and with
#     --window 2h --qualify 30 --authentic 600;
#   - tests/fixtures/attr (ties, window ends, every timestamp form, header
#     in another order and case);
#   - an edge-case set written below (ties across assets and countries,
#     both window ends, fractions, offsets crossing midnight, durations
#     rounded to the millisecond, empty kind, repeated and '|'-joined
#     memberships, non-ASCII ids in bytewise order).
# For each: full.sql against the store of muse-ingest + muse-sketch (as
# muse-cat prints it): every key, every counter exactly, every distinct
# count exactly where the sketch is sparse (within 3 standard errors
# otherwise); full.sql against tests/reference.py, byte for byte;
# full_exact_cd.sql byte for byte against full.sql; full_approx.sql's
# counters against full.sql's.  Then the re-query: query.sql (CSV),
# query_db.sql (persisted database of load_db.sql), muse-query and the
# reference give the same reach.
# Mismatches are printed; exit status 1 when any, 2 on error.
#   MUSE_BIN: directory of the programs (default: cmd/ of this checkout)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bin=${MUSE_BIN:-$root/cmd}
for p in muse-gen muse-ingest muse-sketch muse-cat muse-query; do
	[ -x "$bin/$p" ] || { echo "verify.sh: $bin/$p missing (run make)" >&2; exit 2; }
done
command -v node > /dev/null || { echo "verify.sh: node is needed" >&2; exit 2; }
if ! cmp -s "$here/package.json" "$here/node_modules/.muse-package.json" 2> /dev/null; then
	(cd "$here" && npm install --no-package-lock --no-audit --no-fund --loglevel=error &&
		cp package.json node_modules/.muse-package.json) >&2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/muse-verify.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail=0
duck() { node "$here/run.mjs" "$@" 2> "$tmp/duck.err" || { cat "$tmp/duck.err" >&2; exit 2; }; }


# check NAME DIR IMP PLAYS AFF [muse-sketch/reference parameters...]
check() {
	local name=$1 dir=$2 imp=$3 plays=$4 aff=$5
	shift 5
	local w=86400 q=60000 a=900000 o=$tmp/$name
	local args=("$@")
	while [ $# -gt 0 ]; do
		case $1 in
		--window) w=$(($(sed 's/h$/*3600/; s/m$/*60/; s/s$//' <<< "$2"))); shift 2 ;;
		--qualify) q=$(($2 * 1000)); shift 2 ;;
		--authentic) a=$(($2 * 1000)); shift 2 ;;
		*) echo "verify.sh: bad parameter $1" >&2; exit 2 ;;
		esac
	done
	mkdir -p "$o"
	echo "== $name: $(cat "$dir/$imp" "$dir/$plays" "$dir/$aff" | wc -l) rows${args[*]:+, ${args[*]}}"
	for f in "$imp" "$plays" "$aff"; do
		"$bin/muse-ingest" "$dir/$f" > "$o/$f.mev"
	done
	"$bin/muse-sketch" "${args[@]}" "$o/$imp.mev" "$o/$plays.mev" "$o/$aff.mev" > "$o/store.msk"
	"$bin/muse-cat" "$o/store.msk" > "$o/store.tsv"
	local p=(--str "imp=$dir/$imp" --str "plays=$dir/$plays" --str "aff=$dir/$aff"
		--num "window_s=$w" --num "qualify_ms=$q" --num "authentic_ms=$a")
	for v in full full_exact_cd full_approx; do
		duck "${p[@]}" --str "out=$o/$v.tsv" "$here/common.sql" "$here/$v.sql" > /dev/null
	done
	printf '   full.sql vs muse-sketch store: '
	python3 "$here/compare.py" "$o/full.tsv" "$o/store.tsv" 2>&1 || fail=1
	python3 "$root/tests/reference.py" sketch "${args[@]}" "$dir/$imp" "$dir/$plays" "$dir/$aff" > "$o/ref.tsv"
	if cmp -s "$o/ref.tsv" "$o/full.tsv"; then
		echo "   full.sql vs tests/reference.py: identical ($(($(wc -l < "$o/ref.tsv") - 1)) rows)"
	else
		echo "   full.sql vs tests/reference.py: DIFFERENT"; diff "$o/ref.tsv" "$o/full.tsv" | head -10; fail=1
	fi
	if cmp -s "$o/full_exact_cd.tsv" "$o/full.tsv"; then
		echo "   full_exact_cd.sql vs full.sql: identical"
	else
		echo "   full_exact_cd.sql vs full.sql: DIFFERENT"; diff "$o/full.tsv" "$o/full_exact_cd.tsv" | head -10; fail=1
	fi
	if cmp -s <(cut -f1-8 "$o/full_approx.tsv") <(cut -f1-8 "$o/full.tsv"); then
		echo "   full_approx.sql vs full.sql: keys and counters identical"
	else
		echo "   full_approx.sql vs full.sql: counters DIFFERENT"; fail=1
	fi
}

# requery NAME DIR IMP PLAYS AFF ASSETS SEGMENTS
requery() {
	local name=$1 dir=$2 imp=$3 plays=$4 aff=$5 assets=$6 segs=$7 o=$tmp/$1
	local p=(--str "imp=$dir/$imp" --str "plays=$dir/$plays" --str "aff=$dir/$aff")
	local q=(--list "assets=$assets" --list "segments=$segs")
	local r_csv r_db r_muse r_ref
	r_csv=$(duck "${p[@]}" "${q[@]}" "$here/common.sql" "$here/query.sql" | tail -n +2)
	duck --db "$o/db.duckdb" "${p[@]}" "$here/common.sql" "$here/load_db.sql" > /dev/null
	r_db=$(duck --db "$o/db.duckdb" "${q[@]}" "$here/query_db.sql" | tail -n +2)
	r_muse=$("$bin/muse-query" "$o/store.msk" --asset "$assets" --segment "$segs" --metrics reach 2> /dev/null | tail -n +2)
	r_ref=$(python3 "$root/tests/reference.py" query --asset "$assets" --segment "$segs" --metrics reach \
		"$dir/$imp" "$dir/$plays" "$dir/$aff" | tail -n +2)
	if [ "$r_csv" = "$r_ref" ] && [ "$r_db" = "$r_ref" ] && [ "$r_muse" = "$r_ref" ]; then
		echo "   re-query reach of $assets x $segs: $r_ref everywhere"
	else
		echo "   re-query reach of $assets x $segs: query.sql $r_csv, query_db.sql $r_db, muse-query $r_muse, reference $r_ref: DIFFERENT"
		fail=1
	fi
}

# 1. muse-gen data
"$bin/muse-gen" -q -O "$tmp/gen" --users 2000 --days 4
check gen "$tmp/gen" impressions.csv plays.csv affinities.csv
title=$("$bin/muse-query" "$tmp/gen/store.msk" --by title --metrics impressions --sort impressions --top 1 | awk -F'\t' 'NR == 2 { print $1 }')
assets=$("$bin/muse-query" "$tmp/gen/store.msk" --title "$title" --by asset --metrics impressions | awk -F'\t' 'NR > 1 && NR <= 4 { print $1 }' | paste -sd,)
segs=$("$bin/muse-query" "$tmp/gen/store.msk" --by segment --metrics reach --sort reach --top 3 | awk -F'\t' 'NR > 2 { print $1 }' | paste -sd,)
requery gen "$tmp/gen" impressions.csv plays.csv affinities.csv "$assets" "$segs"
requery gen "$tmp/gen" impressions.csv plays.csv affinities.csv "$assets" "*"
check gen2 "$tmp/gen" impressions.csv plays.csv affinities.csv --window 2h --qualify 30 --authentic 600

# 2. the attribution fixture, also with its header in another order and case
fx=$root/tests/fixtures/attr
check attr "$fx" impressions.csv plays.csv affinities.csv
requery attr "$fx" impressions.csv plays.csv affinities.csv "T1-a,T1-b,T2-a" "Drama,Comedy"
check attr-upper "$fx" impressions-upper.csv plays.csv affinities.csv

# 3. edge cases
e=$tmp/edge-data
mkdir -p "$e"
cat > "$e/impressions.csv" <<'EOF'
ts,user_id,asset_id,title_id,country
2025-03-10T12:00:00Z,u1,T1-b,T1,US
2025-03-10T12:00:00Z,u1,T1-a,T1,US
2025-03-10T12:00:00Z,u1,T1-a,T1,FR
2025-03-10T00:00:00Z,u2,T1-a,T1,US
2025-03-10T00:00:00Z,u3,T1-b,T1,US
1741608000,u4,T2-x,T2,US
2025-03-10T12:00:00.500+00:00,u5,T2-x,T2,US
2025-03-10T23:30:00-01:00,u6,T2-y,T2,GB
2025-03-11T01:00:00+02:00,u7,T2-y,T2,GB
2025-03-10 18:00:00,u8,T3-z,T3,DE
2025-03-10 18:00:00,u8,T3-é,T3,DE
2025-03-10T18:00:00Z,u9,T3-é,T3,DE
2025-03-10T18:00:00.999Z,u9,T3-Z,T3,DE
2025-03-10T20:00:00Z,u10,T1-a,T1,US
2025-03-10T20:00:01Z,u10,T2-x,T2,US
1741636800000,u11,T1-b,T1,US
2025-03-10T10:00:00+05:30,u12,T1-a,T1,IN
EOF
cat > "$e/plays.csv" <<'EOF'
ts,user_id,title_id,duration_s,kind
2025-03-10T12:10:00Z,u1,T1,120,play
2025-03-10T12:20:00Z,u1,T1,59.9995,play
2025-03-10T12:30:00Z,u1,T1,59.9994,play
2025-03-11T00:00:00Z,u2,T1,899.9995,play
2025-03-11T00:00:01Z,u3,T1,1000,play
2025-03-10T12:00:00.999Z,u4,T2,60,play
1741608000400,u5,T2,0.5,play
2025-03-11T00:40:00Z,u6,T2,5000,preview
2025-03-11T00:40:00Z,u6,T2,5000,play
2025-03-10T23:00:00Z,u7,T2,900,play
2025-03-10T18:00:00Z,u8,T3,61,play
2025-03-10T18:00:00Z,u9,T3,62.0005,play
2025-03-10T20:00:02Z,u10,T1,3600,play
2025-03-10T19:59:59Z,u10,T2,3600,play
2025-03-10T20:00:00Z,u11,T1,100,play
2025-03-10T20:00:00Z,u11,T1,100,play
2025-03-10T04:30:00Z,u12,T1,600,play
2025-03-10T04:29:59Z,u12,T1,600,play
EOF
cat > "$e/affinities.csv" <<'EOF'
user_id,cluster
u1,A|B
u1,A
u2,"Comma, Quote ""Q"""
u3,A|A|B
u4,Émigrés
u5,B
u5,"Comma, Quote ""Q""|A"
u8,A
u9,a
u10,Z|A
u12,B
EOF
check edge "$e" impressions.csv plays.csv affinities.csv
requery edge "$e" impressions.csv plays.csv affinities.csv "T1-a,T2-x,T3-é" "A,B"
requery edge "$e" impressions.csv plays.csv affinities.csv "T1-a,T1-b,T3-z" "B,*"

if [ "$fail" = 0 ]; then
	echo "verify.sh: DuckDB's SQL and the toolkit agree"
else
	echo "verify.sh: MISMATCHES (see above)" >&2
	exit 1
fi
