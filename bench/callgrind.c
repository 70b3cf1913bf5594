/* SPDX-License-Identifier: ISC */
/*
 * callgrind.c: bart_cgbench, the instruction-count part of `make bench`.
 * It counts the instructions and syscalls a server executes per call,
 * with valgrind's callgrind, for bart_svc and beside it for a stock
 * rpcgen/libtirpc server (bench/stock/).  Instruction counts repeat
 * exactly on this noisy shared machine, where times do not.
 *
 * Method, the same for both servers:
 * - The server runs under `valgrind --tool=callgrind --collect-systime=
 *   yes` (all threads counted together).  This program is the client,
 *   natively, and dumps the server's counters with `vgdb --pid=P dump`
 *   around each window: every dump holds what the server executed
 *   since the dump before it.
 * - A window is N calls from one connection made and warmed up before
 *   it (or 8 clients' calls, each on its own connection), opened after
 *   any idle connections, as a new client's would be: where its fd sits
 *   in the poll array matters to the servers' scans.  Each call is sent
 *   once the server sleeps in its poll again (/proc/PID/wchan), so
 *   that none finds it busy: what a lone client costs, and exact.  Per call =
 *   (window of N calls - empty window) / N: the empty window (a dump
 *   right after a dump) is what the dump itself makes the server do
 *   (a poll interrupted and restarted), measured for that server, with
 *   the same idle connections open.
 * - Work done per second rather than per call is left out of both: the
 *   cost of calls into the functions named in timer_fns (bart's once-
 *   a-second housekeeping, its rpcbind re-check every 2 s).  The stock
 *   server has none of them; how much was left out is printed.
 * - Syscalls are callgrind's sysCount in the same windows.
 * Everything runs in bench/run.sh's namespace, with its rpcbind.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rpc/rpc.h>

#include "bart.h"
#include "stock.h"
#include "util.h"

#define CALL_TIMEOUT_S	60	/* a server under callgrind is slow */
#define IDLE_PER_ADDR	50	/* idle connections per 127.0.0.x */
#define START_WAIT_S	120
#define CONC_CLIENTS	8
#define MAX_KIDS	(CONC_CLIENTS + 4)

enum { SRV_STOCK, SRV_BART, NSRV };
enum { K_NULL, K_COUNT, NKIND };
enum { T_TCP, T_UDP, T_LOCAL, NT };
enum { I_NONE, I_MANY, NIDLE };

static const char *const srv_name[NSRV] = { "stock", "bart" };
static const char *const kind_name[NKIND] = { "null", "count" };
static const char *const t_name[NT] = { "tcp", "udp", "local" };

/*
 * Per-second work, left out of per-call figures: bart's housekeeping
 * and serve_tick (svc.c; housekeeping is inlined, so its callees are
 * named too), and its rpcbind re-check every 2 s (reg.c's watcher
 * thread, watch_main); names from before the serve.c loop too
 * (svc_recheck ... __svc_clean_idle).  None of them runs on a call's
 * path.  -X replaces the list.
 */
static const char	*timer_default =
    "housekeeping,serve_tick,reg_recheck,watch_main,recheck,push_reap,"
    "store_check,store_chat_cap,store_prune,store_reqs_trim,conns_sweep,"
    "svc_recheck,rpcb_getaddr,__svc_clean_idle";
static char		*timer_fns[32];

/* What a server executed in one window. */
struct cost {
	double		 ir, sys;	/* everything */
	double		 xir, xsys;	/* of it, in timer_fns */
	double		 vsys;		/* syscalls only valgrind makes */
	double		 commits;	/* calls into commit_fn */
	double		 secs;		/* wall time of the window */
};

struct fig {
	int		 done;
	double		 ir, sys;	/* per call */
	double		 per_commit;	/* calls per commit; 0: none */
};

struct srv {
	int		 which, idle;
	rpcprog_t	 prog;
	pid_t		 pid;
	int		 ndump;
	char		 dir[128];	/* dumps, log, state */
	uint64_t	 t_dump;
	double		 xir, secs;	/* timer work left out, over secs */
};

