/* SPDX-License-Identifier: ISC */
/*
 * check_lib.c: unit tests for libbart's and bart_clnt's pure parts:
 * error words and exit codes, escaping for terminals, JSON encoding,
 * global option syntax (getopt_long), timeouts and health options.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <rpc/rpc.h>
#include <sysexits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include <netconfig.h>
#include <sys/un.h>

#include "../../lib/cbsvc.h"	/* with it lib/bart.h and the rpcgen header */
#include "../../lib/lib.h"
#include "../../lib/stream.h"
#include "cmd.h"
#include "json.h"
#include "suites.h"

START_TEST(errors_worded)
{
	int	e;

	for (e = 0; e <= 18; e++)
		ck_assert_str_ne(bart_strerror(e), "unknown error");
	for (e = BART_ERR_USAGE; e <= BART_ERR_CALLBACK; e++) {
		ck_assert_str_ne(bart_strerror(e), "unknown error");
		ck_assert_int_ne(cmd_exit_code(e), 0);
	}
	ck_assert_str_eq(bart_strerror(12345), "unknown error");
	ck_assert_str_eq(bart_strerror(BART_ERR_NOHOST), "unknown host");
}
END_TEST

START_TEST(exit_codes)
{
	ck_assert_int_eq(cmd_exit_code(BART_ERR_OK), 0);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NEGATIVE), EX_DATAERR);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_OVERFLOW), EX_DATAERR);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NAME), EX_DATAERR);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_STORE), EX_IOERR);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_UNKNOWN), EX_TEMPFAIL);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_RATE), EX_TEMPFAIL);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_USESTREAM), EX_UNAVAILABLE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_TOOMANY), EX_UNAVAILABLE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_UNAVAIL), EX_OSERR);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NOHOST), EX_NOHOST);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NOTREG), EX_UNAVAILABLE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NOANSWER), EX_UNAVAILABLE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_LOST), EX_UNAVAILABLE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_TIMEDOUT), EX_TEMPFAIL);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NETID), EX_USAGE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_VERSION), EX_PROTOCOL);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_DECODE), EX_DATAERR);
}
END_TEST

START_TEST(escape_terminal)
{
	char	buf[64];

	bart_escape("plain text: ok", buf, sizeof(buf));
	ck_assert_str_eq(buf, "plain text: ok");
	bart_escape("a\033[2Jb", buf, sizeof(buf));
	ck_assert_str_eq(buf, "a\\x1b[2Jb");
	bart_escape("\x7f\xc2\x9b\xff", buf, sizeof(buf));
	ck_assert_str_eq(buf, "\\x7f\\xc2\\x9b\\xff");
	bart_escape("caf\xc3\xa9 \xe2\x80\x9d", buf, sizeof(buf));
	ck_assert_str_eq(buf, "caf\xc3\xa9 \xe2\x80\x9d");
	/* Truncated to the buffer, always terminated, never half an escape. */
	ck_assert_uint_le(bart_escape("\033\033\033\033", buf, 7), 6);
	ck_assert_str_eq(buf, "\\x1b");
}
END_TEST

