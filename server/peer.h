/* SPDX-License-Identifier: ISC */
/* peer.h: the uid of a caller on this host. */
#ifndef BART_PEER_H
#define BART_PEER_H

#include <sys/socket.h>

#include "proc.h"

#define PEER_REMOTE		(-1L)	/* peer_uid: another host */
#define PEER_UID_UNKNOWN	(-2L)	/* this host, uid not known */
long	peer_uid(const struct proc_req *);
int	peer_addr_is_ours(const struct sockaddr *);
int	peer_out_of_fds(void);
long	peer_diag_uid(const struct sockaddr *, const struct sockaddr *);

#endif
