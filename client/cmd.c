/*
 * cmd.c: the command table that feeds both dispatch and usage(), the
 * option parser, and the one-shot commands.  Arguments are checked
 * before any network traffic, so bad usage costs nothing.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "chatui.h"
#include "cmd.h"
#include "conn.h"
#include "util.h"

#define DEFAULT_TIMEOUT	5
#define HISTORY_DEFAULT	20

static int	cmd_count(struct opts *);
static int	cmd_ping(struct opts *);
static int	cmd_say(struct opts *);
static int	cmd_history(struct opts *);
static int	cmd_stats(struct opts *);
static int	cmd_chat(struct opts *);

static const struct cmd cmds[] = {
	{ "count", 1, 1, cmd_count, "count N",
	    "add N to the counter and print the total (0 only reads it)" },
	{ "ping", 0, 0, cmd_ping, "ping",
	    "call the null procedure and print the round-trip time" },
	{ "say", 2, -1, cmd_say, "say NAME TEXT...",
	    "send one chat message" },
	{ "history", 0, 4, cmd_history, "history [-n N] [--since SEQ]",
	    "print stored chat messages (default: the last 20)" },
	{ "stats", 0, 0, cmd_stats, "stats",
	    "print counter, messages, subscribers and uptime" },
	{ "chat", 1, 2, cmd_chat, "chat NAME | chat --name NAME",
	    "join the chat room; type lines to send, EOF to leave" },
};

void
cmd_usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: bart_clnt [-T netid] [-t seconds] HOST COMMAND "
	    "[ARGS]\n"
	    "       bart_clnt -h | -V\n"
	    "  -T NETID    transport: tcp, udp, local, tcp6, udp6 "
	    "(default: local for this host, else tcp)\n"
	    "  -t SECONDS  timeout for each call (default %d)\n"
	    "commands:\n", DEFAULT_TIMEOUT);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-30s %s\n", cmds[i].usage, cmds[i].help);
}

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list	ap;

	fputs("bart_clnt: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(bart_clnt -h for help)\n", stderr);
	return EX_USAGE;
}

/* Parse global options, HOST and COMMAND; 0, CMD_HELP or EX_USAGE. */
int
cmd_parse(int argc, char **argv, struct opts *o)
{
	long long	v;
	size_t		i;
	int		a = 1, nargs;

	memset(o, 0, sizeof(*o));
	o->timeout = DEFAULT_TIMEOUT;
	for (; a < argc && argv[a][0] == '-' && argv[a][1] != '\0'; a++) {
		if (strcmp(argv[a], "--") == 0) {
			a++;
			break;
		}
		if (strcmp(argv[a], "-h") == 0 ||
		    strcmp(argv[a], "--help") == 0) {
			cmd_usage(stdout);
			return CMD_HELP;
		}
		if (strcmp(argv[a], "-V") == 0 ||
		    strcmp(argv[a], "--version") == 0) {
			printf("bart_clnt %s\n", BART_VERSION);
			return CMD_HELP;
		}
		if (strcmp(argv[a], "-T") == 0 || strcmp(argv[a], "-t") == 0) {
			if (a + 1 >= argc)
				return usage_error("%s: needs a value",
				    argv[a]);
			if (argv[a][1] == 'T') {
				o->netid = argv[++a];
				continue;
			}
			if (util_parse_ll(argv[++a], 1, 3600, &v) == -1)
				return usage_error("%s: timeout must be 1 to "
				    "3600 seconds", argv[a]);
			o->timeout = (int)v;
			continue;
		}
		return usage_error("%s: unknown option", argv[a]);
	}
	if (a >= argc)
		return usage_error("missing HOST");
	o->host = argv[a++];
	if (a >= argc)
		return usage_error("missing COMMAND");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[a], cmds[i].name) == 0)
			o->cmd = &cmds[i];
	if (o->cmd == NULL)
		return usage_error("%s: unknown command", argv[a]);
	a++;
	o->argc = argc - a;
	o->argv = argv + a;
	nargs = o->argc;
	if (nargs < o->cmd->min_args ||
	    (o->cmd->max_args >= 0 && nargs > o->cmd->max_args))
		return usage_error("%s: wrong number of arguments",
		    o->cmd->usage);
	if (o->netid != NULL && strcmp(o->netid, "tcp") != 0 &&
	    strcmp(o->netid, "udp") != 0 && strcmp(o->netid, "local") != 0 &&
	    strcmp(o->netid, "tcp6") != 0 && strcmp(o->netid, "udp6") != 0)
		return usage_error("%s: unknown transport (use tcp, udp, "
		    "local, tcp6 or udp6)", o->netid);
	return 0;
}

