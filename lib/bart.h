/* SPDX-License-Identifier: ISC */
/*
 * bart.h: libbart, the C client library of bart (ONC RPC program
 * 536918567 version 1).  It finds the daemon through rpcbind, calls it
 * with request identities (a resend after a lost reply or a broken
 * connection is applied once), and runs the chat protocol (transient
 * callback program, SUBSCRIBE/RENEW/token, ordered catch-up, poll-mode
 * fallback) behind a session you drive from your own poll loop.
 *
 * The library never prints and never exits: every function returns 0 or
 * an error number (enum bart_err) that bart_strerror() words, and
 * bart_errmsg() gives the last error of a handle with its context.
 * Link with `pkg-config --cflags --libs bart`.  The wire protocol itself
 * is installed as <rpcsvc/bart.x> and its rpcgen header <rpcsvc/bart.h>
 * for those who want the raw calls; this header does not need them.
 *
 * Threads (stated per function below): a handle (struct bart) and a
 * chat session belong to one thread at a time; different handles may
 * be used from different threads at once (libtirpc's rpc_createerr is
 * per thread).  bart_strerror() and bart_escape() are thread-safe.
 * The library installs no signal handler: ignore SIGPIPE (libtirpc's
 * sockets may raise it).
 */
#ifndef LIBBART_H
#define LIBBART_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#ifdef __GNUC__
#pragma GCC visibility push(default)
#endif

#define LIBBART_VERSION		"0.1"
#define BART_NAME_LIMIT		32	/* longest name, bytes */
#define BART_TEXT_LIMIT		512	/* longest chat line, bytes */
#define BART_REPLY_LIMIT	64	/* longest count reply text */

/*
 * Errors.  1..18 are the server's refusals (bart_status in bart.x, same
 * numbers); 100 and up arise on this side.
 */
enum bart_err {
	BART_ERR_OK = 0,
	BART_ERR_NEGATIVE = 1,		/* count: negative increment */
	BART_ERR_OVERFLOW = 2,		/* count: counter would overflow */
	BART_ERR_NAME = 3,		/* invalid chat name */
	BART_ERR_TEXT = 4,		/* invalid chat text */
	BART_ERR_STORE = 5,		/* the store could not commit */
	BART_ERR_CBPROG = 6,
	BART_ERR_CBRPCBIND = 7,		/* server cannot reach our rpcbind */
	BART_ERR_CBNOTREG = 8,
	BART_ERR_CBNOANSWER = 9,	/* our callback did not answer */
	BART_ERR_TOOMANY = 10,		/* subscription cap */
	BART_ERR_NOSUB = 11,
	BART_ERR_BADTOKEN = 12,
	BART_ERR_INVAL = 13,
	BART_ERR_CBDROPPED = 14,
	BART_ERR_UNKNOWN = 15,		/* commit outcome unknown */
	BART_ERR_RATE = 16,		/* rate limit */
	BART_ERR_USESTREAM = 17,	/* reply too large for UDP */
	BART_ERR_UNAVAIL = 18,		/* the shared database is down */
	BART_ERR_SERVER_MAX = 99,	/* any other server status */

	BART_ERR_USAGE = 100,		/* bad argument to a libbart call */
	BART_ERR_NETID,			/* unknown or unusable transport */
	BART_ERR_NOHOST,		/* host name not known */
	BART_ERR_NOTREG,		/* bart not registered with rpcbind */
	BART_ERR_NORPCBIND,		/* rpcbind not reachable */
	BART_ERR_RPCBIND_TIMEDOUT,	/* rpcbind did not answer */
	BART_ERR_DEAD,			/* registered, but does not answer */
	BART_ERR_VERSION,		/* server speaks another version */
	BART_ERR_TIMEDOUT,		/* no answer within the timeout */
	BART_ERR_NOANSWER,		/* UDP: no answer, daemon down? */
	BART_ERR_LOST,			/* connection lost */
	BART_ERR_PROC,			/* server does not offer this call */
	BART_ERR_DECODE,		/* server could not decode the call */
	BART_ERR_RPC,			/* other RPC failure */
	BART_ERR_NOMEM,
	BART_ERR_SYSTEM,		/* a system call failed (errno) */
	BART_ERR_CALLBACK		/* cannot register a callback */
};

