/*
 * mempool: size-class free lists for the small blocks that libevent and
 * jansson allocate and free on every request.
 *
 * A streamed request through evhttp allocates about 145 blocks, nearly all
 * of 128 bytes or less (header names and values and their list entries,
 * request and connection objects, the parsed client JSON), and frees them
 * before the next request.  glibc serves such blocks from a per-thread
 * cache of seven per size; with many requests in flight that overflows,
 * and the fallback cost 100 to 300 instructions a call, an eighth of all
 * the instructions of a request under callgrind.  Here every block
 * carries a 16-byte header naming its capacity, and a freed block of one
 * of the six classes (32 bytes to 1 KiB) goes on its class's list, from
 * which the next allocation of that class pops it.
 *
 * Ownership.  Memory from mempool_alloc, mempool_calloc and mempool_realloc
 * goes back through mempool_free and nothing else; main.c installs these
 * as libevent's and jansson's allocator, so nothing either library
 * allocates may reach free(3) (the proxy never hands their memory to it:
 * it dumps JSON through a callback and decodes URLs itself).  Blocks over
 * 1 KiB are malloc'd with the same header and freed at once.  The kept
 * blocks of a class are bounded (MEMPOOL_KEEP_BYTES); mempool_drain frees
 * them at exit so leak checkers see none, and frees after it bypass the
 * lists.  Under AddressSanitizer a kept block and the slack past the size
 * asked for are poisoned, so a use after free or an overflow into the
 * slack is still reported.  One pool per process: the proxy is
 * single-threaded (workers are processes).
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

#define MEMPOOL_MIN_SHIFT	5		/* the smallest class: 32 bytes */
#define MEMPOOL_MAX		(MEMPOOL_MIN << (MEMPOOL_CLASSES - 1))
#define MEMPOOL_MIN		((size_t)1 << MEMPOOL_MIN_SHIFT)
#define MEMPOOL_KEEP_BYTES	(1024 * 1024)	/* kept per class, at most */

/* In front of every block. */
struct mempool_hdr {
	size_t				 cap;	/* usable bytes after it */
	union {
		size_t			 size;	/* asked for, while in use */
		struct mempool_hdr	*next;	/* while kept */
	};
};

_Static_assert(sizeof(struct mempool_hdr) == 16,
    "the header keeps blocks 16-byte aligned");

static struct mempool_hdr	*mempool_lists[MEMPOOL_CLASSES];
static size_t			 mempool_count[MEMPOOL_CLASSES];
static int			 mempool_drained;

/* The class for n bytes, or -1 when blocks that size are not kept. */
static int
mempool_class(size_t n)
{
	if (n <= MEMPOOL_MIN)
		return (0);
	if (n > MEMPOOL_MAX)
		return (-1);
	/* ceil(log2(n)) - MIN_SHIFT, for 33 <= n <= MAX. */
	return ((int)(sizeof(unsigned long) * 8) -
	    __builtin_clzl((unsigned long)(n - 1)) - MEMPOOL_MIN_SHIFT);
}

/* The usable size of class i. */
static size_t
mempool_class_size(int i)
{
	return (MEMPOOL_MIN << i);
}

/* How many blocks of class i are kept at most. */
static size_t
mempool_class_keep(int i)
{
	return (MEMPOOL_KEEP_BYTES /
	    (mempool_class_size(i) + sizeof(struct mempool_hdr)));
}

/* n bytes, uninitialised; NULL when memory is short. */
void *
mempool_alloc(size_t n)
{
	struct mempool_hdr	*h;
	size_t			 cap;
	int			 i;

	if ((i = mempool_class(n)) != -1 && (h = mempool_lists[i]) != NULL) {
		mempool_lists[i] = h->next;
		mempool_count[i]--;
		h->size = n;
		MEMPOOL_UNPOISON(h + 1, n);
		return (h + 1);
	}
	cap = i != -1 ? mempool_class_size(i) : n;
	if (cap > SIZE_MAX - sizeof(*h) ||
	    (h = malloc(sizeof(*h) + cap)) == NULL)
		return (NULL);
	h->cap = cap;
	h->size = n;
	MEMPOOL_POISON((char *)(h + 1) + n, cap - n);
	return (h + 1);
}

/* count * n zeroed bytes; NULL on overflow or when memory is short. */
void *
mempool_calloc(size_t count, size_t n)
{
	void	*p;

	if (n != 0 && count > SIZE_MAX / n)
		return (NULL);
	if ((p = mempool_alloc(count * n)) != NULL)
		memset(p, 0, count * n);
	return (p);
}

/* Give a block back: onto its class's list, or to free(3). */
void
mempool_free(void *p)
{
	struct mempool_hdr	*h;
	int			 i;

	if (p == NULL)
		return;
	h = (struct mempool_hdr *)p - 1;
	i = mempool_class(h->cap);
	if (mempool_drained || i == -1 || h->cap != mempool_class_size(i) ||
	    mempool_count[i] >= mempool_class_keep(i)) {
		MEMPOOL_UNPOISON(p, h->cap);
		free(h);
		return;
	}
	MEMPOOL_POISON(p, h->cap);
	h->next = mempool_lists[i];
	mempool_lists[i] = h;
	mempool_count[i]++;
}

/*
 * Resize a block as realloc(3) does: NULL p allocates, size 0 frees and
 * returns NULL, and on failure the old block is left alone.
 */
void *
mempool_realloc(void *p, size_t n)
{
	struct mempool_hdr	*h;
	void			*q;

	if (p == NULL)
		return (mempool_alloc(n));
	if (n == 0) {
		mempool_free(p);
		return (NULL);
	}
	h = (struct mempool_hdr *)p - 1;
	if (n <= h->cap && mempool_class(n) == mempool_class(h->cap)) {
		/* Same class: the block already fits. */
		h->size = n;
		MEMPOOL_UNPOISON(p, n);
		MEMPOOL_POISON((char *)p + n, h->cap - n);
		return (p);
	}
	if ((q = mempool_alloc(n)) == NULL)
		return (NULL);
	memcpy(q, p, n < h->size ? n : h->size);
	mempool_free(p);
	return (q);
}

/* Bytes kept on the lists (for tests). */
size_t
mempool_kept(void)
{
	size_t	n = 0;
	int	i;

	for (i = 0; i < MEMPOOL_CLASSES; i++)
		n += mempool_count[i] * mempool_class_size(i);
	return (n);
}

/*
 * Free every kept block.  With final set (at exit), later frees go
 * straight to free(3) so nothing is kept again.
 */
void
mempool_drain(int final)
{
	struct mempool_hdr	*h;
	int			 i;

	for (i = 0; i < MEMPOOL_CLASSES; i++) {
		while ((h = mempool_lists[i]) != NULL) {
			mempool_lists[i] = h->next;
			MEMPOOL_UNPOISON(h + 1, h->cap);
			free(h);
		}
		mempool_count[i] = 0;
	}
	if (final)
		mempool_drained = 1;
}
