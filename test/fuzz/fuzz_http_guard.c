/*
 * fuzz_http_guard: the request-stream guard against itself fed in pieces,
 * and against libevent 2.1.12's own request parser.
 *
 * The input is a client's byte stream.  Fed whole, split in two at a point
 * derived from the input, and byte by byte (short inputs) or in pieces of
 * a derived size, the guard must report the same events with the same
 * byte counts and end in the same error.  And if it accepts the head of
 * the first request, evhttp must accept the same head bytes too and read
 * them as the same method, the same number of field lines and the same
 * body framing (Content-Length value, or chunked).  Any disagreement
 * prints the input C-escaped and aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "http_guard.h"

/* From libevent 2.1.12's http-internal.h, which is not installed. */
enum message_read_status {
	ALL_DATA_READ = 1,
	MORE_DATA_EXPECTED = 0,
	DATA_CORRUPTED = -1,
	REQUEST_CANCELED = -2,
	DATA_TOO_LONG = -3
};
enum message_read_status evhttp_parse_firstline_(struct evhttp_request *,
	    struct evbuffer *);
enum message_read_status evhttp_parse_headers_(struct evhttp_request *,
	    struct evbuffer *);

/* Small enough for the fuzzer to reach every limit. */
static const struct http_guard_limits fuzz_guard_lim = { 1024, 64 };

/* What one run of the guard over the input reported. */
struct fuzz_guard_run {
	enum http_guard_event	*ev;
	uint64_t		*bytes;	/* g.bytes at each event */
	size_t			 nev;
	int			 status;	/* of the error, or 0 */
	char			 code[64];
	/* The first request's head, if the guard accepted it. */
	int			 head_ok;
	size_t			 head_len;
	int			 chunked;
	uint64_t		 length;	/* Content-Length; 0 for none */
	char			 method[8];
	unsigned		 fields;
	int			 version;
};

/* The input being checked, for the report. */
static const uint8_t	*fuzz_guard_data;
static size_t		 fuzz_guard_size;

