/* SPDX-License-Identifier: ISC */
/*
 * drc.c: bart's duplicate-request cache (DRC) for the UDP transports.
 *
 * A client that lost a reply over UDP sends the call again with the
 * same xid; the cache answers it with the first reply's bytes instead
 * of running a state-changing procedure twice.  libtirpc has one
 * (svc_dg_enablecache), but 1.3.3's leaks the copy of the caller's
 * address on every eviction and is never freed, so a daemon serving UDP
 * for months grows without bound.  This one has a fixed bound.
 *
 * Layout: SIZE entries in a ring, in insertion order, and a hash table
 * of twice as many buckets (a power of two) chaining them by index.
 * Eviction is FIFO, as in libtirpc and the NFS servers: the slot after
 * the newest holds the oldest reply, and a hit does not make an entry
 * younger.  A retransmission is only useful within its client's
 * timeout of the first reply, so the age since that reply is what
 * counts; LRU would only let a retransmitting peer pin its entries.
 * Each entry holds the reply's actual bytes (malloc'd to their length,
 * at most DRC_REPLY_MAX), so the memory is bounded by
 * SIZE * (sizeof(struct ent) + DRC_REPLY_MAX) + 2 * SIZE * 4 bytes.
 * Lookup and insert are O(1) expected: the hash is keyed with a random
 * seed, so a peer cannot choose xids that share a bucket.
 *
 * Pure logic: the loop (serve.c) looks a call up before running it and
 * inserts the reply it sent.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <rpc/rpc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drc.h"
#include "util.h"

#define NIL		UINT32_MAX
#define KEY_ADDR_MAX	28	/* sizeof(struct sockaddr_in6) */
#define REPLY_MIN	24	/* xid, REPLY, accepted, verifier, status */

/* A caller's address reduced to what identifies it. */
struct key {
	uint32_t	 xid;
	uint32_t	 prog;
	uint32_t	 vers;
	uint32_t	 proc;
	uint32_t	 alen;
	unsigned char	 addr[KEY_ADDR_MAX];	/* zero after alen */
};

struct ent {
	struct key	 k;
	uint32_t	 hash;
	uint32_t	 next;		/* in its bucket's chain, or NIL */
	unsigned char	*reply;		/* NULL: the slot is free */
	size_t		 len;
};

struct drc {
	struct ent	*ent;		/* the ring */
	uint32_t	*bucket;	/* first entry of each chain, or NIL */
	uint32_t	 mask;		/* buckets - 1 */
	uint32_t	 size;
	uint32_t	 head;		/* the next slot to fill: the oldest */
	uint32_t	 used;
	size_t		 bytes;		/* reply bytes held */
	uint64_t	 seed;
};

/*
 * Reduce the caller's address to family, port and address (and the
 * scope of an IPv6 one): the kernel fills the rest of a sockaddr in
 * ways a retransmission need not repeat.  Other families are compared
 * as they are.  -1 if the key cannot be cached.
 */
static int
key_make(struct key *k, const struct drc_key *dk)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
	sa_family_t		af;
	size_t			off = 0;

	memset(k, 0, sizeof(*k));
	k->xid = dk->xid;
	k->prog = dk->prog;
	k->vers = dk->vers;
	k->proc = dk->proc;
	if (dk->addr == NULL || dk->addrlen < sizeof(sa_family_t))
		return -1;
	af = dk->addr->sa_family;
	switch (af) {
	case AF_INET:
		if (dk->addrlen < sizeof(sin))
			return -1;
		memcpy(&sin, dk->addr, sizeof(sin));
		memcpy(k->addr + off, &af, sizeof(af));
		off += sizeof(af);
		memcpy(k->addr + off, &sin.sin_port, sizeof(sin.sin_port));
		off += sizeof(sin.sin_port);
		memcpy(k->addr + off, &sin.sin_addr, sizeof(sin.sin_addr));
		off += sizeof(sin.sin_addr);
		break;
	case AF_INET6:
		if (dk->addrlen < sizeof(sin6))
			return -1;
		memcpy(&sin6, dk->addr, sizeof(sin6));
		memcpy(k->addr + off, &af, sizeof(af));
		off += sizeof(af);
		memcpy(k->addr + off, &sin6.sin6_port,
		    sizeof(sin6.sin6_port));
		off += sizeof(sin6.sin6_port);
		memcpy(k->addr + off, &sin6.sin6_addr,
		    sizeof(sin6.sin6_addr));
		off += sizeof(sin6.sin6_addr);
		memcpy(k->addr + off, &sin6.sin6_scope_id,
		    sizeof(sin6.sin6_scope_id));
		off += sizeof(sin6.sin6_scope_id);
		break;
	default:
		if (dk->addrlen > KEY_ADDR_MAX)
			return -1;
		memcpy(k->addr, dk->addr, dk->addrlen);
		off = dk->addrlen;
		break;
	}
	k->alen = (uint32_t)off;
	return 0;
}

