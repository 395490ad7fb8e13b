/*
 * util: allocation that aborts on exhaustion, a fast PRNG for ids, and the
 * two clocks (wall for created_at, monotonic for stamps and latencies).
 */
#include <sys/random.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mock.h"

static uint64_t	 util_state[4];

/* Report an allocation failure and abort. */
static void
util_oom(size_t n)
{
	fprintf(stderr, "mock-dify: out of memory (%zu bytes)\n", n);
	abort();
}

/* malloc that never returns NULL. */
void *
util_xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n ? n : 1)) == NULL)
		util_oom(n);
	return (p);
}

/* calloc that never returns NULL. */
void *
util_xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if ((p = calloc(nmemb ? nmemb : 1, size ? size : 1)) == NULL)
		util_oom(nmemb * size);
	return (p);
}

/* realloc that never returns NULL. */
void *
util_xrealloc(void *old, size_t n)
{
	void	*p;

	if ((p = realloc(old, n ? n : 1)) == NULL)
		util_oom(n);
	return (p);
}

/* strdup that never returns NULL. */
char *
util_xstrdup(const char *s)
{
	return (util_xstrndup(s, strlen(s)));
}

/* strndup that never returns NULL; the copy may contain no NUL. */
char *
util_xstrndup(const char *s, size_t n)
{
	char	*p;

	p = util_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return (p);
}

/* SplitMix64 step, used only to expand the seed. */
static uint64_t
util_splitmix(uint64_t *x)
{
	uint64_t	z;

	z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

/* Seed the generator from the kernel, falling back to time and pid. */
void
util_rand_init(void)
{
	uint64_t	seed;
	int		i;

	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint64_t)util_mono_us() ^ ((uint64_t)getpid() << 32);
	for (i = 0; i < 4; i++)
		util_state[i] = util_splitmix(&seed);
}

/* Rotate left. */
static inline uint64_t
util_rotl(uint64_t x, int k)
{
	return ((x << k) | (x >> (64 - k)));
}

/* xoshiro256** next value. */
uint64_t
util_rand(void)
{
	uint64_t	r, t;

	r = util_rotl(util_state[1] * 5, 7) * 9;
	t = util_state[1] << 17;
	util_state[2] ^= util_state[0];
	util_state[3] ^= util_state[1];
	util_state[1] ^= util_state[2];
	util_state[0] ^= util_state[3];
	util_state[2] ^= t;
	util_state[3] = util_rotl(util_state[3], 45);
	return (r);
}

/* Write a random version-4 UUID in canonical form (36 chars + NUL). */
void
util_uuid4(char out[37])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 b[16];
	uint64_t		 a, c;
	int			 i, j;

	a = util_rand();
	c = util_rand();
	for (i = 0; i < 8; i++) {
		b[i] = (unsigned char)(a >> (i * 8));
		b[i + 8] = (unsigned char)(c >> (i * 8));
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	for (i = 0, j = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[b[i] >> 4];
		out[j++] = hex[b[i] & 0x0f];
	}
	out[j] = '\0';
}

/* CLOCK_MONOTONIC in microseconds. */
long long
util_mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* Wall clock in seconds, with a fraction. */
double
util_wall(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Fill a timeval with a duration in milliseconds; returns tv. */
struct timeval *
util_tv_ms(struct timeval *tv, long long ms)
{
	if (ms < 0)
		ms = 0;
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return (tv);
}
