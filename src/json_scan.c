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

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define JSON_SCAN_WIDE	1
#define JSON_SCAN_WIDE_TARGET \
	__attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vbmi2," \
	    "popcnt,bmi")))
#endif

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

/* Write code point cp as UTF-8 at o; returns its length. */
static size_t
json_scan_put_utf8(char *o, long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return (1);
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return (2);
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return (3);
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return (4);
}

/*
 * Decode the \uXXXX escape at q (at its 'u'), or the surrogate pair it
 * opens, to *op and move *op past it; returns the bytes of input it took,
 * or 0 if it is malformed.  The UTF-8 is never longer than the escape.
 */
static size_t
json_scan_unicode(const char *q, const char *end, char **op)
{
	long	cp, lo;

	if (end - q < 5 || (cp = json_scan_u4(q + 1)) < 0)
		return (0);
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return (0);	/* a lone low half */
	if (cp < 0xd800 || cp > 0xdbff) {
		*op += json_scan_put_utf8(*op, cp);
		return (5);
	}
	if (end - q < 11 || q[5] != '\\' || q[6] != 'u' ||
	    (lo = json_scan_u4(q + 7)) < 0xdc00 || lo > 0xdfff)
		return (0);
	*op += json_scan_put_utf8(*op, 0x10000 + ((cp - 0xd800) << 10) +
	    (lo - 0xdc00));
	return (11);
}

