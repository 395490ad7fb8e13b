/*
 * check_http_guard: the strict check of a client's request stream in front
 * of evhttp: what it accepts, what it refuses and with which status, the
 * events it reports, and that none of it depends on how the stream is
 * split into reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "check_util.h"
#include "http_guard.h"

/* Events one run may record. */
#define CHECK_GUARD_EVENTS	64

/* A string literal and its length (it may hold NULs). */
#define CG(s)			(s), sizeof(s) - 1

/* Heads most cases build on. */
#define CG_GET11		"GET / HTTP/1.1\r\nHost: a\r\n"
#define CG_POST11		"POST / HTTP/1.1\r\nHost: a\r\n"
#define CG_CHUNKED		CG_POST11 "Transfer-Encoding: chunked\r\n\r\n"

/* What a stream fed through the guard gave. */
struct check_guard_run {
	struct http_guard	 g;
	enum http_guard_event	 ev[CHECK_GUARD_EVENTS];
	uint64_t		 bytes[CHECK_GUARD_EVENTS]; /* g.bytes then */
	size_t			 nev;
	size_t			 taken;	/* bytes taken in all */
	int			 status;	/* of the error, or 0 */
	char			 code[64];
	char			 text[1024];	/* all of it, as text */
};

/* A stream the guard must refuse, and how. */
struct check_guard_refusal {
	const char		*text;
	size_t			 len;
	int			 status;
	const char		*code;
};

/* The limits most cases use. */
static const struct http_guard_limits check_guard_lim = { 8192, 1048576 };

/* Start a run with limits lim (NULL for the usual ones). */
static void
check_guard_begin(struct check_guard_run *r,
    const struct http_guard_limits *lim)
{
	memset(r, 0, sizeof(*r));
	http_guard_init(&r->g, lim != NULL ? lim : &check_guard_lim);
	ck_assert_int_eq(r->g.phase, HTTP_GUARD_IDLE);
}

/*
 * Feed one piece of the stream in as many calls as the guard needs,
 * recording each event and g.bytes with it.  Checks the feed's contract:
 * MORE means all was taken, and after ERROR nothing is.
 */
static void
check_guard_piece(struct check_guard_run *r, const char *p, size_t len)
{
	enum http_guard_event	ev;
	size_t			n;

	if (r->status != 0) {
		n = http_guard_feed(&r->g, p, len, &ev);
		ck_assert_uint_eq(n, 0);
		ck_assert_int_eq(ev, HTTP_GUARD_ERROR);
		return;
	}
	while (len > 0) {
		n = http_guard_feed(&r->g, p, len, &ev);
		ck_assert_uint_le(n, len);
		r->taken += n;
		if (ev == HTTP_GUARD_MORE) {
			ck_assert_uint_eq(n, len);
			return;
		}
		ck_assert_uint_lt(r->nev, CHECK_GUARD_EVENTS);
		r->ev[r->nev] = ev;
		r->bytes[r->nev++] = r->g.bytes;
		if (ev == HTTP_GUARD_ERROR) {
			ck_assert_int_eq(r->g.phase, HTTP_GUARD_FAILED);
			ck_assert_int_ne(r->g.error.status, 0);
			r->status = r->g.error.status;
			snprintf(r->code, sizeof(r->code), "%s",
			    r->g.error.code);
			return;
		}
		ck_assert_uint_gt(n, 0);
		p += n;
		len -= n;
	}
}

/*
 * The run as text: each event and g.bytes with it ("S1 H45 C50"), an error
 * as its status and code ("E400:bad_request").  Byte counts at an error
 * are left out: how far a refused stream was read may depend on its reads.
 */
static const char *
check_guard_text(struct check_guard_run *r)
{
	size_t	i, o = 0;
	char	c;

	r->text[0] = '\0';
	for (i = 0; i < r->nev && o < sizeof(r->text); i++) {
		if (r->ev[i] == HTTP_GUARD_ERROR) {
			o += (size_t)snprintf(r->text + o, sizeof(r->text) - o,
			    "%sE%d:%s", i > 0 ? " " : "", r->status, r->code);
			continue;
		}
		c = r->ev[i] == HTTP_GUARD_STARTED ? 'S' :
		    r->ev[i] == HTTP_GUARD_HEAD_DONE ? 'H' :
		    r->ev[i] == HTTP_GUARD_COMPLETE ? 'C' : '?';
		o += (size_t)snprintf(r->text + o, sizeof(r->text) - o,
		    "%s%c%llu", i > 0 ? " " : "", c,
		    (unsigned long long)r->bytes[i]);
	}
	return (r->text);
}

/* Feed text in pieces of step bytes (0: all at once). */
static const char *
check_guard_step(struct check_guard_run *r,
    const struct http_guard_limits *lim, const char *text, size_t len,
    size_t step)
{
	size_t	off, n;

	check_guard_begin(r, lim);
	for (off = 0; off < len; off += n) {
		n = step == 0 || len - off < step ? len - off : step;
		check_guard_piece(r, text + off, n);
	}
	return (check_guard_text(r));
}

/* Feed text in two pieces, split at split. */
static const char *
check_guard_split(struct check_guard_run *r,
    const struct http_guard_limits *lim, const char *text, size_t len,
    size_t split)
{
	check_guard_begin(r, lim);
	check_guard_piece(r, text, split);
	check_guard_piece(r, text + split, len - split);
	return (check_guard_text(r));
}

/*
 * text gives the same run whole, byte by byte and split in two at every
 * point; returns the whole run's text in r.
 */
static void
check_guard_same_split(struct check_guard_run *r,
    const struct http_guard_limits *lim, const char *text, size_t len)
{
	struct check_guard_run	*o;
	char			 shown[1024];
	size_t			 split;

	o = malloc(sizeof(*o));
	ck_assert_ptr_nonnull(o);
	check_show(text, len, shown, sizeof(shown));
	check_guard_step(r, lim, text, len, 0);
	check_guard_step(o, lim, text, len, 1);
	ck_assert_msg(strcmp(r->text, o->text) == 0, "\"%s\": whole \"%s\", "
	    "byte by byte \"%s\"", shown, r->text, o->text);
	for (split = 0; split <= len; split++) {
		check_guard_split(o, lim, text, len, split);
		ck_assert_msg(strcmp(r->text, o->text) == 0, "\"%s\": whole "
		    "\"%s\", split at %zu \"%s\"", shown, r->text, split,
		    o->text);
	}
	free(o);
}

/* text, fed whole and byte by byte, gives exactly the run want. */
static void
check_guard_expect(const struct http_guard_limits *lim, const char *text,
    size_t len, const char *want)
{
	struct check_guard_run	*r;
	char			 shown[1024];
	size_t			 step;

	r = malloc(sizeof(*r));
	ck_assert_ptr_nonnull(r);
	check_show(text, len, shown, sizeof(shown));
	for (step = 0; step < 2; step++) {
		check_guard_step(r, lim, text, len, step);
		ck_assert_msg(strcmp(r->text, want) == 0, "\"%s\" (pieces of "
		    "%zu): got \"%s\", want \"%s\"", shown, step, r->text,
		    want);
	}
	free(r);
}

/* A whole request without a body: STARTED, then COMPLETE at its end. */
static void
check_guard_bodyless(const char *text, size_t len)
{
	char	want[64];

	snprintf(want, sizeof(want), "S1 C%zu", len);
	check_guard_expect(NULL, text, len, want);
}

