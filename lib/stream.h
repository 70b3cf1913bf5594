/* SPDX-License-Identifier: ISC */
/* stream.h: a call over a stream connection with one deadline for all of it. */
#ifndef LIBBART_STREAM_H
#define LIBBART_STREAM_H

#include <netconfig.h>
#include <rpc/rpc.h>
#include <stdint.h>

enum clnt_stat	stream_call(CLIENT *, rpcproc_t, xdrproc_t, void *, xdrproc_t,
		    void *, uint64_t);
CLIENT		*stream_open(const char *, struct netconfig *, unsigned int,
		    int *);

#endif
