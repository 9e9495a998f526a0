#!/bin/bash
# race.sh: the race of issue 3, the toolkit against DuckDB on the same
# muse-gen data, printed on standard output as the "Race against DuckDB"
# section of tests/bench/RESULTS.md (tests/bench/run.sh appends it).
#
#   DuckDB (tests/bench/duckdb/, the npm package @duckdb/node-api pinned in
#   package.json, driven by run.mjs, 2 threads):
#     full.sql         the full metric table of SPEC 4, exact
#     full_exact_cd.sql  the same with plain COUNT(DISTINCT) on the ids
#     full_approx.sql  the same with approx_count_distinct
#     parse.sql        reading the three CSV files alone (reference)
#     query.sql        the re-query from the CSV files, cold process
#     load_db.sql      a persisted database of the segment-expanded
#                      impressions sorted by asset and segment, then
#     query_db.sql     the re-query from it, cold process
#   The toolkit, end to end on both cores: muse-ingest of the 3 tables
#   into a table directory with 2 user-hash buckets (impressions in one
#   process, plays and affinities in another, committing at once), then
#   muse-sketch --bucket 0 and 1 in parallel, each reading only its
#   bucket's files, then muse-merge of the two into the store, then its
#   month roll-up (muse-merge --rollup month: counted in the end to end
#   time); and the re-query by a cold muse-query given the roll-up (and,
#   for comparison, on the store alone).
#
# Every full computation runs RUNS times (default 3), every cold re-query
# QRUNS times (default 11); medians.  Wall clock from the page cache; peak
# RSS from /usr/bin/time (the toolkit's is the sum over the processes that
# run at the same time, the largest stage); CPU is user + system seconds.
# The data, muse-gen --users RACE_USERS --days RACE_DAYS (defaults 200000
# and 14, about 460 MB of CSV), is cached in tests/bench/work/.  The SQL is
# checked against the toolkit on small data by tests/bench/duckdb/verify.sh
# (run first; RACE_VERIFY=0 skips it), and the table DuckDB computes here
# is compared with the store key for key.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
PATH=$root/cmd:$PATH
RUNS=${RUNS:-3}
QRUNS=${QRUNS:-11}
USERS=${RACE_USERS:-200000}
DAYS=${RACE_DAYS:-14}
work=$root/tests/bench/work
rw=$work/race
dd=$root/tests/bench/duckdb
mkdir -p "$rw"
log() { echo "race: $*" >&2; }

# ---------------------------------------------------------------- set-up
need_apt=()
[ -x /usr/bin/time ] || need_apt+=(time)
command -v node > /dev/null && command -v npm > /dev/null || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		log "installing ${need_apt[*]}"
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
	else
		echo "race.sh: missing ${need_apt[*]}: run  sudo apt-get install ${need_apt[*]}" >&2
		exit 2
	fi
fi
# package.json pins @duckdb/node-api exactly, and it pins its bindings.
if ! cmp -s "$dd/package.json" "$dd/node_modules/.muse-package.json" 2> /dev/null; then
	log "npm install in tests/bench/duckdb"
	(cd "$dd" && npm install --no-package-lock --no-audit --no-fund --loglevel=error >&2 &&
		cp package.json node_modules/.muse-package.json)
fi
if [ "${RACE_VERIFY:-1}" != 0 ]; then
	log "verifying the SQL against the toolkit on small data"
	"$dd/verify.sh" > "$rw/verify.txt" 2>&1 || { cat "$rw/verify.txt" >&2; echo "race.sh: verify.sh failed" >&2; exit 1; }
fi

data=$work/data-$USERS-$DAYS
if [ ! -f "$data/plays.csv" ]; then
	log "generating $USERS users x $DAYS days"
	rm -rf "$data.tmp"
	muse-gen -q -O "$data.tmp" --users "$USERS" --days "$DAYS"
	mv "$data.tmp" "$data"
fi
csvs=("$data/impressions.csv" "$data/plays.csv" "$data/affinities.csv")
csv_bytes=$(cat "${csvs[@]}" | wc -c)
rows=$(($(cat "${csvs[@]}" | wc -l) - 3))

