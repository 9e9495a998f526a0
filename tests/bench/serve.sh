#!/bin/bash
# serve.sh: the serving benchmark of issue 4, printed on standard output as
# the "Serving from an indexed store" section of tests/bench/RESULTS.md
# (tests/bench/run.sh puts it between <!-- serve --> and <!-- /serve -->).
#
#   The store: muse-gen --events --users SERVE_USERS --titles SERVE_TITLES
#   --days SERVE_DAYS (defaults 50000, 300 and 92: the quarter 2025-Q3),
#   sketched at the default grain (title, asset, date, segment): about 1.2
#   million keys, made once and cached in tests/bench/work/serve-*/.
#   Cold-process latency (tests/bench/coldrun: a posix_spawn and a waitpid
#   around each run, SERVE_RUNS runs each, default 100; median and p99) of
#     (a) one asset, one segment, one day
#     (b) the union of 3 assets x 2 segments over the quarter
#     (c) one title grouped by segment over the quarter
#   for the title with the most impressions (the worst case: its sketches
#   are dense and fill the most blocks) and for the median title.
#   --serve throughput: SERVE_QUERIES (default 20000) mixed queries, drawn
#   with a fixed seed (6 in 10 like (a), 3 like (b) with random assets and
#   segments, 1 like (c) for a random title), piped into one process;
#   every answer is counted and none may be an error.
#   Delta apply: new versions made by merging small muse-gen runs (another
#   seed) into the store, so that about 0.1%, 1% and 10% of the keys change;
#   muse-delta diff, then apply to a new file and apply --in-place (which
#   fsyncs and renames), medians of SERVE_DRUNS runs (default 3).
# Every answer the benchmark times is also checked against the same query
# answered without the index (the store read as a stream through cat).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
PATH=$root/cmd:$PATH
USERS=${SERVE_USERS:-50000}
TITLES=${SERVE_TITLES:-300}
DAYS=${SERVE_DAYS:-92}
START=${SERVE_START:-2025-07-01}
RUNS=${SERVE_RUNS:-100}
NQ=${SERVE_QUERIES:-20000}
DRUNS=${SERVE_DRUNS:-3}
work=$root/tests/bench/work/serve-$USERS-$TITLES-$DAYS
store=$work/store.msk
mkdir -p "$work"
log() { echo "serve: $*" >&2; }

make --no-print-directory tests/bench/coldrun >&2
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- the store
if [ ! -f "$store" ]; then
	log "generating $USERS users x $TITLES titles x $DAYS days"
	rm -rf "$work/ev"
	t0=$(now)
	muse-gen -q --events -O "$work/ev" --users "$USERS" --titles "$TITLES" \
		--days "$DAYS" --start "$START"
	t1=$(now)
	muse-sketch -q -o "$store.tmp" "$work/ev/impressions.mev" "$work/ev/plays.mev" \
		"$work/ev/affinities.mev"
	t2=$(now)
	rm -rf "$work/ev"
	mv "$store.tmp" "$store"
	printf '%.1f %.1f\n' "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t2 - $t1" | bc -l)" > "$work/made"
fi
read -r gen_s sketch_s < "$work/made"
# The roll-ups a producer publishes beside the store (muse-merge --rollup):
# queries over whole months or weeks read them instead of the days.
if [ ! -f "$work/quarter.msk" ] || [ "$work/month.msk" -ot "$store" ] ||
    ! muse-cat "$work/month.msk" 2> /dev/null | head -1 | grep -q rollup-of; then
	log "roll-ups"
	t0=$(now)
	muse-merge -q --rollup month -o "$work/month.msk" "$store"
	t1=$(now)
	muse-merge -q --rollup week -o "$work/week.msk" "$store"
	t2=$(now)
	muse-merge -q --rollup quarter -o "$work/quarter.msk" "$store"
	t3=$(now)
	printf '%.1f %.1f %.1f\n' "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t2 - $t1" | bc -l)" \
		"$(echo "$t3 - $t2" | bc -l)" > "$work/rollups"