/* A whole request with a body after headlen bytes of head. */
static void
check_guard_body(const char *text, size_t len, size_t headlen)
{
	char	want[64];

	snprintf(want, sizeof(want), "S1 H%zu C%zu", headlen, len);
	check_guard_expect(NULL, text, len, want);
}

/* A whole request with a body: its head ends at the first blank line. */
static void
check_guard_body_auto(const char *text, size_t len)
{
	const char	*crlf = strstr(text, "\r\n\r\n");
	const char	*lf = strstr(text, "\n\n");
	size_t		 head;

	ck_assert(crlf != NULL || lf != NULL);
	if (crlf != NULL && (lf == NULL || crlf < lf))
		head = (size_t)(crlf - text) + 4;
	else
		head = (size_t)(lf - text) + 2;
	check_guard_body(text, len, head);
}

/*
 * text is refused with status and code, fed whole and byte by byte, before
 * any request of it completes; the error is one the client can read.
 */
static void
check_guard_refused(const struct http_guard_limits *lim, const char *text,
    size_t len, int status, const char *code)
{
	struct check_guard_run	*r;
	char			 shown[1024], want[96];
	size_t			 step, wl, tl;

	r = malloc(sizeof(*r));
	ck_assert_ptr_nonnull(r);
	check_show(text, len, shown, sizeof(shown));
	snprintf(want, sizeof(want), "E%d:%s", status, code);
	wl = strlen(want);
	for (step = 0; step < 2; step++) {
		check_guard_step(r, lim, text, len, step);
		tl = strlen(r->text);
		ck_assert_msg(tl >= wl &&
		    strcmp(r->text + tl - wl, want) == 0 &&
		    strchr(r->text, 'C') == NULL, "\"%s\" (pieces of %zu): "
		    "got \"%s\", want ending in \"%s\"", shown, step, r->text,
		    want);
		ck_assert_int_eq(r->g.phase, HTTP_GUARD_FAILED);
		ck_assert_int_eq(r->g.error.status, status);
		ck_assert_str_eq(r->g.error.code, code);
		ck_assert_str_eq(r->g.error.type, "invalid_request_error");
		ck_assert_uint_gt(strlen(r->g.error.message), 0);
		ck_assert_int_eq(r->g.error.retry_after, 0);
	}
	free(r);
}

/* Each of a table of refusals. */
static void
check_guard_refusals(const struct http_guard_limits *lim,
    const struct check_guard_refusal *t, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		check_guard_refused(lim, t[i].text, t[i].len, t[i].status,
		    t[i].code);
}

/* A table entry. */
#define CG_REFUSE(s, st, c)	{ (s), sizeof(s) - 1, (st), (c) }
#define CG_400(s)		CG_REFUSE(s, 400, "bad_request")
#define CG_NELEM(t)		(sizeof(t) / sizeof((t)[0]))

/* A GET with Host is one request, of exactly its bytes. */
START_TEST(check_http_guard_accepts_get)
{
	static const char	 req[] = "GET /v1/models HTTP/1.1\r\n"
	    "Host: localhost:8080\r\nUser-Agent: curl/8.0\r\n"
	    "Accept: */*\r\n\r\n";
	struct check_guard_run	 r;

	check_guard_bodyless(CG(req));
	check_guard_step(&r, NULL, CG(req), 0);
	ck_assert_int_eq(r.g.phase, HTTP_GUARD_IDLE);
	ck_assert_str_eq(r.g.method, "GET");
	ck_assert_int_eq(r.g.version, 11);
	ck_assert_uint_eq(r.g.fields, 3);
	ck_assert_uint_eq(r.g.bytes, sizeof(req) - 1);
	ck_assert_uint_eq(r.taken, sizeof(req) - 1);
}
END_TEST

/* A POST whose Content-Length ends its fields has exactly that body. */
START_TEST(check_http_guard_accepts_post_body)
{
	static const char	 req[] =
	    "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: a\r\nContent-Type: application/json\r\n"
	    "Content-Length: 2\r\n\r\n{}";
	struct check_guard_run	 r;

	check_guard_body(CG(req), sizeof(req) - 3);
	check_guard_step(&r, NULL, CG(req), 0);
	ck_assert_str_eq(r.g.method, "POST");
	ck_assert_uint_eq(r.g.length, 2);
	ck_assert_int_eq(r.g.have_length, 1);
	ck_assert_int_eq(r.g.phase, HTTP_GUARD_IDLE);
	check_guard_body_auto(CG("PUT /x HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 10\r\n\r\n0123456789"));
	check_guard_body_auto(CG("PATCH /x HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 1\r\n\r\nx"));
}
END_TEST

/* A Content-Length followed by other fields still frames the body. */
START_TEST(check_http_guard_length_before_other_fields)
{
	static const char	 req[] = "POST / HTTP/1.1\r\n"
	    "Content-Length: 5\r\nHost: a\r\n\r\nhello";

	check_guard_body(CG(req), sizeof(req) - 6);
}
END_TEST

/* HEAD with a Content-Length > 0 is refused wherever the field is. */
START_TEST(check_http_guard_head_length_before_other_fields)
{
	check_guard_refused(NULL, CG("HEAD / HTTP/1.1\r\n"
	    "Content-Length: 5\r\nHost: a\r\n\r\n"), 400, "bad_request");
}
END_TEST

/* Content-Length: 0, on POST or HEAD, is a request without a body. */
START_TEST(check_http_guard_accepts_empty_bodies)
{
	check_guard_bodyless(CG(CG_POST11 "Content-Length: 0\r\n\r\n"));
	check_guard_bodyless(CG(CG_POST11 "Content-Length: 000\r\n\r\n"));
	check_guard_bodyless(CG("HEAD / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 0\r\n\r\n"));
	check_guard_bodyless(CG("TRACE / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 0\r\n\r\n"));
	check_guard_bodyless(CG("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"));
	check_guard_bodyless(CG("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n"));
}
END_TEST

/* HTTP/1.0 needs no Host, and its Expect is not looked at. */
START_TEST(check_http_guard_accepts_http10)
{
	struct check_guard_run	r;

	check_guard_bodyless(CG("GET / HTTP/1.0\r\n\r\n"));
	check_guard_step(&r, NULL, CG("GET / HTTP/1.0\r\n\r\n"), 0);
	ck_assert_int_eq(r.g.version, 10);
	check_guard_bodyless(CG("GET / HTTP/1.0\r\nExpect: 999\r\n\r\n"));
	check_guard_body_auto(CG("POST / HTTP/1.0\r\nContent-Length: 3\r\n"
	    "\r\nabc"));
	check_guard_bodyless(CG("GET / HTTP/1.0\r\nHost: a\r\n\r\n"));
}
END_TEST

/* Lines may end in a bare LF, anywhere in the head. */
START_TEST(check_http_guard_accepts_bare_lf)
{
	check_guard_bodyless(CG("GET / HTTP/1.1\nHost: a\n\n"));
	check_guard_bodyless(CG("GET / HTTP/1.1\r\nHost: a\n\r\n"));
	check_guard_bodyless(CG("GET / HTTP/1.1\nHost: a\r\n\n"));
	check_guard_body(CG("POST / HTTP/1.1\nHost: a\n"
	    "Content-Length: 3\n\nabc"), 43);
}
END_TEST