static struct {
	int		 quick, ncalls, nt, idle, keep;
	const char	*bindir, *outdir, *commit, *valgrind;
	char		 tmp[64];
	double		 budget;
	uint64_t	 t0, client_id, seq;
	pid_t		 main_pid;
	pid_t		 kids[MAX_KIDS];
	int		 nkids;
	int		*idle_fd;
	int		 nidle;
	FILE		*tsvf;
	struct fig	 f[NSRV][NIDLE][NT][NKIND];
	struct fig	 conc[NSRV];
	double		 empty_spread;	/* largest repeat difference */
	int		 unsettled;	/* calls sent to a busy server */
	double		 xrate[NSRV][NIDLE];	/* timer Ir left out per s */
} G;

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double
elapsed_s(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e9;
}

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
say(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void
die(const char *fmt, ...)
{
	va_list	ap;

	fputs("bart_cgbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (getpid() != G.main_pid)
		_exit(1);
	exit(1);
}

static void
tsv(const char *fig, double v, const char *unit)
{
	if (G.tsvf != NULL)
		fprintf(G.tsvf, "%s\t%s\t%.3f\t%s\n", G.commit, fig, v, unit);
}

static void
kid_track(pid_t pid)
{
	if (G.nkids < MAX_KIDS)
		G.kids[G.nkids++] = pid;
}

/* TERM, wait up to 5 s (valgrind writes its last dump), then KILL. */
static void
kid_stop(pid_t pid)
{
	int	i, st;

	if (pid <= 0)
		return;
	for (i = 0; i < G.nkids; i++)
		if (G.kids[i] == pid)
			G.kids[i] = G.kids[--G.nkids];
	kill(pid, SIGTERM);
	for (i = 0; i < 500; i++) {
		if (waitpid(pid, &st, WNOHANG) != 0)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

static void
idle_close(void)
{
	while (G.nidle > 0)
		close(G.idle_fd[--G.nidle]);
}

static void
cleanup(void)
{
	char	cmd[128];

	if (getpid() != G.main_pid)
		return;
	idle_close();
	while (G.nkids > 0)
		kid_stop(G.kids[G.nkids - 1]);
	if (strncmp(G.tmp, "/tmp/", 5) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", G.tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "bart_cgbench: cannot remove %s\n",
			    G.tmp);
		G.tmp[0] = '\0';
	}
	if (G.tsvf != NULL)
		fclose(G.tsvf);
	G.tsvf = NULL;
}

static void
on_signal(int sig)
{
	(void)sig;
	exit(2);		/* cleanup() through atexit */
}

/* ---- callgrind dumps -------------------------------------------------- */

/*
 * Under valgrind the guest has no vDSO: these make a syscall there and
 * none natively, so their syscalls are not counted (glibc 2.36 names).
 */
static const char *const vdso_fns[] = {
	"clock_gettime", "__clock_gettime", "__clock_gettime64",
	"gettimeofday", "__gettimeofday", "__gettimeofday_syscall",
	"time", "time_syscall", "__time_syscall", "clock_getres",
	"__clock_getres", "getcpu", "sched_getcpu", NULL
};

#define FN_TIMER	1
#define FN_VDSO		2
#define FN_COMMIT	4

/*
 * Called once per SQLite write transaction (the commit writes its
 * pages to the WAL): group commit shows as calls per commit.  -C
 * names another.
 */
static const char	*commit_fn = "sqlite3WalFrames";

static int
in_list(const char *const *list, const char *name, size_t len)
{
	int	i;

	for (i = 0; list[i] != NULL; i++)
		if (strlen(list[i]) == len && strncmp(list[i], name, len) == 0)
			return 1;
	return 0;
}

/* FN_TIMER and FN_VDSO for a function name ("clock_gettime@@GLIBC_2.17"). */
static int
fn_flags(const char *name, size_t len)
{
	const char	*at;
	size_t		 base = len;

	if ((at = memchr(name, '@', len)) != NULL)
		base = (size_t)(at - name);
	return (in_list((const char *const *)timer_fns, name, len) ?
	    FN_TIMER : 0) | (in_list(vdso_fns, name, base) ? FN_VDSO : 0) |
	    (strlen(commit_fn) == len && strncmp(commit_fn, name, len) == 0 ?
	    FN_COMMIT : 0);
}

/*
 * A "fn=" or "cfn=" value: "(id) name", "(id)" or "name" (callgrind
 * names a function in full once, by id after).  Return its fn_flags;
 * those of ids seen are remembered in *EX.
 */
static int
fn_ref(const char *v, unsigned char **ex, size_t *nex)
{
	unsigned char	*n;
	char		*end;
	unsigned long	 id;
	size_t		 len;

	if (*v != '(') {
		len = strcspn(v, "\n");
		return fn_flags(v, len);
	}
	id = strtoul(v + 1, &end, 10);
	if (*end != ')' || id > 10000000)
		return 0;
	if (id >= *nex) {
		if ((n = realloc(*ex, id + 1024)) == NULL)
			die("out of memory");
		memset(n + *nex, 0, id + 1024 - *nex);
		*ex = n;
		*nex = id + 1024;
	}
	if (end[1] == ' ') {
		len = strcspn(end + 2, "\n");
		(*ex)[id] = (unsigned char)fn_flags(end + 2, len);
	}
	return (*ex)[id];
}

/* Column I of a whitespace-separated cost list S, 0 if missing. */
static double
column(const char *s, int i)
{
	char	*end;
	double	 v = 0;

	while (i-- >= 0) {
		v = strtod(s, &end);
		if (end == s)
			return 0;
		s = end;
	}
	return v;
}

/*
 * Read one dump: its totals, the cost of calls into timer_fns from
 * functions outside them (so nested ones are not counted twice), and
 * the syscalls vdso_fns made themselves.
 */
static void
dump_parse(const char *path, struct cost *c)
{
	unsigned char	*ex = NULL;
	size_t		 nex = 0, cap = 0;
	char		*line = NULL, *p, *t;
	FILE		*f;
	int		 npos = 1, cir = 0, csys = -1, cur = 0, callee = 0;
	int		 in_call = 0, i;
	long		 ncalls = 0;

	memset(c, 0, sizeof(*c));
	if ((f = fopen(path, "r")) == NULL)
		die("no callgrind dump %s", path);
	while (getline(&line, &cap, f) != -1) {
		if (strncmp(line, "positions:", 10) == 0) {
			for (npos = 0, p = line + 10; (t = strtok(p, " \n"));
			    p = NULL)
				npos++;
		} else if (strncmp(line, "events:", 7) == 0) {
			for (i = 0, p = line + 7; (t = strtok(p, " \n"));
			    p = NULL, i++) {
				if (strcmp(t, "Ir") == 0)
					cir = i;
				else if (strcmp(t, "sysCount") == 0)
					csys = i;
			}
		} else if (strncmp(line, "totals:", 7) == 0) {
			c->ir = column(line + 7, cir);
			c->sys = csys >= 0 ? column(line + 7, csys) : 0;
		} else if (strncmp(line, "fn=", 3) == 0) {
			cur = fn_ref(line + 3, &ex, &nex);
		} else if (strncmp(line, "cfn=", 4) == 0) {
			callee = fn_ref(line + 4, &ex, &nex);
		} else if (strncmp(line, "calls=", 6) == 0) {
			in_call = 1;
			ncalls = strtol(line + 6, NULL, 10);
		} else if (isdigit((unsigned char)line[0]) ||
		    line[0] == '+' || line[0] == '-' || line[0] == '*') {
			for (p = line, i = 0; i < npos; i++)
				p += strcspn(p, " ") + 1;
			if (in_call) {
				/* After calls=: the call's inclusive cost. */
				if ((callee & FN_TIMER) && !(cur & FN_TIMER)) {
					c->xir += column(p, cir);
					c->xsys += csys >= 0 ?
					    column(p, csys) : 0;
				}
				if ((callee & FN_COMMIT) && !(cur & FN_COMMIT))
					c->commits += (double)ncalls;
			} else if ((cur & FN_VDSO) && csys >= 0) {
				c->vsys += column(p, csys);
			}
			in_call = 0;
		}
	}
	free(line);
	free(ex);
	fclose(f);
}

/*
 * Make S dump its counters; C (if not NULL) gets the dump's costs.
 * With -k, a window's dump is kept as OUTDIR/callgrind/LABEL.out for
 * callgrind_annotate.
 */
static void
dump(struct srv *s, struct cost *c, const char *label)
{
	char	arg[32], path[PATH_MAX + 32], keep[PATH_MAX + 160];
	pid_t	pid;
	int	st, fd;

	snprintf(arg, sizeof(arg), "--pid=%d", (int)s->pid);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("vgdb", "vgdb", arg, "dump", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		die("vgdb %s dump failed", arg);
	s->ndump++;
	snprintf(path, sizeof(path), "%s/cg.%d.%d", s->dir, (int)s->pid,
	    s->ndump);
	if (c != NULL) {
		dump_parse(path, c);
		c->secs = (double)(now_ns() - s->t_dump) / 1e9;
		s->xir += c->xir;
		s->secs += c->secs;
	}
	if (G.keep && label != NULL) {
		snprintf(keep, sizeof(keep), "%s/callgrind", G.outdir);
		mkdir(keep, 0755);
		snprintf(keep, sizeof(keep), "%s/callgrind/%s-idle%d-%s.out",
		    G.outdir, srv_name[s->which], s->idle, label);
		if (rename(path, keep) == 0)
			path[0] = '\0';
	}
	if (path[0] != '\0')
		unlink(path);	/* a startup dump is ~300 KB; keep /tmp lean */
	s->t_dump = now_ns();
}

/* ---- servers ----------------------------------------------------------- */

static int
registered(rpcprog_t prog, const char *netid)
{
	struct netconfig	*nc;
	struct sockaddr_storage	 ss;
	struct netbuf		 nb = { sizeof(ss), 0, &ss };
	int			 ok;

	if ((nc = getnetconfigent(netid)) == NULL)
		return 0;
	ok = rpcb_getaddr(prog, 1, nc, &nb, "localhost");
	freenetconfigent(nc);
	return ok;
}

/* Start server WHICH under callgrind; wait until rpcbind lists it. */
static void
srv_start(struct srv *s, int which, int idle)
{
	char		 bin[PATH_MAX + 16], out[PATH_MAX + 16];
	char		 state[PATH_MAX + 16], logf[PATH_MAX + 16];
	struct rlimit	 rl;
	int		 fd, i, t, st, up;

	memset(s, 0, sizeof(*s));
	s->which = which;
	s->idle = idle;
	s->prog = which == SRV_BART ? BART_PROG : STOCK_PROG;
	snprintf(s->dir, sizeof(s->dir), "%s/%s-%d", G.tmp, srv_name[which],
	    idle);
	if (mkdir(s->dir, 0700) == -1)
		die("mkdir %s", s->dir);
	snprintf(out, sizeof(out), "--callgrind-out-file=%s/cg.%%p", s->dir);
	snprintf(state, sizeof(state), "%s/state", s->dir);
	snprintf(logf, sizeof(logf), "%s/log", s->dir);
	/*
	 * A stock server stopped by TERM leaves its entries (svc_run never
	 * returns to remove them): clear them, or the wait below would see
	 * the last run's.
	 */
	rpcb_unset(s->prog, 1, NULL);
	if ((s->pid = fork()) == -1)
		die("fork");
	if (s->pid == 0) {
		if ((fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0644)) !=
		    -1) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* Room for the idle connections under valgrind's fd cap. */
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max > 4096) {
			rl.rlim_cur = 4096;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (which == SRV_BART) {
			snprintf(bin, sizeof(bin), "%s/bart_svc", G.bindir);
			mkdir(state, 0700);
			/* --idle-timeout: idle ones must stay for the run. */
			execlp(G.valgrind, G.valgrind, "-q", "--tool=callgrind",
			    "--collect-systime=yes", out, bin, "-f", "-S",
			    state, "-s", "/run/bart_svc.sock",
			    "--idle-timeout", "86400", (char *)NULL);
		} else {
			snprintf(bin, sizeof(bin), "%s/stock_svc", G.bindir);
			execlp(G.valgrind, G.valgrind, "-q", "--tool=callgrind",
			    "--collect-systime=yes", out, bin,
			    "/run/bart_stock.sock", (char *)NULL);
		}
		_exit(127);
	}
	kid_track(s->pid);
	for (i = 0; i < START_WAIT_S * 10; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			G.nkids--;
			die("%s under callgrind exited; see %s", srv_name[which],
			    logf);
		}
		for (up = 1, t = 0; t < NT && up; t++)
			up = registered(s->prog, t_name[t]);
		if (up)
			break;
		usleep(100000);
	}
	if (!up)
		die("%s did not register within %d s", srv_name[which],
		    START_WAIT_S);
	usleep(200000);		/* let it finish registering */
	s->t_dump = now_ns();
}

static void
srv_stop(struct srv *s)
{
	kid_stop(s->pid);
	s->pid = 0;
}

/* Sockets the server has open (valgrind runs it in its own PID). */
static int
sock_count(pid_t pid)
{
	char		 dir[64], path[64 + 256], link[64];
	struct dirent	*de;
	DIR		*d;
	ssize_t		 n;
	int		 count = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) > 0) {
			link[n] = '\0';
			count += strncmp(link, "socket:", 7) == 0;
		}
	}
	closedir(d);
	return count;
}

