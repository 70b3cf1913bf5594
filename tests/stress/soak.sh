#!/bin/bash
# SPDX-License-Identifier: ISC
# soak.sh: a bounded soak of bart_svc under mixed load (make stress).
#
# Runs inside "unshare --net --mount" (see mk/stress.mk) with the
# integration tests' lib.sh: private /run, loopback only, own rpcbind.
# Two phases of the same load, each ended by quiescing every client:
#   warm-up (STRESS_SECS/5, at least 30 s), then sample RSS and fds;
#   soak (the rest, at least 30 s), then sample again.
# Load: count over tcp, udp and local; say; history/stats/ping; chat
# subscriber A (steady), B (SIGSTOPped 5 s of every 15), C (killed,
# alternately -9 and TERM, and restarted every 20 s).
# Checks: every call answered; counter == sum of acknowledged
# increments; messages == acknowledged says; A and B printed every
# message of the phase once and in order; RSS grew at most
# STRESS_RSS_KB (2048) kB; open fds did not grow.  STRESS_VALGRIND=1
# runs bart_svc under valgrind and fails on any error or definite leak.
. "$(dirname "$0")/../integration/lib.sh"

SECS=${STRESS_SECS:-300}
VG=${STRESS_VALGRIND:-0}
RSS_MARGIN_KB=${STRESS_RSS_KB:-2048}
PACE=${STRESS_PACE:-0.01}	# pause between one client's calls
CALL_T=20			# bart_clnt -t: every call waits for its answer
MAXCALLS=100000			# per worker and phase, besides the deadline
WARM=$((SECS / 5))		# long enough to fill caches and arenas
[ "$WARM" -lt 30 ] && WARM=30
MAIN=$((SECS - WARM))
[ "$MAIN" -lt 30 ] && MAIN=30

ns_setup

# The daemon, plain or under valgrind (slow to start: wait longer).
# One uid sends all the says: no chat rate limit (--chat-rate 0).
if [ "$VG" = 1 ]; then
	command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 1; }
	valgrind --leak-check=full --show-leak-kinds=definite \
	    --errors-for-leak-kinds=definite --error-exitcode=99 \
	    --log-file="$T/vg.log" \
	    "$BIN/bart_svc" -f -S "$T/state" -p "$T/svc.pid" -s "$T/svc.sock" \
	    --chat-rate 0 2>>"$T/svc.log" &
	SVC_PID=$!
	track $SVC_PID
	wait_for 60 rpcinfo -t localhost $PROG 1 || {
		echo "bart_svc did not register under valgrind"; cat "$T/vg.log"; exit 1; }
else
	start_svc --chat-rate 0 || exit 1
fi

rss_kb() { awk '/^VmRSS:/ {print $2}' /proc/$SVC_PID/status; }
nfds() { ls /proc/$SVC_PID/fd | wc -l; }
rss_parts() { awk '/^Rss(Anon|File|Shmem):/ {printf "%s %s kB  ", $1, $2}' /proc/$SVC_PID/status; }
stat_field() { clnt -t $CALL_T localhost stats | awk -v k="$1:" '$1 == k {print $2}'; }

# --- load generators: each loop bounded by count, deadline and stop file

count_worker() {	# ID NETID PHASE DEADLINE
	local id=$1 netid=$2 ph=$3 dl=$4 k=0 n acked=0 unsure=0 rc
	while [ ! -e "$T/stop" ] && [ $k -lt $MAXCALLS ] && [ $EPOCHSECONDS -lt $dl ]; do
		k=$((k + 1)); n=$(( (k % 7) + 1 ))
		"$BIN/bart_clnt" -T "$netid" -t $CALL_T localhost count $n >/dev/null 2>>"$T/err.$id"
		rc=$?
		if [ $rc = 0 ]; then acked=$((acked + n)); else
			unsure=$((unsure + n)); echo "count $n over $netid: exit $rc" >>"$T/err.$id"; fi
		echo "$acked $unsure $k" >"$T/count.$id.$ph"
		sleep $PACE
	done
}

