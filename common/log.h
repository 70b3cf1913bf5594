/* SPDX-License-Identifier: ISC */
/* log.h: one logging module for bart (OpenBSD log.c API). */
#ifndef BART_LOG_H
#define BART_LOG_H

#include <stdarg.h>

enum log_dest {
	LOG_TO_STDERR,
	LOG_TO_SYSLOG,
	LOG_TO_BOTH		/* syslog, and stderr until detached */
};

void	log_init(enum log_dest, int verbose, const char *ident);
void	log_reopen(void);
void	log_tick(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
