/*
 * tool_call: OpenAI function calling in prompt mode, for Dify apps,
 * which cannot run a client's functions themselves.
 */
#ifndef ODP_TOOL_CALL_H
#define ODP_TOOL_CALL_H

#include <stddef.h>

#include "buf.h"

#define TOOL_CALL_MAX		16	/* calls taken from one answer */
#define TOOL_CALL_OPEN		"<tool_call>"
#define TOOL_CALL_CLOSE		"</tool_call>"

/* One call the answer made: the client runs it. */
struct tool_call {
	char		 id[40];	/* call_... */
	char		*name;
	char		*arguments;	/* compact JSON object text */
};

struct tool_calls {
	struct tool_call	 v[TOOL_CALL_MAX];
	size_t			 n;
};

/* Where an answer is: deciding whether it is a call, a call, or text. */
enum tool_gate_state {
	TOOL_GATE_PASS,		/* not a call: all content (0, as THINK_PASS) */
	TOOL_GATE_DECIDING,
	TOOL_GATE_CAPTURING
};

struct tool_gate {
	enum tool_gate_state	 state;
	struct buf		 text;		/* held while not PASS */
};

int	 tool_call_preamble(const void *, const void *, struct buf *,
	    struct buf *);
void	 tool_call_render(const void *, struct buf *);
int	 tool_call_parse(const char *, size_t, const char *, size_t,
	    struct tool_calls *);
void	 tool_calls_free(struct tool_calls *);
void	 tool_gate_init(struct tool_gate *);
void	 tool_gate_free(struct tool_gate *);
size_t	 tool_gate_feed(struct tool_gate *, const char *, size_t);

#endif
