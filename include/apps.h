/*
 * apps: the Dify apps configured behind the proxy, found by model name.
 */
#ifndef ODP_APPS_H
#define ODP_APPS_H

#include <stddef.h>

#include "dify_app.h"
#include "url.h"

struct config_errors;

/* One configured app: what a client's "model" selects. */
struct app {
	char			*model;		/* the name clients send */
	char			*key;		/* Dify app key, or "env:NAME" */
	enum dify_app_mode	 mode;		/* UNKNOWN: ask Dify */
	char			*input_var;	/* NULL: from the app's form */
	char			*output_var;	/* workflow; NULL: by rule */
	char			*inputs;	/* JSON object text or NULL */
	char			*dify_api_url;	/* NULL: the global one */
	int			 tools;		/* prompt tools: -1 global */
	int			 continuity;	/* conversations: -1 global */
	unsigned		 rpm;		/* requests a minute; 0: any */
	unsigned		 max_streams;	/* at once; 0: any */
	struct url		 url;		/* parsed dify_api_url */
};

struct apps {
	struct app	*v;
	size_t		 n;
};

/* Where a request goes (apps_pick). */
enum apps_pick {
	APPS_PICK_APP,			/* a configured app */
	APPS_PICK_PASSTHROUGH,		/* the client's key, its app */
	APPS_PICK_NO_KEY,		/* passthrough, but no key sent */
	APPS_PICK_UNKNOWN_MODEL		/* no such app, no passthrough */
};

/* Looks up an environment variable (as config_getenv_fn). */
typedef const char *(*apps_getenv_fn)(const char *);

struct apps	*apps_parse(const void *, const char *,
		    struct config_errors *);
int		 apps_resolve_keys(struct apps *, apps_getenv_fn,
		    struct config_errors *);
int		 apps_finish(struct apps *, struct config_errors *);
void		 apps_free(struct apps *);
const struct app *apps_find(const struct apps *, const char *, size_t);
enum apps_pick	 apps_pick(const struct apps *, int, const char *, size_t,
		    int, const struct app **);

#endif
