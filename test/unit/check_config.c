/*
 * check_config: defaults, the commented JSON file with every error
 * reported as NAME:LINE:COLUMN, environment overrides through an injected
 * getenv, the derived upstream URL and the CORS check.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "check_suites.h"
#include "config.h"
#include "log.h"

/* The environment seen by check_config_getenv: NAME=VALUE strings. */
static const char *const	*check_config_environ;

/* config_getenv_fn over check_config_environ. */
static const char *
check_config_getenv(const char *name)
{
	size_t	i, n = strlen(name);

	for (i = 0; check_config_environ != NULL &&
	    check_config_environ[i] != NULL; i++) {
		if (strncmp(check_config_environ[i], name, n) == 0 &&
		    check_config_environ[i][n] == '=')
			return (check_config_environ[i] + n + 1);
	}
	return (NULL);
}

/* Load NUL-terminated text as file "t.json"; returns the error count. */
static int
check_config_load(struct config *c, const char *text,
    struct config_errors *errs)
{
	return (config_load_text(c, "t.json", text, strlen(text), errs));
}

/* All the errors, one a line, for failure messages. */
static const char *
check_config_errs(const struct config_errors *errs)
{
	static char	out[4096];
	size_t		i, o = 0;

	out[0] = '\0';
	for (i = 0; i < errs->n && o < sizeof(out) - 1; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "[%s] ",
		    errs->v[i]);
	return (out);
}

/* True if one of the errors is exactly want. */
static int
check_config_has(const struct config_errors *errs, const char *want)
{
	size_t	i;

	for (i = 0; i < errs->n; i++) {
		if (strcmp(errs->v[i], want) == 0)
			return (1);
	}
	return (0);
}

/* True if one of the errors starts with prefix. */
static int
check_config_has_prefix(const struct config_errors *errs,
    const char *prefix)
{
	size_t	i;

	for (i = 0; i < errs->n; i++) {
		if (strncmp(errs->v[i], prefix, strlen(prefix)) == 0)
			return (1);
	}
	return (0);
}

/* Number of origins in the CORS list. */
static size_t
check_config_norigins(const struct config *c)
{
	size_t	n = 0;

	while (c->cors_origins != NULL && c->cors_origins[n] != NULL)
		n++;
	return (n);
}

/*
 * Errors of checks across settings name the setting they are about;
 * config_names_key tells a setting's name from a look-alike.
 */
START_TEST(check_config_names_key)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };
	const char		*text;
	size_t			i;

	ck_assert_uint_eq(config_names_key("redis_url bad"), 9);
	ck_assert_uint_eq(config_names_key("apps[2]: x"), 4);
	ck_assert_uint_eq(config_names_key("api_keys_file x: y"), 13);
	ck_assert_uint_eq(config_names_key("api_keys need apps"), 8);
	ck_assert_uint_eq(config_names_key("redis_urlx"), 0);
	ck_assert_uint_eq(config_names_key("f:1:2: x"), 0);
	ck_assert_uint_eq(config_names_key(""), 0);
	config_defaults(&c);
	text = "{\"api_keys\": [{\"name\": \"a\", \"sha256\": \""
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	    "\"}], \"passthrough\": true, \"max_body_bytes\": 67108864, "
	    "\"max_buffered_request_bytes\": 33554432, \"metrics_listen\": "
	    "\"x\"}";
	ck_assert_int_eq(config_load_text(&c, "f", text, strlen(text), &errs),
	    0);
	ck_assert_int_ge(config_finish(&c, &errs), 4);
	for (i = 0; i < errs.n; i++)
		ck_assert_msg(config_names_key(errs.v[i]) > 0, "%s", errs.v[i]);
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* metrics_listen: the default, off, main, IPv6, and what is refused. */
START_TEST(check_config_metrics_listen)
{
	static const char *const bad[] = {
		"{\"metrics_listen\": \"9464\"}",
		"{\"metrics_listen\": \"127.0.0.1:99999\"}",
		"{\"metrics_listen\": \"::1:9464\"}",
		"{\"metrics_listen\": \":9464\"}",
		"{\"metrics_listen\": \"127.0.0.1:8223\", \"host\": "
		    "\"127.0.0.1\"}",
	};
	struct config		c;
	struct config_errors	errs = { NULL, 0 };
	size_t			i;

	config_defaults(&c);
	ck_assert_int_eq(config_finish(&c, &errs), 0);
	ck_assert_int_eq(c.metrics_mode, CONFIG_METRICS_LISTEN);
	ck_assert_str_eq(c.metrics_host, "127.0.0.1");
	ck_assert_int_eq(c.metrics_port, 9464);
	config_free(&c);

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\"metrics_listen\": "
	    "\"[::1]:0\"}", &errs), 0);
	ck_assert_int_eq(config_finish(&c, &errs), 0);
	ck_assert_str_eq(c.metrics_host, "::1");
	ck_assert_int_eq(c.metrics_port, 0);
	config_free(&c);

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\"metrics_listen\": "
	    "\"main\"}", &errs), 0);
	ck_assert_int_eq(config_finish(&c, &errs), 0);
	ck_assert_int_eq(c.metrics_mode, CONFIG_METRICS_MAIN);
	config_free(&c);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_defaults(&c);
		check_config_load(&c, bad[i], &errs);
		ck_assert_msg(config_finish(&c, &errs) == 1, "%s: %s", bad[i],
		    check_config_errs(&errs));
		ck_assert(check_config_has_prefix(&errs, "metrics_listen "));
		config_errors_free(&errs);
		config_free(&c);
	}
}
END_TEST

