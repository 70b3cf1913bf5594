#!/bin/bash
# SPDX-License-Identifier: ISC
# t_multihost.sh: bart across hosts (netns.sh): discovery through the
# server host's rpcbind, count over every transport, and chat pushed
# through each client host's own rpcbind; a filtered client host, a
# client host without rpcbind, a cut cable and a server kill -9.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

PORT=4711			# bart_svc -P on host a
CB_MIN=$((0x40000000))
CB_MAX=$((0x5fffffff))
declare -A CHAT_PID CHAT_HOLD CHAT_HOST

net_setup a b c d || { not_ok "network setup"; finish; exit 1; }
for h in a b c d; do
	host_rpcbind "$h" || { not_ok "rpcbind on host$h"; finish; exit 1; }
done
host_svc a -P "$PORT" || { not_ok "bart_svc on hosta"; finish; exit 1; }
A4=${IP4[a]} A6=${IP6[a]} B4=${IP4[b]} C4=${IP4[c]} C6=${IP6[c]}

# ---- discovery and count from host b ----------------------------------
maps=$(hrun b rpcinfo -p hosta 2>&1)
for proto in tcp udp; do
	if echo "$maps" | awk -v p="$PROG" -v t=$proto -v n=$PORT \
	    '$1==p && $3==t && $4==n' | grep -q .; then
		ok "rpcinfo -p hosta (from hostb) lists bart $proto on port $PORT"
	else
		not_ok "rpcinfo -p hosta lists bart $proto port $PORT"
		echo "$maps" | sed 's/^/#   /'
	fi
done
netids=$(hrun b rpcinfo -s hosta 2>&1 | awk -v p="$PROG" '$1==p {print $3}' |
    tr ',' '\n' | grep -v '^local$' | sort | tr '\n' ' ')
expect_eq "rpcinfo -s hosta netids (from hostb)" "tcp tcp6 udp udp6 " "$netids"
expect_run "rpcinfo -T tcp6 reaches bart over IPv6" 0 "ready and waiting" "" \
    hrun b rpcinfo -T tcp6 "$A6" "$PROG" 1