/* Origin, absolute, asterisk and authority forms of the target. */
START_TEST(check_http_guard_accepts_target_forms)
{
	check_guard_bodyless(CG("GET http://example.com:80/v1/models?x=1 "
	    "HTTP/1.1\r\nHost: example.com:80\r\n\r\n"));
	check_guard_bodyless(CG("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"));
	check_guard_bodyless(CG("GET /a%20b/c?d=e&f=g#h HTTP/1.1\r\n"
	    "Host: a\r\n\r\n"));
	check_guard_bodyless(CG("GET /~!$&'()*+,;=:@[]{}|^`\"<>\\ HTTP/1.1\r\n"
	    "Host: a\r\n\r\n"));
	check_guard_bodyless(CG("GET HTTPS://[::1]:8443 HTTP/1.1\r\n"
	    "Host: a\r\n\r\n"));
	check_guard_bodyless(CG("GET http://a.b-c_d~e:0?q HTTP/1.1\r\n"
	    "Host: a\r\n\r\n"));
	check_guard_bodyless(CG("GET http://a:65535/ HTTP/1.1\r\n"
	    "Host: a\r\n\r\n"));
}
END_TEST

/*
 * Targets libevent would not parse as a URI (and would answer with its
 * own HTML page) are refused by the guard, and CONNECT is not served.
 * Found by fuzz_http_guard against libevent's parser.
 */
START_TEST(check_http_guard_refuses_target_forms)
{
#define CG_T(t)	CG_400("GET " t " HTTP/1.1\r\nHost: a\r\n\r\n")
	static const struct check_guard_refusal t[] = {
		CG_T(":a"), CG_T("h[ttp://a/"), CG_T("%Host:/a"), CG_T("a"),
		CG_T("//a%zz"), CG_T("//:x"), CG_T("//a]"), CG_T("//a"),
		CG_T("http://a:99999/"), CG_T("http://e%ample.com/"),
		CG_T("http://"), CG_T("http://:80/"), CG_T("http://u@a/"),
		CG_T("http://a:/"), CG_T("http://a:8x/"), CG_T("http://[::g]/"),
		CG_T("http://[::1/"), CG_T("ftp://a/"), CG_T("*"),
		CG_REFUSE("CONNECT example.com:443 HTTP/1.1\r\nHost: "
		    "example.com:443\r\n\r\n", 501, "not_implemented"),
		CG_REFUSE("CONNECT a@b@c HTTP/1.1\r\nHost: a\r\n\r\n", 501,
		    "not_implemented"),
	};
#undef CG_T

	check_guard_refusals(&check_guard_lim, t, CG_NELEM(t));
}
END_TEST

/* Field values may hold obs-text, tabs and spaces, and be empty. */
START_TEST(check_http_guard_accepts_value_bytes)
{
	check_guard_bodyless(CG(CG_GET11 "X-Name: caf\xc3\xa9 \x80\xff\r\n"
	    "\r\n"));
	check_guard_bodyless(CG(CG_GET11 "X-Tabs: a\tb \t c\t\r\n\r\n"));
	check_guard_bodyless(CG(CG_GET11 "X-Empty:\r\nX-Spaces:   \r\n\r\n"));
	check_guard_bodyless(CG(CG_GET11 "X-Lead:\tvalue\r\n\r\n"));
	check_guard_bodyless(CG(CG_GET11 "!#$%&'*+-.^_`|~09azAZ: x\r\n\r\n"));
	check_guard_bodyless(CG(CG_GET11 "X-Colons: a:b::c\r\n\r\n"));
	check_guard_bodyless(CG("GET / HTTP/1.1\r\nHost:\r\n\r\n"));
	check_guard_bodyless(CG("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"));
	check_guard_bodyless(CG("GET / HTTP/1.1\r\nhOsT: a \t\r\n\r\n"));
}
END_TEST

/* Content-Length takes leading SP, trailing SP/HTAB, leading zeros. */
START_TEST(check_http_guard_accepts_length_whitespace)
{
	struct check_guard_run	r;

	check_guard_body_auto(CG(CG_POST11 "Content-Length:5\r\n\r\nhello"));
	check_guard_body_auto(CG(CG_POST11 "Content-Length:    5\r\n\r\n"
	    "hello"));
	check_guard_body_auto(CG(CG_POST11 "Content-Length: 5 \t \r\n\r\n"
	    "hello"));
	check_guard_body_auto(CG(CG_POST11 "Content-Length: 5\t\r\n\r\n"
	    "hello"));
	check_guard_body_auto(CG(CG_POST11 "content-LENGTH: 0005\r\n\r\n"
	    "hello"));
	check_guard_step(&r, NULL, CG(CG_POST11 "Content-Length:  12 \r\n"
	    "\r\nhello world!"), 0);
	ck_assert_uint_eq(r.g.length, 12);
}
END_TEST

/* Expect: 100-continue, in any case, is accepted. */
START_TEST(check_http_guard_accepts_expect)
{
	check_guard_body_auto(CG(CG_POST11 "Expect: 100-continue\r\n"
	    "Content-Length: 2\r\n\r\n{}"));
	check_guard_body_auto(CG(CG_POST11 "expect: 100-Continue \r\n"
	    "Content-Length: 2\r\n\r\n{}"));
	check_guard_bodyless(CG(CG_GET11 "EXPECT: 100-CONTINUE\r\n\r\n"));
}
END_TEST

/* Transfer-Encoding: chunked, in any case, with strict chunked bodies. */
START_TEST(check_http_guard_accepts_chunked)
{
	struct check_guard_run	r;

	check_guard_body_auto(CG(CG_CHUNKED "5\r\nhello\r\n0\r\n\r\n"));
	check_guard_body_auto(CG(CG_CHUNKED "5\nhello\n0\n\n"));
	check_guard_body_auto(CG(CG_CHUNKED "5\r\nhello\n0\n\r\n"));
	check_guard_body_auto(CG(CG_CHUNKED "A\r\n0123456789\r\n0\r\n\r\n"));
	check_guard_body_auto(CG(CG_CHUNKED "a\r\n0123456789\r\n0\r\n\r\n"));
	check_guard_body_auto(CG(CG_CHUNKED "1F\r\n"
	    "0123456789abcdef0123456789abcde\r\n0\r\n\r\n"));
	check_guard_body_auto(CG(CG_CHUNKED "0005\r\nhello\r\n000\r\n\r\n"));
	check_guard_body_auto(CG(CG_CHUNKED "5\r\nhello\r\n6\r\n world\r\n"
	    "0\r\n\r\n"));
	check_guard_body_auto(CG(CG_CHUNKED "0\r\n\r\n"));
	check_guard_body_auto(CG(CG_POST11 "Transfer-Encoding: Chunked\r\n"
	    "\r\n5\r\nhello\r\n0\r\n\r\n"));
	check_guard_body_auto(CG(CG_POST11 "transfer-encoding:CHUNKED \t\r\n"
	    "\r\n5\r\nhello\r\n0\r\n\r\n"));
	check_guard_step(&r, NULL, CG(CG_CHUNKED "5\r\nhello\r\n"
	    "6\r\n world\r\n0\r\n\r\n"), 0);
	ck_assert_int_eq(r.g.have_chunked, 1);
	ck_assert_uint_eq(r.g.chunk.body, 11);
}
END_TEST

