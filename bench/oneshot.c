/* SPDX-License-Identifier: ISC */
/*
 * oneshot.c: what one `bart_clnt localhost count 1` costs as a whole
 * process (fork + exec + loading + lookup + call + exit) next to
 * /bin/true run the same way, and where that time goes.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <netdb.h>
#include <rpc/rpc.h>
#include <rpc/rpcb_prot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAX_ARGV	8

struct variant {
	const char	*name;
	const char	*fig;
	const char	*argv[MAX_ARGV];
	int		 minor;		/* fewer runs */
	struct samples	 s;
	int		 fails;
};

/* Wall time of one whole process, in us; -1 if it failed. */
static double
spawn(const char *const *argv)
{
	uint64_t	t0 = now_ns();
	pid_t		pid;
	int		st, fd;

	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return since_us(t0);
}

static double
median_of(double (*fn)(void), int n)
{
	struct samples	s;
	double		m;
	int		i;

	samples_init(&s, (size_t)n);
	for (i = 0; i < n; i++)
		samples_add(&s, fn());
	m = samples_pct(&s, 50);
	samples_free(&s);
	return m;
}

static double
step_lookup(void)
{
	struct addrinfo	 hints, *res = NULL;
	uint64_t	 t0 = now_ns();

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo("localhost", NULL, &hints, &res) == 0)
		freeaddrinfo(res);
	return since_us(t0);
}

static double
bind_one(int resv)
{
	struct sockaddr_in	sin;
	uint64_t		t0 = now_ns();
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (resv)
		(void)bindresvport(fd, &sin);
	else
		(void)bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return since_us(t0);
}

static double
step_resv(void)
{
	return bind_one(1);
}

static double
step_port0(void)
{
	return bind_one(0);
}

/* rpcb_getaddr() as a stock client does it: lookup, socket, GETADDR. */
static double
getaddr_with(const char *netid)
{
	struct netconfig	*nc = getnetconfigent(netid);
	struct sockaddr_storage	 ss;
	struct netbuf		 nb;
	uint64_t		 t0 = now_ns();

	nb.buf = &ss;
	nb.maxlen = sizeof(ss);
	nb.len = 0;
	if (nc == NULL || !rpcb_getaddr(BART_PROG, BART_VERS, nc, &nb,
	    "localhost"))
		die("rpcb_getaddr %s", netid);
	freenetconfigent(nc);
	return since_us(t0);
}

static double
step_getaddr_udp(void)
{
	return getaddr_with("udp");
}

static double
step_getaddr_local(void)
{
	return getaddr_with("local");
}

/* Connect to the daemon's AF_UNIX socket and make one count() call. */
static double
step_local_call(void)
{
	struct sockaddr_un	sun;
	struct netbuf		nb;
	uint64_t		t0 = now_ns();
	CLIENT			*cl;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(B->sock) >= sizeof(sun.sun_path))
		die("socket path too long");
	memcpy(sun.sun_path, B->sock, strlen(B->sock) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("connect %s", B->sock);
	nb.buf = &sun;
	nb.len = nb.maxlen = sizeof(sun);
	if ((cl = clnt_vc_create(fd, &nb, BART_PROG, BART_VERS, 0, 0)) ==
	    NULL)
		die("clnt_vc_create");
	if (rpc_count(cl, 1, 1, NULL) == -1)
		die("count over a fresh local connection");
	clnt_destroy(cl);
	close(fd);
	return since_us(t0);
}

