/*
 * check_json_reader: the request body reader against json_loadb with
 * JSON_ALLOW_NUL: the same inputs accepted and refused, the same values
 * down to integer vs real, the bytes of strings and the order of keys,
 * and errors that say where.
 */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check_suites.h"
#include "check_util.h"
#include "json_reader.h"
#include "json_scan.h"

/* A table input that may hold NUL bytes, and whether jansson takes it. */
struct check_json_reader_case {
	const char	*s;
	size_t		 len;
	int		 ok;
};

#define CASE_OK(s)	{ (s), sizeof(s) - 1, 1 }
#define CASE_BAD(s)	{ (s), sizeof(s) - 1, 0 }

/* The name of a value's type, for messages. */
static const char *
check_json_reader_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return ("object");
	case JSON_ARRAY:
		return ("array");
	case JSON_STRING:
		return ("string");
	case JSON_INTEGER:
		return ("integer");
	case JSON_REAL:
		return ("real");
	case JSON_TRUE:
		return ("true");
	case JSON_FALSE:
		return ("false");
	case JSON_NULL:
		return ("null");
	}
	return ("?");
}

/*
 * True if a and b are the same value: same types, equal integers,
 * bit-identical reals, strings of the same bytes, arrays element by
 * element, objects with the same keys in the same iteration order.
 * Otherwise msg says where (path[0..plen) is the way down) and what.
 */
static int
check_json_reader_same_at(json_t *a, json_t *b, char *path, size_t plen,
    size_t psize, char *msg, size_t size)
{
	char		 show[128], sa[1500];
	void		*ia, *ib;
	double		 da, db;
	size_t		 i, n, ka, kb;
	const char	*keya, *keyb;

	path[plen] = '\0';
	if (json_typeof(a) != json_typeof(b)) {
		snprintf(msg, size, "at %s: %s vs %s", path,
		    check_json_reader_type(a), check_json_reader_type(b));
		return (0);
	}
	switch (json_typeof(a)) {
	case JSON_INTEGER:
		if (json_integer_value(a) != json_integer_value(b)) {
			snprintf(msg, size, "at %s: integer %lld vs %lld", path,
			    (long long)json_integer_value(a),
			    (long long)json_integer_value(b));
			return (0);
		}
		return (1);
	case JSON_REAL:
		da = json_real_value(a);
		db = json_real_value(b);
		if (memcmp(&da, &db, sizeof(da)) != 0) {
			snprintf(msg, size, "at %s: real %.17g (%a) vs %.17g "
			    "(%a)", path, da, da, db, db);
			return (0);
		}
		return (1);
	case JSON_STRING:
		if (!check_same(json_string_value(a), json_string_length(a),
		    json_string_value(b), json_string_length(b), sa,
		    sizeof(sa))) {
			snprintf(msg, size, "at %s: string %s", path, sa);
			return (0);
		}
		return (1);
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b)) {
			snprintf(msg, size, "at %s: %zu vs %zu elements", path,
			    json_array_size(a), json_array_size(b));
			return (0);
		}
		n = json_array_size(a);
		for (i = 0; i < n; i++) {
			size_t	l = plen;

			if (plen + 24 < psize)
				l += (size_t)snprintf(path + plen, psize - plen,
				    "[%zu]", i);
			if (!check_json_reader_same_at(json_array_get(a, i),
			    json_array_get(b, i), path, l, psize, msg, size))
				return (0);
		}
		return (1);
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b)) {
			snprintf(msg, size, "at %s: %zu vs %zu members", path,
			    json_object_size(a), json_object_size(b));
			return (0);
		}
		ia = json_object_iter(a);
		ib = json_object_iter(b);
		for (i = 0; ia != NULL && ib != NULL; i++) {
			size_t	l = plen;

			keya = json_object_iter_key(ia);
			keyb = json_object_iter_key(ib);
			ka = json_object_iter_key_len(ia);
			kb = json_object_iter_key_len(ib);
			if (!check_same(keya, ka, keyb, kb, sa, sizeof(sa))) {
				snprintf(msg, size, "at %s: key %zu %s", path,
				    i, sa);
				return (0);
			}
			check_show(keya, ka, show, 48);
			if (plen + 56 < psize)
				l += (size_t)snprintf(path + plen, psize - plen,
				    ".%s", show);
			if (!check_json_reader_same_at(
			    json_object_iter_value(ia),
			    json_object_iter_value(ib), path, l, psize, msg,
			    size))
				return (0);
			ia = json_object_iter_next(a, ia);
			ib = json_object_iter_next(b, ib);
		}
		if (ia != NULL || ib != NULL) {
			path[plen] = '\0';
			snprintf(msg, size, "at %s: iteration ends after %zu "
			    "members on one side only", path, i);
			return (0);
		}
		return (1);
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		return (1);
	}
	snprintf(msg, size, "at %s: unknown type", path);
	return (0);
}

/* check_json_reader_same_at from the root. */
static int
check_json_reader_same(json_t *a, json_t *b, char *msg, size_t size)
{
	char	path[256];

	path[0] = '$';
	return (check_json_reader_same_at(a, b, path, 1, sizeof(path), msg,
	    size));
}

/* An error must say what and where (within the input). */
static void
check_json_reader_err_sane(const char *s, size_t len,
    const struct json_reader_error *err)
{
	char	show[200];

	check_show(s, len, show, sizeof(show));
	ck_assert_msg(err->text[0] != '\0', "\"%s\": empty error text", show);
	ck_assert_msg(memchr(err->text, '\0', sizeof(err->text)) != NULL,
	    "\"%s\": error text not terminated", show);
	ck_assert_msg(err->line >= 1, "\"%s\": error line %d (%s)", show,
	    err->line, err->text);
	ck_assert_msg(err->column >= 1, "\"%s\": error column %d (%s)", show,
	    err->column, err->text);
	ck_assert_msg(err->offset <= len, "\"%s\": error offset %zu past the "
	    "%zu bytes (%s)", show, err->offset, len, err->text);
}

/*
 * Parse len bytes (from a copy of exactly that size) with json_reader_parse
 * and with json_loadb; fail unless both refuse, or both accept and build
 * the same value.  Returns 1 if accepted.
 */
