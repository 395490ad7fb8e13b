/*
 * config: the proxy's settings, from defaults, a JSON file and the
 * environment, with every error reported.
 *
 * The file is JSON with // line and block comments allowed (they are
 * blanked out, keeping lines and columns, before jansson parses it).  Keys are checked
 * against one table: unknown keys, wrong types and out-of-range values are
 * errors reported as file:line:column, all of them at once, never silently
 * ignored.  The environment overrides the file: DIFY_API_URL, HOST and PORT
 * as in the original design, LOG_LEVEL, and ODP_<KEY> for every key.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apps.h"
#include "tls_context.h"
#include "buf.h"
#include "config.h"
#include "util.h"

#define CONFIG_MAX_FILE		(1024 * 1024)
/* No TLS to Redis yet: hiredis 0.14 (Debian 12) has none. */
#define ODP_REDIS_TLS	0

#define CONFIG_MAX_ORIGINS	64

enum config_type {
	CONFIG_STRING,		/* char * */
	CONFIG_PORT,		/* int, 0-65535 (0: any free port) */
	CONFIG_SECONDS,		/* unsigned ms, given as seconds */
	CONFIG_BYTES,		/* size_t */
	CONFIG_COUNT,		/* unsigned */
	CONFIG_BOOL,		/* int */
	CONFIG_ORIGINS,		/* char ** */
	CONFIG_LOG_LEVEL,	/* enum log_level */
	CONFIG_NULLABLE_STRING,	/* char *, null allowed */
	CONFIG_APPS,		/* struct apps * (apps.c reads it) */
	CONFIG_KEYS		/* struct proxy_keys (proxy_keys.c reads it) */
};

struct config_key {
	const char		*name;
	enum config_type	 type;
	size_t			 offset;
	double			 min;
	double			 max;
	const char		*env;	/* besides ODP_<NAME> */
};

#define OFF(f)	offsetof(struct config, f)

