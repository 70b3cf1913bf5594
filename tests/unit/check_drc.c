/* SPDX-License-Identifier: ISC */
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

/*
 * The cache in front of real UDP traffic is tested through the daemon:
 * t_core.sh (a resend under reply loss is answered from the cache).
 */
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
	return s;
}
