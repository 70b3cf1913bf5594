/* SPDX-License-Identifier: ISC */
/*
 * gen_corpus.c: writes the seed corpus for the fuzz targets, valid
 * encodings made by the rpcgen code itself (make fuzz-corpus).
 *
 *   gen_corpus DIR      writes DIR/fuzz_xdr/ and DIR/fuzz_dispatch/
 */
#include <sys/stat.h>

#include <err.h>
#include <rpc/rpc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bart.h"
#include "fuzz_types.h"

#define BUFSZ	16384
/* rpcgen types take char *; the encoder never writes through it. */
#define S(s)	((char *)(uintptr_t)(s))

static const char	*outdir;

static void
put(const char *target, const char *name, const void *buf, size_t len)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	if ((f = fopen(path, "wb")) == NULL)
		err(1, "%s", path);
	if (fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		err(1, "%s", path);
}

static unsigned int
type_index(xdrproc_t fn)
{
	unsigned int	i;

	for (i = 0; i < FUZZ_NTYPES; i++)
		if (fuzz_types[i].fn == fn)
			return i;
	errx(1, "type not in fuzz_types.h");
}

/* One fuzz_xdr seed: the type byte, then the encoding of V. */
static void
xdr_seed(const char *name, xdrproc_t fn, void *v)
{
	char	buf[BUFSZ];
	XDR	x;

	buf[0] = (char)type_index(fn);
	xdrmem_create(&x, buf + 1, sizeof(buf) - 1, XDR_ENCODE);
	if (!fn(&x, v))
		errx(1, "cannot encode %s", name);
	put("fuzz_xdr", name, buf, 1 + xdr_getpos(&x));
	xdr_destroy(&x);
}

static chat_msg	two_msgs[2] = {
	{ 1, 1700000000, S("alice"), S("127.0.0.1"), S("hello") },
	{ 2, 1700000001, S("bob"), S("::1"), S("hi alice") },
};

static void
xdr_seeds(void)
{
	count_args	ca = { { 0x1122334455667788ULL, 1 }, 1 };
	chat_send_args	sa = { { 0x1122334455667788ULL, 2 }, S("alice"),
	    S("hello") };
	chat_since_args	si = { 0, 64 };
	chat_sub_args	su = { 0x40000001, 1, 0 };
	chat_sub_ref	sr = { 7, "0123456789abcdef" };
	deliver_args	da = { "0123456789abcdef", 7, { 2, two_msgs } };
	count_res	cr;
	chat_send_res	sndr;
	chat_since_res	sincer;
	chat_sub_res	subr;
	chat_renew_res	rr;
	stats_res	st;
	bart_res	br;

	xdr_seed("count_args", (xdrproc_t)xdr_count_args, &ca);
	ca.id.client = 0;
	ca.up = -1;
	xdr_seed("count_args-neg", (xdrproc_t)xdr_count_args, &ca);
	xdr_seed("chat_send_args", (xdrproc_t)xdr_chat_send_args, &sa);
	xdr_seed("chat_since_args", (xdrproc_t)xdr_chat_since_args, &si);
	xdr_seed("chat_sub_args", (xdrproc_t)xdr_chat_sub_args, &su);
	xdr_seed("chat_sub_ref", (xdrproc_t)xdr_chat_sub_ref, &sr);
	xdr_seed("deliver_args", (xdrproc_t)xdr_deliver_args, &da);

	memset(&cr, 0, sizeof(cr));
	cr.count_res_u.ok.total = 3;
	cr.count_res_u.ok.text = S("I was called 3 times.");
	xdr_seed("count_res", (xdrproc_t)xdr_count_res, &cr);
	cr.status = BART_ENEGATIVE;
	xdr_seed("count_res-err", (xdrproc_t)xdr_count_res, &cr);
	memset(&sndr, 0, sizeof(sndr));
	sndr.chat_send_res_u.seq = 5;
	xdr_seed("chat_send_res", (xdrproc_t)xdr_chat_send_res, &sndr);
	memset(&sincer, 0, sizeof(sincer));
	sincer.chat_since_res_u.ok.newest = 2;
	sincer.chat_since_res_u.ok.msgs.msgs_len = 2;
	sincer.chat_since_res_u.ok.msgs.msgs_val = two_msgs;
	xdr_seed("chat_since_res", (xdrproc_t)xdr_chat_since_res, &sincer);
	memset(&subr, 0, sizeof(subr));
	subr.chat_sub_res_u.ok.id = 7;
	memcpy(subr.chat_sub_res_u.ok.token, "0123456789abcdef", 16);
	xdr_seed("chat_sub_res", (xdrproc_t)xdr_chat_sub_res, &subr);
	memset(&rr, 0, sizeof(rr));
	rr.chat_renew_res_u.state = SUB_ACTIVE;
	xdr_seed("chat_renew_res", (xdrproc_t)xdr_chat_renew_res, &rr);
	rr.status = BART_ECBNOTREG;
	xdr_seed("chat_renew_res-err", (xdrproc_t)xdr_chat_renew_res, &rr);
	memset(&st, 0, sizeof(st));
	st.stats_res_u.ok.counter = 42;
	st.stats_res_u.ok.messages = 2;
	st.stats_res_u.ok.subscribers = 1;
	st.stats_res_u.ok.uptime = 3600;
	xdr_seed("stats_res", (xdrproc_t)xdr_stats_res, &st);
	br.status = BART_OK;
	xdr_seed("bart_res", (xdrproc_t)xdr_bart_res, &br);
	br.status = BART_ENOSUB;
	xdr_seed("bart_res-err", (xdrproc_t)xdr_bart_res, &br);
}

