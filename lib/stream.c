/* SPDX-License-Identifier: ISC */
/*
 * stream.c: one call over a stream connection (tcp, tcp6, local) with
 * one deadline for all of it.  libtirpc's clnt_call waits its timeout
 * for each read() of the reply, so a server that sends its answer a
 * byte at a time held "bart_clnt -t 1" for 20 s; here the call is
 * encoded with libtirpc's XDR routines (xdr_callmsg, rpcgen's), sent
 * and its reply record read by us (RFC 5531 section 11: any number of
 * fragments, at most STREAM_REPLY_MAX bytes), on the CLIENT's own
 * socket, which libtirpc then never reads or writes.
 *
 * Opening is bounded the same way: libtirpc's clnt_tp_create_timed
 * bounds the rpcbind question, but its connect() blocks, for minutes
 * when a server's port drops packets (a firewall), whatever -t says;
 * and it asks rpcbind over a blocking connect too.  stream_open asks
 * rpcbind (GETADDR) and connects to bart, each within the deadline.
 */
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <rpc/rpc.h>
#include <rpc/rpcb_prot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "stream.h"

/* A call: CHAT_SEND's 1 KB text with headers fits many times over. */
#define STREAM_CALL_MAX		(16 * 1024)
/* A reply: 64 messages of the largest size (bart_svc's OUT_CAP). */
#define STREAM_REPLY_MAX	(256 * 1024)
#define MARK_LAST		0x80000000u

static int
ms_until(uint64_t deadline)
{
	uint64_t	now = util_now_us();

	if (now >= deadline)
		return 0;
	return (deadline - now) / 1000 > 3600000 ? 3600000 :
	    (int)((deadline - now + 999) / 1000);
}

