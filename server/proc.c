/* SPDX-License-Identifier: ISC */
/*
 * proc.c: what each BART_PROG procedure does, and the dispatcher.
 *
 * The dispatcher decodes arguments from the call's own bytes with the
 * rpcgen routines, always frees them (also a partial decode), and
 * answers a bad request with an RPC error or a status, never a crash.
 * Calls that change the store join the open group transaction
 * (proc_groups); their replies wait for proc_commit.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>

#include <rpc/rpc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counter.h"
#include "limit.h"
#include "log.h"
#include "peer.h"
#include "proc.h"
#include "util.h"

#define DGRAM_REPLY_BUDGET	7600	/* a datagram is at most 8800 */
#define STREAM_REPLY_BUDGET	(512 * 1024)
#define REPLY_HDR		24	/* xid ... accept_stat, null verifier */

/* The procedures reach the daemon's state through this pointer. */
static struct env *env;

/*
 * Effects that must wait for the commit of the calls grouped in one
 * transaction: a message enters the ring (and is pushed) only once it
 * is durable.
 */
struct later {
	struct later	*next;
	uint64_t	 seq;
	int64_t		 when;
	char		*name, *host, *text;
};
static struct later	*later_head, **later_tail = &later_head;

void
proc_init(struct env *e)
{
	env = e;
}

static void
later_free(void)
{
	struct later	*l;

	while ((l = later_head) != NULL) {
		later_head = l->next;
		free(l->name);
		free(l->host);
		free(l->text);
		free(l);
	}
	later_tail = &later_head;
}

struct proc_job;
static void	job_free(struct proc_job *);

/*
 * ORDER: after serve_exit (its parked entries, the jobs' owners, are
 * gone): the store's worker stops and every call it still holds is
 * freed, unanswered.
 */
void
proc_exit(struct env *e)
{
	struct store_job	*sj;

	if (e != NULL && e->store != NULL) {
		store_stop(e->store);
		while ((sj = store_done(e->store)) != NULL)
			job_free((struct proc_job *)(void *)sj);
	}
	later_free();
}

/* The caller as a sockaddr; local-transport callers are AF_UNIX. */
static socklen_t
caller_addr(const struct proc_req *rq, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (rq->xport == PROC_LOCAL || rq->from == NULL ||
	    rq->fromlen < sizeof(sa_family_t) ||
	    rq->fromlen > sizeof(*ss) || rq->from->sa_family == AF_UNIX) {
		ss->ss_family = AF_UNIX;
		return sizeof(sa_family_t);
	}
	memcpy(ss, rq->from, rq->fromlen);
	return rq->fromlen;
}

static void
do_count(void *argp, void *resp, const struct proc_req *rq)
{
	count_args	*a = argp;
	count_res	*r = resp;
	int64_t		 total;
	char		 buf[BART_TEXT_REPLY];

	(void)rq;
	r->status = store_count_add(env->store, &a->id, a->up, &total);
	if (r->status != BART_OK) {
		if (r->status == BART_ESTORE)
			log_warnx("count: could not commit to the store");
		return;
	}
	counter_text(total, buf, sizeof(buf));
	r->count_res_u.ok.total = total;
	if ((r->count_res_u.ok.text = strdup(buf)) == NULL)
		r->status = BART_ESTORE;
}

/* Remember a new message for the ring, once its commit succeeded. */
static void
later_add(uint64_t seq, int64_t when, const char *name, const char *host,
    const char *text)
{
	struct later	*l;

	if (!store_in_group(env->store)) {	/* committed already */
		chat_append(env->ring, seq, when, name, host, text);
		return;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->name = strdup(name)) == NULL ||
	    (l->host = strdup(host)) == NULL ||
	    (l->text = strdup(text)) == NULL) {
		/* The store has it; pushes catch up from CHAT_SINCE. */
		log_warnx("chat: out of memory for message %llu",
		    (unsigned long long)seq);
		if (l != NULL) {
			free(l->name);
			free(l->host);
			free(l);
		}
		return;
	}
	l->seq = seq;
	l->when = when;
	*later_tail = l;
	later_tail = &l->next;
}

