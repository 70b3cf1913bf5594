/* SPDX-License-Identifier: ISC */
/* check_counter.c: unit tests for the counter's arithmetic and sentence. */
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "counter.h"
#include "suites.h"

#define SENTINEL	INT64_C(-4242)

START_TEST(add_plain)
{
	int64_t	out = SENTINEL;

	ck_assert_int_eq(counter_add(0, 1, &out), BART_OK);
	ck_assert_int_eq(out, 1);
	ck_assert_int_eq(counter_add(5, 3, &out), BART_OK);
	ck_assert_int_eq(out, 8);
	ck_assert_int_eq(counter_add(0, INT64_MAX, &out), BART_OK);
	ck_assert_int_eq(out, INT64_MAX);
}
END_TEST

START_TEST(add_zero_reads)
{
	int64_t	out = SENTINEL;

	ck_assert_int_eq(counter_add(0, 0, &out), BART_OK);
	ck_assert_int_eq(out, 0);
	ck_assert_int_eq(counter_add(77, 0, &out), BART_OK);
	ck_assert_int_eq(out, 77);
	ck_assert_int_eq(counter_add(INT64_MAX, 0, &out), BART_OK);
	ck_assert_int_eq(out, INT64_MAX);
}
END_TEST

START_TEST(add_negative)
{
	int64_t	out = SENTINEL;

	ck_assert_int_eq(counter_add(10, -1, &out), BART_ENEGATIVE);
	ck_assert_int_eq(out, SENTINEL);
	ck_assert_int_eq(counter_add(0, INT64_MIN, &out), BART_ENEGATIVE);
	ck_assert_int_eq(out, SENTINEL);
	ck_assert_int_eq(counter_add(INT64_MAX, -1, &out), BART_ENEGATIVE);
	ck_assert_int_eq(out, SENTINEL);
}
END_TEST

START_TEST(add_overflow)
{
	int64_t	out = SENTINEL;

	ck_assert_int_eq(counter_add(INT64_MAX - 1, 1, &out), BART_OK);
	ck_assert_int_eq(out, INT64_MAX);
	out = SENTINEL;
	ck_assert_int_eq(counter_add(INT64_MAX, 1, &out), BART_EOVERFLOW);
	ck_assert_int_eq(out, SENTINEL);
	ck_assert_int_eq(counter_add(INT64_MAX - 1, 2, &out), BART_EOVERFLOW);
	ck_assert_int_eq(out, SENTINEL);
	ck_assert_int_eq(counter_add(1, INT64_MAX, &out), BART_EOVERFLOW);
	ck_assert_int_eq(out, SENTINEL);
	ck_assert_int_eq(counter_add(INT64_MAX, INT64_MAX, &out),
	    BART_EOVERFLOW);
	ck_assert_int_eq(out, SENTINEL);
}
END_TEST

START_TEST(text_exact)
{
	char	buf[BART_TEXT_REPLY + 1];

	counter_text(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "I was called 0 times.");
	counter_text(1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "I was called 1 times.");
	counter_text(1234567, buf, sizeof(buf));
	ck_assert_str_eq(buf, "I was called 1234567 times.");
	counter_text(INT64_MAX, buf, sizeof(buf));
	ck_assert_str_eq(buf, "I was called 9223372036854775807 times.");
	counter_text(-12, buf, sizeof(buf));
	ck_assert_str_eq(buf, "I was called -12 times.");
	counter_text(INT64_MIN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "I was called -9223372036854775808 times.");
	/* Exactly fits: 21 characters and the NUL. */
	counter_text(5, buf, 22);
	ck_assert_str_eq(buf, "I was called 5 times.");
	counter_text(5, buf, 21);
	ck_assert_str_eq(buf, "I was called 5 times");
}
END_TEST

/* The longest sentence fits the wire bound of count_ok.text. */
START_TEST(text_fits_reply)
{
	char	buf[256];

	counter_text(INT64_MAX, buf, sizeof(buf));
	ck_assert_uint_le(strlen(buf), BART_TEXT_REPLY);
	counter_text(INT64_MIN, buf, sizeof(buf));
	ck_assert_uint_le(strlen(buf), BART_TEXT_REPLY);
}
END_TEST

START_TEST(text_truncates)
{
	char	buf[10];

	memset(buf, 'x', sizeof(buf));
	counter_text(42, buf, sizeof(buf));
	ck_assert_str_eq(buf, "I was cal");
}
END_TEST

Suite *
counter_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("counter");
	tc = tcase_create("add");
	tcase_add_test(tc, add_plain);
	tcase_add_test(tc, add_zero_reads);
	tcase_add_test(tc, add_negative);
	tcase_add_test(tc, add_overflow);
	suite_add_tcase(s, tc);
	tc = tcase_create("text");
	tcase_add_test(tc, text_exact);
	tcase_add_test(tc, text_fits_reply);
	tcase_add_test(tc, text_truncates);
	suite_add_tcase(s, tc);
	return s;
}
