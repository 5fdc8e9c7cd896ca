# Makefile — builds libblazedb (static, shared, pkg-config file), its tests,
# fuzzers and benchmarks, and installs it.  GNU make only.
#
#   make                   library and the blazedb tool into build/ (after scripts/deps.sh build)
#   make demo              build everything, run 'blazedb demo' and the README tours
#   make test [T=test_x]   build and run all tests (or the named ones)
#   make test-sanitize     the tests under ASan+UBSan, in build/asan/
#   make check-warnings    gcc and clang -Werror builds of library and tests
#   make fuzz [F=fuzz_x] [FUZZ_SECONDS=60]   build and run libFuzzer targets
#   make bench [BENCH_ARGS=...]              build and run build/bench/bench
#   make install [PREFIX=/usr/local] [DESTDIR=]    make uninstall    make clean
#   make cli               just build/blazedb (the command-line tool, cli/*.c)
#
# Conventions:
#   - library sources are src/*/*.c except src/os/os_fault.c (test-only);
#   - build/libblazedb_testsupport.a holds os_fault.c and tests/support/*.c,
#     except tests/support/mock_*.c: mocks stand in for library layers and
#     would clash with them, so only tests that ask for them get them;
#   - each tests/test_NAME.c is one binary build/tests/test_NAME, linked with
#     the test-support and static libraries, unless tests/test_NAME.sources
#     exists: then it is linked from exactly the sources listed there
#     (whitespace-separated; the test's own .c is added if not listed);
#   - the public targets above run scripts/deps.sh and then a sub-make; the
#     variables B (build dir), OPT, SAN, SAN_LD and WERROR select a variant.

.SUFFIXES:
.DELETE_ON_ERROR:
.PHONY: all demo test test-sanitize check-warnings fuzz bench install uninstall \
        clean help lib cli tests fuzzers bench-bin check-exports FORCE

# ---- configuration ----------------------------------------------------------
B        ?= build
OPT      ?= -O2 -g
SAN      ?=
SAN_LD   ?= $(SAN)
WERROR   ?=
CLANG    ?= clang-14
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
FUZZ_SECONDS ?= 60
AR       ?= ar

VERSION   := $(shell sed -n 's/^\#define BLAZEDB_VERSION_STRING "\(.*\)"/\1/p' include/blazedb.h)
SOVERSION := $(firstword $(subst ., ,$(VERSION)))

PKG_CFLAGS := $(shell pkg-config --cflags libcrypto libargon2 libzstd 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs libcrypto libargon2 libzstd 2>/dev/null || echo -lcrypto -largon2 -lzstd)
LIBS       := $(PKG_LIBS) -lpthread
EDIT_CFLAGS := $(shell pkg-config --cflags libedit 2>/dev/null)
EDIT_LIBS   := $(shell pkg-config --libs libedit 2>/dev/null || echo -ledit)

# CFLAGS, CPPFLAGS and LDFLAGS are left to the user and added last.
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra $(WERROR) -fPIC \
              -fvisibility=hidden -Iinclude $(PKG_CFLAGS) $(SAN) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_LD) $(LDFLAGS)