int
cmd_parse_count(struct opts *o, struct cmd_args *ca)
{
	if (util_parse_ll(o->argv[0], -2147483648LL, 2147483647LL,
	    &ca->n) == -1)
		return usage_error("count: '%s' is not a 32-bit integer",
		    o->argv[0]);
	return 0;
}

int
cmd_parse_say(struct opts *o, struct cmd_args *ca)
{
	size_t	len = 0, l;
	int	i;

	ca->name = o->argv[0];
	ca->text[0] = '\0';
	for (i = 1; i < o->argc; i++) {
		l = strlen(o->argv[i]);
		if (len + l + 2 > sizeof(ca->text))
			return usage_error("say: TEXT is far too long "
			    "(at most %d bytes)", BART_TEXT_MAX);
		if (i > 1)
			ca->text[len++] = ' ';
		memcpy(ca->text + len, o->argv[i], l + 1);
		len += l;
	}
	return 0;
}

int
cmd_parse_history(struct opts *o, struct cmd_args *ca)
{
	long long	v;
	int		i;

	ca->n = HISTORY_DEFAULT;
	ca->have_since = 0;
	for (i = 0; i < o->argc; i++) {
		if (strcmp(o->argv[i], "-n") != 0 &&
		    strcmp(o->argv[i], "--since") != 0)
			return usage_error("%s: unknown history option",
			    o->argv[i]);
		if (i + 1 >= o->argc)
			return usage_error("%s: needs a value", o->argv[i]);
		if (strcmp(o->argv[i], "-n") == 0) {
			if (util_parse_ll(o->argv[++i], 1, 1000000, &v) == -1)
				return usage_error("%s: -n takes 1 to "
				    "1000000", o->argv[i]);
			ca->n = v;
		} else if (strcmp(o->argv[i], "--since") == 0) {
			if (util_parse_ll(o->argv[++i], 0, INT64_MAX, &v) == -1)
				return usage_error("%s: --since takes a "
				    "sequence number", o->argv[i]);
			ca->since = (uint64_t)v;
			ca->have_since = 1;
		}
	}
	return 0;
}

int
cmd_parse_chat(struct opts *o, struct cmd_args *ca)
{
	if (o->argc == 2) {
		if (strcmp(o->argv[0], "--name") != 0 &&
		    strcmp(o->argv[0], "-n") != 0)
			return usage_error("%s: usage: chat NAME | chat "
			    "--name NAME", o->argv[0]);
		ca->name = o->argv[1];
	} else
		ca->name = o->argv[0];
	if (strlen(ca->name) > BART_NAME_WIRE)
		return usage_error("chat: NAME is far too long "
		    "(at most %d bytes)", BART_NAME_MAX);
	return 0;
}

static int
connect_or_fail(struct opts *o, struct conn *c)
{
	memset(c, 0, sizeof(*c));
	return conn_open(c, o->host, o->netid, o->timeout);
}

static int
cmd_count(struct opts *o)
{
	struct cmd_args	ca;
	struct conn	c;
	count_args	a;
	count_res	r;
	int		rc;

	if ((rc = cmd_parse_count(o, &ca)) != 0)
		return rc;
	if ((rc = connect_or_fail(o, &c)) != 0)
		return rc;
	memset(&r, 0, sizeof(r));
	conn_reqid(&c, &a.id);
	a.up = (int)ca.n;
	rc = conn_call(&c, COUNT, (xdrproc_t)xdr_count_args, &a,
	    (xdrproc_t)xdr_count_res, &r, 1);
	if (rc == 0 && (rc = conn_status(&c, r.status)) == 0)
		printf("%s\n", r.count_res_u.ok.text);
	xdr_free((xdrproc_t)xdr_count_res, (char *)&r);
	conn_close(&c);
	return rc;
}

static int
cmd_ping(struct opts *o)
{
	struct conn	c;
	uint64_t	t0, t1;
	int		rc;

	if ((rc = connect_or_fail(o, &c)) != 0)
		return rc;
	t0 = util_now_us();
	rc = conn_call(&c, NULLPROC, XDR_VOID, NULL,
	    XDR_VOID, NULL, 0);
	t1 = util_now_us();
	if (rc == 0)
		printf("%s: bart is alive (%s, %llu us)\n", o->host, c.netid,
		    (unsigned long long)(t1 - t0));
	conn_close(&c);
	return rc;
}