static void
do_chat_send(void *argp, void *resp, const struct proc_req *rq)
{
	chat_send_args		*a = argp;
	chat_send_res		*r = resp;
	struct sockaddr_storage	 ss;
	char			 host[BART_HOST_MAX];
	uint64_t		 before, seq;
	int64_t			 now = (int64_t)time(NULL);

	if ((r->status = util_check_name(a->name)) != BART_OK ||
	    (r->status = util_check_text(a->text)) != BART_OK)
		return;
	caller_addr(rq, &ss);
	if (env->chat_limit != NULL && limit_take(env->chat_limit,
	    (struct sockaddr *)&ss, rq->xport == PROC_TCP ?
	    limit_uid(env->chat_limit, rq->fd, peer_uid, rq) : peer_uid(rq),
	    util_now_us()) == -1) {
		/* A resend of a stored line is owed its first answer. */
		if (store_chat_known(env->store, &a->id, &seq)) {
			r->status = BART_OK;
			r->chat_send_res_u.seq = seq;
			return;
		}
		r->status = BART_ERATE;
		return;
	}
	util_addr_str((struct sockaddr *)&ss, host, sizeof(host));
	before = store_chat_pending(env->store);
	r->status = store_chat_add(env->store, &a->id, now, a->name, host,
	    a->text, &seq);
	if (r->status != BART_OK) {
		log_warnx("chat: could not commit a message to the store");
		return;
	}
	r->chat_send_res_u.seq = seq;
	if (seq > before)		/* not a resend of a stored one */
		later_add(seq, now, a->name, host, a->text);
}

struct since_fill {
	chat_msg	*msgs;
	unsigned int	 n;
	size_t		 used, budget;
	int		 strict;	/* even the first must fit */
	int		 over;		/* one did not */
};

static int
since_row(void *arg, uint64_t seq, int64_t when, const char *name,
    const char *host, const char *text)
{
	struct since_fill	*f = arg;
	chat_msg		*m = &f->msgs[f->n];
	size_t			 sz = chat_msg_size(name, host, text);

	if ((f->n > 0 || f->strict) && f->used + sz > f->budget) {
		f->over = 1;
		return 1;
	}
	m->seq = seq;
	m->time = when;
	m->name = strdup(name);
	m->host = strdup(host);
	m->text = strdup(text);
	f->n++;
	f->used += sz;
	return m->name == NULL || m->host == NULL || m->text == NULL;
}

/*
 * How many bytes of messages a CHAT_SINCE reply to RQ may carry.  Over
 * UDP a forged source address makes us a reflector: the reply stays
 * within PROC_DGRAM_AMPLIFY times the call (a client may pad its call
 * to be allowed more), or the client is told to use a stream
 * (BART_EUSESTREAM) if not even one message fits.
 */
static void
since_budget(const struct proc_req *rq, struct since_fill *f)
{
	f->budget = STREAM_REPLY_BUDGET;
	if (rq->xport == PROC_UDP) {
		f->budget = rq->callen * PROC_DGRAM_AMPLIFY;
		if (f->budget > DGRAM_REPLY_BUDGET)
			f->budget = DGRAM_REPLY_BUDGET;
		f->budget = f->budget > REPLY_HDR + 16 ? f->budget -
		    REPLY_HDR - 16 : 0;
		f->strict = 1;
	}
}

static void
do_chat_since(void *argp, void *resp, const struct proc_req *rq)
{
	chat_since_args		*a = argp;
	chat_since_res		*r = resp;
	chat_since_ok		*ok = &r->chat_since_res_u.ok;
	struct since_fill	 f;
	unsigned int		 max = a->max;

	if (max > BART_BATCH_MAX)
		max = BART_BATCH_MAX;
	memset(&f, 0, sizeof(f));
	since_budget(rq, &f);
	ok->newest = store_chat_newest(env->store);
	if (max > 0 && (f.msgs = calloc(max, sizeof(chat_msg))) == NULL) {
		r->status = BART_ESTORE;
		return;
	}
	if (max > 0 && store_chat_since(env->store, a->seq, max, since_row,
	    &f) == -1) {
		chat_msgs_free(f.msgs, (int)f.n);
		free(f.msgs);
		r->status = BART_ESTORE;
		return;
	}
	if (f.over && f.n == 0) {
		free(f.msgs);
		r->status = BART_EUSESTREAM;
		return;
	}
	r->status = BART_OK;
	ok->msgs.msgs_len = f.n;
	ok->msgs.msgs_val = f.msgs;
}

