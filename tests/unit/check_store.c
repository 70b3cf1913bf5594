/* SPDX-License-Identifier: ISC */
/* check_store.c: unit tests for the SQLite store, one fresh dir a test. */
#include <sys/stat.h>

#include <dlfcn.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "store.h"
#include "suites.h"

#define MAXGOT	16

/* One message as store_chat_since() handed it over. */
struct got_msg {
	uint64_t	seq;
	int64_t		time;
	char		name[BART_NAME_WIRE + 1];
	char		host[BART_HOST_MAX + 1];
	char		text[BART_TEXT_WIRE + 1];
};

struct got {
	struct got_msg	m[MAXGOT];
	int		n;
	int		stop_after;	/* 0: never stop */
};

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
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/bart-unit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	st = store_open(dir, STORE_SYNC_NORMAL);
	ck_assert_ptr_nonnull(st);
}

static void
teardown(void)
{
	store_close(st);
	st = NULL;
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
reopen(void)
{
	store_close(st);
	st = store_open(dir, STORE_SYNC_NORMAL);
	ck_assert_ptr_nonnull(st);
}

static int
collect(void *arg, uint64_t seq, int64_t when, const char *name,
    const char *host, const char *text)
{
	struct got	*g = arg;
	struct got_msg	*m;

	ck_assert_int_lt(g->n, MAXGOT);
	m = &g->m[g->n++];
	m->seq = seq;
	m->time = when;
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->host, sizeof(m->host), "%s", host);
	snprintf(m->text, sizeof(m->text), "%s", text);
	return g->stop_after != 0 && g->n >= g->stop_after;
}

/* Add one message with no identity and return its number. */
static uint64_t
add_msg(const char *text)
{
	uint64_t	seq = 0;

	ck_assert_int_eq(store_chat_add(st, NULL, 1000, "alice", "10.0.0.1",
	    text, &seq), BART_OK);
	return seq;
}

START_TEST(count_starts_zero)
{
	int64_t	total = -1;

	ck_assert_int_eq(store_count_get(st), 0);
	ck_assert_int_eq(store_count_add(st, NULL, 0, &total), BART_OK);
	ck_assert_int_eq(total, 0);
	ck_assert_uint_eq(store_chat_newest(st), 0);
}
END_TEST

START_TEST(count_add_persists)
{
	int64_t	total = -1;

	ck_assert_int_eq(store_count_add(st, NULL, 5, &total), BART_OK);
	ck_assert_int_eq(total, 5);
	ck_assert_int_eq(store_count_add(st, NULL, 7, &total), BART_OK);
	ck_assert_int_eq(total, 12);
	ck_assert_int_eq(store_count_get(st), 12);
	reopen();
	ck_assert_int_eq(store_count_get(st), 12);
	ck_assert_int_eq(store_count_add(st, NULL, 1, &total), BART_OK);
	ck_assert_int_eq(total, 13);
	store_close(st);
	st = store_open(dir, STORE_SYNC_FULL);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_count_get(st), 13);
}
END_TEST

START_TEST(count_negative)
{
	int64_t	total = -1;

	ck_assert_int_eq(store_count_add(st, NULL, 3, &total), BART_OK);
	total = -1;
	ck_assert_int_eq(store_count_add(st, NULL, -1, &total),
	    BART_ENEGATIVE);
	ck_assert_int_eq(total, -1);
	ck_assert_int_eq(store_count_get(st), 3);
}
END_TEST

START_TEST(count_overflow)
{
	bart_reqid	id = { 99, 1 };
	int64_t		total = -1;

	ck_assert_int_eq(store_count_set(st, INT64_MAX - 5), 0);
	ck_assert_int_eq(store_count_add(st, NULL, 6, &total),
	    BART_EOVERFLOW);
	ck_assert_int_eq(total, -1);
	ck_assert_int_eq(store_count_add(st, &id, 6, &total),
	    BART_EOVERFLOW);
	ck_assert_int_eq(total, -1);
	ck_assert_int_eq(store_count_get(st), INT64_MAX - 5);
	reopen();
	ck_assert_int_eq(store_count_get(st), INT64_MAX - 5);
	/* The refused identity was not remembered: it may run now. */
	ck_assert_int_eq(store_count_add(st, &id, 5, &total), BART_OK);
	ck_assert_int_eq(total, INT64_MAX);
	ck_assert_int_eq(store_count_add(st, NULL, 1, &total),
	    BART_EOVERFLOW);
	ck_assert_int_eq(store_count_get(st), INT64_MAX);
}
END_TEST

START_TEST(count_reqid_dedupe)
{
	bart_reqid	id = { 0x1234, 7 }, other = { 0x1234, 8 };
	int64_t		total = -1;

	ck_assert_int_eq(store_count_add(st, &id, 10, &total), BART_OK);
	ck_assert_int_eq(total, 10);
	ck_assert_int_eq(store_count_add(st, NULL, 5, &total), BART_OK);
	ck_assert_int_eq(total, 15);
	/* The resend answers the first total and changes nothing. */
	total = -1;
	ck_assert_int_eq(store_count_add(st, &id, 10, &total), BART_OK);
	ck_assert_int_eq(total, 10);
	ck_assert_int_eq(store_count_get(st), 15);
	ck_assert_int_eq(store_count_add(st, &other, 1, &total), BART_OK);
	ck_assert_int_eq(total, 16);
	/* Identities survive a restart. */
	reopen();
	ck_assert_int_eq(store_count_add(st, &id, 10, &total), BART_OK);
	ck_assert_int_eq(total, 10);
	ck_assert_int_eq(store_count_get(st), 16);
}
END_TEST