/* The defaults. */
START_TEST(check_config_defaults)
{
	struct config	c;

	config_defaults(&c);
	ck_assert_str_eq(c.host, "0.0.0.0");
	ck_assert_int_eq(c.port, 8223);
	ck_assert_str_eq(c.dify_api_url, "https://api.dify.ai/v1");
	ck_assert_uint_eq(c.max_body_bytes, 16 * 1024 * 1024);
	ck_assert_int_eq(c.tls_verify, 1);
	ck_assert_ptr_null(c.tls_ca_file);
	ck_assert_uint_eq(check_config_norigins(&c), 1);
	ck_assert_str_eq(c.cors_origins[0], "*");
	ck_assert_uint_eq(c.keepalive_interval_ms, 15000);
	ck_assert_int_eq(c.log_level, LOG_LEVEL_INFO);
	ck_assert_int_eq(c.auto_generate_name, 0);
	ck_assert_ptr_nonnull(c.default_user);
	ck_assert_uint_gt(strlen(c.default_user), 0);
	ck_assert_uint_gt(c.connect_timeout_ms, 0);
	ck_assert_uint_gt(c.upstream_idle_timeout_ms, 0);
	config_free(&c);
}
END_TEST

/* A commented file applies every value. */
START_TEST(check_config_file_values)
{
	static const char	text[] =
	    "// openai-dify-proxy configuration\n"
	    "{\n"
	    "\t/* where to listen */\n"
	    "\t\"host\": \"127.0.0.1\",\t// loopback only\n"
	    "\t\"port\": 9000,\n"
	    "\t\"dify_api_url\": \"http://dify.internal:5001/v1\", "
	    "// a // in a string is not a comment\n"
	    "\t/*\n"
	    "\t * timeouts, in seconds\n"
	    "\t */\n"
	    "\t\"connect_timeout\": 2.5,\n"
	    "\t\"keepalive_interval\": 0.5,\n"
	    "\t\"upstream_idle_timeout\": 600,\n"
	    "\t\"max_body_bytes\": 1048576,\n"
	    "\t\"upstream_pool_size\": 8,\n"
	    "\t\"tls_verify\": false,\n"
	    "\t\"tls_ca_file\": \"/etc/ssl/private-ca.pem\",\n"
	    "\t\"cors_allowed_origins\": [\"https://chat.example.com\", "
	    "\"http://localhost:3000\"],\n"
	    "\t\"log_level\": \"debug\",\n"
	    "\t\"default_user\": \"a/*b*/c // \\\"d\\\" //e\",\n"
	    "\t\"auto_generate_name\": true\n"
	    "}\n"
	    "// trailing comment\n";
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	ck_assert_msg(check_config_load(&c, text, &errs) == 0, "%s",
	    check_config_errs(&errs));
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_str_eq(c.host, "127.0.0.1");
	ck_assert_int_eq(c.port, 9000);
	ck_assert_str_eq(c.dify_api_url, "http://dify.internal:5001/v1");
	ck_assert_uint_eq(c.connect_timeout_ms, 2500);
	ck_assert_uint_eq(c.keepalive_interval_ms, 500);
	ck_assert_uint_eq(c.upstream_idle_timeout_ms, 600000);
	ck_assert_uint_eq(c.max_body_bytes, 1048576);
	ck_assert_uint_eq(c.upstream_pool_size, 8);
	ck_assert_int_eq(c.tls_verify, 0);
	ck_assert_str_eq(c.tls_ca_file, "/etc/ssl/private-ca.pem");
	ck_assert_uint_eq(check_config_norigins(&c), 2);
	ck_assert_str_eq(c.cors_origins[0], "https://chat.example.com");
	ck_assert_str_eq(c.cors_origins[1], "http://localhost:3000");
	ck_assert_int_eq(c.log_level, LOG_LEVEL_DEBUG);
	ck_assert_str_eq(c.default_user, "a/*b*/c // \"d\" //e");
	ck_assert_int_eq(c.auto_generate_name, 1);
	/* Keys not in the file keep their defaults. */
	ck_assert_uint_eq(c.drain_timeout_ms, 30000);
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* Seconds accept fractions and integers; null resets tls_ca_file. */
START_TEST(check_config_seconds)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\"keepalive_interval\": 0.5,"
	    "\"connect_timeout\": 1.25, \"client_idle_timeout\": 20, "
	    "\"drain_timeout\": 0, \"upstream_keepalive_timeout\": 0.05, "
	    "\"models_cache_ttl\": 1e1, \"tls_ca_file\": \"/x\"}", &errs), 0);
	ck_assert_uint_eq(c.keepalive_interval_ms, 500);
	ck_assert_uint_eq(c.connect_timeout_ms, 1250);
	ck_assert_uint_eq(c.client_idle_timeout_ms, 20000);
	ck_assert_uint_eq(c.drain_timeout_ms, 0);
	ck_assert_uint_eq(c.upstream_keepalive_ms, 50);
	ck_assert_uint_eq(c.models_cache_ttl_ms, 10000);
	ck_assert_str_eq(c.tls_ca_file, "/x");
	ck_assert_int_eq(check_config_load(&c, "{\"tls_ca_file\": null}",
	    &errs), 0);
	ck_assert_ptr_null(c.tls_ca_file);
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* An unknown key: exactly one error, with the key's line and column. */
START_TEST(check_config_unknown_key)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\n  \"port\": 9000,\n"
	    "  \"foo\": 1\n}\n", &errs), 1);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.v[0], "t.json:3:3: unknown key \"foo\"");
	/* The known key was still applied. */
	ck_assert_int_eq(c.port, 9000);
	config_errors_free(&errs);

	/* After comments on the line and on lines before it. */
	ck_assert_int_eq(check_config_load(&c, "/* header\n   comment */\n"
	    "{ \"host\": \"::\",\n  /* note */ \"porrt\": 80 }", &errs), 1);
	ck_assert_str_eq(errs.v[0], "t.json:4:14: unknown key \"porrt\"");
	config_errors_free(&errs);

	/* First key of a one-line file, and a tab before a key. */
	ck_assert_int_eq(check_config_load(&c, "{\"bar\":{\"port\":1}}", &errs),
	    1);
	ck_assert_str_eq(errs.v[0], "t.json:1:2: unknown key \"bar\"");
	config_errors_free(&errs);
	ck_assert_int_eq(check_config_load(&c, "{\n\t\"Port\": 1}", &errs), 1);
	ck_assert_str_eq(errs.v[0], "t.json:2:2: unknown key \"Port\"");
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* A key written with JSON escapes is still reported where it is. */
START_TEST(check_config_position_escaped_key)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\n  \"port\": 9000,\n"
	    "  \"\\u0066oo\": 1\n}\n", &errs), 1);
	ck_assert_str_eq(errs.v[0], "t.json:3:3: unknown key \"foo\"");
	config_errors_free(&errs);
	ck_assert_int_eq(check_config_load(&c, "{\"a\\\"b\": 1}", &errs), 1);
	ck_assert_str_eq(errs.v[0], "t.json:1:2: unknown key \"a\"b\"");
	config_errors_free(&errs);
	/* A known key spelt with an escape is applied. */
	ck_assert_int_eq(check_config_load(&c, "{\"p\\u006frt\": 1234}",
	    &errs), 0);
	ck_assert_int_eq(c.port, 1234);
	config_free(&c);
}
END_TEST

