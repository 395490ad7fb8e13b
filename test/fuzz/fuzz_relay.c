/*
 * fuzz_relay: whatever bytes Dify sends, every byte the client gets is a
 * well-formed SSE frame ("data: " + one line of JSON or [DONE] + blank
 * line) or one JSON document, and the output does not depend on how the
 * input was split.  The first byte picks the mode and the split stride.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "relay.h"

/* Check a streamed body frame by frame. */
static void
fuzz_relay_check_sse(const struct buf *b)
{
	const char	*p = b->data, *end = b->data + b->len, *sep;
	json_t		*j;

	while (p < end) {
		if ((sep = memmem(p, (size_t)(end - p), "\n\n", 2)) == NULL)
			abort();
		if ((size_t)(sep - p) < 6 || memcmp(p, "data: ", 6) != 0)
			abort();
		if (memchr(p, '\n', (size_t)(sep - p)) != NULL)
			abort();
		if (!((size_t)(sep - p) == 12 && memcmp(p + 6, "[DONE]", 6) ==
		    0)) {
			j = json_loadb(p + 6, (size_t)(sep - p) - 6, JSON_ALLOW_NUL,
			    NULL);
			if (j == NULL)
				abort();
			json_decref(j);
		}
		p = sep + 2;
	}
}

/* Run the relay over the input in pieces; output collected in out. */
static void
fuzz_relay_run(const uint8_t *d, size_t n, int stream, size_t stride,
    int keepalive, struct buf *out, int *status, int *sse)
{
	struct relay		r;
	struct relay_params	p;
	size_t			i, len;

	memset(&p, 0, sizeof(p));
	p.id = "chatcmpl-fuzz";
	p.created = 1700000000;
	p.model = "m";
	p.modellen = 1;
	p.stream = stream;
	p.include_usage = 1;
	p.max_event = 4096;
	p.max_answer = 65536;
	relay_init(&r, &p);
	relay_response(&r, 200, "text/event-stream", NULL);
	for (i = 0; i < n; i += len) {
		len = stride == 0 ? n : stride;
		if (len > n - i)
			len = n - i;
		relay_data(&r, (const char *)d + i, len);
		buf_add(out, r.out.data, r.out.len);
		buf_reset(&r.out);
		if (keepalive && i == 0)
			relay_keepalive(&r);
	}
	relay_end(&r, RELAY_END_EOF, NULL);
	buf_add(out, r.out.data, r.out.len);
	if (!r.complete)
		abort();
	*status = r.status;
	*sse = r.event_stream;
	relay_free(&r);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;
	int		stream, status, sse, status2, sse2;
	size_t		stride;
	json_t		*j;

	if (size < 1)
		return (0);
	stream = data[0] & 1;
	stride = (size_t)(data[0] >> 1) % 23 + 1;

	/* With a keepalive tick: the output is well formed. */
	fuzz_relay_run(data + 1, size - 1, stream, stride, 1, &a, &status,
	    &sse);
	if (sse)
		fuzz_relay_check_sse(&a);
	else {
		if ((j = json_loadb(a.data, a.len, JSON_ALLOW_NUL, NULL)) == NULL)
			abort();
		json_decref(j);
	}

	/* Whole or split, the client gets the same bytes. */
	fuzz_relay_run(data + 1, size - 1, stream, 0, 0, &b, &status, &sse);
	fuzz_relay_run(data + 1, size - 1, stream, stride, 0, &c, &status2,
	    &sse2);
	if (status != status2 || sse != sse2 || b.len != c.len ||
	    (b.len > 0 && memcmp(b.data, c.data, b.len) != 0))
		abort();
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	return (0);
}
