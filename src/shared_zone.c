/*
 * shared_zone: memory the workers of an instance share.
 *
 * Like nginx's shared-memory zones: one anonymous shared mapping made
 * before the workers are forked (a restarted worker inherits it from the
 * master), all zeroes when made, with a process-shared robust mutex in
 * it.  A worker that dies holding the lock does not stop the others: the
 * next locker learns of it and repairs or empties what the lock guards.
 */
#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>

#include "shared_zone.h"

/* A zeroed shared mapping of bytes, inherited over fork; NULL if none. */
void *
shared_zone_map(size_t bytes)
{
	void	*p;

	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	return (p == MAP_FAILED ? NULL : p);
}

/* Unmap a zone (in this process; the others keep theirs). */
void
shared_zone_unmap(void *p, size_t bytes)
{
	if (p != NULL)
		munmap(p, bytes);
}

/* Make a process-shared robust mutex in a zone; 0 or -1. */
int
shared_zone_lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t	attr;
	int			rc;

	if (pthread_mutexattr_init(&attr) != 0)
		return (-1);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	rc = pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
	return (rc == 0 ? 0 : -1);
}

/*
 * Take the lock.  Returns 1 if its last holder died holding it (the
 * caller must repair what it guards; the lock is usable again), else 0.
 */
int
shared_zone_lock(pthread_mutex_t *m)
{
	if (pthread_mutex_lock(m) == EOWNERDEAD) {
		pthread_mutex_consistent(m);
		return (1);
	}
	return (0);
}

/* Release the lock. */
void
shared_zone_unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
}
