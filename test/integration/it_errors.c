/*
 * it_errors: Dify's errors and upstream failures, as the client sees them.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "it_suites.h"

static struct proc	err_mock, err_proxy;

/* One look-alike; a proxy with short upstream timeouts. */
static void
err_setup(void)
{
	harness_mock_start(&err_mock, NULL);
	harness_proxy_start(&err_proxy, err_mock.port,
	    "\"connect_timeout\": 1, \"upstream_idle_timeout\": 1.5, "
	    "\"keepalive_interval\": 0.3");
}

/* Stop both; the proxy must exit cleanly. */
static void
err_teardown(void)
{
	int	rc = harness_proc_stop(&err_proxy);
	int	mrc = harness_proc_stop(&err_mock);

	ck_assert_msg(rc == 0, "proxy did not shut down cleanly");
	ck_assert_msg(mrc == 0, "look-alike did not shut down cleanly");
}

/* Parse an error body and check its shape; returns it (caller frees). */
static json_t *
err_body(const char *body)
{
	json_t	*j, *e;

	j = json_loads(body, 0, NULL);
	ck_assert_msg(j != NULL, "error body is not JSON: %s", body);
	e = json_object_get(j, "error");
	ck_assert_msg(json_is_object(e), "no error object: %s", body);
	ck_assert(json_is_string(json_object_get(e, "message")));
	ck_assert(json_is_string(json_object_get(e, "type")));
	ck_assert(json_object_get(e, "param") != NULL);
	ck_assert(json_object_get(e, "code") != NULL);
	return (j);
}

/* Expect an HTTP error with status, type and code, streaming or not. */
static void
err_expect(int port, const char *key, const char *text, int stream,
    int status, const char *type, const char *code, const char *retry)
{
	struct http_response	 r;
	json_t			*j, *e;
	char			*body, *h;

	body = chat_body(text, NULL, stream, 0);
	ck_assert_int_eq(http_chat(port, key, body, &r), 0);
	ck_assert_msg(r.status == status, "%s stream=%d: status %d, want %d: "
	    "%s", text, stream, r.status, status, r.body);
	h = http_header(&r, "Content-Type");
	ck_assert_str_eq(h, "application/json");
	free(h);
	j = err_body(r.body);
	e = json_object_get(j, "error");
	ck_assert_str_eq(json_string_value(json_object_get(e, "type")), type);
	if (code != NULL)
		ck_assert_str_eq(json_string_value(json_object_get(e, "code")),
		    code);
	h = http_header(&r, "Retry-After");
	if (retry != NULL) {
		ck_assert_ptr_nonnull(h);
		ck_assert_str_eq(h, retry);
	}
	free(h);
	json_decref(j);
	free(body);
	http_response_free(&r);
}

START_TEST(error_table_before_the_stream)
{
	int	stream = _i;

	err_expect(err_proxy.port, "app-chat", "x mock:http=400,invalid_param",
	    stream, 400, "invalid_request_error", "invalid_param", NULL);
	err_expect(err_proxy.port, "app-nobody", "hello", stream, 401,
	    "authentication_error", "invalid_api_key", NULL);
	err_expect(err_proxy.port, "app-chat", "x mock:http=403,forbidden",
	    stream, 403, "permission_error", "forbidden", NULL);
	err_expect(err_proxy.port, "app-chat", "x mock:http=404,not_found",
	    stream, 404, "invalid_request_error", "not_found", NULL);
	err_expect(err_proxy.port, "app-chat",
	    "x mock:http=400,provider_quota_exceeded", stream, 429,
	    "insufficient_quota", "insufficient_quota", NULL);
	err_expect(err_proxy.port, "app-chat",
	    "x mock:http=429,too_many_requests", stream, 429,
	    "rate_limit_error", "rate_limit_exceeded", "7");
	err_expect(err_proxy.port, "app-chat",
	    "x mock:http=429,rate_limit_error", stream, 429,
	    "rate_limit_error", "rate_limit_exceeded", "7");
	err_expect(err_proxy.port, "app-chat",
	    "x mock:http=500,internal_server_error", stream, 502,
	    "server_error", NULL, NULL);
	err_expect(err_proxy.port, "app-chat", "x mock:http=503,unavailable",
	    stream, 502, "server_error", NULL, NULL);
	/* A workflow app's key now runs the workflow (it_apps.c). */
	err_expect(err_proxy.port, "app-chat", "x mock:http=400,not_chat_app",
	    stream, 400, "invalid_request_error", "not_chat_app", NULL);
}
END_TEST

