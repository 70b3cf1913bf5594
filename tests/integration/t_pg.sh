#!/bin/bash
# SPDX-License-Identifier: ISC
# t_pg.sh: several bart_svc on one PostgreSQL (--store): start-up
# failures, one counter across three servers and two client hosts,
# exactly once across daemons, one chat room with one order.
# Hosts (netns.sh): p = PostgreSQL, a b c = bart servers, x y = clients.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/pg.sh"

net_setup p a b c x y || { not_ok "network setup"; finish; exit 1; }
pg_init p || { not_ok "PostgreSQL on hostp"; finish; exit 1; }
for h in a b c x y; do
	host_rpcbind "$h" || { not_ok "rpcbind on host$h"; finish; exit 1; }
done
CONN=$(pg_conninfo p)

# ---- start-up failures: one clear line, exit 1 ----------------------------
# svc_fail DESC REGEX ARGS...: bart_svc exits 1 with one stderr line
# (besides the start-up line about connection limits, printed before).
svc_fail() {
	local desc=$1 re=$2 rc n
	shift 2
	timeout 20 nsenter -t "${NET_HOLDER[a]}" -n -m -u -- \
	    "$BIN/bart_svc" -f -S "$T/a/fail" -p "$T/a/fail.pid" \
	    -s "$T/a/fail.sock" "$@" 2>&1 >"$T/out" |
	    grep -v "^bart_svc: connections: at most" >"$T/err"
	rc=${PIPESTATUS[0]}
	n=$(wc -l <"$T/err")
	if [ "$rc" = 1 ] && [ "$n" = 1 ] && grep -Eq -- "$re" "$T/err"; then
		ok "$desc: exit 1, one line: $(cat "$T/err")"
	else
		not_ok "$desc: exit 1 and one line matching /$re/"
		echo "#   exit $rc, $n lines:"; sed 's/^/#   /' "$T/err"
	fi
}
svc_fail "bad connection string" "not a valid PostgreSQL connection string" \
    --store "host=${IP4[p]} bogus_option=1"
svc_fail "password in the connection string" "no password in the connection string" \
    --store "$CONN password=secret"
echo "*:*:*:bart:wrong-password" >"$T/badpass"
chmod 600 "$T/badpass"
PGPASSFILE=$T/badpass svc_fail "wrong password" \
    "cannot connect to PostgreSQL .*password authentication failed" \
    --store "$CONN"
svc_fail "unreachable database (nothing listens)" \
    "cannot connect to PostgreSQL \(host=${IP4[c]} .*refused" \
    --store "$(pg_conninfo c)"
svc_fail "unreachable database (no such host, timeout)" \
    "cannot connect to PostgreSQL \(host=192.0.2.99 .*timeout" \
    --store "host=192.0.2.99 dbname=bart user=bart connect_timeout=2"
pg_sql p "CREATE DATABASE bartnew OWNER bart" postgres
timeout 20 nsenter -t "${NET_HOLDER[a]}" -n -m -u -- "$BIN/bart_svc" -f \
    -S "$T/a/new" -p "$T/a/new.pid" -s "$T/a/new.sock" \
    --store "${CONN/dbname=bart/dbname=bartnew}" >/dev/null 2>&1 &
newpid=$!
has_schema() { [ "$(pg_sql p "SELECT to_regclass('bart_meta') IS NOT NULL" bartnew)" = t ]; }
wait_for 30 has_schema || not_ok "a first start on database bartnew creates the schema"
stop_pid "$newpid"
pg_sql p "UPDATE bart_meta SET value = 99 WHERE key = 'schema'" bartnew
svc_fail "a newer schema" "schema version 99; this bart_svc knows only up to 1" \
    --store "${CONN/dbname=bart/dbname=bartnew}"
expect_eq "the newer schema is left as it was" 99 \
    "$(pg_sql p "SELECT value FROM bart_meta WHERE key = 'schema'" bartnew)"

# ---- three servers on one database, started at once -----------------------
# hostc names the database by URI, as BART_OPTS would.
URI="postgresql://bart@${IP4[p]}:$PG_PORT/bart?connect_timeout=10"
for h in a b c; do
	st=$CONN
	[ $h = c ] && st=$URI
	hstart "$h" "$BIN/bart_svc" -f -v -S "$T/$h/state" -p "$T/$h/svc.pid" \
	    -s "$T/$h/svc.sock" --chat-rate 0 --store "$st" \
	    2>>"$T/$h/svc.log" &
	SVC_PIDS[$h]=$!
	track $!
