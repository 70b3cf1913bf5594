/* SPDX-License-Identifier: ISC */
/*
 * cmd.h: bart_clnt's command table, its option parsing and the one
 * error reporter.  A command entry carries its own argument parser and
 * whether it needs a connection, so main() is parse, open, run, close.
 */
#ifndef BART_CMD_H
#define BART_CMD_H

#include <stdint.h>
#include <stdio.h>

#include "../lib/bart.h"

struct opts;
struct cmd_args;

struct cmd {
	const char	*name;
	int		 min_args;
	int		 max_args;	/* -1: any */
	int		 needs_conn;
	int		(*parse)(struct opts *, struct cmd_args *);
	int		(*run)(struct opts *, struct bart *,
			    struct cmd_args *);
	const char	*usage;
	const char	*help;
};

enum out_fmt {
	OUT_TEXT,
	OUT_JSON		/* one JSON object per line */
};

struct opts {
	const char		*netid;		/* -T */
	unsigned int		 timeout_ms;	/* -t, given in seconds */
	enum out_fmt		 out;		/* -o */
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
	unsigned int	 warn_ms;	/* health -w */
	unsigned int	 crit_ms;	/* health -c */
};

#define CMD_HELP	(-1)	/* help printed: exit 0 */

void	cmd_usage(FILE *);
int	cmd_parse(int, char **, struct opts *);
int	cmd_parse_timeout(const char *, unsigned int *);
int	cmd_parse_count(struct opts *, struct cmd_args *);
int	cmd_parse_say(struct opts *, struct cmd_args *);
int	cmd_parse_history(struct opts *, struct cmd_args *);
int	cmd_parse_chat(struct opts *, struct cmd_args *);
int	cmd_parse_health(struct opts *, struct cmd_args *);
int	cmd_exit_code(int);
int	cmd_fail(const struct opts *, int, const char *);
int	cmd_usage_error(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
