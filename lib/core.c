/* SPDX-License-Identifier: ISC */
/*
 * core.c: libbart's connection and call engine.  Finds the server
 * through rpcbind (or a fast path on this host), calls it within the
 * handle's timeout with resends that keep exactly-once, and turns every
 * libtirpc failure into an error number and one sentence in plain words.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <rpc/rpc.h>
#include <rpc/rpcb_prot.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib.h"
#include "stream.h"

#define LOCAL_SOCK	"/run/bart/bart_svc.sock"	/* bart_svc's default */

/* Record ERR and its words on B; returns ERR. */
int
lib_fail(struct bart *b, int err, const char *fmt, ...)
{
	va_list	ap;

	b->err = err;
	va_start(ap, fmt);
	vsnprintf(b->msg, sizeof(b->msg), fmt, ap);
	va_end(ap);
	return err;
}

static int
ok(struct bart *b)
{
	b->err = 0;
	b->msg[0] = '\0';
	return 0;
}

/* "2 s", "0.5 s": the timeout as the user gave it. */
static const char *
tmo_str(const struct bart *b, char *buf, size_t len)
{
	snprintf(buf, len, "%g s", b->said_ms / 1000.0);
	return buf;
}

static struct timeval
ms_tv(uint64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

static int
is_dgram(const char *netid)
{
	return strcmp(netid, "udp") == 0 || strcmp(netid, "udp6") == 0;
}

/* Is HOST this machine, so that the AF_UNIX transport reaches it? */
int
lib_is_local(const char *host)
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

/* What to connect to: the list entry's address, or the name itself. */
static const char *
conn_host(const struct bart *b)
{
	if (b->nlist > 0 && b->list[b->cur].addr[0] != '\0')
		return b->list[b->cur].addr;
	return b->host;
}

/* How long opening one host may take: its share when there is a list. */
static unsigned int
open_ms(const struct bart *b)
{
	return b->nlist > 1 ? b->share_ms : b->timeout_ms;
}

/* Does rpcbind still list us?  Then the daemon died (stale entry). */
static int
registered_anyway(struct bart *b, const char *netid)
{
	struct sockaddr_storage	 ss;
	struct netbuf		 nb;
	struct netconfig	*nc;
	int			 yes;

	if ((nc = getnetconfigent(netid)) == NULL)
		return 0;
	nb.buf = &ss;
	nb.maxlen = sizeof(ss);
	nb.len = 0;
	yes = rpcb_getaddr(BART_PROG, BART_VERS, nc, &nb,
	    strcmp(netid, "local") == 0 ? "localhost" : conn_host(b));
	freenetconfigent(nc);
	return yes;
}

static int
create_error(struct bart *b, const char *netid)
{
	enum clnt_stat	cf = rpc_createerr.cf_stat;

	switch (cf) {
	case RPC_UNKNOWNHOST:
		return lib_fail(b, BART_ERR_NOHOST, "unknown host");
	case RPC_PROGNOTREGISTERED:
		return lib_fail(b, BART_ERR_NOTREG, "bart is not registered "
		    "with rpcbind for %s (is bart_svc running?)", netid);
	case RPC_PROGVERSMISMATCH:
		return lib_fail(b, BART_ERR_VERSION,
		    "the server speaks another protocol version");
	case RPC_UNKNOWNPROTO:
		return lib_fail(b, BART_ERR_NETID,
		    "transport '%s' is not available", netid);
	case RPC_TIMEDOUT:
		return lib_fail(b, BART_ERR_RPCBIND_TIMEDOUT, "no answer from "
		    "rpcbind (host down or filtered?)");
	default:
		if (registered_anyway(b, netid))
			return lib_fail(b, BART_ERR_DEAD, "bart is registered "
			    "with rpcbind but does not answer (bart_svc died? "
			    "restart it)");
		return lib_fail(b, BART_ERR_NORPCBIND, "cannot reach rpcbind "
		    "(is rpcbind running?): %s", clnt_sperrno(cf));
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
CLIENT *
lib_fd_client(int fd, struct netconfig *nc, void *sa, socklen_t len,
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
local_port(const char *netid, unsigned int timeout_ms)
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
	    (rb = lib_fd_client(fd, lnc, &sun, sizeof(sun), RPCBPROG,
	    RPCBVERS)) == NULL)
		goto out;
	tv = ms_tv(timeout_ms);
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
fast_local(struct bart *b, const char *netid, struct netconfig *nc)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 fd, port, af, dgram;

	if (strcmp(nc->nc_protofmly, NC_LOOPBACK) == 0) {
		if ((fd = unix_connect(LOCAL_SOCK, &sun)) == -1)
			return NULL;
		return lib_fd_client(fd, nc, &sun, sizeof(sun), BART_PROG,
		    BART_VERS);
	}
	if ((port = local_port(netid, b->timeout_ms)) == 0)
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
	return lib_fd_client(fd, nc, &ss, len, BART_PROG, BART_VERS);
}

/* Remember where the server is: chat accepts DELIVER only from there. */
static void
note_server(struct bart *b, CLIENT *cl)
{
	struct netbuf	nb;

	memset(&nb, 0, sizeof(nb));
	b->serverlen = 0;
	if (!clnt_control(cl, CLGET_SVC_ADDR, (char *)&nb) ||
	    nb.buf == NULL || nb.len == 0 || nb.len > sizeof(b->server))
		return;
	memcpy(&b->server, nb.buf, nb.len);
	if (b->server.ss_family == AF_INET || b->server.ss_family == AF_INET6)
		b->serverlen = nb.len;
}

static int
open_netid(struct bart *b, struct link *l, const char *netid)
{
	struct netconfig	*nc;
	struct timeval		 tv;
	const char		*host = conn_host(b);
	char			 t[32];
	int			 silent = 0;

	/* An IPv6 literal needs the IPv6 twin of tcp or udp. */
	if (strchr(host, ':') != NULL && (strcmp(netid, "tcp") == 0 ||
	    strcmp(netid, "udp") == 0))
		snprintf(l->netid, sizeof(l->netid), "%s6", netid);
	else
		snprintf(l->netid, sizeof(l->netid), "%s", netid);
	netid = l->netid;
	if ((nc = getnetconfigent(netid)) == NULL)
		return lib_fail(b, BART_ERR_NETID, "unknown transport '%s' "
		    "(use tcp, udp or local)", netid);
	tv = ms_tv(open_ms(b));
	if (strcmp(netid, "local") == 0)
		host = "localhost";
	if (lib_is_local(host))
		l->cl = fast_local(b, netid, nc);
	/* Another host over a stream: every step within the time. */
	else if (nc->nc_semantics != NC_TPI_CLTS)
		l->cl = stream_open(host, nc, open_ms(b), &silent);
	if (l->cl == NULL && !silent && (lib_is_local(host) ||
	    nc->nc_semantics == NC_TPI_CLTS))
		l->cl = clnt_tp_create_timed(host, BART_PROG, BART_VERS, nc,
		    &tv);
	freenetconfigent(nc);
	if (l->cl == NULL && silent)
		return lib_fail(b, BART_ERR_NOANSWER, "rpcbind names bart's %s "
		    "port, but it does not answer within %s (host down or "
		    "the port filtered?)", netid, (snprintf(t, sizeof(t),
		    "%g s", open_ms(b) / 1000.0), t));
	if (l->cl == NULL)
		return create_error(b, netid);
	tv = ms_tv(b->timeout_ms);
	clnt_control(l->cl, CLSET_TIMEOUT, (char *)&tv);
	if (l == &b->main)
		note_server(b, l->cl);
	return ok(b);
}

/* Open b->main to b->host: the transport asked for, or the best. */
static int
open_host(struct bart *b)
{
	enum clnt_stat	cf;
	char		saved[sizeof(b->msg)];
	int		rc;

	if (b->want[0] != '\0')
		return open_netid(b, &b->main, b->want);
	if (lib_is_local(b->host) && open_netid(b, &b->main, "local") == 0)
		return 0;
	/* A name with only IPv6 addresses is unknown to "tcp": try tcp6. */
	rc = open_netid(b, &b->main, "tcp");
	if (rc == BART_ERR_NOHOST && strchr(b->host, ':') == NULL) {
		cf = rpc_createerr.cf_stat;
		memcpy(saved, b->msg, sizeof(saved));
		if (open_netid(b, &b->main, "tcp6") == 0)
			return 0;
		rpc_createerr.cf_stat = cf;
		b->err = rc;
		memcpy(b->msg, saved, sizeof(saved));
		snprintf(b->main.netid, sizeof(b->main.netid), "tcp");
	}
	return rc;
}

static void
link_close(struct link *l)
{
	if (l->cl != NULL)
		clnt_destroy(l->cl);
	l->cl = NULL;
}

/* A list's last failure, saying which host it was. */
static int
list_fail(struct bart *b, int rc)
{
	char	msg[sizeof(b->msg)];

	memcpy(msg, b->msg, sizeof(msg));
	return lib_fail(b, rc, "no server of the list answered (%s: %s)",
	    b->host, msg);
}

/*
 * Move on to the next host of the list (after the last: the first
 * again); the connection is made by the next call.  -1 without a list.
 */
int
lib_move(struct bart *b)
{
	if (b->nlist <= 1)
		return -1;
	link_close(&b->main);
	link_close(&b->stream);
	b->cur = (b->cur + 1) % b->nlist;
	memcpy(b->host, b->list[b->cur].name, sizeof(b->host));
	return 0;
}

/*
 * Open list entry I within what is left of the time from START (in
 * us): its share, or less near the end, so that trying the entries one
 * after another keeps to the timeout even with the 100 ms floor.
 * OPEN_LATE when no time is left (the last failure's words stay).
 */
#define OPEN_LATE	(-1000)
static int
open_entry(struct bart *b, unsigned int i, uint64_t start)
{
	uint64_t	used = (util_now_us() - start) / 1000;
	unsigned int	share = b->share_ms;
	int		rc;

	if (used >= b->timeout_ms)
		return OPEN_LATE;
	b->cur = i;
	memcpy(b->host, b->list[i].name, sizeof(b->host));
	if (b->timeout_ms - used < share)
		b->share_ms = (unsigned int)(b->timeout_ms - used);
	rc = open_host(b);
	b->share_ms = share;
	return rc;
}

/*
 * Reconnect: to the one host, or to the host in use of a list and, if it
 * does not answer, to the others in their order, all within the timeout.
 */
int
lib_reopen(struct bart *b)
{
	uint64_t	start = util_now_us();
	unsigned int	i, first = b->cur;
	int		rc = BART_ERR_TIMEDOUT;

	link_close(&b->main);
	link_close(&b->stream);
	if (b->nlist <= 1)
		return open_host(b);
	for (i = 0; i < b->nlist; i++) {
		if ((rc = open_entry(b, (first + i) % b->nlist, start)) == 0)
			return 0;
		if (rc == OPEN_LATE)
			return b->err;
	}
	return rc;
}

/*
 * Reconnect as a new start (a chat session moving on): finding a host
 * and the first call there share one timeout, as bart_open and the
 * first call after it do.
 */
int
lib_restart(struct bart *b)
{
	uint64_t	start = util_now_us();
	int		rc;

	if ((rc = lib_reopen(b)) == 0)
		b->spent_ms = (unsigned int)((util_now_us() - start) / 1000);
	return rc;
}

/* The address family a list entry's name is resolved in, or 0: none. */
static int
list_family(const struct bart *b)
{
	if (strcmp(b->want, "local") == 0)
		return 0;
	if (strcmp(b->want, "tcp6") == 0 || strcmp(b->want, "udp6") == 0)
		return AF_INET6;
	return AF_INET;		/* "" and tcp, udp; "" falls back to v6 */
}

/* NAME's addresses in FAMILY (AF_INET6 too for "": v6-only names). */
static int
resolve(const struct bart *b, const char *name, char addrs[][64], int max)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 buf[64];
	int		 n = 0, i, fam, dup;

	if ((fam = list_family(b)) == 0 || lib_is_local(name))
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = fam;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, NULL, &hints, &res) != 0) {
		if (b->want[0] != '\0')
			return 0;
		hints.ai_family = AF_INET6;
		if (getaddrinfo(name, NULL, &hints, &res) != 0)
			return 0;
	}
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, sizeof(buf),
		    NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		for (i = 0, dup = 0; i < n; i++)
			dup |= strcmp(addrs[i], buf) == 0;
		if (!dup)
			snprintf(addrs[n++], 64, "%s", buf);
	}
	freeaddrinfo(res);
	return n;
}

