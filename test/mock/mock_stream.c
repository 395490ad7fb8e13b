/*
 * stream: one generation (a POST /v1/chat-messages, /v1/completion-messages
 * or /v1/workflows/run that passed validation) from the handler until
 * libevent is done with its request.  The app kind picks the wrapper keys
 * (chat: event, conversation_id, message_id, created_at; completion: no
 * conversation_id; workflow: event, workflow_run_id) and the events; the
 * pieces, the gates and the failure directives are shared.
 *
 * A stream follows a plan, a short list of steps built once from the app
 * kind and the directives (workflow_started, the answer pieces,
 * message_end, ...).  stream_pump walks the plan and formats each data
 * event into s->out and hands it to evhttp as one HTTP chunk, as Dify's
 * gunicorn does; it stops at a gate (first_delay, interval, or more
 * than MOCK_HIWAT bytes queued) and is resumed by a timer or by the
 * evhttp drain callback.  With mock:fragment the formatted bytes go to
 * s->frag instead and leave in 1-7 byte slices, one per millisecond.
 *
 * Lifetime.  libevent owns the request; we hold s->req until either
 *   - the response is finished: evhttp_send_done calls stream_req_done
 *     (on_complete), where we clear the connection's closecb because it
 *     outlives the request on keep-alive connections; or
 *   - the connection dies first (peer close, our mock:cut, evhttp_free):
 *     evhttp_connection_free calls stream_conn_closed (closecb).  If the
 *     request was orphaned (evhttp_request_get_connection == NULL) it is
 *     ours to free; otherwise libevent frees it right after.
 * Both end in stream_finish, which runs once and releases the timers and
 * buffers.  The struct itself stays on the record list for /mock/streams;
 * an unlisted finished stream is freed later from the reaper event, so no
 * caller ever holds a dangling pointer in the middle of a callback chain.
 *
 * Conversations.  A chat-family stream that answers (not an HTTP error)
 * appends its turn to its conversation (conv_begin, which creates a new
 * one under the id made here) when it is set up, and keeps the answer
 * pieces it sends in s->answer.  message_end (workflow_finished on a
 * 1.13.0 chatflow, which has none) or the blocking body stores that answer
 * as complete; stream_finish stores what there was, incomplete, for a
 * stream that never got there (stopped, cut, failed, or the client left).
 *
 * Before the headers go out (mock:slow_headers, mock:hang_headers) evhttp
 * has EV_READ off and would not notice the peer leaving, so a separate
 * EV_READ|EV_CLOSED event watches the socket (stream_peer_event); when the
 * peer is gone we answer 499 with "Connection: close" and evhttp cleans
 * up through its normal paths.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "mock.h"

#define STREAM_MARK		"@@MOCK_ANSWER@@"
#define STREAM_MAXPLAN		32
#define STREAM_ECHO_PIECE	8	/* bytes per echo event */
#define STREAM_BYTES_PIECE	1000	/* bytes per mock:bytes event */
#define STREAM_KEEPALIVE_MS	200	/* pings after an error event */
#define STREAM_BLOCKED_US	500000	/* a longer drain wait is "blocked" */
#define STREAM_REPLACED		"Replaced: content policy"
#define STREAM_FILE_URL		"https://files.example/mock/image-1.png"
#define STREAM_FAIL		"boom in node llm"
#define STREAM_WF_FAIL		"mock failure"	/* workflow apps */
#define STREAM_STOPPED		"Stopped by user."
#define STREAM_THINK		"<think>\nThe user wants a mock answer.\n" \
				"</think>\n\n"
#define STREAM_THINK_PIECE	8	/* bytes per think piece */
#define STREAM_SPLIT_MAX	(16 * 1024 * 1024)	/* mock:split text */

enum step_kind {
	ST_PING,		/* event: ping (not a data event) */
	ST_WF_STARTED,
	ST_NODE_STARTED,	/* arg: node index */
	ST_NODE_FINISHED,	/* arg: node index */
	ST_THOUGHT,		/* arg: which agent_thought */
	ST_FILE,		/* a real message_file event */
	ST_PIECES,		/* answer pieces until piece_idx == arg */
	ST_SILENT,		/* the same, but no events (no_text_chunk) */
	ST_REPLACE,
	ST_MESSAGE_END,
	ST_WF_FINISHED,
	ST_WF_FAILED,
	ST_WF_STOPPED,		/* after the workflow stop endpoint */
	ST_ERROR,		/* mock:error */
	ST_ERROR_NOCODE,	/* mock:error_nocode */
	ST_ERROR_FIRST,		/* mock:error_first */
	ST_ERROR_RUN_FAILED,	/* chatflow <= 1.12 after a failed run */
	ST_KEEPALIVE,		/* pings every 200 ms until the peer goes */
	ST_HANG,		/* nothing at all until the peer leaves */
	ST_CUT,			/* shut the socket down */
	ST_END			/* finish the response */
};

enum stream_state {
	SS_RUNNING,
	SS_COMPLETED,
	SS_CLIENT_CLOSED,
	SS_CUT
};

enum stream_timer {
	TW_HEADERS,
	TW_FIRST,
	TW_INTERVAL
};

struct step {
	enum step_kind	 kind;
	long long	 arg;
};

struct stream {
	TAILQ_ENTRY(stream)	 live_entry;
	TAILQ_ENTRY(stream)	 rec_entry;
	int			 live;		/* on stream_live */
	int			 listed;	/* on stream_records */
	int			 done;		/* stream_finish ran */
	int			 started;	/* headers sent */
	int			 ended;		/* final reply call */
	enum stream_state	 state;
	enum stream_reply	 reply;
	struct evhttp_request	*req;

	const struct mock_app	*app;
	struct directives	 d;
	char			*key;
	char			*user;
	char			*query;
	size_t			 query_len;
	json_t			*inputs;
	char			 task_id[37];
	char			 message_id[37];
	char			 conversation_id[37];
	char			 run_id[37];
	char			 workflow_id[37];
	char			 node_exec[3][37];
	char			 thought_id[2][37];
	char			 file_id[37];
	char			 end_user[37];
	long long		 created_at;
	long long		 start_us;
	long long		 first_piece_us;

	/* The answer. */
	char			*text;		/* echo text */
	size_t			*offs;		/* echo piece starts */
	long long		 npieces;
	long long		 nthink;	/* mock:think pieces first */
	int			 split_text;	/* mock:split: text is all */
	long long		 piece_idx;	/* pieces emitted so far */
	int			 nodes_run;	/* node_started sent */
	struct mbuf		 answer;	/* accumulated, if needed */
	int			 keep_answer;	/* all of it: events repeat it */
	int			 turn_open;	/* a conversation turn waits */
	int			 replaced;	/* message_replace went out */
	long long		 turns_before;	/* earlier turns (mock:recall) */

	struct step		 plan[STREAM_MAXPLAN];
	int			 nplan;
	int			 step;

	/* Formatting. */
	int			 jstyle;
	const char		*eol;
	char			*pre;		/* piece event before answer */
	size_t			 pre_len;
	char			*suf;		/* and after it */
	size_t			 suf_len;
	struct mbuf		 fmt;
	struct mbuf		 tmp;
	struct mbuf		 batch;		/* framed chunks, unsent */
	struct evbuffer		*out;		/* formatted, unsent */
	struct evbuffer		*frag;		/* mock:fragment queue */
	struct evbuffer		*slice;

	/* Scheduling. */
	struct event		*ev_timer;
	struct event		*ev_ping;
	struct event		*ev_frag;
	struct event		*ev_closed;	/* pre-header watcher */
	struct event		*ev_poll;	/* its fallback timer */
	evutil_socket_t		 watch_fd;
	enum stream_timer	 timer_why;
	int			 need_first_delay;
	int			 interval_ok;
	int			 wait_drain;
	long long		 wait_since;
	int			 wait_quiet;
	int			 stopping;
	unsigned int		 frag_seed;

	/* Statistics for /mock/streams. */
	unsigned long long	 events_sent;
	int			 framing_broken;	/* mock:framing=bad sent */
	unsigned long long	 bytes_sent;
	size_t			 max_pending;
	int			 blocked;

	/* RK_HTTPERR. */
	int			 status;
	int			 retry_after;
	struct mbuf		 body;
};

TAILQ_HEAD(stream_list, stream);

static struct stream_list stream_live = TAILQ_HEAD_INITIALIZER(stream_live);
static struct stream_list stream_records =
    TAILQ_HEAD_INITIALIZER(stream_records);
static struct stream_list stream_dead = TAILQ_HEAD_INITIALIZER(stream_dead);
static int		 stream_nrecords;
static int		 stream_nrunning;
static struct event_base *stream_base;
static struct event	*stream_reaper;
static char		 stream_pattern[STREAM_BYTES_PIECE + 16];
static char		 stream_app_id[37];

struct stream_node {
	const char	*id;
	const char	*type;
	const char	*title;
	const char	*pred;
};

static const struct stream_node stream_nodes[3] = {
	{ "start", "start", "Start", NULL },
	{ "llm", "llm", "LLM", "start" },
	{ "answer", "answer", "Answer", "llm" }
};
static const struct stream_node stream_end_node =
	{ "end", "end", "End", "llm" };	/* a workflow's last node */

static void	stream_pump(struct stream *);
static void	stream_headers(struct stream *);

/* Whether the app is one of the chatflow flavours. */
static int
stream_is_chatflow(const struct stream *s)
{
	return (s->app->kind == APP_CHATFLOW ||
	    s->app->kind == APP_CHATFLOW_OLD ||
	    s->app->kind == APP_CHATFLOW_1130);
}

/* Whether the app is a workflow app (POST /v1/workflows/run). */
static int
stream_is_workflow(const struct stream *s)
{
	return (s->app->kind == APP_WORKFLOW);
}

/* Whether the stream runs a graph: chatflow or workflow. */
static int
stream_is_flow(const struct stream *s)
{
	return (stream_is_chatflow(s) || stream_is_workflow(s));
}

