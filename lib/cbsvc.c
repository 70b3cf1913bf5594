/* SPDX-License-Identifier: ISC */
/*
 * cbsvc.c: the chat client's callback program (BART_CB_PROG, a random
 * transient number registered with this host's rpcbind), served on our
 * own non-blocking sockets.  Why not libtirpc's svc layer: its stream
 * transport reads blocking unless a process-wide option is set, it
 * keeps global state a library must not touch, and a peer that sends a
 * 14-byte partial record froze the old client for 35 s per read.
 *
 * Rules: a connection is accepted only from the server's address (from
 * loopback when we reach the server over the local transport); a record
 * is at most CB_REC_MAX bytes and must be complete within CB_PARTIAL_MS
 * of its first byte; a new connection must deliver a first whole record
 * within CB_FIRST_MS; at most CB_MAX_CONNS connections, the least
 * recently active one (preferring one that never sent a whole record)
 * evicted for a new one.  A reply that cannot be
 * written at once waits (reading stops) at most CB_PARTIAL_MS.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <rpc/rpc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cbsvc.h"

#define CB_MAX_LISTEN	2
#define CB_MAX_CONNS	8
#define CB_REC_MAX	(128 * 1024)	/* DELIVER of 64 full messages: 76 KB */
#define CB_PARTIAL_MS	2000
#define CB_FIRST_MS	3000
#define CB_OUT_MAX	512
#define PROG_TRIES	1000

#define TAG_LISTEN	CBSVC_TAG_BASE
#define TAG_CONN	(CBSVC_TAG_BASE + 0x100u)

struct cbconn {
	int		 fd;		/* -1: free slot */
	unsigned char	 hdr[4];
	size_t		 hdrlen;
	uint32_t	 fragleft;
	int		 last;		/* current fragment ends the record */
	unsigned char	*rec;
	size_t		 reclen, reccap;
	unsigned char	 out[CB_OUT_MAX];
	size_t		 outlen, outoff;
	uint64_t	 deadline;	/* 0: none (idle between records) */
	uint64_t	 active;	/* last activity, for eviction */
	int		 proven;	/* has sent a whole record */
};

struct cbsvc {
	int			 epfd;
	int			 nl;
	int			 lfd[CB_MAX_LISTEN];
	struct netconfig	*nconf[CB_MAX_LISTEN];
	struct sockaddr_storage	 laddr[CB_MAX_LISTEN];
	socklen_t		 laddrlen[CB_MAX_LISTEN];
	uint32_t		 prog;
	struct cbconn		 conns[CB_MAX_CONNS];
	struct sockaddr_storage	 peer;		/* the server */
	socklen_t		 peerlen;	/* 0: loopback only */
	cbsvc_fn		 fn;
	void			*arg;
};

