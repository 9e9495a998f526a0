#!/usr/bin/env bats
# The EXAMPLES of every man page, and the recipes of muse(7), run as they
# are printed (issue 9).  Each literal block is taken from the page source,
# unescaped as mandoc renders it, and run with bash -e -o pipefail in a
# directory prepared with generated data under the file names the examples
# use; the blocks of one page run in order in one directory, so a block may
# use what an earlier one wrote.  Each must exit 0 and print something or
# write a non-empty file (a check, cmp or muse-cat -c, only exit 0).
#
# What a reader would change to run them here is changed the same way for
# all: /srv/muse, /scratch and /var/log become directories of the test, a
# crontab line runs its command, a crontab's variable lines (PATH=...) are
# left to the test's environment, and a block that is a script named in a
# comment ("# /usr/local/bin/NAME") is installed as NAME for the crontab
# that follows it.  A block that cannot run here is marked in the page
# source with a comment that does not render, saying why:
#     .\" example: not run: needs two machines reachable by ssh
# and the test prints that reason.  Pipelines fail when any part fails,
# except a writer stopped by head(1).

load helpers
bats_require_minimum_version 1.5.0

# The examples' dates: a fortnight from 2025-07-01, so that 2025-07-07..13
# and 2025-Q3 hold data; seed 6 gives title t0042 a trailer (t0042-t1).
setup_file() {
	local d
	mkdir -p "$BATS_FILE_TMPDIR/data" && cd "$BATS_FILE_TMPDIR/data" || return 1
	muse-gen -q -O . --users 1500 --days 14 --titles 50 --seed 6 || return 1
	zstd -q plays.csv -o plays.csv.zst || return 1
	muse-ingest -o imp.mev impressions.csv && muse-ingest -o plays.mev plays.csv &&
	    muse-ingest -o aff.mev affinities.csv &&
	    muse-ingest -o events.mev impressions.csv plays.csv affinities.csv || return 1
	for d in 2025-07-01 2025-07-02 2025-07-03; do
		awk -v d="$d" 'NR == 1 || index($0, d) == 1' impressions.csv > "impressions-$d.csv"
		awk -v d="$d" 'NR == 1 || index($0, d) == 1' plays.csv > "plays-$d.csv"
		muse-ingest -o "imp-$d.mev" "impressions-$d.csv" &&
		    muse-ingest -o "plays-$d.mev" "plays-$d.csv" &&
		    muse-sketch -o "day-$d.msk" --date "$d" imp.mev plays.mev aff.mev || return 1
	done
	# The store, as version 41; the day after it, and the versions after.
	muse-sketch imp.mev plays.mev aff.mev | muse-delta stamp -o store.msk - 41 || return 1
	cp day-2025-07-02.msk day.msk && cp store.msk v41.msk || return 1
	muse-merge store.msk day.msk | muse-delta stamp -o s42.msk - 42 &&
	    muse-merge s42.msk day-2025-07-01.msk | muse-delta stamp -o s43.msk - 43 &&
	    muse-merge s43.msk day-2025-07-03.msk | muse-delta stamp -o s44.msk - 44 &&
	    muse-delta diff -o v43.mdelta --reverse undo43.mdelta s42.msk s43.msk &&
	    muse-delta diff -o v44.mdelta --reverse undo44.mdelta s43.msk s44.msk || return 1
	mkdir -p stores && cp store.msk day.msk stores/ || return 1
	cat day-2025-07-01.msk day-2025-07-02.msk > unsorted.msk
	mkdir -p scratch log
	# A server's directory: its store, and a publishing directory with
	# eleven versions, so that "LATEST - 10" is one of them.
	mkdir -p srv/export srv/events srv/batches && cp store.msk srv/store.msk || return 1
	for d in 1 2 3 4 5 6 7 8 9 10 11; do
		muse-delta publish srv/pub store.msk || return 1
	done
	# The nightly job's export: yesterday's tables, and the events of the
	# day before, which it reads for the attribution window.
	d=$(date -u -d yesterday +%F)
	p=$(date -u -d '2 days ago' +%F)
	muse-gen -q -O night --users 300 --days 2 --titles 50 --seed 6 --start "$p" || return 1
	awk -v d="$d" 'NR == 1 || index($0, d) == 1' night/impressions.csv > "srv/export/impressions-$d.csv"
	awk -v d="$d" 'NR == 1 || index($0, d) == 1' night/plays.csv > "srv/export/plays-$d.csv"
	cp night/affinities.csv srv/export/affinities.csv
	awk -v d="$p" 'NR == 1 || index($0, d) == 1' night/impressions.csv > night/imp-p.csv
	muse-ingest -o "srv/events/imp-$p.mev" night/imp-p.csv || return 1
	rm -rf night
}

