/* SPDX-License-Identifier: ISC */
/* bart_clnt.c: the bart command line's main(): parse, open, run, close. */
#include <stdio.h>

#include "cmd.h"

int
main(int argc, char **argv)
{
	struct cmd_args	 ca = { 0 };
	struct opts	 o;
	struct bart	*b = NULL;
	int		 rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = cmd_parse(argc, argv, &o)) != 0)
		return rc == CMD_HELP ? 0 : rc;
	if ((rc = o.cmd->parse(&o, &ca)) != 0)
		return rc;
	if (o.cmd->needs_conn &&
	    (rc = bart_open(&b, o.host, o.netid, o.timeout_ms)) != 0)
		rc = cmd_fail(&o, rc, bart_errmsg(b));
	else
		rc = o.cmd->run(&o, b, &ca);
	bart_close(b);
	return rc;
}
