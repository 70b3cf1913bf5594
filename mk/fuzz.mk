# SPDX-License-Identifier: ISC
# fuzz.mk: libFuzzer targets under fuzz/ (see fuzz/README.md).
#   make fuzz                   build, run each target FUZZ_SECS (60) seconds
#   make fuzz FUZZ_SECS=900     longer
#   make fuzz-build             only build build/fuzz/fuzz_*
#   make fuzz-corpus            regenerate the seeds in fuzz/corpus/
# Targets run one after the other on a working corpus in build/fuzz/corpus;
# the checked-in seeds are read, never written.  Crashes, leaks and
# timeouts land in build/fuzz/artifacts/ and make the rule fail.

FUZZ_SECS    ?= 60
FUZZ_FLAGS   ?=
FUZZ_B       := build/fuzz
FUZZ_CC      ?= clang
FUZZ_TARGETS := fuzz_xdr fuzz_dispatch
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		-fno-omit-frame-pointer
FUZZ_OPT     := -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_SRV     := server/proc.c server/push.c server/chat.c server/store.c \
		server/counter.c server/drc.c server/wire.c server/serve.c \
		server/svc.c server/conns.c \
		server/peer.c server/daemon.c server/limit.c server/listen.c \
		server/reg.c server/pgstore.c server/reqidx.c common/util.c
FUZZ_GEN_OBJ := $(FUZZ_B)/obj/gen/bart_xdr.o
FUZZ_SRV_OBJ := $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(FUZZ_SRV)) \
		$(FUZZ_B)/obj/fuzz/fuzz_log.o
FUZZ_LINK    := $(FUZZ_SAN) -fsanitize=fuzzer

.PHONY: fuzz fuzz-build fuzz-bins fuzz-corpus

# ORDER: clang first; the sub-make compiles every object with clang and
# the fuzzer instrumentation into its own tree.
fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || tools/deps.sh clang
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=$(FUZZ_CC) \
	    OPT="$(FUZZ_OPT)" fuzz-bins

fuzz-bins: $(addprefix $(FUZZ_B)/,$(FUZZ_TARGETS)) $(FUZZ_B)/gen_corpus

$(FUZZ_B)/fuzz_xdr: fuzz/fuzz_xdr.c fuzz/fuzz_types.h $(FUZZ_GEN_OBJ)
	$(CC) $(CFLAGS_OURS) -Ifuzz -o $@ $< $(FUZZ_GEN_OBJ) \
	    $(FUZZ_LINK) $(LDLIBS)

$(FUZZ_B)/fuzz_dispatch: fuzz/fuzz_dispatch.c $(FUZZ_SRV_OBJ) $(FUZZ_GEN_OBJ)
	$(CC) $(CFLAGS_OURS) -Ifuzz -o $@ $< $(FUZZ_SRV_OBJ) $(FUZZ_GEN_OBJ) \
	    -Wl,--wrap=push_subscribe $(FUZZ_LINK) $(PKG_LIBS) -lpthread

# The seed generator is an ordinary program: no libFuzzer main.
$(FUZZ_B)/gen_corpus: fuzz/gen_corpus.c fuzz/fuzz_types.h $(FUZZ_GEN_OBJ)
	$(CC) $(CFLAGS_OURS) -Ifuzz -o $@ $< $(FUZZ_GEN_OBJ) $(FUZZ_SAN) \
	    $(LDLIBS)

fuzz-corpus: fuzz-build
	rm -rf fuzz/corpus/fuzz_xdr fuzz/corpus/fuzz_dispatch
	$(FUZZ_B)/gen_corpus fuzz/corpus

# Each target: new inputs go to the working corpus (first directory);
# the seeds (second) are only read.  libFuzzer exits non-zero on a
# crash, a leak, a timeout (-timeout) or an out-of-memory (-rss_limit_mb).
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_B)/corpus/$$t $(FUZZ_B)/artifacts; \
	    echo "fuzz: $$t for $(FUZZ_SECS) s"; \
	    $(FUZZ_B)/$$t -max_total_time=$(FUZZ_SECS) -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -close_fd_mask=1 \
		-print_final_stats=1 \
		-artifact_prefix=$(FUZZ_B)/artifacts/$$t- $(FUZZ_FLAGS) \
		$(FUZZ_B)/corpus/$$t fuzz/corpus/$$t \
		>$(FUZZ_B)/$$t.log 2>&1 || { \
		echo "fuzz: $$t FAILED; last lines of $(FUZZ_B)/$$t.log:"; \
		tail -60 $(FUZZ_B)/$$t.log; exit 1; }; \
	    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov: ' \
		$(FUZZ_B)/$$t.log | tail -3; \
	done; echo "fuzz: all targets clean"
