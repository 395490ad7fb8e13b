/*
 * buf: a growable byte buffer, and JSON string escaping into it.
 *
 * A buf owns its data; buf_free releases it and buf_reset keeps the
 * capacity so a buffer reused per event does not allocate once warm.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define BUF_WIDE	1
#define BUF_WIDE_TARGET \
	__attribute__((target("avx512f,avx512bw,avx512vbmi")))
#endif

/* Initialise an empty buffer. */
void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/*
 * Released buffers are kept for reuse, by size, so the buffers of each
 * request (the relay's output, the event scratch and memo, the SSE line,
 * the prebuilt chunk parts) do not cost a malloc, and a growth through
 * realloc, on every request.  Capacities are powers of two from 256 bytes
 * (buf_grow makes them so); one list per size, so a small buffer never
 * takes a large one's memory, and a bound on the bytes kept.  Under
 * AddressSanitizer the kept memory is poisoned, so a use after buf_free is
 * still reported.  One pool per process: the proxy is single-threaded.
 */
/* Strings up to this long are escaped byte by byte, longer ones in runs. */
#define BUF_SHORT_ESCAPE	16

#define BUF_POOL_MIN		256
#define BUF_POOL_CLASSES	9		/* 256 B .. 64 KiB */
#define BUF_POOL_PER_CLASS	256
#define BUF_POOL_BYTES		(2 * 1024 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define BUF_POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define BUF_UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define BUF_POISON(p, n)	((void)(p), (void)(n))
#define BUF_UNPOISON(p, n)	((void)(p), (void)(n))
#endif

static char	*buf_pool[BUF_POOL_CLASSES][BUF_POOL_PER_CLASS];
static size_t	 buf_pool_count[BUF_POOL_CLASSES];
static size_t	 buf_pool_bytes;

/* The pool list for a capacity, or -1 if buffers that size are not kept. */
static int
buf_pool_class(size_t cap)
{
	size_t	c = BUF_POOL_MIN;
	int	i;

	for (i = 0; i < BUF_POOL_CLASSES; i++, c <<= 1)
		if (c == cap)
			return (i);
	return (-1);
}

/* Free the pooled buffers (at exit, so leak checkers see none). */
void
buf_pool_drain(void)
{
	size_t	cap = BUF_POOL_MIN;
	int	i;

	for (i = 0; i < BUF_POOL_CLASSES; i++, cap <<= 1) {
		while (buf_pool_count[i] > 0) {
			char	*p = buf_pool[i][--buf_pool_count[i]];

			BUF_UNPOISON(p, cap);
			free(p);
		}
	}
	buf_pool_bytes = 0;
}

/* Give a block of cap bytes back: to the pool if it fits, else free it. */
static void
buf_pool_put(char *p, size_t cap)
{
	int	i;

	if (p == NULL)
		return;
	if ((i = buf_pool_class(cap)) != -1 &&
	    buf_pool_count[i] < BUF_POOL_PER_CLASS &&
	    buf_pool_bytes + cap <= BUF_POOL_BYTES) {
		BUF_POISON(p, cap);
		buf_pool[i][buf_pool_count[i]++] = p;
		buf_pool_bytes += cap;
	} else
		free(p);
}

/* A pooled block of cap bytes, or NULL if none is kept. */
static char *
buf_pool_take(size_t cap)
{
	char	*p;
	int	 i;

	if ((i = buf_pool_class(cap)) == -1 || buf_pool_count[i] == 0)
		return (NULL);
	p = buf_pool[i][--buf_pool_count[i]];
	buf_pool_bytes -= cap;
	BUF_UNPOISON(p, cap);
	return (p);
}

/* Release the buffer's memory (to the pool if it fits) and leave it empty. */
void
buf_free(struct buf *b)
{
	buf_pool_put(b->data, b->cap);
	buf_init(b);
}

/* Empty the buffer, keeping its capacity. */
void
buf_reset(struct buf *b)
{
	b->len = 0;
}

