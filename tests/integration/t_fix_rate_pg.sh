#!/bin/bash
# SPDX-License-Identifier: ISC
# t_fix_rate_pg.sh: t_fix_rate.sh on the PostgreSQL store (--store): a
# CHAT_SEND resent with its identity inside a rate-limited burst gets its
# first seq (pgstore_chat_known), not BART_ERATE.
# Hosts (netns.sh): p = PostgreSQL, a = the bart server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/pg.sh"

net_setup p a || { not_ok "network setup"; finish; exit 1; }
pg_init p || { not_ok "PostgreSQL on hostp"; finish; exit 1; }
host_rpcbind a || { not_ok "rpcbind on hosta"; finish; exit 1; }
host_svc a --chat-rate 1 --chat-burst 5 --store "$(pg_conninfo p)" ||
    { not_ok "bart_svc on hosta with --store"; finish; exit 1; }

res=$(hrun a "$BIN/bart_poke" burstresend localhost 20)
echo "# one connection: a send, 20 more, the first again: $res"
read -r _ first _ erate _ again <<<"$res"
if [ "${erate:-0}" -ge 10 ]; then ok "the burst hit the limit ($erate refused)"; else
	not_ok "the burst did not hit the limit ($res)"; fi
expect_eq "the resend inside the refused burst gets the first seq" "${first:-none}" "$again"
expect_eq "the first line is stored once" 1 \
    "$(pg_sql p "SELECT count(*) FROM bart_msgs WHERE text = 'burst-first'")"
finish
