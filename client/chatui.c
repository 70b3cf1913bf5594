/*
 * chatui.c: the chat client.  One poll() loop serves stdin and the
 * callback transports.  Messages are printed strictly in sequence
 * order, each once: deliveries that skip ahead are completed from
 * CHAT_SINCE first, repeats are dropped.  The subscription is checked
 * by a cheap CHAT_RENEW heartbeat; when it is lost (server restart,
 * dropped as a slow subscriber) the client catches up and subscribes
 * again.  When callbacks cannot reach us, it falls back to polling.
 */
#include <sys/types.h>

#include <editline/readline.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "callback.h"
#include "chatui.h"
#include "util.h"

#define PROBE_WAIT_US	5000000		/* callback must work by then */
#define RENEW_EVERY_US	2000000
#define POLL_EVERY_US	1000000
#define RETRY_EVERY_US	1000000
#define RESUB_EVERY_US	30000000	/* poll mode: try push again */
#define MAX_PENDING	256
#define LINE_MAX_BYTES	4096
#define PROMPT		"> "

enum chat_state {
	CS_PROBING,		/* subscribed; server probing our callback */
	CS_ACTIVE,		/* pushes arrive */
	CS_POLL,		/* callbacks cannot reach us: CHAT_SINCE */
	CS_DOWN			/* server unreachable: reconnecting */
};

struct pending {
	bart_reqid	 id;
	char		*text;
};

struct chat {
	struct conn	*c;
	const char	*name;
	struct callback	 cb;
	enum chat_state	 st;
	uint64_t	 last_seen;
	uint64_t	 sub_id;
	unsigned char	 token[BART_TOKEN_LEN];
	int		 subscribed;
	uint64_t	 probe_deadline, next_renew, next_poll, next_resub;
	struct pending	 pend[MAX_PENDING];
	int		 npend;
	int		 tty;
	int		 entered;	/* the handler took a line */
	int		 refused;	/* exit code of a refused line */
	int		 eof;
	char		 inbuf[LINE_MAX_BYTES];
	size_t		 inlen;
};

static void	now_active(struct chat *);

static volatile sig_atomic_t	chat_quit;
static struct chat		*chat;	/* for the callback dispatcher */

static void
on_quit(int sig)
{
	(void)sig;
	chat_quit = 1;
}

static void
note(const char *fmt, const char *what)
{
	fprintf(stderr, "bart_clnt: ");
	fprintf(stderr, "%s%s\n", fmt, what ? what : "");
}

/*
 * Print one line without garbling what the user is typing: clear the
 * input line, print, and have libedit draw prompt and input again.  The
 * line buffer itself is never touched (libedit's rl_replace_line leaves
 * its editor out of step).
 */
static void
show(struct chat *ch, const char *name, const char *text)
{
	if (ch->tty)
		fputs("\r\033[K", stdout);
	printf("[%s] %s\n", name, text);
	fflush(stdout);
	if (ch->tty)
		rl_forced_update_display();
}

/* Print messages in order, once; 1 if a gap must be filled first. */
static int
take(struct chat *ch, const chat_msg *m, u_int n)
{
	u_int	i;

	for (i = 0; i < n; i++) {
		if (m[i].seq <= ch->last_seen)
			continue;
		if (m[i].seq != ch->last_seen + 1)
			return 1;
		show(ch, m[i].name, m[i].text);
		ch->last_seen = m[i].seq;
	}
	return 0;
}

/* Fetch and print everything after last_seen; -1 if the server fails. */
static int
catch_up(struct chat *ch)
{
	chat_since_args	a;
	chat_since_res	r;
	int		rc, rounds;

	for (rounds = 0; rounds < 100000; rounds++) {
		a.seq = ch->last_seen;
		a.max = BART_BATCH_MAX;
		memset(&r, 0, sizeof(r));
		if (conn_call(ch->c, CHAT_SINCE,
		    (xdrproc_t)xdr_chat_since_args, &a,
		    (xdrproc_t)xdr_chat_since_res, &r, 0) != 0)
			return -1;
		rc = r.status == BART_OK ?
		    (int)r.chat_since_res_u.ok.msgs.msgs_len : -1;
		if (rc > 0) {
			/* A reply starts right after last_seen: no gaps. */
			(void)take(ch, r.chat_since_res_u.ok.msgs.msgs_val,
			    (u_int)rc);
		}
		xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);
		if (rc <= 0)
			return rc < 0 ? -1 : 0;
	}
	return 0;
}

