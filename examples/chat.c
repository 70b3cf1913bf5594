/* SPDX-License-Identifier: ISC */
/*
 * chat.c: join the bart chat from a program's own poll loop.  Lines on
 * stdin are sent, messages are printed as "SEQ <NAME> TEXT" (escaped),
 * and the session's status changes go to stderr.  EOF leaves.
 *   cc chat.c $(pkg-config --cflags --libs bart)
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <bart.h>

static void
on_msg(void *arg, const struct bart_msg *m)
{
	char	name[4 * BART_NAME_LIMIT + 8], text[4 * BART_TEXT_LIMIT + 8];

	(void)arg;
	bart_escape(m->name, name, sizeof(name));
	bart_escape(m->text, text, sizeof(text));
	printf("%llu <%s> %s\n", (unsigned long long)m->seq, name, text);
	fflush(stdout);
}

static void
on_event(void *arg, enum bart_chat_event ev, int err, const char *detail)
{
	(void)arg;
	fprintf(stderr, "chat: event %d%s%s%s%s\n", (int)ev,
	    err ? ": " : "", err ? bart_strerror(err) : "",
	    detail ? " - " : "", detail ? detail : "");
}

int
main(int argc, char **argv)
{
	struct bart_chat_cbs	 cbs = { on_msg, on_event, NULL };
	struct bart_chat	*chat;
	struct bart		*b;
	struct pollfd		 pfd[2];
	char			 line[1024];
	int			 err;

	if (argc != 3) {
		fprintf(stderr, "usage: %s HOST NAME\n", argv[0]);
		return 2;
	}
	if ((err = bart_open(&b, argv[1], NULL, 5000)) != 0 ||
	    (err = bart_chat_join(b, argv[2], &cbs, &chat)) != 0) {
		fprintf(stderr, "%s: %s\n", argv[0], bart_errmsg(b));
		bart_close(b);
		return 1;
	}
	/* Unbuffered: a line left in stdio's buffer would not wake poll. */
	setvbuf(stdin, NULL, _IONBF, 0);
	pfd[0].fd = 0;
	pfd[0].events = POLLIN;
	pfd[1].fd = bart_chat_fd(chat);
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1)
			break;
		if (pfd[1].revents & POLLIN && bart_chat_process(chat) != 0)
			break;
		if (pfd[0].revents & (POLLIN | POLLHUP)) {
			if (fgets(line, sizeof(line), stdin) == NULL)
				break;
			line[strcspn(line, "\n")] = '\0';
			if (line[0] != '\0' &&
			    (err = bart_chat_send(chat, line)) != 0)
				fprintf(stderr, "%s: %s\n", argv[0],
				    bart_errmsg(b));
		}
	}
	err = bart_chat_leave(chat) == 0 ? 0 : 1;
	bart_close(b);
	return err;
}
