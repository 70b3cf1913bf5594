# SPDX-License-Identifier: ISC
# tsan.mk: a ThreadSanitizer tree in build/tsan.  The RPC thread and the
# chat delivery thread share push.c's subscription table and chat.c's
# ring, and both log: `make tsan-check` runs the unit tests and the chat
# and push integration tests, and t_pg_silent (the database worker),
# under ThreadSanitizer, and `make check` runs it.  Any report fails the
# run (halt_on_error in the unit tests, the integration scripts'
# sanitizer-log check in lib.sh).
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer -O1 -g
TSAN_TESTS := tests/integration/t_chat.sh tests/integration/t_push.sh \
	      tests/integration/t_pg_silent.sh \
	      tests/integration/t_push_window.sh

.PHONY: tsan tsan-check
tsan:
	$(MAKE) --no-print-directory B=build/tsan OPT="$(TSAN_FLAGS)" \
	    EXTRA_LDFLAGS="-fsanitize=thread" WERROR="$(WERROR)" \
	    build/tsan/bart_svc build/tsan/bart_clnt build/tsan/check_bart \
	    build/tsan/bart_poke build/tsan/bart_raw

tsan-check: tsan $(B)/bart_subsim
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 \
	    suppressions=$(CURDIR)/tests/tsan.supp" \
	    build/tsan/check_bart
	tests/integration/run.sh build/tsan $(TSAN_TESTS)
