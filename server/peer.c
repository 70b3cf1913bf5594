/* SPDX-License-Identifier: ISC */
/* peer.c: the uid of a caller on this host, whatever transport it used. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"

/*
 * The last lookup failed for want of a descriptor (EMFILE, ENFILE).
 * Per thread: push's delivery thread asks peer_diag_uid too, and its
 * lookups must not change what the RPC thread's peer_out_of_fds says.
 */
static _Thread_local int	nofd;

#define DIAG_TCP_LISTEN	10	/* TCP_LISTEN in the kernel's tcp_states.h */

static void
note_fd_error(void)
{
	if (errno == EMFILE || errno == ENFILE)
		nofd = 1;
}

/* Did the last peer_uid fail only because we are out of descriptors? */
int
peer_out_of_fds(void)
{
	return nofd;
}

/* Parse a /proc/net address ("0100007F" or 32 hex digits) into BUF. */
static int
proc_addr(const char *hex, unsigned char *buf, size_t len)
{
	uint32_t	w;
	char		part[9];
	size_t		i;

	if (strlen(hex) != len * 2)
		return -1;
	for (i = 0; i < len / 4; i++) {
		memcpy(part, hex + i * 8, 8);
		part[8] = '\0';
		w = (uint32_t)strtoul(part, NULL, 16);
		memcpy(buf + i * 4, &w, 4);	/* the kernel prints words */
	}
	return 0;
}

/* One address into a sock_diag socket id: its port and address. */
static void
diag_id(const struct sockaddr *sa, __be16 *port, __be32 *addr)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		*port = s6->sin6_port;
		memcpy(addr, &s6->sin6_addr, 16);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		*port = s4->sin_port;
		memcpy(addr, &s4->sin_addr, 4);
	}
}

/*
 * The uid owning a TCP socket of this host, asked of the kernel by its
 * address (sock_diag): one exact lookup, however many sockets the host
 * has.  With US, the socket at PEER connected to US; without, the
 * listener at PEER.  -1 if there is no such socket, -2 if the kernel
 * cannot tell (no sock_diag, or out of descriptors).
 */
long
peer_diag_uid(const struct sockaddr *peer, const struct sockaddr *us)
{
	struct sockaddr_nl	 nl;
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	req;
	}			 q;
	union {
		struct nlmsghdr	nlh;
		char		buf[1024];
	}			 a;
	struct inet_diag_msg	*m;
	struct timeval		 tv = { 0, 200000 };
	ssize_t			 n;
	long			 uid = -2;
	int			 fd;

	memset(&q, 0, sizeof(q));
	q.nlh.nlmsg_len = sizeof(q);
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST;
	q.req.sdiag_family = (uint8_t)peer->sa_family;
	q.req.sdiag_protocol = IPPROTO_TCP;
	q.req.idiag_states = us != NULL ? ~0u : 1u << DIAG_TCP_LISTEN;
	q.req.id.idiag_cookie[0] = q.req.id.idiag_cookie[1] =
	    INET_DIAG_NOCOOKIE;
	diag_id(peer, &q.req.id.idiag_sport, q.req.id.idiag_src);
	if (us != NULL)
		diag_id(us, &q.req.id.idiag_dport, q.req.id.idiag_dst);
	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1) {
		note_fd_error();
		return -2;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&nl, 0, sizeof(nl));
	nl.nl_family = AF_NETLINK;
	if (sendto(fd, &q, sizeof(q), 0, (struct sockaddr *)&nl,
	    sizeof(nl)) == (ssize_t)sizeof(q) &&
	    (n = recv(fd, &a, sizeof(a), 0)) >= (ssize_t)sizeof(a.nlh) &&
	    NLMSG_OK(&a.nlh, (size_t)n)) {
		if (a.nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
		    a.nlh.nlmsg_len >= NLMSG_LENGTH(sizeof(*m))) {
			m = NLMSG_DATA(&a.nlh);
			uid = us != NULL || m->idiag_state == DIAG_TCP_LISTEN ?
			    (long)m->idiag_uid : -1;
		} else if (a.nlh.nlmsg_type == NLMSG_ERROR &&
		    a.nlh.nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr)) &&
		    ((struct nlmsgerr *)NLMSG_DATA(&a.nlh))->error == -ENOENT)
			uid = -1;
	}
	close(fd);
	return uid;
}

/*
 * The uid owning the socket at PEER (and connected to US, for tcp) in
 * this host's socket table, or -1 if no such socket is ours.
 */
