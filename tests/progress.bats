#!/usr/bin/env bats
# Progress lines of muse-ingest, muse-sketch and muse-merge (issue 9): on
# stderr when it is a terminal (run under a pty made by script(1)), never
# otherwise unless --progress, never with -q; erased at the end; stdout
# and output files the same with or without them.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	gen_small
	for t in impressions plays affinities; do
		muse-ingest -o "$t.mev" "$t.csv" || return 1
	done
	muse-sketch -o a.msk --date 2025-07-01 impressions.mev plays.mev affinities.mev &&
	    muse-sketch -o b.msk --date 2025-07-02 impressions.mev plays.mev affinities.mev
}

setup() {
	valgrind_skip || return
	cd "$BATS_TEST_TMPDIR" || return 1
	cp "$BATS_FILE_TMPDIR"/*.csv "$BATS_FILE_TMPDIR"/*.mev "$BATS_FILE_TMPDIR"/*.msk .
}

# pty COMMAND: runs the shell command with its stdin, stdout and stderr on
# a pseudo-terminal, as `run` does (script(1) copies what the terminal
# shows into $output; the command writes its stdout to a file).  TERM is
# one that takes escape sequences, NO_COLOR unset.
pty() {
	command -v script >/dev/null || skip "script(1) is not installed (util-linux)"
	run env -u NO_COLOR TERM=xterm script -qec "$1" /dev/null
}

ESC=$'\033'
CR=$'\r'

# expect_drawn LINE: $output drew LINE (at the start of the line) and ends
# with the line erased.
expect_drawn() {
	expect_output_contains "$CR$1"
	[[ $output == *"$CR$ESC[K" ]] || fail "line not erased at the end: $(printf '%q' "$output")"
}

@test "muse-ingest on a terminal shows the input on stderr and erases it; stdout is unchanged" {
	muse-ingest impressions.csv plays.csv > plain.mev
	pty "muse-ingest impressions.csv plays.csv > out.mev"
	expect_status 0
	expect_drawn "muse-ingest: impressions.csv$ESC[K"
	expect_drawn "muse-ingest: plays.csv$ESC[K"
	cmp -s plain.mev out.mev || fail "stdout differs under a terminal"
}

@test "muse-ingest shows rows, megabytes and the rate once reading takes time" {
	# The input stalls on a pipe: the first row comes after 0.7 s, and is
	# drawn at once.  A pipe has no size: no percentage, no ETA.
	pty "{ head -c 1000 impressions.csv; sleep 0.7; tail -c +1001 impressions.csv; } |
	    muse-ingest -o out.mev"
	expect_status 0
	[[ $output =~ $CR"muse-ingest: <stdin>: "[0-9.]+k?" row"s?", "[0-9]+\.[0-9]" MB, "[0-9.]+" MB/s"$ESC ]] ||
	    fail "no rows line: $(printf '%q' "$output")"
	[[ $output != *ETA* ]] || fail "an ETA without a size: $(printf '%q' "$output")"
	muse-ingest -o plain.mev impressions.csv
	cmp -s plain.mev out.mev || fail "output differs"
}

@test "muse-sketch and muse-merge on a terminal name each input, then what they do" {
	pty "muse-sketch impressions.mev plays.mev affinities.mev > s.msk"
	expect_status 0
	expect_drawn "muse-sketch: impressions.mev$ESC[K"
	expect_drawn "muse-sketch: affinities.mev"
	expect_output_contains "muse-sketch: joining and writing sketches$ESC[K"
	muse-sketch impressions.mev plays.mev affinities.mev > plain.msk
	cmp -s plain.msk s.msk || fail "muse-sketch output differs under a terminal"

	pty "muse-merge -o m.msk a.msk b.msk"
	expect_status 0
	expect_drawn "muse-merge: a.msk$ESC[K"
	expect_drawn "muse-merge: b.msk$ESC[K"
	expect_output_contains "muse-merge: merging 2 inputs$ESC[K"
	muse-merge a.msk b.msk > plain.msk
	cmp -s plain.msk m.msk || fail "muse-merge output differs under a terminal"
}

@test "without a terminal there is no progress: stderr stays empty" {
	run --separate-stderr muse-ingest -o out.mev impressions.csv
	expect_status 0
	[ -z "$stderr" ] || fail "muse-ingest stderr: $stderr"
	run --separate-stderr muse-sketch -o s.msk impressions.mev plays.mev affinities.mev
	expect_status 0
	[ -z "$stderr" ] || fail "muse-sketch stderr: $stderr"
	run --separate-stderr muse-merge -o m.msk a.msk b.msk
	expect_status 0
	[ -z "$stderr" ] || fail "muse-merge stderr: $stderr"
}

@test "--progress shows it when stderr is not a terminal, erased with spaces" {
	local p
	muse-ingest --progress -o out.mev impressions.csv 2> err
	muse-sketch --progress -o s.msk impressions.mev plays.mev affinities.mev 2>> err
	muse-merge --progress -o m.msk a.msk b.msk 2>> err
	for p in "muse-ingest: impressions.csv" "muse-sketch: plays.mev" \
	    "muse-merge: merging 2 inputs"; do
		grep -q "$CR$p" err || fail "no \"$p\": $(od -c err | head -20)"
	done
	# Not a terminal: no escape sequences; each erasure is spaces between
	# carriage returns.
	! grep -q "$ESC" err || fail "escape sequences: $(od -c err | head -20)"
	[[ $(< err) == *"$CR "*" $CR" ]] || fail "not erased: $(od -c err | tail -5)"
	[ "$(tr -d '\n' < err | wc -c)" -eq "$(wc -c < err)" ] ||
	    fail "a newline in the progress output"
}

@test "-q turns progress off, on a terminal and with --progress" {
	pty "muse-ingest -q --progress impressions.csv > out.mev"
	expect_status 0
	[ -z "$output" ] || fail "muse-ingest -q: $(printf '%q' "$output")"
	pty "muse-sketch --progress --quiet impressions.mev plays.mev affinities.mev > s.msk"
	expect_status 0
	[ -z "$output" ] || fail "muse-sketch -q: $(printf '%q' "$output")"
	pty "muse-merge -q a.msk b.msk > m.msk"
	expect_status 0
	[ -z "$output" ] || fail "muse-merge -q: $(printf '%q' "$output")"
}

@test "NO_COLOR and TERM=dumb: progress without escape sequences" {
	command -v script >/dev/null || skip "script(1) is not installed (util-linux)"
	run env NO_COLOR=1 TERM=xterm script -qec "muse-sketch impressions.mev plays.mev affinities.mev > s.msk" /dev/null
	expect_status 0
	expect_output_contains "${CR}muse-sketch: plays.mev"
	[[ $output != *"$ESC"* ]] || fail "NO_COLOR: $(printf '%q' "$output")"
	run env -u NO_COLOR TERM=dumb script -qec "muse-merge a.msk b.msk > m.msk" /dev/null
	expect_status 0
	expect_output_contains "${CR}muse-merge: merging 2 inputs"
	[[ $output != *"$ESC"* ]] || fail "TERM=dumb: $(printf '%q' "$output")"
}

@test "a message erases the progress line first, and the line never wraps" {
	printf '%s\n' 'ts,user_id,title_id,duration_s' 'bad,u1,t1,10' \
	    '2025-07-01T10:30:00Z,u1,t1,120' > a-rather-long-name-for-a-table-of-plays.csv
	pty "stty cols 40; muse-ingest --max-errors 1 a-rather-long-name-for-a-table-of-plays.csv > out.mev"
	expect_status 0
	expect_output_contains "$CR$ESC[Kmuse-ingest: a-rather-long-name-for-a-table-of-plays.csv:2:"
	# Drawn lines are cut to 39 columns.
	local line
	while IFS= read -r -d "$CR" line; do
		line=${line%"$ESC[K"}
		[ "${#line}" -le 39 ] || fail "longer than the terminal: $line"
	done <<< "${output%%"$ESC[Kmuse-ingest: a-rather"*}"
	expect_output_contains "${CR}muse-ingest: a-rather-long-name-for-a-"
}

@test "--help lists --progress and -q" {
	local p
	for p in muse-ingest muse-sketch muse-merge; do
		run --separate-stderr "$p" --help
		expect_status 0
		expect_output_contains "--progress"
		expect_output_contains "-q, --quiet"
	done
}
