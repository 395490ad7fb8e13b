/*
 * it_client: clients that hang up, read slowly, send garbage, or come in
 * crowds.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "it_suites.h"

static struct proc	cl_mock, cl_proxy;

/* Look-alike and a proxy with small limits to probe them. */
static void
cl_setup(void)
{
	harness_mock_start(&cl_mock, NULL);
	harness_proxy_start(&cl_proxy, cl_mock.port,
	    "\"max_body_bytes\": 65536, \"max_header_bytes\": 4096, "
	    "\"client_idle_timeout\": 1.5, \"connect_timeout\": 2");
}

/* Stop both; the proxy must exit cleanly and never log keys or text. */
static void
cl_teardown(void)
{
	int	secret = harness_log_contains(&cl_proxy, "SECRETSECRET");
	int	text = harness_log_contains(&cl_proxy, "zebra-text");
	int	rc = harness_proc_stop(&cl_proxy);
	int	mrc = harness_proc_stop(&cl_mock);

	ck_assert_msg(mrc == 0, "look-alike did not shut down cleanly");
	ck_assert_msg(!secret, "an API key reached the log");
	ck_assert_msg(!text, "message text reached the log");
	ck_assert_msg(rc == 0, "proxy did not shut down cleanly");
}

/* Sleep for ms milliseconds. */
static void
cl_sleep(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Send a chat request on an open socket (no reading). */
static void
cl_send_chat(int fd, const char *key, const char *body, const char *version)
{
	char	*req;
	int	 n;

	n = asprintf(&req, "POST /v1/chat/completions %s\r\n"
	    "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n%s"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    version, key, strcmp(version, "HTTP/1.1") == 0 ?
	    "Connection: close\r\n" : "", strlen(body), body);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(http_send_all(fd, req, (size_t)n), 0);
	free(req);
}

/* Read from fd until needle shows up or timeout_ms passes. */
static int
cl_read_until(int fd, const char *needle, int timeout_ms)
{
	char		 buf[65536];
	size_t		 len = 0;
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	ssize_t		 n;

	while (timeout_ms > 0) {
		if (poll(&pfd, 1, 50) > 0) {
			n = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				return (0);
			len += (size_t)n;
			buf[len] = '\0';
			if (strstr(buf, needle) != NULL)
				return (1);
			if (len > sizeof(buf) / 2) {
				memmove(buf, buf + len - 1024, 1024);
				len = 1024;
			}
		}
		timeout_ms -= 50;
	}
	return (0);
}

/* Wait until the look-alike recorded n stop calls; returns them. */
static json_t *
cl_wait_stops(size_t n, int timeout_ms)
{
	json_t	*stops = NULL;

	for (; timeout_ms > 0; timeout_ms -= 50) {
		json_decref(stops);
		stops = mock_get(cl_mock.port, "/mock/stops");
		if (json_array_size(stops) >= n)
			break;
		cl_sleep(50);
	}
	return (stops);
}

/* Check the one recorded stop call names the stream's task and user. */
static void
cl_check_stop(const char *user)
{
	json_t	*stops, *streams, *stop;

	stops = cl_wait_stops(1, 4000);
	ck_assert_msg(json_array_size(stops) == 1, "no stop call recorded");
	stop = json_array_get(stops, 0);
	streams = mock_get(cl_mock.port, "/mock/streams");
	ck_assert_uint_eq(json_array_size(streams), 1);
	ck_assert_str_eq(json_string_value(json_object_get(stop, "task_id")),
	    json_string_value(json_object_get(json_array_get(streams, 0),
	    "task_id")));
	ck_assert_str_eq(json_string_value(json_object_get(stop, "user")),
	    user);
	ck_assert_str_eq(json_string_value(json_object_get(stop, "key")),
	    "app-chat");
	json_decref(stops);
	json_decref(streams);
}

START_TEST(disconnect_mid_stream_stops_the_task)
{
	char	*body;
	int	 fd;

	mock_reset(cl_mock.port);
	body = chat_body("mock:events=60 mock:interval=100", "\"user\":\"alice\"",
	    1, 0);
	fd = http_connect(cl_proxy.port);
	cl_send_chat(fd, "app-chat", body, "HTTP/1.1");
	ck_assert(cl_read_until(fd, "\"content\":\"w1 \"", 5000));
	close(fd);
	cl_check_stop("alice");
	free(body);
}
END_TEST

START_TEST(disconnect_before_first_event_stops_the_task)
{
	char	*body;
	int	 fd;

	mock_reset(cl_mock.port);
	/* Dify is slow to start: the client leaves before any byte. */
	body = chat_body("mock:first_delay=700 mock:events=5", NULL, 1, 0);
	fd = http_connect(cl_proxy.port);
	cl_send_chat(fd, "app-chat", body, "HTTP/1.1");
	cl_sleep(200);
	close(fd);
	cl_check_stop("openai-dify-proxy");
	free(body);
}
END_TEST

/* CPU seconds a process has used. */
static double
cl_cpu_seconds(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 utime, stime;
	FILE		*f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return (-1);
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %lu %lu", &utime, &stime) != 2)
		return (-1);
	return ((double)(utime + stime) / (double)sysconf(_SC_CLK_TCK));
}

START_TEST(reset_before_first_event_stops_the_task_without_spinning)
{
	struct linger	 lg = { 1, 0 };
	char		*body;
	double		 cpu;
	int		 fd;

	mock_reset(cl_mock.port);
	/* A reset is EPOLLERR: an EV_CLOSED-only watch would never fire. */
	body = chat_body("mock:first_delay=1500 mock:events=5", NULL, 1, 0);
	fd = http_connect(cl_proxy.port);
	cl_send_chat(fd, "app-chat", body, "HTTP/1.1");
	cl_sleep(200);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	cpu = cl_cpu_seconds(cl_proxy.pid);
	cl_sleep(1000);
	cpu = cl_cpu_seconds(cl_proxy.pid) - cpu;
	ck_assert_msg(cpu < 0.3, "proxy used %.2f s of CPU in 1 s after a "
	    "client reset", cpu);
	cl_check_stop("openai-dify-proxy");
	free(body);
}
END_TEST

START_TEST(pipelined_requests_are_answered_in_order)
{
	struct http_response	 r;
	char			*b1, *b2, *req;
	double			 cpu;
	int			 fd, n;

	/* The second request waits in the socket while the first waits for
	 * Dify: readable bytes that are not a hang-up. */
	b1 = chat_body("first mock:first_delay=800", NULL, 0, 0);
	b2 = chat_body("second", NULL, 0, 0);
	n = asprintf(&req, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer app-chat\r\nContent-Length: %zu\r\n\r\n%s"
	    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer app-chat\r\nConnection: close\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(b1), b1, strlen(b2), b2);
	fd = http_connect(cl_proxy.port);
	cpu = cl_cpu_seconds(cl_proxy.pid);
	http_send_all(fd, req, (size_t)n);
	ck_assert_int_eq(http_read_response(fd, &r, 10000), 0);
	cpu = cl_cpu_seconds(cl_proxy.pid) - cpu;
	close(fd);
	ck_assert_int_eq(r.status, 200);
	/* Both answers, in order, on the one connection. */
	ck_assert(strstr(r.body, "Echo: first") != NULL);
	ck_assert(strstr(r.body, "Echo: second") != NULL);
	ck_assert(strstr(r.body, "Echo: first") < strstr(r.body,
	    "Echo: second"));
	ck_assert_msg(cpu < 0.3, "proxy used %.2f s of CPU waiting", cpu);
	free(req);
	free(b1);
	free(b2);
	http_response_free(&r);
}
END_TEST

/*
 * Large bodies are read straight from the socket once their head is in
 * (client_conn_read_body): a 1.5 MB one, more than one loop turn takes,
 * with a request pipelined right behind it in the same write, and one
 * whose body comes in three pieces 100 ms apart.  Every byte reaches
 * Dify (the look-alike echoes the query), in order.
 */
START_TEST(large_bodies_arrive_whole_and_in_order)
{
	const size_t		 n = 1500 * 1000;
	struct proc		 p;
	struct http_response	 r;
	char			*text, *b1, *b2, *req, *want, *head;
	size_t			 i, blen;
	int			 fd, len, hlen;

	/* The suite's proxy takes 64 KiB bodies: one with the defaults. */
	harness_proxy_start(&p, cl_mock.port, NULL);
	text = malloc(n + 1);
	for (i = 0; i < n; i++)
		text[i] = "abcdefghij"[i % 10];
	text[n] = '\0';
	b1 = chat_body(text, NULL, 0, 0);
	b2 = chat_body("second", NULL, 0, 0);
	len = asprintf(&req, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer app-chat\r\nContent-Length: %zu\r\n\r\n%s"
	    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer app-chat\r\nConnection: close\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(b1), b1, strlen(b2), b2);
	ck_assert_int_gt(len, 0);
	ck_assert_int_ge(fd = http_connect(p.port), 0);
	ck_assert_int_eq(http_send_all(fd, req, (size_t)len), 0);
	ck_assert_int_eq(http_read_response(fd, &r, 20000), 0);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(asprintf(&want, "\"content\":\"Echo: %s\"", text),
	    (int)n + 18);
	ck_assert_msg(strstr(r.body, want) != NULL, "the long answer differs");
	ck_assert(strstr(r.body, "Echo: second") > strstr(r.body, want));
	http_response_free(&r);
	free(want);
	free(req);

	/* The body in three pieces: each read takes what has come. */
	blen = strlen(b2);
	hlen = asprintf(&head, "POST /v1/chat/completions HTTP/1.1\r\nHost: x"
	    "\r\nAuthorization: Bearer app-chat\r\nConnection: close\r\n"
	    "Content-Length: %zu\r\n\r\n", blen);
	ck_assert_int_ge(fd = http_connect(p.port), 0);
	ck_assert_int_eq(http_send_all(fd, head, (size_t)hlen), 0);
	for (i = 0; i < 3; i++) {
		cl_sleep(100);
		ck_assert_int_eq(http_send_all(fd, b2 + i * (blen / 3),
		    i < 2 ? blen / 3 : blen - 2 * (blen / 3)), 0);
	}
	ck_assert_int_eq(http_read_response(fd, &r, 10000), 0);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strstr(r.body, "Echo: second") != NULL);
	http_response_free(&r);
	free(head);
	free(b1);
	free(b2);
	free(text);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/*
 * One keep-alive connection carries answers of every kind in a row.  The
 * streamed ones after an evhttp-written reply (a whole JSON answer, or a
 * stream the client read slowly) must still start with their headers.
 */
START_TEST(keep_alive_connection_carries_any_mix_of_replies)
{
	static const struct {
		const char	*content;
		int		 stream;
	} turn[] = {
		{ "one", 0 },
		{ "two", 1 },
		{ "mock:bytes=3000000", 1 },
		{ "four", 1 },
		{ "five", 0 },
		{ "six", 1 },
	};
	const int		 n = (int)(sizeof(turn) / sizeof(turn[0]));
	struct http_response	 r[sizeof(turn) / sizeof(turn[0])];
	struct sse_frames	 f;
	struct pollfd		 pfd;
	struct sockaddr_in	 sin;
	char			*req = NULL, *body, *one, *got, want[64];
	size_t			 len = 0;
	int			 fd, i, rcvbuf = 4096, m;

	for (i = 0; i < n; i++) {
		body = chat_body(turn[i].content, NULL, turn[i].stream, 0);
		m = asprintf(&one, "POST /v1/chat/completions HTTP/1.1\r\n"
		    "Host: x\r\nAuthorization: Bearer app-chat\r\n%s"
		    "Content-Length: %zu\r\n\r\n%s", i == n - 1 ?
		    "Connection: close\r\n" : "", strlen(body), body);
		ck_assert_int_gt(m, 0);
		req = realloc(req, len + (size_t)m + 1);
		memcpy(req + len, one, (size_t)m + 1);
		len += (size_t)m;
		free(one);
		free(body);
	}
	/* A small receive buffer: the long answer cannot all be written at
	 * once, so part of it waits in evhttp's output. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)cl_proxy.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(http_send_all(fd, req, len), 0);
	/* Let the proxy fill the socket before the first read. */
	pfd.fd = fd;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	cl_sleep(300);
	ck_assert_int_eq(http_read_responses(fd, r, n, 30000), n);
	close(fd);
	for (i = 0; i < n; i++) {
		ck_assert_msg(r[i].status == 200, "reply %d: status %d", i + 1,
		    r[i].status);
		ck_assert_msg(r[i].complete, "reply %d is cut short", i + 1);
		if (!turn[i].stream) {
			snprintf(want, sizeof(want), "\"content\":\"Echo: %s\"",
			    turn[i].content);
			ck_assert_msg(strstr(r[i].body, want) != NULL,
			    "reply %d: %s", i + 1, r[i].body);
			continue;
		}
		ck_assert(r[i].chunked);
		sse_split(r[i].body, r[i].bodylen, &f);
		ck_assert(f.well_formed);
		ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
		got = sse_content(&f);
		if (strncmp(turn[i].content, "mock:bytes=", 11) == 0)
			ck_assert_uint_eq(strlen(got), 3000000);
		else {
			snprintf(want, sizeof(want), "Echo: %s",
			    turn[i].content);
			ck_assert_str_eq(got, want);
		}
		free(got);
		sse_frames_free(&f);
	}
	for (i = 0; i < n; i++)
		http_response_free(&r[i]);
	free(req);
}
END_TEST

START_TEST(disconnect_non_streaming_stops_the_task)
{
	char	*body;
	int	 fd;

	mock_reset(cl_mock.port);
	body = chat_body("mock:events=60 mock:interval=100", "\"user\":\"bob\"",
	    0, 0);
	fd = http_connect(cl_proxy.port);
	cl_send_chat(fd, "app-chat", body, "HTTP/1.1");
	cl_sleep(400);
	close(fd);
	cl_check_stop("bob");
	free(body);
}
END_TEST

START_TEST(slow_client_keeps_memory_bounded)
{
	struct http_response	 r;
	struct sse_frames	 f;
	struct sockaddr_in	 sin;
	char			*body, *got;
	int			 fd, rcvbuf = 4096;
	long			 before, during;
	json_t			*streams, *st;
	size_t			 i, len;
	struct proc		 p;
	json_int_t		 sent;

	mock_reset(cl_mock.port);
	/*
	 * The client pauses 3 s: longer than the case's write timeout, so
	 * this proxy has its own.  Under ASan the allocator's quarantine keeps
	 * freed buffers resident, so RSS would measure bytes processed rather
	 * than bytes held: it is switched off for this one proxy.
	 */
	setenv("ASAN_OPTIONS", "quarantine_size_mb=0:detect_leaks=1", 1);
	harness_proxy_start(&p, cl_mock.port, "\"client_idle_timeout\": 30");
	unsetenv("ASAN_OPTIONS");
	/* Warm up (first-use allocations), then measure. */
	body = chat_body("warm up", NULL, 1, 0);
	ck_assert_int_eq(http_chat(p.port, "app-chat", body, &r), 0);
	http_response_free(&r);
	free(body);
	before = harness_rss_kb(p.pid);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)p.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	body = chat_body("mock:bytes=16000000", NULL, 1, 0);
	cl_send_chat(fd, "app-chat", body, "HTTP/1.1");

	/*
	 * Do not read for a while: the proxy must stop reading Dify.  What
	 * Dify wrote before that sits in kernel socket buffers, not in the
	 * proxy; once paused, Dify's counter stops moving.
	 */
	cl_sleep(2000);
	streams = mock_get(cl_mock.port, "/mock/streams");
	st = json_array_get(streams, json_array_size(streams) - 1);
	sent = json_integer_value(json_object_get(st, "bytes_sent"));
	json_decref(streams);
	cl_sleep(1000);
	during = harness_rss_kb(p.pid);
	streams = mock_get(cl_mock.port, "/mock/streams");
	st = json_array_get(streams, json_array_size(streams) - 1);
	ck_assert_msg(json_is_true(json_object_get(st, "blocked")),
	    "the look-alike never had to wait: no backpressure");
	ck_assert_int_eq(json_integer_value(json_object_get(st,
	    "bytes_sent")), sent);
	/*
	 * What was sent sits in the two kernel socket buffers between the
	 * look-alike and the proxy, which Linux grows with the reader's
	 * pace (tcp_rmem allows up to 32 MB here): quiet runs stopped at up
	 * to 9.7 MB, one on a loaded machine took all 18.6 MB of the
	 * answer's events.  So the bytes sent say nothing about the proxy;
	 * its own share is the RSS bound, which holding the answer would
	 * break many times over.
	 */
	json_decref(streams);
	ck_assert_msg(during - before < 4 * 1024,
	    "proxy grew %ld KiB holding a slow client's stream (the "
	    "look-alike sent %lld bytes)", during - before, (long long)sent);

	/* Now read it all: not a byte of the answer may be lost. */
	ck_assert_int_eq(http_read_response(fd, &r, 60000), 0);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	ck_assert(r.complete);
	sse_split(r.body, r.bodylen, &f);
	ck_assert(f.well_formed);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	got = sse_content(&f);
	len = strlen(got);
	ck_assert_uint_eq(len, 16000000);
	for (i = 0; i < len; i++) {
		if (got[i] != "abcdefghij"[i % 10])
			ck_abort_msg("content differs at byte %zu", i);
	}
	free(got);
	sse_frames_free(&f);
	http_response_free(&r);
	free(body);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

START_TEST(bad_client_input_gets_clear_errors)
{
	struct http_response	 r;
	char			*big, *hdr;

	ck_assert_int_eq(http_chat(cl_proxy.port, "app-chat", "{\"messages\":",
	    &r), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert(strstr(r.body, "invalid_json") != NULL);
	http_response_free(&r);

	ck_assert_int_eq(http_chat(cl_proxy.port, "app-chat",
	    "{\"messages\":\"hi\"}", &r), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert(strstr(r.body, "\"param\":\"messages\"") != NULL);
	http_response_free(&r);

	ck_assert_int_eq(http_chat(cl_proxy.port, "app-chat",
	    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"stream\":\"yes\"}", &r), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert(strstr(r.body, "\"param\":\"stream\"") != NULL);
	http_response_free(&r);

	/* Over the 64 KiB limit: a JSON 413. */
	big = malloc(100 * 1024 + 64);
	memset(big, 'a', 100 * 1024);
	memcpy(big, "{\"messages\":\"", 13);
	memcpy(big + 100 * 1024, "\"}", 3);
	ck_assert_int_eq(http_chat(cl_proxy.port, "app-chat", big, &r), 0);
	ck_assert_int_eq(r.status, 413);
	ck_assert(strstr(r.body, "request_too_large") != NULL);
	http_response_free(&r);
	free(big);

	/* Headers over the 4 KiB limit: an error or a closed connection. */
	hdr = malloc(9000);
	memcpy(hdr, "X-Big: ", 7);
	memset(hdr + 7, 'b', 8000);
	memcpy(hdr + 8007, "\r\n", 3);
	if (http_request(cl_proxy.port, "GET", "/healthz", hdr, NULL, &r,
	    5000) == 0)
		ck_assert_int_ge(r.status, 400);
	http_response_free(&r);
	free(hdr);

	ck_assert_int_eq(http_request(cl_proxy.port, "GET", "/v2/whatever",
	    NULL, NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 404);
	ck_assert(strstr(r.body, "\"error\"") != NULL);
	http_response_free(&r);

	ck_assert_int_eq(http_request(cl_proxy.port, "DELETE", "/v1/models",
	    NULL, NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 405);
	ck_assert(strstr(r.body, "\"error\"") != NULL);
	http_response_free(&r);
}
END_TEST

START_TEST(missing_key_is_401_without_asking_dify)
{
	struct http_response	 r;
	json_t			*reqs;
	char			*body;

	mock_reset(cl_mock.port);
	body = chat_body("hello zebra-text", NULL, 1, 0);
	ck_assert_int_eq(http_chat(cl_proxy.port, NULL, body, &r), 0);
	ck_assert_int_eq(r.status, 401);
	ck_assert(strstr(r.body, "authentication_error") != NULL);
	http_response_free(&r);
	reqs = mock_get(cl_mock.port, "/mock/requests");
	ck_assert_uint_eq(json_array_size(reqs), 0);
	json_decref(reqs);
	/* A wrong key goes to Dify, which refuses it: 401 too. */
	ck_assert_int_eq(http_chat(cl_proxy.port, "app-SECRETSECRET4242", body,
	    &r), 0);
	ck_assert_int_eq(r.status, 401);
	http_response_free(&r);
	free(body);
}
END_TEST

/* Send raw bytes and check the proxy answers an error or closes. */
static void
cl_raw(const char *bytes, size_t len, int expect_close_ms)
{
	struct http_response	r;
	int			fd;

	fd = http_connect(cl_proxy.port);
	ck_assert_int_ge(fd, 0);
	http_send_all(fd, bytes, len);
	if (http_read_response(fd, &r, expect_close_ms) == 0)
		ck_assert_int_ge(r.status, 400);
	else
		ck_assert_msg(r.elapsed_ms < expect_close_ms,
		    "connection neither answered nor closed");
	http_response_free(&r);
	close(fd);
}

START_TEST(garbage_and_half_requests_leave_the_proxy_unharmed)
{
	struct http_response	r;
	static const char	tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc"
				    "\x03\x03garbage\r\n\r\n";
	static const char	half[] = "POST /v1/chat/completions HTTP/1.1\r\n"
				    "Host: x\r\nContent-Length: 100\r\n\r\n"
				    "{\"mess";
	int			fd;

	cl_raw(tls, sizeof(tls) - 1, 4000);
	cl_raw("\0\0\0\0\r\n\r\n", 8, 4000);
	cl_raw("GET / HTTP/9.9\r\n\r\n", 18, 4000);
	cl_raw("POST /v1/chat/completions HTTP/1.1\r\nContent-Length: -5\r\n"
	    "\r\n", 56, 4000);
	/* Half a request, then silence: closed after client_idle_timeout. */
	cl_raw(half, sizeof(half) - 1, 4000);
	/* Half a request, then hang up. */
	fd = http_connect(cl_proxy.port);
	http_send_all(fd, half, sizeof(half) - 1);
	close(fd);
	/* Still serving. */
	ck_assert_int_eq(http_request(cl_proxy.port, "GET", "/healthz", NULL,
	    NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	http_response_free(&r);
}
END_TEST

START_TEST(http10_client_gets_a_close_framed_stream)
{
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body, *got, *te;
	int			 fd;

	body = chat_body("old client", NULL, 1, 0);
	fd = http_connect(cl_proxy.port);
	cl_send_chat(fd, "app-chat", body, "HTTP/1.0");
	ck_assert_int_eq(http_read_response(fd, &r, 10000), 0);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	te = http_header(&r, "Transfer-Encoding");
	ck_assert_ptr_null(te);
	sse_split(r.body, r.bodylen, &f);
	ck_assert(f.well_formed);
	got = sse_content(&f);
	ck_assert_str_eq(got, "Echo: old client");
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	free(got);
	sse_frames_free(&f);
	free(body);
	http_response_free(&r);
}
END_TEST

/* One of the concurrent clients. */
struct cl_client {
	int	 fd;
	char	*buf;
	size_t	 len;
	int	 done;
};

START_TEST(two_hundred_concurrent_streams)
{
	enum { N = 200 };
	struct cl_client	 c[N];
	struct pollfd		 pfd[N];
	struct rlimit		 rl;
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body, *got, want[256], chunk[65536];
	int			 i, left = N, k;
	time_t			 deadline;
	ssize_t			 n;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 1024 && rl.rlim_max >= 1024) {
		rl.rlim_cur = 1024;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	mock_words(20, want, sizeof(want));
	body = chat_body("mock:events=20 mock:interval=25", NULL, 1, 0);
	for (i = 0; i < N; i++) {
		c[i].fd = http_connect(cl_proxy.port);
		ck_assert_int_ge(c[i].fd, 0);
		c[i].buf = NULL;
		c[i].len = 0;
		c[i].done = 0;
		cl_send_chat(c[i].fd, "app-chat", body, "HTTP/1.1");
	}
	deadline = time(NULL) + 60;
	while (left > 0 && time(NULL) < deadline) {
		for (i = 0; i < N; i++) {
			pfd[i].fd = c[i].done ? -1 : c[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, N, 100) <= 0)
			continue;
		for (i = 0; i < N; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(c[i].fd, chunk, sizeof(chunk));
			if (n > 0) {
				c[i].buf = realloc(c[i].buf, c[i].len +
				    (size_t)n + 1);
				memcpy(c[i].buf + c[i].len, chunk, (size_t)n);
				c[i].len += (size_t)n;
				c[i].buf[c[i].len] = '\0';
				continue;
			}
			c[i].done = 1;
			left--;
			close(c[i].fd);
		}
	}
	ck_assert_msg(left == 0, "%d streams did not finish", left);
	for (k = 0; k < N; k++) {
		ck_assert_int_eq(http_parse_response(c[k].buf, c[k].len, &r),
		    0);
		ck_assert_int_eq(r.status, 200);
		ck_assert(r.chunked && r.complete);
		sse_split(r.body, r.bodylen, &f);
		ck_assert(f.well_formed);
		got = sse_content(&f);
		ck_assert_str_eq(got, want);
		ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
		free(got);
		sse_frames_free(&f);
		http_response_free(&r);
	}
	free(body);
}
END_TEST

/* The client suite. */
Suite *
it_client_suite(void)
{
	Suite	*s = suite_create("client");
	TCase	*tc = tcase_create("client");

	tcase_add_unchecked_fixture(tc, cl_setup, cl_teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, disconnect_mid_stream_stops_the_task);
	tcase_add_test(tc, disconnect_before_first_event_stops_the_task);
	tcase_add_test(tc, disconnect_non_streaming_stops_the_task);
	tcase_add_test(tc, reset_before_first_event_stops_the_task_without_spinning);
	tcase_add_test(tc, pipelined_requests_are_answered_in_order);
	tcase_add_test(tc, large_bodies_arrive_whole_and_in_order);
	tcase_add_test(tc, keep_alive_connection_carries_any_mix_of_replies);
	tcase_add_test(tc, slow_client_keeps_memory_bounded);
	tcase_add_test(tc, bad_client_input_gets_clear_errors);
	tcase_add_test(tc, missing_key_is_401_without_asking_dify);
	tcase_add_test(tc, garbage_and_half_requests_leave_the_proxy_unharmed);
	tcase_add_test(tc, http10_client_gets_a_close_framed_stream);
	tcase_add_test(tc, two_hundred_concurrent_streams);
	suite_add_tcase(s, tc);
	return (s);
}
