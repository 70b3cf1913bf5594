/* SPDX-License-Identifier: ISC */
/*
 * proc.h: the BART_PROG procedures and their dispatcher.  A call comes
 * as a parsed header (wire.h) and its request context; the reply is
 * encoded into the caller's buffer.
 */
#ifndef BART_PROC_H
#define BART_PROC_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "wire.h"

enum proc_xport {
	PROC_TCP,		/* tcp and tcp6 */
	PROC_UDP,		/* udp and udp6 */
	PROC_LOCAL		/* AF_UNIX stream */
};

/* Who called, how: all a procedure may know about its caller. */
struct proc_req {
	enum proc_xport		 xport;
	const struct sockaddr	*from;		/* AF_UNIX for local callers */
	socklen_t		 fromlen;
	const struct sockaddr	*to;		/* our address (UDP), or NULL */
	socklen_t		 tolen;
	int			 fd;		/* the socket it came on */
	long			 uid;		/* local: SO_PEERCRED, else -1 */
	size_t			 callen;	/* bytes of the call */
};

/* The reply to a datagram call is at most this many times the call. */
#define PROC_DGRAM_AMPLIFY	3

void		proc_init(struct env *);
void		proc_exit(struct env *);
int		proc_groups(const struct wire_call *);
int		proc_dgram_cached(const struct wire_call *);
size_t		proc_call(const struct proc_req *, const struct wire_call *,
		    unsigned char *, size_t, int *);
bart_status	proc_commit(void);
size_t		proc_status_reply(uint32_t, bart_status, unsigned char *,
		    size_t);
int		proc_defers(const struct wire_call *);
size_t		proc_defer(const struct proc_req *, const struct wire_call *,
		    void *, unsigned char *, size_t);
int		proc_done_fd(void);
void		proc_kick(void);
void		*proc_done(unsigned char *, size_t, size_t *, int *);

#endif
