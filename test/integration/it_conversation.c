/*
 * it_conversation: conversation continuity through the real proxy and
 * the Dify look-alike, which keeps conversations as Dify does (unknown
 * or another user's ids get 404 "Conversation Not Exists.").  Each turn
 * resends the whole history, as OpenAI clients do; what Dify received
 * (the look-alike's records) shows whether only the new message went,
 * and in which conversation.  mock:recall makes the look-alike answer
 * "turns=N", N being the turns the conversation held before.
 *
 * The store is the in-process table unless a case starts a
 * redis-server: then two proxies share it, and Redis going away or
 * hanging must cost continuity, never a request.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "it_suites.h"

static struct proc	cv_mock, cv_proxy, cv_proxy2, cv_redis;

/* What one turn gave the client. */
struct cv_turn {
	int	 status;
	char	*answer;	/* the content, joined for streams */
	char	*conv;		/* X-Dify-Conversation-Id, or NULL */
	char	*body_conv;	/* a non-stream body's conversation_id */
	int	 error_frame;	/* a stream ended with an error */
};

/* One look-alike; the case starts its own proxies. */
static void
cv_setup_mock(void)
{
	harness_mock_start(&cv_mock, NULL);
	memset(&cv_proxy, 0, sizeof(cv_proxy));
	memset(&cv_proxy2, 0, sizeof(cv_proxy2));
	memset(&cv_redis, 0, sizeof(cv_redis));
}

/* One look-alike and one proxy with the in-process store. */
static void
cv_setup(void)
{
	cv_setup_mock();
	harness_proxy_start(&cv_proxy, cv_mock.port, NULL);
}

/* Stop everything; each must exit cleanly with no sanitizer report. */
static void
cv_teardown(void)
{
	int	rc = harness_proc_stop(&cv_proxy);
	int	rc2 = harness_proc_stop(&cv_proxy2);
	int	mrc = harness_proc_stop(&cv_mock);

	harness_proc_stop(&cv_redis);
	ck_assert_msg(rc == 0 && rc2 == 0, "proxy did not shut down cleanly");
	ck_assert_msg(mrc == 0, "look-alike did not shut down cleanly");
}

/* Free what a turn holds. */
static void
cv_turn_free(struct cv_turn *t)
{
	free(t->answer);
	free(t->conv);
	free(t->body_conv);
	memset(t, 0, sizeof(*t));
}

/* Append a message to a history. */
static void
cv_add(json_t *msgs, const char *role, const char *content)
{
	json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", role,
	    "content", content));
}

/*
 * Send the history to port as key (stream or not; extra members merged
 * into the body, headers added) and read the answer into t.
 */
static void
cv_send(int port, const char *key, json_t *msgs, int stream,
    const char *extra, const char *headers, struct cv_turn *t)
{
	struct http_response	 r;
	struct sse_frames	 f;
	json_t			*body, *j, *more;
	char			*text, hdrs[1024];
	size_t			 i;

	memset(t, 0, sizeof(*t));
	body = json_pack("{s:O,s:b,s:s}", "messages", msgs, "stream", stream,
	    "user", "alice");
	if (extra != NULL) {
		more = json_loads(extra, 0, NULL);
		ck_assert_ptr_nonnull(more);
		json_object_update(body, more);
		json_decref(more);
	}
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	snprintf(hdrs, sizeof(hdrs), "Authorization: Bearer %s\r\n%s", key,
	    headers != NULL ? headers : "");
	ck_assert_int_eq(http_request(port, "POST", "/v1/chat/completions",
	    hdrs, text, &r, 10000), 0);
	free(text);
	t->status = r.status;
	t->conv = http_header(&r, "X-Dify-Conversation-Id");
	if (r.status == 200 && stream) {
		sse_split(r.body, r.bodylen, &f);
		t->answer = sse_content(&f);
		for (i = 0; i < f.n; i++)
			if (strstr(f.data[i], "\"error\"") != NULL)
				t->error_frame = 1;
		sse_frames_free(&f);
	} else if (r.status == 200) {
		j = json_loads(r.body, 0, NULL);
		ck_assert_ptr_nonnull(j);
		t->answer = strdup(json_string_value(json_object_get(
		    json_object_get(json_array_get(json_object_get(j,
		    "choices"), 0), "message"), "content")));
		if (json_is_string(json_object_get(j, "conversation_id")))
			t->body_conv = strdup(json_string_value(
			    json_object_get(j, "conversation_id")));
		json_decref(j);
	}
	http_response_free(&r);
}

