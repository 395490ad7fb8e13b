/*
 * think: a reasoning model's <think>...</think> block, split from the
 * answer as it streams.
 */
#ifndef ODP_THINK_H
#define ODP_THINK_H

#include <stddef.h>

enum think_part {
	THINK_CONTENT,		/* the answer */
	THINK_REASONING		/* inside the think block */
};

/* Receives each piece of text with what it is. */
typedef void (*think_emit_fn)(void *, enum think_part, const char *,
    size_t);

enum think_state {
	THINK_PASS,		/* no block, or after it: all content */
	THINK_START,		/* before the answer's first non-space byte */
	THINK_OPENING,		/* reading what may be "<think>" */
	THINK_INSIDE,		/* in the block */
	THINK_AFTER		/* just past "</think>": newlines are eaten */
};

struct think {
	enum think_state	 state;
	char			 held[16];	/* bytes not yet placed */
	size_t			 nheld;
};

void	think_init(struct think *);
void	think_feed(struct think *, const char *, size_t, think_emit_fn,
	    void *);
void	think_end(struct think *, think_emit_fn, void *);

#endif
