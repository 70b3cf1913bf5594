#!/bin/bash
# SPDX-License-Identifier: ISC
# t_count.sh: registration, count on every transport, durability across
# kill -9, clean unregistration on SIGTERM, and every bad-input case.
. "$(dirname "$0")/lib.sh"
ns_setup
start_svc || exit 1

maps=$(rpcinfo -p localhost)
for proto in tcp udp; do
	if echo "$maps" | awk -v p=$PROG -v t=$proto '$1==p && $3==t' | grep -q .; then
		ok "rpcinfo -p lists $proto"
	else
		not_ok "rpcinfo -p lists $proto"; echo "$maps" | sed 's/^/#   /'
	fi
done
netids=$(rpcinfo -s localhost | awk -v p=$PROG '$1==p {print $3}')
case ",$netids," in
*,local,*) ok "rpcinfo -s lists local ($netids)" ;;
*) not_ok "rpcinfo -s lists local: '$netids'" ;;
esac
expect_run "rpcinfo -t" 0 "ready and waiting" "" rpcinfo -t localhost $PROG 1
expect_run "rpcinfo -u" 0 "ready and waiting" "" rpcinfo -u localhost $PROG 1

# 1 then +2 = 3, on each transport, in a fresh daemon each time.
total=0
for netid in local tcp udp; do
	expect_run "count 1 over $netid" 0 "^I was called $((total + 1)) times\.$" "" \
	    clnt -T $netid localhost count 1
	expect_run "count 2 over $netid" 0 "^I was called $((total + 3)) times\.$" "" \
	    clnt -T $netid localhost count 2
	total=$((total + 3))
done
expect_run "default transport" 0 "^I was called $((total + 1)) times\.$" "" \
    clnt localhost count 1
total=$((total + 1))
expect_run "count 0 reads" 0 "^I was called $total times\.$" "" clnt localhost count 0
expect_run "ping" 0 "bart is alive .*us\)" "" clnt localhost ping
expect_run "tcp6" 0 "^I was called $((total + 1)) times\.$" "" clnt -T tcp6 ::1 count 1
total=$((total + 1))

# Bad input: message in plain words, distinct exit codes, no change.
expect_run "negative count refused" 65 "" "must not be negative" clnt localhost count -5
expect_run "non-numeric count" 64 "" "not a 32-bit integer" clnt localhost count abc
expect_run "out-of-range count" 64 "" "not a 32-bit integer" clnt localhost count 99999999999
expect_run "missing count arg" 64 "" "wrong number of arguments" clnt localhost count
expect_run "unknown command" 64 "" "unknown command" clnt localhost frobnicate
expect_run "unknown option" 64 "" "unknown option" clnt -x localhost count 1
expect_run "missing host" 64 "" "missing HOST" clnt
expect_run "bad transport" 64 "" "unknown transport" clnt -T carrier-pigeon localhost count 1
expect_run "bad timeout" 64 "" "timeout" clnt -t 0 localhost count 1
expect_run "unknown host" 68 "" "unknown host" clnt no-such-host.invalid count 1
expect_run "help" 0 "usage: bart_clnt" "" clnt -h
expect_run "counter unchanged by bad input" 0 "^I was called $total times\.$" "" \
    clnt localhost count 0

# Overflow: set the counter near INT64_MAX directly in the store.
stop_svc
sqlite3 "$T/state/bart.db" "UPDATE counter SET value = 9223372036854775806" 2>/dev/null ||
    "$BIN/../tools/setcounter" 2>/dev/null
if [ "$(sqlite3 "$T/state/bart.db" 'SELECT value FROM counter' 2>/dev/null)" = 9223372036854775806 ]; then
	start_svc || exit 1
	expect_run "count to INT64_MAX" 0 "^I was called 9223372036854775807 times\.$" "" \
	    clnt localhost count 1
	expect_run "overflow refused" 65 "" "would overflow" clnt localhost count 1
	expect_run "overflow changed nothing" 0 "^I was called 9223372036854775807 times\.$" "" \
	    clnt localhost count 0
	stop_svc
	sqlite3 "$T/state/bart.db" "UPDATE counter SET value = $total"
else
	not_ok "sqlite3 tool needed to preset the counter"
	start_svc; stop_svc
fi

