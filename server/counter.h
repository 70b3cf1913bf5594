/* SPDX-License-Identifier: ISC */
/* counter.h: the counter's arithmetic, kept pure for testing. */
#ifndef BART_COUNTER_H
#define BART_COUNTER_H

#include <stddef.h>
#include <stdint.h>

#include "bart.h"

bart_status	counter_add(int64_t, int64_t, int64_t *);
void		counter_text(int64_t, char *, size_t);

#endif
