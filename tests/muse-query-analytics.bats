#!/usr/bin/env bats
# muse-query's analyses (issue 6): --compare with significance, --outliers
# and --alert, the assets join, the countries metric, --format bars and svg,
# and all of them in --serve.  The data are planted by tests/fixtures/plant.py
# so that the answers are known by construction.

bats_require_minimum_version 1.5.0
load helpers

D=$BATS_FILE_TMPDIR

# plant KIND DIR [SEED]: the tables of plant.py, ingested.
plant() {
	python3 "$FIXTURES/plant.py" "$@" || return 1
	for t in impressions plays affinities; do
		muse-ingest -q -o "$2/$t.mev" "$2/$t.csv" || return 1
	done
}

setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	plant planted p || return 1
	plant control c || return 1
	set -- p/impressions.mev p/plays.mev p/affinities.mev
	muse-sketch -q -o p.msk "$@" || return 1
	muse-sketch -q -o p8.msk --lgk 8 "$@" || return 1
	muse-sketch -q -o pc.msk --by title,asset,date,segment,country "$@" ||
	    return 1
	muse-sketch -q -o c.msk c/impressions.mev c/plays.mev c/affinities.mev ||
	    return 1
}

# cols FILE NAME...: the columns NAME of a TSV answer, by header name.
cols() {
	local f=$1
	shift
	awk -F'\t' -v names="$*" 'NR == 1 { n = split(names, want, " ")
		for (i = 1; i <= NF; i++) at[$i] = i; next }
	    { line = ""; for (i = 1; i <= n; i++)
		line = line (i > 1 ? "\t" : "") $(at[want[i]]); print line }' "$f"
}

# ---------------------------------------------------------------------
# --compare

@test "--compare: the planted 2x difference is significant, the equal segments are not" {
	local st
	for st in p.msk p8.msk; do
		run --separate-stderr muse-query --compare T1-a,T1-b --by segment \
		    -s Thrillers,Comedy,Drama -m take_rate "$D/$st"
		expect_status 0
		printf '%s\n' "$output" > out.tsv
		[ "$(cols out.tsv segment take_rate_sig | sort)" = "$(printf 'Comedy\tno\nDrama\tno\nThrillers\tyes')" ] ||
		    fail "$st: $output"
		# The planted rates, exact at the default precision.
		if [ "$st" = p.msk ]; then
			[ "$(cols out.tsv segment take_rate_a take_rate_b | grep Thrillers)" = \
			    "$(printf 'Thrillers\t0.3000\t0.1500')" ] || fail "$output"
		fi
	done
}

@test "--compare: exact counts give the pooled two-proportion z; estimated counts a smaller one" {
	local st zb
	for st in p.msk p8.msk; do
		muse-query --compare T1-a,T1-b --by segment -s Thrillers,Comedy,Drama \
		    -m reach,take_rate "$D/$st" > out.tsv
		cols out.tsv reach_a reach_b take_rate_a take_rate_b take_rate_z > z.tsv
		[ "$(wc -l < z.tsv)" -eq 3 ] || fail "$(cat out.tsv)"
		# Binomial only: z = (ra - rb) / sqrt(p (1 - p) (1/na + 1/nb)).
		awk -F'\t' -v st="$st" '{
			p = ($3 * $1 + $4 * $2) / ($1 + $2)
			zb = ($3 - $4) / sqrt(p * (1 - p) * (1 / $1 + 1 / $2))
			d = $5 - zb
			if (st == "p.msk" && (d > 0.02 || d < -0.02)) bad = bad " exact:" $5 "!=" zb
			if (st == "p8.msk" && ($5 * $5 >= zb * zb || $5 * zb < 0))
				bad = bad " sketch error not counted:" $5 " vs " zb
		} END { if (bad) { print bad; exit 1 } }' z.tsv || fail "$st: $(cat out.tsv)"
	done
	# At lgK 8 the reach of 400 users is an estimate: its z is a number.
	cols out.tsv reach_z | grep -qv '^$' || fail "no reach_z at lgK 8"
}

@test "--compare is calibrated: A/A data are significant at 95% in 2% to 9% of groups" {
	local seed k n sig all=
	for seed in 1 2 3; do
		plant aa "aa$seed" "$seed"
		for k in 14 8; do
			muse-sketch -q --lgk "$k" -o aa.msk "aa$seed/impressions.mev" \
			    "aa$seed/plays.mev"
			muse-query --compare '*-a,*-b' --by title -m take_rate aa.msk > out.tsv
			n=$(cols out.tsv title | wc -l)
			sig=$(cols out.tsv take_rate_sig | grep -c '^yes$' || :)
			[ "$n" -eq 400 ] || fail "seed $seed lgK $k: $n groups"
			all="$all seed=$seed lgk=$k: $sig/400;"
			[ "$sig" -ge 8 ] && [ "$sig" -le 36 ] ||
			    fail "seed $seed lgK $k: $sig of 400 significant:$all"
		done
	done
	echo "# $all" >&3
}

