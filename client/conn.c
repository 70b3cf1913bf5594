/*
 * conn.c: find the server through rpcbind and call it, mapping every
 * libtirpc failure to one line in plain words and a <sysexits.h> code.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <netdb.h>
#include <stdarg.h>
#include <rpc/rpc.h>
#include <rpc/rpcb_prot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include "conn.h"
#include "util.h"


static void __attribute__((format(printf, 2, 3)))
say(struct conn *c, const char *fmt, ...)
{
	va_list	ap;

	if (c->quiet)
		return;
	fprintf(stderr, "bart_clnt: %s: ", c->host);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Is HOST this machine, so that the AF_UNIX transport reaches it? */
int
conn_is_local(const char *host)
{
	char	name[256];

	if (strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
	    strcmp(host, "::1") == 0 || strcmp(host, "local") == 0)
		return 1;
	if (gethostname(name, sizeof(name)) == 0) {
		name[sizeof(name) - 1] = '\0';
		return strcmp(host, name) == 0;
	}
	return 0;
}

/* Does rpcbind still list us?  Then the daemon died (stale entry). */
static int
registered_anyway(struct conn *c)
{
	struct sockaddr_storage	 ss;
	struct netbuf		 nb;
	struct netconfig	*nc;
	int			 yes;

	if ((nc = getnetconfigent(c->netid)) == NULL)
		return 0;
	nb.buf = &ss;
	nb.maxlen = sizeof(ss);
	nb.len = 0;
	yes = rpcb_getaddr(BART_PROG, BART_VERS, nc, &nb,
	    strcmp(c->netid, "local") == 0 ? "localhost" : c->host);
	freenetconfigent(nc);
	return yes;
}

static int
create_error(struct conn *c)
{
	enum clnt_stat	cf = rpc_createerr.cf_stat;

	switch (cf) {
	case RPC_UNKNOWNHOST:
		say(c, "%s", "unknown host");
		return EX_NOHOST;
	case RPC_PROGNOTREGISTERED:
		say(c, "bart is not registered with rpcbind for %s "
		    "(is bart_svc running?)", c->netid);
		return EX_UNAVAILABLE;
	case RPC_PROGVERSMISMATCH:
		say(c, "%s", "the server speaks another protocol version");
		return EX_PROTOCOL;
	case RPC_UNKNOWNPROTO:
		say(c, "transport '%s' is not available", c->netid);
		return EX_USAGE;
	case RPC_TIMEDOUT:
		say(c, "%s", "no answer from rpcbind (host down or "
		    "filtered?)");
		return EX_UNAVAILABLE;
	default:
		if (registered_anyway(c))
			say(c, "bart is registered with rpcbind but does not "
			    "answer (bart_svc died? restart it)");
		else
			say(c, "cannot reach rpcbind (is rpcbind running?): "
			    "%s", clnt_sperrno(cf));
		return EX_UNAVAILABLE;
	}
}

/*
 * The fast way to this host.  A stock libtirpc client resolves
 * "localhost", opens a socket to rpcbind (binding a reserved port as
 * root: a scan, and 60 s of TIME_WAIT), asks GETADDR, then opens and
 * binds another.  For this host we go straight to bart_svc's default
 * AF_UNIX socket, or ask rpcbind over its AF_UNIX socket and connect
 * from an ordinary port.  Any failure falls back to the stock path,
 * which also words the error.
 */
#define BART_LOCAL_SOCK	"/run/bart/bart_svc.sock"	/* bart_svc's default */

