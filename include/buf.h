/*
 * buf: a growable byte buffer, and JSON string escaping into it.
 */
#ifndef ODP_BUF_H
#define ODP_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT	{ NULL, 0, 0 }

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
void	 buf_pool_drain(void);
void	 buf_reset(struct buf *);
void	 buf_grow(struct buf *, size_t);

/* Make room for more bytes (plus a NUL); grows only when needed. */
static inline void
buf_reserve(struct buf *b, size_t more)
{
	if (more >= b->cap - b->len)
		buf_grow(b, more);
}
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_add_str(struct buf *, const char *);
void	 buf_add_char(struct buf *, char);
void	 buf_add_uint(struct buf *, uint64_t);
void	 buf_add_int(struct buf *, int64_t);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_add_json_escaped(struct buf *, const char *, size_t);
void	 buf_add_json_string(struct buf *, const char *, size_t);
void	 buf_add_json_cstring(struct buf *, const char *);
const char *buf_cstr(struct buf *);
char	*buf_detach(struct buf *);
size_t	 buf_utf8_prefix(const char *, size_t, size_t);
size_t	 buf_utf8_valid(const char *, size_t, int *);
int	 buf_use_wide(int);
int	 buf_utf8_valid_wide(const char *, size_t, int *);

extern int	 buf_wide;

/* Whether the 64-byte paths run (the CPU is asked the first time). */
static inline int
buf_wide_on(void)
{
	if (buf_wide < 0)
		buf_use_wide(1);
	return (buf_wide);
}

/*
 * Whether JSON string byte c stops a plain run (see buf_json_run): a
 * quote, a backslash, a control character and, unless utf8 says the
 * caller checks UTF-8 on its own, a non-ASCII byte.
 */
static inline int
buf_json_special(unsigned char c, int utf8)
{
	return (c == '"' || c == '\\' || c < 0x20 || (c >= 0x80 && !utf8));
}

#ifdef __SSE2__
/*
 * One bit per byte of v that stops a plain run (see buf_json_special):
 * a quote, a backslash, below 0x20 and, unless utf8, 0x80-0xff.  As
 * signed bytes one compare catches both ranges; as unsigned ones (the
 * minimum with 0x1f is the byte itself) only the first.
 */
static inline int
buf_json_special16(__m128i v, int utf8)
{
	__m128i	low;

	if (utf8)
		low = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
	else
		low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
	return (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))), low)));
}
#endif

/*
 * Length of the run of plain JSON string bytes at p (at most n): bytes that
 * are not a quote, a backslash, a control character or non-ASCII, which
 * JSON holds as they are and which escaping and scanning strings can pass
 * over in bulk.  Given high, non-ASCII bytes are plain too and *high is
 * set if the run holds any: for a caller that checks the UTF-8 of a whole
 * string in one pass (buf_utf8_valid), and only when it has non-ASCII,
 * rather than stopping at each such character.  Sixteen bytes at a time
 * with SSE2, else eight with the usual word tricks.  Inline, with high
 * NULL or not at each call: it runs for every string of every Dify event.
 */
static inline size_t
buf_json_run(const char *p, size_t n, int *high)
{
	size_t	i = 0;
	int	seen = 0;

#ifdef __SSE2__
	__m128i		v, all = _mm_setzero_si128();
	int		mask = 0;

	for (; n - i >= 16; i += 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		mask = buf_json_special16(v, high != NULL);
		all = _mm_or_si128(all, v);
		if (mask != 0)
			break;
	}
	/* A block's bytes past the stop count too: at worst a needless check. */
	seen = _mm_movemask_epi8(all);
	if (n - i >= 16) {
		if (high != NULL)
			*high |= seen != 0;
		return (i + (size_t)__builtin_ctz((unsigned)mask));
	}
#else
	const uint64_t	ones = 0x0101010101010101ULL;
	const uint64_t	highs = 0x8080808080808080ULL;
	uint64_t	w, q, b;

	for (; n - i >= 8; i += 8) {
		memcpy(&w, p + i, 8);
		q = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		if (((((w - ones * 0x20) & ~w) | (high != NULL ? 0 : w) |
		    ((q - ones) & ~q) | ((b - ones) & ~b)) & highs) != 0)
			break;
		seen |= (w & highs) != 0;
	}
#endif
	for (; i < n && !buf_json_special((unsigned char)p[i], high != NULL);
	    i++)
		seen |= (unsigned char)p[i] >= 0x80;
	if (high != NULL)
		*high |= seen != 0;
	return (i);
}

/* The run of plain bytes at p as buf_json_run finds it, non-ASCII stopping it. */
static inline size_t
buf_json_plain(const char *p, size_t n)
{
	return (buf_json_run(p, n, NULL));
}

/*
 * Length of the valid UTF-8 sequence starting at s (at most len bytes), or
 * 0 if the bytes there are not valid UTF-8 (overlong forms, surrogates and
 * code points above U+10FFFF are invalid).  Inline: the string scanners
 * call it for every non-ASCII character.
 */
static inline size_t
buf_utf8_seqlen(const unsigned char *s, size_t len)
{
	unsigned char	c = s[0];

	if (c < 0x80)
		return (1);
	if (c >= 0xc2 && c <= 0xdf) {
		if (len >= 2 && (s[1] & 0xc0) == 0x80)
			return (2);
		return (0);
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (len < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return (0);
		if (c == 0xe0 && s[1] < 0xa0)
			return (0);	/* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return (0);	/* surrogate */
		return (3);
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (len < 4 || (s[1] & 0xc0) != 0x80 ||
		    (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return (0);
		if (c == 0xf0 && s[1] < 0x90)
			return (0);	/* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return (0);	/* above U+10FFFF */
		return (4);
	}
	return (0);
}

/*
 * Copy the run of plain JSON string bytes at p (at most n; see
 * buf_json_run, and for high) to o, which has room for n bytes, and
 * return its length.  With SSE2 each block of sixteen is stored whole and
 * the count moves only past its plain bytes: what the caller writes next
 * overwrites the rest, so a run costs no call to memcpy however short it
 * is.
 */
static inline size_t
buf_json_run_copy(char *o, const char *p, size_t n, int *high)
{
	size_t	i = 0;

#ifdef __SSE2__
	__m128i		v, all = _mm_setzero_si128();
	int		mask = 0, seen;

	for (; n - i >= 16; i += 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		_mm_storeu_si128((__m128i *)(void *)(o + i), v);
		mask = buf_json_special16(v, high != NULL);
		all = _mm_or_si128(all, v);
		if (mask != 0)
			break;
	}
	seen = _mm_movemask_epi8(all);
	if (n - i >= 16) {
		if (high != NULL)
			*high |= seen != 0;
		return (i + (size_t)__builtin_ctz((unsigned)mask));
	}
	for (; i < n && !buf_json_special((unsigned char)p[i], high != NULL);
	    i++) {
		seen |= (unsigned char)p[i] >= 0x80;
		o[i] = p[i];
	}
	if (high != NULL)
		*high |= seen != 0;
#else
	i = buf_json_run(p, n, high);
	memcpy(o, p, i);
#endif
	return (i);
}

#endif
