#!/usr/bin/env bats
# muse-delta: deltas between versions of a store, applied atomically, and
# the publishing directory (SPEC 2, 6, 8; issue 4).

load helpers
bats_require_minimum_version 1.5.0

# Made once: twelve days of events, a store per day (dayNN.msk) and the
# cumulative stores of the first N days (sNN.msk, as muse-merge makes
# them: version 0).  vNN.msk is version NN of the chain: s01 as it is
# (version 0), then sNN stamped with version NN - 1.
setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	muse-gen -q -O data --users 600 --days 12 --titles 12 --seed 7 || return 1
	for t in impressions plays affinities; do
		muse-ingest -o "$t.mev" "data/$t.csv" || return 1
	done
	local k prev=
	for k in $(seq -w 1 12); do
		muse-sketch -o "day$k.msk" --date "2025-07-$k" impressions.mev \
		    plays.mev affinities.mev || return 1
		muse-merge -o "s$k.msk" $prev "day$k.msk" || return 1
		prev=s$k.msk
	done
	cp s01.msk v00.msk
	for k in $(seq 1 11); do
		muse-delta stamp -o "v$(printf %02d "$k").msk" \
		    "s$(printf %02d $((k + 1))).msk" "$k" || return 1
	done
	# One more impression by a new viewer of a key the store has: exactly
	# one record changes.
	printf '%s\n' 'ts,user_id,asset_id,title_id,country' \
	    "$(sed -n 2p data/impressions.csv | cut -d, -f1,3-)" |
	    sed '2s/^\([^,]*\),/\1,a-new-viewer,/' > one.csv
	muse-ingest -o one.mev one.csv || return 1
	muse-sketch -o one.msk one.mev || return 1
	muse-merge -o s12-one.msk s12.msk one.msk || return 1
}

D=$BATS_FILE_TMPDIR

# Versions as two digits.
v() { printf 'v%02d.msk' "$1"; }

@test "--help prints usage on stdout and exits 0" {
	check_help muse-delta
}

@test "--version names the program" {
	check_version muse-delta
}

@test "an unknown option is a usage error" {
	run --separate-stderr muse-delta diff --bogus "$D/v00.msk" "$D/v01.msk"
	expect_status 2
	expect_stderr_contains "muse-delta: "
	expect_stderr_contains "--bogus"
	expect_stderr_contains "Try 'muse-delta --help'"
	[ -z "$output" ] || fail "stdout: $output"
}

@test "a mistyped option or command is met with the nearest valid one" {
	local p=muse-delta
	suggests "$p: unknown option \"--inplace\"; did you mean \"--in-place\"?" $p apply --inplace a b
	suggests "$p: unknown option \"--snapshot-evry\"; did you mean \"--snapshot-every\"?" $p publish --snapshot-evry 3 d s
	suggests "$p: unknown command \"aply\"; did you mean \"apply\"?" $p aply a b
	suggests "$p: unknown command \"chekout\"; did you mean \"checkout\"?" $p chekout d 1
	suggests "$p: unknown command \"frob\"" $p frob
}

@test "usage errors: commands, operands, options of other commands" {
	while IFS='|' read -r args msg; do
		eval "run --separate-stderr muse-delta $args"
		expect_status 2
		expect_stderr_contains "$msg"
		expect_stderr_contains "Try 'muse-delta --help'"
		[ -z "$output" ] || fail "$args: stdout: $output"
	done <<-EOF
	|no command
	frob|unknown command "frob"
	diff $D/v00.msk|diff takes OLD and NEW
	diff - -|cannot both be standard input
	apply $D/v00.msk|apply takes STORE and DELTA...
	reverse $D/v00.msk|reverse takes STORE and DELTA
	stamp $D/v00.msk|stamp takes STORE and VERSION
	stamp $D/v00.msk x|bad VERSION "x"
	stamp $D/v00.msk 1x|bad VERSION "1x"
	info|info takes FILE...
	publish dir|publish takes DIR and STORE
	checkout|checkout takes DIR [VERSION]
	checkout dir 0|bad VERSION "0"
	diff --in-place a b|--in-place is not an option of diff
	publish -o x dir s|--output is not an option of publish
	info --reverse x f|--reverse is not an option of info
	apply --to-version 3 a b|--to-version is not an option of apply
	diff --snapshot-every 3 a b|--snapshot-every is not an option of diff
	apply --in-place -o x a b|--in-place and --output exclude each other
	apply --in-place - b|--in-place needs a store file
	apply - -|standard input can be read only once
	diff --to-version x a b|bad --to-version "x"
	publish --snapshot-every 0 d s|bad --snapshot-every "0" (1 to 100)
	publish --snapshot-every 101 d s|bad --snapshot-every "101"
	EOF
}

