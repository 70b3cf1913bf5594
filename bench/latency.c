/* SPDX-License-Identifier: ISC */
/*
 * latency.c: count() against the floor on each transport, concurrency,
 * and the cost of the duplicate-request cache and request identities.
 * Floor and bart series run in interleaved blocks, so that noise on
 * this shared machine hits both alike; ratios come from one run.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

enum { S_FLOOR, S_NULL, S_COUNT, S_MAX };
static const char *const series_name[S_MAX] = { "floor", "null", "count" };

static void
print_head(void)
{
	say("%-22s %8s %8s %8s %8s %8s %9s %7s\n", "series", "p50", "p90",
	    "p99", "p99.9", "max", "calls/s", "x floor");
}

static void
print_row(const char *name, const char *fig, struct samples *s,
    double floor_p50)
{
	struct summary	m;
	char		key[128];

	samples_sum(s, &m);
	say("%-22s %8.1f %8.1f %8.1f %8.1f %8.0f %9.0f", name, m.p50, m.p90,
	    m.p99, m.p999, m.max, m.mean > 0 ? 1e6 / m.mean : 0);
	if (floor_p50 > 0)
		say(" %6.2fx\n", m.p50 / floor_p50);
	else
		say(" %7s\n", "-");
#define T(suffix, v, u) do { \
	snprintf(key, sizeof(key), "%s.%s", fig, suffix); \
	tsv(key, v, u); } while (0)
	T("p50", m.p50, "us");
	T("p90", m.p90, "us");
	T("p99", m.p99, "us");
	T("p99.9", m.p999, "us");
	T("max", m.max, "us");
	T("calls_per_s", m.mean > 0 ? 1e6 / m.mean : 0, "1/s");
	if (floor_p50 > 0)
		T("ratio_floor_p50", m.p50 / floor_p50, "x");
#undef T
}

static int
one_call(int series, struct echo *e, int efd, const char *kind,
    CLIENT *cl)
{
	switch (series) {
	case S_FLOOR:
		return echo_call(e, efd, kind);
	case S_NULL:
		return rpc_null(cl);
	default:
		return rpc_count(cl, 1, 1, NULL);
	}
}

/* Floor, NULLPROC and count(1) on tcp, udp and local, interleaved. */
void
bench_latency(void)
{
	struct samples	 s[3][S_MAX], *ps[S_MAX];
	const char	*names[S_MAX];
	struct echo	*e;
	CLIENT		*cl[3];
	struct svg	*g;
	char		 name[64], fig[64], path[PATH_MAX + 16];
	int		 efd[3], t, k, i, b, nblocks, first;
	uint64_t	 t0, cpu[3][S_MAX];

	say("\n== 1-2. latency, us: floor (raw ping-pong, %zu/%zu bytes "
	    "like count) vs bart\n", B->call_bytes, B->reply_bytes);
	memset(cpu, 0, sizeof(cpu));
	e = echo_start(B->call_bytes, B->reply_bytes);
	for (t = 0; t < 3; t++) {
		efd[t] = echo_connect(e, xport_name[t]);
		cl[t] = rpc_client(xport_name[t]);
		for (k = 0; k < S_MAX; k++)
			samples_init(&s[t][k], (size_t)B->p.calls);
		for (i = 0; i < B->p.warmup; i++)
			for (k = 0; k < S_MAX; k++)
				if (one_call(k, e, efd[t], xport_name[t],
				    cl[t]) == -1)
					die("warm-up call failed (%s %s)",
					    series_name[k], xport_name[t]);
	}
	nblocks = B->p.calls / B->p.block;
	for (b = 0; b < nblocks && !over_time(); b++) {
		for (t = 0; t < 3; t++) {
			/* Rotate which series goes first in each block. */
			first = (b + t) % S_MAX;
			for (k = 0; k < S_MAX; k++) {
				int		sk = (first + k) % S_MAX;
				uint64_t	c0 = svc_cpu_ns();

				for (i = 0; i < B->p.block; i++) {
					t0 = now_ns();
					if (one_call(sk, e, efd[t],
					    xport_name[t], cl[t]) == -1)
						die("call failed (%s %s)",
						    series_name[sk],
						    xport_name[t]);
					samples_add(&s[t][sk], since_us(t0));
				}
				cpu[t][sk] += svc_cpu_ns() - c0;
			}
		}
	}
	say("%d calls per series after %d warm-up, blocks of %d\n",
	    nblocks * B->p.block, B->p.warmup, B->p.block);
	print_head();
	for (t = 0; t < 3; t++) {
		B->floor_p50[t] = samples_pct(&s[t][S_FLOOR], 50);
		for (k = 0; k < S_MAX; k++) {
			snprintf(name, sizeof(name), "%s %s",
			    k == S_COUNT ? "count(1)" : series_name[k],
			    xport_name[t]);
			snprintf(fig, sizeof(fig), "lat.%s.%s", series_name[k],
			    xport_name[t]);
			print_row(name, fig, &s[t][k], k == S_FLOOR ? 0 :
			    B->floor_p50[t]);
		}
		B->count_p50[t] = samples_pct(&s[t][S_COUNT], 50);
	}
	/* Less noisy than latency on a shared machine: daemon CPU. */
	say("bart_svc CPU time per call, us (all threads):");
	for (t = 0; t < 3; t++)
		for (k = S_NULL; k < S_MAX; k++) {
			double	us = s[t][k].n ? (double)cpu[t][k] / 1000.0 /
			    (double)s[t][k].n : 0;

			say(" %s %s %.1f%s", series_name[k], xport_name[t], us,
			    k == S_COUNT && t < 2 ? ";" : "");
			snprintf(fig, sizeof(fig), "lat.%s.%s.svc_cpu_per_call",
			    series_name[k], xport_name[t]);
			tsv(fig, us, "us");
		}
	say("\n");
	snprintf(path, sizeof(path), "%s/latency.svg", B->outdir);
	if ((g = svg_open(path, 3)) != NULL) {
		for (t = 0; t < 3; t++) {
			for (k = 0; k < S_MAX; k++) {
				ps[k] = &s[t][k];
				names[k] = k == S_COUNT ? "count(1)" :
				    series_name[k];
			}
			snprintf(name, sizeof(name), "%s: floor vs bart",
			    xport_name[t]);
			svg_panel(g, name, ps, names, S_MAX);
		}
		svg_close(g);
		say("histogram: %s\n", path);
	}
	for (t = 0; t < 3; t++) {
		close(efd[t]);
		clnt_destroy(cl[t]);
		for (k = 0; k < S_MAX; k++)
			samples_free(&s[t][k]);
	}
	echo_stop(e);
}

