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
	DIFY_EVENT_TEXT_CHUNK,		/* workflow apps: data.text */
	DIFY_EVENT_TEXT_REPLACE,	/* workflow apps: data.text */
	DIFY_EVENT_AGENT_THOUGHT,
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
 * Scanner state kept between events (internal to dify_event.c; here so a
 * struct dify_event can hold its prefix memo).
 */

/* The kind of value just scanned. */
enum dify_scan_kind {
	SCAN_OTHER,		/* object, array, true, false, null, real */
	SCAN_STRING,
	SCAN_INTEGER
};

/* A scanned value: what the field extractors may want of it. */
struct dify_scan_value {
	enum dify_scan_kind	 kind;
	struct dify_str		 str;
	int64_t			 integer;
};


/* The fields found, before the event type decides which of them count. */
struct dify_fields {
	struct dify_scan_value	 event, answer, task_id, conversation_id;
	struct dify_scan_value	 message_id, code, message, status;
	struct dify_scan_value	 id, type, url, belongs_to, position;
	struct dify_scan_value	 thought, observation, tool, tool_input;
	struct dify_scan_value	 wf_status, wf_error, wf_total;
	struct dify_scan_value	 wf_text, wf_outputs;
	struct dify_str		 wf_outputs_json;	/* its JSON text */
	struct dify_scan_value	 prompt, completion, total;
	int			 have_meta_usage;	/* metadata.usage object */
};

/* Where a string of the template lies in its bytes (set: present). */
struct dify_span {
	size_t			 off;
	size_t			 len;
	int			 set;
};

/* Longest event prefix remembered between events. */
#define DIFY_EVENT_MEMO_MAX	4096

/*
 * A parsed event.  Zeroed memory is a valid empty event; parse may be
 * called again and again on one struct (it keeps its scratch buffer), and
 * dify_event_clear releases it.
 */
struct dify_event {
	enum dify_event_type	 type;
	struct dify_str		 name;		/* the "event" value */
	struct dify_str		 answer;	/* text of message-like events,
						   data.text of text_chunk */
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
	struct buf		 memo;		/* bytes before "answer" */
	size_t			 memo_len;	/* 0: no memo */
	int			 memo_first;	/* memo ends at the first member */
	struct dify_fields	 memo_fields;	/* what memo's bytes gave */
	/*
	 * The template: the last text event's bytes around its answer
	 * string.  memo holds them up to the string's opening quote
	 * (tmpl_head bytes), tmpl_tail after its closing quote.
	 */
	size_t			 tmpl_head;	/* 0: no template */
	struct buf		 tmpl_tail;
	enum dify_event_type	 tmpl_type;
	struct dify_span	 tmpl_name, tmpl_task_id;
	struct dify_span	 tmpl_conversation_id, tmpl_message_id;
	/*
	 * Fields of the rarer events, last: a parse clears them only when
	 * the event before set them (extras), so the text events that are
	 * most of a stream do not pay for clearing them.
	 */
	int			 extras;
	struct dify_str		 wf_outputs;	/* JSON text of data.outputs */
	struct dify_str		 id;		/* agent_thought, message_file */
	int64_t			 position;	/* agent_thought; 0 if absent */
	struct dify_str		 thought;	/* agent_thought */
	struct dify_str		 observation;
	struct dify_str		 tool;
	struct dify_str		 tool_input;
	struct dify_str		 file_type;	/* message_file: "image" */
	struct dify_str		 url;
	struct dify_str		 belongs_to;
};

int	 dify_event_parse(struct dify_event *, const char *, size_t);
void	 dify_event_done(struct dify_event *);
void	 dify_event_clear(struct dify_event *);
int	 dify_event_is_text(const struct dify_event *);
int	 dify_str_eq(const struct dify_str *, const char *);

#endif