/* Client ids use all 64 bits; SQLite integers are signed. */
START_TEST(count_reqid_high_bit)
{
	bart_reqid	a = { UINT64_MAX, UINT64_MAX };
	bart_reqid	b = { UINT64_MAX - 1, UINT64_MAX };
	int64_t		total = -1;

	ck_assert_int_eq(store_count_add(st, &a, 2, &total), BART_OK);
	ck_assert_int_eq(store_count_add(st, &b, 3, &total), BART_OK);
	ck_assert_int_eq(total, 5);
	ck_assert_int_eq(store_count_add(st, &a, 2, &total), BART_OK);
	ck_assert_int_eq(total, 2);
	ck_assert_int_eq(store_count_get(st), 5);
}
END_TEST

START_TEST(count_client_zero_no_dedupe)
{
	bart_reqid	id = { 0, 1 };
	int64_t		total = -1;

	ck_assert_int_eq(store_count_add(st, &id, 4, &total), BART_OK);
	ck_assert_int_eq(total, 4);
	ck_assert_int_eq(store_count_add(st, &id, 4, &total), BART_OK);
	ck_assert_int_eq(total, 8);
	ck_assert_int_eq(store_count_get(st), 8);
}
END_TEST

START_TEST(chat_seq_increasing)
{
	struct got	g = { .n = 0 };
	uint64_t	a, b, c;

	ck_assert_int_eq(store_chat_add(st, NULL, 1700000000, "bob",
	    "192.0.2.7", "hello", &a), BART_OK);
	b = add_msg("two");
	c = add_msg("three");
	ck_assert_uint_eq(a, 1);
	ck_assert_uint_gt(b, a);
	ck_assert_uint_gt(c, b);
	ck_assert_uint_eq(store_chat_newest(st), c);
	ck_assert_int_eq(store_chat_since(st, 0, 10, collect, &g), 3);
	ck_assert_uint_eq(g.m[0].seq, a);
	ck_assert_int_eq(g.m[0].time, 1700000000);
	ck_assert_str_eq(g.m[0].name, "bob");
	ck_assert_str_eq(g.m[0].host, "192.0.2.7");
	ck_assert_str_eq(g.m[0].text, "hello");
	ck_assert_str_eq(g.m[1].text, "two");
	ck_assert_str_eq(g.m[2].text, "three");
}
END_TEST

START_TEST(chat_reqid_dedupe)
{
	struct got	g = { .n = 0 };
	bart_reqid	id = { 0xabcdef, 3 };
	int64_t		total = -1;
	uint64_t	s1 = 0, s2 = 0, s3 = 0;

	ck_assert_int_eq(store_chat_add(st, &id, 1, "carol", "h", "once",
	    &s1), BART_OK);
	ck_assert_int_eq(store_chat_add(st, &id, 2, "carol", "h", "once",
	    &s2), BART_OK);
	ck_assert_uint_eq(s1, 1);
	ck_assert_uint_eq(s2, s1);
	ck_assert_uint_eq(store_chat_newest(st), 1);
	ck_assert_int_eq(store_chat_since(st, 0, 10, collect, &g), 1);
	ck_assert_int_eq(g.m[0].time, 1);
	/* A count with the same numbers is a different request. */
	ck_assert_int_eq(store_count_add(st, &id, 9, &total), BART_OK);
	ck_assert_int_eq(total, 9);
	ck_assert_int_eq(store_chat_add(st, &id, 3, "carol", "h", "once",
	    &s3), BART_OK);
	ck_assert_uint_eq(s3, 1);
	ck_assert_uint_eq(store_chat_newest(st), 1);
}
END_TEST

START_TEST(chat_client_zero_no_dedupe)
{
	bart_reqid	id = { 0, 3 };
	uint64_t	s1 = 0, s2 = 0;

	ck_assert_int_eq(store_chat_add(st, &id, 1, "dan", "h", "x", &s1),
	    BART_OK);
	ck_assert_int_eq(store_chat_add(st, &id, 1, "dan", "h", "x", &s2),
	    BART_OK);
	ck_assert_uint_eq(s1, 1);
	ck_assert_uint_eq(s2, 2);
	ck_assert_uint_eq(store_chat_newest(st), 2);
}
END_TEST

START_TEST(chat_since_order_limit)
{
	struct got	g = { .n = 0 };
	char		text[16];
	int		i;

	for (i = 1; i <= 10; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		ck_assert_uint_eq(add_msg(text), (uint64_t)i);
	}
	ck_assert_int_eq(store_chat_since(st, 3, 4, collect, &g), 4);
	for (i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "m%d", i + 4);
		ck_assert_uint_eq(g.m[i].seq, (uint64_t)i + 4);
		ck_assert_str_eq(g.m[i].text, text);
	}
	g.n = 0;
	ck_assert_int_eq(store_chat_since(st, 8, 100, collect, &g), 2);
	ck_assert_uint_eq(g.m[0].seq, 9);
	ck_assert_uint_eq(g.m[1].seq, 10);
	g.n = 0;
	ck_assert_int_eq(store_chat_since(st, 0, 0, collect, &g), 0);
	ck_assert_int_eq(g.n, 0);
}
END_TEST

START_TEST(chat_since_after_newest)
{
	struct got	g = { .n = 0 };

	ck_assert_int_eq(store_chat_since(st, 0, 10, collect, &g), 0);
	add_msg("a");
	add_msg("b");
	ck_assert_int_eq(store_chat_since(st, 2, 10, collect, &g), 0);
	ck_assert_int_eq(store_chat_since(st, 1000, 10, collect, &g), 0);
	/* Numbers past INT64_MAX must not wrap to "everything". */
	ck_assert_int_eq(store_chat_since(st, UINT64_MAX, 10, collect, &g),
	    0);
	ck_assert_int_eq(store_chat_since(st, (uint64_t)INT64_MAX + 1, 10,
	    collect, &g), 0);
	ck_assert_int_eq(g.n, 0);
}
END_TEST

START_TEST(chat_since_cb_stops)
{
	struct got	g = { .n = 0, .stop_after = 2 };
	int		i;

	for (i = 0; i < 5; i++)
		add_msg("x");
	ck_assert_int_eq(store_chat_since(st, 0, 5, collect, &g), 2);
	ck_assert_int_eq(g.n, 2);
	/* The statement was reset: the next query starts afresh. */
	g.n = 0;
	g.stop_after = 0;
	ck_assert_int_eq(store_chat_since(st, 0, 5, collect, &g), 5);
	ck_assert_uint_eq(g.m[0].seq, 1);
}
END_TEST

START_TEST(chat_persists)
{
	struct got	g = { .n = 0 };

	add_msg("before");
	add_msg("restart");
	reopen();
	ck_assert_uint_eq(store_chat_newest(st), 2);
	ck_assert_int_eq(store_chat_since(st, 0, 10, collect, &g), 2);
	ck_assert_str_eq(g.m[0].text, "before");
	ck_assert_str_eq(g.m[1].text, "restart");
	ck_assert_str_eq(g.m[1].name, "alice");
	ck_assert_str_eq(g.m[1].host, "10.0.0.1");
	ck_assert_uint_eq(add_msg("after"), 3);
}
END_TEST

/* Bytes the server accepts (UTF-8, max length) come back unchanged. */
START_TEST(chat_text_intact)
{
	struct got	g = { .n = 0 };
	char		text[BART_TEXT_MAX + 1];
	uint64_t	seq;
	const char	*name = "\xc3\xa9l\xc3\xa8ve \xe2\x9c\x93";

	memset(text, 'q', BART_TEXT_MAX);
	text[BART_TEXT_MAX] = '\0';
	ck_assert_int_eq(store_chat_add(st, NULL, 5, name, "::1", text,
	    &seq), BART_OK);
	ck_assert_int_eq(store_chat_since(st, 0, 1, collect, &g), 1);
	ck_assert_str_eq(g.m[0].name, name);
	ck_assert_str_eq(g.m[0].host, "::1");
	ck_assert_str_eq(g.m[0].text, text);
}
END_TEST