/*
 * The last chat-messages call the look-alike received: its query and
 * conversation_id ("" for none), copied into q and c.
 */
static void
cv_last_call(char *q, size_t qsize, char *c, size_t csize)
{
	json_t		*recs = mock_get(cv_mock.port, "/mock/requests");
	json_t		*r, *v;
	size_t		 i;

	ck_assert_ptr_nonnull(recs);
	q[0] = c[0] = '\0';
	for (i = json_array_size(recs); i-- > 0;) {
		r = json_array_get(recs, i);
		if (strcmp(json_string_value(json_object_get(r, "path")),
		    "/v1/chat-messages") != 0)
			continue;
		snprintf(q, qsize, "%s", json_string_value(json_object_get(r,
		    "query")));
		v = json_object_get(r, "conversation_id");
		snprintf(c, csize, "%s", json_is_string(v) ?
		    json_string_value(v) : "");
		break;
	}
	json_decref(recs);
}

/* Chat-messages calls the look-alike has received. */
static size_t
cv_calls(void)
{
	json_t	*recs = mock_get(cv_mock.port, "/mock/requests"), *r;
	size_t	 i, n = 0;

	json_array_foreach(recs, i, r) {
		if (strcmp(json_string_value(json_object_get(r, "path")),
		    "/v1/chat-messages") == 0)
			n++;
	}
	json_decref(recs);
	return (n);
}

/* True if s ends with tail (an agent's answer has a file link first). */
static int
cv_ends_with(const char *s, const char *tail)
{
	size_t	n = strlen(s), m = strlen(tail);

	return (n >= m && strcmp(s + n - m, tail) == 0);
}

/*
 * Run turns first..last of the chat in msgs on the given ports in turn
 * (alternating stream and not), checking that each turn sent Dify only
 * the new message, in conversation conv (NULL: the first turn starts
 * one), which held `held` turns before turn first.  Returns the
 * conversation id (the caller frees it).
 */
static char *
cv_chat(const int *ports, size_t nports, const char *key, json_t *msgs,
    int first, int last, const char *tag, char *conv, int held)
{
	struct cv_turn	 t;
	char		 text[128], want[32], q[4096], c[128];
	int		 i;

	for (i = first; i <= last; i++) {
		snprintf(text, sizeof(text), "%s turn %d mock:recall", tag, i);
		cv_add(msgs, "user", text);
		cv_send(ports[i % nports], key, msgs, i % 2, NULL, NULL, &t);
		ck_assert_int_eq(t.status, 200);
		ck_assert_ptr_nonnull(t.conv);
		cv_last_call(q, sizeof(q), c, sizeof(c));
		snprintf(want, sizeof(want), "turns=%d", held + i - first);
		ck_assert_msg(cv_ends_with(t.answer, want), "turn %d: %s, not %s",
		    i, t.answer, want);
		if (conv == NULL) {
			ck_assert_str_eq(c, "");
			conv = strdup(t.conv);
		} else {
			ck_assert_str_eq(q, text);	/* the new message only */
			ck_assert_str_eq(c, conv);
			ck_assert_str_eq(t.conv, conv);
		}
		if (!(i % 2))
			ck_assert_str_eq(t.body_conv, t.conv);
		cv_add(msgs, "assistant", t.answer);
		cv_turn_free(&t);
	}
	return (conv);
}

