#!/bin/bash
# SPDX-License-Identifier: ISC
# t_reg.sh: bart_svc's rpcbind registrations and sockets: single netids
# deleted from rpcbind are restored, a second daemon does not take over
# a live one, a transport that cannot be created fails the start (in
# the foreground and detached), --transports and --listen.
. "$(dirname "$0")/lib.sh"
SVC=$BIN/bart_svc
ns_setup

# check DESC CMD...: one check made of several conditions (CMD is a
# function that prints what differed and returns non-zero).
check() {
	local desc=$1
	shift
	if "$@" >"$T/why" 2>&1; then ok "$desc"; else
		not_ok "$desc"; sed 's/^/#   /' "$T/why"; fi
}

# stop_left FILE: stop a daemon a (wrongly) successful detached start
# left behind, so the next checks see only their own daemons.
stop_left() {
	local pid
	[ -s "$1" ] && read -r pid <"$1" && [ -n "$pid" ] && stop_pid "$pid"
	rm -f "$1"
}

# netids: our program's netids in rpcbind, sorted, comma-separated.
netids() {
	rpcinfo 2>/dev/null | awk -v p=$PROG '$1 == p {print $3}' | sort |
	    paste -sd, -
}
netids_are() { [ "$(netids)" = "$1" ]; }
has_netid() { case ",$(netids)," in *",$1,"*) return 0 ;; esac; return 1; }

# bg_svc NAME [ARGS]: a foreground bart_svc of its own, in the
# background; sets BG_PID.  Its stderr goes to $T/NAME.log.
bg_svc() {
	local name=$1
	shift
	"$SVC" -f -S "$T/$name" -p "$T/$name.pid" -s "$T/$name.sock" "$@" \
	    2>>"$T/$name.log" &
	BG_PID=$!
	track $BG_PID
}

# listening PID: "proto addr:port" of each socket PID listens on, sorted.
listening() {
	ss -H -ltuxp 2>/dev/null | awk -v p="pid=$1," \
	    'index($0, p) {print $1, $5}' | sort | paste -sd' ' -
}

# A process that holds a TCP and a UDP port on every address.
python3 -c '
import socket, sys, time
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", 0)); t.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", t.getsockname()[1]))
print(t.getsockname()[1], flush=True)
time.sleep(120)' >"$T/holder.port" &
HOLDER=$!
track $HOLDER
wait_for 5 test -s "$T/holder.port"
TAKEN=$(cat "$T/holder.port")

# --- start-up failures: exit 1 with the reason -------------------------
# Each bounded by timeout: a daemon that starts regardless would serve
# for ever in -f mode (exit 124 then).
expect_run "--port taken, -f: exit 1 with the reason" 1 "" \
    "cannot listen on tcp port $TAKEN: Address already in use" \
    timeout 10 "$SVC" -f -S "$T/pt" -p "$T/pt.pid" -s "$T/pt.sock" -P "$TAKEN"
expect_eq "--port taken, -f: one line on stderr" 1 "$(wc -l <"$T/err")"
expect_run "--port taken, detached: exit 1 with the reason" 1 "" \
    "cannot listen on tcp port $TAKEN: Address already in use" \
    timeout 10 "$SVC" -S "$T/pt" -p "$T/pt.pid" -s "$T/pt.sock" -P "$TAKEN"
if [ -s "$T/pt.pid" ] || [ -n "$(netids)" ]; then
	not_ok "--port taken, detached: no daemon left, nothing registered"
else ok "--port taken, detached: no daemon left, nothing registered"; fi
stop_left "$T/pt.pid"
expect_run "--port taken for udp only: exit 1" 1 "" \
    "cannot listen on udp port $TAKEN" \
    timeout 10 "$SVC" -f -S "$T/pt" -p "$T/pt.pid" -s "$T/pt.sock" \
    -P "$TAKEN" --transports udp,local
expect_run "unusable -s path, -f: exit 1 with the reason" 1 "" \
    "cannot listen on local socket $T/nodir/x.sock: No such file" \
    timeout 10 "$SVC" -f -S "$T/us" -p "$T/us.pid" -s "$T/nodir/x.sock"
expect_run "unusable -s path, detached: exit 1 with the reason" 1 "" \
    "cannot listen on local socket" \
    timeout 10 "$SVC" -S "$T/us" -p "$T/us.pid" -s "$T/nodir/x.sock"
stop_left "$T/us.pid"
expect_run "--transports: unknown name" 64 "" "not a list of tcp" \
    "$SVC" -f --transports tcp,sctp
