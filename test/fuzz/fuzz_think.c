/*
 * fuzz_think: the <think> splitter against a reference that reads the
 * whole answer at once.
 *
 * Input: byte 0 & 7 is a count n, the next n bytes are piece sizes (each
 * % 16, 0 being an empty piece; used in turn, again and again), the rest
 * is the answer.  Checked:
 *   - fed in those pieces and fed whole, the coalesced (part, bytes)
 *     output is the same, and it is the reference's;
 *   - the reference accounts for every byte: leading content + "<think>"
 *     + reasoning + "</think>" + dropped newlines + content is the input
 *     (so every byte comes out once, in order, but the tags and the
 *     newlines after the closing one);
 *   - no empty emit, at most sizeof(held) bytes held, and once the state
 *     is THINK_PASS a piece goes out as itself in one emit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "think.h"

/* Spaces the splitter waits through before deciding (held[16] - 7). */
#define REF_MAX_LEAD	9

/* Coalesced output: runs of one part. */
struct out {
	struct buf	 text[4];	/* content, reasoning, content... */
	enum think_part	 part[4];
	int		 n;
	int		 emits;
	const char	*last_p;
	size_t		 last_len;
};

static void
out_free(struct out *o)
{
	int	i;

	for (i = 0; i < 4; i++)
		buf_free(&o->text[i]);
}

/* Append a run to o, joining it to the last one of the same part. */
static void
out_add(struct out *o, enum think_part part, const char *p, size_t len)
{
	if (len == 0)
		return;
	if (o->n == 0 || o->part[o->n - 1] != part) {
		/* At most content, reasoning, content. */
		if (o->n == 3)
			abort();
		o->part[o->n++] = part;
	}
	buf_add(&o->text[o->n - 1], p, len);
}

/* think_emit_fn. */
static void
emit(void *arg, enum think_part part, const char *p, size_t len)
{
	struct out	*o = arg;

	if (len == 0)
		abort();
	if (part != THINK_CONTENT && part != THINK_REASONING)
		abort();
	o->emits++;
	o->last_p = p;
	o->last_len = len;
	out_add(o, part, p, len);
}

static int
same(const struct out *a, const struct out *b)
{
	int	i;

	if (a->n != b->n)
		return (0);
	for (i = 0; i < a->n; i++)
		if (a->part[i] != b->part[i] || a->text[i].len !=
		    b->text[i].len || (a->text[i].len > 0 &&
		    memcmp(a->text[i].data, b->text[i].data, a->text[i].len) !=
		    0))
			return (0);
	return (1);
}

static int
space(char c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

/*
 * The reference, on the whole answer: up to REF_MAX_LEAD spaces, then
 * "<think>" or there is no block; the block runs to the first
 * "</think>" or the end; newlines after it are dropped.  Checks that
 * the pieces it finds make up the input.
 */
static void
reference(const char *in, size_t len, struct out *o)
{
	struct buf	 whole = BUF_INIT;
	const char	*close;
	size_t		 lead = 0, r0, r1, c0;

	while (lead < len && space(in[lead]))
		lead++;
	if (lead > REF_MAX_LEAD || len - lead < 7 ||
	    memcmp(in + lead, "<think>", 7) != 0) {
		out_add(o, THINK_CONTENT, in, len);
		buf_free(&whole);
		return;
	}
	r0 = lead + 7;
	close = memmem(in + r0, len - r0, "</think>", 8);
	r1 = close != NULL ? (size_t)(close - in) : len;
	c0 = close != NULL ? r1 + 8 : len;
	while (c0 < len && (in[c0] == '\n' || in[c0] == '\r'))
		c0++;
	out_add(o, THINK_CONTENT, in, lead);
	out_add(o, THINK_REASONING, in + r0, r1 - r0);
	out_add(o, THINK_CONTENT, in + c0, len - c0);

	/* Every byte accounted for, in order. */
	buf_add(&whole, in, lead);
	buf_add_str(&whole, "<think>");
	buf_add(&whole, in + r0, r1 - r0);
	if (close != NULL) {
		buf_add_str(&whole, "</think>");
		buf_add(&whole, in + r1 + 8, c0 - (r1 + 8));
	}
	buf_add(&whole, in + c0, len - c0);
	if (whole.len != len || memcmp(whole.data, in, len) != 0)
		abort();
	if (close != NULL && c0 < len && (in[c0] == '\n' || in[c0] == '\r'))
		abort();
	buf_free(&whole);
}

/* Feed in pieces of the given sizes (cyclic); n == 0: whole. */
static void
run(const char *in, size_t len, const uint8_t *sizes, size_t n,
    struct out *o)
{
	struct think	 t;
	size_t		 at = 0, k, i = 0, zeros = 0;
	int		 before;

	think_init(&t);
	while (at < len) {
		k = n == 0 ? len : sizes[i++ % n] % 16;
		if (k == 0 && ++zeros > 64)
			k = 1;		/* all sizes 0: still get through */
		if (k > len - at)
			k = len - at;
		before = o->emits;
		if (t.state == THINK_PASS && k > 0) {
			think_feed(&t, in + at, k, emit, o);
			/* The fast path: the piece itself, in one emit. */
			if (o->emits != before + 1 || o->last_p != in + at ||
			    o->last_len != k)
				abort();
		} else
			think_feed(&t, in + at, k, emit, o);
		if (t.nheld > sizeof(t.held))
			abort();
		at += k;
	}
	think_end(&t, emit, o);
	if (t.state != THINK_PASS || t.nheld != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct out	 whole, pieces, ref;
	const uint8_t	*sizes;
	const char	*in;
	size_t		 n, len;

	if (size < 1)
		return (0);
	n = data[0] & 7;
	if (size < 1 + n)
		return (0);
	sizes = data + 1;
	in = (const char *)data + 1 + n;
	len = size - 1 - n;

	memset(&whole, 0, sizeof(whole));
	memset(&pieces, 0, sizeof(pieces));
	memset(&ref, 0, sizeof(ref));
	reference(in, len, &ref);
	run(in, len, NULL, 0, &whole);
	run(in, len, sizes, n, &pieces);
	if (!same(&whole, &ref) || !same(&pieces, &ref))
		abort();
	out_free(&whole);
	out_free(&pieces);
	out_free(&ref);
	return (0);
}
