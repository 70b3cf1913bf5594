/* SPDX-License-Identifier: ISC */
/*
 * reg.c: bart's registrations with rpcbind: claim the program at
 * start-up (refusing if a live daemon serves it), publish one address
 * per netid, put back whatever rpcbind lost, and withdraw at exit only
 * the entries that are still ours.  It registers addresses itself
 * (RPCBPROC_SET, what rpcb_set() sends, with a timeout of its own) and
 * never goes through libtirpc's svc_reg(), so it does not care who
 * serves the sockets.
 *
 * Every question goes to rpcbind's AF_UNIX socket as one DUMP: GETADDR
 * there answers only for the netid it is asked over (local), and
 * libtirpc 1.3.3's rpcb_getaddr() leaks 16 bytes per call over tcp or
 * udp, which a check every 2 s for ever cannot afford.
 *
 * The periodic check runs on a thread of its own (reg_recheck() only
 * wakes it): a stopped or hung rpcbind once froze the whole daemon
 * (libtirpc's rpcbind calls wait up to 60 s), and the loop must never
 * wait for rpcbind.  That thread talks to rpcbind with its own client
 * and short timeouts, and no svc_* call.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <rpc/rpc.h>
#include <rpc/rpcb_prot.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bart.h"
#include "listen.h"
#include "log.h"
#include "reg.h"
#include "util.h"

#define RPCB_TIMEOUT_MS	2000		/* a call to the local rpcbind */
#define PROBE_MS	1000		/* NULLPROC to a registered address */

struct reg_ent {
	struct netconfig	*nconf;
	struct sockaddr_storage	 addr;
	struct netbuf		 nb;		/* points at addr */
	char			*uaddr;		/* as rpcbind keeps it */
	int			 registered;
	int			 taken;		/* warned: someone else's */
};

struct reg {
	struct reg_ent		 ent[LISTEN_MAX];
	int			 n;

	/* The watcher thread; after reg_publish only it touches ent[]. */
	pthread_t		 thr;
	int			 running;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 kick;		/* under mu */
	int			 quit;		/* under mu */
};

static int	watch_start(struct reg *);

/* A client of rpcbind over its AF_UNIX socket, or NULL. */
static CLIENT *
rpcb_local(void)
{
	struct sockaddr_un	 sun;
	struct netconfig	*lnc;
	struct netbuf		 nb;
	CLIENT			*cl = NULL;
	int			 fd = -1, saved;

	if ((lnc = getnetconfigent("local")) == NULL)
		return NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, _PATH_RPCBINDSOCK);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		goto out;
	nb.buf = &sun;
	nb.len = nb.maxlen = sizeof(sun);
	if ((cl = clnt_tli_create(fd, lnc, &nb, RPCBPROG, RPCBVERS, 0, 0)) ==
	    NULL)
		goto out;
	clnt_control(cl, CLSET_FD_CLOSE, NULL);
	fd = -1;
out:
	saved = errno;
	if (fd != -1)
		close(fd);
	freenetconfigent(lnc);
	errno = saved;			/* for a caller's log_warn */
	return cl;
}

