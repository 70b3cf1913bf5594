#!/bin/bash
# SPDX-License-Identifier: ISC
# t_attack.sh: hostile input (rpcbomb, malformed arguments, garbage),
# connection floods under a low fd limit, and callback abuse.  The
# daemon must answer the right RPC error or close, keep its memory,
# and keep serving everyone else.
. "$(dirname "$0")/lib.sh"
ns_setup
IDLE=5
start_svc -v --idle-timeout $IDLE || exit 1
RAW() { "$BIN/bart_raw" -s "$T/svc.sock" "$@"; }
rss() { awk '/^VmRSS:/ {print $2}' /proc/$SVC_PID/status; }
vmpeak() { awk '/^VmPeak:/ {print $2}' /proc/$SVC_PID/status; }
count_now() { clnt -T tcp localhost count 0 | awk '{print $4}'; }
# RSS limits mean nothing under ASan (its allocator quarantines frees).
RSS_MAX=1024
[ -n "${BART_ASAN:-}" ] && { RSS_MAX=65536; echo "# ASan build: RSS limit relaxed to $RSS_MAX kB"; }

# rss_ok DESC BEFORE AFTER: growth below RSS_MAX kB.
rss_ok() {
	local g=$(($3 - $2))
	if [ "$g" -lt "$RSS_MAX" ]; then ok "$1: RSS grew $g kB ($2 -> $3)"; else
		not_ok "$1: RSS grew $g kB ($2 -> $3), limit $RSS_MAX"; fi
}

# A slowloris (one byte a second, never a whole call) runs meanwhile.
"$BIN/bart_raw" slowloris tcp 20 >"$T/slow.out" 2>&1 &
SL=$!; track $SL
T_SLOW=$(date +%s)

# --- rpcbomb (CVE-2017-8779) --------------------------------------------
echo "# t=${SECONDS}s"
c0=$(count_now)
for k in udp tcp local; do RAW rpcbomb $k >/dev/null; done	# warm-up
r0=$(rss); p0=$(vmpeak)
for k in udp tcp local; do
	out=$(for i in $(seq 20); do RAW rpcbomb $k; done | sort | uniq -c)
	n=$(echo "$out" | awk '/GARBAGE_ARGS/ {s += $1} END {print s + 0}')
	expect_eq "rpcbomb over $k: 40 calls declaring 2 GB get GARBAGE_ARGS" 40 "$n"
done
r1=$(rss); p1=$(vmpeak)
rss_ok "rpcbomb x120" "$r0" "$r1"
if [ $((p1 - p0)) -lt 65536 ]; then ok "rpcbomb: VmPeak grew $((p1 - p0)) kB"; else
	not_ok "rpcbomb: VmPeak grew $((p1 - p0)) kB (a 2 GB allocation?)"; fi
expect_run "after rpcbomb: count answers" 0 "^I was called $((c0 + 1)) times\.$" "" \
    clnt localhost count 1
c0=$((c0 + 1))

# --- 10,000 malformed or truncated calls --------------------------------
echo "# t=${SECONDS}s"
for k in udp tcp local; do RAW malformed $k 2000 >/dev/null; done	# warm-up
r0=$(rss)
for k in udp tcp; do
	expect_run "5000 malformed calls over $k: all GARBAGE_ARGS" 0 \
	    "sent=5000 GARBAGE_ARGS=5000 other=0 lost=0" "" RAW malformed $k 5000
done
expect_run "1000 malformed calls over local: all GARBAGE_ARGS" 0 \
    "sent=1000 GARBAGE_ARGS=1000 other=0 lost=0" "" RAW malformed local 1000
r1=$(rss)
rss_ok "11,000 malformed calls" "$r0" "$r1"
# A truncated UDP call used to be completed from libtirpc's stale buffer.
expect_eq "malformed calls changed nothing" "$c0" "$(count_now)"

