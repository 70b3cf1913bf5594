#!/bin/bash
# SPDX-License-Identifier: ISC
# t_audit_pg.sh: issue 11 as an admin and an attacker check it: the
# password never in an error line (malformed URIs too), PGSERVICE and
# PGPASSFILE working, BART_OPTS and PGPASSFILE in /etc/default/bart
# through the sysvinit script, a reply lost after the commit (the same
# identity resent to the next host of the list: the first answer,
# counted once, over tcp and udp), a half-closed client's pipelined
# calls through the database worker, BART_EUNAVAIL's exit code and words
# as man/bart_clnt.1 has them.
# Hosts (netns.sh): p = PostgreSQL, a b = bart servers, x = client.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/pg.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECRET=hunter2-audit

net_setup p a b x || { not_ok "network setup"; finish; exit 1; }
pg_init p || { not_ok "PostgreSQL on hostp"; finish; exit 1; }
for h in a b x; do
	host_rpcbind "$h" || { not_ok "rpcbind on host$h"; finish; exit 1; }
done
CONN=$(pg_conninfo p)
db_counter() { pg_sql p "SELECT value FROM bart_counter"; }
# on_a ARGS...: bart_svc on hosta in the foreground, stderr in $T/err.
on_a() {
	timeout 20 nsenter -t "${NET_HOLDER[a]}" -n -m -u -- "$BIN/bart_svc" \
	    -f -S "$T/a/once" -p "$T/a/once.pid" -s "$T/a/once.sock" "$@" \
	    >/dev/null 2>"$T/err"
}

# ---- the password in no error line -----------------------------------------
# A password in the string is refused (README); one in a string with a
# typo must not be printed either: the error goes to the console,
# syslog and the init script's "failed!" line.
for s in "postgresql://bart:$SECRET@${IP4[p]}/bart" \
    "host=${IP4[p]} dbname=bart password=$SECRET" \
    "postgresql://bart@${IP4[p]}/bart?password=$SECRET" \
    "postgresql://bart:$SECRET@${IP4[p]}/bart?bogus=1"; do
	on_a --store "$s"
	rc=$?
	if [ $rc = 1 ] && ! grep -q "$SECRET" "$T/err"; then
		ok "refused, exit 1, password not shown: $(grep -v 'connections: at most' "$T/err")"
	else
		not_ok "--store '$s': exit 1 and the password not shown (exit $rc)"
		sed 's/^/#   /' "$T/err"
	fi
done
for s in "postgresql://bart:$SECRET@[${IP6[p]}/bart" \
    "postgresql://bart:${SECRET}%zz@${IP4[p]}/bart" \
    "postgresql://bart@${IP4[p]}/bart?password=${SECRET}%zz" \
    "postgresql://bart@${IP4[p]}/bart?sslmode=disable&password=${SECRET}%zz" \
    "postgresql://bart:$SECRET@${IP4[p]}:notaport/bart"; do
	on_a --store "$s"
	if grep -q "$SECRET" "$T/err"; then
		not_ok "a malformed URI with a password: the error line prints it"
		sed 's/^/#   /' "$T/err"
	else
		ok "a malformed URI with a password: exit 1, not shown: $(grep -v 'connections: at most' "$T/err")"
	fi
done
# libpq takes a connection string or URI as dbname's value: a password
# in there is a password in the string, and the logs name dbname.
on_a --store "host=${IP4[p]} dbname=postgresql://bart:$SECRET@${IP4[p]}/bart"
rc=$?
if [ $rc = 1 ] && ! grep -q "$SECRET" "$T/err"; then
	ok "a password inside dbname's URI: refused, not shown: $(grep -v 'connections: at most' "$T/err")"
else
	not_ok "a password inside dbname's URI: exit 1 and not shown (exit $rc)"
	sed 's/^/#   /' "$T/err"
fi

# ---- PGSERVICE and PGPASSFILE -------------------------------------------------
# PGSERVICEFILE holds the password; no PGPASSFILE at all.
cat >"$T/pg_service.conf" <<EOF
[bartsvc]
host=${IP4[p]}
port=$PG_PORT
dbname=bart
user=bart
password=$PG_PASSWORD
connect_timeout=10
EOF
chmod 600 "$T/pg_service.conf"
cp "$PG_PASSFILE" "$T/pgpass.copy"
chmod 600 "$T/pgpass.copy"
# svc_serves DESC "VAR=VALUE ..." ARGS...: bart_svc on hosta with that
# environment (and no PGPASSFILE) serves a count; stopped after.
svc_serves() {
	local desc=$1 vars=$2 pid
	shift 2
	# shellcheck disable=SC2086	# a list of VAR=VALUE words
	env -u PGPASSFILE $vars nsenter -t "${NET_HOLDER[a]}" -n -m -u -- \
	    "$BIN/bart_svc" -f -S "$T/a/svc1" -p "$T/a/svc1.pid" \
	    -s "$T/a/svc1.sock" "$@" 2>"$T/a/svc1.log" &
	pid=$!
	track $pid
	if wait_for 15 hrun a rpcinfo -t localhost $PROG 1 &&
	    hrun x "$BIN/bart_clnt" -t 5 hosta count 1 >/dev/null; then
		ok "$desc"
	else
		not_ok "$desc"; sed 's/^/#   /' "$T/a/svc1.log"
	fi
	stop_pid $pid
}
svc_serves "--store service=bartsvc (password in PGSERVICEFILE) serves" \
    "PGSERVICEFILE=$T/pg_service.conf" --store service=bartsvc
