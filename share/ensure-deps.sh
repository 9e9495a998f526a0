#!/bin/sh
# Installs the system packages that building and testing need, when they are
# missing: as root with apt-get, otherwise prints the command to run.
#   --build-only   only what building needs
#   --valgrind     also valgrind (make check-valgrind; make check does
#                  not need it)
need=""
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
command -v make >/dev/null 2>&1 || need="$need make"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
have_pc libzstd || need="$need libzstd-dev"
have_pc libxxhash || need="$need libxxhash-dev"
build_only= valgrind=
for a in "$@"; do
	case $a in
	--build-only) build_only=1 ;;
	--valgrind) valgrind=1 ;;
	esac
done
[ -n "$valgrind" ] && ! command -v valgrind >/dev/null 2>&1 && need="$need valgrind"
if [ -z "$build_only" ]; then
	command -v bats >/dev/null 2>&1 || need="$need bats"
	command -v python3 >/dev/null 2>&1 || need="$need python3"
	command -v zstd >/dev/null 2>&1 || need="$need zstd"
	# The documentation tests lint the man pages and check the
	# completions in the shells they are for.
	command -v mandoc >/dev/null 2>&1 || need="$need mandoc"
	command -v xxd >/dev/null 2>&1 || need="$need xxd"
	command -v zsh >/dev/null 2>&1 || need="$need zsh"
	command -v fish >/dev/null 2>&1 || need="$need fish"
	command -v script >/dev/null 2>&1 || need="$need bsdutils"
	command -v man >/dev/null 2>&1 || need="$need man-db"
	command -v bc >/dev/null 2>&1 || need="$need bc"
	# The fan-out recipe is tested for real: GNU parallel over ssh to a
	# throwaway sshd, files moved with rsync.
	command -v parallel >/dev/null 2>&1 || need="$need parallel"
	command -v rsync >/dev/null 2>&1 || need="$need rsync"
	command -v ssh >/dev/null 2>&1 || need="$need openssh-client"
	[ -x /usr/sbin/sshd ] || need="$need openssh-server"
fi
# Optional: tests/pghll.bats runs against PostgreSQL 15 with the hll
# extension and is skipped, saying why, without them; a failed install of
# these is reported but does not stop the build.
if [ "${1:-}" != "--build-only" ] &&
    { [ ! -x /usr/lib/postgresql/15/bin/initdb ] ||
    [ ! -f /usr/share/postgresql/15/extension/hll.control ]; }; then
	opt="postgresql-15 postgresql-15-hll"
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing (optional): $opt"
		export DEBIAN_FRONTEND=noninteractive
		{ apt-get update -qq && apt-get install -y -qq $opt; } \
		    >/dev/null 2>&1 ||
		    echo "could not install $opt: tests/pghll.bats will be skipped" >&2
	else
		echo "optional packages missing: $opt (tests/pghll.bats will be skipped;" \
		    "sudo apt-get install -y $opt)" >&2
	fi
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "installing:$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq $need >/dev/null || {
		echo "apt-get install failed:$need" >&2
		exit 1
	}
	exit 0
fi
echo "missing packages:$need" >&2
echo "install them with: sudo apt-get install -y$need" >&2
exit 1
