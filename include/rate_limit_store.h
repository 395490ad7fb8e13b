/*
 * rate_limit_store: where a worker counts its requests against the
 * limits: the instance's shared table, or Redis across instances.
 */
#ifndef ODP_RATE_LIMIT_STORE_H
#define ODP_RATE_LIMIT_STORE_H

#include "rate_limit.h"

struct config;
struct event_base;
struct metrics_slot;
struct rate_limit_pending;
struct rate_limit_store;

/* How an admission went at once. */
enum rate_limit_store_admit {
	RATE_LIMIT_STORE_DONE,		/* the verdict is filled in */
	RATE_LIMIT_STORE_PENDING	/* the callback will say */
};

/*
 * What an admitted request holds until it ends: in the table, or in
 * Redis (its member in each rule's set of requests at once).
 */
struct rate_limit_hold {
	struct rate_limit_lease	 lease;
	int			 in_redis;
	char			 member[24];
	char			 keys[RATE_LIMIT_RULES][RATE_LIMIT_MAX_ID + 16];
	int			 nkeys;
};

/* A pending admission's answer: the verdict and hold are filled in. */
typedef void (*rate_limit_store_fn)(void *);

struct rate_limit_store *rate_limit_store_new(struct event_base *,
	    const struct config *, struct rate_limit *);
void	 rate_limit_store_free(struct rate_limit_store *);
enum rate_limit_store_admit rate_limit_store_admit(struct rate_limit_store *,
	    const struct rate_limit_rule *, size_t, struct rate_limit_verdict *,
	    struct rate_limit_hold *, rate_limit_store_fn, void *,
	    struct rate_limit_pending **);
void	 rate_limit_store_release(struct rate_limit_store *,
	    struct rate_limit_hold *);
void	 rate_limit_pending_cancel(struct rate_limit_pending *);
void	 rate_limit_store_set_metrics(struct rate_limit_store *,
	    struct metrics_slot *);

#endif
