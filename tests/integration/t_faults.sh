#!/bin/bash
# SPDX-License-Identifier: ISC
# t_faults.sh: nothing acknowledged is lost, and everyone else keeps
# being served, when the daemon is killed -9 under load, when its disk
# fills up or turns read-only, when rpcbind is killed -9, and when
# clients die, stop and resume mid-call.
. "$(dirname "$0")/lib.sh"
ns_setup
start_svc -v || exit 1
count_now() { clnt -T tcp localhost count 0 | awk '{print $4}'; }

# worker N NETID SECS: count and say in turns until SECS pass; log
# "C" per acknowledged increment, "M text" per acknowledged message,
# "F" per call that got no answer (it may or may not have happened).
worker() {
	local n=$1 netid=$2 end=$(($(date +%s) + $3)) i=0
	while [ "$(date +%s)" -lt "$end" ] && [ $i -lt 2000 ]; do
		i=$((i + 1))
		if "$BIN/bart_clnt" -T "$netid" -t 4 localhost count 1 >/dev/null 2>&1; then
			echo C; else echo F; fi
		if "$BIN/bart_clnt" -T "$netid" -t 4 localhost say "w$n" "w$n-$i" >/dev/null 2>&1
		then echo "M w$n-$i"; else echo "G w$n-$i"; fi
	done >"$T/worker.$n"
}

# --- kill -9 under load -------------------------------------------------
c0=$(count_now)
W=""
n=0
for netid in tcp local udp tcp; do
	n=$((n + 1))
	worker $n $netid 8 &
	W="$W $!"; track $!
done
sleep 2.5
kill9_svc
sleep 0.3
start_svc -v || exit 1
for p in $W; do wait $p; done
acked=$(cat "$T"/worker.* | grep -c '^C$')
failed=$(cat "$T"/worker.* | grep -c '^F$')
c1=$(count_now)
echo "# counts: acknowledged $acked, unanswered $failed, counter grew $((c1 - c0))"
if [ $((c1 - c0)) -ge "$acked" ] && [ $((c1 - c0)) -le $((acked + failed)) ]; then
	ok "kill -9 under load: counter grew $((c1 - c0)), acked $acked, in doubt $failed"
else
	not_ok "kill -9 under load: counter grew $((c1 - c0)), acked $acked, in doubt $failed"
fi
if [ "$acked" -ge 20 ]; then ok "load was real: $acked acknowledged counts"; else
	not_ok "too little load: $acked acknowledged counts"; fi
clnt localhost history -n 100000 >"$T/hist" 2>"$T/hist.err" ||
	not_ok "history after restart"
for n in 1 2 3 4; do
	grep '^M ' "$T/worker.$n" | cut -d' ' -f2 >"$T/acked.$n"
	sed -n "s/.*\[w$n\] //p" "$T/hist" >"$T/stored.$n"
	dups=$(sort "$T/stored.$n" | uniq -d | wc -l)
	expect_eq "worker $n: no message stored twice" 0 "$dups"
	# Acknowledged messages, in the order stored, are the order sent.
	got=$(grep -Fxf "$T/acked.$n" "$T/stored.$n" | tr '\n' ' ')
	want=$(tr '\n' ' ' <"$T/acked.$n")
	if [ "$got" = "$want" ] && [ -s "$T/acked.$n" ]; then
		ok "worker $n: all $(wc -l <"$T/acked.$n") acknowledged messages in history, in order"
	else
		not_ok "worker $n: acknowledged messages in history in order"
		echo "#   acked:  $(head -c 300 <<<"$want")"; echo "#   stored: $(head -c 300 <<<"$got")"
	fi
done
grep -q "^F$\|^G " "$T"/worker.* && echo "# the kill hit calls in flight" ||
	echo "# no call was in flight at the kill (client resends covered it)"

# --- disk full ----------------------------------------------------------
stop_svc
mv "$T/state" "$T/state.old"
mkdir "$T/state"
mount -t tmpfs -o size=64m tmpfs "$T/state" || { not_ok "tmpfs for the state"; finish; exit 1; }
cp -a "$T/state.old/." "$T/state/"
start_svc -v || exit 1
clnt localhost say disk "before the disk filled" >/dev/null
c0=$(count_now)
h0=$(clnt localhost history -n 50)
dd if=/dev/zero of="$T/state/filler" bs=64k 2>/dev/null
expect_run "disk full: count fails with exit 74 in plain words" 74 "" "store|disk|commit|space" \
    clnt localhost count 1
expect_run "disk full: say fails with exit 74" 74 "" "store|disk|commit|space" \
    clnt localhost say disk "lost in space"
grep -q "could not commit" "$T/svc.log" && ok "disk full: the daemon logged it" ||
	not_ok "disk full: no log line"
expect_run "disk full: count 0 still reads" 0 "^I was called $c0 times\.$" "" clnt localhost count 0
expect_run "disk full: history still reads" 0 "before the disk filled" "" clnt localhost history -n 5
expect_run "disk full: stats still read" 0 "^counter: *$c0" "" clnt localhost stats
rm -f "$T/state/filler"
expect_run "space back: count works again" 0 "^I was called $((c0 + 1)) times\.$" "" \
    clnt localhost count 1
