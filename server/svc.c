/*
 * svc.c: bart's transports (tcp, udp, their IPv6 twins, and AF_UNIX),
 * their rpcbind registrations, the connection limits, and the poll()
 * loop that replaces svc_run() so that signals, timers and
 * re-registration share it.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <rpc/rpc.h>
#include <rpc/rpc_com.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "proc.h"
#include "svc.h"
#include "util.h"

#define LOOP_TICK_MS		500
#define REREG_EVERY_US		2000000		/* rpcbind restart check */
#define PRUNE_EVERY_US		60000000
#define REQ_REMEMBER_SECS	600		/* request identities ... */
#define REQ_REMEMBER_MAX	100000		/* ... at most this many */
/*
 * The largest call record we accept.  The largest legitimate call,
 * CHAT_SEND with both strings at their wire bound and 400-byte
 * credentials and verifier, is under 2.5 KB; a bigger record closes
 * the connection.  It also bounds what a half-sent record can make us
 * buffer: MAX_RECORD per connection.
 */
#define MAX_RECORD		(16 * 1024)
#define CONNS_DEFAULT		1024		/* --max-conns */
#define CONNS_PEER_DEFAULT	64		/* --max-conns-per-peer */
#define FD_RESERVE		16	/* store, listeners, rpcbind calls */
#define CAP_LOG_EVERY_US	10000000

/* libtirpc's private idle sweeper; rpcbind calls it the same way. */
extern bool_t __svc_clean_idle(fd_set *, int, bool_t);

/*
 * One accepted TCP or AF_UNIX connection, indexed by its fd.  libtirpc
 * owns the connection; we only watch it.  The socket's inode tells a
 * reused fd number from the connection we knew.
 */
struct conn {
	ino_t		 ino;		/* 0: no connection known here */
	int		 af;		/* of the peer */
	unsigned char	 key[16];	/* peer IPv4, IPv6 /64, or uid */
	uint64_t	 last_call;	/* accept, then each dispatched call */
	int		 shut;		/* shut down; libtirpc will reap it */
	int		 touched;	/* readable this turn */
	int		 seen;
};

/*
 * A copy of the datagram libtirpc is about to read on a UDP transport.
 * UDP_SEEN is libtirpc's UDP buffer (RPC_MAXDATASIZE + 800 = 8800):
 * it sees no more of a datagram than that.
 */
#define UDP_SEEN	8800
struct dgram {
	int		 fd;		/* -1: none this turn */
	size_t		 len;
	unsigned char	 buf[UDP_SEEN];
};

struct conns {
	struct dgram	 dg[SVC_MAX_XPRT];
	struct conn	*c;
	int		 cap;		/* entries in c */
	unsigned int	 live;		/* known and not shut down */
	unsigned int	 max, per_peer;
	int		 idle_secs;
	int		 spare;		/* kept free for EMFILE */
	uint64_t	 evicted, shed, next_log;
};

/* libtirpc's dispatch callback has no context argument. */
static struct conns	*conns;

static const char *const netids[] = { "tcp", "udp", "tcp6", "udp6",
    "local" };

static int
open_inet(struct env *e, struct netconfig *nc)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	int			 fd, af, type, on = 1;

	af = strcmp(nc->nc_protofmly, NC_INET6) == 0 ? AF_INET6 : AF_INET;
	type = nc->nc_semantics == NC_TPI_CLTS ? SOCK_DGRAM : SOCK_STREAM;
	/*
	 * Non-blocking: libtirpc accept()s after poll() said readable; a
	 * connection reset in between must not block the whole loop.
	 */
	if ((fd = socket(af, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (af == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)e->port);
		sin6->sin6_addr = in6addr_any;
		len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)e->port);
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		len = sizeof(*sin);
	}
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    (type == SOCK_STREAM && listen(fd, SOMAXCONN) == -1)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
open_local(struct env *e)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(e->sock_path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, e->sock_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	unlink(e->sock_path);		/* left by a killed daemon */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(e->sock_path, 0666) == -1 || listen(fd, SOMAXCONN) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Connection limits.  libtirpc 1.3.3 (Debian 12) accepts every
 * connection it can, its __svc_clean_idle() is an empty stub, and an
 * accept() failing with EMFILE leaves the listener readable, so a
 * poll() loop would spin.  So we watch the connections ourselves:
 * after each svc_getreq_poll() the new ones are found in svc_pollfd,
 * and a connection we want gone is shut down, so that libtirpc reads
 * EOF on the next turn and destroys it the normal way.
 */

/* Raise the fd soft limit to the hard one; return the limit. */
static int
fd_limit_raise(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 256;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur > INT32_MAX)
		return INT32_MAX;
	return (int)rl.rlim_cur;
}

