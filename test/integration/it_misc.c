/*
 * it_misc: what reaches Dify, models, CORS, request ids, connection reuse,
 * graceful shutdown, TLS to Dify and the look-alike's TLS counters.
 */
#include <sys/types.h>
#include <sys/wait.h>

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

static struct proc	misc_mock, misc_proxy;

/* One look-alike and one default proxy. */
static void
misc_setup(void)
{
	harness_mock_start(&misc_mock, NULL);
	harness_proxy_start(&misc_proxy, misc_mock.port, NULL);
}

/* Stop both; the proxy must exit cleanly. */
static void
misc_teardown(void)
{
	int	rc = harness_proc_stop(&misc_proxy);
	int	mrc = harness_proc_stop(&misc_mock);

	ck_assert_msg(rc == 0, "proxy did not shut down cleanly");
	ck_assert_msg(mrc == 0, "look-alike did not shut down cleanly");
}

/* Sleep for ms milliseconds. */
static void
misc_sleep(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The last request the look-alike received. */
static json_t *
misc_last_request(void)
{
	json_t	*reqs, *last;

	reqs = mock_get(misc_mock.port, "/mock/requests");
	ck_assert_uint_ge(json_array_size(reqs), 1);
	last = json_incref(json_array_get(reqs, json_array_size(reqs) - 1));
	json_decref(reqs);
	return (last);
}

START_TEST(first_turn_sends_the_message_as_query)
{
	struct http_response	 r;
	json_t			*q;
	char			*body, host[64];

	body = chat_body("Just this", NULL, 0, 0);
	ck_assert_int_eq(http_chat(misc_proxy.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	q = misc_last_request();
	ck_assert_str_eq(json_string_value(json_object_get(q, "query")),
	    "Just this");
	/* Always streamed from Dify, whatever the client asked. */
	ck_assert_str_eq(json_string_value(json_object_get(q,
	    "response_mode")), "streaming");
	ck_assert_str_eq(json_string_value(json_object_get(q, "user")),
	    "openai-dify-proxy");
	ck_assert(json_is_null(json_object_get(q, "conversation_id")));
	ck_assert(json_is_object(json_object_get(q, "inputs")));
	ck_assert(json_is_false(json_object_get(q, "auto_generate_name")));
	harness_dify_host(misc_mock.port, host, sizeof(host));
	ck_assert_str_eq(json_string_value(json_object_get(q, "host")), host);
	ck_assert_str_eq(json_string_value(json_object_get(q,
	    "content_type")), "application/json");
	json_decref(q);
	free(body);
	http_response_free(&r);
}
END_TEST

START_TEST(history_and_system_prompt_become_a_transcript)
{
	static const char	 body[] = "{\"model\":\"gpt-4o\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"Be terse.\"},"
	    "{\"role\":\"user\",\"content\":\"Hi\"},"
	    "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
	    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"No emoji.\"}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"What is 2+2?\"},{\"type\":\"text\","
	    "\"text\":\"Answer briefly.\"}]}],"
	    "\"user\":\"carol\",\"temperature\":0.2,\"tools\":[],"
	    "\"unknown_field\":{\"x\":[1,2,3]}}";
	static const char	 want[] = "System: Be terse.\n\n"
	    "System: No emoji.\n\nUser: Hi\n\nAssistant: Hello!\n\n"
	    "User: What is 2+2?\nAnswer briefly.";
	struct http_response	 r;
	json_t			*q, *j;

	ck_assert_int_eq(http_chat(misc_proxy.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	q = misc_last_request();
	ck_assert_str_eq(json_string_value(json_object_get(q, "query")), want);
	ck_assert_str_eq(json_string_value(json_object_get(q, "user")),
	    "carol");
	json_decref(q);
	j = json_loads(r.body, 0, NULL);
	ck_assert(strncmp(json_string_value(json_object_get(json_object_get(
	    json_array_get(json_object_get(j, "choices"), 0), "message"),
	    "content")), "Echo: System: Be terse.", 23) == 0);
	json_decref(j);
	http_response_free(&r);
}
END_TEST

START_TEST(models_lists_the_app_and_caches_it)
{
	struct http_response	 r;
	json_t			*j, *stats;
	json_int_t		 calls;
	const char		*auth = "Authorization: Bearer app-chat\r\n";

	stats = mock_get(misc_mock.port, "/mock/stats");
	calls = json_integer_value(json_object_get(stats, "info_calls"));
	json_decref(stats);
	ck_assert_int_eq(http_request(misc_proxy.port, "GET", "/v1/models",
	    auth, NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "object")),
	    "list");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "data"), 0), "id")), "Mock Chat");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "data"), 0), "object")), "model");
	json_decref(j);
	http_response_free(&r);

	/* Cached: Dify is not asked again. */
	ck_assert_int_eq(http_request(misc_proxy.port, "GET", "/models", auth,
	    NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strstr(r.body, "Mock Chat") != NULL);
	http_response_free(&r);
	ck_assert_int_eq(http_request(misc_proxy.port, "GET",
	    "/v1/models/gpt-4o", auth, NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")),
	    "gpt-4o");
	json_decref(j);
	http_response_free(&r);
	/*
	 * One /info at most for all three: a chat request may have asked
	 * already (the app's mode and name share one cache).
	 */
	stats = mock_get(misc_mock.port, "/mock/stats");
	ck_assert_int_le(json_integer_value(json_object_get(stats,
	    "info_calls")), calls + 1);
	ck_assert_int_ge(json_integer_value(json_object_get(stats,
	    "info_calls")), 1);
	json_decref(stats);

	ck_assert_int_eq(http_request(misc_proxy.port, "GET", "/v1/models",
	    NULL, NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 401);
	http_response_free(&r);
	ck_assert_int_eq(http_request(misc_proxy.port, "GET", "/v1/models",
	    "Authorization: Bearer app-wrong\r\n", NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 401);
	ck_assert(strstr(r.body, "invalid_api_key") != NULL);
	http_response_free(&r);
}
END_TEST

START_TEST(cors_and_request_ids)
{
	struct http_response	 r;
	char			*h;

	ck_assert_int_eq(http_request(misc_proxy.port, "OPTIONS",
	    "/v1/chat/completions", "Origin: https://chat.example\r\n"
	    "Access-Control-Request-Method: POST\r\n"
	    "Access-Control-Request-Headers: authorization, content-type, "
	    "x-stainless-os\r\n", NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 204);
	h = http_header(&r, "Access-Control-Allow-Origin");
	ck_assert_str_eq(h, "*");
	free(h);
	h = http_header(&r, "Access-Control-Allow-Headers");
	ck_assert(strstr(h, "authorization") != NULL);
	ck_assert(strstr(h, "x-stainless-os") != NULL);
	free(h);
	http_response_free(&r);

	/* Preflight works on every route, known or not. */
	ck_assert_int_eq(http_request(misc_proxy.port, "OPTIONS", "/v1/models",
	    "Origin: https://chat.example\r\n", NULL, &r, 5000), 0);
	ck_assert_int_eq(r.status, 204);
	http_response_free(&r);

	ck_assert_int_eq(http_request(misc_proxy.port, "GET", "/healthz",
	    "Origin: https://chat.example\r\nX-Request-Id: my-req-42\r\n",
	    NULL, &r, 5000), 0);
	h = http_header(&r, "X-Request-Id");
	ck_assert_str_eq(h, "my-req-42");
	free(h);
	h = http_header(&r, "Access-Control-Expose-Headers");
	ck_assert(strstr(h, "retry-after") != NULL);
	free(h);
	http_response_free(&r);
}
END_TEST

START_TEST(access_log_line_per_exchange)
{
	struct http_response	 r;
	char			*body;

	body = chat_body("log me", NULL, 1, 0);
	ck_assert_int_eq(http_request(misc_proxy.port, "POST",
	    "/v1/chat/completions", "Authorization: Bearer app-chat\r\n"
	    "X-Request-Id: log-check-7\r\n", body, &r, 10000), 0);
	ck_assert_int_eq(r.status, 200);
	http_response_free(&r);
	misc_sleep(100);
	ck_assert(harness_log_contains(&misc_proxy, "access id=log-check-7 "
	    "method=POST path=/v1/chat/completions status=200 "
	    "upstream_status=200 stream=1 duration_ms="));
	ck_assert(harness_log_contains(&misc_proxy, "end=complete"));
	ck_assert(!harness_log_contains(&misc_proxy, "log me"));
	free(body);
}
END_TEST

/*
 * Dify sends one HTTP chunk per event.  Events that arrive together leave
 * in one write per loop turn, not one each; events that arrive apart each
 * leave at once, not held back for company.
 */
START_TEST(events_arriving_together_leave_together)
{
	struct http_response	 r;
	char			*body;
	long			 writes, events;

	body = chat_body("mock:events=200", NULL, 1, 0);
	ck_assert_int_eq(http_request(misc_proxy.port, "POST",
	    "/v1/chat/completions", "Authorization: Bearer app-chat\r\n"
	    "X-Request-Id: batch-200\r\n", body, &r, 10000), 0);
	ck_assert_int_eq(r.status, 200);
	http_response_free(&r);
	free(body);

	body = chat_body("mock:events=6 mock:interval=150", NULL, 1, 0);
	ck_assert_int_eq(http_request(misc_proxy.port, "POST",
	    "/v1/chat/completions", "Authorization: Bearer app-chat\r\n"
	    "X-Request-Id: paced-6\r\n", body, &r, 10000), 0);
	ck_assert_int_eq(r.status, 200);
	http_response_free(&r);
	free(body);
	misc_sleep(100);

	events = harness_log_number(&misc_proxy, "access id=batch-200 ",
	    "events");
	writes = harness_log_number(&misc_proxy, "access id=batch-200 ",
	    "writes");
	ck_assert_int_eq(events, 200);
	/*
	 * 200 events, 60 KB written at once: libevent alone would read them
	 * 4 KiB at a time, 15 reads and as many writes; the rest of a full
	 * read is taken from the socket at once, so a few writes carry all.
	 */
	ck_assert_int_gt(writes, 0);
	ck_assert_int_le(writes, 10);

	events = harness_log_number(&misc_proxy, "access id=paced-6 ",
	    "events");
	writes = harness_log_number(&misc_proxy, "access id=paced-6 ",
	    "writes");
	ck_assert_int_eq(events, 6);
	/* Each event 150 ms apart went out on its own. */
	ck_assert_int_ge(writes, 6);
}
END_TEST

START_TEST(upstream_connections_are_reused)
{
	struct http_response	 r;
	json_t			*stats;
	json_int_t		 before, after;
	char			*body;
	int			 i;

	body = chat_body("reuse", NULL, 1, 0);
	ck_assert_int_eq(http_chat(misc_proxy.port, "app-chat", body, &r), 0);
	http_response_free(&r);
	stats = mock_get(misc_mock.port, "/mock/stats");
	before = json_integer_value(json_object_get(stats,
	    "connections_accepted"));
	json_decref(stats);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(http_chat(misc_proxy.port, "app-chat", body,
		    &r), 0);
		ck_assert_int_eq(r.status, 200);
		http_response_free(&r);
	}
	stats = mock_get(misc_mock.port, "/mock/stats");
	after = json_integer_value(json_object_get(stats,
	    "connections_accepted"));
	json_decref(stats);
	/* Only the stats request itself was a new connection. */
	ck_assert_int_eq(after - before, 1);
	free(body);
}
END_TEST

/* Connections the look-alike has accepted so far. */
static json_int_t
misc_accepted(void)
{
	json_t		*stats;
	json_int_t	 n;

	stats = mock_get(misc_mock.port, "/mock/stats");
	n = json_integer_value(json_object_get(stats, "connections_accepted"));
	json_decref(stats);
	return (n);
}

/*
 * Stream a chat with the look-alike framing its chunks by hand (framing
 * names the variant); the answer must be exact and complete.  Returns how
 * many upstream connections the next request added: 1 (the stats call)
 * when the connection was kept, 2 when it was not.
 */
static json_int_t
misc_framed(const char *framing, int events)
{
	struct http_response	 r;
	char			 query[128], want[8192], *body;
	json_int_t		 before;
	struct sse_frames	 f;
	char			*got;

	snprintf(query, sizeof(query), "mock:events=%d mock:framing=%s",
	    events, framing);
	mock_words(events, want, sizeof(want));
	body = chat_body(query, NULL, 1, 0);
	ck_assert_int_eq(http_chat(misc_proxy.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	sse_split(r.body, r.bodylen, &f);
	got = sse_content(&f);
	ck_assert_str_eq(got, want);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	free(got);
	sse_frames_free(&f);
	http_response_free(&r);
	free(body);

	misc_sleep(50);
	before = misc_accepted();
	body = chat_body("after", NULL, 1, 0);
	ck_assert_int_eq(http_chat(misc_proxy.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	http_response_free(&r);
	free(body);
	return (misc_accepted() - before);
}

/*
 * The proxy reads Dify's chunked framing itself: extensions and trailers
 * are skipped and the connection kept; bytes after the body, or a close
 * before the last chunk, mean the connection is not used again.  Short
 * bodies come through libevent's reads; 300 events (90 KB at once) also
 * through the proxy's direct reads of the socket.
 */
START_TEST(dify_chunk_framing_is_read_exactly)
{
	ck_assert_int_eq(misc_framed("ext", 5), 1);
	ck_assert_int_eq(misc_framed("junk", 5), 2);
	ck_assert_int_eq(misc_framed("nolast", 5), 2);
	ck_assert_int_eq(misc_framed("ext", 300), 1);
	ck_assert_int_eq(misc_framed("junk", 300), 2);
	ck_assert_int_eq(misc_framed("nolast", 300), 2);
}
END_TEST

/* Malformed framing ends the stream with an error at once. */
START_TEST(malformed_chunk_framing_is_an_error)
{
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body;

	/* One event, a bad chunk, and the next event a second later. */
	body = chat_body("mock:events=3 mock:interval=1000 mock:framing=bad",
	    NULL, 1, 0);
	ck_assert_int_eq(http_chat(misc_proxy.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(r.elapsed_ms < 800);
	ck_assert(strstr(r.body, "\"content\":\"w0 \"") != NULL);
	sse_split(r.body, r.bodylen, &f);
	ck_assert(f.n >= 2);
	ck_assert(strstr(f.data[f.n - 1], "upstream_incomplete") != NULL);
	ck_assert(strstr(f.data[f.n - 1], "malformed chunked body") != NULL);
	ck_assert(strstr(r.body, "[DONE]") == NULL);
	sse_frames_free(&f);
	http_response_free(&r);
	free(body);
}
END_TEST

START_TEST(connection_closed_while_idle_is_replaced)
{
	struct proc		 idle_mock, p;
	struct http_response	 r;
	json_t			*stats;
	char			*body;
	int			 i;

	/* This Dify closes keep-alive connections idle for 1 s. */
	harness_mock_start(&idle_mock, "--idle-timeout 1");
	harness_proxy_start(&p, idle_mock.port, NULL);
	body = chat_body("before", NULL, 1, 0);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(http_chat(p.port, "app-chat", body, &r), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert(strstr(r.body, "[DONE]") != NULL);
		http_response_free(&r);
		/* The pooled connection dies while idle. */
		misc_sleep(1600);
	}
	ck_assert_int_eq(http_chat(p.port, "app-chat", body, &r), 0);
	ck_assert_int_eq(r.status, 200);
	http_response_free(&r);
	stats = mock_get(idle_mock.port, "/mock/stats");
	/* Three requests, three connections from the proxy (plus this one):
	 * each dead idle connection was replaced, never reused. */
	ck_assert_int_eq(json_integer_value(json_object_get(stats,
	    "connections_accepted")), 4);
	json_decref(stats);
	free(body);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
	ck_assert_int_eq(harness_proc_stop(&idle_mock), 0);
}
END_TEST

/*
 * The bytes of a POST /v1/chat/completions with body, as a client writes
 * them, in *req (the caller frees it); returns their length.
 */
static int
misc_chat_request(const char *body, char **req)
{
	return (asprintf(req, "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: x\r\nAuthorization: Bearer app-chat\r\nContent-Length: %zu"
	    "\r\n\r\n%s", strlen(body), body));
}

/* Wait up to ms for a process to exit; returns its status or -1. */
static int
misc_wait_exit(struct proc *p, int ms)
{
	int	status;

	for (; ms > 0; ms -= 20) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			return (status);
		}
		misc_sleep(20);
	}
	return (-1);
}

START_TEST(sigterm_lets_streams_finish)
{
	struct proc		 p;
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body, *req;
	int			 fd, n, status;

	harness_proxy_start(&p, misc_mock.port, "\"drain_timeout\": 10");
	body = chat_body("mock:events=10 mock:interval=100", NULL, 1, 0);
	fd = http_connect(p.port);
	n = misc_chat_request(body, &req);
	http_send_all(fd, req, (size_t)n);
	misc_sleep(250);
	kill(p.pid, SIGTERM);
	misc_sleep(100);
	/* No new connections while draining. */
	ck_assert_int_eq(http_connect(p.port), -1);
	ck_assert_int_eq(http_read_response(fd, &r, 10000), 0);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	sse_split(r.body, r.bodylen, &f);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	sse_frames_free(&f);
	status = misc_wait_exit(&p, 5000);
	ck_assert_msg(status == 0, "exit status %d", status);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
	free(req);
	free(body);
	http_response_free(&r);
}
END_TEST

/* Whether the server closes fd within ms, reading what comes before. */
static int
misc_closed_within(int fd, int ms)
{
	struct pollfd	pfd;
	char		buf[4096];
	double		end = harness_now_ms() + ms;
	ssize_t		n;

	while (harness_now_ms() < end) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(end - harness_now_ms()) + 1) <= 0)
			continue;
		if ((n = read(fd, buf, sizeof(buf))) == 0 ||
		    (n == -1 && errno == ECONNRESET))
			return (1);
	}
	return (0);
}

/*
 * Draining loses nothing a client sent: a request whose head came before
 * SIGTERM and whose body after is served (with Connection: close, and the
 * connection closed after it), not refused; connections with nothing
 * sent, fresh or kept alive, are closed at once; the running stream ends
 * whole; the worker exits when the last of them is gone.
 */
START_TEST(drain_serves_what_clients_sent)
{
	struct proc		 p;
	struct http_response	 r, kept;
	struct sse_frames	 f;
	char			*stream, *small, *req, *partial, *conn;
	int			 fa, fb, fk, fc, n, status;

	harness_proxy_start(&p, misc_mock.port, "\"drain_timeout\": 10");
	stream = chat_body("mock:events=20 mock:interval=100", NULL, 1, 0);
	small = chat_body("sent before the drain", NULL, 0, 0);
	fa = http_connect(p.port);
	n = misc_chat_request(stream, &req);
	ck_assert_int_eq(http_send_all(fa, req, (size_t)n), 0);
	free(req);
	/* A connection kept alive after one answer. */
	fk = http_connect(p.port);
	n = misc_chat_request(small, &req);
	ck_assert_int_eq(http_send_all(fk, req, (size_t)n), 0);
	free(req);
	ck_assert_int_eq(http_read_responses(fk, &kept, 1, 600), 1);
	ck_assert_int_eq(kept.status, 200);
	http_response_free(&kept);
	/* One that never sent a byte, and one with the head sent. */
	fb = http_connect(p.port);
	fc = http_connect(p.port);
	n = misc_chat_request(small, &partial);
	ck_assert_int_eq(http_send_all(fc, partial, (size_t)n - strlen(small)),
	    0);
	misc_sleep(200);
	kill(p.pid, SIGTERM);
	ck_assert_msg(misc_closed_within(fb, 1000), "fresh connection kept");
	ck_assert_msg(misc_closed_within(fk, 1000), "idle connection kept");
	/* The stream still runs: the request sent in part is finished. */
	ck_assert_int_eq(http_send_all(fc, partial + n - strlen(small),
	    strlen(small)), 0);
	ck_assert_int_eq(http_read_response(fc, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strstr(r.body, "chat.completion") != NULL);
	ck_assert_ptr_nonnull(conn = http_header(&r, "Connection"));
	ck_assert_str_eq(conn, "close");
	ck_assert(r.elapsed_ms < 4000);		/* closed, not timed out */
	free(conn);
	http_response_free(&r);
	ck_assert_int_eq(http_read_response(fa, &r, 10000), 0);
	ck_assert_int_eq(r.status, 200);
	sse_split(r.body, r.bodylen, &f);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	sse_frames_free(&f);
	ck_assert(r.elapsed_ms < 9000);		/* closed after it */
	http_response_free(&r);
	status = misc_wait_exit(&p, 5000);
	ck_assert_msg(status == 0, "exit status %d", status);
	ck_assert(harness_log_contains(&p, "draining: 2 connections hold "
	    "requests"));
	ck_assert_int_eq(harness_proc_stop(&p), 0);
	close(fa);
	close(fb);
	close(fc);
	close(fk);
	free(partial);
	free(small);
	free(stream);
}
END_TEST

/*
 * The harness learns a proxy's port from its log, and log names come
 * round again (a pid and a counter): a log an earlier run left under the
 * next name must not hand the harness its port.  CI failed this way
 * once: a stale "listening on" line sent a test's first request to a
 * port nothing listened on.  The first proxy is stopped the moment it
 * announces its port, which must drain it, not kill it: the single
 * process used to add its SIGTERM event only after that line.
 */
START_TEST(harness_ignores_a_stale_log)
{
	struct proc	p;
	struct http_response r;
	char		next[300], *dash;
	FILE		*f;
	int		n;

	harness_proxy_start(&p, misc_mock.port, NULL);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
	/* The name the next proxy gets: the same pid, the counter plus one. */
	ck_assert_ptr_nonnull(dash = strrchr(p.log, '-'));
	n = atoi(dash + 1);
	snprintf(next, sizeof(next), "%.*s-%d.log", (int)(dash - p.log),
	    p.log, n + 1);
	ck_assert_ptr_nonnull(f = fopen(next, "w"));
	fprintf(f, "openai-dify-proxy 0.1.0 listening on 127.0.0.1:1, "
	    "Dify at http://127.0.0.1:1/v1\n");
	fclose(f);
	harness_proxy_start(&p, misc_mock.port, NULL);
	ck_assert_str_eq(p.log, next);
	ck_assert_int_ne(p.port, 1);
	ck_assert_int_eq(http_request(p.port, "GET", "/healthz", NULL, NULL,
	    &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	http_response_free(&r);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/* The status and body of GET path on port (the body is copied out). */
static int
misc_get(int port, const char *path, char *body, size_t size)
{
	struct http_response	r;
	int			status;

	ck_assert_int_eq(http_request(port, "GET", path, NULL, NULL, &r, 5000),
	    0);
	status = r.status;
	snprintf(body, size, "%s", r.body != NULL ? r.body : "");
	http_response_free(&r);
	return (status);
}

/*
 * With ready_probe_interval, /readyz is 200 only while Dify answers the
 * probe: a proxy whose Dify is not there is alive (/healthz 200) but
 * not ready; one whose Dify answers (401 to the probe's key) is ready.
 */
START_TEST(readyz_probes_dify)
{
	struct proc	p, q;
	char		body[256], extra[256];
	int		i, port;

	harness_proxy_start(&p, misc_mock.port, "\"ready_probe_interval\": "
	    "0.2");
	for (i = 0; i < 50 && misc_get(p.port, "/readyz", body,
	    sizeof(body)) != 200; i++)
		misc_sleep(50);
	ck_assert_str_eq(body, "{\"status\":\"ready\"}");
	ck_assert_int_eq(harness_proc_stop(&p), 0);

	/* A port nothing listens on: the look-alike's, once it is gone. */
	harness_mock_start(&q, NULL);
	port = q.port;
	ck_assert_int_eq(harness_proc_stop(&q), 0);
	snprintf(extra, sizeof(extra), "\"ready_probe_interval\": 0.2, "
	    "\"dify_api_url\": \"http://127.0.0.1:%d/v1\"", port);
	harness_proxy_start(&p, misc_mock.port, extra);
	misc_sleep(700);
	ck_assert_int_eq(misc_get(p.port, "/readyz", body, sizeof(body)), 503);
	ck_assert_str_eq(body, "{\"status\":\"dify_unreachable\"}");
	ck_assert_int_eq(misc_get(p.port, "/healthz", body, sizeof(body)), 200);
	ck_assert(harness_log_contains(&p, "readiness: Dify did not answer"));
	ck_assert_int_eq(harness_proc_stop(&p), 0);
}
END_TEST

/*
 * /readyz: 200 while serving; on SIGTERM 503 at once, while the
 * listener stays open for drain_delay and requests are still answered
 * (a balancer's health check needs that long to notice); then the
 * listener closes and the running stream still ends whole.  /healthz
 * stays 200 throughout.
 */
START_TEST(readyz_turns_503_before_the_listener_closes)
{
	struct proc		 p;
	struct http_response	 r;
	struct sse_frames	 f;
	char			*body, *req, *late;
	int			 fd, n, status;

	harness_proxy_start(&p, misc_mock.port,
	    "\"drain_timeout\": 10, \"drain_delay\": 1");
	ck_assert_int_eq(http_request(p.port, "GET", "/readyz", NULL, NULL, &r,
	    5000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"status\":\"ready\"}");
	http_response_free(&r);
	body = chat_body("mock:events=15 mock:interval=100", NULL, 1, 0);
	fd = http_connect(p.port);
	n = misc_chat_request(body, &req);
	http_send_all(fd, req, (size_t)n);
	misc_sleep(100);
	kill(p.pid, SIGTERM);
	misc_sleep(100);
	/* Told to stop: not ready, but alive and still serving. */
	ck_assert_int_eq(http_request(p.port, "GET", "/readyz", NULL, NULL, &r,
	    5000), 0);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "{\"status\":\"draining\"}");
	http_response_free(&r);
	ck_assert_int_eq(http_request(p.port, "GET", "/healthz", NULL, NULL, &r,
	    5000), 0);
	ck_assert_int_eq(r.status, 200);
	http_response_free(&r);
	late = chat_body("late", NULL, 0, 0);
	ck_assert_int_eq(http_chat(p.port, "app-chat", late, &r), 0);
	free(late);
	ck_assert_int_eq(r.status, 200);
	http_response_free(&r);
	/* After the delay the listener is closed. */
	misc_sleep(1200);
	ck_assert_int_eq(http_connect(p.port), -1);
	ck_assert_int_eq(http_read_response(fd, &r, 10000), 0);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	sse_split(r.body, r.bodylen, &f);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	sse_frames_free(&f);
	status = misc_wait_exit(&p, 5000);
	ck_assert_msg(status == 0, "exit status %d", status);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
	free(req);
	free(body);
	http_response_free(&r);
}
END_TEST

START_TEST(drain_deadline_ends_long_streams)
{
	struct proc		 p;
	struct http_response	 r;
	char			*body, *req;
	json_t			*stops;
	int			 fd, n, status, i;

	mock_reset(misc_mock.port);
	harness_proxy_start(&p, misc_mock.port, "\"drain_timeout\": 0.5");
	body = chat_body("mock:events=100 mock:interval=100", NULL, 1, 0);
	fd = http_connect(p.port);
	n = misc_chat_request(body, &req);
	http_send_all(fd, req, (size_t)n);
	misc_sleep(300);
	kill(p.pid, SIGTERM);
	ck_assert_int_eq(http_read_response(fd, &r, 10000), 0);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strstr(r.body, "shutting_down") != NULL);
	ck_assert(strstr(r.body, "[DONE]") == NULL);
	status = misc_wait_exit(&p, 5000);
	ck_assert_msg(status == 0, "exit status %d", status);
	ck_assert_int_eq(harness_proc_stop(&p), 0);
	/* Dify was told to stop the task it could not finish. */
	for (i = 0, stops = NULL; i < 40; i++) {
		json_decref(stops);
		stops = mock_get(misc_mock.port, "/mock/stops");
		if (json_array_size(stops) > 0)
			break;
		misc_sleep(50);
	}
	ck_assert_uint_eq(json_array_size(stops), 1);
	json_decref(stops);
	free(req);
	free(body);
	http_response_free(&r);
}
END_TEST

/* Make a self-signed certificate for "localhost" (no IP SAN). */
static void
misc_make_cert(char *cert, char *key, size_t size)
{
	char	cmd[1024];

	snprintf(cert, size, "/tmp/odp-tls-%d.crt", (int)getpid());
	snprintf(key, size, "/tmp/odp-tls-%d.key", (int)getpid());
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes "
	    "-keyout %s -out %s -days 2 -subj /CN=localhost "
	    "-addext subjectAltName=DNS:localhost >/dev/null 2>&1", key, cert);
	ck_assert_int_eq(system(cmd), 0);
}

/* One chat through a proxy; returns the status and checks the text. */
static int
misc_tls_chat(int port, const char *text)
{
	struct http_response	 r;
	char			*body, want[128];
	int			 status;

	body = chat_body(text, NULL, 0, 0);
	ck_assert_int_eq(http_chat(port, "app-chat", body, &r), 0);
	status = r.status;
	snprintf(want, sizeof(want), "Echo: %s", text);
	if (status == 200)
		ck_assert(strstr(r.body, want) != NULL);
	else
		ck_assert(strstr(r.body, "upstream_tls_error") != NULL);
	free(body);
	http_response_free(&r);
	return (status);
}

/*
 * The value of a sample line in a scrape, given what precedes the value
 * ("name{labels} "), or -1.  Only at a line's start: not a # HELP line.
 */
static long
misc_sample(const char *scrape, const char *sample)
{
	const char	*at = scrape;
	size_t		 n = strlen(sample);

	while ((at = strstr(at, sample)) != NULL) {
		if (at == scrape || at[-1] == '\n')
			return (atol(at + n));
		at += n;
	}
	return (-1);
}

START_TEST(tls_upstream_is_verified)
{
	struct proc		tls_mock, p;
	struct http_response	r;
	char			cert[128], key[128], args[512], extra[512];

	misc_make_cert(cert, key, sizeof(cert));
	snprintf(args, sizeof(args), "--tls-cert %s --tls-key %s", cert, key);
	harness_mock_start(&tls_mock, args);

	/*
	 * Right name, trusted CA: works, also after the connection closes.
	 * The second connection resumes the first one's TLS session (as
	 * nginx's proxy_ssl_session_reuse), the fourth request reuses it
	 * with no handshake, and /metrics counts both kinds.
	 */
	snprintf(extra, sizeof(extra), "\"dify_api_url\": "
	    "\"https://localhost:%d/v1\", \"tls_ca_file\": \"%s\"",
	    tls_mock.port, cert);
	harness_proxy_start(&p, 0, extra);
	ck_assert_int_eq(misc_tls_chat(p.port, "secure"), 200);
	ck_assert_int_eq(misc_tls_chat(p.port, "bye mock:close_after_end"),
	    200);
	ck_assert_int_eq(misc_tls_chat(p.port, "again"), 200);
	ck_assert_int_eq(misc_tls_chat(p.port, "and again"), 200);
	ck_assert_int_eq(http_request(p.metrics_port, "GET", "/metrics", NULL,
	    NULL, &r, 5000), 0);
	ck_assert_int_eq(misc_sample(r.body, "odp_upstream_tls_handshakes_total"
	    "{resumed=\"false\"} "), 1);
	ck_assert_int_eq(misc_sample(r.body, "odp_upstream_tls_handshakes_total"
	    "{resumed=\"true\"} "), 1);
	ck_assert_int_eq(misc_sample(r.body,
	    "odp_upstream_connections_opened_total "), 2);
	http_response_free(&r);
	ck_assert_int_eq(harness_proc_stop(&p), 0);

	/* The certificate does not name 127.0.0.1: refused. */
	snprintf(extra, sizeof(extra), "\"dify_api_url\": "
	    "\"https://127.0.0.1:%d/v1\", \"tls_ca_file\": \"%s\"",
	    tls_mock.port, cert);
	harness_proxy_start(&p, 0, extra);
	ck_assert_int_eq(misc_tls_chat(p.port, "mismatch"), 502);
	ck_assert_int_eq(harness_proc_stop(&p), 0);

	/* Not signed by a CA in the system store: refused. */
	snprintf(extra, sizeof(extra), "\"dify_api_url\": "
	    "\"https://localhost:%d/v1\"", tls_mock.port);
	harness_proxy_start(&p, 0, extra);
	ck_assert_int_eq(misc_tls_chat(p.port, "untrusted"), 502);
	ck_assert_int_eq(harness_proc_stop(&p), 0);

	/* Verification switched off on purpose: works. */
	snprintf(extra, sizeof(extra), "\"dify_api_url\": "
	    "\"https://127.0.0.1:%d/v1\", \"tls_verify\": false",
	    tls_mock.port);
	harness_proxy_start(&p, 0, extra);
	ck_assert_int_eq(misc_tls_chat(p.port, "trusting"), 200);
	ck_assert_int_eq(harness_proc_stop(&p), 0);

	ck_assert_int_eq(harness_proc_stop(&tls_mock), 0);
	unlink(cert);
	unlink(key);
}
END_TEST

/* A request to the look-alike by openssl s_client, saving or resuming. */
static void
misc_s_client(int port, const char *how, const char *sess)
{
	char	cmd[1024];

	/*
	 * Its input stays open for 2 s, past the look-alike's close: s_client
	 * would stop at the end of its input, maybe before the TLS 1.3
	 * tickets that come after the handshake.
	 */
	snprintf(cmd, sizeof(cmd), "(printf 'GET /v1/ HTTP/1.1\\r\\nHost: "
	    "localhost\\r\\nConnection: close\\r\\n\\r\\n'; sleep 2) | "
	    "timeout 10 openssl s_client -connect 127.0.0.1:%d -quiet "
	    "-no_ign_eof %s %s >/dev/null 2>&1", port, how, sess);
	/* Not its status: evhttp closes without close_notify, an error. */
	ck_assert_int_ne(system(cmd), -1);
}

/* GET /mock/stats over TLS with curl (one full handshake of its own). */
static json_t *
misc_tls_stats(int port, const char *cert)
{
	char		 cmd[1024], buf[4096];
	FILE		*f;
	size_t		 n;
	json_t		*v;

	snprintf(cmd, sizeof(cmd), "curl -s -m 10 --cacert %s --resolve "
	    "localhost:%d:127.0.0.1 https://localhost:%d/mock/stats", cert,
	    port, port);
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	pclose(f);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(v = json_loads(buf, 0, NULL));
	return (v);
}

/* The look-alike lets clients resume; it counts full and resumed handshakes. */
START_TEST(tls_look_alike_counts_handshakes)
{
	struct proc	tls_mock;
	char		cert[128], key[128], args[512], sess[160];
	json_t		*stats;

	misc_make_cert(cert, key, sizeof(cert));
	snprintf(sess, sizeof(sess), "%s.session", cert);
	snprintf(args, sizeof(args), "--tls-cert %s --tls-key %s", cert, key);
	harness_mock_start(&tls_mock, args);

	/* TLS 1.3 (a ticket), then TLS 1.2 (a session id or a ticket). */
	misc_s_client(tls_mock.port, "-sess_out", sess);
	misc_s_client(tls_mock.port, "-sess_in", sess);
	misc_s_client(tls_mock.port, "-tls1_2 -sess_out", sess);
	misc_s_client(tls_mock.port, "-tls1_2 -sess_in", sess);
	stats = misc_tls_stats(tls_mock.port, cert);
	ck_assert_int_eq(json_integer_value(json_object_get(stats,
	    "tls_handshakes_full")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(stats,
	    "tls_handshakes_resumed")), 2);
	json_decref(stats);

	ck_assert_int_eq(harness_proc_stop(&tls_mock), 0);
	unlink(sess);
	unlink(cert);
	unlink(key);
}
END_TEST

/* The misc suite. */
Suite *
it_misc_suite(void)
{
	Suite	*s = suite_create("misc");
	TCase	*tc = tcase_create("misc");

	tcase_add_unchecked_fixture(tc, misc_setup, misc_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, first_turn_sends_the_message_as_query);
	tcase_add_test(tc, history_and_system_prompt_become_a_transcript);
	tcase_add_test(tc, models_lists_the_app_and_caches_it);
	tcase_add_test(tc, cors_and_request_ids);
	tcase_add_test(tc, access_log_line_per_exchange);
	tcase_add_test(tc, events_arriving_together_leave_together);
	tcase_add_test(tc, dify_chunk_framing_is_read_exactly);
	tcase_add_test(tc, malformed_chunk_framing_is_an_error);
	tcase_add_test(tc, upstream_connections_are_reused);
	tcase_add_test(tc, connection_closed_while_idle_is_replaced);
	tcase_add_test(tc, sigterm_lets_streams_finish);
	tcase_add_test(tc, drain_serves_what_clients_sent);
	tcase_add_test(tc, drain_deadline_ends_long_streams);
	tcase_add_test(tc, readyz_turns_503_before_the_listener_closes);
	tcase_add_test(tc, readyz_probes_dify);
	tcase_add_test(tc, harness_ignores_a_stale_log);
	tcase_add_test(tc, tls_upstream_is_verified);
	tcase_add_test(tc, tls_look_alike_counts_handshakes);
	suite_add_tcase(s, tc);
	return (s);
}