/* Two turns: the second sends only its message, in the first's place. */
START_TEST(it_conversation_two_turns)
{
	json_t	*msgs = json_array();
	int	 port = cv_proxy.port;
	char	*conv;

	cv_add(msgs, "system", "Be brief.");
	conv = cv_chat(&port, 1, "app-chat", msgs, 0, 1, "two", NULL, 0);
	ck_assert(harness_log_wait(&cv_proxy, "conversation=new", 2000));
	ck_assert(harness_log_wait(&cv_proxy, "conversation=continued", 2000));
	free(conv);
	json_decref(msgs);
}
END_TEST

/* Ten turns, streamed and not, on an agent and a chatflow app too. */
START_TEST(it_conversation_ten_turns)
{
	static const char *const keys[] = { "app-chat", "app-agent",
	    "app-chatflow" };
	json_t	*msgs;
	int	 port = cv_proxy.port;
	size_t	 k;
	char	*conv;

	for (k = 0; k < 3; k++) {
		msgs = json_array();
		conv = cv_chat(&port, 1, keys[k], msgs, 0, k == 0 ? 9 : 3,
		    keys[k], NULL, 0);
		free(conv);
		json_decref(msgs);
	}
}
END_TEST

/* Two chats of one user, interleaved, stay in their own conversations. */
START_TEST(it_conversation_parallel)
{
	json_t	*a = json_array(), *b = json_array();
	int	 port = cv_proxy.port;
	char	*ca = NULL, *cb = NULL;

	ca = cv_chat(&port, 1, "app-chat", a, 0, 0, "A", NULL, 0);
	cb = cv_chat(&port, 1, "app-chat", b, 0, 0, "B", NULL, 0);
	ck_assert_str_ne(ca, cb);
	cv_chat(&port, 1, "app-chat", a, 1, 2, "A", ca, 1);
	cv_chat(&port, 1, "app-chat", b, 1, 2, "B", cb, 1);
	free(ca);
	free(cb);
	json_decref(a);
	json_decref(b);
}
END_TEST

/* A history Dify does not hold (edited, shortened, other system prompt)
 * starts a new conversation with the whole transcript. */
START_TEST(it_conversation_edited)
{
	json_t		*msgs = json_array(), *m;
	struct cv_turn	 t;
	int		 port = cv_proxy.port;
	char		*conv, q[4096], c[128];
	size_t		 k;

	cv_add(msgs, "system", "Be brief.");
	conv = cv_chat(&port, 1, "app-chat", msgs, 0, 2, "E", NULL, 0);
	for (k = 0; k < 3; k++) {
		m = json_deep_copy(msgs);
		if (k == 0)
			json_object_set_new(json_array_get(m, 1), "content",
			    json_string("E turn 0, edited mock:recall"));
		else if (k == 1) {
			json_array_remove(m, 3);	/* turn 1 and its answer */
			json_array_remove(m, 3);
		} else
			json_object_set_new(json_array_get(m, 0), "content",
			    json_string("Be long."));
		cv_add(m, "user", "next mock:recall");
		cv_send(port, "app-chat", m, (int)k % 2, NULL, NULL, &t);
		ck_assert_int_eq(t.status, 200);
		ck_assert_str_eq(t.answer, "turns=0");
		ck_assert_str_ne(t.conv, conv);
		cv_last_call(q, sizeof(q), c, sizeof(c));
		ck_assert_str_eq(c, "");
		ck_assert_ptr_nonnull(strstr(q, "User: next mock:recall"));
		ck_assert_ptr_nonnull(strstr(q, "System: Be"));
		cv_turn_free(&t);
		json_decref(m);
	}
	free(conv);
	json_decref(msgs);
}
END_TEST

/*
 * Regenerate (the same history sent again) does not add a second answer
 * to Dify's conversation: it gets a new one with the transcript, which
 * the chat then continues.
 */
