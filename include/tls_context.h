/*
 * tls_context: the TLS settings of the optional TLS listener
 * (tls_cert_file, tls_key_file), built and checked with OpenSSL alone.
 */
#ifndef ODP_TLS_CONTEXT_H
#define ODP_TLS_CONTEXT_H

#include <stddef.h>

#include <openssl/ssl.h>

SSL_CTX	*tls_context_new(const char *, const char *, char *, size_t);

#endif
