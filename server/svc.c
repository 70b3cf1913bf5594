/*
 * svc.c: bart's transports (tcp, udp, their IPv6 twins, and AF_UNIX),
 * their rpcbind registrations, and the poll() loop that replaces
 * svc_run() so that signals, timers and re-registration share it.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <rpc/rpc.h>
#include <rpc/rpc_com.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conns.h"
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

/* libtirpc's private idle sweeper; rpcbind calls it the same way. */
extern bool_t __svc_clean_idle(fd_set *, int, bool_t);

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


/* Every dispatched call marks its connection as in use. */
static void
svc_dispatch(struct svc_req *rq, SVCXPRT *xprt)
{
	conns_touch(xprt);
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
	int			 fd, maxrec = MAX_RECORD;

	/*
	 * ORDER: before any transport exists.  conns_init raises the fd
	 * limit, and libtirpc sizes its fd table from the limit once, at
	 * the first transport; and only connections accepted after
	 * CONNMAXREC_SET are non-blocking with bounded records.
	 */
	if ((e->conns = conns_init(e)) == NULL)
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
			else
				conns_note_readable(e->conns, e, &pfds[i]);
		}
		if (r > 0)
			svc_getreq_poll(pfds, r);
		conns_dgram_forget(e->conns);
		now = util_now_us();
		if (r > 0 && (int)conns_sync(e->conns, e, now) < fired)
			conns_emfile(e->conns, e, pfds, n, now);
		if (now >= tick) {
			housekeeping(e, now, &rereg, &prune);
			/* A no-op in libtirpc 1.3.3; conns_sweep does it. */
			__svc_clean_idle(NULL, e->idle_secs, FALSE);
			conns_sweep(e->conns, now);
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
	e->conns = NULL;
	if (e->sock_path != NULL && unlink(e->sock_path) == -1 &&
	    errno != ENOENT)
		log_debug("cannot remove %s", e->sock_path);
}