/* Columns count characters, as jansson's syntax errors do. */
START_TEST(check_config_position_counts_characters)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	/* "héllo" is six bytes, five characters: "bad" starts at column 27. */
	ck_assert_int_eq(check_config_load(&c,
	    "{\"default_user\": \"h\xc3\xa9llo\", \"bad\": 1}", &errs), 1);
	ck_assert_str_eq(errs.v[0], "t.json:1:27: unknown key \"bad\"");
	config_errors_free(&errs);
	/* jansson counts characters too: the 1 is character 33, byte 34. */
	ck_assert_int_eq(check_config_load(&c,
	    "{\"default_user\": \"h\xc3\xa9llo\", \"bad\" 1}", &errs), 1);
	ck_assert_msg(strstr(errs.v[0], "t.json:1:33:") == errs.v[0],
	    "jansson column: %s", errs.v[0]);
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* A nested key of the same name does not move the reported position. */
START_TEST(check_config_position_nested)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\n"
	    "  \"cors_allowed_origins\": [\"*\"],\n"
	    "  \"x\": {\"port\": \"nested\", \"y\": [{\"port\": 1}]},\n"
	    "  \"port\": \"80\"\n"
	    "}", &errs), 2);
	ck_assert_msg(check_config_has(&errs, "t.json:3:3: unknown key \"x\""),
	    "%s", check_config_errs(&errs));
	ck_assert_msg(check_config_has_prefix(&errs,
	    "t.json:4:3: \"port\" must be "), "%s", check_config_errs(&errs));
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* Wrong types and out-of-range values, each with its position. */
START_TEST(check_config_bad_values)
{
	static const struct {
		const char	*text;
		const char	*prefix;
	} rows[] = {
		{ "{\"port\": \"80\"}", "t.json:1:2: \"port\" must be " },
		{ "{\"port\": 70000}", "t.json:1:2: \"port\" must be " },
		{ "{\"port\": -1}", "t.json:1:2: \"port\" must be " },
		{ "{\"port\": 80.5}", "t.json:1:2: \"port\" must be " },
		{ "{\n\n    \"keepalive_interval\": 0.01}",
		    "t.json:3:5: \"keepalive_interval\" must be " },
		{ "{\"keepalive_interval\": 5000}",
		    "t.json:1:2: \"keepalive_interval\" must be " },
		{ "{\"connect_timeout\": \"5\"}",
		    "t.json:1:2: \"connect_timeout\" must be " },
		{ "{\"max_body_bytes\": 10}",
		    "t.json:1:2: \"max_body_bytes\" must be " },
		{ "{\"upstream_pool_size\": true}",
		    "t.json:1:2: \"upstream_pool_size\" must be " },
		{ "{\"tls_verify\": \"yes\"}",
		    "t.json:1:2: \"tls_verify\" must be " },
		{ "{\"tls_verify\": 1}",
		    "t.json:1:2: \"tls_verify\" must be " },
		{ "{\"log_level\": \"verbose\"}",
		    "t.json:1:2: \"log_level\" must be " },
		{ "{\"host\": \"\"}", "t.json:1:2: \"host\" must be " },
		{ "{\"host\": null}", "t.json:1:2: \"host\" must be " },
		{ "{\"dify_api_url\": 5}",
		    "t.json:1:2: \"dify_api_url\" must be " },
		{ "{\"cors_allowed_origins\": \"*\"}",
		    "t.json:1:2: \"cors_allowed_origins\" must be " },
		{ "{\"cors_allowed_origins\": [\"example.com\"]}",
		    "t.json:1:2: \"cors_allowed_origins\" must be " },
		{ "{\"cors_allowed_origins\": [\"https://a.example/\"]}",
		    "t.json:1:2: \"cors_allowed_origins\" must be " },
		{ "{\"cors_allowed_origins\": [1]}",
		    "t.json:1:2: \"cors_allowed_origins\" must be " },
	};
	struct config		c;
	struct config_errors	errs = { NULL, 0 };
	size_t			i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		config_defaults(&c);
		ck_assert_msg(check_config_load(&c, rows[i].text, &errs) == 1,
		    "%s: %s", rows[i].text, check_config_errs(&errs));
		ck_assert_msg(strncmp(errs.v[0], rows[i].prefix,
		    strlen(rows[i].prefix)) == 0 &&
		    strlen(errs.v[0]) > strlen(rows[i].prefix),
		    "%s: got \"%s\", want \"%s...\"", rows[i].text, errs.v[0],
		    rows[i].prefix);
		/* A refused value leaves the default in place. */
		ck_assert_int_eq(c.port, 8223);
		ck_assert_uint_eq(c.keepalive_interval_ms, 15000);
		ck_assert_int_eq(c.tls_verify, 1);
		ck_assert_str_eq(c.host, "0.0.0.0");
		ck_assert_str_eq(c.cors_origins[0], "*");
		config_errors_free(&errs);
		config_free(&c);
	}
}
END_TEST

