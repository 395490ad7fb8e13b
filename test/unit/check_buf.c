/*
 * check_buf: the growable buffer, integer formatting, JSON string escaping
 * and UTF-8 prefix cutting.
 */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "check_suites.h"
#include "check_util.h"

/* Escape len bytes and compare with the expected JSON string body. */
static int
check_buf_escape_is(const char *in, size_t len, const char *want, char *msg,
    size_t size)
{
	struct buf	b = BUF_INIT;
	int		ok;

	buf_add_json_escaped(&b, in, len);
	ok = check_same(b.data, b.len, want, strlen(want), msg, size);
	buf_free(&b);
	return (ok);
}

/* Deterministic xorshift64 generator. */
static uint64_t
check_buf_rand(uint64_t *state)
{
	uint64_t	x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return (x);
}

/*
 * Length of the valid UTF-8 sequence (RFC 3629) at in[i], or 0 if the byte
 * there starts none.  Written independently of buf.c.
 */
static size_t
check_buf_utf8_at(const unsigned char *in, size_t len, size_t i)
{
	unsigned char	c = in[i];
	size_t		n, k;
	uint32_t	cp, min;

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

/*
 * Reference: the bytes JSON decoding of the escaped text must give, i.e.
 * in with every byte that does not start a valid UTF-8 sequence replaced
 * by EF BF BD.
 */
static void
check_buf_reference(const unsigned char *in, size_t len, struct buf *out)
{
	size_t	i = 0, n;

	while (i < len) {
		if ((n = check_buf_utf8_at(in, len, i)) != 0) {
			buf_add(out, in + i, n);
			i += n;
		} else {
			buf_add(out, "\xef\xbf\xbd", 3);
			i++;
		}
	}
}

/*
 * Reference: the exact escaped text, one byte at a time: the short
 * escapes for " \ \b \f \n \r \t, \u00xx (lower-case hex) for other
 * control bytes, \ufffd for a byte that starts no valid UTF-8.
 */
static void
check_buf_reference_escaped(const unsigned char *in, size_t len,
    struct buf *out)
{
	static const char	*letters = "\"\"\\\\\bb\ff\nn\rr\tt";
	const char		*l;
	size_t			 i = 0, n;
	char			 u[8];

	while (i < len) {
		unsigned char	c = in[i];

		for (l = letters; *l != '\0' && (unsigned char)*l != c; l += 2)
			;
		if (*l != '\0') {
			buf_add_char(out, '\\');
			buf_add_char(out, l[1]);
			i++;
		} else if (c < 0x20) {
			snprintf(u, sizeof(u), "\\u%04x", c);
			buf_add_str(out, u);
			i++;
		} else if ((n = check_buf_utf8_at(in, len, i)) != 0) {
			buf_add(out, in + i, n);
			i += n;
		} else {
			buf_add_str(out, "\\ufffd");
			i++;
		}
	}
}

/* True if s (len bytes) is valid UTF-8 (same rules as the reference). */
static int
check_buf_valid_utf8(const char *s, size_t len)
{
	struct buf	b = BUF_INIT;
	int		ok;

	check_buf_reference((const unsigned char *)s, len, &b);
	ok = b.len == len && (len == 0 || memcmp(b.data, s, len) == 0);
	buf_free(&b);
	return (ok);
}

/* Appends accumulate; reset empties but keeps the allocation. */
START_TEST(check_buf_add_and_reset)
{
	struct buf	 b = BUF_INIT;
	char		 msg[4096];
	size_t		 cap;
	char		*before;

	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	buf_add(&b, "abc", 3);
	buf_add(&b, "", 0);
	buf_add_str(&b, "de");
	buf_add_char(&b, 'f');
	buf_add_char(&b, '\0');
	buf_add(&b, "g\0h", 3);
	ck_assert_msg(check_same(b.data, b.len, "abcdef\0g\0h", 10, msg,
	    sizeof(msg)), "%s", msg);
	cap = b.cap;
	before = b.data;
	ck_assert_uint_ge(cap, b.len + 1);
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_ptr_eq(b.data, before);
	buf_add_str(&b, "xyz");
	ck_assert_str_eq(buf_cstr(&b), "xyz");
	ck_assert_uint_eq(b.len, 3);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
}
END_TEST

/* Many appends across several growths keep every byte in order. */
START_TEST(check_buf_growth)
{
	struct buf	 b;
	char		*want;
	size_t		 i, n = 100000;

	buf_init(&b);
	want = malloc(n);
	ck_assert_ptr_nonnull(want);
	for (i = 0; i < n; i++) {
		want[i] = (char)('a' + (i * 7) % 26);
		buf_add_char(&b, want[i]);
		ck_assert_uint_gt(b.cap, b.len);
	}
	ck_assert_uint_eq(b.len, n);
	ck_assert_int_eq(memcmp(b.data, want, n), 0);
	buf_reset(&b);
	for (i = 0; i < n; i += 1000)
		buf_add(&b, want + i, 1000);
	ck_assert_uint_eq(b.len, n);
	ck_assert_int_eq(memcmp(b.data, want, n), 0);
	free(want);
	buf_free(&b);
}
END_TEST

/*
 * A freed buffer's memory is kept by size: the next buffer of that size
 * gets it back, one of another size does not, and drain empties the pool.
 */
START_TEST(check_buf_pool_reuse)
{
	struct buf	 a, b, c;
	char		*mem;

	buf_pool_drain();
	buf_init(&a);
	buf_add(&a, "x", 1);
	ck_assert_uint_eq(a.cap, 256);
	mem = a.data;
	buf_free(&a);
	ck_assert_ptr_null(a.data);

	/* Another size first: not the kept 256-byte block. */
	buf_init(&c);
	buf_reserve(&c, 1000);
	ck_assert_uint_eq(c.cap, 1024);
	ck_assert_ptr_ne(c.data, mem);

	/* The same size: the kept block, usable whole. */
	buf_init(&b);
	buf_reserve(&b, 200);
	ck_assert_ptr_eq(b.data, mem);
	ck_assert_uint_eq(b.cap, 256);
	ck_assert_uint_eq(b.len, 0);
	memset(b.data, 'y', b.cap);
	buf_free(&b);
	buf_free(&c);

	/* Drained: a new buffer is fresh memory (no use of freed blocks). */
	buf_pool_drain();
	buf_init(&b);
	buf_add(&b, "abc", 3);
	ck_assert_int_eq(memcmp(b.data, "abc", 3), 0);
	buf_free(&b);
	buf_pool_drain();
}
END_TEST

/*
 * A buffer grown past the largest kept size keeps its bytes, is freed
 * rather than kept, and a buffer of that size can be made again (under
 * ASan, a kept block handed out poisoned would fail here).
 */
START_TEST(check_buf_pool_large)
{
	struct buf	 a;
	char		 chunk[1000];
	size_t		 i;

	buf_pool_drain();
	memset(chunk, 'q', sizeof(chunk));
	buf_init(&a);
	for (i = 0; i < 200; i++)
		buf_add(&a, chunk, sizeof(chunk));
	ck_assert_uint_eq(a.len, 200000);
	ck_assert_uint_eq(a.cap, 262144);
	for (i = 0; i < a.len; i++)
		ck_assert_int_eq(a.data[i], 'q');
	buf_free(&a);
	buf_init(&a);
	buf_reserve(&a, 200000);
	ck_assert_uint_eq(a.cap, 262144);
	memset(a.data, 'r', a.cap);
	buf_free(&a);
	buf_pool_drain();
}
END_TEST

/*
 * Growing takes a kept bigger block when there is one: the bytes in use
 * come across, the old block is kept for the next buffer of its size, and
 * an empty buffer with a small block gets a bigger one the same way.
 */
START_TEST(check_buf_pool_growth)
{
	struct buf	 a, b, c;
	char		*big, *small;
	size_t		 i;

	buf_pool_drain();
	buf_init(&a);
	buf_reserve(&a, 3000);
	ck_assert_uint_eq(a.cap, 4096);
	big = a.data;
	buf_free(&a);

	buf_init(&b);
	for (i = 0; i < 300; i++)
		buf_add_char(&b, (char)('a' + i % 26));
	ck_assert_uint_eq(b.cap, 512);
	small = b.data;
	buf_reserve(&b, 3000);
	ck_assert_ptr_eq(b.data, big);
	ck_assert_uint_eq(b.cap, 4096);
	ck_assert_uint_eq(b.len, 300);
	for (i = 0; i < 300; i++)
		ck_assert_int_eq(b.data[i], 'a' + i % 26);

	/* The 512-byte block was kept. */
	buf_init(&c);
	buf_reserve(&c, 400);
	ck_assert_ptr_eq(c.data, small);
	/* Empty but holding a block: grows without keeping old bytes. */
	buf_reserve(&c, 5000);
	ck_assert_uint_eq(c.cap, 8192);
	ck_assert_uint_eq(c.len, 0);
	memset(c.data, 'z', c.cap);
	buf_add(&c, "end", 3);
	ck_assert_int_eq(memcmp(c.data, "end", 3), 0);
	buf_free(&b);
	buf_free(&c);
	buf_pool_drain();
}
END_TEST

/* buf_cstr NUL-terminates without changing the length, also when empty. */
START_TEST(check_buf_cstr)
{
	struct buf	b = BUF_INIT;

	ck_assert_str_eq(buf_cstr(&b), "");
	ck_assert_uint_eq(b.len, 0);
	buf_add(&b, "hello", 5);
	ck_assert_str_eq(buf_cstr(&b), "hello");
	ck_assert_uint_eq(b.len, 5);
	buf_add(&b, "!", 1);
	ck_assert_str_eq(buf_cstr(&b), "hello!");
	buf_free(&b);
}
END_TEST

/* buf_detach hands over a NUL-terminated string and leaves b empty. */
START_TEST(check_buf_detach)
{
	struct buf	 b = BUF_INIT;
	char		*s;

	buf_add_str(&b, "detached");
	s = buf_detach(&b);
	ck_assert_str_eq(s, "detached");
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	free(s);

	/* An empty buffer detaches as an allocated "". */
	s = buf_detach(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	free(s);

	/* The buffer is usable again afterwards. */
	buf_add_str(&b, "again");
	ck_assert_str_eq(buf_cstr(&b), "again");
	buf_free(&b);
}
END_TEST

/* Unsigned and signed integers at their edges. */
START_TEST(check_buf_integers)
{
	struct buf	b = BUF_INIT;

	buf_add_uint(&b, 0);
	ck_assert_str_eq(buf_cstr(&b), "0");
	buf_reset(&b);
	buf_add_uint(&b, 7);
	ck_assert_str_eq(buf_cstr(&b), "7");
	buf_reset(&b);
	buf_add_uint(&b, 10);
	ck_assert_str_eq(buf_cstr(&b), "10");
	buf_reset(&b);
	buf_add_uint(&b, 1700000000);
	ck_assert_str_eq(buf_cstr(&b), "1700000000");
	buf_reset(&b);
	buf_add_uint(&b, UINT64_MAX);
	ck_assert_str_eq(buf_cstr(&b), "18446744073709551615");
	buf_reset(&b);
	buf_add_int(&b, 0);
	ck_assert_str_eq(buf_cstr(&b), "0");
	buf_reset(&b);
	buf_add_int(&b, -1);
	ck_assert_str_eq(buf_cstr(&b), "-1");
	buf_reset(&b);
	buf_add_int(&b, INT64_MAX);
	ck_assert_str_eq(buf_cstr(&b), "9223372036854775807");
	buf_reset(&b);
	buf_add_int(&b, INT64_MIN);
	ck_assert_str_eq(buf_cstr(&b), "-9223372036854775808");
	buf_reset(&b);
	/* Appends, not overwrites. */
	buf_add_str(&b, "n=");
	buf_add_int(&b, -42);
	buf_add_char(&b, ',');
	buf_add_uint(&b, 42);
	ck_assert_str_eq(buf_cstr(&b), "n=-42,42");
	buf_free(&b);
}
END_TEST

/* buf_printf appends formatted text, also longer than the first chunk. */
START_TEST(check_buf_printf)
{
	struct buf	 b = BUF_INIT;
	char		 want[1200];
	size_t		 i;

	buf_add_str(&b, "<");
	buf_printf(&b, "%d-%s-%05.1f", 42, "x", 2.5);
	buf_printf(&b, "%s", "");
	ck_assert_str_eq(buf_cstr(&b), "<42-x-002.5");
	buf_reset(&b);
	for (i = 0; i < 1000; i++)
		want[i] = (char)('A' + i % 26);
	want[1000] = '\0';
	buf_printf(&b, "[%s]", want);
	ck_assert_uint_eq(b.len, 1002);
	ck_assert_int_eq(b.data[0], '[');
	ck_assert_int_eq(memcmp(b.data + 1, want, 1000), 0);
	ck_assert_int_eq(b.data[1001], ']');
	buf_free(&b);
}
END_TEST

/* Quote, backslash and the short escapes. */
START_TEST(check_buf_escape_short)
{
	char	msg[4096];

	ck_assert_msg(check_buf_escape_is("plain text", 10, "plain text", msg,
	    sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("", 0, "", msg, sizeof(msg)), "%s",
	    msg);
	ck_assert_msg(check_buf_escape_is("\"", 1, "\\\"", msg, sizeof(msg)),
	    "%s", msg);
	ck_assert_msg(check_buf_escape_is("\\", 1, "\\\\", msg, sizeof(msg)),
	    "%s", msg);
	ck_assert_msg(check_buf_escape_is("a\"b\\c", 5, "a\\\"b\\\\c", msg,
	    sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\n\r\t\b\f", 5, "\\n\\r\\t\\b\\f",
	    msg, sizeof(msg)), "%s", msg);
	/* '/' needs no escape. */
	ck_assert_msg(check_buf_escape_is("a/b", 3, "a/b", msg, sizeof(msg)),
	    "%s", msg);
}
END_TEST

/* Other control bytes are \u00XX in lowercase hex; DEL is copied. */
START_TEST(check_buf_escape_controls)
{
	char	msg[4096];

	ck_assert_msg(check_buf_escape_is("\0", 1, "\\u0000", msg,
	    sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\x01", 1, "\\u0001", msg,
	    sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\x0b", 1, "\\u000b", msg,
	    sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\x1b[0m", 4, "\\u001b[0m", msg,
	    sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\x1f", 1, "\\u001f", msg,
	    sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is(" ", 1, " ", msg, sizeof(msg)), "%s",
	    msg);
	ck_assert_msg(check_buf_escape_is("\x7f", 1, "\x7f", msg, sizeof(msg)),
	    "%s", msg);
	ck_assert_msg(check_buf_escape_is("a\0b", 3, "a\\u0000b", msg,
	    sizeof(msg)), "%s", msg);
}
END_TEST

/* Valid 2, 3 and 4 byte UTF-8 is copied unchanged. */
START_TEST(check_buf_escape_utf8_valid)
{
	char	msg[4096];

	/* é (2), 你好 (3 each), 🙂 (4), and the extremes of each length. */
	ck_assert_msg(check_buf_escape_is("\xc3\xa9", 2, "\xc3\xa9", msg,
	    sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\xe4\xbd\xa0\xe5\xa5\xbd", 6,
	    "\xe4\xbd\xa0\xe5\xa5\xbd", msg, sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\xf0\x9f\x99\x82", 4,
	    "\xf0\x9f\x99\x82", msg, sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\xc2\x80\xdf\xbf", 4,
	    "\xc2\x80\xdf\xbf", msg, sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\xe0\xa0\x80\xef\xbf\xbf", 6,
	    "\xe0\xa0\x80\xef\xbf\xbf", msg, sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\xed\x9f\xbf\xee\x80\x80", 6,
	    "\xed\x9f\xbf\xee\x80\x80", msg, sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
	    8, "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", msg, sizeof(msg)), "%s",
	    msg);
	ck_assert_msg(check_buf_escape_is("a\"\xc3\xa9\n", 5,
	    "a\\\"\xc3\xa9\\n", msg, sizeof(msg)), "%s", msg);
}
END_TEST

/* Each invalid byte becomes \ufffd and the scan resumes at the next. */
START_TEST(check_buf_escape_utf8_invalid)
{
	char	msg[4096];

	/* Lone continuation byte. */
	ck_assert_msg(check_buf_escape_is("a\x80z", 3, "a\\ufffdz", msg,
	    sizeof(msg)), "%s", msg);
	/* Overlong 2-byte NUL: both bytes invalid. */
	ck_assert_msg(check_buf_escape_is("\xc0\x80", 2, "\\ufffd\\ufffd", msg,
	    sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\xc1\xbf", 2, "\\ufffd\\ufffd", msg,
	    sizeof(msg)), "%s", msg);
	/* Overlong 3-byte. */
	ck_assert_msg(check_buf_escape_is("\xe0\x80\x80", 3,
	    "\\ufffd\\ufffd\\ufffd", msg, sizeof(msg)), "%s", msg);
	/* Overlong 4-byte. */
	ck_assert_msg(check_buf_escape_is("\xf0\x80\x80\x80", 4,
	    "\\ufffd\\ufffd\\ufffd\\ufffd", msg, sizeof(msg)), "%s", msg);
	/* UTF-16 surrogate U+D800. */
	ck_assert_msg(check_buf_escape_is("\xed\xa0\x80", 3,
	    "\\ufffd\\ufffd\\ufffd", msg, sizeof(msg)), "%s", msg);
	/* Above U+10FFFF. */
	ck_assert_msg(check_buf_escape_is("\xf4\x90\x80\x80", 4,
	    "\\ufffd\\ufffd\\ufffd\\ufffd", msg, sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\xf5\x80\x80\x80", 4,
	    "\\ufffd\\ufffd\\ufffd\\ufffd", msg, sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\xff\xfe", 2, "\\ufffd\\ufffd", msg,
	    sizeof(msg)), "%s", msg);
	/* Truncated sequences at the end of the input. */
	ck_assert_msg(check_buf_escape_is("ok\xe4\xbd", 4,
	    "ok\\ufffd\\ufffd", msg, sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\xf0\x9f\x99", 3,
	    "\\ufffd\\ufffd\\ufffd", msg, sizeof(msg)), "%s", msg);
	ck_assert_msg(check_buf_escape_is("\xc3", 1, "\\ufffd", msg,
	    sizeof(msg)), "%s", msg);
	/* A lead byte cut short by ASCII: the ASCII survives. */
	ck_assert_msg(check_buf_escape_is("\xe4" "A\xc3\xa9", 4,
	    "\\ufffdA\xc3\xa9", msg, sizeof(msg)), "%s", msg);
	/* An invalid byte then a valid character right after it. */
	ck_assert_msg(check_buf_escape_is("\x80\xf0\x9f\x99\x82", 5,
	    "\\ufffd\xf0\x9f\x99\x82", msg, sizeof(msg)), "%s", msg);
	/* A truncated lead followed by a quote. */
	ck_assert_msg(check_buf_escape_is("\xc3\"", 2, "\\ufffd\\\"", msg,
	    sizeof(msg)), "%s", msg);
}
END_TEST

/* buf_add_json_string quotes; buf_add_json_cstring also writes null. */
START_TEST(check_buf_json_string)
{
	struct buf	b = BUF_INIT;
	char		msg[4096];

	buf_add_json_string(&b, "a\"b", 3);
	buf_add_char(&b, ' ');
	buf_add_json_cstring(&b, "x\ty");
	buf_add_char(&b, ' ');
	buf_add_json_cstring(&b, NULL);
	buf_add_char(&b, ' ');
	buf_add_json_string(&b, "", 0);
	ck_assert_msg(check_same(b.data, b.len,
	    "\"a\\\"b\" \"x\\ty\" null \"\"", 21, msg, sizeof(msg)), "%s",
	    msg);
	buf_free(&b);
}
END_TEST

/*
 * Random bytes (biased towards UTF-8 lead and continuation bytes) always
 * escape to valid JSON that decodes to the reference replacement.
 */
START_TEST(check_buf_escape_random_is_json)
{
	static const unsigned char	 pool[] = {
		0x00, 0x01, 0x0a, 0x0d, 0x1f, 0x20, 0x22, 0x2f, 0x41, 0x5c,
		0x7f, 0x80, 0x8f, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3,
		0xdf, 0xe0, 0xe4, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xf8, 0xff
	};
	uint64_t			 seed = 0x9e3779b97f4a7c15ULL;
	unsigned char			 in[64];
	struct buf			 b = BUF_INIT, ref = BUF_INIT;
	json_t				*v;
	json_error_t			 err;
	size_t				 len, i;
	int				 round;
	char				 msg[4096];

	for (round = 0; round < 20000; round++) {
		len = check_buf_rand(&seed) % sizeof(in);
		for (i = 0; i < len; i++) {
			uint64_t	r = check_buf_rand(&seed);

			if (r % 3 == 0)
				in[i] = (unsigned char)(r >> 8);
			else
				in[i] = pool[(r >> 8) % sizeof(pool)];
		}
		buf_reset(&b);
		buf_add_json_string(&b, (const char *)in, len);
		v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
		    &err);
		if (v == NULL) {
			check_show(b.data, b.len, msg, sizeof(msg));
			ck_abort_msg("round %d: not JSON (%s): %s", round,
			    err.text, msg);
		}
		ck_assert(json_is_string(v));
		buf_reset(&ref);
		check_buf_reference(in, len, &ref);
		ck_assert_msg(check_same(json_string_value(v),
		    json_string_length(v), ref.data, ref.len, msg, sizeof(msg)),
		    "round %d: %s", round, msg);
		/* The raw output holds no control byte and valid UTF-8. */
		for (i = 0; i < b.len; i++)
			ck_assert_uint_ge((unsigned char)b.data[i], 0x20);
		ck_assert(check_buf_valid_utf8(b.data, b.len));
		json_decref(v);
	}
	buf_free(&b);
	buf_free(&ref);
}
END_TEST

/*
 * Long inputs: plain runs of every length around a sixteen-byte block,
 * each ended by something else (an escape, a control byte, valid and
 * invalid UTF-8), appended after text that leaves the buffer anywhere
 * from full to roomy.  The output is exactly the reference's, and what
 * was there before stays.
 */
START_TEST(check_buf_escape_long_runs)
{
	static const char	*enders[] = {
		"\"", "\\", "\n", "\t", "\x01", "\x1f", "\xc3\xa9",
		"\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\xff", "\xc3", "\xed\xa0\x80",
		"\x7f",
	};
	uint64_t	 seed = 0x2545f4914f6cdd1dULL;
	struct buf	 b = BUF_INIT, want = BUF_INIT, in = BUF_INIT;
	size_t		 round, fill, run, cap, k;
	char		 msg[4096];

	for (round = 0; round < 3000; round++) {
		buf_reset(&in);
		while (in.len < 17 + round % 1500) {
			run = check_buf_rand(&seed) % 41;
			for (k = 0; k < run; k++)
				buf_add_char(&in, (char)('a' + k % 26));
			buf_add_str(&in, enders[check_buf_rand(&seed) %
			    (sizeof(enders) / sizeof(enders[0]))]);
		}
		/* Leave 0 to 63 bytes of room, or more than the input. */
		buf_free(&b);
		buf_reserve(&b, 64 + round % 700);
		cap = b.cap;
		fill = round % 3 == 0 ? 10 : cap - 1 - round % 64;
		memset(b.data, 'F', fill);
		b.len = fill;
		buf_add_json_escaped(&b, in.data, in.len);
		buf_reset(&want);
		for (k = 0; k < fill; k++)
			buf_add_char(&want, 'F');
		check_buf_reference_escaped((const unsigned char *)in.data,
		    in.len, &want);
		ck_assert_msg(check_same(b.data, b.len, want.data, want.len,
		    msg, sizeof(msg)), "round %zu (%zu input bytes, %zu of "
		    "%zu filled): %s", round, in.len, fill, cap, msg);
		ck_assert_uint_lt(b.len, b.cap);
	}
	buf_free(&b);
	buf_free(&want);
	buf_free(&in);
}
END_TEST

/*
 * Random text of pieces for the bulk UTF-8 paths: ASCII runs of 0 to 70
 * bytes (across a 16- and a 64-byte block), runs of CJK characters, the
 * other valid lengths and, unless valid_only, every kind of bad sequence.
 */
static void
check_buf_utf8_text(uint64_t *seed, size_t len, int valid_only,
    struct buf *out)
{
	static const char	*good[] = { "\xc3\xa9", "\xe4\xb8\xad",
				    "\xf0\x9f\x98\x80", "\xef\xbf\xbd",
				    "\xe0\xa0\x80", "\xf4\x8f\xbf\xbf" };
	static const char	*bad[] = { "\xff", "\x80", "\xc3(", "\xc0\xaf",
				    "\xe0\x80\x80", "\xed\xa0\x80",
				    "\xf4\x90\x80\x80", "\xf0\x8f\xbf\xbf",
				    "\xe4\xb8", "\xf5\x80\x80\x80" };
	size_t			 k, run;
	uint64_t		 r;

	buf_reset(out);
	while (out->len < len) {
		r = check_buf_rand(seed);
		run = (r >> 8) % 71;
		switch (r % 8) {
		case 0: case 1: case 2:
			for (k = 0; k < run; k++)
				buf_add_char(out, (char)('a' + k % 26));
			break;
		case 3: case 4:
			for (k = 0; k < run / 3; k++)
				buf_add_str(out, "\xe4\xb8\xad");
			break;
		case 5: case 6:
			buf_add_str(out, good[(r >> 16) %
			    (sizeof(good) / sizeof(good[0]))]);
			break;
		default:
			if (!valid_only)
				buf_add_str(out, bad[(r >> 16) %
				    (sizeof(bad) / sizeof(bad[0]))]);
		}
	}
}

/*
 * buf_utf8_valid stops at the first bad sequence: its answer is the
 * longest valid prefix by the reference's rules (no longer prefix is
 * valid once a sequence is bad), and for valid text *high says whether
 * any byte is not ASCII.  Inputs are read from blocks of exactly their
 * size, so a read past the end is ASan's to catch.
 */
START_TEST(check_buf_utf8_valid_prefix)
{
	uint64_t	 seed = 0x9e3779b97f4a7c15ULL;
	struct buf	 text = BUF_INIT;
	size_t		 round, want, got, k;
	char		*copy;
	int		 high, any, wide;

	for (round = 0; round < 1500; round++) {
		check_buf_utf8_text(&seed, round % 200, round % 3 == 0, &text);
		for (want = text.len; want > 0; want--)
			if (check_buf_valid_utf8(text.data, want))
				break;
		ck_assert_ptr_nonnull(copy = malloc(text.len + 1));
		memcpy(copy, text.data ? text.data : "", text.len);
		high = 0;
		got = buf_utf8_valid(copy, text.len, &high);
		ck_assert_msg(got == want, "round %zu (%zu bytes): valid to "
		    "%zu, want %zu", round, text.len, got, want);
		wide = buf_utf8_valid_wide(copy, text.len, &high);
		ck_assert_msg(wide < 0 || wide == (want == text.len), "round "
		    "%zu (%zu bytes): the 64-byte check says %d", round,
		    text.len, wide);
		if (got == text.len) {
			for (any = 0, k = 0; k < text.len; k++)
				any |= (unsigned char)copy[k] >= 0x80;
			ck_assert_int_eq(high, any);
		}
		free(copy);
	}
	buf_free(&text);
}
END_TEST

/*
 * The 64-byte UTF-8 check (where the CPU has it) against the reference
 * on every pair of bytes, every three-byte sequence with a lead byte and
 * its neighbours of each continuation range, and every four-byte one
 * from those: each at the start of a text, across the first block's
 * end, and cut off by the text's end, so no bad sequence passes for
 * good and no good one sends the caller to the slow loop.
 */
START_TEST(check_buf_utf8_valid_wide_sweep)
{
	static const unsigned char	 edges[] = { 0x00, 0x41, 0x7f, 0x80,
					    0x8f, 0x90, 0x9f, 0xa0, 0xbf,
					    0xc0, 0xc2, 0xdf, 0xe0, 0xed,
					    0xef, 0xf0, 0xf4, 0xf5, 0xff };
	static const size_t		 starts[] = { 0, 61, 62, 63, 64 };
	unsigned char			 seq[4], text[140];
	size_t				 a, b, c, d, st, len, n, ne;
	int				 high, wide;

	if (buf_utf8_valid_wide("", 0, &high) < 0)
		return;		/* not on this CPU */
	ne = sizeof(edges);
	for (n = 2; n <= 4; n++)
	for (a = 0; a < 256; a++)
	for (b = 0; b < (n == 2 ? 256 : ne); b++)
	for (c = 0; c < (n >= 3 ? ne : 1); c++)
	for (d = 0; d < (n == 4 ? ne : 1); d++) {
		if ((n == 3 && a < 0xc0) || (n == 4 && a < 0xf0))
			continue;
		seq[0] = (unsigned char)a;
		seq[1] = n == 2 ? (unsigned char)b : edges[b];
		seq[2] = edges[c];
		seq[3] = edges[d];
		for (st = 0; st < sizeof(starts) / sizeof(starts[0]); st++) {
			memset(text, 'x', sizeof(text));
			memcpy(text + starts[st], seq, n);
			for (len = starts[st] + n - 1; len <= starts[st] + n + 8;
			    len += (len < starts[st] + n ? 1 : 8)) {
				high = 0;
				wide = buf_utf8_valid_wide((const char *)text,
				    len, &high);
				/* Asserting only on a failure: Check writes
				 * a pipe at each assertion. */
				if (wide != check_buf_valid_utf8((const char *)
				    text, len))
					ck_abort_msg("%02zx %02x %02x %02x (%zu "
					    "bytes) at %zu of %zu: the 64-byte "
					    "check says %d", a, seq[1], seq[2],
					    seq[3], n, starts[st], len, wide);
			}
		}
	}
}
END_TEST

/*
 * The 32-byte escaper (where the CPU has it) against the loops it sits
 * in front of: texts of escape-dense pieces (quotes, backslashes, every
 * two-byte escape, other control bytes, non-ASCII valid or not) of 0 to
 * 400 bytes, into a buffer already holding 0 to 300 bytes, so blocks
 * meet every kind of stop and the room runs out at every point.
 */
START_TEST(check_buf_escape_wide_blocks)
{
	static const char	*pieces[] = { "\"", "\\", "\n", "\t", "\r\n",
				    "\b\f", "\x01", "\x1f", "\x7f", "plain text ",
				    "\xe4\xb8\xad", "caf\xc3\xa9", "\xff", "\xc3",
				    "if (a) { b(\"x\\n\"); }", "0123456789abcdef" };
	uint64_t		 seed = 0x13198a2e03707344ULL;
	struct buf		 in = BUF_INIT, wide = BUF_INIT, narrow = BUF_INIT;
	size_t			 round, fill, i;
	char			 msg[4096];
	int			 was;

	for (round = 0; round < 3000; round++) {
		buf_reset(&in);
		while (in.len < round % 401) {
			i = check_buf_rand(&seed) % (sizeof(pieces) /
			    sizeof(pieces[0]));
			if (round % 3 == 0 && (pieces[i][0] == '\xff' ||
			    pieces[i][0] == '\xc3'))
				continue;	/* a third all valid UTF-8 */
			buf_add_str(&in, pieces[i]);
		}
		fill = check_buf_rand(&seed) % 301;
		buf_free(&wide);
		buf_free(&narrow);
		for (i = 0; i < fill; i++) {
			buf_add_char(&wide, 'F');
			buf_add_char(&narrow, 'F');
		}
		was = buf_use_wide(1);
		buf_add_json_escaped(&wide, in.data, in.len);
		buf_use_wide(0);
		buf_add_json_escaped(&narrow, in.data, in.len);
		buf_use_wide(was);
		if (!check_same(wide.data, wide.len, narrow.data, narrow.len,
		    msg, sizeof(msg)))
			ck_abort_msg("round %zu (%zu input bytes after %zu): "
			    "wide vs narrow %s", round, in.len, fill, msg);
	}
	buf_free(&in);
	buf_free(&wide);
	buf_free(&narrow);
}
END_TEST

/*
 * The escaper's two ways (runs that only escapes end, for valid UTF-8
 * with non-ASCII; a check at each non-ASCII byte, for the rest) give the
 * reference's output: long texts of CJK and other runs, valid or not,
 * with escapes between.
 */
START_TEST(check_buf_escape_utf8_runs)
{
	static const char	*escapes[] = { "\"", "\\", "\n", "\x01", "" };
	uint64_t		 seed = 0x243f6a8885a308d3ULL;
	struct buf		 b = BUF_INIT, want = BUF_INIT, in = BUF_INIT;
	struct buf		 piece = BUF_INIT;
	size_t			 round;
	char			 msg[4096];

	for (round = 0; round < 1500; round++) {
		buf_reset(&in);
		while (in.len < 20 + round % 900) {
			check_buf_utf8_text(&seed, 1 + check_buf_rand(&seed) % 60,
			    round % 2 == 0, &piece);
			buf_add(&in, piece.data, piece.len);
			buf_add_str(&in, escapes[check_buf_rand(&seed) %
			    (sizeof(escapes) / sizeof(escapes[0]))]);
		}
		buf_reset(&b);
		buf_add_json_escaped(&b, in.data, in.len);
		buf_reset(&want);
		check_buf_reference_escaped((const unsigned char *)in.data,
		    in.len, &want);
		ck_assert_msg(check_same(b.data, b.len, want.data, want.len,
		    msg, sizeof(msg)), "round %zu (%zu input bytes): %s", round,
		    in.len, msg);
	}
	buf_free(&b);
	buf_free(&want);
	buf_free(&in);
	buf_free(&piece);
}
END_TEST

/* buf_utf8_prefix cuts only on character boundaries. */
START_TEST(check_buf_utf8_prefix)
{
	/* "aé你🙂": a(0) é(1-2) 你(3-5) 🙂(6-9) */
	static const char	s[] = "a\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x99\x82";
	static const size_t	want[] = { 0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10 };
	size_t			max;

	for (max = 0; max <= 10; max++)
		ck_assert_msg(buf_utf8_prefix(s, 10, max) == want[max],
		    "max %zu: got %zu, want %zu", max,
		    buf_utf8_prefix(s, 10, max), want[max]);
	/* Never more than len, whatever max says. */
	ck_assert_uint_eq(buf_utf8_prefix(s, 10, 1000), 10);
	ck_assert_uint_eq(buf_utf8_prefix("abc", 3, 2), 2);
	ck_assert_uint_eq(buf_utf8_prefix("", 0, 5), 0);
	/* A prefix of a shorter length stops at that length's boundary. */
	ck_assert_uint_eq(buf_utf8_prefix(s, 5, 4), 3);
}
END_TEST

/* Random valid UTF-8 text: every prefix it returns is valid UTF-8. */
START_TEST(check_buf_utf8_prefix_random)
{
	static const char	*chars[] = { "a", "\xc3\xa9", "\xe4\xbd\xa0",
				    "\xf0\x9f\x99\x82", " ", "\n" };
	uint64_t		 seed = 12345;
	struct buf		 b = BUF_INIT;
	size_t			 max, n;
	int			 round, k;

	for (round = 0; round < 500; round++) {
		buf_reset(&b);
		for (k = 0; k < 20; k++)
			buf_add_str(&b, chars[check_buf_rand(&seed) %
			    (sizeof(chars) / sizeof(chars[0]))]);
		for (max = 0; max <= b.len + 1; max++) {
			n = buf_utf8_prefix(b.data, b.len, max);
			ck_assert_uint_le(n, max);
			ck_assert_uint_le(n, b.len);
			/* At most 3 bytes shorter than asked (one char). */
			ck_assert_uint_ge(n + 3, max < b.len ? max : b.len);
			ck_assert_msg(check_buf_valid_utf8(b.data, n),
			    "round %d max %zu: cut inside a character", round,
			    max);
		}
	}
	buf_free(&b);
}
END_TEST

/* The buf suite. */
Suite *
buf_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("buf");
	tc = tcase_create("buffer");
	tcase_add_test(tc, check_buf_add_and_reset);
	tcase_add_test(tc, check_buf_growth);
	tcase_add_test(tc, check_buf_pool_reuse);
	tcase_add_test(tc, check_buf_pool_large);
	tcase_add_test(tc, check_buf_pool_growth);
	tcase_add_test(tc, check_buf_cstr);
	tcase_add_test(tc, check_buf_detach);
	tcase_add_test(tc, check_buf_integers);
	tcase_add_test(tc, check_buf_printf);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_buf_escape_short);
	tcase_add_test(tc, check_buf_escape_controls);
	tcase_add_test(tc, check_buf_escape_utf8_valid);
	tcase_add_test(tc, check_buf_escape_utf8_invalid);
	tcase_add_test(tc, check_buf_json_string);
	tcase_add_test(tc, check_buf_escape_random_is_json);
	tcase_add_test(tc, check_buf_escape_long_runs);
	tcase_add_test(tc, check_buf_utf8_valid_prefix);
	tcase_add_test(tc, check_buf_utf8_valid_wide_sweep);
	tcase_add_test(tc, check_buf_escape_utf8_runs);
	tcase_add_test(tc, check_buf_escape_wide_blocks);
	suite_add_tcase(s, tc);

	tc = tcase_create("utf8_prefix");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_buf_utf8_prefix);
	tcase_add_test(tc, check_buf_utf8_prefix_random);
	suite_add_tcase(s, tc);
	return (s);
}
