/* SPDX-License-Identifier: ISC */
/* suites.h: the Check suites that check_main.c runs. */
#ifndef BART_SUITES_H
#define BART_SUITES_H

#include <check.h>

Suite	*args_suite(void);
Suite	*chat_suite(void);
Suite	*counter_suite(void);
Suite	*drc_suite(void);
Suite	*lib_suite(void);
Suite	*limit_suite(void);
Suite	*log_suite(void);
Suite	*pgstore_suite(void);
Suite	*reqidx_suite(void);
Suite	*store_suite(void);
Suite	*util_suite(void);
Suite	*wire_suite(void);
Suite	*xdr_suite(void);

#endif
