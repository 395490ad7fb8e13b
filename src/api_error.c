/*
 * api_error: OpenAI-shaped errors, and the table that maps Dify's errors
 * onto them.
 *
 * Dify reports errors as {"code","message","status"} both before a stream
 * (as the HTTP response) and inside it (as an "error" event).  The mapping
 * looks only at Dify's status and code, never at the message text: Dify's
 * messages change between versions, its codes do not.  The message is kept
 * because it tells the user what to fix, after removing what would leak
 * Dify's internals.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api_error.h"
#include "util.h"

/* One row of the Dify to OpenAI error table. */
struct api_error_map {
	const char	*dify_code;	/* NULL matches any code */
	int		 dify_status;	/* 0 matches any status */
	int		 status;
	const char	*type;
	const char	*code;		/* NULL keeps Dify's code */
	int		 retry_after;
};

/*
 * First match wins.  Codes come before statuses because Dify reports some
 * conditions (quota) under a status that does not describe them.
 */
static const struct api_error_map api_error_table[] = {
	{ "provider_quota_exceeded", 0, 429, "insufficient_quota",
	    "insufficient_quota", 0 },
	{ "too_many_requests", 0, 429, "rate_limit_error",
	    "rate_limit_exceeded", 1 },
	{ "rate_limit_error", 0, 429, "rate_limit_error",
	    "rate_limit_exceeded", 1 },
	{ "invalid_param", 400, 400, "invalid_request_error", NULL, 0 },
	{ NULL, 401, 401, "authentication_error", "invalid_api_key", 0 },
	{ NULL, 403, 403, "permission_error", NULL, 0 },
	{ NULL, 404, 404, "invalid_request_error", NULL, 0 },
	{ NULL, 429, 429, "rate_limit_error", "rate_limit_exceeded", 1 },
};

/* Fill in an error with a formatted message. */
void
api_error_set(struct api_error *e, int status, const char *type,
    const char *code, const char *param, const char *fmt, ...)
{
	va_list	ap;

	memset(e, 0, sizeof(*e));
	e->status = status;
	snprintf(e->type, sizeof(e->type), "%s", type);
	if (code != NULL)
		snprintf(e->code, sizeof(e->code), "%s", code);
	if (param != NULL)
		snprintf(e->param, sizeof(e->param), "%s", param);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

/* Copy a Dify code, keeping only the characters a code is made of. */
static void
api_error_copy_code(char *dst, size_t size, const char *src, size_t len)
{
	size_t	i, n = 0;

	for (i = 0; src != NULL && i < len && n + 1 < size; i++) {
		if (islower((unsigned char)src[i]) ||
		    isdigit((unsigned char)src[i]) || src[i] == '_')
			dst[n++] = src[i];
	}
	dst[n] = '\0';
}

/* True if the line [s, s+n) starts with prefix. */
static int
api_error_starts(const char *s, size_t n, const char *prefix)
{
	size_t	plen = strlen(prefix);

	return (n >= plen && memcmp(s, prefix, plen) == 0);
}

/*
 * Index of the bracket closing the group opened at p[i], or of the last
 * byte: nested brackets, braces and parentheses are matched and quoted
 * strings skipped, since pydantic's input_value echoes Python dicts and
 * lists that hold brackets of their own.
 */
static size_t
api_error_skip_group(const char *p, size_t n, size_t i)
{
	char	stack[64], quote = 0;
	size_t	depth = 0;

	for (; i < n; i++) {
		if (quote != 0) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == quote)
				quote = 0;
			continue;
		}
		switch (p[i]) {
		case '\'':
		case '"':
			quote = p[i];
			break;
		case '[':
		case '{':
		case '(':
			if (depth < sizeof(stack))
				stack[depth] = p[i] == '[' ? ']' :
				    p[i] == '{' ? '}' : ')';
			depth++;
			break;
		case ']':
		case '}':
		case ')':
			if (depth > 0 && (depth > sizeof(stack) ||
			    stack[depth - 1] == p[i]))
				depth--;
			if (depth == 0)
				return (i);
			break;
		}
	}
	return (n - 1);
}

