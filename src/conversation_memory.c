/*
 * conversation_memory: the in-process conversation store, one table in
 * shared memory for every worker of an instance.
 *
 * Workers share the listening port, so the turns of one chat land on any
 * worker: a table per worker would lose most continuations.  Like
 * nginx's shared-memory zones, the table is one anonymous shared mapping
 * made before the workers are forked (a restarted worker inherits it
 * from the master), with a process-shared robust mutex around every
 * operation.  Should a worker die holding the lock, the next one to take
 * it empties the table: continuity is lost for a while, never wrong.
 *
 * The table is fixed at its capacity when made, so its memory is flat
 * under any traffic (and only the pages of entries ever used become
 * resident: fresh entries are handed out in order before any is reused
 * from the free list): entries (digest, conversation id, expiry) sit in an
 * array, chained from a power-of-two bucket array by the digest's first
 * bytes (a keyed hash: they need no further hashing), and kept in a
 * doubly linked LRU list.  A put at capacity evicts the least recently put
 * entry.  Every entry lives the same TTL, so the LRU tail is also the
 * first to expire; puts reclaim expired entries from the tail and takes
 * drop an expired entry they find.
 *
 * A take removes the entry it finds: a history continues its Dify
 * conversation once.  Sending the same history again (regenerate, a
 * retry after a failure) starts a fresh conversation with the whole
 * transcript instead of adding a second answer to the first one.
 *
 * Indices are stored plus one, so 0 means none.  Time is passed in, in
 * milliseconds of a clock shared by the processes (CLOCK_MONOTONIC).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "conversation_memory.h"
#include "shared_zone.h"

/* Expired entries a put reclaims from the LRU tail, at most. */
#define CONVERSATION_MEMORY_RECLAIM	4

struct conversation_memory_entry {
	uint8_t		 key[CONVERSATION_DIGEST_LEN];
	char		 id[CONVERSATION_MAX_ID];	/* "": unused */
	uint64_t	 expires_ms;
	uint32_t	 chain;		/* next in the bucket */
	uint32_t	 newer, older;	/* LRU neighbours */
};

struct conversation_memory {
	pthread_mutex_t		 lock;
	size_t			 bytes;		/* of the mapping */
	uint32_t		 capacity;
	uint32_t		 nbuckets;	/* a power of two */
	uint32_t		 count;
	uint32_t		 newest, oldest;	/* LRU ends */
	uint32_t		 free_list;	/* through chain */
	uint32_t		 fresh;		/* entries never used start here */
	uint64_t		 hits, misses, evicted, expired;
	uint32_t		*buckets;
	struct conversation_memory_entry *entries;
};

/*
 * Empty the table (after a holder of the lock died): every entry fresh.
 * A new mapping is all zeroes already, which is the same empty table.
 */
static void
conversation_memory_clear(struct conversation_memory *m)
{
	memset(m->buckets, 0, m->nbuckets * sizeof(*m->buckets));
	memset(m->entries, 0, (size_t)m->fresh * sizeof(*m->entries));
	m->free_list = 0;
	m->fresh = 0;
	m->count = 0;
	m->newest = m->oldest = 0;
}

/*
 * Make a table for capacity entries in a shared anonymous mapping, to be
 * inherited by forked workers.  Returns NULL if it cannot be made.
 */
struct conversation_memory *
conversation_memory_new(size_t capacity)
{
	struct conversation_memory	*m;
	size_t				 nbuckets = 16, head, bytes;
	void				*p;

	if (capacity == 0 || capacity > UINT32_MAX / 4)
		return (NULL);
	while (nbuckets < capacity)
		nbuckets <<= 1;
	head = (sizeof(*m) + 63) & ~(size_t)63;
	bytes = head + nbuckets * sizeof(uint32_t) +
	    capacity * sizeof(struct conversation_memory_entry);
	if ((p = shared_zone_map(bytes)) == NULL)
		return (NULL);
	m = p;
	m->bytes = bytes;
	m->capacity = (uint32_t)capacity;
	m->nbuckets = (uint32_t)nbuckets;
	m->buckets = (uint32_t *)((char *)p + head);
	m->entries = (struct conversation_memory_entry *)(m->buckets +
	    nbuckets);
	if (shared_zone_lock_init(&m->lock) != 0) {
		shared_zone_unmap(p, bytes);
		return (NULL);
	}
	return (m);
}

/* Unmap the table (in this process; others keep their mapping). */
void
conversation_memory_free(struct conversation_memory *m)
{
	if (m == NULL)
		return;
	shared_zone_unmap(m, m->bytes);
}

/* Take the lock; a dead holder's table is emptied first. */
static void
conversation_memory_lock(struct conversation_memory *m)
{
	if (shared_zone_lock(&m->lock))
		conversation_memory_clear(m);
}

/* Release the lock. */
static void
conversation_memory_unlock(struct conversation_memory *m)
{
	shared_zone_unlock(&m->lock);
}

/* The bucket of a digest. */
static uint32_t *
conversation_memory_bucket(struct conversation_memory *m, const uint8_t *key)
{
	uint32_t	h;

	h = (uint32_t)key[0] | (uint32_t)key[1] << 8 |
	    (uint32_t)key[2] << 16 | (uint32_t)key[3] << 24;
	return (&m->buckets[h & (m->nbuckets - 1)]);
}

