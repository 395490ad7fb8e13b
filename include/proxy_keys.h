/*
 * proxy_keys: the client keys the proxy issues itself (config api_keys),
 * each stored as a SHA-256 digest and allowed some of the configured apps.
 */
#ifndef ODP_PROXY_KEYS_H
#define ODP_PROXY_KEYS_H

#include <stddef.h>
#include <stdint.h>

struct config_errors;

#define PROXY_KEY_DIGEST	32
/* Characters of a key's digest the access log names it by. */
#define PROXY_KEY_LOG_PREFIX	8
/* "sk-odp-" and 43 base64url characters (32 random bytes), and a NUL. */
#define PROXY_KEY_NEW_SIZE	51

/* One issued key: who holds it, what it may use, how much. */
struct proxy_key {
	char		*name;
	uint8_t		 digest[PROXY_KEY_DIGEST];
	char		 log_id[PROXY_KEY_LOG_PREFIX + 1];	/* hex prefix */
	char		**models;	/* NULL-terminated; NULL: every app */
	unsigned	 rpm;		/* requests a minute; 0: no limit */
	unsigned	 max_streams;	/* at once; 0: no limit */
};

struct proxy_keys {
	struct proxy_key	*v;
	size_t			 n;
};

int	 proxy_keys_parse(struct proxy_keys *, const void *, const char *,
	    struct config_errors *);
int	 proxy_keys_load_file(struct proxy_keys *, const char *,
	    struct config_errors *);
void	 proxy_keys_free(struct proxy_keys *);
const struct proxy_key *proxy_keys_find(const struct proxy_keys *,
	    const char *, size_t);
int	 proxy_key_allows(const struct proxy_key *, const char *, size_t);
int	 proxy_keys_generate(char *, size_t, char *, size_t);
void	 proxy_keys_digest_hex(const char *, size_t, char *, size_t);

#endif
