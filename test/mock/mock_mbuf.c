/*
 * mbuf: a growable byte buffer.  It always keeps room for a NUL after the
 * data so callers may terminate it; resetting len keeps the allocation, so
 * a buffer reused per event stops allocating once warm.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

/* Make room for at least n more bytes plus a NUL. */
void
mbuf_reserve(struct mbuf *b, size_t n)
{
	size_t	need, cap;

	if (n > SIZE_MAX / 4 - b->len)
		abort();
	need = b->len + n + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->p = util_xrealloc(b->p, cap);
	b->cap = cap;
}

/* Append n bytes. */
void
mbuf_add(struct mbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	mbuf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Append a NUL-terminated string. */
void
mbuf_adds(struct mbuf *b, const char *s)
{
	mbuf_add(b, s, strlen(s));
}

/* Append one byte. */
void
mbuf_addc(struct mbuf *b, char c)
{
	mbuf_reserve(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

/* Append printf-formatted text. */
void
mbuf_addf(struct mbuf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	mbuf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Append n in base 10 (or 16) without printf: it runs once per event. */
void
mbuf_addnum(struct mbuf *b, unsigned long long n, unsigned base)
{
	char	 tmp[24], *q = tmp + sizeof(tmp);

	do {
		*--q = "0123456789abcdef"[n % base];
		n /= base;
	} while (n != 0);
	mbuf_add(b, q, (size_t)(tmp + sizeof(tmp) - q));
}

/* Release the memory and leave the buffer empty. */
void
mbuf_free(struct mbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}
