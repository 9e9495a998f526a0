#!/bin/sh
# Makes the seed corpora of tests/fuzz/corpus/NAME from the programs
# (build them first: make) and the golden files: small valid inputs of
# every form each target reads, each behind the first byte that tells the
# target how to take it (see the top of each fuzz_NAME.c).  Run once when
# a target is added; the corpora are committed, and grown by fuzzing.
#
#   tests/fuzz/mkcorpus.sh [NAME...]
#
# Seeds are named seed-*, so that they stay apart from what libFuzzer
# adds (named by their SHA-1), which is kept.
set -eu
cd "$(dirname "$0")/../.."
bin=cmd
work=tests/fuzz/.build/seeds
rm -rf "$work"
mkdir -p "$work"
cc -O1 -std=c11 -D_GNU_SOURCE -Ilib $(pkg-config --cflags libzstd libxxhash 2>/dev/null) \
    -o "$work/seedtool" tests/fuzz/seedtool.c lib/libmuse.a \
    $(pkg-config --libs libzstd libxxhash 2>/dev/null || echo -lzstd -lxxhash) -lm -pthread
tool=$work/seedtool

# seed NAME FILE FLAGBYTE TAG: the file behind one byte (octal escape).
seed() {
	printf "\\$(printf %03o "$3")" > "tests/fuzz/corpus/$1/seed-$4"
	cat "$2" >> "tests/fuzz/corpus/$1/seed-$4"
}

want() {
	[ -z "$targets" ] && return 0
	for w in $targets; do [ "$w" = "$1" ] && return 0; done
	return 1
}
targets=$*

# Tables: muse-gen, tiny, and the fixtures of the CLI tests.
$bin/muse-gen -q -u 12 -d 2 -T 3 -O "$work/gen"
for t in impressions plays affinities assets; do
	head -12 "$work/gen/$t.csv" > "$work/$t.csv"
	tr , '\t' < "$work/$t.csv" > "$work/$t.tsv"
done

if want csv; then
	d=tests/fuzz/corpus/csv
	mkdir -p "$d" && rm -f "$d"/seed-*
	for t in impressions plays affinities assets; do
		seed csv "$work/$t.csv" 0 "$t.csv"          # guess, table inferred
		seed csv "$work/$t.tsv" 2 "$t.tsv"          # tab
		seed csv "$work/$t.csv" 13 "$t.csv-tiny"    # ',' and a 4-byte buffer
	done
	seed csv "$work/impressions.csv" 32 "impressions.csv-t1"
	seed csv "$work/plays.csv" 64 "plays.csv-t2"
	seed csv "$work/affinities.csv" 96 "affinities.csv-t3"
	seed csv "$work/assets.csv" 128 "assets.csv-t4"
	for f in tests/fixtures/attr/*.csv tests/golden/*.csv; do
		seed csv "$f" 0 "$(basename "$f")"
	done
	zstd -q -c "$work/plays.csv" > "$work/plays.csv.zst"
	seed csv "$work/plays.csv.zst" 0 plays.csv.zst
	printf 'ts,user_id,title_id,duration_s\r\n"2025-07-01T00:00:00Z","u""1",t1,"1.5"\r\n\r\n' \
	    > "$work/quoted.csv"
	seed csv "$work/quoted.csv" 0 quoted-crlf.csv
	printf '\357\273\277user_id,cluster\nu1,"A|B|C"\nu2,"multi\nline"\n' > "$work/bom.csv"
	seed csv "$work/bom.csv" 0 bom-multiline.csv
fi

if want ts; then
	d=tests/fuzz/corpus/ts
	mkdir -p "$d" && rm -f "$d"/seed-*
	i=0
	for s in 2025-07-01T12:34:56Z 2025-07-01T12:34:56.789Z \
	    2025-07-01T12:34:56+02:00 2025-07-01T00:00:00-05:30 \
	    '2025-07-01 12:34:56' 1751372096 1751372096789 0 \
	    9999-12-31T23:59:59Z 1970-01-01T00:00:00Z 2024-02-29 2025-07-01 \
	    12 12.5 0.0005 .5 999999999999.9995 t0001-a1 'Mind-Bending Thrillers' \
	    'Caf\303\251' '\360\237\216\254' '\355\240\200'; do
		i=$((i + 1))
		printf "$s" > "$d/seed-$i"
	done
fi

# Streams: events, sketches (sorted and not), stores, deltas.
for t in impressions plays affinities assets; do
	$bin/muse-ingest -q -o "$work/$t.mev" "$work/$t.csv"
done
$bin/muse-sketch --lgk 4 -o "$work/store4.msk" "$work/impressions.mev" \
    "$work/plays.mev" "$work/affinities.mev"
$bin/muse-sketch --lgk 6 -b title,date,country -o "$work/store6.msk" \
    "$work/impressions.mev" "$work/plays.mev" "$work/affinities.mev"
$bin/muse-merge --rollup week -o "$work/week.msk" "$work/store4.msk"
$bin/muse-merge --rollup all -o "$work/all.msk" "$work/store4.msk"
for v in 0 1 2 4; do
	$tool store "$work/small$v.msk" $v
done
$bin/muse-delta diff -o "$work/d01.mdelta" --reverse "$work/d10.mdelta" \
    "$work/small0.msk" "$work/small1.msk"
$bin/muse-delta diff -o "$work/d02.mdelta" "$work/small0.msk" "$work/small2.msk"
$bin/muse-delta diff -o "$work/d04.mdelta" "$work/small0.msk" "$work/small4.msk"
$bin/muse-delta diff -o "$work/d00.mdelta" "$work/small0.msk" "$work/small0.msk"
for f in "$work"/*.mev "$work"/*.msk "$work"/*.mdelta; do
	$tool unpack "$f" "$f.raw"
done
cat "$work/impressions.mev" "$work/plays.mev" > "$work/two.mev"
cat "$work/impressions.mev.raw" "$work/store4.msk.raw" > "$work/two.raw"

if want stream; then
	d=tests/fuzz/corpus/stream
	mkdir -p "$d" && rm -f "$d"/seed-*
	for f in "$work"/*.mev "$work"/store4.msk "$work"/week.msk \
	    "$work"/small1.msk "$work"/d01.mdelta tests/golden/*.mev \
	    tests/golden/*.msk; do
		b=$(basename "$f")
		seed stream "$f" 0 "$b"                # as it is
		[ -f "$f.raw" ] && seed stream "$f.raw" 7 "$b.raw"   # repaired
	done
	seed stream "$work/store6.msk.raw" 7 store6.msk.raw
	seed stream "$work/all.msk.raw" 7 all.msk.raw
	seed stream "$work/two.raw" 15 two.raw-skip
	seed stream "$work/two.raw" 39 two.raw-abandon
	seed stream "$work/plays.mev.raw" 23 plays.mev.raw-zstd
fi

if want store; then
	d=tests/fuzz/corpus/store
	mkdir -p "$d" && rm -f "$d"/seed-*
	for f in "$work"/store4.msk "$work"/store6.msk "$work"/week.msk \
	    "$work"/all.msk "$work"/small0.msk "$work"/small1.msk \
	    tests/golden/*.msk; do
		b=$(basename "$f")
		seed store "$f" 0 "$b"
		[ -f "$f.raw" ] && seed store "$f.raw" 7 "$b.raw"
	done
	seed store "$work/small2.msk.raw" 15 small2.raw-cache
	seed store "$work/store4.msk.raw" 39 store4.raw-by-segment
	seed store "$work/store6.msk.raw" 71 store6.raw-by-title-country
	seed store "$work/week.msk.raw" 87 week.raw-by-week
	seed store "$work/store4.msk.raw" 151 store4.raw-by-asset-table
	seed store "$work/impressions.mev" 0 impressions.mev
fi

if want delta; then
	d=tests/fuzz/corpus/delta
	mkdir -p "$d" && rm -f "$d"/seed-*
	for f in "$work"/d*.mdelta; do
		b=$(basename "$f")
		seed delta "$f" 0 "$b"
		seed delta "$f.raw" 7 "$b.raw"
		seed delta "$f.raw" 15 "$b.raw-chain"
	done
	seed delta "$work/small1.msk" 0 small1.msk
fi

if want hll; then
	d=tests/fuzz/corpus/hll
	mkdir -p "$d" && rm -f "$d"/seed-*
	$tool hll "$d"
	for f in "$d"/lgk*; do mv "$f" "$d/seed-${f##*/}"; done
