/* SPDX-License-Identifier: ISC */
/*
 * chatui.c: the chat client on a terminal or a pipe, over libbart's
 * chat session.  One poll() loop serves stdin and the session's fd; the
 * session does the protocol (order, exactly-once, catch-up, poll-mode
 * fallback), this file reads lines and prints what arrives, escaped:
 * nothing a server sends reaches the terminal as a control character.
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

#include "chatui.h"
#include "json.h"

#define LINE_MAX_BYTES	4096
#define ESC_MAX		(4 * 1100 + 1)
#define PROMPT		"> "

struct chatui {
	struct opts		*o;
	struct bart		*b;
	struct bart_chat	*s;
	int			 tty;
	int			 drawn;		/* libedit shows the prompt */
	int			 entered;	/* the handler took a line */
	int			 refused;	/* exit code of a refused line */
	int			 eof;
	char			 inbuf[LINE_MAX_BYTES];
	size_t			 inlen;
};

static volatile sig_atomic_t	chat_quit;
static struct chatui		*ui;	/* for libedit's handler */

static void
on_quit(int sig)
{
	(void)sig;
	chat_quit = 1;
}

static void
note(const char *a, const char *b)
{
	char	esc[ESC_MAX];

	bart_escape(b != NULL ? b : "", esc, sizeof(esc));
	fprintf(stderr, "bart_clnt: %s%s\n", a, esc);
}

/*
 * Print one message without garbling what the user is typing: clear the
 * input line, print, and have libedit draw prompt and input again.  The
 * line buffer itself is never touched (libedit's rl_replace_line leaves
 * its editor out of step).
 */
static void
on_msg(void *arg, const struct bart_msg *m)
{
	struct chatui	*u = arg;
	char		 name[ESC_MAX], text[ESC_MAX];

	if (u->drawn)
		fputs("\r\033[K", stdout);
	if (u->o->out == OUT_JSON)
		json_msg(stdout, m);
	else {
		bart_escape(m->name, name, sizeof(name));
		bart_escape(m->text, text, sizeof(text));
		printf("[%s] %s\n", name, text);
	}
	fflush(stdout);
	if (u->drawn)
		rl_forced_update_display();
}

static void
on_event(void *arg, enum bart_chat_event ev, int err, const char *detail)
{
	struct chatui	*u = arg;
	char		 buf[600];

	/*
	 * A status line goes on a line of its own, as a message does, and
	 * the prompt is drawn again below it ("> bart_clnt: joined ..."
	 * otherwise, and no prompt after it).
	 */
	if (u->drawn) {
		fputs("\r\033[K", stdout);
		fflush(stdout);
	}
	switch (ev) {
	case BART_CHAT_JOINED:
		note("joined the chat as ", detail);
		break;
	case BART_CHAT_POLLING:
		snprintf(buf, sizeof(buf), "%s; falling back to poll mode "
		    "(CHAT_SINCE every 1 s)", detail);
		note(buf, NULL);
		break;
	case BART_CHAT_NOCALLBACK:
		note(detail, NULL);
		break;
	case BART_CHAT_SUBLOST:
		snprintf(buf, sizeof(buf), "subscription lost (%s); joining "
		    "again", detail);
		note(buf, NULL);
		break;
	case BART_CHAT_DOWN:
		note("lost the server; reconnecting", NULL);
		break;
	case BART_CHAT_RECONNECTED:
		note("reconnected to the server", NULL);
		break;
	case BART_CHAT_REFUSED:
		u->refused = cmd_fail(u->o, err, bart_strerror(err));
		break;
	case BART_CHAT_UNSENT:
		note("not sent: ", detail);
		break;
	case BART_CHAT_MOVED:
		note("moved to server ", detail);
		break;
	}
	if (u->drawn)
		rl_forced_update_display();
}

/* A line read: refused here if it cannot be a chat line at all. */
static void
send_line(struct chatui *u, const char *line, size_t len)
{
	int	rc;

	if (len == 0)
		return;
	/* A NUL would cut the line short unseen: refuse it whole. */
	if (memchr(line, '\0', len) != NULL) {
		u->refused = cmd_fail(u->o, BART_ERR_TEXT, "a line with a NUL "
		    "byte was not sent");
		return;
	}
	if ((rc = bart_chat_send(u->s, line)) != 0)
		u->refused = cmd_fail(u->o, rc, bart_errmsg(u->b));
}