/* A request without a body: STARTED on its first byte, then COMPLETE. */
START_TEST(check_http_guard_events_bodyless)
{
	static const char	 req[] = CG_GET11 "\r\n";
	struct http_guard	 g;
	enum http_guard_event	 ev;

	http_guard_init(&g, &check_guard_lim);
	ck_assert_uint_eq(http_guard_feed(&g, "", 0, &ev), 0);
	ck_assert_int_eq(ev, HTTP_GUARD_MORE);
	ck_assert_int_eq(g.phase, HTTP_GUARD_IDLE);
	ck_assert_uint_eq(http_guard_feed(&g, CG(req), &ev), 1);
	ck_assert_int_eq(ev, HTTP_GUARD_STARTED);
	ck_assert_uint_eq(g.bytes, 1);
	ck_assert_int_eq(g.phase, HTTP_GUARD_HEAD);
	ck_assert_uint_eq(http_guard_feed(&g, "", 0, &ev), 0);
	ck_assert_int_eq(ev, HTTP_GUARD_MORE);
	ck_assert_uint_eq(http_guard_feed(&g, req + 1, sizeof(req) - 2, &ev),
	    sizeof(req) - 2);
	ck_assert_int_eq(ev, HTTP_GUARD_COMPLETE);
	ck_assert_uint_eq(g.bytes, sizeof(req) - 1);
	ck_assert_uint_eq(g.head, sizeof(req) - 1);
	ck_assert_int_eq(g.phase, HTTP_GUARD_IDLE);
}
END_TEST

/* A request with a body: STARTED, HEAD_DONE at the blank line, COMPLETE. */
START_TEST(check_http_guard_events_body)
{
	static const char	 req[] = CG_POST11 "Content-Length: 5\r\n\r\n"
	    "helloGET";
	const size_t		 head = sizeof(req) - 1 - 8;
	struct http_guard	 g;
	enum http_guard_event	 ev;

	http_guard_init(&g, &check_guard_lim);
	ck_assert_uint_eq(http_guard_feed(&g, CG(req), &ev), 1);
	ck_assert_int_eq(ev, HTTP_GUARD_STARTED);
	ck_assert_uint_eq(http_guard_feed(&g, req + 1, sizeof(req) - 2, &ev),
	    head - 1);
	ck_assert_int_eq(ev, HTTP_GUARD_HEAD_DONE);
	ck_assert_uint_eq(g.bytes, head);
	ck_assert_int_eq(g.phase, HTTP_GUARD_BODY);
	ck_assert_uint_eq(g.left, 5);
	ck_assert_uint_eq(http_guard_feed(&g, req + head, 3, &ev), 3);
	ck_assert_int_eq(ev, HTTP_GUARD_MORE);
	ck_assert_uint_eq(g.left, 2);
	ck_assert_uint_eq(g.bytes, head + 3);
	/* The body's end is where the feed stops, not at the input's end. */
	ck_assert_uint_eq(http_guard_feed(&g, req + head + 3, 5, &ev), 2);
	ck_assert_int_eq(ev, HTTP_GUARD_COMPLETE);
	ck_assert_uint_eq(g.bytes, head + 5);
	ck_assert_int_eq(g.phase, HTTP_GUARD_IDLE);
}
END_TEST

/* After COMPLETE the next byte is the first of the next request. */
START_TEST(check_http_guard_next_byte_starts)
{
	static const char	 req[] = CG_GET11 "\r\n" "P";
	struct http_guard	 g;
	enum http_guard_event	 ev;
	size_t			 n;

	http_guard_init(&g, &check_guard_lim);
	n = http_guard_feed(&g, CG(req), &ev);
	ck_assert_int_eq(ev, HTTP_GUARD_STARTED);
	n += http_guard_feed(&g, req + n, sizeof(req) - 1 - n, &ev);
	ck_assert_int_eq(ev, HTTP_GUARD_COMPLETE);
	ck_assert_uint_eq(n, sizeof(req) - 2);
	ck_assert_uint_eq(g.bytes, sizeof(req) - 2);
	ck_assert_uint_eq(http_guard_feed(&g, req + n, 1, &ev), 1);
	ck_assert_int_eq(ev, HTTP_GUARD_STARTED);
	ck_assert_uint_eq(g.bytes, 1);
	ck_assert_uint_eq(g.head, 1);
	ck_assert_int_eq(g.phase, HTTP_GUARD_HEAD);
	ck_assert_uint_eq(g.fields, 0);
	ck_assert_int_eq(g.have_host, 0);
}
END_TEST

/* Pipelined requests in one buffer give each one's events in order. */
START_TEST(check_http_guard_pipelined)
{
	static const char	 req[] =
	    "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"			/* 28 */
	    "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
	    /* 48 + 3 */
	    CG_CHUNKED "5\r\nhello\r\n0\r\n\r\n"		/* 56 + 15 */
	    "HEAD /d HTTP/1.0\n\n"				/* 18 */
	    "GET /e";
	struct check_guard_run	 r;

	check_guard_expect(NULL, CG(req),
	    "S1 C28 S1 H48 C51 S1 H56 C71 S1 C18 S1");
	check_guard_step(&r, NULL, CG(req), 0);
	ck_assert_uint_eq(r.taken, sizeof(req) - 1);
	ck_assert_int_eq(r.g.phase, HTTP_GUARD_HEAD);
	ck_assert_uint_eq(r.g.bytes, 6);
}
END_TEST