fi
read -r month_s week_s quarter_s < "$work/rollups"
R=(--rollup "$work/quarter.msk" --rollup "$work/month.msk" --rollup "$work/week.msk")
keys=$(muse-delta info "$store" | sed -n 's/.*, \([0-9]*\) records).*/\1/p')
store_bytes=$(wc -c < "$store")
nblocks=$(muse-query "$store" -t '-' -m impressions --stats 2>&1 >/dev/null | sed -n 's/.*read [0-9]* of \([0-9]*\) indexed.*/\1/p')
last=$(date -u -d "$START + $((DAYS - 1)) day" +%F)
mid=$(date -u -d "$START + $((DAYS / 2)) day" +%F)
period="$START..$last"

# ------------------------------------------------------------- the queries
q() { muse-query "$store" "$@"; }
q --by title --metrics impressions --sort impressions > "$work/titles.tsv"
q --by asset --metrics impressions > "$work/assets.tsv"
q --by segment --metrics reach --sort reach > "$work/segments.tsv"
# titles with at least 3 assets, by impressions (most first)
awk -F'\t' 'NR > 1 { n[substr($1, 1, index($1, "-") - 1)]++ } END { for (t in n) if (n[t] >= 3) print t }' \
	"$work/assets.tsv" | sort > "$work/t3"
awk -F'\t' 'NR == FNR { ok[$1] = 1; next } FNR > 1 && ok[$1] { print $1 }' "$work/t3" "$work/titles.tsv" > "$work/t3.ranked"
top=$(head -1 "$work/t3.ranked")
med=$(sed -n "$(( ($(wc -l < "$work/t3.ranked") + 1) / 2 ))p" "$work/t3.ranked")
# the two largest taste clusters (not "*", no comma in the name: LIST splits on commas)
segs=$(awk -F'\t' 'NR > 1 && $1 != "*" && $1 !~ /,/ { print $1 }' "$work/segments.tsv" | head -2 | paste -sd,)
seg1=${segs%%,*}
assets_of() { awk -F'\t' -v t="$1-" 'NR > 1 && index($1, t) == 1 { print $1 }' "$work/assets.tsv" | head -3 | paste -sd,; }
rank_of() { grep -n -x "$1" <(awk -F'\t' 'NR > 1 { print $1 }' "$work/titles.tsv") | cut -d: -f1; }
impr_of() { awk -F'\t' -v t="$1" '$1 == t { print $2 }' "$work/titles.tsv"; }

# qwords KEY: the options of query KEY (top-a ... med-c) in W
qwords() {
	local t as
	case $1 in top-*) t=$top ;; *) t=$med ;; esac
	as=$(assets_of "$t")
	case $1 in
	*-a) W=(--asset "${as%%,*}" --segment "$seg1" --date "$mid") ;;
	*-b) W=(--asset "$as" --segment "$segs" --date "$period" --metrics reach,qreach,take_rate) ;;
	*-c) W=(--title "$t" --by segment --date "$period") ;;
	esac
}
KEYS=(top-a top-b top-c med-a med-b med-c)

# Every timed query answers the same from the index as from the store read
# whole as a stream (no index, no pruning).
for k in "${KEYS[@]}"; do
	qwords "$k"
	muse-query "${R[@]}" "$store" "${W[@]}" > "$work/$k.idx" 2> /dev/null
	cat "$store" | muse-query - "${W[@]}" > "$work/$k.scan" 2> /dev/null
	cmp -s "$work/$k.idx" "$work/$k.scan" || { echo "serve.sh: query $k: the index answers differently from a scan" >&2; exit 1; }
done

