/* SPDX-License-Identifier: ISC */
/* check_util.c: the name and text checks, number parsing, display escape. */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "suites.h"
#include "util.h"

/* Both checks, on S: refused (want 0) or accepted (want 1). */
static void
both(const char *s, int want, const char *what)
{
	int	name = util_check_name(s) == BART_OK;
	int	text = util_check_text(s) == BART_OK;

	ck_assert_msg(name == want, "name %s: %s", what,
	    want ? "refused" : "accepted");
	ck_assert_msg(text == want, "text %s: %s", what,
	    want ? "refused" : "accepted");
}

/* Every C0 byte and DEL, alone and between letters. */
START_TEST(c0_and_del)
{
	char	s[8], what[32];
	int	c;

	for (c = 1; c <= 0x7f; c++) {
		if (c >= 0x20 && c < 0x7f)
			continue;
		snprintf(what, sizeof(what), "0x%02x alone", c);
		s[0] = (char)c;
		s[1] = '\0';
		both(s, 0, what);
		snprintf(what, sizeof(what), "a 0x%02x b", c);
		s[0] = 'a';
		s[1] = (char)c;
		s[2] = 'b';
		s[3] = '\0';
		both(s, 0, what);
	}
}
END_TEST

/* Every printable ASCII byte passes (a check refusing too much fails). */
START_TEST(printable_ascii)
{
	char	s[4], what[32];
	int	c;

	for (c = 0x20; c < 0x7f; c++) {
		snprintf(what, sizeof(what), "0x%02x", c);
		s[0] = 'x';
		s[1] = (char)c;
		s[2] = 'y';
		s[3] = '\0';
		both(s, 1, what);
	}
}
END_TEST

/* C1 as raw bytes 0x80..0x9f and as UTF-8 (C2 80..C2 9F). */
START_TEST(c1_raw_and_utf8)
{
	char	s[8], what[40];
	int	c;

	for (c = 0x80; c <= 0x9f; c++) {
		snprintf(what, sizeof(what), "raw 0x%02x", c);
		s[0] = 'a';
		s[1] = (char)c;
		s[2] = 'b';
		s[3] = '\0';
		both(s, 0, what);
		snprintf(what, sizeof(what), "UTF-8 U+%04X", c);
		s[0] = 'a';
		s[1] = (char)0xc2;
		s[2] = (char)c;
		s[3] = 'b';
		s[4] = '\0';
		both(s, 0, what);
	}
	/* The first character after C1 is fine: U+00A0, U+00FF. */
	both("a\xc2\xa0" "b", 1, "U+00A0");
	both("\xc3\xbf", 1, "U+00FF");
}
END_TEST

/* C0 and DEL hidden in overlong two- and three-byte forms. */
START_TEST(overlong)
{
	char	s[8], what[40];
	int	c;

	for (c = 0; c < 0x80; c++) {
		snprintf(what, sizeof(what), "overlong2 U+%04X", c);
		s[0] = (char)(0xc0 | (c >> 6));
		s[1] = (char)(0x80 | (c & 0x3f));
		s[2] = '\0';
		both(s, 0, what);
		snprintf(what, sizeof(what), "overlong3 U+%04X", c);
		s[0] = (char)0xe0;
		s[1] = (char)(0x80 | (c >> 6));
		s[2] = (char)(0x80 | (c & 0x3f));
		s[3] = '\0';
		both(s, 0, what);
	}
	both("\xe0\x9f\xbf", 0, "overlong3 U+07FF");
	both("\xf0\x8f\xbf\xbf", 0, "overlong4 U+FFFF");
	both("\xf0\x80\x80\x9b", 0, "overlong4 ESC");
}
END_TEST

START_TEST(invalid_utf8)
{
	both("\xed\xa0\x80", 0, "surrogate U+D800");
	both("\xed\xbf\xbf", 0, "surrogate U+DFFF");
	both("\xf4\x90\x80\x80", 0, "U+110000");
	both("\xf5\x80\x80\x80", 0, "lead F5");
	both("\xff", 0, "byte FF");
	both("\xfe", 0, "byte FE");
	both("a\x80", 0, "stray continuation");
	both("\xc3", 0, "cut 2-byte");
	both("\xe2\x9c", 0, "cut 3-byte");
	both("\xf0\x9f\x98", 0, "cut 4-byte");
	both("\xe2\x9c" "a", 0, "3-byte cut by ASCII");
	both("\xc3\xc3\xa9", 0, "lead then lead");
}
END_TEST

START_TEST(valid_utf8)
{
	both("zo\xc3\xab", 1, "zoë");
	both("gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93", 1, "grüße ✓");
	both("\xe0\xa0\x80", 1, "U+0800");
	both("\xed\x9f\xbf", 1, "U+D7FF");
	both("\xee\x80\x80", 1, "U+E000");
	both("\xef\xbf\xbd", 1, "U+FFFD");
	both("\xf0\x90\x80\x80", 1, "U+10000");
	both("\xf0\x9f\x98\x80", 1, "U+1F600");
	both("\xf4\x8f\xbf\xbf", 1, "U+10FFFF");
	both("\xe6\x97\xa5\xe6\x9c\xac", 1, "日本");
}
END_TEST

