#!/bin/bash
# SPDX-License-Identifier: ISC
# t_audit_ids.sh: acceptance attack on request identities in claim order
# (server/reqidx.c, store.c since 763329a): one identity sent at once on
# many connections and transports, extreme identities, kill -9 mid-burst
# and mid-rewrite of an older table, a read-only older database, a flood
# past the 100,000 bound, a live .backup beside a reader.
. "$(dirname "$0")/lib.sh"
TOOLS=$(cd "$(dirname "$0")/../tools" && pwd)
ns_setup

# same.py CLIENT SEQ K SOCK: the same COUNT identity (UP 1) on K tcp
# connections, one udp socket and the local socket, all sent before any
# reply is read (one loop round), then each sent again on its own
# connection (later rounds).  Prints the sorted distinct totals and
# statuses, one line: "answers N totals T1,T2.. bad B".
cat >"$T/same.py" <<'PY'
import socket, struct, sys, select
sys.path.insert(0, sys.argv[5])
import rpcprobe as r
client, seq, k, sock = int(sys.argv[1], 0), int(sys.argv[2], 0), int(sys.argv[3]), sys.argv[4]
tport = r.getport(r.BART_PROG, r.BART_VERS, 6, 2)
uport = r.getport(r.BART_PROG, r.BART_VERS, 17, 2)
streams = []
for i in range(k):
    s = socket.create_connection(("127.0.0.1", tport), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    streams.append(s)
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
u.settimeout(5); u.connect(sock); streams.append(u)
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); d.settimeout(5)
args = r.count_args(client, seq, 1)
totals, bad = [], 0
def parse(body):
    global bad
    if body is None:
        bad += 1; return
    st = struct.unpack(">I", body[:4])[0]
    if st != 0:
        totals.append("status%d" % st); return
    totals.append(str(struct.unpack(">q", body[4:12])[0]))
for rnd in range(2):
    xid = 0x5a000000 + rnd * 1000
    for i, s in enumerate(streams):
        s.sendall(r.record(r.call(xid + i, r.BART_PROG, r.BART_VERS, 1, args)))
    d.sendto(r.call(xid + 999, r.BART_PROG, r.BART_VERS, 1, args), ("127.0.0.1", uport))
    for i, s in enumerate(streams):
        rec = r.Reader(s).record()
        parse(r.reply_body(rec, xid + i) if rec else None)
    try:
        parse(r.reply_body(d.recv(512), xid + 999))
    except socket.timeout:
        bad += 1
print("answers %d totals %s bad %d" % (len(totals), ",".join(sorted(set(totals))), bad))
PY
same() { python3 "$T/same.py" "$1" "$2" "$3" "$T/svc.sock" "$TOOLS"; }
poke() { "$BIN/bart_poke" count localhost "$@"; }
total() { clnt localhost count 0 | sed -n 's/^I was called \([0-9]*\) times\.$/\1/p'; }

# 1. One identity at once on 8 tcp connections, udp and local, within one
# round and again in the next: one effect, every answer the first result.
start_svc --udp-cache 0 || exit 1
expect_run "a first count" 0 "^count: total 5$" "" poke 0x77 1 5
expect_eq "one identity on 8 tcp + udp + local at once, twice: one total" \
    "answers 20 totals 6 bad 0" "$(same 0x1234 1 8)"
expect_eq "... counted once" 6 "$(total)"
# An already committed identity, the same way (all duplicates).
expect_eq "a committed identity on 10 connections at once: its first total" \
    "answers 20 totals 6 bad 0" "$(same 0x1234 1 8)"
# UDP resends with the duplicate-request cache off: the store answers.
expect_run "udp, cache off: the same xid 20 times, identical replies" 0 \
    "sent=20 replies=20 identical=20 status=0" "" "$BIN/bart_raw" dupcall 20 count
expect_eq "... counted once" 7 "$(total)"

