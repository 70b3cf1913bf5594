/* push.c: subscriptions and their delivery threads. */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <rpc/rpc.h>
#include <rpc/rpcb_prot.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "push.h"
#include "util.h"

#define FAILED_KEEP_SECS	30	/* a failed sub stays for RENEW */
#define THREAD_STACK		(256 * 1024)

enum sub_phase {
	PHASE_PROBING,
	PHASE_ACTIVE,
	PHASE_FAILED,		/* reason in fail; kept a while for RENEW */
	PHASE_GONE		/* unsubscribed; reaped when thread ends */
};

struct sub {
	uint64_t		 id;
	unsigned char		 token[BART_TOKEN_LEN];
	struct sockaddr_storage	 peer;		/* where SUBSCRIBE came from */
	socklen_t		 peerlen;
	long			 uid;		/* local subscriber, or -1 */
	char			 peerstr[BART_HOST_MAX];
	uint32_t		 prog, vers;
	uint64_t		 next;		/* first seq not yet delivered */
	enum sub_phase		 phase;
	bart_status		 fail;
	time_t			 failed_at;
	volatile int		 quit;
	volatile int		 done;
	pthread_t		 thr;
	struct push		*push;
};

struct push {
	pthread_mutex_t		 mu;		/* subs[], phases */
	struct chat_ring	*ring;
	struct push_limits	 lim;
	struct sub		**subs;
	unsigned int		 nsubs, cap;
	uint64_t		 next_id;
};

struct push *
push_init(struct chat_ring *ring, const struct push_limits *lim)
{
	struct push	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	p->ring = ring;
	p->lim = *lim;
	/* Random start: ids of a restarted daemon do not match old ones. */
	p->next_id = util_random_u64() >> 16;
	return p;
}

/* Stop every delivery thread; a thread stuck in a call ends by timeout. */
void
push_exit(struct push *p)
{
	unsigned int	i;
	uint64_t	deadline;
	int		busy;

	if (p == NULL)
		return;
	/* GONE: push_reap frees every sub whose thread has ended. */
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nsubs; i++) {
		p->subs[i]->quit = 1;
		p->subs[i]->phase = PHASE_GONE;
	}
	pthread_mutex_unlock(&p->mu);
	chat_wake(p->ring);
	deadline = util_now_us() + 1000000;
	do {
		busy = 0;
		pthread_mutex_lock(&p->mu);
		for (i = 0; i < p->nsubs; i++)
			busy += !p->subs[i]->done;
		pthread_mutex_unlock(&p->mu);
		if (busy)
			usleep(10000);
	} while (busy && util_now_us() < deadline);
	if (busy) {
		/* Threads still in a call own their sub; leave them. */
		log_debug("%d delivery threads still busy at exit", busy);
		return;
	}
	push_reap(p);
	free(p->subs);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static int
