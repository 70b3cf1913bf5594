/* SPDX-License-Identifier: ISC */
/* util.h: small helpers both programs share. */
#ifndef BART_UTIL_H
#define BART_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bart.h"

/* xdr_void is declared without arguments; cast via void (*)(void). */
#define XDR_VOID	((xdrproc_t)(void (*)(void))xdr_void)

const char	*util_status_str(bart_status);
bart_status	 util_check_name(const char *);
bart_status	 util_check_text(const char *);
int		 util_parse_ll(const char *, long long, long long,
		    long long *);
size_t		 util_escape(const char *, char *, size_t);
uint64_t	 util_now_us(void);
void		 util_random(void *, size_t);
uint64_t	 util_random_u64(void);
uint64_t	 util_mix64(uint64_t);
int		 util_connect_timed(const struct sockaddr *, socklen_t, int);
int		 util_addr_str(const struct sockaddr *, char *, size_t);
size_t		 util_call_encode(unsigned char *, size_t, uint32_t, uint32_t,
		    uint32_t, uint32_t, xdrproc_t, void *);

#endif