static int
unix_connect(const char *path, struct sockaddr_un *sun)
{
	int	fd;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -1;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)sun, sizeof(*sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A CLIENT that owns FD (no reserved port: we made the socket). */
static CLIENT *
fd_client(int fd, struct netconfig *nc, void *sa, socklen_t len,
    rpcprog_t prog, rpcvers_t vers)
{
	struct netbuf	 nb;
	CLIENT		*cl;

	nb.buf = sa;
	nb.len = nb.maxlen = len;
	if ((cl = clnt_tli_create(fd, nc, &nb, prog, vers, 0, 0)) == NULL) {
		close(fd);
		return NULL;
	}
	clnt_control(cl, CLSET_FD_CLOSE, NULL);
	return cl;
}

/* The port at the end of a universal address "h.h.h.h.p1.p2"; 0: none. */
static int
uaddr_port(const char *ua)
{
	const char	*lo, *hi;
	long		 p1, p2;
	char		*end;

	if ((lo = strrchr(ua, '.')) == NULL || lo == ua)
		return 0;
	for (hi = lo - 1; hi > ua && *hi != '.'; hi--)
		;
	if (*hi != '.')
		return 0;
	p1 = strtol(hi + 1, &end, 10);
	if (end != lo)
		return 0;
	p2 = strtol(lo + 1, &end, 10);
	if (*end != '\0' || p1 < 0 || p1 > 255 || p2 < 0 || p2 > 255)
		return 0;
	return (int)(p1 * 256 + p2);
}

/*
 * bart's port for NETID, asked of rpcbind over its AF_UNIX socket; 0 if
 * unknown.  Not GETADDR: rpcbind answers that with the entry for the
 * netid the question came in on (here: local, a socket path), so DUMP
 * and pick our entry.
 */
static int
local_port(const char *netid, int timeout_s)
{
	struct sockaddr_un	 sun;
	struct netconfig	*lnc;
	struct timeval		 tv;
	CLIENT			*rb = NULL;
	rpcblist_ptr		 list = NULL, l;
	int			 fd, port = 0;

	if ((lnc = getnetconfigent("local")) == NULL)
		return 0;
	if ((fd = unix_connect(_PATH_RPCBINDSOCK, &sun)) == -1 ||
	    (rb = fd_client(fd, lnc, &sun, sizeof(sun), RPCBPROG,
	    RPCBVERS)) == NULL)
		goto out;
	tv.tv_sec = timeout_s;
	tv.tv_usec = 0;
	if (clnt_call(rb, RPCBPROC_DUMP, XDR_VOID, NULL,
	    (xdrproc_t)xdr_rpcblist_ptr, (char *)&list, tv) != RPC_SUCCESS)
		goto out;
	for (l = list; l != NULL && port == 0; l = l->rpcb_next)
		if (l->rpcb_map.r_prog == BART_PROG &&
		    l->rpcb_map.r_vers == BART_VERS &&
		    l->rpcb_map.r_netid != NULL &&
		    strcmp(l->rpcb_map.r_netid, netid) == 0 &&
		    l->rpcb_map.r_addr != NULL)
			port = uaddr_port(l->rpcb_map.r_addr);
	xdr_free((xdrproc_t)xdr_rpcblist_ptr, (char *)&list);
out:
	if (rb != NULL)
		clnt_destroy(rb);
	freenetconfigent(lnc);
	return port;
}

static CLIENT *
fast_local(struct conn *c, struct netconfig *nc)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 fd, port, af, dgram;

	if (strcmp(nc->nc_protofmly, NC_LOOPBACK) == 0) {
		if ((fd = unix_connect(BART_LOCAL_SOCK, &sun)) == -1)
			return NULL;
		return fd_client(fd, nc, &sun, sizeof(sun), BART_PROG,
		    BART_VERS);
	}
	if ((port = local_port(c->netid, c->timeout_s)) == 0)
		return NULL;
	af = strcmp(nc->nc_protofmly, NC_INET6) == 0 ? AF_INET6 : AF_INET;
	dgram = nc->nc_semantics == NC_TPI_CLTS;
	memset(&ss, 0, sizeof(ss));
	if (af == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
	}
	if ((fd = socket(af, (dgram ? SOCK_DGRAM : SOCK_STREAM) |
	    SOCK_CLOEXEC, 0)) == -1)
		return NULL;
	/* UDP: the kernel binds an ephemeral port at the first send. */
	if (!dgram && connect(fd, (struct sockaddr *)&ss, len) == -1) {
		close(fd);
		return NULL;
	}
	return fd_client(fd, nc, &ss, len, BART_PROG, BART_VERS);
}

