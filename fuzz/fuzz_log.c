/* SPDX-License-Identifier: ISC */
/*
 * fuzz_log.c: a silent log.c for the fuzz targets.  Warnings about bad
 * input are expected thousands of times a second; fatal() on the
 * request path is a bug ("a bad request never kills the daemon"), so
 * it aborts and the fuzzer reports the input.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

void
log_init(enum log_dest dest, int verbose, const char *ident)
{
	(void)dest;
	(void)verbose;
	(void)ident;
}

void
log_reopen(void)
{
}

void
log_tick(void)
{
}

void
log_warn(const char *fmt, ...)
{
	(void)fmt;
}

void
log_warnx(const char *fmt, ...)
{
	(void)fmt;
}

void
log_info(const char *fmt, ...)
{
	(void)fmt;
}

void
log_debug(const char *fmt, ...)
{
	(void)fmt;
}

static void __attribute__((noreturn, format(printf, 1, 0)))
die(const char *fmt, va_list ap)
{
	fputs("fatal on the request path: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	abort();
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	die(fmt, ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	die(fmt, ap);
}
