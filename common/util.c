/* SPDX-License-Identifier: ISC */
/* util.c: status words, input checks, clocks, randomness, sockets. */
#include <sys/random.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Plain words for every status in bart.x; the client prints these. */
const char *
util_status_str(bart_status st)
{
	switch (st) {
	case BART_OK:
		return "success";
	case BART_ENEGATIVE:
		return "the increment must not be negative";
	case BART_EOVERFLOW:
		return "the counter would overflow; nothing was changed";
	case BART_ENAME:
		return "invalid name: 1 to 32 bytes of UTF-8, no control "
		    "characters (C0, DEL, C1)";
	case BART_ETEXT:
		return "invalid text: 1 to 512 bytes of UTF-8, no control "
		    "characters (C0, DEL, C1)";
	case BART_ESTORE:
		/* Also a failed read (history): true for both. */
		return "the server's database failed (disk full, read-only, "
		    "deleted or damaged?); nothing was changed";
	case BART_ECBPROG:
		return "callback program number outside the transient range "
		    "0x40000000-0x5fffffff";
	case BART_ECBRPCBIND:
		return "the server cannot reach rpcbind on this host "
		    "(a firewall may drop the server's callbacks)";
	case BART_ECBNOTREG:
		return "the callback program is not registered with rpcbind "
		    "on this host";
	case BART_ECBNOANSWER:
		return "the callback program did not answer the server's probe "
		    "(a firewall may drop the server's callbacks)";
	case BART_ETOOMANY:
		return "too many chat subscriptions (from this host, or on "
		    "the server in all)";
	case BART_ENOSUB:
		return "no such subscription (or wrong token)";
	case BART_EBADTOKEN:
		return "wrong subscription token";
	case BART_EINVAL:
		return "invalid argument";
	case BART_ECBDROPPED:
		return "subscription dropped after repeated delivery failures";
	case BART_EUNKNOWN:
		return "the server could not confirm its commit: the change "
		    "may or may not be stored (look with count 0 or history "
		    "before repeating it)";
	case BART_ERATE:
		return "too many requests of this kind from this client; "
		    "try again shortly";
	case BART_EUSESTREAM:
		return "the reply is too large for UDP; use -T tcp";
	case BART_EUNAVAIL:
		return "the server's database is unavailable; nothing was "
		    "changed (try again shortly, or another server)";
	}
	return "unknown status";
}

/*
 * Length of the well-formed UTF-8 sequence at P (RFC 3629, table 3-7
 * of the Unicode standard) and its code point in *CP; 0 if the bytes
 * are not one: a stray continuation byte, an overlong form (C0, C1,
 * E0 80..9F, F0 80..8F), a surrogate (ED A0..BF), beyond U+10FFFF
 * (F4 90.., F5..FF), or a sequence cut short (the NUL ends it).
 */