static const struct config_key config_keys[] = {
	{ "host", CONFIG_STRING, OFF(host), 0, 0, "HOST" },
	{ "port", CONFIG_PORT, OFF(port), 0, 65535, "PORT" },
	{ "dify_api_url", CONFIG_STRING, OFF(dify_api_url), 0, 0,
	    "DIFY_API_URL" },
	{ "connect_timeout", CONFIG_SECONDS, OFF(connect_timeout_ms),
	    0.05, 600, NULL },
	{ "upstream_idle_timeout", CONFIG_SECONDS,
	    OFF(upstream_idle_timeout_ms), 0.05, 86400, NULL },
	{ "client_idle_timeout", CONFIG_SECONDS, OFF(client_idle_timeout_ms),
	    0.05, 86400, NULL },
	{ "send_timeout", CONFIG_SECONDS, OFF(send_timeout_ms), 0.05, 86400,
	    NULL },
	{ "client_header_timeout", CONFIG_SECONDS,
	    OFF(client_header_timeout_ms), 0.05, 3600, NULL },
	{ "client_body_timeout", CONFIG_SECONDS, OFF(client_body_timeout_ms),
	    0.05, 86400, NULL },
	{ "max_connections", CONFIG_COUNT, OFF(max_connections), 0, 10000000,
	    NULL },
	{ "max_buffered_request_bytes", CONFIG_BYTES,
	    OFF(max_buffered_request_bytes), 65536, 1024.0 * 1024 * 1024 * 64,
	    NULL },
	{ "keepalive_interval", CONFIG_SECONDS, OFF(keepalive_interval_ms),
	    0.05, 3600, NULL },
	{ "drain_timeout", CONFIG_SECONDS, OFF(drain_timeout_ms), 0, 86400,
	    NULL },
	{ "drain_delay", CONFIG_SECONDS, OFF(drain_delay_ms), 0, 3600, NULL },
	{ "ready_probe_interval", CONFIG_SECONDS, OFF(ready_probe_interval_ms),
	    0, 3600, NULL },
	{ "upstream_keepalive_timeout", CONFIG_SECONDS,
	    OFF(upstream_keepalive_ms), 0.05, 3600, NULL },
	{ "models_cache_ttl", CONFIG_SECONDS, OFF(models_cache_ttl_ms), 0,
	    86400, NULL },
	{ "max_body_bytes", CONFIG_BYTES, OFF(max_body_bytes), 1024,
	    1024.0 * 1024 * 1024, NULL },
	{ "max_header_bytes", CONFIG_BYTES, OFF(max_header_bytes), 1024,
	    1024.0 * 1024, NULL },
	{ "upstream_pool_size", CONFIG_COUNT, OFF(upstream_pool_size), 0,
	    100000, NULL },
	{ "tls_ca_file", CONFIG_NULLABLE_STRING, OFF(tls_ca_file), 0, 0,
	    NULL },
	{ "tls_verify", CONFIG_BOOL, OFF(tls_verify), 0, 0, NULL },
	{ "tls_cert_file", CONFIG_NULLABLE_STRING, OFF(tls_cert_file), 0, 0,
	    "TLS_CERT_FILE" },
	{ "tls_key_file", CONFIG_NULLABLE_STRING, OFF(tls_key_file), 0, 0,
	    "TLS_KEY_FILE" },
	{ "cors_allowed_origins", CONFIG_ORIGINS, OFF(cors_origins), 0, 0,
	    NULL },
	{ "log_level", CONFIG_LOG_LEVEL, OFF(log_level), 0, 0, "LOG_LEVEL" },
	{ "default_user", CONFIG_STRING, OFF(default_user), 0, 0, NULL },
	{ "auto_generate_name", CONFIG_BOOL, OFF(auto_generate_name), 0, 0,
	    NULL },
	{ "workers", CONFIG_COUNT, OFF(workers), 0, 1024, NULL },
	{ "apps", CONFIG_APPS, OFF(apps), 0, 0, NULL },
	{ "passthrough", CONFIG_BOOL, OFF(passthrough), 0, 0, NULL },
	{ "split_think", CONFIG_BOOL, OFF(split_think), 0, 0, NULL },
	{ "prompt_tools", CONFIG_BOOL, OFF(prompt_tools), 0, 0, NULL },
	{ "continuity", CONFIG_BOOL, OFF(continuity), 0, 0, NULL },
	{ "conversation_ttl", CONFIG_SECONDS, OFF(conversation_ttl_ms), 1,
	    30 * 86400, NULL },
	{ "conversation_max", CONFIG_COUNT, OFF(conversation_max), 16,
	    10000000, NULL },
	{ "redis_url", CONFIG_NULLABLE_STRING, OFF(redis_url), 0, 0,
	    "REDIS_URL" },
	{ "redis_timeout", CONFIG_SECONDS, OFF(redis_timeout_ms), 0.001, 60,
	    NULL },
	{ "api_keys", CONFIG_KEYS, OFF(api_keys), 0, 0, NULL },
	{ "api_keys_file", CONFIG_NULLABLE_STRING, OFF(api_keys_file), 0, 0,
	    "API_KEYS_FILE" },
	{ "metrics_listen", CONFIG_STRING, OFF(metrics_listen), 0, 0,
	    "METRICS_LISTEN" },
};

#define config_error	config_errors_add

/* Add a formatted error. */
void
config_errors_add(struct config_errors *errs, const char *fmt, ...)
{
	va_list		 ap;
	char		 tmp[1024];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	errs->v = xrealloc(errs->v, (errs->n + 1) * sizeof(*errs->v));
	errs->v[errs->n++] = xstrdup(tmp);
}

