/*
 * conversation: how a stateless OpenAI chat maps onto one Dify
 * conversation, without I/O.
 *
 * OpenAI clients resend the whole history every turn; Dify keeps the
 * history itself under a conversation_id.  After a complete answer the
 * proxy remembers digest(history + answer) -> conversation_id; a later
 * request whose history before its last user message has that digest is
 * the next turn of that conversation, and only the new message goes to
 * Dify.  Anything else (an edited or deleted turn, another system
 * prompt, a parallel chat) has another digest and starts afresh with the
 * whole transcript, so a wrong conversation is never continued.
 *
 * The digest is SipHash-1-3 in eight lanes (siphash_lanes.c: the lanes
 * run side by side, and a 100 KB history is hashed on every request)
 * over a canonical form, never the text itself, under a key made from
 * the scope (the app: its key and Dify):
 * a version tag, the scope, the Dify user,
 * then per message its role (developer counts as system, function as
 * tool), its text (a string, or the text parts joined by newlines; an
 * assistant's leading <think> or <details> block dropped; surrounding
 * whitespace trimmed), its image URLs, an assistant's tool calls (name
 * and arguments) and a tool message's call id.  Every field is tagged
 * and followed by its length, so no two different histories share an
 * encoding (read from the end, every field's length comes first), and
 * an answer can be hashed as it streams, before its length is known
 * (conversation_answer_*: only a leading block and trailing whitespace
 * are held back, never the answer).
 * Other members (name, refusal: null, reasoning_content) do not count:
 * clients differ in what they echo back.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "conversation.h"
#include "siphash.h"
#include "siphash_lanes.h"

#define CONVERSATION_VERSION	"odp-conversation-v4"
#define CONVERSATION_TASK	"### Task:"

/* Field tags of the canonical form. */
enum conversation_tag {
	CONV_TAG_VERSION = 'V',
	CONV_TAG_SCOPE = 'S',
	CONV_TAG_USER = 'U',
	CONV_TAG_MESSAGE = 'M',		/* the role letter */
	CONV_TAG_TEXT = 'T',
	CONV_TAG_IMAGE = 'I',
	CONV_TAG_CALL_NAME = 'N',
	CONV_TAG_CALL_ARGS = 'A',
	CONV_TAG_CALL_ID = 'C'
};

/* The canonical role letter of a role string; 0 for none. */
static char
conversation_role(const json_t *msg)
{
	const char	*r = json_string_value(json_object_get(msg, "role"));

	if (r == NULL)
		return (0);
	if (strcmp(r, "user") == 0)
		return ('u');
	if (strcmp(r, "assistant") == 0)
		return ('a');
	if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0)
		return ('s');
	if (strcmp(r, "tool") == 0 || strcmp(r, "function") == 0)
		return ('t');
	return (0);
}

