/*
 * it_cli: the command line, configuration files and .env, as a user meets
 * them.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "it_suites.h"

static char	cli_dir[64];
static char	cli_bin[200];
static char	cli_out[128];

/* A scratch directory to run in. */
static void
cli_setup(void)
{
	char	cwd[128];

	snprintf(cli_dir, sizeof(cli_dir), "/tmp/odp-cli-%d", (int)getpid());
	mkdir(cli_dir, 0755);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		abort();
	snprintf(cli_bin, sizeof(cli_bin), "%s/%s/openai-dify-proxy", cwd,
	    harness_build);
	snprintf(cli_out, sizeof(cli_out), "%s/out", cli_dir);
}

/* Remove the scratch directory. */
static void
cli_teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", cli_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", cli_dir);
}

/* Write a file in the scratch directory. */
static void
cli_write(const char *name, const char *text)
{
	char	 path[192];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", cli_dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/*
 * Run the proxy in the scratch directory with args (space-separated) and
 * one extra environment assignment (or NULL); returns the exit status.
 * Output goes to cli_out.
 */
static int
cli_run(const char *args, const char *env)
{
	char	*argv[8], *copy, *tok, *save, *envp[4];
	int	 argc = 0, status, fd;
	pid_t	 pid;

	copy = strdup(args);
	argv[argc++] = cli_bin;
	for (tok = strtok_r(copy, " ", &save); tok != NULL && argc < 7;
	    tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	envp[0] = (char *)(uintptr_t)"PATH=/usr/bin:/bin";
	/* An LD_PRELOAD shim must not stop an ASan build from starting. */
	envp[1] = (char *)(uintptr_t)"ASAN_OPTIONS=verify_asan_link_order=0";
	envp[2] = env != NULL ? (char *)(uintptr_t)env : NULL;
	envp[3] = NULL;
	if ((pid = fork()) == 0) {
		if (chdir(cli_dir) != 0)
			_exit(126);
		fd = open(cli_out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execve(cli_bin, argv, envp);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	free(copy);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* True if the last run printed needle. */
static int
cli_said(const char *needle)
{
	struct proc	p;

	memset(&p, 0, sizeof(p));
	snprintf(p.log, sizeof(p.log), "%s", cli_out);
	return (harness_log_contains(&p, needle));
}

START_TEST(version_help_and_bad_flags)
{
	ck_assert_int_eq(cli_run("-V", NULL), 0);
	ck_assert(cli_said("openai-dify-proxy 0."));
	ck_assert_int_eq(cli_run("-h", NULL), 0);
	ck_assert(cli_said("usage: openai-dify-proxy"));
	ck_assert_int_eq(cli_run("-x", NULL), 2);
	ck_assert_int_eq(cli_run("stray", NULL), 2);
}
END_TEST

START_TEST(check_mode_accepts_the_sample_config)
{
	char	args[256], cwd[128];

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		abort();
	snprintf(args, sizeof(args), "-t -c %s/config/openai-dify-proxy.json",
	    cwd);
	ck_assert_int_eq(cli_run(args, NULL), 0);
	ck_assert(cli_said("configuration OK"));
	ck_assert_int_eq(cli_run("-t", NULL), 0);
}
END_TEST

START_TEST(check_mode_reports_every_error_with_its_place)
{
	cli_write("bad.json", "{\n  // a comment\n  \"port\": 70000,\n"
	    "  \"colour\": \"blue\",\n  \"tls_verify\": \"yes\",\n"
	    "  \"dify_api_url\": \"ftp://x\"\n}\n");
	ck_assert_int_eq(cli_run("-t -c bad.json", NULL), 1);
	ck_assert(cli_said("bad.json:3:3: \"port\" must be"));
	ck_assert(cli_said("bad.json:4:3: unknown key \"colour\""));
	ck_assert(cli_said("bad.json:5:3: \"tls_verify\" must be true or "
	    "false"));
	ck_assert(cli_said("dify_api_url \"ftp://x\""));
	cli_write("syntax.json", "{\n  \"port\": 80,,\n}\n");
	ck_assert_int_eq(cli_run("-t -c syntax.json", NULL), 1);
	ck_assert(cli_said("syntax.json:2:"));
	ck_assert_int_eq(cli_run("-t -c missing.json", NULL), 1);
	ck_assert(cli_said("missing.json: No such file"));
}
END_TEST

START_TEST(environment_overrides_file_and_dotenv)
{
	cli_write("port.json", "{\"port\": 1000}\n");
	/* The environment wins over the file, and is checked too. */
	ck_assert_int_eq(cli_run("-t -c port.json", "PORT=abc"), 1);
	ck_assert(cli_said("environment PORT: must be an integer"));
	ck_assert_int_eq(cli_run("-t -c port.json", "ODP_CONNECT_TIMEOUT=0"),
	    1);
	ck_assert(cli_said("environment ODP_CONNECT_TIMEOUT"));
	/* .env fills in what the environment does not set... */
	cli_write(".env", "# settings\nexport PORT=abc\n");
	ck_assert_int_eq(cli_run("-t", NULL), 1);
	ck_assert(cli_said("environment PORT"));
	/* ...but the real environment wins over it. */
	ck_assert_int_eq(cli_run("-t", "PORT=8080"), 0);
	cli_write(".env", "PORT 8080\n");
	ck_assert_int_eq(cli_run("-t", NULL), 1);
	ck_assert(cli_said(".env:1: expected '='"));
	cli_write(".env", "DIFY_API_URL='http://dify.local/v1' # local\n");
	ck_assert_int_eq(cli_run("-t", NULL), 0);
}
END_TEST

/* A libevent other than the tested 2.1.12 is refused, with the reason. */
START_TEST(untested_libevent_is_refused)
{
	char	env[300], cwd[128];

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		abort();
	snprintf(env, sizeof(env), "LD_PRELOAD=%s/%s/fake-libevent-version.so",
	    cwd, harness_build);
	ck_assert_int_eq(cli_run("-t", env), 1);
	ck_assert(cli_said("libevent 2.2.1-alpha-dev is not the tested "
	    "2.1.12"));
	ck_assert(!cli_said("configuration OK"));
	/* The real one passes the same check. */
	ck_assert_int_eq(cli_run("-t", NULL), 0);
}
END_TEST

/* The command-line suite. */
Suite *
it_cli_suite(void)
{
	Suite	*s = suite_create("cli");
	TCase	*tc = tcase_create("cli");

	tcase_add_unchecked_fixture(tc, cli_setup, cli_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, version_help_and_bad_flags);
	tcase_add_test(tc, check_mode_accepts_the_sample_config);
	tcase_add_test(tc, check_mode_reports_every_error_with_its_place);
	tcase_add_test(tc, environment_overrides_file_and_dotenv);
	tcase_add_test(tc, untested_libevent_is_refused);
	suite_add_tcase(s, tc);
	return (s);
}
