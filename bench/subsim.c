/* SPDX-License-Identifier: ISC */
/*
 * subsim.c: bart_subsim, many chat subscribers in one process.  It
 * registers N callback programs with this host's rpcbind, as real chat
 * clients do (spread over loopback addresses 127.0.0.B.., one listening
 * socket per address that serves all of that address's programs),
 * subscribes each from its own address, and answers the server's
 * probes and DELIVERs from one epoll loop.  It checks that every
 * subscriber sees every message in order, once, with the right token.
 * It is cheap per message, so that the daemon's cost shows: callback
 * connections are edge-triggered (no second poll per event), each
 * read takes all records that came and their replies leave in one
 * write, and a DELIVER is decoded into static buffers (no allocation).
 * The replies wait until every connection epoll reported ready has
 * been read: many subscribers in one process, each message's arrival
 * is timed as if each had its own CPU, not after the replies of the
 * others before it.
 *
 *   bart_subsim [-n N] [-A ADDRS] [-B FIRST] [-m MODE] [-t SECS]
 *	MODE: normal | deaf (answers the probe, then never reads)
 *	      | mute (accepts, never reads) | slow:MS (each DELIVER
 *	      answered MS ms late) | dribble:MS (the reply one byte
 *	      every MS ms) | reorder:MS (replies held MS ms from the first,
 *	      then sent newest first: several DELIVERs in flight answered
 *	      out of order) | dropmid:K (every Kth DELIVER on a connection
 *	      is taken but not answered: the connection is closed, with
 *	      whatever else was in flight)
 *   bart_subsim -R PROG -U UADDR    register PROG at UADDR (any address,
 *	as rpcbind lets a local user do), until stdin ends
 *   bart_subsim -S K [-I MS]    send K chat messages "t=NS" MS ms apart
 *
 * stdout, one line each: "ready N probed P failed F" once subscribed
 * (and probed, or after -t seconds); "got SEQ US AUS" when every
 * subscriber has message SEQ, US the latency of the last one to take it
 * in (the message text carries its send time, "t=NS" on
 * CLOCK_MONOTONIC; normal mode only), AUS the latest arrival of its
 * DELIVER in this host's kernel (SO_TIMESTAMPNS: what a subscriber
 * with a CPU of its own would see; US adds the queue of this process);
 * "report ..." for the command "report" on stdin.  stdin EOF: leave
 * (unsubscribe, unregister) and exit.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <rpc/rpc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bart.h"
#include "util.h"

#define MAX_ADDRS	32
#define MAX_MSGS	65536		/* messages tracked for latency */
#define SUB_WINDOW	32		/* SUBSCRIBEs in flight per address */
#define REC_MAX		(256 * 1024)

enum mode { M_NORMAL, M_DEAF, M_MUTE, M_SLOW, M_DRIBBLE, M_REORDER,
	M_DROPMID };

/* Modes whose replies wait for the timer. */
#define TIMED_MODE(m)	((m) == M_SLOW || (m) == M_DRIBBLE || (m) == M_REORDER)

struct sim_sub {
	uint32_t	prog;
	int		addr;
	int		subscribed;	/* 1 ok, -1 refused */
	int		probed;
	uint64_t	id;
	unsigned char	token[BART_TOKEN_LEN];
	uint64_t	next;		/* next seq expected */
};

/* A connection: the server's callback connection, or ours to bart. */
struct conn {
	int		 fd;
	int		 kind;		/* 0: listener, 1: callback, 2: bart */
	int		 addr;
	int		 deaf;		/* stopped reading */
	uint32_t	 ev;		/* registered with epoll */
	unsigned char	*in;
	size_t		 inlen, incap;
	unsigned char	*out;		/* pending reply bytes */
	size_t		 outlen, outoff, outcap;
	uint64_t	 due;		/* slow/dribble: next write, ns */
	int		 held;		/* reorder: replies held now */
	unsigned int	 ndeliver;	/* DELIVERs taken (dropmid) */
	int		 drop;		/* dropmid: close it now */
	int		 queued;	/* in flushq */
	uint64_t	 arr;		/* its last read's arrival, mono ns */
	struct conn	*tnext;		/* timed list */
};

