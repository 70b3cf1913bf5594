/* SPDX-License-Identifier: ISC */
/*
 * fuzz_dispatch.c: libFuzzer target for bart's request path, fed raw
 * call records through the daemon's own loop iteration (serve_round).
 *
 * Input: byte 0 picks the transport (bit 0: 0 = UDP datagram to a
 * socket on 127.0.0.1, 1 = stream bytes on an AF_UNIX socketpair, which
 * carry their own record marks and may hold several calls); the rest
 * is written as is.  The UDP socket is a listener of serve.c, the
 * socketpair's end an adopted connection, over a real store in a
 * temporary directory, a chat ring and the push module set up as
 * bart_svc.c does, with the duplicate-request cache on.  serve_round
 * serves the input exactly as in the daemon: record reassembly, header
 * parsing, group commit; replies are drained and dropped.
 *
 * SUBSCRIBE starts a delivery thread that calls rpcbind at the caller
 * (127.0.0.1 or, for AF_UNIX, loopback).  As root the target first
 * moves into a fresh network namespace with only loopback, where
 * nothing listens, so no packet can leave and every probe is refused
 * at once.  Each subscription the input made is unsubscribed and its
 * thread reaped before the input ends, so nothing carries over.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <rpc/rpc.h>
#include <rpc/rpc_com.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "env.h"
#include "log.h"
#include "serve.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
bart_status __real_push_subscribe(struct push *, const struct sockaddr *,
	    socklen_t, long, uint32_t, uint32_t, uint64_t, chat_sub_ok *);
bart_status __wrap_push_subscribe(struct push *, const struct sockaddr *,
	    socklen_t, long, uint32_t, uint32_t, uint64_t, chat_sub_ok *);
/* --wrap does not check types: fail the build if push.h changes. */
_Static_assert(__builtin_types_compatible_p(__typeof__(push_subscribe),
    __typeof__(__wrap_push_subscribe)), "update __wrap_push_subscribe");

#define RING_SIZE	64
#define MAX_SUBS	2048		/* per input: > input bytes / 40 */
#define REOPEN_EVERY	20000		/* keep the database small */
#define MAX_ROUNDS	4096		/* serve_round turns per input */

static struct env	 env;
static char		 dir[64];
static struct serve	*srv;
static int		 udp_cli = -1;
static chat_sub_ref	 subs[MAX_SUBS];
static unsigned int	 nsubs;
static int		 base_threads;	/* before the input's first sub */
static unsigned long	 iters;

static int	nthreads(void);

/* Remember every subscription so the input can be undone. */
bart_status
__wrap_push_subscribe(struct push *p, const struct sockaddr *sa,
    socklen_t len, long uid, uint32_t prog, uint32_t vers, uint64_t last,
    chat_sub_ok *ok)
{
	bart_status	st;

	if (nsubs == 0)
		base_threads = nthreads();
	st = __real_push_subscribe(p, sa, len, uid, prog, vers, last, ok);
	if (st == BART_OK && nsubs < MAX_SUBS) {
		subs[nsubs].id = ok->id;
		memcpy(subs[nsubs].token, ok->token, BART_TOKEN_LEN);
		nsubs++;
	}
	return st;
}

static int
nthreads(void)
{
	char	buf[1024], *p;
	int	fd, i;
	ssize_t	n;

	if ((fd = open("/proc/self/stat", O_RDONLY)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	for (i = 0; i < 18 && p != NULL; i++)	/* field 20: num_threads */
		p = strchr(p + 1, ' ');
	return p != NULL ? atoi(p + 1) : -1;
}

/* End every subscription the input made and reap its thread. */
static void
undo_subs(void)
{
	int		base = base_threads;
	unsigned int	i;
	int		waited;

	if (nsubs == 0)
		return;
	for (i = 0; i < nsubs; i++)
		push_unsubscribe(env.push, &subs[i]);
	nsubs = 0;
	/* Refused probes end in microseconds; 5 s means a hang. */
	for (waited = 0; nthreads() > base; waited++) {
		if (waited > 5000) {
			fprintf(stderr, "delivery threads did not end\n");
			abort();
		}
		usleep(1000);
	}
	push_reap(env.push);
}

/* A new network namespace with only loopback, up. */
static void
private_net(void)
{
	struct ifreq	ifr;
	int		fd;

	if (unshare(CLONE_NEWNET) == -1) {
		fprintf(stderr, "fuzz_dispatch: no private network namespace "
		    "(%s); callbacks stay on loopback anyway\n",
		    strerror(errno));
		return;
	}
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		abort();
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == -1)
		abort();
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) == -1)
		abort();
	close(fd);
}