START_TEST(lengths)
{
	char	s[600];

	ck_assert_int_eq(util_check_name(NULL), BART_ENAME);
	ck_assert_int_eq(util_check_text(NULL), BART_ETEXT);
	ck_assert_int_eq(util_check_name(""), BART_ENAME);
	ck_assert_int_eq(util_check_text(""), BART_ETEXT);
	memset(s, 'a', sizeof(s));
	s[BART_NAME_MAX] = '\0';
	ck_assert_int_eq(util_check_name(s), BART_OK);
	s[BART_NAME_MAX] = 'a';
	s[BART_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(util_check_name(s), BART_ENAME);
	memset(s, 'a', sizeof(s));
	s[BART_TEXT_MAX] = '\0';
	ck_assert_int_eq(util_check_text(s), BART_OK);
	s[BART_TEXT_MAX] = 'a';
	s[BART_TEXT_MAX + 1] = '\0';
	ck_assert_int_eq(util_check_text(s), BART_ETEXT);
}
END_TEST

START_TEST(status_words)
{
	ck_assert_ptr_nonnull(strstr(util_status_str(BART_ENAME), "C1"));
	ck_assert_ptr_nonnull(strstr(util_status_str(BART_ETEXT), "UTF-8"));
	/* Also what a failed history read gets: no "could not store". */
	ck_assert_ptr_null(strstr(util_status_str(BART_ESTORE), "store the"));
}
END_TEST

START_TEST(parse_ll)
{
	long long	v = 42;

	ck_assert_int_eq(util_parse_ll("5", 0, 10, &v), 0);
	ck_assert_int_eq(v, 5);
	ck_assert_int_eq(util_parse_ll("-1", -5, 10, &v), 0);
	ck_assert_int_eq(v, -1);
	ck_assert_int_eq(util_parse_ll("007", 0, 10, &v), 0);
	ck_assert_int_eq(v, 7);
	v = 42;
	ck_assert_int_eq(util_parse_ll(" 5", 0, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll("\t5", 0, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll("+5", 0, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll("5 ", 0, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll("-", -5, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll("- 1", -5, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll("--1", -5, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll("", 0, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll(NULL, 0, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll("0x5", 0, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll("11", 0, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll("-1", 0, 10, &v), -1);
	ck_assert_int_eq(util_parse_ll("99999999999999999999", 0,
	    9223372036854775807LL, &v), -1);
	ck_assert_int_eq(v, 42);
}
END_TEST

START_TEST(escape)
{
	char	buf[64];
	int	c;

	ck_assert_uint_eq(util_escape("a\x1b[2Jb", buf, sizeof(buf)), 9);
	ck_assert_str_eq(buf, "a\\x1b[2Jb");
	util_escape("\xc2\x9b" "1m\x9b\x7f", buf, sizeof(buf));
	ck_assert_str_eq(buf, "\\xc2\\x9b1m\\x9b\\x7f");
	util_escape("zo\xc3\xab \xe2\x9c\x93", buf, sizeof(buf));
	ck_assert_str_eq(buf, "zo\xc3\xab \xe2\x9c\x93");
	util_escape("\xed\xa0\x80", buf, sizeof(buf));
	ck_assert_str_eq(buf, "\\xed\\xa0\\x80");
	/* Never a partial escape or character at the end. */
	ck_assert_uint_eq(util_escape("ab\x1b", buf, 6), 2);
	ck_assert_str_eq(buf, "ab");
	ck_assert_uint_eq(util_escape("a\xe2\x9c\x93", buf, 4), 1);
	ck_assert_str_eq(buf, "a");
	ck_assert_uint_eq(util_escape("abc", buf, 1), 0);
	ck_assert_str_eq(buf, "");
	/* Whatever the input, the output passes the text check. */
	for (c = 1; c < 256; c++) {
		char	in[2] = { (char)c, '\0' };

		util_escape(in, buf, sizeof(buf));
		ck_assert_msg(util_check_text(buf) == BART_OK,
		    "escape of 0x%02x is not clean", c);
	}
}
END_TEST

Suite *
util_suite(void)
{
	Suite	*s = suite_create("util");
	TCase	*tc = tcase_create("checks");

	tcase_add_test(tc, c0_and_del);
	tcase_add_test(tc, printable_ascii);
	tcase_add_test(tc, c1_raw_and_utf8);
	tcase_add_test(tc, overlong);
	tcase_add_test(tc, invalid_utf8);
	tcase_add_test(tc, valid_utf8);
	tcase_add_test(tc, lengths);
	tcase_add_test(tc, status_words);
	suite_add_tcase(s, tc);
	tc = tcase_create("parse");
	tcase_add_test(tc, parse_ll);
	tcase_add_test(tc, escape);
	suite_add_tcase(s, tc);
	return s;
}
