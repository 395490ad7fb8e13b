/*
 * sse: an incremental Server-Sent Events parser.
 *
 * Input may be split anywhere: inside a line, between CR and LF, inside a
 * UTF-8 character.  Lines end in LF, CRLF or a lone CR, as the SSE
 * specification says.  Lines starting with ':' are comments; event: names
 * the event; data: lines are joined with LF; a blank line dispatches.  id:,
 * retry: and unknown fields are ignored.
 *
 * When an event arrives whole within one feed with a single data line (what
 * Dify always sends), the callback gets a pointer into the caller's input
 * and nothing is copied.  Only the remainder of a split line or event is
 * copied into the parser's own buffers, whose capacity is kept for reuse.
 */
#include <string.h>

#include "sse.h"

/* Initialise a parser that refuses lines and events over max_event bytes. */
void
sse_parser_init(struct sse_parser *p, size_t max_event)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->line);
	buf_init(&p->data);
	p->max_event = max_event;
}

/* Release the parser's buffers. */
void
sse_parser_free(struct sse_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
}

/* True if part of an event has been read but not yet dispatched. */
int
sse_parser_pending(const struct sse_parser *p)
{
	return (p->line.len != 0 || p->has_data || p->eventlen != 0);
}

/* Move a data line that still points into the caller's input into data. */
static void
sse_own_data(struct sse_parser *p)
{
	if (p->borrowed != NULL) {
		buf_reset(&p->data);
		buf_add(&p->data, p->borrowed, p->borrowedlen);
		p->borrowed = NULL;
		p->borrowedlen = 0;
	}
}

/* Forget the event being assembled. */
static void
sse_reset_event(struct sse_parser *p)
{
	p->has_data = 0;
	p->borrowed = NULL;
	p->borrowedlen = 0;
	p->eventlen = 0;
	buf_reset(&p->data);
}

/*
 * A line or event is too large: drop what was assembled (which may point
 * into input we no longer own) and refuse further input.
 */
static enum sse_result
sse_fail(struct sse_parser *p)
{
	sse_reset_event(p);
	buf_reset(&p->line);
	p->failed = 1;
	return (SSE_TOO_LARGE);
}

/*
 * Handle one complete line (without its terminator).  in_input says the
 * line lies in the caller's input, which stays valid for the whole feed.
 */
static enum sse_result
sse_line(struct sse_parser *p, const char *l, size_t n, int in_input,
    sse_event_fn fn, void *arg)
{
	const char	*colon, *value;
	size_t		 fieldlen, valuelen;
	int		 stop;

	if (n == 0) {
		if (!p->has_data) {
			sse_reset_event(p);
			return (SSE_OK);
		}
		if (p->borrowed != NULL)
			stop = fn(arg, p->event, p->eventlen, p->borrowed,
			    p->borrowedlen);
		else
			stop = fn(arg, p->event, p->eventlen, p->data.data ?
			    p->data.data : "", p->data.len);
		sse_reset_event(p);
		return (stop ? SSE_STOPPED : SSE_OK);
	}
	if (l[0] == ':')
		return (SSE_OK);

	if (n >= 5 && memcmp(l, "data:", 5) == 0)
		colon = l + 4;		/* nearly every line Dify sends */
	else
		colon = memchr(l, ':', n);
	if (colon != NULL) {
		fieldlen = (size_t)(colon - l);
		value = colon + 1;
		valuelen = n - fieldlen - 1;
		if (valuelen > 0 && value[0] == ' ') {
			value++;
			valuelen--;
		}
	} else {
		fieldlen = n;
		value = l + n;
		valuelen = 0;
	}

	if (fieldlen == 4 && memcmp(l, "data", 4) == 0) {
		if (!p->has_data) {
			p->has_data = 1;
			if (in_input) {
				p->borrowed = value;
				p->borrowedlen = valuelen;
			} else {
				buf_reset(&p->data);
				buf_add(&p->data, value, valuelen);
			}
		} else {
			sse_own_data(p);
			if (p->data.len + 1 + valuelen > p->max_event)
				return (sse_fail(p));
			buf_add_char(&p->data, '\n');
			buf_add(&p->data, value, valuelen);
		}
	} else if (fieldlen == 5 && memcmp(l, "event", 5) == 0) {
		if (valuelen > sizeof(p->event))
			valuelen = sizeof(p->event);
		memcpy(p->event, value, valuelen);
		p->eventlen = valuelen;
	}
	return (SSE_OK);
}

