/* SPDX-License-Identifier: ISC */
/* daemon.c: what makes bart_svc a proper Unix daemon. */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

volatile sig_atomic_t	daemon_quit;
volatile sig_atomic_t	daemon_hup;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		daemon_hup = 1;
	else
		daemon_quit = 1;
}

/* No SA_RESTART: poll() must return so the loop sees the flag. */
void
signals_init(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/*
 * Fork into the background.  The parent waits on a pipe and exits only
 * when the child reports that it is registered and serving (exit 0) or
 * has failed (exit 1), so "bart_svc && bart_clnt ..." never races.
 * Returns the pipe's write end in the child.
 */
int
daemon_detach(void)
{
	int	 p[2], fd, status = 0;
	char	 c;
	ssize_t	 n;
	pid_t	 pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n == -1 && errno == EINTR);
		if (n == 1 && c == 0)
			_exit(0);
		/*
		 * The child failed before it was ready; it said why.  EOF
		 * means it is exiting (the pipe closes only with it), so a
		 * blocking wait returns at once and keeps its exit status.
		 */
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			_exit(WEXITSTATUS(status));
		_exit(1);
	}
	close(p[0]);
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
	umask(022);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		/* stderr stays until ready: start-up errors reach the user */
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return p[1];
}

/* Tell the waiting parent that we serve; stderr goes quiet. */
void
daemon_ready(int fd)
{
	char	c = 0;
	int	nul;

	if (fd == -1)
		return;
	if ((nul = open("/dev/null", O_RDWR)) != -1) {
		dup2(nul, STDERR_FILENO);
		if (nul > STDERR_FILENO)
			close(nul);
	}
	if (write(fd, &c, 1) != 1)
		log_warn("ready pipe");
	close(fd);
}

/* The pidfile we hold, for the exit handler. */
static const char	*pidfile_path;
static int		 pidfile_fd = -1;
static pid_t		 pidfile_pid;

/* A start-up failure (fatal() exits) must not leave the pidfile behind. */
static void
pidfile_atexit(void)
{
	if (pidfile_fd != -1 && getpid() == pidfile_pid)
		pidfile_remove(pidfile_path, pidfile_fd);
}

/*
 * Create and lock the pidfile.  A file left by a killed daemon holds no
 * lock and is taken over; a live daemon's lock makes us refuse.
 */
int
pidfile_create(const char *path)
{
	char	buf[32];
	int	fd, len;
	ssize_t	n;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		log_warn("cannot open pidfile %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_warnx("already running (pid %s, pidfile %s)",
		    *buf ? buf : "?", path);
		close(fd);
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || write(fd, buf, (size_t)len) != len) {
		log_warn("cannot write pidfile %s", path);
		close(fd);
		return -1;
	}
	pidfile_path = path;
	pidfile_fd = fd;
	pidfile_pid = getpid();
	atexit(pidfile_atexit);
	return fd;			/* kept open: the lock lives with us */
}

/*
 * After a privilege drop the directory may not let us unlink; then at
 * least empty the file so it names no dead process.
 */
void
pidfile_remove(const char *path, int fd)
{
	if (path == NULL || fd == -1)
		return;
	if (unlink(path) == -1 && ftruncate(fd, 0) == -1)
		log_warn("cannot remove pidfile %s", path);
	close(fd);
	if (fd == pidfile_fd)
		pidfile_fd = -1;
}

