#!/bin/sh
# The whole pipeline on the embedded sample (share/sample: a week of
# impressions, plays and affinities for 3000 synthetic users, made by
# muse-gen): ingest, sketch, then ask which assets of the most shown title
# land with which audiences.
set -eu
cd "$(dirname "$0")/.."
PATH=$PWD/cmd:$PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/muse-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

echo "== muse-ingest: CSV (zstd-compressed) -> event streams"
for t in impressions plays affinities; do
	muse-ingest share/sample/$t.csv.zst > "$work/$t.mev"
done
for t in impressions plays affinities; do
	printf '   %-16s %9d bytes\n' "$t.mev" "$(wc -c < "$work/$t.mev")"
done
echo "== muse-sketch: attribution join + HLL sketches per (title, asset, date, segment)"
muse-sketch "$work/impressions.mev" "$work/plays.mev" "$work/affinities.mev" > "$work/store.msk"
muse-cat --check "$work/store.msk" | sed "s|$work/||; s|^|   |"

top=$(muse-query "$work/store.msk" --by title --metrics impressions \
    --sort impressions --top 1 -o tsv | awk 'NR == 2 { print $1 }')
echo "== muse-query: the most shown title is $top; how did each of its assets land?"
muse-query "$work/store.msk" --title "$top" --by asset \
    --metrics impressions,reach,qreach,take_rate,authentic_rate,bounce_rate \
    --sort take_rate -o table

best=$(muse-query "$work/store.msk" --title "$top" --by asset --metrics take_rate \
    --sort take_rate --top 1 -o tsv | awk 'NR == 2 { print $1 }')
echo "== muse-query: $best, the asset with the best take rate, by audience segment (95% bounds)"
muse-query "$work/store.msk" --asset "$best" --by segment \
    --metrics reach,qreach,take_rate --ci 95 --sort take_rate --top 6 -o table

echo "== muse-query: combined distinct reach of all assets of $top, all week"
muse-query "$work/store.msk" --title "$top" \
    --metrics impressions,reach,qreach,take_rate,bounce_rate -o table
