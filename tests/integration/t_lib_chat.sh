#!/bin/bash
# SPDX-License-Identifier: ISC
# t_lib_chat.sh: the chat client's callback transport as libbart serves
# it: forged calls with the REAL subscription id and a wrong token
# (DELIVER to the client, RENEW and UNSUBSCRIBE to the server) are
# refused; a 14-byte partial record does not freeze the client and is
# dropped; callbacks are accepted only from the server's address; after
# rpcbind is killed and restarted the client registers its callback
# again and returns to push mode; JSON chat output.
. "$(dirname "$0")/lib.sh"
RPC="python3 $(cd "$(dirname "$0")" && pwd)/t_lib_rpc.py"
ns_setup
start_svc -v || exit 1

# chat_start ID NAME [OPTS...]: a chat client reading a fifo held open.
chat_start() {
	local id=$1 name=$2
	shift 2
	mkfifo "$T/$id.in"
	sleep 600 >"$T/$id.in" &
	eval "HOLD_$id=$!"; track $!
	"$BIN/bart_clnt" "$@" localhost chat "$name" <"$T/$id.in" >"$T/$id.out" 2>"$T/$id.err" &
	eval "CHAT_$id=$!"; track $!
}
joined() { [ "$(grep -c "joined the chat" "$T/$1.err")" -ge "${2:-1}" ]; }
has_line() { grep -qxF -- "$2" "$T/$1.out"; }
cb_progs() {
	rpcinfo -p localhost | awk '$1 >= 1073741824 && $1 <= 1610612735 {print $1}' | sort -u
}
tcp_port() { rpcinfo -p localhost | awk -v p="$1" '$1 == p && $3 == "tcp" {print $4; exit}'; }
sub_of() { grep -o "subscription [0-9]* from $1, callback" "$T/svc.log" | tail -1 | awk '{print $2}'; }

# --- forging with the real subscription id -------------------------------
chat_start a alice
wait_for 10 joined a && ok "alice joined by push" || { not_ok "alice joined"; cat "$T/a.err"; }
PROG_A=$(cb_progs); PORT_A=$(tcp_port "$PROG_A"); SUB_A=$(sub_of local)
BART_PORT=$(tcp_port $PROG)
echo "# alice: subscription $SUB_A, callback program $PROG_A on port $PORT_A"
[ -n "$SUB_A" ] && [ -n "$PORT_A" ] || not_ok "subscription id and callback port found"
expect_run "DELIVER with the real id and a wrong token: refused (12)" 0 "^12$" "" \
    $RPC deliver "$PORT_A" "$PROG_A" "$SUB_A"
expect_run "RENEW with the real id and a wrong token: refused (11)" 0 "^11$" "" \
    $RPC ref "$BART_PORT" 6 "$SUB_A"
expect_run "UNSUBSCRIBE with the real id and a wrong token: refused (11)" 0 "^11$" "" \
    $RPC ref "$BART_PORT" 5 "$SUB_A"
expect_eq "alice is still subscribed" 1 "$(clnt localhost stats | awk '/^subscribers:/ {print $2}')"
clnt localhost say bob "after the forgeries" >/dev/null
wait_for 5 has_line a "[bob] after the forgeries" && ok "alice still gets pushes" ||
    not_ok "alice still gets pushes"
grep -q "forged" "$T/a.out" && not_ok "forged message not printed" || ok "forged message not printed"

# --- a partial record does not freeze the client ---------------------------
$RPC partial "$PORT_A" 20 >"$T/partial" 2>&1 &
PART=$!; track $PART
sleep 1		# the old client was stuck in its read by then
t0=$(date +%s%N)
clnt localhost say bob "while a peer dribbles" >/dev/null
if wait_for 5 has_line a "[bob] while a peer dribbles"; then
	ok "a 14-byte partial record does not freeze the client ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
else not_ok "a 14-byte partial record does not freeze the client"; fi
echo "from alice" >"$T/a.in"
wait_for 5 has_line a "[alice] from alice" && ok "alice can still send" || not_ok "alice can still send"
wait $PART
if grep -q "^closed after" "$T/partial"; then
	ok "the partial record's connection is dropped: $(cat "$T/partial")"
else not_ok "the partial record's connection is dropped: $(cat "$T/partial")"; fi
# Many at once: the server's own connection keeps working.
for i in $(seq 12); do $RPC partial "$PORT_A" 8 >/dev/null 2>&1 & track $!; done
sleep 1
clnt localhost say bob "under a partial-record flood" >/dev/null
wait_for 8 has_line a "[bob] under a partial-record flood" &&
    ok "12 partial-record connections: pushes still arrive" ||
    not_ok "12 partial-record connections: pushes still arrive"

# --- callbacks only from the server's address --------------------------------
eval "kill \$HOLD_a"
wait_for 5 eval "! kill -0 \$CHAT_a 2>/dev/null"
chat_start b bea -T tcp
wait_for 10 joined b && ok "bea joined over tcp" || { not_ok "bea joined over tcp"; cat "$T/b.err"; }
PROG_B=$(cb_progs); PORT_B=$(tcp_port "$PROG_B")
expect_run "NULLPROC from the server's address (127.0.0.1) is answered" 0 "^void$" "" \
    $RPC null "$PORT_B" "$PROG_B" 127.0.0.1
expect_run "NULLPROC from another address (127.0.0.2) gets no answer" 1 "no reply" "" \
    $RPC null "$PORT_B" "$PROG_B" 127.0.0.2
clnt localhost say bob "for bea" >/dev/null
wait_for 5 has_line b "[bob] for bea" && ok "bea gets pushes" || not_ok "bea gets pushes"

# --- rpcbind killed and restarted: register again, back to push -----------
rpcbind_restart -9
expect_eq "rpcbind forgot bea's callback" "" "$(cb_progs)"
stop_svc
start_svc -v || exit 1
if wait_for 20 joined b 2; then ok "after rpcbind -9 and a daemon restart: back to push"
else not_ok "after rpcbind -9 and a daemon restart: back to push"; sed 's/^/#   /' "$T/b.err"; fi
expect_eq "bea's callback is registered again" "$PROG_B" "$(cb_progs)"
grep -q "poll mode" "$T/b.err" && not_ok "bea never fell back to poll mode" ||
    ok "bea never fell back to poll mode"
clnt localhost say bob "pushed again" >/dev/null
wait_for 5 has_line b "[bob] pushed again" && ok "pushes arrive again" || not_ok "pushes arrive again"
eval "kill \$HOLD_b"
wait_for 5 eval "! kill -0 \$CHAT_b 2>/dev/null"
expect_eq "callback unregistered at exit" "" "$(cb_progs)"

# --- JSON chat output -----------------------------------------------------
chat_start j jay -o json
wait_for 10 joined j || not_ok "jay joined"
seq=$(clnt localhost say 'x] y' 'json "quoted"' | grep -o '[0-9]*')
wait_for 5 grep -q . "$T/j.out"
expect_eq "chat -o json: one object per message" "$seq|x] y|json \"quoted\"|local" \
    "$(head -1 "$T/j.out" | jq -r '"\(.seq)|\(.name)|\(.text)|\(.host)"')"
finish
