/* SPDX-License-Identifier: ISC */
/*
 * fuzz_types.h: the wire types fuzz_xdr decodes, selected by the first
 * input byte (modulo the count).  Shared with gen_corpus.c so seeds and
 * target agree.  Append only: reordering invalidates the corpus.
 */
#ifndef BART_FUZZ_TYPES_H
#define BART_FUZZ_TYPES_H

#include <rpc/rpc.h>

#include "bart.h"

struct fuzz_type {
	const char	*name;
	xdrproc_t	 fn;
};

static const struct fuzz_type fuzz_types[] = {
	{ "count_args", (xdrproc_t)xdr_count_args },
	{ "chat_send_args", (xdrproc_t)xdr_chat_send_args },
	{ "chat_since_args", (xdrproc_t)xdr_chat_since_args },
	{ "chat_sub_args", (xdrproc_t)xdr_chat_sub_args },
	{ "chat_sub_ref", (xdrproc_t)xdr_chat_sub_ref },
	{ "deliver_args", (xdrproc_t)xdr_deliver_args },
	{ "count_res", (xdrproc_t)xdr_count_res },
	{ "chat_send_res", (xdrproc_t)xdr_chat_send_res },
	{ "chat_since_res", (xdrproc_t)xdr_chat_since_res },
	{ "chat_sub_res", (xdrproc_t)xdr_chat_sub_res },
	{ "chat_renew_res", (xdrproc_t)xdr_chat_renew_res },
	{ "stats_res", (xdrproc_t)xdr_stats_res },
	{ "bart_res", (xdrproc_t)xdr_bart_res },
};

#define FUZZ_NTYPES	(sizeof(fuzz_types) / sizeof(fuzz_types[0]))

#endif
