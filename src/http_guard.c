/*
 * http_guard: a strict check of a client's HTTP/1.1 request stream (RFC
 * 9112), run on the bytes before evhttp parses them.
 *
 * libevent 2.1.12's request reader is lenient where leniency lets a
 * request mean two things: it takes the first of two Content-Length
 * headers, reads "+57" as 57, serves HTTP/1.1 without Host, joins folded
 * lines, keeps a bare CR inside a value and ignores a Content-Length on
 * HEAD.  A balancer in front that reads such a request the other way is
 * out of step with us from then on (request smuggling).  Its own errors
 * are HTML pages.  So every byte a client sends passes through this
 * guard first, which accepts a strict subset of what evhttp accepts, and
 * refuses the rest with an OpenAI-shaped error before evhttp sees it.
 *
 * It also tells its caller where each request starts, where its head
 * ends and where it is complete, which is what the header and body
 * deadlines and the buffered-request budget are measured on
 * (client_conn.c).
 *
 * Accepted:
 *  - request line: method SP request-target SP HTTP-version, ended by
 *    CRLF or a bare LF (as evhttp reads lines); the method one of GET,
 *    HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH (CONNECT, or another
 *    token: 501); the target visible ASCII, in origin form (a path not
 *    starting "//"), "*" for OPTIONS, or absolute form with an http or
 *    https scheme, a host name or bracketed IPv6 address and an optional
 *    port up to 65535 (libevent parses the target as a URI and refuses
 *    what does not parse); HTTP/1.1 or HTTP/1.0 (another HTTP/d.d: 505).
 *  - header fields: a token, a colon with no space before it, a value of
 *    SP, HTAB, visible ASCII and bytes 0x80-0xff; at most
 *    HTTP_GUARD_MAX_FIELDS of them and lim.max_head bytes of head in all
 *    (over it: 414 while in the request line, else 431).  No folded
 *    lines, no bare CR, no NUL or other control bytes.
 *  - framing: at most one Content-Length, of digits only (leading SP and
 *    trailing whitespace allowed, as evhttp trims them), up to
 *    lim.max_body (over it: 413); or one Transfer-Encoding: chunked
 *    (another coding: 501), never both, never in HTTP/1.0; no body on
 *    HEAD or TRACE (evhttp would read it as the next request).  Chunked
 *    bodies are read strictly (chunked.c): hex sizes alone on their line,
 *    no trailer fields, lim.max_body decoded bytes at most.
 *  - HTTP/1.1 needs exactly one Host, of the characters a host and port
 *    are made of; an Expect other than 100-continue gets 417.
 *
 * Everything here is pure: bytes in, events and an api_error out.
 */
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http_guard.h"

/* Byte states of the head. */
enum http_guard_state {
	GS_METHOD,		/* method token */
	GS_TARGET,		/* request-target */
	GS_VERSION,		/* HTTP-version */
	GS_LINE_LF,		/* the LF after the request line's CR */
	GS_FIELD,		/* start of a field line, or the blank line */
	GS_NAME,		/* field name */
	GS_VALUE,		/* field value */
	GS_FIELD_LF,		/* the LF after a field line's CR */
	GS_END_LF		/* the LF after the blank line's CR */
};

/* Methods libevent 2.1.12 knows. */
static const char *const http_guard_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE",
	"CONNECT", "PATCH"
};

/* The fields whose values the guard reads, by lowercased name. */
static const struct {
	const char		*name;
	enum http_guard_field	 field;
} http_guard_fields[] = {
	{ "content-length", HTTP_GUARD_F_CONTENT_LENGTH },
	{ "transfer-encoding", HTTP_GUARD_F_TRANSFER_ENCODING },
	{ "host", HTTP_GUARD_F_HOST },
	{ "expect", HTTP_GUARD_F_EXPECT },
};

/* Byte classes, one table lookup each. */
#define GC_TCHAR	0x1	/* a tchar (RFC 9110, 5.6.2) */
#define GC_VALUE	0x2	/* in a field value: SP, HTAB, VCHAR, obs-text */
#define GC_HOST		0x4	/* in a Host value: a host name or address, port */
#define GC_TARGET	0x8	/* in a request target: visible ASCII */

static unsigned char	http_guard_class[256];

