/*
 * conversation_store: where a worker remembers digest -> Dify
 * conversation id: the instance's shared table, or Redis.
 */
#ifndef ODP_CONVERSATION_STORE_H
#define ODP_CONVERSATION_STORE_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct conversation_memory;
struct conversation_lookup;
struct event_base;
struct metrics_slot;

/* What a take gave at once. */
enum conversation_store_take {
	CONVERSATION_STORE_MISS,	/* not known, or the store is down */
	CONVERSATION_STORE_FOUND,	/* the id is in the caller's buffer */
	CONVERSATION_STORE_PENDING	/* the callback will tell */
};

/* A pending take's answer: the id, or NULL for none (miss, timeout). */
typedef void (*conversation_store_fn)(void *, const char *);

struct conversation_store;

struct conversation_store *conversation_store_new(struct event_base *,
	    const struct config *, struct conversation_memory *, char **);
void	 conversation_store_free(struct conversation_store *);
enum conversation_store_take conversation_store_take(
	    struct conversation_store *, const uint8_t *, char *, size_t,
	    conversation_store_fn, void *, struct conversation_lookup **);
void	 conversation_store_put(struct conversation_store *, const uint8_t *,
	    const char *);
void	 conversation_lookup_cancel(struct conversation_lookup *);
void	 conversation_store_set_metrics(struct conversation_store *,
	    struct metrics_slot *);

#endif
