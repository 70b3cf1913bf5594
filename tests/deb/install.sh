#!/bin/bash
# SPDX-License-Identifier: ISC
# install.sh DEB [BUILD_DIR]: install the package for real and use it, without
# touching this machine.  Runs itself again inside its own mount, net
# and pid namespaces (unshare), where /etc, /var and /usr are overlays
# (writes go to a tmpfs, the host's files stay as they are), /run and
# /tmp are private tmpfs, only loopback exists, and rpcbind is our own.
# Then: dpkg -i (the postinst creates the user and starts the service),
# /etc/init.d/bart stop/start as root, bart_svc runs as bart with its
# store in /var/lib/bart, bart_clnt answers; dpkg -r stops it and keeps
# the state and the user; dpkg -P removes both.  Every process dies with
# the pid namespace.  With BUILD_DIR, also "make run" as root while the
# bart user exists.  Output: TAP-like "ok"/"not ok" lines.
set -u
if [ "${1:-}" != --inside ]; then
	deb=$(cd "$(dirname "${1:?usage: install.sh DEB [BUILD_DIR]}")" && pwd)/$(basename "$1")
	bin=${2:+$(cd "$2" && pwd)}
	[ "$(id -u)" = 0 ] || { echo "install.sh needs root (namespaces)" >&2; exit 1; }
	# The host before and after: nothing of ours may show up.
	host() { md5sum /etc/passwd /etc/group /var/lib/dpkg/status; ls -d /usr/sbin/bart_svc /var/lib/bart /run/bart 2>&1; }
	before=$(host)
	timeout -k 5 240 unshare --mount --net --pid --fork --mount-proc \
	    "$0" --inside "$deb" $bin
	rc=$?
	if [ "$before" = "$(host)" ]
	then echo "ok - deb: the host's passwd, group, dpkg status, /usr, /var/lib, /run untouched"
	else echo "not ok - deb: the host's passwd, group, dpkg status, /usr, /var/lib, /run untouched"; rc=1
	fi
	exit $rc
