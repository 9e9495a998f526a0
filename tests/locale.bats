#!/usr/bin/env bats
# Output does not depend on the locale (issue 9): the same query, stream
# dump and error message give the same bytes under every locale the
# machine has of these, and numbers always have a '.' decimal point.  The
# programs never call setlocale(3); this keeps it so.  When no locale
# with a decimal comma is installed, one is compiled for the test with
# localedef(1) into its own directory (LOCPATH), so that the comparison
# can fail.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	gen_small
	for t in impressions plays affinities; do
		muse-ingest -o "$t.mev" "$t.csv" || return 1
	done
	muse-sketch -o store.msk impressions.mev plays.mev affinities.mev || return 1
	if [ -f /usr/share/i18n/locales/de_DE ] && command -v localedef >/dev/null; then
		mkdir -p loc && localedef -i de_DE -f UTF-8 loc/de_DE.UTF-8 2>/dev/null
	fi
	return 0
}

D=$BATS_FILE_TMPDIR
# Locales whose decimal point is a comma come first: they are the test.
WANT="de_DE.UTF-8 fr_FR.UTF-8 ru_RU.UTF-8 C.UTF-8 en_US.UTF-8"

# The installed locales among WANT, as locale -a spells them, with the
# test's own locale directory in LOCPATH.
export LOCPATH=$D/loc
installed() {
	local w have
	have=$(locale -a 2>/dev/null; ls "$LOCPATH" 2>/dev/null)
	for w in $WANT; do
		grep -ix "${w/UTF-8/utf8}" <<< "$have" || grep -ix "$w" <<< "$have" || true
	done | head -n 5
}

# outputs: what the programs print, under the current environment.
outputs() {
	local f
	for f in tsv csv json table; do
		muse-query -b asset,segment -m impressions,reach,qreach,watch_s,take_rate,authentic_rate,bounce_rate \
		    --ci 95 -o "$f" "$D/store.msk"
	done
	muse-query -s '*' -b week --sort take_rate -o tsv "$D/store.msk"
	muse-cat "$D/store.msk"
	muse-cat -o json "$D/plays.mev"
	muse-query -m rech "$D/store.msk" 2>&1 || true
	muse-query -a nope "$D/store.msk" 2>&1
}

@test "queries, dumps and messages are the same bytes under every locale" {
	local l n=0 missing=
	LC_ALL=C outputs > want
	grep -q 'take_rate' want && grep -Eq '[0-9]\.[0-9]{4}' want || fail "no rates in: $(head -3 want)"
	for l in $(installed); do
		LC_ALL=$l LANG=$l outputs > "got.$l"
		cmp want "got.$l" || fail "differs under $l: $(diff want "got.$l" | head -5)"
		n=$((n + 1))
	done
	for l in $WANT; do
		installed | grep -qix "${l/UTF-8/utf8}\|$l" || missing="$missing $l"
	done
	[ -z "$missing" ] || echo "# locales not installed here:$missing" >&3
	[ "$n" -gt 0 ] || fail "none of $WANT is installed"
}

@test "a locale with a decimal comma is among those compared" {
	local l
	for l in $(installed); do
		[ "$(LC_ALL=$l python3 -c 'import locale
locale.setlocale(locale.LC_ALL, "")
print(locale.localeconv()["decimal_point"])' 2>/dev/null)" = , ] && return 0
	done
	skip "no locale with a decimal comma here, and none could be compiled"
}

@test "numbers use a '.' decimal point whatever LC_NUMERIC says" {
	local l
	for l in $(installed) C; do
		LC_ALL= LANG= LC_NUMERIC=$l muse-query -b asset -m take_rate,watch_s -o csv "$D/store.msk" > got
		# Every row: an asset, a rate with four decimals (or none), and
		# seconds with three, each after a '.'.
		[ "$(wc -l < got)" -gt 10 ] || fail "$l: $(cat got)"
		! tail -n +2 got | grep -Evq '^[^,]+,([01]\.[0-9]{4})?,[0-9]+\.[0-9]{3}$' ||
		    fail "not '.' decimals under $l: $(tail -n +2 got | grep -Ev '^[^,]+,([01]\.[0-9]{4})?,[0-9]+\.[0-9]{3}$' | head -3)"
	done
}

@test "no program sets the locale" {
	! grep -n 'setlocale' "$MUSE_ROOT"/cmd/*.c "$MUSE_ROOT"/lib/*.c ||
	    fail "setlocale would make output depend on the environment"
}
