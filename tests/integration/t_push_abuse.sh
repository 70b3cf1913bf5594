#!/bin/bash
# SPDX-License-Identifier: ISC
# t_push_abuse.sh: what a hostile subscriber can no longer do.  A local
# user cannot make bart connect to a port it does not own by
# registering an arbitrary address with rpcbind; a flood of failing
# SUBSCRIBEs costs the flooder (rate, per-uid cap), not the daemon's
# memory or other users, and its log lines are rate-limited.
. "$(dirname "$0")/lib.sh"
ns_setup
SIM=$BIN/bart_subsim
[ -x "$SIM" ] || SIM=$BIN/../bart_subsim
RAW() { "$BIN/bart_raw" -s "$T/svc.sock" "$@"; }
AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
start_svc || exit 1
chmod 755 "$T"			# nobody must reach the local socket
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SVC_PID/status"; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$SVC_PID/status"; }
maps() { wc -l <"/proc/$SVC_PID/maps"; }
subscribers() { clnt localhost stats | awk '/^subscribers:/ {print $2}'; }

# --- a local user points its callback at someone else's port ------------
# nobody registers programs whose address is bart's own tcp port (a
# root socket) and a port where nothing listens.  bart must refuse both
# without a single SYN to either port.
BPORT=$(rpcinfo -p localhost | awk -v p=$PROG '$1 == p && $3 == "tcp" {print $4; exit}')
uaddr() { echo "127.0.0.1.$(($1 / 256)).$(($1 % 256))"; }
hold() {		# hold NAME PROG PORT: register as nobody until killed
	mkfifo "$T/$1.in"
	sleep 600 >"$T/$1.in" &
	track $!
	eval "HOLD_$1=$!"
	"${AS_NOBODY[@]}" "$SIM" -R "$2" -U "$(uaddr "$3")" <"$T/$1.in" >"$T/$1.out" 2>&1 &
	track $!
	wait_for 5 grep -q registered "$T/$1.out" || not_ok "$1 registered: $(cat "$T/$1.out")"
}
hold root 0x4abc0011 "$BPORT"
hold none 0x4abc0012 9
"${AS_NOBODY[@]}" "$BIN/bart_raw" cbserve 0x4abc0013 answer 60 >"$T/cb.own" 2>&1 &
track $!
wait_for 5 grep -q port "$T/cb.own" || not_ok "nobody's own callback registered"
OPORT=$(sed -n 's/^cbserve: port //p' "$T/cb.own")
owner=$(rpcinfo 2>/dev/null | awk '$1 == 1253834769 && $3 == "tcp" {print $6}')
expect_eq "the program pointing at bart's port is nobody's in rpcbind" 65534 "$owner"
nft add table inet bartpush
nft add chain inet bartpush out '{ type filter hook output priority 0 ; policy accept ; }'
nft add rule inet bartpush out meta skuid 0 tcp dport "$BPORT" tcp flags '& (syn|ack) == syn' counter
nft add rule inet bartpush out meta skuid 0 tcp dport 9 tcp flags '& (syn|ack) == syn' counter
nft add rule inet bartpush out meta skuid 0 tcp dport "$OPORT" tcp flags '& (syn|ack) == syn' counter
expect_run "nobody (local) subscribing to root's socket: refused" 0 "^renew: .*\(8\)$" "" \
    "${AS_NOBODY[@]}" "$BIN/bart_raw" -s "$T/svc.sock" subscribe 0x4abc0011 local
expect_run "nobody (tcp) subscribing to root's socket: refused" 0 "^renew: .*\(8\)$" "" \
    "${AS_NOBODY[@]}" "$BIN/bart_raw" subscribe 0x4abc0011 tcp
expect_run "nobody subscribing to a port where nothing listens: refused" 0 "^renew: .*\(9\)$" "" \
    "${AS_NOBODY[@]}" "$BIN/bart_raw" -s "$T/svc.sock" subscribe 0x4abc0012 local
# Its own socket is fine (and shows that the counters see bart's SYNs).
expect_run "nobody subscribing to its own socket: active" 0 "^renew: active$" "" \
    "${AS_NOBODY[@]}" "$BIN/bart_raw" -s "$T/svc.sock" subscribe 0x4abc0013 local
pk=($(nft list chain inet bartpush out | grep -o 'packets [0-9]*' | awk '{print $2}'))
echo "# bart's SYNs: to its own port ${pk[0]:-?}, to port 9 ${pk[1]:-?}, to nobody's callback ${pk[2]:-?}"
if [ "${pk[2]:-0}" -ge 1 ]; then ok "bart connected to nobody's own callback"; else
	not_ok "no SYN counted to nobody's own callback (counters broken?)"; fi
expect_eq "bart never connected to the ports it was pointed at" "0 0" "${pk[0]:-x} ${pk[1]:-x}"
nft delete table inet bartpush
grep -q "is served by uid 0, not by uid 65534: refused" "$T/svc.log" &&
	ok "refusal logged with the socket's owner" || not_ok "refusal logged with the socket's owner"

