# SPDX-License-Identifier: ISC
# deb.mk: the Debian package (debian/, README "Install from the Debian
# package").
#   make deb          build it from a clean clone of HEAD, as a non-root
#                     user (dpkg-buildpackage -us -uc -b): $(B)/deb/
#   make deb-check    make deb, then lintian (no error, no warning),
#                     hardening-check on both programs and libbart, and
#                     tests/deb/install.sh: install, use, remove, purge in
#                     a throwaway root, and tests/deb/make-install.sh:
#                     make install/uninstall on the live system, in
#                     overlays (both need root; the host is untouched)
# Only committed work is packaged.

DEB_OUT  := $(B)/deb
DEB_FILE  = $(DEB_OUT)/bart_$(VERSION)_$(shell dpkg --print-architecture 2>/dev/null).deb

.PHONY: deb deb-check deb-builddeps
deb: deb-builddeps
	@tools/deps.sh debhelper dpkg-dev fakeroot
	tests/deb/build.sh $(DEB_OUT)

# Every library the Makefile asks pkg-config for must be a Build-Depends
# of debian/control (a new one added to PKGS would break a clean build).
deb-builddeps:
	@for pc in $(PKGS) libedit check; do \
	    f=$$(pkg-config --variable=pcfiledir $$pc 2>/dev/null)/$$pc.pc; \
	    p=$$(dpkg -S "$$f" 2>/dev/null | cut -d: -f1); \
	    [ -n "$$p" ] || { echo "deb: no package has $$pc.pc"; exit 1; }; \
	    grep -qE "^(Build-Depends:)? +$$p( |,|$$)" debian/control || \
		{ echo "deb: debian/control lacks Build-Depends $$p ($$pc)"; exit 1; }; \
	done; echo "deb: Build-Depends cover $(PKGS) libedit check"

# hardening-check --nocfprotection: bookworm's glibc start files carry no
# IBT/SHSTK property, so no bookworm binary shows control flow
# protection (rpcbind from the archive neither); bart's objects are
# built with -fcf-protection all the same (debian/rules).
deb-check: deb $(PROGS)
	@tools/deps.sh lintian devscripts adduser rpcbind
	lintian --fail-on error,warning --info $(DEB_OUT)/bart_$(VERSION)_*.changes
	@echo "lintian: no errors, no warnings"
	rm -rf $(DEB_OUT)/root && mkdir -p $(DEB_OUT)/root
	for d in $(DEB_OUT)/*.deb; do case $$d in *-dbgsym_*) ;; \
	    *) dpkg-deb -x $$d $(DEB_OUT)/root ;; esac; done
	hardening-check --nocfprotection $(DEB_OUT)/root/usr/sbin/bart_svc \
	    $(DEB_OUT)/root/usr/bin/bart_clnt \
	    $$(ls $(DEB_OUT)/root/usr/lib/*/libbart.so.0.* 2>/dev/null)
	tests/deb/install.sh $(DEB_FILE) $(B)
	tests/deb/make-install.sh $(B)