static int
check_json_reader_agree(const char *s, size_t len)
{
	struct json_reader_error	 err;
	json_error_t			 jerr;
	json_t				*ours, *theirs;
	char				*copy, show[200], msg[2000];
	int				 ok;

	ck_assert_ptr_nonnull(copy = malloc(len > 0 ? len : 1));
	if (len > 0)
		memcpy(copy, s, len);
	check_show(s, len, show, sizeof(show));
	memset(&err, 0, sizeof(err));
	ours = json_reader_parse(copy, len, &err);
	theirs = json_loadb(copy, len, JSON_ALLOW_NUL, &jerr);
	ck_assert_msg((ours != NULL) == (theirs != NULL), "\"%s\" (%zu bytes): "
	    "json_reader %s (%s at %zu), json_loadb %s (%s at %d)", show, len,
	    ours != NULL ? "accepted" : "refused",
	    ours != NULL ? "-" : err.text, err.offset,
	    theirs != NULL ? "accepted" : "refused",
	    theirs != NULL ? "-" : jerr.text, jerr.position);
	ok = ours != NULL;
	if (ok) {
		ck_assert_msg(check_json_reader_same(ours, theirs, msg,
		    sizeof(msg)), "\"%s\": json_reader vs json_loadb %s", show,
		    msg);
	} else
		check_json_reader_err_sane(s, len, &err);
	json_decref(ours);
	json_decref(theirs);
	free(copy);
	return (ok);
}

/* check_json_reader_agree that must also accept (want 1) or refuse (0). */
static void
check_json_reader_expect(const char *s, size_t len, int want)
{
	char	show[200];

	check_show(s, len, show, sizeof(show));
	ck_assert_msg(check_json_reader_agree(s, len) == want, "\"%s\": both "
	    "%s, expected %s", show, want ? "refused" : "accepted",
	    want ? "accepted" : "refused");
}

/* Parse a NUL-terminated input that must be accepted; the caller frees. */
static json_t *
check_json_reader_ok(const char *s)
{
	struct json_reader_error	 err;
	json_t				*v;

	memset(&err, 0, sizeof(err));
	v = json_reader_parse(s, strlen(s), &err);
	ck_assert_msg(v != NULL, "\"%s\" refused: %s at %zu", s, err.text,
	    err.offset);
	return (v);
}

/*
 * Parse an input that must be refused, check its error is sane and where
 * it says (line, and column in UTF-8 characters, both counted up to the
 * offset), and return it in *err.
 */
static void
check_json_reader_bad(const char *s, size_t len, struct json_reader_error *err)
{
	json_t	*v;
	size_t	 i, line = 1, column = 1;
	char	 show[200];

	check_show(s, len, show, sizeof(show));
	memset(err, 0, sizeof(*err));
	v = json_reader_parse(s, len, err);
	ck_assert_msg(v == NULL, "\"%s\" accepted", show);
	check_json_reader_err_sane(s, len, err);
	for (i = 0; i < err->offset; i++) {
		if (s[i] == '\n') {
			line++;
			column = 1;
		} else if (((unsigned char)s[i] & 0xc0) != 0x80)
			column++;
	}
	ck_assert_msg(err->line == (int)line, "\"%s\": line %d, but offset %zu "
	    "is on line %zu (%s)", show, err->line, err->offset, line,
	    err->text);
	ck_assert_msg(err->column == (int)column, "\"%s\": column %d, but "
	    "offset %zu is character %zu of its line (%s)", show, err->column,
	    err->offset, column, err->text);
}

/* n nested containers around inner, alternating [ and {"k": from outside. */
static char *
check_json_reader_nest(size_t n, const char *inner, size_t *len)
{
	char	*p;
	size_t	 i, l = 0, il = strlen(inner);

	ck_assert_ptr_nonnull(p = malloc(n * 6 + il + 1));
	for (i = 0; i < n; i++) {
		if (i % 2 == 0)
			p[l++] = '[';
		else {
			memcpy(p + l, "{\"k\":", 5);
			l += 5;
		}
	}
	memcpy(p + l, inner, il);
	l += il;
	for (i = n; i-- > 0;)
		p[l++] = i % 2 == 0 ? ']' : '}';
	p[l] = '\0';
	*len = l;
	return (p);
}

/* n nested arrays around inner. */
static char *
check_json_reader_arrays(size_t n, const char *inner, size_t *len)
{
	char	*p;
	size_t	 il = strlen(inner);

	ck_assert_ptr_nonnull(p = malloc(2 * n + il + 1));
	memset(p, '[', n);
	memcpy(p + n, inner, il);
	memset(p + n + il, ']', n);
	p[2 * n + il] = '\0';
	*len = 2 * n + il;
	return (p);
}

