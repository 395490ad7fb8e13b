/*
 * http_reply: a whole HTTP/1.1 error response as bytes.
 *
 * Most responses are formatted by evhttp.  A few connections end before
 * evhttp has a request to answer: one refused at accept (out of
 * descriptors, over max_connections), and one whose request the guard
 * stopped (malformed, too large, too slow).  They get the same OpenAI
 * error body and headers as every other error (Content-Type, Date,
 * X-Request-Id, Retry-After), with Connection: close, written straight
 * to the socket.
 */
#include <stdio.h>

#include "http_date.h"
#include "http_reply.h"

/* The reason phrase of a status this proxy sends (RFC 9110). */
const char *
http_reply_reason(int status)
{
	switch (status) {
	case 400:
		return ("Bad Request");
	case 408:
		return ("Request Timeout");
	case 413:
		return ("Content Too Large");
	case 414:
		return ("URI Too Long");
	case 417:
		return ("Expectation Failed");
	case 431:
		return ("Request Header Fields Too Large");
	case 501:
		return ("Not Implemented");
	case 503:
		return ("Service Unavailable");
	case 505:
		return ("HTTP Version Not Supported");
	}
	return (status >= 500 ? "Server Error" : "Client Error");
}

/*
 * Append to out the response for e: status line, headers (the Date of
 * wall-clock second now, request_id as X-Request-Id) and the JSON body.
 */
void
http_reply_error(struct buf *out, const struct api_error *e,
    const char *request_id, int64_t now)
{
	struct buf	body = BUF_INIT;
	char		date[HTTP_DATE_LEN], head[512];
	int		n;

	api_error_json(e, &body);
	http_date_format(now, date);
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n"
	    "X-Request-Id: %s\r\n", e->status, http_reply_reason(e->status),
	    date, body.len, request_id);
	if (n > 0 && (size_t)n < sizeof(head))
		buf_add(out, head, (size_t)n);
	if (e->retry_after > 0) {
		n = snprintf(head, sizeof(head), "Retry-After: %d\r\n",
		    e->retry_after);
		buf_add(out, head, (size_t)n);
	}
	buf_add_str(out, "\r\n");
	buf_add(out, body.data, body.len);
	buf_free(&body);
}
