/* SPDX-License-Identifier: ISC */
/*
 * check_pgstore.c: what the PostgreSQL store decides before any server
 * answers (bad strings, a password in the string, nothing to connect
 * to), and the ring's tolerance of a message fed twice.  The rest needs
 * a real PostgreSQL: tests/integration/t_pg.sh and t_pgfail.sh.
 */
#include <check.h>

#include "chat.h"
#include "store.h"
#include "suites.h"

START_TEST(bad_string)
{
	ck_assert_ptr_null(store_open_pg("host=x bogus_option=1"));
	ck_assert_ptr_null(store_open_pg("host"));
	ck_assert_ptr_null(store_open_pg("postgresql://[::1"));
}
END_TEST

START_TEST(password_refused)
{
	ck_assert_ptr_null(store_open_pg("host=/nonexistent password=x"));
	ck_assert_ptr_null(store_open_pg(
	    "postgresql://bart:secret@/bart?host=/nonexistent"));
}
END_TEST

START_TEST(nothing_to_connect_to)
{
	ck_assert_ptr_null(store_open_pg("host=/nonexistent-bart-unit "
	    "dbname=bart connect_timeout=1"));
}
END_TEST

/* Two threads feed a shared store's messages: a repeat changes nothing. */
START_TEST(ring_repeat_ignored)
{
	struct chat_ring	*r = chat_init(8);

	ck_assert_ptr_nonnull(r);
	chat_append(r, 5, 0, "n", "h", "five");
	chat_append(r, 6, 0, "n", "h", "six");
	chat_append(r, 6, 0, "n", "h", "six again");
	chat_append(r, 5, 0, "n", "h", "five again");
	ck_assert_uint_eq(chat_newest(r), 6);
	ck_assert_uint_eq(chat_oldest(r), 5);
	chat_append(r, 7, 0, "n", "h", "seven");
	ck_assert_uint_eq(chat_newest(r), 7);
	ck_assert_uint_eq(chat_oldest(r), 5);
	chat_exit(r);
}
END_TEST

Suite *
pgstore_suite(void)
{
	Suite	*s = suite_create("pgstore");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, bad_string);
	tcase_add_test(tc, password_refused);
	tcase_add_test(tc, nothing_to_connect_to);
	tcase_add_test(tc, ring_repeat_ignored);
	suite_add_tcase(s, tc);
	return s;
}
