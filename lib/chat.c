/* SPDX-License-Identifier: ISC */
/*
 * chat.c: libbart's chat session.  Messages reach the caller strictly in
 * sequence order, each once: deliveries that skip ahead mark a gap that
 * the session fills from CHAT_SINCE after replying (the server is
 * waiting for that reply), repeats are dropped.  The subscription is
 * checked by a cheap CHAT_RENEW heartbeat; when it is lost (server
 * restart, dropped as a slow subscriber) the session catches up and
 * subscribes again.  When callbacks cannot reach us it polls, and tries
 * push again every RESUB_EVERY_US, first putting our callback back into
 * rpcbind if rpcbind was restarted and forgot it.
 *
 * Everything runs from bart_chat_process(), called by the caller's loop
 * when the session's epoll fd is readable; a timerfd in that set wakes
 * it for the timers.
 */
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <rpc/rpc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cbsvc.h"
#include "lib.h"

#define PROBE_WAIT_US	5000000		/* callback must work by then */
#define RENEW_EVERY_US	2000000
#define POLL_EVERY_US	1000000
#define RETRY_EVERY_US	1000000
#define RESUB_EVERY_US	15000000	/* poll mode: try push again */
#define REREG_EVERY_US	10000000	/* is our callback still known? */
#define MAX_PENDING	256
#define TAG_TIMER	1u

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

struct bart_chat {
	struct bart		*b;
	char			 name[BART_NAME_WIRE + 1];
	struct bart_chat_cbs	 cbs;
	int			 epfd, tfd;
	struct cbsvc		*cb;		/* NULL: no callback at all */
	int			 registered;
	enum chat_state		 st;
	uint64_t		 last_seen;
	uint64_t		 sub_id;
	unsigned char		 token[BART_TOKEN_LEN];
	int			 subscribed;
	int			 gap;		/* a DELIVER skipped ahead */
	int			 in_deliver;	/* inside the DELIVER handler */
	int			 poll_said;	/* POLLING reported, not active since */
	unsigned int		 at;		/* host list entry subscribed at */
	uint64_t		 probe_deadline, next_renew, next_poll;
	uint64_t		 next_resub, next_rereg;
	struct pending		 pend[MAX_PENDING];
	unsigned int		 npend;
};

static void
event(struct bart_chat *ch, enum bart_chat_event ev, int err,
    const char *detail)
{
	if (ch->cbs.event != NULL)
		ch->cbs.event(ch->cbs.arg, ev, err, detail);
}

/* Hand messages on in order, once; 1 if a gap must be filled first. */
static int
take(struct bart_chat *ch, const chat_msg *m, u_int n)
{
	struct bart_msg	bm;
	u_int		i;

	for (i = 0; i < n; i++) {
		if (m[i].seq <= ch->last_seen)
			continue;
		if (m[i].seq != ch->last_seen + 1)
			return 1;
		ch->last_seen = m[i].seq;
		if (ch->cbs.msg != NULL) {
			bm.seq = m[i].seq;
			bm.time = m[i].time;
			bm.name = m[i].name;
			bm.host = m[i].host;
			bm.text = m[i].text;
			ch->cbs.msg(ch->cbs.arg, &bm);
		}
	}
	return 0;
}

/* Fetch and hand on everything after last_seen; -1 if the server fails. */
static int
catch_up(struct bart_chat *ch)
{
	chat_since_res	r;
	int		rc, n, rounds;

	for (rounds = 0; rounds < 100000; rounds++) {
		rc = lib_since(ch->b, ch->last_seen, BART_BATCH_MAX, &r);
		n = rc == 0 ? (int)r.chat_since_res_u.ok.msgs.msgs_len : 0;
		/* A reply starts right after last_seen: no gaps. */
		if (n > 0)
			(void)take(ch, r.chat_since_res_u.ok.msgs.msgs_val,
			    (u_int)n);
		xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);
		if (rc != 0)
			return -1;
		if (n == 0)
			break;
	}
	ch->gap = 0;
	return 0;
}

static void	now_active(struct bart_chat *);
static void	subscribe(struct bart_chat *);
static void	arm(struct bart_chat *);

/* A host list's handle moved to another server: say so; 1 if it did. */
static int
moved_on(struct bart_chat *ch)
{
	if (ch->b->cur == ch->at)
		return 0;
	ch->at = ch->b->cur;
	event(ch, BART_CHAT_MOVED, 0, bart_host(ch->b));
	return 1;
}

/*
 * After a call that moved on: the subscription stayed with the server
 * left behind, so subscribe through the new one, catching up from
 * last_seen first.  Poll mode just polls the new one.
 */
static void
follow(struct bart_chat *ch)
{
	if (!moved_on(ch))
		return;
	ch->subscribed = 0;
	if ((ch->st == CS_PROBING || ch->st == CS_ACTIVE) && ch->cb != NULL)
		subscribe(ch);
}

