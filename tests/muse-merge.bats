#!/usr/bin/env bats
# muse-merge: sketch streams to one sorted, merged stream (SPEC 2, 4, 6, 8).

load helpers
bats_require_minimum_version 1.5.0

# Made once: event streams of the small tables, the store over all days,
# one store per day, a tiny store of a few hundred bytes for the
# every-offset loop, and tiny stores built with other parameters.
setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	gen_small
	for t in impressions plays affinities; do
		muse-ingest -o "$t.mev" "$t.csv" || return 1
	done
	set -- impressions.mev plays.mev affinities.mev
	muse-sketch -o store.msk "$@" || return 1
	for d in 01 02 03 04; do
		muse-sketch -o "day$d.msk" --date "2025-07-$d" "$@" || return 1
	done
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
	muse-sketch -o lgk.msk --lgk 12 "$@" || return 1
	muse-sketch -o by.msk --by title,date "$@" || return 1
	muse-sketch -o qualify.msk --qualify 30 "$@" || return 1
}

D=$BATS_FILE_TMPDIR

@test "--help prints usage on stdout and exits 0" {
	check_help muse-merge
}

@test "--version names the program" {
	check_version muse-merge
}

@test "an unknown option is a usage error" {
	run --separate-stderr muse-merge --bogus "$D/tiny.msk"
	expect_status 2
	expect_stderr_contains "muse-merge: "
	expect_stderr_contains "--bogus"
	expect_stderr_contains "Try 'muse-merge --help'"
	[ -z "$output" ] || fail "stdout: $output"
}

@test "a mistyped option, rollup or dimension is met with the nearest valid one" {
	local p=muse-merge s=$D/tiny.msk
	suggests "$p: unknown option \"--rolup\"; did you mean \"--rollup\"?" $p --rolup week "$s"
	suggests "$p: unknown option \"--memroy\"; did you mean \"--memory\"?" $p --memroy=1M "$s"
	suggests "$p: unknown rollup \"mnth\"; did you mean \"month\"?" $p --rollup mnth "$s"
	suggests "$p: unknown rollup \"year\" (week, month, quarter, all)" $p --rollup year "$s"
	suggests "$p: unknown dimension \"contry\"; did you mean \"country\"?" $p --drop contry "$s"
}

@test "bad --rollup, --drop and --memory values are usage errors" {
	for args in "--rollup year" "--drop foo" "--drop title,bar" \
	    "--memory 0" "--memory x" "--memory 1T" "--memory -1M" "--memory ''"; do
		eval "run --separate-stderr muse-merge $args \"\$D/tiny.msk\""
		expect_status 2
		expect_stderr_contains "Try 'muse-merge --help'"
		[ -z "$output" ] || fail "$args: stdout not empty"
	done
}

@test "a merged store merges to itself unchanged" {
	run --separate-stderr muse-merge -o out.msk "$D/store.msk"
	expect_status 0
	cmp "$D/store.msk" out.msk
}

@test "daily stores merged equal one run over all days, byte for byte" {
	run --separate-stderr muse-merge -o out.msk "$D"/day0{1,2,3,4}.msk
	expect_status 0
	cmp "$D/store.msk" out.msk
}

@test "merge is commutative: input order does not change the bytes" {
	muse-merge "$D"/day0{1,2,3,4}.msk > a.msk
	muse-merge "$D"/day0{4,2,1,3}.msk > b.msk
	cmp a.msk b.msk
}

@test "spilling to \$TMPDIR gives the same bytes and leaves nothing there" {
	mkdir tmp
	run --separate-stderr env TMPDIR="$PWD/tmp" muse-merge --memory 1K \
	    -o out.msk "$D"/day0{1,2,3,4}.msk
	expect_status 0
	cmp "$D/store.msk" out.msk
	[ -z "$(ls -A tmp)" ] || fail "left in TMPDIR: $(ls -A tmp)"
}

@test "--rollup and --drop give valid sorted streams" {
	for args in "--rollup week" "--rollup month" "--rollup all" "--drop asset" \
	    "--drop segment"; do
		muse-merge $args "$D/store.msk" > out.msk
		run --separate-stderr muse-cat --check out.msk
		expect_status 0
		expect_output_contains "sorted=yes"
	done
}

@test "stdin: no file and - read standard input" {
	muse-merge "$D/tiny.msk" > want.msk
	run --separate-stderr bash -c 'muse-merge < "$1" > none.msk' _ "$D/tiny.msk"
	expect_status 0
	run --separate-stderr bash -c 'muse-merge - < "$1" > dash.msk' _ "$D/tiny.msk"
	expect_status 0
	cmp want.msk none.msk
	cmp want.msk dash.msk
}

@test "concatenated streams on stdin merge like separate files" {
	muse-merge "$D"/day0{1,2,3,4}.msk > want.msk
	cat "$D"/day0{1,2,3,4}.msk > cat.msk
	run --separate-stderr bash -c 'muse-merge < cat.msk > got.msk'
	expect_status 0
	cmp want.msk got.msk
	run --separate-stderr muse-cat --check got.msk
	expect_status 0
}

@test "-o FILE writes the file whole, with the bytes of stdout" {
	muse-merge "$D/tiny.msk" > stdout.msk
	run --separate-stderr muse-merge -o out.msk "$D/tiny.msk"
	expect_status 0
	[ -z "$output" ] || fail "stdout not empty"
	cmp stdout.msk out.msk
	! ls out.msk.tmp.* 2>/dev/null || fail "temporary left"
}

