# t2m - PyTorch checkpoints to MLX, as a family of small filters.
# One non-recursive Makefile.  `make asan` rebuilds in build-asan/ with
# sanitizers and runs the same suite there.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
# bash-completion looks a command's completion up by its name.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# zsh's compinit reads _t2m from a directory in fpath.
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
DESTDIR ?=
BUILD   ?= build

CC      ?= cc
PKG_CONFIG ?= pkg-config
PYTHON  ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

VERSION   = $(shell sed -n 's/^\#define T2M_VERSION "\(.*\)"/\1/p' lib/t2m.h)
DEPS      = libarchive libzstd libcjson zlib
# Homebrew's libarchive is keg-only: its .pc file is not on the default
# path, so look where brew keeps it.
ifeq ($(shell uname -s),Darwin)
BREW_ARCHIVE := $(shell brew --prefix libarchive 2>/dev/null)
endif
PKG_ENV   = $(if $(BREW_ARCHIVE),PKG_CONFIG_PATH=$(BREW_ARCHIVE)/lib/pkgconfig$${PKG_CONFIG_PATH:+:$$PKG_CONFIG_PATH})
DEPCFLAGS = $(shell $(PKG_ENV) $(PKG_CONFIG) --cflags $(DEPS))
DEPLIBS   = $(shell $(PKG_ENV) $(PKG_CONFIG) --libs $(DEPS)) -lm

WARN     = -Wall -Wextra -Wpedantic -Wshadow -Wmissing-prototypes \
           -Wstrict-prototypes -Wpointer-arith -Wformat=2 -Wvla
OPT      = -O2 -g
SANITIZE =
CFLAGS  ?=
T2M_CFLAGS = -std=c11 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE \
           -D_DARWIN_C_SOURCE -D_FILE_OFFSET_BITS=64 $(OPT) $(WARN) \
           $(SANITIZE) -Ilib $(DEPCFLAGS) $(CFLAGS)
T2M_LDFLAGS = $(SANITIZE) $(LDFLAGS)

