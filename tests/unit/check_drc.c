/* check_drc.c: the UDP duplicate-request cache, and request identities. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ftw.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "bart.h"
#include "store.h"
#include "suites.h"

/*
 * libtirpc's cache_set() overwrites an evicted entry's copy of the
 * caller address without freeing it: 16 bytes lost per eviction (IPv4).
 * Serving is done with LeakSanitizer looking away; valgrind needs a
 * suppression: Memcheck:Leak, fun:calloc, obj:*libtirpc.so*, ...,
 * fun:svc_sendreply.
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define TIRPC_LEAKS_BEGIN()	__lsan_disable()
#define TIRPC_LEAKS_END()	__lsan_enable()
#else
#define TIRPC_LEAKS_BEGIN()	do { } while (0)
#define TIRPC_LEAKS_END()	do { } while (0)
#endif

/*
 * A program served in-process only: svc_reg() with no netconfig never
 * talks to rpcbind, and the calls are hand-built datagrams.
 */
#define DRC_PROG	0x20000b01
#define DRC_SIZE	4
#define WAIT_MS		1000
#define MAX_PARKED	32

static SVCXPRT			*xprt;
static SVCXPRT			*parked[MAX_PARKED];
static int			 nparked;
static int			 cli[2] = { -1, -1 };
static struct sockaddr_in	 srv;
static unsigned int		 runs;		/* executions */
static char			 last[512];	/* the last reply's bytes */
static ssize_t			 lastlen;

/* Reply with RUN * 100 + VERS * 10 + PROC, so a rerun shows. */
static void
dispatch(struct svc_req *rq, SVCXPRT *x)
{
	u_int	v;

	v = ++runs * 100 + (u_int)rq->rq_vers * 10 + (u_int)rq->rq_proc;
	svc_sendreply(x, (xdrproc_t)xdr_u_int, (char *)&v);
}

static int
udp_socket(struct sockaddr_in *sin)
{
	socklen_t	len = sizeof(*sin);
	int		fd;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0),
	    -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

static void
serve(int cache)
{
	struct netconfig	*nc;
	struct sockaddr_in	 sin;
	int			 fd, i;

	runs = 0;
	fd = udp_socket(&srv);
	ck_assert_ptr_nonnull(nc = getnetconfigent("udp"));
	xprt = svc_tli_create(fd, nc, NULL, 0, 0);
	freenetconfigent(nc);
	ck_assert_ptr_nonnull(xprt);
	if (cache)
		ck_assert_int_eq(svc_dg_enablecache(xprt, DRC_SIZE), 1);
	ck_assert(svc_reg(xprt, DRC_PROG, 1, dispatch, NULL));
	ck_assert(svc_reg(xprt, DRC_PROG, 2, dispatch, NULL));
	for (i = 0; i < 2; i++)
		cli[i] = udp_socket(&sin);
}

static void
setup_cache(void)
{
	serve(1);
}

static void
setup_nocache(void)
{
	serve(0);
}

/*
 * libtirpc never frees a transport's cache (svc_dg_destroy leaks it),
 * so instead of destroying the transport we keep it, reachable, until
 * the process ends.  Its callouts stay too: same dispatch, so the next
 * svc_reg for the program succeeds.  svc_unreg is not used: it would
 * ask the system's rpcbind to unset the program.
 */
static void
teardown(void)
{
	int	i;

	for (i = 0; i < 2; i++) {
		if (cli[i] != -1)
			close(cli[i]);
		cli[i] = -1;
	}
	if (xprt != NULL && nparked < MAX_PARKED)
		parked[nparked++] = xprt;
	else if (xprt != NULL)
		svc_destroy(xprt);
	xprt = NULL;
}

