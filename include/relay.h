/*
 * relay: the translation state machine of one exchange, without I/O.
 */
#ifndef ODP_RELAY_H
#define ODP_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "api_error.h"
#include "buf.h"
#include "dify_app.h"
#include "dify_event.h"
#include "openai_format.h"
#include "sse.h"
#include "think.h"
#include "tool_call.h"

enum relay_state {
	RELAY_AWAIT_RESPONSE,	/* Dify's status not known yet */
	RELAY_AWAIT_EVENT,	/* Dify answered 200; no data event yet */
	RELAY_STREAMING,	/* the answer is under way */
	RELAY_FINISHING,	/* the answer is whole; an end event may follow */
	RELAY_ERROR_BODY,	/* Dify answered an error status; reading it */
	RELAY_JSON_BODY,	/* Dify answered with a blocking JSON body */
	RELAY_DONE,		/* the whole answer was delivered */
	RELAY_FAILED		/* the response ended with an error */
};

/* How the upstream response ended, as far as the transport can tell. */
enum relay_end {
	RELAY_END_EOF,		/* the body ended (complete as HTTP) */
	RELAY_END_UNREACHABLE,
	RELAY_END_DNS,
	RELAY_END_TLS,
	RELAY_END_TIMEOUT,
	RELAY_END_BROKEN,	/* reset or malformed HTTP mid-response */
	RELAY_END_NO_DESCRIPTORS /* no socket could be made for Dify */
};

/*
 * Sees every piece of content the client is sent, in order; (NULL, 0)
 * when a non-stream answer was replaced and starts again.
 */
typedef void (*relay_tap_fn)(void *, const char *, size_t);

struct relay_params {
	const struct dify_app *app;	/* NULL: the chat kind */
	const char	*output_var;	/* workflow: the output to answer */
	const char	*file_origin;	/* Dify's scheme://host[:port] */
	int		 split_think;	/* <think> blocks to reasoning */
	const char	*tool_names;	/* prompt tools: NUL-separated names */
	size_t		 tool_names_len; /* 0: no prompt tools */
	const char	*id;		/* chatcmpl-... */
	int64_t		 created;
	const char	*model;
	size_t		 modellen;
	int		 stream;
	int		 include_usage;
	size_t		 max_event;	/* largest Dify event accepted */
	size_t		 max_answer;	/* largest answer held for non-streams */
	int		 name_conversation; /* non-stream bodies carry it */
	relay_tap_fn	 tap;		/* sees the content sent, or NULL */
	void		*tap_arg;
};

struct relay {
	enum relay_state	 state;
	const struct dify_app	*app;
	struct dify_app_state	 app_state;
	const char		*file_origin;	/* for relative file urls */
	int			 stream;
	int			 include_usage;
	size_t			 max_answer;

	/* What the client gets; the glue drains out after every call. */
	int			 status;	/* 0 until decided */
	int			 event_stream;	/* body is text/event-stream */
	int			 retry_after;	/* seconds, 0 for none */
	int			 headers_ready;	/* status and headers may go */
	int			 complete;	/* out holds the last bytes */
	struct buf		 out;

	/* What was learnt from Dify. */
	int			 upstream_status;
	int			 upstream_done;	/* Dify is no longer needed */
	int			 frozen;	/* message_replace: answer final */
	const char		*finish_reason;
	struct dify_usage	 usage;
	char			 task_id[80];
	char			 conversation_id[80];
	struct api_error	*error;		/* set when FAILED, else NULL */

	uint64_t		 content_events;
	uint64_t		 content_bytes;

	struct buf		 answer;	/* non-stream answer so far */
	relay_tap_fn		 tap;
	void			*tap_arg;
	struct buf		 reasoning;	/* non-stream reasoning so far */
	int			 split_think;
	struct think		 think;		/* splits <think> from content */
	const char		*tool_names;	/* prompt tools offered */
	size_t			 tool_names_len;
	struct tool_gate	 gate;		/* is the answer a call? */
	uint64_t		 reasoning_bytes;
	struct buf		 body;		/* error or blocking body */
	struct sse_parser	 sse;
	struct dify_event	 ev;
	struct openai_format	 fmt;
};

void		 relay_init(struct relay *, const struct relay_params *);
void		 relay_free(struct relay *);
void		 relay_set_app(struct relay *, const struct dify_app *);
void		 relay_response(struct relay *, int, const char *,
		    const char *);
void		 relay_data(struct relay *, const char *, size_t);
void		 relay_end(struct relay *, enum relay_end, const char *);
void		 relay_keepalive(struct relay *);
void		 relay_grace_expired(struct relay *);
void		 relay_fail(struct relay *, const struct api_error *);
const char	*relay_state_name(enum relay_state);

/* For the app kinds (dify_app_*.c), from their event translation. */
void		 relay_content(struct relay *, const char *, size_t);
void		 relay_content_plain(struct relay *, const char *, size_t);
void		 relay_reasoning(struct relay *, const char *, size_t);
void		 relay_replace(struct relay *, const struct dify_str *);
void		 relay_finish(struct relay *);
void		 relay_finishing(struct relay *);
void		 relay_fail_upstream(struct relay *, enum api_error_upstream,
		    const char *);
void		 relay_keep_ids(struct relay *, const struct dify_event *);

#endif