/* Encode one call message (header + args) into BUF; returns its size. */
static size_t
call_msg(char *buf, size_t len, u_int prog, u_int vers, u_int proc,
    int authsys, xdrproc_t fn, void *args)
{
	static u_int		 xid = 0x1000;
	struct rpc_msg		 m;
	struct authunix_parms	 au;
	gid_t			 gids[2] = { 0, 100 };
	char			 cred[400];
	XDR			 x;
	size_t			 n;

	memset(&m, 0, sizeof(m));
	m.rm_xid = xid++;
	m.rm_direction = CALL;
	m.rm_call.cb_rpcvers = RPC_MSG_VERSION;
	m.rm_call.cb_prog = prog;
	m.rm_call.cb_vers = vers;
	m.rm_call.cb_proc = proc;
	m.rm_call.cb_cred.oa_flavor = AUTH_NONE;
	m.rm_call.cb_verf.oa_flavor = AUTH_NONE;
	if (authsys) {
		au.aup_time = 1700000000;
		au.aup_machname = S("fuzzhost");
		au.aup_uid = 1000;
		au.aup_gid = 1000;
		au.aup_len = 2;
		au.aup_gids = gids;
		xdrmem_create(&x, cred, sizeof(cred), XDR_ENCODE);
		if (!xdr_authunix_parms(&x, &au))
			errx(1, "authunix");
		m.rm_call.cb_cred.oa_flavor = AUTH_SYS;
		m.rm_call.cb_cred.oa_base = cred;
		m.rm_call.cb_cred.oa_length = xdr_getpos(&x);
		xdr_destroy(&x);
	}
	xdrmem_create(&x, buf, (u_int)len, XDR_ENCODE);
	if (!xdr_callmsg(&x, &m) || (fn != NULL && !fn(&x, args)))
		errx(1, "cannot encode call %u", proc);
	n = xdr_getpos(&x);
	xdr_destroy(&x);
	return n;
}

struct call {
	const char	*name;
	u_int		 prog, vers, proc;
	int		 authsys;
	xdrproc_t	 fn;
	void		*args;
};

/* The same call as a UDP seed (0) and as a stream record (1). */
static void
dispatch_seed(const struct call *c)
{
	char		buf[BUFSZ];
	char		name[128];
	size_t		n;
	uint32_t	mark;

	n = call_msg(buf + 5, sizeof(buf) - 5, c->prog, c->vers, c->proc,
	    c->authsys, c->fn, c->args);
	buf[4] = 0;
	snprintf(name, sizeof(name), "udp-%s", c->name);
	put("fuzz_dispatch", name, buf + 4, n + 1);
	buf[0] = 1;
	mark = htonl(0x80000000u | (uint32_t)n);
	memcpy(buf + 1, &mark, 4);
	snprintf(name, sizeof(name), "stream-%s", c->name);
	put("fuzz_dispatch", name, buf, n + 5);
}

