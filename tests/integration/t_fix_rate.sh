#!/bin/bash
# SPDX-License-Identifier: ISC
# t_fix_rate.sh: a CHAT_SEND resent with its identity inside a burst that
# the chat rate limit refuses gets its first answer (the stored seq),
# not BART_ERATE; a new identity in the same burst is still refused.
. "$(dirname "$0")/lib.sh"
ns_setup
start_svc -v --chat-rate 1 --chat-burst 5 || exit 1
messages_now() { clnt -T tcp localhost stats | awk '/^messages:/ {print $2}'; }

m0=$(messages_now)
res=$("$BIN/bart_poke" burstresend localhost 20)
echo "# one connection: a send, 20 more, the first again: $res"
read -r _ first _ erate _ again <<<"$res"
if [ "${erate:-0}" -ge 10 ]; then ok "the burst hit the limit ($erate refused)"; else
	not_ok "the burst did not hit the limit ($res)"; fi
expect_eq "the resend inside the refused burst gets the first seq" "${first:-none}" "$again"
stored=$(( $(messages_now) - m0 ))
expect_eq "stored: the first and the burst's admitted ones, no copy" \
    $((21 - erate)) "$stored"
expect_eq "the first line is in the history once" 1 \
    "$(clnt -T tcp localhost history -n 50 | grep -c 'burst-first')"
expect_run "a new line in the same burst is still refused (exit 75)" 75 "" \
    "too many requests" clnt localhost say root "one too many"
finish