static size_t
utf8_seq(const unsigned char *p, uint32_t *cp)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		*cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		*cp = p[0] & 0x0f;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		*cp = p[0] & 0x07;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if (p[i] < lo || p[i] > hi)
			return 0;	/* also the NUL of a cut sequence */
		*cp = (*cp << 6) | (p[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

/*
 * C0 (U+0000..U+001F), DEL and C1 (U+0080..U+009F): a terminal acts on
 * them.  C1 counts both as a raw byte (which is not UTF-8 anyway) and
 * encoded (C2 80..9F), since terminals in either mode take CSI 0x9B.
 */
static int
is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* 1 unless S is well-formed UTF-8 without control characters. */
static int
has_control(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 n;

	while (*p != '\0') {
		if ((n = utf8_seq(p, &cp)) == 0 || is_control(cp))
			return 1;
		p += n;
	}
	return 0;
}

bart_status
util_check_name(const char *s)
{
	size_t	len;

	if (s == NULL)
		return BART_ENAME;
	len = strlen(s);
	if (len == 0 || len > BART_NAME_MAX || has_control(s))
		return BART_ENAME;
	return BART_OK;
}

bart_status
util_check_text(const char *s)
{
	size_t	len;

	if (s == NULL)
		return BART_ETEXT;
	len = strlen(s);
	if (len == 0 || len > BART_TEXT_MAX || has_control(s))
		return BART_ETEXT;
	return BART_OK;
}

/*
 * Parse a whole decimal integer in [min, max]; 0 on success.  Only an
 * optional '-' and digits: no leading blanks or '+' (which strtoll
 * would take), so " 5" on a command line is a mistake, not a 5.
 */
int
util_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;
	const char	*d;

	if (s == NULL)
		return -1;
	d = *s == '-' ? s + 1 : s;
	if (*d < '0' || *d > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Copy S into BUF (LEN bytes, NUL-terminated) for display on a
 * terminal: well-formed UTF-8 other than control characters as is,
 * every other byte as \xHH.  Never splits an escape or a character;
 * returns the bytes written (without the NUL).  Backslashes stay as
 * they are: this is for safety, not a reversible encoding.  A BUF of
 * 4 * strlen(S) + 1 bytes always holds all of S.
 */
size_t
util_escape(const char *s, char *buf, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 n, o = 0;

	if (len == 0)
		return 0;
	while (*p != '\0') {
		if ((n = utf8_seq(p, &cp)) != 0 && !is_control(cp)) {
			if (o + n >= len)
				break;
			memcpy(buf + o, p, n);
			o += n;
			p += n;
			continue;
		}
		if (o + 4 >= len)
			break;
		buf[o++] = '\\';
		buf[o++] = 'x';
		buf[o++] = hex[*p >> 4];
		buf[o++] = hex[*p & 0x0f];
		p++;
	}
	buf[o] = '\0';
	return o;
}

uint64_t
util_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void
util_random(void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			abort();	/* no entropy source: nothing is safe */
		}
		p += n;
		len -= (size_t)n;
	}
}

uint64_t
util_random_u64(void)
{
	uint64_t	v;

	do
		util_random(&v, sizeof(v));
	while (v == 0);
	return v;
}

/*
 * A 64-bit finaliser (splitmix64's): every input bit moves about half
 * the output bits.  Keyed hash tables (drc.c, reqidx.c) fold their
 * random seed and key words through it.
 */
uint64_t
util_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*
 * connect() with a deadline.  libtirpc connects blocking, which can
 * hang for minutes on a filtered host; callers hand it our socket.
 */
int
util_connect_timed(const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	struct pollfd	pfd;
	int		fd, flags, err = 0, r;
	socklen_t	elen = sizeof(err);

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	flags = fcntl(fd, F_GETFL);
	if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		goto fail;
	if (connect(fd, sa, len) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			r = poll(&pfd, 1, timeout_ms);
		while (r == -1 && errno == EINTR);
		if (r == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (r == -1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
			goto fail;
		if (err != 0) {
			errno = err;
			goto fail;
		}
	}
	if (fcntl(fd, F_SETFL, flags) == -1)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* Numeric host of a socket address ("local" for AF_UNIX). */
int
util_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	socklen_t	slen;

	switch (sa->sa_family) {
	case AF_INET:
		slen = sizeof(struct sockaddr_in);
		break;
	case AF_INET6:
		slen = sizeof(struct sockaddr_in6);
		break;
	case AF_UNIX:
		snprintf(buf, len, "local");
		return 0;
	default:
		snprintf(buf, len, "unknown");
		return -1;
	}
	if (getnameinfo(sa, slen, buf, len, NULL, 0, NI_NUMERICHOST) != 0) {
		snprintf(buf, len, "unknown");
		return -1;
	}
	return 0;
}

/*
 * A call message into BUF (CAP bytes): XID, PROG, VERS, PROC, AUTH_NONE,
 * then XA(A) (NULL: no arguments).  Returns its length, or 0 if it does
 * not fit.  No record mark: a stream caller reserves its 4 bytes first.
 */
size_t
util_call_encode(unsigned char *buf, size_t cap, uint32_t xid,
    uint32_t prog, uint32_t vers, uint32_t proc, xdrproc_t xa, void *a)
{
	struct rpc_msg	m;
	XDR		x;
	size_t		len = 0;

	memset(&m, 0, sizeof(m));
	m.rm_xid = xid;
	m.rm_direction = CALL;
	m.rm_call.cb_rpcvers = RPC_MSG_VERSION;
	m.rm_call.cb_prog = prog;
	m.rm_call.cb_vers = vers;
	m.rm_call.cb_proc = proc;
	m.rm_call.cb_cred = _null_auth;
	m.rm_call.cb_verf = _null_auth;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	xdrmem_create(&x, (char *)buf, (u_int)cap, XDR_ENCODE);
	if (xdr_callmsg(&x, &m) && (xa == NULL || xa(&x, a)))
		len = XDR_GETPOS(&x);
	xdr_destroy(&x);
	return len;
}
