/* SPDX-License-Identifier: ISC */
/* check_chat.c: the message ring (order, catch-up) and subscriptions. */
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "chat.h"
#include "push.h"
#include "suites.h"
#include "util.h"

#define BIG_BUDGET	((size_t)1 << 30)
#define FOLLOW_N	3000

static struct chat_ring	*ring;
static chat_msg		 out[BART_BATCH_MAX];
static pthread_t	 helper;	/* a thread a test started */
static int		 helper_on;
static atomic_int	 helper_stop;	/* shared with the helper */

static void
helper_start(void *(*fn)(void *), void *arg)
{
	helper_stop = 0;
	ck_assert_int_eq(pthread_create(&helper, NULL, fn, arg), 0);
	helper_on = 1;
}

static void
helper_join(void)
{
	if (!helper_on)
		return;
	helper_stop = 1;
	pthread_join(helper, NULL);
	helper_on = 0;
}

/* ORDER: a failed test may leave its helper running: stop it first. */
static void
ring_teardown(void)
{
	helper_join();
	chat_exit(ring);
	ring = NULL;
}

static uint64_t
ms_since(uint64_t start_us)
{
	return (util_now_us() - start_us) / 1000;
}

/* Append message SEQ with text "mSEQ" and other fields from SEQ. */
static void
put(uint64_t seq)
{
	char	text[32], name[16];

	snprintf(text, sizeof(text), "m%llu", (unsigned long long)seq);
	snprintf(name, sizeof(name), "n%llu", (unsigned long long)(seq % 7));
	chat_append(ring, seq, 1700000000 + (int64_t)seq, name, "192.0.2.1",
	    text);
}

static void
put_range(uint64_t from, uint64_t to)
{
	uint64_t	seq;

	for (seq = from; seq <= to; seq++)
		put(seq);
}

/* Check that OUT[0..n) are FIRST, FIRST+1, ... with their own fields. */
static void
expect_run(int n, uint64_t first)
{
	char	text[32], name[16];
	int	i;

	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "m%llu",
		    (unsigned long long)(first + i));
		snprintf(name, sizeof(name), "n%llu",
		    (unsigned long long)((first + i) % 7));
		ck_assert_uint_eq(out[i].seq, first + i);
		ck_assert_int_eq(out[i].time,
		    1700000000 + (int64_t)(first + i));
		ck_assert_str_eq(out[i].text, text);
		ck_assert_str_eq(out[i].name, name);
		ck_assert_str_eq(out[i].host, "192.0.2.1");
	}
}

/* chat_copy into out, check the run, free it; returns the count. */
static int
copy_expect(uint64_t after, unsigned int max, int n, uint64_t first)
{
	int	got;

	got = chat_copy(ring, after, max, BIG_BUDGET, out);
	ck_assert_int_eq(got, n);
	expect_run(got, first);
	chat_msgs_free(out, got);
	return got;
}

START_TEST(ring_empty)
{
	ck_assert_ptr_null(chat_init(0));
	ck_assert_ptr_nonnull(ring = chat_init(4));
	ck_assert_uint_eq(chat_newest(ring), 0);
	ck_assert_uint_eq(chat_oldest(ring), 0);
	ck_assert_int_eq(chat_copy(ring, 0, BART_BATCH_MAX, BIG_BUDGET, out),
	    0);
	ck_assert_int_eq(chat_wait(ring, 0, 0, &(atomic_int){ 0 }), 0);
}
END_TEST

START_TEST(ring_copy_in_order)
{
	ck_assert_ptr_nonnull(ring = chat_init(16));
	put_range(1, 10);
	ck_assert_uint_eq(chat_newest(ring), 10);
	ck_assert_uint_eq(chat_oldest(ring), 1);
	copy_expect(0, BART_BATCH_MAX, 10, 1);
	copy_expect(4, BART_BATCH_MAX, 6, 5);
	copy_expect(9, BART_BATCH_MAX, 1, 10);
	/* Nothing after the newest, however far ahead the caller is. */
	copy_expect(10, BART_BATCH_MAX, 0, 0);
	copy_expect(11, BART_BATCH_MAX, 0, 0);
	copy_expect((uint64_t)INT64_MAX + 1, BART_BATCH_MAX, 0, 0);
	/* after + 1 must not wrap around to "everything". */
	copy_expect(UINT64_MAX, BART_BATCH_MAX, 0, 0);
}
END_TEST

/*
 * A full ring keeps the newest CAP messages.  A subscriber whose last
 * acknowledged number fell out gets the oldest held one first: the gap
 * in the numbers tells it to catch up from the store (CHAT_SINCE).
 */
START_TEST(ring_overflow_keeps_newest)
{
	ck_assert_ptr_nonnull(ring = chat_init(8));
	put_range(1, 20);
	ck_assert_uint_eq(chat_newest(ring), 20);
	ck_assert_uint_eq(chat_oldest(ring), 13);
	copy_expect(0, BART_BATCH_MAX, 8, 13);
	copy_expect(5, BART_BATCH_MAX, 8, 13);
	copy_expect(12, BART_BATCH_MAX, 8, 13);
	copy_expect(13, BART_BATCH_MAX, 7, 14);
	copy_expect(19, BART_BATCH_MAX, 1, 20);
	/* One more: the window slides by one. */
	put(21);
	ck_assert_uint_eq(chat_oldest(ring), 14);
	copy_expect(0, BART_BATCH_MAX, 8, 14);
}
END_TEST

/* A reused slot holds only the new message (no tail of the old one). */
START_TEST(ring_slot_reuse)
{
	char	text[BART_TEXT_MAX + 1];
	int	n;

	ck_assert_ptr_nonnull(ring = chat_init(2));
	memset(text, 'L', BART_TEXT_MAX);
	text[BART_TEXT_MAX] = '\0';
	chat_append(ring, 1, 1, "a-long-name", "2001:db8::1", text);
	put(2);
	put(3);				/* same slot as 1 */
	ck_assert_uint_eq(chat_oldest(ring), 2);
	copy_expect(0, BART_BATCH_MAX, 2, 2);
	chat_append(ring, 4, 4, "x", "h", "short");
	ck_assert_int_eq(n = chat_copy(ring, 3, 1, BIG_BUDGET, out), 1);
	ck_assert_str_eq(out[0].name, "x");
	ck_assert_str_eq(out[0].host, "h");
	ck_assert_str_eq(out[0].text, "short");
	chat_msgs_free(out, n);
}
END_TEST

/*
 * A number that does not follow the newest (the daemon restarted and
 * loaded the ring from the store, or messages were stored without the
 * ring) restarts the ring, so it always holds one contiguous range.
 */
START_TEST(ring_gap_restarts)
{
	ck_assert_ptr_nonnull(ring = chat_init(8));
	put(100);
	ck_assert_uint_eq(chat_oldest(ring), 100);
	ck_assert_uint_eq(chat_newest(ring), 100);
	copy_expect(0, BART_BATCH_MAX, 1, 100);
	put_range(101, 103);
	put(110);
	ck_assert_uint_eq(chat_oldest(ring), 110);
	ck_assert_uint_eq(chat_newest(ring), 110);
	copy_expect(102, BART_BATCH_MAX, 1, 110);
	put(111);
	ck_assert_uint_eq(chat_oldest(ring), 110);
	copy_expect(105, BART_BATCH_MAX, 2, 110);
}
END_TEST

START_TEST(ring_batch_limit)
{
	ck_assert_ptr_nonnull(ring = chat_init(256));
	put_range(1, 200);
	copy_expect(0, BART_BATCH_MAX, BART_BATCH_MAX, 1);
	copy_expect(BART_BATCH_MAX, BART_BATCH_MAX, BART_BATCH_MAX,
	    BART_BATCH_MAX + 1);
	copy_expect(150, BART_BATCH_MAX, 50, 151);
	copy_expect(7, 1, 1, 8);
	copy_expect(7, 0, 0, 0);
}
END_TEST

START_TEST(ring_byte_budget)
{
	size_t	one, used;
	int	n, i;

	ck_assert_ptr_nonnull(ring = chat_init(64));
	put_range(1, 9);		/* every message has the same size */
	one = chat_msg_size("n1", "192.0.2.1", "m1");
	ck_assert_uint_eq(chat_msg_size("n2", "192.0.2.1", "m9"), one);
	ck_assert_int_eq(n = chat_copy(ring, 0, BART_BATCH_MAX, 3 * one, out),
	    3);
	expect_run(n, 1);
	chat_msgs_free(out, n);
	ck_assert_int_eq(n = chat_copy(ring, 0, BART_BATCH_MAX, 3 * one - 1,
	    out), 2);
	chat_msgs_free(out, n);
	/* The first message always goes, or a big one would block. */
	ck_assert_int_eq(n = chat_copy(ring, 4, BART_BATCH_MAX, 0, out), 1);
	expect_run(n, 5);
	chat_msgs_free(out, n);
	/* Never more than the budget once past the first. */
	ck_assert_int_eq(n = chat_copy(ring, 0, BART_BATCH_MAX, 5 * one + 7,
	    out), 5);
	for (i = 0, used = 0; i < n; i++)
		used += chat_msg_size(out[i].name, out[i].host, out[i].text);
	ck_assert_uint_le(used, 5 * one + 7);
	chat_msgs_free(out, n);
}
END_TEST

/* The budget estimate must be the real encoded size of a chat_msg. */
START_TEST(ring_msg_size_is_xdr)
{
	char		name[BART_NAME_MAX + 1], host[BART_HOST_MAX + 1];
	char		text[BART_TEXT_MAX + 1];
	chat_msg	m;
	size_t		i;

	memset(&m, 0, sizeof(m));
	m.name = name;
	m.host = host;
	m.text = text;
	for (i = 0; i <= 9; i++) {
		memset(name, 'a', i);
		name[i] = '\0';
		memset(host, 'b', (i * 3) % 10);
		host[(i * 3) % 10] = '\0';
		memset(text, 'c', i + 1);
		text[i + 1] = '\0';
		ck_assert_uint_eq(chat_msg_size(name, host, text),
		    xdr_sizeof((xdrproc_t)xdr_chat_msg, &m));
	}
	memset(name, 'a', BART_NAME_MAX);
	name[BART_NAME_MAX] = '\0';
	memset(host, 'b', BART_HOST_MAX);
	host[BART_HOST_MAX] = '\0';
	memset(text, 'c', BART_TEXT_MAX);
	text[BART_TEXT_MAX] = '\0';
	ck_assert_uint_eq(chat_msg_size(name, host, text),
	    xdr_sizeof((xdrproc_t)xdr_chat_msg, &m));
}
END_TEST

/* The longest name, host and text the server accepts survive intact. */
START_TEST(ring_max_fields)
{
	char	name[BART_NAME_MAX + 1], host[BART_HOST_MAX + 1];
	char	text[BART_TEXT_MAX + 1];
	int	n;

	ck_assert_ptr_nonnull(ring = chat_init(4));
	memset(name, 0, sizeof(name));
	for (n = 0; n + 2 <= BART_NAME_MAX; n += 2)
		memcpy(name + n, "\xc3\xa9", 2);	/* UTF-8 bytes */
	memset(host, 'h', BART_HOST_MAX);
	host[BART_HOST_MAX] = '\0';
	memset(text, 'T', BART_TEXT_MAX);
	text[BART_TEXT_MAX] = '\0';
	chat_append(ring, 1, -5, name, host, text);
	ck_assert_int_eq(n = chat_copy(ring, 0, 1, BIG_BUDGET, out), 1);
	ck_assert_uint_eq(strlen(out[0].name), BART_NAME_MAX);
	ck_assert_str_eq(out[0].name, name);
	ck_assert_str_eq(out[0].host, host);
	ck_assert_str_eq(out[0].text, text);
	ck_assert_int_eq(out[0].time, -5);
	chat_msgs_free(out, n);
	ck_assert_ptr_null(out[0].name);
	ck_assert_ptr_null(out[0].text);
	chat_msgs_free(out, n);		/* twice is harmless */
}
END_TEST

/* ---- waiting ---------------------------------------------------------- */

struct later {
	uint64_t	 seq;		/* append this, or 0 */
	atomic_int	*quit;		/* or set this and wake */
};

static void *
later_main(void *arg)
{
	struct later	*l = arg;

	usleep(30000);
	if (l->seq != 0)
		put(l->seq);
	else {
		atomic_store(l->quit, 1);
		chat_wake(ring);
	}
	return NULL;
}

START_TEST(wait_ready)
{
	atomic_int	quit = 0;
	uint64_t	t0;

	ck_assert_ptr_nonnull(ring = chat_init(4));
	put_range(1, 2);
	t0 = util_now_us();
	ck_assert_int_eq(chat_wait(ring, 1, 5000, &quit), 1);
	ck_assert_int_eq(chat_wait(ring, 0, 5000, &quit), 1);
	ck_assert_uint_lt(ms_since(t0), 1000);
	/* Even when told to quit, it says that more is there. */
	quit = 1;
	ck_assert_int_eq(chat_wait(ring, 1, 5000, &quit), 1);
	ck_assert_int_eq(chat_wait(ring, 2, 5000, &quit), 0);
	ck_assert_uint_lt(ms_since(t0), 1000);
}
END_TEST

START_TEST(wait_times_out)
{
	atomic_int	quit = 0;
	uint64_t	t0;

	ck_assert_ptr_nonnull(ring = chat_init(4));
	put(1);
	t0 = util_now_us();
	ck_assert_int_eq(chat_wait(ring, 1, 60, &quit), 0);
	ck_assert_uint_ge(ms_since(t0), 55);
	ck_assert_uint_lt(ms_since(t0), 2000);
	t0 = util_now_us();
	ck_assert_int_eq(chat_wait(ring, 1, 0, &quit), 0);
	ck_assert_uint_lt(ms_since(t0), 1000);
}
END_TEST

START_TEST(wait_woken_by_append)
{
	atomic_int	quit = 0;
	static struct later	l = { 6, NULL };
	uint64_t	t0;

	ck_assert_ptr_nonnull(ring = chat_init(4));
	put_range(1, 5);
	t0 = util_now_us();
	helper_start(later_main, &l);
	ck_assert_int_eq(chat_wait(ring, 5, 5000, &quit), 1);
	ck_assert_uint_lt(ms_since(t0), 2500);
	helper_join();
	copy_expect(5, BART_BATCH_MAX, 1, 6);
}
END_TEST

START_TEST(wait_woken_by_quit)
{
	static atomic_int	quit;
	static struct later	l = { 0, &quit };
	uint64_t	t0;

	quit = 0;
	ck_assert_ptr_nonnull(ring = chat_init(4));
	t0 = util_now_us();
	helper_start(later_main, &l);
	ck_assert_int_eq(chat_wait(ring, 0, 5000, &quit), 0);
	ck_assert_uint_lt(ms_since(t0), 2500);
	ck_assert_int_eq(atomic_load(&quit), 1);
	helper_join();
}
END_TEST

static void *
writer_main(void *arg)
{
	uint64_t	seq;

	(void)arg;
	for (seq = 1; seq <= FOLLOW_N && !helper_stop; seq++) {
		put(seq);
		if (seq % 97 == 0)
			usleep(1000);
	}
	return NULL;
}

/*
 * A delivery thread's view under a concurrent writer: follow the ring
 * as push.c does, with a small ring so that it overflows.  Everything
 * comes in strictly increasing order; contiguous inside a batch; a
 * jump happens only when the ring lost messages, and then the store
 * would fill it.
 */
START_TEST(ring_follow_concurrent)
{
	atomic_int	quit = 0;
	uint64_t	next = 1, t0, delivered = 0, skipped = 0;
	int		n, i;

	ck_assert_ptr_nonnull(ring = chat_init(32));
	helper_start(writer_main, NULL);
	t0 = util_now_us();
	while (next <= FOLLOW_N && ms_since(t0) < 10000) {
		if (!chat_wait(ring, next - 1, 200, &quit))
			continue;
		n = chat_copy(ring, next - 1, BART_BATCH_MAX, 4096, out);
		ck_assert_int_gt(n, 0);
		ck_assert_uint_ge(out[0].seq, next);
		if (out[0].seq > next)		/* fell out of the ring */
			skipped += out[0].seq - next;
		for (i = 1; i < n; i++)
			ck_assert_uint_eq(out[i].seq, out[i - 1].seq + 1);
		expect_run(n, out[0].seq);
		delivered += (uint64_t)n;
		next = out[n - 1].seq + 1;
		chat_msgs_free(out, n);
	}
	ck_assert_uint_eq(next, FOLLOW_N + 1);
	helper_join();
	ck_assert_uint_eq(delivered + skipped, FOLLOW_N);
}
END_TEST

/* ---- subscriptions (push.c) ------------------------------------------- */

/*
 * No callback is registered for the programs used here, so a delivery
 * thread's probe fails (rpcbind refuses the connection or does not know
 * the program) within the limits' timeout: subscriptions go from
 * probing to failed, and nothing is ever delivered.
 */
static struct push		*push;
static const struct push_limits	 lim = { 2, 8, 300, 3, 0, 0 };

#define CB_PROG		(BART_CB_PROG_MAX - 0x1b7)

static void
push_setup(void)
{
	ck_assert_ptr_nonnull(ring = chat_init(16));
	ck_assert_ptr_nonnull(push = push_init(ring, &lim));
}

static void
push_teardown(void)
{
	push_exit(push);
	push = NULL;
	ring_teardown();
}

static struct sockaddr_in
loopback(const char *ip, uint16_t port)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

/* Subscribe from IP; UID as push_subscribe takes it (-1: remote). */
static bart_status
sub_uid(const char *ip, long uid, uint32_t prog, chat_sub_ok *ok)
{
	struct sockaddr_in	sin = loopback(ip, 999);

	memset(ok, 0, sizeof(*ok));
	return push_subscribe(push, (struct sockaddr *)&sin, sizeof(sin),
	    uid, prog, 1, 0, ok);
}

static bart_status
sub_from(const char *ip, uint32_t prog, chat_sub_ok *ok)
{
	return sub_uid(ip, -1, prog, ok);
}

/* Wait (bounded) until no subscription is probing or active. */
static void
wait_all_failed(void)
{
	uint64_t	t0 = util_now_us();

	while (push_count(push) > 0 && ms_since(t0) < 5000)
		usleep(5000);
	ck_assert_uint_eq(push_count(push), 0);
}

static int
probe_failure(bart_status st)
{
	return st == BART_ECBRPCBIND || st == BART_ECBNOTREG ||
	    st == BART_ECBNOANSWER;
}

/*
 * RENEW a failed subscription: it reports why, once, and is then gone.
 * (push_exit frees only subscriptions that are gone.)
 */
static void
forget(const chat_sub_ref *ref)
{
	sub_state	state;
	bart_status	st;

	st = push_renew(push, ref, &state);
	ck_assert_msg(probe_failure(st), "renew said %d", st);
	ck_assert_int_eq(push_renew(push, ref, &state), BART_ENOSUB);
}

START_TEST(push_refuses_program)
{
	static const uint32_t	bad[] = {
		0, 100000, BART_PROG, BART_CB_PROG_MIN - 1,
		BART_CB_PROG_MAX + 1, 0xffffffff
	};
	struct sockaddr_storage	big[2];
	chat_sub_ok		ok;
	size_t			i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(sub_from("127.0.0.1", bad[i], &ok),
		    BART_ECBPROG);
	memset(big, 0, sizeof(big));
	big[0].ss_family = AF_INET;
	ck_assert_int_eq(push_subscribe(push, (struct sockaddr *)big,
	    sizeof(big), -1, CB_PROG, 1, 0, &ok), BART_EINVAL);
	/* A local caller whose uid could not be told. */
	ck_assert_int_eq(sub_uid("127.0.0.1", -2, CB_PROG, &ok),
	    BART_ECBNOTREG);
	ck_assert_uint_eq(push_count(push), 0);
}
END_TEST

START_TEST(push_cap_zero)
{
	struct push_limits	l = lim;
	chat_sub_ok		ok;

	push_exit(push);
	l.per_peer = 0;
	ck_assert_ptr_nonnull(push = push_init(ring, &l));
	ck_assert_int_eq(sub_from("127.0.0.1", CB_PROG, &ok), BART_ETOOMANY);
	push_exit(push);
	l.per_peer = 4;
	l.total = 0;
	ck_assert_ptr_nonnull(push = push_init(ring, &l));
	ck_assert_int_eq(sub_from("127.0.0.1", CB_PROG, &ok), BART_ETOOMANY);
	ck_assert_uint_eq(push_count(push), 0);
}
END_TEST

START_TEST(push_unknown)
{
	chat_sub_ref	ref;
	sub_state	state = SUB_ACTIVE;

	memset(&ref, 0, sizeof(ref));
	ref.id = 12345;
	ck_assert_int_eq(push_unsubscribe(push, &ref), BART_ENOSUB);
	ck_assert_int_eq(push_renew(push, &ref, &state), BART_ENOSUB);
	ck_assert_int_eq(state, SUB_ACTIVE);
}
END_TEST

/*
 * A subscription is named by its id and token together; its probe
 * fails here, RENEW reports why exactly once, and then it is gone.
 */
START_TEST(push_probe_fails)
{
	chat_sub_ok	ok;
	chat_sub_ref	ref, bad;
	sub_state	state = SUB_ACTIVE;
	bart_status	st;
	static const unsigned char	zero[BART_TOKEN_LEN];

	ck_assert_int_eq(sub_from("127.0.0.1", CB_PROG, &ok), BART_OK);
	ck_assert(memcmp(ok.token, zero, BART_TOKEN_LEN) != 0);
	ref.id = ok.id;
	memcpy(ref.token, ok.token, BART_TOKEN_LEN);
	bad = ref;
	bad.token[BART_TOKEN_LEN - 1] ^= 1;
	ck_assert_int_eq(push_renew(push, &bad, &state), BART_ENOSUB);
	ck_assert_int_eq(push_unsubscribe(push, &bad), BART_ENOSUB);
	bad = ref;
	bad.id++;
	ck_assert_int_eq(push_renew(push, &bad, &state), BART_ENOSUB);
	ck_assert_int_eq(push_unsubscribe(push, &bad), BART_ENOSUB);
	wait_all_failed();
	st = push_renew(push, &ref, &state);
	ck_assert_msg(probe_failure(st), "renew said %d", st);
	ck_assert_int_eq(state, SUB_ACTIVE);	/* untouched on failure */
	ck_assert_int_eq(push_renew(push, &ref, &state), BART_ENOSUB);
	ck_assert_int_eq(push_unsubscribe(push, &ref), BART_ENOSUB);
}
END_TEST

START_TEST(push_unsubscribe_one)
{
	chat_sub_ok	a, b;
	chat_sub_ref	ra, rb;
	sub_state	state;
	bart_status	st;

	ck_assert_int_eq(sub_from("127.0.0.1", CB_PROG, &a), BART_OK);
	/* A local subscriber: its uid must own the registration. */
	ck_assert_int_eq(sub_uid("127.0.0.1", (long)getuid(), CB_PROG - 1,
	    &b), BART_OK);
	ck_assert_uint_ne(a.id, b.id);
	ck_assert(memcmp(a.token, b.token, BART_TOKEN_LEN) != 0);
	ra.id = a.id;
	memcpy(ra.token, a.token, BART_TOKEN_LEN);
	rb.id = b.id;
	memcpy(rb.token, b.token, BART_TOKEN_LEN);
	/* Each token opens only its own subscription. */
	memcpy(ra.token, b.token, BART_TOKEN_LEN);
	ck_assert_int_eq(push_unsubscribe(push, &ra), BART_ENOSUB);
	memcpy(ra.token, a.token, BART_TOKEN_LEN);
	ck_assert_int_eq(push_unsubscribe(push, &ra), BART_OK);
	ck_assert_int_eq(push_unsubscribe(push, &ra), BART_ENOSUB);
	ck_assert_int_eq(push_renew(push, &ra, &state), BART_ENOSUB);
	ck_assert_uint_le(push_count(push), 1);
	/* The other one is untouched: probing, or failed with a reason. */
	st = push_renew(push, &rb, &state);
	ck_assert_msg(st == BART_OK ? state == SUB_PROBING :
	    probe_failure(st), "renew said %d", st);
	wait_all_failed();
	if (st == BART_OK)
		forget(&rb);
}
END_TEST

/*
 * A failed subscription holds its peer's slot (per_peer is 2) until
 * RENEW has reported it: a flood of failing SUBSCRIBEs fills only the
 * flooder's own share.  Forgetting one frees its slot at once.
 */
START_TEST(push_failed_holds_slot)
{
	chat_sub_ok	ok;
	chat_sub_ref	ref[3];
	int		round, i;

	for (round = 0; round < 3; round++) {
		for (i = 0; i < 2; i++) {
			ck_assert_int_eq(sub_from("127.0.0.1", CB_PROG, &ok),
			    BART_OK);
			ref[i].id = ok.id;
			memcpy(ref[i].token, ok.token, BART_TOKEN_LEN);
		}
		wait_all_failed();
		ck_assert_uint_eq(push_held(push), 2);
		ck_assert_int_eq(sub_from("127.0.0.1", CB_PROG, &ok),
		    BART_ETOOMANY);
		ck_assert_int_eq(push_admit(push, (struct sockaddr *)
		    &(struct sockaddr_in){ .sin_family = AF_INET,
		    .sin_addr.s_addr = htonl(0x7f000001) }), BART_ETOOMANY);
		/* Another address is another peer. */
		ck_assert_int_eq(sub_from("127.0.0.2", CB_PROG, &ok), BART_OK);
		ref[2].id = ok.id;
		memcpy(ref[2].token, ok.token, BART_TOKEN_LEN);
		wait_all_failed();
		for (i = 0; i < 3; i++)
			forget(&ref[i]);
		ck_assert_uint_eq(push_held(push), 0);
	}
	push_reap(push);
	ck_assert_uint_eq(push_count(push), 0);
}
END_TEST

/* Local subscribers count per uid, whatever loopback address they use. */
START_TEST(push_cap_per_uid)
{
	chat_sub_ok	ok;

	ck_assert_int_eq(sub_uid("127.0.0.2", 4242, CB_PROG, &ok), BART_OK);
	ck_assert_int_eq(sub_uid("127.0.0.3", 4242, CB_PROG, &ok), BART_OK);
	ck_assert_int_eq(sub_uid("127.0.0.4", 4242, CB_PROG, &ok),
	    BART_ETOOMANY);
	ck_assert_int_eq(sub_uid("127.0.0.4", 4243, CB_PROG, &ok), BART_OK);
	ck_assert_uint_eq(push_held(push), 3);
}
END_TEST

static bart_status
sub_v6(const char *ip, chat_sub_ok *ok)
{
	struct sockaddr_in6	sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	return push_subscribe(push, (struct sockaddr *)&sin6, sizeof(sin6),
	    -1, CB_PROG, 1, 0, ok);
}

/* Remote IPv6 subscribers count per /64. */
START_TEST(push_cap_per_64)
{
	chat_sub_ok	ok;

	ck_assert_int_eq(sub_v6("2001:db8:1:2::1", &ok), BART_OK);
	ck_assert_int_eq(sub_v6("2001:db8:1:2::2", &ok), BART_OK);
	ck_assert_int_eq(sub_v6("2001:db8:1:2:ffff::3", &ok), BART_ETOOMANY);
	ck_assert_int_eq(sub_v6("2001:db8:1:3::1", &ok), BART_OK);
}
END_TEST

