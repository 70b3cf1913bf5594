/* SPDX-License-Identifier: ISC */
/*
 * limit.c: per-peer rate limits, so one caller cannot take the daemon
 * (or the disk) from everyone else.
 *
 * A peer is a local uid when the caller runs on this host (whatever
 * transport or address it used), else its IPv4 address or its IPv6 /64
 * (one host usually owns a whole /64, as conns.c counts connections).
 * Each peer has a token bucket of BURST calls refilled at RATE per
 * second, kept as the "theoretical arrival time" of GCRA: one 64-bit
 * time per peer, no timer.  A bucket that has refilled completely
 * holds nothing a fresh one would not, so its slot can be reused: the
 * table is fixed (LIMIT_SLOTS), and a peer only loses its bucket to
 * another when all slots in its probe window are busy (many peers at
 * once), which then errs towards admitting.
 *
 * The check comes before the store's request-identity lookup, so a
 * resend of a stored message within the same burst can be told
 * BART_ERATE; a client resends after a timeout of seconds, by which
 * the bucket has refilled.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limit.h"
#include "log.h"
#include "peer.h"
#include "util.h"

#define LIMIT_SLOTS	4096	/* a power of two */
#define LIMIT_PROBE	8	/* slots a peer's key may occupy */

enum key_kind { KEY_NONE = 0, KEY_UID, KEY_V4, KEY_V6 };

struct slot {
	uint64_t	tat;	/* when the bucket is full again, us */
	uint8_t		kind;	/* enum key_kind; KEY_NONE: free */
	uint8_t		noted;	/* this episode's refusal logged */
	unsigned char	key[8];
};

/* What limit_uid learnt about the connection on one fd. */
struct memo {
	dev_t		dev;
	ino_t		ino;		/* the socket's; 0: nothing known */
	long		uid;
};

struct limit {
	const char	*what;		/* for the log: "chat" */
	uint64_t	 interval;	/* us per token */
	uint64_t	 tolerance;	/* burst * interval */
	unsigned int	 rate, burst;
	uint64_t	 seed;		/* hash key: no chosen clashes */
	uint64_t	 refused;
	struct memo	*memo;		/* by fd */
	int		 nmemo;
	struct slot	 slot[LIMIT_SLOTS];
};

/*
 * A limiter for WHAT: RATE calls a second per peer after a burst of
 * BURST.  RATE 0 means no limit (NULL, which limit_take accepts).
 */
struct limit *
limit_init(const char *what, unsigned int rate, unsigned int burst)
{
	struct limit	*l;

	if (rate == 0)
		return NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("rate limit table");
	if (rate > 1000000)
		rate = 1000000;
	if (burst == 0)
		burst = 1;
	l->what = what;
	l->rate = rate;
	l->burst = burst;
	l->interval = 1000000 / rate;
	l->tolerance = (uint64_t)burst * l->interval;
	l->seed = util_random_u64();
	log_info("%s: at most %u a second per peer, bursts of %u", what,
	    rate, burst);
	return l;
}

void
limit_exit(struct limit *l)
{
	if (l != NULL)
		free(l->memo);
	free(l);
}

/*
 * The uid of the caller on stream connection FD (peer_uid's answer:
 * LOOKUP(RQ)), asked once per connection instead of once per call: a
 * connection's caller never changes, and the lookup costs a bind, a
 * getsockname and a sock_diag query.  The socket's inode tells the
 * connection from a later one on the same fd (one fstat).  An answer
 * that may change (unknown: out of descriptors, say) is not kept.
 */
long
limit_uid(struct limit *l, int fd, long (*lookup)(const struct proc_req *),
    const struct proc_req *rq)
{
	struct stat	 st;
	struct memo	*m, *nm;
	long		 uid;
	int		 n;

	if (l == NULL || fd < 0 || fstat(fd, &st) == -1)
		return lookup(rq);
	if (fd < l->nmemo) {
		m = &l->memo[fd];
		if (m->ino != 0 && m->ino == st.st_ino && m->dev == st.st_dev)
			return m->uid;
	}
	uid = lookup(rq);
	if (uid < 0 && uid != PEER_REMOTE)
		return uid;
	if (fd >= l->nmemo) {
		n = fd + 64;
		if ((nm = reallocarray(l->memo, (size_t)n, sizeof(*nm))) ==
		    NULL)
			return uid;
		memset(nm + l->nmemo, 0, (size_t)(n - l->nmemo) *
		    sizeof(*nm));
		l->memo = nm;
		l->nmemo = n;
	}
	m = &l->memo[fd];
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->uid = uid;
	return uid;
}

