#!/bin/bash
# SPDX-License-Identifier: ISC
# t_fix_deliver.sh: issue 12 item 5.  The chat client answers a DELIVER
# that leaves a gap without calling the server from inside its handler:
# the reply comes first, the catch-up (CHAT_SINCE) after, from the main
# loop.  A fake server (t_fix_fakesvc.py) watches the order on the wire.
. "$(dirname "$0")/lib.sh"
FAKE="python3 $(cd "$(dirname "$0")" && pwd)/t_fix_fakesvc.py"
ns_setup

$FAKE 20 >"$T/fake.out" 2>"$T/fake.err" &
FAKE_PID=$!; track $FAKE_PID
wait_for 5 grep -q registered "$T/fake.out" || { not_ok "fake server registered"; cat "$T/fake.err"; }
mkfifo "$T/c.in"
sleep 600 >"$T/c.in" &
track $!
"$BIN/bart_clnt" -T tcp localhost chat carol <"$T/c.in" >"$T/c.out" 2>"$T/c.err" &
CHAT=$!; track $CHAT
if wait_for 15 grep -q "first" "$T/fake.out"; then
	expect_eq "the DELIVER with a gap is answered before any CHAT_SINCE" \
	    reply-first "$(grep -o '^[a-z]*-first' "$T/fake.out")"
else
	not_ok "the fake server's DELIVER got an answer or a CHAT_SINCE"
	sed 's/^/#   fake: /' "$T/fake.out" "$T/fake.err"; sed 's/^/#   chat: /' "$T/c.err"
fi
both() { grep -q "message 6" "$T/c.out" && grep -q "message 7" "$T/c.out"; }
if wait_for 10 both; then
	expect_eq "the gap is filled from the main loop: 6 then 7, once each" \
	    "message 6,message 7" "$(grep -o 'message [0-9]' "$T/c.out" | paste -sd,)"
else not_ok "the client caught up 6 and 7"; sed 's/^/#   chat: /' "$T/c.out" "$T/c.err"; fi
grep -q caught-up "$T/fake.out" && ok "the catch-up asked from 5, after the reply" ||
    not_ok "no catch-up CHAT_SINCE after the reply"
stop_pid $CHAT
finish
