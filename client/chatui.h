/* SPDX-License-Identifier: ISC */
/* chatui.h: the interactive chat client (bart_clnt HOST chat NAME). */
#ifndef BART_CHATUI_H
#define BART_CHATUI_H

#include "cmd.h"

int	chatui_run(struct opts *, struct bart *, const char *);

#endif
