#!/usr/bin/env bats
# muse-query --rollup: week and month roll-ups of a day store answer the
# whole periods of a query, the day store the rest; the answer must be the
# day store's own, byte for byte.  A roll-up names the store it was made
# from and is never used beside another version of it.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	# 2025-06-28 (a Saturday) to 2025-09-12: June's tail, July and August
	# whole, September in part; weeks cut at both ends.
	muse-gen -q -O data --users 1500 --days 77 --titles 15 --seed 5 \
	    --start 2025-06-28 || return 1
	for t in impressions plays affinities; do
		muse-ingest -o "$t.mev" "data/$t.csv" || return 1
	done
	muse-sketch -o store.msk impressions.mev plays.mev affinities.mev &&
	    muse-delta stamp -o v1.msk store.msk 1 &&
	    muse-merge --rollup month -o month.msk v1.msk &&
	    muse-merge --rollup week -o week.msk v1.msk &&
	    muse-merge --rollup quarter -o quarter.msk v1.msk || return 1
	# Another version: one more day of someone else's events merged in.
	muse-gen -q -O more --users 200 --days 1 --titles 15 --seed 9 \
	    --start 2025-07-15 || return 1
	for t in impressions plays affinities; do
		muse-ingest -o "more-$t.mev" "more/$t.csv" || return 1
	done
	muse-sketch -o more.msk more-impressions.mev more-plays.mev \
	    more-affinities.mev &&
	    muse-merge v1.msk more.msk | muse-delta stamp -o v2.msk - 2 || return 1
}

D=$BATS_FILE_TMPDIR

QUERIES=(
	"-m impressions,reach,plays,qreach,take_rate"
	"-d 2025-Q3 -t t0003 -b segment"
	"-d 2025-07-01..2025-09-12 -b title -m reach,qreach,areach,watch_s,bounce_rate"
	"-d 2025-07-05..2025-08-20 -a t0002-a1,t0002-a2 -s Anime,Family* -m reach,take_rate"
	"-d 2025-06-28..2025-07-31 -b asset --sort reach --top 6"
	"-d 2025-07 -b month,segment -m impressions,reach"
	"-d 2025-07-07..2025-08-17 -b week -t t000* -m reach,plays"
	"-d 2025-07-02..2025-07-09 -b asset -m reach"
	"-d 2025-08 -a t0004-a1 -b date -m reach,impressions"
	"-d 2025-07-01..2025-08-31 --compare t0001-a1,t0001-a2 -b segment"
	"-d 2025-07-01..2025-08-31 -b title --ci 95 -o json"
	"-b title,week -m reach"
	"-s nosuch -a t0001-a1 -d 2025-07"
)

# rollup_same ROLLUP...: every query answers the same with the roll-ups as
# without them, output and warnings.
rollup_same() {
	local q r=() f i=0
	for f in "$@"; do r+=(--rollup "$f"); done
	set -f
	for q in "${QUERIES[@]}"; do
		i=$((i + 1))
		eval "set -- $q"
		muse-query "$@" -o tsv "$D/v1.msk" > days.out 2> days.err ||
		    fail "query $i without roll-ups: $(cat days.err)"
		muse-query "${r[@]}" "$@" -o tsv "$D/v1.msk" > roll.out 2> roll.err ||
		    fail "query $i with roll-ups: $(cat roll.err)"
		cmp -s days.out roll.out || fail "query $i ($q) differs: $(diff days.out roll.out | head)"
		cmp -s days.err roll.err || fail "query $i ($q) warns otherwise: $(diff days.err roll.err)"
	done
	set +f
}

@test "a roll-up names the store it was made from" {
	local content
	content=$(muse-delta info "$D/v1.msk" | sed -n 's/.*checksum \([0-9a-f]*\).*/\1/p' | head -1)
	[ -n "$content" ] || fail "no checksum in: $(muse-delta info "$D/v1.msk")"
	muse-cat "$D/month.msk" | head -1 | grep -q " grain=month .* rollup-of=$content@1\$" ||
	    fail "$(muse-cat "$D/month.msk" | head -1) (store: $content)"
	muse-cat "$D/week.msk" | head -1 | grep -q " rollup-of=$content@1\$" ||
	    fail "$(muse-cat "$D/week.msk" | head -1)"
	# Not when anything else is merged in, nor when dimensions go.
	muse-merge --rollup month -o two.msk "$D/v1.msk" "$D/more.msk"
	muse-merge --rollup month --drop asset -o drop.msk "$D/v1.msk"
	! muse-cat two.msk drop.msk | grep -q rollup-of
	run --separate-stderr muse-query --rollup two.msk "$D/v1.msk" -m reach
	expect_status 2
	expect_stderr_contains "not a roll-up of a store"
}

