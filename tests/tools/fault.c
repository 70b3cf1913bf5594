/* SPDX-License-Identifier: ISC */
/*
 * fault.c: bart_fault.so, faults for bart_svc injected from outside
 * (LD_PRELOAD), so the daemon itself carries no test hooks.
 *
 *   BART_FAULT_DIE_AFTER_COMMIT=N  SIGKILL right after the Nth COMMIT
 *                                  has succeeded, before any reply
 *   BART_FAULT_FSYNC=PATH          while PATH exists, fsync/fdatasync
 *                                  fail with EIO (the data written
 *                                  stays in the page cache: a commit
 *                                  whose outcome is unknown)
 *   BART_FAULT_FSYNC_ONCE=PATH     when PATH exists, the next fsync or
 *                                  fdatasync fails with EIO and PATH is
 *                                  removed: one failed commit, then
 *                                  commits work again
 *
 * Under ASan set ASAN_OPTIONS=verify_asan_link_order=0: this library
 * is built without sanitizers and loads before the runtime.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	sqlite3_step(sqlite3_stmt *);
int	fsync(int);
int	fdatasync(int);

static long	commits_left = -1;

int
sqlite3_step(sqlite3_stmt *st)
{
	static int	(*real)(sqlite3_stmt *);
	const char	*s, *sql;
	int		 rc;

	if (real == NULL) {
		*(void **)&real = dlsym(RTLD_NEXT, "sqlite3_step");
		if ((s = getenv("BART_FAULT_DIE_AFTER_COMMIT")) != NULL)
			commits_left = strtol(s, NULL, 10);
	}
	rc = real(st);
	if (rc == SQLITE_DONE && commits_left > 0 &&
	    (sql = sqlite3_sql(st)) != NULL && strcmp(sql, "COMMIT") == 0 &&
	    --commits_left == 0)
		raise(SIGKILL);
	return rc;
}

static int
sync_fails(void)
{
	const char	*p = getenv("BART_FAULT_FSYNC");

	if (p != NULL && access(p, F_OK) == 0) {
		errno = EIO;
		return 1;
	}
	/* Whoever removes the file takes the one failure. */
	p = getenv("BART_FAULT_FSYNC_ONCE");
	if (p == NULL || unlink(p) == -1)
		return 0;
	errno = EIO;
	return 1;
}

int
fsync(int fd)
{
	static int	(*real)(int);

	if (sync_fails())
		return -1;
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fsync");
	return real(fd);
}

int
fdatasync(int fd)
{
	static int	(*real)(int);

	if (sync_fails())
		return -1;
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}
