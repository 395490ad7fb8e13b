/*
 * dify_event: read one Dify stream event (the JSON of a data: line).
 */
#ifndef ODP_DIFY_EVENT_H
#define ODP_DIFY_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum dify_event_type {
	DIFY_EVENT_UNKNOWN,		/* no "event", or one we do not know */
	DIFY_EVENT_MESSAGE,
	DIFY_EVENT_AGENT_MESSAGE,
	DIFY_EVENT_MESSAGE_FILE,
	DIFY_EVENT_MESSAGE_REPLACE,
	DIFY_EVENT_MESSAGE_END,
	DIFY_EVENT_WORKFLOW_STARTED,
	DIFY_EVENT_WORKFLOW_FINISHED,
	DIFY_EVENT_WORKFLOW_PAUSED,
	DIFY_EVENT_ERROR,
	DIFY_EVENT_OTHER		/* known and never content: nodes, TTS */
};

/*
 * A string inside the parsed event: s is NULL when absent or not a string.
 * It is NOT NUL-terminated (it may point into the input): use len.
 */
struct dify_str {
	const char	*s;
	size_t		 len;
};

struct dify_usage {
	int		 present;	/* any count was given */
	int		 split;		/* prompt and completion were given */
	uint64_t	 prompt_tokens;
	uint64_t	 completion_tokens;
	uint64_t	 total_tokens;
};

/*
 * A parsed event.  Zeroed memory is a valid empty event; parse may be
 * called again and again on one struct (it keeps its scratch buffer), and
 * dify_event_clear releases it.
 */
struct dify_event {
	enum dify_event_type	 type;
	struct dify_str		 name;		/* the "event" value */
	struct dify_str		 answer;	/* text of message-like events */
	struct dify_str		 task_id;
	struct dify_str		 conversation_id;
	struct dify_str		 message_id;
	struct dify_str		 code;		/* error */
	struct dify_str		 message;	/* error */
	int			 status;	/* error; 0 if absent */
	struct dify_str		 wf_status;	/* workflow_finished data */
	struct dify_str		 wf_error;
	struct dify_usage	 usage;		/* message_end or workflow */
	struct buf		 scratch;	/* unescaped strings live here */
};

int	 dify_event_parse(struct dify_event *, const char *, size_t);
void	 dify_event_clear(struct dify_event *);
int	 dify_event_is_text(const struct dify_event *);
int	 dify_str_eq(const struct dify_str *, const char *);

#endif
