/* SPDX-License-Identifier: ISC */
/* check_xdr.c: XDR round-trips of every bart.x type, and its bounds. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "bart.h"
#include "suites.h"

#define WIRE_LEN	(128 * 1024)	/* > 64 messages of maximal size */
#define PREFIX_ALL	1024		/* try every prefix of shorter ones */

static char	wire[WIRE_LEN], again[WIRE_LEN];
static char	name_max[BART_NAME_WIRE + 1], host_max[BART_HOST_MAX + 1];
static char	text_max[BART_TEXT_WIRE + 1];
static char	long_str[BART_TEXT_WIRE + 2];

static void
setup(void)
{
	memset(name_max, 'n', BART_NAME_WIRE);
	name_max[BART_NAME_WIRE] = '\0';
	memset(host_max, 'h', BART_HOST_MAX);
	host_max[BART_HOST_MAX] = '\0';
	memset(text_max, 't', BART_TEXT_WIRE);
	text_max[BART_TEXT_WIRE] = '\0';
	memset(long_str, 'x', sizeof(long_str) - 1);
	long_str[sizeof(long_str) - 1] = '\0';
}

/* Encode OBJ into BUF; returns the number of bytes. */
static u_int
enc(xdrproc_t proc, void *obj, char *buf)
{
	XDR	x;
	u_int	len;

	xdrmem_create(&x, buf, WIRE_LEN, XDR_ENCODE);
	ck_assert_msg(proc(&x, obj), "encoding failed");
	len = xdr_getpos(&x);
	xdr_destroy(&x);
	return len;
}

/* Decode the first LEN bytes of BUF into OBJ; 1 if it decoded. */
static int
dec(xdrproc_t proc, void *obj, char *buf, u_int len, u_int *used)
{
	XDR	x;
	int	ok;

	xdrmem_create(&x, buf, len, XDR_DECODE);
	ok = proc(&x, obj) ? 1 : 0;
	if (used != NULL)
		*used = xdr_getpos(&x);
	xdr_destroy(&x);
	return ok;
}

/*
 * Every proper prefix of an encoding must fail to decode, and what a
 * failed decode allocated must be freed by xdr_free (ASan, valgrind).
 */
static void
prefixes_fail(xdrproc_t proc, size_t size, u_int len)
{
	void	*tmp;
	u_int	 l, step;

	ck_assert_ptr_nonnull(tmp = malloc(size));
	step = len <= PREFIX_ALL ? 1 : len / 97 + 1;
	for (l = 0; l < len; l += (l < 64 || l + 64 > len) ? 1 : step) {
		memset(tmp, 0, size);
		ck_assert_msg(!dec(proc, tmp, wire, l, NULL),
		    "a prefix of %u of %u bytes decoded", l, len);
		xdr_free(proc, tmp);
	}
	free(tmp);
}

/*
 * Encode IN, decode it into OUT (SIZE bytes) and check what can be
 * checked without knowing the type: the size, that decoding consumes
 * exactly the encoding, that OUT encodes to the same bytes, and that
 * truncated input fails.  The caller compares fields and frees OUT.
 */
static u_int
round_trip(xdrproc_t proc, void *in, void *out, size_t size)
{
	u_int	len, used = 0;

	len = enc(proc, in, wire);
	ck_assert_uint_eq(len % 4, 0);
	ck_assert_uint_eq(xdr_sizeof(proc, in), len);
	memset(out, 0, size);
	ck_assert(dec(proc, out, wire, len, &used));
	ck_assert_uint_eq(used, len);
	ck_assert_uint_eq(enc(proc, out, again), len);
	ck_assert(memcmp(wire, again, len) == 0);
	prefixes_fail(proc, size, len);
	return len;
}

static void
msg_eq(const chat_msg *a, const chat_msg *b)
{
	ck_assert_uint_eq(a->seq, b->seq);
	ck_assert_int_eq(a->time, b->time);
	ck_assert_str_eq(a->name, b->name);
	ck_assert_str_eq(a->host, b->host);
	ck_assert_str_eq(a->text, b->text);
}

