/*
 * fuzz_sse: the SSE parser must give the same events however its input is
 * split.  The first byte chooses split points; the rest is the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sse.h"

/* Collects events as "name\0data\0" records. */
static int
fuzz_sse_collect(void *arg, const char *event, size_t eventlen,
    const char *data, size_t datalen)
{
	struct buf	*b = arg;

	buf_add(b, event, eventlen);
	buf_add_char(b, '\0');
	buf_add(b, data, datalen);
	buf_add_char(b, '\0');
	return (0);
}

/* Parse in pieces of the given stride (0: whole). */
static enum sse_result
fuzz_sse_run(const uint8_t *d, size_t n, size_t stride, struct buf *out)
{
	struct sse_parser	p;
	enum sse_result		r = SSE_OK;
	size_t			i, len;

	sse_parser_init(&p, 4096);
	for (i = 0; i < n && r == SSE_OK; i += len) {
		len = stride == 0 ? n : stride;
		if (len > n - i)
			len = n - i;
		r = sse_parser_feed(&p, (const char *)d + i, len,
		    fuzz_sse_collect, out);
	}
	sse_parser_free(&p);
	return (r);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	whole = BUF_INIT, split = BUF_INIT;
	enum sse_result	r1, r2;
	size_t		stride;

	if (size < 1)
		return (0);
	stride = (size_t)(data[0] % 17) + 1;
	r1 = fuzz_sse_run(data + 1, size - 1, 0, &whole);
	r2 = fuzz_sse_run(data + 1, size - 1, stride, &split);
	/* A too-large line may be noticed at a different event; else equal. */
	if (r1 == SSE_OK && r2 == SSE_OK &&
	    (whole.len != split.len ||
	    (whole.len > 0 && memcmp(whole.data, split.data, whole.len) != 0)))
		abort();
	buf_free(&whole);
	buf_free(&split);
	return (0);
}
