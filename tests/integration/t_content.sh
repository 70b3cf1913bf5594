#!/bin/bash
# SPDX-License-Identifier: ISC
# t_content.sh: what a chat name or text may hold (every C0, DEL and C1
# byte, raw and as UTF-8, through bart_clnt and through a raw CHAT_SEND),
# CLI numbers, a history read from a damaged database, the chat rate
# limit, the history cap, bart.db deleted under a running daemon, and
# uptime across a wall clock stepped back.
. "$(dirname "$0")/lib.sh"
ns_setup
start_svc -v || exit 1

poke() { "$BIN/bart_poke" "$@"; }
stored() { sqlite3 "$T/state/bart.db" "SELECT count(*) FROM msgs" 2>/dev/null; }
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
# as_nobody CMD...: run CMD as uid 65534 (another local peer).
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# --- control characters and invalid UTF-8 --------------------------------
# Each case: hex bytes, put between letters.  NUL cannot travel in an
# argument or an XDR string from libtirpc (strlen), so it is left out.
cases=""
for b in $(seq 1 31) 127; do cases="$cases $(printf '%02x' "$b")"; done
for b in $(seq 128 159); do cases="$cases $(printf '%02x' "$b")"; done
for b in $(seq 128 159); do cases="$cases c2$(printf '%02x' "$b")"; done
# Invalid UTF-8: overlong ESC and '/', surrogate, > U+10FFFF, cut, stray.
invalid="c09b c0af e0809b f080809b eda080 f4908080 f5808080 ff e29c c3"
before=$(stored)
bad_clnt="" bad_raw_name="" bad_raw_text=""
for c in $cases $invalid; do
	esc=$(echo "$c" | sed 's/../\\x&/g')	# inside printf: a newline stays
	"$BIN/bart_clnt" localhost say "$(printf "a${esc}b")" hi >/dev/null 2>"$T/err1"
	r1=$?
	"$BIN/bart_clnt" localhost say alice "$(printf "x${esc}y")" >/dev/null 2>"$T/err2"
	r2=$?
	if [ $r1 != 65 ] || [ $r2 != 65 ] || ! grep -q "invalid name" "$T/err1" ||
	    ! grep -q "invalid text" "$T/err2"; then
		bad_clnt="$bad_clnt $c($r1,$r2)"
	fi
	out=$(poke send localhost "61${c}62" 6869 2>&1)
	echo "$out" | grep -q "^send: invalid name.*(3)$" || bad_raw_name="$bad_raw_name $c[$out]"
	out=$(poke send localhost 616c696365 "78${c}79" 2>&1)
	echo "$out" | grep -q "^send: invalid text.*(4)$" || bad_raw_text="$bad_raw_text $c[$out]"
done
n=$(echo $cases $invalid | wc -w)
expect_eq "bart_clnt say refuses all $n control/invalid cases (exit 65)" "" "$bad_clnt"
expect_eq "raw CHAT_SEND: server refuses all $n in a name (BART_ENAME)" "" "$bad_raw_name"
expect_eq "raw CHAT_SEND: server refuses all $n in a text (BART_ETEXT)" "" "$bad_raw_text"
expect_eq "nothing of them stored" "$before" "$(stored)"
expect_run "raw CHAT_SEND: UTF-8 name and text accepted" 0 "^send: success \(0\)$" "" \
    poke send localhost "$(hex 'zoë')" "$(hex 'grüße ✓ 日本 😀')"
expect_eq "the UTF-8 line stored" "$((before + 1))" "$(stored)"
expect_run "refusal words name C1 and UTF-8" 65 "" "UTF-8, no control characters \(C0, DEL, C1\)" \
    clnt localhost say "$(printf 'a\x9bb')" hi

# --- CLI numbers ------------------------------------------------------------
total=$(clnt localhost count 0 | grep -o '[0-9]*')
expect_run "count -1 refused by the server (exit 65)" 65 "" "must not be negative" \
    clnt localhost count -1