/* Whether the app keeps conversations: chat, agent and chatflow apps. */
static int
stream_has_conversation(const struct stream *s)
{
	return (s->app->kind != APP_WORKFLOW &&
	    s->app->kind != APP_COMPLETION);
}

/*
 * The turn is over: store its answer (the moderation text after a
 * message_replace) in the conversation, complete or not.  Once.
 */
static void
stream_turn_end(struct stream *s, int complete)
{
	if (!s->turn_open)
		return;
	s->turn_open = 0;
	if (s->replaced)
		conv_end(s->conversation_id, s->message_id, STREAM_REPLACED,
		    sizeof(STREAM_REPLACED) - 1, complete);
	else
		conv_end(s->conversation_id, s->message_id, s->answer.p,
		    s->answer.len, complete);
}

/* Node i of the graph: start, llm, then answer (chatflow) or end. */
static const struct stream_node *
stream_node(const struct stream *s, int i)
{
	if (i == 2 && stream_is_workflow(s))
		return (&stream_end_node);
	return (&stream_nodes[i]);
}

/* Free the memory of a stream that libevent no longer references. */
static void
stream_free(struct stream *s)
{
	free(s->key);
	free(s->user);
	free(s);
}

/* Free the finished streams that nobody lists any more. */
static void
stream_reap(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*s;

	(void)fd;
	(void)what;
	(void)arg;
	while ((s = TAILQ_FIRST(&stream_dead)) != NULL) {
		TAILQ_REMOVE(&stream_dead, s, live_entry);
		stream_free(s);
	}
}

/* Free an event if there is one and clear the pointer. */
static void
stream_event_free(struct event **ev)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
}

/*
 * The stream is over for good: release everything but the record.  Runs
 * exactly once, from on_complete, from the closecb, or at shutdown.
 */
static void
stream_finish(struct stream *s, enum stream_state st)
{
	if (s->done)
		return;
	s->done = 1;
	s->req = NULL;
	if (s->state == SS_RUNNING)
		s->state = st;
	if (s->wait_drain && util_mono_us() - s->wait_since > STREAM_BLOCKED_US)
		s->blocked = 1;
	s->wait_drain = 0;
	stream_event_free(&s->ev_timer);
	stream_event_free(&s->ev_ping);
	stream_event_free(&s->ev_frag);
	stream_event_free(&s->ev_closed);
	stream_event_free(&s->ev_poll);
	if (s->out != NULL)
		evbuffer_free(s->out);
	if (s->frag != NULL)
		evbuffer_free(s->frag);
	if (s->slice != NULL)
		evbuffer_free(s->slice);
	s->out = s->frag = s->slice = NULL;
	json_decref(s->inputs);
	s->inputs = NULL;
	free(s->query);
	free(s->text);
	free(s->offs);
	free(s->pre);
	free(s->suf);
	s->query = s->text = s->pre = s->suf = NULL;
	s->offs = NULL;
	stream_turn_end(s, 0);
	mbuf_free(&s->answer);
	mbuf_free(&s->fmt);
	mbuf_free(&s->tmp);
	mbuf_free(&s->batch);
	mbuf_free(&s->body);
	if (s->reply == RK_SSE)
		stream_nrunning--;
	TAILQ_REMOVE(&stream_live, s, live_entry);
	s->live = 0;
	if (!s->listed) {
		TAILQ_INSERT_TAIL(&stream_dead, s, live_entry);
		event_active(stream_reaper, EV_TIMEOUT, 1);
	}
}

/* on_complete: libevent has sent the whole response and frees req next. */
static void
stream_req_done(struct evhttp_request *req, void *arg)
{
	struct stream			*s = arg;
	struct evhttp_connection	*evcon;

	if ((evcon = evhttp_request_get_connection(req)) != NULL)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	stream_finish(s, SS_COMPLETED);
}

/* closecb: the connection is being freed before on_complete ran. */
static void
stream_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct stream	*s = arg;

	(void)evcon;
	if (s->done)
		return;
	/* Orphaned by evhttp_connection_incoming_fail: ours to free. */
	if (s->req != NULL && evhttp_request_get_connection(s->req) == NULL)
		evhttp_request_free(s->req);
	s->req = NULL;
	stream_finish(s, s->ended ? SS_COMPLETED : SS_CLIENT_CLOSED);
}

/* The bufferevent under the stream's connection, or NULL. */
static struct bufferevent *
stream_bev(const struct stream *s)
{
	struct evhttp_connection	*evcon;

	if (s->req == NULL ||
	    (evcon = evhttp_request_get_connection(s->req)) == NULL)
		return (NULL);
	return (evhttp_connection_get_bufferevent(evcon));
}

/* Bytes evhttp still has to write to the socket. */
static size_t
stream_bev_out(const struct stream *s)
{
	struct bufferevent	*bev;

	if ((bev = stream_bev(s)) == NULL)
		return (0);
	return (evbuffer_get_length(bufferevent_get_output(bev)));
}

/* Everything queued but not yet written to the socket. */
static size_t
stream_pending(const struct stream *s)
{
	size_t	n = stream_bev_out(s);

	if (s->out != NULL)
		n += evbuffer_get_length(s->out);
	n += s->batch.len;
	if (s->frag != NULL)
		n += evbuffer_get_length(s->frag);
	return (n);
}

/* Drain callback: evhttp flushed everything we handed it. */
static void
stream_drained(struct evhttp_connection *evcon, void *arg)
{
	struct stream	*s = arg;
	int		 pump = 0;

	(void)evcon;
	if (s->done)
		return;
	if (s->wait_drain) {
		if (util_mono_us() - s->wait_since > STREAM_BLOCKED_US)
			s->blocked = 1;
		s->wait_drain = 0;
		pump = 1;
	}
	if (s->wait_quiet) {
		s->wait_quiet = 0;
		pump = 1;
	}
	if (pump)
		stream_pump(s);
}

/*
 * mock:framing: write a chunk straight into the connection's output with
 * our own framing (the stream is short: no drain callback is needed).
 */
static void
stream_send_framed(struct stream *s, struct evbuffer *buf)
{
	struct evbuffer	*out = bufferevent_get_output(stream_bev(s));
	size_t		 len = evbuffer_get_length(buf);

	evbuffer_add_printf(out, "%zx%s\r\n", len,
	    s->d.framing == FRAMING_EXT ? " ;ext=\"v\";x" : "");
	evbuffer_add_buffer(out, buf);
	evbuffer_add(out, "\r\n", 2);
	if (s->d.framing == FRAMING_BAD && s->events_sent >= 1 &&
	    !s->framing_broken) {
		evbuffer_add_printf(out, "zz\r\nnot a chunk\r\n");
		s->framing_broken = 1;
	}
}

/*
 * mock:framing: end the body our way, then let evhttp finish the request
 * without a last chunk of its own.
 */
static void
stream_end_framed(struct stream *s)
{
	struct evbuffer	*out = bufferevent_get_output(stream_bev(s));

	if (s->d.framing == FRAMING_EXT)
		evbuffer_add_printf(out, "0;last\r\nX-Trailer: t\r\n\r\n");
	else if (s->d.framing == FRAMING_JUNK)
		evbuffer_add_printf(out, "0\r\n\r\nJUNK");
	else
		evbuffer_add_printf(out, "0\r\n\r\n");
	s->req->chunked = 0;
}

/* Hand a buffer to evhttp as one HTTP chunk. */
static void
stream_send(struct stream *s, struct evbuffer *buf)
{
	size_t	len = evbuffer_get_length(buf), pend;

	if (len == 0)
		return;
	if (stream_bev(s) == NULL) {
		evbuffer_drain(buf, len);
		return;
	}
	s->bytes_sent += len;
	if (s->d.framing != FRAMING_EVHTTP) {
		stream_send_framed(s, buf);
		return;
	}
	evhttp_send_reply_chunk_with_cb(s->req, buf, stream_drained, s);
	pend = stream_pending(s);
	if (pend > s->max_pending)
		s->max_pending = pend;
}

/* Whether events are framed into s->batch by us (the default framing). */
static int
stream_batches(const struct stream *s)
{
	return (s->d.framing == FRAMING_EVHTTP && !s->d.fragment &&
	    stream_bev(s) != NULL);
}

/* Append len bytes at p to s->batch as one HTTP chunk. */
static void
stream_batch_chunk(struct stream *s, const char *p, size_t len)
{
	mbuf_addnum(&s->batch, len, 16);
	mbuf_add(&s->batch, "\r\n", 2);
	mbuf_add(&s->batch, p, len);
	mbuf_add(&s->batch, "\r\n", 2);
	s->bytes_sent += len;
}

/*
 * Frame what was formatted as one HTTP chunk at the end of s->batch.
 * Events written at once still leave one chunk each, as gunicorn writes
 * them, but in one contiguous buffer: framing each through evhttp cost a
 * printf and a few evbuffer chains per event, which made the look-alike,
 * not the targets, the limit of the benchmark.
 */
static void
stream_frame(struct stream *s)
{
	size_t	len = evbuffer_get_length(s->out);

	if (len == 0)
		return;
	stream_batch_chunk(s, (const char *)evbuffer_pullup(s->out, -1), len);
	evbuffer_drain(s->out, len);
}

/* Queue one formatted event: framed straight into s->batch by default. */
static void
stream_out(struct stream *s, const char *p, size_t len)
{
	if (!stream_batches(s)) {
		evbuffer_add(s->out, p, len);
		return;
	}
	stream_frame(s);	/* a ping queued before it is a chunk of its own */
	stream_batch_chunk(s, p, len);
}

/* Hand s->batch to evhttp, which must not frame it again. */
static void
stream_send_batch(struct stream *s)
{
	size_t	pend;

	if (s->batch.len == 0)
		return;
	evbuffer_add(s->out, s->batch.p, s->batch.len);
	s->batch.len = 0;
	s->req->chunked = 0;
	evhttp_send_reply_chunk_with_cb(s->req, s->out, stream_drained, s);
	s->req->chunked = 1;
	pend = stream_pending(s);
	if (pend > s->max_pending)
		s->max_pending = pend;
}

