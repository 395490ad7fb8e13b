/*
 * fuzz_request: any body either gets a 400 naming what is wrong, or
 * yields a Dify request body that is valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_error.h"
#include "buf.h"
#include "chat_request.h"

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chat_request	 cr;
	struct api_error	 err;
	struct buf		 body = BUF_INIT;
	json_t			*j;

	if (chat_request_parse(&cr, (const char *)data, size, &err) != 0) {
		if (err.status != 400 || err.message[0] == '\0')
			abort();
		return (0);
	}
	chat_request_dify_body(&cr, cr.user[0] ? cr.user : "u", NULL, 0,
	    &body);
	if ((j = json_loadb(body.data, body.len, JSON_ALLOW_NUL, NULL)) ==
	    NULL || !json_is_string(json_object_get(j, "query")))
		abort();
	json_decref(j);
	buf_reset(&body);
	chat_request_dify_body(&cr, "u", "4f4b6c1e-0d2c-4c3a-9d1e-2b1f0a9c8e7d",
	    1, &body);
	if ((j = json_loadb(body.data, body.len, JSON_ALLOW_NUL, NULL)) == NULL)
		abort();
	json_decref(j);
	buf_free(&body);
	chat_request_free(&cr);
	return (0);
}
