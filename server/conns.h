/* conns.h: tracking and limiting the connections libtirpc accepts. */
#ifndef BART_CONNS_H
#define BART_CONNS_H

#include <poll.h>
#include <rpc/rpc.h>
#include <stdint.h>

#include "env.h"

struct conns;

struct conns	*conns_init(struct env *);
void		 conns_exit(struct conns *);
void		 conns_note_readable(struct conns *, struct env *,
		    const struct pollfd *);
void		 conns_dgram_forget(struct conns *);
unsigned int	 conns_sync(struct conns *, struct env *, uint64_t);
void		 conns_emfile(struct conns *, struct env *,
		    const struct pollfd *, int, uint64_t);
void		 conns_sweep(struct conns *, uint64_t);
void		 conns_touch(SVCXPRT *);
int		 conns_dgram_args_ok(SVCXPRT *, xdrproc_t);

#endif
