/*
 * check_route: every path form the router takes and refuses, the model id
 * it points at, each route's methods and Allow list, the method names,
 * and the exact 404 and 405.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "api_error.h"
#include "check_suites.h"
#include "route.h"

/* A path, the route it must match, and the model id (NULL: untouched). */
static const struct check_route_case {
	const char	*path;
	enum route	 route;
	const char	*model_id;
} check_route_cases[] = {
	{ "/v1/chat/completions", ROUTE_CHAT, NULL },
	{ "/chat/completions", ROUTE_CHAT, NULL },
	{ "/v1/chat/completions/", ROUTE_CHAT, NULL },
	{ "/chat/completions/", ROUTE_CHAT, NULL },
	{ "/v1/chat/completions//", ROUTE_NONE, NULL },
	{ "/v1/chat/completionsx", ROUTE_NONE, NULL },
	{ "/v1/chat/completion", ROUTE_NONE, NULL },
	{ "/v1/chat/", ROUTE_NONE, NULL },
	{ "/v1/Chat/Completions", ROUTE_NONE, NULL },
	{ "/v1/models", ROUTE_MODELS, NULL },
	{ "/models", ROUTE_MODELS, NULL },
	{ "/v1/models/", ROUTE_MODELS, NULL },
	{ "/models/", ROUTE_MODELS, NULL },
	{ "/models//", ROUTE_NONE, NULL },
	{ "/v1/models//", ROUTE_NONE, NULL },
	{ "/modelsx", ROUTE_NONE, NULL },
	{ "/Models", ROUTE_NONE, NULL },
	{ "/models/abc", ROUTE_MODEL, "abc" },
	{ "/v1/models/abc", ROUTE_MODEL, "abc" },
	{ "/v1/models/a", ROUTE_MODEL, "a" },
	/* The id is the rest of the path: a trailing slash stays in it. */
	{ "/v1/models/abc/", ROUTE_MODEL, "abc/" },
	{ "/models/a/b", ROUTE_MODEL, "a/b" },
	{ "/v1/models/gpt%2D4", ROUTE_MODEL, "gpt%2D4" },
	{ "/v1/models/abc/def/", ROUTE_MODEL, "abc/def/" },
	{ "/healthz", ROUTE_HEALTH, NULL },
	{ "/v1/healthz", ROUTE_HEALTH, NULL },
	{ "/healthz/", ROUTE_HEALTH, NULL },
	{ "/healthz//", ROUTE_NONE, NULL },
	{ "/healthzz", ROUTE_NONE, NULL },
	{ "/readyz", ROUTE_READY, NULL },
	{ "/v1/readyz/", ROUTE_READY, NULL },
	{ "/readyzz", ROUTE_NONE, NULL },
	{ "", ROUTE_NONE, NULL },
	{ "/", ROUTE_NONE, NULL },
	{ "/v1", ROUTE_NONE, NULL },
	{ "/v1/", ROUTE_NONE, NULL },
	{ "/v1/v1/models", ROUTE_NONE, NULL },
	{ "/V1/models", ROUTE_NONE, NULL },
	{ "/v2/models", ROUTE_NONE, NULL },
	{ "v1/models", ROUTE_NONE, NULL },
	{ "//models", ROUTE_NONE, NULL }
};

/* Each method once, in enum order, with its name. */
static const struct check_route_method {
	enum route_method	 m;
	const char		*name;
} check_route_methods[] = {
	{ ROUTE_METHOD_GET, "GET" },
	{ ROUTE_METHOD_POST, "POST" },
	{ ROUTE_METHOD_HEAD, "HEAD" },
	{ ROUTE_METHOD_PUT, "PUT" },
	{ ROUTE_METHOD_DELETE, "DELETE" },
	{ ROUTE_METHOD_OPTIONS, "OPTIONS" },
	{ ROUTE_METHOD_TRACE, "TRACE" },
	{ ROUTE_METHOD_CONNECT, "CONNECT" },
	{ ROUTE_METHOD_PATCH, "PATCH" },
	{ ROUTE_METHOD_OTHER, "?" }
};

