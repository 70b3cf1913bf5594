/* SPDX-License-Identifier: ISC */
/*
 * noipv6.c: an LD_PRELOAD shim for tests: socket(AF_INET6, ...) fails
 * with EAFNOSUPPORT, as on a kernel without IPv6 (ipv6.disable=1), so a
 * test sees what bart_svc does on such a host without booting one.
 * Built by the test that needs it (t_reg.sh), without sanitizers.
 */
#include <sys/socket.h>

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

typedef int (*socket_fn)(int, int, int);

int
socket(int domain, int type, int protocol)
{
	static socket_fn	real;

	if (domain == AF_INET6) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (real == NULL)
		real = (socket_fn)dlsym(RTLD_NEXT, "socket");
	return real(domain, type, protocol);
}