# 2. Extreme identities: the top bit of the client id, seq 0 and 2^64-1;
# the same (client, seq) for a count and a chat line (separate kinds).
base=$(total)
expect_run "client 2^63, seq 0" 0 "^count: total $((base + 1))$" "" poke 0x8000000000000000 0 1
expect_run "client 2^64-1, seq 2^64-1" 0 "^count: total $((base + 3))$" "" \
    poke 0xffffffffffffffff 0xffffffffffffffff 2
expect_run "client 2^64-1, seq 2^63" 0 "^count: total $((base + 6))$" "" \
    poke 0xffffffffffffffff 0x8000000000000000 3
expect_eq "chat lines 1..3 of client 2^64-1 (its count ids taken)" "reply 3" \
    "$(python3 "$TOOLS/rpcprobe.py" says 3 0xffffffffffffffff)"
expect_run "a count with a chat line's identity counts" 0 "^count: total $((base + 10))$" "" \
    poke 0xffffffffffffffff 2 4
expect_eq "the chat lines resent: stored once" "reply 3" \
    "$(python3 "$TOOLS/rpcprobe.py" says 3 0xffffffffffffffff)"
n=$(clnt localhost history -n 50 | grep -c 'line [123]')
expect_eq "... three lines in the history" 3 "$n"
stop_svc
start_svc --udp-cache 0 || exit 1
expect_run "after a restart: client 2^63 seq 0 answers its first total" 0 \
    "^count: total $((base + 1))$" "" poke 0x8000000000000000 0 7
expect_run "... 2^64-1/2^64-1" 0 "^count: total $((base + 3))$" "" \
    poke 0xffffffffffffffff 0xffffffffffffffff 7
expect_run "... 2^64-1/2^63" 0 "^count: total $((base + 6))$" "" \
    poke 0xffffffffffffffff 0x8000000000000000 7
expect_run "... the count beside a chat line" 0 "^count: total $((base + 10))$" "" \
    poke 0xffffffffffffffff 2 7
expect_eq "... and the identity sent at once on 10 connections" \
    "answers 20 totals 6 bad 0" "$(same 0x1234 1 8)"
expect_eq "... nothing counted again" $((base + 10)) "$(total)"

# 3. kill -9 mid-burst, restart: every acknowledged count once.
base=$(total)
POKE_CLIENT=0xdead00 "$BIN/bart_poke" countloop localhost 15000 6 >"$T/loop" &
loop=$!; track $loop
reached() { [ "$(total)" -ge $((base + 3000)) ] 2>/dev/null; }
wait_for 20 reached || not_ok "countloop got going"
kill9_svc
start_svc --udp-cache 0 || exit 1
wait "$loop"
expect_eq "countloop across kill -9: all acknowledged" \
    "acked 15000 unresolved 0" "$(cut -d' ' -f1-4 "$T/loop")"
expect_eq "counter == acknowledged sum" $((base + 15000)) "$(total)"
expect_run "the first identity of the burst: its first total" 0 \
    "^count: total $((base + 1))$" "" poke 0xdead00 1 9
expect_run "the last: its first total" 0 "^count: total $((base + 15000))$" "" \
    poke 0xdead00 15000 9
echo "# $(cat "$T/loop")"

# 3b. The daemon dies right after a group's COMMIT, before any reply
# (bart_fault.so, the 150th): two pipelined clients, 3,000 counts each; the restart
# answers every resend of what was committed with its first total and
# counts the rest once.
base=$(total)
stop_svc
LD_PRELOAD=$BIN/bart_fault.so BART_FAULT_DIE_AFTER_COMMIT=150 \
    ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" start_svc --udp-cache 0 || exit 1
python3 "$TOOLS/rpcprobe.py" pipeline 3000 0xd1e1 >"$T/p1" 2>&1 &
p1=$!; track $p1
python3 "$TOOLS/rpcprobe.py" pipeline 3000 0xd1e2 >"$T/p2" 2>&1
wait "$p1"
gone() { ! kill -0 "$SVC_PID" 2>/dev/null; }
replies() { grep -o "^reply [0-9]*" "$1" || tail -1 "$1" | cut -c1-60; }
wait_for 10 gone && ok "died after the 150th commit ($(replies "$T/p1"), $(replies "$T/p2") before)" ||
    not_ok "died after the 150th commit"