static struct timeval
ms_tv(int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* rpcbind's whole table through CL; 0, or -1.  Free with free_dump(). */
static int
dump_on(CLIENT *cl, rpcblist_ptr *list)
{
	*list = NULL;
	return clnt_call(cl, RPCBPROC_DUMP, XDR_VOID, NULL,
	    (xdrproc_t)xdr_rpcblist_ptr, (char *)list,
	    ms_tv(RPCB_TIMEOUT_MS)) == RPC_SUCCESS ? 0 : -1;
}

/*
 * rpcbind's whole table, asked over its AF_UNIX socket; 0, or -1 if
 * rpcbind cannot be reached.  Free *list with free_dump().
 */
static int
dump(rpcblist_ptr *list)
{
	CLIENT	*cl;
	int	 rc;

	*list = NULL;
	if ((cl = rpcb_local()) == NULL)
		return -1;
	rc = dump_on(cl, list);
	clnt_destroy(cl);
	return rc;
}

/*
 * SET our program at UADDR on NETID through CL, as rpcb_set() does over
 * the local socket (rpcbind takes the owner from the socket's
 * credentials), but with our timeout: a hung rpcbind must not hold up
 * a start or a stop for minutes (libtirpc waits 60 s a call).
 */
static int
set_on(CLIENT *cl, const char *netid, const char *uaddr)
{
	rpcb	 parms;
	bool_t	 done = FALSE;
	char	 none[1] = "";

	parms.r_prog = BART_PROG;
	parms.r_vers = BART_VERS;
	parms.r_netid = (char *)(uintptr_t)netid;
	parms.r_addr = (char *)(uintptr_t)uaddr;
	parms.r_owner = none;
	if (clnt_call(cl, RPCBPROC_SET, (xdrproc_t)xdr_rpcb, (char *)&parms,
	    (xdrproc_t)xdr_bool, (char *)&done, ms_tv(RPCB_TIMEOUT_MS)) !=
	    RPC_SUCCESS)
		return 0;
	return done;
}

/* UNSET our program on NETID through CL; what rpcb_unset() does. */
static int
unset_on(CLIENT *cl, const char *netid)
{
	rpcb	 parms;
	bool_t	 done = FALSE;
	char	 none[1] = "";

	parms.r_prog = BART_PROG;
	parms.r_vers = BART_VERS;
	parms.r_netid = (char *)(uintptr_t)netid;
	parms.r_addr = none;
	parms.r_owner = none;
	if (clnt_call(cl, RPCBPROC_UNSET, (xdrproc_t)xdr_rpcb, (char *)&parms,
	    (xdrproc_t)xdr_bool, (char *)&done, ms_tv(RPCB_TIMEOUT_MS)) !=
	    RPC_SUCCESS)
		return 0;
	return done;
}

static void
free_dump(rpcblist_ptr *list)
{
	xdr_free((xdrproc_t)xdr_rpcblist_ptr, (char *)list);
	*list = NULL;
}

/* Is M an entry of our program (with a netid and an address)? */
static int
ours(const rpcb *m)
{
	return m->r_prog == BART_PROG && m->r_vers == BART_VERS &&
	    m->r_netid != NULL && m->r_addr != NULL;
}

/* Our program's entry for NETID in LIST, or NULL. */
static rpcb *
find(rpcblist_ptr list, const char *netid)
{
	for (; list != NULL; list = list->rpcb_next)
		if (ours(&list->rpcb_map) &&
		    strcmp(list->rpcb_map.r_netid, netid) == 0)
			return &list->rpcb_map;
	return NULL;
}

/* "tcp 127.0.0.1 port 7000", "local /run/bart_svc.sock", for humans. */
static const char *
human(const char *netid, const char *uaddr)
{
	static char		 buf[160];
	struct netconfig	*nc;
	struct netbuf		*nb = NULL;
	struct sockaddr		*sa;
	char			 host[INET6_ADDRSTRLEN];
	const void		*ap = NULL;
	int			 port = 0;

	snprintf(buf, sizeof(buf), "%s %s", netid, uaddr);
	if ((nc = getnetconfigent(netid)) == NULL)
		return buf;
	if ((nb = uaddr2taddr(nc, uaddr)) != NULL) {
		sa = nb->buf;
		if (sa->sa_family == AF_INET) {
			ap = &((struct sockaddr_in *)sa)->sin_addr;
			port = ntohs(((struct sockaddr_in *)sa)->sin_port);
		} else if (sa->sa_family == AF_INET6) {
			ap = &((struct sockaddr_in6 *)sa)->sin6_addr;
			port = ntohs(((struct sockaddr_in6 *)sa)->sin6_port);
		}
		if (ap != NULL && inet_ntop(sa->sa_family, ap, host,
		    sizeof(host)) != NULL)
			snprintf(buf, sizeof(buf), "%s %s port %d", netid,
			    host, port);
		free(nb->buf);
		free(nb);
	}
	freenetconfigent(nc);
	return buf;
}

/* Connect FD to SA within PROBE_MS; 0 or -1. */
static int
connect_timed(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pollfd	pfd;
	int		err = 0, fl;
	socklen_t	elen = sizeof(err);

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	if (connect(fd, sa, len) == -1) {
		if (errno != EINPROGRESS)
			return -1;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, PROBE_MS) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1 ||
		    err != 0)
			return -1;
	}
	return fcntl(fd, F_SETFL, fl);
}

