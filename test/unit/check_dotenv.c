/*
 * check_dotenv: KEY=VALUE lines of a .env file, quoting, comments, CRLF
 * files and errors with their line numbers.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "check_suites.h"
#include "dotenv.h"

/* dotenv_fn that serializes every assignment as "KEY=[VALUE]\n". */
static void
check_dotenv_record(void *arg, const char *key, const char *value)
{
	struct buf	*b = arg;

	buf_printf(b, "%s=[%s]\n", key, value);
}

/* Parse a file given with its length; returns rc, fills got and errors. */
static int
check_dotenv_parse(const char *text, size_t len, struct buf *got,
    int *errline, char *err, size_t errlen)
{
	*errline = 0;
	err[0] = '\0';
	return (dotenv_parse(text, len, check_dotenv_record, got, errline, err,
	    errlen));
}

/* Parse NUL-terminated text that must be accepted; compare assignments. */
static void
check_dotenv_ok(const char *text, const char *want)
{
	struct buf	got = BUF_INIT;
	int		errline;
	char		err[256];

	ck_assert_msg(check_dotenv_parse(text, strlen(text), &got, &errline,
	    err, sizeof(err)) == 0, "refused at line %d: %s", errline, err);
	ck_assert_str_eq(buf_cstr(&got), want);
	buf_free(&got);
}

/* Parse text that must be refused at line with a message. */
static void
check_dotenv_bad(const char *text, size_t len, int line, const char *msg)
{
	struct buf	got = BUF_INIT;
	int		errline;
	char		err[256];

	ck_assert_int_eq(check_dotenv_parse(text, len, &got, &errline, err,
	    sizeof(err)), -1);
	ck_assert_msg(errline == line, "error at line %d, want %d (%s)",
	    errline, line, err);
	ck_assert_str_eq(err, msg);
	buf_free(&got);
}

/* Plain assignments, in order. */
START_TEST(check_dotenv_plain)
{
	check_dotenv_ok("DIFY_API_URL=https://api.dify.ai/v1\nPORT=8223\n",
	    "DIFY_API_URL=[https://api.dify.ai/v1]\nPORT=[8223]\n");
	/* No newline at the end of the last line. */
	check_dotenv_ok("A=1\nB=2", "A=[1]\nB=[2]\n");
	/* Empty values, '=' inside values, names with digits and _. */
	check_dotenv_ok("EMPTY=\n_A1_b=ok\nURL=http://x/?a=b&c=d\n",
	    "EMPTY=[]\n_A1_b=[ok]\nURL=[http://x/?a=b&c=d]\n");
	/* Blanks around the name, the '=' and the value are trimmed. */
	check_dotenv_ok("  KEY = some value  \n\tT\t=\tx\t\n",
	    "KEY=[some value]\nT=[x]\n");
	/* An empty file. */
	check_dotenv_ok("", "");
}
END_TEST

/* export before a name. */
START_TEST(check_dotenv_export)
{
	check_dotenv_ok("export KEY=v\nexport\tK2=x\nexport   K3='q'\n",
	    "KEY=[v]\nK2=[x]\nK3=[q]\n");
	/* Names that merely start with "export" are names. */
	check_dotenv_ok("exported=1\nexport=2\nEXPORT_X=3\n",
	    "exported=[1]\nexport=[2]\nEXPORT_X=[3]\n");
}
END_TEST

/* Comments and blank lines. */
START_TEST(check_dotenv_comments)
{
	check_dotenv_ok("# a comment\n\n   \n\t# indented comment\nA=1\n#B=2\n",
	    "A=[1]\n");
	/* " #" starts an inline comment on a bare value... */
	check_dotenv_ok("A=value # comment\nB=value\t# tab comment\n"
	    "C= # nothing but a comment\n",
	    "A=[value]\nB=[value]\nC=[]\n");
	/* ...but '#' inside a word does not. */
	check_dotenv_ok("TAG=a#b\nURL=http://h/#frag\n",
	    "TAG=[a#b]\nURL=[http://h/#frag]\n");
	/* Nor inside quotes; a comment may follow the quotes. */
	check_dotenv_ok("Q=\"a # b\" # c\nS='x #y' #z\n",
	    "Q=[a # b]\nS=[x #y]\n");
}
END_TEST

