# Muse toolkit.  `make` builds the programs into cmd/, `make check` runs
# every test (also under AddressSanitizer + UBSan), `make demo` runs the
# pipeline on the embedded sample, `make bench` measures.  Quiet unless V=1.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
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

all: $(PROGS)

$(O)/lib/libmuse.a: $(LIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

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

# The HLL kernel benchmark that tests/bench/kernels.sh runs; not built by all.
$(O)/tests/bench/kernels: $(O)/tests/bench/kernels.o $(O)/lib/libmuse.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(MUSE_LIBS)

SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

# Installs what the build and the tests need when missing (as root with
# apt-get, else prints the command).
deps:
	@share/ensure-deps.sh

check: deps
	@$(MAKE) --no-print-directory all units
	@$(MAKE) --no-print-directory O=tests/.san CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" all units
	@tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@share/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

clean:
	rm -f lib/*.o lib/*.d lib/libmuse.a cmd/*.o cmd/*.d $(PROGS) \
	    tests/unit/*.o tests/unit/*.d $(UNITS) \
	    tests/bench/kernels tests/bench/kernels.o tests/bench/kernels.d
	rm -rf tests/.san tests/.tmp

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
	    $(DESTDIR)$(FISHCOMPDIR)
	install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)/
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5/
	install -m 644 $(wildcard man/*.7) $(DESTDIR)$(MANDIR)/man7/
	for p in $(PROG_NAMES); do \
	    install -m 644 completions/bash/muse $(DESTDIR)$(BASHCOMPDIR)/$$p; done
	install -m 644 completions/zsh/_muse $(DESTDIR)$(ZSHCOMPDIR)/_muse
	install -m 644 completions/fish/*.fish $(DESTDIR)$(FISHCOMPDIR)/

uninstall:
	for p in $(PROG_NAMES); do rm -f $(DESTDIR)$(BINDIR)/$$p \
	    $(DESTDIR)$(MANDIR)/man1/$$p.1 $(DESTDIR)$(BASHCOMPDIR)/$$p \
	    $(DESTDIR)$(FISHCOMPDIR)/$$p.fish; done
	rm -f $(DESTDIR)$(MANDIR)/man5/muse-format.5 $(DESTDIR)$(MANDIR)/man7/muse.7 \
	    $(DESTDIR)$(ZSHCOMPDIR)/_muse

.PHONY: all units deps check demo bench clean install uninstall
.SECONDARY:

-include $(LIB_OBJ:.o=.d) $(CMD_SRC:%.c=$(O)/%.d) $(UNIT_SRC:%.c=$(O)/%.d)
