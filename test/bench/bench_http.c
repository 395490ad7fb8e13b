/*
 * http: the bytes of a POST and an incremental HTTP/1.1 response parser.
 *
 * The parser takes the response in whatever pieces the socket gives and
 * hands on the decoded body (chunk framing removed) as it goes, so a
 * client can time each piece of a stream.  It knows chunked bodies,
 * Content-Length bodies and bodies that end when the connection closes;
 * that is all a proxy or nginx sends back here.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench.h"

/* The whole request: a keep-alive POST of a JSON body. */
char *
http_request(const char *path, const char *host, const char *auth,
    const char *body, size_t *len)
{
	size_t	 blen = strlen(body), cap;
	char	*req;
	int	 n;

	cap = strlen(path) + strlen(host) + strlen(auth) + blen + 256;
	req = util_xmalloc(cap);
	n = snprintf(req, cap, "POST %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "Authorization: %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Accept: */*\r\n"
	    "Content-Length: %zu\r\n"
	    "\r\n"
	    "%s", path, host, auth, blen, body);
	if (n < 0 || (size_t)n >= cap)
		util_die("http_request: request too long");
	*len = (size_t)n;
	return (req);
}

/* Ready r for a new response. */
void
http_resp_init(struct http_resp *r)
{
	r->state = HS_HEAD;
	r->head_len = 0;
	r->line_len = 0;
	r->status = 0;
	r->keepalive = 0;
	r->left = 0;
	r->body_bytes = 0;
}

/* Whether header line l (n bytes, no CRLF) is name, and its value. */
static const char *
http_header_value(const char *l, size_t n, const char *name, size_t *vlen)
{
	size_t	nlen = strlen(name), i;

	if (n <= nlen || strncasecmp(l, name, nlen) != 0 || l[nlen] != ':')
		return (NULL);
	for (i = nlen + 1; i < n && (l[i] == ' ' || l[i] == '\t'); i++)
		;
	*vlen = n - i;
	while (*vlen > 0 && (l[i + *vlen - 1] == ' ' ||
	    l[i + *vlen - 1] == '\t'))
		(*vlen)--;
	return (l + i);
}

/* Whether the value v (n bytes) contains word, ignoring case. */
static int
http_has_word(const char *v, size_t n, const char *word)
{
	size_t	wlen = strlen(word), i;

	for (i = 0; i + wlen <= n; i++)
		if (strncasecmp(v + i, word, wlen) == 0)
			return (1);
	return (0);
}

/* Parse the complete header block; set the status and the body framing. */
static enum http_result
http_parse_head(struct http_resp *r)
{
	const char	*p = r->head, *end = r->head + r->head_len, *eol;
	const char	*v;
	size_t		 vlen, n;
	long long	 length = -1;
	int		 chunked = 0, http10, conn_close = 0, conn_keep = 0;

	if (r->head_len < 12 || strncmp(p, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
	    !isdigit((unsigned char)p[11]))
		return (HTTP_ERROR);
	http10 = p[7] == '0';
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return (HTTP_ERROR);
	for (p = eol + 1; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		n = (size_t)(eol - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		if ((v = http_header_value(p, n, "Content-Length",
		    &vlen)) != NULL) {
			length = 0;
			while (vlen > 0 && isdigit((unsigned char)*v)) {
				length = length * 10 + (*v++ - '0');
				vlen--;
			}
		} else if ((v = http_header_value(p, n, "Transfer-Encoding",
		    &vlen)) != NULL)
			chunked = http_has_word(v, vlen, "chunked");
		else if ((v = http_header_value(p, n, "Connection",
		    &vlen)) != NULL) {
			conn_close = http_has_word(v, vlen, "close");
			conn_keep = http_has_word(v, vlen, "keep-alive");
		}
	}
	r->keepalive = http10 ? conn_keep : !conn_close;
	if (r->status == 204 || r->status == 304) {
		r->state = HS_DONE;
		return (HTTP_DONE);
	}
	if (chunked) {
		r->state = HS_CHUNK_SIZE;
		r->line_len = 0;
	} else if (length >= 0) {
		r->left = length;
		r->state = length == 0 ? HS_DONE : HS_LENGTH;
	} else {
		r->keepalive = 0;
		r->state = HS_CLOSE;
	}
	return (r->state == HS_DONE ? HTTP_DONE : HTTP_MORE);
}

/*
 * Collect a line into r->line up to '\n'; 1 when it is complete (its
 * first bytes are kept, the rest of an over-long line is skipped).
 */
static int
http_line(struct http_resp *r, const char *p, size_t n, size_t *i)
{
	while (*i < n) {
		char	c = p[(*i)++];

		if (c == '\n')
			return (1);
		if (r->line_len < sizeof(r->line) - 1)
			r->line[r->line_len++] = c;
	}
	return (0);
}

/* Pass up to r->left body bytes from p[*i..n) to fn. */
static void
http_take(struct http_resp *r, const char *p, size_t n, size_t *i,
    http_body_fn *fn, void *arg)
{
	size_t	take = n - *i;

	if ((long long)take > r->left)
		take = (size_t)r->left;
	if (take > 0 && fn != NULL)
		fn(arg, p + *i, take);
	r->body_bytes += take;
	r->left -= (long long)take;
	*i += take;
}

/*
 * Feed n bytes of the response.  *used tells how many were consumed:
 * less than n only once the response is complete (anything after it
 * would be a response nobody asked for).
 */
enum http_result
http_resp_feed(struct http_resp *r, const char *p, size_t n, size_t *used,
    http_body_fn *fn, void *arg)
{
	enum http_result	 res;
	size_t			 i = 0;
	char			*end;
	long long		 size;

	while (i < n && r->state != HS_DONE) {
		switch (r->state) {
		case HS_HEAD:
			if (r->head_len >= sizeof(r->head) - 1)
				goto fail;
			r->head[r->head_len++] = p[i++];
			if (r->head_len >= 4 &&
			    memcmp(r->head + r->head_len - 4, "\r\n\r\n",
			    4) == 0) {
				r->head[r->head_len] = '\0';
				if ((res = http_parse_head(r)) == HTTP_ERROR)
					goto fail;
				if (r->status >= 100 && r->status < 200) {
					http_resp_init(r);
					continue;
				}
			}
			break;
		case HS_LENGTH:
			http_take(r, p, n, &i, fn, arg);
			if (r->left == 0)
				r->state = HS_DONE;
			break;
		case HS_CLOSE:
			r->left = (long long)(n - i);
			http_take(r, p, n, &i, fn, arg);
			break;
		case HS_CHUNK_SIZE:
			if (!http_line(r, p, n, &i))
				break;
			r->line[r->line_len] = '\0';
			size = strtoll(r->line, &end, 16);
			if (end == r->line || size < 0)
				goto fail;
			r->line_len = 0;
			if (size == 0)
				r->state = HS_TRAILER;
			else {
				r->left = size;
				r->state = HS_CHUNK_DATA;
			}
			break;
		case HS_CHUNK_DATA:
			http_take(r, p, n, &i, fn, arg);
			if (r->left == 0)
				r->state = HS_CHUNK_CRLF;
			break;
		case HS_CHUNK_CRLF:
			if (!http_line(r, p, n, &i))
				break;
			if (r->line_len > 1 || (r->line_len == 1 &&
			    r->line[0] != '\r'))
				goto fail;
			r->line_len = 0;
			r->state = HS_CHUNK_SIZE;
			break;
		case HS_TRAILER:
			if (!http_line(r, p, n, &i))
				break;
			if (r->line_len == 0 || (r->line_len == 1 &&
			    r->line[0] == '\r'))
				r->state = HS_DONE;
			r->line_len = 0;
			break;
		case HS_DONE:
			break;
		}
	}
	*used = i;
	return (r->state == HS_DONE ? HTTP_DONE : HTTP_MORE);
fail:
	*used = i;
	return (HTTP_ERROR);
}

/* The connection closed: complete if the body was close-delimited. */
enum http_result
http_resp_eof(struct http_resp *r)
{
	if (r->state == HS_CLOSE) {
		r->state = HS_DONE;
		return (HTTP_DONE);
	}
	return (r->state == HS_DONE ? HTTP_DONE : HTTP_ERROR);
}

/* Start counting occurrences of s (at most HTTP_MARK_MAX bytes). */
void
http_mark_init(struct http_mark *m, const char *s)
{
	m->s = s;
	m->len = strlen(s);
	if (m->len == 0 || m->len > HTTP_MARK_MAX)
		util_die("marker must be 1 to %d bytes", HTTP_MARK_MAX);
	m->carry_len = 0;
	m->count = 0;
}

/* Count the occurrences in p[0..n), including those across the split. */
void
http_mark_feed(struct http_mark *m, const char *p, size_t n)
{
	char		 tmp[2 * HTTP_MARK_MAX];
	const char	*q, *end;
	size_t		 head, tlen, i, keep;

	if (m->s == NULL || n == 0)
		return;
	/* Matches that start in the carried tail and end in p. */
	head = n < m->len - 1 ? n : m->len - 1;
	memcpy(tmp, m->carry, m->carry_len);
	memcpy(tmp + m->carry_len, p, head);
	tlen = m->carry_len + head;
	for (i = 0; i < m->carry_len && i + m->len <= tlen; i++)
		if (memcmp(tmp + i, m->s, m->len) == 0)
			m->count++;
	/* Matches inside p. */
	for (q = p, end = p + n; (size_t)(end - q) >= m->len &&
	    (q = memmem(q, (size_t)(end - q), m->s, m->len)) != NULL; q++)
		m->count++;
	/* Keep the last len - 1 bytes of everything seen. */
	keep = m->len - 1;
	if (n >= keep) {
		memcpy(m->carry, p + n - keep, keep);
		m->carry_len = keep;
	} else {
		if (tlen > keep) {
			memmove(tmp, tmp + tlen - keep, keep);
			tlen = keep;
		}
		memcpy(m->carry, tmp, tlen);
		m->carry_len = tlen;
	}
}
