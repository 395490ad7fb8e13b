/*
 * mempool: slabs of small blocks for libevent and jansson.
 */
#ifndef ODP_MEMPOOL_H
#define ODP_MEMPOOL_H

#include <stddef.h>

#define MEMPOOL_CLASSES		16	/* 16 .. 256 bytes, 16 apart */

void	*mempool_alloc(size_t);
void	*mempool_calloc(size_t, size_t);
void	*mempool_realloc(void *, size_t);
void	 mempool_free(void *);
int	 mempool_for_libraries(void);
size_t	 mempool_slab_bytes(void);
size_t	 mempool_live(void);
size_t	 mempool_drain(void);
size_t	 mempool_trim(void);

#endif