static void
do_chat_subscribe(void *argp, void *resp, const struct proc_req *rq)
{
	chat_sub_args		*a = argp;
	chat_sub_res		*r = resp;
	struct sockaddr_storage	 ss, via;
	socklen_t		 len, vlen = sizeof(via);
	const struct sockaddr	*to = rq->to;
	long			 uid;

	len = caller_addr(rq, &ss);
	if (a->cb_prog < BART_CB_PROG_MIN || a->cb_prog > BART_CB_PROG_MAX) {
		r->status = BART_ECBPROG;
		return;
	}
	/* ORDER: the cheap cap check before the uid lookup. */
	if ((r->status = push_admit(env->push,
	    (struct sockaddr *)&ss)) != BART_OK)
		return;
	/*
	 * Out of descriptors, the uid lookup fails: that is the server
	 * being full (BART_ETOOMANY), not the caller's fault.
	 */
	if ((uid = peer_uid(rq)) == PEER_UID_UNKNOWN && peer_out_of_fds()) {
		log_warnx("out of file descriptors: a SUBSCRIBE refused");
		r->status = BART_ETOOMANY;
		return;
	}
	/* Our address it came to: callbacks leave from there (push.c). */
	if (rq->to == NULL && rq->xport == PROC_TCP &&
	    getsockname(rq->fd, (struct sockaddr *)&via, &vlen) == 0)
		to = (struct sockaddr *)&via;
	r->status = push_subscribe_at(env->push, (struct sockaddr *)&ss, len,
	    to, uid, a->cb_prog, a->cb_vers, a->last_seen,
	    &r->chat_sub_res_u.ok);
}

static void
do_chat_unsubscribe(void *argp, void *resp, const struct proc_req *rq)
{
	bart_res	*r = resp;

	(void)rq;
	r->status = push_unsubscribe(env->push, argp);
}

static void
do_chat_renew(void *argp, void *resp, const struct proc_req *rq)
{
	chat_renew_res	*r = resp;

	(void)rq;
	r->status = push_renew(env->push, argp, &r->chat_renew_res_u.state);
}

static void
do_stats(void *argp, void *resp, const struct proc_req *rq)
{
	stats_res	*r = resp;

	(void)argp;
	(void)rq;
	r->status = BART_OK;
	r->stats_res_u.ok.counter = store_count_get(env->store);
	r->stats_res_u.ok.messages = store_chat_newest(env->store);
	r->stats_res_u.ok.subscribers = push_count(env->push);
	/* Monotonic: a wall clock stepped back must not wrap it. */
	r->stats_res_u.ok.uptime = (util_now_us() - env->started_us) /
	    1000000;
}

/*
 * HEALTH: a real write probe (store_probe commits a row of its own), so
 * a full or read-only store shows here while NULLPROC still answers.
 * The call itself succeeds; the probe's outcome is in ok.store.
 */
static void
do_health(void *argp, void *resp, const struct proc_req *rq)
{
	health_res	*r = resp;
	health_ok	*ok = &r->health_res_u.ok;
	uint64_t	 t0 = util_now_us();

	(void)argp;
	(void)rq;
	r->status = BART_OK;
	ok->store = store_probe(env->store, (int64_t)time(NULL));
	ok->probe_us = util_now_us() - t0;
	if (ok->store != BART_OK)
		log_warnx("health: the store probe could not commit");
	ok->counter = store_count_get(env->store);
	ok->messages = store_chat_newest(env->store);
	ok->subscribers = push_count(env->push);
	ok->uptime = (util_now_us() - env->started_us) / 1000000;
}

struct proc {
	xdrproc_t	 xargs;
	xdrproc_t	 xres;
	void		(*fn)(void *, void *, const struct proc_req *);
};

