/*
 * http_guard: a strict check of a client's HTTP/1.1 request stream (RFC
 * 9112), run on the bytes before evhttp parses them.
 */
#ifndef ODP_HTTP_GUARD_H
#define ODP_HTTP_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "api_error.h"
#include "chunked.h"

/* Bytes of a request target kept to check its form (a host fits). */
#define HTTP_GUARD_TARGET_KEEP	280

/* Header field lines one request may have. */
#define HTTP_GUARD_MAX_FIELDS	256

/* Longest message of a refusal (the longest the guard writes is ~110). */
#define HTTP_GUARD_MESSAGE_MAX	160

/*
 * Why the guard refused a request, in few bytes (every connection holds
 * one): http_guard_error makes the OpenAI error of it.  type and code
 * are static strings.
 */
struct http_guard_refusal {
	int		 status;
	int		 retry_after;
	const char	*type;
	const char	*code;
	char		 message[HTTP_GUARD_MESSAGE_MAX];
};

struct http_guard_limits {
	size_t		 max_head;	/* request line and fields, bytes */
	uint64_t	 max_body;	/* decoded body, bytes */
};

/* Where the stream is. */
enum http_guard_phase {
	HTTP_GUARD_IDLE,	/* between requests: no byte of the next yet */
	HTTP_GUARD_HEAD,	/* the request line and header fields */
	HTTP_GUARD_BODY,	/* the body */
	HTTP_GUARD_FAILED	/* a request was refused; nothing more is read */
};

/* What http_guard_feed stopped at. */
enum http_guard_event {
	HTTP_GUARD_MORE,	/* all input taken; nothing to report */
	HTTP_GUARD_STARTED,	/* the first byte of a request was taken */
	HTTP_GUARD_HEAD_DONE,	/* the head ended and a body follows */
	HTTP_GUARD_COMPLETE,	/* a whole request (head and body) ended */
	HTTP_GUARD_ERROR	/* the request is refused: see guard.error */
};

/* Request header fields the guard reads the values of. */
enum http_guard_field {
	HTTP_GUARD_F_OTHER,
	HTTP_GUARD_F_CONTENT_LENGTH,
	HTTP_GUARD_F_TRANSFER_ENCODING,
	HTTP_GUARD_F_HOST,
	HTTP_GUARD_F_EXPECT
};

struct http_guard {
	struct http_guard_limits lim;
	enum http_guard_phase	 phase;
	int			 state;		/* byte state within the head */
	/* The request being read. */
	uint64_t		 bytes;		/* of it so far, head and body */
	size_t			 head;		/* bytes of its head so far */
	unsigned		 fields;	/* header field lines so far */
	char			 method[8];	/* known methods fit */
	size_t			 methodlen;
	int			 version;	/* 10 or 11 */
	size_t			 targetlen;	/* of the request target */
	char			 target[HTTP_GUARD_TARGET_KEEP]; /* its start */
	char			 name[24];	/* field name, lowercased */
	size_t			 namelen;
	enum http_guard_field	 field;
	char			 value[24];	/* of a field read, trimmed */
	size_t			 valuelen;
	int			 value_long;	/* it did not fit */
	int			 value_bad;	/* a byte not allowed there */
	int			 value_ws;	/* value's trailing whitespace */
	int			 have_length;
	int			 have_chunked;
	int			 have_host;
	uint64_t		 number;	/* of a Content-Length line */
	uint64_t		 length;	/* Content-Length */
	int			 bad_expect;
	/* The body. */
	uint64_t		 left;		/* Content-Length bytes to come */
	struct chunked		 chunk;		/* chunked bodies, strict */
	struct http_guard_refusal error;	/* once FAILED */
};

void	 http_guard_init(struct http_guard *, const struct http_guard_limits *);
size_t	 http_guard_feed(struct http_guard *, const char *, size_t,
	    enum http_guard_event *);
void	 http_guard_fail(struct http_guard *, int, const char *, const char *,
	    ...) __attribute__((format(printf, 4, 5)));
void	 http_guard_error(const struct http_guard *, struct api_error *);

#endif