/* Every path in the table goes to its route, and the id is exact. */
START_TEST(check_route_match_table)
{
	const struct check_route_case	*c;
	const char			*sentinel = "untouched", *id;
	enum route			 r;
	size_t				 i;

	for (i = 0; i < sizeof(check_route_cases) /
	    sizeof(check_route_cases[0]); i++) {
		c = &check_route_cases[i];
		id = sentinel;
		r = route_match(c->path, &id);
		ck_assert_msg(r == c->route, "path \"%s\": route %d, want %d",
		    c->path, (int)r, (int)c->route);
		if (c->model_id == NULL)
			ck_assert_msg(id == sentinel,
			    "path \"%s\" set a model id", c->path);
		else
			ck_assert_str_eq(id, c->model_id);
	}
}
END_TEST

/* The model id points into the path itself, not at a copy. */
START_TEST(check_route_model_id_points_into_path)
{
	const char	*path = "/v1/models/my-app", *id = NULL;

	ck_assert_int_eq(route_match(path, &id), ROUTE_MODEL);
	ck_assert_ptr_eq(id, path + 11);
	path = "/models/x";
	ck_assert_int_eq(route_match(path, &id), ROUTE_MODEL);
	ck_assert_ptr_eq(id, path + 8);
}
END_TEST

/* Each route's Allow header; ROUTE_NONE has none. */
START_TEST(check_route_allow_lists)
{
	ck_assert_ptr_null(route_allow(ROUTE_NONE));
	ck_assert_str_eq(route_allow(ROUTE_CHAT), "POST, OPTIONS");
	ck_assert_str_eq(route_allow(ROUTE_MODELS), "GET, HEAD, OPTIONS");
	ck_assert_str_eq(route_allow(ROUTE_MODEL), "GET, HEAD, OPTIONS");
	ck_assert_str_eq(route_allow(ROUTE_HEALTH), "GET, HEAD, OPTIONS");
	ck_assert_ptr_null(route_allow((enum route)99));
}
END_TEST

/* Exactly the methods of the Allow list are taken, on each route. */
START_TEST(check_route_allows_matrix)
{
	static const struct {
		enum route	 r;
		const char	*takes;	/* " NAME " for each method taken */
	} want[] = {
		{ ROUTE_NONE, "" },
		{ ROUTE_CHAT, " POST OPTIONS " },
		{ ROUTE_MODELS, " GET HEAD OPTIONS " },
		{ ROUTE_MODEL, " GET HEAD OPTIONS " },
		{ ROUTE_HEALTH, " GET HEAD OPTIONS " }
	};
	char		 word[16];
	size_t		 i, j;
	int		 takes;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		for (j = 0; j < sizeof(check_route_methods) /
		    sizeof(check_route_methods[0]); j++) {
			snprintf(word, sizeof(word), " %s ",
			    check_route_methods[j].name);
			takes = strstr(want[i].takes, word) != NULL;
			ck_assert_msg(route_allows(want[i].r,
			    check_route_methods[j].m) == takes,
			    "route %d method %s: want %d", (int)want[i].r,
			    check_route_methods[j].name, takes);
		}
	}
	ck_assert(!route_allows((enum route)99, ROUTE_METHOD_GET));
	ck_assert(!route_allows(ROUTE_CHAT, (enum route_method)99));
}
END_TEST

/* Every method's name; anything else is "?". */
START_TEST(check_route_method_names)
{
	size_t	i;

	for (i = 0; i < sizeof(check_route_methods) /
	    sizeof(check_route_methods[0]); i++)
		ck_assert_str_eq(route_method_name(check_route_methods[i].m),
		    check_route_methods[i].name);
	ck_assert_str_eq(route_method_name((enum route_method)99), "?");
	ck_assert_str_eq(route_method_name((enum route_method)-1), "?");
}
END_TEST

/*
 * Build the error for m on path under r, over stale bytes, and check the
 * fields every 404 and 405 share.
 */
