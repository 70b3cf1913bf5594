#!/bin/bash
# SPDX-License-Identifier: ISC
# make-install.sh BUILD_DIR: "sudo make install" and "make uninstall" on
# the live system, without touching it: in its own mount and pid
# namespaces with overlays on /etc, /var and /usr (as install.sh).
# Checks the layout for PREFIX=/usr/local, the man index (whatis), and
# that uninstall leaves the directories every system has.
set -u
if [ "${1:-}" != --inside ]; then
	bin=$(cd "${1:?usage: make-install.sh BUILD_DIR}" && pwd)
	[ "$(id -u)" = 0 ] || { echo "make-install.sh needs root" >&2; exit 1; }
	exec timeout -k 5 120 unshare --mount --pid --fork --mount-proc \
	    "$0" --inside "$bin"
fi
bin=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
NPASS=0 NFAIL=0
ok() { NPASS=$((NPASS + 1)); echo "ok - make-install: $*"; }
not_ok() { NFAIL=$((NFAIL + 1)); echo "not ok - make-install: $*"; }
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"; echo "#   expected: '$2'"; echo "#   actual:   '$3'"; fi
}
mount --make-rprivate / || exit 1
mount -t tmpfs tmpfs /run || exit 1
mkdir -p /run/mi
for d in etc var usr; do
	mkdir -p /run/mi/upper/$d /run/mi/work/$d
	mount -t overlay overlay -o lowerdir=/$d,upperdir=/run/mi/upper/$d,workdir=/run/mi/work/$d /$d ||
	    { echo "not ok - make-install: overlay on /$d"; exit 1; }
done
mk() { make --no-print-directory -C "$root" -o "$bin/bart_svc" -o "$bin/bart_clnt" B="$bin" "$@"; }
std_before=$(ls -d /usr/local/bin /usr/local/sbin /usr/local/share/man /etc/init.d /etc/default 2>&1)
cp /etc/rpc /run/mi/rpc.before 2>/dev/null
mk install >/run/mi/install.log 2>&1 || { not_ok "make install"; sed 's/^/#   /' /run/mi/install.log; }
for f in /usr/local/sbin/bart_svc /usr/local/bin/bart_clnt \
    /usr/local/lib/systemd/system/bart.service /etc/init.d/bart /etc/default/bart \
    /usr/local/share/man/man8/bart_svc.8 /usr/local/share/man/man1/bart_clnt.1; do
	if [ -e "$f" ]; then ok "installed $f"; else not_ok "installed $f"; fi
done
if [ -e /lib/systemd/system/bart.service ]; then not_ok "nothing in dpkg's /lib/systemd/system"
else ok "nothing in dpkg's /lib/systemd/system"; fi
if cmp -s /etc/rpc /run/mi/rpc.before; then ok "/etc/rpc untouched without RPC_ENTRY"
else not_ok "/etc/rpc untouched without RPC_ENTRY"; fi
if grep -q '^ExecStart=/usr/local/sbin/bart_svc ' /usr/local/lib/systemd/system/bart.service
then ok "unit runs /usr/local/sbin/bart_svc"; else not_ok "unit runs /usr/local/sbin/bart_svc"; fi
if command -v mandb >/dev/null; then
	expect_eq "mandb ran: whatis finds both pages" 2 \
	    "$(whatis -M /usr/local/share/man bart_svc bart_clnt 2>/dev/null | grep -c ' - ')"
fi
mk uninstall >>/run/mi/install.log 2>&1 || { not_ok "make uninstall"; sed 's/^/#   /' /run/mi/install.log; }
left=$(ls -d /usr/local/sbin/bart_svc /usr/local/bin/bart_clnt /usr/local/lib/systemd \
    /usr/local/share/man/man1 /usr/local/share/man/man8 /etc/init.d/bart /etc/default/bart 2>/dev/null)
expect_eq "make uninstall: files and the directories it made gone" "" "$left"
expect_eq "make uninstall: standard directories kept" "$std_before" \
    "$(ls -d /usr/local/bin /usr/local/sbin /usr/local/share/man /etc/init.d /etc/default 2>&1)"
if command -v mandb >/dev/null; then
	expect_eq "mandb ran: whatis forgot them" 0 \
	    "$(whatis -M /usr/local/share/man bart_svc bart_clnt 2>/dev/null | grep -c ' - ')"
fi
echo "make-install: $NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