/* ---- concurrency ---- */

#define CONC_CAP	200000
#define CONC_BLOCKS	4		/* a point's time in this many turns */

struct conc_slot {
	volatile int		ready;
	volatile uint64_t	calls;
	uint32_t		nlat;
	float			lat[CONC_CAP];
};

struct conc_shm {
	volatile int		go;
	volatile uint64_t	stop_ns;
	volatile uint64_t	warm_ns;	/* latencies from then on */
	struct conc_slot	slot[8];
};

/* What the client processes of one run call. */
enum conc_kind {
	CONC_FLOOR,		/* the echo server */
	CONC_COUNT,		/* bart: count(1) with an identity */
	CONC_READ		/* bart: count(0), a read: nothing to commit */
};

/* One point's figures, summed over its blocks (conc_end divides). */
struct conc_fig {
	double	cps;		/* calls a second, all clients */
	double	p99;		/* the worst client's p99 in a block (us) */
	double	cpu;		/* bart: the daemon's CPU a call (us) */
	double	wr;		/* bart: its write syscalls a call */
	double	clnt;		/* the clients' CPU a call (us) */
	double	calls, secs;	/* the sums: */
	double	cpu_us, writes, clnt_us;
};

/* A point's figures per call and per second, from its sums. */
static void
conc_end(struct conc_fig *f)
{
	f->cps = f->secs > 0 ? f->calls / f->secs : 0;
	f->cpu = f->calls > 0 ? f->cpu_us / f->calls : 0;
	f->wr = f->calls > 0 ? f->writes / f->calls : 0;
	f->clnt = f->calls > 0 ? f->clnt_us / f->calls : 0;
}

static void __attribute__((noreturn))
conc_child(struct conc_shm *m, int i, enum conc_kind kind, struct echo *e)
{
	int			 floor = kind == CONC_FLOOR;
	struct conc_slot	*sl = &m->slot[i];
	CLIENT			*cl = NULL;
	uint64_t		 t0, t1;
	int			 fd = -1, rc;

	/*
	 * Each client process its own request identities, as real clients
	 * have: forked with the parent's client id and sequence, all of
	 * them sent the same identities, and all but the first copy of
	 * each were answered as resends (counted nothing, wrote nothing).
	 */
	B->client_id = ((uint64_t)getpid() << 32 ^ now_ns()) | 1;
	B->seq = 0;
	if (floor)
		fd = echo_connect(e, "tcp");
	else
		cl = rpc_client("tcp");
	sl->ready = 1;
	while (!m->go)
		usleep(100);
	while ((t0 = now_ns()) < m->stop_ns) {
		rc = floor ? echo_call(e, fd, "tcp") : rpc_count(cl,
		    kind == CONC_COUNT, 1, NULL);
		if (rc == -1)
			_exit(1);
		t1 = now_ns();
		if (t0 >= m->warm_ns && sl->nlat < CONC_CAP)
			sl->lat[sl->nlat++] = (float)(t1 - t0) / 1000.0f;
		sl->calls++;
	}
	_exit(0);
}