/* Every grammar rule, accepted and refused, as json_loadb decides. */
START_TEST(check_json_reader_table)
{
	static const struct check_json_reader_case	cases[] = {
		/* The top level: an object or an array, whitespace around. */
		CASE_OK("{}"),
		CASE_OK("[]"),
		CASE_OK(" \t\r\n[ 1 ,\t2\r,\n3 ] \r\n\t"),
		CASE_OK("{ \"a\" : 1 , \"b\" :[ ] }"),
		CASE_BAD(""),
		CASE_BAD(" \t\r\n"),
		CASE_BAD("1"),
		CASE_BAD("\"a\""),
		CASE_BAD("null"),
		CASE_BAD("true"),
		CASE_BAD("[1] x"),
		CASE_BAD("[1][2]"),
		CASE_BAD("{}{}"),
		CASE_BAD("[1]\f"),
		CASE_BAD("\v[1]"),
		CASE_BAD("[1]\0"),
		CASE_BAD("[\xc2\xa0" "1]"),		/* NBSP: not space */
		CASE_BAD("\xef\xbb\xbf[]"),		/* nor is a BOM */
		CASE_BAD("[1]\xc3"),
		/* Commas, colons, brackets. */
		CASE_BAD("[1,]"),
		CASE_BAD("{\"a\":1,}"),
		CASE_BAD("[,1]"),
		CASE_BAD("[,]"),
		CASE_BAD("[1,,2]"),
		CASE_BAD("[1 2]"),
		CASE_BAD("{\"a\" 1}"),
		CASE_BAD("{\"a\":}"),
		CASE_BAD("{\"a\"}"),
		CASE_BAD("{1:2}"),
		CASE_BAD("{a:1}"),
		CASE_BAD("{'a':1}"),
		CASE_BAD("[1}"),
		CASE_BAD("{\"a\":1]"),
		CASE_BAD("["),
		CASE_BAD("{"),
		CASE_BAD("[1"),
		CASE_BAD("[1,"),
		CASE_BAD("{\"a\""),
		CASE_BAD("{\"a\":"),
		CASE_BAD("{\"a\":1"),
		CASE_BAD("[\"abc"),
		CASE_BAD("]"),
		/* Literals, lowercase only. */
		CASE_OK("[true,false,null]"),
		CASE_OK("{\"t\":true,\"f\":false,\"n\":null}"),
		CASE_BAD("[True]"),
		CASE_BAD("[NULL]"),
		CASE_BAD("[nul]"),
		CASE_BAD("[tru]"),
		CASE_BAD("[truex]"),
		CASE_BAD("[true1]"),
		CASE_BAD("[nulll]"),
		CASE_BAD("[undefined]"),
		/* Escapes. */
		CASE_OK("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"),
		CASE_OK("[\"\\u00e9\\u00E9\\uABCD\\uabcd\\u0041\\u007f\"]"),
		CASE_OK("[\"\\ud83d\\ude00\",\"\\uD83D\\uDE00\","
		    "\"\\udbff\\udfff\",\"\\ud800\\udc00\"]"),
		CASE_OK("[\"\\ud7ff\\ue000\\uffff\\ufffe\"]"),
		CASE_BAD("[\"\\ud83d\"]"),		/* high alone */
		CASE_BAD("[\"\\ud83dx\"]"),
		CASE_BAD("[\"\\ud83d\\n\"]"),
		CASE_BAD("[\"\\ud83d\\ud83d\"]"),	/* high, high */
		CASE_BAD("[\"\\ud83d\\u0041\"]"),
		CASE_BAD("[\"\\ud83d\\bdc00\"]"),	/* not \u, then hex */
		CASE_BAD("[\"\\ud83d\\fdc00\"]"),
		CASE_BAD("[\"\\ud83d\\\\udc00\"]"),
		CASE_BAD("[\"\\ud83d\\ud83d\\ude00\"]"),
		CASE_BAD("[\"\\ud83d \\ude00\"]"),
		CASE_BAD("[\"\\ude00\"]"),		/* low alone */
		CASE_BAD("[\"\\ude00\\ud83d\"]"),
		/* The ends of each surrogate range, alone and mispaired. */
		CASE_BAD("[\"\\udc00\"]"),
		CASE_BAD("[\"\\udfff\"]"),
		CASE_BAD("[\"\\ud800\"]"),
		CASE_BAD("[\"\\udbff\"]"),
		CASE_BAD("[\"\\udbff\\ue000\"]"),
		CASE_BAD("[\"\\ud800\\udbff\"]"),
		CASE_BAD("[\"\\udbff\\udbff\"]"),
		CASE_OK("[\"\\udbff\\udc00\",\"\\ud800\\udfff\"]"),
		CASE_BAD("[\"\\u12\"]"),
		CASE_BAD("[\"\\u12g4\"]"),
		CASE_BAD("[\"\\u\"]"),
		CASE_BAD("[\"\\u00\0" "0\"]"),
		CASE_BAD("[\"\\U00e9\"]"),
		CASE_BAD("[\"\\x41\"]"),
		CASE_BAD("[\"\\a\"]"),
		CASE_BAD("[\"\\'\"]"),
		CASE_BAD("[\"\\0\"]"),
		CASE_BAD("[\"\\\"]"),
		CASE_BAD("[\"\\"),
		/* NUL: in values, not in keys. */
		CASE_OK("[\"a\\u0000b\"]"),
		CASE_OK("[\"\\u0000\"]"),
		CASE_OK("{\"k\":\"\\u0000\",\"k2\":[\"\\u0000\\u0000\"]}"),
		CASE_BAD("{\"a\\u0000b\":1}"),
		CASE_BAD("{\"\\u0000\":1}"),
		CASE_BAD("[{\"x\":{\"\\u0000\":1}}]"),
		/* Raw bytes inside strings: controls no, DEL yes. */
		CASE_BAD("[\"a\x01\"]"),
		CASE_BAD("[\"a\nb\"]"),
		CASE_BAD("[\"a\tb\"]"),
		CASE_BAD("[\"a\rb\"]"),
		CASE_BAD("[\"\x1f\"]"),
		CASE_BAD("[\"a\0b\"]"),
		CASE_OK("[\"\x7f\"]"),
		CASE_OK("[\" !#$%&'()*+,-./:;<=>?@[]^_`{|}~\"]"),
		/* UTF-8. */
		CASE_OK("[\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"]"),
		CASE_OK("[\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\"]"),
		CASE_OK("[\"\xed\x9f\xbf\xee\x80\x80\"]"),
		CASE_OK("[\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"]"),
		CASE_OK("{\"\xc3\xa9\":\"\xe6\x97\xa5\xe6\x9c\xac\"}"),
		CASE_BAD("[\"\xc0\xaf\"]"),		/* overlong */
		CASE_BAD("[\"\xc1\xbf\"]"),
		CASE_BAD("[\"\xe0\x80\xaf\"]"),
		CASE_BAD("[\"\xe0\x9f\xbf\"]"),
		CASE_BAD("[\"\xf0\x80\x80\xaf\"]"),
		CASE_BAD("[\"\xf0\x8f\xbf\xbf\"]"),
		CASE_BAD("[\"\xed\xa0\x80\"]"),		/* surrogates */
		CASE_BAD("[\"\xed\xbf\xbf\"]"),
		CASE_BAD("[\"\xed\xa0\xbd\xed\xb8\x80\"]"),
		CASE_BAD("[\"\xf4\x90\x80\x80\"]"),	/* > U+10FFFF */
		CASE_BAD("[\"\xf5\x80\x80\x80\"]"),
		CASE_BAD("[\"\xf8\x88\x80\x80\x80\"]"),
		CASE_BAD("[\"\x80\"]"),			/* stray */
		CASE_BAD("[\"a\xbf\"]"),
		CASE_BAD("[\"\xc3\"]"),			/* truncated */
		CASE_BAD("[\"\xe4\xb8\"]"),
		CASE_BAD("[\"\xf0\x9f\x98\"]"),
		CASE_BAD("[\"\xc3"),
		CASE_BAD("[\"\xf0\x9f"),
		CASE_BAD("[\"\xc3\xc3\xa9\"]"),
		CASE_BAD("[\"\xfe\"]"),
		CASE_BAD("[\"\xff\"]"),
		CASE_BAD("{\"\xc3\":1}"),
		CASE_BAD("{\"\xed\xa0\x80\":1}"),
		/* Integers. */
		CASE_OK("[0,-0,1,-1,123,-45,10,100]"),
		CASE_OK("[9223372036854775807]"),
		CASE_OK("[-9223372036854775808]"),
		CASE_OK("[9223372036854775806,-9223372036854775807]"),
		CASE_BAD("[9223372036854775808]"),
		CASE_BAD("[-9223372036854775809]"),
		CASE_BAD("[18446744073709551616]"),
		CASE_BAD("[100000000000000000000000000000]"),
		CASE_BAD("[01]"),
		CASE_BAD("[-01]"),
		CASE_BAD("[00]"),
		CASE_BAD("[+1]"),
		CASE_BAD("[-]"),
		CASE_BAD("[--1]"),
		CASE_BAD("[- 1]"),
		CASE_BAD("[0x10]"),
		CASE_BAD("[1_000]"),
		/* Reals. */
		CASE_OK("[1.0,0.5e+3,1E5,1e-5,-0.0,2.5E-3,1E+2,0e0,-0E-0]"),
		CASE_OK("[3.141592653589793,2.2250738585072014e-308]"),
		CASE_OK("[1e308,-1e308,1.7976931348623157e308]"),
		CASE_OK("[1e-400,-1e-400,4.9e-324,2e-324,1e-330]"),
		CASE_OK("[123456789012345678901234567890.5]"),
		CASE_OK("[0.1,0.2,0.30000000000000004,1e23,"
		    "9007199254740993.0]"),
		CASE_OK("[9223372036854775808.0,9223372036854775807e0]"),
		CASE_OK("[1000000000000000000000000000000e-30]"),
		CASE_BAD("[1e309]"),
		CASE_BAD("[-1e309]"),
		CASE_BAD("[1.7976931348623159e308]"),
		CASE_BAD("[1e99999]"),
		CASE_BAD("[.5]"),
		CASE_BAD("[1.]"),
		CASE_BAD("[1.e5]"),
		CASE_BAD("[1e]"),
		CASE_BAD("[1e+]"),
		CASE_BAD("[1E-]"),
		CASE_BAD("[1.5.5]"),
		CASE_BAD("[1e5e5]"),
		CASE_BAD("[01.5]"),
		CASE_BAD("[Infinity]"),
		CASE_BAD("[-Infinity]"),
		CASE_BAD("[NaN]"),
		/* Duplicate keys: the last wins at the first one's place. */
		CASE_OK("{\"a\":1,\"b\":2,\"a\":3}"),
		CASE_OK("{\"a\":{\"x\":1},\"a\":[2],\"c\":null}"),
		CASE_OK("{\"a\":1,\"a\":2,\"a\":3,\"b\":4,\"b\":\"x\"}"),
		CASE_OK("{\"\":1,\"\":2}"),
		/* Nesting and a typical request. */
		CASE_OK("[[[]],{\"a\":{\"b\":[{}]}},[[1],[2,[3]]]]"),
		CASE_OK("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":"
		    "\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\","
		    "\"content\":[{\"type\":\"text\",\"text\":\"Hi \\u4f60"
		    "\\u597d \xf0\x9f\x91\x8b\"}]}],\"stream\":true,"
		    "\"temperature\":0.7,\"max_tokens\":256,\"user\":null,"
		    "\"stop\":[\"\\n\\n\"]}"),
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_json_reader_expect(cases[i].s, cases[i].len, cases[i].ok);
}
END_TEST

/* Nesting: 2048 values deep is the limit, the root counting as one. */
START_TEST(check_json_reader_depth)
{
	static const struct {
		size_t		 n;
		const char	*inner;
		int		 ok;
	} arrays[] = {
		{ 2047, "", 1 },
		{ 2048, "", 1 },	/* innermost [] at depth 2048 */
		{ 2049, "", 0 },
		{ 2047, "1", 1 },	/* scalar at depth 2048 */
		{ 2048, "1", 0 },	/* scalar at depth 2049 */
		{ 2047, "{}", 1 },
		{ 2048, "{}", 0 },
		{ 2047, "\"s\"", 1 },
		{ 2048, "null", 0 },
		{ 2047, "[],[]", 1 },
		{ 2047, "1,[]", 1 },
		{ 2047, "1,[1]", 0 },
		{ 2046, "{\"a\":[]}", 1 },
		{ 2046, "{\"a\":[1]}", 0 },
		{ 5000, "", 0 },
	}, mixed[] = {
		/* Odd counts end inside [, even ones inside {"k":. */
		{ 2047, "", 1 },
		{ 2047, "1", 1 },
		{ 2047, "[]", 1 },
		{ 2047, "{}", 1 },
		{ 2047, "[1]", 0 },
		{ 2046, "{}", 1 },
		{ 2046, "[[]]", 1 },
		{ 2046, "[[1]]", 0 },
		{ 2048, "1", 0 },
		{ 2048, "{}", 0 },
		{ 2049, "", 0 },
	};
	char	*p;
	size_t	 i, len;

	for (i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
		p = check_json_reader_arrays(arrays[i].n, arrays[i].inner,
		    &len);
		ck_assert_msg(check_json_reader_agree(p, len) == arrays[i].ok,
		    "%zu arrays around \"%s\": both %s", arrays[i].n,
		    arrays[i].inner, arrays[i].ok ? "refused" : "accepted");
		free(p);
	}
	for (i = 0; i < sizeof(mixed) / sizeof(mixed[0]); i++) {
		p = check_json_reader_nest(mixed[i].n, mixed[i].inner, &len);
		ck_assert_msg(check_json_reader_agree(p, len) == mixed[i].ok,
		    "%zu nested [ and {\"k\": around \"%s\": both %s",
		    mixed[i].n, mixed[i].inner, mixed[i].ok ? "refused" :
		    "accepted");
		free(p);
	}
	/* Unclosed, at and past the limit. */
	p = check_json_reader_arrays(3000, "", &len);
	check_json_reader_expect(p, 2048, 0);
	check_json_reader_expect(p, 3000, 0);
	free(p);
}
END_TEST

/*
 * A raw NUL right after a number or literal: jansson 2.14 drops it (its
 * reader takes it for the end of its look-ahead buffer) and accepts, the
 * reader refuses it at the NUL as it does any raw NUL outside strings.
 * Without the NUL both take the input and agree.
 */
START_TEST(check_json_reader_nul_after_token)
{
	static const struct {
		const char	*s;
		size_t		 len;
		size_t		 at;	/* the NUL */
	} cases[] = {
		{ "[1\0]", 4, 2 },
		{ "[1\0 ]", 5, 2 },
		{ "[true\0]", 7, 5 },
		{ "[1.5\0,2]", 8, 4 },
		{ "{\"a\":null\0}", 11, 9 },
		{ "[false,-0\0]", 11, 9 },
	};
	struct json_reader_error	 err;
	char				 s[16], show[64];
	size_t				 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_show(cases[i].s, cases[i].len, show, sizeof(show));
		check_json_reader_bad(cases[i].s, cases[i].len, &err);
		ck_assert_msg(err.offset == cases[i].at, "\"%s\": offset %zu, "
		    "want %zu, the NUL (%s)", show, err.offset, cases[i].at,
		    err.text);
		memcpy(s, cases[i].s, cases[i].at);
		memcpy(s + cases[i].at, cases[i].s + cases[i].at + 1,
		    cases[i].len - cases[i].at - 1);
		check_json_reader_expect(s, cases[i].len - 1, 1);
	}
}
END_TEST