wait "$SVC_PID" 2>/dev/null
start_svc --udp-cache 0 || exit 1
python3 "$TOOLS/rpcprobe.py" pipeline 3000 0xd1e1 >"$T/p1" 2>&1 &
p1=$!; track $p1
python3 "$TOOLS/rpcprobe.py" pipeline 3000 0xd1e2 >"$T/p2" 2>&1
wait "$p1"
expect_eq "restarted: all 6,000 resent and answered" "reply 3000 reply 3000" \
    "$(replies "$T/p1") $(replies "$T/p2")"
expect_eq "... each counted once" $((base + 6000)) "$(total)"
a=$(poke 0xd1e1 3000 1 | sed 's/^count: total //'); b=$(poke 0xd1e2 3000 1 | sed 's/^count: total //')
expect_eq "the two last identities: their first totals, one of them the sum" $((base + 6000)) \
    "$([ "$a" -gt "$b" ] && echo "$a" || echo "$b")"
expect_eq "... and nothing counted again" $((base + 6000)) "$(total)"

# up_or_dead: the daemon registered, or it has exited.
up_or_dead() { rpcinfo -t localhost $PROG 1 || ! kill -0 "$SVC_PID"; }
# launch_svc [DIR]: DIR's bart_svc (default this build's) on $T/state with
# a fresh log, which may refuse to start: the caller looks (up_or_dead).
launch_svc() {
	: >"$T/svc.log"
	"${1:-$BIN}/bart_svc" -f -S "$T/state" -p "$T/svc.pid" -s "$T/svc.sock" \
	    2>>"$T/svc.log" &
	SVC_PID=$!
	track $SVC_PID
}
rows() { sqlite3 "$T/state/bart.db" "SELECT count(*) FROM reqs"; }

# 4. An older database (WITHOUT ROWID, 200,000 identities, the newest
# now): kill -9 as soon as the one-time rewrite is logged; the restart
# rewrites it (once), the newest 100,000 still answer their first
# results, nothing counted again.
stop_svc
now=$(date +%s)
sqlite3 "$T/state/bart.db" "DROP TABLE reqs; CREATE TABLE reqs (
    client INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,
    result INTEGER NOT NULL, time INTEGER NOT NULL,
    PRIMARY KEY (client, seq, kind)) WITHOUT ROWID;
    CREATE INDEX reqs_time ON reqs (time);
    WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200000)
    INSERT INTO reqs SELECT 0x99, i, 0, 1000000 + i, $now - (200000 - i) / 2000 FROM c;
    UPDATE counter SET value = 1200000;" || not_ok "making an older database"
launch_svc
wait_for 10 grep -q "rewriting the request identities" "$T/svc.log" ||
    not_ok "the rewrite is logged"
kill9_svc
during=$(sqlite3 "$T/state/bart.db" "SELECT count(*) FROM pragma_table_info('reqs') WHERE name = 'n'")
[ "$during" = 0 ] && echo "# killed during the rewrite (the old table still in place)" ||
    echo "# the rewrite had committed before the kill"
start_svc --udp-cache 0 || exit 1
expect_eq "the restart rewrites (logged again), the layout has n" "2 1" \
    "$(grep -c 'rewriting the request identities' "$T/svc.log") $(sqlite3 "$T/state/bart.db" "SELECT count(*) FROM pragma_table_info('reqs') WHERE name = 'n'")"
expect_run "the newest old identity answers its first result" 0 \
    "^count: total 1200000$" "" poke 0x99 200000 5
expect_run "one of the newest 100,000 too" 0 "^count: total 1100001$" "" poke 0x99 100001 5
expect_eq "nothing counted again" 1200000 "$(total)"
trimmed() { [ "$(rows)" -le 100000 ]; }
wait_for 5 trimmed && ok "the bound kept after the rewrite ($(rows) rows)" ||
    not_ok "the bound kept after the rewrite ($(rows) rows)"
