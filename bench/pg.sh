#!/bin/bash
# SPDX-License-Identifier: ISC
# pg.sh BUILD_DIR [SECS]: the PostgreSQL part of make bench.  On test
# hosts (tests/integration/netns.sh, in a private net+mount namespace):
# PostgreSQL 15 on hostp, bart_svc --store on hosta..c, bart_svc on
# SQLite on hosts, clients on hostx and hosty.  Prints one table:
# COUNT through bart on PostgreSQL (1 and 3 servers; 1, 4 and 8 client
# processes) beside its floor -- the same statement straight through
# libpq from one process, plus bart's NULLPROC as the RPC floor -- and
# SQLite; then cross-server push latency (CHAT_SEND through hostb, the
# DELIVER of a subscriber of hosta) beside same-server push.  SECS per
# point (default 5).  Every process is stopped by PID (lib.sh).
set -u
if [ "${1:-}" != --inside ]; then
	[ "$(id -u)" = 0 ] || { echo "bench/pg.sh needs root" >&2; exit 1; }
	here=$(cd "$(dirname "$0")" && pwd)
	exec timeout -k 5 600 unshare --net --mount "$here/pg.sh" --inside "$@"
fi
shift
BART_BIN=$(cd "${1:?usage: bench/pg.sh BUILD_DIR [SECS]}" && pwd)
export BART_BIN
D=${2:-5}
ti=$(cd "$(dirname "$0")/../tests/integration" && pwd)
. "$ti/lib.sh"
. "$ti/netns.sh"
. "$ti/pg.sh"

say() { echo "$*" >&2; }
net_setup p a b c s x y >/dev/null || { say "network setup failed"; exit 1; }
pg_init p >/dev/null || { say "PostgreSQL did not start"; exit 1; }
for h in a b c s x y; do host_rpcbind "$h" >/dev/null || exit 1; done
CONN=$(pg_conninfo p)
for h in a b c; do
	host_svc "$h" --chat-rate 0 --max-history 0 --store "$CONN" \
	    >/dev/null || { say "bart_svc on host$h"; exit 1; }
done
host_svc s --chat-rate 0 --max-history 0 >/dev/null || exit 1
# The floor's connection is made like bart's: TCP to hostp's address.
FLOOR="$CONN application_name=floor"