fi

# DataSketches images: small golden images of every mode, type and form,
# and one base64 text.
if want dsketch; then
	d=tests/fuzz/corpus/dsketch
	mkdir -p "$d" && rm -f "$d"/seed-*
	for f in hll_lgk4_t4_n1000000_u64.bin hll_lgk4_t6_n100_u64.bin \
	    hll_lgk4_t8_n7_u64.bin hll_lgk8_t4_n0_u64.bin hll_lgk8_t6_n1000_u64.bin \
	    hll_lgk8_t8_n100_u64.bin hll_lgk12_t8_n100_u64.bin \
	    hll_lgk12_t8_n100_u64_updatable.bin hll_lgk12_t4_n1000000_u64.bin \
	    hll_lgk12_t4_n1000000_u64_updatable.bin \
	    hll_lgk12_t6_n7_u64_updatable.bin hll_lgk12_t8_n0_u64_fullsize.bin \
	    union_lgk12_a12_b12_t8_after_estimate.bin \
	    union_lgk12_d12set_e12set_t4.bin; do
		cp "tests/golden/datasketches/$f" "$d/seed-$f"
	done
	printf 'AwEHDAUIAAEFAAAA' > "$d/seed-b64.txt"
fi

if want qline; then
	d=tests/fuzz/corpus/qline
	mkdir -p "$d" && rm -f "$d"/seed-*
	i=0
	while IFS= read -r line; do
		i=$((i + 1))
		printf '%s' "$line" > "$d/seed-$i"
	done <<'EOF'
--asset 't1-*' --by asset
-t t1 -b date --metrics impressions,reach,take_rate
--segment Anime --by segment,date --ci 95
--date 2025-07-01..2025-07-02 --by week --sort reach --top 2
--date 2025-07 --by month -m reach,qreach,areach,bounce_rate
--title=t2 --country=US --by=title,asset
-a "t1-a1" -a 't2-a1' -s '*' --sort=-impressions
--date 2025-Q3 --metrics watch_s,plays,qplays --ci 99
--asset t1-a\[12\] --segment "Dr*" --by asset,segment --top 1
-d 2025-07-02 -b title -m authentic_rate --sort take_rate
EOF
fi
echo "corpus: $(find tests/fuzz/corpus -type f | wc -l) files, $(du -sk tests/fuzz/corpus | cut -f1) KiB"
