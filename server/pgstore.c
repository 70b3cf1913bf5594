/* SPDX-License-Identifier: ISC */
/*
 * pgstore.c: the PostgreSQL store: one counter, one chat room and the
 * request identities, shared by every bart_svc on the same database.
 *
 * Every change is one SQL statement, in its own (implicit) transaction
 * or its group's (below), with the request identity written by the
 * same statement: a resend of the identity to any daemon finds the
 * first answer.  A statement counts as done only once its transaction
 * committed (ReadyForQuery, or the group's COMMIT): after its commit (and, with synchronous_standby_names, after the standby
 * has it).  Chat messages are numbered by a one-row counter updated in
 * the message's own transaction: its row lock serialises the senders,
 * so numbers are gapless and in commit order (a SQL SEQUENCE has gaps).
 *
 * Threads.  The database worker (work_main) owns the main connection
 * and runs every statement of the RPC calls: the RPC thread hands it
 * jobs (store_job, store.h) and goes on serving; the worker takes all
 * that are queued, runs them as one group, and hands them back through
 * an eventfd that the loop polls, so a slow or silent database holds
 * up only the calls that wait for it, never NULLPROC or STATS.  Before
 * the worker starts (pgstore_feed) the opening thread owns the
 * connection, for the schema and the ring's first fill.  One exception
 * keeps a lone call as fast as before: when the worker is idle and one
 * call waits, the loop sends it and reads its answer itself, without
 * ever waiting (pgstore_kick, fast_step); see conn_mu below.
 *
 * Group commit.  A group of one is one statement in its own implicit
 * transaction, as before: one round trip, done at ReadyForQuery, i.e.
 * after its commit.  A larger group is sent in libpq's pipeline mode
 * as BEGIN, each job's statement, COMMIT and one Sync: one round trip
 * and one commit for all; each reply is sent only after that COMMIT
 * succeeded.  If a statement is refused, the pipeline aborts, the
 * transaction is rolled back (nothing of it committed) and the jobs run
 * again one transaction each: a refused call undoes only itself, the
 * same effect as a savepoint each.  If the outcome of the COMMIT is
 * unknown (connection lost, deadline), every change of the group gets
 * BART_EUNKNOWN.  Identity rows are written by the same statements as
 * before, in the same transaction as their effect.
 *
 * Every call on the connection has a deadline (PG_CALL_MS).  When the
 * connection is lost, changes fail at once with BART_EUNAVAIL (or
 * BART_EUNKNOWN for those whose commit was under way).  The feed thread
 * (below) makes the replacement with a plain blocking PQconnectdb,
 * which honours connect_timeout per host and so moves past a host that
 * swallows packets (PQconnectPoll leaves that timeout to its caller,
 * and starts again at the first host), and the worker takes it over.
 * Housekeeping (history cap, identity pruning) only asks: the worker
 * runs those statements when it has no calls to run.
 *
 * A second connection, owned by the feed thread, LISTENs on bart_chat
 * (chat commits NOTIFY it: a doorbell only, counts never NOTIFY, since
 * NOTIFY serialises commits cluster-wide) and reads every message newer
 * than the newest one fed to the ring, on each notification and every
 * PG_CATCHUP_MS anyway: a lost notification or a dropped LISTEN costs
 * at most that long.  Messages reach the ring in sequence order under
 * feed_mu, whichever thread finds them first.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pgstore.h"
#include "util.h"

#define PG_SCHEMA_VERSION	1
#define PG_LOCK_KEY		"1650553460"	/* "bart": schema creation */
#define PG_CALL_MS		3000	/* one statement, at most */
#define PG_CALL_S		"3"
#define PG_CATCHUP_MS		500	/* feed thread: poll the table */
#define PG_FEED_BATCH		"1000"
#define PG_CHANNEL		"bart_chat"
#define PG_GROUP_MAX		64	/* jobs in one transaction at most */
/*
 * Jobs submitted and not yet collected, in all: past it store_submit
 * refuses and the call is answered BART_EUNAVAIL at once (a database
 * that slow is as good as unavailable; nothing is changed).
 */
#define PG_JOBS_MAX		256
#define PG_IDLE_MS		1000	/* worker: maintenance, when idle */
#define PG_DOWN_MS		100	/* worker: look for a new connection */
#define PG_JOIN_S		2	/* close: the feed thread, at most */

enum req_kind {
	REQ_COUNT = 0,
	REQ_CHAT = 1
};

/* One job's statement in a pipeline: its text and parameters. */
struct jsql {
	const char	*sql;
	int		 n;
	char		 b[5][24];
	const char	*vals[7];
};

/*
 * A group of jobs on its way: sent (group_send), its answers read so
 * far (group_recv), so that the reading can stop and go on later, on
 * another thread.
 */
struct inflight {
	struct store_job	*js[PG_GROUP_MAX];
	int			 n;
	int			 job_of[PG_GROUP_MAX + 2];	/* command: job */
	PGresult		*res[PG_GROUP_MAX + 2];
	int			 ncmd, cur;
	int			 explicit;	/* BEGIN ... COMMIT */
	int			 sent;		/* the commit may have left */
	int			 broken;	/* the send failed */
	int			 synced;	/* the Sync's answer came */
	uint64_t		 deadline;
	struct jsql		 q;		/* scratch for job_sql */
};

/* group_recv says: */
#define RECV_DONE	0	/* every job has its outcome */
#define RECV_REFUSED	-1	/* rolled back: run the jobs one by one */
#define RECV_MORE	1	/* (no waiting) the answers are not all in */
#define RECV_WORKER	2	/* (no waiting) for the worker from here */

/*
 * Who owns what.  [w] the database worker's alone once it runs (before
 * that, the opening thread's); [f] under feed_mu; [j] under jobs_mu;
 * [a] atomic; [c] set before any thread starts, read-only after.
 */
struct pgstore {
	char			*conninfo;	/* [c] never logged: secrets */
	char			 desc[256];	/* [c] host, port, db, user */
	PGconn			*conn;		/* [w] NULL while down */
	int			 down_logged;	/* [w] */
	/*
	 * [w] means: under conn_mu once the worker runs.  The worker holds
	 * it while it works.  The loop takes it (trylock: never waiting)
	 * for its fast path: when the worker is idle and one call waits,
	 * the loop sends it and reads the answer itself, never blocking
	 * (the socket is in the epoll set behind done_fd), and keeps
	 * conn_mu until then; anything unusual (an error, the deadline, a
	 * chat line) goes over to the worker, which goes on from there.
	 */
	pthread_mutex_t		 conn_mu;
	struct inflight		 fl;		/* [w] the group in hand */
	int			 fl_sent;	/* [j] fl handed over by the loop */
	int			 fast;		/* [j] the loop's fast path runs */
	int			 fast_fd;	/* the loop's: the socket watched */
	atomic_int		 want;		/* [a] the worker lost conn */
	PGconn			*spare;		/* [f] made for it */
	_Atomic int64_t		 counter;	/* [a] newest total seen */
	_Atomic uint64_t	 fed;		/* [a] newest message in ring */
	uint64_t		 capped;	/* [w] history pruned up to */

	pthread_mutex_t		 feed_mu;	/* ring order; guards fed writes */
	store_msg_cb		 feed_cb;	/* [f] */
	void			*feed_arg;	/* [f] */
	pthread_t		 thread;
	int			 thread_started;
	atomic_int		 quit;		/* [a] */
	int			 stopped;	/* the loop's: pgstore_stop ran */

	/* The worker and its queues. */
	pthread_mutex_t		 jobs_mu;
	pthread_cond_t		 jobs_cv;	/* the worker waits on it */
	struct store_job	*q_head, *q_tail;	/* [j] to run */
	struct store_job	*d_head, *d_tail;	/* [j] done, to collect */
	unsigned int		 njobs;		/* [j] submitted, not collected */
	int			 idle;		/* [j] the worker waits on jobs_cv */
	int			 done_fd;	/* epoll: ev_fd, tm_fd, fast_fd */
	int			 ev_fd;		/* eventfd: the worker rings */
	int			 tm_fd;		/* timerfd: the fast deadline */
	pthread_t		 worker;
	atomic_int		 working;	/* [a] the worker runs */
	atomic_int		 up;		/* [a] the worker has a conn */
	atomic_uint		 cap_max;	/* [a] housekeeping asks ... */
	_Atomic int64_t		 prune_before;	/* [a] ... 0: nothing */
	atomic_uint		 trim_max;	/* [a] ... max + 1; 0: nothing */
};

static const char sql_schema[] =
    "CREATE TABLE bart_meta (key text PRIMARY KEY, value bigint NOT NULL);"
    "CREATE TABLE bart_counter (id int PRIMARY KEY CHECK (id = 0),"
    "  value bigint NOT NULL);"
    "INSERT INTO bart_counter VALUES (0, 0);"
    "CREATE TABLE bart_chatseq (id int PRIMARY KEY CHECK (id = 0),"
    "  seq bigint NOT NULL);"
    "INSERT INTO bart_chatseq VALUES (0, 0);"
    "CREATE TABLE bart_msgs (seq bigint PRIMARY KEY, time bigint NOT NULL,"
    "  name text NOT NULL, host text NOT NULL, text text NOT NULL);"
    "CREATE TABLE bart_reqs (client bigint NOT NULL, seq bigint NOT NULL,"
    "  kind int NOT NULL, result bigint NOT NULL, time bigint NOT NULL,"
    "  PRIMARY KEY (client, seq, kind));"
    "CREATE INDEX bart_reqs_time ON bart_reqs (time);"
    "INSERT INTO bart_meta VALUES ('schema', 1);";

