/* SPDX-License-Identifier: ISC */
/* bart_svc.c: the bart daemon's main(), a table of contents. */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <rpc/rpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "env.h"
#include "limit.h"
#include "listen.h"
#include "log.h"
#include "proc.h"
#include "reg.h"
#include "svc.h"
#include "util.h"

#ifndef BART_VERSION
#define BART_VERSION "0.1"
#endif

#define RING_SIZE	1024

static void
usage(FILE *f)
{
	fprintf(f,
"usage: bart_svc [-fv] [-S dir] [-p pidfile] [-u user] [-P port]\n"
"                [--transports LIST] [--listen ADDR]...\n"
"  -f, --foreground          stay in the foreground, log to stderr\n"
"  -S, --state-dir DIR       state directory (default /var/lib/bart)\n"
"  -p, --pidfile FILE        pidfile (default /run/bart/bart_svc.pid as root)\n"
"  -u, --user USER           run as USER (default: bart, if it exists)\n"
"  -P, --port PORT           fixed tcp and udp port (default: any)\n"
"  -s, --socket PATH         AF_UNIX socket for the local transport\n"
"      --transports LIST     of tcp,udp,tcp6,udp6,local (default: all;\n"
"                            tcp6/udp6 skipped on a host without IPv6)\n"
"      --listen ADDR         bind tcp/udp to this numeric address only;\n"
"                            repeatable (default: every address)\n"
"      --sync normal|full    commit durability (default normal)\n"
"      --store CONNINFO      PostgreSQL shared by several servers (a libpq\n"
"                            string or URI; password from ~/.pgpass);\n"
"                            default: SQLite in the state directory\n"
"      --max-subs-per-peer N chat subscriptions per local uid, remote\n"
"                            IPv4 address or IPv6 /64 (128)\n"
"      --max-subs N          chat subscriptions in all (1024)\n"
"      --sub-rate N          CHAT_SUBSCRIBEs per peer per second (10)\n"
"      --idle-timeout SECS   close idle TCP connections after (30)\n"
"      --max-conns N         open tcp and local connections in all (1024)\n"
"      --max-conns-per-peer N  per client address or local uid (64)\n"
"      --udp-cache N         UDP duplicate-request cache entries (1024; 0 off)\n"
"      --chat-rate N         chat messages a second per local uid, IPv4\n"
"                            address or IPv6 /64 (20; 0: no limit)\n"
"      --chat-burst N        ... after a burst of N at once (200)\n"
"      --max-history N       chat messages kept, oldest pruned (10000;\n"
"                            0: all)\n"
"  -v, --verbose             debug logging\n"
"  -V, --version             print the version\n"
"  -h, --help                this help\n");
}

static long long
num_arg(const char *opt, const char *s, long long min, long long max)
{
	long long	v;

	if (util_parse_ll(s, min, max, &v) == -1) {
		fprintf(stderr, "bart_svc: %s: '%s' is not a number in "
		    "%lld..%lld\n", opt, s, min, max);
		exit(64);
	}
	return v;
}

