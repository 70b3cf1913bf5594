#!/bin/bash
# SPDX-License-Identifier: ISC
# t_daemon.sh: bart_svc as a real daemon: detaching with a ready pipe,
# pidfile, start-up failures, signals, privilege drop, re-registration
# after an rpcbind restart, the sysvinit script, make install/uninstall,
# the systemd unit and the man pages.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SVC=$BIN/bart_svc
ns_setup
chmod 711 "$T"			# the -u nobody daemon must reach its dir

listed() { echo "$1" | awk -v p=$PROG '$1 == p' | grep -q .; }

# gone PID: wait up to 10 s for a process that is not our child to end.
gone() {
	local i
	for i in $(seq 200); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# track_pidfile FILE: track the daemon a detached start left behind.
track_pidfile() {
	local pid
	read -r pid <"$1" 2>/dev/null
	[ -n "$pid" ] && track "$pid"
	echo "$pid"
}

count_is() {
	expect_run "$1" 0 "^I was called $2 times\.$" "" clnt localhost count "$3"
}

# --- options ----------------------------------------------------------
expect_run "--help" 0 "usage: bart_svc" "" "$SVC" --help
expect_run "-h" 0 "--state-dir" "" "$SVC" -h
expect_run "--version" 0 "^bart_svc [0-9]" "" "$SVC" --version
expect_run "-V" 0 "^bart_svc [0-9]" "" "$SVC" -V
expect_run "unknown option" 64 "" "usage: bart_svc" "$SVC" --frobnicate
expect_run "bad --sync" 64 "" "normal or full" "$SVC" --sync sometimes
expect_run "bad --port" 64 "" "not a number" "$SVC" --port 70000
expect_run "stray argument" 64 "" "unexpected argument" "$SVC" -f extra
expect_run "no such user" 1 "" "no such user" "$SVC" -f -u no-such-user-x \
    -S "$T/nouser" -p "$T/nouser.pid" -s "$T/nouser.sock"

# --- detached start ---------------------------------------------------
# The parent returns only once the child is registered: look at once.
"$SVC" -S "$T/state" -p "$T/a.pid" -s "$T/a.sock" 2>"$T/a.err"
rc=$?
maps=$(rpcinfo -p localhost 2>&1)
netids_a=$(rpcinfo -s localhost | awk -v p=$PROG '$1 == p {print $3}')
A=$(track_pidfile "$T/a.pid")
expect_eq "detached start exits 0" 0 "$rc"
if listed "$maps"; then ok "registered when the parent returns"; else
	not_ok "registered when the parent returns"; echo "$maps" | sed 's/^/#   /'
	cat "$T/a.err"; fi
if [ -n "$A" ] && kill -0 "$A" 2>/dev/null; then ok "pidfile holds a live pid ($A)"
else not_ok "pidfile holds a live pid: '$A'"; fi
expect_eq "pidfile names bart_svc" bart_svc "$(cat "/proc/$A/comm" 2>/dev/null)"
expect_eq "new session" "$A" "$(ps -o sid= -p "$A" | tr -d ' ')"
expect_eq "cwd is /" / "$(readlink "/proc/$A/cwd")"
expect_eq "stdio on /dev/null" "/dev/null /dev/null /dev/null" \
    "$(readlink "/proc/$A/fd/0" "/proc/$A/fd/1" "/proc/$A/fd/2" | xargs)"
missing=""
for n in tcp udp tcp6 udp6 local; do
	case ",$netids_a," in *,$n,*) ;; *) missing="$missing $n" ;; esac
done
expect_eq "every transport registered ($netids_a)" "" "$missing"
count_is "count" 5 5

# --- a second instance ------------------------------------------------
expect_run "second detached start refused" 1 "" "already running \(pid $A" \
    "$SVC" -S "$T/state" -p "$T/a.pid" -s "$T/a.sock"
expect_run "second foreground start refused" 1 "" "already running" \
    "$SVC" -f -S "$T/state" -p "$T/a.pid" -s "$T/a.sock"
expect_run "same state dir, other pidfile: refused" 1 "" \
    "already running \(state directory .*/state is in use\)" \
    "$SVC" -f -S "$T/state" -p "$T/b2.pid" -s "$T/b2.sock"
