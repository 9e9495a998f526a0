#!/bin/sh
# make check-valgrind: the unit tests and the bats suites with every muse
# program run under valgrind's memcheck.  Any memory error, and any leak
# valgrind calls definitely or indirectly lost, fails the run.
#
#   tests/valgrind.sh [SUITE.bats...]
#
# With no argument: the unit tests and every tests/*.bats; with suites,
# only those suites.
#
# The programs are the normal build (cmd/, -O2 -g).  tests/.vg/bin holds a
# script per program, muse-x, that execs valgrind on cmd/muse-x; the bats
# suites run with MUSE_BIN=tests/.vg/bin, as tests/run.sh runs them with
# cmd/ and tests/.san/cmd.  Valgrind writes one log per process to
# tests/.vg/log/ (its PID), so that a test which accepts any non-zero
# status cannot hide an error: every log is read at the end.  Tests too
# slow under valgrind are listed, with the reason, in tests/valgrind.skip;
# each is reported as skipped with that reason.  tests/install.bats is not
# run: it tests the copies make install puts in a temporary root, which it
# runs itself, not the programs of MUSE_BIN.  For the origin of an
# uninitialised value, add --track-origins=yes to VG_OPTS (twice as slow).
cd "$(dirname "$0")/.." || exit 2
# MUSE_VG_DIR: where the wrappers and logs go (default tests/.vg).
vg=${MUSE_VG_DIR:-tests/.vg}
root=$(pwd)
rm -rf "$vg" && mkdir -p "$vg/bin" "$vg/log" tests/.tmp || exit 2
command -v valgrind > /dev/null || {
	echo "check-valgrind: valgrind is missing; install it with: apt-get install valgrind" >&2
	exit 2
}
# Error status 99, as the sanitizers' (tests/helpers.bash: expect_status
# takes it for a crash, never for an expected failure).
VG_OPTS="--tool=memcheck --error-exitcode=99 --leak-check=full \
--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
--num-callers=30"
for c in cmd/muse-*.c; do
	p=$(basename "$c" .c)
	[ -x "cmd/$p" ] || { echo "check-valgrind: missing cmd/$p (make all)" >&2; exit 2; }
	cat > "$vg/bin/$p" <<EOS
#!/bin/sh
exec valgrind $VG_OPTS --log-file=$root/$vg/log/$p.%p.log $root/cmd/$p "\$@"
EOS
	chmod +x "$vg/bin/$p"
done

start=$(date +%s)
passed=0 failed=0 skipped=0
for t in tests/unit/test_*.c; do
	[ $# -eq 0 ] || break
	name=$(basename "$t" .c)
	out=$(valgrind $VG_OPTS --log-file="$vg/log/unit-$name.%p.log" \
	    "tests/unit/$name" quick 2>&1)
	rc=$?
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	printf '%s\n' "$out" | grep '^not ok ' | sed "s|^|valgrind unit $name: |"
	[ "$rc" -ne 0 ] && echo "valgrind unit $name: exit status $rc"
	echo "valgrind unit $name: $p passed, $f failed"
	passed=$((passed + p)) failed=$((failed + f))
done

if [ $# -eq 0 ]; then
	for t in tests/*.bats; do
		[ "$t" = tests/install.bats ] || set -- "$@" "$t"
	done
fi
out=$(MUSE_BIN=$vg/bin MUSE_VALGRIND=1 bats --tap "$@" 2>&1)
rc=$?
printf '%s\n' "$out" > "$vg/bats.log"
p=$(printf '%s\n' "$out" | grep -c '^ok ')
f=$(printf '%s\n' "$out" | grep -c '^not ok ')
s=$(printf '%s\n' "$out" | grep -c '^ok .* # skip')
[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { f=1; printf '%s\n' "$out" | tail -20; }
printf '%s\n' "$out" | awk '/^not ok /{p=1} /^ok /{p=0} p' | sed 's|^|valgrind bats: |'
printf '%s\n' "$out" | grep '^ok .* # skip' | sed 's|^|valgrind bats: |'
echo "valgrind bats: $((p + f)) tests, $f failures, $s skipped"
passed=$((passed + p - s)) failed=$((failed + f)) skipped=$s

# Every process valgrind ran: its log must say 0 errors.  A process killed
# on purpose (the SIGKILL tests) leaves a log without a summary.
procs=0 bad=0 killed=0
for l in "$vg"/log/*.log; do
	[ -e "$l" ] || continue
	procs=$((procs + 1))
	if grep -q 'ERROR SUMMARY: 0 errors' "$l"; then
		continue
	elif grep -q 'ERROR SUMMARY:' "$l"; then
		bad=$((bad + 1))
		echo "valgrind: errors in $l:"
		sed -n '/Command:/p;/== [A-Z][a-z]/,/^==[0-9]*== $/p' "$l" | head -40
	else
		killed=$((killed + 1))
	fi
done
failed=$((failed + bad))
echo "valgrind: $procs processes, $bad with errors or leaks, $killed without a summary (killed), $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