static void
deliver(struct svc_req *rq, SVCXPRT *xprt)
{
	deliver_args	a;
	bart_res	r;

	if (rq->rq_proc == NULLPROC) {	/* the server's probe */
		svc_sendreply(xprt, XDR_VOID, NULL);
		return;
	}
	if (rq->rq_proc != DELIVER) {
		svcerr_noproc(xprt);
		return;
	}
	memset(&a, 0, sizeof(a));
	if (!svc_getargs(xprt, (xdrproc_t)xdr_deliver_args, (char *)&a)) {
		svcerr_decode(xprt);
		svc_freeargs(xprt, (xdrproc_t)xdr_deliver_args, (char *)&a);
		return;
	}
	memset(&r, 0, sizeof(r));
	/* Another local process may find our program: check the token. */
	if (!chat->subscribed || a.sub_id != chat->sub_id ||
	    memcmp(a.token, chat->token, BART_TOKEN_LEN) != 0)
		r.status = BART_EBADTOKEN;
	else {
		r.status = BART_OK;
		if (chat->st == CS_PROBING)
			now_active(chat);
		if (take(chat, a.msgs.msgs_val, a.msgs.msgs_len)) {
			if (catch_up(chat) == 0)
				(void)take(chat, a.msgs.msgs_val,
				    a.msgs.msgs_len);
		}
	}
	svc_sendreply(xprt, (xdrproc_t)xdr_bart_res, (char *)&r);
	svc_freeargs(xprt, (xdrproc_t)xdr_deliver_args, (char *)&a);
}

/* The probe worked: say so once, so users (and tests) know. */
static void
now_active(struct chat *ch)
{
	if (ch->st == CS_ACTIVE)
		return;
	ch->st = CS_ACTIVE;
	note("joined the chat as ", ch->name);
}

static void
unsubscribe(struct chat *ch)
{
	chat_sub_ref	a;
	bart_res	r;
	int		quiet = ch->c->quiet;

	if (!ch->subscribed)
		return;
	ch->subscribed = 0;
	if (ch->c->cl == NULL)
		return;
	a.id = ch->sub_id;
	memcpy(a.token, ch->token, BART_TOKEN_LEN);
	memset(&r, 0, sizeof(r));
	ch->c->quiet = 1;
	conn_call(ch->c, CHAT_UNSUBSCRIBE, (xdrproc_t)xdr_chat_sub_ref, &a,
	    (xdrproc_t)xdr_bart_res, &r, 0);
	ch->c->quiet = quiet;
}

static void
go_poll(struct chat *ch, const char *why)
{
	unsubscribe(ch);
	note(why, "; falling back to poll mode (CHAT_SINCE every 1 s)");
	ch->st = CS_POLL;
	ch->next_poll = 0;
	ch->next_resub = util_now_us() + RESUB_EVERY_US;
}

static void
go_down(struct chat *ch)
{
	if (ch->st != CS_DOWN)
		note("lost the server; reconnecting", NULL);
	conn_close(ch->c);
	ch->subscribed = 0;
	ch->st = CS_DOWN;
	ch->next_resub = util_now_us() + RETRY_EVERY_US;
}

/* Catch up, then subscribe from last_seen; the probe is awaited later. */
static void
subscribe(struct chat *ch)
{
	chat_sub_args	a;
	chat_sub_res	r;

	if (catch_up(ch) == -1) {
		go_down(ch);
		return;
	}
	a.cb_prog = ch->cb.prog;
	a.cb_vers = BART_CB_VERS;
	a.last_seen = ch->last_seen;
	memset(&r, 0, sizeof(r));
	if (conn_call(ch->c, CHAT_SUBSCRIBE, (xdrproc_t)xdr_chat_sub_args,
	    &a, (xdrproc_t)xdr_chat_sub_res, &r, 0) != 0) {
		go_down(ch);
		return;
	}
	if (r.status != BART_OK) {
		go_poll(ch, util_status_str(r.status));
		return;
	}
	ch->sub_id = r.chat_sub_res_u.ok.id;
	memcpy(ch->token, r.chat_sub_res_u.ok.token, BART_TOKEN_LEN);
	ch->subscribed = 1;
	ch->st = CS_PROBING;
	ch->probe_deadline = util_now_us() + PROBE_WAIT_US;
	ch->next_renew = util_now_us() + 20000;
}

