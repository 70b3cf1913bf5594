/* SPDX-License-Identifier: ISC */
/*
 * store.c: the SQLite store: counter, chat history, request identities.
 * With --store CONNINFO every public function forwards to pgstore.c
 * (PostgreSQL) instead: one line at the top of each, the SQLite path
 * below it unchanged.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counter.h"
#include "log.h"
#include "pgstore.h"
#include "reqidx.h"
#include "store.h"
#include "util.h"

#define PG_TRIM_EVERY_US	60000000
/* Identities one DELETE forgets at most: the loop waits for it. */
#define REQS_DROP_MAX		50000
#define DROP_RETRY_US		60000000

enum req_kind {
	REQ_COUNT = 0,
	REQ_CHAT = 1
};

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVE,
	ST_RELEASE,
	ST_UNDO,
	ST_COUNT_SET,
	ST_REQ_PUT,
	ST_MSG_PUT,
	ST_MSG_SINCE,
	ST_REQ_DROP,
	ST_MAX
};

static const char *const stmt_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVE] = "SAVEPOINT call",
	[ST_RELEASE] = "RELEASE call",
	[ST_UNDO] = "ROLLBACK TO call",
	[ST_COUNT_SET] = "UPDATE counter SET value = ?1 WHERE id = 0",
	[ST_REQ_PUT] = "INSERT INTO reqs (n, client, seq, kind, answer, time) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_MSG_PUT] = "INSERT INTO msgs (seq, time, name, host, text) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_MSG_SINCE] = "SELECT seq, time, name, host, text FROM msgs "
	    "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	/* The oldest identities: rows are numbered in claim order. */
	[ST_REQ_DROP] = "DELETE FROM reqs WHERE n <= ?1",
};