same_host(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return 0;
	if (b->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (b->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 1;			/* AF_UNIX: all local callers */
}

/* Caller holds mu. */
static struct sub *
find_sub(struct push *p, const chat_sub_ref *ref)
{
	unsigned int	i;
	struct sub	*s;

	for (i = 0; i < p->nsubs; i++) {
		s = p->subs[i];
		if (s->id == ref->id && s->phase != PHASE_GONE &&
		    memcmp(s->token, ref->token, BART_TOKEN_LEN) == 0)
			return s;
	}
	return NULL;
}

/*
 * Where to call back: the IP the SUBSCRIBE came from, never a host the
 * client names.  A local-transport caller is on this host: loopback.
 */
static void
callback_host(const struct sub *s, struct sockaddr_storage *ss,
    socklen_t *len, const char **netid)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (s->peer.ss_family == AF_INET6) {
		memcpy(ss, &s->peer, sizeof(struct sockaddr_in6));
		*len = sizeof(struct sockaddr_in6);
		*netid = "tcp6";
		return;
	}
	if (s->peer.ss_family == AF_INET)
		memcpy(ss, &s->peer, sizeof(struct sockaddr_in));
	else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	*len = sizeof(struct sockaddr_in);
	*netid = "tcp";
}

static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

/* A TCP CLIENT to SS with every wait bounded by the sub's timeout. */
static CLIENT *
timed_client(struct sub *s, struct sockaddr_storage *ss, socklen_t len,
    uint32_t prog, uint32_t vers)
{
	struct netbuf	 nb;
	struct timeval	 tv;
	CLIENT		*cl;
	int		 fd, ms = s->push->lim.timeout_ms;

	if ((fd = util_connect_timed((struct sockaddr *)ss, len, ms)) == -1)
		return NULL;
	/* A peer that stops reading must not block our writes for ever. */
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	nb.buf = ss;
	nb.len = nb.maxlen = len;
	if ((cl = clnt_vc_create(fd, &nb, prog, vers, 0, 0)) == NULL) {
		close(fd);
		return NULL;
	}
	clnt_control(cl, CLSET_FD_CLOSE, NULL);
	return cl;
}

static struct timeval
sub_timeout(struct sub *s)
{
	struct timeval	tv;

	tv.tv_sec = s->push->lim.timeout_ms / 1000;
	tv.tv_usec = (s->push->lim.timeout_ms % 1000) * 1000;
	return tv;
}

/* rpcbind's name for the registering uid: "superuser" or the number. */
static int
owner_is(const char *owner, long uid)
{
	char	buf[24];

	if (owner == NULL)
		return 0;
	if (uid == 0)
		return strcmp(owner, "superuser") == 0;
	snprintf(buf, sizeof(buf), "%ld", uid);
	return strcmp(owner, buf) == 0;
}

/*
 * The callback's address from the DUMP of this host's rpcbind, only if
 * the subscriber's own uid registered it: a local user must not point
 * our callbacks at another user's program.  0, or -1 with *why.
 */
static int
local_owned_uaddr(struct sub *s, CLIENT *cl, const char *netid,
    char **uaddr, bart_status *why)
{
	rpcblist_ptr	 list = NULL, l;
	enum clnt_stat	 st;
	const char	*owner = NULL;

	st = clnt_call(cl, RPCBPROC_DUMP, XDR_VOID, NULL,
	    (xdrproc_t)xdr_rpcblist_ptr, (char *)&list, sub_timeout(s));
	if (st != RPC_SUCCESS) {
		*why = BART_ECBRPCBIND;
		return -1;
	}
	*why = BART_ECBNOTREG;
	for (l = list; l != NULL; l = l->rpcb_next) {
		if (l->rpcb_map.r_prog != s->prog ||
		    l->rpcb_map.r_vers != s->vers ||
		    l->rpcb_map.r_netid == NULL ||
		    strcmp(l->rpcb_map.r_netid, netid) != 0)
			continue;
		owner = l->rpcb_map.r_owner;
		if (owner_is(owner, s->uid) && l->rpcb_map.r_addr != NULL)
			*uaddr = strdup(l->rpcb_map.r_addr);
		break;
	}
	if (owner != NULL && *uaddr == NULL)
		log_info("subscription %llu: callback program 0x%x is "
		    "registered by %s, not by uid %ld: refused",
		    (unsigned long long)s->id, s->prog, owner, s->uid);
	xdr_free((xdrproc_t)xdr_rpcblist_ptr, (char *)&list);
	return *uaddr != NULL ? 0 : -1;
}

/*
 * Ask rpcbind on the subscriber's host for its callback port, connect
 * and probe with NULLPROC.  Returns a ready CLIENT or NULL with *why.
 */
static CLIENT *
callback_connect(struct sub *s, bart_status *why)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*netid;
	struct netconfig	*nconf;
	struct netbuf		*nb = NULL;
	CLIENT			*cl;
	RPCB			 parms;
	char			*uaddr = NULL;
	uint16_t		 port = 0;
	enum clnt_stat		 st;

	callback_host(s, &ss, &len, &netid);
	set_port(&ss, 111);
	if ((cl = timed_client(s, &ss, len, RPCBPROG, RPCBVERS)) == NULL) {
		*why = BART_ECBRPCBIND;
		return NULL;
	}
	if (s->uid >= 0) {
		st = local_owned_uaddr(s, cl, netid, &uaddr, why);
		clnt_destroy(cl);
		if (st != 0)
			return NULL;
	} else {
		memset(&parms, 0, sizeof(parms));
		parms.r_prog = s->prog;
		parms.r_vers = s->vers;
		parms.r_netid = (char *)(uintptr_t)netid;
		parms.r_addr = parms.r_owner = (char *)(uintptr_t)"";
		st = clnt_call(cl, RPCBPROC_GETADDR, (xdrproc_t)xdr_rpcb,
		    (char *)&parms, (xdrproc_t)xdr_wrapstring,
		    (char *)&uaddr, sub_timeout(s));
		clnt_destroy(cl);
		if (st != RPC_SUCCESS) {
			*why = BART_ECBRPCBIND;
			return NULL;
		}
	}
	if (uaddr != NULL && *uaddr != '\0' &&
	    (nconf = getnetconfigent(netid)) != NULL) {
		if ((nb = uaddr2taddr(nconf, uaddr)) != NULL) {
			/* Take only the port: the host stays the caller's. */
			if (nb->len >= sizeof(struct sockaddr_in))
				port = ntohs(((struct sockaddr_in *)
				    nb->buf)->sin_port);
			free(nb->buf);
			free(nb);
		}
		freenetconfigent(nconf);
	}
	if (s->uid >= 0)
		free(uaddr);
	else
		xdr_free((xdrproc_t)xdr_wrapstring, (char *)&uaddr);
	if (port == 0) {
		*why = BART_ECBNOTREG;
		return NULL;
	}
	set_port(&ss, port);
	if ((cl = timed_client(s, &ss, len, s->prog, s->vers)) == NULL) {
		*why = BART_ECBNOANSWER;
		return NULL;
	}
	if (clnt_call(cl, NULLPROC, XDR_VOID, NULL,
	    XDR_VOID, NULL, sub_timeout(s)) != RPC_SUCCESS) {
		clnt_destroy(cl);
		*why = BART_ECBNOANSWER;
		return NULL;
	}
	return cl;
}

