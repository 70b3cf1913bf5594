/* SPDX-License-Identifier: ISC */
/* check_args.c: unit tests for bart_clnt's option and argument parsing. */
#include <sysexits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "bart.h"
#include "cmd.h"
#include "suites.h"

#define MAXARGV	16

/* A writable argv, as main() would get it; freed by the fixture. */
static char		*av[MAXARGV + 1];
static int		 ac;
static struct opts	 o;
static struct cmd_args	 ca;

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

static void
setup(void)
{
	memset(&o, 0, sizeof(o));
	memset(&ca, 0, sizeof(ca));
}

static void
teardown(void)
{
	argv_free();
}

/* Parse "bart_clnt" followed by the given words (NULL-terminated). */
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

START_TEST(parse_ok)
{
	ck_assert_int_eq(PARSE("server1", "count", "5"), 0);
	ck_assert_str_eq(o.host, "server1");
	ck_assert_ptr_nonnull(o.cmd);
	ck_assert_str_eq(o.cmd->name, "count");
	ck_assert_int_eq(o.argc, 1);
	ck_assert_str_eq(o.argv[0], "5");
	ck_assert_ptr_null(o.netid);
	ck_assert_uint_eq(o.timeout_ms, 5000);
}
END_TEST

START_TEST(parse_options)
{
	ck_assert_int_eq(PARSE("-T", "udp", "-t", "12", "h", "ping"), 0);
	ck_assert_str_eq(o.netid, "udp");
	ck_assert_uint_eq(o.timeout_ms, 12000);
	ck_assert_str_eq(o.host, "h");
	ck_assert_str_eq(o.cmd->name, "ping");
	ck_assert_int_eq(o.argc, 0);
	ck_assert_int_eq(PARSE("-t", "3600", "h", "stats"), 0);
	ck_assert_uint_eq(o.timeout_ms, 3600000);
	ck_assert_int_eq(PARSE("-t", "1", "h", "stats"), 0);
	ck_assert_uint_eq(o.timeout_ms, 1000);
	ck_assert_int_eq(PARSE("--", "-odd-host", "ping"), 0);
	ck_assert_str_eq(o.host, "-odd-host");
}
END_TEST

START_TEST(parse_netids)
{
	static const char *const ok[] = {
		"tcp", "udp", "local", "tcp6", "udp6"
	};
	size_t	i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_int_eq(PARSE("-T", ok[i], "h", "ping"), 0);
		ck_assert_str_eq(o.netid, ok[i]);
	}
	ck_assert_int_eq(PARSE("-T", "sctp", "h", "ping"), EX_USAGE);
	ck_assert_int_eq(PARSE("-T", "", "h", "ping"), EX_USAGE);
	ck_assert_int_eq(PARSE("-T", "TCP", "h", "ping"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "ping", "-T"), EX_USAGE);
	ck_assert_int_eq(PARSE("-T"), EX_USAGE);
}
END_TEST

START_TEST(parse_timeout_bad)
{
	ck_assert_int_eq(PARSE("-t", "0", "h", "ping"), EX_USAGE);
	ck_assert_int_eq(PARSE("-t", "-1", "h", "ping"), EX_USAGE);
	ck_assert_int_eq(PARSE("-t", "3601", "h", "ping"), EX_USAGE);
	ck_assert_int_eq(PARSE("-t", "5s", "h", "ping"), EX_USAGE);
	ck_assert_int_eq(PARSE("-t", "", "h", "ping"), EX_USAGE);
	ck_assert_int_eq(PARSE("-t"), EX_USAGE);
}
END_TEST

START_TEST(parse_help)
{
	ck_assert_int_eq(PARSE("-h"), CMD_HELP);
	ck_assert_int_eq(PARSE("--help"), CMD_HELP);
	ck_assert_int_eq(PARSE("-V"), CMD_HELP);
	ck_assert_int_eq(PARSE("-T", "tcp", "--version"), CMD_HELP);
}
END_TEST

