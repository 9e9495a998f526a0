#!/usr/bin/env bats
# Progress lines of muse-ingest, muse-sketch, muse-merge and muse-delta
# (issue 9): on
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
	expect_output_contains "muse-sketch: sorting events$ESC[K"
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

# fmt N: a count as the progress line shows it (950, 12.3k, 1.2M).
fmt() {
	awk -v n="$1" 'BEGIN { if (n < 1000) { print n; exit }
	    u = "kMGTPE"; i = 0; x = n / 1000
	    while (x >= 999.95 && i < 5) { x /= 1000; i++ }
	    printf "%.1f%s\n", x, substr(u, i + 1, 1) }'
}

# records FILE: the records of a stream, as muse-cat --check counts them.
records() {
	muse-cat --check "$1" | sed -n 's/.*: \([0-9]*\) records: ok$/\1/p'
}

@test "muse-sketch counts the events it joins and the sketches it writes" {
	local events keys
	# The join takes every impression and every play that is not a preview.
	events=$(( $(records impressions.mev) +
	    $(muse-cat plays.mev | awk -F '\t' 'NR > 2 && $5 == "play"' | wc -l) ))
	pty "muse-sketch impressions.mev plays.mev affinities.mev > s.msk"
	expect_status 0
	keys=$(records s.msk)
	[ "$events" -gt 1000 ] && [ "$keys" -gt 1000 ] || fail "$events events, $keys keys"
	expect_drawn "muse-sketch: joining events: 0 of $(fmt "$events") (0%)$ESC[K"
	expect_drawn "muse-sketch: writing sketches: 0 of $(fmt "$keys") (0%)$ESC[K"
}

@test "muse-sketch reading a stalled pipe shows records, megabytes and the rate" {
	# A stall of 0.7 s: the count at the end of the stream comes with a rate.
	pty "{ head -c 20000 impressions.mev; sleep 0.7; tail -c +20001 impressions.mev; } |
	    muse-sketch -o s.msk"
	expect_status 0
	[[ $output =~ $CR"muse-sketch: <stdin>: "$(fmt "$(records impressions.mev)")" records, "[0-9]+\.[0-9]" MB, "[0-9.]+" MB/s"$ESC ]] ||
	    fail "no records line: $(printf '%q' "$output")"
	[[ $output != *ETA* ]] || fail "an ETA without a size: $(printf '%q' "$output")"
}

@test "muse-merge counts the records it merges out of all the inputs hold" {
	local total
	total=$(( $(records a.msk) + $(records b.msk) ))
	pty "muse-merge -o m.msk a.msk b.msk"
	expect_status 0
	expect_drawn "muse-merge: merging records: 0 of $(fmt "$total") (0%)$ESC[K"
	# Spooled input (a roll-up reads every record at once) counts too.
	pty "cat a.msk b.msk | muse-merge --rollup week > w.msk"
	expect_status 0
	expect_drawn "muse-merge: <stdin>: reading records$ESC[K"
	expect_output_contains "muse-merge: merging records: 0 of "
}

@test "muse-delta diff, apply, reverse and publish show counted progress; files unchanged" {
	local ra rm
	muse-merge -o m.msk a.msk b.msk
	ra=$(records a.msk)
	rm=$(records m.msk)
	muse-delta diff a.msk m.msk > plain.mdelta
	pty "muse-delta diff a.msk m.msk > d.mdelta"
	expect_status 0
	expect_drawn "muse-delta: diff: comparing records: 0 of $(fmt $((ra + rm))) (0%)$ESC[K"
	cmp -s plain.mdelta d.mdelta || fail "diff output differs under a terminal"
	pty "muse-delta apply -o got.msk a.msk d.mdelta"
	expect_status 0
	expect_drawn "muse-delta: apply: applying deltas: 0 of $(fmt "$rm") (0%)$ESC[K"
	muse-delta apply a.msk d.mdelta > plain.msk
	cmp -s plain.msk got.msk || fail "apply output differs under a terminal"
	pty "muse-delta reverse a.msk d.mdelta > r.mdelta"
	expect_status 0
	expect_drawn "muse-delta: reverse: applying deltas: 0 of $(fmt "$rm") (0%)$ESC[K"
	muse-delta publish pub a.msk
	muse-delta publish --progress pub m.msk 2> err
	grep -q "${CR}muse-delta: publish: comparing records: 0 of $(fmt $((ra + rm))) (0%)" err ||
	    fail "publish: $(od -c err | head)"
	! grep -q "$ESC" err || fail "escape sequences off a terminal"
	# Off a terminal, or with -q, nothing.
	run --separate-stderr muse-delta diff -o d2.mdelta a.msk m.msk
	expect_status 0
	[ -z "$stderr" ] || fail "diff stderr: $stderr"
	pty "muse-delta apply -q --progress a.msk d.mdelta > q.msk"
	expect_status 0
	[ -z "$output" ] || fail "apply -q: $(printf '%q' "$output")"
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
	for p in muse-ingest muse-sketch muse-merge muse-delta; do
		run --separate-stderr "$p" --help
		expect_status 0
		expect_output_contains "--progress"
		expect_output_contains "-q, --quiet"
	done
}
