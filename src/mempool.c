/*
 * mempool: slabs of small blocks for libevent and jansson.
 *
 * A streamed request through evhttp allocates about 145 blocks, nearly all
 * of 128 bytes or less (header names and values and their list entries,
 * the parsed client JSON), and frees them before the next request.  glibc
 * serves such blocks from a per-thread cache of seven per size; with many
 * requests in flight that overflows, and the fallback cost 100 to 300
 * instructions a call, an eighth of all the instructions of a request
 * under callgrind.
 *
 * Blocks of up to 256 bytes come in sixteen classes, 16 bytes apart.
 * Each class carves its blocks from 64 KiB slabs aligned to their size,
 * so a block's slab, and with it the class, is found by masking its
 * address; a table of slab addresses tells a slab block from one of
 * malloc(3).  A freed block goes on its class's list, and the next
 * allocation of the class pops it.  Blocks carry no header, so an open
 * stream's many small live blocks take no more memory than under glibc
 * (a 16-byte header per block cost 5 KiB per stream).  Larger blocks go
 * to malloc(3) and free(3) as they are.
 *
 * Ownership.  Memory from mempool_alloc, mempool_calloc and mempool_realloc
 * goes back through mempool_free or mempool_realloc; main.c installs these
 * as libevent's and jansson's allocator, so nothing either library
 * allocates may reach free(3) (the proxy never hands their memory to it:
 * it dumps JSON through a callback and decodes URLs itself).  Slabs live
 * until mempool_drain, which frees them at exit so leak checkers see
 * none; like glibc's heap here (M_TRIM_THRESHOLD), they are kept for the
 * next peak rather than handed back on every free, and mempool_trim hands
 * back the slabs with no block in use (the server calls it when a worker
 * has gone quiet).  Under AddressSanitizer free and
 * not yet carved blocks, and the slack past the size asked for, are
 * poisoned, so use after free and overflows are still reported.  One pool
 * per process: the proxy is single-threaded (workers are processes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mempool.h"

#if defined(__SANITIZE_ADDRESS__)
#define MEMPOOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMPOOL_ASAN 1
#endif
#endif

#ifdef MEMPOOL_ASAN
#include <sanitizer/asan_interface.h>
#define MEMPOOL_POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define MEMPOOL_UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define MEMPOOL_POISON(p, n)	((void)(p), (void)(n))
#define MEMPOOL_UNPOISON(p, n)	((void)(p), (void)(n))
#endif

#define MEMPOOL_STEP		16
#define MEMPOOL_MAX		(MEMPOOL_STEP * MEMPOOL_CLASSES)
#define MEMPOOL_SLAB		((size_t)64 * 1024)
#define MEMPOOL_SLAB_HEAD	64	/* keeps blocks 16-byte aligned */

/* The start of a slab; its blocks follow MEMPOOL_SLAB_HEAD bytes in. */
struct mempool_slab {
	int			 cls;
	unsigned		 nfree;		/* scratch for mempool_trim */
};

/* A free block: the list runs through the blocks themselves. */
struct mempool_free_block {
	struct mempool_free_block	*next;
};

/* Per class: the free list and the slab being carved. */
struct mempool_class {
	struct mempool_free_block	*free;
	char				*carve;		/* next uncarved block */
	char				*carve_end;
	size_t				 live;		/* blocks in use */
};

static struct mempool_class	 mempool_classes[MEMPOOL_CLASSES];

/*
 * Slab addresses, open addressing with linear probing; 0 marks an empty
 * slot.  Grown to stay at most half full.
 */
static uintptr_t	*mempool_slabs;
static size_t		 mempool_slabs_size;	/* a power of two, or 0 */
static size_t		 mempool_nslabs;

/* The class for n bytes (n <= MEMPOOL_MAX). */
static int
mempool_class_of(size_t n)
{
	return (n == 0 ? 0 : (int)((n - 1) / MEMPOOL_STEP));
}

/* The usable size of class i. */
static size_t
mempool_class_size(int i)
{
	return ((size_t)(i + 1) * MEMPOOL_STEP);
}

