/*
 * conversation_redis: the conversation store in Redis, shared by every
 * instance behind a load balancer, over a redis_client on the worker's
 * event base.
 *
 * Keys are "odp:conv:" and the digest in hex; a take is GETDEL (Redis
 * 6.2 or later), so a history continues its conversation once, as in the
 * in-process table; a put is SET ... PX ttl, so Redis expires entries
 * itself and its maxmemory policy bounds them.
 *
 * Redis is an optimisation, never a reason to fail a request: while the
 * connection is not up a take answers "not known" at once, and a take
 * Redis does not answer within redis_timeout answers "not known" then
 * (the request goes on with the transcript).
 *
 * Lifetime of a take: the lookup is freed once the caller had its answer
 * (the reply, or NULL on a timeout or a lost link), or when the caller
 * cancels it; either way redis_client.c never calls back for it again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "conversation.h"
#include "conversation_redis.h"
#include "metrics.h"
#include "redis_client.h"
#include "util.h"

#define CONVERSATION_REDIS_PREFIX	"odp:conv:"

struct conversation_redis {
	struct redis_client	*client;
	unsigned		 ttl_ms;
};

/* A take in flight: who waits for it, and the call to Redis. */
struct conversation_lookup {
	conversation_store_fn	 fn;
	void			*arg;
	struct redis_call	*call;
};

/*
 * A client for the Redis at url on base: takes wait at most timeout_ms,
 * puts live ttl_ms.  It connects at once, in the background.
 */
struct conversation_redis *
conversation_redis_new(struct event_base *base, const struct redis_url *url,
    unsigned timeout_ms, unsigned ttl_ms)
{
	struct conversation_redis	*r;

	r = xcalloc(1, sizeof(*r));
	r->client = redis_client_new(base, url, timeout_ms,
	    "conversations continue from the transcript",
	    "conversations are shared again");
	r->ttl_ms = ttl_ms;
	return (r);
}

/* redis_client: the connection came up or went; tell the metrics. */
static void
conversation_redis_state(void *arg, int up)
{
	metrics_redis(arg, METRICS_REDIS_CONVERSATIONS, up);
}

/* Report the connection's state to a worker's metrics from now on. */
void
conversation_redis_set_metrics(struct conversation_redis *r,
    struct metrics_slot *ms)
{
	redis_client_on_state(r->client, conversation_redis_state, ms);
	metrics_redis(ms, METRICS_REDIS_CONVERSATIONS,
	    redis_client_up(r->client));
}

/* Close the connection (pending takes answer "not known") and free. */
void
conversation_redis_free(struct conversation_redis *r)
{
	if (r == NULL)
		return;
	redis_client_free(r->client);
	free(r);
}

/* The redis_client of the store (for its state). */
struct redis_client *
conversation_redis_client(struct conversation_redis *r)
{
	return (r->client);
}

/* redis_client: GETDEL's reply (NULL: none in time, or the link went). */
static void
conversation_redis_took(void *arg, const struct redisReply *rep)
{
	struct conversation_lookup	*l = arg;
	char				 id[CONVERSATION_MAX_ID];

	id[0] = '\0';
	if (rep != NULL && rep->type == REDIS_REPLY_STRING &&
	    conversation_id_ok(rep->str, rep->len)) {
		memcpy(id, rep->str, rep->len);
		id[rep->len] = '\0';
	}
	l->fn(l->arg, id[0] != '\0' ? id : NULL);
	free(l);
}

/* Write the Redis key of a digest into key (prefix, 32 hex digits, NUL). */
static void
conversation_redis_key(const uint8_t *digest, char *key)
{
	size_t	n = strlen(CONVERSATION_REDIS_PREFIX);

	memcpy(key, CONVERSATION_REDIS_PREFIX, n);
	conversation_digest_hex(digest, key + n);
}

/*
 * Ask Redis for (and forget) the conversation of digest.  Returns 0 with
 * *out set: fn(arg, id or NULL) follows unless cancelled first; or -1
 * when Redis is not connected (nothing will follow).
 */
int
conversation_redis_take(struct conversation_redis *r, const uint8_t *digest,
    conversation_store_fn fn, void *arg, struct conversation_lookup **out)
{
	struct conversation_lookup	*l;
	const char			*argv[2];
	size_t				 argvlen[2];
	char				 key[80];

	if (!redis_client_up(r->client))
		return (-1);
	conversation_redis_key(digest, key);
	argv[0] = "GETDEL";
	argv[1] = key;
	argvlen[0] = 6;
	argvlen[1] = strlen(key);
	l = xcalloc(1, sizeof(*l));
	l->fn = fn;
	l->arg = arg;
	if (redis_client_call(r->client, "GETDEL", 2, argv, argvlen,
	    conversation_redis_took, l, &l->call) != 0) {
		free(l);
		return (-1);
	}
	*out = l;
	return (0);
}

/* Remember id for digest in Redis (best effort: dropped while down). */
void
conversation_redis_put(struct conversation_redis *r, const uint8_t *digest,
    const char *id)
{
	const char	*argv[5];
	size_t		 argvlen[5], i;
	char		 key[80], ttl[24];

	conversation_redis_key(digest, key);
	snprintf(ttl, sizeof(ttl), "%u", r->ttl_ms);
	argv[0] = "SET";
	argv[1] = key;
	argv[2] = id;
	argv[3] = "PX";
	argv[4] = ttl;
	for (i = 0; i < 5; i++)
		argvlen[i] = strlen(argv[i]);
	redis_client_send(r->client, 5, argv, argvlen);
}

/* The caller no longer waits for this take's answer. */
void
conversation_redis_cancel(struct conversation_lookup *l)
{
	redis_client_cancel(l->call);
	free(l);
}
