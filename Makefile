# Muse toolkit.  `make` builds the programs into cmd/, `make check` runs
# every test (also under AddressSanitizer + UBSan), `make demo` runs the
# pipeline on the embedded sample, `make bench` measures.  Quiet unless V=1.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

VERSION = 0.1.0
# Build directory: "." keeps objects beside their sources; the sanitizer
# build uses O=tests/.san.
O ?= .

CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libzstd libxxhash 2>/dev/null)
DEPS_LIBS := $(shell $(PKG_CONFIG) --libs libzstd libxxhash 2>/dev/null || echo -lzstd -lxxhash)
MUSE_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread -Wall -Wextra -Wshadow -Wno-sign-compare \
	-Ilib -DMUSE_VERSION='"$(VERSION)"' $(DEPS_CFLAGS) -MMD -MP
MUSE_LIBS = $(DEPS_LIBS) -lm -pthread

ifeq ($(V),1)
Q =
else
Q = @
endif

LIB_SRC := $(sort $(wildcard lib/*.c))
CMD_SRC := $(sort $(wildcard cmd/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
PROGS := $(CMD_SRC:%.c=$(O)/%)
PROG_NAMES := $(notdir $(CMD_SRC:.c=))
UNITS := $(UNIT_SRC:%.c=$(O)/%)
# Fuzz targets (tests/fuzz/README.md): linked with the replay driver for
# make check, or with libFuzzer by make fuzz (FUZZ_DRIVER empty).
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRC:%.c=$(O)/%)
FUZZ_DRIVER ?= $(O)/tests/fuzz/replay.o
FUZZ_SECONDS ?= 60
# UBSan reports are recoverable so that tests/fuzz/ubsan.supp can pass over
# open findings; fuzz.sh sets halt_on_error, so any other report is fatal.
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fsanitize-recover=undefined -fno-omit-frame-pointer

all: $(PROGS)

$(O)/lib/libmuse.a: $(LIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# The shared library, for make install: the same sources compiled again as
# position-independent code (lib/*.pic.o), named for the version and
# carrying the soname of its major version.
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
SHLIB := $(O)/lib/libmuse.so.$(VERSION)
PIC_OBJ := $(LIB_SRC:%.c=$(O)/%.pic.o)

$(SHLIB): $(PIC_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libmuse.so.$(SOMAJOR) \
	    -o $@ $^ $(MUSE_LIBS)

$(O)/%.pic.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(MUSE_CFLAGS) -fPIC -c -o $@ $<

-include $(PIC_OBJ:.o=.d)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(MUSE_CFLAGS) -c -o $@ $<

$(O)/cmd/%: $(O)/cmd/%.o $(O)/lib/libmuse.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(MUSE_LIBS)

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(O)/lib/libmuse.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(MUSE_LIBS)

units: $(UNITS)

$(O)/tests/fuzz/fuzz_%: $(O)/tests/fuzz/fuzz_%.o $(FUZZ_DRIVER) $(O)/lib/libmuse.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(MUSE_LIBS)

fuzzers: $(FUZZ_BINS)

# The HLL kernel benchmark that tests/bench/kernels.sh runs; not built by all.
$(O)/tests/bench/kernels: $(O)/tests/bench/kernels.o $(O)/lib/libmuse.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(MUSE_LIBS)

# The cold-process timer of tests/bench/serve.sh; not built by all.
$(O)/tests/bench/coldrun: $(O)/tests/bench/coldrun.o
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

# Installs what the build and the tests need when missing (as root with
# apt-get, else prints the command).
deps:
	@share/ensure-deps.sh

check: deps
	@$(MAKE) --no-print-directory all units fuzzers
	@$(MAKE) --no-print-directory O=tests/.san CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" all units fuzzers
	@tests/run.sh

# The unit tests and the bats suites with every program under valgrind's
# memcheck (tests/valgrind.sh): no error, no leak.  Slow: 45 min on
# 2 shared cores (tests/fuzz/README.md, Valgrind).
check-valgrind:
	@share/ensure-deps.sh --valgrind
	@$(MAKE) --no-print-directory all units
	@tests/valgrind.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@share/demo.sh

# Runs every fuzz target (or FUZZ=NAME...) for FUZZ_SECONDS each (or
# FUZZ_RUNS executions, whichever first) under libFuzzer, built with clang
# into tests/fuzz/.build.
fuzz:
	@MAKE="$(MAKE)" FUZZ_FLAGS="$(FUZZ_FLAGS)" FUZZ_RUNS="$(FUZZ_RUNS)" tests/fuzz/fuzz.sh $(FUZZ_SECONDS) $(FUZZ)

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

clean:
	rm -f lib/*.o lib/*.d lib/libmuse.a cmd/*.o cmd/*.d $(PROGS) \
	    tests/unit/*.o tests/unit/*.d $(UNITS) \
	    tests/bench/kernels tests/bench/kernels.o tests/bench/kernels.d \
	    tests/bench/coldrun tests/bench/coldrun.o tests/bench/coldrun.d
	rm -f tests/fuzz/*.o tests/fuzz/*.d $(FUZZ_BINS)
	rm -rf tests/.san tests/.tmp tests/.vg* tests/fuzz/.build
	rm -f lib/libmuse.so.*

# make install [PREFIX=/usr/local] [DESTDIR=...]: the programs, the man
# pages, the completions, and the library for C programs: libmuse.a,
# libmuse.so, the headers (muse.h, which includes muse/*.h) and muse.pc
# for pkg-config.  make uninstall removes exactly those files.
HEADERS := $(filter-out lib/muse.h,$(sort $(wildcard lib/*.h)))
MAN1 := $(sort $(wildcard man/*.1))
MAN5 := $(sort $(wildcard man/*.5))
MAN7 := $(sort $(wildcard man/*.7))
FISHCOMP := $(sort $(wildcard completions/fish/*.fish))
# muse.pc names the directories relative to ${prefix} where it can, so
# that pkg-config --define-prefix finds a tree that was moved (DESTDIR).
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

install: all $(O)/lib/libmuse.a $(SHLIB)
	@echo "  INSTALL $(DESTDIR)$(PREFIX)"
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR) \
	    $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/muse $(DESTDIR)$(PKGCONFIGDIR)
	$(Q)install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)/
	$(Q)install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	$(Q)install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	$(Q)install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/
	$(Q)for p in $(PROG_NAMES); do \
	    install -m 644 completions/bash/muse $(DESTDIR)$(BASHCOMPDIR)/$$p || exit; done
	$(Q)install -m 644 completions/zsh/_muse $(DESTDIR)$(ZSHCOMPDIR)/_muse
	$(Q)install -m 644 $(FISHCOMP) $(DESTDIR)$(FISHCOMPDIR)/
	$(Q)install -m 644 $(O)/lib/libmuse.a $(DESTDIR)$(LIBDIR)/
	$(Q)install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf libmuse.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmuse.so.$(SOMAJOR)
	$(Q)ln -sf libmuse.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libmuse.so
	$(Q)install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/muse/
	$(Q)sed 's|^#include "\(.*\)"|#include "muse/\1"|' lib/muse.h \
	    > $(DESTDIR)$(INCLUDEDIR)/muse.h && chmod 644 $(DESTDIR)$(INCLUDEDIR)/muse.h
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' \
	    share/muse.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/muse.pc && \
	    chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/muse.pc

uninstall:
	@echo "  UNINSTALL $(DESTDIR)$(PREFIX)"
	$(Q)rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROG_NAMES)) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7))) \
	    $(addprefix $(DESTDIR)$(BASHCOMPDIR)/,$(PROG_NAMES)) \
	    $(DESTDIR)$(ZSHCOMPDIR)/_muse \
	    $(addprefix $(DESTDIR)$(FISHCOMPDIR)/,$(notdir $(FISHCOMP))) \
	    $(addprefix $(DESTDIR)$(LIBDIR)/,libmuse.a libmuse.so \
		libmuse.so.$(SOMAJOR) libmuse.so.$(VERSION)) \
	    $(addprefix $(DESTDIR)$(INCLUDEDIR)/muse/,$(notdir $(HEADERS))) \
	    $(DESTDIR)$(INCLUDEDIR)/muse.h $(DESTDIR)$(PKGCONFIGDIR)/muse.pc
	$(Q)rmdir $(DESTDIR)$(INCLUDEDIR)/muse 2>/dev/null || true

.PHONY: all units fuzzers fuzz deps check check-valgrind demo bench clean install uninstall
.SECONDARY:

-include $(LIB_OBJ:.o=.d) $(CMD_SRC:%.c=$(O)/%.d) $(UNIT_SRC:%.c=$(O)/%.d) \
	$(FUZZ_SRC:%.c=$(O)/%.d) $(O)/tests/fuzz/replay.d
