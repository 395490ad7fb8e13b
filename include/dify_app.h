/*
 * dify_app: the kinds of Dify app, as a table the exchange asks for the
 * paths to call, the body to send and how to read the events.
 */
#ifndef ODP_DIFY_APP_H
#define ODP_DIFY_APP_H

#include <stddef.h>

#include "buf.h"

struct api_error;
struct chat_request;
struct dify_event;
struct relay;

/* The Dify app modes the proxy tells apart: one kind each. */
enum dify_app_mode {
	DIFY_APP_UNKNOWN,	/* not known yet */
	DIFY_APP_CHAT,		/* chat, agent-chat, agent, advanced-chat */
	DIFY_APP_COMPLETION,
	DIFY_APP_WORKFLOW
};

/* What a request body is built from. */
struct dify_app_call {
	const struct chat_request	*cr;
	const char			*user;
	const char			*conversation_id; /* NULL: a new one */
	int				 auto_generate_name;
	const char			*input_var;	/* the text input */
	const char			*inputs;	/* JSON object or NULL */
};

/*
 * Per-exchange state a kind keeps inside the relay (zeroed at the start).
 * The relay does not read it.
 */
struct dify_app_state {
	int		 chatflow;		/* chat: a workflow runs it */
	int		 saw_message_end;
	int		 saw_workflow_finished;
	int		 agent_text;		/* agent_message text was seen */
	char		 thought_id[80];	/* the agent thought shown */
	int		 tool_shown;		/* its tool call went out */
	int		 observation_shown;	/* its tool's result did */
	const char	*output_var;		/* workflow: output to answer */
};

struct dify_app {
	enum dify_app_mode	 mode;
	const char		*name;		/* for logs */
	const char		*run_path;	/* POST, streamed */
	const char		*stop_prefix;	/* + task id + "/stop" */
	/* Append the JSON body of the run call. */
	void			(*body)(const struct dify_app_call *,
				    struct buf *);
	/* Translate one stream event (not error; relay.c handles those). */
	void			(*event)(struct relay *,
				    const struct dify_event *);
	/* Translate a whole blocking JSON body, if Dify sent one. */
	void			(*blocking)(struct relay *, const char *,
				    size_t);
};

extern const struct dify_app	dify_app_chat;
extern const struct dify_app	dify_app_completion;
extern const struct dify_app	dify_app_workflow;

const struct dify_app	*dify_app_for_mode(enum dify_app_mode);
enum dify_app_mode	 dify_app_mode_parse(const char *, size_t);
const char		*dify_app_mode_name(enum dify_app_mode);
int			 dify_app_stop_path(const struct dify_app *,
			    const char *, char *, size_t);
int			 dify_app_workflow_failed(struct relay *,
			    const struct dify_event *);
void			 dify_app_file_link(struct relay *,
			    const struct dify_event *);
void			 dify_app_chat_event(struct relay *,
			    const struct dify_event *);
void			 dify_app_chat_blocking(struct relay *, const char *,
			    size_t);
void			 dify_app_workflow_output(const char *, size_t,
			    const char *, struct buf *);
int			 dify_app_form_text_input(const char *, size_t,
			    enum dify_app_mode, char *, size_t);
int			 dify_app_info_parse(const char *, size_t, char **,
			    enum dify_app_mode *);
enum dify_app_mode	 dify_app_next_guess(enum dify_app_mode, int,
			    const char *, size_t);
int			 dify_app_conversation_gone(const struct api_error *);

#endif