/* Free the collected errors. */
void
config_errors_free(struct config_errors *errs)
{
	size_t	i;

	for (i = 0; i < errs->n; i++)
		free(errs->v[i]);
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

/* Free a NULL-terminated string list. */
static void
config_free_list(char **list)
{
	char	**p;

	for (p = list; p != NULL && *p != NULL; p++)
		free(*p);
	free(list);
}

/* Fill c with the defaults. */
void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->host = xstrdup("0.0.0.0");
	c->port = 8223;
	c->dify_api_url = xstrdup("https://api.dify.ai/v1");
	c->connect_timeout_ms = 10 * 1000;
	c->upstream_idle_timeout_ms = 300 * 1000;
	c->client_idle_timeout_ms = 60 * 1000;
	c->send_timeout_ms = 60 * 1000;
	c->client_header_timeout_ms = 30 * 1000;
	c->client_body_timeout_ms = 60 * 1000;
	c->max_buffered_request_bytes = 128 * 1024 * 1024;
	c->keepalive_interval_ms = 15 * 1000;
	c->drain_timeout_ms = 30 * 1000;
	c->upstream_keepalive_ms = 30 * 1000;
	c->models_cache_ttl_ms = 60 * 1000;
	c->max_body_bytes = 16 * 1024 * 1024;
	c->max_header_bytes = 64 * 1024;
	c->upstream_pool_size = 64;
	c->tls_ca_file = NULL;
	c->tls_verify = 1;
	c->cors_origins = xcalloc(2, sizeof(char *));
	c->cors_origins[0] = xstrdup("*");
	c->log_level = LOG_LEVEL_INFO;
	c->default_user = xstrdup("openai-dify-proxy");
	c->auto_generate_name = 0;
	c->workers = 0;		/* one per CPU */
	c->apps = NULL;
	c->passthrough = -1;	/* on unless apps are configured */
	c->split_think = 1;
	c->continuity = 1;
	c->conversation_ttl_ms = 86400 * 1000;
	c->conversation_max = 100000;
	c->redis_url = NULL;
	c->redis_timeout_ms = 200;
	c->metrics_listen = xstrdup("127.0.0.1:9464");
}

/* Release everything c owns. */
void
config_free(struct config *c)
{
	free(c->host);
	free(c->dify_api_url);
	free(c->tls_ca_file);
	free(c->tls_cert_file);
	free(c->tls_key_file);
	free(c->redis_url);
	free(c->metrics_listen);
	free(c->metrics_host);
	config_free_list(c->cors_origins);
	free(c->default_user);
	apps_free(c->apps);
	proxy_keys_free(&c->api_keys);
	free(c->api_keys_file);
	memset(c, 0, sizeof(*c));
}

/*
 * Blank out // and block comments outside strings, keeping newlines, so
 * jansson's line and column numbers still match the file.
 */
void
config_strip_comments(char *s, size_t len)
{
	size_t	i = 0;
	int	in_string = 0;

	while (i < len) {
		if (in_string) {
			if (s[i] == '\\' && i + 1 < len)
				i++;
			else if (s[i] == '"')
				in_string = 0;
			i++;
		} else if (s[i] == '"') {
			in_string = 1;
			i++;
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '/') {
			while (i < len && s[i] != '\n')
				s[i++] = ' ';
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			s[i++] = ' ';
			s[i++] = ' ';
			while (i < len && !(s[i] == '*' && i + 1 < len &&
			    s[i + 1] == '/')) {
				if (s[i] != '\n')
					s[i] = ' ';
				i++;
			}
			if (i < len) {
				s[i++] = ' ';
				s[i++] = ' ';
			}
		} else
			i++;
	}
}

/* Where a top-level key and its value start in the file. */
struct config_pos {
	char	*key;
	int	 line;
	int	 column;
};

/* True for a UTF-8 continuation byte (columns count characters). */
static int
config_continuation(char c)
{
	return (((unsigned char)c & 0xc0) == 0x80);
}

/* Decode a quoted JSON string token (escapes and all) to a C string. */
static char *
config_decode_key(const char *tok, size_t len)
{
	json_t	*j;
	char	*key;

	j = json_loadb(tok, len, JSON_DECODE_ANY, NULL);
	if (json_is_string(j))
		key = xstrdup(json_string_value(j));
	else
		key = xstrndup(tok + 1, len > 2 ? len - 2 : 0);
	json_decref(j);
	return (key);
}

/*
 * Record the position of each top-level key of the (already valid) JSON
 * text, since jansson keeps no positions for values.  Keys are decoded so
 * they match jansson's even when written with escapes.
 */