expect_eq "pidfile untouched" "$A" "$(cat "$T/a.pid")"
count_is "first instance still serves (local socket intact)" 5 0

# --- start-up failures reach the parent's exit status ------------------
touch "$T/plainfile"
expect_run "unusable state dir: exit 1 with the reason" 1 "" \
    "state directory.*plainfile" \
    "$SVC" -S "$T/plainfile/state" -p "$T/f.pid" -s "$T/f.sock"
if [ -e "$T/f.pid" ]; then not_ok "failed start leaves no pidfile"
else ok "failed start leaves no pidfile"; fi
expect_run "pidfile in a missing dir" 1 "" "cannot open pidfile" \
    "$SVC" -S "$T/state-f" -p "$T/nodir/f.pid" -s "$T/f.sock"
if registered; then ok "failed starts left the registrations alone"
else not_ok "failed starts left the registrations alone"; fi

# --- SIGHUP -----------------------------------------------------------
kill -HUP "$A"
sleep 0.3
if kill -0 "$A" 2>/dev/null; then ok "SIGHUP: still running"; else not_ok "SIGHUP: still running"; fi
count_is "SIGHUP: still serving" 5 0

# --- rpcbind killed with -9 and restarted -------------------------------
count_is "count before the rpcbind restart" 5 0
rpcbind_restart -9
t0=$(date +%s%N)
if wait_for 6 registered; then
	ok "registered again after rpcbind kill -9 ($((($(date +%s%N) - t0) / 1000000)) ms)"
else
	not_ok "registered again within 5 s after rpcbind kill -9"
fi
wait_for 5 sh -c "[ \"\$(rpcinfo -s localhost | awk -v p=$PROG '\$1 == p {print \$3}')\" = '$netids_a' ]"
expect_eq "every transport registered again" "$netids_a" \
    "$(rpcinfo -s localhost | awk -v p=$PROG '$1 == p {print $3}')"
count_is "counter unchanged after the rpcbind restart" 5 0
count_is "count 1 works after the rpcbind restart" 6 1
expect_run "tcp works after the rpcbind restart" 0 "^I was called 6 times" "" \
    clnt -T tcp localhost count 0