/* Fill N messages whose fields all differ; strings are static. */
static void
msgs_fill(chat_msg *m, u_int n)
{
	static char	names[BART_BATCH_MAX + 1][16];
	u_int		i;

	for (i = 0; i < n; i++) {
		snprintf(names[i % (BART_BATCH_MAX + 1)], sizeof(names[0]),
		    "u%u", i);
		m[i].seq = 1000 + i;
		m[i].time = 1700000000 + (int64_t)i;
		m[i].name = names[i % (BART_BATCH_MAX + 1)];
		m[i].host = i % 2 ? host_max : (char *)(uintptr_t)"::1";
		m[i].text = i % 3 ? text_max : (char *)(uintptr_t)"hi";
	}
}

START_TEST(rt_reqid_token)
{
	static const unsigned char want[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08
	};
	bart_reqid	id = { UINT64_MAX - 1, 0x0102030405060708ULL }, id2;
	bart_token	tok, tok2;
	int		i;

	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_bart_reqid, &id, &id2,
	    sizeof(id2)), 16);
	ck_assert(memcmp(wire, want, sizeof(want)) == 0);
	ck_assert_uint_eq(id2.client, id.client);
	ck_assert_uint_eq(id2.seq, id.seq);

	/* A fixed-length opaque: 16 bytes, no length word. */
	for (i = 0; i < BART_TOKEN_LEN; i++)
		tok[i] = (char)(0xf0 + i * 7);
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_bart_token, tok, tok2,
	    sizeof(tok2)), BART_TOKEN_LEN);
	ck_assert(memcmp(wire, tok, BART_TOKEN_LEN) == 0);
	ck_assert(memcmp(tok2, tok, BART_TOKEN_LEN) == 0);
}
END_TEST

START_TEST(rt_count_args)
{
	static const unsigned char want[20] = {
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
		0xff, 0xff, 0xff, 0xfe
	};
	count_args	a, b;
	int		ups[] = { 0, 1, INT_MAX, INT_MIN };
	size_t		i;

	a.id.client = 0x0102030405060708ULL;
	a.id.seq = 0x1112131415161718ULL;
	a.up = -2;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_count_args, &a, &b,
	    sizeof(b)), sizeof(want));
	ck_assert(memcmp(wire, want, sizeof(want)) == 0);
	ck_assert_uint_eq(b.id.client, a.id.client);
	ck_assert_uint_eq(b.id.seq, a.id.seq);
	ck_assert_int_eq(b.up, -2);
	for (i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
		a.up = ups[i];
		round_trip((xdrproc_t)xdr_count_args, &a, &b, sizeof(b));
		ck_assert_int_eq(b.up, ups[i]);
	}
}
END_TEST

START_TEST(rt_count_res)
{
	count_res	r, o;
	char		text[BART_TEXT_REPLY + 1];

	memset(&r, 0, sizeof(r));
	r.status = BART_OK;
	r.count_res_u.ok.total = INT64_MAX;
	r.count_res_u.ok.text = text;
	snprintf(text, sizeof(text), "I was called %lld times.",
	    (long long)INT64_MAX);
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_count_res, &r, &o,
	    sizeof(o)), 4 + 8 + 4 + 40);
	ck_assert_int_eq(o.status, BART_OK);
	ck_assert_int_eq(o.count_res_u.ok.total, INT64_MAX);
	ck_assert_str_eq(o.count_res_u.ok.text, text);
	xdr_free((xdrproc_t)xdr_count_res, (char *)&o);
	ck_assert_ptr_null(o.count_res_u.ok.text);

	/* A bound-sized reply text is accepted. */
	memset(text, '9', BART_TEXT_REPLY);
	text[BART_TEXT_REPLY] = '\0';
	r.count_res_u.ok.total = -1;
	round_trip((xdrproc_t)xdr_count_res, &r, &o, sizeof(o));
	ck_assert_int_eq(o.count_res_u.ok.total, -1);
	ck_assert_str_eq(o.count_res_u.ok.text, text);
	xdr_free((xdrproc_t)xdr_count_res, (char *)&o);

	/* The error arm is the status alone; the union is not sent. */
	r.status = BART_EOVERFLOW;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_count_res, &r, &o,
	    sizeof(o)), 4);
	ck_assert_int_eq(o.status, BART_EOVERFLOW);
	ck_assert_ptr_null(o.count_res_u.ok.text);
	xdr_free((xdrproc_t)xdr_count_res, (char *)&o);
}
END_TEST