# --- callbacks leave from the address the SUBSCRIBE came to -------------
# (a client accepts DELIVERs only from the server address it used)
"$BIN/bart_raw" cbserve 0x4abc0014 answer 60 >"$T/cb.via" 2>&1 &
track $!
wait_for 5 grep -q port "$T/cb.via" || not_ok "callback for the via test registered"
VPORT=$(sed -n 's/^cbserve: port //p' "$T/cb.via")
nft add table inet bartvia
nft add chain inet bartvia out '{ type filter hook output priority 0 ; policy accept ; }'
nft add rule inet bartvia out ip saddr 127.0.0.9 ip daddr 127.0.0.6 tcp dport "$VPORT" tcp flags '& (syn|ack) == syn' counter
nft add rule inet bartvia out ip saddr != 127.0.0.9 tcp dport "$VPORT" tcp flags '& (syn|ack) == syn' counter
expect_run "subscribing from 127.0.0.6 to bart at 127.0.0.9: active" 0 "^renew: active$" "" \
    "$BIN/bart_raw" -a 127.0.0.9 -b 127.0.0.6 subscribe 0x4abc0014 tcp
pk=($(nft list chain inet bartvia out | grep -o 'packets [0-9]*' | awk '{print $2}'))
nft delete table inet bartvia
echo "# callback SYNs: from 127.0.0.9 ${pk[0]:-?}, from elsewhere ${pk[1]:-?}"
expect_eq "the callback left from 127.0.0.9, the address the SUBSCRIBE came to" \
    "1 0" "$([ "${pk[0]:-0}" -ge 1 ] && echo 1 || echo 0) ${pk[1]:-x}"

# --- a flood of failing SUBSCRIBEs -------------------------------------
# One peer (root) sends SUBSCRIBEs for an unregistered program for 8 s.
rss0=$(rss_kb); maps0=$(maps); thr0=$(threads)
lines0=$(wc -l <"$T/svc.log")
( end=$((SECONDS + 8)); while [ $SECONDS -lt $end ]; do RAW subflood 3000 0x4abcdef0 tcp; done ) \
    >"$T/flood.out" 2>&1 &
FLOOD=$!; track $FLOOD
sleep 3
# Meanwhile another user subscribes as usual.
expect_run "during the flood, another user's SUBSCRIBE is accepted and active" 0 \
    "^renew: active$" "" \
    "${AS_NOBODY[@]}" "$BIN/bart_raw" -s "$T/svc.sock" subscribe 0x4abc0013 local
live=$(subscribers)
wait $FLOOD
rss1=$(rss_kb); maps1=$(maps)
sent=$(awk -F'[ =]' '/^subflood/ {s += $3} END {print s + 0}' "$T/flood.out")
okd=$(awk -F'[ =]' '/^subflood/ {s += $5} END {print s + 0}' "$T/flood.out")
echo "# flood: $sent SUBSCRIBEs in 8 s, $okd accepted; RSS ${rss0} -> ${rss1} kB, maps ${maps0} -> ${maps1}, live during it ${live}"
if [ "$sent" -ge 1000 ] && [ "$okd" -le 128 ]; then ok "flood of $sent SUBSCRIBEs: only $okd accepted (rate and per-uid cap)"; else
	not_ok "flood: $sent sent, $okd accepted"; fi
# ASan keeps freed memory in quarantine (up to 256 MB): there the bound
# is looser, and LeakSanitizer checks that nothing is lost.
rlim=4096; [ -n "${BART_ASAN:-}" ] && rlim=65536
if [ $((rss1 - rss0)) -lt $rlim ]; then ok "flood: daemon RSS ${rss0} -> ${rss1} kB"; else
	not_ok "flood: daemon RSS grew ${rss0} -> ${rss1} kB"; fi
if [ $((maps1 - maps0)) -lt 32 ]; then ok "flood: memory maps ${maps0} -> ${maps1}"; else
	not_ok "flood: memory maps grew ${maps0} -> ${maps1}"; fi
expect_eq "flood: daemon threads unchanged" "$thr0" "$(threads)"
if [ "${live:-999}" -le 129 ]; then ok "flood: live subscriptions stayed at $live (cap 128 per uid)"; else
	not_ok "flood: $live live subscriptions"; fi
# Repeated log lines are rate-limited, and the count is said.
suppressed() { grep -q "more lines like .* suppressed" "$T/svc.log"; }
wait_for 15 suppressed && ok "repeated log lines suppressed with a count" ||
	not_ok "no 'more lines like ... suppressed' line"
n=$(( $(wc -l <"$T/svc.log") - lines0 ))
if [ "$n" -lt 400 ]; then ok "flood logged $n lines"; else not_ok "flood logged $n lines"; fi
grep "suppressed" "$T/svc.log" | head -3 | sed 's/^/# /'
expect_run "after the flood: count answers" 0 "^I was called" "" clnt localhost count 1
finish
