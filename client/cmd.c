/* SPDX-License-Identifier: ISC */
/*
 * cmd.c: the command table that feeds dispatch and usage(), the option
 * parser, the one error reporter, and the one-shot commands, each a few
 * lines over libbart.  Arguments are checked before any network
 * traffic, so bad usage costs nothing.
 */
#include <err.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "chatui.h"
#include "cmd.h"
#include "json.h"
#include "util.h"

#define DEFAULT_TIMEOUT_MS	5000
#define HISTORY_DEFAULT		20
#define HEALTH_WARN_MS		1000
#define HEALTH_CRIT_MS		5000
#define ESC_MAX			(4 * 1100 + 1)	/* bart_escape of a wire text */

/* Monitoring-plugin exit codes (Nagios, Icinga, Sensu, ...). */
enum plugin_rc { P_OK = 0, P_WARNING = 1, P_CRITICAL = 2, P_UNKNOWN = 3 };

static int	run_count(struct opts *, struct bart *, struct cmd_args *);
static int	run_ping(struct opts *, struct bart *, struct cmd_args *);
static int	run_say(struct opts *, struct bart *, struct cmd_args *);
static int	run_history(struct opts *, struct bart *, struct cmd_args *);
static int	run_stats(struct opts *, struct bart *, struct cmd_args *);
static int	run_chat(struct opts *, struct bart *, struct cmd_args *);
static int	run_health(struct opts *, struct bart *, struct cmd_args *);
static int	parse_none(struct opts *, struct cmd_args *);

static const struct cmd cmds[] = {
	{ "count", 1, 1, 1, cmd_parse_count, run_count, "count N",
	    "add N to the counter and print the total (0 only reads it)" },
	{ "ping", 0, 0, 1, parse_none, run_ping, "ping",
	    "call the null procedure and print the round-trip time" },
	{ "say", 2, -1, 1, cmd_parse_say, run_say, "say NAME TEXT...",
	    "send one chat message" },
	{ "history", 0, 4, 1, cmd_parse_history, run_history,
	    "history [-n N] [--since SEQ]",
	    "print stored chat messages (default: the last 20)" },
	{ "stats", 0, 0, 1, parse_none, run_stats, "stats",
	    "print counter, messages, subscribers and uptime" },
	{ "chat", 1, 2, 1, cmd_parse_chat, run_chat,
	    "chat NAME | chat --name NAME",
	    "join the chat room; type lines to send, EOF to leave" },
	/* Not connected by main: failing to connect is its finding. */
	{ "health", 0, 4, 0, cmd_parse_health, run_health,
	    "health [-w SECONDS] [-c SECONDS]",
	    "monitoring check: answers and store writable (exit 0-3)" },
};

void
cmd_usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: bart_clnt [-T netid] [-t seconds] [-o text|json] "
	    "HOST COMMAND [ARGS]\n"
	    "       bart_clnt -h | -V\n"
	    "  -T, --transport NETID   tcp, udp, local, tcp6, udp6 "
	    "(default: local for\n"
	    "                          this host, else tcp)\n"
	    "  -t, --timeout SECONDS   for the command, 0.001 to 3600 "
	    "(default %d)\n"
	    "  -o, --output FORMAT     text, or json: one object per line\n"
	    "  (options may also follow HOST; HOST may be a list a,b,c: "
	    "tried in order,\n"
	    "   each for its share of -t, the next when one does not "
	    "answer)\n"
	    "commands:\n",
	    DEFAULT_TIMEOUT_MS / 1000);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-32s %s\n", cmds[i].usage, cmds[i].help);
}

int
cmd_usage_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fputs("(bart_clnt -h for help)\n", stderr);
	return EX_USAGE;
}

