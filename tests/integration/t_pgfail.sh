#!/bin/bash
# SPDX-License-Identifier: ISC
# t_pgfail.sh: bart_svc on PostgreSQL when things break: the database
# stopped for 10 s under load, kill -9 of one bart server under a
# 4-client load and an active chat, and the primary killed with its
# synchronous standby promoted.  Counts are made by bart_poke countloop:
# each count has its own identity and is resent (next server) until it
# gets a definite answer, as a client with a host list will; at the end
# the counter must equal the acknowledged sum, exactly.
# Last, the new primary's cable is pulled (packets vanish, nothing is
# refused) and a second standby is promoted.
# Hosts (netns.sh): p = primary, q and r = standbys, a b c = bart,
# x y = clients.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/pg.sh"

net_setup p q r a b c x y || { not_ok "network setup"; finish; exit 1; }
pg_init p || { not_ok "PostgreSQL on hostp"; finish; exit 1; }
pg_standby q p || { not_ok "synchronous standby on hostq"; finish; exit 1; }
ok "primary on hostp, synchronous standby on hostq"
for h in a b c x y; do
	host_rpcbind "$h" || { not_ok "rpcbind on host$h"; finish; exit 1; }
done
CONN="$(pg_conninfo p q r) target_session_attrs=read-write"
for h in a b c; do
	host_svc "$h" --chat-rate 0 --store "$CONN" ||
	    { not_ok "bart_svc on host$h"; finish; exit 1; }
done
db_counter() { pg_sql "$1" "SELECT value FROM bart_counter"; }

# load_start NAME H HOSTS: a countloop on client host H until $T/stop.NAME.
declare -A LOAD
load_start() {
	rm -f "$T/stop.$1"
	POKE_STOP=$T/stop.$1 hstart "$2" "$BIN/bart_poke" countloop "$3" 0 20 \
	    >"$T/load.$1" 2>&1 &
	LOAD[$1]=$!
	track $!
}
# load_stop NAME...: stop the loops, wait (bounded) for their summaries.
load_stop() {
	local n i
	for n in "$@"; do touch "$T/stop.$n"; done
	for n in "$@"; do
		for i in $(seq 300); do
			kill -0 "${LOAD[$n]}" 2>/dev/null || break
			sleep 0.1
		done
		stop_pid "${LOAD[$n]}"
	done
}
# acked NAME...: the sum of acknowledged counts; unresolved ones to $T/unres.
acked() {
	local n s=0 u=0 a r
	for n in "$@"; do
		read -r _ a _ r _ <"$T/load.$n"
		s=$((s + ${a:-0})); u=$((u + ${r:-0}))
	done
	echo "$u" >"$T/unres"
	echo "$s"
}
ACKED=0
# check_sum DESC NAMES...: database counter == acknowledged, none unresolved.
check_sum() {
	local desc=$1 db=$2 got
	shift 2
	ACKED=$((ACKED + $(acked "$@")))
	got=$(db_counter "$db")
	expect_eq "$desc: counter == acknowledged sum ($ACKED), nothing unresolved" \
	    "$ACKED 0" "$got $(cat "$T/unres")" || cat "$T"/load.* | sed 's/^/#   /'
	for n in "$@"; do cat "$T/load.$n"; done | awk '{ k += $8; v += $10 }
	    END { printf "# %s: %d BART_EUNKNOWN and %d BART_EUNAVAIL answers, each resent with its identity until answered\n", d, k, v }' d="$desc"
}

# ---- PostgreSQL stopped for 10 s under load --------------------------------
load_start l1 x hosta,hostb,hostc
load_start l2 y hostb,hostc,hosta
counter_above() { [ "$(db_counter "$1")" -gt "$2" ] 2>/dev/null; }
wait_for 10 counter_above p 20 || not_ok "the load counts"
pg_stop p
t0=$(date +%s%N)
expect_run "database down: count fails with its own status" 71 "" \
    "database is unavailable; nothing was changed" \
    hrun x "$BIN/bart_clnt" -t 5 hosta count 1