/* Grow to hold at least more bytes after the current end (plus a NUL). */
void
buf_grow(struct buf *b, size_t more)
{
	size_t	 need, cap;
	char	*p;

	if (more > SIZE_MAX / 2 - b->len)
		abort();
	need = b->len + more + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : BUF_POOL_MIN;
	while (cap < need)
		cap *= 2;
	/*
	 * A bigger block from the pool, or a fresh one when the buffer holds
	 * nothing, takes only the bytes in use across (realloc would copy
	 * the whole old block); the old block goes back to the pool.
	 */
	if ((p = buf_pool_take(cap)) == NULL && b->len == 0)
		p = xmalloc(cap);
	if (p != NULL) {
		if (b->len > 0)
			memcpy(p, b->data, b->len);
		buf_pool_put(b->data, b->cap);
		b->data = p;
	} else
		b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

/* Append len bytes. */
void
buf_add(struct buf *b, const void *p, size_t len)
{
	if (len == 0)
		return;
	buf_reserve(b, len);
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

/* Append a NUL-terminated string. */
void
buf_add_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Append one byte. */
void
buf_add_char(struct buf *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = c;
}

/* Append an unsigned integer in decimal. */
void
buf_add_uint(struct buf *b, uint64_t v)
{
	char	tmp[20];
	size_t	n = 0;

	do {
		tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	buf_add(b, tmp + sizeof(tmp) - n, n);
}

/* Append a signed integer in decimal. */
void
buf_add_int(struct buf *b, int64_t v)
{
	if (v < 0) {
		buf_add_char(b, '-');
		buf_add_uint(b, (uint64_t)0 - (uint64_t)v);
	} else
		buf_add_uint(b, (uint64_t)v);
}

/* Append printf-formatted text. */
void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/*
 * Largest n <= max such that the first n bytes of s (len bytes long) end on
 * a UTF-8 character boundary: used to cut text without splitting characters.
 */
size_t
buf_utf8_prefix(const char *s, size_t len, size_t max)
{
	size_t	n;

	if (len <= max)
		return (len);
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return (n);
}

/* Whether the 64-byte paths run: -1 until the CPU is asked. */
int	buf_wide = -1;

/*
 * Let the 64-byte paths (AVX-512 with VBMI: buf_utf8_valid here and the
 * string decoder in json_scan.c) run when the CPU has them (on, the
 * default) or never (off, for tests of the paths they sit in front of);
 * returns the setting before.
 */
int
buf_use_wide(int on)
{
	int	was = buf_wide;

#ifdef BUF_WIDE
	__builtin_cpu_init();
	buf_wide = on && __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vbmi") &&
	    __builtin_cpu_supports("avx512vbmi2") &&
	    __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi");
#else
	(void)on;
	buf_wide = 0;
#endif
	return (was != 0);
}

#ifdef BUF_WIDE
/*
 * The lookup tables of Keiser and Lemire's UTF-8 check ("Validating UTF-8
 * in less than one instruction per byte", 2021; simdjson and simdutf use
 * it): each pair of bytes, by the first's high and low nibble and the
 * second's high nibble, is looked up in three tables of error bits, and
 * their AND is nonzero for a pair no valid text has.  A third or fourth
 * byte that must be a continuation is marked by 0x80 (two continuations
 * in a row), which is checked against the lead two or three bytes back.
 */
#define BUF_U8_TOO_SHORT	0x01	/* a lead, then no continuation */
#define BUF_U8_TOO_LONG		0x02	/* ASCII, then a continuation */
#define BUF_U8_OVERLONG_3	0x04	/* E0 80..9F */
#define BUF_U8_TOO_LARGE	0x08	/* past U+10FFFF */
#define BUF_U8_SURROGATE	0x10	/* ED A0..BF */
#define BUF_U8_OVERLONG_2	0x20	/* C0, C1 */
#define BUF_U8_TOO_LARGE_1000	0x40	/* F5.. 80..8F */
#define BUF_U8_OVERLONG_4	0x40	/* F0 80..8F */
#define BUF_U8_TWO_CONTS	0x80	/* continuation, continuation */
#define BUF_U8_CARRY		(BUF_U8_TOO_SHORT | BUF_U8_TOO_LONG | \
				    BUF_U8_TWO_CONTS)

/* By the first byte's high nibble. */
static const unsigned char buf_u8_byte1_high[16] = {
	BUF_U8_TOO_LONG, BUF_U8_TOO_LONG, BUF_U8_TOO_LONG, BUF_U8_TOO_LONG,
	BUF_U8_TOO_LONG, BUF_U8_TOO_LONG, BUF_U8_TOO_LONG, BUF_U8_TOO_LONG,
	BUF_U8_TWO_CONTS, BUF_U8_TWO_CONTS, BUF_U8_TWO_CONTS, BUF_U8_TWO_CONTS,
	BUF_U8_TOO_SHORT | BUF_U8_OVERLONG_2,
	BUF_U8_TOO_SHORT,
	BUF_U8_TOO_SHORT | BUF_U8_OVERLONG_3 | BUF_U8_SURROGATE,
	BUF_U8_TOO_SHORT | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000 |
	    BUF_U8_OVERLONG_4
};

/* By the first byte's low nibble. */
static const unsigned char buf_u8_byte1_low[16] = {
	BUF_U8_CARRY | BUF_U8_OVERLONG_3 | BUF_U8_OVERLONG_2 |
	    BUF_U8_OVERLONG_4,
	BUF_U8_CARRY | BUF_U8_OVERLONG_2,
	BUF_U8_CARRY,
	BUF_U8_CARRY,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000 |
	    BUF_U8_SURROGATE,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000,
	BUF_U8_CARRY | BUF_U8_TOO_LARGE | BUF_U8_TOO_LARGE_1000
};

/* By the second byte's high nibble. */
static const unsigned char buf_u8_byte2_high[16] = {
	BUF_U8_TOO_SHORT, BUF_U8_TOO_SHORT, BUF_U8_TOO_SHORT, BUF_U8_TOO_SHORT,
	BUF_U8_TOO_SHORT, BUF_U8_TOO_SHORT, BUF_U8_TOO_SHORT, BUF_U8_TOO_SHORT,
	BUF_U8_TOO_LONG | BUF_U8_OVERLONG_2 | BUF_U8_TWO_CONTS |
	    BUF_U8_OVERLONG_3 | BUF_U8_TOO_LARGE_1000 | BUF_U8_OVERLONG_4,
	BUF_U8_TOO_LONG | BUF_U8_OVERLONG_2 | BUF_U8_TWO_CONTS |
	    BUF_U8_OVERLONG_3 | BUF_U8_TOO_LARGE,
	BUF_U8_TOO_LONG | BUF_U8_OVERLONG_2 | BUF_U8_TWO_CONTS |
	    BUF_U8_SURROGATE | BUF_U8_TOO_LARGE,
	BUF_U8_TOO_LONG | BUF_U8_OVERLONG_2 | BUF_U8_TWO_CONTS |
	    BUF_U8_SURROGATE | BUF_U8_TOO_LARGE,
	BUF_U8_TOO_SHORT, BUF_U8_TOO_SHORT, BUF_U8_TOO_SHORT, BUF_U8_TOO_SHORT
};

/*
 * Indexes for _mm512_permutex2var_epi8(v, idx, prev): each byte's
 * predecessor one, two and three places back, prev's last ones for the
 * first (an index of 64 and up picks from prev).
 */
#define BUF_U8_BACK(k) { \
	128 - k, 129 - k, 130 - k, 3 - k, 4 - k, 5 - k, 6 - k, 7 - k, \
	8 - k, 9 - k, 10 - k, 11 - k, 12 - k, 13 - k, 14 - k, 15 - k, \
	16 - k, 17 - k, 18 - k, 19 - k, 20 - k, 21 - k, 22 - k, 23 - k, \
	24 - k, 25 - k, 26 - k, 27 - k, 28 - k, 29 - k, 30 - k, 31 - k, \
	32 - k, 33 - k, 34 - k, 35 - k, 36 - k, 37 - k, 38 - k, 39 - k, \
	40 - k, 41 - k, 42 - k, 43 - k, 44 - k, 45 - k, 46 - k, 47 - k, \
	48 - k, 49 - k, 50 - k, 51 - k, 52 - k, 53 - k, 54 - k, 55 - k, \
	56 - k, 57 - k, 58 - k, 59 - k, 60 - k, 61 - k, 62 - k, 63 - k }
static const unsigned char buf_u8_back[3][64] = {
	BUF_U8_BACK(1), BUF_U8_BACK(2), BUF_U8_BACK(3)
};

/* A 16-entry table in every lane, for _mm512_shuffle_epi8. */
static BUF_WIDE_TARGET inline __m512i
buf_u8_table(const unsigned char t[16])
{
	return (_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)
	    (const void *)t)));
}

