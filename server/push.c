/* SPDX-License-Identifier: ISC */
/*
 * push.c: chat subscriptions, and one delivery thread that makes every
 * callback over non-blocking sockets, the way rpc.statd's rmtcall.c
 * makes its calls: each call is encoded with xdr_callmsg and the
 * rpcgen routine into a buffer behind a record mark, written as the
 * socket takes it, and its reply matched by xid.  Each subscriber
 * walks a small state machine:
 *
 *	QUEUED -> LOOKUP (GETADDR at its host's rpcbind, port 111/tcp)
 *	       -> PROBE (connect to the callback port, NULLPROC)
 *	       -> IDLE <-> DELIVER (up to PUSH_WINDOW DELIVERs in flight)
 *	failure after it was active: BACKOFF -> QUEUED, dropped after
 *	max_failures in a row; failure before: FAILED with the reason.
 *
 * Every step has one deadline for the whole step (connect, write and
 * the complete reply), so a callback that dribbles its reply a byte at
 * a time is cut off like one that never answers.
 *
 * Threads.  The RPC thread calls the push_* functions; the delivery
 * thread (push_main) owns every socket.  The fields of struct sub and
 * struct push are marked: [const] set before the sub is published,
 * [mu] under push.mu, [dt] the delivery thread's alone.  The RPC thread
 * hands new and ended subscriptions to the delivery thread through the
 * inbox (under mu) and an eventfd; only the delivery thread frees a
 * sub.  The chat ring has its own lock and pokes the same eventfd.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <rpc/rpc.h>
#include <rpc/rpcb_prot.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "push.h"
#include "util.h"

#define FAILED_KEEP_US	(30 * 1000000ULL) /* a failed sub waits for RENEW */
#define MAX_SETUP	64		/* lookups and probes at a time */
#define IN_MAX		512		/* a reply record (verifier <= 400) */
#define BATCH_BYTES	(64 * 1024)	/* encoded messages per DELIVER */
#define PUSH_WINDOW	4		/* DELIVERs in flight per sub */
#define IDLE_WAKE_MS	1000
#define PEER_IDLE_US	(60 * 1000000ULL) /* forget a peer without subs */
#define RPCB_PORT	111

enum sub_phase {			/* what RENEW reports */
	PHASE_PROBING,
	PHASE_ACTIVE,
	PHASE_FAILED			/* reason in fail */
};

enum sub_step {				/* the delivery thread's state */
	STEP_NEW,			/* not yet seen by the thread */
	STEP_QUEUED,			/* waiting for a setup slot */
	STEP_LOOKUP,			/* GETADDR at the host's rpcbind */
	STEP_PROBE,			/* connect + NULLPROC */
	STEP_IDLE,			/* active (fd -1: reconnect on use) */
	STEP_DELIVER,			/* DELIVERs in flight (s->nfl) */
	STEP_BACKOFF,			/* after a failure, until deadline */
	STEP_DEAD			/* failed: no socket, waits for RENEW */
};

/* Who a subscription counts against: a local uid, an address, a /64. */
struct peerkey {
	uint8_t		kind;		/* KEY_* */
	uint8_t		b[16];
};
#define KEY_NONE	0
#define KEY_UID		1
#define KEY_V4		4
#define KEY_V6		6

struct peer {				/* all [mu] */
	struct peer	*next;
	struct peerkey	 key;
	unsigned int	 nsubs;		/* subscriptions held (any phase) */
	double		 tokens;	/* SUBSCRIBE rate bucket */
	uint64_t	 last_us;
};

/* A DELIVER in flight: its xid, its last message, when it was sent. */
struct flight {
	uint32_t	xid;
	int		acked;		/* answered, after an older one */
	uint64_t	last;
	uint64_t	at;		/* us */
};

/*
 * What a sub's socket holds back: the bytes of a call it did not take
 * at once, and a reply record begun but not complete. [dt]
 */
struct io {
	unsigned char	*out;
	size_t		 outlen, outoff;
	size_t		 inlen;
	unsigned char	 in[IN_MAX + 8];
};

union addr {
	struct sockaddr		sa;
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
};

struct sub {
	/* [const] */
	uint64_t	 id;
	unsigned char	 token[BART_TOKEN_LEN];
	union addr	 host;		/* the SUBSCRIBE's source, port 0 */
	socklen_t	 hostlen;
	union addr	 via;		/* our address it came to, port 0 */
	int		 hasvia;
	long		 uid;		/* local subscriber, or PEER_REMOTE */
	uint32_t	 prog, vers;
	char		 peerstr[48];
	struct peer	*peer;		/* pointee [mu] */

	/* [mu] */
	enum sub_phase	 phase;
	bart_status	 fail;
	int		 inhash;	/* findable by id; counts in caps */
	struct sub	*hnext;

	/* [dt] */
	enum sub_step	 step;
	int		 fd;
	int		 connecting;
	int		 watched;	/* registered with epoll */
	int		 rdhup;		/* the peer has closed its side */
	uint32_t	 xid;
	uint64_t	 next;		/* first seq not yet acknowledged */
	uint64_t	 sent;		/* last seq sent (next - 1 if none) */
	struct flight	 fl[PUSH_WINDOW];	/* in flight, oldest first */
	unsigned int	 nfl;
	int		 proven;	/* a DELIVER answered on this fd */
	uint64_t	 deadline;	/* us, while armed */
	int		 armed;		/* deadline is set */
	uint64_t	 hkey;		/* when its heap entry comes up */
	unsigned int	 hpos;		/* 1 + index in push.heap; 0: none */
	int		 fails;
	int		 was_active;
	unsigned int	 slot;		/* index in push.list */
	struct sub	*qnext;		/* setup queue */
	struct io	*io;
};

struct op {
	struct sub	*s;
	int		 gone;		/* 0: new, 1: ended */
};

struct push {
	/* [const] */
	struct chat_ring	*ring;
	struct push_limits	 lim;
	int			 evfd;	/* wakes the delivery thread */
	int			 epfd;	/* [dt] after start */
	pthread_t		 thr;
	unsigned int		 nbuckets;	/* power of two */

	/* [mu] */
	pthread_mutex_t		 mu;
	struct sub		**byid;		/* hash of held subs */
	struct peer		**peers;	/* hash of peers */
	unsigned int		 npeers;
	unsigned int		 held;		/* subs in byid */
	unsigned int		 live;		/* ... probing or active */
	uint64_t		 next_id;
	struct op		*inbox;
	unsigned int		 ninbox, inboxcap;
	int			 quit;
	struct push_counters	 ctr;

	/* [dt] */
	struct sub		**list;		/* every sub the thread has */
	unsigned int		 nlist, listcap;
	struct sub		*qhead, *qtail;	/* waiting for setup */
	int			 nsetup;	/* subs in LOOKUP or PROBE */
	struct sub		**heap;		/* armed deadlines, a min-heap */
	unsigned int		 nheap;
	uint64_t		 seen_newest;
	struct {			/* one batch, shared by the fan-out */
		uint64_t	after, newest;
		int		n;
		chat_msg	msgs[BART_BATCH_MAX];
		/* Its DELIVER record, encoded once, patched per sub. */
		int		encoded;
		unsigned char	*enc;
		size_t		enclen, enccap, argoff;
	}			 batch;
	unsigned char		 rbuf[IN_MAX + 8];	/* a reply, read whole */
	unsigned char		*wbuf;		/* several DELIVERs, one write */
	size_t			 wlen, wcap;
	struct push_counters	 dctr;	/* folded into ctr under mu */
};

static void	*push_main(void *);

static unsigned int
hash64(uint64_t v, unsigned int nb)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (unsigned int)v & (nb - 1);
}