svc_serves "PGSERVICE=bartsvc in the environment, --store with no host" \
    "PGSERVICEFILE=$T/pg_service.conf PGSERVICE=bartsvc" \
    --store connect_timeout=10
svc_serves "PGPASSFILE alone (a copy elsewhere) serves" \
    "PGPASSFILE=$T/pgpass.copy" --store "$CONN"
if grep -rqs "$PG_PASSWORD" "$T"/a/*.log "$T/err"; then
	not_ok "no log line holds the password"
else ok "no log line holds the password"; fi

# ---- /etc/default/bart through the sysvinit script -----------------------------
# BART_OPTS in the URI form (split at blanks), PGPASSFILE beside it, as
# init/bart.default and README show: the script must hand both over.
cat >"$T/default" <<EOF
BART_OPTS="-S $T/a/init -s $T/a/init.sock --store postgresql://bart@${IP4[p]}:$PG_PORT/bart?connect_timeout=10"
PGPASSFILE=$T/pgpass.init
EOF
cp "$PG_PASSFILE" "$T/pgpass.init"
chmod 600 "$T/pgpass.init"
init() {
	env -u PGPASSFILE BART_DAEMON="$BIN/bart_svc" BART_PIDFILE="$T/a/init.pid" \
	    BART_DEFAULTS="$T/default" nsenter -t "${NET_HOLDER[a]}" -n -m -u -- \
	    sh "$ROOT/init/bart" "$1" >"$T/init.out" 2>&1
}
if init start && hrun x "$BIN/bart_clnt" -t 5 hosta count 1 >/dev/null; then
	ok "init/bart start with BART_OPTS --store and PGPASSFILE in the defaults file serves"
else
	not_ok "init/bart start with BART_OPTS --store and PGPASSFILE in the defaults file serves"
	sed 's/^/#   /' "$T/init.out"
fi
[ -s "$T/a/init.pid" ] && track "$(cat "$T/a/init.pid")"
init stop || { not_ok "init/bart stop"; sed 's/^/#   /' "$T/init.out"; }

# ---- a reply lost after the commit: the same identity to the next host ----------
host_svc a -P 5567 --store "$CONN" || { not_ok "bart_svc on hosta"; finish; exit 1; }
host_svc b --store "$CONN" || { not_ok "bart_svc on hostb"; finish; exit 1; }
# hosta takes calls and commits them, but its answers never leave
# (data segments from its port dropped; the handshake and rpcbind pass).
hrun a nft -f - <<'EOF' || not_ok "nft on hosta"
table inet bart_mute {
	chain out { type filter hook output priority 0;
		tcp sport 5567 tcp flags & psh == psh drop
		udp sport 5567 drop
	}
}
EOF
for k in tcp udp; do
	c0=$(db_counter)
	t0=$(date +%s%N)
	out=$(timeout -s KILL 30 nsenter -t "${NET_HOLDER[x]}" -n -m -u -- \
	    "$BIN/bart_clnt" -T $k -t 4 hosta,hostb count 1 2>&1)
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	c1=$(db_counter)
	expect_eq "$k: hosta commits but its reply is lost: hostb answers ($ms ms, -t 4)" \
	    "0 I was called $((c0 + 1)) times." "$rc $out"
	expect_eq "$k: ... the first answer, counted once (the identity resent)" \
	    $((c0 + 1)) "$c1"
	if [ $ms -lt 4500 ]; then ok "$k: ... within -t ($ms ms)"
	else not_ok "$k: ... within -t 4 ($ms ms)"; fi
done
hrun a nft delete table inet bart_mute

# ---- a half-closed client on the PostgreSQL store ------------------------------
# 100 COUNTs pipelined, then SHUT_WR: the calls wait for the database
# worker (16 at most per connection), every one is answered before the
# connection closes, and each counted once.
PROBE="$ROOT/tests/tools/rpcprobe.py"
c0=$(db_counter)
expect_eq "PostgreSQL: 100 COUNTs, then SHUT_WR: 100 replies" "reply 100" \
    "$(hrun a "$PROBE" -t 10 pipeline 100 0xa3)"
expect_eq "... and the shared counter grew by exactly 100" $((c0 + 100)) \
    "$(db_counter)"

# ---- BART_EUNAVAIL: exit 71, the words of man/bart_clnt.1 -----------------------
pg_stop p
expect_run "database stopped: count answers exit 71 in plain words" 71 "" \
    "database is unavailable; nothing was changed" \
    hrun x "$BIN/bart_clnt" -t 3 hostb count 1
words=$(sed -n 's/^bart_clnt: hostb: //p' "$T/err")
if man -l "$ROOT/man/bart_clnt.1" 2>/dev/null | tr -s ' \n' ' ' |
    grep -qF "71 (EX_OSERR)"; then
	ok "bart_clnt(1) lists exit 71 (EX_OSERR)"
else not_ok "bart_clnt(1) lists exit 71 (EX_OSERR)"; fi
echo "# the client said: $words"
expect_run "stats still answers with the database away" 0 "^counter" "" \
    hrun x "$BIN/bart_clnt" -t 3 hostb stats
pg_start p || not_ok "PostgreSQL back"
up() { hrun x "$BIN/bart_clnt" -t 2 hostb count 1; }
if wait_for 15 up; then ok "hostb counts again by itself after the database is back"
else not_ok "hostb counts again by itself after the database is back"; fi

net_teardown
finish
