/*
 * json_reader: a client's request body to jansson values in one pass.
 *
 * json_loadb reads its input a byte at a time through a callback, checks
 * UTF-8 per byte and copies every token into a growing buffer before it
 * builds a value: about 160 instructions per byte of a chat request.  A
 * long context (Cursor and continue.dev send hundreds of kilobytes) then
 * holds the worker's loop, and every stream on it, for milliseconds.  This
 * reader scans strings sixteen bytes at a time (json_scan.c), copies a
 * string once, into its jansson value, and builds the same tree with the
 * same jansson calls json_loadb makes.
 *
 * What it accepts is what json_loadb(JSON_ALLOW_NUL) accepts, with one
 * deliberate difference: jansson 2.14 drops a raw NUL byte that follows a
 * number or true/false/null (its reader mistakes it for the end of its
 * look-ahead buffer), which is an error here as everywhere else outside
 * strings.  test/fuzz/fuzz_json_reader.c holds the two to each other.
 *
 * Recursion follows the nesting, at most JSON_READER_MAX_DEPTH frames of a
 * few dozen bytes.  The tree returned belongs to the caller (json_decref);
 * on error everything built so far is released here.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "json_reader.h"
#include "json_scan.h"

struct json_reader {
	const char			*p;
	const char			*end;
	const char			*start;
	struct buf			 scratch;	/* decoded strings */
	struct json_reader_error	*err;
};

static json_t	*json_reader_value(struct json_reader *, int);

/* Record the first error at the current position; returns NULL. */
static json_t *
json_reader_fail(struct json_reader *r, const char *what)
{
	struct json_reader_error	*e = r->err;
	const char			*q;

	if (e == NULL || e->text[0] != '\0')
		return (NULL);
	e->offset = (size_t)(r->p - r->start);
	e->line = 1;
	e->column = 1;
	for (q = r->start; q < r->p; q++) {
		if (*q == '\n') {
			e->line++;
			e->column = 1;
		} else if (((unsigned char)*q & 0xc0) != 0x80)
			e->column++;
	}
	if (r->p >= r->end)
		snprintf(e->text, sizeof(e->text), "%s at the end of the "
		    "body", what);
	else
		snprintf(e->text, sizeof(e->text), "%s", what);
	return (NULL);
}

/*
 * Scan a string (r->p at its quote).  Decoded strings pile up in scratch,
 * which has room for the whole input from the first string on: a key
 * stays valid while its value is read, and nothing is reallocated.
 */
static int
json_reader_string(struct json_reader *r, const char **s, size_t *len)
{
	int	fault;

	if (r->scratch.data == NULL)
		buf_reserve(&r->scratch, (size_t)(r->end - r->start));
	if ((fault = json_scan_string(&r->p, r->end, &r->scratch, s,
	    len)) == 0)
		return (0);
	switch (fault) {
	case JSON_SCAN_CONTROL:
		json_reader_fail(r, "a raw control character in a string "
		    "(it must be escaped)");
		break;
	case JSON_SCAN_BAD_ESCAPE:
		json_reader_fail(r, "an invalid escape in a string");
		break;
	case JSON_SCAN_BAD_UTF8:
		json_reader_fail(r, "invalid UTF-8 in a string");
		break;
	default:
		json_reader_fail(r, "a string that is not closed");
		break;
	}
	return (-1);
}

/* Skip whitespace, then take byte c (and the whitespace after it) if next. */
static int
json_reader_take(struct json_reader *r, char c)
{
	r->p = json_scan_ws(r->p, r->end);
	if (r->p >= r->end || *r->p != c)
		return (0);
	r->p = json_scan_ws(r->p + 1, r->end);
	return (1);
}

/*
 * After a member or an element: 1 when a ',' says another follows, 0 when
 * close ends the container, -1 (the error recorded) for anything else.
 */
static int
json_reader_next(struct json_reader *r, char close, const char *expected)
{
	if (json_reader_take(r, ','))
		return (1);
	if (json_reader_take(r, close))
		return (0);
	json_reader_fail(r, expected);
	return (-1);
}

