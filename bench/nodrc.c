/*
 * nodrc.c: linked only into bart_svc_nodrc, a bench-only twin of
 * bart_svc (-Wl,--wrap=svc_dg_enablecache) whose UDP transports get no
 * duplicate-request cache, so the bench can price the cache per call.
 */
#include <rpc/rpc.h>

int	__wrap_svc_dg_enablecache(SVCXPRT *, u_int);

int
__wrap_svc_dg_enablecache(SVCXPRT *xprt, u_int size)
{
	(void)xprt;
	(void)size;
	return 1;		/* "enabled": bart_svc logs nothing */
}