/*
 * HOSTS, one name or "a,b,c", into the list: one entry per address of
 * each name, in order (a name with several addresses counts as a list).
 * One name with one address stays the name alone, exactly as always.
 */
static int
list_make(struct bart *b, const char *hosts)
{
	char		 names[LIB_HOSTS_MAX][256];
	char		 addrs[LIB_HOSTS_MAX][64];
	const char	*p, *comma;
	size_t		 len;
	int		 nn = 0, na, i, j;

	for (p = hosts; *p != '\0'; p = *comma ? comma + 1 : comma) {
		if ((comma = strchr(p, ',')) == NULL)
			comma = p + strlen(p);
		len = (size_t)(comma - p);
		if (len == 0 || len >= sizeof(names[0]) ||
		    nn == LIB_HOSTS_MAX)
			continue;
		memcpy(names[nn], p, len);
		names[nn++][len] = '\0';
	}
	b->nlist = 0;
	for (i = 0; i < nn && b->nlist < LIB_HOSTS_MAX; i++) {
		na = nn == 1 ? resolve(b, names[i], addrs, LIB_HOSTS_MAX) :
		    resolve(b, names[i], addrs,
		    (int)(LIB_HOSTS_MAX - b->nlist));
		if (nn == 1 && na <= 1)
			na = 0;		/* one host: the name, as always */
		if (na == 0) {
			memcpy(b->list[b->nlist].name, names[i], 256);
			b->list[b->nlist++].addr[0] = '\0';
		}
		for (j = 0; j < na && b->nlist < LIB_HOSTS_MAX; j++) {
			memcpy(b->list[b->nlist].name, names[i], 256);
			memcpy(b->list[b->nlist++].addr, addrs[j], 64);
		}
	}
	b->share_ms = b->nlist > 1 ? b->timeout_ms / b->nlist : b->timeout_ms;
	if (b->share_ms < 100)
		b->share_ms = b->timeout_ms < 100 ? b->timeout_ms : 100;
	return nn;
}

