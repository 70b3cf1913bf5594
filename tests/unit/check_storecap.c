/* SPDX-License-Identifier: ISC */
/*
 * check_storecap.c: the store's history cap and its deleted-file check
 * (store_chat_cap, store_check), one fresh directory a test.
 */
#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "store.h"
#include "suites.h"

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

Suite *
storecap_suite(void)
{
	Suite	*s = suite_create("storecap");
	TCase	*tc = tcase_create("cap");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cap_prunes_oldest);
	tcase_add_test(tc, cap_keeps_numbering);
	tcase_add_test(tc, deleted_refuses_writes);
	tcase_add_test(tc, replaced_refuses_writes);
	tcase_add_test(tc, wal_deleted_refuses_writes);
	suite_add_tcase(s, tc);
	return s;
}
