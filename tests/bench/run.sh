#!/bin/bash
# make bench: measures the pipeline's stages on muse-gen data and writes
# tests/bench/RESULTS.md.  Medians of RUNS runs (default 3); timings are
# wall-clock from page cache, so `cat` of the same files is reported as the
# physical reference for the ingest rate.
#   BENCH_USERS (default 50000) and BENCH_DAYS (default 7) size the data.
# Then tests/bench/race.sh races the toolkit against DuckDB on its own,
# larger data set (issue 3) and its section follows (RACE=0 skips it), then
# tests/bench/serve.sh measures serving from an indexed store of a million
# keys (issue 4: cold queries, --serve, delta apply; SERVE=0 skips it).
# Then tests/bench/scaling.sh: events per CPU second from 10^6 to 10^8
# events, and muse-merge's memory against its inputs (SCALING=0 skips it).
# SCALE=1 adds tests/bench/scale.sh, the scale run of issue 5 (10^9 events
# by default: about 20 minutes and 30 GB on this machine; off by default).
# Sections other scripts keep in RESULTS.md between markers <!-- NAME -->
# and <!-- /NAME --> (tests/bench/kernels.sh) are carried over as they are.
set -euo pipefail
cd "$(dirname "$0")/../.."
PATH=$PWD/cmd:$PATH
RUNS=${RUNS:-3}
USERS=${BENCH_USERS:-50000}
DAYS=${BENCH_DAYS:-7}
work=tests/bench/work
out=tests/bench/RESULTS.md
mkdir -p "$work"

now() { date +%s.%N; }
# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# time_cmd CMD...: runs CMD RUNS times, prints the median seconds
time_cmd() {
	local _times=() s e
	for _ in $(seq "$RUNS"); do
		s=$(now)
		"$@" > /dev/null
		e=$(now)
		_times+=("$(echo "$e - $s" | bc -l)")
	done
	median "${_times[@]}"
}

data=$work/data-$USERS-$DAYS
if [ ! -f "$data/plays.csv" ]; then
	echo "generating $USERS users x $DAYS days..." >&2
	muse-gen -q -O "$data" --users "$USERS" --days "$DAYS"
fi
csv_bytes=$(cat "$data"/impressions.csv "$data"/plays.csv "$data"/affinities.csv | wc -c)
rows=$(cat "$data"/impressions.csv "$data"/plays.csv "$data"/affinities.csv | wc -l)
mb=$(echo "$csv_bytes / 1000000" | bc -l)

