/* SPDX-License-Identifier: ISC */
/*
 * push.h: chat subscriptions and callback delivery.  One delivery
 * thread drives every subscriber's callback over non-blocking sockets
 * (a state machine per subscriber), so a stopped or dead client only
 * ever delays itself, and the daemon's thread count does not grow with
 * the number of subscribers.  The RPC thread never calls a client.
 */
#ifndef BART_PUSH_H
#define BART_PUSH_H

#include <sys/socket.h>

#include <stdint.h>

#include "bart.h"
#include "chat.h"

struct push;

struct push_limits {
	unsigned int	per_peer;	/* per local uid, IPv4 addr, IPv6 /64 */
	unsigned int	total;		/* subscriptions in all */
	int		timeout_ms;	/* deadline of each whole call */
	int		max_failures;	/* consecutive, then dropped */
	unsigned int	sub_rate;	/* SUBSCRIBEs per peer per second
					   (0: PUSH_SUB_RATE) */
	unsigned int	sub_burst;	/* beyond the rate (0: 4 x rate) */
};

#define PUSH_SUB_RATE	10

/* What the delivery thread has done, for tests and the bench. */
struct push_counters {
	uint64_t	delivers;	/* DELIVER calls sent */
	uint64_t	delivered;	/* ... answered BART_OK */
	uint64_t	probes;		/* NULLPROC probes sent */
	uint64_t	lookups;	/* rpcbind GETADDR calls sent */
	uint64_t	refused_owner;	/* local callbacks of another uid */
	uint64_t	rated;		/* SUBSCRIBEs refused by the rate */
};

struct push	*push_init(struct chat_ring *, const struct push_limits *);
void		 push_exit(struct push *);
bart_status	 push_admit(struct push *, const struct sockaddr *);
bart_status	 push_subscribe(struct push *, const struct sockaddr *,
		    socklen_t, long, uint32_t, uint32_t, uint64_t,
		    chat_sub_ok *);
bart_status	 push_subscribe_at(struct push *, const struct sockaddr *,
		    socklen_t, const struct sockaddr *, long, uint32_t,
		    uint32_t, uint64_t, chat_sub_ok *);
bart_status	 push_unsubscribe(struct push *, const chat_sub_ref *);
bart_status	 push_renew(struct push *, const chat_sub_ref *,
		    sub_state *);
unsigned int	 push_count(struct push *);
unsigned int	 push_held(struct push *);
void		 push_counters(struct push *, struct push_counters *);
void		 push_reap(struct push *);

#endif