START_TEST(rt_chat_msg)
{
	chat_msg	m, o;

	m.seq = UINT64_MAX;
	m.time = -1;
	m.name = (char *)(uintptr_t)"\xc3\xa9l\xc3\xa8ve";
	m.host = (char *)(uintptr_t)"";
	m.text = (char *)(uintptr_t)"abc";
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_msg, &m, &o,
	    sizeof(o)), 8 + 8 + (4 + 8) + 4 + (4 + 4));
	msg_eq(&o, &m);
	xdr_free((xdrproc_t)xdr_chat_msg, (char *)&o);

	/* Every string at its wire bound. */
	m.seq = 1;
	m.time = INT64_MIN;
	m.name = name_max;
	m.host = host_max;
	m.text = text_max;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_msg, &m, &o,
	    sizeof(o)), 16 + 4 + BART_NAME_WIRE + 4 + BART_HOST_MAX + 4 +
	    BART_TEXT_WIRE);
	msg_eq(&o, &m);
	xdr_free((xdrproc_t)xdr_chat_msg, (char *)&o);
}
END_TEST

START_TEST(rt_chat_send)
{
	chat_send_args	a, b;
	chat_send_res	r, o;

	a.id.client = 42;
	a.id.seq = 7;
	a.name = name_max;
	a.text = text_max;
	round_trip((xdrproc_t)xdr_chat_send_args, &a, &b, sizeof(b));
	ck_assert_uint_eq(b.id.client, 42);
	ck_assert_uint_eq(b.id.seq, 7);
	ck_assert_str_eq(b.name, name_max);
	ck_assert_str_eq(b.text, text_max);
	xdr_free((xdrproc_t)xdr_chat_send_args, (char *)&b);
	ck_assert_ptr_null(b.name);
	ck_assert_ptr_null(b.text);

	a.name = (char *)(uintptr_t)"bob";
	a.text = (char *)(uintptr_t)"four";
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_send_args, &a, &b,
	    sizeof(b)), 16 + 8 + 8);
	ck_assert_str_eq(b.name, "bob");
	ck_assert_str_eq(b.text, "four");
	xdr_free((xdrproc_t)xdr_chat_send_args, (char *)&b);

	memset(&r, 0, sizeof(r));
	r.status = BART_OK;
	r.chat_send_res_u.seq = 0x8000000000000001ULL;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_send_res, &r, &o,
	    sizeof(o)), 12);
	ck_assert_int_eq(o.status, BART_OK);
	ck_assert_uint_eq(o.chat_send_res_u.seq, 0x8000000000000001ULL);
	r.status = BART_ETEXT;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_send_res, &r, &o,
	    sizeof(o)), 4);
	ck_assert_int_eq(o.status, BART_ETEXT);
	ck_assert_uint_eq(o.chat_send_res_u.seq, 0);
}
END_TEST

START_TEST(rt_chat_since)
{
	chat_since_args	a, b;
	chat_since_res	r, o;
	chat_msg	m[BART_BATCH_MAX];
	u_int		i, counts[] = { 0, 3, BART_BATCH_MAX }, k;

	a.seq = UINT64_MAX - 5;
	a.max = UINT_MAX;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_since_args, &a, &b,
	    sizeof(b)), 12);
	ck_assert_uint_eq(b.seq, UINT64_MAX - 5);
	ck_assert_uint_eq(b.max, UINT_MAX);

	msgs_fill(m, BART_BATCH_MAX);
	for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		memset(&r, 0, sizeof(r));
		r.status = BART_OK;
		r.chat_since_res_u.ok.newest = 5000 + k;
		r.chat_since_res_u.ok.msgs.msgs_len = counts[k];
		r.chat_since_res_u.ok.msgs.msgs_val = m;
		round_trip((xdrproc_t)xdr_chat_since_res, &r, &o, sizeof(o));
		ck_assert_int_eq(o.status, BART_OK);
		ck_assert_uint_eq(o.chat_since_res_u.ok.newest, 5000 + k);
		ck_assert_uint_eq(o.chat_since_res_u.ok.msgs.msgs_len,
		    counts[k]);
		for (i = 0; i < counts[k]; i++)
			msg_eq(&o.chat_since_res_u.ok.msgs.msgs_val[i], &m[i]);
		xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&o);
		ck_assert_ptr_null(o.chat_since_res_u.ok.msgs.msgs_val);
	}

	memset(&r, 0, sizeof(r));
	r.status = BART_ESTORE;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_since_res, &r, &o,
	    sizeof(o)), 4);
	ck_assert_int_eq(o.status, BART_ESTORE);
	ck_assert_ptr_null(o.chat_since_res_u.ok.msgs.msgs_val);
	xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&o);
}
END_TEST

