/* SPDX-License-Identifier: ISC */
/*
 * conns.h: bart's stream connections (tcp, tcp6, local): accept,
 * record reassembly, a bounded output queue, and the limits (caps per
 * peer and in all, idle eviction, EMFILE shedding).
 */
#ifndef BART_CONNS_H
#define BART_CONNS_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "env.h"

struct conns;
struct conn;

/* Called for each whole call record a connection delivers. */
typedef void	(*conns_rec_fn)(void *, struct conn *, const unsigned char *,
		    size_t);

/* The reply buffer a caller hands conns_reply keeps this much in front. */
#define CONNS_MARK	4

struct conns	*conns_init(struct env *, int, conns_rec_fn, void *);
void		 conns_exit(struct conns *);
void		 conns_accept(struct conns *, int, int, uint64_t);
int		 conns_adopt(struct conns *, int, int, uint64_t);
void		 conns_event(struct conns *, uint64_t, uint32_t, uint64_t);
int		 conns_pending(const struct conns *);
void		 conns_run(struct conns *, uint64_t);
int		 conns_reply(struct conns *, struct conn *, unsigned char *,
		    size_t);
void		 conns_close(struct conns *, struct conn *);
void		 conns_park(struct conn *);
void		 conns_unpark(struct conns *, struct conn *);
void		 conns_reap(struct conns *);
void		 conns_sweep(struct conns *, uint64_t);
struct conn	*conns_find(struct conns *, uint64_t);
uint64_t	 conns_id(const struct conn *);
int		 conns_fd(const struct conn *);
int		 conns_is_local(const struct conn *);
long		 conns_uid(const struct conn *);
const struct sockaddr *conns_peer(const struct conn *, socklen_t *);
unsigned int	 conns_live(const struct conns *);

#endif
