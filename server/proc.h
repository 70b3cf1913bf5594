/* proc.h: the BART_PROG procedures and their dispatcher. */
#ifndef BART_PROC_H
#define BART_PROC_H

#include <rpc/rpc.h>

#include "env.h"

void	proc_init(struct env *);
void	proc_exit(struct env *);
void	proc_dispatch(struct svc_req *, SVCXPRT *);

#endif