stop_svc
start_svc --udp-cache 0 || exit 1
expect_eq "... and not rewritten again" 2 "$(grep -c 'rewriting the request identities' "$T/svc.log")"
expect_run "after that restart the identity answers as before" 0 \
    "^count: total 1150000$" "" poke 0x99 150000 5

# 5. A live backup (sqlite3 .backup, as README says) while counting, and
# a reader holding a read transaction open: counts go on, every one
# acknowledged once; the backup is consistent (counter == the sum of
# its identities) and a daemon on it answers them first results.
cat >"$T/hold.py" <<'PY'
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN")
n = db.execute("SELECT value FROM counter").fetchone()[0]
open(sys.argv[2], "w").close()
for i in range(600):		# 30 s at most
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.05)
print("snapshot", n == db.execute("SELECT value FROM counter").fetchone()[0])
db.execute("COMMIT")
PY
base=$(total)
python3 "$T/hold.py" "$T/state/bart.db" "$T/held" "$T/release" >"$T/hold.out" &
hold=$!; track $hold
wait_for 10 test -e "$T/held" || not_ok "a reader holds a read transaction"
POKE_CLIENT=0xb0b "$BIN/bart_poke" countloop localhost 20000 5 >"$T/loop" &
loop=$!; track $loop
reached() { [ "$(total)" -ge $((base + 5000)) ] 2>/dev/null; }
wait_for 20 reached || not_ok "counting under a reader"
expect_run "sqlite3 VACUUM INTO while counting" 0 "" "" \
    timeout 20 sqlite3 "$T/state/bart.db" "VACUUM INTO '$T/vac.db'"
expect_run "sqlite3 .backup while counting" 0 "" "" \
    timeout 20 sqlite3 "$T/state/bart.db" ".backup $T/bk.db"
wait "$loop"
touch "$T/release"; wait "$hold"
expect_eq "the reader's snapshot held" "snapshot True" "$(cat "$T/hold.out")"
expect_eq "20,000 counts under a reader and a backup: all acknowledged" \
    "acked 20000 unresolved 0" "$(cut -d' ' -f1-4 "$T/loop")"
expect_eq "... each once" $((base + 20000)) "$(total)"
walsz() { stat -c %s "$T/state/bart.db-wal" 2>/dev/null || echo 0; }
echo "# bart.db-wal after 20,000 counts under the reader: $(walsz) bytes"
POKE_CLIENT=0xb0c "$BIN/bart_poke" countloop localhost 200 5 >/dev/null
w=$(walsz)
# README: the WAL grows to about 40 MB (checkpoints every 10,000 pages).
expect_eq "once the reader is gone, bart.db-wal is back under 64 MB ($w bytes)" \
    small "$([ "$w" -le 67108864 ] && echo small || echo large)"
set -- $(sqlite3 "$T/vac.db" "SELECT value FROM counter; SELECT count(*), coalesce(max(answer), 0) FROM reqs WHERE client = 0xb0b" | tr '\n' ' ')
echo "# VACUUM INTO: counter $1, identities ${2%%|*}, their max result ${2##*|}"
expect_eq "the VACUUM INTO copy is consistent" "$1 $1" "$((base + ${2%%|*})) ${2##*|}"
[ "$1" -lt $((base + 20000)) ] && echo "# ... taken mid-burst" || echo "# ... taken after the burst"
bk=$(sqlite3 "$T/bk.db" "SELECT value FROM counter; SELECT count(*), coalesce(max(answer), 0) FROM reqs WHERE client = 0xb0b" | tr '\n' ' ')
set -- $bk
echo "# backup: counter $1, identities ${2%%|*}, their max result ${2##*|}"
expect_eq "the backup is consistent" "$1 $1" "$((base + ${2%%|*})) ${2##*|}"
# sqlite3_backup restarts whenever another process commits between its
# steps: with a large WAL (the reader above) each step is slow, and the
# backup may end only when the counting pauses.  README recommends
# VACUUM INTO for a busy daemon; this is a note, not a check.
echo "# .backup's snapshot: $([ "$1" -lt $((base + 20000)) ] && echo "mid-burst" || echo "after the burst")"
stop_svc
mv "$T/state" "$T/state.live"; mkdir -m 0700 "$T/state"; cp "$T/bk.db" "$T/state/bart.db"
start_svc || exit 1
k=${2%%|*}
expect_run "a daemon on the backup: its newest identity answers its first result" 0 \
    "^count: total $1$" "" poke 0xb0b "$k" 1
