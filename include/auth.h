/*
 * auth: the key a request authenticates with: today the client's own
 * Dify app key; keys the proxy issues itself will be checked here too.
 */
#ifndef ODP_AUTH_H
#define ODP_AUTH_H

#include <stddef.h>

/* Bytes of a key buffer: a key of up to 511 bytes and its NUL. */
#define AUTH_MAX_KEY	512

int	auth_bearer(const char *, char *, size_t);

#endif
