/* SPDX-License-Identifier: ISC */
/* ops.c: libbart's one-call operations: ping, count, say, history, ... */
#include <rpc/rpc.h>
#include <stdio.h>
#include <string.h>

#include "lib.h"

int
bart_ping(struct bart *b, uint64_t *rtt_us)
{
	uint64_t	t0;
	int		rc;

	t0 = util_now_us();
	rc = lib_call(b, NULLPROC, XDR_VOID, NULL, XDR_VOID, NULL, 0);
	if (rc == 0 && rtt_us != NULL)
		*rtt_us = util_now_us() - t0;
	return rc;
}

int
bart_count(struct bart *b, int32_t up, int64_t *total, char *text,
    size_t textlen)
{
	count_args	a;
	count_res	r;
	int		rc;

	memset(&r, 0, sizeof(r));
	lib_reqid(b, &a.id);
	a.up = up;
	rc = lib_change(b, COUNT, (xdrproc_t)xdr_count_args, &a,
	    (xdrproc_t)xdr_count_res, &r, &r.status);
	if (rc == 0 && (rc = lib_status(b, r.status)) == 0) {
		if (total != NULL)
			*total = r.count_res_u.ok.total;
		if (text != NULL && textlen > 0)
			snprintf(text, textlen, "%s", r.count_res_u.ok.text ?
			    r.count_res_u.ok.text : "");
	}
	xdr_free((xdrproc_t)xdr_count_res, (char *)&r);
	return rc;
}

int
bart_say(struct bart *b, const char *name, const char *text, uint64_t *seq)
{
	chat_send_args	a;
	chat_send_res	r;
	int		rc;

	if (name == NULL || text == NULL)
		return lib_fail(b, BART_ERR_USAGE, "say: no name or text");
	/* Too long even for the wire: the server's words, no traffic. */
	if (strlen(name) > BART_NAME_WIRE)
		return lib_status(b, BART_ENAME);
	if (strlen(text) > BART_TEXT_WIRE)
		return lib_status(b, BART_ETEXT);
	memset(&r, 0, sizeof(r));
	lib_reqid(b, &a.id);
	a.name = (char *)(uintptr_t)name;
	a.text = (char *)(uintptr_t)text;
	rc = lib_change(b, CHAT_SEND, (xdrproc_t)xdr_chat_send_args, &a,
	    (xdrproc_t)xdr_chat_send_res, &r, &r.status);
	if (rc == 0 && (rc = lib_status(b, r.status)) == 0 && seq != NULL)
		*seq = r.chat_send_res_u.seq;
	xdr_free((xdrproc_t)xdr_chat_send_res, (char *)&r);
	return rc;
}

int
bart_newest(struct bart *b, uint64_t *seq)
{
	chat_since_res	r;
	int		rc;

	/* max 0: no messages, just the newest number. */
	if ((rc = lib_since(b, UINT64_MAX >> 1, 0, &r)) == 0)
		*seq = r.chat_since_res_u.ok.newest;
	xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);
	return rc;
}

int
bart_history(struct bart *b, uint64_t since, uint64_t max, bart_msg_fn fn,
    void *arg)
{
	chat_since_res	 r;
	chat_msg	*m;
	struct bart_msg	 bm;
	u_int		 i, n;
	int		 rc = 0, stop = 0;

	if (fn == NULL)
		return lib_fail(b, BART_ERR_USAGE, "history: no function");
	while (max > 0 && !stop) {
		if ((rc = lib_since(b, since, max > BART_BATCH_MAX ?
		    BART_BATCH_MAX : (unsigned int)max, &r)) != 0)
			break;
		n = r.chat_since_res_u.ok.msgs.msgs_len;
		m = r.chat_since_res_u.ok.msgs.msgs_val;
		for (i = 0; i < n && !stop; i++) {
			bm.seq = m[i].seq;
			bm.time = m[i].time;
			bm.name = m[i].name;
			bm.host = m[i].host;
			bm.text = m[i].text;
			stop = fn(arg, &bm) != 0;
		}
		if (n > 0)
			since = m[n - 1].seq;
		max -= n < max ? n : max;
		xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&r);
		if (n == 0)
			break;
	}
	return rc;
}

int
bart_stats(struct bart *b, struct bart_stats *s)
{
	stats_res	r;
	int		rc;

	memset(&r, 0, sizeof(r));
	rc = lib_call(b, STATS, XDR_VOID, NULL, (xdrproc_t)xdr_stats_res, &r,
	    0);
	if (rc == 0 && (rc = lib_status(b, r.status)) == 0) {
		s->counter = r.stats_res_u.ok.counter;
		s->messages = r.stats_res_u.ok.messages;
		s->subscribers = r.stats_res_u.ok.subscribers;
		s->uptime = r.stats_res_u.ok.uptime;
	}
	xdr_free((xdrproc_t)xdr_stats_res, (char *)&r);
	return rc;
}

int
bart_health(struct bart *b, struct bart_health *h)
{
	health_res	r;
	uint64_t	t0;
	int		rc;

	memset(&r, 0, sizeof(r));
	memset(h, 0, sizeof(*h));
	t0 = util_now_us();
	rc = lib_call(b, HEALTH, XDR_VOID, NULL, (xdrproc_t)xdr_health_res,
	    &r, 0);
	h->latency_us = util_now_us() - t0;
	if (rc == 0 && (rc = lib_status(b, r.status)) == 0) {
		h->store = (int)r.health_res_u.ok.store;
		h->probe_us = r.health_res_u.ok.probe_us;
		h->counter = r.health_res_u.ok.counter;
		h->messages = r.health_res_u.ok.messages;
		h->subscribers = r.health_res_u.ok.subscribers;
		h->uptime = r.health_res_u.ok.uptime;
	}
	xdr_free((xdrproc_t)xdr_health_res, (char *)&r);
	return rc;
}
