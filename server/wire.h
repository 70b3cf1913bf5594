/* SPDX-License-Identifier: ISC */
/*
 * wire.h: ONC RPC messages as bytes: a call header parsed with bounds,
 * a reply encoded into a buffer, record marking (RFC 5531 sections 9
 * and 11).  Pure functions: no sockets, no state.
 */
#ifndef BART_WIRE_H
#define BART_WIRE_H

#include <rpc/rpc.h>
#include <stddef.h>
#include <stdint.h>

/* A call record, its record marks included: larger closes the stream. */
#define WIRE_RECORD_MAX		(16 * 1024)
/* libtirpc's datagram size, which bart's clients also use. */
#define WIRE_DGRAM_MAX		8800
#define WIRE_AUTH_MAX		400		/* MAX_AUTH_BYTES */
#define WIRE_MARK_LAST		0x80000000u

enum wire_parse {
	WIRE_OK,		/* a call: reply to it */
	WIRE_DROP,		/* not a call we can answer: drop / close */
	WIRE_BADRPCVERS,	/* answer RPC_MISMATCH */
	WIRE_BADCRED,		/* answer AUTH_ERROR AUTH_BADCRED */
	WIRE_REJECTEDCRED	/* a flavor we do not take: AUTH_REJECTEDCRED */
};

struct wire_call {
	uint32_t		 xid;
	uint32_t		 prog;
	uint32_t		 vers;
	uint32_t		 proc;
	uint32_t		 flavor;	/* of the credential */
	int			 sys;		/* an AUTH_SYS credential */
	uint32_t		 sys_uid;	/* what the caller claims */
	const unsigned char	*args;		/* after the verifier */
	size_t			 argslen;
};

enum wire_reply {
	WIRE_SUCCESS,
	WIRE_PROG_UNAVAIL,
	WIRE_PROG_MISMATCH,	/* low = high = the one version we serve */
	WIRE_PROC_UNAVAIL,
	WIRE_GARBAGE_ARGS,
	WIRE_SYSTEM_ERR,
	WIRE_DENY_RPCVERS,
	WIRE_DENY_BADCRED,
	WIRE_DENY_REJECTEDCRED
};

/* How far wire_rec_resume got in a record that is not whole yet. */
struct wire_scan {
	size_t	off;		/* the first fragment mark not yet whole */
	size_t	sum;		/* body bytes of the fragments before it */
};

enum wire_parse	 wire_call_parse(const unsigned char *, size_t,
		    struct wire_call *);
size_t		 wire_reply(unsigned char *, size_t, uint32_t,
		    enum wire_reply, uint32_t, xdrproc_t, const void *);
long		 wire_rec_scan(const unsigned char *, size_t, size_t *);
long		 wire_rec_resume(const unsigned char *, size_t,
		    struct wire_scan *, size_t *);
size_t		 wire_rec_join(const unsigned char *, size_t,
		    unsigned char *);

#endif
