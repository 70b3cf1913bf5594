# SPDX-License-Identifier: ISC
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

# The instruction-count part (bench/callgrind.c, run by bench/run.sh
# after bart_bench): bart_cgbench drives bart_svc and, beside it, a
# stock rpcgen/libtirpc server built from bench/stock/stock.x with
# rpcgen's own dispatcher (`rpcgen -m`) and a minimal main.
STOCK_DIR := $(B)/stock
$(STOCK_DIR)/stock.x: bench/stock/stock.x
	@mkdir -p $(STOCK_DIR)
	cp $< $@
# rpcgen names the header after its input: run it beside the copy.
$(STOCK_DIR)/stock.h: $(STOCK_DIR)/stock.x
	cd $(STOCK_DIR) && rm -f stock.h && rpcgen -h -o stock.h stock.x
$(STOCK_DIR)/stock_xdr.c: $(STOCK_DIR)/stock.x $(STOCK_DIR)/stock.h
	cd $(STOCK_DIR) && rm -f stock_xdr.c && rpcgen -c -o stock_xdr.c stock.x
$(STOCK_DIR)/stock_svc.c: $(STOCK_DIR)/stock.x $(STOCK_DIR)/stock.h
	cd $(STOCK_DIR) && rm -f stock_svc.c && rpcgen -m -o stock_svc.c stock.x
$(O)/stock/%.o: $(STOCK_DIR)/%.c $(STOCK_DIR)/stock.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_GEN) -I$(STOCK_DIR) -c -o $@ $<
$(O)/bench/stock/stock_main.o: bench/stock/stock_main.c $(STOCK_DIR)/stock.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OURS) -I$(STOCK_DIR) -c -o $@ $<
$(B)/stock_svc: $(O)/bench/stock/stock_main.o $(O)/stock/stock_svc.o \
		$(O)/stock/stock_xdr.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bench/callgrind.o: bench/callgrind.c $(GEN_H) $(STOCK_DIR)/stock.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OURS) -I$(STOCK_DIR) -MMD -MP -c -o $@ $<
$(B)/bart_cgbench: $(O)/bench/callgrind.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: $(B)/bart_cgbench $(B)/stock_svc
