/*
 * fuzz_config: a config file of any bytes is applied or rejected with
 * errors that each say where (a file position, or the setting a check
 * across settings is about); nothing crashes or leaks.  The files a
 * config names (api_keys_file, the TLS listener's) are not read: the
 * fuzzer must not open whatever path it makes up (/dev/stdin would
 * block it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };
	size_t			i;

	config_defaults(&c);
	config_load_text(&c, "f", (const char *)data, size, &errs);
	free(c.api_keys_file);
	free(c.tls_cert_file);
	free(c.tls_key_file);
	c.api_keys_file = c.tls_cert_file = c.tls_key_file = NULL;
	config_finish(&c, &errs);
	for (i = 0; i < errs.n; i++) {
		if (strncmp(errs.v[i], "f:", 2) != 0 &&
		    config_names_key(errs.v[i]) == 0)
			abort();
	}
	config_errors_free(&errs);
	config_free(&c);
	return (0);
}
