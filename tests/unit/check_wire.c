/* SPDX-License-Identifier: ISC */
/*
 * check_wire.c: call headers parsed with bounds, replies that
 * xdr_replymsg reads back, record marks (server/wire.c); and one round
 * of the loop over real sockets (server/serve.c): a UDP resend answered
 * from the duplicate-request cache, fragments and pipelined calls on a
 * stream.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <rpc/rpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bart.h"
#include "chat.h"
#include "env.h"
#include "log.h"
#include "push.h"
#include "serve.h"
#include "store.h"
#include "suites.h"
#include "wire.h"

struct msg {
	unsigned char	b[32 * 1024];
	size_t		n;
};

static void
p32(struct msg *m, uint32_t v)
{
	v = htonl(v);
	memcpy(m->b + m->n, &v, 4);
	m->n += 4;
}

static void
hdr(struct msg *m, uint32_t rpcvers, uint32_t proc)
{
	m->n = 0;
	p32(m, 0x1234);			/* xid */
	p32(m, CALL);
	p32(m, rpcvers);
	p32(m, BART_PROG);
	p32(m, BART_VERS);
	p32(m, proc);
}

static void
none(struct msg *m)
{
	p32(m, AUTH_NONE);
	p32(m, 0);
}

/* AUTH_SYS: stamp, "host", uid, gid, NGIDS gids; body length BODY. */
static void
sys(struct msg *m, uint32_t body, uint32_t ngids)
{
	uint32_t	i;

	p32(m, AUTH_SYS);
	p32(m, body);
	p32(m, 7);			/* stamp */
	p32(m, 4);
	memcpy(m->b + m->n, "host", 4);
	m->n += 4;
	p32(m, 1000);			/* uid */
	p32(m, 100);			/* gid */
	p32(m, ngids);
	for (i = 0; i < ngids; i++)
		p32(m, i);
}

START_TEST(parse_auth_none)
{
	struct msg		m;
	struct wire_call	c;

	hdr(&m, 2, STATS);
	none(&m);
	none(&m);
	p32(&m, 99);
	ck_assert_int_eq(wire_call_parse(m.b, m.n, &c), WIRE_OK);
	ck_assert_uint_eq(c.xid, 0x1234);
	ck_assert_uint_eq(c.prog, BART_PROG);
	ck_assert_uint_eq(c.proc, STATS);
	ck_assert_int_eq(c.sys, 0);
	ck_assert_uint_eq(c.argslen, 4);
	ck_assert_ptr_eq(c.args, m.b + m.n - 4);
}
END_TEST

START_TEST(parse_auth_sys)
{
	struct msg		m;
	struct wire_call	c;

	hdr(&m, 2, STATS);
	sys(&m, 5 * 4 + 4 + 2 * 4, 2);
	none(&m);
	ck_assert_int_eq(wire_call_parse(m.b, m.n, &c), WIRE_OK);
	ck_assert_int_eq(c.sys, 1);
	ck_assert_uint_eq(c.sys_uid, 1000);
	ck_assert_uint_eq(c.argslen, 0);
	/* The body length must be exact: one word more or less. */
	hdr(&m, 2, STATS);
	sys(&m, 5 * 4 + 4 + 2 * 4 + 4, 2);
	p32(&m, 0);
	none(&m);
	ck_assert_int_eq(wire_call_parse(m.b, m.n, &c), WIRE_BADCRED);
	hdr(&m, 2, STATS);
	sys(&m, 5 * 4 + 4 + 4, 2);
	none(&m);
	ck_assert_int_ne(wire_call_parse(m.b, m.n, &c), WIRE_OK);
	/* 17 gids, over AUTH_SYS's bound. */
	hdr(&m, 2, STATS);
	sys(&m, 5 * 4 + 4 + 17 * 4, 17);
	none(&m);
	ck_assert_int_eq(wire_call_parse(m.b, m.n, &c), WIRE_BADCRED);
	/* libtirpc's "bad auth_len" case: a 5000-byte name in 24 bytes. */
	hdr(&m, 2, NULLPROC);
	p32(&m, AUTH_SYS);
	p32(&m, 24);
	p32(&m, 1);
	p32(&m, 5000);
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, 0);
	none(&m);
	ck_assert_int_eq(wire_call_parse(m.b, m.n, &c), WIRE_BADCRED);
}
END_TEST

