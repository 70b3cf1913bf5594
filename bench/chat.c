/* SPDX-License-Identifier: ISC */
/*
 * chat.c: chat fan-out (SEND to the last subscriber's DELIVER, with and
 * without one subscriber stopped) and the scale of state (CHAT_SINCE
 * latency and daemon RSS with 1k, 100k and 1M stored messages).
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "util.h"

#define FAN_MAX		100
#define FAN_SLOTS	1024		/* messages recorded per subscriber */
#define FAN_SECTION_NS	60000000000ull	/* one subscriber count's budget */
#define FAN_MISSES	3		/* misses in a row end the rounds */

struct fan_shm {
	uint64_t		base;		/* newest seq before round 1 */
	volatile int		quit;
	volatile int		ready[FAN_MAX];
	volatile uint64_t	recv[FAN_MAX][FAN_SLOTS];
};

static struct fan_shm	*fan;
static int		 fan_idx;
static volatile sig_atomic_t fan_term;

static void
fan_on_term(int sig)
{
	(void)sig;
	fan_term = 1;
}

/* The subscriber's callback program: note when each message arrived. */
static void
fan_dispatch(struct svc_req *rq, SVCXPRT *xprt)
{
	deliver_args	a;
	bart_res	r;
	uint64_t	t = now_ns(), k;
	u_int		i;

	if (rq->rq_proc == NULLPROC) {
		svc_sendreply(xprt, XDR_VOID, NULL);
		return;
	}
	memset(&a, 0, sizeof(a));
	if (rq->rq_proc != DELIVER || !svc_getargs(xprt,
	    (xdrproc_t)xdr_deliver_args, (char *)&a)) {
		svcerr_decode(xprt);
		svc_freeargs(xprt, (xdrproc_t)xdr_deliver_args, (char *)&a);
		return;
	}
	for (i = 0; i < a.msgs.msgs_len; i++) {
		k = a.msgs.msgs_val[i].seq - fan->base;
		if (k >= 1 && k <= FAN_SLOTS && fan->recv[fan_idx][k - 1] == 0)
			fan->recv[fan_idx][k - 1] = t;
	}
	r.status = BART_OK;
	svc_sendreply(xprt, (xdrproc_t)xdr_bart_res, (char *)&r);
	svc_freeargs(xprt, (xdrproc_t)xdr_deliver_args, (char *)&a);
}

static int
sub_call(CLIENT *cl, rpcproc_t proc, xdrproc_t xa, void *a, xdrproc_t xr,
    void *r)
{
	struct timeval	tv = { CALL_TIMEOUT_S, 0 };

	return clnt_call(cl, proc, xa, a, xr, r, tv) == RPC_SUCCESS ? 0 : -1;
}

