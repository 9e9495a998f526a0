#!/usr/bin/env bats
# muse-ingest: CSV/TSV tables to binary event streams (SPEC 2, 3, 8).

load helpers
bats_require_minimum_version 1.5.0

PLAYS_HDR='ts,user_id,title_id,duration_s,kind'
IMP_HDR='ts,user_id,asset_id,title_id,country'

setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	gen_small
}

# Every test starts in its own directory with the small tables.
setup() {
	valgrind_skip || return
	cd "$BATS_TEST_TMPDIR" || return 1
	gen_small
}

# expect_stderr TEXT: stderr was exactly TEXT.
expect_stderr() {
	[ "$stderr" = "$1" ] || fail "expected stderr:
$1
got:
$stderr"
}

# refused FILE WANT [OPTION...]: ingesting FILE with -o fails with status 2,
# exactly the message WANT, nothing on stdout and no output file.
ingest_refused() {
	local file=$1 want=$2
	shift 2
	run --separate-stderr muse-ingest "$@" -o out.mev "$file"
	expect_status 2
	expect_stderr "$want"
	[ -z "$output" ] || fail "unexpected stdout: $output"
	no_partial out.mev
}

# plays ROW...: writes in.csv, the plays header and the rows.
plays() {
	{
		printf '%s\n' "$PLAYS_HDR"
		printf -- "$(printf '%s\\n' "$@")"
	} > in.csv
}

good_play='2025-07-01T10:30:00Z,u1,t1,120,play'

# ---- options and plumbing ------------------------------------------------

@test "--help prints usage on stdout and exits 0" {
	check_help muse-ingest
}

@test "--version names the program" {
	check_version muse-ingest
}

@test "an unknown option is a usage error" {
	run --separate-stderr muse-ingest --bogus
	expect_status 2
	expect_stderr_contains "muse-ingest: "
	expect_stderr_contains "--bogus"
	expect_stderr_contains "Try 'muse-ingest --help'"
	[ -z "$output" ] || fail "stdout: $output"
}

@test "a mistyped option or table is met with the nearest valid one" {
	local p=muse-ingest
	suggests "$p: unknown option \"--tabel\"; did you mean \"--table\"?" $p --tabel plays x.csv
	suggests "$p: unknown option \"--max-eror\"; did you mean \"--max-errors\"?" $p --max-eror 3 x.csv
	suggests "$p: unknown table \"plyas\"; did you mean \"plays\"?" $p -t plyas x.csv
	suggests "$p: unknown table \"movies\" (impressions, plays, affinities, assets)" $p -t movies x.csv
	# A misspelt column of the header.
	printf '%s\n' 'ts,usr_id,title_id,duration_s' '2025-07-01T00:00:00Z,u1,t1,10' > p.csv
	run --separate-stderr muse-ingest -o p.mev p.csv
	expect_status 2
	[ "$stderr" = "$p: p.csv:1: cannot tell the table from the header; expected the columns of impressions, plays, affinities or assets (or use --table); unknown column \"usr_id\": did you mean \"user_id\"?" ] ||
	    fail "stderr: $stderr"
	run --separate-stderr muse-ingest -t plays -o p.mev p.csv
	expect_status 2
	[ "$stderr" = "$p: p.csv:1: missing column \"user_id\" for table plays; unknown column \"usr_id\": did you mean \"user_id\"?" ] ||
	    fail "stderr: $stderr"
	[ ! -e p.mev ] || fail "p.mev written"
}

@test "a bad --table or --max-errors value is a usage error" {
	run --separate-stderr muse-ingest --table movies impressions.csv
	expect_status 2
	expect_stderr_contains 'unknown table "movies"'
	expect_stderr_contains "Try 'muse-ingest --help'"
	for v in -1 x 1.5 ''; do
		run --separate-stderr muse-ingest --max-errors "$v" impressions.csv
		expect_status 2
		expect_stderr_contains "bad --max-errors \"$v\""
	done
}

