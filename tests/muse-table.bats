#!/usr/bin/env bats
# muse-table: versions, files and tiers of a table directory (SPEC 2,
# issue 5): compaction, expiry under a covering store, vacuum; each
# rotation one commit.

load helpers
bats_require_minimum_version 1.5.0

# A table of five commits of a fifth of the rows each (4 buckets), so that
# every partition has several files.
setup_file() {
	cd "$BATS_FILE_TMPDIR" && ingest_small || return 1
	for k in 0 1 2 3 4; do
		for t in impressions plays; do
			awk -v k=$k 'NR == 1 || NR % 5 == k' "$t.csv" > "$t-$k.csv"
		done
		muse-ingest -O wh --buckets 4 "impressions-$k.csv" "plays-$k.csv" || return 1
	done
	muse-ingest -O wh affinities.csv || return 1
	muse-sketch -o ref.msk impressions.mev plays.mev affinities.mev || return 1
}

D=$BATS_FILE_TMPDIR

setup() {
	cd "$BATS_TEST_TMPDIR" && cp -r "$D/wh" .
}

# partitions DIR: "table date bucket files" per dated partition
partitions() {
	muse-table ls "$1" | awk -F'\t' 'NR > 1 && $2 != "-" { n[$1 " " $2 " " $3]++ }
	    END { for (k in n) print k, n[k] }' | sort
}

@test "--help, --version, usage errors" {
	check_help muse-table
	check_version muse-table
	refused nocmd "*no command*" muse-table
	refused unknown '*unknown command "frob"*' muse-table frob wh
	refused near '*unknown command "compcat"; did you mean "compact"?*' muse-table compcat wh
	refused nearopt '*unknown option "--kep"; did you mean "--keep"?*' muse-table vacuum --kep 3 wh
	refused notdir "*notthere: not a table directory*" muse-table log notthere
	refused notopt "*--keep is not an option of compact*" muse-table compact --keep 2 wh
	refused level '*bad --level "23"*' muse-table compact --level 23 wh
	refused before '*bad --before "2025-7-1"*' muse-table compact --before 2025-7-1 wh
	refused nobefore "*expire needs --before*" muse-table expire --covered-by x wh
	refused nostore "*expire needs --covered-by*" muse-table expire --before 2025-07-03 wh
	refused two "*takes one DIR*" muse-table log wh wh
}