static void
send_call(int c, uint32_t xid, rpcvers_t vers, rpcproc_t proc)
{
	struct rpc_msg	m;
	XDR		x;
	char		buf[256];
	u_int		len;

	memset(&m, 0, sizeof(m));
	m.rm_xid = xid;
	m.rm_direction = CALL;
	m.rm_call.cb_rpcvers = RPC_MSG_VERSION;
	m.rm_call.cb_prog = DRC_PROG;
	m.rm_call.cb_vers = vers;
	m.rm_call.cb_proc = proc;
	m.rm_call.cb_cred = _null_auth;
	m.rm_call.cb_verf = _null_auth;
	xdrmem_create(&x, buf, sizeof(buf), XDR_ENCODE);
	ck_assert(xdr_callmsg(&x, &m));
	len = xdr_getpos(&x);
	xdr_destroy(&x);
	ck_assert_int_eq(sendto(c, buf, len, 0, (struct sockaddr *)&srv,
	    sizeof(srv)), (ssize_t)len);
}

/* Let the server handle the one datagram waiting for it. */
static void
serve_one(void)
{
	struct pollfd	p;

	p.fd = xprt->xp_fd;
	p.events = POLLIN;
	p.revents = 0;
	ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
	TIRPC_LEAKS_BEGIN();
	svc_getreq_poll(&p, 1);
	TIRPC_LEAKS_END();
}

/* Read and check the reply to XID; returns its value. */
static u_int
get_reply(int c, uint32_t xid)
{
	struct pollfd	p;
	struct rpc_msg	m;
	XDR		x;
	u_int		v = 0;

	p.fd = c;
	p.events = POLLIN;
	p.revents = 0;
	ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
	lastlen = recv(c, last, sizeof(last), 0);
	ck_assert_int_gt(lastlen, 0);
	memset(&m, 0, sizeof(m));
	m.acpted_rply.ar_verf = _null_auth;
	m.acpted_rply.ar_results.where = (caddr_t)&v;
	m.acpted_rply.ar_results.proc = (xdrproc_t)xdr_u_int;
	xdrmem_create(&x, last, (u_int)lastlen, XDR_DECODE);
	ck_assert(xdr_replymsg(&x, &m));
	xdr_destroy(&x);
	ck_assert_uint_eq(m.rm_xid, xid);
	ck_assert_int_eq(m.rm_direction, REPLY);
	ck_assert_int_eq(m.rm_reply.rp_stat, MSG_ACCEPTED);
	ck_assert_int_eq(m.acpted_rply.ar_stat, SUCCESS);
	return v;
}

/* One call from client C, served, answered. */
static u_int
call(int c, uint32_t xid, rpcvers_t vers, rpcproc_t proc)
{
	send_call(c, xid, vers, proc);
	serve_one();
	return get_reply(c, xid);
}

/* Call procedure 1 of version 1 from the first client. */
static u_int
call1(uint32_t xid)
{
	return call(cli[0], xid, 1, 1);
}

START_TEST(drc_resend_is_hit)
{
	char	first[sizeof(last)];
	ssize_t	firstlen;

	ck_assert_uint_eq(call1(0x1001), 111);
	memcpy(first, last, sizeof(first));
	firstlen = lastlen;
	ck_assert_uint_eq(call1(0x1001), 111);
	ck_assert_uint_eq(runs, 1);
	ck_assert_int_eq(lastlen, firstlen);
	ck_assert(memcmp(last, first, (size_t)firstlen) == 0);
	ck_assert_uint_eq(call1(0x1002), 211);
	ck_assert_uint_eq(runs, 2);
	ck_assert_uint_eq(call1(0x1001), 111);
	ck_assert_uint_eq(call1(0x1002), 211);
	ck_assert_uint_eq(runs, 2);
	/* A second cache on the same transport is refused. */
	ck_assert_int_eq(svc_dg_enablecache(xprt, DRC_SIZE), 0);
}
END_TEST

/* Without the cache a resend runs again: why bart enables it. */
START_TEST(drc_off_runs_twice)
{
	ck_assert_uint_eq(call1(0x1001), 111);
	ck_assert_uint_eq(call1(0x1001), 211);
	ck_assert_uint_eq(runs, 2);
}
END_TEST