/* DELIVER: check, hand on what is in order, note a gap; never call out. */
static bart_status
on_deliver(void *arg, const deliver_args *a)
{
	struct bart_chat	*ch = arg;

	/* Another local process may find our program: check the token. */
	if (!ch->subscribed || a->sub_id != ch->sub_id ||
	    memcmp(a->token, ch->token, BART_TOKEN_LEN) != 0)
		return BART_EBADTOKEN;
	if (ch->st == CS_PROBING)
		now_active(ch);
	ch->in_deliver = 1;	/* a line sent from cbs.msg only queues */
	if (take(ch, a->msgs.msgs_val, a->msgs.msgs_len))
		ch->gap = 1;
	ch->in_deliver = 0;
	return BART_OK;
}

/* The probe worked: say so once, so users (and tests) know. */
static void
now_active(struct bart_chat *ch)
{
	if (ch->st == CS_ACTIVE)
		return;
	ch->st = CS_ACTIVE;
	ch->poll_said = 0;
	event(ch, BART_CHAT_JOINED, 0, ch->name);
}

static void
unsubscribe(struct bart_chat *ch)
{
	chat_sub_ref	a;
	bart_res	r;

	if (!ch->subscribed)
		return;
	ch->subscribed = 0;
	if (ch->b->main.cl == NULL)
		return;
	a.id = ch->sub_id;
	memcpy(a.token, ch->token, BART_TOKEN_LEN);
	memset(&r, 0, sizeof(r));
	(void)lib_call(ch->b, CHAT_UNSUBSCRIBE, (xdrproc_t)xdr_chat_sub_ref,
	    &a, (xdrproc_t)xdr_bart_res, &r, 0);
}

static void
go_poll(struct bart_chat *ch, int err, const char *why)
{
	unsubscribe(ch);
	/* Once per fall: a retry of push that fails again says nothing. */
	if (!ch->poll_said)
		event(ch, BART_CHAT_POLLING, err, why);
	ch->poll_said = 1;
	ch->st = CS_POLL;
	ch->next_poll = 0;
	ch->next_resub = util_now_us() + RESUB_EVERY_US;
}

static void
go_down(struct bart_chat *ch)
{
	if (ch->st != CS_DOWN)
		event(ch, BART_CHAT_DOWN, ch->b->err, bart_errmsg(ch->b));
	if (ch->b->main.cl != NULL)
		clnt_destroy(ch->b->main.cl);
	ch->b->main.cl = NULL;
	ch->subscribed = 0;
	ch->st = CS_DOWN;
	ch->next_resub = util_now_us() + RETRY_EVERY_US;
}

/* Our callback program in rpcbind: registered, or put back.  0 if so. */
static int
ensure_registered(struct bart_chat *ch)
{
	int	r;

	if (ch->cb == NULL)
		return -1;
	r = cbsvc_register(ch->cb);
	ch->registered = r >= 0;
	return r >= 0 ? 0 : -1;
}

