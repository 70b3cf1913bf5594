#!/bin/bash
# SPDX-License-Identifier: ISC
# run.sh BUILD_DIR [bart_bench options]: run bart_bench hermetically,
# as the integration tests run: its own network+mount namespace
# (unshare --net --mount), a tmpfs on /run, loopback only, its own
# rpcbind.  Every process is started and stopped by PID; bart_bench
# removes its own temporary state directory.
set -u
if [ "${1:-}" = --inside ]; then
	bin=$2 commit=$3
	shift 3
	mount -t tmpfs tmpfs /run || exit 1
	mkdir -p /run/rpcbind
	ip link set lo up || exit 1
	rpcbind -w -f &
	rp=$!
	trap 'kill -TERM $rp 2>/dev/null; wait $rp 2>/dev/null' EXIT
	for i in $(seq 100); do
		rpcinfo -p localhost >/dev/null 2>&1 && break
		sleep 0.05
	done
	rpcinfo -p localhost >/dev/null 2>&1 || { echo "rpcbind did not start" >&2; exit 1; }
	# -x callgrind runs only bart_cgbench (instruction counts, after
	# bart_bench, which writes results.tsv first); -x PART only PART.
	part="" quick="" prev=""
	for a in "$@"; do
		[ "$prev" = -x ] && part=$a
		[ "$a" = -q ] && quick=-q
		prev=$a
	done
	rc=0
	if [ "$part" != callgrind ]; then
		"$bin/bart_bench" -b "$bin" -o "$bin/bench" -c "$commit" "$@" ||
			rc=$?
	fi
	if [ -z "$part" ] || [ "$part" = callgrind ]; then
		append=-a
		[ "$part" = callgrind ] && append=
		if command -v valgrind >/dev/null; then
			# BART_CG_OPTS: e.g. -k to keep the dumps.
			"$bin/bart_cgbench" -b "$bin" -o "$bin/bench" \
			    -c "$commit" $quick $append ${BART_CG_OPTS:-} ||
				rc=$?
		else
			echo "callgrind part skipped: no valgrind (make deps)"
		fi
	fi
	exit $rc
fi
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:?usage: bench/run.sh BUILD_DIR [-q] [-x PART|callgrind]}" && pwd)
shift
if [ "$(id -u)" != 0 ]; then
	echo "bench/run.sh needs root (namespaces, its own rpcbind)" >&2
	exit 1
fi
commit=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
limit=1500			# bart_bench 600 s, bart_cgbench 600 s, slack
case " $* " in *" -q "*) limit=300 ;; esac
exec timeout -k 5 $limit unshare --net --mount "$here/run.sh" --inside \
    "$bin" "$commit" "$@"