static int
listen_on(struct netconfig *nc, struct sockaddr_storage *ss, socklen_t *len)
{
	int	fd, on = 1, af;

	af = strcmp(nc->nc_protofmly, NC_INET6) == 0 ? AF_INET6 : AF_INET;
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)af;
	*len = af == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if ((fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	if (af == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	/* Port 0: any unprivileged port, no reserved-port scan as root. */
	if (bind(fd, (struct sockaddr *)ss, *len) == -1 ||
	    listen(fd, 16) == -1 ||
	    getsockname(fd, (struct sockaddr *)ss, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
ep_add(int epfd, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = tag;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void
ep_mod(int epfd, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = tag;
	epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Listen on tcp and tcp6; the program is registered by cbsvc_register. */
struct cbsvc *
cbsvc_open(int epfd, cbsvc_fn fn, void *arg)
{
	static const char *const netids[] = { "tcp", "tcp6" };
	struct netconfig	*nc;
	struct cbsvc		*cb;
	size_t			 i;
	int			 fd;

	if ((cb = calloc(1, sizeof(*cb))) == NULL)
		return NULL;
	cb->epfd = epfd;
	cb->fn = fn;
	cb->arg = arg;
	for (i = 0; i < CB_MAX_CONNS; i++)
		cb->conns[i].fd = -1;
	for (i = 0; i < sizeof(netids) / sizeof(netids[0]); i++) {
		if ((nc = getnetconfigent(netids[i])) == NULL)
			continue;
		if ((fd = listen_on(nc, &cb->laddr[cb->nl],
		    &cb->laddrlen[cb->nl])) == -1 ||
		    ep_add(epfd, fd, EPOLLIN, TAG_LISTEN + (uint64_t)cb->nl) ==
		    -1) {
			if (fd != -1)
				close(fd);
			freenetconfigent(nc);
			continue;
		}
		cb->lfd[cb->nl] = fd;
		cb->nconf[cb->nl++] = nc;
	}
	if (cb->nl == 0) {
		free(cb);
		return NULL;
	}
	return cb;
}

static int
set_one(struct cbsvc *cb, uint32_t prog, int k)
{
	struct netbuf	nb;

	nb.buf = &cb->laddr[k];
	nb.len = nb.maxlen = cb->laddrlen[k];
	return rpcb_set(prog, BART_CB_VERS, cb->nconf[k], &nb);
}

/*
 * Register with this host's rpcbind: a free transient number from a
 * random start the first time; later calls check that rpcbind still
 * has it (an rpcbind killed and restarted has forgotten it) and put it
 * back.  0: registered (1: just put back), -1: rpcbind unreachable.
 */
int
cbsvc_register(struct cbsvc *cb)
{
	uint32_t	span, prog;
	int		t, k, back = 0;

	if (cb->prog != 0) {
		for (k = 0; k < cb->nl; k++) {
			rpc_createerr.cf_stat = RPC_SUCCESS;
			if (set_one(cb, cb->prog, k))
				back = 1;	/* it had been forgotten */
			else if (rpc_createerr.cf_stat != RPC_SUCCESS)
				return -1;
		}
		return back;
	}
	span = BART_CB_PROG_MAX - BART_CB_PROG_MIN + 1;
	util_random(&prog, sizeof(prog));
	prog = BART_CB_PROG_MIN + prog % span;
	for (t = 0; t < PROG_TRIES; t++, prog = BART_CB_PROG_MIN +
	    (prog - BART_CB_PROG_MIN + 1) % span) {
		rpc_createerr.cf_stat = RPC_SUCCESS;
		if (set_one(cb, prog, 0)) {
			cb->prog = prog;
			break;
		}
		/* Taken: try the next; rpcbind unreachable: give up. */
		if (rpc_createerr.cf_stat != RPC_SUCCESS)
			return -1;
	}
	if (cb->prog == 0)
		return -1;
	for (k = 1; k < cb->nl; k++)
		set_one(cb, cb->prog, k);
	return 0;
}

uint32_t
cbsvc_prog(const struct cbsvc *cb)
{
	return cb->prog;
}

/* Accept callbacks only from ADDR (LEN 0: from loopback, this host). */
void
cbsvc_allow(struct cbsvc *cb, const struct sockaddr_storage *addr,
    socklen_t len)
{
	cb->peerlen = len;
	if (len > 0)
		cb->peer = *addr;
}

/* The IPv4 address inside SS, v4-mapped IPv6 included; 0 if none. */
static int
v4_of(const struct sockaddr_storage *ss, struct in_addr *a)
{
	const struct sockaddr_in6	*s6 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		*a = ((const struct sockaddr_in *)(const void *)ss)->sin_addr;
		return 1;
	}
	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(a, &s6->sin6_addr.s6_addr[12], 4);
		return 1;
	}
	return 0;
}

static int
peer_ok(const struct cbsvc *cb, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6	*a6 = (const void *)ss;
	const struct sockaddr_in6	*p6 = (const void *)&cb->peer;
	struct in_addr			 a4, p4;

	if (cb->peerlen == 0) {
		if (v4_of(ss, &a4))
			return (ntohl(a4.s_addr) >> 24) == 127;
		return ss->ss_family == AF_INET6 &&
		    IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
	}
	if (v4_of(ss, &a4))
		return v4_of(&cb->peer, &p4) && a4.s_addr == p4.s_addr;
	return ss->ss_family == AF_INET6 && cb->peer.ss_family == AF_INET6 &&
	    memcmp(&a6->sin6_addr, &p6->sin6_addr, sizeof(a6->sin6_addr)) ==
	    0;
}

static void
conn_drop(struct cbsvc *cb, struct cbconn *c)
{
	(void)cb;
	if (c->fd == -1)
		return;
	close(c->fd);		/* also leaves the epoll set */
	free(c->rec);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* A free slot for a new connection, evicting one if all are taken. */
static struct cbconn *
conn_slot(struct cbsvc *cb)
{
	struct cbconn	*old = NULL;
	int		 i;

	/*
	 * Full: evict the oldest that never sent a whole record, else the
	 * least recently active (the server reconnects if it was its
	 * connection).
	 */
	for (i = 0; i < CB_MAX_CONNS; i++) {
		if (cb->conns[i].fd == -1)
			return &cb->conns[i];
		if (old == NULL || (!cb->conns[i].proven && old->proven) ||
		    (cb->conns[i].proven == old->proven &&
		    cb->conns[i].active < old->active))
			old = &cb->conns[i];
	}
	conn_drop(cb, old);
	return old;
}

/* Serve FD from now on; -1 if it cannot join the epoll set. */
static int
conn_add(struct cbsvc *cb, int fd)
{
	struct cbconn	*c = conn_slot(cb);
	uint64_t	 now = util_now_us();

	c->fd = fd;
	c->active = now;
	c->deadline = now + (uint64_t)CB_FIRST_MS * 1000;
	if (ep_add(cb->epfd, fd, EPOLLIN, TAG_CONN +
	    (uint64_t)(c - cb->conns)) == -1) {
		conn_drop(cb, c);
		return -1;
	}
	return 0;
}

int
cbsvc_adopt(struct cbsvc *cb, int fd)
{
	return conn_add(cb, fd);
}

static void
on_accept(struct cbsvc *cb, int lfd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, n;

	for (n = 0; n < 16; n++) {	/* bounded: others get their turn */
		len = sizeof(ss);
		if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
			return;
		if (!peer_ok(cb, &ss)) {
			close(fd);	/* not our server: not a byte read */
			continue;
		}
		(void)conn_add(cb, fd);
	}
}

/* Encode REPLY with a record mark into c->out. */
static int
put_reply(struct cbconn *c, struct rpc_msg *reply)
{
	XDR		x;
	uint32_t	len, mark;

	xdrmem_create(&x, (char *)c->out + 4, sizeof(c->out) - 4, XDR_ENCODE);
	if (!xdr_replymsg(&x, reply)) {
		xdr_destroy(&x);
		return -1;
	}
	len = xdr_getpos(&x);
	xdr_destroy(&x);
	mark = htonl(0x80000000u | len);
	memcpy(c->out, &mark, 4);
	c->outlen = len + 4;
	c->outoff = 0;
	return 0;
}

/*
 * One whole call: NULLPROC (the server's probe) or DELIVER.  The
 * handler only records what arrived (a gap is caught up later, from the
 * session's own loop): the server is waiting for this reply.
 */
static int
on_record(struct cbsvc *cb, struct cbconn *c)
{
	struct rpc_msg	 call, reply;
	char		 cred[MAX_AUTH_BYTES], verf[MAX_AUTH_BYTES];
	deliver_args	 a;
	bart_res	 res;
	XDR		 x;
	int		 rc = 0, decoded = 0;

	memset(&call, 0, sizeof(call));
	call.rm_call.cb_cred.oa_base = cred;
	call.rm_call.cb_verf.oa_base = verf;
	xdrmem_create(&x, (char *)c->rec, (u_int)c->reclen, XDR_DECODE);
	if (!xdr_callmsg(&x, &call) || call.rm_direction != CALL) {
		xdr_destroy(&x);
		return -1;
	}
	memset(&reply, 0, sizeof(reply));
	reply.rm_xid = call.rm_xid;
	reply.rm_direction = REPLY;
	if (call.rm_call.cb_rpcvers != RPC_MSG_VERSION) {
		reply.rm_reply.rp_stat = MSG_DENIED;
		reply.rjcted_rply.rj_stat = RPC_MISMATCH;
		reply.rjcted_rply.rj_vers.low = RPC_MSG_VERSION;
		reply.rjcted_rply.rj_vers.high = RPC_MSG_VERSION;
		goto send;
	}
	reply.rm_reply.rp_stat = MSG_ACCEPTED;
	reply.acpted_rply.ar_verf = _null_auth;
	reply.acpted_rply.ar_stat = SUCCESS;
	reply.acpted_rply.ar_results.where = NULL;
	reply.acpted_rply.ar_results.proc = XDR_VOID;
	if (call.rm_call.cb_prog != cb->prog)
		reply.acpted_rply.ar_stat = PROG_UNAVAIL;
	else if (call.rm_call.cb_vers != BART_CB_VERS) {
		reply.acpted_rply.ar_stat = PROG_MISMATCH;
		reply.acpted_rply.ar_vers.low = BART_CB_VERS;
		reply.acpted_rply.ar_vers.high = BART_CB_VERS;
	} else if (call.rm_call.cb_proc == NULLPROC)
		;
	else if (call.rm_call.cb_proc != DELIVER)
		reply.acpted_rply.ar_stat = PROC_UNAVAIL;
	else {
		memset(&a, 0, sizeof(a));
		decoded = 1;
		if (!xdr_deliver_args(&x, &a))
			reply.acpted_rply.ar_stat = GARBAGE_ARGS;
		else {
			memset(&res, 0, sizeof(res));
			res.status = cb->fn(cb->arg, &a);
			reply.acpted_rply.ar_results.where = (caddr_t)&res;
			reply.acpted_rply.ar_results.proc =
			    (xdrproc_t)xdr_bart_res;
		}
	}
send:
	rc = put_reply(c, &reply);
	if (decoded)
		xdr_free((xdrproc_t)xdr_deliver_args, (char *)&a);
	xdr_destroy(&x);
	return rc;
}

/* Write what is pending; 0 done, 1 must wait for POLLOUT, -1 dead. */
static int
flush_out(struct cbconn *c)
{
	ssize_t	n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
		c->outoff += (size_t)n;
	}
	c->outlen = c->outoff = 0;
	return 0;
}

/*
 * Read what the socket has into the record being assembled; run each
 * record completed.  -1: drop the connection (EOF, error, over bounds).
 */
static int
on_readable(struct cbsvc *cb, struct cbconn *c)
{
	unsigned char	*p;
	uint32_t	 mark;
	uint64_t	 now = util_now_us();
	size_t		 want, cap;
	ssize_t		 n;
	int		 rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		if (c->outlen > 0)
			return 0;	/* a reply waits: stop reading */
		if (c->hdrlen < 4 && c->fragleft == 0) {
			p = c->hdr + c->hdrlen;
			want = 4 - c->hdrlen;
		} else {
			if (c->reclen + c->fragleft > c->reccap) {
				cap = c->reclen + c->fragleft;
				if ((p = realloc(c->rec, cap)) == NULL)
					return -1;
				c->rec = p;
				c->reccap = cap;
			}
			p = c->rec + c->reclen;
			want = c->fragleft;
		}
		n = recv(c->fd, p, want, MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		c->active = now;
		/* A record has begun: it must be complete soon. */
		if (c->hdrlen == 0 && c->reclen == 0 && c->fragleft == 0 &&
		    c->deadline == 0)
			c->deadline = now + (uint64_t)CB_PARTIAL_MS * 1000;
		if (c->hdrlen < 4 && c->fragleft == 0) {
			c->hdrlen += (size_t)n;
			if (c->hdrlen < 4)
				continue;
			memcpy(&mark, c->hdr, 4);
			mark = ntohl(mark);
			c->last = (mark & 0x80000000u) != 0;
			c->fragleft = mark & 0x7fffffffu;
			if (c->reclen + c->fragleft > CB_REC_MAX)
				return -1;
			if (c->fragleft > 0)
				continue;
		} else {
			c->reclen += (size_t)n;
			c->fragleft -= (uint32_t)n;
			if (c->fragleft > 0)
				continue;
		}
		/* A fragment is complete. */
		c->hdrlen = 0;
		if (!c->last)
			continue;
		if (on_record(cb, c) == -1)
			return -1;
		c->proven = 1;
		c->reclen = 0;
		c->deadline = 0;
		switch (flush_out(c)) {
		case -1:
			return -1;
		case 1:
			c->deadline = now + (uint64_t)CB_PARTIAL_MS * 1000;
			ep_mod(cb->epfd, c->fd, EPOLLOUT,
			    TAG_CONN + (uint64_t)(c - cb->conns));
			return 0;
		}
	}
	return 0;
}

/* An epoll event; 0 if TAG is not ours. */
int
cbsvc_event(struct cbsvc *cb, uint64_t tag, uint32_t events)
{
	struct cbconn	*c;
	int		 r;

	if (tag >= TAG_LISTEN && tag < TAG_LISTEN + (uint64_t)cb->nl) {
		on_accept(cb, cb->lfd[tag - TAG_LISTEN]);
		return 1;
	}
	if (tag < TAG_CONN || tag >= TAG_CONN + CB_MAX_CONNS)
		return 0;
	c = &cb->conns[tag - TAG_CONN];
	if (c->fd == -1)
		return 1;
	if (c->outlen > 0) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return 1;
		if ((r = flush_out(c)) == -1) {
			conn_drop(cb, c);
			return 1;
		}
		if (r == 1)
			return 1;
		c->deadline = 0;
		ep_mod(cb->epfd, c->fd, EPOLLIN, tag);
	}
	if (on_readable(cb, c) == -1)
		conn_drop(cb, c);
	return 1;
}

/* The earliest connection deadline (monotonic us), 0 if none. */
uint64_t
cbsvc_deadline(const struct cbsvc *cb)
{
	uint64_t	d = 0;
	int		i;

	for (i = 0; i < CB_MAX_CONNS; i++)
		if (cb->conns[i].fd != -1 && cb->conns[i].deadline != 0 &&
		    (d == 0 || cb->conns[i].deadline < d))
			d = cb->conns[i].deadline;
	return d;
}

/* Drop the connections past their deadline (partial, silent, stuck). */
void
cbsvc_timers(struct cbsvc *cb, uint64_t now)
{
	int	i;

	for (i = 0; i < CB_MAX_CONNS; i++)
		if (cb->conns[i].fd != -1 && cb->conns[i].deadline != 0 &&
		    now >= cb->conns[i].deadline)
			conn_drop(cb, &cb->conns[i]);
}

/* Close everything and remove our registrations (only ours). */
void
cbsvc_close(struct cbsvc *cb)
{
	int	i;

	if (cb == NULL)
		return;
	for (i = 0; i < CB_MAX_CONNS; i++)
		conn_drop(cb, &cb->conns[i]);
	for (i = 0; i < cb->nl; i++) {
		if (cb->prog != 0)
			rpcb_unset(cb->prog, BART_CB_VERS, cb->nconf[i]);
		close(cb->lfd[i]);
		freenetconfigent(cb->nconf[i]);
	}
	free(cb);
}
