/*
 * dotenv: read KEY=VALUE lines of a .env file.
 */
#ifndef ODP_DOTENV_H
#define ODP_DOTENV_H

#include <stddef.h>

/* Called for each assignment; key and value are NUL-terminated. */
typedef void (*dotenv_fn)(void *arg, const char *key, const char *value);

int	 dotenv_parse(const char *, size_t, dotenv_fn, void *, int *, char *,
	    size_t);

#endif
