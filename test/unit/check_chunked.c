/*
 * check_chunked: the chunked transfer decoder, over every split of its
 * input, with the framing mistakes a broken or hostile upstream makes.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check_suites.h"
#include "chunked.h"

/* Decoded bytes. */
struct collected {
	struct buf	 out;
};

/*
 * Decode text fed in pieces of at most step bytes (0: all at once).
 * Returns the final result; *end is the offset in text where the body
 * ended (or the bad byte was), or the whole length.
 */
static enum chunked_result
check_chunked_decode(const char *text, size_t len, size_t step,
    struct collected *got, size_t *end)
{
	struct chunked		 c;
	enum chunked_result	 r = CHUNKED_MORE;
	size_t			 off = 0, n, used;

	chunked_init(&c);
	buf_init(&got->out);
	*end = len;
	while (off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		r = chunked_feed(&c, text + off, n, &used, &got->out);
		if (r != CHUNKED_MORE) {
			*end = off + used;
			break;
		}
		ck_assert_uint_eq(used, n);
		off += n;
	}
	return (r);
}

/* True if the collected bytes are exactly want. */
static int
check_chunked_is(const struct collected *got, const char *want)
{
	return (got->out.len == strlen(want) &&
	    memcmp(got->out.data, want, got->out.len) == 0);
}

/* A body of two chunks and the last chunk decodes, and ends exactly. */
START_TEST(check_chunked_simple)
{
	static const char	 body[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
	struct collected	 got;
	size_t			 end;

	ck_assert_int_eq(check_chunked_decode(body, strlen(body), 0, &got,
	    &end), CHUNKED_END);
	ck_assert(check_chunked_is(&got, "hello world"));
	ck_assert_uint_eq(end, strlen(body));
	buf_free(&got.out);
}
END_TEST

/* Every split in two, and byte by byte, gives the same bytes and end. */
START_TEST(check_chunked_every_split)
{
	static const char	 body[] = "18;name=value\r\n"
	    "data: {\"answer\":\"w0 \"}\n\n\r\n"
	    "3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
	const size_t		 len = strlen(body);
	const size_t		 want_end = len - 4;
	struct collected	 got;
	struct chunked		 c;
	size_t			 split, end, used, used2;
	enum chunked_result	 r;

	ck_assert_int_eq(check_chunked_decode(body, len, 1, &got, &end),
	    CHUNKED_END);
	ck_assert(check_chunked_is(&got,
	    "data: {\"answer\":\"w0 \"}\n\nabc"));
	ck_assert_uint_eq(end, want_end);
	buf_free(&got.out);

	for (split = 0; split <= len; split++) {
		chunked_init(&c);
		buf_init(&got.out);
		r = chunked_feed(&c, body, split, &used, &got.out);
		if (r == CHUNKED_MORE) {
			ck_assert_uint_eq(used, split);
			r = chunked_feed(&c, body + split, len - split, &used2,
			    &got.out);
			used += used2;
		}
		ck_assert_int_eq(r, CHUNKED_END);
		ck_assert_uint_eq(used, want_end);
		ck_assert(chunked_done(&c));
		ck_assert(check_chunked_is(&got,
		    "data: {\"answer\":\"w0 \"}\n\nabc"));
		buf_free(&got.out);
	}
}
END_TEST

/* Data is passed on as it arrives, before its chunk is complete. */
START_TEST(check_chunked_partial_data_early)
{
	struct chunked		 c;
	struct collected	 got;
	size_t			 used;

	chunked_init(&c);
	buf_init(&got.out);
	ck_assert_int_eq(chunked_feed(&c, "a\r\nhel", 6, &used, &got.out),
	    CHUNKED_MORE);
	ck_assert(check_chunked_is(&got, "hel"));
	ck_assert_int_eq(chunked_feed(&c, "lo worl", 7, &used, &got.out),
	    CHUNKED_MORE);
	ck_assert(check_chunked_is(&got, "hello worl"));
	ck_assert(!chunked_done(&c));
	buf_free(&got.out);
}
END_TEST

/* Bare LF line ends, upper case, leading zeros, whitespace, extensions. */
START_TEST(check_chunked_lenient_forms)
{
	static const char	*bodies[] = {
		"3\nabc\n0\n\n",
		"3\r\nabc\n0\r\n\n",
		"0003\r\nabc\r\n00\r\n\r\n",
		"A\r\n0123456789\r\n0\r\n\r\n",
		"3 \t;ext=\"q\";x\r\nabc\r\n0;last\r\n\r\n",
		"3\r\nabc\r\n0\r\nA: b\r\nC: d\r\n\r\n",
		"3\r\nabc\r\n0\r\nA: b\n\n",
	};
	static const char	*wants[] = {
		"abc", "abc", "abc", "0123456789", "abc", "abc", "abc",
	};
	struct collected	 got;
	size_t			 i, end;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		ck_assert_int_eq(check_chunked_decode(bodies[i],
		    strlen(bodies[i]), 0, &got, &end), CHUNKED_END);
		ck_assert_msg(check_chunked_is(&got, wants[i]), "body %zu", i);
		ck_assert_uint_eq(end, strlen(bodies[i]));
		buf_free(&got.out);
	}
}
END_TEST