static unsigned int
hashkey(const struct peerkey *k, unsigned int nb)
{
	uint64_t	a, b;

	memcpy(&a, k->b, 8);
	memcpy(&b, k->b + 8, 8);
	return hash64(a ^ (b * 31) ^ k->kind, nb);
}

struct push *
push_init(struct chat_ring *ring, const struct push_limits *lim)
{
	struct push	*p;
	sigset_t	 all, old;
	unsigned int	 nb = 64;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->ring = ring;
	p->lim = *lim;
	if (p->lim.sub_rate == 0)
		p->lim.sub_rate = PUSH_SUB_RATE;
	if (p->lim.sub_burst == 0)
		p->lim.sub_burst = 4 * p->lim.sub_rate;
	while (nb < p->lim.total && nb < (1u << 20))
		nb <<= 1;
	p->nbuckets = nb;
	p->evfd = p->epfd = -1;
	pthread_mutex_init(&p->mu, NULL);
	/* Random start: ids of a restarted daemon do not match old ones. */
	p->next_id = util_random_u64() >> 16;
	if ((p->byid = calloc(nb, sizeof(*p->byid))) == NULL ||
	    (p->peers = calloc(nb, sizeof(*p->peers))) == NULL ||
	    (p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (p->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		goto fail;
	chat_watch(ring, p->evfd);
	/* ORDER: signals go to the main thread, never to this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&p->thr, NULL, push_main, p) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		chat_watch(ring, -1);
		goto fail;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;
fail:
	if (p->evfd != -1)
		close(p->evfd);
	if (p->epfd != -1)
		close(p->epfd);
	free(p->byid);
	free(p->peers);
	pthread_mutex_destroy(&p->mu);
	free(p);
	return NULL;
}

static void
wake(struct push *p)
{
	uint64_t	one = 1;

	if (write(p->evfd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("push: eventfd");
}

static void
io_free(struct sub *s)
{
	if (s->io != NULL) {
		free(s->io->out);
		free(s->io);
		s->io = NULL;
	}
}

static void
sub_close(struct push *p, struct sub *s)
{
	if (s->fd != -1) {
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
		s->fd = -1;
	}
	s->watched = 0;
	s->rdhup = 0;
	s->connecting = 0;
	/* What was in flight is sent again on the next connection. */
	s->nfl = 0;
	s->sent = s->next - 1;
	s->proven = 0;
	io_free(s);
}

/*
 * Stop the delivery thread and free everything.  Every sub is either
 * in the thread's list or in a "new" op of the inbox, exactly once.
 */
void
push_exit(struct push *p)
{
	unsigned int	 i;
	struct peer	*pe, *pn;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_mutex_unlock(&p->mu);
	wake(p);
	/* No call in the thread blocks: it ends within one turn. */
	pthread_join(p->thr, NULL);
	chat_watch(p->ring, -1);
	for (i = 0; i < p->ninbox; i++)
		if (!p->inbox[i].gone) {
			sub_close(p, p->inbox[i].s);
			free(p->inbox[i].s);
		}
	for (i = 0; i < p->nlist; i++) {
		sub_close(p, p->list[i]);
		free(p->list[i]);
	}
	for (i = 0; i < p->nbuckets; i++)
		for (pe = p->peers[i]; pe != NULL; pe = pn) {
			pn = pe->next;
			free(pe);
		}
	chat_msgs_free(p->batch.msgs, p->batch.n);
	free(p->batch.enc);
	free(p->wbuf);
	free(p->inbox);
	free(p->list);
	free(p->heap);
	free(p->byid);
	free(p->peers);
	close(p->evfd);
	close(p->epfd);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* ---- peers, caps and the SUBSCRIBE rate (RPC thread, under mu) ----- */

/* The key an address counts under: IPv4 address, or IPv6 /64. */
static void
addr_key(const struct sockaddr *sa, struct peerkey *k)
{
	const struct sockaddr_in6	*s6 = (const void *)sa;

	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		k->kind = KEY_V4;
		memcpy(k->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		k->kind = KEY_V4;
		memcpy(k->b, &s6->sin6_addr.s6_addr[12], 4);
	} else if (sa->sa_family == AF_INET6) {
		k->kind = KEY_V6;
		memcpy(k->b, &s6->sin6_addr, 8);
	}
}

static void
uid_key(long uid, struct peerkey *k)
{
	memset(k, 0, sizeof(*k));
	k->kind = KEY_UID;
	memcpy(k->b, &uid, sizeof(uid));
}

static struct peer *
peer_find(struct push *p, const struct peerkey *k)
{
	struct peer	*pe;

	if (k->kind == KEY_NONE)
		return NULL;
	for (pe = p->peers[hashkey(k, p->nbuckets)]; pe != NULL; pe = pe->next)
		if (memcmp(&pe->key, k, sizeof(*k)) == 0)
			return pe;
	return NULL;
}

static void
peer_refill(struct push *p, struct peer *pe, uint64_t now)
{
	pe->tokens += (double)(now - pe->last_us) * p->lim.sub_rate / 1e6;
	if (pe->tokens > p->lim.sub_burst)
		pe->tokens = p->lim.sub_burst;
	pe->last_us = now;
}

static struct peer *
peer_get(struct push *p, const struct peerkey *k, uint64_t now)
{
	struct peer	*pe;
	unsigned int	 h;

	if ((pe = peer_find(p, k)) != NULL) {
		peer_refill(p, pe, now);
		return pe;
	}
	/* Bounded: peers without subs are forgotten by push_reap. */
	if (p->npeers >= 4 * p->nbuckets || (pe = calloc(1, sizeof(*pe))) ==
	    NULL)
		return NULL;
	pe->key = *k;
	pe->tokens = p->lim.sub_burst;
	pe->last_us = now;
	h = hashkey(k, p->nbuckets);
	pe->next = p->peers[h];
	p->peers[h] = pe;
	p->npeers++;
	return pe;
}

/*
 * Would a subscription from PEER fit under the caps and the rate?
 * Asked before the caller's uid is looked up, so a flood of SUBSCRIBEs
 * past a cap costs the RPC thread little.  Only the total and what is
 * known of this address can be told here; push_subscribe decides.
 */
bart_status
push_admit(struct push *p, const struct sockaddr *peer)
{
	struct peerkey	 k;
	struct peer	*pe;
	bart_status	 st = BART_OK;

	addr_key(peer, &k);
	pthread_mutex_lock(&p->mu);
	if (p->held >= p->lim.total)
		st = BART_ETOOMANY;
	else if ((pe = peer_find(p, &k)) != NULL) {
		peer_refill(p, pe, util_now_us());
		if (pe->tokens < 1.0)
			st = BART_ERATE;
		else if (pe->nsubs >= p->lim.per_peer)
			st = BART_ETOOMANY;
	}
	if (st == BART_ERATE)
		p->ctr.rated++;
	pthread_mutex_unlock(&p->mu);
	return st;
}

/* Caller holds mu.  S leaves the caps and can no longer be found. */
static void
unhash(struct push *p, struct sub *s)
{
	struct sub	**pp;

	if (!s->inhash)
		return;
	for (pp = &p->byid[hash64(s->id, p->nbuckets)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	s->inhash = 0;
	p->held--;
	if (s->phase != PHASE_FAILED)
		p->live--;
	s->peer->nsubs--;
}

/* Caller holds mu. */
static int
post(struct push *p, struct sub *s, int gone)
{
	struct op	*n;

	if (p->ninbox == p->inboxcap) {
		n = reallocarray(p->inbox, p->inboxcap ? p->inboxcap * 2 : 64,
		    sizeof(*n));
		if (n == NULL)
			return -1;
		p->inbox = n;
		p->inboxcap = p->inboxcap ? p->inboxcap * 2 : 64;
	}
	p->inbox[p->ninbox].s = s;
	p->inbox[p->ninbox].gone = gone;
	p->ninbox++;
	return 0;
}

/*
 * UID is the subscriber's uid if it runs on this host (its callback
 * must then be served by a socket of that uid), PEER_REMOTE if it is
 * on another host, PEER_UID_UNKNOWN if it is local but its uid cannot
 * be told (refused).  Local subscribers count per uid, remote ones per
 * IPv4 address or IPv6 /64; probing and failed ones count too, so a
 * flood of failing SUBSCRIBEs only fills the flooder's own share.
 */
bart_status
push_subscribe(struct push *p, const struct sockaddr *peer, socklen_t len,
    long uid, uint32_t prog, uint32_t vers, uint64_t last_seen,
    chat_sub_ok *ok)
{
	return push_subscribe_at(p, peer, len, NULL, uid, prog, vers,
	    last_seen, ok);
}

/*
 * The same, knowing VIA, our address the SUBSCRIBE came to (or NULL):
 * callbacks then leave from that address, so a client that accepts
 * them only from the server's address it used (lib/cbsvc.c) sees that
 * address even on a host with several.
 */
bart_status
push_subscribe_at(struct push *p, const struct sockaddr *peer,
    socklen_t len, const struct sockaddr *via, long uid, uint32_t prog,
    uint32_t vers, uint64_t last_seen, chat_sub_ok *ok)
{
	struct peerkey	 k;
	struct peer	*pe;
	struct sub	*s;
	bart_status	 st = BART_OK;
	unsigned int	 h;
	uint64_t	 now = util_now_us();

	if (prog < BART_CB_PROG_MIN || prog > BART_CB_PROG_MAX)
		return BART_ECBPROG;
	if (len > sizeof(struct sockaddr_storage))
		return BART_EINVAL;
	if (uid == PEER_UID_UNKNOWN) {
		log_info("subscription from a local caller of unknown uid: "
		    "refused");
		return BART_ECBNOTREG;
	}
	if (uid >= 0)
		uid_key(uid, &k);
	else
		addr_key(peer, &k);
	if (k.kind == KEY_NONE)
		return BART_EINVAL;
	pthread_mutex_lock(&p->mu);
	if ((pe = peer_get(p, &k, now)) == NULL || pe->tokens < 1.0) {
		p->ctr.rated++;
		st = BART_ERATE;
		goto out;
	}
	pe->tokens -= 1.0;		/* every attempt costs */
	if (pe->nsubs >= p->lim.per_peer || p->held >= p->lim.total) {
		st = BART_ETOOMANY;
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		st = BART_ETOOMANY;
		goto out;
	}
	s->id = p->next_id++;
	util_random(s->token, sizeof(s->token));
	util_random(&s->xid, sizeof(s->xid));
	s->uid = uid;
	util_addr_str(peer, s->peerstr, sizeof(s->peerstr));
	/* Where to call back: the SUBSCRIBE's source, never a named host. */
	if (peer->sa_family == AF_INET6) {
		memcpy(&s->host.sin6, peer, sizeof(s->host.sin6));
		s->host.sin6.sin6_port = 0;
		s->hostlen = sizeof(s->host.sin6);
	} else {
		if (peer->sa_family == AF_INET)
			memcpy(&s->host.sin, peer, sizeof(s->host.sin));
		else {			/* the local transport: loopback */
			s->host.sin.sin_family = AF_INET;
			s->host.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		}
		s->host.sin.sin_port = 0;
		s->hostlen = sizeof(s->host.sin);
	}
	if (via != NULL && via->sa_family == s->host.sa.sa_family &&
	    (via->sa_family == AF_INET || via->sa_family == AF_INET6)) {
		memcpy(&s->via, via, via->sa_family == AF_INET6 ?
		    sizeof(s->via.sin6) : sizeof(s->via.sin));
		if (via->sa_family == AF_INET6)
			s->via.sin6.sin6_port = 0;
		else
			s->via.sin.sin_port = 0;
		s->hasvia = 1;
	}
	s->prog = prog;
	s->vers = vers;
	s->next = last_seen + 1;
	s->sent = last_seen;
	s->phase = PHASE_PROBING;
	s->step = STEP_NEW;
	s->fd = -1;
	s->peer = pe;
	if (post(p, s, 0) == -1) {
		free(s);
		st = BART_ETOOMANY;
		goto out;
	}
	h = hash64(s->id, p->nbuckets);
	s->hnext = p->byid[h];
	p->byid[h] = s;
	s->inhash = 1;
	p->held++;
	p->live++;
	pe->nsubs++;
	ok->id = s->id;
	memcpy(ok->token, s->token, BART_TOKEN_LEN);
	log_info("subscription %llu from %s, callback program 0x%x",
	    (unsigned long long)s->id, s->peerstr, prog);
out:
	pthread_mutex_unlock(&p->mu);
	if (st == BART_OK)
		wake(p);
	return st;
}

/* Caller holds mu. */
static struct sub *
find_sub(struct push *p, const chat_sub_ref *ref)
{
	struct sub	*s;

	for (s = p->byid[hash64(ref->id, p->nbuckets)]; s != NULL;
	    s = s->hnext)
		if (s->id == ref->id &&
		    memcmp(s->token, ref->token, BART_TOKEN_LEN) == 0)
			return s;
	return NULL;
}

/* Caller holds mu: S is no longer findable; the thread frees it. */
static void
end_sub(struct push *p, struct sub *s)
{
	unhash(p, s);
	if (post(p, s, 1) == -1)
		log_warnx("push: cannot queue the end of subscription %llu",
		    (unsigned long long)s->id);
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
	end_sub(p, s);
	pthread_mutex_unlock(&p->mu);
	wake(p);
	log_debug("subscription %llu ended", (unsigned long long)ref->id);
	return BART_OK;
}

/* Heartbeat: is this subscription still alive, and in which phase? */
bart_status
push_renew(struct push *p, const chat_sub_ref *ref, sub_state *state)
{
	struct sub	*s;
	bart_status	 st = BART_OK;
	int		 ended = 0;

	pthread_mutex_lock(&p->mu);
	if ((s = find_sub(p, ref)) == NULL)
		st = BART_ENOSUB;
	else if (s->phase == PHASE_FAILED) {
		st = s->fail;
		end_sub(p, s);		/* reported once; then forgotten */
		ended = 1;
	} else
		*state = s->phase == PHASE_ACTIVE ? SUB_ACTIVE : SUB_PROBING;
	pthread_mutex_unlock(&p->mu);
	if (ended)
		wake(p);
	return st;
}

/* Subscriptions probing or active (what STATS reports). */
unsigned int
push_count(struct push *p)
{
	unsigned int	n;

	pthread_mutex_lock(&p->mu);
	n = p->live;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* Subscriptions held in any phase, failed ones included (the caps). */
unsigned int
push_held(struct push *p)
{
	unsigned int	n;

	pthread_mutex_lock(&p->mu);
	n = p->held;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void
push_counters(struct push *p, struct push_counters *c)
{
	pthread_mutex_lock(&p->mu);
	*c = p->ctr;
	pthread_mutex_unlock(&p->mu);
}

/* From the main loop: forget peers that hold nothing and are rested. */
void
push_reap(struct push *p)
{
	struct peer	**pp, *pe;
	unsigned int	  i;
	uint64_t	  now = util_now_us();

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nbuckets; i++) {
		pp = &p->peers[i];
		while ((pe = *pp) != NULL) {
			if (pe->nsubs == 0 && now - pe->last_us > PEER_IDLE_US) {
				*pp = pe->next;
				free(pe);
				p->npeers--;
			} else
				pp = &pe->next;
		}
	}
	pthread_mutex_unlock(&p->mu);
}

/* ---- the delivery thread ------------------------------------------- */

static int
is_setup(enum sub_step st)
{
	return st == STEP_LOOKUP || st == STEP_PROBE;
}

/* Every change of step goes here, so the setup slots stay counted. */
static void
set_step(struct push *p, struct sub *s, enum sub_step st)
{
	p->nsetup += is_setup(st) - is_setup(s->step);
	s->step = st;
}

/*
 * Deadlines live in a binary min-heap (each sub knows its place), so
 * a timeout costs O(log n), whatever the number of subscribers.  The
 * heap is lazy: a sub's entry comes up at hkey, never later than its
 * deadline, and may come up earlier (then it is filed again at the
 * deadline, or dropped if none is set).  So the DELIVER a sub is sent
 * and the reply that disarms it, once per message, touch no heap entry
 * but their own: at 10,000 subscribers, moving entries on every reply
 * (a sift down through 13 levels of other subs) was 3% of the delivery
 * thread's CPU (perf), now each entry moves once per timeout.
 */
static void
heap_set(struct push *p, unsigned int i, struct sub *s)
{
	p->heap[i] = s;
	s->hpos = i + 1;
}

static void
heap_fix(struct push *p, unsigned int i)
{
	struct sub	*s = p->heap[i];
	unsigned int	 c;

	while (i > 0 && p->heap[(i - 1) / 2]->hkey > s->hkey) {
		heap_set(p, i, p->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		c = 2 * i + 1;
		if (c >= p->nheap)
			break;
		if (c + 1 < p->nheap &&
		    p->heap[c + 1]->hkey < p->heap[c]->hkey)
			c++;
		if (p->heap[c]->hkey >= s->hkey)
			break;
		heap_set(p, i, p->heap[c]);
		i = c;
	}
	heap_set(p, i, s);
}

/* Take S's entry out of the heap. */
static void
heap_del(struct push *p, struct sub *s)
{
	unsigned int	i = s->hpos;

	if (i == 0)
		return;
	s->hpos = 0;
	if (--i != --p->nheap) {
		heap_set(p, i, p->heap[p->nheap]);
		heap_fix(p, i);
	}
}

/*
 * Set S's deadline.  An entry that comes up no later stays where it is;
 * the heap has room for every listed sub (list_add grows both).
 */
static void
arm(struct push *p, struct sub *s, uint64_t at)
{
	s->deadline = at;
	s->armed = 1;
	if (s->hpos != 0 && s->hkey <= at)
		return;
	s->hkey = at;
	if (s->hpos == 0) {
		p->heap[p->nheap] = s;
		s->hpos = ++p->nheap;
	}
	heap_fix(p, s->hpos - 1);
}

/* No deadline for S: its entry, if any, is dropped when it comes up. */
static void
disarm(struct push *p, struct sub *s)
{
	(void)p;
	s->armed = 0;
}

/*
 * The sub whose deadline has passed at NOW, out of the heap, or NULL.
 * Entries that came up early are filed again or dropped on the way.
 */
static struct sub *
heap_due(struct push *p, uint64_t now)
{
	struct sub	*s;

	while (p->nheap > 0 && (s = p->heap[0])->hkey <= now) {
		if (!s->armed)
			heap_del(p, s);
		else if (s->deadline > now) {
			s->hkey = s->deadline;
			heap_fix(p, 0);
		} else {
			heap_del(p, s);
			s->armed = 0;
			return s;
		}
	}
	return NULL;
}

/* When the loop must wake for the next deadline (us), or 0: none. */
static uint64_t
heap_next(const struct push *p)
{
	return p->nheap > 0 ? p->heap[0]->hkey : 0;
}

/*
 * Register S's new socket once, edge-triggered for both directions, so
 * no call needs an epoll_ctl: every step writes until the socket is
 * full (EPOLLOUT comes when it drains) and reads until a short read
 * (EPOLLIN comes with the next bytes).  Edge-triggered also spares
 * epoll_wait a second poll of every socket it reported.
 */
static int
watch(struct push *p, struct sub *s)
{
	struct epoll_event	e;

	if (s->watched)
		return 0;
	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	e.data.ptr = s;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, s->fd, &e) == -1) {
		log_warn("push: epoll_ctl");
		return -1;
	}
	s->watched = 1;
	return 0;
}

/* The subscription failed for good: say why, free its sockets now. */
static void
sub_failed(struct push *p, struct sub *s, bart_status why)
{
	sub_close(p, s);
	set_step(p, s, STEP_DEAD);
	arm(p, s, util_now_us() + FAILED_KEEP_US);
	pthread_mutex_lock(&p->mu);
	if (s->inhash && s->phase != PHASE_FAILED) {
		s->phase = PHASE_FAILED;
		s->fail = why;
		p->live--;
	}
	pthread_mutex_unlock(&p->mu);
	log_info("subscription %llu from %s dropped: %s",
	    (unsigned long long)s->id, s->peerstr, util_status_str(why));
}

/*
 * Wait for a setup slot.  New subscribers and those that keep failing
 * queue at the back; one that was active and failed once (or closed
 * its idle connection) goes to the front, so a working subscriber that
 * lost one call is not set up again only after every stopped one ahead
 * of it has timed out its probe (2 s for each 64 of them).
 */
static void
enqueue(struct push *p, struct sub *s)
{
	set_step(p, s, STEP_QUEUED);
	disarm(p, s);
	s->qnext = NULL;
	if (s->was_active && s->fails <= 1 && p->qhead != NULL) {
		s->qnext = p->qhead;
		p->qhead = s;
		return;
	}
	if (p->qtail != NULL)
		p->qtail->qnext = s;
	else
		p->qhead = s;
	p->qtail = s;
}

/*
 * A call or a connection failed.  Before the subscriber was ever active
 * that is the probe's verdict; afterwards it is one failure in a row.
 */
static void
sub_trouble(struct push *p, struct sub *s, bart_status why)
{
	sub_close(p, s);
	if (!s->was_active) {
		sub_failed(p, s, why);
		return;
	}
	if (++s->fails >= p->lim.max_failures) {
		sub_failed(p, s, BART_ECBDROPPED);
		return;
	}
	set_step(p, s, STEP_BACKOFF);
	arm(p, s, util_now_us() + (uint64_t)s->fails * 100000);
}

/*
 * Start a non-blocking connect to the sub's host at PORT: 0, -1, or -2
 * when this process is out of descriptors.
 */
static int
sub_connect(struct push *p, struct sub *s, uint16_t port)
{
	union addr	a = s->host;
	int		one = 1;

	if (a.sa.sa_family == AF_INET6)
		a.sin6.sin6_port = htons(port);
	else
		a.sin.sin_port = htons(port);
	if ((s->fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* Not the subscriber's fault: say what it is. */
			log_warnx("out of file descriptors: no callback "
			    "connection for subscription %llu (raise the fd "
			    "limit, or lower --max-subs)",
			    (unsigned long long)s->id);
			return -2;
		}
		log_warn("push: socket");
		return -1;
	}
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/*
	 * From the address the SUBSCRIBE came to; if it is gone, any.  The
	 * port is picked at connect() (IP_BIND_ADDRESS_NO_PORT), per
	 * destination, or thousands of callbacks would drain the range.
	 */
	if (s->hasvia)
		setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
	if (s->hasvia && bind(s->fd, &s->via.sa, s->hostlen) == -1)
		log_debug("subscription %llu: cannot call back from the "
		    "address it came to: %s", (unsigned long long)s->id,
		    strerror(errno));
	if (connect(s->fd, &a.sa, s->hostlen) == -1) {
		if (errno != EINPROGRESS)
			return -1;
		s->connecting = 1;
	}
	return watch(p, s);
}

/*
 * Encode a call into a fresh io: record mark, call header (AUTH_NONE),
 * arguments.  SIZE bounds the arguments' encoded length.
 */
static int
call_encode(struct sub *s, uint32_t prog, uint32_t vers, uint32_t proc,
    xdrproc_t argproc, void *args, size_t size)
{
	struct io	*io;
	uint32_t	 mark;
	size_t		 len;

	io_free(s);
	if ((io = calloc(1, sizeof(*io))) == NULL)
		return -1;
	size += 4 + 64;
	if ((io->out = malloc(size)) == NULL) {
		free(io);
		return -1;
	}
	if ((len = util_call_encode(io->out + 4, size - 4, ++s->xid, prog,
	    vers, proc, argproc, args)) == 0) {
		free(io->out);
		free(io);
		return -1;
	}
	mark = htonl(0x80000000u | (uint32_t)len);
	memcpy(io->out, &mark, 4);
	io->outlen = 4 + len;
	s->io = io;
	return 0;
}

/* Write what the socket takes (the rest when EPOLLOUT comes). */
static int
call_write(struct sub *s)
{
	struct io	*io = s->io;
	ssize_t		 n;

	while (io->outoff < io->outlen) {
		n = send(s->fd, io->out + io->outoff, io->outlen - io->outoff,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		io->outoff += (size_t)n;
	}
	free(io->out);
	io->out = NULL;
	return 0;
}

/*
 * Is a whole record in the HAVE bytes at IN?  Then strip the record
 * marks in place and return its length; 0 if more must come; -1 if it
 * cannot fit.
 */
static int
record_take(unsigned char *in, size_t have, size_t *len, size_t *used)
{
	size_t		off = 0, body = 0, flen;
	uint32_t	h;
	int		last = 0;

	while (!last) {
		if (have - off < 4)
			return 0;
		memcpy(&h, in + off, 4);
		h = ntohl(h);
		last = (h & 0x80000000u) != 0;
		flen = h & 0x7fffffffu;
		if (body + flen > IN_MAX)
			return -1;
		if (have - off - 4 < flen)
			return 0;
		off += 4 + flen;
		body += flen;
	}
	*used = off;
	off = body = 0;
	for (last = 0; !last;) {
		memcpy(&h, in + off, 4);
		h = ntohl(h);
		last = (h & 0x80000000u) != 0;
		flen = h & 0x7fffffffu;
		memmove(in + body, in + off + 4, flen);
		off += 4 + flen;
		body += flen;
	}
	*len = body;
	return 1;
}

/*
 * Decode the reply record REC (LEN bytes) into RES (with RESPROC) and
 * its xid.  0 on an accepted, successful reply.
 */
static int
reply_decode_xid(unsigned char *rec, size_t len, xdrproc_t resproc,
    void *res, uint32_t *xid)
{
	struct rpc_msg	 r;
	XDR		 x;
	int		 ok;

	memset(&r, 0, sizeof(r));
	r.acpted_rply.ar_verf = _null_auth;
	r.acpted_rply.ar_results.where = res;
	r.acpted_rply.ar_results.proc = resproc;
	xdrmem_create(&x, (char *)rec, (u_int)len, XDR_DECODE);
	ok = xdr_replymsg(&x, &r) &&
	    r.rm_direction == REPLY && r.rm_reply.rp_stat == MSG_ACCEPTED &&
	    r.acpted_rply.ar_stat == SUCCESS;
	*xid = r.rm_xid;
	if (r.acpted_rply.ar_verf.oa_base != NULL) {
		x.x_op = XDR_FREE;
		xdr_opaque_auth(&x, &r.acpted_rply.ar_verf);
	}
	xdr_destroy(&x);
	return ok ? 0 : -1;
}

/* The same for the one call in flight (a lookup, a probe): our xid. */
static int
reply_decode(struct sub *s, unsigned char *rec, size_t len,
    xdrproc_t resproc, void *res)
{
	uint32_t	xid;

	return reply_decode_xid(rec, len, resproc, res, &xid) == 0 &&
	    xid == s->xid ? 0 : -1;
}

/*
 * Read what came; 1 when a whole reply record is in (*REC, *LEN), 0 for
 * more.  A reply nearly always comes whole: it is read into the thread's
 * buffer, and only a partial one is kept in the sub's own io.
 */
static int
call_read(struct push *p, struct sub *s, unsigned char **rec, size_t *len)
{
	struct io	*io = s->io;
	size_t		 used;
	ssize_t		 n;
	int		 r;

	if (io == NULL || io->inlen == 0) {
		do
			n = recv(s->fd, p->rbuf, sizeof(p->rbuf), 0);
		while (n == -1 && errno == EINTR);
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		if ((r = record_take(p->rbuf, (size_t)n, len, &used)) != 0) {
			*rec = p->rbuf;
			return r;
		}
		if (io == NULL && (io = s->io = calloc(1, sizeof(*io))) ==
		    NULL)
			return -1;
		memcpy(io->in, p->rbuf, (size_t)n);
		io->inlen = (size_t)n;
		if ((size_t)n < sizeof(p->rbuf))
			return 0;	/* drained: EPOLLIN says when more */
	}
	for (;;) {
		if (io->inlen >= sizeof(io->in))
			return -1;
		n = recv(s->fd, io->in + io->inlen, sizeof(io->in) - io->inlen,
		    0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		io->inlen += (size_t)n;
		if ((r = record_take(io->in, io->inlen, len, &used)) != 0) {
			*rec = io->in;
			return r;
		}
	}
}

/* rpcbind's answer "h1.h2.h3.h4.p1.p2" (or IPv6): take only the port. */
static uint16_t
uaddr_port(const char *u)
{
	const char	*lo, *hi;
	unsigned long	 a, b;
	char		*end;

	if (u == NULL || (lo = strrchr(u, '.')) == NULL || lo == u)
		return 0;
	for (hi = lo - 1; hi > u && *hi != '.'; hi--)
		;
	if (*hi != '.')
		return 0;
	a = strtoul(hi + 1, &end, 10);
	if (end != lo)
		return 0;
	b = strtoul(lo + 1, &end, 10);
	if (*end != '\0' || a > 255 || b > 255)
		return 0;
	return (uint16_t)(a << 8 | b);
}

static void
step_lookup(struct push *p, struct sub *s)
{
	RPCB	 parms;
	char	 netid[8];
	int	 r = 0;

	set_step(p, s, STEP_LOOKUP);
	arm(p, s, util_now_us() + (uint64_t)p->lim.timeout_ms * 1000);
	snprintf(netid, sizeof(netid), "%s",
	    s->host.sa.sa_family == AF_INET6 ? "tcp6" : "tcp");
	memset(&parms, 0, sizeof(parms));
	parms.r_prog = s->prog;
	parms.r_vers = s->vers;
	parms.r_netid = netid;
	parms.r_addr = parms.r_owner = netid + strlen(netid);	/* "" */
	p->dctr.lookups++;
	if (call_encode(s, RPCBPROG, RPCBVERS, RPCBPROC_GETADDR,
	    (xdrproc_t)xdr_rpcb, &parms, 64) == -1 ||
	    (r = sub_connect(p, s, RPCB_PORT)) != 0)
		sub_trouble(p, s, r == -2 ? BART_ETOOMANY : BART_ECBRPCBIND);
}

/*
 * rpcbind answered with the callback's address: connect to its port
 * at the subscriber's own host and probe.  A local subscriber's
 * callback must be a socket of its own uid, checked before we connect,
 * so a local user cannot make bart connect to someone else's port.
 */
static void
step_probe(struct push *p, struct sub *s, uint16_t port)
{
	union addr	a = s->host;
	long		owner;
	int		r = 0;

	sub_close(p, s);
	if (port == 0) {
		sub_trouble(p, s, BART_ECBNOTREG);
		return;
	}
	if (s->uid >= 0) {
		if (a.sa.sa_family == AF_INET6)
			a.sin6.sin6_port = htons(port);
		else
			a.sin.sin_port = htons(port);
		if ((owner = peer_diag_uid(&a.sa, NULL)) != s->uid) {
			p->dctr.refused_owner++;
			if (owner >= 0)
				log_info("subscription %llu: callback program "
				    "0x%x at port %u is served by uid %ld, not "
				    "by uid %ld: refused",
				    (unsigned long long)s->id, s->prog, port,
				    owner, s->uid);
			else if (owner == -2)
				log_warnx("subscription %llu: the kernel "
				    "cannot say who owns port %u (sock_diag): "
				    "refused", (unsigned long long)s->id, port);
			sub_trouble(p, s, owner == -1 ? BART_ECBNOANSWER :
			    BART_ECBNOTREG);
			return;
		}
	}
	set_step(p, s, STEP_PROBE);
	arm(p, s, util_now_us() + (uint64_t)p->lim.timeout_ms * 1000);
	p->dctr.probes++;
	if (call_encode(s, s->prog, s->vers, NULLPROC, XDR_VOID, NULL, 0) ==
	    -1 || (r = sub_connect(p, s, port)) != 0)
		sub_trouble(p, s, r == -2 ? BART_ETOOMANY : BART_ECBNOANSWER);
}

/* The messages after AFTER, copied from the ring once per fan-out. */
static int
batch_for(struct push *p, uint64_t after, uint64_t newest)
{
	if (p->batch.n > 0 && p->batch.after == after &&
	    p->batch.newest == newest)
		return p->batch.n;
	chat_msgs_free(p->batch.msgs, p->batch.n);
	p->batch.encoded = 0;
	p->batch.n = chat_copy(p->ring, after, BART_BATCH_MAX, BATCH_BYTES,
	    p->batch.msgs);
	if (p->batch.n < 0)
		p->batch.n = 0;
	p->batch.after = after;
	p->batch.newest = newest;
	return p->batch.n;
}

/*
 * The batch's DELIVER record, encoded once for the whole fan-out with
 * a zero xid, program, version, token and id: deliver_patch patches
 * those for each subscriber.  Their places are fixed by RFC 5531 for
 * an AUTH_NONE call: xid at 4 (after the record mark), program at 16,
 * version at 20; the arguments (token, then sub_id) after the header.
 */
static int
batch_encode(struct push *p)
{
	deliver_args	 a;
	XDR		 x;
	size_t		 size = 4 + 64 + 16 + 8 + 4, hdr;
	uint32_t	 mark;
	u_int		 len;
	int		 i, ok;

	if (p->batch.encoded)
		return 0;
	for (i = 0; i < p->batch.n; i++)
		size += chat_msg_size(p->batch.msgs[i].name,
		    p->batch.msgs[i].host, p->batch.msgs[i].text);
	if (size > p->batch.enccap) {
		free(p->batch.enc);
		p->batch.enccap = 0;
		if ((p->batch.enc = malloc(size)) == NULL)
			return -1;
		p->batch.enccap = size;
	}
	/* The header alone (xid, program, version patched per subscriber). */
	hdr = util_call_encode(p->batch.enc + 4, size - 4, 0, 0, 0, DELIVER,
	    NULL, NULL);
	if (hdr != 40)
		return -1;
	p->batch.argoff = 4 + hdr;
	memset(&a, 0, sizeof(a));
	a.msgs.msgs_len = (u_int)p->batch.n;
	a.msgs.msgs_val = p->batch.msgs;
	xdrmem_create(&x, (char *)p->batch.enc + 4 + hdr,
	    (u_int)(size - 4 - hdr), XDR_ENCODE);
	ok = xdr_deliver_args(&x, &a);
	len = (u_int)hdr + xdr_getpos(&x);
	xdr_destroy(&x);
	if (!ok)
		return -1;
	mark = htonl(0x80000000u | len);
	memcpy(p->batch.enc, &mark, 4);
	p->batch.enclen = 4 + len;
	p->batch.encoded = 1;
	return 0;
}

/* Patch the batch's record for S: its xid, program, version, token, id. */
static void
deliver_patch(struct push *p, struct sub *s)
{
	unsigned char	*b = p->batch.enc;
	uint64_t	 id = htobe64(s->id);
	uint32_t	 v;

	v = htonl(++s->xid);
	memcpy(b + 4, &v, 4);
	v = htonl(s->prog);
	memcpy(b + 16, &v, 4);
	v = htonl(s->vers);
	memcpy(b + 20, &v, 4);
	memcpy(b + p->batch.argoff, s->token, BART_TOKEN_LEN);
	memcpy(b + p->batch.argoff + BART_TOKEN_LEN, &id, 8);
}

/* Keep a patched record in wbuf, to go out with the next in one write. */
static int
wbuf_add(struct push *p, const unsigned char *b, size_t len)
{
	unsigned char	*n;
	size_t		 cap;

	if (p->wlen + len > p->wcap) {
		cap = p->wcap ? p->wcap : 4096;
		while (cap < p->wlen + len)
			cap *= 2;
		if ((n = realloc(p->wbuf, cap)) == NULL)
			return -1;
		p->wbuf = n;
		p->wcap = cap;
	}
	memcpy(p->wbuf + p->wlen, b, len);
	p->wlen += len;
	return 0;
}

/*
 * Send LEN bytes at B to S straight away: only what the socket does
 * not take at once is copied, into S's own io, for EPOLLOUT.
 */
static int
deliver_write(struct sub *s, const unsigned char *b, size_t len)
{
	ssize_t		 n;
	struct io	*io;

	do
		n = send(s->fd, b, len, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	if (n == -1 && errno != EAGAIN)
		return -1;
	if (n < 0)
		n = 0;
	/* The io may hold a partial reply already: keep it. */
	if ((io = s->io) == NULL && (io = s->io = calloc(1, sizeof(*io))) ==
	    NULL)
		return -1;
	if ((io->out = malloc(len - (size_t)n)) == NULL)
		return -1;
	memcpy(io->out, b + n, len - (size_t)n);
	io->outlen = len - (size_t)n;
	io->outoff = 0;
	return 0;
}

/*
 * Send S what it has not been sent, while its window has room: each
 * DELIVER carries up to BART_BATCH_MAX messages, up to PUSH_WINDOW of
 * them are in flight once the connection has answered one (before
 * that, one at a time: a callback that never answers gets one DELIVER
 * per attempt), and several that go at once (a subscriber that lags)
 * leave in one write.  Nothing more is queued while a write is held
 * back: a sub holds at most one record's bytes of its own.
 */
static void
step_deliver(struct push *p, struct sub *s, uint64_t newest)
{
	struct flight	*f;
	uint64_t	 now = 0;
	unsigned int	 win = s->proven ? PUSH_WINDOW : 1;
	int		 n, more;

	if (s->step != STEP_IDLE && s->step != STEP_DELIVER)
		return;
	if (s->sent >= newest)		/* not next > newest: next may be 0 */
		return;
	if (s->fd == -1) {		/* closed while idle: reconnect */
		enqueue(p, s);
		return;
	}
	p->wlen = 0;
	while (s->nfl < win && s->sent < newest &&
	    (s->io == NULL || s->io->out == NULL)) {
		if ((n = batch_for(p, s->sent, newest)) == 0 ||
		    batch_encode(p) == -1)
			break;
		deliver_patch(p, s);
		if (now == 0)
			now = util_now_us();
		f = &s->fl[s->nfl++];
		f->xid = s->xid;
		f->acked = 0;
		f->last = p->batch.msgs[n - 1].seq;
		f->at = now;
		s->sent = f->last;
		p->dctr.delivers++;
		if (s->nfl == 1) {
			set_step(p, s, STEP_DELIVER);
			arm(p, s, now + (uint64_t)p->lim.timeout_ms * 1000);
		}
		more = s->nfl < win && s->sent < newest;
		if (!more && p->wlen == 0) {
			/* The usual case: one record, from the shared buffer. */
			if (deliver_write(s, p->batch.enc, p->batch.enclen) ==
			    -1)
				sub_trouble(p, s, BART_ECBDROPPED);
			return;
		}
		if (wbuf_add(p, p->batch.enc, p->batch.enclen) == -1) {
			sub_trouble(p, s, BART_ECBDROPPED);
			return;
		}
		if (!more)
			break;
	}
	if (p->wlen > 0 && deliver_write(s, p->wbuf, p->wlen) == -1)
		sub_trouble(p, s, BART_ECBDROPPED);
}

/*
 * One reply to a DELIVER in flight, matched by xid.  The oldest ones
 * answered are acknowledged (s->next moves); one answered before an
 * older one waits for it.  0, or -1 for a bad or unexpected reply, or
 * -2 if the subscription failed here.
 */
static int
deliver_reply(struct push *p, struct sub *s, unsigned char *rec,
    size_t len)
{
	bart_res	res;
	uint32_t	xid;
	unsigned int	i;

	memset(&res, 0, sizeof(res));
	if (reply_decode_xid(rec, len, (xdrproc_t)xdr_bart_res, &res, &xid) ==
	    -1) {
		log_debug("deliver to %s: bad reply", s->peerstr);
		return -1;
	}
	for (i = 0; i < s->nfl; i++)
		if (s->fl[i].xid == xid && !s->fl[i].acked)
			break;
	if (i == s->nfl) {
		log_debug("deliver to %s: a reply to no call in flight",
		    s->peerstr);
		return -1;
	}
	if (res.status != BART_OK) {
		log_info("subscriber %s refused delivery: %s", s->peerstr,
		    util_status_str(res.status));
		sub_failed(p, s, BART_EBADTOKEN);
		return -2;
	}
	p->dctr.delivered++;
	s->fl[i].acked = 1;
	s->fails = 0;
	s->proven = 1;
	for (i = 0; i < s->nfl && s->fl[i].acked; i++)
		s->next = s->fl[i].last + 1;
	if (i > 0) {
		memmove(s->fl, s->fl + i, (s->nfl - i) * sizeof(s->fl[0]));
		s->nfl -= i;
	}
	return 0;
}

/*
 * Replies to the DELIVERs in flight: every whole record that came (a
 * receiver may answer several in one write), a partial one kept in the
 * sub's io.  Then the window refills.
 */
static void
deliver_replies(struct push *p, struct sub *s, uint64_t newest)
{
	unsigned char	*buf;
	size_t		 have, off, len, used;
	ssize_t		 n;
	int		 r;

	for (;;) {
		if (s->io != NULL && s->io->inlen > 0) {
			buf = s->io->in;
			have = s->io->inlen;
		} else {
			buf = p->rbuf;
			have = 0;
		}
		if (have >= sizeof(p->rbuf))
			goto bad;
		do
			n = recv(s->fd, buf + have, sizeof(p->rbuf) - have, 0);
		while (n == -1 && errno == EINTR);
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0)
			goto bad;
		have += (size_t)n;
		off = 0;
		while ((r = record_take(buf + off, have - off, &len, &used)) ==
		    1) {
			if ((r = deliver_reply(p, s, buf + off, len)) == -2)
				return;
			if (r == -1)
				goto bad;
			off += used;
		}
		if (r == -1)
			goto bad;
		if (have > off) {
			if (s->io == NULL &&
			    (s->io = calloc(1, sizeof(*s->io))) == NULL)
				goto bad;
			memmove(s->io->in, buf + off, have - off);
			s->io->inlen = have - off;
		} else if (s->io != NULL)
			s->io->inlen = 0;
		if (have < sizeof(p->rbuf))
			break;		/* a short read: drained */
	}
	if (s->nfl == 0) {
		if (s->io != NULL && s->io->out == NULL)
			io_free(s);
		set_step(p, s, STEP_IDLE);
		disarm(p, s);
	} else
		arm(p, s, s->fl[0].at + (uint64_t)p->lim.timeout_ms * 1000);
	if (s->rdhup) {
		/* Answered, then closed: reopen (unanswered: a failure). */
		if (s->nfl > 0) {
			sub_trouble(p, s, BART_ECBDROPPED);
			return;
		}
		sub_close(p, s);
	}
	step_deliver(p, s, newest);
	return;
bad:
	sub_trouble(p, s, BART_ECBDROPPED);
}

/* A whole reply REC of LEN bytes is in: on to the next step. */
static void
call_done(struct push *p, struct sub *s, unsigned char *rec, size_t len,
    uint64_t newest)
{
	char		*uaddr = NULL;
	uint16_t	 port;

	switch (s->step) {
	case STEP_LOOKUP:
		if (reply_decode(s, rec, len, (xdrproc_t)xdr_wrapstring,
		    &uaddr) == -1) {
			xdr_free((xdrproc_t)xdr_wrapstring, (char *)&uaddr);
			sub_trouble(p, s, BART_ECBRPCBIND);
			break;
		}
		port = uaddr_port(uaddr);
		xdr_free((xdrproc_t)xdr_wrapstring, (char *)&uaddr);
		/*
		 * Close with a reset: we close first, and a TIME_WAIT per
		 * lookup would pile up (60 s each) when many subscribers
		 * reconnect to the same rpcbind.
		 */
		setsockopt(s->fd, SOL_SOCKET, SO_LINGER,
		    &(struct linger){ 1, 0 }, sizeof(struct linger));
		step_probe(p, s, port);
		break;
	case STEP_PROBE:
		if (reply_decode(s, rec, len, XDR_VOID, NULL) == -1) {
			sub_trouble(p, s, BART_ECBNOANSWER);
			break;
		}
		io_free(s);
		set_step(p, s, STEP_IDLE);
		disarm(p, s);
		if (!s->was_active) {
			s->was_active = 1;
			pthread_mutex_lock(&p->mu);
			if (s->inhash && s->phase == PHASE_PROBING)
				s->phase = PHASE_ACTIVE;
			pthread_mutex_unlock(&p->mu);
			log_debug("subscription %llu from %s active",
			    (unsigned long long)s->id, s->peerstr);
		}
		if (s->rdhup)		/* answered, then closed: reopen */
			sub_close(p, s);
		step_deliver(p, s, newest);
		break;
	default:
		break;
	}
}

/* Readiness on a sub's socket. */
static void
sub_event(struct push *p, struct sub *s, uint32_t ev, uint64_t newest)
{
	bart_status	 why = s->step == STEP_LOOKUP ? BART_ECBRPCBIND :
			    s->step == STEP_PROBE ? BART_ECBNOANSWER :
			    BART_ECBDROPPED;
	unsigned char	*rec;
	size_t		 len;
	int		 err = 0, r, i;
	socklen_t	 elen = sizeof(err);
	ssize_t		 n;

	if (s->fd == -1)
		return;
	if (ev & (EPOLLRDHUP | EPOLLHUP))
		s->rdhup = 1;
	if (s->step == STEP_IDLE) {
		/*
		 * Nothing is expected: junk is read and dropped (up to
		 * the short read edge-triggering needs); EOF, an error
		 * or a flood closes, lazily.
		 */
		if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0)
			return;
		for (i = 0; i < 16; i++) {
			n = recv(s->fd, p->rbuf, sizeof(p->rbuf), 0);
			if (n == -1 && errno == EINTR)
				continue;
			if ((n > 0 && (size_t)n < sizeof(p->rbuf)) ||
			    (n == -1 && errno == EAGAIN))
				return;
			if (n <= 0)
				break;
		}
		sub_close(p, s);
		return;
	}
	if (s->connecting) {
		if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
			return;
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &elen) ==
		    -1 || err != 0) {
			sub_trouble(p, s, why);
			return;
		}
		s->connecting = 0;
	}
	if (s->io != NULL && s->io->out != NULL) {
		if (call_write(s) == -1) {
			sub_trouble(p, s, why);
			return;
		}
		if (s->io->out != NULL)
			return;
		/* All out: read even without EPOLLIN, whose edge may be past. */
	} else if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0)
		return;
	if (s->step == STEP_DELIVER) {
		deliver_replies(p, s, newest);
		return;
	}
	if (s->step != STEP_LOOKUP && s->step != STEP_PROBE)
		return;
	if ((r = call_read(p, s, &rec, &len)) == -1) {
		sub_trouble(p, s, why);
		return;
	}
	if (r == 1)
		call_done(p, s, rec, len, newest);
}

static void
list_add(struct push *p, struct sub *s)
{
	struct sub	**n;

	if (p->nlist == p->listcap) {
		n = reallocarray(p->heap, p->listcap ? p->listcap * 2 : 64,
		    sizeof(*n));
		if (n != NULL) {
			p->heap = n;
			n = reallocarray(p->list, p->listcap ? p->listcap * 2 :
			    64, sizeof(*n));
		}
		if (n == NULL) {
			/* Cannot track it: fail it, the record is freed. */
			pthread_mutex_lock(&p->mu);
			if (s->inhash && s->phase != PHASE_FAILED) {
				s->phase = PHASE_FAILED;
				s->fail = BART_ETOOMANY;
				p->live--;
			}
			pthread_mutex_unlock(&p->mu);
			return;
		}
		p->list = n;
		p->listcap = p->listcap ? p->listcap * 2 : 64;
	}
	s->slot = p->nlist;
	p->list[p->nlist++] = s;
	enqueue(p, s);
}

static void
unqueue(struct push *p, struct sub *s)
{
	struct sub	**pp, *prev = NULL;

	for (pp = &p->qhead; *pp != NULL; prev = *pp, pp = &(*pp)->qnext)
		if (*pp == s) {
			*pp = s->qnext;
			if (p->qtail == s)
				p->qtail = prev;
			return;
		}
}

/* Free S, which is no longer findable. */
static void
list_del(struct push *p, struct sub *s)
{
	if (s->step == STEP_QUEUED)
		unqueue(p, s);
	set_step(p, s, STEP_DEAD);
	heap_del(p, s);
	sub_close(p, s);
	if (s->slot < p->nlist && p->list[s->slot] == s) {
		p->list[s->slot] = p->list[--p->nlist];
		p->list[s->slot]->slot = s->slot;
	}
	free(s);
}

/* New and ended subscriptions from the RPC thread.  1: quit. */
static int
take_inbox(struct push *p)
{
	struct op	*ops;
	unsigned int	 i, n;
	int		 quit;

	pthread_mutex_lock(&p->mu);
	if ((quit = p->quit)) {
		/* push_exit frees what is left, the inbox's too. */
		pthread_mutex_unlock(&p->mu);
		return 1;
	}
	ops = p->inbox;
	n = p->ninbox;
	p->inbox = NULL;
	p->ninbox = p->inboxcap = 0;
	/* Fold the thread's counters in while we hold the lock. */
	p->ctr.delivers += p->dctr.delivers;
	p->ctr.delivered += p->dctr.delivered;
	p->ctr.probes += p->dctr.probes;
	p->ctr.lookups += p->dctr.lookups;
	p->ctr.refused_owner += p->dctr.refused_owner;
	memset(&p->dctr, 0, sizeof(p->dctr));
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < n; i++) {
		if (!ops[i].gone)
			list_add(p, ops[i].s);
		else
			list_del(p, ops[i].s);
	}
	free(ops);
	return 0;
}

/* Deadlines: a step that ran out of time, a backoff over, expiry. */
static void
expire(struct push *p, uint64_t now)
{
	struct sub	*s;
	int		 gone;

	while ((s = heap_due(p, now)) != NULL) {
		switch (s->step) {
		case STEP_LOOKUP:
			log_debug("subscription %llu: rpcbind at %s: no answer "
			    "in time", (unsigned long long)s->id, s->peerstr);
			sub_trouble(p, s, BART_ECBRPCBIND);
			break;
		case STEP_PROBE:
			sub_trouble(p, s, BART_ECBNOANSWER);
			break;
		case STEP_DELIVER:
			log_debug("deliver to %s: no complete reply in time",
			    s->peerstr);
			sub_trouble(p, s, BART_ECBDROPPED);
			break;
		case STEP_BACKOFF:
			enqueue(p, s);
			break;
		case STEP_DEAD:
			/* Never renewed: forget it (it may be gone already). */
			pthread_mutex_lock(&p->mu);
			gone = !s->inhash;
			unhash(p, s);
			pthread_mutex_unlock(&p->mu);
			if (!gone)
				list_del(p, s);
			break;
		default:
			break;
		}
	}
}

/* Start setups while slots are free; queued subs wait their turn. */
static void
start_setups(struct push *p)
{
	struct sub	*s;

	while (p->nsetup < MAX_SETUP && (s = p->qhead) != NULL) {
		p->qhead = s->qnext;
		if (p->qhead == NULL)
			p->qtail = NULL;
		s->qnext = NULL;
		step_lookup(p, s);
	}
}

/* The delivery thread's loop: one epoll over every callback socket. */
static void *
push_main(void *arg)
{
	struct push		*p = arg;
	struct epoll_event	 ev[1024], e;
	struct sub		*s;
	uint64_t		 now, newest, junk, next;
	unsigned int		 i;
	int			 n, ms;

	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN;
	e.data.ptr = NULL;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &e) == -1) {
		log_warn("push: epoll_ctl");
		return NULL;
	}
	for (;;) {
		now = util_now_us();
		ms = IDLE_WAKE_MS;
		if ((next = heap_next(p)) != 0)
			ms = next <= now ? 0 : (int)((next - now + 999) / 1000);
		if (ms > IDLE_WAKE_MS)
			ms = IDLE_WAKE_MS;
		n = epoll_wait(p->epfd, ev, 1024, ms);
		if (n == -1 && errno != EINTR) {
			log_warn("push: epoll_wait");
			usleep(100000);
		}
		newest = chat_newest(p->ring);
		for (i = 0; n > 0 && i < (unsigned int)n; i++) {
			if (ev[i].data.ptr != NULL)
				sub_event(p, ev[i].data.ptr, ev[i].events,
				    newest);
			else if (read(p->evfd, &junk, sizeof(junk)) == -1 &&
			    errno != EAGAIN)
				log_warn("push: eventfd");
		}
		/* ORDER: the inbox after events: it may free their subs. */
		if (take_inbox(p))
			break;
		expire(p, util_now_us());
		if (newest != p->seen_newest) {
			p->seen_newest = newest;
			for (i = 0; i < p->nlist; i++) {
				s = p->list[i];
				if (s->step == STEP_IDLE ||
				    s->step == STEP_DELIVER)
					step_deliver(p, s, newest);
			}
		}
		start_setups(p);
		log_tick();
	}
	return NULL;
}
