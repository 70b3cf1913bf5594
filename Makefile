# SPDX-License-Identifier: ISC
# bart: one non-recursive GNU Makefile.
# Targets: all check run bench stress fuzz deps install uninstall clean

# The flags stamp below is the first rule in the file; without this a
# bare "make" would build only the stamp.
.DEFAULT_GOAL := all

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
VERSION    := 0.1

# Build flags as the GNU coding standards and dpkg-buildflags expect:
# CC, CPPFLAGS, CFLAGS and LDFLAGS are the builder's (make CFLAGS=...,
# or the environment); bart's own -std, defines and warnings are
# appended.  -Werror only where warnings must stop the build (make check,
# CI, a developer's make WERROR=-Werror), never in a user's or a
# distribution's build with a newer compiler.  OPT replaces CFLAGS for
# the sanitizer and fuzz trees.
CC       ?= cc
CFLAGS   ?= -O2 -g
OPT      ?= $(CFLAGS)
WERROR   ?=
B        ?= build
PKGS     := libtirpc sqlite3 libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
EDIT_LIBS    := $(shell pkg-config --libs libedit 2>/dev/null)

WARN     := -Wall -Wextra $(WERROR) -Wstrict-prototypes -Wmissing-prototypes \
	    -Wshadow -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2
BASE_CFLAGS := $(CPPFLAGS) -std=c11 -D_GNU_SOURCE \
	    -DBART_VERSION='"$(VERSION)"' $(OPT)
INC      := -I$(B) -Icommon -Iserver -Iclient $(PKG_CFLAGS)
CFLAGS_OURS := $(BASE_CFLAGS) $(WARN) $(INC) $(EXTRA_CFLAGS)
# rpcgen output trips -Wunused; it gets looser flags of its own.
CFLAGS_GEN  := $(BASE_CFLAGS) -w $(INC) $(EXTRA_CFLAGS)
LDLIBS   := $(PKG_LIBS) -lpthread $(EXTRA_LDFLAGS)
# Link lines get the compile flags too (-flto, -fsanitize, -fPIE).
LINK     := $(CC) $(OPT) $(LDFLAGS)

GEN_H    := $(B)/bart.h
GEN_XDR  := $(B)/bart_xdr.c
GEN_CLNT := $(B)/bart_clnt_stubs.c

COMMON_SRC := common/log.c common/util.c
SERVER_LIB := server/counter.c server/store.c server/chat.c server/push.c \
	      server/proc.c server/svc.c server/conns.c server/peer.c \
	      server/daemon.c server/drc.c server/listen.c server/reg.c \
	      server/limit.c server/pgstore.c server/wire.c server/serve.c \
	      server/reqidx.c
# libbart (lib/, mk/lib.mk) is the client side; bart_clnt is built on it.
LIB_SRC    := lib/core.c lib/ops.c lib/chat.c lib/cbsvc.c lib/stream.c
CLIENT_LIB := client/cmd.c client/chatui.c client/json.c $(LIB_SRC)

O = $(B)/obj
objs = $(patsubst %.c,$(O)/%.o,$(1))

GEN_OBJ    := $(O)/gen/bart_xdr.o $(O)/gen/bart_clnt_stubs.o
COMMON_OBJ := $(call objs,$(COMMON_SRC)) $(GEN_OBJ)
SERVER_OBJ := $(call objs,$(SERVER_LIB))
CLIENT_OBJ := $(call objs,$(CLIENT_LIB))

PROGS := $(B)/bart_svc $(B)/bart_clnt

# Objects depend on the flags they were built with (git's GIT-CFLAGS
# idiom): a make check after a plain make recompiles with -Werror
# instead of trusting objects built without it.
FLAGS_STAMP := $(B)/flags.stamp
FLAGS_NOW   := $(CC) $(CFLAGS_OURS) | $(CFLAGS_GEN)
$(FLAGS_STAMP): FORCE
	@mkdir -p $(B)
	@if [ "$$(cat $@ 2>/dev/null)" != '$(subst ','\'',$(FLAGS_NOW))' ]; \
	then printf '%s\n' '$(subst ','\'',$(FLAGS_NOW))' >$@; fi
.PHONY: FORCE
FORCE:

.PHONY: all check unit integration asan run deps clean testtools
all: $(PROGS)

$(GEN_H): bart.x
	@mkdir -p $(B)
	rm -f $@ && rpcgen -M -h -o $@ bart.x
$(GEN_XDR): bart.x $(GEN_H)
	rm -f $@ && rpcgen -M -c -o $@ bart.x
$(GEN_CLNT): bart.x $(GEN_H)
	rm -f $@ && rpcgen -M -l -o $@ bart.x

$(O)/gen/%.o: $(B)/%.c $(GEN_H) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_GEN) -c -o $@ $<

$(O)/%.o: %.c $(GEN_H) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OURS) -MMD -MP -c -o $@ $<

$(B)/bart_svc: $(O)/server/bart_svc.o $(SERVER_OBJ) $(COMMON_OBJ)
	$(LINK) -o $@ $^ $(LDLIBS)

# bart_clnt is linked dynamically, as a distribution wants it (security
# updates of libc and libtirpc reach it).  CLNT_STATIC=1 links it
# statically instead: a dynamic one-shot command spends much of its life
# in the loader (libtirpc pulls in the Kerberos/GSS libraries, libedit
# four more); make bench times both ($(B)/bart_clnt-static).
# client/nogss.c stands in for the GSS calls libtirpc.a refers to and
# bart never makes.  glibc's static NSS still resolves names (files and
# dns are built in).  Sanitizer builds are always dynamic.
TIRPC_A := $(wildcard $(shell pkg-config --variable=libdir libtirpc \
	2>/dev/null)/libtirpc.a)
