/*
 * think: a reasoning model's <think>...</think> block, split from the
 * answer as it streams.
 *
 * DeepSeek R1 and other reasoning models served through Dify put their
 * reasoning in the answer: "<think>\n...\n</think>\n\n" and then the
 * answer.  The block is recognised only at the very start of the answer
 * (after spaces and newlines), so an answer that merely talks about the
 * tag is left alone; its text goes out as reasoning, the newlines after
 * the closing tag are dropped, and everything after is content.
 *
 * Dify cuts the answer anywhere, so either tag may be split across any
 * number of pieces.  Bytes that may be the start of a tag are held (at
 * most the tag's length) until the next piece settles them; think_end
 * hands out what is still held when the answer ends.  Every byte fed
 * comes out exactly once, in order, except the two tags and the
 * newlines after the closing one.  Once the block is over (or known not
 * to be there) a piece costs one branch.
 */
#include <string.h>

#include "think.h"

#define THINK_OPEN	"<think>"
#define THINK_CLOSE	"</think>"

/* Start before the answer. */
void
think_init(struct think *t)
{
	memset(t, 0, sizeof(*t));
	t->state = THINK_START;
}

/* True for the spaces a model may put before the block. */
static int
think_space(char c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

/* Emit what is held as part, and forget it. */
static void
think_flush(struct think *t, enum think_part part, think_emit_fn emit,
    void *arg)
{
	if (t->nheld > 0)
		emit(arg, part, t->held, t->nheld);
	t->nheld = 0;
}

/*
 * Inside the block: emit reasoning up to "</think>".  nheld counts the
 * bytes of the tag matched so far (they are held, and being the tag's
 * own bytes need no copy); the tag has one '<', so a mismatch can only
 * restart at the byte that broke it.  Returns the bytes of p consumed:
 * all of them unless the tag ended in p.
 */
static size_t
think_inside(struct think *t, const char *p, size_t len, think_emit_fn emit,
    void *arg)
{
	static const size_t	 taglen = sizeof(THINK_CLOSE) - 1;
	const char		*lt;
	size_t			 i = 0, start = 0;

	while (i < len) {
		if (t->nheld == 0) {
			if ((lt = memchr(p + i, '<', len - i)) == NULL) {
				i = len;
				break;
			}
			i = (size_t)(lt - p);
			if (i > start)
				emit(arg, THINK_REASONING, p + start, i - start);
			t->nheld = 1;
			start = ++i;
		} else if (p[i] == THINK_CLOSE[t->nheld]) {
			start = ++i;
			if (++t->nheld == taglen) {
				t->nheld = 0;
				t->state = THINK_AFTER;
				return (i);
			}
		} else {
			/* Not the tag after all: what matched was text. */
			emit(arg, THINK_REASONING, THINK_CLOSE, t->nheld);
			t->nheld = 0;
			start = i;
		}
	}
	if (t->nheld == 0 && len > start)
		emit(arg, THINK_REASONING, p + start, len - start);
	return (len);
}

/* Feed a piece of the answer; emit calls get what is settled. */
void
think_feed(struct think *t, const char *p, size_t len, think_emit_fn emit,
    void *arg)
{
	static const size_t	 openlen = sizeof(THINK_OPEN) - 1;
	size_t			 n, used;

	while (len > 0) {
		switch (t->state) {
		case THINK_PASS:
			emit(arg, THINK_CONTENT, p, len);
			return;
		case THINK_START:
			/* Leading space is held: it is content if no block. */
			while (len > 0 && think_space(*p) &&
			    t->nheld < sizeof(t->held) - openlen) {
				t->held[t->nheld++] = *p++;
				len--;
			}
			if (len == 0)
				return;
			if (*p != '<') {
				think_flush(t, THINK_CONTENT, emit, arg);
				t->state = THINK_PASS;
				break;
			}
			t->state = THINK_OPENING;
			/* The held spaces are not part of the tag. */
			think_flush(t, THINK_CONTENT, emit, arg);
			break;
		case THINK_OPENING:
			/* held is the tag's first nheld bytes. */
			n = openlen - t->nheld;
			if (n > len)
				n = len;
			if (memcmp(p, &THINK_OPEN[t->nheld], n) != 0) {
				/* Not a block: what was held is content. */
				think_flush(t, THINK_CONTENT, emit, arg);
				t->state = THINK_PASS;
				break;
			}
			memcpy(t->held + t->nheld, p, n);
			t->nheld += n;
			p += n;
			len -= n;
			if (t->nheld == openlen) {
				t->nheld = 0;
				t->state = THINK_INSIDE;
			}
			break;
		case THINK_INSIDE:
			used = think_inside(t, p, len, emit, arg);
			p += used;
			len -= used;
			break;
		case THINK_AFTER:
			while (len > 0 && (*p == '\n' || *p == '\r')) {
				p++;
				len--;
			}
			if (len > 0)
				t->state = THINK_PASS;
			break;
		}
	}
}

/* The answer ended: hand out what is held, as what it would have been. */
void
think_end(struct think *t, think_emit_fn emit, void *arg)
{
	switch (t->state) {
	case THINK_INSIDE:
		/* A block never closed: its text was reasoning. */
		if (t->nheld > 0)
			emit(arg, THINK_REASONING, THINK_CLOSE, t->nheld);
		t->nheld = 0;
		break;
	default:
		think_flush(t, THINK_CONTENT, emit, arg);
		break;
	}
	t->state = THINK_PASS;
}
