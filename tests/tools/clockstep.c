/* SPDX-License-Identifier: ISC */
/*
 * clockstep.c: an LD_PRELOAD shim for tests: the wall clock (time(),
 * gettimeofday(), CLOCK_REALTIME) runs behind by the number of seconds
 * in the file $CLOCKSTEP_FILE (none or missing: no step), read on each
 * call, so a test steps the clock of one running process back and
 * forth without touching the host's.  Monotonic clocks are untouched.
 * Built by the test that needs it (t_content.sh), without sanitizers.
 */
#include <sys/time.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*gettime_fn)(clockid_t, struct timespec *);

static long
step(void)
{
	const char	*path = getenv("CLOCKSTEP_FILE");
	FILE		*f;
	long		 s = 0;

	if (path == NULL || (f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &s) != 1)
		s = 0;
	fclose(f);
	return s;
}

int
clock_gettime(clockid_t clk, struct timespec *ts)
{
	static gettime_fn	real;
	int			r;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "clock_gettime");
	r = real(clk, ts);
	if (r == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
		ts->tv_sec -= step();
	return r;
}

time_t
time(time_t *t)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (t != NULL)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

int
gettimeofday(struct timeval *tv, void *tz)
{
	struct timespec	ts;

	(void)tz;
	clock_gettime(CLOCK_REALTIME, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}