/* Fill the class table (once). */
static void
http_guard_classes(void)
{
	static const char	tchar[] = "!#$%&'*+-.^_`|~", host[] =
				    "-._~!$&'()*+,;=:[]%";
	const char		*s;
	int			 ch;

	if (http_guard_class['a'] != 0)
		return;
	for (ch = 0; ch < 256; ch++) {
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9'))
			http_guard_class[ch] |= GC_TCHAR | GC_HOST;
		if (ch == ' ' || ch == '\t' || (ch > 0x20 && ch != 0x7f))
			http_guard_class[ch] |= GC_VALUE;
		if (ch > 0x20 && ch < 0x7f)
			http_guard_class[ch] |= GC_TARGET;
	}
	for (s = tchar; *s != '\0'; s++)
		http_guard_class[(unsigned char)*s] |= GC_TCHAR;
	for (s = host; *s != '\0'; s++)
		http_guard_class[(unsigned char)*s] |= GC_HOST;
}

/* True for a tchar. */
static int
http_guard_tchar(unsigned char ch)
{
	return ((http_guard_class[ch] & GC_TCHAR) != 0);
}

/* True for a byte allowed in a field value. */
static int
http_guard_value_byte(unsigned char ch)
{
	return ((http_guard_class[ch] & GC_VALUE) != 0);
}

/* True for a byte of a Host value. */
static int
http_guard_host_byte(unsigned char ch)
{
	return ((http_guard_class[ch] & GC_HOST) != 0);
}

/* Start reading a stream of requests. */
void
http_guard_init(struct http_guard *g, const struct http_guard_limits *lim)
{
	http_guard_classes();
	memset(g, 0, sizeof(*g));
	g->lim = *lim;
	g->phase = HTTP_GUARD_IDLE;
}

/*
 * Refuse the request with status: the guard takes nothing more.  The
 * error's type is invalid_request_error (each refusal is the client's to
 * fix), or server_error for a 5xx the proxy itself decided (503).
 */
void
http_guard_fail(struct http_guard *g, int status, const char *code,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(g->error.message, sizeof(g->error.message), fmt, ap);
	va_end(ap);
	g->error.status = status;
	g->error.type = status == 503 ? "server_error" :
	    "invalid_request_error";
	g->error.code = code;
	g->error.retry_after = status == 503 ? 1 : 0;
	g->phase = HTTP_GUARD_FAILED;
}

/* The OpenAI error of the guard's refusal (the guard has FAILED). */
void
http_guard_error(const struct http_guard *g, struct api_error *e)
{
	api_error_set(e, g->error.status, g->error.type != NULL ?
	    g->error.type : "invalid_request_error", g->error.code != NULL ?
	    g->error.code : "bad_request", NULL, "%s", g->error.message);
	e->retry_after = g->error.retry_after;
}

/* Reset the per-request state for a request starting now. */
static void
http_guard_start(struct http_guard *g)
{
	struct http_guard_limits	lim = g->lim;

	http_guard_init(g, &lim);
	g->phase = HTTP_GUARD_HEAD;
	g->state = GS_METHOD;
}

/*
 * The method read: a known one, or 501 for another token.  g->method
 * holds its first characters, NUL-terminated (the struct starts zeroed).
 */
static int
http_guard_method_done(struct http_guard *g)
{
	size_t	i;

	if (strcmp(g->method, "CONNECT") == 0) {
		http_guard_fail(g, 501, "not_implemented", "CONNECT is not "
		    "supported: this is an API gateway, not a forward proxy.");
		return (-1);
	}
	for (i = 0; i < sizeof(http_guard_methods) /
	    sizeof(http_guard_methods[0]); i++) {
		if (strcmp(g->method, http_guard_methods[i]) == 0 &&
		    g->methodlen == strlen(http_guard_methods[i]))
			return (0);
	}
	http_guard_fail(g, 501, "not_implemented", "The method %s%s is not "
	    "implemented: use POST /v1/chat/completions or GET /v1/models.",
	    g->method, g->methodlen >= sizeof(g->method) ? "..." : "");
	return (-1);
}