@test "the table is inferred from the header of each table" {
	for t in impressions plays affinities assets; do
		run --separate-stderr muse-ingest -o "$t.mev" "$t.csv"
		expect_status 0
		run --separate-stderr muse-cat --check "$t.mev"
		expect_status 0
		expect_output_contains "events table=$t:"
	done
	n=$(($(wc -l < impressions.csv) - 1))
	run --separate-stderr muse-cat --check impressions.mev
	expect_output_contains "table=impressions: $n records: ok"
}

@test "--table gives the table; a table the header does not fit is refused" {
	run --separate-stderr muse-ingest --table plays -o p.mev plays.csv
	expect_status 0
	run muse-ingest -o q.mev plays.csv
	expect_status 0
	cmp p.mev q.mev
	ingest_refused impressions.csv \
	    'muse-ingest: impressions.csv:1: missing column "duration_s" for table plays' \
	    --table plays
}

@test "stdin: no file and - read standard input, same bytes as the file" {
	muse-ingest plays.csv > file.mev
	run --separate-stderr bash -c 'muse-ingest < plays.csv > none.mev'
	expect_status 0
	run --separate-stderr bash -c 'muse-ingest - < plays.csv > dash.mev'
	expect_status 0
	cmp file.mev none.mev
	cmp file.mev dash.mev
}

@test "stdin errors are named <stdin>" {
	plays '2025-13-01,u1,t1,10,play'
	run --separate-stderr bash -c 'muse-ingest < in.csv > out.mev'
	expect_status 2
	expect_stderr 'muse-ingest: <stdin>:2: bad ts "2025-13-01"'
}

@test "several files give one stream each, in order" {
	run --separate-stderr muse-ingest -o all.mev impressions.csv - assets.csv \
	    < plays.csv
	expect_status 0
	run --separate-stderr muse-cat --check all.mev
	expect_status 0
	[ "${#lines[@]}" -eq 3 ] || fail "$output"
	[[ ${lines[0]} == *"stream 1: events table=impressions"* ]] || fail "$output"
	[[ ${lines[1]} == *"stream 2: events table=plays"* ]] || fail "$output"
	[[ ${lines[2]} == *"stream 3: events table=assets"* ]] || fail "$output"
}

@test "-o FILE writes the file whole, with the bytes of stdout" {
	muse-ingest plays.csv > stdout.mev
	run --separate-stderr muse-ingest -o out.mev plays.csv
	expect_status 0
	[ -z "$output" ] || fail "stdout: $output"
	cmp stdout.mev out.mev
	! ls out.mev.tmp.* 2>/dev/null || fail "temporary left"
}

@test "-o FILE: bad input leaves no file and no temporary" {
	plays "$good_play" '2025-13-01,u1,t1,10,play'
	ingest_refused in.csv 'muse-ingest: in.csv:3: bad ts "2025-13-01"'
}

@test "-o FILE: bad input leaves an existing FILE untouched" {
	echo precious > out.mev
	plays "$good_play" 'x,u1,t1,10,play'
	run --separate-stderr muse-ingest -o out.mev in.csv
	expect_status 2
	[ "$(cat out.mev)" = precious ] || fail "out.mev was replaced"
	! ls out.mev.tmp.* 2>/dev/null || fail "temporary left"
}

@test "-o FILE: bad input in the second file leaves no output at all" {
	plays "$good_play" 'x,u1,t1,10,play'
	run --separate-stderr muse-ingest -o out.mev impressions.csv in.csv
	expect_status 2
	expect_stderr 'muse-ingest: in.csv:3: bad ts "x"'
	no_partial out.mev
}

@test "-o FILE: a failed write leaves no file and no temporary" {
	# A 4 KiB file size limit, with SIGXFSZ ignored so write(2) fails.
	run --separate-stderr bash -c \
	    "trap '' XFSZ; ulimit -f 4; muse-ingest -o out.mev impressions.csv"
	expect_status 2
	expect_stderr_contains "muse-ingest: out.mev: write error"
	no_partial out.mev
}

@test "-o FIFO writes into the FIFO instead of replacing it" {
	mkfifo fifo
	timeout 10 cat fifo > got &
	reader=$!
	run --separate-stderr muse-ingest -o fifo plays.csv
	[ -p fifo ] || { kill "$reader" 2>/dev/null; fail "fifo was replaced by a regular file"; }
	wait "$reader" || fail "reader status $?"
	expect_status 0
	muse-ingest plays.csv | cmp - got
}

