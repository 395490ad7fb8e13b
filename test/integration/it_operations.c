/*
 * it_operations: what an operator's tools see of the proxy.  systemd's
 * notify protocol, read from a datagram socket the test makes, as
 * systemd would make it: READY=1 once the proxy serves (from the single
 * process, or from the master once every worker does), WATCHDOG=1 at
 * half of WATCHDOG_USEC, STOPPING=1 on SIGTERM.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/un.h>

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "it_suites.h"

static struct proc	op_mock;

/* One look-alike for the case. */
static void
op_setup(void)
{
	harness_mock_start(&op_mock, NULL);
}

/* Stop it; it must exit cleanly. */
static void
op_teardown(void)
{
	ck_assert_int_eq(harness_proc_stop(&op_mock), 0);
}

/*
 * Bind a datagram socket as systemd's notify socket: a path, or an
 * abstract name when abstract.  Puts NOTIFY_SOCKET's value in name.
 */
static int
op_notify_socket(int abstract, char *name, size_t size)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	int			fd;

	snprintf(name, size, "%s/tmp/odp-notify-%d-%d.sock", abstract ? "@" :
	    "", (int)getpid(), abstract);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(name));
	if (abstract)
		sun.sun_path[0] = '\0';
	else {
		unlink(name);
		len++;
	}
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_DGRAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, len), 0);
	return (fd);
}

/* The next datagram within ms, into buf; 0 if none came. */
static int
op_notify_read(int fd, char *buf, size_t size, int ms)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	ssize_t		n;

	if (poll(&pfd, 1, ms) != 1)
		return (0);
	if ((n = recv(fd, buf, size - 1, 0)) <= 0)
		return (0);
	buf[n] = '\0';
	return (1);
}

/* Wait up to ms for a datagram holding want; the others are skipped. */
static int
op_notify_wait(int fd, const char *want, int ms)
{
	char	buf[512];
	double	end = harness_now_ms() + ms;

	while (harness_now_ms() < end) {
		if (op_notify_read(fd, buf, sizeof(buf),
		    (int)(end - harness_now_ms()) + 1) && strstr(buf, want))
			return (1);
	}
	return (0);
}

/*
 * Wait up to ms for a proxy told to stop to exit: 0 if it exited 0 with
 * no sanitizer report in its log.
 */
static int
op_exited_cleanly(struct proc *p, int ms)
{
	int	status;

	for (; ms > 0; ms -= 20) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			return (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
			    !harness_log_contains(p, "ERROR: AddressSanitizer") &&
			    !harness_log_contains(p, "ERROR: LeakSanitizer") &&
			    !harness_log_contains(p, "runtime error:") ? 0 : -1);
		}
		harness_sleep_ms(20);
	}
	return (-1);
}

/* READY=1, WATCHDOG=1 and STOPPING=1, one process and with workers. */
START_TEST(sd_notify_ready_watchdog_stopping)
{
	static const char *const extras[] = { NULL, "\"workers\": 2" };
	struct proc	p;
	char		name[128];
	int		fd, k;

	for (k = 0; k < 2; k++) {
		fd = op_notify_socket(k, name, sizeof(name));
		setenv("NOTIFY_SOCKET", name, 1);
		setenv("WATCHDOG_USEC", "400000", 1);
		harness_proxy_start(&p, op_mock.port, extras[k]);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
		ck_assert_msg(op_notify_wait(fd, "READY=1", 5000),
		    "no READY=1 (%s)", name);
		ck_assert_int_eq(harness_healthy_within(p.port, 1000), 1);
		ck_assert_msg(op_notify_wait(fd, "WATCHDOG=1", 1000),
		    "no WATCHDOG=1 within 1 s (WATCHDOG_USEC 0.4 s)");
		ck_assert_msg(op_notify_wait(fd, "WATCHDOG=1", 1000),
		    "the watchdog was fed once only");
		kill(p.pid, SIGTERM);
		ck_assert_msg(op_notify_wait(fd, "STOPPING=1", 5000),
		    "no STOPPING=1 on SIGTERM");
		/* (A second SIGTERM now would end it at once: wait.) */
		ck_assert_int_eq(op_exited_cleanly(&p, 10000), 0);
		close(fd);
		if (!k)
			unlink(name);
	}
}
END_TEST