static size_t
config_positions(const char *s, size_t len, struct config_pos **out)
{
	struct config_pos	*pos = NULL;
	size_t			 n = 0, i, start;
	int			 depth = 0, line = 1, col = 1, kline, kcol;

	for (i = 0; i < len; i++, col += !config_continuation(s[i])) {
		if (s[i] == '\n') {
			line++;
			col = 0;
		} else if (s[i] == '{' || s[i] == '[')
			depth++;
		else if (s[i] == '}' || s[i] == ']')
			depth--;
		else if (s[i] == '"') {
			start = ++i;
			kline = line;
			kcol = col;
			for (; i < len && s[i] != '"'; i++,
			    col += !config_continuation(s[i])) {
				if (s[i] == '\\') {
					i++;
					col++;
				}
			}
			col++;
			if (depth != 1)
				continue;
			/* A key is a string followed by a colon. */
			{
				size_t	j = i + 1;

				while (j < len && isspace((unsigned char)s[j]))
					j++;
				if (j >= len || s[j] != ':')
					continue;
			}
			pos = xrealloc(pos, (n + 1) * sizeof(*pos));
			pos[n].key = config_decode_key(s + start - 1,
			    i - start + 2);
			pos[n].line = kline;
			pos[n].column = kcol;
			n++;
		}
	}
	*out = pos;
	return (n);
}

/* Parse a seconds value into milliseconds, checking the key's range. */
static int
config_seconds(const struct config_key *k, double secs, unsigned *ms)
{
	if (!isfinite(secs) || secs < k->min || secs > k->max)
		return (-1);
	*ms = (unsigned)(secs * 1000.0 + 0.5);
	return (0);
}

/* Describe the accepted values of a key, for error messages. */
static void
config_expect(const struct config_key *k, char *out, size_t size)
{
	switch (k->type) {
	case CONFIG_STRING:
		snprintf(out, size, "a non-empty string");
		break;
	case CONFIG_NULLABLE_STRING:
		snprintf(out, size, "a non-empty string or null");
		break;
	case CONFIG_PORT:
		snprintf(out, size, "an integer from 0 to 65535");
		break;
	case CONFIG_SECONDS:
		snprintf(out, size, "a number of seconds from %g to %g",
		    k->min, k->max);
		break;
	case CONFIG_BYTES:
	case CONFIG_COUNT:
		snprintf(out, size, "an integer from %.0f to %.0f", k->min,
		    k->max);
		break;
	case CONFIG_BOOL:
		snprintf(out, size, "true or false");
		break;
	case CONFIG_ORIGINS:
		snprintf(out, size, "an array of up to %d origins "
		    "(\"*\" or scheme://host[:port])", CONFIG_MAX_ORIGINS);
		break;
	case CONFIG_LOG_LEVEL:
		snprintf(out, size, "one of error, warn, info, debug");
		break;
	case CONFIG_APPS:
		snprintf(out, size, "an array of app objects");
		break;
	case CONFIG_KEYS:
		snprintf(out, size, "an array of key objects");
		break;
	}
}

/* True if s is "*" or a plausible origin (scheme://host[:port]). */
static int
config_origin_ok(const char *s)
{
	const char	*p;

	if (strcmp(s, "*") == 0)
		return (1);
	if ((p = strstr(s, "://")) == NULL || p == s || p[3] == '\0')
		return (0);
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return (0);
	}
	return (s[-1] != '/');
}

/* Store a string into a char * field, replacing the old value. */
static void
config_set_string(struct config *c, const struct config_key *k,
    const char *s)
{
	char	**field = (char **)((char *)c + k->offset);

	free(*field);
	*field = s != NULL ? xstrdup(s) : NULL;
}

/*
 * Apply one JSON value to a key.  Returns 0, or -1 if the value has the
 * wrong type or range (the caller reports where).
 */