START_TEST(rt_chat_sub)
{
	chat_sub_args	a, b;
	chat_sub_res	r, o;
	chat_sub_ref	f, g;
	int		i;

	a.cb_prog = BART_CB_PROG_MAX;
	a.cb_vers = 3;
	a.last_seen = 0x123456789ULL;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_sub_args, &a, &b,
	    sizeof(b)), 16);
	ck_assert_uint_eq(b.cb_prog, BART_CB_PROG_MAX);
	ck_assert_uint_eq(b.cb_vers, 3);
	ck_assert_uint_eq(b.last_seen, 0x123456789ULL);

	memset(&r, 0, sizeof(r));
	r.status = BART_OK;
	r.chat_sub_res_u.ok.id = 99;
	for (i = 0; i < BART_TOKEN_LEN; i++)
		r.chat_sub_res_u.ok.token[i] = (char)(i * 17 + 3);
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_sub_res, &r, &o,
	    sizeof(o)), 4 + 8 + BART_TOKEN_LEN);
	ck_assert_int_eq(o.status, BART_OK);
	ck_assert_uint_eq(o.chat_sub_res_u.ok.id, 99);
	ck_assert(memcmp(o.chat_sub_res_u.ok.token, r.chat_sub_res_u.ok.token,
	    BART_TOKEN_LEN) == 0);
	r.status = BART_ECBPROG;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_sub_res, &r, &o,
	    sizeof(o)), 4);
	ck_assert_int_eq(o.status, BART_ECBPROG);
	ck_assert_uint_eq(o.chat_sub_res_u.ok.id, 0);

	f.id = UINT64_MAX;
	memcpy(f.token, r.chat_sub_res_u.ok.token, BART_TOKEN_LEN);
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_sub_ref, &f, &g,
	    sizeof(g)), 8 + BART_TOKEN_LEN);
	ck_assert_uint_eq(g.id, UINT64_MAX);
	ck_assert(memcmp(g.token, f.token, BART_TOKEN_LEN) == 0);
}
END_TEST

START_TEST(rt_bart_res)
{
	bart_res	r, o;
	int		s;

	for (s = BART_OK; s <= BART_EUSESTREAM; s++) {
		r.status = (bart_status)s;
		ck_assert_uint_eq(round_trip((xdrproc_t)xdr_bart_res, &r, &o,
		    sizeof(o)), 4);
		ck_assert_int_eq(o.status, s);
		ck_assert_uint_eq((unsigned char)wire[3], s);
	}
	/* A status from a newer server still decodes (void arm). */
	r.status = (bart_status)99;
	round_trip((xdrproc_t)xdr_bart_res, &r, &o, sizeof(o));
	ck_assert_int_eq(o.status, 99);
}
END_TEST

START_TEST(rt_chat_renew_res)
{
	chat_renew_res	r, o;

	memset(&r, 0, sizeof(r));
	r.status = BART_OK;
	r.chat_renew_res_u.state = SUB_ACTIVE;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_renew_res, &r, &o,
	    sizeof(o)), 8);
	ck_assert_int_eq(o.status, BART_OK);
	ck_assert_int_eq(o.chat_renew_res_u.state, SUB_ACTIVE);
	r.chat_renew_res_u.state = SUB_PROBING;
	round_trip((xdrproc_t)xdr_chat_renew_res, &r, &o, sizeof(o));
	ck_assert_int_eq(o.chat_renew_res_u.state, SUB_PROBING);
	r.status = BART_ECBNOTREG;
	r.chat_renew_res_u.state = SUB_ACTIVE;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_chat_renew_res, &r, &o,
	    sizeof(o)), 4);
	ck_assert_int_eq(o.status, BART_ECBNOTREG);
	ck_assert_int_eq(o.chat_renew_res_u.state, SUB_PROBING);
}
END_TEST