/* The cache is a FIFO of DRC_SIZE replies: the oldest goes first. */
START_TEST(drc_evicts_oldest)
{
	uint32_t	xid;

	for (xid = 0xa; xid <= 0xd; xid++)		/* A B C D */
		ck_assert_uint_eq(call1(xid), (xid - 0xa + 1) * 100 + 11);
	ck_assert_uint_eq(call1(0xa), 111);		/* A still held */
	ck_assert_uint_eq(runs, 4);
	ck_assert_uint_eq(call1(0xe), 511);		/* E evicts A */
	ck_assert_uint_eq(call1(0xa), 611);		/* runs; evicts B */
	ck_assert_uint_eq(call1(0xb), 711);		/* runs; evicts C */
	ck_assert_uint_eq(runs, 7);
	ck_assert_uint_eq(call1(0xd), 411);		/* D E A B held */
	ck_assert_uint_eq(call1(0xe), 511);
	ck_assert_uint_eq(call1(0xa), 611);		/* the new reply */
	ck_assert_uint_eq(call1(0xb), 711);
	ck_assert_uint_eq(runs, 7);
	ck_assert_uint_eq(call1(0xc), 811);		/* C was evicted */
	ck_assert_uint_eq(runs, 8);
}
END_TEST

/* However many calls pass, only the last DRC_SIZE are remembered. */
START_TEST(drc_size_bound)
{
	uint32_t	xid, n = 40;

	for (xid = 1; xid <= n; xid++)
		ck_assert_uint_eq(call1(0x5000 + xid), xid * 100 + 11);
	for (xid = n - DRC_SIZE + 1; xid <= n; xid++)
		ck_assert_uint_eq(call1(0x5000 + xid), xid * 100 + 11);
	ck_assert_uint_eq(runs, n);
	ck_assert_uint_eq(call1(0x5000 + n - DRC_SIZE), (n + 1) * 100 + 11);
	ck_assert_uint_eq(call1(0x5001), (n + 2) * 100 + 11);
	ck_assert_uint_eq(runs, n + 2);
}
END_TEST

/* The same xid from another port is another caller: no hit. */
START_TEST(drc_other_caller)
{
	ck_assert_uint_eq(call(cli[0], 0x77, 1, 1), 111);
	ck_assert_uint_eq(call(cli[1], 0x77, 1, 1), 211);
	ck_assert_uint_eq(call(cli[0], 0x77, 1, 1), 111);
	ck_assert_uint_eq(call(cli[1], 0x77, 1, 1), 211);
	ck_assert_uint_eq(runs, 2);
}
END_TEST

/* The same xid for another procedure or version is no hit either. */
START_TEST(drc_other_proc)
{
	ck_assert_uint_eq(call(cli[0], 0x99, 1, 1), 111);
	ck_assert_uint_eq(call(cli[0], 0x99, 1, 2), 212);
	ck_assert_uint_eq(call(cli[0], 0x99, 2, 1), 321);
	ck_assert_uint_eq(runs, 3);
	ck_assert_uint_eq(call(cli[0], 0x99, 1, 2), 212);
	ck_assert_uint_eq(call(cli[0], 0x99, 2, 1), 321);
	ck_assert_uint_eq(call(cli[0], 0x99, 1, 1), 111);
	ck_assert_uint_eq(runs, 3);
}
END_TEST

/* ---- request identities in the store ---------------------------------- */

static char		 dir[64];
static struct store	*st;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(path);
}

static void
store_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/bart-drc.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(st = store_open(dir, STORE_SYNC_NORMAL));
}

