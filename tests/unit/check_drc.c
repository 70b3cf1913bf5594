/* check_drc.c: bart's UDP duplicate-request cache, and request identities. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "bart.h"
#include "drc.h"
#include "suites.h"
#include "util.h"

#define DRC_PROG	0x20000b01
#define DRC_SIZE	4
#define WAIT_MS		1000
#define PROC_BIG	9		/* replies with BIG_LEN characters */
#define BIG_LEN		7000
#define MANY_CALLS	5000

/* ---- the cache alone ---------------------------------------------------- */

static struct drc	*dc;

static void
pure_teardown(void)
{
	drc_exit(dc);
	dc = NULL;
}

static struct sockaddr_in
sin_of(const char *ip, uint16_t port)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6
sin6_of(const char *ip, uint16_t port)
{
	struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	return sin6;
}

static struct drc_key
key_of(uint32_t xid, const void *sa, socklen_t len)
{
	struct drc_key	k;

	memset(&k, 0, sizeof(k));
	k.xid = xid;
	k.prog = DRC_PROG;
	k.vers = 1;
	k.proc = 1;
	k.addr = sa;
	k.addrlen = len;
	return k;
}

/* LEN bytes that tell SEED apart. */
static void
fill(unsigned char *buf, size_t len, unsigned int seed)
{
	size_t	i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}

/* Is exactly the reply filled with SEED, LEN long, held for K? */
static int
holds(const struct drc_key *k, size_t len, unsigned int seed)
{
	static unsigned char	 want[DRC_REPLY_MAX];
	const unsigned char	*got;
	size_t			 n = 0;

	if ((got = drc_lookup(dc, k, &n)) == NULL || n != len)
		return 0;
	fill(want, len, seed);
	return memcmp(got, want, len) == 0;
}

static void
put(const struct drc_key *k, size_t len, unsigned int seed)
{
	static unsigned char	buf[DRC_REPLY_MAX];

	fill(buf, len, seed);
	ck_assert_int_eq(drc_insert(dc, k, buf, len), 0);
}

START_TEST(drc_hit_and_miss)
{
	struct sockaddr_in	sin = sin_of("127.0.0.1", 700);
	struct drc_key		k = key_of(0x1001, &sin, sizeof(sin));
	unsigned char		buf[40];
	size_t			n = 0;

	ck_assert_ptr_nonnull(dc = drc_init(8));
	ck_assert_ptr_null(drc_lookup(dc, &k, &n));
	fill(buf, sizeof(buf), 1);
	ck_assert_int_eq(drc_insert(dc, &k, buf, sizeof(buf)), 0);
	memset(buf, 0, sizeof(buf));		/* the cache has its own copy */
	ck_assert(holds(&k, sizeof(buf), 1));
	k.xid = 0x1002;
	ck_assert_ptr_null(drc_lookup(dc, &k, &n));
	ck_assert_uint_eq(drc_count(dc), 1);
	ck_assert_uint_eq(drc_bytes(dc), sizeof(buf));
}
END_TEST