START_TEST(parse_refusals)
{
	struct msg		m;
	struct wire_call	c;
	size_t			full, i;

	hdr(&m, 3, NULLPROC);
	none(&m);
	none(&m);
	ck_assert_int_eq(wire_call_parse(m.b, m.n, &c), WIRE_BADRPCVERS);
	ck_assert_uint_eq(c.xid, 0x1234);
	hdr(&m, 2, NULLPROC);
	memset(m.b + 4, 0, 4);
	m.b[7] = REPLY;
	none(&m);
	none(&m);
	ck_assert_int_eq(wire_call_parse(m.b, m.n, &c), WIRE_DROP);
	hdr(&m, 2, NULLPROC);
	p32(&m, 6);			/* RPCSEC_GSS */
	p32(&m, 0);
	none(&m);
	ck_assert_int_eq(wire_call_parse(m.b, m.n, &c), WIRE_REJECTEDCRED);
	hdr(&m, 2, NULLPROC);
	p32(&m, AUTH_NONE);
	p32(&m, WIRE_AUTH_MAX + 4);
	memset(m.b + m.n, 0, WIRE_AUTH_MAX + 4);
	m.n += WIRE_AUTH_MAX + 4;
	none(&m);
	ck_assert_int_eq(wire_call_parse(m.b, m.n, &c), WIRE_BADCRED);
	hdr(&m, 2, NULLPROC);
	none(&m);
	p32(&m, AUTH_NONE);
	p32(&m, WIRE_AUTH_MAX + 4);
	ck_assert_int_eq(wire_call_parse(m.b, m.n, &c), WIRE_BADCRED);
	/* No prefix of a whole header is a call. */
	hdr(&m, 2, NULLPROC);
	sys(&m, 5 * 4 + 4, 0);
	none(&m);
	full = m.n;
	ck_assert_int_eq(wire_call_parse(m.b, full, &c), WIRE_OK);
	for (i = 0; i < full; i++)
		ck_assert_int_ne(wire_call_parse(m.b, i, &c), WIRE_OK);
}
END_TEST

/* Decode REPLY as a client would, with RES for a success. */
static struct rpc_msg
decode(const unsigned char *buf, size_t len, xdrproc_t xres, void *res)
{
	struct rpc_msg	m;
	XDR		x;

	memset(&m, 0, sizeof(m));
	m.acpted_rply.ar_verf = _null_auth;
	m.acpted_rply.ar_results.where = res;
	m.acpted_rply.ar_results.proc = xres;
	xdrmem_create(&x, (char *)(uintptr_t)buf, (u_int)len, XDR_DECODE);
	ck_assert(xdr_replymsg(&x, &m));
	ck_assert_uint_eq(XDR_GETPOS(&x), len);
	xdr_destroy(&x);
	return m;
}

START_TEST(replies_round_trip)
{
	unsigned char	buf[256];
	struct rpc_msg	m;
	u_int		v = 42, got = 0;
	size_t		n;

	n = wire_reply(buf, sizeof(buf), 77, WIRE_SUCCESS, 0,
	    (xdrproc_t)xdr_u_int, &v);
	m = decode(buf, n, (xdrproc_t)xdr_u_int, &got);
	ck_assert_uint_eq(m.rm_xid, 77);
	ck_assert_int_eq(m.rm_reply.rp_stat, MSG_ACCEPTED);
	ck_assert_int_eq(m.acpted_rply.ar_stat, SUCCESS);
	ck_assert_uint_eq(got, 42);
	n = wire_reply(buf, sizeof(buf), 78, WIRE_PROG_MISMATCH, 1, NULL,
	    NULL);
	m = decode(buf, n, NULL, NULL);
	ck_assert_int_eq(m.acpted_rply.ar_stat, PROG_MISMATCH);
	ck_assert_uint_eq(m.acpted_rply.ar_vers.low, 1);
	ck_assert_uint_eq(m.acpted_rply.ar_vers.high, 1);
	n = wire_reply(buf, sizeof(buf), 79, WIRE_GARBAGE_ARGS, 0, NULL, NULL);
	m = decode(buf, n, NULL, NULL);
	ck_assert_int_eq(m.acpted_rply.ar_stat, GARBAGE_ARGS);
	n = wire_reply(buf, sizeof(buf), 80, WIRE_DENY_RPCVERS, 0, NULL, NULL);
	m = decode(buf, n, NULL, NULL);
	ck_assert_int_eq(m.rm_reply.rp_stat, MSG_DENIED);
	ck_assert_int_eq(m.rjcted_rply.rj_stat, RPC_MISMATCH);
	ck_assert_uint_eq(m.rjcted_rply.rj_vers.low, 2);
	n = wire_reply(buf, sizeof(buf), 81, WIRE_DENY_BADCRED, 0, NULL, NULL);
	m = decode(buf, n, NULL, NULL);
	ck_assert_int_eq(m.rjcted_rply.rj_stat, AUTH_ERROR);
	ck_assert_int_eq(m.rjcted_rply.rj_why, AUTH_BADCRED);
	n = wire_reply(buf, sizeof(buf), 82, WIRE_DENY_REJECTEDCRED, 0, NULL,
	    NULL);
	m = decode(buf, n, NULL, NULL);
	ck_assert_int_eq(m.rjcted_rply.rj_why, AUTH_REJECTEDCRED);
	ck_assert_uint_eq(wire_reply(buf, 10, 83, WIRE_SUCCESS, 0,
	    (xdrproc_t)xdr_u_int, &v), 0);
}
END_TEST

