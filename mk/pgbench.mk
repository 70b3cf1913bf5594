# SPDX-License-Identifier: ISC
# pgbench.mk: the PostgreSQL part of `make bench` (bench/pg.sh, issue 11):
# COUNT through bart on PostgreSQL beside the libpq floor, SQLite and
# NULLPROC, and push across servers.  `make bench-pg` runs it alone;
# PG_SECS sets the seconds per point (default 5; QUICK=1: 2).
$(B)/bart_pgbench: $(O)/bench/pgbench.o $(COMMON_OBJ)
	$(LINK) -o $@ $^ $(LDLIBS)

.PHONY: bench-pg
bench-pg: $(PROGS) $(B)/bart_pgbench $(B)/bart_subsim
	bench/pg.sh $(B) $(or $(PG_SECS),$(if $(QUICK),2,5))
bench: bench-pg