/* Every part of the key counts; the padding of a sockaddr does not. */
START_TEST(drc_key_parts)
{
	struct sockaddr_in	sin = sin_of("127.0.0.1", 700), o4;
	struct sockaddr_in6	s6 = sin6_of("::ffff:127.0.0.1", 700), o6;
	struct drc_key		base = key_of(0x77, &sin, sizeof(sin)), k;

	ck_assert_ptr_nonnull(dc = drc_init(16));
	put(&base, 30, 1);
	k = base;
	k.xid++;
	ck_assert(!holds(&k, 30, 1));
	k = base;
	k.prog++;
	ck_assert(!holds(&k, 30, 1));
	k = base;
	k.vers++;
	ck_assert(!holds(&k, 30, 1));
	k = base;
	k.proc++;
	ck_assert(!holds(&k, 30, 1));
	o4 = sin_of("127.0.0.1", 701);		/* another port */
	k.proc = base.proc;
	k.addr = (struct sockaddr *)&o4;
	ck_assert(!holds(&k, 30, 1));
	o4 = sin_of("127.0.0.2", 700);		/* another host */
	ck_assert(!holds(&k, 30, 1));
	k.addr = (struct sockaddr *)&s6;	/* the same, as IPv6 */
	k.addrlen = sizeof(s6);
	ck_assert(!holds(&k, 30, 1));
	o4 = sin;				/* sin_zero is not the key */
	memset(o4.sin_zero, 0xa5, sizeof(o4.sin_zero));
	k.addr = (struct sockaddr *)&o4;
	k.addrlen = sizeof(o4);
	ck_assert(holds(&k, 30, 1));
	ck_assert(holds(&base, 30, 1));

	/* IPv6: port, address and scope count; the flow label does not. */
	k = key_of(0x77, &s6, sizeof(s6));
	put(&k, 31, 2);
	o6 = s6;
	o6.sin6_flowinfo = htonl(0x12345);
	k.addr = (struct sockaddr *)&o6;
	ck_assert(holds(&k, 31, 2));
	o6 = s6;
	o6.sin6_scope_id = 2;
	ck_assert(!holds(&k, 31, 2));
	o6 = s6;
	o6.sin6_port = htons(701);
	ck_assert(!holds(&k, 31, 2));
	o6 = sin6_of("::1", 700);
	ck_assert(!holds(&k, 31, 2));
	ck_assert_uint_eq(drc_count(dc), 2);
}
END_TEST

/* FIFO: the oldest goes first, and a hit does not make it younger. */
START_TEST(drc_fifo_order)
{
	struct sockaddr_in	sin = sin_of("10.0.0.1", 1000);
	struct drc_key		k[6];
	int			i;

	ck_assert_ptr_nonnull(dc = drc_init(4));
	for (i = 0; i < 6; i++)
		k[i] = key_of(0xa0 + (uint32_t)i, &sin, sizeof(sin));
	for (i = 0; i < 4; i++)				/* A B C D */
		put(&k[i], 10 + (size_t)i, (unsigned int)i);
	ck_assert(holds(&k[0], 10, 0));			/* A hit ... */
	put(&k[4], 14, 4);				/* ... still goes */
	ck_assert(!holds(&k[0], 10, 0));
	for (i = 1; i <= 4; i++)
		ck_assert(holds(&k[i], 10 + (size_t)i, (unsigned int)i));
	put(&k[5], 15, 5);				/* then B */
	ck_assert(!holds(&k[1], 11, 1));
	for (i = 2; i <= 5; i++)
		ck_assert(holds(&k[i], 10 + (size_t)i, (unsigned int)i));
	ck_assert_uint_eq(drc_count(dc), 4);
	ck_assert_uint_eq(drc_bytes(dc), 12 + 13 + 14 + 15);
}
END_TEST

/* The same call again replaces its reply and keeps its place. */
START_TEST(drc_same_key_replaces)
{
	struct sockaddr_in	sin = sin_of("10.0.0.1", 1000);
	struct drc_key		k[5];
	int			i;

	ck_assert_ptr_nonnull(dc = drc_init(4));
	for (i = 0; i < 5; i++)
		k[i] = key_of(0xb0 + (uint32_t)i, &sin, sizeof(sin));
	put(&k[0], 10, 0);
	put(&k[0], 300, 9);
	ck_assert_uint_eq(drc_count(dc), 1);
	ck_assert_uint_eq(drc_bytes(dc), 300);
	ck_assert(holds(&k[0], 300, 9));
	put(&k[0], 5, 8);
	ck_assert(holds(&k[0], 5, 8));
	ck_assert_uint_eq(drc_bytes(dc), 5);
	for (i = 1; i < 4; i++)
		put(&k[i], 20, (unsigned int)i);
	put(&k[4], 20, 4);				/* A was first */
	ck_assert(!holds(&k[0], 5, 8));
	ck_assert_uint_eq(drc_count(dc), 4);
}
END_TEST

