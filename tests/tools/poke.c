/* SPDX-License-Identifier: ISC */
/*
 * poke.c: a test tool that makes the calls bart_clnt never makes:
 * subscriptions with bad callback programs, forged deliveries.
 *
 *   bart_poke subscribe HOST PROG        SUBSCRIBE, then RENEW until known
 *   bart_poke deliver PROG               DELIVER with a wrong token
 *   bart_poke garbage PROG               DELIVER with undecodable args
 *   bart_poke unsubscribe HOST           UNSUBSCRIBE with a bogus token
 *   bart_poke send HOST NAMEHEX TEXTHEX  CHAT_SEND of any bytes (hex),
 *                                        skipping bart_clnt's own checks
 *   bart_poke sendmany HOST N [SECS]     N CHAT_SENDs on one connection
 *                                        (or until SECS have passed);
 *                                        prints "ok A erate B other C"
 *   bart_poke burstresend HOST N         CHAT_SEND, N more (new ids), then
 *                                        the first again with its identity,
 *                                        one connection; prints "first S
 *                                        erate E again R" (R: the seq, or
 *                                        the status's number)
 *   bart_poke count HOST CLIENT SEQ N    COUNT N with the identity
 *                                        CLIENT/SEQ; prints the total
 *   bart_poke countloop H1,H2.. N SECS   N COUNT 1s, each resent with its
 *                                        identity (next host on failure)
 *                                        until answered or SECS pass;
 *                                        prints "acked A unresolved U
 *                                        resent R unknown K unavail V"
 *                                        (K, V: such answers); N 0: until
 *                                        the file $POKE_STOP exists
 *
 * $POKE_NETTYPE names the netid to use (default tcp); $POKE_CLIENT the
 * client id of countloop's identities (default: random), seqs 1..N.
 * Prints the status in words and its number; exit 0 if the call got an
 * answer (whatever the status), 1 if it failed at the RPC level.
 */
#include <rpc/rpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bart.h"
#include "util.h"

static CLIENT	*the_cl;		/* destroyed at exit: LSan-clean */

static void
close_client(void)
{
	if (the_cl != NULL)
		clnt_destroy(the_cl);
	the_cl = NULL;
}

static CLIENT *
open_client(const char *host, unsigned long prog, unsigned long vers)
{
	const char		*netid = getenv("POKE_NETTYPE");
	struct netconfig	*nc;

	if (netid != NULL && (nc = getnetconfigent(netid)) != NULL) {
		the_cl = clnt_tp_create(host, prog, vers, nc);
		freenetconfigent(nc);
	} else
		the_cl = clnt_create(host, prog, vers, "tcp");
	if (the_cl == NULL) {
		clnt_pcreateerror(host);
		exit(1);
	}
	atexit(close_client);
	return the_cl;
}

static struct timeval	tmo = { 5, 0 };

static void
print_status(const char *what, bart_status st)
{
	printf("%s: %s (%d)\n", what, util_status_str(st), (int)st);
}

static int
do_subscribe(const char *host, unsigned long prog)
{
	CLIENT		*cl = open_client(host, BART_PROG, BART_VERS);
	chat_sub_args	 a;
	chat_sub_res	 r;
	chat_sub_ref	 ref;
	chat_renew_res	 rr;
	int		 i;

	memset(&r, 0, sizeof(r));
	a.cb_prog = (u_int)prog;
	a.cb_vers = 1;
	a.last_seen = 0;
	if (chat_subscribe_1(&a, &r, cl) != RPC_SUCCESS) {
		clnt_perror(cl, "subscribe");
		return 1;
	}
	print_status("subscribe", r.status);
	if (r.status != BART_OK)
		return 0;
	ref.id = r.chat_sub_res_u.ok.id;
	memcpy(ref.token, r.chat_sub_res_u.ok.token, BART_TOKEN_LEN);
	for (i = 0; i < 100; i++) {		/* at most 10 s */
		memset(&rr, 0, sizeof(rr));
		if (chat_renew_1(&ref, &rr, cl) != RPC_SUCCESS) {
			clnt_perror(cl, "renew");
			return 1;
		}
		if (rr.status != BART_OK) {
			print_status("renew", rr.status);
			return 0;
		}
		if (rr.chat_renew_res_u.state == SUB_ACTIVE) {
			print_status("renew", BART_OK);
			return 0;
		}
		usleep(100000);
	}
	printf("renew: still probing after 10 s\n");
	return 1;
}

