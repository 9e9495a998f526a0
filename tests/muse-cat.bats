#!/usr/bin/env bats
# muse-cat: print and check any muse stream (SPEC 2, 6, 8).

load helpers
bats_require_minimum_version 1.5.0

# Streams shared by the tests, made once: the small tables as event
# streams and a store, and a tiny sketch stream of a few hundred bytes
# for the every-offset loops.
setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	gen_small
	for t in impressions plays affinities; do
		muse-ingest -o "$t.mev" "$t.csv" || return 1
	done
	muse-sketch -o store.msk impressions.mev plays.mev affinities.mev || return 1
	printf '%s\n' 'ts,user_id,asset_id,title_id,country' \
	    '2025-07-01T10:00:00Z,u1,t1-a1,t1,US' \
	    '2025-07-01T11:00:00Z,u2,t1-a2,t1,FR' > tiny-imp.csv
	printf '%s\n' 'ts,user_id,title_id,duration_s' \
	    '2025-07-01T10:30:00Z,u1,t1,120' > tiny-plays.csv
	muse-ingest -o ti.mev tiny-imp.csv || return 1
	printf '%s\n' 'user_id,cluster' 'u1,Anime' > tiny-aff.csv
	muse-ingest -o tp.mev tiny-plays.csv || return 1
	muse-ingest -o ta.mev tiny-aff.csv || return 1
	muse-sketch -o tiny.msk ti.mev tp.mev ta.mev || return 1
}

D=$BATS_FILE_TMPDIR

# flips FILE: writes flip.OFF for every 7th byte offset of FILE, with bit
# OFF % 8 of that byte inverted.
flips() {
	python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
for off in range(0, len(b), 7):
    c = bytearray(b)
    c[off] ^= 1 << (off % 8)
    open("flip.%d" % off, "wb").write(c)
' "$1"
}

@test "--help prints usage on stdout and exits 0" {
	check_help muse-cat
}

@test "--version names the program" {
	check_version muse-cat
}

@test "an unknown option is a usage error" {
	run --separate-stderr muse-cat --bogus "$D/tiny.msk"
	expect_status 2
	expect_stderr_contains "muse-cat: "
	expect_stderr_contains "--bogus"
	expect_stderr_contains "Try 'muse-cat --help'"
	[ -z "$output" ] || fail "stdout: $output"
}

@test "a mistyped option or format is met with the nearest valid one" {
	local p=muse-cat s=$D/tiny.msk
	suggests "$p: unknown option \"--chek\"; did you mean \"--check\"?" $p --chek "$s"
	suggests "$p: unknown option \"--fromat\"; did you mean \"--format\"?" $p --fromat json "$s"
	suggests "$p: unknown format \"jsn\"; did you mean \"json\"?" $p -o jsn "$s"
	suggests "$p: unknown format \"xml\" (tsv, json)" $p -o xml "$s"
}

@test "an unknown --format is a usage error" {
	run --separate-stderr muse-cat -o xml "$D/tiny.msk"
	expect_status 2
	expect_stderr_contains 'unknown format "xml"'
	expect_stderr_contains "Try 'muse-cat --help'"
	[ -z "$output" ] || fail "stdout: $output"
}

@test "prints a sketch stream as TSV: header comment, column names, rows" {
	run --separate-stderr muse-cat "$D/tiny.msk"
	expect_status 0
	[[ ${lines[0]} == "# sketch dims=title,asset,date,segment "* ]] || fail "$output"
	[[ ${lines[1]} == title$'\t'asset$'\t'date$'\t'segment$'\t'impressions$'\t'* ]] ||
	    fail "$output"
	[ "${#lines[@]}" -eq 5 ] || fail "$output"
	[[ ${lines[2]} == t1$'\t't1-a1$'\t'2025-07-01$'\t''*'$'\t'1$'\t'1$'\t'* ]] ||
	    fail "${lines[2]}"
}