static int
config_apply_json(struct config *c, const struct config_key *k, json_t *v)
{
	char		*field = (char *)c + k->offset;
	json_int_t	 n;
	json_t		*item;
	char		**list;
	size_t		 i;

	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_NULLABLE_STRING:
		if (k->type == CONFIG_NULLABLE_STRING && json_is_null(v)) {
			config_set_string(c, k, NULL);
			return (0);
		}
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return (-1);
		config_set_string(c, k, json_string_value(v));
		return (0);
	case CONFIG_PORT:
	case CONFIG_BYTES:
	case CONFIG_COUNT:
		if (!json_is_integer(v))
			return (-1);
		n = json_integer_value(v);
		if ((double)n < k->min || (double)n > k->max)
			return (-1);
		if (k->type == CONFIG_PORT)
			*(int *)field = (int)n;
		else if (k->type == CONFIG_BYTES)
			*(size_t *)field = (size_t)n;
		else
			*(unsigned *)field = (unsigned)n;
		return (0);
	case CONFIG_SECONDS:
		if (!json_is_number(v))
			return (-1);
		return (config_seconds(k, json_number_value(v),
		    (unsigned *)field));
	case CONFIG_BOOL:
		if (!json_is_boolean(v))
			return (-1);
		*(int *)field = json_is_true(v);
		return (0);
	case CONFIG_LOG_LEVEL:
		if (!json_is_string(v) ||
		    log_level_parse(json_string_value(v),
		    (enum log_level *)field) != 0)
			return (-1);
		return (0);
	case CONFIG_ORIGINS:
		if (!json_is_array(v) || json_array_size(v) > CONFIG_MAX_ORIGINS)
			return (-1);
		json_array_foreach(v, i, item) {
			if (!json_is_string(item) ||
			    !config_origin_ok(json_string_value(item)))
				return (-1);
		}
		list = xcalloc(json_array_size(v) + 1, sizeof(char *));
		json_array_foreach(v, i, item)
			list[i] = xstrdup(json_string_value(item));
		config_free_list(c->cors_origins);
		c->cors_origins = list;
		return (0);
	case CONFIG_APPS:
	case CONFIG_KEYS:
		/* apps.c and proxy_keys.c report what is wrong. */
		return (-1);
	}
	return (-1);
}

/*
 * Read the "apps" value; where says where it is, for messages.  Returns
 * 0, or -1 with the errors added.
 */
static int
config_load_apps(struct config *c, json_t *v, const char *where,
    struct config_errors *errs)
{
	struct apps	*apps;

	if ((apps = apps_parse(v, where, errs)) == NULL)
		return (-1);
	apps_free(c->apps);
	c->apps = apps;
	return (0);
}

/*
 * Read the "api_keys" value (it replaces earlier ones: the environment
 * wins over the file); where says where it is.  Errors are added.
 */
static int
config_load_keys(struct config *c, json_t *v, const char *where,
    struct config_errors *errs)
{
	struct proxy_keys	ks = { NULL, 0 };

	if (proxy_keys_parse(&ks, v, where, errs) != 0)
		return (-1);
	proxy_keys_free(&c->api_keys);
	c->api_keys = ks;
	return (0);
}

/* Find a key by name. */
static const struct config_key *
config_find(const char *name)
{
	size_t	i;

	for (i = 0; i < nitems(config_keys); i++) {
		if (strcmp(config_keys[i].name, name) == 0)
			return (&config_keys[i]);
	}
	return (NULL);
}

/*
 * The length of the setting's name s begins with ("redis_url %s",
 * "apps[2]: ..."), or 0 when it begins with none: an error that does not
 * point into a file names the setting it is about.
 */
size_t
config_names_key(const char *s)
{
	size_t	i, n;

	for (i = 0; i < nitems(config_keys); i++) {
		n = strlen(config_keys[i].name);
		if (strncmp(s, config_keys[i].name, n) == 0 &&
		    (s[n] == ' ' || s[n] == ':' || s[n] == '['))
			return (n);
	}
	return (0);
}

/*
 * Apply a config file's text (name is used in error messages).  Returns the
 * number of errors added.
 */