total=0
for spec in tcp:$A4 udp:$A4 tcp6:$A6 udp6:$A6 tcp:hosta udp:hosta \
    tcp6:hosta udp6:hosta -:hosta -:$A4; do
	netid=${spec%%:*} host=${spec#*:}
	set -- ; [ "$netid" != - ] && set -- -T "$netid"
	total=$((total + 1))
	expect_run "count over ${netid/-/default} to $host (from hostb)" 0 \
	    "^I was called $total times\.$" "" \
	    hrun b "$BIN/bart_clnt" "$@" "$host" count 1
done
# An IPv6 literal without -T: a user's first try at IPv6.
total=$((total + 1))
expect_run "count to $A6 without -T (from hostb)" 0 \
    "^I was called $total times\.$" "" hrun b "$BIN/bart_clnt" "$A6" count 1 ||
    total=$((total - 1))
expect_run "count from hostc" 0 "^I was called $((total + 1)) times\.$" "" \
    hrun c "$BIN/bart_clnt" hosta count 1
total=$((total + 1))
expect_run "count on hosta itself by its name (local transport)" 0 \
    "^I was called $((total + 1)) times\.$" "" \
    hrun a "$BIN/bart_clnt" hosta count 1
total=$((total + 1))
expect_run "unknown host name, no DNS: clear error" 68 "" "unknown host" \
    hrun b "$BIN/bart_clnt" hostz count 1

# ---- chat helpers -------------------------------------------------------
# chat_start H NAME [CLNT-ARGS]: a chat client on H reading a fifo that
# a tracked sleep holds open; output in $T/H/NAME.{out,err}.
chat_start() {
	local h=$1 n=$2 f
	shift 2
	f=$T/$h/$n
	mkfifo "$f.in"
	sleep 300 >"$f.in" &
	CHAT_HOLD[$n]=$!
	track $!
	hstart "$h" "$BIN/bart_clnt" "$@" hosta chat "$n" \
	    <"$f.in" >"$f.out" 2>"$f.err" &
	CHAT_PID[$n]=$!
	CHAT_HOST[$n]=$h
	track $!
}
# chat_say NAME TEXT: NAME types a line.
chat_say() { echo "$2" >"$T/${CHAT_HOST[$1]}/$1.in"; }
# chat_end NAME: EOF on stdin; the client leaves; its exit status.
chat_end() {
	local i rc
	kill "${CHAT_HOLD[$1]}" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "${CHAT_PID[$1]}" 2>/dev/null || break
		sleep 0.05
	done
	wait "${CHAT_PID[$1]}" 2>/dev/null
	rc=$?
	stop_pid "${CHAT_PID[$1]}"
	return $rc
}
out_of() { echo "$T/${CHAT_HOST[$1]}/$1.out"; }
err_of() { echo "$T/${CHAT_HOST[$1]}/$1.err"; }
# sees NAME LINE: NAME printed LINE.
sees() { grep -qxF -- "$2" "$(out_of "$1")"; }
# expect_sees SECS DESC NAME LINE...: every LINE within SECS seconds.
expect_sees() {
	local secs=$1 desc=$2 n=$3 l
	shift 3
	for l in "$@"; do
		if ! wait_for "$secs" sees "$n" "$l"; then
			not_ok "$desc"; echo "#   $n never printed: $l"
			sed 's/^/#   stdout: /' "$(out_of "$n")"
			sed 's/^/#   stderr: /' "$(err_of "$n")"
			return 1
		fi
	done
	ok "$desc"
}
# err_says NAME DESC TEXT...: NAME's stderr holds every TEXT (grep -F).
err_says() {
	local n=$1 desc=$2 t
	shift 2
	for t in "$@"; do
		if ! grep -qF -- "$t" "$(err_of "$n")"; then
			not_ok "$desc"; echo "#   no '$t' in $n's stderr:"
			sed 's/^/#   stderr: /' "$(err_of "$n")"
			return 1
		fi
	done
	ok "$desc"
}
svclog_has() { grep -qE -- "$1" "$T/a/svc.log"; }
# cb_progs H: transient (0x40000000-0x5fffffff) programs in H's rpcbind.
cb_progs() {
	hrun "$1" rpcinfo -p localhost 2>/dev/null |
	    awk -v lo=$CB_MIN -v hi=$CB_MAX '$1>=lo && $1<=hi {print $1, $3}' |
	    sort -u
}

# ---- chat: b and c, pushed through their own rpcbinds ----------------
chat_start b bob
chat_start c carol
wait_for 10 svclog_has "from $B4 active" &&
    wait_for 10 svclog_has "from $C4 active"
if svclog_has "subscription [0-9]+ from $B4, callback program" &&
    svclog_has "subscription [0-9]+ from $C4, callback program"; then
	ok "server log: subscriptions from $B4 and $C4"
else
	not_ok "server log: subscriptions from $B4 and $C4"
	sed 's/^/#   /' "$T/a/svc.log"
fi
for h in b c; do
	progs=$(cb_progs $h)
	if echo "$progs" | grep -q " tcp$"; then
		ok "callback program in host$h's rpcbind: $(echo $progs)"
	else
		not_ok "callback program in host$h's rpcbind"
		hrun $h rpcinfo -p localhost | sed 's/^/#   /'
	fi
	# the server calls back the program the client registered
	p=$(echo "$progs" | awk 'NR==1 {printf "0x%x", $1}')
	if [ -n "$p" ] && svclog_has "from ${IP4[$h]}, callback program $p\$"; then
		ok "host$h's registered program $p is the one it subscribed with"
	else
		not_ok "host$h's program '$p' in the server log"
	fi
done
progs=$(cb_progs a)
expect_eq "no callback program in hosta's rpcbind" "" "$progs"
if hrun b rpcinfo -s localhost | awk -v lo=$CB_MIN -v hi=$CB_MAX \
    '$1>=lo && $1<=hi {print $3}' | grep -q tcp6; then
	ok "callback program registered for tcp6 too"
else
	not_ok "callback program registered for tcp6 too"
fi

chat_say bob "hello from bob"
expect_sees 5 "carol receives bob's message" carol "[bob] hello from bob"
chat_say carol "hello from carol"
expect_sees 5 "bob receives carol's message" bob "[carol] hello from carol"
expect_sees 5 "bob sees his own message" bob "[bob] hello from bob"
hist=$(hrun c "$BIN/bart_clnt" hosta history -n 2)
if echo "$hist" | grep -q " $B4 \[bob\] hello from bob$" &&
    echo "$hist" | grep -q " $C4 \[carol\] hello from carol$"; then
	ok "history records each sender's address"
else
	not_ok "history records each sender's address"
	echo "$hist" | sed 's/^/#   /'
fi

# An IPv6 subscriber: callback through hostc's rpcbind over tcp6.
chat_start c carol6 -T tcp6
if wait_for 10 svclog_has "from $C6 active"; then
	ok "IPv6 subscriber: server probed $C6 through tcp6"
else
	not_ok "IPv6 subscriber: server probed $C6 through tcp6"
	grep "$C6" "$T/a/svc.log" | sed 's/^/#   /'
fi
chat_say carol6 "hello over IPv6"
expect_sees 5 "IPv6 subscriber's message reaches bob" bob "[carol6] hello over IPv6"
expect_sees 5 "IPv6 subscriber gets pushes" carol6 "[carol6] hello over IPv6"
grep -q "poll mode" "$(err_of carol6)" &&
    { not_ok "IPv6 subscriber stays in push mode"; sed 's/^/#   /' "$(err_of carol6)"; }
chat_end carol6
expect_eq "IPv6 subscriber leaves cleanly" 0 $?

# ---- a client host behind a filter ------------------------------------
# (1) hostb drops every new connection from hosta: its rpcbind is
# unreachable.  Stateless (SYNs only): connections made before the rule,
# such as bob's delivery connection, live on, as behind a real firewall.
hrun b nft -f - <<EOF
table inet bartfw {
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr $A4 tcp flags & (syn | ack) == syn drop
		ip6 saddr $A6 tcp flags & (syn | ack) == syn drop
	}
}
EOF
chat_start b bobf
if wait_for 12 grep -q "falling back to poll mode" "$(err_of bobf)"; then
	ok "filtered host: client falls back to poll mode"
	sed 's/^/#   stderr: /' "$(err_of bobf)"
