/*
 * check_main: runs every unit suite (pure modules only, no sockets).
 */
#include <check.h>
#include <stdlib.h>

#include "check_suites.h"

/* Run all suites; the exit status is the number of failures. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(buf_suite());
	srunner_add_suite(sr, sse_suite());
	srunner_add_suite(sr, chunked_suite());
	srunner_add_suite(sr, dify_event_suite());
	srunner_add_suite(sr, chat_request_suite());
	srunner_add_suite(sr, api_error_suite());
	srunner_add_suite(sr, openai_format_suite());
	srunner_add_suite(sr, relay_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, dotenv_suite());
	srunner_add_suite(sr, url_suite());
	srunner_add_suite(sr, mempool_suite());
	srunner_add_suite(sr, json_reader_suite());
	srunner_add_suite(sr, http_date_suite());
	srunner_add_suite(sr, http_reply_suite());
	srunner_add_suite(sr, http_guard_suite());
	srunner_add_suite(sr, route_suite());
	srunner_add_suite(sr, cors_suite());
	srunner_add_suite(sr, auth_suite());
	srunner_add_suite(sr, dify_app_suite());
	srunner_add_suite(sr, apps_suite());
	srunner_add_suite(sr, app_cache_suite());
	srunner_add_suite(sr, dify_upload_suite());
	srunner_add_suite(sr, think_suite());
	srunner_add_suite(sr, tool_call_suite());
	srunner_add_suite(sr, conversation_suite());
	srunner_add_suite(sr, rate_limit_suite());
	srunner_add_suite(sr, metrics_suite());
	srunner_add_suite(sr, upstream_tls_suite());
	srunner_add_suite(sr, siphash_lanes_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
