# SPDX-License-Identifier: ISC
# subsim.mk: bart_subsim, many simulated chat subscribers in one process
# (bench/subsim.c).  t_push.sh and the fan-out part of make bench use it.
$(B)/bart_subsim: $(O)/bench/subsim.o $(COMMON_OBJ)
	$(LINK) -o $@ $^ $(LDLIBS)
testtools: $(B)/bart_subsim
bench: $(B)/bart_subsim
