/*
 * fuzz_config: a config file of any bytes is applied or rejected with
 * errors that each say where; nothing crashes or leaks.
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
	config_finish(&c, &errs);
	for (i = 0; i < errs.n; i++) {
		if (strncmp(errs.v[i], "f:", 2) != 0 &&
		    strncmp(errs.v[i], "dify_api_url", 12) != 0 &&
		    strncmp(errs.v[i], "default_user", 12) != 0)
			abort();
	}
	config_errors_free(&errs);
	config_free(&c);
	return (0);
}