static int
do_deliver(unsigned long prog, int garbage)
{
	CLIENT		*cl = open_client("localhost", prog, 1);
	deliver_args	 a;
	chat_msg	 m;
	bart_res	 r;
	enum clnt_stat	 st;
	u_int		 junk = 0xffffffffu;

	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	util_random(a.token, sizeof(a.token));
	a.sub_id = 1;
	m.seq = 999999;
	m.time = 0;
	m.name = (char *)(uintptr_t)"mallory";
	m.host = (char *)(uintptr_t)"evil";
	m.text = (char *)(uintptr_t)"forged message";
	a.msgs.msgs_len = 1;
	a.msgs.msgs_val = &m;
	if (garbage)
		st = clnt_call(cl, DELIVER, (xdrproc_t)xdr_u_int, (char *)&junk,
		    (xdrproc_t)xdr_bart_res, (char *)&r, tmo);
	else
		st = clnt_call(cl, DELIVER, (xdrproc_t)xdr_deliver_args,
		    (char *)&a, (xdrproc_t)xdr_bart_res, (char *)&r, tmo);
	if (st != RPC_SUCCESS) {
		printf("deliver: %s\n", clnt_sperrno(st));
		return 1;
	}
	print_status("deliver", r.status);
	return 0;
}

static int
do_unsubscribe(const char *host)
{
	CLIENT		*cl = open_client(host, BART_PROG, BART_VERS);
	chat_sub_ref	 ref;
	bart_res	 r;

	memset(&r, 0, sizeof(r));
	ref.id = 12345;
	util_random(ref.token, sizeof(ref.token));
	if (chat_unsubscribe_1(&ref, &r, cl) != RPC_SUCCESS) {
		clnt_perror(cl, "unsubscribe");
		return 1;
	}
	print_status("unsubscribe", r.status);
	return 0;
}

/* Decode HEX ("1b5b") into a NUL-terminated string; NULL if bad. */
static char *
unhex(const char *hex)
{
	size_t		 n = strlen(hex), i;
	char		*s;
	unsigned int	 b;

	if (n % 2 != 0 || (s = calloc(n / 2 + 1, 1)) == NULL)
		return NULL;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
			free(s);
			return NULL;
		}
		s[i] = (char)b;
	}
	return s;
}

static int
do_send(const char *host, const char *namehex, const char *texthex)
{
	CLIENT		*cl;
	chat_send_args	 a;
	chat_send_res	 r;
	int		 rc = 1;

	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	if ((a.name = unhex(namehex)) == NULL ||
	    (a.text = unhex(texthex)) == NULL) {
		fprintf(stderr, "bart_poke: bad hex\n");
		goto out;
	}
	cl = open_client(host, BART_PROG, BART_VERS);
	a.id.client = util_random_u64();
	a.id.seq = 1;
	if (chat_send_1(&a, &r, cl) != RPC_SUCCESS) {
		clnt_perror(cl, "send");
		goto out;
	}
	print_status("send", r.status);
	rc = 0;
out:
	free(a.name);
	free(a.text);
	return rc;
}

