/*
 * app_cache: what Dify said about each app key, for a while.
 */
#ifndef ODP_APP_CACHE_H
#define ODP_APP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dify_app.h"

#define APP_CACHE_HASH_LEN	16	/* SipHash-128 */
#define APP_CACHE_MAX_VAR	256

/* What is known about one app key; each part may be known or not. */
struct app_cache_entry {
	unsigned char		 hash[APP_CACHE_HASH_LEN];
	uint64_t		 expires;	/* usec; 0: empty slot */
	char			*name;		/* GET /info name, or NULL */
	enum dify_app_mode	 mode;		/* UNKNOWN: not known */
	int			 have_input;	/* input_var was looked up */
	enum dify_app_mode	 input_mode;	/* for this kind of app */
	char			 input_var[APP_CACHE_MAX_VAR]; /* "": none */
};

struct app_cache;

struct app_cache	*app_cache_new(size_t);
void			 app_cache_free(struct app_cache *);
struct app_cache_entry	*app_cache_get(struct app_cache *, const char *,
			    uint64_t);
struct app_cache_entry	*app_cache_put(struct app_cache *, const char *,
			    uint64_t, unsigned);
void			 app_cache_set_name(struct app_cache_entry *,
			    const char *);
void			 app_cache_set_input(struct app_cache_entry *,
			    enum dify_app_mode, const char *);

#endif