# Every lib/*.c is part of libt2m.a; lib/t2m.h is its public header.
LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:lib/%.c=$(BUILD)/lib/%.o)
LIB_HDR = $(wildcard lib/*.h)

# Every filters/t2m-*.c is a program, with its page man/t2m-*.1.
# SCRIPTS are programs already: copied beside the filters they run.
FILTERS = $(patsubst filters/%.c,%,$(wildcard filters/t2m-*.c))
SCRIPTS = t2m-shards
PROGS   = $(FILTERS) $(SCRIPTS)
BINS    = $(PROGS:%=$(BUILD)/bin/%)
MAN1    = $(PROGS:%=man/%.1)
MAN5    = man/t2m-stream.5
MAN7    = man/t2m.7

UNIT_SRC = $(wildcard tests/unit/test_*.c)

all: $(BINS)

$(BUILD)/lib/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(T2M_CFLAGS) -c -o $@ $<

$(BUILD)/libt2m.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

$(BUILD)/bin/%: filters/%.c $(BUILD)/libt2m.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(T2M_CFLAGS) -o $@ $< $(BUILD)/libt2m.a $(DEPLIBS) $(T2M_LDFLAGS)

$(BUILD)/bin/%: scripts/%
	@mkdir -p $(@D)
	cp $< $@
	chmod +x $@

# The unit tests: each TEST(name) in tests/unit/test_*.c, listed by grep.
$(BUILD)/tests/list.h: $(UNIT_SRC)
	@mkdir -p $(@D)
	grep -h '^TEST(' $(UNIT_SRC) > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/unit: tests/unit/main.c tests/unit/unit.h $(UNIT_SRC) \
    $(BUILD)/tests/list.h $(BUILD)/libt2m.a
	$(CC) $(T2M_CFLAGS) -I$(BUILD)/tests -Itests/unit -o $@ \
	    tests/unit/main.c $(UNIT_SRC) $(BUILD)/libt2m.a $(DEPLIBS) \
	    $(T2M_LDFLAGS)

# One pass of the whole suite against the binaries in $(BUILD).
test: all $(BUILD)/tests/unit
	PYTHON='$(PYTHON)' tests/run $(BUILD)

asan:
	$(MAKE) BUILD=build-asan OPT='-O1 -g -fno-omit-frame-pointer' \
	    SANITIZE='-fsanitize=address,undefined -fno-sanitize-recover=all' \
	    test

# The README's test command: the suite, the suite under sanitizers, and a
# short fuzzing run of each target.
check: test
	$(MAKE) asan
	$(MAKE) fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)

CHECK_FUZZ_SECONDS ?= 30

# Fuzzing: libFuzzer targets built with clang in build-fuzz/, each run for
# FUZZ_SECONDS from seeds made by real torch and from tests/fuzz/regress
# (inputs that once crashed).  A crash is saved in build-fuzz/ as crash-*
# and fails the target.
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_TARGETS = fuzz_cast fuzz_pack fuzz_pickle fuzz_rename fuzz_stream \
               fuzz_unpack
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
           -fno-sanitize-recover=all

# fuzz_cast and fuzz_rename run the filters' own code: they include them.
build-fuzz/fuzz_cast: filters/t2m-cast.c
build-fuzz/fuzz_rename: filters/t2m-rename.c
build-fuzz/%: tests/fuzz/%.c tests/fuzz/stream.h $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE \
	    -D_FILE_OFFSET_BITS=64 $(FUZZ_FLAGS) -Ilib $(DEPCFLAGS) -o $@ \
	    $< $(LIB_SRC) $(DEPLIBS)

fuzz: all $(FUZZ_TARGETS:%=build-fuzz/%)
	PYTHON='$(PYTHON)' T2M_BIN=$(BUILD)/bin tests/fuzz/seeds.sh build-fuzz/seeds
	for t in $(FUZZ_TARGETS); do \
	    kind=$${t#fuzz_}; \
	    mkdir -p build-fuzz/corpus-$$t; \
	    (cd build-fuzz && ./$$t -max_total_time=$(FUZZ_SECONDS) \
	        -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
	        -print_final_stats=1 corpus-$$t seeds/$$kind \
	        ../tests/fuzz/regress/$$kind) || exit 1; \
	done

lint-man:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN5) $(MAN7)

# Convert the bundled PyTorch checkpoint, then show what was written.
demo: all
	@mkdir -p $(BUILD)/demo
	$(BUILD)/bin/t2m-unpack samples/sample.pt | \
	    $(BUILD)/bin/t2m-pack $(BUILD)/demo/sample.safetensors
	$(BUILD)/bin/t2m-unpack $(BUILD)/demo/sample.safetensors | \
	    $(BUILD)/bin/t2m-ls
	@echo "wrote $(BUILD)/demo/sample.safetensors"

bench: all
	scripts/bench

# The Python front end (scripts/python), for the python3 that has torch.
# The Python package with the programs inside it (torch2mlx/bin/), built
# from a copy in $(BUILD), into $(PYTHON)'s environment: a venv's python
# (make install-python PYTHON=venv/bin/python), or PIP_FLAGS=--user.
# Offline: no build isolation; torch is not installed for you.
install-python: all
	rm -rf $(BUILD)/python
	cp -R scripts/python $(BUILD)/python
	rm -rf $(BUILD)/python/build $(BUILD)/python/*.egg-info
	mkdir -p $(BUILD)/python/torch2mlx/bin
	cp $(BINS) $(BUILD)/python/torch2mlx/bin/
	$(PYTHON) -m pip install --no-build-isolation --no-deps $(PIP_FLAGS) \
	    $(BUILD)/python

# t2m.pc, written at install time for this PREFIX.  The library is
# static, so its dependencies are Requires, not Requires.private:
# `pkg-config --libs t2m` is enough to link.  Paths under PREFIX are
# written relative to ${prefix} (pkg-config --define-prefix works).
PC_LIBDIR = $(patsubst $(PREFIX)%,$${prefix}%,$(LIBDIR))
PC_INCDIR = $(patsubst $(PREFIX)%,$${prefix}%,$(INCDIR))

install: all $(BUILD)/libt2m.a
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	cp $(BINS) $(DESTDIR)$(BINDIR)/
	for p in $(PROGS); do \
	    cp scripts/completion/t2m.bash $(DESTDIR)$(BASHCOMPDIR)/$$p || \
	    exit 1; done
	cp scripts/completion/_t2m $(DESTDIR)$(ZSHCOMPDIR)/
	cp $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	cp $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	cp $(MAN7) $(DESTDIR)$(MANDIR)/man7/
	cp $(BUILD)/libt2m.a $(DESTDIR)$(LIBDIR)/
	cp lib/t2m.h $(DESTDIR)$(INCDIR)/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(PC_LIBDIR)' \
	    'includedir=$(PC_INCDIR)' '' 'Name: t2m' \
	    'Description: PyTorch checkpoints to MLX: the t2m stream library' \
	    'Version: $(VERSION)' 'Requires: $(DEPS)' \
	    'Libs: -L$${libdir} -lt2m -lm' 'Cflags: -I$${includedir}' \
	    > $(DESTDIR)$(LIBDIR)/pkgconfig/t2m.pc

uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%) \
	    $(PROGS:%=$(DESTDIR)$(MANDIR)/man1/%.1) \
	    $(PROGS:%=$(DESTDIR)$(BASHCOMPDIR)/%) $(DESTDIR)$(ZSHCOMPDIR)/_t2m \
	    $(DESTDIR)$(MANDIR)/man5/t2m-stream.5 \
	    $(DESTDIR)$(MANDIR)/man7/t2m.7 \
	    $(DESTDIR)$(LIBDIR)/libt2m.a $(DESTDIR)$(INCDIR)/t2m.h \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/t2m.pc

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all test asan check fuzz lint-man demo bench install install-python \
    uninstall clean
.SUFFIXES:
