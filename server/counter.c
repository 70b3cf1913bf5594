/* SPDX-License-Identifier: ISC */
/* counter.c: what COUNT does to the number, and what it says. */
#include <stdio.h>
#include <string.h>

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

/*
 * The sentence of the original Pyro daemon, to the letter.  Written by
 * hand: snprintf cost every COUNT about 880 instructions, a twentieth
 * of a grouped one.  A buffer too short gets snprintf's truncation.
 */
void
counter_text(int64_t n, char *buf, size_t len)
{
	static const char	 head[] = "I was called ", tail[] = " times.";
	char			 num[24], *p = num + sizeof(num);
	uint64_t		 u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
	size_t			 nd;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (n < 0)
		*--p = '-';
	nd = (size_t)(num + sizeof(num) - p);
	if (sizeof(head) - 1 + nd + sizeof(tail) > len) {
		snprintf(buf, len, "%s%.*s%s", head, (int)nd, p, tail);
		return;
	}
	memcpy(buf, head, sizeof(head) - 1);
	memcpy(buf + sizeof(head) - 1, p, nd);
	memcpy(buf + sizeof(head) - 1 + nd, tail, sizeof(tail));
}
