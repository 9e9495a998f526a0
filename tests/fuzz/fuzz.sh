#!/bin/sh
# Builds the fuzz targets with clang and libFuzzer (ASan + UBSan) into
# tests/fuzz/.build and runs each for SECONDS, one after the other (one
# job: the machine is shared).  make fuzz runs this.
#
#   tests/fuzz/fuzz.sh SECONDS [NAME...]     NAME: csv, ts, stream, ...
#
# FUZZ_RUNS=N (environment, or make fuzz FUZZ_RUNS=N) also stops each
# target after N executions, whichever comes first (issue 8 asks for 10
# million executions or 30 minutes per target).
#
# Each target starts from its committed corpus, tests/fuzz/corpus/NAME,
# which it only reads; what it finds that is new goes to a working corpus,
# tests/fuzz/.build/corpus/NAME, kept between runs.  Crashes, leaks,
# timeouts and out-of-memory inputs go to tests/fuzz/crashes/NAME/, which
# make check replays: commit them with the fix.  To fold the coverage a
# long run found back into the committed corpus (only inputs that add
# coverage are copied):
#
#   tests/fuzz/.build/tests/fuzz/fuzz_NAME -merge=1 \
#       tests/fuzz/corpus/NAME tests/fuzz/.build/corpus/NAME
#
# Exits 1 when any target found something, 2 when it could not run.
cd "$(dirname "$0")/../.." || exit 2
secs=${1:-60}
[ $# -gt 0 ] && shift
: "${MAKE:=make}"
: "${FUZZ_FLAGS:=-g -O1 -fsanitize=fuzzer,address,undefined -fsanitize-recover=undefined -fno-omit-frame-pointer}"
# Any sanitizer report is fatal, but those of tests/fuzz/ubsan.supp and
# lsan.supp (open findings, whose inputs make check replays).
: "${UBSAN_OPTIONS:=halt_on_error=1:print_stacktrace=1:suppressions=tests/fuzz/ubsan.supp}"
export UBSAN_OPTIONS
: "${LSAN_OPTIONS:=suppressions=tests/fuzz/lsan.supp}"
export LSAN_OPTIONS
out=tests/fuzz/.build

# clang and its libFuzzer runtime (Debian: clang, libclang-rt-14-dev).
probe() {
	mkdir -p "$out" &&
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ return 0; }\n' \
	    > "$out/probe.c" &&
	clang $FUZZ_FLAGS -o "$out/probe" "$out/probe.c" 2> "$out/probe.log"
}
if ! probe; then
	pkgs="clang libclang-rt-14-dev llvm"
	if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
		echo "fuzz: installing $pkgs"
		apt-get install -y $pkgs > "$out/apt.log" 2>&1
	fi
	if ! probe; then
		cat "$out/probe.log" >&2
		echo "fuzz: clang cannot link -fsanitize=fuzzer; install: apt-get install $pkgs" >&2
		exit 2
	fi
fi

# Objects do not depend on the flags: start afresh when they change.
if [ "$(cat "$out/flags" 2>/dev/null)" != "$FUZZ_FLAGS" ]; then
	rm -rf "$out/lib" "$out/tests"
	printf '%s\n' "$FUZZ_FLAGS" > "$out/flags"
fi
$MAKE --no-print-directory O="$out" CC=clang CFLAGS="$FUZZ_FLAGS" \
    LDFLAGS="$FUZZ_FLAGS" FUZZ_DRIVER= fuzzers || exit 2

if [ $# -eq 0 ]; then
	for t in tests/fuzz/fuzz_*.c; do
		t=${t#tests/fuzz/fuzz_}
		set -- "$@" "${t%.c}"
	done
fi
status=0
for name in "$@"; do
	bin=$out/tests/fuzz/fuzz_$name
	if [ ! -x "$bin" ]; then
		echo "fuzz: no target $name" >&2
		status=2
		continue
	fi
	mkdir -p "$out/corpus/$name" "tests/fuzz/crashes/$name"
	dict=
	[ -f "tests/fuzz/$name.dict" ] && dict=-dict=tests/fuzz/$name.dict
	echo "== fuzz_$name: $secs s${FUZZ_RUNS:+ or $FUZZ_RUNS executions}"
	runs=
	[ -n "${FUZZ_RUNS:-}" ] && runs=-runs=$FUZZ_RUNS
	"$bin" -max_total_time="$secs" $runs -print_final_stats=1 \
	    -artifact_prefix="tests/fuzz/crashes/$name/" $dict \
	    "$out/corpus/$name" "tests/fuzz/corpus/$name" \
	    > "$out/fuzz_$name.log" 2>&1
	rc=$?
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ +DONE' \
	    "$out/fuzz_$name.log" | sed 's/^/   /'
	if [ $rc -ne 0 ]; then
		echo "fuzz_$name: FAILED (exit $rc); see $out/fuzz_$name.log and tests/fuzz/crashes/$name/"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*invariant failed|.*runtime error)' \
		    "$out/fuzz_$name.log" | head -5 | sed 's/^/   /'
		status=1
	fi
done
exit $status