# ---------------------------------------------------------------- helpers
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -1; }
# timed NAME CMD...: runs CMD (stdout to $rw/NAME.out, stderr to
# $rw/NAME.err) under /usr/bin/time; sets W (wall s), R (peak RSS kB), C (cpu s).
timed() {
	local name=$1 s e
	shift
	s=$(now)
	if ! /usr/bin/time -o "$rw/$name.time" -f '%M %U %S' "$@" > "$rw/$name.out" 2> "$rw/$name.err"; then
		echo "race.sh: failed: $*" >&2
		cat "$rw/$name.err" >&2
		exit 2
	fi
	e=$(now)
	W=$(echo "$e - $s" | bc -l)
	read -r R u sy < "$rw/$name.time"
	C=$(echo "$u + $sy" | bc -l)
}
# sql_time NAME: DuckDB's own time for the SQL (without Node and opening)
sql_time() { sed -n 's/.*, sql \([0-9.]*\) s,.*/\1/p' "$rw/$1.err"; }
P=(--str "imp=$data/impressions.csv" --str "plays=$data/plays.csv" --str "aff=$data/affinities.csv"
	--num window_s=86400 --num qualify_ms=60000 --num authentic_ms=900000)
DUCK=(node "$dd/run.mjs" --threads 2)

load0=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------ DuckDB, full table
# duck_full NAME SQL: RUNS runs; sets <NAME>_w, _r, _c, _s (medians)
duck_full() {
	local name=$1 sql=$2 ws=() rs=() cs=() ss=()
	for i in $(seq "$RUNS"); do
		log "DuckDB $name, run $i of $RUNS"
		timed "$name" "${DUCK[@]}" "${P[@]}" --str "out=$rw/$name.tsv" "$dd/common.sql" "$dd/$sql"
		ws+=("$W"); rs+=("$R"); cs+=("$C"); ss+=("$(sql_time "$name")")
	done
	printf -v "${name}_w" %s "$(median "${ws[@]}")"
	printf -v "${name}_r" %s "$(median "${rs[@]}")"
	printf -v "${name}_c" %s "$(median "${cs[@]}")"
	printf -v "${name}_s" %s "$(median "${ss[@]}")"
}
duck_full parse parse.sql
duck_full exact full.sql
duck_full exactcd full_exact_cd.sql
duck_full approx full_approx.sql
duck_version=$(sed -n 's/^duckdb \(v[^:]*\):.*/\1/p' "$rw/exact.err")
keys=$(($(wc -l < "$rw/exact.tsv") - 1))
cmp -s "$rw/exact.tsv" "$rw/exactcd.tsv" && same_cd="identical output" || same_cd="OUTPUT DIFFERS from full.sql"

