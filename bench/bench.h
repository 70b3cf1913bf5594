/* bench.h: what the parts of bart_bench share. */
#ifndef BART_BENCH_H
#define BART_BENCH_H

#include <sys/types.h>

#include <limits.h>
#include <rpc/rpc.h>
#include <stddef.h>
#include <stdint.h>

#include "bart.h"

#define CALL_TIMEOUT_S	5		/* every RPC the bench makes */
#define MAX_CHILDREN	256

/* Latency samples in microseconds. */
struct samples {
	double		*v;
	size_t		 n, cap;
	int		 sorted;
};

struct summary {
	size_t		 n;
	double		 p50, p90, p99, p999, max, mean;
};

/* Run parameters: quick and full differ only here. */
struct params {
	int		 quick;
	int		 warmup;		/* calls before measuring */
	int		 calls;			/* per series, latency runs */
	int		 block;			/* interleaving block */
	int		 pinned_calls;
	double		 conc_secs;		/* per concurrency point */
	int		 oneshot_runs;		/* headline one-shot */
	int		 oneshot_minor;		/* other one-shot variants */
	int		 oneshot_tcp;		/* tcp ones: reserved ports */
	int		 fan_rounds;
	int		 scale_queries;
	long		 scale_steps[3];
	double		 time_limit;		/* whole run, seconds */
};

struct bench {
	struct params	 p;
	char		 bindir[PATH_MAX];	/* bart_svc, bart_clnt */
	char		 benchdir[PATH_MAX];	/* bart_probe & co */
	char		 tmp[PATH_MAX];		/* removed at exit */
	char		 state[PATH_MAX];
	char		 sock[PATH_MAX];
	char		 pidfile[PATH_MAX];
	char		 svclog[PATH_MAX];
	const char	*svg;
	const char	*json;
	pid_t		 svc_pid;
	size_t		 call_bytes;		/* count call on a stream */
	size_t		 reply_bytes;		/* count reply on a stream */
	uint64_t	 client_id, seq;	/* request identities */
	uint64_t	 t_start;
	const char	*only;			/* run one part (debug) */
};

/* main.c */
extern struct bench	*B;
uint64_t	 now_ns(void);
double		 since_us(uint64_t);
void		 child_track(pid_t);
void		 child_stop(pid_t);
void		 child_forget(pid_t);
int		 over_time(void);
void		 say(const char *, ...) __attribute__((format(printf, 1, 2)));
void		 json(const char *, ...) __attribute__((format(printf, 1, 2)));
void		 die(const char *, ...) __attribute__((format(printf, 1, 2),
		    noreturn));
void		 pin_self(int);
void		 pin_pid(pid_t, int);

/* stats.c */
void		 samples_init(struct samples *, size_t);
void		 samples_add(struct samples *, double);
void		 samples_free(struct samples *);
double		 samples_pct(struct samples *, double);
void		 samples_sum(struct samples *, struct summary *);
double		 pct_of(double *, size_t, double);
struct svg;
struct svg	*svg_open(const char *, int);
void		 svg_panel(struct svg *, const char *, struct samples **,
		    const char **, int);
void		 svg_close(struct svg *);

/* daemon.c: the bart_svc under test and RPC helpers. */
int		 svc_start(void);
void		 svc_stop(void);
long		 svc_rss_kb(void);
CLIENT		*rpc_client(const char *);
int		 rpc_count(CLIENT *, int, int64_t *);
int		 rpc_null(CLIENT *);
void		 rpc_reqid(bart_reqid *);
void		 measure_sizes(void);

/* floor.c: the raw echo server and client. */
struct echo;
struct echo	*echo_start(size_t, size_t);
void		 echo_stop(struct echo *);
int		 echo_connect(struct echo *, const char *);
int		 echo_call(struct echo *, int, const char *);

/* latency.c, conc.c, oneshot.c, fanout.c, scale.c */
void		 bench_latency(void);
void		 bench_conc(void);
void		 bench_oneshot(void);
void		 bench_fanout(void);
void		 bench_scale(void);

#endif