/* Several errors are all reported at once. */
START_TEST(check_config_many_errors)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\n"
	    "  \"foo\": 1,\n"
	    "  \"port\": \"x\",\n"
	    "  \"host\": \"10.0.0.1\",\n"
	    "  \"tls_verify\": 3,\n"
	    "  \"bar\": [],\n"
	    "  \"log_level\": \"loud\"\n"
	    "}\n", &errs), 5);
	ck_assert_uint_eq(errs.n, 5);
	ck_assert_msg(check_config_has(&errs,
	    "t.json:2:3: unknown key \"foo\""), "%s", check_config_errs(&errs));
	ck_assert_msg(check_config_has_prefix(&errs,
	    "t.json:3:3: \"port\" must be "), "%s", check_config_errs(&errs));
	ck_assert_msg(check_config_has_prefix(&errs,
	    "t.json:5:3: \"tls_verify\" must be "), "%s",
	    check_config_errs(&errs));
	ck_assert_msg(check_config_has(&errs,
	    "t.json:6:3: unknown key \"bar\""), "%s", check_config_errs(&errs));
	ck_assert_msg(check_config_has_prefix(&errs,
	    "t.json:7:3: \"log_level\" must be "), "%s",
	    check_config_errs(&errs));
	/* The good value in between was applied. */
	ck_assert_str_eq(c.host, "10.0.0.1");
	/* Errors accumulate across loads until freed. */
	ck_assert_int_eq(check_config_load(&c, "{\"baz\": 1}", &errs), 1);
	ck_assert_uint_eq(errs.n, 6);
	config_errors_free(&errs);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_null(errs.v);
	config_free(&c);
}
END_TEST

