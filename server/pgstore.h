/* SPDX-License-Identifier: ISC */
/*
 * pgstore.h: the PostgreSQL store (libpq), shared by every bart_svc
 * that names the same database.  store.c forwards to it when bart_svc
 * runs with --store; the operations mirror store.h's.
 */
#ifndef BART_PGSTORE_H
#define BART_PGSTORE_H

#include <stdint.h>

#include "bart.h"
#include "store.h"

struct pgstore;

struct pgstore	*pgstore_open(const char *);
void		 pgstore_close(struct pgstore *);
void		 pgstore_stop(struct pgstore *);
void		 pgstore_feed(struct pgstore *, store_msg_cb, void *);
int64_t		 pgstore_count_get(struct pgstore *);
bart_status	 pgstore_count_add(struct pgstore *, const bart_reqid *,
		    int64_t, int64_t *);
int		 pgstore_count_set(struct pgstore *, int64_t);
bart_status	 pgstore_chat_add(struct pgstore *, const bart_reqid *,
		    int64_t, const char *, const char *, const char *,
		    uint64_t *);
uint64_t	 pgstore_chat_newest(struct pgstore *);
int		 pgstore_chat_known(struct pgstore *, const bart_reqid *,
		    uint64_t *);
int		 pgstore_chat_since(struct pgstore *, uint64_t, unsigned int,
		    store_msg_cb, void *);
int		 pgstore_prune(struct pgstore *, int64_t);
long long	 pgstore_reqs_count(struct pgstore *);
int		 pgstore_reqs_trim(struct pgstore *, unsigned int);
int		 pgstore_chat_cap(struct pgstore *, unsigned int);
int		 pgstore_check(struct pgstore *);
int		 pgstore_defers(struct pgstore *);
int		 pgstore_submit(struct pgstore *, struct store_job *);
void		 pgstore_kick(struct pgstore *);
struct store_job *pgstore_done(struct pgstore *);
int		 pgstore_done_fd(struct pgstore *);

#endif