/*
 * COUNT: the identity lookup, the increment (refused past INT64_MAX)
 * and the identity's row, in one statement.  Two daemons running the
 * same identity at once: the second's INSERT hits the primary key, the
 * statement fails as a whole, and the retry finds the first answer.
 */
static const char sql_count[] =
    "WITH prev AS (SELECT result FROM bart_reqs WHERE $1::bigint <> 0"
    "  AND client = $1 AND seq = $2 AND kind = 0),"
    " upd AS (UPDATE bart_counter SET value = value + $3"
    "  WHERE id = 0 AND value <= 9223372036854775807 - $3::bigint"
    "  AND NOT EXISTS (SELECT 1 FROM prev) RETURNING value),"
    " ins AS (INSERT INTO bart_reqs (client, seq, kind, result, time)"
    "  SELECT $1, $2, 0, value, $4 FROM upd WHERE $1::bigint <> 0)"
    " SELECT value FROM upd UNION ALL SELECT result FROM prev";

/* CHAT_SEND: the same shape; NOTIFY rings the other daemons' bell. */
static const char sql_chat[] =
    "WITH prev AS (SELECT result FROM bart_reqs WHERE $1::bigint <> 0"
    "  AND client = $1 AND seq = $2 AND kind = 1),"
    " s AS (UPDATE bart_chatseq SET seq = seq + 1 WHERE id = 0"
    "  AND NOT EXISTS (SELECT 1 FROM prev) RETURNING seq),"
    " m AS (INSERT INTO bart_msgs (seq, time, name, host, text)"
    "  SELECT seq, $3, $4, $5, $6 FROM s RETURNING seq),"
    " r AS (INSERT INTO bart_reqs (client, seq, kind, result, time)"
    "  SELECT $1, $2, 1, seq, $7 FROM m WHERE $1::bigint <> 0),"
    " n AS (SELECT pg_notify('" PG_CHANNEL "', '') FROM m)"
    " SELECT seq, 0 FROM m WHERE (SELECT count(*) FROM n) >= 0"
    " UNION ALL SELECT result, 1 FROM prev";

static const char sql_since[] =
    "SELECT seq, time, name, host, text FROM bart_msgs WHERE seq > $1"
    " ORDER BY seq LIMIT $2";

/* Notices (NOTICE, WARNING) go to our log, not to libpq's stderr. */
static void
notice(void *arg, const char *msg)
{
	(void)arg;
	log_info("PostgreSQL: %.*s", (int)strcspn(msg, "\n"), msg);
}

/*
 * libpq's message on one line: it may hold one line per host tried and
 * hints on lines of their own; join them with "; ".
 */
static const char *
oneline(const char *msg, char *buf, size_t len)
{
	size_t	o = 0;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	while (*msg != '\0' && o + 3 < len) {
		if (*msg != '\n') {
			buf[o++] = *msg++ == '\t' ? ' ' : msg[-1];
			continue;
		}
		msg += strspn(msg, "\n\t ");
		if (*msg != '\0') {
			buf[o++] = ';';
			buf[o++] = ' ';
		}
	}
	buf[o] = '\0';
	return buf;
}

/* What to call the database in logs: no password, ever. */
static void
describe(struct pgstore *p, PQconninfoOption *opts)
{
	const char		*host = NULL, *port = NULL, *db = NULL;
	const char		*user = NULL, *hostaddr = NULL;
	PQconninfoOption	*o;

	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
		else if (strcmp(o->keyword, "user") == 0)
			user = o->val;
	}
	snprintf(p->desc, sizeof(p->desc), "host=%s%s%s dbname=%s%s%s",
	    host != NULL ? host : hostaddr != NULL ? hostaddr : "(default)",
	    port != NULL ? " port=" : "", port != NULL ? port : "",
	    db != NULL ? db : "(default)", user != NULL ? " user=" : "",
	    user != NULL ? user : "");
}

/*
 * Our defaults come first; the admin's string (expanded from "dbname")
 * overrides any of them.
 */
static const char *const conn_keys[] = {
	"connect_timeout", "application_name", "client_encoding",
	"keepalives_idle", "keepalives_interval", "keepalives_count",
	"dbname", NULL
};

static void
conn_values(struct pgstore *p, const char **vals)
{
	vals[0] = "5";
	vals[1] = "bart_svc";
	vals[2] = "UTF8";
	vals[3] = "10";
	vals[4] = "5";
	vals[5] = "3";
	vals[6] = p->conninfo;
	vals[7] = NULL;
}

static uint64_t
ms_left(uint64_t deadline)
{
	uint64_t	now = util_now_us();

	return now >= deadline ? 0 : (deadline - now + 999) / 1000;
}

/* Wait until C's socket is ready for EV or the deadline; 1, 0 or -1. */
static int
wait_sock(PGconn *c, short ev, uint64_t deadline)
{
	struct pollfd	pfd;
	int		r;

	pfd.fd = PQsocket(c);
	pfd.events = ev;
	if (pfd.fd < 0)
		return -1;
	do
		r = poll(&pfd, 1, (int)ms_left(deadline));
	while (r == -1 && errno == EINTR);
	return r;
}

/*
 * Run one statement with a deadline.  Returns its last result, NULL if
 * nothing came back; *sent says whether it may have reached the server.
 * Done only after ReadyForQuery: the implicit transaction has committed.
 */