START_TEST(rt_stats_res)
{
	stats_res	r, o;

	memset(&r, 0, sizeof(r));
	r.status = BART_OK;
	r.stats_res_u.ok.counter = INT64_MAX - 1;
	r.stats_res_u.ok.messages = 1ULL << 40;
	r.stats_res_u.ok.subscribers = 17;
	r.stats_res_u.ok.uptime = 86400;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_stats_res, &r, &o,
	    sizeof(o)), 4 + 8 + 8 + 4 + 8);
	ck_assert_int_eq(o.status, BART_OK);
	ck_assert_int_eq(o.stats_res_u.ok.counter, INT64_MAX - 1);
	ck_assert_uint_eq(o.stats_res_u.ok.messages, 1ULL << 40);
	ck_assert_uint_eq(o.stats_res_u.ok.subscribers, 17);
	ck_assert_uint_eq(o.stats_res_u.ok.uptime, 86400);
	r.status = BART_ESTORE;
	ck_assert_uint_eq(round_trip((xdrproc_t)xdr_stats_res, &r, &o,
	    sizeof(o)), 4);
	ck_assert_int_eq(o.status, BART_ESTORE);
}
END_TEST

START_TEST(rt_deliver_args)
{
	deliver_args	a, o;
	chat_msg	m[BART_BATCH_MAX];
	u_int		i, counts[] = { 0, 1, BART_BATCH_MAX }, k;

	msgs_fill(m, BART_BATCH_MAX);
	for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		memset(&a, 0, sizeof(a));
		memset(a.token, 0xa5, BART_TOKEN_LEN);
		a.sub_id = 77 + k;
		a.msgs.msgs_len = counts[k];
		a.msgs.msgs_val = m;
		round_trip((xdrproc_t)xdr_deliver_args, &a, &o, sizeof(o));
		ck_assert(memcmp(o.token, a.token, BART_TOKEN_LEN) == 0);
		ck_assert_uint_eq(o.sub_id, 77 + k);
		ck_assert_uint_eq(o.msgs.msgs_len, counts[k]);
		for (i = 0; i < counts[k]; i++)
			msg_eq(&o.msgs.msgs_val[i], &m[i]);
		xdr_free((xdrproc_t)xdr_deliver_args, (char *)&o);
		ck_assert_ptr_null(o.msgs.msgs_val);
	}
}
END_TEST

/* ---- bounds ----------------------------------------------------------- */

/* Encode a chat_send_args with unbounded strings, as an attacker would. */
static u_int
enc_send_raw(const char *name, const char *text)
{
	XDR		x;
	bart_reqid	id = { 1, 1 };
	char		*n = (char *)(uintptr_t)name;
	char		*t = (char *)(uintptr_t)text;
	u_int		len;

	xdrmem_create(&x, wire, WIRE_LEN, XDR_ENCODE);
	ck_assert(xdr_bart_reqid(&x, &id));
	ck_assert(xdr_string(&x, &n, UINT_MAX));
	ck_assert(xdr_string(&x, &t, UINT_MAX));
	len = xdr_getpos(&x);
	xdr_destroy(&x);
	return len;
}

/* Put a 32-bit big-endian word at OFF in wire. */
static void
put32(u_int off, uint32_t v)
{
	wire[off] = (char)(v >> 24);
	wire[off + 1] = (char)(v >> 16);
	wire[off + 2] = (char)(v >> 8);
	wire[off + 3] = (char)v;
}