/* However many replies pass, the last SIZE are held and no more. */
START_TEST(drc_size_bound)
{
	struct sockaddr_in	sin = sin_of("10.0.0.2", 2000);
	struct drc_key		k;
	unsigned int		i, n = 10000, size = 16;
	size_t			sum = 0;

	ck_assert_ptr_nonnull(dc = drc_init(size));
	k = key_of(0, &sin, sizeof(sin));
	for (i = 0; i < n; i++) {
		k.xid = i;
		sin.sin_port = htons((uint16_t)(2000 + i % 3));
		put(&k, 1 + i % 500, i);
		ck_assert_uint_eq(drc_count(dc), i < size ? i + 1 : size);
	}
	for (i = 0; i < n; i++) {
		k.xid = i;
		sin.sin_port = htons((uint16_t)(2000 + i % 3));
		if (i < n - size)
			ck_assert(!holds(&k, 1 + i % 500, i));
		else {
			ck_assert(holds(&k, 1 + i % 500, i));
			sum += 1 + i % 500;
		}
	}
	ck_assert_uint_eq(drc_bytes(dc), sum);
}
END_TEST

/* Replies of every length keep their bytes, up to DRC_REPLY_MAX. */
START_TEST(drc_reply_lengths)
{
	static const size_t	len[] = { 1, 2, 3, 4, 5, 7, 8, 24, 100, 104,
	    1000, 4096, DRC_REPLY_MAX - 1, DRC_REPLY_MAX };
	struct sockaddr_in	sin = sin_of("10.0.0.3", 3000);
	struct drc_key		k = key_of(0, &sin, sizeof(sin));
	unsigned char		buf[DRC_REPLY_MAX + 1];
	size_t			i, n = sizeof(len) / sizeof(len[0]);

	ck_assert_ptr_nonnull(dc = drc_init((unsigned int)n));
	for (i = 0; i < n; i++) {
		k.xid = (uint32_t)i;
		put(&k, len[i], (unsigned int)i);
	}
	for (i = 0; i < n; i++) {
		k.xid = (uint32_t)i;
		ck_assert(holds(&k, len[i], (unsigned int)i));
	}
	/* Too long or empty: refused, and the held reply stays. */
	k.xid = 0;
	fill(buf, sizeof(buf), 77);
	ck_assert_int_eq(drc_insert(dc, &k, buf, DRC_REPLY_MAX + 1), -1);
	ck_assert_int_eq(drc_insert(dc, &k, buf, 0), -1);
	ck_assert(holds(&k, len[0], 0));
	k.xid = 0x999;
	ck_assert_int_eq(drc_insert(dc, &k, buf, DRC_REPLY_MAX + 1), -1);
	ck_assert_uint_eq(drc_count(dc), n);
}
END_TEST

/* Many callers with one xid: all held, all told apart. */
START_TEST(drc_one_xid_many_callers)
{
	struct sockaddr_in	sin = sin_of("10.0.0.4", 0);
	struct drc_key		k = key_of(0x42, &sin, sizeof(sin));
	unsigned int		i, n = 256;

	ck_assert_ptr_nonnull(dc = drc_init(n));
	for (i = 0; i < n; i++) {
		sin.sin_port = htons((uint16_t)(1000 + i));
		put(&k, 8 + i % 32, i);
	}
	for (i = 0; i < n; i++) {
		sin.sin_port = htons((uint16_t)(1000 + i));
		ck_assert(holds(&k, 8 + i % 32, i));
	}
	ck_assert_uint_eq(drc_count(dc), n);
}
END_TEST

