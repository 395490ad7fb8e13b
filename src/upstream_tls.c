/*
 * upstream_tls: the proxy's TLS client side to Dify.
 *
 * One struct upstream_tls per Dify base URL (so per host): its SSL_CTX
 * (TLS 1.2 or later, the peer verified unless tls_verify is off) and the
 * newest session Dify gave it.  Each new connection offers that session,
 * as nginx's proxy_ssl_session_reuse does, so a connection the pool opens
 * after the first costs Dify and the proxy an abbreviated handshake, not
 * a full one with certificate checks.  A session arrives through the
 * context's new-session callback (after the handshake in TLS 1.2, in a
 * NewSessionTicket message read with the first response bytes in TLS
 * 1.3); the store keeps a copy of the newest and drops the one before.
 *
 * upstream_tls_read reads decrypted bytes until the socket has nothing
 * more, so what OpenSSL holds never waits for a readiness event that
 * will not come.  This module uses OpenSSL only: upstream.c drives it.
 *
 * Ownership: the struct owns the context and the stored copy; an SSL
 * made here takes its own reference to the session it offers, and the
 * context is reference-counted by OpenSSL, so freeing the struct while
 * connections live is safe (they keep the context).  The verification
 * error slot given to upstream_tls_ssl_new must outlive the SSL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "upstream_tls.h"
#include "url.h"
#include "util.h"

/* What one socket read may take while reading ahead (upstream.c). */
#define UPSTREAM_TLS_READ_BUFFER	(64 * 1024)

struct upstream_tls {
	SSL_CTX		*ctx;
	SSL_SESSION	*session;	/* newest resumable one, or NULL */
};

/* ex_data slots: the SSL's verification error, the context's struct. */
static int	upstream_tls_error_index = -1;
static int	upstream_tls_ctx_index = -1;

/* Record the first certificate error of a handshake in its SSL's slot. */
static int
upstream_tls_verify_cb(int ok, X509_STORE_CTX *ctx)
{
	SSL	*ssl;
	long	*err;

	if (ok)
		return (1);
	ssl = X509_STORE_CTX_get_ex_data(ctx,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	if (ssl != NULL && (err = SSL_get_ex_data(ssl,
	    upstream_tls_error_index)) != NULL && *err == 0)
		*err = X509_STORE_CTX_get_error(ctx);
	return (0);
}

/*
 * A new session from Dify: keep a copy of it.  Not the session itself:
 * OpenSSL marks a connection's session unusable when the connection is
 * freed without a TLS shutdown, which is how libevent frees them.
 */
static int
upstream_tls_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct upstream_tls	*tls;
	SSL_SESSION		*copy;

	tls = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), upstream_tls_ctx_index);
	if (tls == NULL || !SSL_SESSION_is_resumable(sess) ||
	    (copy = SSL_SESSION_dup(sess)) == NULL)
		return (0);
	if (tls->session != NULL)
		SSL_SESSION_free(tls->session);
	tls->session = copy;
	return (0);
}

/*
 * Create the TLS client for the config's CA and verification settings.
 * Returns it, or NULL with a message in *cause.
 */