START_TEST(it_conversation_regenerate)
{
	json_t		*msgs = json_array(), *again;
	struct cv_turn	 t;
	int		 port = cv_proxy.port;
	char		*conv, q[4096], c[128];

	conv = cv_chat(&port, 1, "app-chat", msgs, 0, 1, "R", NULL, 0);
	/* Drop turn 1's answer and ask again. */
	again = json_deep_copy(msgs);
	json_array_remove(again, json_array_size(again) - 1);
	cv_send(port, "app-chat", again, 1, NULL, NULL, &t);
	ck_assert_int_eq(t.status, 200);
	ck_assert_str_eq(t.answer, "turns=0");
	ck_assert_str_ne(t.conv, conv);
	cv_last_call(q, sizeof(q), c, sizeof(c));
	ck_assert_str_eq(c, "");
	ck_assert_ptr_nonnull(strstr(q, "User: R turn 0 mock:recall"));
	free(conv);
	conv = strdup(t.conv);
	cv_add(again, "assistant", t.answer);
	cv_turn_free(&t);
	/* The regenerated answer is the way into the new conversation. */
	cv_chat(&port, 1, "app-chat", again, 2, 3, "R", conv, 1);
	free(conv);
	json_decref(again);
	json_decref(msgs);
}
END_TEST

/*
 * A conversation deleted in Dify: the next turn still gets its answer,
 * from a new conversation with the transcript, in the same request.
 */
START_TEST(it_conversation_deleted)
{
	json_t			*msgs = json_array();
	struct cv_turn		 t;
	struct http_response	 r;
	int			 port = cv_proxy.port;
	char			*conv, path[128], q[4096], c[128];
	size_t			 before;

	conv = cv_chat(&port, 1, "app-chat", msgs, 0, 1, "D", NULL, 0);
	snprintf(path, sizeof(path), "/v1/conversations/%s", conv);
	ck_assert_int_eq(http_request(cv_mock.port, "DELETE", path,
	    "Authorization: Bearer app-chat\r\n", "{\"user\":\"alice\"}", &r,
	    5000), 0);
	ck_assert_int_eq(r.status, 204);
	http_response_free(&r);
	before = cv_calls();
	cv_add(msgs, "user", "D turn 2 mock:recall");
	cv_send(port, "app-chat", msgs, 1, NULL, NULL, &t);
	ck_assert_int_eq(t.status, 200);
	ck_assert_int_eq(t.error_frame, 0);
	ck_assert_str_eq(t.answer, "turns=0");
	ck_assert_str_ne(t.conv, conv);
	/* Two calls: the lost conversation's 404, then the transcript. */
	ck_assert_uint_eq(cv_calls(), before + 2);
	cv_last_call(q, sizeof(q), c, sizeof(c));
	ck_assert_str_eq(c, "");
	ck_assert_ptr_nonnull(strstr(q, "User: D turn 0 mock:recall"));
	ck_assert(harness_log_wait(&cv_proxy, "conversation=lost", 2000));
	cv_turn_free(&t);
	free(conv);
	json_decref(msgs);
}
END_TEST

/*
 * Dify 1.13's chatflow workers report a lost conversation as the
 * stream's first event instead of a 404: that too reruns with the
 * transcript before anything reached the client.  (mock:error_nocode
 * sends exactly that event, and the transcript carries it again, so the
 * rerun fails too, as a new conversation: two calls, the second without
 * the id, and the client gets the error once.)
 */