done
for h in a b c; do
	if wait_for 15 hrun "$h" rpcinfo -t localhost "$PROG" 1; then
		ok "bart_svc on host$h serves the shared store"
	else
		not_ok "bart_svc on host$h serves the shared store"
		sed 's/^/#   /' "$T/$h/svc.log"
	fi
done
created=$(cat "$T"/[abc]/svc.log | grep -c "created bart's tables")
expect_eq "started together: exactly one created the schema" 1 "$created"
if grep -h "PostgreSQL" "$T"/[abc]/svc.log | grep -q "$PG_PASSWORD"; then
	not_ok "no password in the logs"
else
	ok "no password in the logs (they say: $(grep -ho 'PostgreSQL host=[^,]*' "$T/a/svc.log" | head -1))"
fi

# ---- one counter: two client hosts, three servers, interleaved --------------
N=30
for c in x y; do
	(
		for i in $(seq $N); do
			case $((i % 3)) in 0) s=hosta ;; 1) s=hostb ;; 2) s=hostc ;; esac
			hrun $c "$BIN/bart_clnt" -t 10 $s count 1 2>&1
		done >"$T/$c.counts"
	) &
	track $!
	eval "LOAD_$c=$!"
done
wait "$LOAD_x" "$LOAD_y"
totals=$(cat "$T/x.counts" "$T/y.counts" | sed -n 's/^I was called \([0-9]*\) times\.$/\1/p' | sort -n | tr '\n' ' ')
expect_eq "every answer is a distinct total, 1..$((2 * N))" \
    "$(seq -s ' ' $((2 * N))) " "$totals"
for h in a b c; do
	expect_run "count 0 through host$h: the sum" 0 \
	    "^I was called $((2 * N)) times\.$" "" hrun x "$BIN/bart_clnt" host$h count 0
done
expect_eq "the database holds the sum" $((2 * N)) \
    "$(pg_sql p "SELECT value FROM bart_counter")"
# stats on each server knows the shared total within a second (the feed)
stat_total() { hrun x "$BIN/bart_clnt" "host$1" stats | grep -q "$2"; }
for h in a b c; do
	if wait_for 3 stat_total $h "$((2 * N))"; then
		ok "stats on host$h shows the shared counter"
	else
		not_ok "stats on host$h shows the shared counter"
		hrun x "$BIN/bart_clnt" "host$h" stats | sed 's/^/#   /'
	fi
done

# ---- exactly once across daemons: one identity, resent elsewhere ------------
first=$(hrun x "$BIN/bart_poke" count hosta 0x5eed 1 5)
again=$(hrun y "$BIN/bart_poke" count hostb 0x5eed 1 5)
third=$(hrun y "$BIN/bart_poke" count hostc 0x5eed 1 5)
expect_eq "first COUNT 5 with an identity" "count: total $((2 * N + 5))" "$first"
expect_eq "the same identity resent to another server: the first answer" \
    "$first" "$again"
expect_eq "... and to a third" "$first" "$third"
expect_eq "counted once" $((2 * N + 5)) "$(pg_sql p "SELECT value FROM bart_counter")"
# Resent at once to all three (a client that gave up on each in turn).
for h in a b c; do
	hrun x "$BIN/bart_poke" count host$h 0x5eed 2 7 >"$T/race.$h" &
	track $!
	eval "RACE_$h=$!"
done
wait "$RACE_a" "$RACE_b" "$RACE_c"
expect_eq "one identity at three servers at once: one answer" \
    "count: total $((2 * N + 12))" "$(sort -u "$T"/race.[abc])"
expect_eq "... and counted once" $((2 * N + 12)) \
    "$(pg_sql p "SELECT value FROM bart_counter")"
TOTAL=$((2 * N + 12))

# ---- one chat room: subscribers behind each server --------------------------
declare -A CHAT_PID CHAT_HOLD CHAT_HOST
# chat_start H SERVER NAME: a chat client on H through SERVER.
chat_start() {
	local h=$1 srv=$2 n=$3 f=$T/$1/$3
	mkfifo "$f.in"
	sleep 300 >"$f.in" &
	CHAT_HOLD[$n]=$!
	track $!
	hstart "$h" "$BIN/bart_clnt" "$srv" chat "$n" \
	    <"$f.in" >"$f.out" 2>"$f.err" &
	CHAT_PID[$n]=$!
	CHAT_HOST[$n]=$h
	track $!
}
out_of() { echo "$T/${CHAT_HOST[$1]}/$1.out"; }
joined() { grep -q "joined" "$T/${CHAT_HOST[$1]}/$1.err"; }
lines_of() { [ "$(wc -l <"$(out_of "$1")")" -ge "$2" ]; }
SUBS="xa yb xc"
chat_start x hosta xa
chat_start y hostb yb
chat_start x hostc xc
for n in $SUBS; do
	wait_for 10 joined $n || not_ok "$n joined"
