#!/usr/bin/env bats
# The documentation keeps in step with the programs (SPEC 8): man pages
# against --help, the pages' own syntax, the worked example of
# muse-format(5) against its golden files, and the shell completions.

load helpers

PROGS="muse-gen muse-ingest muse-sketch muse-merge muse-delta muse-query muse-import muse-cat"
MAN=$MUSE_ROOT/man
COMP=$MUSE_ROOT/completions

# ---------------------------------------------------------------------
# Extraction: small and strict, so that a mismatch names the option.

# Splits clustered short options ("-fhV" -> -f -h -V), one per line.
expand_clusters() {
	awk '{ if ($0 ~ /^-[^-]/ && length($0) > 2)
		for (i = 2; i <= length($0); i++) print "-" substr($0, i, 1)
	    else print }'
}

# The Usage lines of PROG --help: the first line, if it is one, and the
# indented lines that continue it.
usage_text() {
	"$1" --help | awk 'NR == 1 { if (!/^[Uu]sage:/) exit; print; next }
	    /^[ \t]+[^ \t]/ && !done { print; next } { done = 1 }'
}

# The options of the Usage lines, in order.
usage_opts() {
	usage_text "$1" | grep -oE '(^|[[ ])--?[A-Za-z0-9][A-Za-z0-9-]*' |
	    sed 's/^[[ ]//' | expand_clusters
}

# The lines of section NAME (".Sh NAME") of a page.
section() {
	awk -v s="$2" '/^\.Sh / { ins = ($0 == ".Sh " s); next } ins' "$1"
}

# The options of a page's SYNOPSIS, in order.
synopsis_opts() {
	section "$1" SYNOPSIS | grep -oE 'Fl -?[A-Za-z0-9][A-Za-z0-9-]*' |
	    sed 's/^Fl /-/' | expand_clusters
}

# Long and short options of the option list of PROG --help.
help_longs() {
	"$1" --help |
	    sed -n 's/^ \{1,\}\(-[A-Za-z0-9], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\2/p' |
	    sort -u
}
help_shorts() {
	"$1" --help | sed -n 's/^ \{1,\}\(-[A-Za-z0-9]\), --.*/\1/p' | sort -u
}

# Long and short options that a page's OPTIONS section describes (its
# .It lines; options of other programs named in the text do not count).
man_longs() {
	section "$1" OPTIONS | grep '^\.It ' | grep -oE 'Fl -[a-z][a-z0-9-]*' |
	    sed 's/^Fl -/--/' | sort -u
}
man_shorts() {
	section "$1" OPTIONS | grep '^\.It ' | grep -oE 'Fl [A-Za-z0-9]( |$)' |
	    sed 's/^Fl /-/; s/ $//' | sort -u
}

# Renders a page as plain text on one long line per paragraph.
render() {
	if command -v mandoc >/dev/null; then
		mandoc -Tascii -Owidth=400 "$1" | col -b
	else
		groff -mandoc -Tascii -P-cbou -rLL=400n "$1" 2>/dev/null
	fi
}

# Squeezes white space, so that line breaks do not matter.
squeeze() {
	tr -s ' \t\n' '   ' | sed 's/^ *//; s/ *$//; s/ \.\.\./.../g; s/[Uu]sage: //'
}

have_formatter() {
	command -v mandoc >/dev/null || command -v groff >/dev/null
}

# ---------------------------------------------------------------------
# Man pages against --help

