#!/usr/bin/env bats
# muse-gen: deterministic synthetic tables (SPEC 2: a generator for demos
# and benchmarks).  It reads no input, so there is no stdin case.

load helpers
bats_require_minimum_version 1.5.0

# Small, fast options used throughout.
G='-q -u 300 -d 2 -T 5 -s 3'

setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	muse-gen $G -O ref || return 1
}

D=$BATS_FILE_TMPDIR

@test "--help prints usage on stdout and exits 0" {
	check_help muse-gen
}

@test "--version names the program" {
	check_version muse-gen
}

@test "an unknown option is a usage error" {
	run --separate-stderr muse-gen --bogus -O out
	expect_status 2
	expect_stderr_contains "muse-gen: "
	expect_stderr_contains "--bogus"
	expect_stderr_contains "Try 'muse-gen --help'"
	[ -z "$output" ] || fail "stdout: $output"
	[ ! -e out ] || fail "out was created"
}

@test "a mistyped option or table is met with the nearest valid one" {
	local p=muse-gen
	suggests "$p: unknown option \"--usres\"; did you mean \"--users\"?" $p --usres 10 -O gen
	suggests "$p: unknown option \"--output-dri\"; did you mean \"--output-dir\"?" $p --output-dri gen
	suggests "$p: option \"--seed\" needs a value" $p -O gen --seed
	suggests "$p: unknown table \"asset\"; did you mean \"assets\"?" $p --table asset
	[ ! -e gen ] || fail "gen was created"
}

@test "bad option values are usage errors naming the value" {
	while IFS='|' read -r opt val; do
		run --separate-stderr muse-gen -q "$opt" "$val" -O out
		expect_status 2
		expect_stderr_contains "\"$val\""
		expect_stderr_contains "Try 'muse-gen --help'"
		[ -z "$output" ] || fail "$opt $val: stdout: $output"
		[ ! -e out ] || fail "$opt $val: out was created"
	done <<-'EOF'
	-d|0
	-d|x
	-d|-1
	-d|99999999999
	-s|x
	-s|-1
	-s|18446744073709551616
	-T|0
	-T|10000
	-u|0
	-u|x
	-u|1e3
	--start|2025-13-01
	--start|2025-02-30
	--start|x
	--table|movies
	EOF
}

@test "where to write must be said once, and exactly" {
	for args in "" "--table plays -O out" "-o x.csv" "-O out extra" "-O ''"; do
		eval "run --separate-stderr muse-gen -q $args"
		expect_status 2
		expect_stderr_contains "Try 'muse-gen --help'"
		[ -z "$output" ] || fail "$args: stdout: $output"
	done
	[ ! -e out ] || fail "out was created"
	[ ! -e x.csv ] || fail "x.csv was created"
}

@test "the same options give the same bytes" {
	run --separate-stderr muse-gen $G -O again
	expect_status 0
	diff -r "$D/ref" again
}

@test "--table X writes exactly DIR/X.csv" {
	for t in impressions plays affinities assets; do
		muse-gen $G --table "$t" > "$t.csv"
		cmp "$D/ref/$t.csv" "$t.csv"
	done
}

@test "another seed gives other data" {
	muse-gen -q -u 300 -d 2 -T 5 -s 4 --table impressions > other.csv
	! cmp -s "$D/ref/impressions.csv" other.csv || fail "seed ignored"
}

@test "every table ingests, its table inferred from the header" {
	for t in impressions plays affinities assets; do
		run --separate-stderr muse-ingest -o "$t.mev" "$D/ref/$t.csv"
		expect_status 0
		run --separate-stderr muse-cat --check "$t.mev"
		expect_status 0
		expect_output_contains "events table=$t:"
	done
}

@test "--start and --days bound the dates" {
	muse-gen -q -u 300 -d 3 -T 5 --start 2024-12-30 --table impressions > imp.csv
	# Timestamps carry assorted offsets: compare UTC days, as muse-cat
	# prints them.
	muse-ingest imp.csv > imp.mev
	dates=$(muse-cat imp.mev | tail -n +3 | cut -c1-10 | sort -u | tr '\n' ' ')
	[ "$dates" = "2024-12-30 2024-12-31 2025-01-01 " ] || fail "dates: $dates"
}

