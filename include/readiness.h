/*
 * readiness: whether Dify answered a worker recently, for GET /readyz
 * (config ready_probe_interval; off by default).
 */
#ifndef ODP_READINESS_H
#define ODP_READINESS_H

#include <stdint.h>

struct event_base;
struct readiness;
struct upstream;

struct readiness *readiness_new(struct event_base *, struct upstream *,
	    unsigned, unsigned);
void	 readiness_free(struct readiness *);
int	 readiness_ok(const struct readiness *, uint64_t);

#endif