/* Send (or, with mock:fragment, queue for slicing) what was formatted. */
static void
stream_flush(struct stream *s)
{
	struct timeval	tv;

	if (stream_batches(s)) {
		stream_frame(s);
		stream_send_batch(s);
		return;
	}
	s->batch.len = 0;
	if (evbuffer_get_length(s->out) == 0)
		return;
	if (!s->d.fragment) {
		stream_send(s, s->out);
		return;
	}
	evbuffer_add_buffer(s->frag, s->out);
	if (evtimer_pending(s->ev_frag, NULL) == 0)
		evtimer_add(s->ev_frag, util_tv_ms(&tv, 1));
	if (stream_pending(s) > s->max_pending)
		s->max_pending = stream_pending(s);
}

/* mock:fragment: send the next 1-7 bytes, one slice per millisecond. */
static void
stream_frag_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*s = arg;
	struct timeval	 tv;
	size_t		 n;

	(void)fd;
	(void)what;
	if (s->done)
		return;
	s->frag_seed = s->frag_seed * 1103515245u + 12345u;
	n = 1 + (s->frag_seed >> 16) % 7;
	evbuffer_remove_buffer(s->frag, s->slice, n);
	stream_send(s, s->slice);
	if (evbuffer_get_length(s->frag) > 0) {
		evtimer_add(s->ev_frag, util_tv_ms(&tv, 1));
		return;
	}
	if (s->wait_quiet) {
		s->wait_quiet = 0;
		stream_pump(s);
	}
}

/* Append a keepalive frame. */
static void
stream_add_ping(struct stream *s)
{
	evbuffer_add_printf(s->out, "event: ping%s%s", s->eol, s->eol);
}

/* Periodic ping: every 10 s (or ping_every), every 200 ms after errors. */
static void
stream_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*s = arg;

	(void)fd;
	(void)what;
	if (s->done || !s->started || s->ended)
		return;
	stream_add_ping(s);
	stream_flush(s);
}

/* Arm the one-shot scheduling timer. */
static void
stream_timer(struct stream *s, enum stream_timer why, long long ms)
{
	struct timeval	tv;

	s->timer_why = why;
	evtimer_add(s->ev_timer, util_tv_ms(&tv, ms));
}

/* The scheduling timer fired. */
static void
stream_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*s = arg;

	(void)fd;
	(void)what;
	if (s->done)
		return;
	switch (s->timer_why) {
	case TW_HEADERS:
		stream_headers(s);
		return;
	case TW_INTERVAL:
		s->interval_ok = 1;
		break;
	case TW_FIRST:
		break;
	}
	stream_pump(s);
}

/*
 * Open a data event with the app's wrapper keys: chat apps send event,
 * conversation_id, message_id, created_at; completion apps the same
 * without conversation_id; workflow apps event, workflow_run_id.
 */
static void
stream_head(struct stream *s, struct jw *w, const char *event)
{
	s->fmt.len = 0;
	mbuf_add(&s->fmt, "data: ", 6);
	jw_init(w, &s->fmt, s->jstyle);
	jw_obj(w);
	jw_key(w, "event");
	jw_str(w, event);
	if (stream_is_workflow(s)) {
		jw_key(w, "workflow_run_id");
		jw_str(w, s->run_id);
		return;
	}
	if (s->app->kind != APP_COMPLETION) {
		jw_key(w, "conversation_id");
		jw_str(w, s->conversation_id);
	}
	jw_key(w, "message_id");
	jw_str(w, s->message_id);
	jw_key(w, "created_at");
	jw_int(w, s->created_at);
}

/* Close a data event and queue it. */
static void
stream_tail(struct stream *s, struct jw *w)
{
	jw_close(w);
	mbuf_adds(&s->fmt, s->eol);
	mbuf_adds(&s->fmt, s->eol);
	stream_out(s, s->fmt.p, s->fmt.len);
}

/* Format a price in units of 1e-7 the way Decimal prints it. */
static void
stream_price(char *buf, size_t size, long long units)
{
	snprintf(buf, size, "%lld.%07lld", units / 10000000, units % 10000000);
}

/* Seconds since the request arrived, as a float. */
static double
stream_elapsed(const struct stream *s)
{
	return ((double)(util_mono_us() - s->start_us) / 1e6);
}

/* Token counts: 17 prompt tokens and one per piece, or mock:usage. */
static void
stream_tokens(const struct stream *s, long long *p, long long *c)
{
	*p = s->d.usage ? s->d.usage_p : 17;
	*c = s->d.usage ? s->d.usage_c : s->piece_idx;
}

/* Write the LLMUsage object, fields in Dify's declaration order. */
static void
stream_usage(struct stream *s, struct jw *w)
{
	char		pp[40], cp[40], tp[40];
	long long	p, c, pu, cu;

	stream_tokens(s, &p, &c);
	pu = (p * 15 + 5) / 10;		/* 0.15 per 1e6, half up */
	cu = c * 6;			/* 0.6 per 1e6 */
	stream_price(pp, sizeof(pp), pu);
	stream_price(cp, sizeof(cp), cu);
	stream_price(tp, sizeof(tp), pu + cu);
	jw_obj(w);
	jw_key(w, "prompt_tokens");
	jw_int(w, p);
	jw_key(w, "prompt_unit_price");
	jw_str(w, "0.15");
	jw_key(w, "prompt_price_unit");
	jw_str(w, "0.000001");
	jw_key(w, "prompt_price");
	jw_str(w, pp);
	jw_key(w, "completion_tokens");
	jw_int(w, c);
	jw_key(w, "completion_unit_price");
	jw_str(w, "0.6");
	jw_key(w, "completion_price_unit");
	jw_str(w, "0.000001");
	jw_key(w, "completion_price");
	jw_str(w, cp);
	jw_key(w, "total_tokens");
	jw_int(w, p + c);
	jw_key(w, "total_price");
	jw_str(w, tp);
	jw_key(w, "currency");
	jw_str(w, "USD");
	jw_key(w, "latency");
	jw_real(w, stream_elapsed(s));
	jw_key(w, "time_to_first_token");
	if (stream_is_chatflow(s) && s->first_piece_us != 0)
		jw_real(w, (double)(s->first_piece_us - s->start_us) / 1e6);
	else
		jw_raw(w, "null");
	jw_key(w, "time_to_generate");
	if (stream_is_chatflow(s) && s->first_piece_us != 0)
		jw_real(w, (double)(util_mono_us() - s->first_piece_us) / 1e6);
	else
		jw_raw(w, "null");
	jw_close(w);
}

/* The metadata object of message_end and of the blocking body. */
static void
stream_metadata(struct stream *s, struct jw *w)
{
	jw_obj(w);
	jw_key(w, "annotation_reply");
	jw_raw(w, "null");
	jw_key(w, "retriever_resources");
	jw_raw(w, "[]");
	jw_key(w, "usage");
	stream_usage(s, w);
	jw_close(w);
}

/* The text of answer piece i without mock:think or mock:split, into m. */
static void
stream_piece_base(struct stream *s, long long i, struct mbuf *m)
{
	long long	off, n;

	m->len = 0;
	if (s->d.stamp)
		mbuf_addf(m, "t=%lld ", util_mono_us());
	else if (s->d.bytes >= 0) {
		off = i * STREAM_BYTES_PIECE;
		n = s->d.bytes - off;
		if (n > STREAM_BYTES_PIECE)
			n = STREAM_BYTES_PIECE;
		mbuf_add(m, stream_pattern + off % 10, (size_t)n);
	} else if (s->d.events >= 0) {
		mbuf_addc(m, 'w');
		mbuf_addnum(m, (unsigned long long)i, 10);
		mbuf_addc(m, ' ');
	} else
		mbuf_add(m, s->text + s->offs[i], s->offs[i + 1] - s->offs[i]);
	if (s->d.piece > 0 && (s->d.events >= 0 || s->d.stamp))
		while ((long long)m->len < s->d.piece)
			mbuf_addc(m, 'x');
}

/* The text of answer piece i, unescaped, into m. */
static void
stream_piece(struct stream *s, long long i, struct mbuf *m)
{
	size_t	off, n;

	m->len = 0;
	if (s->split_text) {
		mbuf_add(m, s->text + s->offs[i], s->offs[i + 1] - s->offs[i]);
		return;
	}
	if (i < s->nthink) {
		off = (size_t)i * STREAM_THINK_PIECE;
		n = sizeof(STREAM_THINK) - 1 - off;
		if (n > STREAM_THINK_PIECE)
			n = STREAM_THINK_PIECE;
		mbuf_add(m, &STREAM_THINK[off], n);
		return;
	}
	stream_piece_base(s, i - s->nthink, m);
}

/*
 * mock:split=N: build the whole answer (think block included, at most
 * STREAM_SPLIT_MAX bytes, whole pieces) and cut it every N bytes, each
 * cut moved forward to the end of a UTF-8 character.
 */
static void
stream_split_init(struct stream *s)
{
	struct mbuf	 all = { NULL, 0, 0 };
	size_t		 len, start, end, n, step = (size_t)s->d.split;
	long long	 i;

	if (s->d.think)
		mbuf_add(&all, STREAM_THINK, sizeof(STREAM_THINK) - 1);
	for (i = 0; i < s->npieces; i++) {
		stream_piece_base(s, i, &s->tmp);
		if (all.len + s->tmp.len > STREAM_SPLIT_MAX)
			break;
		mbuf_add(&all, s->tmp.p, s->tmp.len);
	}
	s->tmp.len = 0;
	free(s->text);
	free(s->offs);
	len = all.len;
	s->text = all.p != NULL ? all.p : util_xstrdup("");
	s->offs = util_xcalloc(len / step + 2, sizeof(*s->offs));
	n = 0;
	for (start = 0; start < len; start = end) {
		end = len - start > step ? start + step : len;
		while (end < len &&
		    ((unsigned char)s->text[end] & 0xc0) == 0x80)
			end++;
		s->offs[n++] = start;
	}
	s->offs[n] = len;
	s->npieces = (long long)n;
	s->nthink = 0;
	s->split_text = 1;
}