/* Heartbeat: learn the probe's outcome, or that we were dropped. */
static void
renew(struct chat *ch)
{
	chat_sub_ref	a;
	chat_renew_res	r;

	a.id = ch->sub_id;
	memcpy(a.token, ch->token, BART_TOKEN_LEN);
	memset(&r, 0, sizeof(r));
	if (conn_call(ch->c, CHAT_RENEW, (xdrproc_t)xdr_chat_sub_ref, &a,
	    (xdrproc_t)xdr_chat_renew_res, &r, 0) != 0) {
		go_down(ch);
		return;
	}
	if (r.status == BART_OK) {
		if (r.chat_renew_res_u.state == SUB_ACTIVE &&
		    ch->st == CS_PROBING)
			now_active(ch);
		return;
	}
	ch->subscribed = 0;
	if (ch->st == CS_PROBING) {
		go_poll(ch, util_status_str(r.status));
		return;
	}
	/* Dropped or forgotten (server restart): catch up, join again. */
	note("subscription lost (", util_status_str(r.status));
	subscribe(ch);
}

/* Send queued lines in order; stop at the first that cannot go. */
static void
flush_pending(struct chat *ch)
{
	chat_send_args	a;
	chat_send_res	r;
	int		rc;

	while (ch->npend > 0 && ch->st != CS_DOWN) {
		a.id = ch->pend[0].id;
		a.name = (char *)(uintptr_t)ch->name;
		a.text = ch->pend[0].text;
		memset(&r, 0, sizeof(r));
		rc = conn_call(ch->c, CHAT_SEND,
		    (xdrproc_t)xdr_chat_send_args, &a,
		    (xdrproc_t)xdr_chat_send_res, &r, 1);
		if (rc != 0) {
			go_down(ch);
			return;
		}
		if (r.status != BART_OK)
			ch->refused = conn_status(ch->c, r.status);
		free(ch->pend[0].text);
		memmove(&ch->pend[0], &ch->pend[1],
		    (size_t)(--ch->npend) * sizeof(ch->pend[0]));
	}
}

/* A typed line: give it an identity now, so a resend is stored once. */
static void
queue_line(struct chat *ch, const char *line)
{
	if (*line == '\0')
		return;
	if (strlen(line) > BART_TEXT_WIRE) {
		ch->refused = conn_status(ch->c, BART_ETEXT);
		return;
	}
	if (ch->npend == MAX_PENDING) {
		note("too many unsent lines; dropped: ", line);
		return;
	}
	conn_reqid(ch->c, &ch->pend[ch->npend].id);
	if ((ch->pend[ch->npend].text = strdup(line)) == NULL)
		return;
	ch->npend++;
	flush_pending(ch);
}

static void
on_readline(char *line)
{
	if (line == NULL) {
		chat->eof = 1;
		return;
	}
	chat->entered = 1;
	queue_line(chat, line);
	free(line);
}

/*
 * libedit reads its keys through here.  Its callback mode does not hand
 * EOF to the handler reliably (after a line, ^D may land in the middle
 * of a key sequence), so Ctrl-D is ours: it leaves the chat, whatever
 * was typed on the line.  A closed terminal (read 0 or an error) too.
 */
static int
tty_getc(FILE *f)
{
	unsigned char	c;
	ssize_t		n;

	do
		n = read(fileno(f), &c, 1);
	while (n == -1 && errno == EINTR);
	if (n != 1 || c == 0x04) {
		chat->eof = 1;
		return EOF;
	}
	return c;
}

/* Pipe mode: plain lines, for scripts. */
static void
read_plain(struct chat *ch)
{
	ssize_t	 n;
	char	*nl;

	n = read(STDIN_FILENO, ch->inbuf + ch->inlen,
	    sizeof(ch->inbuf) - 1 - ch->inlen);
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			ch->eof = 1;
		if (n == 0 && ch->inlen > 0) {
			ch->inbuf[ch->inlen] = '\0';
			queue_line(ch, ch->inbuf);
			ch->inlen = 0;
		}
		return;
	}
	ch->inlen += (size_t)n;
	ch->inbuf[ch->inlen] = '\0';
	while ((nl = strchr(ch->inbuf, '\n')) != NULL) {
		*nl = '\0';
		if (nl > ch->inbuf && nl[-1] == '\r')
			nl[-1] = '\0';
		queue_line(ch, ch->inbuf);
		ch->inlen -= (size_t)(nl + 1 - ch->inbuf);
		memmove(ch->inbuf, nl + 1, ch->inlen + 1);
	}
	if (ch->inlen == sizeof(ch->inbuf) - 1) {
		note("line too long; dropped", NULL);
		ch->inlen = 0;
	}
}