# ---------------------------------------------------------- cold latency
declare -A MED P99 CPU BLK
for k in "${KEYS[@]}"; do
	qwords "$k"
	log "cold: $k (${RUNS} runs)"
	tests/bench/coldrun "$RUNS" muse-query "${R[@]}" "$store" "${W[@]}" > "$work/$k.times"
	MED[$k]=$(cut -d' ' -f1 "$work/$k.times" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", 1000 * v[int((NR + 1) / 2)] }')
	P99[$k]=$(cut -d' ' -f1 "$work/$k.times" | sort -g | awk '{ v[NR] = $1 } END { i = int(NR * 0.99 + 0.999999); printf "%.2f", 1000 * v[i] }')
	CPU[$k]=$(cut -d' ' -f2 "$work/$k.times" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", 1000 * v[int((NR + 1) / 2)] }')
	muse-query "${R[@]}" "$store" "${W[@]}" --stats 2>&1 > /dev/null | tr '\n' ' ' > "$work/$k.stats"
	BLK[$k]="$(sed -n 's/.*read \([0-9]*\) of .*/\1/p' "$work/$k.stats") + $(sed -n 's/.*, \([0-9]*\) of their blocks.*/\1/p' "$work/$k.stats")"
done
cold_true=$(tests/bench/coldrun "$RUNS" /bin/true | cut -d' ' -f1 | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", 1000 * v[int((NR + 1) / 2)] }')
cold_version=$(tests/bench/coldrun "$RUNS" muse-query --version | cut -d' ' -f1 | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", 1000 * v[int((NR + 1) / 2)] }')

# ------------------------------------------------------ --serve throughput
log "serve: $NQ mixed queries"
awk -F'\t' 'NR > 1 { print $1 }' "$work/assets.tsv" > "$work/all-assets"
awk -F'\t' 'NR > 1 { print $1 }' "$work/titles.tsv" > "$work/all-titles"
awk -F'\t' 'NR > 1 && $1 != "*" && $1 !~ /,/ { print $1 }' "$work/segments.tsv" > "$work/all-segs"
awk -v n="$NQ" -v start="$START" -v days="$DAYS" -v period="$period" '
	FILENAME ~ /all-assets$/ { a[na++] = $0; next }
	FILENAME ~ /all-titles$/ { t[nt++] = $0; next }
	{ s[ns++] = $0 }
	function pick(arr, m) { return arr[int(rand() * m)] }
	END {
		srand(4)
		split(start, ymd, "-")
		t0 = mktime(ymd[1] " " ymd[2] " " ymd[3] " 12 00 00")
		for (i = 0; i < n; i++) {
			r = i % 10
			if (r < 6) {
				d = strftime("%Y-%m-%d", t0 + 86400 * int(rand() * days))
				printf "--asset %s --segment '\''%s'\'' --date %s\n", pick(a, na), pick(s, ns), d
			} else if (r < 9) {
				printf "--asset %s,%s,%s --segment '\''%s,%s'\'' --date %s -m reach,qreach,take_rate\n", pick(a, na), pick(a, na), pick(a, na), pick(s, ns), pick(s, ns), period
			} else {
				printf "--title %s --by segment --date %s\n", pick(t, nt), period
			}
		}
	}' "$work/all-assets" "$work/all-titles" "$work/all-segs" > "$work/stream.txt"
s=$(now)
/usr/bin/time -o "$work/serve.time" -f '%U %S' muse-query --serve "${R[@]}" "$store" < "$work/stream.txt" > "$work/answers.jsonl"
e=$(now)
serve_s=$(echo "$e - $s" | bc -l)
read -r su ss < "$work/serve.time"
serve_cpu=$(echo "$su + $ss" | bc -l)
answered=$(grep -c '"rows"' "$work/answers.jsonl" || true)
errors=$(grep -c '"error"' "$work/answers.jsonl" || true)
[ "$answered" = "$NQ" ] && [ "$errors" = 0 ] || { echo "serve.sh: $answered answers and $errors errors for $NQ queries" >&2; exit 1; }
qps=$(echo "$NQ / $serve_s" | bc -l)
# a sample of the stream answered one-shot gives the same rows
for i in 1 7 10; do
	line=$(sed -n "${i}p" "$work/stream.txt")
	eval "set -- $line"
	muse-query "$store" -o json "$@" > "$work/one.json" 2> /dev/null
	python3 - "$work/one.json" "$work/answers.jsonl" "$i" <<'EOF' || { echo "serve.sh: --serve answer $i differs from the one-shot answer" >&2; exit 1; }
import json, sys
one = json.load(open(sys.argv[1]))
line = open(sys.argv[2]).read().split("\n")[int(sys.argv[3]) - 1]
assert json.loads(line)["rows"] == one, (line, one)
EOF
done

# -------------------------------------------------------------- delta apply
# patch NAME USERS DAYS: a small muse-gen run of another seed merged into
# the store makes the next version; its delta changes the keys it touches.
drows=()
patch() {
	local name=$1 u=$2 d=$3 pd=$work/patch-$1
	log "delta $name: $u users x $d days merged in"
	if [ ! -f "$pd/new.msk" ]; then
		rm -rf "$pd" && mkdir -p "$pd"
		muse-gen -q --events -O "$pd/ev" --seed 7 --users "$u" --titles "$TITLES" --days "$d" \
			--start "$(date -u -d "$START + 30 day" +%F)"
		muse-sketch -q -o "$pd/patch.msk" "$pd/ev/impressions.mev" "$pd/ev/plays.mev" "$pd/ev/affinities.mev"
		muse-merge -q -o "$pd/merged.msk" "$store" "$pd/patch.msk"
		muse-delta stamp -o "$pd/new.msk" "$pd/merged.msk" 1
		muse-delta diff -o "$pd/d.mdelta" "$store" "$pd/new.msk"
		rm -rf "$pd/ev" "$pd/merged.msk"
	fi
	local info up del bytes ws=() wi=() i
	info=$(muse-delta info "$pd/d.mdelta")
	up=$(echo "$info" | sed -n 's/.*: \([0-9]*\) upserts, \([0-9]*\) deletes.*/\1/p')
	del=$(echo "$info" | sed -n 's/.*: \([0-9]*\) upserts, \([0-9]*\) deletes.*/\2/p')
	bytes=$(wc -c < "$pd/d.mdelta")
	for i in $(seq "$DRUNS"); do
		rm -f "$pd/out.msk"
		s=$(now); muse-delta apply -o "$pd/out.msk" "$store" "$pd/d.mdelta"; e=$(now)
		ws+=("$(echo "$e - $s" | bc -l)")
		cp "$store" "$pd/live.msk"
		s=$(now); muse-delta apply --in-place "$pd/live.msk" "$pd/d.mdelta"; e=$(now)
		wi+=("$(echo "$e - $s" | bc -l)")
	done
	cmp -s "$pd/out.msk" "$pd/new.msk" && cmp -s "$pd/live.msk" "$pd/new.msk" ||
		{ echo "serve.sh: delta $name: the applied store differs from the new version" >&2; exit 1; }
	rm -f "$pd/out.msk" "$pd/live.msk"
	drows+=("$(printf '| %s | %d | %.3f%% | %d | %.3f | %.3f |' "$name" "$((up + del))" \
		"$(echo "100 * ($up + $del) / $keys" | bc -l)" "$bytes" "$(median "${ws[@]}")" "$(median "${wi[@]}")")")
}
patch small 200 1
patch medium 2500 2
patch large 2500 25
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report
verdict() { [ "$(echo "$1 < $2" | bc -l)" = 1 ] && echo met || echo "**not met**"; }
rev=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
[ -z "$(git status --porcelain -- lib cmd 2> /dev/null)" ] || rev="$rev + uncommitted changes in lib/ or cmd/"
row() { # row KEY LABEL GOAL
	local k=$1 w shown=()
	qwords "$k"
	for w in "${W[@]}"; do [[ $w == *' '* ]] && shown+=("'$w'") || shown+=("$w"); done
	printf '| %s | `%s` | %s | %s | %s | %s | %s |\n' "$2" "${shown[*]}" "${BLK[$k]}" "${MED[$k]}" "${P99[$k]}" "${CPU[$k]}" \
		"$( [ -n "$3" ] && echo "under $3 ms: $(verdict "${MED[$k]}" "$3")")"
}
cat <<EOF

## Serving from an indexed store (issue 4)

Written by \`tests/bench/serve.sh\` (from \`make bench\`) on $(date -u +%F), the toolkit at $rev.

- Store: \`muse-gen --events --users $USERS --titles $TITLES --days $DAYS --start $START\` ($gen_s s), \`muse-sketch\` at the default grain ($sketch_s s): **$keys keys**, $store_bytes bytes in $nblocks blocks. Its roll-ups, made from it and bound to it (\`muse-merge --rollup quarter\`, $quarter_s s, $(wc -c < "$work/quarter.msk") bytes; \`month\`, $month_s s, $(wc -c < "$work/month.msk") bytes; \`week\`, $week_s s, $(wc -c < "$work/week.msk") bytes), are given to every query (\`muse-query --rollup quarter.msk --rollup month.msk --rollup week.msk\`): the quarter's queries read the quarter roll-up, the one-day query reads the store.
- Titles: the one with the most impressions, $top ($(impr_of "$top") impressions, rank 1; its sketches are dense, so its keys fill the most blocks), and the median title with 3 assets or more, $med ($(impr_of "$med") impressions, rank $(rank_of "$med") of $(wc -l < "$work/all-titles")). Segments: the two largest clusters, $segs. Day: $mid; quarter: $period.
- Cold process: \`tests/bench/coldrun $RUNS\` (posix_spawn + wait4, stdout to /dev/null; wall clock, and the child's CPU time, user + system), store in the page cache. For scale, a cold \`/bin/true\` takes $cold_true ms and \`muse-query --version\` $cold_version ms (median).
- Load average (1, 5, 15 min) before: $load0; after: $load1 ($(nproc) cores; the machine was shared with other work during the run when these exceed about 1).
- Every timed answer equals the answer of the same query over the store read whole as a stream (no index, no pruning); --serve answers of the stream sampled against one-shot answers.

### Cold-process latency of muse-query

| query | options | blocks read (store + roll-up) | median (ms) | p99 (ms) | CPU, median (ms) | goal (median) |
|---|---|---|---|---|---|---|
$(row top-a "(a) one asset, one segment, one day; top title" 5)
$(row top-b "(b) 3 assets x 2 segments, quarter; top title" 5)
$(row top-c "(c) one title by segment, quarter; top title" 20)
$(row med-a "(a) median title" 5)
$(row med-b "(b) median title" 5)
$(row med-c "(c) median title" 20)

### --serve throughput

$NQ queries in one stream (6 in 10 like (a) on a random asset, segment and day; 3 like (b) on 3 random assets and 2 random segments over the quarter; 1 like (c) on a random title), piped into one \`muse-query --serve\` process from its start: $answered answers, $errors errors, $(printf '%.2f' "$serve_s") s wall clock: **$(printf '%.0f' "$qps") queries/s** (goal over 2000: $( [ "$(echo "$qps > 2000" | bc -l)" = 1 ] && echo met || echo "**not met**")); $(printf '%.2f' "$serve_cpu") s of CPU (user + system), $(printf '%.0f' "$(echo "$NQ / $serve_cpu" | bc -l)") queries per CPU second.

### Delta apply against delta size

New versions made by merging a small \`muse-gen --seed 7\` run into the store; \`muse-delta diff\`, then \`muse-delta apply -o\` (a new file) and \`apply --in-place\` (a copy of the store replaced: temporary file, fsync, rename). Medians of $DRUNS runs; both check the origin and the result's checksum, and the result equals the new version byte for byte.

| delta | keys changed | of the store | delta bytes | apply -o (s) | apply --in-place (s) |
|---|---|---|---|---|---|
$(printf '%s\n' "${drows[@]}")
EOF