el=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$el" -lt 5000 ]; then ok "... within -t 5 (${el} ms)"; else
	not_ok "... within -t 5 (${el} ms)"; fi
expect_run "database down: say fails the same way" 71 "" \
    "database is unavailable" hrun y "$BIN/bart_clnt" -t 5 hostb say pat hello
for h in a b c; do
	expect_run "database down: host$h answers NULLPROC" 0 "" "" \
	    hrun x "$BIN/bart_clnt" -t 2 host$h ping
	expect_run "database down: host$h answers stats" 0 "counter" "" \
	    hrun y "$BIN/bart_clnt" -t 2 host$h stats
done
sleep 8
pg_start p || not_ok "PostgreSQL restarts"
# The goal is 5 s; a sanitizer build on a loaded machine gets 15.
bound=5000
[ "${BART_ASAN:-}" = 1 ] && bound=15000
t0=$(date +%s%N)
for h in a b c; do
	if wait_for 20 hrun x "$BIN/bart_clnt" -t 2 host$h count 0; then
		el=$(( ($(date +%s%N) - t0) / 1000000 ))
		if [ "$el" -le "$bound" ]; then
			ok "host$h serves again by itself, ${el} ms after the database came back"
		else
			not_ok "host$h serves again within $((bound / 1000)) s (${el} ms)"
		fi
	else
		not_ok "host$h serves again after the database came back"
		grep -v "subscri\|probe" "$T/$h/svc.log" | tail -20 | sed 's/^/#   /'
	fi
done
wait_for 20 pg_is_sync p hostq || not_ok "standby synchronous again"
sleep 2
load_stop l1 l2
check_sum "after the outage" p l1 l2
grep -h "lost PostgreSQL" "$T"/[abc]/svc.log | head -1 | sed 's/^/# log: /'

# ---- kill -9 of one bart server under 4 clients and an active chat -----------
declare -A CHAT_PID CHAT_HOLD CHAT_HOST
chat_start() {
	local h=$1 srv=$2 n=$3 f=$T/$1/$3
	mkfifo "$f.in"
	sleep 300 >"$f.in" &
	CHAT_HOLD[$n]=$!
	track $!
	hstart "$h" "$BIN/bart_clnt" "$srv" chat "$n" \
	    <"$f.in" >"$f.out" 2>"$f.err" &
	CHAT_PID[$n]=$!
	CHAT_HOST[$n]=$h
	track $!
}
out_of() { echo "$T/${CHAT_HOST[$1]}/$1.out"; }
joined() { grep -q "joined" "$T/${CHAT_HOST[$1]}/$1.err"; }
lines_of() { [ "$(wc -l <"$(out_of "$1")")" -ge "$2" ]; }
SENT=0
# say_via H...: one message through each server in turn; counts them.
say_via() {
	local h
	for h in "$@"; do
		SENT=$((SENT + 1))
		hrun x "$BIN/bart_clnt" -t 5 host$h say t "message $SENT via $h" \
		    >/dev/null 2>>"$T/say.err" || {
			echo "say $SENT via $h failed" >>"$T/say.err"
			SENT=$((SENT - 1)); }
	done
}
chat_start y hostb sb
chat_start x hostc sc
for n in sb sc; do wait_for 10 joined $n || not_ok "$n joined"; done
sleep 1
say_via a b c a b c
load_start l3 x hosta,hostb,hostc
load_start l4 x hostb,hostc,hosta
load_start l5 y hostc,hosta,hostb
load_start l6 y hosta,hostc,hostb
before=$(db_counter p)
wait_for 10 counter_above p $((before + 100)) || not_ok "the 4-client load counts"
host_svc_kill9 a
ok "kill -9 of bart_svc on hosta under load"
for i in 1 2 3 4 5 6; do say_via b c; sleep 0.3; done
before=$(db_counter p)
wait_for 10 counter_above p $((before + 100)) ||
    not_ok "the load goes on through hostb and hostc"