/* Every libbart error as a <sysexits.h> code: the one mapping. */
int
cmd_exit_code(int e)
{
	switch (e) {
	case BART_ERR_OK:
		return 0;
	case BART_ERR_STORE:
		return EX_IOERR;
	case BART_ERR_UNKNOWN:
	case BART_ERR_RATE:
	case BART_ERR_TIMEDOUT:
		return EX_TEMPFAIL;
	case BART_ERR_USESTREAM:
	case BART_ERR_CBRPCBIND:
	case BART_ERR_CBNOTREG:
	case BART_ERR_CBNOANSWER:
	case BART_ERR_TOOMANY:
	case BART_ERR_CBDROPPED:
	case BART_ERR_NOTREG:
	case BART_ERR_NORPCBIND:
	case BART_ERR_RPCBIND_TIMEDOUT:
	case BART_ERR_DEAD:
	case BART_ERR_LOST:
	case BART_ERR_NOANSWER:
	case BART_ERR_CALLBACK:
		return EX_UNAVAILABLE;
	case BART_ERR_USAGE:
	case BART_ERR_NETID:
		return EX_USAGE;
	case BART_ERR_NOHOST:
		return EX_NOHOST;
	case BART_ERR_VERSION:
	case BART_ERR_PROC:
	case BART_ERR_RPC:
		return EX_PROTOCOL;
	case BART_ERR_UNAVAIL:
	case BART_ERR_NOMEM:
	case BART_ERR_SYSTEM:
		return EX_OSERR;
	}
	return EX_DATAERR;	/* the server refused the input */
}

/* The one error reporter: "bart_clnt: HOST: words", and the exit code. */
int
cmd_fail(const struct opts *o, int e, const char *msg)
{
	char	host[ESC_MAX];

	msg = msg != NULL ? msg : bart_strerror(e);
	/* No host to name ("" or only commas): the words alone. */
	if (o->host != NULL && o->host[strspn(o->host, ",")] == '\0') {
		warnx("%s", msg);
		return cmd_exit_code(e);
	}
	bart_escape(o->host != NULL ? o->host : "?", host, sizeof(host));
	warnx("%s: %s", host, msg);
	return cmd_exit_code(e);
}

/* -t SECONDS: a decimal, 0.001 to 3600; 0 on success. */
int
cmd_parse_timeout(const char *s, unsigned int *ms)
{
	char	*end;
	double	 v;

	/* Digits and a point only: no blanks, signs, hex or exponents. */
	if (s == NULL || *s == '\0' || s[strspn(s, "0123456789.")] != '\0')
		return -1;
	v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v) || v < 0.001 || v > 3600)
		return -1;
	*ms = (unsigned int)(v * 1000 + 0.5);
	return 0;
}

static const struct option longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "transport", required_argument, NULL, 'T' },
	{ "timeout", required_argument, NULL, 't' },
	{ "output", required_argument, NULL, 'o' },
	{ NULL, 0, NULL, 0 }
};

/* Global options up to the next word; 0, CMD_HELP or EX_USAGE. */
static int
parse_globals(int argc, char **argv, struct opts *o)
{
	int	ch;

	while ((ch = getopt_long(argc, argv, "+:hVT:t:o:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			cmd_usage(stdout);
			return CMD_HELP;
		case 'V':
			printf("bart_clnt %s (libbart %s)\n", BART_VERSION,
			    LIBBART_VERSION);
			return CMD_HELP;
		case 'T':
			o->netid = optarg;
			break;
		case 't':
			if (cmd_parse_timeout(optarg, &o->timeout_ms) == -1)
				return cmd_usage_error("%s: timeout must be "
				    "0.001 to 3600 seconds", optarg);
			break;
		case 'o':
			if (strcmp(optarg, "json") == 0)
				o->out = OUT_JSON;
			else if (strcmp(optarg, "text") == 0)
				o->out = OUT_TEXT;
			else
				return cmd_usage_error("%s: output is text or "
				    "json", optarg);
			break;
		case ':':
			return cmd_usage_error("%s: needs a value",
			    argv[optind - 1]);
		default:
			return cmd_usage_error("%s: unknown option",
			    argv[optind - 1]);
		}
	}
	return 0;
}

/*
 * Global options, HOST, more global options, COMMAND; 0, CMD_HELP or
 * EX_USAGE.  Options stop at COMMAND: what follows is the command's
 * ("count -5", "history -n 5").
 */
int
cmd_parse(int argc, char **argv, struct opts *o)
{
	size_t	i;
	int	rc;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	optind = 0;		/* glibc: start afresh (tests parse often) */
	opterr = 0;
	if ((rc = parse_globals(argc, argv, o)) != 0)
		return rc;
	if (optind >= argc)
		return cmd_usage_error("missing HOST");
	o->host = argv[optind++];
	if ((rc = parse_globals(argc, argv, o)) != 0)
		return rc;
	if (optind >= argc)
		return cmd_usage_error("missing COMMAND");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[optind], cmds[i].name) == 0)
			o->cmd = &cmds[i];
	if (o->cmd == NULL)
		return cmd_usage_error("%s: unknown command", argv[optind]);
	optind++;
	o->argc = argc - optind;
	o->argv = argv + optind;
	if (o->argc < o->cmd->min_args ||
	    (o->cmd->max_args >= 0 && o->argc > o->cmd->max_args))
		return cmd_usage_error("%s: wrong number of arguments",
		    o->cmd->usage);
	if (o->netid != NULL && strcmp(o->netid, "tcp") != 0 &&
	    strcmp(o->netid, "udp") != 0 && strcmp(o->netid, "local") != 0 &&
	    strcmp(o->netid, "tcp6") != 0 && strcmp(o->netid, "udp6") != 0)
		return cmd_usage_error("%s: unknown transport (use tcp, udp, "
		    "local, tcp6 or udp6)", o->netid);
	return 0;
}