# ---------------------------------------------------------------------
# diff, apply, reverse

@test "a chain of 12 daily versions: apply reproduces every version byte for byte" {
	local k p
	for k in $(seq 1 11); do
		p=$(printf %02d $((k + 1)))
		# NEW as muse-merge made it (version 0): the delta goes to OLD + 1.
		run --separate-stderr muse-delta diff -o "d$k.mdelta" \
		    --reverse "r$k.mdelta" "$D/$(v $((k - 1)))" "$D/s$p.msk"
		expect_status 0
		[ -z "$output" ] || fail "stdout: $output"
		muse-delta apply "$D/$(v $((k - 1)))" "d$k.mdelta" > got.msk ||
		    fail "apply d$k"
		cmp got.msk "$D/$(v "$k")" || fail "version $k differs"
	done
	# The whole chain at once, from version 0 to each version.
	set --
	for k in $(seq 1 11); do
		set -- "$@" "d$k.mdelta"
		run --separate-stderr muse-delta apply -o got.msk "$D/v00.msk" "$@"
		expect_status 0
		cmp got.msk "$D/$(v "$k")" || fail "chain to version $k differs"
	done
	run --separate-stderr muse-cat --check got.msk
	expect_status 0
}

@test "reverse deltas walk back through the chain byte for byte" {
	local k
	for k in $(seq 1 11); do
		muse-delta diff --reverse "r$k.mdelta" "$D/$(v $((k - 1)))" \
		    "$D/$(v "$k")" > "d$k.mdelta" || fail "diff $k"
		# reverse STORE DELTA gives the same reverse delta.
		muse-delta reverse "$D/$(v $((k - 1)))" "d$k.mdelta" > rr.mdelta ||
		    fail "reverse $k"
		cmp rr.mdelta "r$k.mdelta" || fail "reverse $k differs from diff --reverse"
		muse-delta apply "$D/$(v "$k")" "r$k.mdelta" > back.msk ||
		    fail "apply r$k"
		cmp back.msk "$D/$(v $((k - 1)))" || fail "version $((k - 1)) differs"
	done
	set --
	for k in $(seq 11 -1 1); do
		set -- "$@" "r$k.mdelta"
	done
	muse-delta apply -o back.msk "$D/v11.msk" "$@"
	cmp back.msk "$D/v00.msk"
}

@test "diff of a store with itself is an empty delta; NEW's own version is kept" {
	run --separate-stderr muse-delta diff -o same.mdelta "$D/v03.msk" "$D/v03.msk"
	expect_status 0
	run --separate-stderr muse-delta info same.mdelta
	expect_status 0
	expect_output_contains "-> version 4 ("
	expect_output_contains ": 0 upserts, 0 deletes: ok"
	# A versioned NEW above OLD: the delta goes to NEW's version.
	muse-delta diff "$D/v03.msk" "$D/v07.msk" > d.mdelta
	muse-delta apply "$D/v03.msk" d.mdelta | cmp - "$D/v07.msk"
	# --to-version overrides.
	muse-delta diff --to-version 42 "$D/v03.msk" "$D/v07.msk" > d.mdelta
	run --separate-stderr muse-delta info d.mdelta
	expect_output_contains "-> version 42 ("
}

