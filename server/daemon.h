/* SPDX-License-Identifier: ISC */
/* daemon.h: detaching, the ready pipe, pidfile, privileges, signals. */
#ifndef BART_DAEMON_H
#define BART_DAEMON_H

#include <signal.h>
#include <sys/types.h>

/* Root's runtime directory: default pidfile and local socket. */
#define BART_RUN_DIR	"/run/bart"

extern volatile sig_atomic_t	daemon_quit;
extern volatile sig_atomic_t	daemon_hup;

void	signals_init(void);
int	daemon_detach(void);
void	daemon_ready(int);
int	pidfile_create(const char *);
void	pidfile_remove(const char *, int);
int	daemon_user(const char *, uid_t *, gid_t *);
int	daemon_state_dir(const char *, uid_t, gid_t);
int	daemon_lock_state(const char *);
int	daemon_drop(const char *, uid_t, gid_t);
int	daemon_run_dir(const char *, uid_t, gid_t);
int	daemon_path_in(const char *, const char *);
int	daemon_reachable(const char *, const char *);

#endif
