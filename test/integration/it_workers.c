/*
 * it_workers: a master with worker processes on one port.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "it_suites.h"

static struct proc	wk_mock;

/* One look-alike for the case. */
static void
wk_setup(void)
{
	harness_mock_start(&wk_mock, NULL);
}

/* Stop the look-alike. */
static void
wk_teardown(void)
{
	ck_assert_int_eq(harness_proc_stop(&wk_mock), 0);
}

/* Sleep for ms milliseconds. */
static void
wk_sleep(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Worker pids of a master, from /proc (children of pid). */
static int
wk_children(pid_t pid, pid_t *out, int max)
{
	char	 path[64], buf[4096];
	FILE	*f;
	int	 n = 0;
	char	*tok, *save;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
	    (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	if (fgets(buf, sizeof(buf), f) != NULL) {
		for (tok = strtok_r(buf, " \n", &save); tok != NULL && n < max;
		    tok = strtok_r(NULL, " \n", &save))
			out[n++] = (pid_t)atoi(tok);
	}
	fclose(f);
	return (n);
}

/* True once pid has exited (gone, or a zombie its parent has not reaped). */
static int
wk_exited(pid_t pid)
{
	char	 path[64], buf[512], *st;
	FILE	*f;
	int	 gone = 1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (1);
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (st = strrchr(buf, ')')) != NULL)
		gone = st[2] == 'Z';
	fclose(f);
	return (gone);
}

/* One streamed chat; returns 1 if it was a complete, correct answer. */
static int
wk_chat(int port, const char *text)
{
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body, *got, want[256];
	int			 ok;

	body = chat_body(text, NULL, 1, 0);
	if (http_chat(port, "app-chat", body, &r) != 0) {
		free(body);
		return (0);
	}
	sse_split(r.body, r.bodylen, &f);
	got = sse_content(&f);
	snprintf(want, sizeof(want), "Echo: %s", text);
	ok = r.status == 200 && strcmp(got, want) == 0 && f.n > 0 &&
	    strcmp(f.data[f.n - 1], "[DONE]") == 0;
	free(got);
	sse_frames_free(&f);
	http_response_free(&r);
	free(body);
	return (ok);
}

START_TEST(workers_share_the_port)
{
	struct proc	p;
	pid_t		kids[8];
	int		i;

	harness_proxy_start(&p, wk_mock.port, "\"workers\": 2");
	ck_assert(harness_log_contains(&p, "(2 workers)"));
	ck_assert_int_eq(wk_children(p.pid, kids, 8), 2);
	for (i = 0; i < 60; i++)
		ck_assert_msg(wk_chat(p.port, "spread me"), "request %d", i);
	wk_sleep(100);
	/* Connections went to both workers. */
	ck_assert(harness_log_contains(&p, "w0 access"));
	ck_assert(harness_log_contains(&p, "w1 access"));
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

START_TEST(a_dead_worker_is_restarted)
{
	struct proc	p;
	pid_t		kids[8], again[8];
	int		i, n;

	harness_proxy_start(&p, wk_mock.port, "\"workers\": 2");
	ck_assert_int_eq(wk_children(p.pid, kids, 8), 2);
	kill(kids[0], SIGKILL);
	/*
	 * Killed within a second of its start, its restart waits: its socket
	 * is closed meanwhile, so the other worker takes every connection,
	 * and then its replacement too.
	 */
	for (i = 0; i < 100 && !wk_exited(kids[0]); i++)
		wk_sleep(10);
	for (i = 0; i < 10; i++)
		ck_assert(wk_chat(p.port, "still here"));
	for (i = 0, n = 0; i < 40 && n < 2; i++) {
		wk_sleep(100);
		n = wk_children(p.pid, again, 8);
	}
	ck_assert_int_eq(n, 2);
	ck_assert(again[0] != kids[0] && again[1] != kids[0]);
	ck_assert(harness_log_contains(&p, "killed by signal 9; restarting"));
	for (i = 0; i < 10; i++)
		ck_assert(wk_chat(p.port, "after restart"));
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

#define WK_QUEUED	20

/* Open WK_QUEUED connections, each sending GET /healthz, into fds. */
static void
wk_queue_requests(int port, int *fds)
{
	static const char	req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
				    "Connection: close\r\n\r\n";
	int			i;

	for (i = 0; i < WK_QUEUED; i++) {
		ck_assert_int_ge(fds[i] = http_connect(port), 0);
		ck_assert_int_eq(http_send_all(fds[i], req, sizeof(req) - 1),
		    0);
	}
}

/* How many of the WK_QUEUED connections got a 200 within ms each. */
static int
wk_queued_answered(int *fds, int ms)
{
	struct http_response	r;
	int			i, n = 0;

	for (i = 0; i < WK_QUEUED; i++) {
		if (http_read_response(fds[i], &r, ms) == 0 && r.status == 200)
			n++;
		http_response_free(&r);
		close(fds[i]);
	}
	return (n);
}

/*
 * A worker that dies after it served a while is replaced at once, on the
 * same socket: the connections the kernel had queued for it (it was
 * stopped, so none was accepted) are answered by its replacement, not
 * reset with its socket.
 */
START_TEST(a_dead_workers_queue_goes_to_its_replacement)
{
	struct proc	p;
	pid_t		kids[8];
	int		fds[WK_QUEUED], i;

	harness_proxy_start(&p, wk_mock.port, "\"workers\": 2");
	ck_assert_int_eq(wk_children(p.pid, kids, 8), 2);
	wk_sleep(1100);		/* past the restart delay of a new worker */
	kill(kids[0], SIGSTOP);
	wk_queue_requests(p.port, fds);
	kill(kids[0], SIGKILL);
	/* About half went to the stopped worker's socket. */
	ck_assert_int_eq(wk_queued_answered(fds, 5000), WK_QUEUED);
	for (i = 0; i < 100 && !harness_log_contains(&p, "killed by signal 9");
	    i++)
		wk_sleep(10);
	ck_assert(harness_log_contains(&p, "killed by signal 9; restarting"));
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/*
 * A reload's new workers accept on the sockets the old ones had: with the
 * old workers stopped, what waits in their queues is answered by the new
 * set; once the old ones run again they drain and exit.
 */
START_TEST(a_reload_serves_what_waits_for_the_old_workers)
{
	struct proc	p;
	pid_t		kids[8];
	int		fds[WK_QUEUED], i;

	harness_proxy_start(&p, wk_mock.port, "\"workers\": 2");
	ck_assert_int_eq(wk_children(p.pid, kids, 8), 2);
	kill(kids[0], SIGSTOP);
	kill(kids[1], SIGSTOP);
	wk_queue_requests(p.port, fds);
	kill(p.pid, SIGHUP);
	ck_assert_int_eq(wk_queued_answered(fds, 5000), WK_QUEUED);
	/* The master logs it once every new worker said it accepts, which
	 * may come after the new workers answered. */
	ck_assert(harness_log_wait(&p, "reload: 2 workers", 3000));
	kill(kids[0], SIGCONT);
	kill(kids[1], SIGCONT);
	for (i = 0; i < 500 && !(wk_exited(kids[0]) && wk_exited(kids[1]));
	    i++)
		wk_sleep(10);
	ck_assert(wk_exited(kids[0]) && wk_exited(kids[1]));
	ck_assert(wk_chat(p.port, "after the reload"));
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

START_TEST(sigterm_drains_every_worker)
{
	struct proc		 p;
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body, *req;
	int			 fd, n, status = -1, i;

	harness_proxy_start(&p, wk_mock.port, "\"workers\": 2, "
	    "\"drain_timeout\": 10");
	body = chat_body("mock:events=10 mock:interval=100", NULL, 1, 0);
	fd = http_connect(p.port);
	n = asprintf(&req, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer app-chat\r\nContent-Length: %zu\r\n\r\n%s",
	    strlen(body), body);
	http_send_all(fd, req, (size_t)n);
	wk_sleep(250);
	kill(p.pid, SIGHUP);	/* a reload: the stream's worker drains */
	kill(p.pid, SIGTERM);
	ck_assert_int_eq(http_read_response(fd, &r, 10000), 0);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	sse_split(r.body, r.bodylen, &f);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	sse_frames_free(&f);
	for (i = 0; i < 250; i++) {
		if (waitpid(p.pid, &status, WNOHANG) == p.pid)
			break;
		wk_sleep(20);
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "master status %d", status);
	p.pid = 0;
	ck_assert(harness_log_contains(&p, "received SIGHUP: reading the "
	    "settings again"));
	ck_assert(!harness_log_contains(&p, "AddressSanitizer"));
	http_response_free(&r);
	free(req);
	free(body);
}
END_TEST

/*
 * A signal that reaches a worker, or a single process, after it starts
 * and before its signal events exist waits for them.  The shim raises
 * SIGHUP there (in event_config_new, as server_run makes its base):
 * let in at once, its default action would end the worker, and the
 * master would give up on a worker that died while starting.
 */
START_TEST(a_signal_at_start_waits_for_the_handlers)
{
	struct proc	p;
	char		cwd[256], shim[512], sig[16];
	int		workers;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	snprintf(shim, sizeof(shim), "%s/%s/raise-at-start.so", cwd,
	    harness_build);
	snprintf(sig, sizeof(sig), "%d", SIGHUP);
	for (workers = 1; workers <= 2; workers++) {
		setenv("LD_PRELOAD", shim, 1);
		setenv("ODP_TEST_RAISE_AT_START", sig, 1);
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
		harness_proxy_start(&p, wk_mock.port,
		    workers == 2 ? "\"workers\": 2" : NULL);
		unsetenv("LD_PRELOAD");
		unsetenv("ODP_TEST_RAISE_AT_START");
		unsetenv("ASAN_OPTIONS");
		ck_assert_msg(wk_chat(p.port, "after the signal"),
		    "workers %d: no answer", workers);
		/* Each process got the signal, once its handler was there. */
		ck_assert(harness_log_wait(&p, "received SIGHUP", 5000));
		if (workers == 2) {
			ck_assert(harness_log_wait(&p, "w0 received SIGHUP: "
			    "ignored by a worker", 5000));
			ck_assert(harness_log_wait(&p, "w1 received SIGHUP: "
			    "ignored by a worker", 5000));
		}
		ck_assert(!harness_log_contains(&p, "killed by signal"));
		ck_assert(!harness_log_contains(&p, "exited with status"));
		ck_assert_int_eq(harness_proc_stop(&p), 0);
	}
}
END_TEST

/* The workers suite. */
Suite *
it_workers_suite(void)
{
	Suite	*s = suite_create("workers");
	TCase	*tc = tcase_create("workers");

	tcase_add_unchecked_fixture(tc, wk_setup, wk_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, workers_share_the_port);
	tcase_add_test(tc, a_dead_worker_is_restarted);
	tcase_add_test(tc, a_dead_workers_queue_goes_to_its_replacement);
	tcase_add_test(tc, a_reload_serves_what_waits_for_the_old_workers);
	tcase_add_test(tc, sigterm_drains_every_worker);
	tcase_add_test(tc, a_signal_at_start_waits_for_the_handlers);
	suite_add_tcase(s, tc);
	return (s);
}