/* A connection to one bart_svc. */
struct bart;

/* A chat message as stored by the server. */
struct bart_msg {
	uint64_t	 seq;		/* 1, 2, ... in storing order */
	int64_t		 time;		/* seconds since the epoch, UTC */
	const char	*name;
	const char	*host;		/* the sender as the server saw it */
	const char	*text;		/* exactly as stored (may be any bytes) */
};

struct bart_stats {
	int64_t		 counter;
	uint64_t	 messages;	/* newest sequence number */
	uint32_t	 subscribers;
	uint64_t	 uptime;	/* seconds */
};

struct bart_health {
	int		 store;		/* 0: the probe write committed */
	uint64_t	 probe_us;	/* the probe's time, server side */
	uint64_t	 latency_us;	/* the whole call, this side */
	int64_t		 counter;
	uint64_t	 messages;
	uint32_t	 subscribers;
	uint64_t	 uptime;
};

/*
 * Open a connection to HOST, or to the first reachable entry of a host
 * list: "a,b,c", where a name with several addresses stands for each
 * (at most 16 entries; one name with one address is used as always).
 * With a list each call gives every entry its share of TIMEOUT_MS and
 * moves on, with the same request identity, when one does not answer
 * or (a change) answers BART_ERR_UNAVAIL or BART_ERR_UNKNOWN; later
 * calls stay with the entry that answered (bart_host names it).
 * NETID: "tcp", "udp", "local", "tcp6", "udp6", or NULL for the fastest
 * that works (local for this host, else tcp).
 * TIMEOUT_MS bounds each call, resends included.  *BP is set even on
 * failure (NULL only without memory) so bart_errmsg() can say why;
 * bart_close() it in every case.  Thread-safe: any thread may open a
 * handle; the handle then belongs to that thread (or one at a time).
 */
int		 bart_open(struct bart **bp, const char *host,
		    const char *netid, unsigned int timeout_ms);
/* Thread: the handle's owner; also after a failed open. */
void		 bart_close(struct bart *);

/*
 * The last error of B in words, with host and transport; never NULL.
 * Thread: the handle's owner (the text changes with the next call).
 */
const char	*bart_errmsg(const struct bart *b);
/* An error number in words (no context); never NULL.  Thread-safe. */
const char	*bart_strerror(int err);
/* The host and transport in use.  Thread: the handle's owner. */
const char	*bart_host(const struct bart *);
const char	*bart_netid(const struct bart *);

/*
 * The calls.  Thread: each on its handle's owner thread, at most one
 * call per handle at a time; they block for at most the handle's
 * timeout (connecting again within it after a broken connection).
 */
/* NULLPROC; *RTT_US (may be NULL) gets the round trip. */
int		 bart_ping(struct bart *, uint64_t *rtt_us);
/*
 * Add UP (>= 0) to the counter; *TOTAL the new total, TEXT (may be NULL)
 * the server's sentence.  Exactly once, also across resends.
 */
int		 bart_count(struct bart *, int32_t up, int64_t *total,
		    char *text, size_t textlen);
/* Store one message; *SEQ (may be NULL) its number.  Exactly once. */
int		 bart_say(struct bart *, const char *name, const char *text,
		    uint64_t *seq);
/* The newest stored message's number (0: none). */
int		 bart_newest(struct bart *, uint64_t *seq);
/*
 * Messages after SINCE, at most MAX, oldest first, each handed to FN
 * (its strings live only during the call; nonzero from FN stops).  Over
 * UDP a server that wants a stream transport is asked again over tcp.
 */