/* One subscriber process: callback program, SUBSCRIBE, serve, leave. */
static void __attribute__((noreturn))
fan_child(int idx)
{
	struct sockaddr_in	 sin;
	struct netconfig	*nc;
	struct pollfd		 pf[16];
	chat_sub_args		 sa;
	chat_sub_res		 sr;
	chat_sub_ref		 ref;
	chat_renew_res		 rr;
	bart_res		 ur;
	SVCXPRT			*x;
	CLIENT			*cl;
	uint32_t		 prog;
	uint64_t		 next_renew = 0;
	int			 fd, t, n, r;

	fan_idx = idx;
	signal(SIGTERM, fan_on_term);
	if ((nc = getnetconfigent("tcp")) == NULL)
		_exit(1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 16) == -1 ||
	    (x = svc_tli_create(fd, nc, NULL, 0, 0)) == NULL)
		_exit(1);
	prog = BART_CB_PROG_MIN + ((uint32_t)getpid() * 7919u) % 0x1000000u;
	for (t = 0; t < 1000; t++, prog++)
		if (rpcb_set(prog, BART_CB_VERS, nc, &x->xp_ltaddr))
			break;
	if (t == 1000 || !svc_reg(x, prog, BART_CB_VERS, fan_dispatch, NULL))
		_exit(1);
	cl = rpc_client("tcp");
	memset(&sa, 0, sizeof(sa));
	memset(&sr, 0, sizeof(sr));
	sa.cb_prog = prog;
	sa.cb_vers = BART_CB_VERS;
	sa.last_seen = fan->base;
	if (sub_call(cl, CHAT_SUBSCRIBE, (xdrproc_t)xdr_chat_sub_args, &sa,
	    (xdrproc_t)xdr_chat_sub_res, &sr) == -1 || sr.status != BART_OK)
		_exit(2);
	ref.id = sr.chat_sub_res_u.ok.id;
	memcpy(ref.token, sr.chat_sub_res_u.ok.token, BART_TOKEN_LEN);
	while (!fan->quit && !fan_term && getppid() != 1) {
		if (!fan->ready[idx] && now_ns() >= next_renew) {
			memset(&rr, 0, sizeof(rr));
			if (sub_call(cl, CHAT_RENEW,
			    (xdrproc_t)xdr_chat_sub_ref, &ref,
			    (xdrproc_t)xdr_chat_renew_res, &rr) == 0 &&
			    rr.status == BART_OK &&
			    rr.chat_renew_res_u.state == SUB_ACTIVE)
				fan->ready[idx] = 1;
			next_renew = now_ns() + 20000000;
		}
		n = svc_max_pollfd < 16 ? svc_max_pollfd : 16;
		memcpy(pf, svc_pollfd, (size_t)n * sizeof(pf[0]));
		if ((r = poll(pf, (nfds_t)n, 20)) > 0)
			svc_getreq_poll(pf, r);
	}
	memset(&ur, 0, sizeof(ur));
	(void)sub_call(cl, CHAT_UNSUBSCRIBE, (xdrproc_t)xdr_chat_sub_ref,
	    &ref, (xdrproc_t)xdr_bart_res, &ur);
	rpcb_unset(prog, BART_CB_VERS, nc);
	_exit(0);
}

static uint64_t
newest_seq(CLIENT *cl)
{
	chat_since_args	a = { 0, 0 };
	chat_since_res	r;
	uint64_t	n = 0;

	memset(&r, 0, sizeof(r));
	if (sub_call(cl, CHAT_SINCE, (xdrproc_t)xdr_chat_since_args, &a,
	    (xdrproc_t)xdr_chat_since_res, &r) == 0 && r.status == BART_OK)
		n = r.chat_since_res_u.ok.newest;
	xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);
	return n;
}

static int
chat_send(CLIENT *cl, uint64_t *seq)
{
	chat_send_args	a;
	chat_send_res	r;
	int		rc = -1;

	rpc_reqid(&a.id);
	a.name = (char *)(uintptr_t)"bench";
	a.text = (char *)(uintptr_t)"fan-out probe";
	memset(&r, 0, sizeof(r));
	if (sub_call(cl, CHAT_SEND, (xdrproc_t)xdr_chat_send_args, &a,
	    (xdrproc_t)xdr_chat_send_res, &r) == 0 && r.status == BART_OK) {
		*seq = r.chat_send_res_u.seq;
		rc = 0;
	}
	xdr_free((xdrproc_t)xdr_chat_send_res, (char *)&r);
	return rc;
}

/*
 * ROUNDS messages, one at a time: SEND, then wait (at most 2 s) until
 * every active subscriber but SKIP has it; the latency is to the last
 * arrival.  Bounded: the rounds end at END, or after FAN_MISSES
 * misses in a row (a subscriber gone), never 2 s x ROUNDS.
 */