static struct conns *
conns_init(struct env *e, int nofile)
{
	struct conns	*cs;
	unsigned int	 fit;

	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return NULL;
	cs->max = e->max_conns ? e->max_conns : CONNS_DEFAULT;
	cs->per_peer = e->max_conns_per_peer ? e->max_conns_per_peer :
	    CONNS_PEER_DEFAULT;
	cs->idle_secs = e->idle_secs > 0 ? e->idle_secs : 30;
	/*
	 * Half the descriptors at most go to connections: the rest is for
	 * the store, the listeners, rpcbind calls and the delivery
	 * threads' callback connections.
	 */
	fit = nofile > 2 * FD_RESERVE + 8 ? (unsigned int)(nofile -
	    FD_RESERVE) / 2 : 4;
	if (cs->max > fit) {
		log_warnx("fd limit %d: at most %u connections (not %u)",
		    nofile, fit, cs->max);
		cs->max = fit;
	}
	if (cs->per_peer > cs->max)
		cs->per_peer = cs->max;
	cs->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (fit = 0; fit < SVC_MAX_XPRT; fit++)
		cs->dg[fit].fd = -1;
	log_info("connections: at most %u, %u per peer, idle timeout %d s",
	    cs->max, cs->per_peer, cs->idle_secs);
	return cs;
}

static void
conns_exit(struct conns *cs)
{
	if (cs == NULL)
		return;
	if (cs->spare != -1)
		close(cs->spare);
	free(cs->c);
	free(cs);
}

static int
is_listener(struct env *e, int fd)
{
	int	i;

	for (i = 0; i < e->nxprts; i++)
		if (e->xprts[i].xprt->xp_fd == fd)
			return 1;
	return 0;
}

static struct conn *
conn_at(struct conns *cs, int fd)
{
	struct conn	*nc;
	int		 n;

	if (fd < 0)
		return NULL;
	if (fd >= cs->cap) {
		n = fd + 64;
		if ((nc = reallocarray(cs->c, (size_t)n, sizeof(*nc))) == NULL)
			return NULL;
		memset(nc + cs->cap, 0, (size_t)(n - cs->cap) * sizeof(*nc));
		cs->c = nc;
		cs->cap = n;
	}
	return &cs->c[fd];
}

/* The peer's key: IPv4 address, IPv6 /64 prefix, or AF_UNIX uid. */
static void
conn_key(int fd, struct conn *c)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct ucred		 uc;
	socklen_t		 ulen = sizeof(uc);

	memset(c->key, 0, sizeof(c->key));
	c->af = AF_UNSPEC;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	c->af = ss.ss_family;
	if (ss.ss_family == AF_INET)
		memcpy(c->key, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else if (ss.ss_family == AF_INET6)
		memcpy(c->key, &((struct sockaddr_in6 *)&ss)->sin6_addr, 8);
	else if (ss.ss_family == AF_UNIX &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen) == 0)
		memcpy(c->key, &uc.uid, sizeof(uc.uid));
}

static int
same_peer(const struct conn *a, const struct conn *b)
{
	return a->af == b->af && memcmp(a->key, b->key, sizeof(a->key)) == 0;
}

static void
conn_shut(struct conns *cs, int fd)
{
	struct conn	*c = &cs->c[fd];

	if (c->shut)
		return;
	shutdown(fd, SHUT_RDWR);
	c->shut = 1;
	cs->live--;
}

/* The least recently used live connection (of PEER's, if not NULL). */
static int
conn_lru(struct conns *cs, const struct conn *peer)
{
	int	 fd, best = -1;

	for (fd = 0; fd < cs->cap; fd++) {
		if (cs->c[fd].ino == 0 || cs->c[fd].shut)
			continue;
		if (peer != NULL && !same_peer(&cs->c[fd], peer))
			continue;
		if (best == -1 || cs->c[fd].last_call < cs->c[best].last_call)
			best = fd;
	}
	return best;
}