int
bart_open(struct bart **bp, const char *hosts, const char *netid,
    unsigned int timeout_ms)
{
	struct bart	*b;
	uint64_t	 start = util_now_us();
	unsigned int	 i;
	int		 rc = BART_ERR_USAGE, r;

	if ((*bp = b = calloc(1, sizeof(*b))) == NULL)
		return BART_ERR_NOMEM;
	b->timeout_ms = timeout_ms == 0 ? 5000 : timeout_ms;
	b->said_ms = b->timeout_ms;
	b->client_id = util_random_u64();
	b->next_seq = 1;
	if (hosts == NULL || *hosts == '\0' ||
	    strlen(hosts) >= sizeof(b->hosts))
		return lib_fail(b, BART_ERR_USAGE, "no host given");
	snprintf(b->hosts, sizeof(b->hosts), "%s", hosts);
	if (netid != NULL) {
		if (strlen(netid) >= sizeof(b->want))
			return lib_fail(b, BART_ERR_NETID,
			    "unknown transport '%s'", netid);
		snprintf(b->want, sizeof(b->want), "%s", netid);
	}
	/* A list: the first that answers; its error words for the last. */
	if (list_make(b, hosts) == 0)
		return lib_fail(b, BART_ERR_USAGE, "no host given");
	/*
	 * The search and the first call share the timeout: a one-shot
	 * command (open, one call) keeps to -t however long the search took.
	 */
	for (i = 0; i < b->nlist; i++) {
		if ((r = open_entry(b, i, start)) == OPEN_LATE)
			break;
		if ((rc = r) == 0) {
			b->spent_ms = (unsigned int)((util_now_us() - start) /
			    1000);
			return 0;
		}
		if (rc == BART_ERR_NETID || rc == BART_ERR_USAGE)
			break;
	}
	return b->nlist > 1 ? list_fail(b, rc) : rc;
}

