/*
 * proc.c: what each BART_PROG procedure does, and the dispatcher.
 *
 * The dispatcher replaces rpcgen's: it always calls svc_freeargs, also
 * when decoding fails (the generated one leaks the partial decode), and
 * a bad request gets an RPC error or a status, never a crash.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <rpc/rpc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conns.h"
#include "counter.h"
#include "drc.h"
#include "limit.h"
#include "log.h"
#include "peer.h"
#include "proc.h"
#include "util.h"

#define DGRAM_REPLY_BUDGET	7600	/* libtirpc UDP buffers: 8800 */
#define STREAM_REPLY_BUDGET	(512 * 1024)
/*
 * UDP duplicate-request cache (drc.c): the replies to the last
 * DRC_ENTRIES state-changing calls.  An entry takes 72 bytes, 8 of hash
 * table and its reply: at most 104 bytes for these procedures (a COUNT
 * with its 64-byte text), so about 200 KB with malloc's overhead, and
 * never more than DRC_ENTRIES * (80 + DRC_REPLY_MAX) = 9.1 MB.
 */
#define DRC_ENTRIES		1024

/* libtirpc's dispatch callback has no context argument. */
static struct env *env;

/*
 * Test hook: BART_TEST_DIE_AFTER_COMMIT=N makes the daemon kill itself
 * right after the Nth committed COUNT, before replying -- the moment a
 * client's resend must not count twice.  Unset in production.
 */
static long die_after_commit;

void
proc_init(struct env *e)
{
	const char	*s;

	env = e;
	if ((s = getenv("BART_TEST_DIE_AFTER_COMMIT")) != NULL)
		die_after_commit = strtol(s, NULL, 10);
	/* Test hook: BART_TEST_NO_DRC=1 lets the bench price the cache. */
	if ((s = getenv("BART_TEST_NO_DRC")) != NULL && strcmp(s, "1") == 0)
		log_info("duplicate request cache off (BART_TEST_NO_DRC)");
	else if (e->drc == NULL &&
	    (e->drc = drc_init(DRC_ENTRIES)) == NULL)
		log_warn("no duplicate request cache");
}

void
proc_exit(struct env *e)
{
	drc_exit(e->drc);
	e->drc = NULL;
}

/* The caller as a sockaddr; local-transport callers become AF_UNIX. */
static socklen_t
caller_addr(struct svc_req *rq, struct sockaddr_storage *ss)
{
	struct netbuf	*nb = svc_getrpccaller(rq->rq_xprt);

	memset(ss, 0, sizeof(*ss));
	if (nb == NULL || nb->buf == NULL || nb->len < sizeof(sa_family_t) ||
	    nb->len > sizeof(*ss) ||
	    ((struct sockaddr *)nb->buf)->sa_family == AF_UNIX) {
		ss->ss_family = AF_UNIX;
		return sizeof(sa_family_t);
	}
	memcpy(ss, nb->buf, nb->len);
	return nb->len;
}

/* Is XPRT one of our UDP transports?  No syscall: a look at env. */
static int
dgram_xprt(SVCXPRT *xprt)
{
	int	i;

	for (i = 0; i < env->nxprts; i++)
		if (env->xprts[i].xprt == xprt)
			return env->xprts[i].nconf->nc_semantics ==
			    NC_TPI_CLTS;
	return 0;
}

static void
do_count(void *argp, void *resp, struct svc_req *rq)
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
	if (die_after_commit > 0 && a->up > 0 && --die_after_commit == 0)
		raise(SIGKILL);
	counter_text(total, buf, sizeof(buf));
	r->count_res_u.ok.total = total;
	if ((r->count_res_u.ok.text = strdup(buf)) == NULL)
		r->status = BART_ESTORE;
}

static void
do_chat_send(void *argp, void *resp, struct svc_req *rq)
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
	    (struct sockaddr *)&ss, peer_uid(rq->rq_xprt),
	    util_now_us()) == -1) {
		r->status = BART_ERATE;
		return;
	}
	util_addr_str((struct sockaddr *)&ss, host, sizeof(host));
	before = store_chat_newest(env->store);
	r->status = store_chat_add(env->store, &a->id, now, a->name, host,
	    a->text, &seq);
	if (r->status != BART_OK) {
		log_warnx("chat: could not commit a message to the store");
		return;
	}
	r->chat_send_res_u.seq = seq;
	if (seq > before)		/* not a resend of a stored one */
		chat_append(env->ring, seq, now, a->name, host, a->text);
}

struct since_fill {
	chat_msg	*msgs;
	unsigned int	 n;
	size_t		 used, budget;
};

static int
since_row(void *arg, uint64_t seq, int64_t when, const char *name,
    const char *host, const char *text)
{
	struct since_fill	*f = arg;
	chat_msg		*m = &f->msgs[f->n];
	size_t			 sz = chat_msg_size(name, host, text);

	if (f->n > 0 && f->used + sz > f->budget)
		return 1;
	m->seq = seq;
	m->time = when;
	m->name = strdup(name);
	m->host = strdup(host);
	m->text = strdup(text);
	f->n++;
	f->used += sz;
	return m->name == NULL || m->host == NULL || m->text == NULL;
}

