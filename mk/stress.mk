# SPDX-License-Identifier: ISC
# stress.mk: the bounded soak test, tests/stress/soak.sh (make stress).
#   make stress                        5 minutes (STRESS_SECS=300)
#   make stress STRESS_SECS=60         a short one
#   make stress-valgrind               60 s with bart_svc under valgrind
#   make stress B=build/asan           the ASan+UBSan tree (RSS not compared)
# Needs root: the soak runs in its own network+mount namespace with its
# own rpcbind, like the integration tests.  See fuzz/README.md.

STRESS_SECS ?= 300
STRESS_VALGRIND ?= 0

.PHONY: stress stress-valgrind stress-bins

stress-bins:
ifeq ($(B),build/asan)
	@$(MAKE) --no-print-directory asan
else
	@$(MAKE) --no-print-directory B=$(B) all
endif

stress: stress-bins
	@[ "$$(id -u)" = 0 ] || { echo "make stress needs root" \
	    "(namespaces, rpcbind)" >&2; exit 1; }
	BART_BIN=$(B) STRESS_SECS=$(STRESS_SECS) \
	    STRESS_VALGRIND=$(STRESS_VALGRIND) \
	    timeout -k 10 $$(( $(STRESS_SECS) * 2 + 300 )) \
	    unshare --net --mount bash tests/stress/soak.sh

stress-valgrind:
	@command -v valgrind >/dev/null 2>&1 || tools/deps.sh valgrind
	@$(MAKE) --no-print-directory stress STRESS_VALGRIND=1 STRESS_SECS=60