static size_t
frag(unsigned char *p, int last, const void *body, uint32_t len)
{
	uint32_t	mark = htonl((last ? WIRE_MARK_LAST : 0) | len);

	memcpy(p, &mark, 4);
	memcpy(p + 4, body, len);
	return 4 + len;
}

START_TEST(records)
{
	static unsigned char	 buf[3 * WIRE_RECORD_MAX], out[WIRE_RECORD_MAX];
	static unsigned char	 xs[WIRE_RECORD_MAX];
	size_t			 n = 0, body = 0, i;
	long			 r;

	n += frag(buf, 0, "abc", 3);
	ck_assert_int_eq(wire_rec_scan(buf, n, &body), 0);
	n += frag(buf + n, 0, "", 0);
	n += frag(buf + n, 1, "defg", 4);
	r = wire_rec_scan(buf, n, &body);
	ck_assert_int_eq(r, (long)n);
	ck_assert_uint_eq(body, 7);
	ck_assert_uint_eq(wire_rec_join(buf, n, out), 7);
	ck_assert(memcmp(out, "abcdefg", 7) == 0);
	for (i = 0; i < n; i++)		/* every prefix: incomplete */
		ck_assert_int_eq(wire_rec_scan(buf, i, &body), 0);
	/* A record of exactly the cap, marks included, passes; one more
	 * byte does not, nor does a mark that announces it. */
	memset(xs, 'x', sizeof(xs));
	n = frag(buf, 1, xs, WIRE_RECORD_MAX - 4);
	ck_assert_int_eq(wire_rec_scan(buf, n, &body), (long)n);
	frag(buf, 1, xs, WIRE_RECORD_MAX - 3);
	ck_assert_int_eq(wire_rec_scan(buf, 4, &body), -1);
	memcpy(buf, "\xff\xff\xff\xff", 4);
	ck_assert_int_eq(wire_rec_scan(buf, 4, &body), -1);
	/* Zero-length fragments count their marks against the cap. */
	for (n = 0; n + 4 <= sizeof(buf); )
		n += frag(buf + n, 0, "", 0);
	ck_assert_int_eq(wire_rec_scan(buf, n, &body), -1);
}
END_TEST

/* A record fed a byte at a time: resumed scans agree with a whole one. */
START_TEST(records_resumed)
{
	static unsigned char	 buf[WIRE_RECORD_MAX + 8];
	struct wire_scan	 st = { 0, 0 };
	size_t			 n = 0, body = 0, i, walked = 0;
	long			 r = 0;

	for (i = 0; i < 100; i++)
		n += frag(buf + n, 0, "", 0);
	n += frag(buf + n, 0, "abc", 3);
	n += frag(buf + n, 1, "defg", 4);
	for (i = 1; i <= n; i++) {
		r = wire_rec_resume(buf, i, &st, &body);
		if (r != 0)
			break;
		ck_assert_uint_ge(st.off, walked);	/* never walks back */
		walked = st.off;
	}
	ck_assert_int_eq(r, (long)n);
	ck_assert_uint_eq(i, n);
	ck_assert_uint_eq(body, 7);
	ck_assert_uint_eq(st.off, 0);
	/* Marks alone past the cap, fed in pieces: refused all the same. */
	for (n = 0; n + 4 <= sizeof(buf); )
		n += frag(buf + n, 0, "", 0);
	for (i = 4, r = 0; i <= n && r == 0; i += 4)
		r = wire_rec_resume(buf, i, &st, &body);
	ck_assert_int_eq(r, -1);
}
END_TEST