@test "a roll-up made as the sorted store is read equals one sorted in memory" {
	# from a file: each title's period folded as it comes; from a pipe: the
	# records spooled, sorted and merged; only the header's binding differs
	for g in week month quarter; do
		muse-merge --rollup "$g" < "$D/v1.msk" - > "piped-$g.msk"
		muse-cat "$D/$g.msk" | tail -n +2 > file.txt
		muse-cat "piped-$g.msk" | tail -n +2 > piped.txt
		[ -s file.txt ] && cmp file.txt piped.txt
		cmp <(tail -c +65 "$D/$g.msk") <(tail -c +65 "piped-$g.msk")
	done
	# several inputs, and a second roll-up of a roll-up
	muse-merge --rollup month -o two.msk "$D/v1.msk" "$D/more.msk"
	cat "$D/v1.msk" "$D/more.msk" | muse-merge --rollup month - > two-piped.msk
	cmp <(muse-cat two.msk) <(muse-cat two-piped.msk)
	muse-merge --rollup month -o again.msk "$D/month.msk"
	cmp <(muse-cat again.msk | tail -n +2) <(muse-cat "$D/month.msk" | tail -n +2)
}

@test "month roll-up: every query answers as the day store, byte for byte" {
	rollup_same "$D/month.msk"
}

@test "week roll-up: every query answers as the day store, byte for byte" {
	rollup_same "$D/week.msk"
}

@test "quarter roll-up: every query answers as the day store, byte for byte" {
	rollup_same "$D/quarter.msk"
}

@test "all three roll-ups at once: the same answers" {
	rollup_same "$D/week.msk" "$D/month.msk" "$D/quarter.msk"
}

@test "a quarter roll-up answers a quarter, and cannot be grouped by month" {
	run --separate-stderr muse-query --stats --rollup "$D/month.msk" \
	    --rollup "$D/quarter.msk" -d 2025-Q3 -t t0003 -b segment "$D/v1.msk"
	expect_status 0
	muse-cat "$D/quarter.msk" | head -1 | grep -q " grain=quarter " ||
	    fail "$(muse-cat "$D/quarter.msk" | head -1)"
	run --separate-stderr muse-query -b month "$D/quarter.msk"
	expect_status 2
	expect_stderr_contains "the store holds quarters: it cannot be grouped by month"
	run --separate-stderr muse-merge --rollup month "$D/quarter.msk"
	expect_status 2
	expect_stderr_contains "cannot roll up a stream of quarters to months"
}

@test "--stats: whole months come from the roll-up, the other days from the store" {
	local day_blocks roll_blocks all_blocks
	# July and August: nothing is read from the day store.
	run --separate-stderr muse-query --stats --rollup "$D/month.msk" \
	    -d 2025-07-01..2025-08-31 -t t0003 -b segment "$D/v1.msk"
	expect_status 0
	expect_stderr_contains "read 0 of "
	roll_blocks=$(echo "$stderr" | sed -n 's/.*used for 1 store(s), \([0-9]*\) of their blocks.*/\1/p')
	[ "${roll_blocks:-0}" -gt 0 ] || fail "$stderr"
	# With days on either side, those come from the store.
	run --separate-stderr muse-query --stats --rollup "$D/month.msk" \
	    -d 2025-06-30..2025-09-02 -t t0003 -b segment "$D/v1.msk"
	expect_stderr_contains "roll-ups: used for 1 store(s)"
	day_blocks=$(echo "$stderr" | sed -n 's/.*read \([0-9]*\) of .*/\1/p')
	run --separate-stderr muse-query --stats -d 2025-06-30..2025-09-02 -t t0003 \
	    -b segment "$D/v1.msk"
	all_blocks=$(echo "$stderr" | sed -n 's/.*read \([0-9]*\) of .*/\1/p')
	[ "$day_blocks" -gt 0 ] && [ "$day_blocks" -le "$all_blocks" ] ||
	    fail "read $day_blocks day blocks with the roll-up, $all_blocks without"
	# Grouped by date, the roll-up cannot serve: no roll-up block is read.
	run --separate-stderr muse-query --stats --rollup "$D/month.msk" \
	    -d 2025-07 -t t0003 -b date "$D/v1.msk"
	expect_stderr_contains "used for 0 store(s), 0 of their blocks read"
}

@test "a roll-up of another version is not used, and the answer is the new version's" {
	local q
	for q in "-d 2025-07 -t t0003 -b segment" "-m reach,impressions"; do
		eval "set -- $q"
		run --separate-stderr muse-query --rollup "$D/month.msk" "$@" "$D/v2.msk"
		expect_status 0
		expect_stderr_contains "1 of the --rollup files were made from another version of it: not used"
		muse-query "$@" "$D/v2.msk" > want
		[ "$output" = "$(cat want)" ] || fail "$q: $output"
		# and the version it was made from answers otherwise
		[ "$output" != "$(muse-query "$@" "$D/v1.msk")" ] || fail "$q: v1 = v2?"
	done
}