expect_run "--listen: not an address" 64 "" "not a numeric IPv4 or IPv6" \
    "$SVC" -f --listen example.org
expect_run "--listen: the same address twice" 64 "" "or a repeat" \
    "$SVC" -f --listen 127.0.0.1 --listen 127.0.0.1
expect_run "--transports tcp6 without an IPv6 --listen address" 1 "" \
    "tcp6: no IPv6 --listen address" \
    timeout 10 "$SVC" -f -S "$T/v6" -p "$T/v6.pid" -s "$T/v6.sock" \
    --transports tcp6 --listen 127.0.0.1

# --- a kernel without IPv6 (an LD_PRELOAD shim) -------------------------
# The default set skips tcp6 and udp6 and says so; asked for by name,
# they fail the start.
cc -shared -fPIC -O2 -o "$T/noipv6.so" "$(dirname "$0")/../tools/noipv6.c" \
    -ldl || not_ok "build noipv6.so"
NOV6=(env ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
    LD_PRELOAD="$T/noipv6.so")
"${NOV6[@]}" "$SVC" -f -S "$T/nov6" -p "$T/nov6.pid" -s "$T/nov6.sock" \
    2>>"$T/nov6.log" &
BG_PID=$!
track $BG_PID
nov6_ok() {
	wait_for 10 netids_are "local,tcp,udp" ||
	    { echo "registered: '$(netids)'"; cat "$T/nov6.log"; return 1; }
	grep -q "no IPv6 on this host: tcp6 and udp6 skipped" "$T/nov6.log" ||
	    { echo "not logged:"; cat "$T/nov6.log"; return 1; }
	[ "$(clnt -T tcp -t 3 localhost count 0)" = "I was called 0 times." ]
}
check "no IPv6, default set: tcp, udp, local registered, the skip logged" \
    nov6_ok
stop_pid $BG_PID
wait_for 5 netids_are ""
expect_run "no IPv6, --transports tcp,tcp6: exit 1 with the reason" 1 "" \
    "cannot listen on tcp6 port \(any\): Address family not supported" \
    timeout 10 "${NOV6[@]}" "$SVC" -f -S "$T/nov6" -p "$T/nov6.pid" \
    -s "$T/nov6.sock" --transports tcp,tcp6

# --- --transports subsets are registered exactly ------------------------
subset_ok() {
	local set=$1 want rc=0
	want=$(echo "$set" | tr , '\n' | sort | paste -sd, -)
	if ! wait_for 10 netids_are "$want"; then
		echo "registered '$(netids)', not '$want'"; return 1; fi
	case $set in
	tcp,local)
		clnt -T tcp -t 3 localhost count 0 || rc=1
		if clnt -T udp -t 3 localhost count 0; then
			echo "udp answers"; rc=1; fi
		got=$(listening $BG_PID | sed 's/0\.0\.0\.0:[0-9]*/0.0.0.0:*/')
		if [ "$got" != "tcp 0.0.0.0:* u_str $T/ts-$set.sock" ]; then
			echo "sockets: $got"; rc=1; fi
		;;
	udp)
		clnt -T udp -t 3 localhost count 0 || rc=1
		# A live daemon on udp alone is found by its udp probe.
		if timeout 15 "$SVC" -f -S "$T/ts2" -p "$T/ts2.pid" \
		    -s "$T/ts2.sock" 2>"$T/ts2.err"; then rc=1; fi
		grep -q "served by a live daemon at udp " "$T/ts2.err" ||
		    { cat "$T/ts2.err"; rc=1; }
		;;
	tcp6,udp6)
		clnt -T tcp6 -t 3 localhost count 0 || rc=1
		clnt -T udp6 -t 3 localhost count 0 || rc=1
		;;
	local)
		clnt -T local -t 3 localhost count 0 || rc=1
		;;
	esac
	[ $rc = 0 ] || sed 's/^/log: /' "$T/ts-$set.log"
	return $rc
}
for set in tcp,local udp tcp6,udp6 local; do
	bg_svc "ts-$set" --transports "$set"
	check "--transports $set: registered exactly, and served" subset_ok "$set"
	stop_pid $BG_PID
	wait_for 5 netids_are ""
done