START_TEST(bound_name)
{
	chat_send_args	b;
	chat_msg	m, o;
	XDR		x;
	u_int		len;

	/* At the bound: accepted. */
	len = enc_send_raw(name_max, "t");
	memset(&b, 0, sizeof(b));
	ck_assert(dec((xdrproc_t)xdr_chat_send_args, &b, wire, len, NULL));
	ck_assert_uint_eq(strlen(b.name), BART_NAME_WIRE);
	xdr_free((xdrproc_t)xdr_chat_send_args, (char *)&b);

	/* One byte over: refused before anything is allocated. */
	long_str[BART_NAME_WIRE + 1] = '\0';
	len = enc_send_raw(long_str, "t");
	memset(&b, 0, sizeof(b));
	ck_assert(!dec((xdrproc_t)xdr_chat_send_args, &b, wire, len, NULL));
	ck_assert_ptr_null(b.name);
	ck_assert_ptr_null(b.text);
	xdr_free((xdrproc_t)xdr_chat_send_args, (char *)&b);

	/* Our own encoder refuses to send it too. */
	b.id.client = b.id.seq = 1;
	b.name = long_str;
	b.text = (char *)(uintptr_t)"t";
	ck_assert_uint_eq(xdr_sizeof((xdrproc_t)xdr_chat_send_args, &b), 0);
	xdrmem_create(&x, again, WIRE_LEN, XDR_ENCODE);
	ck_assert(!xdr_chat_send_args(&x, &b));
	xdr_destroy(&x);

	/* In a chat_msg: an over-long name, then an over-long host. */
	m.seq = 1;
	m.time = 2;
	m.name = name_max;
	m.host = host_max;
	m.text = (char *)(uintptr_t)"x";
	len = enc((xdrproc_t)xdr_chat_msg, &m, wire);
	put32(16, BART_NAME_WIRE + 1);
	memset(&o, 0, sizeof(o));
	ck_assert(!dec((xdrproc_t)xdr_chat_msg, &o, wire, len, NULL));
	ck_assert_ptr_null(o.name);
	xdr_free((xdrproc_t)xdr_chat_msg, (char *)&o);
	len = enc((xdrproc_t)xdr_chat_msg, &m, wire);
	put32(16 + 4 + BART_NAME_WIRE, BART_HOST_MAX + 1);
	memset(&o, 0, sizeof(o));
	ck_assert(!dec((xdrproc_t)xdr_chat_msg, &o, wire, len, NULL));
	ck_assert_str_eq(o.name, name_max);	/* freed below */
	ck_assert_ptr_null(o.host);
	ck_assert_ptr_null(o.text);
	xdr_free((xdrproc_t)xdr_chat_msg, (char *)&o);
	ck_assert_ptr_null(o.name);
}
END_TEST

START_TEST(bound_text)
{
	chat_send_args	b;
	count_res	r, o;
	XDR		x;
	char		*p;
	u_int		len, st = BART_OK;
	quad_t		total = 5;

	len = enc_send_raw("bob", text_max);
	memset(&b, 0, sizeof(b));
	ck_assert(dec((xdrproc_t)xdr_chat_send_args, &b, wire, len, NULL));
	ck_assert_uint_eq(strlen(b.text), BART_TEXT_WIRE);
	xdr_free((xdrproc_t)xdr_chat_send_args, (char *)&b);

	/* The name was decoded (and allocated) before the text failed. */
	len = enc_send_raw("bob", long_str);
	ck_assert_uint_eq(strlen(long_str), BART_TEXT_WIRE + 1);
	memset(&b, 0, sizeof(b));
	ck_assert(!dec((xdrproc_t)xdr_chat_send_args, &b, wire, len, NULL));
	ck_assert_str_eq(b.name, "bob");
	ck_assert_ptr_null(b.text);
	xdr_free((xdrproc_t)xdr_chat_send_args, (char *)&b);
	ck_assert_ptr_null(b.name);

	/* A server's reply text is bounded as well. */
	p = long_str;
	long_str[BART_TEXT_REPLY + 1] = '\0';
	xdrmem_create(&x, wire, WIRE_LEN, XDR_ENCODE);
	ck_assert(xdr_u_int(&x, &st));
	ck_assert(xdr_quad_t(&x, &total));
	ck_assert(xdr_string(&x, &p, UINT_MAX));
	len = xdr_getpos(&x);
	xdr_destroy(&x);
	memset(&o, 0, sizeof(o));
	ck_assert(!dec((xdrproc_t)xdr_count_res, &o, wire, len, NULL));
	ck_assert_ptr_null(o.count_res_u.ok.text);
	xdr_free((xdrproc_t)xdr_count_res, (char *)&o);
	r.status = BART_OK;
	r.count_res_u.ok.total = 1;
	r.count_res_u.ok.text = long_str;
	ck_assert_uint_eq(xdr_sizeof((xdrproc_t)xdr_count_res, &r), 0);
}
END_TEST

