/*
 * json_scan: strings and numbers as jansson (JSON_ALLOW_NUL) reads them,
 * shared by the Dify event reader (dify_event.c) and the request reader
 * (json_reader.c).
 *
 * Strings: valid UTF-8, no raw control characters, well-formed escapes
 * with surrogates paired.  Numbers: the JSON grammar; an integer must fit
 * in 64 bits (jansson's strtoll), a real must not overflow a double
 * (jansson's strtod check; underflow is fine).  Both fuzz targets hold the
 * callers to jansson.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "util.h"

/* Read the four hex digits of a \u escape at p (p + 4 <= end). */
static long
json_scan_u4(const char *p)
{
	long	v = 0;
	int	i, h;

	for (i = 0; i < 4; i++) {
		if ((h = util_hex_digit((unsigned char)p[i])) < 0)
			return (-1);
		v = v * 16 + h;
	}
	return (v);
}

/* Append code point cp as UTF-8 to the scratch buffer (space reserved). */
static void
json_scan_put_utf8(struct buf *b, long cp)
{
	char	*o = b->data + b->len;

	if (cp < 0x80) {
		o[0] = (char)cp;
		b->len += 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		b->len += 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		b->len += 3;
	} else {
		o[0] = (char)(0xf0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		b->len += 4;
	}
}

/*
 * Decode the \uXXXX escape at q (at its 'u'), or the surrogate pair it
 * opens, onto the end of b; returns the bytes of input it took, or 0 if
 * it is malformed.
 */
static size_t
json_scan_unicode(const char *q, const char *end, struct buf *b)
{
	long	cp, lo;

	if (end - q < 5 || (cp = json_scan_u4(q + 1)) < 0)
		return (0);
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return (0);	/* a lone low half */
	if (cp < 0xd800 || cp > 0xdbff) {
		json_scan_put_utf8(b, cp);
		return (5);
	}
	if (end - q < 11 || q[5] != '\\' || q[6] != 'u' ||
	    (lo = json_scan_u4(q + 7)) < 0xdc00 || lo > 0xdfff)
		return (0);
	json_scan_put_utf8(b, 0x10000 + ((cp - 0xd800) << 10) +
	    (lo - 0xdc00));
	return (11);
}

/*
 * Decode the escape at q (just past its backslash) onto the end of b;
 * returns the bytes of input it took, or 0 if it is malformed.
 */
static size_t
json_scan_escape(const char *q, const char *end, struct buf *b)
{
	char	c;

	if (q >= end)
		return (0);
	switch (*q) {
	case '"':
	case '\\':
	case '/':
		c = *q;
		break;
	case 'b':
		c = '\b';
		break;
	case 'f':
		c = '\f';
		break;
	case 'n':
		c = '\n';
		break;
	case 'r':
		c = '\r';
		break;
	case 't':
		c = '\t';
		break;
	case 'u':
		return (json_scan_unicode(q, end, b));
	default:
		return (0);
	}
	b->data[b->len++] = c;
	return (1);
}

/*
 * Scan a string (*pp at its opening quote) the slow way: a pointer into
 * the input when it has no escapes, else its decoded form at the end of
 * scratch.  json_scan_string tries the common case first.  On failure *pp
 * is moved to the offending byte (the end of the input for a string that
 * is not closed) and the result says what is wrong.
 */
int
json_scan_string_slow(const char **pp, const char *end, struct buf *scratch,
    const char **s, size_t *len)
{
	const char	*start = *pp + 1, *q;
	size_t		 n, decoded = 0;
	int		 escaped = 0;

	for (q = start; q < end; ) {
		unsigned char c;

		/* Plain ASCII needs no decision: skip (or copy) it in bulk. */
		n = buf_json_plain(q, (size_t)(end - q));
		if (escaped && n > 0) {
			memcpy(scratch->data + scratch->len, q, n);
			scratch->len += n;
		}
		q += n;
		if (q >= end)
			break;
		c = (unsigned char)*q;

		if (c == '"')
			break;
		if (c < 0x20) {
			*pp = q;
			return (JSON_SCAN_CONTROL);
		}
		if (c == '\\') {
			if (!escaped) {
				/* Copy what came before the first escape. */
				escaped = 1;
				decoded = scratch->len;
				memcpy(scratch->data + scratch->len, start,
				    (size_t)(q - start));
				scratch->len += (size_t)(q - start);
			}
			if ((n = json_scan_escape(q + 1, end, scratch)) == 0) {
				*pp = q;
				return (JSON_SCAN_BAD_ESCAPE);
			}
			q += 1 + n;
			continue;
		}
		if ((n = buf_utf8_seqlen((const unsigned char *)q,
		    (size_t)(end - q))) == 0) {
			*pp = q;
			return (JSON_SCAN_BAD_UTF8);
		}
		if (escaped) {
			memcpy(scratch->data + scratch->len, q, n);
			scratch->len += n;
		}
		q += n;
	}
	if (q >= end) {
		*pp = end;
		return (JSON_SCAN_UNCLOSED);
	}
	if (escaped) {
		*s = scratch->data + decoded;
		*len = scratch->len - decoded;
	} else {
		*s = start;
		*len = (size_t)(q - start);
	}
	*pp = q + 1;
	return (0);
}

/*
 * Scan a number into *v.  An integer (no fraction or exponent) must fit in
 * 64 bits and takes one pass; a real goes through strtod, which in the C
 * locale the proxy runs in reads exactly the JSON grammar checked here.
 */
int
json_scan_number(const char **pp, const char *end,
    struct json_scan_number *v)
{
	const char	*start = *pp, *p = *pp;
	char		 tmp[64], *big = NULL, *stop;
	int		 neg = 0, overflow = 0;
	double		 d;
	uint64_t	 u = 0, digit, limit;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= end)
		return (-1);
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9') {
		/* The integer part, with its value, in one pass. */
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			digit = (uint64_t)(*p - '0');
			if (u > (limit - digit) / 10)
				overflow = 1;
			u = u * 10 + digit;
		}
	} else
		return (-1);
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
		goto real;
	if (overflow)
		return (-1);
	*pp = p;
	v->is_integer = 1;
	v->integer = neg ? (int64_t)(0 - u) : (int64_t)u;
	v->real = 0;
	return (0);

real:
	if (*p == '.') {
		if (++p >= end || *p < '0' || *p > '9')
			return (-1);
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return (-1);
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if ((size_t)(p - start) < sizeof(tmp)) {
		memcpy(tmp, start, (size_t)(p - start));
		tmp[p - start] = '\0';
	} else
		big = xstrndup(start, (size_t)(p - start));
	errno = 0;
	d = strtod(big != NULL ? big : tmp, &stop);
	free(big);
	if (errno == ERANGE && isinf(d))
		return (-1);
	*pp = p;
	v->is_integer = 0;
	v->integer = 0;
	v->real = d;
	return (0);
}
