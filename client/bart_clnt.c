/* bart_clnt.c: the bart command line's main(). */
#include <stdio.h>

#include "cmd.h"

int
main(int argc, char **argv)
{
	struct opts	o;
	int		rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = cmd_parse(argc, argv, &o)) != 0)
		return rc == CMD_HELP ? 0 : rc;
	return o.cmd->fn(&o);
}