/*
 * Whether all n bytes at p are valid UTF-8, checked 64 at a time (the
 * last block loaded with zeros past the end, which a cut sequence then
 * runs into); *high is set if there is non-ASCII.  An all-ASCII block
 * costs a load and a test.  Says nothing of where a fault is: the caller
 * asks the exact loop for that.
 */
static BUF_WIDE_TARGET int
buf_utf8_valid_blocks(const unsigned char *p, size_t n, int *high)
{
	const __m512i	 b1h = buf_u8_table(buf_u8_byte1_high);
	const __m512i	 b1l = buf_u8_table(buf_u8_byte1_low);
	const __m512i	 b2h = buf_u8_table(buf_u8_byte2_high);
	const __m512i	 nibble = _mm512_set1_epi8(0x0f);
	const __m512i	 cont = _mm512_set1_epi8((char)0x80);
	const __m512i	 lead3 = _mm512_set1_epi8((char)0xdf);
	const __m512i	 lead4 = _mm512_set1_epi8((char)0xef);
	const __m512i	 back1 = _mm512_loadu_si512(buf_u8_back[0]);
	const __m512i	 back2 = _mm512_loadu_si512(buf_u8_back[1]);
	const __m512i	 back3 = _mm512_loadu_si512(buf_u8_back[2]);
	__m512i		 prev = _mm512_setzero_si512(), v, p1, sc, err;
	__m512i		 last3;
	uint64_t	 must;
	size_t		 i;
	int		 cut = 0, any = 0;

	err = _mm512_setzero_si512();
	/* Greater than these at the last three places: a lead cut short. */
	last3 = _mm512_mask_blend_epi8(0xe000000000000000ULL,
	    _mm512_set1_epi8((char)0xff), _mm512_set_epi8((char)0xbf,
	    (char)0xdf, (char)0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0));
	for (i = 0; i < n; i += 64) {
		v = _mm512_maskz_loadu_epi8(n - i >= 64 ? ~0ULL :
		    (1ULL << (n - i)) - 1, p + i);
		if (_mm512_movepi8_mask(v) == 0) {
			if (cut)
				return (0);
			prev = v;
			continue;
		}
		any = 1;
		p1 = _mm512_permutex2var_epi8(v, back1, prev);
		sc = _mm512_and_si512(_mm512_and_si512(
		    _mm512_shuffle_epi8(b1h, _mm512_and_si512(
		    _mm512_srli_epi16(p1, 4), nibble)),
		    _mm512_shuffle_epi8(b1l, _mm512_and_si512(p1, nibble))),
		    _mm512_shuffle_epi8(b2h, _mm512_and_si512(
		    _mm512_srli_epi16(v, 4), nibble)));
		must = _mm512_cmpgt_epu8_mask(_mm512_permutex2var_epi8(v, back2,
		    prev), lead3) | _mm512_cmpgt_epu8_mask(
		    _mm512_permutex2var_epi8(v, back3, prev), lead4);
		err = _mm512_or_si512(err, _mm512_xor_si512(sc,
		    _mm512_maskz_mov_epi8(must, cont)));
		cut = _mm512_cmpgt_epu8_mask(v, last3) != 0;
		prev = v;
	}
	if (cut || _mm512_test_epi8_mask(err, err) != 0)
		return (0);
	if (any && high != NULL)
		*high = 1;
	return (1);
}
#endif

