/*
 * openai_format: the bytes of OpenAI chat completion responses.
 */
#ifndef ODP_OPENAI_FORMAT_H
#define ODP_OPENAI_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "api_error.h"
#include "buf.h"
#include "dify_event.h"
#include "tool_call.h"

/* One fixed part of a stream's chunks: bytes inside the format's block. */
struct openai_format_part {
	const char	*data;
	size_t		 len;
};

/*
 * The fixed parts, built once per exchange into one block of their exact
 * size (a stream keeps them to its end: no per-part buffers held).
 */
struct openai_format {
	char			*block;		/* owns every part's bytes */
	struct openai_format_part head;		/* {"id":..,"object":..,"created":..,"model":.. */
	struct openai_format_part chunk_prefix;	/* data: <head>,"choices":[{"index":0,"delta": */
	struct openai_format_part chunk_suffix;	/* ,"logprobs":null,"finish_reason":null}]...}\n\n */
	struct openai_format_part content_prefix; /* chunk_prefix {"content":" */
	struct openai_format_part content_suffix; /* "} chunk_suffix */
	struct openai_format_part reasoning_prefix; /* chunk_prefix {"reasoning_content":" */
	int			 include_usage;
	const char		*conversation_id; /* non-stream bodies name it; NULL */
};

void	 openai_format_init(struct openai_format *, const char *, int64_t,
	    const char *, size_t, int);
void	 openai_format_free(struct openai_format *);
void	 openai_format_role_chunk(const struct openai_format *, struct buf *);
void	 openai_format_role_chunk_null(const struct openai_format *,
	    struct buf *);
void	 openai_format_content_chunk(const struct openai_format *,
	    struct buf *, const char *, size_t);
void	 openai_format_reasoning_chunk(const struct openai_format *,
	    struct buf *, const char *, size_t);
void	 openai_format_finish_chunk(const struct openai_format *, struct buf *,
	    const char *);
void	 openai_format_usage_chunk(const struct openai_format *, struct buf *,
	    const struct dify_usage *);
void	 openai_format_done(struct buf *);
void	 openai_format_error_frame(const struct api_error *, struct buf *);
void	 openai_format_completion(const struct openai_format *, struct buf *,
	    const char *, size_t, const char *, const struct dify_usage *);
void	 openai_format_completion_reasoning(const struct openai_format *,
	    struct buf *, const char *, size_t, const char *, size_t,
	    const char *, const struct dify_usage *);
void	 openai_format_tool_call_chunk(const struct openai_format *,
	    struct buf *, size_t, const struct tool_call *);
void	 openai_format_completion_calls(const struct openai_format *,
	    struct buf *, const char *, size_t, const struct tool_calls *,
	    const struct dify_usage *);
void	 openai_format_usage(struct buf *, const struct dify_usage *);

#endif
