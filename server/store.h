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

/* Request identities are remembered this long, and at most this many. */
#define STORE_REQS_SECS	600
#define STORE_REQS_MAX	100000

enum store_sync {
	STORE_SYNC_NORMAL,	/* survives a daemon crash (WAL) */
	STORE_SYNC_FULL		/* also survives power loss (fsync) */
};

/* Called for each message by store_chat_since(); nonzero stops. */
typedef int (*store_msg_cb)(void *, uint64_t seq, int64_t time,
    const char *name, const char *host, const char *text);

/*
 * A deferred store operation (PostgreSQL): the RPC thread fills the
 * inputs and hands the job over with store_submit; the store's
 * database worker runs it and owns it until store_done gives it back
 * with the outputs set.  Neither thread touches a job the other owns.
 */
enum store_op {
	STORE_OP_COUNT,		/* up > 0: a change; 0: a read of the total */
	STORE_OP_CHAT,		/* CHAT_SEND: a change */
	STORE_OP_SINCE,		/* CHAT_SINCE: rows through cb, on the worker */
	STORE_OP_KNOWN,		/* the rate limit's look-up of an identity */
	STORE_OP_PROBE		/* HEALTH: the connection and a read */
};

struct store_job {
	/* in: set before store_submit */
	enum store_op	 op;
	bart_reqid	 id;
	int64_t		 up;		/* COUNT */
	int64_t		 when;		/* CHAT */
	const char	*name, *host, *text;	/* CHAT: the caller keeps them */
	uint64_t	 after;		/* SINCE */
	unsigned int	 max;		/* SINCE */
	store_msg_cb	 cb;		/* SINCE: runs on the worker thread, */
	void		*cb_arg;	/* and may touch only the job's memory */
	/* out: set by the worker, read after store_done */
	bart_status	 st;
	int64_t		 total;		/* COUNT */
	uint64_t	 seq;		/* CHAT, KNOWN: the message's number */
	int		 found;		/* KNOWN */
	int		 rows;		/* SINCE */
	/* the store's */
	struct store_job *next;
};

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
int		 store_defers(const struct store *);
int		 store_submit(struct store *, struct store_job *);
void		 store_kick(struct store *);
struct store_job *store_done(struct store *);
int		 store_done_fd(const struct store *);
void		 store_stop(struct store *);

#endif