/* Print the input C-escaped and why it is wrong, then abort. */
static void
fuzz_guard_die(const char *why)
{
	size_t		i;
	unsigned char	c;

	fprintf(stderr, "fuzz_http_guard: %s\ninput (%zu bytes): \"", why,
	    fuzz_guard_size);
	for (i = 0; i < fuzz_guard_size; i++) {
		c = fuzz_guard_data[i];
		if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '\t')
			fputs("\\t", stderr);
		else if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(stderr, "\\%03o", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
	abort();
}

/* Record one event and check what the guard says with it. */
static void
fuzz_guard_event(struct fuzz_guard_run *r, const struct http_guard *g,
    enum http_guard_event ev, size_t pos, size_t *start)
{
	r->ev[r->nev] = ev;
	r->bytes[r->nev] = ev == HTTP_GUARD_ERROR ? 0 : g->bytes;
	r->nev++;
	switch (ev) {
	case HTTP_GUARD_STARTED:
		if (g->bytes != 1 || g->phase != HTTP_GUARD_HEAD)
			fuzz_guard_die("STARTED is not after one byte");
		*start = pos - 1;
		return;
	case HTTP_GUARD_HEAD_DONE:
		if (g->bytes != g->head || g->phase != HTTP_GUARD_BODY ||
		    g->bytes != pos - *start)
			fuzz_guard_die("HEAD_DONE's byte count is wrong");
		break;
	case HTTP_GUARD_COMPLETE:
		if (g->bytes != pos - *start || g->phase != HTTP_GUARD_IDLE)
			fuzz_guard_die("COMPLETE's byte count is wrong");
		break;
	case HTTP_GUARD_ERROR:
		if (g->phase != HTTP_GUARD_FAILED || g->error.status < 400 ||
		    g->error.message[0] == '\0' ||
		    strcmp(g->error.type, "invalid_request_error") != 0)
			fuzz_guard_die("ERROR without a client error");
		r->status = g->error.status;
		snprintf(r->code, sizeof(r->code), "%s", g->error.code);
		return;
	default:
		fuzz_guard_die("an unknown event");
	}
	/* The first request's head, accepted. */
	if (r->nev != 2)
		return;
	r->head_ok = 1;
	r->head_len = (size_t)g->head;
	r->chunked = g->have_chunked;
	r->length = ev == HTTP_GUARD_HEAD_DONE && !g->have_chunked ? g->left :
	    0;
	memcpy(r->method, g->method, sizeof(r->method));
	r->fields = g->fields;
	r->version = g->version;
}

/*
 * Run the guard over the input: split at split (0: no split), then in
 * pieces of step bytes (0: the rest whole).
 */
static void
fuzz_guard_run(struct fuzz_guard_run *r, const uint8_t *data, size_t size,
    size_t split, size_t step)
{
	struct http_guard	 g;
	enum http_guard_event	 ev;
	size_t			 off = 0, end, n, start = 0;

	memset(r, 0, sizeof(*r));
	r->ev = malloc((3 * size + 2) * sizeof(*r->ev));
	r->bytes = malloc((3 * size + 2) * sizeof(*r->bytes));
	if (r->ev == NULL || r->bytes == NULL)
		abort();
	http_guard_init(&g, &fuzz_guard_lim);
	while (off < size) {
		if (off < split)
			end = split;
		else if (step == 0 || size - off < step)
			end = size;
		else
			end = off + step;
		while (off < end) {
			n = http_guard_feed(&g, (const char *)data + off,
			    end - off, &ev);
			if (r->status != 0) {
				if (n != 0 || ev != HTTP_GUARD_ERROR)
					fuzz_guard_die("a feed after ERROR "
					    "took bytes");
				off = end;
				break;
			}
			if (n > end - off || (ev == HTTP_GUARD_MORE &&
			    n != end - off))
				fuzz_guard_die("MORE without taking all");
			off += n;
			if (ev == HTTP_GUARD_MORE)
				break;
			if (n == 0 && ev != HTTP_GUARD_ERROR)
				fuzz_guard_die("an event without a byte taken");
			fuzz_guard_event(r, &g, ev, off, &start);
		}
	}
}

/* Free a run. */
static void
fuzz_guard_run_free(struct fuzz_guard_run *r)
{
	free(r->ev);
	free(r->bytes);
}

/* Two runs must have reported the same. */
static void
fuzz_guard_same(const struct fuzz_guard_run *a, const struct fuzz_guard_run *b,
    const char *how)
{
	char	why[128];
	size_t	i;

	snprintf(why, sizeof(why), "whole and %s differ", how);
	if (a->nev != b->nev || a->status != b->status ||
	    strcmp(a->code, b->code) != 0)
		fuzz_guard_die(why);
	for (i = 0; i < a->nev; i++) {
		if (a->ev[i] != b->ev[i] || a->bytes[i] != b->bytes[i])
			fuzz_guard_die(why);
	}
}

/* The evhttp command for a method the guard accepted. */
static enum evhttp_cmd_type
fuzz_guard_command(const char *method)
{
	static const struct {
		const char		*name;
		enum evhttp_cmd_type	 type;
	} t[] = {
		{ "GET", EVHTTP_REQ_GET }, { "HEAD", EVHTTP_REQ_HEAD },
		{ "POST", EVHTTP_REQ_POST }, { "PUT", EVHTTP_REQ_PUT },
		{ "DELETE", EVHTTP_REQ_DELETE },
		{ "OPTIONS", EVHTTP_REQ_OPTIONS },
		{ "TRACE", EVHTTP_REQ_TRACE },
		{ "CONNECT", EVHTTP_REQ_CONNECT },
		{ "PATCH", EVHTTP_REQ_PATCH },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(method, t[i].name) == 0)
			return (t[i].type);
	}
	fuzz_guard_die("the guard accepted an unknown method");
	return (EVHTTP_REQ_GET);
}

/*
 * The head bytes to give evhttp, in out.  evhttp 2.1.12 looks an absolute
 * http(s) target's host up in req->evcon->http_server, which a request
 * parsed on its own does not have; that look-up only marks a proxy
 * request.  So such a target is checked here with the URI parser evhttp
 * uses, and replaced by "/" in the copy.
 */
static void
fuzz_guard_head(const uint8_t *head, size_t len, int connect,
    struct evbuffer *out)
{
	const uint8_t		*lf, *sp1, *sp2;
	struct evhttp_uri	*uri;
	const char		*scheme;
	char			*target;
	size_t			 tlen;

	lf = memchr(head, '\n', len);
	sp1 = lf != NULL ? memchr(head, ' ', (size_t)(lf - head)) : NULL;
	if (sp1 == NULL)
		fuzz_guard_die("an accepted request line has no SP");
	for (sp2 = lf; sp2 > sp1 && *sp2 != ' '; sp2--)
		;
	if (sp2 == sp1)
		fuzz_guard_die("an accepted request line has one SP");
	if (connect) {
		evbuffer_add(out, head, len);
		return;
	}
	tlen = (size_t)(sp2 - sp1) - 1;
	if ((target = malloc(tlen + 1)) == NULL)
		abort();
	memcpy(target, sp1 + 1, tlen);
	target[tlen] = '\0';
	uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
	free(target);
	if (uri == NULL)
		fuzz_guard_die("evhttp refuses a request target the guard "
		    "accepts");
	scheme = evhttp_uri_get_scheme(uri);
	if (scheme != NULL && (evutil_ascii_strcasecmp(scheme, "http") == 0 ||
	    evutil_ascii_strcasecmp(scheme, "https") == 0) &&
	    evhttp_uri_get_host(uri) != NULL) {
		evbuffer_add(out, head, (size_t)(sp1 - head) + 1);
		evbuffer_add(out, "/", 1);
		evbuffer_add(out, sp2, len - (size_t)(sp2 - head));
	} else
		evbuffer_add(out, head, len);
	evhttp_uri_free(uri);
}

