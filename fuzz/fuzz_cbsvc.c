/* SPDX-License-Identifier: ISC */
/*
 * fuzz_cbsvc.c: libFuzzer target for the chat client's callback
 * transport (lib/cbsvc.c), which reads whatever a peer that reaches the
 * callback port sends: record marks, fragments, call headers, DELIVER
 * arguments.  Each input is written into one connection (a socketpair
 * adopted by the service), served until nothing is ready, then the
 * connection's deadline is passed so it is dropped.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "../lib/cbsvc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int		 ep = -1;
static struct cbsvc	*cb;

static bart_status
deliver(void *arg, const deliver_args *a)
{
	(void)arg;
	return a->msgs.msgs_len > 0 ? BART_OK : BART_EINVAL;
}

static void
serve(void)
{
	struct epoll_event	ev[8];
	int			n, i, rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		if ((n = epoll_wait(ep, ev, 8, 0)) <= 0)
			return;
		for (i = 0; i < n; i++)
			cbsvc_event(cb, ev[i].data.u64, ev[i].events);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	drain[4096];
	size_t	off = 0;
	ssize_t	n;
	int	sv[2];

	if (cb == NULL) {
		if ((ep = epoll_create1(0)) == -1 ||
		    (cb = cbsvc_open(ep, deliver, NULL)) == NULL)
			return 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		return 0;
	if (cbsvc_adopt(cb, sv[0]) == -1) {
		close(sv[1]);
		return 0;
	}
	while (off < size) {
		if ((n = write(sv[1], data + off, size - off)) <= 0)
			break;
		off += (size_t)n;
		serve();
		while (read(sv[1], drain, sizeof(drain)) > 0)
			;
	}
	serve();
	while (read(sv[1], drain, sizeof(drain)) > 0)
		;
	close(sv[1]);
	serve();		/* EOF: the service closes its end */
	cbsvc_timers(cb, util_now_us() + 60000000);
	return 0;
}