# --- --listen: only those addresses ------------------------------------
listen1_ok() {
	local got port rc=0
	wait_for 10 netids_are "local,tcp,udp" ||
	    { echo "registered: '$(netids)'"; return 1; }
	got=$(listening $BG_PID)
	port=$(echo "$got" | grep -oE 'tcp 127\.0\.0\.1:[0-9]+' | cut -d: -f2)
	if [ -z "$port" ] || [ "$(echo "$got" | sed 's/udp 127\.0\.0\.1:[0-9]*/udp 127.0.0.1:*/')" != \
	    "tcp 127.0.0.1:$port u_str $T/ls1.sock udp 127.0.0.1:*" ]; then
		echo "sockets: $got"; return 1; fi
	clnt -T tcp -t 3 127.0.0.1 count 0 || rc=1
	clnt -T udp -t 3 127.0.0.1 count 0 || rc=1
	if (exec 3<>"/dev/tcp/127.0.0.2/$port") 2>/dev/null; then
		echo "port $port open on 127.0.0.2"; rc=1; fi
	return $rc
}
bg_svc ls1 --listen 127.0.0.1 --transports tcp,udp,local
check "--listen 127.0.0.1: tcp and udp bound there only, and served" listen1_ok
stop_pid $BG_PID
wait_for 5 netids_are ""

listen2_ok() {
	local got p1 p2 rc=0
	wait_for 10 netids_are "local,tcp,tcp6,udp,udp6" ||
	    { echo "registered: '$(netids)'"; return 1; }
	got=$(listening $BG_PID)
	p1=$(echo "$got" | grep -oE 'tcp 127\.0\.0\.1:[0-9]+' | cut -d: -f2)
	p2=$(echo "$got" | grep -oE 'tcp 127\.0\.0\.2:[0-9]+' | cut -d: -f2)
	if [ -z "$p1" ] || [ "$p1" != "$p2" ] ||
	    [ "$(echo "$got" | wc -w)" != 14 ] ||
	    echo "$got" | grep -qE '0\.0\.0\.0|\*:|\[::\]'; then
		echo "sockets: $got"; return 1; fi
	clnt -T tcp -t 3 127.0.0.2 count 0 || rc=1
	clnt -T udp -t 3 127.0.0.2 count 0 || rc=1
	clnt -T tcp6 -t 3 ::1 count 0 || rc=1
	return $rc
}
bg_svc ls2 --listen 127.0.0.1 --listen 127.0.0.2 --listen ::1
check "--listen 127.0.0.1, 127.0.0.2, ::1: 7 sockets, one port per netid, served" \
    listen2_ok
stop_pid $BG_PID
wait_for 5 netids_are ""

# --- single registrations deleted from rpcbind are restored -------------
start_svc
clnt localhost count 3 >/dev/null || not_ok "setup: count 3"
all=$(netids)
[ "$all" = "local,tcp,tcp6,udp,udp6" ] || not_ok "setup: registered: '$all'"
rpcinfo -d -T tcp $PROG 1
rpcinfo -d -T udp $PROG 1
! has_netid tcp && ! has_netid udp || not_ok "setup: rpcinfo -d: '$(netids)'"
repair_ok() {
	local t0=$(date +%s%N) rc=0
	wait_for 10 netids_are "$all" ||
	    { echo "registered: '$(netids)', not '$all'"; return 1; }
	echo "repaired in $((($(date +%s%N) - t0) / 1000000)) ms"
	[ "$(clnt -T tcp -t 3 localhost count 0)" = "I was called 3 times." ] ||
	    { echo "tcp client"; rc=1; }
	[ "$(clnt -T udp -t 3 localhost count 0)" = "I was called 3 times." ] ||
	    { echo "udp client"; rc=1; }
	grep -q "lost our registration on tcp udp" "$T/svc.log" ||
	    { echo "not logged"; rc=1; }
	return $rc
}
check "tcp and udp deleted from rpcbind: registered again, clients answer" \
    repair_ok
sed -n 's/^repaired/# repaired/p' "$T/why"
rpcinfo -d -T udp6 $PROG 1
if wait_for 10 netids_are "$all"; then ok "udp6 deleted alone: registered again"
else not_ok "udp6 deleted alone: registered again: '$(netids)'"; fi

# --- a second root bart_svc on another state directory ------------------
before=$(rpcinfo 2>/dev/null | awk -v p=$PROG '$1 == p' | sort)
expect_run "second daemon, -f: refused, exit 1" 1 "" \
    "program $PROG is served by a live daemon at (tcp|udp|tcp6|udp6|local) " \
    timeout 15 "$SVC" -f -S "$T/second" -p "$T/second.pid" -s "$T/second.sock"