# point NAME K MODE TARGET...: K processes of bart_pgbench MODE, spread
# over hostx/hosty and over the TARGETs; prints "calls/s p50 p90 p99"
# (p50: the median of the processes' medians; p90, p99: the worst).
point() {
	local k=$1 mode=$2 i h tgt pids="" f
	shift 2
	local tg=("$@")
	rm -f "$T"/pt.*
	for i in $(seq 0 $((k - 1))); do
		h=$([ $((i % 2)) = 0 ] && echo x || echo y)
		tgt=${tg[$((i % ${#tg[@]}))]}
		hstart "$h" "$BIN/bart_pgbench" "$mode" "$tgt" "$D" \
		    >"$T/pt.$i" 2>&1 &
		pids="$pids $!"
		track $!
	done
	for i in $pids; do wait "$i"; done
	f=$(cat "$T"/pt.*)
	if echo "$f" | grep -qv " calls "; then
		say "bart_pgbench $mode failed: $f"; echo "- - - -"; return
	fi
	echo "$f" | awk -v d="$D" '{ n += $3; if ($7 > p90) p90 = $7
		if ($9 > p99) p99 = $9 } END { printf "%d %d %d", n / d, p90, p99 }' |
	    { read -r cs p90 p99; echo "$cs $(echo "$f" | awk '{print $5}' |
		sort -n | awk '{ v[++m] = $1 } END { print v[int((m + 1) / 2)] }') $p90 $p99"; }
}
row() {
	local label=$1 k=$2 r
	shift 2
	r=$(point "$k" "$@")
	set -- $r
	printf '%-34s %3d %9s %8s %8s %8s\n' "$label" "$k" "$1" "$2" "$3" "$4"
	eval "LAST_P50=$2"
}

echo "== PostgreSQL store: COUNT(1) with identity over tcp, ${D} s per point"
echo "   (PostgreSQL 15 on hostp, fsync off; bart on hosta..c; clients on hostx/y)"
printf '%-34s %3s %9s %8s %8s %8s\n' series clnts calls/s p50us p90us p99us
row "libpq floor (the same statement)" 1 floor "$FLOOR"; F1=$LAST_P50
row "NULLPROC via bart (RPC floor)" 1 null hosta; N1=$LAST_P50
row "count, bart on SQLite" 1 count hosts; S1=$LAST_P50
row "count, bart on PostgreSQL" 1 count hosta; P1=$LAST_P50
for k in 4 8; do
	row "libpq floor" $k floor "$FLOOR"
	row "count, 1 bart on PostgreSQL" $k count hosta
	row "count, 3 barts on one database" $k count hosta hostb hostc
	row "count, bart on SQLite" $k count hosts
done
awk -v p="$P1" -v n="$N1" -v f="$F1" -v s="$S1" 'BEGIN {
	printf "one client: PostgreSQL count p50 %d us = %.2fx (RPC floor %d + " \
	    "transaction floor %d = %d us); SQLite count p50 %d us\n",
	    p, p / (n + f), n, f, n + f, s }'

# ---- the hot row: pgbench, one counter row vs eight shards --------------------
# hotrow NAME SQL: pgbench with 8 clients on hostx; prints its tps.
hotrow() {
	printf '%s\n' "$2" >"$T/$1.sql"
	chmod 644 "$T/$1.sql"
	hrun x "$PG_BINDIR/pgbench" -n -h "${IP4[p]}" -p "$PG_PORT" -U bart \
	    -c 8 -j 2 -T "$D" -f "$T/$1.sql" bart 2>/dev/null |
	    sed -n 's/^tps = \([0-9]*\).*/\1/p'
}
pg_sql p "CREATE TABLE bench_hot (id int PRIMARY KEY, v bigint NOT NULL);
    INSERT INTO bench_hot SELECT g, 0 FROM generate_series(0, 7) g;
    ALTER TABLE bench_hot OWNER TO bart" >/dev/null
echo "== where one counter stops scaling: pgbench, 8 clients, ${D} s, UPDATE ... SET v = v + 1"
printf '%-40s %9s %9s\n' series "fsync off" "fsync on"
for f in off on; do
	pg_sql p "ALTER SYSTEM SET fsync = $f" >/dev/null
	pg_sql p "SELECT pg_reload_conf()" >/dev/null
	sleep 1
	eval "HOT_$f=\$(hotrow hot 'UPDATE bench_hot SET v = v + 1 WHERE id = 0;')"
	eval "SHARD_$f=\$(hotrow shard '\\set id random(0, 7)
UPDATE bench_hot SET v = v + 1 WHERE id = :id;')"
done
pg_sql p "ALTER SYSTEM SET fsync = off" >/dev/null
pg_sql p "SELECT pg_reload_conf()" >/dev/null
printf '%-40s %9s %9s\n' "one hot row (bart's counter today)" "$HOT_off" "$HOT_on"
printf '%-40s %9s %9s\n' "eight rows (shards, summed on read)" "$SHARD_off" "$SHARD_on"

# ---- push across servers ----------------------------------------------------
# pushlat H SENDER: a subscriber of H's bart, 200 messages sent through
# SENDER's bart 5 ms apart; prints "p50 p99 max" of send -> DELIVER.
pushlat() {
	local sub=$1 snd=$2 hold sp
	mkfifo "$T/sim.in.$sub$snd"
	sleep 120 >"$T/sim.in.$sub$snd" &
	hold=$!
	track $hold
	hstart "$sub" "$BIN/bart_subsim" -n 1 -t 10 <"$T/sim.in.$sub$snd" \
	    >"$T/sim.$sub$snd" 2>&1 &
	sp=$!
	track $sp
	wait_for 15 grep -q "^ready" "$T/sim.$sub$snd"
	hrun "$snd" "$BIN/bart_subsim" -S 200 -I 5 >/dev/null 2>&1
	wait_for 5 sh -c "[ \$(grep -c '^got' '$T/sim.$sub$snd') -ge 200 ]"
	kill "$hold" 2>/dev/null
	wait_for 5 sh -c "! kill -0 $sp 2>/dev/null"
	stop_pid "$sp"
	grep '^got' "$T/sim.$sub$snd" | awk '{print $3}' | sort -n | awk '
		{ v[++n] = $1 } END { if (n == 0) { print "none"; exit }
		i = int(n * 0.99); if (i < 1) i = 1
		printf "%d %d %d %d\n", n, v[int((n + 1) / 2)], v[i], v[n] }'
}
echo "== chat push: CHAT_SEND to the subscriber's DELIVER, 200 messages, 5 ms apart"
printf '%-40s %5s %8s %8s %8s\n' series msgs p50us p99us maxus
r=$(pushlat a a); printf '%-40s %5s %8s %8s %8s\n' "same server (send via hosta)" $r
r=$(pushlat a b); printf '%-40s %5s %8s %8s %8s\n' "across servers (via hostb, NOTIFY)" $r
r=$(pushlat s s); printf '%-40s %5s %8s %8s %8s\n' "SQLite, same server" $r
net_teardown
cleanup
trap - EXIT
