/* SPDX-License-Identifier: ISC */
/* limit.h: per-peer rate limits (a token bucket per local uid or address). */
#ifndef BART_LIMIT_H
#define BART_LIMIT_H

#include <sys/socket.h>
#include <stdint.h>

struct limit;
struct proc_req;

struct limit	*limit_init(const char *, unsigned int, unsigned int);
void		 limit_exit(struct limit *);
int		 limit_take(struct limit *, const struct sockaddr *, long,
		    uint64_t);
long		 limit_uid(struct limit *, int,
		    long (*)(const struct proc_req *), const struct proc_req *);

#endif