/* Without NOTIFY_SOCKET nothing is sent and nothing is logged. */
START_TEST(sd_notify_absent_is_silent)
{
	struct proc	p;

	unsetenv("NOTIFY_SOCKET");
	harness_proxy_start(&p, op_mock.port, NULL);
	ck_assert_int_eq(harness_healthy_within(p.port, 1000), 1);
	ck_assert(!harness_log_contains(&p, "NOTIFY_SOCKET"));
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/* Write a proxy's config file anew: its JSON members, then port 0. */
static void
op_write_config(const struct proc *p, const char *members)
{
	FILE	*f = fopen(p->config, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "{ %s, \"port\": 0 }\n", members);
	fclose(f);
}

/* The user of the look-alike's last chat-messages call ("" if none). */
static void
op_last_user(char *user, size_t size)
{
	json_t	*recs = mock_get(op_mock.port, "/mock/requests"), *r;
	size_t	 i;

	user[0] = '\0';
	json_array_foreach(recs, i, r) {
		if (json_is_string(json_object_get(r, "user")))
			snprintf(user, size, "%s", json_string_value(
			    json_object_get(r, "user")));
	}
	json_decref(recs);
}

/* How many times needle occurs in a process's log. */
static int
op_log_count(const struct proc *p, const char *needle)
{
	FILE	*f = fopen(p->log, "r");
	char	 line[4096];
	int	 n = 0;

	if (f == NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return (n);
}

/* POST a small chat; returns its status. */
static int
op_chat(int port, const char *text)
{
	struct http_response	 r;
	char			*body = chat_body(text, NULL, 0, 0);
	int			 status;

	ck_assert_int_eq(http_chat(port, "app-chat", body, &r), 0);
	status = r.status;
	http_response_free(&r);
	free(body);
	return (status);
}

#define OP_STREAMS	200

/*
 * SIGHUP with good settings under 200 open streams: a new set of
 * workers takes them, every stream still ends whole, and new requests
 * see the new settings; with bad settings the running ones stay.
 */
START_TEST(sighup_reloads_without_cutting_streams)
{
	static int		 fds[OP_STREAMS];
	struct proc		 p;
	struct http_response	 r;
	struct sse_frames	 f;
	char			 members[512], user[128], *body, *req;
	int			 i, n, whole = 0;

	snprintf(members, sizeof(members), "\"host\": \"127.0.0.1\", "
	    "\"dify_api_url\": \"http://127.0.0.1:%d/v1\", \"workers\": 2, "
	    "\"log_level\": \"info\", \"drain_timeout\": 20, "
	    "\"metrics_listen\": \"127.0.0.1:0\", "
	    "\"default_user\": \"before\"", op_mock.port);
	harness_proxy_start(&p, op_mock.port, "\"workers\": 2");
	op_write_config(&p, members);
	kill(p.pid, SIGHUP);	/* the harness's config -> this one */
	for (i = 0; i < 500 && !harness_log_contains(&p, "reload: 2 workers");
	    i++)
		harness_sleep_ms(10);
	ck_assert(harness_log_contains(&p, "reload: 2 workers"));

	body = chat_body("mock:events=20 mock:interval=100", NULL, 1, 0);
	n = asprintf(&req, "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: x\r\nAuthorization: Bearer app-chat\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    strlen(body), body);
	for (i = 0; i < OP_STREAMS; i++) {
		ck_assert_int_ge(fds[i] = http_connect(p.port), 0);
		ck_assert_int_eq(http_send_all(fds[i], req, (size_t)n), 0);
	}
	harness_sleep_ms(300);
	snprintf(members, sizeof(members), "\"host\": \"127.0.0.1\", "
	    "\"dify_api_url\": \"http://127.0.0.1:%d/v1\", \"workers\": 2, "
	    "\"log_level\": \"info\", \"drain_timeout\": 20, "
	    "\"metrics_listen\": \"127.0.0.1:0\", "
	    "\"default_user\": \"after\"", op_mock.port);
	op_write_config(&p, members);
	kill(p.pid, SIGHUP);
	for (i = 0; i < 500 && op_log_count(&p, "reload: 2 workers") < 2; i++)
		harness_sleep_ms(10);
	ck_assert_int_eq(op_log_count(&p, "reload: 2 workers"), 2);
	/* New connections go to the new workers, with the new settings. */
	ck_assert_int_eq(op_chat(p.port, "hi"), 200);
	op_last_user(user, sizeof(user));
	ck_assert_str_eq(user, "after");
	/* Every stream the old workers held ends whole. */
	for (i = 0; i < OP_STREAMS; i++) {
		if (http_read_response(fds[i], &r, 20000) == 0 &&
		    r.status == 200) {
			sse_split(r.body, r.bodylen, &f);
			whole += f.n > 0 && strcmp(f.data[f.n - 1], "[DONE]") == 0;
			sse_frames_free(&f);
		}
		http_response_free(&r);
		close(fds[i]);
	}
	ck_assert_int_eq(whole, OP_STREAMS);

	/* Bad settings: logged as -t prints them; the running ones stay. */
	op_write_config(&p, "\"workers\": \"two\"");
	kill(p.pid, SIGHUP);
	for (i = 0; i < 500 && !harness_log_contains(&p, "reload: refused");
	    i++)
		harness_sleep_ms(10);
	ck_assert(harness_log_contains(&p, "reload: refused"));
	ck_assert(harness_log_contains(&p, "\"workers\" must be an integer"));
	ck_assert_int_eq(op_chat(p.port, "again"), 200);
	op_last_user(user, sizeof(user));
	ck_assert_str_eq(user, "after");
	ck_assert_int_eq(harness_proc_stop(&p), 0);
	free(req);
	free(body);
}
END_TEST

/* The operations suite. */
Suite *
it_operations_suite(void)
{
	Suite	*s = suite_create("operations");
	TCase	*tc = tcase_create("systemd");

	tcase_add_checked_fixture(tc, op_setup, op_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sd_notify_ready_watchdog_stopping);
	tcase_add_test(tc, sd_notify_absent_is_silent);
	suite_add_tcase(s, tc);

	tc = tcase_create("reload");
	tcase_add_checked_fixture(tc, op_setup, op_teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, sighup_reloads_without_cutting_streams);
	suite_add_tcase(s, tc);
	return (s);
}