expect_run "... the next one (not in the backup) counts" 0 \
    "^count: total $(($1 + 1))$" "" poke 0xb0b $((k + 1)) 1
stop_svc
rm -rf "$T/state"; mv "$T/state.live" "$T/state"

# 6. A flood of distinct identities past the bound: 16 clients x 10,000
# pipelined, two connections at a time; peak RSS bounded, the newest
# remembered, the oldest forgotten.
start_svc --udp-cache 0 || exit 1
base=$(total)
for c in 1 3 5 7 9 11 13 15; do
	python3 "$TOOLS/rpcprobe.py" pipeline 10000 $((0xf100 + c)) >"$T/p1" &
	p1=$!; track $p1
	python3 "$TOOLS/rpcprobe.py" pipeline 10000 $((0xf100 + c + 1)) >"$T/p2"
	wait "$p1"
	[ "$(cat "$T/p1") $(cat "$T/p2")" = "reply 10000 reply 10000" ] ||
	    not_ok "pipelines of clients $c, $((c + 1)): $(cat "$T/p1" "$T/p2")"
done
expect_eq "160,000 counts, each once" $((base + 160000)) "$(total)"
expect_run "the newest identity answers its first result" 0 \
    "^count: total " "" poke $((0xf100 + 16)) 10000 1
expect_eq "... and counted nothing" $((base + 160000)) "$(total)"
bounded() { [ "$(rows)" -le 100000 ]; }
wait_for 5 bounded && ok "at most 100,000 identities kept ($(rows))" ||
    not_ok "at most 100,000 identities kept ($(rows))"
expect_run "the oldest is forgotten: it runs again" 0 \
    "^count: total $((base + 160001))$" "" poke $((0xf100 + 1)) 1 1
hwm=$(awk '/^VmHWM:/ {print $2}' /proc/$SVC_PID/status)
rss_max=131072
[ -n "${BART_ASAN:-}" ] && rss_max=524288
if [ "${hwm:-999999}" -lt $rss_max ]; then ok "daemon peak RSS bounded ($hwm kB)"
else not_ok "daemon peak RSS bounded ($hwm kB, at most $rss_max)"; fi
stop_svc

# 7. An older database (WITHOUT ROWID, WAL) in a state directory on a
# read-only bind mount: reads served, old identities answer their first
# results, changes refused with a clear error, the log not flooded.
start_svc --udp-cache 0 || exit 1
base=$(total)
expect_run "an identity before the change" 0 "^count: total $((base + 3))$" "" poke 0x5eed 1 3
stop_svc
sqlite3 "$T/state/bart.db" "ALTER TABLE reqs RENAME TO r2; CREATE TABLE reqs (
    client INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,
    result INTEGER NOT NULL, time INTEGER NOT NULL,
    PRIMARY KEY (client, seq, kind)) WITHOUT ROWID;
    CREATE INDEX reqs_time ON reqs (time);
    INSERT INTO reqs SELECT client, seq, kind, answer, time FROM r2; DROP TABLE r2;" ||
    not_ok "making an older database"
mount --bind "$T/state" "$T/state" && mount -o remount,bind,ro "$T/state" ||
    not_ok "read-only bind mount"
: >"$T/svc.log"
start_svc --udp-cache 0 || exit 1
expect_eq "read-only: said once at start" 1 "$(grep -c 'read-only file system: serving reads' "$T/svc.log")"
expect_eq "reads served" $((base + 3)) "$(total)"
expect_run "an old identity answers its first result" 0 "^count: total $((base + 3))$" "" \
    poke 0x5eed 1 3