static void
timers(struct chat *ch)
{
	uint64_t	now = util_now_us();

	switch (ch->st) {
	case CS_PROBING:
		if (now >= ch->probe_deadline) {
			go_poll(ch, "the server's callbacks do not reach "
			    "this host (firewall or NAT?)");
			break;
		}
		if (now >= ch->next_renew) {
			ch->next_renew = now + 100000;
			renew(ch);
		}
		break;
	case CS_ACTIVE:
		if (now >= ch->next_renew) {
			ch->next_renew = now + RENEW_EVERY_US;
			renew(ch);
		}
		break;
	case CS_POLL:
		if (now >= ch->next_poll) {
			ch->next_poll = now + POLL_EVERY_US;
			if (catch_up(ch) == -1)
				go_down(ch);
		}
		if (ch->st == CS_POLL && now >= ch->next_resub) {
			ch->next_resub = now + RESUB_EVERY_US;
			subscribe(ch);
		}
		break;
	case CS_DOWN:
		if (now < ch->next_resub)
			break;
		ch->next_resub = now + RETRY_EVERY_US;
		ch->c->quiet = 1;
		if (conn_open(ch->c, ch->c->host, ch->c->want,
		    ch->c->timeout_s) == 0) {
			ch->c->quiet = 0;
			note("reconnected to the server", NULL);
			ch->st = CS_POLL;
			flush_pending(ch);
			if (ch->st != CS_DOWN)
				subscribe(ch);
		}
		ch->c->quiet = 0;
		break;
	}
	if (ch->st != CS_DOWN && ch->npend > 0)
		flush_pending(ch);
}

static int
loop(struct chat *ch)
{
	struct pollfd	*pfds = NULL, *np;
	int		 n, r, cap = 0, in;

	while (!chat_quit && !ch->eof) {
		n = svc_max_pollfd;
		if (n + 1 > cap) {
			if ((np = reallocarray(pfds, (size_t)n + 1,
			    sizeof(*pfds))) == NULL)
				break;
			pfds = np;
			cap = n + 1;
		}
		memcpy(pfds, svc_pollfd, (size_t)n * sizeof(*pfds));
		/* Our fd goes after libtirpc's: it scans only the first n. */
		in = n;
		pfds[in].fd = STDIN_FILENO;
		pfds[in].events = POLLIN;
		pfds[in].revents = 0;
		r = poll(pfds, (nfds_t)n + 1, 50);
		if (r == -1 && errno != EINTR)
			break;
		if (r > 0 && pfds[in].revents != 0) {
			r--;
			if (ch->tty) {
				ch->entered = 0;	/* the handler may set it */
				rl_callback_read_char();
				/*
				 * A fresh editor for the next line: libedit
				 * keeps the old line, and its key state, until
				 * the next key otherwise.
				 */
				if (ch->entered && !ch->eof) {
					rl_callback_handler_remove();
					rl_callback_handler_install(PROMPT,
					    on_readline);
					ch->entered = 0;
				}
			}
			else
				read_plain(ch);
		}
		if (r > 0)
			svc_getreq_poll(pfds, r);
		timers(ch);
	}
	free(pfds);
	return 0;
}

/* bart_clnt HOST chat NAME */
int
chatui_run(struct conn *c, const char *name)
{
	struct chat		 ch;
	struct sigaction	 sa;
	chat_since_args		 a;
	chat_since_res		 r;
	bart_status		 st;
	int			 i;

	if ((st = util_check_name(name)) != BART_OK)
		return conn_status(c, st);
	memset(&ch, 0, sizeof(ch));
	ch.c = c;
	ch.name = name;
	chat = &ch;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_quit;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	/* Start at the newest message: a chat shows what comes next. */
	a.seq = UINT64_MAX >> 1;
	a.max = 0;
	memset(&r, 0, sizeof(r));
	if ((i = conn_call(c, CHAT_SINCE, (xdrproc_t)xdr_chat_since_args, &a,
	    (xdrproc_t)xdr_chat_since_res, &r, 0)) != 0)
		return i;
	ch.last_seen = r.chat_since_res_u.ok.newest;
	xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);

	if (callback_open(&ch.cb, deliver) == -1) {
		note("cannot register a callback program with the local "
		    "rpcbind", NULL);
		go_poll(&ch, "no push without a callback");
	} else
		subscribe(&ch);
	ch.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (ch.tty) {
		rl_catch_signals = 0;
		rl_getc_function = tty_getc;
		rl_callback_handler_install(PROMPT, on_readline);
	}
	loop(&ch);
	if (ch.tty) {
		rl_callback_handler_remove();
		fputc('\n', stdout);
	}
	/* Lines typed while the server was away get one last chance. */
	if (ch.npend > 0 && ch.st != CS_DOWN)
		flush_pending(&ch);
	for (i = 0; i < ch.npend; i++) {
		note("not sent: ", ch.pend[i].text);
		free(ch.pend[i].text);
	}
	unsubscribe(&ch);
	callback_close(&ch.cb);
	chat = NULL;
	/* A line lost or refused: scripts must see it in the exit code. */
	if (ch.npend > 0)
		return EX_TEMPFAIL;
	return ch.refused;
}
