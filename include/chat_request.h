/*
 * chat_request: an OpenAI chat completion request, read and turned into
 * the body of Dify's POST /chat-messages.
 */
#ifndef ODP_CHAT_REQUEST_H
#define ODP_CHAT_REQUEST_H

#include <stddef.h>

#include "api_error.h"
#include "buf.h"
#include "conversation.h"
#include "dify_upload.h"

#define CHAT_REQUEST_MAX_USER	255	/* Dify stores user in String(255) */

struct chat_request {
	void		*root;		/* json_t of the body; owns strings */
	const char	*model;		/* as sent, or the default */
	size_t		 modellen;
	int		 stream;
	int		 include_usage;
	char		 user[CHAT_REQUEST_MAX_USER + 1];	/* "" if none */
	size_t		 nmessages;
	size_t		 last_user;	/* index of the last user message */
	int		 first_turn;	/* one message, from the user */
	struct buf	 files;		/* Dify file mappings, JSON array items */
	size_t		 nfiles;
	struct dify_upload_image *images;	/* inline ones, or NULL */
	size_t		 nimages;
	size_t		 body_len;	/* of the request: sizes the query */
	struct buf	 tools_prompt;	/* prompt tools: their description */
	char		 conversation_id[CONVERSATION_MAX_ID]; /* named; "" */
};

int	 chat_request_parse(struct chat_request *, const char *, size_t,
	    struct api_error *);
void	 chat_request_free(struct chat_request *);
void	 chat_request_query(const struct chat_request *, int, struct buf *);
void	 chat_request_dify_body(const struct chat_request *, const char *,
	    const char *, int, struct buf *);
void	 chat_request_dify_run_body(const struct chat_request *,
	    const char *, const char *, int, struct buf *);
int	 chat_request_fix_inputs(struct chat_request *, const char *);
int	 chat_request_prompt_tools(struct chat_request *, struct buf *);
int	 chat_request_name_conversation(struct chat_request *, const char *,
	    size_t, const char *, struct api_error *);

#endif