expect_run "a new change is refused in words" 74 "" "read-only" clnt localhost count 1
expect_run "a chat line too" 74 "" "read-only" clnt localhost say ro line
for i in $(seq 300); do poke 0x5eee "$i" 1; done >"$T/refused"
expect_eq "300 new identities refused, none counted" "300 $((base + 3))" \
    "$(grep -c "database failed" "$T/refused") $(total)"
n=$(wc -l <"$T/svc.log")
[ "$n" -le 60 ] && ok "the log not flooded ($n lines for 302 refusals)" ||
    not_ok "the log not flooded ($n lines for 302 refusals)"
stop_svc
umount "$T/state"

# 7b. Only bart.db on a read-only bind mount (the directory writable):
# bart_svc (this one and the previous) refuses to start; the log says so.
mount --bind "$T/state/bart.db" "$T/state/bart.db" &&
    mount -o remount,bind,ro "$T/state/bart.db" || not_ok "read-only bind mount of bart.db"
launch_svc
wait_for 10 up_or_dead
if kill -0 "$SVC_PID" 2>/dev/null; then
	ok "bart.db read-only: the daemon starts (reads served: $(total))"; stop_svc
else
	wait "$SVC_PID" 2>/dev/null
	expect_eq "bart.db read-only: refused at start, the log says read-only" 1 \
	    "$(grep -c 'readonly database' "$T/svc.log")"
fi
umount "$T/state/bart.db"

# 8. kill -9 leaves the newest commits in bart.db-wal (up to 40 MB: the
# checkpoint is every 10,000 pages); the state directory then read-only
# (a file system remounted read-only after an error): the daemon must
# still serve what it acknowledged, and a resend of an acknowledged
# identity must not hear "nothing was changed".
start_svc --udp-cache 0 || exit 1
base=$(total)
expect_run "a count, then a clean stop (checkpointed)" 0 "^count: total $((base + 5))$" "" \
    poke 0x5a 1 5
stop_svc
start_svc --udp-cache 0 || exit 1
expect_run "a count acknowledged (its commit in the WAL)" 0 "^count: total $((base + 12))$" "" \
    poke 0x5a 2 7
kill9_svc
mount --bind "$T/state" "$T/state" && mount -o remount,bind,ro "$T/state" ||
    not_ok "read-only bind mount"
launch_svc
wait_for 10 up_or_dead
if kill -0 "$SVC_PID" 2>/dev/null; then
	ok "read-only after kill -9: the daemon starts"
	expect_eq "... and serves the acknowledged total" $((base + 12)) "$(total)"
	expect_eq "... the acknowledged identity answers its first result" \
	    "count: total $((base + 12))" "$(poke 0x5a 2 7 2>&1)"
else
	not_ok "read-only after kill -9: the daemon does not start ($(grep -v 'registration\|connections:\|chat\|serving\|registered' "$T/svc.log" | tail -2 | tr '\n' ' '))"
fi
stop_svc
# The premise of the fix above: SQLite opened read-only without
# immutable=1 reads the WAL (it exists after kill -9).
expect_eq "sqlite3 read-only (mode=ro, not immutable) sees the acknowledged total" \
    $((base + 12)) "$(sqlite3 "file:$T/state/bart.db?mode=ro" "SELECT value FROM counter")"
umount "$T/state"

# 9. A downgrade: the previous bart_svc (5cbd970) claims an identity with
# "INSERT OR IGNORE INTO reqs (client, seq, kind, result, time)" and
# counts only if a row went in (sqlite3_changes), relying on the key
# (client, seq, kind), which the rewritten table does not have: on it an
# older daemon would count every resend again.  The table's answer
# column is named otherwise, so an older daemon cannot prepare its
# statements and refuses to start (README: going back to an older
# version).  BART_OLD_BIN=DIR runs that daemon for real; without it, its
# statements are prepared through sqlite3.
start_svc --udp-cache 0 || exit 1
base=$(total)
expect_run "an identity claimed by this bart_svc" 0 "^count: total $((base + 5))$" "" \
    poke 0x0dd 1 5
