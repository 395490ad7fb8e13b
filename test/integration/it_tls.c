/*
 * it_tls: the optional TLS listener (tls_cert_file, tls_key_file) with a
 * self-signed certificate the test makes with the openssl tool, talked
 * to with curl as a client would: streams and whole answers over TLS,
 * old protocol versions and plain HTTP refused without harm, and a
 * reload that serves new certificate files (and keeps the old ones when
 * the new ones are broken).
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "it_suites.h"

static struct proc	tl_mock;
static char		tl_dir[64];

/* Run a shell command; its first line of output into out, its status. */
static int
tl_run(const char *cmd, char *out, size_t size)
{
	FILE	*f;
	int	 st;

	if (out != NULL)
		out[0] = '\0';
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	if (out != NULL && fgets(out, (int)size, f) != NULL)
		out[strcspn(out, "\n")] = '\0';
	while (fgetc(f) != EOF)
		;
	st = pclose(f);
	return (WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* Make a self-signed certificate for 127.0.0.1 as cert.pem, key.pem. */
static void
tl_make_cert(void)
{
	char	cmd[512];

	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -keyout %s/key.pem -out "
	    "%s/cert.pem -days 2 -subj /CN=127.0.0.1 -addext "
	    "subjectAltName=IP:127.0.0.1 2>/dev/null", tl_dir, tl_dir);
	ck_assert_int_eq(tl_run(cmd, NULL, 0), 0);
}

/* The serial of the certificate the proxy on port presents. */
static void
tl_serial(int port, char *out, size_t size)
{
	char	cmd[512];

	snprintf(cmd, sizeof(cmd), "openssl s_client -connect 127.0.0.1:%d "
	    "</dev/null 2>/dev/null | openssl x509 -noout -serial", port);
	tl_run(cmd, out, size);
}

/* A look-alike, a fresh directory and a certificate in it. */
static void
tl_setup(void)
{
	harness_mock_start(&tl_mock, NULL);
	snprintf(tl_dir, sizeof(tl_dir), "/tmp/odp-tls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tl_dir));
	tl_make_cert();
}

/* Stop the look-alike and remove the directory. */
static void
tl_teardown(void)
{
	char	cmd[128];

	ck_assert_int_eq(harness_proc_stop(&tl_mock), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tl_dir);
	tl_run(cmd, NULL, 0);
}

/* Start a proxy with the TLS listener (extra: more members or ""). */
static void
tl_proxy(struct proc *p, const char *extra)
{
	char	members[512];

	snprintf(members, sizeof(members), "\"tls_cert_file\": "
	    "\"%s/cert.pem\", \"tls_key_file\": \"%s/key.pem\"%s", tl_dir,
	    tl_dir, extra);
	harness_proxy_start(p, tl_mock.port, members);
}

/* curl a chat over TLS; the HTTP status, and the body's data lines. */
static int
tl_chat(int port, int stream, int *frames)
{
	char	cmd[1024], out[64];

	snprintf(cmd, sizeof(cmd), "curl -s -m 10 --cacert %s/cert.pem "
	    "https://127.0.0.1:%d/v1/chat/completions -H 'Authorization: "
	    "Bearer app-chat' -H 'Content-Type: application/json' -d "
	    "'{\"model\":\"m\",\"stream\":%s,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"hi mock:events=5\"}]}' -o %s/out -w "
	    "'%%{http_code}'", tl_dir, port, stream ? "true" : "false",
	    tl_dir);
	tl_run(cmd, out, sizeof(out));
	snprintf(cmd, sizeof(cmd), "grep -c '^data: ' %s/out; true", tl_dir);
	if (frames != NULL) {
		char	n[32];

		tl_run(cmd, n, sizeof(n));
		*frames = atoi(n);
	}
	return (atoi(out));
}

/*
 * Streams and whole answers over TLS; TLS 1.1 and plain HTTP are
 * refused and the proxy goes on serving.
 */
START_TEST(it_tls_serves_and_refuses)
{
	struct proc	p;
	char		cmd[512], out[64];
	int		frames;

	tl_proxy(&p, "");
	ck_assert_int_eq(tl_chat(p.port, 1, &frames), 200);
	ck_assert_int_eq(frames, 8);	/* role, 5 words, stop, [DONE] */
	ck_assert_int_eq(tl_chat(p.port, 0, NULL), 200);
	snprintf(cmd, sizeof(cmd), "grep -c 'w0 w1 w2 w3 w4' %s/out", tl_dir);
	ck_assert_int_eq(tl_run(cmd, NULL, 0), 0);

	snprintf(cmd, sizeof(cmd), "curl -s -m 5 --cacert %s/cert.pem "
	    "--tls-max 1.1 https://127.0.0.1:%d/healthz", tl_dir, p.port);
	ck_assert_int_ne(tl_run(cmd, NULL, 0), 0);
	snprintf(cmd, sizeof(cmd), "curl -s -m 5 http://127.0.0.1:%d/healthz",
	    p.port);
	ck_assert_int_ne(tl_run(cmd, NULL, 0), 0);
	snprintf(cmd, sizeof(cmd), "curl -s -m 5 --cacert %s/cert.pem "
	    "https://127.0.0.1:%d/healthz", tl_dir, p.port);
	ck_assert_int_eq(tl_run(cmd, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "{\"status\":\"ok\"}");
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/* How many times needle occurs in a process's log. */
static int
tl_count(const struct proc *p, const char *needle)
{
	char	cmd[512], out[32];

	snprintf(cmd, sizeof(cmd), "grep -c '%s' %s; true", needle, p->log);
	tl_run(cmd, out, sizeof(out));
	return (atoi(out));
}

/*
 * A reload serves new certificate files to new connections; broken new
 * files are refused, and the running certificate stays.
 */
START_TEST(it_tls_reload_new_certificate)
{
	struct proc	p;
	char		before[128], after[128], again[128], cmd[512];
	int		i;

	tl_proxy(&p, ", \"workers\": 2");
	tl_serial(p.port, before, sizeof(before));
	ck_assert_int_eq(strncmp(before, "serial=", 7), 0);
	tl_make_cert();
	kill(p.pid, SIGHUP);
	for (i = 0; i < 500 && tl_count(&p, "reload: 2 workers") < 1; i++)
		harness_sleep_ms(20);
	harness_sleep_ms(300);	/* the old workers stop accepting */
	tl_serial(p.port, after, sizeof(after));
	ck_assert_int_eq(strncmp(after, "serial=", 7), 0);
	ck_assert_str_ne(before, after);
	ck_assert_int_eq(tl_chat(p.port, 1, NULL), 200);

	/* A key that is not one: refused, the new certificate stays. */
	snprintf(cmd, sizeof(cmd), "echo broken > %s/key.pem", tl_dir);
	ck_assert_int_eq(tl_run(cmd, NULL, 0), 0);
	kill(p.pid, SIGHUP);
	for (i = 0; i < 500 && !harness_log_contains(&p, "reload: refused");
	    i++)
		harness_sleep_ms(20);
	ck_assert(harness_log_contains(&p, "reload: refused"));
	ck_assert(harness_log_contains(&p, "tls_key_file"));
	tl_serial(p.port, again, sizeof(again));
	ck_assert_str_eq(again, after);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/* The cases. */
Suite *
it_tls_suite(void)
{
	Suite	*s = suite_create("tls");
	TCase	*tc = tcase_create("listener");

	tcase_add_checked_fixture(tc, tl_setup, tl_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, it_tls_serves_and_refuses);
	tcase_add_test(tc, it_tls_reload_new_certificate);
	suite_add_tcase(s, tc);
	return (s);
}