static const struct proc procs[] = {
	[COUNT] = { (xdrproc_t)xdr_count_args, (xdrproc_t)xdr_count_res,
	    do_count },
	[CHAT_SEND] = { (xdrproc_t)xdr_chat_send_args,
	    (xdrproc_t)xdr_chat_send_res, do_chat_send },
	[CHAT_SINCE] = { (xdrproc_t)xdr_chat_since_args,
	    (xdrproc_t)xdr_chat_since_res, do_chat_since },
	[CHAT_SUBSCRIBE] = { (xdrproc_t)xdr_chat_sub_args,
	    (xdrproc_t)xdr_chat_sub_res, do_chat_subscribe },
	[CHAT_UNSUBSCRIBE] = { (xdrproc_t)xdr_chat_sub_ref,
	    (xdrproc_t)xdr_bart_res, do_chat_unsubscribe },
	[CHAT_RENEW] = { (xdrproc_t)xdr_chat_sub_ref,
	    (xdrproc_t)xdr_chat_renew_res, do_chat_renew },
	[STATS] = { XDR_VOID, (xdrproc_t)xdr_stats_res,
	    do_stats },
	[HEALTH] = { XDR_VOID, (xdrproc_t)xdr_health_res, do_health },
};

union proc_args {
	count_args	count;
	chat_send_args	send;
	chat_since_args	since;
	chat_sub_args	sub;
	chat_sub_ref	ref;
};

union proc_res {
	count_res	count;
	chat_send_res	send;
	chat_since_res	since;
	chat_sub_res	sub;
	bart_res	unsub;
	chat_renew_res	renew;
	stats_res	stats;
	health_res	health;
};

/*
 * The calls whose resend must not run again get their UDP reply cached:
 * COUNT and CHAT_SEND change state, a second CHAT_SUBSCRIBE would make
 * a second subscription, and a resent CHAT_UNSUBSCRIBE would answer
 * BART_ENOSUB to a call that worked.  The rest are reads or heartbeats
 * whose fresh answer is as good as the first.
 */
int
proc_dgram_cached(const struct wire_call *c)
{
	return c->prog == BART_PROG && c->vers == BART_VERS &&
	    (c->proc == COUNT || c->proc == CHAT_SEND ||
	    c->proc == CHAT_SUBSCRIBE || c->proc == CHAT_UNSUBSCRIBE);
}

/*
 * Does this call change the store?  Such calls arriving together share
 * one transaction (group commit) and their replies wait for its
 * commit; any other call is served after the group is committed, so it
 * never sees uncommitted state.  COUNT's increment is peeked at its
 * place in count_args (a reqid, then the int): COUNT 0 is a read.
 */
int
proc_groups(const struct wire_call *c)
{
	uint32_t	up;

	if (c->prog != BART_PROG || c->vers != BART_VERS)
		return 0;
	if (c->proc == CHAT_SEND)
		return 1;
	if (c->proc != COUNT || c->argslen < 20)
		return 0;
	memcpy(&up, c->args + 16, 4);
	return (int32_t)ntohl(up) > 0;
}

/* A reply that is only a bart_status: every result union starts so. */
size_t
proc_status_reply(uint32_t xid, bart_status st, unsigned char *out,
    size_t cap)
{
	bart_res	r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	return wire_reply(out, cap, xid, WIRE_SUCCESS, 0,
	    (xdrproc_t)xdr_bart_res, &r);
}

/*
 * Decode call C's arguments for P into ARG; 0 if they are garbage (a
 * partial decode stays allocated: freed here).
 */
static int
args_decode(const struct proc *p, const struct wire_call *c,
    union proc_args *arg)
{
	XDR	x;
	int	ok;

	memset(arg, 0, sizeof(*arg));
	xdrmem_create(&x, (char *)(uintptr_t)c->args, (u_int)c->argslen,
	    XDR_DECODE);
	ok = (*p->xargs)(&x, (char *)arg);
	xdr_destroy(&x);
	if (!ok)
		xdr_free(p->xargs, (char *)arg);
	return ok;
}

/*
 * The reply carrying result RES of procedure P (number PROCNUM) to call
 * XID into OUT (CAP bytes); its length.  A UDP reply larger than
 * PROC_DGRAM_AMPLIFY times the call (CALLEN bytes) becomes
 * BART_EUSESTREAM; one that does not fit, SYSTEM_ERR.
 */
static size_t
result_reply(uint32_t xid, rpcproc_t procnum, enum proc_xport xport,
    size_t callen, const struct proc *p, void *res, unsigned char *out,
    size_t cap)
{
	size_t	len;

	len = wire_reply(out, cap, xid, WIRE_SUCCESS, 0, p->xres, res);
	if (xport == PROC_UDP && len > callen * PROC_DGRAM_AMPLIFY &&
	    len > REPLY_HDR + 8)
		len = proc_status_reply(xid, BART_EUSESTREAM, out, cap);
	if (len == 0) {
		log_warnx("reply to procedure %u does not fit", procnum);
		len = wire_reply(out, cap, xid, WIRE_SYSTEM_ERR, 0, NULL,
		    NULL);
	}
	return len;
}

