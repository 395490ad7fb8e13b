/*
 * conversation: the conversations the look-alike keeps, as Dify keeps them
 * per app and end user (dify-api.md 2.1).  Each one has its id, the app
 * key and the user it belongs to, and its turns in order: the query, the
 * answer once the stream ends, and whether the answer completed
 * (message_end or the blocking body went out) or not (stopped, cut, an
 * error, the client left).
 *
 * The table is bounded so that a soak cannot grow it: at most CONV_MAX
 * conversations and CONV_BYTES_MAX bytes in all (structures and text);
 * past either limit the least recently used conversation goes first.  A
 * conversation that is the only one left over the byte limit lets its
 * oldest turns go instead (the newest stays); they still count in
 * conv_begin's number of earlier turns.  A stored query or answer keeps
 * its first CONV_TEXT_MAX bytes, cut at a UTF-8 character boundary.
 *
 * Streams never hold a pointer into the table: they name their turn by
 * conversation id and message id, so an eviction, a DELETE or a
 * /mock/reset while a stream runs only makes its conv_end find nothing.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

#define CONV_BUCKETS	16384		/* a power of two above CONV_MAX */

struct conv_turn {
	TAILQ_ENTRY(conv_turn)	 entry;
	char			 id[37];	/* the message id */
	char			*query;
	size_t			 query_len;
	char			*answer;	/* NULL while the stream runs */
	size_t			 answer_len;
	long long		 created_at;
	int			 complete;
};

TAILQ_HEAD(conv_turns, conv_turn);

struct conv {
	TAILQ_ENTRY(conv)	 lru;		/* least recently used first */
	struct conv		*next;		/* hash chain */
	char			 id[37];
	char			*key;
	char			*user;
	struct conv_turns	 turns;
	size_t			 nturns;
	long long		 dropped;	/* turns the byte limit took */
	size_t			 bytes;		/* counted in conv_bytes */
};

TAILQ_HEAD(conv_list, conv);

static struct conv_list	 conv_lru = TAILQ_HEAD_INITIALIZER(conv_lru);
static struct conv	**conv_hash;
static size_t		 conv_count;
static size_t		 conv_bytes;

/* Prepare the empty table. */
void
conv_init(void)
{
	conv_hash = util_xcalloc(CONV_BUCKETS, sizeof(*conv_hash));
	conv_count = conv_bytes = 0;
}

/* The hash bucket of a conversation id (FNV-1a). */
static size_t
conv_bucket(const char *id)
{
	uint64_t	h = 14695981039346656037ULL;

	for (; *id != '\0'; id++) {
		h ^= (unsigned char)*id;
		h *= 1099511628211ULL;
	}
	return ((size_t)h & (CONV_BUCKETS - 1));
}

/* The bytes a turn holds, as the budget counts them. */
static size_t
conv_turn_size(const struct conv_turn *t)
{
	return (sizeof(*t) + t->query_len + t->answer_len);
}

/* Free one turn. */
static void
conv_turn_free(struct conv_turn *t)
{
	free(t->query);
	free(t->answer);
	free(t);
}