/* Broken framing is an error at the bad byte, and stays an error. */
START_TEST(check_chunked_errors)
{
	static const struct {
		const char	*body;
		size_t		 at;	/* offset of the bad byte */
	} cases[] = {
		{ "\r\n", 0 },				/* no digits */
		{ "g\r\n", 0 },				/* not hex */
		{ ";x\r\n", 0 },			/* extension only */
		{ "3\r\nabcX\r\n", 6 },			/* no CRLF after data */
		{ "3\r\nabc\rX", 7 },			/* CR then not LF */
		{ "3\rX\n", 2 },			/* CR then not LF */
		{ "3;a\001b\r\n", 3 },			/* control in extension */
		{ "11111111111111111\r\n", 16 },	/* over 64 bits */
		{ "0\r\nA\001: b\r\n\r\n", 4 },		/* control in trailer */
		{ "0\r\n\rX", 4 },			/* bad blank line */
		{ "-1\r\n", 0 },			/* no sign */
	};
	struct collected	 got;
	struct chunked		 c;
	size_t			 i, end, used;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(check_chunked_decode(cases[i].body,
		    strlen(cases[i].body), 0, &got, &end) == CHUNKED_BAD,
		    "case %zu", i);
		ck_assert_msg(end == cases[i].at, "case %zu: bad at %zu", i,
		    end);
		buf_free(&got.out);
		/* Byte by byte finds the same byte. */
		ck_assert(check_chunked_decode(cases[i].body,
		    strlen(cases[i].body), 1, &got, &end) == CHUNKED_BAD);
		ck_assert_uint_eq(end, cases[i].at);
		buf_free(&got.out);
	}

	chunked_init(&c);
	buf_init(&got.out);
	ck_assert_int_eq(chunked_feed(&c, "zz", 2, &used, &got.out),
	    CHUNKED_BAD);
	ck_assert_int_eq(chunked_feed(&c, "3\r\nabc", 6, &used, &got.out),
	    CHUNKED_BAD);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(got.out.len, 0);
	buf_free(&got.out);
}
END_TEST

/* Size lines and trailers are bounded; big chunks stream through. */
START_TEST(check_chunked_limits)
{
	struct collected	 got;
	struct chunked		 c;
	struct buf		 b = BUF_INIT;
	size_t			 end, i, used;
	char			*data;

	/* An extension longer than a line may be. */
	buf_add(&b, "1;", 2);
	for (i = 0; i < CHUNKED_MAX_LINE; i++)
		buf_add_char(&b, 'x');
	buf_add(&b, "\r\na\r\n0\r\n\r\n", 10);
	ck_assert_int_eq(check_chunked_decode(b.data, b.len, 0, &got, &end),
	    CHUNKED_BAD);
	buf_free(&got.out);
	buf_reset(&b);

	/* Trailers past their bound. */
	buf_add(&b, "0\r\n", 3);
	for (i = 0; i < CHUNKED_MAX_TRAILERS / 8 + 1; i++)
		buf_add(&b, "A: bbb\r\n", 8);
	buf_add(&b, "\r\n", 2);
	ck_assert_int_eq(check_chunked_decode(b.data, b.len, 0, &got, &end),
	    CHUNKED_BAD);
	buf_free(&got.out);
	buf_reset(&b);

	/* A 1 MiB chunk fed 1000 bytes at a time arrives whole, in order. */
	data = malloc(1 << 20);
	ck_assert_ptr_nonnull(data);
	for (i = 0; i < (1 << 20); i++)
		data[i] = (char)('a' + i % 26);
	buf_add(&b, "100000\r\n", 8);
	buf_add(&b, data, 1 << 20);
	buf_add(&b, "\r\n0\r\n\r\n", 7);
	ck_assert_int_eq(check_chunked_decode(b.data, b.len, 1000, &got,
	    &end), CHUNKED_END);
	ck_assert_uint_eq(got.out.len, 1 << 20);
	ck_assert_int_eq(memcmp(got.out.data, data, 1 << 20), 0);
	buf_free(&got.out);

	/* After the end, nothing more is taken. */
	chunked_init(&c);
	buf_init(&got.out);
	ck_assert_int_eq(chunked_feed(&c, "0\r\n\r\n", 5, &used, &got.out),
	    CHUNKED_END);
	ck_assert_uint_eq(used, 5);
	ck_assert_int_eq(chunked_feed(&c, "3\r\nabc", 6, &used, &got.out),
	    CHUNKED_END);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(got.out.len, 0);
	buf_free(&got.out);
	free(data);
	buf_free(&b);
}
END_TEST

/* The chunked suite. */
Suite *
chunked_suite(void)
{
	Suite	*s = suite_create("chunked");
	TCase	*tc = tcase_create("decode");

	tcase_add_test(tc, check_chunked_simple);
	tcase_add_test(tc, check_chunked_every_split);
	tcase_add_test(tc, check_chunked_partial_data_early);
	tcase_add_test(tc, check_chunked_lenient_forms);
	tcase_add_test(tc, check_chunked_errors);
	tcase_add_test(tc, check_chunked_limits);
	suite_add_tcase(s, tc);
	return (s);
}