void
bart_close(struct bart *b)
{
	if (b == NULL)
		return;
	link_close(&b->main);
	link_close(&b->stream);
	free(b);
}

const char *
bart_errmsg(const struct bart *b)
{
	if (b == NULL)
		return bart_strerror(BART_ERR_NOMEM);
	if (b->msg[0] == '\0')
		return bart_strerror(b->err);
	return b->msg;
}

const char *
bart_host(const struct bart *b)
{
	return b->host[0] != '\0' ? b->host : b->hosts;
}

const char *
bart_netid(const struct bart *b)
{
	return b->main.netid;
}

const char *
bart_strerror(int err)
{
	if (err > 0 && err <= BART_ERR_SERVER_MAX)
		return util_status_str((bart_status)err);
	switch (err) {
	case BART_ERR_OK:
		return "success";
	case BART_ERR_USAGE:
		return "invalid argument to a libbart call";
	case BART_ERR_NETID:
		return "unknown or unavailable transport";
	case BART_ERR_NOHOST:
		return "unknown host";
	case BART_ERR_NOTREG:
		return "bart is not registered with rpcbind";
	case BART_ERR_NORPCBIND:
		return "cannot reach rpcbind";
	case BART_ERR_RPCBIND_TIMEDOUT:
		return "no answer from rpcbind";
	case BART_ERR_DEAD:
		return "bart is registered but does not answer";
	case BART_ERR_VERSION:
		return "the server speaks another protocol version";
	case BART_ERR_TIMEDOUT:
		return "no answer within the timeout";
	case BART_ERR_NOANSWER:
		return "no answer: bart_svc is not reachable";
	case BART_ERR_LOST:
		return "connection to the server lost";
	case BART_ERR_PROC:
		return "the server does not offer this call";
	case BART_ERR_DECODE:
		return "the server could not decode the call";
	case BART_ERR_RPC:
		return "RPC failure";
	case BART_ERR_NOMEM:
		return "out of memory";
	case BART_ERR_SYSTEM:
		return "system call failed";
	case BART_ERR_CALLBACK:
		return "cannot register a callback program with the local "
		    "rpcbind";
	}
	return "unknown error";
}

