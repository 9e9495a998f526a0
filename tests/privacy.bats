#!/usr/bin/env bats
# Privacy (issue 8): no raw user id from the input reaches any stream,
# store, delta, publishing directory, table or message the pipeline
# writes, in its bytes or in its compressed blocks decompressed.
#
# Where raw ids are meant to be: the input tables, and the file of
# --rejects (muse-ingest), whose purpose is to keep the rows it skipped
# exactly as they were read so that they can be fixed and fed again.  It is
# written only when asked for, holds only the rejected rows, and a test
# below checks both.  An error message quotes a bad field: a user id only
# when the user id itself is the field at fault (empty, a control
# character, invalid UTF-8).
#
# What is stored for a user is the XXH3-128 of the id under the fixed,
# documented seed 0x6d757365 (muse-format(5), "User-id hash"): a
# pseudonym, not a secret.  Anyone holding a stream can hash a guessed id
# and look for it, so ids that can be guessed (sequence numbers, e-mail
# addresses) should be keyed upstream (an HMAC with a secret key) when the
# streams may leave the trust boundary of the raw tables.

bats_require_minimum_version 1.5.0
load helpers

UNPACK="python3 $MUSE_ROOT/tests/streamedit.py --unpack"

# The muse-gen tables, with every user id replaced by a distinctive raw
# id, ZqNNNNNNN@corp.example, then the whole pipeline, every output and
# every message kept in $BATS_FILE_TMPDIR/w (inputs in w/in).
setup_file() {
	local W=$BATS_FILE_TMPDIR/w t i
	mkdir -p "$W/in" && cd "$W" || return 1
	muse-gen -q -O gen --users 300 --days 3 --titles 6 --seed 11 || return 1
	for t in impressions plays affinities; do
		awk -F, -v OFS=, 'NR > 1 { for (i = 1; i <= NF; i++)
		    if (i == c) $i = "Zq" substr($i, 2) "@corp.example" }
		    NR == 1 { for (i = 1; i <= NF; i++) if ($i == "user_id") c = i }
		    { print }' gen/$t.csv > in/$t.csv || return 1
	done
	rm -rf gen
	grep -q '^[^,]*,Zq[0-9]*@corp.example,' in/impressions.csv || return 1
	# Two plays rows whose ts is bad: skipped, and kept by --rejects.
	echo '2025-13-01T00:00:00Z,Zq7777777@corp.example,t0001,10.0,play' >> in/plays.csv
	echo 'yesterday,Zq8888888@corp.example,t0002,10.0,play' >> in/plays.csv
	# The plays again as zstd-compressed TSV.
	grep -v '^2025-13\|^yesterday' in/plays.csv | tr , '\t' | zstd -q > in/plays.tsv.zst

	muse-ingest -q -o imp.mev in/impressions.csv 2> ingest-imp.err &&
	muse-ingest --max-errors 2 --rejects rejects.csv -o plays.mev \
	    in/plays.csv 2> ingest-plays.err &&
	muse-ingest -q -o plays-tsv.mev in/plays.tsv.zst 2> ingest-tsv.err &&
	muse-ingest -q in/affinities.csv > aff.mev 2> ingest-aff.err &&
	cat imp.mev plays.mev aff.mev > all.mev &&
	muse-sketch -q -o store.msk imp.mev plays.mev aff.mev 2> sketch.err &&
	muse-sketch -q --date 2025-07-01 all.mev > day1.msk 2> sketch-day.err &&
	for i in 0 1; do
		muse-sketch -q --bucket $i/2 -o b$i.msk all.mev || return 1
	done &&
	muse-merge -q -o buckets.msk b0.msk b1.msk 2> merge.err &&
	muse-merge -q --rollup week -o week.msk store.msk &&
	muse-delta stamp -o v1.msk day1.msk 1 &&
	muse-delta stamp -o v2.msk store.msk 2 &&
	muse-delta diff --reverse undo.mdelta -o v2.mdelta v1.msk v2.msk 2> delta.err &&
	muse-delta apply -o applied.msk v1.msk v2.mdelta &&
	muse-delta publish --snapshot-every 5 pub v1.msk &&
	muse-delta publish pub v2.msk &&
	muse-delta checkout -o co1.msk pub 1 &&
	muse-delta info v1.msk v2.msk v2.mdelta undo.mdelta > info.txt &&
	muse-query store.msk --by asset,segment --ci 95 -o tsv > q.tsv 2> q.err &&
	muse-query store.msk --by title,date -o csv > q.csv &&
	muse-query store.msk --by segment -o json --stats > q.json 2> stats.err &&
	muse-query store.msk -o table > q.table &&
	muse-query pub --as-of 1 --by asset > q-asof.tsv &&
	printf '%s\n' '--by asset' '--segment * --by date' '--title t0001' |
	    muse-query --serve store.msk > serve.out 2> serve.err &&
	for f in all.mev store.msk week.msk v2.mdelta undo.mdelta; do
		muse-cat $f > $f.cat.tsv && muse-cat -o json $f > $f.cat.json &&
		    muse-cat --check $f > $f.check || return 1
	done
}

setup() {
	valgrind_skip || return
	cd "$BATS_FILE_TMPDIR/w" || return 1
}

# leaks FILE: prints what of the raw ids FILE's bytes hold.
leaks() {
	LC_ALL=C grep -a -o -E 'Zq[0-9]+@corp|[0-9]{7}@corp\.example|corp\.example' "$1" |
	    sort -u | head -5
}

