/* conn.h: a connection to a bart server, with plain-words errors. */
#ifndef BART_CONN_H
#define BART_CONN_H

#include <rpc/rpc.h>
#include <stdint.h>

#include "bart.h"

struct conn {
	CLIENT		*cl;
	const char	*host;
	const char	*want;		/* netid asked for, NULL: auto */
	char		 netid[16];	/* netid in use */
	int		 timeout_s;
	uint64_t	 client_id;	/* request identity */
	uint64_t	 next_seq;
	int		 quiet;		/* no messages on stderr */
};

int	conn_open(struct conn *, const char *, const char *, int);
void	conn_close(struct conn *);
int	conn_call(struct conn *, rpcproc_t, xdrproc_t, void *, xdrproc_t,
	    void *, int);
void	conn_reqid(struct conn *, bart_reqid *);
int	conn_status(struct conn *, bart_status);
int	conn_is_local(const char *);

#endif