static void
fan_rounds(CLIENT *cl, int n, int skip, int rounds, uint64_t end,
    uint64_t *slot, struct samples *s, int *missed)
{
	uint64_t	t0, seq, k = 0, last, deadline;
	int		r, i, all, inrow = 0;

	for (r = 0; r < rounds && !over_time() && now_ns() < end &&
	    inrow < FAN_MISSES; r++) {
		t0 = now_ns();
		if (chat_send(cl, &seq) == -1)
			die("CHAT_SEND failed");
		k = seq - fan->base;
		if (k < 1 || k > FAN_SLOTS)
			die("unexpected message number %llu",
			    (unsigned long long)seq);
		deadline = t0 + 2000000000ull;
		do {
			for (i = 0, all = 1, last = 0; i < n; i++) {
				if (i == skip || !fan->ready[i])
					continue;
				if (fan->recv[i][k - 1] == 0)
					all = 0;
				else if (fan->recv[i][k - 1] > last)
					last = fan->recv[i][k - 1];
			}
			if (!all)
				usleep(50);
		} while (!all && now_ns() < deadline);
		if (all) {
			samples_add(s, (double)(last - t0) / 1000.0);
			inrow = 0;
		} else {
			(*missed)++;
			inrow++;
		}
		usleep(2000);		/* let the threads go back to sleep */
	}
	*slot = k;
}

static void
fan_report(int n, const char *what, struct samples *s, int missed)
{
	char	fig[64];

	say("%-10d %-14s %6zu %9.0f %9.0f %9.0f %7d\n", n, what, s->n,
	    samples_pct(s, 50), samples_pct(s, 99), samples_pct(s, 100),
	    missed);
	snprintf(fig, sizeof(fig), "fanout.%d.%s.p50", n, what);
	tsv(fig, samples_pct(s, 50), "us");
	snprintf(fig, sizeof(fig), "fanout.%d.%s.p99", n, what);
	tsv(fig, samples_pct(s, 99), "us");
}

void
bench_fanout(void)
{
	static const int	 ns[] = { 1, 10, 20, 100 };
	struct samples		 s0, s1;
	pid_t			 pid[FAN_MAX];
	CLIENT			*cl;
	uint64_t		 slot, deadline, end;
	size_t			 z;
	int			 n, i, ready, m0, m1, rounds = B->p.fan_rounds;

	say("\n== 5. chat fan-out: SEND to the last subscriber's DELIVER, "
	    "%d messages each\n", rounds);
	say("%-10s %-14s %6s %9s %9s %9s %7s\n", "subscrs", "case", "msgs",
	    "p50 us", "p99 us", "max us", "missed");
	/*
	 * ORDER: before the subscribers: 100 SUBSCRIBEs at once from one
	 * uid are past the default --sub-rate burst (40), as fansim knows,
	 * and their 100 connections past --max-conns-per-peer (64).
	 */
	svc_stop();
	B->svc_args[0] = "--sub-rate";
	B->svc_args[1] = "1000000";
	B->svc_args[2] = "--chat-rate";	/* 1,400 messages, one sender */
	B->svc_args[3] = "0";
	B->svc_args[4] = "--max-conns-per-peer";	/* one each, one uid */
	B->svc_args[5] = "1000";
	B->svc_args[6] = NULL;
	if (svc_start() == -1)
		die("bart_svc did not start; log in %s", B->svclog);
	fan = shared_alloc(sizeof(*fan));
	cl = rpc_client("local");
	for (z = 0; z < sizeof(ns) / sizeof(ns[0]) && !over_time(); z++) {
		n = ns[z];
		memset((void *)fan, 0, sizeof(*fan));
		fan->base = newest_seq(cl);
		for (i = 0; i < n; i++) {
			if ((pid[i] = fork()) == -1)
				die("fork");
			if (pid[i] == 0)
				fan_child(i);
			child_track(pid[i]);
		}
		deadline = now_ns() + 15000000000ull;
		do {
			for (i = 0, ready = 0; i < n; i++)
				ready += fan->ready[i];
			usleep(10000);
		} while (ready < n && now_ns() < deadline);
		if (ready < n)
			say("(only %d of %d subscribers active: timing those)\n",
			    ready, n);
		end = now_ns() + FAN_SECTION_NS;
		samples_init(&s0, (size_t)rounds);
		samples_init(&s1, (size_t)rounds);
		m0 = m1 = 0;
		if (2 * rounds + 2 > FAN_SLOTS)
			die("too many rounds");
		fan_rounds(cl, n, -1, rounds, end, &slot, &s0, &m0);
		fan_report(n, "all", &s0, m0);
		if (n > 1) {
			kill(pid[0], SIGSTOP);
			usleep(10000);
			fan_rounds(cl, n, 0, rounds, end, &slot, &s1, &m1);
			kill(pid[0], SIGCONT);
			fan_report(n, "one_stopped", &s1, m1);
			if (samples_pct(&s0, 99) > 0)
				tsv(n == 100 ? "fanout.100.stopped_p99_ratio" :
				    n == 10 ? "fanout.10.stopped_p99_ratio" :
				    "fanout.x.stopped_p99_ratio",
				    samples_pct(&s1, 99) /
				    samples_pct(&s0, 99), "x");
		}
		fan->quit = 1;
		for (i = 0; i < n; i++)
			child_stop(pid[i]);
		samples_free(&s0);
		samples_free(&s1);
	}
	clnt_destroy(cl);
	shared_free(fan, sizeof(*fan));
	fan = NULL;
	svc_stop();
	B->svc_args[0] = NULL;
	if (svc_start() == -1)
		die("bart_svc did not restart; log in %s", B->svclog);
}