else
	not_ok "filtered host: client falls back to poll mode"
	sed 's/^/#   stderr: /' "$(err_of bobf)"
fi
if grep -Eq "rpcbind|firewall" "$(err_of bobf)"; then
	ok "filtered host: the client says why"
else
	not_ok "filtered host: the client says why"
fi
chat_say carol "carol while bobf is filtered"
expect_sees 4 "filtered host receives by polling" bobf "[carol] carol while bobf is filtered"
chat_say bobf "bobf from behind the filter"
expect_sees 5 "filtered host can still send" carol "[bobf] bobf from behind the filter"
expect_sees 5 "bob (subscribed before the filter) still receives" bob \
    "[carol] carol while bobf is filtered" "[bobf] bobf from behind the filter"
if grep -q "poll mode\|lost" "$(err_of carol)"; then
	not_ok "hostc unaffected by hostb's filter"; sed 's/^/#   /' "$(err_of carol)"
else
	ok "hostc unaffected by hostb's filter"
fi
chat_end bobf
expect_eq "poll-mode client leaves cleanly" 0 $?
hrun b nft delete table inet bartfw

# (2) hostd: rpcbind answers only on port 111; the callback port is dropped.
hrun d nft -f - <<EOF
table inet bartfw {
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr $A4 tcp dport != 111 tcp flags & (syn | ack) == syn drop
	}
}
EOF
chat_start d dave
wait_for 12 grep -q "falling back to poll mode" "$(err_of dave)"
err_says dave "callback port filtered: poll mode, says why" \
    "did not answer the server's probe" "poll mode"
chat_say carol "carol to dave"
expect_sees 4 "callback port filtered: polling works" dave "[carol] carol to dave"
chat_end dave
hrun d nft delete table inet bartfw

# (3) hostd's rpcbind stopped after the client joined: the server found
# the callback already and keeps its connection; pushes go on.
chat_start d dora
wait_for 10 svclog_has "from ${IP4[d]} active"
stop_pid "${RPCBIND_PIDS[d]}"
chat_say carol "carol to dora"
expect_sees 4 "client host's rpcbind stopped after joining: pushes go on" \
    dora "[carol] carol to dora"
if grep -q "poll mode" "$(err_of dora)"; then
	not_ok "rpcbind stopped after joining: dora stays in push mode"
	sed 's/^/#   stderr: /' "$(err_of dora)"
else
	ok "rpcbind stopped after joining: dora stays in push mode"