/* The values built: surrogate pairs, NUL, duplicates, integer vs real. */
START_TEST(check_json_reader_values)
{
	json_t		*v, *e;
	void		*it;
	double		 d;

	v = check_json_reader_ok("[\"\\ud83d\\ude00\"]");
	e = json_array_get(v, 0);
	ck_assert_msg(json_is_string(e), "not a string");
	ck_assert_msg(json_string_length(e) == 4 && memcmp(json_string_value(e),
	    "\xf0\x9f\x98\x80", 4) == 0, "\\ud83d\\ude00 is %zu bytes, not "
	    "F0 9F 98 80", json_string_length(e));
	json_decref(v);

	v = check_json_reader_ok("[\"a\\u0000b\"]");
	e = json_array_get(v, 0);
	ck_assert_msg(json_is_string(e) && json_string_length(e) == 3,
	    "a\\u0000b is not a 3-byte string");
	ck_assert_msg(memcmp(json_string_value(e), "a\0b", 4) == 0,
	    "a\\u0000b bytes differ (or not NUL-terminated)");
	json_decref(v);

	v = check_json_reader_ok("{\"a\":1,\"b\":2,\"a\":3}");
	ck_assert_msg(json_is_object(v) && json_object_size(v) == 2,
	    "duplicate keys: %zu members, want 2", json_object_size(v));
	ck_assert_msg(json_integer_value(json_object_get(v, "a")) == 3,
	    "duplicate keys: a is %lld, want the last, 3",
	    (long long)json_integer_value(json_object_get(v, "a")));
	ck_assert_msg(json_integer_value(json_object_get(v, "b")) == 2,
	    "duplicate keys: b is not 2");
	it = json_object_iter(v);
	ck_assert_msg(it != NULL && strcmp(json_object_iter_key(it), "a") == 0,
	    "duplicate keys: first key is not a");
	it = json_object_iter_next(v, it);
	ck_assert_msg(it != NULL && strcmp(json_object_iter_key(it), "b") == 0,
	    "duplicate keys: second key is not b");
	ck_assert_msg(json_object_iter_next(v, it) == NULL,
	    "duplicate keys: more than two keys");
	json_decref(v);

	v = check_json_reader_ok("[1.0,1,-0,-0.0,1e-400,9223372036854775807,"
	    "-9223372036854775808,0.5e+3]");
	ck_assert_msg(json_is_real(json_array_get(v, 0)) &&
	    json_real_value(json_array_get(v, 0)) == 1.0, "1.0 is not real 1");
	ck_assert_msg(json_is_integer(json_array_get(v, 1)) &&
	    json_integer_value(json_array_get(v, 1)) == 1,
	    "1 is not integer 1");
	ck_assert_msg(json_is_integer(json_array_get(v, 2)) &&
	    json_integer_value(json_array_get(v, 2)) == 0,
	    "-0 is not integer 0");
	d = json_real_value(json_array_get(v, 3));
	ck_assert_msg(json_is_real(json_array_get(v, 3)) && d == 0.0 &&
	    signbit(d), "-0.0 is not real negative zero");
	ck_assert_msg(json_is_real(json_array_get(v, 4)) &&
	    json_real_value(json_array_get(v, 4)) == 0.0,
	    "1e-400 is not real 0");
	ck_assert_msg(json_integer_value(json_array_get(v, 5)) == LLONG_MAX,
	    "9223372036854775807 is not LLONG_MAX");
	ck_assert_msg(json_integer_value(json_array_get(v, 6)) == LLONG_MIN,
	    "-9223372036854775808 is not LLONG_MIN");
	ck_assert_msg(json_is_real(json_array_get(v, 7)) &&
	    json_real_value(json_array_get(v, 7)) == 500.0,
	    "0.5e+3 is not real 500");
	json_decref(v);
}
END_TEST

