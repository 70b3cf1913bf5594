/* SPDX-License-Identifier: ISC */
/* reg.h: bart's registrations with rpcbind. */
#ifndef BART_REG_H
#define BART_REG_H

#include <sys/types.h>

#include "listen.h"

struct reg;

int		 reg_claim(uid_t);
struct reg	*reg_init(const struct listen_set *);
int		 reg_publish(struct reg *);
void		 reg_recheck(struct reg *);
void		 reg_exit(struct reg *);

#endif
