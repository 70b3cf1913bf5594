/* SPDX-License-Identifier: ISC */
/* listen.h: bart's sockets, one per transport and address. */
#ifndef BART_LISTEN_H
#define BART_LISTEN_H

#include <sys/socket.h>

#include <rpc/rpc.h>

#define LISTEN_MAX	16		/* entries in one set */
#define LISTEN_ADDRS	6		/* --listen addresses */

/* The transports, as bits of listen_conf.transports. */
#define LISTEN_TCP	0x01
#define LISTEN_UDP	0x02
#define LISTEN_TCP6	0x04
#define LISTEN_UDP6	0x08
#define LISTEN_LOCAL	0x10
#define LISTEN_ALL	0x1f

/*
 * One bound socket.  fd is listening if the transport is a stream;
 * addr is what getsockname() says (the port the kernel chose, or the
 * AF_UNIX path), i.e. what rpcbind should hand out.  Whoever serves fd
 * owns it: listen_close() does not close it (libtirpc's svc_destroy()
 * does, once svc.c has given it a transport).
 */
struct listen_ent {
	struct netconfig	*nconf;		/* ours: freed by listen_close */
	int			 fd;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
};

struct listen_set {
	struct listen_ent	 ent[LISTEN_MAX];
	int			 n;
	const char		*sock_path;	/* unlinked by listen_close */
};

struct listen_conf {
	int			 port;		/* 0: any */
	const char		*sock_path;	/* the local transport's */
	unsigned int		 transports;	/* LISTEN_*; 0: the default */
	const char		*addrs[LISTEN_ADDRS];	/* 0: wildcard */
	int			 naddrs;
};

int	listen_parse_transports(const char *, unsigned int *);
int	listen_add_addr(struct listen_conf *, const char *);
int	listen_open(struct listen_set *, const struct listen_conf *);
void	listen_close(struct listen_set *);

#endif
