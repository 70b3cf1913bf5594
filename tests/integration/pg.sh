# SPDX-License-Identifier: ISC
# pg.sh: a private PostgreSQL 15 on test hosts (netns.sh), for the
# PostgreSQL store's integration tests.  Source it after netns.sh.
#
#   pg_init H                a new cluster on host H (initdb as postgres),
#                            role "bart" (password in $PG_PASSFILE) and
#                            database "bart"; listens on H's address
#   pg_start H               start it (pg_ctl -w, bounded), $PG_PID[H]
#   pg_stop H                fast shutdown by PID, bounded, then KILL
#   pg_kill9 H               kill -9 the postmaster and all its children
#   pg_standby H FROM        a synchronous standby of FROM on H
#                            (pg_basebackup -R); FROM waits for it
#   pg_promote H             promote H's standby, wait until it is primary
#   pg_sql H SQL [DB]        run SQL as the superuser on H (psql, local)
#   pg_conninfo H...         "host=H1,H2 ... dbname=bart user=bart"
#
# Nothing here touches the system's cluster or service: each cluster
# lives in $T/pg/H (owned by the unprivileged postgres user; initdb
# refuses root), listens on its host's own address and a socket in its
# own directory, and is stopped by the postmaster's PID.  fsync is off:
# the tests kill processes, not machines, and the page cache survives.

PG_BINDIR=$(pg_config --bindir 2>/dev/null)
[ -x "$PG_BINDIR/initdb" ] || PG_BINDIR=/usr/lib/postgresql/15/bin
PG_PORT=5432
PG_PASSWORD=bart-test-secret
PG_PASSFILE=$T/pgpass
declare -A PG_PID PG_DIR

# pg_as CMD...: CMD as the postgres user, on no host (initdb, files).
pg_as() { runuser -u postgres -- "$@"; }

# The parents of $T/pg must be traversable by postgres.
pg_prepare() {
	[ -d "$T/pg" ] && return 0
	chmod 711 "$T"
	mkdir -p "$T/pg"
	chown postgres: "$T/pg"
	chmod 700 "$T/pg"
	# One line for every host and database: libpq matches *.
	echo "*:*:*:bart:$PG_PASSWORD" >"$PG_PASSFILE"
	chmod 600 "$PG_PASSFILE"
	export PGPASSFILE=$PG_PASSFILE
	export PGCONNECT_TIMEOUT=3
}

# pg_conf H: settings of a test cluster on host H.
pg_conf() {
	local h=$1 d=${PG_DIR[$1]}
	cat >>"$d/data/postgresql.conf" <<EOF
listen_addresses = '${IP4[$h]}'
port = $PG_PORT
unix_socket_directories = '$d'
fsync = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 40
wal_level = replica
max_wal_senders = 4
wal_keep_size = 64MB
hot_standby = on
logging_collector = off
log_min_messages = warning
log_connections = off
wal_retrieve_retry_interval = 1s
EOF
	cat >"$d/data/pg_hba.conf" <<EOF
local all all trust
host all all 127.0.0.1/32 trust
host replication postgres 192.0.2.0/24 trust
host all postgres 192.0.2.0/24 trust
host all all 192.0.2.0/24 scram-sha-256
EOF
}

# pg_init H: initdb, then the role and database bart needs.
pg_init() {
	local h=$1 d
	pg_prepare
	d=$T/pg/$h
	PG_DIR[$h]=$d
	pg_as mkdir -m 700 "$d" || return 1
	pg_as "$PG_BINDIR/initdb" -D "$d/data" -U postgres -A trust \
	    --no-sync -E UTF8 --locale=C >"$T/$h/initdb.log" 2>&1 || {
		echo "# initdb on host$h failed:"; sed 's/^/#   /' "$T/$h/initdb.log"
		return 1; }
	pg_conf "$h"
	pg_start "$h" || return 1
	pg_sql "$h" "CREATE ROLE bart LOGIN PASSWORD '$PG_PASSWORD'" postgres &&
	    pg_sql "$h" "CREATE DATABASE bart OWNER bart" postgres
}

