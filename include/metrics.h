/*
 * metrics: counters, gauges and histograms of every worker of an
 * instance in one shared mapping, and their Prometheus text.
 */
#ifndef ODP_METRICS_H
#define ODP_METRICS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The route label: fixed, never a client's path. */
enum metrics_route {
	METRICS_ROUTE_CHAT,
	METRICS_ROUTE_MODELS,
	METRICS_ROUTE_MODEL,
	METRICS_ROUTE_HEALTH,
	METRICS_ROUTE_READY,
	METRICS_ROUTE_METRICS,
	METRICS_ROUTE_NONE,	/* no such path */
	METRICS_ROUTE_REFUSED,	/* refused before routing (client_conn.c) */
	METRICS_ROUTE_N
};

/* The end label: how a request ended (a fixed set; see metrics.c). */
enum metrics_end {
	METRICS_END_COMPLETE,
	METRICS_END_CLIENT_GONE,
	METRICS_END_SHUTDOWN,
	METRICS_END_ERROR,		/* any other error */
	METRICS_END_UPSTREAM_UNREACHABLE,
	METRICS_END_UPSTREAM_DNS,
	METRICS_END_UPSTREAM_TLS,
	METRICS_END_UPSTREAM_TIMEOUT,
	METRICS_END_UPSTREAM_INCOMPLETE,
	METRICS_END_UPSTREAM_PROTOCOL,
	METRICS_END_OVERLOADED,
	METRICS_END_INVALID_API_KEY,
	METRICS_END_UPSTREAM_RATE_LIMITED,
	METRICS_END_INSUFFICIENT_QUOTA,
	METRICS_END_MODEL_NOT_FOUND,
	METRICS_END_NO_KEY,
	METRICS_END_BAD_REQUEST,
	METRICS_END_UNKNOWN_URL,
	METRICS_END_METHOD_NOT_ALLOWED,
	METRICS_END_REQUEST_TIMEOUT,
	METRICS_END_RATE_LIMITED,	/* the proxy's own limits */
	METRICS_END_LOCAL,		/* answered by the proxy itself */
	METRICS_END_UNKNOWN,
	METRICS_END_N
};

/* Kinds of histogram. */
enum metrics_hist {
	METRICS_HIST_DURATION,
	METRICS_HIST_TTFT,
	METRICS_HIST_GAP
};

/* What Redis is used for (the use label of odp_redis_up). */
enum metrics_redis_use {
	METRICS_REDIS_CONVERSATIONS,
	METRICS_REDIS_LIMITS,
	METRICS_REDIS_N
};

/* Which limit refused a request (the limit label). */
enum metrics_limit {
	METRICS_LIMIT_REQUESTS,
	METRICS_LIMIT_STREAMS,
	METRICS_LIMIT_N
};

/* App arguments: an index into cfg->apps, or one of these. */
#define METRICS_APP_PASSTHROUGH	(-1)	/* the caller's own Dify key */
#define METRICS_APP_NONE	(-2)	/* no app (not a chat, or refused) */

/* Upper bounds of the histogram buckets, in microseconds. */
#define METRICS_NBUCKETS	17

/* Most apps the mapping names (the rest count as "other"). */
#define METRICS_MAX_APPS	256

/* What odp_build_info says. */
struct metrics_info {
	const char	*version;
	const char	*libevent;
	const char	*openssl;
};

/* A process's liveness test, for gauges (tests replace kill(2)). */
typedef int (*metrics_alive_fn)(pid_t);

struct metrics;
struct metrics_slot;

struct metrics	*metrics_new(unsigned, const char *const *, size_t);
void		 metrics_free(struct metrics *);
struct metrics_slot *metrics_claim(struct metrics *, pid_t,
		    const char *const *, size_t);
void		 metrics_release(struct metrics_slot *);
void		 metrics_set_alive(struct metrics *, metrics_alive_fn);
int		 metrics_bucket(uint64_t);
uint64_t	 metrics_bucket_bound(int);
enum metrics_end metrics_end_parse(const char *);
const char	*metrics_end_name(enum metrics_end);
const char	*metrics_route_name(enum metrics_route);
void		 metrics_render(struct metrics *, const struct metrics_info *,
		    struct buf *);

/* The hooks: each is a no-op for a NULL slot. */
void	 metrics_request(struct metrics_slot *, enum metrics_route, int, int,
	    enum metrics_end, uint64_t);
void	 metrics_observe(struct metrics_slot *, enum metrics_hist, int,
	    uint64_t);
void	 metrics_tokens(struct metrics_slot *, int, uint64_t, uint64_t);
void	 metrics_streams(struct metrics_slot *, int);
void	 metrics_upstream_conns(struct metrics_slot *, int, int);
void	 metrics_upstream_opened(struct metrics_slot *);
void	 metrics_upstream_tls(struct metrics_slot *, int);
void	 metrics_upstream_failed(struct metrics_slot *);
void	 metrics_stop_call(struct metrics_slot *);
void	 metrics_pause(struct metrics_slot *);
void	 metrics_rate_limited(struct metrics_slot *, int, enum metrics_limit);
void	 metrics_redis(struct metrics_slot *, enum metrics_redis_use, int);

#endif