typedef int	(*bart_msg_fn)(void *arg, const struct bart_msg *);
int		 bart_history(struct bart *, uint64_t since, uint64_t max,
		    bart_msg_fn fn, void *arg);
int		 bart_stats(struct bart *, struct bart_stats *);
/* HEALTH: the daemon answers and its store commits a probe write. */
int		 bart_health(struct bart *, struct bart_health *);

/*
 * Escape S for a terminal or a log into BUF (LEN bytes, always
 * terminated): C0, DEL, C1 and invalid UTF-8 become \xNN.  Returns the
 * length written.  Print nothing received from a server without it.
 * Thread-safe.
 */
size_t		 bart_escape(const char *s, char *buf, size_t len);

/*
 * ---- chat ---------------------------------------------------------------
 * Thread: a session and its handle belong to one thread, which calls
 * every bart_chat_* function; the callbacks run on it, from inside
 * bart_chat_process, bart_chat_send and bart_chat_leave.  Callbacks
 * must not call bart_chat_leave.  Sessions on different handles may
 * run on different threads.
 */

struct bart_chat;

enum bart_chat_event {
	BART_CHAT_JOINED,	/* pushes flow (the server probed us) */
	BART_CHAT_POLLING,	/* no push: polling every second; why */
	BART_CHAT_NOCALLBACK,	/* cannot register our callback program */
	BART_CHAT_SUBLOST,	/* subscription lost (err): joining again */
	BART_CHAT_DOWN,		/* server lost; reconnecting */
	BART_CHAT_RECONNECTED,
	BART_CHAT_REFUSED,	/* a line was refused (err); detail: line */
	BART_CHAT_UNSENT,	/* at leave: a line never sent; detail */
	BART_CHAT_MOVED		/* host list: now through the server named
				   in detail (subscribed again, caught up) */
};

struct bart_chat_cbs {
	/* Each message once, in sequence order. */
	void	(*msg)(void *arg, const struct bart_msg *);
	/* State changes; DETAIL is a reason or a line, or NULL. */
	void	(*event)(void *arg, enum bart_chat_event, int err,
		    const char *detail);
	void	 *arg;
};

/*
 * Join the chat as NAME on B (which the session then uses; keep B open
 * until bart_chat_leave).  Messages start after the newest stored one.
 * The session registers a transient callback program with this host's
 * rpcbind and serves it itself: non-blocking, bounded records, DELIVER
 * accepted only from the server's address and with the token.
 */
int		 bart_chat_join(struct bart *b, const char *name,
		    const struct bart_chat_cbs *cbs, struct bart_chat **cp);
/*
 * One fd for your poll loop: when it is readable (POLLIN), call
 * bart_chat_process().  It also becomes readable when a timer is due
 * (heartbeat, polling, reconnecting), so no timeout of yours is needed.
 */
int		 bart_chat_fd(const struct bart_chat *);
/*
 * Serve what is ready: deliveries, timers, catch-up, resends.  Never
 * waits for a callback peer; calls to the server are bounded by the
 * handle's timeout.  Returns 0, or an error that ends the session.
 */
int		 bart_chat_process(struct bart_chat *);
/*
 * Send one line.  It gets a request identity at once and is queued
 * while the server is away, then sent exactly once.  Returns 0 (sent or
 * queued), or the refusal (BART_ERR_TEXT, ...).
 */
int		 bart_chat_send(struct bart_chat *, const char *text);
/* Lines queued but not yet acknowledged. */
unsigned int	 bart_chat_pending(const struct bart_chat *);
/*
 * Leave: try the queued lines once more, report the rest as
 * BART_CHAT_UNSENT, unsubscribe, unregister, free.  Returns the number
 * of lines never sent.
 */
unsigned int	 bart_chat_leave(struct bart_chat *);

#ifdef __GNUC__
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