/*
 * N idle TCP connections to S, IDLE_PER_ADDR from each of 127.0.0.2,
 * .3, ... (as from many hosts, under bart's per-peer cap), and wait
 * until the server has accepted them all.
 */
static void
idle_open(struct srv *s, int n)
{
	struct netconfig	*nc;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	 to, from;
	struct netbuf		 nb = { sizeof(ss), 0, &ss };
	int			 base, i, fd;

	if ((nc = getnetconfigent("tcp")) == NULL ||
	    !rpcb_getaddr(s->prog, 1, nc, &nb, "localhost"))
		die("no tcp address for %s", srv_name[s->which]);
	freenetconfigent(nc);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = ((struct sockaddr_in *)&ss)->sin_port;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((G.idle_fd = calloc((size_t)n, sizeof(int))) == NULL)
		die("out of memory");
	base = sock_count(s->pid);
	for (i = 0; i < n; i++) {
		memset(&from, 0, sizeof(from));
		from.sin_family = AF_INET;
		from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 +
		    (uint32_t)(i / IDLE_PER_ADDR + 1));
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
		    -1 || bind(fd, (struct sockaddr *)&from, sizeof(from)) ==
		    -1 || connect(fd, (struct sockaddr *)&to, sizeof(to)) ==
		    -1)
			die("idle connection %d: %s", i, strerror(errno));
		G.idle_fd[G.nidle++] = fd;
	}
	for (i = 0; i < START_WAIT_S * 20; i++) {
		if (sock_count(s->pid) >= base + n)
			return;
		usleep(50000);
	}
	die("%s accepted %d of %d idle connections", srv_name[s->which],
	    sock_count(s->pid) - base, n);
}

