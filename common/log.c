/* SPDX-License-Identifier: ISC */
/* log.c: logging to stderr (foreground) or syslog (daemon). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static enum log_dest	 log_dest = LOG_TO_STDERR;
static int		 log_verbose;
static const char	*log_ident = "bart";

/*
 * Repeated lines are rate-limited per call site (its format string):
 * at most LOG_BURST lines per LOG_WINDOW_US, then one line saying how
 * many more were suppressed.  A flood of failing requests must not
 * become a flood of syslog.  Warnings and info only: fatal() always
 * speaks, and debug lines are what -v asked for.  log_mu also keeps
 * the two threads' lines whole.
 */
#define LOG_BURST	20
#define LOG_WINDOW_US	10000000ULL
#define LOG_SITES	64

struct log_site {
	const char	*fmt;
	uint64_t	 start;		/* us, monotonic */
	unsigned int	 n;		/* lines this window */
	unsigned long	 suppressed;
};

static pthread_mutex_t	 log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct log_site	 log_sites[LOG_SITES];
static unsigned long	 log_pending;	/* sites with suppressed lines */

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

static uint64_t
log_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Caller holds log_mu. */
static void
emit(int pri, const char *msg, const char *suffix)
{
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
}

/* Caller holds log_mu.  Say how many lines of SITE were held back. */
static void
site_flush(struct log_site *site)
{
	char	msg[160];

	if (site->suppressed == 0)
		return;
	snprintf(msg, sizeof(msg), "%lu more lines like \"%.60s\" "
	    "suppressed", site->suppressed, site->fmt);
	emit(LOG_INFO, msg, NULL);
	site->suppressed = 0;
	log_pending--;
}

/* Caller holds log_mu.  May a line from FMT's call site go out now? */
static int
site_admit(const char *fmt, uint64_t now)
{
	struct log_site	*site = NULL, *old = &log_sites[0];
	int		 i;

	for (i = 0; i < LOG_SITES && site == NULL; i++) {
		if (log_sites[i].fmt == fmt)
			site = &log_sites[i];
		else if (log_sites[i].start < old->start)
			old = &log_sites[i];
	}
	if (site == NULL) {
		site = old;		/* the stalest, or an empty one */
		site_flush(site);
		site->fmt = fmt;
		site->start = now;
		site->n = 0;
	}
	if (now - site->start >= LOG_WINDOW_US) {
		site_flush(site);
		site->start = now;
		site->n = 0;
	}
	if (++site->n <= LOG_BURST)
		return 1;
	if (site->suppressed++ == 0)
		log_pending++;
	return 0;
}

/* Now and then: report suppressed lines whose window has ended. */
void
log_tick(void)
{
	uint64_t	now;
	int		i;

	pthread_mutex_lock(&log_mu);
	if (log_pending > 0) {
		now = log_now();
		for (i = 0; i < LOG_SITES; i++)
			if (log_sites[i].suppressed > 0 &&
			    now - log_sites[i].start >= LOG_WINDOW_US) {
				site_flush(&log_sites[i]);
				log_sites[i].start = now;
				log_sites[i].n = 0;
			}
	}
	pthread_mutex_unlock(&log_mu);
}

static void
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char	msg[1024];
	int	saved = errno;

	pthread_mutex_lock(&log_mu);
	if (pri >= LOG_WARNING && pri < LOG_DEBUG &&
	    !site_admit(fmt, log_now())) {
		pthread_mutex_unlock(&log_mu);
		errno = saved;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	emit(pri, msg, suffix);
	pthread_mutex_unlock(&log_mu);
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