/* ---- fan-out at scale, with simulated subscribers (bart_subsim) ---- */

/*
 * The simulators: sim_main processes share 90% of the subscribers (from
 * 127.0.0.10, 8 loopback addresses in all), and one more holds 10% (on
 * 127.0.0.40-41), the one SIGSTOPped for the stopped case.  How many
 * share the 90% (FANSIM_SIMS, 1 to 4, default 2) and their nice value
 * (FANSIM_NICE, default 0) come from the environment, to compare.
 */
#define SIM_MAX		4
static int	sim_main = 2, sim_all = 3, sim_nice;

struct sim {
	pid_t	 pid;
	int	 in;		/* its stdin: closing it makes it leave */
	int	 out;		/* its stdout, read in lines */
	char	 buf[8192];
	size_t	 len;
	int	 n;
};

/* The next line of M's output within MS ms: 0, or -1. */
static int
sim_getline(struct sim *m, char *line, size_t size, uint64_t end)
{
	struct pollfd	 pf;
	char		*nl;
	ssize_t		 r;
	size_t		 k;
	uint64_t	 now;

	for (;;) {
		if ((nl = memchr(m->buf, '\n', m->len)) != NULL) {
			k = (size_t)(nl - m->buf);
			snprintf(line, size, "%.*s", (int)k, m->buf);
			memmove(m->buf, nl + 1, m->len - k - 1);
			m->len -= k + 1;
			return 0;
		}
		if (m->len == sizeof(m->buf))
			m->len = 0;		/* an absurd line: drop it */
		if ((now = now_ns()) >= end)
			return -1;
		pf.fd = m->out;
		pf.events = POLLIN;
		if (poll(&pf, 1, (int)((end - now) / 1000000) + 1) <= 0)
			return -1;
		if ((r = read(m->out, m->buf + m->len,
		    sizeof(m->buf) - m->len)) <= 0)
			return -1;
		m->len += (size_t)r;
	}
}

static void
sim_start(struct sim *m, int n, int naddrs, int first)
{
	char	bin[PATH_MAX + 16], sn[16], sa[16], sf[16];
	int	pin[2], pout[2];

	snprintf(bin, sizeof(bin), "%s/bart_subsim", B->bindir);
	snprintf(sn, sizeof(sn), "%d", n);
	snprintf(sa, sizeof(sa), "%d", naddrs);
	snprintf(sf, sizeof(sf), "%d", first);
	if (pipe2(pin, O_CLOEXEC) == -1 || pipe2(pout, O_CLOEXEC) == -1)
		die("pipe");
	if ((m->pid = fork()) == -1)
		die("fork");
	if (m->pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		close(pin[1]);
		close(pout[0]);
		execl(bin, "bart_subsim", "-n", sn, "-A", sa, "-B", sf,
		    "-t", "120", (char *)NULL);
		_exit(127);
	}
	child_track(m->pid);
	close(pin[0]);
	close(pout[1]);
	m->in = pin[1];
	m->out = pout[0];
	m->len = 0;
	m->n = n;
}