/* ---- calls ------------------------------------------------------------- */

/* Whether the server's main thread sleeps in poll() or epoll_wait(). */
static int
srv_waiting(pid_t pid)
{
	char	path[64], buf[128];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	return strstr(buf, "poll") != NULL;
}

/*
 * Wait (at most ~0.2 s) until the server is back in its poll: each
 * call of a one-client window then finds it idle, as a lone client's
 * would.  Without this the count depends on timing: bart reads
 * datagrams until EAGAIN, so a next call already there saves a wait
 * and a read.
 */
static void
srv_settle(pid_t pid)
{
	int	i;

	for (i = 0; i < 2000; i++) {
		if (srv_waiting(pid))
			return;
		usleep(i < 100 ? 0 : 100);
	}
	G.unsettled++;
}

static CLIENT *
client(rpcprog_t prog, const char *netid)
{
	struct netconfig	*nc;
	struct timeval		 tv = { CALL_TIMEOUT_S, 0 };
	CLIENT			*cl;

	if ((nc = getnetconfigent(netid)) == NULL)
		die("no netconfig %s", netid);
	cl = clnt_tp_create_timed("localhost", prog, 1, nc, &tv);
	freenetconfigent(nc);
	if (cl == NULL)
		die("cannot reach program %lu over %s: %s", (unsigned long)prog,
		    netid, clnt_spcreateerror(""));
	clnt_control(cl, CLSET_TIMEOUT, (char *)&tv);
	/* UDP: no retransmission, so that every call executes once. */
	if (strcmp(netid, "udp") == 0)
		clnt_control(cl, CLSET_RETRY_TIMEOUT, (char *)&tv);
	return cl;
}