/* Decide the pieces: echo, mock:events or mock:bytes; think, split. */
static void
stream_pieces_init(struct stream *s)
{
	size_t	len, start, end, n;

	if (s->d.bytes >= 0) {
		s->npieces = (s->d.bytes + STREAM_BYTES_PIECE - 1) /
		    STREAM_BYTES_PIECE;
		goto think;
	}
	if (s->d.events >= 0) {
		s->npieces = s->d.events;
		goto think;
	}
	/* "Echo: " + query in pieces of at most 8 bytes, whole characters. */
	if (s->d.recall) {
		/* mock:recall: what the conversation held before. */
		struct mbuf	c = { NULL, 0, 0 };

		mbuf_addf(&c, "turns=%lld", s->turns_before);
		len = c.len;
		s->text = c.p;
	} else if (s->d.tool_call[0] != '\0') {
		/* mock:tool_call=NAME: the model calls a client's function. */
		struct mbuf	c = { NULL, 0, 0 };

		mbuf_addf(&c, "<tool_call>{\"name\": \"%s\", \"arguments\": "
		    "{\"city\": \"Paris\"}}</tool_call>", s->d.tool_call);
		len = c.len;
		s->text = c.p;
	} else {
		len = 6 + s->query_len;
		s->text = util_xmalloc(len + 1);
		memcpy(s->text, "Echo: ", 6);
		memcpy(s->text + 6, s->query, s->query_len);
		s->text[len] = '\0';
	}
	s->offs = util_xcalloc(len + 1, sizeof(*s->offs));
	n = 0;
	for (start = 0; start < len; start = end) {
		end = start + STREAM_ECHO_PIECE;
		if (end >= len)
			end = len;
		else {
			while (end > start &&
			    ((unsigned char)s->text[end] & 0xc0) == 0x80)
				end--;
			if (end == start)
				end = start + STREAM_ECHO_PIECE;
		}
		s->offs[n++] = start;
	}
	s->offs[n] = len;
	s->npieces = (long long)n;
think:
	if (s->d.split > 0)
		stream_split_init(s);
	else if (s->d.think) {
		s->nthink = (long long)((sizeof(STREAM_THINK) - 1 +
		    STREAM_THINK_PIECE - 1) / STREAM_THINK_PIECE);
		s->npieces += s->nthink;
	}
}

/* Append one step to the plan. */
static void
stream_plan_add(struct stream *s, enum step_kind kind, long long arg)
{
	if (s->nplan >= STREAM_MAXPLAN)
		abort();
	s->plan[s->nplan].kind = kind;
	s->plan[s->nplan].arg = arg;
	s->nplan++;
}

/* The answer pieces up to lim, with mock:message_file's real file. */
static void
stream_plan_pieces(struct stream *s, long long lim)
{
	long long	half = s->npieces / 2;

	if (stream_is_workflow(s) && s->d.no_text_chunk) {
		stream_plan_add(s, ST_SILENT, lim);
		return;
	}
	if (s->d.message_file && half <= lim && !stream_is_workflow(s)) {
		stream_plan_add(s, ST_PIECES, half);
		stream_plan_add(s, ST_FILE, 0);
	}
	stream_plan_add(s, ST_PIECES, lim);
}

/* Build the event plan from the app kind and the directives. */
static void
stream_plan(struct stream *s)
{
	const struct directives	*d = &s->d;
	enum app_kind		 k = s->app->kind;
	int			 flow = stream_is_flow(s);
	long long		 lim = s->npieces;

	if (d->hang) {
		stream_plan_add(s, ST_HANG, 0);
		return;
	}
	if (k == APP_CHATFLOW || k == APP_CHATFLOW_1130 || k == APP_WORKFLOW)
		stream_plan_add(s, ST_PING, 0);
	if (d->error_nocode) {
		stream_plan_add(s, ST_ERROR_NOCODE, 0);
		stream_plan_add(s, ST_KEEPALIVE, 0);
		return;
	}
	if (d->error_first) {
		stream_plan_add(s, ST_ERROR_FIRST, 0);
		stream_plan_add(s, ST_END, 0);
		return;
	}
	if (flow) {
		stream_plan_add(s, ST_WF_STARTED, 0);
		stream_plan_add(s, ST_NODE_STARTED, 0);
		stream_plan_add(s, ST_NODE_FINISHED, 0);
		stream_plan_add(s, ST_NODE_STARTED, 1);
	} else if (k == APP_AGENT) {
		stream_plan_add(s, ST_THOUGHT, 0);
		stream_plan_add(s, ST_THOUGHT, 1);
		stream_plan_add(s, ST_THOUGHT, 2);
		stream_plan_add(s, ST_FILE, 0);
		stream_plan_add(s, ST_THOUGHT, 3);
	}
	if (flow && d->workflow_failed)
		lim = lim < 1 ? lim : 1;
	else if (d->error)
		lim = lim < 2 ? lim : 2;
	else if (d->cut)
		lim = lim < d->cut_after ? lim : d->cut_after;
	stream_plan_pieces(s, lim);
	if (flow && d->workflow_failed) {
		stream_plan_add(s, ST_WF_FAILED, 0);
		if (k == APP_CHATFLOW_OLD)
			stream_plan_add(s, ST_ERROR_RUN_FAILED, 0);
		stream_plan_add(s, ST_END, 0);
		return;
	}
	if (d->error) {
		stream_plan_add(s, ST_ERROR, 0);
		stream_plan_add(s, ST_KEEPALIVE, 0);
		return;
	}
	if (d->cut) {
		stream_plan_add(s, ST_CUT, 0);
		return;
	}
	if (k == APP_AGENT)
		stream_plan_add(s, ST_THOUGHT, 4);
	if (flow) {
		stream_plan_add(s, ST_NODE_FINISHED, 1);
		stream_plan_add(s, ST_NODE_STARTED, 2);
		stream_plan_add(s, ST_NODE_FINISHED, 2);
	}
	if (d->replace)
		stream_plan_add(s, ST_REPLACE, 0);
	switch (k) {
	case APP_CHATFLOW:
		stream_plan_add(s, ST_MESSAGE_END, 0);
		stream_plan_add(s, ST_WF_FINISHED, 0);
		break;
	case APP_CHATFLOW_OLD:
		stream_plan_add(s, ST_WF_FINISHED, 0);
		stream_plan_add(s, ST_MESSAGE_END, 0);
		break;
	case APP_CHATFLOW_1130:
	case APP_WORKFLOW:
		stream_plan_add(s, ST_WF_FINISHED, 0);
		break;
	default:
		stream_plan_add(s, ST_MESSAGE_END, 0);
		break;
	}
	stream_plan_add(s, ST_END, 0);
}

/* Pre-format the piece event around a marker, split into pre and suf. */
static void
stream_piece_format(struct stream *s)
{
	struct jw	 w;
	const char	*ev;
	char		*mark;
	size_t		 mlen = strlen(STREAM_MARK);
	int		 plain = 0;

	if (stream_is_workflow(s)) {
		stream_head(s, &w, "text_chunk");
		jw_key(&w, "task_id");
		jw_str(&w, s->task_id);
		jw_key(&w, "data");
		jw_obj(&w);
		jw_key(&w, "text");
		jw_str(&w, STREAM_MARK);
		jw_key(&w, "from_variable_selector");
		jw_arr(&w);
		jw_str(&w, "llm");
		jw_str(&w, "text");
		jw_close(&w);
		jw_close(&w);
		goto done;
	}
	if (s->d.message_file)
		ev = "message_file";
	else if (s->app->kind == APP_AGENT)
		ev = "agent_message";
	else {
		ev = "message";
		plain = 1;
	}
	stream_head(s, &w, ev);
	jw_key(&w, "task_id");
	jw_str(&w, s->task_id);
	jw_key(&w, "id");
	jw_str(&w, s->message_id);
	jw_key(&w, "answer");
	jw_str(&w, STREAM_MARK);
	if (plain) {
		jw_key(&w, "from_variable_selector");
		if (stream_is_chatflow(s)) {
			jw_arr(&w);
			jw_str(&w, "llm");
			jw_str(&w, "text");
			jw_close(&w);
		} else
			jw_raw(&w, "null");
	}
done:
	jw_close(&w);
	mbuf_adds(&s->fmt, s->eol);
	mbuf_adds(&s->fmt, s->eol);
	mark = memmem(s->fmt.p, s->fmt.len, STREAM_MARK, mlen);
	if (mark == NULL)
		abort();
	s->pre_len = (size_t)(mark - s->fmt.p);
	s->pre = util_xstrndup(s->fmt.p, s->pre_len);
	s->suf_len = s->fmt.len - s->pre_len - mlen;
	s->suf = util_xstrndup(mark + mlen, s->suf_len);
	s->fmt.len = 0;
}

/*
 * Keep an answer piece in s->answer: all of it when later events repeat
 * the answer, else, for the conversation turn, as much as conv_end stores
 * (a few bytes more, so that it can cut at a character's end).
 */
static void
stream_keep(struct stream *s, const char *p, size_t n)
{
	size_t	room;

	if (s->keep_answer) {
		mbuf_add(&s->answer, p, n);
		return;
	}
	if (!s->turn_open || s->answer.len >= CONV_TEXT_MAX + 4)
		return;
	room = CONV_TEXT_MAX + 4 - s->answer.len;
	mbuf_add(&s->answer, p, n < room ? n : room);
}

