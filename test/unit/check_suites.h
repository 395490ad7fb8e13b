/*
 * check_suites: one Check suite per pure module.
 */
#ifndef CHECK_SUITES_H
#define CHECK_SUITES_H

#include <check.h>

Suite	*buf_suite(void);
Suite	*sse_suite(void);
Suite	*chunked_suite(void);
Suite	*dify_event_suite(void);
Suite	*chat_request_suite(void);
Suite	*api_error_suite(void);
Suite	*openai_format_suite(void);
Suite	*relay_suite(void);
Suite	*config_suite(void);
Suite	*dotenv_suite(void);
Suite	*url_suite(void);
Suite	*mempool_suite(void);
Suite	*json_reader_suite(void);
Suite	*http_date_suite(void);
Suite	*http_reply_suite(void);
Suite	*http_guard_suite(void);
Suite	*route_suite(void);
Suite	*cors_suite(void);
Suite	*auth_suite(void);
Suite	*dify_app_suite(void);
Suite	*apps_suite(void);
Suite	*app_cache_suite(void);
Suite	*dify_upload_suite(void);
Suite	*think_suite(void);
Suite	*tool_call_suite(void);
Suite	*conversation_suite(void);
Suite	*rate_limit_suite(void);
Suite	*metrics_suite(void);
Suite	*upstream_tls_suite(void);
Suite	*siphash_lanes_suite(void);

#endif