stop_svc
if [ -n "${BART_OLD_BIN:-}" ]; then
	launch_svc "$BART_OLD_BIN"
	wait_for 10 up_or_dead
	if kill -0 "$SVC_PID" 2>/dev/null; then
		not_ok "downgraded: the older bart_svc refuses this database (it started)"
		stop_svc
	else
		wait "$SVC_PID" 2>/dev/null
		expect_eq "downgraded: the older bart_svc refuses this database" 1 \
		    "$(grep -c 'no such column: result' "$T/svc.log")"
	fi
else
	expect_run "an older bart_svc's claim cannot be prepared on this table" 1 "" \
	    "no column named result" sqlite3 "$T/state/bart.db" \
	    "INSERT OR IGNORE INTO reqs (client, seq, kind, result, time) VALUES (0x0dd, 1, 0, 424242, 0)"
	expect_run "... nor its look-up" 1 "" "no such column: result" \
	    sqlite3 "$T/state/bart.db" \
	    "SELECT result FROM reqs WHERE client = 1 AND seq = 1 AND kind = 0"
fi
start_svc --udp-cache 0 || exit 1
expect_run "this bart_svc again: the identity answers its first result" 0 \
    "^count: total $((base + 5))$" "" poke 0x0dd 1 5
stop_svc

# 10. The one-time rewrite on a nearly full disk (the state directory a
# 12 MB tmpfs, 600 kB left, 100,000 old identities): the previous
# bart_svc starts and serves there; this one must too, or at least say
# why in words; nothing may be lost, and once there is room the rewrite
# completes.
mv "$T/state" "$T/state.keep"; mkdir -m 0700 "$T/state"
mount -t tmpfs -o size=12m,mode=0700 tmpfs "$T/state" || not_ok "a small tmpfs"
start_svc || exit 1
stop_svc
now=$(date +%s)
sqlite3 "$T/state/bart.db" "DROP TABLE reqs; CREATE TABLE reqs (
    client INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,
    result INTEGER NOT NULL, time INTEGER NOT NULL,
    PRIMARY KEY (client, seq, kind)) WITHOUT ROWID;
    WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100000)
    INSERT INTO reqs SELECT 0x99, i, 0, 1000 + i, $now FROM c;
    UPDATE counter SET value = 101000;" || not_ok "making an older database"
avail=$(df -k --output=avail "$T/state" | tail -1)
dd if=/dev/zero of="$T/state/filler" bs=1k count=$((avail - 600)) 2>/dev/null
launch_svc
wait_for 10 up_or_dead
if kill -0 "$SVC_PID" 2>/dev/null; then
	ok "an upgrade on a nearly full disk: the daemon starts"
	expect_eq "... and serves reads" 101000 "$(total)"
	stop_svc
else
	# It needs room for the one-time rewrite: it must say so in words.
	wait "$SVC_PID" 2>/dev/null
	expect_eq "an upgrade on a nearly full disk: refused at start, saying why (full; nothing changed; make room)" 1 \
	    "$(grep -c 'cannot rewrite the request identities for this version: .*full.*nothing was changed.*make room' "$T/svc.log")"
	expect_eq "... without a misleading rollback error" 0 "$(grep -c 'cannot rollback' "$T/svc.log")"
fi
expect_eq "the old table intact, the counter too" "100000 0 101000" \
    "$(sqlite3 "$T/state/bart.db" "SELECT count(*) FROM reqs; SELECT count(*) FROM pragma_table_info('reqs') WHERE name = 'n'; SELECT value FROM counter" | tr '\n' ' ' | sed 's/ $//')"
rm -f "$T/state/filler"
start_svc --udp-cache 0 || exit 1
expect_run "with room: rewritten, an old identity answers its first result" 0 \
    "^count: total 101000$" "" poke 0x99 100000 5
stop_svc
umount "$T/state"; rmdir "$T/state"; mv "$T/state.keep" "$T/state"
finish