/*
 * Serve call C from RQ and encode the reply into OUT (CAP bytes).
 * Returns its length (0: no reply).  *HELD is set if the reply reports
 * a change not yet committed: it must wait for proc_commit.
 */
size_t
proc_call(const struct proc_req *rq, const struct wire_call *c,
    unsigned char *out, size_t cap, int *held)
{
	const struct proc	*p;
	union proc_args		 arg;
	union proc_res		 res;
	size_t			 len;

	*held = 0;
	if (c->prog != BART_PROG)
		return wire_reply(out, cap, c->xid, WIRE_PROG_UNAVAIL, 0,
		    NULL, NULL);
	if (c->vers != BART_VERS)
		return wire_reply(out, cap, c->xid, WIRE_PROG_MISMATCH,
		    BART_VERS, NULL, NULL);
	if (c->proc == NULLPROC)
		return wire_reply(out, cap, c->xid, WIRE_SUCCESS, 0, NULL,
		    NULL);
	if (c->proc >= sizeof(procs) / sizeof(procs[0]) ||
	    procs[c->proc].fn == NULL)
		return wire_reply(out, cap, c->xid, WIRE_PROC_UNAVAIL, 0,
		    NULL, NULL);
	p = &procs[c->proc];
	if (!args_decode(p, c, &arg))
		return wire_reply(out, cap, c->xid, WIRE_GARBAGE_ARGS, 0,
		    NULL, NULL);
	if (proc_groups(c))
		store_group_begin(env->store);	/* failing: one tx each */
	memset(&res, 0, sizeof(res));
	p->fn(&arg, &res, rq);
	*held = store_in_group(env->store) && proc_groups(c) &&
	    *(bart_status *)(void *)&res == BART_OK;
	len = result_reply(c->xid, c->proc, rq->xport, rq->callen, p, &res,
	    out, cap);
	xdr_free(p->xres, (char *)&res);
	xdr_free(p->xargs, (char *)&arg);
	return len;
}

/*
 * Commit the calls grouped since the last commit; then the effects
 * that wait for it happen (ring, pushes).  Returns BART_OK, or the
 * status every held reply must carry instead: BART_ESTORE when nothing
 * was stored, BART_EUNKNOWN when the store cannot tell.
 */
bart_status
proc_commit(void)
{
	struct later	*l;
	bart_status	 st;

	if (!store_in_group(env->store))
		return BART_OK;
	st = store_group_commit(env->store);
	if (st == BART_OK)
		for (l = later_head; l != NULL; l = l->next)
			chat_append(env->ring, l->seq, l->when, l->name,
			    l->host, l->text);
	later_free();
	return st;
}

/* ---- calls that wait for the store's worker (PostgreSQL) -------------- */

/*
 * A call whose store work runs on the store's worker thread: the job,
 * and what its reply needs.  The RPC thread owns it, except sj, which
 * the store owns from store_submit until store_done returns it (the
 * SINCE callback fills `fill` on the worker meanwhile).
 */
struct proc_job {
	struct store_job	 sj;		/* ORDER: first: store_done */
	void			*owner;		/* the caller's (serve.c) */
	uint32_t		 xid;
	uint32_t		 proc;
	enum proc_xport		 xport;
	size_t			 callen;
	char			*name, *text;
	char			 host[BART_HOST_MAX];
	struct since_fill	 fill;		/* CHAT_SINCE */
	uint64_t		 t0;		/* HEALTH: for probe_us */
};

static void
job_free(struct proc_job *j)
{
	if (j == NULL)
		return;
	if (j->fill.msgs != NULL) {
		chat_msgs_free(j->fill.msgs, (int)j->fill.n);
		free(j->fill.msgs);
	}
	free(j->name);
	free(j->text);
	free(j);
}

/*
 * Does call C wait for the store's worker?  The calls that touch
 * PostgreSQL, when the store runs them off the loop (store_defers).
 */