static void
cap_note(struct conns *cs, uint64_t now, const char *why)
{
	cs->evicted++;
	if (now < cs->next_log)
		return;
	log_warnx("%s: closed the least recently used connection "
	    "(%llu so far; %u open)", why, (unsigned long long)cs->evicted,
	    cs->live);
	cs->next_log = now + CAP_LOG_EVERY_US;
}

/* A new connection on FD: enforce the per-peer and total caps. */
static void
conn_new(struct conns *cs, int fd, ino_t ino, uint64_t now)
{
	struct conn	*c = &cs->c[fd];
	unsigned int	 same = 0;
	int		 i, victim;

	memset(c, 0, sizeof(*c));
	c->ino = ino;
	c->last_call = now;
	c->seen = 1;
	conn_key(fd, c);
	cs->live++;
	for (i = 0; i < cs->cap; i++)
		if (cs->c[i].ino != 0 && !cs->c[i].shut &&
		    same_peer(&cs->c[i], c))
			same++;
	if (same > cs->per_peer && (victim = conn_lru(cs, c)) != -1) {
		conn_shut(cs, victim);
		cap_note(cs, now, "per-peer connection cap");
	}
	if (cs->live > cs->max && (victim = conn_lru(cs, NULL)) != -1) {
		conn_shut(cs, victim);
		cap_note(cs, now, "connection cap");
	}
}

/*
 * After svc_getreq_poll(): learn which connections appeared and which
 * libtirpc destroyed.  Only a new or readable fd can be a reused number,
 * so only those are fstat()ed.
 */
static unsigned int
conns_sync(struct env *e, struct conns *cs, uint64_t now)
{
	struct stat	 st;
	struct conn	*c;
	unsigned int	 added = 0;
	int		 i, fd;

	for (i = 0; i < svc_max_pollfd; i++) {
		fd = svc_pollfd[i].fd;
		if (fd < 0 || is_listener(e, fd) || (c = conn_at(cs, fd)) == NULL)
			continue;
		if (c->ino != 0 && !c->touched) {
			c->seen = 1;
			continue;
		}
		c->touched = 0;
		if (fstat(fd, &st) == -1)
			continue;
		if (c->ino == st.st_ino) {
			c->seen = 1;
			continue;
		}
		if (c->ino != 0 && !c->shut)
			cs->live--;
		conn_new(cs, fd, st.st_ino, now);
		added++;
	}
	for (fd = 0; fd < cs->cap; fd++) {
		c = &cs->c[fd];
		if (c->ino != 0 && !c->seen) {
			if (!c->shut)
				cs->live--;
			memset(c, 0, sizeof(*c));
		}
		c->seen = 0;
	}
	return added;
}

/*
 * A connection that has not completed a call for idle_secs goes: an
 * idle one, and a slowloris that trickles a record byte by byte.
 */
static void
conns_sweep(struct conns *cs, uint64_t now)
{
	uint64_t	limit = (uint64_t)cs->idle_secs * 1000000;
	int		fd, n = 0;

	for (fd = 0; fd < cs->cap; fd++) {
		if (cs->c[fd].ino == 0 || cs->c[fd].shut ||
		    now - cs->c[fd].last_call < limit)
			continue;
		conn_shut(cs, fd);
		n++;
	}
	if (n > 0)
		log_debug("closed %d idle connections", n);
}

/*
 * A listener was readable but nothing was accepted.  If we are out of
 * descriptors, libtirpc will fail again at once and poll() would spin:
 * close the least recently used connection, or if there is none, take
 * the pending connection with the spare fd and close it (the classic
 * trick), so that the loop always makes progress.
 */
