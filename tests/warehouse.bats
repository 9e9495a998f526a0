#!/usr/bin/env bats
# Table directories (SPEC 2, issue 5): muse-ingest -O DIR commits rows
# partitioned by date and user-hash bucket as numbered versions;
# muse-sketch DIR reads one version, only the files that can match.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	cd "$BATS_FILE_TMPDIR" && ingest_small || return 1
	muse-sketch -o ref.msk impressions.mev plays.mev affinities.mev || return 1
	muse-ingest -O wh --buckets 4 impressions.csv plays.csv affinities.csv || return 1
}

D=$BATS_FILE_TMPDIR

setup() {
	cd "$BATS_TEST_TMPDIR" && cp "$D"/*.csv .
}

EV=("$BATS_FILE_TMPDIR/impressions.mev" "$BATS_FILE_TMPDIR/plays.mev" "$BATS_FILE_TMPDIR/affinities.mev")

# files DIR VERSION: the data files a manifest names, one per line.
files() {
	awk -F'\t' '$1 == "file" { print $11 }' "$1/versions/$(printf %08d "$2")"
}

@test "a table directory sketches to the same store, byte for byte, as the event streams" {
	muse-sketch -o t.msk "$D/wh"
	cmp t.msk "$D/ref.msk"
	# every file the manifest names is there, with its size and checksum
	run awk -F'\t' '$1 == "file"' "$D/wh/versions/00000001"
	[ "${#lines[@]}" -ge 12 ] || fail "only ${#lines[@]} files"
	while IFS=$'\t' read -r _ table day bk rows bytes _ _ sum schema path; do
		[ "$(stat -c %s "$D/wh/$path")" = "$bytes" ] || fail "$path: size"
		[[ $path == data/$table/* ]] || fail "$path: not under its table"
		[[ $bk == */4 ]] || fail "$path: bucket $bk"
		[ "$rows" -gt 0 ] || fail "$path: no rows"
		[ -n "$schema" ] || fail "$path: no schema"
	done < <(awk -F'\t' '$1 == "file"' "$D/wh/versions/00000001")
}

@test "buckets sketched apart and merged give the same store; any N works" {
	for b in 0 1 2 3; do muse-sketch --bucket "$b" "$D/wh"; done | muse-merge -o m.msk
	cmp m.msk "$D/ref.msk"
	# a sketch bucket count other than the table's still prunes correctly
	for b in 0 1 2; do
		muse-sketch --bucket "$b/3" "$D/wh" > a.msk
		muse-sketch --bucket "$b/3" "${EV[@]}" > b.msk
		cmp a.msk b.msk
	done
}

@test "--date and --bucket open only the partitions that can match, and the answer is the same" {
	run --separate-stderr muse-sketch -v --date 2025-07-03 --bucket 1 -o p.msk "$D/wh"
	expect_status 0
	# plays of the day, impressions of the day and of the window before it,
	# affinities: all of bucket 1
	want=$(awk -F'\t' '$1 == "file" && $4 == "1/4" && ($2 == "affinities" ||
	    ($2 == "plays" && $3 == "2025-07-03") ||
	    ($2 == "impressions" && ($3 == "2025-07-02" || $3 == "2025-07-03")))' \
	    "$D/wh/versions/00000001" | wc -l)
	total=$(grep -c '^file' "$D/wh/versions/00000001")
	expect_stderr_contains "version 1: reading $want of $total files"
	muse-sketch --date 2025-07-03 --bucket 1/4 -o q.msk "${EV[@]}"
	cmp p.msk q.msk
	# proof: remove every other partition; the same command still works
	cp -r "$D/wh" wh2
	awk -F'\t' '$1 == "file" && !($4 == "1/4" && ($2 == "affinities" ||
	    ($2 == "plays" && $3 == "2025-07-03") ||
	    ($2 == "impressions" && ($3 == "2025-07-02" || $3 == "2025-07-03")))) { print $11 }' \
	    wh2/versions/00000001 | (cd wh2 && xargs rm)
	muse-sketch --date 2025-07-03 --bucket 1 -o r.msk wh2
	cmp r.msk q.msk
	# and a query that needs a removed file fails, naming it
	run --separate-stderr muse-sketch --bucket 2 wh2
	expect_status 2
	expect_stderr_contains "wh2/data/"
}

