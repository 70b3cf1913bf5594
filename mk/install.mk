# SPDX-License-Identifier: ISC
# install.mk: make install / uninstall (GNU conventions, DESTDIR aware).
#
# install depends on the programs, so a plain "make install" builds what
# is missing or stale; to install prebuilt binaries untouched use
# "make -o $(B)/bart_svc -o $(B)/bart_clnt B=DIR install".
# The unit and the init script get SBINDIR and SYSCONFDIR substituted.
# The defaults file is never overwritten, and uninstall removes it only
# if it is still the shipped one.  /etc/rpc belongs to netbase: it gets
# one marked line only on request (make install RPC_ENTRY=1), and the
# Debian package never touches it.

# The unit goes where the prefix says: /lib/systemd/system is dpkg's
# and is used only for PREFIX=/usr; systemd also reads
# /usr/local/lib/systemd/system.
UNITDIR      ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
RPC_ENTRY    ?= 0
INSTALL      ?= install
RPC_LINE     := bart		536918567	\# added by bart make install
INSTALL_SED  := -e 's|/usr/local/sbin/bart_svc|$(SBINDIR)/bart_svc|g' \
		-e 's|/etc/default/bart|$(SYSCONFDIR)/default/bart|g'
D_SBIN   = $(DESTDIR)$(SBINDIR)
D_BIN    = $(DESTDIR)$(BINDIR)
D_MAN    = $(DESTDIR)$(MANDIR)
D_UNIT   = $(DESTDIR)$(UNITDIR)
D_ETC    = $(DESTDIR)$(SYSCONFDIR)
INSTALL_DIRS = $(D_SBIN) $(D_BIN) $(D_MAN)/man1 $(D_MAN)/man8 $(D_UNIT) \
	       $(D_ETC)/init.d $(D_ETC)/default
# Directories every system has: uninstall never removes them, even when
# empty (Debian's base-files makes /usr/local/sbin and leaves it empty).
KEEP_DIRS = / /usr /usr/local /lib /etc $(PREFIX) $(PREFIX)/bin \
	    $(PREFIX)/sbin $(PREFIX)/lib $(PREFIX)/share $(PREFIX)/share/man \
	    $(SYSCONFDIR) $(SYSCONFDIR)/init.d $(SYSCONFDIR)/default

# The man index (whatis, apropos, man -k): only on the live system, and
# only when man-db is there (MANDB=true skips it).  mandb is told the
# hierarchy: a bare "mandb -q" skips one whose cache directory does not
# exist yet (/var/cache/man/local on a fresh Debian), and it is also
# cheaper than indexing every manpath.
MANDB ?= mandb
define mandb_update
	@if [ -z "$(DESTDIR)" ] && command -v $(MANDB) >/dev/null 2>&1; then \
	    echo "$(MANDB) -q $(MANDIR)"; $(MANDB) -q $(MANDIR) || true; fi
endef

.PHONY: install uninstall
install: $(PROGS)
	$(INSTALL) -d $(INSTALL_DIRS)
	$(INSTALL) -m 755 $(B)/bart_svc $(D_SBIN)/bart_svc
	$(INSTALL) -m 755 $(B)/bart_clnt $(D_BIN)/bart_clnt
	$(INSTALL) -m 644 man/bart_svc.8 $(D_MAN)/man8/bart_svc.8
	$(INSTALL) -m 644 man/bart_clnt.1 $(D_MAN)/man1/bart_clnt.1
	sed $(INSTALL_SED) init/bart.service >$(D_UNIT)/bart.service.tmp
	chmod 644 $(D_UNIT)/bart.service.tmp
	mv -f $(D_UNIT)/bart.service.tmp $(D_UNIT)/bart.service
	sed $(INSTALL_SED) init/bart >$(D_ETC)/init.d/bart.tmp
	chmod 755 $(D_ETC)/init.d/bart.tmp
	mv -f $(D_ETC)/init.d/bart.tmp $(D_ETC)/init.d/bart
	@if [ -e $(D_ETC)/default/bart ]; then \
	    echo "keeping existing $(D_ETC)/default/bart"; \
	else \
	    echo "$(INSTALL) -m 644 init/bart.default $(D_ETC)/default/bart"; \
	    $(INSTALL) -m 644 init/bart.default $(D_ETC)/default/bart; \
	fi
ifeq ($(strip $(RPC_ENTRY)),1)
	@if awk '$$1 == "bart" || $$2 == "536918567" { f = 1 } \
	    END { exit !f }' $(D_ETC)/rpc 2>/dev/null; then \
	    echo "$(D_ETC)/rpc already names program 536918567"; \
	else \
	    echo "adding bart 536918567 to $(D_ETC)/rpc"; \
	    printf '%s\n' '$(RPC_LINE)' >>$(D_ETC)/rpc; \
	fi
endif
	$(mandb_update)

# Removes what install made: the files, the marked /etc/rpc line (with
# or without RPC_ENTRY), an /etc/insserv.conf.d/bart left by an older
# make install, and then each directory install made or used once it is
# empty, walking up, but never one of KEEP_DIRS (with a DESTDIR, only
# DESTDIR itself is kept: the staged tree was made by install).
uninstall:
	rm -f $(D_SBIN)/bart_svc $(D_BIN)/bart_clnt \
	    $(D_MAN)/man8/bart_svc.8 $(D_MAN)/man1/bart_clnt.1 \
	    $(D_UNIT)/bart.service $(D_ETC)/init.d/bart \
	    $(D_ETC)/insserv.conf.d/bart
	@if [ -e $(D_ETC)/default/bart ]; then \
	    if cmp -s init/bart.default $(D_ETC)/default/bart; then \
		echo "rm -f $(D_ETC)/default/bart"; \
		rm -f $(D_ETC)/default/bart; \
	    else \
		echo "keeping changed $(D_ETC)/default/bart"; \
	    fi; \
	fi
	@if [ -f $(D_ETC)/rpc ] && grep -qxF '$(RPC_LINE)' $(D_ETC)/rpc; then \
	    echo "removing bart from $(D_ETC)/rpc"; \
	    grep -vxF '$(RPC_LINE)' $(D_ETC)/rpc >$(D_ETC)/rpc.tmp; \
	    if [ -s $(D_ETC)/rpc.tmp ]; then \
		cat $(D_ETC)/rpc.tmp >$(D_ETC)/rpc; \
	    else \
		rm -f $(D_ETC)/rpc; \
	    fi; \
	    rm -f $(D_ETC)/rpc.tmp; \
	fi
	@keep=" $(if $(DESTDIR),$(abspath $(DESTDIR)),$(foreach d,$(KEEP_DIRS),$(abspath $(d)))) "; \
	for d in $(foreach d,$(INSTALL_DIRS) $(D_ETC)/insserv.conf.d,$(abspath $(d))); do \
	    while [ -n "$$d" ] && [ "$$d" != / ] && \
		case "$$keep" in *" $$d "*) false ;; *) true ;; esac && \
		rmdir "$$d" 2>/dev/null; do \
		echo "rmdir $$d"; d=$${d%/*}; \
	    done; \
	done
	$(mandb_update)
