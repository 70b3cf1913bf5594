# install.mk: make install / uninstall (GNU conventions, DESTDIR aware).
#
# install depends on the programs, so a plain "make install" builds what
# is missing or stale; to install prebuilt binaries untouched use
# "make -o $(B)/bart_svc -o $(B)/bart_clnt B=DIR install".
# The unit and the init script get SBINDIR and SYSCONFDIR substituted.
# The defaults file is never overwritten, and uninstall removes it only
# if it is still the shipped one.  /etc/rpc gets one marked line.

INSTALL      ?= install
RPC_LINE     := bart		536918567	\# added by bart make install
INSTALL_SED  := -e 's|/usr/local/sbin/bart_svc|$(SBINDIR)/bart_svc|g' \
		-e 's|/etc/default/bart|$(SYSCONFDIR)/default/bart|g'
D_SBIN   = $(DESTDIR)$(SBINDIR)
D_BIN    = $(DESTDIR)$(BINDIR)
D_MAN    = $(DESTDIR)$(MANDIR)
D_UNIT   = $(DESTDIR)$(UNITDIR)
D_ETC    = $(DESTDIR)$(SYSCONFDIR)

.PHONY: install uninstall
install: $(PROGS)
	$(INSTALL) -d $(D_SBIN) $(D_BIN) $(D_MAN)/man1 $(D_MAN)/man8 \
	    $(D_UNIT) $(D_ETC)/init.d $(D_ETC)/default $(D_ETC)/insserv.conf.d
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
	$(INSTALL) -m 644 init/bart.insserv $(D_ETC)/insserv.conf.d/bart
	@if [ -e $(D_ETC)/default/bart ]; then \
	    echo "keeping existing $(D_ETC)/default/bart"; \
	else \
	    echo "$(INSTALL) -m 644 init/bart.default $(D_ETC)/default/bart"; \
	    $(INSTALL) -m 644 init/bart.default $(D_ETC)/default/bart; \
	fi
	@if awk '$$1 == "bart" || $$2 == "536918567" { f = 1 } \
	    END { exit !f }' $(D_ETC)/rpc 2>/dev/null; then \
	    echo "$(D_ETC)/rpc already names program 536918567"; \
	else \
	    echo "adding bart 536918567 to $(D_ETC)/rpc"; \
	    printf '%s\n' '$(RPC_LINE)' >>$(D_ETC)/rpc; \
	fi

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
