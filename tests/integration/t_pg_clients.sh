#!/bin/bash
# SPDX-License-Identifier: ISC
# t_pg_clients.sh: bart_clnt with a host list over three bart servers on
# one PostgreSQL: counts while one server is kill -9'd (every call
# answers, counter == acknowledged sum, nothing doubled), a list whose
# first host is dead (nothing listening; packets dropped) answers within
# -t, a name with two addresses counts as a list, a chat client whose
# server is kill -9'd moves to the next host, says so, and prints every
# message once, in order, and a server whose database is cut off
# (BART_EUNAVAIL) hands the call to the next.  Last, one host alone (SQLite) as before.
# Hosts (netns.sh): p = PostgreSQL, a b c = bart servers, x = client,
# d = no rpcbind (refuses), e = drops every packet, s = bart on SQLite.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/pg.sh"

net_setup p a b c x e d s || { not_ok "network setup"; finish; exit 1; }
pg_init p || { not_ok "PostgreSQL on hostp"; finish; exit 1; }
for h in a b c x e s; do
	host_rpcbind "$h" || { not_ok "rpcbind on host$h"; finish; exit 1; }
done
CONN=$(pg_conninfo p)
for h in a b c; do
	host_svc "$h" --chat-rate 0 --store "$CONN" ||
	    { not_ok "bart_svc on host$h"; finish; exit 1; }
