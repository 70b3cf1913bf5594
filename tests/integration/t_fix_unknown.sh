#!/bin/bash
# SPDX-License-Identifier: ISC
# t_fix_unknown.sh: a change whose commit fails (fsync EIO, so the
# server answers BART_EUNKNOWN) is sent again by libbart with the same
# request identity: the client prints the real outcome, and the counter
# is the sum of the acknowledged counts.  A store that keeps failing is
# still reported as unknown (exit 75), within the timeout.
. "$(dirname "$0")/lib.sh"
ns_setup
export ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
ONCE=$T/fsync.once	# exists: the next fsync fails, and it is removed
FAIL=$T/fsync.fail	# exists: every fsync fails
LD_PRELOAD=$BIN/bart_fault.so BART_FAULT_FSYNC_ONCE=$ONCE BART_FAULT_FSYNC=$FAIL \
    start_svc -v --sync full || exit 1

count_now() { clnt -T tcp localhost count 0 | awk '{print $4}'; }
messages_now() { clnt -T tcp localhost stats | awk '/^messages:/ {print $2}'; }
unknowns() { grep -c "may or may not be stored" "$T/svc.log"; }

# --- one failed commit, per transport: the resend tells ----------------
for n in tcp local udp; do
	c0=$(count_now)
	u0=$(unknowns)
	touch "$ONCE"
	expect_run "count over $n, first commit fails: the total after the resend" \
	    0 "^I was called $((c0 + 1)) times\.$" "" clnt -T $n -t 5 localhost count 1
	[ ! -e "$ONCE" ] && [ "$(unknowns)" -gt "$u0" ] &&
	    ok "over $n the first commit did fail (the daemon said unknown)" ||
	    not_ok "over $n the fault did not hit (once file still there or no log line)"
	expect_eq "over $n the counter grew by exactly one" $((c0 + 1)) "$(count_now)"
done
m0=$(messages_now)
touch "$ONCE"
expect_run "say whose first commit fails: stored once, its number printed" 0 \
    "$((m0 + 1))" "" clnt -T tcp -t 5 localhost say fix "once only"
[ ! -e "$ONCE" ] && ok "the say's first commit did fail" ||
    not_ok "the fault did not hit the say"
expect_eq "exactly one message more" $((m0 + 1)) "$(messages_now)"
expect_eq "the line is in the history once" 1 \
    "$(clnt -T tcp localhost history -n 20 | grep -c 'once only')"

# --- the sum of acknowledged counts, faults on and off ------------------
c0=$(count_now)
acked=0 unknown=0 other=0
for i in $(seq 30); do
	[ $((i % 3)) = 0 ] && touch "$ONCE"
	if clnt -T tcp -t 5 localhost count 2 >/dev/null 2>"$T/c.err"; then
		acked=$((acked + 2))
	elif grep -q "may or may not" "$T/c.err"; then unknown=$((unknown + 1))
	else other=$((other + 1)); fi
done
echo "# 30 counts of 2, every third with a failing first commit: acked $acked, unknown $unknown, other $other"
expect_eq "all 30 counts acknowledged (none left unknown)" "60 0 0" "$acked $unknown $other"
expect_eq "the counter grew by the sum of the acknowledged counts" \
    $((c0 + acked)) "$(count_now)"

# --- a store that keeps failing: unknown, said so, within the timeout ---
c0=$(count_now)
touch "$FAIL"
t0=$(date +%s%N)
expect_run "every commit fails: exit 75, 'may or may not'" 75 "" "may or may not" \
    clnt -T tcp -t 2 localhost count 1
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -lt 6000 ]; then ok "the resends stayed within the timeout ($ms ms for -t 2)"
else not_ok "unknown answer took $ms ms with -t 2"; fi
rm -f "$FAIL"
expect_eq "nothing was stored by the failed commits" "$c0" "$(count_now)"
grep -q "may or may not be stored" "$T/svc.log" && ok "the daemon logged the failed commits" ||
	not_ok "no log line for the failed commits"
finish
