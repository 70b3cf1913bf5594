/* peer.c: the uid of a caller on this host, whatever transport it used. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <errno.h>
#include <rpc/rpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"

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

/*
 * The uid owning the TCP socket at PEER connected to US, asked of the
 * kernel by its four-tuple (sock_diag): one lookup, however many
 * sockets the host has.  -1 if there is no such socket, -2 if the
 * kernel cannot tell (no sock_diag): then scan /proc.
 */
static long
diag_tcp_uid(const struct sockaddr *peer, const struct sockaddr *us)
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
	q.req.idiag_states = ~0u;
	q.req.id.idiag_cookie[0] = q.req.id.idiag_cookie[1] =
	    INET_DIAG_NOCOOKIE;
	if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *p6 = (const void *)peer;
		const struct sockaddr_in6 *u6 = (const void *)us;

		q.req.id.idiag_sport = p6->sin6_port;
		q.req.id.idiag_dport = u6->sin6_port;
		memcpy(q.req.id.idiag_src, &p6->sin6_addr, 16);
		memcpy(q.req.id.idiag_dst, &u6->sin6_addr, 16);
	} else {
		const struct sockaddr_in *p4 = (const void *)peer;
		const struct sockaddr_in *u4 = (const void *)us;

		q.req.id.idiag_sport = p4->sin_port;
		q.req.id.idiag_dport = u4->sin_port;
		memcpy(q.req.id.idiag_src, &p4->sin_addr, 4);
		memcpy(q.req.id.idiag_dst, &u4->sin_addr, 4);
	}
	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1)
		return -2;
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
			uid = (long)m->idiag_uid;
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
	int			 v6 = peer->sa_family == AF_INET6, loop;

	if (v6) {
		pa = ((const struct sockaddr_in6 *)peer)->sin6_addr.s6_addr;
		pport = ntohs(((const struct sockaddr_in6 *)peer)->sin6_port);
		loop = IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)pa);
		alen = 16;
	} else {
		pa = (const unsigned char *)
		    &((const struct sockaddr_in *)peer)->sin_addr;
		pport = ntohs(((const struct sockaddr_in *)peer)->sin_port);
		loop = pa[0] == 127;
		alen = 4;
	}
	if (stream && us != NULL && us->sa_family == peer->sa_family &&
	    (found = diag_tcp_uid(peer, us)) != -2)
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
	if ((f = fopen(path, "re")) == NULL)
		return -1;
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
		    !(loop && memcmp(la, any, alen) == 0))
			continue;
		found = uid;
	}
	fclose(f);
	return found;
}

/*
 * Who called, if the caller runs on this host: its uid, from
 * SO_PEERCRED on the local transport, or from the kernel's socket table
 * for a tcp or udp caller whose socket is on this host (whatever
 * address it used).  PEER_REMOTE for a caller on another host,
 * PEER_UID_UNKNOWN if the caller is local but its uid cannot be told.
 */
long
peer_uid(SVCXPRT *xprt)
{
	struct netbuf		*nb = svc_getrpccaller(xprt);
	struct sockaddr_storage	 us;
	socklen_t		 len = sizeof(us);
	struct ucred		 uc;
	socklen_t		 ulen = sizeof(uc);
	int			 type = 0;
	socklen_t		 tlen = sizeof(type);
	const struct sockaddr	*peer;
	long			 uid;

	if (nb == NULL || nb->buf == NULL || nb->len < sizeof(sa_family_t))
		return PEER_UID_UNKNOWN;
	peer = nb->buf;
	if (peer->sa_family != AF_INET && peer->sa_family != AF_INET6) {
		if (getsockopt(xprt->xp_fd, SOL_SOCKET, SO_PEERCRED, &uc,
		    &ulen) == -1)
			return PEER_UID_UNKNOWN;
		return (long)uc.uid;
	}
	if (getsockopt(xprt->xp_fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1)
		return PEER_UID_UNKNOWN;
	if (getsockname(xprt->xp_fd, (struct sockaddr *)&us, &len) == -1)
		return PEER_UID_UNKNOWN;
	uid = proc_sock_uid(type == SOCK_STREAM, peer,
	    (struct sockaddr *)&us);
	return uid >= 0 ? uid : PEER_REMOTE;
}
