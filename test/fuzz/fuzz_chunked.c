/*
 * fuzz_chunked: the incremental chunked decoder against a plain whole-
 * buffer reference written from RFC 9112 section 7.1 (with the same
 * leniencies and bounds), and against itself fed in pieces.
 *
 * The first byte of the input picks the piece size for the split run; the
 * rest is the body.  All three must agree on the result, where the body
 * ended (or the bad byte), and the decoded bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chunked.h"

/* The value of a hex digit, or -1. */
static int
ref_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* True for a control byte other than HTAB. */
static int
ref_ctl(unsigned char c)
{
	return ((c < 0x20 && c != '\t') || c == 0x7f);
}

/* Decode a whole body; *at is the end of the body or the bad byte. */
static enum chunked_result
ref_decode(const unsigned char *p, size_t len, struct buf *out, size_t *at)
{
	size_t		 i = 0, line, trailers = 0;
	uint64_t	 size;
	int		 v, digits;

	*at = len;
	for (;;) {
		size = 0;
		digits = 0;
		line = 0;
		while (i < len && (v = ref_hex(p[i])) != -1) {
			if (size > (UINT64_MAX >> 4) || ++line > CHUNKED_MAX_LINE)
				goto bad;
			size = (size << 4) | (uint64_t)v;
			digits++;
			i++;
		}
		if (i == len)
			return (CHUNKED_MORE);
		if (digits == 0)
			goto bad;
		for (;;) {
			if (i == len)
				return (CHUNKED_MORE);
			if (p[i] == '\n') {
				i++;
				break;
			}
			if ((ref_ctl(p[i]) && p[i] != '\r') ||
			    ++line > CHUNKED_MAX_LINE)
				goto bad;
			if (p[i] == '\r') {
				if (++i == len)
					return (CHUNKED_MORE);
				if (p[i] != '\n')
					goto bad;
				i++;
				break;
			}
			i++;
		}
		if (size == 0)
			break;
		if ((uint64_t)(len - i) < size) {
			buf_add(out, p + i, len - i);
			return (CHUNKED_MORE);
		}
		buf_add(out, p + i, (size_t)size);
		i += (size_t)size;
		if (i == len)
			return (CHUNKED_MORE);
		if (p[i] == '\n') {
			i++;
			continue;
		}
		if (p[i] != '\r')
			goto bad;
		if (++i == len)
			return (CHUNKED_MORE);
		if (p[i] != '\n')
			goto bad;
		i++;
	}
	for (;;) {
		if (i == len)
			return (CHUNKED_MORE);
		if (p[i] == '\n') {
			*at = i + 1;
			return (CHUNKED_END);
		}
		if (p[i] == '\r') {
			if (++trailers > CHUNKED_MAX_TRAILERS)
				goto bad;
			if (++i == len)
				return (CHUNKED_MORE);
			if (p[i] != '\n')
				goto bad;
			*at = i + 1;
			return (CHUNKED_END);
		}
		for (;;) {
			if (i == len)
				return (CHUNKED_MORE);
			if ((ref_ctl(p[i]) && p[i] != '\r' && p[i] != '\n') ||
			    ++trailers > CHUNKED_MAX_TRAILERS)
				goto bad;
			if (p[i++] == '\n')
				break;
		}
	}
bad:
	*at = i;
	return (CHUNKED_BAD);
}

/* Feed the body in pieces of step bytes; *at as for ref_decode. */
static enum chunked_result
feed(const unsigned char *p, size_t len, size_t step, struct buf *out,
    size_t *at)
{
	struct chunked		 c;
	enum chunked_result	 r = CHUNKED_MORE;
	size_t			 off = 0, n, used;

	chunked_init(&c);
	*at = len;
	while (off < len) {
		n = len - off < step ? len - off : step;
		r = chunked_feed(&c, (const char *)p + off, n, &used, out);
		if (r != CHUNKED_MORE) {
			*at = off + used;
			if ((r == CHUNKED_END) != chunked_done(&c))
				abort();
			return (r);
		}
		if (used != n)
			abort();
		off += n;
	}
	return (r);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf		 a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;
	enum chunked_result	 ra, rb, rc;
	size_t			 ata, atb, atc, step;

	if (size < 1)
		return (0);
	step = (size_t)data[0] % 17 + 1;
	ra = ref_decode(data + 1, size - 1, &a, &ata);
	rb = feed(data + 1, size - 1, size, &b, &atb);
	rc = feed(data + 1, size - 1, step, &c, &atc);
	if (ra != rb || ra != rc || ata != atb || ata != atc)
		abort();
	if (a.len != b.len || a.len != c.len ||
	    (a.len > 0 && (memcmp(a.data, b.data, a.len) != 0 ||
	    memcmp(a.data, c.data, a.len) != 0)))
		abort();
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	return (0);
}
