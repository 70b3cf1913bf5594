/* SPDX-License-Identifier: ISC */
/*
 * floor.c: the physical floor.  A single-threaded poll() echo server
 * (as bart_svc is single-threaded) answers a fixed-size request with a
 * fixed-size reply over TCP, UDP and AF_UNIX, and the client side of
 * that ping-pong.  Sizes are those of a count() call and its reply.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define ECHO_MAX_CONN	64
#define ECHO_BUF	2048

struct echo {
	pid_t			pid;
	size_t			req, rep;
	struct sockaddr_in	tcp, udp;
	struct sockaddr_un	un;
};

static int
bound(int type, struct sockaddr_in *sin)
{
	socklen_t	len = sizeof(*sin);
	int		fd, on = 1;

	if ((fd = socket(AF_INET, type, 0)) == -1)
		die("socket");
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1 ||
	    (type == SOCK_STREAM && listen(fd, 64) == -1))
		die("echo bind");
	return fd;
}

static void __attribute__((noreturn))
serve(int lt, int lu, int ud, size_t req, size_t rep)
{
	struct pollfd	pf[3 + ECHO_MAX_CONN];
	size_t		got[3 + ECHO_MAX_CONN];
	char		buf[ECHO_BUF], out[ECHO_BUF];
	struct sockaddr_storage ss;
	socklen_t	sl;
	ssize_t		r;
	int		n = 3, i, fd;

	memset(out, 'r', sizeof(out));
	memset(got, 0, sizeof(got));
	pf[0].fd = lt;
	pf[1].fd = lu;
	pf[2].fd = ud;
	for (i = 0; i < 3; i++)
		pf[i].events = POLLIN;
	for (;;) {
		if (poll(pf, (nfds_t)n, 1000) == -1 && errno != EINTR)
			_exit(1);
		if (getppid() == 1)
			_exit(0);		/* the bench is gone */
		for (i = 0; i < 2; i++) {
			if (!(pf[i].revents & POLLIN))
				continue;
			if ((fd = accept(pf[i].fd, NULL, NULL)) == -1)
				continue;
			if (n == 3 + ECHO_MAX_CONN) {
				close(fd);
				continue;
			}
			pf[n].fd = fd;
			pf[n].events = POLLIN;
			pf[n].revents = 0;
			got[n++] = 0;
		}
		if (pf[2].revents & POLLIN) {
			sl = sizeof(ss);
			if (recvfrom(ud, buf, sizeof(buf), 0,
			    (struct sockaddr *)&ss, &sl) > 0)
				sendto(ud, out, rep, 0, (struct sockaddr *)&ss,
				    sl);
		}
		for (i = 3; i < n; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(pf[i].fd, buf, sizeof(buf));
			if (r <= 0) {
				close(pf[i].fd);
				pf[i] = pf[n - 1];
				got[i] = got[n - 1];
				n--;
				i--;
				continue;
			}
			got[i] += (size_t)r;
			/* Streams carry the 4-byte RPC record mark too. */
			while (got[i] >= req + 4) {
				got[i] -= req + 4;
				if (write(pf[i].fd, out, rep + 4) !=
				    (ssize_t)(rep + 4))
					break;
			}
		}
	}
}

/* Start the echo server in its own process. */
struct echo *
echo_start(size_t req, size_t rep)
{
	struct echo	*e;
	int		 lt, lu, ud;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		die("out of memory");
	e->req = req;
	e->rep = rep;
	lt = bound(SOCK_STREAM, &e->tcp);
	ud = bound(SOCK_DGRAM, &e->udp);
	if ((lu = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		die("socket");
	e->un.sun_family = AF_UNIX;
	snprintf(e->un.sun_path, sizeof(e->un.sun_path), "%s/echo.sock",
	    B->tmp);
	unlink(e->un.sun_path);
	if (bind(lu, (struct sockaddr *)&e->un, sizeof(e->un)) == -1 ||
	    listen(lu, 64) == -1)
		die("echo bind unix");
	if ((e->pid = fork()) == -1)
		die("fork");
	if (e->pid == 0)
		serve(lt, lu, ud, req, rep);
	child_track(e->pid);
	close(lt);
	close(lu);
	close(ud);
	return e;
}

void
echo_stop(struct echo *e)
{
	if (e == NULL)
		return;
	child_stop(e->pid);
	unlink(e->un.sun_path);
	free(e);
}

/* A connected socket to the echo server over KIND (tcp, udp, local). */
int
echo_connect(struct echo *e, const char *kind)
{
	int	fd;

	if (strcmp(kind, "local") == 0) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&e->un, sizeof(e->un)) == -1)
			die("echo connect local");
		return fd;
	}
	if (strcmp(kind, "udp") == 0) {
		if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&e->udp,
		    sizeof(e->udp)) == -1)
			die("echo connect udp");
		return fd;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&e->tcp, sizeof(e->tcp)) == -1)
		die("echo connect tcp");
	return fd;
}

/* One round trip; 0 or -1.  UDP waits at most 1 s for its reply. */
int
echo_call(struct echo *e, int fd, const char *kind)
{
	char		buf[ECHO_BUF];
	size_t		got = 0;
	ssize_t		r;
	struct pollfd	pf;
	int		dgram = strcmp(kind, "udp") == 0;
	size_t		req = e->req + (dgram ? 0 : 4);
	size_t		rep = e->rep + (dgram ? 0 : 4);

	memset(buf, 'q', req);
	if (write(fd, buf, req) != (ssize_t)req)
		return -1;
	if (dgram) {
		pf.fd = fd;
		pf.events = POLLIN;
		if (poll(&pf, 1, 1000) != 1)
			return -1;
		return recv(fd, buf, sizeof(buf), 0) == (ssize_t)e->rep ? 0 :
		    -1;
	}
	while (got < rep) {
		if ((r = read(fd, buf, sizeof(buf))) <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}