START_TEST(json_strings)
{
	char	buf[128];

	ck_assert_int_eq(json_escape("a] b", buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "a] b");
	json_escape("say \"hi\" \\ now", buf, sizeof(buf));
	ck_assert_str_eq(buf, "say \\\"hi\\\" \\\\ now");
	json_escape("t\tn\nz\x01", buf, sizeof(buf));
	ck_assert_str_eq(buf, "t\\tn\\nz\\u0001");
	json_escape("\x7f\xc2\x9b", buf, sizeof(buf));
	ck_assert_str_eq(buf, "\\u007f\\u009b");
	/* Valid UTF-8 passes; invalid bytes become lone surrogates. */
	json_escape("\xc3\xa9\xf0\x9f\x98\x80", buf, sizeof(buf));
	ck_assert_str_eq(buf, "\xc3\xa9\xf0\x9f\x98\x80");
	json_escape("A\xff" "B\xc3" "C", buf, sizeof(buf));
	ck_assert_str_eq(buf, "A\\udcffB\\udcc3C");
	json_escape("\xe0\x80\xaf", buf, sizeof(buf));	/* overlong '/' */
	ck_assert_str_eq(buf, "\\udce0\\udc80\\udcaf");
	json_escape("\xed\xa0\x80", buf, sizeof(buf));	/* a surrogate */
	ck_assert_str_eq(buf, "\\udced\\udca0\\udc80");
	json_escape("\xf4\x90\x80\x80", buf, sizeof(buf));	/* > U+10FFFF */
	ck_assert_str_eq(buf, "\\udcf4\\udc90\\udc80\\udc80");
	ck_assert_int_eq(json_escape("\"\"\"", buf, 6), -1);
	ck_assert_int_eq(json_escape("", buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(json_times)
{
	char	buf[32];

	ck_assert_int_eq(json_time(0, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	ck_assert_int_eq(json_time(1796154236, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "2026-12-01T19:43:56Z");
	ck_assert_int_eq(json_time(0, buf, 5), -1);
}
END_TEST

/*
 * The callback transport (lib/cbsvc.c) over a socketpair: records,
 * fragments, bounds, deadlines and the RPC answers, without rpcbind.
 */
static int		 ep = -1, peer = -1;
static struct cbsvc	*cb;
static int		 delivered;
static uint64_t		 delivered_sub;

static bart_status
fake_deliver(void *arg, const deliver_args *a)
{
	(void)arg;
	delivered += (int)a->msgs.msgs_len;
	delivered_sub = a->sub_id;
	return a->sub_id == 7 ? BART_OK : BART_EBADTOKEN;
}

static void
cb_setup(void)
{
	int	sv[2];

	delivered = 0;
	ck_assert_int_ne(ep = epoll_create1(0), -1);
	ck_assert_ptr_nonnull(cb = cbsvc_open(ep, fake_deliver, NULL));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	ck_assert_int_eq(cbsvc_adopt(cb, sv[0]), 0);
	peer = sv[1];
}

static void
cb_teardown(void)
{
	cbsvc_close(cb);
	close(ep);
	close(peer);
}

/* Serve whatever is ready, a few rounds. */
static void
serve(void)
{
	struct epoll_event	ev[4];
	int			n, i, round;

	for (round = 0; round < 5; round++) {
		n = epoll_wait(ep, ev, 4, 50);
		for (i = 0; i < n; i++)
			cbsvc_event(cb, ev[i].data.u64, ev[i].events);
	}
}

/* A call message (prog 0: cbsvc_prog of an unregistered service). */
static size_t
make_call(unsigned char *buf, size_t len, uint32_t xid, uint32_t prog,
    uint32_t vers, uint32_t proc, xdrproc_t xa, void *a)
{
	size_t	n = util_call_encode(buf, len, xid, prog, vers, proc, xa, a);

	ck_assert_uint_gt(n, 0);
	return n;
}

/* Send BODY as a record in FRAGS fragments. */
static void
send_record(const unsigned char *body, size_t len, int frags)
{
	size_t		off = 0, part;
	uint32_t	mark;
	int		k;

	for (k = 0; k < frags; k++) {
		part = k == frags - 1 ? len - off : len / (size_t)frags;
		mark = htonl((uint32_t)part | (k == frags - 1 ? 0x80000000u :
		    0));
		ck_assert_int_eq(write(peer, &mark, 4), 4);
		ck_assert_int_eq(write(peer, body + off, part), (ssize_t)part);
		off += part;
	}
}

/* The reply's accept_stat (-1: none came) and, if any, a result word. */
static int
get_reply(uint32_t xid, uint32_t *result)
{
	unsigned char	buf[512];
	uint32_t	w[8], mark, len;
	ssize_t		n;

	serve();
	if (read(peer, &mark, 4) != 4)
		return -1;
	len = ntohl(mark) & 0x7fffffff;
	ck_assert_uint_le(len, sizeof(buf));
	n = read(peer, buf, len);
	ck_assert_int_eq(n, (ssize_t)len);
	ck_assert_int_ge(n, 4 * 6);
	memset(w, 0, sizeof(w));
	memcpy(w, buf, (size_t)n < sizeof(w) ? (size_t)n : sizeof(w));
	ck_assert_uint_eq(ntohl(w[0]), xid);
	ck_assert_uint_eq(ntohl(w[1]), REPLY);
	ck_assert_uint_eq(ntohl(w[2]), MSG_ACCEPTED);
	if (result != NULL && n >= 4 * 7)
		*result = ntohl(w[6]);
	return (int)ntohl(w[5]);
}

/* Is the connection closed by cbsvc?  (EOF at our end.) */
static int
peer_closed(void)
{
	char	c;

	serve();
	return read(peer, &c, 1) == 0;
}

START_TEST(cb_null_and_errors)
{
	unsigned char	buf[256];
	size_t		n;

	n = make_call(buf, sizeof(buf), 11, 0, BART_CB_VERS, NULLPROC, NULL,
	    NULL);
	send_record(buf, n, 1);
	ck_assert_int_eq(get_reply(11, NULL), SUCCESS);
	n = make_call(buf, sizeof(buf), 12, 0x40000001, BART_CB_VERS, 0,
	    NULL, NULL);
	send_record(buf, n, 1);
	ck_assert_int_eq(get_reply(12, NULL), PROG_UNAVAIL);
	n = make_call(buf, sizeof(buf), 13, 0, 9, 0, NULL, NULL);
	send_record(buf, n, 1);
	ck_assert_int_eq(get_reply(13, NULL), PROG_MISMATCH);
	n = make_call(buf, sizeof(buf), 14, 0, BART_CB_VERS, 7, NULL, NULL);
	send_record(buf, n, 1);
	ck_assert_int_eq(get_reply(14, NULL), PROC_UNAVAIL);
	/* DELIVER whose arguments do not decode. */
	n = make_call(buf, sizeof(buf), 15, 0, BART_CB_VERS, DELIVER, NULL,
	    NULL);
	memcpy(buf + n, "\0\0\0\1", 4);
	send_record(buf, n + 4, 1);
	ck_assert_int_eq(get_reply(15, NULL), GARBAGE_ARGS);
	ck_assert_int_eq(delivered, 0);
}
END_TEST

START_TEST(cb_deliver_fragments)
{
	unsigned char	buf[4096];
	deliver_args	a;
	chat_msg	m[2];
	uint32_t	st = 99;
	size_t		n;

	memset(&a, 0, sizeof(a));
	memset(m, 0, sizeof(m));
	m[0].seq = 1;
	m[1].seq = 2;
	m[0].name = m[1].name = (char *)(uintptr_t)"n";
	m[0].host = m[1].host = (char *)(uintptr_t)"h";
	m[0].text = m[1].text = (char *)(uintptr_t)"t";
	a.sub_id = 7;
	a.msgs.msgs_len = 2;
	a.msgs.msgs_val = m;
	n = make_call(buf, sizeof(buf), 21, 0, BART_CB_VERS, DELIVER,
	    (xdrproc_t)xdr_deliver_args, &a);
	/* Three fragments (RFC 5531 section 11), answered as one. */
	send_record(buf, n, 3);
	ck_assert_int_eq(get_reply(21, &st), SUCCESS);
	ck_assert_uint_eq(st, BART_OK);
	ck_assert_int_eq(delivered, 2);
	ck_assert_uint_eq(delivered_sub, 7);
	/* The handler's refusal travels back as the status. */
	a.sub_id = 8;
	n = make_call(buf, sizeof(buf), 22, 0, BART_CB_VERS, DELIVER,
	    (xdrproc_t)xdr_deliver_args, &a);
	send_record(buf, n, 1);
	ck_assert_int_eq(get_reply(22, &st), SUCCESS);
	ck_assert_uint_eq(st, BART_EBADTOKEN);
	/* Two calls in one write: both answered, in order. */
	n = make_call(buf, sizeof(buf), 23, 0, BART_CB_VERS, NULLPROC, NULL,
	    NULL);
	send_record(buf, n, 1);
	send_record(buf, n, 1);
	ck_assert_int_eq(get_reply(23, NULL), SUCCESS);
	ck_assert_int_eq(get_reply(23, NULL), SUCCESS);
}
END_TEST

START_TEST(cb_bounds)
{
	uint32_t	mark = htonl(0x80000000u | (200 * 1024));

	/* A record over the bound: closed, nothing allocated for it. */
	ck_assert_int_eq(write(peer, &mark, 4), 4);
	ck_assert(peer_closed());
}
END_TEST

START_TEST(cb_partial_deadline)
{
	unsigned char	part[14] = { 0x80, 0, 0, 100 };

	/* 14 bytes of a 100-byte record: nothing blocks, then dropped. */
	ck_assert_int_eq(write(peer, part, sizeof(part)), 14);
	serve();
	ck_assert_uint_ne(cbsvc_deadline(cb), 0);
	cbsvc_timers(cb, util_now_us() + 1000000);
	ck_assert(!peer_closed());
	cbsvc_timers(cb, util_now_us() + 3500000);
	ck_assert(peer_closed());
	ck_assert_uint_eq(cbsvc_deadline(cb), 0);
}
END_TEST

START_TEST(cb_idle_between_records)
{
	unsigned char	buf[256];
	size_t		n;

	n = make_call(buf, sizeof(buf), 31, 0, BART_CB_VERS, NULLPROC, NULL,
	    NULL);
	send_record(buf, n, 1);
	ck_assert_int_eq(get_reply(31, NULL), SUCCESS);
	/* A whole record came: idle now, no deadline (the server stays). */
	ck_assert_uint_eq(cbsvc_deadline(cb), 0);
	cbsvc_timers(cb, util_now_us() + 60000000);
	send_record(buf, n, 1);
	ck_assert_int_eq(get_reply(31, NULL), SUCCESS);
}
END_TEST

/* ---- stream_call: one deadline, fragments, the reply cap ------------ */

static CLIENT	*scl;

static void
stream_setup(void)
{
	struct netconfig	*nc;
	struct sockaddr_un	 sun;
	int			 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_ptr_nonnull(nc = getnetconfigent("local"));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_ptr_nonnull(scl = lib_fd_client(sv[0], nc, &sun,
	    sizeof(sun), BART_PROG, BART_VERS));
	freenetconfigent(nc);
	peer = sv[1];
}

static void
stream_teardown(void)
{
	clnt_destroy(scl);
	close(peer);
}

/* The xid the next stream_call on scl will use. */
static uint32_t
next_xid(void)
{
	uint32_t	x;

	ck_assert(clnt_control(scl, CLGET_XID, (char *)&x));
	return x + 1;
}

/* An accepted, successful reply to XID with no results, in FRAGS. */
static void
reply_void(uint32_t xid, int frags)
{
	uint32_t	w[6] = { htonl(xid), htonl(REPLY), 0, 0, 0, 0 };

	send_record((unsigned char *)w, sizeof(w), frags);
}

START_TEST(stream_fragments_stale_cap)
{
	uint64_t	t0;
	uint32_t	x, mark;

	/* A late reply to an older call first, then ours in 3 fragments. */
	x = next_xid();
	reply_void(x - 5, 1);
	reply_void(x, 3);
	ck_assert_int_eq(stream_call(scl, NULLPROC, XDR_VOID, NULL, XDR_VOID,
	    NULL, util_now_us() + 1000000), RPC_SUCCESS);
	/* Nothing comes: RPC_TIMEDOUT at the deadline, not later. */
	t0 = util_now_us();
	ck_assert_int_eq(stream_call(scl, NULLPROC, XDR_VOID, NULL, XDR_VOID,
	    NULL, t0 + 100000), RPC_TIMEDOUT);
	ck_assert_uint_lt(util_now_us() - t0, 1000000);
	/* Half a record when the time is up: the stream is given up. */
	mark = htonl(0x80000000u | 24);
	ck_assert_int_eq(write(peer, &mark, 4), 4);
	ck_assert_int_eq(stream_call(scl, NULLPROC, XDR_VOID, NULL, XDR_VOID,
	    NULL, util_now_us() + 100000), RPC_TIMEDOUT);
	ck_assert_int_eq(stream_call(scl, NULLPROC, XDR_VOID, NULL, XDR_VOID,
	    NULL, util_now_us() + 100000), RPC_CANTSEND);
}
END_TEST

START_TEST(stream_huge_fragment)
{
	uint32_t	w[2] = { htonl(0x7fffffffu), 0 };

	w[1] = htonl(next_xid());
	ck_assert_int_eq(write(peer, w, sizeof(w)), (ssize_t)sizeof(w));
	ck_assert_int_eq(stream_call(scl, NULLPROC, XDR_VOID, NULL, XDR_VOID,
	    NULL, util_now_us() + 1000000), RPC_CANTRECV);
}
END_TEST

Suite *
lib_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("lib");
	tc = tcase_create("words");
	tcase_add_test(tc, errors_worded);
	tcase_add_test(tc, exit_codes);
	tcase_add_test(tc, escape_terminal);
	tcase_add_test(tc, json_strings);
	tcase_add_test(tc, json_times);
	suite_add_tcase(s, tc);
	tc = tcase_create("callback");
	tcase_add_checked_fixture(tc, cb_setup, cb_teardown);
	tcase_add_test(tc, cb_null_and_errors);
	tcase_add_test(tc, cb_deliver_fragments);
	tcase_add_test(tc, cb_bounds);
	tcase_add_test(tc, cb_partial_deadline);
	tcase_add_test(tc, cb_idle_between_records);
	suite_add_tcase(s, tc);
	tc = tcase_create("stream");
	tcase_add_checked_fixture(tc, stream_setup, stream_teardown);
	tcase_add_test(tc, stream_fragments_stale_cap);
	tcase_add_test(tc, stream_huge_fragment);
	suite_add_tcase(s, tc);
	return s;
}