expect_eq "second daemon: one line on stderr" 1 "$(wc -l <"$T/err")"
expect_run "second daemon, detached: refused, exit 1" 1 "" \
    "program $PROG is served by a live daemon at" \
    timeout 15 "$SVC" -S "$T/second" -p "$T/second.pid" -s "$T/second.sock"
stop_left "$T/second.pid"
expect_run "second daemon on the same -P port: refused as live" 1 "" \
    "served by a live daemon" \
    timeout 15 "$SVC" -f -S "$T/second" -p "$T/second.pid" \
    -s "$T/second.sock" -P "$(rpcinfo -p | awk -v p=$PROG '$1 == p && $3 == "tcp" {print $4}')"
expect_run "second daemon on the same -s path: refused" 1 "" \
    "served by a live daemon" \
    timeout 15 "$SVC" -f -S "$T/second" -p "$T/second.pid" -s "$T/svc.sock"
first_ok() {
	local n rc=0 now
	now=$(rpcinfo 2>/dev/null | awk -v p=$PROG '$1 == p' | sort)
	[ "$now" = "$before" ] || { echo "registrations now:"; echo "$now"
	    echo "before:"; echo "$before"; rc=1; }
	for n in tcp udp tcp6 udp6 local; do
		[ "$(clnt -T $n -t 3 localhost count 0 2>&1)" = \
		    "I was called 3 times." ] || { echo "$n client"; rc=1; }
	done
	kill -0 "$SVC_PID" || { echo "first daemon gone"; rc=1; }
	return $rc
}
check "first daemon keeps its registrations and counter on every netid" \
    first_ok

# A daemon that cannot answer (stopped) is taken for stale, but its
# socket path, which the kernel still accepts on, is not unlinked.
kill -STOP "$SVC_PID"
expect_run "stopped daemon's socket path: refused" 1 "" \
    "cannot listen on local socket $T/svc.sock: a running process accepts on it" \
    timeout 20 "$SVC" -f -S "$T/second" -p "$T/second.pid" -s "$T/svc.sock"
kill -CONT "$SVC_PID"
resumed_ok() {
	[ -S "$T/svc.sock" ] || { echo "socket path gone"; return 1; }
	wait_for 10 netids_are "$all" || { echo "registered: '$(netids)'"
	    return 1; }
	[ "$(clnt -T local -t 3 localhost count 0)" = "I was called 3 times." ]
}
check "socket path kept; resumed daemon registered again, serves locally" \
    resumed_ok

# --- a non-root second instance: the real cause -------------------------
mkdir -p "$T/nb"
chown 65534:65534 "$T/nb"
chmod 755 "$T"
AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
expect_run "non-root second instance, first alive: refused as live" 1 "" \
    "served by a live daemon" \
    timeout 15 "${AS_NOBODY[@]}" env HOME="$T/nb" "$SVC" -f \
    -S "$T/nb/state" -s "$T/nb/sock"
kill9_svc
expect_run "non-root instance, root's stale entries: exit 1" 1 "" \
    "rpcbind keeps it for .* registered by superuser; only that owner or root may replace it" \
    timeout 30 "${AS_NOBODY[@]}" env HOME="$T/nb" "$SVC" -f \
    -S "$T/nb/state" -s "$T/nb/sock"
nonroot_ok() {
	! grep -q "is rpcbind running" "$T/err" || { cat "$T/err"; return 1; }
	[ "$(netids)" = "$all" ] || { echo "registered: '$(netids)'"; return 1; }
}
check "non-root instance: no blaming rpcbind, root's entries untouched" \
    nonroot_ok

# A killed daemon's entries (nobody answers) are replaced by root, and
# SIGTERM removes them.
start_svc
stale_ok() {
	[ "$(netids)" = "$all" ] || { echo "registered: '$(netids)'"; return 1; }
	[ "$(clnt -T tcp -t 3 localhost count 0)" = "I was called 3 times." ] ||
	    return 1
	grep -q "removed a stale registration" "$T/svc.log" ||
	    { echo "not logged"; return 1; }
	stop_svc
	[ "$(netids)" = "" ] || { echo "after SIGTERM: '$(netids)'"; return 1; }
}
check "stale entries replaced (logged), removed again at SIGTERM" stale_ok

# --- a live registration of a person's uid does not block root -----------
# Anyone may register a free program number.  A responder of uid 1234
# is replaced (and said so); one of a system account (nobody) blocks.
"${AS_NOBODY[@]}" "$BIN/bart_raw" cbserve $PROG answer 60 >"$T/cb.nobody" 2>&1 &
CB=$!
track $CB
wait_for 5 grep -q port "$T/cb.nobody"
expect_run "nobody's live registration: root refuses as live" 1 "" \
    "served by a live daemon at tcp " \
    timeout 15 "$SVC" -f -S "$T/state" -p "$T/svc.pid" -s "$T/svc.sock"