static void
store_teardown(void)
{
	store_close(st);
	st = NULL;
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Only an executed change with a nonzero client id is remembered. */
START_TEST(id_what_is_remembered)
{
	bart_reqid	a = { 0xfeed, 1 }, b = { 0xfeed, 2 }, z = { 0, 3 };
	int64_t		total = -1;
	uint64_t	seq = 0;

	ck_assert_int_eq(store_reqs_count(st), 0);
	ck_assert_int_eq(store_count_add(st, &a, 2, &total), BART_OK);
	ck_assert_int_eq(store_reqs_count(st), 1);
	ck_assert_int_eq(store_count_add(st, &a, 2, &total), BART_OK);
	ck_assert_int_eq(total, 2);
	ck_assert_int_eq(store_reqs_count(st), 1);
	/* The same numbers for a chat line are another request. */
	ck_assert_int_eq(store_chat_add(st, &a, 1, "n", "h", "t", &seq),
	    BART_OK);
	ck_assert_int_eq(store_chat_add(st, &a, 1, "n", "h", "t", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 1);
	ck_assert_int_eq(store_reqs_count(st), 2);
	/* No identity, a refused change, or a read: nothing to keep. */
	ck_assert_int_eq(store_count_add(st, &z, 1, &total), BART_OK);
	ck_assert_int_eq(store_count_add(st, NULL, 1, &total), BART_OK);
	ck_assert_int_eq(store_count_add(st, &b, -1, &total),
	    BART_ENEGATIVE);
	ck_assert_int_eq(store_count_add(st, &b, 0, &total), BART_OK);
	ck_assert_int_eq(total, 4);
	ck_assert_int_eq(store_count_set(st, INT64_MAX), 0);
	ck_assert_int_eq(store_count_add(st, &b, 1, &total),
	    BART_EOVERFLOW);
	ck_assert_int_eq(store_reqs_count(st), 2);
}
END_TEST

/* store_reqs_trim keeps at most MAX identities; the rest run again. */
START_TEST(id_trim_bound)
{
	bart_reqid	id = { 7, 0 };
	int64_t		total = -1;
	int		i, reran = 0;

	for (i = 1; i <= 10; i++) {
		id.seq = (uint64_t)i;
		ck_assert_int_eq(store_count_add(st, &id, 1, &total), BART_OK);
		ck_assert_int_eq(total, i);
	}
	ck_assert_int_eq(store_reqs_count(st), 10);
	ck_assert_int_eq(store_reqs_trim(st, 20), 0);
	ck_assert_int_eq(store_reqs_trim(st, 10), 0);
	ck_assert_int_eq(store_reqs_count(st), 10);
	ck_assert_int_eq(store_reqs_trim(st, 4), 0);
	ck_assert_int_eq(store_reqs_count(st), 4);
	for (i = 1; i <= 10; i++) {
		id.seq = (uint64_t)i;
		ck_assert_int_eq(store_count_add(st, &id, 1, &total), BART_OK);
		if (total > 10)
			reran++;
		else
			ck_assert_int_eq(total, i);	/* the first answer */
	}
	ck_assert_int_eq(reran, 6);
	ck_assert_int_eq(store_count_get(st), 16);
	ck_assert_int_eq(store_reqs_count(st), 10);
	ck_assert_int_eq(store_reqs_trim(st, 0), 0);
	ck_assert_int_eq(store_reqs_count(st), 0);
	ck_assert_int_eq(store_count_add(st, &id, 1, &total), BART_OK);
	ck_assert_int_eq(total, 17);
}
END_TEST

START_TEST(id_prune_counts)
{
	bart_reqid	id = { 9, 0 };
	int64_t		total;
	int		i;

	for (i = 1; i <= 5; i++) {
		id.seq = (uint64_t)i;
		ck_assert_int_eq(store_count_add(st, &id, 1, &total), BART_OK);
	}
	ck_assert_int_eq(store_prune(st, (int64_t)time(NULL) - 600), 0);
	ck_assert_int_eq(store_reqs_count(st), 5);
	ck_assert_int_eq(store_prune(st, (int64_t)time(NULL) + 1), 0);
	ck_assert_int_eq(store_reqs_count(st), 0);
	ck_assert_int_eq(store_count_get(st), 5);
}
END_TEST

Suite *
drc_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("drc");
	tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, setup_cache, teardown);
	tcase_add_test(tc, drc_resend_is_hit);
	tcase_add_test(tc, drc_evicts_oldest);
	tcase_add_test(tc, drc_size_bound);
	tcase_add_test(tc, drc_other_caller);
	tcase_add_test(tc, drc_other_proc);
	suite_add_tcase(s, tc);
	tc = tcase_create("nocache");
	tcase_add_checked_fixture(tc, setup_nocache, teardown);
	tcase_add_test(tc, drc_off_runs_twice);
	suite_add_tcase(s, tc);
	tc = tcase_create("identity");
	tcase_add_checked_fixture(tc, store_setup, store_teardown);
	tcase_add_test(tc, id_what_is_remembered);
	tcase_add_test(tc, id_trim_bound);
	tcase_add_test(tc, id_prune_counts);
	suite_add_tcase(s, tc);
	return s;
}