/*
 * A '#' right after the '=' is not " #": it starts the value (a colour,
 * a password), it does not empty it.
 */
START_TEST(check_dotenv_hash_value)
{
	check_dotenv_ok("COLOR=#fff\nAPI_KEY=#s3cr3t\n",
	    "COLOR=[#fff]\nAPI_KEY=[#s3cr3t]\n");
}
END_TEST

/* Single quotes are literal; double quotes take escapes. */
START_TEST(check_dotenv_quotes)
{
	check_dotenv_ok("S='a \\n $b \"c\" #d'\n",
	    "S=[a \\n $b \"c\" #d]\n");
	check_dotenv_ok("D=\"line1\\nline2\\t\\\"q\\\" \\\\ end\"\n",
	    "D=[line1\nline2\t\"q\" \\ end]\n");
	check_dotenv_ok("E=\"\"\nF=''\n", "E=[]\nF=[]\n");
	/* Blanks inside quotes are kept. */
	check_dotenv_ok("P=\"  padded  \"\n", "P=[  padded  ]\n");
	/* A single quote inside double quotes and the other way round. */
	check_dotenv_ok("A=\"it's\"\nB='say \"hi\"'\n",
	    "A=[it's]\nB=[say \"hi\"]\n");
}
END_TEST

/* CRLF files read the same as LF files. */
START_TEST(check_dotenv_crlf)
{
	check_dotenv_ok("# c\r\n\r\nA=1\r\nB='x'\r\nC=\"y\"\r\n"
	    "export D=z # c\r\nE=\r\n",
	    "A=[1]\nB=[x]\nC=[y]\nD=[z]\nE=[]\n");
}
END_TEST

/* Errors name their line. */
START_TEST(check_dotenv_errors)
{
	static const char	nul[] = "A=1\nB=a\0b\n";

	check_dotenv_bad("A=1\n\nBAD LINE\n", 14, 3,
	    "expected '=' after the variable name");
	check_dotenv_bad("NOEQUALS\n", 9, 1,
	    "expected '=' after the variable name");
	check_dotenv_bad("A=1\n1A=x\n", 9, 2, "expected a variable name");
	check_dotenv_bad("# c\n\n-X=1\n", 10, 3, "expected a variable name");
	check_dotenv_bad("=value\n", 7, 1, "expected a variable name");
	check_dotenv_bad("A-B=1\n", 6, 1,
	    "expected '=' after the variable name");
	check_dotenv_bad("A=1\nB=\"abc\nC=2\n", 14, 2,
	    "unterminated quoted value");
	check_dotenv_bad("A='abc\n", 7, 1, "unterminated quoted value");
	check_dotenv_bad("A=\"abc\\\"\n", 9, 1, "unterminated quoted value");
	check_dotenv_bad("A=1\r\nB='x\r\n", 11, 2,
	    "unterminated quoted value");
	check_dotenv_bad(nul, sizeof(nul) - 1, 2, "value contains a NUL byte");
}
END_TEST

/* The error message is cut to fit its buffer. */
START_TEST(check_dotenv_small_error_buffer)
{
	struct buf	got = BUF_INIT;
	int		errline;
	char		err[9];

	ck_assert_int_eq(check_dotenv_parse("oops\n", 5, &got, &errline, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(errline, 1);
	ck_assert_str_eq(err, "expected");
	buf_free(&got);
}
END_TEST

/* The dotenv suite. */
Suite *
dotenv_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("dotenv");
	tc = tcase_create("parse");
	tcase_add_test(tc, check_dotenv_plain);
	tcase_add_test(tc, check_dotenv_export);
	tcase_add_test(tc, check_dotenv_comments);
	tcase_add_test(tc, check_dotenv_hash_value);
	tcase_add_test(tc, check_dotenv_quotes);
	tcase_add_test(tc, check_dotenv_crlf);
	tcase_add_test(tc, check_dotenv_errors);
	tcase_add_test(tc, check_dotenv_small_error_buffer);
	suite_add_tcase(s, tc);
	return (s);
}