@test "bad input on stdout leaves a stream without its trailer" {
	plays "$good_play" 'x,u1,t1,10,play'
	run --separate-stderr bash -c 'muse-ingest in.csv > out.mev'
	expect_status 2
	run --separate-stderr muse-cat --check out.mev
	expect_status 2
	expect_stderr_contains "truncated"
}

@test "writing to /dev/full is an error" {
	run --separate-stderr bash -c 'muse-ingest plays.csv > /dev/full'
	expect_status 2
	expect_stderr_contains "muse-ingest: "
	expect_stderr_contains "write error"
}

@test "writing to /dev/full: the error is reported once" {
	run --separate-stderr bash -c 'muse-ingest plays.csv > /dev/full'
	expect_status 2
	[ "$(printf '%s\n' "$stderr" | grep -c 'write error')" -eq 1 ] ||
	    fail "reported more than once: $stderr"
}

@test "| head -c1: SIGPIPE ends it quietly" {
	run bash -c 'set -o pipefail; muse-ingest impressions.csv 2>err | head -c1 >/dev/null'
	[ "$status" -eq 0 ] || [ "$status" -eq 141 ] ||
	    fail "status $status: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
}

@test "binary output to a terminal is refused unless --force" {
	run script -qec "muse-ingest plays.csv" /dev/null < /dev/null
	expect_status 2
	expect_output_contains "muse-ingest: "
	expect_output_contains "terminal"
	run script -qec "muse-ingest --force assets.csv" /dev/null < /dev/null
	expect_status 0
	expect_output_contains "MUSE"
}

# ---- bad input: one message each, file:line, exit 2, no output ------------

@test "bad ts: file:line and the value" {
	plays "$good_play" "$good_play" '2025-13-01,u1,t1,10,play'
	ingest_refused in.csv 'muse-ingest: in.csv:4: bad ts "2025-13-01"'
}

@test "line numbers count physical lines: quoted newlines, blank lines, CRLF" {
	printf '%s\r\n' 'ts,user_id,title_id,duration_s,note' \
	    '2025-07-01T10:30:00Z,u1,t1,120,"two' 'lines"' '' \
	    '2025-13-01,u1,t1,120,x' > in.csv
	ingest_refused in.csv 'muse-ingest: in.csv:5: bad ts "2025-13-01"'
}

@test "bad ts forms are refused" {
	for ts in '2025-07-01' '2025-07-01T00:00:00' '2025-02-30T00:00:00Z' \
	    '2025-07-01T24:00:00Z' '2025-07-01T00:00:00+25:00' '-1' '' 'now'; do
		plays "$ts,u1,t1,10,play"
		ingest_refused in.csv "muse-ingest: in.csv:2: bad ts \"$ts\""
	done
}

@test "every ts form of SPEC 3 is accepted, fractions dropped" {
	for ts in '2025-07-01T10:30:00Z' '2025-07-01T10:30:00.999Z' \
	    '2025-07-01T12:30:00+02:00' '2025-07-01T05:30:00.5-05:00' \
	    '2025-07-01 10:30:00' 1751365800 1751365800999; do
		plays "$ts,u1,t1,10,play"
		run --separate-stderr muse-ingest -o out.mev in.csv
		expect_status 0
		run --separate-stderr muse-cat out.mev
		expect_status 0
		[[ ${lines[2]} == 2025-07-01T10:30:00Z$'\t'* ]] ||
		    fail "$ts read as: ${lines[2]}"
	done
}

@test "a missing column is named" {
	printf 'ts,user_id,title_id\n2025-07-01T10:00:00Z,u1,t1\n' > in.csv
	ingest_refused in.csv \
	    'muse-ingest: in.csv:1: missing column "duration_s" for table plays' \
	    --table plays
}

@test "a header that fits no table is refused" {
	printf 'foo,bar\n1,2\n' > in.csv
	ingest_refused in.csv 'muse-ingest: in.csv:1: cannot tell the table from the header; expected the columns of impressions, plays, affinities or assets (or use --table)'
}