@test "--compare: sides of several assets, a missing side, and misuse" {
	run --separate-stderr muse-query --compare 'T2-a1+T2-a2,T2-a5' -m impressions,reach "$D/p.msk"
	expect_status 0
	printf '%s\n' "$output" > out.tsv
	[ "$(cols out.tsv a b impressions_a impressions_b impressions_diff impressions_sig)" = \
	    "$(printf 'T2-a1+T2-a2\tT2-a5\t1200\t600\t600\tyes')" ] ||
	    fail "$output"
	# T1-a is not shown to the all-users rows of T2: the T2 group has
	# B only, and its rates are empty on the A side.
	run --separate-stderr muse-query --compare 'T1-a,T2-a5' --by title -m reach,take_rate "$D/p.msk"
	expect_status 0
	printf '%s\n' "$output" > out.tsv
	[ "$(cols out.tsv title reach_a reach_b take_rate_b take_rate_sig)" = \
	    "$(printf 'T1\t1200\t0\t\t\nT2\t0\t600\t0.4000\t')" ] || fail "$output"
	refused "by asset" "*--by cannot include asset*" \
	    muse-query --compare T1-a,T1-b --by asset "$D/p.msk"
	refused "one side" "*bad --compare*" muse-query --compare T1-a "$D/p.msk"
	refused "three sides" "*bad --compare*" muse-query --compare a,b,c "$D/p.msk"
	refused "both sides" '*asset "T1-a" matches both sides*' \
	    muse-query --compare 'T1-*,T1-a' "$D/p.msk"
	refused "with outliers" "*separate questions*" \
	    muse-query --compare T1-a,T1-b --outliers "$D/p.msk"
}

# ---------------------------------------------------------------------
# --outliers and --alert

@test "--outliers: the planted clickbait asset is flagged and read as such; --alert exits 1" {
	run --separate-stderr muse-query --alert "$D/p.msk"
	expect_status 1
	printf '%s\n' "$output" > out.tsv
	[ "$(cols out.tsv title asset metric direction reading | sort)" = \
	    "$(printf 'T2\tT2-a5\tauthentic_rate\tlow\tclickbait\nT2\tT2-a5\ttake_rate\thigh\tclickbait')" ] ||
	    fail "$output"
	# The figures behind it: 40% take, 10% authentic against peers at
	# 20% and 70%.
	[ "$(cols out.tsv metric value peer_median peers | sort)" = \
	    "$(printf 'authentic_rate\t0.1000\t0.7000\t5\ntake_rate\t0.4000\t0.2000\t5')" ] ||
	    fail "$output"
	cols out.tsv robust_z | awk '{ z = $1 < 0 ? -$1 : $1; if (z <= 3.5) exit 1 }' ||
	    fail "$output"
	# --outliers alone lists the same and exits 0.
	run --separate-stderr muse-query --outliers "$D/p.msk"
	expect_status 0
	[ "$output" = "$(cat out.tsv)" ] || fail "$output"
}

@test "--alert exits 0 and flags nothing without the clickbait asset" {
	run --separate-stderr muse-query --alert "$D/c.msk"
	expect_status 0
	[ "${#lines[@]}" -eq 1 ] || fail "$output"
	[[ ${lines[0]} == title$'\t'asset$'\t'metric$'\t'* ]] || fail "$output"
}

@test "--min-reach above every reach flags nothing; --threshold moves the cut" {
	run --separate-stderr muse-query --alert --min-reach 601 "$D/p.msk"
	expect_status 0
	[ "${#lines[@]}" -eq 1 ] || fail "$output"
	# A threshold beyond the clickbait's z-scores flags nothing.
	run --separate-stderr muse-query --alert --threshold 1000 "$D/p.msk"
	expect_status 0
	# Peer groups by segment: T1's two assets are no group of three.
	run --separate-stderr muse-query --alert --by title,segment,asset -s Thrillers "$D/p.msk"
	expect_status 0
	refused "threshold 0" "*bad --threshold*" muse-query --outliers --threshold 0 "$D/p.msk"
	refused "threshold junk" "*bad --threshold*" muse-query --outliers --threshold x "$D/p.msk"
	refused "min-reach junk" "*bad --min-reach*" muse-query --outliers --min-reach -1 "$D/p.msk"
	refused "as a chart" "*not a chart*" muse-query --outliers -o bars "$D/p.msk"
}