/*
 * The daemon's write syscalls so far (/proc/PID/io syscw: write and
 * pwrite, not socket sends): its WAL writes, two for each page a commit
 * writes, so that per call they show how well commits were shared.
 */
static unsigned long long
svc_writes(void)
{
	char			 path[64], line[128];
	unsigned long long	 n = 0;
	FILE			*f;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)B->svc_pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "syscw: %llu", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* The CPU time (user and system, us) of the children waited for. */
static double
children_cpu_us(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/*
 * One block: N client processes for SECS calling KIND; added to F: the
 * calls, the time, the clients' CPU time, for bart the daemon's CPU
 * time (less noisy than calls/s on a shared machine) and its write
 * syscalls; and the worst client's p99 if it is the worst yet.
 */
static void
conc_run(struct echo *e, enum conc_kind kind, int n, double secs,
    struct conc_fig *f)
{
	struct conc_shm	*m;
	pid_t		 pid[8];
	double		*v, worst = 0, x, k0;
	uint64_t	 total = 0, t0, c0, w0;
	int		 i, j, st, ready, floor = kind == CONC_FLOOR;

	m = shared_alloc(sizeof(*m));
	memset(m, 0, sizeof(*m));
	for (i = 0; i < n; i++) {
		if ((pid[i] = fork()) == -1)
			die("fork");
		if (pid[i] == 0)
			conc_child(m, i, kind, e);
		child_track(pid[i]);
	}
	for (j = 0; j < 500; j++) {		/* at most 5 s */
		for (i = 0, ready = 0; i < n; i++)
			ready += m->slot[i].ready;
		if (ready == n)
			break;
		for (i = 0; i < n; i++)
			if (!m->slot[i].ready && waitpid(pid[i], &st,
			    WNOHANG) == pid[i])
				die("a concurrency client failed to start");
		usleep(10000);
	}
	k0 = children_cpu_us();
	c0 = floor ? 0 : svc_cpu_ns();
	w0 = floor ? 0 : svc_writes();
	t0 = now_ns();
	m->stop_ns = t0 + (uint64_t)(secs * 1e9);
	/* A block's first calls (new connections, cold caches): not timed. */
	m->warm_ns = t0 + (uint64_t)(secs * 1e9) / 10;
	m->go = 1;
	for (i = 0; i < n; i++) {
		waitpid(pid[i], &st, 0);
		child_forget(pid[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			say("  (client %d of %d failed)\n", i, n);
	}
	for (i = 0; i < n; i++) {
		total += m->slot[i].calls;
		if ((v = malloc(m->slot[i].nlat * sizeof(double) + 1)) ==
		    NULL)
			die("out of memory");
		for (j = 0; j < (int)m->slot[i].nlat; j++)
			v[j] = m->slot[i].lat[j];
		x = pct_of(v, m->slot[i].nlat, 99);
		if (x > worst)
			worst = x;
		free(v);
	}
	f->calls += (double)total;
	f->secs += secs;
	if (worst > f->p99)
		f->p99 = worst;
	if (!floor) {
		f->cpu_us += (double)(svc_cpu_ns() - c0) / 1000.0;
		f->writes += (double)(svc_writes() - w0);
	}
	f->clnt_us += children_cpu_us() - k0;
	shared_free(m, sizeof(*m));
}

void
bench_conc(void)
{
	static const int	 ns[] = { 1, 2, 4, 8 };
	static const struct {
		const char	*key, *unit;
		size_t		 off;
	} rows[] = {
		{ "count.calls_per_s", "1/s", offsetof(struct conc_fig, cps) },
		{ "count.p99_worst", "us", offsetof(struct conc_fig, p99) },
		{ "count.svc_cpu_per_call", "us", offsetof(struct conc_fig,
		    cpu) },
		{ "count.svc_writes_per_call", "1", offsetof(struct conc_fig,
		    wr) },
		{ "count.clnt_cpu_per_call", "us", offsetof(struct conc_fig,
		    clnt) },
	};
	struct conc_fig		 fl, ct, rd;
	struct echo		*e;
	char			 key[80];
	double			 secs = B->p.conc_secs / CONC_BLOCKS;
	size_t			 i, k;
	int			 b;

	say("\n== 3. concurrency over tcp, %.1f s per point in %d "
	    "interleaved blocks: N client processes, count(1) vs floor echo; "
	    "read: count(0), which commits nothing; clnt: the clients' CPU a "
	    "call, bart/floor\n", B->p.conc_secs, CONC_BLOCKS);
	say("%-8s %12s %12s %7s %12s %12s %9s %8s %7s %13s\n", "clients",
	    "floor call/s", "bart call/s", "ratio", "floor p99", "bart p99",
	    "cpu/call", "wr/call", "read", "clnt us");
	e = echo_start(B->call_bytes, B->reply_bytes);
	for (i = 0; i < sizeof(ns) / sizeof(ns[0]) && !over_time(); i++) {
		/*
		 * Short blocks, taking turns (and which goes first), so that
		 * the machine's drift hits all three alike: the ratio is of
		 * one period, not of two.
		 */
		memset(&fl, 0, sizeof(fl));
		memset(&ct, 0, sizeof(ct));
		memset(&rd, 0, sizeof(rd));
		for (b = 0; b < CONC_BLOCKS && !over_time(); b++) {
			if (b % 2 == 0) {
				conc_run(e, CONC_FLOOR, ns[i], secs, &fl);
				conc_run(e, CONC_COUNT, ns[i], secs, &ct);
				conc_run(e, CONC_READ, ns[i], secs, &rd);
			} else {
				conc_run(e, CONC_READ, ns[i], secs, &rd);
				conc_run(e, CONC_COUNT, ns[i], secs, &ct);
				conc_run(e, CONC_FLOOR, ns[i], secs, &fl);
			}
		}
		conc_end(&fl);
		conc_end(&ct);
		conc_end(&rd);
		say("%-8d %12.0f %12.0f %6.2fx %10.1fus %10.1fus %7.1fus "
		    "%8.2f %6.2fx %6.1f/%-6.1f\n", ns[i], fl.cps, ct.cps,
		    fl.cps > 0 ? ct.cps / fl.cps : 0, fl.p99, ct.p99, ct.cpu,
		    ct.wr, fl.cps > 0 ? rd.cps / fl.cps : 0, ct.clnt, fl.clnt);
		snprintf(key, sizeof(key), "conc.%d.floor.calls_per_s", ns[i]);
		tsv(key, fl.cps, "1/s");
		snprintf(key, sizeof(key), "conc.%d.floor.p99_worst", ns[i]);
		tsv(key, fl.p99, "us");
		snprintf(key, sizeof(key), "conc.%d.floor.clnt_cpu_per_call",
		    ns[i]);
		tsv(key, fl.clnt, "us");
		for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
			snprintf(key, sizeof(key), "conc.%d.%s", ns[i],
			    rows[k].key);
			tsv(key, *(const double *)(const void *)
			    ((const char *)&ct + rows[k].off), rows[k].unit);
		}
		snprintf(key, sizeof(key), "conc.%d.ratio_floor", ns[i]);
		tsv(key, fl.cps > 0 ? ct.cps / fl.cps : 0, "x");
		snprintf(key, sizeof(key), "conc.%d.read.ratio_floor", ns[i]);
		tsv(key, fl.cps > 0 ? rd.cps / fl.cps : 0, "x");
	}
	echo_stop(e);
}

/* ---- the duplicate-request cache ---- */

/*
 * Is the duplicate-request cache on?  Send count(1) without identity
 * twice with one xid: a cache answers the second from memory (same
 * total), without it the counter moves twice.
 */
static int
drc_probe(CLIENT *cl)
{
	int64_t		t1, t2;
	u_int32_t	xid;

	if (rpc_count(cl, 1, 0, &t1) == -1)
		return -1;
	clnt_control(cl, CLGET_XID, (char *)&xid);
	clnt_control(cl, CLSET_XID, (char *)&xid);
	if (rpc_count(cl, 1, 0, &t2) == -1)
		return -1;
	return t1 == t2;
}

/*
 * count(1) over udp with bart's duplicate-request cache on and off
 * (BART_TEST_NO_DRC=1 in the daemon's environment), each with and
 * without a request identity.  Daemons alternate, so drift hits both.
 */
void
bench_drc(void)
{
	struct samples	 s[2][2];
	char		 fig[64], name[64];
	CLIENT		*cl;
	uint64_t	 t0;
	int		 r, off, id, i, b, k, probe[2] = { -1, -1 };
	uint64_t	 cpu[2][2];
	double		 cu[2][2];

	say("\n== 7. duplicate-request cache (issue 8): count(1) over udp, "
	    "cache on vs off\n");
	memset(cpu, 0, sizeof(cpu));
	k = B->p.calls / (2 * B->p.drc_rounds);
	for (off = 0; off < 2; off++)
		for (id = 0; id < 2; id++)
			samples_init(&s[off][id], (size_t)k * 2 *
			    (size_t)B->p.drc_rounds);
	for (r = 0; r < 2 * B->p.drc_rounds && !over_time(); r++) {
		off = r % 2;
		svc_stop();
		B->svc_env = off ? "BART_TEST_NO_DRC=1" : NULL;
		if (svc_start() == -1)
			die("bart_svc%s did not start", off ? " (no DRC)" : "");
		cl = rpc_client("udp");
		for (i = 0; i < B->p.warmup; i++)
			rpc_count(cl, 1, 1, NULL);
		if (probe[off] == -1)
			probe[off] = drc_probe(cl);
		for (b = 0; b < k / 250; b++)
			for (id = 0; id < 2; id++) {
				uint64_t	c0 = svc_cpu_ns();

				for (i = 0; i < 250; i++) {
					t0 = now_ns();
					if (rpc_count(cl, 1, id == 0, NULL) ==
					    -1)
						die("udp count failed");
					samples_add(&s[off][id],
					    since_us(t0));
				}
				cpu[off][id] += svc_cpu_ns() - c0;
			}
		clnt_destroy(cl);
	}
	svc_stop();
	B->svc_bin = NULL;
	B->svc_env = NULL;
	if (svc_start() == -1)
		die("bart_svc did not restart");
	say("duplicate answered from the cache: on: %s, off: %s\n",
	    probe[0] == 1 ? "yes" : "no", probe[1] == 1 ? "yes" : "no");
	if (probe[1] == 1)
		say("(the cache could not be turned off: the figures below "
		    "compare two daemons that both have it)\n");
	print_head();
	for (off = 0; off < 2; off++)
		for (id = 0; id < 2; id++) {
			snprintf(name, sizeof(name), "udp cache %s%s",
			    off ? "off" : "on", id ? " no-id" : "");
			snprintf(fig, sizeof(fig), "drc.%s.%s",
			    off ? "off" : "on", id ? "noid" : "id");
			print_row(name, fig, &s[off][id], 0);
		}
	for (off = 0; off < 2; off++)
		for (id = 0; id < 2; id++) {
			cu[off][id] = s[off][id].n ? (double)cpu[off][id] /
			    1000.0 / (double)s[off][id].n : 0;
			snprintf(fig, sizeof(fig), "drc.%s.%s.svc_cpu_per_call",
			    off ? "off" : "on", id ? "noid" : "id");
			tsv(fig, cu[off][id], "us");
		}
	say("bart_svc CPU per call, us: cache on %.1f (no id %.1f), cache "
	    "off %.1f (no id %.1f)\n", cu[0][0], cu[0][1], cu[1][0],
	    cu[1][1]);
	say("cache cost per call: CPU %+.1f us; p50 %+.1f us.  Identity "
	    "cost (cache on): CPU %+.1f us\n", cu[0][0] - cu[1][0],
	    samples_pct(&s[0][0], 50) - samples_pct(&s[1][0], 50),
	    cu[0][0] - cu[0][1]);
	tsv("drc.cost_cpu", cu[0][0] - cu[1][0], "us");
	tsv("drc.identity_cost_cpu", cu[0][0] - cu[0][1], "us");
	say("cache cost per call (p50, with identity): %+.1f us; identity "
	    "cost (p50, cache on): %+.1f us\n",
	    samples_pct(&s[0][0], 50) - samples_pct(&s[1][0], 50),
	    samples_pct(&s[0][0], 50) - samples_pct(&s[0][1], 50));
	tsv("drc.cost_p50", samples_pct(&s[0][0], 50) -
	    samples_pct(&s[1][0], 50), "us");
	tsv("drc.identity_cost_p50", samples_pct(&s[0][0], 50) -
	    samples_pct(&s[0][1], 50), "us");
	for (off = 0; off < 2; off++)
		for (id = 0; id < 2; id++)
			samples_free(&s[off][id]);
}