/* Errors give the line, the column in characters, and the offset. */
START_TEST(check_json_reader_error_position)
{
	static const struct {
		const char	*s;
		size_t		 len;
		size_t		 from, to;	/* offset bounds */
		int		 line;
	} cases[] = {
		/* tru at 9..11; the bad byte at the latest is the space. */
		{ "{\n  \"a\": tru }", 14, 9, 12, 2 },
		/* x is byte 7 but character 7 only if é counts as one. */
		{ "[\"\xc3\xa9\", x]", 9, 7, 7, 1 },
		{ "[\"\xe4\xb8\xad\xf0\x9f\x98\x80\", @]", 14, 12, 12, 1 },
		{ "[1,\n2,\n@]", 9, 7, 7, 3 },
		{ "[1,\r\n2,\r\n@]", 11, 9, 9, 3 },
		{ "[1] x", 5, 4, 4, 1 },
		{ "{\"a\":1,}", 8, 7, 7, 1 },
		{ "[\"ab\xff\"]", 7, 1, 4, 1 },
		{ "[\n\"\xc3\xa9\xc0\xaf\"]", 9, 2, 5, 2 },
		{ "[\"a\\qb\"]", 8, 1, 4, 1 },
		{ "[\"a\nb\"]", 7, 1, 3, 1 },
		{ "[\"\\ud83d\"]", 10, 1, 8, 1 },
		{ "[\"\\ude00\"]", 10, 1, 8, 1 },
		{ "{\"a\\u0000\":1}", 13, 1, 10, 1 },
		{ "[9223372036854775808]", 21, 1, 20, 1 },
		{ "[1e309]", 7, 1, 6, 1 },
		{ "[01]", 4, 1, 2, 1 },
		{ "[1,", 3, 3, 3, 1 },
		{ "[1,\n", 4, 3, 4, 0 },
		{ "", 0, 0, 0, 1 },
		{ "1", 1, 0, 0, 1 },
	};
	struct json_reader_error	 err;
	char				 show[200];
	size_t				 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_show(cases[i].s, cases[i].len, show, sizeof(show));
		check_json_reader_bad(cases[i].s, cases[i].len, &err);
		ck_assert_msg(err.offset >= cases[i].from &&
		    err.offset <= cases[i].to, "\"%s\": offset %zu, want "
		    "%zu..%zu (%s)", show, err.offset, cases[i].from,
		    cases[i].to, err.text);
		if (cases[i].line != 0)
			ck_assert_msg(err.line == cases[i].line, "\"%s\": "
			    "line %d, want %d (%s)", show, err.line,
			    cases[i].line, err.text);
	}

	/* The two named cases, spelled out. */
	check_json_reader_bad("{\n  \"a\": tru }", 14, &err);
	ck_assert_msg(err.line == 2, "tru: line %d, want 2", err.line);
	check_json_reader_bad("[\"\xc3\xa9\", x]", 9, &err);
	ck_assert_msg(err.offset == 7 && err.column == 7, "x after "
	    "\"\\xc3\\xa9\": offset %zu column %d, want 7 and 7 (a byte count "
	    "gives 8)",
	    err.offset, err.column);

	/* Deep inside the limit, the error is still where it is. */
	{
		char	*p;
		size_t	 len;

		p = check_json_reader_arrays(100, "1,x", &len);
		check_json_reader_bad(p, len, &err);
		ck_assert_msg(err.offset == 102, "x at 102: offset %zu",
		    err.offset);
		free(p);
	}
}
END_TEST

