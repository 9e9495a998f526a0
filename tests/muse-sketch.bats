#!/usr/bin/env bats
# muse-sketch: event streams to a sorted sketch stream (SPEC 2, 4, 6, 8).

load helpers
bats_require_minimum_version 1.5.0

# Made once: event streams of the small tables and their store, and tiny
# event streams of a few hundred bytes for the every-offset loop.
setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	gen_small
	for t in impressions plays affinities; do
		muse-ingest -o "$t.mev" "$t.csv" || return 1
	done
	muse-sketch -o store.msk impressions.mev plays.mev affinities.mev ||
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
	muse-sketch -o tiny.msk ti.mev tp.mev ta.mev || return 1
}

D=$BATS_FILE_TMPDIR
EV="$D/impressions.mev $D/plays.mev $D/affinities.mev"

@test "--help prints usage on stdout and exits 0" {
	check_help muse-sketch
}

@test "--version names the program" {
	check_version muse-sketch
}

@test "an unknown option is a usage error" {
	run --separate-stderr muse-sketch --bogus $EV
	expect_status 2
	expect_stderr_contains "muse-sketch: "
	expect_stderr_contains "--bogus"
	expect_stderr_contains "Try 'muse-sketch --help'"
	[ -z "$output" ] || fail "stdout: $output"
}

@test "a mistyped option or dimension is met with the nearest valid one" {
	local p=muse-sketch
	suggests "$p: unknown option \"--bukcet\"; did you mean \"--bucket\"?" $p --bukcet 0/2 $EV
	suggests "$p: unknown option \"--qualfy\"; did you mean \"--qualify\"?" $p --qualfy 60 $EV
	suggests "$p: option \"--window\" needs a value" $p $EV --window
	suggests "$p: unknown dimension \"titel\"; did you mean \"title\"?" $p --by titel,asset $EV
	suggests "$p: unknown dimension \"week\" (title, asset, date, segment, country, none)" $p --by week $EV
}

@test "bad option values are usage errors naming the value" {
	while IFS='|' read -r opt val msg; do
		run --separate-stderr muse-sketch -o out.msk "$opt" "$val" $EV
		expect_status 2
		expect_stderr_contains "$msg"
		expect_stderr_contains "Try 'muse-sketch --help'"
		no_partial out.msk
	done <<-'EOF'
	--lgk|3|bad --lgk "3"
	--lgk|22|bad --lgk "22"
	--lgk|x|bad --lgk "x"
	--window|x|"x"
	--window|-1|"-1"
	--window|1w|"1w"
	--qualify|x|"x"
	--qualify|-1|"-1"
	--authentic|x|"x"
	--by|foo|unknown dimension "foo"
	--by|title,week|unknown dimension "week"
	--bucket|2/2|bad --bucket "2/2"
	--bucket|1|--bucket B without /N needs table directories
	--bucket|x|bad --bucket "x"
	--bucket|0/0|bad --bucket "0/0"
	--date|2025-13|bad date range "2025-13"
	--date|2025-Q5|bad date range "2025-Q5"
	--date|2025-07-01..|--date needs both ends
	EOF
}

@test "the output is a valid sorted sketch stream carrying its parameters" {
	run --separate-stderr muse-sketch -o out.msk --window 3600 --lgk 12 \
	    --qualify 30 --authentic 600 --by title,date,country $EV
	expect_status 0
	run --separate-stderr muse-cat --check out.msk
	expect_status 0
	expect_output_contains "dims=title,date,country"
	expect_output_contains "lgk=12"
	expect_output_contains "window=3600s"
	expect_output_contains "qualify=30.000s"
	expect_output_contains "authentic=600.000s"
	expect_output_contains "sorted=yes"
}

@test "inputs in any order give the same bytes" {
	muse-sketch "$D/affinities.mev" "$D/plays.mev" "$D/impressions.mev" > a.msk
	cmp "$D/store.msk" a.msk
}