/*
 * Does a live server answer NULLPROC for our program at UADDR?  A
 * wildcard address is asked on loopback.  Short timeouts: a daemon
 * that cannot answer within PROBE_MS is as good as gone.
 */
static int
alive(const char *netid, const char *uaddr)
{
	struct netconfig	*nc;
	struct netbuf		*nb = NULL;
	struct sockaddr		*sa;
	struct timeval		 tv = { 0, PROBE_MS * 1000 };
	struct timeval		 retry = { 0, 250 * 1000 };
	CLIENT			*cl = NULL;
	int			 fd = -1, type, yes = 0;

	if ((nc = getnetconfigent(netid)) == NULL)
		return 0;
	if ((nb = uaddr2taddr(nc, uaddr)) == NULL)
		goto out;
	sa = nb->buf;
	if (sa->sa_family == AF_INET &&
	    ((struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY))
		((struct sockaddr_in *)sa)->sin_addr.s_addr =
		    htonl(INADDR_LOOPBACK);
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(
	    &((struct sockaddr_in6 *)sa)->sin6_addr))
		((struct sockaddr_in6 *)sa)->sin6_addr = in6addr_loopback;
	type = nc->nc_semantics == NC_TPI_CLTS ? SOCK_DGRAM : SOCK_STREAM;
	if ((fd = socket(sa->sa_family, type | SOCK_CLOEXEC, 0)) == -1)
		goto out;
	/*
	 * Connected UDP too: a port nobody has answers with ICMP, which
	 * ends the call at once instead of after PROBE_MS.
	 */
	if (connect_timed(fd, sa, nb->len) == -1)
		goto out;
	if ((cl = clnt_tli_create(fd, nc, nb, BART_PROG, BART_VERS, 0, 0)) ==
	    NULL)
		goto out;
	clnt_control(cl, CLSET_FD_CLOSE, NULL);
	fd = -1;
	if (type == SOCK_DGRAM)
		clnt_control(cl, CLSET_RETRY_TIMEOUT, (char *)&retry);
	yes = clnt_call(cl, NULLPROC, XDR_VOID, NULL,
	    XDR_VOID, NULL, tv) == RPC_SUCCESS;
out:
	if (cl != NULL)
		clnt_destroy(cl);
	if (fd != -1)
		close(fd);
	if (nb != NULL) {
		free(nb->buf);
		free(nb);
	}
	freenetconfigent(nc);
	return yes;
}

/*
 * May a live entry with OWNER (rpcbind's owner field) stop us?  As
 * root: one registered by root, by the user we run as, or by another
 * system account (Debian policy: uids below 1000, and 60000 up, nobody
 * included), i.e. by a daemon an administrator started, whatever its
 * -u.  Not one of a person's uid (1000-59999) or of unknown owner:
 * anyone may register a free program number with rpcbind, and a
 * user's responder must not keep the system's daemon from starting.
 * As another user every live entry counts: we could not replace it.
 */
static int
owner_counts(const char *owner, uid_t run_uid)
{
	long long	uid;

	if (geteuid() != 0)
		return 1;
	if (owner == NULL)
		return 0;
	if (strcmp(owner, "superuser") == 0)
		return 1;
	if (util_parse_ll(owner, 0, UINT32_MAX, &uid) == -1)
		return 0;
	return uid == (long long)run_uid || uid < 1000 || uid >= 60000;
}

/*
 * Take over our program in rpcbind.  If a live daemon answers at any
 * registered address, refuse (-1): another bart_svc, on another state
 * directory, serves it, and replacing its entries would point its
 * clients at us.  Entries nobody answers at are a killed daemon's and
 * are removed, and so, as root, are live ones of other users (see
 * owner_counts).  RUN_UID: the user we will run as.  ORDER: before our
 * sockets exist (a daemon on the same -P port or -s path is reported
 * as such, not as a bind error), and as root, so the unset may remove
 * other owners' entries.
 */
