/*
 * check_apps: the apps config section, read through config.c as a file
 * and the environment give it.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "apps.h"
#include "check_suites.h"
#include "config.h"

/* The environment check_apps_getenv answers from. */
static const char *const	*check_apps_environ;

/* config_getenv_fn over check_apps_environ. */
static const char *
check_apps_getenv(const char *name)
{
	size_t	i, n = strlen(name);

	for (i = 0; check_apps_environ != NULL &&
	    check_apps_environ[i] != NULL; i++) {
		if (strncmp(check_apps_environ[i], name, n) == 0 &&
		    check_apps_environ[i][n] == '=')
			return (check_apps_environ[i] + n + 1);
	}
	return (NULL);
}

/* Load text, the environment and finish; returns the error count. */
static int
check_apps_load(struct config *c, const char *text,
    const char *const *environ, struct config_errors *errs)
{
	int	n;

	config_defaults(c);
	check_apps_environ = environ;
	n = config_load_text(c, "t.json", text, strlen(text), errs);
	n += config_apply_env(c, check_apps_getenv, errs);
	n += config_finish(c, errs);
	return (n);
}

/* True if some error message contains s. */
static int
check_apps_error_has(const struct config_errors *errs, const char *s)
{
	size_t	i;

	for (i = 0; i < errs->n; i++) {
		if (strstr(errs->v[i], s) != NULL)
			return (1);
	}
	return (0);
}

/* Three apps, every member, keys from the file and the environment. */
START_TEST(check_apps_three)
{
	static const char	*env[] = { "SUPPORT_KEY=app-support", NULL };
	struct config		 c;
	struct config_errors	 errs = { NULL, 0 };
	const struct app	*a;

	ck_assert_int_eq(check_apps_load(&c,
	    "{\"apps\": [\n"
	    "  {\"model\": \"support\", \"key\": \"env:SUPPORT_KEY\"},\n"
	    "  {\"model\": \"summarize\", \"key\": \"app-sum\", \"mode\": "
	    "\"completion\", \"input\": \"text\"},\n"
	    "  {\"model\": \"translate\", \"key\": \"app-tr\", \"mode\": "
	    "\"workflow\", \"output\": \"result\", \"inputs\": {\"lang\": "
	    "\"fr\"}, \"dify_api_url\": \"http://10.0.0.9:5001/v1\"}\n"
	    "]}", env, &errs), 0);
	ck_assert_ptr_nonnull(c.apps);
	ck_assert_uint_eq(c.apps->n, 3);
	/* With apps and no word on it, passthrough is off. */
	ck_assert_int_eq(c.passthrough, 0);

	a = apps_find(c.apps, "support", 7);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->key, "app-support");
	ck_assert_int_eq(a->mode, DIFY_APP_UNKNOWN);
	ck_assert_ptr_null(a->input_var);
	ck_assert_ptr_null(a->dify_api_url);

	a = apps_find(c.apps, "summarize", 9);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->mode, DIFY_APP_COMPLETION);
	ck_assert_str_eq(a->input_var, "text");

	a = apps_find(c.apps, "translate", 9);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->mode, DIFY_APP_WORKFLOW);
	ck_assert_str_eq(a->output_var, "result");
	ck_assert_str_eq(a->inputs, "{\"lang\":\"fr\"}");
	ck_assert_str_eq(a->url.host, "10.0.0.9");
	ck_assert_int_eq(a->url.port, 5001);
	ck_assert_str_eq(a->url.path, "/v1");

	/* Exact names only. */
	ck_assert_ptr_null(apps_find(c.apps, "support ", 8));
	ck_assert_ptr_null(apps_find(c.apps, "suppor", 6));
	ck_assert_ptr_null(apps_find(c.apps, "Support", 7));
	config_free(&c);
	config_errors_free(&errs);
}
END_TEST

/* Without apps passthrough is on; it may be set either way beside them. */
START_TEST(check_apps_passthrough)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };

	ck_assert_int_eq(check_apps_load(&c, "{}", NULL, &errs), 0);
	ck_assert_ptr_null(c.apps);
	ck_assert_int_eq(c.passthrough, 1);
	config_free(&c);
	ck_assert_int_eq(check_apps_load(&c, "{\"passthrough\": true, "
	    "\"apps\": [{\"model\": \"m\", \"key\": \"k\"}]}", NULL, &errs), 0);
	ck_assert_int_eq(c.passthrough, 1);
	config_free(&c);
	ck_assert_int_eq(check_apps_load(&c, "{\"passthrough\": false}", NULL,
	    &errs), 0);
	ck_assert_int_eq(c.passthrough, 0);
	config_free(&c);
	config_errors_free(&errs);
}
END_TEST

/* Every mistake is reported, each naming its app, all at once. */
START_TEST(check_apps_errors)
{
	struct config		c;
	struct config_errors	errs = { NULL, 0 };
	int			n;

	n = check_apps_load(&c,
	    "{\"apps\": [\n"
	    "  {\"key\": \"k0\"},\n"
	    "  {\"model\": \"a\", \"key\": \"k1\", \"mode\": \"rag\"},\n"
	    "  {\"model\": \"b\", \"key\": \"k2\", \"inputs\": [1]},\n"
	    "  {\"model\": \"c\", \"key\": 7, \"extra\": 1},\n"
	    "  \"d\",\n"
	    "  {\"model\": \"\", \"key\": \"k5\"}\n"
	    "]}", NULL, &errs);
	ck_assert_int_eq(n, 7);
	ck_assert(check_apps_error_has(&errs,
	    "t.json:1:2: apps[0]: \"model\" is required"));
	ck_assert(check_apps_error_has(&errs, "apps[1]: \"mode\" must be"));
	ck_assert(check_apps_error_has(&errs,
	    "apps[2]: \"inputs\" must be an object"));
	ck_assert(check_apps_error_has(&errs, "apps[3]: unknown member "
	    "\"extra\""));
	ck_assert(check_apps_error_has(&errs, "apps[3]: \"key\" must be"));
	ck_assert(check_apps_error_has(&errs, "apps[4] must be an object"));
	ck_assert(check_apps_error_has(&errs, "apps[5]: \"model\" must be"));
	ck_assert_ptr_null(c.apps);
	config_free(&c);
	config_errors_free(&errs);

	/* Not an array. */
	ck_assert_int_eq(check_apps_load(&c, "{\"apps\": {}}", NULL, &errs), 1);
	ck_assert(check_apps_error_has(&errs, "\"apps\" must be an array"));
	config_free(&c);
	config_errors_free(&errs);
}
END_TEST