/* The peer's key: uid if local, IPv4 address, or IPv6 /64 prefix. */
static void
peer_key(const struct sockaddr *sa, long uid, uint8_t *kind,
    unsigned char key[8])
{
	const struct sockaddr_in6	*s6;
	uint32_t			 u;

	memset(key, 0, 8);
	if (uid >= 0) {
		*kind = KEY_UID;
		u = (uint32_t)uid;
		memcpy(key, &u, sizeof(u));
		return;
	}
	if (sa->sa_family == AF_INET) {
		*kind = KEY_V4;
		memcpy(key, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
		return;
	}
	if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			*kind = KEY_V4;
			memcpy(key, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			*kind = KEY_V6;
			memcpy(key, s6->sin6_addr.s6_addr, 8);
		}
		return;
	}
	/* This host, uid unknown: one shared bucket for all of them. */
	*kind = KEY_UID;
	memset(key, 0xff, 8);
}

static uint64_t
key_hash(const struct limit *l, uint8_t kind, const unsigned char key[8])
{
	uint64_t	h, k;

	memcpy(&k, key, 8);
	h = l->seed ^ (k + kind) * 0x9e3779b97f4a7c15ULL;
	return util_mix64(h);
}

static void
key_str(uint8_t kind, const unsigned char key[8], char *buf, size_t len)
{
	unsigned char	a6[16];
	uint32_t	u;

	if (kind == KEY_UID) {
		memcpy(&u, key, sizeof(u));
		if (u == 0xffffffffU)
			snprintf(buf, len, "a local caller of unknown uid");
		else
			snprintf(buf, len, "local uid %u", (unsigned int)u);
	} else if (kind == KEY_V4) {
		inet_ntop(AF_INET, key, buf, (socklen_t)len);
	} else {
		memset(a6, 0, sizeof(a6));
		memcpy(a6, key, 8);
		inet_ntop(AF_INET6, a6, buf, (socklen_t)len);
		strncat(buf, "/64", len - strlen(buf) - 1);
	}
}

/* The slot for this key: its own, else a free or full one, else LRU. */
static struct slot *
find_slot(struct limit *l, uint8_t kind, const unsigned char key[8],
    uint64_t now)
{
	struct slot	*s, *spare = NULL, *oldest = NULL;
	uint64_t	 h = key_hash(l, kind, key);
	int		 i;

	for (i = 0; i < LIMIT_PROBE; i++) {
		s = &l->slot[(h + (uint64_t)i) & (LIMIT_SLOTS - 1)];
		if (s->kind == kind && memcmp(s->key, key, 8) == 0)
			return s;
		if (spare == NULL && (s->kind == KEY_NONE || s->tat <= now))
			spare = s;
		if (oldest == NULL || s->tat < oldest->tat)
			oldest = s;
	}
	s = spare != NULL ? spare : oldest;
	s->kind = kind;
	memcpy(s->key, key, 8);
	s->tat = now;
	s->noted = 0;
	return s;
}

/*
 * One call from the caller at SA (uid UID, or a negative peer_uid
 * value if not known to be local) at NOW (us, monotonic): 0 if it may
 * go ahead, -1 if it is over the limit.  A refused call takes no token,
 * so a flood does not delay the peer's recovery.
 */
int
limit_take(struct limit *l, const struct sockaddr *sa, long uid,
    uint64_t now)
{
	struct slot	*s;
	unsigned char	 key[8];
	uint8_t		 kind;
	uint64_t	 tat;
	char		 who[64];

	if (l == NULL)
		return 0;
	peer_key(sa, uid, &kind, key);
	s = find_slot(l, kind, key, now);
	tat = s->tat > now ? s->tat : now;
	if (tat == now)
		s->noted = 0;		/* a full bucket: a new episode */
	if (tat + l->interval - now > l->tolerance) {
		l->refused++;
		if (!s->noted) {
			key_str(kind, key, who, sizeof(who));
			log_info("%s: %s is over %u a second (bursts of %u): "
			    "refused with BART_ERATE (%llu refused so far)",
			    l->what, who, l->rate, l->burst,
			    (unsigned long long)l->refused);
			s->noted = 1;
		}
		return -1;
	}
	s->tat = tat + l->interval;
	return 0;
}