/* Catch up, then subscribe from last_seen; the probe is awaited later. */
static void
subscribe(struct bart_chat *ch)
{
	chat_sub_args	a;
	chat_sub_res	r;

	if (catch_up(ch) == -1) {
		go_down(ch);
		return;
	}
	if (ensure_registered(ch) == -1) {
		go_poll(ch, BART_ERR_CALLBACK, bart_strerror(BART_ERR_CALLBACK));
		return;
	}
	cbsvc_allow(ch->cb, &ch->b->server, ch->b->serverlen);
	a.cb_prog = cbsvc_prog(ch->cb);
	a.cb_vers = BART_CB_VERS;
	a.last_seen = ch->last_seen;
	memset(&r, 0, sizeof(r));
	if (lib_call(ch->b, CHAT_SUBSCRIBE, (xdrproc_t)xdr_chat_sub_args, &a,
	    (xdrproc_t)xdr_chat_sub_res, &r, 0) != 0) {
		go_down(ch);
		return;
	}
	/* It may have moved on meanwhile: callbacks come from the new one. */
	(void)moved_on(ch);
	cbsvc_allow(ch->cb, &ch->b->server, ch->b->serverlen);
	if (r.status != BART_OK) {
		go_poll(ch, (int)r.status, util_status_str(r.status));
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
renew(struct bart_chat *ch)
{
	chat_sub_ref	a;
	chat_renew_res	r;

	a.id = ch->sub_id;
	memcpy(a.token, ch->token, BART_TOKEN_LEN);
	memset(&r, 0, sizeof(r));
	if (lib_call(ch->b, CHAT_RENEW, (xdrproc_t)xdr_chat_sub_ref, &a,
	    (xdrproc_t)xdr_chat_renew_res, &r, 0) != 0) {
		go_down(ch);
		return;
	}
	/* Asked of another server: our subscription is not there. */
	if (ch->b->cur != ch->at) {
		follow(ch);
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
		go_poll(ch, (int)r.status, util_status_str(r.status));
		return;
	}
	/* Dropped or forgotten (server restart): catch up, join again. */
	event(ch, BART_CHAT_SUBLOST, (int)r.status,
	    util_status_str(r.status));
	subscribe(ch);
}

/* Send queued lines in order; stop at the first that cannot go. */
static void
flush_pending(struct bart_chat *ch)
{
	chat_send_args	a;
	chat_send_res	r;
	int		rc;

	while (ch->npend > 0 && ch->st != CS_DOWN) {
		a.id = ch->pend[0].id;
		a.name = ch->name;
		a.text = ch->pend[0].text;
		memset(&r, 0, sizeof(r));
		rc = lib_change(ch->b, CHAT_SEND,
		    (xdrproc_t)xdr_chat_send_args, &a,
		    (xdrproc_t)xdr_chat_send_res, &r, &r.status);
		if (rc != 0) {
			go_down(ch);
			return;
		}
		if (r.status != BART_OK)
			event(ch, BART_CHAT_REFUSED, (int)r.status,
			    ch->pend[0].text);
		xdr_free((xdrproc_t)xdr_chat_send_res, (char *)&r);
		free(ch->pend[0].text);
		memmove(&ch->pend[0], &ch->pend[1],
		    (size_t)(--ch->npend) * sizeof(ch->pend[0]));
	}
}

int
bart_chat_send(struct bart_chat *ch, const char *line)
{
	if (line == NULL || *line == '\0')
		return lib_status(ch->b, BART_ETEXT);
	if (strlen(line) > BART_TEXT_WIRE)
		return lib_status(ch->b, BART_ETEXT);
	if (ch->npend == MAX_PENDING)
		return lib_fail(ch->b, BART_ERR_RATE, "too many unsent lines");
	/* An identity now, so that a resend is stored once. */
	lib_reqid(ch->b, &ch->pend[ch->npend].id);
	if ((ch->pend[ch->npend].text = strdup(line)) == NULL)
		return lib_fail(ch->b, BART_ERR_NOMEM, "out of memory");
	ch->npend++;
	/* Never a call to the server while the server waits for our reply. */
	if (!ch->in_deliver) {
		flush_pending(ch);
		follow(ch);
		arm(ch);
	}
	return 0;
}

unsigned int
bart_chat_pending(const struct bart_chat *ch)
{
	return ch->npend;
}

static void
timers(struct bart_chat *ch)
{
	uint64_t	now = util_now_us();

	switch (ch->st) {
	case CS_PROBING:
		if (now >= ch->probe_deadline) {
			go_poll(ch, BART_ERR_CBNOANSWER, "the server's callbacks "
			    "do not reach this host (firewall or NAT?)");
			break;
		}
		if (now >= ch->next_renew) {
			ch->next_renew = now + 100000;
			renew(ch);
		}
		/* Retrying push from poll mode: keep polling meanwhile. */
		if (ch->st == CS_PROBING && ch->poll_said &&
		    now >= ch->next_poll) {
			ch->next_poll = now + POLL_EVERY_US;
			if (catch_up(ch) == -1)
				go_down(ch);
		}
		break;
	case CS_ACTIVE:
		if (now >= ch->next_renew) {
			ch->next_renew = now + RENEW_EVERY_US;
			renew(ch);
		}
		/* Put our program back if rpcbind forgot it (restarted). */
		if (ch->st == CS_ACTIVE && now >= ch->next_rereg) {
			ch->next_rereg = now + REREG_EVERY_US;
			(void)ensure_registered(ch);
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
			if (ch->cb != NULL && ensure_registered(ch) == 0)
				subscribe(ch);
		}
		break;
	case CS_DOWN:
		if (now < ch->next_resub)
			break;
		ch->next_resub = now + RETRY_EVERY_US;
		if (lib_restart(ch->b) == 0) {
			if (!moved_on(ch))
				event(ch, BART_CHAT_RECONNECTED, 0, NULL);
			ch->st = CS_POLL;
			flush_pending(ch);
			if (ch->st != CS_DOWN) {
				if (ch->cb != NULL)
					subscribe(ch);
				else
					ch->next_resub = now + RESUB_EVERY_US;
			}
			/* The move's budget ends with its first calls. */
			ch->b->spent_ms = 0;
		}
		break;
	}
	if (ch->st != CS_DOWN && ch->gap && catch_up(ch) == -1)
		go_down(ch);
	if (ch->st != CS_DOWN && ch->npend > 0)
		flush_pending(ch);
	follow(ch);
}

/* The next moment a timer is due: the timerfd is armed for it. */
static void
arm(struct bart_chat *ch)
{
	struct itimerspec	its;
	uint64_t		now = util_now_us(), due, d;

	switch (ch->st) {
	case CS_PROBING:
		due = ch->next_renew < ch->probe_deadline ? ch->next_renew :
		    ch->probe_deadline;
		break;
	case CS_ACTIVE:
		due = ch->next_renew < ch->next_rereg ? ch->next_renew :
		    ch->next_rereg;
		break;
	case CS_POLL:
		due = ch->next_poll < ch->next_resub ? ch->next_poll :
		    ch->next_resub;
		break;
	default:
		due = ch->next_resub;
		break;
	}
	if (ch->gap || ch->npend > 0)
		due = now;
	if (ch->cb != NULL && (d = cbsvc_deadline(ch->cb)) != 0 && d < due)
		due = d;
	d = due > now ? due - now : 0;
	if (d < 1000)
		d = 1000;	/* 0 would disarm it */
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(d / 1000000);
	its.it_value.tv_nsec = (long)(d % 1000000) * 1000;
	timerfd_settime(ch->tfd, 0, &its, NULL);
}

int
bart_chat_fd(const struct bart_chat *ch)
{
	return ch->epfd;
}

int
bart_chat_process(struct bart_chat *ch)
{
	struct epoll_event	evs[16];
	uint64_t		expirations;
	int			n, i;

	do
		n = epoll_wait(ch->epfd, evs, 16, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return lib_fail(ch->b, BART_ERR_SYSTEM, "epoll_wait: %s",
		    strerror(errno));
	for (i = 0; i < n; i++) {
		if (evs[i].data.u64 == TAG_TIMER) {
			if (read(ch->tfd, &expirations, sizeof(expirations)) ==
			    -1 && errno != EAGAIN)
				return lib_fail(ch->b, BART_ERR_SYSTEM,
				    "timerfd: %s", strerror(errno));
			continue;
		}
		if (ch->cb != NULL)
			(void)cbsvc_event(ch->cb, evs[i].data.u64,
			    evs[i].events);
	}
	if (ch->cb != NULL)
		cbsvc_timers(ch->cb, util_now_us());
	timers(ch);
	arm(ch);
	return 0;
}

int
bart_chat_join(struct bart *b, const char *name,
    const struct bart_chat_cbs *cbs, struct bart_chat **cp)
{
	struct bart_chat	*ch;
	struct epoll_event	 ev;
	bart_status		 st;
	int			 rc;

	*cp = NULL;
	if ((st = util_check_name(name)) != BART_OK)
		return lib_status(b, st);
	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return lib_fail(b, BART_ERR_NOMEM, "out of memory");
	ch->b = b;
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	if (cbs != NULL)
		ch->cbs = *cbs;
	ch->tfd = -1;
	if ((ch->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (ch->tfd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC)) == -1) {
		rc = lib_fail(b, BART_ERR_SYSTEM, "epoll/timerfd: %s",
		    strerror(errno));
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = TAG_TIMER;
	if (epoll_ctl(ch->epfd, EPOLL_CTL_ADD, ch->tfd, &ev) == -1) {
		rc = lib_fail(b, BART_ERR_SYSTEM, "epoll_ctl: %s",
		    strerror(errno));
		goto fail;
	}
	/* Start at the newest message: a chat shows what comes next. */
	if ((rc = bart_newest(b, &ch->last_seen)) != 0)
		goto fail;
	ch->at = b->cur;
	ch->next_rereg = util_now_us() + REREG_EVERY_US;
	if ((ch->cb = cbsvc_open(ch->epfd, on_deliver, ch)) == NULL ||
	    ensure_registered(ch) == -1) {
		event(ch, BART_CHAT_NOCALLBACK, BART_ERR_CALLBACK,
		    bart_strerror(BART_ERR_CALLBACK));
		go_poll(ch, BART_ERR_CALLBACK, "no push without a callback");
	} else
		subscribe(ch);
	arm(ch);
	*cp = ch;
	return 0;
fail:
	if (ch->tfd != -1)
		close(ch->tfd);
	if (ch->epfd != -1)
		close(ch->epfd);
	free(ch);
	return rc;
}

unsigned int
bart_chat_leave(struct bart_chat *ch)
{
	unsigned int	i, unsent;

	if (ch == NULL)
		return 0;
	/* Lines typed while the server was away get one last chance. */
	if (ch->npend > 0 && ch->st != CS_DOWN)
		flush_pending(ch);
	unsent = ch->npend;
	for (i = 0; i < ch->npend; i++) {
		event(ch, BART_CHAT_UNSENT, 0, ch->pend[i].text);
		free(ch->pend[i].text);
	}
	unsubscribe(ch);
	cbsvc_close(ch->cb);
	close(ch->tfd);
	close(ch->epfd);
	free(ch);
	return unsent;
}
