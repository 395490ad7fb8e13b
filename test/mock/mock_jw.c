/*
 * jw: a small streaming JSON writer that reproduces the three serializers
 * a Dify client meets on the wire (dify-api.md 7.12):
 *
 *   JW_ORJSON  stream lines: compact, raw UTF-8;
 *   JW_PY      blocking bodies (json.dumps): ", " and ": " separators,
 *              non-ASCII as \uXXXX with surrogate pairs;
 *   JW_UJSON   flask-restx errors and dict results: compact, ASCII
 *              escapes, and "/" written as "\/".
 *
 * Keys and values are emitted in call order, which is how the mock keeps
 * Dify's field order.  Callers write a key with jw_key and then exactly one
 * value; inside arrays the value writers add the separators themselves.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

static const char	 jw_hex[] = "0123456789abcdef";

/* Start writing into b with the given style. */
void
jw_init(struct jw *w, struct mbuf *b, int style)
{
	w->b = b;
	w->style = style;
	w->depth = 0;
}

/* The item separator for the style. */
static const char *
jw_comma(const struct jw *w)
{
	return (w->style == JW_PY ? ", " : ",");
}

/* Emit the separator owed before a value placed in an array. */
static void
jw_pre(struct jw *w)
{
	int	d = w->depth - 1;

	if (d < 0 || !w->isarr[d])
		return;
	if (!w->first[d])
		mbuf_adds(w->b, jw_comma(w));
	w->first[d] = 0;
}

/* Open a container. */
static void
jw_open(struct jw *w, int isarr)
{
	jw_pre(w);
	mbuf_addc(w->b, isarr ? '[' : '{');
	if (w->depth >= JW_MAXDEPTH)
		abort();
	w->first[w->depth] = 1;
	w->isarr[w->depth] = (unsigned char)isarr;
	w->depth++;
}

/* Open an object. */
void
jw_obj(struct jw *w)
{
	jw_open(w, 0);
}

/* Open an array. */
void
jw_arr(struct jw *w)
{
	jw_open(w, 1);
}

/* Close the innermost container. */
void
jw_close(struct jw *w)
{
	if (w->depth == 0)
		abort();
	w->depth--;
	mbuf_addc(w->b, w->isarr[w->depth] ? ']' : '}');
}

/* Write an object key and the colon after it. */
void
jw_key(struct jw *w, const char *k)
{
	int	d = w->depth - 1;

	if (d >= 0) {
		if (!w->first[d])
			mbuf_adds(w->b, jw_comma(w));
		w->first[d] = 0;
	}
	mbuf_addc(w->b, '"');
	jw_escape(w->b, k, strlen(k), w->style);
	mbuf_adds(w->b, w->style == JW_PY ? "\": " : "\":");
}

/* Append one \uXXXX escape. */
static void
jw_u(struct mbuf *b, unsigned int cp)
{
	char	e[6];

	e[0] = '\\';
	e[1] = 'u';
	e[2] = jw_hex[(cp >> 12) & 0xf];
	e[3] = jw_hex[(cp >> 8) & 0xf];
	e[4] = jw_hex[(cp >> 4) & 0xf];
	e[5] = jw_hex[cp & 0xf];
	mbuf_add(b, e, 6);
}

/* Decode one UTF-8 sequence at s; returns its length, 0 if invalid. */
static size_t
jw_utf8(const unsigned char *s, size_t n, unsigned int *cp)
{
	size_t	len, i;

	if (s[0] < 0xc2)
		return (0);
	else if (s[0] < 0xe0) {
		len = 2;
		*cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		*cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		*cp = s[0] & 0x07;
	} else
		return (0);
	if (len > n)
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && *cp < 0x800) || (len == 4 && *cp < 0x10000) ||
	    *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return (0);
	return (len);
}