done
db_counter() { pg_sql p "SELECT value FROM bart_counter"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# ---- counts through a list while one server is kill -9'd --------------------
# loop NAME LIST: one bart_clnt per count until $T/stop (at most 400).
loop() {
	local i rc
	for i in $(seq 400); do
		[ -e "$T/stop" ] && break
		hrun x "$BIN/bart_clnt" -t 10 "$2" count 1 >>"$T/$1.out" \
		    2>>"$T/$1.err"
		echo $? >>"$T/$1.rc"
	done
}
rm -f "$T/stop"
loop l1 hosta,hostb,hostc &
L1=$!
track $L1
loop l2 hosta,hostc,hostb &
L2=$!
track $L2
n_acked() { cat "$T"/l[12].out 2>/dev/null | wc -l; }
above() { [ "$(n_acked)" -ge "$1" ]; }
wait_for 20 above 20 || not_ok "the load counts through hosta"
host_svc_kill9 a
before=$(n_acked)
wait_for 30 above $((before + 30)) || not_ok "the load goes on without hosta"
touch "$T/stop"
for p in $L1 $L2; do
	for i in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	stop_pid "$p"
done
calls=$(cat "$T"/l[12].rc | wc -l)
fails=$(cat "$T"/l[12].rc | grep -vcx 0)
acked=$(n_acked)
expect_eq "every count through the list answered ($calls calls, hosta killed after $before)" \
    "0" "$fails" || sed 's/^/#   stderr: /' "$T"/l[12].err | head
totals=$(sed -n 's/^I was called \([0-9]*\) times\.$/\1/p' "$T"/l[12].out | sort -n)
expect_eq "no total printed twice (nothing doubled)" "" \
    "$(echo "$totals" | uniq -d | tr '\n' ' ')"
expect_eq "counter == acknowledged sum" "$acked" "$(db_counter)"
expect_eq "the highest total printed is the counter" "$(db_counter)" \
    "$(echo "$totals" | tail -1)"
TOTAL=$(db_counter)

# ---- a dead first host ---------------------------------------------------------
# hostd: no rpcbind (refused); hoste: drops every packet (a black hole,
# where libtirpc's blocking connect() would wait minutes).
hrun e nft -f - <<'EOF' || not_ok "nft black hole on hoste"
table inet bart_bh {
	chain in { type filter hook input priority 0; policy drop; }
}
EOF
# xt CMD...: CMD on hostx, killed after 30 s (a hang must not stall us).
xt() { timeout -s KILL 30 nsenter -t "${NET_HOLDER[x]}" -n -m -u -- "$@"; }
# within DESC ARGS MS: count 1 through ARGS (a list, maybe -T) with -t 3
# answers within MS.
within() {
	local t0 el
	t0=$(date +%s%N)
	expect_run "$1: answers" 0 "^I was called [0-9]+ times\.$" "" \
	    xt "$BIN/bart_clnt" -t 3 $2 count 1
	el=$(ms_since "$t0")
	if [ "$el" -lt "$3" ]; then ok "$1: within -t 3 (${el} ms)"; else
		not_ok "$1: within -t 3 (${el} ms)"; fi
}
within "first host has no rpcbind (hostd,hostb)" hostd,hostb 3500
within "first host drops every packet (hoste,hostb)" hoste,hostb 3500
within "two dead hosts first (hoste,hostd,hostc)" hoste,hostd,hostc 3500
within "over udp, first host drops every packet (-T udp hoste,hostc)" \
    "-T udp hoste,hostc" 3500
within "over udp, first host has no rpcbind (-T udp hostd,hostc)" \
    "-T udp hostd,hostc" 3500
# One name, two addresses, tried in getaddrinfo's order: hoste's first
# (RFC 6724 sorts the address nearest hostx's first: .15 before .12).
echo "${IP4[b]} twoaddr" >>"$NET_DIR/hosts"
echo "${IP4[e]} twoaddr" >>"$NET_DIR/hosts"
if [ "$(hrun x getent ahostsv4 twoaddr | awk '$2 == "STREAM" { print $1 }' |
    tr '\n' ' ')" = "${IP4[e]} ${IP4[b]} " ]; then
	within "a name with two addresses, the first dead (twoaddr)" twoaddr 3500
else
	not_ok "twoaddr resolves to hoste's address, then hostb's"
	hrun x getent ahostsv4 twoaddr | sed 's/^/#   /'
fi
expect_run "every host of the list dead: a clear error, exit 69" 69 "" \
    "no server of the list answered" \
    xt "$BIN/bart_clnt" -t 2 hostd,hoste count 1
expect_eq "counted once each: 6 more" $((TOTAL + 6)) "$(db_counter)"

# ---- chat through a list: the subscriber's server is kill -9'd --------------
host_svc a --chat-rate 0 --store "$CONN" || not_ok "hosta again"
mkfifo "$T/chat.in"
sleep 300 >"$T/chat.in" &
track $!
hstart x "$BIN/bart_clnt" hostb,hostc,hosta chat watcher \
    <"$T/chat.in" >"$T/chat.out" 2>"$T/chat.err" &
CHAT=$!
track $CHAT
wait_for 10 grep -q "joined" "$T/chat.err" || not_ok "the chat client joined"
say() { hrun x "$BIN/bart_clnt" -t 10 "$1" say sender "$2" >/dev/null ||
	echo "say $2 via $1 failed" >>"$T/say.err"; }
for i in 1 2 3 4 5; do say hostc "m$i"; done
lines() { [ "$(wc -l <"$T/chat.out")" -ge "$1" ]; }
wait_for 10 lines 5 || not_ok "the first 5 messages arrive through hostb"
host_svc_kill9 b
# During the move: through hosta, at once; after it: through hostc.
for i in 6 7 8 9 10; do say hosta "m$i"; sleep 0.2; done
if wait_for 15 grep -q "moved to server hostc" "$T/chat.err"; then
	ok "the chat client says it moved: $(grep moved "$T/chat.err")"
else
	not_ok "the chat client says it moved to hostc"
	sed 's/^/#   /' "$T/chat.err"
fi
for i in 11 12 13 14 15; do say hostc "m$i"; done
for i in 16 17 18 19 20; do say hosta "m$i"; done
expect_eq "20 messages sent" "" "$(cat "$T/say.err" 2>/dev/null)"
wait_for 10 lines 20
hrun x "$BIN/bart_clnt" hostc history --since 0 -n 1000 |
    sed -E 's/^[0-9]+ [0-9-]+ [0-9:]+ [^ ]+ //' >"$T/hist"
expect_eq "history holds m1..m20" 20 "$(wc -l <"$T/hist")"
if diff "$T/hist" "$T/chat.out" >"$T/diff"; then
	ok "the chat client printed all 20 messages once, in the store's order"
else
	not_ok "the chat client printed every message once, in order"
	sed 's/^/#   /' "$T/diff" | head -20
	sed 's/^/#   stderr: /' "$T/chat.err"
fi
stop_pid $CHAT

# ---- a server whose database is away answers BART_EUNAVAIL: the next ------
hrun a nft -f - <<EOF || not_ok "nft cuts hosta off from the database"
table inet bart_cut {
	chain out { type filter hook output priority 0; ip daddr ${IP4[p]} tcp dport $PG_PORT drop; }
}
EOF
eunavail() { hrun x "$BIN/bart_clnt" -t 2 hosta count 1; [ $? = 71 ]; }
if wait_for 30 eunavail; then
	ok "hosta alone: BART_EUNAVAIL (exit 71), its database cut off"
	t0=$(date +%s%N)
	expect_run "hosta,hostc: hosta's BART_EUNAVAIL moves the call to hostc" 0 \
	    "^I was called [0-9]+ times\.$" "" xt "$BIN/bart_clnt" -t 5 hosta,hostc count 1
	el=$(ms_since "$t0")
	if [ "$el" -lt 2500 ]; then ok "... at once, not after hosta's share (${el} ms)"
	else not_ok "... at once, not after hosta's share (${el} ms)"; fi
else
	not_ok "hosta alone answers BART_EUNAVAIL with its database cut off"
	tail -5 "$T/a/svc.log" | sed 's/^/#   /'
fi
hrun a nft delete table inet bart_cut

# ---- one host alone, SQLite: as before --------------------------------------
host_svc s || not_ok "bart_svc on hosts (SQLite)"
expect_run "one host (SQLite): count" 0 "^I was called 1 times?\.$" "" \
    hrun x "$BIN/bart_clnt" hosts count 1
expect_run "one host (SQLite): its own counter" 0 "^I was called 3 times\.$" "" \
    hrun x "$BIN/bart_clnt" hosts count 2
expect_run "one host without rpcbind: the old words, exit 69" 69 "" \
    "^bart_clnt: hostd: cannot reach rpcbind" hrun x "$BIN/bart_clnt" hostd count 1
host_svc_kill9 s
expect_run "one host whose daemon died: the old words, exit 69" 69 "" \
    "^bart_clnt: hosts: bart is registered with rpcbind but does not answer" \
    hrun x "$BIN/bart_clnt" -t 2 hosts count 1

net_teardown
finish