/* Whole, byte by byte and split anywhere, streams give the same run. */
START_TEST(check_http_guard_split_independent)
{
	static const struct {
		const char	*text;
		size_t		 len;
		const char	*want;
	} t[] = {
		{ CG(CG_GET11 "\r\n"), "S1 C27" },
		{ CG(CG_POST11 "Content-Length: 5\r\n\r\nhello"),
		    "S1 H47 C52" },
		{ CG(CG_CHUNKED "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
		    "S1 H56 C82" },
		{ CG(CG_CHUNKED "5\nhello\nA\r\n0123456789\n00\n\n"
		    "GET / HTTP/1.0\n\n"), "S1 H56 C82 S1 C16" },
		{ CG(CG_GET11 "\r\n" CG_POST11 "Content-Length: 1\r\n\r\nx"
		    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nGE"),
		    "S1 C27 S1 H47 C48 S1 C31 S1" },
		{ CG(CG_GET11 "Content-Length: 1\r\nContent-Length: 1\r\n\r\n"
		    "x"), "S1 E400:bad_request" },
		{ CG(CG_GET11 "X: a\r\n b\r\n\r\n"), "S1 E400:bad_request" },
		{ CG(CG_GET11 "X: a\rb\r\n\r\n"), "S1 E400:bad_request" },
		{ CG(CG_CHUNKED "5;a=b\r\nhello\r\n0\r\n\r\n"),
		    "S1 H56 E400:bad_request" },
		{ CG(CG_CHUNKED "5\r\nhello\r\n0\r\nX: y\r\n\r\n"),
		    "S1 H56 E400:bad_request" },
		{ CG(CG_POST11 "Transfer-Encoding: gzip\r\n\r\n"),
		    "S1 E501:not_implemented" },
		{ CG(CG_GET11 "Expect: 999\r\n\r\n"),
		    "S1 E417:expectation_failed" },
		{ CG(CG_POST11 "Content-Length: 1048577\r\n\r\n"),
		    "S1 E413:request_too_large" },
		{ CG("GET / HTTP/2.0\r\n\r\n"),
		    "S1 E505:http_version_not_supported" },
		{ CG(CG_GET11 "\r\n" "\r\n" CG_GET11 "\r\n"),
		    "S1 C27 E400:bad_request" },
		{ CG(CG_GET11 "\r\n" "FOO / HTTP/1.1\r\n"),
		    "S1 C27 S1 E501:not_implemented" },
		{ CG(CG_CHUNKED "5\r\nhello\r\n0\r\n\r\n" CG_CHUNKED
		    "zz\r\n"), "S1 H56 C71 S1 H56 E400:bad_request" },
	};
	static const struct http_guard_limits	 small = { 50, 8 };
	static const struct {
		const char	*text;
		size_t		 len;
		const char	*want;
	} lim[] = {
		{ CG("GET /0123456789012345678901234567890123456789 "
		    "HTTP/1.1\r\n"), "S1 E414:uri_too_long" },
		{ CG(CG_GET11 "X-Long: 012345678901234567890123456789\r\n"
		    "\r\n"),
		    "S1 E431:headers_too_large" },
		{ CG(CG_POST11 "Content-Length: 9\r\n\r\n123456789"),
		    "S1 E413:request_too_large" },
		{ CG(CG_POST11 "Content-Length: 8\r\n\r\n12345678"),
		    "S1 H47 C55" },
	};
	struct check_guard_run	 r;
	size_t			 i;

	for (i = 0; i < CG_NELEM(t); i++) {
		check_guard_same_split(&r, NULL, t[i].text, t[i].len);
		ck_assert_str_eq(r.text, t[i].want);
	}
	for (i = 0; i < CG_NELEM(lim); i++) {
		check_guard_same_split(&r, &small, lim[i].text, lim[i].len);
		ck_assert_str_eq(r.text, lim[i].want);
	}
}
END_TEST

/*
 * A chunked body over the limit that is also malformed is refused with
 * the same status however it is split.
 */
START_TEST(check_http_guard_split_chunked_limit)
{
	static const struct http_guard_limits	 small = { 8192, 4 };
	struct check_guard_run			 r;

	check_guard_same_split(&r, &small, CG(CG_CHUNKED "5\r\nhelloX"));
	check_guard_same_split(&r, &small, CG(CG_CHUNKED "5;x\r\nhello"));
	check_guard_same_split(&r, NULL, CG(CG_CHUNKED
	    "10000000000000000\r\n"));
}
END_TEST

/* Content-Length is one field of digits only. */
START_TEST(check_http_guard_refuses_content_length)
{
	static const struct check_guard_refusal	t[] = {
		CG_400(CG_POST11 "Content-Length: 5\r\nContent-Length: 5\r\n"
		    "\r\nhello"),
		CG_400(CG_POST11 "Content-Length: 5\r\nContent-Length: 6\r\n"
		    "\r\nhello!"),
		CG_400(CG_POST11 "Content-Length: 0\r\ncontent-length: 0\r\n"
		    "\r\n"),
		CG_400(CG_POST11 "Content-Length: +57\r\n\r\n"),
		CG_400(CG_POST11 "Content-Length: -1\r\n\r\n"),
		CG_400(CG_POST11 "Content-Length: 5, 5\r\n\r\nhello"),
		CG_400(CG_POST11 "Content-Length: 5,5\r\n\r\nhello"),
		CG_400(CG_POST11 "Content-Length: 0x10\r\n\r\n"),
		CG_400(CG_POST11 "Content-Length: \r\n\r\n"),
		CG_400(CG_POST11 "Content-Length:\r\n\r\n"),
		CG_400(CG_POST11 "Content-Length:   \t\r\n\r\n"),
		CG_400(CG_POST11 "Content-Length: 1 2\r\n\r\n"),
		CG_400(CG_POST11 "Content-Length: 1\t2\r\n\r\n"),
		CG_400(CG_POST11 "Content-Length:\t5\r\n\r\nhello"),
		CG_400(CG_POST11 "Content-Length: \t5\r\n\r\nhello"),
		CG_400(CG_POST11 "Content-Length: 5x\r\n\r\nhello"),
		CG_400(CG_POST11 "Content-Length: 5\xc2\xa0\r\n\r\nhello"),
	};

	check_guard_refusals(NULL, t, CG_NELEM(t));
}
END_TEST

/* Content-Length up to max_body is accepted; over it, 413. */
START_TEST(check_http_guard_content_length_limit)
{
	static const struct http_guard_limits	 lim = { 8192, 5 };
	static const struct check_guard_refusal	 t[] = {
		CG_REFUSE(CG_POST11 "Content-Length: 6\r\n\r\nhello!", 413,
		    "request_too_large"),
		CG_REFUSE(CG_POST11 "Content-Length: "
		    "123456789012345678901234567890\r\n\r\n", 413,
		    "request_too_large"),
		CG_REFUSE(CG_POST11 "Content-Length: 18446744073709551616\r\n"
		    "\r\n", 413, "request_too_large"),
		CG_REFUSE(CG_POST11 "Content-Length: "
		    "000000000000000000000000000006\r\n\r\n", 413,
		    "request_too_large"),
	};

	check_guard_expect(&lim, CG(CG_POST11 "Content-Length: 5\r\n\r\n"
	    "hello"), "S1 H47 C52");
	check_guard_expect(&lim, CG(CG_POST11 "Content-Length: "
	    "000000000000000000000000000005\r\n\r\nhello"), "S1 H76 C81");
	check_guard_refusals(&lim, t, CG_NELEM(t));
	check_guard_refused(NULL, CG(CG_POST11 "Content-Length: "
	    "123456789012345678901234567890\r\n\r\n"), 413,
	    "request_too_large");
	check_guard_refused(NULL, CG(CG_POST11 "Content-Length: 1048577\r\n"
	    "\r\n"), 413, "request_too_large");
	/* Exactly the limit: the head is accepted and the body awaited. */
	check_guard_expect(NULL, CG(CG_POST11 "Content-Length: 1048576\r\n"
	    "\r\nx"), "S1 H53");
}
END_TEST

/* Only one Transfer-Encoding: chunked, alone, in HTTP/1.1. */
START_TEST(check_http_guard_refuses_transfer_encoding)
{
	static const struct check_guard_refusal	t[] = {
		CG_400(CG_POST11 "Transfer-Encoding: chunked\r\n"
		    "Content-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_POST11 "Content-Length: 5\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_POST11 "Content-Length: 0\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
		CG_400("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhello\r\n0\r\n\r\n"),
		CG_400("POST / HTTP/1.0\r\nHost: a\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
		CG_REFUSE(CG_POST11 "Transfer-Encoding: gzip\r\n\r\n", 501,
		    "not_implemented"),
		CG_REFUSE(CG_POST11 "Transfer-Encoding: gzip, chunked\r\n\r\n",
		    501, "not_implemented"),
		CG_REFUSE(CG_POST11 "Transfer-Encoding: chunked, chunked\r\n"
		    "\r\n", 501, "not_implemented"),
		CG_REFUSE(CG_POST11 "Transfer-Encoding: chunkedx\r\n\r\n",
		    501, "not_implemented"),
		CG_REFUSE(CG_POST11 "Transfer-Encoding: \r\n\r\n", 501,
		    "not_implemented"),
		CG_REFUSE(CG_POST11 "Transfer-Encoding: identity\r\n\r\n", 501,
		    "not_implemented"),
		CG_400(CG_POST11 "Transfer-Encoding: chunked\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
		CG_400(CG_POST11 "Transfer-Encoding:\tchunked\r\n\r\n"
		    "0\r\n\r\n"),
	};

	check_guard_refusals(NULL, t, CG_NELEM(t));
}
END_TEST

/* HTTP/1.1 needs exactly one Host, of host and port characters. */
START_TEST(check_http_guard_refuses_host)
{
	static const struct check_guard_refusal	t[] = {
		CG_400("GET / HTTP/1.1\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"),
		CG_400("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nHost:\ta\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nHost: a\xc3\xa9\r\n\r\n"),
	};

	check_guard_refusals(NULL, t, CG_NELEM(t));
}
END_TEST

/* An Expect other than 100-continue in HTTP/1.1 gets 417. */
START_TEST(check_http_guard_refuses_expect)
{
	static const struct check_guard_refusal	t[] = {
		CG_REFUSE(CG_GET11 "Expect: 999\r\n\r\n", 417,
		    "expectation_failed"),
		CG_REFUSE(CG_POST11 "Expect: 100-continue, x\r\n"
		    "Content-Length: 1\r\n\r\nx", 417, "expectation_failed"),
		CG_REFUSE(CG_GET11 "Expect:\r\n\r\n", 417,
		    "expectation_failed"),
		CG_REFUSE(CG_GET11 "Expect: 100-continue\r\nExpect: 1\r\n\r\n",
		    417, "expectation_failed"),
		CG_REFUSE(CG_GET11 "Expect: 100 continue\r\n\r\n", 417,
		    "expectation_failed"),
	};

	check_guard_refusals(NULL, t, CG_NELEM(t));
}
END_TEST

/* The request line: known methods, one SP each side of the target. */
START_TEST(check_http_guard_refuses_request_line)
{
	static const struct check_guard_refusal	t[] = {
		CG_REFUSE("FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 501,
		    "not_implemented"),
		CG_REFUSE("get / HTTP/1.1\r\nHost: a\r\n\r\n", 501,
		    "not_implemented"),
		CG_REFUSE("PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n", 501,
		    "not_implemented"),
		CG_REFUSE("GETS / HTTP/1.1\r\nHost: a\r\n\r\n", 501,
		    "not_implemented"),
		CG_REFUSE("GE / HTTP/1.1\r\nHost: a\r\n\r\n", 501,
		    "not_implemented"),
		CG_400("GE@T / HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET\x80 / HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
		CG_400("GET /\r\nHost: a\r\n\r\n"),
		CG_400("GET / \r\nHost: a\r\n\r\n"),
		CG_400("GET\r\n\r\n"),
		CG_400("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET / a HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_REFUSE("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505,
		    "http_version_not_supported"),
		CG_REFUSE("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505,
		    "http_version_not_supported"),
		CG_REFUSE("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505,
		    "http_version_not_supported"),
		CG_400("GET / HTTX/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET / http/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET / HTTP/1.10\r\nHost: a\r\n\r\n"),
		CG_400("GET / HTTP/1\r\nHost: a\r\n\r\n"),
		CG_400("GET / HTTP/1.x\r\nHost: a\r\n\r\n"),
		CG_400("GET / HTTP/11.1\r\nHost: a\r\n\r\n"),
	};

	check_guard_refusals(NULL, t, CG_NELEM(t));
}
END_TEST

/* Field lines: no folding, no space before the colon, no control bytes. */
START_TEST(check_http_guard_refuses_field_syntax)
{
	static const struct check_guard_refusal	t[] = {
		CG_400(CG_GET11 "X: a\r\n b\r\n\r\n"),
		CG_400(CG_GET11 "X: a\r\n\tb\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
		CG_400(CG_GET11 "X : a\r\n\r\n"),
		CG_400(CG_GET11 "X\t: a\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
		CG_400(CG_GET11 "X a\r\n\r\n"),
		CG_400(CG_GET11 "X\r\n\r\n"),
		CG_400(CG_GET11 "X\n\n"),
		CG_400(CG_GET11 ": a\r\n\r\n"),
		CG_400(CG_GET11 "X(: a\r\n\r\n"),
		CG_400(CG_GET11 "X\xc3\xa9: a\r\n\r\n"),
		CG_400(CG_GET11 "X: a\0b\r\n\r\n"),
		CG_400(CG_GET11 "X: \0\r\n\r\n"),
		CG_400(CG_GET11 "X: a\x01\r\n\r\n"),
		CG_400(CG_GET11 "X: a\x1b[0m\r\n\r\n"),
		CG_400(CG_GET11 "X: a\x7f\r\n\r\n"),
		CG_400(CG_GET11 "X: a\x0b\r\n\r\n"),
		CG_400(CG_GET11 "X: a\x0c\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nHost: a\0\r\n\r\n"),
		CG_400(CG_POST11 "Content-Length: 1\0\r\n\r\nx"),
	};

	check_guard_refusals(NULL, t, CG_NELEM(t));
}
END_TEST

/* A CR not followed by LF is refused wherever it is in the head. */
START_TEST(check_http_guard_refuses_bare_cr)
{
	static const struct check_guard_refusal	t[] = {
		CG_400("G\rET / HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET\r/ HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"),
		CG_400("GET / HTTP/1.1\rHost: a\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\rHost: a\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n"),
		CG_400("GET / HTTP/1.1\r\nHost:\ra\r\n\r\n"),
		CG_400(CG_GET11 "X: a\rb\r\n\r\n"),
		CG_400(CG_GET11 "X: a\r\r\n\r\n"),
		CG_400(CG_GET11 "X: a\r \r\n\r\n"),
		CG_400(CG_GET11 "\r\r\n"),
		CG_400(CG_GET11 "\rX"),
		CG_400(CG_GET11 "\r\r"),
	};

	check_guard_refusals(NULL, t, CG_NELEM(t));
}
END_TEST

/* HEAD and TRACE cannot have a body; with CL: 0 they are accepted. */
START_TEST(check_http_guard_refuses_bodyless_methods)
{
	static const struct check_guard_refusal	t[] = {
		CG_400("HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
		    "hello"),
		CG_400("HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
		    "\r\n"),
		CG_400("TRACE / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
		    "\r\nhello"),
		CG_400("HEAD / HTTP/1.1\r\nHost: a\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
		CG_400("TRACE / HTTP/1.1\r\nHost: a\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
		CG_400("HEAD / HTTP/1.0\r\nContent-Length: 2\r\n\r\nab"),
	};

	check_guard_refusals(NULL, t, CG_NELEM(t));
	check_guard_bodyless(CG("HEAD / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 0\r\n\r\n"));
	check_guard_bodyless(CG("TRACE / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 0\r\n\r\n"));
}
END_TEST

/* Build a GET with n field lines (Host and n - 1 others) into b. */
static size_t
check_guard_fields(char *b, size_t size, unsigned n)
{
	size_t		o;
	unsigned	i;

	o = (size_t)snprintf(b, size, "%s", CG_GET11);
	for (i = 1; i < n; i++)
		o += (size_t)snprintf(b + o, size - o, "X-%u: y\r\n", i);
	o += (size_t)snprintf(b + o, size - o, "\r\n");
	ck_assert_uint_lt(o, size);
	return (o);
}

/* HTTP_GUARD_MAX_FIELDS field lines are accepted, one more gets 431. */
START_TEST(check_http_guard_field_count)
{
	static const struct http_guard_limits	 lim = { 65536, 0 };
	struct check_guard_run			 r;
	char					 b[8192], want[32];
	size_t					 len;

	len = check_guard_fields(b, sizeof(b), HTTP_GUARD_MAX_FIELDS);
	snprintf(want, sizeof(want), "S1 C%zu", len);
	check_guard_expect(&lim, b, len, want);
	check_guard_step(&r, &lim, b, len, 0);
	ck_assert_uint_eq(r.g.fields, HTTP_GUARD_MAX_FIELDS);

	len = check_guard_fields(b, sizeof(b), HTTP_GUARD_MAX_FIELDS + 1);
	check_guard_refused(&lim, b, len, 431, "headers_too_large");
	check_guard_step(&r, &lim, b, len, 0);
	ck_assert_uint_eq(r.g.fields, HTTP_GUARD_MAX_FIELDS + 1);
	/* Refused at the first byte of the field line that is one too many. */
	ck_assert_uint_eq(r.taken, len - 2 - strlen("X-256: y\r\n") + 1);
}
END_TEST

/* max_head bytes of head are accepted; over it 414 or 431. */
START_TEST(check_http_guard_head_limits)
{
	static const char	 req[] = CG_GET11 "\r\n";	/* 27 */
	static const char	 post[] = CG_POST11 "Content-Length: 5\r\n\r\n"
	    "hello";					/* 47 + 5 */
	struct http_guard_limits lim = { 27, 0 };

	check_guard_expect(&lim, CG(req), "S1 C27");
	lim.max_head = 26;
	check_guard_refused(&lim, CG(req), 431, "headers_too_large");
	/* The request line, "GET / HTTP/1.1\r\n", is 16 bytes. */
	lim.max_head = 16;
	check_guard_refused(&lim, CG(req), 431, "headers_too_large");
	lim.max_head = 15;
	check_guard_refused(&lim, CG(req), 414, "uri_too_long");
	lim.max_head = 14;
	check_guard_refused(&lim, CG(req), 414, "uri_too_long");
	lim.max_head = 5;
	check_guard_refused(&lim, CG(req), 414, "uri_too_long");
	lim.max_head = 0;
	check_guard_refused(&lim, CG(req), 414, "uri_too_long");
	lim.max_head = 15;
	check_guard_refused(&lim, CG("GET / HTTP/1.1\nHost: a\n\n"), 431,
	    "headers_too_large");
	lim.max_head = 14;
	check_guard_refused(&lim, CG("GET / HTTP/1.1\nHost: a\n\n"), 414,
	    "uri_too_long");
	/* The body does not count. */
	lim.max_head = 47;
	lim.max_body = 5;
	check_guard_expect(&lim, CG(post), "S1 H47 C52");
	lim.max_head = 46;
	check_guard_refused(&lim, CG(post), 431, "headers_too_large");
	/* Each request of a stream has the whole limit. */
	lim.max_head = 27;
	check_guard_expect(&lim, CG(CG_GET11 "\r\n" CG_GET11 "\r\n"),
	    "S1 C27 S1 C27");
}
END_TEST

/* Malformed chunked bodies are 400. */
START_TEST(check_http_guard_refuses_chunked_body)
{
	static const struct check_guard_refusal	t[] = {
		CG_400(CG_CHUNKED "zz\r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED "-1\r\n"),
		CG_400(CG_CHUNKED "+5\r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED " 5\r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED "\t5\r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED "5;ext=1\r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED "5;\r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED "5 \r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED "5\t\r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED "0x5\r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED "\r\n5\r\nhello\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED "5\rhello\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED "5\r\nhelloX\r\n0\r\n\r\n"),
		CG_400(CG_CHUNKED "5\r\nhello0\r\n\r\n"),
		CG_400(CG_CHUNKED "5\r\nhello\rX0\r\n\r\n"),
		CG_400(CG_CHUNKED "5\r\nhello\r\n\r\n"),
		CG_400(CG_CHUNKED "5\r\nhello\r\n0;x\r\n\r\n"),
		CG_400(CG_CHUNKED "5\r\nhello\r\n0 \r\n\r\n"),
		CG_400(CG_CHUNKED "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"),
		CG_400(CG_CHUNKED "0\r\nX: y\n\n"),
		CG_400(CG_CHUNKED "0\r\n \r\n"),
		CG_400(CG_CHUNKED "0\r\n\rX"),
	};

	check_guard_refusals(NULL, t, CG_NELEM(t));
}
END_TEST

/* A chunked body over max_body is 413, as soon as a chunk size says so. */
START_TEST(check_http_guard_chunked_limit)
{
	static const struct http_guard_limits	lim = { 8192, 10 };
	static const struct check_guard_refusal	t[] = {
		CG_REFUSE(CG_CHUNKED "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		    413, "request_too_large"),
		CG_REFUSE(CG_CHUNKED "B\r\nhello world\r\n0\r\n\r\n", 413,
		    "request_too_large"),
		CG_REFUSE(CG_CHUNKED "1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n"
		    "1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n"
		    "1\r\nx\r\n"
		    "1\r\nx\r\n0\r\n\r\n", 413, "request_too_large"),
	};

	check_guard_expect(&lim, CG(CG_CHUNKED "5\r\nhello\r\n5\r\nworld\r\n"
	    "0\r\n\r\n"), "S1 H56 C81");
	check_guard_expect(&lim, CG(CG_CHUNKED "A\r\n0123456789\r\n0\r\n\r\n"),
	    "S1 H56 C76");
	check_guard_refusals(&lim, t, CG_NELEM(t));
	/* A declared size over the limit is refused before its data. */
	check_guard_expect(&lim, CG(CG_CHUNKED "B\r\n"),
	    "S1 H56 E413:request_too_large");
	check_guard_expect(&lim, CG(CG_CHUNKED "5\r\nhello\r\n6\r\n"),
	    "S1 H56 E413:request_too_large");
	check_guard_expect(NULL, CG(CG_CHUNKED "100001\r\n"),
	    "S1 H56 E413:request_too_large");
	check_guard_expect(NULL, CG(CG_CHUNKED "ffffffffffffffff\r\n"),
	    "S1 H56 E413:request_too_large");
}
END_TEST

/* After ERROR nothing more is taken, and ERROR is reported again. */
START_TEST(check_http_guard_after_error)
{
	static const char	 req[] = "GET / HTTP/1.1\r\nX : a\r\n\r\n";
	struct http_guard	 g;
	enum http_guard_event	 ev;
	size_t			 n;
	int			 i;

	http_guard_init(&g, &check_guard_lim);
	n = http_guard_feed(&g, CG(req), &ev);
	ck_assert_int_eq(ev, HTTP_GUARD_STARTED);
	n += http_guard_feed(&g, req + n, sizeof(req) - 1 - n, &ev);
	ck_assert_int_eq(ev, HTTP_GUARD_ERROR);
	/* The refused byte, the space before the colon, was read. */
	ck_assert_uint_eq(n, 18);
	ck_assert_int_eq(g.phase, HTTP_GUARD_FAILED);
	ck_assert_int_eq(g.error.status, 400);
	ck_assert_str_eq(g.error.code, "bad_request");
	ck_assert_str_eq(g.error.type, "invalid_request_error");
	ck_assert_uint_gt(strlen(g.error.message), 0);
	for (i = 0; i < 3; i++) {
		ev = HTTP_GUARD_MORE;
		ck_assert_uint_eq(http_guard_feed(&g, req + n,
		    sizeof(req) - 1 - n, &ev), 0);
		ck_assert_int_eq(ev, HTTP_GUARD_ERROR);
		ck_assert_uint_eq(http_guard_feed(&g, CG(CG_GET11 "\r\n"),
		    &ev), 0);
		ck_assert_int_eq(ev, HTTP_GUARD_ERROR);
		ck_assert_uint_eq(http_guard_feed(&g, "", 0, &ev), 0);
		ck_assert_int_eq(ev, HTTP_GUARD_ERROR);
	}
	ck_assert_int_eq(g.phase, HTTP_GUARD_FAILED);
	ck_assert_int_eq(g.error.status, 400);
}
END_TEST

/* Each refusal's message says something, and its type is the client's. */
START_TEST(check_http_guard_error_messages)
{
	static const char	*reqs[] = {
		"FOO / HTTP/1.1\r\n",
		"PROPFINDXYZ / HTTP/1.1\r\n",
		"GET / HTTP/3.0\r\n",
		CG_GET11 "Expect: x\r\n\r\n",
		CG_POST11 "Content-Length: 99999999\r\n",
	};
	struct check_guard_run	 r;
	struct api_error	 e;
	size_t			 i;

	for (i = 0; i < CG_NELEM(reqs); i++) {
		check_guard_step(&r, NULL, reqs[i], strlen(reqs[i]), 0);
		ck_assert_int_eq(r.g.phase, HTTP_GUARD_FAILED);
		ck_assert_uint_gt(strlen(r.g.error.message), 10);
		ck_assert_str_eq(r.g.error.type, "invalid_request_error");
		/* The OpenAI error made of it says the same. */
		http_guard_error(&r.g, &e);
		ck_assert_int_eq(e.status, r.g.error.status);
		ck_assert_str_eq(e.type, "invalid_request_error");
		ck_assert_str_eq(e.code, r.g.error.code);
		ck_assert_str_eq(e.message, r.g.error.message);
		ck_assert_str_eq(e.param, "");
		ck_assert_int_eq(e.retry_after, 0);
	}
	/* The method a 501 names is the client's, cut short if long. */
	check_guard_step(&r, NULL, CG("FOO / HTTP/1.1\r\n"), 0);
	ck_assert_ptr_nonnull(strstr(r.g.error.message, "FOO"));
	check_guard_step(&r, NULL, CG("PROPFINDXYZ / HTTP/1.1\r\n"), 0);
	ck_assert_ptr_nonnull(strstr(r.g.error.message, "PROPFIN..."));
	check_guard_step(&r, NULL, CG(CG_POST11 "Content-Length: 99999999\r\n"),
	    0);
	ck_assert_ptr_nonnull(strstr(r.g.error.message, "1048576"));
}
END_TEST

/* http_guard_fail refuses with the status and code given. */
START_TEST(check_http_guard_fail)
{
	struct http_guard	 g;
	enum http_guard_event	 ev;
	size_t			 n;

	http_guard_init(&g, &check_guard_lim);
	n = http_guard_feed(&g, CG(CG_GET11), &ev);
	ck_assert_int_eq(ev, HTTP_GUARD_STARTED);
	http_guard_fail(&g, 408, "request_timeout", "No request in %d s.", 30);
	ck_assert_int_eq(g.phase, HTTP_GUARD_FAILED);
	ck_assert_int_eq(g.error.status, 408);
	ck_assert_str_eq(g.error.code, "request_timeout");
	ck_assert_str_eq(g.error.type, "invalid_request_error");
	ck_assert_str_eq(g.error.message, "No request in 30 s.");
	ck_assert_int_eq(g.error.retry_after, 0);
	ck_assert_uint_eq(http_guard_feed(&g, CG_GET11 + n,
	    sizeof(CG_GET11) - 1 - n, &ev), 0);
	ck_assert_int_eq(ev, HTTP_GUARD_ERROR);

	http_guard_init(&g, &check_guard_lim);
	http_guard_fail(&g, 503, "overloaded", "Too many requests (%s).",
	    "buffered");
	ck_assert_int_eq(g.phase, HTTP_GUARD_FAILED);
	ck_assert_int_eq(g.error.status, 503);
	ck_assert_str_eq(g.error.code, "overloaded");
	ck_assert_str_eq(g.error.type, "server_error");
	ck_assert_str_eq(g.error.message, "Too many requests (buffered).");
	ck_assert_int_eq(g.error.retry_after, 1);
	ck_assert_uint_eq(http_guard_feed(&g, CG(CG_GET11), &ev), 0);
	ck_assert_int_eq(ev, HTTP_GUARD_ERROR);
}
END_TEST

/* The suite. */
Suite *
http_guard_suite(void)
{
	Suite	*s = suite_create("http_guard");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, check_http_guard_accepts_get);
	tcase_add_test(tc, check_http_guard_accepts_post_body);
	tcase_add_test(tc, check_http_guard_length_before_other_fields);
	tcase_add_test(tc, check_http_guard_head_length_before_other_fields);
	tcase_add_test(tc, check_http_guard_accepts_empty_bodies);
	tcase_add_test(tc, check_http_guard_accepts_http10);
	tcase_add_test(tc, check_http_guard_accepts_bare_lf);
	tcase_add_test(tc, check_http_guard_accepts_target_forms);
	tcase_add_test(tc, check_http_guard_refuses_target_forms);
	tcase_add_test(tc, check_http_guard_accepts_value_bytes);
	tcase_add_test(tc, check_http_guard_accepts_length_whitespace);
	tcase_add_test(tc, check_http_guard_accepts_expect);
	tcase_add_test(tc, check_http_guard_accepts_chunked);
	tcase_add_test(tc, check_http_guard_events_bodyless);
	tcase_add_test(tc, check_http_guard_events_body);
	tcase_add_test(tc, check_http_guard_next_byte_starts);
	tcase_add_test(tc, check_http_guard_pipelined);
	tcase_add_test(tc, check_http_guard_split_independent);
	tcase_add_test(tc, check_http_guard_split_chunked_limit);
	tcase_add_test(tc, check_http_guard_refuses_content_length);
	tcase_add_test(tc, check_http_guard_content_length_limit);
	tcase_add_test(tc, check_http_guard_refuses_transfer_encoding);
	tcase_add_test(tc, check_http_guard_refuses_host);
	tcase_add_test(tc, check_http_guard_refuses_expect);
	tcase_add_test(tc, check_http_guard_refuses_request_line);
	tcase_add_test(tc, check_http_guard_refuses_field_syntax);
	tcase_add_test(tc, check_http_guard_refuses_bare_cr);
	tcase_add_test(tc, check_http_guard_refuses_bodyless_methods);
	tcase_add_test(tc, check_http_guard_field_count);
	tcase_add_test(tc, check_http_guard_head_limits);
	tcase_add_test(tc, check_http_guard_refuses_chunked_body);
	tcase_add_test(tc, check_http_guard_chunked_limit);
	tcase_add_test(tc, check_http_guard_after_error);
	tcase_add_test(tc, check_http_guard_error_messages);
	tcase_add_test(tc, check_http_guard_fail);
	suite_add_tcase(s, tc);
	return (s);
}