# --- garbage: the right RPC-level answer, or a closed connection ---------
echo "# t=${SECONDS}s"
# bart parses call headers itself (server/wire.c): what is no call is
# dropped (UDP) or closes the connection; a wrong rpcvers gets
# RPC_MISMATCH, an oversized credential or verifier AUTH_BADCRED, a
# flavor other than AUTH_NONE/AUTH_SYS (GSS too) AUTH_REJECTEDCRED, and
# a call in several record fragments is answered (RFC 5531 sec. 11).
expect_case() {	# CASE KIND EXPECTED
	local got
	got=$(RAW -t 800 garbage "$1" "$2" 2>&1)
	expect_eq "garbage $1 over $2" "$1: $3" "$got"
}
for k in udp tcp local; do
	if [ $k = udp ]; then drop=noreply; else drop=closed; fi
	expect_case random $k $drop
	expect_case rpcvers $k "RPC_MISMATCH low=2 high=2"
	expect_case reply $k $drop
	expect_case wrongprog $k PROG_UNAVAIL
	expect_case wrongvers $k "PROG_MISMATCH low=1 high=1"
	expect_case badproc $k PROC_UNAVAIL
	expect_case badargs $k GARBAGE_ARGS
	expect_case authflavor $k "AUTH_ERROR stat=2"
	expect_case authsys $k "AUTH_ERROR stat=1"
	expect_case authgss $k "AUTH_ERROR stat=2"
	expect_case bigcred $k "AUTH_ERROR stat=1"
	expect_case bigverf $k "AUTH_ERROR stat=1"
	expect_case pipelined $k "50 of 50 SUCCESS"
	[ $k = udp ] && continue
	for c in hugefrag hugefraglast zerofrag; do
		expect_case $c $k closed
	done
	expect_case tinyfrags $k SUCCESS
	expect_case frags4 $k SUCCESS
	expect_case bytewise $k SUCCESS
done
for k in local tcp udp; do
	expect_run "after garbage: count over $k" 0 "^I was called" "" clnt -T $k localhost count 1
done

wait $SL
slow=$(cat "$T/slow.out")
echo "# $slow (started $(( $(date +%s) - T_SLOW )) s ago)"
secs=$(echo "$slow" | sed -n 's/^slowloris: closed after \([0-9]*\)\..*/\1/p')
if [ -n "$secs" ] && [ "$secs" -ge $((IDLE - 1)) ] && [ "$secs" -le $((IDLE + 4)) ]; then
	ok "slowloris closed after $secs s (no call completed in $IDLE s)"
else
	not_ok "slowloris closed after $IDLE..$((IDLE + 4)) s: $slow"; fi

# --- connection flood under ulimit -n 64 -------------------------------
echo "# t=${SECONDS}s"
stop_svc
( ulimit -n 64; exec "$BIN/bart_svc" -f -v -S "$T/state" -p "$T/svc.pid" \
    -s "$T/svc.sock" --idle-timeout $IDLE ) 2>>"$T/svc.log" &
SVC_PID=$!
track $SVC_PID
wait_for 10 rpcinfo -t localhost $PROG 1 || { not_ok "bart_svc under ulimit -n 64"; finish; exit 1; }
expect_eq "daemon's fd limit" 64 "$(awk '/^Max open files/ {print $4}' /proc/$SVC_PID/limits)"
HZ=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' /proc/$SVC_PID/stat; }

"$BIN/bart_raw" flood tcp 3000 15 >"$T/flood.tcp" 2>&1 &
FT=$!; track $FT
RAW flood local 1000 15 >"$T/flood.local" 2>&1 &
FL=$!; track $FL
opened() { grep -q opened= "$T/flood.tcp" && grep -q opened= "$T/flood.local"; }
wait_for 20 opened || not_ok "flood connections opened in time"
sed 's/^/# /' "$T/flood.tcp" "$T/flood.local"
ntcp=$(sed -n 's/.*opened=\([0-9]*\).*/\1/p' "$T/flood.tcp")
if [ "${ntcp:-0}" -gt 64 ]; then ok "flood: $ntcp idle tcp connections, more than the fd limit"; else
	not_ok "flood opened only ${ntcp:-0} tcp connections"; fi
cpu0=$(cpu)
for k in tcp local udp; do
	t0=$(date +%s%N)
	if clnt -T $k -t 5 localhost count 1 >"$T/fresh.out" 2>&1; then
		ms=$((($(date +%s%N) - t0) / 1000000))
		if [ $ms -lt 2000 ]; then ok "under flood: fresh count over $k answered in $ms ms"; else
			not_ok "under flood: count over $k took $ms ms"; fi
	else
		not_ok "under flood: fresh count over $k failed"; sed 's/^/#   /' "$T/fresh.out"
	fi