/*
 * Read M's lines until one starts with WHAT (and, for "got", is SEQ):
 * *US the latency of the last subscriber to take the message in, *ARR
 * that of the latest DELIVER's arrival in the kernel (0 if not told).
 */
static int
sim_line(struct sim *m, const char *what, uint64_t seq, int ms, double *us,
    double *arr)
{
	char			line[256];
	unsigned long long	s;
	uint64_t		end = now_ns() + (uint64_t)ms * 1000000;
	double			v, w = 0;
	int			k;

	while (sim_getline(m, line, sizeof(line), end) == 0) {
		if (strncmp(line, what, strlen(what)) != 0)
			continue;
		if (seq == 0)
			return 0;
		if ((k = sscanf(line, "got %llu %lf %lf", &s, &v, &w)) >= 2 &&
		    s == seq) {
			*us = v;
			*arr = k == 3 ? w : 0;
			return 0;
		}
	}
	return -1;
}

static void
sim_stop(struct sim *m)
{
	uint64_t	end;
	int		st;

	close(m->in);
	end = now_ns() + 30000000000ull;	/* it unsubscribes first */
	while (waitpid(m->pid, &st, WNOHANG) == 0 && now_ns() < end)
		usleep(20000);
	child_stop(m->pid);
	close(m->out);
}

static long
svc_status(const char *key)
{
	char	path[64], line[256];
	FILE	*f;
	long	v = -1;
	size_t	k = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)B->svc_pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, k) == 0 && line[k] == ':') {
			v = strtol(line + k + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* CPU the daemon has used, ns, summed over its threads (schedstat). */
static uint64_t
svc_cpu_all_ns(void)
{
	char			 path[300];
	unsigned long long	 ns, sum = 0;
	struct dirent		*d;
	DIR			*dir;
	FILE			*f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)B->svc_pid);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat",
		    (int)B->svc_pid, d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(dir);
	return sum;
}

static int
send_stamped(CLIENT *cl, uint64_t *seq)
{
	chat_send_args	a;
	chat_send_res	r;
	char		text[48];
	int		rc = -1;

	rpc_reqid(&a.id);
	a.name = (char *)(uintptr_t)"bench";
	snprintf(text, sizeof(text), "t=%llu", (unsigned long long)now_ns());
	a.text = text;
	memset(&r, 0, sizeof(r));
	if (sub_call(cl, CHAT_SEND, (xdrproc_t)xdr_chat_send_args, &a,
	    (xdrproc_t)xdr_chat_send_res, &r) == -1)
		fprintf(stderr, "bart_bench: CHAT_SEND: no answer\n");
	else if (r.status != BART_OK)
		fprintf(stderr, "bart_bench: CHAT_SEND: %s\n",
		    util_status_str(r.status));
	else {
		*seq = r.chat_send_res_u.seq;
		rc = 0;
	}
	xdr_free((xdrproc_t)xdr_chat_send_res, (char *)&r);
	return rc;
}