/* Where slab address a goes in a table of size slots. */
static size_t
mempool_slot(uintptr_t a, size_t size)
{
	return ((size_t)((a / MEMPOOL_SLAB) * 0x9e3779b97f4a7c15ULL) &
	    (size - 1));
}

/* Whether a slab starts at a. */
static int
mempool_is_slab(uintptr_t a)
{
	size_t	i;

	if (mempool_slabs_size == 0)
		return (0);
	for (i = mempool_slot(a, mempool_slabs_size); mempool_slabs[i] != 0;
	    i = (i + 1) & (mempool_slabs_size - 1))
		if (mempool_slabs[i] == a)
			return (1);
	return (0);
}

/* Put slab address a into the table; -1 when memory is short. */
static int
mempool_add_slab(uintptr_t a)
{
	uintptr_t	*old = mempool_slabs, *t;
	size_t		 oldsize = mempool_slabs_size, size, i, j;

	if ((mempool_nslabs + 1) * 2 > mempool_slabs_size) {
		size = oldsize != 0 ? oldsize * 2 : 64;
		if ((t = calloc(size, sizeof(*t))) == NULL)
			return (-1);
		for (i = 0; i < oldsize; i++) {
			if (old[i] == 0)
				continue;
			for (j = mempool_slot(old[i], size); t[j] != 0;
			    j = (j + 1) & (size - 1))
				;
			t[j] = old[i];
		}
		free(old);
		mempool_slabs = t;
		mempool_slabs_size = size;
	}
	for (j = mempool_slot(a, mempool_slabs_size); mempool_slabs[j] != 0;
	    j = (j + 1) & (mempool_slabs_size - 1))
		;
	mempool_slabs[j] = a;
	mempool_nslabs++;
	return (0);
}

/* Give class i a new slab to carve; -1 when memory is short. */
static int
mempool_new_slab(int i)
{
	struct mempool_slab	*s;
	void			*p;

	if (posix_memalign(&p, MEMPOOL_SLAB, MEMPOOL_SLAB) != 0)
		return (-1);
	if (mempool_add_slab((uintptr_t)p) != 0) {
		free(p);
		return (-1);
	}
	s = p;
	s->cls = i;
	mempool_classes[i].carve = (char *)p + MEMPOOL_SLAB_HEAD;
	mempool_classes[i].carve_end = (char *)p + MEMPOOL_SLAB;
	MEMPOOL_POISON(mempool_classes[i].carve,
	    MEMPOOL_SLAB - MEMPOOL_SLAB_HEAD);
	return (0);
}

/* The class of a slab block, or -1 for a block of malloc(3). */
static int
mempool_block_class(const void *p)
{
	uintptr_t	a = (uintptr_t)p & ~(uintptr_t)(MEMPOOL_SLAB - 1);

	if (!mempool_is_slab(a))
		return (-1);
	return (((const struct mempool_slab *)a)->cls);
}

/*
 * How many bytes at the start of a class-i block p are in use: all of it,
 * except under ASan, where the slack past what was asked for is poisoned.
 */
static size_t
mempool_used(const void *p, int i)
{
#ifdef MEMPOOL_ASAN
	const char	*bad;

	bad = __asan_region_is_poisoned((void *)(uintptr_t)p,
	    mempool_class_size(i));
	if (bad != NULL)
		return ((size_t)(bad - (const char *)p));
#else
	(void)p;
#endif
	return (mempool_class_size(i));
}

/* n bytes, uninitialised; NULL when memory is short. */
void *
mempool_alloc(size_t n)
{
	struct mempool_class		*c;
	struct mempool_free_block	*b;
	size_t				 size;
	char				*p;
	int				 i;

	if (n > MEMPOOL_MAX)
		return (malloc(n));
	i = mempool_class_of(n);
	c = &mempool_classes[i];
	size = mempool_class_size(i);
	if ((b = c->free) != NULL) {
		MEMPOOL_UNPOISON(b, sizeof(*b));
		c->free = b->next;
		p = (char *)b;
	} else {
		if (c->carve == NULL || c->carve_end - c->carve < (long)size) {
			if (mempool_new_slab(i) != 0)
				return (NULL);
		}
		p = c->carve;
		c->carve += size;
	}
	c->live++;
	MEMPOOL_UNPOISON(p, n);
	MEMPOOL_POISON(p + n, size - n);
	return (p);
}