@test "info prints kind, versions, checksums and record counts" {
	muse-delta diff "$D/v01.msk" "$D/v02.msk" > d.mdelta
	run --separate-stderr muse-delta info "$D/v01.msk" d.mdelta
	expect_status 0
	[[ ${lines[0]} =~ ^$D/v01.msk:\ store:\ version\ 1\ \(checksum\ [0-9a-f]{16},\ [0-9]+\ records\):\ ok$ ]] ||
	    fail "store line: ${lines[0]}"
	[[ ${lines[1]} =~ ^d.mdelta:\ delta:\ version\ 1\ \(checksum\ [0-9a-f]{16},\ [0-9]+\ records\)\ -\>\ version\ 2\ \(checksum\ [0-9a-f]{16},\ [0-9]+\ records\):\ [0-9]+\ upserts,\ [0-9]+\ deletes:\ ok$ ]] ||
	    fail "delta line: ${lines[1]}"
	# The checksums and counts are those of the stores.
	local from to
	from=$(muse-delta info "$D/v01.msk" | sed 's/.*(\(.*\)).*/\1/')
	to=$(muse-delta info "$D/v02.msk" | sed 's/.*(\(.*\)).*/\1/')
	expect_output_contains "version 1 ($from) -> version 2 ($to)"
	run --separate-stderr muse-delta info "$D/impressions.mev"
	expect_status 2
	[ "$stderr" = "muse-delta: $D/impressions.mev: not a store (an event stream: run muse-sketch first)" ] ||
	    fail "$stderr"
}

@test "a small change gives a small delta: its size follows the changed keys" {
	muse-delta diff "$D/s12.msk" "$D/s12-one.msk" > one.mdelta
	run --separate-stderr muse-delta info one.mdelta
	expect_status 0
	expect_output_contains ": 1 upserts, 0 deletes: ok"
	local store delta day
	store=$(wc -c < "$D/s12.msk")
	delta=$(wc -c < one.mdelta)
	echo "# store $store bytes, one changed key: delta $delta bytes" >&3
	[ $((delta * 50)) -lt "$store" ] || fail "delta $delta bytes for a store of $store"
	# A day's worth of changes: about the size of the day.
	muse-delta diff "$D/s11.msk" "$D/s12.msk" > day.mdelta
	day=$(wc -c < "$D/day12.msk")
	delta=$(wc -c < day.mdelta)
	echo "# day 12: store $day bytes, delta $delta bytes" >&3
	[ "$delta" -lt $((day * 2)) ] || fail "delta $delta bytes for a day of $day"
	muse-delta apply "$D/s12.msk" one.mdelta | muse-delta info - |
	    grep -q ': store: version 1 '
}

@test "apply --in-place replaces the store whole, keeps its mode, leaves nothing" {
	mkdir w && cd w
	cp "$D/v04.msk" store.msk
	chmod 640 store.msk
	muse-delta diff "$D/v04.msk" "$D/v05.msk" > d.mdelta
	run --separate-stderr muse-delta apply --in-place store.msk d.mdelta
	expect_status 0
	[ -z "$output" ] || fail "stdout: $output"
	cmp store.msk "$D/v05.msk"
	[ "$(stat -c %a store.msk)" = 640 ] || fail "mode $(stat -c %a store.msk)"
	[ "$(ls -A)" = "$(printf 'd.mdelta\nstore.msk')" ] || fail "left: $(ls -A)"
	# Through a symbolic link, the file it names is replaced.
	cp "$D/v04.msk" real.msk
	ln -s real.msk link.msk
	muse-delta apply --in-place link.msk d.mdelta
	[ -L link.msk ] || fail "the link was replaced"
	cmp real.msk "$D/v05.msk"
	# stamp --in-place
	muse-delta stamp --in-place real.msk 9
	muse-delta info real.msk | grep -q ': store: version 9 '
}

@test "a delta from another version is refused; the store is untouched" {
	mkdir w && cd w
	muse-delta diff "$D/v04.msk" "$D/v05.msk" > d45.mdelta
	cp "$D/v03.msk" store.msk
	run --separate-stderr muse-delta apply --in-place store.msk d45.mdelta
	expect_status 2
	[[ $stderr =~ ^muse-delta:\ d45.mdelta:\ delta\ starts\ from\ version\ 4\ \(checksum\ [0-9a-f]{16}\),\ store\ is\ version\ 3\ \(checksum\ [0-9a-f]{16}\)$ ]] ||
	    fail "$stderr"
	cmp store.msk "$D/v03.msk"
	[ "$(ls -A)" = "$(printf 'd45.mdelta\nstore.msk')" ] || fail "left: $(ls -A)"
	run --separate-stderr muse-delta apply -o out.msk store.msk d45.mdelta
	expect_status 2
	no_partial out.msk
	# The same content under another version is another state too.
	muse-delta stamp -o other.msk "$D/v04.msk" 7
	run --separate-stderr muse-delta apply other.msk d45.mdelta
	expect_status 2
	expect_stderr_contains "delta starts from version 4"
	expect_stderr_contains "store is version 7"
	# A chain with a gap names the delta that does not follow.
	muse-delta diff "$D/v06.msk" "$D/v07.msk" > d67.mdelta
	run --separate-stderr muse-delta apply "$D/v04.msk" d45.mdelta d67.mdelta
	expect_status 2
	expect_stderr_contains "d67.mdelta: delta starts from version 6"
	expect_stderr_contains "the delta before it ends at version 5"
	# A store read from a pipe is checked when its footer arrives.
	run --separate-stderr bash -c 'muse-delta apply - d45.mdelta < "$1" > out.msk' _ "$D/v03.msk"
	expect_status 2
	expect_stderr_contains "delta starts from version 4"
	# Other parameters: refused as muse-merge refuses them.
	printf '%s\n' 'ts,user_id,asset_id,title_id,country' \
	    '2025-07-01T10:00:00Z,u1,t1-a1,t1,US' > t.csv
	muse-ingest -o t.mev t.csv
	muse-sketch -o w.msk --window 3600 t.mev
	run --separate-stderr muse-delta apply w.msk d45.mdelta
	expect_status 2
	expect_stderr_contains "d45.mdelta: attribution window differs"
	# Arguments the wrong way round.
	run --separate-stderr muse-delta apply d45.mdelta "$D/v04.msk"
	expect_status 2
	[ "$stderr" = "muse-delta: d45.mdelta: not a store (a delta)" ] || fail "$stderr"
}

@test "a truncated delta is refused at every length; the store is untouched" {
	muse-delta diff "$D/s12.msk" "$D/s12-one.msk" > one.mdelta
	python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
for n in range(0, len(b)):
    open("cut.%d" % n, "wb").write(b[:n])
' one.mdelta
	cp "$D/s12.msk" store.msk
	for f in cut.*; do
		refused "$f" "muse-delta: $f: *" muse-delta apply --in-place store.msk "$f"
		cmp -s store.msk "$D/s12.msk" || fail "$f: store changed"
	done
	[ -z "$(ls -A | grep -v -e '^cut\.' -e '^one.mdelta$' -e '^store.msk$' -e '^out$' -e '^err$')" ] ||
	    fail "left: $(ls -A | grep -v '^cut\.')"
}

@test "a delta with any bit flipped is refused; the store is untouched" {
	muse-delta diff "$D/s12.msk" "$D/s12-one.msk" > one.mdelta
	python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
for off in range(0, len(b)):
    c = bytearray(b)
    c[off] ^= 1 << (off % 8)
    open("flip.%d" % off, "wb").write(c)
' one.mdelta
	cp "$D/s12.msk" store.msk
	for f in flip.*; do
		refused "$f" "muse-delta: $f: *" muse-delta apply --in-place store.msk "$f"
		cmp -s store.msk "$D/s12.msk" || fail "$f: store changed"
	done
}

@test "apply --in-place killed with SIGKILL half way leaves the old store whole" {
	# A store of megabytes, so that apply takes a while.
	muse-gen -q -O big --users 20000 --days 4 --titles 40 --seed 5 --events
	set -- --by title,asset,date,segment,country big/impressions.mev \
	    big/plays.mev big/affinities.mev
	muse-sketch -o old.msk --date 2025-07-01..2025-07-03 "$@"
	muse-sketch -o new.msk "$@"
	muse-delta diff -o d.mdelta old.msk new.msk
	mkdir w
	local pid tries=0 caught= l st
	while [ -z "$caught" ] && [ $tries -lt 20 ]; do
		tries=$((tries + 1))
		cp old.msk w/store.msk
		muse-delta apply --in-place w/store.msk d.mdelta &
		pid=$!
		# Run it in slices of a few milliseconds (SIGSTOP between them),
		# and kill it as soon as its output holds some bytes.
		kill -STOP "$pid" 2>/dev/null || :
		while kill -0 "$pid" 2>/dev/null; do
			for l in /proc/"$pid"/fd/*; do
				case $(readlink "$l" 2>/dev/null) in
				*"(deleted)"* | *.tmp.*)
					if [ "$(stat -Lc %s "$l" 2>/dev/null || echo 0)" -gt 0 ]; then
						kill -9 "$pid" && caught=1
						break 2
					fi ;;
				esac
			done
			kill -CONT "$pid" 2>/dev/null || :
			sleep 0.002
			kill -STOP "$pid" 2>/dev/null || :
		done
		kill -CONT "$pid" 2>/dev/null || :
		st=0
		wait "$pid" 2>/dev/null || st=$?
		# Killed or not, the store is whole: the old one or the new one
		# (when the kill came after the rename, which is tried again).
		run --separate-stderr muse-cat --check w/store.msk
		expect_status 0
		if cmp -s w/store.msk old.msk; then
			[ "$st" -eq 137 ] || caught=
		else
			caught=
			muse-delta apply old.msk d.mdelta | cmp - w/store.msk ||
			    fail "the store is neither the old nor the new one"
		fi
	done
	[ -n "$caught" ] || skip "apply finished every time before it could be killed"
	echo "# killed half way at try $tries" >&3
	cmp w/store.msk old.msk
	# No temporary is left that could pass for a store: with O_TMPFILE
	# nothing at all, else at most a hidden .store.msk.tmp.PID.N.
	[ "$(ls w)" = store.msk ] || fail "left: $(ls -A w)"
	[ -z "$(ls -A w | grep -v -e '^store\.msk$' -e '^\.store\.msk\.tmp\.')" ] ||
	    fail "left: $(ls -A w)"
}

@test "deltas and stores on standard input" {
	muse-delta diff "$D/v05.msk" "$D/v06.msk" > d.mdelta
	run --separate-stderr bash -c 'muse-delta apply "$1" - < d.mdelta > got.msk' _ "$D/v05.msk"
	expect_status 0
	cmp got.msk "$D/v06.msk"
	run --separate-stderr bash -c 'muse-delta apply - d.mdelta < "$1" > got.msk' _ "$D/v05.msk"
	expect_status 0
	cmp got.msk "$D/v06.msk"
	run --separate-stderr bash -c 'muse-delta diff - "$1" < "$2" > d2.mdelta' _ "$D/v06.msk" "$D/v05.msk"
	expect_status 0
	cmp d.mdelta d2.mdelta
	run --separate-stderr bash -c 'muse-delta info - < d.mdelta'
	expect_status 0
	expect_output_contains "<stdin>: delta: version 5"
	: > empty
	run --separate-stderr muse-delta apply "$D/v05.msk" empty
	expect_status 2
	expect_stderr_contains "empty input"
}

@test "two streams in one file are refused" {
	muse-delta diff "$D/v05.msk" "$D/v06.msk" > d.mdelta
	cat d.mdelta d.mdelta > dd.mdelta
	run --separate-stderr muse-delta apply "$D/v05.msk" dd.mdelta
	expect_status 2
	expect_stderr_contains "more than one stream"
	cat "$D/v05.msk" "$D/v05.msk" > two.msk
	run --separate-stderr muse-delta diff two.msk "$D/v06.msk"
	expect_status 2
	expect_stderr_contains "more than one stream"
}

# ---------------------------------------------------------------------
# Output

@test "writing to /dev/full is an error, reported once" {
	run --separate-stderr bash -c 'muse-delta diff "$1" "$2" > /dev/full' _ \
	    "$D/v00.msk" "$D/v11.msk"
	expect_status 2
	expect_stderr_contains "write error"
	[ "$(printf '%s\n' "$stderr" | grep -c 'write error')" -eq 1 ] ||
	    fail "reported more than once: $stderr"
	muse-delta diff "$D/v00.msk" "$D/v11.msk" > d.mdelta
	run --separate-stderr bash -c 'muse-delta apply "$1" "$2" > /dev/full' _ \
	    "$D/v00.msk" d.mdelta
	expect_status 2
	expect_stderr_contains "write error"
	run --separate-stderr bash -c 'muse-delta info "$1" > /dev/full' _ d.mdelta
	expect_status 2
	expect_stderr_contains "write error"
}

@test "| head -c1: SIGPIPE ends it quietly" {
	run bash -c 'set -o pipefail; muse-delta diff "$1" "$2" 2>err | head -c1 >/dev/null' \
	    _ "$D/v00.msk" "$D/v11.msk"
	[ "$status" -eq 0 ] || [ "$status" -eq 141 ] || fail "status $status: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
}

@test "binary output to a terminal is refused unless --force" {
	run script -qec "muse-delta diff $D/v00.msk $D/v01.msk" /dev/null < /dev/null
	expect_status 2
	expect_output_contains "terminal"
	run script -qec "muse-delta diff --force $D/v00.msk $D/v01.msk" /dev/null < /dev/null
	expect_status 0
	expect_output_contains "MUSE"
}

@test "-o FILE and --reverse FILE: a failure leaves neither" {
	muse-delta diff "$D/v04.msk" "$D/v05.msk" > d.mdelta
	head -c 100 "$D/v05.msk" > cut.msk
	run --separate-stderr muse-delta diff -o out.mdelta --reverse rev.mdelta \
	    "$D/v04.msk" cut.msk
	expect_status 2
	expect_stderr_contains "cut.msk"
	no_partial out.mdelta rev.mdelta
}

# ---------------------------------------------------------------------
# Publishing

@test "publish 12 versions, a snapshot every 5: every version checks out byte for byte" {
	local k
	for k in $(seq -w 1 12); do
		run --separate-stderr muse-delta publish --snapshot-every 5 pub "$D/s$k.msk"
		expect_status 0
		[ -z "$output" ] || fail "stdout: $output"
		[ "$(cat pub/LATEST)" = "$((10#$k))" ] || fail "LATEST: $(cat pub/LATEST), want $((10#$k)) at $k"
	done
	[ "$(cd pub/snapshots && ls)" = "$(printf '1.msk\n11.msk\n6.msk')" ] ||
	    fail "snapshots: $(ls pub/snapshots)"
	[ "$(ls pub/deltas | wc -l)" -eq 22 ] || fail "deltas: $(ls pub/deltas)"
	[ -f pub/deltas/5-6.mdelta ] && [ -f pub/deltas/6-5.mdelta ] ||
	    fail "deltas: $(ls pub/deltas)"
	# What each version should be: the store of its day, with its version.
	for k in $(seq 1 12); do
		muse-delta stamp "$D/s$(printf %02d "$k").msk" "$k" > "want$k.msk"
	done
	# Once with the producer's cache, once from snapshots and deltas
	# alone (forward and reverse), once from what that left in the cache.
	for pass in 1 2 3; do
		[ "$pass" -ne 2 ] || rm -f pub/cache/*
		for k in $(seq 1 12); do
			run --separate-stderr muse-delta checkout -o got.msk pub "$k"
			expect_status 0
			cmp got.msk "want$k.msk" || fail "pass $pass: version $k differs"
		done
	done
	muse-delta checkout pub > latest.msk
	cmp latest.msk want12.msk
	run --separate-stderr muse-delta checkout pub 13
	expect_status 2
	[ "$stderr" = "muse-delta: pub: version 13 is not published (versions 1 to 12)" ] ||
	    fail "$stderr"
	# Nothing half made is left.
	[ -z "$(find pub -name '*.tmp.*')" ] || fail "$(find pub -name '*.tmp.*')"
}

@test "publish: the producer's copies in the cache stay few" {
	local k
	for k in $(seq 1 8); do
		muse-delta publish --snapshot-every 10 pub "$D/s0$k.msk"
	done
	[ "$(cd pub/cache && ls)" = "$(printf '7.msk\n8.msk')" ] ||
	    fail "cache: $(ls pub/cache)"
}

@test "publish: a second publisher is refused while one holds the lock" {
	muse-delta publish pub "$D/s01.msk"
	# A process holds the lock as a publisher at work would.
	bash -c 'exec 9>>pub/.lock; flock 9; echo $$ > pub/.lock; exec sleep 10' &
	local holder=$!
	while [ "$(cat pub/.lock)" != "$holder" ]; do sleep 0.05; done
	run --separate-stderr muse-delta publish pub "$D/s02.msk"
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null || :
	expect_status 2
	[ "$stderr" = "muse-delta: pub/.lock: another publisher is at work (process $holder)" ] ||
	    fail "$stderr"
	[ "$(cat pub/LATEST)" = 1 ] || fail "LATEST: $(cat pub/LATEST)"
	# Once the lock is free, publishing goes on.
	run --separate-stderr muse-delta publish pub "$D/s02.msk"
	expect_status 0
	[ "$(cat pub/LATEST)" = 2 ] || fail "LATEST: $(cat pub/LATEST)"
}

@test "publish: two publishers at once: one wins or they take turns, never a mix" {
	muse-delta publish pub "$D/s01.msk"
	local a b sa sb
	muse-delta publish pub "$D/s06.msk" 2> a.err & a=$!
	muse-delta publish pub "$D/s12.msk" 2> b.err & b=$!
	sa=0 sb=0
	wait "$a" || sa=$?
	wait "$b" || sb=$?
	for s in "$sa:a.err" "$sb:b.err"; do
		case ${s%%:*} in
		0) ;;
		2) grep -q "another publisher is at work" "${s#*:}" ||
		    fail "$(cat "${s#*:}")" ;;
		*) fail "status ${s%%:*}: $(cat "${s#*:}")" ;;
		esac
	done
	[ "$sa" -eq 0 ] || [ "$sb" -eq 0 ] || fail "neither published"
	local latest
	latest=$(cat pub/LATEST)
	[ "$latest" -eq $((1 + (sa == 0) + (sb == 0))) ] || fail "LATEST $latest"
	muse-delta checkout pub > got.msk
	muse-cat --check got.msk > /dev/null
	for k in $(seq 1 "$latest"); do
		muse-delta checkout pub "$k" | muse-cat --check > /dev/null ||
		    fail "version $k"
	done
}

@test "publish: a store with other parameters is refused and nothing changes" {
	muse-delta publish pub "$D/s01.msk"
	printf '%s\n' 'ts,user_id,asset_id,title_id,country' \
	    '2025-07-01T10:00:00Z,u1,t1-a1,t1,US' > t.csv
	muse-ingest -o t.mev t.csv
	muse-sketch -o w.msk --window 3600 t.mev
	run --separate-stderr muse-delta publish pub w.msk
	expect_status 2
	expect_stderr_contains "attribution window differs"
	[ "$(cat pub/LATEST)" = 1 ] || fail "LATEST: $(cat pub/LATEST)"
	[ -z "$(ls pub/deltas)" ] || fail "deltas: $(ls pub/deltas)"
	[ -z "$(find pub -name '*.tmp.*')" ] || fail "$(find pub -name '*.tmp.*')"
}

@test "checkout of a directory with nothing published is an error" {
	mkdir empty
	run --separate-stderr muse-delta checkout empty
	expect_status 2
	[ "$stderr" = "muse-delta: empty: nothing published yet (no LATEST)" ] ||
	    fail "$stderr"
	echo junk > empty/LATEST
	run --separate-stderr muse-delta checkout empty
	expect_status 2
	expect_stderr_contains "empty/LATEST: not a version number"
}

@test "muse-cat prints and checks a delta: op, key, record" {
	muse-delta diff "$D/s12.msk" "$D/s12-one.msk" > one.mdelta
	muse-delta diff "$D/v02.msk" "$D/v01.msk" > back.mdelta
	run --separate-stderr muse-cat --check one.mdelta back.mdelta
	expect_status 0
	expect_output_contains "one.mdelta: stream 1: delta dims=title,asset,date,segment"
	expect_output_contains ": 1 records: ok"
	run --separate-stderr muse-cat back.mdelta
	expect_status 0
	[ "${lines[1]}" = "op	title	asset	date	segment	impressions	plays	qplays	watch_s	reach	reach_form	qreach	qreach_form	areach	areach_form" ] ||
	    fail "columns: ${lines[1]}"
	# Deletes have the key and empty metric columns, upserts the record.
	muse-cat back.mdelta | awk -F'\t' 'NR > 2 { n[$1]++
	    if (NF != 15 || ($1 == "delete" && $6 != "") ||
		($1 == "upsert" && $6 == "")) bad++ }
	    END { exit !(n["delete"] && n["upsert"] && !bad) }' ||
	    fail "rows: $(muse-cat back.mdelta | head -5)"
	run --separate-stderr muse-cat -o json back.mdelta
	expect_status 0
	expect_output_contains '"op": "delete"}'
}
