/*
 * conversation_memory: the in-process conversation store, one table in
 * shared memory for every worker of an instance.
 */
#ifndef ODP_CONVERSATION_MEMORY_H
#define ODP_CONVERSATION_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "conversation.h"

struct conversation_memory;

/* Counters since the table was made, for logs and metrics. */
struct conversation_memory_stats {
	size_t		 count;		/* entries held now */
	size_t		 capacity;
	size_t		 bytes;		/* the table's whole size */
	uint64_t	 hits, misses, evicted, expired;
};

struct conversation_memory *conversation_memory_new(size_t);
void	 conversation_memory_free(struct conversation_memory *);
int	 conversation_memory_take(struct conversation_memory *,
	    const uint8_t *, uint64_t, char *, size_t);
void	 conversation_memory_put(struct conversation_memory *,
	    const uint8_t *, const char *, uint64_t, uint64_t);
void	 conversation_memory_stats(struct conversation_memory *,
	    struct conversation_memory_stats *);

#endif
