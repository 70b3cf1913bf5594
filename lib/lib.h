/* SPDX-License-Identifier: ISC */
/*
 * lib.h: libbart's insides shared by its modules (never installed):
 * the handle, the call engine, and the error recorder.  Everything
 * here is hidden: libbart is built with -fvisibility=hidden, and only
 * what bart.h declares is exported.
 */
#ifndef LIBBART_LIB_H
#define LIBBART_LIB_H

#include <sys/socket.h>

#include <rpc/rpc.h>
#include <stdint.h>

#include "bart.h"	/* lib/bart.h: the public API */
#include "util.h"	/* common/util.h, and with it the rpcgen header */

/* One RPC client to the server over one transport. */
struct link {
	CLIENT		*cl;
	char		 netid[16];	/* netid in use */
};

/*
 * One server of a host list: a name as given, and when the name stood
 * for several addresses (or the list has several names) the numeric
 * address to call, so that each address is tried in its turn.
 */
#define LIB_HOSTS_MAX	16
struct lib_host {
	char		 name[256];
	char		 addr[64];	/* "": call NAME itself */
};

struct bart {
	struct link	 main;
	struct link	 stream;	/* CHAT_SINCE after BART_EUSESTREAM */
	char		 host[256];	/* the host in use */
	char		 hosts[1024];	/* as given: one or a list */
	struct lib_host	 list[LIB_HOSTS_MAX];
	unsigned int	 nlist;		/* > 1: move on when one fails */
	unsigned int	 cur;		/* list[cur] is the host in use */
	unsigned int	 share_ms;	/* one host's part of the timeout */
	char		 want[16];	/* netid asked for; "" auto */
	unsigned int	 timeout_ms;	/* this call's budget (-t) */
	unsigned int	 said_ms;	/* -t as given: for the words */
	unsigned int	 spent_ms;	/* bart_open's part of call one */
	uint64_t	 client_id;	/* request identity */
	uint64_t	 next_seq;
	struct sockaddr_storage server;	/* the server's address */
	socklen_t	 serverlen;	/* 0: AF_UNIX (this host) */
	int		 err;
	char		 msg[512];
};

int	lib_fail(struct bart *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	lib_call(struct bart *, rpcproc_t, xdrproc_t, void *, xdrproc_t,
	    void *, int);
int	lib_change(struct bart *, rpcproc_t, xdrproc_t, void *, xdrproc_t,
	    void *, const bart_status *);
int	lib_reopen(struct bart *);
int	lib_restart(struct bart *);
int	lib_move(struct bart *);
void	lib_reqid(struct bart *, bart_reqid *);
int	lib_status(struct bart *, bart_status);
int	lib_since(struct bart *, uint64_t, unsigned int, chat_since_res *);
int	lib_is_local(const char *);
CLIENT	*lib_fd_client(int, struct netconfig *, void *, socklen_t, rpcprog_t,
	    rpcvers_t);

#endif
