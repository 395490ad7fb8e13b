/*
 * shared_zone: memory the workers of an instance share, made before they
 * are forked, and the robust process-shared lock around it.
 */
#ifndef ODP_SHARED_ZONE_H
#define ODP_SHARED_ZONE_H

#include <pthread.h>
#include <stddef.h>

void	*shared_zone_map(size_t);
void	 shared_zone_unmap(void *, size_t);
int	 shared_zone_lock_init(pthread_mutex_t *);
int	 shared_zone_lock(pthread_mutex_t *);
void	 shared_zone_unlock(pthread_mutex_t *);

#endif