static void
dispatch_seeds(void)
{
	count_args	ca = { { 0x1122334455667788ULL, 1 }, 1 };
	count_args	neg = { { 0, 0 }, -1 };
	chat_send_args	sa = { { 0x1122334455667788ULL, 2 }, S("alice"),
	    S("hello") };
	chat_send_args	bad = { { 0, 0 }, S("a\tb"), S("") };
	chat_since_args	si = { 0, 64 };
	chat_sub_args	su = { 0x40000001, 1, 0 };
	chat_sub_args	su_bad = { 100003, 3, 0 };
	chat_sub_ref	sr = { 7, "0123456789abcdef" };
	const struct call calls[] = {
		{ "null", BART_PROG, BART_VERS, 0, 0, NULL, NULL },
		{ "count", BART_PROG, BART_VERS, COUNT, 0,
		    (xdrproc_t)xdr_count_args, &ca },
		{ "count-authsys", BART_PROG, BART_VERS, COUNT, 1,
		    (xdrproc_t)xdr_count_args, &ca },
		{ "count-neg", BART_PROG, BART_VERS, COUNT, 0,
		    (xdrproc_t)xdr_count_args, &neg },
		{ "send", BART_PROG, BART_VERS, CHAT_SEND, 0,
		    (xdrproc_t)xdr_chat_send_args, &sa },
		{ "send-bad", BART_PROG, BART_VERS, CHAT_SEND, 0,
		    (xdrproc_t)xdr_chat_send_args, &bad },
		{ "since", BART_PROG, BART_VERS, CHAT_SINCE, 0,
		    (xdrproc_t)xdr_chat_since_args, &si },
		{ "subscribe", BART_PROG, BART_VERS, CHAT_SUBSCRIBE, 0,
		    (xdrproc_t)xdr_chat_sub_args, &su },
		{ "subscribe-badprog", BART_PROG, BART_VERS, CHAT_SUBSCRIBE,
		    0, (xdrproc_t)xdr_chat_sub_args, &su_bad },
		{ "unsubscribe", BART_PROG, BART_VERS, CHAT_UNSUBSCRIBE, 0,
		    (xdrproc_t)xdr_chat_sub_ref, &sr },
		{ "renew", BART_PROG, BART_VERS, CHAT_RENEW, 0,
		    (xdrproc_t)xdr_chat_sub_ref, &sr },
		{ "stats", BART_PROG, BART_VERS, STATS, 0, NULL, NULL },
		{ "noproc", BART_PROG, BART_VERS, 8, 0, NULL, NULL },
		{ "badvers", BART_PROG, 2, STATS, 0, NULL, NULL },
		{ "badprog", 100000, 4, 0, 0, NULL, NULL },
		{ "truncated", BART_PROG, BART_VERS, CHAT_SEND, 0, NULL,
		    NULL },
	};
	char		buf[BUFSZ];
	size_t		i, n, off = 1;
	uint32_t	mark;

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		dispatch_seed(&calls[i]);

	/* Pipelined on one stream: send, since, subscribe, renew, stats. */
	buf[0] = 1;
	for (i = 4; i < 12; i++) {
		if (i == 5 || i == 8 || i == 9)
			continue;
		n = call_msg(buf + off + 4, sizeof(buf) - off - 4,
		    calls[i].prog, calls[i].vers, calls[i].proc, 0,
		    calls[i].fn, calls[i].args);
		mark = htonl(0x80000000u | (uint32_t)n);
		memcpy(buf + off, &mark, 4);
		off += 4 + n;
	}
	put("fuzz_dispatch", "stream-pipelined", buf, off);
}

int
main(int argc, char **argv)
{
	char	path[512];

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 64;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	snprintf(path, sizeof(path), "%s/fuzz_xdr", outdir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/fuzz_dispatch", outdir);
	mkdir(path, 0755);
	xdr_seeds();
	dispatch_seeds();
	return 0;
}