static void
on_readline(char *line)
{
	if (line == NULL) {
		ui->eof = 1;
		return;
	}
	ui->entered = 1;
	send_line(ui, line, strlen(line));
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
		ui->eof = 1;
		return EOF;
	}
	return c;
}

/* Pipe mode: plain lines, for scripts. */
static void
read_plain(struct chatui *u)
{
	ssize_t	 n;
	char	*nl;
	size_t	 len;

	n = read(STDIN_FILENO, u->inbuf + u->inlen,
	    sizeof(u->inbuf) - 1 - u->inlen);
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			u->eof = 1;
		if (n == 0 && u->inlen > 0) {
			u->inbuf[u->inlen] = '\0';
			send_line(u, u->inbuf, u->inlen);
			u->inlen = 0;
		}
		return;
	}
	u->inlen += (size_t)n;
	u->inbuf[u->inlen] = '\0';
	while ((nl = memchr(u->inbuf, '\n', u->inlen)) != NULL) {
		*nl = '\0';
		len = (size_t)(nl - u->inbuf);
		if (len > 0 && nl[-1] == '\r')
			nl[-1] = '\0', len--;
		send_line(u, u->inbuf, len);
		u->inlen -= (size_t)(nl + 1 - u->inbuf);
		memmove(u->inbuf, nl + 1, u->inlen + 1);
	}
	if (u->inlen == sizeof(u->inbuf) - 1) {
		note("line too long; dropped", NULL);
		u->inlen = 0;
	}
}

static void
loop(struct chatui *u)
{
	struct pollfd	pfd[2];
	int		r;

	while (!chat_quit && !u->eof) {
		pfd[0].fd = STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[1].fd = bart_chat_fd(u->s);
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		/* No timeout: the session's fd wakes us for its timers. */
		r = poll(pfd, 2, -1);
		if (r == -1 && errno != EINTR)
			break;
		if (r > 0 && pfd[0].revents != 0) {
			if (u->tty) {
				u->entered = 0;	/* the handler may set it */
				rl_callback_read_char();
				/*
				 * A fresh editor for the next line: libedit
				 * keeps the old line, and its key state, until
				 * the next key otherwise.
				 */
				if (u->entered && !u->eof) {
					rl_callback_handler_remove();
					rl_callback_handler_install(PROMPT,
					    on_readline);
					u->entered = 0;
				}
			} else
				read_plain(u);
		}
		if (r > 0 && pfd[1].revents != 0 &&
		    bart_chat_process(u->s) != 0) {
			u->refused = cmd_fail(u->o, BART_ERR_SYSTEM,
			    bart_errmsg(u->b));
			break;
		}
	}
}

/* bart_clnt HOST chat NAME */
int
chatui_run(struct opts *o, struct bart *b, const char *name)
{
	struct bart_chat_cbs	 cbs;
	struct sigaction	 sa;
	struct chatui		 u;
	int			 rc;

	memset(&u, 0, sizeof(u));
	u.o = o;
	u.b = b;
	ui = &u;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_quit;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	cbs.msg = on_msg;
	cbs.event = on_event;
	cbs.arg = &u;
	if ((rc = bart_chat_join(b, name, &cbs, &u.s)) != 0)
		return cmd_fail(o, rc, bart_errmsg(b));
	u.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (u.tty) {
		rl_catch_signals = 0;
		rl_getc_function = tty_getc;
		rl_callback_handler_install(PROMPT, on_readline);
		u.drawn = 1;
	}
	loop(&u);
	if (u.tty) {
		u.drawn = 0;
		rl_callback_handler_remove();
		fputc('\n', stdout);
	}
	/* A line lost or refused: scripts must see it in the exit code. */
	if (bart_chat_leave(u.s) > 0)
		rc = EX_TEMPFAIL;
	else
		rc = u.refused;
	ui = NULL;
	return rc;
}