@test "-o FILE writes the file whole; no temporary left" {
	run --separate-stderr muse-gen $G --table plays -o plays.csv
	expect_status 0
	[ -z "$output" ] || fail "stdout not empty"
	cmp "$D/ref/plays.csv" plays.csv
	! ls plays.csv.tmp.* 2>/dev/null || fail "temporary left"
}

@test "-o FILE: a failed write leaves no file and no temporary" {
	echo precious > keep.csv
	run --separate-stderr bash -c \
	    'trap "" XFSZ; ulimit -f 4; muse-gen $1 --table impressions -o keep.csv' _ "$G"
	expect_status 2
	expect_stderr_contains "muse-gen: keep.csv: write error"
	[ "$(cat keep.csv)" = precious ] || fail "keep.csv was replaced"
	! ls keep.csv.tmp.* 2>/dev/null || fail "temporary left"
}

@test "-O DIR: a failed write leaves no table and no temporary" {
	run --separate-stderr bash -c \
	    'trap "" XFSZ; ulimit -f 4; muse-gen $1 -O out' _ "$G"
	expect_status 2
	expect_stderr_contains "write error"
	[ -z "$(ls -A out)" ] || fail "left in out: $(ls -A out)"
}

@test "-o FIFO writes into the FIFO instead of replacing it" {
	mkfifo fifo
	timeout 10 cat fifo > got &
	reader=$!
	run --separate-stderr muse-gen $G --table assets -o fifo
	[ -p fifo ] || { kill "$reader" 2>/dev/null; fail "fifo was replaced by a regular file"; }
	wait "$reader" || fail "reader status $?"
	expect_status 0
	cmp "$D/ref/assets.csv" got
}

@test "progress only when asked for" {
	run --separate-stderr muse-gen -u 300 -d 2 -T 5 --table assets
	expect_status 0
	[ -z "$stderr" ] || fail "progress without a terminal: $stderr"
	run --separate-stderr muse-gen -u 300 -d 2 -T 5 --progress -O out
	expect_status 0
	expect_stderr_contains "muse-gen: "
	[ -z "$output" ] || fail "progress on stdout: $output"
}

@test "writing to /dev/full is an error" {
	run --separate-stderr bash -c 'muse-gen $1 --table impressions > /dev/full' _ "$G"
	expect_status 2
	expect_stderr_contains "muse-gen: "
	expect_stderr_contains "write error"
	run --separate-stderr bash -c 'muse-gen --help > /dev/full'
	expect_status 2
	expect_stderr_contains "write error"
}

@test "writing to /dev/full: the error is reported once" {
	run --separate-stderr bash -c 'muse-gen $1 --table impressions > /dev/full' _ "$G"
	expect_status 2
	[ "$(printf '%s\n' "$stderr" | grep -c 'write error')" -eq 1 ] ||
	    fail "reported more than once: $stderr"
}

@test "| head -c1: SIGPIPE ends it quietly" {
	run bash -c 'set -o pipefail; muse-gen -q -u 2000 -d 3 --table impressions 2>err | head -c1 >/dev/null'
	[ "$status" -eq 0 ] || [ "$status" -eq 141 ] ||
	    fail "status $status: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
}

# ---------------------------------------------------------------------
# --events: straight to event streams

@test "--events -O DIR: each stream is what muse-ingest makes of the CSV" {
	run --separate-stderr muse-gen $G --events -O ev
	expect_status 0
	[ -z "$output" ] || fail "stdout: $output"
	[ "$(ls ev | tr '\n' ' ')" = "affinities.mev assets.mev impressions.mev plays.mev " ] ||
	    fail "in ev: $(ls -A ev)"
	for t in impressions plays affinities assets; do
		muse-ingest -o "$t.mev" "$D/ref/$t.csv"
		cmp "$t.mev" "ev/$t.mev" || fail "$t: differs from muse-ingest"
	done
}