/*
 * Out of descriptors, the callback cannot be made: the subscriber is
 * told "too many" (the server's limit), not that its rpcbind is
 * unreachable.
 */
START_TEST(push_out_of_fds)
{
	struct rlimit	rl;
	chat_sub_ok	ok;
	chat_sub_ref	ref;
	sub_state	state;
	int		fds[256], n = 0, i;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (n < 256 && (fds[n] = open("/dev/null", O_RDONLY)) != -1)
		n++;
	ck_assert_int_eq(errno, EMFILE);
	ck_assert_int_eq(sub_from("127.0.0.1", CB_PROG, &ok), BART_OK);
	ref.id = ok.id;
	memcpy(ref.token, ok.token, BART_TOKEN_LEN);
	wait_all_failed();
	for (i = 0; i < n; i++)
		close(fds[i]);
	ck_assert_int_eq(push_renew(push, &ref, &state), BART_ETOOMANY);
}
END_TEST

/* SUBSCRIBE attempts per peer are rate-limited: BART_ERATE. */
START_TEST(push_rate)
{
	struct push_limits	l = lim;
	struct push_counters	c;
	chat_sub_ok		ok;
	int			i, n = 0, rated = 0;
	bart_status		st;

	push_exit(push);
	l.per_peer = 100;
	l.total = 100;
	l.sub_rate = 2;
	l.sub_burst = 5;
	ck_assert_ptr_nonnull(push = push_init(ring, &l));
	for (i = 0; i < 20; i++) {
		st = sub_from("127.0.0.9", CB_PROG, &ok);
		n += st == BART_OK;
		rated += st == BART_ERATE;
	}
	ck_assert_int_ge(n, 5);
	ck_assert_int_le(n, 7);		/* burst + what refilled meanwhile */
	ck_assert_int_eq(n + rated, 20);
	/* Another peer has its own bucket. */
	ck_assert_int_eq(sub_from("127.0.0.10", CB_PROG, &ok), BART_OK);
	push_counters(push, &c);
	ck_assert_uint_eq(c.rated, (unsigned)rated);
	usleep(600000);			/* a token comes back */
	ck_assert_int_eq(sub_from("127.0.0.9", CB_PROG, &ok), BART_OK);
}
END_TEST

Suite *
chat_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("chat");
	tc = tcase_create("ring");
	tcase_add_checked_fixture(tc, NULL, ring_teardown);
	tcase_add_test(tc, ring_empty);
	tcase_add_test(tc, ring_copy_in_order);
	tcase_add_test(tc, ring_overflow_keeps_newest);
	tcase_add_test(tc, ring_slot_reuse);
	tcase_add_test(tc, ring_gap_restarts);
	tcase_add_test(tc, ring_batch_limit);
	tcase_add_test(tc, ring_byte_budget);
	tcase_add_test(tc, ring_msg_size_is_xdr);
	tcase_add_test(tc, ring_max_fields);
	suite_add_tcase(s, tc);
	tc = tcase_create("wait");
	tcase_add_checked_fixture(tc, NULL, ring_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, wait_ready);
	tcase_add_test(tc, wait_times_out);
	tcase_add_test(tc, wait_woken_by_append);
	tcase_add_test(tc, wait_woken_by_quit);
	tcase_add_test(tc, ring_follow_concurrent);
	suite_add_tcase(s, tc);
	tc = tcase_create("push");
	tcase_add_checked_fixture(tc, push_setup, push_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, push_refuses_program);
	tcase_add_test(tc, push_cap_zero);
	tcase_add_test(tc, push_unknown);
	tcase_add_test(tc, push_probe_fails);
	tcase_add_test(tc, push_unsubscribe_one);
	tcase_add_test(tc, push_failed_holds_slot);
	tcase_add_test(tc, push_cap_per_uid);
	tcase_add_test(tc, push_cap_per_64);
	tcase_add_test(tc, push_rate);
	tcase_add_test(tc, push_out_of_fds);
	suite_add_tcase(s, tc);
	return s;
}
