/* svc.h: transports, rpcbind registration and the event loop. */
#ifndef BART_SVC_H
#define BART_SVC_H

#include "env.h"

int	svc_open(struct env *);
int	svc_publish(struct env *);
void	svc_loop(struct env *);
void	svc_close(struct env *);

#define SVC_REMOTE	(-1L)	/* svc_caller_uid: another host */
#define SVC_UID_UNKNOWN	(-2L)	/* this host, uid not known */
long	svc_caller_uid(SVCXPRT *);
int	svc_dgram_args_ok(SVCXPRT *, xdrproc_t);

#endif
