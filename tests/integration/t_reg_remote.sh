#!/bin/bash
# SPDX-License-Identifier: ISC
# t_reg_remote.sh: --listen seen from another host (netns.sh).  hosta
# has three addresses; bart_svc listens on two of them.  rpcbind, which
# keeps one address per netid, must send hostb's clients to bart on
# each of the two, and nothing may answer on the third.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

net_setup a b || { not_ok "network setup"; finish; exit 1; }
host_rpcbind a || { not_ok "rpcbind on hosta"; finish; exit 1; }
A4=${IP4[a]}
ip -n hosta addr add 192.0.2.100/24 dev eth0
ip -n hosta addr add 198.51.100.1/24 dev eth0
ip -n hostb addr add 198.51.100.2/24 dev eth0

hstart a "$BIN/bart_svc" -f -v -S "$T/a/state" -p "$T/a/svc.pid" \
    -s "$T/a/svc.sock" --listen 192.0.2.100 --listen 198.51.100.1 \
    2>>"$T/a/svc.log" &
SVC=$!
track $SVC
regd() { hrun a rpcinfo 2>/dev/null | awk -v p=$PROG '$1 == p {print $3}' |
    sort | paste -sd, -; }
regd_ok() { [ "$(regd)" = "local,tcp,udp" ]; }
if wait_for 10 regd_ok; then ok "hosta: registered on tcp, udp, local"
else not_ok "hosta: registered on tcp, udp, local: '$(regd)'"
	sed 's/^/#   /' "$T/a/svc.log"; fi

# Only the two addresses, one port per netid.
socks=$(hrun a ss -H -ltunp | awk -v p="pid=$SVC," 'index($0, p) {print $1, $5}' |
    sed 's/:[0-9]*$//' | sort | paste -sd' ' -)
expect_eq "hosta: tcp and udp on the two --listen addresses only" \
    "tcp 192.0.2.100 tcp 198.51.100.1 udp 192.0.2.100 udp 198.51.100.1" "$socks"

n=0
for addr in 192.0.2.100 198.51.100.1; do
	for netid in tcp udp; do
		n=$((n + 1))
		expect_run "hostb -> $addr over $netid: served" 0 \
		    "^I was called $n times" "" \
		    hrun b "$BIN/bart_clnt" -T $netid -t 5 "$addr" count 1
	done
done

# hosta's own first address: rpcbind answers, bart is not there, and
# the counter saw only the calls served above.
other_ok() {
	if hrun b "$BIN/bart_clnt" -T tcp -t 3 "$A4" count 1; then
		echo "answered on $A4"; return 1; fi
	[ "$(hrun b "$BIN/bart_clnt" -T tcp -t 5 198.51.100.1 count 0)" = \
	    "I was called $n times." ]
}
if other_ok >"$T/why" 2>&1; then
	ok "hostb -> $A4 (not a --listen address): nothing answers"
else not_ok "hostb -> $A4 (not a --listen address): nothing answers"
	sed 's/^/#   /' "$T/why"; fi
finish