/*
 * Clean a Dify message for a client into out (size bytes, NUL-terminated):
 *  - flask-restx's 404 suffix ("You have requested this URI [...]"), which
 *    lists Dify's internal routes, is cut;
 *  - pydantic's "[type=..., input_value=...]" details, which echo parts of
 *    the request Dify saw, and its "For further information visit" lines
 *    are dropped;
 *  - a Python traceback is dropped, and for server errors (status >= 500)
 *    only the first line is kept;
 *  - control characters become spaces, runs of blanks collapse, and the
 *    text is cut on a UTF-8 boundary to fit.
 */
void
api_error_sanitize(const char *msg, size_t len, int status, char *out,
    size_t size)
{
	struct buf	 b = BUF_INIT;
	const char	*p, *end, *nl, *cut;
	size_t		 n, i, o;
	int		 blank;

	if ((cut = memmem(msg, len, " You have requested this URI", 28)) !=
	    NULL)
		len = (size_t)(cut - msg);
	if ((cut = memmem(msg, len, "Traceback (most recent call last)",
	    33)) != NULL)
		len = (size_t)(cut - msg);

	for (p = msg, end = msg + len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		while (n > 0 && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		if (n == 0 || api_error_starts(p, n, "For further information"))
			continue;
		if (b.len > 0)
			buf_add(&b, " ", 1);
		/* Drop pydantic's bracketed details. */
		for (i = 0; i < n; i++) {
			if (p[i] == '[' && api_error_starts(p + i, n - i,
			    "[type=")) {
				i = api_error_skip_group(p, n, i);
				continue;
			}
			buf_add_char(&b, p[i]);
		}
		if (status >= 500)
			break;
	}

	/* Control characters to spaces, collapse blanks, trim. */
	o = 0;
	blank = 1;
	for (i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.data[i];

		if (c < 0x20 || c == 0x7f || c == ' ') {
			if (!blank)
				b.data[o++] = ' ';
			blank = 1;
		} else {
			b.data[o++] = (char)c;
			blank = 0;
		}
	}
	while (o > 0 && b.data[o - 1] == ' ')
		o--;
	n = buf_utf8_prefix(b.data ? b.data : "", o, size - 1);
	if (n > 0)
		memcpy(out, b.data, n);
	out[n] = '\0';
	buf_free(&b);
}

/*
 * Map a Dify error (HTTP or event status, code, message) to an OpenAI
 * error.  status may be 0 when Dify gave none; code (codelen bytes, not
 * necessarily NUL-terminated) may be NULL.
 */
void
api_error_from_dify(struct api_error *e, int status, const char *code,
    size_t codelen, const char *msg, size_t msglen)
{
	const struct api_error_map	*m;
	const char			*prefix;
	size_t				 i, plen;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < nitems(api_error_table); i++) {
		m = &api_error_table[i];
		if (m->dify_code != NULL && (code == NULL ||
		    strlen(m->dify_code) != codelen ||
		    memcmp(code, m->dify_code, codelen) != 0))
			continue;
		if (m->dify_status != 0 && m->dify_status != status)
			continue;
		e->status = m->status;
		snprintf(e->type, sizeof(e->type), "%s", m->type);
		if (m->code != NULL)
			snprintf(e->code, sizeof(e->code), "%s", m->code);
		else
			api_error_copy_code(e->code, sizeof(e->code), code,
			    codelen);
		e->retry_after = m->retry_after;
		break;
	}
	if (i == nitems(api_error_table)) {
		if (status >= 400 && status < 500) {
			/* Other client errors: the caller can fix them. */
			e->status = status;
			snprintf(e->type, sizeof(e->type),
			    "invalid_request_error");
		} else {
			/* 5xx, and errors without a usable status. */
			e->status = 502;
			snprintf(e->type, sizeof(e->type), "server_error");
		}
		api_error_copy_code(e->code, sizeof(e->code), code, codelen);
	}
	/* Dify's own server errors say so before its (first-line) text. */
	prefix = e->status >= 500 && status >= 500 ?
	    "Dify reported an internal error: " : "";
	plen = strlen(prefix);
	memcpy(e->message, prefix, plen + 1);
	api_error_sanitize(msg != NULL ? msg : "", msg != NULL ? msglen : 0,
	    e->status >= 500 ? 500 : e->status, e->message + plen,
	    sizeof(e->message) - plen);
	if (e->message[plen] == '\0') {
		if (e->status >= 500)
			snprintf(e->message, sizeof(e->message),
			    "Dify reported an internal error");
		else
			snprintf(e->message, sizeof(e->message),
			    "Dify rejected the request (HTTP %d)", status);
	}
}