expect_run "count ' 5' is not a number (exit 64)" 64 "" "not a 32-bit integer" \
    clnt localhost count ' 5'
expect_run "count '+5' is not a number (exit 64)" 64 "" "not a 32-bit integer" \
    clnt localhost count '+5'
expect_run "counter unchanged by -1, ' 5', '+5'" 0 "^I was called $total times\.$" "" \
    clnt localhost count 0

# --- a damaged database: history's failure is a read, said as one ----------
for i in 1 2 3; do clnt localhost say alice "before damage $i" >/dev/null; done
stop_svc
root=$(sqlite3 "$T/state/bart.db" "SELECT rootpage FROM sqlite_master WHERE name = 'msgs'")
psize=$(sqlite3 "$T/state/bart.db" "PRAGMA page_size")
if [ -n "$root" ] && [ -n "$psize" ]; then
	printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$T/state/bart.db" bs=1 \
	    seek=$(((root - 1) * psize)) conv=notrunc 2>/dev/null
	start_svc -v || exit 1
	expect_run "history on a damaged database: exit 74, not 'could not store'" 74 "" \
	    "database failed.*damaged" clnt localhost history
	if grep -q "could not store" "$T/err"; then
		not_ok "history's refusal says 'could not store'"; fi
	if grep -q "cannot read the chat history" "$T/svc.log"; then
		ok "server log: a failed read of the history"
	else not_ok "server log: a failed read of the history"; fi
	stop_svc
else
	not_ok "sqlite3 tool needed to find the msgs table"
fi
rm -f "$T/state/bart.db" "$T/state/bart.db-wal" "$T/state/bart.db-shm"

# --- rate limit: one peer's burst, others unaffected -------------------------
start_svc -v --chat-rate 5 --chat-burst 10 --max-history 7 || exit 1
t0=$(date +%s%N)
res=$(poke sendmany localhost 60)
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
read -r _ nok _ nrate _ nother <<<"$res"
echo "# 60 sends in $ms ms from one uid at 5/s, burst 10: $res"
if [ "${nok:-0}" -ge 10 ] && [ "$nok" -le $((10 + 5 * ms / 1000 + 2)) ] &&
    [ "${nrate:-0}" -ge 1 ] && [ "$nother" = 0 ]; then
	ok "a burst beyond the limit gets BART_ERATE ($res)"
else not_ok "a burst beyond the limit gets BART_ERATE ($res in $ms ms)"; fi
expect_run "bart_clnt say over the limit: exit 75, says why" 75 "" "too many requests" \
    clnt localhost say root "one too many"
expect_run "another local uid is not limited by root's burst" 0 "stored" "" \
    as_nobody "$BIN/bart_clnt" localhost say nobody "hello"
res2=$(as_nobody "$BIN/bart_poke" sendmany localhost 12)
read -r _ nok2 _ _ _ _ <<<"$res2"
if [ "${nok2:-0}" -ge 9 ]; then ok "another uid has its own burst ($res2)"; else
	not_ok "another uid has its own burst ($res2)"; fi
if grep -q "chat: local uid 0 is over 5 a second" "$T/svc.log"; then
	ok "the daemon logs who hit the limit"
else not_ok "the daemon logs who hit the limit"; fi
if wait_for 5 clnt localhost say root "after a pause"; then
	ok "the limited peer may send again after a pause"
else not_ok "the limited peer may send again after a pause"; fi

# --- history cap: the oldest are pruned -------------------------------------
newest=$(clnt localhost stats | awk '/^messages:/ {print $2}')
hist_n() { [ "$(clnt localhost history -n 64 | wc -l)" = 7 ]; }
if wait_for 5 hist_n; then ok "history cap 7: seven messages kept"; else
	not_ok "history cap 7: seven messages kept"; clnt localhost history -n 64 | sed 's/^/#   /'; fi