static PGresult *
run(PGconn *c, const char *sql, int n, const char *const *vals, int ms,
    int *sent)
{
	PGresult	*r, *last = NULL;
	uint64_t	 deadline = util_now_us() + (uint64_t)ms * 1000;
	int		 w;

	*sent = 0;
	/* A connection the server closed while idle: notice it now. */
	if (c == NULL || !PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
		return NULL;
	*sent = 1;
	if (!PQsendQueryParams(c, sql, n, NULL, vals, NULL, NULL, 0))
		return NULL;
	for (;;) {
		while ((w = PQflush(c)) == 1)
			if (wait_sock(c, POLLOUT, deadline) <= 0)
				goto fail;
		if (w == -1)
			goto fail;
		while (!PQisBusy(c)) {
			if ((r = PQgetResult(c)) == NULL)
				return last;
			PQclear(last);
			last = r;
		}
		if (wait_sock(c, POLLIN, deadline) <= 0 || !PQconsumeInput(c))
			goto fail;
	}
fail:
	PQclear(last);
	return NULL;
}

static int
res_ok(const PGresult *r)
{
	return r != NULL && (PQresultStatus(r) == PGRES_TUPLES_OK ||
	    PQresultStatus(r) == PGRES_COMMAND_OK);
}

static const char *
sqlstate(const PGresult *r)
{
	const char	*s = r != NULL ?
	    PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s != NULL ? s : "";
}

/*
 * Close C's socket with a reset, its unsent bytes discarded.  A plain
 * close() leaves a statement the server has not acknowledged (a silent
 * host) in the kernel, which sends it again when the host is back: a
 * change the client was told failed would commit seconds later.
 */
static void
abort_sock(PGconn *c)
{
	struct linger	l = { 1, 0 };
	int		fd = PQsocket(c);

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* The main connection is gone: close it, say so once. */
static void
lost(struct pgstore *p, const char *why)
{
	char	buf[512];

	if (!p->down_logged)
		log_warnx("store: lost PostgreSQL (%s): %s; changes fail until "
		    "it is back", p->desc, oneline(why, buf, sizeof(buf)));
	p->down_logged = 1;
	if (p->conn != NULL) {
		abort_sock(p->conn);
		PQfinish(p->conn);
	}
	p->conn = NULL;
	atomic_store(&p->up, 0);
	atomic_store(&p->want, 1);	/* the feed thread makes a new one */
}

/*
 * A change on the main connection: BART_OK and *r, or the status a
 * client should see.  Statement-level failures that a retry resolves
 * (a concurrent same identity, a serialisation failure) are retried.
 */
static bart_status
change(struct pgstore *p, const char *sql, int n, const char *const *vals,
    PGresult **out)
{
	PGresult	*r;
	const char	*st;
	int		 sent, try;

	*out = NULL;
	for (try = 0; try < 3; try++) {
		if (p->conn == NULL)
			return BART_EUNAVAIL;
		r = run(p->conn, sql, n, vals, PG_CALL_MS, &sent);
		if (res_ok(r)) {
			*out = r;
			return BART_OK;
		}
		if (PQstatus(p->conn) != CONNECTION_OK || r == NULL) {
			lost(p, r != NULL ? PQresultErrorMessage(r) :
			    PQstatus(p->conn) != CONNECTION_OK ?
			    PQerrorMessage(p->conn) :
			    "no answer within " PG_CALL_S " s");
			PQclear(r);
			/* Sent and no verdict: the commit may have happened. */
			return sent ? BART_EUNKNOWN : BART_EUNAVAIL;
		}
		st = sqlstate(r);
		if (strcmp(st, "23505") == 0 || strcmp(st, "40001") == 0 ||
		    strcmp(st, "40P01") == 0) {
			PQclear(r);
			continue;
		}
		log_warnx("store: %s", PQresultErrorMessage(r));
		/* A standby (read-only): find the primary again. */
		if (strcmp(st, "25006") == 0) {
			PQclear(r);
			lost(p, "connected to a read-only server (a standby? "
			    "use target_session_attrs=read-write)");
			return BART_EUNAVAIL;
		}
		PQclear(r);
		return BART_ESTORE;
	}
	return BART_ESTORE;
}

/*
 * A read on C: its result, or NULL.  *DEAD: C is unusable (closed, or
 * a statement still running past its deadline) and must be replaced.
 */
static PGresult *
query(PGconn *c, const char *sql, int n, const char *const *vals,
    int *dead)
{
	PGresult	*r;
	int		 sent;

	r = run(c, sql, n, vals, PG_CALL_MS, &sent);
	*dead = r == NULL || PQstatus(c) != CONNECTION_OK;
	if (res_ok(r))
		return r;
	if (r != NULL && !*dead)
		log_warnx("store: %s", oneline(PQresultErrorMessage(r),
		    (char[256]){ 0 }, 256));
	PQclear(r);
	return NULL;
}

static int64_t
val64(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/*
 * Feed the ring every row of R (seq, time, name, host, text) newer than
 * the newest fed, in order.  Caller holds feed_mu.
 */
static void
feed_rows(struct pgstore *p, const PGresult *r)
{
	uint64_t	seq;
	int		i;

	for (i = 0; i < PQntuples(r); i++) {
		seq = (uint64_t)val64(r, i, 0);
		if (seq <= atomic_load(&p->fed))
			continue;
		if (p->feed_cb != NULL)
			p->feed_cb(p->feed_arg, seq, val64(r, i, 1),
			    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
			    PQgetvalue(r, i, 4));
		atomic_store(&p->fed, seq);
	}
}

/*
 * Read and feed what is newer than the ring, on C, up to UPTO (0: all).
 * HELD: the caller holds feed_mu; else it is taken only to feed, so a
 * slow read never holds up the main thread.  -1 if C failed.
 */
static int
catch_up(struct pgstore *p, PGconn *c, uint64_t upto, int held)
{
	PGresult	*r;
	char		 from[24];
	const char	*vals[2];
	uint64_t	 have;
	int		 n, dead;

	for (;;) {
		have = atomic_load(&p->fed);
		if (upto != 0 && have >= upto)
			return 0;
		snprintf(from, sizeof(from), "%" PRIu64, have);
		vals[0] = from;
		vals[1] = PG_FEED_BATCH;
		if ((r = query(c, sql_since, 2, vals, &dead)) == NULL)
			return dead ? -1 : 0;
		if (!held)
			pthread_mutex_lock(&p->feed_mu);
		feed_rows(p, r);
		if (!held)
			pthread_mutex_unlock(&p->feed_mu);
		n = PQntuples(r);
		PQclear(r);
		if (n < atoi(PG_FEED_BATCH))
			return 0;
	}
}

/* Connect C to completion (blocking, bounded by connect_timeout). */
static PGconn *
connect_now(struct pgstore *p)
{
	const char	*vals[8];
	PGconn		*c;

	conn_values(p, vals);
	c = PQconnectdbParams(conn_keys, vals, 1);
	if (c != NULL && PQstatus(c) == CONNECTION_OK)
		PQsetNoticeProcessor(c, notice, NULL);
	return c;
}

/* A new connection for the main thread, which lost its own. */
static void
make_spare(struct pgstore *p)
{
	PGconn	*c;
	char	 buf[512];

	c = connect_now(p);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		log_debug("store: reconnect to %s failed: %s", p->desc,
		    oneline(c != NULL ? PQerrorMessage(c) : "out of memory",
		    buf, sizeof(buf)));
		PQfinish(c);
		return;
	}
	pthread_mutex_lock(&p->feed_mu);
	if (p->spare != NULL)
		PQfinish(p->spare);
	p->spare = c;
	pthread_mutex_unlock(&p->feed_mu);
	atomic_store(&p->want, 0);
}

/*
 * The feed thread: LISTEN on its own connection, and on every
 * notification or PG_CATCHUP_MS, feed the ring what other daemons
 * committed and refresh the counter for STATS.
 */
static void *
feed_main(void *arg)
{
	struct pgstore	*p = arg;
	PGconn		*c = NULL;
	PGnotify	*nf;
	PGresult	*r;
	struct pollfd	 pfd;
	int		 i, dead, listening = 0;

	while (!atomic_load(&p->quit)) {
		if (atomic_load(&p->want))
			make_spare(p);
		if (c == NULL || PQstatus(c) != CONNECTION_OK) {
			if (c != NULL)
				PQfinish(c);
			listening = 0;
			c = connect_now(p);
		}
		if (c == NULL || PQstatus(c) != CONNECTION_OK) {
			/* Down: try again in a second, quit-aware. */
			for (i = 0; i < 10 && !atomic_load(&p->quit); i++)
				poll(NULL, 0, 100);
			continue;
		}
		/*
		 * LISTEN again after a refusal too (a standby: "cannot
		 * execute LISTEN during recovery"), each round, not only on
		 * a new connection; meanwhile the catch-up feeds the ring.
		 */
		if (!listening && (r = query(c, "LISTEN " PG_CHANNEL, 0, NULL,
		    &dead)) != NULL) {
			PQclear(r);
			listening = 1;
			log_debug("store: listening for chat on %s", p->desc);
		}
		/* A failed read: a fresh connection, and LISTEN again. */
		if (catch_up(p, c, 0, 0) == -1) {
			PQfinish(c);
			c = NULL;
			continue;
		}
		if ((r = query(c, "SELECT value FROM bart_counter WHERE id = 0",
		    0, NULL, &dead)) != NULL) {
			if (PQntuples(r) == 1)
				atomic_store(&p->counter, val64(r, 0, 0));
			PQclear(r);
		} else if (dead) {
			PQfinish(c);
			c = NULL;
			continue;
		}
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN;
		if (pfd.fd >= 0 && poll(&pfd, 1, PG_CATCHUP_MS) > 0 &&
		    !PQconsumeInput(c))
			continue;	/* dropped: reconnect, catch up */
		while ((nf = PQnotifies(c)) != NULL)
			PQfreemem(nf);
	}
	if (c != NULL)
		PQfinish(c);
	return NULL;
}

/*
 * Create the schema if there is none, under an advisory lock so that
 * daemons starting together do not race; refuse a newer one.
 */
static int
schema(struct pgstore *p)
{
	PGresult	*r;
	char		 buf[512];
	long long	 v = 0;
	int		 rc = -1, have;

	if ((r = PQexec(p->conn, "SELECT pg_advisory_lock(" PG_LOCK_KEY
	    ")")) == NULL || PQresultStatus(r) != PGRES_TUPLES_OK)
		goto sqlfail;
	PQclear(r);
	if ((r = PQexec(p->conn, "SELECT to_regclass('bart_meta') IS NOT "
	    "NULL")) == NULL || PQresultStatus(r) != PGRES_TUPLES_OK)
		goto sqlfail;
	have = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (have) {
		if ((r = PQexec(p->conn, "SELECT value FROM bart_meta WHERE "
		    "key = 'schema'")) == NULL ||
		    PQresultStatus(r) != PGRES_TUPLES_OK)
			goto sqlfail;
		if (PQntuples(r) == 1)
			v = val64(r, 0, 0);
		PQclear(r);
		r = NULL;
		if (v > PG_SCHEMA_VERSION) {
			log_warnx("store: the database (%s) has bart schema "
			    "version %lld; this bart_svc knows only up to %d: "
			    "upgrade bart_svc", p->desc, v, PG_SCHEMA_VERSION);
			goto out;
		}
		if (v < 1) {
			log_warnx("store: the database (%s) has a bart_meta "
			    "table without a schema version: not bart's?",
			    p->desc);
			goto out;
		}
	} else {
		if ((r = PQexec(p->conn, sql_schema)) == NULL ||
		    PQresultStatus(r) != PGRES_COMMAND_OK)
			goto sqlfail;
		PQclear(r);
		r = NULL;
		log_info("store: created bart's tables (schema version %d) "
		    "in %s", PG_SCHEMA_VERSION, p->desc);
	}
	rc = 0;
	goto out;
sqlfail:
	log_warnx("store: cannot set up bart's tables in %s: %s", p->desc,
	    oneline(r != NULL ? PQresultErrorMessage(r) :
	    PQerrorMessage(p->conn), buf, sizeof(buf)));
out:
	PQclear(r);
	PQclear(PQexec(p->conn, "SELECT pg_advisory_unlock(" PG_LOCK_KEY ")"));
	return rc;
}

/* Counter and newest message, right after connecting. */
static int
load(struct pgstore *p)
{
	PGresult	*r;
	int		 dead;

	if ((r = query(p->conn, "SELECT (SELECT value FROM bart_counter "
	    "WHERE id = 0), (SELECT seq FROM bart_chatseq WHERE id = 0)", 0,
	    NULL, &dead)) == NULL || PQntuples(r) != 1) {
		PQclear(r);
		log_warnx("store: cannot read bart's tables in %s", p->desc);
		return -1;
	}
	atomic_store(&p->counter, val64(r, 0, 0));
	atomic_store(&p->fed, (uint64_t)val64(r, 0, 1));
	PQclear(r);
	return 0;
}

static void	*work_main(void *);

/*
 * Does the URI S carry a password (postgres[ql]://user:password@...,
 * or ?password=...)?
 * libpq's parse errors quote pieces of the URI, so for such a string
 * they are never logged.
 */
static int
uri_secret(const char *s)
{
	const char	*at, *end, *p;

	if (strncmp(s, "postgresql://", 13) == 0)
		s += 13;
	else if (strncmp(s, "postgres://", 11) == 0)
		s += 11;
	else
		return 0;
	/* The last '@' before any '?': a '/' in a password counts too. */
	end = s + strcspn(s, "?");
	for (at = NULL, p = s; p < end; p++)
		if (*p == '@')
			at = p;
	if (strstr(end, "password=") != NULL)	/* ?password=... */
		return 1;
	return at != NULL && memchr(s, ':', (size_t)(at - s)) != NULL;
}

/*
 * A dbname that is itself a connection string or URI (libpq accepts
 * one there) with a password in it: as good as one in CONNINFO, and
 * the logs name dbname.
 */
static int
dbname_secret(const char *v)
{
	PQconninfoOption	*opts, *o;
	char			*err = NULL;
	int			 found = 0;

	if (uri_secret(v))
		return 1;
	if (strchr(v, '=') == NULL)
		return 0;
	if ((opts = PQconninfoParse(v, &err)) == NULL) {
		PQfreemem(err);
		return 0;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    *o->val != '\0')
			found = 1;
	PQconninfoFree(opts);
	return found;
}

/*
 * Open the store CONNINFO (a libpq connection string or URI).  NULL on
 * failure, with one line logged: bad string, password in it, no
 * connection (wrong password, unreachable), or a schema we do not know.
 */
struct pgstore *
pgstore_open(const char *conninfo)
{
	struct pgstore		*p;
	PQconninfoOption	*opts, *o;
	struct epoll_event	 ev;
	char			*err = NULL, buf[1024];

	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		if (uri_secret(conninfo))
			log_warnx("--store: not a valid PostgreSQL URI (libpq's "
			    "words withheld: they quote the URI, and it holds "
			    "a password, which belongs in ~/.pgpass)");
		else
			log_warnx("--store: not a valid PostgreSQL connection "
			    "string: %s", oneline(err, buf, sizeof(buf)));
		PQfreemem(err);
		return NULL;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val != NULL && ((strcmp(o->keyword, "password") == 0 &&
		    *o->val != '\0') || (strcmp(o->keyword, "dbname") == 0 &&
		    dbname_secret(o->val)))) {
			log_warnx("--store: no password in the connection "
			    "string (it would show in ps and logs): put it in "
			    "~/.pgpass, PGPASSFILE or a PGSERVICE file");
			PQconninfoFree(opts);
			return NULL;
		}
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->conninfo = strdup(conninfo)) == NULL) {
		log_warnx("out of memory");
		PQconninfoFree(opts);
		free(p);
		return NULL;
	}
	p->done_fd = p->ev_fd = p->fast_fd = p->tm_fd = -1;
	describe(p, opts);
	PQconninfoFree(opts);
	pthread_mutex_init(&p->feed_mu, NULL);
	pthread_mutex_init(&p->jobs_mu, NULL);
	pthread_cond_init(&p->jobs_cv, NULL);
	pthread_mutex_init(&p->conn_mu, NULL);
	if ((p->ev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (p->tm_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) == -1 ||
	    (p->done_fd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("store: eventfd, timerfd, epoll");
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = p->ev_fd;
	if (epoll_ctl(p->done_fd, EPOLL_CTL_ADD, p->ev_fd, &ev) == -1 ||
	    (ev.data.fd = p->tm_fd, epoll_ctl(p->done_fd, EPOLL_CTL_ADD,
	    p->tm_fd, &ev)) == -1) {
		log_warn("store: epoll_ctl");
		goto fail;
	}
	if ((p->conn = connect_now(p)) == NULL ||
	    PQstatus(p->conn) != CONNECTION_OK) {
		log_warnx("store: cannot connect to PostgreSQL (%s): %s",
		    p->desc, oneline(p->conn != NULL ?
		    PQerrorMessage(p->conn) : "out of memory", buf,
		    sizeof(buf)));
		goto fail;
	}
	if (schema(p) == -1 || load(p) == -1)
		goto fail;
	atomic_store(&p->up, 1);
	log_info("store: PostgreSQL %s, counter %" PRId64 ", newest message "
	    "%" PRIu64, p->desc, atomic_load(&p->counter),
	    atomic_load(&p->fed));
	return p;
fail:
	pgstore_close(p);
	return NULL;
}

/*
 * Start feeding the ring: CB gets every message newer than the newest
 * at open (the caller has put those into the ring), in order.
 */
void
pgstore_feed(struct pgstore *p, store_msg_cb cb, void *arg)
{
	sigset_t	all, old;

	pthread_mutex_lock(&p->feed_mu);
	p->feed_cb = cb;
	p->feed_arg = arg;
	pthread_mutex_unlock(&p->feed_mu);
	if (atomic_load(&p->working))
		return;
	/* ORDER: the connection is the worker's from here on. */
	if (PQsetnonblocking(p->conn, 1) == -1)
		log_warnx("store: cannot make the connection non-blocking");
	/* ORDER: signals go to the main thread (its epoll_wait), never here. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&p->worker, NULL, work_main, p) != 0)
		fatalx("store: cannot start the database worker thread");
	atomic_store(&p->working, 1);
	if (pthread_create(&p->thread, NULL, feed_main, p) != 0)
		log_warnx("store: no chat feed thread: messages sent through "
		    "other servers reach this one's subscribers only by "
		    "polling");
	else
		p->thread_started = 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/*
 * Join the feed thread, for PG_JOIN_S at most: it may sit in a blocking
 * PQconnectdb (connect_timeout per host).  -1 if it has not ended: the
 * process is exiting, so it is left running, with all it uses.
 */
static int
feed_join(struct pgstore *p)
{
	struct timespec	ts;
	int		rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += PG_JOIN_S;
	if ((rc = pthread_timedjoin_np(p->thread, NULL, &ts)) == 0)
		return 0;
	log_warnx("store: the feed thread is still connecting; left to exit "
	    "with the process");
	return -1;
}

/*
 * At exit: stop the worker, and put every job still queued or in hand
 * on the done list, so that pgstore_done hands each back (to be freed,
 * not answered: nobody is left to answer).  Called again by
 * pgstore_close, where it does nothing.
 */
void
pgstore_stop(struct pgstore *p)
{
	struct inflight		*fl;
	struct store_job	*j;
	int			 i;

	if (p == NULL || p->stopped)
		return;
	p->stopped = 1;
	fl = &p->fl;
	/* ORDER: the loop's fast path lets go first: the worker may wait. */
	if (p->fast) {
		p->fast = 0;
		pthread_mutex_unlock(&p->conn_mu);
	}
	atomic_store(&p->quit, 1);
	if (atomic_load(&p->working)) {
		pthread_mutex_lock(&p->jobs_mu);
		pthread_cond_broadcast(&p->jobs_cv);
		pthread_mutex_unlock(&p->jobs_mu);
		pthread_join(p->worker, NULL);
	}
	/* Nothing more into the ring, which is freed before we are; the
	 * feed thread may outlive pgstore_close (feed_join). */
	pthread_mutex_lock(&p->feed_mu);
	p->feed_cb = NULL;
	pthread_mutex_unlock(&p->feed_mu);
	/* The worker has ended: what it left in fl, then the queue. */
	pthread_mutex_lock(&p->jobs_mu);
	for (i = 0; i < fl->n; i++) {
		fl->js[i]->next = NULL;
		if (p->d_tail != NULL)
			p->d_tail->next = fl->js[i];
		else
			p->d_head = fl->js[i];
		p->d_tail = fl->js[i];
	}
	fl->n = 0;
	p->fl_sent = 0;
	if ((j = p->q_head) != NULL) {
		if (p->d_tail != NULL)
			p->d_tail->next = j;
		else
			p->d_head = j;
		p->d_tail = p->q_tail;
		p->q_head = p->q_tail = NULL;
	}
	pthread_mutex_unlock(&p->jobs_mu);
}

void
pgstore_close(struct pgstore *p)
{
	if (p == NULL)
		return;
	pgstore_stop(p);
	if (p->thread_started && feed_join(p) == -1)
		return;
	if (p->spare != NULL)
		PQfinish(p->spare);
	if (p->conn != NULL)
		PQfinish(p->conn);
	pthread_mutex_destroy(&p->feed_mu);
	pthread_mutex_destroy(&p->jobs_mu);
	pthread_cond_destroy(&p->jobs_cv);
	if (p->done_fd != -1)
		close(p->done_fd);
	if (p->ev_fd != -1)
		close(p->ev_fd);
	if (p->tm_fd != -1)
		close(p->tm_fd);
	pthread_mutex_destroy(&p->conn_mu);
	free(p->conninfo);
	free(p);
}

/* The newest total this daemon has seen (STATS: never waits). */
int64_t
pgstore_count_get(struct pgstore *p)
{
	return atomic_load(&p->counter);
}

/* Add UP to the shared counter with the request identity, at once. */
static bart_status
count_add(struct pgstore *p, const bart_reqid *id, int64_t up,
    int64_t *total)
{
	PGresult	*r;
	char		 client[24], seq[24], upb[24], now[24];
	const char	*vals[4] = { client, seq, upb, now };
	bart_status	 st;
	int		 dead;

	if (up < 0)
		return BART_ENEGATIVE;
	if (up == 0) {			/* a read of the shared total */
		if (p->conn == NULL)
			return BART_EUNAVAIL;
		if ((r = query(p->conn, "SELECT value FROM bart_counter WHERE "
		    "id = 0", 0, NULL, &dead)) == NULL || PQntuples(r) != 1) {
			PQclear(r);
			if (dead) {
				lost(p, PQstatus(p->conn) != CONNECTION_OK ?
				    PQerrorMessage(p->conn) : "no answer");
				return BART_EUNAVAIL;
			}
			return BART_ESTORE;
		}
		*total = val64(r, 0, 0);
		atomic_store(&p->counter, *total);
		PQclear(r);
		return BART_OK;
	}
	snprintf(client, sizeof(client), "%" PRId64,
	    id != NULL ? (int64_t)id->client : 0);
	snprintf(seq, sizeof(seq), "%" PRId64,
	    id != NULL ? (int64_t)id->seq : 0);
	snprintf(upb, sizeof(upb), "%" PRId64, up);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if ((st = change(p, sql_count, 4, vals, &r)) != BART_OK)
		return st;
	if (PQntuples(r) != 1) {	/* no increment, no earlier answer */
		PQclear(r);
		return BART_EOVERFLOW;
	}
	*total = val64(r, 0, 0);
	PQclear(r);
	if (*total > atomic_load(&p->counter))
		atomic_store(&p->counter, *total);
	return BART_OK;
}

static int	direct(struct pgstore *);

/* For tests and recovery tools: set the counter outright. */
int
pgstore_count_set(struct pgstore *p, int64_t v)
{
	PGresult	*r;
	char		 b[24];
	const char	*vals[1] = { b };

	if (!direct(p))
		return -1;
	snprintf(b, sizeof(b), "%" PRId64, v);
	if (change(p, "UPDATE bart_counter SET value = $1 WHERE id = 0", 1,
	    vals, &r) != BART_OK)
		return -1;
	PQclear(r);
	atomic_store(&p->counter, v);
	return 0;
}

/*
 * Store one chat message; *seq gets its number (or the first one's).
 * A new message goes into the ring here, after every earlier one (the
 * gap read on this connection under feed_mu), so the ring stays in
 * order whichever thread learns of a message first.
 */
static void	feed_new(struct pgstore *, uint64_t, int64_t, const char *,
		    const char *, const char *);

static bart_status
chat_add(struct pgstore *p, const bart_reqid *id, int64_t when,
    const char *name, const char *host, const char *text, uint64_t *seq)
{
	PGresult	*r;
	char		 client[24], rseq[24], w[24], now[24];
	const char	*vals[7] = { client, rseq, w, name, host, text, now };
	bart_status	 st;
	int		 old;

	snprintf(client, sizeof(client), "%" PRId64,
	    id != NULL ? (int64_t)id->client : 0);
	snprintf(rseq, sizeof(rseq), "%" PRId64,
	    id != NULL ? (int64_t)id->seq : 0);
	snprintf(w, sizeof(w), "%" PRId64, when);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if ((st = change(p, sql_chat, 7, vals, &r)) != BART_OK)
		return st;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return BART_ESTORE;
	}
	*seq = (uint64_t)val64(r, 0, 0);
	old = strcmp(PQgetvalue(r, 0, 1), "1") == 0;
	PQclear(r);
	if (!old)
		feed_new(p, *seq, when, name, host, text);
	return BART_OK;
}

/*
 * A new message, committed: into the ring after every earlier one (the
 * gap read on the worker's connection under feed_mu), so the ring stays
 * in order whichever thread learns of a message first.
 */
static void
feed_new(struct pgstore *p, uint64_t seq, int64_t when, const char *name,
    const char *host, const char *text)
{
	int	gap_lost = 0;

	pthread_mutex_lock(&p->feed_mu);
	if (seq > atomic_load(&p->fed)) {
		/* Fill the gap first; if that read fails, the feed will. */
		if (seq - 1 > atomic_load(&p->fed) && p->conn != NULL &&
		    catch_up(p, p->conn, seq - 1, 1) == -1)
			gap_lost = 1;
		if (seq == atomic_load(&p->fed) + 1) {
			if (p->feed_cb != NULL)
				p->feed_cb(p->feed_arg, seq, when, name, host,
				    text);
			atomic_store(&p->fed, seq);
		}
	}
	pthread_mutex_unlock(&p->feed_mu);
	if (gap_lost)		/* committed: the message stands; the feed */
		lost(p, "no answer");	/* thread brings it to the ring */
}

/* 1 and *SEQ if identity ID already stored a message; 0 if not or unknown. */
static int
chat_known(struct pgstore *p, const bart_reqid *id, uint64_t *seq)
{
	PGresult	*r;
	char		 client[24], rseq[24];
	const char	*vals[2] = { client, rseq };
	int		 dead, found = 0;

	if (id == NULL || id->client == 0 || p->conn == NULL)
		return 0;
	snprintf(client, sizeof(client), "%" PRId64, (int64_t)id->client);
	snprintf(rseq, sizeof(rseq), "%" PRId64, (int64_t)id->seq);
	if ((r = query(p->conn, "SELECT result FROM bart_reqs WHERE "
	    "client = $1 AND seq = $2 AND kind = 1", 2, vals, &dead)) == NULL) {
		if (dead)
			lost(p, "no answer");
		return 0;
	}
	if (PQntuples(r) == 1) {
		*seq = (uint64_t)val64(r, 0, 0);
		found = 1;
	}
	PQclear(r);
	return found;
}

/* The newest message in this daemon's ring. */
uint64_t
pgstore_chat_newest(struct pgstore *p)
{
	return atomic_load(&p->fed);
}

/*
 * Messages after SEQ in order, at most MAX; how many, or -1 with *ST:
 * BART_EUNAVAIL if the database cannot be reached, else BART_ESTORE.
 */
static int
chat_since(struct pgstore *p, uint64_t seq, unsigned int max,
    store_msg_cb cb, void *arg, bart_status *st)
{
	PGresult	*r;
	char		 from[24], lim[16];
	const char	*vals[2] = { from, lim };
	int		 i, n, dead;

	if (seq > (uint64_t)INT64_MAX)
		seq = (uint64_t)INT64_MAX;
	snprintf(from, sizeof(from), "%" PRIu64, seq);
	snprintf(lim, sizeof(lim), "%u", max);
	*st = BART_OK;
	if (p->conn == NULL || (r = query(p->conn, sql_since, 2, vals,
	    &dead)) == NULL) {
		*st = BART_ESTORE;
		if (p->conn == NULL || dead) {
			if (p->conn != NULL)
				lost(p, PQstatus(p->conn) != CONNECTION_OK ?
				    PQerrorMessage(p->conn) : "no answer");
			*st = BART_EUNAVAIL;
		}
		log_warnx("cannot read the chat history from PostgreSQL (a "
		    "read: nothing was changed)");
		return -1;
	}
	n = PQntuples(r);
	for (i = 0; i < n; i++)
		if (cb(arg, (uint64_t)val64(r, i, 0), val64(r, i, 1),
		    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
		    PQgetvalue(r, i, 4)) != 0) {
			n = i + 1;
			break;
		}
	PQclear(r);
	return n;
}

/* A housekeeping statement: -1 if it failed (changes nothing else). */
static int
maintain(struct pgstore *p, const char *sql, int n, const char *const *vals)
{
	PGresult	*r;
	int		 rows;

	if (change(p, sql, n, vals, &r) != BART_OK)
		return -1;
	rows = atoi(PQcmdTuples(r));
	PQclear(r);
	return rows;
}

static int
prune(struct pgstore *p, int64_t before)
{
	char		 b[24];
	const char	*vals[1] = { b };

	snprintf(b, sizeof(b), "%" PRId64, before);
	return maintain(p, "DELETE FROM bart_reqs WHERE time < $1", 1, vals) <
	    0 ? -1 : 0;
}

static long long
reqs_count(struct pgstore *p)
{
	PGresult	*r;
	long long	 n;
	int		 dead;

	if (p->conn == NULL || (r = query(p->conn,
	    "SELECT count(*) FROM bart_reqs", 0, NULL, &dead)) == NULL) {
		if (p->conn != NULL && dead)
			lost(p, "no answer");
		return -1;
	}
	n = val64(r, 0, 0);
	PQclear(r);
	return n;
}

static int
reqs_trim(struct pgstore *p, unsigned int max)
{
	long long	 n = reqs_count(p);
	char		 b[24];
	const char	*vals[1] = { b };

	if (n < 0)
		return -1;
	if (n <= (long long)max)
		return 0;
	snprintf(b, sizeof(b), "%lld", n - (long long)max);
	return maintain(p, "DELETE FROM bart_reqs WHERE (client, seq, kind) "
	    "IN (SELECT client, seq, kind FROM bart_reqs ORDER BY time "
	    "LIMIT $1)", 1, vals) < 0 ? -1 : 0;
}

/*
 * Keep the newest MAX messages.  Every daemon may run it; the DELETE is
 * the same for all of them.  The number deleted, or -1.
 */
static int
chat_cap(struct pgstore *p, unsigned int max)
{
	uint64_t	 newest = atomic_load(&p->fed), upto;
	char		 b[24];
	const char	*vals[1] = { b };
	int		 n;

	if (max == 0 || newest <= max || p->conn == NULL)
		return 0;
	upto = newest - max;
	if (upto <= p->capped)
		return 0;
	snprintf(b, sizeof(b), "%" PRIu64, upto);
	if ((n = maintain(p, "DELETE FROM bart_msgs WHERE seq <= $1", 1,
	    vals)) < 0)
		return -1;
	p->capped = upto;
	if (n > 0)
		log_debug("history cap %u: pruned %d messages up to %" PRIu64,
		    max, n, upto);
	return n;
}

/*
 * Notice a connection the server closed, and take over the one the
 * feed thread made for us.  0 if connected, -1 if not.
 */
static int
conn_check(struct pgstore *p)
{
	PGconn	*c;

	if (p->conn != NULL) {
		if (PQconsumeInput(p->conn) && PQstatus(p->conn) ==
		    CONNECTION_OK)
			return 0;
		lost(p, PQerrorMessage(p->conn));
	}
	pthread_mutex_lock(&p->feed_mu);
	c = p->spare;
	p->spare = NULL;
	pthread_mutex_unlock(&p->feed_mu);
	if (c == NULL)
		return -1;
	if (PQstatus(c) != CONNECTION_OK) {	/* went bad while waiting */
		PQfinish(c);
		atomic_store(&p->want, 1);
		return -1;
	}
	/* Non-blocking: the pipeline's sends never wait for the server. */
	if (PQsetnonblocking(c, 1) == -1)
		log_warnx("store: cannot make the connection non-blocking");
	p->conn = c;
	p->down_logged = 0;
	atomic_store(&p->up, 1);
	log_info("store: connected to PostgreSQL again (%s)", p->desc);
	/* What other daemons committed meanwhile reaches the ring now. */
	if (catch_up(p, p->conn, 0, 0) == -1) {
		lost(p, "no answer");
		return -1;
	}
	return 0;
}

/* ---- the RPC thread's calls ------------------------------------------ */

static void	group_send(struct pgstore *, struct inflight *);
static int	group_recv(struct pgstore *, struct inflight *, int);
static struct store_job *fast_end(struct pgstore *, int);
static void	fast_timer(struct pgstore *, int);

/*
 * May the calling thread use the connection itself?  Only before the
 * worker runs (opening, the ring's first fill, unit tests) and on the
 * worker: once it runs, the RPC thread submits jobs instead.
 */
static int
direct(struct pgstore *p)
{
	if (!atomic_load(&p->working) || pthread_equal(pthread_self(),
	    p->worker))
		return 1;
	log_warnx("store: a PostgreSQL statement off the database worker "
	    "(refused: it would hold the loop)");
	return 0;
}

bart_status
pgstore_count_add(struct pgstore *p, const bart_reqid *id, int64_t up,
    int64_t *total)
{
	if (!direct(p))
		return BART_EUNAVAIL;
	return count_add(p, id, up, total);
}

bart_status
pgstore_chat_add(struct pgstore *p, const bart_reqid *id, int64_t when,
    const char *name, const char *host, const char *text, uint64_t *seq)
{
	if (!direct(p))
		return BART_EUNAVAIL;
	return chat_add(p, id, when, name, host, text, seq);
}

int
pgstore_chat_known(struct pgstore *p, const bart_reqid *id, uint64_t *seq)
{
	if (!direct(p))
		return 0;
	return chat_known(p, id, seq);
}

int
pgstore_chat_since(struct pgstore *p, uint64_t seq, unsigned int max,
    store_msg_cb cb, void *arg)
{
	bart_status	st;

	if (!direct(p))
		return -1;
	return chat_since(p, seq, max, cb, arg, &st);
}

/* Housekeeping asks; the worker prunes when it has nothing else to do. */
int
pgstore_prune(struct pgstore *p, int64_t before)
{
	if (atomic_load(&p->working)) {
		atomic_store(&p->prune_before, before > 0 ? before : 1);
		return 0;
	}
	return prune(p, before);
}

long long
pgstore_reqs_count(struct pgstore *p)
{
	if (!direct(p))
		return -1;
	return reqs_count(p);
}

int
pgstore_reqs_trim(struct pgstore *p, unsigned int max)
{
	if (atomic_load(&p->working)) {
		atomic_store(&p->trim_max, max + 1);
		return 0;
	}
	return reqs_trim(p, max);
}

int
pgstore_chat_cap(struct pgstore *p, unsigned int max)
{
	if (atomic_load(&p->working)) {
		atomic_store(&p->cap_max, max);
		return 0;
	}
	return chat_cap(p, max);
}

/* 0 if the store has a connection now, -1 if not (never waits). */
int
pgstore_check(struct pgstore *p)
{
	if (atomic_load(&p->working)) {
		/* A fast path past its deadline: the worker finishes it
		 * (what came in time, or the connection is dropped). */
		if (p->fast && util_now_us() >= p->fl.deadline)
			fast_end(p, 0);
		return atomic_load(&p->up) ? 0 : -1;
	}
	return conn_check(p);
}

/* Does the store run calls on its worker (store_submit)? */
int
pgstore_defers(struct pgstore *p)
{
	return atomic_load(&p->working);
}

/*
 * Hand job J to the worker (woken by pgstore_kick); the store owns it
 * until pgstore_done gives it back.  -1 if refused (PG_JOBS_MAX waiting, or no worker): the
 * caller answers at once.
 */
int
pgstore_submit(struct pgstore *p, struct store_job *j)
{
	if (!atomic_load(&p->working))
		return -1;
	pthread_mutex_lock(&p->jobs_mu);
	if (p->njobs >= PG_JOBS_MAX) {
		pthread_mutex_unlock(&p->jobs_mu);
		return -1;
	}
	p->njobs++;
	j->next = NULL;
	if (p->q_tail != NULL)
		p->q_tail->next = j;
	else
		p->q_head = j;
	p->q_tail = j;
	pthread_mutex_unlock(&p->jobs_mu);
	return 0;
}

/*
 * Wake the worker for what was submitted (the loop calls it once at the
 * end of a round): the calls of one round go to the worker together,
 * one group, and it is woken once, not once per call.
 */
void
pgstore_kick(struct pgstore *p)
{
	struct inflight		*fl = &p->fl;
	struct store_job	*j;
	struct epoll_event	 ev;

	pthread_mutex_lock(&p->jobs_mu);
	if ((j = p->q_head) == NULL || !p->idle || p->fast || p->fl_sent) {
		pthread_mutex_unlock(&p->jobs_mu);
		return;
	}
	/*
	 * The fast path: the worker waits, one call is queued (not a chat
	 * line, whose ring feed may read), the connection is free at once.
	 * The loop sends it and reads its answer as the socket becomes
	 * readable (done_fd), never waiting: the two hand-overs between
	 * threads that would lengthen a lone call are gone.
	 */
	if (j->next == NULL && j->op != STORE_OP_CHAT &&
	    atomic_load(&p->up) && pthread_mutex_trylock(&p->conn_mu) == 0) {
		if (p->conn != NULL && fl->n == 0) {
			p->q_head = p->q_tail = NULL;
			fl->js[0] = j;
			fl->n = 1;
			group_send(p, fl);
			memset(&ev, 0, sizeof(ev));
			ev.events = EPOLLIN;
			ev.data.fd = PQsocket(p->conn);
			p->fast = 1;
			/*
			 * ORDER: all of it sent first: the loop waits for the
			 * answer only (EPOLLIN), so a statement left half in
			 * libpq's buffer would wait for the deadline.
			 */
			if (!fl->broken && PQflush(p->conn) == 0 &&
			    epoll_ctl(p->done_fd, EPOLL_CTL_ADD, ev.data.fd,
			    &ev) == 0) {
				p->fast_fd = ev.data.fd;
				fast_timer(p, PG_CALL_MS);
				pthread_mutex_unlock(&p->jobs_mu);
				return;		/* conn_mu stays with the loop */
			}
			p->fast = 0;		/* the worker takes it from here */
			p->fl_sent = 1;
		}
		pthread_mutex_unlock(&p->conn_mu);
	}
	pthread_cond_signal(&p->jobs_cv);
	pthread_mutex_unlock(&p->jobs_mu);
}

/*
 * The fast path's deadline: done_fd becomes readable MS from now (0:
 * never), so the loop hands a silent call over on time, not at the next
 * housekeeping.
 */
static void
fast_timer(struct pgstore *p, int ms)
{
	struct itimerspec	its;
	uint64_t		n;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	if (timerfd_settime(p->tm_fd, 0, &its, NULL) == -1)
		log_warn("store: timerfd");
	if (ms == 0 && read(p->tm_fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("store: timerfd");
}

/*
 * The loop's fast path ends: its job is done (DONE: returned to the
 * caller), or what is left goes over to the worker.
 */
static struct store_job *
fast_end(struct pgstore *p, int done)
{
	struct store_job	*j = NULL;

	epoll_ctl(p->done_fd, EPOLL_CTL_DEL, p->fast_fd, NULL);
	p->fast_fd = -1;
	fast_timer(p, 0);
	pthread_mutex_lock(&p->jobs_mu);
	p->fast = 0;
	if (done) {
		j = p->fl.js[0];
		p->fl.n = 0;
		p->njobs--;
	} else
		p->fl_sent = 1;
	pthread_mutex_unlock(&p->conn_mu);
	/* Jobs queued meanwhile, or the hand-over: the worker's now. */
	if (p->q_head != NULL || !done)
		pthread_cond_signal(&p->jobs_cv);
	pthread_mutex_unlock(&p->jobs_mu);
	return j;
}

/* The loop's fast path: read what came; its job once it is done. */
static struct store_job *
fast_step(struct pgstore *p)
{
	switch (group_recv(p, &p->fl, 0)) {
	case RECV_MORE:
		if (util_now_us() < p->fl.deadline)
			return NULL;
		return fast_end(p, 0);	/* the worker says it is lost */
	case RECV_DONE:
		return fast_end(p, 1);
	default:
		return fast_end(p, 0);
	}
}

/*
 * The next finished job, in the order they were submitted, or NULL.
 * The loop calls it when pgstore_done_fd is readable.
 */
struct store_job *
pgstore_done(struct pgstore *p)
{
	struct store_job	*j;
	uint64_t		 n;

	/* ORDER: the worker's are older than the fast path's job. */
	pthread_mutex_lock(&p->jobs_mu);
	if ((j = p->d_head) != NULL) {
		if ((p->d_head = j->next) == NULL)
			p->d_tail = NULL;
		j->next = NULL;
		p->njobs--;
	} else if (read(p->ev_fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("store: eventfd");
	pthread_mutex_unlock(&p->jobs_mu);
	if (j == NULL && p->fast)
		j = fast_step(p);
	return j;
}

int
pgstore_done_fd(struct pgstore *p)
{
	return p->done_fd;
}

/* ---- the worker ------------------------------------------------------ */

/* Is job J a change (its outcome unknown if the commit's is)? */
static int
job_changes(const struct store_job *j)
{
	return j->op == STORE_OP_CHAT || (j->op == STORE_OP_COUNT &&
	    j->up > 0);
}

/*
 * Job J's class for grouping: changing counts, chat lines, the rest.
 * A group holds one class only: a chat line's transaction NOTIFYs (a
 * cluster-wide lock at commit) which a count must never wait for, and
 * a count and a chat line in one transaction lock bart_counter and
 * bart_chatseq in call order, which deadlocks against another server
 * doing the reverse.
 */
static int
job_class(const struct store_job *j)
{
	if (j->op == STORE_OP_CHAT)
		return 1;
	if (j->op == STORE_OP_COUNT && j->up > 0)
		return 0;
	return 2;
}

/* Run job J alone, in its own transaction. */
static void
job_alone(struct pgstore *p, struct store_job *j)
{
	switch (j->op) {
	case STORE_OP_COUNT:
		j->st = count_add(p, &j->id, j->up, &j->total);
		break;
	case STORE_OP_CHAT:
		j->st = chat_add(p, &j->id, j->when, j->name, j->host, j->text,
		    &j->seq);
		break;
	case STORE_OP_SINCE:
		j->rows = chat_since(p, j->after, j->max, j->cb, j->cb_arg,
		    &j->st);
		break;
	case STORE_OP_KNOWN:
		j->found = chat_known(p, &j->id, &j->seq);
		j->st = BART_OK;
		break;
	case STORE_OP_PROBE:
		j->st = p->conn == NULL ? BART_EUNAVAIL :
		    count_add(p, NULL, 0, &j->total);
		break;
	}
}


static const char sql_total[] = "SELECT value FROM bart_counter WHERE id = 0";
static const char sql_known[] = "SELECT result FROM bart_reqs WHERE "
    "client = $1 AND seq = $2 AND kind = 1";

/*
 * Job J's statement into Q (the same as job_alone's).  0 if J needs
 * none: its outcome is set already.
 */
static int
job_sql(struct store_job *j, struct jsql *q)
{
	char	now[24];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	snprintf(q->b[0], sizeof(q->b[0]), "%" PRId64, (int64_t)j->id.client);
	snprintf(q->b[1], sizeof(q->b[1]), "%" PRId64, (int64_t)j->id.seq);
	q->vals[0] = q->b[0];
	q->vals[1] = q->b[1];
	switch (j->op) {
	case STORE_OP_COUNT:
		if (j->up < 0) {
			j->st = BART_ENEGATIVE;
			return 0;
		}
		if (j->up == 0) {
			q->sql = sql_total;
			q->n = 0;
			return 1;
		}
		snprintf(q->b[2], sizeof(q->b[2]), "%" PRId64, j->up);
		snprintf(q->b[3], sizeof(q->b[3]), "%s", now);
		q->vals[2] = q->b[2];
		q->vals[3] = q->b[3];
		q->sql = sql_count;
		q->n = 4;
		return 1;
	case STORE_OP_CHAT:
		snprintf(q->b[2], sizeof(q->b[2]), "%" PRId64, j->when);
		snprintf(q->b[3], sizeof(q->b[3]), "%s", now);
		q->vals[2] = q->b[2];
		q->vals[3] = j->name;
		q->vals[4] = j->host;
		q->vals[5] = j->text;
		q->vals[6] = q->b[3];
		q->sql = sql_chat;
		q->n = 7;
		return 1;
	case STORE_OP_SINCE:
		snprintf(q->b[0], sizeof(q->b[0]), "%" PRIu64,
		    j->after > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX :
		    j->after);
		snprintf(q->b[1], sizeof(q->b[1]), "%u", j->max);
		q->sql = sql_since;
		q->n = 2;
		return 1;
	case STORE_OP_KNOWN:
		if (j->id.client == 0) {
			j->found = 0;
			j->st = BART_OK;
			return 0;
		}
		q->sql = sql_known;
		q->n = 2;
		return 1;
	case STORE_OP_PROBE:
		q->sql = sql_total;
		q->n = 0;
		return 1;
	}
	return 0;
}

/*
 * Job J's outcome from its statement's result R (committed).  A new
 * chat message is fed to the ring by the caller, in order.  Returns 1
 * if J stored a new message.
 */
static int
job_take(struct pgstore *p, struct store_job *j, const PGresult *r)
{
	int	i;

	j->st = BART_OK;
	switch (j->op) {
	case STORE_OP_COUNT:
	case STORE_OP_PROBE:
		if (PQntuples(r) != 1) {
			/* No increment, no earlier answer; or no row. */
			j->st = j->up > 0 ? BART_EOVERFLOW : BART_ESTORE;
			return 0;
		}
		j->total = val64(r, 0, 0);
		if (j->total > atomic_load(&p->counter))
			atomic_store(&p->counter, j->total);
		return 0;
	case STORE_OP_CHAT:
		if (PQntuples(r) != 1) {
			j->st = BART_ESTORE;
			return 0;
		}
		j->seq = (uint64_t)val64(r, 0, 0);
		return strcmp(PQgetvalue(r, 0, 1), "1") != 0;
	case STORE_OP_SINCE:
		j->rows = PQntuples(r);
		for (i = 0; i < j->rows; i++)
			if (j->cb(j->cb_arg, (uint64_t)val64(r, i, 0),
			    val64(r, i, 1), PQgetvalue(r, i, 2),
			    PQgetvalue(r, i, 3), PQgetvalue(r, i, 4)) != 0) {
				j->rows = i + 1;
				break;
			}
		return 0;
	case STORE_OP_KNOWN:
		if ((j->found = PQntuples(r) == 1))
			j->seq = (uint64_t)val64(r, 0, 0);
		return 0;
	}
	return 0;
}

/* Every job of a group whose connection failed: what it must say. */
static void
group_failed(struct store_job **js, int n, int sent)
{
	int	i;

	for (i = 0; i < n; i++) {
		if (job_changes(js[i]))
			js[i]->st = sent ? BART_EUNKNOWN : BART_EUNAVAIL;
		else
			js[i]->st = BART_EUNAVAIL;
		js[i]->rows = -1;
	}
}

/*
 * Send the group FL (its jobs set) as one transaction in one round trip:
 * pipeline mode, then for more than one job BEGIN, the statements and
 * COMMIT (one job: its statement alone, an implicit transaction that
 * commits at the Sync), then one Sync.  Never waits: the socket is
 * non-blocking and group_recv sends what did not fit.  The caller holds
 * conn_mu.  On failure FL says so (broken; sent if the commit may have
 * left).
 */
static void
group_send(struct pgstore *p, struct inflight *fl)
{
	PGconn	*c = p->conn;
	int	 i;

	fl->ncmd = fl->cur = 0;
	fl->sent = fl->broken = fl->synced = 0;
	fl->explicit = fl->n > 1;
	fl->deadline = util_now_us() + (uint64_t)PG_CALL_MS * 1000;
	memset(fl->res, 0, sizeof(fl->res));
	if (c == NULL || !PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK ||
	    !PQenterPipelineMode(c)) {
		fl->broken = 1;
		return;
	}
	if (fl->explicit) {
		fl->job_of[fl->ncmd++] = -1;
		if (!PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0))
			goto broken;
	}
	for (i = 0; i < fl->n; i++) {
		if (!job_sql(fl->js[i], &fl->q))
			continue;
		fl->job_of[fl->ncmd++] = i;
		if (!fl->explicit)
			fl->sent = 1;
		/* libpq copies the values into its buffer here. */
		if (!PQsendQueryParams(c, fl->q.sql, fl->q.n, NULL,
		    fl->q.vals, NULL, NULL, 0))
			goto broken;
	}
	if (fl->explicit) {
		fl->job_of[fl->ncmd++] = -1;
		fl->sent = 1;	/* from here, the COMMIT may reach the server */
		if (!PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL,
		    0))
			goto broken;
	}
	if (!PQpipelineSync(c) || PQflush(c) == -1)
		goto broken;
	return;
broken:
	fl->broken = 1;
}

/* Forget FL's results. */
static void
group_clear(struct inflight *fl)
{
	int	k;

	for (k = 0; k < fl->ncmd; k++) {
		PQclear(fl->res[k]);
		fl->res[k] = NULL;
	}
}


/*
 * Read the answers to the group FL that group_send sent, from where
 * the last call stopped.  WAIT: the worker's, waiting up to the
 * deadline and doing what must be done (rolling back, dropping a lost
 * connection).  Without WAIT (the loop): never waiting, and RECV_WORKER
 * before anything that might.  The caller holds conn_mu.
 */
static int
group_recv(struct pgstore *p, struct inflight *fl, int wait)
{
	PGconn		*c = p->conn;
	PGresult	*r;
	int		 fresh[PG_GROUP_MAX];
	int		 i, k, w = 0, ok, ev;
	const char	*why = "no answer within " PG_CALL_S " s";

	if (fl->broken)
		goto broken;
	while (!fl->synced) {
		if ((w = PQflush(c)) == -1)
			goto broken;
		while (!PQisBusy(c)) {
			if ((r = PQgetResult(c)) == NULL) {
				if (++fl->cur > fl->ncmd + 1)	/* lost */
					goto broken;
				continue;
			}
			if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
				PQclear(r);
				fl->synced = 1;
				break;
			}
			if (fl->cur < fl->ncmd && fl->res[fl->cur] == NULL) {
				fl->res[fl->cur] = r;
				continue;
			}
			/* After the last command: the Sync's commit failed,
			 * or what we never asked for.  Unknown. */
			PQclear(r);
			why = "an answer after the last statement";
			goto broken;
		}
		if (fl->synced)
			break;
		if (!wait) {
			if (w == 1 || !PQconsumeInput(c))
				return RECV_WORKER;
			if (PQisBusy(c))
				return RECV_MORE;
			continue;
		}
		ev = POLLIN | (w == 1 ? POLLOUT : 0);
		if (wait_sock(c, (short)ev, fl->deadline) <= 0 ||
		    !PQconsumeInput(c))
			goto broken;
	}
	ok = 1;
	for (k = 0; k < fl->ncmd; k++)
		if (!res_ok(fl->res[k]))
			ok = 0;
	if (ok && fl->explicit &&
	    strcmp(PQcmdStatus(fl->res[fl->ncmd - 1]), "COMMIT") != 0)
		ok = 0;
	for (i = 0; ok && !wait && i < fl->n; i++)
		if (fl->js[i]->op == STORE_OP_CHAT)	/* feed_new may read */
			return RECV_WORKER;
	if (!ok && !wait)
		return RECV_WORKER;
	if (!PQexitPipelineMode(c))
		goto broken;
	if (!ok) {
		for (k = 0; k < fl->ncmd; k++)
			if (fl->res[k] != NULL &&
			    PQresultStatus(fl->res[k]) == PGRES_FATAL_ERROR)
				log_debug("store: group of %d: %s", fl->n,
				    oneline(PQresultErrorMessage(fl->res[k]),
				    (char[256]){ 0 }, 256));
		group_clear(fl);
		/* Nothing committed: out of the failed transaction. */
		if (PQtransactionStatus(c) == PQTRANS_INERROR)
			PQclear(run(c, "ROLLBACK", 0, NULL, PG_CALL_MS, &w));
		if (PQstatus(c) != CONNECTION_OK ||
		    PQtransactionStatus(c) != PQTRANS_IDLE) {
			lost(p, "could not roll back a refused group");
			group_failed(fl->js, fl->n, 0);
			return RECV_DONE;
		}
		return RECV_REFUSED;
	}
	memset(fresh, 0, sizeof(fresh));
	for (k = 0; k < fl->ncmd; k++)
		if (fl->job_of[k] >= 0)
			fresh[fl->job_of[k]] = job_take(p,
			    fl->js[fl->job_of[k]], fl->res[k]);
	group_clear(fl);
	for (i = 0; i < fl->n; i++)
		if (fresh[i])
			feed_new(p, fl->js[i]->seq, fl->js[i]->when,
			    fl->js[i]->name, fl->js[i]->host, fl->js[i]->text);
	return RECV_DONE;
broken:
	if (!wait)
		return RECV_WORKER;
	group_clear(fl);
	if (c != NULL && PQstatus(c) != CONNECTION_OK)
		why = PQerrorMessage(c);
	if (c != NULL)
		lost(p, why);
	group_failed(fl->js, fl->n, fl->sent);
	return RECV_DONE;
}

/* Hand the N jobs JS back, in order, and ring the loop. */
static void
give_back(struct pgstore *p, struct store_job **js, int n)
{
	uint64_t	one = 1;
	int		i;

	pthread_mutex_lock(&p->jobs_mu);
	for (i = 0; i < n; i++) {
		js[i]->next = NULL;
		if (p->d_tail != NULL)
			p->d_tail->next = js[i];
		else
			p->d_head = js[i];
		p->d_tail = js[i];
	}
	pthread_mutex_unlock(&p->jobs_mu);
	if (n > 0 && write(p->ev_fd, &one, sizeof(one)) == -1)
		log_warn("store: eventfd");
}

/*
 * Finish the group FL, sent already (by the loop) or not: its outcome,
 * or, if a statement was refused, each job again alone, each handed
 * back as it is done (FL is then empty); once quit is set, the rest get
 * BART_EUNAVAIL (nothing of theirs was sent) at once.  The caller holds
 * conn_mu.
 */
static void
work_group(struct pgstore *p, struct inflight *fl, int sent)
{
	int	i, k;

	if (!sent) {
		if (p->conn == NULL)
			conn_check(p);
		if (p->conn == NULL) {
			group_failed(fl->js, fl->n, 0);
			return;
		}
		group_send(p, fl);
	}
	if (group_recv(p, fl, 1) != RECV_REFUSED)
		return;
	for (i = 0; i < fl->n; i++) {
		if (atomic_load(&p->quit)) {
			for (k = i; k < fl->n; k++) {
				fl->js[k]->st = BART_EUNAVAIL;
				fl->js[k]->rows = -1;
			}
			give_back(p, fl->js + i, fl->n - i);
			break;
		}
		job_alone(p, fl->js[i]);
		give_back(p, fl->js + i, 1);
	}
	fl->n = 0;
}

/* Idle: the history cap, identity pruning, and a look at the connection. */
static void
work_idle(struct pgstore *p)
{
	unsigned int	cap, trim;
	int64_t		before;

	if (conn_check(p) == -1)
		return;
	if ((cap = atomic_load(&p->cap_max)) > 0)
		chat_cap(p, cap);
	if ((before = atomic_exchange(&p->prune_before, 0)) > 0)
		prune(p, before);
	if ((trim = atomic_exchange(&p->trim_max, 0)) > 0)
		reqs_trim(p, trim - 1);
}

/*
 * The database worker: take the jobs queued (PG_GROUP_MAX at most, up
 * to the first of another class than the first one's), or
 * the group the loop handed over, finish them as one group, hand them
 * back in order and ring the loop.  While the loop's fast path runs it
 * takes nothing from the queue: those jobs are younger.
 */
static void *
work_main(void *arg)
{
	struct pgstore		*p = arg;
	struct inflight		*fl = &p->fl;
	struct store_job	*j;
	struct timespec		 ts;
	uint64_t		 next_idle = 0;
	int			 ms, rc, sent, taken;

	for (;;) {
		pthread_mutex_lock(&p->jobs_mu);
		while ((p->q_head == NULL || p->fast) && !p->fl_sent &&
		    !atomic_load(&p->quit) && util_now_us() < next_idle) {
			ms = atomic_load(&p->up) ? PG_IDLE_MS : PG_DOWN_MS;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)(ms % 1000) * 1000000;
			ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			p->idle = 1;
			rc = pthread_cond_timedwait(&p->jobs_cv, &p->jobs_mu,
			    &ts);
			p->idle = 0;
			if (rc != 0)
				break;
		}
		if (atomic_load(&p->quit)) {
			pthread_mutex_unlock(&p->jobs_mu);
			break;
		}
		taken = 0;
		if ((sent = p->fl_sent))
			p->fl_sent = 0;
		else if (!p->fast) {	/* fl is the loop's while it runs */
			/* In order, while of the first one's class: groups
			 * run one after another, so order is kept. */
			for (; taken < PG_GROUP_MAX &&
			    (j = p->q_head) != NULL && (taken == 0 ||
			    job_class(j) == job_class(fl->js[0])); taken++) {
				if ((p->q_head = j->next) == NULL)
					p->q_tail = NULL;
				fl->js[taken] = j;
			}
			fl->n = taken;
		}
		pthread_mutex_unlock(&p->jobs_mu);
		pthread_mutex_lock(&p->conn_mu);
		/* Handed over while we waited for conn_mu: that first. */
		if (!sent && taken == 0) {
			pthread_mutex_lock(&p->jobs_mu);
			if ((sent = p->fl_sent))
				p->fl_sent = 0;
			pthread_mutex_unlock(&p->jobs_mu);
		}
		/* Also under constant load: the cap must keep up. */
		if (!sent && util_now_us() >= next_idle) {
			work_idle(p);
			next_idle = util_now_us() + (uint64_t)(p->conn !=
			    NULL ? PG_IDLE_MS : PG_DOWN_MS) * 1000;
		}
		if (sent || taken > 0)
			work_group(p, fl, sent);
		pthread_mutex_unlock(&p->conn_mu);
		if (!sent && taken == 0)
			continue;
		give_back(p, fl->js, fl->n);
		fl->n = 0;
	}
	return NULL;
}