static struct sim_sub	*subs;
static int		 nsubs, naddrs = 8, first_addr = 2, mode_ms;
static enum mode	 mode = M_NORMAL;
static uint32_t		 prog_base;
static struct netconfig	*tcp_nc;
static int		 ep;
static uint64_t		 last_seen;
static uint64_t		 delivers, msgs_ok, dups, gaps, badtoken, probes;
static int		 maxheld;	/* reorder: most replies held at once */
#define EV_MAX		1024		/* events per epoll_wait */
static struct conn	*flushq[EV_MAX];	/* replies to write this turn */
static int		 nflush;
static uint64_t		 drops;		/* dropmid: connections closed */
static uint32_t		*cnt;		/* per seq - last_seen - 1 */
static uint64_t		*maxlat;	/* ns */
static uint64_t		*maxarr;	/* ns, kernel arrival */
static int64_t		 rt_off;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
static struct conn	*timed;
static struct conn	*bartc[MAX_ADDRS];
static uint32_t		 xid_next = 1;
static int		 nok;		/* subscribed */
static int		 unsub_replies;

/* A decoded DELIVER's messages: bounded by bart.x, so never allocated. */
static chat_msg		 dmsgs[BART_BATCH_MAX];
static char		 dname[BART_BATCH_MAX][BART_NAME_WIRE + 1];
static char		 dhost[BART_BATCH_MAX][BART_HOST_MAX + 1];
static char		 dtext[BART_BATCH_MAX][BART_TEXT_WIRE + 1];

static uint64_t
mono_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC, ns (kernel stamps are realtime). */
static int64_t
clock_offset(void)
{
	struct timespec	r, m;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000 +
	    (r.tv_nsec - m.tv_nsec);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "bart_subsim: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void
addr_of(int a, struct sockaddr_in *sin, uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(first_addr + a));
}

/*
 * Callback connections are edge-triggered: conn_read reads until a
 * short read, conn_flush writes until the socket is full.
 */
static uint32_t
et_flag(const struct conn *c)
{
	return c->kind == 1 ? EPOLLET : 0;
}

static struct conn *
conn_new(int fd, int kind, int addr)
{
	struct conn		*c;
	struct epoll_event	 e;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		die("out of memory");
	c->fd = fd;
	c->kind = kind;
	c->addr = addr;
	c->ev = EPOLLIN;
	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN | et_flag(c);
	e.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	return c;
}

