#!/bin/bash
# SPDX-License-Identifier: ISC
# t_loss.sh: one command, one effect -- under 30% UDP loss of replies,
# then of requests (nftables in the test's namespace), and over TCP when
# the daemon dies after committing but before replying.
. "$(dirname "$0")/lib.sh"
ns_setup
PORT=40123
start_svc -P $PORT || exit 1

count_now() { clnt -T tcp localhost count 0 | awk '{print $4}'; }
messages_now() { clnt -T tcp localhost stats | awk '/^messages:/ {print $2}'; }

nft add table inet bartloss
# The input hook: a packet is lost on the way, not refused to its sender.
nft add chain inet bartloss out '{ type filter hook input priority 0 ; policy accept ; }'

# lossy DIRECTION MATCH: 50 counts and 20 says over UDP through MATCH.
lossy() {
	local dir=$1 match=$2 c0 m0 good=0 i dropped
	nft flush chain inet bartloss out
	nft add rule inet bartloss out udp $match $PORT numgen random mod 100 '<' 30 counter drop
	c0=$(count_now); m0=$(messages_now)
	for i in $(seq 50); do
		clnt -T udp -t 5 localhost count 1 >/dev/null 2>>"$T/loss.err" && good=$((good + 1))
	done
	expect_eq "50 udp counts succeed, 30% of $dir lost" 50 "$good"
	expect_eq "counter grew by exactly 50 ($dir lost)" $((c0 + 50)) "$(count_now)"
	good=0
	for i in $(seq 20); do
		clnt -T udp -t 5 localhost say lossy "$dir $i" >/dev/null 2>>"$T/loss.err" &&
		    good=$((good + 1))
	done
	expect_eq "20 udp says succeed, 30% of $dir lost" 20 "$good"
	expect_eq "exactly 20 messages stored ($dir lost)" $((m0 + 20)) "$(messages_now)"
	dropped=$(nft list chain inet bartloss out | grep -o 'packets [0-9]*' | awk '{print $2}')
	if [ "${dropped:-0}" -gt 5 ]; then ok "nftables dropped $dropped $dir"; else
		not_ok "nftables dropped packets ($dir): ${dropped:-0}"; fi
}
lossy replies sport
lossy requests dport
nft delete table inet bartloss
[ -s "$T/loss.err" ] && sed 's/^/# client stderr: /' "$T/loss.err" | head

# TCP: the daemon commits, then dies before replying; the client
# reconnects to the restarted daemon and resends: one effect.
c0=$(count_now)
stop_svc
LD_PRELOAD=$BIN/bart_fault.so BART_FAULT_DIE_AFTER_COMMIT=1 \
    ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" start_svc -P $PORT || exit 1
"$BIN/bart_clnt" -T tcp -t 20 localhost count 1 >"$T/resend.out" 2>"$T/resend.err" &
CP=$!; track $CP
if wait_for 10 eval "! kill -0 $SVC_PID 2>/dev/null"; then ok "daemon died after commit"; else
	not_ok "daemon died after commit"; fi
wait $SVC_PID 2>/dev/null
sleep 0.5
start_svc -P $PORT || exit 1
wait $CP
expect_eq "resending client succeeds" 0 $? ||
    sed 's/^/#   stderr: /' "$T/resend.err"
expect_eq "resend answered with the first result" "I was called $((c0 + 1)) times." \
    "$(cat "$T/resend.out")"
expect_eq "counter grew by exactly one" $((c0 + 1)) "$(count_now)"
finish
