/*
 * conversation_redis: the conversation store in Redis, shared by every
 * instance behind a load balancer; hiredis on the worker's event base.
 */
#ifndef ODP_CONVERSATION_REDIS_H
#define ODP_CONVERSATION_REDIS_H

#include <stdint.h>

#include "conversation_store.h"

struct conversation_redis;
struct event_base;
struct metrics_slot;
struct redis_client;
struct redis_url;

struct conversation_redis *conversation_redis_new(struct event_base *,
	    const struct redis_url *, unsigned, unsigned);
void	 conversation_redis_free(struct conversation_redis *);
int	 conversation_redis_take(struct conversation_redis *, const uint8_t *,
	    conversation_store_fn, void *, struct conversation_lookup **);
void	 conversation_redis_put(struct conversation_redis *, const uint8_t *,
	    const char *);
void	 conversation_redis_cancel(struct conversation_lookup *);
struct redis_client *conversation_redis_client(struct conversation_redis *);
void	 conversation_redis_set_metrics(struct conversation_redis *,
	    struct metrics_slot *);

#endif