/* The version read (in g->value): HTTP/1.1, HTTP/1.0, or an error. */
static int
http_guard_version_done(struct http_guard *g)
{
	const char	*v = g->value;

	if (g->valuelen == 8 && memcmp(v, "HTTP/1.", 7) == 0 &&
	    (v[7] == '0' || v[7] == '1')) {
		g->version = v[7] == '1' ? 11 : 10;
		return (0);
	}
	if (g->valuelen == 8 && memcmp(v, "HTTP/", 5) == 0 &&
	    v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
	    v[7] >= '0' && v[7] <= '9') {
		http_guard_fail(g, 505, "http_version_not_supported",
		    "HTTP version %.8s is not supported: use HTTP/1.1.", v);
		return (-1);
	}
	http_guard_fail(g, 400, "bad_request", "The request line does not "
	    "end in an HTTP version (HTTP/1.1).");
	return (-1);
}

/* One byte of the request target; its start is kept to check its form. */
static void
http_guard_target_add(struct http_guard *g, unsigned char ch)
{
	if (g->targetlen < sizeof(g->target))
		g->target[g->targetlen] = (char)ch;
	g->targetlen++;
}

/* One byte of a field name, lowercased; a long name matches no field. */
static void
http_guard_name_add(struct http_guard *g, unsigned char ch)
{
	if (g->namelen < sizeof(g->name))
		g->name[g->namelen++] = (char)(ch >= 'A' && ch <= 'Z' ?
		    ch + 32 : ch);
}

/* True if the port digits p (n of them) name a port, 0 to 65535. */
static int
http_guard_port_ok(const char *p, size_t n)
{
	unsigned long	v = 0;
	size_t		i;

	if (n == 0 || n > 5)
		return (0);
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return (0);
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	return (v <= 65535);
}

/*
 * True if the authority a (n bytes) is a host and optional port: a host
 * name of letters, digits, '-', '.', '_', '~' and sub-delims, or an IPv6
 * address in brackets.  No user information, no percent-encoding.
 */
static int
http_guard_authority_ok(const char *a, size_t n)
{
	char		 v6[64];
	const char	*end;
	size_t		 i, hostlen;

	if (n > 0 && a[0] == '[') {
		if ((end = memchr(a, ']', n)) == NULL ||
		    (size_t)(end - a - 1) >= sizeof(v6))
			return (0);
		memcpy(v6, a + 1, (size_t)(end - a - 1));
		v6[end - a - 1] = '\0';
		if (inet_pton(AF_INET6, v6, v6 + 32) != 1)
			return (0);
		hostlen = (size_t)(end - a) + 1;
	} else {
		for (hostlen = 0; hostlen < n && a[hostlen] != ':'; hostlen++) {
			if (!http_guard_host_byte((unsigned char)a[hostlen]) ||
			    a[hostlen] == '%' || a[hostlen] == '[' ||
			    a[hostlen] == ']')
				return (0);
		}
		if (hostlen == 0)
			return (0);
	}
	if (hostlen == n)
		return (1);
	if (a[hostlen] != ':')
		return (0);
	for (i = hostlen + 1; i < n; i++)
		if (a[i] < '0' || a[i] > '9')
			return (0);
	return (http_guard_port_ok(a + hostlen + 1, n - hostlen - 1));
}

/*
 * The request target ended: check its form (see the top of this file).
 * Its first HTTP_GUARD_TARGET_KEEP bytes are in g->target.
 */
static int
http_guard_target_done(struct http_guard *g)
{
	const char	*t = g->target, *a, *end;
	size_t		 n = g->targetlen < sizeof(g->target) ? g->targetlen :
			    sizeof(g->target), skip;

	if (t[0] == '/' && (n == 1 || t[1] != '/'))
		return (0);
	if (n == 1 && t[0] == '*' && g->targetlen == 1 &&
	    strcmp(g->method, "OPTIONS") == 0)
		return (0);
	if (n > 7 && strncasecmp(t, "http://", 7) == 0)
		skip = 7;
	else if (n > 8 && strncasecmp(t, "https://", 8) == 0)
		skip = 8;
	else {
		http_guard_fail(g, 400, "bad_request", "Malformed request: "
		    "the request target is not a path (/...) or an http URL.");
		return (-1);
	}
	a = t + skip;
	for (end = a; end < t + n && *end != '/' && *end != '?' &&
	    *end != '#'; end++)
		;
	if (end == t + n && g->targetlen > n) {
		http_guard_fail(g, 400, "bad_request", "Malformed request: "
		    "the request target's host is too long.");
		return (-1);
	}
	if (!http_guard_authority_ok(a, (size_t)(end - a))) {
		http_guard_fail(g, 400, "bad_request", "Malformed request: "
		    "the request target's host or port is malformed.");
		return (-1);
	}
	return (0);
}

/* A field name ended at its colon: which field is it. */
static void
http_guard_name_done(struct http_guard *g)
{
	size_t	i;

	g->field = HTTP_GUARD_F_OTHER;
	for (i = 0; i < sizeof(http_guard_fields) /
	    sizeof(http_guard_fields[0]); i++) {
		if (g->namelen == strlen(http_guard_fields[i].name) &&
		    memcmp(g->name, http_guard_fields[i].name,
		    g->namelen) == 0)
			g->field = http_guard_fields[i].field;
	}
	g->valuelen = 0;
	g->value_long = g->value_bad = g->value_ws = 0;
	g->number = 0;
}

/*
 * One byte of a field value the guard reads (Content-Length,
 * Transfer-Encoding, Host, Expect).  Leading SP is skipped, as evhttp
 * skips it; a leading HTAB, which evhttp would keep, is refused.
 * Trailing SP and HTAB are dropped, as evhttp trims them; whitespace
 * inside the value stays.
 */
static void
http_guard_value_add(struct http_guard *g, unsigned char ch)
{
	if (ch == ' ' || ch == '\t') {
		if (g->valuelen == 0 && !g->value_ws) {
			if (ch == '\t')
				g->value_bad = 1;
			return;		/* leading SP */
		}
		g->value_ws++;
		return;
	}
	if (g->value_ws > 0) {
		/* Whitespace inside the value. */
		if (g->field != HTTP_GUARD_F_TRANSFER_ENCODING &&
		    g->field != HTTP_GUARD_F_EXPECT)
			g->value_bad = 1;
		for (; g->value_ws > 0; g->value_ws--) {
			if (g->valuelen < sizeof(g->value))
				g->value[g->valuelen++] = ' ';
			else
				g->value_long = 1;
		}
	}
	switch (g->field) {
	case HTTP_GUARD_F_CONTENT_LENGTH:
		if (ch < '0' || ch > '9')
			g->value_bad = 1;
		else if (g->number > (UINT64_MAX - 9) / 10)
			g->value_long = 1;
		else
			g->number = g->number * 10 + (uint64_t)(ch - '0');
		g->valuelen++;
		return;
	case HTTP_GUARD_F_HOST:
		if (!http_guard_host_byte(ch))
			g->value_bad = 1;
		g->valuelen++;
		return;
	default:
		break;
	}
	if (g->valuelen < sizeof(g->value))
		g->value[g->valuelen++] = (char)ch;
	else
		g->value_long = 1;
}

/* True if the stored value is s, ignoring case. */
static int
http_guard_value_is(const struct http_guard *g, const char *s)
{
	return (!g->value_long && g->valuelen == strlen(s) &&
	    strncasecmp(g->value, s, g->valuelen) == 0);
}

/* A field line ended: check what it says.  Returns -1 when refused. */
static int
http_guard_field_done(struct http_guard *g)
{
	g->value_ws = 0;
	switch (g->field) {
	case HTTP_GUARD_F_CONTENT_LENGTH:
		if (g->have_length) {
			http_guard_fail(g, 400, "bad_request", "The request "
			    "has two Content-Length headers: its length is "
			    "ambiguous.");
			return (-1);
		}
		if (g->value_bad || g->valuelen == 0) {
			http_guard_fail(g, 400, "bad_request", "The "
			    "Content-Length header is not a number of bytes "
			    "(digits only).");
			return (-1);
		}
		if (g->value_long || g->number > g->lim.max_body) {
			http_guard_fail(g, 413, "request_too_large", "The "
			    "request body is larger than the limit of %llu "
			    "bytes.", (unsigned long long)g->lim.max_body);
			return (-1);
		}
		g->have_length = 1;
		g->length = g->number;
		return (0);
	case HTTP_GUARD_F_TRANSFER_ENCODING:
		if (g->have_chunked || g->value_bad) {
			http_guard_fail(g, 400, "bad_request", "The "
			    "Transfer-Encoding header is repeated or "
			    "malformed.");
			return (-1);
		}
		if (!http_guard_value_is(g, "chunked")) {
			http_guard_fail(g, 501, "not_implemented", "Only "
			    "Transfer-Encoding: chunked is supported.");
			return (-1);
		}
		g->have_chunked = 1;
		return (0);
	case HTTP_GUARD_F_HOST:
		if (g->have_host || g->value_bad) {
			http_guard_fail(g, 400, "bad_request", "The Host "
			    "header is repeated or malformed.");
			return (-1);
		}
		g->have_host = 1;
		return (0);
	case HTTP_GUARD_F_EXPECT:
		if (g->value_bad || !http_guard_value_is(g, "100-continue"))
			g->bad_expect = 1;
		return (0);
	default:
		return (0);
	}
}