first=$(clnt localhost history -n 64 | head -1 | awk '{print $1}')
expect_eq "the newest seven kept, the oldest pruned" "$((newest - 6))" "$first"
expect_eq "the store holds seven" 7 "$(stored)"
stop_svc

# --- bart.db deleted: writes refused and logged, reads go on; uptime --------
cc -shared -fPIC -O2 -o "$T/clockstep.so" "$(dirname "$0")/../tools/clockstep.c" -ldl ||
    not_ok "build clockstep.so"
echo 0 >"$T/step"
ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" CLOCKSTEP_FILE="$T/step" \
    LD_PRELOAD="$T/clockstep.so" start_svc -v --chat-rate 0 || exit 1
expect_run "count 3 before deletion" 0 "times" "" clnt localhost count 3
total=$(clnt localhost count 0 | grep -o '[0-9]*')

# The wall clock steps back an hour: uptime from the monotonic clock.
echo 3600 >"$T/step"
up=$(clnt localhost stats | awk '/^uptime:/ {print $2}')
if [ -n "$up" ] && [ "$up" -lt 600 ] 2>/dev/null; then
	ok "uptime after the wall clock stepped back 1 h: $up s"
else not_ok "uptime after the wall clock stepped back 1 h: '$up' s"; fi
echo 0 >"$T/step"

rm -f "$T/state/bart.db"
if wait_for 5 grep -q "bart.db was deleted or replaced" "$T/svc.log"; then
	ok "deleted bart.db noticed and logged"
else not_ok "deleted bart.db noticed and logged"; fi
expect_run "after deletion: count 1 refused (exit 74)" 74 "" "database failed" \
    clnt localhost count 1
expect_run "after deletion: say refused (exit 74)" 74 "" "database failed" \
    clnt localhost say alice "into the void"
expect_run "after deletion: count 0 still reads $total" 0 "^I was called $total times\.$" "" \
    clnt localhost count 0
expect_run "after deletion: stats still served" 0 "^counter: $total$" "" clnt localhost stats
stop_svc
rm -f "$T/state/bart.db" "$T/state/bart.db-wal" "$T/state/bart.db-shm"

# --- a failed commit is never reported as success -------------------------
# Not a full disk this time: a file size limit of 1 byte makes every
# write of the store fail with EFBIG (SIGXFSZ ignored, inherited).
trap '' XFSZ
start_svc -v --chat-rate 0 || exit 1
trap - XFSZ
expect_run "count 5 before the fault" 0 "times" "" clnt localhost count 5
c0=$(clnt localhost count 0 | grep -o '[0-9]*')
prlimit --pid "$SVC_PID" --fsize=1:unlimited || not_ok "prlimit"
acked=0 codes=""
for i in $(seq 10); do
	if clnt localhost count 1 >/dev/null 2>"$T/err"; then acked=$((acked + 1)); else
		codes="$codes $?"; fi
done
clnt localhost say alice "during EFBIG" >/dev/null 2>&1 && acked_say=1 || acked_say=0
prlimit --pid "$SVC_PID" --fsize=unlimited:unlimited
expect_eq "EFBIG: no count acknowledged (exit codes:$codes)" 0 "$acked"
expect_eq "EFBIG: the say not acknowledged" 0 "$acked_say"
if echo "$codes" | grep -qvE '^( (74|75))*$'; then
	not_ok "EFBIG: failed counts exit 74 or 75 (got$codes)"
else ok "EFBIG: failed counts exit 74 or 75"; fi
expect_run "limit lifted: count 1 works again" 0 "^I was called $((c0 + acked + 1)) times\.$" "" \
    clnt localhost count 1
stop_svc
start_svc -v --chat-rate 0 || exit 1
expect_run "after a restart the counter is what clients were told" 0 \
    "^I was called $((c0 + acked + 1)) times\.$" "" clnt localhost count 0
stop_svc
finish
