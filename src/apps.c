/*
 * apps: the Dify apps configured behind the proxy, found by model name.
 *
 * The config's "apps" is an array of objects, one per app:
 *
 *   {"model": "support", "key": "env:SUPPORT_KEY", "mode": "chat",
 *    "input": "text", "output": "result", "inputs": {"lang": "en"},
 *    "dify_api_url": "https://dify.internal/v1"}
 *
 * model and key are required; key is the Dify app key or env:NAME, read
 * from the environment when the config is complete so keys stay out of
 * files.  mode (any Dify mode name: chat, agent-chat, agent,
 * advanced-chat, completion, workflow) overrides what GET /info says.
 * input names the text input of a completion or workflow app (else it is
 * read from the app's form), output the workflow output that answers,
 * inputs fixed values sent on every call (they win over a client's),
 * dify_api_url a Dify of the app's own, and tools (true or false) whether
 * the request's OpenAI tools are offered to the app in prompt mode
 * (tool_call.c; default: the config's prompt_tools), and continuity
 * (true or false) whether its chats continue Dify conversations
 * (conversation.c; default: the config's continuity), and rpm and
 * max_streams the app's requests a minute and at once over all clients
 * (rate_limit.c; absent or 0: no limit).  Unknown members
 * and wrong types are errors, all reported at once, each naming the app.
 *
 * The table is built once at start and read-only after; a lookup is a
 * scan, which for the dozens of apps a team has costs less than a hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_text.h"
#include "apps.h"
#include "buf.h"
#include "config.h"
#include "util.h"

#define APPS_MAX	1024
#define APPS_MAX_NAME	256

/* The members an app object may have. */
static const char *apps_members[] = {
	"model", "key", "mode", "input", "output", "inputs", "dify_api_url",
	"tools", "continuity", "rpm", "max_streams"
};

/* True if s is a member name the app object may have. */
static int
apps_member_known(const char *s)
{
	size_t	i;

	for (i = 0; i < nitems(apps_members); i++) {
		if (strcmp(apps_members[i], s) == 0)
			return (1);
	}
	return (0);
}

/*
 * Copy a string member into *out.  Absent is fine unless required; a
 * value that is not a non-empty string without NUL bytes, or longer than
 * max, is an error.  Returns 0 or -1 (reported).
 */
static int
apps_string(json_t *obj, const char *name, int required, size_t max,
    char **out, const char *where, size_t i, struct config_errors *errs)
{
	json_t	*v = json_object_get(obj, name);

	*out = NULL;
	if (v == NULL) {
		if (!required)
			return (0);
		config_errors_add(errs, "%s: apps[%zu]: \"%s\" is required",
		    where, i, name);
		return (-1);
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		config_errors_add(errs, "%s: apps[%zu]: \"%s\" must be a "
		    "non-empty string of at most %zu bytes", where, i, name,
		    max);
		return (-1);
	}
	*out = xstrdup(json_string_value(v));
	return (0);
}

/* Read a limit member (absent: 0, no limit); returns 0 or 1 (reported). */
static int
apps_limit(json_t *obj, const char *name, unsigned *out, const char *where,
    size_t i, struct config_errors *errs)
{
	json_t	*v = json_object_get(obj, name);

	*out = 0;
	if (v == NULL)
		return (0);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 100000000) {
		config_errors_add(errs, "%s: apps[%zu]: \"%s\" must be a whole "
		    "number from 0 (no limit) to 100000000", where, i, name);
		return (1);
	}
	*out = (unsigned)json_integer_value(v);
	return (0);
}

/* Read one app object into a; returns the number of errors added. */
static int
apps_parse_one(json_t *obj, struct app *a, const char *where, size_t i,
    struct config_errors *errs)
{
	const char	*key;
	json_t		*v;
	char		*mode = NULL;
	int		 bad = 0;

	if (!json_is_object(obj)) {
		config_errors_add(errs, "%s: apps[%zu] must be an object",
		    where, i);
		return (1);
	}
	json_object_foreach(obj, key, v) {
		if (!apps_member_known(key)) {
			config_errors_add(errs, "%s: apps[%zu]: unknown member "
			    "\"%s\"", where, i, key);
			bad++;
		}
	}
	bad -= apps_string(obj, "model", 1, APPS_MAX_NAME, &a->model, where, i,
	    errs);
	bad -= apps_string(obj, "key", 1, 512, &a->key, where, i, errs);
	bad -= apps_string(obj, "mode", 0, 64, &mode, where, i, errs);
	bad -= apps_string(obj, "input", 0, APPS_MAX_NAME, &a->input_var,
	    where, i, errs);
	bad -= apps_string(obj, "output", 0, APPS_MAX_NAME, &a->output_var,
	    where, i, errs);
	bad -= apps_string(obj, "dify_api_url", 0, 2048, &a->dify_api_url,
	    where, i, errs);
	if (mode != NULL && (a->mode = dify_app_mode_parse(mode,
	    strlen(mode))) == DIFY_APP_UNKNOWN) {
		config_errors_add(errs, "%s: apps[%zu]: \"mode\" must be one "
		    "of chat, agent-chat, agent, advanced-chat, completion, "
		    "workflow", where, i);
		bad++;
	}
	free(mode);
	a->tools = -1;
	if ((v = json_object_get(obj, "tools")) != NULL) {
		if (!json_is_boolean(v)) {
			config_errors_add(errs, "%s: apps[%zu]: \"tools\" must "
			    "be true or false", where, i);
			bad++;
		} else
			a->tools = json_is_true(v);
	}
	a->continuity = -1;
	if ((v = json_object_get(obj, "continuity")) != NULL) {
		if (!json_is_boolean(v)) {
			config_errors_add(errs, "%s: apps[%zu]: \"continuity\" "
			    "must be true or false", where, i);
			bad++;
		} else
			a->continuity = json_is_true(v);
	}
	bad += apps_limit(obj, "rpm", &a->rpm, where, i, errs);
	bad += apps_limit(obj, "max_streams", &a->max_streams, where, i, errs);
	if ((v = json_object_get(obj, "inputs")) != NULL) {
		if (!json_is_object(v)) {
			config_errors_add(errs, "%s: apps[%zu]: \"inputs\" must "
			    "be an object", where, i);
			bad++;
		} else
			a->inputs = json_text_dup(v, JSON_COMPACT);
	}
	return (bad);
}

