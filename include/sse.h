/*
 * sse: an incremental Server-Sent Events parser.
 */
#ifndef ODP_SSE_H
#define ODP_SSE_H

#include <stddef.h>

#include "buf.h"

/*
 * Called once for each complete event that carried at least one data line.
 * event is the event: field (empty if none); data joins the data: lines
 * with LF.  Both are valid only during the call.  Return 0 to go on, or
 * non-zero to stop: sse_parser_feed then returns at once and the parser
 * ignores everything after.
 */
typedef int (*sse_event_fn)(void *arg, const char *event, size_t eventlen,
    const char *data, size_t datalen);

struct sse_parser {
	struct buf	 line;		/* a line split across feeds */
	struct buf	 data;		/* data lines of the event being read */
	const char	*borrowed;	/* or: its one data line, in the input */
	size_t		 borrowedlen;
	char		 event[64];	/* event: field, truncated */
	size_t		 eventlen;
	size_t		 max_event;	/* limit for one line and one event */
	int		 has_data;
	int		 skip_lf;	/* input ended in CR: drop a leading LF */
	int		 started;	/* past the optional byte order mark */
	int		 stopped;
	int		 failed;	/* a limit was exceeded: refuse input */
};

enum sse_result {
	SSE_OK = 0,		/* all input consumed */
	SSE_STOPPED = 1,	/* the callback asked to stop */
	SSE_TOO_LARGE = -1	/* a line or event exceeded max_event */
};

void		 sse_parser_init(struct sse_parser *, size_t);
void		 sse_parser_free(struct sse_parser *);
enum sse_result	 sse_parser_feed(struct sse_parser *, const char *, size_t,
		    sse_event_fn, void *);
int		 sse_parser_pending(const struct sse_parser *);

#endif
