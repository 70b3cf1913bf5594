/*
 * check_lib.c: unit tests for libbart's and bart_clnt's pure parts:
 * error words and exit codes, escaping for terminals, JSON encoding,
 * global option syntax (getopt_long), timeouts and health options.
 */
#include <sysexits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../../lib/bart.h"
#include "cmd.h"
#include "json.h"
#include "suites.h"

#define MAXARGV	16

static char		*av[MAXARGV + 1];
static int		 ac;
static struct opts	 o;

static void
argv_free(void)
{
	int	i;

	for (i = 0; i < ac; i++) {
		free(av[i]);
		av[i] = NULL;
	}
	ac = 0;
}

static int
parsev(const char *const *words)
{
	argv_free();
	ck_assert_ptr_nonnull(av[ac++] = strdup("bart_clnt"));
	for (; *words != NULL; words++) {
		ck_assert_int_lt(ac, MAXARGV);
		ck_assert_ptr_nonnull(av[ac++] = strdup(*words));
	}
	av[ac] = NULL;
	return cmd_parse(ac, av, &o);
}

#define PARSE(...)	parsev((const char *const[]){ __VA_ARGS__, NULL })

START_TEST(getopt_forms)
{
	ck_assert_int_eq(PARSE("-Tudp", "-t0.5", "h", "ping"), 0);
	ck_assert_str_eq(o.netid, "udp");
	ck_assert_uint_eq(o.timeout_ms, 500);
	ck_assert_int_eq(PARSE("--timeout", "2", "--transport", "tcp6", "h",
	    "stats"), 0);
	ck_assert_uint_eq(o.timeout_ms, 2000);
	ck_assert_str_eq(o.netid, "tcp6");
	ck_assert_int_eq(PARSE("--timeout=1.25", "h", "stats"), 0);
	ck_assert_uint_eq(o.timeout_ms, 1250);
	/* After HOST, before COMMAND. */
	ck_assert_int_eq(PARSE("h", "-T", "local", "-o", "json", "stats"), 0);
	ck_assert_str_eq(o.host, "h");
	ck_assert_str_eq(o.netid, "local");
	ck_assert_int_eq(o.out, OUT_JSON);
	ck_assert_str_eq(o.cmd->name, "stats");
	/* After COMMAND it is the command's: a negative count. */
	ck_assert_int_eq(PARSE("h", "count", "-5"), 0);
	ck_assert_str_eq(o.argv[0], "-5");
	ck_assert_int_eq(PARSE("h", "history", "-n", "3"), 0);
	ck_assert_int_eq(o.argc, 2);
	ck_assert_int_eq(PARSE("--output=text", "h", "ping"), 0);
	ck_assert_int_eq(o.out, OUT_TEXT);
	ck_assert_int_eq(PARSE("-o", "xml", "h", "ping"), EX_USAGE);
	ck_assert_int_eq(PARSE("--bogus", "h", "ping"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "--timeout"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "health"), 0);
	ck_assert_int_eq(o.cmd->needs_conn, 0);
	ck_assert_int_eq(PARSE("h", "count", "1"), 0);
	ck_assert_int_eq(o.cmd->needs_conn, 1);
}
END_TEST

START_TEST(timeouts)
{
	static const char *const bad[] = {
		"0", "-1", "3600.001", "", " 1", "+1", "1s", "nan", "inf",
		"0.0004", "1e9", "0x10"
	};
	unsigned int	ms;
	size_t		i;

	ck_assert_int_eq(cmd_parse_timeout("0.001", &ms), 0);
	ck_assert_uint_eq(ms, 1);
	ck_assert_int_eq(cmd_parse_timeout("3600", &ms), 0);
	ck_assert_uint_eq(ms, 3600000);
	ck_assert_int_eq(cmd_parse_timeout("2.5", &ms), 0);
	ck_assert_uint_eq(ms, 2500);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cmd_parse_timeout(bad[i], &ms) == -1,
		    "timeout '%s' accepted", bad[i]);
}
END_TEST

START_TEST(health_options)
{
	struct cmd_args	ca;

	memset(&ca, 0, sizeof(ca));
	ck_assert_int_eq(PARSE("h", "health"), 0);
	ck_assert_int_eq(cmd_parse_health(&o, &ca), 0);
	ck_assert_uint_eq(ca.warn_ms, 1000);
	ck_assert_uint_eq(ca.crit_ms, 5000);
	ck_assert_int_eq(PARSE("h", "health", "-w", "0.2", "-c", "3"), 0);
	ck_assert_int_eq(cmd_parse_health(&o, &ca), 0);
	ck_assert_uint_eq(ca.warn_ms, 200);
	ck_assert_uint_eq(ca.crit_ms, 3000);
	/* A plugin's bad usage is UNKNOWN (3), not 64. */
	ck_assert_int_eq(PARSE("h", "health", "-x", "1"), 0);
	ck_assert_int_eq(cmd_parse_health(&o, &ca), 3);
	ck_assert_int_eq(PARSE("h", "health", "-w"), 0);
	ck_assert_int_eq(cmd_parse_health(&o, &ca), 3);
	ck_assert_int_eq(PARSE("h", "health", "-c", "0"), 0);
	ck_assert_int_eq(cmd_parse_health(&o, &ca), 3);
}
END_TEST

