#!/usr/bin/env bats
# Resource limits (issue 8): hostile sizes end in a clear error and exit
# status 2 within a memory budget, never in a crash or an allocation the
# input alone decides.  The budget is 512 MiB of address space (ulimit
# -v); the sanitizer build reserves terabytes of address space for its
# shadow memory and cannot start under ulimit -v, so there the budget is
# AddressSanitizer's soft RSS limit, past which malloc returns NULL (see
# budget below).  Under make check-valgrind the address space is
# valgrind's: budget then runs the command without a limit, and the tests
# that need the budget to end are in tests/valgrind.skip.

bats_require_minimum_version 1.5.0
load helpers

BUDGET_MB=512
EDIT="python3 $MUSE_ROOT/tests/streamedit.py"

# budget CMD...: runs CMD (a muse program) within BUDGET_MB.
budget() {
	if [ -n "${MUSE_VALGRIND:-}" ]; then
		"$@"
	elif grep -q __asan_init "$(command -v "$1")"; then
		ASAN_OPTIONS=$ASAN_OPTIONS:allocator_may_return_null=1:soft_rss_limit_mb=$BUDGET_MB \
		    "$@"
	else
		(ulimit -v $((BUDGET_MB * 1024)) && exec "$@")
	fi
}

# A store, version 1; a store of one more day, version 2; the delta from
# one to the other; and the event streams they are made of.
setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	local d t
	for d in 2 3; do
		muse-gen -q -O g$d --users 200 --days $d --titles 4 --seed 3 || return 1
		for t in impressions plays affinities; do
			muse-ingest -q -o g$d/$t.mev g$d/$t.csv || return 1
		done
		muse-sketch -q g$d/impressions.mev g$d/plays.mev g$d/affinities.mev |
		    muse-delta stamp -o v$((d - 1)).msk - $((d - 1)) || return 1
	done
	muse-delta diff v1.msk v2.msk > d.mdelta || return 1
	cp g2/impressions.mev ev.mev
}

@test "a 100 MB CSV field is refused at its line, within the budget; no output" {
	{
		echo 'ts,user_id,asset_id,title_id,country'
		echo '2025-07-01T00:00:00Z,u0,t1-a1,t1,US'
		printf '2025-07-01T00:00:00Z,u1,'
		head -c 100000000 /dev/zero | tr '\0' a
		echo ',t1,US'
	} > big.csv
	run --separate-stderr budget muse-ingest -o out.mev big.csv
	expect_status 2
	expect_stderr_contains "muse-ingest: big.csv:3: record longer than 16 MiB"
	no_partial out.mev
	# Compressed, and quoted: the same.
	sed '3s/,aaaa/,"aaaa/; 3s/,t1,US$/",t1,US/' big.csv | zstd -q -1 > big.csv.zst
	run --separate-stderr budget muse-ingest -o out.mev big.csv.zst
	expect_status 2
	expect_stderr_contains "big.csv.zst:3: record longer than 16 MiB"
	no_partial out.mev
}

@test "--max-errors passes over a 100 MB field and reads the rows after it" {
	{
		echo 'ts,user_id,asset_id,title_id,country'
		echo '2025-07-01T00:00:00Z,u0,t1-a1,t1,US'
		printf '2025-07-01T00:00:00Z,u1,"'
		head -c 100000000 /dev/zero | tr '\0' a
		echo '",t1,US'
		echo '2025-07-01T00:00:00Z,u2,t1-a2,t1,US'
	} > big.csv
	run --separate-stderr budget muse-ingest --max-errors 1 -o out.mev big.csv
	expect_status 0
	expect_stderr_contains "big.csv:3: record longer than 16 MiB"
	run muse-cat out.mev
	expect_status 0
	[ "$(grep -c '^2025' <<< "$output")" -eq 2 ] || fail "$output"
	expect_output_contains "t1-a1"
	expect_output_contains "t1-a2"
}

@test "a line of 10^6 fields is refused, as a header and as a row" {
	awk 'BEGIN { printf "ts,user_id,asset_id,title_id,country";
	    for (i = 5; i < 1000000; i++) printf ",x"; print "" }' > wide-head.csv
	run --separate-stderr budget muse-ingest -o out.mev wide-head.csv
	expect_status 2
	expect_stderr_contains "muse-ingest: wide-head.csv:1: more than 4096 fields"
	no_partial out.mev
	{
		echo 'ts,user_id,asset_id,title_id,country'
		awk 'BEGIN { printf "2025-07-01T00:00:00Z";
		    for (i = 1; i < 1000000; i++) printf "\tx"; print "" }'
	} | tr , '\t' > wide.tsv
	run --separate-stderr budget muse-ingest -o out.mev wide.tsv
	expect_status 2
	expect_stderr_contains "muse-ingest: wide.tsv:2: more than 4096 fields"
	no_partial out.mev
}