/* One answer piece as message, agent_message, message_file, text_chunk. */
static void
stream_ev_piece(struct stream *s)
{
	stream_piece(s, s->piece_idx, &s->tmp);
	if (s->first_piece_us == 0)
		s->first_piece_us = util_mono_us();
	stream_keep(s, s->tmp.p, s->tmp.len);
	s->fmt.len = 0;
	mbuf_reserve(&s->fmt, s->pre_len + s->tmp.len + s->suf_len + 16);
	mbuf_add(&s->fmt, s->pre, s->pre_len);
	jw_escape(&s->fmt, s->tmp.p, s->tmp.len, s->jstyle);
	mbuf_add(&s->fmt, s->suf, s->suf_len);
	stream_out(s, s->fmt.p, s->fmt.len);
	s->piece_idx++;
}

/* mock:no_text_chunk: make the pieces up to lim without sending them. */
static void
stream_silent(struct stream *s, long long lim)
{
	if (s->first_piece_us == 0 && s->piece_idx < lim)
		s->first_piece_us = util_mono_us();
	while (s->piece_idx < lim) {
		stream_piece(s, s->piece_idx, &s->tmp);
		stream_keep(s, s->tmp.p, s->tmp.len);
		s->piece_idx++;
	}
}

/* The accumulated answer as a string value. */
static void
stream_answer(struct stream *s, struct jw *w)
{
	jw_strn(w, s->answer.p != NULL ? s->answer.p : "", s->answer.len);
}

/* A workflow run's outputs object, shaped by mock:wf_outputs. */
static void
stream_wf_outputs(struct stream *s, struct jw *w)
{
	jw_obj(w);
	switch (s->d.wf_outputs) {
	case WFO_ANSWER:
		jw_key(w, "answer");
		stream_answer(s, w);
		break;
	case WFO_OUTPUT:
		jw_key(w, "output");
		stream_answer(s, w);
		break;
	case WFO_RESULT:
		jw_key(w, "result");
		stream_answer(s, w);
		break;
	case WFO_SINGLE:
		jw_key(w, "summary");
		stream_answer(s, w);
		jw_key(w, "count");
		jw_int(w, 3);
		break;
	case WFO_MULTI:
		jw_key(w, "title");
		jw_str(w, "T");
		jw_key(w, "body");
		stream_answer(s, w);
		break;
	case WFO_OBJECT:
		jw_key(w, "data");
		jw_obj(w);
		jw_key(w, "answer");
		stream_answer(s, w);
		jw_key(w, "n");
		jw_int(w, 1);
		jw_close(w);
		break;
	case WFO_NAMED:
		jw_key(w, "text");
		jw_str(w, "decoy");
		jw_key(w, "final");
		stream_answer(s, w);
		break;
	case WFO_NONE:
		break;
	default:
		jw_key(w, "text");
		stream_answer(s, w);
		break;
	}
	jw_close(w);
}

/*
 * agent_thought k: 0-2 the tool round at position 1 (empty, then the
 * thought with the calculator call, then its observation), 3-4 the answer
 * round at position 2.
 */
static void
stream_ev_thought(struct stream *s, int k)
{
	struct jw	w;
	int		tool = k == 1 || k == 2;

	stream_head(s, &w, "agent_thought");
	jw_key(&w, "task_id");
	jw_str(&w, s->task_id);
	jw_key(&w, "id");
	jw_str(&w, s->thought_id[k < 3 ? 0 : 1]);
	jw_key(&w, "position");
	jw_int(&w, k < 3 ? 1 : 2);
	jw_key(&w, "thought");
	if (k == 4)
		stream_answer(s, &w);
	else
		jw_str(&w, tool ? "I should use the calculator to work out "
		    "2+2." : "");
	jw_key(&w, "observation");
	jw_str(&w, k == 2 ? "{\"calculator\": \"4\"}" : "");
	jw_key(&w, "tool");
	jw_str(&w, tool ? "calculator" : "");
	jw_key(&w, "tool_labels");
	if (tool) {
		jw_obj(&w);
		jw_key(&w, "calculator");
		jw_obj(&w);
		jw_key(&w, "en_US");
		jw_str(&w, "Calculator");
		jw_key(&w, "zh_Hans");
		jw_str(&w, "\xe8\xae\xa1\xe7\xae\x97"
		    "\xe5\x99\xa8");		/* 计算器 */
		jw_close(&w);
		jw_close(&w);
	} else
		jw_raw(&w, "{}");
	jw_key(&w, "tool_input");
	jw_str(&w, tool ? "{\"calculator\": {\"expression\": \"2+2\"}}" : "");
	jw_key(&w, "message_files");
	jw_raw(&w, "[]");
	stream_tail(s, &w);
}

/* A real message_file event: a file, no answer. */
static void
stream_ev_file(struct stream *s)
{
	struct jw	w;

	stream_head(s, &w, "message_file");
	jw_key(&w, "task_id");
	jw_str(&w, s->task_id);
	jw_key(&w, "id");
	jw_str(&w, s->file_id);
	jw_key(&w, "type");
	jw_str(&w, "image");
	jw_key(&w, "belongs_to");
	jw_str(&w, "assistant");
	jw_key(&w, "url");
	jw_str(&w, STREAM_FILE_URL);
	stream_tail(s, &w);
}

/* message_replace (text_replace for workflows) after a moderation hit. */
static void
stream_ev_replace(struct stream *s)
{
	struct jw	w;

	if (stream_is_workflow(s)) {
		stream_head(s, &w, "text_replace");
		jw_key(&w, "task_id");
		jw_str(&w, s->task_id);
		jw_key(&w, "data");
		jw_obj(&w);
		jw_key(&w, "text");
		jw_str(&w, STREAM_REPLACED);
		jw_close(&w);
		stream_tail(s, &w);
		return;
	}
	s->replaced = 1;
	stream_head(s, &w, "message_replace");
	jw_key(&w, "task_id");
	jw_str(&w, s->task_id);
	jw_key(&w, "answer");
	jw_str(&w, STREAM_REPLACED);
	jw_key(&w, "reason");
	jw_str(&w, "");
	stream_tail(s, &w);
}

/* message_end with the usage so far. */
static void
stream_ev_message_end(struct stream *s)
{
	struct jw	w;

	stream_head(s, &w, "message_end");
	jw_key(&w, "task_id");
	jw_str(&w, s->task_id);
	jw_key(&w, "id");
	jw_str(&w, s->message_id);
	jw_key(&w, "metadata");
	stream_metadata(s, &w);
	jw_key(&w, "files");
	jw_raw(&w, stream_is_chatflow(s) ? "[]" : "null");
	stream_tail(s, &w);
}

/* An error event: wrapper keys, then code, status, message. */
static void
stream_ev_error(struct stream *s, const char *code, int status,
    const char *msg)
{
	struct jw	w;

	stream_head(s, &w, "error");
	jw_key(&w, "code");
	jw_str(&w, code);
	jw_key(&w, "status");
	jw_int(&w, status);
	jw_key(&w, "message");
	jw_str(&w, msg);
	stream_tail(s, &w);
}

/* The >= 1.13 worker-style error: no code, no ids. */
static void
stream_ev_error_nocode(struct stream *s)
{
	struct jw	w;

	s->fmt.len = 0;
	mbuf_add(&s->fmt, "data: ", 6);
	jw_init(&w, &s->fmt, s->jstyle);
	jw_obj(&w);
	jw_key(&w, "event");
	jw_str(&w, "error");
	jw_key(&w, "message");
	jw_str(&w, "Conversation Not Exists.");
	jw_key(&w, "status");
	jw_int(&w, 500);
	stream_tail(s, &w);
}

/* The workflow inputs: the request's inputs plus the sys.* variables. */
static void
stream_sys_inputs(struct stream *s, struct jw *w)
{
	const char	*k;
	json_t		*v;

	jw_obj(w);
	json_object_foreach(s->inputs, k, v) {
		jw_key(w, k);
		jw_json(w, v);
	}
	if (stream_is_workflow(s)) {
		jw_key(w, "sys.files");
		jw_raw(w, "[]");
		jw_key(w, "sys.user_id");
		jw_str(w, s->user);
		jw_key(w, "sys.app_id");
		jw_str(w, stream_app_id);
		jw_key(w, "sys.workflow_id");
		jw_str(w, s->workflow_id);
		jw_key(w, "sys.workflow_run_id");
		jw_str(w, s->run_id);
		jw_close(w);
		return;
	}
	jw_key(w, "sys.query");
	jw_strn(w, s->query, s->query_len);
	jw_key(w, "sys.files");
	jw_raw(w, "[]");
	jw_key(w, "sys.conversation_id");
	jw_str(w, s->conversation_id);
	jw_key(w, "sys.user_id");
	jw_str(w, s->user);
	jw_key(w, "sys.dialogue_count");
	jw_int(w, s->turns_before + 1);
	jw_key(w, "sys.app_id");
	jw_str(w, stream_app_id);
	jw_key(w, "sys.workflow_id");
	jw_str(w, s->workflow_id);
	jw_key(w, "sys.workflow_run_id");
	jw_str(w, s->run_id);
	jw_close(w);
}

/*
 * Open a workflow event: wrapper keys, task_id, workflow_run_id, data.  A
 * workflow app's wrapper already holds workflow_run_id, where Python's
 * dict.update leaves it.
 */
static void
stream_wf_head(struct stream *s, struct jw *w, const char *event)
{
	stream_head(s, w, event);
	jw_key(w, "task_id");
	jw_str(w, s->task_id);
	if (!stream_is_workflow(s)) {
		jw_key(w, "workflow_run_id");
		jw_str(w, s->run_id);
	}
	jw_key(w, "data");
	jw_obj(w);
}

/* workflow_started. */
static void
stream_ev_wf_started(struct stream *s)
{
	struct jw	w;

	stream_wf_head(s, &w, "workflow_started");
	jw_key(&w, "id");
	jw_str(&w, s->run_id);
	jw_key(&w, "workflow_id");
	jw_str(&w, s->workflow_id);
	jw_key(&w, "inputs");
	stream_sys_inputs(s, &w);
	jw_key(&w, "created_at");
	jw_int(&w, s->created_at);
	if (s->app->kind != APP_CHATFLOW_OLD) {
		jw_key(&w, "reason");
		jw_str(&w, "initial");
	}
	jw_close(&w);
	stream_tail(s, &w);
}