int
config_load_text(struct config *c, const char *name, const char *text,
    size_t len, struct config_errors *errs)
{
	const struct config_key	*k;
	struct config_pos	*pos = NULL;
	json_error_t		 jerr;
	json_t			*root, *v;
	const char		*key;
	char			*copy, expect[128];
	size_t			 npos = 0, i, before = errs->n;
	int			 line, column;

	copy = xstrndup(text, len);
	config_strip_comments(copy, len);
	root = json_loadb(copy, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		config_error(errs, "%s:%d:%d: %s", name, jerr.line,
		    jerr.column, jerr.text);
		goto done;
	}
	if (!json_is_object(root)) {
		config_error(errs, "%s:1:1: the configuration must be a JSON "
		    "object", name);
		goto done;
	}
	npos = config_positions(copy, len, &pos);
	json_object_foreach(root, key, v) {
		line = column = 0;
		for (i = 0; i < npos; i++) {
			if (strcmp(pos[i].key, key) == 0) {
				line = pos[i].line;
				column = pos[i].column;
				break;
			}
		}
		if ((k = config_find(key)) == NULL) {
			config_error(errs, "%s:%d:%d: unknown key \"%s\"", name,
			    line, column, key);
			continue;
		}
		if (k->type == CONFIG_APPS || k->type == CONFIG_KEYS) {
			snprintf(expect, sizeof(expect), "%s:%d:%d", name,
			    line, column);
			if (k->type == CONFIG_APPS)
				config_load_apps(c, v, expect, errs);
			else
				config_load_keys(c, v, expect, errs);
			continue;
		}
		if (config_apply_json(c, k, v) != 0) {
			config_expect(k, expect, sizeof(expect));
			config_error(errs, "%s:%d:%d: \"%s\" must be %s", name,
			    line, column, key, expect);
		}
	}
done:
	for (i = 0; i < npos; i++)
		free(pos[i].key);
	free(pos);
	json_decref(root);
	free(copy);
	return ((int)(errs->n - before));
}

/* Read and apply a config file.  Returns the number of errors added. */
int
config_load_file(struct config *c, const char *path,
    struct config_errors *errs)
{
	struct buf	 b = BUF_INIT;
	FILE		*f;
	char		 tmp[8192];
	size_t		 n;
	int		 rc;

	if ((f = fopen(path, "r")) == NULL) {
		config_error(errs, "%s: %s", path, strerror(errno));
		return (1);
	}
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (b.len + n > CONFIG_MAX_FILE) {
			fclose(f);
			buf_free(&b);
			config_error(errs, "%s: larger than %d bytes", path,
			    CONFIG_MAX_FILE);
			return (1);
		}
		buf_add(&b, tmp, n);
	}
	if (ferror(f)) {
		config_error(errs, "%s: %s", path, strerror(errno));
		fclose(f);
		buf_free(&b);
		return (1);
	}
	fclose(f);
	rc = config_load_text(c, path, b.data ? b.data : "", b.len, errs);
	buf_free(&b);
	return (rc);
}

/*
 * Apply one environment value to a key.  Strings are taken as they are;
 * other types are parsed as their JSON form would be (numbers, true/false,
 * comma-separated origins).
 */
static int
config_apply_env_value(struct config *c, const struct config_key *k,
    const char *s, struct config_errors *errs)
{
	json_t		*v = NULL;
	char		*end, *copy, *tok, *save;
	double		 d;
	int		 rc;

	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_NULLABLE_STRING:
	case CONFIG_LOG_LEVEL:
		v = json_string(s);
		break;
	case CONFIG_PORT:
	case CONFIG_BYTES:
	case CONFIG_COUNT: {
		uint64_t	u;

		if (util_parse_uint(s, strlen(s), (uint64_t)k->max, &u) == 0)
			v = json_integer((json_int_t)u);
		break;
	}
	case CONFIG_SECONDS:
		errno = 0;
		d = strtod(s, &end);
		if (*s != '\0' && *end == '\0' && errno == 0)
			v = json_real(d);
		break;
	case CONFIG_BOOL:
		if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
			v = json_true();
		else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
			v = json_false();
		break;
	case CONFIG_APPS:
		/* The JSON text of the array, as in the file. */
		if ((v = json_loads(s, 0, NULL)) == NULL)
			return (-1);
		rc = config_load_apps(c, v, "environment ODP_APPS", errs);
		json_decref(v);
		return (rc == 0 ? 0 : 1);
	case CONFIG_KEYS:
		if ((v = json_loads(s, 0, NULL)) == NULL)
			return (-1);
		rc = config_load_keys(c, v, "environment ODP_API_KEYS", errs);
		json_decref(v);
		return (rc == 0 ? 0 : 1);
	case CONFIG_ORIGINS:
		v = json_array();
		copy = xstrdup(s);
		for (tok = strtok_r(copy, ", ", &save); tok != NULL;
		    tok = strtok_r(NULL, ", ", &save))
			json_array_append_new(v, json_string(tok));
		free(copy);
		break;
	}
	if (v == NULL)
		return (-1);
	rc = config_apply_json(c, k, v);
	json_decref(v);
	return (rc);
}