START_TEST(prune_forgets)
{
	bart_reqid	cid = { 5, 1 }, mid = { 5, 2 };
	int64_t		total = -1;
	uint64_t	seq = 0;

	ck_assert_int_eq(store_count_add(st, &cid, 3, &total), BART_OK);
	ck_assert_int_eq(store_chat_add(st, &mid, 1, "e", "h", "t", &seq),
	    BART_OK);
	/* Pruning older entries keeps the fresh identities. */
	ck_assert_int_eq(store_prune(st, (int64_t)time(NULL) - 3600), 0);
	ck_assert_int_eq(store_count_add(st, &cid, 3, &total), BART_OK);
	ck_assert_int_eq(total, 3);
	ck_assert_int_eq(store_chat_add(st, &mid, 1, "e", "h", "t", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 1);
	/* Pruning everything: a resend now runs again. */
	ck_assert_int_eq(store_prune(st, (int64_t)time(NULL) + 3600), 0);
	ck_assert_int_eq(store_count_add(st, &cid, 3, &total), BART_OK);
	ck_assert_int_eq(total, 6);
	ck_assert_int_eq(store_count_get(st), 6);
	ck_assert_int_eq(store_chat_add(st, &mid, 1, "e", "h", "t", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 2);
	ck_assert_uint_eq(store_chat_newest(st), 2);
}
END_TEST

START_TEST(open_bad_path)
{
	char	 path[128], *longp;
	FILE	*f;

	ck_assert_ptr_null(store_open("/nonexistent-bart-unit/x/y",
	    STORE_SYNC_NORMAL));
	/* A regular file as parent fails even for root. */
	snprintf(path, sizeof(path), "%s/plain", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fclose(f);
	ck_assert_ptr_null(store_open(path, STORE_SYNC_NORMAL));
	snprintf(path, sizeof(path), "%s/plain/sub", dir);
	ck_assert_ptr_null(store_open(path, STORE_SYNC_FULL));
	/* Too long for PATH_MAX. */
	ck_assert_ptr_nonnull(longp = malloc(8192));
	memset(longp, 'a', 8191);
	longp[0] = '/';
	longp[8191] = '\0';
	ck_assert_ptr_null(store_open(longp, STORE_SYNC_NORMAL));
	free(longp);
}
END_TEST

/* ---- request identities: what is remembered, and its bounds ------------ */

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

/* The history cap and the deleted-file check (store_chat_cap, store_check). */
static int
first_seq(void *arg, uint64_t seq, int64_t when, const char *name,
    const char *host, const char *text)
{
	uint64_t	*first = arg;

	(void)when;
	(void)name;
	(void)host;
	(void)text;
	if (*first == 0)
		*first = seq;
	return 0;
}

static void
add(int n)
{
	uint64_t	seq;
	char		text[32];
	int		i;

	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		ck_assert_int_eq(store_chat_add(st, NULL, 1, "a", "h", text,
		    &seq), BART_OK);
	}
}

START_TEST(cap_prunes_oldest)
{
	uint64_t	first = 0;

	add(30);
	ck_assert_int_eq(store_chat_cap(st, 0), 0);	/* 0: keep all */
	ck_assert_int_eq(store_chat_cap(st, 50), 0);
	ck_assert_int_eq(store_chat_cap(st, 10), 20);
	ck_assert_int_eq(store_chat_since(st, 0, 64, first_seq, &first), 10);
	ck_assert_uint_eq(first, 21);
	ck_assert_int_eq(store_chat_cap(st, 10), 0);	/* nothing new */
	add(5);
	ck_assert_int_eq(store_chat_cap(st, 10), 5);
	first = 0;
	ck_assert_int_eq(store_chat_since(st, 0, 64, first_seq, &first), 10);
	ck_assert_uint_eq(first, 26);
	ck_assert_uint_eq(store_chat_newest(st), 35);
}
END_TEST

/* The newest seq survives a prune and a reopen: no number reused. */
START_TEST(cap_keeps_numbering)
{
	uint64_t	seq;

	add(20);
	ck_assert_int_eq(store_chat_cap(st, 3), 17);
	store_close(st);
	st = store_open(dir, STORE_SYNC_NORMAL);
	ck_assert_ptr_nonnull(st);
	ck_assert_uint_eq(store_chat_newest(st), 20);
	ck_assert_int_eq(store_chat_add(st, NULL, 1, "a", "h", "x", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 21);
}
END_TEST

START_TEST(deleted_refuses_writes)
{
	bart_reqid	id = { 7, 1 };
	char		path[128];
	int64_t		total;
	uint64_t	seq;

	ck_assert_int_eq(store_count_add(st, &id, 2, &total), BART_OK);
	add(1);
	ck_assert_int_eq(store_check(st), 0);
	snprintf(path, sizeof(path), "%s/bart.db", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(store_check(st), -1);
	id.seq = 2;
	ck_assert_int_eq(store_count_add(st, &id, 1, &total), BART_ESTORE);
	ck_assert_int_eq(store_chat_add(st, NULL, 1, "a", "h", "x", &seq),
	    BART_ESTORE);
	/* Reads go on: the counter, a resend's first answer, history. */
	ck_assert_int_eq(store_count_get(st), 2);
	ck_assert_int_eq(store_count_add(st, &id, 0, &total), BART_OK);
	ck_assert_int_eq(total, 2);
	id.seq = 1;
	ck_assert_int_eq(store_count_add(st, &id, 2, &total), BART_OK);
	ck_assert_int_eq(total, 2);
	ck_assert_int_eq(store_chat_since(st, 0, 64, first_seq, &seq), 1);
}
END_TEST

START_TEST(replaced_refuses_writes)
{
	char		path[128], tmp[140];
	int64_t		total;
	FILE		*f;

	snprintf(path, sizeof(path), "%s/bart.db", dir);
	snprintf(tmp, sizeof(tmp), "%s/other", dir);
	ck_assert_ptr_nonnull(f = fopen(tmp, "w"));
	fclose(f);
	ck_assert_int_eq(rename(tmp, path), 0);
	ck_assert_int_eq(store_check(st), -1);
	ck_assert_int_eq(store_count_add(st, NULL, 1, &total), BART_ESTORE);
}
END_TEST

START_TEST(wal_deleted_refuses_writes)
{
	char		path[128];
	int64_t		total;

	snprintf(path, sizeof(path), "%s/bart.db-wal", dir);
	if (access(path, F_OK) != 0)
		return;			/* no WAL file to lose */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(store_check(st), -1);
	ck_assert_int_eq(store_count_add(st, NULL, 1, &total), BART_ESTORE);
}
END_TEST

/* ---- group commit: one transaction for the calls of a round ------------ */

/*
 * Faults for the group tests.  This definition of sqlite3_step
 * interposes the library's (the test binary comes first in the symbol
 * search), so the store's own calls land here: the step of the SKIPth
 * next statement starting with SQL fails with RC, after a ROLLBACK of
 * the whole transaction if ROLLBACK (as SQLite does itself on
 * SQLITE_FULL, IOERR or NOMEM), else as a statement that failed alone.
 * Each test runs in its own process (Check forks): no fault outlives it.
 */
static struct {
	const char	*sql;
	int		 skip;
	int		 rc;
	int		 rollback;
	int		 hit;
} fault;

int
sqlite3_step(sqlite3_stmt *stmt)
{
	static int	(*real)(sqlite3_stmt *);
	const char	*sql;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "sqlite3_step");
	if (fault.sql != NULL && (sql = sqlite3_sql(stmt)) != NULL &&
	    strncmp(sql, fault.sql, strlen(fault.sql)) == 0 &&
	    fault.skip-- == 0) {
		fault.sql = NULL;
		fault.hit = 1;
		if (fault.rollback)
			sqlite3_exec(sqlite3_db_handle(stmt), "ROLLBACK", NULL,
			    NULL, NULL);
		return fault.rc;
	}
	return real(stmt);
}

static void
fault_at(const char *sql, int skip, int rc, int rollback)
{
	fault.sql = sql;
	fault.skip = skip;
	fault.rc = rc;
	fault.rollback = rollback;
	fault.hit = 0;
}

static int64_t
add_ok(const bart_reqid *id, int64_t up)
{
	int64_t	total = -1;

	ck_assert_int_eq(store_count_add(st, id, up, &total), BART_OK);
	return total;
}

/* Counts of 1 from CLIENT with seqs 1..N, on a counter at 0: totals 1..N. */
static void
count_seqs(uint64_t client, int n)
{
	bart_reqid	id = { client, 0 };
	int		i;

	for (i = 1; i <= n; i++) {
		id.seq = (uint64_t)i;
		ck_assert_int_eq(add_ok(&id, 1), i);
	}
}

/* A resend inside the group answers the first total and adds nothing. */
START_TEST(group_dup_inside)
{
	bart_reqid	a = { 0xa1, 1 }, b = { 0xa1, 2 };
	int64_t		total = -1;

	ck_assert_int_eq(store_group_begin(st), 0);
	ck_assert_int_eq(store_in_group(st), 1);
	ck_assert_int_eq(add_ok(&a, 5), 5);
	ck_assert_int_eq(add_ok(&a, 5), 5);
	ck_assert_int_eq(add_ok(&b, 2), 7);
	ck_assert_int_eq(add_ok(&a, 5), 5);
	ck_assert_int_eq(add_ok(NULL, 1), 8);
	ck_assert_int_eq(store_count_add(st, &b, 0, &total), BART_OK);
	ck_assert_int_eq(total, 8);		/* a read sees the group */
	ck_assert_int_eq(store_count_get(st), 0);	/* not committed */
	ck_assert_int_eq(store_group_commit(st), BART_OK);
	ck_assert_int_eq(store_in_group(st), 0);
	ck_assert_int_eq(store_count_get(st), 8);
	ck_assert_int_eq(store_reqs_count(st), 2);
	/* Counter and identities were committed together. */
	reopen();
	ck_assert_int_eq(store_count_get(st), 8);
	ck_assert_int_eq(add_ok(&a, 5), 5);
	ck_assert_int_eq(add_ok(&b, 2), 7);
	ck_assert_int_eq(store_count_get(st), 8);
}
END_TEST

/* A resend in a later group (and after a restart) adds nothing. */
START_TEST(group_dup_across)
{
	bart_reqid	a = { 0xb2, 1 }, b = { 0xb2, 2 }, c = { 0xb2, 3 };

	ck_assert_int_eq(store_group_begin(st), 0);
	ck_assert_int_eq(add_ok(&a, 3), 3);
	ck_assert_int_eq(store_group_commit(st), BART_OK);
	ck_assert_int_eq(store_group_begin(st), 0);
	ck_assert_int_eq(add_ok(&a, 3), 3);
	ck_assert_int_eq(add_ok(&b, 4), 7);
	ck_assert_int_eq(store_group_commit(st), BART_OK);
	ck_assert_int_eq(store_count_get(st), 7);
	reopen();
	ck_assert_int_eq(store_group_begin(st), 0);
	ck_assert_int_eq(add_ok(&b, 4), 7);
	ck_assert_int_eq(add_ok(&a, 3), 3);
	ck_assert_int_eq(add_ok(&c, 1), 8);
	ck_assert_int_eq(store_group_commit(st), BART_OK);
	/* Outside a group too: the same identities, the same answers. */
	ck_assert_int_eq(add_ok(&c, 1), 8);
	ck_assert_int_eq(add_ok(&a, 3), 3);
	reopen();
	ck_assert_int_eq(store_count_get(st), 8);
	ck_assert_int_eq(store_reqs_count(st), 3);
}
END_TEST

/* Chat lines in a group: a resend stores nothing, numbers stay dense. */
START_TEST(group_chat_dup)
{
	bart_reqid	a = { 0xc3, 1 };
	struct got	g;
	uint64_t	seq = 0;

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(store_group_begin(st), 0);
	ck_assert_int_eq(store_chat_add(st, &a, 1, "n", "h", "x", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 1);
	ck_assert_int_eq(store_chat_add(st, &a, 1, "n", "h", "x", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 1);
	ck_assert_int_eq(store_chat_add(st, NULL, 1, "n", "h", "y", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 2);
	ck_assert_uint_eq(store_chat_pending(st), 2);
	ck_assert_uint_eq(store_chat_newest(st), 0);
	ck_assert_int_eq(store_group_commit(st), BART_OK);
	ck_assert_uint_eq(store_chat_newest(st), 2);
	reopen();
	ck_assert_int_eq(store_chat_since(st, 0, 10, collect, &g), 2);
	ck_assert_str_eq(g.m[1].text, "y");
	ck_assert_int_eq(store_chat_add(st, &a, 1, "n", "h", "x", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 1);
}
END_TEST

/*
 * SQLite rolls the whole transaction back (SQLITE_FULL in the second
 * count): the group is lost.  The later calls must not run on their
 * own (each would be committed at once: an identity without its
 * count), and the commit tells every change BART_ESTORE.
 */
START_TEST(group_lost_rollback)
{
	bart_reqid	a = { 0xd4, 1 }, b = { 0xd4, 2 }, c = { 0xd4, 3 };
	int64_t		total = -1;
	uint64_t	seq = 0;

	ck_assert_int_eq(store_group_begin(st), 0);
	ck_assert_int_eq(add_ok(&a, 1), 1);
	fault_at("INSERT INTO reqs", 0, SQLITE_FULL, 1);
	ck_assert_int_eq(store_count_add(st, &b, 1, &total), BART_ESTORE);
	ck_assert_int_eq(fault.hit, 1);
	ck_assert_int_eq(store_count_add(st, &c, 1, &total), BART_ESTORE);
	ck_assert_int_eq(store_count_add(st, NULL, 1, &total),
	    BART_ESTORE);
	ck_assert_int_eq(store_chat_add(st, &c, 1, "n", "h", "x", &seq),
	    BART_ESTORE);
	ck_assert_int_eq(store_group_commit(st), BART_ESTORE);
	ck_assert_int_eq(store_count_get(st), 0);
	ck_assert_int_eq(store_reqs_count(st), 0);
	ck_assert_uint_eq(store_chat_newest(st), 0);
	reopen();
	ck_assert_int_eq(store_count_get(st), 0);
	ck_assert_int_eq(store_reqs_count(st), 0);
	/* Nothing was stored: each runs now, once. */
	ck_assert_int_eq(add_ok(&a, 1), 1);
	ck_assert_int_eq(add_ok(&c, 1), 2);
	ck_assert_int_eq(add_ok(&a, 1), 1);
	ck_assert_int_eq(store_count_get(st), 2);
}
END_TEST

/* A statement that fails alone undoes only itself: the group goes on. */
START_TEST(group_stmt_fails_alone)
{
	bart_reqid	a = { 0xe5, 1 }, b = { 0xe5, 2 }, c = { 0xe5, 3 };
	int64_t		total = -1;

	ck_assert_int_eq(store_group_begin(st), 0);
	ck_assert_int_eq(add_ok(&a, 1), 1);
	fault_at("INSERT INTO reqs", 0, SQLITE_ERROR, 0);
	ck_assert_int_eq(store_count_add(st, &b, 10, &total), BART_ESTORE);
	ck_assert_int_eq(add_ok(&c, 1), 2);
	ck_assert_int_eq(store_group_commit(st), BART_OK);
	ck_assert_int_eq(store_count_get(st), 2);
	reopen();
	ck_assert_int_eq(store_count_get(st), 2);
	ck_assert_int_eq(add_ok(&b, 10), 12);	/* refused: runs now */
	ck_assert_int_eq(add_ok(&a, 1), 1);
	ck_assert_int_eq(add_ok(&c, 1), 2);
}
END_TEST

/*
 * A chat line whose message row fails after its identity was claimed:
 * the savepoint takes the identity back, so a resend stores the line
 * (not an answer pointing at a message that was never stored).
 */
START_TEST(group_chat_undo)
{
	bart_reqid	a = { 0xf6, 1 };
	struct got	g;
	uint64_t	seq = 0;

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(store_group_begin(st), 0);
	fault_at("INSERT INTO msgs", 0, SQLITE_ERROR, 0);
	ck_assert_int_eq(store_chat_add(st, &a, 1, "n", "h", "x", &seq),
	    BART_ESTORE);
	ck_assert_int_eq(store_chat_add(st, NULL, 1, "n", "h", "y", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 1);
	ck_assert_int_eq(store_group_commit(st), BART_OK);
	ck_assert_int_eq(store_reqs_count(st), 0);
	ck_assert_int_eq(store_chat_add(st, &a, 1, "n", "h", "x", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 2);
	ck_assert_int_eq(store_chat_since(st, 0, 10, collect, &g), 2);
}
END_TEST

/* The commit fails: nothing is applied, the cached state stays. */
START_TEST(group_commit_fails)
{
	bart_reqid	a = { 0x17, 1 }, b = { 0x17, 2 };
	uint64_t	seq = 0;

	ck_assert_int_eq(add_ok(NULL, 4), 4);
	ck_assert_int_eq(store_group_begin(st), 0);
	ck_assert_int_eq(add_ok(&a, 1), 5);
	ck_assert_int_eq(add_ok(&b, 2), 7);
	ck_assert_int_eq(store_chat_add(st, &b, 1, "n", "h", "x", &seq),
	    BART_OK);
	fault_at("COMMIT", 0, SQLITE_IOERR, 0);
	ck_assert_int_ne(store_group_commit(st), BART_OK);
	ck_assert_int_eq(fault.hit, 1);
	ck_assert_int_eq(store_count_get(st), 4);
	ck_assert_uint_eq(store_chat_newest(st), 0);
	reopen();
	ck_assert_int_eq(store_count_get(st), 4);
	ck_assert_int_eq(store_reqs_count(st), 0);
	ck_assert_int_eq(add_ok(&a, 1), 5);
}
END_TEST

/*
 * The counter row, written once just before COMMIT, fails: nothing may
 * be committed (the identities would say done, the counter would not
 * have moved).
 */
START_TEST(group_counter_write_fails)
{
	bart_reqid	a = { 0x28, 1 }, b = { 0x28, 2 };

	ck_assert_int_eq(store_group_begin(st), 0);
	ck_assert_int_eq(add_ok(&a, 1), 1);
	ck_assert_int_eq(add_ok(&b, 1), 2);
	fault_at("UPDATE counter", 0, SQLITE_FULL, 1);
	ck_assert_int_eq(store_group_commit(st), BART_ESTORE);
	ck_assert_int_eq(fault.hit, 1);
	ck_assert_int_eq(store_count_get(st), 0);
	reopen();
	ck_assert_int_eq(store_reqs_count(st), 0);
	ck_assert_int_eq(store_count_get(st), 0);
	ck_assert_int_eq(add_ok(&b, 1), 1);
}
END_TEST

/* Outside a group: a failing commit leaves neither count nor identity. */
START_TEST(single_commit_fails)
{
	bart_reqid	a = { 0x39, 1 };
	int64_t		total = -1;

	ck_assert_int_eq(add_ok(&a, 2), 2);
	a.seq = 2;
	fault_at("COMMIT", 0, SQLITE_IOERR, 0);
	ck_assert_int_ne(store_count_add(st, &a, 3, &total), BART_OK);
	ck_assert_int_eq(store_count_get(st), 2);
	reopen();
	ck_assert_int_eq(store_count_get(st), 2);
	ck_assert_int_eq(store_reqs_count(st), 1);
	ck_assert_int_eq(add_ok(&a, 3), 5);
}
END_TEST

/* The overflow check uses the group's sum; a resend is still answered. */
START_TEST(group_overflow)
{
	bart_reqid	a = { 0x4a, 1 }, b = { 0x4a, 2 };
	int64_t		total = -1;

	ck_assert_int_eq(store_count_set(st, INT64_MAX - 3), 0);
	ck_assert_int_eq(store_group_begin(st), 0);
	ck_assert_int_eq(add_ok(&a, 2), INT64_MAX - 1);
	ck_assert_int_eq(store_count_add(st, &b, 2, &total),
	    BART_EOVERFLOW);
	ck_assert_int_eq(add_ok(&a, 2), INT64_MAX - 1);	/* the resend */
	ck_assert_int_eq(store_group_commit(st), BART_OK);
	ck_assert_int_eq(store_count_get(st), INT64_MAX - 1);
	ck_assert_int_eq(store_reqs_count(st), 1);
}
END_TEST

/*
 * A database from before identities were kept in claim order (the
 * identity as the key, WITHOUT ROWID): open rewrites the table once;
 * its identities still answer with their first results, the numbering
 * goes on after them, and trim and prune work on the new table.
 */
START_TEST(old_keyed_table_migrated)
{
	bart_reqid	a = { 0x6c, 1 }, b = { 0x6c, 2 }, c = { 0x6c, 3 };
	sqlite3		*db;
	char		 path[128];
	uint64_t	 seq = 0;

	store_close(st);
	st = NULL;
	snprintf(path, sizeof(path), "%s/bart.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "DROP TABLE reqs;"
	    "CREATE TABLE reqs (client INTEGER NOT NULL, seq INTEGER NOT NULL,"
	    " kind INTEGER NOT NULL, result INTEGER NOT NULL,"
	    " time INTEGER NOT NULL, PRIMARY KEY (client, seq, kind))"
	    " WITHOUT ROWID;"
	    "CREATE INDEX reqs_time ON reqs (time);"
	    "UPDATE counter SET value = 30;"
	    "INSERT INTO reqs VALUES (108, 2, 0, 30, strftime('%s','now'));"
	    "INSERT INTO reqs VALUES (108, 1, 0, 10, strftime('%s','now') - 5);"
	    "INSERT INTO reqs VALUES (108, 1, 1, 7, strftime('%s','now') - 9);",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = store_open(dir, STORE_SYNC_NORMAL);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_reqs_count(st), 3);
	ck_assert_int_eq(add_ok(&a, 10), 10);		/* first answers */
	ck_assert_int_eq(add_ok(&b, 20), 30);
	ck_assert_int_eq(store_chat_add(st, &a, 1, "n", "h", "x", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 7);
	ck_assert_int_eq(add_ok(&c, 1), 31);
	ck_assert_int_eq(store_reqs_count(st), 4);
	/* The rows were rewritten oldest first: prune takes the chat one. */
	ck_assert_int_eq(store_prune(st, (int64_t)time(NULL) - 7), 0);
	ck_assert_int_eq(store_reqs_count(st), 3);
	ck_assert_int_eq(store_chat_add(st, &a, 1, "n", "h", "x", &seq),
	    BART_OK);
	ck_assert_uint_eq(seq, 1);			/* forgotten: ran */
	reopen();
	ck_assert_int_eq(store_reqs_count(st), 4);
	ck_assert_int_eq(add_ok(&c, 1), 31);
	ck_assert_int_eq(store_count_get(st), 31);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "SELECT n FROM reqs", NULL, NULL,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "SELECT 1 FROM reqs_v1", NULL, NULL,
	    NULL), SQLITE_ERROR);
	sqlite3_close(db);
}
END_TEST

/*
 * A DELETE of old identities that fails (a full disk) keeps them, in
 * memory and in the file, and is not tried again at once (it would
 * log twice a second): they still answer.
 */
START_TEST(id_drop_fails_keeps)
{
	bart_reqid	id = { 0x9f, 0 };

	count_seqs(id.client, 10);
	fault_at("DELETE FROM reqs", 0, SQLITE_FULL, 0);
	ck_assert_int_eq(store_reqs_trim(st, 4), -1);
	ck_assert_int_eq(fault.hit, 1);
	ck_assert_int_eq(store_reqs_count(st), 10);
	ck_assert_int_eq(store_reqs_trim(st, 4), -1);	/* backs off */
	ck_assert_int_eq(store_reqs_count(st), 10);
	id.seq = 1;
	ck_assert_int_eq(add_ok(&id, 1), 1);		/* still known */
	reopen();
	ck_assert_int_eq(store_reqs_count(st), 10);
	ck_assert_int_eq(store_reqs_trim(st, 4), 0);	/* a new process */
	ck_assert_int_eq(store_reqs_count(st), 4);
	reopen();
	ck_assert_int_eq(store_reqs_count(st), 4);
}
END_TEST

/*
 * What trim and prune forget is gone from the file too: after a
 * restart it is not remembered again, and what was kept still is.
 */
START_TEST(id_forgotten_stays_forgotten)
{
	bart_reqid	id = { 0x7d, 0 };

	count_seqs(id.client, 50);
	ck_assert_int_eq(store_reqs_trim(st, 20), 0);
	reopen();
	ck_assert_int_eq(store_reqs_count(st), 20);
	id.seq = 31;
	ck_assert_int_eq(add_ok(&id, 1), 31);		/* kept */
	id.seq = 30;
	ck_assert_int_eq(add_ok(&id, 1), 51);		/* forgotten: runs */
	ck_assert_int_eq(store_reqs_count(st), 21);
	reopen();
	ck_assert_int_eq(add_ok(&id, 1), 51);
	ck_assert_int_eq(store_count_get(st), 51);
}
END_TEST

/*
 * Many identities across groups, some groups rolled back: each identity
 * answers its first result, before and after a restart, and none of a
 * rolled-back group is remembered.
 */
START_TEST(id_many_groups)
{
	bart_reqid	id = { 0x8e, 0 };
	int64_t		expect = 0;
	int		g, i;

	for (g = 0; g < 40; g++) {
		ck_assert_int_eq(store_group_begin(st), 0);
		for (i = 0; i < 50; i++) {
			id.seq = (uint64_t)(g * 50 + i + 1);
			add_ok(&id, 1);
		}
		if (g % 10 == 9) {
			fault_at("COMMIT", 0, SQLITE_IOERR, 0);
			ck_assert_int_ne(store_group_commit(st), BART_OK);
		} else {
			ck_assert_int_eq(store_group_commit(st), BART_OK);
			expect += 50;
		}
		ck_assert_int_eq(store_count_get(st), expect);
		ck_assert_int_eq(store_reqs_count(st), expect);
	}
	reopen();
	ck_assert_int_eq(store_reqs_count(st), expect);
	for (g = 0; g < 40; g++) {
		id.seq = (uint64_t)(g * 50 + 1);
		if (g % 10 == 9)
			continue;
		ck_assert_int_eq(add_ok(&id, 1),
		    (int64_t)(g - g / 10) * 50 + 1);
	}
	ck_assert_int_eq(store_count_get(st), expect);
	id.seq = 10 * 50;				/* rolled back: runs */
	ck_assert_int_eq(add_ok(&id, 1), expect + 1);
}
END_TEST

/*
 * An older database's index on reqs.time is dropped at open (it cost
 * every transaction a b-tree); its identities still answer, and prune
 * and trim still work on the scan.
 */
START_TEST(old_time_index_dropped)
{
	bart_reqid	a = { 0x5b, 1 };
	sqlite3		*db;
	char		 path[128];

	ck_assert_int_eq(add_ok(&a, 2), 2);
	store_close(st);
	st = NULL;
	snprintf(path, sizeof(path), "%s/bart.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE INDEX reqs_time ON reqs "
	    "(time)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = store_open(dir, STORE_SYNC_NORMAL);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "SELECT 1 FROM reqs INDEXED BY "
	    "reqs_time", NULL, NULL, NULL), SQLITE_ERROR);
	sqlite3_close(db);
	ck_assert_int_eq(add_ok(&a, 2), 2);
	ck_assert_int_eq(store_prune(st, (int64_t)time(NULL) - 60), 0);
	ck_assert_int_eq(store_reqs_count(st), 1);
	ck_assert_int_eq(store_reqs_trim(st, 0), 0);
	ck_assert_int_eq(store_reqs_count(st), 0);
}
END_TEST

Suite *
store_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("store");
	tc = tcase_create("counter");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, count_starts_zero);
	tcase_add_test(tc, count_add_persists);
	tcase_add_test(tc, count_negative);
	tcase_add_test(tc, count_overflow);
	tcase_add_test(tc, count_reqid_dedupe);
	tcase_add_test(tc, count_reqid_high_bit);
	tcase_add_test(tc, count_client_zero_no_dedupe);
	suite_add_tcase(s, tc);
	tc = tcase_create("chat");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, chat_seq_increasing);
	tcase_add_test(tc, chat_reqid_dedupe);
	tcase_add_test(tc, chat_client_zero_no_dedupe);
	tcase_add_test(tc, chat_since_order_limit);
	tcase_add_test(tc, chat_since_after_newest);
	tcase_add_test(tc, chat_since_cb_stops);
	tcase_add_test(tc, chat_persists);
	tcase_add_test(tc, chat_text_intact);
	suite_add_tcase(s, tc);
	tc = tcase_create("misc");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, prune_forgets);
	tcase_add_test(tc, open_bad_path);
	suite_add_tcase(s, tc);
	tc = tcase_create("identity");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, id_what_is_remembered);
	tcase_add_test(tc, id_trim_bound);
	tcase_add_test(tc, id_prune_counts);
	suite_add_tcase(s, tc);
	tc = tcase_create("cap");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cap_prunes_oldest);
	tcase_add_test(tc, cap_keeps_numbering);
	tcase_add_test(tc, deleted_refuses_writes);
	tcase_add_test(tc, replaced_refuses_writes);
	tcase_add_test(tc, wal_deleted_refuses_writes);
	suite_add_tcase(s, tc);
	tc = tcase_create("group");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, group_dup_inside);
	tcase_add_test(tc, group_dup_across);
	tcase_add_test(tc, group_chat_dup);
	tcase_add_test(tc, group_lost_rollback);
	tcase_add_test(tc, group_stmt_fails_alone);
	tcase_add_test(tc, group_chat_undo);
	tcase_add_test(tc, group_commit_fails);
	tcase_add_test(tc, group_counter_write_fails);
	tcase_add_test(tc, single_commit_fails);
	tcase_add_test(tc, group_overflow);
	tcase_add_test(tc, old_time_index_dropped);
	tcase_add_test(tc, old_keyed_table_migrated);
	tcase_add_test(tc, id_forgotten_stays_forgotten);
	tcase_add_test(tc, id_drop_fails_keeps);
	tcase_add_test(tc, id_many_groups);
	suite_add_tcase(s, tc);
	return s;
}