/* ---- one round of the loop over real sockets ------------------------- */

static struct env	 env;
static struct serve	*srv;
static char		 dir[64];
static int		 ucli = -1;

static void
serve_setup(unsigned int drc)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd;

	memset(&env, 0, sizeof(env));
	snprintf(dir, sizeof(dir), "/tmp/bart-wire.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	env.limits.per_peer = 4;
	env.limits.total = 8;
	env.limits.timeout_ms = 200;
	env.limits.max_failures = 1;
	ck_assert_ptr_nonnull(env.store = store_open(dir, STORE_SYNC_NORMAL));
	ck_assert_ptr_nonnull(env.ring = chat_init(64));
	ck_assert_ptr_nonnull(env.push = push_init(env.ring, &env.limits));
	ck_assert_ptr_nonnull(srv = serve_init(&env, drc));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0),
	    -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_eq(serve_listen(srv, fd, PROC_UDP), 0);
	ck_assert_int_ne(ucli = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0),
	    -1);
	ck_assert_int_eq(connect(ucli, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
}

static void
setup_drc(void)
{
	log_init(LOG_TO_STDERR, 0, "check_wire");
	serve_setup(16);
}

static void
setup_nodrc(void)
{
	log_init(LOG_TO_STDERR, 0, "check_wire");
	serve_setup(0);
}

static void
serve_teardown(void)
{
	char	path[128];

	serve_exit(srv);
	srv = NULL;
	close(ucli);
	push_exit(env.push);
	chat_exit(env.ring);
	store_close(env.store);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ck_assert_int_eq(system(path), 0);
}

/* COUNT(UP) without a request identity: only the cache can dedup it. */
static void
count_call(struct msg *m, uint32_t xid, int32_t up)
{
	hdr(m, 2, COUNT);
	memcpy(m->b, &(uint32_t){ htonl(xid) }, 4);
	none(m);
	none(m);
	p32(m, 0);
	p32(m, 0);
	p32(m, 0);
	p32(m, 0);
	p32(m, (uint32_t)up);
}

/* Serve until FD has something to read (at most 50 rounds). */
static void
serve_until(int fd)
{
	struct pollfd	p = { fd, POLLIN, 0 };
	int		i;

	for (i = 0; i < 50; i++) {
		serve_round(srv, 20);
		if (poll(&p, 1, 0) == 1)
			return;
	}
	ck_abort_msg("no reply");
}

START_TEST(udp_resend_from_cache)
{
	struct msg	m;
	unsigned char	r1[512], r2[512];
	ssize_t		n1, n2;

	count_call(&m, 0x51, 1);
	ck_assert_int_eq(send(ucli, m.b, m.n, 0), (ssize_t)m.n);
	serve_until(ucli);
	n1 = recv(ucli, r1, sizeof(r1), 0);
	ck_assert_int_gt(n1, 28);
	ck_assert_int_eq(send(ucli, m.b, m.n, 0), (ssize_t)m.n);
	serve_until(ucli);
	n2 = recv(ucli, r2, sizeof(r2), 0);
	ck_assert_int_eq(n1, n2);
	ck_assert(memcmp(r1, r2, (size_t)n1) == 0);
	ck_assert_int_eq(store_count_get(env.store), 1);	/* ran once */
	count_call(&m, 0x52, 1);			/* a new xid runs */
	ck_assert_int_eq(send(ucli, m.b, m.n, 0), (ssize_t)m.n);
	serve_until(ucli);
	recv(ucli, r1, sizeof(r1), 0);
	ck_assert_int_eq(store_count_get(env.store), 2);
}
END_TEST

START_TEST(udp_no_cache_runs_twice)
{
	struct msg	m;
	unsigned char	r[512];

	count_call(&m, 0x61, 1);
	ck_assert_int_eq(send(ucli, m.b, m.n, 0), (ssize_t)m.n);
	serve_until(ucli);
	recv(ucli, r, sizeof(r), 0);
	ck_assert_int_eq(send(ucli, m.b, m.n, 0), (ssize_t)m.n);
	serve_until(ucli);
	recv(ucli, r, sizeof(r), 0);
	ck_assert_int_eq(store_count_get(env.store), 2);
}
END_TEST

/* Read one record from FD: its body length. */
static size_t
read_record(int fd, unsigned char *buf, size_t cap)
{
	uint32_t	mark;
	size_t		len, got = 0;
	ssize_t		n;

	ck_assert_int_eq(recv(fd, &mark, 4, MSG_WAITALL), 4);
	len = ntohl(mark) & ~WIRE_MARK_LAST;
	ck_assert_uint_le(len, cap);
	while (got < len) {
		serve_round(srv, 10);
		n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
	}
	return len;
}

/* A socketpair whose SV[0] the loop serves as a local connection. */
static void
adopt_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	ck_assert_int_eq(serve_adopt(srv, sv[0], PROC_LOCAL), 0);
}