START_TEST(drc_bad_input)
{
	struct sockaddr_in	sin = sin_of("10.0.0.5", 5);
	struct sockaddr_un	sun;
	struct drc_key		k = key_of(1, &sin, sizeof(sin));
	unsigned char		buf[8] = { 0 };
	size_t			n;

	ck_assert_ptr_null(drc_init(0));
	ck_assert_ptr_null(drc_init(DRC_ENTRIES_MAX + 1));
	drc_exit(NULL);
	ck_assert_ptr_null(drc_lookup(NULL, &k, &n));
	ck_assert_int_eq(drc_insert(NULL, &k, buf, sizeof(buf)), -1);
	ck_assert_ptr_nonnull(dc = drc_init(1));
	k.addrlen = sizeof(sin) - 1;			/* cut short */
	ck_assert_int_eq(drc_insert(dc, &k, buf, sizeof(buf)), -1);
	k.addr = NULL;
	ck_assert_int_eq(drc_insert(dc, &k, buf, sizeof(buf)), -1);
	ck_assert_ptr_null(drc_lookup(dc, &k, &n));
	memset(&sun, 0, sizeof(sun));			/* too long a key */
	sun.sun_family = AF_UNIX;
	k.addr = (struct sockaddr *)&sun;
	k.addrlen = sizeof(sun);
	ck_assert_int_eq(drc_insert(dc, &k, buf, sizeof(buf)), -1);
	k.addrlen = sizeof(sa_family_t) + 6;		/* a short one is fine */
	ck_assert_int_eq(drc_insert(dc, &k, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(drc_lookup(dc, &k, &n));
	ck_assert_uint_eq(drc_count(dc), 1);
	ck_assert_uint_eq(drc_bytes(dc), sizeof(buf));
}
END_TEST

/* ---- the cache in front of a real libtirpc UDP transport --------------- */

/*
 * A program served in-process only: svc_reg() with no netconfig never
 * talks to rpcbind, and the calls are hand-built datagrams.  Its
 * dispatch uses the cache as proc_dispatch does.
 */
static SVCXPRT			*xprt;
static struct drc		*cache;
static int			 cli[2] = { -1, -1 };
static struct sockaddr_in	 srv;
static unsigned int		 runs;		/* executions */
static unsigned int		 unkept;	/* replies not remembered */
static char			 last[DRC_REPLY_MAX];	/* the last reply */
static ssize_t			 lastlen;
static char			 big[BIG_LEN + 1];

/* Reply with RUN * 100 + VERS * 10 + PROC, so a rerun shows. */
static void
dispatch(struct svc_req *rq, SVCXPRT *x)
{
	char	*s = big;
	u_int	 v;
	bool_t	 sent;

	if (rq->rq_proc == NULLPROC) {
		svc_sendreply(x, XDR_VOID, NULL);
		return;
	}
	if (drc_dg_resend(cache, rq, x))
		return;
	v = ++runs * 100 + (u_int)rq->rq_vers * 10 + (u_int)rq->rq_proc;
	if (rq->rq_proc == PROC_BIG) {
		memset(big, 'a' + (int)(runs % 26), BIG_LEN);
		sent = svc_sendreply(x, (xdrproc_t)xdr_wrapstring,
		    (char *)&s);
	} else
		sent = svc_sendreply(x, (xdrproc_t)xdr_u_int, (char *)&v);
	if (sent && drc_dg_remember(cache, rq, x) == -1)
		unkept++;
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
serve(unsigned int size)
{
	struct netconfig	*nc;
	struct sockaddr_in	 sin;
	int			 fd, i;

	runs = unkept = 0;
	cache = NULL;
	if (size > 0)
		ck_assert_ptr_nonnull(cache = drc_init(size));
	fd = udp_socket(&srv);
	ck_assert_ptr_nonnull(nc = getnetconfigent("udp"));
	xprt = svc_tli_create(fd, nc, NULL, 0, 0);
	freenetconfigent(nc);
	ck_assert_ptr_nonnull(xprt);
	ck_assert(svc_reg(xprt, DRC_PROG, 1, dispatch, NULL));
	ck_assert(svc_reg(xprt, DRC_PROG, 2, dispatch, NULL));
	for (i = 0; i < 2; i++)
		cli[i] = udp_socket(&sin);
}

static void
setup_cache(void)
{
	serve(DRC_SIZE);
}

static void
setup_nocache(void)
{
	serve(0);
}

/*
 * bart's cache lives outside the transport, so both go cleanly.  The
 * callouts stay registered (same dispatch: the next svc_reg for the
 * program succeeds); svc_unreg would ask the system's rpcbind to unset.
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
	if (xprt != NULL)
		svc_destroy(xprt);
	xprt = NULL;
	drc_exit(cache);
	cache = NULL;
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
	svc_getreq_poll(&p, 1);
}

/* Read and check the reply to XID into last[], decoding it with XRES. */
static void
get_reply(int c, uint32_t xid, xdrproc_t xres, void *where)
{
	struct pollfd	p;
	struct rpc_msg	m;
	XDR		x;

	p.fd = c;
	p.events = POLLIN;
	p.revents = 0;
	ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
	lastlen = recv(c, last, sizeof(last), 0);
	ck_assert_int_gt(lastlen, 0);
	memset(&m, 0, sizeof(m));
	m.acpted_rply.ar_verf = _null_auth;
	m.acpted_rply.ar_results.where = where;
	m.acpted_rply.ar_results.proc = xres;
	xdrmem_create(&x, last, (u_int)lastlen, XDR_DECODE);
	ck_assert(xdr_replymsg(&x, &m));
	xdr_destroy(&x);
	ck_assert_uint_eq(m.rm_xid, xid);
	ck_assert_int_eq(m.rm_direction, REPLY);
	ck_assert_int_eq(m.rm_reply.rp_stat, MSG_ACCEPTED);
	ck_assert_int_eq(m.acpted_rply.ar_stat, SUCCESS);
}

/* One call from client C, served, answered. */
static u_int
call(int c, uint32_t xid, rpcvers_t vers, rpcproc_t proc)
{
	u_int	v = 0;

	send_call(c, xid, vers, proc);
	serve_one();
	get_reply(c, xid, (xdrproc_t)xdr_u_int, &v);
	return v;
}

/* Call procedure 1 of version 1 from the first client. */
static u_int
call1(uint32_t xid)
{
	return call(cli[0], xid, 1, 1);
}

/* Are the bytes cached for client C's call those it received last? */
static int
cached_is_last(int c, uint32_t xid, rpcvers_t vers, rpcproc_t proc)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	struct drc_key		 k;
	const unsigned char	*b;
	size_t			 n = 0;

	ck_assert_int_eq(getsockname(c, (struct sockaddr *)&sin, &len), 0);
	k = key_of(xid, &sin, len);
	k.vers = (uint32_t)vers;
	k.proc = (uint32_t)proc;
	if ((b = drc_lookup(cache, &k, &n)) == NULL)
		return 0;
	return (ssize_t)n == lastlen && memcmp(b, last, n) == 0;
}

/* A resend gets the first reply, byte for byte, and runs nothing. */
START_TEST(dg_resend_is_hit)
{
	char	first[64];
	ssize_t	firstlen;

	ck_assert_uint_eq(call1(0x1001), 111);
	ck_assert(cached_is_last(cli[0], 0x1001, 1, 1));	/* the wire */
	ck_assert_int_le(lastlen, (ssize_t)sizeof(first));
	memcpy(first, last, (size_t)lastlen);
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
	ck_assert_uint_eq(unkept, 0);
	ck_assert_uint_eq(drc_count(cache), 2);
}
END_TEST

/* A reply near libtirpc's buffer size is cached whole, as sent. */
START_TEST(dg_big_reply)
{
	char	*s = NULL, first[DRC_REPLY_MAX];
	ssize_t	 firstlen;

	send_call(cli[0], 0x2001, 1, PROC_BIG);
	serve_one();
	get_reply(cli[0], 0x2001, (xdrproc_t)xdr_wrapstring, &s);
	ck_assert_uint_eq(strlen(s), BIG_LEN);
	ck_assert_int_eq(s[0], 'b');
	xdr_free((xdrproc_t)xdr_wrapstring, (char *)&s);
	ck_assert_int_gt(lastlen, BIG_LEN);
	ck_assert(cached_is_last(cli[0], 0x2001, 1, PROC_BIG));
	memcpy(first, last, (size_t)lastlen);
	firstlen = lastlen;
	send_call(cli[0], 0x2001, 1, PROC_BIG);
	serve_one();
	get_reply(cli[0], 0x2001, (xdrproc_t)xdr_wrapstring, &s);
	xdr_free((xdrproc_t)xdr_wrapstring, (char *)&s);
	ck_assert_uint_eq(runs, 1);
	ck_assert_int_eq(lastlen, firstlen);
	ck_assert(memcmp(last, first, (size_t)firstlen) == 0);
	ck_assert_uint_eq(drc_bytes(cache), (size_t)firstlen);
}
END_TEST

/* Without the cache a resend runs again: why bart has one. */
START_TEST(dg_off_runs_twice)
{
	ck_assert_uint_eq(call1(0x1001), 111);
	ck_assert_uint_eq(call1(0x1001), 211);
	ck_assert_uint_eq(runs, 2);
}
END_TEST

/* FIFO of DRC_SIZE replies: the oldest goes first, hit or not. */
START_TEST(dg_evicts_oldest)
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

/* After DRC_SIZE other calls a resend is held; after one more it runs. */
START_TEST(dg_rerun_after_size_plus_one)
{
	uint32_t	xid;

	ck_assert_uint_eq(call1(0x1), 111);
	for (xid = 0x100; xid < 0x100 + DRC_SIZE - 1; xid++)
		call1(xid);
	ck_assert_uint_eq(call1(0x1), 111);		/* DRC_SIZE held */
	call1(0x100 + DRC_SIZE);
	ck_assert_uint_eq(runs, DRC_SIZE + 1);
	ck_assert_uint_eq(call1(0x1), (DRC_SIZE + 2) * 100 + 11);
}
END_TEST

/* The same xid from another port is another caller: no hit. */
START_TEST(dg_other_caller)
{
	ck_assert_uint_eq(call(cli[0], 0x77, 1, 1), 111);
	ck_assert_uint_eq(call(cli[1], 0x77, 1, 1), 211);
	ck_assert_uint_eq(call(cli[0], 0x77, 1, 1), 111);
	ck_assert_uint_eq(call(cli[1], 0x77, 1, 1), 211);
	ck_assert_uint_eq(runs, 2);
}
END_TEST

/* The same xid for another procedure or version is no hit either. */
START_TEST(dg_other_proc)
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

/*
 * Many evictions through a small cache: each call runs once, its
 * resend is a hit, and only DRC_SIZE replies stay.  Under valgrind or
 * LeakSanitizer this is the leak check libtirpc's cache fails.
 */
START_TEST(dg_many_evictions)
{
	uint32_t	i;
	int		c;

	for (i = 0; i < MANY_CALLS; i++) {
		c = cli[i % 2];
		ck_assert_uint_eq(call(c, 0x10000 + i, 1, 1),
		    (i + 1) * 100 + 11);
		if (i % 500 == 0)
			ck_assert_uint_eq(call(c, 0x10000 + i, 1, 1),
			    (i + 1) * 100 + 11);
	}
	ck_assert_uint_eq(runs, MANY_CALLS);
	ck_assert_uint_eq(unkept, 0);
	ck_assert_uint_eq(drc_count(cache), DRC_SIZE);
}
END_TEST

Suite *
drc_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("drc");
	tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, NULL, pure_teardown);
	tcase_add_test(tc, drc_hit_and_miss);
	tcase_add_test(tc, drc_key_parts);
	tcase_add_test(tc, drc_fifo_order);
	tcase_add_test(tc, drc_same_key_replaces);
	tcase_add_test(tc, drc_size_bound);
	tcase_add_test(tc, drc_reply_lengths);
	tcase_add_test(tc, drc_one_xid_many_callers);
	tcase_add_test(tc, drc_bad_input);
	suite_add_tcase(s, tc);
	tc = tcase_create("udp");
	tcase_add_checked_fixture(tc, setup_cache, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dg_resend_is_hit);
	tcase_add_test(tc, dg_big_reply);
	tcase_add_test(tc, dg_evicts_oldest);
	tcase_add_test(tc, dg_rerun_after_size_plus_one);
	tcase_add_test(tc, dg_other_caller);
	tcase_add_test(tc, dg_other_proc);
	tcase_add_test(tc, dg_many_evictions);
	suite_add_tcase(s, tc);
	tc = tcase_create("nocache");
	tcase_add_checked_fixture(tc, setup_nocache, teardown);
	tcase_add_test(tc, dg_off_runs_twice);
	suite_add_tcase(s, tc);
	return s;
}
