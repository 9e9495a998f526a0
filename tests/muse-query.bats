#!/usr/bin/env bats
# muse-query: questions over sketch stores (SPEC 2, 6, 7, 8).

load helpers
bats_require_minimum_version 1.5.0

# Made once: the store of the small tables, the same with a country
# dimension, a tiny store for the every-offset loop and a tiny store with
# another attribution window.
setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	gen_small
	for t in impressions plays affinities; do
		muse-ingest -o "$t.mev" "$t.csv" || return 1
	done
	set -- impressions.mev plays.mev affinities.mev
	muse-sketch -o store.msk "$@" || return 1
	muse-sketch -o country.msk --by title,asset,date,segment,country "$@" ||
	    return 1
	printf '%s\n' 'ts,user_id,asset_id,title_id,country' \
	    '2025-07-01T10:00:00Z,u1,t1-a1,t1,US' \
	    '2025-07-01T11:00:00Z,u2,t1-a2,t1,FR' > tiny-imp.csv
	printf '%s\n' 'ts,user_id,title_id,duration_s' \
	    '2025-07-01T10:30:00Z,u1,t1,120' > tiny-plays.csv
	printf '%s\n' 'user_id,cluster' 'u1,Anime' > tiny-aff.csv
	muse-ingest -o ti.mev tiny-imp.csv || return 1
	muse-ingest -o tp.mev tiny-plays.csv || return 1
	muse-ingest -o ta.mev tiny-aff.csv || return 1
	set -- ti.mev tp.mev ta.mev
	muse-sketch -o tiny.msk "$@" || return 1
	muse-sketch -o window.msk --window 3600 "$@" || return 1
}

D=$BATS_FILE_TMPDIR

# usage_error MESSAGE ARG...: muse-query ARG... on the store is a usage
# error: status 2, MESSAGE and the --help hint on stderr, nothing on stdout.
usage_error() {
	local msg=$1
	shift
	run --separate-stderr muse-query "$@" "$D/store.msk"
	expect_status 2
	expect_stderr_contains "muse-query: $msg"
	expect_stderr_contains "Try 'muse-query --help'"
	[ -z "$output" ] || fail "stdout: $output"
}

@test "--help prints usage on stdout and exits 0" {
	check_help muse-query
}

@test "--version names the program" {
	check_version muse-query
}

@test "an unknown option is a usage error" {
	usage_error "" --bogus
	expect_stderr_contains "--bogus"
}

@test "a mistyped option or value is met with the nearest valid one" {
	local p=muse-query s=$D/tiny.msk
	suggests "$p: unknown option \"--sotr\"; did you mean \"--sort\"?" $p --sotr reach "$s"
	suggests "$p: unknown option \"--metircs\"; did you mean \"--metrics\"?" $p --metircs=reach "$s"
	suggests "$p: unknown option \"--tpo\"; did you mean \"--top\"?" $p --tpo 3 "$s"
	suggests "$p: unknown option \"--bogus\"" $p --bogus "$s"
	suggests "$p: option \"--s\" is ambiguous: \"--segment\", \"--serve\", \"--sketch\", \"--sketch-dir\", \"--sort\" or \"--stats\"" $p --s x "$s"
	suggests "$p: option \"--stats\" takes no value" $p --stats=1 "$s"
	suggests "$p: option \"--by\" needs a value" $p "$s" --by
	suggests "$p: option \"-b\" needs a value" $p "$s" -b
	suggests "$p: unknown option \"-x\"" $p -x "$s"
	suggests "$p: unknown metric \"rech\"; did you mean \"reach\"?" $p -m rech "$s"
	suggests "$p: unknown metric \"Take_Rate\"; did you mean \"take_rate\"?" $p -m reach,Take_Rate "$s"
	suggests "$p: unknown metric \"qreah\"; did you mean \"qreach\"?" $p --sort qreah:asc "$s"
	suggests "$p: unknown metric \"foo\" (impressions, reach, plays, qplays, qreach, areach, watch_s, take_rate, authentic_rate, bounce_rate, countries)" $p -m foo "$s"
	suggests "$p: unknown dimension \"asst\"; did you mean \"asset\"?" $p -b title,asst "$s"
	suggests "$p: unknown dimension \"mnth\"; did you mean \"month\"?" $p -b mnth "$s"
	suggests "$p: unknown format \"jsno\"; did you mean \"json\"?" $p -o jsno "$s"
	suggests "$p: unknown format \"xml\" (table, tsv, csv, json, bars, svg)" $p -o xml "$s"
	suggests "$p: bad --sort order \"decs\"; did you mean \"desc\"?" $p --sort reach:decs "$s"
	suggests "$p: bad --sort order \"dsc\"; did you mean \"asc\" or \"desc\"?" $p --sort reach:dsc "$s"
	suggests "$p: bad --sort \"reach:up\" (METRIC, METRIC:asc or METRIC:desc)" $p --sort reach:up "$s"
}

