/*
 * upstream_tls: the proxy's TLS client side to Dify (context, session
 * reuse, certificate checks, reads).
 */
#ifndef ODP_UPSTREAM_TLS_H
#define ODP_UPSTREAM_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct config;
struct url;

/* What upstream_tls_read found after the bytes it returned. */
enum upstream_tls_read {
	UPSTREAM_TLS_WOULD_BLOCK,	/* nothing more now: wait for the socket */
	UPSTREAM_TLS_FULL,		/* the buffer filled: read again */
	UPSTREAM_TLS_CLOSED,		/* the peer closed (close_notify or EOF) */
	UPSTREAM_TLS_ERROR		/* a TLS or socket error */
};

struct upstream_tls;

struct upstream_tls	*upstream_tls_new(const struct config *, char **);
void			 upstream_tls_free(struct upstream_tls *);
SSL			*upstream_tls_ssl_new(struct upstream_tls *,
			    const struct url *, long *);
int			 upstream_tls_resumed(const SSL *);
enum upstream_tls_read	 upstream_tls_read(SSL *, void *, size_t, size_t *,
			    unsigned long *);
int			 upstream_tls_write(SSL *, const void *, size_t);

#endif