static int
open_netid(struct conn *c, const char *netid)
{
	struct netconfig	*nc;
	struct timeval		 tv;
	const char		*host = c->host;

	/* An IPv6 literal needs the IPv6 twin of tcp or udp. */
	if (strchr(host, ':') != NULL && (strcmp(netid, "tcp") == 0 ||
	    strcmp(netid, "udp") == 0))
		snprintf(c->netid, sizeof(c->netid), "%s6", netid);
	else
		snprintf(c->netid, sizeof(c->netid), "%s", netid);
	netid = c->netid;
	if ((nc = getnetconfigent(netid)) == NULL) {
		say(c, "unknown transport '%s' (use tcp, udp or local)",
		    netid);
		return EX_USAGE;
	}
	tv.tv_sec = c->timeout_s;
	tv.tv_usec = 0;
	if (strcmp(netid, "local") == 0)
		host = "localhost";
	if (!conn_is_local(host) || (c->cl = fast_local(c, nc)) == NULL)
		c->cl = clnt_tp_create_timed(host, BART_PROG, BART_VERS, nc,
		    &tv);
	freenetconfigent(nc);
	if (c->cl == NULL)
		return create_error(c);
	clnt_control(c->cl, CLSET_TIMEOUT, (char *)&tv);
	return 0;
}

/*
 * Connect to HOST.  NETID NULL picks the fastest that works: local for
 * this machine (falling back to tcp), tcp for another.
 */
int
conn_open(struct conn *c, const char *host, const char *netid, int timeout)
{
	enum clnt_stat	cf;
	int		rc, quiet = c->quiet;

	c->host = host;
	c->want = netid;
	c->timeout_s = timeout;
	if (c->client_id == 0) {
		c->client_id = util_random_u64();
		c->next_seq = 1;
	}
	if (netid != NULL)
		return open_netid(c, netid);
	if (conn_is_local(host)) {
		c->quiet = 1;
		rc = open_netid(c, "local");
		c->quiet = quiet;
		if (rc == 0)
			return 0;
	}
	/* A name with only IPv6 addresses is unknown to "tcp": try tcp6. */
	c->quiet = 1;
	rc = open_netid(c, "tcp");
	if (rc == EX_NOHOST && strchr(host, ':') == NULL) {
		cf = rpc_createerr.cf_stat;
		if (open_netid(c, "tcp6") == 0) {
			c->quiet = quiet;
			return 0;
		}
		rpc_createerr.cf_stat = cf;
		snprintf(c->netid, sizeof(c->netid), "tcp");
	}
	c->quiet = quiet;
	if (rc == EX_USAGE)
		return open_netid(c, "tcp");	/* says why */
	if (rc != 0)
		rc = create_error(c);
	return rc;
}

void
conn_close(struct conn *c)
{
	if (c->cl != NULL)
		clnt_destroy(c->cl);
	c->cl = NULL;
}

/* A fresh identity for a call that changes state. */
void
conn_reqid(struct conn *c, bart_reqid *id)
{
	id->client = c->client_id;
	id->seq = c->next_seq++;
}

static int
call_error(struct conn *c, enum clnt_stat st)
{
	switch (st) {
	case RPC_TIMEDOUT:
		say(c, "no answer within %d s", c->timeout_s);
		return EX_TEMPFAIL;
	case RPC_CANTSEND:
	case RPC_CANTRECV:
		say(c, "%s", "connection to the server lost");
		return EX_UNAVAILABLE;
	case RPC_PROCUNAVAIL:
	case RPC_PROGVERSMISMATCH:
	case RPC_PROGUNAVAIL:
		say(c, "the server does not offer this call: %s",
		    clnt_sperrno(st));
		return EX_PROTOCOL;
	case RPC_CANTDECODEARGS:
		say(c, "%s", "the server could not decode the call "
		    "(argument too long?)");
		return EX_DATAERR;
	default:
		say(c, "call failed: %s", clnt_sperrno(st));
		return EX_PROTOCOL;
	}
}

static int
is_datagram(const struct conn *c)
{
	return strcmp(c->netid, "udp") == 0 || strcmp(c->netid, "udp6") == 0;
}

