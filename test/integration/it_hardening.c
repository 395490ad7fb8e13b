/*
 * it_hardening: what a hostile client can try against the proxy, each as
 * an attacker would: running it out of descriptors, sending slowly,
 * leaving a stream unread, smuggling, malformed HTTP, many slow bodies.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "it_suites.h"

static struct proc	hd_mock;

/* The look-alike, shared by the suite's tests; each starts its proxy. */
static void
hd_setup(void)
{
	harness_mock_start(&hd_mock, NULL);
}

/* Stop the look-alike. */
static void
hd_teardown(void)
{
	ck_assert_msg(harness_proc_stop(&hd_mock) == 0,
	    "look-alike did not shut down cleanly");
}

/* Sleep for ms milliseconds. */
static void
hd_sleep(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* True while the process runs (it has not died of a signal or exited). */
static int
hd_alive(pid_t pid)
{
	int	status;

	return (waitpid(pid, &status, WNOHANG) == 0);
}

/* Send a streamed chat request with Connection: close on a new socket. */
static int
hd_start_stream(int port, const char *text)
{
	char	*body, *req;
	int	 fd, n;

	body = chat_body(text, NULL, 1, 0);
	n = asprintf(&req, "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAuthorization: Bearer app-chat\r\n"
	    "Connection: close\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	ck_assert_int_gt(n, 0);
	fd = http_connect(port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(http_send_all(fd, req, (size_t)n), 0);
	free(req);
	free(body);
	return (fd);
}

/* A response read in pieces: what has arrived so far. */
struct hd_read {
	char	*buf;
	size_t	 len;
};

/* Read from fd into rd until needle has arrived or timeout_ms passed. */
static int
hd_read_until(int fd, struct hd_read *rd, const char *needle, int timeout_ms)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	char		chunk[65536];
	ssize_t		n;

	for (; timeout_ms > 0; timeout_ms -= 20) {
		if (rd->buf != NULL && strstr(rd->buf, needle) != NULL)
			return (1);
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		if ((n = read(fd, chunk, sizeof(chunk))) <= 0)
			return (0);
		rd->buf = realloc(rd->buf, rd->len + (size_t)n + 1);
		memcpy(rd->buf + rd->len, chunk, (size_t)n);
		rd->len += (size_t)n;
		rd->buf[rd->len] = '\0';
	}
	return (0);
}

/* Read the rest of a stream and check it carried want and [DONE]. */
static void
hd_expect_whole_stream(int fd, struct hd_read *rd, const char *want)
{
	struct http_response	 r;
	struct sse_frames	 f;
	char			*got;

	hd_read_until(fd, rd, "\r\n0\r\n\r\n", 20000);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(http_parse_response(rd->buf, rd->len, &r), 0);
	rd->buf = NULL;
	rd->len = 0;
	ck_assert_int_eq(r.status, 200);
	ck_assert(r.complete);
	sse_split(r.body, r.bodylen, &f);
	ck_assert(f.well_formed);
	ck_assert_uint_gt(f.n, 0);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	got = sse_content(&f);
	ck_assert_str_eq(got, want);
	free(got);
	sse_frames_free(&f);
	http_response_free(&r);
}

/* Check r is an OpenAI error in JSON with a request id. */
static void
hd_expect_json_error(const struct http_response *r, int status)
{
	char	*ct = http_header(r, "Content-Type");
	char	*id = http_header(r, "X-Request-Id");

	ck_assert_int_eq(r->status, status);
	ck_assert_ptr_nonnull(ct);
	ck_assert_str_eq(ct, "application/json");
	ck_assert_ptr_nonnull(id);
	ck_assert(strstr(r->body, "{\"error\":{\"message\":") == r->body);
	free(ct);
	free(id);
}

/* GET /healthz until it answers 200, for up to timeout_ms. */
static int
hd_healthy_within(int port, int timeout_ms)
{
	struct http_response	r;
	int			ok = 0;

	for (; timeout_ms > 0 && !ok; timeout_ms -= 100) {
		if (http_request(port, "GET", "/healthz", NULL, NULL, &r,
		    1000) == 0 && r.status == 200)
			ok = 1;
		http_response_free(&r);
		if (!ok)
			hd_sleep(100);
	}
	return (ok);
}

/*
 * Connections beyond the open-file limit: the process and its open stream
 * live on, the connections it cannot take get a JSON 503, a request that
 * needs a new connection to Dify meanwhile gets a clean 503 at once, and
 * once the connections close it serves again.  (It used to die of SIGSEGV
 * in the accept error callback, then in the Dify connect.)
 */
START_TEST(descriptor_exhaustion_refuses_and_recovers)
{
	enum { N = 160 };
	struct proc		 p;
	struct http_response	 r;
	struct hd_read		 rd = { NULL, 0 };
	char			 want[256], *body, *req;
	int			 fds[N], i, stream, idle, refused = 0, n;

	/* No pooled Dify connection: the request below needs a new one. */
	harness_proxy_start_limited(&p, hd_mock.port,
	    "\"upstream_pool_size\": 0", 64);
	mock_words(40, want, sizeof(want));
	stream = hd_start_stream(p.port, "mock:events=40 mock:interval=50");
	ck_assert(hd_read_until(stream, &rd, "data: ", 5000));
	idle = http_connect(p.port);
	ck_assert_int_ge(idle, 0);
	hd_sleep(100);
	for (i = 0; i < N; i++)
		fds[i] = http_connect(p.port);
	hd_sleep(300);
	ck_assert_msg(hd_alive(p.pid), "the proxy died at EMFILE");
	/* The last connections could not be taken: each has a 503. */
	for (i = N - 20; i < N; i++) {
		ck_assert_int_ge(fds[i], 0);
		if (http_read_response(fds[i], &r, 2000) == 0 &&
		    r.status == 503) {
			hd_expect_json_error(&r, 503);
			refused++;
		}
		http_response_free(&r);
	}
	ck_assert_int_gt(refused, 0);
	/* A chat on a connection the proxy already holds: 503, no hang. */
	body = chat_body("during exhaustion", NULL, 0, 0);
	n = asprintf(&req, "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAuthorization: Bearer app-chat\r\n"
	    "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
	    strlen(body), body);
	ck_assert_int_eq(http_send_all(idle, req, (size_t)n), 0);
	ck_assert_int_eq(http_read_response(idle, &r, 3000), 0);
	ck_assert_msg(r.elapsed_ms < 2500, "the request hung");
	hd_expect_json_error(&r, 503);
	ck_assert(strstr(r.body, "proxy_overloaded") != NULL);
	http_response_free(&r);
	free(req);
	free(body);
	close(idle);
	hd_expect_whole_stream(stream, &rd, want);
	close(stream);
	for (i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ck_assert_msg(hd_healthy_within(p.port, 5000),
	    "not serving after the connections closed");
	ck_assert(harness_log_contains(&p, "Too many open files"));
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/* Connect to port with a small receive buffer (set before connecting). */
static int
hd_connect_small(int port, int rcvbuf)
{
	struct sockaddr_in	sin;
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return (fd);
}

/* Milliseconds on the monotonic clock. */
static double
hd_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6);
}

/* Wait until the look-alike recorded a stop call; its delay in ms, or -1. */
static double
hd_wait_stop(int timeout_ms)
{
	double	 start = hd_now_ms();
	json_t	*stops;
	size_t	 n;

	for (; timeout_ms > 0; timeout_ms -= 100) {
		stops = mock_get(hd_mock.port, "/mock/stops");
		n = json_array_size(stops);
		json_decref(stops);
		if (n > 0)
			return (hd_now_ms() - start);
		hd_sleep(100);
	}
	return (-1);
}

/*
 * A streaming client that stops reading a long answer is cut once nothing
 * could be written to it for send_timeout, and Dify gets its stop call,
 * although keepalives keep coming meanwhile (they used to restart the
 * write timeout, so the stream stayed open for ever).
 */
START_TEST(unread_stream_is_cut_at_send_timeout)
{
	struct proc		 p;
	struct hd_read		 rd = { NULL, 0 };
	double			 waited;
	char			*body, *req;
	int			 fd, n;

	mock_reset(hd_mock.port);
	harness_proxy_start(&p, hd_mock.port, "\"send_timeout\": 2, "
	    "\"keepalive_interval\": 0.3, \"client_idle_timeout\": 30");
	fd = hd_connect_small(p.port, 4096);
	body = chat_body("mock:bytes=4000000", NULL, 1, 0);
	n = asprintf(&req, "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAuthorization: Bearer app-chat\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	ck_assert_int_eq(http_send_all(fd, req, (size_t)n), 0);
	free(req);
	free(body);
	ck_assert(hd_read_until(fd, &rd, "data: ", 5000));
	/* Stop reading: the stop call must come within the timeout + slack. */
	waited = hd_wait_stop(12000);
	ck_assert_msg(waited >= 0, "the unread stream was never cut");
	ck_assert_msg(waited < 9000, "cut after %.0f ms", waited);
	/* Reading again finds the end of a cut stream: no [DONE]. */
	hd_read_until(fd, &rd, "[DONE]", 5000);
	ck_assert(rd.buf == NULL || strstr(rd.buf, "[DONE]") == NULL);
	free(rd.buf);
	close(fd);
	ck_assert(harness_log_contains(&p, "end=client_gone"));
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/* The hardening suite. */
Suite *
it_hardening_suite(void)
{
	Suite	*s = suite_create("hardening");
	TCase	*tc = tcase_create("hardening");

	tcase_add_unchecked_fixture(tc, hd_setup, hd_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, descriptor_exhaustion_refuses_and_recovers);
	tcase_add_test(tc, unread_stream_is_cut_at_send_timeout);
	suite_add_tcase(s, tc);
	return (s);
}