# ------------------------------------------------- the toolkit, end to end
ing_w=() ing_r=() ing_c=() sk_w=() sk_r=() sk_c=() mg_w=() mg_r=() mg_c=() tot_w=() tot_r=() tot_c=()
ru_w=() ru_r=() ru_c=()
for i in $(seq "$RUNS"); do
	log "toolkit end to end, run $i of $RUNS"
	rm -rf "$rw/wh" "$rw"/bucket-*.msk "$rw/store.msk" "$rw/month.msk"
	t0=$(now)
	# ingest: impressions | plays and affinities, two commits at once
	( timed ing-imp muse-ingest -O "$rw/wh" --buckets 2 "$data/impressions.csv"; echo "$W $R $C" > "$rw/ing-imp.res" ) &
	a=$!
	( timed ing-plays muse-ingest -O "$rw/wh" --buckets 2 "$data/plays.csv" "$data/affinities.csv"; echo "$W $R $C" > "$rw/ing-plays.res" ) &
	b=$!
	wait "$a" && wait "$b" || { echo "race.sh: muse-ingest failed" >&2; exit 2; }
	t1=$(now)
	read -r _ r1 c1 < "$rw/ing-imp.res"; read -r _ r2 c2 < "$rw/ing-plays.res"
	ing_w+=("$(echo "$t1 - $t0" | bc -l)"); ing_r+=($((r1 + r2))); ing_c+=("$(echo "$c1 + $c2" | bc -l)")
	# sketch: the two user-hash buckets in parallel, each reading its files
	pids=()
	for bk in 0 1; do
		( timed "sketch-$bk" muse-sketch --bucket "$bk" -o "$rw/bucket-$bk.msk" "$rw/wh"; echo "$W $R $C" > "$rw/sketch-$bk.res" ) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || { echo "race.sh: muse-sketch failed" >&2; exit 2; }; done
	t2=$(now)
	read -r _ r1 c1 < "$rw/sketch-0.res"; read -r _ r2 c2 < "$rw/sketch-1.res"
	sk_w+=("$(echo "$t2 - $t1" | bc -l)"); sk_r+=($((r1 + r2))); sk_c+=("$(echo "$c1 + $c2" | bc -l)")
	# merge
	timed merge muse-merge -o "$rw/store.msk" "$rw/bucket-0.msk" "$rw/bucket-1.msk"
	t3=$(now)
	mg_w+=("$(echo "$t3 - $t2" | bc -l)"); mg_r+=("$R"); mg_c+=("$C")
	# the month roll-up that re-queries over whole months read
	timed rollup muse-merge --rollup month -o "$rw/month.msk" "$rw/store.msk"
	t4=$(now)
	ru_w+=("$(echo "$t4 - $t3" | bc -l)"); ru_r+=("$R"); ru_c+=("$C")
	tot_w+=("$(echo "$t4 - $t0" | bc -l)")
	tot_r+=("$(maxof "${ing_r[-1]}" "${sk_r[-1]}" "${mg_r[-1]}" "${ru_r[-1]}")")
	tot_c+=("$(echo "${ing_c[-1]} + ${sk_c[-1]} + ${mg_c[-1]} + ${ru_c[-1]}" | bc -l)")
done
ev_bytes=$(find "$rw/wh/data" -name '*.mev' -exec cat {} + | wc -c)
store_bytes=$(wc -c < "$rw/store.msk")
muse-cat "$rw/store.msk" > "$rw/store.tsv"
same_exact=$(python3 "$dd/compare.py" --collisions "$rw/exact.tsv" "$rw/store.tsv" 2>> "$rw/compare.err") || same_exact="$same_exact (see $rw/compare.err)"
same_approx=$(python3 "$dd/compare.py" --approx "$rw/approx.tsv" "$rw/store.tsv" 2>> "$rw/compare.err") || same_approx="$same_approx (see $rw/compare.err)"

