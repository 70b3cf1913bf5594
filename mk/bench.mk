# bench.mk: `make bench` runs the full benchmark (several minutes) and
# `make bench QUICK=1` a quick one (under a minute).  Both run in their
# own network+mount namespace with their own rpcbind (bench/run.sh).
# Results: $(B)/bench/results.tsv and $(B)/bench/latency.svg.

BENCH_SRC := bench/main.c bench/stats.c bench/floor.c bench/rpc.c \
	     bench/latency.c bench/oneshot.c bench/chat.c
BENCH_OBJ := $(call objs,$(BENCH_SRC))

$(B)/bart_bench: $(BENCH_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm

.PHONY: bench
# The one-shot part times the package's dynamic bart_clnt and the
# CLNT_STATIC=1 link of the same objects side by side.
bench: $(PROGS) $(B)/bart_bench $(B)/bart_clnt-static
	bench/run.sh $(B) $(if $(QUICK),-q) \
	    -e bart_clnt-static=$(abspath $(B))/bart_clnt-static