# Long lines (~400 bytes) grow the database past SQLite's 2 MB page
# cache during the warm-up, so the cache is full before RSS is sampled.
PAD=$(printf '%0390d' 0 | tr 0 x)
say_worker() {		# ID PHASE DEADLINE
	local id=$1 ph=$2 dl=$3 k=0 rc
	while [ ! -e "$T/stop" ] && [ $k -lt $MAXCALLS ] && [ $EPOCHSECONDS -lt $dl ]; do
		k=$((k + 1))
		"$BIN/bart_clnt" -t $CALL_T localhost say "soak$id" "p$ph-$k $PAD" >/dev/null 2>>"$T/err.$id"
		rc=$?
		if [ $rc = 0 ]; then echo "[soak$id] p$ph-$k $PAD" >>"$T/said.$ph"; else
			echo x >>"$T/unsure.$ph"; echo "say: exit $rc" >>"$T/err.$id"; fi
		sleep $PACE
	done
}

read_worker() {		# ID PHASE DEADLINE
	local id=$1 dl=$3 k=0 rc nets=(tcp udp local)
	while [ ! -e "$T/stop" ] && [ $k -lt $MAXCALLS ] && [ $EPOCHSECONDS -lt $dl ]; do
		k=$((k + 1))
		case $((k % 4)) in
		0) clnt -T "${nets[k % 3]}" -t $CALL_T localhost history -n 50 ;;
		1) clnt -T tcp -t $CALL_T localhost history --since $((k * 3)) ;;
		2) clnt -T "${nets[k % 3]}" -t $CALL_T localhost stats ;;
		3) clnt -T "${nets[k % 3]}" -t $CALL_T localhost ping ;;
		esac >/dev/null 2>>"$T/err.$id"
		rc=$?
		[ $rc = 0 ] || echo "read $((k % 4)): exit $rc" >>"$T/err.$id"
		sleep $PACE
	done
}

# chat_start ID NAME PHASE: a subscriber reading a fifo held open by a
# tracked sleep; its output goes to $T/ID.PHASE.out.
chat_start() {
	local id=$1 name=$2 ph=$3
	rm -f "$T/$id.in"; mkfifo "$T/$id.in"
	sleep $((SECS + 120)) >"$T/$id.in" &
	eval "HOLD_$id=$!"; track $!
	"$BIN/bart_clnt" localhost chat "$name" <"$T/$id.in" >>"$T/$id.$ph.out" 2>>"$T/$id.err" &
	eval "CHAT_$id=$!"; track $!
}
SLOW_STOPS=0
chat_stop() {		# ID: TERM the client (it unsubscribes), drop the holder
	local c h t0
	eval "c=\$CHAT_$1 h=\$HOLD_$1"
	t0=$EPOCHSECONDS
	stop_pid "$c"
	if [ $((EPOCHSECONDS - t0)) -ge 5 ]; then
		SLOW_STOPS=$((SLOW_STOPS + 1))
		echo "# chat $1 (pid $c) needed SIGKILL: no exit within 5 s of SIGTERM"
		tail -3 "$T/$1.err" | sed 's/^/#   its stderr: /'
	fi
	stop_pid "$h"
}
joined_n() { grep -c "joined the chat" "$T/$1.err" 2>/dev/null; }

# wait_pids SECS PID...: bounded wait for workers, then stop the rest.
wait_pids() {
	local secs=$1 p i
	shift
	for i in $(seq $((secs * 10))); do
		for p in "$@"; do kill -0 "$p" 2>/dev/null && break; done
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	for p in "$@"; do stop_pid "$p"; done
}

# complete ID PHASE: the subscriber printed each acknowledged message of
# the phase exactly once, each sender's messages in order.
complete() {
	awk -v said="$T/said.$2" '
	    BEGIN { while ((getline l < said) > 0) { want[l] = 1; n++ } }
	    ($0 in want) { seen[$0]++; got++
		split($2, a, "-"); s = $1
		if (a[2] + 0 <= last[s] + 0) bad++
		last[s] = a[2] }
	    END { for (l in want) if (seen[l] != 1) miss++
		exit !(n > 0 && miss == 0 && bad == 0) }' "$T/$1.$2.out"
}
missing() {
	awk -v said="$T/said.$2" '
	    BEGIN { while ((getline l < said) > 0) want[l] = 1 }
	    { seen[$0]++ }
	    END { for (l in want) if (seen[l] != 1) { m++; if (m <= 5) print "#     " l ": " seen[l] + 0 " times" }
		print "#     " m + 0 " of " length(want) " not printed exactly once" }' "$T/$1.$2.out"
}