/* Wait for EV on FD until DEADLINE: 1 ready, 0 timed out, -1 error. */
static int
wait_fd(int fd, short ev, uint64_t deadline)
{
	struct pollfd	p = { fd, ev, 0 };
	int		ms, r;

	for (;;) {
		if ((ms = ms_until(deadline)) == 0)
			return 0;
		if ((r = poll(&p, 1, ms)) == -1 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r > 0 ? 1 : 0;
	}
}

/*
 * The stream is out of step (a record half sent or half read, or bytes
 * where none belong): no later call may use it.  The next one fails
 * at once as a lost connection, which reconnects where that is safe.
 */
static void
poison(int fd)
{
	shutdown(fd, SHUT_RDWR);
}

static enum clnt_stat
send_all(int fd, const unsigned char *p, size_t len, uint64_t deadline)
{
	ssize_t	n;
	size_t	off = 0;
	int	w;

	while (off < len) {
		n = send(fd, p + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return RPC_CANTSEND;
		if ((w = wait_fd(fd, POLLOUT, deadline)) <= 0) {
			if (off > 0)
				poison(fd);
			return w == 0 ? RPC_TIMEDOUT : RPC_CANTSEND;
		}
	}
	return RPC_SUCCESS;
}

/*
 * A whole record at BUF (LEN bytes)?  Its size with marks, its body
 * joined into *BODY (BUF itself for one fragment, else OUT), or 0 if
 * more must come, -1 if it is over the cap.
 */
static long
record(unsigned char *buf, size_t len, unsigned char *out,
    unsigned char **body, size_t *blen)
{
	size_t		off = 0, sum = 0, n = 0;
	uint32_t	mark, flen;

	for (;;) {
		if (len - off < 4)
			return off + 4 > STREAM_REPLY_MAX ? -1 : 0;
		memcpy(&mark, buf + off, 4);
		mark = ntohl(mark);
		flen = mark & ~MARK_LAST;
		if (flen > STREAM_REPLY_MAX || off + 4 + flen > STREAM_REPLY_MAX)
			return -1;
		if (len - off - 4 < flen)
			return 0;
		off += 4 + flen;
		sum += flen;
		if (mark & MARK_LAST)
			break;
	}
	*blen = sum;
	if (off == sum + 4) {
		*body = buf + 4;
		return (long)off;
	}
	for (off = 0; n < sum; off += 4 + flen) {
		memcpy(&mark, buf + off, 4);
		flen = ntohl(mark) & ~MARK_LAST;
		memcpy(out + n, buf + off + 4, flen);
		n += flen;
	}
	*body = out;
	return (long)off;
}

/* Decode the reply in BODY (LEN bytes) into XR/R: its clnt_stat. */
static enum clnt_stat
decode(const unsigned char *body, size_t len, xdrproc_t xr, void *r)
{
	struct rpc_msg	m;
	char		verf[MAX_AUTH_BYTES];
	XDR		x;
	enum clnt_stat	st;
	bool_t		okd;

	memset(&m, 0, sizeof(m));
	m.acpted_rply.ar_verf.oa_base = verf;	/* no allocation */
	m.acpted_rply.ar_results.where = r;
	m.acpted_rply.ar_results.proc = xr;
	xdrmem_create(&x, (char *)(uintptr_t)body, (u_int)len, XDR_DECODE);
	okd = xdr_replymsg(&x, &m);
	xdr_destroy(&x);
	if (!okd) {
		xdr_free(xr, r);
		return RPC_CANTDECODERES;
	}
	if (m.rm_reply.rp_stat == MSG_DENIED)
		return m.rjcted_rply.rj_stat == RPC_MISMATCH ?
		    RPC_VERSMISMATCH : RPC_AUTHERROR;
	switch (m.acpted_rply.ar_stat) {
	case SUCCESS:
		st = RPC_SUCCESS;
		break;
	case PROG_UNAVAIL:
		st = RPC_PROGUNAVAIL;
		break;
	case PROG_MISMATCH:
		st = RPC_PROGVERSMISMATCH;
		break;
	case PROC_UNAVAIL:
		st = RPC_PROCUNAVAIL;
		break;
	case GARBAGE_ARGS:
		st = RPC_CANTDECODEARGS;
		break;
	default:
		st = RPC_SYSTEMERROR;
		break;
	}
	return st;
}

/* Read records from FD until the reply to XID is whole; decode it. */
static enum clnt_stat
recv_reply(int fd, uint32_t xid, xdrproc_t xr, void *r, uint64_t deadline)
{
	unsigned char	*buf = NULL, *joined = NULL, *body, *nb;
	size_t		 have = 0, cap = 0, blen;
	enum clnt_stat	 st = RPC_CANTRECV;
	uint32_t	 rx;
	ssize_t		 n;
	long		 used;
	int		 w;

	for (;;) {
		while (have > 0 && (used = record(buf, have, joined, &body,
		    &blen)) != 0) {
			if (used == -1) {
				poison(fd);	/* a hostile or broken server */
				goto out;
			}
			if (blen >= 4 && (memcpy(&rx, body, 4), ntohl(rx)) ==
			    xid) {
				st = decode(body, blen, xr, r);
				if ((size_t)used != have)
					poison(fd);	/* bytes no call asked */
				goto out;
			}
			/* An older call's late reply: skip it. */
			memmove(buf, buf + used, have - (size_t)used);
			have -= (size_t)used;
		}
		if (have == cap) {
			cap = cap == 0 ? 8800 : cap * 2;
			if (cap > STREAM_REPLY_MAX + 4)
				cap = STREAM_REPLY_MAX + 4;
			if (have == cap || (nb = realloc(buf, cap)) == NULL) {
				poison(fd);
				goto out;
			}
			buf = nb;
			if ((nb = realloc(joined, cap)) == NULL) {
				poison(fd);
				goto out;
			}
			joined = nb;
		}
		if ((w = wait_fd(fd, POLLIN, deadline)) <= 0) {
			st = w == 0 ? RPC_TIMEDOUT : RPC_CANTRECV;
			if (have > 0)
				poison(fd);	/* half a record read */
			goto out;
		}
		n = recv(fd, buf + have, cap - have, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			goto out;
		have += (size_t)n;
	}
out:
	free(buf);
	free(joined);
	return st;
}

/*
 * Call PROC on stream client CL (its program and version): arguments
 * XA/A, results XR/R, everything done by DEADLINE (util_now_us).  The
 * same clnt_stat values as clnt_call.
 */
enum clnt_stat
stream_call(CLIENT *cl, rpcproc_t proc, xdrproc_t xa, void *a,
    xdrproc_t xr, void *r, uint64_t deadline)
{
	unsigned char	 out[STREAM_CALL_MAX];
	uint32_t	 xid, mark, prog, vers;
	enum clnt_stat	 st;
	size_t		 len;
	int		 fd;

	if (!clnt_control(cl, CLGET_FD, (char *)&fd) ||
	    !clnt_control(cl, CLGET_XID, (char *)&xid) ||
	    !clnt_control(cl, CLGET_PROG, (char *)&prog) ||
	    !clnt_control(cl, CLGET_VERS, (char *)&vers))
		return RPC_FAILED;
	/* The CLIENT's own sequence: each call a new xid. */
	xid++;
	clnt_control(cl, CLSET_XID, (char *)&xid);
	if ((len = util_call_encode(out + 4, sizeof(out) - 4, xid, prog,
	    vers, proc, xa, a)) == 0)
		return RPC_CANTENCODEARGS;
	mark = htonl(MARK_LAST | (uint32_t)len);
	memcpy(out, &mark, 4);
	if ((st = send_all(fd, out, len + 4, deadline)) != RPC_SUCCESS)
		return st;
	return recv_reply(fd, xid, xr, r, deadline);
}

/* Connect to SA within DEADLINE: a CLIENT for PROG/VERS, or NULL. */
static CLIENT *
connect_by(const struct sockaddr *sa, socklen_t len, struct netconfig *nc,
    rpcprog_t prog, rpcvers_t vers, uint64_t deadline, int *silent)
{
	int	fd;

	if ((fd = util_connect_timed(sa, len, ms_until(deadline))) == -1) {
		*silent = errno == ETIMEDOUT;
		rpc_createerr.cf_stat = *silent ? RPC_TIMEDOUT : RPC_SYSTEMERROR;
		rpc_createerr.cf_error.re_errno = errno;
		return NULL;
	}
	return lib_fd_client(fd, nc, (void *)(uintptr_t)sa, len, prog, vers);
}

/*
 * A CLIENT for bart on HOST over stream netconfig NC, opened within MS:
 * rpcbind's GETADDR (RFC 1833) over a connection of our own, then bart
 * at the address it names.  NULL on failure with rpc_createerr set as
 * libtirpc sets it (lib_create_error words it), and *PORT_SILENT if
 * rpcbind answered but bart's own port did not within the time.
 */
CLIENT *
stream_open(const char *host, struct netconfig *nc, unsigned int ms,
    int *port_silent)
{
	struct addrinfo	 hints, *res = NULL;
	struct netbuf	*nb = NULL, rbaddr;
	uint64_t	 deadline = util_now_us() + (uint64_t)ms * 1000;
	CLIENT		*rb = NULL, *cl = NULL;
	RPCB		 q;
	char		*ua = NULL, *here = NULL;
	enum clnt_stat	 st;
	int		 silent = 0;

	*port_silent = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = strcmp(nc->nc_protofmly, NC_INET6) == 0 ? AF_INET6 :
	    AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, "111", &hints, &res) != 0 || res == NULL) {
		rpc_createerr.cf_stat = RPC_UNKNOWNHOST;
		return NULL;
	}
	if ((rb = connect_by(res->ai_addr, res->ai_addrlen, nc, RPCBPROG,
	    RPCBVERS, deadline, &silent)) == NULL)
		goto out;
	/*
	 * r_addr: the address we reached rpcbind at, as libtirpc sends it:
	 * rpcbind answers with bart's address on that interface (mergeaddr),
	 * which matters when bart listens on some addresses only.
	 */
	rbaddr.buf = res->ai_addr;
	rbaddr.len = rbaddr.maxlen = res->ai_addrlen;
	here = taddr2uaddr(nc, &rbaddr);
	memset(&q, 0, sizeof(q));
	q.r_prog = BART_PROG;
	q.r_vers = BART_VERS;
	q.r_netid = nc->nc_netid;
	q.r_addr = here != NULL ? here : (char *)(uintptr_t)"";
	q.r_owner = (char *)(uintptr_t)"";
	st = stream_call(rb, RPCBPROC_GETADDR, (xdrproc_t)xdr_rpcb, &q,
	    (xdrproc_t)xdr_wrapstring, &ua, deadline);
	if (st != RPC_SUCCESS) {
		rpc_createerr.cf_stat = st == RPC_TIMEDOUT ? RPC_TIMEDOUT :
		    RPC_PMAPFAILURE;
		goto out;
	}
	if (ua == NULL || *ua == '\0' || (nb = uaddr2taddr(nc, ua)) == NULL) {
		rpc_createerr.cf_stat = RPC_PROGNOTREGISTERED;
		goto out;
	}
	cl = connect_by(nb->buf, nb->len, nc, BART_PROG, BART_VERS, deadline,
	    port_silent);
out:
	if (rb != NULL)
		clnt_destroy(rb);
	if (nb != NULL) {
		free(nb->buf);
		free(nb);
	}
	xdr_free((xdrproc_t)xdr_wrapstring, (char *)&ua);
	free(here);
	freeaddrinfo(res);
	return cl;
}
