/*
 * redis_client: one connection to Redis on a worker's event base, kept
 * up in the background, and calls that wait at most a timeout.
 */
#ifndef ODP_REDIS_CLIENT_H
#define ODP_REDIS_CLIENT_H

#include <stddef.h>

struct event_base;
struct redis_call;
struct redis_client;
struct redis_url;
struct redisReply;

/* A call's reply, or NULL: timed out, or the connection went. */
typedef void (*redis_client_fn)(void *, const struct redisReply *);
/* The connection came up (1) or went down (0). */
typedef void (*redis_client_state_fn)(void *, int);

struct redis_client *redis_client_new(struct event_base *,
	    const struct redis_url *, unsigned, const char *, const char *);
void	 redis_client_free(struct redis_client *);
void	 redis_client_on_state(struct redis_client *, redis_client_state_fn,
	    void *);
int	 redis_client_up(const struct redis_client *);
int	 redis_client_call(struct redis_client *, const char *, int,
	    const char **, const size_t *, redis_client_fn, void *,
	    struct redis_call **);
void	 redis_client_send(struct redis_client *, int, const char **,
	    const size_t *);
void	 redis_client_cancel(struct redis_call *);

#endif
