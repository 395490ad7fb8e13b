/*
 * app_cache: what Dify said about each app key, for a while.
 *
 * GET /info gives an app's name and mode, GET /parameters its form; both
 * are asked once per key and kept for models_cache_ttl, so that neither
 * /v1/models nor a chat request pays a round trip to Dify each time.
 * Entries are found by a keyed hash of the key (SipHash-128 under a
 * random per-process key, siphash.c): the key itself is never kept.  The table is a fixed number of slots; a new key takes the slot
 * that expires first, so memory stays flat whatever keys clients send.
 * Time is passed in (microseconds, monotonic), which keeps the module
 * pure and testable.
 */
#include <stdlib.h>
#include <string.h>

#include "app_cache.h"
#include "siphash.h"
#include "util.h"

struct app_cache {
	struct app_cache_entry	*slots;
	size_t			 n;
	unsigned char		 key[SIPHASH_KEY_LEN];	/* random */
};

/* Create a cache of n slots. */
struct app_cache *
app_cache_new(size_t n)
{
	struct app_cache	*c;

	c = xcalloc(1, sizeof(*c));
	c->slots = xcalloc(n, sizeof(*c->slots));
	c->n = n;
	util_random_bytes(c->key, sizeof(c->key));
	return (c);
}

/* Free the cache. */
void
app_cache_free(struct app_cache *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		free(c->slots[i].name);
	free(c->slots);
	free(c);
}

/* The hash a key is found by: keyed, so it tells nothing of the key. */
static void
app_cache_hash(struct app_cache *c, const char *key, unsigned char *out)
{
	siphash128(c->key, key, strlen(key), out);
}

/* The fresh entry for key at time now, or NULL. */
struct app_cache_entry *
app_cache_get(struct app_cache *c, const char *key, uint64_t now)
{
	unsigned char	hash[APP_CACHE_HASH_LEN];
	size_t		i;

	app_cache_hash(c, key, hash);
	for (i = 0; i < c->n; i++) {
		if (c->slots[i].expires > now && memcmp(c->slots[i].hash, hash,
		    APP_CACHE_HASH_LEN) == 0)
			return (&c->slots[i]);
	}
	return (NULL);
}

/*
 * The entry for key, made fresh until now + ttl_ms: the existing one
 * (what it knows is kept), else the slot that expires first, emptied.
 * Returns NULL when ttl_ms is 0 (caching is off).
 */
struct app_cache_entry *
app_cache_put(struct app_cache *c, const char *key, uint64_t now,
    unsigned ttl_ms)
{
	struct app_cache_entry	*e, *slot = NULL;
	unsigned char		 hash[APP_CACHE_HASH_LEN];
	size_t			 i;

	if (ttl_ms == 0 || c->n == 0)
		return (NULL);
	app_cache_hash(c, key, hash);
	for (i = 0; i < c->n; i++) {
		e = &c->slots[i];
		if (e->expires > now &&
		    memcmp(e->hash, hash, APP_CACHE_HASH_LEN) == 0) {
			e->expires = now + (uint64_t)ttl_ms * 1000;
			return (e);
		}
		if (slot == NULL || e->expires < slot->expires)
			slot = e;
	}
	free(slot->name);
	memset(slot, 0, sizeof(*slot));
	memcpy(slot->hash, hash, APP_CACHE_HASH_LEN);
	slot->expires = now + (uint64_t)ttl_ms * 1000;
	return (slot);
}

/* Remember the app's name. */
void
app_cache_set_name(struct app_cache_entry *e, const char *name)
{
	free(e->name);
	e->name = name != NULL ? xstrdup(name) : NULL;
}

/*
 * Remember the app's text input as read for a kind of app (which input
 * counts differs between completion and workflow; NULL: none).
 */
void
app_cache_set_input(struct app_cache_entry *e, enum dify_app_mode mode,
    const char *var)
{
	e->have_input = 1;
	e->input_mode = mode;
	e->input_var[0] = '\0';
	if (var != NULL && strlen(var) < sizeof(e->input_var))
		memcpy(e->input_var, var, strlen(var) + 1);
}