/*
 * The 64-byte check alone, for tests: 1 if the n bytes at s are valid
 * UTF-8, 0 if not, -1 where the 64-byte paths are off.
 */
int
buf_utf8_valid_wide(const char *s, size_t n, int *high)
{
#ifdef BUF_WIDE
	if (buf_wide_on())
		return (buf_utf8_valid_blocks((const unsigned char *)s, n,
		    high));
#else
	(void)s;
	(void)n;
	(void)high;
#endif
	return (-1);
}

/*
 * How many of the n bytes at s are valid UTF-8 before the first sequence
 * that is not (n if they all are), as buf_utf8_seqlen judges each one;
 * given high, *high is set if it met any non-ASCII byte (for valid
 * text: if the text has any).
 *
 * Where the CPU has AVX-512 with VBMI, the whole span is first checked
 * 64 bytes a turn (buf_utf8_valid_blocks), which only says yes or no:
 * valid text, the common case, ends there.  Otherwise ASCII goes 64
 * bytes at a time with SSE2; a run of non-ASCII characters (CJK text is
 * nothing else) is taken one sequence after the other without going
 * back to the block loop.  One pass over a whole string costs less than
 * a stop at each of its non-ASCII characters.
 */
size_t
buf_utf8_valid(const char *s, size_t n, int *high)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, k;

