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
size_t	 buf_utf8_seqlen(const unsigned char *, size_t);

/*
 * Length of the run of plain JSON string bytes at p (at most n): bytes that
 * are not a quote, a backslash, a control character or non-ASCII, which
 * JSON holds as they are and which escaping and scanning strings can pass
 * over in bulk.  Sixteen bytes at a time with SSE2 (as signed bytes, < 0x20
 * also catches 0x80-0xff), else eight with the usual word tricks.  Inline:
 * it runs for every string of every Dify event.
 */
static inline size_t
buf_json_plain(const char *p, size_t n)
{
	size_t	i = 0;

#ifdef __SSE2__
	const __m128i	quote = _mm_set1_epi8('"');
	const __m128i	bslash = _mm_set1_epi8('\\');
	const __m128i	space = _mm_set1_epi8(0x20);
	__m128i		v;
	int		mask;

	for (; n - i >= 16; i += 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		mask = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(
		    _mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
		    _mm_cmplt_epi8(v, space)));
		if (mask != 0)
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
		if (((((w - ones * 0x20) & ~w) | w | ((q - ones) & ~q) |
		    ((b - ones) & ~b)) & highs) != 0)
			break;
	}
#endif
	for (; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
			break;
	}
	return (i);
}

#endif