static int
parse_none(struct opts *o, struct cmd_args *ca)
{
	(void)o;
	(void)ca;
	return 0;
}

int
cmd_parse_count(struct opts *o, struct cmd_args *ca)
{
	if (util_parse_ll(o->argv[0], -2147483648LL, 2147483647LL,
	    &ca->n) == -1)
		return cmd_usage_error("count: '%s' is not a 32-bit integer",
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
			return cmd_usage_error("say: TEXT is far too long "
			    "(at most %d bytes)", BART_TEXT_LIMIT);
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
			return cmd_usage_error("%s: unknown history option",
			    o->argv[i]);
		if (i + 1 >= o->argc)
			return cmd_usage_error("%s: needs a value",
			    o->argv[i]);
		if (strcmp(o->argv[i], "-n") == 0) {
			if (util_parse_ll(o->argv[++i], 1, 1000000, &v) == -1)
				return cmd_usage_error("%s: -n takes 1 to "
				    "1000000", o->argv[i]);
			ca->n = v;
		} else {
			if (util_parse_ll(o->argv[++i], 0, INT64_MAX, &v) == -1)
				return cmd_usage_error("%s: --since takes a "
				    "sequence number", o->argv[i]);
			ca->since = (uint64_t)v;
			ca->have_since = 1;
		}
	}
	return 0;
}

static int
is_name_opt(const char *s)
{
	return strcmp(s, "--name") == 0 || strcmp(s, "-n") == 0;
}

int
cmd_parse_chat(struct opts *o, struct cmd_args *ca)
{
	if (o->argc == 2) {
		if (!is_name_opt(o->argv[0]))
			return cmd_usage_error("%s: usage: chat NAME | chat "
			    "--name NAME", o->argv[0]);
		ca->name = o->argv[1];
	} else if (is_name_opt(o->argv[0]))
		return cmd_usage_error("chat %s: needs a NAME", o->argv[0]);
	else
		ca->name = o->argv[0];
	if (strlen(ca->name) > BART_NAME_WIRE)
		return cmd_usage_error("chat: NAME is far too long "
		    "(at most %d bytes)", BART_NAME_LIMIT);
	return 0;
}

/* health [-w SECONDS] [-c SECONDS]: latency thresholds. */
int
cmd_parse_health(struct opts *o, struct cmd_args *ca)
{
	unsigned int	*t;
	int		 i;

	ca->warn_ms = HEALTH_WARN_MS;
	ca->crit_ms = HEALTH_CRIT_MS;
	for (i = 0; i < o->argc; i += 2) {
		if (strcmp(o->argv[i], "-w") == 0)
			t = &ca->warn_ms;
		else if (strcmp(o->argv[i], "-c") == 0)
			t = &ca->crit_ms;
		else {
			cmd_usage_error("%s: unknown health option",
			    o->argv[i]);
			return P_UNKNOWN;
		}
		if (i + 1 >= o->argc ||
		    cmd_parse_timeout(o->argv[i + 1], t) == -1) {
			cmd_usage_error("%s: takes SECONDS", o->argv[i]);
			return P_UNKNOWN;
		}
	}
	return 0;
}

