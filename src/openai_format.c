/*
 * openai_format: the bytes of OpenAI chat completion responses.
 *
 * Every chunk of one stream shares its id, created and model, so the part
 * of each chunk that does not change is built once per exchange; a content
 * chunk is then the prefix, the escaped text and the suffix, with no JSON
 * tree built or freed per event.
 *
 * Chunk shape (one line, then a blank line):
 *   data: {"id":"chatcmpl-..","object":"chat.completion.chunk","created":N,
 *          "model":"..","choices":[{"index":0,"delta":{..},"logprobs":null,
 *          "finish_reason":null}](,"usage":null)}
 */
#include <stdlib.h>
#include <string.h>

#include "openai_format.h"
#include "util.h"

/* The parts in the order openai_format_init writes them into the block. */
enum openai_format_index {
	OF_HEAD, OF_CHUNK_PREFIX, OF_CHUNK_SUFFIX, OF_CONTENT_PREFIX,
	OF_CONTENT_SUFFIX, OF_REASONING_PREFIX, OF_NPARTS
};

/* Build the fixed parts of an exchange's chunks. */
void
openai_format_init(struct openai_format *f, const char *id, int64_t created,
    const char *model, size_t modellen, int include_usage)
{
	struct openai_format_part *part[OF_NPARTS] = { &f->head,
	    &f->chunk_prefix, &f->chunk_suffix, &f->content_prefix,
	    &f->content_suffix, &f->reasoning_prefix };
	struct buf	b = BUF_INIT;
	size_t		start[OF_NPARTS + 1];
	int		i;

	f->include_usage = include_usage;
	f->conversation_id = NULL;

	/* Each part is appended to b in order; start[i + 1] ends part i. */
	start[OF_HEAD] = 0;
	buf_add_str(&b, "{\"id\":");
	buf_add_json_cstring(&b, id);
	buf_add_str(&b, ",\"object\":\"chat.completion.chunk\","
	    "\"created\":");
	buf_add_int(&b, created);
	buf_add_str(&b, ",\"model\":");
	buf_add_json_string(&b, model, modellen);
	/* Room for every part now: the copies below read from b's bytes. */
	buf_reserve(&b, 3 * b.len + 512);

	start[OF_CHUNK_PREFIX] = b.len;
	buf_add_str(&b, "data: ");
	buf_add(&b, b.data, start[OF_CHUNK_PREFIX]);
	buf_add_str(&b, ",\"choices\":[{\"index\":0,\"delta\":");

	start[OF_CHUNK_SUFFIX] = b.len;
	buf_add_str(&b, ",\"logprobs\":null,\"finish_reason\":null}]");
	if (include_usage)
		buf_add_str(&b, ",\"usage\":null");
	buf_add_str(&b, "}\n\n");

	start[OF_CONTENT_PREFIX] = b.len;
	buf_add(&b, b.data + start[OF_CHUNK_PREFIX],
	    start[OF_CHUNK_SUFFIX] - start[OF_CHUNK_PREFIX]);
	buf_add_str(&b, "{\"content\":\"");

	start[OF_CONTENT_SUFFIX] = b.len;
	buf_add_str(&b, "\"}");
	buf_add(&b, b.data + start[OF_CHUNK_SUFFIX],
	    start[OF_CONTENT_PREFIX] - start[OF_CHUNK_SUFFIX]);

	start[OF_REASONING_PREFIX] = b.len;
	buf_add(&b, b.data + start[OF_CHUNK_PREFIX],
	    start[OF_CHUNK_SUFFIX] - start[OF_CHUNK_PREFIX]);
	buf_add_str(&b, "{\"reasoning_content\":\"");
	start[OF_NPARTS] = b.len;

	f->block = xmalloc(b.len);
	memcpy(f->block, b.data, b.len);
	buf_free(&b);
	for (i = 0; i < OF_NPARTS; i++) {
		part[i]->data = f->block + start[i];
		part[i]->len = start[i + 1] - start[i];
	}
}

/* Release the prebuilt parts. */
void
openai_format_free(struct openai_format *f)
{
	free(f->block);
	f->block = NULL;
}

/* Append the first chunk, which names the assistant role. */
void
openai_format_role_chunk(const struct openai_format *f, struct buf *out)
{
	buf_add(out, f->chunk_prefix.data, f->chunk_prefix.len);
	buf_add_str(out, "{\"role\":\"assistant\",\"content\":\"\"}");
	buf_add(out, f->chunk_suffix.data, f->chunk_suffix.len);
}