size_t
bart_escape(const char *s, char *buf, size_t len)
{
	return util_escape(s, buf, len);
}

/* A fresh identity for a call that changes state. */
void
lib_reqid(struct bart *b, bart_reqid *id)
{
	id->client = b->client_id;
	id->seq = b->next_seq++;
}

static int
call_error(struct bart *b, const char *netid, enum clnt_stat st,
    int changes)
{
	char	t[32];

	switch (st) {
	case RPC_TIMEDOUT:
		if (changes)
			return lib_fail(b, BART_ERR_TIMEDOUT, "no answer within "
			    "%s: the change may or may not have landed (look "
			    "with count 0 or history)", tmo_str(b, t,
			    sizeof(t)));
		return lib_fail(b, BART_ERR_TIMEDOUT, "no answer within %s",
		    tmo_str(b, t, sizeof(t)));
	case RPC_CANTSEND:
	case RPC_CANTRECV:
		/* UDP has no connection: a refused datagram is no daemon. */
		if (is_dgram(netid))
			return lib_fail(b, BART_ERR_NOANSWER, "no answer over "
			    "%s: bart_svc is not reachable (not running?)",
			    netid);
		return lib_fail(b, BART_ERR_LOST,
		    "connection to the server lost");
	case RPC_PROCUNAVAIL:
	case RPC_PROGVERSMISMATCH:
	case RPC_PROGUNAVAIL:
		return lib_fail(b, BART_ERR_PROC, "the server does not offer "
		    "this call: %s", clnt_sperrno(st));
	case RPC_CANTDECODEARGS:
		return lib_fail(b, BART_ERR_DECODE, "the server could not "
		    "decode the call (argument too long?)");
	default:
		return lib_fail(b, BART_ERR_RPC, "call failed: %s",
		    clnt_sperrno(st));
	}
}

/*
 * UDP: resend a lost call after 50 ms, growing by half each time up to
 * 1 s, until the deadline (libtirpc would wait seconds).  Every resend
 * keeps the first xid, so the server's duplicate request cache answers
 * it without executing it again.
 */