@test "every program has a man page, and every page a program" {
	local c p
	for c in "$MUSE_ROOT"/cmd/muse-*.c; do
		p=$(basename "$c" .c)
		[ -f "$MAN/$p.1" ] || fail "no man page man/$p.1 for $p"
	done
	for p in "$MAN"/*.1; do
		[ -f "$MUSE_ROOT/cmd/$(basename "$p" .1).c" ] ||
		    fail "man page $p documents no program in cmd/"
	done
	[ -f "$MAN/muse.7" ] || fail "no man/muse.7"
	[ -f "$MAN/muse-format.5" ] || fail "no man/muse-format.5"
}

@test "every long option of --help is in the man page, and no other" {
	local p d bad=
	for p in $PROGS; do
		d=$(diff <(help_longs "$p") <(man_longs "$MAN/$p.1")) ||
		    bad="$bad
$p (< only in --help, > only in the page):
$d"
	done
	[ -z "$bad" ] || fail "$bad"
}

@test "every short option of --help is in the man page, and no other" {
	local p d bad=
	for p in $PROGS; do
		d=$(diff <(help_shorts "$p") <(man_shorts "$MAN/$p.1")) ||
		    bad="$bad
$p (< only in --help, > only in the page):
$d"
	done
	[ -z "$bad" ] || fail "$bad"
}

@test "the SYNOPSIS has the options of the Usage lines, in order" {
	local p d bad=
	for p in $PROGS; do
		[ -n "$(usage_opts "$p")" ] || bad="$bad
$p: no Usage line found in --help"
		d=$(diff <(usage_opts "$p") <(synopsis_opts "$MAN/$p.1")) ||
		    bad="$bad
$p (< Usage, > SYNOPSIS):
$d"
	done
	[ -z "$bad" ] || fail "$bad"
}

@test "the SYNOPSIS reads as the Usage lines, word for word" {
	have_formatter || skip "neither mandoc nor groff is installed"
	local p a b bad=
	for p in $PROGS; do
		a=$(usage_text "$p" | squeeze)
		b=$(render "$MAN/$p.1" |
		    awk '/^SYNOPSIS/ { ins = 1; next } /^[A-Z]/ { ins = 0 } ins' |
		    squeeze)
		[ "$a" = "$b" ] || bad="$bad
$p:
  --help:   $a
  SYNOPSIS: $b"
	done
	[ -z "$bad" ] || fail "$bad"
}

@test "every program page has the sections of the house style" {
	local p s bad=
	for p in $PROGS; do
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES \
		    "SEE ALSO"; do
			grep -qx "\.Sh $s" "$MAN/$p.1" || bad="$bad $p:$s"
		done
	done
	[ -z "$bad" ] || fail "missing sections:$bad"
}

@test "every cross-reference to a muse page names a page that exists" {
	local ref bad=
	for ref in $(cat "$MAN"/*.[157] | sed -n 's/.*Xr \(muse[a-z-]*\) \([0-9]\).*/\1.\2/p' |
	    sort -u); do
		[ -f "$MAN/$ref" ] || bad="$bad $ref"
	done
	[ -z "$bad" ] || fail "no such page:$bad"
}

@test "mandoc -Tlint finds no warnings or errors in any page" {
	local f bad=
	if command -v mandoc >/dev/null; then
		for f in "$MAN"/*.[157]; do
			run mandoc -Tlint -Wwarning "$f"
			[ "$status" -eq 0 ] || bad="$bad
$output"
		done
	elif command -v groff >/dev/null; then
		for f in "$MAN"/*.[157]; do
			run groff -mandoc -ww -z "$f"
			[ "$status" -eq 0 ] && [ -z "$output" ] || bad="$bad
$f: $output"
		done
	else
		skip "neither mandoc nor groff is installed (apt-get install mandoc)"
	fi
	[ -z "$bad" ] || fail "$bad"
}

@test "man -l renders every page" {
	command -v man >/dev/null || skip "man is not installed"
	local f
	for f in "$MAN"/*.[157]; do
		MANPAGER=cat MANWIDTH=80 man -l "$f" > page.txt 2>/dev/null ||
		    fail "man -l $f failed"
		grep -q '^NAME' page.txt || fail "man -l $f: no NAME section"
	done
}

# ---------------------------------------------------------------------
# The worked example of muse-format(5)

@test "golden example streams decode to exactly their .expected text" {
	local f
	for f in example-affinities.mev example-store.msk; do
		run muse-cat "$GOLDEN/$f"
		expect_status 0
		[ "$output" = "$(cat "$GOLDEN/${f%.*}.expected")" ] ||
		    fail "muse-cat $f differs from ${f%.*}.expected: $output"
	done
}

@test "golden example streams pass muse-cat --check" {
	run muse-cat --check "$GOLDEN/example-affinities.mev" "$GOLDEN/example-store.msk"
	expect_status 0
	expect_output_contains "example-affinities.mev: stream 1: events table=affinities: 1 records: ok"
	expect_output_contains "example-store.msk: stream 1: sketch dims=title,asset,date,segment grain=day lgk=14"
	expect_output_contains "3 records: ok"
}

@test "the golden examples are what the commands of muse-format(5) make" {
	printf 'user_id,cluster\nalice,Anime\n' | muse-ingest > example-affinities.mev
	muse-ingest "$GOLDEN/example-impressions.csv" "$GOLDEN/example-plays.csv" > events.mev
	cat events.mev example-affinities.mev | muse-sketch > example-store.msk
	for f in example-affinities.mev example-store.msk; do
		muse-cat "$f" > "$f.txt"
		cmp -s "$f.txt" "$GOLDEN/${f%.*}.expected" ||
		    fail "$f: decoded text differs from the golden .expected"
	done
	# Byte for byte with the zstd the golden files were made with
	# (tests/golden/ZSTD_VERSION); another zstd may compress otherwise.
	local want have
	want=$(cat "$GOLDEN/ZSTD_VERSION")
	have=$(muse-cat --version | sed -n 's/^zstd \([^,]*\),.*/\1/p')
	for f in example-affinities.mev example-store.msk; do
		cmp -s "$f" "$GOLDEN/$f" && continue
		[ "$have" = "$want" ] ||
		    skip "$f: same records, other bytes (zstd $have; the golden files are of zstd $want)"
		fail "$f: other bytes than tests/golden/$f with the same zstd $have: $(cmp "$f" "$GOLDEN/$f")"
	done
}