static int
run_count(struct opts *o, struct bart *b, struct cmd_args *ca)
{
	char	text[BART_REPLY_LIMIT + 1], esc[ESC_MAX];
	int64_t	total;
	int	rc;

	if ((rc = bart_count(b, (int32_t)ca->n, &total, text,
	    sizeof(text))) != 0)
		return cmd_fail(o, rc, bart_errmsg(b));
	if (o->out == OUT_JSON) {
		printf("{\"total\":%" PRId64, total);
		json_str(stdout, "text", text, 0);
		puts("}");
	} else {
		bart_escape(text, esc, sizeof(esc));
		printf("%s\n", esc);
	}
	return 0;
}

static int
run_ping(struct opts *o, struct bart *b, struct cmd_args *ca)
{
	char		host[ESC_MAX];
	uint64_t	us;
	int		rc;

	(void)ca;
	if ((rc = bart_ping(b, &us)) != 0)
		return cmd_fail(o, rc, bart_errmsg(b));
	if (o->out == OUT_JSON) {
		putchar('{');
		json_str(stdout, "host", o->host, 1);
		json_str(stdout, "netid", bart_netid(b), 0);
		printf(",\"rtt_us\":%" PRIu64 "}\n", us);
	} else {
		bart_escape(o->host, host, sizeof(host));
		printf("%s: bart is alive (%s, %" PRIu64 " us)\n", host,
		    bart_netid(b), us);
	}
	return 0;
}

static int
run_say(struct opts *o, struct bart *b, struct cmd_args *ca)
{
	uint64_t	seq;
	int		rc;

	if ((rc = bart_say(b, ca->name, ca->text, &seq)) != 0)
		return cmd_fail(o, rc, bart_errmsg(b));
	if (o->out == OUT_JSON)
		printf("{\"seq\":%" PRIu64 "}\n", seq);
	else
		printf("message %" PRIu64 " stored.\n", seq);
	return 0;
}

/* "SEQ YYYY-MM-DD HH:MM:SS HOST [NAME] TEXT", local time, escaped. */
static int
print_history_line(void *arg, const struct bart_msg *m)
{
	const struct opts	*o = arg;
	char			 when[32], name[ESC_MAX], host[ESC_MAX];
	char			 text[ESC_MAX];
	time_t			 t = (time_t)m->time;
	struct tm		 tm;

	if (o->out == OUT_JSON) {
		json_msg(stdout, m);
		return 0;
	}
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	bart_escape(m->name, name, sizeof(name));
	bart_escape(m->host, host, sizeof(host));
	bart_escape(m->text, text, sizeof(text));
	printf("%" PRIu64 " %s %s [%s] %s\n", m->seq, when, host, name, text);
	return 0;
}

static int
run_history(struct opts *o, struct bart *b, struct cmd_args *ca)
{
	uint64_t	newest;
	int		rc;

	if (!ca->have_since) {
		/* Ask for the newest number, then read the last N. */
		if ((rc = bart_newest(b, &newest)) != 0)
			return cmd_fail(o, rc, bart_errmsg(b));
		ca->since = newest > (uint64_t)ca->n ?
		    newest - (uint64_t)ca->n : 0;
	}
	if ((rc = bart_history(b, ca->since, (uint64_t)ca->n,
	    print_history_line, o)) != 0)
		return cmd_fail(o, rc, bart_errmsg(b));
	return 0;
}

static int
run_stats(struct opts *o, struct bart *b, struct cmd_args *ca)
{
	struct bart_stats	s;
	int			rc;

	(void)ca;
	if ((rc = bart_stats(b, &s)) != 0)
		return cmd_fail(o, rc, bart_errmsg(b));
	if (o->out == OUT_JSON)
		printf("{\"counter\":%" PRId64 ",\"messages\":%" PRIu64
		    ",\"subscribers\":%" PRIu32 ",\"uptime\":%" PRIu64 "}\n",
		    s.counter, s.messages, s.subscribers, s.uptime);
	else
		printf("counter: %" PRId64 "\nmessages: %" PRIu64
		    "\nsubscribers: %" PRIu32 "\nuptime: %" PRIu64 " s\n",
		    s.counter, s.messages, s.subscribers, s.uptime);
	return 0;
}