# ---------------------------------------------------------------------
# The assets table and the countries metric

@test "--asset-type and --by asset_type join the assets table (CSV or event stream)" {
	local f
	muse-ingest -q -o assets.mev "$D/p/assets.csv"
	for f in "$D/p/assets.csv" assets.mev; do
		run --separate-stderr muse-query --assets "$f" --asset-type trailer \
		    --by asset -m impressions "$D/p.msk"
		expect_status 0
		[ "$output" = "$(printf 'asset\timpressions\nT1-a\t1200\nT2-a5\t600')" ] ||
		    fail "$f: $output"
		run --separate-stderr muse-query --assets "$f" --by asset_type \
		    -m impressions,reach "$D/p.msk"
		expect_status 0
		[ "$output" = "$(printf 'asset_type\timpressions\treach\nartwork\t3600\t3600\ntrailer\t1800\t1800')" ] ||
		    fail "$f: $output"
	done
	# An asset the table does not list has no asset_type.
	grep -v '^T2-a5,' "$D/p/assets.csv" > partial.csv
	run --separate-stderr muse-query --assets partial.csv --by asset_type -o json \
	    -m impressions "$D/p.msk"
	expect_status 0
	expect_output_contains '{"asset_type": null, "impressions": 600}'
	refused "no table" "*need the assets table*" \
	    muse-query --asset-type trailer "$D/p.msk"
	printf 'asset_id,title_id,asset_type\nX,T,a\nX,T,b\n' > twice.csv
	refused "two types" '*twice.csv:3: asset "X" listed as "a" and as "b"*' \
	    muse-query --assets twice.csv "$D/p.msk"
	refused "not assets" '*plays.csv:1: missing column "asset_id"*' \
	    muse-query --assets "$D/p/plays.csv" "$D/p.msk"
	refused "another stream" "*plays.mev: not an assets table (a plays stream)*" \
	    muse-query --assets "$D/p/plays.mev" "$D/p.msk"
}

@test "countries: the distinct countries each asset was shown in" {
	run --separate-stderr muse-query --by asset -m countries "$D/pc.msk"
	expect_status 0
	awk -F, 'NR > 1 && !seen[$3 "," $5]++ { n[$3]++ }
	    END { for (a in n) print a "\t" n[a] }' "$D/p/impressions.csv" |
	    sort > want
	[ "$(printf '%s\n' "$output" | sed 1d)" = "$(cat want)" ] ||
	    fail "$output / $(cat want)"
	# A title's assets together: countries are united, not added.
	run --separate-stderr muse-query -t T2 -m countries "$D/pc.msk"
	expect_status 0
	[ "${lines[1]}" = 5 ] || fail "$output"
	refused "no country dimension" "*needs a store with a country dimension*" \
	    muse-query -m countries "$D/p.msk"
}

# ---------------------------------------------------------------------
# Charts

# width_ok MAX: every line of the file out is at most MAX code points.
width_ok() {
	python3 -c '
import sys
m = int(sys.argv[1])
for line in open("out", encoding="utf-8"):
    if len(line.rstrip("\n")) > m:
        sys.exit("%d > %d: %s" % (len(line) - 1, m, line))
' "$1"
}