@test "the hex dumps in muse-format(5) are those of the golden files" {
	command -v xxd >/dev/null || skip "xxd is not installed"
	local line bad=
	xxd "$GOLDEN/example-affinities.mev" > aff.hex
	xxd "$GOLDEN/example-store.msk" > store.hex
	# The page's dump lines ("00000010: 0000 ..."): those of the files,
	# then those of the decompressed block, after its "zstd -dc" command.
	awk '/zstd -dc/ { raw = 1 }
	    /^[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]: / {
		print > (raw ? "raw.page" : "files.page") }' \
	    "$MAN/muse-format.5"
	[ -s files.page ] && [ -s raw.page ] || fail "no hex dumps found in muse-format.5"
	while IFS= read -r line; do
		grep -qxF -- "$line" aff.hex || grep -qxF -- "$line" store.hex ||
		    bad="$bad
$line"
	done < files.page
	if command -v zstd >/dev/null; then
		dd if="$GOLDEN/example-store.msk" bs=1 skip=88 count=74 2>/dev/null |
		    zstd -dc | xxd > raw.hex
		cmp -s raw.page raw.hex || bad="$bad
decompressed block: $(diff raw.page raw.hex)"
	fi
	[ -z "$bad" ] || fail "dump lines of muse-format.5 not in the golden files:$bad"
	# The event stream is shown whole, line for line.
	head -n "$(wc -l < aff.hex)" files.page > page.hex
	cmp -s page.hex aff.hex || fail "the example-affinities.mev dump differs: $(diff page.hex aff.hex)"
}

# ---------------------------------------------------------------------
# Bash completion

# complete_bash FUNC WORD...: runs the completion function with the cursor
# on the last word (give "" to complete an empty word); COMPREPLY is
# printed one per line into $output.
complete_bash() {
	local f=$1
	shift
	run bash -c '
		source "$1/bash/muse" || exit 3
		f=$2; shift 2
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		"$f"
		rc=$?
		printf "%s\n" "${COMPREPLY[@]}"
		exit $rc' bash "$COMP" "$f" "$@"
}

