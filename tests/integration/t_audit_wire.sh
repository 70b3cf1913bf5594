#!/bin/bash
# SPDX-License-Identifier: ISC
# t_audit_wire.sh: issue 12 item 3 as a stranger checks it, with a client
# written from the RFCs alone (tests/tools/rpcprobe.py: RFC 5531 record
# marking, RFC 4506 XDR, RFC 1833 GETPORT), sharing no code with bart:
# fragmented calls (three, 1-byte, empty non-final fragments), the
# record cap exactly and one byte over, marks claiming 2 GB, a
# half-closed client owed all its replies, a record dribbled a mark at
# a time, and clients that pipeline and never read.
. "$(dirname "$0")/lib.sh"
ns_setup
PROBE="$(cd "$(dirname "$0")/../tools" && pwd)/rpcprobe.py"
P() { "$PROBE" -t 3 "$@"; }
rss() { awk '/^VmRSS:/ {print $2}' /proc/$SVC_PID/status; }
cpu() { awk '{print $14 + $15}' /proc/$SVC_PID/stat; }
total() { clnt -T tcp localhost count 0 | awk '{print $4}'; }
RSS_MAX=16384
[ -n "${BART_ASAN:-}" ] && RSS_MAX=262144
start_svc -v --chat-rate 0 --max-conns-per-peer 200 || exit 1

expect_eq "GETPORT (RFC 1833, our own query) agrees with rpcinfo" \
    "reply $(rpcinfo -p localhost | awk -v p=$PROG '$1 == p && $3 == "tcp" {print $4}')" \
    "$(P getport $PROG 1 6)"

# ---- fragments and the cap (RFC 5531 section 11) ------------------------
for k in tcp local; do
	o=""; [ $k = local ] && o="-u $T/svc.sock"
	expect_eq "$k: NULL in one fragment" "reply void" "$(P $o frags 1 0)"
	expect_eq "$k: NULL in three fragments" "reply void" "$(P $o frags 3 0)"
	expect_eq "$k: STATS in three fragments answers BART_OK" "reply 0" \
	    "$(P $o frags 3 7)"
	expect_eq "$k: NULL in 1-byte fragments (40 of them)" "reply void" \
	    "$(P $o bytefrags 0 0 2>/dev/null)"
	expect_eq "$k: 1-byte fragments, 10 empty non-final ones before each" \
	    "reply void" "$(P $o bytefrags 0 10 2>/dev/null)"
	expect_eq "$k: 200 empty fragments before each byte (32 KB of marks): closed" \
	    "closed" "$(P $o bytefrags 0 200 2>/dev/null)"
	expect_eq "$k: a record of exactly 16384 bytes, marks included" \
	    "reply void" "$(P $o over 16384)"
	expect_eq "$k: 16385 bytes: closed" "closed" "$(P $o over 16385)"
	expect_eq "$k: a last fragment claiming 2 GB: closed at once" \
	    "closed" "$(P $o mark ffffffff)"
	expect_eq "$k: a non-final fragment claiming 2 GB: closed at once" \
	    "closed" "$(P $o mark 7fffffff)"
done
expect_run "the daemon still serves" 0 "^I was called 0 times\.$" "" \
    clnt localhost count 0

# ---- half-close: every pipelined call answered, each counted once --------
# A client may send its calls and shutdown(SHUT_WR) (nc -N does); the
# stock rpcgen server answers them all.  100 COUNTs span many rounds
# of bart's loop and several group commits.
t0=$(total)
expect_eq "tcp: 100 COUNTs, then SHUT_WR: 100 replies" "reply 100" \
    "$(P pipeline 100 0xa1)"
expect_eq "local: 100 COUNTs, then SHUT_WR: 100 replies" "reply 100" \
    "$(P -u "$T/svc.sock" pipeline 100 0xa2)"
expect_eq "... and the counter grew by exactly 200" $((t0 + 200)) "$(total)"
expect_eq "the same 100 identities sent again: all answered, nothing counted" \
    "reply 100 $((t0 + 200))" "$(P pipeline 100 0xa1) $(total)"

# ---- a record dribbled one 4-byte mark per send() -----------------------
# 4000 empty fragments and a NULL per record, for 3 s: the daemon's CPU
# per record is the per-read floor (it walked the whole record again
# on every read before, 21 ms a record here).
c0=$(cpu)
r=$(P dribble 4000 3)
c1=$(cpu)
n=${r#reply }; n=${n%% *}
echo "# dribble: $r (client CPU s); daemon $((c1 - c0)) ticks for $n records"
if [ "${n:-0}" -gt 0 ]; then ok "a record dribbled in 4000 empty fragments is answered ($n in 3 s)"
else not_ok "a record dribbled in 4000 empty fragments is answered: $r"; fi

# ---- clients that pipeline and never read ------------------------------
# 20 'count 0' timed, each a fork and exec too: sets MED to the median ms,
# FAIL to those that failed, WORST to the slowest (no subshell).
times20() {
	local i a ms all=""
	fail=0 worst=0
	for i in $(seq 20); do
		a=$(date +%s%N)
		clnt -T tcp -t 1 localhost count 0 >/dev/null 2>&1 || fail=$((fail + 1))
		ms=$(( ($(date +%s%N) - a) / 1000000 ))
		[ $ms -gt $worst ] && worst=$ms
		all="$all $ms"
	done
	MED=$(echo $all | tr ' ' '\n' | sort -n | sed -n 10p)
}
for i in $(seq 60); do clnt localhost say audit "line $i $(printf 'y%.0s' $(seq 400))" \
    >/dev/null || break; done
times20; base=$MED
echo "# 20 'count 0' alone: median $base ms, slowest $worst ms"
r0=$(rss)
"$PROBE" -t 3 noread 20 20 >"$T/noread" 2>&1 &
NR=$!; track $NR
wait_for 10 grep -q opened= "$T/noread" || not_ok "20 non-readers connected"
sleep 1		# let them fill their sockets
times20; med=$MED
r1=$(rss)
echo "# 20 'count 0' beside 20 non-readers: $fail failed, median $med ms, slowest $worst ms (load: $(cut -d' ' -f1-3 /proc/loadavg))"
expect_eq "others' count 0 all answer within -t 1" 0 $fail
# The median beside them within 100 ms of the median alone: the same
# fork and exec in both, so a loaded machine's cost cancels out.
if [ $med -le $((base + 100)) ]; then ok "others' count 0 within 100 ms of alone (median $med ms, alone $base ms)"
else not_ok "others' count 0 within 100 ms of alone: median $med ms, alone $base ms"; fi
if [ $((r1 - r0)) -lt $RSS_MAX ]; then ok "RSS beside the non-readers: $r0 -> $r1 kB"
else not_ok "RSS beside the non-readers: $r0 -> $r1 kB (limit +$RSS_MAX)"; fi
wait $NR
expect_eq "all 20 non-readers closed by the daemon" "closed=20" \
    "$(grep -o 'closed=[0-9]*' "$T/noread")"
if grep -q "did not read their replies\|does not read its replies" "$T/svc.log"; then
	ok "the closing is logged: $(grep -m1 'read.*replies' "$T/svc.log")"
else not_ok "the closing of non-readers is logged"; fi
expect_run "the daemon still serves after them" 0 "^I was called" "" \
    clnt localhost count 0
finish