static void
conn_free(struct conn *c)
{
	struct conn	**pp;
	int		  i;

	for (pp = &timed; *pp != NULL; pp = &(*pp)->tnext)
		if (*pp == c) {
			*pp = c->tnext;
			break;
		}
	for (i = 0; c->queued && i < nflush; i++)
		if (flushq[i] == c) {
			flushq[i] = flushq[--nflush];
			break;
		}
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void
set_events(struct conn *c, uint32_t ev)
{
	struct epoll_event	e;

	if (c->ev == ev)
		return;
	memset(&e, 0, sizeof(e));
	e.events = ev | et_flag(c);
	e.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
	c->ev = ev;
}

/*
 * Queue BYTES for C (written after the read, or by the timer for slow
 * modes).  The buffer is kept: no allocation per reply.
 */
static void
conn_queue(struct conn *c, const unsigned char *b, size_t len)
{
	unsigned char	*n;
	size_t		 cap;

	if (c->outoff > 0) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (c->outlen + len > c->outcap) {
		cap = c->outcap ? c->outcap : 256;
		while (cap < c->outlen + len)
			cap *= 2;
		if ((n = realloc(c->out, cap)) == NULL)
			die("out of memory");
		c->out = n;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, b, len);
	c->outlen += len;
}

static void
conn_flush(struct conn *c, size_t max)
{
	ssize_t	n;
	size_t	want = c->outlen - c->outoff;

	if (want > max)
		want = max;
	while (want > 0) {
		n = send(c->fd, c->out + c->outoff, want, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		c->outoff += (size_t)n;
		want -= (size_t)n;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	set_events(c, (c->deaf ? 0 : EPOLLIN) |
	    (c->outlen > c->outoff && !TIMED_MODE(mode) ?
	    EPOLLOUT : 0));
}

static void
timed_add(struct conn *c, uint64_t due)
{
	struct conn	*t;

	c->due = due;
	for (t = timed; t != NULL; t = t->tnext)
		if (t == c)
			return;
	c->tnext = timed;
	timed = c;
}

/* Encode a record: mark + accepted reply (or call) into BUF. */
static size_t
enc_reply(unsigned char *buf, size_t cap, uint32_t xid, xdrproc_t proc,
    void *res)
{
	struct rpc_msg	r;
	XDR		x;
	uint32_t	mark;
	size_t		len;

	memset(&r, 0, sizeof(r));
	r.rm_xid = xid;
	r.rm_direction = REPLY;
	r.rm_reply.rp_stat = MSG_ACCEPTED;
	r.acpted_rply.ar_verf = _null_auth;
	r.acpted_rply.ar_stat = SUCCESS;
	r.acpted_rply.ar_results.where = res;
	r.acpted_rply.ar_results.proc = proc;
	xdrmem_create(&x, (char *)buf + 4, (u_int)(cap - 4), XDR_ENCODE);
	if (!xdr_replymsg(&x, &r))
		die("cannot encode a reply");
	len = xdr_getpos(&x);
	xdr_destroy(&x);
	mark = htonl(0x80000000u | (uint32_t)len);
	memcpy(buf, &mark, 4);
	return len + 4;
}

static size_t
enc_call(unsigned char *buf, size_t cap, uint32_t xid, uint32_t proc,
    xdrproc_t argp, void *args)
{
	uint32_t	mark;
	size_t		len;

	if ((len = util_call_encode(buf + 4, cap - 4, xid, BART_PROG,
	    BART_VERS, proc, argp, args)) == 0)
		die("cannot encode a call");
	mark = htonl(0x80000000u | (uint32_t)len);
	memcpy(buf, &mark, 4);
	return len + 4;
}

static struct sim_sub *
sub_of(uint32_t prog)
{
	if (prog < prog_base || prog - prog_base >= (uint32_t)nsubs)
		return NULL;
	return &subs[prog - prog_base];
}

/* A message arrived at S: in order, a repeat, or after a gap. */
static void
got_msg(struct sim_sub *s, const chat_msg *m, uint64_t now, uint64_t arr)
{
	const char	*t;
	uint64_t	 k, sent;

	if (m->seq < s->next) {
		dups++;
		return;
	}
	if (m->seq > s->next)
		gaps += m->seq - s->next;
	s->next = m->seq + 1;
	msgs_ok++;
	k = m->seq - last_seen - 1;
	if (k >= MAX_MSGS || mode != M_NORMAL)
		return;
	sent = (t = strstr(m->text, "t=")) != NULL ?
	    strtoull(t + 2, NULL, 10) : 0;
	if (sent != 0 && sent < now && now - sent > maxlat[k])
		maxlat[k] = now - sent;
	if (sent != 0 && arr > sent && arr - sent > maxarr[k])
		maxarr[k] = arr - sent;
	if (++cnt[k] == (uint32_t)nok)
		printf("got %llu %.0f %.0f\n", (unsigned long long)m->seq,
		    (double)maxlat[k] / 1000.0, (double)maxarr[k] / 1000.0);
}

/* One call from the server on callback connection C. */
static void
callback_call(struct conn *c, const unsigned char *rec, size_t len)
{
	struct rpc_msg	 call;
	deliver_args	 a;
	bart_res	 r;
	struct sim_sub	*s;
	unsigned char	 out[256];
	size_t		 n;
	XDR		 x;
	uint64_t	 now = mono_ns();
	u_int		 i;

	memset(&call, 0, sizeof(call));
	memset(&a, 0, sizeof(a));
	a.msgs.msgs_val = dmsgs;
	for (i = 0; i < BART_BATCH_MAX; i++) {
		dmsgs[i].name = dname[i];
		dmsgs[i].host = dhost[i];
		dmsgs[i].text = dtext[i];
	}
	xdrmem_create(&x, (char *)(uintptr_t)rec, (u_int)len, XDR_DECODE);
	if (!xdr_callmsg(&x, &call) || call.rm_direction != CALL ||
	    (s = sub_of(call.rm_call.cb_prog)) == NULL) {
		xdr_destroy(&x);
		return;
	}
	if (call.rm_call.cb_proc == NULLPROC) {
		probes++;
		if (!s->probed) {
			s->probed = 1;
		}
		n = enc_reply(out, sizeof(out), call.rm_xid, XDR_VOID, NULL);
		conn_queue(c, out, n);
		conn_flush(c, SIZE_MAX);
		if (mode == M_DEAF) {
			c->deaf = 1;
			set_events(c, 0);
		}
		xdr_destroy(&x);
		return;
	}
	/* Decoded into dmsgs and its strings: nothing to free. */
	if (call.rm_call.cb_proc != DELIVER ||
	    !xdr_deliver_args(&x, &a)) {
		xdr_destroy(&x);
		return;
	}
	xdr_destroy(&x);
	delivers++;
	r.status = BART_OK;
	if (s->subscribed != 1 || a.sub_id != s->id ||
	    memcmp(a.token, s->token, BART_TOKEN_LEN) != 0) {
		badtoken++;
		r.status = BART_EBADTOKEN;
	} else
		for (i = 0; i < a.msgs.msgs_len; i++)
			got_msg(s, &a.msgs.msgs_val[i], now, c->arr);
	if (mode == M_DROPMID && ++c->ndeliver % (unsigned int)mode_ms == 0) {
		c->drop = 1;		/* taken, never answered */
		drops++;
		return;
	}
	n = enc_reply(out, sizeof(out), call.rm_xid, (xdrproc_t)xdr_bart_res,
	    &r);
	if (mode == M_REORDER) {
		/* Newest first: in front of the replies held. */
		conn_queue(c, out, n);
		memmove(c->out + c->outoff + n, c->out + c->outoff,
		    c->outlen - c->outoff - n);
		memcpy(c->out + c->outoff, out, n);
		if (++c->held > maxheld)
			maxheld = c->held;
		if (c->held == 1)
			timed_add(c, now + (uint64_t)mode_ms * 1000000ull);
		return;
	}
	conn_queue(c, out, n);
	if (mode == M_SLOW || mode == M_DRIBBLE)
		timed_add(c, now + (uint64_t)mode_ms * 1000000ull);
	/* Otherwise conn_read writes the replies to all it read at once. */
}

/* Our SUBSCRIBE / UNSUBSCRIBE replies from bart. */
static void
bart_reply(const unsigned char *rec, size_t len)
{
	struct rpc_msg	 r;
	chat_sub_res	 res;
	struct sim_sub	*s;
	XDR		 x;
	uint32_t	 xid;

	if (len < 4)
		return;
	memcpy(&xid, rec, 4);
	xid = ntohl(xid);
	if (xid & 0x80000000u) {		/* an UNSUBSCRIBE's */
		unsub_replies++;
		return;
	}
	/* xids 1..nsubs are SUBSCRIBEs of sub xid-1; others ignored. */
	if (xid == 0 || xid > (uint32_t)nsubs)
		return;
	s = &subs[xid - 1];
	memset(&r, 0, sizeof(r));
	memset(&res, 0, sizeof(res));
	r.acpted_rply.ar_verf = _null_auth;
	r.acpted_rply.ar_results.where = (caddr_t)&res;
	r.acpted_rply.ar_results.proc = (xdrproc_t)xdr_chat_sub_res;
	xdrmem_create(&x, (char *)(uintptr_t)rec, (u_int)len, XDR_DECODE);
	if (xdr_replymsg(&x, &r) && r.rm_reply.rp_stat == MSG_ACCEPTED &&
	    r.acpted_rply.ar_stat == SUCCESS && res.status == BART_OK) {
		s->id = res.chat_sub_res_u.ok.id;
		memcpy(s->token, res.chat_sub_res_u.ok.token, BART_TOKEN_LEN);
		if (s->subscribed != 1)
			nok++;
		s->subscribed = 1;
	} else {
		if (s->subscribed == 0)
			fprintf(stderr, "bart_subsim: subscribe %d: %s\n",
			    (int)(xid - 1), util_status_str(res.status));
		s->subscribed = -1;
	}
	xdr_destroy(&x);
}

/*
 * Is a whole record at offset AT of C's input?  Then join its
 * fragments in place: its length, and in *used the bytes it took.
 */
static int
record_at(struct conn *c, size_t at, size_t *body, size_t *used)
{
	unsigned char	*in = c->in + at;
	size_t		have = c->inlen - at, off = 0, b = 0, flen;
	uint32_t	h;
	int		last = 0;

	while (!last) {
		if (have - off < 4)
			return 0;
		memcpy(&h, in + off, 4);
		h = ntohl(h);
		last = (h >> 31) != 0;
		flen = h & 0x7fffffffu;
		if (flen > REC_MAX)
			return -1;
		if (have - off - 4 < flen)
			return 0;
		off += 4 + flen;
	}
	*used = off;
	for (off = 0, last = 0; !last;) {
		memcpy(&h, in + off, 4);
		h = ntohl(h);
		last = (h >> 31) != 0;
		flen = h & 0x7fffffffu;
		memmove(in + b, in + off + 4, flen);
		off += 4 + flen;
		b += flen;
	}
	*body = b;
	return 1;
}

/*
 * recv() on a callback connection, noting when the bytes came into this
 * host's kernel (the last segment read; CLOCK_REALTIME made monotonic).
 */
static ssize_t
recv_stamped(struct conn *c, void *buf, size_t len)
{
	union {
		char		b[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr	align;
	}		 cb;
	struct iovec	 iov = { buf, len };
	struct msghdr	 mh;
	struct cmsghdr	*cm;
	struct timespec	 ts;
	ssize_t		 r;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cb.b;
	mh.msg_controllen = sizeof(cb.b);
	if ((r = recvmsg(c->fd, &mh, 0)) <= 0)
		return r;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_TIMESTAMPNS) {
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			c->arr = (uint64_t)((int64_t)ts.tv_sec * 1000000000 +
			    ts.tv_nsec - rt_off);
		}
	return r;
}

/* Take whole records from C's input; -1 if the peer must go. */
static int
conn_read(struct conn *c)
{
	unsigned char	*n;
	size_t		 body, used, room, off;
	ssize_t		 r;
	int		 rc;

	for (;;) {
		if (c->incap - c->inlen < 4096) {
			if (c->incap >= REC_MAX)
				return -1;
			if ((n = realloc(c->in, c->incap ? c->incap * 2 :
			    8192)) == NULL)
				die("out of memory");
			c->in = n;
			c->incap = c->incap ? c->incap * 2 : 8192;
		}
		room = c->incap - c->inlen;
		if (c->kind == 1)
			r = recv_stamped(c, c->in + c->inlen, room);
		else
			r = recv(c->fd, c->in + c->inlen, room, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN)
			break;
		if (r <= 0)
			return -1;
		c->inlen += (size_t)r;
		/* Short read: drained (epoll says when more comes). */
		if ((size_t)r < room)
			break;
	}
	off = 0;
	while (!c->deaf && (rc = record_at(c, off, &body, &used)) != 0) {
		if (rc == -1)
			return -1;
		if (c->kind == 1)
			callback_call(c, c->in + off, body);
		else
			bart_reply(c->in + off, body);
		if (c->drop)
			return -1;
		off += used;
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
	if (c->kind == 1 && c->outlen > c->outoff && !TIMED_MODE(mode) &&
	    !c->queued) {
		if (nflush < EV_MAX) {
			c->queued = 1;
			flushq[nflush++] = c;
		} else
			conn_flush(c, SIZE_MAX);
	}
	return 0;
}

/* ---- setup --------------------------------------------------------- */

static void
raise_nofile(void)
{
	struct rlimit	rl;
	rlim_t		want = (rlim_t)nsubs * 2 + 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_max < want) {
		rl.rlim_max = want;	/* root may raise it */
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static uint16_t
bart_port(void)
{
	struct sockaddr_in	 sin;
	struct netbuf		 nb;

	nb.buf = &sin;
	nb.maxlen = sizeof(sin);
	nb.len = 0;
	if (!rpcb_getaddr(BART_PROG, BART_VERS, tcp_nc, &nb, "127.0.0.1"))
		die("bart is not registered over tcp");
	return ntohs(sin.sin_port);
}

static uint64_t
bart_newest(void)
{
	chat_since_args	 a = { 0, 0 };
	chat_since_res	 r;
	struct timeval	 tv = { 5, 0 };
	CLIENT		*cl;
	uint64_t	 n = 0;

	if ((cl = clnt_create("127.0.0.1", BART_PROG, BART_VERS, "tcp")) ==
	    NULL)
		die("cannot reach bart: %s", clnt_spcreateerror(""));
	memset(&r, 0, sizeof(r));
	if (clnt_call(cl, CHAT_SINCE, (xdrproc_t)xdr_chat_since_args,
	    (char *)&a, (xdrproc_t)xdr_chat_since_res, (char *)&r, tv) ==
	    RPC_SUCCESS && r.status == BART_OK)
		n = r.chat_since_res_u.ok.newest;
	xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);
	clnt_destroy(cl);
	return n;
}

/* One listener per address, every program registered with rpcbind. */
static void
register_all(void)
{
	struct sockaddr_in	 sin;
	struct netbuf		 nb;
	socklen_t		 len;
	uint16_t		 port[MAX_ADDRS];
	int			 a, fd, i, tries;

	for (a = 0; a < naddrs; a++) {
		addr_of(a, &sin, 0);
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1 ||
		    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(fd, 4096) == -1)
			die("listen on 127.0.0.%d: %s", first_addr + a,
			    strerror(errno));
		len = sizeof(sin);
		getsockname(fd, (struct sockaddr *)&sin, &len);
		port[a] = ntohs(sin.sin_port);
		conn_new(fd, 0, a);
	}
	for (tries = 0; tries < 50; tries++) {
		util_random(&prog_base, sizeof(prog_base));
		prog_base = BART_CB_PROG_MIN + prog_base %
		    (BART_CB_PROG_MAX - BART_CB_PROG_MIN - (uint32_t)nsubs);
		for (i = 0; i < nsubs; i++) {
			subs[i].prog = prog_base + (uint32_t)i;
			subs[i].addr = i % naddrs;
			addr_of(subs[i].addr, &sin, port[subs[i].addr]);
			nb.buf = &sin;
			nb.len = nb.maxlen = sizeof(sin);
			if (!rpcb_set(subs[i].prog, BART_CB_VERS, tcp_nc, &nb))
				break;
		}
		if (i == nsubs)
			return;
		while (--i >= 0)
			rpcb_unset(subs[i].prog, BART_CB_VERS, tcp_nc);
	}
	die("no free range of %d callback programs", nsubs);
}

static int	sent[MAX_ADDRS];	/* next sub index to SUBSCRIBE */

static uint16_t	bport;

/* A connection to bart from address AD. */
static void
connect_one(int ad)
{
	struct sockaddr_in	 sin, src;
	int			 fd, one = 1;

	{
		addr_of(ad, &src, 0);
		addr_of(0, &sin, bport);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
		    -1 || bind(fd, (struct sockaddr *)&src, sizeof(src)) ==
		    -1 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) ==
		    -1)
			die("connect to bart: %s", strerror(errno));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		bartc[ad] = conn_new(fd, 2, ad);
	}
}

/* One connection to bart per address, to SUBSCRIBE from there. */
static void
connect_all(void)
{
	int	ad;

	bport = bart_port();
	for (ad = 0; ad < naddrs; ad++) {
		connect_one(ad);
		sent[ad] = ad;
	}
}

/* Keep SUB_WINDOW SUBSCRIBEs in flight per address until all are sent. */
static void
subscribe_pump(void)
{
	chat_sub_args	a;
	unsigned char	buf[256];
	size_t		n;
	int		ad, i, inflight, queued;

	for (ad = 0; ad < naddrs; ad++) {
		if (bartc[ad] == NULL || sent[ad] >= nsubs)
			continue;
		inflight = 0;
		for (i = sent[ad] - naddrs; i >= 0 && inflight < SUB_WINDOW;
		    i -= naddrs)
			inflight += subs[i].subscribed == 0;
		queued = 0;
		while (inflight < SUB_WINDOW && sent[ad] < nsubs) {
			i = sent[ad];
			memset(&a, 0, sizeof(a));
			a.cb_prog = subs[i].prog;
			a.cb_vers = BART_CB_VERS;
			a.last_seen = last_seen;
			n = enc_call(buf, sizeof(buf), (uint32_t)i + 1,
			    CHAT_SUBSCRIBE, (xdrproc_t)xdr_chat_sub_args, &a);
			conn_queue(bartc[ad], buf, n);
			sent[ad] += naddrs;
			inflight++;
			queued = 1;
		}
		if (queued)
			conn_flush(bartc[ad], SIZE_MAX);
	}
}

/* UNSUBSCRIBE all, and wait for the answers: bart must see every one. */
static void
unsubscribe_all(void)
{
	struct epoll_event	 ev[64];
	unsigned char		 buf[256];
	chat_sub_ref		 ref;
	struct conn		*c;
	size_t			 n;
	uint64_t		 deadline = mono_ns() + 20000000000ull;
	int			 i, k, want = 0;

	/* bart closes connections idle for its --idle-timeout. */
	for (i = 0; i < naddrs; i++)
		if (bartc[i] == NULL)
			connect_one(i);
	for (i = 0; i < nsubs; i++) {
		if (subs[i].subscribed != 1 || bartc[subs[i].addr] == NULL)
			continue;
		ref.id = subs[i].id;
		memcpy(ref.token, subs[i].token, BART_TOKEN_LEN);
		n = enc_call(buf, sizeof(buf), 0x80000000u | xid_next++,
		    CHAT_UNSUBSCRIBE, (xdrproc_t)xdr_chat_sub_ref, &ref);
		conn_queue(bartc[subs[i].addr], buf, n);
		want++;
	}
	for (i = 0; i < naddrs; i++)
		if (bartc[i] != NULL)
			conn_flush(bartc[i], SIZE_MAX);
	while (unsub_replies < want && mono_ns() < deadline) {
		k = epoll_wait(ep, ev, 64, 100);
		for (i = 0; i < k; i++) {
			c = ev[i].data.ptr;
			if (c->kind != 2)
				continue;
			if (ev[i].events & EPOLLOUT)
				conn_flush(c, SIZE_MAX);
			if ((ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
			    conn_read(c) == -1) {
				bartc[c->addr] = NULL;
				conn_free(c);
			}
		}
	}
	for (i = 0; i < nsubs; i++)
		rpcb_unset(subs[i].prog, BART_CB_VERS, tcp_nc);
}

static void
report(void)
{
	int	i, sub = 0, probed = 0;

	for (i = 0; i < nsubs; i++) {
		sub += subs[i].subscribed == 1;
		probed += subs[i].probed;
	}
	printf("report subs=%d subscribed=%d probed=%d delivers=%llu "
	    "msgs=%llu dups=%llu gaps=%llu badtoken=%llu probes=%llu "
	    "maxheld=%d drops=%llu\n",
	    nsubs, sub, probed, (unsigned long long)delivers,
	    (unsigned long long)msgs_ok, (unsigned long long)dups,
	    (unsigned long long)gaps, (unsigned long long)badtoken,
	    (unsigned long long)probes, maxheld, (unsigned long long)drops);
}

/* -R: hold one registration at any address, as a local user can. */
static int
hold_registration(uint32_t prog, const char *uaddr)
{
	struct netbuf	*nb;
	char		 line[64];

	if ((nb = uaddr2taddr(tcp_nc, uaddr)) == NULL)
		die("bad uaddr %s", uaddr);
	if (!rpcb_set(prog, BART_CB_VERS, tcp_nc, nb))
		die("rpcb_set 0x%x failed", prog);
	printf("registered 0x%x at %s\n", prog, uaddr);
	while (fgets(line, sizeof(line), stdin) != NULL)
		;
	rpcb_unset(prog, BART_CB_VERS, tcp_nc);
	return 0;
}

/* -S: K messages carrying their send time, for the latency above. */
static int
send_msgs(int k, int ms)
{
	chat_send_args	 a;
	chat_send_res	 r;
	struct timeval	 tv = { 5, 0 };
	CLIENT		*cl;
	char		 text[64];
	uint64_t	 client;
	int		 i, bad = 0;

	if ((cl = clnt_create("127.0.0.1", BART_PROG, BART_VERS, "tcp")) ==
	    NULL)
		die("cannot reach bart: %s", clnt_spcreateerror(""));
	util_random(&client, sizeof(client));
	for (i = 0; i < k; i++) {
		memset(&a, 0, sizeof(a));
		memset(&r, 0, sizeof(r));
		a.id.client = client | 1;
		a.id.seq = (uint64_t)i + 1;
		a.name = (char *)(uintptr_t)"subsim";
		snprintf(text, sizeof(text), "t=%llu",
		    (unsigned long long)mono_ns());
		a.text = text;
		if (clnt_call(cl, CHAT_SEND, (xdrproc_t)xdr_chat_send_args,
		    (char *)&a, (xdrproc_t)xdr_chat_send_res, (char *)&r,
		    tv) != RPC_SUCCESS || r.status != BART_OK)
			bad++;
		else
			printf("sent %llu\n",
			    (unsigned long long)r.chat_send_res_u.seq);
		xdr_free((xdrproc_t)xdr_chat_send_res, (char *)&r);
		if (ms > 0)
			usleep((useconds_t)ms * 1000);
	}
	clnt_destroy(cl);
	return bad ? 1 : 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bart_subsim [-n N] [-A ADDRS] [-B FIRST] "
	    "[-m normal|deaf|mute|slow:MS|dribble:MS|reorder:MS|dropmid:K] "
	    "[-t SECS]\n"
	    "       bart_subsim -R PROG -U UADDR\n"
	    "       bart_subsim -S K [-I MS]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	struct epoll_event	 ev[EV_MAX];
	struct sockaddr_in	 sin;
	struct conn		*c, *t, *tn;
	socklen_t		 len;
	char			 line[128];
	const char		*m = "normal", *uaddr = NULL;
	uint32_t		 regprog = 0;
	int			 nsend = 0, interval = 0;
	uint64_t		 now, ready_by;
	int			 opt, n, i, fd, ready = 0, wait_ms, one = 1;
	int			 secs = 30, probed;
	size_t			 k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	nsubs = 1;
	while ((opt = getopt(argc, argv, "n:A:B:m:t:R:U:S:I:")) != -1) {
		switch (opt) {
		case 'n': nsubs = atoi(optarg); break;
		case 'A': naddrs = atoi(optarg); break;
		case 'B': first_addr = atoi(optarg); break;
		case 'm': m = optarg; break;
		case 't': secs = atoi(optarg); break;
		case 'R': regprog = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'U': uaddr = optarg; break;
		case 'S': nsend = atoi(optarg); break;
		case 'I': interval = atoi(optarg); break;
		default: usage();
		}
	}
	if ((tcp_nc = getnetconfigent("tcp")) == NULL)
		die("no tcp netconfig");
	if (regprog != 0 && uaddr != NULL)
		return hold_registration(regprog, uaddr);
	if (nsend > 0)
		return send_msgs(nsend, interval);
	if (nsubs < 1 || naddrs < 1 || naddrs > MAX_ADDRS ||
	    first_addr < 1 || first_addr + naddrs > 255)
		usage();
	if (naddrs > nsubs)
		naddrs = nsubs;
	if (strcmp(m, "normal") == 0)
		mode = M_NORMAL;
	else if (strcmp(m, "deaf") == 0)
		mode = M_DEAF;
	else if (strcmp(m, "mute") == 0)
		mode = M_MUTE;
	else if (strncmp(m, "slow:", 5) == 0)
		mode = M_SLOW, mode_ms = atoi(m + 5);
	else if (strncmp(m, "dribble:", 8) == 0)
		mode = M_DRIBBLE, mode_ms = atoi(m + 8);
	else if (strncmp(m, "reorder:", 8) == 0)
		mode = M_REORDER, mode_ms = atoi(m + 8);
	else if (strncmp(m, "dropmid:", 8) == 0 && atoi(m + 8) > 0)
		mode = M_DROPMID, mode_ms = atoi(m + 8);
	else
		usage();
	if ((subs = calloc((size_t)nsubs, sizeof(*subs))) == NULL ||
	    (cnt = calloc(MAX_MSGS, sizeof(*cnt))) == NULL ||
	    (maxlat = calloc(MAX_MSGS, sizeof(*maxlat))) == NULL ||
	    (maxarr = calloc(MAX_MSGS, sizeof(*maxarr))) == NULL)
		die("out of memory");
	rt_off = clock_offset();
	raise_nofile();
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll: %s", strerror(errno));
	last_seen = bart_newest();
	for (i = 0; i < nsubs; i++)
		subs[i].next = last_seen + 1;
	register_all();
	fd = STDIN_FILENO;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	conn_new(fd, 3, 0);
	connect_all();
	ready_by = mono_ns() + (uint64_t)secs * 1000000000ull;
	for (;;) {
		now = mono_ns();
		subscribe_pump();
		if (!ready) {
			for (i = 0, probed = 0, n = 0; i < nsubs; i++) {
				probed += subs[i].probed &&
				    subs[i].subscribed == 1;
				n += subs[i].subscribed == -1;
			}
			if (probed + n >= nsubs || now >= ready_by ||
			    mode == M_MUTE) {
				printf("ready %d probed %d failed %d\n", nsubs,
				    probed, n);
				ready = 1;
			}
		}
		wait_ms = ready ? 1000 : 50;
		for (t = timed; t != NULL; t = t->tnext)
			if (t->due <= now)
				wait_ms = 0;
			else if ((t->due - now) / 1000000 < (uint64_t)wait_ms)
				wait_ms = (int)((t->due - now) / 1000000) + 1;
		n = epoll_wait(ep, ev, EV_MAX, wait_ms);
		for (i = 0; i < n; i++) {
			c = ev[i].data.ptr;
			if (c->kind == 3) {
				while (fgets(line, sizeof(line), stdin) !=
				    NULL)
					if (strncmp(line, "report", 6) == 0)
						report();
				if (feof(stdin)) {
					unsubscribe_all();
					report();
					return 0;
				}
				clearerr(stdin);
				continue;
			}
			if (c->kind == 0) {
				len = sizeof(sin);
				while ((fd = accept4(c->fd,
				    (struct sockaddr *)&sin, &len,
				    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof(one));
					setsockopt(fd, SOL_SOCKET,
					    SO_TIMESTAMPNS, &one, sizeof(one));
					t = conn_new(fd, 1, c->addr);
					if (mode == M_MUTE) {
						t->deaf = 1;
						set_events(t, 0);
					}
				}
				continue;
			}
			if (ev[i].events & EPOLLOUT)
				conn_flush(c, SIZE_MAX);
			if ((ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
			    conn_read(c) == -1) {
				if (c->kind == 2)
					bartc[c->addr] = NULL;
				conn_free(c);
			}
		}
		/* Every connection read: now the replies, one write each. */
		for (i = 0; i < nflush; i++) {
			flushq[i]->queued = 0;
			conn_flush(flushq[i], SIZE_MAX);
		}
		nflush = 0;
		now = mono_ns();
		for (t = timed; t != NULL; t = tn) {
			tn = t->tnext;
			if (t->due > now)
				continue;
			k = mode == M_DRIBBLE ? 1 : SIZE_MAX;
			conn_flush(t, k);
			t->held = 0;
			if (t->outlen > t->outoff)
				t->due = now + (uint64_t)mode_ms * 1000000ull;
			else
				t->due = UINT64_MAX;
		}
	}
}