@test "plays of a day pull the impressions of the window before it" {
	printf '%s\n' 'ts,user_id,asset_id,title_id,country' \
	    '2025-07-01T23:50:00Z,u1,t1-a1,t1,US' > imp.csv
	printf '%s\n' 'ts,user_id,title_id,duration_s' \
	    '2025-07-02T00:30:00Z,u1,t1,300' > plays.csv
	printf '%s\n' 'user_id,cluster' 'u1,Anime' > aff.csv
	muse-ingest -O w imp.csv plays.csv aff.csv
	run --separate-stderr muse-sketch -v --date 2025-07-02 -o day.msk w
	expect_status 0
	expect_stderr_contains "reading 3 of 3 files"
	# the play counts, keyed by its impression's day
	run muse-query day.msk --by date --metrics plays --format tsv
	expect_status 0
	[ "${lines[1]}" = $'2025-07-01\t1' ] || fail "$output"
	# without a window the day before is not read
	run --separate-stderr muse-sketch -v --window 0 --date 2025-07-02 -o x.msk w
	expect_status 0
	expect_stderr_contains "reading 2 of 3 files"
}

@test "each commit is a version; --as-of reads an old one while new ones land" {
	awk -F, 'NR == 1 || $1 < "2025-07-03"' impressions.csv > i1.csv
	awk -F, 'NR == 1 || $1 < "2025-07-03"' plays.csv > p1.csv
	awk -F, 'NR == 1 || $1 >= "2025-07-03"' impressions.csv > i2.csv
	awk -F, 'NR == 1 || $1 >= "2025-07-03"' plays.csv > p2.csv
	muse-ingest -O w --buckets 2 i1.csv p1.csv affinities.csv
	muse-ingest -o i1.mev i1.csv
	muse-ingest -o p1.mev p1.csv
	muse-sketch -o v1.msk i1.mev p1.mev "$D/affinities.mev"
	muse-sketch -o now.msk w
	cmp now.msk v1.msk
	muse-ingest -O w i2.csv p2.csv
	[ -f w/versions/00000002 ] || fail "no version 2"
	muse-sketch -o all.msk w
	cmp all.msk "$D/ref.msk"
	muse-sketch --as-of 1 -o old.msk w
	cmp old.msk v1.msk
	run --separate-stderr muse-sketch --as-of 3 w
	expect_status 2
	expect_stderr_contains "no version 3 (newest is 2)"
}

@test "a reader keeps the version it started with while a commit lands" {
	awk -F, 'NR == 1 || $1 < "2025-07-03"' impressions.csv > i1.csv
	awk -F, 'NR == 1 || $1 >= "2025-07-03"' impressions.csv > i2.csv
	muse-ingest -O w i1.csv plays.csv affinities.csv
	muse-sketch -o v1.msk w
	# the reader loads the directory, then waits on a FIFO
	mkfifo later
	muse-sketch -o during.msk w later &
	pid=$!
	muse-ingest -O w i2.csv
	printf '' | muse-ingest -t affinities -o empty.mev - 2> /dev/null ||
	    printf 'user_id,cluster\n' | muse-ingest -o empty.mev
	cat empty.mev > later
	wait "$pid"
	cmp during.msk v1.msk
	muse-sketch -o v2.msk w
	cmp v2.msk "$D/ref.msk"
}

