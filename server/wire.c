/* SPDX-License-Identifier: ISC */
/*
 * wire.c: ONC RPC messages as bytes.  bart owns its sockets; libtirpc
 * only lends its XDR routines (xdr_replymsg and rpcgen's).  A call
 * header is parsed here by hand, every length checked against the
 * bytes really received, so no stale buffer can complete a short call
 * and no credential is printed to stdout (libtirpc's _svcauth_unix
 * does that for a malformed AUTH_SYS).
 */
#include <arpa/inet.h>

#include <rpc/rpc.h>
#include <string.h>

#include "util.h"
#include "wire.h"


#define SYS_NAME_MAX	255		/* RFC 5531: machinename<255> */
#define SYS_GIDS_MAX	16		/* gids<16> */

struct rd {
	const unsigned char	*p;
	size_t			 left;
};

static int
rd32(struct rd *r, uint32_t *v)
{
	uint32_t	w;

	if (r->left < 4)
		return -1;
	memcpy(&w, r->p, 4);
	*v = ntohl(w);
	r->p += 4;
	r->left -= 4;
	return 0;
}

static int
rdskip(struct rd *r, uint32_t n)
{
	size_t	pad = ((size_t)n + 3) & ~(size_t)3;

	if (r->left < pad)
		return -1;
	r->p += pad;
	r->left -= pad;
	return 0;
}