static int
do_sendmany(const char *host, long n, long secs)
{
	uint64_t	 end = util_now_us() + (uint64_t)secs * 1000000;
	CLIENT		*cl = open_client(host, BART_PROG, BART_VERS);
	chat_send_args	 a;
	chat_send_res	 r;
	long		 i, ok = 0, erate = 0, other = 0;
	char		 text[32];

	memset(&a, 0, sizeof(a));
	a.id.client = util_random_u64();
	a.name = (char *)(uintptr_t)"flood";
	a.text = text;
	for (i = 0; i < n && (secs <= 0 || util_now_us() < end); i++) {
		snprintf(text, sizeof(text), "flood-%ld", i);
		a.id.seq = (uint64_t)i + 1;
		memset(&r, 0, sizeof(r));
		if (chat_send_1(&a, &r, cl) != RPC_SUCCESS) {
			clnt_perror(cl, "send");
			return 1;
		}
		if (r.status == BART_OK)
			ok++;
		else if (r.status == BART_ERATE)
			erate++;
		else
			other++;
	}
	printf("ok %ld erate %ld other %ld\n", ok, erate, other);
	return 0;
}

/* One CHAT_SEND with identity ID; the seq, or -status (-1000: RPC). */
static long long
send_one(CLIENT *cl, const bart_reqid *id, const char *text)
{
	chat_send_args	a;
	chat_send_res	r;

	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	a.id = *id;
	a.name = (char *)(uintptr_t)"burst";
	a.text = (char *)(uintptr_t)text;
	if (chat_send_1(&a, &r, cl) != RPC_SUCCESS) {
		clnt_perror(cl, "send");
		return -1000;
	}
	return r.status == BART_OK ? (long long)r.chat_send_res_u.seq :
	    -(long long)r.status;
}

/* A resend inside a rate-limited burst: all within one process. */
static int
do_burstresend(const char *host, long n)
{
	CLIENT		*cl = open_client(host, BART_PROG, BART_VERS);
	bart_reqid	 first, id;
	long long	 s, again;
	long		 i, erate = 0;
	char		 text[32];

	first.client = id.client = util_random_u64();
	first.seq = 1;
	if ((s = send_one(cl, &first, "burst-first")) < 0) {
		printf("first status %lld\n", -s);
		return 1;
	}
	for (i = 0; i < n; i++) {
		id.seq = (uint64_t)i + 2;
		snprintf(text, sizeof(text), "burst-%ld", i);
		if ((again = send_one(cl, &id, text)) == -1000)
			return 1;
		if (again == -(long long)BART_ERATE)
			erate++;
	}
	if ((again = send_one(cl, &first, "burst-first")) == -1000)
		return 1;
	if (again < 0)
		printf("first %lld erate %ld again status=%lld\n", s, erate,
		    -again);
	else
		printf("first %lld erate %ld again %lld\n", s, erate, again);
	return 0;
}

static int
do_count(const char *host, const char *client, const char *seq,
    const char *up)
{
	CLIENT		*cl = open_client(host, BART_PROG, BART_VERS);
	count_args	 a;
	count_res	 r;

	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	a.id.client = strtoull(client, NULL, 0);
	a.id.seq = strtoull(seq, NULL, 0);
	a.up = strtoll(up, NULL, 10);
	if (count_1(&a, &r, cl) != RPC_SUCCESS) {
		clnt_perror(cl, "count");
		return 1;
	}
	if (r.status == BART_OK)
		printf("count: total %lld\n", (long long)r.count_res_u.ok.total);
	else
		print_status("count", r.status);
	xdr_free((xdrproc_t)xdr_count_res, (char *)&r);
	return 0;
}

/*
 * What a client with a host list does: one identity per count, resent
 * to the next host after a failure or an "unavailable"/"unknown"
 * answer, until a definite answer or the budget is spent.
 */
