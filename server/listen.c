/*
 * listen.c: create and bind bart's sockets (tcp, udp, their IPv6
 * twins, and AF_UNIX) and say which address each ended up on.  It
 * knows nothing of libtirpc's transports or of rpcbind: svc.c serves
 * the fds, reg.c registers the addresses.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <rpc/rpc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"

static const char *const netids[] = { "tcp", "udp", "tcp6", "udp6",
    "local" };

static int
open_inet(const struct listen_conf *lc, struct netconfig *nc)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	int			 fd, af, type, on = 1;

	af = strcmp(nc->nc_protofmly, NC_INET6) == 0 ? AF_INET6 : AF_INET;
	type = nc->nc_semantics == NC_TPI_CLTS ? SOCK_DGRAM : SOCK_STREAM;
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
		sin6->sin6_port = htons((uint16_t)lc->port);
		sin6->sin6_addr = in6addr_any;
		len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)lc->port);
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		len = sizeof(*sin);
	}
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    (type == SOCK_STREAM && listen(fd, SOMAXCONN) == -1)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
open_local(const struct listen_conf *lc)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(lc->sock_path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, lc->sock_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	unlink(lc->sock_path);		/* left by a killed daemon */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(lc->sock_path, 0666) == -1 || listen(fd, SOMAXCONN) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Add a bound socket to the set; its address from the kernel. */
static int
add_ent(struct listen_set *ls, struct netconfig *nc, int fd)
{
	struct listen_ent	*le = &ls->ent[ls->n];

	le->addrlen = sizeof(le->addr);
	if (getsockname(fd, (struct sockaddr *)&le->addr, &le->addrlen) ==
	    -1) {
		log_warn("getsockname %s", nc->nc_netid);
		return -1;
	}
	le->nconf = nc;
	le->fd = fd;
	ls->n++;
	return 0;
}

/*
 * Create and bind the sockets.  A transport that cannot be created is
 * logged and skipped; fails only if none could be.
 */
int
listen_open(struct listen_set *ls, const struct listen_conf *lc)
{
	struct netconfig	*nc;
	size_t			 i;
	int			 fd;

	memset(ls, 0, sizeof(*ls));
	for (i = 0; i < sizeof(netids) / sizeof(netids[0]); i++) {
		if ((nc = getnetconfigent(netids[i])) == NULL)
			continue;
		if (strcmp(nc->nc_protofmly, NC_LOOPBACK) == 0) {
			fd = open_local(lc);
			if (fd != -1)
				ls->sock_path = lc->sock_path;
		} else
			fd = open_inet(lc, nc);
		if (fd == -1) {
			log_warn("transport %s unavailable", netids[i]);
			freenetconfigent(nc);
			continue;
		}
		if (add_ent(ls, nc, fd) == -1) {
			close(fd);
			freenetconfigent(nc);
		}
	}
	if (ls->n == 0) {
		log_warnx("no transport could be created");
		return -1;
	}
	return 0;
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
