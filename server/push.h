/*
 * push.h: chat subscriptions and callback delivery.  Each subscriber
 * has its own delivery thread, so a stopped or dead client only ever
 * blocks itself; the RPC thread never calls a client.
 */
#ifndef BART_PUSH_H
#define BART_PUSH_H

#include <sys/socket.h>

#include <stdint.h>

#include "bart.h"
#include "chat.h"

struct push;

struct push_limits {
	unsigned int	per_peer;	/* subscriptions per peer address */
	unsigned int	total;		/* subscriptions in all */
	int		timeout_ms;	/* connect and call timeout */
	int		max_failures;	/* consecutive, then dropped */
};

struct push	*push_init(struct chat_ring *, const struct push_limits *);
void		 push_exit(struct push *);
bart_status	 push_admit(struct push *, const struct sockaddr *);
bart_status	 push_subscribe(struct push *, const struct sockaddr *,
		    socklen_t, long, uint32_t, uint32_t, uint64_t,
		    chat_sub_ok *);
bart_status	 push_unsubscribe(struct push *, const chat_sub_ref *);
bart_status	 push_renew(struct push *, const chat_sub_ref *,
		    sub_state *);
unsigned int	 push_count(struct push *);
void		 push_reap(struct push *);

#endif