@test "bash completion: options, values and lists" {
	complete_bash _muse_query muse-query --for
	expect_status 0
	[ "$output" = "--format" ] || fail "muse-query --for: got: $output"

	complete_bash _muse_query muse-query --format j
	[ "$output" = "json" ] || fail "muse-query --format j: got: $output"

	complete_bash _muse_sketch muse-sketch --by title,as
	[ "$output" = "title,asset" ] || fail "muse-sketch --by title,as: got: $output"

	complete_bash _muse_query muse-query -m take_rate,a
	[ "$output" = "take_rate,areach
take_rate,authentic_rate" ] || fail "muse-query -m take_rate,a: got: $output"

	complete_bash _muse_query muse-query --ci ""
	[ "$output" = "68
95
99" ] || fail "muse-query --ci: got: $output"

	complete_bash _muse_merge muse-merge --rollup m
	[ "$output" = "month" ] || fail "muse-merge --rollup m: got: $output"

	complete_bash _muse_ingest muse-ingest --table af
	[ "$output" = "affinities" ] || fail "muse-ingest --table af: got: $output"

	complete_bash _muse_cat muse-cat --format ""
	[ "$output" = "tsv
json" ] || fail "muse-cat --format: got: $output"

	complete_bash _muse_query muse-query --format = c
	[ "$output" = "csv" ] || fail "muse-query --format=c: got: $output"
}

@test "bash completion: muse-query values come from the store on the line" {
	cp "$GOLDEN/example-store.msk" store.msk
	complete_bash _muse_query muse-query store.msk --asset t0001-a
	[ "$output" = "t0001-a1
t0001-a2" ] || fail "--asset: got: $output"

	complete_bash _muse_query muse-query store.msk -a t0001-a1,t0001-a
	[ "$output" = "t0001-a1,t0001-a1
t0001-a1,t0001-a2" ] || fail "-a list: got: $output"

	complete_bash _muse_query muse-query store.msk --segment ""
	[ "$output" = '\*
Anime' ] || fail "--segment: got: $output"

	complete_bash _muse_query muse-query store.msk -t ""
	[ "$output" = "t0001" ] || fail "-t: got: $output"

	# No store, or a store that is not one: no suggestions, no error.
	complete_bash _muse_query muse-query --asset t
	expect_status 0
	[ -z "$output" ] || fail "no store: got: $output"
	printf 'junk' > junk.msk
	complete_bash _muse_query muse-query junk.msk --asset t
	expect_status 0
	[ -z "$output" ] || fail "junk store: got: $output"
}

@test "bash completion offers every long option of --help" {
	local p f o bad=
	for p in $PROGS; do
		f=_${p//-/_}
		complete_bash "$f" "$p" --
		for o in $(help_longs "$p"); do
			printf '%s\n' "$output" | grep -qx -- "$o" || bad="$bad $p:$o"
		done
	done
	[ -z "$bad" ] || fail "not offered:$bad"
}

@test "bash completion registers a function for every program" {
	run bash -c 'source "$1/bash/muse" && complete -p' bash "$COMP"
	expect_status 0
	local p
	for p in $PROGS; do
		expect_output_contains "complete -F _${p//-/_} $p"
	done
}

# ---------------------------------------------------------------------
# zsh and fish

@test "zsh completion parses and covers every long option" {
	command -v zsh >/dev/null || skip "zsh is not installed (apt-get install zsh)"
	run zsh -n "$COMP/zsh/_muse"
	expect_status 0
	head -1 "$COMP/zsh/_muse" | grep -qx '#compdef muse-gen muse-ingest muse-sketch muse-merge muse-delta muse-query muse-import muse-cat' ||
	    fail "bad #compdef line"
	local p o body bad=
	for p in $PROGS; do
		body=$(awk -v f="_${p//-/_}() {" '$0 == f { ins = 1 } ins; ins && /^}/ { exit }' "$COMP/zsh/_muse")
		[ -n "$body" ] || { bad="$bad $p:(no function)"; continue; }
		for o in $(help_longs "$p"); do
			printf '%s\n' "$body" | grep -qE -- "$o([]=['\" },]|\$)" ||
			    bad="$bad $p:$o"
		done
	done
	[ -z "$bad" ] || fail "missing in _muse:$bad"
}

@test "fish completions parse and cover every long option" {
	command -v fish >/dev/null || skip "fish is not installed (apt-get install fish)"
	local p o bad=
	for p in $PROGS; do
		[ -f "$COMP/fish/$p.fish" ] || { bad="$bad $p:(no file)"; continue; }
		run fish -n "$COMP/fish/$p.fish"
		expect_status 0
		for o in $(help_longs "$p"); do
			grep -q -- "-l ${o#--}\( \|$\)" "$COMP/fish/$p.fish" || bad="$bad $p:$o"
		done
	done
	[ -z "$bad" ] || fail "missing:$bad"
}

@test "fish completion: muse-query values come from the store on the line" {
	command -v fish >/dev/null || skip "fish is not installed (apt-get install fish)"
	cp "$GOLDEN/example-store.msk" store.msk
	run fish -c 'set fish_complete_path $argv[1] $fish_complete_path
	    complete -C"muse-query store.msk -a t0001-a1,t0001-a"
	    complete -C"muse-sketch --by title,as"' "$COMP/fish"
	expect_status 0
	expect_output_contains "t0001-a1,t0001-a2"
	expect_output_contains "title,asset"
}