/* Unlink a conversation from the table and free it with its turns. */
static void
conv_remove(struct conv *c)
{
	struct conv		**pp;
	struct conv_turn	 *t;

	for (pp = &conv_hash[conv_bucket(c->id)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	TAILQ_REMOVE(&conv_lru, c, lru);
	while ((t = TAILQ_FIRST(&c->turns)) != NULL) {
		TAILQ_REMOVE(&c->turns, t, entry);
		conv_turn_free(t);
	}
	conv_count--;
	conv_bytes -= c->bytes;
	free(c->key);
	free(c->user);
	free(c);
}

/* Forget every conversation (POST /mock/reset). */
void
conv_reset(void)
{
	struct conv	*c;

	while ((c = TAILQ_FIRST(&conv_lru)) != NULL)
		conv_remove(c);
}

/* Release the table at exit. */
void
conv_free(void)
{
	conv_reset();
	free(conv_hash);
	conv_hash = NULL;
}

/* The conversation id holds for this key and user, or NULL. */
struct conv *
conv_find(const char *id, const char *key, const char *user)
{
	struct conv	*c;

	if (conv_hash == NULL)
		return (NULL);
	for (c = conv_hash[conv_bucket(id)]; c != NULL; c = c->next)
		if (strcmp(c->id, id) == 0 && strcmp(c->key, key) == 0 &&
		    strcmp(c->user, user) == 0)
			return (c);
	return (NULL);
}

/* Make c the most recently used conversation. */
static void
conv_touch(struct conv *c)
{
	TAILQ_REMOVE(&conv_lru, c, lru);
	TAILQ_INSERT_TAIL(&conv_lru, c, lru);
}

/* Drop the oldest turn of c (the byte limit). */
static void
conv_drop_turn(struct conv *c)
{
	struct conv_turn	*t = TAILQ_FIRST(&c->turns);
	size_t			 n = conv_turn_size(t);

	TAILQ_REMOVE(&c->turns, t, entry);
	conv_turn_free(t);
	c->nturns--;
	c->dropped++;
	c->bytes -= n;
	conv_bytes -= n;
}

/* Keep the table within its limits; cur (just used) goes last. */
static void
conv_enforce(struct conv *cur)
{
	struct conv	*old;

	while (conv_count > CONV_MAX || conv_bytes > CONV_BYTES_MAX) {
		if ((old = TAILQ_FIRST(&conv_lru)) != cur) {
			conv_remove(old);
			continue;
		}
		if (cur->nturns <= 1)
			break;
		conv_drop_turn(cur);
	}
}

/* How many of n bytes at s to store: CONV_TEXT_MAX at most, whole chars. */
static size_t
conv_cap(const char *s, size_t n)
{
	if (n <= CONV_TEXT_MAX)
		return (n);
	n = CONV_TEXT_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return (n);
}

/* Add a conversation with this id for key and user. */
static struct conv *
conv_new(const char *id, const char *key, const char *user)
{
	struct conv	*c;
	size_t		 b;

	c = util_xcalloc(1, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->key = util_xstrdup(key);
	c->user = util_xstrdup(user);
	TAILQ_INIT(&c->turns);
	c->bytes = sizeof(*c) + strlen(key) + strlen(user);
	b = conv_bucket(c->id);
	c->next = conv_hash[b];
	conv_hash[b] = c;
	TAILQ_INSERT_TAIL(&conv_lru, c, lru);
	conv_count++;
	conv_bytes += c->bytes;
	return (c);
}

/*
 * An accepted chat request: append the turn msg_id with its query to the
 * conversation id of key and user, which is created if there is none.
 * Returns the number of turns the conversation had before this one.
 */
long long
conv_begin(const char *id, const char *key, const char *user,
    const char *msg_id, const char *query, size_t qlen, long long created_at)
{
	struct conv		*c;
	struct conv_turn	*t;
	long long		 before;

	if (conv_hash == NULL)
		return (0);
	if ((c = conv_find(id, key, user)) == NULL)
		c = conv_new(id, key, user);
	before = c->dropped + (long long)c->nturns;
	t = util_xcalloc(1, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", msg_id);
	t->query_len = conv_cap(query, qlen);
	t->query = util_xstrndup(query, t->query_len);
	t->created_at = created_at;
	TAILQ_INSERT_TAIL(&c->turns, t, entry);
	c->nturns++;
	c->bytes += conv_turn_size(t);
	conv_bytes += conv_turn_size(t);
	conv_touch(c);
	conv_enforce(c);
	return (before);
}

/*
 * The stream of turn msg_id in conversation id is over: store the answer
 * it carried (n bytes at answer) and whether it completed.  Nothing
 * happens if the conversation or the turn is gone, or it ended already.
 */
void
conv_end(const char *id, const char *msg_id, const char *answer, size_t n,
    int complete)
{
	struct conv		*c;
	struct conv_turn	*t = NULL;

	if (conv_hash == NULL)
		return;
	for (c = conv_hash[conv_bucket(id)]; c != NULL; c = c->next) {
		if (strcmp(c->id, id) != 0)
			continue;
		TAILQ_FOREACH_REVERSE(t, &c->turns, conv_turns, entry)
			if (strcmp(t->id, msg_id) == 0)
				break;
		if (t != NULL)
			break;
	}
	if (c == NULL || t == NULL || t->answer != NULL)
		return;
	t->answer_len = n > 0 ? conv_cap(answer, n) : 0;
	t->answer = util_xstrndup(n > 0 ? answer : "", t->answer_len);
	t->complete = complete;
	c->bytes += t->answer_len;
	conv_bytes += t->answer_len;
	conv_touch(c);
	conv_enforce(c);
}

/* DELETE /v1/conversations/{id}: the conversation is gone. */
void
conv_delete(struct conv *c)
{
	conv_remove(c);
}

/* Write one turn as a message of GET /v1/messages. */
static void
conv_message(const struct conv *c, const struct conv_turn *t, struct jw *w)
{
	jw_obj(w);
	jw_key(w, "id");
	jw_str(w, t->id);
	jw_key(w, "conversation_id");
	jw_str(w, c->id);
	jw_key(w, "inputs");
	jw_raw(w, "{}");
	jw_key(w, "query");
	jw_strn(w, t->query, t->query_len);
	jw_key(w, "answer");
	jw_strn(w, t->answer != NULL ? t->answer : "", t->answer_len);
	jw_key(w, "created_at");
	jw_int(w, t->created_at);
	jw_close(w);
}

/*
 * The body of GET /v1/messages (flask-restx: compact ujson and a newline)
 * like MessageService.pagination_by_first_id: the latest limit turns
 * before first_id (or of all, if NULL), oldest first, has_more if older
 * ones remain.  Returns -1 if first_id is not a turn of c.
 */
int
conv_messages(const struct conv *c, const char *first_id, long long limit,
    struct mbuf *b)
{
	const struct conv_turn	*t, *from = NULL;
	struct jw		 w;
	long long		 n = 0, i;

	if (first_id != NULL) {
		TAILQ_FOREACH(t, &c->turns, entry)
			if (strcmp(t->id, first_id) == 0)
				break;
		if (t == NULL)
			return (-1);
		t = TAILQ_PREV(t, conv_turns, entry);
	} else
		t = TAILQ_LAST(&c->turns, conv_turns);
	for (; t != NULL && n < limit; t = TAILQ_PREV(t, conv_turns, entry)) {
		from = t;
		n++;
	}
	jw_init(&w, b, JW_UJSON);
	jw_obj(&w);
	jw_key(&w, "limit");
	jw_int(&w, limit);
	jw_key(&w, "has_more");
	jw_raw(&w, t != NULL ? "true" : "false");
	jw_key(&w, "data");
	jw_arr(&w);
	for (i = 0, t = from; i < n; i++, t = TAILQ_NEXT(t, entry))
		conv_message(c, t, &w);
	jw_close(&w);
	jw_close(&w);
	mbuf_addc(b, '\n');
	return (0);
}

/* GET /mock/conversations: every conversation, least recently used first. */
void
conv_list(struct mbuf *b)
{
	const struct conv	*c;
	const struct conv_turn	*t;
	struct jw		 w;

	jw_init(&w, b, JW_ORJSON);
	jw_arr(&w);
	TAILQ_FOREACH(c, &conv_lru, lru) {
		jw_obj(&w);
		jw_key(&w, "id");
		jw_str(&w, c->id);
		jw_key(&w, "key");
		jw_str(&w, c->key);
		jw_key(&w, "user");
		jw_str(&w, c->user);
		jw_key(&w, "turns");
		jw_arr(&w);
		TAILQ_FOREACH(t, &c->turns, entry) {
			jw_obj(&w);
			jw_key(&w, "query");
			jw_strn(&w, t->query, t->query_len);
			jw_key(&w, "answer");
			jw_strn(&w, t->answer != NULL ? t->answer : "",
			    t->answer_len);
			jw_key(&w, "complete");
			jw_raw(&w, t->complete ? "true" : "false");
			jw_close(&w);
		}
		jw_close(&w);
		jw_close(&w);
	}
	jw_close(&w);
}