@test "no raw user id in any file the pipeline wrote, nor in its decompressed blocks" {
	local f found n=0 s=0
	while IFS= read -r f; do
		case $f in ./in/* | ./rejects.csv) continue ;; esac
		n=$((n + 1))
		found=$(leaks "$f")
		[ -z "$found" ] || fail "$f holds raw ids: $found"
		# A stream's blocks are zstd frames: read them decompressed.
		if [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' ')" = 8a4d5553 ]; then
			$UNPACK "$f" > unpacked || fail "$f: cannot unpack"
			[ -s unpacked ] || fail "$f: nothing unpacked"
			found=$(leaks unpacked)
			[ -z "$found" ] || fail "$f, decompressed, holds raw ids: $found"
			s=$((s + 1))
		fi
	done < <(find . -type f ! -name unpacked)
	rm -f unpacked
	# The walk saw the streams, stores, deltas and publishing directory.
	[ "$s" -ge 20 ] || fail "only $s streams among $n files"
	ls pub/* > /dev/null || fail "no publishing directory"
	# And the inputs hold the ids, so the search could find them.
	[ -n "$(leaks in/impressions.csv)" ] && [ -n "$(leaks in/affinities.csv)" ] &&
	    [ -n "$(zstd -dc in/plays.tsv.zst > plays.tsv && leaks plays.tsv)" ] ||
	    fail "the ids are not in the inputs"
	rm -f plays.tsv
}

@test "the users are there, as hashes: the stores count them, and muse-cat prints 32 hex digits a user" {
	local users
	users=$(awk -F, 'NR > 1 { print $2 }' in/impressions.csv | sort -u | wc -l)
	[ "$users" -gt 100 ] || fail "only $users users"
	# Reach of all impressions, all segments: every user, exactly (sparse
	# sketches are exact at this size).
	run muse-query store.msk --segment '*' -m reach -o tsv
	expect_status 0
	[ "${lines[1]}" -eq "$users" ] || fail "reach ${lines[1]}, $users users"
	# The user column of the events: 32 hexadecimal digits, as many
	# distinct values as raw ids.
	run bash -c "muse-cat imp.mev | awk -F'\t' 'NR > 2 { print \$2 }' | sort -u"
	expect_status 0
	[ "${#lines[@]}" -eq "$users" ] || fail "${#lines[@]} hashes, $users users"
	[[ ${lines[0]} =~ ^[0-9a-f]{32}$ ]] || fail "user printed as ${lines[0]}"
}

@test "a user is stored neither as its bytes nor as their hex or base64" {
	local id hex b64 f
	for id in $(awk -F, 'NR > 1 && NR < 30 { print $2 }' in/impressions.csv | sort -u); do
		hex=$(printf %s "$id" | od -An -tx1 | tr -d ' \n')
		b64=$(printf %s "$id" | base64 | tr -d '=\n')
		for f in imp.mev.cat.tsv all.mev.cat.tsv all.mev.cat.json; do
			! grep -q -i -F -e "$hex" -e "${hex:0:16}" "$f" ||
			    fail "$id in hex in $f"
			! grep -q -F -e "${b64:0:12}" "$f" || fail "$id in base64 in $f"
		done
		printf %s "$id" > id.bin
		for f in imp.mev all.mev; do
			$UNPACK $f | grep -q -a -F -f id.bin && fail "$id in $f"
		done
	done
	rm -f id.bin
}

@test "--rejects keeps the rejected rows as read, and only them" {
	# The file --rejects is for holds the two bad rows, raw ids and all.
	run cat rejects.csv
	[ "${#lines[@]}" -eq 3 ] || fail "rejects: $output"
	[ "${lines[0]}" = "ts,user_id,title_id,duration_s,kind" ] || fail "header: ${lines[0]}"
	expect_output_contains "2025-13-01T00:00:00Z,Zq7777777@corp.example,t0001,10.0,play"
	expect_output_contains "yesterday,Zq8888888@corp.example,t0002,10.0,play"
	# No id of a good row.
	[ "$(leaks rejects.csv | grep -c -v -e 7777777 -e 8888888 -e '^corp')" -eq 0 ] ||
	    fail "good rows in rejects: $(leaks rejects.csv)"
	# Without --rejects, no such file: the ids stay in the input.
	run --separate-stderr muse-ingest --max-errors 2 -o p.mev in/plays.csv
	expect_status 0
	[ "$(find . -newer p.mev -type f | wc -l)" -eq 0 ] || fail "files written: $(find . -newer p.mev)"
	rm -f p.mev
}

@test "messages about a bad row name its line and bad field, not its user id" {
	local e
	for e in *.err; do
		found=$(leaks "$e")
		[ -z "$found" ] || fail "$e: $found"
	done
	run cat ingest-plays.err
	expect_output_contains 'plays.csv:'
	expect_output_contains 'bad ts "2025-13-01T00:00:00Z"'
	expect_output_contains 'bad ts "yesterday"'
	# Refused without --max-errors: the same.
	run --separate-stderr muse-ingest -o p.mev in/plays.csv
	expect_status 2
	expect_stderr_contains 'bad ts "2025-13-01T00:00:00Z"'
	[ -z "$(leaks <(printf %s "$stderr"))" ] || fail "stderr: $stderr"
	no_partial p.mev
}