@test "prints an event stream; user ids appear only as hashes" {
	run --separate-stderr muse-cat "$D/ti.mev"
	expect_status 0
	[ "${lines[0]}" = "# events table=impressions" ] || fail "$output"
	[ "${#lines[@]}" -eq 4 ] || fail "$output"
	case $output in *u1*|*u2*) fail "raw user id printed: $output" ;; esac
}

@test "--format json: one JSON object per line" {
	run --separate-stderr muse-cat -o json "$D/tiny.msk" "$D/ti.mev"
	expect_status 0
	printf '%s\n' "$output" > out.json
	python3 -c '
import json, sys
n = 0
for line in open("out.json"):
    json.loads(line)
    n += 1
sys.exit(0 if n >= 6 else "only %d lines" % n)'
}

@test "--check prints one ok line per stream" {
	run --separate-stderr muse-cat --check "$D/store.msk" "$D/ti.mev"
	expect_status 0
	[ "${#lines[@]}" -eq 2 ] || fail "$output"
	[[ ${lines[0]} == "$D/store.msk: stream 1: sketch "*": ok" ]] || fail "$output"
	[[ ${lines[1]} == "$D/ti.mev: stream 1: events table=impressions: 2 records: ok" ]] ||
	    fail "$output"
}

@test "--check -q prints nothing; the status tells" {
	run --separate-stderr muse-cat --check -q "$D/tiny.msk"
	expect_status 0
	[ -z "$output" ] || fail "stdout: $output"
	head -c 100 "$D/tiny.msk" > cut.msk
	run --separate-stderr muse-cat --check -q cut.msk
	expect_status 2
	[ -z "$output" ] || fail "stdout: $output"
}

@test "stdin: no file and - read standard input" {
	muse-cat "$D/tiny.msk" > want
	run --separate-stderr bash -c 'muse-cat < "$1" > none' _ "$D/tiny.msk"
	expect_status 0
	run --separate-stderr bash -c 'muse-cat - < "$1" > dash' _ "$D/tiny.msk"
	expect_status 0
	cmp want none
	cmp want dash
	run --separate-stderr bash -c 'muse-cat --check < "$1"' _ "$D/tiny.msk"
	expect_status 0
	[[ $output == "<stdin>: stream 1: sketch "* ]] || fail "$output"
}

@test "concatenated streams are each read, in order" {
	cat "$D/ti.mev" "$D/tiny.msk" "$D/tp.mev" > cat.bin
	run --separate-stderr muse-cat --check cat.bin
	expect_status 0
	[ "${#lines[@]}" -eq 3 ] || fail "$output"
	[[ ${lines[0]} == "cat.bin: stream 1: events table=impressions: 2 records: ok" ]] || fail "$output"
	[[ ${lines[1]} == "cat.bin: stream 2: sketch "*": 3 records: ok" ]] || fail "$output"
	[[ ${lines[2]} == "cat.bin: stream 3: events table=plays: 1 records: ok" ]] || fail "$output"
}

@test "an empty input is an error" {
	: > empty
	run --separate-stderr muse-cat empty
	expect_status 2
	[ "$stderr" = "muse-cat: empty: empty input (no stream)" ] || fail "$stderr"
	run --separate-stderr bash -c 'muse-cat < empty'
	expect_status 2
	expect_stderr_contains "<stdin>"
}

@test "a file that is not a stream is an error" {
	run --separate-stderr muse-cat "$D/tiny-imp.csv"
	expect_status 2
	expect_stderr_contains "tiny-imp.csv"
	expect_stderr_contains "not a muse stream"
}

@test "a missing file is reported and the others still checked" {
	run --separate-stderr muse-cat --check nosuch "$D/tiny.msk"
	expect_status 2
	[ "$stderr" = "muse-cat: nosuch: cannot open: No such file or directory" ] ||
	    fail "$stderr"
	[[ $output == "$D/tiny.msk: stream 1: "*": ok" ]] || fail "$output"
}