@test "10^7 distinct assets: ingested in bounded memory; sketching them runs out of the budget cleanly" {
	awk 'BEGIN { print "ts,user_id,asset_id,title_id,country";
	    for (i = 0; i < 10000000; i++)
	        printf "2025-07-01T00:00:00Z,u%d,t1-a%d,t1,US\n", i % 1000, i }' |
	    budget muse-ingest -q -o many.mev
	run muse-cat --check many.mev
	expect_status 0
	expect_output_contains ": 10000000 records: ok"
	# A cell per asset (10^7 HLL sketches) cannot fit in 512 MiB: the
	# allocation that fails ends the run with a message, and no store.
	run --separate-stderr budget muse-sketch -q -o many.msk many.mev
	expect_status 2
	expect_stderr_contains "muse-sketch: many.mev: out of memory"
	no_partial many.msk
}

@test "a block header claiming 4 GiB (sizes past the 64 MiB limit) is refused by every reader" {
	cp "$BATS_FILE_TMPDIR"/{ev.mev,v1.msk,v2.msk,d.mdelta} .
	$EDIT ev.mev ev.x rawsz=2**32-1 size=2**32-1 nosums
	$EDIT v1.msk v1.x rawsz=2**32-1 size=2**32-1 nosums
	$EDIT d.mdelta d.x rawsz=2**32-1 size=2**32-1 nosums
	$EDIT v1.msk v1.y 'rawsz=(64<<20)+1'
	refused_quiet cat-ev "muse-cat: ev.x: byte 64: block sizes out of range" \
	    budget muse-cat --check ev.x
	# muse-cat prints as it reads: the header line may come first.
	refused cat-store "muse-cat: v1.y: byte 64: block sizes out of range" \
	    budget muse-cat v1.y
	refused_quiet sketch "muse-sketch: ev.x: byte 64: block sizes out of range" \
	    budget muse-sketch ev.x
	refused_quiet merge "muse-merge: v1.x: byte 64: block sizes out of range" \
	    budget muse-merge v1.x
	refused_quiet query "muse-query: v1.x: byte 64: block *" budget muse-query v1.x
	refused_quiet query-y "muse-query: v1.y: *" budget muse-query v1.y
	refused_quiet diff "muse-delta: v1.x: byte 64: block sizes out of range" \
	    budget muse-delta diff -o new.mdelta v1.x v2.msk
	no_partial new.mdelta
	refused_quiet info "muse-delta: d.x: byte 64: block sizes out of range" \
	    budget muse-delta info d.x
	refused_quiet apply "muse-delta: d.x: byte 64: block sizes out of range" \
	    budget muse-delta apply -o new.msk v1.msk d.x
	no_partial new.msk
}

@test "a block claiming the largest size allowed (64 MiB) or 2^32-1 records, checksums right: refused within the budget" {
	cp "$BATS_FILE_TMPDIR"/{ev.mev,v1.msk,d.mdelta} .
	for f in ev.mev v1.msk d.mdelta; do
		$EDIT $f big.$f 'rawsz=64<<20'
		$EDIT $f many.$f 'nrec=2**32-1'
		refused_quiet "$f raw" "muse-cat: big.$f: byte 64: block does not decompress to its stated size" \
		    budget muse-cat --check big.$f
		refused_quiet "$f nrec" "muse-cat: many.$f: byte 64: block holds fewer records than its header says" \
		    budget muse-cat --check many.$f
	done
	refused_quiet sketch "muse-sketch: big.ev.mev: byte 64: block does not decompress*" \
	    budget muse-sketch big.ev.mev
	refused_quiet query "muse-query: many.v1.msk: *" budget muse-query many.v1.msk
	refused_quiet apply "muse-delta: big.d.mdelta: byte 64: block does not decompress*" \
	    budget muse-delta apply -o new.msk v1.msk big.d.mdelta
	no_partial new.msk
}

@test "a trailer, store footer or delta footer claiming 2^62 records is refused" {
	cp "$BATS_FILE_TMPDIR"/{ev.mev,v1.msk,v2.msk,d.mdelta} .
	for f in ev.mev v1.msk d.mdelta; do
		$EDIT $f huge.$f 'records=2**62'
		refused_quiet "$f" "muse-cat: huge.$f: byte *: trailer counts disagree with the blocks read*" \
		    budget muse-cat --check huge.$f
	done
	refused_quiet query "muse-query: huge.v1.msk: store footer's record count disagrees with its blocks" \
	    budget muse-query huge.v1.msk
	refused_quiet merge "muse-merge: huge.v1.msk: byte *: trailer counts disagree*" \
	    budget muse-merge huge.v1.msk
	refused_quiet info "muse-delta: huge.d.mdelta: byte *: trailer counts disagree*" \
	    budget muse-delta info huge.d.mdelta
	# Applied in place: refused before a byte is written.
	cmp v1.msk "$BATS_FILE_TMPDIR/v1.msk"
	refused "apply" "muse-delta: huge.d.mdelta: byte *: trailer counts disagree*" \
	    budget muse-delta apply --in-place v1.msk huge.d.mdelta
	cmp v1.msk "$BATS_FILE_TMPDIR/v1.msk" || fail "store changed"
}