stop_pid $CB
wait_for 5 netids_are ""
setpriv --reuid 1234 --regid 1234 --clear-groups \
    "$BIN/bart_raw" cbserve $PROG answer 60 >"$T/cb.user" 2>&1 &
CB=$!
track $CB
wait_for 5 grep -q port "$T/cb.user"
tcp_owner_is() {
	[ "$(rpcinfo | awk -v p=$PROG '$1 == p && $3 == "tcp" {print $6}')" = "$1" ]
}
person_ok() {
	local owner
	owner=$(rpcinfo | awk -v p=$PROG '$1 == p && $3 == "tcp" {print $6}')
	[ "$owner" = 1234 ] || { echo "setup: owner '$owner'"; return 1; }
	# start_svc's rpcinfo -t may be answered by the responder: wait
	# for the owner to change.
	start_svc || return 1
	wait_for 10 tcp_owner_is superuser
	grep -q "registered by 1234, not by root, uid 0 or a system account: replacing it" \
	    "$T/svc.log" || { echo "not logged"; tail -5 "$T/svc.log"; return 1; }
	[ "$(netids)" = "$all" ] || { echo "registered: '$(netids)'"; return 1; }
	owner=$(rpcinfo | awk -v p=$PROG '$1 == p && $3 == "tcp" {print $6}')
	[ "$owner" = superuser ] || { echo "owner now '$owner'"; return 1; }
	[ "$(clnt -T tcp -t 3 localhost count 0)" = "I was called 3 times." ]
}
check "uid 1234's live registration: root replaces it, serves its counter" \
    person_ok
stop_pid $CB
stop_svc
wait_for 5 netids_are ""

# --- a stopped rpcbind never stalls the daemon ---------------------------
# The client's fast path for this host goes straight to the default
# socket, so it needs no rpcbind; the daemon's 2 s check must not make
# it wait either.
mkdir -p /run/bart
"$SVC" -f -S "$T/state" -p "$T/h.pid" -s /run/bart/bart_svc.sock \
    2>>"$T/h.log" &
H=$!
track $H
wait_for 10 netids_are "$all"
kill -STOP "$RPCBIND_PID"
hung_ok() {
	local i t0 ms max=0 bad=0
	for i in $(seq 12); do
		t0=$(date +%s%N)
		[ "$(clnt -T local -t 5 localhost count 0 2>&1)" = \
		    "I was called 3 times." ] || bad=$((bad + 1))
		ms=$((($(date +%s%N) - t0) / 1000000))
		[ $ms -gt $max ] && max=$ms
		sleep 0.25
	done
	echo "rpcbind stopped: 12 calls over 3 s, slowest $max ms, $bad failed"
	[ $bad = 0 ] && [ $max -lt 1500 ]
}
check "rpcbind stopped: every call answered within 1.5 s" hung_ok
sed 's/^/# /' "$T/why"
t0=$(date +%s%N)
kill -TERM $H
exit_ok() {
	local i
	for i in $(seq 200); do
		kill -0 $H 2>/dev/null || break
		sleep 0.05
	done
	! kill -0 $H 2>/dev/null || { echo "still running after 10 s"; return 1; }
	echo "stopped in $((($(date +%s%N) - t0) / 1000000)) ms"
	grep -q "rpcbind did not answer: registrations of program $PROG left" \
	    "$T/h.log" || { echo "not logged"; return 1; }
}
check "SIGTERM with rpcbind stopped: exits within 10 s, says what it left" exit_ok
sed -n 's/^stopped/# stopped/p' "$T/why"
t0=$(date +%s%N)
expect_run "start with rpcbind stopped: exit 1 with the reason, soon" 1 "" \
    "cannot register program $PROG on [a-z0-9]+: rpcbind does not answer" \
    timeout 30 "$SVC" -f -S "$T/hs" -p "$T/hs.pid" -s "$T/hs.sock"
ms=$((($(date +%s%N) - t0) / 1000000))
if [ $ms -lt 15000 ]; then ok "start with rpcbind stopped: failed in $ms ms"
else not_ok "start with rpcbind stopped: failed in $ms ms, not under 15 s"; fi
kill -CONT "$RPCBIND_PID"
wait $H 2>/dev/null

finish