load_stop l3 l4 l5 l6
check_sum "kill -9 of one server" p l3 l4 l5 l6
expect_eq "no say failed (hostb, hostc)" "" "$(cat "$T/say.err" 2>/dev/null)"

# ---- primary killed, synchronous standby promoted -------------------------------
load_start l7 x hostb,hostc
load_start l8 y hostc,hostb
before=$(db_counter p)
wait_for 10 counter_above p $((before + 50)) || not_ok "the load counts"
say_via b c
pg_kill9 p
ok "kill -9 of the primary (postmaster and every backend) under load"
pg_promote q && ok "standby on hostq promoted" || not_ok "standby promoted"
before=$(db_counter q)
if wait_for 20 counter_above q $((before + 50)); then
	ok "counting goes on against the new primary"
else
	not_ok "counting goes on against the new primary"
	tail -5 "$T/b/svc.log" | sed 's/^/#   /'
fi
for h in b c; do
	if wait_for 5 hrun x "$BIN/bart_clnt" -t 2 host$h count 0; then
		ok "host$h reconnected to the new primary by itself (within 5 s)"
	else
		not_ok "host$h reconnected to the new primary by itself"
		tail -5 "$T/$h/svc.log" | sed 's/^/#   /'
	fi
done
load_stop l7 l8
check_sum "failover" q l7 l8
say_via b c b c
expect_eq "no say failed after the failover" "" "$(cat "$T/say.err" 2>/dev/null)"

# ---- the new primary's cable pulled, a second standby promoted ----------------
# Nothing answers hostq now: no reset, no refusal.  Statements in flight
# hit bart's deadline; the next connection must time out on hostq
# (connect_timeout) and go on to hostr.
pg_standby r q || not_ok "a synchronous standby of hostq on hostr"
load_start l9 x hostb,hostc
load_start l10 y hostc,hostb
before=$(db_counter q)
wait_for 10 counter_above q $((before + 50)) || not_ok "the load counts"
host_link q down
ok "hostq's cable pulled under load"
pg_promote r && ok "standby on hostr promoted" || not_ok "standby on hostr promoted"
before=$(db_counter r)
if wait_for 25 counter_above r $((before + 50)); then
	ok "counting goes on against hostr"
else
	not_ok "counting goes on against hostr"
	tail -5 "$T/b/svc.log" | sed 's/^/#   /'
fi
load_stop l9 l10
check_sum "primary cut off" r l9 l10
pg_kill9 q
say_via b c
expect_eq "no say failed after the second failover" "" "$(cat "$T/say.err" 2>/dev/null)"
for h in b c; do
	hrun x "$BIN/bart_clnt" host$h history --since 0 -n 1000 >"$T/hist.$h" 2>&1
done
expect_eq "history: $SENT messages, numbered 1..$SENT" "$(seq -s ' ' $SENT) " \
    "$(awk '{print $1}' "$T/hist.b" | tr '\n' ' ')"
if cmp -s "$T/hist.b" "$T/hist.c"; then
	ok "history identical on hostb and hostc"
else
	not_ok "history identical on hostb and hostc"
	diff "$T/hist.b" "$T/hist.c" | sed 's/^/#   /'
fi
sed -E 's/^[0-9]+ [0-9-]+ [0-9:]+ [^ ]+ //' "$T/hist.b" >"$T/hist.lines"
for n in sb sc; do
	wait_for 10 lines_of $n "$SENT"
	if diff "$T/hist.lines" "$(out_of $n)" >"$T/diff"; then
		ok "$n (behind ${CHAT_HOST[$n]}) printed all $SENT messages in order, once, through both failures"
	else
		not_ok "$n printed every message in order once"
		sed 's/^/#   /' "$T/diff" | head -20
		sed 's/^/#   stderr: /' "$T/${CHAT_HOST[$n]}/$n.err" | head
	fi
done

net_teardown
finish