START_TEST(chat_name_option_alone)
{
	struct cmd_args	ca;

	memset(&ca, 0, sizeof(ca));
	ck_assert_int_eq(PARSE("h", "chat", "--name"), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "chat", "-n"), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "chat", "--name", "--name"), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), 0);
	ck_assert_str_eq(ca.name, "--name");
}
END_TEST

START_TEST(errors_worded)
{
	int	e;

	for (e = 0; e <= 18; e++)
		ck_assert_str_ne(bart_strerror(e), "unknown error");
	for (e = BART_ERR_USAGE; e <= BART_ERR_CALLBACK; e++) {
		ck_assert_str_ne(bart_strerror(e), "unknown error");
		ck_assert_int_ne(cmd_exit_code(e), 0);
	}
	ck_assert_str_eq(bart_strerror(12345), "unknown error");
	ck_assert_str_eq(bart_strerror(BART_ERR_NOHOST), "unknown host");
}
END_TEST

START_TEST(exit_codes)
{
	ck_assert_int_eq(cmd_exit_code(BART_ERR_OK), 0);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NEGATIVE), EX_DATAERR);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_OVERFLOW), EX_DATAERR);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NAME), EX_DATAERR);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_STORE), EX_IOERR);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_UNKNOWN), EX_TEMPFAIL);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_RATE), EX_TEMPFAIL);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_USESTREAM), EX_UNAVAILABLE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_TOOMANY), EX_UNAVAILABLE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_UNAVAIL), EX_OSERR);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NOHOST), EX_NOHOST);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NOTREG), EX_UNAVAILABLE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NOANSWER), EX_UNAVAILABLE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_LOST), EX_UNAVAILABLE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_TIMEDOUT), EX_TEMPFAIL);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_NETID), EX_USAGE);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_VERSION), EX_PROTOCOL);
	ck_assert_int_eq(cmd_exit_code(BART_ERR_DECODE), EX_DATAERR);
}
END_TEST

START_TEST(escape_terminal)
{
	char	buf[64];

	bart_escape("plain text: ok", buf, sizeof(buf));
	ck_assert_str_eq(buf, "plain text: ok");
	bart_escape("a\033[2Jb", buf, sizeof(buf));
	ck_assert_str_eq(buf, "a\\x1b[2Jb");
	bart_escape("\x7f\xc2\x9b\xff", buf, sizeof(buf));
	ck_assert_str_eq(buf, "\\x7f\\xc2\\x9b\\xff");
	bart_escape("caf\xc3\xa9 \xe2\x80\x9d", buf, sizeof(buf));
	ck_assert_str_eq(buf, "caf\xc3\xa9 \xe2\x80\x9d");
	/* Truncated to the buffer, always terminated, never half an escape. */
	ck_assert_uint_le(bart_escape("\033\033\033\033", buf, 7), 6);
	ck_assert_str_eq(buf, "\\x1b");
}
END_TEST

START_TEST(json_strings)
{
	char	buf[128];

	ck_assert_int_eq(json_escape("a] b", buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "a] b");
	json_escape("say \"hi\" \\ now", buf, sizeof(buf));
	ck_assert_str_eq(buf, "say \\\"hi\\\" \\\\ now");
	json_escape("t\tn\nz\x01", buf, sizeof(buf));
	ck_assert_str_eq(buf, "t\\tn\\nz\\u0001");
	json_escape("\x7f\xc2\x9b", buf, sizeof(buf));
	ck_assert_str_eq(buf, "\\u007f\\u009b");
	/* Valid UTF-8 passes; invalid bytes become lone surrogates. */
	json_escape("\xc3\xa9\xf0\x9f\x98\x80", buf, sizeof(buf));
	ck_assert_str_eq(buf, "\xc3\xa9\xf0\x9f\x98\x80");
	json_escape("A\xff" "B\xc3" "C", buf, sizeof(buf));
	ck_assert_str_eq(buf, "A\\udcffB\\udcc3C");
	json_escape("\xe0\x80\xaf", buf, sizeof(buf));	/* overlong '/' */
	ck_assert_str_eq(buf, "\\udce0\\udc80\\udcaf");
	json_escape("\xed\xa0\x80", buf, sizeof(buf));	/* a surrogate */
	ck_assert_str_eq(buf, "\\udced\\udca0\\udc80");
	json_escape("\xf4\x90\x80\x80", buf, sizeof(buf));	/* > U+10FFFF */
	ck_assert_str_eq(buf, "\\udcf4\\udc90\\udc80\\udc80");
	ck_assert_int_eq(json_escape("\"\"\"", buf, 6), -1);
	ck_assert_int_eq(json_escape("", buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(json_times)
{
	char	buf[32];

	ck_assert_int_eq(json_time(0, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	ck_assert_int_eq(json_time(1796154236, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "2026-12-01T19:43:56Z");
	ck_assert_int_eq(json_time(0, buf, 5), -1);
}
END_TEST

Suite *
lib_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("lib");
	tc = tcase_create("options");
	tcase_add_checked_fixture(tc, NULL, argv_free);
	tcase_add_test(tc, getopt_forms);
	tcase_add_test(tc, timeouts);
	tcase_add_test(tc, health_options);
	tcase_add_test(tc, chat_name_option_alone);
	suite_add_tcase(s, tc);
	tc = tcase_create("words");
	tcase_add_test(tc, errors_worded);
	tcase_add_test(tc, exit_codes);
	tcase_add_test(tc, escape_terminal);
	tcase_add_test(tc, json_strings);
	tcase_add_test(tc, json_times);
	suite_add_tcase(s, tc);
	return s;
}
