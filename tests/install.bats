#!/usr/bin/env bats
# make install and make uninstall (issue 9): programs, man pages,
# completions, and the library with its headers and muse.pc, into a
# DESTDIR; a C program built against it with pkg-config, linked shared and
# static; uninstall leaves no file behind.
#
# The installation is built apart from the tree (O=tests/.tmp/install-build,
# the normal flags), so that it never rebuilds objects that a concurrent
# make is writing; the directory is kept, so the run of the suites on the
# sanitizer build, and later runs, rebuild nothing.  A lock serialises
# concurrent make check runs.

load helpers

BUILD=$MUSE_ROOT/tests/.tmp/install-build

# muse_make ARGS...: make in the source tree with the private build
# directory; its output goes to make.log, shown when it fails.
muse_make() {
	mkdir -p "$MUSE_ROOT/tests/.tmp" || return 1
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL flock "$BUILD.lock" make -s -C "$MUSE_ROOT" -j2 O="$BUILD" "$@" \
	    > make.log 2>&1 || fail "make $*: $(tail -20 make.log)"
}

setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	muse_make install DESTDIR="$BATS_FILE_TMPDIR/root" PREFIX=/usr/local
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	ROOT=$BATS_FILE_TMPDIR/root
	P=$ROOT/usr/local
}

# The programs and pages the sources have.
programs() {
	local c
	for c in "$MUSE_ROOT"/cmd/muse-*.c; do basename "$c" .c; done
}

@test "make install puts every program in BINDIR, and they run" {
	local p n=0
	for p in $(programs); do
		[ -x "$P/bin/$p" ] || fail "not installed: bin/$p"
		"$P/bin/$p" --version > version.txt || fail "$p --version failed"
		grep -q "^$p (muse) " version.txt || fail "$p --version: $(cat version.txt)"
		n=$((n + 1))
	done
	[ "$n" -ge 7 ] || fail "only $n programs found in cmd/"
	[ "$(ls "$P/bin" | wc -l)" -eq "$n" ] || fail "other files in bin: $(ls "$P/bin")"
}

