/*
 * util: allocation that cannot fail, random identifiers and clocks.
 */
#ifndef ODP_UTIL_H
#define ODP_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define UNUSED		__attribute__((unused))
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xrealloc(void *, size_t);
char		*xstrdup(const char *);
char		*xstrndup(const char *, size_t);

void		 util_random_bytes(void *, size_t);
void		 util_random_alnum(char *, size_t);
void		 util_random_reseed(void);
uint64_t	 util_now_usec(void);
int64_t		 util_wall_sec(void);
int		 util_parse_uint(const char *, size_t, uint64_t, uint64_t *);
int		 util_token_is_printable(const char *, size_t);

/* The value of a hex digit, or -1 (inline: chunk sizes and \u escapes). */
static inline int
util_hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

#endif