@test "a header that fits two tables is ambiguous; --table settles it" {
	printf 'ts,user_id,asset_id,title_id,country,duration_s\n' > in.csv
	printf '2025-07-01T10:00:00Z,u1,t1-a1,t1,US,10\n' >> in.csv
	ingest_refused in.csv 'muse-ingest: in.csv:1: cannot tell the table from the header (it has the columns of impressions and of plays); use --table'
	run --separate-stderr muse-ingest --table plays -o out.mev in.csv
	expect_status 0
}

@test "a column named twice is refused" {
	printf 'ts,user_id,title_id,duration_s,TS\n' > in.csv
	ingest_refused in.csv 'muse-ingest: in.csv:1: column "ts" appears twice in the header'
}

@test "an unterminated quote is refused" {
	plays "$good_play" '2025-07-01T10:30:00Z,"u1,t1,10,play'
	ingest_refused in.csv 'muse-ingest: in.csv:3: unterminated quoted field'
}

@test "a quote inside an unquoted field is refused" {
	plays '2025-07-01T10:30:00Z,u"1,t1,10,play'
	ingest_refused in.csv 'muse-ingest: in.csv:2: unexpected quote in unquoted field'
}

@test "a wrong field count is refused" {
	plays '2025-07-01T10:30:00Z,u1,t1,10'
	ingest_refused in.csv 'muse-ingest: in.csv:2: expected 5 fields, found 4'
	plays "$good_play" '2025-07-01T10:30:00Z,u1,t1,10,play,extra'
	ingest_refused in.csv 'muse-ingest: in.csv:3: expected 5 fields, found 6'
}

@test "invalid UTF-8 in an identifier is refused" {
	for v in 'u\xff1' 'u\xc3' '\xed\xa0\x80' '\xc0\xaf' '\xf5\x80\x80\x80'; do
		plays "2025-07-01T10:30:00Z,$v,t1,10,play"
		run --separate-stderr muse-ingest -o out.mev in.csv
		expect_status 2
		[[ $stderr == 'muse-ingest: in.csv:2: bad user_id "'*'": invalid UTF-8' ]] ||
		    fail "$v: $stderr"
		no_partial out.mev
	done
	plays '2025-07-01T10:30:00Z,u1,t\xe2\x82\xac1,10,play'
	run --separate-stderr muse-ingest -o out.mev in.csv
	expect_status 0
}

@test "messages escape bytes that are not printable UTF-8" {
	plays '2025-07-01T10:30:00Z,u\xff1,t1,10,play'
	ingest_refused in.csv 'muse-ingest: in.csv:2: bad user_id "u\xff1": invalid UTF-8'
	plays '2025-07-01T10:30:00Z,u\xc2\x851,t1,10,play'
	ingest_refused in.csv 'muse-ingest: in.csv:2: bad user_id "u\xc2\x851": control character'
}

@test "an identifier of 256 bytes is refused, 255 accepted" {
	long=$(printf 'x%.0s' $(seq 255))
	plays "2025-07-01T10:30:00Z,u1,$long,10,play"
	run --separate-stderr muse-ingest -o ok.mev in.csv
	expect_status 0
	plays "2025-07-01T10:30:00Z,u1,${long}y,10,play"
	run --separate-stderr muse-ingest -o out.mev in.csv
	expect_status 2
	[[ $stderr == 'muse-ingest: in.csv:2: bad title_id "xxx'*'...": longer than 255 bytes' ]] ||
	    fail "$stderr"
	no_partial out.mev
}

@test "an empty identifier is refused" {
	plays '2025-07-01T10:30:00Z,,t1,10,play'
	ingest_refused in.csv 'muse-ingest: in.csv:2: bad user_id "": empty'
	printf '%s\n%s\n' "$IMP_HDR" '2025-07-01T10:00:00Z,u1,t1-a1,t1,' > in.csv
	ingest_refused in.csv 'muse-ingest: in.csv:2: bad country "": empty'
}

