#!/bin/bash
# SPDX-License-Identifier: ISC
# run.sh BUILD_DIR [TEST...]: run integration tests, each in its own
# network+mount namespace, two at a time; print one tally at the end.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:?usage: run.sh BUILD_DIR [TEST...]}" && pwd)
shift
if [ "$(id -u)" != 0 ]; then
	echo "integration tests need root (namespaces, rpcbind)" >&2
	exit 1
fi
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=("$here"/t_*.sh)
logs=$(mktemp -d /tmp/bart-runs.XXXXXX)
export BART_BIN=$bin

run_one() {
	local t=$1 name
	name=$(basename "$t" .sh)
	timeout -k 5 300 unshare --net --mount bash "$t" \
	    >"$logs/$name.log" 2>&1 </dev/null
	echo $? >"$logs/$name.rc"
}
export -f run_one
export logs
printf '%s\n' "${tests[@]}" | xargs -P 2 -I{} bash -c 'run_one "$@"' _ {}

pass=0 fail=0 bad=""
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	cat "$logs/$name.log"
	p=$(grep -c '^ok - ' "$logs/$name.log")
	f=$(grep -c '^not ok - ' "$logs/$name.log")
	pass=$((pass + p)); fail=$((fail + f))
	if [ "$(cat "$logs/$name.rc")" != 0 ] && [ "$f" = 0 ]; then
		fail=$((fail + 1)); bad="$bad $name"
		echo "not ok - $name exited $(cat "$logs/$name.rc") (timeout or crash)"
	fi
done
rm -rf "$logs"
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