@test "stdin: no file, - and concatenated streams give the same bytes" {
	cat $EV > all.mev
	run --separate-stderr bash -c 'muse-sketch < all.mev > none.msk'
	expect_status 0
	run --separate-stderr bash -c 'muse-sketch - < all.mev > dash.msk'
	expect_status 0
	cmp "$D/store.msk" none.msk
	cmp "$D/store.msk" dash.msk
}

@test "--read-ahead: the same bytes and the same errors as without it" {
	muse-sketch --read-ahead -o a.msk $EV
	cmp "$D/store.msk" a.msk
	# standard input is read without it, to the same bytes
	cat $EV | muse-sketch --read-ahead > b.msk
	cmp "$D/store.msk" b.msk
	muse-sketch --read-ahead --bucket 1/3 -d 2025-07-02 -o c.msk $EV
	muse-sketch --bucket 1/3 -d 2025-07-02 -o d.msk $EV
	cmp c.msk d.msk
	# cut or damaged inputs: the same message, the same byte offset
	n=$(wc -c < "$D/impressions.mev")
	for at in 70 $((n / 3)) $((n / 2)) $((n - 40)) $((n - 1)); do
		head -c "$at" "$D/impressions.mev" > cut.mev
		python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[2])] ^= 0x10
open("flip.mev", "wb").write(b)
' "$D/impressions.mev" "$at"
		for f in cut.mev flip.mev; do
			run --separate-stderr muse-sketch -o out.msk "$D/plays.mev" "$f"
			expect_status 2
			want=$stderr
			run --separate-stderr muse-sketch --read-ahead -o out.msk "$D/plays.mev" "$f"
			expect_status 2
			[ "$stderr" = "$want" ] || fail "$f at $at: '$stderr', without: '$want'"
			no_partial out.msk
		done
	done
}

@test "user-hash buckets merged equal the whole, byte for byte" {
	for b in 0 1 2; do
		muse-sketch --bucket "$b/3" -o "b$b.msk" $EV
	done
	muse-merge b0.msk b1.msk b2.msk > merged.msk
	cmp "$D/store.msk" merged.msk
}

@test "impressions alone (no plays, no affinities) make a valid store" {
	run --separate-stderr muse-sketch -o out.msk "$D/ti.mev"
	expect_status 0
	[ -z "$stderr" ] || fail "stderr: $stderr"
	run --separate-stderr muse-cat --check out.msk
	expect_status 0
	expect_output_contains ": 2 records: ok"
}

@test "-o FILE writes the file whole, with the bytes of stdout" {
	run --separate-stderr muse-sketch -o out.msk $EV
	expect_status 0
	[ -z "$output" ] || fail "stdout not empty"
	cmp "$D/store.msk" out.msk
	! ls out.msk.tmp.* 2>/dev/null || fail "temporary left"
}

@test "-o FILE: bad input leaves no file, and an existing FILE untouched" {
	head -c 150 "$D/ti.mev" > cut.mev
	run --separate-stderr muse-sketch -o out.msk "$D/tp.mev" cut.mev
	expect_status 2
	no_partial out.msk
	echo precious > keep.msk
	run --separate-stderr muse-sketch -o keep.msk "$D/tp.mev" cut.mev
	expect_status 2
	[ "$(cat keep.msk)" = precious ] || fail "keep.msk was replaced"
	! ls keep.msk.tmp.* 2>/dev/null || fail "temporary left"
}

@test "-o FILE: a failed write leaves no file and no temporary" {
	run --separate-stderr bash -c \
	    'trap "" XFSZ; ulimit -f 4; muse-sketch -o out.msk "$@"' _ $EV
	expect_status 2
	expect_stderr_contains "muse-sketch: out.msk: write error"
	no_partial out.msk
}

@test "-o FIFO writes into the FIFO instead of replacing it" {
	mkfifo fifo
	timeout 10 cat fifo > got &
	reader=$!
	run --separate-stderr muse-sketch -o fifo "$D/ti.mev" "$D/tp.mev" "$D/ta.mev"
	[ -p fifo ] || { kill "$reader" 2>/dev/null; fail "fifo was replaced by a regular file"; }
	wait "$reader" || fail "reader status $?"
	expect_status 0
	cmp "$D/tiny.msk" got
}

