/*
 * mempool: size-class free lists for libevent's and jansson's small blocks.
 */
#ifndef ODP_MEMPOOL_H
#define ODP_MEMPOOL_H

#include <stddef.h>

#define MEMPOOL_CLASSES		6	/* 32 bytes .. 1 KiB */

void	*mempool_alloc(size_t);
void	*mempool_calloc(size_t, size_t);
void	*mempool_realloc(void *, size_t);
void	 mempool_free(void *);
size_t	 mempool_kept(void);
void	 mempool_drain(int);

#endif
