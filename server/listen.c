/* SPDX-License-Identifier: ISC */
/*
 * listen.c: create and bind bart's sockets (tcp, udp, their IPv6
 * twins, and AF_UNIX), on the wildcard or on the --listen addresses,
 * and say which address each ended up on.  It knows nothing of
 * libtirpc's transports or of rpcbind: svc.c serves the fds, reg.c
 * registers the addresses.
 *
 * Every transport asked for is created, or the start fails: a daemon
 * that detaches with exit 0 but lacks tcp because -P's port was taken
 * is worse than one that says so and exits 1.  The one exception is
 * the default set on a kernel without IPv6: tcp6 and udp6 are skipped
 * (logged); asked for by name with --transports, they must work.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <rpc/rpc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"

static const struct {
	const char	*netid;
	unsigned int	 bit;
	int		 af;		/* AF_UNIX: the local transport */
} transports[] = {
	{ "tcp", LISTEN_TCP, AF_INET },
	{ "udp", LISTEN_UDP, AF_INET },
	{ "tcp6", LISTEN_TCP6, AF_INET6 },
	{ "udp6", LISTEN_UDP6, AF_INET6 },
	{ "local", LISTEN_LOCAL, AF_UNIX },
};
#define NTRANSPORTS	(sizeof(transports) / sizeof(transports[0]))

/* One --listen address, parsed. */
struct addr {
	int			 af;
	struct in_addr		 in;
	struct in6_addr		 in6;
};

/*
 * "tcp,udp,local" into LISTEN_* bits; -1 on an unknown or empty name.
 */
int
listen_parse_transports(const char *s, unsigned int *bits)
{
	const char	*p, *end;
	size_t		 i, len;

	*bits = 0;
	for (p = s; ; p = end + 1) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		for (i = 0; i < NTRANSPORTS; i++)
			if (strlen(transports[i].netid) == len &&
			    strncmp(transports[i].netid, p, len) == 0)
				break;
		if (i == NTRANSPORTS)
			return -1;
		*bits |= transports[i].bit;
		if (*end == '\0')
			break;
	}
	return 0;
}

static int
parse_addr(const char *s, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->in) == 1)
		a->af = AF_INET;
	else if (inet_pton(AF_INET6, s, &a->in6) == 1)
		a->af = AF_INET6;
	else
		return -1;
	return 0;
}

/*
 * Add a --listen address; -1 if it is not a numeric address, a repeat
 * (its second bind would fail), or one too many.
 */
int
listen_add_addr(struct listen_conf *lc, const char *s)
{
	struct addr	a, b;
	int		i;

	if (lc->naddrs == LISTEN_ADDRS || parse_addr(s, &a) == -1)
		return -1;
	for (i = 0; i < lc->naddrs; i++)
		if (parse_addr(lc->addrs[i], &b) == 0 && memcmp(&a, &b,
		    sizeof(a)) == 0)
			return -1;
	lc->addrs[lc->naddrs++] = s;
	return 0;
}

/* "tcp port 7000", "tcp 127.0.0.1 port 7000", for messages. */
static const char *
where(const char *netid, const char *addr, int port)
{
	static char	buf[128];
	char		p[16];

	if (port == 0)
		snprintf(p, sizeof(p), "(any)");
	else
		snprintf(p, sizeof(p), "%d", port);
	snprintf(buf, sizeof(buf), "%s%s%s port %s", netid,
	    addr != NULL ? " " : "", addr != NULL ? addr : "", p);
	return buf;
}

/*
 * A bound (and, for streams, listening) inet socket; -1 with errno.
 * A == NULL: the wildcard.
 */