# pg_start H: start H's cluster (as postgres, in H's namespaces).
pg_start() {
	local h=$1 d=${PG_DIR[$1]}
	hrun "$h" runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$d/data" \
	    -l "$d/log" -w -t 30 start >>"$T/$h/pg_ctl.log" 2>&1 || {
		echo "# PostgreSQL on host$h did not start:"
		tail -20 "$d/log" | sed 's/^/#   /'; return 1; }
	PG_PID[$h]=$(head -1 "$d/data/postmaster.pid")
	track "${PG_PID[$h]}"
}

# pg_wait_gone PID SECS: until PID has exited.
pg_wait_gone() {
	local i
	for i in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# pg_stop H: fast shutdown (SIGINT to the postmaster), 15 s, then KILL.
pg_stop() {
	local p=${PG_PID[$1]}
	[ -n "$p" ] || return 0
	kill -INT "$p" 2>/dev/null
	pg_wait_gone "$p" 15 || pg_kill9 "$1"
	PG_PID[$1]=""
}

# pg_kill9 H: the postmaster and every child, by PID, at once.
pg_kill9() {
	local p=${PG_PID[$1]} c
	[ -n "$p" ] || return 0
	c=$(pgrep -P "$p")
	kill -9 "$p" $c 2>/dev/null
	pg_wait_gone "$p" 5
	PG_PID[$1]=""
}

# pg_sql H SQL: one statement as the superuser through H's socket.
pg_sql() {
	hrun "$1" runuser -u postgres -- "$PG_BINDIR/psql" -X -q -At \
	    -v ON_ERROR_STOP=1 -h "${PG_DIR[$1]}" -p "$PG_PORT" -d "${3:-bart}" \
	    -c "$2"
}

# pg_standby H FROM: H streams from FROM; FROM's commits wait for H.
pg_standby() {
	local h=$1 from=$2 d
	pg_prepare
	d=$T/pg/$h
	PG_DIR[$h]=$d
	pg_as mkdir -m 700 "$d" || return 1
	hrun "$h" runuser -u postgres -- "$PG_BINDIR/pg_basebackup" \
	    -h "${IP4[$from]}" -p "$PG_PORT" -U postgres -D "$d/data" -R \
	    -X stream -c fast >"$T/$h/basebackup.log" 2>&1 || {
		echo "# pg_basebackup on host$h failed:"
		sed 's/^/#   /' "$T/$h/basebackup.log"; return 1; }
	# The copy has FROM's address and (later) its sync setting: a
	# promoted standby alone must not wait for a standby of its own.
	pg_conf "$h"
	echo "synchronous_standby_names = ''" >>"$d/data/postgresql.conf"
	echo "primary_conninfo = 'host=${IP4[$from]} port=$PG_PORT user=postgres application_name=host$h'" \
	    >>"$d/data/postgresql.auto.conf"
	pg_start "$h" || return 1
	pg_sql "$from" "ALTER SYSTEM SET synchronous_standby_names = 'host$h'" &&
	    pg_sql "$from" "SELECT pg_reload_conf()" >/dev/null || return 1
	wait_for 20 pg_is_sync "$from" "host$h" || {
		echo "# standby host$h never became synchronous"; return 1; }
}

# pg_is_sync H NAME: NAME is H's synchronous standby, streaming.
pg_is_sync() {
	[ "$(pg_sql "$1" "SELECT sync_state FROM pg_stat_replication \
	    WHERE application_name = '$2' AND state = 'streaming'")" = sync ]
}

# pg_promote H: H's standby becomes a primary (bounded wait).
pg_promote() {
	local h=$1
	hrun "$h" runuser -u postgres -- "$PG_BINDIR/pg_ctl" \
	    -D "${PG_DIR[$h]}/data" -w -t 20 promote >>"$T/$h/pg_ctl.log" 2>&1 &&
	    wait_for 20 pg_is_primary "$h"
}

# pg_is_primary H: H is out of recovery (accepts writes).
pg_is_primary() { [ "$(pg_sql "$1" "SELECT pg_is_in_recovery()")" = f ]; }

# pg_conninfo H...: a conninfo naming these hosts, in order.
pg_conninfo() {
	local h hosts=""
	for h in "$@"; do hosts="$hosts${hosts:+,}${IP4[$h]}"; done
	# Generous: a loaded test machine (sanitizer builds) is slow to log in.
	echo "host=$hosts port=$PG_PORT dbname=bart user=bart connect_timeout=10"
}