START_TEST(parse_usage_errors)
{
	ck_assert_int_eq(parsev((const char *const[]){ NULL }), EX_USAGE);
	ck_assert_int_eq(PARSE("-T", "tcp"), EX_USAGE);		/* no host */
	ck_assert_int_eq(PARSE("h"), EX_USAGE);		/* no command */
	ck_assert_int_eq(PARSE("h", "frobnicate"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "COUNT", "1"), EX_USAGE);
	ck_assert_int_eq(PARSE("-x", "h", "ping"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "ping", "-Ttcp"), EX_USAGE);
}
END_TEST

START_TEST(parse_arg_counts)
{
	ck_assert_int_eq(PARSE("h", "count"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "count", "1", "2"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "ping", "x"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "stats", "x"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "say", "alice"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "chat"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "chat", "--name", "a", "b"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "history", "-n", "1", "--since", "2",
	    "x"), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "say", "a", "b", "c", "d", "e"), 0);
	ck_assert_int_eq(o.argc, 5);
}
END_TEST

START_TEST(count_values)
{
	ck_assert_int_eq(PARSE("h", "count", "42"), 0);
	ck_assert_int_eq(cmd_parse_count(&o, &ca), 0);
	ck_assert_int_eq(ca.n, 42);
	ck_assert_int_eq(PARSE("h", "count", "0"), 0);
	ck_assert_int_eq(cmd_parse_count(&o, &ca), 0);
	ck_assert_int_eq(ca.n, 0);
	/* Negatives parse: refusing them is the server's word. */
	ck_assert_int_eq(PARSE("h", "count", "-5"), 0);
	ck_assert_int_eq(cmd_parse_count(&o, &ca), 0);
	ck_assert_int_eq(ca.n, -5);
	ck_assert_int_eq(PARSE("h", "count", "2147483647"), 0);
	ck_assert_int_eq(cmd_parse_count(&o, &ca), 0);
	ck_assert_int_eq(ca.n, INT32_MAX);
	ck_assert_int_eq(PARSE("h", "count", "-2147483648"), 0);
	ck_assert_int_eq(cmd_parse_count(&o, &ca), 0);
	ck_assert_int_eq(ca.n, INT32_MIN);
}
END_TEST

START_TEST(count_bad)
{
	static const char *const bad[] = {
		"abc", "1x", "", "99999999999", "2147483648", "-2147483649",
		"1.5", "0x10", "99999999999999999999999"
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(PARSE("h", "count", bad[i]), 0);
		ck_assert_msg(cmd_parse_count(&o, &ca) == EX_USAGE,
		    "count '%s' was accepted", bad[i]);
	}
}
END_TEST

START_TEST(history_values)
{
	ck_assert_int_eq(PARSE("h", "history"), 0);
	ca.have_since = 7;
	ck_assert_int_eq(cmd_parse_history(&o, &ca), 0);
	ck_assert_int_eq(ca.n, 20);
	ck_assert_int_eq(ca.have_since, 0);
	ck_assert_int_eq(PARSE("h", "history", "-n", "5"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), 0);
	ck_assert_int_eq(ca.n, 5);
	ck_assert_int_eq(ca.have_since, 0);
	ck_assert_int_eq(PARSE("h", "history", "--since", "17"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), 0);
	ck_assert_int_eq(ca.n, 20);
	ck_assert_int_eq(ca.have_since, 1);
	ck_assert_uint_eq(ca.since, 17);
	ck_assert_int_eq(PARSE("h", "history", "--since", "0", "-n",
	    "1000000"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), 0);
	ck_assert_int_eq(ca.n, 1000000);
	ck_assert_int_eq(ca.have_since, 1);
	ck_assert_uint_eq(ca.since, 0);
}
END_TEST

START_TEST(history_bad)
{
	ck_assert_int_eq(PARSE("h", "history", "-n"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "history", "--since"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "history", "-n", "0"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "history", "-n", "x"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "history", "-n", "1000001"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "history", "--since", "-1"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "history", "--bogus", "3"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "history", "-x"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "history", "-n", "3", "--since"), 0);
	ck_assert_int_eq(cmd_parse_history(&o, &ca), EX_USAGE);
}
END_TEST