/*
 * One call.  COUNT(1) carries a request identity as bart_clnt's does;
 * the stock server's COUNT has the same wire format (stock.x).
 */
static void
call(CLIENT *cl, int kind)
{
	struct timeval	tv = { CALL_TIMEOUT_S, 0 };
	count_args	a;
	count_res	r;
	enum clnt_stat	st;

	if (kind == K_NULL) {
		st = clnt_call(cl, NULLPROC, XDR_VOID, NULL, XDR_VOID, NULL,
		    tv);
		if (st != RPC_SUCCESS)
			die("NULL: %s", clnt_sperrno(st));
		return;
	}
	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	a.id.client = G.client_id;
	a.id.seq = ++G.seq;
	a.up = 1;
	st = clnt_call(cl, COUNT, (xdrproc_t)xdr_count_args, (char *)&a,
	    (xdrproc_t)xdr_count_res, (char *)&r, tv);
	if (st != RPC_SUCCESS || r.status != BART_OK)
		die("COUNT: %s, status %d", clnt_sperrno(st), (int)r.status);
	xdr_free((xdrproc_t)xdr_count_res, (char *)&r);
}

static void
per_call(const struct cost *w, const struct cost *e, int n, struct fig *f)
{
	f->ir = ((w->ir - w->xir) - (e->ir - e->xir)) / n;
	f->sys = ((w->sys - w->xsys - w->vsys) -
	    (e->sys - e->xsys - e->vsys)) / n;
	f->per_commit = w->commits > 0 ? n / w->commits : 0;
	f->done = 1;
}

/*
 * COUNT(1) from CONC_CLIENTS processes at once, each on its own
 * connection (made and warmed up before the window), NCALLS in all.
 */
static void
conc_window(struct srv *s, struct cost *w)
{
	int	ready[2], go[2], i, k, st, each, bad = 0;
	char	b;
	pid_t	pid[CONC_CLIENTS];
	CLIENT	*cl;

	each = G.ncalls / CONC_CLIENTS;
	if (pipe(ready) == -1 || pipe(go) == -1)
		die("pipe");
	for (i = 0; i < CONC_CLIENTS; i++) {
		if ((pid[i] = fork()) == -1)
			die("fork");
		if (pid[i] == 0) {
			close(ready[0]);
			close(go[1]);
			G.client_id = util_random_u64() | 1;
			G.seq = 0;
			cl = client(s->prog, "tcp");
			for (k = 0; k < 5; k++)
				call(cl, K_COUNT);
			if (write(ready[1], "r", 1) != 1 ||
			    read(go[0], &b, 1) != 0)
				_exit(1);
			for (k = 0; k < each; k++)
				call(cl, K_COUNT);
			_exit(0);
		}
		kid_track(pid[i]);
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < CONC_CLIENTS; i++) {
		struct pollfd	pf = { ready[0], POLLIN, 0 };

		if (poll(&pf, 1, START_WAIT_S * 1000) != 1 ||
		    read(ready[0], &b, 1) != 1)
			die("concurrent client %d did not get ready", i);
	}
	close(ready[0]);
	dump(s, NULL, NULL);
	close(go[1]);		/* EOF: all go */
	for (i = 0; i < CONC_CLIENTS; i++) {
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad++;
		for (k = 0; k < G.nkids; k++)
			if (G.kids[k] == pid[i])
				G.kids[k] = G.kids[--G.nkids];
	}
	if (bad)
		die("%d concurrent clients failed", bad);
	dump(s, w, "count-tcp-8clients");
}

