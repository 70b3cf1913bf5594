/* SPDX-License-Identifier: ISC */
/*
 * fuzz_xdr.c: libFuzzer target for the XDR decoders of every type in
 * bart.x that crosses the wire.  The first byte picks the type; the
 * rest is decoded with xdrmem, freed with xdr_free, and a successful
 * decode must survive encode -> decode -> encode unchanged.
 */
#include <rpc/rpc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bart.h"
#include "fuzz_types.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

union any {
	count_args	a1;
	chat_send_args	a2;
	chat_since_args	a3;
	chat_sub_args	a4;
	chat_sub_ref	a5;
	deliver_args	a6;
	count_res	r1;
	chat_send_res	r2;
	chat_since_res	r3;
	chat_sub_res	r4;
	chat_renew_res	r5;
	stats_res	r6;
	bart_res	r7;
};

static int
decode(xdrproc_t fn, const uint8_t *buf, size_t len, union any *out,
    u_int *used)
{
	XDR	x;
	int	ok;

	memset(out, 0, sizeof(*out));
	xdrmem_create(&x, (char *)(uintptr_t)buf, (u_int)len, XDR_DECODE);
	ok = fn(&x, out);
	*used = xdr_getpos(&x);
	xdr_destroy(&x);
	return ok;
}

static int
encode(xdrproc_t fn, union any *v, uint8_t *buf, size_t len, u_int *used)
{
	XDR	x;
	int	ok;

	xdrmem_create(&x, (char *)buf, (u_int)len, XDR_ENCODE);
	ok = fn(&x, v);
	*used = xdr_getpos(&x);
	xdr_destroy(&x);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_type	*t;
	union any		 v1, v2;
	uint8_t			*e1, *e2;
	u_int			 used, n1, n2;

	if (size < 1)
		return 0;
	t = &fuzz_types[data[0] % FUZZ_NTYPES];
	data++;
	size--;
	if (!decode(t->fn, data, size, &v1, &used)) {
		/* A failed decode must still be freeable (no leak, no crash). */
		xdr_free(t->fn, (char *)&v1);
		return 0;
	}
	if (used > size)
		abort();
	/*
	 * Strings can only shrink on re-encoding (an embedded NUL ends
	 * them), so the consumed length bounds every encoding.
	 */
	e1 = malloc(used + 4);
	e2 = malloc(used + 4);
	if (e1 == NULL || e2 == NULL)
		abort();
	if (!encode(t->fn, &v1, e1, used + 4, &n1)) {
		fprintf(stderr, "%s: decoded value does not encode\n",
		    t->name);
		abort();
	}
	if (n1 > used)
		abort();
	if (!decode(t->fn, e1, n1, &v2, &used)) {
		fprintf(stderr, "%s: own encoding does not decode\n",
		    t->name);
		abort();
	}
	if (used != n1)
		abort();
	if (!encode(t->fn, &v2, e2, n1 + 4, &n2) || n2 != n1 ||
	    memcmp(e1, e2, n1) != 0) {
		fprintf(stderr, "%s: encode(decode(x)) is not stable\n",
		    t->name);
		abort();
	}
	xdr_free(t->fn, (char *)&v1);
	xdr_free(t->fn, (char *)&v2);
	free(e1);
	free(e2);
	return 0;
}