@test "a filter value that matches nothing says so, with the nearest value of the store" {
	run --separate-stderr muse-query -a t1-a3 "$D/tiny.msk"
	expect_status 0
	[ "$stderr" = 'muse-query: no asset matches "t1-a3" in the store; did you mean "t1-a1" or "t1-a2"?' ] ||
	    fail "stderr: $stderr"
	# Read whole from stdin: every key is a candidate.
	run --separate-stderr bash -c 'muse-query -s anime - < "$1"' _ "$D/tiny.msk"
	expect_status 0
	[ "$stderr" = 'muse-query: no segment matches "anime" in the store; did you mean "Anime"?' ] ||
	    fail "stderr: $stderr"
	run --separate-stderr muse-query -t T1,t9 "$D/tiny.msk"
	expect_status 0
	[ "$stderr" = 'muse-query: no title matches "T1" in the store; did you mean "t1"?
muse-query: no title matches "t9" in the store; did you mean "t1"?' ] ||
	    fail "stderr: $stderr"
	# Globs and far values are not guessed at.
	run --separate-stderr muse-query -a 'zz*',qqqqqq "$D/tiny.msk"
	expect_status 0
	[ "$stderr" = 'muse-query: no asset matches "zz*" in the store
muse-query: no asset matches "qqqqqq" in the store' ] || fail "stderr: $stderr"
}

@test "no STORE is a usage error" {
	run --separate-stderr muse-query --by title < /dev/null
	expect_status 2
	expect_stderr_contains "STORE"
	expect_stderr_contains "Try 'muse-query --help'"
}

@test "the answer: a header row of SPEC names, then one row" {
	run --separate-stderr muse-query "$D/tiny.msk"
	expect_status 0
	[ "${lines[0]}" = $'impressions\treach\tplays\tqreach\ttake_rate' ] ||
	    fail "$output"
	[ "${lines[1]}" = $'2\t2\t1\t1\t0.5000' ] || fail "$output"
	[ "${#lines[@]}" -eq 2 ] || fail "$output"
}

@test "--by groups rows; --format csv and json" {
	run --separate-stderr muse-query --by asset,segment -o csv \
	    -m impressions,plays,bounce_rate -a t1-a1 "$D/tiny.msk"
	expect_status 0
	[ "$output" = 'asset,segment,impressions,plays,bounce_rate
t1-a1,*,1,1,0.0000
t1-a1,Anime,1,1,0.0000' ] || fail "$output"
	run --separate-stderr muse-query --by asset -o json "$D/tiny.msk"
	expect_status 0
	printf '%s\n' "$output" > out.json
	python3 -c 'import json; json.load(open("out.json"))' ||
	    fail "not JSON: $output"
}

@test "--top N keeps N rows in --sort order" {
	run --separate-stderr muse-query --by title --sort impressions --top 3 \
	    -m impressions "$D/store.msk"
	expect_status 0
	[ "${#lines[@]}" -eq 4 ] || fail "$output"
	[ "${lines[0]}" = $'title\timpressions' ] || fail "$output"
	sort -t $'\t' -k2,2nr -c <(printf '%s\n' "${lines[@]:1}") ||
	    fail "not sorted: $output"
}

@test "stdin: - reads the store from standard input" {
	muse-query --by title "$D/store.msk" > want
	run --separate-stderr bash -c 'muse-query --by title - < "$1" > got' _ "$D/store.msk"
	expect_status 0
	cmp want got
}

@test "stores concatenated on stdin answer like separate files" {
	muse-query --by asset "$D/tiny.msk" "$D/tiny.msk" > want
	cat "$D/tiny.msk" "$D/tiny.msk" > two.msk
	run --separate-stderr bash -c 'muse-query --by asset - < two.msk > got'
	expect_status 0
	cmp want got
	[ "$(sed -n 2p got)" = $'t1-a1\t2\t1\t2\t1\t1.0000' ] || fail "$(cat got)"
}

@test "an unknown metric is a usage error" {
	usage_error 'unknown metric "foo"' -m foo
	usage_error 'unknown metric "foo"' -m reach,foo
	usage_error 'unknown metric "foo"' --sort foo
}

@test "an unknown dimension is a usage error" {
	usage_error 'unknown dimension "bar"' --by bar
	usage_error 'unknown dimension "bar"' --by title,bar
}

@test "bad date ranges are usage errors" {
	for r in 2025-13 2025-Q5 x..y .. 2025-07-32 2025-7-1 2025-07-01..x; do
		usage_error "bad date range \"$r\"" -d "$r"
	done
	usage_error 'empty date range "2025-07-05..2025-07-01"' \
	    -d 2025-07-05..2025-07-01
}

@test "date ranges of every form of SPEC 7 are accepted" {
	for r in 2025-07-02 2025-07-02..2025-07-03 2025-07-02.. ..2025-07-02 \
	    2025-07 2025-Q3; do
		run --separate-stderr muse-query -d "$r" "$D/store.msk"
		expect_status 0
		[ "${#lines[@]}" -eq 2 ] || fail "$r: $output"
	done
}

@test "--by a dimension the store lacks is an error" {
	run --separate-stderr muse-query --by country "$D/store.msk"
	expect_status 2
	expect_stderr_contains "no country dimension"
	[ -z "$output" ] || fail "stdout: $output"
	run --separate-stderr muse-query -c US "$D/store.msk"
	expect_status 2
	expect_stderr_contains "no country dimension"
}

@test "--top 0 and other bad counts are usage errors" {
	for n in 0 -1 x 1.5 ''; do
		usage_error "bad --top \"$n\"" --top "$n"
	done
}

@test "--ci 50 and other bad levels are usage errors" {
	for l in 50 95x 0 100 ''; do
		usage_error "bad --ci \"$l\"" --ci "$l"
	done
	run --separate-stderr muse-query --ci 95 "$D/store.msk"
	expect_status 0
	expect_output_contains "reach_lo"
}

@test "an unknown --format or --sort order is a usage error" {
	usage_error 'unknown format "xml"' -o xml
	usage_error 'bad --sort "reach:up"' --sort reach:up
}

@test "a filter value that matches nothing is a warning naming it" {
	for f in "-a nosuch-asset" "-t nosuch-title" "-s nosuch-segment"; do
		set -- $f
		run --separate-stderr muse-query "$1" "$2" "$D/store.msk"
		expect_status 0
		expect_stderr_contains "muse-query: "
		expect_stderr_contains "\"$2\""
	done
	run --separate-stderr muse-query -c ZZ "$D/country.msk"
	expect_status 0
	expect_stderr_contains '"ZZ"'
}

@test "a glob that matches is no warning" {
	run --separate-stderr muse-query -a 't0001-*' -t 't000[12]' "$D/store.msk"
	expect_status 0
	[ -z "$stderr" ] || fail "stderr: $stderr"
	[ "${#lines[@]}" -eq 2 ] || fail "$output"
}

@test "-s '*' is the all-users segment, the same as the default" {
	muse-query --by title "$D/store.msk" > want
	run --separate-stderr muse-query --by title -s '*' "$D/store.msk"
	expect_status 0
	[ -z "$stderr" ] || fail "stderr: $stderr"
	printf '%s\n' "$output" | diff want -
}

@test "stores with a different window refuse to be queried together" {
	run --separate-stderr muse-query "$D/tiny.msk" "$D/window.msk"
	expect_status 2
	expect_stderr_contains "window"
	[ -z "$output" ] || fail "stdout: $output"
	cat "$D/tiny.msk" "$D/window.msk" > cat.msk
	run --separate-stderr bash -c 'muse-query - < cat.msk'
	expect_status 2
	expect_stderr_contains "window"
}

@test "an event stream is refused with a clear message" {
	run --separate-stderr muse-query "$D/ti.mev"
	expect_status 2
	expect_stderr_contains "$D/ti.mev"
	expect_stderr_contains "muse-sketch"
	[ -z "$output" ] || fail "stdout: $output"
}

@test "an empty store is an error naming it" {
	: > empty.msk
	run --separate-stderr muse-query empty.msk
	expect_status 2
	expect_stderr_contains "empty.msk"
	[ -z "$output" ] || fail "stdout: $output"
}

@test "an empty file among stores is an error (a stream cut to nothing)" {
	: > empty.msk
	run --separate-stderr muse-query "$D/tiny.msk" empty.msk
	expect_status 2
	expect_stderr_contains "empty.msk"
	[ -z "$output" ] || fail "stdout: $output"
}

@test "a store cut at any offset is an error, never a smaller answer" {
	python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
for n in range(1, len(b)):
    open("cut.%d" % n, "wb").write(b[:n])
' "$D/tiny.msk"
	for f in cut.*; do
		refused_quiet "$f" "muse-query: $f: byte *: truncated *" muse-query "$f"
	done
	# A good store first, the cut one after: still no answer.
	head -c 150 "$D/tiny.msk" > cut.msk
	refused_quiet "after a good store" "muse-query: cut.msk: *truncated*" \
	    muse-query "$D/tiny.msk" cut.msk
}

@test "a flipped bit anywhere is detected, no answer printed" {
	python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
for off in range(0, len(b), 7):
    c = bytearray(b)
    c[off] ^= 1 << (off % 8)
    open("flip.%d" % off, "wb").write(c)
' "$D/tiny.msk"
	for f in flip.*; do
		refused_quiet "$f" "muse-query: $f: *" muse-query "$f"
	done
}

@test "trailing garbage is an error" {
	{ cat "$D/tiny.msk"; printf 'garbage'; } > tail.msk
	run --separate-stderr muse-query tail.msk
	expect_status 2
	expect_stderr_contains "not a muse stream"
	[ -z "$output" ] || fail "stdout: $output"
}

@test "writing to /dev/full is an error" {
	run --separate-stderr bash -c 'muse-query --by title,asset,date "$1" > /dev/full' \
	    _ "$D/store.msk"
	expect_status 2
	expect_stderr_contains "muse-query: "
	expect_stderr_contains "write error"
}

@test "writing to /dev/full: the error is reported once, with its reason" {
	run --separate-stderr bash -c 'muse-query "$1" > /dev/full' _ "$D/tiny.msk"
	expect_status 2
	[ "$stderr" = "muse-query: <stdout>: write error: No space left on device" ] ||
	    fail "$stderr"
}

@test "| head -c1: SIGPIPE ends it quietly" {
	run bash -c 'set -o pipefail; muse-query --by title,asset,date,segment "$1" 2>err | head -c1 >/dev/null' \
	    _ "$D/store.msk"
	[ "$status" -eq 0 ] || [ "$status" -eq 141 ] ||
	    fail "status $status: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
}

@test "on a terminal the default format is a table" {
	run script -qec "muse-query --by asset $D/tiny.msk" /dev/null < /dev/null
	expect_status 0
	case $output in
	*$'\t'*) fail "TSV on a terminal: $output" ;;
	esac
	expect_output_contains "t1-a1"
}

@test "a block of one title, asset and day is pruned by segment without a filter" {
	# Found by the race benchmark: such a block reaches the segment range
	# check with the implicit all-users pattern.
	printf '%s\n' 'ts,user_id,asset_id,title_id,country' \
	    '2025-07-01T10:00:00Z,u1,t1-a1,t1,US' > imp.csv
	printf '%s\n' 'user_id,cluster' 'u1,Anime' 'u1,Drama' > aff.csv
	muse-ingest imp.csv aff.csv | muse-sketch -o one.msk
	run --separate-stderr muse-query one.msk --by title -m impressions,reach -o tsv
	expect_status 0
	[ "$output" = $'title\timpressions\treach\nt1\t1\t1' ] || fail "$output"
	run --separate-stderr muse-query one.msk --by segment -m reach -o tsv
	expect_status 0
	[ "$output" = $'segment\treach\n*\t1\nAnime\t1\nDrama\t1' ] || fail "$output"
}