static void
parse_args(struct env *e, struct listen_conf *lc, int argc, char **argv)
{
	enum { O_SYNC = 256, O_SUBS_PEER, O_SUBS, O_IDLE, O_CONNS,
	    O_CONNS_PEER, O_CHAT_RATE, O_CHAT_BURST, O_HISTORY,
	    O_TRANSPORTS, O_LISTEN, O_SUB_RATE, O_STORE, O_UDP_CACHE };
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "port", required_argument, NULL, 'P' },
		{ "socket", required_argument, NULL, 's' },
		{ "sync", required_argument, NULL, O_SYNC },
		{ "max-subs-per-peer", required_argument, NULL, O_SUBS_PEER },
		{ "max-subs", required_argument, NULL, O_SUBS },
		{ "sub-rate", required_argument, NULL, O_SUB_RATE },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "max-conns", required_argument, NULL, O_CONNS },
		{ "max-conns-per-peer", required_argument, NULL,
		    O_CONNS_PEER },
		{ "chat-rate", required_argument, NULL, O_CHAT_RATE },
		{ "chat-burst", required_argument, NULL, O_CHAT_BURST },
		{ "max-history", required_argument, NULL, O_HISTORY },
		{ "store", required_argument, NULL, O_STORE },
		{ "udp-cache", required_argument, NULL, O_UDP_CACHE },
		{ "transports", required_argument, NULL, O_TRANSPORTS },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	c;

	while ((c = getopt_long(argc, argv, "fS:p:u:P:s:vVh", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'f':
			e->foreground = 1;
			break;
		case 'S':
			e->state_dir = optarg;
			break;
		case 'p':
			e->pidfile = optarg;
			break;
		case 'u':
			e->user = optarg;
			break;
		case 'P':
			lc->port = (int)num_arg("--port", optarg, 1, 65535);
			break;
		case 's':
			e->sock_path = optarg;
			break;
		case O_SYNC:
			if (strcmp(optarg, "full") == 0)
				e->sync = STORE_SYNC_FULL;
			else if (strcmp(optarg, "normal") == 0)
				e->sync = STORE_SYNC_NORMAL;
			else {
				fprintf(stderr, "bart_svc: --sync: use "
				    "normal or full\n");
				exit(64);
			}
			break;
		case O_SUBS_PEER:
			e->limits.per_peer = (unsigned int)num_arg(
			    "--max-subs-per-peer", optarg, 1, 100000);
			break;
		case O_SUBS:
			e->limits.total = (unsigned int)num_arg("--max-subs",
			    optarg, 1, 100000);
			break;
		case O_SUB_RATE:
			e->limits.sub_rate = (unsigned int)num_arg(
			    "--sub-rate", optarg, 1, 1000000);
			break;
		case O_IDLE:
			e->idle_secs = (int)num_arg("--idle-timeout", optarg,
			    1, 86400);
			break;
		case O_CONNS:
			e->max_conns = (unsigned int)num_arg("--max-conns",
			    optarg, 1, 1000000);
			break;
		case O_CONNS_PEER:
			e->max_conns_per_peer = (unsigned int)num_arg(
			    "--max-conns-per-peer", optarg, 1, 1000000);
			break;
		case O_UDP_CACHE:
			e->udp_cache = (int)num_arg("--udp-cache", optarg, 0,
			    1048576);
			break;
		case O_CHAT_RATE:
			e->chat_rate = (unsigned int)num_arg("--chat-rate",
			    optarg, 0, 1000000);
			break;
		case O_CHAT_BURST:
			e->chat_burst = (unsigned int)num_arg("--chat-burst",
			    optarg, 1, 1000000);
			break;
		case O_HISTORY:
			e->max_history = (unsigned int)num_arg("--max-history",
			    optarg, 0, 1000000000);
			break;
		case O_TRANSPORTS:
			if (listen_parse_transports(optarg, &lc->transports) ==
			    -1) {
				fprintf(stderr, "bart_svc: --transports: '%s' "
				    "is not a list of tcp, udp, tcp6, udp6, "
				    "local\n", optarg);
				exit(64);
			}
			break;
		case O_LISTEN:
			if (listen_add_addr(lc, optarg) == -1) {
				fprintf(stderr, "bart_svc: --listen: '%s' is "
				    "not a numeric IPv4 or IPv6 address, or a "
				    "repeat, or more than %d\n", optarg,
				    LISTEN_ADDRS);
				exit(64);
			}
			break;
		case O_STORE:
			e->store_conninfo = optarg;
			break;
		case 'v':
			e->verbose = 1;
			break;
		case 'V':
			printf("bart_svc %s\n", BART_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(64);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bart_svc: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		exit(64);
	}
}

/* Defaults that depend on who runs us. */
static void
set_defaults(struct env *e)
{
	static char	 sock[PATH_MAX];
	const char	*home;
	static char	 dir[PATH_MAX];
	int		 root = geteuid() == 0;

	if (e->state_dir == NULL) {
		if (root || (home = getenv("HOME")) == NULL)
			e->state_dir = "/var/lib/bart";
		else {
			snprintf(dir, sizeof(dir), "%s/.local/state/bart",
			    home);
			e->state_dir = dir;
		}
	}
	if (e->pidfile == NULL && root)
		e->pidfile = BART_RUN_DIR "/bart_svc.pid";
	if (e->sock_path == NULL) {
		if (root)
			e->sock_path = BART_RUN_DIR "/bart_svc.sock";
		else {
			snprintf(sock, sizeof(sock), "%s/bart_svc.sock",
			    e->state_dir);
			e->sock_path = sock;
		}
	}
	if (e->user == NULL && root) {
		uid_t	u;
		gid_t	g;

		if (daemon_user("bart", &u, &g) == 0)
			e->user = "bart";
	}
}

/* Fill the ring with the newest history so pushes resume seamlessly. */
static int
ring_row(void *arg, uint64_t seq, int64_t when, const char *name,
    const char *host, const char *text)
{
	chat_append(arg, seq, when, name, host, text);
	return 0;
}

static void
cleanup(struct env *e, int pidfd)
{
	reg_exit(e->reg);		/* ORDER: unregister first */
	svc_close(e);
	proc_exit(e);			/* ORDER: no dispatch after svc_close */
	limit_exit(e->chat_limit);
	push_exit(e->push);
	chat_exit(e->ring);
	store_close(e->store);
	pidfile_remove(e->pidfile, pidfd);
	log_info("stopped");
}

int
main(int argc, char **argv)
{
	struct env	e;
	uid_t		uid = getuid();
	gid_t		gid = getgid();
	struct listen_conf lc;
	uint64_t	newest;
	int		pidfd = -1;

	memset(&e, 0, sizeof(e));
	memset(&lc, 0, sizeof(lc));
	e.ready_fd = -1;
	e.limits.per_peer = 128;
	e.limits.total = 1024;
	e.limits.timeout_ms = 2000;
	e.limits.max_failures = 3;
	e.chat_rate = 20;
	e.chat_burst = 200;
	e.max_history = 10000;
	e.idle_secs = 30;
	e.udp_cache = -1;
	parse_args(&e, &lc, argc, argv);
	set_defaults(&e);
	lc.sock_path = e.sock_path;
	log_init(LOG_TO_STDERR, e.verbose, "bart_svc");
	if (e.user != NULL && daemon_user(e.user, &uid, &gid) == -1)
		fatalx("no such user: %s", e.user);
	if (!e.foreground) {
		e.ready_fd = daemon_detach();
		log_init(LOG_TO_BOTH, e.verbose, "bart_svc");
	}
	/* ORDER: the run user's runtime directory before what goes in it. */
	if (geteuid() == 0 && (daemon_path_in(e.pidfile, BART_RUN_DIR) ||
	    daemon_path_in(e.sock_path, BART_RUN_DIR)) &&
	    daemon_run_dir(BART_RUN_DIR, uid, gid) == -1)
		exit(1);
	if (e.pidfile != NULL && (pidfd = pidfile_create(e.pidfile)) == -1)
		exit(1);
	/* Ours to remove at exit; systemd accepts it (its PID is ours). */
	if (geteuid() == 0 && daemon_path_in(e.pidfile, BART_RUN_DIR) &&
	    fchown(pidfd, uid, gid) == -1)
		log_warn("chown %s", e.pidfile);
	signals_init();
	e.started = time(NULL);
	e.started_us = util_now_us();
	if (daemon_state_dir(e.state_dir, uid, gid) == -1)
		fatalx("cannot prepare state directory %s", e.state_dir);
	/* ORDER: before reg_claim, which unsets "stale" registrations. */
	if (daemon_lock_state(e.state_dir) == -1)
		exit(1);
	if (reg_claim(uid) == -1)	/* ORDER: root: unset stale */
		exit(1);
	/* ORDER: root: bind; after reg_claim, which may refuse. */
	if (listen_open(&e.listen, &lc) == -1)
		exit(1);
	if (svc_open(&e) == -1)
		exit(1);
	if ((e.reg = reg_init(&e.listen)) == NULL)
		fatalx("out of memory");
	if (e.user != NULL && geteuid() == 0 &&
	    daemon_drop(e.user, uid, gid) == -1)
		exit(1);
	if (e.user != NULL && daemon_reachable(e.state_dir, e.user) == -1)
		exit(1);
	/* ORDER: after fork and drop; sqlite and libpq are not fork-safe. */
	if (e.store_conninfo != NULL) {
		if ((e.store = store_open_pg(e.store_conninfo)) == NULL)
			exit(1);	/* one line logged */
	} else if ((e.store = store_open(e.state_dir, e.sync)) == NULL)
		fatalx("cannot open store in %s", e.state_dir);
	if ((e.ring = chat_init(RING_SIZE)) == NULL ||
	    (e.push = push_init(e.ring, &e.limits)) == NULL)
		fatalx("out of memory");
	newest = store_chat_newest(e.store);
	store_chat_since(e.store, newest > RING_SIZE ? newest - RING_SIZE : 0,
	    RING_SIZE, ring_row, e.ring);
	store_feed(e.store, ring_row, e.ring);	/* ORDER: after the fill */
	if (svc_publish(&e) == -1)	/* ORDER: dispatcher before rpcbind */
		exit(1);
	if (reg_publish(e.reg) == -1)	/* ORDER: as the user we run as */
		exit(1);
	log_info("serving program %u, state in %s", BART_PROG, e.state_dir);
	daemon_ready(e.ready_fd);
	if (!e.foreground)
		log_init(LOG_TO_SYSLOG, e.verbose, "bart_svc");
	e.chat_limit = limit_init("chat", e.chat_rate, e.chat_burst);
	if (e.max_history > 0)
		log_info("chat history: the newest %u messages are kept",
		    e.max_history);
	svc_loop(&e);
	cleanup(&e, pidfd);
	return 0;
}
