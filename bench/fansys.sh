#!/bin/bash
# SPDX-License-Identifier: ISC
# fansys.sh BUILD_DIR [N [K [MS]]]: system calls per subscriber per message
# in a chat fan-out, a figure that does not depend on the machine's
# load (unlike times).  In its own network+mount namespace with its own
# rpcbind (as bench/run.sh): bart_svc, one bart_subsim with N simulated
# subscribers (1000), then K messages (10) MS ms apart (500, so each goes
# alone, not batched with the next) while strace counts the calls of
# the daemon's delivery thread (the thread that sends; the others are
# summed apart) and the simulator's; and nstat the TCP segments (sent
# in both directions: DELIVERs, replies, pure ACKs).
set -u
if [ "${1:-}" = --inside ]; then
	bin=$2 n=$3 k=$4 ms=$5 T=$(mktemp -d)
	pids=()
	cleanup() {
		local p
		for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
		for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
		rm -rf "$T"
	}
	trap cleanup EXIT
	mount -t tmpfs tmpfs /run || exit 1
	mkdir -p /run/rpcbind
	ip link set lo up || exit 1
	ulimit -n "$(ulimit -Hn)"
	rpcbind -w -f & pids+=($!)
	for i in $(seq 100); do
		rpcinfo -p localhost >/dev/null 2>&1 && break; sleep 0.05
	done
	"$bin/bart_svc" -f -S "$T/state" -p "$T/svc.pid" -s "$T/svc.sock" \
	    --max-subs $((n + 100)) --max-subs-per-peer $((n + 100)) \
	    --sub-rate 1000000 2>"$T/svc.log" & svc=$!; pids+=($svc)
	for i in $(seq 200); do
		rpcinfo -t localhost 0x2000ba27 1 >/dev/null 2>&1 && break
		sleep 0.05
	done
	mkfifo "$T/sim.in"
	sleep 600 >"$T/sim.in" & pids+=($!)
	"$bin/bart_subsim" -n "$n" -A 8 -B 10 <"$T/sim.in" >"$T/sim.out" \
	    2>"$T/sim.err" & sim=$!; pids+=($sim)
	for i in $(seq 1200); do
		grep -q '^ready' "$T/sim.out" && break; sleep 0.05
	done
	grep '^ready' "$T/sim.out" || { echo "simulator not ready"; exit 1; }
	# One message first, so every callback connection is open.
	"$bin/bart_subsim" -S 1 >/dev/null
	sleep 1
	# The daemon per thread (-f, one line per call), to tell the
	# delivery thread (the one that sends) from the RPC thread.
	strace -f -qq -o "$T/svc.tr" -p "$svc" & st1=$!
	strace -c -o "$T/sim.st" -p "$sim" & st2=$!
	sleep 1
	nstat -n	# the namespace's TCP counters from here
	"$bin/bart_subsim" -S "$k" -I "$ms" >"$T/sent"
	last=$(awk '/^sent/ {s = $2} END {print s}' "$T/sent")
	for i in $(seq 600); do
		grep -q "^got $last " "$T/sim.out" && break; sleep 0.1
	done
	sleep 0.5
	nstat -z TcpOutSegs TcpExtDelayedACKs TcpRetransSegs \
	    TcpExtTCPLossProbes >"$T/nstat"
	kill -INT $st1 $st2
	wait $st1 $st2 2>/dev/null
	echo "== bart_svc: calls per subscriber per message (N=$n, K=$k, $ms ms apart)"
	awk -v d=$((n * k)) '{
		tid = $1; c = $2; sub(/\(.*/, "", c)
		if (c ~ /^[a-z_0-9]+$/) { cnt[tid, c]++; tot[tid]++; calls[c] = 1 }
		if (c == "sendto" && ++snd[tid] > best) { best = snd[tid]; dt = tid }
	} END {
		for (c in calls)
			if (cnt[dt, c] > 0)
				printf "%-14s %8d  %.3f  (delivery thread)\n", c,
				    cnt[dt, c], cnt[dt, c] / d
		printf "%-14s %8d  %.3f  (delivery thread)\n", "total",
		    tot[dt], tot[dt] / d
		for (t in tot)
			if (t != dt)
				other += tot[t]
		printf "%-14s %8d  %.3f  (the other threads)\n", "total",
		    other, other / d
	}' "$T/svc.tr" | sort -k1,1 -s
	echo "== bart_subsim: calls per subscriber per message"
	awk -v d=$((n * k)) '$1 ~ /^[0-9.]+$/ && NF >= 5 &&
	    $NF != "total" {
		c = $4; name = $NF
		printf "%-14s %8d  %.3f\n", name, c, c / d; tot += c }
		END { printf "%-14s %8d  %.3f\n", "total", tot, tot / d }' \
	    "$T/sim.st"
	echo "== TCP segments per subscriber per message (both directions)"
	awk -v d=$((n * k)) '$1 ~ /^Tcp/ {
		printf "%-18s %8d  %.3f\n", $1, $2, $2 / d }' "$T/nstat"
	exit 0
fi
bin=$(cd "${1:?usage: bench/fansys.sh BUILD_DIR [N [K [MS]]]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "fansys.sh needs root" >&2; exit 1; }
exec timeout -k 5 300 unshare --net --mount "$here/fansys.sh" --inside \
    "$bin" "${2:-1000}" "${3:-10}" "${4:-500}"
