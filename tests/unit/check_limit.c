/* SPDX-License-Identifier: ISC */
/* check_limit.c: per-peer token buckets: burst, refill, who shares one. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>
#include <unistd.h>

#include <check.h>

#include "limit.h"
#include "peer.h"
#include "suites.h"

static struct sockaddr_storage
addr(const char *s)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, s, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
	}
	return ss;
}

/* How many of N calls at time NOW the peer gets through. */
static int
takes(struct limit *l, const char *a, long uid, int n, uint64_t now)
{
	struct sockaddr_storage	ss = addr(a);
	int			ok = 0;

	while (n-- > 0)
		ok += limit_take(l, (struct sockaddr *)&ss, uid, now) == 0;
	return ok;
}

START_TEST(off)
{
	ck_assert_ptr_null(limit_init("test", 0, 10));
	ck_assert_int_eq(takes(NULL, "10.0.0.1", PEER_REMOTE, 1000, 1), 1000);
}
END_TEST

START_TEST(burst_then_rate)
{
	struct limit	*l = limit_init("test", 10, 5);
	uint64_t	 t = 1000000000;

	ck_assert_int_eq(takes(l, "10.0.0.1", PEER_REMOTE, 100, t), 5);
	/* 10 a second: one more each 100 ms, not before. */
	ck_assert_int_eq(takes(l, "10.0.0.1", PEER_REMOTE, 10, t + 50000), 0);
	ck_assert_int_eq(takes(l, "10.0.0.1", PEER_REMOTE, 10, t + 100000), 1);
	ck_assert_int_eq(takes(l, "10.0.0.1", PEER_REMOTE, 10, t + 300000), 2);
	/* Refused calls took nothing: after 0.5 s idle, a full burst. */
	ck_assert_int_eq(takes(l, "10.0.0.1", PEER_REMOTE, 10, t + 800000), 5);
	/* Long idle: never more than the burst. */
	ck_assert_int_eq(takes(l, "10.0.0.1", PEER_REMOTE, 100,
	    t + 100000000), 5);
	limit_exit(l);
}
END_TEST

START_TEST(who_shares)
{
	struct limit	*l = limit_init("test", 1, 3);
	uint64_t	 t = 5000000;

	ck_assert_int_eq(takes(l, "192.0.2.1", PEER_REMOTE, 10, t), 3);
	/* Another IPv4 address: its own bucket. */
	ck_assert_int_eq(takes(l, "192.0.2.2", PEER_REMOTE, 10, t), 3);
	/* The same address as IPv4-mapped IPv6: the same peer. */
	ck_assert_int_eq(takes(l, "::ffff:192.0.2.1", PEER_REMOTE, 10, t), 0);
	/* IPv6: one /64 shares, the next /64 does not. */
	ck_assert_int_eq(takes(l, "2001:db8:0:1::1", PEER_REMOTE, 10, t), 3);
	ck_assert_int_eq(takes(l, "2001:db8:0:1:ffff::2", PEER_REMOTE, 10,
	    t), 0);
	ck_assert_int_eq(takes(l, "2001:db8:0:2::1", PEER_REMOTE, 10, t), 3);
	/* Local callers by uid, whatever address they use. */
	ck_assert_int_eq(takes(l, "127.0.0.1", 1000, 10, t), 3);
	ck_assert_int_eq(takes(l, "127.0.0.2", 1000, 10, t), 0);
	ck_assert_int_eq(takes(l, "::1", 1000, 10, t), 0);
	ck_assert_int_eq(takes(l, "127.0.0.1", 1001, 10, t), 3);
	ck_assert_int_eq(takes(l, "127.0.0.1", 0, 10, t), 3);
	limit_exit(l);
}
END_TEST

/* Many more peers than slots: nobody is refused wrongly, nothing breaks. */
START_TEST(many_peers)
{
	struct limit	*l = limit_init("test", 1, 2);
	char		 a[32];
	int		 i, ok = 0;

	for (i = 0; i < 20000; i++) {
		snprintf(a, sizeof(a), "10.%d.%d.1", i / 256, i % 256);
		ok += takes(l, a, PEER_REMOTE, 1, 1000000);
	}
	ck_assert_int_eq(ok, 20000);
	/* A busy peer keeps its (empty) bucket among idle newcomers. */
	ck_assert_int_eq(takes(l, "10.200.0.1", PEER_REMOTE, 5, 2000000), 2);
	ck_assert_int_eq(takes(l, "10.200.0.1", PEER_REMOTE, 5, 2000000), 0);
	limit_exit(l);
}
END_TEST

static int	lookups;
static long	next_uid;

static long
count_lookup(const struct proc_req *rq)
{
	(void)rq;
	lookups++;
	return next_uid;
}

/* A connection's uid is looked up once; a new socket on its fd again. */
START_TEST(uid_per_connection)
{
	struct limit	*l = limit_init("test", 1, 2);
	int		 sv[2], fd, i;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fd = sv[0];
	lookups = 0;
	next_uid = 1000;
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(limit_uid(l, fd, count_lookup, NULL), 1000);
	ck_assert_int_eq(lookups, 1);
	/* Unknown (say, out of descriptors) is asked again next time. */
	next_uid = PEER_UID_UNKNOWN;
	ck_assert_int_eq(limit_uid(l, sv[1], count_lookup, NULL),
	    PEER_UID_UNKNOWN);
	ck_assert_int_eq(limit_uid(l, sv[1], count_lookup, NULL),
	    PEER_UID_UNKNOWN);
	ck_assert_int_eq(lookups, 3);
	/* Closed, and the fd taken by another connection: a new lookup. */
	close(sv[0]);
	close(sv[1]);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(sv[0], fd);
	next_uid = 2000;
	ck_assert_int_eq(limit_uid(l, fd, count_lookup, NULL), 2000);
	ck_assert_int_eq(lookups, 4);
	close(sv[0]);
	close(sv[1]);
	limit_exit(l);
}
END_TEST

Suite *
limit_suite(void)
{
	Suite	*s = suite_create("limit");
	TCase	*tc = tcase_create("buckets");

	tcase_add_test(tc, off);
	tcase_add_test(tc, burst_then_rate);
	tcase_add_test(tc, who_shares);
	tcase_add_test(tc, many_peers);
	tcase_add_test(tc, uid_per_connection);
	suite_add_tcase(s, tc);
	return s;
}