@test "make install puts every man page in its section, and man -l renders each" {
	command -v man >/dev/null || skip "man is not installed"
	local f s page n=0
	for f in "$MUSE_ROOT"/man/*.[157]; do
		s=${f##*.}
		page=$P/share/man/man$s/$(basename "$f")
		[ -f "$page" ] || fail "not installed: share/man/man$s/$(basename "$f")"
		cmp -s "$f" "$page" || fail "$page differs from $f"
		MANPAGER=cat MANWIDTH=80 man -l "$page" > page.txt 2>/dev/null ||
		    fail "man -l $page failed"
		grep -q '^NAME' page.txt || fail "man -l $page: no NAME section"
		n=$((n + 1))
	done
	for s in 1 5 7; do
		ls "$P"/share/man/man$s/*.$s >/dev/null 2>&1 || fail "no page in man$s"
	done
}

@test "make install puts the bash, zsh and fish completions where each shell looks" {
	local p dir=$P/share/bash-completion/completions
	for p in $(programs); do
		# bash-completion loads the file named after the command.
		[ -f "$dir/$p" ] || fail "no bash completion for $p"
		bash -c 'source "$1" && complete -p "$2"' bash "$dir/$p" "$p" > comp.txt ||
		    fail "bash completion for $p registers nothing"
		grep -q -- "-F _${p//-/_} $p\$" comp.txt || fail "$p: $(cat comp.txt)"
		[ -f "$P/share/fish/vendor_completions.d/$p.fish" ] ||
		    fail "no fish completion for $p"
	done
	[ -f "$P/share/zsh/site-functions/_muse" ] || fail "no zsh completion"
	if command -v zsh >/dev/null; then
		zsh -n "$P/share/zsh/site-functions/_muse" || fail "_muse does not parse"
	fi
	if command -v fish >/dev/null; then
		for p in "$P"/share/fish/vendor_completions.d/*.fish; do
			fish -n "$p" || fail "$p does not parse"
		done
	fi
}

@test "make install puts libmuse.a, libmuse.so, muse.h with muse/*.h, and muse.pc" {
	local h version
	version=$(sed -n 's/^VERSION = //p' "$MUSE_ROOT/Makefile")
	[ -n "$version" ] || fail "no VERSION in the Makefile"
	[ -f "$P/lib/libmuse.a" ] || fail "no lib/libmuse.a"
	[ -f "$P/lib/libmuse.so.$version" ] || fail "no lib/libmuse.so.$version"
	[ "$(readlink "$P/lib/libmuse.so.${version%%.*}")" = "libmuse.so.$version" ] ||
	    fail "libmuse.so.${version%%.*} is not a link to libmuse.so.$version"
	[ "$(readlink "$P/lib/libmuse.so")" = "libmuse.so.${version%%.*}" ] ||
	    fail "libmuse.so is not a link to libmuse.so.${version%%.*}"
	if command -v objdump >/dev/null; then
		objdump -p "$P/lib/libmuse.so.$version" > dyn.txt
		grep -Eq "SONAME +libmuse\.so\.${version%%.*}\$" dyn.txt ||
		    fail "soname: $(grep SONAME dyn.txt)"
	fi
	[ -f "$P/include/muse.h" ] || fail "no include/muse.h"
	for h in "$MUSE_ROOT"/lib/*.h; do
		h=$(basename "$h")
		[ "$h" = muse.h ] && continue
		cmp -s "$MUSE_ROOT/lib/$h" "$P/include/muse/$h" ||
		    fail "include/muse/$h missing or not lib/$h"
	done
	PKG_CONFIG_PATH=$P/lib/pkgconfig run pkg-config --modversion muse
	expect_status 0
	[ "$output" = "$version" ] || fail "pkg-config --modversion muse: $output"
}

@test "muse.h includes every header of lib/" {
	local h bad=
	for h in "$MUSE_ROOT"/lib/*.h; do
		h=$(basename "$h")
		[ "$h" = muse.h ] && continue
		grep -qx "#include \"$h\"" "$MUSE_ROOT/lib/muse.h" || bad="$bad $h"
	done
	[ -z "$bad" ] || fail "not included by lib/muse.h:$bad"
}

# A user of the library: an HLL sketch of 100000 distinct items, and an
# event stream written to memory and read back.
write_program() {
	cat > prog.c <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muse.h>

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15u);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

int main(void)
{
	struct muse_err e;
	struct muse_header h = { .kind = MUSE_KIND_EVENTS,
	    .table = MUSE_TABLE_AFFINITIES, .hash = MUSE_HASH_XXH3,
	    .seed = MUSE_HASH_SEED };
	muse_hll *hll = muse_hll_new(MUSE_HLL_LGK_DEFAULT);
	muse_writer *w;
	muse_reader *r;
	muse_input *in;
	char *mem = NULL;
	size_t size = 0, n;
	const uint8_t *rec;
	uint64_t seed = 1;
	int rc, records = 0;
	FILE *fp;

	if (hll == NULL)
		return 1;
	for (int i = 0; i < 100000; i++) {
		uint64_t h1 = splitmix(&seed), h2 = splitmix(&seed);

		if (muse_hll_add(hll, muse_hll_coupon(h1, h2)))
			return 1;
	}
	printf("estimate %.0f\n", muse_hll_estimate(hll));
	muse_hll_free(hll);

	muse_err_clear(&e);
	if ((fp = open_memstream(&mem, &size)) == NULL ||
	    (w = muse_writer_new(fp, "memory", &h, 0, &e)) == NULL)
		return 1;
	for (int i = 0; i < 3; i++)
		if (muse_writer_add(w, "record", 6, &e))
			return 1;
	if (muse_writer_finish(w, &e))
		return 1;
	muse_writer_free(w);
	fclose(fp);
	if ((in = muse_input_mem(mem, size, "memory", &e)) == NULL ||
	    (r = muse_reader_new(in, &e)) == NULL ||
	    muse_reader_next_stream(r, &h, &e) != 1)
		return 1;
	while ((rc = muse_reader_next(r, &rec, &n, &e)) == 1)
		records += n == 6 && memcmp(rec, "record", 6) == 0;
	if (rc < 0) {
		fprintf(stderr, "%s\n", muse_strerror(rc));
		return 1;
	}
	printf("%s: %d records\n", muse_table_name(h.table), records);
	muse_reader_free(r);
	free(mem);
	return 0;
}
EOF
}

# check_program BINARY: it ran and printed what it should.
check_program() {
	run "$1"
	expect_status 0
	[ "${lines[1]}" = "affinities: 3 records" ] || fail "$1: $output"
	local est=${lines[0]#estimate }
	# Standard error at lgk 14 is 0.8%: 5% is six of them.
	[ "$est" -ge 95000 ] && [ "$est" -le 105000 ] || fail "$1: $output"
}

@test "a C program builds with pkg-config --cflags --libs muse and runs, linked shared" {
	command -v cc >/dev/null || skip "no C compiler"
	write_program
	# --define-prefix: prefix is where muse.pc lies, here inside DESTDIR.
	export PKG_CONFIG_PATH=$P/lib/pkgconfig
	run pkg-config --define-prefix --cflags --libs muse
	expect_status 0
	expect_output_contains "-I$P/include"
	expect_output_contains "-L$P/lib -lmuse"
	# shellcheck disable=SC2086
	cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o prog prog.c $output 2> cc.txt ||
	    fail "cc: $(cat cc.txt)"
	LD_LIBRARY_PATH=$P/lib ldd ./prog > ldd.txt
	grep -q "libmuse\.so\.[0-9]* => $P/lib/" ldd.txt || fail "ldd: $(cat ldd.txt)"
	LD_LIBRARY_PATH=$P/lib check_program ./prog
}

@test "a C program builds with pkg-config --static and runs, libmuse.a linked in" {
	command -v cc >/dev/null || skip "no C compiler"
	write_program
	export PKG_CONFIG_PATH=$P/lib/pkgconfig
	run pkg-config --define-prefix --static --cflags --libs muse
	expect_status 0
	expect_output_contains "-lzstd"
	expect_output_contains "-lxxhash"
	# The archive by name: with both libraries in one directory, -lmuse
	# would choose the shared one.
	# shellcheck disable=SC2086
	cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o prog prog.c \
	    ${output/-lmuse/-l:libmuse.a} 2> cc.txt || fail "cc: $(cat cc.txt)"
	ldd ./prog > ldd.txt 2>&1 || true
	! grep -q libmuse ldd.txt || fail "linked shared: $(cat ldd.txt)"
	check_program ./prog
}

@test "make uninstall removes every file, with other directories and PREFIX" {
	local root=$BATS_TEST_TMPDIR/root2 left
	local dirs=(PREFIX=/opt/muse MANDIR=/opt/muse/man
	    LIBDIR=/opt/muse/lib64 BASHCOMPDIR=/etc/bash_completion.d)
	muse_make install DESTDIR="$root" "${dirs[@]}"
	[ -x "$root/opt/muse/bin/muse-sketch" ] || fail "no bin/muse-sketch"
	[ -f "$root/opt/muse/man/man5/muse-format.5" ] || fail "no man/man5/muse-format.5"
	[ -f "$root/etc/bash_completion.d/muse-query" ] || fail "no bash completion"
	[ -f "$root/opt/muse/lib64/pkgconfig/muse.pc" ] || fail "no lib64/pkgconfig/muse.pc"
	grep -qx 'libdir=${prefix}/lib64' "$root/opt/muse/lib64/pkgconfig/muse.pc" ||
	    fail "muse.pc: $(cat "$root/opt/muse/lib64/pkgconfig/muse.pc")"
	muse_make uninstall DESTDIR="$root" "${dirs[@]}"
	left=$(find "$root" ! -type d)
	[ -z "$left" ] || fail "left behind: $left"

	# The same for the default directories of setup_file.
	muse_make uninstall DESTDIR="$ROOT" PREFIX=/usr/local
	left=$(find "$ROOT" ! -type d)
	[ -z "$left" ] || fail "left behind: $left"
}