/* evhttp must read the head the guard accepted the same way. */
static void
fuzz_guard_libevent(const struct fuzz_guard_run *r, const uint8_t *data)
{
	struct evhttp_request	*req;
	struct evbuffer		*buf;
	struct evkeyvalq	*headers;
	struct evkeyval		*h;
	const char		*cl, *te;
	char			*endp;
	ev_int64_t		 n;
	unsigned		 fields = 0;
	int			 chunked;

	if ((req = evhttp_request_new(NULL, NULL)) == NULL ||
	    (buf = evbuffer_new()) == NULL)
		abort();
	req->kind = EVHTTP_REQUEST;
	fuzz_guard_head(data, r->head_len, strcmp(r->method, "CONNECT") == 0,
	    buf);
	if (evhttp_parse_firstline_(req, buf) != ALL_DATA_READ)
		fuzz_guard_die("evhttp refuses a request line the guard "
		    "accepts");
	if (evhttp_parse_headers_(req, buf) != ALL_DATA_READ)
		fuzz_guard_die("evhttp refuses header fields the guard "
		    "accepts");
	if (evbuffer_get_length(buf) != 0)
		fuzz_guard_die("evhttp's head ends elsewhere");
	if (evhttp_request_get_command(req) != fuzz_guard_command(r->method))
		fuzz_guard_die("evhttp reads another method");
	if (req->major != 1 || req->minor != (r->version == 11 ? 1 : 0))
		fuzz_guard_die("evhttp reads another version");
	headers = evhttp_request_get_input_headers(req);
	for (h = headers->tqh_first; h != NULL; h = h->next.tqe_next)
		fields++;
	if (fields != r->fields)
		fuzz_guard_die("evhttp reads another number of fields");
	/* Framing as evhttp_get_body reads it. */
	te = evhttp_find_header(headers, "Transfer-Encoding");
	chunked = te != NULL && evutil_ascii_strcasecmp(te, "chunked") == 0;
	if (chunked != r->chunked)
		fuzz_guard_die("evhttp reads chunked framing differently");
	cl = evhttp_find_header(headers, "Content-Length");
	if (r->chunked) {
		if (cl != NULL)
			fuzz_guard_die("chunked with a Content-Length");
	} else if (cl == NULL) {
		if (r->length != 0)
			fuzz_guard_die("a length without a Content-Length");
	} else {
		n = evutil_strtoll(cl, &endp, 10);
		if (*cl == '\0' || *endp != '\0' || n < 0)
			fuzz_guard_die("evhttp refuses a Content-Length the "
			    "guard accepts");
		if ((uint64_t)n != r->length)
			fuzz_guard_die("evhttp reads another Content-Length");
	}
	evhttp_request_free(req);
	evbuffer_free(buf);
}

/* A pseudo-random number derived from the input (FNV-1a). */
static uint64_t
fuzz_guard_hash(const uint8_t *data, size_t size)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ULL;
	return (h);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_guard_run	whole, split, pieces;
	uint64_t		h;

	fuzz_guard_data = data;
	fuzz_guard_size = size;
	h = fuzz_guard_hash(data, size);
	fuzz_guard_run(&whole, data, size, 0, 0);
	fuzz_guard_run(&split, data, size, (size_t)(h % (size + 1)), 0);
	fuzz_guard_same(&whole, &split, "split in two");
	if (size <= 512) {
		fuzz_guard_run(&pieces, data, size, 0, 1);
		fuzz_guard_same(&whole, &pieces, "byte by byte");
	} else {
		fuzz_guard_run(&pieces, data, size, 0,
		    (size_t)((h >> 32) % 61) + 2);
		fuzz_guard_same(&whole, &pieces, "in pieces");
	}
	if (whole.head_ok)
		fuzz_guard_libevent(&whole, data);
	fuzz_guard_run_free(&whole);
	fuzz_guard_run_free(&split);
	fuzz_guard_run_free(&pieces);
	return (0);
}