expect_run "space back: say works again" 0 "stored" "" clnt localhost say disk "space is back"
expect_eq "nothing stored was damaged" "$h0" "$(clnt localhost history -n 52 | head -n -1 | tail -n +2)"
sqlite3 "$T/state/bart.db" 'PRAGMA integrity_check' >"$T/integrity" 2>&1
expect_eq "database integrity after a full disk" ok "$(cat "$T/integrity")"

# --- read-only state ----------------------------------------------------
# A mount with files open for writing cannot turn read-only (EBUSY),
# so the daemon meets the read-only state at its (re)start.
c0=$(count_now)
h0=$(clnt localhost history -n 50)
stop_svc
if mount -o remount,ro "$T/state"; then
	if start_svc -v; then
		ok "read-only state: the daemon starts"
		expect_run "read-only: count fails with exit 74" 74 "" "store|disk|commit|read" \
		    clnt localhost count 1
		expect_run "read-only: say fails with exit 74" 74 "" "" clnt localhost say disk "nope"
		expect_run "read-only: count 0 reads" 0 "^I was called $c0 times\.$" "" clnt localhost count 0
		expect_run "read-only: history reads" 0 "space is back" "" clnt localhost history -n 5
		stop_svc
	else
		not_ok "read-only state: the daemon does not start"
		tail -5 "$T/svc.log" | sed 's/^/#   /'
	fi
	mount -o remount,rw "$T/state"
else
	not_ok "remount read-only"
fi
start_svc -v || exit 1
expect_run "writable again: count works" 0 "^I was called $((c0 + 1)) times\.$" "" \
    clnt localhost count 1
expect_eq "nothing stored was damaged (read-only)" "$h0" "$(clnt localhost history -n 50)"

# --- rpcbind killed -9 and restarted under load -------------------------
W=""
for n in 5 6; do
	worker $n tcp 9 &
	W="$W $!"; track $!
done
sleep 1
rpcbind_restart -9 || not_ok "rpcbind restarted"
t0=$(date +%s%N)
if wait_for 5 registered; then
	ok "re-registered with the new rpcbind in $((($(date +%s%N) - t0) / 1000000)) ms"
else not_ok "re-registered with the new rpcbind within 5 s"; fi
for p in $W; do wait $p; done
late=$(tail -n 4 "$T/worker.5" "$T/worker.6" | grep -c '^C$')
if [ "$late" -ge 1 ]; then ok "clients kept working after the rpcbind restart"; else
	not_ok "clients kept working after the rpcbind restart"; fi
for k in local tcp udp; do
	expect_run "after rpcbind restart: count over $k" 0 "^I was called" "" clnt -T $k localhost count 1
done

# --- clients killed mid-call, chat clients stopped and resumed ----------
mkfifo "$T/chat.in"
sleep 600 >"$T/chat.in" &
track $!
"$BIN/bart_clnt" localhost chat carol <"$T/chat.in" >"$T/chat.out" 2>"$T/chat.err" &
CHAT=$!; track $CHAT
wait_for 10 grep -q "joined the chat" "$T/chat.err" || not_ok "carol joined"
"$BIN/bart_clnt" localhost chat stan <"$T/chat.in" >"$T/stan.out" 2>"$T/stan.err" &
STAN=$!; track $STAN
wait_for 10 grep -q "joined the chat" "$T/stan.err" || not_ok "stan joined"
kill -STOP $STAN
worker 7 tcp 6 &
W7=$!; track $W7
for i in $(seq 30); do
	"$BIN/bart_clnt" -T tcp localhost count 1 >/dev/null 2>&1 &
	p=$!
	sleep 0.0$((RANDOM % 9))
	kill -9 $p 2>/dev/null
	wait $p 2>/dev/null
done
kill -CONT $STAN
wait $W7
acked7=$(grep -c '^M ' "$T/worker.7")
got7() { [ "$(grep -c '^\[w7\] ' "$T/chat.out")" -ge "$acked7" ]; }
if wait_for 10 got7; then ok "carol got all $acked7 messages while others died and stopped"; else
	not_ok "carol got $(grep -c '^\[w7\] ' "$T/chat.out") of $acked7 messages"; fi
stan7() { [ "$(grep -c '^\[w7\] ' "$T/stan.out")" -ge "$acked7" ]; }
if wait_for 20 stan7; then ok "stan, stopped and resumed, caught up"; else
	not_ok "stan caught up: $(grep -c '^\[w7\] ' "$T/stan.out") of $acked7"; fi
dupc=$(grep '^\[w7\] ' "$T/chat.out" | sort | uniq -d | wc -l)
expect_eq "carol: no message printed twice" 0 "$dupc"
expect_run "after 30 clients killed mid-call: count answers" 0 "^I was called" "" \
    clnt localhost count 1
kill -TERM $CHAT $STAN
finish
