# SPDX-License-Identifier: ISC
# netns.sh: a small network of test hosts on one machine, for
# multi-host integration tests.  Source it after lib.sh.
#
#   net_setup a b c       hosts "hosta", "hostb", "hostc" on one bridge
#   hrun H CMD...         run CMD on host H (its net, mount, uts namespaces)
#   hstart H CMD... &     the same in the background; $! is CMD's PID
#   host_rpcbind H        start rpcbind on H, wait until it answers
#   host_svc H [ARGS]     start bart_svc -f -v on H, wait until registered
#   host_link H up|down   plug or pull H's cable (the bridge side of its veth)
#   net_teardown          stop every process on every host, delete it all
#
# Layout.  The test already runs in its own network and mount namespace
# (run.sh: unshare --net --mount).  In there, a bridge "bartbr0" joins
# one veth pair per host; the bridge has no address, so the test's own
# namespace is not on the test network.  Host H is an "ip netns" named
# hostH with eth0 = 192.0.2.(10+i)/24 and 2001:db8::(10+i)/64: TEST-NET-1
# and the IPv6 documentation prefix, no default route, so no packet can
# leave.  Each host also has its own mount namespace (a private tmpfs on
# /run, so its rpcbind gets its own /run/rpcbind.sock; /etc/hosts and
# /etc/resolv.conf bind-mounted from files of the test) and its own UTS
# namespace (hostname hostH).  A "holder" process (sleep) keeps those
# namespaces alive; hrun and hstart enter them with nsenter, which execs
# CMD without forking (no pid namespace is entered).
#
# Teardown kills every process found in a host's network namespace (by
# PID, from "ip netns pids"), so nothing started on a host can outlive
# the test, even if the test forgot to track it.

NET_HOSTS=""
NET_BR=bartbr0
NET_DIR=$T/net
declare -A NET_HOLDER IP4 IP6 SVC_PIDS RPCBIND_PIDS

# Refuse to build bridges in a namespace we did not make ourselves.
net_check_private() {
	if [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/1/ns/net)" ] ||
	    [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ]; then
		echo "netns.sh: not in a private net+mount namespace; use run.sh" >&2
		exit 1
	fi
}

# net_host H INDEX: one host on the bridge, plus its holder process.
net_host() {
	local h=$1 i=$2 ns=host$1 v=bartv$1 p
	IP4[$h]=192.0.2.$((10 + i))
	IP6[$h]=2001:db8::$((10 + i))
	mkdir -p "$NET_DIR/$h" "$T/$h"
	ip netns add "$ns" || return 1
	ip link add "$v" type veth peer name eth0 netns "$ns" || return 1
	ip link set "$v" master "$NET_BR" up || return 1
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "${IP4[$h]}/24" dev eth0 || return 1
	# nodad: usable at once, instead of after duplicate detection.
	ip -n "$ns" addr add "${IP6[$h]}/64" dev eth0 nodad || return 1
	# The bridge floods; hosts should not chatter (RS, MLD) on it.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_ra=0 \
	    net.ipv6.conf.eth0.router_solicitations=0 2>/dev/null
	ip netns exec "$ns" unshare --mount --uts --propagation private \
	    sh -c 'mount -t tmpfs -o mode=755 tmpfs /run &&
		mkdir -p /run/rpcbind /run/lock &&
		mount --bind "$1" /etc/hosts &&
		mount --bind "$2" /etc/resolv.conf &&
		hostname "$3" && touch "$4" && exec sleep 100000' \
	    sh "$NET_DIR/hosts" "$NET_DIR/resolv.conf" "$ns" \
	    "$NET_DIR/$h/ready" &
	p=$!
	NET_HOLDER[$h]=$p
	track "$p"
	wait_for 5 test -e "$NET_DIR/$h/ready" || {
		echo "netns.sh: host $ns did not come up" >&2; return 1; }
	NET_HOSTS="$NET_HOSTS $h"
}