/* A syntax error is reported as NAME:line:column from jansson. */
START_TEST(check_config_syntax_error)
{
	static const char	 text[] =
	    "{\n  \"port\": 80,\n  \"host\": \n}\n";
	struct config		 c;
	struct config_errors	 errs = { NULL, 0 };
	json_error_t		 jerr;
	json_t			*v;
	char			 want[512];

	/* What jansson itself says about the same text. */
	v = json_loadb(text, sizeof(text) - 1, 0, &jerr);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(jerr.line, 4);
	snprintf(want, sizeof(want), "t.json:%d:%d: %s", jerr.line,
	    jerr.column, jerr.text);

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, text, &errs), 1);
	ck_assert_str_eq(errs.v[0], want);
	/* Nothing was applied. */
	ck_assert_int_eq(c.port, 8223);
	config_errors_free(&errs);

	/* Comments before the error keep jansson's line numbers right. */
	ck_assert_int_eq(check_config_load(&c, "/* one\n two\n three */\n{\n"
	    "  // four\n  \"port\": 80,,\n}\n", &errs), 1);
	ck_assert_msg(strncmp(errs.v[0], "t.json:6:", 9) == 0, "%s",
	    errs.v[0]);
	config_errors_free(&errs);

	/* An empty file. */
	ck_assert_int_eq(check_config_load(&c, "", &errs), 1);
	ck_assert_msg(strncmp(errs.v[0], "t.json:", 7) == 0, "%s", errs.v[0]);
	config_errors_free(&errs);

	/* Not an object. */
	ck_assert_int_eq(check_config_load(&c, "[1, 2]", &errs), 1);
	ck_assert_str_eq(errs.v[0], "t.json:1:1: the configuration must be a "
	    "JSON object");
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* A duplicate key is an error. */
START_TEST(check_config_duplicate_key)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\n  \"port\": 1,\n"
	    "  \"port\": 2\n}", &errs), 1);
	ck_assert_msg(strncmp(errs.v[0], "t.json:3:", 9) == 0, "%s",
	    errs.v[0]);
	ck_assert_msg(strstr(errs.v[0], "duplicate") != NULL, "%s", errs.v[0]);
	ck_assert_int_eq(c.port, 8223);
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* config_strip_comments blanks comments only, keeping every offset. */
START_TEST(check_config_strip_comments)
{
	char	s[] = "{\"a\":\"//x/*y*/\", // c1\n/* c2\nc3 */"
		    "\"b\":\"\\\"//\"}/* open";
	char	want[] = "{\"a\":\"//x/*y*/\",      \n     \n     \"b\":"
		    "\"\\\"//\"}       ";

	ck_assert_uint_eq(sizeof(s), sizeof(want));
	config_strip_comments(s, sizeof(s) - 1);
	ck_assert_str_eq(s, want);
}
END_TEST