/*
 * The head ended: decide how the body is framed.  Returns the event: a
 * request without a body is complete here.
 */
static enum http_guard_event
http_guard_head_done(struct http_guard *g)
{
	int	bodyless = strcmp(g->method, "HEAD") == 0 ||
		    strcmp(g->method, "TRACE") == 0;

	if (g->version == 11 && !g->have_host) {
		http_guard_fail(g, 400, "bad_request", "An HTTP/1.1 request "
		    "must have a Host header.");
		return (HTTP_GUARD_ERROR);
	}
	if (g->have_chunked && (g->have_length || g->version == 10)) {
		http_guard_fail(g, 400, "bad_request", "Transfer-Encoding "
		    "cannot be combined with Content-Length or HTTP/1.0: the "
		    "request's length is ambiguous.");
		return (HTTP_GUARD_ERROR);
	}
	if (bodyless && (g->have_chunked || g->length > 0)) {
		http_guard_fail(g, 400, "bad_request", "A %s request cannot "
		    "have a body.", g->method);
		return (HTTP_GUARD_ERROR);
	}
	if (g->version == 11 && g->bad_expect) {
		http_guard_fail(g, 417, "expectation_failed", "The only "
		    "expectation supported is Expect: 100-continue.");
		return (HTTP_GUARD_ERROR);
	}
	if (g->have_chunked) {
		chunked_init_strict(&g->chunk);
		g->phase = HTTP_GUARD_BODY;
		return (HTTP_GUARD_HEAD_DONE);
	}
	if (g->length > 0) {
		g->left = g->length;
		g->phase = HTTP_GUARD_BODY;
		return (HTTP_GUARD_HEAD_DONE);
	}
	g->phase = HTTP_GUARD_IDLE;
	return (HTTP_GUARD_COMPLETE);
}

/* Refuse a malformed head. */
static enum http_guard_event
http_guard_malformed(struct http_guard *g, const char *what)
{
	http_guard_fail(g, 400, "bad_request", "Malformed request: %s.",
	    what);
	return (HTTP_GUARD_ERROR);
}

/*
 * One byte of the head.  Returns HTTP_GUARD_MORE to go on, or the event
 * the byte ends on.
 */
