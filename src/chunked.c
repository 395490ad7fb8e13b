/*
 * chunked: an incremental decoder for HTTP/1.1 chunked transfer coding
 * (RFC 9112, section 7.1).
 *
 * Dify streams its events as a chunked body, one chunk per event.  The
 * proxy decodes the framing itself rather than letting evhttp do it, which
 * would allocate and copy for every chunk (see upstream.c).  Input may be
 * split anywhere; decoded bytes are appended to the caller's buffer as soon
 * as they arrive, including parts of a chunk, so the events of one read
 * reach the SSE parser in one piece.
 *
 * What is accepted: chunk sizes of hex digits (leading zeros allowed) that
 * fit in 64 bits, optional whitespace and extensions after them (ignored),
 * lines ending in CRLF or a bare LF (as libevent's own reader accepts), and
 * a trailer section that is skipped.  A size line over CHUNKED_MAX_LINE
 * bytes, trailers over CHUNKED_MAX_TRAILERS, control characters in either,
 * or anything but a line end after a chunk's data is an error, after which
 * the decoder takes nothing more.
 *
 * Strict mode, for a client's request body (http_guard.c), accepts only
 * what libevent's own request reader reads the same way: no extensions or
 * whitespace after a chunk size and no trailer fields.  A NULL output
 * buffer only counts the decoded bytes (c->body).
 */
#include <string.h>

#include "chunked.h"
#include "util.h"

/* Start decoding a new body. */
void
chunked_init(struct chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CHUNKED_SIZE;
}

/* Start decoding a new request body, strictly. */
void
chunked_init_strict(struct chunked *c)
{
	chunked_init(c);
	c->strict = 1;
}

/* True once the last chunk and the trailers have been read. */
int
chunked_done(const struct chunked *c)
{
	return (c->state == CHUNKED_DONE);
}

/* True for a byte that may not appear in a size line or trailer. */
static int
chunked_ctl(unsigned char ch)
{
	return ((ch < 0x20 && ch != '\t') || ch == 0x7f);
}

/* A size line ended: on to the data, or to the trailers after size 0. */
static void
chunked_size_done(struct chunked *c)
{
	c->line = 0;
	c->state = c->size == 0 ? CHUNKED_TRAILER : CHUNKED_DATA;
}

/* Count one more byte of the size line; false if it is one too many. */
static int
chunked_line_ok(struct chunked *c)
{
	return (++c->line <= CHUNKED_MAX_LINE);
}

/* Count one more byte of the trailers; false if it is one too many. */
static int
chunked_trailers_ok(struct chunked *c)
{
	return (++c->trailers <= CHUNKED_MAX_TRAILERS);
}

/*
 * The common size line, whole in the input: 1 to 15 hex digits and CRLF.
 * Returns its length (the state moves on as the byte loop would have
 * moved it), or 0 to let the byte loop read it.
 */
static size_t
chunked_fast_line(struct chunked *c, const unsigned char *p, size_t n)
{
	uint64_t	size = 0;
	size_t		i;
	int		v;

	for (i = 0; i < n && i < 15 &&
	    (v = util_hex_digit((unsigned char)p[i])) != -1; i++)
		size = (size << 4) | (uint64_t)v;
	if (i == 0 || i + 2 > n || p[i] != '\r' || p[i + 1] != '\n')
		return (0);
	c->size = size;
	chunked_size_done(c);
	return (i + 2);
}

/*
 * Feed len bytes.  Decoded bytes are appended to out.  *used is set
 * to the bytes taken: all of them for CHUNKED_MORE, up to the end of the
 * body for CHUNKED_END (what follows is not part of it), up to the bad
 * byte for CHUNKED_BAD.  The size line counts its bytes but not its LF;
 * the trailer section counts all but its final LF.
 */
enum chunked_result
chunked_feed(struct chunked *c, const char *in, size_t len, size_t *used,
    struct buf *out)
{
	const unsigned char	*p = (const unsigned char *)in;
	size_t			 i = 0, n;
	int			 v;

	*used = 0;
	if (c->state == CHUNKED_DONE)
		return (CHUNKED_END);
	if (c->state == CHUNKED_ERROR)
		return (CHUNKED_BAD);

	while (i < len) {
		switch (c->state) {
		case CHUNKED_SIZE:
			if (c->digits == 0 &&
			    (n = chunked_fast_line(c, p + i, len - i)) > 0) {
				i += n;
				continue;
			}
			if ((v = util_hex_digit((unsigned char)p[i])) == -1) {
				if (c->digits == 0 || (c->strict &&
				    p[i] != '\r' && p[i] != '\n'))
					goto bad;
				c->state = CHUNKED_SIZE_REST;
				continue;
			}
			if (c->size > (UINT64_MAX >> 4) || !chunked_line_ok(c))
				goto bad;
			c->size = (c->size << 4) | (uint64_t)v;
			c->digits++;
			break;
		case CHUNKED_SIZE_REST:
			if (p[i] == '\n') {
				chunked_size_done(c);
				break;
			}
			if ((chunked_ctl(p[i]) && p[i] != '\r') ||
			    !chunked_line_ok(c))
				goto bad;
			if (p[i] == '\r')
				c->state = CHUNKED_SIZE_LF;
			break;
		case CHUNKED_SIZE_LF:
			if (p[i] != '\n')
				goto bad;
			chunked_size_done(c);
			break;
		case CHUNKED_DATA:
			n = len - i;
			if ((uint64_t)n > c->size)
				n = (size_t)c->size;
			if (out != NULL)
				buf_add(out, in + i, n);
			c->size -= n;
			c->body += n;
			i += n;
			if (c->size != 0)
				continue;
			if (i + 2 <= len && p[i] == '\r' && p[i + 1] == '\n') {
				/* The usual CRLF after the data. */
				c->state = CHUNKED_SIZE;
				c->digits = 0;
				i += 2;
			} else
				c->state = CHUNKED_DATA_CR;
			continue;
		case CHUNKED_DATA_CR:
			if (p[i] == '\r')
				c->state = CHUNKED_DATA_LF;
			else if (p[i] == '\n')
				c->state = CHUNKED_SIZE;
			else
				goto bad;
			c->digits = 0;
			break;
		case CHUNKED_DATA_LF:
			if (p[i] != '\n')
				goto bad;
			c->state = CHUNKED_SIZE;
			break;
		case CHUNKED_TRAILER:
			if (p[i] == '\n') {
				c->state = CHUNKED_DONE;
				*used = i + 1;
				return (CHUNKED_END);
			}
			if (c->strict && p[i] != '\r')
				goto bad;	/* no trailer fields */
			if (p[i] != '\r' && chunked_ctl(p[i]))
				goto bad;
			if (!chunked_trailers_ok(c))
				goto bad;
			c->state = p[i] == '\r' ? CHUNKED_TRAILER_LF :
			    CHUNKED_TRAILER_LINE;
			break;
		case CHUNKED_TRAILER_LF:
			if (p[i] != '\n')
				goto bad;
			c->state = CHUNKED_DONE;
			*used = i + 1;
			return (CHUNKED_END);
		case CHUNKED_TRAILER_LINE:
			if ((chunked_ctl(p[i]) && p[i] != '\r' &&
			    p[i] != '\n') || !chunked_trailers_ok(c))
				goto bad;
			if (p[i] == '\n')
				c->state = CHUNKED_TRAILER;
			break;
		default:
			goto bad;
		}
		i++;
	}
	*used = len;
	return (CHUNKED_MORE);
bad:
	c->state = CHUNKED_ERROR;
	*used = i;
	return (CHUNKED_BAD);
}
