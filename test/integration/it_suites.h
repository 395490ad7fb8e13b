/*
 * it_suites: the integration suites.
 */
#ifndef IT_SUITES_H
#define IT_SUITES_H

#include <check.h>

Suite	*it_chat_suite(void);
Suite	*it_errors_suite(void);
Suite	*it_client_suite(void);
Suite	*it_misc_suite(void);
Suite	*it_cli_suite(void);
Suite	*it_workers_suite(void);
Suite	*it_hardening_suite(void);
Suite	*it_apps_suite(void);
Suite	*it_reasoning_suite(void);
Suite	*it_uploads_suite(void);
Suite	*it_conversation_suite(void);
Suite	*it_operations_suite(void);
Suite	*it_limits_suite(void);
Suite	*it_tls_suite(void);
Suite	*it_metrics_suite(void);

#endif
