#!/bin/bash
# SPDX-License-Identifier: ISC
# t_audit_clnt.sh: bart_clnt's -t ("the timeout of each call") against
# hostile servers registered with rpcbind by tests/tools/rpcprobe.py
# (a stranger's implementation of RFC 5531 and RFC 1833): one that
# sends its reply a byte every 0.3 s (libtirpc waits -t for each read:
# 20 s for -t 1), one that never answers, one whose reply claims a
# 2 GB fragment and streams zeros, a silent one over udp and one that
# answers with another xid every 0.2 s; then the real
# daemon over the same stream path: small and large replies (history
# of 64 long messages, several reads), tcp and local.
. "$(dirname "$0")/lib.sh"
ns_setup
PROBE="$(cd "$(dirname "$0")/../tools" && pwd)/rpcprobe.py"
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
LIMIT=2500		# -t 1, plus a loaded machine's start-up (20 s before)
[ -n "${BART_ASAN:-}" ] && LIMIT=4000

# fake MODE: a hostile server for 60 s at most, registered.
fake() {
	"$PROBE" fakesvc "$1" 60 >"$T/fake.$1" 2>&1 &
	FAKE=$!
	track $FAKE
	wait_for 5 grep -q registered "$T/fake.$1" ||
	    { not_ok "fake server $1 registered"; cat "$T/fake.$1"; }
}
# within DESC RC ERR-REGEX ARGS...: bart_clnt ARGS exits RC, its stderr
# matches, within LIMIT ms (killed after 30 s: a hang fails, not stalls).
within() {
	local desc=$1 rc=$2 re=$3 t0 el
	shift 3
	t0=$(date +%s%N)
	expect_run "$desc" "$rc" "" "$re" timeout -s KILL 30 "$BIN/bart_clnt" "$@"
	el=$(ms_since "$t0")
	if [ "$el" -lt $LIMIT ]; then ok "$desc: within -t ($el ms)"
	else not_ok "$desc: within -t 1 ($el ms, limit $LIMIT)"; fi
}

fake dribble
within "a reply dribbled a byte every 0.3 s: count 1 times out" 75 \
    "no answer within 1 s: the change may or may not have landed" \
    -T tcp -t 1 localhost count 1
within "... ping times out" 75 "no answer within 1 s" -T tcp -t 1 localhost ping
within "... stats times out" 75 "no answer within 1 s" -T tcp -t 1 localhost stats
stop_pid $FAKE

fake silent
within "a server that reads and never answers: count 1" 75 \
    "may or may not have landed" -T tcp -t 1 localhost count 1
stop_pid $FAKE

fake huge
within "a reply claiming a 2 GB fragment, then zeros: refused" 69 \
    "connection to the server lost" -T tcp -t 1 localhost count 0
stop_pid $FAKE

fake unknown
within "BART_EUNKNOWN, then BART_EUNAVAIL for the resend: still unknown" 75 \
    "could not confirm its commit, and the call sent again failed \\(the server.s database is unavailable\\): the change may or may not be stored" \
    -T tcp -t 1 localhost count 1
stop_pid $FAKE

fake udp-silent
within "udp, a server that never answers: count 1" 75 \
    "may or may not have landed" -T udp -t 1 localhost count 1
stop_pid $FAKE

fake udp-junk
within "udp, replies with another xid every 0.2 s: count 1 times out" 75 \
    "may or may not have landed" -T udp -t 1 localhost count 1
stop_pid $FAKE

for h in "" ","; do
	expect_run "host '$h': 'no host given', exit 64, no empty prefix" 64 "" \
	    "^bart_clnt: no host given$" clnt "$h" count 1
done

# ---- the real daemon, through the same stream path ------------------------
start_svc --chat-rate 0 || exit 1
for k in tcp local; do
	expect_run "$k: count 1 (real daemon)" 0 "^I was called [0-9]+ times\.$" "" \
	    clnt -T $k localhost count 1
done
line=$(printf 'z%.0s' $(seq 500))
for i in $(seq 64); do clnt localhost say audit "$i $line" >/dev/null || break; done
for k in tcp local; do
	expect_eq "$k: history -n 64 of 512-byte lines (a 37 KB reply)" 64 \
	    "$(clnt -T $k localhost history -n 64 | grep -c " $line\$")"
done
finish
