#!/bin/bash
# SPDX-License-Identifier: ISC
# t_push_window.sh: pipelined delivery.  Once a callback connection has
# answered a DELIVER, the daemon keeps up to 4 DELIVERs in flight on it
# (push.c, PUSH_WINDOW), matched by xid.  With messages sent faster
# than the subscribers answer: subscribers that answer several at once,
# newest first, see every message once, in order, never re-sent, and
# several were in flight (1 before the window); subscribers that close
# the connection with DELIVERs in flight (every 3rd one taken but not
# answered) still see every message in order, the unanswered ones sent
# again on the next connection and dropped as repeats, and are not
# dropped; ordinary subscribers beside them get everything once.
. "$(dirname "$0")/lib.sh"
ns_setup
ulimit -n "$(ulimit -Hn)"
SIM=$BIN/bart_subsim
[ -x "$SIM" ] || SIM=$BIN/../bart_subsim	# sanitizer trees use the plain one
start_svc --max-subs 400 --max-subs-per-peer 400 --sub-rate 100000 || exit 1

sim_start() {
	local name=$1
	shift
	mkfifo "$T/$name.in"
	sleep 300 >"$T/$name.in" &
	track $!
	eval "HOLD_$name=$!"
	"$SIM" "$@" <"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" &
	track $!
	eval "SIM_$name=$!"
}
sim_ready() { grep -q '^ready' "$T/$1.out"; }
sim_report() {
	local n
	n=$(grep -c '^report' "$T/$1.out")
	echo report >"$T/$1.in"
	wait_for 5 eval "[ \$(grep -c '^report' '$T/$1.out') -gt $n ]"
	grep '^report' "$T/$1.out" | tail -1
}
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
subscribers() { clnt localhost stats | awk '/^subscribers:/ {print $2}'; }

N=50 K=60
sim_start ro -n $N -A 2 -B 10 -m reorder:60
sim_start dm -n $N -A 2 -B 12 -m dropmid:3
sim_start nm -n $N -A 2 -B 14
for s in ro dm nm; do
	wait_for 30 sim_ready $s || { not_ok "simulator $s ready"; cat "$T/$s.out" "$T/$s.err"; }
done
expect_eq "3 x $N subscribers live" $((3 * N)) "$(subscribers)"

"$SIM" -S $K -I 3 >"$T/send.out" || not_ok "$K messages sent"
all_in() { [ "$(sim_report "$1" | field msgs)" -ge $((N * K)) ]; }
for s in ro dm nm; do
	wait_for 40 all_in $s || not_ok "$s: all $K messages in: $(sim_report $s)"
done

r=$(sim_report ro)
echo "# reorder: $r"
expect_eq "answered newest first: $N x $K in order, once, none sent again" \
    "$((N * K)) 0 0 0" \
    "$(echo "$r" | field msgs) $(echo "$r" | field dups) $(echo "$r" | field gaps) $(echo "$r" | field badtoken)"
expect_eq "answered newest first: no reconnection (every reply matched by xid)" \
    "$N" "$(echo "$r" | field probes)"
held=$(echo "$r" | field maxheld)
if [ "${held:-0}" -ge 2 ] && [ "$held" -le 4 ]; then
	ok "several DELIVERs in flight on one connection, at most 4 ($held)"
else not_ok "DELIVERs in flight at once: ${held:-?} (expected 2..4)"; fi

r=$(sim_report dm)
echo "# dropmid: $r"
expect_eq "closed mid-window: $N x $K in order, each once past the repeats" \
    "$((N * K)) 0 0" \
    "$(echo "$r" | field msgs) $(echo "$r" | field gaps) $(echo "$r" | field badtoken)"
if [ "$(echo "$r" | field drops)" -ge 1 ]; then
	ok "connections closed with DELIVERs in flight ($(echo "$r" | field drops))"
else not_ok "no connection was closed mid-window: $r"; fi

r=$(sim_report nm)
echo "# normal: $r"
expect_eq "ordinary subscribers: $N x $K in order, once" "$((N * K)) 0 0" \
    "$(echo "$r" | field msgs) $(echo "$r" | field dups) $(echo "$r" | field gaps)"
expect_eq "none dropped (closing mid-window is never 3 failures in a row)" \
    $((3 * N)) "$(subscribers)"

for s in ro dm nm; do eval "kill \$HOLD_$s"; done
for s in ro dm nm; do
	pid=$(eval echo "\$SIM_$s")
	wait_for 20 eval "! kill -0 $pid 2>/dev/null" || not_ok "simulator $s left"
done
finish