/* count * n zeroed bytes; NULL on overflow or when memory is short. */
void *
mempool_calloc(size_t count, size_t n)
{
	void	*p;

	if (n != 0 && count > SIZE_MAX / n)
		return (NULL);
	if (count * n > MEMPOOL_MAX)
		return (calloc(count, n));
	if ((p = mempool_alloc(count * n)) != NULL)
		memset(p, 0, count * n);
	return (p);
}

/* Give a block back: onto its class's list, or to free(3). */
void
mempool_free(void *p)
{
	struct mempool_free_block	*b = p;
	int				 i;

	if (p == NULL)
		return;
	if ((i = mempool_block_class(p)) == -1) {
		free(p);
		return;
	}
	MEMPOOL_UNPOISON(b, sizeof(*b));
	b->next = mempool_classes[i].free;
	mempool_classes[i].free = b;
	mempool_classes[i].live--;
	MEMPOOL_POISON(p, mempool_class_size(i));
}

/*
 * Resize a block as realloc(3) does: NULL p allocates, size 0 frees and
 * returns NULL, and on failure the old block is left alone.
 */
void *
mempool_realloc(void *p, size_t n)
{
	void	*q;
	size_t	 used;
	int	 i;

	if (p == NULL)
		return (mempool_alloc(n));
	if (n == 0) {
		mempool_free(p);
		return (NULL);
	}
	if ((i = mempool_block_class(p)) == -1) {
		if (n > MEMPOOL_MAX)
			return (realloc(p, n));
		/* Shrinking below MAX: the old block holds more than n. */
		if ((q = mempool_alloc(n)) == NULL)
			return (NULL);
		memcpy(q, p, n);
		free(p);
		return (q);
	}
	if (mempool_class_of(n) == i && n <= MEMPOOL_MAX) {
		/* Same class: the block already fits. */
		MEMPOOL_UNPOISON(p, n);
		MEMPOOL_POISON((char *)p + n, mempool_class_size(i) - n);
		return (p);
	}
	if ((q = mempool_alloc(n)) == NULL)
		return (NULL);
	used = mempool_used(p, i);
	memcpy(q, p, n < used ? n : used);
	mempool_free(p);
	return (q);
}

/*
 * Whether libevent and jansson should use the pool.  Not under ASan: there
 * their blocks go to malloc(3) as before, so LeakSanitizer names the
 * allocation behind any leaked request or JSON object and every byte of
 * theirs is checked.  The pool itself is tested on its own there, with
 * its free blocks and slack poisoned.
 */
int
mempool_for_libraries(void)
{
#ifdef MEMPOOL_ASAN
	return (0);
#else
	return (1);
#endif
}

/* Bytes in slabs (for tests). */
size_t
mempool_slab_bytes(void)
{
	return (mempool_nslabs * MEMPOOL_SLAB);
}

/* Blocks in use (for tests, and the leak check at exit). */
size_t
mempool_live(void)
{
	size_t	n = 0;
	int	i;

	for (i = 0; i < MEMPOOL_CLASSES; i++)
		n += mempool_classes[i].live;
	return (n);
}

/*
 * Free every slab.  Returns the number of blocks still in use; then
 * nothing is freed (something may still use them), which at exit means a
 * leak.
 */
size_t
mempool_drain(void)
{
	size_t	i, live;

	if ((live = mempool_live()) != 0)
		return (live);

	for (i = 0; i < mempool_slabs_size; i++) {
		if (mempool_slabs[i] == 0)
			continue;
		MEMPOOL_UNPOISON((void *)mempool_slabs[i], MEMPOOL_SLAB);
		free((void *)mempool_slabs[i]);
	}
	free(mempool_slabs);
	mempool_slabs = NULL;
	mempool_slabs_size = 0;
	mempool_nslabs = 0;
	memset(mempool_classes, 0, sizeof(mempool_classes));
	return (0);
}