static void
check_route_error(struct api_error *e, enum route r, enum route_method m,
    const char *path, int status, const char *code)
{
	memset(e, 0x5a, sizeof(*e));
	route_error(e, r, m, path);
	ck_assert_int_eq(e->status, status);
	ck_assert_str_eq(e->type, "invalid_request_error");
	ck_assert_str_eq(e->code, code);
	ck_assert_str_eq(e->param, "");
	ck_assert_int_eq(e->retry_after, 0);
}

/* An unknown path: the 404, with the method and the path. */
START_TEST(check_route_error_404)
{
	struct api_error	e;

	check_route_error(&e, ROUTE_NONE, ROUTE_METHOD_DELETE, "/nope", 404,
	    "unknown_url");
	ck_assert_str_eq(e.message, "Unknown request URL: DELETE /nope. Use "
	    "POST /v1/chat/completions or GET /v1/models.");
	check_route_error(&e, ROUTE_NONE, ROUTE_METHOD_OTHER, "", 404,
	    "unknown_url");
	ck_assert_str_eq(e.message, "Unknown request URL: ? . Use "
	    "POST /v1/chat/completions or GET /v1/models.");
}
END_TEST

/* A long path is cut at 200 bytes in the 404's message. */
START_TEST(check_route_error_404_long_path)
{
	static const char	prefix[] = "Unknown request URL: GET /";
	static const char	suffix[] =
	    ". Use POST /v1/chat/completions or GET /v1/models.";
	struct api_error	e;
	char			path[302];

	path[0] = '/';
	memset(path + 1, 'x', 300);
	path[301] = '\0';
	check_route_error(&e, ROUTE_NONE, ROUTE_METHOD_GET, path, 404,
	    "unknown_url");
	ck_assert_uint_eq(strlen(e.message),
	    strlen(prefix) + 199 + strlen(suffix));
	ck_assert(strncmp(e.message, prefix, strlen(prefix)) == 0);
	ck_assert_uint_eq(strspn(e.message + strlen(prefix), "x"), 199);
	ck_assert_str_eq(e.message + strlen(prefix) + 199, suffix);
}
END_TEST

/* A known path with a method it does not take: the 405 and its list. */
START_TEST(check_route_error_405)
{
	struct api_error	e;

	check_route_error(&e, ROUTE_CHAT, ROUTE_METHOD_GET,
	    "/v1/chat/completions", 405, "method_not_allowed");
	ck_assert_str_eq(e.message,
	    "GET is not allowed here; allowed: POST, OPTIONS.");
	check_route_error(&e, ROUTE_MODEL, ROUTE_METHOD_PUT, "/v1/models/x",
	    405, "method_not_allowed");
	ck_assert_str_eq(e.message,
	    "PUT is not allowed here; allowed: GET, HEAD, OPTIONS.");
	check_route_error(&e, ROUTE_HEALTH, ROUTE_METHOD_POST, "/healthz",
	    405, "method_not_allowed");
	ck_assert_str_eq(e.message,
	    "POST is not allowed here; allowed: GET, HEAD, OPTIONS.");
	check_route_error(&e, ROUTE_MODELS, ROUTE_METHOD_PATCH, "/models",
	    405, "method_not_allowed");
	ck_assert_str_eq(e.message,
	    "PATCH is not allowed here; allowed: GET, HEAD, OPTIONS.");
}
END_TEST

/* The suite. */
Suite *
route_suite(void)
{
	Suite	*s = suite_create("route");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, check_route_match_table);
	tcase_add_test(tc, check_route_model_id_points_into_path);
	tcase_add_test(tc, check_route_allow_lists);
	tcase_add_test(tc, check_route_allows_matrix);
	tcase_add_test(tc, check_route_method_names);
	tcase_add_test(tc, check_route_error_404);
	tcase_add_test(tc, check_route_error_404_long_path);
	tcase_add_test(tc, check_route_error_405);
	suite_add_tcase(s, tc);
	return (s);
}
