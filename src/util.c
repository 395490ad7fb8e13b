/*
 * util: allocation that cannot fail, random identifiers and clocks.
 *
 * The x* allocators end the process on out-of-memory, as tmux and redis do:
 * every size they see is bounded by a configured limit, so running out means
 * the machine is out, and there is no useful partial answer to give.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util.h"

/* Abort with a message after an allocation failure. */
static void
util_oom(size_t size)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", size);
	abort();
}

/* Allocate size bytes or abort. */
void *
xmalloc(size_t size)
{
	void	*p;

	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		util_oom(size);
	return (p);
}

/* Allocate a zeroed array or abort. */
void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		util_oom(n * size);
	return (p);
}

/* Resize an allocation or abort. */
void *
xrealloc(void *old, size_t size)
{
	void	*p;

	if ((p = realloc(old, size == 0 ? 1 : size)) == NULL)
		util_oom(size);
	return (p);
}

/* Duplicate a string or abort. */
char *
xstrdup(const char *s)
{
	return (xstrndup(s, strlen(s)));
}

/* Duplicate the first len bytes of s as a NUL-terminated string. */
char *
xstrndup(const char *s, size_t len)
{
	char	*p;

	p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return (p);
}

/* Fill buf with random bytes from the kernel. */
void
util_random_bytes(void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "fatal: getrandom: %s\n",
			    strerror(errno));
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Identifiers (request ids, chatcmpl- ids) need to be unique, not secret:
 * they come from xoshiro256**, seeded from the kernel once per process,
 * so making one costs no system call.
 */
static uint64_t	util_rng[4];
static int	util_rng_seeded;

/* Seed the identifier generator (again, e.g. in a forked child). */
void
util_random_reseed(void)
{
	util_random_bytes(util_rng, sizeof(util_rng));
	util_rng_seeded = 1;
}

/* Rotate left. */
static inline uint64_t
util_rotl(uint64_t x, int k)
{
	return ((x << k) | (x >> (64 - k)));
}

/* The next 64 bits of xoshiro256**. */
static uint64_t
util_rng_next(void)
{
	uint64_t	result, t;

	if (!util_rng_seeded)
		util_random_reseed();
	result = util_rotl(util_rng[1] * 5, 7) * 9;
	t = util_rng[1] << 17;
	util_rng[2] ^= util_rng[0];
	util_rng[3] ^= util_rng[1];
	util_rng[1] ^= util_rng[2];
	util_rng[0] ^= util_rng[3];
	util_rng[2] ^= t;
	util_rng[3] = util_rotl(util_rng[3], 45);
	return (result);
}

/* Write len random letters and digits into out, then a NUL. */
void
util_random_alnum(char *out, size_t len)
{
	static const char	 set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789";
	uint64_t		 r = 0;
	size_t			 i;

	for (i = 0; i < len; i++) {
		/* 10 characters from each 64-bit draw (62^10 < 2^60). */
		if (i % 10 == 0)
			r = util_rng_next();
		*out++ = set[r % 62];
		r /= 62;
	}
	*out = '\0';
}

/* Monotonic time in microseconds. */
uint64_t
util_now_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* Wall-clock time in Unix seconds. */
int64_t
util_wall_sec(void)
{
	return ((int64_t)time(NULL));
}

/*
 * Parse len bytes of s as a decimal integer no larger than max.  Returns 0
 * and sets *out, or -1 for anything else (empty, sign, junk, overflow).
 */
int
util_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (len == 0 || len > 20)
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return (-1);
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return (-1);
	*out = v;
	return (0);
}

/* True if s is non-empty visible ASCII without spaces (a header token). */
int
util_token_is_printable(const char *s, size_t len)
{
	size_t	i;

	if (len == 0)
		return (0);
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return (0);
	}
	return (1);
}
