/*
 * tls_context: the TLS settings of the optional TLS listener.
 *
 * tls_cert_file holds the certificate and any intermediates after it (a
 * chain file, as nginx's ssl_certificate); tls_key_file its private key.
 * The context speaks TLS 1.2 and 1.3 only, without compression or
 * renegotiation, keeps a session cache and issues tickets (clients that
 * reconnect skip the full handshake), and offers only http/1.1 by ALPN.
 * Config checks (-t, and before a reload) build one and throw it away,
 * so a certificate that does not load or a key that does not match it
 * is an error where every other setting's is; each worker builds its
 * own at start, so a reload (new workers) serves the new files.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls_context.h"

/* Describe OpenSSL's last error after what failed. */
static void
tls_context_error(char *err, size_t size, const char *what,
    const char *path)
{
	char		 buf[256];
	unsigned long	 e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, size, "%s %s: %s", what, path, e != 0 ? buf :
	    "unknown error");
	ERR_clear_error();
}

/* ALPN: choose http/1.1 if the client offers it, else none. */
static int
tls_context_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char	 h11[] = "\x08http/1.1";
	unsigned char			*sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return (SSL_TLSEXT_ERR_NOACK);
	*out = sel;
	return (SSL_TLSEXT_ERR_OK);
}

/*
 * A server context for the certificate chain in cert and the key in
 * key.  NULL with err set (which file, and OpenSSL's reason) if either
 * does not load or they do not match.
 */
SSL_CTX *
tls_context_new(const char *cert, const char *key, char *err, size_t size)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_context_error(err, size, "cannot make a TLS context for",
		    cert);
		return (NULL);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"odp", 3);
	SSL_CTX_set_alpn_select_cb(ctx, tls_context_alpn, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_context_error(err, size, "tls_cert_file", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_context_error(err, size, "tls_key_file", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_context_error(err, size, "tls_key_file does not match "
		    "tls_cert_file", key);
		goto fail;
	}
	return (ctx);
fail:
	SSL_CTX_free(ctx);
	return (NULL);
}
