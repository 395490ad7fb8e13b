/*
 * fuzz_json_escape: buf_add_json_escaped, appended to a buffer left
 * anywhere from full to roomy, must give exactly what a byte-at-a-time
 * reference escaper gives, keep what the buffer held, and stay inside it.
 *
 * The first two input bytes choose the buffer (its size, and how full it
 * is); the rest is the text.  The reference (written apart from buf.c):
 * the short escapes for " \ \b \f \n \r \t, \u00xx in lower-case hex for
 * other control bytes, valid UTF-8 (RFC 3629) as it is, \ufffd for each
 * byte that starts no valid sequence.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Length of the valid UTF-8 sequence at in[i], or 0. */
static size_t
utf8_at(const unsigned char *in, size_t len, size_t i)
{
	unsigned char	c = in[i];
	uint32_t	cp, min;
	size_t		n, k;

	if (c < 0x80)
		return (1);
	if ((c & 0xe0) == 0xc0) {
		n = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else
		return (0);
	if (i + n > len)
		return (0);
	for (k = 1; k < n; k++) {
		if ((in[i + k] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (in[i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return (0);
	return (n);
}

/* The reference escaping of in into out (room for 6 bytes per byte). */
static size_t
reference(const unsigned char *in, size_t len, char *out)
{
	static const char	*letters = "\"\"\\\\\bb\ff\nn\rr\tt";
	const char		*l;
	size_t			 i = 0, o = 0, n;

	while (i < len) {
		for (l = letters; *l != '\0' && (unsigned char)*l != in[i];
		    l += 2)
			;
		if (*l != '\0') {
			out[o++] = '\\';
			out[o++] = l[1];
			i++;
		} else if (in[i] < 0x20) {
			snprintf(out + o, 7, "\\u%04x", in[i]);
			o += 6;
			i++;
		} else if ((n = utf8_at(in, len, i)) != 0) {
			memcpy(out + o, in + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
			i++;
		}
	}
	return (o);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 b = BUF_INIT;
	size_t		 fill, len, wantlen, k;
	char		*want;

	if (size < 2)
		return (0);
	buf_reserve(&b, 16 + (size_t)data[0] * 8);
	fill = data[1] & 0x80 ? (size_t)(data[1] & 0x7f) :
	    b.cap - 1 - (data[1] & 0x3f);
	if (fill > b.cap - 1)
		fill = b.cap - 1;
	memset(b.data, 'F', fill);
	b.len = fill;
	data += 2;
	len = size - 2;
	buf_add_json_escaped(&b, (const char *)data, len);

	if ((want = malloc(len * 6 + 1)) == NULL)
		abort();
	wantlen = reference(data, len, want);
	for (k = 0; k < fill; k++)
		if (b.data[k] != 'F')
			abort();
	if (b.len - fill != wantlen ||
	    memcmp(b.data + fill, want, wantlen) != 0)
		abort();
	if (b.len >= b.cap)
		abort();
	free(want);
	buf_free(&b);
	return (0);
}