static enum http_guard_event
http_guard_head_byte(struct http_guard *g, unsigned char ch)
{
	if (++g->head > g->lim.max_head) {
		if (g->state <= GS_LINE_LF)
			http_guard_fail(g, 414, "uri_too_long", "The request "
			    "line is longer than the limit of %zu bytes.",
			    g->lim.max_head);
		else
			http_guard_fail(g, 431, "headers_too_large", "The "
			    "request's headers are larger than the limit of "
			    "%zu bytes.", g->lim.max_head);
		return (HTTP_GUARD_ERROR);
	}
	switch (g->state) {
	case GS_METHOD:
		if (ch == ' ' && g->methodlen > 0) {
			if (http_guard_method_done(g) != 0)
				return (HTTP_GUARD_ERROR);
			g->state = GS_TARGET;
			return (HTTP_GUARD_MORE);
		}
		if (!http_guard_tchar(ch))
			return (http_guard_malformed(g, g->methodlen == 0 ?
			    "it does not start with a method" :
			    "a character not allowed in a method"));
		/* Known methods fit; a longer one is kept in part. */
		if (g->methodlen < sizeof(g->method) - 1)
			g->method[g->methodlen] = (char)ch;
		g->methodlen++;
		return (HTTP_GUARD_MORE);
	case GS_TARGET:
		if (ch == ' ' && g->targetlen > 0) {
			if (http_guard_target_done(g) != 0)
				return (HTTP_GUARD_ERROR);
			g->state = GS_VERSION;
			g->valuelen = 0;
			return (HTTP_GUARD_MORE);
		}
		if (ch <= 0x20 || ch >= 0x7f)
			return (http_guard_malformed(g, "a space or control "
			    "character in the request target"));
		http_guard_target_add(g, ch);
		return (HTTP_GUARD_MORE);
	case GS_VERSION:
		if (ch == '\r' || ch == '\n') {
			if (http_guard_version_done(g) != 0)
				return (HTTP_GUARD_ERROR);
			g->state = ch == '\r' ? GS_LINE_LF : GS_FIELD;
			return (HTTP_GUARD_MORE);
		}
		if (ch <= 0x20 || ch >= 0x7f || g->valuelen >= 8)
			return (http_guard_malformed(g, "the request line "
			    "does not end in an HTTP version"));
		g->value[g->valuelen++] = (char)ch;
		return (HTTP_GUARD_MORE);
	case GS_LINE_LF:
	case GS_FIELD_LF:
		if (ch != '\n')
			return (http_guard_malformed(g, "a CR not followed "
			    "by LF"));
		g->state = GS_FIELD;
		return (HTTP_GUARD_MORE);
	case GS_FIELD:
		if (ch == '\r') {
			g->state = GS_END_LF;
			return (HTTP_GUARD_MORE);
		}
		if (ch == '\n')
			return (http_guard_head_done(g));
		if (ch == ' ' || ch == '\t')
			return (http_guard_malformed(g, "a folded header line "
			    "(obsolete line folding)"));
		if (!http_guard_tchar(ch))
			return (http_guard_malformed(g, "a character not "
			    "allowed in a header name"));
		if (++g->fields > HTTP_GUARD_MAX_FIELDS) {
			http_guard_fail(g, 431, "headers_too_large", "The "
			    "request has more than %d headers.",
			    HTTP_GUARD_MAX_FIELDS);
			return (HTTP_GUARD_ERROR);
		}
		g->namelen = 0;
		g->state = GS_NAME;
		/* FALLTHROUGH */
	case GS_NAME:
		if (ch == ':') {
			http_guard_name_done(g);
			g->state = GS_VALUE;
			return (HTTP_GUARD_MORE);
		}
		if (!http_guard_tchar(ch))
			return (http_guard_malformed(g, ch == ' ' || ch == '\t' ?
			    "whitespace between a header name and its colon" :
			    ch == '\r' || ch == '\n' ? "a header line without "
			    "a colon" : "a character not allowed in a header "
			    "name"));
		http_guard_name_add(g, ch);
		return (HTTP_GUARD_MORE);
	case GS_VALUE:
		if (ch == '\r' || ch == '\n') {
			if (http_guard_field_done(g) != 0)
				return (HTTP_GUARD_ERROR);
			g->state = ch == '\r' ? GS_FIELD_LF : GS_FIELD;
			return (HTTP_GUARD_MORE);
		}
		if (!http_guard_value_byte(ch))
			return (http_guard_malformed(g, "a control character "
			    "in a header value"));
		if (g->field != HTTP_GUARD_F_OTHER)
			http_guard_value_add(g, ch);
		return (HTTP_GUARD_MORE);
	case GS_END_LF:
		if (ch != '\n')
			return (http_guard_malformed(g, "a CR not followed "
			    "by LF"));
		return (http_guard_head_done(g));
	}
	return (http_guard_malformed(g, "an unexpected byte"));
}

/*
 * Take a run of ordinary bytes where most of a head's bytes are (the
 * target, field names, values the guard does not read), a table lookup
 * each: the same as feeding them to http_guard_head_byte one by one, but
 * for the byte that ends the run or crosses the size limit, which is left
 * to it.  Returns how many were taken.
 */