done
sleep 3
used=$(( ($(cpu) - cpu0) * 100 / HZ ))
if [ $used -lt 150 ]; then ok "under flood: daemon used ${used}0 ms of CPU in ~4 s (no spin)"; else
	not_ok "under flood: daemon used ${used}0 ms of CPU in ~4 s"; fi
nfd=$(ls /proc/$SVC_PID/fd | wc -l)
if [ "$nfd" -le 64 ]; then ok "under flood: daemon holds $nfd fds"; else not_ok "daemon holds $nfd fds"; fi
grep -q "connection cap" "$T/svc.log" && ok "connection cap logged" || not_ok "connection cap logged"
wait $FT; wait $FL
sed 's/^/# /' "$T/flood.tcp" "$T/flood.local"
expect_run "after flood: count over tcp" 0 "^I was called" "" clnt -T tcp localhost count 1

# Out of fds at run time (fds taken by something else): no spin.
stop_svc
start_svc -v --idle-timeout 60 --max-conns 1000 || exit 1
prlimit --pid $SVC_PID --nofile=40:40
"$BIN/bart_raw" flood tcp 300 8 >"$T/flood2.tcp" 2>&1 &
FT=$!; track $FT
wait_for 15 grep -q opened= "$T/flood2.tcp" || not_ok "second flood opened"
cpu0=$(cpu)
t0=$(date +%s%N)
if clnt -T tcp -t 5 localhost count 1 >/dev/null 2>&1; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ $ms -lt 2000 ]; then ok "at EMFILE: fresh count over tcp answered in $ms ms"; else
		not_ok "at EMFILE: count took $ms ms"; fi
else not_ok "at EMFILE: fresh count over tcp failed"; fi
sleep 3
used=$(( ($(cpu) - cpu0) * 100 / HZ ))
if [ $used -lt 150 ]; then ok "at EMFILE: daemon used ${used}0 ms of CPU in ~3 s (no spin)"; else
	not_ok "at EMFILE: daemon used ${used}0 ms of CPU in ~3 s (spinning?)"; fi
grep -q "out of file descriptors" "$T/svc.log" && ok "EMFILE logged" || not_ok "EMFILE logged"
wait $FT

# --- callback abuse -----------------------------------------------------
echo "# t=${SECONDS}s"
stop_svc
start_svc -v || exit 1
chmod 755 "$T"			# nobody must reach the local socket
for p in 0x20001234 0x3fffffff 0x60000000 0xffffffff; do
	expect_run "SUBSCRIBE with program $p refused" 0 "^subscribe: .*\(6\)$" "" \
	    RAW subscribe $p tcp
done

# cbstart NAME PROG MODE [setpriv args]: a callback program in the background.
cbstart() {
	local name=$1 prog=$2 mode=$3
	shift 3
	"$@" "$BIN/bart_raw" cbserve "$prog" "$mode" 40 >"$T/cb.$name" 2>&1 &
	track $!
	wait_for 5 grep -q "port" "$T/cb.$name" || not_ok "callback $name registered"
}
AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
cbstart nobody 0x4abc0001 answer "${AS_NOBODY[@]}"
owner=$(rpcinfo 2>/dev/null | awk '$1 == 1253834753 && $3 == "tcp" {print $6}')
expect_eq "other user's program is owned by uid 65534 in rpcbind" 65534 "$owner"
expect_run "root subscribing (local) to another user's program: refused" 0 \
    "^renew: .*\(8\)$" "" RAW subscribe 0x4abc0001 local
expect_run "root subscribing (tcp) to another user's program: refused" 0 \
    "^renew: .*\(8\)$" "" RAW subscribe 0x4abc0001 tcp
grep -q "by uid 65534, not by uid 0: refused" "$T/svc.log" &&
    ok "refusal logged with the owner" || not_ok "refusal logged with the owner"
expect_run "the owner itself (local) is accepted" 0 "^renew: active$" "" \
    "${AS_NOBODY[@]}" "$BIN/bart_raw" -s "$T/svc.sock" subscribe 0x4abc0001 local