/*
 * Read the config's "apps" value (a json_t *; where names it in
 * messages).  Returns the table, or NULL with errors added.
 */
struct apps *
apps_parse(const void *value, const char *where, struct config_errors *errs)
{
	json_t		*v = (json_t *)(uintptr_t)value, *item;
	struct apps	*apps;
	size_t		 i, j;
	int		 bad = 0;

	if (!json_is_array(v) || json_array_size(v) > APPS_MAX) {
		config_errors_add(errs, "%s: \"apps\" must be an array of up "
		    "to %d app objects", where, APPS_MAX);
		return (NULL);
	}
	apps = xcalloc(1, sizeof(*apps));
	apps->v = xcalloc(json_array_size(v) + 1, sizeof(*apps->v));
	json_array_foreach(v, i, item) {
		bad += apps_parse_one(item, &apps->v[i], where, i, errs);
		apps->n = i + 1;
	}
	for (i = 0; bad == 0 && i < apps->n; i++) {
		for (j = 0; j < i; j++) {
			if (strcmp(apps->v[i].model, apps->v[j].model) == 0) {
				config_errors_add(errs, "%s: apps[%zu]: model "
				    "\"%s\" is also apps[%zu]'s", where, i,
				    apps->v[i].model, j);
				bad++;
			}
		}
	}
	if (bad > 0) {
		apps_free(apps);
		return (NULL);
	}
	return (apps);
}

/*
 * Replace every "env:NAME" key by NAME's value.  Returns the number of
 * errors added (a variable not set or empty).
 */
int
apps_resolve_keys(struct apps *apps, apps_getenv_fn get,
    struct config_errors *errs)
{
	struct app	*a;
	const char	*s;
	size_t		 i;
	int		 bad = 0;

	for (i = 0; apps != NULL && i < apps->n; i++) {
		a = &apps->v[i];
		if (strncmp(a->key, "env:", 4) != 0)
			continue;
		if ((s = get(a->key + 4)) == NULL || *s == '\0') {
			config_errors_add(errs, "apps[%zu] (model \"%s\"): the "
			    "key's environment variable %s is not set", i,
			    a->model, a->key + 4);
			bad++;
			continue;
		}
		free(a->key);
		a->key = xstrdup(s);
	}
	return (bad);
}

/*
 * Check what needs the whole config: keys usable in a header, own URLs
 * parsed.  Returns the number of errors added.
 */
int
apps_finish(struct apps *apps, struct config_errors *errs)
{
	struct app	*a;
	char		 err[256];
	size_t		 i;
	int		 bad = 0;

	for (i = 0; apps != NULL && i < apps->n; i++) {
		a = &apps->v[i];
		if (strncmp(a->key, "env:", 4) != 0 &&
		    !util_token_is_printable(a->key, strlen(a->key))) {
			/* The key itself is not repeated: it is a secret. */
			config_errors_add(errs, "apps[%zu] (model \"%s\"): the "
			    "key has spaces or control characters", i, a->model);
			bad++;
		}
		if (a->dify_api_url != NULL && url_parse(a->dify_api_url,
		    &a->url, err, sizeof(err)) != 0) {
			config_errors_add(errs, "apps[%zu] (model \"%s\"): "
			    "dify_api_url \"%s\" %s", i, a->model,
			    a->dify_api_url, err);
			bad++;
		}
	}
	return (bad);
}

/* Free the table. */
void
apps_free(struct apps *apps)
{
	struct app	*a;
	size_t		 i;

	if (apps == NULL)
		return;
	for (i = 0; i < apps->n; i++) {
		a = &apps->v[i];
		free(a->model);
		free(a->key);
		free(a->input_var);
		free(a->output_var);
		free(a->inputs);
		free(a->dify_api_url);
	}
	free(apps->v);
	free(apps);
}

/* The app a model name selects, or NULL. */
const struct app *
apps_find(const struct apps *apps, const char *model, size_t len)
{
	size_t	i;

	for (i = 0; apps != NULL && i < apps->n; i++) {
		if (strlen(apps->v[i].model) == len &&
		    memcmp(apps->v[i].model, model, len) == 0)
			return (&apps->v[i]);
	}
	return (NULL);
}

/*
 * Decide where a request for model goes.  A configured app takes its
 * model whatever key the client sent; any other model is passthrough
 * (the client's Bearer is the Dify key) when that is on, else unknown.
 * *out is the app for APPS_PICK_APP.
 */
enum apps_pick
apps_pick(const struct apps *apps, int passthrough, const char *model,
    size_t len, int have_key, const struct app **out)
{
	*out = apps_find(apps, model, len);
	if (*out != NULL)
		return (APPS_PICK_APP);
	if (!passthrough)
		return (APPS_PICK_UNKNOWN_MODEL);
	return (have_key ? APPS_PICK_PASSTHROUGH : APPS_PICK_NO_KEY);
}