# --- rpcbind absent: a start fails and says so -------------------------
kill -9 "$RPCBIND_PID"; wait "$RPCBIND_PID" 2>/dev/null
rm -f /run/rpcbind.sock /run/rpcbind/*
expect_run "no rpcbind: start fails with the reason" 1 "" "rpcbind" \
    timeout 60 "$SVC" -S "$T/state-b" -p "$T/b.pid" -s "$T/b.sock"
if [ -e "$T/b.pid" ]; then not_ok "no rpcbind: no pidfile left"
else ok "no rpcbind: no pidfile left"; fi
rpcbind -w -f &
RPCBIND_PID=$!
track $RPCBIND_PID
wait_for 5 rpcinfo -p localhost
if wait_for 6 registered; then ok "registered again after rpcbind came back"
else not_ok "registered again after rpcbind came back"; fi

# --- SIGTERM ----------------------------------------------------------
kill -TERM "$A"
if gone "$A"; then ok "SIGTERM: exits"; else not_ok "SIGTERM: exits"; fi
if registered; then not_ok "SIGTERM removes registrations"
else ok "SIGTERM removes registrations"; fi
if [ -e "$T/a.pid" ]; then not_ok "SIGTERM removes the pidfile"
else ok "SIGTERM removes the pidfile"; fi
if [ -e "$T/a.sock" ]; then not_ok "SIGTERM removes the socket"
else ok "SIGTERM removes the socket"; fi
"$SVC" -S "$T/state" -p "$T/a.pid" -s "$T/a.sock" 2>"$T/a.err" &&
    clnt localhost count 0 >"$T/race" 2>&1
A=$(track_pidfile "$T/a.pid")
expect_eq "bart_svc && bart_clnt: no race" "I was called 6 times." "$(cat "$T/race")"
kill -TERM "$A"
gone "$A"

# --- long options; run as nobody ---------------------------------------
NB_UID=$(id -u nobody)
"$SVC" --state-dir "$T/nb/state" --pidfile "$T/nb.pid" --socket "$T/nb.sock" \
    --user nobody --sync full --idle-timeout 60 --max-subs 10 \
    --max-subs-per-peer 2 2>"$T/nb.err"
rc=$?
maps=$(rpcinfo -p localhost 2>&1)
N=$(track_pidfile "$T/nb.pid")
expect_eq "-u nobody (long options): start exits 0" 0 "$rc"
if listed "$maps"; then ok "-u nobody: registered when the parent returns"
else not_ok "-u nobody: registered when the parent returns"; cat "$T/nb.err"; fi
expect_eq "-u nobody: Uid line" "$NB_UID $NB_UID $NB_UID $NB_UID" \
    "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$N/status" 2>/dev/null)"
nbgid=$(id -g nobody)
expect_eq "-u nobody: Gid line and groups" "$nbgid $nbgid $nbgid $nbgid;$nbgid" \
    "$(awk '/^Gid:/ {g = $2 " " $3 " " $4 " " $5} /^Groups:/ {s = $2}
        END {print g ";" s}' "/proc/$N/status" 2>/dev/null)"
expect_eq "state dir: mode 700, owned by nobody" "700 $NB_UID" \
    "$(stat -c '%a %u' "$T/nb/state" 2>/dev/null)"
expect_eq "store owned by nobody" "$NB_UID" "$(stat -c %u "$T/nb/state/bart.db" 2>/dev/null)"
owner=$(rpcinfo localhost | awk -v p=$PROG '$1 == p {print $NF}' | sort -u | xargs)
expect_eq "registered as the run user" "$NB_UID" "$owner"
expect_run "-u nobody: count works" 0 "^I was called 1 times\.$" "" clnt localhost count 1
rpcbind_restart -9
if wait_for 6 registered; then ok "-u nobody: registered again after rpcbind kill -9"
else not_ok "-u nobody: registered again after rpcbind kill -9"; fi
expect_run "-u nobody: counter kept" 0 "^I was called 1 times\.$" "" clnt localhost count 0
kill -TERM "$N"
if gone "$N"; then ok "-u nobody: SIGTERM exits"; else not_ok "-u nobody: SIGTERM exits"; fi
if registered; then not_ok "-u nobody: could unregister at exit"
	rpcinfo localhost | sed 's/^/#   /'
else ok "-u nobody: could unregister at exit"; fi
if [ -s "$T/nb.pid" ]; then not_ok "-u nobody: pidfile removed or emptied"
else ok "-u nobody: pidfile removed or emptied"; fi

# --- foreground -------------------------------------------------------
"$SVC" --foreground --verbose -S "$T/state" -p "$T/fg.pid" -s "$T/fg.sock" \
    2>"$T/fg.err" &
F=$!
track $F
if wait_for 10 registered; then ok "--foreground serves"; else not_ok "--foreground serves"; fi
expect_eq "--foreground: pidfile holds its own pid" "$F" "$(cat "$T/fg.pid" 2>/dev/null)"
if grep -q "registered on" "$T/fg.err"; then ok "--foreground logs to stderr"
else not_ok "--foreground logs to stderr"; sed 's/^/#   /' "$T/fg.err"; fi
kill -TERM "$F"; wait "$F"
expect_eq "--foreground: SIGTERM exit status" 0 "$?"

# --- make install / uninstall ------------------------------------------
DEST=$T/dest
mkdir -p "$DEST"
imake() {
	make --no-print-directory -C "$ROOT" -o "$BIN/bart_svc" \
	    -o "$BIN/bart_clnt" B="$BIN" "$@"
}
imake install DESTDIR="$DEST" >"$T/install.log" 2>&1
expect_eq "make install exits 0" 0 "$?"
want="etc/default/bart
etc/init.d/bart
usr/local/bin/bart_clnt
usr/local/include/bart.h
usr/local/include/rpcsvc/bart.h
usr/local/include/rpcsvc/bart.x
usr/local/lib/libbart.a
usr/local/lib/libbart.so.0.1
usr/local/lib/pkgconfig/bart.pc
usr/local/lib/systemd/system/bart.service
usr/local/sbin/bart_svc
usr/local/share/man/man1/bart_clnt.1
usr/local/share/man/man3/libbart.3
usr/local/share/man/man8/bart_svc.8"
expect_eq "make install: every file (no /etc/rpc, unit under the prefix)" \
    "$want" "$(cd "$DEST" && find . -type f | sed 's|^\./||' | sort)"
expect_eq "installed programs are executable" "755 755 755" \
    "$(stat -c %a "$DEST/usr/local/sbin/bart_svc" "$DEST/usr/local/bin/bart_clnt" \
    "$DEST/etc/init.d/bart" | xargs)"
if cmp -s "$BIN/bart_svc" "$DEST/usr/local/sbin/bart_svc"; then
	ok "the prebuilt bart_svc is installed"; else not_ok "the prebuilt bart_svc is installed"; fi
imake install DESTDIR="$DEST" RPC_ENTRY=1 >>"$T/install.log" 2>&1
expect_eq "RPC_ENTRY=1: the /etc/rpc line" "bart 536918567" \
    "$(awk '$1 == "bart" {print $1, $2}' "$DEST/etc/rpc")"
echo 'BART_OPTS="--sync full"  # mine' >>"$DEST/etc/default/bart"
imake install DESTDIR="$DEST" RPC_ENTRY=1 >>"$T/install.log" 2>&1
expect_eq "second install: one /etc/rpc line" 1 "$(grep -c '^bart' "$DEST/etc/rpc")"
if grep -q mine "$DEST/etc/default/bart"; then ok "install keeps an existing defaults file"
else not_ok "install keeps an existing defaults file"; fi
imake uninstall DESTDIR="$DEST" >>"$T/install.log" 2>&1
expect_eq "uninstall keeps a changed defaults file" "etc/default/bart" \
    "$(cd "$DEST" && find . -type f | sed 's|^\./||')"
cp "$ROOT/init/bart.default" "$DEST/etc/default/bart"
imake uninstall DESTDIR="$DEST" >>"$T/install.log" 2>&1
expect_eq "make uninstall leaves no file" "" "$(find "$DEST" -type f)"
expect_eq "make uninstall leaves no directory it made" "" \
    "$(find "$DEST" -mindepth 1)"

# Without DESTDIR: the directories every system has are kept, empty or
# not (PREFIX and SYSCONFDIR point into the test's directory).
mkdir -p "$T/live/pfx/bin" "$T/live/pfx/sbin" "$T/live/etc"
imake install PREFIX="$T/live/pfx" SYSCONFDIR="$T/live/etc" MANDB=true \
    >>"$T/install.log" 2>&1
expect_eq "PREFIX=/opt-like: unit under the prefix" \
    "$T/live/pfx/lib/systemd/system/bart.service" \
    "$(ls "$T/live/pfx/lib/systemd/system/bart.service" 2>&1)"
imake uninstall PREFIX="$T/live/pfx" SYSCONFDIR="$T/live/etc" MANDB=true \
    >>"$T/install.log" 2>&1
expect_eq "uninstall: made directories gone, standard ones kept" \
    "etc etc/default etc/init.d pfx pfx/bin pfx/lib pfx/sbin pfx/share pfx/share/man" \
    "$(cd "$T/live" && find . -mindepth 1 -type d ! -path './pfx/share/man/*' |
    sed 's|^\./||' | sort | xargs)"

# PREFIX=/usr, and an /etc/rpc that was there before.
DEST2=$T/dest2
mkdir -p "$DEST2/etc"
printf 'portmapper\t100000\tportmap sunrpc rpcbind\n' >"$DEST2/etc/rpc"
imake install DESTDIR="$DEST2" PREFIX=/usr >>"$T/install.log" 2>&1
expect_eq "PREFIX=/usr: unit runs /usr/sbin/bart_svc" \
    "ExecStart=/usr/sbin/bart_svc --pidfile /run/bart/bart_svc.pid \$BART_OPTS" \
    "$(grep '^ExecStart=' "$DEST2/lib/systemd/system/bart.service")"
if grep -q '^DAEMON=${BART_DAEMON:-/usr/sbin/bart_svc}$' "$DEST2/etc/init.d/bart"; then
	ok "PREFIX=/usr: init script runs /usr/sbin/bart_svc"
else not_ok "PREFIX=/usr: init script runs /usr/sbin/bart_svc"; grep DAEMON= "$DEST2/etc/init.d/bart"; fi
expect_eq "without RPC_ENTRY: /etc/rpc untouched" \
    "$(printf 'portmapper\t100000\tportmap sunrpc rpcbind')" "$(cat "$DEST2/etc/rpc")"
imake install DESTDIR="$DEST2" PREFIX=/usr RPC_ENTRY=1 >>"$T/install.log" 2>&1
imake uninstall DESTDIR="$DEST2" PREFIX=/usr >>"$T/install.log" 2>&1
expect_eq "uninstall: only our /etc/rpc line removed" \
    "$(printf 'portmapper\t100000\tportmap sunrpc rpcbind')" "$(cat "$DEST2/etc/rpc")"

# --- the sysvinit script, run against the DESTDIR installation ----------
imake install DESTDIR="$DEST" RPC_ENTRY=1 >>"$T/install.log" 2>&1
mkdir -p "$T/empty"
cat >"$T/default.bart" <<EOF
BART_OPTS="-S $T/init/state -s $T/init.sock -u root"
EOF
initd() {
	BART_DAEMON=$DEST/usr/local/sbin/bart_svc BART_PIDFILE=$T/init.pid \
	    BART_DEFAULTS=$T/default.bart "$DEST/etc/init.d/bart" "$@"
}
expect_run "init: start" 0 "" "" initd start
I=$(track_pidfile "$T/init.pid")
if registered; then ok "init: registered when start returns"; else not_ok "init: registered when start returns"; fi
count_is "init: count" 3 3
expect_run "init: status 0 when running" 0 "is running" "" initd status
expect_run "init: start again is a no-op" 0 "" "" initd start
expect_eq "init: still the same daemon" "$I" "$(cat "$T/init.pid")"
# /etc/rpc names the program (a bind mount private to this namespace).
if mount --bind "$DEST/etc/rpc" /etc/rpc; then
	if rpcinfo -p localhost | awk -v p=$PROG '$1 == p {print $5}' | grep -qx bart
	then ok "rpcinfo -p shows the name bart"
	else not_ok "rpcinfo -p shows the name bart"; rpcinfo -p localhost | sed 's/^/#   /'; fi
	umount /etc/rpc
fi
expect_run "init: restart" 0 "" "" initd restart
I2=$(track_pidfile "$T/init.pid")
if [ -n "$I2" ] && [ "$I2" != "$I" ] && ! kill -0 "$I" 2>/dev/null && registered
then ok "init: restart replaced the daemon ($I -> $I2)"
else not_ok "init: restart replaced the daemon ($I -> $I2)"; fi
expect_run "init: force-reload" 0 "" "" initd force-reload
I3=$(track_pidfile "$T/init.pid")
expect_run "init: counter kept across restarts" 0 "^I was called 3 times" "" \
    clnt localhost count 0
expect_run "init: stop" 0 "" "" initd stop
if gone "$I3" && ! registered; then ok "init: stop ended the daemon and its registrations"
else not_ok "init: stop ended the daemon and its registrations"; fi
expect_run "init: status 3 when stopped" 3 "not running" "" initd status
expect_run "init: stop when stopped" 0 "" "" initd stop
sleep 0 & dead=$!; wait $dead
echo "$dead" >"$T/init.pid"
expect_run "init: status 1 with a stale pidfile" 1 "pidfile|exists" "" initd status
rm -f "$T/init.pid"
expect_run "init: usage" 3 "" "Usage" initd frobnicate
# Without lsb-base's functions (hidden by a private bind mount).
if [ -d /lib/lsb ] && mount --bind "$T/empty" /lib/lsb; then
	expect_run "init without lsb-base: start" 0 "Starting" "" initd start
	I4=$(track_pidfile "$T/init.pid")
	expect_run "init without lsb-base: status" 0 "is running" "" initd status
	expect_run "init without lsb-base: stop" 0 "Stopping" "" initd stop
	gone "$I4"
	umount /lib/lsb
else
	expect_run "init without lsb-base: start" 0 "" "" initd start
	I4=$(track_pidfile "$T/init.pid")
	expect_run "init without lsb-base: stop" 0 "" "" initd stop
fi
expect_run "init: start fails when bart_svc fails" 1 "" "" \
    env BART_DAEMON=$DEST/usr/local/sbin/bart_svc BART_PIDFILE=$T/nodir/x.pid \
    BART_DEFAULTS=$T/default.bart "$DEST/etc/init.d/bart" start
if shellcheck -V >/dev/null 2>&1; then
	expect_run "init script: shellcheck" 0 "" "" shellcheck -s sh "$ROOT/init/bart"
fi

# reload: SIGHUP, the same daemon keeps serving.
initd start >/dev/null 2>&1
I5=$(track_pidfile "$T/init.pid")
expect_run "init: reload" 0 "" "" initd reload
expect_eq "init: reload keeps the daemon" "$I5" "$(cat "$T/init.pid" 2>/dev/null)"
count_is "init: serving after reload" 3 0
initd stop >/dev/null 2>&1; gone "$I5"
expect_run "init: reload when stopped fails" 1 "" "" initd reload

# A bad BART_OPTS: one line on the console with the reason, not the
# whole --help.
cat >"$T/default.bad" <<EOF
BART_OPTS="--frobnicate -S $T/init/state"
EOF
BART_DAEMON=$DEST/usr/local/sbin/bart_svc BART_PIDFILE=$T/init.pid \
    BART_DEFAULTS=$T/default.bad "$DEST/etc/init.d/bart" start \
    >"$T/bad.out" 2>&1
expect_eq "init: bad BART_OPTS: start exits 64" 64 "$?"
expect_eq "init: bad BART_OPTS: two lines (Starting ... failed, reason)" 2 \
    "$(wc -l <"$T/bad.out")"
if grep -q "frobnicate.*BART_OPTS" "$T/bad.out" && ! grep -q -- --state-dir "$T/bad.out"
then ok "init: bad BART_OPTS: the reason, no usage dump"
else not_ok "init: bad BART_OPTS: the reason, no usage dump"; sed 's/^/#   /' "$T/bad.out"; fi

# The defaults as root: /run/bart belongs to the run user, so a clean
# stop of a daemon that dropped privileges leaves no socket and no
# pidfile behind (it used to leave a root-owned /run/bart_svc.sock).
cat >"$T/default.run" <<EOF
BART_OPTS="-S $T/run/state -u nobody"
EOF
initr() {
	BART_DAEMON=$DEST/usr/local/sbin/bart_svc BART_DEFAULTS=$T/default.run \
	    "$DEST/etc/init.d/bart" "$@"
}
expect_run "init (default paths, -u nobody): start" 0 "" "" initr start
R=$(track_pidfile /run/bart/bart_svc.pid)
expect_eq "/run/bart: owned by the run user, mode 755" "$NB_UID 755" \
    "$(stat -c '%u %a' /run/bart 2>/dev/null)"
expect_eq "/run/bart: socket and pidfile" "bart_svc.pid bart_svc.sock" \
    "$(ls /run/bart 2>/dev/null | xargs)"
expect_run "client's default socket answers (-T local)" 0 \
    "^I was called 1 times" "" clnt -T local localhost count 1
expect_run "init (default paths): status" 0 "is running" "" initr status
expect_run "init (default paths): stop" 0 "" "" initr stop
gone "$R"
expect_eq "clean stop: nothing left in /run/bart" "" \
    "$(ls -A /run/bart 2>/dev/null)"
if [ -e /run/bart_svc.sock ]; then not_ok "no /run/bart_svc.sock"
else ok "no /run/bart_svc.sock"; fi
# A daemon an older version started (pidfile /run/bart_svc.pid) is still
# found by stop after the upgrade.
"$SVC" -S "$T/run/state" -p /run/bart_svc.pid -s "$T/old.sock" -u nobody 2>"$T/old.err"
O=$(track_pidfile /run/bart_svc.pid)
expect_run "init: stop finds a daemon with the old pidfile" 0 "" "" initr stop
if gone "$O"; then ok "init: the old-layout daemon ended"
else not_ok "init: the old-layout daemon ended"; cat "$T/old.err"; fi

# A state directory the run user cannot reach (a checkout under a 0700
# home, as make run found it): the real cause, not SQLite's "unable to
# open database file".
mkdir -p "$T/closed/inner"; chmod 700 "$T/closed"
expect_run "unreachable state dir: the directory that stops it" 1 "" \
    "user nobody cannot pass through .*/closed \(mode 0700" \
    "$SVC" -f -u nobody -S "$T/closed/inner/state" -p "$T/cl.pid" -s "$T/cl.sock"
if grep -q 'unable to open' "$T/err"; then not_ok "unreachable: no SQLite wording"
else ok "unreachable: no SQLite wording"; fi

# The LSB header names only facilities Debian defines ($portmap is
# rpcbind's; there is no $rpcbind).
bad=$(sed -n 's/^# Required-\(Start\|Stop\): *//p' "$ROOT/init/bart" | tr ' ' '\n' |
    grep -vxE '\$(local_fs|remote_fs|network|named|portmap|syslog|time|all)|' | xargs)
expect_eq "init: LSB header uses Debian's facilities only" "" "$bad"

# --- the systemd unit -------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/unit"
	sed "s|/usr/local/sbin/bart_svc|$DEST/usr/local/sbin/bart_svc|" \
	    "$DEST/usr/local/lib/systemd/system/bart.service" >"$T/unit/bart.service"
	expect_run "systemd-analyze verify bart.service" 0 "" "" \
	    env MANPATH="$DEST/usr/local/share/man" \
	    systemd-analyze verify "$T/unit/bart.service"
	if [ -s "$T/err" ]; then not_ok "systemd-analyze verify: no warnings"
		sed 's/^/#   /' "$T/err"
	else ok "systemd-analyze verify: no warnings"; fi
else
	ok "systemd-analyze verify bart.service (skipped: no systemd-analyze)"
fi
for k in 'Requires=rpcbind.socket' 'EnvironmentFile=-/etc/default/bart' \
    'Type=forking' 'PIDFile=/run/bart/bart_svc.pid' 'Restart=on-failure' \
    'RuntimeDirectory=bart' 'ExecReload=/bin/kill -HUP $MAINPID'; do
	if grep -qx "$k" "$ROOT/init/bart.service"; then ok "unit: $k"
	else not_ok "unit: $k"; fi
done
if grep -q '^ReadWritePaths=/run$' "$ROOT/init/bart.service"; then
	not_ok "unit: no ReadWritePaths=/run"; else ok "unit: no ReadWritePaths=/run"; fi
if grep -q '^After=.*rpcbind.service' "$ROOT/init/bart.service"; then
	ok "unit: After=rpcbind.service"; else not_ok "unit: After=rpcbind.service"; fi

# --- man pages --------------------------------------------------------
undoc=""
for o in $("$SVC" --help | grep -oE -- '(^|[ ,])-(-[a-z-]+|[a-zA-Z])\b' |
    tr -d ' ,' | sort -u); do
	case $o in
	--*) re="Fl Fl ${o#--}" ;;
	*) re="Fl ${o#-}" ;;
	esac
	grep -q "^\.It .*$re\b" "$ROOT/man/bart_svc.8" || undoc="$undoc $o"