@test "--events --table X writes exactly DIR/X.mev, on stdout or with -o" {
	muse-gen $G --events -O ev
	for t in impressions plays affinities assets; do
		muse-gen $G --events --table "$t" > "$t.mev"
		cmp "ev/$t.mev" "$t.mev" || fail "$t: stdout differs"
		run --separate-stderr muse-gen $G --events --table "$t" -o "$t.o.mev"
		expect_status 0
		[ -z "$output" ] || fail "$t: stdout not empty"
		cmp "ev/$t.mev" "$t.o.mev" || fail "$t: -o differs"
	done
	! ls ./*.tmp.* 2>/dev/null || fail "temporary left"
}

@test "--events with other options: still muse-ingest of the CSV" {
	local opts='-q -u 1200 -d 3 -T 40 -s 11 --start 2024-02-28'
	muse-gen $opts -O csv
	muse-gen $opts --events -O ev
	for t in impressions plays affinities assets; do
		muse-ingest "csv/$t.csv" > "$t.mev"
		cmp "$t.mev" "ev/$t.mev" || fail "$t: differs from muse-ingest"
	done
	run --separate-stderr muse-cat --check ev/impressions.mev ev/plays.mev ev/affinities.mev ev/assets.mev
	expect_status 0
}

@test "--events -O DIR: a failed write leaves no stream and no temporary" {
	run --separate-stderr bash -c \
	    'trap "" XFSZ; ulimit -f 4; muse-gen $1 --events -O out' _ "$G"
	expect_status 2
	expect_stderr_contains "muse-gen: out/"
	expect_stderr_contains "write error"
	[ -z "$(ls -A out)" ] || fail "left in out: $(ls -A out)"
}

@test "--events -o FILE: a failed write leaves no file and no temporary" {
	echo precious > keep.mev
	run --separate-stderr bash -c \
	    'trap "" XFSZ; ulimit -f 4; muse-gen $1 --events --table impressions -o keep.mev' _ "$G"
	expect_status 2
	expect_stderr_contains "muse-gen: keep.mev: write error"
	[ "$(cat keep.mev)" = precious ] || fail "keep.mev was replaced"
	! ls keep.mev.tmp.* 2>/dev/null || fail "temporary left"
}

@test "--events to /dev/full is an error, reported once" {
	for t in impressions assets; do
		run --separate-stderr bash -c 'muse-gen $1 --events --table $2 > /dev/full' _ "$G" "$t"
		expect_status 2
		expect_stderr_contains "muse-gen: "
		[ "$(printf '%s\n' "$stderr" | grep -c 'write error')" -eq 1 ] ||
		    fail "$t: not reported exactly once: $stderr"
	done
}

@test "--events refuses a terminal unless -f" {
	command -v script >/dev/null || skip "script(1) is not installed"
	run script -qec "muse-gen $G --events --table assets" /dev/null
	expect_status 2
	expect_output_contains "refusing to write binary output to a terminal"
	run script -qec "muse-gen $G --events --force --table assets > /dev/null" /dev/null
	expect_status 0
	# CSV may go to a terminal as ever.
	run script -qec "muse-gen $G --table assets" /dev/null
	expect_status 0
	expect_output_contains "asset_id,title_id,asset_type"
}

@test "--events | head -c1: SIGPIPE ends it quietly" {
	run bash -c 'set -o pipefail; muse-gen -q -u 2000 -d 3 --events --table impressions 2>err | head -c1 >/dev/null'
	[ "$status" -eq 0 ] || [ "$status" -eq 141 ] ||
	    fail "status $status: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
}

@test "--events --progress: progress on stderr, streams unchanged" {
	run --separate-stderr muse-gen -u 300 -d 2 -T 5 -s 3 --events --progress -O ev
	expect_status 0
	expect_stderr_contains "muse-gen: "
	expect_stderr_contains " rows, "
	muse-gen $G --events --table plays > plays.mev
	cmp ev/plays.mev plays.mev
}