# net_setup H...: the bridge and one host per name (a, b, c, ...).
net_setup() {
	local h i=0
	net_check_private
	mount -t tmpfs tmpfs /run || { echo "cannot mount /run"; exit 1; }
	mkdir -p /run/netns "$NET_DIR"
	ip link set lo up
	trap 'net_teardown; cleanup' EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	{
		echo "127.0.0.1 localhost"
		echo "::1 localhost ip6-localhost ip6-loopback"
		for h in "$@"; do
			echo "192.0.2.$((10 + i)) host$h"
			echo "2001:db8::$((10 + i)) host$h host$h-6"
			i=$((i + 1))
		done
	} >"$NET_DIR/hosts"
	# Names not in /etc/hosts: the query goes to loopback and is refused.
	echo "nameserver 127.0.0.1" >"$NET_DIR/resolv.conf"
	ip link add "$NET_BR" type bridge || return 1
	sysctl -qw "net.ipv6.conf.$NET_BR.disable_ipv6=1" 2>/dev/null
	ip link set "$NET_BR" up
	i=0
	for h in "$@"; do
		net_host "$h" "$i" || { echo "netns.sh: cannot make host$h" >&2
			return 1; }
		i=$((i + 1))
	done
}

# hrun H CMD...: CMD on host H, in the foreground.
hrun() {
	local h=$1
	shift
	nsenter -t "${NET_HOLDER[$h]}" -n -m -u -- "$@"
}

# hstart H CMD... &: only in the background.  The function runs in the
# subshell that & forks, and exec makes that subshell CMD: $! is CMD.
hstart() {
	local h=$1
	shift
	exec nsenter -t "${NET_HOLDER[$h]}" -n -m -u -- "$@"
}

# host_rpcbind H: rpcbind -w -f on H.
host_rpcbind() {
	local h=$1
	hstart "$h" rpcbind -w -f 2>>"$T/$h/rpcbind.log" &
	RPCBIND_PIDS[$h]=$!
	track $!
	wait_for 5 hrun "$h" rpcinfo -p localhost || {
		echo "rpcbind on host$h did not start"; return 1; }
}

# host_rpcbind_kill H: kill -9 H's rpcbind (registrations are lost).
host_rpcbind_kill() {
	local h=$1
	kill -9 "${RPCBIND_PIDS[$h]}" 2>/dev/null
	wait "${RPCBIND_PIDS[$h]}" 2>/dev/null
}

# host_svc H [ARGS]: bart_svc -f -v on H, state and log in $T/H.
host_svc() {
	local h=$1
	shift
	hstart "$h" "$BIN/bart_svc" -f -v -S "$T/$h/state" -p "$T/$h/svc.pid" \
	    -s "$T/$h/svc.sock" "$@" 2>>"$T/$h/svc.log" &
	SVC_PIDS[$h]=$!
	track $!
	wait_for 10 hrun "$h" rpcinfo -t localhost "$PROG" 1 || {
		echo "bart_svc on host$h did not register; log:"
		sed 's/^/#   /' "$T/$h/svc.log"; return 1; }
}

# host_svc_kill9 H: kill -9 H's bart_svc.
host_svc_kill9() {
	local h=$1
	kill -9 "${SVC_PIDS[$h]}" 2>/dev/null
	wait "${SVC_PIDS[$h]}" 2>/dev/null
}

# host_link H up|down: the bridge side of H's cable.
host_link() { ip link set "bartv$1" "$2"; }

# net_teardown: stop every process in every host namespace (TERM, then
# KILL after 3 s), then delete the hosts, their veths and the bridge.
net_teardown() {
	local h pids="" p i
	[ -n "$NET_HOSTS" ] || return 0
	for h in $NET_HOSTS; do
		pids="$pids $(ip netns pids "host$h" 2>/dev/null)"
	done
	for p in $pids; do
		kill -CONT "$p" 2>/dev/null
		kill -TERM "$p" 2>/dev/null
	done
	for i in $(seq 30); do
		net_any_alive $pids || break
		sleep 0.1
	done
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	for h in $NET_HOSTS; do
		ip link del "bartv$h" 2>/dev/null
		ip netns del "host$h" 2>/dev/null
	done
	ip link del "$NET_BR" 2>/dev/null
	NET_HOSTS=""
}

net_any_alive() {
	local p
	for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done
	return 1
}