static void
sub_fail(struct sub *s, bart_status why)
{
	struct push	*p = s->push;

	pthread_mutex_lock(&p->mu);
	if (s->phase != PHASE_GONE) {
		s->phase = PHASE_FAILED;
		s->fail = why;
		s->failed_at = time(NULL);
	}
	pthread_mutex_unlock(&p->mu);
	log_info("subscription %llu from %s dropped: %s",
	    (unsigned long long)s->id, s->peerstr, util_status_str(why));
}

/* Send one batch; 0 when the subscriber took it. */
static int
deliver_batch(struct sub *s, CLIENT *cl, chat_msg *msgs, int n)
{
	deliver_args	a;
	bart_res	r;
	enum clnt_stat	st;

	memcpy(a.token, s->token, BART_TOKEN_LEN);
	a.sub_id = s->id;
	a.msgs.msgs_len = (u_int)n;
	a.msgs.msgs_val = msgs;
	memset(&r, 0, sizeof(r));
	st = clnt_call(cl, DELIVER, (xdrproc_t)xdr_deliver_args, (char *)&a,
	    (xdrproc_t)xdr_bart_res, (char *)&r, sub_timeout(s));
	if (st != RPC_SUCCESS) {
		log_debug("deliver to %s: %s", s->peerstr, clnt_sperrno(st));
		return -1;
	}
	if (r.status != BART_OK) {
		log_info("subscriber %s refused delivery: %s", s->peerstr,
		    util_status_str(r.status));
		return -2;
	}
	return 0;
}