static size_t
http_guard_head_run(struct http_guard *g, const unsigned char *p, size_t n)
{
	size_t	i = 0;

	if (n > g->lim.max_head - g->head)
		n = g->lim.max_head - g->head;
	switch (g->state) {
	case GS_TARGET:
		if (g->targetlen > 0)
			for (; i < n && (http_guard_class[p[i]] & GC_TARGET);
			    i++)
				http_guard_target_add(g, p[i]);
		break;
	case GS_NAME:
		for (; i < n && (http_guard_class[p[i]] & GC_TCHAR); i++)
			http_guard_name_add(g, p[i]);
		break;
	case GS_VALUE:
		if (g->field == HTTP_GUARD_F_OTHER)
			while (i < n && (http_guard_class[p[i]] & GC_VALUE))
				i++;
		break;
	default:
		break;
	}
	g->head += i;
	return (i);
}

/*
 * Body bytes: as many of in as belong to the body.  Sets *ev to
 * COMPLETE at its end, ERROR if malformed or too large, else MORE.
 */
static size_t
http_guard_body(struct http_guard *g, const char *in, size_t len,
    enum http_guard_event *ev)
{
	enum chunked_result	r;
	size_t			n;

	*ev = HTTP_GUARD_MORE;
	if (!g->have_chunked) {
		n = (uint64_t)len < g->left ? len : (size_t)g->left;
		g->left -= n;
		if (g->left == 0) {
			g->phase = HTTP_GUARD_IDLE;
			*ev = HTTP_GUARD_COMPLETE;
		}
		return (n);
	}
	/*
	 * The size is checked before the framing: decoded plus declared
	 * bytes only grow as the body is read, and the decoder stops at a
	 * bad byte, so the verdict does not depend on how the bytes were
	 * split into reads.
	 */
	r = chunked_feed(&g->chunk, in, len, &n, NULL);
	if (g->chunk.body > g->lim.max_body ||
	    g->chunk.size > g->lim.max_body - g->chunk.body) {
		http_guard_fail(g, 413, "request_too_large", "The request "
		    "body is larger than the limit of %llu bytes.",
		    (unsigned long long)g->lim.max_body);
		*ev = HTTP_GUARD_ERROR;
	} else if (r == CHUNKED_BAD) {
		http_guard_fail(g, 400, "bad_request", "Malformed chunked "
		    "request body (chunk sizes are hex digits alone on their "
		    "line; no trailers).");
		*ev = HTTP_GUARD_ERROR;
	} else if (r == CHUNKED_END) {
		g->phase = HTTP_GUARD_IDLE;
		*ev = HTTP_GUARD_COMPLETE;
	}
	return (n);
}

/*
 * Feed len bytes of the stream.  Returns how many were taken and sets *ev
 * to what the feed stopped at: after the first byte of a request
 * (STARTED), after the end of a head a body follows (HEAD_DONE), after
 * the last byte of a request (COMPLETE), at a refused byte (ERROR, and
 * every later call), or with all of it taken (MORE).  g->bytes counts the
 * bytes of the current request, and still does at COMPLETE.
 */
size_t
http_guard_feed(struct http_guard *g, const char *in, size_t len,
    enum http_guard_event *ev)
{
	const unsigned char	*p = (const unsigned char *)in;
	size_t			 i = 0, n;

	*ev = HTTP_GUARD_MORE;
	if (g->phase == HTTP_GUARD_FAILED) {
		*ev = HTTP_GUARD_ERROR;
		return (0);
	}
	if (len == 0)
		return (0);
	if (g->phase == HTTP_GUARD_IDLE) {
		http_guard_start(g);
		*ev = http_guard_head_byte(g, p[0]);
		g->bytes = 1;
		if (*ev == HTTP_GUARD_MORE)
			*ev = HTTP_GUARD_STARTED;
		return (1);
	}
	if (g->phase == HTTP_GUARD_BODY) {
		n = http_guard_body(g, in, len, ev);
		g->bytes += n;
		return (n);
	}
	while (i < len) {
		if ((i += http_guard_head_run(g, p + i, len - i)) == len)
			break;
		*ev = http_guard_head_byte(g, p[i++]);
		if (*ev != HTTP_GUARD_MORE)
			break;
	}
	g->bytes += i;
	return (i);
}
