/* SPDX-License-Identifier: ISC */
/*
 * conns.c: bart's stream connections.  bart accepts them itself and
 * never lets libtirpc read or write them, so no peer can make the loop
 * wait: input is read as it comes and reassembled into records
 * (several fragments allowed, RFC 5531 section 11, within
 * WIRE_RECORD_MAX), replies go out as the socket drains.
 *
 * Costs are per event, never per open connection: connections are
 * found by fd, the least recently used one is the head of a list kept
 * in order of use, and each peer (IPv4 address, IPv6 /64, local uid)
 * has a hash table entry with its count and its own list.  An idle
 * connection holds its struct and nothing else: buffers exist only
 * while bytes wait in them.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conns.h"
#include "log.h"
#include "util.h"
#include "wire.h"

#define CONNS_DEFAULT		1024		/* --max-conns */
#define CONNS_PEER_DEFAULT	64		/* --max-conns-per-peer */
#define FD_RESERVE		16	/* store, listeners, rpcbind calls */
#define CAP_LOG_EVERY_US	10000000
#define ACCEPT_PER_ROUND	64
/*
 * Input kept per connection: one whole record and some read-ahead.
 * A connection with this much unprocessed is not read until its
 * replies drain.
 */
#define IN_CAP			(WIRE_RECORD_MAX + 4096)
/*
 * Output: a connection's next call is served only once the replies
 * before it have left (the socket took them), so a peer that does not
 * read stops being served after what its socket buffers hold; TCP
 * flow control does the rest.  The queue holds more than one reply
 * only for the replies of one group commit, and never OUTQ_MAX.  A
 * connection whose waiting replies drain slower than STALL_BYTES a
 * second for STALL_SECS seconds in a row is closed: it does not read
 * (a full receive buffer that the kernel compacts lets a trickle
 * through, so "no progress at all" is not the test).
 */
#define OUTQ_SOFT		1
#define OUTQ_MAX		(512 * 1024)
#define STALL_BYTES		(16 * 1024)
#define STALL_SECS		5
/* Whole records served per connection per round: the rest waits. */
#define RECS_PER_TURN		4
/*
 * Calls of one connection waiting for the store's worker (PostgreSQL,
 * conns_park): past this many the connection is not read, and what it
 * sent is not served, until one is answered, as for the output bound.
 */
#define PARK_MAX		16

struct peer {
	struct peer	*next;		/* in its hash bucket */
	int		 af;
	unsigned char	 key[16];
	unsigned int	 n;
	struct conn	*head, *tail;	/* its connections, LRU first */
};

struct conn {
	int		 fd;
	int		 local;		/* AF_UNIX */
	uint32_t	 gen;
	uint32_t	 mask;		/* epoll interest now */
	long		 uid;		/* local: SO_PEERCRED */
	struct sockaddr_storage	 addr;
	socklen_t	 addrlen;
	struct peer	*peer;
	struct conn	*prev, *next;	/* all, LRU first */
	struct conn	*pprev, *pnext;	/* the peer's, LRU first */
	struct conn	*oprev, *onext;	/* with output waiting */
	struct conn	*rnext;		/* with whole records waiting */
	struct conn	*dnext;		/* closed, to free at reap */
	struct conn	*enext;		/* at EOF: close at reap if done */
	uint64_t	 last_call;	/* accept, then each whole record */
	size_t		 wrote;		/* bytes sent since the last sweep */
	int		 slow;		/* sweeps in a row it drained slowly */
	int		 ready;		/* on the ready list */
	unsigned char	*in;
	size_t		 inlen;
	struct wire_scan scan;		/* of the record at in[0] */
	unsigned char	*out;
	size_t		 outoff, outlen;
	int		 eof, dead, busy;
	int		 eofq;		/* on the EOF list */
	unsigned int	 parked;	/* calls waiting for the store */
};

