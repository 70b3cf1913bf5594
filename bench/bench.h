/* SPDX-License-Identifier: ISC */
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
	double		 conc_secs;		/* per concurrency point */
	int		 oneshot_runs;		/* headline one-shot */
	int		 oneshot_minor;		/* other one-shot variants */
	int		 fan_rounds;
	int		 scale_queries;
	long		 scale_steps[3];
	int		 drc_rounds;		/* daemon restarts per side */
	double		 time_limit;		/* whole run, seconds */
};

struct bench {
	struct params	 p;
	char		 bindir[PATH_MAX];	/* bart_svc, bart_clnt */
	char		 tmp[64];		/* removed at exit */
	char		 state[PATH_MAX];
	char		 sock[PATH_MAX];
	char		 pidfile[PATH_MAX];
	char		 svclog[PATH_MAX];
	char		 outdir[PATH_MAX];	/* results.tsv, latency.svg */
	const char	*commit;
	const char	*svc_bin;		/* NULL: bindir/bart_svc */
	const char	*svc_env;		/* "NAME=value" for the daemon */
	const char	*svc_args[12];		/* more options, NULL-ended */
	pid_t		 svc_pid;
	size_t		 call_bytes;		/* count call on the wire */
	size_t		 reply_bytes;		/* count reply on the wire */
	uint64_t	 client_id, seq;	/* request identities */
	uint64_t	 t_start;
	const char	*only;			/* run one part (debug) */
	const char	*extra[4];		/* -e LABEL=PATH: more clients */
	int		 nextra;
	double		 floor_p50[3];		/* tcp, udp, local */
	double		 count_p50[3];
};

extern struct bench	*B;
extern const char *const xport_name[3];

/* main.c */
uint64_t	 now_ns(void);
double		 since_us(uint64_t);
void		 child_track(pid_t);
void		 child_stop(pid_t);
void		 child_forget(pid_t);
int		 over_time(void);
void		 say(const char *, ...) __attribute__((format(printf, 1, 2)));
void		 tsv(const char *, double, const char *);
void		 die(const char *, ...) __attribute__((format(printf, 1, 2),
		    noreturn));
void		*shared_alloc(size_t);
void		 shared_free(void *, size_t);

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

/* rpc.c: the bart_svc under test and RPC helpers. */
int		 svc_start(void);
void		 svc_stop(void);
long		 svc_rss_kb(void);
uint64_t	 svc_cpu_ns(void);
CLIENT		*rpc_client(const char *);
int		 rpc_count(CLIENT *, int, int, int64_t *);
int		 rpc_null(CLIENT *);
void		 rpc_reqid(bart_reqid *);
void		 measure_sizes(void);

/* floor.c: the raw echo server and client. */
struct echo;
struct echo	*echo_start(size_t, size_t);
void		 echo_stop(struct echo *);
int		 echo_connect(struct echo *, const char *);
int		 echo_call(struct echo *, int, const char *);

/* latency.c, oneshot.c, chat.c, scale.c */
void		 bench_latency(void);
void		 bench_conc(void);
void		 bench_drc(void);
void		 bench_oneshot(void);
void		 bench_fanout(void);
void		 bench_fansim(void);
void		 bench_scale(void);

#endif
