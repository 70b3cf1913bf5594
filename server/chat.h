/* SPDX-License-Identifier: ISC */
/*
 * chat.h: the ring of recent chat messages that delivery threads read.
 * The store holds all history; the ring holds the newest few so that
 * pushes never touch SQLite from another thread.
 */
#ifndef BART_CHAT_H
#define BART_CHAT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bart.h"

struct chat_ring;

struct chat_ring	*chat_init(unsigned int);
void			 chat_exit(struct chat_ring *);
void			 chat_append(struct chat_ring *, uint64_t, int64_t,
			    const char *, const char *, const char *);
uint64_t		 chat_newest(struct chat_ring *);
uint64_t		 chat_oldest(struct chat_ring *);
int			 chat_copy(struct chat_ring *, uint64_t, unsigned int,
			    size_t, chat_msg *);
int			 chat_wait(struct chat_ring *, uint64_t, int,
			    const atomic_int *);
void			 chat_wake(struct chat_ring *);
void			 chat_watch(struct chat_ring *, int);
size_t			 chat_msg_size(const char *, const char *,
			    const char *);
void			 chat_msgs_free(chat_msg *, int);

#endif