struct conns {
	int		 ep;
	conns_rec_fn	 fn;
	void		*arg;
	struct conn	**byfd;
	int		 nfd;
	struct conn	*head, *tail;	/* LRU order */
	struct conn	*ohead;		/* output waiting */
	struct conn	*rhead;		/* whole records waiting */
	struct conn	*dead;
	struct conn	*ehead;		/* at EOF, to check at reap */
	struct peer	**bucket;
	uint32_t	 mask;
	uint64_t	 seed;
	uint32_t	 gen;
	unsigned int	 live, max, per_peer;
	int		 idle_secs;
	int		 spare;		/* kept free for EMFILE */
	uint64_t	 evicted, shed, stalled, next_log, next_stall_log;
};

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
 * Raise the fd limit and set up the connection limits from E; EP is
 * the loop's epoll instance, FN gets each whole record.  NULL if out
 * of memory.
 */
struct conns *
conns_init(struct env *e, int ep, conns_rec_fn fn, void *arg)
{
	struct conns	*cs;
	unsigned int	 fit;
	uint32_t	 nb = 64;
	int		 nofile;

	nofile = fd_limit_raise();
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return NULL;
	cs->ep = ep;
	cs->fn = fn;
	cs->arg = arg;
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
	while (nb < cs->max && nb < 65536)
		nb <<= 1;
	if ((cs->bucket = calloc(nb, sizeof(*cs->bucket))) == NULL) {
		free(cs);
		return NULL;
	}
	cs->mask = nb - 1;
	cs->seed = util_random_u64();
	cs->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	log_info("connections: at most %u, %u per peer, idle timeout %d s",
	    cs->max, cs->per_peer, cs->idle_secs);
	return cs;
}

static void	conn_close(struct conns *, struct conn *);

void
conns_exit(struct conns *cs)
{
	int	fd;

	if (cs == NULL)
		return;
	for (fd = 0; fd < cs->nfd; fd++)
		if (cs->byfd[fd] != NULL)
			conn_close(cs, cs->byfd[fd]);
	conns_reap(cs);
	if (cs->spare != -1)
		close(cs->spare);
	free(cs->byfd);
	free(cs->bucket);
	free(cs);
}

/* ---- peers and lists -------------------------------------------------- */