#ifdef BUF_WIDE
	if (buf_wide_on() && buf_utf8_valid_blocks(p, n, high))
		return (n);
#endif
	for (;;) {
#ifdef __SSE2__
		const __m128i	*v;
		int		 mask = 0;

		/* ASCII: 64 bytes a turn, then the block with the first other. */
		for (; n - i >= 64; i += 64) {
			v = (const __m128i *)(const void *)(p + i);
			if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(
			    _mm_loadu_si128(v), _mm_loadu_si128(v + 1)),
			    _mm_or_si128(_mm_loadu_si128(v + 2),
			    _mm_loadu_si128(v + 3)))) != 0)
				break;
		}
		while (n - i >= 16 && (mask = _mm_movemask_epi8(_mm_loadu_si128(
		    (const __m128i *)(const void *)(p + i)))) == 0)
			i += 16;
		if (n - i >= 16)
			i += (size_t)__builtin_ctz((unsigned)mask);
#endif
		while (i < n && p[i] < 0x80)
			i++;
		if (i >= n)
			return (n);
		if (high != NULL)
			*high = 1;
		do {
			if ((k = buf_utf8_seqlen(p + i, n - i)) == 0)
				return (i);
			i += k;
		} while (i < n && p[i] >= 0x80);
	}
}

/* The letter of each two-byte escape, by the byte it stands for; else 0. */
static const char buf_json_escape_letter[128] = {
	['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
	['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'
};

/*
 * Write what stands for byte c at o, which has room for six bytes: the
 * escape of a quote, a backslash or a control character, or U+FFFD for a
 * byte that starts no valid UTF-8 sequence.  Returns its length.  A table
 * for the common escapes: a switch's jump mispredicts on most of them.
 */
static inline size_t
buf_json_escape_byte(char *o, unsigned char c)
{
	static const char	 hex[] = "0123456789abcdef";

	if (c < 128 && buf_json_escape_letter[c] != 0) {
		o[0] = '\\';
		o[1] = buf_json_escape_letter[c];
		return (2);
	}
	if (c >= 0x80) {
		memcpy(o, "\\ufffd", 6);
		return (6);
	}
	memcpy(o, "\\u00", 4);
	o[4] = hex[c >> 4];
	o[5] = hex[c & 0xf];
	return (6);
}

/*
 * buf_add_json_escaped for a few bytes (a token of streamed text, most
 * often): one pass byte by byte into room reserved for the worst case
 * costs less than setting up the runs.
 */
static void
buf_json_escape_short(struct buf *b, const unsigned char *p, size_t len)
{
	size_t		 i, n;
	unsigned char	 c;
	char		*o;

	buf_reserve(b, len * 6);
	o = b->data + b->len;
	for (i = 0; i < len; i++) {
		c = p[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
			*o++ = (char)c;
		else if (c < 0x80 || (n = buf_utf8_seqlen(p + i, len - i)) == 0)
			o += buf_json_escape_byte(o, c);
		else {
			memcpy(o, p + i, n);
			o += n;
			i += n - 1;
		}
	}
	b->len = (size_t)(o - b->data);
}

#ifdef BUF_WIDE
/*
 * Escape the bytes at *sp (up to end) to *op 32 at a time, while whole
 * blocks hold nothing but plain bytes and the two-byte escapes (quote,
 * backslash, \b \f \n \r \t), and while 64 bytes of room are left
 * before oend; moves both past what was done.  A control byte of
 * another kind (six bytes, \u00XX) and, unless utf8 says the text is
 * valid UTF-8, any non-ASCII byte stop it there, for the caller's loop.
 *
 * The byte loop waits at every escape for its position before it can go
 * on, and code is an escape every few bytes.  Here a block's escapes are
 * all placed at once: each escaped byte becomes its letter (one permute
 * through the letters' table), and the letters are spread by one expand
 * over the output with a backslash in front of each.  Where the
 * backslashes go: slot 2i of a 64-bit map is input byte i's backslash
 * (there only if it is escaped), slot 2i + 1 the byte itself; pext
 * squeezes out the slots that are not there, leaving the backslashes'
 * places in the output.
 */
static __attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vbmi2,"
    "bmi,bmi2,popcnt"))) void