fi
deb=$2 bin=${3:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
NPASS=0 NFAIL=0
ok() { NPASS=$((NPASS + 1)); echo "ok - deb: $*"; }
not_ok() { NFAIL=$((NFAIL + 1)); echo "not ok - deb: $*"; }
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"; echo "#   expected: '$2'"; echo "#   actual:   '$3'"; fi
}
wait_for() {
	local i
	for i in $(seq $(($1 * 20))); do
		shift 0; "${@:2}" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
show() { sed 's/^/#   /' "$@"; }

# --- the throwaway root ------------------------------------------------
mount --make-rprivate / || exit 1
mount -t tmpfs tmpfs /run || exit 1
mkdir -p /run/deb-root
for d in etc var usr; do
	mkdir -p /run/deb-root/upper/$d /run/deb-root/work/$d
	mount -t overlay overlay -o lowerdir=/$d,upperdir=/run/deb-root/upper/$d,workdir=/run/deb-root/work/$d /$d ||
	    { echo "not ok - deb: overlay on /$d"; exit 1; }
done
mount -t tmpfs tmpfs /tmp
# /var/run is /run on Debian; a private /run/lock too.
mkdir -p /run/lock /run/rpcbind
# A sysvinit machine at runlevel 2: invoke-rc.d asks runlevel(8), which
# has no utmp here.  Only this root sees the stand-in (runlevel is a
# symlink to systemctl: replaced, not written through).
rm -f /usr/sbin/runlevel
printf '#!/bin/sh\necho "N 2"\n' >/usr/sbin/runlevel
# A container image may forbid starting services (policy-rc.d exit 101);
# a real machine has none.  Gone from this root only.
rm -f /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/runlevel
ip link set lo up
rpcbind -w -f &
wait_for 5 rpcinfo -p localhost || { echo "not ok - deb: rpcbind did not start"; exit 1; }
getent passwd bart >/dev/null && { echo "not ok - deb: a bart user exists before the install"; exit 1; }

# --- dpkg -i -----------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
if dpkg -i "$deb" >/tmp/dpkg-i.log 2>&1; then ok "dpkg -i"
else not_ok "dpkg -i"; show /tmp/dpkg-i.log; fi
expect_eq "package installed" "install ok installed" \
    "$(dpkg-query -W -f='${Status}' bart 2>&1)"
if getent passwd bart >/dev/null; then ok "postinst created the system user bart"
else not_ok "postinst created the system user bart"; fi
BART_UID=$(id -u bart 2>/dev/null)
expect_eq "bart: a system user, home /var/lib/bart, no login shell" \
    "yes:/var/lib/bart:/usr/sbin/nologin" \
    "$([ "${BART_UID:-1000}" -lt 1000 ] && echo yes):$(getent passwd bart | cut -d: -f6,7)"
expect_eq "/etc/default/bart and the init script are conffiles" \
    "/etc/default/bart /etc/init.d/bart" \
    "$(dpkg-query -W -f='${Conffiles}' bart | awk '{print $1}' | sort | xargs)"
if ls /etc/rc2.d/S*bart >/dev/null 2>&1; then ok "update-rc.d: enabled in runlevel 2"
else not_ok "update-rc.d: enabled in runlevel 2"; fi
if [ -L /etc/systemd/system/multi-user.target.wants/bart.service ]; then
	ok "deb-systemd-helper: bart.service enabled"
else not_ok "deb-systemd-helper: bart.service enabled"; show /tmp/dpkg-i.log; fi
for f in /etc/rpc /etc/insserv.conf.d/bart; do
	if dpkg -S "$f" 2>/dev/null | grep -q '^bart:'; then not_ok "ships no $f"
	else ok "ships no $f"; fi
done
if grep -q bart /etc/rpc 2>/dev/null; then not_ok "/etc/rpc untouched"
else ok "/etc/rpc untouched"; fi

svc_pid() { cat /run/bart/bart_svc.pid 2>/dev/null; }
running_as() {
	local p
	p=$(svc_pid)
	[ -n "$p" ] && awk '/^Uid:/ {print $2}' "/proc/$p/status" 2>/dev/null
}
check_running() {	# LABEL
	local p
	p=$(svc_pid)
	if [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = bart_svc ]; then
		ok "$1: bart_svc runs (pid $p)"
	else not_ok "$1: bart_svc runs"; fi
	expect_eq "$1: as user bart (uid $BART_UID)" "$BART_UID" "$(running_as)"
	expect_eq "$1: store in /var/lib/bart, owned by bart, dir 0700" \
	    "bart 700 bart" \
	    "$(stat -c %U /var/lib/bart/bart.db 2>&1) $(stat -c '%a %U' /var/lib/bart 2>&1)"
}
check_running "postinst started the service"
out=$(bart_clnt localhost count 1 2>&1)
expect_eq "bart_clnt localhost count 1" "I was called 1 times." "$out"
out=$(bart_clnt -T tcp localhost count 1 2>&1)
expect_eq "bart_clnt -T tcp localhost count 1" "I was called 2 times." "$out"
owner=$(rpcinfo localhost | awk '$1 == 536918567 {print $NF}' | sort -u | xargs)
expect_eq "registered with rpcbind as bart (uid $BART_UID)" "$BART_UID" "$owner"

# --- libbart0 and libbart-dev: a program built as a user builds it -------
libs=$(ls "$(dirname "$deb")"/libbart0_*.deb "$(dirname "$deb")"/libbart-dev_*.deb 2>/dev/null)
extra=0
if [ -n "$libs" ]; then
	extra=5
	# shellcheck disable=SC2086	# two file names
	if dpkg -i $libs >/tmp/dpkg-lib.log 2>&1; then ok "dpkg -i libbart0 libbart-dev"
	else not_ok "dpkg -i libbart0 libbart-dev"; show /tmp/dpkg-lib.log; fi
	if cc -o /tmp/count "$src/examples/count.c" $(pkg-config --cflags --libs bart) \
	    >/tmp/cc.log 2>&1; then ok "examples/count.c builds with pkg-config bart"
	else not_ok "examples/count.c builds with pkg-config bart"; show /tmp/cc.log; fi
	expect_eq "it links the packaged libbart.so.0" "yes" \
	    "$(ldd /tmp/count 2>/dev/null | grep -qE "libbart.so.0 => /(usr/)?lib/.*libbart.so.0" && echo yes)"
	out=$(/tmp/count localhost 5 2>&1)
	case $out in "total 7 via "*) ok "it counts through the packaged daemon ($out)" ;;
	*) not_ok "it counts through the packaged daemon"; echo "#   $out" ;; esac
	if dpkg -P libbart-dev libbart0 >/tmp/dpkg-libp.log 2>&1 &&
	    [ ! -e /usr/include/bart.h ]; then ok "dpkg -P libbart-dev libbart0"
	else not_ok "dpkg -P libbart-dev libbart0"; show /tmp/dpkg-libp.log; fi
fi

# --- the init script as root --------------------------------------------
P1=$(svc_pid)
if /etc/init.d/bart stop >/tmp/stop.log 2>&1; then ok "/etc/init.d/bart stop"
else not_ok "/etc/init.d/bart stop"; show /tmp/stop.log; fi
wait_for 10 sh -c "! kill -0 $P1"
if kill -0 "$P1" 2>/dev/null; then not_ok "stop: the daemon ended"; else ok "stop: the daemon ended"; fi
expect_eq "stop: /run/bart left empty (no root-owned socket)" "" "$(ls -A /run/bart 2>&1)"
if /etc/init.d/bart start >/tmp/start.log 2>&1; then ok "/etc/init.d/bart start"
else not_ok "/etc/init.d/bart start"; show /tmp/start.log; fi
check_running "init script start"
out=$(bart_clnt localhost count 1 2>&1)
expect_eq "after the restart: the counter kept" "I was called $((3 + extra)) times." "$out"
if /etc/init.d/bart reload >/tmp/reload.log 2>&1 && [ "$(svc_pid)" != "" ]; then
	ok "/etc/init.d/bart reload"