static uint32_t
peer_hash(const struct conns *cs, int af, const unsigned char *key)
{
	uint64_t	h = cs->seed ^ (uint64_t)af, w;
	int		i;

	for (i = 0; i < 16; i += 8) {
		memcpy(&w, key + i, 8);
		h ^= w;
		h *= 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	return (uint32_t)(h >> 32);
}

/* The peer of a connection: IPv4 address, IPv6 /64, or AF_UNIX uid. */
static struct peer *
peer_get(struct conns *cs, struct conn *c)
{
	unsigned char	 key[16];
	struct peer	*p, **b;
	int		 af = c->addr.ss_family;

	memset(key, 0, sizeof(key));
	if (af == AF_INET)
		memcpy(key, &((struct sockaddr_in *)&c->addr)->sin_addr, 4);
	else if (af == AF_INET6)
		memcpy(key, &((struct sockaddr_in6 *)&c->addr)->sin6_addr, 8);
	else
		memcpy(key, &c->uid, sizeof(c->uid));
	b = &cs->bucket[peer_hash(cs, af, key) & cs->mask];
	for (p = *b; p != NULL; p = p->next)
		if (p->af == af && memcmp(p->key, key, sizeof(key)) == 0)
			return p;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->af = af;
	memcpy(p->key, key, sizeof(key));
	p->next = *b;
	*b = p;
	return p;
}

static void
peer_put(struct conns *cs, struct peer *p)
{
	struct peer	**b;

	if (--p->n > 0)
		return;
	b = &cs->bucket[peer_hash(cs, p->af, p->key) & cs->mask];
	while (*b != p)
		b = &(*b)->next;
	*b = p->next;
	free(p);
}

static void
lru_unlink(struct conns *cs, struct conn *c)
{
	struct peer	*p = c->peer;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		cs->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		cs->tail = c->prev;
	c->prev = c->next = NULL;
	if (p == NULL)
		return;
	if (c->pprev != NULL)
		c->pprev->pnext = c->pnext;
	else
		p->head = c->pnext;
	if (c->pnext != NULL)
		c->pnext->pprev = c->pprev;
	else
		p->tail = c->pprev;
	c->pprev = c->pnext = NULL;
}

/* C was just used: the most recently used, in all and for its peer. */
static void
lru_append(struct conns *cs, struct conn *c)
{
	struct peer	*p = c->peer;

	c->prev = cs->tail;
	c->next = NULL;
	if (cs->tail != NULL)
		cs->tail->next = c;
	else
		cs->head = c;
	cs->tail = c;
	if (p == NULL)
		return;
	c->pprev = p->tail;
	c->pnext = NULL;
	if (p->tail != NULL)
		p->tail->pnext = c;
	else
		p->head = c;
	p->tail = c;
}

static void
touch(struct conns *cs, struct conn *c, uint64_t now)
{
	c->last_call = now;
	if (cs->tail == c && (c->peer == NULL || c->peer->tail == c))
		return;
	lru_unlink(cs, c);
	lru_append(cs, c);
}

static void
outlist_add(struct conns *cs, struct conn *c)
{
	if (c->oprev != NULL || cs->ohead == c)
		return;
	c->onext = cs->ohead;
	if (cs->ohead != NULL)
		cs->ohead->oprev = c;
	cs->ohead = c;
}

static void
outlist_del(struct conns *cs, struct conn *c)
{
	if (c->oprev == NULL && cs->ohead != c)
		return;
	if (c->oprev != NULL)
		c->oprev->onext = c->onext;
	else
		cs->ohead = c->onext;
	if (c->onext != NULL)
		c->onext->oprev = c->oprev;
	c->oprev = c->onext = NULL;
}

/* ---- open and close --------------------------------------------------- */

static uint32_t
want_mask(const struct conn *c)
{
	uint32_t	m = 0;

	if (c->dead)
		return 0;
	if (!c->eof && c->inlen < IN_CAP && c->outlen - c->outoff < OUTQ_SOFT &&
	    c->parked < PARK_MAX)
		m |= EPOLLIN;
	if (c->outlen > c->outoff)
		m |= EPOLLOUT;
	return m;
}

static void
interest(struct conns *cs, struct conn *c)
{
	struct epoll_event	ev;
	uint32_t		m = want_mask(c);

	if (c->dead || m == c->mask)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = m;
	ev.data.u64 = conns_id(c);
	if (epoll_ctl(cs->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->mask = m;
}

/*
 * Close C now (its fd goes at once, so the number can be reused); the
 * struct is freed by conns_reap at the end of the round, because a
 * record of C may still be on the stack.
 */
static void
conn_close(struct conns *cs, struct conn *c)
{
	struct conn	**rp;

	if (c->dead)
		return;
	c->dead = 1;
	if (c->ready) {
		for (rp = &cs->rhead; *rp != c; rp = &(*rp)->rnext)
			;
		*rp = c->rnext;
		c->ready = 0;
	}
	lru_unlink(cs, c);
	outlist_del(cs, c);
	if (c->peer != NULL)
		peer_put(cs, c->peer);
	c->peer = NULL;
	cs->byfd[c->fd] = NULL;
	close(c->fd);
	cs->live--;
	c->dnext = cs->dead;
	cs->dead = c;
}

void
conns_close(struct conns *cs, struct conn *c)
{
	conn_close(cs, c);
}

/*
 * Does C still have work after its peer's EOF: replies waiting (or calls
 * waiting for the store), or a
 * whole call record not yet served?  A half-closed peer (shutdown
 * SHUT_WR after its calls, as "nc -N" does) is owed every reply.
 */
static int
eof_busy(const struct conn *c)
{
	size_t	body;

	if (c->outlen > c->outoff || c->ready || c->parked > 0)
		return 1;
	return c->inlen > 0 && wire_rec_scan(c->in, c->inlen, &body) > 0;
}

/*
 * Free what conn_close left: call when no record is being served and
 * no reply is held (serve_round calls it after the group's commit, so
 * a reply held for a half-closed peer has been queued by then).  A
 * connection at EOF with nothing left to do closes here; one with
 * work left is checked again after its next event.
 */
void
conns_reap(struct conns *cs)
{
	struct conn	*c;

	while ((c = cs->ehead) != NULL) {
		cs->ehead = c->enext;
		c->enext = NULL;
		c->eofq = 0;
		if (!c->dead && !eof_busy(c))
			conn_close(cs, c);
	}
	while ((c = cs->dead) != NULL) {
		cs->dead = c->dnext;
		free(c->in);
		free(c->out);
		free(c);
	}
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

static int
byfd_grow(struct conns *cs, int fd)
{
	struct conn	**nb;
	int		  n;

	if (fd < cs->nfd)
		return 0;
	n = fd + 64;
	if ((nb = reallocarray(cs->byfd, (size_t)n, sizeof(*nb))) == NULL)
		return -1;
	memset(nb + cs->nfd, 0, (size_t)(n - cs->nfd) * sizeof(*nb));
	cs->byfd = nb;
	cs->nfd = n;
	return 0;
}

/* Take connection FD, from ADDR; enforce the caps.  -1: not taken. */
static int
conn_new(struct conns *cs, int fd, int local, const struct sockaddr *addr,
    socklen_t alen, uint64_t now)
{
	struct epoll_event	 ev;
	struct conn		*c;
	struct ucred		 uc;
	socklen_t		 ulen = sizeof(uc);

	if (byfd_grow(cs, fd) == -1 || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->local = local;
	/* 31 bits: the loop tags listeners with bit 63 of the id. */
	if ((cs->gen = (cs->gen + 1) & 0x7fffffff) == 0)
		cs->gen = 1;
	c->gen = cs->gen;
	c->uid = -1;
	if (alen > sizeof(c->addr))
		alen = sizeof(c->addr);
	if (!local && addr != NULL && alen > 0)
		memcpy(&c->addr, addr, alen);
	c->addrlen = alen;
	if (local) {
		c->addr.ss_family = AF_UNIX;
		c->addrlen = sizeof(sa_family_t);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen) == 0)
			c->uid = (long)uc.uid;
	}
	c->last_call = now;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = conns_id(c);
	if (epoll_ctl(cs->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		close(fd);
		free(c);
		return -1;
	}
	c->mask = EPOLLIN;
	cs->byfd[fd] = c;
	c->peer = peer_get(cs, c);
	if (c->peer != NULL)
		c->peer->n++;
	lru_append(cs, c);
	cs->live++;
	if (c->peer != NULL && c->peer->n > cs->per_peer) {
		conn_close(cs, c->peer->head);
		cap_note(cs, now, "per-peer connection cap");
	}
	if (cs->live > cs->max && cs->head != NULL) {
		conn_close(cs, cs->head);
		cap_note(cs, now, "connection cap");
	}
	return 0;
}

/*
 * Out of descriptors: close the least recently used connection, or if
 * there is none, take the pending connection with the spare fd and
 * close it (the classic trick), so that the loop always makes progress.
 */
static void
emfile(struct conns *cs, int lfd, uint64_t now)
{
	int	fd;

	if (cs->head != NULL) {
		conn_close(cs, cs->head);
		cap_note(cs, now, "out of file descriptors");
		return;
	}
	if (cs->spare != -1)
		close(cs->spare);
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1)
		close(fd);
	cs->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cs->shed++;
	cap_note(cs, now, "out of file descriptors, nothing to evict");
}

/* Accept what waits on the listener LFD (a bounded number per round). */
void
conns_accept(struct conns *cs, int lfd, int local, uint64_t now)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			i, fd;

	for (i = 0; i < ACCEPT_PER_ROUND; i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				emfile(cs, lfd, now);
			return;		/* EAGAIN, or try next round */
		}
		conn_new(cs, fd, local, (struct sockaddr *)&ss, len, now);
	}
}

/* Serve an already connected stream FD (the fuzzer's socketpair). */
int
conns_adopt(struct conns *cs, int fd, int local, uint64_t now)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (!local && getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		len = 0;
	return conn_new(cs, fd, local, (struct sockaddr *)&ss, len, now);
}

/* ---- input ------------------------------------------------------------ */

/*
 * Serve the whole records at the start of BUF (LEN bytes) while C's
 * output queue is short; returns the bytes used, or -1 if C must close
 * (a record over the cap).
 */
static long
serve_records(struct conns *cs, struct conn *c, const unsigned char *buf,
    size_t len, uint64_t now)
{
	static unsigned char	 joined[WIRE_RECORD_MAX];
	struct wire_scan	 st = c->scan;	/* for the record at pos */
	size_t			 pos = 0, body;
	long			 n;
	int			 k = 0;

	while (!c->dead && c->outlen - c->outoff < OUTQ_SOFT &&
	    c->parked < PARK_MAX) {
		if (k++ == RECS_PER_TURN) {
			/* Fair to the others: the rest next round. */
			if (!c->ready) {
				c->ready = 1;
				c->rnext = cs->rhead;
				cs->rhead = c;
			}
			break;
		}
		if ((n = wire_rec_resume(buf + pos, len - pos, &st,
		    &body)) == -1) {
			log_debug("connection %d: record over %d bytes: "
			    "closed", c->fd, WIRE_RECORD_MAX);
			return -1;
		}
		if (n == 0)
			break;
		touch(cs, c, now);
		if ((size_t)n == body + 4)
			cs->fn(cs->arg, c, buf + pos + 4, body);
		else {
			wire_rec_join(buf + pos, (size_t)n, joined);
			cs->fn(cs->arg, c, joined, body);
		}
		pos += (size_t)n;
	}
	c->scan = st;
	return (long)pos;
}

/* Keep the LEFT bytes at P as C's input (P may point into c->in). */
static int
keep_input(struct conn *c, const unsigned char *p, size_t left)
{
	unsigned char	*nb;

	if (left == 0) {
		free(c->in);
		c->in = NULL;
		c->inlen = 0;
		c->scan.off = c->scan.sum = 0;
		return 0;
	}
	if (p == c->in)
		return 0;		/* nothing was used */
	if (c->in != NULL && p >= c->in && p < c->in + c->inlen) {
		memmove(c->in, p, left);
		if ((nb = realloc(c->in, left)) != NULL)
			c->in = nb;
	} else {
		if ((nb = realloc(c->in, left)) == NULL)
			return -1;
		memcpy(nb, p, left);
		c->in = nb;
	}
	c->inlen = left;
	return 0;
}

/* Serve what C has kept (after its output drained). */
static void
serve_kept(struct conns *cs, struct conn *c, uint64_t now)
{
	long	used;

	c->busy = 1;
	used = serve_records(cs, c, c->in, c->inlen, now);
	c->busy = 0;
	if (used == -1 || (!c->dead &&
	    keep_input(c, c->in + used, c->inlen - (size_t)used) == -1))
		conn_close(cs, c);
}

static void
conn_read(struct conns *cs, struct conn *c, uint64_t now)
{
	static unsigned char	 rbuf[IN_CAP];
	unsigned char		*nb, *buf;
	size_t			 len;
	ssize_t			 n;
	long			 used;

	if (c->eof || c->inlen >= IN_CAP)
		return;
	n = recv(c->fd, rbuf, IN_CAP - c->inlen, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		c->eof = 1;
		if (n == -1)
			conn_close(cs, c);
		return;
	}
	if (c->inlen == 0) {
		buf = rbuf;
		len = (size_t)n;
	} else {
		if ((nb = realloc(c->in, c->inlen + (size_t)n)) == NULL) {
			conn_close(cs, c);
			return;
		}
		memcpy(nb + c->inlen, rbuf, (size_t)n);
		c->in = nb;
		c->inlen += (size_t)n;
		buf = c->in;
		len = c->inlen;
	}
	c->busy = 1;
	used = serve_records(cs, c, buf, len, now);
	c->busy = 0;
	if (used == -1 || (!c->dead &&
	    keep_input(c, buf + used, len - (size_t)used) == -1))
		conn_close(cs, c);
}

/* ---- output ----------------------------------------------------------- */

/* Send what C has queued; 0, or -1 if the connection is gone. */
static int
conn_flush(struct conns *cs, struct conn *c)
{
	ssize_t	n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			conn_close(cs, c);
			return -1;
		}
		c->outoff += (size_t)n;
		c->wrote += (size_t)n;
	}
	/* Drained: give the memory back, an idle connection holds none. */
	free(c->out);
	c->out = NULL;
	c->outoff = c->outlen = 0;
	c->slow = 0;
	outlist_del(cs, c);
	return 0;
}