/*
 * The same with content null, as OpenAI starts a stream that may be tool
 * calls: an SDK assembling the message then keeps content null for calls
 * and still appends text to it.
 */
void
openai_format_role_chunk_null(const struct openai_format *f, struct buf *out)
{
	buf_add(out, f->chunk_prefix.data, f->chunk_prefix.len);
	buf_add_str(out, "{\"role\":\"assistant\",\"content\":null}");
	buf_add(out, f->chunk_suffix.data, f->chunk_suffix.len);
}

/* Append a chunk carrying len bytes of answer text. */
void
openai_format_content_chunk(const struct openai_format *f, struct buf *out,
    const char *text, size_t len)
{
	size_t	pre = f->content_prefix.len, suf = f->content_suffix.len;

	buf_reserve(out, pre + len + suf);
	memcpy(out->data + out->len, f->content_prefix.data, pre);
	out->len += pre;
	buf_add_json_escaped(out, text, len);
	buf_reserve(out, suf);
	memcpy(out->data + out->len, f->content_suffix.data, suf);
	out->len += suf;
}

/*
 * Append a chunk carrying reasoning text, in delta.reasoning_content: the
 * field DeepSeek's API and the clients that show reasoning (Open WebUI,
 * LobeChat, Cherry Studio, the AI SDK) read.
 */
void
openai_format_reasoning_chunk(const struct openai_format *f, struct buf *out,
    const char *text, size_t len)
{
	buf_add(out, f->reasoning_prefix.data, f->reasoning_prefix.len);
	buf_add_json_escaped(out, text, len);
	buf_add(out, f->content_suffix.data, f->content_suffix.len);
}

/* Append one tool call as JSON: index (streams only), id, function. */
static void
openai_format_tool_call(struct buf *out, int with_index, size_t index,
    const struct tool_call *c)
{
	buf_add_char(out, '{');
	if (with_index) {
		buf_add_str(out, "\"index\":");
		buf_add_uint(out, index);
		buf_add_char(out, ',');
	}
	buf_add_str(out, "\"id\":");
	buf_add_json_cstring(out, c->id);
	buf_add_str(out, ",\"type\":\"function\",\"function\":{\"name\":");
	buf_add_json_cstring(out, c->name);
	buf_add_str(out, ",\"arguments\":");
	buf_add_json_cstring(out, c->arguments);
	buf_add_str(out, "}}");
}

/*
 * Append a chunk carrying one whole tool call (the arguments in one
 * piece, which every client accumulates as it would deltas).
 */
void
openai_format_tool_call_chunk(const struct openai_format *f, struct buf *out,
    size_t index, const struct tool_call *c)
{
	buf_add(out, f->chunk_prefix.data, f->chunk_prefix.len);
	buf_add_str(out, "{\"tool_calls\":[");
	openai_format_tool_call(out, 1, index, c);
	buf_add_str(out, "]}");
	buf_add(out, f->chunk_suffix.data, f->chunk_suffix.len);
}

/* Append the chunk with an empty delta and the finish reason. */
void
openai_format_finish_chunk(const struct openai_format *f, struct buf *out,
    const char *finish_reason)
{
	buf_add(out, f->chunk_prefix.data, f->chunk_prefix.len);
	buf_add_str(out, "{},\"logprobs\":null,\"finish_reason\":");
	buf_add_json_cstring(out, finish_reason);
	buf_add_str(out, "}]");
	if (f->include_usage)
		buf_add_str(out, ",\"usage\":null");
	buf_add_str(out, "}\n\n");
}

/* Append a usage object: the three counts OpenAI clients read. */
void
openai_format_usage(struct buf *out, const struct dify_usage *u)
{
	buf_add_str(out, "{\"prompt_tokens\":");
	buf_add_uint(out, u->prompt_tokens);
	buf_add_str(out, ",\"completion_tokens\":");
	buf_add_uint(out, u->completion_tokens);
	buf_add_str(out, ",\"total_tokens\":");
	buf_add_uint(out, u->total_tokens);
	buf_add_char(out, '}');
}

