/*
 * buf: a growable byte buffer, and JSON string escaping into it.
 */
#ifndef ODP_BUF_H
#define ODP_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT	{ NULL, 0, 0 }

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
void	 buf_pool_drain(void);
void	 buf_reset(struct buf *);
void	 buf_grow(struct buf *, size_t);

/* Make room for more bytes (plus a NUL); grows only when needed. */
static inline void
buf_reserve(struct buf *b, size_t more)
{
	if (more >= b->cap - b->len)
		buf_grow(b, more);
}
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_add_str(struct buf *, const char *);
void	 buf_add_char(struct buf *, char);
void	 buf_add_uint(struct buf *, uint64_t);
void	 buf_add_int(struct buf *, int64_t);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_add_json_escaped(struct buf *, const char *, size_t);
void	 buf_add_json_string(struct buf *, const char *, size_t);
void	 buf_add_json_cstring(struct buf *, const char *);
const char *buf_cstr(struct buf *);
char	*buf_detach(struct buf *);
size_t	 buf_utf8_prefix(const char *, size_t, size_t);
size_t	 buf_utf8_seqlen(const unsigned char *, size_t);

#endif