START_TEST(it_conversation_deleted_in_stream)
{
	json_t		*msgs = json_array();
	struct cv_turn	 t;
	int		 port = cv_proxy.port;
	char		*conv, q[4096], c[128], extra[160];
	size_t		 before;

	conv = cv_chat(&port, 1, "app-chatflow", msgs, 0, 0, "L", NULL, 0);
	before = cv_calls();
	cv_add(msgs, "user", "L lost mock:error_nocode");
	snprintf(extra, sizeof(extra), "{\"conversation_id\":\"%s\"}", conv);
	cv_send(port, "app-chatflow", msgs, 1, extra, NULL, &t);
	ck_assert_uint_eq(cv_calls(), before + 2);
	cv_last_call(q, sizeof(q), c, sizeof(c));
	ck_assert_str_eq(c, "");
	ck_assert_ptr_nonnull(strstr(q, "User: L turn 0 mock:recall"));
	ck_assert(harness_log_wait(&cv_proxy, "conversation=lost", 2000));
	cv_turn_free(&t);
	free(conv);
	json_decref(msgs);
}
END_TEST

/* An answer cut by Dify is not remembered: what the client kept of it
 * does not continue the conversation. */
START_TEST(it_conversation_cut_answer)
{
	json_t		*msgs = json_array();
	struct cv_turn	 t;
	int		 port = cv_proxy.port;
	char		 q[4096], c[128];

	cv_add(msgs, "user", "C turn 0 mock:events=6 mock:cut=2");
	cv_send(port, "app-chat", msgs, 1, NULL, NULL, &t);
	ck_assert_int_eq(t.status, 200);
	ck_assert_int_eq(t.error_frame, 1);
	ck_assert(strlen(t.answer) > 0);
	cv_add(msgs, "assistant", t.answer);
	cv_turn_free(&t);
	/* (The transcript repeats mock:cut, so this answer is cut too.) */
	cv_add(msgs, "user", "C turn 1 mock:recall");
	cv_send(port, "app-chat", msgs, 0, NULL, NULL, &t);
	cv_last_call(q, sizeof(q), c, sizeof(c));
	ck_assert_str_eq(c, "");
	ck_assert_ptr_nonnull(strstr(q, "User: C turn 0"));
	cv_turn_free(&t);
	json_decref(msgs);
}
END_TEST

/*
 * A client that leaves before the answer ends, though it has all of its
 * text (Dify's end event is late): that answer is not remembered.
 */