struct upstream_tls *
upstream_tls_new(const struct config *cfg, char **cause)
{
	struct upstream_tls	*tls;
	char			 err[256];
	int			 ok;

	if (upstream_tls_error_index == -1)
		upstream_tls_error_index = SSL_get_ex_new_index(0, NULL, NULL,
		    NULL, NULL);
	if (upstream_tls_ctx_index == -1)
		upstream_tls_ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL,
		    NULL, NULL);
	tls = xcalloc(1, sizeof(*tls));
	if ((tls->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*cause = xstrdup("SSL_CTX_new failed");
		free(tls);
		return (NULL);
	}
	SSL_CTX_set_ex_data(tls->ctx, upstream_tls_ctx_index, tls);
	SSL_CTX_set_min_proto_version(tls->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(tls->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_read_buffer_len(tls->ctx, UPSTREAM_TLS_READ_BUFFER);
	/* Sessions go to our store only, never to OpenSSL's own cache. */
	SSL_CTX_set_session_cache_mode(tls->ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(tls->ctx, upstream_tls_new_session);
	ERR_clear_error();
	if (cfg->tls_ca_file != NULL)
		ok = SSL_CTX_load_verify_locations(tls->ctx, cfg->tls_ca_file,
		    NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(tls->ctx);
	if (!ok) {
		ERR_error_string_n(ERR_get_error(), err, sizeof(err));
		if (asprintf(cause, "cannot load CA certificates%s%s: %s",
		    cfg->tls_ca_file ? " from " : "",
		    cfg->tls_ca_file ? cfg->tls_ca_file : "", err) < 0)
			*cause = NULL;
		upstream_tls_free(tls);
		return (NULL);
	}
	SSL_CTX_set_verify(tls->ctx, cfg->tls_verify ? SSL_VERIFY_PEER :
	    SSL_VERIFY_NONE, cfg->tls_verify ? upstream_tls_verify_cb : NULL);
	return (tls);
}

/* Free the client's context reference and stored session. */
void
upstream_tls_free(struct upstream_tls *tls)
{
	if (tls == NULL)
		return;
	if (tls->session != NULL)
		SSL_SESSION_free(tls->session);
	SSL_CTX_set_ex_data(tls->ctx, upstream_tls_ctx_index, NULL);
	SSL_CTX_free(tls->ctx);
	free(tls);
}

/*
 * A new SSL for a connection to u's host: SNI and the name (or address)
 * to verify, and the stored session offered for resumption.  The first
 * certificate error of its handshake goes to *verify_error.  Returns
 * NULL when OpenSSL cannot make one.
 */
SSL *
upstream_tls_ssl_new(struct upstream_tls *tls, const struct url *u,
    long *verify_error)
{
	X509_VERIFY_PARAM	*param;
	SSL			*ssl;
	char			 sni[sizeof(u->host)];

	if ((ssl = SSL_new(tls->ctx)) == NULL)
		return (NULL);
	SSL_set_ex_data(ssl, upstream_tls_error_index, verify_error);
	param = SSL_get0_param(ssl);
	if (u->host_is_ip)
		X509_VERIFY_PARAM_set1_ip_asc(param, u->host);
	else {
		/* The macro casts away const; OpenSSL copies the name. */
		memcpy(sni, u->host, sizeof(sni));
		SSL_set_tlsext_host_name(ssl, sni);
		X509_VERIFY_PARAM_set_hostflags(param,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		X509_VERIFY_PARAM_set1_host(param, u->host, 0);
	}
	if (tls->session != NULL)
		SSL_set_session(ssl, tls->session);
	return (ssl);
}

/* True when the handshake of ssl resumed a session. */
int
upstream_tls_resumed(const SSL *ssl)
{
	return (SSL_session_reused(ssl) != 0);
}

/*
 * Read decrypted bytes into buf (size bytes) until OpenSSL holds none
 * (WOULD_BLOCK: wait for the socket), the buffer is full, or the peer
 * closed or failed; *got is what was read either way, and *err OpenSSL's
 * error code for an error (0 if it gave none).  No byte OpenSSL has
 * taken in stays behind unseen: it stops after a record only when
 * OpenSSL has nothing more (SSL_has_pending), and what the socket still
 * holds then brings a readiness event.  Stopping there spares the read
 * that would only say EAGAIN: with OpenSSL reading ahead, one read of
 * the socket per wake-up, as on plain HTTP.
 */
enum upstream_tls_read
upstream_tls_read(SSL *ssl, void *buf, size_t size, size_t *got,
    unsigned long *err)
{
	size_t	n;
	int	rc;

	*got = 0;
	*err = 0;
	while (*got < size) {
		ERR_clear_error();
		if ((rc = SSL_read_ex(ssl, (char *)buf + *got, size - *got,
		    &n)) == 1) {
			*got += n;
			if (!SSL_has_pending(ssl))
				return (UPSTREAM_TLS_WOULD_BLOCK);
			continue;
		}
		switch (SSL_get_error(ssl, rc)) {
		case SSL_ERROR_WANT_READ:
			return (UPSTREAM_TLS_WOULD_BLOCK);
		case SSL_ERROR_ZERO_RETURN:
			return (UPSTREAM_TLS_CLOSED);
		case SSL_ERROR_SYSCALL:
		case SSL_ERROR_SSL:
			/* OpenSSL 3 calls an EOF without close_notify an error. */
			*err = ERR_peek_error();
			if (*err == 0 || ERR_GET_REASON(*err) ==
			    SSL_R_UNEXPECTED_EOF_WHILE_READING)
				return (UPSTREAM_TLS_CLOSED);
			return (UPSTREAM_TLS_ERROR);
		default:
			/*
			 * WANT_WRITE: a key update whose answer did not fit
			 * the socket.  A stream's connection writes nothing
			 * else, so it is not worth a write watch: an error.
			 */
			*err = ERR_peek_error();
			return (UPSTREAM_TLS_ERROR);
		}
	}
	return (UPSTREAM_TLS_FULL);
}

/*
 * Write len bytes to ssl now, as one piece.  Returns 1 when all of it
 * went, 0 when none could (the socket is full: OpenSSL keeps what it
 * encrypted, and the same bytes, as many or more, must be offered
 * again), -1 on an error.
 */
int
upstream_tls_write(SSL *ssl, const void *data, size_t len)
{
	size_t	n;

	ERR_clear_error();
	if (SSL_write_ex(ssl, data, len, &n) == 1)
		return (n == len ? 1 : -1);
	switch (SSL_get_error(ssl, 0)) {
	case SSL_ERROR_WANT_WRITE:
	case SSL_ERROR_WANT_READ:
		return (0);
	default:
		return (-1);
	}
}
