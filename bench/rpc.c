/* SPDX-License-Identifier: ISC */
/* rpc.c: the bart_svc under test, started and stopped by PID, and calls. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "util.h"

/* Start bart_svc in the foreground and wait until rpcbind lists it. */
int
svc_start(void)
{
	char			 bin[PATH_MAX + 16];
	const char		*drc;
	struct netconfig	*nc;
	struct sockaddr_storage	 ss;
	struct netbuf		 nb;
	pid_t			 pid;
	int			 fd, i, st;

	if (B->svc_bin != NULL)
		snprintf(bin, sizeof(bin), "%s", B->svc_bin);
	else
		snprintf(bin, sizeof(bin), "%s/bart_svc", B->bindir);
	mkdir(B->state, 0700);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		if ((fd = open(B->svclog, O_WRONLY | O_CREAT | O_APPEND,
		    0644)) != -1) {
			dup2(fd, 2);
			close(fd);
		}
		/* "BART_TEST_NO_DRC=1" (latency.c) is now an option. */
		drc = B->svc_env != NULL && strstr(B->svc_env, "NO_DRC") !=
		    NULL ? "0" : "1024";
		/* For profiling: BART_BENCH_WRAP="perf record -g -o F --". */
		if (getenv("BART_BENCH_WRAP") != NULL)
			execl("/bin/sh", "sh", "-c", "exec $BART_BENCH_WRAP "
			    "\"$@\"", "sh", bin, "-f", "-S", B->state, "-p",
			    B->pidfile, "-s", B->sock, "--chat-rate", "0",
			    "--max-history", "0", "--udp-cache", drc,
			    (char *)NULL);
		/* No chat rate limit or history cap: the bench floods and
		 * fills the store on purpose. */
		{
			const char	*av[32] = { "bart_svc", "-f", "-S",
			    B->state, "-p", B->pidfile, "-s", B->sock,
			    "--chat-rate", "0", "--max-history", "0",
			    "--udp-cache", drc };
			int		 ac = 14;

			for (i = 0; i < 8 && B->svc_args[i] != NULL; i++)
				av[ac++] = B->svc_args[i];
			av[ac] = NULL;
			execv(bin, (char *const *)(uintptr_t)av);
		}
		_exit(127);
	}
	B->svc_pid = pid;
	if ((nc = getnetconfigent("tcp")) == NULL)
		die("no tcp netconfig");
	for (i = 0; i < 200; i++) {
		nb.buf = &ss;
		nb.maxlen = sizeof(ss);
		nb.len = 0;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			B->svc_pid = 0;
			break;
		}
		if (rpcb_getaddr(BART_PROG, BART_VERS, nc, &nb, "localhost") &&
		    access(B->sock, F_OK) == 0) {
			freenetconfigent(nc);
			/* Let it finish registering the other transports. */
			usleep(20000);
			return 0;
		}
		usleep(50000);
	}
	freenetconfigent(nc);
	return -1;
}

void
svc_stop(void)
{
	pid_t	pid = B->svc_pid;

	B->svc_pid = 0;
	child_stop(pid);
}

long
svc_rss_kb(void)
{
	char	path[64], line[256];
	FILE	*f;
	long	kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)B->svc_pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* CPU time the daemon has used, ns (all threads): /proc schedstat. */
uint64_t
svc_cpu_ns(void)
{
	char			path[64];
	unsigned long long	ns = 0;
	FILE			*f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)B->svc_pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

/* A CLIENT of bart over NETID (tcp, udp, local), found via rpcbind. */
CLIENT *
rpc_client(const char *netid)
{
	struct netconfig	*nc;
	struct timeval		 tv = { CALL_TIMEOUT_S, 0 };
	CLIENT			*cl;

	if ((nc = getnetconfigent(netid)) == NULL)
		die("no netconfig %s", netid);
	cl = clnt_tp_create_timed("localhost", BART_PROG, BART_VERS, nc, &tv);
	freenetconfigent(nc);
	if (cl == NULL)
		die("cannot reach bart over %s: %s", netid,
		    clnt_spcreateerror(""));
	clnt_control(cl, CLSET_TIMEOUT, (char *)&tv);
	return cl;
}

void
rpc_reqid(bart_reqid *id)
{
	id->client = B->client_id;
	id->seq = ++B->seq;
}

/* count(UP); WITH_ID: carry a request identity as bart_clnt does. */
int
rpc_count(CLIENT *cl, int up, int with_id, int64_t *total)
{
	struct timeval	tv = { CALL_TIMEOUT_S, 0 };
	count_args	a;
	count_res	r;
	int		rc = -1;

	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	if (with_id)
		rpc_reqid(&a.id);
	a.up = up;
	if (clnt_call(cl, COUNT, (xdrproc_t)xdr_count_args, (char *)&a,
	    (xdrproc_t)xdr_count_res, (char *)&r, tv) == RPC_SUCCESS &&
	    r.status == BART_OK) {
		if (total != NULL)
			*total = r.count_res_u.ok.total;
		rc = 0;
	}
	xdr_free((xdrproc_t)xdr_count_res, (char *)&r);
	return rc;
}

int
rpc_null(CLIENT *cl)
{
	struct timeval	tv = { CALL_TIMEOUT_S, 0 };

	return clnt_call(cl, NULLPROC, XDR_VOID, NULL,
	    XDR_VOID, NULL, tv) == RPC_SUCCESS ? 0 : -1;
}

/*
 * The size of a count() call and its reply on the wire: the RPC call
 * header (xid .. proc, AUTH_NONE credential and verifier: 40 bytes) and
 * the accepted-reply header (24 bytes), plus the XDR of the arguments
 * and of a typical result.
 */
void
measure_sizes(void)
{
	count_args	a;
	count_res	r;

	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	r.status = BART_OK;
	r.count_res_u.ok.text = (char *)(uintptr_t)
	    "I was called 123456 times.";
	B->call_bytes = 40 + xdr_sizeof((xdrproc_t)xdr_count_args, &a);
	B->reply_bytes = 24 + xdr_sizeof((xdrproc_t)xdr_count_res, &r);
}