/*
 * CVE-2017-8779: a few bytes declaring a string of 2 GB or more.  The
 * decoder must refuse it from the length word alone.
 */
START_TEST(bound_rpcbomb)
{
	static const uint32_t	lens[] = {
		BART_NAME_WIRE + 1, 0x7fffffff, 0x80000000, 0xfffffff0,
		0xffffffff
	};
	chat_send_args		b;
	count_res		o;
	chat_msg		m;
	size_t			i;
	uint32_t		tlen;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		tlen = i == 0 ? BART_TEXT_WIRE + 1 : lens[i];
		/* chat_send_args: 16 bytes of id, then the name length. */
		memset(wire, 0, 64);
		put32(16, lens[i]);
		memset(&b, 0, sizeof(b));
		ck_assert(!dec((xdrproc_t)xdr_chat_send_args, &b, wire, 40,
		    NULL));
		ck_assert_ptr_null(b.name);
		xdr_free((xdrproc_t)xdr_chat_send_args, (char *)&b);

		/* The same as the text, after a valid name "ab". */
		put32(16, 2);
		memcpy(wire + 20, "ab\0\0", 4);
		put32(24, tlen);
		memset(&b, 0, sizeof(b));
		ck_assert(!dec((xdrproc_t)xdr_chat_send_args, &b, wire, 40,
		    NULL));
		ck_assert_str_eq(b.name, "ab");
		ck_assert_ptr_null(b.text);
		xdr_free((xdrproc_t)xdr_chat_send_args, (char *)&b);

		/* count_res (a client decoding a hostile server). */
		memset(wire, 0, 64);
		put32(12, lens[i]);
		memset(&o, 0, sizeof(o));
		ck_assert(!dec((xdrproc_t)xdr_count_res, &o, wire, 40, NULL));
		ck_assert_ptr_null(o.count_res_u.ok.text);
		xdr_free((xdrproc_t)xdr_count_res, (char *)&o);

		/* chat_msg text after an empty name and host. */
		memset(wire, 0, 64);
		put32(24, tlen);
		memset(&m, 0, sizeof(m));
		ck_assert(!dec((xdrproc_t)xdr_chat_msg, &m, wire, 40, NULL));
		ck_assert_ptr_nonnull(m.name);
		ck_assert_ptr_null(m.text);
		xdr_free((xdrproc_t)xdr_chat_msg, (char *)&m);
	}
}
END_TEST

/* Encode a message array with a bound larger than bart.x allows. */
static u_int
enc_since_raw(u_int n, chat_msg *m)
{
	XDR		x;
	u_int		st = BART_OK;
	u_quad_t	newest = 1;
	char		*val = (char *)m;
	u_int		len;

	xdrmem_create(&x, wire, WIRE_LEN, XDR_ENCODE);
	ck_assert(xdr_u_int(&x, &st));
	ck_assert(xdr_u_quad_t(&x, &newest));
	ck_assert(xdr_array(&x, &val, &n, UINT_MAX, sizeof(chat_msg),
	    (xdrproc_t)xdr_chat_msg));
	len = xdr_getpos(&x);
	xdr_destroy(&x);
	return len;
}