/*
 * Queue a reply on C: BUF holds CONNS_MARK free bytes, then LEN bytes
 * of reply.  Sent at once if the socket takes it.  0, or -1 if C was
 * closed (gone, or over its output bound: it does not read).
 */
int
conns_reply(struct conns *cs, struct conn *c, unsigned char *buf, size_t len)
{
	uint32_t	 mark = htonl(WIRE_MARK_LAST | (uint32_t)len);
	unsigned char	*nb;
	size_t		 total = len + CONNS_MARK, pend;
	ssize_t		 n = 0;

	if (c->dead)
		return -1;
	memcpy(buf, &mark, CONNS_MARK);
	pend = c->outlen - c->outoff;
	if (pend == 0) {
		n = send(c->fd, buf, total, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			conn_close(cs, c);
			return -1;
		}
		if (n == (ssize_t)total)
			return 0;
		if (n < 0)
			n = 0;
		c->wrote += (size_t)n;
	}
	if (pend + total - (size_t)n > OUTQ_MAX) {
		log_warnx("connection %d does not read its replies (%zu bytes "
		    "waiting): closed", c->fd, pend);
		conn_close(cs, c);
		return -1;
	}
	if (c->outoff > 0 && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outoff > 0) {		/* compact before growing */
		memmove(c->out, c->out + c->outoff, pend);
		c->outoff = 0;
		c->outlen = pend;
	}
	if ((nb = realloc(c->out, c->outlen + total - (size_t)n)) == NULL) {
		conn_close(cs, c);
		return -1;
	}
	memcpy(nb + c->outlen, buf + n, total - (size_t)n);
	c->out = nb;
	c->outlen += total - (size_t)n;
	outlist_add(cs, c);
	if (!c->busy)
		interest(cs, c);
	return 0;
}

