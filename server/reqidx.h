/* SPDX-License-Identifier: ISC */
/*
 * reqidx.h: the request identities the SQLite store remembers, held in
 * memory in the order they were claimed (the order of their rows).
 */
#ifndef BART_REQIDX_H
#define BART_REQIDX_H

#include <stddef.h>
#include <stdint.h>

struct reqidx;

/* One remembered identity: what its row in the store holds. */
struct reqidx_ent {
	uint64_t	 client;
	uint64_t	 seq;
	int64_t		 result;
	int64_t		 row;		/* its row's number in the store */
	int64_t		 time;		/* when it was claimed (s) */
	int		 kind;
};

struct reqidx	*reqidx_new(void);
void		 reqidx_free(struct reqidx *);
int		 reqidx_reserve(struct reqidx *);
int		 reqidx_add(struct reqidx *, const struct reqidx_ent *);
const struct reqidx_ent *reqidx_find(const struct reqidx *, uint64_t,
		    uint64_t, int);
const struct reqidx_ent *reqidx_nth(const struct reqidx *, size_t);
void		 reqidx_drop_oldest(struct reqidx *, size_t);
void		 reqidx_truncate(struct reqidx *, size_t);
size_t		 reqidx_count(const struct reqidx *);
size_t		 reqidx_bytes(const struct reqidx *);

#endif