@test "log lists every version; ls lists the files of one" {
	run muse-table log wh
	expect_status 0
	[ "${lines[0]}" = $'version\tfiles\trows\tbytes\tcommitted' ] || fail "$output"
	[ "${#lines[@]}" -eq 7 ] || fail "$output"
	[[ ${lines[1]} == 6$'\t'* ]] || fail "$output"
	[[ ${lines[6]} == 1$'\t'* ]] || fail "$output"
	# the rows of the newest version are every row ingested
	rows=$(printf '%s\n' "${lines[1]}" | cut -f3)
	want=$(cat "$D"/*.mev | muse-cat | grep -vc -e '^#' -e $'^ts\t' -e $'^user\t')
	[ "$rows" -eq "$want" ] || fail "rows $rows, want $want"
	run muse-table ls --as-of 1 wh
	expect_status 0
	[[ ${lines[0]} == $'table\tdate\tbucket\trows'* ]] || fail "$output"
	[ "$(printf '%s\n' "${lines[@]:1}" | cut -f1 | sort -u | paste -sd,)" = impressions,plays ] || fail "$output"
}

@test "compact rewrites each old partition as one file; answers do not change" {
	before=$(partitions wh | awk '$2 < "2025-07-04" && $4 > 1' | wc -l)
	[ "$before" -gt 0 ] || fail "no partition with several files to compact"
	run --separate-stderr muse-table compact -v --before 2025-07-04 wh
	expect_status 0
	expect_stderr_contains "version 7: compacted"
	# every partition before the date has one compacted file; others are as they were
	partitions wh | awk '$2 < "2025-07-04" && $4 != 1 { exit 1 }' || fail "$(partitions wh)"
	muse-table ls wh | awk -F'\t' 'NR > 1 && $2 != "-" && $2 < "2025-07-04" && $10 !~ /\/c[0-9]+-/ { exit 1 }' ||
	    fail "a file not compacted"
	partitions wh | awk '$2 >= "2025-07-04"' > after-new
	partitions "$D/wh" | awk '$2 >= "2025-07-04"' > before-new
	cmp after-new before-new
	muse-sketch -o s.msk wh
	cmp s.msk "$D/ref.msk"
	muse-sketch --read-ahead -o ra.msk wh
	cmp ra.msk "$D/ref.msk"
	# the old version still reads its own files until vacuum
	muse-sketch --as-of 6 -o old.msk wh
	cmp old.msk "$D/ref.msk"
	# nothing left to do: no new version
	run --separate-stderr muse-table compact -v --before 2025-07-04 wh
	expect_status 0
	expect_stderr_contains "nothing compacted"
	[ ! -e wh/versions/00000008 ] || fail "an empty commit was made"
}

@test "expire drops the old partitions a store covers, and only those" {
	muse-sketch --date 2025-07-01..2025-07-02 -o cover.msk wh
	run --separate-stderr muse-table expire -v --before 2025-07-04 --covered-by cover.msk wh
	expect_status 0
	expect_stderr_contains "version 7: expired"
	# days 1 and 2 went; day 3 is older but not covered: kept
	run muse-table ls wh
	dates=$(printf '%s\n' "${lines[@]:1}" | cut -f2 | sort -u | paste -sd,)
	case $dates in
	*2025-07-01* | *2025-07-02*) fail "covered days kept: $dates" ;;
	esac
	[[ $dates == *2025-07-03* ]] || fail "uncovered day dropped: $dates"
	# the sketches of the dropped days are in the store; later days still sketch
	muse-sketch --date 2025-07-04..2025-07-05 -o late.msk wh
	muse-sketch --date 2025-07-04..2025-07-05 -o want.msk "$D/impressions.mev" "$D/plays.mev" "$D/affinities.mev"
	cmp late.msk want.msk
	# a store without dates covers nothing
	muse-sketch --by title,asset -o nodate.msk "$D/impressions.mev" "$D/affinities.mev"
	refused nodate "*covers no day*" muse-table expire --before 2025-07-04 --covered-by nodate.msk wh
	refused notstore "*" muse-table expire --before 2025-07-04 --covered-by "$D/plays.mev" wh
}

@test "vacuum removes old versions and unnamed files, never a young writer's file" {
	muse-table compact --before 2025-07-06 wh
	# what compaction replaced is as old as a day's files would be
	find wh/data -type f -exec touch -d '2 hours ago' {} +
	touch wh/data/plays/2025-07-01/b000-young-0.mev
	touch -d '2 hours ago' wh/data/plays/2025-07-01/b000-orphan-0.mev
	run --separate-stderr muse-table vacuum -v --keep 1 wh
	expect_status 0
	expect_stderr_contains "removed"
	[ "$(ls wh/versions)" = 00000007 ] || fail "$(ls wh/versions)"
	[ -e wh/data/plays/2025-07-01/b000-young-0.mev ] || fail "a young file was removed"
	[ ! -e wh/data/plays/2025-07-01/b000-orphan-0.mev ] || fail "an orphan was kept"
	# every remaining data file is named by the kept version, or young
	find wh/data -name '*.mev' ! -name '*young*' | sed 's|^wh/||' | sort > on-disk
	muse-table ls wh | awk -F'\t' 'NR > 1 { print $10 }' | sort > named
	cmp on-disk named
	muse-sketch -o s.msk wh
	cmp s.msk "$D/ref.msk"
	refused gone "*version 3 was removed by vacuum (versions 7 to 7 remain)*" muse-sketch --as-of 3 wh
	run muse-table log wh
	[ "${#lines[@]}" -eq 2 ] || fail "$output"
}

@test "a reader keeps its version while a rotation lands" {
	mkfifo later
	muse-sketch -o during.msk wh later &
	pid=$!
	muse-table compact --before 2025-07-06 wh
	muse-table vacuum --keep 1 --grace 0 wh || true
	printf 'user_id,cluster\n' | muse-ingest -o empty.mev
	cat empty.mev > later
	wait "$pid"
	cmp during.msk "$D/ref.msk"
}

@test "kill -9 during compaction leaves the newest version whole" {
	for i in 1 2 3 4 5 6; do
		cp -r "$D/wh" "w$i"
		muse-table compact --before 2025-07-06 "w$i" &
		pid=$!
		sleep "0.0$i"
		kill -9 "$pid" 2> /dev/null || true
		wait "$pid" || true
		muse-sketch -o "s$i.msk" "w$i"
		cmp "s$i.msk" "$D/ref.msk"
	done
}

@test "two rotations at once: one lands, the other finds nothing or says so" {
	muse-table compact --before 2025-07-06 wh 2> e1 & a=$!
	muse-table compact --before 2025-07-06 wh 2> e2 & b=$!
	s1=0 s2=0
	wait "$a" || s1=$?
	wait "$b" || s2=$?
	[ $((s1 + s2)) -le 2 ] || fail "both failed: $(cat e1 e2)"
	for s in "$s1:e1" "$s2:e2"; do
		[ "${s%%:*}" = 0 ] || grep -q "another rotation changed the table" "${s#*:}" ||
		    fail "$(cat "${s#*:}")"
	done
	muse-sketch -o s.msk wh
	cmp s.msk "$D/ref.msk"
}