/*
 * Apply environment overrides.  Returns the number of errors added.
 */
int
config_apply_env(struct config *c, config_getenv_fn get,
    struct config_errors *errs)
{
	const struct config_key	*k;
	const char		*name, *s;
	char			 odp[96], expect[128];
	size_t			 i, j;
	int			 before = (int)errs->n, pass;

	for (i = 0; i < nitems(config_keys); i++) {
		k = &config_keys[i];
		snprintf(odp, sizeof(odp), "ODP_");
		for (j = 0; k->name[j] != '\0' && j + 5 < sizeof(odp); j++)
			odp[4 + j] = (char)toupper((unsigned char)k->name[j]);
		odp[4 + j] = '\0';
		/* The design's names first; ODP_<KEY> wins if both are set. */
		for (pass = 0; pass < 2; pass++) {
			name = pass == 0 ? k->env : odp;
			if (name == NULL || (s = get(name)) == NULL)
				continue;
			/* 1: the value reported its own errors. */
			if (config_apply_env_value(c, k, s, errs) == -1) {
				config_expect(k, expect, sizeof(expect));
				config_error(errs, "environment %s: must be %s",
				    name, expect);
			}
		}
	}
	/* Keys named env:NAME in the apps come from here too. */
	apps_resolve_keys(c->apps, get, errs);
	return ((int)errs->n - before);
}

/*
 * Add the keys of api_keys_file, and check that proxy keys have apps to
 * use (the Dify key comes from them, never from the client) and name
 * only configured ones.
 */
static void
config_finish_keys(struct config *c, struct config_errors *errs)
{
	const struct proxy_key	*k;
	size_t			 i, j;

	if (c->api_keys_file != NULL)
		proxy_keys_load_file(&c->api_keys, c->api_keys_file, errs);
	if (c->api_keys.n == 0)
		return;
	if (c->apps == NULL || c->apps->n == 0)
		config_error(errs, "api_keys need apps: with proxy keys the "
		    "Dify app key comes from the apps config, never from the "
		    "client");
	if (c->passthrough == 1)
		config_error(errs, "passthrough cannot be true with api_keys: "
		    "a client's key would reach Dify");
	for (i = 0; i < c->api_keys.n && c->apps != NULL; i++) {
		k = &c->api_keys.v[i];
		for (j = 0; k->models != NULL && k->models[j] != NULL; j++) {
			if (apps_find(c->apps, k->models[j],
			    strlen(k->models[j])) == NULL)
				config_error(errs, "api_keys \"%s\": model "
				    "\"%s\" is not a configured app", k->name,
				    k->models[j]);
		}
	}
}

/*
 * Parse metrics_listen: "off", "main", or host:port (an IPv6 host in
 * brackets; port 0 takes any free port).  Returns 0, or -1 with the
 * error added.
 */
