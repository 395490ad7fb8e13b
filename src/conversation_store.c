/*
 * conversation_store: where a worker remembers digest -> Dify
 * conversation id: the instance's shared table (conversation_memory.c),
 * or Redis when redis_url is set (conversation_redis.c).  The exchange
 * sees one interface: a take answers at once from the table, later (or
 * at once "not known" while it is down) from Redis.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conversation.h"
#include "conversation_memory.h"
#include "conversation_redis.h"
#include "conversation_store.h"
#include "util.h"

struct conversation_store {
	struct conversation_memory	*memory;	/* not owned */
	struct conversation_redis	*redis;		/* or this */
	unsigned			 ttl_ms;
};

/*
 * The store for a worker on base: Redis if cfg names one, else memory
 * (the table made before the workers, shared by them).  Returns NULL with
 * *cause (the caller frees it) if neither can be had.
 */
struct conversation_store *
conversation_store_new(struct event_base *base, const struct config *cfg,
    struct conversation_memory *memory, char **cause)
{
	struct conversation_store	*s;

	if (cfg->redis_url == NULL && memory == NULL) {
		*cause = xstrdup("no conversation table was made");
		return (NULL);
	}
	s = xcalloc(1, sizeof(*s));
	s->ttl_ms = cfg->conversation_ttl_ms;
	if (cfg->redis_url != NULL)
		s->redis = conversation_redis_new(base, &cfg->redis,
		    cfg->redis_timeout_ms, cfg->conversation_ttl_ms);
	else
		s->memory = memory;
	return (s);
}

/* Free the worker's store (the shared table stays). */
void
conversation_store_free(struct conversation_store *s)
{
	if (s == NULL)
		return;
	conversation_redis_free(s->redis);
	free(s);
}

/*
 * Take (and forget) the conversation id remembered for digest.  FOUND:
 * it is in id (size bytes).  PENDING: fn(arg, id or NULL) follows, unless
 * *lookup is cancelled first.  MISS: not known, or Redis is down.
 */
enum conversation_store_take
conversation_store_take(struct conversation_store *s, const uint8_t *digest,
    char *id, size_t size, conversation_store_fn fn, void *arg,
    struct conversation_lookup **lookup)
{
	if (s->memory != NULL)
		return (conversation_memory_take(s->memory, digest,
		    util_now_usec() / 1000, id, size) ?
		    CONVERSATION_STORE_FOUND : CONVERSATION_STORE_MISS);
	if (conversation_redis_take(s->redis, digest, fn, arg, lookup) == 0)
		return (CONVERSATION_STORE_PENDING);
	return (CONVERSATION_STORE_MISS);
}

/* Remember id for digest, for the configured TTL. */
void
conversation_store_put(struct conversation_store *s, const uint8_t *digest,
    const char *id)
{
	if (!conversation_id_ok(id, strlen(id)))
		return;
	if (s->memory != NULL)
		conversation_memory_put(s->memory, digest, id,
		    util_now_usec() / 1000, s->ttl_ms);
	else
		conversation_redis_put(s->redis, digest, id);
}

/* Report Redis's state (when Redis is the store) to a worker's metrics. */
void
conversation_store_set_metrics(struct conversation_store *s,
    struct metrics_slot *ms)
{
	if (s != NULL && s->redis != NULL)
		conversation_redis_set_metrics(s->redis, ms);
}

/* The caller no longer waits for a pending take. */
void
conversation_lookup_cancel(struct conversation_lookup *l)
{
	if (l != NULL)
		conversation_redis_cancel(l);
}