done
expect_eq "bart_svc.8 has an entry for every option of --help" "" "$undoc"
undoc=""
for o in $(clnt -h | grep -oE -- '(^|[ ,])-(-[a-z-]+|[a-zA-Z])\b' |
    tr -d ' ,' | sort -u); do
	case $o in
	--*) re="Fl Fl ${o#--}" ;;
	*) re="Fl ${o#-}" ;;
	esac
	grep -q "$re\b" "$ROOT/man/bart_clnt.1" || undoc="$undoc $o"
done
for c in $(clnt -h | awk '/^commands:/ {f = 1; next} f {print $1}'); do
	grep -q "^\.It Cm $c\b" "$ROOT/man/bart_clnt.1" || undoc="$undoc $c"
done
expect_eq "bart_clnt.1 has every option and command of -h" "" "$undoc"
for page in man/bart_svc.8 man/bart_clnt.1; do
	if command -v mandoc >/dev/null; then
		expect_run "mandoc -T lint $page" 0 "" "" \
		    mandoc -T lint -W warning "$ROOT/$page"
	fi
	if command -v man >/dev/null; then
		MANWIDTH=80 man --warnings -l "$ROOT/$page" >/dev/null 2>"$T/manerr"
		if [ -s "$T/manerr" ]; then not_ok "man -l $page: no warnings"
			sed 's/^/#   /' "$T/manerr"
		else ok "man -l $page: no warnings"; fi
	fi
done

imake uninstall DESTDIR="$DEST" >>"$T/install.log" 2>&1
expect_eq "make uninstall after use leaves no file" "" "$(find "$DEST" -type f)"
if [ "$NFAIL" -gt 0 ]; then sed 's/^/# install: /' "$T/install.log"; fi
finish