else not_ok "/etc/init.d/bart reload"; show /tmp/reload.log; fi
expect_run_status() { /etc/init.d/bart status >/dev/null 2>&1; echo $?; }
expect_eq "/etc/init.d/bart status: running" 0 "$(expect_run_status)"

# --- dpkg -r: stopped, state and user kept --------------------------------
P2=$(svc_pid)
if dpkg -r bart >/tmp/dpkg-r.log 2>&1; then ok "dpkg -r"
else not_ok "dpkg -r"; show /tmp/dpkg-r.log; fi
wait_for 10 sh -c "! kill -0 $P2"
if kill -0 "$P2" 2>/dev/null; then not_ok "dpkg -r stopped the daemon"
else ok "dpkg -r stopped the daemon"; fi
expect_eq "dpkg -r: state kept" "yes" "$([ -s /var/lib/bart/bart.db ] && echo yes)"
if getent passwd bart >/dev/null; then ok "dpkg -r: user bart kept"
else not_ok "dpkg -r: user bart kept"; fi
expect_eq "dpkg -r: programs gone, conffiles kept" "no no yes" \
    "$([ -e /usr/sbin/bart_svc ] && echo yes || echo no) $([ -e /usr/bin/bart_clnt ] && echo yes || echo no) $([ -e /etc/default/bart ] && echo yes || echo no)"
expect_eq "dpkg -r: status config-files" "deinstall ok config-files" \
    "$(dpkg-query -W -f='${Status}' bart 2>&1)"

# make run as root with the bart user present and the checkout under a
# 0700 directory: the daemon runs as the invoking user (root), not as
# bart, who could not reach the state directory.  bart -u bart says why.
if [ -n "$bin" ]; then
	mkdir -p /tmp/closed; chmod 700 /tmp/closed
	rs=/tmp/closed/checkout/run-state
	mkrun() { make --no-print-directory -C "$src" -o "$bin/bart_svc" -o "$bin/bart_clnt" \
	    B="$bin" RUN_STATE=$rs "$@" run; }
	mkrun >/tmp/run.log 2>&1 &
	mr=$!
	if wait_for 10 rpcinfo -t localhost 536918567 1; then ok "make run as root: serves"
	else not_ok "make run as root: serves"; show /tmp/run.log; fi
	rp=$(cat $rs/bart_svc.pid 2>/dev/null)
	expect_eq "make run as root: runs as root, not bart" 0 \
	    "$(awk '/^Uid:/ {print $2}' "/proc/${rp:-0}/status" 2>/dev/null)"
	out=$("$bin/bart_clnt" -T tcp localhost count 1 2>&1)
	expect_eq "make run: count works" "I was called 1 times." "$out"
	[ -n "$rp" ] && kill -TERM "$rp"; wait "$mr" 2>/dev/null
	mkrun ARGS="-u bart" >/tmp/run2.log 2>&1
	if grep -q "user bart cannot pass through /tmp/closed (mode 0700" /tmp/run2.log
	then ok "make run ARGS=-u bart: names the directory that stops bart"
	else not_ok "make run ARGS=-u bart: names the directory that stops bart"; show /tmp/run2.log; fi
fi

# A reinstall finds its data.
dpkg -i "$deb" >/tmp/dpkg-i2.log 2>&1 || { not_ok "dpkg -i again"; show /tmp/dpkg-i2.log; }
out=$(bart_clnt localhost count 0 2>&1)
expect_eq "reinstalled: the counter kept" "I was called $((3 + extra)) times." "$out"

# --- dpkg -P: state and user gone -------------------------------------
P3=$(svc_pid)
if dpkg -P bart >/tmp/dpkg-p.log 2>&1; then ok "dpkg -P"
else not_ok "dpkg -P"; show /tmp/dpkg-p.log; fi
wait_for 10 sh -c "! kill -0 ${P3:-0}"
if [ -n "$P3" ] && kill -0 "$P3" 2>/dev/null; then not_ok "dpkg -P: daemon stopped"
else ok "dpkg -P: daemon stopped"; fi
if [ -e /var/lib/bart ]; then not_ok "dpkg -P: /var/lib/bart removed"
else ok "dpkg -P: /var/lib/bart removed"; fi
if getent passwd bart >/dev/null || getent group bart >/dev/null; then
	not_ok "dpkg -P: user and group bart removed"
else ok "dpkg -P: user and group bart removed"; fi
if [ -e /etc/default/bart ] || [ -e /etc/init.d/bart ] || ls /etc/rc?.d/*bart >/dev/null 2>&1 ||
    [ -e /etc/systemd/system/multi-user.target.wants/bart.service ]; then
	not_ok "dpkg -P: conffiles and links removed"
else ok "dpkg -P: conffiles and links removed"; fi
expect_eq "dpkg -P: package unknown" "" \
    "$(dpkg-query -W -f='${Status}' bart 2>/dev/null)"
echo "deb: $NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