/* One server, IDLE idle connections: every window of this part. */
static void
measure(int which, int ii)
{
	struct srv	 s;
	struct cost	 e1, e2, w;
	CLIENT		*cl;
	char		 label[32];
	double		 d;
	int		 t, k, i;

	say("  %s, %d idle connections ...", srv_name[which],
	    ii == I_MANY ? G.idle : 0);
	srv_start(&s, which, ii == I_MANY ? G.idle : 0);
	if (ii == I_MANY)
		idle_open(&s, G.idle);
	dump(&s, NULL, NULL);
	dump(&s, &e1, NULL);
	dump(&s, &e2, "empty");
	d = (e1.ir - e1.xir) - (e2.ir - e2.xir);
	if (d < 0)
		d = -d;
	if (d > G.empty_spread)
		G.empty_spread = d;
	/*
	 * One client connection at a time: every other open connection
	 * costs the servers per call (that is what the idle figures show).
	 * The server has seen the last one's EOF before the warm-up ends.
	 */
	for (t = 0; t < G.nt; t++) {
		cl = client(s.prog, t_name[t]);
		for (i = 0; i < 50; i++)
			for (k = 0; k < NKIND; k++)
				call(cl, k);
		for (k = 0; k < NKIND; k++) {
			dump(&s, NULL, NULL);
			for (i = 0; i < G.ncalls; i++) {
				call(cl, k);
				srv_settle(s.pid);
			}
			snprintf(label, sizeof(label), "%s-%s", kind_name[k],
			    t_name[t]);
			dump(&s, &w, label);
			per_call(&w, &e2, G.ncalls, &G.f[which][ii][t][k]);
		}
		clnt_destroy(cl);
	}
	if (ii == I_NONE) {
		conc_window(&s, &w);
		per_call(&w, &e2, G.ncalls / CONC_CLIENTS * CONC_CLIENTS,
		    &G.conc[which]);
	}
	G.xrate[which][ii] = s.secs > 0 ? s.xir / s.secs : 0;
	srv_stop(&s);
	idle_close();
	free(G.idle_fd);
	G.idle_fd = NULL;
	say(" %.0f s\n", elapsed_s(G.t0));
}

/* ---- report ------------------------------------------------------------ */

/* "cg.bart.null.tcp.instr", "cg.bart.null.tcp.idle500.syscalls", ... */
static void
fig_key(char *buf, size_t len, int which, const char *what, const char *tail)
{
	snprintf(buf, len, "cg.%s.%s%s", srv_name[which], what, tail);
}

/* One right-aligned cell of WIDTH: V with PREC decimals, or "-". */
static void
put(int width, int prec, int done, double v, const char *suffix)
{
	char	cell[64];

	if (done)
		snprintf(cell, sizeof(cell), "%.*f%s", prec, v, suffix);
	else
		snprintf(cell, sizeof(cell), "-");
	say(" %*s", width, cell);
}

/* One table row: stock and bart side by side; their TSV lines. */
static void
row(const char *label, const char *what, struct fig *fs, struct fig *fb)
{
	char		 key[128];
	struct fig	*f[NSRV] = { fs, fb };
	int		 w;

	say("%-30s", label);
	put(9, 0, fs->done, fs->ir, "");
	put(9, 0, fb->done, fb->ir, "");
	put(9, 2, fs->done && fb->done && fs->ir > 0,
	    fs->ir > 0 ? fb->ir / fs->ir : 0, "x");
	put(8, 2, fs->done, fs->sys, "");
	put(8, 2, fb->done, fb->sys, "");
	put(8, 2, fb->done && fb->per_commit > 0, fb->per_commit, "");
	say("\n");
	for (w = 0; w < NSRV; w++) {
		if (!f[w]->done)
			continue;
		fig_key(key, sizeof(key), w, what, ".instr");
		tsv(key, f[w]->ir, "instr/call");
		fig_key(key, sizeof(key), w, what, ".syscalls");
		tsv(key, f[w]->sys, "syscalls/call");
		if (f[w]->per_commit > 0) {
			fig_key(key, sizeof(key), w, what, ".calls_per_commit");
			tsv(key, f[w]->per_commit, "calls");
		}
	}
	if (fs->done && fb->done && fs->ir > 0) {
		snprintf(key, sizeof(key), "cg.%s.bart_vs_stock", what);
		tsv(key, fb->ir / fs->ir, "x");
	}
}

static void
goal(const char *label, int done, double v, const char *unit,
    const char *goal_s, int met, const char *key)
{
	if (!done) {
		say("  %-44s %10s  goal %-10s (not measured)\n", label, "-",
		    goal_s);
		return;
	}
	if (unit[0] == 'x')
		say("  %-44s %9.2fx  goal %-10s %s\n", label, v, goal_s,
		    met ? "met" : "NOT met");
	else
		say("  %-44s %10.0f  goal %-10s %s\n", label, v, goal_s,
		    met ? "met" : "NOT met");
	tsv(key, v, unit);
}