static void
conns_emfile(struct env *e, struct conns *cs, const struct pollfd *pfds,
    int n, uint64_t now)
{
	int	fd, i, victim;

	if ((fd = fcntl(cs->spare, F_DUPFD_CLOEXEC, 0)) != -1) {
		close(fd);		/* not out of fds: nothing pending */
		return;
	}
	if (errno != EMFILE && errno != ENFILE)
		return;
	if ((victim = conn_lru(cs, NULL)) != -1) {
		conn_shut(cs, victim);
		cap_note(cs, now, "out of file descriptors");
		return;
	}
	for (i = 0; i < n; i++) {
		if (!(pfds[i].revents & POLLIN) || !is_listener(e, pfds[i].fd))
			continue;
		if (cs->spare != -1)
			close(cs->spare);
		if ((fd = accept4(pfds[i].fd, NULL, NULL, SOCK_CLOEXEC)) != -1)
			close(fd);
		cs->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
		cs->shed++;
	}
	cap_note(cs, now, "out of file descriptors, nothing to evict");
}

/* Keep a copy of the datagram waiting on the UDP transport FD. */
static void
dgram_peek(struct conns *cs, struct env *e, int fd)
{
	struct dgram	*d;
	ssize_t		 n;
	int		 i;

	for (i = 0; i < e->nxprts; i++)
		if (e->xprts[i].xprt->xp_fd == fd)
			break;
	if (i == e->nxprts)
		return;
	d = &cs->dg[i];
	d->fd = -1;
	n = recv(fd, d->buf, sizeof(d->buf), MSG_PEEK | MSG_DONTWAIT);
	if (n >= 0) {
		d->len = (size_t)n;
		d->fd = fd;
	}
}

/*
 * libtirpc 1.3.3 decodes a UDP call from its whole receive buffer, not
 * from the datagram's length: arguments cut short were completed with
 * the stale bytes of an earlier datagram (another client's, perhaps),
 * and a 4-byte COUNT counted.  So a datagram call's arguments must
 * also decode from the datagram itself.  1 if they do, or on a stream.
 */
int
svc_dgram_args_ok(SVCXPRT *xprt, xdrproc_t xargs)
{
	struct dgram	*d = NULL;
	union {
		max_align_t	 align;
		char		 c[512];
	}		 scratch;
	uint32_t	 w;
	size_t		 off = 24;	/* xid ... proc */
	XDR		 x;
	bool_t		 ok;
	int		 i, k;

	for (i = 0; conns != NULL && i < SVC_MAX_XPRT; i++)
		if (conns->dg[i].fd == xprt->xp_fd && xprt->xp_fd != -1)
			d = &conns->dg[i];
	if (d == NULL)
		return 1;
	for (k = 0; k < 2; k++) {	/* credential, verifier */
		if (off + 8 > d->len)
			return 0;
		memcpy(&w, d->buf + off + 4, 4);
		w = ntohl(w);
		if (w > MAX_AUTH_BYTES)
			return 0;
		off += 8 + ((w + 3) & ~3u);
	}
	if (off > d->len)
		return 0;
	memset(&scratch, 0, sizeof(scratch));
	xdrmem_create(&x, (char *)d->buf + off, (u_int)(d->len - off),
	    XDR_DECODE);
	ok = (*xargs)(&x, scratch.c);
	xdr_free(xargs, scratch.c);
	xdr_destroy(&x);
	return ok;
}

/* Every dispatched call marks its connection as in use. */
static void
svc_dispatch(struct svc_req *rq, SVCXPRT *xprt)
{
	if (conns != NULL && xprt->xp_fd >= 0 && xprt->xp_fd < conns->cap &&
	    conns->c[xprt->xp_fd].ino != 0)
		conns->c[xprt->xp_fd].last_call = util_now_us();
	proc_dispatch(rq, xprt);
}

/*
 * Create every transport and remove stale registrations of our
 * program (a killed daemon leaves them).  ORDER: runs as root, before
 * privileges are dropped, so the unset may remove root-owned entries.
 */
