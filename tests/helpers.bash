# Shared set-up for the bats suites: the programs under test come first on
# PATH (MUSE_BIN picks the build: cmd/ or the sanitizer build), the locale
# is fixed, and every test works in its own temporary directory.

MUSE_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
MUSE_BIN=${MUSE_BIN:-$MUSE_ROOT/cmd}
case $MUSE_BIN in /*) ;; *) MUSE_BIN=$MUSE_ROOT/$MUSE_BIN ;; esac
PATH=$MUSE_BIN:$PATH
export LC_ALL=C
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:exitcode=98:print_stacktrace=1}
GOLDEN=$MUSE_ROOT/tests/golden
FIXTURES=$MUSE_ROOT/tests/fixtures
REF="python3 $MUSE_ROOT/tests/reference.py"

setup() {
	valgrind_skip || return
	cd "$BATS_TEST_TMPDIR" || return 1
}

# valgrind_skip: under make check-valgrind (MUSE_VALGRIND=1), skips the
# test when tests/valgrind.skip lists it, printing the reason listed.
valgrind_skip() {
	[ -n "${MUSE_VALGRIND:-}" ] || return 0
	local f t r file=${BATS_TEST_FILENAME##*/}
	while IFS='|' read -r f t r; do
		f=${f%% } t=${t# } t=${t% } r=${r# }
		case $f in '#'* | '') continue ;; esac
		if [ "$f" = "$file" ] && [ "$t" = "$BATS_TEST_DESCRIPTION" ]; then
			skip "under valgrind: $r (tests/valgrind.skip)"
		fi
	done < "$MUSE_ROOT/tests/valgrind.skip"
	return 0
}

# fail MESSAGE: ends the test with a message.
fail() {
	printf '%s\n' "$*" >&2
	return 1
}

# expect_status N: the last `run` ended with exactly status N.  A crash
# (killed by a signal, or a sanitizer report) never counts as an expected
# failure.
expect_status() {
	if [ "$status" -gt 128 ] || [ "$status" -eq 99 ] || [ "$status" -eq 98 ]; then
		fail "crashed or sanitizer report (status $status): $output"
	fi
	[ "$status" -eq "$1" ] || fail "expected status $1, got $status: $output"
}

# expect_output_contains TEXT
expect_output_contains() {
	case $output in
	*"$1"*) ;;
	*) fail "expected output to contain \"$1\", got: $output" ;;
	esac
}

# expect_stderr_contains TEXT (after `run --separate-stderr`)
expect_stderr_contains() {
	case $stderr in
	*"$1"*) ;;
	*) fail "expected stderr to contain \"$1\", got: $stderr" ;;
	esac
}

# refused NAME WANT CMD...: CMD exits 2 and prints WANT (a glob) on stderr;
# NAME names the case.  Runs without `run`, which loops cannot afford.
refused() {
	local n=$1 want=$2 st=0
	shift 2
	"$@" > out 2> err || st=$?
	[ "$st" -eq 2 ] || fail "$n: status $st: $(cat err)"
	[[ $(< err) == $want ]] || fail "$n: stderr: $(cat err)"
}

# suggests WANT CMD...: CMD is a usage error (status 2, nothing on
# stdout) whose stderr is exactly WANT, then "Try 'CMD --help' ...".
suggests() {
	local want=$1 st=0
	shift
	"$@" > out 2> err || st=$?
	[ "$st" -eq 2 ] || fail "$*: status $st: $(cat err)"
	[ "$(cat err)" = "$want"$'\n'"Try '$1 --help' for more information." ] ||
	    fail "$*: stderr: $(cat err)"
	[ ! -s out ] || fail "$*: output written: $(head -c 200 out)"
}

# refused_quiet NAME WANT CMD...: as refused, and nothing on stdout.
refused_quiet() {
	refused "$@" || return 1
	[ ! -s out ] || fail "$1: output written: $(head -c 200 out)"
}

# check_help PROG: --help and -h print the usage on stdout, nothing on
# stderr, and exit 0.
check_help() {
	local opt
	for opt in --help -h; do
		run --separate-stderr "$1" "$opt"
		expect_status 0
		[[ $output == "Usage: $1 "* ]] || fail "$opt stdout: $output"
		[ -z "$stderr" ] || fail "$opt stderr: $stderr"
	done
}

# check_version PROG: --version names the program and exits 0.
check_version() {
	run --separate-stderr "$1" --version
	expect_status 0
	[[ ${lines[0]} == "$1 "* ]] || fail "stdout: $output"
}

# no_partial FILE...: none of the files (nor temporaries beside them) exist.
no_partial() {
	local f
	for f in "$@"; do
		[ ! -e "$f" ] || fail "partial output file left: $f"
		ls "$f".tmp.* >/dev/null 2>&1 && fail "temporary left: $f.tmp.*"
	done
	return 0
}

# A small data set made by muse-gen, cached per suite.
gen_small() {
	if [ ! -f "$BATS_FILE_TMPDIR/small/impressions.csv" ]; then
		muse-gen -q -O "$BATS_FILE_TMPDIR/small" --users 600 --days 4 \
		    --titles 12 --seed 7 || return 1
	fi
	cp "$BATS_FILE_TMPDIR"/small/*.csv .
}

# gen_small, then the three tables as event streams (TABLE.mev) in the
# current directory.
ingest_small() {
	gen_small || return 1
	for t in impressions plays affinities; do
		muse-ingest -o "$t.mev" "$t.csv" || return 1
	done
}