fi
chat_end dora

# (4) hostd without rpcbind at all: no callback program can be registered.
chat_start d dirk
wait_for 8 grep -q "falling back to poll mode" "$(err_of dirk)"
err_says dirk "no rpcbind on the client host: poll mode, says why" \
    "register a callback program with the local rpcbind" "poll mode"
chat_say carol "carol to dirk"
expect_sees 4 "no rpcbind on the client host: polling works" dirk "[carol] carol to dirk"
chat_end dirk

# ---- partition and heal --------------------------------------------------
host_link b down
for i in 1 2 3 4; do
	chat_say carol "partition $i"
	[ $i = 2 ] && chat_say bob "bob typed while cut off"
	sleep 1
done
host_link b up
expect_sees 20 "after the partition bob gets every message" bob \
    "[carol] partition 1" "[carol] partition 2" "[carol] partition 3" \
    "[carol] partition 4"
expect_sees 20 "bob's line typed while cut off arrives" carol \
    "[bob] bob typed while cut off"
expect_sees 5 "carol saw the partition messages" carol "[carol] partition 4"

# ---- server host restart (kill -9) ----------------------------------------
before=$(wc -l <"$T/a/svc.log")
host_svc_kill9 a
chat_say carol "carol while the server is down"
sleep 1
host_svc a -P "$PORT" || not_ok "bart_svc restarts on pinned port $PORT"
wait_for 15 sh -c "tail -n +$((before + 1)) '$T/a/svc.log' |
    grep -q 'from $B4 active'" &&
    wait_for 15 sh -c "tail -n +$((before + 1)) '$T/a/svc.log' |
    grep -q 'from $C4 active'"
if tail -n +$((before + 1)) "$T/a/svc.log" | grep -q "from $B4 active" &&
    tail -n +$((before + 1)) "$T/a/svc.log" | grep -q "from $C4 active"; then
	ok "after kill -9 both clients re-subscribed by themselves"
else
	not_ok "after kill -9 both clients re-subscribed by themselves"
	tail -n +$((before + 1)) "$T/a/svc.log" | sed 's/^/#   /'
fi
expect_sees 10 "line typed while the server was down is delivered" bob \
    "[carol] carol while the server is down"
chat_say carol "after restart 1"
chat_say bob "after restart 2"
chat_say carol "after restart 3"
expect_sees 8 "bob gets messages sent after the restart" bob \
    "[carol] after restart 1" "[bob] after restart 2" "[carol] after restart 3"
expect_sees 8 "carol gets messages sent after the restart" carol \
    "[carol] after restart 1" "[bob] after restart 2" "[carol] after restart 3"

# ---- every message, in order, exactly once ---------------------------------
sleep 1
hrun a "$BIN/bart_clnt" hosta history -n 1000 >"$T/history" 2>&1
sed -E 's/^[0-9]+ [0-9-]+ [0-9:]+ [^ ]+ //' "$T/history" >"$T/history.lines"
for n in bob carol; do
	first=$(head -1 "$(out_of "$n")")
	start=$(grep -nxF -- "$first" "$T/history.lines" | head -1 | cut -d: -f1)
	if [ -n "$start" ] && tail -n +"$start" "$T/history.lines" |
	    diff - "$(out_of "$n")" >"$T/diff"; then
		ok "$n printed every message since joining, in order, once ($(wc -l <"$(out_of "$n")") lines)"
	else
		not_ok "$n printed every message since joining, in order, once"
		sed 's/^/#   /' "$T/diff"
		sed 's/^/#   stderr: /' "$(err_of "$n")"
	fi
done
dups=$(sort "$T/history.lines" | uniq -d)
expect_eq "no message stored twice" "" "$dups"
chat_end bob
expect_eq "bob leaves cleanly" 0 $?
chat_end carol
expect_eq "carol leaves cleanly" 0 $?
if [ -n "$(cb_progs b)$(cb_progs c)" ]; then
	not_ok "clients removed their callback programs at exit"
	echo "#   $(cb_progs b) $(cb_progs c)"
else
	ok "clients removed their callback programs at exit"
fi

if [ "$NFAIL" -gt 0 ]; then
	echo "# hosta bart_svc log:"; sed 's/^/#   /' "$T/a/svc.log" | tail -60
fi
net_teardown
finish