int
svc_open(struct env *e)
{
	struct netconfig	*nc;
	struct xprt		*x;
	size_t			 i;
	int			 fd, nofile, maxrec = MAX_RECORD;

	/*
	 * ORDER: before any transport exists.  libtirpc sizes its fd
	 * table from the limit once, at the first transport; and only
	 * connections accepted after CONNMAXREC_SET are non-blocking with
	 * bounded records.
	 */
	nofile = fd_limit_raise();
	if ((e->conns = conns = conns_init(e, nofile)) == NULL)
		return -1;
	rpc_control(RPC_SVC_CONNMAXREC_SET, &maxrec);
	for (i = 0; i < sizeof(netids) / sizeof(netids[0]); i++) {
		if ((nc = getnetconfigent(netids[i])) == NULL)
			continue;
		rpcb_unset(BART_PROG, BART_VERS, nc);
		if (strcmp(nc->nc_protofmly, NC_LOOPBACK) == 0)
			fd = open_local(e);
		else
			fd = open_inet(e, nc);
		if (fd == -1) {
			log_warn("transport %s unavailable", netids[i]);
			freenetconfigent(nc);
			continue;
		}
		x = &e->xprts[e->nxprts];
		if ((x->xprt = svc_tli_create(fd, nc, NULL, 0, 0)) == NULL) {
			log_warnx("svc_tli_create %s failed", netids[i]);
			close(fd);
			freenetconfigent(nc);
			continue;
		}
		x->nconf = nc;
		e->nxprts++;
	}
	if (e->nxprts == 0) {
		log_warnx("no transport could be created");
		return -1;
	}
	return 0;
}

/* Register every transport with rpcbind; fails if none registers. */
int
svc_publish(struct env *e)
{
	struct xprt	*x;
	int		 i, n = 0;

	proc_init(e);
	for (i = 0; i < e->nxprts; i++) {
		x = &e->xprts[i];
		if (!svc_reg(x->xprt, BART_PROG, BART_VERS, svc_dispatch,
		    x->nconf)) {
			log_warnx("cannot register with rpcbind on %s",
			    x->nconf->nc_netid);
			continue;
		}
		x->registered = 1;
		n++;
	}
	if (n == 0) {
		log_warnx("cannot register program %u with rpcbind "
		    "(is rpcbind running?)", BART_PROG);
		return -1;
	}
	log_info("program %u version %u registered on %d transports",
	    BART_PROG, BART_VERS, n);
	return 0;
}

/*
 * rpcbind forgets everything when it is killed or restarted without
 * -w.  Ask it cheaply whether it still knows us; if not, set again.
 */
static void
svc_recheck(struct env *e)
{
	struct netbuf	 nb;
	struct sockaddr_storage ss;
	struct xprt	*x = NULL;
	int		 i, n = 0;

	/* Prefer local: libtirpc 1.3.3's rpcb_getaddr leaks 16 bytes per
	 * call over tcp or udp, and this runs every 2 s for ever. */
	for (i = 0; i < e->nxprts; i++)
		if (e->xprts[i].registered && (x == NULL || strcmp(
		    e->xprts[i].nconf->nc_protofmly, NC_LOOPBACK) == 0))
			x = &e->xprts[i];
	if (x == NULL)
		return;
	nb.buf = &ss;
	nb.maxlen = sizeof(ss);
	nb.len = 0;
	if (rpcb_getaddr(BART_PROG, BART_VERS, x->nconf, &nb, "localhost"))
		return;
	if (rpc_createerr.cf_stat != RPC_PROGNOTREGISTERED &&
	    rpc_createerr.cf_stat != RPC_PROGVERSMISMATCH)
		return;			/* rpcbind down: try next time */
	for (i = 0; i < e->nxprts; i++) {
		x = &e->xprts[i];
		if (!x->registered)
			continue;
		if (rpcb_set(BART_PROG, BART_VERS, x->nconf,
		    &x->xprt->xp_ltaddr))
			n++;
	}
	log_info("rpcbind had lost our registration; registered again "
	    "on %d transports", n);
}

static void
housekeeping(struct env *e, uint64_t now, uint64_t *rereg, uint64_t *prune)
{
	push_reap(e->push);
	if (now >= *rereg) {
		svc_recheck(e);
		*rereg = now + REREG_EVERY_US;
	}
	if (now >= *prune) {
		store_prune(e->store, (int64_t)time(NULL) - REQ_REMEMBER_SECS);
		store_reqs_trim(e->store, REQ_REMEMBER_MAX);
		*prune = now + PRUNE_EVERY_US;
	}
}

static int
is_rendezvous(struct env *e, int fd)
{
	int	i;

	for (i = 0; i < e->nxprts; i++)
		if (e->xprts[i].xprt->xp_fd == fd)
			return e->xprts[i].nconf->nc_semantics != NC_TPI_CLTS;
	return 0;
}