/* CPU a single-threaded process has used, ns (schedstat). */
static uint64_t
pid_cpu_ns(pid_t pid)
{
	char			path[64];
	unsigned long long	ns = 0;
	FILE			*f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

static uint64_t
sims_cpu_ns(const struct sim *m)
{
	uint64_t	sum = 0;
	int		i;

	for (i = 0; i < sim_all; i++)
		sum += pid_cpu_ns(m[i].pid);
	return sum;
}

/*
 * ROUNDS messages, one at a time: the latency of each is the slowest
 * subscriber's, from the send time each message carries.  With
 * STOPPED, the last simulator (10% of the subscribers) is stopped.
 * Bounded: 10 s per message, and 3 misses in a row end the rounds.
 */
static void
fansim_rounds(CLIENT *cl, struct sim *m, int stopped, int rounds,
    struct samples *s, struct samples *sa, int *missed)
{
	uint64_t	seq;
	double		a, b, worst, worsta;
	int		r, i, miss, inrow = 0;

	for (r = 0; r < rounds && !over_time() && inrow < FAN_MISSES; r++) {
		if (send_stamped(cl, &seq) == -1)
			die("CHAT_SEND failed");
		worst = worsta = 0;
		miss = 0;
		for (i = 0; i < sim_all - (stopped != 0) && !miss; i++) {
			if (sim_line(&m[i], "got", seq, 10000, &a, &b) == -1)
				miss = 1;
			else {
				if (a > worst)
					worst = a;
				if (b > worsta)
					worsta = b;
			}
		}
		if (miss) {
			(*missed)++;
			inrow++;
			continue;
		}
		inrow = 0;
		samples_add(s, worst);
		samples_add(sa, worsta);
		usleep(5000);
	}
}

void
bench_fansim(void)
{
	static const int	 ns[] = { 100, 1000, 10000 };
	static char		 cap[16];
	struct samples		 s0, s1, a0, a1;
	struct sim		 m[SIM_MAX + 1];
	const char		*e;
	CLIENT			*cl;
	uint64_t		 t0;
	char			 fig[64];
	size_t			 z;
	long			 thr, rss, rss1;
	uint64_t		 cpu0, scpu0;
	double			 cpu, scpu;
	int			 n, i, k, rounds, m0, m1;

	if ((e = getenv("FANSIM_SIMS")) != NULL && atoi(e) >= 1 &&
	    atoi(e) <= SIM_MAX)
		sim_main = atoi(e);
	sim_all = sim_main + 1;
	if ((e = getenv("FANSIM_NICE")) != NULL)
		sim_nice = atoi(e);
	say("\n== 8. chat fan-out at scale: %s subscribers simulated by "
	    "bart_subsim (90%% in %d processes, 10%% in one more), SEND to "
	    "the last DELIVER; cpu/msg: the daemon's CPU per message (all "
	    "threads), sim/msg the simulators' (all of them); arr: the same "
	    "to the last DELIVER's arrival in the kernel (SO_TIMESTAMPNS), "
	    "without the simulators' own queue\n",
	    B->p.quick ? "100 / 1,000" : "100 / 1,000 / 10,000", sim_main);
	if (sim_nice != 0)
		say("(simulators at nice %d)\n", sim_nice);
	say("%-8s %-12s %5s %9s %9s %9s %9s %9s %7s %8s %9s %8s %9s %9s\n",
	    "subscrs", "case", "msgs", "p50 us", "p99 us", "max us",
	    "arr p50", "arr p99", "missed", "threads", "RSS KiB", "setup s",
	    "cpu/msg", "sim/msg");
	svc_stop();
	snprintf(cap, sizeof(cap), "%d", 12000);
	B->svc_args[0] = "--max-subs";
	B->svc_args[1] = cap;
	B->svc_args[2] = "--max-subs-per-peer";
	B->svc_args[3] = cap;
	B->svc_args[4] = "--sub-rate";
	B->svc_args[5] = "1000000";
	/* One sender, as fast as the fan-out goes: past the chat rate. */
	B->svc_args[6] = "--chat-rate";
	B->svc_args[7] = "0";
	B->svc_args[8] = NULL;
	if (svc_start() == -1)
		die("bart_svc did not start; log in %s", B->svclog);
	cl = rpc_client("tcp");
	for (z = 0; z < sizeof(ns) / sizeof(ns[0]) && !over_time(); z++) {
		n = ns[z];
		if (B->p.quick && n > 1000)
			break;
		rounds = n >= 10000 ? (B->p.quick ? 10 : 40) :
		    (B->p.quick ? 30 : 100);
		t0 = now_ns();
		for (i = 0, k = n - n / 10; i < sim_main; i++)
			sim_start(&m[i], k / sim_main + (i < k % sim_main),
			    8 / sim_main, 10 + 8 / sim_main * i);
		sim_start(&m[sim_main], n / 10, 2, 40);
		for (i = 0; i < sim_all; i++) {
			if (sim_nice != 0)
				setpriority(PRIO_PROCESS, (id_t)m[i].pid,
				    sim_nice);
		}
		for (i = 0; i < sim_all; i++)
			if (sim_line(&m[i], "ready", 0, 150000, NULL, NULL) ==
			    -1)
				die("simulated subscribers not ready");
		thr = svc_status("Threads");
		rss = svc_status("VmRSS");
		samples_init(&s0, (size_t)rounds);
		samples_init(&s1, (size_t)rounds);
		samples_init(&a0, (size_t)rounds);
		samples_init(&a1, (size_t)rounds);
		m0 = m1 = 0;
		cpu0 = svc_cpu_all_ns();
		scpu0 = sims_cpu_ns(m);
		fansim_rounds(cl, m, 0, rounds, &s0, &a0, &m0);
		cpu = s0.n > 0 ? (double)(svc_cpu_all_ns() - cpu0) / 1e6 /
		    (double)s0.n : 0;
		scpu = s0.n > 0 ? (double)(sims_cpu_ns(m) - scpu0) / 1e6 /
		    (double)s0.n : 0;
		rss1 = svc_status("VmRSS");
		if (rss1 > rss)
			rss = rss1;
		say("%-8d %-12s %5zu %9.0f %9.0f %9.0f %9.0f %9.0f %7d %8ld "
		    "%9ld %8.1f %6.2f ms %6.2f ms\n", n, "all", s0.n,
		    samples_pct(&s0, 50), samples_pct(&s0, 99),
		    samples_pct(&s0, 100), samples_pct(&a0, 50),
		    samples_pct(&a0, 99), m0, thr, rss,
		    (double)(now_ns() - t0) / 1e9, cpu, scpu);
		kill(m[sim_main].pid, SIGSTOP);
		fansim_rounds(cl, m, 1, rounds, &s1, &a1, &m1);
		say("%-8d %-12s %5zu %9.0f %9.0f %9.0f %9.0f %9.0f %7d %8ld "
		    "%9ld\n", n, "10%_stopped", s1.n, samples_pct(&s1, 50),
		    samples_pct(&s1, 99), samples_pct(&s1, 100),
		    samples_pct(&a1, 50), samples_pct(&a1, 99), m1,
		    svc_status("Threads"), svc_status("VmRSS"));
		kill(m[sim_main].pid, SIGCONT);
		snprintf(fig, sizeof(fig), "fansim.%d.all.p50", n);
		tsv(fig, samples_pct(&s0, 50), "us");
		snprintf(fig, sizeof(fig), "fansim.%d.all.p99", n);
		tsv(fig, samples_pct(&s0, 99), "us");
		snprintf(fig, sizeof(fig), "fansim.%d.stopped.p99", n);
		tsv(fig, samples_pct(&s1, 99), "us");
		snprintf(fig, sizeof(fig), "fansim.%d.all.arr_p99", n);
		tsv(fig, samples_pct(&a0, 99), "us");
		snprintf(fig, sizeof(fig), "fansim.%d.stopped.arr_p99", n);
		tsv(fig, samples_pct(&a1, 99), "us");
		snprintf(fig, sizeof(fig), "fansim.%d.cpu_per_msg", n);
		tsv(fig, cpu, "ms");
		snprintf(fig, sizeof(fig), "fansim.%d.sim_cpu_per_msg", n);
		tsv(fig, scpu, "ms");
		snprintf(fig, sizeof(fig), "fansim.%d.threads", n);
		tsv(fig, (double)thr, "threads");
		snprintf(fig, sizeof(fig), "fansim.%d.rss", n);
		tsv(fig, (double)rss, "KiB");
		for (i = sim_all - 1; i >= 0; i--)
			sim_stop(&m[i]);
		samples_free(&s0);
		samples_free(&s1);
		samples_free(&a0);
		samples_free(&a1);
	}
	clnt_destroy(cl);
	svc_stop();
	B->svc_args[0] = NULL;
	if (svc_start() == -1)
		die("bart_svc did not restart; log in %s", B->svclog);
}

/* ---- scale of state ---- */

/* Top the stopped daemon's store up to TOTAL messages, in one commit. */
static int
fill_store(long total)
{
	char		 path[PATH_MAX + 16];
	sqlite3		*db;
	sqlite3_stmt	*st = NULL, *q = NULL;
	long		 have = 0, i;
	int		 rc = -1;

	snprintf(path, sizeof(path), "%s/bart.db", B->state);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(seq), 0) FROM msgs",
	    -1, &q, NULL) != SQLITE_OK || sqlite3_step(q) != SQLITE_ROW)
		goto out;
	have = (long)sqlite3_column_int64(q, 0);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO msgs (seq, time, name, host, "
	    "text) VALUES (?1, ?2, 'filler', '127.0.0.1', "
	    "'a stored message of ordinary length, for the scale test')",
	    -1, &st, NULL) != SQLITE_OK)
		goto out;
	for (i = have + 1; i <= total; i++) {
		sqlite3_bind_int64(st, 1, i);
		sqlite3_bind_int64(st, 2, 1700000000 + i);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto out;
		sqlite3_reset(st);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		rc = 0;
out:
	sqlite3_finalize(q);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* Read the newest 100 as `history -n 100` does: two CHAT_SINCE calls. */
static int
newest_100(CLIENT *cl, uint64_t newest)
{
	chat_since_args	a;
	chat_since_res	r;
	u_int		got = 0;

	a.seq = newest > 100 ? newest - 100 : 0;
	while (got < 100) {
		a.max = 100 - got > BART_BATCH_MAX ? BART_BATCH_MAX :
		    100 - got;
		memset(&r, 0, sizeof(r));
		if (sub_call(cl, CHAT_SINCE, (xdrproc_t)xdr_chat_since_args,
		    &a, (xdrproc_t)xdr_chat_since_res, &r) == -1 ||
		    r.status != BART_OK ||
		    r.chat_since_res_u.ok.msgs.msgs_len == 0) {
			xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);
			return -1;
		}
		got += r.chat_since_res_u.ok.msgs.msgs_len;
		a.seq = r.chat_since_res_u.ok.msgs.msgs_val[
		    r.chat_since_res_u.ok.msgs.msgs_len - 1].seq;
		xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);
	}
	return 0;
}

