/*
 * fuzz_json_reader: the request body reader against json_loadb with
 * JSON_ALLOW_NUL, differentially.
 *
 * Both must accept or both refuse; when both accept, the values must be
 * the same (types, integers, reals to the bit, string bytes, array
 * elements, object keys in the same iteration order); when the reader
 * refuses, its error must have a text and a place within the input.  The
 * first half of the input is checked the same way, in a buffer of its
 * own, for the truncations a client that hangs up produces.
 *
 * One difference is deliberate (see json_reader.c): a raw NUL after a
 * number or literal, which jansson 2.14 skips.  There the reader must
 * refuse, and agree with jansson once the NULs are taken out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_reader.h"

/* True if a and b are the same value, down to the bits of reals. */
static int
same(json_t *a, json_t *b)
{
	void	*ia, *ib;
	double	 da, db;
	size_t	 i, n, ka, kb;

	if (json_typeof(a) != json_typeof(b))
		return (0);
	switch (json_typeof(a)) {
	case JSON_INTEGER:
		return (json_integer_value(a) == json_integer_value(b));
	case JSON_REAL:
		da = json_real_value(a);
		db = json_real_value(b);
		return (memcmp(&da, &db, sizeof(da)) == 0);
	case JSON_STRING:
		n = json_string_length(a);
		return (n == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b), n) == 0);
	case JSON_ARRAY:
		n = json_array_size(a);
		if (n != json_array_size(b))
			return (0);
		for (i = 0; i < n; i++) {
			if (!same(json_array_get(a, i), json_array_get(b, i)))
				return (0);
		}
		return (1);
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return (0);
		ia = json_object_iter(a);
		ib = json_object_iter(b);
		while (ia != NULL && ib != NULL) {
			ka = json_object_iter_key_len(ia);
			kb = json_object_iter_key_len(ib);
			if (ka != kb || memcmp(json_object_iter_key(ia),
			    json_object_iter_key(ib), ka) != 0)
				return (0);
			if (!same(json_object_iter_value(ia),
			    json_object_iter_value(ib)))
				return (0);
			ia = json_object_iter_next(a, ia);
			ib = json_object_iter_next(b, ib);
		}
		return (ia == NULL && ib == NULL);
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		return (1);
	}
	return (0);
}

/* An error must say what and where, within the len bytes. */
static int
sane(const struct json_reader_error *err, size_t len)
{
	return (err->text[0] != '\0' &&
	    memchr(err->text, '\0', sizeof(err->text)) != NULL &&
	    err->line >= 1 && err->column >= 1 && err->offset <= len);
}

/*
 * jansson 2.14 drops a raw NUL right after a number or literal (its reader
 * takes it for the end of its look-ahead buffer); the reader refuses it,
 * deliberately.  So for an input jansson took that has NULs, ours must
 * refuse it and take it without them, to jansson's value.
 */
static void
dropped_nul(const char *p, size_t len, json_t *theirs)
{
	struct json_reader_error	 err;
	json_t				*ours;
	char				*q;
	size_t				 i, n = 0;

	memset(&err, 0, sizeof(err));
	ours = json_reader_parse(p, len, &err);
	if (ours != NULL || !sane(&err, len))
		abort();
	if ((q = malloc(len)) == NULL)
		abort();
	for (i = 0; i < len; i++) {
		if (p[i] != '\0')
			q[n++] = p[i];
	}
	if ((ours = json_reader_parse(q, n, &err)) == NULL ||
	    !same(ours, theirs))
		abort();
	json_decref(ours);
	free(q);
}

/* Parse len bytes with both; abort() on any disagreement. */
static void
differ(const char *p, size_t len)
{
	struct json_reader_error	 err;
	json_t				*ours, *theirs;

	theirs = json_loadb(p, len, JSON_ALLOW_NUL, NULL);
	if (theirs != NULL && memchr(p, '\0', len) != NULL) {
		dropped_nul(p, len, theirs);
		json_decref(theirs);
		return;
	}
	memset(&err, 0, sizeof(err));
	ours = json_reader_parse(p, len, &err);
	if ((ours == NULL) != (theirs == NULL))
		abort();
	if (ours != NULL && !same(ours, theirs))
		abort();
	if (ours == NULL && !sane(&err, len))
		abort();
	json_decref(ours);
	json_decref(theirs);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*half;
	size_t	 n = size / 2;

	differ((const char *)data, size);
	/* Its own allocation, so reading past the end is caught. */
	if ((half = malloc(n > 0 ? n : 1)) == NULL)
		abort();
	if (n > 0)
		memcpy(half, data, n);
	differ(half, n);
	free(half);
	return (0);
}