START_TEST(it_conversation_abort)
{
	json_t		*msgs = json_array(), *b;
	struct cv_turn	 t;
	char		*body, req[8192], buf[16384], q[4096], c[128];
	char		 answer[256] = "", *at, *end;
	const char	*mark = "\"delta\":{\"content\":\"";
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd, len;
	double		 t0;

	cv_add(msgs, "user", "X turn 0 mock:events=2 mock:interval=700");
	b = json_pack("{s:O,s:b,s:s}", "messages", msgs, "stream", 1, "user",
	    "alice");
	body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	len = snprintf(req, sizeof(req), "POST /v1/chat/completions HTTP/1.1"
	    "\r\nHost: x\r\nAuthorization: Bearer app-chat\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(body),
	    body);
	free(body);
	ck_assert_int_ge(fd = http_connect(cv_proxy.port), 0);
	ck_assert_int_eq(http_send_all(fd, req, (size_t)len), 0);
	/* Both pieces come by 0.7 s, the end event at 1.4 s: leave at 1 s. */
	t0 = harness_now_ms();
	while (harness_now_ms() - t0 < 1000 && got < sizeof(buf) - 1) {
		harness_sleep_ms(50);
		while ((n = recv(fd, buf + got, sizeof(buf) - 1 - got,
		    MSG_DONTWAIT)) > 0)
			got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	ck_assert_ptr_null(strstr(buf, "[DONE]"));
	for (at = buf; (at = strstr(at, mark)) != NULL; at = end) {
		at += strlen(mark);
		ck_assert_ptr_nonnull(end = strchr(at, '"'));
		if (end > at)
			strncat(answer, at, (size_t)(end - at));
	}
	ck_assert_msg(strlen(answer) > 0, "no content before leaving");
	harness_sleep_ms(800);	/* the exchange is over */
	ck_assert(harness_log_wait(&cv_proxy, "end=client_gone", 2000));
	cv_add(msgs, "assistant", answer);
	cv_add(msgs, "user", "X turn 1 mock:recall");
	cv_send(cv_proxy.port, "app-chat", msgs, 0, NULL, NULL, &t);
	ck_assert_int_eq(t.status, 200);
	ck_assert_str_eq(t.answer, "turns=0");
	cv_last_call(q, sizeof(q), c, sizeof(c));
	ck_assert_str_eq(c, "");
	cv_turn_free(&t);
	json_decref(msgs);
}
END_TEST

/* Open WebUI's background tasks are one-shot and leave the chat as it
 * was: its next turn still continues. */
START_TEST(it_conversation_task_prompt)
{
	json_t		*msgs = json_array(), *task;
	struct cv_turn	 t;
	int		 port = cv_proxy.port;
	char		*conv, q[4096], c[128];

	conv = cv_chat(&port, 1, "app-chat", msgs, 0, 1, "T", NULL, 0);
	task = json_deep_copy(msgs);
	cv_add(task, "user", "### Task:\nGenerate a concise title for the "
	    "chat history.\n<chat_history>...</chat_history>");
	cv_send(port, "app-chat", task, 0, NULL, NULL, &t);
	ck_assert_int_eq(t.status, 200);
	ck_assert_str_ne(t.conv, conv);
	cv_last_call(q, sizeof(q), c, sizeof(c));
	ck_assert_str_eq(c, "");
	cv_turn_free(&t);
	/* Twice: a task never consumes or replaces the chat's entry. */
	cv_send(port, "app-chat", task, 1, NULL, NULL, &t);
	ck_assert_int_eq(t.status, 200);
	cv_turn_free(&t);
	cv_chat(&port, 1, "app-chat", msgs, 2, 3, "T", conv, 2);
	free(conv);
	json_decref(task);
	json_decref(msgs);
}
END_TEST

/* A client may name the conversation, in the body or a header. */
START_TEST(it_conversation_named)
{
	json_t		*msgs = json_array(), *other;
	struct cv_turn	 t;
	int		 port = cv_proxy.port;
	char		*conv, q[4096], c[128], extra[160], hdr[160];

	conv = cv_chat(&port, 1, "app-chat", msgs, 0, 0, "N", NULL, 0);
	/* A different history, but the conversation named in the body. */
	other = json_array();
	cv_add(other, "user", "named in body mock:recall");
	snprintf(extra, sizeof(extra), "{\"conversation_id\":\"%s\"}", conv);
	cv_send(port, "app-chat", other, 0, extra, NULL, &t);
	ck_assert_int_eq(t.status, 200);
	ck_assert_str_eq(t.answer, "turns=1");
	ck_assert_str_eq(t.conv, conv);
	ck_assert_str_eq(t.body_conv, conv);
	cv_last_call(q, sizeof(q), c, sizeof(c));
	ck_assert_str_eq(c, conv);
	ck_assert_str_eq(q, "named in body mock:recall");
	cv_turn_free(&t);
	/* In the header, streamed. */
	snprintf(hdr, sizeof(hdr), "X-Dify-Conversation-Id: %s\r\n", conv);
	cv_send(port, "app-chat", other, 1, NULL, hdr, &t);
	ck_assert_int_eq(t.status, 200);
	ck_assert_str_eq(t.answer, "turns=2");
	ck_assert_str_eq(t.conv, conv);
	cv_turn_free(&t);
	/* An id no Dify could have made is the caller's to fix. */
	cv_send(port, "app-chat", other, 0, "{\"conversation_id\":\"a b\"}",
	    NULL, &t);
	ck_assert_int_eq(t.status, 400);
	cv_turn_free(&t);
	cv_send(port, "app-chat", other, 0, NULL,
	    "X-Dify-Conversation-Id: {x;y}\r\n", &t);
	ck_assert_int_eq(t.status, 400);
	cv_turn_free(&t);
	free(conv);
	json_decref(other);
	json_decref(msgs);
}
END_TEST

/* Continuity off, globally or for one app: every turn a transcript. */
START_TEST(it_conversation_off)
{
	json_t		*msgs;
	struct cv_turn	 t;
	char		 q[4096], c[128];
	int		 pass;

	for (pass = 0; pass < 2; pass++) {
		harness_proxy_start(&cv_proxy, cv_mock.port, pass == 0 ?
		    "\"continuity\": false" :
		    "\"apps\": [{\"model\": \"m\", \"key\": \"app-chat\", "
		    "\"continuity\": false}]");
		msgs = json_array();
		cv_add(msgs, "user", "O turn 0");
		cv_send(cv_proxy.port, "app-chat", msgs, 0,
		    "{\"model\":\"m\"}", NULL, &t);
		ck_assert_int_eq(t.status, 200);
		cv_add(msgs, "assistant", t.answer);
		cv_turn_free(&t);
		cv_add(msgs, "user", "O turn 1 mock:recall");
		cv_send(cv_proxy.port, "app-chat", msgs, 1, "{\"model\":\"m\"}",
		    NULL, &t);
		ck_assert_int_eq(t.status, 200);
		ck_assert_str_eq(t.answer, "turns=0");
		cv_last_call(q, sizeof(q), c, sizeof(c));
		ck_assert_str_eq(c, "");
		ck_assert_ptr_nonnull(strstr(q, "User: O turn 0"));
		cv_turn_free(&t);
		json_decref(msgs);
		ck_assert_int_eq(harness_proc_stop(&cv_proxy), 0);
	}
}
END_TEST

/* Workers share one table: turns on new connections land on any. */
START_TEST(it_conversation_workers)
{
	json_t	*msgs = json_array();
	int	 port;
	char	*conv;

	harness_proxy_start(&cv_proxy, cv_mock.port, "\"workers\": 3");
	port = cv_proxy.port;
	conv = cv_chat(&port, 1, "app-chat", msgs, 0, 9, "W", NULL, 0);
	free(conv);
	json_decref(msgs);
}
END_TEST

/* Start redis and two proxies that keep conversations in it. */
static void
cv_redis_proxies(const char *more)
{
	char	extra[256];

	harness_redis_start(&cv_redis, 0);
	snprintf(extra, sizeof(extra), "\"redis_url\": "
	    "\"redis://127.0.0.1:%d/3\"%s", cv_redis.port, more);
	harness_proxy_start(&cv_proxy, cv_mock.port, extra);
	harness_proxy_start(&cv_proxy2, cv_mock.port, extra);
	harness_sleep_ms(200);	/* both connect in the background */
}

/* Two instances behind a load balancer continue each other's turns. */
START_TEST(it_conversation_redis_shared)
{
	json_t	*msgs = json_array();
	int	 ports[2];
	char	*conv;

	cv_redis_proxies("");
	ports[0] = cv_proxy.port;
	ports[1] = cv_proxy2.port;
	conv = cv_chat(ports, 2, "app-chat", msgs, 0, 5, "S", NULL, 0);
	ck_assert(harness_log_contains(&cv_proxy, "conversations: in Redis"));
	free(conv);
	json_decref(msgs);
}
END_TEST

/*
 * Redis killed mid-run: every request still answers, from transcripts;
 * Redis back: continuity back, without restarting the proxies.
 */
START_TEST(it_conversation_redis_down)
{
	json_t		*msgs = json_array();
	struct cv_turn	 t;
	int		 ports[2], port, i;
	char		*conv, q[4096], c[128];

	cv_redis_proxies("");
	ports[0] = cv_proxy.port;
	ports[1] = cv_proxy2.port;
	conv = cv_chat(ports, 2, "app-chat", msgs, 0, 1, "K", NULL, 0);
	port = cv_redis.port;
	harness_proc_kill(&cv_redis);
	for (i = 2; i < 6; i++) {
		cv_add(msgs, "user", "K down mock:recall");
		cv_send(ports[i % 2], "app-chat", msgs, i % 2, NULL, NULL, &t);
		ck_assert_int_eq(t.status, 200);
		ck_assert_int_eq(t.error_frame, 0);
		ck_assert_str_eq(t.answer, "turns=0");
		cv_last_call(q, sizeof(q), c, sizeof(c));
		ck_assert_str_eq(c, "");
		cv_add(msgs, "assistant", t.answer);
		cv_turn_free(&t);
	}
	ck_assert(harness_log_contains(&cv_proxy, "continue from the "
	    "transcript"));
	harness_redis_start(&cv_redis, port);
	for (i = 0; i < 300 && !(harness_log_contains(&cv_proxy,
	    "conversations are shared again") && harness_log_contains(
	    &cv_proxy2, "conversations are shared again")); i++)
		harness_sleep_ms(10);
	free(conv);
	json_decref(msgs);
	msgs = json_array();
	conv = cv_chat(ports, 2, "app-chat", msgs, 0, 3, "K2", NULL, 0);
	free(conv);
	json_decref(msgs);
}
END_TEST

/* Redis that hangs: requests wait redis_timeout, then use transcripts. */
START_TEST(it_conversation_redis_hangs)
{
	json_t		*msgs = json_array();
	struct cv_turn	 t;
	double		 t0;
	int		 port;
	char		*conv, q[4096], c[128];

	cv_redis_proxies(", \"redis_timeout\": 0.3");
	port = cv_proxy.port;
	conv = cv_chat(&port, 1, "app-chat", msgs, 0, 1, "H", NULL, 0);
	kill(cv_redis.pid, SIGSTOP);
	cv_add(msgs, "user", "H hung mock:recall");
	t0 = harness_now_ms();
	cv_send(port, "app-chat", msgs, 1, NULL, NULL, &t);
	ck_assert_int_eq(t.status, 200);
	ck_assert_str_eq(t.answer, "turns=0");
	ck_assert_msg(harness_now_ms() - t0 < 5000, "the request waited on "
	    "Redis");
	cv_last_call(q, sizeof(q), c, sizeof(c));
	ck_assert_str_eq(c, "");
	ck_assert(harness_log_contains(&cv_proxy, "no answer within "
	    "redis_timeout"));
	cv_turn_free(&t);
	kill(cv_redis.pid, SIGCONT);
	free(conv);
	json_decref(msgs);
}
END_TEST

/* The conversation suite. */
Suite *
it_conversation_suite(void)
{
	Suite	*s = suite_create("conversation");
	TCase	*tc = tcase_create("memory");
	TCase	*tr = tcase_create("redis");

	tcase_add_checked_fixture(tc, cv_setup, cv_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, it_conversation_two_turns);
	tcase_add_test(tc, it_conversation_ten_turns);
	tcase_add_test(tc, it_conversation_parallel);
	tcase_add_test(tc, it_conversation_edited);
	tcase_add_test(tc, it_conversation_regenerate);
	tcase_add_test(tc, it_conversation_deleted);
	tcase_add_test(tc, it_conversation_deleted_in_stream);
	tcase_add_test(tc, it_conversation_cut_answer);
	tcase_add_test(tc, it_conversation_abort);
	tcase_add_test(tc, it_conversation_task_prompt);
	tcase_add_test(tc, it_conversation_named);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, cv_setup_mock, cv_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, it_conversation_off);
	tcase_add_test(tc, it_conversation_workers);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tr, cv_setup_mock, cv_teardown);
	tcase_set_timeout(tr, 60);
	tcase_add_test(tr, it_conversation_redis_shared);
	tcase_add_test(tr, it_conversation_redis_down);
	tcase_add_test(tr, it_conversation_redis_hangs);
	suite_add_tcase(s, tr);
	return (s);
}
