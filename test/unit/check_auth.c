/*
 * check_auth: the key taken from an Authorization header's value: the
 * scheme in any case, the spaces and tabs around the key, and each way a
 * value has no usable key.
 */
#include <check.h>
#include <string.h>

#include "auth.h"
#include "check_suites.h"

/* A value and the key it must give (NULL: none, auth_bearer is -1). */
static const struct check_auth_case {
	const char	*value;
	const char	*key;
} check_auth_cases[] = {
	{ "Bearer app-123", "app-123" },
	{ "bearer app-123", "app-123" },
	{ "BEARER app-123", "app-123" },
	{ "BeArEr app-123", "app-123" },
	{ "Bearer\tapp-123", "app-123" },
	{ "Bearer  app-123", "app-123" },
	{ "Bearer \t \tapp-123", "app-123" },
	{ "Bearer app-123   ", "app-123" },
	{ "Bearer app-123\t", "app-123" },
	{ "Bearer\t app-123 \t ", "app-123" },
	{ "Bearer x", "x" },
	{ "Bearer a.b_c-d~e+f/g=", "a.b_c-d~e+f/g=" },
	{ "Bearer Bearer", "Bearer" },
	{ "Bearerx app-123", NULL },
	{ "Bearer", NULL },
	{ "Bearer ", NULL },
	{ "Bearer \t  \t", NULL },
	{ "", NULL },
	{ " Bearer app-123", NULL },
	{ "Basic YWxhZGRpbjpvcGVu", NULL },
	{ "Token app-123", NULL },
	{ "Bear app-123", NULL },
	{ "Bearer\napp-123", NULL },
	{ "Bearer app 123", NULL },
	{ "Bearer app-123\r", NULL },
	{ "Bearer app\001123", NULL },
	{ "Bearer app-123\177", NULL },
	{ "Bearer caf\303\251", NULL }
};

/* Every value in the table gives its key, or none. */
START_TEST(check_auth_bearer_table)
{
	const struct check_auth_case	*c;
	char				 out[AUTH_MAX_KEY];
	size_t				 i;
	int				 rc;

	for (i = 0; i < sizeof(check_auth_cases) /
	    sizeof(check_auth_cases[0]); i++) {
		c = &check_auth_cases[i];
		memset(out, 'Z', sizeof(out));
		rc = auth_bearer(c->value, out, sizeof(out));
		if (c->key == NULL) {
			ck_assert_msg(rc == -1, "\"%s\": %d, want -1",
			    c->value, rc);
			ck_assert_msg(out[0] == 'Z', "\"%s\" wrote out",
			    c->value);
		} else {
			ck_assert_msg(rc == 0, "\"%s\": %d, want 0", c->value,
			    rc);
			ck_assert_str_eq(out, c->key);
		}
	}
}
END_TEST

/* No header at all is no key. */
START_TEST(check_auth_bearer_null)
{
	char	out[8] = "ZZZZZZZ";

	ck_assert_int_eq(auth_bearer(NULL, out, sizeof(out)), -1);
	ck_assert_str_eq(out, "ZZZZZZZ");
}
END_TEST

/* A key fits if it and its NUL do: one byte more is no key at all. */
START_TEST(check_auth_bearer_size)
{
	char	value[7 + AUTH_MAX_KEY + 8], out[AUTH_MAX_KEY];

	ck_assert_int_eq(AUTH_MAX_KEY, 512);
	memcpy(value, "Bearer ", 7);
	memset(value + 7, 'k', AUTH_MAX_KEY - 1);
	value[7 + AUTH_MAX_KEY - 1] = '\0';
	ck_assert_int_eq(auth_bearer(value, out, sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), AUTH_MAX_KEY - 1);
	ck_assert_uint_eq(strspn(out, "k"), AUTH_MAX_KEY - 1);

	/* Trailing blanks do not count against the size. */
	memcpy(value + 7 + AUTH_MAX_KEY - 1, " \t  ", 5);
	ck_assert_int_eq(auth_bearer(value, out, sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), AUTH_MAX_KEY - 1);

	value[7 + AUTH_MAX_KEY - 1] = 'k';
	value[7 + AUTH_MAX_KEY] = '\0';
	memset(out, 'Z', sizeof(out));
	ck_assert_int_eq(auth_bearer(value, out, sizeof(out)), -1);
	ck_assert_int_eq(out[0], 'Z');

	ck_assert_int_eq(auth_bearer("Bearer abc", out, 4), 0);
	ck_assert_str_eq(out, "abc");
	ck_assert_int_eq(auth_bearer("Bearer abcd", out, 4), -1);
	ck_assert_int_eq(auth_bearer("Bearer a", out, 1), -1);
	ck_assert_int_eq(auth_bearer("Bearer a", out, 0), -1);
}
END_TEST

/* The suite. */
Suite *
auth_suite(void)
{
	Suite	*s = suite_create("auth");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, check_auth_bearer_table);
	tcase_add_test(tc, check_auth_bearer_null);
	tcase_add_test(tc, check_auth_bearer_size);
	suite_add_tcase(s, tc);
	return (s);
}