/* The keys node_started and node_finished share at the front of data. */
static void
stream_node_common(struct stream *s, struct jw *w, int i)
{
	const struct stream_node	*n = stream_node(s, i);

	jw_key(w, "id");
	jw_str(w, s->node_exec[i]);
	jw_key(w, "node_id");
	jw_str(w, n->id);
	jw_key(w, "node_type");
	jw_str(w, n->type);
	jw_key(w, "title");
	jw_str(w, n->title);
	jw_key(w, "index");
	jw_int(w, i + 1);
	jw_key(w, "predecessor_node_id");
	if (n->pred != NULL)
		jw_str(w, n->pred);
	else
		jw_raw(w, "null");
}

/* node_started for node i (start, llm, answer or end). */
static void
stream_ev_node_started(struct stream *s, int i)
{
	struct jw	w;

	s->nodes_run++;
	stream_wf_head(s, &w, "node_started");
	stream_node_common(s, &w, i);
	jw_key(&w, "inputs");
	jw_raw(&w, "null");
	jw_key(&w, "inputs_truncated");
	jw_raw(&w, "false");
	jw_key(&w, "created_at");
	jw_int(&w, (long long)time(NULL));
	jw_key(&w, "extras");
	jw_raw(&w, "{}");
	jw_key(&w, "iteration_id");
	jw_raw(&w, "null");
	jw_key(&w, "loop_id");
	jw_raw(&w, "null");
	jw_key(&w, "agent_strategy");
	jw_raw(&w, "null");
	jw_close(&w);
	stream_tail(s, &w);
}

/* node_finished for node i, with realistic inputs and outputs. */
static void
stream_ev_node_finished(struct stream *s, int i)
{
	struct jw	w;
	char		price[40];
	long long	p, c;

	stream_tokens(s, &p, &c);
	stream_wf_head(s, &w, "node_finished");
	stream_node_common(s, &w, i);
	jw_key(&w, "inputs");
	if (i == 0)
		stream_sys_inputs(s, &w);
	else
		jw_raw(&w, "null");
	jw_key(&w, "inputs_truncated");
	jw_raw(&w, "false");
	jw_key(&w, "process_data");
	if (i == 1) {
		jw_obj(&w);
		jw_key(&w, "model_mode");
		jw_str(&w, "chat");
		jw_key(&w, "prompts");
		jw_arr(&w);
		jw_obj(&w);
		jw_key(&w, "role");
		jw_str(&w, "user");
		jw_key(&w, "text");
		jw_strn(&w, s->query, s->query_len);
		jw_key(&w, "files");
		jw_raw(&w, "[]");
		jw_close(&w);
		jw_close(&w);
		jw_key(&w, "model_provider");
		jw_str(&w, "mock");
		jw_key(&w, "model_name");
		jw_str(&w, "mock-llm");
		jw_close(&w);
	} else
		jw_raw(&w, "null");
	jw_key(&w, "process_data_truncated");
	jw_raw(&w, "false");
	jw_key(&w, "outputs");
	if (i == 0)
		stream_sys_inputs(s, &w);
	else if (i == 1) {
		jw_obj(&w);
		jw_key(&w, "text");
		stream_answer(s, &w);
		jw_key(&w, "reasoning_content");
		jw_str(&w, "");
		jw_key(&w, "usage");
		stream_usage(s, &w);
		jw_key(&w, "finish_reason");
		jw_str(&w, "stop");
		jw_close(&w);
	} else if (stream_is_workflow(s))
		stream_wf_outputs(s, &w);
	else {
		jw_obj(&w);
		jw_key(&w, "answer");
		stream_answer(s, &w);
		jw_key(&w, "files");
		jw_raw(&w, "[]");
		jw_close(&w);
	}
	jw_key(&w, "outputs_truncated");
	jw_raw(&w, "false");
	jw_key(&w, "status");
	jw_str(&w, "succeeded");
	jw_key(&w, "error");
	jw_raw(&w, "null");
	jw_key(&w, "elapsed_time");
	jw_real(&w, i == 1 ? stream_elapsed(s) : 0.004);
	jw_key(&w, "execution_metadata");
	if (i == 1) {
		stream_price(price, sizeof(price), (p * 15 + 5) / 10 + c * 6);
		jw_obj(&w);
		jw_key(&w, "total_tokens");
		jw_int(&w, p + c);
		jw_key(&w, "total_price");
		jw_str(&w, price);
		jw_key(&w, "currency");
		jw_str(&w, "USD");
		jw_close(&w);
	} else
		jw_raw(&w, "null");
	jw_key(&w, "created_at");
	jw_int(&w, s->created_at);
	jw_key(&w, "finished_at");
	jw_int(&w, (long long)time(NULL));
	jw_key(&w, "files");
	jw_raw(&w, "[]");
	jw_key(&w, "iteration_id");
	jw_raw(&w, "null");
	jw_key(&w, "loop_id");
	jw_raw(&w, "null");
	jw_close(&w);
	stream_tail(s, &w);
}

/* The status, outputs and error keys of a finished run. */
static void
stream_wf_result(struct stream *s, struct jw *w, enum step_kind how)
{
	jw_key(w, "status");
	jw_str(w, how == ST_WF_FAILED ? "failed" : how == ST_WF_STOPPED ?
	    "stopped" : "succeeded");
	jw_key(w, "outputs");
	if (how != ST_WF_FINISHED)
		jw_raw(w, "{}");
	else if (stream_is_workflow(s))
		stream_wf_outputs(s, w);
	else {
		jw_obj(w);
		jw_key(w, "answer");
		stream_answer(s, w);
		jw_close(w);
	}
	jw_key(w, "error");
	if (how == ST_WF_FAILED)
		jw_str(w, stream_is_workflow(s) ? STREAM_WF_FAIL : STREAM_FAIL);
	else if (how == ST_WF_STOPPED)
		jw_str(w, STREAM_STOPPED);
	else
		jw_raw(w, "null");
}

/* workflow_finished: succeeded, failed or stopped (step kind how). */
static void
stream_ev_wf_finished(struct stream *s, enum step_kind how)
{
	struct jw	w;
	long long	p, c;

	stream_tokens(s, &p, &c);
	stream_wf_head(s, &w, "workflow_finished");
	jw_key(&w, "id");
	jw_str(&w, s->run_id);
	jw_key(&w, "workflow_id");
	jw_str(&w, s->workflow_id);
	stream_wf_result(s, &w, how);
	jw_key(&w, "elapsed_time");
	jw_real(&w, stream_elapsed(s));
	jw_key(&w, "total_tokens");
	jw_int(&w, p + c);
	jw_key(&w, "total_steps");
	jw_int(&w, s->nodes_run);
	jw_key(&w, "created_by");
	jw_obj(&w);
	jw_key(&w, "id");
	jw_str(&w, s->end_user);
	jw_key(&w, "user");
	jw_str(&w, s->user);
	jw_close(&w);
	jw_key(&w, "created_at");
	jw_int(&w, s->created_at);
	jw_key(&w, "finished_at");
	jw_int(&w, (long long)time(NULL));
	jw_key(&w, "exceptions_count");
	jw_int(&w, 0);
	jw_key(&w, "files");
	jw_raw(&w, "[]");
	jw_close(&w);
	stream_tail(s, &w);
}

/* Format the data event of the current step and advance. */
static void
stream_emit(struct stream *s, const struct step *st)
{
	char	msg[128];

	switch (st->kind) {
	case ST_PIECES:
		stream_ev_piece(s);
		return;		/* the pump steps past the last one */
	case ST_WF_STARTED:
		stream_ev_wf_started(s);
		break;
	case ST_NODE_STARTED:
		stream_ev_node_started(s, (int)st->arg);
		break;
	case ST_NODE_FINISHED:
		stream_ev_node_finished(s, (int)st->arg);
		break;
	case ST_THOUGHT:
		stream_ev_thought(s, (int)st->arg);
		break;
	case ST_FILE:
		stream_ev_file(s);
		break;
	case ST_REPLACE:
		stream_ev_replace(s);
		break;
	case ST_MESSAGE_END:
		stream_ev_message_end(s);
		stream_turn_end(s, !s->stopping);
		break;
	case ST_WF_FINISHED:
	case ST_WF_FAILED:
	case ST_WF_STOPPED:
		stream_ev_wf_finished(s, st->kind);
		/* A 1.13.0 chatflow sends no message_end. */
		if (st->kind == ST_WF_FINISHED &&
		    s->app->kind == APP_CHATFLOW_1130)
			stream_turn_end(s, !s->stopping);
		break;
	case ST_ERROR:
		stream_ev_error(s, "completion_request_error", 400,
		    "[openai] Error: quota exceeded");
		break;
	case ST_ERROR_NOCODE:
		stream_ev_error_nocode(s);
		break;
	case ST_ERROR_FIRST:
		snprintf(msg, sizeof(msg), "mock error %s",
		    s->d.error_first_code);
		stream_ev_error(s, s->d.error_first_code,
		    s->d.error_first_status, msg);
		break;
	case ST_ERROR_RUN_FAILED:
		stream_ev_error(s, "invalid_param", 400,
		    "Run failed: " STREAM_FAIL);
		break;
	default:
		break;
	}
	s->step++;
}

/*
 * Whether the next data event must wait: for the socket to drain, for
 * first_delay, or for the interval.  Arms what will resume the pump.
 */
static int
stream_gate(struct stream *s)
{
	if (stream_pending(s) >= MOCK_HIWAT) {
		if (!s->wait_drain) {
			s->wait_drain = 1;
			s->wait_since = util_mono_us();
		}
		return (1);
	}
	if (s->need_first_delay) {
		s->need_first_delay = 0;
		stream_timer(s, TW_FIRST, s->d.first_delay);
		return (1);
	}
	if (s->d.interval > 0 && s->events_sent > 0) {
		if (!s->interval_ok) {
			stream_timer(s, TW_INTERVAL, s->d.interval);
			return (1);
		}
		s->interval_ok = 0;
	}
	return (0);
}

