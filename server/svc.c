/*
 * svc.c: bart's transports on the sockets listen.c opened, and the
 * poll() loop that replaces svc_run() so that signals, timers and
 * re-registration (reg.c) share it.
 */
#include <sys/socket.h>

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
#include "listen.h"
#include "log.h"
#include "proc.h"
#include "reg.h"
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

/* Every dispatched call marks its connection as in use. */
static void
svc_dispatch(struct svc_req *rq, SVCXPRT *xprt)
{
	conns_touch(xprt);
	proc_dispatch(rq, xprt);
}

/*
 * Create a transport on every socket of e->listen (listen.c opened
 * them; main() made the table).
 */
int
svc_open(struct env *e)
{
	struct listen_ent	*le;
	struct xprt		*x;
	int			 i, maxrec = MAX_RECORD;

	/*
	 * ORDER: before any transport exists.  conns_init raises the fd
	 * limit, and libtirpc sizes its fd table from the limit once, at
	 * the first transport; and only connections accepted after
	 * CONNMAXREC_SET are non-blocking with bounded records.
	 */
	if ((e->conns = conns_init(e)) == NULL)
		return -1;
	rpc_control(RPC_SVC_CONNMAXREC_SET, &maxrec);
	for (i = 0; i < e->listen.n; i++) {
		le = &e->listen.ent[i];
		x = &e->xprts[e->nxprts];
		if ((x->xprt = svc_tli_create(le->fd, le->nconf, NULL, 0,
		    0)) == NULL) {
			/* Every transport asked for, or none: see listen.c */
			log_warnx("cannot create the %s transport",
			    le->nconf->nc_netid);
			return -1;
		}
		x->nconf = le->nconf;
		e->nxprts++;
	}
	return 0;
}

/*
 * Install our dispatcher on every transport.  Only the callout:
 * rpcbind hears of us from reg.c.
 */
int
svc_publish(struct env *e)
{
	struct xprt	*x;
	int		 i;

	proc_init(e);
	for (i = 0; i < e->nxprts; i++) {
		x = &e->xprts[i];
		if (!svc_reg(x->xprt, BART_PROG, BART_VERS, svc_dispatch,
		    NULL)) {
			log_warnx("svc_reg %s failed", x->nconf->nc_netid);
			return -1;
		}
		x->registered = 1;
	}
	return 0;
}

static void
housekeeping(struct env *e, uint64_t now, uint64_t *rereg, uint64_t *prune)
{
	push_reap(e->push);
	if (now >= *rereg) {
		reg_recheck(e->reg);
		*rereg = now + REREG_EVERY_US;
	}
	store_check(e->store);		/* bart.db deleted? */
	store_chat_cap(e->store, e->max_history);
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

/* Close every transport (reg_exit has unregistered them). */
void
svc_close(struct env *e)
{
	int	i;

	for (i = 0; i < e->nxprts; i++)
		svc_destroy(e->xprts[i].xprt);
	e->nxprts = 0;
	listen_close(&e->listen);
	conns_exit(e->conns);
	e->conns = NULL;
}