static int
do_countloop(char *hosts, long n, long secs)
{
	char		*h[8], *save = NULL, *t;
	CLIENT		*cl = NULL;
	count_args	 a;
	count_res	 r;
	struct timeval	 tv = { 2, 0 };
	long		 i, acked = 0, unresolved = 0, resent = 0;
	long		 unknown = 0, unavail = 0;
	int		 nh = 0, cur = 0, done;
	uint64_t	 until;
	const char	*stop = getenv("POKE_STOP");

	for (t = strtok_r(hosts, ",", &save); t != NULL && nh < 8;
	    t = strtok_r(NULL, ",", &save))
		h[nh++] = t;
	if (nh == 0)
		return 2;
	memset(&a, 0, sizeof(a));
	/* POKE_CLIENT: a known client id, for a test to resend them later. */
	a.id.client = getenv("POKE_CLIENT") != NULL ?
	    strtoull(getenv("POKE_CLIENT"), NULL, 0) : util_random_u64();
	a.up = 1;
	for (i = 0; n == 0 || i < n; i++) {
		if (n == 0 && (stop == NULL || access(stop, F_OK) == 0))
			break;
		a.id.seq = (uint64_t)i + 1;
		until = util_now_us() + (uint64_t)secs * 1000000;
		for (done = 0; !done && util_now_us() < until; ) {
			if (cl == NULL && (cl = clnt_create(h[cur], BART_PROG,
			    BART_VERS, "tcp")) == NULL) {
				cur = (cur + 1) % nh;
				usleep(100000);
				resent++;
				continue;
			}
			memset(&r, 0, sizeof(r));
			if (clnt_call(cl, COUNT, (xdrproc_t)xdr_count_args,
			    (char *)&a, (xdrproc_t)xdr_count_res, (char *)&r,
			    tv) != RPC_SUCCESS) {
				clnt_destroy(cl);
				cl = NULL;
			} else if (r.status == BART_OK) {
				done = 1;
				acked++;
			} else if (r.status == BART_EUNKNOWN) {
				unknown++;
			} else if (r.status == BART_EUNAVAIL) {
				unavail++;
			} else {
				print_status("count", r.status);
				done = 1;
			}
			xdr_free((xdrproc_t)xdr_count_res, (char *)&r);
			if (!done) {
				if (cl != NULL)
					clnt_destroy(cl);
				cl = NULL;
				cur = (cur + 1) % nh;
				resent++;
				usleep(100000);
			}
		}
		if (!done)
			unresolved++;
	}
	if (cl != NULL)
		clnt_destroy(cl);
	printf("acked %ld unresolved %ld resent %ld unknown %ld unavail %ld\n",
	    acked, unresolved, resent, unknown, unavail);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "send") == 0)
		return do_send(argv[2], argv[3], argv[4]);
	if (argc == 6 && strcmp(argv[1], "count") == 0)
		return do_count(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 5 && strcmp(argv[1], "countloop") == 0)
		return do_countloop(argv[2], strtol(argv[3], NULL, 10),
		    strtol(argv[4], NULL, 10));
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "sendmany") == 0)
		return do_sendmany(argv[2], strtol(argv[3], NULL, 10),
		    argc == 5 ? strtol(argv[4], NULL, 10) : 0);
	if (argc == 4 && strcmp(argv[1], "burstresend") == 0)
		return do_burstresend(argv[2], strtol(argv[3], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "subscribe") == 0)
		return do_subscribe(argv[2], strtoul(argv[3], NULL, 0));
	if (argc == 3 && strcmp(argv[1], "deliver") == 0)
		return do_deliver(strtoul(argv[2], NULL, 0), 0);
	if (argc == 3 && strcmp(argv[1], "garbage") == 0)
		return do_deliver(strtoul(argv[2], NULL, 0), 1);
	if (argc == 3 && strcmp(argv[1], "unsubscribe") == 0)
		return do_unsubscribe(argv[2]);
	fprintf(stderr, "usage: bart_poke subscribe HOST PROG | deliver PROG |"
	    " garbage PROG | unsubscribe HOST | send HOST NAMEHEX TEXTHEX |"
	    " sendmany HOST N [SECS] | burstresend HOST N |"
	    " count HOST CLIENT SEQ N |"
	    " countloop HOSTS N SECS\n");
	return 2;
}