# run_phase PHASE SECS: the whole mix, then quiesce.
run_phase() {
	local ph=$1 secs=$2 dl w i kills=0 stops=0 t0 deadline
	rm -f "$T/stop"
	chat_start A alice $ph; chat_start B bob $ph; chat_start C carol $ph
	wait_for 20 eval '[ "$(joined_n A)" -ge '$ph' ] && [ "$(joined_n B)" -ge '$ph' ]' ||
		not_ok "phase $ph: subscribers A and B joined"
	dl=$((EPOCHSECONDS + secs))
	W=""
	count_worker 1 tcp $ph $dl & W="$W $!"
	count_worker 2 udp $ph $dl & W="$W $!"
	count_worker 3 local $ph $dl & W="$W $!"
	say_worker 4 $ph $dl & W="$W $!"
	say_worker 5 $ph $dl & W="$W $!"
	read_worker 6 $ph $dl & W="$W $!"
	for w in $W; do track $w; done

	# Orchestrate once a second: stop/resume B, kill/restart C.
	t0=$EPOCHSECONDS
	for i in $(seq $((secs + 5))); do
		[ $EPOCHSECONDS -ge $dl ] && break
		case $(( (EPOCHSECONDS - t0) % 15 )) in
		3) eval "kill -STOP \$CHAT_B"; stops=$((stops + 1)) ;;
		8) eval "kill -CONT \$CHAT_B" ;;
		esac
		if [ $(( (EPOCHSECONDS - t0) % 20 )) = 10 ]; then
			if [ $((kills % 2)) = 0 ]; then
				eval "kill -9 \$CHAT_C"; eval "stop_pid \$HOLD_C"
			else
				chat_stop C
			fi
			kills=$((kills + 1))
			chat_start C carol $ph
		fi
		sleep 1
	done
	eval "kill -CONT \$CHAT_B"
	touch "$T/stop"
	wait_pids 60 $W

	# Every subscriber that stayed must have everything of the phase.
	for i in A B; do
		if wait_for 30 complete $i $ph; then
			ok "phase $ph: subscriber $i printed all $(wc -l <"$T/said.$ph") messages once, in order"
		else
			not_ok "phase $ph: subscriber $i printed every message once, in order"
			missing $i $ph
		fi
	done
	echo "# phase $ph: B stopped $stops times, C killed and restarted $kills times"
	chat_stop A; chat_stop B; chat_stop C

	# A message flushes subscriptions of killed clients (delivery fails).
	clnt -t $CALL_T localhost say flush "end of phase $ph" >/dev/null &&
		echo "[flush] end of phase $ph" >>"$T/said.$ph"
	wait_for 30 eval '[ "$(stat_field subscribers)" = 0 ]' ||
		not_ok "phase $ph: no subscribers left ($(stat_field subscribers))"
	sleep 2
}

sum_counts() { cat "$T"/count.*.* 2>/dev/null | awk '{a += $1; u += $2} END {print a + 0, u + 0}'; }
said_total() { cat "$T"/said.* 2>/dev/null | wc -l; }
unsure_total() { cat "$T"/unsure.* 2>/dev/null | wc -l; }

echo "# soak: ${SECS} s (warm-up ${WARM} s, then ${MAIN} s)$([ "$VG" = 1 ] && echo ', under valgrind')"
run_phase 1 $WARM
RSS0=$(rss_kb); FD0=$(nfds)
echo "# after warm-up: VmRSS ${RSS0} kB ($(rss_parts)), ${FD0} fds"
( for i in $(seq $((MAIN / 10 + 30))); do
	[ -e "$T/sampler.stop" ] && break
	echo "$(rss_kb) $(nfds) $(rss_parts)" >>"$T/samples"; sleep 10
  done ) &
