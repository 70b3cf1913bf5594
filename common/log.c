/* log.c: logging to stderr (foreground) or syslog (daemon). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static enum log_dest	 log_dest = LOG_TO_STDERR;
static int		 log_verbose;
static const char	*log_ident = "bart";

void
log_init(enum log_dest dest, int verbose, const char *ident)
{
	log_dest = dest;
	log_verbose = verbose;
	if (ident != NULL)
		log_ident = ident;
	if (dest != LOG_TO_STDERR)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* SIGHUP: syslog may have been restarted; reconnect to it. */
void
log_reopen(void)
{
	if (log_dest != LOG_TO_STDERR) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

static void
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char	msg[1024];
	int	saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_dest != LOG_TO_STDERR) {
		if (suffix != NULL)
			syslog(pri, "%s: %s", msg, suffix);
		else
			syslog(pri, "%s", msg);
	}
	/* While detaching, the user's terminal gets only the trouble. */
	if (log_dest == LOG_TO_STDERR ||
	    (log_dest == LOG_TO_BOTH && pri <= LOG_WARNING)) {
		/* One fprintf per line so threads do not interleave. */
		if (suffix != NULL)
			fprintf(stderr, "%s: %s: %s\n", log_ident, msg, suffix);
		else
			fprintf(stderr, "%s: %s\n", log_ident, msg);
	}
	errno = saved;
}

/* GNU strerror_r (we build with _GNU_SOURCE) may not fill BUF. */
static const char *
errstr(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	char	buf[128];
	int	saved = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, errstr(saved, buf, sizeof(buf)));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	char	buf[128];
	int	saved = errno;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, errstr(saved, buf, sizeof(buf)));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