@test "-o FILE: bad input leaves no file, and an existing FILE untouched" {
	head -c 150 "$D/tiny.msk" > cut.msk
	run --separate-stderr muse-merge -o out.msk "$D/tiny.msk" cut.msk
	expect_status 2
	no_partial out.msk
	echo precious > keep.msk
	run --separate-stderr muse-merge -o keep.msk "$D/tiny.msk" cut.msk
	expect_status 2
	[ "$(cat keep.msk)" = precious ] || fail "keep.msk was replaced"
	! ls keep.msk.tmp.* 2>/dev/null || fail "temporary left"
}

@test "-o FILE: a failed write leaves no file and no temporary" {
	run --separate-stderr bash -c \
	    'trap "" XFSZ; ulimit -f 4; muse-merge -o out.msk "$1"' _ "$D/store.msk"
	expect_status 2
	expect_stderr_contains "muse-merge: out.msk: write error"
	no_partial out.msk
}

@test "-o FIFO writes into the FIFO instead of replacing it" {
	mkfifo fifo
	timeout 10 cat fifo > got &
	reader=$!
	run --separate-stderr muse-merge -o fifo "$D/tiny.msk"
	[ -p fifo ] || { kill "$reader" 2>/dev/null; fail "fifo was replaced by a regular file"; }
	wait "$reader" || fail "reader status $?"
	expect_status 0
	muse-merge "$D/tiny.msk" | cmp - got
}

@test "a different --window refuses to merge, naming the window" {
	run --separate-stderr muse-merge -o out.msk "$D/tiny.msk" "$D/window.msk"
	expect_status 2
	[ "$stderr" = "muse-merge: $D/window.msk: attribution window differs: 86400 s vs 3600 s" ] ||
	    fail "$stderr"
	no_partial out.msk
}

@test "a different --lgk, --by or --qualify refuses to merge" {
	run --separate-stderr muse-merge "$D/tiny.msk" "$D/lgk.msk"
	expect_status 2
	expect_stderr_contains "lgk 14 vs 12"
	run --separate-stderr muse-merge "$D/tiny.msk" "$D/by.msk"
	expect_status 2
	expect_stderr_contains 'dimensions differ'
	run --separate-stderr muse-merge "$D/tiny.msk" "$D/qualify.msk"
	expect_status 2
	expect_stderr_contains 'qualify threshold differs'
}

@test "mismatched streams concatenated on stdin refuse to merge" {
	cat "$D/tiny.msk" "$D/window.msk" > cat.msk
	run --separate-stderr bash -c 'muse-merge < cat.msk > out.msk'
	expect_status 2
	expect_stderr_contains "<stdin>"
	expect_stderr_contains "window"
}

@test "an event stream is refused with a clear message" {
	run --separate-stderr muse-merge "$D/ti.mev"
	expect_status 2
	[ "$stderr" = "muse-merge: $D/ti.mev: expected a sketch stream, found an event stream (run muse-sketch first)" ] ||
	    fail "$stderr"
	cat "$D/tiny.msk" "$D/ti.mev" > cat.bin
	run --separate-stderr bash -c 'muse-merge < cat.bin > out.msk'
	expect_status 2
	expect_stderr_contains "event stream"
}

@test "an empty input is an error" {
	: > empty.msk
	run --separate-stderr muse-merge -o out.msk empty.msk
	expect_status 2
	expect_stderr_contains "muse-merge: "
	no_partial out.msk
	run --separate-stderr bash -c 'muse-merge < /dev/null > out.msk'
	expect_status 2
}

@test "an empty file among stores is an error (a stream cut to nothing)" {
	: > empty.msk
	run --separate-stderr muse-merge -o out.msk "$D/tiny.msk" empty.msk
	expect_status 2
	expect_stderr_contains "empty.msk"
	no_partial out.msk
}

@test "a stream cut at any offset is an error, and no file is written" {
	python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
for n in range(1, len(b)):
    open("cut.%d" % n, "wb").write(b[:n])
' "$D/tiny.msk"
	for f in cut.*; do
		refused "$f" "muse-merge: $f: byte *: truncated *" \
		    muse-merge -o out.msk "$f"
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
' "$D/tiny.msk"
	for f in flip.*; do
		refused "$f" "muse-merge: $f: *" muse-merge "$f"
		[ ! -s out ] || fail "$f: output written"
	done
}

@test "trailing garbage is an error" {
	{ cat "$D/tiny.msk"; printf 'garbage'; } > tail.msk
	run --separate-stderr muse-merge -o out.msk tail.msk
	expect_status 2
	expect_stderr_contains "not a muse stream"
	no_partial out.msk
}

@test "writing to /dev/full is an error" {
	run --separate-stderr bash -c 'muse-merge "$1" > /dev/full' _ "$D/store.msk"
	expect_status 2
	expect_stderr_contains "muse-merge: "
	expect_stderr_contains "write error"
}

@test "writing to /dev/full: the error is reported once" {
	run --separate-stderr bash -c 'muse-merge "$1" > /dev/full' _ "$D/store.msk"
	expect_status 2
	[ "$(printf '%s\n' "$stderr" | grep -c 'write error')" -eq 1 ] ||
	    fail "reported more than once: $stderr"
}

@test "| head -c1: SIGPIPE ends it quietly" {
	run bash -c 'set -o pipefail; muse-merge "$@" 2>err | head -c1 >/dev/null' \
	    _ "$D"/day0{1,2,3,4}.msk
	[ "$status" -eq 0 ] || [ "$status" -eq 141 ] ||
	    fail "status $status: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
}

@test "binary output to a terminal is refused unless --force" {
	run script -qec "muse-merge $D/tiny.msk" /dev/null < /dev/null
	expect_status 2
	expect_output_contains "muse-merge: "
	expect_output_contains "terminal"
	run script -qec "muse-merge --force $D/tiny.msk" /dev/null < /dev/null
	expect_status 0
	expect_output_contains "MUSE"
}