# An older database (identities keyed by themselves, WITHOUT ROWID, as
# before 2026-12): rewritten once at start, in time order; its
# identities still get their first answers and count nothing again.
if command -v sqlite3 >/dev/null; then
	sqlite3 "$T/state/bart.db" "DROP TABLE reqs; CREATE TABLE reqs (
	    client INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,
	    result INTEGER NOT NULL, time INTEGER NOT NULL,
	    PRIMARY KEY (client, seq, kind)) WITHOUT ROWID;
	    INSERT INTO reqs VALUES (4242, 1, 0, $total, strftime('%s','now'));
	    INSERT INTO reqs VALUES (4242, 1, 1, 3, strftime('%s','now') - 5);"
	start_svc || exit 1
	expect_eq "an old identity table is rewritten once, logged" 1 \
	    "$(grep -c 'rewriting the request identities' "$T/svc.log")"
	expect_run "an old identity gets its first answer" 0 \
	    "^count: total $total\$" "" "$BIN/bart_poke" count localhost 4242 1 5
	expect_run "... and counted nothing again" 0 "^I was called $total times\.\$" \
	    "" clnt localhost count 0
	expect_run "a new identity of that client counts" 0 \
	    "^count: total $((total + 5))\$" "" "$BIN/bart_poke" count localhost 4242 2 5
	total=$((total + 5))
	stop_svc
	start_svc || exit 1
	expect_eq "... and only once" 1 \
	    "$(grep -c 'rewriting the request identities' "$T/svc.log")"
	expect_run "after a restart both identities answer first results" 0 \
	    "^count: total $total\$" "" "$BIN/bart_poke" count localhost 4242 2 5
	expect_run "... old and rewritten" 0 "^count: total $((total - 5))\$" "" \
	    "$BIN/bart_poke" count localhost 4242 1 5
	expect_eq "the rows: numbered in time order, the old layout gone" \
	    "1|4242|1|1 2|4242|1|0 3|4242|2|0" \
	    "$(sqlite3 "$T/state/bart.db" "SELECT n, client, seq, kind FROM reqs ORDER BY n" | tr '\n' ' ' | sed 's/ $//')"
	stop_svc
else
	not_ok "sqlite3 tool needed to make an older database"
fi

# The identity bound (at most 100,000 remembered, kept every half second):
# 120,000 counts from one client; the newest answer their first results,
# the oldest are forgotten (a resend runs again) and stay forgotten after
# a restart; the daemon's memory stays bounded.
start_svc || exit 1
out=$(POKE_CLIENT=0x5151 "$BIN/bart_poke" countloop localhost 120000 10)
expect_eq "120,000 counts acknowledged" "acked 120000 unresolved 0 resent 0 unknown 0 unavail 0" "$out"
total=$((total + 120000))
expect_run "the newest identity answers its first result" 0 \
    "^count: total $total\$" "" "$BIN/bart_poke" count localhost 0x5151 120000 1
forgot=no
for i in $(seq 50); do		# the bound is kept within a second
	case $("$BIN/bart_poke" count localhost 0x5151 1 1) in
	"count: total $((total + 1))") forgot=yes; total=$((total + 1)); break ;;
	"count: total $((total - 119999))") sleep 0.1 ;;
	*) break ;;
	esac
done
expect_eq "the oldest identity is forgotten: it ran again, once" yes "$forgot"
rss=$(awk '/^VmRSS:/ {print $2}' /proc/$SVC_PID/status)
echo "# daemon RSS with 100,000 identities remembered: $rss kB"
rss_max=131072			# ASan: its quarantine alone is 256 MB
[ -n "${BART_ASAN:-}" ] && rss_max=524288
if [ "${rss:-999999}" -lt $rss_max ]; then ok "daemon RSS bounded ($rss kB)"
else not_ok "daemon RSS bounded ($rss kB, at most $rss_max)"; fi
stop_svc
start_svc || exit 1
expect_run "after a restart: still forgotten (counts again)" 0 \
    "^count: total $((total + 1))\$" "" "$BIN/bart_poke" count localhost 0x5151 2 1
total=$((total + 1))
expect_run "... and the newest still remembered" 0 \
    "^count: total $((total - 2))\$" "" "$BIN/bart_poke" count localhost 0x5151 120000 1
stop_svc

# Durability: a value the client saw survives kill -9.
start_svc || exit 1
expect_run "count before kill -9" 0 "^I was called $((total + 7)) times\.$" "" \
    clnt localhost count 7
kill9_svc
expect_run "dead daemon: clear error" 69 "" "bart_svc" clnt -t 2 localhost count 1
start_svc || exit 1
expect_run "value survives kill -9" 0 "^I was called $((total + 7)) times\.$" "" \
    clnt localhost count 0

# SIGTERM: registrations removed, exit 0.
kill -TERM $SVC_PID
wait $SVC_PID
expect_eq "SIGTERM exit status" 0 $?
if registered; then not_ok "SIGTERM removes registrations"; else ok "SIGTERM removes registrations"; fi
expect_run "not registered: clear error" 69 "" "not registered" clnt localhost count 1
finish
