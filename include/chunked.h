/*
 * chunked: an incremental decoder for HTTP/1.1 chunked transfer coding.
 */
#ifndef ODP_CHUNKED_H
#define ODP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Longest chunk-size line (with extensions) and trailer section accepted. */
#define CHUNKED_MAX_LINE	4096
#define CHUNKED_MAX_TRAILERS	(64 * 1024)

enum chunked_state {
	CHUNKED_SIZE,		/* hex digits of a chunk size */
	CHUNKED_SIZE_REST,	/* after the digits: extensions, then LF */
	CHUNKED_SIZE_LF,	/* the LF after the size line's CR */
	CHUNKED_DATA,		/* remaining bytes of chunk data */
	CHUNKED_DATA_CR,	/* the CR (or LF) after chunk data */
	CHUNKED_DATA_LF,	/* the LF after that CR */
	CHUNKED_TRAILER,	/* at the start of a trailer line */
	CHUNKED_TRAILER_LINE,	/* inside a trailer line */
	CHUNKED_TRAILER_LF,	/* the LF after the closing blank line's CR */
	CHUNKED_DONE,		/* the last chunk and trailers are read */
	CHUNKED_ERROR		/* the framing is broken; nothing more */
};

enum chunked_result {
	CHUNKED_MORE,		/* all input used; the body goes on */
	CHUNKED_END,		/* the body ended; *used bytes were its own */
	CHUNKED_BAD		/* malformed; the connection cannot be trusted */
};

struct chunked {
	enum chunked_state	 state;
	uint64_t		 size;		/* of the chunk being read */
	unsigned		 digits;	/* hex digits read of it */
	size_t			 line;		/* bytes of the current line */
	size_t			 trailers;	/* bytes of the trailer section */
	uint64_t		 body;		/* decoded bytes so far */
	int			 strict;	/* a request body: see .c */
};

void			 chunked_init(struct chunked *);
void			 chunked_init_strict(struct chunked *);
enum chunked_result	 chunked_feed(struct chunked *, const char *, size_t,
			    size_t *, struct buf *);
int			 chunked_done(const struct chunked *);

#endif