# cuts FILE [STEP]: writes cut.N, the first N bytes of FILE, for every
# N < its size (every STEP-th N).
cuts() {
	python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
for n in range(1, len(b), int(sys.argv[2])):
    open("cut.%d" % n, "wb").write(b[:n])
' "$1" "${2:-1}"
}

@test "a sketch stream cut at any offset is an error, never a smaller answer" {
	cuts "$D/tiny.msk"
	for f in cut.*; do
		refused "$f" "muse-cat: $f: byte *: truncated *" muse-cat "$f"
	done
}

@test "an event stream cut at every 5th offset fails --check" {
	cuts "$D/ti.mev" 5
	for f in cut.*; do
		refused "$f" "muse-cat: $f: byte *: truncated *" muse-cat --check "$f"
		[ ! -s out ] || fail "$f: stdout: $(cat out)"
	done
}

@test "a cut inside the second of two concatenated streams is an error" {
	cat "$D/tiny.msk" "$D/tiny.msk" > two.msk
	size=$(stat -c %s two.msk)
	one=$(stat -c %s "$D/tiny.msk")
	for n in $((one + 1)) $((one + 63)) $((one + 64)) $((size - 1)); do
		head -c "$n" two.msk > cut.msk
		refused "cut at $n" "muse-cat: cut.msk: byte *: truncated *" \
		    muse-cat --check cut.msk
	done
}

@test "a flipped bit anywhere is detected" {
	flips "$D/tiny.msk"
	for f in flip.*; do
		refused "$f" "muse-cat: $f: *" muse-cat "$f"
	done
	rm flip.*
	flips "$D/ti.mev"
	for f in flip.*; do
		refused "$f" "muse-cat: $f: *" muse-cat --check "$f"
	done
}

@test "a flipped bit in a block is a checksum mismatch at its byte" {
	python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[100] ^= 4
open("bad.msk", "wb").write(b)' "$D/tiny.msk"
	run --separate-stderr muse-cat --check bad.msk
	expect_status 2
	[ "$stderr" = "muse-cat: bad.msk: byte 64: block checksum mismatch" ] ||
	    fail "$stderr"
}

@test "trailing garbage is an error" {
	{ cat "$D/tiny.msk"; printf 'garbage'; } > tail.msk
	size=$(stat -c %s "$D/tiny.msk")
	run --separate-stderr muse-cat --check tail.msk
	expect_status 2
	expect_stderr_contains "tail.msk: byte $size: not a muse stream"
}

@test "writing to /dev/full is an error" {
	run --separate-stderr bash -c 'muse-cat "$1" > /dev/full' _ "$D/store.msk"
	expect_status 2
	expect_stderr_contains "muse-cat: "
	expect_stderr_contains "write error"
	run --separate-stderr bash -c 'muse-cat --check "$1" > /dev/full' _ "$D/tiny.msk"
	expect_status 2
	expect_stderr_contains "write error"
}

@test "writing to /dev/full: the error is reported once" {
	run --separate-stderr bash -c 'muse-cat "$1" > /dev/full' _ "$D/store.msk"
	expect_status 2
	[ "$(printf '%s\n' "$stderr" | grep -c 'write error')" -eq 1 ] ||
	    fail "reported more than once: $stderr"
}

@test "| head -c1: SIGPIPE ends it quietly" {
	run bash -c 'set -o pipefail; muse-cat "$1" 2>err | head -c1 >/dev/null' _ "$D/store.msk"
	[ "$status" -eq 0 ] || [ "$status" -eq 141 ] ||
	    fail "status $status: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
	run bash -c 'set -o pipefail; muse-cat -o json "$1" 2>err | head -c1 >/dev/null' _ "$D/impressions.mev"
	[ "$status" -eq 0 ] || [ "$status" -eq 141 ] ||
	    fail "status $status: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
}
