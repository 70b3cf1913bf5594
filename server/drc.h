/* SPDX-License-Identifier: ISC */
/* drc.h: bart's duplicate-request cache for the datagram transports. */
#ifndef BART_DRC_H
#define BART_DRC_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define DRC_REPLY_MAX	8800	/* libtirpc's UDP buffer: no reply is longer */
#define DRC_ENTRIES_MAX	(1U << 20)

struct drc;

/* What makes a call the same call: a retransmission repeats all of it. */
struct drc_key {
	uint32_t		 xid;
	uint32_t		 prog;
	uint32_t		 vers;
	uint32_t		 proc;
	const struct sockaddr	*addr;		/* the caller, port included */
	socklen_t		 addrlen;
};

struct drc	*drc_init(unsigned int);
void		 drc_exit(struct drc *);
const unsigned char *drc_lookup(struct drc *, const struct drc_key *,
		    size_t *);
int		 drc_insert(struct drc *, const struct drc_key *,
		    const void *, size_t);
unsigned int	 drc_count(const struct drc *);
size_t		 drc_bytes(const struct drc *);

#endif
