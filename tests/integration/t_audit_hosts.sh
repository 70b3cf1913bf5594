#!/bin/bash
# SPDX-License-Identifier: ISC
# t_audit_hosts.sh: bart_clnt's -t against hosts that fail the way real
# ones do (netns.sh): rpcbind answers but bart's port drops every packet
# (a firewall: libtirpc's blocking connect() waited minutes), rpcbind
# stopped (SIGSTOP: it accepts, never answers), bart_svc stopped
# (accepts, never answers); alone and as the first host of a list.
# Hosts: a = bart behind the failure, b = a working bart, x = client.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

net_setup a b x || { not_ok "network setup"; finish; exit 1; }
for h in a b x; do
	host_rpcbind "$h" || { not_ok "rpcbind on host$h"; finish; exit 1; }
done
host_svc a -P 5567 || { not_ok "bart_svc on hosta"; finish; exit 1; }
host_svc b || { not_ok "bart_svc on hostb"; finish; exit 1; }
SLACK=1500
[ -n "${BART_ASAN:-}" ] && SLACK=3000

# within DESC RC OUT-REGEX ERR-REGEX SECS ARGS...: bart_clnt -t SECS ARGS
# on hostx exits RC within SECS (plus a loaded machine's slack).
within() {
	local desc=$1 rc=$2 out=$3 err=$4 secs=$5 t0 el
	shift 5
	t0=$(date +%s%N)
	expect_run "$desc" "$rc" "$out" "$err" timeout -s KILL 60 \
	    nsenter -t "${NET_HOLDER[x]}" -n -m -u -- "$BIN/bart_clnt" \
	    -t "$secs" "$@"
	el=$(ms_since "$t0")
	if [ "$el" -lt $((secs * 1000 + SLACK)) ]; then ok "$desc: within -t $secs ($el ms)"
	else not_ok "$desc: within -t $secs ($el ms)"; fi
}

# ---- bart's port black-holed, rpcbind answering ------------------------------
hrun a nft -f - <<'EOF' || not_ok "nft on hosta"
table inet bart_port {
	chain in { type filter hook input priority 0; tcp dport 5567 drop; udp dport 5567 drop; }
}
EOF
within "bart's port filtered: count 1, alone" 69 "" \
    "rpcbind names bart's tcp port, but it does not answer within 2 s" \
    2 hosta count 1
within "... ping, alone" 69 "" "does not answer within 2 s" 2 hosta ping
within "... udp, alone" 75 "" "no answer within 2 s" 2 -T udp hosta count 1
within "... first of a list: hostb answers" 0 "^I was called [0-9]+ times\.$" "" \
    4 hosta,hostb count 1
hrun a nft delete table inet bart_port

# ---- rpcbind stopped: it accepts, and never answers ---------------------------
kill -STOP "${RPCBIND_PIDS[a]}"
within "hosta's rpcbind stopped: count 1, alone" 69 "" "no answer from rpcbind" \
    2 hosta count 1
within "... first of a list: hostb answers" 0 "^I was called [0-9]+ times\.$" "" \
    4 hosta,hostb count 1
kill -CONT "${RPCBIND_PIDS[a]}"

# ---- bart_svc stopped: the kernel accepts, nobody answers --------------------
kill -STOP "${SVC_PIDS[a]}"
within "hosta's bart_svc stopped: count 1, alone" 75 "" "may or may not have landed" \
    2 hosta count 1
within "... first of a list: hostb answers" 0 "^I was called [0-9]+ times\.$" "" \
    4 hosta,hostb count 1
kill -CONT "${SVC_PIDS[a]}"
expect_run "hosta serves again" 0 "^I was called" "" \
    hrun x "$BIN/bart_clnt" -t 5 hosta count 0

net_teardown
finish
