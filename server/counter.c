/* SPDX-License-Identifier: ISC */
/* counter.c: what COUNT does to the number, and what it says. */
#include <stdio.h>

#include "counter.h"

/*
 * 0 reads the counter without changing it; a negative increment is
 * refused (the counter counts calls, it never goes back); a sum past
 * INT64_MAX is refused and changes nothing.
 */
bart_status
counter_add(int64_t cur, int64_t up, int64_t *out)
{
	if (up < 0)
		return BART_ENEGATIVE;
	if (cur > INT64_MAX - up)
		return BART_EOVERFLOW;
	*out = cur + up;
	return BART_OK;
}

/* The sentence of the original Pyro daemon, to the letter. */
void
counter_text(int64_t n, char *buf, size_t len)
{
	snprintf(buf, len, "I was called %lld times.", (long long)n);
}