# ------------------------------------------------------------- re-query
title=$(muse-query "$rw/store.msk" --by title --metrics impressions --sort impressions --top 1 | awk -F'\t' 'NR == 2 { print $1 }')
assets=$(muse-query "$rw/store.msk" --title "$title" --by asset --metrics impressions | awk -F'\t' 'NR > 1 && NR <= 4 { print $1 }' | paste -sd,)
segs=$(muse-query "$rw/store.msk" --by segment --metrics reach --sort reach --top 3 | awk -F'\t' 'NR > 2 { print $1 }' | paste -sd,)
Q=(--list "assets=$assets" --list "segments=$segs")
# cold NAME N CMD...: N runs; sets <NAME>_w, _r (medians) and <NAME>_ans
cold() {
	local name=$1 n=$2 ws=() rs=()
	shift 2
	for i in $(seq "$n"); do
		timed "$name" "$@"
		ws+=("$W"); rs+=("$R")
	done
	printf -v "${name}_w" %s "$(median "${ws[@]}")"
	printf -v "${name}_r" %s "$(median "${rs[@]}")"
	printf -v "${name}_ans" %s "$(tail -n +2 "$rw/$name.out" | head -1)"
}
log "re-query: reach of $assets x $segs"
cold mq "$QRUNS" muse-query --rollup "$rw/month.msk" "$rw/store.msk" --asset "$assets" --segment "$segs" --metrics reach
cold mqs "$QRUNS" muse-query "$rw/store.msk" --asset "$assets" --segment "$segs" --metrics reach
[ "$mq_ans" = "$mqs_ans" ] || { echo "race.sh: the roll-up answers $mq_ans, the store alone $mqs_ans" >&2; exit 1; }
cold startup "$QRUNS" "${DUCK[@]}" "$dd/startup.sql"
cold qcsv "$RUNS" "${DUCK[@]}" "${P[@]}" "${Q[@]}" "$dd/common.sql" "$dd/query.sql"
qcsv_s=$(sql_time qcsv)
log "building the persisted DuckDB database"
rm -f "$rw/imp_seg.duckdb" "$rw/imp_seg.duckdb.wal"
timed loaddb "${DUCK[@]}" --db "$rw/imp_seg.duckdb" "${P[@]}" "$dd/common.sql" "$dd/load_db.sql"
loaddb_w=$W loaddb_r=$R
db_bytes=$(wc -c < "$rw/imp_seg.duckdb")
db_rows=$("${DUCK[@]}" --db "$rw/imp_seg.duckdb" <(echo "SELECT count(*) FROM imp_seg;") 2> /dev/null | tail -1)
cold qdb "$QRUNS" "${DUCK[@]}" --db "$rw/imp_seg.duckdb" "${Q[@]}" "$dd/query_db.sql"
qdb_s=$(sql_time qdb)
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------- report
f3() { printf '%.3f' "$1"; }
f2() { printf '%.2f' "$1"; }
mb() { printf '%.0f' "$(echo "$1 / 1024" | bc -l)"; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
verdict() { # verdict RATIO TARGET
	if [ "$(echo "$1 >= $2" | bc -l)" = 1 ]; then echo "met"; else echo "not met"; fi
}
tk_w=$(median "${tot_w[@]}") tk_r=$(median "${tot_r[@]}") tk_c=$(median "${tot_c[@]}")
r_exact=$(ratio "$exact_w" "$tk_w")
r_approx=$(ratio "$approx_w" "$tk_w")
r_qcsv=$(ratio "$qcsv_w" "$mq_w")
r_qdb=$(ratio "$qdb_w" "$mq_w")
node_api=$(node -p "require('$dd/node_modules/@duckdb/node-api/package.json').version")
rev=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
[ -z "$(git status --porcelain -- lib cmd 2> /dev/null)" ] || rev="$rev + uncommitted changes in lib/ or cmd/"
cat <<EOF

## Race against DuckDB (issue 3)

Written by \`tests/bench/race.sh\` (from \`make bench\`) on $(date -u +%F).

- Data: \`muse-gen --users $USERS --days $DAYS\`: $(printf '%.1f' "$(echo "$csv_bytes / 1000000" | bc -l)") MB of CSV (impressions, plays, affinities), $rows rows; $keys keys at the default grain (title, asset, date, segment)
- DuckDB $duck_version through @duckdb/node-api $node_api on Node $(node --version), \`threads = 2\`, in memory; the toolkit at $rev, $(muse-sketch --version | head -1)
- Medians of $RUNS runs (cold re-queries: $QRUNS runs, DuckDB from the CSV: $RUNS); wall clock, files in the page cache; peak RSS from \`/usr/bin/time\`; CPU = user + system
- Load average (1, 5, 15 min) before: $load0; after: $load1 (other work on the machine inflates wall times; CPU times are steadier)
- Same race: \`tests/bench/duckdb/verify.sh\` checks the SQL against the toolkit key for key on small data ($(tail -1 "$rw/verify.txt" 2> /dev/null || echo "not run")); here, DuckDB's exact table against the store: $same_exact; full_exact_cd.sql vs full.sql: $same_cd; DuckDB's approximate table against the store: $same_approx

### CSV to the full metric table

| | wall (s) | CPU (s) | peak RSS (MB) | note |
|---|---|---|---|---|
| DuckDB: parse the 3 CSV files only | $(f3 "$parse_w") | $(f2 "$parse_c") | $(mb "$parse_r") | reference: SQL $(f3 "$parse_s") s |
| **DuckDB: full table, exact** (full.sql) | **$(f3 "$exact_w")** | $(f2 "$exact_c") | $(mb "$exact_r") | SQL $(f3 "$exact_s") s, the rest is Node and opening |
| DuckDB: full table, exact, plain COUNT(DISTINCT) (full_exact_cd.sql) | $(f3 "$exactcd_w") | $(f2 "$exactcd_c") | $(mb "$exactcd_r") | SQL $(f3 "$exactcd_s") s |
| DuckDB: full table, approx_count_distinct (full_approx.sql) | $(f3 "$approx_w") | $(f2 "$approx_c") | $(mb "$approx_r") | SQL $(f3 "$approx_s") s |
| toolkit: muse-ingest -O, 3 tables, 2 processes | $(f3 "$(median "${ing_w[@]}")") | $(f2 "$(median "${ing_c[@]}")") | $(mb "$(median "${ing_r[@]}")") | $ev_bytes bytes of event streams in the table directory |
| toolkit: muse-sketch, 2 buckets in parallel | $(f3 "$(median "${sk_w[@]}")") | $(f2 "$(median "${sk_c[@]}")") | $(mb "$(median "${sk_r[@]}")") | |
| toolkit: muse-merge of the 2 buckets | $(f3 "$(median "${mg_w[@]}")") | $(f2 "$(median "${mg_c[@]}")") | $(mb "$(median "${mg_r[@]}")") | store $store_bytes bytes |
| toolkit: its month roll-up (muse-merge --rollup month) | $(f3 "$(median "${ru_w[@]}")") | $(f2 "$(median "${ru_c[@]}")") | $(mb "$(median "${ru_r[@]}")") | $(wc -c < "$rw/month.msk") bytes, bound to the store |
| **toolkit: end to end** | **$(f3 "$tk_w")** | $(f2 "$tk_c") | $(mb "$tk_r") | peak: the largest stage |

### Re-query: combined distinct reach of 3 assets across 2 segments, whole period

Assets $assets; segments $segs.

| | wall (s) | peak RSS (MB) | answer | note |
|---|---|---|---|---|
| **toolkit: cold muse-query on the store, with its month roll-up** | **$(printf '%.4f' "$mq_w")** | $(mb "$mq_r") | $mq_ans | HyperLogLog estimate; \`--rollup month.msk\` |
| toolkit: cold muse-query on the store alone | $(printf '%.4f' "$mqs_w") | $(mb "$mqs_r") | $mqs_ans | the same answer from the days |
| DuckDB: cold process, from the CSV files (query.sql) | $(f3 "$qcsv_w") | $(mb "$qcsv_r") | $qcsv_ans | exact; SQL $(f3 "$qcsv_s") s |
| DuckDB: cold process, from its persisted database (query_db.sql) | $(printf '%.4f' "$qdb_w") | $(mb "$qdb_r") | $qdb_ans | exact; SQL $(printf '%.4f' "$qdb_s") s |
| DuckDB: cold process doing nothing (startup.sql) | $(printf '%.4f' "$startup_w") | $(mb "$startup_r") | | Node + loading DuckDB: part of both rows above |

The persisted database (load_db.sql: every impression once per segment of its user, sorted by asset and segment; $db_rows rows, $db_bytes bytes) took $(f3 "$loaddb_w") s and $(mb "$loaddb_r") MB to build, once.

### Ratios (DuckDB time / toolkit time) against the targets of issue 3

| race | DuckDB (s) | toolkit (s) | ratio | target | |
|---|---|---|---|---|---|
| CSV to full store vs DuckDB exact, both on 2 cores | $(f3 "$exact_w") | $(f3 "$tk_w") | $r_exact | 5 | $(verdict "$r_exact" 5) |
| CSV to full store vs DuckDB approx_count_distinct | $(f3 "$approx_w") | $(f3 "$tk_w") | $r_approx | 5 | $(verdict "$r_approx" 5) |
| peak memory, toolkit vs DuckDB exact (MB) | $(mb "$exact_r") | $(mb "$tk_r") | $(ratio "$exact_r" "$tk_r") | 1 (no higher) | $(verdict "$(ratio "$exact_r" "$tk_r")" 1) |
| re-query, cold, vs DuckDB from the CSV | $(f3 "$qcsv_w") | $(printf '%.4f' "$mq_w") | $(printf '%.1f' "$r_qcsv") | 200 | $(verdict "$r_qcsv" 200) |
| re-query, cold, vs DuckDB from its sorted database | $(printf '%.4f' "$qdb_w") | $(printf '%.4f' "$mq_w") | $(printf '%.1f' "$r_qdb") | 80 | $(verdict "$r_qdb" 80) |
EOF