static void
do_chat_since(void *argp, void *resp, struct svc_req *rq)
{
	chat_since_args		*a = argp;
	chat_since_res		*r = resp;
	chat_since_ok		*ok = &r->chat_since_res_u.ok;
	struct since_fill	 f;
	unsigned int		 max = a->max;

	if (max > BART_BATCH_MAX)
		max = BART_BATCH_MAX;
	memset(&f, 0, sizeof(f));
	f.budget = dgram_xprt(rq->rq_xprt) ? DGRAM_REPLY_BUDGET :
	    STREAM_REPLY_BUDGET;
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
	r->status = BART_OK;
	ok->msgs.msgs_len = f.n;
	ok->msgs.msgs_val = f.msgs;
}

static void
do_chat_subscribe(void *argp, void *resp, struct svc_req *rq)
{
	chat_sub_args		*a = argp;
	chat_sub_res		*r = resp;
	struct sockaddr_storage	 ss;
	socklen_t		 len;

	len = caller_addr(rq, &ss);
	if (a->cb_prog < BART_CB_PROG_MIN || a->cb_prog > BART_CB_PROG_MAX) {
		r->status = BART_ECBPROG;
		return;
	}
	/* ORDER: the cheap cap check before the uid lookup. */
	if ((r->status = push_admit(env->push,
	    (struct sockaddr *)&ss)) != BART_OK)
		return;
	r->status = push_subscribe(env->push, (struct sockaddr *)&ss, len,
	    peer_uid(rq->rq_xprt), a->cb_prog, a->cb_vers,
	    a->last_seen, &r->chat_sub_res_u.ok);
}

static void
do_chat_unsubscribe(void *argp, void *resp, struct svc_req *rq)
{
	bart_res	*r = resp;

	(void)rq;
	r->status = push_unsubscribe(env->push, argp);
}

static void
do_chat_renew(void *argp, void *resp, struct svc_req *rq)
{
	chat_renew_res	*r = resp;

	(void)rq;
	r->status = push_renew(env->push, argp, &r->chat_renew_res_u.state);
}

static void
do_stats(void *argp, void *resp, struct svc_req *rq)
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

struct proc {
	xdrproc_t	 xargs;
	xdrproc_t	 xres;
	void		(*fn)(void *, void *, struct svc_req *);
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
};

/*
 * The calls whose resend must not run again get their UDP reply cached:
 * COUNT and CHAT_SEND change state, a second CHAT_SUBSCRIBE would make
 * a second subscription, and a resent CHAT_UNSUBSCRIBE would answer
 * BART_ENOSUB to a call that worked.  The rest are reads or heartbeats
 * whose fresh answer is as good as the first.
 */
static int
reply_cached(rpcproc_t proc)
{
	return proc == COUNT || proc == CHAT_SEND || proc == CHAT_SUBSCRIBE ||
	    proc == CHAT_UNSUBSCRIBE;
}


void
proc_dispatch(struct svc_req *rq, SVCXPRT *xprt)
{
	const struct proc	*p;
	union proc_args		 arg;
	union proc_res		 res;
	int			 dup;

	if (rq->rq_proc == NULLPROC) {
		svc_sendreply(xprt, XDR_VOID, NULL);
		return;
	}
	if (rq->rq_proc >= sizeof(procs) / sizeof(procs[0]) ||
	    procs[rq->rq_proc].fn == NULL) {
		svcerr_noproc(xprt);
		return;
	}
	p = &procs[rq->rq_proc];
	dup = env->drc != NULL && reply_cached(rq->rq_proc) &&
	    dgram_xprt(xprt);
	if (dup && drc_dg_resend(env->drc, rq, xprt)) {
		log_debug("resent the cached reply to procedure %u",
		    (unsigned int)rq->rq_proc);
		return;
	}
	memset(&arg, 0, sizeof(arg));
	if (!svc_getargs(xprt, p->xargs, (char *)&arg) ||
	    !conns_dgram_args_ok(xprt, p->xargs)) {
		svcerr_decode(xprt);
		/* libtirpc leaves a partial decode allocated: free it. */
		svc_freeargs(xprt, p->xargs, (char *)&arg);
		return;
	}
	memset(&res, 0, sizeof(res));
	p->fn(&arg, &res, rq);
	if (!svc_sendreply(xprt, p->xres, (char *)&res))
		log_debug("could not send reply to procedure %u",
		    (unsigned int)rq->rq_proc);
	else if (dup && drc_dg_remember(env->drc, rq, xprt) == -1)
		log_debug("reply to procedure %u not cached",
		    (unsigned int)rq->rq_proc);
	xdr_free(p->xres, (char *)&res);
	if (!svc_freeargs(xprt, p->xargs, (char *)&arg))
		log_warnx("could not free arguments");
}