/* Finish the response; stream_req_done may run before this returns. */
static void
stream_end(struct stream *s)
{
	struct evhttp_request	*req = s->req;

	s->ended = 1;
	if (s->ev_ping != NULL)
		event_del(s->ev_ping);
	if (req != NULL && s->d.framing != FRAMING_EVHTTP &&
	    stream_bev(s) != NULL)
		stream_end_framed(s);
	if (req != NULL)
		evhttp_send_reply_end(req);
}

/* mock:cut: shut the socket down and let evhttp fail the connection. */
static void
stream_cut(struct stream *s)
{
	struct bufferevent	*bev;
	evutil_socket_t		 fd;

	s->state = SS_CUT;
	if (s->ev_ping != NULL)
		event_del(s->ev_ping);
	if ((bev = stream_bev(s)) != NULL &&
	    (fd = bufferevent_getfd(bev)) >= 0)
		shutdown(fd, SHUT_RDWR);
	/* evhttp reads EOF next and calls stream_conn_closed. */
}

/* Switch to pinging every 200 ms until the peer goes away. */
static void
stream_keepalive(struct stream *s)
{
	struct timeval	tv;

	if (s->ev_ping == NULL)
		return;
	event_del(s->ev_ping);
	event_add(s->ev_ping, util_tv_ms(&tv, STREAM_KEEPALIVE_MS));
}

/* Whether everything formatted so far has left (for END and CUT). */
static int
stream_quiet(struct stream *s, int need_socket)
{
	if (evbuffer_get_length(s->frag) > 0)
		return (0);
	if (need_socket && stream_bev_out(s) > 0)
		return (0);
	return (1);
}

/* Walk the plan as far as the gates allow. */
static void
stream_pump(struct stream *s)
{
	const struct step	*st;

	while (!s->done && !s->ended && s->state == SS_RUNNING &&
	    s->step < s->nplan) {
		st = &s->plan[s->step];
		switch (st->kind) {
		case ST_PING:
			stream_add_ping(s);
			s->step++;
			continue;
		case ST_SILENT:
			stream_silent(s, st->arg);
			s->step++;
			continue;
		case ST_KEEPALIVE:
			stream_flush(s);
			stream_keepalive(s);
			return;
		case ST_HANG:
			stream_flush(s);
			return;
		case ST_END:
		case ST_CUT:
			stream_flush(s);
			if (!stream_quiet(s, st->kind == ST_CUT ||
			    s->d.framing == FRAMING_NOLAST)) {
				s->wait_quiet = 1;
				return;
			}
			if (st->kind == ST_END &&
			    s->d.framing == FRAMING_NOLAST)
				stream_cut(s);
			else if (st->kind == ST_END)
				stream_end(s);
			else
				stream_cut(s);
			return;		/* s may be finished now */
		case ST_PIECES:
			if (s->piece_idx >= st->arg) {
				s->step++;
				continue;
			}
			break;
		default:
			break;
		}
		if (!s->stopping && stream_gate(s)) {
			stream_flush(s);
			return;
		}
		stream_emit(s, st);
		s->events_sent++;
		if (s->d.ping_each)
			stream_add_ping(s);
		/*
		 * One HTTP chunk per event, as gunicorn writes each item
		 * Dify's generator yields; they still leave in one write.
		 */
		if (stream_batches(s))
			stream_frame(s);
		else
			stream_flush(s);
	}
	if (!s->done)
		stream_flush(s);
}

/*
 * The blocking body of a workflow run (dify-api.md 4.3): HTTP 200 also
 * for a failed run.
 */
static void
stream_blocking_workflow(struct stream *s, struct jw *w)
{
	long long	p, c;
	int		failed = s->d.workflow_failed;

	s->nodes_run = failed ? 2 : 3;
	stream_tokens(s, &p, &c);
	jw_obj(w);
	jw_key(w, "task_id");
	jw_str(w, s->task_id);
	jw_key(w, "workflow_run_id");
	jw_str(w, s->run_id);
	jw_key(w, "data");
	jw_obj(w);
	jw_key(w, "id");
	jw_str(w, s->run_id);
	jw_key(w, "workflow_id");
	jw_str(w, s->workflow_id);
	stream_wf_result(s, w, failed ? ST_WF_FAILED : ST_WF_FINISHED);
	jw_key(w, "elapsed_time");
	jw_real(w, stream_elapsed(s));
	jw_key(w, "total_tokens");
	jw_int(w, p + c);
	jw_key(w, "total_steps");
	jw_int(w, s->nodes_run);
	jw_key(w, "created_at");
	jw_int(w, s->created_at);
	jw_key(w, "finished_at");
	jw_int(w, (long long)time(NULL));
	jw_close(w);
	jw_close(w);
}

/* Fill in the blocking body (json.dumps style), answer computed at once. */
static void
stream_blocking_body(struct stream *s, struct mbuf *b)
{
	struct jw	w;
	long long	i, lim = s->npieces;

	if (stream_is_workflow(s) && s->d.workflow_failed && lim > 1)
		lim = 1;	/* as far as the streamed run gets */
	for (i = 0; i < lim; i++) {
		stream_piece(s, i, &s->tmp);
		mbuf_add(&s->answer, s->tmp.p, s->tmp.len);
	}
	s->piece_idx = lim;
	jw_init(&w, b, JW_PY);
	if (stream_is_workflow(s)) {
		stream_blocking_workflow(s, &w);
		return;
	}
	jw_obj(&w);
	jw_key(&w, "event");
	jw_str(&w, "message");
	jw_key(&w, "task_id");
	jw_str(&w, s->task_id);
	jw_key(&w, "id");
	jw_str(&w, s->message_id);
	jw_key(&w, "message_id");
	jw_str(&w, s->message_id);
	if (s->app->kind != APP_COMPLETION) {
		jw_key(&w, "conversation_id");
		jw_str(&w, s->conversation_id);
	}
	jw_key(&w, "mode");
	jw_str(&w, s->app->mode);
	jw_key(&w, "answer");
	if (s->d.replace)
		jw_str(&w, STREAM_REPLACED);
	else
		stream_answer(s, &w);
	jw_key(&w, "metadata");
	stream_metadata(s, &w);
	jw_key(&w, "created_at");
	jw_int(&w, s->created_at);
	jw_close(&w);
}

/* Send the status line and headers (and, for one-shot replies, all). */
static void
stream_headers(struct stream *s)
{
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(s->req);
	struct evbuffer		*ob;
	struct timeval		 tv;
	char			 num[16];

	ob = evhttp_request_get_output_buffer(s->req);
	stream_event_free(&s->ev_closed);
	stream_event_free(&s->ev_poll);
	if (s->ev_timer != NULL)
		evtimer_del(s->ev_timer);
	if (s->d.close_after_end)
		evhttp_add_header(oh, "Connection", "close");
	switch (s->reply) {
	case RK_HTTPERR:
		evhttp_add_header(oh, "Content-Type", "application/json");
		if (s->status == 401)
			evhttp_add_header(oh, "WWW-Authenticate",
			    "Bearer realm=\"api\"");
		if (s->retry_after) {
			snprintf(num, sizeof(num), "%d", s->retry_after);
			evhttp_add_header(oh, "Retry-After", num);
		}
		evbuffer_add(ob, s->body.p, s->body.len);
		s->ended = 1;
		evhttp_send_reply(s->req, s->status, api_reason(s->status),
		    NULL);
		return;
	case RK_BLOCKING:
		evhttp_add_header(oh, "Content-Type",
		    "application/json; charset=utf-8");
		s->fmt.len = 0;
		stream_blocking_body(s, &s->fmt);
		s->replaced = s->d.replace;
		stream_turn_end(s, 1);
		evbuffer_add(ob, s->fmt.p, s->fmt.len);
		s->ended = 1;
		evhttp_send_reply(s->req, 200, "OK", NULL);
		return;
	case RK_SSE:
		break;
	}
	evhttp_add_header(oh, "Content-Type",
	    "text/event-stream; charset=utf-8");
	evhttp_add_header(oh, "Cache-Control", "no-cache");
	evhttp_add_header(oh, "X-Accel-Buffering", "no");
	/*
	 * An HTTP/1.0 keep-alive request would get "Content-Length: 0" from
	 * evhttp_make_header_response (evhttp.md 3.5 #18): stream it
	 * close-delimited instead.
	 */
	if (s->req->major == 1 && s->req->minor == 0)
		evhttp_remove_header(evhttp_request_get_input_headers(s->req),
		    "Connection");
	evhttp_send_reply_start(s->req, 200, "OK");
	s->started = 1;
	if (!s->d.hang)
		event_add(s->ev_ping, util_tv_ms(&tv, s->d.ping_every));
	s->need_first_delay = s->d.first_delay > 0 && !s->stopping;
	stream_pump(s);
}

/* Before the headers the peer left: answer 499 so evhttp cleans up. */
static void
stream_peer_gone(struct stream *s)
{
	struct evkeyvalq	*oh;

	if (s->ev_closed != NULL)
		event_del(s->ev_closed);
	if (s->ev_poll != NULL)
		event_del(s->ev_poll);
	evtimer_del(s->ev_timer);
	s->state = SS_CLIENT_CLOSED;
	s->ended = 1;
	oh = evhttp_request_get_output_headers(s->req);
	evhttp_add_header(oh, "Connection", "close");
	evhttp_send_reply(s->req, 499, "Client Closed Request", NULL);
}

/* Fallback watcher: poll the socket for a hang-up every 100 ms. */
static void
stream_peer_poll(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*s = arg;
	struct pollfd	 pfd;

	(void)fd;
	(void)what;
	if (s->done || s->started || s->ended)
		return;
	pfd.fd = s->watch_fd;
	pfd.events = POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0)
		stream_peer_gone(s);
}