/*
 * Find the first CR or LF in [s, end), or NULL.  *cr caches where the next
 * CR is (end if none; NULL before the first search), so a feed without
 * CRs, which is what Dify sends, is searched for CR once, not per line.
 */
static const char *
sse_find_eol(const char *s, const char *end, const char **cr)
{
	const char	*lf;

	if (*cr == NULL || *cr < s) {
		*cr = memchr(s, '\r', (size_t)(end - s));
		if (*cr == NULL)
			*cr = end;
	}
	lf = memchr(s, '\n', (size_t)(*cr - s));
	if (lf != NULL)
		return (lf);
	return (*cr < end ? *cr : NULL);
}

/*
 * Feed len bytes of input.  Complete events are passed to fn as they are
 * found; an incomplete tail is kept for the next feed.
 */
enum sse_result
sse_parser_feed(struct sse_parser *p, const char *s, size_t len,
    sse_event_fn fn, void *arg)
{
	const char	*end = s + len, *eol, *cr = NULL;
	enum sse_result	 r = SSE_OK;

	if (p->failed)
		return (SSE_TOO_LARGE);
	if (p->stopped)
		return (SSE_STOPPED);
	/* An empty feed changes nothing (not even a pending CR's LF). */
	if (len == 0)
		return (SSE_OK);
	if (p->skip_lf && *s == '\n')
		s++;
	p->skip_lf = 0;

	/* A UTF-8 byte order mark may open the stream; it is not content. */
	while (!p->started && s < end) {
		static const char bom[] = "\xef\xbb\xbf";
		size_t	have = p->line.len, take;

		take = (size_t)(end - s);
		if (take > 3 - have)
			take = 3 - have;
		if (memcmp(s, bom + have, take) != 0) {
			/* Not a BOM: put back what was held. */
			p->started = 1;
			if (have > 0) {
				struct buf held = p->line;

				buf_init(&p->line);
				r = sse_parser_feed(p, held.data, held.len,
				    fn, arg);
				buf_free(&held);
				if (r != SSE_OK)
					return (r);
			}
			break;
		}
		buf_add(&p->line, s, take);
		s += take;
		if (p->line.len == 3) {
			buf_reset(&p->line);
			p->started = 1;
		}
	}

	while (s < end) {
		/* The blank line after each event needs no search. */
		if (*s == '\n')
			eol = s;
		else if ((eol = sse_find_eol(s, end, &cr)) == NULL) {
			if (p->line.len + (size_t)(end - s) > p->max_event)
				return (sse_fail(p));
			buf_add(&p->line, s, (size_t)(end - s));
			break;
		}
		if (p->line.len > 0) {
			if (p->line.len + (size_t)(eol - s) > p->max_event)
				return (sse_fail(p));
			buf_add(&p->line, s, (size_t)(eol - s));
			r = sse_line(p, p->line.data, p->line.len, 0, fn, arg);
			buf_reset(&p->line);
		} else {
			if ((size_t)(eol - s) > p->max_event)
				return (sse_fail(p));
			r = sse_line(p, s, (size_t)(eol - s), 1, fn, arg);
		}
		if (r != SSE_OK) {
			if (r == SSE_STOPPED)
				p->stopped = 1;
			else
				sse_fail(p);
			return (r);
		}
		if (*eol == '\r') {
			if (eol + 1 < end) {
				if (eol[1] == '\n')
					eol++;
			} else
				p->skip_lf = 1;
		}
		s = eol + 1;
	}

	/* The input goes away when we return: keep what the event needs. */
	sse_own_data(p);
	return (SSE_OK);
}
