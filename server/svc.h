/* SPDX-License-Identifier: ISC */
/* svc.h: transports and the event loop. */
#ifndef BART_SVC_H
#define BART_SVC_H

#include "env.h"

int	svc_open(struct env *);
int	svc_publish(struct env *);
void	svc_loop(struct env *);
void	svc_close(struct env *);

#endif