static int
run_chat(struct opts *o, struct bart *b, struct cmd_args *ca)
{
	return chatui_run(o, b, ca->name);
}

static const char *const plugin_word[] = {
	"OK", "WARNING", "CRITICAL", "UNKNOWN"
};

/* The plugin line (or JSON object); returns the plugin exit code. */
static int
health_out(struct opts *o, int prc, const char *what,
    const struct bart_health *h, int have, const struct cmd_args *ca)
{
	char	esc[ESC_MAX];

	if (o->out == OUT_JSON) {
		putchar('{');
		json_str(stdout, "status", plugin_word[prc], 1);
		printf(",\"code\":%d", prc);
		json_str(stdout, "message", what, 0);
		printf(",\"latency_us\":%" PRIu64, h->latency_us);
		if (have)
			printf(",\"store\":\"%s\",\"probe_us\":%" PRIu64
			    ",\"counter\":%" PRId64 ",\"messages\":%" PRIu64
			    ",\"subscribers\":%" PRIu32 ",\"uptime\":%" PRIu64,
			    h->store == 0 ? "ok" : "failed", h->probe_us,
			    h->counter, h->messages, h->subscribers,
			    h->uptime);
		puts("}");
		return prc;
	}
	bart_escape(what, esc, sizeof(esc));
	printf("BART %s - %s | latency=%.6fs;%.3f;%.3f", plugin_word[prc],
	    esc, h->latency_us / 1e6, ca->warn_ms / 1e3, ca->crit_ms / 1e3);
	if (have)
		printf(" probe=%.6fs counter=%" PRId64 "c messages=%" PRIu64
		    "c subscribers=%" PRIu32, h->probe_us / 1e6, h->counter,
		    h->messages, h->subscribers);
	putchar('\n');
	return prc;
}

/*
 * bart_clnt HOST health: a monitoring-plugin check.  CRITICAL when the
 * daemon does not answer or its store cannot commit the probe write (a
 * full or read-only disk, while NULLPROC still answers), WARNING or
 * CRITICAL past the latency thresholds, UNKNOWN when the question itself
 * fails (unknown host, a daemon without HEALTH).
 */
static int
run_health(struct opts *o, struct bart *unused, struct cmd_args *ca)
{
	struct bart_health	 h;
	struct bart		*b;
	char			 what[768];
	uint64_t		 t0 = util_now_us();
	int			 rc, prc;

	(void)unused;
	memset(&h, 0, sizeof(h));
	if ((rc = bart_open(&b, o->host, o->netid, o->timeout_ms)) == 0)
		rc = bart_health(b, &h);
	h.latency_us = util_now_us() - t0;	/* connecting included */
	if (rc != 0) {
		prc = rc == BART_ERR_NOHOST || rc == BART_ERR_VERSION ||
		    rc == BART_ERR_PROC || rc == BART_ERR_USAGE ||
		    rc == BART_ERR_NETID || rc == BART_ERR_NOMEM ||
		    rc == BART_ERR_SYSTEM ? P_UNKNOWN : P_CRITICAL;
		snprintf(what, sizeof(what), "%s: %s", o->host,
		    bart_errmsg(b));
		bart_close(b);
		return health_out(o, prc, what, &h, 0, ca);
	}
	bart_close(b);
	if (h.store != 0) {
		snprintf(what, sizeof(what), "%s: the store cannot commit a "
		    "write: %s", o->host, bart_strerror(h.store));
		return health_out(o, P_CRITICAL, what, &h, 1, ca);
	}
	prc = h.latency_us >= (uint64_t)ca->crit_ms * 1000 ? P_CRITICAL :
	    h.latency_us >= (uint64_t)ca->warn_ms * 1000 ? P_WARNING : P_OK;
	snprintf(what, sizeof(what), "%s answers in %.1f ms, store "
	    "writable (probe %.1f ms)%s", o->host, h.latency_us / 1e3,
	    h.probe_us / 1e3, prc == P_OK ? "" : ", slow");
	return health_out(o, prc, what, &h, 1, ca);
}
