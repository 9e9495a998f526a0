#!/bin/bash
# scale.sh: the scale run of issue 5, printed on standard output as the
# "Scale run" section of tests/bench/RESULTS.md (tests/bench/run.sh puts
# it between <!-- scale --> and <!-- /scale --> when SCALE=1).
#
#   SCALE_EVENTS (default 10^9) events made by muse-gen over SCALE_DAYS
#   days (default 140; the users follow: about 3.5 events a user-day),
#   written as CSV into muse-ingest -O, two pipelines at once (impressions;
#   plays and affinities), into a table directory of SCALE_BUCKETS user-hash
#   buckets (default 64); then every bucket sketched as its own muse-sketch
#   job, NPROC at a time with GNU parallel (the fan-out recipe of the
#   README, on one machine), and the bucket stores merged by muse-merge.
#   Then the tiers: the table as written, after muse-table compact of its
#   first SCALE_COMPACT_DAYS days (default 1) at the default zstd 19, and
#   after muse-table expire of the days the store covers.
# Every stage runs under /usr/bin/time (wall, user + system CPU, peak RSS);
# the work goes to tests/bench/work/scale-EVENTS/ (about 16 GB at 10^9) and
# is removed at the end unless SCALE_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
PATH=$root/cmd:$PATH
EVENTS=${SCALE_EVENTS:-1000000000}
DAYS=${SCALE_DAYS:-140}
BUCKETS=${SCALE_BUCKETS:-64}
CDAYS=${SCALE_COMPACT_DAYS:-1}
NPROC=${SCALE_JOBS:-$(nproc)}
START=2025-07-01
# muse-gen makes about 3.39 events a user-day over 140 days (impressions,
# plays, and affinity rows that come with the users, not the days):
# 967932263 events from 2038487 users x 140 days.  Aim 1% high, so that
# the table holds at least SCALE_EVENTS.
USERS=$(( (EVENTS * 1000 / (DAYS * 3356)) + 1 ))
work=$root/tests/bench/work/scale-$EVENTS
rm -rf "$work" && mkdir -p "$work/stores" "$work/t"
log() { echo "scale: $(date -u +%T) $*" >&2; }
now() { date +%s.%N; }
command -v parallel > /dev/null || { echo "scale.sh: GNU parallel is needed (apt-get install parallel)" >&2; exit 2; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# timed NAME CMD...: /usr/bin/time into $work/t/NAME (wall user sys maxrss-kB)
timed() {
	local name=$1
	shift
	/usr/bin/time -o "$work/t/$name" -f '%e %U %S %M' "$@"
}
field() { awk -v i="$2" '{ print $i }' "$work/t/$1"; }
cpu() { awk '{ printf "%.2f", $2 + $3 }' "$work/t/$1"; }

# ---------------------------------------------------------- generate + ingest
log "$USERS users x $DAYS days: generating into $BUCKETS buckets"
gen() { muse-gen -q -u "$USERS" -d "$DAYS" --start "$START" --table "$1"; }
t0=$(now)
( gen impressions | timed ingest-imp muse-ingest -q -O "$work/wh" --buckets "$BUCKETS" - ) &
a=$!
( { gen plays; } | timed ingest-plays muse-ingest -q -O "$work/wh" --buckets "$BUCKETS" - &&
  gen affinities | timed ingest-aff muse-ingest -q -O "$work/wh" --buckets "$BUCKETS" - ) &
b=$!
wait "$a" && wait "$b" || { echo "scale.sh: generating or ingesting failed" >&2; exit 2; }
t1=$(now)
ingest_wall=$(echo "$t1 - $t0" | bc -l)
ingest_cpu=$(echo "$(cpu ingest-imp) + $(cpu ingest-plays) + $(cpu ingest-aff)" | bc -l)
rows=$(muse-table ls "$work/wh" | awk -F'\t' 'NR > 1 { n += $4 } END { print n }')
files=$(muse-table ls "$work/wh" | tail -n +2 | wc -l)
fresh=$(du -sb "$work/wh/data" | cut -f1)
log "$rows events in $files files, $fresh bytes"

# ------------------------------------------------------------------ sketch
log "sketching $BUCKETS buckets, $NPROC jobs at a time"
t2=$(now)
seq 0 $((BUCKETS - 1)) | parallel -j "$NPROC" --halt now,fail=1 \
	/usr/bin/time -o "$work/t/sketch-{}" -f "'%e %U %S %M'" \
	muse-sketch -q --bucket {} -o "$work/stores/b{}.msk" "$work/wh"
t3=$(now)
sketch_wall=$(echo "$t3 - $t2" | bc -l)
sketch_cpu=$(cat "$work"/t/sketch-* | awk '{ s += $2 + $3 } END { printf "%.2f", s }')
sketch_rss=$(cat "$work"/t/sketch-* | awk '$4 > m { m = $4 } END { print m }')

# ------------------------------------------------------------------- merge
log "merging"
k=$(( BUCKETS < 8 ? BUCKETS : 8 ))
timed merge-k muse-merge -q -o "$work/merge-k.msk" $(seq -f "$work/stores/b%g.msk" 0 $((k - 1)))
timed merge muse-merge -q -o "$work/store.msk" "$work"/stores/b*.msk
store_bytes=$(wc -c < "$work/store.msk")
keys=$(muse-delta info "$work/store.msk" | sed -n 's/.*, \([0-9]*\) records).*/\1/p')
bucket_bytes=$(cat "$work"/stores/b*.msk | wc -c)
rm -f "$work/merge-k.msk"

# ------------------------------------------------------------------- tiers
cut=$(date -u -d "$START + $CDAYS day" +%F)
log "compacting the days before $cut"
part_before=$(muse-table ls "$work/wh" | awk -F'\t' -v c="$cut" 'NR > 1 && $2 < c { n += $5 } END { print n + 0 }')
timed compact muse-table compact --before "$cut" "$work/wh"
part_after=$(muse-table ls "$work/wh" | awk -F'\t' -v c="$cut" 'NR > 1 && $2 < c { n += $5 } END { print n + 0 }')
timed vacuum muse-table vacuum --keep 1 --grace 0 "$work/wh"
compacted=$(du -sb "$work/wh/data" | cut -f1)
log "expiring the days the store covers, before $cut"
timed expire muse-table expire --before "$cut" --covered-by "$work/store.msk" "$work/wh"
muse-table vacuum --keep 1 --grace 0 "$work/wh" 2> /dev/null
expired=$(du -sb "$work/wh/data" | cut -f1)
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report
gb() { printf '%.2f GB' "$(echo "$1 / 1000000000" | bc -l)"; }
mbk() { printf '%.0f MB' "$(echo "$1 / 1024" | bc -l)"; }
rate_core=$(echo "$rows / $sketch_cpu" | bc -l)
ingest_core=$(echo "$rows / $ingest_cpu" | bc -l)
merge_s=$(field merge 1)
mergek_s=$(field merge-k 1)
# 10^12 events on N machines of this kind: each sketches its share of the
# buckets at the measured rate per core, then the N stores are merged.
proj() { # proj MACHINES
	local per=$(echo "10^12 / $1" | bc -l)
	printf '| %d | %.1f h | %.1f h |' "$1" \
		"$(echo "$per / ($ingest_core * $NPROC) / 3600" | bc -l)" \
		"$(echo "$per / ($rate_core * $NPROC) / 3600" | bc -l)"
}
rev=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
cat <<EOF

## Scale run (issue 5)

Written by \`tests/bench/scale.sh\` on $(date -u +%F), the toolkit at $rev; $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB. Load average before: $load0; after: $load1.

- Data$( [ "$rows" -ge "$EVENTS" ] || echo " (**short of the $EVENTS asked for**)"): \`muse-gen -u $USERS -d $DAYS\` as CSV straight into \`muse-ingest -O --buckets $BUCKETS\` (two pipelines at once): **$rows events** in $files partition files, $(gb "$fresh").
- Sketch: each of the $BUCKETS buckets as its own \`muse-sketch --bucket B\` job, $NPROC at a time (\`parallel -j $NPROC\`), then \`muse-merge\` of the $BUCKETS bucket stores.

| stage | wall | CPU (user + sys) | events/s per core | peak RSS | note |
|---|---|---|---|---|---|
| muse-gen + muse-ingest -O | $(printf '%.0f s' "$ingest_wall") | $(printf '%.0f s' "$ingest_cpu") | $(printf '%.2f M' "$(echo "$ingest_core / 1000000" | bc -l)") | $(mbk "$(field ingest-imp 4)") | CPU of muse-ingest only; CSV generated on the fly |
| muse-sketch, $BUCKETS buckets | $(printf '%.0f s' "$sketch_wall") | $(printf '%.0f s' "$sketch_cpu") | **$(printf '%.2f M' "$(echo "$rate_core / 1000000" | bc -l)")** | $(mbk "$sketch_rss") | the largest bucket job |
| muse-merge of $k bucket stores | $(printf '%.1f s' "$mergek_s") | $(printf '%.1f s' "$(echo "$(cpu merge-k)" | bc -l)") | | $(mbk "$(field merge-k 4)") | |
| muse-merge of all $BUCKETS | $(printf '%.1f s' "$merge_s") | $(printf '%.1f s' "$(cpu merge)") | | $(mbk "$(field merge 4)") | $keys keys, $(gb "$store_bytes") |

Bytes on disk per tier:

| tier | bytes | bytes per event |
|---|---|---|
| fresh partitions (zstd 1), the whole table | $(gb "$fresh") | $(printf '%.2f' "$(echo "$fresh / $rows" | bc -l)") |
| the first $CDAYS days before / after \`muse-table compact\` (zstd 19; $(printf '%.0f s' "$(field compact 1)")) | $(gb "$part_before") / $(gb "$part_after") | ratio $(printf '%.2f' "$(echo "$part_after / ($part_before + 1)" | bc -l)") |
| the table after compaction | $(gb "$compacted") | |
| after \`muse-table expire --covered-by store.msk\` of those days | $(gb "$expired") | |
| bucket stores ($BUCKETS) / merged store | $(gb "$bucket_bytes") / $(gb "$store_bytes") | $(printf '%.2f' "$(echo "$store_bytes / $rows" | bc -l)") (store) |

Projection to 10^12 events on N machines like this one ($NPROC cores each), at the rates above (linear: buckets are independent jobs, each machine ingests and sketches its share of the buckets; the N stores are then merged, which at the measured $(printf '%.1f' "$merge_s") s for $BUCKETS inputs of this size is minutes, not hours):

| machines | ingest | sketch |
|---|---|---|
$(proj 1)
$(proj 10)
$(proj 100)
$(proj 1000)
EOF
[ "${SCALE_KEEP:-0}" = 1 ] || rm -rf "$work"
