#!/bin/bash
# SPDX-License-Identifier: ISC
# t_lib_budget.sh: with a host list, -t bounds the whole command: the
# search for a host that answers (bart_open), the call and its resends
# to the next hosts, not -t for the search and another -t for the call.
# Hosts (netns.sh): a = drops every packet (a host that is gone),
# b = rpcbind stopped (accepts, never answers), d = bart_svc stopped
# (rpcbind answers, the kernel accepts bart's connection, nobody
# answers: the search takes it, the call then waits on it),
# c = a working bart, x = the client.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

net_setup a b c d x || { not_ok "network setup"; finish; exit 1; }
for h in a b c d x; do
	host_rpcbind "$h" || { not_ok "rpcbind on host$h"; finish; exit 1; }
done
for h in c d; do
	host_svc "$h" || { not_ok "bart_svc on host$h"; finish; exit 1; }
done
SLACK=1500
[ -n "${BART_ASAN:-}" ] && SLACK=3000

xclnt() {
	timeout -s KILL 60 nsenter -t "${NET_HOLDER[x]}" -n -m -u -- \
	    "$BIN/bart_clnt" "$@"
}
# total: hostc's counter, read from hostx ("" if it does not answer).
total() { xclnt -t 5 hostc count 0 | sed -n 's/^I was called \([0-9]*\) times\.$/\1/p'; }

# within DESC RC OUT-REGEX ERR-REGEX SECS ARGS...: bart_clnt -t SECS
# ARGS on hostx exits RC, the whole command within SECS plus the slack.
within() {
	local desc=$1 rc=$2 out=$3 err=$4 secs=$5 t0 el
	shift 5
	t0=$(date +%s%N)
	expect_run "$desc" "$rc" "$out" "$err" xclnt -t "$secs" "$@"
	el=$(ms_since "$t0")
	echo "#   $desc: $el ms"
	if [ "$el" -lt $((secs * 1000 + SLACK)) ]; then
		ok "$desc: the whole command within -t $secs ($el ms)"
	else
		not_ok "$desc: the whole command within -t $secs ($el ms)"
	fi
}

# ---- the failures ------------------------------------------------------------
hrun a nft -f - <<'NFT' || not_ok "nft on hosta"
table inet gone {
	chain in { type filter hook input priority 0; drop; }
}
NFT
kill -STOP "${RPCBIND_PIDS[b]}"
kill -STOP "${SVC_PIDS[d]}"

# ---- two silent hosts first, then one that answers ---------------------------
n0=$(total)
expect_eq "hostc's counter read" 1 "$([ -n "$n0" ] && echo 1)"
within "-t 2 hosta,hostb,hostc count 1: hostc answers" 0 \
    "^I was called $((n0 + 1)) times\.$" "" 2 hosta,hostb,hostc count 1
within "-t 2 hosta,hostd,hostc count 1: the search takes hostd, the call \
moves on to hostc" 0 "^I was called $((n0 + 2)) times\.$" "" \
    2 hosta,hostd,hostc count 1
# The same identity went to every host: counted once each, on hostc.
expect_eq "hostc's counter rose by exactly 1 a command" "$((n0 + 2))" "$(total)"

# ---- every host silent -------------------------------------------------------
# The search spends most of -t (hosta, hostb), then takes hostd, whose
# call does not answer: before, the call then got a -t of its own.
within "-t 4 hosta,hostb,hostd count 1: no host answers" 75 "" \
    "^bart_clnt: hosta,hostb,hostd: no server of the list answered \(host[abd]: " \
    4 hosta,hostb,hostd count 1
within "-t 4 hosta,hostd ping: no host answers" 75 "" \
    "^bart_clnt: hosta,hostd: no server of the list answered \(host[ad]: " \
    4 hosta,hostd ping
within "-T udp -t 4 hosta,hostd count 1: no host answers" 75 "" \
    "^bart_clnt: hosta,hostd: no server of the list answered \(host[ad]: " \
    4 -T udp hosta,hostd count 1
within "-t 2 hosta,hostb count 1: none found" 69 "" \
    "^bart_clnt: hosta,hostb: no server of the list answered \(hostb: no answer from rpcbind" \
    2 hosta,hostb count 1

kill -CONT "${RPCBIND_PIDS[b]}"
kill -CONT "${SVC_PIDS[d]}"
net_teardown
finish