/*
 * The pre-header watcher fired.  EV_CLOSED is a FIN; a reset shows up
 * only as EV_READ (libevent maps EPOLLHUP/EPOLLERR to EV_READ|EV_WRITE),
 * so on EV_READ peek at the socket: EOF or an error means gone, pending
 * bytes mean a pipelined request.  Then the fd must leave epoll (it would
 * stay readable) and a 100 ms poll timer takes over.
 */
static void
stream_peer_event(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*s = arg;
	struct timeval	 tv;
	ssize_t		 n;
	char		 c;

	if (s->done || s->started || s->ended)
		return;
	if ((what & EV_CLOSED) == 0) {
		n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			event_add(s->ev_closed, NULL);
			return;
		}
		if (n > 0) {
			s->ev_poll = event_new(stream_base, -1, EV_PERSIST,
			    stream_peer_poll, s);
			if (s->ev_poll != NULL)
				event_add(s->ev_poll, util_tv_ms(&tv, 100));
			return;
		}
	}
	stream_peer_gone(s);
}

/* Drop finished records beyond the limit, oldest first. */
static void
stream_evict(void)
{
	struct stream	*s, *next;

	for (s = TAILQ_FIRST(&stream_records);
	    s != NULL && stream_nrecords > MOCK_RECORDS_MAX; s = next) {
		next = TAILQ_NEXT(s, rec_entry);
		if (s->live)
			continue;
		TAILQ_REMOVE(&stream_records, s, rec_entry);
		s->listed = 0;
		stream_nrecords--;
		stream_free(s);
	}
}

/* Allocate a stream for a validated request. */
static struct stream *
stream_new(const struct stream_params *p)
{
	struct stream	*s;
	time_t		 now;
	int		 i;

	s = util_xcalloc(1, sizeof(*s));
	s->state = SS_RUNNING;
	s->reply = p->reply;
	s->app = p->app;
	s->d = *p->dir;
	s->key = util_xstrdup(p->key);
	s->user = util_xstrdup(p->user);
	s->query = util_xstrndup(p->query, p->query_len);
	s->query_len = p->query_len;
	s->inputs = p->inputs != NULL ? json_incref(p->inputs) : json_object();
	util_uuid4(s->task_id);
	util_uuid4(s->message_id);
	util_uuid4(s->run_id);
	util_uuid4(s->workflow_id);
	util_uuid4(s->file_id);
	util_uuid4(s->end_user);
	for (i = 0; i < 3; i++)
		util_uuid4(s->node_exec[i]);
	for (i = 0; i < 2; i++)
		util_uuid4(s->thought_id[i]);
	if (p->conversation_id != NULL)
		snprintf(s->conversation_id, sizeof(s->conversation_id), "%s",
		    p->conversation_id);
	else
		util_uuid4(s->conversation_id);
	now = time(NULL);
	s->created_at = (long long)now;
	s->start_us = util_mono_us();
	s->jstyle = s->d.spaced ? JW_PY : JW_ORJSON;
	s->eol = s->d.crlf ? "\r\n" : "\n";
	s->keep_answer = s->app->kind != APP_CHAT &&
	    s->app->kind != APP_COMPLETION;
	s->frag_seed = 12345;
	/* An accepted chat request is a turn of its conversation now. */
	if (stream_has_conversation(s) && p->reply != RK_HTTPERR) {
		s->turns_before = conv_begin(s->conversation_id, s->key,
		    s->user, s->message_id, s->query, s->query_len,
		    s->created_at);
		s->turn_open = 1;
	}
	if (s->d.recall) {
		/* The answer is "turns=N", whatever else would make it. */
		s->d.stamp = 0;
		s->d.bytes = -1;
		s->d.events = -1;
		s->d.tool_call[0] = '\0';
	}
	stream_pieces_init(s);
	if (p->reply == RK_HTTPERR) {
		s->status = p->status;
		s->retry_after = p->retry_after;
		mbuf_add(&s->body, p->body->p, p->body->len);
	}
	s->ev_timer = evtimer_new(stream_base, stream_timer_cb, s);
	if (p->reply == RK_SSE) {
		s->out = evbuffer_new();
		s->frag = evbuffer_new();
		s->slice = evbuffer_new();
		s->ev_ping = event_new(stream_base, -1, EV_PERSIST,
		    stream_ping_cb, s);
		s->ev_frag = evtimer_new(stream_base, stream_frag_cb, s);
		if (s->out == NULL || s->frag == NULL || s->slice == NULL ||
		    s->ev_ping == NULL || s->ev_frag == NULL)
			abort();
		stream_plan(s);
		stream_piece_format(s);
		s->listed = 1;
		TAILQ_INSERT_TAIL(&stream_records, s, rec_entry);
		stream_nrecords++;
		stream_nrunning++;
		stream_evict();
	}
	if (s->ev_timer == NULL)
		abort();
	s->live = 1;
	TAILQ_INSERT_TAIL(&stream_live, s, live_entry);
	return (s);
}

/* Prepare the module: the reaper, the byte pattern, the app id. */
void
stream_init(struct event_base *base)
{
	size_t	i;

	stream_base = base;
	stream_reaper = event_new(base, -1, 0, stream_reap, NULL);
	if (stream_reaper == NULL)
		abort();
	for (i = 0; i < sizeof(stream_pattern) - 1; i++)
		stream_pattern[i] = (char)('a' + i % 10);
	util_uuid4(stream_app_id);
}

/* Take over a validated request: reply now or after the header delay. */
void
stream_start(struct evhttp_request *req, const struct stream_params *p)
{
	struct evhttp_connection	*evcon;
	struct stream			*s;
	evutil_socket_t			 fd;

	s = stream_new(p);
	s->req = req;
	evcon = evhttp_request_get_connection(req);
	evhttp_request_set_on_complete_cb(req, stream_req_done, s);
	evhttp_connection_set_closecb(evcon, stream_conn_closed, s);
	if (s->d.hang_headers || s->d.slow_headers >= 0) {
		fd = bufferevent_getfd(
		    evhttp_connection_get_bufferevent(evcon));
		s->watch_fd = fd;
		s->ev_closed = event_new(stream_base, fd, EV_READ | EV_CLOSED,
		    stream_peer_event, s);
		if (s->ev_closed == NULL || event_add(s->ev_closed, NULL) == -1)
			fprintf(stderr, "mock-dify: cannot watch fd %d for "
			    "EV_CLOSED\n", (int)fd);
		if (!s->d.hang_headers)
			stream_timer(s, TW_HEADERS, s->d.slow_headers);
		return;
	}
	stream_headers(s);
}

/*
 * The stop endpoints: end a running stream of this task, key and user
 * (any user if NULL: the workflow stop checks none) like Dify does, with
 * message_end and the usage so far, or for a workflow app with
 * workflow_finished "stopped".  Returns 1 if one was.
 */
int
stream_stop(const char *task_id, const char *key, const char *user)
{
	struct stream	*s;
	enum step_kind	 k;

	TAILQ_FOREACH(s, &stream_live, live_entry) {
		if (s->reply != RK_SSE || s->done || s->ended ||
		    s->state != SS_RUNNING || s->stopping)
			continue;
		if (strcmp(s->task_id, task_id) != 0 ||
		    strcmp(s->key, key) != 0 ||
		    (user != NULL && strcmp(s->user, user) != 0))
			continue;
		if (s->step < s->nplan) {
			k = s->plan[s->step].kind;
			if (k == ST_END || k == ST_CUT)
				return (0);	/* already finishing */
		}
		s->stopping = 1;
		evtimer_del(s->ev_timer);
		s->plan[0].kind = stream_is_workflow(s) ? ST_WF_STOPPED :
		    ST_MESSAGE_END;
		s->plan[1].kind = ST_END;
		s->nplan = 2;
		s->step = 0;
		if (!s->started)
			stream_headers(s);
		else
			stream_pump(s);
		return (1);
	}
	return (0);
}

/* The name of a record state. */
static const char *
stream_state_name(enum stream_state st)
{
	switch (st) {
	case SS_RUNNING:
		return ("running");
	case SS_COMPLETED:
		return ("completed");
	case SS_CLIENT_CLOSED:
		return ("client_closed");
	case SS_CUT:
		return ("cut");
	}
	return ("unknown");
}

/* /mock/streams: every listed stream in start order. */
json_t *
stream_list_json(void)
{
	struct stream	*s;
	json_t		*a;
	int		 blocked;

	a = json_array();
	TAILQ_FOREACH(s, &stream_records, rec_entry) {
		blocked = s->blocked || (s->wait_drain &&
		    util_mono_us() - s->wait_since > STREAM_BLOCKED_US);
		json_array_append_new(a, json_pack(
		    "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b}",
		    "task_id", s->task_id,
		    "key", s->key,
		    "user", s->user,
		    "state", stream_state_name(s->state),
		    "events_sent", (json_int_t)s->events_sent,
		    "bytes_sent", (json_int_t)s->bytes_sent,
		    "max_pending", (json_int_t)s->max_pending,
		    "blocked", blocked));
	}
	return (a);
}

/* Streams whose response is still open. */
int
stream_running(void)
{
	return (stream_nrunning);
}

/* /mock/reset: forget every record; running streams carry on unlisted. */
void
stream_reset(void)
{
	struct stream	*s;

	while ((s = TAILQ_FIRST(&stream_records)) != NULL) {
		TAILQ_REMOVE(&stream_records, s, rec_entry);
		s->listed = 0;
		if (!s->live)
			stream_free(s);
	}
	stream_nrecords = 0;
}

/*
 * At exit, after evhttp_free (whose closecbs finished every stream that
 * still had a connection): free whatever is left.
 */
void
stream_shutdown(void)
{
	struct stream	*s;

	while ((s = TAILQ_FIRST(&stream_live)) != NULL) {
		if (s->req != NULL && evhttp_request_get_connection(s->req) ==
		    NULL)
			evhttp_request_free(s->req);
		s->req = NULL;
		stream_finish(s, SS_CLIENT_CLOSED);
	}
	stream_reset();
	stream_reap(-1, 0, NULL);
	stream_event_free(&stream_reaper);
}
