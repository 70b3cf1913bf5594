/* SPDX-License-Identifier: ISC */
/*
 * svc.c: serving on the sockets listen.c opened, and the loop that
 * replaces svc_run() so that signals, timers and re-registration
 * (reg.c) share it.  libtirpc reads and writes none of these sockets:
 * serve.c does (a loop that never waits for a peer); libtirpc lends
 * its XDR routines, netconfig and the rpcbind client.
 */
#include <sys/socket.h>

#include <rpc/rpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "listen.h"
#include "log.h"
#include "proc.h"
#include "reg.h"
#include "serve.h"
#include "svc.h"
#include "util.h"

#define LOOP_TICK_MS		500
#define REREG_EVERY_US		2000000		/* rpcbind restart check */
#define PRUNE_EVERY_US		60000000
/*
 * UDP duplicate-request cache (drc.c): the replies to the last
 * DRC_ENTRIES state-changing calls.  An entry takes 72 bytes, 8 of hash
 * table and its reply: at most 104 bytes for these procedures (a COUNT
 * with its 64-byte text), so about 200 KB with malloc's overhead, and
 * never more than DRC_ENTRIES * (80 + DRC_REPLY_MAX) = 9.1 MB.
 */
#define DRC_ENTRIES		1024

/*
 * Serve every socket of e->listen (listen.c opened them; main() made
 * the table).  ORDER: before the privilege drop is fine and so is
 * after; serve_init raises the fd soft limit to the hard one.
 */
int
svc_open(struct env *e)
{
	struct listen_ent	*le;
	enum proc_xport		 xport;
	int			 i;

	if ((e->serve = serve_init(e, e->udp_cache < 0 ? DRC_ENTRIES :
	    (unsigned int)e->udp_cache)) == NULL)
		return -1;
	for (i = 0; i < e->listen.n; i++) {
		le = &e->listen.ent[i];
		if (le->nconf->nc_semantics == NC_TPI_CLTS)
			xport = PROC_UDP;
		else if (strcmp(le->nconf->nc_protofmly, NC_LOOPBACK) == 0)
			xport = PROC_LOCAL;
		else
			xport = PROC_TCP;
		if (serve_listen(e->serve, le->fd, xport) == -1) {
			/* Every transport asked for, or none: see listen.c */
			log_warnx("cannot serve the %s transport",
			    le->nconf->nc_netid);
			return -1;
		}
	}
	return 0;
}

/* Nothing left to install: serve.c dispatches.  rpcbind is reg.c's. */
int
svc_publish(struct env *e)
{
	(void)e;
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
	/*
	 * The count bound each tick: with SQLite the identities are in
	 * memory too, and a burst must not hold a minute of them (at 40,000
	 * counts a second, 2.4 million); the age once a minute.
	 */
	store_reqs_trim(e->store, STORE_REQS_MAX);
	if (now >= *prune) {
		store_prune(e->store, (int64_t)time(NULL) - STORE_REQS_SECS);
		*prune = now + PRUNE_EVERY_US;
	}
}

/* Serve until a quit signal.  The svc_* calls left stay on this thread. */
void
svc_loop(struct env *e)
{
	uint64_t	 now, tick = 0, rereg, prune;

	rereg = util_now_us() + REREG_EVERY_US;
	prune = util_now_us() + PRUNE_EVERY_US;
	while (!daemon_quit) {
		if (daemon_hup) {
			daemon_hup = 0;
			log_reopen();
			log_info("SIGHUP: logs reopened");
		}
		if (serve_round(e->serve, LOOP_TICK_MS) == -1)
			fatal("epoll_wait");
		now = util_now_us();
		if (now >= tick) {
			housekeeping(e, now, &rereg, &prune);
			serve_tick(e->serve, now);
			tick = now + 1000000;
		}
	}
}

/* Close every connection and socket (reg_exit has unregistered them). */
void
svc_close(struct env *e)
{
	int	i;

	serve_exit(e->serve);
	e->serve = NULL;
	for (i = 0; i < e->listen.n; i++)
		if (e->listen.ent[i].fd != -1)
			close(e->listen.ent[i].fd);
	listen_close(&e->listen);
}