/* The delivery thread: probe, then push batches in order until told. */
static void *
sub_main(void *arg)
{
	struct sub	*s = arg;
	struct push	*p = s->push;
	CLIENT		*cl = NULL;
	chat_msg	 msgs[BART_BATCH_MAX];
	bart_status	 why = BART_OK;
	int		 n, fails = 0, rc;

	if ((cl = callback_connect(s, &why)) == NULL) {
		sub_fail(s, why);
		goto out;
	}
	pthread_mutex_lock(&p->mu);
	if (s->phase == PHASE_PROBING)
		s->phase = PHASE_ACTIVE;
	pthread_mutex_unlock(&p->mu);
	log_debug("subscription %llu from %s active",
	    (unsigned long long)s->id, s->peerstr);
	while (!s->quit) {
		if (!chat_wait(p->ring, s->next - 1, 1000, &s->quit))
			continue;
		if (s->quit)
			break;
		n = chat_copy(p->ring, s->next - 1, BART_BATCH_MAX,
		    (size_t)512 * 1024, msgs);
		if (n <= 0)
			continue;
		if (cl == NULL)
			cl = callback_connect(s, &why);
		rc = cl != NULL ? deliver_batch(s, cl, msgs, n) : -1;
		if (rc == 0) {
			s->next = msgs[n - 1].seq + 1;
			fails = 0;
		}
		chat_msgs_free(msgs, n);
		if (rc == -2) {
			sub_fail(s, BART_EBADTOKEN);
			break;
		}
		if (rc == 0)
			continue;
		if (cl != NULL) {
			clnt_destroy(cl);
			cl = NULL;
		}
		if (++fails >= p->lim.max_failures) {
			sub_fail(s, BART_ECBDROPPED);
			break;
		}
		usleep((useconds_t)fails * 100000);
	}
out:
	if (cl != NULL)
		clnt_destroy(cl);
	s->done = 1;
	return NULL;
}

/* Caller holds mu.  Are PEER's or all live subscriptions at a cap? */
static int
over_cap(struct push *p, const struct sockaddr *peer)
{
	unsigned int	i, same = 0, live = 0;

	for (i = 0; i < p->nsubs; i++) {
		if (p->subs[i]->phase == PHASE_GONE ||
		    p->subs[i]->phase == PHASE_FAILED)
			continue;
		live++;
		same += same_host(&p->subs[i]->peer, peer);
	}
	return same >= p->lim.per_peer || live >= p->lim.total;
}

/*
 * Would a subscription from PEER fit under the caps?  Asked before the
 * caller's uid is looked up (a scan of /proc/net for loopback peers),
 * so a flood of SUBSCRIBEs past the cap costs the RPC thread little.
 */
bart_status
push_admit(struct push *p, const struct sockaddr *peer)
{
	bart_status	st;

	pthread_mutex_lock(&p->mu);
	st = over_cap(p, peer) ? BART_ETOOMANY : BART_OK;
	pthread_mutex_unlock(&p->mu);
	return st;
}

/*
 * UID is the subscriber's uid if it runs on this host (the callback
 * must then be registered by that uid), PEER_REMOTE if it is on
 * another host, PEER_UID_UNKNOWN if it is local but its uid cannot be
 * told (refused).
 */
