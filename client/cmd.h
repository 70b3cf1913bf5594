/* cmd.h: bart_clnt's command table, option parsing and commands. */
#ifndef BART_CMD_H
#define BART_CMD_H

#include <stdint.h>
#include <stdio.h>

struct opts;

struct cmd {
	const char	*name;
	int		 min_args;
	int		 max_args;	/* -1: any */
	int		(*fn)(struct opts *);
	const char	*usage;
	const char	*help;
};

struct opts {
	const char		*netid;		/* -T */
	int			 timeout;	/* -t, seconds */
	const char		*host;
	const struct cmd	*cmd;
	int			 argc;		/* command arguments */
	char			**argv;
};

/* What a command's own arguments parse to. */
struct cmd_args {
	long long	 n;		/* count N, history -n N */
	uint64_t	 since;		/* history --since SEQ */
	int		 have_since;
	const char	*name;
	char		 text[2048];
};

#define CMD_HELP	(-1)	/* help printed: exit 0 */

void	cmd_usage(FILE *);
int	cmd_parse(int, char **, struct opts *);
int	cmd_parse_count(struct opts *, struct cmd_args *);
int	cmd_parse_say(struct opts *, struct cmd_args *);
int	cmd_parse_history(struct opts *, struct cmd_args *);
int	cmd_parse_chat(struct opts *, struct cmd_args *);

#endif
