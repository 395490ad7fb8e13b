/*
 * json_scan: the pieces of a jansson-compatible JSON scanner that the
 * Dify event reader and the request reader share: strings (validated,
 * decoded only when they hold escapes) and numbers.
 *
 * A scan starts with *pp at the first byte of the token and moves it past
 * the token on success.  A number that fails leaves *pp where it was; a
 * string that fails moves it to the offending byte.  Strings
 * without escapes point into the input.  Strings with escapes are decoded
 * into the caller's scratch buffer, at its end: the caller must have room
 * there for the rest of the input (a decoded string is never longer than
 * its JSON form), so nothing is reallocated and earlier results stay put.
 */
#ifndef ODP_JSON_SCAN_H
#define ODP_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Why a string scan failed (0 is success). */
enum json_scan_fault {
	JSON_SCAN_UNCLOSED = -1,	/* the input ended inside it */
	JSON_SCAN_CONTROL = -2,		/* a raw byte below 0x20 */
	JSON_SCAN_BAD_ESCAPE = -3,	/* unknown, short or unpaired */
	JSON_SCAN_BAD_UTF8 = -4
};

/* A number as jansson holds it: an integer (no fraction or exponent) or a real. */
struct json_scan_number {
	int	 is_integer;
	int64_t	 integer;
	double	 real;
};

int	json_scan_string_slow(const char **, const char *, struct buf *,
	    const char **, size_t *);
int	json_scan_number(const char **, const char *,
	    struct json_scan_number *);

/*
 * Scan a string (*pp at its opening quote) into *s and *len.  Most strings
 * are plain ASCII up to their closing quote: those take one bulk search
 * and point into the input; anything else is the slow path's.
 */
static inline int
json_scan_string(const char **pp, const char *end, struct buf *scratch,
    const char **s, size_t *len)
{
	const char	*start = *pp + 1;
	size_t		 n;

	n = buf_json_plain(start, (size_t)(end - start));
	if (start + n < end && start[n] == '"') {
		*s = start;
		*len = n;
		*pp = start + n + 1;
		return (0);
	}
	return (json_scan_string_slow(pp, end, scratch, s, len));
}

/* Skip JSON whitespace. */
static inline const char *
json_scan_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'))
		p++;
	return (p);
}

#endif
