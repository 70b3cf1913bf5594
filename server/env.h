/* SPDX-License-Identifier: ISC */
/* env.h: the daemon's one state struct, owned by main(). */
#ifndef BART_ENV_H
#define BART_ENV_H

#include <time.h>

#include "chat.h"
#include "listen.h"
#include "push.h"
#include "store.h"

struct env {
	/* configuration */
	const char		*state_dir;
	const char		*pidfile;
	const char		*user;
	const char		*sock_path;
	int			 foreground;
	int			 verbose;
	enum store_sync		 sync;
	const char		*store_conninfo;	/* --store; NULL: SQLite */
	struct push_limits	 limits;
	unsigned int		 max_conns;	/* 0: default */
	unsigned int		 max_conns_per_peer;	/* 0: default */
	int			 idle_secs;
	unsigned int		 chat_rate;	/* per peer a second; 0: off */
	unsigned int		 chat_burst;
	unsigned int		 max_history;	/* messages kept; 0: all */
	int			 udp_cache;	/* DRC entries; -1: default */

	/* state */
	struct store		*store;
	struct chat_ring	*ring;
	struct push		*push;
	time_t			 started;	/* wall clock: never for uptime */
	uint64_t		 started_us;	/* monotonic: for uptime */
	struct limit		*chat_limit;	/* limit.c: CHAT_SEND */
	struct listen_set	 listen;	/* listen.c: the sockets */
	struct reg		*reg;		/* reg.c: rpcbind entries */
	struct serve		*serve;		/* serve.c: sockets, the round */
	int			 ready_fd;	/* daemon(): tell the parent */
};

#endif
