/* SPDX-License-Identifier: ISC */
/* check_log.c: log.c's rate limit of repeated lines, per call site. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "log.h"
#include "suites.h"

static char	logpath[] = "/tmp/bart-check-log.XXXXXX";

/* Send stderr to a fresh file (each test runs in its own process). */
static void
log_setup(void)
{
	int	fd;

	ck_assert_int_ne(fd = mkstemp(logpath), -1);
	ck_assert_int_ne(dup2(fd, STDERR_FILENO), -1);
	close(fd);
}

static void
log_teardown(void)
{
	unlink(logpath);
	memcpy(logpath + strlen(logpath) - 6, "XXXXXX", 6);
}

/* Lines of the log that contain NEEDLE. */
static int
lines_with(const char *needle)
{
	char	line[512];
	FILE	*f;
	int	n = 0;

	fflush(stderr);
	ck_assert_ptr_nonnull(f = fopen(logpath, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

START_TEST(log_repeats_limited)
{
	int	i;

	log_init(LOG_TO_STDERR, 0, "t");
	for (i = 0; i < 50; i++)
		log_info("subscription %d dropped", i);
	ck_assert_int_eq(lines_with("dropped"), 20);
	/* Another call site has its own allowance. */
	for (i = 0; i < 5; i++)
		log_warnx("refused %d", i);
	ck_assert_int_eq(lines_with("refused"), 5);
	/* The same format elsewhere is the same string: the same kind. */
	log_info("subscription %d dropped", 99);
	ck_assert_int_eq(lines_with("dropped"), 20);
}
END_TEST

START_TEST(log_debug_not_limited)
{
	int	i;

	log_init(LOG_TO_STDERR, 1, "t");
	for (i = 0; i < 50; i++)
		log_debug("deliver %d", i);
	ck_assert_int_eq(lines_with("deliver"), 50);
	log_init(LOG_TO_STDERR, 0, "t");
	log_debug("hidden");
	ck_assert_int_eq(lines_with("hidden"), 0);
}
END_TEST

START_TEST(log_keeps_errno)
{
	int	i;

	log_init(LOG_TO_STDERR, 0, "t");
	for (i = 0; i < 30; i++) {
		errno = EIO;
		log_warn("disk %d", i);		/* printed, then suppressed */
		ck_assert_int_eq(errno, EIO);
	}
	ck_assert_int_eq(lines_with("Input/output error"), 20);
}
END_TEST

/* Each call site is limited on its own. */
START_TEST(log_many_sites)
{
	char	buf[8];
	int	i, j;

	log_init(LOG_TO_STDERR, 0, "t");
	for (j = 0; j < 30; j++) {
		log_info("a%d", j);
		log_info("b%d", j);
		log_info("c%d", j);
		log_warnx("d%d", j);
	}
	for (i = 0; i < 4; i++) {
		snprintf(buf, sizeof(buf), "t: %c", 'a' + i);
		ck_assert_int_eq(lines_with(buf), 20);
	}
}
END_TEST

Suite *
log_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("log");
	tc = tcase_create("ratelimit");
	tcase_add_checked_fixture(tc, log_setup, log_teardown);
	tcase_add_test(tc, log_repeats_limited);
	tcase_add_test(tc, log_debug_not_limited);
	tcase_add_test(tc, log_keeps_errno);
	tcase_add_test(tc, log_many_sites);
	suite_add_tcase(s, tc);
	return s;
}
