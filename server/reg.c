/*
 * reg.c: bart's registrations with rpcbind: claim the program at
 * start-up, publish each bound address, put back what rpcbind lost,
 * and withdraw only our own entries at exit.  It registers addresses
 * with rpcb_set() and never goes through libtirpc's svc_reg(), so it
 * does not care who serves the sockets.
 */
#include <sys/socket.h>

#include <rpc/rpc.h>
#include <stdlib.h>
#include <string.h>

#include "bart.h"
#include "listen.h"
#include "log.h"
#include "reg.h"

/* The netids a stale daemon of ours may have left in rpcbind. */
static const char *const netids[] = { "tcp", "udp", "tcp6", "udp6",
    "local" };

struct reg_ent {
	struct netconfig	*nconf;
	struct sockaddr_storage	 addr;
	struct netbuf		 nb;		/* points at addr */
	int			 registered;
};

struct reg {
	struct reg_ent		 ent[LISTEN_MAX];
	int			 n;
};

/*
 * Remove stale registrations of our program (a killed daemon leaves
 * them).  ORDER: runs as root, before privileges are dropped, so the
 * unset may remove root-owned entries; and before our own sockets
 * exist.
 */
int
reg_claim(void)
{
	struct netconfig	*nc;
	size_t			 i;

	for (i = 0; i < sizeof(netids) / sizeof(netids[0]); i++) {
		if ((nc = getnetconfigent(netids[i])) == NULL)
			continue;
		rpcb_unset(BART_PROG, BART_VERS, nc);
		freenetconfigent(nc);
	}
	return 0;
}

/* Remember the addresses to register; the set may go away after. */
struct reg *
reg_init(const struct listen_set *ls)
{
	struct reg	*r;
	struct reg_ent	*re;
	int		 i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	for (i = 0; i < ls->n; i++) {
		re = &r->ent[r->n];
		if ((re->nconf = getnetconfigent(ls->ent[i].nconf->nc_netid)) ==
		    NULL)
			continue;
		memcpy(&re->addr, &ls->ent[i].addr, ls->ent[i].addrlen);
		re->nb.buf = &re->addr;
		re->nb.len = re->nb.maxlen = ls->ent[i].addrlen;
		r->n++;
	}
	return r;
}

/* Register every address with rpcbind; fails if none registers. */
int
reg_publish(struct reg *r)
{
	struct reg_ent	*re;
	int		 i, n = 0;

	for (i = 0; i < r->n; i++) {
		re = &r->ent[i];
		if (!rpcb_set(BART_PROG, BART_VERS, re->nconf, &re->nb)) {
			log_warnx("cannot register with rpcbind on %s",
			    re->nconf->nc_netid);
			continue;
		}
		re->registered = 1;
		n++;
	}
	if (n == 0) {
		log_warnx("cannot register program %u with rpcbind "
		    "(is rpcbind running?)", BART_PROG);
		return -1;
	}
	log_info("program %u version %u registered on %d transports",
	    BART_PROG, BART_VERS, n);
	return 0;
}

/*
 * rpcbind forgets everything when it is killed or restarted without
 * -w.  Ask it cheaply whether it still knows us; if not, set again.
 */
void
reg_recheck(struct reg *r)
{
	struct netbuf	 nb;
	struct sockaddr_storage ss;
	struct reg_ent	*re = NULL;
	int		 i, n = 0;

	/* Prefer local: libtirpc 1.3.3's rpcb_getaddr leaks 16 bytes per
	 * call over tcp or udp, and this runs every 2 s for ever. */
	for (i = 0; i < r->n; i++)
		if (r->ent[i].registered && (re == NULL || strcmp(
		    r->ent[i].nconf->nc_protofmly, NC_LOOPBACK) == 0))
			re = &r->ent[i];
	if (re == NULL)
		return;
	nb.buf = &ss;
	nb.maxlen = sizeof(ss);
	nb.len = 0;
	if (rpcb_getaddr(BART_PROG, BART_VERS, re->nconf, &nb, "localhost"))
		return;
	if (rpc_createerr.cf_stat != RPC_PROGNOTREGISTERED &&
	    rpc_createerr.cf_stat != RPC_PROGVERSMISMATCH)
		return;			/* rpcbind down: try next time */
	for (i = 0; i < r->n; i++) {
		re = &r->ent[i];
		if (!re->registered)
			continue;
		if (rpcb_set(BART_PROG, BART_VERS, re->nconf, &re->nb))
			n++;
	}
	log_info("rpcbind had lost our registration; registered again "
	    "on %d transports", n);
}

/* Unregister only our own entries. */
void
reg_exit(struct reg *r)
{
	struct reg_ent	*re;
	int		 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		re = &r->ent[i];
		if (re->registered && !rpcb_unset(BART_PROG, BART_VERS,
		    re->nconf))
			log_warnx("could not unregister %s",
			    re->nconf->nc_netid);
		freenetconfigent(re->nconf);
	}
	free(r);
}
