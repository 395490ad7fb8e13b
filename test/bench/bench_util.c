/*
 * util: clocks, allocation that cannot fail, option numbers, addresses
 * and percentiles for the bench clients.
 */
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* CLOCK_MONOTONIC in microseconds: the clock mock-dify stamps with. */
long long
util_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* Print a message and exit 1. */
void
util_die(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* malloc, or exit. */
void *
util_xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		util_die("out of memory");
	return (p);
}

/* calloc, or exit. */
void *
util_xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		util_die("out of memory");
	return (p);
}

/* realloc, or exit. */
void *
util_xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n == 0 ? 1 : n)) == NULL)
		util_die("out of memory");
	return (p);
}

/* An option's integer value in [min, max], or exit naming the option. */
long long
util_num(const char *what, const char *s, long long min, long long max)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < min || n > max)
		util_die("%s: expected an integer from %lld to %lld, got \"%s\"",
		    what, min, max, s);
	return (n);
}

/* Parse "HOST:PORT" (numeric IPv4) into sa; -1 if it is not one. */
int
util_addr(const char *s, struct sockaddr_in *sa)
{
	const char	*colon;
	char		 host[64];
	char		*end;
	long		 port;

	if ((colon = strrchr(s, ':')) == NULL ||
	    (size_t)(colon - s) >= sizeof(host))
		return (-1);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		return (-1);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return (-1);
	return (0);
}

/* qsort order of long longs. */
static int
util_cmp_ll(const void *a, const void *b)
{
	long long	x = *(const long long *)a, y = *(const long long *)b;

	return (x < y ? -1 : x > y);
}

/*
 * The p-th percentile (0-100) of n values by the nearest-rank method;
 * sorts v in place.  0 when there are no values.
 */
long long
util_percentile(long long *v, size_t n, double p)
{
	double	x;
	size_t	rank;

	if (n == 0)
		return (0);
	qsort(v, n, sizeof(*v), util_cmp_ll);
	x = p / 100.0 * (double)n;
	rank = (size_t)x;
	if ((double)rank < x)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (v[rank - 1]);
}