/* C has seen EOF: look at it at the end of the round. */
static void
eof_note(struct conns *cs, struct conn *c)
{
	if (c->dead || !c->eof || c->eofq)
		return;
	c->eofq = 1;
	c->enext = cs->ehead;
	cs->ehead = c;
}

/* An epoll event for connection ID. */
void
conns_event(struct conns *cs, uint64_t id, uint32_t ev, uint64_t now)
{
	struct conn	*c;
	int		 backed;

	if ((c = conns_find(cs, id)) == NULL)
		return;
	backed = c->outlen - c->outoff >= OUTQ_SOFT || c->ready;
	if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && c->outlen > c->outoff &&
	    conn_flush(cs, c) == -1)
		return;
	/* Output drained below the bound: serve what was kept. */
	if (backed && c->outlen - c->outoff < OUTQ_SOFT && c->inlen > 0)
		serve_kept(cs, c, now);
	if (!c->dead && !c->eof && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		conn_read(cs, c, now);
	/* After EOF: the calls that came are answered, then it closes. */
	eof_note(cs, c);
	if (!c->dead)
		interest(cs, c);
}

/* Connections with whole records left from last round? */
int
conns_pending(const struct conns *cs)
{
	return cs->rhead != NULL;
}

/* Serve the records left from last round (RECS_PER_TURN each). */
void
conns_run(struct conns *cs, uint64_t now)
{
	struct conn	*c, *next;

	c = cs->rhead;
	cs->rhead = NULL;
	for (; c != NULL; c = next) {
		next = c->rnext;
		c->rnext = NULL;
		c->ready = 0;
		if (c->dead)
			continue;
		/* With output waiting, its draining will serve the rest;
		 * with PARK_MAX calls waiting, conns_unpark will. */
		if (c->inlen > 0 && c->outlen == c->outoff &&
		    c->parked < PARK_MAX)
			serve_kept(cs, c, now);
		eof_note(cs, c);
		if (!c->dead)
			interest(cs, c);
	}
}

