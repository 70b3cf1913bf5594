/* SPDX-License-Identifier: ISC */
/*
 * store.h: durable state behind one narrow interface: SQLite, or
 * PostgreSQL shared by several daemons (store_open_pg, pgstore.c).
 * Every write is committed before it returns BART_OK, or, inside a
 * group (store_group_begin), before store_group_commit returns BART_OK:
 * a reply built from it is sent only then and survives kill -9.
 */
#ifndef BART_STORE_H
#define BART_STORE_H

#include <stdint.h>

#include "bart.h"

struct store;

enum store_sync {
	STORE_SYNC_NORMAL,	/* survives a daemon crash (WAL) */
	STORE_SYNC_FULL		/* also survives power loss (fsync) */
};

/* Called for each message by store_chat_since(); nonzero stops. */
typedef int (*store_msg_cb)(void *, uint64_t seq, int64_t time,
    const char *name, const char *host, const char *text);

struct store	*store_open(const char *dir, enum store_sync);
struct store	*store_open_pg(const char *);
void		 store_feed(struct store *, store_msg_cb, void *);
void		 store_close(struct store *);
int64_t		 store_count_get(struct store *);
bart_status	 store_count_add(struct store *, const bart_reqid *, int64_t,
		    int64_t *);
int		 store_count_set(struct store *, int64_t);
bart_status	 store_chat_add(struct store *, const bart_reqid *, int64_t,
		    const char *, const char *, const char *, uint64_t *);
uint64_t	 store_chat_newest(struct store *);
int		 store_chat_known(struct store *, const bart_reqid *,
		    uint64_t *);
uint64_t	 store_chat_pending(struct store *);
int		 store_group_begin(struct store *);
int		 store_in_group(const struct store *);
bart_status	 store_group_commit(struct store *);
int		 store_chat_since(struct store *, uint64_t, unsigned int,
		    store_msg_cb, void *);
int		 store_prune(struct store *, int64_t);
bart_status	 store_probe(struct store *, int64_t);
long long	 store_reqs_count(struct store *);
int		 store_reqs_trim(struct store *, unsigned int);
int		 store_chat_cap(struct store *, unsigned int);
int		 store_check(struct store *);

#endif