int
proc_defers(const struct wire_call *c)
{
	if (!store_defers(env->store) || c->prog != BART_PROG ||
	    c->vers != BART_VERS)
		return 0;
	return c->proc == COUNT || c->proc == CHAT_SEND ||
	    c->proc == CHAT_SINCE || c->proc == HEALTH;
}

/* CHAT_SEND's checks on the loop; its job: the message, or a look-up. */
static bart_status
chat_send_job(const struct proc_req *rq, chat_send_args *a,
    struct proc_job *j)
{
	struct sockaddr_storage	ss;
	bart_status		st;

	if ((st = util_check_name(a->name)) != BART_OK ||
	    (st = util_check_text(a->text)) != BART_OK)
		return st;
	caller_addr(rq, &ss);
	j->sj.id = a->id;
	if (env->chat_limit != NULL && limit_take(env->chat_limit,
	    (struct sockaddr *)&ss, peer_uid(rq), util_now_us()) == -1) {
		/* A resend of a stored line is owed its first answer. */
		if (a->id.client == 0)
			return BART_ERATE;
		j->sj.op = STORE_OP_KNOWN;
		return BART_OK;
	}
	util_addr_str((struct sockaddr *)&ss, j->host, sizeof(j->host));
	if ((j->name = strdup(a->name)) == NULL ||
	    (j->text = strdup(a->text)) == NULL)
		return BART_ESTORE;
	j->sj.op = STORE_OP_CHAT;
	j->sj.when = (int64_t)time(NULL);
	j->sj.name = j->name;
	j->sj.host = j->host;
	j->sj.text = j->text;
	return BART_OK;
}

/* CHAT_SINCE's budget (as do_chat_since) and its job. */
static bart_status
chat_since_job(const struct proc_req *rq, chat_since_args *a,
    struct proc_job *j)
{
	struct since_fill	*f = &j->fill;
	unsigned int		 max = a->max;

	if (max > BART_BATCH_MAX)
		max = BART_BATCH_MAX;
	since_budget(rq, f);
	if (max > 0 && (f->msgs = calloc(max, sizeof(chat_msg))) == NULL)
		return BART_ESTORE;
	j->sj.op = STORE_OP_SINCE;
	j->sj.after = a->seq;
	j->sj.max = max;
	j->sj.cb = since_row;
	j->sj.cb_arg = f;
	return BART_OK;
}

/*
 * Job J's reply into OUT (CAP bytes), as proc_call would have encoded
 * it; its length.  *DEFINITE: the reply may be cached (the outcome is
 * known: not BART_EUNKNOWN or BART_EUNAVAIL).
 */
static size_t
job_reply(struct proc_job *j, unsigned char *out, size_t cap, int *definite)
{
	const struct proc	*p = &procs[j->proc];
	const struct store_job	*sj = &j->sj;
	union proc_res		 res;
	chat_since_ok		*ok;
	health_ok		*h;
	char			 buf[BART_TEXT_REPLY];
	size_t			 len;

	memset(&res, 0, sizeof(res));
	*definite = sj->st != BART_EUNKNOWN && sj->st != BART_EUNAVAIL;
	switch (j->proc) {
	case COUNT:
		if ((res.count.status = sj->st) != BART_OK) {
			if (sj->st == BART_ESTORE)
				log_warnx("count: could not commit to the store");
			break;
		}
		counter_text(sj->total, buf, sizeof(buf));
		res.count.count_res_u.ok.total = sj->total;
		if ((res.count.count_res_u.ok.text = strdup(buf)) == NULL)
			res.count.status = BART_ESTORE;
		break;
	case CHAT_SEND:
		res.send.status = sj->st;
		if (sj->st == BART_OK && sj->op == STORE_OP_KNOWN &&
		    !sj->found)
			res.send.status = BART_ERATE;
		else if (sj->st == BART_OK)
			res.send.chat_send_res_u.seq = sj->seq;
		else if (sj->op == STORE_OP_CHAT)
			log_warnx("chat: could not commit a message to the "
			    "store");
		break;
	case CHAT_SINCE:
		ok = &res.since.chat_since_res_u.ok;
		if (sj->st != BART_OK || sj->rows < 0) {
			res.since.status = sj->st != BART_OK ? sj->st :
			    BART_ESTORE;
			break;
		}
		if (j->fill.over && j->fill.n == 0) {
			res.since.status = BART_EUSESTREAM;
			break;
		}
		res.since.status = BART_OK;
		ok->newest = store_chat_newest(env->store);
		if (j->fill.n > 0 && j->fill.msgs[j->fill.n - 1].seq >
		    ok->newest)
			ok->newest = j->fill.msgs[j->fill.n - 1].seq;
		ok->msgs.msgs_len = j->fill.n;
		ok->msgs.msgs_val = j->fill.msgs;
		j->fill.msgs = NULL;		/* res owns them now */
		break;
	case HEALTH:
		h = &res.health.health_res_u.ok;
		res.health.status = BART_OK;
		h->store = sj->st;
		h->probe_us = util_now_us() - j->t0;
		if (h->store != BART_OK)
			log_warnx("health: the store probe could not commit");
		h->counter = store_count_get(env->store);
		h->messages = store_chat_newest(env->store);
		h->subscribers = push_count(env->push);
		h->uptime = (util_now_us() - env->started_us) / 1000000;
		break;
	}
	len = result_reply(j->xid, j->proc, j->xport, j->callen, p, &res,
	    out, cap);
	xdr_free(p->xres, (char *)&res);
	return len;
}

