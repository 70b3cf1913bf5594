#!/bin/bash
# SPDX-License-Identifier: ISC
# t_review_pg.sh: a reviewer's checks of the PostgreSQL store's database
# worker, its group commit and the loop's fast path (pgstore.c), and of
# serve.c's parked calls, driven with raw RPC (t_review_rpc.py) and with
# faults put into the database itself (a trigger that refuses or delays
# one request identity):
#  1. a group in which one statement is refused: the others commit once,
#     their answers are true, the refused one changes nothing; resends
#     of every identity get the first answers; replies in call order;
#  2. a lone refused call (the loop's fast path hands it to the worker);
#  2b. two servers, each a group of a count and a chat line, in opposite
#     order: no lock-order deadlock in PostgreSQL (groups by class);
#  3. a connection closed while its calls wait: they commit once, the
#     daemon goes on, no descriptor left behind;
#  4. UDP: a resend of an answered datagram gets the cached reply;
#  5. no descriptor leaked over five lost database connections;
#  6. SIGTERM with calls waiting for a slow database: each answered
#     before the daemon stops, every acknowledged count committed;
#  6b. SIGTERM while a refused group's 15 other calls run again one by
#     one (1 s each): stops within 10 s;
#  7. the database silent: one connection's calls answered in order, also
#     when the second is refused at the bound of 256; then
#     SIGTERM while the feed thread connects: the daemon stops within
#     10 s (parked calls get 5 s, a statement 3 s, the feed thread 2 s).
# A check marked KNOWN-FAIL is a defect reported to the store's owner:
# printed, not counted as a failure.
# Hosts (netns.sh): p = PostgreSQL, a = bart, x = client.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/pg.sh"

RPC=$(cd "$(dirname "$0")" && pwd)/t_review_rpc.py
known_fail() { echo "# KNOWN-FAIL - $TNAME: $*"; }
net_setup p a b x || { not_ok "network setup"; finish; exit 1; }
pg_init p || { not_ok "PostgreSQL on hostp"; finish; exit 1; }
for h in a b x; do
	host_rpcbind "$h" || { not_ok "rpcbind on host$h"; finish; exit 1; }
done
CONN=$(pg_conninfo p)
host_svc a --chat-rate 0 --store "$CONN" ||
    { not_ok "bart_svc on hosta"; finish; exit 1; }