/* An AUTH_SYS body (RFC 5531 appendix A), exactly LEN bytes of it. */
static int
parse_sys(const unsigned char *p, size_t len, struct wire_call *c)
{
	struct rd	r = { p, len };
	uint32_t	stamp, n, gid, i;

	if (rd32(&r, &stamp) == -1 || rd32(&r, &n) == -1 ||
	    n > SYS_NAME_MAX || rdskip(&r, n) == -1 ||
	    rd32(&r, &c->sys_uid) == -1 || rd32(&r, &gid) == -1 ||
	    rd32(&r, &n) == -1 || n > SYS_GIDS_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (rd32(&r, &gid) == -1)
			return -1;
	if (r.left != 0)
		return -1;
	c->sys = 1;
	return 0;
}

/*
 * Parse the call in BUF (LEN bytes: one datagram or one whole record).
 * The checks go in RFC 5531's order: message type, RPC version, then
 * the credential; program, version and procedure are the dispatcher's.
 * Only AUTH_NONE and AUTH_SYS are taken: bart decides nothing on a
 * credential (SECURITY.md), so GSS and the rest are refused.
 */
enum wire_parse
wire_call_parse(const unsigned char *buf, size_t len, struct wire_call *c)
{
	struct rd	r = { buf, len };
	uint32_t	type, rpcvers, clen, flen, vflavor;
	const unsigned char *body;

	memset(c, 0, sizeof(*c));
	if (rd32(&r, &c->xid) == -1 || rd32(&r, &type) == -1 ||
	    type != CALL || rd32(&r, &rpcvers) == -1)
		return WIRE_DROP;
	if (rpcvers != RPC_MSG_VERSION)
		return WIRE_BADRPCVERS;
	if (rd32(&r, &c->prog) == -1 || rd32(&r, &c->vers) == -1 ||
	    rd32(&r, &c->proc) == -1)
		return WIRE_DROP;
	if (rd32(&r, &c->flavor) == -1 || rd32(&r, &clen) == -1 ||
	    clen > WIRE_AUTH_MAX)
		return WIRE_BADCRED;
	body = r.p;
	if (rdskip(&r, clen) == -1)
		return WIRE_BADCRED;
	if (rd32(&r, &vflavor) == -1 || rd32(&r, &flen) == -1 ||
	    flen > WIRE_AUTH_MAX || rdskip(&r, flen) == -1)
		return WIRE_BADCRED;
	switch (c->flavor) {
	case AUTH_NONE:
		break;
	case AUTH_SYS:
		if (parse_sys(body, clen, c) == -1)
			return WIRE_BADCRED;
		break;
	default:
		return WIRE_REJECTEDCRED;
	}
	c->args = r.p;
	c->argslen = r.left;
	return WIRE_OK;
}

/*
 * Encode a reply to XID into BUF (CAP bytes) with xdr_replymsg; for
 * WIRE_SUCCESS, XRES encodes RES after the header, for
 * WIRE_PROG_MISMATCH, VERS is the version range.  Returns the length,
 * or 0 if it does not fit.
 */
size_t
wire_reply(unsigned char *buf, size_t cap, uint32_t xid,
    enum wire_reply kind, uint32_t vers, xdrproc_t xres, const void *res)
{
	struct rpc_msg	m;
	XDR		x;
	size_t		len = 0;

	memset(&m, 0, sizeof(m));
	m.rm_xid = xid;
	m.rm_direction = REPLY;
	if (kind >= WIRE_DENY_RPCVERS) {
		m.rm_reply.rp_stat = MSG_DENIED;
		if (kind == WIRE_DENY_RPCVERS) {
			m.rjcted_rply.rj_stat = RPC_MISMATCH;
			m.rjcted_rply.rj_vers.low = RPC_MSG_VERSION;
			m.rjcted_rply.rj_vers.high = RPC_MSG_VERSION;
		} else {
			m.rjcted_rply.rj_stat = AUTH_ERROR;
			m.rjcted_rply.rj_why = kind == WIRE_DENY_BADCRED ?
			    AUTH_BADCRED : AUTH_REJECTEDCRED;
		}
	} else {
		m.rm_reply.rp_stat = MSG_ACCEPTED;
		m.acpted_rply.ar_verf = _null_auth;
		switch (kind) {
		case WIRE_SUCCESS:
			m.acpted_rply.ar_stat = SUCCESS;
			m.acpted_rply.ar_results.where = (caddr_t)(uintptr_t)res;
			m.acpted_rply.ar_results.proc = xres != NULL ? xres :
			    XDR_VOID;
			break;
		case WIRE_PROG_UNAVAIL:
			m.acpted_rply.ar_stat = PROG_UNAVAIL;
			break;
		case WIRE_PROG_MISMATCH:
			m.acpted_rply.ar_stat = PROG_MISMATCH;
			m.acpted_rply.ar_vers.low = vers;
			m.acpted_rply.ar_vers.high = vers;
			break;
		case WIRE_PROC_UNAVAIL:
			m.acpted_rply.ar_stat = PROC_UNAVAIL;
			break;
		case WIRE_GARBAGE_ARGS:
			m.acpted_rply.ar_stat = GARBAGE_ARGS;
			break;
		default:
			m.acpted_rply.ar_stat = SYSTEM_ERR;
			break;
		}
	}
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	xdrmem_create(&x, (char *)buf, (u_int)cap, XDR_ENCODE);
	if (xdr_replymsg(&x, &m))
		len = XDR_GETPOS(&x);
	xdr_destroy(&x);
	return len;
}

/*
 * Is there a whole record at the start of BUF (LEN bytes)?  Returns
 * the bytes it takes, marks included, with its body length in *BODY; 0
 * if more must come; -1 if it would be larger than WIRE_RECORD_MAX.
 * Any number of fragments is legal (RFC 5531 section 11), zero-length
 * ones too; their marks count against the cap, so they cost an
 * attacker as much as they cost us.  ST holds how far an earlier call
 * got in the same record (zero for a new one), so that a record that
 * arrives a few bytes at a time is walked once, not once per read; it
 * is updated when 0 is returned and zeroed otherwise.
 */
long
wire_rec_resume(const unsigned char *buf, size_t len, struct wire_scan *st,
    size_t *body)
{
	size_t		off = st->off, sum = st->sum;
	uint32_t	mark, flen;

	for (;;) {
		if (len < off + 4) {
			st->off = off;
			st->sum = sum;
			if (off + 4 <= WIRE_RECORD_MAX)
				return 0;
			st->off = st->sum = 0;
			return -1;
		}
		memcpy(&mark, buf + off, 4);
		mark = ntohl(mark);
		flen = mark & ~WIRE_MARK_LAST;
		if ((size_t)flen > WIRE_RECORD_MAX ||
		    off + 4 + flen > WIRE_RECORD_MAX) {
			st->off = st->sum = 0;
			return -1;
		}
		if (len - off - 4 < flen) {
			st->off = off;
			st->sum = sum;
			return 0;
		}
		off += 4 + flen;
		sum += flen;
		if (mark & WIRE_MARK_LAST) {
			st->off = st->sum = 0;
			*body = sum;
			return (long)off;
		}
	}
}

/* wire_rec_resume from the start of the record. */
long
wire_rec_scan(const unsigned char *buf, size_t len, size_t *body)
{
	struct wire_scan	st = { 0, 0 };

	return wire_rec_resume(buf, len, &st, body);
}

/*
 * Copy the bodies of the fragments of the whole record at BUF (TOTAL
 * bytes, as wire_rec_scan said) into OUT; returns the body length.
 */
size_t
wire_rec_join(const unsigned char *buf, size_t total, unsigned char *out)
{
	size_t		off = 0, n = 0;
	uint32_t	mark, flen;

	while (off + 4 <= total) {
		memcpy(&mark, buf + off, 4);
		flen = ntohl(mark) & ~WIRE_MARK_LAST;
		memcpy(out + n, buf + off + 4, flen);
		n += flen;
		off += 4 + flen;
	}
	return n;
}