/* Read an object's members (r->p just past its brace). */
static json_t *
json_reader_object(struct json_reader *r, int depth)
{
	json_t		*obj, *v;
	const char	*key;
	size_t		 keylen;
	int		 more;

	if ((obj = json_object()) == NULL)
		return (json_reader_fail(r, "out of memory"));
	if (json_reader_take(r, '}'))
		return (obj);
	do {
		if (r->p >= r->end || *r->p != '"') {
			json_reader_fail(r, "a string key or '}' expected");
			goto fail;
		}
		if (json_reader_string(r, &key, &keylen) != 0)
			goto fail;
		if (memchr(key, '\0', keylen) != NULL) {
			json_reader_fail(r, "a NUL byte in an object key");
			goto fail;
		}
		if (!json_reader_take(r, ':')) {
			json_reader_fail(r, "':' expected");
			goto fail;
		}
		v = json_reader_value(r, depth + 1);
		if (v == NULL || json_object_setn_new_nocheck(obj, key, keylen,
		    v) != 0) {
			if (v != NULL)
				json_reader_fail(r, "out of memory");
			goto fail;
		}
	} while ((more = json_reader_next(r, '}', "',' or '}' expected")) == 1);
	if (more == 0)
		return (obj);
fail:
	json_decref(obj);
	return (NULL);
}

/* Read an array's elements (r->p just past its bracket). */
static json_t *
json_reader_array(struct json_reader *r, int depth)
{
	json_t	*arr, *v;
	int	 more;

	if ((arr = json_array()) == NULL)
		return (json_reader_fail(r, "out of memory"));
	if (json_reader_take(r, ']'))
		return (arr);
	do {
		if ((v = json_reader_value(r, depth + 1)) == NULL)
			goto fail;
		if (json_array_append_new(arr, v) != 0) {
			json_reader_fail(r, "out of memory");
			goto fail;
		}
	} while ((more = json_reader_next(r, ']', "',' or ']' expected")) == 1);
	if (more == 0)
		return (arr);
fail:
	json_decref(arr);
	return (NULL);
}

/* Read a literal word (true, false, null) at r->p. */
static int
json_reader_word(struct json_reader *r, const char *word, size_t len)
{
	if ((size_t)(r->end - r->p) < len || memcmp(r->p, word, len) != 0)
		return (-1);
	r->p += len;
	return (0);
}

/*
 * Read any value at r->p (whitespace skipped); depth counts the values it
 * sits in, itself included, as jansson counts them.
 */
static json_t *
json_reader_value(struct json_reader *r, int depth)
{
	struct json_scan_number	 n;
	const char		*s;
	size_t			 len;
	json_t			*v;

	if (depth > JSON_READER_MAX_DEPTH)
		return (json_reader_fail(r, "nested too deeply"));
	if (r->p >= r->end)
		return (json_reader_fail(r, "a value expected"));
	switch (*r->p) {
	case '{':
		r->p++;
		return (json_reader_object(r, depth));
	case '[':
		r->p++;
		return (json_reader_array(r, depth));
	case '"':
		if (json_reader_string(r, &s, &len) != 0)
			return (NULL);
		v = json_stringn_nocheck(s, len);
		break;
	case 't':
		if (json_reader_word(r, "true", 4) != 0)
			return (json_reader_fail(r, "invalid literal"));
		return (json_true());
	case 'f':
		if (json_reader_word(r, "false", 5) != 0)
			return (json_reader_fail(r, "invalid literal"));
		return (json_false());
	case 'n':
		if (json_reader_word(r, "null", 4) != 0)
			return (json_reader_fail(r, "invalid literal"));
		return (json_null());
	default:
		if (*r->p != '-' && (*r->p < '0' || *r->p > '9'))
			return (json_reader_fail(r, "a value expected"));
		if (json_scan_number(&r->p, r->end, &n) != 0)
			return (json_reader_fail(r, "an invalid number, or "
			    "one out of range"));
		v = n.is_integer ? json_integer((json_int_t)n.integer) :
		    json_real(n.real);
		break;
	}
	if (v == NULL)
		return (json_reader_fail(r, "out of memory"));
	return (v);
}

/*
 * Parse len bytes as a JSON object or array.  Returns a new reference, or
 * NULL with *err (when not NULL) saying what is wrong and where.
 */
json_t *
json_reader_parse(const char *data, size_t len, struct json_reader_error *err)
{
	struct json_reader	 r;
	json_t			*root = NULL;

	memset(&r, 0, sizeof(r));
	r.start = r.p = data;
	r.end = data + len;
	r.err = err;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	buf_init(&r.scratch);

	r.p = json_scan_ws(r.p, r.end);
	if (r.p >= r.end || (*r.p != '{' && *r.p != '[')) {
		json_reader_fail(&r, "'{' or '[' expected");
		goto done;
	}
	if ((root = json_reader_value(&r, 1)) == NULL)
		goto done;
	r.p = json_scan_ws(r.p, r.end);
	if (r.p < r.end) {
		json_reader_fail(&r, "nothing but whitespace may follow");
		json_decref(root);
		root = NULL;
	}
done:
	buf_free(&r.scratch);
	return (root);
}