db_counter() { pg_sql p "SELECT value FROM bart_counter"; }
counter_is() { [ "$(db_counter)" = "$1" ]; }
fds_eq() { [ "$(svc_fds)" -eq "$1" ]; }
sleeping() {
	[ "$(pg_sql p "SELECT count(*) FROM pg_stat_activity
	    WHERE wait_event = 'PgSleep'")" -ge 1 ]
}
lost_more() { [ "$(grep -c 'lost PostgreSQL' "$T/a/svc.log")" -gt "$1" ]; }
connecting() {
	hrun a ss -tnH state syn-sent "( dport = :$PG_PORT )" | grep -q .
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
xt() { timeout -s KILL 40 nsenter -t "${NET_HOLDER[x]}" -n -m -u -- "$@"; }
svc_fds() { ls "/proc/${SVC_PIDS[a]}/fd" 2>/dev/null | wc -l; }
port_of() {
	hrun x rpcinfo -p "host${2:-a}" | awk -v p="$PROG" -v t="$1" \
	    '$1 == p && $3 == t { print $4; exit }'
}
TPORT=$(port_of tcp)
UPORT=$(port_of udp)
[ -n "$TPORT" ] && [ -n "$UPORT" ] || { not_ok "bart's ports"; finish; exit 1; }

# Faults inside the database: identity client 66 (0x42) is refused by a
# trigger on bart_reqs; clients 78, 79, 80 and 85 wait there 0.05, 0.5,
# 0.5 and 1 s
# (a slow database).
pg_sql p "CREATE FUNCTION review_fault() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF NEW.client = 66 THEN RAISE EXCEPTION 'review: refused'; END IF;
	IF NEW.client = 78 THEN PERFORM pg_sleep(0.05); END IF;
	IF NEW.client = 79 OR NEW.client = 80 THEN
		PERFORM pg_sleep(0.5);
	END IF;
	IF NEW.client = 85 THEN PERFORM pg_sleep(1); END IF;
	RETURN NEW;
END \$\$;
CREATE TRIGGER review_fault BEFORE INSERT ON bart_reqs
    FOR EACH ROW EXECUTE FUNCTION review_fault();" ||
    not_ok "the fault trigger"
xt "$BIN/bart_clnt" -t 5 hosta count 0 >/dev/null || not_ok "a first count"

# ---- 1. a group with one refused statement ---------------------------------
c0=$(db_counter)
xt python3 "$RPC" tcp "${IP4[a]}" "$TPORT" "$PROG" 11:1:1 11:2:10 66:1:100 \
    11:3:1000 11:4:10000 >"$T/g1.out" 2>&1
sed 's/^/#   /' "$T/g1.out"
c1=$(db_counter)
order=$(awk '{ print $1 }' "$T/g1.out" | tr '\n' ' ')
expect_eq "group: five replies in call order" \
    "11:1 11:2 66:1 11:3 11:4 " "$order"
sts=$(awk '{ print $2 }' "$T/g1.out" | tr '\n' ' ')
expect_eq "group: four committed, the refused one BART_ESTORE (5)" \
    "0 0 5 0 0 " "$sts"
expect_eq "group: the counter grew by the four, exactly" \
    $((c0 + 11011)) "$c1"
last=$(awk '$1 == "11:4" { print $3 }' "$T/g1.out")
expect_eq "group: the last total is the counter" "$c1" "$last"
xt python3 "$RPC" tcp "${IP4[a]}" "$TPORT" "$PROG" 11:1:1 11:2:10 11:3:1000 \
    11:4:10000 >"$T/g1b.out" 2>&1
if [ "$(awk '{ print $3 }' "$T/g1.out" | grep -v '^-$')" = \
    "$(awk '{ print $3 }' "$T/g1b.out")" ]; then
	ok "group: resent identities get their first answers"
else
	not_ok "group: resent identities get their first answers"
	sed 's/^/#   /' "$T/g1b.out"
fi
expect_eq "group: resends change nothing" "$c1" "$(db_counter)"
expect_eq "group: one identity row each" 4 \
    "$(pg_sql p "SELECT count(*) FROM bart_reqs WHERE client = 11")"

# ---- 2. a lone refused call (fast path, then the worker) --------------------
xt python3 "$RPC" tcp "${IP4[a]}" "$TPORT" "$PROG" 66:2:5 >"$T/g2.out" 2>&1
expect_eq "lone refused call: BART_ESTORE" "66:2 5 -" "$(cat "$T/g2.out")"
expect_eq "lone refused call: nothing changed" "$c1" "$(db_counter)"
expect_run "a count after it" 0 "" "" xt "$BIN/bart_clnt" -t 5 hosta count 1
c1=$((c1 + 1))

# ---- 2b. two servers' groups, a count and a chat line each, in opposite order --
# hosta's group: COUNT (locks bart_counter's row; its identity row waits
# 0.5 s in the trigger), then CHAT_SEND (wants bart_chatseq's row).
# hostb's group: CHAT_SEND (locks bart_chatseq's row, waits 0.5 s),
# then COUNT (wants bart_counter's row): a lock-order deadlock that
# single-statement transactions never had; PostgreSQL breaks it after
# deadlock_timeout (1 s), both groups then run one call at a time.
host_svc b --chat-rate 0 --store "$CONN" ||
    { not_ok "bart_svc on hostb"; finish; exit 1; }
BPORT=$(port_of tcp b)
dl0=$(grep -c "deadlock detected" "${PG_DIR[p]}/log")
c2=$(db_counter)
t0=$(date +%s%N)
( xt python3 "$RPC" tcp "${IP4[a]}" "$TPORT" "$PROG" 80:1:1 say:81:1 \
    >"$T/dla.out" 2>&1; touch "$T/dla.done" ) &
track $!
( xt python3 "$RPC" tcp "${IP4[b]}" "$BPORT" "$PROG" say:80:1 84:1:1 \
    >"$T/dlb.out" 2>&1; touch "$T/dlb.done" ) &
track $!
wait_for 30 test -e "$T/dla.done" -a -e "$T/dlb.done"
el=$(ms_since "$t0")
cat "$T/dla.out" "$T/dlb.out" | sed 's/^/#   /'
expect_eq "two servers' mixed groups: all four answered BART_OK" "0 0 0 0 " \
    "$(cat "$T/dla.out" "$T/dlb.out" | awk '{ print $2 }' | tr '\n' ' ')"
expect_eq "two servers' mixed groups: the counter grew by 2" $((c2 + 2)) \
    "$(db_counter)"
dl=$(( $(grep -c "deadlock detected" "${PG_DIR[p]}/log") - dl0 ))
if [ "$dl" = 0 ]; then
	ok "two servers' mixed groups: no deadlock (${el} ms)"
else
	not_ok "two servers' mixed groups: no deadlock in PostgreSQL (got $dl, ${el} ms)"
	grep -m 2 -A2 "deadlock detected" "${PG_DIR[p]}/log" | sed 's/^/#   /'
fi
stop_pid "${SVC_PIDS[b]}"
c1=$(db_counter)

# ---- 3. a connection closed while its calls wait -----------------------------
fds0=$(svc_fds)
specs=""
for i in $(seq 16); do specs="$specs 78:$i:1"; done
# shellcheck disable=SC2086
xt python3 "$RPC" tcp "${IP4[a]}" "$TPORT" "$PROG" $specs --close
expect_run "closed connection: ping answers meanwhile" 0 "" "" \
    xt "$BIN/bart_clnt" -t 2 hosta ping
want=$((c1 + 16))
if wait_for 20 counter_is "$want"; then
	ok "closed connection: its 16 calls committed, once each"
else
	not_ok "closed connection: counter $want (got $(db_counter))"
fi
expect_run "closed connection: a count after it" 0 "" "" \
    xt "$BIN/bart_clnt" -t 5 hosta count 1
c1=$((want + 1))
wait_for 5 fds_eq "$fds0"
expect_eq "closed connection: no descriptor left" "$fds0" "$(svc_fds)"

# ---- 4. UDP: the answered datagram's resend -----------------------------------
xt python3 "$RPC" udp "${IP4[a]}" "$UPORT" "$PROG" 777 12:1:1 3 >"$T/u.out" 2>&1
sed 's/^/#   /' "$T/u.out"
expect_eq "udp: three replies, one and the same" 1 \
    "$(sort -u "$T/u.out" | wc -l)"
expect_eq "udp: the first answered BART_OK" 0 "$(head -1 "$T/u.out" | cut -d' ' -f1)"
expect_eq "udp: the counter grew once" $((c1 + 1)) "$(db_counter)"
c1=$((c1 + 1))

# ---- 5. descriptors over lost connections ---------------------------------------
fds0=$(svc_fds)
for i in 1 2 3 4 5; do
	pg_sql p "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	    WHERE application_name = 'bart_svc'" >/dev/null
	wait_for 20 xt "$BIN/bart_clnt" -t 2 hosta count 0 ||
	    not_ok "serves again after lost connection #$i"
done
# the feed thread's connection comes back within its catch-up period
wait_for 5 fds_eq "$fds0"
expect_eq "five lost connections: as many descriptors as before" \
    "$fds0" "$(svc_fds)"

# ---- 6. SIGTERM with calls waiting for a slow database ---------------------------
c1=$(db_counter)
specs=""
for i in $(seq 4); do specs="$specs 79:$i:1"; done
# shellcheck disable=SC2086
( xt python3 "$RPC" tcp "${IP4[a]}" "$TPORT" "$PROG" $specs >"$T/t6.out" 2>&1
  touch "$T/t6.done" ) &
track $!
# the first statement waits in the trigger: the calls are parked
wait_for 5 sleeping || not_ok "a statement sleeps"
t0=$(date +%s%N)
kill -TERM "${SVC_PIDS[a]}"
for i in $(seq 300); do kill -0 "${SVC_PIDS[a]}" 2>/dev/null || break; sleep 0.05; done
el=$(ms_since "$t0")
if kill -0 "${SVC_PIDS[a]}" 2>/dev/null; then
	not_ok "SIGTERM, slow database: stopped within 15 s"
	stop_pid "${SVC_PIDS[a]}"
else
	ok "SIGTERM, slow database: stopped in ${el} ms"
fi
wait_for 10 test -e "$T/t6.done"
sed 's/^/#   /' "$T/t6.out"
nok=$(awk '$2 == 0' "$T/t6.out" | wc -l)
expect_eq "SIGTERM, slow database: the 4 waiting calls answered" 4 "$nok"
expect_eq "SIGTERM, slow database: each acknowledged count committed" \
    $((c1 + nok)) "$(db_counter)"

# ---- 6b. SIGTERM while a refused group's calls run again one by one ---------------
# A group of 16: the first refused (the pipeline aborts at once), the
# other 15 then run one transaction each, 1 s each in the trigger.  The
# parked calls get 5 s (DRAIN_US); pgstore_close must not wait for all
# 15 s of them.  A client connects and calls during the drain, which
# reads nothing more: it must wait for the worker, not spin on the
# readable listener and connection (it did: a CPU for the 5 s).
host_svc a --chat-rate 0 --store "$CONN" ||
    { not_ok "bart_svc on hosta again"; finish; exit 1; }
TPORT=$(port_of tcp)
specs="66:9:1"
for i in $(seq 15); do specs="$specs 85:$i:1"; done
# shellcheck disable=SC2086
( xt python3 "$RPC" tcp "${IP4[a]}" "$TPORT" "$PROG" $specs >"$T/t6b.out" 2>&1 ) &
track $!
wait_for 5 sleeping || not_ok "6b: a statement sleeps"
# utime + stime of PID, in clock ticks (/proc/PID/stat fields 14, 15)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null; }
cpu0=$(cpu_ticks "${SVC_PIDS[a]}")
cpu1=$cpu0
t0=$(date +%s%N)
kill -TERM "${SVC_PIDS[a]}"
( xt python3 "$RPC" tcp "${IP4[a]}" "$TPORT" "$PROG" 86:1:0 >/dev/null 2>&1 ) &
track $!
for i in $(seq 600); do
	kill -0 "${SVC_PIDS[a]}" 2>/dev/null || break
	c=$(cpu_ticks "${SVC_PIDS[a]}") && [ -n "$c" ] && cpu1=$c
	sleep 0.05
done
el=$(ms_since "$t0")
hz=$(getconf CLK_TCK)
# At most a quarter of one CPU over the drain (a spin takes all of it).
if [ $(( (cpu1 - cpu0) * 1000 / hz )) -le $(( el / 4 )) ]; then
	ok "6b: the drain waits, not spins: $(( (cpu1 - cpu0) * 1000 / hz )) ms of CPU in ${el} ms"
else
	not_ok "6b: the drain waits, not spins: $(( (cpu1 - cpu0) * 1000 / hz )) ms of CPU in ${el} ms"
fi
if [ "$el" -le 10000 ]; then
	ok "SIGTERM during a refused group's one-by-one runs: stopped in ${el} ms"
else
	not_ok "SIGTERM during a refused group's one-by-one runs: stopped within 10 s (took ${el} ms)"
fi
kill -0 "${SVC_PIDS[a]}" 2>/dev/null && stop_pid "${SVC_PIDS[a]}"
grep "still waiting for the store" "$T/a/svc.log" | tail -1 | sed 's/^/#   /'

# The database may still run 6b's statements (the connection is gone,
# but what it already received runs on, a second each): until they end
# they hold the counter row, and section 7's first count would wait.
quiet() { ! sleeping; }
wait_for 30 quiet || echo "# 6b's statements still sleep in the database"

# ---- 7. SIGTERM with the database silent -----------------------------------------
host_svc a --chat-rate 0 --store "$CONN" ||
    { not_ok "bart_svc on hosta again"; finish; exit 1; }
TPORT=$(port_of tcp)
UPORT=$(port_of udp)
# The last section's statements may still hold the counter row in the
# database for a while (a sanitizer build is slow): until a count goes.
went=0
for i in 1 2 3 4; do
	xt "$BIN/bart_clnt" -t 5 hosta count 1 >/dev/null 2>&1 && { went=1; break; }
done
[ $went = 1 ] || not_ok "count before the silence"
hrun p nft -f - <<EOF
table inet review_silent {
	chain in { type filter hook input priority 0; tcp dport $PG_PORT drop; }
}
EOF
# One connection's database calls are answered in order (README): its
# first count waits (fast path, silent database), 300 UDP counts fill
# the bound, its second count is refused at once.
r=$(xt python3 "$RPC" order "${IP4[a]}" "$TPORT" "$UPORT" "$PROG")
echo "# replies on the connection, xid:status in arrival order: $r"
case "$r" in
"1:"*" 2:"*)	ok "one connection's calls answered in order ($r)";;
"2:18 1:"*)	not_ok "one connection's calls answered in order: the second, refused at the bound (BART_EUNAVAIL), overtook the first ($r)";;
*)		not_ok "two replies on the connection (got '$r')";;
esac
# the first count's deadline (3 s) dropped the connection; the feed
# thread makes a new one (blocking PQconnectdb, connect_timeout 10 here)
wait_for 10 connecting || not_ok "a new connection is being made"
t0=$(date +%s%N)
kill -TERM "${SVC_PIDS[a]}"
for i in $(seq 600); do kill -0 "${SVC_PIDS[a]}" 2>/dev/null || break; sleep 0.05; done
el=$(ms_since "$t0")
if [ "$el" -le 10000 ]; then
	ok "SIGTERM, silent database: stopped in ${el} ms"
else
	not_ok "SIGTERM, silent database: stopped within 10 s (took ${el} ms)"
fi
kill -0 "${SVC_PIDS[a]}" 2>/dev/null && stop_pid "${SVC_PIDS[a]}"
hrun p nft delete table inet review_silent

net_teardown
finish