int
reg_claim(uid_t run_uid)
{
	rpcblist_ptr	 list, l;
	CLIENT		*cl;
	rpcb		*m;
	int		 rc = 0;

	if ((cl = rpcb_local()) == NULL)
		return 0;	/* reg_publish says what is wrong */
	if (dump_on(cl, &list) == -1) {
		clnt_destroy(cl);
		return 0;
	}
	for (l = list; l != NULL; l = l->rpcb_next) {
		m = &l->rpcb_map;
		if (!ours(m) || !alive(m->r_netid, m->r_addr))
			continue;
		if (owner_counts(m->r_owner, run_uid)) {
			log_warnx("program %u is served by a live daemon at "
			    "%s", BART_PROG, human(m->r_netid, m->r_addr));
			rc = -1;
			goto out;
		}
		log_warnx("program %u at %s answers, but was registered by "
		    "%s, not by root, uid %ld or a system account: "
		    "replacing it", BART_PROG, human(m->r_netid, m->r_addr),
		    m->r_owner != NULL ? m->r_owner : "nobody known",
		    (long)run_uid);
	}
	for (l = list; l != NULL; l = l->rpcb_next)
		if (ours(&l->rpcb_map) && unset_on(cl, l->rpcb_map.r_netid))
			log_info("removed a stale registration: %s",
			    human(l->rpcb_map.r_netid, l->rpcb_map.r_addr));
out:
	free_dump(&list);
	clnt_destroy(cl);
	return rc;
}

/*
 * Remember the addresses to register; the set may go away after.
 * rpcbind keeps one address per netid: the first of each (listen.c
 * bound the others on the same port, and rpcbind hands each caller
 * its own interface's address with that port).
 */
struct reg *
reg_init(const struct listen_set *ls)
{
	struct reg	*r;
	struct reg_ent	*re;
	int		 i, j;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	for (i = 0; i < ls->n; i++) {
		for (j = 0; j < r->n; j++)
			if (strcmp(r->ent[j].nconf->nc_netid,
			    ls->ent[i].nconf->nc_netid) == 0)
				break;
		if (j < r->n)
			continue;
		re = &r->ent[r->n];
		if ((re->nconf = getnetconfigent(ls->ent[i].nconf->nc_netid)) ==
		    NULL)
			goto fail;
		memcpy(&re->addr, &ls->ent[i].addr, ls->ent[i].addrlen);
		re->nb.buf = &re->addr;
		re->nb.len = re->nb.maxlen = ls->ent[i].addrlen;
		r->n++;
		if ((re->uaddr = taddr2uaddr(re->nconf, &re->nb)) == NULL)
			goto fail;
	}
	return r;
fail:
	reg_exit(r);
	return NULL;
}

/* Why the SET of RE failed, in one line. */
static void
explain(const struct reg_ent *re)
{
	rpcblist_ptr	 list;
	rpcb		*m;

	if (dump(&list) == -1) {
		log_warnx("cannot register program %u on %s: rpcbind does "
		    "not answer on %s (is it running?)", BART_PROG,
		    re->nconf->nc_netid, _PATH_RPCBINDSOCK);
		return;
	}
	if ((m = find(list, re->nconf->nc_netid)) != NULL)
		log_warnx("cannot register program %u on %s: rpcbind keeps "
		    "it for %s, registered by %s; only that owner or root "
		    "may replace it", BART_PROG, re->nconf->nc_netid,
		    human(m->r_netid, m->r_addr),
		    m->r_owner != NULL ? m->r_owner : "someone else");
	else
		log_warnx("cannot register program %u on %s: rpcbind "
		    "refused", BART_PROG, re->nconf->nc_netid);
	free_dump(&list);
}

/*
 * Register every address with rpcbind.  All or nothing: a daemon that
 * reports success reachable on half its transports misleads.
 */
int
reg_publish(struct reg *r)
{
	struct reg_ent	*re;
	CLIENT		*cl;
	int		 i;

	if ((cl = rpcb_local()) == NULL) {
		log_warn("cannot register program %u: cannot connect to "
		    "rpcbind at %s (is it running?)", BART_PROG,
		    _PATH_RPCBINDSOCK);
		return -1;
	}
	for (i = 0; i < r->n; i++) {
		re = &r->ent[i];
		if (!set_on(cl, re->nconf->nc_netid, re->uaddr)) {
			explain(re);
			goto fail;
		}
		re->registered = 1;
	}
	if (watch_start(r) == -1)
		goto fail;
	clnt_destroy(cl);
	log_info("program %u version %u registered on %d transports",
	    BART_PROG, BART_VERS, r->n);
	return 0;
fail:
	for (i = 0; i < r->n; i++) {
		re = &r->ent[i];
		if (re->registered)
			unset_on(cl, re->nconf->nc_netid);
		re->registered = 0;
	}
	clnt_destroy(cl);
	return -1;
}