#define REQS_TABLE \
    "reqs (n INTEGER PRIMARY KEY, client INTEGER NOT NULL," \
    " seq INTEGER NOT NULL, kind INTEGER NOT NULL, answer INTEGER NOT NULL," \
    " time INTEGER NOT NULL)"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS counter ("
    "  id INTEGER PRIMARY KEY CHECK (id = 0),"
    "  value INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO counter (id, value) VALUES (0, 0);"
    "CREATE TABLE IF NOT EXISTS msgs ("
    "  seq INTEGER PRIMARY KEY,"
    "  time INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  text TEXT NOT NULL);"
    /*
     * Request identities in the order they were claimed, with no index
     * at all: n only grows, so every claim appends to the last leaf and
     * a commit of many counts writes that one page (reqidx.c holds the
     * same rows in memory for the duplicate check).  Before 2026-12 the
     * identity was the key (WITHOUT ROWID), with an index on time:
     * migrate_reqs rewrites such a table, and the index is dropped.
     */
    "CREATE TABLE IF NOT EXISTS " REQS_TABLE ";"
    "DROP INDEX IF EXISTS reqs_time;";

#define STR_(x)		#x
#define STR(x)		STR_(x)

/*
 * An older database's reqs (keyed by the identity), rewritten in time
 * order: only what is still remembered (the newest STORE_REQS_MAX, of
 * the last STORE_REQS_SECS), so that the rewrite needs little room.
 * The answer column was "result": an older bart_svc cannot prepare its
 * statements on this table and refuses to start, instead of claiming
 * identities with INSERT OR IGNORE on a table that has no key to
 * ignore them by (every resend would count again).
 */
static const char migrate_sql[] =
    "BEGIN IMMEDIATE;"
    "ALTER TABLE reqs RENAME TO reqs_v1;"
    "CREATE TABLE " REQS_TABLE ";"
    "INSERT INTO reqs (client, seq, kind, answer, time) "
    "  SELECT * FROM (SELECT client, seq, kind, result, time FROM reqs_v1"
    "    WHERE time >= strftime('%s', 'now') - " STR(STORE_REQS_SECS)
    "    ORDER BY time DESC LIMIT " STR(STORE_REQS_MAX) ") ORDER BY time;"
    "DROP TABLE reqs_v1;"
    "COMMIT;";

struct store {
	struct pgstore	*pg;		/* --store: PostgreSQL, not SQLite */
	uint64_t	 pg_trim_us;	/* its next store_reqs_trim */
	sqlite3		*db;
	sqlite3_stmt	*st[ST_MAX];
	struct reqidx	*ids;		/* reqs' rows, in memory */
	int64_t		 next_row;	/* reqs.n of the next claim */
	size_t		 tx_ids;	/* reqidx_count when the tx began */
	uint64_t	 drop_retry_us;	/* reqs_drop failed: not before */
	int64_t		 counter;	/* cached; changed only after commit */
	uint64_t	 newest;	/* newest message seq, cached */
	/* store_chat_cap, store_check (not the transaction path) */
	sqlite3_stmt	*cap_st;
	uint64_t	 capped;	/* pruned up to this seq */
	char		 path[PATH_MAX];
	struct stat	 db_st, wal_st;	/* the files we opened */
	int		 wal_known;
	int		 gone;		/* bart.db deleted */
	unsigned int	 gone_checks;	/* checks since */
	int		 group;		/* a group transaction is open */
	int		 lost;		/* ... but SQLite rolled it back */
	int		 dirty;		/* pending differs: write the counter */
	int64_t		 pending;	/* counter, in the open transaction */
	uint64_t	 pending_newest;
	char		 dir[PATH_MAX];	/* the state directory (probe) */
};

static int
exec_sql(sqlite3 *db, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("sqlite: %s: %s", sql, err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int64_t
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The normal case: read-write, WAL, schema in place. */
static int
open_rw(struct store *s, const char *path, enum store_sync sync)
{
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("sqlite open %s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(s->db, 2000);
	/*
	 * Checkpoint every 10,000 WAL pages (about 40 MB), not SQLite's
	 * 1,000: each checkpoint syncs the WAL and the database and stops
	 * the loop meanwhile, and with identities on random leaves 8
	 * clients wrote 1,000 pages about 35 times a second.  Measured
	 * (bench -x conc, 4 and 8 clients): 10-70% more calls a second,
	 * p99 0.4-2 ms instead of 1.5-5.  A commit is as durable as
	 * before; only the WAL file grows larger.
	 */
	/*
	 * A reader that holds a snapshot (a backup) keeps the checkpoint
	 * from reaching the WAL's end, and the WAL grows meanwhile; once it
	 * is reset, SQLite truncates it back to this size (64 MB).
	 */
	if (exec_sql(s->db, "PRAGMA journal_mode=WAL") == -1 ||
	    exec_sql(s->db, sync == STORE_SYNC_FULL ?
	    "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL") == -1 ||
	    exec_sql(s->db, "PRAGMA wal_autocheckpoint=10000") == -1 ||
	    exec_sql(s->db, "PRAGMA journal_size_limit=67108864") == -1 ||
	    exec_sql(s->db, schema) == -1)
		return -1;
	if (query_int(s->db, "SELECT count(*) FROM pragma_table_info('reqs') "
	    "WHERE name = 'n'") == 0) {
		log_info("%s: rewriting the request identities in claim order "
		    "(once, for this version)", path);
		if (sqlite3_exec(s->db, migrate_sql, NULL, NULL, NULL) !=
		    SQLITE_OK) {
			log_warnx("%s: cannot rewrite the request identities "
			    "for this version: %s; nothing was changed (the "
			    "older table is as it was): make room in the state "
			    "directory and start again", path,
			    sqlite3_errmsg(s->db));
			if (!sqlite3_get_autocommit(s->db))
				exec_sql(s->db, "ROLLBACK");
			return -2;
		}
	}
	return 0;
}

/*
 * A state directory on a read-only file system (say, remounted so after
 * an error).  Reads work; writes get SQLITE_READONLY, which every caller
 * reports as BART_ESTORE.  First read-only with the WAL: after a kill -9
 * the newest commits may be only there (a checkpoint comes every 10,000
 * pages), and what a client was told must still be served.  SQLite can
 * do that when the WAL's shared-memory file exists; when it cannot,
 * immutable (no WAL: a clean stop checkpointed and removed it).
 */
static int
open_ro(struct store *s, const char *path)
{
	static const char *const how[] = { "?mode=ro", "?immutable=1" };
	char		 uri[PATH_MAX * 3 + 32], *u = uri;
	const char	*p;
	size_t		 i;

	u += sprintf(u, "file:");
	for (p = path; *p != '\0'; p++) {
		if (*p == '%' || *p == '?' || *p == '#')
			u += sprintf(u, "%%%02X", (unsigned char)*p);
		else
			*u++ = *p;
	}
	for (i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		strcpy(u, how[i]);
		if (sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY |
		    SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
		    sqlite3_exec(s->db, "SELECT count(*) FROM sqlite_master",
		    NULL, NULL, NULL) == SQLITE_OK)
			return 0;
		if (i + 1 == sizeof(how) / sizeof(how[0]))
			break;
		sqlite3_close(s->db);
		s->db = NULL;
	}
	log_warnx("sqlite open %s read-only: %s", path,
	    s->db ? sqlite3_errmsg(s->db) : "out of memory");
	return -1;
}

/*
 * Every remembered identity into s->ids, oldest first.  A database on
 * a read-only file system may still have the older table (no n): then
 * in time order, and nothing can be claimed anyway.  -1 on failure.
 */
static int
load_ids(struct store *s)
{
	struct reqidx_ent	 e;
	sqlite3_stmt		*st;
	int			 rc;

	if ((s->ids = reqidx_new()) == NULL)
		return -1;
	if (sqlite3_prepare_v2(s->db, "SELECT n, client, seq, kind, answer, "
	    "time FROM reqs ORDER BY n", -1, &st, NULL) != SQLITE_OK &&
	    sqlite3_prepare_v2(s->db, "SELECT 0, client, seq, kind, result, "
	    "time FROM reqs ORDER BY time", -1, &st, NULL) != SQLITE_OK) {
		log_warnx("sqlite: reading the request identities: %s",
		    sqlite3_errmsg(s->db));
		return -1;
	}
	memset(&e, 0, sizeof(e));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		e.row = sqlite3_column_int64(st, 0);
		e.client = (uint64_t)sqlite3_column_int64(st, 1);
		e.seq = (uint64_t)sqlite3_column_int64(st, 2);
		e.kind = sqlite3_column_int(st, 3);
		e.result = sqlite3_column_int64(st, 4);
		e.time = sqlite3_column_int64(st, 5);
		if (e.row >= s->next_row)
			s->next_row = e.row + 1;
		/* A duplicate row (none is written): the first answer. */
		if (reqidx_find(s->ids, e.client, e.seq, e.kind) != NULL)
			continue;
		if (reqidx_add(s->ids, &e) == -1) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("sqlite: reading the request identities: %s",
		    rc == SQLITE_NOMEM ? "out of memory" :
		    sqlite3_errmsg(s->db));
		return -1;
	}
	if (s->next_row < 1)
		s->next_row = 1;
	return 0;
}

/* Remember which files we have open, for store_check. */
static void
file_ids(struct store *s, const char *path)
{
	char	wal[PATH_MAX + 8];

	snprintf(s->path, sizeof(s->path), "%s", path);
	if (stat(path, &s->db_st) == -1)
		log_warn("stat %s", path);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	s->wal_known = stat(wal, &s->wal_st) == 0;
}

/*
 * Only the main thread uses the store (delivery threads read the chat
 * ring, never SQLite), so SQLite's own mutexes and its memory
 * statistics are pure cost: about 2,100 instructions per COUNT.
 * ORDER: before SQLite initialises, i.e. before the first open.
 */
static void
sqlite_setup(void)
{
	static int	done;

	if (done)
		return;
	done = 1;
	sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Open (creating) DIR/bart.db.  NULL on failure, already logged. */
struct store *
store_open(const char *dir, enum store_sync sync)
{
	struct statvfs	 vfs;
	struct store	*s;
	char		 path[PATH_MAX];
	int		 i, rc;

	sqlite_setup();
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (snprintf(path, sizeof(path), "%s/bart.db", dir) >=
	    (int)sizeof(path)) {
		log_warnx("state directory path too long");
		goto fail;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if ((rc = open_rw(s, path, sync)) == -2)
		goto fail;		/* the rewrite failed: said why */
	if (rc == -1) {
		sqlite3_close(s->db);
		s->db = NULL;
		if (statvfs(dir, &vfs) == -1 || !(vfs.f_flag & ST_RDONLY) ||
		    open_ro(s, path) == -1)
			goto fail;
		log_warnx("%s is on a read-only file system: serving reads; "
		    "every change fails until it is writable and bart_svc "
		    "restarts", dir);
	}
	for (i = 0; i < ST_MAX; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			/* Read-only with an older table: that write fails. */
			if (sqlite3_db_readonly(s->db, "main") == 1)
				continue;
			log_warnx("sqlite prepare: %s", sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	if (load_ids(s) == -1)
		goto fail;
	s->counter = query_int(s->db, "SELECT value FROM counter WHERE id=0");
	s->newest = (uint64_t)query_int(s->db,
	    "SELECT coalesce(max(seq), 0) FROM msgs");
	chmod(path, 0600);
	file_ids(s, path);
	return s;
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	int	i;

	if (s == NULL)
		return;
	pgstore_close(s->pg);
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_finalize(s->cap_st);
	reqidx_free(s->ids);
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		log_warnx("sqlite close: %s", sqlite3_errmsg(s->db));
	free(s);
}

/*
 * Open the PostgreSQL store CONNINFO (pgstore.c) instead of SQLite.
 * NULL on failure, with one line logged.
 */
struct store *
store_open_pg(const char *conninfo)
{
	struct store	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->pg = pgstore_open(conninfo)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

/*
 * A shared store learns of messages other daemons commit: CB gets each
 * newer than store_chat_newest() now, in order (the ring).  SQLite: no
 * one else writes, nothing to do.
 */
void
store_feed(struct store *s, store_msg_cb cb, void *arg)
{
	if (s->pg != NULL)
		pgstore_feed(s->pg, cb, arg);
}

static int
step_done(struct store *s, enum stmt_id id)
{
	int	rc;

	if (s->st[id] == NULL) {
		log_warnx("sqlite: %s: the database is read-only",
		    stmt_sql[id]);
		return -1;
	}
	rc = sqlite3_step(s->st[id]);
	sqlite3_reset(s->st[id]);
	sqlite3_clear_bindings(s->st[id]);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("sqlite: %s: %s", stmt_sql[id],
		    sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

static int
tx_begin(struct store *s)
{
	if (s->gone)		/* store_check: writes would be lost */
		return -1;
	if (step_done(s, ST_BEGIN) == -1)
		return -1;
	s->tx_ids = reqidx_count(s->ids);
	s->pending = s->counter;
	s->pending_newest = s->newest;
	s->dirty = 0;
	return 0;
}

/*
 * Commit, or roll back on failure so the next request starts clean.
 * BART_OK; BART_ESTORE if nothing was stored (SQLITE_FULL: the WAL
 * frames, whose last one is the commit, could not all be written; or
 * the commit never started); BART_EUNKNOWN otherwise: after an I/O
 * error in the write or the fsync, the commit frame may be on disk and
 * reappear at the next open (issue 15 #7), so the outcome is unknown.
 */
static bart_status
tx_commit(struct store *s)
{
	int	rc;

	rc = sqlite3_step(s->st[ST_COMMIT]);
	sqlite3_reset(s->st[ST_COMMIT]);
	if (rc == SQLITE_DONE)
		return BART_OK;
	rc = sqlite3_extended_errcode(s->db);
	log_warnx("sqlite: COMMIT: %s (%d)", sqlite3_errmsg(s->db), rc);
	if (!sqlite3_get_autocommit(s->db))
		step_done(s, ST_ROLLBACK);
	if ((rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_BUSY)
		return BART_ESTORE;
	return BART_EUNKNOWN;
}

/* Undo the open transaction, and what it did to the cached state. */
static void
tx_abort(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		step_done(s, ST_ROLLBACK);
	reqidx_truncate(s->ids, s->tx_ids);	/* its claims are gone */
	s->pending = s->counter;
	s->pending_newest = s->newest;
	s->dirty = 0;
}

/*
 * Write the counter (once per transaction, however many counts it
 * holds) and commit.  The cached values change only once it is durable.
 */
static bart_status
tx_finish(struct store *s)
{
	bart_status	st;

	if (s->dirty) {
		sqlite3_bind_int64(s->st[ST_COUNT_SET], 1, s->pending);
		if (step_done(s, ST_COUNT_SET) == -1) {
			/* Nothing is committed without its counter. */
			tx_abort(s);
			return BART_ESTORE;
		}
	}
	if ((st = tx_commit(s)) != BART_OK) {
		tx_abort(s);
		return st;
	}
	s->counter = s->pending;
	s->newest = s->pending_newest;
	s->dirty = 0;
	return BART_OK;
}

static int
has_id(const bart_reqid *id)
{
	return id != NULL && id->client != 0;
}

/*
 * 1 and *result if this identity was already executed (committed, or
 * claimed in the open transaction), 0 if not.
 */
static int
req_lookup(struct store *s, const bart_reqid *id, enum req_kind kind,
    int64_t *result)
{
	const struct reqidx_ent	*e;

	if (!has_id(id) || (e = reqidx_find(s->ids, id->client, id->seq,
	    kind)) == NULL)
		return 0;
	*result = e->result;
	return 1;
}

/*
 * Claim identity ID for a change whose answer is RESULT, inside the
 * open transaction: its row appended, and remembered in s->ids (undone
 * with the transaction, tx_abort).  1 if it is new (recorded), 0 if it
 * was executed before (nothing written), -1 if it cannot be recorded
 * (SQLite undid the statement, or the whole transaction).
 */
static int
req_claim(struct store *s, const bart_reqid *id, enum req_kind kind,
    int64_t result)
{
	sqlite3_stmt		*st = s->st[ST_REQ_PUT];
	struct reqidx_ent	 e;

	if (reqidx_find(s->ids, id->client, id->seq, kind) != NULL)
		return 0;
	/* ORDER: room first: once the row is in, remembering it must not fail. */
	if (st == NULL || reqidx_reserve(s->ids) == -1)
		return -1;
	memset(&e, 0, sizeof(e));
	e.client = id->client;
	e.seq = id->seq;
	e.kind = kind;
	e.result = result;
	e.row = s->next_row;
	e.time = (int64_t)time(NULL);
	sqlite3_bind_int64(st, 1, e.row);
	sqlite3_bind_int64(st, 2, (int64_t)e.client);
	sqlite3_bind_int64(st, 3, (int64_t)e.seq);
	sqlite3_bind_int(st, 4, kind);
	sqlite3_bind_int64(st, 5, result);
	sqlite3_bind_int64(st, 6, e.time);
	if (step_done(s, ST_REQ_PUT) == -1)
		return -1;
	s->next_row++;
	reqidx_add(s->ids, &e);		/* reserved: cannot fail */
	return 1;
}

/*
 * A statement of the group failed.  SQLite undoes a failed statement by
 * itself, but some errors (SQLITE_FULL, IOERR, NOMEM, BUSY) roll back
 * the whole transaction: then every change of the group is gone, and a
 * later statement would run on its own, committed at once (an identity
 * without its count).  So the group is lost: every change after it is
 * refused, and store_group_commit tells all of them BART_ESTORE.
 */
static void
group_check(struct store *s)
{
	if (s->group && sqlite3_get_autocommit(s->db)) {
		s->lost = 1;
		reqidx_truncate(s->ids, s->tx_ids);
	}
}

/* A change that cannot run: a resend still learns its first answer. */
static bart_status
refused(struct store *s, const bart_reqid *id, enum req_kind kind,
    int64_t *prev)
{
	return req_lookup(s, id, kind, prev) ? BART_OK : BART_ESTORE;
}

int64_t
store_count_get(struct store *s)
{
	if (s->pg != NULL)
		return pgstore_count_get(s->pg);
	return s->counter;
}

/*
 * Calls that arrive together share one transaction: store_group_begin
 * opens it, and store_group_commit writes the counter once and commits
 * them all.  A COUNT is one statement (the identity's INSERT OR IGNORE;
 * the sum is kept in memory), so a refused one undoes only itself
 * without a savepoint; a CHAT_SEND's two statements run in a savepoint.
 * Outside a group each change is its own transaction.  -1 if the
 * transaction cannot start.
 */
int
store_group_begin(struct store *s)
{
	if (s->pg != NULL)		/* pgstore: a transaction per call */
		return -1;
	if (s->group)
		return 0;
	if (tx_begin(s) == -1)
		return -1;
	s->group = 1;
	s->lost = 0;
	return 0;
}

int
store_in_group(const struct store *s)
{
	return s->group;
}

/*
 * Commit the group: BART_OK, or what went wrong: BART_ESTORE if nothing
 * can have been stored (SQLite rolled the group back, or the counter
 * could not be written), else what tx_commit says.
 */
bart_status
store_group_commit(struct store *s)
{
	if (!s->group)
		return BART_OK;
	s->group = 0;
	if (s->lost) {
		s->lost = 0;
		log_warnx("sqlite: the group's transaction was rolled back: "
		    "nothing of it was stored");
		tx_abort(s);
		return BART_ESTORE;
	}
	return tx_finish(s);
}

/*
 * Add UP to the pending counter and claim the request identity in one
 * statement, inside the open transaction.  A resend of an executed
 * identity (in this transaction or before) gets the first total and
 * adds nothing.
 */
static bart_status
count_apply(struct store *s, const bart_reqid *id, int64_t up,
    int64_t *total)
{
	bart_status	st;
	int64_t		next;

	if ((st = counter_add(s->pending, up, &next)) != BART_OK)
		return refused(s, id, REQ_COUNT, total) == BART_OK ? BART_OK :
		    st;
	if (has_id(id)) {
		switch (req_claim(s, id, REQ_COUNT, next)) {
		case -1:
			return BART_ESTORE;
		case 0:
			return refused(s, id, REQ_COUNT, total);
		}
	}
	s->pending = next;
	s->dirty = 1;
	*total = next;
	return BART_OK;
}

/*
 * Add UP to the counter together with the request identity, so a
 * resend of the same identity returns the first total.  In a group the
 * counter row is written once, at store_group_commit.
 */
bart_status
store_count_add(struct store *s, const bart_reqid *id, int64_t up,
    int64_t *total)
{
	bart_status	st;

	if (s->pg != NULL)
		return pgstore_count_add(s->pg, id, up, total);
	if (up < 0)
		return BART_ENEGATIVE;
	if (up == 0) {			/* a read: nothing to commit */
		*total = s->group ? s->pending : s->counter;
		return BART_OK;
	}
	if (s->group) {
		if (s->lost)
			return refused(s, id, REQ_COUNT, total);
		if ((st = count_apply(s, id, up, total)) != BART_OK)
			group_check(s);
		return st;
	}
	if (tx_begin(s) == -1)
		return refused(s, id, REQ_COUNT, total);
	if ((st = count_apply(s, id, up, total)) != BART_OK || !s->dirty) {
		tx_abort(s);		/* refused, or a resend: no change */
		return st;
	}
	return tx_finish(s);
}

/* For tests and recovery tools: set the counter outright. */
int
store_count_set(struct store *s, int64_t v)
{
	if (s->pg != NULL)
		return pgstore_count_set(s->pg, v);
	sqlite3_bind_int64(s->st[ST_COUNT_SET], 1, v);
	if (step_done(s, ST_COUNT_SET) == -1)
		return -1;
	s->counter = v;
	return 0;
}

/*
 * Undo a CHAT_SEND's savepoint, and its claim (the identities after
 * the first IDS); if that fails, the whole group.
 */
static void
chat_undo(struct store *s, size_t ids)
{
	if (!s->group) {
		tx_abort(s);
		return;
	}
	group_check(s);
	if (s->lost)
		return;
	if (step_done(s, ST_UNDO) == -1 || step_done(s, ST_RELEASE) == -1) {
		s->lost = 1;
		tx_abort(s);
		return;
	}
	reqidx_truncate(s->ids, ids);
}

/* Keep a CHAT_SEND's change: released into the group, or committed. */
static bart_status
chat_keep(struct store *s)
{
	if (!s->group)
		return tx_finish(s);
	if (step_done(s, ST_RELEASE) == -1) {
		/* Its rows would be committed with the group: undo all. */
		s->lost = 1;
		tx_abort(s);
		return BART_ESTORE;
	}
	return BART_OK;
}

/* Store one chat message; *seq gets its number (or the first one's). */
bart_status
store_chat_add(struct store *s, const bart_reqid *id, int64_t when,
    const char *name, const char *host, const char *text, uint64_t *seq)
{
	sqlite3_stmt	*st = s->st[ST_MSG_PUT];
	bart_status	 rc;
	int64_t		 prev;
	uint64_t	 next;
	size_t		 ids;

	if (s->pg != NULL)
		return pgstore_chat_add(s->pg, id, when, name, host, text,
		    seq);
	ids = reqidx_count(s->ids);
	if ((s->group && s->lost) ||
	    (s->group ? step_done(s, ST_SAVE) : tx_begin(s)) == -1) {
		if ((rc = refused(s, id, REQ_CHAT, &prev)) == BART_OK)
			*seq = (uint64_t)prev;
		return rc;
	}
	next = s->pending_newest + 1;
	/* ORDER: the identity first: a resend writes nothing at all. */
	if (has_id(id)) {
		switch (req_claim(s, id, REQ_CHAT, (int64_t)next)) {
		case -1:
			chat_undo(s, ids);
			return BART_ESTORE;
		case 0:
			if ((rc = refused(s, id, REQ_CHAT, &prev)) != BART_OK) {
				chat_undo(s, ids);
				return rc;
			}
			if ((rc = chat_keep(s)) == BART_OK)
				*seq = (uint64_t)prev;
			return rc;
		}
	}
	sqlite3_bind_int64(st, 1, (int64_t)next);
	sqlite3_bind_int64(st, 2, when);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
	if (step_done(s, ST_MSG_PUT) == -1) {
		chat_undo(s, ids);
		return BART_ESTORE;
	}
	s->pending_newest = next;
	if ((rc = chat_keep(s)) != BART_OK)
		return rc;
	*seq = next;
	return BART_OK;
}

/*
 * 1 and *SEQ if identity ID already stored a message, 0 if not (or the
 * store cannot tell).  Writes nothing: for a caller that would refuse
 * the call otherwise (the rate limit) but owes a resend its first answer.
 */
int
store_chat_known(struct store *s, const bart_reqid *id, uint64_t *seq)
{
	int64_t	prev;

	if (s->pg != NULL)
		return pgstore_chat_known(s->pg, id, seq);
	if (!req_lookup(s, id, REQ_CHAT, &prev))
		return 0;
	*seq = (uint64_t)prev;
	return 1;
}

/* The newest message number, counting the open group's. */
uint64_t
store_chat_pending(struct store *s)
{
	if (s->pg != NULL)
		return pgstore_chat_newest(s->pg);
	return s->group ? s->pending_newest : s->newest;
}

uint64_t
store_chat_newest(struct store *s)
{
	if (s->pg != NULL)
		return pgstore_chat_newest(s->pg);
	return s->newest;
}

/* Messages after SEQ in order, at most MAX; returns how many, or -1. */
int
store_chat_since(struct store *s, uint64_t seq, unsigned int max,
    store_msg_cb cb, void *arg)
{
	sqlite3_stmt	*st = s->st[ST_MSG_SINCE];
	int		 n = 0, rc;

	if (s->pg != NULL)
		return pgstore_chat_since(s->pg, seq, max, cb, arg);
	if (seq > (uint64_t)INT64_MAX)
		seq = (uint64_t)INT64_MAX;
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int64(st, 2, max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		if (cb(arg, (uint64_t)sqlite3_column_int64(st, 0),
		    sqlite3_column_int64(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    (const char *)sqlite3_column_text(st, 3),
		    (const char *)sqlite3_column_text(st, 4)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_warnx("cannot read the chat history (a read: nothing "
		    "was changed): %s", sqlite3_errmsg(s->db));
		n = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return n;
}

/*
 * Forget the N oldest identities (at most REQS_DROP_MAX: the rest on
 * the next call): their rows (a range of n, one DELETE, committed at
 * once), then, once that is done, their entries.  A store that cannot
 * write (read-only) forgets them in memory only.  After a failed
 * DELETE (a full disk) the next try waits a minute: it would fail and
 * log twice a second, and nothing new is claimed meanwhile.
 * Never inside a group: its claims are the newest, but the group's
 * rollback must not take the DELETE with it.
 */
static int
reqs_drop(struct store *s, size_t n)
{
	uint64_t	now;

	if (n > REQS_DROP_MAX)
		n = REQS_DROP_MAX;
	if (n == 0)
		return 0;
	if (s->group || (now = util_now_us()) < s->drop_retry_us)
		return -1;
	if (sqlite3_db_readonly(s->db, "main") != 1) {
		sqlite3_bind_int64(s->st[ST_REQ_DROP], 1,
		    reqidx_nth(s->ids, n - 1)->row);
		if (step_done(s, ST_REQ_DROP) == -1) {
			s->drop_retry_us = now + DROP_RETRY_US;
			return -1;
		}
	}
	reqidx_drop_oldest(s->ids, n);
	return 0;
}

/*
 * Forget request identities older than BEFORE (seconds since epoch):
 * the oldest ones, up to the first that is not (claim order is time
 * order, unless the clock was set back).
 */
int
store_prune(struct store *s, int64_t before)
{
	const struct reqidx_ent	*e;
	size_t			 n = 0;

	if (s->pg != NULL)
		return pgstore_prune(s->pg, before);
	while ((e = reqidx_nth(s->ids, n)) != NULL && e->time < before)
		n++;
	return reqs_drop(s, n);
}

/* How many request identities are remembered. */
long long
store_reqs_count(struct store *s)
{
	if (s->pg != NULL)
		return pgstore_reqs_count(s->pg);
	return (long long)reqidx_count(s->ids);
}

/* Keep at most MAX identities: the oldest go first. */
int
store_reqs_trim(struct store *s, unsigned int max)
{
	uint64_t	now;
	size_t		n;

	if (s->pg != NULL) {
		/* Once a minute: it counts the shared table's rows. */
		if ((now = util_now_us()) < s->pg_trim_us)
			return 0;
		s->pg_trim_us = now + PG_TRIM_EVERY_US;
		return pgstore_reqs_trim(s->pg, max);
	}
	n = reqidx_count(s->ids);
	return reqs_drop(s, n > max ? n - max : 0);
}

/*
 * Keep the newest MAX messages (0: all): delete the older ones.  Run
 * from housekeeping, so a flood costs one DELETE a second, not one per
 * message; messages are numbered without gaps, so "seq <= newest - MAX"
 * is exactly the surplus.  Returns the number deleted, or -1.
 */
int
store_chat_cap(struct store *s, unsigned int max)
{
	uint64_t	upto;
	int		n;

	if (s->pg != NULL)
		return pgstore_chat_cap(s->pg, max);
	if (max == 0 || s->gone || s->newest <= max)
		return 0;
	upto = s->newest - max;
	if (upto <= s->capped)
		return 0;
	if (s->cap_st == NULL && sqlite3_prepare_v3(s->db,
	    "DELETE FROM msgs WHERE seq <= ?1", -1, SQLITE_PREPARE_PERSISTENT,
	    &s->cap_st, NULL) != SQLITE_OK) {
		log_warnx("sqlite prepare: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	sqlite3_bind_int64(s->cap_st, 1, (int64_t)upto);
	if (sqlite3_step(s->cap_st) != SQLITE_DONE) {
		log_warnx("sqlite: history cap: %s", sqlite3_errmsg(s->db));
		sqlite3_reset(s->cap_st);
		/* Read-only or full: try again after the next message,
		 * not every second. */
		s->capped = upto;
		return -1;
	}
	sqlite3_reset(s->cap_st);
	n = sqlite3_changes(s->db);
	s->capped = upto;
	if (n > 0)
		log_debug("history cap %u: pruned %d messages up to %llu", max,
		    n, (unsigned long long)upto);
	return n;
}

/* Is the file at PATH still the one recorded in WAS? */
static int
same_file(const char *path, const struct stat *was)
{
	struct stat	now;

	return stat(path, &now) == 0 && now.st_dev == was->st_dev &&
	    now.st_ino == was->st_ino;
}

/*
 * Is bart.db (and its WAL) still the file we have open?  Deleted or
 * replaced, every commit would go into a file nobody will ever open
 * again: log it loudly and refuse every change from now on (reads go
 * on from the open copy).  Only a restart recovers.  0 if fine, -1 if
 * the store is gone.
 */
int
store_check(struct store *s)
{
	char	wal[PATH_MAX + 8];

	if (s->pg != NULL)
		return pgstore_check(s->pg);
	if (s->gone) {
		/* Once every 10 minutes (called each second): a reminder. */
		if (++s->gone_checks % 600 == 0)
			log_warnx("%s is still not the file bart_svc has open: "
			    "every change is refused until bart_svc restarts",
			    s->path);
		return -1;
	}
	snprintf(wal, sizeof(wal), "%s-wal", s->path);
	if (same_file(s->path, &s->db_st) &&
	    (!s->wal_known || same_file(wal, &s->wal_st)))
		return 0;
	s->gone = 1;
	log_warnx("%s%s was deleted or replaced while bart_svc had it open: "
	    "REFUSING EVERY CHANGE from now on (it would be lost); reads "
	    "serve the old copy; restart bart_svc to go on with what is "
	    "at that path (a new, empty store if nothing is)",
	    s->path, same_file(s->path, &s->db_st) ? "-wal" : "");
	return -1;
}

/*
 * Does the store run calls off the RPC thread (PostgreSQL, once its
 * worker runs)?  Then the loop submits them (store_submit) and answers
 * when store_done gives them back; SQLite runs them inline.
 */
int
store_defers(const struct store *s)
{
	return s->pg != NULL && pgstore_defers(s->pg);
}

/* Hand J to the store's worker; -1 if refused (full): answer at once. */
int
store_submit(struct store *s, struct store_job *j)
{
	return s->pg != NULL ? pgstore_submit(s->pg, j) : -1;
}

/* Start the worker on what was submitted: once a round, at its end. */
void
store_kick(struct store *s)
{
	if (s->pg != NULL)
		pgstore_kick(s->pg);
}

/* The next finished job, in submission order, or NULL. */
struct store_job *
store_done(struct store *s)
{
	return s->pg != NULL ? pgstore_done(s->pg) : NULL;
}

/*
 * At exit: stop the worker; store_done then hands back every job still
 * queued, in hand or finished (for the caller to free), and nothing new.
 */
void
store_stop(struct store *s)
{
	if (s != NULL && s->pg != NULL)
		pgstore_stop(s->pg);
}

/* Readable when store_done has a job; -1 for SQLite. */
int
store_done_fd(const struct store *s)
{
	return s->pg != NULL ? pgstore_done_fd(s->pg) : -1;
}

/*
 * HEALTH's write probe: a transaction of its own that writes one row of
 * its own table and commits, as a real change would.  SQLite may find
 * room in pages it already has, so the probe also asks the file system
 * for free blocks: a disk with none fails the next real write anyway.
 * Never inside a group: the loop commits the group before any call that
 * is not grouped (proc_groups), HEALTH included.  With --store (one
 * PostgreSQL for several daemons) it checks the connection and a read.
 */
bart_status
store_probe(struct store *s, int64_t now)
{
	static const char	 sql[] = "INSERT OR REPLACE INTO probe "
	    "(id, time) VALUES (0, ?1)";
	struct statvfs		 vfs;
	sqlite3_stmt		*st = NULL;
	bart_status		 bs;
	int64_t			 total;
	int			 rc;

	if (s->pg != NULL)
		return pgstore_check(s->pg) == -1 ? BART_EUNAVAIL :
		    pgstore_count_add(s->pg, NULL, 0, &total);
	if (s->group || s->gone)
		return BART_ESTORE;
	if (exec_sql(s->db, "CREATE TABLE IF NOT EXISTS probe ("
	    "id INTEGER PRIMARY KEY CHECK (id = 0), time INTEGER NOT NULL)")
	    == -1)
		return BART_ESTORE;
	if (tx_begin(s) == -1)
		return BART_ESTORE;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	if ((bs = tx_commit(s)) != BART_OK)
		return bs;
	if (s->dir[0] != '\0' && statvfs(s->dir, &vfs) == 0 &&
	    vfs.f_bavail == 0)
		return BART_ESTORE;
	return BART_OK;
fail:
	log_warnx("sqlite probe: %s", sqlite3_errmsg(s->db));
	tx_abort(s);
	return BART_ESTORE;
}