START_TEST(chat_names)
{
	char	name[BART_NAME_WIRE + 2];

	ck_assert_int_eq(PARSE("h", "chat", "alice"), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), 0);
	ck_assert_str_eq(ca.name, "alice");
	ck_assert_int_eq(PARSE("h", "chat", "--name", "bob"), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), 0);
	ck_assert_str_eq(ca.name, "bob");
	ck_assert_int_eq(PARSE("h", "chat", "-n", "carol"), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), 0);
	ck_assert_str_eq(ca.name, "carol");
	ck_assert_int_eq(PARSE("h", "chat", "--nam", "dan"), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "chat", "eve", "mallory"), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), EX_USAGE);
	/* Past the wire bound is refused locally; below it the server. */
	memset(name, 'n', BART_NAME_WIRE);
	name[BART_NAME_WIRE] = '\0';
	ck_assert_int_eq(PARSE("h", "chat", name), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), 0);
	name[BART_NAME_WIRE] = 'n';
	name[BART_NAME_WIRE + 1] = '\0';
	ck_assert_int_eq(PARSE("h", "chat", "--name", name), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), EX_USAGE);
}
END_TEST

START_TEST(say_joins)
{
	ck_assert_int_eq(PARSE("h", "say", "alice", "hello", "big", "world"),
	    0);
	ck_assert_int_eq(cmd_parse_say(&o, &ca), 0);
	ck_assert_str_eq(ca.name, "alice");
	ck_assert_str_eq(ca.text, "hello big world");
	ck_assert_int_eq(PARSE("h", "say", "bob", "one"), 0);
	ck_assert_int_eq(cmd_parse_say(&o, &ca), 0);
	ck_assert_str_eq(ca.name, "bob");
	ck_assert_str_eq(ca.text, "one");
	ck_assert_int_eq(PARSE("h", "say", "bob", "two  spaces", "", "x"),
	    0);
	ck_assert_int_eq(cmd_parse_say(&o, &ca), 0);
	ck_assert_str_eq(ca.text, "two  spaces  x");
}
END_TEST

START_TEST(say_too_long)
{
	char	word[1200];

	memset(word, 'w', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	ck_assert_int_eq(PARSE("h", "say", "a", word), 0);
	ck_assert_int_eq(cmd_parse_say(&o, &ca), 0);
	ck_assert_uint_eq(strlen(ca.text), sizeof(word) - 1);
	ck_assert_int_eq(PARSE("h", "say", "a", word, word), 0);
	ck_assert_int_eq(cmd_parse_say(&o, &ca), EX_USAGE);
}
END_TEST

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
	ck_assert_int_eq(PARSE("h", "chat", "--name"), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "chat", "-n"), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), EX_USAGE);
	ck_assert_int_eq(PARSE("h", "chat", "--name", "--name"), 0);
	ck_assert_int_eq(cmd_parse_chat(&o, &ca), 0);
	ck_assert_str_eq(ca.name, "--name");
}
END_TEST

Suite *
args_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("args");
	tc = tcase_create("global");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, parse_ok);
	tcase_add_test(tc, parse_options);
	tcase_add_test(tc, parse_netids);
	tcase_add_test(tc, parse_timeout_bad);
	tcase_add_test(tc, parse_help);
	tcase_add_test(tc, parse_usage_errors);
	tcase_add_test(tc, parse_arg_counts);
	tcase_add_test(tc, getopt_forms);
	tcase_add_test(tc, timeouts);
	tcase_add_test(tc, health_options);
	tcase_add_test(tc, chat_name_option_alone);
	suite_add_tcase(s, tc);
	tc = tcase_create("commands");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, count_values);
	tcase_add_test(tc, count_bad);
	tcase_add_test(tc, history_values);
	tcase_add_test(tc, history_bad);
	tcase_add_test(tc, chat_names);
	tcase_add_test(tc, say_joins);
	tcase_add_test(tc, say_too_long);
	suite_add_tcase(s, tc);
	return s;
}
