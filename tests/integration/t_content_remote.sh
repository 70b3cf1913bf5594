#!/bin/bash
# SPDX-License-Identifier: ISC
# t_content_remote.sh: the chat rate limit for callers on other hosts
# (netns.sh): per IPv4 address, per IPv6 /64.  Hosts b and c have their
# own IPv4 addresses but share 2001:db8::/64, so over IPv6 they are one
# peer and over IPv4 two.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

net_setup a b c || { not_ok "network setup"; finish; exit 1; }
host_rpcbind a || { not_ok "rpcbind on hosta"; finish; exit 1; }
host_svc a --chat-rate 1 --chat-burst 3 || { not_ok "bart_svc on hosta"; finish; exit 1; }
A4=${IP4[a]} A6=${IP6[a]} B4=${IP4[b]}

# flood H NETID ADDR SECS: CHAT_SENDs from host H for SECS seconds, in
# the background (long enough for the checks made meanwhile).
flood() {
	POKE_NETTYPE=$2 hstart "$1" "$BIN/bart_poke" sendmany "$3" 10000000 "$4" \
	    >"$T/flood.$1.$2" 2>&1 &
	FLOOD=$!
	track $FLOOD
}
over() { grep -q "chat: $1 is over 1 a second" "$T/a/svc.log"; }

# --- IPv4: b floods, c (another address) is not slowed ------------------
flood b tcp "$A4" 6
if wait_for 10 over "$B4"; then ok "hostb over IPv4 hit the limit (logged by address)"; else
	not_ok "hostb over IPv4 hit the limit"; sed 's/^/#   /' "$T/a/svc.log" | tail -5; fi
expect_run "hostb's one-shot say during its flood: exit 75" 75 "" "too many requests" \
    hrun b "$BIN/bart_clnt" -T tcp "$A4" say bob "one more"
kill -0 "$FLOOD" 2>/dev/null && running=yes || running=no
expect_run "hostc (another IPv4 address) is served during hostb's flood" 0 "stored" "" \
    hrun c "$BIN/bart_clnt" -T tcp "$A4" say carol "hello over IPv4"
if [ $running = no ]; then echo "# note: hostb's flood had ended before hostc's say"; fi
wait "$FLOOD"
read -r _ nok _ nrate _ nother <"$T/flood.b.tcp"
echo "# hostb over IPv4: $(cat "$T/flood.b.tcp")"
# 6 s at 1 a second after a burst of 3: at most 10 (a slow start: 11).
if [ "${nrate:-0}" -ge 1 ] && [ "${nok:-0}" -ge 3 ] && [ "$nok" -le 11 ] &&
    [ "$nother" = 0 ]; then
	ok "hostb's flood: ${nok} stored, ${nrate} refused with BART_ERATE"
else not_ok "hostb's flood refused beyond the burst: $(cat "$T/flood.b.tcp")"; fi

# --- IPv6: b and c share a /64, so b's flood limits c too ------------------
flood b tcp6 "$A6" 6
if wait_for 10 over "2001:db8::/64"; then ok "hostb over IPv6 hit the limit (logged as its /64)"; else
	not_ok "hostb over IPv6 hit the limit"; sed 's/^/#   /' "$T/a/svc.log" | tail -5; fi
kill -0 "$FLOOD" 2>/dev/null && running=yes || running=no
expect_run "hostc in the same /64 is limited with it: exit 75" 75 "" "too many requests" \
    hrun c "$BIN/bart_clnt" -T tcp6 "$A6" say carol "hello over IPv6"
kill -0 "$FLOOD" 2>/dev/null || running=no
if [ $running = no ]; then echo "# note: hostb's flood had ended around hostc's say"; fi
expect_run "hostc over IPv4 is still its own peer" 0 "stored" "" \
    hrun c "$BIN/bart_clnt" -T tcp "$A4" say carol "IPv4 again"
wait "$FLOOD"
echo "# hostb over IPv6: $(cat "$T/flood.b.tcp6")"
finish