/* A duplicate model, a missing key variable, a bad URL or key. */
START_TEST(check_apps_finish_errors)
{
	static const char	*env[] = { "EMPTY=", NULL };
	struct config		 c;
	struct config_errors	 errs = { NULL, 0 };
	size_t			 i;

	ck_assert_int_eq(check_apps_load(&c, "{\"apps\": ["
	    "{\"model\": \"m\", \"key\": \"k\"}, "
	    "{\"model\": \"m\", \"key\": \"k2\"}]}", NULL, &errs), 1);
	ck_assert(check_apps_error_has(&errs,
	    "apps[1]: model \"m\" is also apps[0]'s"));
	config_free(&c);
	config_errors_free(&errs);

	ck_assert_int_eq(check_apps_load(&c, "{\"apps\": ["
	    "{\"model\": \"a\", \"key\": \"env:NOPE\"}, "
	    "{\"model\": \"b\", \"key\": \"env:EMPTY\"}, "
	    "{\"model\": \"c\", \"key\": \"sec ret\"}, "
	    "{\"model\": \"d\", \"key\": \"k\", \"dify_api_url\": \"ftp://x\"}"
	    "]}", env, &errs), 4);
	ck_assert(check_apps_error_has(&errs, "apps[0] (model \"a\"): the "
	    "key's environment variable NOPE is not set"));
	ck_assert(check_apps_error_has(&errs, "variable EMPTY is not set"));
	ck_assert(check_apps_error_has(&errs, "apps[2] (model \"c\"): the key "
	    "has spaces"));
	ck_assert(check_apps_error_has(&errs, "apps[3] (model \"d\"): "
	    "dify_api_url \"ftp://x\""));
	/* A key is a secret: no message repeats it. */
	for (i = 0; i < errs.n; i++)
		ck_assert_ptr_null(strstr(errs.v[i], "sec ret"));
	config_free(&c);
	config_errors_free(&errs);
}
END_TEST

/* ODP_APPS carries the array as JSON text. */
START_TEST(check_apps_from_environment)
{
	static const char	*env[] = {
		"ODP_APPS=[{\"model\": \"e\", \"key\": \"env:K\"}]",
		"K=app-e", NULL
	};
	static const char	*bad[] = { "ODP_APPS=[{\"model\": 1}", NULL };
	struct config		 c;
	struct config_errors	 errs = { NULL, 0 };
	const struct app	*a;

	ck_assert_int_eq(check_apps_load(&c, "{}", env, &errs), 0);
	ck_assert_ptr_nonnull(a = apps_find(c.apps, "e", 1));
	ck_assert_str_eq(a->key, "app-e");
	config_free(&c);
	ck_assert_int_eq(check_apps_load(&c, "{}", bad, &errs), 1);
	ck_assert(check_apps_error_has(&errs, "environment ODP_APPS"));
	config_free(&c);
	config_errors_free(&errs);
}
END_TEST

/* A model picks its app; others go by the client's key or are unknown. */
START_TEST(check_apps_pick)
{
	struct config		 c;
	struct config_errors	 errs = { NULL, 0 };
	const struct app	*a;

	ck_assert_int_eq(check_apps_load(&c, "{\"apps\": [{\"model\": "
	    "\"m\", \"key\": \"k\"}]}", NULL, &errs), 0);
	ck_assert_int_eq(apps_pick(c.apps, 0, "m", 1, 0, &a), APPS_PICK_APP);
	ck_assert_str_eq(a->key, "k");
	ck_assert_int_eq(apps_pick(c.apps, 0, "x", 1, 1, &a),
	    APPS_PICK_UNKNOWN_MODEL);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(apps_pick(c.apps, 1, "x", 1, 1, &a),
	    APPS_PICK_PASSTHROUGH);
	ck_assert_int_eq(apps_pick(c.apps, 1, "x", 1, 0, &a),
	    APPS_PICK_NO_KEY);
	ck_assert_int_eq(apps_pick(c.apps, 1, "m", 1, 1, &a), APPS_PICK_APP);
	/* No apps at all: today's passthrough. */
	ck_assert_int_eq(apps_pick(NULL, 1, "gpt-4o", 6, 1, &a),
	    APPS_PICK_PASSTHROUGH);
	config_free(&c);
	config_errors_free(&errs);
}
END_TEST

Suite *
apps_suite(void)
{
	Suite	*s = suite_create("apps");
	TCase	*tc = tcase_create("config");

	tcase_add_test(tc, check_apps_three);
	tcase_add_test(tc, check_apps_passthrough);
	tcase_add_test(tc, check_apps_errors);
	tcase_add_test(tc, check_apps_finish_errors);
	tcase_add_test(tc, check_apps_from_environment);
	tcase_add_test(tc, check_apps_pick);
	suite_add_tcase(s, tc);
	return (s);
}
