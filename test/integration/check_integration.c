/*
 * check_integration: the proxy and the Dify look-alike as real processes,
 * driven over real sockets.  ODP_BUILD names the build directory whose
 * binaries are tested (build, or build-asan for the sanitizer run).
 */
#include <check.h>
#include <stdlib.h>

#include "harness.h"
#include "it_suites.h"

/*
 * The suites about talking to Dify, run again with every proxy reaching
 * the look-alike over TLS (ODP_TEST_UPSTREAM_TLS=1): TLS has a read path
 * of its own (upstream.c, upstream_tls.c).
 */
static SRunner *
check_integration_tls(void)
{
	SRunner	*sr;

	sr = srunner_create(it_chat_suite());
	srunner_add_suite(sr, it_errors_suite());
	srunner_add_suite(sr, it_client_suite());
	srunner_add_suite(sr, it_misc_suite());
	srunner_add_suite(sr, it_apps_suite());
	srunner_add_suite(sr, it_reasoning_suite());
	srunner_add_suite(sr, it_uploads_suite());
	srunner_add_suite(sr, it_conversation_suite());
	return (sr);
}

/* Run every integration suite; the exit status is the failure count. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	harness_init();
	if (harness_upstream_tls) {
		sr = check_integration_tls();
		goto run;
	}
	sr = srunner_create(it_chat_suite());
	srunner_add_suite(sr, it_errors_suite());
	srunner_add_suite(sr, it_client_suite());
	srunner_add_suite(sr, it_misc_suite());
	srunner_add_suite(sr, it_cli_suite());
	srunner_add_suite(sr, it_workers_suite());
	srunner_add_suite(sr, it_hardening_suite());
	srunner_add_suite(sr, it_apps_suite());
	srunner_add_suite(sr, it_reasoning_suite());
	srunner_add_suite(sr, it_uploads_suite());
	srunner_add_suite(sr, it_conversation_suite());
	srunner_add_suite(sr, it_operations_suite());
	srunner_add_suite(sr, it_limits_suite());
	srunner_add_suite(sr, it_tls_suite());
	srunner_add_suite(sr, it_metrics_suite());
run:
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
