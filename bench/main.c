/* SPDX-License-Identifier: ISC */
/*
 * main.c: bart_bench's main(): parameters, the parts in order, the
 * output (a table on stdout, one TSV line per figure), and cleanup of
 * every process it started, by PID.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct bench		*B;
const char *const	 xport_name[3] = { "tcp", "udp", "local" };

static struct bench	 bench;
static pid_t		 children[MAX_CHILDREN];
static int		 nchildren;
static FILE		*tsvf;
static pid_t		 main_pid;

uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double
since_us(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1000.0;
}

void
child_track(pid_t pid)
{
	if (nchildren < MAX_CHILDREN)
		children[nchildren++] = pid;
}

/* A child that was reaped elsewhere: never signal its PID again. */
void
child_forget(pid_t pid)
{
	int	i;

	for (i = 0; i < nchildren; i++)
		if (children[i] == pid)
			children[i] = children[--nchildren];
}

/* TERM, wait up to 2 s, then KILL; always reaped. */
void
child_stop(pid_t pid)
{
	int	i, st;

	if (pid <= 0)
		return;
	child_forget(pid);
	kill(pid, SIGCONT);
	kill(pid, SIGTERM);
	for (i = 0; i < 200; i++) {
		if (waitpid(pid, &st, WNOHANG) != 0)
			return;		/* reaped, or not our child */
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

int
over_time(void)
{
	return since_us(B->t_start) / 1e6 > B->p.time_limit;
}

void
say(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* One machine-readable line: figure, value, unit. */
void
tsv(const char *fig, double v, const char *unit)
{
	if (tsvf != NULL)
		fprintf(tsvf, "%s\t%s\t%.3f\t%s\n", B->commit, fig, v, unit);
}

static void
cleanup(void)
{
	char	cmd[PATH_MAX + 16];

	if (getpid() != main_pid)	/* a forked child: not ours to do */
		return;
	if (B->svc_pid > 0)
		svc_stop();
	while (nchildren > 0)
		child_stop(children[nchildren - 1]);
	if (B->tmp[0] != '\0' && strncmp(B->tmp, "/tmp/", 5) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", B->tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "bart_bench: could not remove %s\n",
			    B->tmp);
	}
	B->tmp[0] = '\0';
	if (tsvf != NULL)
		fclose(tsvf);
	tsvf = NULL;
}

void
die(const char *fmt, ...)
{
	char	cmd[PATH_MAX + 32];
	va_list	ap;

	fputs("bart_bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (getpid() != main_pid)
		_exit(1);
	if (B->svclog[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "tail -5 '%s' >&2", B->svclog);
		if (system(cmd) != 0)
			fputs("(no daemon log)\n", stderr);
	}
	exit(1);
}

static void
on_signal(int sig)
{
	(void)sig;
	/*
	 * A forked child (the echo server, a client) stopped by TERM: exit()
	 * would flush its copy of the buffered results.tsv a second time.
	 */
	if (getpid() != main_pid)
		_exit(2);
	exit(2);		/* runs cleanup() through atexit */
}

/* Anonymous memory that forked children write and the parent reads. */
void *
shared_alloc(size_t len)
{
	void	*p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		die("mmap %zu bytes", len);
	return p;
}

void
shared_free(void *p, size_t len)
{
	munmap(p, len);
}

static void
set_params(struct params *p, int quick)
{
	p->quick = quick;
	p->warmup = quick ? 500 : 2000;
	p->calls = quick ? 4000 : 40000;
	p->block = quick ? 500 : 1000;
	p->conc_secs = quick ? 0.6 : 2.0;
	p->oneshot_runs = quick ? 100 : 300;
	p->oneshot_minor = quick ? 30 : 100;
	p->fan_rounds = quick ? 30 : 200;
	p->scale_queries = quick ? 100 : 500;
	p->scale_steps[0] = 1000;
	p->scale_steps[1] = 100000;
	p->scale_steps[2] = 1000000;
	p->drc_rounds = quick ? 2 : 4;
	p->time_limit = quick ? 55 : 600;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bart_bench [-q] -b BINDIR [-o OUTDIR] "
	    "[-c COMMIT] [-x PART] [-e LABEL=PATH]\n"
	    "  -q  quick run (under a minute)\n"
	    "  -e  also time PATH localhost count 1 (another bart_clnt build)\n"
	    "  PART: latency conc drc oneshot fanout fansim scale\n"
	    "Run it through bench/run.sh: it needs its own namespace "
	    "and rpcbind.\n");
	exit(64);
}

static int
want(const char *part)
{
	return B->only == NULL || strcmp(B->only, part) == 0;
}

int
main(int argc, char **argv)
{
	char		path[PATH_MAX + 32], date[64];
	struct utsname	un;
	time_t		t = time(NULL);
	int		c, quick = 0;

	B = &bench;
	main_pid = getpid();
	B->commit = "unknown";
	snprintf(B->outdir, sizeof(B->outdir), ".");
	while ((c = getopt(argc, argv, "qb:o:c:x:e:")) != -1) {
		switch (c) {
		case 'q':
			quick = 1;
			break;
		case 'b':
			snprintf(B->bindir, sizeof(B->bindir), "%s", optarg);
			break;
		case 'o':
			snprintf(B->outdir, sizeof(B->outdir), "%s", optarg);
			break;
		case 'c':
			B->commit = optarg;
			break;
		case 'x':
			B->only = optarg;
			break;
		case 'e':
			if (B->nextra < 4 && strchr(optarg, '=') != NULL)
				B->extra[B->nextra++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (B->bindir[0] == '\0')
		usage();
	set_params(&B->p, quick);
	B->t_start = now_ns();
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(B->tmp, sizeof(B->tmp), "/tmp/bart-bench.XXXXXX");
	if (mkdtemp(B->tmp) == NULL)
		die("mkdtemp");
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	snprintf(B->state, sizeof(B->state), "%s/state", B->tmp);
	snprintf(B->pidfile, sizeof(B->pidfile), "%s/svc.pid", B->tmp);
	snprintf(B->svclog, sizeof(B->svclog), "%s/svc.log", B->tmp);
	/* The daemon's default socket as root: what bart_clnt tries first. */
	snprintf(B->sock, sizeof(B->sock), "/run/bart/bart_svc.sock");
	mkdir(B->outdir, 0755);
	snprintf(path, sizeof(path), "%s/results.tsv", B->outdir);
	if ((tsvf = fopen(path, "w")) == NULL)
		die("cannot write %s", path);
	fprintf(tsvf, "commit\tfigure\tvalue\tunit\n");
	uname(&un);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&t));
	say("bart_bench %s run, %s, commit %s, %s %s, %ld CPUs\n",
	    quick ? "QUICK" : "full", date, B->commit, un.sysname, un.release,
	    sysconf(_SC_NPROCESSORS_ONLN));
	B->client_id = ((uint64_t)getpid() << 32) ^ (uint64_t)t ^ now_ns();
	B->client_id |= 1;
	if (svc_start() == -1)
		die("bart_svc did not start; log in %s", B->svclog);
	measure_sizes();
	if (want("latency"))
		bench_latency();
	if (want("conc") && !over_time())
		bench_conc();
	if (want("oneshot") && !over_time())
		bench_oneshot();
	if (want("fanout") && !over_time())
		bench_fanout();
	if (want("fansim") && !over_time())
		bench_fansim();
	if (want("drc") && !over_time())
		bench_drc();
	if (want("scale") && !over_time())
		bench_scale();
	say("\nwall time %.1f s%s; results in %s/results.tsv\n",
	    since_us(B->t_start) / 1e6, over_time() ? " (time limit hit: "
	    "some parts skipped)" : "", B->outdir);
	return 0;
}