@test "a control character in an identifier is refused" {
	plays '2025-07-01T10:30:00Z,u\x011,t1,10,play'
	ingest_refused in.csv 'muse-ingest: in.csv:2: bad user_id "u\x011": control character'
	plays '2025-07-01T10:30:00Z,u1,t\t1,10,play'
	ingest_refused in.csv 'muse-ingest: in.csv:2: bad title_id "t\x091": control character'
	plays '2025-07-01T10:30:00Z,u\x7f1,t1,10,play'
	ingest_refused in.csv 'muse-ingest: in.csv:2: bad user_id "u\x7f1": control character'
	plays '2025-07-01T10:30:00Z,"u\n1",t1,10,play'
	ingest_refused in.csv 'muse-ingest: in.csv:2: bad user_id "u\x0a1": control character'
}

@test "a bad kind is refused; play and preview are accepted" {
	plays '2025-07-01T10:30:00Z,u1,t1,10,watch'
	ingest_refused in.csv 'muse-ingest: in.csv:2: bad kind "watch": expected play or preview'
	plays '2025-07-01T10:30:00Z,u1,t1,10,Play'
	ingest_refused in.csv 'muse-ingest: in.csv:2: bad kind "Play": expected play or preview'
	plays "$good_play" '2025-07-01T10:30:00Z,u1,t1,10,preview'
	run --separate-stderr muse-ingest -o out.mev in.csv
	expect_status 0
}

@test "an empty kind is a missing one: a play" {
	plays '2025-07-01T10:30:00Z,u1,t1,10,'
	run --separate-stderr muse-ingest -o out.mev in.csv
	expect_status 0
	muse-cat out.mev | tail -1 | grep -q $'\tplay$' || fail "$(muse-cat out.mev)"
}

@test "durations may start or end with the decimal point" {
	plays '2025-07-01T10:30:00Z,u1,t1,.5,play' '2025-07-01T10:31:00Z,u1,t1,62.,play'
	run --separate-stderr muse-ingest -o out.mev in.csv
	expect_status 0
	muse-cat out.mev | cut -f4 | tail -2 | paste -sd, | grep -qx '0.500,62.000' ||
	    fail "$(muse-cat out.mev)"
}

@test "a negative or garbage duration is refused" {
	for d in -5 -0 abc '' 1e3 inf nan 0x10 ' 5' '5 ' 99999999999999999999; do
		plays "2025-07-01T10:30:00Z,u1,t1,$d,play"
		ingest_refused in.csv "muse-ingest: in.csv:2: bad duration_s \"$d\""
	done
	plays '2025-07-01T10:30:00Z,u1,t1,0,play' '2025-07-01T10:30:00Z,u1,t1,12.5,play'
	run --separate-stderr muse-ingest -o out.mev in.csv
	expect_status 0
}

@test "an empty file is refused" {
	: > in.csv
	ingest_refused in.csv 'muse-ingest: in.csv: empty input (no header row)'
	run --separate-stderr bash -c 'muse-ingest < /dev/null > out.mev'
	expect_status 2
	expect_stderr 'muse-ingest: <stdin>: empty input (no header row)'
}

@test "a header-only file is a valid empty table" {
	printf '%s\n' "$PLAYS_HDR" > in.csv
	run --separate-stderr muse-ingest -o out.mev in.csv
	expect_status 0
	run --separate-stderr muse-cat --check out.mev
	expect_status 0
	expect_output_contains "events table=plays: 0 records: ok"
}

@test "affinities: '|' separates clusters; an empty cluster is refused" {
	printf 'user_id,cluster\nu1,Anime|Sci-Fi & Fantasy\n' > in.csv
	run --separate-stderr muse-ingest -o ok.mev in.csv
	expect_status 0
	run --separate-stderr muse-cat --check ok.mev
	expect_output_contains "table=affinities: 2 records: ok"
	printf 'user_id,cluster\nu1,Anime||Drama\n' > in.csv
	ingest_refused in.csv 'muse-ingest: in.csv:2: bad cluster "Anime||Drama": empty'
}

# ---- skipping bad rows -----------------------------------------------------

# Three bad rows among good ones; one good row quotes a comma.
bad_rows() {
	plays "$good_play" \
	    '2025-13-01,u1,t1,10,play' \
	    '2025-07-01T10:31:00Z,"u,2",t1,60,play' \
	    '2025-07-01T10:32:00Z,u3,t1,x,play' \
	    '2025-07-01T10:33:00Z,u4,t1,5,preview' \
	    '2025-07-01T10:34:00Z,,t1,10,play'
}