/*
 * Map a Dify error response (HTTP status and its body, normally
 * {"code","message","status"}) to an OpenAI error.  A body that is not
 * Dify's JSON is ignored and the status alone decides.
 */
void
api_error_from_dify_body(struct api_error *e, int status, const char *body,
    size_t len)
{
	json_t		*root, *code, *msg;
	const char	*codes = NULL, *msgs = NULL;
	size_t		 codelen = 0, msglen = 0;

	root = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
	if (root != NULL && json_is_object(root)) {
		code = json_object_get(root, "code");
		msg = json_object_get(root, "message");
		if (json_is_string(code)) {
			codes = json_string_value(code);
			codelen = json_string_length(code);
		}
		if (json_is_string(msg)) {
			msgs = json_string_value(msg);
			msglen = json_string_length(msg);
		}
	}
	api_error_from_dify(e, status, codes, codelen, msgs, msglen);
	if (msgs == NULL && status > 0) {
		if (e->status >= 500)
			snprintf(e->message, sizeof(e->message),
			    "Dify answered HTTP %d", status);
		else
			snprintf(e->message, sizeof(e->message),
			    "Dify rejected the request (HTTP %d)", status);
	}
	json_decref(root);
}

/* Describe a failure of the upstream exchange itself. */
void
api_error_upstream(struct api_error *e, enum api_error_upstream what,
    const char *detail)
{
	static const struct {
		int		 status;
		const char	*code;
		const char	*text;
	} rows[] = {
		[API_ERROR_UPSTREAM_UNREACHABLE] = { 502,
		    "upstream_unreachable", "could not connect to Dify" },
		[API_ERROR_UPSTREAM_DNS] = { 502, "upstream_dns_error",
		    "could not resolve Dify's host name" },
		[API_ERROR_UPSTREAM_TLS] = { 502, "upstream_tls_error",
		    "TLS connection to Dify failed" },
		[API_ERROR_UPSTREAM_TIMEOUT] = { 504, "upstream_timeout",
		    "Dify did not answer in time" },
		[API_ERROR_UPSTREAM_INCOMPLETE] = { 502, "upstream_incomplete",
		    "Dify closed the stream before the answer was complete" },
		[API_ERROR_UPSTREAM_PROTOCOL] = { 502,
		    "upstream_protocol_error",
		    "Dify sent a response the proxy could not read" },
		[API_ERROR_UPSTREAM_NO_DESCRIPTORS] = { 503,
		    "proxy_overloaded", "the proxy is out of file descriptors "
		    "and cannot reach Dify now; retry the request" },
	};

	if (detail != NULL && *detail != '\0')
		api_error_set(e, rows[what].status, "server_error",
		    rows[what].code, NULL, "%s: %s", rows[what].text, detail);
	else
		api_error_set(e, rows[what].status, "server_error",
		    rows[what].code, NULL, "%s", rows[what].text);
	if (what == API_ERROR_UPSTREAM_NO_DESCRIPTORS)
		e->retry_after = 1;
}

/* Append the error as OpenAI's {"error":{...}} JSON object. */
void
api_error_json(const struct api_error *e, struct buf *b)
{
	buf_add_str(b, "{\"error\":{\"message\":");
	buf_add_json_cstring(b, e->message);
	buf_add_str(b, ",\"type\":");
	buf_add_json_cstring(b, e->type);
	buf_add_str(b, ",\"param\":");
	buf_add_json_cstring(b, e->param[0] ? e->param : NULL);
	buf_add_str(b, ",\"code\":");
	buf_add_json_cstring(b, e->code[0] ? e->code : NULL);
	buf_add_str(b, "}}");
}