static struct timeval
ms_tv(uint64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

/*
 * UDP: resend a lost call after 50 ms, growing by half each time up to
 * 1 s, until the -t deadline (libtirpc would wait seconds).  Every
 * resend keeps the first xid, so the server's duplicate request cache
 * answers it without executing it again.
 */
static enum clnt_stat
call_dgram(struct conn *c, rpcproc_t proc, xdrproc_t xa, void *a,
    xdrproc_t xr, void *r, uint64_t deadline)
{
	enum clnt_stat	st = RPC_TIMEDOUT;
	struct timeval	tv;
	uint64_t	now, wait_ms = 50, left;
	u_int32_t	xid = 0;
	int		first = 1;

	while ((now = util_now_us()) < deadline) {
		left = (deadline - now) / 1000;
		if (left == 0)
			break;
		tv = ms_tv(wait_ms < left ? wait_ms : left);
		clnt_control(c->cl, CLSET_RETRY_TIMEOUT, (char *)&tv);
		clnt_control(c->cl, CLSET_TIMEOUT, (char *)&tv);
		if (!first)
			clnt_control(c->cl, CLSET_XID, (char *)&xid);
		st = clnt_call(c->cl, proc, xa, a, xr, r, tv);
		if (first) {
			clnt_control(c->cl, CLGET_XID, (char *)&xid);
			first = 0;
		}
		if (st == RPC_CANTSEND)	/* e.g. EPERM from a firewall */
			usleep((useconds_t)(wait_ms < left ? wait_ms : left) *
			    1000);
		else if (st != RPC_TIMEDOUT)
			break;
		wait_ms = wait_ms * 3 / 2;
		if (wait_ms > 1000)
			wait_ms = 1000;
	}
	return st;
}

/*
 * One call, within the -t budget.  A call that carries a request
 * identity (RESEND) is sent again after a broken TCP connection, after
 * reconnecting (the daemon may be restarting): the server answers a
 * resend with the first result, so the effect happens once.
 */
int
conn_call(struct conn *c, rpcproc_t proc, xdrproc_t xa, void *a,
    xdrproc_t xr, void *r, int resend)
{
	struct timeval	tv;
	enum clnt_stat	st;
	uint64_t	deadline, now;
	int		quiet = c->quiet, rc, budget = c->timeout_s;

	deadline = util_now_us() + (uint64_t)c->timeout_s * 1000000;
	if (c->cl == NULL)
		return call_error(c, RPC_CANTSEND);
	if (is_datagram(c))
		st = call_dgram(c, proc, xa, a, xr, r, deadline);
	else {
		tv.tv_sec = c->timeout_s;
		tv.tv_usec = 0;
		st = clnt_call(c->cl, proc, xa, a, xr, r, tv);
	}
	if (st == RPC_SUCCESS)
		return 0;
	if (!resend || (st != RPC_CANTSEND && st != RPC_CANTRECV))
		return call_error(c, st);
	/*
	 * Reconnect until the deadline and send the same call again.  The
	 * identity makes a repeat harmless, so a connection that breaks
	 * once more (a daemon still starting, or dying again) is retried.
	 */
	while ((now = util_now_us()) < deadline) {
		conn_close(c);
		c->quiet = 1;
		rc = conn_open(c, c->host, c->want, 1);
		c->quiet = quiet;
		c->timeout_s = budget;
		if (rc != 0) {
			usleep(200000);
			continue;
		}
		/* The whole rest of the budget (CLSET_TIMEOUT wins). */
		tv.tv_sec = (time_t)((deadline - now) / 1000000) + 1;
		tv.tv_usec = 0;
		clnt_control(c->cl, CLSET_TIMEOUT, (char *)&tv);
		xdr_free(xr, r);
		st = clnt_call(c->cl, proc, xa, a, xr, r, tv);
		if (st == RPC_SUCCESS)
			return 0;
		if (st != RPC_CANTSEND && st != RPC_CANTRECV)
			break;
		usleep(100000);
	}
	return call_error(c, st);
}

/* Print a refusal from the server; the exit code says what kind. */
int
conn_status(struct conn *c, bart_status st)
{
	if (st == BART_OK)
		return 0;
	say(c, "%s", util_status_str(st));
	switch (st) {
	case BART_ESTORE:
		return EX_IOERR;
	case BART_EUNAVAIL:
		return EX_OSERR;
	case BART_EUNKNOWN:
	case BART_ERATE:
		return EX_TEMPFAIL;
	case BART_EUSESTREAM:
	case BART_ECBRPCBIND:
	case BART_ECBNOTREG:
	case BART_ECBNOANSWER:
	case BART_ETOOMANY:
	case BART_ECBDROPPED:
		return EX_UNAVAILABLE;
	default:
		return EX_DATAERR;
	}
}
