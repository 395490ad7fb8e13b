/*
 * json_reader: parse a client's JSON request body into jansson values,
 * faster than json_loadb.
 *
 * It accepts exactly what json_loadb(data, len, JSON_ALLOW_NUL, ...)
 * accepts and builds the same values (types, numbers, strings, key order,
 * last of duplicate keys wins): an object or array at the top, RFC 8259
 * grammar, UTF-8 validated everywhere, no NUL in object keys, integers
 * that fit in long long, reals that do not overflow, nesting of at most
 * JSON_READER_MAX_DEPTH values.  Only the error texts differ.
 */
#ifndef ODP_JSON_READER_H
#define ODP_JSON_READER_H

#include <stddef.h>

#include <jansson.h>

/* jansson's JSON_PARSER_MAX_DEPTH: the root is at depth 1. */
#define JSON_READER_MAX_DEPTH	2048

struct json_reader_error {
	size_t	 offset;	/* bytes before the offending one */
	int	 line;		/* 1-based */
	int	 column;	/* 1-based, in UTF-8 characters */
	char	 text[96];	/* what is wrong */
};

json_t	*json_reader_parse(const char *, size_t, struct json_reader_error *);

#endif