static uint32_t
key_hash(const struct drc *d, const struct key *k)
{
	uint64_t	h = d->seed;
	uint32_t	w;
	size_t		i;

	h = util_mix64(h ^ ((uint64_t)k->xid << 32 | k->proc));
	h = util_mix64(h ^ ((uint64_t)k->prog << 32 | k->vers));
	for (i = 0; i < k->alen; i += sizeof(w)) {
		memcpy(&w, k->addr + i, sizeof(w));	/* zero-padded */
		h = util_mix64(h ^ w);
	}
	return (uint32_t)(h >> 32);
}

static int
key_eq(const struct key *a, const struct key *b)
{
	return a->xid == b->xid && a->proc == b->proc &&
	    a->vers == b->vers && a->prog == b->prog &&
	    a->alen == b->alen && memcmp(a->addr, b->addr, a->alen) == 0;
}

static uint32_t
find(const struct drc *d, const struct key *k, uint32_t h)
{
	uint32_t	i;

	for (i = d->bucket[h & d->mask]; i != NIL; i = d->ent[i].next)
		if (d->ent[i].hash == h && key_eq(&d->ent[i].k, k))
			return i;
	return NIL;
}

/* Take entry I out of its chain; its slot keeps the reply buffer. */
static void
ent_unlink(struct drc *d, uint32_t i)
{
	uint32_t	*p = &d->bucket[d->ent[i].hash & d->mask];

	while (*p != NIL && *p != i)
		p = &d->ent[*p].next;
	if (*p == i)
		*p = d->ent[i].next;
	d->ent[i].next = NIL;
}

/* A cache of at most SIZE replies; NULL on error (errno set). */
struct drc *
drc_init(unsigned int size)
{
	struct drc	*d;
	uint32_t	 nb = 1, i;

	if (size == 0 || size > DRC_ENTRIES_MAX) {
		errno = EINVAL;
		return NULL;
	}
	while (nb < 2 * size)
		nb <<= 1;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((d->ent = calloc(size, sizeof(*d->ent))) == NULL ||
	    (d->bucket = calloc(nb, sizeof(*d->bucket))) == NULL)
		goto fail;
	for (i = 0; i < nb; i++)
		d->bucket[i] = NIL;
	for (i = 0; i < size; i++)
		d->ent[i].next = NIL;
	d->mask = nb - 1;
	d->size = size;
	d->seed = (uint64_t)arc4random() << 32 | arc4random();
	return d;
fail:
	free(d->ent);
	free(d->bucket);
	free(d);
	return NULL;
}

void
drc_exit(struct drc *d)
{
	uint32_t	i;

	if (d == NULL)
		return;
	for (i = 0; i < d->size; i++)
		free(d->ent[i].reply);
	free(d->ent);
	free(d->bucket);
	free(d);
}

static struct ent *
lookup(struct drc *d, const struct drc_key *dk)
{
	struct key	k;
	uint32_t	i;

	if (d == NULL || key_make(&k, dk) == -1)
		return NULL;
	if ((i = find(d, &k, key_hash(d, &k))) == NIL)
		return NULL;
	return &d->ent[i];
}

/* The reply cached for this call, or NULL; its length in *LENP. */
const unsigned char *
drc_lookup(struct drc *d, const struct drc_key *dk, size_t *lenp)
{
	struct ent	*e;

	if ((e = lookup(d, dk)) == NULL)
		return NULL;
	*lenp = e->len;
	return e->reply;
}

/*
 * Remember the reply to a call, evicting the oldest when full; the same
 * call again replaces its reply in place.  -1 if it cannot be cached
 * (no memory, an empty or oversized reply, an address too long).
 */
int
drc_insert(struct drc *d, const struct drc_key *dk, const void *reply,
    size_t len)
{
	struct key	 k;
	struct ent	*e;
	unsigned char	*buf;
	uint32_t	 h, i;

	if (d == NULL || len == 0 || len > DRC_REPLY_MAX ||
	    key_make(&k, dk) == -1)
		return -1;
	h = key_hash(d, &k);
	if ((i = find(d, &k, h)) != NIL) {
		e = &d->ent[i];
		if ((buf = realloc(e->reply, len)) == NULL)
			return -1;
		d->bytes = d->bytes - e->len + len;
	} else {
		i = d->head;
		e = &d->ent[i];
		if (e->reply != NULL) {
			ent_unlink(d, i);
			d->bytes -= e->len;
			d->used--;
		}
		/* On failure the oldest is gone and its slot stays free. */
		if ((buf = realloc(e->reply, len)) == NULL) {
			free(e->reply);
			e->reply = NULL;
			e->len = 0;
			return -1;
		}
		e->k = k;
		e->hash = h;
		e->next = d->bucket[h & d->mask];
		d->bucket[h & d->mask] = i;
		d->head = (i + 1) % d->size;
		d->bytes += len;
		d->used++;
	}
	memcpy(buf, reply, len);
	e->reply = buf;
	e->len = len;
	return 0;
}

/* How many replies are held, and how many bytes they take. */
unsigned int
drc_count(const struct drc *d)
{
	return d == NULL ? 0 : d->used;
}

size_t
drc_bytes(const struct drc *d)
{
	return d == NULL ? 0 : d->bytes;
}
