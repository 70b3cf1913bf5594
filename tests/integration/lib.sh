# SPDX-License-Identifier: ISC
# lib.sh: shared helpers for bart's integration tests.
#
# Each test script runs inside its own network+mount namespace (run.sh
# starts it under "unshare --net --mount"): a tmpfs on /run gives it a
# private rpcbind socket, and only loopback exists.  Every process a
# test starts is recorded and stopped by PID; every wait is bounded.

PROG=536918567
BIN=${BART_BIN:?BART_BIN must name the build directory}
BIN=$(cd "$BIN" && pwd)
T=$(mktemp -d /tmp/bart-test.XXXXXX)
PIDS=""
NPASS=0
NFAIL=0
TNAME=$(basename "$0" .sh)

export ASAN_OPTIONS="log_path=$T/asan:detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0"
export UBSAN_OPTIONS="log_path=$T/asan:print_stacktrace=1:halt_on_error=1"
# The ThreadSanitizer tree (mk/tsan.mk) reports here too; finish() fails on it.
TSAN_OPTIONS="log_path=$T/asan:second_deadlock_stack=1"
[ -f "$(dirname "$0")/../tsan.supp" ] &&
	TSAN_OPTIONS="$TSAN_OPTIONS:suppressions=$(cd "$(dirname "$0")/.." && pwd)/tsan.supp"
export TSAN_OPTIONS
if [ -f "$(dirname "$0")/../lsan.supp" ]; then
	export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")/.." && pwd)/lsan.supp:print_suppressions=0"
fi

ok() { NPASS=$((NPASS + 1)); echo "ok - $TNAME: $*"; }
not_ok() { NFAIL=$((NFAIL + 1)); echo "not ok - $TNAME: $*"; }

# track PID: remember a process to stop at exit.
# Stopped newest first, so rpcbind outlives the daemons registered in it.
track() { PIDS="$1 $PIDS"; }

# stop_pid PID: TERM, wait up to 5 s, then KILL.
stop_pid() {
	local p=$1 i
	kill -0 "$p" 2>/dev/null || return 0
	kill -CONT "$p" 2>/dev/null
	kill -TERM "$p" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

cleanup() {
	local p
	for p in $PIDS; do stop_pid "$p"; done
	rm -rf "$T"
}
trap cleanup EXIT

# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
	local secs=$1 i n
	shift
	n=$((secs * 20))
	for i in $(seq "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# Private /run, loopback up, our own rpcbind.
ns_setup() {
	mount -t tmpfs tmpfs /run || { echo "cannot mount /run"; exit 1; }
	mkdir -p /run/rpcbind
	ip link set lo up
	rpcbind -w -f &
	RPCBIND_PID=$!
	track $RPCBIND_PID
	wait_for 5 rpcinfo -p localhost || { echo "rpcbind did not start"; exit 1; }
}

# Restart rpcbind; with "-9", kill it hard (all registrations lost).
rpcbind_restart() {
	if [ "$1" = -9 ]; then
		kill -9 $RPCBIND_PID; wait $RPCBIND_PID 2>/dev/null
		rm -f /run/rpcbind.sock /run/rpcbind/*
	else
		stop_pid $RPCBIND_PID
	fi
	rpcbind -w -f &
	RPCBIND_PID=$!
	track $RPCBIND_PID
	wait_for 5 rpcinfo -p localhost
}

registered() { rpcinfo -p localhost 2>/dev/null | awk '{print $1}' | grep -qx $PROG; }

# start_svc [ARGS]: bart_svc in the foreground, waits until registered.
start_svc() {
	"$BIN/bart_svc" -f -S "$T/state" -p "$T/svc.pid" -s "$T/svc.sock" \
	    "$@" 2>>"$T/svc.log" &
	SVC_PID=$!
	track $SVC_PID
	wait_for 10 rpcinfo -t localhost $PROG 1 || {
		echo "bart_svc did not register; log:"; cat "$T/svc.log"; return 1; }
}

stop_svc() { stop_pid "$SVC_PID"; }
kill9_svc() { kill -9 "$SVC_PID"; wait "$SVC_PID" 2>/dev/null; }

# Run bart_clnt; in the background use "$BIN/bart_clnt" so $! is its PID.
clnt() { "$BIN/bart_clnt" "$@"; }

# expect_eq DESC EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"; echo "#   expected: '$2'"; echo "#   actual:   '$3'"
		return 1; fi
}

# expect_run DESC RC STDOUT-REGEX STDERR-REGEX CMD...: run CMD, check
# exit code, and that stdout/stderr match (grep -E; "" skips a check).
expect_run() {
	local desc=$1 rc=$2 outre=$3 errre=$4 got
	shift 4
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" != "$rc" ]; then
		not_ok "$desc"; echo "#   exit $got, expected $rc: $*"
		sed 's/^/#   stdout: /' "$T/out"; sed 's/^/#   stderr: /' "$T/err"
		return 1
	fi
	if [ -n "$outre" ] && ! grep -Eq -- "$outre" "$T/out"; then
		not_ok "$desc"; echo "#   stdout does not match /$outre/:"
		sed 's/^/#   /' "$T/out"; return 1
	fi
	if [ -n "$errre" ] && ! grep -Eq -- "$errre" "$T/err"; then
		not_ok "$desc"; echo "#   stderr does not match /$errre/:"
		sed 's/^/#   /' "$T/err"; return 1
	fi
	if grep -q "libtirpc\|Segmentation\|AddressSanitizer" "$T/err"; then
		not_ok "$desc"; echo "#   noise on stderr:"; sed 's/^/#   /' "$T/err"
		return 1
	fi
	ok "$desc"
}

# finish: stop everything, check sanitizer logs, print the tally.
finish() {
	local p f
	for p in $PIDS; do stop_pid "$p"; done
	PIDS=""
	for f in "$T"/asan*; do
		[ -e "$f" ] || continue
		# A finding says ERROR or "runtime error".  LeakSanitizer
		# also writes a bare "Unable to get registers from thread"
		# when a process is stopped or killed while it checks.
		if ! grep -q "ERROR: \|runtime error\|WARNING: ThreadSanitizer" "$f"; then
			echo "# sanitizer note $(basename "$f"): $(head -c 200 "$f")"
			continue
		fi
		not_ok "sanitizer report $(basename "$f")"
		sed 's/^/#   /' "$f" | head -40
	done
	if [ "$NFAIL" -gt 0 ] && [ -f "$T/svc.log" ]; then
		echo "# bart_svc log:"; tail -30 "$T/svc.log" | sed 's/^/#   /'
	fi
	echo "$TNAME: $NPASS passed, $NFAIL failed"
	[ "$NFAIL" -eq 0 ]
}