static enum clnt_stat
call_dgram(CLIENT *cl, rpcproc_t proc, xdrproc_t xa, void *a,
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
		clnt_control(cl, CLSET_RETRY_TIMEOUT, (char *)&tv);
		clnt_control(cl, CLSET_TIMEOUT, (char *)&tv);
		if (!first)
			clnt_control(cl, CLSET_XID, (char *)&xid);
		st = clnt_call(cl, proc, xa, a, xr, r, tv);
		if (first) {
			clnt_control(cl, CLGET_XID, (char *)&xid);
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

/* Which failures mean "this server does not answer: try the next". */
static int
moves_on(enum clnt_stat st)
{
	return st == RPC_TIMEDOUT || st == RPC_CANTSEND ||
	    st == RPC_CANTRECV || st == RPC_PROGUNAVAIL;
}

/*
 * One call through a host list within the timeout.  Each host gets its
 * share of it (timeout / hosts); one that cannot be reached, breaks the
 * connection or stays silent for its share is left for the next, and
 * the same call goes there, with the same request identity, so the
 * shared store applies it once whichever server gets it.  After the
 * last host the first is tried again, while time is left.
 */
static int
list_call(struct bart *b, rpcproc_t proc, xdrproc_t xa, void *a,
    xdrproc_t xr, void *r, int resend)
{
	struct timeval	tv;
	enum clnt_stat	st;
	uint64_t	deadline, now, slice;
	unsigned int	tried = 0, failed = b->cur, share, sent = 0;
	int		rc = BART_ERR_TIMEDOUT, sent_rc = 0;
	char		sent_msg[sizeof(b->msg)];

	deadline = util_now_us() + (uint64_t)b->timeout_ms * 1000;
	lib_fail(b, rc, "no answer within the timeout");
	while ((now = util_now_us()) < deadline) {
		slice = (deadline - now) / 1000;
		if (slice > b->share_ms)
			slice = b->share_ms;
		if (slice == 0)
			break;
		/* Connecting, too, within the slice: the deadline holds. */
		if (b->main.cl == NULL) {
			share = b->share_ms;
			b->share_ms = (unsigned int)slice;
			rc = open_host(b);
			b->share_ms = share;
			if (rc == BART_ERR_NETID || rc == BART_ERR_USAGE)
				return rc;
			if (rc != 0)
				goto next;
		}
		tv = ms_tv(slice);
		clnt_control(b->main.cl, CLSET_TIMEOUT, (char *)&tv);
		if (tried > 0)
			xdr_free(xr, r);
		if (is_dgram(b->main.netid))
			st = call_dgram(b->main.cl, proc, xa, a, xr, r,
			    now + slice * 1000);
		else
			st = stream_call(b->main.cl, proc, xa, a, xr, r,
			    now + slice * 1000);
		if (st == RPC_SUCCESS)
			return ok(b);
		rc = call_error(b, b->main.netid, st, resend);
		if (!moves_on(st))
			return rc;
		/*
		 * A change that may have reached this server and got no
		 * answer: its outcome stays unknown whatever the next hosts
		 * say without answering (a silent rpcbind tells nothing).
		 */
		if (resend && (st == RPC_TIMEDOUT || st == RPC_CANTRECV)) {
			sent = b->cur;
			sent_rc = rc;
			memcpy(sent_msg, b->msg, sizeof(sent_msg));
		}
	next:
		failed = b->cur;
		(void)lib_move(b);
		/* Every host failed once: a pause before the next round. */
		if (++tried % b->nlist == 0 && (now = util_now_us()) < deadline)
			usleep(deadline - now > 200000 ? 200000 :
			    (useconds_t)(deadline - now));
	}
	if (sent_rc != 0) {
		failed = sent;
		rc = sent_rc;
		memcpy(b->msg, sent_msg, sizeof(b->msg));
	}
	/* The error names the host that failed, not the one moved to. */
	memcpy(b->host, b->list[failed].name, sizeof(b->host));
	return list_fail(b, rc);
}

/*
 * One call on link L within the timeout.  A call that carries a request
 * identity (RESEND) is sent again after a broken TCP connection, after
 * reconnecting (the daemon may be restarting): the server answers a
 * resend with the first result, so the effect happens once.
 */
static int
link_call(struct bart *b, struct link *l, rpcproc_t proc, xdrproc_t xa,
    void *a, xdrproc_t xr, void *r, int resend)
{
	enum clnt_stat	st;
	uint64_t	deadline, now;
	unsigned int	budget = b->timeout_ms;
	int		rc;

	if (b->nlist > 1 && l == &b->main)
		return list_call(b, proc, xa, a, xr, r, resend);
	deadline = util_now_us() + (uint64_t)b->timeout_ms * 1000;
	if (l->cl == NULL && lib_reopen(b) != 0)
		return b->err;
	if (is_dgram(l->netid))
		st = call_dgram(l->cl, proc, xa, a, xr, r, deadline);
	else
		st = stream_call(l->cl, proc, xa, a, xr, r, deadline);
	if (st == RPC_SUCCESS)
		return ok(b);
	if (!resend || l != &b->main ||
	    (st != RPC_CANTSEND && st != RPC_CANTRECV))
		return call_error(b, l->netid, st, resend);
	/*
	 * Reconnect until the deadline and send the same call again.  The
	 * identity makes a repeat harmless, so a connection that breaks
	 * once more (a daemon still starting, or dying again) is retried.
	 */
	while ((now = util_now_us()) < deadline) {
		b->timeout_ms = 1000;
		rc = lib_reopen(b);
		b->timeout_ms = budget;
		if (rc != 0) {
			usleep(200000);
			continue;
		}
		xdr_free(xr, r);
		if (is_dgram(l->netid))
			st = call_dgram(l->cl, proc, xa, a, xr, r, deadline);
		else
			st = stream_call(l->cl, proc, xa, a, xr, r, deadline);
		if (st == RPC_SUCCESS)
			return ok(b);
		if (st != RPC_CANTSEND && st != RPC_CANTRECV)
			break;
		usleep(100000);
	}
	return call_error(b, l->netid, st, resend);
}

/*
 * The first call after bart_open (or a chat session's move) gets what
 * the search for a host left of the timeout, so that open and call
 * together keep to it (at least FIRST_MIN_MS, for the answer to come
 * back).  Sets b->timeout_ms to this call's budget; returns the value
 * to put back.
 */
#define FIRST_MIN_MS	100
static unsigned int
budget_take(struct bart *b)
{
	unsigned int	full = b->timeout_ms;

	if (b->spent_ms > 0) {
		if (full >= b->spent_ms + FIRST_MIN_MS)
			b->timeout_ms = full - b->spent_ms;
		else if (full > FIRST_MIN_MS)
			b->timeout_ms = FIRST_MIN_MS;
		b->spent_ms = 0;
	}
	return full;
}

int
lib_call(struct bart *b, rpcproc_t proc, xdrproc_t xa, void *a,
    xdrproc_t xr, void *r, int resend)
{
	unsigned int	full = budget_take(b);
	int		rc;

	rc = link_call(b, &b->main, proc, xa, a, xr, r, resend);
	b->timeout_ms = full;
	return rc;
}

/*
 * A change (count, say, a chat line), sent with its request identity by
 * lib_call, whose resends after a broken connection (and, with a host
 * list, to the next host) keep it; then by its answer:
 * - BART_EUNKNOWN: the server could not tell whether its commit landed.
 *   The same call again, same identity, lets the identity table tell:
 *   the first answer if it was stored, or it is stored now, once.  Up to
 *   UNKNOWN_TRIES more tries, 100, 200, 300 ms apart (a list: at once,
 *   to the next host).
 * - BART_EUNAVAIL with a host list: that server's database is away;
 *   the next host may have its own way to it.  Each host once.
 * All within the one timeout.  *ST is the status field of R.  Returns 0
 * with R decoded (the caller reads *ST), or the error; BART_ERR_UNKNOWN
 * when a resend after BART_EUNKNOWN failed or was refused (say
 * BART_EUNAVAIL from the next host: that one did not look, so the
 * first outcome is still unknown; only an answer of BART_OK tells).
 */
/*
 * A change told BART_EUNKNOWN whose resend then failed, or was refused
 * without the identity table being asked: WHY says how.
 */
static int
unknown_fail(struct bart *b, const char *why)
{
	char	msg[sizeof(b->msg)];

	/* The words before "; nothing was changed": that is not known. */
	snprintf(msg, sizeof(msg), "%s", why);
	msg[strcspn(msg, ";")] = '\0';
	return lib_fail(b, BART_ERR_UNKNOWN, "the server could not confirm "
	    "its commit, and the call sent again failed (%s): the change "
	    "may or may not be stored", msg);
}

#define UNKNOWN_TRIES	3
static int
change_call(struct bart *b, rpcproc_t proc, xdrproc_t xa, void *a,
    xdrproc_t xr, void *r, const bart_status *st)
{
	uint64_t	deadline, now, pause;
	unsigned int	budget = b->timeout_ms, unavail = 0;
	int		try = 0, rc, was_unknown, ever_unknown = 0;

	deadline = util_now_us() + (uint64_t)budget * 1000;
	if ((rc = lib_call(b, proc, xa, a, xr, r, 1)) != 0)
		return rc;
	for (;;) {
		was_unknown = *st == BART_EUNKNOWN;
		ever_unknown |= was_unknown;
		if (*st == BART_EUNAVAIL && b->nlist > 1 &&
		    ++unavail < b->nlist)
			pause = 0;
		else if (was_unknown && ++try <= UNKNOWN_TRIES)
			pause = b->nlist > 1 ? 0 : (uint64_t)try * 100000;
		else
			break;
		/* Each try needs time for its answer (~100 ms at least). */
		if ((now = util_now_us()) + pause + 100000 >= deadline)
			break;
		if (pause > 0)
			usleep((useconds_t)pause);
		(void)lib_move(b);	/* a list: the next host */
		xdr_free(xr, r);
		b->timeout_ms = (unsigned int)((deadline - now - pause) / 1000);
		rc = lib_call(b, proc, xa, a, xr, r, 1);
		b->timeout_ms = budget;
		if (rc != 0 && ever_unknown)
			return unknown_fail(b, b->msg);
		if (rc != 0)
			return rc;
	}
	if (ever_unknown && *st != BART_OK && *st != BART_EUNKNOWN)
		return unknown_fail(b, util_status_str(*st));
	return 0;
}

int
lib_change(struct bart *b, rpcproc_t proc, xdrproc_t xa, void *a,
    xdrproc_t xr, void *r, const bart_status *st)
{
	unsigned int	full = budget_take(b);
	int		rc;

	rc = change_call(b, proc, xa, a, xr, r, st);
	b->timeout_ms = full;
	return rc;
}

/* A refusal from the server, in the server's words. */
int
lib_status(struct bart *b, bart_status st)
{
	if (st == BART_OK)
		return ok(b);
	return lib_fail(b, (int)st > 0 && (int)st <= BART_ERR_SERVER_MAX ? (int)st :
	    BART_ERR_SERVER_MAX, "%s", util_status_str(st));
}

/*
 * CHAT_SINCE.  A server that keeps UDP replies small answers a history
 * request with BART_EUSESTREAM: ask again over the stream twin of the
 * transport (udp: tcp, udp6: tcp6), kept open for the next ones.
 */
int
lib_since(struct bart *b, uint64_t seq, unsigned int max,
    chat_since_res *r)
{
	chat_since_args	a;
	int		rc;

	a.seq = seq;
	a.max = max;
	memset(r, 0, sizeof(*r));
	if (b->stream.cl == NULL) {
		if ((rc = lib_call(b, CHAT_SINCE,
		    (xdrproc_t)xdr_chat_since_args, &a,
		    (xdrproc_t)xdr_chat_since_res, r, 0)) != 0)
			return rc;
		if (r->status != BART_EUSESTREAM || !is_dgram(b->main.netid))
			return lib_status(b, r->status);
		xdr_free((xdrproc_t)xdr_chat_since_res, (char *)r);
		memset(r, 0, sizeof(*r));
		if ((rc = open_netid(b, &b->stream,
		    strcmp(b->main.netid, "udp6") == 0 ? "tcp6" : "tcp")) != 0)
			return lib_fail(b, rc, "history needs a stream "
			    "transport, and tcp failed: %s", b->msg);
	}
	if ((rc = link_call(b, &b->stream, CHAT_SINCE,
	    (xdrproc_t)xdr_chat_since_args, &a,
	    (xdrproc_t)xdr_chat_since_res, r, 0)) != 0) {
		link_close(&b->stream);
		return rc;
	}
	return lib_status(b, r->status);
}
