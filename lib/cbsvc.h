/* SPDX-License-Identifier: ISC */
/*
 * cbsvc.h: the chat session's callback program, served by libbart
 * itself on non-blocking sockets in the session's epoll set (libtirpc's
 * svc_* layer is process-global, blocking, and not for a library).
 */
#ifndef LIBBART_CBSVC_H
#define LIBBART_CBSVC_H

#include <sys/socket.h>

#include <stdint.h>

#include "lib.h"

/* epoll tags at or above this belong to cbsvc. */
#define CBSVC_TAG_BASE	0x100u

struct cbsvc;

/* DELIVER, after the token-free checks; returns the reply's status. */
typedef bart_status (*cbsvc_fn)(void *, const deliver_args *);

struct cbsvc	*cbsvc_open(int epfd, cbsvc_fn, void *);
int		 cbsvc_register(struct cbsvc *);
uint32_t	 cbsvc_prog(const struct cbsvc *);
void		 cbsvc_allow(struct cbsvc *, const struct sockaddr_storage *,
		    socklen_t);
int		 cbsvc_event(struct cbsvc *, uint64_t tag, uint32_t events);
uint64_t	 cbsvc_deadline(const struct cbsvc *);
void		 cbsvc_timers(struct cbsvc *, uint64_t now);
void		 cbsvc_close(struct cbsvc *);
/* Tests: serve an already connected FD (no address check). */
int		 cbsvc_adopt(struct cbsvc *, int fd);

#endif