/* A megabyte of ASCII, and of mixed 1- to 4-byte characters, kept exactly. */
START_TEST(check_json_reader_long_strings)
{
	static const char	*chars[] = {
		"a", "Z", " ", "\x7f", "\xc3\xa9", "\xd0\x96", "\xe4\xb8\xad",
		"\xef\xbf\xbd", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
	};
	static const char	 esc1[] = "\\u00e9\\n\\ud83d\\ude00";
	static const char	 esc2[] = "\\\\\\\"\\/\\t\\u0000\\uFFFF";
	const size_t		 size = 1024 * 1024;
	struct json_reader_error err;
	json_t			*v, *e;
	char			*p, msg[4000];
	size_t			 len, n, i, k;
	int			 pass, c;

	ck_assert_ptr_nonnull(p = malloc(size + 16));
	for (pass = 0; pass < 3; pass++) {
		len = 0;
		p[len++] = '[';
		p[len++] = '"';
		for (i = 0; len < size + 2; i++) {
			if (pass != 1) {
				/* Printable ASCII but " and backslash. */
				c = ' ' + (int)(i * 7 % 95);
				if (c == '"' || c == '\\')
					c = 'q';
				p[len++] = (char)c;
				continue;
			}
			k = i * 2654435761u % (sizeof(chars) /
			    sizeof(chars[0]));
			n = strlen(chars[k]);
			if (len + n > size + 2)
				break;
			memcpy(p + len, chars[k], n);
			len += n;
		}
		n = len - 2;
		p[len++] = '"';
		p[len++] = ']';
		if (pass == 2) {
			/* Escapes here and there; compared with jansson. */
			memcpy(p + 1000, esc1, strlen(esc1));
			memcpy(p + 500000, esc2, strlen(esc2));
			memcpy(p + len - 2 - strlen(esc1), esc1, strlen(esc1));
		}
		ck_assert_msg(check_json_reader_agree(p, len) == 1,
		    "long string %d refused", pass);
		if (pass == 2)
			continue;
		memset(&err, 0, sizeof(err));
		v = json_reader_parse(p, len, &err);
		ck_assert_msg(v != NULL, "long string %d refused: %s", pass,
		    err.text);
		e = json_array_get(v, 0);
		ck_assert_msg(json_is_string(e), "long string %d: not a string",
		    pass);
		ck_assert_msg(check_same(json_string_value(e),
		    json_string_length(e), p + 2, n, msg, sizeof(msg)),
		    "long string %d: %s", pass, msg);
		json_decref(v);
	}
	free(p);
}
END_TEST

/* Every two-byte sequence from 0x80 in a string, as jansson decides. */
START_TEST(check_json_reader_utf8_sweep2)
{
	char		s[8];
	unsigned int	b1, b2, accepted = 0;

	for (b1 = 0x80; b1 <= 0xff; b1++) {
		for (b2 = 0; b2 <= 0xff; b2++) {
			s[0] = '[';
			s[1] = '"';
			s[2] = (char)b1;
			s[3] = (char)b2;
			s[4] = '"';
			s[5] = ']';
			accepted += check_json_reader_agree(s, 6);
			/* The same as a key. */
			s[0] = '{';
			s[5] = ':';
			s[6] = '1';
			s[7] = '}';
			check_json_reader_agree(s, 8);
		}
	}
	/* C2..DF followed by 80..BF. */
	ck_assert_msg(accepted == 30 * 64, "%u two-byte sequences accepted, "
	    "want %u", accepted, 30 * 64);
}
END_TEST

/* Three- and four-byte sequences around every boundary, as jansson decides. */
START_TEST(check_json_reader_utf8_sweep34)
{
	static const unsigned char	tails[] = {
		0x00, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x9f,
		0xa0, 0xaf, 0xbf, 0xc0, 0xc3, 0xe0, 0xf0, 0xff,
	};
	const size_t			nt = sizeof(tails);
	char				s[10];
	unsigned int			b1;
	size_t				i, j, k;

	for (b1 = 0xe0; b1 <= 0xef; b1++) {
		for (i = 0; i < nt; i++) {
			for (j = 0; j < nt; j++) {
				s[0] = '[';
				s[1] = '"';
				s[2] = (char)b1;
				s[3] = (char)tails[i];
				s[4] = (char)tails[j];
				s[5] = '"';
				s[6] = ']';
				check_json_reader_agree(s, 7);
				/* Cut short at the end of the input. */
				check_json_reader_agree(s, 5);
			}
		}
	}
	for (b1 = 0xf0; b1 <= 0xff; b1++) {
		for (i = 0; i < nt; i++) {
			for (j = 0; j < nt; j++) {
				for (k = 0; k < nt; k++) {
					s[0] = '[';
					s[1] = '"';
					s[2] = (char)b1;
					s[3] = (char)tails[i];
					s[4] = (char)tails[j];
					s[5] = (char)tails[k];
					s[6] = '"';
					s[7] = ']';
					check_json_reader_agree(s, 8);
				}
			}
		}
	}
}
END_TEST

/*
 * Every proper prefix of a valid body is refused, read from a block of
 * exactly its size: under AddressSanitizer a scan that looks one byte too
 * far (a \u escape or a surrogate pair cut short) is caught here.
 */
