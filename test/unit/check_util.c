/*
 * check_util: helpers the unit suites share.
 */
#include <stdio.h>
#include <string.h>

#include "check_util.h"

/* Render bytes printably (\xNN for the others) into out, for messages. */
void
check_show(const char *p, size_t len, char *out, size_t size)
{
	size_t	i, o = 0;

	for (i = 0; i < len && o + 8 < size; i++) {
		unsigned char	c = (unsigned char)p[i];

		if (c == '\\' || c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (i < len && o + 4 < size)
		o += (size_t)snprintf(out + o, size - o, "...");
	out[o] = '\0';
}

/*
 * True if got (gotlen bytes) equals want (wantlen bytes); otherwise msg
 * shows both from a little before the first difference.
 */
int
check_same(const char *got, size_t gotlen, const char *want, size_t wantlen,
    char *msg, size_t size)
{
	char	g[1500], w[1500];
	size_t	i;

	if (gotlen == wantlen && (gotlen == 0 || memcmp(got, want, gotlen) == 0))
		return (1);
	for (i = 0; i < gotlen && i < wantlen; i++) {
		if (got[i] != want[i])
			break;
	}
	i = i > 60 ? i - 60 : 0;
	check_show(got + i, gotlen - i, g, sizeof(g));
	check_show(want + i, wantlen - i, w, sizeof(w));
	snprintf(msg, size, "(%zu vs %zu bytes) from byte %zu: got \"%s\", "
	    "want \"%s\"", gotlen, wantlen, i, g, w);
	return (0);
}

/* check_same for two buffers. */
int
check_same_buf(const struct buf *got, const struct buf *want, char *msg,
    size_t size)
{
	return (check_same(got->data ? got->data : "", got->len,
	    want->data ? want->data : "", want->len, msg, size));
}