/* What each one-letter escape stands for, by its letter; 0 for no such. */
static const char json_scan_unescaped[128] = {
	['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
	['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t'
};

/*
 * Decode the escape at q (just past its backslash) to *op and move *op
 * past it; returns the bytes of input it took, or 0 if it is malformed.
 * A table rather than a switch: escapes come every few bytes in code and
 * prose, and a jump table's indirect branch mispredicts on most of them.
 */
static inline size_t
json_scan_escape(const char *q, const char *end, char **op)
{
	unsigned char	c;

	if (q >= end)
		return (0);
	c = (unsigned char)*q;
	if (c < 128 && json_scan_unescaped[c] != 0) {
		*(*op)++ = json_scan_unescaped[c];
		return (1);
	}
	if (c == 'u')
		return (json_scan_unicode(q, end, op));
	return (0);
}

#ifdef JSON_SCAN_WIDE
/*
 * Decode the string at *qp sixty-four bytes a turn, while whole blocks of
 * plain bytes and one-letter escapes follow, writing to *op; moves both
 * past what it took.  It stops, leaving the rest to the caller's loop, at
 * the closing quote, a raw control byte, a \u or malformed escape (at its
 * backslash), an escape cut by the block's end (ditto), and at the last
 * 64 bytes of input; it notes non-ASCII bytes in *high as the runs do.
 *
 * The byte-at-a-time decoders wait, at every escape, for the escape's
 * position before they can load what follows it: a chain of dependent
 * steps each few bytes of code.  Here a block's escapes are all found at
 * once.  Which backslashes escape (the first of each pair in a run) is
 * simdjson's carry trick: a run starting at an odd position gets a carry
 * added through it, which flips the parity the even-bit mask assigns.
 * Escape letters are decoded through the 128-byte table by one permute,
 * the backslashes are squeezed out by one compress, and the block is
 * stored whole: the caller's room for the rest of the input (64 bytes at
 * least here) covers it, as the output never runs ahead of the input.
 */
static JSON_SCAN_WIDE_TARGET void
json_scan_blocks(const char **qp, const char *end, char **op, int *high)
{
	const uint64_t	 even = 0x5555555555555555ULL;
	const __m512i	 lo = _mm512_loadu_si512(json_scan_unescaped);
	const __m512i	 hi = _mm512_loadu_si512(json_scan_unescaped + 64);
	const __m512i	 backslash = _mm512_set1_epi8('\\');
	const __m512i	 quote = _mm512_set1_epi8('"');
	const __m512i	 space = _mm512_set1_epi8(0x20);
	const char	*q = *qp;
	char		*o = *op;
	uint64_t	 bs, follows, escaped, starts, bad, stop, taken, keep;
	uint64_t	 nonascii = 0;
	__m512i		 v, letters;
	unsigned	 len;

	while (end - q >= 64) {
		v = _mm512_loadu_si512(q);
		bs = _mm512_cmpeq_epi8_mask(v, backslash);
		follows = bs << 1;
		escaped = (even ^ (((bs & ~even & ~follows) + bs) << 1)) &
		    follows;
		starts = bs & ~escaped;
		letters = _mm512_permutex2var_epi8(lo, v, hi);
		bad = escaped & (_mm512_testn_epi8_mask(letters, letters) |
		    _mm512_movepi8_mask(v));
		stop = ((_mm512_cmpeq_epi8_mask(v, quote) |
		    _mm512_cmplt_epu8_mask(v, space)) & ~escaped) | (bad >> 1) |
		    (starts & (1ULL << 63));
		len = stop != 0 ? (unsigned)__builtin_ctzll(stop) : 64;
		taken = len == 64 ? ~0ULL : (1ULL << len) - 1;
		keep = taken & ~starts;
		_mm512_storeu_si512(o, _mm512_maskz_compress_epi8(keep,
		    _mm512_mask_blend_epi8(escaped, v, letters)));
		o += __builtin_popcountll(keep);
		q += len;
		nonascii |= _mm512_movepi8_mask(v) & taken;
		if (len < 64)
			break;
	}
	if (nonascii != 0)
		*high = 1;
	*qp = q;
	*op = o;
}
#endif

/*
 * Scan a string (*pp at its opening quote) the slow way: a pointer into
 * the input when it has no escapes, else its decoded form at the end of
 * scratch.  json_scan_string tries the common case first.  On failure *pp
 * is moved to the offending byte (the end of the input for a string that
 * is not closed) and the result says what is wrong.
 *
 * Two loops: the first only finds the first escape (or the end); from
 * there the second decodes, copying plain runs sixteen bytes at a time
 * with buf_json_run_copy.  The output never runs ahead of the input (a
 * decoded string is never longer than its JSON form), so the room the
 * caller keeps for the rest of the input is room enough for whole blocks.
 * Neither stops at non-ASCII bytes: when the runs held any, the UTF-8 of
 * the string's JSON form is checked in one pass once its end is found
 * (buf_utf8_valid; escapes are ASCII, and what they decode to is valid
 * UTF-8 by construction), and on any fault first, since a bad sequence
 * before the fault is the first thing wrong.
 */
int
json_scan_string_slow(const char **pp, const char *end, struct buf *scratch,
    const char **s, size_t *len)
{
	const char	*start = *pp + 1, *q = start;
	char		*o = NULL, *decoded = NULL;
	unsigned char	 c;
	size_t		 n;
	int		 fault, high = 0;

	q += buf_json_run(q, (size_t)(end - q), &high);
	if (q < end && *q == '\\') {
		/* The first escape: what came before it goes as it is. */
		decoded = o = scratch->data + scratch->len;
		memcpy(o, start, (size_t)(q - start));
		o += q - start;
		for (;;) {
#ifdef JSON_SCAN_WIDE
			if (end - q >= 64 && buf_wide_on())
				json_scan_blocks(&q, end, &o, &high);
#endif
			n = buf_json_run_copy(o, q, (size_t)(end - q), &high);
			q += n;
			o += n;
			if (q >= end || *q != '\\')
				break;
			if ((n = json_scan_escape(q + 1, end, &o)) == 0) {
				fault = JSON_SCAN_BAD_ESCAPE;
				goto fail;
			}
			q += 1 + n;
		}
	}
	if (q >= end) {
		fault = JSON_SCAN_UNCLOSED;
		goto fail;
	}
	c = (unsigned char)*q;
	if (c != '"') {
		fault = JSON_SCAN_CONTROL;
		goto fail;
	}
	if (high && (n = buf_utf8_valid(start, (size_t)(q - start), NULL)) <
	    (size_t)(q - start)) {
		*pp = start + n;
		return (JSON_SCAN_BAD_UTF8);
	}
	if (decoded == NULL) {
		*s = start;
		*len = (size_t)(q - start);
	} else {
		*s = decoded;
		*len = (size_t)(o - decoded);
		scratch->len += *len;
	}
	*pp = q + 1;
	return (0);

fail:
	/* q is at the fault (the end of the input for an unclosed one). */
	if (high && (n = buf_utf8_valid(start, (size_t)(q - start), NULL)) <
	    (size_t)(q - start)) {
		*pp = start + n;
		return (JSON_SCAN_BAD_UTF8);
	}
	*pp = q;
	return (fault);
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