/* The environment overrides the file. */
START_TEST(check_config_env)
{
	static const char *const	env[] = {
		"DIFY_API_URL=https://dify.example.com/v1",
		"HOST=::1",
		"PORT=8080",
		"LOG_LEVEL=warn",
		"ODP_KEEPALIVE_INTERVAL=2.5",
		"ODP_TLS_VERIFY=false",
		"ODP_CORS_ALLOWED_ORIGINS=https://a.example, https://b.example",
		"ODP_MAX_BODY_BYTES=2048",
		"ODP_DEFAULT_USER=env-user",
		"ODP_AUTO_GENERATE_NAME=1",
		"ODP_TLS_CA_FILE=/env/ca.pem",
		"UNRELATED=1",
		NULL
	};
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\"port\": 9000, \"host\": "
	    "\"127.0.0.1\", \"log_level\": \"debug\", \"keepalive_interval\": "
	    "1, \"connect_timeout\": 3}", &errs), 0);
	check_config_environ = env;
	ck_assert_msg(config_apply_env(&c, check_config_getenv, &errs) == 0,
	    "%s", check_config_errs(&errs));
	check_config_environ = NULL;
	ck_assert_str_eq(c.dify_api_url, "https://dify.example.com/v1");
	ck_assert_str_eq(c.host, "::1");
	ck_assert_int_eq(c.port, 8080);
	ck_assert_int_eq(c.log_level, LOG_LEVEL_WARN);
	ck_assert_uint_eq(c.keepalive_interval_ms, 2500);
	ck_assert_int_eq(c.tls_verify, 0);
	ck_assert_uint_eq(check_config_norigins(&c), 2);
	ck_assert_str_eq(c.cors_origins[0], "https://a.example");
	ck_assert_str_eq(c.cors_origins[1], "https://b.example");
	ck_assert_uint_eq(c.max_body_bytes, 2048);
	ck_assert_str_eq(c.default_user, "env-user");
	ck_assert_int_eq(c.auto_generate_name, 1);
	ck_assert_str_eq(c.tls_ca_file, "/env/ca.pem");
	/* What the environment does not set keeps the file's value. */
	ck_assert_uint_eq(c.connect_timeout_ms, 3000);
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* ODP_<KEY> for every key; it wins over the design's short names. */
START_TEST(check_config_env_odp)
{
	static const char *const	env[] = {
		"PORT=1111",
		"ODP_PORT=2222",
		"ODP_HOST=10.1.2.3",
		"HOST=10.9.9.9",
		"ODP_DIFY_API_URL=http://odp.example/v1",
		"ODP_LOG_LEVEL=error",
		"ODP_CONNECT_TIMEOUT=0.25",
		"ODP_UPSTREAM_POOL_SIZE=0",
		NULL
	};
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	check_config_environ = env;
	ck_assert_msg(config_apply_env(&c, check_config_getenv, &errs) == 0,
	    "%s", check_config_errs(&errs));
	check_config_environ = NULL;
	ck_assert_int_eq(c.port, 2222);
	ck_assert_str_eq(c.host, "10.1.2.3");
	ck_assert_str_eq(c.dify_api_url, "http://odp.example/v1");
	ck_assert_int_eq(c.log_level, LOG_LEVEL_ERROR);
	ck_assert_uint_eq(c.connect_timeout_ms, 250);
	ck_assert_uint_eq(c.upstream_pool_size, 0);
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* A bad environment value is an error naming the variable. */
START_TEST(check_config_env_bad)
{
	static const char *const	env[] = {
		"PORT=abc",
		"ODP_TLS_VERIFY=maybe",
		"ODP_KEEPALIVE_INTERVAL=fast",
		"LOG_LEVEL=chatty",
		"ODP_MAX_BODY_BYTES=-5",
		"ODP_CORS_ALLOWED_ORIGINS=not-an-origin",
		NULL
	};
	static const char *const	names[] = {
		"PORT", "ODP_TLS_VERIFY", "ODP_KEEPALIVE_INTERVAL", "LOG_LEVEL",
		"ODP_MAX_BODY_BYTES", "ODP_CORS_ALLOWED_ORIGINS"
	};
	struct config		c;
	struct config_errors	errs = { NULL, 0 };
	size_t			i, j;
	int			found;

	config_defaults(&c);
	check_config_environ = env;
	ck_assert_int_eq(config_apply_env(&c, check_config_getenv, &errs), 6);
	check_config_environ = NULL;
	ck_assert_uint_eq(errs.n, 6);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		found = 0;
		for (j = 0; j < errs.n; j++) {
			if (strstr(errs.v[j], names[i]) != NULL)
				found = 1;
		}
		ck_assert_msg(found, "no error names %s: %s", names[i],
		    check_config_errs(&errs));
	}
	ck_assert_msg(check_config_has_prefix(&errs, "environment PORT: "),
	    "%s", check_config_errs(&errs));
	/* Nothing bad was applied. */
	ck_assert_int_eq(c.port, 8223);
	ck_assert_int_eq(c.tls_verify, 1);
	ck_assert_uint_eq(c.keepalive_interval_ms, 15000);
	ck_assert_int_eq(c.log_level, LOG_LEVEL_INFO);
	ck_assert_uint_eq(c.max_body_bytes, 16 * 1024 * 1024);
	ck_assert_str_eq(c.cors_origins[0], "*");
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* config_finish parses dify_api_url. */
START_TEST(check_config_finish)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	ck_assert_int_eq(config_finish(&c, &errs), 0);
	ck_assert_int_eq(c.upstream.tls, 1);
	ck_assert_str_eq(c.upstream.host, "api.dify.ai");
	ck_assert_int_eq(c.upstream.port, 443);
	ck_assert_str_eq(c.upstream.path, "/v1");
	config_free(&c);

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\"dify_api_url\": "
	    "\"http://10.0.0.7:5001/v1/\"}", &errs), 0);
	ck_assert_int_eq(config_finish(&c, &errs), 0);
	ck_assert_int_eq(c.upstream.tls, 0);
	ck_assert_str_eq(c.upstream.host, "10.0.0.7");
	ck_assert_int_eq(c.upstream.port, 5001);
	ck_assert_int_eq(c.upstream.host_is_ip, 1);
	ck_assert_str_eq(c.upstream.path, "/v1");
	config_free(&c);

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\"dify_api_url\": "
	    "\"ftp://dify.example/v1\"}", &errs), 0);
	ck_assert_int_eq(config_finish(&c, &errs), 1);
	ck_assert_msg(strstr(errs.v[0], "dify_api_url") != NULL, "%s",
	    errs.v[0]);
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* A default_user over 255 bytes is an error at config_finish. */
START_TEST(check_config_finish_user)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };
	char			name[300];

	memset(name, 'u', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	config_defaults(&c);
	free(c.default_user);
	c.default_user = strdup(name);
	ck_assert_int_eq(config_finish(&c, &errs), 1);
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/*
 * Continuity settings: defaults, redis_url parsed at finish (password,
 * user, db, IPv6), bad URLs and rediss:// (no TLS in this build's
 * hiredis) refused with a message that names the way out.
 */
START_TEST(check_config_redis)
{
	static const char *const bad[] = {
		"http://r:6379", "redis://", "redis://h:0", "redis://h:70000",
		"redis://h:6379/x", "redis://[::1", "redis://u:p@",
		"redis://h/99999999",
	};
	struct config		c;
	struct config_errors	errs = { NULL, 0 };
	char			text[256];
	size_t			i;

	config_defaults(&c);
	ck_assert_int_eq(c.continuity, 1);
	ck_assert_uint_eq(c.conversation_ttl_ms, 86400u * 1000);
	ck_assert_uint_eq(c.conversation_max, 100000);
	ck_assert_ptr_null(c.redis_url);
	ck_assert_int_eq(check_config_load(&c, "{\"redis_url\": "
	    "\"redis://app:p%40ss@cache.internal:6380/4\", "
	    "\"conversation_ttl\": 3600, \"redis_timeout\": 0.05, "
	    "\"continuity\": false}", &errs), 0);
	ck_assert_int_eq(config_finish(&c, &errs), 0);
	ck_assert_str_eq(c.redis.host, "cache.internal");
	ck_assert_int_eq(c.redis.port, 6380);
	ck_assert_str_eq(c.redis.user, "app");
	ck_assert_str_eq(c.redis.password, "p@ss");
	ck_assert_int_eq(c.redis.db, 4);
	ck_assert_int_eq(c.redis.tls, 0);
	ck_assert_uint_eq(c.conversation_ttl_ms, 3600u * 1000);
	ck_assert_uint_eq(c.redis_timeout_ms, 50);
	ck_assert_int_eq(c.continuity, 0);
	config_free(&c);

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\"redis_url\": "
	    "\"redis://secret@[::1]\"}", &errs), 0);
	ck_assert_int_eq(config_finish(&c, &errs), 0);
	ck_assert_str_eq(c.redis.host, "::1");
	ck_assert_int_eq(c.redis.port, 6379);
	ck_assert_str_eq(c.redis.password, "secret");
	ck_assert_str_eq(c.redis.user, "");
	config_free(&c);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_defaults(&c);
		snprintf(text, sizeof(text), "{\"redis_url\": \"%s\"}", bad[i]);
		ck_assert_int_eq(check_config_load(&c, text, &errs), 0);
		ck_assert_msg(config_finish(&c, &errs) == 1, "%s accepted",
		    bad[i]);
		ck_assert_msg(strncmp(errs.v[0], "redis_url", 9) == 0, "%s",
		    errs.v[0]);
		config_errors_free(&errs);
		config_free(&c);
	}

	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\"redis_url\": "
	    "\"rediss://cache:6380\"}", &errs), 0);
	ck_assert_int_eq(config_finish(&c, &errs), 1);
	ck_assert_msg(strstr(errs.v[0], "TLS sidecar") != NULL, "%s",
	    errs.v[0]);
	config_errors_free(&errs);
	config_free(&c);

	/* null is unset; a bound below 16 is refused. */
	config_defaults(&c);
	ck_assert_int_eq(check_config_load(&c, "{\"redis_url\": null, "
	    "\"conversation_max\": 4}", &errs), 1);
	config_errors_free(&errs);
	ck_assert_int_eq(config_finish(&c, &errs), 0);
	ck_assert_ptr_null(c.redis_url);
	config_free(&c);
}
END_TEST