START_TEST(check_json_reader_every_prefix)
{
	static const char	*docs[] = {
		"[\"\\ud83d\\ude00\",\"\\u00e9\\n\",\"caf\xc3\xa9 \xf0\x9f\x98\x80\"]",
		"{\"a\":[true,false,null,-12.5e+3,0,-0,123456789012345678],"
		    "\"b\\u0041c\":{\"d\":\"\\\"\\\\\\/\\b\\f\\r\\t\"}}",
		"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	};
	struct json_reader_error	 err;
	json_t				*v;
	char				*p;
	size_t				 d, len, n;

	for (d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
		len = strlen(docs[d]);
		v = json_reader_parse(docs[d], len, NULL);
		ck_assert_msg(v != NULL, "document %zu refused", d);
		json_decref(v);
		for (n = 0; n < len; n++) {
			ck_assert_ptr_nonnull(p = malloc(n > 0 ? n : 1));
			memcpy(p, docs[d], n);
			v = json_reader_parse(p, n, &err);
			ck_assert_msg(v == NULL, "document %zu cut to %zu bytes "
			    "accepted", d, n);
			ck_assert_msg(err.offset <= n && err.text[0] != '\0',
			    "document %zu cut to %zu: offset %zu", d, n,
			    err.offset);
			free(p);
		}
	}
}
END_TEST

/*
 * Parse s (len bytes) from a block of exactly its size, which must be
 * refused, into *err: a read past the end is ASan's to catch.
 */
static void
check_json_reader_refused(const char *s, size_t len,
    struct json_reader_error *err)
{
	char	*copy;

	ck_assert_ptr_nonnull(copy = malloc(len > 0 ? len : 1));
	memcpy(copy, s, len);
	memset(err, 0, sizeof(*err));
	ck_assert_ptr_null(json_reader_parse(copy, len, err));
	free(copy);
}

/*
 * A string decodes in two loops: checking up to its first escape, then
 * copying sixteen bytes at a time.  Plain runs of every length around a
 * block, before and after the first escape, each followed by every kind
 * of thing that ends a run (an escape, a character of each UTF-8 length,
 * the closing quote, and each fault), read from a block of exactly the
 * body's size and compared with jansson.  A second decoded string after
 * the first checks that the first stays put; a fault's offset must point
 * at the offending byte.
 */
START_TEST(check_json_reader_runs_around_escapes)
{
	static const struct {
		const char	*s;
		int		 fault;	/* the byte at the start is refused */
	} ends[] = {
		{ "\\n", 0 }, { "\\\"", 0 }, { "\\/", 0 }, { "\\u00e9", 0 },
		{ "\\ud83d\\ude00", 0 }, { "\xc3\xa9", 0 },
		{ "\xe4\xb8\xad\xe6\x96\x87", 0 }, { "\xf0\x9f\x98\x80", 0 },
		{ "", 0 }, { "\x01", 1 }, { "\x1f", 1 }, { "\xff", 1 },
		{ "\xc3(", 1 }, { "\xe0\x80\x80", 1 }, { "\xed\xa0\x80", 1 },
		{ "\\q", 1 }, { "\\u12", 1 }, { "\\ude00", 1 },
		{ "\\ud83d\\n", 1 },
	};
	static const char	 *firsts[] = { "", "\\t" };
	struct json_reader_error err;
	char			 body[256];
	size_t			 pre, run, e, f, len, at;
	int			 ok;

	for (f = 0; f < sizeof(firsts) / sizeof(firsts[0]); f++)
	for (pre = 0; pre <= 33; pre += (pre < 14 ? 7 : 1))
	for (run = 0; run <= 40; run++)
	for (e = 0; e < sizeof(ends) / sizeof(ends[0]); e++) {
		len = 0;
		body[len++] = '[';
		body[len++] = '"';
		memset(body + len, 'p', pre);
		len += pre;
		memcpy(body + len, firsts[f], strlen(firsts[f]));
		len += strlen(firsts[f]);
		memset(body + len, 'r', run);
		len += run;
		at = len;
		memcpy(body + len, ends[e].s, strlen(ends[e].s));
		len += strlen(ends[e].s);
		memcpy(body + len, "tail of it\",\"x\\ny\"]", 19);
		len += 19;
		ok = check_json_reader_agree(body, len);
		ck_assert_msg(ok == !ends[e].fault, "first %zu pre %zu run %zu "
		    "end %zu: %s", f, pre, run, e, ok ? "accepted" :
		    "refused");
		if (!ends[e].fault)
			continue;
		check_json_reader_refused(body, len, &err);
		ck_assert_msg(err.offset == at, "first %zu pre %zu run %zu "
		    "end %zu: fault at %zu, want %zu (%s)", f, pre, run, e,
		    err.offset, at, err.text);
	}
}
END_TEST

/*
 * Strings are checked for UTF-8 in one pass once their end is found, not
 * at each non-ASCII character.  Runs of CJK, of mixed text and of ASCII,
 * of every length around a block, before and after a first escape, then
 * a bad sequence or none, then each way a string can end or fail (the
 * quote, a control byte, a bad escape, the end of the input, a cut
 * character): the answer is jansson's, and a fault's offset is the bad
 * sequence's when there is one, for it comes first.
 */
START_TEST(check_json_reader_utf8_in_bulk)
{
	static const char	*units[] = { "\xe4\xb8\xad", "a\xc3\xa9",
				    "\xf0\x9f\x98\x80" "b", "r" };
	static const char	*bads[] = { "", "\xff", "\xc3(", "\xed\xa0\x80",
				    "\xe4\xb8" };
	static const struct {
		const char	*s;
		int		 fault;	/* where the string fails, if it does */
	} ends[] = {
		{ "\"]", 0 }, { "\x01\"]", 1 }, { "\\q\"]", 1 },
		{ "\\n\"]", 0 }, { "", 1 }, { "\xe4", 1 },
	};
	static const char	*firsts[] = { "", "\\t" };
	struct json_reader_error err;
	char			 body[400];
	size_t			 f, u, k, n, b, e, len, at, want;
	int			 ok;

	for (f = 0; f < sizeof(firsts) / sizeof(firsts[0]); f++)
	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
	for (n = 0; n <= 40; n++)
	for (b = 0; b < sizeof(bads) / sizeof(bads[0]); b++)
	for (e = 0; e < sizeof(ends) / sizeof(ends[0]); e++) {
		len = 0;
		memcpy(body, "[\"", 2);
		len = 2;
		memcpy(body + len, firsts[f], strlen(firsts[f]));
		len += strlen(firsts[f]);
		for (k = 0; k < n; k++) {
			memcpy(body + len, units[u], strlen(units[u]));
			len += strlen(units[u]);
		}
		at = len;
		memcpy(body + len, bads[b], strlen(bads[b]));
		len += strlen(bads[b]);
		want = bads[b][0] != '\0' ? at : len;
		memcpy(body + len, ends[e].s, strlen(ends[e].s));
		len += strlen(ends[e].s);
		if (ends[e].s[0] == '\0' || ends[e].s[0] == '\xe4')
			want = bads[b][0] != '\0' ? at : len -
			    strlen(ends[e].s);
		ok = check_json_reader_agree(body, len);
		ck_assert_msg(ok == (bads[b][0] == '\0' && !ends[e].fault),
		    "first %zu unit %zu n %zu bad %zu end %zu: %s", f, u, n,
		    b, e, ok ? "accepted" : "refused");
		if (ok)
			continue;
		check_json_reader_refused(body, len, &err);
		ck_assert_msg(err.offset == want, "first %zu unit %zu n %zu "
		    "bad %zu end %zu: fault at %zu, want %zu (%s)", f, u, n, b,
		    e, err.offset, want, err.text);
	}
}
END_TEST

/*
 * Parse len bytes (from a block of exactly that size) with the 64-byte
 * decoder allowed and with it off: both must refuse at the same offset
 * with the same text, or accept the same value; and jansson must agree.
 */
static void
check_json_reader_wide_same(const char *s, size_t len, const char *what)
{
	struct json_reader_error	 e1, e0;
	json_t				*v1, *v0;
	char				*copy, msg[2000];
	int				 was;

	ck_assert_ptr_nonnull(copy = malloc(len > 0 ? len : 1));
	memcpy(copy, s, len);
	was = buf_use_wide(1);
	v1 = json_reader_parse(copy, len, &e1);
	buf_use_wide(0);
	v0 = json_reader_parse(copy, len, &e0);
	buf_use_wide(was);
	ck_assert_msg((v1 != NULL) == (v0 != NULL), "%s: wide %s (%s at %zu), "
	    "narrow %s (%s at %zu)", what, v1 ? "accepted" : "refused",
	    v1 ? "-" : e1.text, e1.offset, v0 ? "accepted" : "refused",
	    v0 ? "-" : e0.text, e0.offset);
	if (v1 != NULL)
		ck_assert_msg(check_json_reader_same(v1, v0, msg, sizeof(msg)),
		    "%s: wide vs narrow %s", what, msg);
	else {
		ck_assert_msg(e1.offset == e0.offset && strcmp(e1.text,
		    e0.text) == 0, "%s: wide refused at %zu (%s), narrow at "
		    "%zu (%s)", what, e1.offset, e1.text, e0.offset, e0.text);
	}
	json_decref(v1);
	json_decref(v0);
	free(copy);
	check_json_reader_agree(s, len);
}

/*
 * The 64-byte decoder (json_scan_blocks, where the CPU has it) against
 * the loop it sits in front of.  First runs of 1 to 6 backslashes
 * starting at every offset of three blocks, each followed by an escape
 * letter, a 'u', a quote, a control byte or a bad letter: which
 * backslashes escape depends on the run's length and on the parity of
 * where it starts, and a run may straddle a block.  Then random strings
 * of escape-dense pieces, faults among them, 0 to 700 bytes long.
 */
START_TEST(check_json_reader_wide_blocks)
{
	static const char	*afters[] = { "n", "u00e9", "\"", "\x01", "q",
				    "\xc3\xa9", "t" };
	static const char	*pieces[] = { "plain text ", "\\n", "\\\\",
				    "\\\"", "\\/", "\\t", "\\r\\n", "\\b\\f",
				    "\\u00e9", "\\ud83d\\ude00", "\xe4\xb8\xad",
				    "caf\xc3\xa9", "x", "\\\\\\\"", "if (a) {",
				    "0123456789abcdef0123456789" };
	static const char	*faults[] = { "\x01", "\\x", "\\u12g4",
				    "\\ude00", "\xff", "\xe4\xb8", "\\" };
	char			 body[1200], what[64];
	size_t			 at, k, a, len, i, n;
	unsigned		 x = 7;
	int			 round;

	for (at = 0; at < 192; at++)
	for (k = 1; k <= 6; k++)
	for (a = 0; a < sizeof(afters) / sizeof(afters[0]); a++) {
		memcpy(body, "[\"\\n", 4);
		len = 4;
		memset(body + len, 'p', at);
		len += at;
		memset(body + len, '\\', k);
		len += k;
		memcpy(body + len, afters[a], strlen(afters[a]));
		len += strlen(afters[a]);
		memset(body + len, 'q', 80);
		len += 80;
		memcpy(body + len, "\"]", 2);
		len += 2;
		snprintf(what, sizeof(what), "at %zu run %zu after %zu", at, k,
		    a);
		check_json_reader_wide_same(body, len, what);
	}
	for (round = 0; round < 3000; round++) {
		memcpy(body, "[\"", 2);
		len = 2;
		x = x * 1103515245u + 12345u;
		n = (x >> 16) % 700;
		while (len < n) {
			x = x * 1103515245u + 12345u;
			i = (x >> 16) % (sizeof(pieces) / sizeof(pieces[0]));
			memcpy(body + len, pieces[i], strlen(pieces[i]));
			len += strlen(pieces[i]);
		}
		x = x * 1103515245u + 12345u;
		if ((x >> 16) % 4 == 0) {
			/* A fault somewhere in the string. */
			i = (x >> 18) % (sizeof(faults) / sizeof(faults[0]));
			memcpy(body + len, faults[i], strlen(faults[i]));
			len += strlen(faults[i]);
			for (k = 0; k < 70; k++)
				body[len++] = 'z';
		}
		x = x * 1103515245u + 12345u;
		if ((x >> 16) % 8 != 0) {
			memcpy(body + len, "\",\"y\\\\\"]", 8);
			len += 8;
		}
		snprintf(what, sizeof(what), "round %d (%zu bytes)", round,
		    len);
		check_json_reader_wide_same(body, len, what);
	}
}
END_TEST

/* The json_reader suite. */
Suite *
json_reader_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("json_reader");
	tc = tcase_create("agree");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_json_reader_table);
	tcase_add_test(tc, check_json_reader_depth);
	tcase_add_test(tc, check_json_reader_nul_after_token);
	tcase_add_test(tc, check_json_reader_values);
	tcase_add_test(tc, check_json_reader_error_position);
	tcase_add_test(tc, check_json_reader_long_strings);
	tcase_add_test(tc, check_json_reader_every_prefix);
	tcase_add_test(tc, check_json_reader_runs_around_escapes);
	tcase_add_test(tc, check_json_reader_utf8_in_bulk);
	tcase_add_test(tc, check_json_reader_wide_blocks);
	suite_add_tcase(s, tc);

	tc = tcase_create("utf8");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_json_reader_utf8_sweep2);
	tcase_add_test(tc, check_json_reader_utf8_sweep34);
	suite_add_tcase(s, tc);
	return (s);
}