# blocks PAGE: writes the page's runnable blocks as block-N.sh (or
# block-N.skip holding the reason) in the current directory.  For a
# section 1 page, the blocks of EXAMPLES; for muse.7, those of BATCHES
# AND BUCKETS and what follows it up to FILES (the recipes and questions).
blocks() {
	awk -v page="$1" '
	    /^\.Sh / {
		    if (page ~ /\.7$/) {
			    if ($0 == ".Sh BATCHES AND BUCKETS") ins = 1
			    else if ($0 == ".Sh FILES") ins = 0
		    } else
			    ins = ($0 == ".Sh EXAMPLES")
		    next
	    }
	    ins && /^\.\\" example: not run: / { skip = $0; sub(/^[^:]*: not run: /, "", skip); next }
	    ins && /^\.Bd -literal/ { n++; inb = 1
		    f = sprintf("block-%02d.%s", n, skip == "" ? "sh" : "skip")
		    if (skip != "") print skip > f
		    skip = ""; next }
	    ins && /^\.Ed/ { inb = 0; close(f); next }
	    inb && f ~ /\.sh$/ {
		    gsub(/\\e/, "\\"); gsub(/\\\(aq/, "\047"); gsub(/\\&/, ""); gsub(/\\-/, "-")
		    print > f
	    }' "$MUSE_ROOT/man/$1"
}

# local_paths FILE: the server paths of the examples, made local.
local_paths() {
	sed -i "s|/srv/muse|$PWD/srv|g; s|/scratch|$PWD/scratch|g; s|/var/log|$PWD/log|g" "$1"
}

# cron FILE: a crontab becomes the commands it runs.
cron() {
	local re='^[0-9*,/-]+ +[0-9*,/-]+ +[0-9*,/-]+ +[0-9*,/-]+ +[0-9*,/-]+ +'
	grep -Eq "$re" "$1" || return 0
	sed -Ei "/^[A-Z_]+=/d; s/$re//" "$1"
}

# run_page PAGE: runs the page's blocks in order; fails naming the block.
run_page() {
	local b n=0 st script
	mkdir -p bin
	cp -R "$BATS_FILE_TMPDIR/data/." .
	blocks "$1"
	for b in block-*; do
		if [[ $b == *.skip ]]; then
			echo "# $1: ${b%.skip} not run: $(cat "$b")" >&3
			continue
		fi
		local_paths "$b"
		cron "$b"
		script=$(sed -n 's|^# /usr/local/bin/\([a-z-]*\)$|\1|p' "$b")
		if [ -n "$script" ] && head -1 "$b" | grep -q '^#!'; then
			cp "$b" "bin/$script" && chmod +x "bin/$script"
			continue
		fi
		: > stamp
		sleep 0.01
		st=0
		PATH=$PWD/bin:$PATH bash -e -o pipefail "$b" > out 2> err || st=$?
		# A writer that head(1) stopped early is killed by SIGPIPE.
		if [ "$st" -eq 141 ] && grep -q '| head' "$b"; then
			st=0
		fi
		if [ "$st" -ne 0 ]; then
			fail "$1: ${b%.sh}: status $st
$(cat "$b")
stderr: $(head -c 2000 err)"
			return 1
		fi
		# A check (cmp, muse-cat -c) says nothing when all is well.
		if ! grep -Eq '(^|[ |])(cmp|muse-cat -cq?) ' "$b" && [ ! -s out ] &&
		    [ -z "$(find . -newer stamp -type f -size +0 ! -name err ! -name out | head -1)" ]; then
			fail "$1: ${b%.sh}: no output and no file written
$(cat "$b")"
			return 1
		fi
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || fail "$1: no example ran"
}

@test "muse-cat(1) examples run" { run_page muse-cat.1; }
@test "muse-delta(1) examples run" { run_page muse-delta.1; }
@test "muse-gen(1) examples run" { run_page muse-gen.1; }
@test "muse-ingest(1) examples run" { run_page muse-ingest.1; }
@test "muse-merge(1) examples run" { run_page muse-merge.1; }
@test "muse-query(1) examples run" { run_page muse-query.1; }
@test "muse-sketch(1) examples run" { run_page muse-sketch.1; }
@test "muse-import(1) examples run" { run_page muse-import.1; }
@test "muse-table(1) examples run" { run_page muse-table.1; }
@test "muse(7) recipes, cron jobs and questions run" { run_page muse.7; }

@test "every page has examples, and every block is run or says why not" {
	local p n
	for p in "$MUSE_ROOT"/man/*.1 "$MUSE_ROOT/man/muse.7"; do
		rm -f block-*
		blocks "$(basename "$p")"
		n=$(ls block-* 2>/dev/null | wc -l)
		[ "$n" -gt 0 ] || fail "$(basename "$p"): no literal block found"
		grep -q "run_page $(basename "$p");" "$BATS_TEST_FILENAME" ||
		    fail "$(basename "$p"): no test runs its examples"
		n=$(awk '/^\.Sh /{ins=($0==".Sh EXAMPLES")} ins && /^\.Bd -literal/' "$p" | wc -l)
		if [ "$(basename "$p")" != muse.7 ]; then
			[ "$(ls block-* | wc -l)" -eq "$n" ] || fail "$(basename "$p"): blocks lost"
		fi
	done
}