@test "an empty input is an error" {
	run --separate-stderr bash -c 'muse-sketch < /dev/null > stdout.msk'
	expect_status 2
	expect_stderr_contains "muse-sketch: "
	: > empty.mev
	run --separate-stderr muse-sketch -o out.msk empty.mev
	expect_status 2
	expect_stderr_contains "empty.mev"
	no_partial out.msk
}

@test "an empty file among inputs is an error (a stream cut to nothing)" {
	: > empty.mev
	run --separate-stderr muse-sketch -o out.msk "$D/ti.mev" empty.mev
	expect_status 2
	expect_stderr_contains "empty.mev"
	no_partial out.msk
}

@test "an event stream cut at any offset is an error, and no file is written" {
	python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
for n in range(1, len(b)):
    open("cut.%d" % n, "wb").write(b[:n])
' "$D/ti.mev"
	for f in cut.*; do
		refused_quiet "$f" "muse-sketch: $f: byte *: truncated *" \
		    muse-sketch -o out.msk "$D/tp.mev" "$f" "$D/ta.mev"
		[ ! -e out.msk ] || fail "$f: out.msk written"
	done
	! ls out.msk.tmp.* 2>/dev/null || fail "temporary left"
}

@test "a flipped bit anywhere is detected" {
	python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
for off in range(0, len(b), 7):
    c = bytearray(b)
    c[off] ^= 1 << (off % 8)
    open("flip.%d" % off, "wb").write(c)
' "$D/ti.mev"
	for f in flip.*; do
		refused_quiet "$f" "muse-sketch: $f: *" muse-sketch "$D/tp.mev" "$f"
	done
}

@test "trailing garbage is an error" {
	{ cat "$D/ti.mev"; printf 'garbage'; } > tail.mev
	run --separate-stderr muse-sketch -o out.msk tail.mev
	expect_status 2
	expect_stderr_contains "not a muse stream"
	no_partial out.msk
}

@test "a sketch stream as input is refused with a clear message" {
	run --separate-stderr muse-sketch -o out.msk "$D/ti.mev" "$D/tiny.msk"
	expect_status 2
	expect_stderr_contains "$D/tiny.msk"
	expect_stderr_contains "expected an event stream"
	no_partial out.msk
}

@test "a CSV file as input is refused with a clear message" {
	run --separate-stderr muse-sketch -o out.msk "$D/tiny-imp.csv"
	expect_status 2
	expect_stderr_contains "tiny-imp.csv"
	expect_stderr_contains "not a muse stream"
	no_partial out.msk
}

@test "writing to /dev/full is an error" {
	run --separate-stderr bash -c 'muse-sketch "$@" > /dev/full' _ $EV
	expect_status 2
	expect_stderr_contains "muse-sketch: "
	expect_stderr_contains "write error"
}

@test "writing to /dev/full: the error is reported once" {
	run --separate-stderr bash -c 'muse-sketch "$@" > /dev/full' _ $EV
	expect_status 2
	[ "$(printf '%s\n' "$stderr" | grep -c 'write error')" -eq 1 ] ||
	    fail "reported more than once: $stderr"
}

@test "| head -c1: SIGPIPE ends it quietly" {
	run bash -c 'set -o pipefail; muse-sketch --lgk 16 "$@" 2>err | head -c1 >/dev/null' _ $EV
	[ "$status" -eq 0 ] || [ "$status" -eq 141 ] ||
	    fail "status $status: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
}

@test "binary output to a terminal is refused unless --force" {
	run script -qec "muse-sketch $D/ti.mev" /dev/null < /dev/null
	expect_status 2
	expect_output_contains "muse-sketch: "
	expect_output_contains "terminal"
	run script -qec "muse-sketch --force $D/ti.mev $D/tp.mev $D/ta.mev" \
	    /dev/null < /dev/null
	expect_status 0
	expect_output_contains "MUSE"
}
