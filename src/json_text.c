/*
 * json_text: a jansson value's JSON text, into our buffers and heap.
 *
 * json_dumps allocates with jansson's allocator, which main.c points at
 * the mempool, so its result must not go to free(); these write through
 * json_dump_callback into a struct buf instead, and json_text_dup copies
 * the text to the ordinary heap.  flags are json_dump's
 * (JSON_ENCODE_ANY for a value that is not an object or array).
 */
#include "json_text.h"
#include "util.h"

/* json_dump_callback's writer: append to a buf. */
static int
json_text_write(const char *p, size_t n, void *arg)
{
	buf_add(arg, p, n);
	return (0);
}

/* Append v's JSON text to out.  Returns 0, or -1 (out is then as it was). */
int
json_text_append(const json_t *v, size_t flags, struct buf *out)
{
	size_t	mark = out->len;

	if (v == NULL || json_dump_callback(v, json_text_write, out,
	    flags) != 0) {
		out->len = mark;
		return (-1);
	}
	return (0);
}

/* v's JSON text as a NUL-terminated string the caller frees ("" on error). */
char *
json_text_dup(const json_t *v, size_t flags)
{
	struct buf	 b = BUF_INIT;
	char		*s;

	json_text_append(v, flags, &b);
	s = xstrndup(b.data != NULL ? b.data : "", b.len);
	buf_free(&b);
	return (s);
}
