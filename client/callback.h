/* callback.h: the chat client's own callback service (transient prog). */
#ifndef BART_CALLBACK_H
#define BART_CALLBACK_H

#include <rpc/rpc.h>
#include <stdint.h>

#define CALLBACK_MAX_XPRT	2

struct callback {
	uint32_t		 prog;
	int			 nx;
	SVCXPRT			*xprt[CALLBACK_MAX_XPRT];
	struct netconfig	*nconf[CALLBACK_MAX_XPRT];
};

int	callback_open(struct callback *,
	    void (*)(struct svc_req *, SVCXPRT *));
void	callback_close(struct callback *);

#endif