bart_status
push_subscribe(struct push *p, const struct sockaddr *peer, socklen_t len,
    long uid, uint32_t prog, uint32_t vers, uint64_t last_seen,
    chat_sub_ok *ok)
{
	pthread_attr_t	 attr;
	struct sub	*s, **ns;
	bart_status	 st = BART_OK;

	if (prog < BART_CB_PROG_MIN || prog > BART_CB_PROG_MAX)
		return BART_ECBPROG;
	if (len > sizeof(struct sockaddr_storage))
		return BART_EINVAL;
	if (uid == PEER_UID_UNKNOWN) {
		log_info("subscription from a local caller of unknown uid: "
		    "refused");
		return BART_ECBNOTREG;
	}
	pthread_mutex_lock(&p->mu);
	if (over_cap(p, peer)) {
		st = BART_ETOOMANY;
		goto out;
	}
	if (p->nsubs == p->cap) {
		ns = reallocarray(p->subs, p->cap ? p->cap * 2 : 16,
		    sizeof(*ns));
		if (ns == NULL) {
			st = BART_ETOOMANY;
			goto out;
		}
		p->subs = ns;
		p->cap = p->cap ? p->cap * 2 : 16;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		st = BART_ETOOMANY;
		goto out;
	}
	s->id = p->next_id++;
	util_random(s->token, sizeof(s->token));
	memcpy(&s->peer, peer, len);
	s->peerlen = len;
	s->uid = uid;
	util_addr_str(peer, s->peerstr, sizeof(s->peerstr));
	s->prog = prog;
	s->vers = vers;
	s->next = last_seen + 1;
	s->phase = PHASE_PROBING;
	s->push = p;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	if (pthread_create(&s->thr, &attr, sub_main, s) != 0) {
		pthread_attr_destroy(&attr);
		free(s);
		st = BART_ETOOMANY;
		goto out;
	}
	pthread_attr_destroy(&attr);
	p->subs[p->nsubs++] = s;
	ok->id = s->id;
	memcpy(ok->token, s->token, BART_TOKEN_LEN);
	log_info("subscription %llu from %s, callback program 0x%x",
	    (unsigned long long)s->id, s->peerstr, prog);
out:
	pthread_mutex_unlock(&p->mu);
	return st;
}

bart_status
push_unsubscribe(struct push *p, const chat_sub_ref *ref)
{
	struct sub	*s;

	pthread_mutex_lock(&p->mu);
	if ((s = find_sub(p, ref)) == NULL) {
		pthread_mutex_unlock(&p->mu);
		return BART_ENOSUB;
	}
	s->phase = PHASE_GONE;
	s->quit = 1;
	pthread_mutex_unlock(&p->mu);
	chat_wake(p->ring);
	log_debug("subscription %llu ended", (unsigned long long)ref->id);
	return BART_OK;
}

/* Heartbeat: is this subscription still alive, and in which phase? */
bart_status
push_renew(struct push *p, const chat_sub_ref *ref, sub_state *state)
{
	struct sub	*s;
	bart_status	 st = BART_OK;

	pthread_mutex_lock(&p->mu);
	if ((s = find_sub(p, ref)) == NULL)
		st = BART_ENOSUB;
	else if (s->phase == PHASE_FAILED) {
		st = s->fail;
		s->phase = PHASE_GONE;	/* reported once; then forgotten */
	} else
		*state = s->phase == PHASE_ACTIVE ? SUB_ACTIVE : SUB_PROBING;
	pthread_mutex_unlock(&p->mu);
	return st;
}

unsigned int
push_count(struct push *p)
{
	unsigned int	i, n = 0;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nsubs; i++)
		n += p->subs[i]->phase == PHASE_ACTIVE ||
		    p->subs[i]->phase == PHASE_PROBING;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* From the main loop: free subscriptions whose threads have ended. */
void
push_reap(struct push *p)
{
	struct sub	*s;
	unsigned int	 i = 0;
	time_t		 now = time(NULL);

	pthread_mutex_lock(&p->mu);
	while (i < p->nsubs) {
		s = p->subs[i];
		if (s->phase == PHASE_FAILED &&
		    now - s->failed_at > FAILED_KEEP_SECS)
			s->phase = PHASE_GONE;
		if (!s->done || s->phase != PHASE_GONE) {
			i++;
			continue;
		}
		pthread_join(s->thr, NULL);
		free(s);
		p->subs[i] = p->subs[--p->nsubs];
	}
	pthread_mutex_unlock(&p->mu);
}