START_TEST(error_message_hides_dify_internals)
{
	struct http_response	 r;
	json_t			*j;
	const char		*msg;
	char			*body;

	body = chat_body("x mock:http=404,not_found", NULL, 0, 0);
	ck_assert_int_eq(http_chat(err_proxy.port, "app-chat", body, &r), 0);
	j = err_body(r.body);
	msg = json_string_value(json_object_get(json_object_get(j, "error"),
	    "message"));
	ck_assert_str_eq(msg, "mock http error not_found");
	json_decref(j);
	free(body);
	http_response_free(&r);
}
END_TEST

START_TEST(error_event_mid_stream_ends_at_once)
{
	struct http_response	 r;
	struct sse_frames	 f;
	json_t			*j, *e;
	char			*body;
	size_t			 i, errors;

	/* The look-alike keeps the stream open with pings after the error. */
	body = chat_body("boom mock:error", NULL, 1, 0);
	ck_assert_int_eq(http_chat(err_proxy.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(r.elapsed_ms < 1000, "stream took %.0f ms",
	    r.elapsed_ms);
	ck_assert(r.complete);
	sse_split(r.body, r.bodylen, &f);
	ck_assert(f.well_formed);
	j = json_loads(f.data[f.n - 1], 0, NULL);
	e = json_object_get(j, "error");
	ck_assert_msg(json_is_object(e), "last frame: %s", f.data[f.n - 1]);
	ck_assert_str_eq(json_string_value(json_object_get(e, "code")),
	    "completion_request_error");
	ck_assert_str_eq(json_string_value(json_object_get(e, "message")),
	    "[openai] Error: quota exceeded");
	json_decref(j);
	/* Exactly one error frame, the last one, and never [DONE]. */
	ck_assert(strstr(r.body, "[DONE]") == NULL);
	for (i = 0, errors = 0; i < f.n; i++) {
		if (strncmp(f.data[i], "{\"error\"", 8) == 0)
			errors++;
	}
	ck_assert_int_eq(errors, 1);
	/* The two pieces before the error reached the client. */
	ck_assert(strstr(r.body, "\"content\":\"Echo: bo\"") != NULL);
	sse_frames_free(&f);
	free(body);
	http_response_free(&r);
}
END_TEST

START_TEST(error_event_non_streaming_gets_status)
{
	err_expect(err_proxy.port, "app-chat", "boom mock:error", 0, 400,
	    "invalid_request_error", "completion_request_error", NULL);
}
END_TEST

START_TEST(first_event_error_keeps_http_status)
{
	struct http_response	 r;
	char			*body;

	/* Dify >= 1.13: validation errors arrive as the first event. */
	body = chat_body("x mock:error_nocode", NULL, 1, 0);
	ck_assert_int_eq(http_chat(err_proxy.port, "app-chatflow", body, &r),
	    0);
	ck_assert_int_eq(r.status, 502);
	ck_assert_msg(r.elapsed_ms < 1000, "took %.0f ms", r.elapsed_ms);
	json_decref(err_body(r.body));
	ck_assert(strstr(r.body, "Conversation Not Exists.") != NULL);
	free(body);
	http_response_free(&r);
	err_expect(err_proxy.port, "app-chat",
	    "x mock:error_first=invalid_param,400", 1, 400,
	    "invalid_request_error", "invalid_param", NULL);
}
END_TEST

START_TEST(failed_workflow_is_an_error)
{
	struct http_response	 r;
	char			*body;

	body = chat_body("x mock:workflow_failed", NULL, 1, 0);
	ck_assert_int_eq(http_chat(err_proxy.port, "app-chatflow", body, &r),
	    0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strstr(r.body, "workflow_failed") != NULL);
	ck_assert(strstr(r.body, "boom in node llm") != NULL);
	ck_assert(strstr(r.body, "[DONE]") == NULL);
	free(body);
	http_response_free(&r);
	err_expect(err_proxy.port, "app-chatflow-old",
	    "x mock:workflow_failed", 0, 502, "server_error",
	    "workflow_failed", NULL);
}
END_TEST

START_TEST(stream_cut_is_an_error_not_a_finish)
{
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body;

	body = chat_body("cut me mock:cut", NULL, 1, 0);
	ck_assert_int_eq(http_chat(err_proxy.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	sse_split(r.body, r.bodylen, &f);
	ck_assert(f.n >= 2);
	ck_assert(strstr(f.data[f.n - 1], "upstream_incomplete") != NULL);
	ck_assert(strstr(r.body, "finish_reason\":\"stop") == NULL);
	ck_assert(strstr(r.body, "[DONE]") == NULL);
	sse_frames_free(&f);
	free(body);
	http_response_free(&r);
	err_expect(err_proxy.port, "app-chat", "cut me mock:cut", 0, 502,
	    "server_error", "upstream_incomplete", NULL);
}
END_TEST

/*
 * Dify closes right after a burst of any length: every size from one
 * event to 18 KB, so the close lands inside libevent's first 4 KiB read,
 * in the read the proxy makes at once when that one was full, and in its
 * later reads.  Each stream carries exactly the text that came, then the
 * error frame, never a finish; a non-streaming call gets a 502.
 */
START_TEST(stream_cut_after_any_burst_is_an_error)
{
	struct http_response	 r;
	struct sse_frames	 f;
	char			 query[64], want[1024], *body, *got;
	int			 n;

	for (n = 1; n <= 60; n++) {
		snprintf(query, sizeof(query), "mock:events=100 mock:cut=%d",
		    n);
		mock_words(n, want, sizeof(want));
		body = chat_body(query, NULL, 1, 0);
		ck_assert_int_eq(http_chat(err_proxy.port, "app-chat", body,
		    &r), 0);
		ck_assert_int_eq(r.status, 200);
		sse_split(r.body, r.bodylen, &f);
		got = sse_content(&f);
		ck_assert_msg(strcmp(got, want) == 0, "cut after %d: got %s",
		    n, got);
		ck_assert_msg(strstr(f.data[f.n - 1], "upstream_incomplete") !=
		    NULL, "cut after %d: ends %s", n, f.data[f.n - 1]);
		ck_assert(strstr(r.body, "[DONE]") == NULL);
		free(got);
		sse_frames_free(&f);
		free(body);
		http_response_free(&r);
		if (n % 10 == 0)
			err_expect(err_proxy.port, "app-chat", query, 0, 502,
			    "server_error", "upstream_incomplete", NULL);
	}
}
END_TEST

/*
 * Dify goes quiet in the middle of the body (the proxy reads it itself by
 * then): the idle timeout (1.5 s) ends the stream with an error frame
 * after the text that came.
 */
START_TEST(upstream_silent_mid_stream_times_out)
{
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body, *got;

	body = chat_body("mock:events=3 mock:interval=6000", NULL, 1, 0);
	ck_assert_int_eq(http_chat(err_proxy.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(r.elapsed_ms > 1200 && r.elapsed_ms < 5000,
	    "ended after %.0f ms", r.elapsed_ms);
	sse_split(r.body, r.bodylen, &f);
	got = sse_content(&f);
	ck_assert_str_eq(got, "w0 ");
	ck_assert(strstr(f.data[f.n - 1], "upstream_timeout") != NULL);
	ck_assert(strstr(r.body, "[DONE]") == NULL);
	free(got);
	sse_frames_free(&f);
	free(body);
	http_response_free(&r);
}
END_TEST

START_TEST(silent_upstream_times_out)
{
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body;

	/* 200 and headers, then nothing: the idle timeout (1.5 s) ends it. */
	body = chat_body("x mock:hang", NULL, 1, 0);
	ck_assert_int_eq(http_chat(err_proxy.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(r.elapsed_ms > 1200 && r.elapsed_ms < 5000);
	sse_split(r.body, r.bodylen, &f);
	/* Keepalive committed the stream: role chunk, then the error. */
	ck_assert(strstr(f.data[0], "\"role\":\"assistant\"") != NULL);
	ck_assert(strstr(f.data[f.n - 1], "upstream_timeout") != NULL);
	sse_frames_free(&f);
	free(body);
	http_response_free(&r);
	err_expect(err_proxy.port, "app-chat", "x mock:hang", 0, 504,
	    "server_error", "upstream_timeout", NULL);
	/* No status line within the connect timeout (1 s): 504. */
	err_expect(err_proxy.port, "app-chat", "x mock:hang_headers", 1, 504,
	    "server_error", "upstream_timeout", NULL);
}
END_TEST

START_TEST(keepalive_is_an_empty_chunk)
{
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body;
	size_t			 i, empty = 0;

	body = chat_body("slow start mock:first_delay=1000", NULL, 1, 0);
	ck_assert_int_eq(http_chat(err_proxy.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	/* No SSE comments: continue.dev ends its stream on ": ping". */
	ck_assert(strstr(r.body, "\n:") == NULL && r.body[0] != ':');
	sse_split(r.body, r.bodylen, &f);
	ck_assert(f.well_formed);
	for (i = 0; i < f.n; i++) {
		if (strstr(f.data[i], "\"delta\":{\"content\":\"\"}") != NULL)
			empty++;
	}
	ck_assert_msg(empty >= 1, "no keepalive chunk in %s", r.body);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	sse_frames_free(&f);
	free(body);
	http_response_free(&r);
}
END_TEST

/* A port with nothing listening. */
static int
err_dead_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return (port);
}

START_TEST(dify_down_is_502_within_connect_timeout)
{
	struct proc	p;
	char		extra[256];

	snprintf(extra, sizeof(extra), "\"dify_api_url\": "
	    "\"http://127.0.0.1:%d/v1\", \"connect_timeout\": 2",
	    err_dead_port());
	harness_proxy_start(&p, 0, extra);
	err_expect(p.port, "app-chat", "anyone?", 0, 502, "server_error",
	    "upstream_unreachable", NULL);
	err_expect(p.port, "app-chat", "anyone?", 1, 502, "server_error",
	    "upstream_unreachable", NULL);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

START_TEST(unresolvable_host_is_502)
{
	struct proc		 p;
	struct http_response	 r;
	char			*body;

	harness_proxy_start(&p, 0, "\"dify_api_url\": "
	    "\"http://no-such-host.invalid/v1\", \"connect_timeout\": 2");
	body = chat_body("anyone?", NULL, 1, 0);
	ck_assert_int_eq(http_chat(p.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 502);
	ck_assert(r.elapsed_ms < 2800);
	ck_assert(strstr(r.body, "upstream_dns_error") != NULL);
	free(body);
	http_response_free(&r);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

START_TEST(short_timeouts_never_cut_a_live_stream)
{
	struct proc		 p;
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body, *got, want[256];

	/* Every timeout at 1 s; the answer takes 6 s, an event per 400 ms. */
	harness_proxy_start(&p, err_mock.port, "\"connect_timeout\": 1, "
	    "\"upstream_idle_timeout\": 1, \"client_idle_timeout\": 1, "
	    "\"keepalive_interval\": 1");
	mock_words(15, want, sizeof(want));
	body = chat_body("mock:events=15 mock:interval=400", NULL, 1, 0);
	ck_assert_int_eq(http_chat(p.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(r.elapsed_ms > 5500);
	sse_split(r.body, r.bodylen, &f);
	got = sse_content(&f);
	ck_assert_str_eq(got, want);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	free(got);
	sse_frames_free(&f);
	http_response_free(&r);
	free(body);
	/* The same for a client that did not ask for a stream. */
	body = chat_body("mock:events=15 mock:interval=400", NULL, 0, 0);
	ck_assert_int_eq(http_chat(p.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strstr(r.body, want) != NULL);
	http_response_free(&r);
	free(body);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/*
 * A listener whose accept queue is full: the kernel drops further SYNs, so
 * a connect to it hangs as to a host that does not answer.  (Remote test
 * addresses are no use: a sandbox may answer every outbound connection.)
 */
static int
err_blackhole(int *port, int fill[3])
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, i, fl;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	listen(fd, 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	for (i = 0; i < 3; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM, 0);
		fl = fcntl(fill[i], F_GETFL);
		fcntl(fill[i], F_SETFL, fl | O_NONBLOCK);
		connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	return (fd);
}

START_TEST(blackholed_dify_is_502_within_connect_timeout)
{
	struct proc		 p;
	struct http_response	 r;
	char			*body, extra[256];
	int			 lfd, port, fill[3], i;

	lfd = err_blackhole(&port, fill);
	snprintf(extra, sizeof(extra), "\"dify_api_url\": "
	    "\"http://127.0.0.1:%d/v1\", \"connect_timeout\": 1", port);
	harness_proxy_start(&p, 0, extra);
	body = chat_body("anyone?", NULL, 1, 0);
	ck_assert_int_eq(http_chat(p.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 502);
	ck_assert_msg(r.elapsed_ms > 900 && r.elapsed_ms < 2500,
	    "took %.0f ms", r.elapsed_ms);
	ck_assert(strstr(r.body, "upstream_unreachable") != NULL);
	free(body);
	http_response_free(&r);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
	for (i = 0; i < 3; i++)
		close(fill[i]);
	close(lfd);
}
END_TEST

/*
 * Serve one connection as an HTTP/1.0 Dify that closes after each
 * response (no Connection header, as HTTP/1.0 servers do): the app's
 * info, or a short chat stream ended by the close.  Returns the request
 * line's path ("" if none came).
 */
static void
err_http10_serve(int fd, char *path, size_t pathsize)
{
	static const char	info[] = "{\"name\":\"t\",\"mode\":\"chat\"}";
	static const char	events[] =
	    "data: {\"event\":\"message\",\"task_id\":\"t\",\"id\":\"m\","
	    "\"message_id\":\"m\",\"conversation_id\":\"c\",\"answer\":"
	    "\"Hi from 1.0\",\"created_at\":1}\n\n"
	    "data: {\"event\":\"message_end\",\"task_id\":\"t\",\"id\":\"m\","
	    "\"message_id\":\"m\",\"conversation_id\":\"c\",\"metadata\":{}}"
	    "\n\n";
	char	req[65536], head[256], *end, *cl;
	size_t	have = 0, want = 0;
	ssize_t	n;

	path[0] = '\0';
	while (have < sizeof(req) - 1) {
		if ((n = read(fd, req + have, sizeof(req) - 1 - have)) <= 0)
			return;
		have += (size_t)n;
		req[have] = '\0';
		if ((end = strstr(req, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(req, "\r\nContent-Length:");
		want = (size_t)(end + 4 - req) + (cl != NULL && cl < end ?
		    strtoul(cl + 17, NULL, 10) : 0);
		if (have >= want)
			break;
	}
	sscanf(req, "%*s %255s", head);
	snprintf(path, pathsize, "%s", head);
	if (strncmp(path, "/v1/info", 8) == 0)
		snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nContent-Type: "
		    "application/json\r\nContent-Length: %zu\r\n\r\n",
		    sizeof(info) - 1);
	else
		snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nContent-Type: "
		    "text/event-stream\r\n\r\n");
	(void)!write(fd, head, strlen(head));
	if (strncmp(path, "/v1/info", 8) == 0)
		(void)!write(fd, info, sizeof(info) - 1);
	else
		(void)!write(fd, events, sizeof(events) - 1);
}

/*
 * A Dify that speaks HTTP/1.0 closes the connection after each answer
 * without saying so in a header.  evhttp alone would keep it for the
 * next call, which then failed before any response: the first chat after
 * the app's info came back 502.  Every chat is answered, each call on a
 * connection of its own.
 */
START_TEST(http10_dify_connections_are_not_reused)
{
	struct proc		 p;
	struct http_response	 r;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			*body, extra[256], path[256];
	int			 lfd, fd, port, i, status;
	pid_t			 pid;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	if ((pid = fork()) == 0) {
		/* Info, then three chats: four connections, one each. */
		alarm(20);	/* never outlive a failed test */
		for (i = 0; i < 4; i++) {
			if ((fd = accept(lfd, NULL, NULL)) == -1)
				_exit(1);
			err_http10_serve(fd, path, sizeof(path));
			close(fd);
			if (path[0] == '\0')
				_exit(2);	/* a connection with no call */
		}
		_exit(0);
	}
	ck_assert_int_ge(pid, 0);
	close(lfd);
	snprintf(extra, sizeof(extra), "\"dify_api_url\": "
	    "\"http://127.0.0.1:%d/v1\"", port);
	harness_proxy_start(&p, 0, extra);
	body = chat_body("hello", NULL, 1, 0);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(http_chat(p.port, "app-chat", body, &r), 0);
		ck_assert_msg(r.status == 200, "chat %d: status %d: %s", i,
		    r.status, r.body);
		ck_assert_msg(strstr(r.body, "Hi from 1.0") != NULL &&
		    strstr(r.body, "[DONE]") != NULL, "chat %d: %s", i, r.body);
		http_response_free(&r);
	}
	free(body);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the HTTP/1.0 Dify saw a connection with no call (status %d)",
	    status);
}
END_TEST

/* The errors suite. */
Suite *
it_errors_suite(void)
{
	Suite	*s = suite_create("errors");
	TCase	*tc = tcase_create("errors");

	tcase_add_unchecked_fixture(tc, err_setup, err_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, error_table_before_the_stream, 0, 2);
	tcase_add_test(tc, error_message_hides_dify_internals);
	tcase_add_test(tc, error_event_mid_stream_ends_at_once);
	tcase_add_test(tc, error_event_non_streaming_gets_status);
	tcase_add_test(tc, first_event_error_keeps_http_status);
	tcase_add_test(tc, failed_workflow_is_an_error);
	tcase_add_test(tc, stream_cut_is_an_error_not_a_finish);
	tcase_add_test(tc, stream_cut_after_any_burst_is_an_error);
	tcase_add_test(tc, silent_upstream_times_out);
	tcase_add_test(tc, keepalive_is_an_empty_chunk);
	tcase_add_test(tc, dify_down_is_502_within_connect_timeout);
	tcase_add_test(tc, unresolvable_host_is_502);
	tcase_add_test(tc, short_timeouts_never_cut_a_live_stream);
	tcase_add_test(tc, upstream_silent_mid_stream_times_out);
	tcase_add_test(tc, blackholed_dify_is_502_within_connect_timeout);
	tcase_add_test(tc, http10_dify_connections_are_not_reused);
	suite_add_tcase(s, tc);
	return (s);
}
