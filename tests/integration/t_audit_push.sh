#!/bin/bash
# SPDX-License-Identifier: ISC
# t_audit_push.sh: issue 12's deaf subscribers, made by a stranger's
# client (tests/tools/rpcprobe.py deaf: RFC 1833 SET of its own callback
# programs, CHAT_SUBSCRIBE, the NULLPROC probe answered, then never a
# byte read): 20 of them beside one real chat client, which prints 30
# messages in order, promptly; the daemon's threads do not change, and
# the deaf ones are dropped (STATS: one subscriber left) and logged.
. "$(dirname "$0")/lib.sh"
ns_setup
PROBE="$(cd "$(dirname "$0")/../tools" && pwd)/rpcprobe.py"
thr() { awk '/^Threads:/ {print $2}' /proc/$SVC_PID/status; }
start_svc -v --chat-rate 0 || exit 1
mkfifo "$T/in"
sleep 300 >"$T/in" &
track $!
"$BIN/bart_clnt" localhost chat real <"$T/in" >"$T/out" 2>"$T/err" &
track $!
wait_for 10 grep -q joined "$T/err" || not_ok "the real subscriber joined"
t0=$(thr)
"$PROBE" deaf 20 0x41000000 40 >"$T/deaf" 2>&1 &
track $!
wait_for 60 grep -q subscribed= "$T/deaf"
expect_eq "20 deaf subscribers (probe answered, then never read)" \
    "subscribed=20" "$(grep subscribed= "$T/deaf")"
a=$(date +%s%N)
for i in $(seq 30); do clnt localhost say s "m$i" >/dev/null || break; done
lines() { [ "$(wc -l <"$T/out")" -ge 30 ]; }
wait_for 10 lines
ms=$(( ($(date +%s%N) - a) / 1000000 ))
expect_eq "the real subscriber printed m1..m30 in order, once" \
    "$(seq -f '[s] m%g' 30)" "$(cat "$T/out")"
# 30 one-shot says take most of it; the deaf ones hold nothing.
if [ $ms -lt 5000 ]; then ok "... within $ms ms of the first say"
else not_ok "... within 5 s of the first say ($ms ms)"; fi
expect_eq "the daemon's threads with 20 deaf subscribers: as before" "$t0" "$(thr)"
# Dropped after repeated failures: only the real one left subscribed
# (the log says so too, with repeats suppressed after 20).
subs() { clnt localhost stats | awk '/^subscribers:/ {print $2}'; }
only_real() { [ "$(subs)" = 1 ]; }
if wait_for 40 only_real; then ok "every deaf subscriber dropped: 1 subscriber left"
else not_ok "every deaf subscriber dropped: $(subs) subscribers left, not 1"; fi
if grep -q "dropped" "$T/svc.log"; then ok "the drops are logged: $(grep -m1 dropped "$T/svc.log")"
else not_ok "the drops are logged"; fi
finish
