/* SPDX-License-Identifier: ISC */
/*
 * stock_main.c: the comparison server for the bench's instruction
 * counts.  rpcgen writes its dispatcher (stock_svc.c, `rpcgen -m`);
 * this file adds only what rpcgen's own main cannot do on Linux
 * (its main is portmap-v2 and IPv4-only): a listener per netconfig
 * with svc_tli_create() and svc_reg(), tcp, udp and local like bart,
 * and libtirpc's svc_run().  COUNT keeps its counter in memory.  No
 * connection limits, no record-size cap: a stock server as rpcgen and
 * libtirpc make it.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <rpc/rpc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stock.h"

/* rpcgen's dispatcher (stock_svc.c); its header does not declare it. */
void	stock_prog_1(struct svc_req *, SVCXPRT *);

static const char	*sock_path = "/run/bart_stock.sock";

/* COUNT: add up to the counter and say so, as bart's COUNT does. */
stock_count_res *
stock_count_1_svc(stock_count_args *a, struct svc_req *rq)
{
	static stock_count_res	res;
	static char		text[STOCK_TEXT + 1];
	static int64_t		total;

	(void)rq;
	total += a->up;
	snprintf(text, sizeof(text), "I was called %lld times.",
	    (long long)total);
	res.status = 0;
	res.stock_count_res_u.ok.total = total;
	res.stock_count_res_u.ok.text = text;
	return &res;
}

/* A listening AF_UNIX socket at sock_path for the local transport. */
static int
local_listener(void)
{
	struct sockaddr_un	sun;
	int			fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	unlink(sock_path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Create and register a transport for NETID; exit on failure. */
static void
serve_on(const char *netid)
{
	struct netconfig	*nc;
	SVCXPRT			*x;
	int			 fd = RPC_ANYFD;

	if ((nc = getnetconfigent(netid)) == NULL) {
		fprintf(stderr, "stock_svc: no netconfig %s\n", netid);
		exit(1);
	}
	if (strcmp(netid, "local") == 0 && (fd = local_listener()) == -1) {
		perror("stock_svc: local socket");
		exit(1);
	}
	if ((x = svc_tli_create(fd, nc, NULL, 0, 0)) == NULL ||
	    !svc_reg(x, STOCK_PROG, STOCK_VERS, stock_prog_1, nc)) {
		fprintf(stderr, "stock_svc: cannot serve on %s\n", netid);
		exit(1);
	}
	freenetconfigent(nc);
}

/*
 * TERM ends the process at once: svc_run() never returns, and the
 * bench's own rpcbind, which holds the registrations, goes with it.
 */
static void
on_term(int sig)
{
	(void)sig;
	unlink(sock_path);
	_exit(0);
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		sock_path = argv[1];
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	svc_unreg(STOCK_PROG, STOCK_VERS);	/* a previous run's entries */
	serve_on("tcp");
	serve_on("udp");
	serve_on("local");
	fprintf(stderr, "stock_svc: serving\n");
	svc_run();
	fprintf(stderr, "stock_svc: svc_run returned\n");
	return 1;
}
