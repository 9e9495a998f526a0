#!/usr/bin/env bats
# Fault injection beyond /dev/full (issue 8), for every program that
# writes an output file and every way it does (-o FILE, --in-place,
# publish): a file size limit (ulimit -f, SIGXFSZ ignored, so write(2)
# fails with EFBIG) and a full file system (a small tmpfs, ENOSPC) give a
# clear error and exit status 2, leave the old output byte for byte as it
# was and no new file beside it.  Programs that write only to standard
# output (muse-query, muse-cat) report the failed write.  Inputs that fail
# to read (a directory, a FIFO whose writer stops half way) are errors
# too, and leave no output.

bats_require_minimum_version 1.5.0
load helpers

# Version 1 is the first day of the small data set, version 2 all four
# days; d.mdelta goes from one to the other; pub publishes version 1.
setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	gen_small || return 1
	local t
	for t in impressions plays affinities; do
		muse-ingest -q -o $t.mev $t.csv || return 1
	done
	muse-sketch -q impressions.mev plays.mev affinities.mev |
	    muse-delta stamp -o v2.msk - 2 || return 1
	muse-sketch -q --date 2025-07-01 impressions.mev plays.mev affinities.mev |
	    muse-delta stamp -o v1.msk - 1 || return 1
	muse-delta diff v1.msk v2.msk > d.mdelta || return 1
	muse-delta publish pub v1.msk || return 1
	zstd -q impressions.csv -o impressions.csv.zst || return 1
}

setup() {
	valgrind_skip || return
	cd "$BATS_TEST_TMPDIR" || return 1
	cp -r "$BATS_FILE_TMPDIR"/{impressions,plays,affinities}.mev \
	    "$BATS_FILE_TMPDIR"/{v1,v2}.msk "$BATS_FILE_TMPDIR"/d.mdelta \
	    "$BATS_FILE_TMPDIR"/impressions.csv* "$BATS_FILE_TMPDIR"/pub .
}

teardown() {
	if [ -n "${TMPFS:-}" ]; then
		umount "$TMPFS" 2>/dev/null || true
	fi
}

# The writers: NAME|OUTPUT|COMMAND, OUTPUT the file (or directory) that
# must be left as it was; D is where the outputs go, $D is expanded when
# the command runs.  Each output is larger than the limits below.
writers() {
	cat <<'EOF'
gen|$D/gen.csv|muse-gen -q -u 300 -d 2 -T 5 -s 3 --table impressions -o $D/gen.csv
gen-events|$D/gen.mev|muse-gen -q -u 300 -d 2 -T 5 -s 3 --events --table impressions -o $D/gen.mev
ingest|$D/ev.mev|muse-ingest -q -o $D/ev.mev impressions.csv
ingest-zst|$D/ev.mev|muse-ingest -q -o $D/ev.mev impressions.csv.zst
sketch|$D/s.msk|muse-sketch -q -o $D/s.msk impressions.mev plays.mev affinities.mev
merge|$D/m.msk|muse-merge -q -o $D/m.msk v1.msk v2.msk
rollup|$D/m.msk|muse-merge -q --rollup all -o $D/m.msk v2.msk
diff|$D/d.mdelta|muse-delta diff -o $D/d.mdelta v1.msk v2.msk
diff-reverse|$D/r.mdelta|muse-delta diff --reverse $D/r.mdelta -o /dev/null v1.msk v2.msk
apply|$D/a.msk|muse-delta apply -o $D/a.msk v1.msk d.mdelta
reverse|$D/r.mdelta|muse-delta reverse -o $D/r.mdelta v1.msk d.mdelta
stamp|$D/st.msk|muse-delta stamp -o $D/st.msk v2.msk 7
checkout|$D/co.msk|muse-delta checkout -o $D/co.msk pub 1
apply-in-place|$D/v1.msk|muse-delta apply --in-place $D/v1.msk d.mdelta
stamp-in-place|$D/v2.msk|muse-delta stamp --in-place $D/v2.msk 9
publish|$D/pub|muse-delta publish $D/pub v2.msk
EOF
}

# prepare D: an old version of every output in D (the stores and the
# publishing directory the in-place writers change; a short text file for
# the others).
prepare() {
	local D=$1
	mkdir -p "$D" || return 1
	for f in gen.csv gen.mev ev.mev s.msk m.msk d.mdelta r.mdelta a.msk st.msk co.msk; do
		echo "old $f" > "$D/$f" || return 1
	done
	cp v1.msk v2.msk "$D/" && cp -r pub "$D/"
}

# snapshot D: every file under D with its checksum (but the lock file of
# a publishing directory, which holds the PID of its last publisher).
snapshot() {
	(cd "$1" && find . -type f ! -name .lock -print0 | sort -z | xargs -0 cksum)
}

# each_writer D WANT PREFIX...: runs every writer with its output in D
# behind PREFIX (a shell snippet), and checks status 2, WANT in the
# message, and D unchanged.
each_writer() {
	local D=$1 want=$2 prefix=$3 name out cmd before st
	while IFS='|' read -r name out cmd; do
		before=$(snapshot "$D")
		st=0
		D=$D bash -c "$prefix eval \"\$1\"" _ "$cmd" > stdout 2> err || st=$?
		[ "$st" -eq 2 ] || fail "$name: status $st: $(cat err)"
		grep -q -- "$want" err || fail "$name: stderr: $(cat err)"
		[ "$(wc -l < err)" -le 2 ] || fail "$name: stderr: $(cat err)"
		[ "$(snapshot "$D")" = "$before" ] ||
		    fail "$name: $D changed: $(diff <(echo "$before") <(snapshot "$D"))"
		[ ! -s stdout ] || fail "$name: wrote on stdout"
	done < <(writers)
}