@test "--max-errors 2 skips two bad rows, reports them, output valid" {
	plays "$good_play" '2025-13-01,u1,t1,10,play' \
	    '2025-07-01T10:32:00Z,u3,t1,x,play' '2025-07-01T10:33:00Z,u4,t1,5,play'
	run --separate-stderr muse-ingest --max-errors 2 -o out.mev in.csv
	expect_status 0
	expect_stderr 'muse-ingest: in.csv:3: bad ts "2025-13-01"
muse-ingest: in.csv:4: bad duration_s "x"'
	run --separate-stderr muse-cat --check out.mev
	expect_status 0
	expect_output_contains "table=plays: 2 records: ok"
}

@test "--max-errors 2 fails on the third bad row, no output" {
	bad_rows
	run --separate-stderr muse-ingest --max-errors 2 -o out.mev in.csv
	expect_status 2
	expect_stderr_contains 'muse-ingest: in.csv:3: bad ts "2025-13-01"'
	expect_stderr_contains 'muse-ingest: in.csv:5: bad duration_s "x"'
	expect_stderr_contains 'muse-ingest: in.csv:7: bad user_id "": empty'
	no_partial out.mev
}

@test "-q does not report skipped rows" {
	bad_rows
	run --separate-stderr muse-ingest -q --max-errors 3 -o out.mev in.csv
	expect_status 0
	[ -z "$stderr" ] || fail "stderr: $stderr"
}

@test "--rejects keeps exactly the skipped rows, with the header" {
	bad_rows
	run --separate-stderr muse-ingest --max-errors 3 --rejects rej.csv \
	    -o out.mev in.csv
	expect_status 0
	printf '%s\n' "$PLAYS_HDR" '2025-13-01,u1,t1,10,play' \
	    '2025-07-01T10:32:00Z,u3,t1,x,play' \
	    '2025-07-01T10:34:00Z,,t1,10,play' > want.csv
	diff want.csv rej.csv
	run --separate-stderr muse-cat --check out.mev
	expect_output_contains "table=plays: 3 records: ok"
	! ls rej.csv.tmp.* 2>/dev/null || fail "temporary left"
}

@test "--rejects quotes fields that need it" {
	plays '2025-13-01,"u,1","t""1",10,play'
	run --separate-stderr muse-ingest --max-errors 1 --rejects rej.csv \
	    -o out.mev in.csv
	expect_status 0
	diff in.csv rej.csv
}

@test "--rejects keeps a row refused for its CSV syntax as it was" {
	plays "$good_play" '2025-07-01T10:31:00Z,u"2,t1,10,play' \
	    '2025-07-01T10:32:00Z,u3,t1,10,play'
	run --separate-stderr muse-ingest --max-errors 1 --rejects rej.csv \
	    -o out.mev in.csv
	expect_status 0
	printf '%s\n' "$PLAYS_HDR" '2025-07-01T10:31:00Z,u"2,t1,10,play' > want.csv
	diff want.csv rej.csv
}

@test "--rejects after a long record refused for its syntax (memory safety)" {
	# The bad record is longer than the reader's first buffer, so the
	# buffer moves while it is read.
	python3 -c '
import sys
sys.stdout.write("ts,user_id,title_id,duration_s,kind\n"
    "2025-07-01T10:30:00Z,u1,t1,120,play\n"
    "2025-07-01T10:31:00Z," + "x" * (3 << 20) + "u\"2,t1,10,play\n"
    "2025-07-01T10:32:00Z,u3,t1,10,play\n")' > in.csv
	run --separate-stderr muse-ingest --max-errors 1 --rejects rej.csv \
	    -o out.mev in.csv
	expect_status 0
	[ "$(wc -l < rej.csv)" -eq 2 ] || fail "rejects: $(head -c 200 rej.csv)"
	[ "$(sed -n 2p rej.csv | wc -c)" -gt $((3 << 20)) ] ||
	    fail "the rejected row was not kept: $(sed -n 2p rej.csv | head -c 200)"
}