static int
open_inet(int af, int type, const struct addr *a, int port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	int			 fd, on = 1, saved;

	/*
	 * Non-blocking: libtirpc accept()s after poll() said readable; a
	 * connection reset in between must not block the whole loop.
	 */
	if ((fd = socket(af, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (af == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = a != NULL ? a->in6 : in6addr_any;
		len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr = a != NULL ? a->in.s_addr :
		    htonl(INADDR_ANY);
		len = sizeof(*sin);
	}
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    (type == SOCK_STREAM && listen(fd, SOMAXCONN) == -1)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * The AF_UNIX socket; -1 with errno.  A path left by a killed daemon
 * is replaced; one a live process accepts on is not (EADDRINUSE):
 * unlinking it would cut that daemon off its local clients.
 */
static int
open_local(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
	    errno == EAGAIN) {
		close(fd);
		errno = EADDRINUSE;
		return -1;
	}
	close(fd);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	unlink(path);			/* left by a killed daemon */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0666) == -1 || listen(fd, SOMAXCONN) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Add a bound socket to the set; its address from the kernel. */
static int
add_ent(struct listen_set *ls, const char *netid, int fd)
{
	struct listen_ent	*le;

	if (ls->n == LISTEN_MAX) {
		errno = ENOSPC;
		return -1;
	}
	le = &ls->ent[ls->n];
	le->addrlen = sizeof(le->addr);
	if (getsockname(fd, (struct sockaddr *)&le->addr, &le->addrlen) ==
	    -1)
		return -1;
	if ((le->nconf = getnetconfigent(netid)) == NULL) {
		errno = ENOPROTOOPT;
		return -1;
	}
	le->fd = fd;
	ls->n++;
	return 0;
}

/* add_ent, or close FD (errno kept) and fail; -1 in FD passes through. */
static int
take(struct listen_set *ls, const char *netid, int fd)
{
	int	saved;

	if (fd == -1)
		return -1;
	if (add_ent(ls, netid, fd) == 0)
		return 0;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int
bound_port(const struct listen_ent *le)
{
	const struct sockaddr	*sa = (const struct sockaddr *)&le->addr;

	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

/*
 * Does this host do IPv6 at all: the kernel (not: is an address
 * configured), and libtirpc's netconfig?
 */
static int
have_ipv6(void)
{
	struct netconfig	*nc;
	int			 fd;

	if ((fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return errno != EAFNOSUPPORT;
	close(fd);
	if ((nc = getnetconfigent("tcp6")) == NULL)
		return 0;
	freenetconfigent(nc);
	return 1;
}

/*
 * One inet transport on every address of its family (or the wildcard).
 * All addresses share one port, so that rpcbind, which keeps a single
 * address per netid and hands out the caller's interface address with
 * its port, points every client at a socket of ours.
 */
static int
open_transport(struct listen_set *ls, const struct listen_conf *lc,
    size_t t)
{
	struct addr	 a;
	const char	*netid = transports[t].netid;
	int		 i, fd, port = lc->port, type, n = 0;

	type = netid[0] == 'u' ? SOCK_DGRAM : SOCK_STREAM;
	if (lc->naddrs == 0) {
		fd = open_inet(transports[t].af, type, NULL, port);
		if (take(ls, netid, fd) == -1) {
			log_warn("cannot listen on %s", where(netid, NULL,
			    port));
			return -1;
		}
		return 0;
	}
	for (i = 0; i < lc->naddrs; i++) {
		if (parse_addr(lc->addrs[i], &a) == -1 ||
		    a.af != transports[t].af)
			continue;
		fd = open_inet(a.af, type, &a, port);
		if (take(ls, netid, fd) == -1) {
			log_warn("cannot listen on %s", where(netid,
			    lc->addrs[i], port));
			return -1;
		}
		port = bound_port(&ls->ent[ls->n - 1]);
		n++;
	}
	if (n == 0) {
		log_warnx("--transports %s: no %s --listen address", netid,
		    transports[t].af == AF_INET6 ? "IPv6" : "IPv4");
		return -1;
	}
	return 0;
}

/*
 * Create and bind the sockets.  Fails, with one line saying why, if
 * any transport asked for cannot be created; nothing stays open then.
 */
int
listen_open(struct listen_set *ls, const struct listen_conf *lc)
{
	struct addr	 a;
	unsigned int	 want = lc->transports, fams = 0;
	size_t		 t;
	int		 i;

	memset(ls, 0, sizeof(*ls));
	for (i = 0; i < lc->naddrs; i++)
		if (parse_addr(lc->addrs[i], &a) == 0)
			fams |= a.af == AF_INET6 ? 2 : 1;
	if (want == 0) {
		want = LISTEN_ALL;
		/* --listen 127.0.0.1 alone: no IPv6 sockets to make. */
		if (lc->naddrs > 0 && !(fams & 1))
			want &= ~(LISTEN_TCP | LISTEN_UDP);
		if (lc->naddrs > 0 && !(fams & 2))
			want &= ~(LISTEN_TCP6 | LISTEN_UDP6);
		if ((want & (LISTEN_TCP6 | LISTEN_UDP6)) && !have_ipv6()) {
			log_info("no IPv6 on this host: tcp6 and udp6 "
			    "skipped");
			want &= ~(LISTEN_TCP6 | LISTEN_UDP6);
		}
	}
	for (t = 0; t < NTRANSPORTS; t++) {
		if (!(want & transports[t].bit))
			continue;
		if (transports[t].af != AF_UNIX) {
			if (open_transport(ls, lc, t) == -1)
				goto fail;
			continue;
		}
		if (take(ls, "local", open_local(lc->sock_path)) == -1) {
			if (errno == EADDRINUSE)
				log_warnx("cannot listen on local socket %s: "
				    "a running process accepts on it",
				    lc->sock_path);
			else
				log_warn("cannot listen on local socket %s",
				    lc->sock_path);
			goto fail;
		}
		ls->sock_path = lc->sock_path;
	}
	return 0;
fail:
	for (i = 0; i < ls->n; i++)
		close(ls->ent[i].fd);
	listen_close(ls);
	return -1;
}

/* Forget the set; the AF_UNIX path goes, the fds are their server's. */
void
listen_close(struct listen_set *ls)
{
	int	i;

	for (i = 0; i < ls->n; i++)
		freenetconfigent(ls->ent[i].nconf);
	ls->n = 0;
	if (ls->sock_path != NULL && unlink(ls->sock_path) == -1 &&
	    errno != ENOENT)
		log_debug("cannot remove %s", ls->sock_path);
	ls->sock_path = NULL;
}