@test "--format bars: fits COLUMNS, draws to scale, prints the bounds of estimates" {
	COLUMNS=40 muse-query --by asset -t T2 -m take_rate -o bars "$D/p8.msk" > out
	width_ok 40 || fail "$(cat out)"
	[ "$(wc -l < out)" -eq 7 ] || fail "$(cat out)"     # title, 5 bars, axis
	cp out narrow
	COLUMNS=100 muse-query --by asset -t T2 -m take_rate -o bars "$D/p8.msk" > out
	width_ok 100 || fail "$(cat out)"
	[ "$(grep -oF -e █ -e ░ -e ▓ out | wc -l)" -gt "$(grep -oF -e █ -e ░ -e ▓ narrow | wc -l)" ] ||
	    fail "no wider at 100 columns"
	# The numbers are those of --ci 95, lower and upper bound included.
	muse-query --by asset -t T2 -m take_rate --ci 95 "$D/p8.msk" | sed 1d |
	    awk -F'\t' '{ printf "%s %s [%s,%s]\n", $1, $2, $3, $4 }' > want
	grep -oE 'T2-a[0-9] .* [0-9.]+ \[[0-9.]+,[0-9.]+\]$' out |
	    sed -E 's/ +[█░▓▏▎▍▌▋▊▉ ]+ +/ /' > have
	[ "$(cat have)" = "$(cat want)" ] || fail "$(cat out) / $(cat want)"
	# The estimate's dark cell lies inside its shaded interval.
	grep -qF -e ░▓ -e ▓░ out || fail "$(cat out)"
	# --width beats COLUMNS; exact values get no bounds and no shading.
	COLUMNS=200 muse-query --width 50 --by asset -t T2 -m impressions -o bars "$D/p.msk" > out
	width_ok 50 || fail "$(cat out)"
	! grep -qF -e ░ -e ▓ -e [ out || fail "exact values drawn with bounds: $(cat out)"
	grep -q 'T2-a1 .* 600$' out || fail "$(cat out)"
}

@test "--format svg: a standalone SVG that parses as XML, one bar per group" {
	run --separate-stderr muse-query --by segment -m reach -o svg "$D/p8.msk" -s 'Thrillers,Comedy,Drama'
	expect_status 0
	printf '%s\n' "$output" > chart.svg
	python3 - chart.svg <<'PY' || fail "$output"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
bars = [r for r in root.iter(ns + "rect") if r.get("class") == "bar"]
assert len(bars) == 3, len(bars)
labels = [t.text for t in root.iter(ns + "text")]
for s in ("Comedy", "Drama", "Thrillers"):
    assert s in labels, labels
# Widths follow the values: the same reach, the same bar.
w = sorted(float(b.get("width")) for b in bars)
assert w[0] > 0 and abs(w[0] - w[2]) / w[2] < 0.5, w
PY
	# Labels with markup characters are escaped; --compare draws two bars a group.
	muse-query --compare T1-a,T1-b --by segment -s 'Thrillers,Drama' -m take_rate -o svg "$D/p.msk" > cmp.svg
	python3 -c '
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
n = [x for x in r.iter("{http://www.w3.org/2000/svg}rect") if x.get("class") == "bar"]
assert len(n) == 4, len(n)' cmp.svg || fail "$(cat cmp.svg)"
}

# ---------------------------------------------------------------------
# --serve

@test "--serve answers the analyses as the command line does" {
	local q i=0
	local -a queries=(
		"--compare T1-a,T1-b --by segment -m reach,take_rate"
		"--outliers"
		"--alert --min-reach 601"
		"--asset-type trailer --by asset -m impressions"
		"--by asset_type -m reach,take_rate,authentic_rate"
	)
	printf '%s\n' "${queries[@]}" '--by asset -t T2 -m take_rate --format bars --width 60' \
	    '--by asset -t T2 -m take_rate --format svg' |
	    muse-query --serve --assets "$D/p/assets.csv" "$D/p.msk" > answers 2> err
	[ ! -s err ] || fail "stderr: $(cat err)"
	set -f
	for q in "${queries[@]}"; do
		i=$((i + 1))
		eval "set -- $q"
		muse-query --assets "$D/p/assets.csv" "$@" -o json "$D/p.msk" > one.json
		sed -n "${i}p" answers > line.json
		python3 - one.json line.json "$q" <<'PY' || fail "query $i: $q: $(cat line.json)"
import json, sys
one = json.load(open(sys.argv[1]))
line = json.loads(open(sys.argv[2]).read())
assert line["rows"] == one, (sys.argv[3], line["rows"][:2], one[:2])
if "--outliers" in sys.argv[3]:
    assert line["flagged"] == 2, line
if "--alert" in sys.argv[3]:
    assert line["flagged"] == 0, line
PY
	done
	set +f
	muse-query --width 60 --by asset -t T2 -m take_rate -o bars "$D/p.msk" > bars.txt
	muse-query --by asset -t T2 -m take_rate -o svg "$D/p.msk" > chart.svg
	python3 - answers bars.txt chart.svg <<'PY' || fail "$(tail -2 answers)"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
bars, svg = json.loads(lines[5]), json.loads(lines[6])
assert bars["format"] == "bars" and bars["chart"] == open(sys.argv[2]).read(), bars
assert svg["format"] == "svg" and svg["chart"] == open(sys.argv[3]).read()
PY
	# Misuse gets an error line, and the loop goes on.
	printf '%s\n' '--outliers=yes' '--format table' '--compare x' '-m countries' '--outliers' |
	    muse-query --serve "$D/p.msk" > answers
	[ "$(grep -c '"error"' answers)" -eq 4 ] || fail "$(cat answers)"
	grep -q '"flagged": 2' answers || fail "$(cat answers)"
}
