/* SPDX-License-Identifier: ISC */
/*
 * reqidx.c: the request identities the SQLite store remembers, in
 * memory, so that its table of them needs no index.
 *
 * Why: with the identity as the table's key (client, seq, kind), each
 * count wrote its row into the b-tree leaf of its own client: eight
 * clients' counts in one commit dirtied eight leaves, each a 4 KB WAL
 * frame checksummed and written, and the look-up walked the tree.  Now
 * rows are appended in claim order (an integer key that only grows),
 * so a commit dirties the one last leaf, and the duplicate check is a
 * hash look-up here.  The store loads every row at open and keeps the
 * two in step: a row is added here after its INSERT, dropped when the
 * transaction rolls back (reqidx_truncate: the newest go), and the
 * oldest are dropped after their DELETE (prune and trim go oldest
 * first, the order of the rows).
 *
 * Layout, as drc.c: the entries in a ring in insertion order (serial
 * numbers head..tail-1), and a hash table of twice as many buckets
 * chaining them by serial.  The hash is keyed with a random seed: a
 * client chooses its identities, and must not be able to choose ones
 * that share a bucket.  Memory: 80 bytes a slot (64 the entry, 16 its
 * two buckets); the ring doubles when full and halves below a quarter,
 * so an identity costs 80-320 bytes (100,000 of them: 8-32 MB).
 */
#include <stdlib.h>
#include <string.h>

#include "reqidx.h"
#include "util.h"

#define CAP_MIN		1024

struct node {
	struct reqidx_ent	 e;
	uint64_t		 next;	/* serial + 1 in the chain, 0: end */
	uint32_t		 hash;
};

struct reqidx {
	struct node	*ring;
	size_t		 cap;		/* a power of two */
	uint64_t	 head, tail;	/* serials: live are head..tail-1 */
	uint64_t	*bucket;	/* 2 * cap: serial + 1, 0: empty */
	uint64_t	 seed;
};

static uint32_t
key_hash(const struct reqidx *x, uint64_t client, uint64_t seq, int kind)
{
	uint64_t	h;

	h = util_mix64(x->seed ^ client);
	h = util_mix64(h ^ seq);
	h = util_mix64(h ^ (uint64_t)(unsigned int)kind);
	return (uint32_t)(h >> 32);
}

static struct node *
node_of(const struct reqidx *x, uint64_t serial)
{
	return &x->ring[serial & (x->cap - 1)];
}

static uint64_t *
bucket_of(const struct reqidx *x, uint32_t hash)
{
	return &x->bucket[hash & (2 * x->cap - 1)];
}

/* Chain SERIAL (already in the ring) at the head of its bucket. */
static void
link_in(struct reqidx *x, uint64_t serial)
{
	struct node	*n = node_of(x, serial);
	uint64_t	*b = bucket_of(x, n->hash);

	n->next = *b;
	*b = serial + 1;
}

/* Take SERIAL out of its bucket's chain. */
static void
link_out(struct reqidx *x, uint64_t serial)
{
	uint64_t	*p = bucket_of(x, node_of(x, serial)->hash);

	while (*p != 0 && *p != serial + 1)
		p = &node_of(x, *p - 1)->next;
	if (*p != 0)
		*p = node_of(x, serial)->next;
}

/* Move the live entries into a ring of CAP (a power of two). */
static int
resize(struct reqidx *x, size_t cap)
{
	struct node	*ring, *old = x->ring;
	uint64_t	*bucket, s;
	size_t		 oldcap = x->cap;

	if ((ring = calloc(cap, sizeof(*ring))) == NULL)
		return -1;
	if ((bucket = calloc(2 * cap, sizeof(*bucket))) == NULL) {
		free(ring);
		return -1;
	}
	for (s = x->head; s != x->tail; s++)
		ring[s & (cap - 1)] = old[s & (oldcap - 1)];
	free(old);
	free(x->bucket);
	x->ring = ring;
	x->bucket = bucket;
	x->cap = cap;
	/* Oldest first: a chain keeps its newest at its head. */
	for (s = x->head; s != x->tail; s++)
		link_in(x, s);
	return 0;
}

struct reqidx *
reqidx_new(void)
{
	struct reqidx	*x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->seed = util_random_u64();
	if (resize(x, CAP_MIN) == -1) {
		free(x);
		return NULL;
	}
	return x;
}

void
reqidx_free(struct reqidx *x)
{
	if (x == NULL)
		return;
	free(x->ring);
	free(x->bucket);
	free(x);
}

/*
 * Make room for one more entry, so that the reqidx_add after a row's
 * INSERT cannot fail.  -1 if out of memory.
 */
int
reqidx_reserve(struct reqidx *x)
{
	if (x->tail - x->head < x->cap)
		return 0;
	return resize(x, 2 * x->cap);
}

/* Remember E as the newest; -1 if out of memory (nothing changed). */
int
reqidx_add(struct reqidx *x, const struct reqidx_ent *e)
{
	struct node	*n;

	if (reqidx_reserve(x) == -1)
		return -1;
	n = node_of(x, x->tail);
	n->e = *e;
	n->hash = key_hash(x, e->client, e->seq, e->kind);
	link_in(x, x->tail);
	x->tail++;
	return 0;
}

/* The entry of identity (CLIENT, SEQ, KIND), or NULL. */
const struct reqidx_ent *
reqidx_find(const struct reqidx *x, uint64_t client, uint64_t seq, int kind)
{
	const struct node	*n;
	uint32_t		 h = key_hash(x, client, seq, kind);
	uint64_t		 s;

	for (s = *bucket_of(x, h); s != 0; s = n->next) {
		n = node_of(x, s - 1);
		if (n->hash == h && n->e.client == client &&
		    n->e.seq == seq && n->e.kind == kind)
			return &n->e;
	}
	return NULL;
}

/* The Ith oldest entry (0: the oldest), or NULL past the newest. */
const struct reqidx_ent *
reqidx_nth(const struct reqidx *x, size_t i)
{
	if (i >= x->tail - x->head)
		return NULL;
	return &node_of(x, x->head + i)->e;
}

/* Forget the N oldest entries (all, if there are fewer). */
void
reqidx_drop_oldest(struct reqidx *x, size_t n)
{
	size_t	cap;

	for (; n > 0 && x->head != x->tail; n--) {
		link_out(x, x->head);
		x->head++;
	}
	cap = x->cap;
	while (cap > CAP_MIN && x->tail - x->head < cap / 4)
		cap /= 2;
	if (cap != x->cap)
		resize(x, cap);		/* on failure: stays as large */
}

/* Forget the newest entries until COUNT are left. */
void
reqidx_truncate(struct reqidx *x, size_t count)
{
	while (x->tail - x->head > count) {
		link_out(x, x->tail - 1);
		x->tail--;
	}
}

size_t
reqidx_count(const struct reqidx *x)
{
	return (size_t)(x->tail - x->head);
}

/* The memory it holds, for STATS and the README's figures. */
size_t
reqidx_bytes(const struct reqidx *x)
{
	return sizeof(*x) + x->cap * (sizeof(struct node) + 2 *
	    sizeof(uint64_t));
}