@test "writers committing at once all land: no lost file, every version whole" {
	for b in 0 1 2 3 4 5; do
		awk -F, -v b=$b 'NR == 1 || NR % 6 == b' impressions.csv > "i$b.csv"
	done
	for b in 0 1 2 3 4 5; do
		muse-ingest -O w --buckets 4 "i$b.csv" &
	done
	muse-ingest -O w --buckets 4 plays.csv affinities.csv &
	wait
	ls w/versions
	[ "$(ls w/versions | wc -l)" -eq 7 ] || fail "$(ls -a w/versions)"
	muse-sketch -o all.msk w
	cmp all.msk "$D/ref.msk"
	# no temporaries left, every named file present
	[ -z "$(ls -A w/versions | grep -v '^[0-9]\{8\}$')" ] || fail "$(ls -A w/versions)"
	files w 7 | (cd w && xargs ls > /dev/null)
}

@test "kill -9 during a commit leaves the newest version valid" {
	muse-gen -q -O big --users 4000 --days 3 --seed 3
	muse-ingest -O w --buckets 8 "$D/affinities.csv"
	for i in 1 2 3 4 5 6 7 8; do
		muse-ingest -O w big/impressions.csv &
		pid=$!
		sleep "0.0$i"
		kill -9 "$pid" 2> /dev/null || true
		wait "$pid" || true
		# whatever version is newest is whole: every file it names reads
		v=$(ls w/versions | grep -c '^[0-9]\{8\}$')
		files w "$v" | (cd w && xargs muse-cat --check > /dev/null) ||
		    fail "version $v after kill at 0.0$i s is not whole"
	done
	muse-sketch -o x.msk w
}

@test "the bucket count is fixed by a table's first commit" {
	muse-ingest -O w --buckets 4 affinities.csv
	run --separate-stderr muse-ingest -O w --buckets 8 affinities.csv
	expect_status 2
	expect_stderr_contains "table affinities has 4 buckets, not 8"
	[ "$(ls w/versions)" = 00000001 ] || fail "$(ls w/versions)"
	# without --buckets a commit takes the table's count
	muse-ingest -O w affinities.csv
	grep -q '^buckets affinities 4$' w/versions/00000002
}

@test "files with other columns are read together; the manifest keeps each schema" {
	# plays without kind, plays with kind, impressions with an extra column
	awk -F, 'NR == 1 { print $0 ",campaign"; next } { print $0 ",c" NR % 3 }' \
	    impressions.csv > imp-extra.csv
	muse-ingest -O w imp-extra.csv plays.csv affinities.csv
	printf '%s\n' 'ts,user_id,title_id,duration_s,kind' \
	    '2025-07-02T10:00:00Z,zz1,t0001,700,preview' \
	    '2025-07-02T11:00:00Z,zz2,t0001,700,play' > plays-kind.csv
	muse-ingest -O w plays-kind.csv
	grep -q $'\tts,user_id,asset_id,title_id,country,campaign\t' w/versions/00000002
	grep -q $'\tts,user_id,title_id,duration_s,kind\t' w/versions/00000002
	muse-ingest -o pk.mev plays-kind.csv
	muse-sketch -o w.msk w
	muse-sketch -o f.msk "${EV[@]}" pk.mev
	cmp w.msk f.msk
}

@test "--min-preview drops short previews at ingest; the store does not change" {
	printf '%s\n' 'ts,user_id,title_id,duration_s,kind' \
	    '2025-07-02T10:00:00Z,u1,t0001,5,preview' \
	    '2025-07-02T10:00:00Z,u2,t0001,50,preview' \
	    '2025-07-02T11:00:00Z,u3,t0001,5,play' > p.csv
	muse-ingest --min-preview 30 -o short.mev p.csv
	muse-ingest -o all.mev p.csv
	run muse-cat short.mev
	[ "$(printf '%s\n' "$output" | grep -c preview)" -eq 1 ] || fail "$output"
	[ "$(printf '%s\n' "$output" | grep -c 'play$')" -eq 1 ] || fail "$output"
	muse-sketch -o a.msk "$D/impressions.mev" "$D/affinities.mev" all.mev
	muse-sketch -o b.msk "$D/impressions.mev" "$D/affinities.mev" short.mev
	cmp a.msk b.msk
	refused bad "*bad*" muse-ingest --min-preview x -o z.mev p.csv
}