/* True for the whitespace that canonical text trims. */
static int
conversation_space(char c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

/* If p[0..len) opens with the block open...close, the length to skip. */
static size_t
conversation_block(const char *p, size_t len, const char *open,
    const char *close)
{
	size_t		 olen = strlen(open), clen = strlen(close);
	const char	*end;

	if (len < olen || memcmp(p, open, olen) != 0)
		return (0);
	end = memmem(p + olen, len - olen, close, clen);
	if (end == NULL)
		return (0);
	return ((size_t)(end - p) + clen);
}

/*
 * The canonical part of a text: without a leading <think> or <details>
 * block (clients keep reasoning in those, or drop it) and without the
 * whitespace around it.  Sets *start and *len within text.
 */
void
conversation_canonical_text(const char *text, size_t len, size_t *start,
    size_t *outlen)
{
	size_t	s = 0, e = len, skip;
	int	blocks;

	for (blocks = 0; blocks < 2; blocks++) {
		while (s < e && conversation_space(text[s]))
			s++;
		if ((skip = conversation_block(text + s, e - s, "<think>",
		    "</think>")) == 0 && (skip = conversation_block(text + s,
		    e - s, "<details", "</details>")) == 0)
			break;
		s += skip;
	}
	while (s < e && conversation_space(text[s]))
		s++;
	while (e > s && conversation_space(text[e - 1]))
		e--;
	*start = s;
	*outlen = e - s;
}

/*
 * The key of a scope's digests: SipHash under a fixed key of the version
 * tag and the scope.  Every instance that shares a store derives the
 * same key; without the scope (which holds the app's Dify key) the
 * digests a store keeps say nothing about the texts they stand for.
 */
static void
conversation_scope_key(const char *scope, size_t len,
    unsigned char key[SIPHASH_KEY_LEN])
{
	static const unsigned char	fixed[SIPHASH_KEY_LEN];
	struct siphash_state		st;

	siphash128_init(&st, fixed, SIPHASH_2_4);
	siphash128_update(&st, CONVERSATION_VERSION,
	    sizeof(CONVERSATION_VERSION));
	siphash128_update(&st, scope, len);
	siphash128_final(&st, key);
}

/* Hand the staged bytes to the digest. */
static void
conversation_hash_flush(struct conversation_hash *h)
{
	if (h->n > 0)
		siphash_lanes_update(&h->hash, h->stage, h->n);
	h->n = 0;
}

/* Add bytes to the hash, through the stage unless they fill it. */
static void
conversation_hash_add(struct conversation_hash *h, const void *p, size_t n)
{
	if (h->n + n > sizeof(h->stage)) {
		conversation_hash_flush(h);
		if (n >= sizeof(h->stage)) {
			siphash_lanes_update(&h->hash, p, n);
			return;
		}
	}
	memcpy(h->stage + h->n, p, n);
	h->n += n;
}

/* Hash the length that ends a field, as 8 bytes little-endian. */
static void
conversation_field_end(struct conversation_hash *h, uint64_t len)
{
	unsigned char	tail[8];
	int		i;

	for (i = 0; i < 8; i++)
		tail[i] = (unsigned char)(len >> (8 * i));
	conversation_hash_add(h, tail, sizeof(tail));
}

/* Hash one field: its tag, its bytes, its length. */
static void
conversation_field(struct conversation_hash *h, char tag, const void *data,
    size_t len)
{
	unsigned char	t = (unsigned char)tag;

	conversation_hash_add(h, &t, 1);
	if (len > 0)
		conversation_hash_add(h, data, len);
	conversation_field_end(h, len);
}

/* Hash a text field in its canonical form. */
static void
conversation_text(struct conversation_hash *ctx, const char *text, size_t len)
{
	size_t	s, n;

	conversation_canonical_text(text, len, &s, &n);
	conversation_field(ctx, CONV_TAG_TEXT, text + s, n);
}

/* Hash a string member of obj, if it is one. */
static void
conversation_member(struct conversation_hash *ctx, char tag, const json_t *obj,
    const char *key)
{
	const json_t	*v = json_object_get(obj, key);

	if (json_is_string(v))
		conversation_field(ctx, tag, json_string_value(v),
		    json_string_length(v));
}

/* The URL of an image part ({"url": ...} or a bare string), or NULL. */
static const json_t *
conversation_image_url(const json_t *part)
{
	const json_t	*img = json_object_get(part, "image_url");

	if (json_is_object(img))
		img = json_object_get(img, "url");
	return (json_is_string(img) ? img : NULL);
}

/* Hash one message in its canonical form. */
static void
conversation_message(struct conversation_hash *ctx, const json_t *msg,
    char role,
    struct buf *scratch)
{
	const json_t	*content, *part, *v, *calls, *call, *fn;
	const char	*t;
	size_t		 i;

	conversation_field(ctx, CONV_TAG_MESSAGE, &role, 1);
	content = json_object_get(msg, "content");
	buf_reset(scratch);
	if (json_is_string(content)) {
		/* The common case: the text as it is, without a copy. */
		conversation_text(ctx, json_string_value(content),
		    json_string_length(content));
	} else if (json_is_array(content)) {
		json_array_foreach(content, i, part) {
			t = json_string_value(json_object_get(part, "type"));
			if (t == NULL || strcmp(t, "image_url") == 0)
				continue;
			v = json_object_get(part, t);
			if (!json_is_string(v) || json_string_length(v) == 0)
				continue;
			if (scratch->len > 0)
				buf_add_char(scratch, '\n');
			buf_add(scratch, json_string_value(v),
			    json_string_length(v));
		}
	}
	if (!json_is_string(content))
		conversation_text(ctx, scratch->data ? scratch->data : "",
		    scratch->len);
	if (json_is_array(content)) {
		json_array_foreach(content, i, part) {
			t = json_string_value(json_object_get(part, "type"));
			if (t != NULL && strcmp(t, "image_url") == 0 &&
			    (v = conversation_image_url(part)) != NULL)
				conversation_field(ctx, CONV_TAG_IMAGE,
				    json_string_value(v), json_string_length(v));
		}
	}
	if (role == 'a' && json_is_array(calls = json_object_get(msg,
	    "tool_calls"))) {
		json_array_foreach(calls, i, call) {
			fn = json_object_get(call, "function");
			conversation_member(ctx, CONV_TAG_CALL_NAME, fn, "name");
			conversation_member(ctx, CONV_TAG_CALL_ARGS, fn,
			    "arguments");
		}
	}
	if (role == 't')
		conversation_member(ctx, CONV_TAG_CALL_ID, msg, "tool_call_id");
}

/*
 * True if the request is a client's background task (Open WebUI's title,
 * tags and follow-up prompts: a system or user message that starts with
 * "### Task:"), which must not start or advance a conversation.
 */
int
conversation_is_task_prompt(const void *messages_json)
{
	const json_t	*messages = messages_json, *msg, *content, *part;
	const char	*s;
	size_t		 i, j, n = strlen(CONVERSATION_TASK);
	char		 role;

	json_array_foreach(messages, i, msg) {
		role = conversation_role(msg);
		if (role != 'u' && role != 's')
			continue;
		content = json_object_get(msg, "content");
		if (json_is_string(content)) {
			s = json_string_value(content);
			while (isspace((unsigned char)*s))
				s++;
			if (strncmp(s, CONVERSATION_TASK, n) == 0)
				return (1);
		} else if (json_is_array(content)) {
			json_array_foreach(content, j, part) {
				s = json_string_value(json_object_get(part,
				    "text"));
				if (s == NULL)
					continue;
				while (isspace((unsigned char)*s))
					s++;
				if (strncmp(s, CONVERSATION_TASK, n) == 0)
					return (1);
				break;	/* only the first text part */
			}
		}
	}
	return (0);
}

/*
 * Start a turn for the messages (a JSON array, already validated) of a
 * request to the app named by scope, as the Dify user.  A turn whose
 * last message is a user message after earlier ones may continue a
 * conversation (lookup: prefix is the digest of those earlier ones) and
 * may be remembered once answered; a task prompt does neither.
 */
void
conversation_turn_init(struct conversation_turn *t, const char *scope,
    size_t scopelen, const char *user, const void *messages_json)
{
	const json_t	*messages = messages_json, *msg;
	struct conversation_hash h;
	unsigned char	 key[SIPHASH_KEY_LEN];
	struct buf	 scratch = BUF_INIT;
	size_t		 i, n;
	char		 role, last;

	memset(t, 0, sizeof(*t));
	n = json_array_size(messages);
	if (n == 0 || conversation_is_task_prompt(messages))
		return;
	last = conversation_role(json_array_get(messages, n - 1));
	if (last != 'u')
		return;
	h.n = 0;
	conversation_scope_key(scope, scopelen, key);
	siphash_lanes_init(&h.hash, key);
	conversation_field(&h, CONV_TAG_VERSION, CONVERSATION_VERSION,
	    strlen(CONVERSATION_VERSION));
	conversation_field(&h, CONV_TAG_SCOPE, scope, scopelen);
	conversation_field(&h, CONV_TAG_USER, user, strlen(user));
	for (i = 0; i < n; i++) {
		if (i == n - 1 && n > 1) {
			/* The history before the new message. */
			conversation_hash_flush(&h);
			siphash_lanes_final(&h.hash, t->prefix);
			t->lookup = 1;
		}
		msg = json_array_get(messages, i);
		role = conversation_role(msg);
		conversation_message(&h, msg, role, &scratch);
	}
	buf_free(&scratch);
	conversation_hash_flush(&h);
	t->hash = h.hash;
	t->remember = 1;
}

/*
 * Where the canonical text starts in p[0..n) (as conversation_canonical_
 * text finds it), or -1 while more bytes could move it: all whitespace
 * so far, a possible start of a <think> or <details> block, or a block
 * not closed yet.
 */
static ssize_t
conversation_lead_end(const char *p, size_t n)
{
	static const char *const blocks[][2] = {
		{ "<think>", "</think>" }, { "<details", "</details>" }
	};
	const char	*end;
	size_t		 s = 0, olen, k;
	int		 nblocks;

	for (nblocks = 0;; nblocks++) {
		while (s < n && conversation_space(p[s]))
			s++;
		if (s == n)
			return (-1);
		if (nblocks == 2)
			return ((ssize_t)s);
		for (k = 0; k < 2; k++) {
			olen = strlen(blocks[k][0]);
			if (n - s < olen) {
				if (memcmp(p + s, blocks[k][0], n - s) == 0)
					return (-1);
				continue;
			}
			if (memcmp(p + s, blocks[k][0], olen) != 0)
				continue;
			end = memmem(p + s + olen, n - s - olen, blocks[k][1],
			    strlen(blocks[k][1]));
			if (end == NULL)
				return (-1);
			s = (size_t)(end - p) + strlen(blocks[k][1]);
			break;
		}
		if (k == 2)
			return ((ssize_t)s);
	}
}

/*
 * Start the digest of the turn's whole history followed by an assistant
 * answer that will be fed in pieces (max: the most bytes ever held back
 * at once).  Returns 0, or -1 if the turn is not to be remembered.
 */
int
conversation_answer_begin(struct conversation_answer *a,
    const struct conversation_turn *t, size_t max)
{
	char		 role = 'a';
	unsigned char	 tag = CONV_TAG_TEXT;

	a->state = CONVERSATION_ANSWER_FAILED;
	a->h.n = 0;
	a->len = 0;
	buf_init(&a->held);
	a->max = max;
	if (!t->remember)
		return (-1);
	a->h.hash = t->hash;
	conversation_field(&a->h, CONV_TAG_MESSAGE, &role, 1);
	conversation_hash_add(&a->h, &tag, 1);
	conversation_hash_flush(&a->h);	/* the stage is the answer's now */
	a->state = CONVERSATION_ANSWER_LEAD;
	return (0);
}

/* Hash canonical answer bytes, straight to the digest. */
static void
conversation_answer_hash(struct conversation_answer *a, const char *p,
    size_t n)
{
	if (n == 0)
		return;
	siphash_lanes_update(&a->h.hash, p, n);
	a->len += n;
}

/*
 * Hash the stage up to its trailing blanks, which stay staged (the end
 * may trim them); a stage of blanks only joins the blanks held before
 * it.  Blanks are hashed only once something follows them.
 */
static void
conversation_answer_spill(struct conversation_answer *a)
{
	struct conversation_hash	*h = &a->h;
	size_t				 k = h->n;

	while (k > 0 && conversation_space((char)h->stage[k - 1]))
		k--;
	if (k == 0) {
		if (a->held.len + h->n > a->max) {
			/* A blank run too long to hold. */
			conversation_answer_free(a);
			return;
		}
		buf_add(&a->held, h->stage, h->n);
		h->n = 0;
		return;
	}
	conversation_answer_hash(a, a->held.data, a->held.len);
	buf_reset(&a->held);
	conversation_answer_hash(a, (const char *)h->stage, k);
	memmove(h->stage, h->stage + k, h->n - k);
	h->n -= k;
}

/*
 * Take answer bytes past the leading block: they are staged (one copy
 * per piece) and hashed a stage at a time.
 */
static void
conversation_answer_body(struct conversation_answer *a, const char *p,
    size_t n)
{
	struct conversation_hash	*h = &a->h;
	size_t				 c;

	while (n > 0 && a->state == CONVERSATION_ANSWER_BODY) {
		if (h->n == sizeof(h->stage))
			conversation_answer_spill(a);
		c = sizeof(h->stage) - h->n;
		if (c > n)
			c = n;
		memcpy(h->stage + h->n, p, c);
		h->n += c;
		p += c;
		n -= c;
	}
}

/* Feed the next piece of the answer, as the client got it. */
void
conversation_answer_feed(struct conversation_answer *a, const char *p,
    size_t n)
{
	struct buf	lead;
	ssize_t		s;

	if (a->state == CONVERSATION_ANSWER_FAILED || n == 0)
		return;
	if (a->state == CONVERSATION_ANSWER_BODY) {
		conversation_answer_body(a, p, n);
		return;
	}
	buf_add(&a->held, p, n);
	if ((s = conversation_lead_end(a->held.data, a->held.len)) < 0) {
		if (a->held.len > a->max)
			conversation_answer_free(a);	/* a lead too long */
		return;
	}
	/* The start is known: what follows it is the body. */
	lead = a->held;
	buf_init(&a->held);
	a->state = CONVERSATION_ANSWER_BODY;
	conversation_answer_body(a, lead.data + s, lead.len - (size_t)s);
	buf_free(&lead);
}

/*
 * The digest of the history and the whole answer, into out
 * (CONVERSATION_DIGEST_LEN bytes).  Returns 0, or -1 if the answer is
 * not to be remembered.  The answer is freed either way.
 */
int
conversation_answer_end(struct conversation_answer *a, uint8_t *out)
{
	size_t	s, n;
	int	rc = -1;

	if (a->state == CONVERSATION_ANSWER_LEAD) {
		/* Never settled (all blank, or an unclosed block): as a whole. */
		conversation_canonical_text(a->held.data ? a->held.data : "",
		    a->held.len, &s, &n);
		if (n > 0)
			conversation_answer_hash(a, a->held.data + s, n);
	} else if (a->state == CONVERSATION_ANSWER_BODY) {
		/* Up to the last non-blank; the blanks after it are trimmed. */
		conversation_answer_spill(a);
		a->h.n = 0;
	}
	if (a->state != CONVERSATION_ANSWER_FAILED) {
		conversation_field_end(&a->h, a->len);
		conversation_hash_flush(&a->h);
		siphash_lanes_final(&a->h.hash, out);
		rc = 0;
	}
	conversation_answer_free(a);
	return (rc);
}

/* Release what an answer's digest holds. */
void
conversation_answer_free(struct conversation_answer *a)
{
	a->h.n = 0;
	buf_free(&a->held);
	a->state = CONVERSATION_ANSWER_FAILED;
}

/*
 * The digest of the turn's whole history followed by the assistant
 * answer text, into out (CONVERSATION_DIGEST_LEN bytes).  The turn stays
 * as it was.  Returns 0, or -1 if the turn is not to be remembered.
 */
int
conversation_turn_answer(const struct conversation_turn *t,
    const char *answer, size_t len, uint8_t *out)
{
	struct conversation_answer	a;

	if (conversation_answer_begin(&a, t, len + 1) != 0)
		return (-1);
	conversation_answer_feed(&a, answer, len);
	return (conversation_answer_end(&a, out));
}

/* End the turn: it neither looks up nor remembers any more. */
void
conversation_turn_free(struct conversation_turn *t)
{
	t->lookup = t->remember = 0;
}

/* Write a digest as 32 lowercase hex digits and a NUL (33 bytes). */
void
conversation_digest_hex(const uint8_t *d, char *out)
{
	static const char	hex[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < CONVERSATION_DIGEST_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 0xf];
	}
	out[2 * CONVERSATION_DIGEST_LEN] = '\0';
}

/*
 * True if id may be a Dify conversation id as a client names it: 1 to
 * CONVERSATION_MAX_ID - 1 letters, digits, '-', '_', '{' or '}' (a UUID
 * in any of its spellings), so it is safe to echo in a header.  Dify
 * itself checks that it is a UUID.
 */
int
conversation_id_ok(const char *id, size_t len)
{
	size_t	i;

	if (len == 0 || len >= CONVERSATION_MAX_ID)
		return (0);
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)id[i]) && id[i] != '-' &&
		    id[i] != '_' && id[i] != '{' && id[i] != '}')
			return (0);
	}
	return (1);
}