void
bench_scale(void)
{
	struct samples	 s;
	CLIENT		*cl;
	uint64_t	 t0, newest;
	long		 rss;
	double		 fill_s;
	char		 fig[64];
	int		 k, i;

	say("\n== 6. scale of state: newest 100 messages (2 CHAT_SINCE "
	    "calls, local), %d queries\n", B->p.scale_queries);
	say("%-10s %9s %9s %9s %10s %9s\n", "messages", "p50 us", "p99 us",
	    "fill s", "RSS KiB", "RSS MiB");
	for (k = 0; k < 3 && !over_time(); k++) {
		svc_stop();
		t0 = now_ns();
		if (fill_store(B->p.scale_steps[k]) == -1)
			die("cannot fill the store");
		fill_s = since_us(t0) / 1e6;
		if (svc_start() == -1)
			die("bart_svc did not restart with %ld messages",
			    B->p.scale_steps[k]);
		cl = rpc_client("local");
		newest = newest_seq(cl);
		samples_init(&s, (size_t)B->p.scale_queries);
		for (i = 0; i < 20; i++)
			(void)newest_100(cl, newest);
		for (i = 0; i < B->p.scale_queries; i++) {
			t0 = now_ns();
			if (newest_100(cl, newest) == -1)
				die("CHAT_SINCE failed");
			samples_add(&s, since_us(t0));
		}
		rss = svc_rss_kb();
		say("%-10ld %9.0f %9.0f %9.1f %10ld %9.1f\n",
		    B->p.scale_steps[k], samples_pct(&s, 50),
		    samples_pct(&s, 99), fill_s, rss, (double)rss / 1024);
		snprintf(fig, sizeof(fig), "scale.%ld.since100.p50",
		    B->p.scale_steps[k]);
		tsv(fig, samples_pct(&s, 50), "us");
		snprintf(fig, sizeof(fig), "scale.%ld.rss", B->p.scale_steps[k]);
		tsv(fig, (double)rss, "KiB");
		samples_free(&s);
		clnt_destroy(cl);
	}
}