static long
proc_sock_uid(int stream, const struct sockaddr *peer,
    const struct sockaddr *us)
{
	const unsigned char	*pa, *ua = NULL;
	unsigned char		 la[16], ra[16], any[16];
	char			 line[512], lhex[40], rhex[40], path[32];
	unsigned int		 lport, rport, pport, uport = 0, uid;
	size_t			 alen;
	long			 found = -1;
	FILE			*f;
	int			 v6 = peer->sa_family == AF_INET6;

	if (v6) {
		pa = ((const struct sockaddr_in6 *)peer)->sin6_addr.s6_addr;
		pport = ntohs(((const struct sockaddr_in6 *)peer)->sin6_port);
		alen = 16;
	} else {
		pa = (const unsigned char *)
		    &((const struct sockaddr_in *)peer)->sin_addr;
		pport = ntohs(((const struct sockaddr_in *)peer)->sin_port);
		alen = 4;
	}
	if (stream && us != NULL && us->sa_family == peer->sa_family &&
	    (found = peer_diag_uid(peer, us)) != -2)
		return found;
	found = -1;
	if (us != NULL && us->sa_family == peer->sa_family) {
		ua = v6 ? ((const struct sockaddr_in6 *)us)->sin6_addr.s6_addr :
		    (const unsigned char *)
		    &((const struct sockaddr_in *)us)->sin_addr;
		uport = ntohs(v6 ?
		    ((const struct sockaddr_in6 *)us)->sin6_port :
		    ((const struct sockaddr_in *)us)->sin_port);
	}
	memset(any, 0, sizeof(any));
	snprintf(path, sizeof(path), "/proc/net/%s%s", stream ? "tcp" : "udp",
	    v6 ? "6" : "");
	if ((f = fopen(path, "re")) == NULL) {
		note_fd_error();
		return -1;
	}
	while (found == -1 && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, " %*d: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x "
		    "%*x %*x:%*x %*x:%*x %*x %u", lhex, &lport, rhex, &rport,
		    &uid) != 5)
			continue;
		if (lport != pport || proc_addr(lhex, la, alen) == -1 ||
		    proc_addr(rhex, ra, alen) == -1)
			continue;
		if (stream) {
			if (ua == NULL || memcmp(la, pa, alen) != 0 ||
			    memcmp(ra, ua, alen) != 0 || rport != uport)
				continue;
		} else if (memcmp(la, pa, alen) != 0 &&
		    memcmp(la, any, alen) != 0)
			continue;	/* a wildcard socket sends from any */
		found = uid;
	}
	fclose(f);
	return found;
}

/*
 * Is ADDR one of this host's own addresses (any interface, v4 or v6)?
 * The kernel knows: bind() to it succeeds (or the port is taken) only
 * if it is local.  One socket, no interface walk, and it also sees
 * addresses added after start.
 */
int
peer_addr_is_ours(const struct sockaddr *addr)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd, ok;

	memset(&ss, 0, sizeof(ss));
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)addr;
		struct sockaddr_in *b = (struct sockaddr_in *)&ss;

		if ((ntohl(a->sin_addr.s_addr) >> 24) == 127)
			return 1;
		b->sin_family = AF_INET;
		b->sin_addr = a->sin_addr;
		len = sizeof(*b);
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)addr;
		struct sockaddr_in6 *b = (struct sockaddr_in6 *)&ss;

		if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
			return 1;
		b->sin6_family = AF_INET6;
		b->sin6_addr = a->sin6_addr;
		b->sin6_scope_id = a->sin6_scope_id;
		len = sizeof(*b);
	} else
		return 1;		/* AF_UNIX */
	if ((fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) ==
	    -1) {
		note_fd_error();
		return 1;		/* cannot tell: treat as local */
	}
	ok = bind(fd, (struct sockaddr *)&ss, len) == 0 ||
	    errno == EADDRINUSE || errno == EACCES;
	close(fd);
	return ok;
}

/*
 * Who called, if the caller runs on this host: its uid, from
 * SO_PEERCRED on the local transport, or from the kernel's socket table
 * for a tcp or udp caller whose source address is one of this host's
 * (any interface: an unprivileged user's UDP call to our non-loopback
 * address is as local as one to 127.0.0.1).  PEER_REMOTE for a caller
 * on another host, PEER_UID_UNKNOWN if the caller is local but its uid
 * cannot be told.
 */
long
peer_uid(const struct proc_req *rq)
{
	struct sockaddr_storage	 us;
	socklen_t		 len = sizeof(us);
	const struct sockaddr	*peer = rq->from;
	long			 uid;

	nofd = 0;
	if (rq->xport == PROC_LOCAL)
		return rq->uid >= 0 ? rq->uid : PEER_UID_UNKNOWN;
	if (peer == NULL || rq->fromlen < sizeof(sa_family_t) ||
	    (peer->sa_family != AF_INET && peer->sa_family != AF_INET6))
		return PEER_UID_UNKNOWN;
	if (!peer_addr_is_ours(peer))
		return PEER_REMOTE;
	if (rq->xport == PROC_UDP && rq->to != NULL &&
	    rq->tolen <= sizeof(us)) {
		memcpy(&us, rq->to, rq->tolen);
	} else if (getsockname(rq->fd, (struct sockaddr *)&us, &len) == -1)
		return PEER_UID_UNKNOWN;
	uid = proc_sock_uid(rq->xport == PROC_TCP, peer,
	    (struct sockaddr *)&us);
	return uid >= 0 ? uid : PEER_UID_UNKNOWN;
}
