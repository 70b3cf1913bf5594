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
		return "invalid name: 1 to 32 bytes, no control characters";
	case BART_ETEXT:
		return "invalid text: 1 to 512 bytes, no control characters";
	case BART_ESTORE:
		return "the server could not store the change "
		    "(disk full or read-only?); nothing was changed";
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
		return "too many subscriptions from this host";
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
		    "may or may not be stored (the same call resent will "
		    "tell)";
	case BART_ERATE:
		return "too many requests of this kind from this client; "
		    "try again shortly";
	case BART_EUSESTREAM:
		return "the reply is too large for UDP; use -T tcp";
	}
	return "unknown status";
}

/* Bytes below 0x20 and DEL are refused; UTF-8 passes through. */
static int
has_control(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 1;
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

/* Parse a whole decimal integer in [min, max]; 0 on success. */
int
util_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
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