@test "--rejects with files of different tables keeps each row under its header" {
	printf '%s\n%s\n' "$IMP_HDR" 'x,u2,t1-a2,t1,FR' > imp.csv
	printf '%s\n%s\n' "${PLAYS_HDR%,kind}" '2025-13-01,u1,t1,10' > in.csv
	run --separate-stderr muse-ingest --max-errors 2 --rejects rej.csv \
	    -o out.mev imp.csv in.csv
	if [ "$status" -eq 0 ]; then
		# Each rejected row sits under a header of its own table.
		IMP_HDR=$IMP_HDR PLAYS_HDR=$PLAYS_HDR python3 -c '
import csv, os, sys
headers = [os.environ["IMP_HDR"].split(","), os.environ["PLAYS_HDR"].split(",")[:4]]
cur = None
for r in csv.reader(open("rej.csv", newline="")):
    if r in headers:
        cur = r
    elif cur is None or len(r) != len(cur):
        sys.exit("row %r under header %r" % (r, cur))
' || fail "rejects: $(cat rej.csv)"
	else
		expect_status 2
		no_partial rej.csv out.mev
	fi
}

@test "--rejects is not left behind when the run fails" {
	bad_rows
	run --separate-stderr muse-ingest --max-errors 1 --rejects rej.csv \
	    -o out.mev in.csv
	expect_status 2
	no_partial rej.csv out.mev
}

# ---- text forms ------------------------------------------------------------

@test "BOM and CRLF give the same stream as plain LF" {
	muse-ingest impressions.csv > lf.mev
	{ printf '\357\273\277'; sed 's/$/\r/' impressions.csv; } > crlf.csv
	run --separate-stderr muse-ingest -o crlf.mev crlf.csv
	expect_status 0
	cmp lf.mev crlf.mev
}

@test "TSV gives the same stream as CSV" {
	muse-ingest plays.csv > csv.mev
	tr , '\t' < plays.csv > plays.tsv
	run --separate-stderr muse-ingest -o tsv.mev plays.tsv
	expect_status 0
	cmp csv.mev tsv.mev
}

@test "header names: any case, any order, extra columns ignored" {
	muse-ingest impressions.csv > a.mev
	python3 -c '
import csv, sys
r = list(csv.reader(open("impressions.csv", newline="")))
w = csv.writer(sys.stdout, lineterminator="\n")
for i, row in enumerate(r):
    extra = "Note" if i == 0 else "a \"note\", with\nnewline"
    w.writerow([row[4], extra, row[3], row[2], row[1], row[0]])
' > shuffled.csv
	sed -i '1s/.*/COUNTRY,Note,Title_Id,ASSET_ID,user_id,Ts/' shuffled.csv
	run --separate-stderr muse-ingest -o b.mev shuffled.csv
	expect_status 0
	cmp a.mev b.mev
}

@test "zstd-compressed input is read transparently, from a file or stdin" {
	muse-ingest plays.csv > plain.mev
	zstd -q plays.csv -o plays.csv.zst
	run --separate-stderr muse-ingest -o z.mev plays.csv.zst
	expect_status 0
	cmp plain.mev z.mev
	run --separate-stderr bash -c 'muse-ingest < plays.csv.zst > zs.mev'
	expect_status 0
	cmp plain.mev zs.mev
}

@test "truncated zstd input is an error, no output" {
	zstd -q impressions.csv -o imp.zst
	size=$(stat -c %s imp.zst)
	for n in $((size / 2)) $((size - 1)) 20; do
		head -c "$n" imp.zst > cut.zst
		run --separate-stderr muse-ingest -o out.mev cut.zst
		expect_status 2
		expect_stderr 'muse-ingest: cut.zst: zstd: truncated input'
		no_partial out.mev
	done
}

@test "corrupt zstd input is an error, no output" {
	zstd -q --check impressions.csv -o imp.zst
	size=$(stat -c %s imp.zst)
	python3 -c '
import sys
b = bytearray(open("imp.zst", "rb").read())
b[len(b) // 2] ^= 0x10
open("bad.zst", "wb").write(b)'
	run --separate-stderr muse-ingest -o out.mev bad.zst
	expect_status 2
	expect_stderr_contains 'muse-ingest: bad.zst'
	no_partial out.mev
}
