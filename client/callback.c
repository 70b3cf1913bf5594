/*
 * callback.c: the chat client's callback program.  It listens on tcp
 * (and tcp6), picks a free transient program number by trying rpcb_set
 * from a random start, and removes only its own registrations at exit.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <rpc/rpc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bart.h"
#include "callback.h"
#include "util.h"

#define PROG_TRIES	1000

static SVCXPRT *
listen_on(struct netconfig *nc)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, on = 1, af;
	SVCXPRT			*x;

	af = strcmp(nc->nc_protofmly, NC_INET6) == 0 ? AF_INET6 : AF_INET;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)af;
	len = af == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if ((fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return NULL;
	if (af == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	/* Port 0: any unprivileged port, no reserved-port scan as root. */
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 16) == -1 ||
	    (x = svc_tli_create(fd, nc, NULL, 0, 0)) == NULL) {
		close(fd);
		return NULL;
	}
	return x;
}

/* Open the transports and register a free transient program number. */
int
callback_open(struct callback *cb, void (*dispatch)(struct svc_req *,
    SVCXPRT *))
{
	static const char *const netids[] = { "tcp", "tcp6" };
	struct netconfig	*nc;
	uint32_t		 span, prog;
	size_t			 i;
	int			 t, k;

	memset(cb, 0, sizeof(*cb));
	for (i = 0; i < sizeof(netids) / sizeof(netids[0]); i++) {
		if ((nc = getnetconfigent(netids[i])) == NULL)
			continue;
		if ((cb->xprt[cb->nx] = listen_on(nc)) == NULL) {
			freenetconfigent(nc);
			continue;
		}
		cb->nconf[cb->nx++] = nc;
	}
	if (cb->nx == 0)
		return -1;
	span = BART_CB_PROG_MAX - BART_CB_PROG_MIN + 1;
	util_random(&prog, sizeof(prog));
	prog = BART_CB_PROG_MIN + prog % span;
	for (t = 0; t < PROG_TRIES; t++, prog = BART_CB_PROG_MIN +
	    (prog - BART_CB_PROG_MIN + 1) % span) {
		rpc_createerr.cf_stat = RPC_SUCCESS;
		if (rpcb_set(prog, BART_CB_VERS, cb->nconf[0],
		    &cb->xprt[0]->xp_ltaddr)) {
			cb->prog = prog;
			break;
		}
		/* Taken: try the next; rpcbind unreachable: give up. */
		if (rpc_createerr.cf_stat != RPC_SUCCESS)
			break;
	}
	if (cb->prog == 0) {
		callback_close(cb);
		return -1;
	}
	for (k = 1; k < cb->nx; k++)
		rpcb_set(prog, BART_CB_VERS, cb->nconf[k],
		    &cb->xprt[k]->xp_ltaddr);
	/* nconf NULL: dispatch only; rpcbind was told above. */
	for (k = 0; k < cb->nx; k++)
		svc_reg(cb->xprt[k], prog, BART_CB_VERS, dispatch, NULL);
	return 0;
}

void
callback_close(struct callback *cb)
{
	int	k;

	for (k = 0; k < cb->nx; k++) {
		if (cb->prog != 0)
			rpcb_unset(cb->prog, BART_CB_VERS, cb->nconf[k]);
		svc_destroy(cb->xprt[k]);
		freenetconfigent(cb->nconf[k]);
	}
	cb->nx = 0;
	cb->prog = 0;
}