@test "bad manifests, options and directories are refused clearly" {
	cp -r "$D/wh" w
	# a flipped byte in a manifest
	sed -i '6s/impressions/impressionz/' w/versions/00000001
	refused tampered "*00000001*bad manifest: checksum mismatch*" muse-sketch w
	# a truncated one
	cp "$D/wh/versions/00000001" w/versions/00000001
	head -c 300 "$D/wh/versions/00000001" > w/versions/00000002
	refused truncated "*00000002*bad manifest*" muse-sketch w
	rm w/versions/00000002
	refused both "*exclude each other*" muse-ingest -o x -O y affinities.csv
	refused buckets "*--buckets needs -O*" muse-ingest --buckets 4 affinities.csv
	refused zero "*bad --buckets*" muse-ingest -O y --buckets 0 affinities.csv
	refused alone "*needs table directories*" muse-sketch --bucket 1 "$D/plays.mev"
	refused beyond "*beyond the table's 4 buckets*" muse-sketch --bucket 4 w
	refused asof "*bad --as-of*" muse-sketch --as-of x w
	touch afile
	refused notdir "*afile*" muse-ingest -O afile affinities.csv
	mkdir -p empty/versions
	refused empty "*empty table directory*" muse-sketch empty
	# a failed commit leaves no version and no data file
	printf '%s\n' 'user_id,cluster' 'u1,Anime' 'u2' > bad.csv
	refused badrow "*bad.csv:3*" muse-ingest -O w2 bad.csv
	[ -z "$(ls w2/versions)" ] || fail "a version was made"
	[ -z "$(find w2 -name '*.mev')" ] || fail "data files left: $(find w2 -name '*.mev')"
}

# peak_rss CMD...: runs CMD; prints its peak resident set size in kB.
# (Under AddressSanitizer, freed memory waits in a quarantine before it is
# reused, which would add up the passes: keep that small.)
peak_rss() {
	ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=1" python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}

@test "--memory splits the job into passes: the same store in less memory" {
	muse-gen -q -O big --users 20000 --days 3 --seed 5
	muse-ingest -O w --buckets 4 big/impressions.csv big/plays.csv big/affinities.csv
	one=$(peak_rss muse-sketch -o one.msk w)
	run --separate-stderr muse-sketch -v --memory 2M -o many.msk w
	expect_status 0
	expect_stderr_contains "pass 1 of "
	[[ $stderr == *"pass 4 of "* ]] || fail "fewer than 4 passes: $stderr"
	cmp one.msk many.msk
	many=$(peak_rss muse-sketch --memory 2M -o many2.msk w)
	cmp one.msk many2.msk
	[ "$many" -lt "$one" ] || fail "peak RSS $many kB in passes, $one kB in one"
	# with a bucket, and on plain event streams
	muse-sketch --bucket 1/2 -o b1.msk w
	muse-sketch --bucket 1/2 --memory 1M -o b1m.msk w
	cmp b1.msk b1m.msk
	muse-sketch --memory 1M -o f.msk "${EV[@]}"
	cmp f.msk "$D/ref.msk"
	# standard input cannot be read in passes
	cat "${EV[@]}" | muse-sketch --memory 1G -o s.msk
	cmp s.msk "$D/ref.msk"
	cat "${EV[@]}" > all.mev
	refused stdin "*standard input cannot be read more than once*" \
	    sh -c 'muse-sketch --memory 1K -o x.msk - < all.mev'
	refused bad '*bad --memory "lots"*' muse-sketch --memory lots w
}