/* The slab block b is in. */
static struct mempool_slab *
mempool_slab_of(const void *b)
{
	return ((struct mempool_slab *)((uintptr_t)b &
	    ~(uintptr_t)(MEMPOOL_SLAB - 1)));
}

/* Read the next free block after b (its link is poisoned under ASan). */
static struct mempool_free_block *
mempool_next_free(struct mempool_free_block *b)
{
	struct mempool_free_block	*next;

	MEMPOOL_UNPOISON(b, sizeof(*b));
	next = b->next;
	MEMPOOL_POISON(b, sizeof(*b));
	return (next);
}

/* Blocks carved so far from slab s of class i. */
static size_t
mempool_carved(const struct mempool_slab *s, int i)
{
	const struct mempool_class	*c = &mempool_classes[i];
	const char			*start = (const char *)s +
					    MEMPOOL_SLAB_HEAD;

	if (c->carve != NULL && mempool_slab_of(c->carve_end - 1) == s)
		return ((size_t)(c->carve - start) / mempool_class_size(i));
	return ((MEMPOOL_SLAB - MEMPOOL_SLAB_HEAD) / mempool_class_size(i));
}

/*
 * Free the slabs none of whose blocks is in use, and take their blocks
 * off the free lists.  Returns the bytes handed back.  It walks every
 * free block, so it is for quiet moments, not for each free.
 */
size_t
mempool_trim(void)
{
	struct mempool_free_block	*b, *next, **tail;
	struct mempool_slab		*s;
	struct mempool_class		*c;
	uintptr_t			*old = mempool_slabs;
	size_t				 oldsize = mempool_slabs_size, i, freed = 0;
	int				 k;

	for (i = 0; i < oldsize; i++)
		if (old[i] != 0)
			((struct mempool_slab *)old[i])->nfree = 0;
	for (k = 0; k < MEMPOOL_CLASSES; k++)
		for (b = mempool_classes[k].free; b != NULL;
		    b = mempool_next_free(b))
			mempool_slab_of(b)->nfree++;
	/* Unlink the blocks of empty slabs, then free those slabs. */
	for (k = 0; k < MEMPOOL_CLASSES; k++) {
		c = &mempool_classes[k];
		tail = &c->free;
		for (b = c->free; b != NULL; b = next) {
			next = mempool_next_free(b);
			s = mempool_slab_of(b);
			if (s->nfree == mempool_carved(s, k))
				continue;
			MEMPOOL_UNPOISON(tail, sizeof(*tail));
			*tail = b;
			if (tail != &c->free)
				MEMPOOL_POISON(tail, sizeof(*tail));
			tail = &b->next;
		}
		MEMPOOL_UNPOISON(tail, sizeof(*tail));
		*tail = NULL;
		if (tail != &c->free)
			MEMPOOL_POISON(tail, sizeof(*tail));
	}
	mempool_slabs = NULL;
	mempool_slabs_size = 0;
	mempool_nslabs = 0;
	for (i = 0; i < oldsize; i++) {
		if (old[i] == 0)
			continue;
		s = (struct mempool_slab *)old[i];
		c = &mempool_classes[s->cls];
		if (s->nfree != mempool_carved(s, s->cls) ||
		    mempool_carved(s, s->cls) == 0) {
			if (mempool_add_slab(old[i]) != 0)
				abort();	/* smaller than before */
			continue;
		}
		if (c->carve != NULL && mempool_slab_of(c->carve_end - 1) == s)
			c->carve = c->carve_end = NULL;
		MEMPOOL_UNPOISON(s, MEMPOOL_SLAB);
		free(s);
		freed += MEMPOOL_SLAB;
	}
	free(old);
	return (freed);
}
