/* SPDX-License-Identifier: ISC */
/*
 * pgbench.c: bart_pgbench, the PostgreSQL part of the benchmark: the
 * same COUNT transaction bart runs, straight through libpq (the floor),
 * next to COUNT and NULLPROC through bart over tcp.  One process, one
 * connection, calls one after the other; bench/pg.sh runs several at
 * once and adds up.
 *
 *   bart_pgbench floor CONNINFO SECS   the COUNT statement via libpq
 *   bart_pgbench count HOST SECS       COUNT 1 (with identity) via bart
 *   bart_pgbench null HOST SECS        NULLPROC via bart
 *
 * Prints one line: "MODE calls N p50 US p90 US p99 US".  The statement
 * is pgstore.c's (kept in step by hand: it is the floor only if it is
 * the same work).
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <rpc/rpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bart.h"
#include "util.h"

#define MAX_CALLS	2000000

static const char sql_count[] =
    "WITH prev AS (SELECT result FROM bart_reqs WHERE $1::bigint <> 0"
    "  AND client = $1 AND seq = $2 AND kind = 0),"
    " upd AS (UPDATE bart_counter SET value = value + $3"
    "  WHERE id = 0 AND value <= 9223372036854775807 - $3::bigint"
    "  AND NOT EXISTS (SELECT 1 FROM prev) RETURNING value),"
    " ins AS (INSERT INTO bart_reqs (client, seq, kind, result, time)"
    "  SELECT $1, $2, 0, value, $4 FROM upd WHERE $1::bigint <> 0)"
    " SELECT value FROM upd UNION ALL SELECT result FROM prev";

static uint32_t	*lat;
static long	 nlat;

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *mode)
{
	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_u32);
	if (nlat == 0) {
		printf("%s calls 0 p50 0 p90 0 p99 0\n", mode);
		return;
	}
	printf("%s calls %ld p50 %u p90 %u p99 %u\n", mode, nlat,
	    lat[nlat / 2], lat[nlat * 9 / 10], lat[nlat * 99 / 100]);
}

static void
note(uint64_t t0)
{
	if (nlat < MAX_CALLS)
		lat[nlat++] = (uint32_t)(util_now_us() - t0);
}

static int
floor_run(const char *conninfo, int secs)
{
	PGconn		*c = PQconnectdb(conninfo);
	PGresult	*r;
	char		 client[24], seq[24], now[24];
	const char	*vals[4] = { client, seq, "1", now };
	uint64_t	 end, t0, id = util_random_u64() >> 1, i;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bart_pgbench: %s", PQerrorMessage(c));
		return 1;
	}
	snprintf(client, sizeof(client), "%" PRIu64, id | 1);
	end = util_now_us() + (uint64_t)secs * 1000000;
	for (i = 1; util_now_us() < end; i++) {
		snprintf(seq, sizeof(seq), "%" PRIu64, i);
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		t0 = util_now_us();
		r = PQexecParams(c, sql_count, 4, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			fprintf(stderr, "bart_pgbench: %s",
			    PQresultErrorMessage(r));
			PQclear(r);
			return 1;
		}
		PQclear(r);
		note(t0);
	}
	PQfinish(c);
	report("floor");
	return 0;
}

static int
rpc_run(const char *host, int secs, int null)
{
	CLIENT		*cl;
	count_args	 a;
	count_res	 r;
	struct timeval	 tv = { 5, 0 };
	uint64_t	 end, t0;

	if ((cl = clnt_create(host, BART_PROG, BART_VERS, "tcp")) == NULL) {
		clnt_pcreateerror(host);
		return 1;
	}
	memset(&a, 0, sizeof(a));
	a.id.client = util_random_u64() | 1;
	a.up = 1;
	end = util_now_us() + (uint64_t)secs * 1000000;
	while (util_now_us() < end) {
		t0 = util_now_us();
		if (null) {
			if (clnt_call(cl, NULLPROC, XDR_VOID, NULL,
			    XDR_VOID, NULL, tv) != RPC_SUCCESS) {
				clnt_perror(cl, "null");
				return 1;
			}
		} else {
			a.id.seq++;
			memset(&r, 0, sizeof(r));
			if (clnt_call(cl, COUNT, (xdrproc_t)xdr_count_args,
			    (char *)&a, (xdrproc_t)xdr_count_res, (char *)&r,
			    tv) != RPC_SUCCESS || r.status != BART_OK) {
				clnt_perror(cl, "count");
				return 1;
			}
			xdr_free((xdrproc_t)xdr_count_res, (char *)&r);
		}
		note(t0);
	}
	clnt_destroy(cl);
	report(null ? "null" : "count");
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 4 || (lat = calloc(MAX_CALLS, sizeof(*lat))) == NULL) {
		fprintf(stderr, "usage: bart_pgbench floor CONNINFO SECS | "
		    "count HOST SECS | null HOST SECS\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "floor") == 0)
		return floor_run(argv[2], atoi(argv[3]));
	if (strcmp(argv[1], "count") == 0)
		return rpc_run(argv[2], atoi(argv[3]), 0);
	if (strcmp(argv[1], "null") == 0)
		return rpc_run(argv[2], atoi(argv[3]), 1);
	fprintf(stderr, "bart_pgbench: unknown mode %s\n", argv[1]);
	return 64;
}