/*
 * Start call C from RQ (proc_defers said so): decode it, check what the
 * loop can check, and hand its store work to the worker.  Returns 0 if
 * the call waits (proc_done gives back OWNER with its reply later), or
 * the length of the reply encoded into OUT now: a refusal, or
 * BART_EUNAVAIL when the worker has too many calls waiting.
 */
size_t
proc_defer(const struct proc_req *rq, const struct wire_call *c, void *owner,
    unsigned char *out, size_t cap)
{
	const struct proc	*p = &procs[c->proc];
	union proc_args		 arg;
	struct proc_job		*j;
	bart_status		 st = BART_OK;
	size_t			 len;
	int			 definite;

	if (!args_decode(p, c, &arg))
		return wire_reply(out, cap, c->xid, WIRE_GARBAGE_ARGS, 0,
		    NULL, NULL);
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		xdr_free(p->xargs, (char *)&arg);
		return proc_status_reply(c->xid, BART_ESTORE, out, cap);
	}
	j->owner = owner;
	j->xid = c->xid;
	j->proc = c->proc;
	j->xport = rq->xport;
	j->callen = rq->callen;
	switch (c->proc) {
	case COUNT:
		if (arg.count.up < 0)
			st = BART_ENEGATIVE;
		j->sj.op = STORE_OP_COUNT;
		j->sj.id = arg.count.id;
		j->sj.up = arg.count.up;
		break;
	case CHAT_SEND:
		st = chat_send_job(rq, &arg.send, j);
		break;
	case CHAT_SINCE:
		st = chat_since_job(rq, &arg.since, j);
		break;
	default:			/* HEALTH */
		j->sj.op = STORE_OP_PROBE;
		j->t0 = util_now_us();
		break;
	}
	xdr_free(p->xargs, (char *)&arg);
	if (st != BART_OK) {
		job_free(j);
		return proc_status_reply(c->xid, st, out, cap);
	}
	if (store_submit(env->store, &j->sj) == 0)
		return 0;
	/* Too many waiting for the database: as good as unavailable. */
	j->sj.st = BART_EUNAVAIL;
	j->sj.rows = -1;
	len = job_reply(j, out, cap, &definite);
	job_free(j);
	return len;
}

/* The calls deferred this round go to the worker now, together. */
void
proc_kick(void)
{
	store_kick(env->store);
}

/* Readable when proc_done has a reply: the store's eventfd, or -1. */
int
proc_done_fd(void)
{
	return env == NULL || env->store == NULL ? -1 :
	    store_done_fd(env->store);
}

/*
 * The next call the worker has finished, in the order they were
 * deferred: its OWNER, with its reply encoded into OUT (CAP bytes,
 * *LEN) and *DEFINITE as job_reply says.  NULL when none is left.
 */
void *
proc_done(unsigned char *out, size_t cap, size_t *len, int *definite)
{
	struct store_job	*sj;
	struct proc_job		*j;
	void			*owner;

	if ((sj = store_done(env->store)) == NULL)
		return NULL;
	j = (struct proc_job *)(void *)sj;
	*len = job_reply(j, out, cap, definite);
	owner = j->owner;
	job_free(j);
	return owner;
}