/* Append the body of a JSON string (no quotes), escaped for the style. */
void
jw_escape(struct mbuf *b, const char *str, size_t n, int style)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i, run, len;
	unsigned int		 cp;
	int			 ascii = style != JW_ORJSON;
	unsigned char		 c;

	mbuf_reserve(b, n + 2);
	i = 0;
	while (i < n) {
		/* Copy the longest run that needs no escaping in one go. */
		for (run = i; run < n; run++) {
			c = s[run];
			if (c < 0x20 || c == '"' || c == '\\')
				break;
			if (ascii && c >= 0x7f && (c != 0x7f ||
			    style == JW_PY))
				break;
			if (c == '/' && style == JW_UJSON)
				break;
		}
		if (run > i) {
			mbuf_add(b, s + i, run - i);
			i = run;
			if (i == n)
				break;
		}
		c = s[i];
		switch (c) {
		case '"':
			mbuf_add(b, "\\\"", 2);
			break;
		case '\\':
			mbuf_add(b, "\\\\", 2);
			break;
		case '/':
			mbuf_add(b, "\\/", 2);
			break;
		case '\b':
			mbuf_add(b, "\\b", 2);
			break;
		case '\f':
			mbuf_add(b, "\\f", 2);
			break;
		case '\n':
			mbuf_add(b, "\\n", 2);
			break;
		case '\r':
			mbuf_add(b, "\\r", 2);
			break;
		case '\t':
			mbuf_add(b, "\\t", 2);
			break;
		default:
			if (c < 0x80) {
				jw_u(b, c);
				break;
			}
			if ((len = jw_utf8(s + i, n - i, &cp)) == 0) {
				jw_u(b, 0xfffd);	/* never from jansson */
				break;
			}
			if (cp >= 0x10000) {
				cp -= 0x10000;
				jw_u(b, 0xd800 | (cp >> 10));
				jw_u(b, 0xdc00 | (cp & 0x3ff));
			} else
				jw_u(b, cp);
			i += len;
			continue;
		}
		i++;
	}
}

/* Write a string value of n bytes. */
void
jw_strn(struct jw *w, const char *s, size_t n)
{
	jw_pre(w);
	mbuf_addc(w->b, '"');
	jw_escape(w->b, s, n, w->style);
	mbuf_addc(w->b, '"');
}

/* Write a NUL-terminated string value. */
void
jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, strlen(s));
}

/* Write an integer value. */
void
jw_int(struct jw *w, long long v)
{
	jw_pre(w);
	mbuf_addf(w->b, "%lld", v);
}

/* Write a float the way Python's repr does: shortest round-trip form. */
void
jw_real(struct jw *w, double v)
{
	char	tmp[40];
	int	prec;

	jw_pre(w);
	if (!isfinite(v)) {
		mbuf_adds(w->b, "null");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	mbuf_adds(w->b, tmp);
	if (strpbrk(tmp, ".e") == NULL)
		mbuf_adds(w->b, ".0");
}

/* Write a literal (null, true, false, {} or []) as a value. */
void
jw_raw(struct jw *w, const char *lit)
{
	jw_pre(w);
	mbuf_adds(w->b, lit);
}

/* Write any jansson value, keeping its key order. */
void
jw_json(struct jw *w, json_t *v)
{
	const char	*k;
	json_t		*e;
	size_t		 i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jw_obj(w);
		json_object_foreach(v, k, e) {
			jw_key(w, k);
			jw_json(w, e);
		}
		jw_close(w);
		break;
	case JSON_ARRAY:
		jw_arr(w);
		json_array_foreach(v, i, e)
			jw_json(w, e);
		jw_close(w);
		break;
	case JSON_STRING:
		jw_strn(w, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		jw_int(w, (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		jw_real(w, json_real_value(v));
		break;
	case JSON_TRUE:
		jw_raw(w, "true");
		break;
	case JSON_FALSE:
		jw_raw(w, "false");
		break;
	default:
		jw_raw(w, "null");
		break;
	}
}

/* Format Dify's error envelope: compact ujson plus a trailing newline. */
void
jw_error_body(struct mbuf *b, int status, const char *code, const char *msg)
{
	struct jw	w;

	jw_init(&w, b, JW_UJSON);
	jw_obj(&w);
	jw_key(&w, "code");
	jw_str(&w, code);
	jw_key(&w, "message");
	jw_str(&w, msg);
	jw_key(&w, "status");
	jw_int(&w, status);
	jw_close(&w);
	mbuf_addc(b, '\n');
}