static int
cmd_say(struct opts *o)
{
	struct cmd_args	ca;
	struct conn	c;
	chat_send_args	a;
	chat_send_res	r;
	int		rc;

	if ((rc = cmd_parse_say(o, &ca)) != 0)
		return rc;
	memset(&c, 0, sizeof(c));
	c.host = o->host;
	/* Too long even for the wire: the server's words, no traffic. */
	if (strlen(ca.name) > BART_NAME_WIRE)
		return conn_status(&c, BART_ENAME);
	if (strlen(ca.text) > BART_TEXT_WIRE)
		return conn_status(&c, BART_ETEXT);
	if ((rc = connect_or_fail(o, &c)) != 0)
		return rc;
	memset(&r, 0, sizeof(r));
	conn_reqid(&c, &a.id);
	a.name = (char *)(uintptr_t)ca.name;
	a.text = ca.text;
	rc = conn_call(&c, CHAT_SEND, (xdrproc_t)xdr_chat_send_args, &a,
	    (xdrproc_t)xdr_chat_send_res, &r, 1);
	if (rc == 0 && (rc = conn_status(&c, r.status)) == 0)
		printf("message %llu stored.\n",
		    (unsigned long long)r.chat_send_res_u.seq);
	xdr_free((xdrproc_t)xdr_chat_send_res, (char *)&r);
	conn_close(&c);
	return rc;
}

/* "SEQ YYYY-MM-DD HH:MM:SS HOST [NAME] TEXT" */
static void
print_history_line(const chat_msg *m)
{
	char		when[32];
	time_t		t = (time_t)m->time;
	struct tm	tm;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%llu %s %s [%s] %s\n", (unsigned long long)m->seq, when,
	    m->host, m->name, m->text);
}

static int
cmd_history(struct opts *o)
{
	struct cmd_args	ca;
	struct conn	c;
	chat_since_args	a;
	chat_since_res	r;
	uint64_t	left;
	u_int		i;
	int		rc;

	if ((rc = cmd_parse_history(o, &ca)) != 0)
		return rc;
	if ((rc = connect_or_fail(o, &c)) != 0)
		return rc;
	memset(&r, 0, sizeof(r));
	a.seq = UINT64_MAX >> 1;
	a.max = 0;
	if (!ca.have_since) {
		/* Ask for the newest number, then read the last N. */
		if ((rc = conn_call(&c, CHAT_SINCE,
		    (xdrproc_t)xdr_chat_since_args, &a,
		    (xdrproc_t)xdr_chat_since_res, &r, 0)) != 0 ||
		    (rc = conn_status(&c, r.status)) != 0)
			goto out;
		ca.since = r.chat_since_res_u.ok.newest > (uint64_t)ca.n ?
		    r.chat_since_res_u.ok.newest - (uint64_t)ca.n : 0;
		xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);
	}
	a.seq = ca.since;
	for (left = (uint64_t)ca.n; left > 0;) {
		a.max = left > BART_BATCH_MAX ? BART_BATCH_MAX : (u_int)left;
		memset(&r, 0, sizeof(r));
		if ((rc = conn_call(&c, CHAT_SINCE,
		    (xdrproc_t)xdr_chat_since_args, &a,
		    (xdrproc_t)xdr_chat_since_res, &r, 0)) != 0 ||
		    (rc = conn_status(&c, r.status)) != 0)
			goto out;
		if (r.chat_since_res_u.ok.msgs.msgs_len == 0)
			break;
		for (i = 0; i < r.chat_since_res_u.ok.msgs.msgs_len; i++)
			print_history_line(&r.chat_since_res_u.ok.msgs.
			    msgs_val[i]);
		a.seq = r.chat_since_res_u.ok.msgs.msgs_val[i - 1].seq;
		left -= r.chat_since_res_u.ok.msgs.msgs_len;
		xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);
	}
out:
	xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);
	conn_close(&c);
	return rc;
}

static int
cmd_stats(struct opts *o)
{
	struct conn	c;
	stats_res	r;
	int		rc;

	if ((rc = connect_or_fail(o, &c)) != 0)
		return rc;
	memset(&r, 0, sizeof(r));
	rc = conn_call(&c, STATS, XDR_VOID, NULL,
	    (xdrproc_t)xdr_stats_res, &r, 0);
	if (rc == 0 && (rc = conn_status(&c, r.status)) == 0)
		printf("counter: %lld\nmessages: %llu\nsubscribers: %u\n"
		    "uptime: %llu s\n", (long long)r.stats_res_u.ok.counter,
		    (unsigned long long)r.stats_res_u.ok.messages,
		    r.stats_res_u.ok.subscribers,
		    (unsigned long long)r.stats_res_u.ok.uptime);
	conn_close(&c);
	return rc;
}

static int
cmd_chat(struct opts *o)
{
	struct cmd_args	ca;
	struct conn	c;
	int		rc;

	if ((rc = cmd_parse_chat(o, &ca)) != 0)
		return rc;
	if ((rc = connect_or_fail(o, &c)) != 0)
		return rc;
	rc = chatui_run(&c, ca.name);
	conn_close(&c);
	return rc;
}
