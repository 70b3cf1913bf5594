/* chatui.h: the interactive chat client (bart_clnt HOST chat NAME). */
#ifndef BART_CHATUI_H
#define BART_CHATUI_H

#include "conn.h"

int	chatui_run(struct conn *, const char *);

#endif