buf_json_escape_blocks(const unsigned char **sp, const unsigned char *end,
    char **op, const char *oend, int utf8)
{
	const __m512i		 lo = _mm512_loadu_si512(buf_json_escape_letter);
	const __m512i		 hi = _mm512_loadu_si512(buf_json_escape_letter +
				    64);
	const __m512i		 backslash = _mm512_set1_epi8('\\');
	const __m512i		 quote = _mm512_set1_epi8('"');
	const __m512i		 space = _mm512_set1_epi8(0x20);
	const unsigned char	*s = *sp;
	char			*o = *op;
	__m512i			 v, letters;
	uint64_t		 esc, stop, slots, marks, keep;
	unsigned		 len, outlen;

	while (end - s >= 32 && oend - o >= 64) {
		v = _mm512_maskz_loadu_epi8(0xffffffffULL, s);
		letters = _mm512_permutex2var_epi8(lo, v, hi);
		esc = _mm512_cmpeq_epi8_mask(v, quote) |
		    _mm512_cmpeq_epi8_mask(v, backslash) |
		    _mm512_cmplt_epu8_mask(v, space);
		stop = (_mm512_cmplt_epu8_mask(v, space) &
		    _mm512_testn_epi8_mask(letters, letters)) |
		    (utf8 ? 0 : _mm512_movepi8_mask(v));
		stop &= 0xffffffffULL;
		len = stop != 0 ? (unsigned)__builtin_ctzll(stop) : 32;
		esc &= (1ULL << len) - 1;
		slots = _pdep_u64(esc, 0x5555555555555555ULL);
		marks = _pext_u64(slots, slots | 0xaaaaaaaaaaaaaaaaULL);
		outlen = len + (unsigned)__builtin_popcountll(esc);
		keep = ~marks & (outlen == 64 ? ~0ULL : (1ULL << outlen) - 1);
		_mm512_storeu_si512(o, _mm512_mask_expand_epi8(backslash, keep,
		    _mm512_mask_blend_epi8(esc, v, letters)));
		o += outlen;
		s += len;
		if (len < 32)
			break;
	}
	*sp = s;
	*op = o;
}
#endif

