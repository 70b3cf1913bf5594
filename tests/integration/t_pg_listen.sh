#!/bin/bash
# SPDX-License-Identifier: ISC
# t_pg_listen.sh: the feed thread's LISTEN refused on a healthy
# connection (a hot standby: "cannot execute LISTEN during recovery") is
# tried again, not given up for the connection's life (until then only
# the 500 ms catch-up brings other servers' lines): once the standby is
# promoted, the same connection LISTENs.
# Hosts (netns.sh): p = primary, q = standby, a b = bart, x = client.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/pg.sh"

net_setup p q a b x || { not_ok "network setup"; finish; exit 1; }
pg_init p || { not_ok "PostgreSQL on hostp"; finish; exit 1; }
for h in a b x; do
	host_rpcbind "$h" || { not_ok "rpcbind on host$h"; finish; exit 1; }
done
# hostb creates the schema on the primary; the standby then copies it.
host_svc b --chat-rate 0 --store "$(pg_conninfo p)" ||
    { not_ok "bart_svc on hostb"; finish; exit 1; }
pg_standby q p || { not_ok "standby on hostq"; finish; exit 1; }
# hosta on the standby alone: its feed's LISTEN is refused.
host_svc a --chat-rate 0 --store "$(pg_conninfo q)" ||
    { not_ok "bart_svc on hosta (the standby)"; finish; exit 1; }
refused() { grep -q "LISTEN during recovery" "$T/a/svc.log"; }
if wait_for 10 refused; then ok "on the standby: LISTEN refused (logged)"
else not_ok "on the standby: LISTEN refused (logged)"; sed 's/^/#   /' "$T/a/svc.log" | tail -5; fi
listening() { grep -q "listening for chat" "$T/a/svc.log"; }
if listening; then not_ok "not listening while on the standby"
else ok "not listening while on the standby"; fi
pg_promote q && ok "standby promoted" || not_ok "standby promoted"
# Promotion keeps hosta's connections: the feed must LISTEN on its own.
if wait_for 10 listening; then ok "after the promotion: the same feed LISTENs"
else not_ok "after the promotion: the same feed LISTENs"; fi
finish
