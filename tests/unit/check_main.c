/* SPDX-License-Identifier: ISC */
/* check_main.c: run every unit suite; exit non-zero if any test fails. */
#include <stdlib.h>

#include <check.h>

#include "suites.h"

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(counter_suite());
	srunner_add_suite(sr, store_suite());
	srunner_add_suite(sr, args_suite());
	srunner_add_suite(sr, xdr_suite());
	srunner_add_suite(sr, chat_suite());
	srunner_add_suite(sr, drc_suite());
	srunner_add_suite(sr, lib_suite());
	srunner_add_suite(sr, util_suite());
	srunner_add_suite(sr, limit_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, pgstore_suite());
	srunner_add_suite(sr, reqidx_suite());
	srunner_add_suite(sr, wire_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