CLNT_STATIC ?= 0
ifneq ($(findstring sanitize,$(EXTRA_LDFLAGS)),)
override CLNT_STATIC := 0
endif
# The client needs no SQLite (no useless dependency in the package).
CLNT_LIBS := $(shell pkg-config --libs libtirpc 2>/dev/null) -lpthread \
	$(EDIT_LIBS) $(EXTRA_LDFLAGS)
CLNT_OBJ := $(O)/client/bart_clnt.o $(CLIENT_OBJ) $(COMMON_OBJ)
STATIC_LINK := -static $(shell pkg-config --libs-only-L libtirpc \
	2>/dev/null) -ltirpc -lpthread \
	$(shell pkg-config --static --libs libedit 2>/dev/null) -lmd
# glibc warns that static NSS needs its own version at run time: true
# here, bart_clnt is built where it runs.  Other output shows.
define link_static
	$(LINK) -o $@ $(filter-out %/nogss.o,$^) $(O)/client/nogss.o \
	    $(STATIC_LINK) 2>$@.ld || { cat $@.ld >&2; rm -f $@.ld; exit 1; }
	@grep -v -e 'statically linked applications' -e ': in function' \
	    $@.ld >&2 || true; rm -f $@.ld
endef
ifeq ($(strip $(CLNT_STATIC)),1)
$(B)/bart_clnt: $(CLNT_OBJ) $(O)/client/nogss.o
	$(link_static)
else
$(B)/bart_clnt: $(CLNT_OBJ)
	$(LINK) -o $@ $^ $(CLNT_LIBS)
endif
$(B)/bart_clnt-static: $(CLNT_OBJ) $(O)/client/nogss.o
	$(link_static)

-include $(shell find $(O) -name '*.d' 2>/dev/null)

# ---- tests ---------------------------------------------------------------
UNIT_SRC := $(wildcard tests/unit/check_*.c)
$(B)/check_bart: tests/unit/check_main.c $(UNIT_SRC) $(SERVER_OBJ) \
		$(CLIENT_OBJ) $(COMMON_OBJ)
	$(CC) $(CFLAGS_OURS) $(CHECK_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ \
	    $(filter %.c,$^) $(filter %.o,$^) $(LDLIBS) $(EDIT_LIBS) $(CHECK_LIBS)

# Test tools: calls bart_clnt never makes.
$(B)/bart_poke: $(O)/tests/tools/poke.o $(COMMON_OBJ)
	$(LINK) -o $@ $^ $(LDLIBS)
testtools: $(B)/bart_poke

unit: $(B)/check_bart
	$(B)/check_bart

# The sanitizer build is a second tree under build/asan.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -O1 -g
asan:
	$(MAKE) --no-print-directory B=build/asan OPT="$(ASAN_FLAGS)" \
	    EXTRA_LDFLAGS="-fsanitize=address,undefined" \
	    build/asan/bart_svc build/asan/bart_clnt build/asan/check_bart \
	    build/asan/bart_poke build/asan/bart_raw build/asan/bart_fault.so

integration: all testtools
	tests/integration/run.sh $(B)

# make check builds with -Werror (both trees): warnings stop it here,
# not in a user's build.
check: deps
	$(MAKE) --no-print-directory WERROR=-Werror all testtools \
	    $(B)/check_bart asan
	$(B)/check_bart
	UBSAN_OPTIONS=halt_on_error=1 build/asan/check_bart
	tests/integration/run.sh $(B)
	BART_ASAN=1 tests/integration/run.sh build/asan
	$(MAKE) --no-print-directory WERROR=-Werror tsan-check

# ---- running -------------------------------------------------------------
# As root, bart_svc would drop to the bart user when it exists, and
# that user may not reach a checkout under a 0700 home: make run runs it
# as the invoking user instead (SUDO_USER under sudo, else root).  A -u
# in ARGS still wins.
RUN_STATE := $(CURDIR)/run-state
RUN_USER  ?= $(or $(SUDO_USER),root)
run: deps all
	@if [ "$$(id -u)" = 0 ] && ! rpcinfo -p localhost >/dev/null 2>&1; \
	then echo "starting rpcbind"; rpcbind -w || exit 1; fi
	@mkdir -p $(RUN_STATE)
	$(B)/bart_svc -f -S $(RUN_STATE) -p $(RUN_STATE)/bart_svc.pid \
	    -s $(RUN_STATE)/bart_svc.sock \
	    $$([ "$$(id -u)" = 0 ] && echo "-u $(RUN_USER)") $(ARGS)

# The last line: what building and testing the Debian package needs
# (make deb, make deb-check).
DEB_PKGS := build-essential pkg-config rpcbind libtirpc-dev libsqlite3-dev sqlite3 \
	    postgresql-15 libpq-dev \
	    check libedit-dev iproute2 util-linux nftables procps mandoc systemd \
	    tmux rpcsvc-proto valgrind jq python3 \
	    debhelper dpkg-dev fakeroot lintian devscripts adduser man-db
deps:
	@tools/deps.sh $(DEB_PKGS)

clean:
	rm -rf build run-state

# Feature makefiles (install, bench, fuzz, ...) add their targets here.
-include mk/*.mk