START_TEST(bound_array)
{
	chat_msg	m[BART_BATCH_MAX + 1];
	chat_since_res	o;
	deliver_args	d;
	u_int		len, i;
	static const uint32_t	counts[] = {
		BART_BATCH_MAX + 1, 0x40000000, 0x80000000, 0xffffffff
	};

	for (i = 0; i <= BART_BATCH_MAX; i++) {
		m[i].seq = i + 1;
		m[i].time = 0;
		m[i].name = m[i].host = m[i].text = (char *)(uintptr_t)"a";
	}
	/* 64 messages are fine, 65 complete ones are refused. */
	len = enc_since_raw(BART_BATCH_MAX, m);
	memset(&o, 0, sizeof(o));
	ck_assert(dec((xdrproc_t)xdr_chat_since_res, &o, wire, len, NULL));
	ck_assert_uint_eq(o.chat_since_res_u.ok.msgs.msgs_len,
	    BART_BATCH_MAX);
	xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&o);
	len = enc_since_raw(BART_BATCH_MAX + 1, m);
	memset(&o, 0, sizeof(o));
	ck_assert(!dec((xdrproc_t)xdr_chat_since_res, &o, wire, len, NULL));
	ck_assert_ptr_null(o.chat_since_res_u.ok.msgs.msgs_val);
	xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&o);

	/* Huge counts in a short datagram: refused from the count. */
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		memset(wire, 0, 64);
		put32(12, counts[i]);
		memset(&o, 0, sizeof(o));
		ck_assert(!dec((xdrproc_t)xdr_chat_since_res, &o, wire, 64,
		    NULL));
		ck_assert_ptr_null(o.chat_since_res_u.ok.msgs.msgs_val);
		xdr_free((xdrproc_t)xdr_chat_since_res, (char *)&o);

		/* deliver_args: token (16), sub_id (8), then the count. */
		memset(wire, 0, 64);
		put32(24, counts[i]);
		memset(&d, 0, sizeof(d));
		ck_assert(!dec((xdrproc_t)xdr_deliver_args, &d, wire, 64,
		    NULL));
		ck_assert_ptr_null(d.msgs.msgs_val);
		xdr_free((xdrproc_t)xdr_deliver_args, (char *)&d);
	}
}
END_TEST

/* A bad element deep in an array: what was decoded is freed safely. */
START_TEST(bound_array_element)
{
	deliver_args	a, o;
	chat_msg	m[10];
	u_int		len, off, i;

	msgs_fill(m, 10);
	memset(&a, 0, sizeof(a));
	a.sub_id = 1;
	a.msgs.msgs_len = 10;
	a.msgs.msgs_val = m;
	for (i = 0; i < 10; i++)
		m[i].text = (char *)(uintptr_t)"ok";
	len = enc((xdrproc_t)xdr_deliver_args, &a, wire);
	/* Message 3's text length: after 3 whole messages and 3 fields. */
	off = 16 + 8 + 4;
	for (i = 0; i < 3; i++)
		off += (u_int)xdr_sizeof((xdrproc_t)xdr_chat_msg, &m[i]);
	off += 16 + 4 + 4 + 4 + (u_int)((strlen(m[3].host) + 3) & ~3u);
	ck_assert_uint_eq((unsigned char)wire[off + 3], 2);	/* "ok" */
	put32(off, BART_TEXT_WIRE + 1);
	memset(&o, 0, sizeof(o));
	ck_assert(!dec((xdrproc_t)xdr_deliver_args, &o, wire, len, NULL));
	ck_assert_ptr_nonnull(o.msgs.msgs_val);
	ck_assert_str_eq(o.msgs.msgs_val[2].text, "ok");
	ck_assert_str_eq(o.msgs.msgs_val[3].name, "u3");
	ck_assert_ptr_null(o.msgs.msgs_val[3].text);
	ck_assert_ptr_null(o.msgs.msgs_val[4].name);
	xdr_free((xdrproc_t)xdr_deliver_args, (char *)&o);
	ck_assert_ptr_null(o.msgs.msgs_val);
}
END_TEST

Suite *
xdr_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("xdr");
	tc = tcase_create("round-trip");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, rt_reqid_token);
	tcase_add_test(tc, rt_count_args);
	tcase_add_test(tc, rt_count_res);
	tcase_add_test(tc, rt_chat_msg);
	tcase_add_test(tc, rt_chat_send);
	tcase_add_test(tc, rt_chat_since);
	tcase_add_test(tc, rt_chat_sub);
	tcase_add_test(tc, rt_bart_res);
	tcase_add_test(tc, rt_chat_renew_res);
	tcase_add_test(tc, rt_stats_res);
	tcase_add_test(tc, rt_deliver_args);
	suite_add_tcase(s, tc);
	tc = tcase_create("bounds");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, bound_name);
	tcase_add_test(tc, bound_text);
	tcase_add_test(tc, bound_rpcbomb);
	tcase_add_test(tc, bound_array);
	tcase_add_test(tc, bound_array_element);
	suite_add_tcase(s, tc);
	return s;
}
