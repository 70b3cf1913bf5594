# SPDX-License-Identifier: ISC
# hardening.mk: the hostile RPC peer used by t_attack.sh and t_faults.sh.
$(B)/bart_raw: $(O)/tests/tools/raw.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
testtools: $(B)/bart_raw