/*
 * Escape s into b as buf_add_json_escaped does.  With utf8, non-ASCII
 * bytes are copied in the runs unchecked (the caller has checked them;
 * *high says whether there were any); without, each one is checked and
 * an invalid byte becomes U+FFFD.  Inline: each call has its own utf8.
 *
 * Runs go through buf_json_run_copy, limited to the room the buffer has
 * left less six (the longest thing one input byte becomes), so the loop
 * checks room once per run and grows the buffer only when a run has
 * filled it: by what is left plus an eighth, an escape every eight bytes
 * or so.
 */
static inline void
buf_json_escape_long(struct buf *b, const char *s, size_t len, int utf8,
    int *high)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n, room;
	char			*o;

	buf_reserve(b, len + len / 8 + 2);
	while (i < len) {
		/* cap - len - 1: the NUL that buf_cstr may add keeps its byte. */
		room = b->cap - b->len - 1;
		if (room < 6 + 16) {
			buf_reserve(b, (len - i) + (len - i) / 8 + 6 + 16);
			continue;
		}
		o = b->data + b->len;
#ifdef BUF_WIDE
		if (len - i >= 32 && room >= 64 && buf_wide_on()) {
			const unsigned char	*q = p + i;

			buf_json_escape_blocks(&q, p + len, &o,
			    b->data + b->cap - 1, utf8);
			i = (size_t)(q - p);
			room = (size_t)(b->data + b->cap - 1 - o);
			if (room < 6 + 16) {
				b->len = (size_t)(o - b->data);
				continue;
			}
		}
#endif
		n = len - i < room - 6 ? len - i : room - 6;
		n = utf8 ? buf_json_run_copy(o, s + i, n, high) :
		    buf_json_run_copy(o, s + i, n, NULL);
		i += n;
		o += n;
		/* What ended the run: non-ASCII, an escape, or a full buffer. */
		while (i < len && (room = (size_t)(b->data + b->cap - o)) > 6 &&
		    buf_json_special(p[i], utf8)) {
			if (p[i] >= 0x80 &&
			    (n = buf_utf8_seqlen(p + i, len - i)) != 0) {
				memcpy(o, p + i, n);
				o += n;
				i += n;
			} else
				o += buf_json_escape_byte(o, p[i++]);
		}
		b->len = (size_t)(o - b->data);
	}
}

/*
 * Append s as the inside of a JSON string: quotes, backslashes and control
 * characters are escaped, valid UTF-8 is copied as is, and each invalid
 * byte becomes U+FFFD so the output is always valid JSON.
 *
 * Text with non-ASCII whose UTF-8 is valid throughout (one pass,
 * buf_utf8_valid: Dify and our decoder give nothing else) is escaped in
 * runs that only escapes end; other text stops at each non-ASCII byte
 * to check it, which ASCII text has none of.
 */
void
buf_add_json_escaped(struct buf *b, const char *s, size_t len)
{
	int	high = 0;

	if (len <= BUF_SHORT_ESCAPE)
		buf_json_escape_short(b, (const unsigned char *)s, len);
	else if (buf_utf8_valid(s, len, &high) == len && high)
		buf_json_escape_long(b, s, len, 1, &high);
	else
		buf_json_escape_long(b, s, len, 0, NULL);
}

/* Append s as a quoted JSON string. */
void
buf_add_json_string(struct buf *b, const char *s, size_t len)
{
	buf_add_char(b, '"');
	buf_add_json_escaped(b, s, len);
	buf_add_char(b, '"');
}

/* Append a NUL-terminated string as a quoted JSON string, or null. */
void
buf_add_json_cstring(struct buf *b, const char *s)
{
	if (s == NULL)
		buf_add(b, "null", 4);
	else
		buf_add_json_string(b, s, strlen(s));
}

/* NUL-terminate the contents and return them; valid until the next change. */
const char *
buf_cstr(struct buf *b)
{
	buf_reserve(b, 0);
	b->data[b->len] = '\0';
	return (b->data);
}

/* Hand the NUL-terminated contents to the caller and leave b empty. */
char *
buf_detach(struct buf *b)
{
	char	*p;

	buf_cstr(b);
	p = b->data;
	buf_init(b);
	return (p);
}
