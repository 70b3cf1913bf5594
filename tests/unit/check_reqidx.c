/* SPDX-License-Identifier: ISC */
/* check_reqidx.c: unit tests for the in-memory request identities. */
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "reqidx.h"
#include "suites.h"

static struct reqidx_ent
ent(uint64_t client, uint64_t seq, int kind, int64_t row)
{
	struct reqidx_ent	e = { 0 };

	e.client = client;
	e.seq = seq;
	e.kind = kind;
	e.row = row;
	e.result = row * 10;
	e.time = 1000 + row;
	return e;
}

/* Found by all three parts of the identity, and by nothing less. */
START_TEST(find_exact)
{
	struct reqidx		*x = reqidx_new();
	struct reqidx_ent	 e = ent(5, 7, 0, 1);
	const struct reqidx_ent	*f;

	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_null(reqidx_find(x, 5, 7, 0));
	ck_assert_int_eq(reqidx_add(x, &e), 0);
	ck_assert_ptr_nonnull(f = reqidx_find(x, 5, 7, 0));
	ck_assert_int_eq(f->result, 10);
	ck_assert_ptr_null(reqidx_find(x, 5, 7, 1));
	ck_assert_ptr_null(reqidx_find(x, 5, 8, 0));
	ck_assert_ptr_null(reqidx_find(x, 6, 7, 0));
	ck_assert_uint_eq(reqidx_count(x), 1);
	reqidx_free(x);
}
END_TEST

/*
 * 100,000 entries (the ring grows many times over): every one found
 * with its own result, in claim order; dropping the oldest 99,000
 * forgets exactly those and gives the memory back.
 */
START_TEST(grow_drop_shrink)
{
	struct reqidx		*x = reqidx_new();
	struct reqidx_ent	 e;
	const struct reqidx_ent	*f;
	size_t			 small, i, n = 100000;

	ck_assert_ptr_nonnull(x);
	small = reqidx_bytes(x);
	for (i = 0; i < n; i++) {
		e = ent(i % 7 + 1, i / 7, (int)(i % 2), (int64_t)i + 1);
		ck_assert_int_eq(reqidx_add(x, &e), 0);
	}
	ck_assert_uint_eq(reqidx_count(x), n);
	ck_assert_uint_gt(reqidx_bytes(x), small * 64);
	for (i = 0; i < n; i++) {
		f = reqidx_find(x, i % 7 + 1, i / 7, (int)(i % 2));
		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(f->row, (int64_t)i + 1);
		ck_assert_int_eq(reqidx_nth(x, i)->row, (int64_t)i + 1);
	}
	ck_assert_ptr_null(reqidx_nth(x, n));
	reqidx_drop_oldest(x, n - 1000);
	ck_assert_uint_eq(reqidx_count(x), 1000);
	ck_assert_int_eq(reqidx_nth(x, 0)->row, (int64_t)(n - 1000) + 1);
	for (i = 0; i < n; i++) {
		f = reqidx_find(x, i % 7 + 1, i / 7, (int)(i % 2));
		if (i < n - 1000)
			ck_assert_ptr_null(f);
		else
			ck_assert_ptr_nonnull(f);
	}
	ck_assert_uint_le(reqidx_bytes(x), small * 4);
	reqidx_drop_oldest(x, 5000);		/* more than there are */
	ck_assert_uint_eq(reqidx_count(x), 0);
	ck_assert_ptr_null(reqidx_nth(x, 0));
	reqidx_free(x);
}
END_TEST

/* A rollback takes the newest back; the older stay found. */
START_TEST(truncate_newest)
{
	struct reqidx		*x = reqidx_new();
	struct reqidx_ent	 e;
	int			 i;

	ck_assert_ptr_nonnull(x);
	for (i = 1; i <= 3000; i++) {
		e = ent(1, (uint64_t)i, 0, i);
		ck_assert_int_eq(reqidx_add(x, &e), 0);
	}
	reqidx_truncate(x, 2500);
	ck_assert_uint_eq(reqidx_count(x), 2500);
	ck_assert_ptr_nonnull(reqidx_find(x, 1, 2500, 0));
	ck_assert_ptr_null(reqidx_find(x, 1, 2501, 0));
	ck_assert_ptr_null(reqidx_find(x, 1, 3000, 0));
	/* Claimed again after the rollback: found with the new row. */
	e = ent(1, 2501, 0, 9999);
	ck_assert_int_eq(reqidx_add(x, &e), 0);
	ck_assert_int_eq(reqidx_find(x, 1, 2501, 0)->row, 9999);
	reqidx_truncate(x, 5000);		/* more than there are */
	ck_assert_uint_eq(reqidx_count(x), 2501);
	reqidx_drop_oldest(x, 2500);
	ck_assert_int_eq(reqidx_nth(x, 0)->row, 9999);
	reqidx_truncate(x, 0);
	ck_assert_uint_eq(reqidx_count(x), 0);
	ck_assert_ptr_null(reqidx_find(x, 1, 2501, 0));
	reqidx_free(x);
}
END_TEST

/*
 * Entries dropped from both ends while the ring wraps around: the
 * survivors are always exactly the window between.
 */
START_TEST(window_wraps)
{
	struct reqidx		*x = reqidx_new();
	struct reqidx_ent	 e;
	uint64_t		 lo = 1, hi = 1, s;
	int			 round;

	ck_assert_ptr_nonnull(x);
	for (round = 0; round < 200; round++) {
		for (s = 0; s < 700; s++, hi++) {
			e = ent(3, hi, 1, (int64_t)hi);
			ck_assert_int_eq(reqidx_add(x, &e), 0);
		}
		reqidx_truncate(x, reqidx_count(x) - 100);
		hi -= 100;
		reqidx_drop_oldest(x, 550);
		lo += 550;
		ck_assert_uint_eq(reqidx_count(x), hi - lo);
		ck_assert_ptr_null(reqidx_find(x, 3, lo - 1, 1));
		ck_assert_ptr_nonnull(reqidx_find(x, 3, lo, 1));
		ck_assert_ptr_nonnull(reqidx_find(x, 3, hi - 1, 1));
		ck_assert_ptr_null(reqidx_find(x, 3, hi, 1));
	}
	for (s = lo; s < hi; s++)
		ck_assert_int_eq(reqidx_find(x, 3, s, 1)->row, (int64_t)s);
	reqidx_free(x);
}
END_TEST

Suite *
reqidx_suite(void)
{
	Suite	*s = suite_create("reqidx");
	TCase	*tc = tcase_create("reqidx");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, find_exact);
	tcase_add_test(tc, grow_drop_shrink);
	tcase_add_test(tc, truncate_newest);
	tcase_add_test(tc, window_wraps);
	suite_add_tcase(s, tc);
	return s;
}
