# SPDX-License-Identifier: ISC
# lib.mk: libbart, the C client library (lib/), and its examples.
#
#   $(B)/libbart.so.0.1  soname libbart.so.0, only bart_* exported
#                        (lib/libbart.map; everything else is built
#                        with -fvisibility=hidden)
#   $(B)/libbart.a       the same objects, internals made local
#   $(B)/bart.pc         pkg-config file
#   make lib-examples    installs into $(B)/destdir (DESTDIR) and builds
#                        examples/ from there with nothing but
#                        `pkg-config --cflags --libs bart`
#
# Installed (make install): $(INCLUDEDIR)/bart.h,
# $(INCLUDEDIR)/rpcsvc/bart.x and its rpcgen header rpcsvc/bart.h,
# $(LIBDIR)/libbart.so.0.1 + libbart.so.0 + libbart.so, $(LIBDIR)/libbart.a,
# $(PKGCONFIGDIR)/bart.pc, $(MANDIR)/man3/libbart.3.
# (Debian: libbart0 = libbart.so.0*; libbart-dev = the rest.)

LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
LIB_SOVER    := 0
LIB_SO       := libbart.so.$(LIB_SOVER)
LIB_REAL     := $(LIB_SO).1

PIC := $(O)/pic
LIB_PIC_OBJ := $(patsubst %.c,$(PIC)/%.o,$(LIB_SRC) common/util.c) \
	       $(PIC)/gen/bart_xdr.o
LIB_PIC_FLAGS := -fPIC -fvisibility=hidden
TIRPC_LIBS := $(shell pkg-config --libs libtirpc 2>/dev/null)

$(PIC)/%.o: %.c $(GEN_H) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OURS) $(LIB_PIC_FLAGS) -MMD -MP -c -o $@ $<
$(PIC)/gen/%.o: $(B)/%.c $(GEN_H) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_GEN) $(LIB_PIC_FLAGS) -c -o $@ $<

$(B)/$(LIB_REAL): $(LIB_PIC_OBJ) lib/libbart.map
	$(LINK) -shared -Wl,-soname,$(LIB_SO) \
	    -Wl,--version-script=lib/libbart.map -Wl,-z,defs \
	    -o $@ $(LIB_PIC_OBJ) $(TIRPC_LIBS) $(EXTRA_LDFLAGS)
	ln -sf $(LIB_REAL) $(B)/$(LIB_SO)
	ln -sf $(LIB_SO) $(B)/libbart.so

# One relocatable object, hidden symbols made local: a static link sees
# only bart_* too (no util_*, no xdr_* clashing with the program's).
$(B)/libbart.a: $(LIB_PIC_OBJ)
	$(LD) -r -o $(PIC)/libbart.o $(LIB_PIC_OBJ)
	objcopy --localize-hidden $(PIC)/libbart.o
	rm -f $@ && $(AR) rcs $@ $(PIC)/libbart.o

# Paths under PREFIX are written relative to ${prefix}.
PC_REL = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
$(B)/bart.pc: lib/bart.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call PC_REL,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call PC_REL,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' lib/bart.pc.in >$@

LIB_FILES := $(B)/$(LIB_REAL) $(B)/libbart.a $(B)/bart.pc
.PHONY: lib install-lib uninstall-lib lib-examples
lib: $(LIB_FILES)
all: lib

D_LIB = $(DESTDIR)$(LIBDIR)
D_INC = $(DESTDIR)$(INCLUDEDIR)
D_PC  = $(DESTDIR)$(PKGCONFIGDIR)
install: install-lib
install-lib: $(LIB_FILES) $(GEN_H)
	$(INSTALL) -d $(D_LIB) $(D_INC)/rpcsvc $(D_PC) $(DESTDIR)$(MANDIR)/man3
	$(INSTALL) -m 644 lib/bart.h $(D_INC)/bart.h
	$(INSTALL) -m 644 bart.x $(D_INC)/rpcsvc/bart.x
	$(INSTALL) -m 644 $(GEN_H) $(D_INC)/rpcsvc/bart.h
	$(INSTALL) -m 755 $(B)/$(LIB_REAL) $(D_LIB)/$(LIB_REAL)
	ln -sf $(LIB_REAL) $(D_LIB)/$(LIB_SO)
	ln -sf $(LIB_SO) $(D_LIB)/libbart.so
	$(INSTALL) -m 644 $(B)/libbart.a $(D_LIB)/libbart.a
	$(INSTALL) -m 644 $(B)/bart.pc $(D_PC)/bart.pc
	$(INSTALL) -m 644 man/libbart.3 $(DESTDIR)$(MANDIR)/man3/libbart.3

# The files, then each directory install-lib made once it is empty,
# walking up, as install.mk's uninstall does (same KEEP_DIRS).
uninstall: uninstall-lib
uninstall-lib:
	rm -f $(D_INC)/bart.h $(D_INC)/rpcsvc/bart.x $(D_INC)/rpcsvc/bart.h \
	    $(D_LIB)/$(LIB_REAL) $(D_LIB)/$(LIB_SO) $(D_LIB)/libbart.so \
	    $(D_LIB)/libbart.a $(D_PC)/bart.pc \
	    $(DESTDIR)$(MANDIR)/man3/libbart.3
	@keep=" $(if $(DESTDIR),$(abspath $(DESTDIR)),$(foreach d,$(KEEP_DIRS) \
	    /usr/include /usr/local/include,$(abspath $(d)))) "; \
	for d in $(foreach d,$(D_INC)/rpcsvc $(D_PC) $(DESTDIR)$(MANDIR)/man3,$(abspath $(d))); do \
	    while [ -n "$$d" ] && [ "$$d" != / ] && \
		case "$$keep" in *" $$d "*) false ;; *) true ;; esac && \
		rmdir "$$d" 2>/dev/null; do \
		echo "rmdir $$d"; d=$${d%/*}; \
	    done; \
	done

# The examples as a user builds them: from an installed copy (here a
# DESTDIR tree), with pkg-config alone.  t_lib.sh runs them.
LIB_DEST := $(abspath $(B))/destdir
EXAMPLES := $(B)/examples/bart_count $(B)/examples/bart_chat
$(B)/destdir/.stamp: $(LIB_FILES) $(GEN_H) lib/bart.h bart.x man/libbart.3
	rm -rf $(LIB_DEST)
	$(MAKE) --no-print-directory install-lib DESTDIR=$(LIB_DEST)
	touch $@
$(B)/examples/bart_%: examples/%.c $(B)/destdir/.stamp
	@mkdir -p $(dir $@)
	PKG_CONFIG_PATH=$(LIB_DEST)$(PKGCONFIGDIR) \
	    PKG_CONFIG_SYSROOT_DIR=$(LIB_DEST) \
	    sh -c '$(CC) -Wall -Wextra $(WERROR) -o $@ $< \
	    $$(pkg-config --cflags --libs bart)'
lib-examples: $(EXAMPLES)
testtools: $(if $(findstring sanitize,$(EXTRA_LDFLAGS)),,lib-examples)

# libFuzzer target for the callback transport (make fuzz runs it too).
FUZZ_TARGETS += fuzz_cbsvc
fuzz-bins: $(FUZZ_B)/fuzz_cbsvc
$(FUZZ_B)/fuzz_cbsvc: fuzz/fuzz_cbsvc.c $(FUZZ_B)/obj/lib/cbsvc.o \
		$(FUZZ_B)/obj/common/util.o $(FUZZ_GEN_OBJ)
	$(CC) $(CFLAGS_OURS) -o $@ $^ $(FUZZ_LINK) \
	    $(shell pkg-config --libs libtirpc 2>/dev/null)