static void
store_files_rm(void)
{
	static const char *const names[] = { "bart.db", "bart.db-wal",
	    "bart.db-shm" };
	char	path[128];
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
}

static void
cleanup(void)
{
	if (env.store != NULL)
		store_close(env.store);
	env.store = NULL;
	store_files_rm();
	rmdir(dir);
}

static void
udp_setup(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		abort();
	if (serve_listen(srv, fd, PROC_UDP) == -1)
		abort();
	if ((udp_cli = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1 ||
	    connect(udp_cli, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp = "/dev/shm";

	(void)argc;
	(void)argv;
	if (geteuid() == 0)
		private_net();
	if (access(tmp, W_OK) == -1)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/bart-fuzz.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	log_init(LOG_TO_STDERR, 0, "fuzz_dispatch");
	env.limits.per_peer = 4;	/* low, so the caps are reachable */
	env.limits.total = 8;
	env.limits.timeout_ms = 200;
	env.limits.max_failures = 1;
	env.started = time(NULL);
	if ((env.store = store_open(dir, STORE_SYNC_NORMAL)) == NULL ||
	    (env.ring = chat_init(RING_SIZE)) == NULL ||
	    (env.push = push_init(env.ring, &env.limits)) == NULL)
		abort();
	if ((srv = serve_init(&env, 1024)) == NULL)
		abort();
	udp_setup();
	return 0;
}

/* One round of the daemon's loop, without waiting. */
static int
serve_once(void)
{
	return serve_round(srv, 0);
}

/* Read and drop what came; -1 once the server closed. */
static int
drain(int fd)
{
	char	buf[65536];
	ssize_t	n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n == 0 ? -1 : 0;
}

static void
run_udp(const uint8_t *data, size_t size)
{
	if (send(udp_cli, data, size, 0) == -1)
		return;
	serve_once();
	drain(udp_cli);
}

static void
run_stream(const uint8_t *data, size_t size)
{
	int	 sv[2], rounds;
	size_t	 off = 0;
	ssize_t	 n;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	if (serve_adopt(srv, sv[0], PROC_LOCAL) == -1)
		abort();
	if (size == 0)
		shutdown(sv[1], SHUT_WR);
	for (rounds = 0; rounds < MAX_ROUNDS; rounds++) {
		if (off < size) {
			n = write(sv[1], data + off, size - off);
			if (n > 0)
				off += (size_t)n;
			if (off == size)
				shutdown(sv[1], SHUT_WR);	/* then EOF */
		}
		serve_once();
		if (drain(sv[1]) == -1)
			break;			/* the server closed it */
	}
	/* Closing our end makes the server close and free its side. */
	close(sv[1]);
	for (rounds = 0; rounds < 16 && serve_conns(srv) > 0; rounds++)
		serve_once();
	if (serve_conns(srv) > 0) {
		fprintf(stderr, "connection not closed after EOF\n");
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (++iters % REOPEN_EVERY == 0) {
		store_close(env.store);
		store_files_rm();
		if ((env.store = store_open(dir, STORE_SYNC_NORMAL)) == NULL)
			abort();
	}
	if (data[0] & 1)
		run_stream(data + 1, size - 1);
	else
		run_udp(data + 1, size - 1);
	undo_subs();
	return 0;
}
