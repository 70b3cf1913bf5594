/* SPDX-License-Identifier: ISC */
/*
 * serve.h: one round of serving: wait for sockets, read calls, run
 * them, group-commit the changes, send the replies.  The daemon's loop
 * and the fuzzer both drive serve_round.
 */
#ifndef BART_SERVE_H
#define BART_SERVE_H

#include <stdint.h>

#include "env.h"
#include "proc.h"

struct serve;

struct serve	*serve_init(struct env *, unsigned int);
void		 serve_exit(struct serve *);
int		 serve_listen(struct serve *, int, enum proc_xport);
int		 serve_adopt(struct serve *, int, enum proc_xport);
int		 serve_round(struct serve *, int);
void		 serve_tick(struct serve *, uint64_t);
unsigned int	 serve_conns(const struct serve *);

#endif