/* N replies on FD, to xids XID, XID + 1, ... in that order. */
static void
expect_replies(int fd, uint32_t xid, int n)
{
	unsigned char	r[512];
	int		i;

	for (i = 0; i < n; i++) {
		serve_until(fd);
		ck_assert_uint_gt(read_record(fd, r, sizeof(r)), 28);
		ck_assert_uint_eq(ntohl(*(uint32_t *)(void *)r), xid +
		    (uint32_t)i);
	}
}

START_TEST(stream_fragments_and_pipelining)
{
	struct msg	m, all;
	int		sv[2], i;

	adopt_pair(sv);
	/* Three COUNTs pipelined, the second in three fragments. */
	all.n = 0;
	for (i = 0; i < 3; i++) {
		count_call(&m, 0x70 + (uint32_t)i, 1);
		if (i != 1) {
			all.n += frag(all.b + all.n, 1, m.b, (uint32_t)m.n);
			continue;
		}
		all.n += frag(all.b + all.n, 0, m.b, 10);
		all.n += frag(all.b + all.n, 0, m.b + 10, 10);
		all.n += frag(all.b + all.n, 1, m.b + 20, (uint32_t)m.n - 20);
	}
	ck_assert_int_eq(write(sv[1], all.b, all.n), (ssize_t)all.n);
	expect_replies(sv[1], 0x70, 3);			/* in call order */
	ck_assert_int_eq(store_count_get(env.store), 3);
	close(sv[1]);
	for (i = 0; i < 10 && serve_conns(srv) > 0; i++)
		serve_round(srv, 10);
	ck_assert_uint_eq(serve_conns(srv), 0);
}
END_TEST

/*
 * Ten COUNTs pipelined, then shutdown(SHUT_WR) (a half-close, as
 * "nc -N" does): all ten are answered before the server closes, more
 * than one round's RECS_PER_TURN and after the group's commit.
 */
START_TEST(stream_half_close)
{
	struct msg	m, all;
	int		sv[2], i;

	adopt_pair(sv);
	all.n = 0;
	for (i = 0; i < 10; i++) {
		count_call(&m, 0x90 + (uint32_t)i, 1);
		all.n += frag(all.b + all.n, 1, m.b, (uint32_t)m.n);
	}
	ck_assert_int_eq(write(sv[1], all.b, all.n), (ssize_t)all.n);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	expect_replies(sv[1], 0x90, 10);
	ck_assert_int_eq(store_count_get(env.store), 10);
	for (i = 0; i < 10 && serve_conns(srv) > 0; i++)
		serve_round(srv, 10);
	ck_assert_uint_eq(serve_conns(srv), 0);		/* then closed */
	close(sv[1]);
}
END_TEST

Suite *
wire_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("wire");
	tc = tcase_create("parse");
	tcase_add_test(tc, parse_auth_none);
	tcase_add_test(tc, parse_auth_sys);
	tcase_add_test(tc, parse_refusals);
	tcase_add_test(tc, replies_round_trip);
	tcase_add_test(tc, records);
	tcase_add_test(tc, records_resumed);
	suite_add_tcase(s, tc);
	tc = tcase_create("serve");
	tcase_add_checked_fixture(tc, setup_drc, serve_teardown);
	tcase_add_test(tc, udp_resend_from_cache);
	tcase_add_test(tc, stream_fragments_and_pipelining);
	tcase_add_test(tc, stream_half_close);
	suite_add_tcase(s, tc);
	tc = tcase_create("serve_nodrc");
	tcase_add_checked_fixture(tc, setup_nodrc, serve_teardown);
	tcase_add_test(tc, udp_no_cache_runs_twice);
	suite_add_tcase(s, tc);
	return s;
}