expect_run "the owner itself (tcp) is accepted" 0 "^renew: active$" "" \
    "${AS_NOBODY[@]}" "$BIN/bart_raw" subscribe 0x4abc0001 tcp

cbstart mute 0x4abc0002 mute
t0=$(date +%s%N)
expect_run "a program that never answers: refused" 0 "^renew: .*\(9\)$" "" \
    RAW subscribe 0x4abc0002 local
ms=$((($(date +%s%N) - t0) / 1000000))
if [ $ms -ge 1500 ] && [ $ms -lt 8000 ]; then ok "refused after the probe timeout ($ms ms)"; else
	not_ok "never-answering program refused after $ms ms (probe timeout 2 s)"; fi

# Callbacks go to the subscriber's own address, and nowhere else: a
# subscriber at 127.0.0.5 (bound source) must be called back there only.
cbstart good 0x4abc0003 answer
CBPORT=$(sed -n 's/^cbserve: port //p' "$T/cb.good")
nft add table inet bartcb
nft add chain inet bartcb out '{ type filter hook output priority 0 ; policy accept ; }'
nft add rule inet bartcb out ip daddr 127.0.0.5 tcp dport 111 tcp flags '& (syn|ack) == syn' counter
nft add rule inet bartcb out ip daddr 127.0.0.5 tcp dport $CBPORT tcp flags '& (syn|ack) == syn' counter
nft add rule inet bartcb out ip daddr != 127.0.0.5 tcp dport $CBPORT tcp flags '& (syn|ack) == syn' counter
expect_run "subscriber at 127.0.0.5 is called back" 0 "^renew: active$" "" \
    "$BIN/bart_raw" -b 127.0.0.5 subscribe 0x4abc0003 tcp
pk=($(nft list chain inet bartcb out | grep -o 'packets [0-9]*' | awk '{print $2}'))
echo "# SYNs: rpcbind@127.0.0.5=${pk[0]} callback@127.0.0.5=${pk[1]} callback elsewhere=${pk[2]}"
if [ "${pk[0]:-0}" -ge 1 ] && [ "${pk[1]:-0}" -ge 1 ]; then
	ok "server asked rpcbind and called back at the subscriber's address"
else not_ok "no SYN to 127.0.0.5 (rpcbind ${pk[0]}, callback ${pk[1]})"; fi
expect_eq "no callback connection to any other address" 0 "${pk[2]:-x}"
nft delete table inet bartcb
# ORDER: the flood drains root's SUBSCRIBE rate; the check above is root's too.
# Thousands of SUBSCRIBEs from one peer: the mute program keeps them
# probing (live) for 2 s; the per-peer rate (10/s, burst 40) refuses
# most with BART_ERATE, and the per-peer cap (128) is never passed.
rpcinfo | grep -q '^ *1253834754 ' || not_ok "mute program still registered"
( for i in $(seq 100); do clnt localhost stats | awk '/^subscribers:/ {print $2}'
	sleep 0.05; done ) >"$T/subs.samples" 2>/dev/null &
SAMP=$!; track $SAMP
out=$(RAW subflood 3000 0x4abc0002 tcp)
kill $SAMP 2>/dev/null; wait $SAMP 2>/dev/null
echo "# $out"
maxsubs=$(sort -n "$T/subs.samples" | tail -1)
nok=$(echo "$out" | sed -n 's/.* ok=\([0-9]*\).*/\1/p')
if [ "${nok:-3000}" -le 128 ]; then ok "3000 SUBSCRIBEs from one peer: only $nok accepted"; else
	not_ok "SUBSCRIBE flood capped: $out"; fi
if [ "${maxsubs:-999}" -le 128 ] && [ "${maxsubs:-0}" -ge 1 ]; then
	ok "live subscriptions during the flood peaked at $maxsubs (cap 128)"
else not_ok "live subscriptions during the flood peaked at ${maxsubs:-?} (cap 128)"; fi
expect_run "after SUBSCRIBE flood: count answers" 0 "^I was called" "" clnt localhost count 1

expect_run "daemon still serving at the end" 0 "^I was called" "" clnt localhost count 1
finish
