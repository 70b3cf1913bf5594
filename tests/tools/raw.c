/* SPDX-License-Identifier: ISC */
/*
 * raw.c: a hostile ONC RPC peer for bart's tests.  It builds calls by
 * hand and speaks over its own sockets (UDP, TCP with record marking,
 * AF_UNIX), never through libtirpc's client, so it can send what a
 * well-behaved client never would.  This host only (-a must name one
 * of its own addresses, 127.0.0.1 by default); every loop is bounded
 * in count and time.
 *
 *   bart_raw [-U] [-p PORT] [-s SOCK] [-b SRCADDR] [-a DSTADDR] [-t MS] CMD
 *
 * -U sends UDP calls with sendto() from an unconnected socket; with
 * -w FILE, subscribe connects, then waits (10 s at most) for FILE.
 *
 *   rpcbomb udp|tcp|local        CHAT_SEND declaring a 2 GB name, then text
 *   malformed udp|tcp|local N    N calls with truncated or malformed args
 *   garbage CASE udp|tcp|local   one hostile message; prints the reply
 *   cases                        lists the garbage cases
 *   call PROC udp|tcp|local      one well-formed call with empty args
 *   flood tcp|local N SECS       hold N idle connections for SECS
 *   slowloris tcp|local SECS     a call one byte per second
 *   subscribe PROG tcp|udp|local SUBSCRIBE, then RENEW until known (10 s)
 *   subflood N PROG tcp|local    N SUBSCRIBEs on one connection
 *   cbserve PROG answer|mute SECS  register PROG (tcp) with rpcbind and
 *                                answer every call, or never answer
 *   noread tcp|local N SECS      N connections pipelining CHAT_SINCE
 *                                without ever reading a reply
 *   count CLIENT SEQ UP udp|tcp|local  COUNT with this request identity
 *   dupcall N count|subscribe PROG  one UDP call sent N times with the
 *                                same xid; are all the replies the same?
 *   since udp|tcp|local SEQ MAX [PAD]  CHAT_SINCE (over UDP padded with
 *                                PAD bytes); prints sizes and status
 *
 * Replies are printed by their RPC-level name: SUCCESS (with the
 * bart_status of the result), PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL,
 * GARBAGE_ARGS, SYSTEM_ERR, RPC_MISMATCH, AUTH_ERROR, or "closed" (the
 * server closed the connection) and "noreply" (nothing within -t).
 * The port is found with rpcbind unless -p gives it.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <rpc/rpc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bart.h"
#include "util.h"

#define MAXMSG		(64 * 1024)
#define LAST_FRAG	0x80000000u

static int		 opt_port;
static const char	*opt_sock;
static const char	*opt_src;
static const char	*opt_dst = "127.0.0.1";
static int		 opt_unconn;		/* -U: UDP with sendto */
static const char	*opt_wait;		/* -w: file to wait for */
static struct sockaddr_in udp_to;
static int		 opt_tmo = 2000;	/* ms to wait for a reply */
static uint32_t		 next_xid;

/* ---- building messages ---------------------------------------------- */

struct buf {
	unsigned char	b[MAXMSG];
	size_t		n;
};

static void
put32(struct buf *b, uint32_t v)
{
	v = htonl(v);
	if (b->n + 4 <= sizeof(b->b)) {
		memcpy(b->b + b->n, &v, 4);
		b->n += 4;
	}
}

static void
put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)(v >> 32));
	put32(b, (uint32_t)v);
}

static void
putbytes(struct buf *b, const void *p, size_t len)
{
	if (b->n + len <= sizeof(b->b)) {
		memcpy(b->b + b->n, p, len);
		b->n += len;
	}
	while (b->n % 4 != 0 && b->n < sizeof(b->b))
		b->b[b->n++] = 0;
}

static void
putstr(struct buf *b, const char *s)
{
	put32(b, (uint32_t)strlen(s));
	putbytes(b, s, strlen(s));
}

/* A call header with AUTH_NONE, or with the credential given. */
static void
call_hdr(struct buf *b, uint32_t rpcvers, uint32_t prog, uint32_t vers,
    uint32_t proc)
{
	b->n = 0;
	put32(b, ++next_xid);
	put32(b, 0);			/* CALL */
	put32(b, rpcvers);
	put32(b, prog);
	put32(b, vers);
	put32(b, proc);
}

static void
auth_none(struct buf *b)
{
	put32(b, 0);
	put32(b, 0);
}

static void
bart_call(struct buf *b, uint32_t proc)
{
	call_hdr(b, 2, BART_PROG, BART_VERS, proc);
	auth_none(b);			/* cred */
	auth_none(b);			/* verf */
}

static void
reqid(struct buf *b)
{
	put64(b, util_random_u64() | 1);
	put64(b, 1);
}

/* ---- transports ------------------------------------------------------- */

static int
find_port(const char *netid)
{
	struct netconfig	*nc;
	struct netbuf		 nb;
	struct sockaddr_storage	 ss;
	int			 port = -1;

	if (opt_port)
		return opt_port;
	if ((nc = getnetconfigent(netid)) == NULL)
		return -1;
	nb.buf = &ss;
	nb.maxlen = sizeof(ss);
	nb.len = 0;
	if (rpcb_getaddr(BART_PROG, BART_VERS, nc, &nb, "localhost"))
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	freenetconfigent(nc);
	return port;
}

static int
wait_fd(int fd, short ev, int ms)
{
	struct pollfd	p = { fd, ev, 0 };
	int		r;

	while ((r = poll(&p, 1, ms)) == -1 && errno == EINTR)
		;
	return r;
}