echo "cat..." >&2
t_cat=$(time_cmd cat "$data"/impressions.csv "$data"/plays.csv "$data"/affinities.csv)
echo "ingest..." >&2
ingest_all() {
	for t in impressions plays affinities; do
		muse-ingest "$data/$t.csv" > "$work/$t.mev"
	done
}
t_ingest=$(time_cmd ingest_all)
ingest_all
ev_bytes=$(cat "$work"/*.mev | wc -c)
echo "sketch..." >&2
t_sketch=$(time_cmd muse-sketch -o "$work/store.msk" "$work/impressions.mev" "$work/plays.mev" "$work/affinities.mev")
store_bytes=$(wc -c < "$work/store.msk")
keys=$(muse-cat "$work/store.msk" | tail -n +3 | wc -l)
echo "per-day batches + merge..." >&2
first=$(head -2 "$data/impressions.csv" | tail -1 | cut -c1-10)
days=()
for i in $(seq 0 $((DAYS - 1))); do
	d=$(date -u -d "$first + $i day" +%F)
	muse-sketch --date "$d" -o "$work/day-$d.msk" "$work"/*.mev
	days+=("$work/day-$d.msk")
done
day_bytes=$(cat "${days[@]}" | wc -c)
t_merge=$(time_cmd muse-merge -o "$work/merged.msk" "${days[@]}")
cmp "$work/merged.msk" "$work/store.msk" || { echo "merged daily batches differ from the whole run" >&2; exit 1; }
echo "query..." >&2
title=$(muse-query "$work/store.msk" --by title --metrics impressions --sort impressions --top 1 | awk -F'\t' 'NR == 2 { print $1 }')
assets=$(muse-query "$work/store.msk" --title "$title" --by asset --metrics impressions | awk -F'\t' 'NR > 1 && NR <= 4 { print $1 }' | paste -sd,)
segs=$(muse-query "$work/store.msk" --by segment --metrics reach --sort reach --top 3 | awk -F'\t' 'NR > 2 { print $1 }' | paste -sd,)
q=(muse-query "$work/store.msk" --asset "$assets" --segment "$segs" --metrics reach)
RUNS_SAVED=$RUNS; RUNS=11
t_query=$(time_cmd "${q[@]}")
RUNS=$RUNS_SAVED

race=$work/race.md
if [ "${RACE:-1}" != 0 ]; then
	echo "race against DuckDB..." >&2
	{ echo "<!-- race -->"; tests/bench/race.sh; echo "<!-- /race -->"; } > "$race.tmp"
	mv "$race.tmp" "$race"
fi
serve=$work/serve.md
if [ "${SERVE:-1}" != 0 ]; then
	echo "serving benchmark..." >&2
	{ echo "<!-- serve -->"; tests/bench/serve.sh; echo "<!-- /serve -->"; } > "$serve.tmp"
	mv "$serve.tmp" "$serve"
fi
scaling=$work/scaling.md
if [ "${SCALING:-1}" != 0 ]; then
	echo "scaling, 10^6 to 10^8 events..." >&2
	{ echo "<!-- scaling -->"; tests/bench/scaling.sh; echo "<!-- /scaling -->"; } > "$scaling.tmp"
	mv "$scaling.tmp" "$scaling"
fi
scale=$work/scale.md
if [ "${SCALE:-0}" = 1 ]; then
	echo "scale run..." >&2
	{ echo "<!-- scale -->"; tests/bench/scale.sh; echo "<!-- /scale -->"; } > "$scale.tmp"
	mv "$scale.tmp" "$scale"
fi
# the marked sections of the previous RESULTS.md, the race's, the
# serving benchmark's and the scale run's excepted
kept=$work/kept.md
if [ -f "$out" ]; then
	awk '/^<!-- [a-z0-9_-]+ -->$/ && $0 != "<!-- race -->" && $0 != "<!-- serve -->" && $0 != "<!-- scale -->" && $0 != "<!-- scaling -->" { on = 1 }
	     on { print }
	     /^<!-- \/[a-z0-9_-]+ -->$/ { on = 0 }' "$out" > "$kept"
else
	: > "$kept"
fi
[ "${RACE:-1}" != 0 ] || awk '/^<!-- race -->$/ { on = 1 } on { print } /^<!-- \/race -->$/ { on = 0 }' "$out" 2> /dev/null > "$race" || : > "$race"
[ "${SERVE:-1}" != 0 ] || awk '/^<!-- serve -->$/ { on = 1 } on { print } /^<!-- \/serve -->$/ { on = 0 }' "$out" 2> /dev/null > "$serve" || : > "$serve"
[ "${SCALING:-1}" != 0 ] || awk '/^<!-- scaling -->$/ { on = 1 } on { print } /^<!-- \/scaling -->$/ { on = 0 }' "$out" 2> /dev/null > "$scaling" || : > "$scaling"
[ "${SCALE:-0}" = 1 ] || awk '/^<!-- scale -->$/ { on = 1 } on { print } /^<!-- \/scale -->$/ { on = 0 }' "$out" 2> /dev/null > "$scale" || : > "$scale"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
	echo "# Benchmark results"
	echo
	echo "Written by \`make bench\` (tests/bench/run.sh) on $(date -u +%F)."
	echo
	echo "- Machine: $cpu, $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB RAM, $(uname -sr)"
	echo "- Compiler: $(cc --version | head -1); zstd $(pkg-config --modversion libzstd), xxhash $(pkg-config --modversion libxxhash)"
	echo "- Data: muse-gen --users $USERS --days $DAYS: $(printf '%.1f' "$mb") MB of CSV, $rows rows; $keys keys in the store"
	echo "- Medians of $RUNS runs (query: 11 runs), wall clock, files in page cache, one process a stage (and its compressing thread: more than one CPU is online)"
	echo
	echo "| stage | time (s) | rate | note |"
	echo "|---|---|---|---|"
	printf '| cat of the CSV (physical reference) | %.3f | %.0f MB/s | |\n' "$t_cat" "$(echo "$mb / $t_cat" | bc -l)"
	printf '| muse-ingest, 3 tables | %.3f | %.0f MB/s of CSV | %.2fx the time of cat; %d bytes of event streams |\n' "$t_ingest" "$(echo "$mb / $t_ingest" | bc -l)" "$(echo "$t_ingest / $t_cat" | bc -l)" "$ev_bytes"
	printf '| muse-sketch, whole period | %.3f | %.2f M events/s | store %d bytes |\n' "$t_sketch" "$(echo "$rows / $t_sketch / 1000000" | bc -l)" "$store_bytes"
	printf '| muse-merge of %d daily stores | %.3f | %.1f MB/s of input | output byte-identical to the whole run |\n' "$DAYS" "$t_merge" "$(echo "$day_bytes / 1000000 / $t_merge" | bc -l)"
	printf '| muse-query, cold process: reach of 3 assets x 3 segments | %.4f | | %s |\n' "$t_query" "indexed store: only the blocks the filters can need"
	echo
	echo "Peers: the race against DuckDB (issue 3, tests/bench/race.sh) follows; then serving"
	echo "from an indexed store of a million keys (issue 4, tests/bench/serve.sh); then how the"
	echo "rates hold from 10^6 to 10^8 events (issue 3, tests/bench/scaling.sh); then the"
	echo "scale run of 10^9 events (issue 5, tests/bench/scale.sh, made with SCALE=1)."
	echo "Each section says when and at which commit it was measured."
	if [ -s "$race" ]; then echo; cat "$race"; fi
	if [ -s "$serve" ]; then echo; cat "$serve"; fi
	if [ -s "$scaling" ]; then echo; cat "$scaling"; fi
	if [ -s "$scale" ]; then echo; cat "$scale"; fi
	if [ -s "$kept" ]; then echo; cat "$kept"; fi
} > "$out.tmp"
mv "$out.tmp" "$out"
# The sketch kernels against DataSketches' figures (their own marked section).
[ "${KERNELS:-1}" = 0 ] || tests/bench/kernels.sh > /dev/null
cat "$out"