/* The entry with that digest (its index plus one), or 0. */
static uint32_t
conversation_memory_find(struct conversation_memory *m, const uint8_t *key)
{
	uint32_t	i = *conversation_memory_bucket(m, key);

	while (i != 0 && memcmp(m->entries[i - 1].key, key,
	    CONVERSATION_DIGEST_LEN) != 0)
		i = m->entries[i - 1].chain;
	return (i);
}

/* Take entry i off the LRU list. */
static void
conversation_memory_unlink(struct conversation_memory *m, uint32_t i)
{
	struct conversation_memory_entry	*e = &m->entries[i - 1];

	if (e->newer != 0)
		m->entries[e->newer - 1].older = e->older;
	else
		m->newest = e->older;
	if (e->older != 0)
		m->entries[e->older - 1].newer = e->newer;
	else
		m->oldest = e->newer;
	e->newer = e->older = 0;
}

/* Put entry i at the newest end of the LRU list. */
static void
conversation_memory_push(struct conversation_memory *m, uint32_t i)
{
	struct conversation_memory_entry	*e = &m->entries[i - 1];

	e->older = m->newest;
	e->newer = 0;
	if (m->newest != 0)
		m->entries[m->newest - 1].newer = i;
	m->newest = i;
	if (m->oldest == 0)
		m->oldest = i;
}

/* Remove entry i from its bucket and the list; it goes on the free list. */
static void
conversation_memory_remove(struct conversation_memory *m, uint32_t i)
{
	struct conversation_memory_entry	*e = &m->entries[i - 1];
	uint32_t				*p;

	p = conversation_memory_bucket(m, e->key);
	while (*p != i)
		p = &m->entries[*p - 1].chain;
	*p = e->chain;
	conversation_memory_unlink(m, i);
	memset(e, 0, sizeof(*e));
	e->chain = m->free_list;
	m->free_list = i;
	m->count--;
}

/*
 * Take the conversation id remembered for key: copy it to id (size
 * bytes) and forget it.  Returns 1 if found, 0 if not (or expired, or
 * too long for id).
 */
int
conversation_memory_take(struct conversation_memory *m, const uint8_t *key,
    uint64_t now_ms, char *id, size_t size)
{
	struct conversation_memory_entry	*e;
	uint32_t				 i;
	int					 found = 0;

	conversation_memory_lock(m);
	if ((i = conversation_memory_find(m, key)) != 0) {
		e = &m->entries[i - 1];
		if (e->expires_ms <= now_ms)
			m->expired++;
		else if (strlen(e->id) < size) {
			memcpy(id, e->id, strlen(e->id) + 1);
			found = 1;
		}
		conversation_memory_remove(m, i);
	}
	if (found)
		m->hits++;
	else
		m->misses++;
	conversation_memory_unlock(m);
	return (found);
}

/*
 * Remember id (shorter than CONVERSATION_MAX_ID; longer ones are not
 * kept) for key, for ttl_ms from now, as the newest entry.
 */
void
conversation_memory_put(struct conversation_memory *m, const uint8_t *key,
    const char *id, uint64_t now_ms, uint64_t ttl_ms)
{
	struct conversation_memory_entry	*e;
	uint32_t				 i, *b;
	size_t					 len = strlen(id);
	int					 n;

	if (len == 0 || len >= CONVERSATION_MAX_ID)
		return;
	conversation_memory_lock(m);
	for (n = 0; n < CONVERSATION_MEMORY_RECLAIM && m->oldest != 0 &&
	    m->entries[m->oldest - 1].expires_ms <= now_ms; n++) {
		conversation_memory_remove(m, m->oldest);
		m->expired++;
	}
	if ((i = conversation_memory_find(m, key)) != 0)
		conversation_memory_unlink(m, i);
	else {
		if (m->free_list == 0 && m->fresh == m->capacity) {
			conversation_memory_remove(m, m->oldest);
			m->evicted++;
		}
		if (m->free_list != 0) {
			i = m->free_list;
			m->free_list = m->entries[i - 1].chain;
		} else
			i = ++m->fresh;
		e = &m->entries[i - 1];
		memcpy(e->key, key, CONVERSATION_DIGEST_LEN);
		b = conversation_memory_bucket(m, key);
		e->chain = *b;
		*b = i;
		m->count++;
	}
	e = &m->entries[i - 1];
	memcpy(e->id, id, len + 1);
	e->expires_ms = now_ms + ttl_ms;
	conversation_memory_push(m, i);
	conversation_memory_unlock(m);
}

/* Fill st with the table's size and counters. */
void
conversation_memory_stats(struct conversation_memory *m,
    struct conversation_memory_stats *st)
{
	conversation_memory_lock(m);
	st->count = m->count;
	st->capacity = m->capacity;
	st->bytes = m->bytes;
	st->hits = m->hits;
	st->misses = m->misses;
	st->evicted = m->evicted;
	st->expired = m->expired;
	conversation_memory_unlock(m);
}