/* Connect a socket of KIND ("udp", "tcp", "local") to bart. */
static int
xopen(const char *kind)
{
	static const struct timeval tmo2s = { 2, 0 };
	struct sockaddr_in	sin, src;
	struct sockaddr_un	sun;
	int			fd, port, dgram = strcmp(kind, "udp") == 0;

	if (strcmp(kind, "local") == 0) {
		if (opt_sock == NULL) {
			fprintf(stderr, "bart_raw: local needs -s SOCK\n");
			exit(2);
		}
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", opt_sock);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo2s, sizeof(tmo2s));
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if ((port = find_port(dgram ? "udp" : "tcp")) <= 0) {
		fprintf(stderr, "bart_raw: bart is not registered\n");
		exit(2);
	}
	fd = socket(AF_INET, (dgram ? SOCK_DGRAM : SOCK_STREAM) |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (opt_src != NULL) {
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		if (inet_pton(AF_INET, opt_src, &src.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			close(fd);
			return -1;
		}
	}
	/* Bounds connect() too: a full backlog must not hang us. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo2s, sizeof(tmo2s));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, opt_dst, &sin.sin_addr);
	if (dgram && opt_unconn) {
		/* Unconnected: the kernel's socket table shows no address. */
		udp_to = sin;
		return fd;
	}
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
is_dgram(int fd)
{
	int		type = 0;
	socklen_t	len = sizeof(type);

	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	return type == SOCK_DGRAM;
}

static int
write_all(int fd, const void *p, size_t len)
{
	const unsigned char	*c = p;
	ssize_t			 w;

	while (len > 0) {
		if ((w = send(fd, c, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Send one message: a datagram, or one record (one fragment). */
static int
xsend(int fd, const struct buf *b)
{
	static unsigned char	out[MAXMSG + 4];
	uint32_t		rm;

	if (is_dgram(fd) && opt_unconn)
		return sendto(fd, b->b, b->n, 0, (struct sockaddr *)&udp_to,
		    sizeof(udp_to)) == (ssize_t)b->n ? 0 : -1;
	if (is_dgram(fd))
		return send(fd, b->b, b->n, 0) == (ssize_t)b->n ? 0 : -1;
	/* One write: a separate 4-byte mark would meet Nagle's delay. */
	rm = htonl(LAST_FRAG | (uint32_t)b->n);
	memcpy(out, &rm, 4);
	memcpy(out + 4, b->b, b->n);
	return write_all(fd, out, b->n + 4);
}

static int
read_full(int fd, void *p, size_t len, int ms)
{
	unsigned char	*c = p;
	ssize_t		 r;

	while (len > 0) {
		if (wait_fd(fd, POLLIN, ms) <= 0)
			return -2;		/* timeout */
		if ((r = read(fd, c, len)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			return -1;		/* closed */
		}
		c += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Receive one reply into B: 0, -1 closed, -2 no reply in time. */
static int
xrecv(int fd, struct buf *b, int ms)
{
	uint32_t	rm, len;
	ssize_t		r;
	int		rc;

	b->n = 0;
	if (is_dgram(fd)) {
		if (wait_fd(fd, POLLIN, ms) <= 0)
			return -2;
		if ((r = recv(fd, b->b, sizeof(b->b), 0)) < 0)
			return -1;
		b->n = (size_t)r;
		return 0;
	}
	do {
		if ((rc = read_full(fd, &rm, 4, ms)) != 0)
			return rc;
		rm = ntohl(rm);
		len = rm & ~LAST_FRAG;
		if (b->n + len > sizeof(b->b))
			return -1;
		if ((rc = read_full(fd, b->b + b->n, len, ms)) != 0)
			return rc;
		b->n += len;
	} while (!(rm & LAST_FRAG));
	return 0;
}

/* ---- replies ---------------------------------------------------------- */

static uint32_t
get32(const struct buf *b, size_t *off)
{
	uint32_t	v = 0;

	if (*off + 4 <= b->n)
		memcpy(&v, b->b + *off, 4);
	*off += 4;
	return ntohl(v);
}

/*
 * Describe a reply in OUT.  For SUCCESS, *off is left at the results.
 * Returns the accept_stat (0..5), 10 + reject_stat, or -1 if garbled.
 */
static int
describe(const struct buf *b, char *out, size_t len, size_t *off)
{
	static const char *const acc[] = { "SUCCESS", "PROG_UNAVAIL",
	    "PROG_MISMATCH", "PROC_UNAVAIL", "GARBAGE_ARGS", "SYSTEM_ERR" };
	uint32_t	stat, x, lo, hi;

	*off = 4;
	if (b->n < 12 || get32(b, off) != 1) {
		snprintf(out, len, "garbled");
		return -1;
	}
	if (get32(b, off) == 0) {		/* MSG_ACCEPTED */
		get32(b, off);			/* verf flavor */
		x = get32(b, off);
		*off += (x + 3) & ~3u;
		stat = get32(b, off);
		if (stat > 5) {
			snprintf(out, len, "accept_stat %u", stat);
			return -1;
		}
		if (stat == 2) {
			lo = get32(b, off);
			hi = get32(b, off);
			snprintf(out, len, "PROG_MISMATCH low=%u high=%u", lo, hi);
		} else
			snprintf(out, len, "%s", acc[stat]);
		return (int)stat;
	}
	stat = get32(b, off);			/* MSG_DENIED */
	if (stat == 0) {
		lo = get32(b, off);
		hi = get32(b, off);
		snprintf(out, len, "RPC_MISMATCH low=%u high=%u", lo, hi);
	} else
		snprintf(out, len, "AUTH_ERROR stat=%u", get32(b, off));
	return 10 + (int)stat;
}

/* Send B on FD, wait for the reply, print "WHAT: reply". */
static int
exchange(int fd, const struct buf *b, const char *what)
{
	struct buf	r;
	char		desc[64];
	size_t		off;
	int		rc, st;

	if (xsend(fd, b) == -1) {
		printf("%s: closed\n", what);
		return -1;
	}
	if ((rc = xrecv(fd, &r, opt_tmo)) != 0) {
		printf("%s: %s\n", what, rc == -1 ? "closed" : "noreply");
		return rc;
	}
	st = describe(&r, desc, sizeof(desc), &off);
	if (st == 0 && off + 4 <= r.n)
		printf("%s: SUCCESS status=%u\n", what, get32(&r, &off));
	else
		printf("%s: %s\n", what, desc);
	return st;
}

/* ---- hostile input ---------------------------------------------------- */

/* CHAT_SEND whose name, then whose text, declares 2 GB. */
static int
cmd_rpcbomb(const char *kind)
{
	struct buf	b;
	int		fd, which;

	for (which = 0; which < 2; which++) {
		if ((fd = xopen(kind)) == -1) {
			perror("bart_raw: connect");
			return 1;
		}
		bart_call(&b, CHAT_SEND);
		reqid(&b);
		if (which == 1)
			putstr(&b, "mallory");
		put32(&b, 0x7ffffff0u);		/* 2 GB on the way */
		exchange(fd, &b, which ? "rpcbomb text" : "rpcbomb name");
		close(fd);
	}
	return 0;
}

/* The Ith malformed call: truncated or out-of-bounds arguments. */
static void
malformed(struct buf *b, unsigned int i)
{
	static const uint32_t	procs[] = { COUNT, CHAT_SEND, CHAT_SINCE,
	    CHAT_SUBSCRIBE, CHAT_UNSUBSCRIBE, CHAT_RENEW };
	char			text[200];
	size_t			keep;

	bart_call(b, procs[i % 6]);
	keep = b->n;
	switch ((i / 6) % 5) {
	case 0:				/* truncated: a few bytes of args */
		put32(b, 0xdeadbeef);
		b->n = keep + (i % 3);
		break;
	case 1:				/* CHAT_SEND: good name, text cut */
		bart_call(b, CHAT_SEND);
		reqid(b);
		putstr(b, "alice");
		memset(text, 'x', sizeof(text) - 1);
		text[sizeof(text) - 1] = '\0';
		put32(b, 150);
		putbytes(b, text, 40);
		break;
	case 2:				/* name over its wire bound */
		bart_call(b, CHAT_SEND);
		reqid(b);
		memset(text, 'n', 100);
		text[100] = '\0';
		putstr(b, text);
		putstr(b, "hello");
		break;
	case 3:				/* string length past the record */
		bart_call(b, CHAT_SEND);
		reqid(b);
		put32(b, 60);
		putbytes(b, "abc", 3);
		break;
	default:			/* 8 bytes: every procedure wants more */
		bart_call(b, procs[i % 6]);
		put32(b, 1);
		put32(b, 2);
		break;
	}
}

static int
cmd_malformed(const char *kind, unsigned int n)
{
	struct buf	b, r;
	char		desc[64];
	size_t		off;
	unsigned int	i, garbage = 0, other = 0, lost = 0;
	int		fd = -1, st;

	if (n > 1000000)
		n = 1000000;
	for (i = 0; i < n; i++) {
		if (fd == -1 && (fd = xopen(kind)) == -1) {
			perror("bart_raw: connect");
			return 1;
		}
		malformed(&b, i);
		if (xsend(fd, &b) == -1 || xrecv(fd, &r, opt_tmo) != 0) {
			lost++;
			close(fd);
			fd = -1;
			if (lost > 100)
				break;
			continue;
		}
		st = describe(&r, desc, sizeof(desc), &off);
		if (st == 4)
			garbage++;
		else
			other++;
	}
	if (fd != -1)
		close(fd);
	printf("malformed %s: sent=%u GARBAGE_ARGS=%u other=%u lost=%u\n",
	    kind, i, garbage, other, lost);
	return 0;
}

static const char *const cases[] = {
	"random", "rpcvers", "reply", "wrongprog", "wrongvers", "badproc",
	"badargs", "authflavor", "authsys", "authgss", "bigcred", "bigverf",
	"hugefrag", "hugefraglast", "zerofrag", "tinyfrags", "frags4", "bytewise",
	"pipelined", "frags3", "overcap", NULL
};

/* Write a valid call as a record of SZ-byte fragments. */
static int
send_tiny_frags(int fd, const struct buf *b, size_t sz)
{
	unsigned char	frag[8];
	uint32_t	rm;
	size_t		i;

	for (i = 0; i < b->n; i += sz) {
		rm = htonl((i + sz >= b->n ? LAST_FRAG : 0) | (uint32_t)sz);
		memcpy(frag, &rm, 4);
		memcpy(frag + 4, b->b + i, sz);
		if (write_all(fd, frag, 4 + sz) == -1)
			return -1;
	}
	return 0;
}

/* After bytes that are no call: did the server reply, close or ignore? */
static int
report_raw(int fd, const char *what)
{
	struct buf	r;
	int		rc;

	rc = xrecv(fd, &r, opt_tmo);
	printf("%s: %s\n", what, rc == 0 ? "reply" :
	    rc == -1 ? "closed" : "noreply");
	close(fd);
	return 0;
}

static int
cmd_garbage(const char *what, const char *kind)
{
	struct buf	b, r;
	char		desc[64];
	size_t		i, off;
	uint32_t	rm;
	int		fd, n, rc, ok;

	if ((fd = xopen(kind)) == -1) {
		perror("bart_raw: connect");
		return 1;
	}
	b.n = 0;
	if (strcmp(what, "random") == 0) {
		util_random(b.b, 200);
		b.n = 200;
		if (!is_dgram(fd)) {		/* raw bytes, no record mark */
			write_all(fd, b.b, b.n);
			return report_raw(fd, what);
		}
	} else if (strcmp(what, "rpcvers") == 0) {
		call_hdr(&b, 3, BART_PROG, BART_VERS, NULLPROC);
		auth_none(&b);
		auth_none(&b);
	} else if (strcmp(what, "reply") == 0) {
		put32(&b, 77);
		put32(&b, 1);			/* REPLY where a CALL goes */
		put32(&b, 0);
		auth_none(&b);
		put32(&b, 0);
	} else if (strcmp(what, "wrongprog") == 0) {
		call_hdr(&b, 2, BART_PROG + 1, BART_VERS, NULLPROC);
		auth_none(&b);
		auth_none(&b);
	} else if (strcmp(what, "wrongvers") == 0) {
		call_hdr(&b, 2, BART_PROG, 7, NULLPROC);
		auth_none(&b);
		auth_none(&b);
	} else if (strcmp(what, "badproc") == 0)
		bart_call(&b, 99);
	else if (strcmp(what, "badargs") == 0) {
		bart_call(&b, COUNT);
		put32(&b, 1);
	} else if (strcmp(what, "authflavor") == 0) {
		call_hdr(&b, 2, BART_PROG, BART_VERS, NULLPROC);
		put32(&b, 99);
		putstr(&b, "who knows");
		auth_none(&b);
	} else if (strcmp(what, "authsys") == 0) {
		call_hdr(&b, 2, BART_PROG, BART_VERS, NULLPROC);
		put32(&b, AUTH_SYS);
		put32(&b, 24);			/* body: stamp, a 5000-byte name */
		put32(&b, 1);
		put32(&b, 5000);
		put32(&b, 0);
		put32(&b, 0);
		put32(&b, 0);
		put32(&b, 0);
		auth_none(&b);
	} else if (strcmp(what, "authgss") == 0) {
		call_hdr(&b, 2, BART_PROG, BART_VERS, NULLPROC);
		put32(&b, 6);			/* RPCSEC_GSS, garbage body */
		put32(&b, 16);
		put32(&b, 0xffffffff);
		put32(&b, 0x7fffffff);
		put32(&b, 3);
		put32(&b, 0x7fffffff);
		auth_none(&b);
	} else if (strcmp(what, "bigcred") == 0 ||
	    strcmp(what, "bigverf") == 0) {
		call_hdr(&b, 2, BART_PROG, BART_VERS, NULLPROC);
		if (strcmp(what, "bigverf") == 0)
			auth_none(&b);
		put32(&b, AUTH_SYS);
		put32(&b, 1000);		/* > MAX_AUTH_BYTES (400) */
		for (i = 0; i < 250; i++)
			put32(&b, 0);
		if (strcmp(what, "bigcred") == 0)
			auth_none(&b);
	} else if (strncmp(what, "hugefrag", 8) == 0 ||
	    strcmp(what, "zerofrag") == 0) {
		bart_call(&b, NULLPROC);
		rm = htonl(strcmp(what, "zerofrag") == 0 ? 0 :
		    strcmp(what, "hugefraglast") == 0 ? 0xffffffffu :
		    0x7fffffffu);
		for (n = 0; n < (strcmp(what, "zerofrag") == 0 ? 1000 : 1);
		    n++)
			if (write_all(fd, &rm, 4) == -1)
				break;
		write_all(fd, b.b, b.n);
		return report_raw(fd, what);
	} else if (strcmp(what, "frags3") == 0 ||
	    strcmp(what, "overcap") == 0) {
		/*
		 * frags3: a STATS call in three fragments (RFC 5531 sec. 11).
		 * overcap: a NULLPROC call padded to 17 KB in three
		 * fragments, over the 16 KB record cap.
		 */
		struct buf	all;
		size_t		part, cut[3], at = 0;

		bart_call(&b, strcmp(what, "frags3") == 0 ? STATS : NULLPROC);
		if (strcmp(what, "overcap") == 0) {
			memset(b.b + b.n, 0, 17 * 1024);
			b.n += 17 * 1024;
		}
		part = b.n / 3;
		cut[0] = part;
		cut[1] = part;
		cut[2] = b.n - 2 * part;
		all.n = 0;
		for (n = 0; n < 3; n++) {
			put32(&all, (n == 2 ? LAST_FRAG : 0) | (uint32_t)cut[n]);
			memcpy(all.b + all.n, b.b + at, cut[n]);
			all.n += cut[n];
			at += cut[n];
		}
		if (write_all(fd, all.b, all.n) == -1 ||
		    (rc = xrecv(fd, &r, opt_tmo)) != 0)
			printf("%s: %s\n", what, "closed");
		else {
			describe(&r, desc, sizeof(desc), &off);
			printf("%s: %s\n", what, desc);
		}
		close(fd);
		return 0;
	} else if (strcmp(what, "tinyfrags") == 0 ||
	    strcmp(what, "frags4") == 0 || strcmp(what, "bytewise") == 0) {
		bart_call(&b, STATS);
		if (strcmp(what, "tinyfrags") == 0)
			rc = send_tiny_frags(fd, &b, 1);
		else if (strcmp(what, "frags4") == 0)
			rc = send_tiny_frags(fd, &b, 4);
		else {
			rm = htonl(LAST_FRAG | (uint32_t)b.n);
			memmove(b.b + 4, b.b, b.n);
			memcpy(b.b, &rm, 4);
			b.n += 4;
			for (i = 0, rc = 0; i < b.n && rc == 0; i++) {
				rc = write_all(fd, b.b + i, 1);
				usleep(2000);
			}
		}
		if (rc == -1 || (rc = xrecv(fd, &r, opt_tmo)) != 0)
			printf("%s: %s\n", what, rc == -2 ? "noreply" :
			    "closed");
		else {
			describe(&r, desc, sizeof(desc), &off);
			printf("%s: %s\n", what, desc);
		}
		close(fd);
		return 0;
	} else if (strcmp(what, "pipelined") == 0) {
		struct buf	all;

		all.n = 0;
		for (n = 0; n < 50; n++) {
			bart_call(&b, STATS);
			if (is_dgram(fd))
				xsend(fd, &b);
			else {
				put32(&all, LAST_FRAG | (uint32_t)b.n);
				putbytes(&all, b.b, b.n);
			}
		}
		if (!is_dgram(fd))
			write_all(fd, all.b, all.n);
		for (n = 0, ok = 0; n < 50; n++) {
			if (xrecv(fd, &r, opt_tmo) != 0)
				break;
			ok += describe(&r, desc, sizeof(desc), &off) == 0;
		}
		printf("%s: %d of 50 SUCCESS\n", what, ok);
		close(fd);
		return 0;
	} else {
		fprintf(stderr, "bart_raw: unknown case %s\n", what);
		return 2;
	}
	exchange(fd, &b, what);
	close(fd);
	return 0;
}

/* One well-formed call with no arguments (NULLPROC, STATS, a bad one). */
static int
cmd_call(uint32_t proc, const char *kind)
{
	struct buf	b;
	int		fd;

	if ((fd = xopen(kind)) == -1) {
		perror("bart_raw: connect");
		return 1;
	}
	bart_call(&b, proc);
	exchange(fd, &b, "call");
	close(fd);
	return 0;
}

/* ---- floods ----------------------------------------------------------- */

static int
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 1024;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur > 1000000 ? 1000000 : (int)rl.rlim_cur;
}

/* Did the server close FD?  (EOF or reset, without blocking.) */
static int
was_closed(int fd)
{
	char	c;
	ssize_t	r;

	if (wait_fd(fd, POLLIN, 0) <= 0)
		return 0;
	r = recv(fd, &c, 1, MSG_DONTWAIT);
	return r == 0 || (r == -1 && errno != EAGAIN);
}

static int
cmd_flood(const char *kind, int n, int secs)
{
	int		*fds, i, open_n = 0, failed = 0, closed = 0, lim;
	uint64_t	 end;

	lim = raise_nofile() - 16;
	if (n > lim)
		n = lim;
	if (n < 1 || (fds = calloc((size_t)n, sizeof(int))) == NULL)
		return 1;
	end = util_now_us() + (uint64_t)secs * 1000000;
	for (i = 0; i < n && util_now_us() < end; i++) {
		if ((fds[open_n] = xopen(kind)) == -1)
			failed++;
		else
			open_n++;
	}
	printf("flood %s: opened=%d failed=%d\n", kind, open_n, failed);
	fflush(stdout);
	while (util_now_us() < end)
		usleep(100000);
	for (i = 0; i < open_n; i++) {
		closed += was_closed(fds[i]);
		close(fds[i]);
	}
	printf("flood %s: closed_by_server=%d of %d\n", kind, closed, open_n);
	free(fds);
	return 0;
}

/* A NULLPROC call sent one byte a second until done or closed. */
static int
cmd_slowloris(const char *kind, int secs)
{
	struct buf	b;
	uint32_t	rm;
	size_t		i;
	uint64_t	start = util_now_us(), end;
	int		fd;

	if ((fd = xopen(kind)) == -1) {
		perror("bart_raw: connect");
		return 1;
	}
	bart_call(&b, NULLPROC);
	rm = htonl(LAST_FRAG | (uint32_t)b.n);
	memmove(b.b + 4, b.b, b.n);
	memcpy(b.b, &rm, 4);
	b.n += 4;
	end = start + (uint64_t)secs * 1000000;
	for (i = 0; i < b.n && util_now_us() < end; i++) {
		if (was_closed(fd) || write_all(fd, b.b + i, 1) == -1) {
			printf("slowloris: closed after %.1f s (%zu bytes)\n",
			    (double)(util_now_us() - start) / 1e6, i);
			close(fd);
			return 0;
		}
		sleep(1);
	}
	printf("slowloris: %s after %.1f s (%zu bytes)\n",
	    was_closed(fd) ? "closed" : "still open",
	    (double)(util_now_us() - start) / 1e6, i);
	close(fd);
	return 0;
}

/* ---- callbacks -------------------------------------------------------- */

static int
sub_call(int fd, uint32_t proc, uint32_t prog, const unsigned char *ref,
    uint32_t *status, uint64_t *id, unsigned char *token)
{
	struct buf	b, r;
	char		desc[64];
	size_t		off;
	int		rc;

	bart_call(&b, proc);
	if (proc == CHAT_SUBSCRIBE) {
		put32(&b, prog);
		put32(&b, 1);
		put64(&b, 0);
	} else
		putbytes(&b, ref, 8 + BART_TOKEN_LEN);
	if (xsend(fd, &b) == -1 || (rc = xrecv(fd, &r, 5000)) != 0)
		return -1;
	if (describe(&r, desc, sizeof(desc), &off) != 0) {
		printf("%s\n", desc);
		return -1;
	}
	*status = get32(&r, &off);
	if (proc == CHAT_SUBSCRIBE && *status == BART_OK && id != NULL) {
		*id = (uint64_t)get32(&r, &off) << 32;
		*id |= get32(&r, &off);
		if (off + BART_TOKEN_LEN <= r.n)
			memcpy(token, r.b + off, BART_TOKEN_LEN);
	} else if (proc == CHAT_RENEW && *status == BART_OK && id != NULL)
		*id = get32(&r, &off);		/* sub_state */
	return 0;
}

static void
print_status(const char *what, uint32_t st)
{
	printf("%s: %s (%u)\n", what, util_status_str((bart_status)st), st);
}

static int
cmd_subscribe(uint32_t prog, const char *kind)
{
	unsigned char	ref[8 + BART_TOKEN_LEN], token[BART_TOKEN_LEN];
	uint64_t	id = 0, state;
	uint32_t	st;
	int		fd, i;

	if ((fd = xopen(kind)) == -1) {
		perror("bart_raw: connect");
		return 1;
	}
	if (opt_wait != NULL) {		/* connected first, then told to go */
		printf("subscribe: connected\n");
		for (i = 0; i < 200 && access(opt_wait, F_OK) == -1; i++)
			usleep(50000);
	}
	if (sub_call(fd, CHAT_SUBSCRIBE, prog, NULL, &st, &id, token) == -1) {
		printf("subscribe: closed\n");
		return 1;
	}
	print_status("subscribe", st);
	if (st != BART_OK)
		return 0;
	for (i = 0; i < 8; i++)
		ref[i] = (unsigned char)(id >> (56 - 8 * i));
	memcpy(ref + 8, token, BART_TOKEN_LEN);
	for (i = 0; i < 100; i++) {		/* at most 10 s */
		if (sub_call(fd, CHAT_RENEW, 0, ref, &st, &state, NULL) == -1) {
			printf("renew: closed\n");
			return 1;
		}
		if (st != BART_OK) {
			print_status("renew", st);
			return 0;
		}
		if (state == SUB_ACTIVE) {
			printf("renew: active\n");
			sub_call(fd, CHAT_UNSUBSCRIBE, 0, ref, &st, NULL, NULL);
			return 0;
		}
		usleep(100000);
	}
	printf("renew: still probing after 10 s\n");
	return 1;
}

static int
cmd_subflood(int n, uint32_t prog, const char *kind)
{
	unsigned int	count[BART_EUSESTREAM + 2];
	uint32_t	st;
	int		fd, i;

	memset(count, 0, sizeof(count));
	if (n > 100000)
		n = 100000;
	if ((fd = xopen(kind)) == -1) {
		perror("bart_raw: connect");
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (sub_call(fd, CHAT_SUBSCRIBE, prog, NULL, &st, NULL,
		    NULL) == -1)
			break;
		count[st <= BART_EUSESTREAM ? st : BART_EUSESTREAM + 1]++;
	}
	printf("subflood: sent=%d ok=%u toomany=%u other=%u\n", i,
	    count[BART_OK], count[BART_ETOOMANY],
	    (unsigned int)i - count[BART_OK] - count[BART_ETOOMANY]);
	close(fd);
	return 0;
}

static volatile sig_atomic_t	quit;

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
}

/*
 * Register PROG version 1 on tcp with this host's rpcbind and, for
 * SECS seconds, answer every call with SUCCESS and a zero status (or
 * never answer: connections wait unaccepted in the backlog).  Prints
 * the port, then at the end how many calls came and to which of our
 * addresses the caller connected.
 */
static int
cmd_cbserve(uint32_t prog, int answer, int secs)
{
	struct sockaddr_in	 sin, from;
	socklen_t		 len = sizeof(sin);
	struct netconfig	*nc;
	struct netbuf		 nb;
	struct pollfd		 pf[65];
	struct buf		 b, r;
	char			 addr[INET_ADDRSTRLEN], seen[256] = "";
	uint64_t		 end;
	int			 lfd, n = 1, i, calls = 0;

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 64) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1) {
		perror("bart_raw: listen");
		return 1;
	}
	if ((nc = getnetconfigent("tcp")) == NULL)
		return 1;
	nb.buf = &sin;
	nb.len = nb.maxlen = sizeof(sin);
	if (!rpcb_set(prog, 1, nc, &nb)) {
		fprintf(stderr, "bart_raw: rpcb_set 0x%x failed\n", prog);
		return 1;
	}
	printf("cbserve: port %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	pf[0].fd = lfd;
	pf[0].events = answer ? POLLIN : 0;
	end = util_now_us() + (uint64_t)secs * 1000000;
	while (!quit && util_now_us() < end) {
		if (poll(pf, (nfds_t)n, 100) <= 0)
			continue;
		if ((pf[0].revents & POLLIN) && n < 65) {
			len = sizeof(from);
			pf[n].fd = accept(lfd, (struct sockaddr *)&from, &len);
			len = sizeof(from);
			if (pf[n].fd != -1 && getsockname(pf[n].fd,
			    (struct sockaddr *)&from, &len) == 0) {
				pf[n].events = POLLIN;
				inet_ntop(AF_INET, &from.sin_addr, addr,
				    sizeof(addr));
				if (strstr(seen, addr) == NULL &&
				    strlen(seen) + strlen(addr) + 2 <
				    sizeof(seen)) {
					strcat(seen, " ");
					strcat(seen, addr);
				}
				n++;
			}
		}
		for (i = 1; i < n; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (xrecv(pf[i].fd, &r, 1000) != 0) {
				close(pf[i].fd);
				pf[i--] = pf[--n];
				continue;
			}
			calls++;
			b.n = 0;
			memcpy(b.b, r.b, 4);		/* xid */
			b.n = 4;
			put32(&b, 1);			/* REPLY */
			put32(&b, 0);			/* ACCEPTED */
			auth_none(&b);
			put32(&b, 0);			/* SUCCESS */
			if (r.n >= 24 && ntohl(*(uint32_t *)(void *)(r.b +
			    20)) != 0)
				put32(&b, BART_OK);	/* bart_res */
			xsend(pf[i].fd, &b);
		}
	}
	rpcb_unset(prog, 1, nc);
	freenetconfigent(nc);
	printf("cbserve: calls=%d to:%s\n", calls, seen[0] ? seen : " none");
	return 0;
}

/* ---- the loop under pressure ------------------------------------------ */

/*
 * N connections that pipeline CHAT_SINCE(0, 64) calls as fast as the
 * sockets take them and never read a reply, for SECS seconds.  Prints
 * how many calls went out and how many connections the server closed.
 */
static int
cmd_noread(const char *kind, int n, int secs)
{
	struct buf	 b;
	unsigned char	 rec[64 * 70];
	uint32_t	 rm;
	uint64_t	 end, sent = 0;
	int		*fds, *dead, i, k, open_n = 0, closed = 0;
	ssize_t		 w;
	size_t		 len = 0;

	if (n < 1 || n > 10000 || (fds = calloc((size_t)n, sizeof(int))) ==
	    NULL || (dead = calloc((size_t)n, sizeof(int))) == NULL)
		return 1;
	raise_nofile();
	for (k = 0; k < 64; k++) {		/* 64 records per write */
		bart_call(&b, CHAT_SINCE);
		put64(&b, 0);
		put32(&b, 64);
		rm = htonl(LAST_FRAG | (uint32_t)b.n);
		memcpy(rec + len, &rm, 4);
		memcpy(rec + len + 4, b.b, b.n);
		len += 4 + b.n;
	}
	for (i = 0; i < n; i++) {
		if ((fds[open_n] = xopen(kind)) == -1)
			continue;
		fcntl(fds[open_n], F_SETFL, O_NONBLOCK);
		open_n++;
	}
	printf("noread %s: opened=%d\n", kind, open_n);
	end = util_now_us() + (uint64_t)secs * 1000000;
	while (util_now_us() < end) {
		for (i = 0; i < open_n; i++) {
			if (dead[i])
				continue;
			w = send(fds[i], rec, len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				sent += (uint64_t)w / (len / 64);
			else if (w == -1 && errno != EAGAIN && errno != EINTR) {
				dead[i] = 1;
				closed++;
			}
		}
		usleep(20000);
	}
	for (i = 0; i < open_n; i++) {
		if (!dead[i]) {
			/* A reset shows on send; EOF only after the data. */
			if (send(fds[i], rec, 4, MSG_NOSIGNAL |
			    MSG_DONTWAIT) == -1 && errno != EAGAIN)
				closed++;
		}
		close(fds[i]);
	}
	printf("noread %s: calls_sent=%llu closed_by_server=%d of %d\n", kind,
	    (unsigned long long)sent, closed, open_n);
	free(fds);
	free(dead);
	return 0;
}

/* COUNT with a chosen request identity: prints the status and total. */
static int
cmd_count(uint64_t client, uint64_t seq, int up, const char *kind)
{
	struct buf	b, r;
	char		desc[64];
	size_t		off;
	uint32_t	st, hi, lo;
	int		fd, rc;

	if ((fd = xopen(kind)) == -1) {
		perror("bart_raw: connect");
		return 1;
	}
	bart_call(&b, COUNT);
	put64(&b, client);
	put64(&b, seq);
	put32(&b, (uint32_t)up);
	if (xsend(fd, &b) == -1 || (rc = xrecv(fd, &r, opt_tmo)) != 0) {
		printf("count: noreply\n");
		return 1;
	}
	if (describe(&r, desc, sizeof(desc), &off) != 0) {
		printf("count: %s\n", desc);
		return 1;
	}
	st = get32(&r, &off);
	if (st == BART_OK) {
		hi = get32(&r, &off);
		lo = get32(&r, &off);
		printf("count: status=0 total=%lld\n",
		    (long long)((uint64_t)hi << 32 | lo));
	} else
		printf("count: status=%u\n", st);
	close(fd);
	return 0;
}

/*
 * One UDP call (COUNT 1 with a fresh identity, or SUBSCRIBE to PROG)
 * sent N times with the same xid, as a client resends when replies
 * are lost.  All replies must be the same bytes (the first, cached).
 */
static int
cmd_dupcall(int n, const char *what, uint32_t prog)
{
	struct buf	b, r, first;
	int		fd, i, got = 0, same = 0;
	uint32_t	st = 0;
	size_t		off;
	char		desc[64];

	if ((fd = xopen("udp")) == -1) {
		perror("bart_raw: connect");
		return 1;
	}
	if (strcmp(what, "subscribe") == 0) {
		bart_call(&b, CHAT_SUBSCRIBE);
		put32(&b, prog);
		put32(&b, 1);
		put64(&b, 0);
	} else {
		bart_call(&b, COUNT);
		reqid(&b);
		put32(&b, 1);
	}
	first.n = 0;
	for (i = 0; i < n && i < 100; i++) {
		if (xsend(fd, &b) == -1 || xrecv(fd, &r, opt_tmo) != 0)
			continue;
		if (got++ == 0) {
			first = r;
			if (describe(&r, desc, sizeof(desc), &off) == 0)
				st = get32(&r, &off);
		}
		same += r.n == first.n && memcmp(r.b, first.b, r.n) == 0;
	}
	printf("dupcall %s: sent=%d replies=%d identical=%d status=%u\n", what,
	    i, got, same, st);
	close(fd);
	return 0;
}

/* CHAT_SINCE(SEQ, MAX); over UDP the call is padded with PAD bytes. */
static int
cmd_since(const char *kind, uint64_t seq, uint32_t max, size_t pad)
{
	struct buf	b, r;
	char		desc[64];
	size_t		off, req;
	uint32_t	st, nmsg = 0;
	int		fd;

	if ((fd = xopen(kind)) == -1) {
		perror("bart_raw: connect");
		return 1;
	}
	bart_call(&b, CHAT_SINCE);
	put64(&b, seq);
	put32(&b, max);
	if (pad > 8000)
		pad = 8000;
	memset(b.b + b.n, 0, pad);
	b.n += pad;
	req = b.n;
	if (xsend(fd, &b) == -1 || xrecv(fd, &r, opt_tmo) != 0) {
		printf("since: noreply\n");
		return 1;
	}
	if (describe(&r, desc, sizeof(desc), &off) != 0) {
		printf("since: %s\n", desc);
		return 1;
	}
	st = get32(&r, &off);
	if (st == BART_OK) {
		get32(&r, &off);		/* newest */
		get32(&r, &off);
		nmsg = get32(&r, &off);
	}
	printf("since: request=%zu reply=%zu status=%u msgs=%u\n", req, r.n,
	    st, nmsg);
	close(fd);
	return 0;
}

/*
 * A short-lived test tool, killed at will: leak reports from it (and
 * from libtirpc's rpcbind lookup it uses) say nothing about bart.
 */
int	__lsan_is_turned_off(void);
int
__lsan_is_turned_off(void)
{
	return 1;
}

/* Is A (IPv4) one of this host's addresses?  bind() says. */
static int
own_addr(const char *a)
{
	struct sockaddr_in	sin;
	int			fd, ok;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, a, &sin.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return 0;
	ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bart_raw [-U] [-p port] [-s sock] [-b srcaddr] "
	    "[-a dstaddr] [-t ms] rpcbomb|malformed|garbage|cases|call|flood|slowloris|"
	    "subscribe|subflood|cbserve|noread|count|dupcall|since ...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char	*cmd;
	int		 c, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	next_xid = (uint32_t)util_random_u64();
	while ((c = getopt(argc, argv, "p:s:b:a:t:Uw:")) != -1) {
		switch (c) {
		case 'p':
			opt_port = atoi(optarg);
			break;
		case 's':
			opt_sock = optarg;
			break;
		case 'b':
			opt_src = optarg;
			break;
		case 'a':
			opt_dst = optarg;
			if (!own_addr(opt_dst)) {
				fprintf(stderr, "bart_raw: %s is not an address "
				    "of this host\n", opt_dst);
				return 2;
			}
			break;
		case 't':
			opt_tmo = atoi(optarg);
			break;
		case 'U':
			opt_unconn = 1;
			break;
		case 'w':
			opt_wait = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cmd = argv[0];
	if (strcmp(cmd, "rpcbomb") == 0 && argc == 2)
		return cmd_rpcbomb(argv[1]);
	if (strcmp(cmd, "malformed") == 0 && argc == 3)
		return cmd_malformed(argv[1], (unsigned int)atoi(argv[2]));
	if (strcmp(cmd, "garbage") == 0 && argc == 3)
		return cmd_garbage(argv[1], argv[2]);
	if (strcmp(cmd, "cases") == 0) {
		for (i = 0; cases[i] != NULL; i++)
			printf("%s\n", cases[i]);
		return 0;
	}
	if (strcmp(cmd, "call") == 0 && argc == 3)
		return cmd_call((uint32_t)strtoul(argv[1], NULL, 0), argv[2]);
	if (strcmp(cmd, "flood") == 0 && argc == 4)
		return cmd_flood(argv[1], atoi(argv[2]), atoi(argv[3]));
	if (strcmp(cmd, "slowloris") == 0 && argc == 3)
		return cmd_slowloris(argv[1], atoi(argv[2]));
	if (strcmp(cmd, "subscribe") == 0 && argc == 3)
		return cmd_subscribe((uint32_t)strtoul(argv[1], NULL, 0),
		    argv[2]);
	if (strcmp(cmd, "subflood") == 0 && argc == 4)
		return cmd_subflood(atoi(argv[1]),
		    (uint32_t)strtoul(argv[2], NULL, 0), argv[3]);
	if (strcmp(cmd, "noread") == 0 && argc == 4)
		return cmd_noread(argv[1], atoi(argv[2]), atoi(argv[3]));
	if (strcmp(cmd, "count") == 0 && argc == 5)
		return cmd_count(strtoull(argv[1], NULL, 0),
		    strtoull(argv[2], NULL, 0), atoi(argv[3]), argv[4]);
	if (strcmp(cmd, "dupcall") == 0 && argc >= 3)
		return cmd_dupcall(atoi(argv[1]), argv[2], argc > 3 ?
		    (uint32_t)strtoul(argv[3], NULL, 0) : 0);
	if (strcmp(cmd, "since") == 0 && argc >= 4)
		return cmd_since(argv[1], strtoull(argv[2], NULL, 0),
		    (uint32_t)strtoul(argv[3], NULL, 0), argc > 4 ?
		    (size_t)atoi(argv[4]) : 0);
	if (strcmp(cmd, "cbserve") == 0 && argc == 4)
		return cmd_cbserve((uint32_t)strtoul(argv[1], NULL, 0),
		    strcmp(argv[2], "answer") == 0, atoi(argv[3]));
	usage();
	return 2;
}