# ---- sources ----------------------------------------------------------------
obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIB_SRC     := $(filter-out src/os/os_fault.c,$(sort $(wildcard src/*/*.c)))
SUPPORT_SRC := $(wildcard src/os/os_fault.c) \
               $(filter-out tests/support/mock_%.c,$(sort $(wildcard tests/support/*.c)))
TEST_NAMES  := $(patsubst tests/%.c,%,$(sort $(wildcard tests/test_*.c)))
SRCLIST_TESTS := $(patsubst tests/%.sources,%,$(wildcard tests/test_*.sources))
LIB_TESTS   := $(filter-out $(SRCLIST_TESTS),$(TEST_NAMES))
FUZZ_NAMES  := $(patsubst fuzz/%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
BENCH_SRC   := $(sort $(wildcard bench/*.c))
CLI_SRC     := $(sort $(wildcard cli/*.c))

# Sources of a .sources test: the listed files plus the test itself.
test_sources = $(sort $(file < tests/$(1).sources) tests/$(1).c)

LIB_OBJS     := $(call obj,$(LIB_SRC))
SUPPORT_OBJS := $(call obj,$(SUPPORT_SRC))
LIB_A        := $(B)/libblazedb.a
SUPPORT_A    := $(B)/libblazedb_testsupport.a
SO_REAL      := $(B)/libblazedb.so.$(VERSION)
SO_NAME      := libblazedb.so.$(SOVERSION)
TEST_BINS    := $(TEST_NAMES:%=$(B)/tests/%)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(B)/%)
BENCH_BIN    := $(B)/bench/bench
CLI_OBJS     := $(call obj,$(CLI_SRC))
CLI_BIN      := $(B)/blazedb
ALL_OBJS     := $(LIB_OBJS) $(SUPPORT_OBJS) $(call obj,$(LIB_TESTS:%=tests/%.c) \
                $(foreach t,$(SRCLIST_TESTS),$(call test_sources,$(t))) \
                $(FUZZ_NAMES:%=fuzz/%.c) $(BENCH_SRC) $(CLI_SRC))

# The public targets serialise; the sub-makes they start run in parallel.
ifndef BLAZEDB_SUBMAKE
.NOTPARALLEL:
endif
SUBMAKE = +@$(MAKE) --no-print-directory BLAZEDB_SUBMAKE=1

# ---- public targets ---------------------------------------------------------
all:
	@bash scripts/deps.sh build
	$(SUBMAKE) lib cli

test:
	@bash scripts/deps.sh test
	$(SUBMAKE) lib check-exports $(if $(T),$(addprefix $(B)/tests/,$(T)),tests)
	@bash scripts/run-tests.sh $(B)/tests $(T)

# The first thing to run: builds the library and the tool, runs
# 'blazedb demo' and then the two README tours (examples/kv_tour.c,
# examples/doc_tour.c), each in a fresh directory.
demo:
	@bash scripts/deps.sh build
	$(SUBMAKE) lib cli
	@d=$$(mktemp -d "$${TMPDIR:-/tmp}/blazedb-demo.XXXXXX") && \
	    echo "== blazedb demo $$d" && $(CURDIR)/$(CLI_BIN) demo "$$d" && echo
	@mkdir -p $(B)/examples
	$(CC) -Wall -Wextra -Iinclude examples/kv_tour.c $(LIB_A) $(LIBS) -o $(B)/examples/kv_tour
	$(CC) -Wall -Wextra -Iinclude examples/doc_tour.c $(LIB_A) $(LIBS) -o $(B)/examples/doc_tour
	@d=$$(mktemp -d "$${TMPDIR:-/tmp}/blazedb-demo.XXXXXX") && cd "$$d" && \
	    echo "== examples/kv_tour.c (byte-KV API), in $$d" && $(CURDIR)/$(B)/examples/kv_tour && \
	    echo && echo "== examples/doc_tour.c (documents, transactions, queries, observers)" && \
	    $(CURDIR)/$(B)/examples/doc_tour && echo && ls -l "$$d"

SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
test-sanitize:
	@bash scripts/deps.sh test
	$(SUBMAKE) B=build/asan OPT="-O1 -g" SAN="$(SANITIZE)" \
	    $(if $(T),$(addprefix build/asan/tests/,$(T)),tests)
	@UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	    bash scripts/run-tests.sh build/asan/tests $(T)

check-warnings:
	@bash scripts/deps.sh warnings
	$(SUBMAKE) CC=gcc B=build/gcc-werror WERROR=-Werror lib tests
	$(SUBMAKE) CC=$(CLANG) B=build/clang-werror WERROR=-Werror lib tests
	@echo "check-warnings: gcc and $(CLANG) build library and tests with -Werror"

FUZZ_RUN = $(if $(F),$(F),$(FUZZ_NAMES))
FUZZ_SAN = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_LD  = -fsanitize=fuzzer,address,undefined
ifeq ($(strip $(FUZZ_RUN)),)
fuzz:
	@echo "fuzz: no fuzz targets (fuzz/fuzz_*.c); nothing to do"
else
fuzz:
	@bash scripts/deps.sh fuzz
	$(SUBMAKE) CC=$(CLANG) B=build/fuzz OPT="-O1 -g" SAN="$(FUZZ_SAN)" SAN_LD="$(FUZZ_LD)" \
	    fuzzers FUZZ_NAMES="$(FUZZ_RUN)"
	@rc=0; for f in $(FUZZ_RUN); do \
	    mkdir -p fuzz/corpus/$$f fuzz/artifacts/$$f; \
	    dict=; [ -f fuzz/$$f.dict ] && dict=-dict=fuzz/$$f.dict; \
	    echo "=== fuzz $$f for $(FUZZ_SECONDS)s (corpus fuzz/corpus/$$f, crashes in fuzz/artifacts/$$f/)"; \
	    build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=fuzz/artifacts/$$f/ $$dict fuzz/corpus/$$f \
	        $$( [ -d fuzz/seeds/$$f ] && echo fuzz/seeds/$$f ) </dev/null \
	        || { echo "--- FAIL fuzz $$f"; rc=1; }; \
	done; exit $$rc
endif

bench:
	@if [ -z "$(BENCH_SRC)" ]; then \
	    echo "bench: no benchmark sources (bench/*.c) yet; nothing to build" >&2; exit 1; fi
	@bash scripts/deps.sh bench
	$(SUBMAKE) bench-bin
	$(BENCH_BIN) $(BENCH_ARGS)

install: lib cli
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	    $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(CLI_BIN) $(DESTDIR)$(BINDIR)/blazedb
	install -m 644 cli/blazedb.1 $(DESTDIR)$(MANDIR)/man1/blazedb.1
	install -m 644 include/blazedb.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libblazedb.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libblazedb.so
	$(call gen_pc) > $(DESTDIR)$(PKGCONFIGDIR)/blazedb.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/blazedb.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/blazedb $(DESTDIR)$(MANDIR)/man1/blazedb.1
	rm -f $(DESTDIR)$(INCLUDEDIR)/blazedb.h $(DESTDIR)$(PKGCONFIGDIR)/blazedb.pc \
	      $(DESTDIR)$(LIBDIR)/libblazedb.a $(DESTDIR)$(LIBDIR)/libblazedb.so \
	      $(DESTDIR)$(LIBDIR)/$(SO_NAME) $(DESTDIR)$(LIBDIR)/libblazedb.so.$(VERSION)

clean:
	rm -rf build

help:
	@sed -n '/^#   make/p' Makefile | sed 's/^#//'

# ---- building blocks (no dependency check) ------------------------------------
lib: $(LIB_A) $(B)/libblazedb.so $(B)/blazedb.pc
tests: $(TEST_BINS) $(B)/tests/test_readme $(CLI_BIN)
cli: $(CLI_BIN)

# The README's example, checked as a test (see scripts/check-readme.sh).
$(B)/tests/test_readme: scripts/check-readme.sh $(LIB_A) README.md $(wildcard examples/*.c) | $(CLI_BIN)
	@mkdir -p $(@D)
	printf '#!/bin/sh\nexec bash "%s/scripts/check-readme.sh" "%s" "%s" "%s"\n' "$(CURDIR)" "$(CURDIR)" "$(CURDIR)/$(B)" "$(SAN)" > $@
	chmod +x $@
fuzzers: $(FUZZ_BINS)
bench-bin: $(BENCH_BIN)

# The shared library must export the public API and nothing else.
check-exports: $(B)/libblazedb.so
	@bad=$$(nm -D --defined-only $< | awk '{ print $$NF }' | grep -Ev '^(blazedb_|BLAZEDB_)' || true); \
	if [ -n "$$bad" ]; then echo "libblazedb.so exports non-public symbols:" $$bad >&2; exit 1; fi

# Rebuild everything in $(B) when the compiler or flags change.
STAMP := $(B)/.flags
FLAGS_STR = $(CC) $(ALL_CFLAGS) | $(ALL_LDFLAGS) | $(LIBS)
$(STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(FLAGS_STR)' | cmp -s - $@ || echo '$(FLAGS_STR)' > $@

$(B)/obj/%.o: %.c $(STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB_A): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(SUPPORT_A): $(SUPPORT_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(SO_REAL): $(LIB_OBJS) $(STAMP)
	$(CC) -shared -Wl,-soname,$(SO_NAME) -Wl,--no-undefined -Wl,--as-needed $(ALL_LDFLAGS) \
	    -o $@ $(LIB_OBJS) $(LIBS)

$(B)/$(SO_NAME): $(SO_REAL)
	ln -sf $(notdir $<) $@

$(B)/libblazedb.so: $(B)/$(SO_NAME)
	ln -sf $(notdir $<) $@

gen_pc = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
             -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' blazedb.pc.in

$(B)/blazedb.pc: blazedb.pc.in FORCE
	@mkdir -p $(@D)
	@$(gen_pc) | cmp -s - $@ || { $(gen_pc) > $@ && echo "generated $@"; }

# A test may name more libraries in tests/test_NAME.libs (e.g. -lsqlite3
# for the tests that use SQLite as an oracle).
$(LIB_TESTS:%=$(B)/tests/%): $(B)/tests/%: $(B)/obj/tests/%.o $(SUPPORT_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(SUPPORT_A) $(LIB_A) \
	    $(if $(wildcard tests/$*.libs),$(strip $(file < tests/$*.libs))) -lcmocka $(LIBS)

define srclist_test
$(B)/tests/$(1): $(call obj,$(call test_sources,$(1))) tests/$(1).sources
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) -lcmocka $$(LIBS)
endef
$(foreach t,$(SRCLIST_TESTS),$(eval $(call srclist_test,$(t))))

$(FUZZ_BINS): $(B)/%: $(B)/obj/fuzz/%.o $(SUPPORT_A) $(LIB_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(SUPPORT_A) $(LIB_A) $(LIBS)

# The command-line tool: cli/*.c against the static library and libedit.
$(CLI_OBJS): ALL_CFLAGS += $(EDIT_CFLAGS)
$(CLI_BIN): $(CLI_OBJS) $(LIB_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJS) $(LIB_A) $(EDIT_LIBS) $(LIBS)

# tests/test_cli.c runs the tool: building the test builds the tool too.
$(B)/tests/test_cli: | $(CLI_BIN)

$(BENCH_BIN): $(call obj,$(BENCH_SRC)) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(call obj,$(BENCH_SRC)) $(LIB_A) \
	    -lsqlite3 -llmdb -ldl $(LIBS)

-include $(ALL_OBJS:.o=.d)