@test "the same records under another version number, or published, use the roll-up" {
	muse-delta stamp -o v7.msk "$D/v1.msk" 7
	muse-delta publish pub "$D/v1.msk"
	for s in v7.msk pub; do
		run --separate-stderr muse-query --stats --rollup "$D/month.msk" \
		    -d 2025-07 -t t0003 -b segment "$s"
		expect_status 0
		expect_stderr_contains "roll-ups: used for 1 store(s)"
		[ "$output" = "$(muse-query -d 2025-07 -t t0003 -b segment "$D/v1.msk")" ] ||
		    fail "$s: $output"
	done
}

@test "muse-delta refuses roll-ups, leaving them as they were" {
	cp "$D/month.msk" m.msk
	muse-merge --rollup month "$D/v2.msk" > m2.msk
	run --separate-stderr muse-delta diff -o d.mdelta m.msk m2.msk
	expect_status 2
	expect_stderr_contains "a roll-up of version 1 of a store"
	[ ! -e d.mdelta ] || fail "a delta was written"
	muse-delta diff -o d.mdelta "$D/v1.msk" "$D/v2.msk"
	run --separate-stderr muse-delta apply --in-place m.msk d.mdelta
	expect_status 2
	expect_stderr_contains "make the roll-up again from the new version"
	cmp m.msk "$D/month.msk"
}

@test "--rollup: not an indexed roll-up, or too many, is a usage error" {
	run --separate-stderr muse-query --rollup "$D/v1.msk" -m reach "$D/v1.msk"
	expect_status 2
	expect_stderr_contains "not a roll-up of a store"
	run --separate-stderr muse-query --rollup nosuch.msk -m reach "$D/v1.msk"
	expect_status 2
	expect_stderr_contains "nosuch.msk"
	run --separate-stderr muse-query --rollup - -m reach "$D/v1.msk" < "$D/month.msk"
	expect_status 2
	expect_stderr_contains "a roll-up must be an indexed store file"
	local m=$D/month.msk
	run --separate-stderr muse-query --rollup "$m" --rollup "$m" --rollup "$m" \
	    --rollup "$m" --rollup "$m" -m reach "$D/v1.msk"
	expect_status 2
	expect_stderr_contains "at most 4 --rollup"
}

@test "--serve with roll-ups: the one-shot answers across new versions and roll-ups" {
	# Phase 0 answers from v1 and its roll-up; phase 1 from v2, renamed
	# over the store, beside the stale roll-up (days only); phase 2 from v2
	# and its own roll-up, renamed over the old one.
	local i=0 q s n=4
	cp "$D/v1.msk" live.msk
	cp "$D/month.msk" live-month.msk
	muse-merge --rollup month -o month2.msk "$D/v2.msk"
	mkfifo in
	muse-query --serve --rollup live-month.msk live.msk < in > answers 2> err &
	local pid=$!
	exec 5> in
	ask() {
		for q in "${QUERIES[@]:0:$n}"; do echo "$q -o json" >&5; done
		for _ in $(seq 200); do [ "$(wc -l < answers)" -ge "$1" ] && break; sleep 0.05; done
	}
	ask $n
	cp "$D/v2.msk" live.tmp && mv live.tmp live.msk
	sleep 0.5
	ask $((2 * n))
	cp month2.msk live-month.tmp && mv live-month.tmp live-month.msk
	sleep 0.5
	ask $((3 * n))
	exec 5>&-
	wait "$pid" || fail "serve exited $?: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
	[ "$(wc -l < answers)" -eq $((3 * n)) ] || fail "$(cat answers)"
	set -f
	for i in $(seq 0 $((3 * n - 1))); do
		q=${QUERIES[$((i % n))]}
		eval "set -- $q"
		if [ "$i" -lt "$n" ]; then s=$D/v1.msk; else s=$D/v2.msk; fi
		muse-query "$@" -o json "$s" > one.json
		sed -n "$((i + 1))p" answers > line.json
		python3 - one.json line.json "$q" "$((i < n ? 1 : 2))" <<'PY' || fail "line $((i + 1)): $q"
import json, sys
one = json.load(open(sys.argv[1]))
line = json.loads(open(sys.argv[2]).read())
assert line["rows"] == one, (sys.argv[3], line["rows"][:2], one[:2])
assert line["version"] == int(sys.argv[4]), line["version"]
PY
	done
}