/*
 * Put back what rpcbind lost: all of it after a restart without -w,
 * or single netids someone deleted (rpcinfo -d -T tcp).  An entry
 * that now names another address is someone else's: left alone, and
 * said once.  On the watcher thread.
 */
static void
recheck(struct reg *r)
{
	rpcblist_ptr	 list;
	struct reg_ent	*re;
	CLIENT		*cl;
	rpcb		*m;
	char		 redone[64];
	int		 i, n = 0;

	if ((cl = rpcb_local()) == NULL)
		return;			/* rpcbind down: try next time */
	if (dump_on(cl, &list) == -1) {
		clnt_destroy(cl);
		return;
	}
	redone[0] = '\0';
	for (i = 0; i < r->n; i++) {
		re = &r->ent[i];
		if (!re->registered)
			continue;
		if ((m = find(list, re->nconf->nc_netid)) != NULL) {
			if (strcmp(m->r_addr, re->uaddr) != 0 && !re->taken) {
				log_warnx("rpcbind now has %s for program "
				    "%u, not our %s; left alone",
				    human(m->r_netid, m->r_addr), BART_PROG,
				    re->uaddr);
				re->taken = 1;
			} else if (strcmp(m->r_addr, re->uaddr) == 0)
				re->taken = 0;
			continue;
		}
		if (!set_on(cl, re->nconf->nc_netid, re->uaddr))
			continue;
		n++;
		strncat(redone, " ", sizeof(redone) - strlen(redone) - 1);
		strncat(redone, re->nconf->nc_netid,
		    sizeof(redone) - strlen(redone) - 1);
	}
	free_dump(&list);
	clnt_destroy(cl);
	if (n > 0)
		log_info("rpcbind had lost our registration on%s; "
		    "registered again", redone);
}

static void *
watch_main(void *arg)
{
	struct reg	*r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->kick && !r->quit)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->quit)
			break;
		r->kick = 0;
		pthread_mutex_unlock(&r->mu);
		recheck(r);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Start the watcher; signals stay with the main thread. */
static int
watch_start(struct reg *r)
{
	sigset_t	all, old;
	int		rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&r->thr, NULL, watch_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		log_warn("cannot start the rpcbind watcher");
		return -1;
	}
	r->running = 1;
	return 0;
}

/*
 * Time for the periodic check (the loop calls this every 2 s).  Never
 * waits: it wakes the watcher, and a check still running (rpcbind slow
 * to answer) absorbs the request.
 */
void
reg_recheck(struct reg *r)
{
	if (r == NULL || !r->running)
		return;
	pthread_mutex_lock(&r->mu);
	r->kick = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/*
 * Unregister the entries that are still ours, and forget them.  With
 * short timeouts: a hung rpcbind must not hold up a stop for minutes.
 */
void
reg_exit(struct reg *r)
{
	rpcblist_ptr	 list = NULL;
	struct reg_ent	*re;
	CLIENT		*cl;
	rpcb		*m;
	int		 i, known = 0, any = 0;

	if (r == NULL)
		return;
	if (r->running) {		/* ORDER: before ent[] is ours again */
		pthread_mutex_lock(&r->mu);
		r->quit = 1;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thr, NULL);
		r->running = 0;
	}
	if ((cl = rpcb_local()) != NULL)
		known = dump_on(cl, &list) == 0;
	for (i = 0; i < r->n; i++) {
		re = &r->ent[i];
		any |= re->registered;
		if (re->registered && known &&
		    (m = find(list, re->nconf->nc_netid)) != NULL &&
		    strcmp(m->r_addr, re->uaddr) == 0 &&
		    !unset_on(cl, re->nconf->nc_netid))
			log_warnx("could not unregister %s",
			    re->nconf->nc_netid);
		free(re->uaddr);
		freenetconfigent(re->nconf);
	}
	if (any && !known)
		log_warnx("rpcbind did not answer: registrations of program "
		    "%u left in place", BART_PROG);
	free_dump(&list);
	if (cl != NULL)
		clnt_destroy(cl);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