/* config_cors_allows: "*" allows every origin, a list only its own. */
START_TEST(check_config_cors)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	config_defaults(&c);
	ck_assert(config_cors_allows(&c, "https://anything.example"));
	ck_assert(config_cors_allows(&c, "null"));
	ck_assert_int_eq(check_config_load(&c, "{\"cors_allowed_origins\": "
	    "[\"https://chat.example.com\", \"http://localhost:3000\"]}",
	    &errs), 0);
	ck_assert(config_cors_allows(&c, "https://chat.example.com"));
	ck_assert(config_cors_allows(&c, "http://localhost:3000"));
	ck_assert(!config_cors_allows(&c, "https://evil.example"));
	ck_assert(!config_cors_allows(&c, "http://chat.example.com"));
	ck_assert(!config_cors_allows(&c, "https://chat.example.com.evil"));
	ck_assert(!config_cors_allows(&c, "http://localhost:30000"));
	ck_assert(!config_cors_allows(&c, ""));
	/* An empty list allows nothing. */
	ck_assert_int_eq(check_config_load(&c, "{\"cors_allowed_origins\": "
	    "[]}", &errs), 0);
	ck_assert(!config_cors_allows(&c, "https://chat.example.com"));
	config_free(&c);
}
END_TEST

/* config_load_file reads a file, and names a missing one. */
START_TEST(check_config_load_file)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };
	char			path[] = "/tmp/check_config_XXXXXX";
	int			fd;
	static const char	text[] = "{\n  \"port\": 7000, // seven\n"
				    "  \"nope\": true\n}\n";

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1),
	    (ssize_t)(sizeof(text) - 1));
	close(fd);
	config_defaults(&c);
	ck_assert_int_eq(config_load_file(&c, path, &errs), 1);
	ck_assert_int_eq(c.port, 7000);
	{
		char	want[128];

		snprintf(want, sizeof(want), "%s:3:3: unknown key \"nope\"",
		    path);
		ck_assert_str_eq(errs.v[0], want);
	}
	config_errors_free(&errs);
	unlink(path);
	ck_assert_int_eq(config_load_file(&c, path, &errs), 1);
	ck_assert_msg(strncmp(errs.v[0], path, strlen(path)) == 0, "%s",
	    errs.v[0]);
	config_errors_free(&errs);
	config_free(&c);
}
END_TEST