done
for h in a b c; do
	wait_for 10 grep -q "active" "$T/$h/svc.log" ||
	    not_ok "a subscriber of host$h is active"
done
M=10
for h in a b c; do
	(
		for i in $(seq $M); do
			hrun $([ $h = b ] && echo y || echo x) "$BIN/bart_clnt" \
			    host$h say "via$h" "message $i through host$h" >/dev/null ||
			    echo "say $i via $h failed"
		done >"$T/say.$h" 2>&1
	) &
	track $!
	eval "SAY_$h=$!"
done
wait "$SAY_a" "$SAY_b" "$SAY_c"
expect_eq "$((3 * M)) messages sent through three servers" "" "$(cat "$T"/say.[abc])"
for h in a b c; do
	hrun x "$BIN/bart_clnt" host$h history --since 0 -n 1000 >"$T/hist.$h" 2>&1
done
expect_eq "history --since 0 has $((3 * M)) messages" $((3 * M)) \
    "$(wc -l <"$T/hist.a")"
if cmp -s "$T/hist.a" "$T/hist.b" && cmp -s "$T/hist.a" "$T/hist.c"; then
	ok "history --since 0 is identical on all three servers"
else
	not_ok "history --since 0 is identical on all three servers"
	diff "$T/hist.a" "$T/hist.b" | sed 's/^/#   /'
	diff "$T/hist.a" "$T/hist.c" | sed 's/^/#   /'
fi
expect_eq "sequence numbers 1..$((3 * M)), no gap" "$(seq -s ' ' $((3 * M))) " \
    "$(awk '{print $1}' "$T/hist.a" | tr '\n' ' ')"
hrun x "$BIN/bart_clnt" hostb history --since 17 -n 1000 >"$T/since.b"
expect_eq "history --since 17 through hostb: from 18 on" \
    "$(awk '$1 > 17' "$T/hist.a")" "$(cat "$T/since.b")"
sed -E 's/^[0-9]+ [0-9-]+ [0-9:]+ [^ ]+ //' "$T/hist.a" >"$T/hist.lines"
for n in $SUBS; do
	wait_for 10 lines_of $n $((3 * M))
	if diff "$T/hist.lines" "$(out_of $n)" >"$T/diff"; then
		ok "$n (behind ${CHAT_HOST[$n]}) printed all $((3 * M)) messages, in the store's order, once"
	else
		not_ok "$n printed every message in order once"
		sed 's/^/#   /' "$T/diff" | head -20
		sed 's/^/#   stderr: /' "$T/${CHAT_HOST[$n]}/$n.err" | head
	fi
done
for n in $SUBS; do
	if grep -q "poll mode" "$T/${CHAT_HOST[$n]}/$n.err"; then
		not_ok "$n stayed in push mode"
		sed 's/^/#   /' "$T/${CHAT_HOST[$n]}/$n.err"
	fi
done
# ---- the database drops hosta's connections (LISTEN one included) -----------
killed=$(pg_sql p "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE application_name = 'bart_svc' AND client_addr = '${IP4[a]}'")
if [ "${killed:-0}" -ge 2 ]; then
	ok "the database terminated hosta's $killed connections (calls and LISTEN)"
else
	not_ok "the database terminated hosta's connections (got '$killed')"
fi
hrun y "$BIN/bart_clnt" hostb say viab "after the drop" >/dev/null
if wait_for 5 grep -qxF "[viab] after the drop" "$(out_of xa)"; then
	ok "a message through hostb still reaches hosta's subscriber"
else
	not_ok "a message through hostb still reaches hosta's subscriber"
	tail -5 "$T/a/svc.log" | sed 's/^/#   /'
fi
if wait_for 5 hrun x "$BIN/bart_clnt" -t 2 hosta count 1; then
	ok "hosta counts again by itself"
else
	not_ok "hosta counts again by itself"
	tail -5 "$T/a/svc.log" | sed 's/^/#   /'
fi
expect_eq "hosta's stats count the message" "$((3 * M + 1))" \
    "$(hrun x "$BIN/bart_clnt" hosta stats | sed -n 's/.*messages[^0-9]*\([0-9]*\).*/\1/p')"

net_teardown
finish