/* Serve until a quit signal.  Every svc_* call stays on this thread. */
void
svc_loop(struct env *e)
{
	struct pollfd	*pfds = NULL, *np;
	struct conn	*c;
	int		 cap = 0, n, r, i, fired;
	uint64_t	 now, tick = 0, rereg, prune;

	rereg = util_now_us() + REREG_EVERY_US;
	prune = util_now_us() + PRUNE_EVERY_US;
	while (!daemon_quit) {
		if (daemon_hup) {
			daemon_hup = 0;
			log_reopen();
			log_info("SIGHUP: logs reopened");
		}
		n = svc_max_pollfd;
		if (n > cap) {
			if ((np = reallocarray(pfds, (size_t)n,
			    sizeof(*pfds))) == NULL)
				fatal("poll array");
			pfds = np;
			cap = n;
		}
		memcpy(pfds, svc_pollfd, (size_t)n * sizeof(*pfds));
		r = poll(pfds, (nfds_t)n, LOOP_TICK_MS);
		if (r == -1 && errno != EINTR)
			fatal("poll");
		fired = 0;
		for (i = 0; r > 0 && i < n; i++) {
			if (pfds[i].revents == 0)
				continue;
			if (is_rendezvous(e, pfds[i].fd))
				fired += (pfds[i].revents & POLLIN) != 0;
			else if (is_listener(e, pfds[i].fd)) {
				if (pfds[i].revents & POLLIN)
					dgram_peek(conns, e, pfds[i].fd);
			} else if (pfds[i].fd < conns->cap &&
			    (c = conn_at(conns, pfds[i].fd)) != NULL)
				c->touched = 1;
		}
		if (r > 0)
			svc_getreq_poll(pfds, r);
		for (i = 0; i < SVC_MAX_XPRT; i++)
			conns->dg[i].fd = -1;
		now = util_now_us();
		if (r > 0 && (int)conns_sync(e, conns, now) < fired)
			conns_emfile(e, conns, pfds, n, now);
		if (now >= tick) {
			housekeeping(e, now, &rereg, &prune);
			/* A no-op in libtirpc 1.3.3; conns_sweep does it. */
			__svc_clean_idle(NULL, e->idle_secs, FALSE);
			conns_sweep(conns, now);
			tick = now + 1000000;
		}
	}
	free(pfds);
}

/* Unregister only our own entries, then close every transport. */
void
svc_close(struct env *e)
{
	struct xprt	*x;
	int		 i;

	for (i = 0; i < e->nxprts; i++) {
		x = &e->xprts[i];
		if (x->registered && !rpcb_unset(BART_PROG, BART_VERS,
		    x->nconf))
			log_warnx("could not unregister %s",
			    x->nconf->nc_netid);
		svc_destroy(x->xprt);
		freenetconfigent(x->nconf);
	}
	e->nxprts = 0;
	conns_exit(e->conns);
	e->conns = conns = NULL;
	if (e->sock_path != NULL && unlink(e->sock_path) == -1 &&
	    errno != ENOENT)
		log_debug("cannot remove %s", e->sock_path);
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
		uport = ntohs(v6 ? ((const struct sockaddr_in6 *)us)->sin6_port :
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
 * address it used).  SVC_REMOTE for a caller on another host,
 * SVC_UID_UNKNOWN if the caller is local but its uid cannot be told.
 */
long
svc_caller_uid(SVCXPRT *xprt)
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
		return SVC_UID_UNKNOWN;
	peer = nb->buf;
	if (peer->sa_family != AF_INET && peer->sa_family != AF_INET6) {
		if (getsockopt(xprt->xp_fd, SOL_SOCKET, SO_PEERCRED, &uc,
		    &ulen) == -1)
			return SVC_UID_UNKNOWN;
		return (long)uc.uid;
	}
	if (getsockopt(xprt->xp_fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1)
		return SVC_UID_UNKNOWN;
	if (getsockname(xprt->xp_fd, (struct sockaddr *)&us, &len) == -1)
		return SVC_UID_UNKNOWN;
	uid = proc_sock_uid(type == SOCK_STREAM, peer,
	    (struct sockaddr *)&us);
	return uid >= 0 ? uid : SVC_REMOTE;
}