/* Log level names, as the config reads them. */
START_TEST(check_config_log_levels)
{
	enum log_level	l;

	ck_assert_int_eq(log_level_parse("error", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_ERROR);
	ck_assert_int_eq(log_level_parse("warn", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_parse("info", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_INFO);
	ck_assert_int_eq(log_level_parse("debug", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(log_level_parse("DEBUG", &l), -1);
	ck_assert_int_eq(log_level_parse("", &l), -1);
	ck_assert_str_eq(log_level_name(LOG_LEVEL_WARN), "warn");
}
END_TEST

/* The config suite. */
Suite *
config_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("config");
	tc = tcase_create("file");
	tcase_add_test(tc, check_config_defaults);
	tcase_add_test(tc, check_config_file_values);
	tcase_add_test(tc, check_config_seconds);
	tcase_add_test(tc, check_config_unknown_key);
	tcase_add_test(tc, check_config_position_nested);
	tcase_add_test(tc, check_config_position_escaped_key);
	tcase_add_test(tc, check_config_position_counts_characters);
	tcase_add_test(tc, check_config_bad_values);
	tcase_add_test(tc, check_config_many_errors);
	tcase_add_test(tc, check_config_syntax_error);
	tcase_add_test(tc, check_config_duplicate_key);
	tcase_add_test(tc, check_config_strip_comments);
	tcase_add_test(tc, check_config_load_file);
	tcase_add_test(tc, check_config_log_levels);
	suite_add_tcase(s, tc);

	tc = tcase_create("env");
	tcase_add_test(tc, check_config_env);
	tcase_add_test(tc, check_config_names_key);
	tcase_add_test(tc, check_config_metrics_listen);
	tcase_add_test(tc, check_config_env_odp);
	tcase_add_test(tc, check_config_env_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("finish");
	tcase_add_test(tc, check_config_finish);
	tcase_add_test(tc, check_config_finish_user);
	tcase_add_test(tc, check_config_redis);
	tcase_add_test(tc, check_config_cors);
	suite_add_tcase(s, tc);
	return (s);
}