@test "a file size limit (EFBIG): every writer fails clearly, the old output untouched, nothing left" {
	prepare out
	each_writer "$PWD/out" "File too large" "trap '' XFSZ; ulimit -f 2;"
	# The same writers succeed without the limit (the outputs do exceed
	# it, so the failures above are the limit's).
	local name out cmd D=$PWD/out
	while IFS='|' read -r name out cmd; do
		D=$D bash -c 'eval "$1"' _ "$cmd" > /dev/null 2> err || fail "$name: $(cat err)"
		[ -n "$(find "${out/\$D/$D}" -type f -size +2k)" ] ||
		    fail "$name: output not over 2 KiB"
	done < <(writers)
}

@test "a full file system (ENOSPC, a small tmpfs): every writer fails clearly, the old output untouched" {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root to mount a tmpfs (the file size limit test covers write errors)"
	fi
	mkdir mnt
	if ! mount -t tmpfs -o size=256k,mode=0755 tmpfs mnt 2> mount.err; then
		skip "cannot mount a tmpfs here: $(cat mount.err)"
	fi
	TMPFS=$PWD/mnt
	prepare mnt
	# Fill it, then free 4 KiB: writes start, and fail part way.
	cat /dev/zero > mnt/fill 2> /dev/null || true
	[ "$(df --output=avail -k mnt | tail -1)" -eq 0 ] || fail "tmpfs not full"
	truncate -s -4096 mnt/fill
	each_writer "$PWD/mnt" "No space left on device" ""
}

@test "standard output: a failed write (size limit) is reported once, exit status 2" {
	local cmd st
	for cmd in 'muse-query v2.msk --by asset,date,segment' \
	    'muse-query v2.msk --by asset -o json' 'muse-cat v2.msk' \
	    'muse-cat -o json d.mdelta' 'muse-ingest impressions.csv' \
	    'muse-sketch impressions.mev' 'muse-delta diff v1.msk v2.msk' \
	    'echo "--by asset,date,segment" | muse-query --serve v2.msk'; do
		st=0
		bash -c "trap '' XFSZ; ulimit -f 2; $cmd > out" 2> err || st=$?
		[ "$st" -eq 2 ] || fail "$cmd: status $st: $(cat err)"
		grep -q 'write error: File too large' err || fail "$cmd: $(cat err)"
		[ "$(wc -l < err)" -eq 1 ] || fail "$cmd: $(cat err)"
	done
}

@test "a directory as input is a read error of every reader; no output" {
	mkdir dir
	refused ingest "muse-ingest: dir: cannot open: Is a directory" muse-ingest -o o dir
	refused sketch "muse-sketch: dir: cannot open: Is a directory" muse-sketch -o o dir
	refused merge "muse-merge: dir: cannot open: Is a directory" muse-merge -o o dir
	refused cat "muse-cat: dir: cannot open: Is a directory" muse-cat dir
	refused info "muse-delta: dir: cannot open: Is a directory" muse-delta info dir
	refused apply "muse-delta: dir: cannot open: Is a directory" muse-delta apply -o o v1.msk dir
	refused diff "muse-delta: dir: cannot open: Is a directory" muse-delta diff -o o dir v2.msk
	# A directory is where muse-query looks for a publishing directory.
	refused query "muse-query: dir: *" muse-query dir
	no_partial o
}

@test "a FIFO whose writer stops half way: truncation, exit status 2, no output" {
	local f cmd n
	mkfifo fifo
	for f in impressions.mev v2.msk d.mdelta impressions.csv.zst; do
		n=$(($(stat -c %s $f) / 2))
		for cmd in "muse-cat --check" "muse-ingest -o o" "muse-sketch -o o" \
		    "muse-merge -o o" "muse-delta apply -o o v1.msk"; do
			case $f:$cmd in
			*.mev:muse-merge* | *.mev:muse-delta* | *.mev:muse-ingest*) continue ;;
			*.msk:muse-sketch* | *.msk:muse-ingest* | *.msk:muse-delta*) continue ;;
			*.mdelta:muse-sketch* | *.mdelta:muse-merge* | *.mdelta:muse-ingest*) continue ;;
			*.zst:muse-sketch* | *.zst:muse-merge* | *.zst:muse-delta* | *.zst:muse-cat*) continue ;;
			esac
			head -c $n $f > fifo &
			refused "$cmd $f" "*trunc*" timeout 60 $cmd fifo
			wait
			no_partial o
		done
	done
}

@test "table directories: a failed write (size limit) adds no version and leaves no data file" {
	# (empty directories a failed writer made may stay: removing them
	# could pull one from under another writer; readers never look)
	files() { (cd "$1" && find . -type f | sort && cat versions/*); }
	muse-ingest -q -O wh --buckets 2 impressions.csv
	cp -r wh before
	# a commit of the plays: the data files outgrow the limit
	run bash -c "trap '' XFSZ; ulimit -f 2; muse-ingest -q -O wh $BATS_FILE_TMPDIR/plays.csv"
	expect_status 2
	[[ $output == *"File too large"* ]] || fail "$output"
	diff <(files before) <(files wh) || fail "the table changed"
	# a compaction: the compacted files outgrow it
	run bash -c "trap '' XFSZ; ulimit -f 2; muse-table compact --before 2030-01-01 wh"
	expect_status 2
	[[ $output == *"File too large"* ]] || fail "$output"
	diff <(files before) <(files wh) || fail "the table changed"
	muse-sketch -q -o a.msk wh
	muse-sketch -q -o b.msk before
	cmp a.msk b.msk
}