/* Look USER up; 0 and its ids, -1 if there is no such user. */
int
daemon_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;

	if ((pw = getpwnam(user)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/*
 * Hand the store's files to uid:gid, so a store first created by root
 * keeps working after "-u USER" is added (or a bart user appears).  Only
 * our own names, never through a symlink, and never a file with more
 * than one link: the directory belongs to USER, who could otherwise
 * hardlink a root-owned file there and have us give it away.
 */
static int
state_files_chown(const char *dir, uid_t uid, gid_t gid)
{
	static const char *const names[] = { "bart.db", "bart.db-wal",
	    "bart.db-shm", "bart.db-journal" };
	struct stat	st;
	size_t		i;
	int		dfd, fd, rc = 0;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("open %s", dir);
		return -1;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		fd = openat(dfd, names[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
		if (fd == -1) {
			if (errno != ENOENT) {
				log_warn("open %s/%s", dir, names[i]);
				rc = -1;
			}
			continue;
		}
		if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
		    st.st_nlink != 1) {
			log_warnx("%s/%s: not a plain file; left alone", dir,
			    names[i]);
			rc = -1;
		} else if ((st.st_uid != uid || st.st_gid != gid) &&
		    fchown(fd, uid, gid) == -1) {
			log_warn("chown %s/%s", dir, names[i]);
			rc = -1;
		}
		close(fd);
	}
	close(dfd);
	return rc;
}

/* mkdir -p DIR, owned by uid:gid, mode 0700, store files included. */
int
daemon_state_dir(const char *dir, uid_t uid, gid_t gid)
{
	struct stat	 st;
	char		 path[4096], *p;

	if (strlen(dir) >= sizeof(path)) {
		log_warnx("state directory path too long");
		return -1;
	}
	strcpy(path, dir);
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			log_warn("mkdir %s", path);
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", path);
		return -1;
	}
	if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_warnx("%s: not a directory", path);
		return -1;
	}
	/*
	 * Change only what is wrong: a state directory on a file system
	 * that went read-only must still let us start and serve reads.
	 */
	if (geteuid() == 0 && (st.st_uid != uid || st.st_gid != gid) &&
	    chown(path, uid, gid) == -1) {
		log_warn("chown %s", path);
		return -1;
	}
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) == -1) {
		log_warn("chmod %s", path);
		return -1;
	}
	if (geteuid() == 0 && state_files_chown(path, uid, gid) == -1)
		return -1;
	return 0;
}

/* Become USER for good (supplementary groups included). */
int
daemon_drop(const char *user, uid_t uid, gid_t gid)
{
	if (uid == 0)			/* -u root: nothing to drop */
		return 0;
	if (setgroups(1, &gid) == -1 || setgid(gid) == -1 ||
	    setuid(uid) == -1) {
		log_warn("cannot drop privileges to %s", user);
		return -1;
	}
	if (setuid(0) != -1) {
		log_warnx("privileges could be regained; refusing to run");
		return -1;
	}
	log_info("running as user %s (uid %u)", user, (unsigned int)uid);
	return 0;
}

/*
 * One daemon per state directory, pidfile or not: lock the directory
 * itself for our lifetime (the descriptor stays open; no file to
 * create, so a read-only directory locks too).  A second instance must
 * fail here, before it touches rpcbind or the store.
 */
int
daemon_lock_state(const char *dir)
{
	int	fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("cannot open %s", dir);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		log_warnx("already running (state directory %s is in use)",
		    dir);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The runtime directory (/run/bart) holds root's default pidfile and
 * local socket, and belongs to the user we run as: after the privilege
 * drop the daemon can still remove both at exit, and nothing root-owned
 * is left behind by a clean stop.  Created as root, mode 0755 (clients
 * must reach the socket), never through a symlink.
 */
int
daemon_run_dir(const char *dir, uid_t uid, gid_t gid)
{
	struct stat	st;

	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_warnx("%s: not a directory", dir);
		return -1;
	}
	if ((st.st_uid != uid || st.st_gid != gid) &&
	    lchown(dir, uid, gid) == -1) {
		log_warn("chown %s", dir);
		return -1;
	}
	if ((st.st_mode & 07777) != 0755 && chmod(dir, 0755) == -1) {
		log_warn("chmod %s", dir);
		return -1;
	}
	return 0;
}

/* 1 if PATH names an entry directly in DIR. */
int
daemon_path_in(const char *path, const char *dir)
{
	size_t	n = strlen(dir);

	return path != NULL && strncmp(path, dir, n) == 0 && path[n] == '/' &&
	    strchr(path + n + 1, '/') == NULL;
}

/*
 * After the drop: can USER reach DIR?  SQLite would only say "unable to
 * open database file"; name the directory on the way that stops it
 * (a checkout under a 0700 home, for instance).
 */
int
daemon_reachable(const char *dir, const char *user)
{
	struct stat	 st;
	char		 path[4096], *p, c;

	if (access(dir, X_OK) == 0)	/* writable or not: a read-only */
		return 0;		/* store still serves reads */
	if (strlen(dir) >= sizeof(path))
		return 0;		/* let the store say what it can */
	strcpy(path, dir);
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (access(path, X_OK) == -1) {
			if (stat(path, &st) == 0)
				log_warnx("state directory %s: user %s cannot "
				    "pass through %s (mode %04o, owner uid %u)",
				    dir, user, path,
				    (unsigned int)(st.st_mode & 07777),
				    (unsigned int)st.st_uid);
			else
				log_warnx("state directory %s: user %s cannot "
				    "pass through %s", dir, user, path);
			return -1;
		}
		if (c == '\0')
			break;
		*p = c;
	}
	return 0;
}