/* ---- calls waiting for the store --------------------------------------- */

/* A call of C now waits for the store (serve.c's deferred path). */
void
conns_park(struct conn *c)
{
	c->parked++;
}

/*
 * A waiting call of C was answered: under PARK_MAX again, what C sent
 * meanwhile is served next round; after EOF, the last answer closes it.
 */
void
conns_unpark(struct conns *cs, struct conn *c)
{
	if (c->parked > 0)
		c->parked--;
	if (c->dead)
		return;
	if (c->eof && c->parked == 0) {
		eof_note(cs, c);	/* closes at the end of the round */
		return;
	}
	if (c->parked == PARK_MAX - 1 && c->inlen > 0 && !c->ready) {
		c->ready = 1;
		c->rnext = cs->rhead;
		cs->rhead = c;
	}
	interest(cs, c);
}

/* ---- timers ----------------------------------------------------------- */

/*
 * Once a second: close connections that have not completed a call for
 * idle_secs (an idle one, and a slowloris that trickles a record byte
 * by byte), and those that do not read their replies.  The first walk
 * stops at the first connection that is not due; the second sees only
 * connections with replies waiting.
 */
void
conns_sweep(struct conns *cs, uint64_t now)
{
	uint64_t	 limit = (uint64_t)cs->idle_secs * 1000000;
	struct conn	*c, *next;
	int		 n = 0, s = 0;

	while ((c = cs->head) != NULL && now - c->last_call >= limit) {
		conn_close(cs, c);
		n++;
	}
	for (c = cs->ohead; c != NULL; c = next) {
		next = c->onext;
		c->slow = c->wrote < STALL_BYTES ? c->slow + 1 : 0;
		c->wrote = 0;
		if (c->slow > STALL_SECS) {
			conn_close(cs, c);
			s++;
		}
	}
	conns_reap(cs);
	if (n > 0)
		log_debug("closed %d idle connections", n);
	if (s > 0) {
		cs->stalled += (uint64_t)s;
		if (now >= cs->next_stall_log) {
			log_warnx("closed %d connections that did not read "
			    "their replies for %d s (%llu so far)", s,
			    STALL_SECS,
			    (unsigned long long)cs->stalled);
			cs->next_stall_log = now + CAP_LOG_EVERY_US;
		}
	}
}

/* ---- accessors -------------------------------------------------------- */

struct conn *
conns_find(struct conns *cs, uint64_t id)
{
	int		 fd = (int)(id & 0x7fffffff);
	struct conn	*c;

	if (fd >= cs->nfd || (c = cs->byfd[fd]) == NULL ||
	    c->gen != (uint32_t)(id >> 32))
		return NULL;
	return c;
}

uint64_t
conns_id(const struct conn *c)
{
	return (uint64_t)c->gen << 32 | (uint32_t)c->fd;
}

int
conns_fd(const struct conn *c)
{
	return c->fd;
}

int
conns_is_local(const struct conn *c)
{
	return c->local;
}

long
conns_uid(const struct conn *c)
{
	return c->uid;
}

const struct sockaddr *
conns_peer(const struct conn *c, socklen_t *len)
{
	*len = c->addrlen;
	return (const struct sockaddr *)&c->addr;
}

unsigned int
conns_live(const struct conns *cs)
{
	return cs->live;
}
