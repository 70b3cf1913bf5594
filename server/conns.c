/* conns.c: tracking and limiting the connections libtirpc accepts. */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <rpc/rpc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conns.h"
#include "log.h"
#include "util.h"
#define CONNS_DEFAULT		1024		/* --max-conns */
#define CONNS_PEER_DEFAULT	64		/* --max-conns-per-peer */
#define FD_RESERVE		16	/* store, listeners, rpcbind calls */
#define CAP_LOG_EVERY_US	10000000

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

/*
 * libtirpc's dispatch callback has no context argument, and neither
 * has conns_dgram_args_ok, which proc.c calls from inside it: the two
 * reach the connections through this pointer, set by conns_init.
 */
static struct conns	*conns;

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

/*
 * Raise the fd limit and set up the connection limits from E.  NULL if
 * out of memory.
 */
struct conns *
conns_init(struct env *e)
{
	struct conns	*cs;
	unsigned int	 fit;
	int		 nofile;

	nofile = fd_limit_raise();
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
	conns = cs;
	return cs;
}

void
conns_exit(struct conns *cs)
{
	conns = NULL;
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
unsigned int
conns_sync(struct conns *cs, struct env *e, uint64_t now)
{
	struct stat	 st;
	struct conn	*c;
	unsigned int	 added = 0;
	int		 i, fd;

	for (i = 0; i < svc_max_pollfd; i++) {
		fd = svc_pollfd[i].fd;
		if (fd < 0 || is_listener(e, fd) ||
		    (c = conn_at(cs, fd)) == NULL)
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
void
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
void
conns_emfile(struct conns *cs, struct env *e, const struct pollfd *pfds,
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
 * Before svc_getreq_poll(): PFD, not a rendezvous, had events.  On a
 * UDP transport, keep a copy of the datagram; on a connection, mark it
 * for conns_sync.
 */
void
conns_note_readable(struct conns *cs, struct env *e,
    const struct pollfd *pfd)
{
	struct conn	*c;

	if (is_listener(e, pfd->fd)) {
		if (pfd->revents & POLLIN)
			dgram_peek(cs, e, pfd->fd);
	} else if (pfd->fd < cs->cap && (c = conn_at(cs, pfd->fd)) != NULL)
		c->touched = 1;
}

/* After svc_getreq_poll(): the datagrams kept are read and gone. */
void
conns_dgram_forget(struct conns *cs)
{
	int	i;

	for (i = 0; i < SVC_MAX_XPRT; i++)
		cs->dg[i].fd = -1;
}

/*
 * libtirpc 1.3.3 decodes a UDP call from its whole receive buffer, not
 * from the datagram's length: arguments cut short were completed with
 * the stale bytes of an earlier datagram (another client's, perhaps),
 * and a 4-byte COUNT counted.  So a datagram call's arguments must
 * also decode from the datagram itself.  1 if they do, or on a stream.
 */
int
conns_dgram_args_ok(SVCXPRT *xprt, xdrproc_t xargs)
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

/* A call was dispatched on XPRT: its connection is in use. */
void
conns_touch(SVCXPRT *xprt)
{
	if (conns != NULL && xprt->xp_fd >= 0 && xprt->xp_fd < conns->cap &&
	    conns->c[xprt->xp_fd].ino != 0)
		conns->c[xprt->xp_fd].last_call = util_now_us();
}