SAMPLER=$!; track $SAMPLER
run_phase 2 $MAIN
touch "$T/sampler.stop"; stop_pid $SAMPLER
RSS1=$(rss_kb); FD1=$(nfds)
PEAK=$(awk 'BEGIN {m = 0} $1 > m {m = $1} END {print m}' "$T/samples" 2>/dev/null)
echo "# at the end: VmRSS ${RSS1} kB ($(rss_parts)), peak under load ${PEAK} kB, ${FD1} fds"
sed 's/^/# sample (VmRSS kB, fds): /' "$T/samples"

# --- checks ---------------------------------------------------------------
errs=$(cat "$T"/err.* 2>/dev/null | grep -c 'exit')
calls=$(cat "$T"/count.*.* 2>/dev/null | awk '{k += $3} END {print k + 0}')
if [ "$errs" = 0 ]; then ok "every call answered ($calls counts, $(said_total) says)"; else
	not_ok "every call answered: $errs failed"; cat "$T"/err.* | sort | uniq -c | sort -rn | head | sed 's/^/#   /'; fi

read -r ACKED UNSURE <<<"$(sum_counts)"
COUNTER=$(stat_field counter)
if [ "$UNSURE" = 0 ]; then
	expect_eq "counter equals the sum of acknowledged increments" "$ACKED" "$COUNTER"
elif [ "$COUNTER" -ge "$ACKED" ] && [ "$COUNTER" -le $((ACKED + UNSURE)) ]; then
	ok "counter $COUNTER within acknowledged $ACKED + unanswered $UNSURE"
else
	not_ok "counter $COUNTER outside $ACKED..$((ACKED + UNSURE))"
fi
MSGS=$(stat_field messages)
if [ "$(unsure_total)" = 0 ]; then
	expect_eq "messages equal acknowledged says" "$(said_total)" "$MSGS"
else
	not_ok "says unanswered: $(unsure_total)"
fi

if [ "$VG" = 1 ] || ldd "$BIN/bart_svc" | grep -q libasan; then
	echo "# RSS not compared under valgrind or ASan ($RSS0 -> $RSS1 kB)"
else
	GROWTH=$((RSS1 - RSS0))
	if [ "$GROWTH" -le "$RSS_MARGIN_KB" ]; then
		ok "RSS flat: ${RSS0} -> ${RSS1} kB (${GROWTH} kB, margin ${RSS_MARGIN_KB})"
	else
		not_ok "RSS grew ${GROWTH} kB (${RSS0} -> ${RSS1}, margin ${RSS_MARGIN_KB})"
	fi
fi
echo "# chat clients that needed SIGKILL after SIGTERM: $SLOW_STOPS"
if [ "$FD1" -le "$FD0" ]; then ok "open fds flat: ${FD0} -> ${FD1}"; else
	not_ok "open fds grew: ${FD0} -> ${FD1}"; ls -l /proc/$SVC_PID/fd | sed 's/^/#   /'; fi

# Under valgrind: a clean stop (leak check at exit) can take a while.
if [ "$VG" = 1 ]; then
	kill -TERM $SVC_PID
	for i in $(seq 1200); do kill -0 $SVC_PID 2>/dev/null || break; sleep 0.1; done
	kill -0 $SVC_PID 2>/dev/null && { not_ok "bart_svc stopped under valgrind"; kill -9 $SVC_PID; }
	wait $SVC_PID; VRC=$?
	sed -n '/HEAP SUMMARY/,$p' "$T/vg.log" | sed 's/^==[0-9]*== /# vg: /' | grep -v '^# vg: $'
	if [ "$VRC" = 0 ] && grep -q "ERROR SUMMARY: 0 errors" "$T/vg.log"; then
		ok "valgrind: no errors, nothing definitely lost (exit $VRC)"
	else
		not_ok "valgrind: exit $VRC"
		grep -A25 -E 'definitely lost in|Invalid|uninitialised|Mismatched' "$T/vg.log" | head -80 | sed 's/^/#   /'
	fi
fi
finish
