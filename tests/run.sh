#!/bin/sh
# Runs every suite: C unit tests and bats suites, on the normal build and on
# the AddressSanitizer + UBSan build, and ends with one line summing them
# all: "N passed, N failed".  Exits non-zero when anything failed.
cd "$(dirname "$0")/.." || exit 2
passed=0
failed=0
log=tests/.tmp/log
mkdir -p tests/.tmp
: > "$log"

count_unit() {
	# $1 = binary, $2 = label, $3.. = extra args
	bin=$1 label=$2
	shift 2
	if [ ! -x "$bin" ]; then
		echo "$label: missing binary $bin"
		failed=$((failed + 1))
		return
	fi
	out=$("$bin" "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" >> "$log"
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		printf '%s\n' "$out" | tail -20
		echo "$label: exited with status $rc"
	fi
	printf '%s\n' "$out" | grep '^not ok ' | sed "s|^|$label: |"
	echo "$label: $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
}

count_bats() {
	# $1 = label, $2 = bin dir
	label=$1
	out=$(MUSE_BIN=$2 bats --tap tests/*.bats 2>&1)
	rc=$?
	printf '%s\n' "$out" >> "$log"
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	s=$(printf '%s\n' "$out" | grep -c '^ok .* # skip')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		printf '%s\n' "$out" | tail -20
	fi
	printf '%s\n' "$out" | awk '/^not ok /{p=1} /^ok /{p=0} p' | sed "s|^|$label: |"
	printf '%s\n' "$out" | grep '^ok .* # skip' | sed "s|^|$label: |"
	echo "$label: bats: $((p + f)) tests, $f failures, $s skipped"
	passed=$((passed + p - s))
	failed=$((failed + f))
}

for t in tests/unit/test_*.c; do
	name=$(basename "$t" .c)
	count_unit "tests/unit/$name" "unit $name"
done
for t in tests/unit/test_*.c; do
	name=$(basename "$t" .c)
	count_unit "tests/.san/tests/unit/$name" "asan+ubsan unit $name" quick
done
# Fuzz targets replay their corpus and every crash kept (tests/fuzz/),
# passing over the leaks of open findings (tests/fuzz/lsan.supp).
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=tests/fuzz/lsan.supp
export LSAN_OPTIONS
for t in tests/fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	for build in . tests/.san; do
		label="fuzz $name"
		[ "$build" = . ] || label="asan+ubsan fuzz $name"
		count_unit "$build/tests/fuzz/$name" "$label" \
		    "tests/fuzz/corpus/${name#fuzz_}" "tests/fuzz/crashes/${name#fuzz_}"
	done
done
count_bats "bats" cmd
count_bats "asan+ubsan bats" tests/.san/cmd
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