static void
report(void)
{
	char		 label[96], what[64];
	struct fig	*n0s, *n0b, *n1s, *n1b;
	double		 r;
	int		 ii, t, k;

	say("\n%-30s %9s %9s %9s %8s %8s %8s\n", "instructions per call",
	    "stock", "bart", "x stock", "sys stk", "sys bart", "calls/tx");
	for (ii = 0; ii < NIDLE; ii++)
		for (t = 0; t < G.nt; t++)
			for (k = 0; k < NKIND; k++) {
				snprintf(label, sizeof(label), "%s %s%s",
				    k == K_NULL ? "null" : "count(1)+id",
				    t_name[t], ii == I_MANY ? ", idle" : "");
				if (ii == I_MANY)
					snprintf(label + strlen(label),
					    sizeof(label) - strlen(label),
					    " %d", G.idle);
				snprintf(what, sizeof(what), "%s.%s",
				    kind_name[k], t_name[t]);
				if (ii == I_MANY)
					snprintf(what + strlen(what),
					    sizeof(what) - strlen(what),
					    ".idle%d", G.idle);
				row(label, what, &G.f[SRV_STOCK][ii][t][k],
				    &G.f[SRV_BART][ii][t][k]);
			}
	snprintf(label, sizeof(label), "count(1)+id tcp, %d clients",
	    CONC_CLIENTS);
	snprintf(what, sizeof(what), "count.tcp.%dclients", CONC_CLIENTS);
	row(label, what, &G.conc[SRV_STOCK], &G.conc[SRV_BART]);

	say("null, %d idle connections vs none:", G.idle);
	for (t = 0; t < G.nt; t++) {
		n0s = &G.f[SRV_STOCK][I_NONE][t][K_NULL];
		n1s = &G.f[SRV_STOCK][I_MANY][t][K_NULL];
		n0b = &G.f[SRV_BART][I_NONE][t][K_NULL];
		n1b = &G.f[SRV_BART][I_MANY][t][K_NULL];
		if (!n0s->done || !n1s->done || !n0b->done || !n1b->done)
			continue;
		say("  %s stock %.2fx bart %.2fx%s", t_name[t],
		    n1s->ir / n0s->ir, n1b->ir / n0b->ir,
		    t + 1 < G.nt ? ";" : "");
		snprintf(what, sizeof(what), "cg.stock.null.%s.idle%d_vs_idle0",
		    t_name[t], G.idle);
		tsv(what, n1s->ir / n0s->ir, "x");
		snprintf(what, sizeof(what), "cg.bart.null.%s.idle%d_vs_idle0",
		    t_name[t], G.idle);
		tsv(what, n1b->ir / n0b->ir, "x");
	}
	say("\n");

	say("goals (issue 12), bart:\n");
	n0s = &G.f[SRV_STOCK][I_NONE][T_TCP][K_NULL];
	n0b = &G.f[SRV_BART][I_NONE][T_TCP][K_NULL];
	n1b = &G.f[SRV_BART][I_MANY][T_TCP][K_NULL];
	r = n0s->done && n0b->done ? n0b->ir / n0s->ir : 0;
	goal("NULL tcp instructions/call vs stock", n0s->done && n0b->done, r,
	    "x", "<= 1.0x", r <= 1.0, "cg.goal.null_vs_stock");
	snprintf(label, sizeof(label), "NULL tcp, %d idle connections vs none",
	    G.idle);
	r = n0b->done && n1b->done ? n1b->ir / n0b->ir : 0;
	goal(label, n0b->done && n1b->done, r, "x", "<= 1.1x", r <= 1.1,
	    "cg.goal.null_idle_vs_none");
	snprintf(label, sizeof(label), "COUNT+id, %d clients, instructions/call",
	    CONC_CLIENTS);
	goal(label, G.conc[SRV_BART].done, G.conc[SRV_BART].ir, "instr/call",
	    "< 26000", G.conc[SRV_BART].ir < 26000, "cg.goal.count_8clients");
	say("left out as per-second timer work (bart): %.0f instr/s with no "
	    "idle connections, %.0f with %d; the two empty windows agreed "
	    "within %.0f instructions\n", G.xrate[SRV_BART][I_NONE],
	    G.xrate[SRV_BART][I_MANY], G.idle, G.empty_spread);
	tsv("cg.bart.timer_left_out.idle0", G.xrate[SRV_BART][I_NONE],
	    "instr/s");
	snprintf(what, sizeof(what), "cg.bart.timer_left_out.idle%d", G.idle);
	tsv(what, G.xrate[SRV_BART][I_MANY], "instr/s");
	tsv("cg.empty_window_spread", G.empty_spread, "instr");
	if (G.unsettled > 0)
		say("(%d calls were sent before the server was back in its "
		    "poll: figures with them are not exact)\n", G.unsettled);
}