/* Append the include_usage chunk: no choices, the whole request's usage. */
void
openai_format_usage_chunk(const struct openai_format *f, struct buf *out,
    const struct dify_usage *u)
{
	buf_add_str(out, "data: ");
	buf_add(out, f->head.data, f->head.len);
	buf_add_str(out, ",\"choices\":[],\"usage\":");
	openai_format_usage(out, u);
	buf_add_str(out, "}\n\n");
}

/* Append the stream terminator. */
void
openai_format_done(struct buf *out)
{
	buf_add_str(out, "data: [DONE]\n\n");
}

/* Append an in-stream error frame. */
void
openai_format_error_frame(const struct api_error *e, struct buf *out)
{
	buf_add_str(out, "data: ");
	api_error_json(e, out);
	buf_add_str(out, "\n\n");
}

/* Append the head of a chat.completion (the chunk's, renamed). */
static void
openai_format_completion_head(const struct openai_format *f, struct buf *out)
{
	const char	*object;

	object = memmem(f->head.data, f->head.len,
	    "\"chat.completion.chunk\"", 23);
	buf_add(out, f->head.data, (size_t)(object - f->head.data));
	buf_add_str(out, "\"chat.completion\"");
	object += 23;
	buf_add(out, object, f->head.len - (size_t)(object - f->head.data));
}

/*
 * Append a whole chat.completion object (the non-streaming answer).  usage
 * is left out when Dify reported none rather than invented.
 */
void
openai_format_completion(const struct openai_format *f, struct buf *out,
    const char *text, size_t len, const char *finish_reason,
    const struct dify_usage *u)
{
	openai_format_completion_reasoning(f, out, text, len, NULL, 0,
	    finish_reason, u);
}

/*
 * The Dify conversation of a whole completion, as a member SDKs ignore
 * and Dify-aware clients may send back; nothing when there is none.
 */
static void
openai_format_conversation(const struct openai_format *f, struct buf *out)
{
	if (f->conversation_id == NULL || f->conversation_id[0] == '\0')
		return;
	buf_add_str(out, ",\"conversation_id\":");
	buf_add_json_cstring(out, f->conversation_id);
}

/*
 * The same with the reasoning (NULL for none) in message.reasoning_content,
 * which is left out when there was none.
 */
void
openai_format_completion_reasoning(const struct openai_format *f,
    struct buf *out, const char *text, size_t len, const char *reasoning,
    size_t rlen, const char *finish_reason, const struct dify_usage *u)
{
	openai_format_completion_head(f, out);
	buf_add_str(out, ",\"choices\":[{\"index\":0,\"message\":{"
	    "\"role\":\"assistant\",\"content\":");
	buf_add_json_string(out, text, len);
	if (reasoning != NULL) {
		buf_add_str(out, ",\"reasoning_content\":");
		buf_add_json_string(out, reasoning, rlen);
	}
	buf_add_str(out, ",\"refusal\":null},\"logprobs\":null,"
	    "\"finish_reason\":");
	buf_add_json_cstring(out, finish_reason);
	buf_add_str(out, "}]");
	if (u->present) {
		buf_add_str(out, ",\"usage\":");
		openai_format_usage(out, u);
	}
	openai_format_conversation(f, out);
	buf_add_char(out, '}');
}

/*
 * Append a whole chat.completion whose answer is tool calls: content
 * null, the calls in message.tool_calls, finish_reason "tool_calls".
 */
void
openai_format_completion_calls(const struct openai_format *f,
    struct buf *out, const char *reasoning, size_t rlen,
    const struct tool_calls *calls, const struct dify_usage *u)
{
	size_t	i;

	openai_format_completion_head(f, out);
	buf_add_str(out, ",\"choices\":[{\"index\":0,\"message\":{"
	    "\"role\":\"assistant\",\"content\":null");
	if (reasoning != NULL) {
		buf_add_str(out, ",\"reasoning_content\":");
		buf_add_json_string(out, reasoning, rlen);
	}
	buf_add_str(out, ",\"tool_calls\":[");
	for (i = 0; i < calls->n; i++) {
		if (i > 0)
			buf_add_char(out, ',');
		openai_format_tool_call(out, 0, i, &calls->v[i]);
	}
	buf_add_str(out, "],\"refusal\":null},\"logprobs\":null,"
	    "\"finish_reason\":\"tool_calls\"}]");
	if (u->present) {
		buf_add_str(out, ",\"usage\":");
		openai_format_usage(out, u);
	}
	openai_format_conversation(f, out);
	buf_add_char(out, '}');
}