void
bench_oneshot(void)
{
	char		 clnt[PATH_MAX + 16], label[4][32];
	struct variant	 v[6 + 4] = {
		{ "/bin/true", "oneshot.true", { "/bin/true" }, 0, {0}, 0 },
		{ "bart_clnt localhost count 1", "oneshot.count",
		    { clnt, "localhost", "count", "1" }, 0, {0}, 0 },
		{ "bart_clnt -V (exec+load)", "oneshot.version",
		    { clnt, "-V" }, 1, {0}, 0 },
		{ "  -T local ... count 1", "oneshot.count_local",
		    { clnt, "-T", "local", "localhost", "count", "1" }, 1,
		    {0}, 0 },
		{ "  -T udp ... count 1", "oneshot.count_udp",
		    { clnt, "-T", "udp", "localhost", "count", "1" }, 1,
		    {0}, 0 },
		{ "  -T tcp ... count 1", "oneshot.count_tcp",
		    { clnt, "-T", "tcp", "localhost", "count", "1" }, 1,
		    {0}, 0 },
	};
	int		 nv = 6;
	double		 us, t_true, t_ver, x;
	char		 fig[64];
	int		 i, k, j;

	snprintf(clnt, sizeof(clnt), "%s/bart_clnt", B->bindir);
	/* -e LABEL=PATH: other builds of bart_clnt, side by side. */
	for (i = 0; i < B->nextra; i++, nv++) {
		memset(&v[nv], 0, sizeof(v[nv]));
		snprintf(label[i], sizeof(label[i]), "  %.*s", (int)(strchr(
		    B->extra[i], '=') - B->extra[i]), B->extra[i]);
		v[nv].name = label[i];
		v[nv].fig = "oneshot.extra";
		v[nv].argv[0] = strchr(B->extra[i], '=') + 1;
		v[nv].argv[1] = "localhost";
		v[nv].argv[2] = "count";
		v[nv].argv[3] = "1";
	}
	say("\n== 4. one-shot process cost (fork+exec+call+exit), median "
	    "wall time\n");
	for (k = 0; k < nv; k++)
		samples_init(&v[k].s, (size_t)B->p.oneshot_runs);
	/* Warm the page cache and the daemon. */
	for (k = 0; k < nv; k++)
		(void)spawn(v[k].argv);
	for (i = 0; i < B->p.oneshot_runs && !over_time(); i++) {
		for (j = 0; j < nv; j++) {
			k = (i + j) % nv;	/* rotate the order */
			if (v[k].minor && i >= B->p.oneshot_minor)
				continue;
			if ((us = spawn(v[k].argv)) < 0)
				v[k].fails++;
			else
				samples_add(&v[k].s, us);
		}
	}
	t_true = samples_pct(&v[0].s, 50);
	say("%-30s %6s %9s %9s %9s %9s\n", "command", "runs", "p50 us",
	    "p90 us", "x true", "failed");
	for (k = 0; k < nv; k++) {
		x = samples_pct(&v[k].s, 50);
		say("%-30s %6zu %9.0f %9.0f %8.2fx %9d\n", v[k].name, v[k].s.n,
		    x, samples_pct(&v[k].s, 90), t_true > 0 ? x / t_true : 0,
		    v[k].fails);
		if (k >= 6) {		/* -e variants: by their label */
			snprintf(fig, sizeof(fig), "oneshot.extra.%s.p50",
			    v[k].name + 2);
			tsv(fig, x, "us");
			snprintf(fig, sizeof(fig), "oneshot.extra.%s.ratio_true",
			    v[k].name + 2);
			tsv(fig, t_true > 0 ? x / t_true : 0, "x");
			continue;
		}
		snprintf(fig, sizeof(fig), "%s.p50", v[k].fig);
		tsv(fig, x, "us");
		snprintf(fig, sizeof(fig), "%s.ratio_true", v[k].fig);
		tsv(fig, t_true > 0 ? x / t_true : 0, "x");
	}
	t_ver = samples_pct(&v[2].s, 50);

	say("where one-shot time goes (in-process medians, us):\n");
#define STEP(label, fig, val) do { double _v = (val); \
	say("  %-52s %8.1f\n", label, _v); tsv(fig, _v, "us"); } while (0)
	STEP("exec + dynamic loading (bart_clnt -V minus /bin/true)",
	    "oneshot.step.load", t_ver - t_true);
	STEP("name lookup: getaddrinfo(\"localhost\")",
	    "oneshot.step.lookup", median_of(step_lookup, 200));
	STEP("rpcb_getaddr(local) as a stock client does it",
	    "oneshot.step.getaddr_local", median_of(step_getaddr_local, 200));
	STEP("rpcb_getaddr(udp): lookup + reserved port + GETADDR",
	    "oneshot.step.getaddr_udp", median_of(step_getaddr_udp, 100));
	STEP("socket + bindresvport (root: reserved port)",
	    "oneshot.step.bindresvport", median_of(step_resv, 100));
	STEP("socket + bind port 0 (what bart_clnt does)",
	    "oneshot.step.bind0", median_of(step_port0, 200));
	STEP("connect AF_UNIX + CLIENT + count(1) + destroy",
	    "oneshot.step.local_call", median_of(step_local_call, 200));
#undef STEP
	for (k = 0; k < nv; k++)
		samples_free(&v[k].s);
}
