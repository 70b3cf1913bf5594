/* SPDX-License-Identifier: ISC */
/* json.h: bart_clnt's JSON output (-o json), one object per line. */
#ifndef BART_JSON_H
#define BART_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../lib/bart.h"

int	json_escape(const char *, char *, size_t);
int	json_time(int64_t, char *, size_t);
void	json_msg(FILE *, const struct bart_msg *);
void	json_str(FILE *, const char *, const char *, int);

#endif