static int
config_metrics_listen(struct config *c, struct config_errors *errs)
{
	const char	*s = c->metrics_listen, *colon, *hs, *he, *p;
	uint64_t	 port;

	free(c->metrics_host);
	c->metrics_host = NULL;
	c->metrics_port = 0;
	if (strcmp(s, "off") == 0) {
		c->metrics_mode = CONFIG_METRICS_OFF;
		return (0);
	}
	if (strcmp(s, "main") == 0) {
		c->metrics_mode = CONFIG_METRICS_MAIN;
		return (0);
	}
	c->metrics_mode = CONFIG_METRICS_LISTEN;
	if (s[0] == '[') {
		hs = s + 1;
		if ((he = strchr(s, ']')) == NULL || he[1] != ':')
			goto bad;
		colon = he + 1;
	} else {
		hs = s;
		if ((colon = strrchr(s, ':')) == NULL ||
		    memchr(s, ':', (size_t)(colon - s)) != NULL)
			goto bad;
		he = colon;
	}
	if (he == hs || util_parse_uint(colon + 1, strlen(colon + 1), 65535,
	    &port) != 0)
		goto bad;
	for (p = hs; p < he; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			goto bad;
	c->metrics_host = xstrndup(hs, (size_t)(he - hs));
	c->metrics_port = (int)port;
	return (0);
bad:
	config_error(errs, "metrics_listen \"%s\" must be \"off\", \"main\" "
	    "or host:port (for example 127.0.0.1:9464 or [::1]:9464)", s);
	return (-1);
}

/*
 * The TLS listener's files: both or neither, and they must load and
 * match (checked by building the context a worker will build).
 */
static void
config_finish_tls(struct config *c, struct config_errors *errs)
{
	SSL_CTX	*ctx;
	char	 err[512];

	if (c->tls_cert_file == NULL && c->tls_key_file == NULL)
		return;
	if (c->tls_cert_file == NULL || c->tls_key_file == NULL) {
		config_error(errs, "tls_cert_file and tls_key_file go "
		    "together: set both for a TLS listener, or neither");
		return;
	}
	if ((ctx = tls_context_new(c->tls_cert_file, c->tls_key_file, err,
	    sizeof(err))) == NULL) {
		config_error(errs, "%s", err);
		return;
	}
	SSL_CTX_free(ctx);
}

/*
 * Check what depends on several keys and derive parsed values.  Returns
 * the number of errors added.
 */
int
config_finish(struct config *c, struct config_errors *errs)
{
	char	err[256];
	int	before = (int)errs->n;

	if (url_parse(c->dify_api_url, &c->upstream, err, sizeof(err)) != 0)
		config_error(errs, "dify_api_url \"%s\" %s", c->dify_api_url,
		    err);
	if (strlen(c->default_user) > 255)
		config_error(errs, "default_user must be at most 255 bytes");
	if (c->max_buffered_request_bytes <
	    (uint64_t)c->max_body_bytes + c->max_header_bytes)
		config_error(errs, "max_buffered_request_bytes (%zu) must be at "
		    "least max_body_bytes + max_header_bytes (%zu): a request "
		    "that size could never be taken",
		    c->max_buffered_request_bytes,
		    c->max_body_bytes + c->max_header_bytes);
	if (c->redis_url != NULL) {
		if (redis_url_parse(c->redis_url, &c->redis, err,
		    sizeof(err)) != 0)
			config_error(errs, "redis_url %s", err);
		else if (c->redis.tls && !ODP_REDIS_TLS)
			config_error(errs, "redis_url: rediss:// is not "
			    "supported by this build (TLS to Redis needs "
			    "hiredis 1.x; Debian 12's hiredis 0.14 has none).  "
			    "Run a TLS sidecar (stunnel or spiped) next to the "
			    "proxy and point redis_url at it with "
			    "redis://127.0.0.1:PORT");
	}
	config_metrics_listen(c, errs);
	if (c->metrics_mode == CONFIG_METRICS_LISTEN &&
	    c->metrics_port != 0 && c->metrics_port == c->port &&
	    strcmp(c->metrics_host, c->host) == 0)
		config_error(errs, "metrics_listen %s is the main listen "
		    "address; use \"main\" to serve /metrics there",
		    c->metrics_listen);
	apps_finish(c->apps, errs);
	config_finish_keys(c, errs);
	config_finish_tls(c, errs);
	if (c->passthrough == -1)
		c->passthrough = (c->apps == NULL || c->apps->n == 0) &&
		    c->api_keys.n == 0;
	return ((int)errs->n - before);
}

/* True if a browser origin may call the proxy. */
int
config_cors_allows(const struct config *c, const char *origin)
{
	char	**p;

	for (p = c->cors_origins; p != NULL && *p != NULL; p++) {
		if (strcmp(*p, "*") == 0 || strcmp(*p, origin) == 0)
			return (1);
	}
	return (0);
}