static void
timer_list(const char *list)
{
	char	*s, *t, *save = NULL;
	int	 n = 0;

	if ((s = strdup(list)) == NULL)
		die("out of memory");
	for (t = strtok_r(s, ",", &save); t != NULL && n < 31;
	    t = strtok_r(NULL, ",", &save))
		timer_fns[n++] = t;
	timer_fns[n] = NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bart_cgbench [-qak] -b BINDIR [-o OUTDIR] "
	    "[-c COMMIT] [-n CALLS] [-i IDLE] [-X FN,...] [-C FN]\n"
	    "  -q  quick: tcp only, fewer calls\n"
	    "  -a  append to OUTDIR/results.tsv (bart_bench wrote it)\n"
	    "  -k  keep each window's dump in OUTDIR/callgrind/\n"
	    "  -X  functions whose calls count as timer work, not per call\n"
	    "  -C  the function called once per commit (calls/tx column)\n"
	    "Run it through bench/run.sh: it needs its own namespace "
	    "and rpcbind.\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	char		 path[PATH_MAX + 16], date[64], vg[64];
	struct rlimit	 rl;
	time_t		 t;
	FILE		*p;
	int		 c, append = 0, ncalls = 0, ii, w;

	G.main_pid = getpid();
	G.commit = "unknown";
	G.outdir = ".";
	G.idle = 500;
	G.valgrind = "valgrind";
	timer_list(timer_default);
	while ((c = getopt(argc, argv, "qakb:o:c:n:i:X:C:")) != -1) {
		switch (c) {
		case 'q':
			G.quick = 1;
			break;
		case 'a':
			append = 1;
			break;
		case 'k':
			G.keep = 1;
			break;
		case 'b':
			G.bindir = optarg;
			break;
		case 'o':
			G.outdir = optarg;
			break;
		case 'c':
			G.commit = optarg;
			break;
		case 'n':
			ncalls = atoi(optarg);
			break;
		case 'i':
			G.idle = atoi(optarg);
			break;
		case 'X':
			timer_list(optarg);
			break;
		case 'C':
			commit_fn = optarg;
			break;
		default:
			usage();
		}
	}
	if (G.bindir == NULL || G.idle < 1 || G.idle > 2000 || ncalls < 0)
		usage();
	G.ncalls = ncalls > 0 ? ncalls : G.quick ? 500 : 2000;
	if (G.ncalls < CONC_CLIENTS)
		G.ncalls = CONC_CLIENTS;
	G.nt = G.quick ? 1 : NT;
	G.budget = G.quick ? 150 : 600;
	G.t0 = now_ns();
	G.client_id = util_random_u64() | 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The idle connections need fds (valgrind's cap is for the server). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 &&
	    rl.rlim_max >= 4096) {
		rl.rlim_cur = 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	snprintf(G.tmp, sizeof(G.tmp), "/tmp/bart-cgbench.XXXXXX");
	if (mkdtemp(G.tmp) == NULL)
		die("mkdtemp");
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	mkdir(G.outdir, 0755);
	snprintf(path, sizeof(path), "%s/results.tsv", G.outdir);
	if ((G.tsvf = fopen(path, append ? "a" : "w")) == NULL)
		die("cannot write %s", path);
	if (!append)
		fprintf(G.tsvf, "commit\tfigure\tvalue\tunit\n");

	t = time(NULL);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&t));
	vg[0] = '\0';
	if ((p = popen("valgrind --version 2>/dev/null", "r")) != NULL) {
		if (fgets(vg, sizeof(vg), p) == NULL)
			vg[0] = '\0';
		vg[strcspn(vg, "\n")] = '\0';
		pclose(p);
	}
	say("\nbart_cgbench %s run, %s, commit %s, %s\n", G.quick ? "QUICK" :
	    "full", date, G.commit, vg);
	say("== callgrind: server-side instructions and syscalls per call, "
	    "%d calls a figure%s\n", G.ncalls, G.quick ? " (quick: tcp only)" :
	    "");
	say("per call = (window of N calls - empty window) / N, all server "
	    "threads, the client\nnative; bart's per-second timer work left "
	    "out; syscalls as made natively (with the\nvDSO); calls/tx: "
	    "bart's calls per SQLite commit (method: bench/callgrind.c)\n");
	for (ii = 0; ii < NIDLE; ii++)
		for (w = 0; w < NSRV; w++) {
			if (elapsed_s(G.t0) > G.budget) {
				say("  time budget of %.0f s spent: %s with "
				    "%d idle skipped\n", G.budget, srv_name[w],
				    ii == I_MANY ? G.idle : 0);
				continue;
			}
			measure(w, ii);
		}
	report();
	return 0;
}
