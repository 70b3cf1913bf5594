# SPDX-License-Identifier: ISC
# core.mk: the fault-injection library the integration tests preload
# (tests/tools/fault.c).  Built without sanitizers in every tree.
$(B)/bart_fault.so: tests/tools/fault.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -g -fPIC -shared $(WARN) $(PKG_CFLAGS) -o $@ $< \
	    -ldl
testtools: $(B)/bart_fault.so
