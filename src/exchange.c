/*
 * exchange: one chat completion, from the client's request to Dify's last
 * event.
 *
 * An exchange joins a downstream (the client's request, downstream.c), an
 * upstream call (the app kind's run path on Dify, upstream.c) and a relay
 * (the translation state machine, relay.c).  The kind of Dify app
 * (dify_app.h) gives the paths and the body; the exchange names none.  Events from either side feed the
 * relay; exchange_pump then moves what the relay produced to the client.
 *
 * Lifetime: the exchange is reference counted.  The downstream holds one
 * reference until it is released (response complete or client gone); the
 * upstream call holds one until its done callback or its cancellation.
 * When the count reaches zero the exchange is freed from its own event on
 * a later loop iteration, never inside the callback chain that dropped the
 * last reference; only then does it leave the server's task list, so a
 * draining server exits after every exchange is really gone.
 *
 * The kind of app comes from the apps config, or from Dify: GET /info
 * names the mode (cached per key in the server's app_cache) and GET
 * /parameters the text input of a completion or workflow app.  When
 * /info does not say (Dify before 1.0) the exchange guesses chat, and if
 * Dify refuses the run as the wrong kind before anything reached the
 * client, tries the next kind (dify_app_next_guess) in the same request.
 *
 * Continuity (conversation.c): a chat whose history before its new user
 * message is the remembered digest of an earlier complete answer goes on
 * in that answer's Dify conversation, with only the new message sent;
 * the store (conversation_store.c) is asked just before the run, and
 * remembers the new digest once the client has the whole answer.  A
 * conversation Dify no longer has (404 "Conversation Not Exists.")
 * before anything reached the client reruns as a new one with the
 * transcript, in the same request.
 *
 * Inline (data:) images of the last user message were decoded and
 * checked when the request was read (dify_upload.c); before anything
 * else the exchange uploads them one at a time (POST /files/upload, as
 * the same user, through the app's Dify) and the run refers to them by
 * the ids Dify gave.  A client that leaves cancels the upload in flight.
 *
 * States (exchange_set_state is the only place that changes them):
 *
 *   ADMITTING --Redis counted it (or its timeout)--> UPLOADING, ... as
 *       below; or the client gets a 429
 *   UPLOADING --every inline image has Dify's file id--> DETECTING or
 *       UPSTREAM
 *   UPLOADING --Dify refused an image--> (client gets the error)
 *   DETECTING --mode and input known--> RECALLING or UPSTREAM
 *   RECALLING --Redis answered, or its timeout--> UPSTREAM
 *   DETECTING --/info or /parameters failed--> (client gets the error)
 *   UPSTREAM --Dify's status arrived--> RELAYING
 *   RELAYING --guessed kind refused--> DETECTING or UPSTREAM
 *   RELAYING --continued conversation gone--> UPSTREAM
 *   UPSTREAM, RELAYING --client answered, Dify still sending--> LINGERING
 *   UPSTREAM, RELAYING --client gone, task id unknown--> ABANDONED
 *   any --both sides released--> ENDED
 *
 * A client that leaves stops the Dify task: with the task id known, the
 * stop call goes out at once and the upstream request is cancelled; before
 * the id is known the exchange keeps reading Dify's stream (discarding it)
 * until the first event names the task, for at most the connect timeout.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>

#include "app_cache.h"
#include "apps.h"
#include "buf.h"
#include "chat_request.h"
#include "config.h"
#include "conversation.h"
#include "conversation_store.h"
#include "dify_app.h"
#include "dify_upload.h"
#include "downstream.h"
#include "exchange.h"
#include "log.h"
#include "proxy_keys.h"
#include "rate_limit_store.h"
#include "metrics.h"
#include "relay.h"
#include "server.h"
#include "upstream.h"
#include "util.h"

/* Unsent bytes for one client above which Dify is no longer read. */
#define EXCHANGE_HIGH_WATER	(256 * 1024)
/* Largest answer held in memory for a non-streaming client. */
#define EXCHANGE_MAX_ANSWER	(64 * 1024 * 1024)
/* Largest single Dify event accepted. */
#define EXCHANGE_MAX_EVENT	(16 * 1024 * 1024)
/* Time Dify gets to end a response the client already has in full. */
#define EXCHANGE_LINGER_MS	2000
/* Most of an answer's lead (a <think> block) its digest holds back. */
#define EXCHANGE_MAX_ANSWER_HELD	(1024 * 1024)
/* Time chatflow gets to send its second end event. */
#define EXCHANGE_GRACE_MS	5000

enum exchange_state {
	EXCHANGE_ADMITTING,
	EXCHANGE_UPLOADING,
	EXCHANGE_DETECTING,
	EXCHANGE_RECALLING,
	EXCHANGE_UPSTREAM,
	EXCHANGE_RELAYING,
	EXCHANGE_LINGERING,
	EXCHANGE_ABANDONED,
	EXCHANGE_ENDED
};

static const char *exchange_state_names[] = {
	[EXCHANGE_ADMITTING] = "admitting",
	[EXCHANGE_UPLOADING] = "uploading",
	[EXCHANGE_DETECTING] = "detecting",
	[EXCHANGE_RECALLING] = "recalling",
	[EXCHANGE_UPSTREAM] = "upstream",
	[EXCHANGE_RELAYING] = "relaying",
	[EXCHANGE_LINGERING] = "lingering",
	[EXCHANGE_ABANDONED] = "abandoned",
	[EXCHANGE_ENDED] = "ended",
};

/* What the exchange is asking Dify about the app before the run. */
enum exchange_probe {
	EXCHANGE_PROBE_NONE,
	EXCHANGE_PROBE_INFO,		/* GET /info: name and mode */
	EXCHANGE_PROBE_PARAMETERS,	/* GET /parameters: the text input */
	EXCHANGE_PROBE_UPLOAD		/* POST /files/upload: an image */
};

/* Largest /info or /parameters body read. */
#define EXCHANGE_MAX_PROBE	(256 * 1024)

/*
 * The rate limits a request falls under, and what counting it said: made
 * only for a request with limits (1.2 KiB that the others, most of them,
 * need not carry).
 */
struct exchange_limits {
	struct rate_limit_rule	 rules[RATE_LIMIT_RULES];	/* key, app */
	size_t			 nrules;
	struct rate_limit_verdict verdict;
	struct rate_limit_hold	 hold;		/* given back at the end */
};

struct exchange {
	struct server		*srv;
	const struct dify_app	*app;		/* the kind; set by the run */
	const struct app	*cfg_app;	/* configured app or NULL */
	struct upstream		*up;		/* the app's Dify */
	enum dify_app_mode	 mode;		/* UNKNOWN: ask /info */
	int			 guessed;	/* /info did not say */
	int			 have_input;	/* input_var is known */
	char			 input_var[APP_CACHE_MAX_VAR];
	struct chat_request	 cr;		/* until the body is built */
	int			 have_cr;
	struct relay_params	 rp;
	char			*model;		/* as the client named it */
	struct buf		 tool_names;	/* prompt tools offered */
	enum exchange_probe	 probe;
	int			 probe_status;
	struct buf		 probe_body;
	size_t			 uploaded;	/* images with their file id */
	struct conversation_turn turn;		/* continuity digests */
	struct conversation_answer answer;	/* this run's, as it goes */
	int			 continuity;	/* may continue and remember */
	int			 recalled;	/* the store was asked */
	int			 remembered;	/* this answer was put */
	struct conversation_lookup *lookup;	/* a take in flight */
	char			 conversation_id[CONVERSATION_MAX_ID]; /* "": new */
	const char		*conversation;	/* how, for the access log */
	struct exchange_limits	*limits;	/* NULL: none apply */
	int			 admitted;	/* limits->verdict is in */
	struct rate_limit_pending *admission;	/* Redis asked */
	char			 key_log[PROXY_KEY_LOG_PREFIX + 1];
	struct server_task	 task;
	int			 refs;
	enum exchange_state	 state;
	struct downstream	 ds;
	int			 ds_live;
	struct upstream_call	*call;
	struct relay		 relay;
	struct event		*keepalive_ev;
	struct event		*deadline_ev;
	struct event		*free_ev;
	struct event		*flush_ev;	/* sends the stream's output */
	int			 flush_armed;
	int			 grace_armed;
	int			 paused;
	int			 stream;
	char			 request_id[72];
	char			 path[64];	/* as the client wrote it */
	char			 id[40];
	char			*api_key;
	char			*user;
	const char		*end_reason;
	uint64_t		 t_start;
	uint64_t		 t_first_token;
	uint64_t		 t_last_write;
	size_t			 bytes_in;
	uint64_t		 upstream_bytes;
	unsigned		 pauses;
	int			 metrics_app;	/* cfg->apps index, METRICS_APP_* */
	uint64_t		 t_last_token;	/* usec of the last new content */
	uint64_t		 seen_events;	/* content events observed */
};

/* A stop call in flight: the app kind's stop path for a task. */
struct stop_call {
	struct server		*srv;
	struct server_task	 task;
	struct upstream_call	*call;
	char			 task_id[80];
	char			 request_id[72];
	int			 status;
};

/* How a call's transport result ends the relay (OK: the body ended). */
static const enum relay_end exchange_ends[] = {
	[UPSTREAM_OK] = RELAY_END_EOF,
	[UPSTREAM_UNREACHABLE] = RELAY_END_UNREACHABLE,
	[UPSTREAM_DNS] = RELAY_END_DNS,
	[UPSTREAM_TLS] = RELAY_END_TLS,
	[UPSTREAM_TIMEOUT] = RELAY_END_TIMEOUT,
	[UPSTREAM_BROKEN] = RELAY_END_BROKEN,
	[UPSTREAM_NO_DESCRIPTORS] = RELAY_END_NO_DESCRIPTORS,
};

static void	exchange_pump(struct exchange *);
static void	exchange_unref(struct exchange *);
static void	exchange_plan(struct exchange *);
static void	exchange_run(struct exchange *);

/* Move to a new state, logging the transition at debug level. */
static void
exchange_set_state(struct exchange *ex, enum exchange_state s)
{
	if (ex->state == s)
		return;
	log_debug("exchange %s: %s -> %s", ex->request_id,
	    exchange_state_names[ex->state], exchange_state_names[s]);
	ex->state = s;
}

/* Convert milliseconds to a timeval. */
static struct timeval
exchange_tv(unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return (tv);
}

/* Count the ended exchange in this worker's metrics. */
static void
exchange_count(struct exchange *ex, uint64_t now)
{
	struct metrics_slot	*ms = ex->srv->metrics;
	struct dify_usage	*u = &ex->relay.usage;

	metrics_request(ms, METRICS_ROUTE_CHAT, ex->metrics_app, ex->ds.status,
	    metrics_end_parse(ex->end_reason), now - ex->t_start);
	if (ex->t_first_token != 0)
		metrics_observe(ms, METRICS_HIST_TTFT, ex->metrics_app,
		    ex->t_first_token - ex->t_start);
	if (u->present)
		metrics_tokens(ms, ex->metrics_app, u->prompt_tokens,
		    u->completion_tokens);
	if (ex->stream)
		metrics_streams(ms, -1);
}

/* Write the access log line and free the exchange; leaves the task list. */
static void
exchange_free(int fd UNUSED, short what UNUSED, void *arg)
{
	struct exchange	*ex = arg;
	struct server	*srv = ex->srv;
	uint64_t	 now = util_now_usec();
	char		 ttft[32] = "-";

	if (ex->t_first_token != 0)
		snprintf(ttft, sizeof(ttft), "%.1f",
		    (double)(ex->t_first_token - ex->t_start) / 1000.0);
	log_info("access id=%s method=POST path=%s "
	    "status=%d upstream_status=%d stream=%d duration_ms=%.1f "
	    "ttft_ms=%s bytes_in=%zu bytes_out=%llu upstream_bytes=%llu "
	    "events=%llu writes=%u pauses=%u end=%s conversation=%s key=%s",
	    ex->request_id, ex->path,
	    ex->ds.status,
	    ex->relay.upstream_status, ex->stream,
	    (double)(now - ex->t_start) / 1000.0, ttft, ex->bytes_in,
	    (unsigned long long)ex->ds.bytes_out,
	    (unsigned long long)ex->upstream_bytes,
	    (unsigned long long)ex->relay.content_events, ex->ds.writes,
	    ex->pauses,
	    ex->end_reason != NULL ? ex->end_reason : "unknown",
	    ex->conversation != NULL ? ex->conversation : "-",
	    ex->key_log[0] != '\0' ? ex->key_log : "-");
	exchange_count(ex, now);

	if (ex->admitted)
		rate_limit_store_release(srv->limits, &ex->limits->hold);
	event_free(ex->keepalive_ev);
	event_free(ex->deadline_ev);
	event_free(ex->free_ev);
	event_free(ex->flush_ev);
	downstream_free(&ex->ds);
	relay_free(&ex->relay);
	if (ex->have_cr)
		chat_request_free(&ex->cr);
	conversation_answer_free(&ex->answer);
	conversation_turn_free(&ex->turn);
	buf_free(&ex->probe_body);
	buf_free(&ex->tool_names);
	free(ex->model);
	free(ex->api_key);
	free(ex->user);
	free(ex->limits);
	server_task_remove(srv, &ex->task);
	free(ex);
}

/* Drop a reference; the last one schedules the free. */
static void
exchange_unref(struct exchange *ex)
{
	if (--ex->refs > 0)
		return;
	exchange_set_state(ex, EXCHANGE_ENDED);
	evtimer_del(ex->keepalive_ev);
	evtimer_del(ex->deadline_ev);
	event_active(ex->free_ev, EV_TIMEOUT, 1);
}

/* Arm the one-shot deadline timer. */
static void
exchange_deadline(struct exchange *ex, unsigned ms)
{
	struct timeval	tv = exchange_tv(ms);

	evtimer_add(ex->deadline_ev, &tv);
}

/*
 * Cancel the upstream call, or the store's take that stands for it while
 * Redis is asked, if any, and drop its reference.
 */
static void
exchange_cancel_upstream(struct exchange *ex)
{
	if (ex->lookup != NULL) {
		conversation_lookup_cancel(ex->lookup);
		ex->lookup = NULL;
		exchange_unref(ex);
		return;
	}
	if (ex->admission != NULL) {
		rate_limit_pending_cancel(ex->admission);
		ex->admission = NULL;
		exchange_unref(ex);
		return;
	}
	if (ex->call == NULL)
		return;
	upstream_call_cancel(ex->call);
	ex->call = NULL;
	exchange_unref(ex);
}

/* Stop the Dify task behind this exchange (best effort) and cancel. */
static void
exchange_stop_and_cancel(struct exchange *ex)
{
	if (ex->relay.task_id[0] != '\0')
		exchange_stop_task(ex->srv, ex->up, ex->app, ex->api_key,
		    ex->user, ex->relay.task_id, ex->request_id);
	exchange_cancel_upstream(ex);
}

/* x-ratelimit-*-requests as OpenAI sends them, and retry-after-ms. */
static void
exchange_limit_headers(struct exchange *ex, struct evkeyvalq *h)
{
	const struct rate_limit_verdict	*v;
	char				 n[32];

	if (!ex->admitted)
		return;
	v = &ex->limits->verdict;
	if (v->limit > 0) {
		snprintf(n, sizeof(n), "%u", v->limit);
		evhttp_add_header(h, "x-ratelimit-limit-requests", n);
		snprintf(n, sizeof(n), "%u", v->remaining);
		evhttp_add_header(h, "x-ratelimit-remaining-requests", n);
		rate_limit_reset_text(v->reset_ms, n, sizeof(n));
		evhttp_add_header(h, "x-ratelimit-reset-requests", n);
	}
	if (!v->allowed) {
		snprintf(n, sizeof(n), "%llu", (unsigned long long)v->retry_ms);
		evhttp_add_header(h, "retry-after-ms", n);
	}
}

/* Add the headers of the response the relay decided on. */
static void
exchange_headers(struct exchange *ex)
{
	struct evkeyvalq	*h;
	struct relay		*r = &ex->relay;

	if ((h = downstream_headers(&ex->ds)) == NULL)
		return;
	exchange_limit_headers(ex, h);
	if (ex->app->mode == DIFY_APP_CHAT && (r->conversation_id[0] != '\0' ||
	    ex->conversation_id[0] != '\0'))
		evhttp_add_header(h, "X-Dify-Conversation-Id",
		    r->conversation_id[0] != '\0' ? r->conversation_id :
		    ex->conversation_id);
	if (r->event_stream) {
		evhttp_add_header(h, "Content-Type", "text/event-stream");
		evhttp_add_header(h, "Cache-Control", "no-cache");
		evhttp_add_header(h, "X-Accel-Buffering", "no");
	} else {
		evhttp_add_header(h, "Content-Type", "application/json");
		if (r->state == RELAY_FAILED)
			server_error_headers(h, r->error);
	}
}

/*
 * Send a started stream's output: everything the relay produced since the
 * last flush, in one write.  Then stop reading Dify while the client lags.
 */
static void
exchange_flush_now(struct exchange *ex)
{
	struct relay	*r = &ex->relay;
	size_t		 len = r->out.len;

	ex->flush_armed = 0;
	if (!ex->ds_live || ex->ds.finished) {
		buf_reset(&r->out);
		return;
	}
	/* May complete the response and release ds now. */
	downstream_send(&ex->ds, r->out.data, len, r->complete);
	/*
	 * The block goes back to the pool until the next event: a stream
	 * waiting for Dify holds no output buffer (paced streams mostly
	 * wait), and the next event of any stream takes the same warm block.
	 */
	buf_free(&r->out);
	if (len > 0)
		ex->t_last_write = util_now_usec();

	if (ex->call != NULL && !ex->paused && ex->ds_live &&
	    !ex->ds.finished && downstream_pending(&ex->ds) >
	    EXCHANGE_HIGH_WATER) {
		upstream_call_pause(ex->call, 1);
		ex->paused = 1;
		ex->pauses++;
		metrics_pause(ex->srv->metrics);
	}
}

/*
 * The flush event: runs after the callback that produced the output, in
 * the same loop turn.  evhttp hands over Dify's chunks one callback each,
 * and Dify sends one chunk per event, so events that arrive together
 * leave together instead of one write each.
 */
static void
exchange_flush(int fd UNUSED, short what UNUSED, void *arg)
{
	exchange_flush_now(arg);
}

/*
 * Send a started stream's output now when it came from a whole read of
 * Dify's socket; otherwise (evhttp's reads hand over one chunk per
 * callback) on the flush event, once the turn's chunks are all in.  The
 * event costs a trip through the loop per write, which is worth paying
 * only when it joins events.
 */
static void
exchange_schedule_flush(struct exchange *ex)
{
	if (ex->call != NULL && upstream_call_reads_whole(ex->call)) {
		exchange_flush_now(ex);
		return;
	}
	if (!ex->flush_armed) {
		ex->flush_armed = 1;
		event_active(ex->flush_ev, EV_TIMEOUT, 1);
	}
}

/*
 * The answer is whole and its last bytes are about to go to the client:
 * remember this history, answer included, as the way into its Dify
 * conversation.  Before the client has it, so the next turn, wherever it
 * lands, finds it (a Redis put from here is on its way before the client
 * can even send that turn).  Should the last write fail, the entry only
 * matches a history with this whole answer, which that client does not
 * have.  Failed, cut or abandoned answers and tool calls (the next turn
 * is tool results, not a user message) are never remembered.
 */
static void
exchange_remember(struct exchange *ex)
{
	struct relay	*r = &ex->relay;
	uint8_t		 digest[CONVERSATION_DIGEST_LEN];

	if (!ex->continuity || ex->remembered ||
	    ex->app->mode != DIFY_APP_CHAT || r->state != RELAY_DONE ||
	    !ex->ds_live || ex->ds.finished ||
	    strcmp(r->finish_reason, "tool_calls") == 0 ||
	    r->conversation_id[0] == '\0')
		return;
	ex->remembered = 1;
	if (conversation_answer_end(&ex->answer, digest) != 0)
		return;
	conversation_store_put(ex->srv->conversations, digest,
	    r->conversation_id);
}

/*
 * Move what the relay produced to the client, and act on what it decided:
 * finishing, and whether Dify is still needed.  A started stream's output
 * waits for the flush event.
 */
static void
exchange_pump(struct exchange *ex)
{
	struct relay	*r = &ex->relay;

	if (r->complete && ex->continuity)
		exchange_remember(ex);
	if (!ex->ds_live || ex->ds.finished) {
		/* Nobody to send to (client gone or answered). */
		buf_reset(&r->out);
	} else if (r->headers_ready) {
		if (r->event_stream && !ex->ds.started) {
			exchange_headers(ex);
			downstream_start(&ex->ds, r->status);
		}
		if (ex->ds.started)
			exchange_schedule_flush(ex);
		else {
			if (r->complete) {
				exchange_headers(ex);
				downstream_reply(&ex->ds, r->status,
				    r->out.data, r->out.len);
			}
			buf_reset(&r->out);
		}
	}
	if (r->content_events > ex->seen_events) {
		/* New content: one gap observed per delivery, not per event. */
		uint64_t	now = util_now_usec();

		if (ex->t_first_token == 0)
			ex->t_first_token = now;
		else
			metrics_observe(ex->srv->metrics, METRICS_HIST_GAP,
			    ex->metrics_app, now - ex->t_last_token);
		ex->t_last_token = now;
		ex->seen_events = r->content_events;
	}
	if (r->complete && ex->end_reason == NULL)
		ex->end_reason = r->state == RELAY_DONE ? "complete" :
		    r->error != NULL && r->error->code[0] != '\0' ?
		    r->error->code : "error";

	if (r->state == RELAY_FINISHING && !ex->grace_armed) {
		ex->grace_armed = 1;
		exchange_deadline(ex, EXCHANGE_GRACE_MS);
	}
	if (r->upstream_done && ex->call != NULL &&
	    ex->state != EXCHANGE_LINGERING && ex->state != EXCHANGE_ABANDONED) {
		if (r->state == RELAY_FAILED) {
			/* Dify may keep an errored stream open: close it. */
			exchange_cancel_upstream(ex);
		} else {
			exchange_set_state(ex, EXCHANGE_LINGERING);
			exchange_deadline(ex, EXCHANGE_LINGER_MS);
		}
	}
}

/* Dify's status line and headers. */
static void
exchange_up_response(void *arg, int status, struct evkeyvalq *headers)
{
	struct exchange	*ex = arg;

	if (ex->state == EXCHANGE_UPSTREAM)
		exchange_set_state(ex, EXCHANGE_RELAYING);
	if (ex->guessed && status >= 200 && status < 300) {
		/* The guess was right: remember the kind. */
		struct app_cache_entry	*e;

		ex->guessed = 0;
		if ((e = app_cache_put(ex->srv->app_cache, ex->api_key,
		    util_now_usec(), ex->srv->cfg->models_cache_ttl_ms)) != NULL)
			e->mode = ex->mode;
		log_info("exchange %s: the Dify app is a %s app", ex->request_id,
		    dify_app_mode_name(ex->mode));
	}
	relay_response(&ex->relay, status,
	    evhttp_find_header(headers, "Content-Type"),
	    evhttp_find_header(headers, "Retry-After"));
	exchange_pump(ex);
}

/*
 * True if the run continued a conversation that Dify no longer has and
 * nothing reached the client yet: then the conversation is forgotten and
 * the exchange is ready to run again as a new one, with the transcript.
 */
static int
exchange_conversation_lost(struct exchange *ex)
{
	struct relay	*r = &ex->relay;

	if (ex->conversation_id[0] == '\0' || r->state != RELAY_FAILED ||
	    ex->ds.started || ex->ds.finished || !ex->ds_live ||
	    ex->state == EXCHANGE_ABANDONED || !ex->have_cr ||
	    !dify_app_conversation_gone(r->error))
		return (0);
	log_info("exchange %s: Dify no longer has conversation %s; starting "
	    "a new one with the transcript", ex->request_id,
	    ex->conversation_id);
	ex->conversation_id[0] = '\0';
	ex->conversation = "lost";
	buf_reset(&r->out);
	return (1);
}

/* Bytes of Dify's stream: every piece goes through the relay at once. */
static void
exchange_up_data(void *arg, const char *data, size_t len)
{
	struct exchange		*ex = arg;

	relay_data(&ex->relay, data, len);
	ex->upstream_bytes += len;
	if (exchange_conversation_lost(ex)) {
		/* The call is done with; its reference goes to the rerun. */
		upstream_call_cancel(ex->call);
		ex->call = NULL;
		exchange_run(ex);
		return;
	}
	if (ex->state == EXCHANGE_ABANDONED) {
		buf_reset(&ex->relay.out);
		if (ex->relay.task_id[0] != '\0' || ex->relay.complete) {
			evtimer_del(ex->deadline_ev);
			exchange_stop_and_cancel(ex);
		}
		return;
	}
	exchange_pump(ex);
}

/* Dify's response ended (or failed); the call is gone after this. */
static void
exchange_up_done(void *arg, enum upstream_result result, const char *detail)
{
	struct exchange		*ex = arg;
	struct relay		*r = &ex->relay;
	enum dify_app_mode	 next;

	ex->call = NULL;
	if (result != UPSTREAM_OK)
		log_warn("exchange %s: upstream %s: %s", ex->request_id,
		    upstream_result_name(result), detail);
	if (ex->guessed && result == UPSTREAM_OK &&
	    r->state == RELAY_ERROR_BODY && ex->state == EXCHANGE_RELAYING &&
	    (next = dify_app_next_guess(ex->mode, r->upstream_status,
	    r->body.data ? r->body.data : "", r->body.len)) !=
	    DIFY_APP_UNKNOWN) {
		/* Nothing reached the client: try the next kind. */
		log_info("exchange %s: the Dify app is not a %s app; trying "
		    "%s", ex->request_id, dify_app_mode_name(ex->mode),
		    dify_app_mode_name(next));
		ex->mode = next;
		if (ex->cfg_app == NULL || ex->cfg_app->input_var == NULL)
			ex->have_input = 0;	/* read the form anew */
		exchange_plan(ex);	/* the call's reference goes on */
		return;
	}
	relay_end(&ex->relay, exchange_ends[result], detail);
	if (exchange_conversation_lost(ex)) {
		exchange_run(ex);	/* the call's reference goes on */
		return;
	}
	if (ex->state != EXCHANGE_ABANDONED)
		exchange_pump(ex);
	exchange_unref(ex);
}

/* The client left before its response was complete. */
static void
exchange_ds_gone(void *arg)
{
	struct exchange	*ex = arg;

	if (ex->relay.complete)
		return;
	ex->end_reason = "client_gone";
	buf_reset(&ex->relay.out);
	evtimer_del(ex->keepalive_ev);
	if (ex->call == NULL && ex->lookup == NULL && ex->admission == NULL)
		return;
	if (ex->state == EXCHANGE_DETECTING ||
	    ex->state == EXCHANGE_UPLOADING ||
	    ex->state == EXCHANGE_RECALLING ||
	    ex->state == EXCHANGE_ADMITTING) {
		/* A question, an upload, a take or a count was out: nothing
		 * runs. */
		exchange_cancel_upstream(ex);
		return;
	}
	if (ex->relay.task_id[0] != '\0') {
		exchange_stop_and_cancel(ex);
		return;
	}
	/* Dify has not named the task yet: wait for it, briefly. */
	exchange_set_state(ex, EXCHANGE_ABANDONED);
	if (ex->paused) {
		upstream_call_pause(ex->call, 0);
		ex->paused = 0;
	}
	exchange_deadline(ex, ex->srv->cfg->connect_timeout_ms);
}

/* The client drained its output: read Dify again. */
static void
exchange_ds_drained(void *arg)
{
	struct exchange	*ex = arg;

	if (ex->paused && ex->call != NULL) {
		upstream_call_pause(ex->call, 0);
		ex->paused = 0;
	}
}

/* The client side is finished with; drop its reference. */
static void
exchange_ds_released(void *arg)
{
	struct exchange	*ex = arg;

	ex->ds_live = 0;
	exchange_unref(ex);
}

/*
 * Keepalive: when nothing has gone to a streaming client for the interval,
 * the relay sends something clients ignore.  The timer is re-armed lazily
 * rather than on every write.
 */
static void
exchange_keepalive(int fd UNUSED, short what UNUSED, void *arg)
{
	struct exchange	*ex = arg;
	unsigned	 interval = ex->srv->cfg->keepalive_interval_ms;
	uint64_t	 idle = util_now_usec() - ex->t_last_write;
	struct timeval	 tv;

	if (!ex->ds_live || ex->ds.finished || ex->relay.complete)
		return;
	if (idle >= (uint64_t)interval * 1000) {
		relay_keepalive(&ex->relay);
		exchange_pump(ex);
		ex->t_last_write = util_now_usec();
		tv = exchange_tv(interval);
	} else
		tv = exchange_tv(interval - (unsigned)(idle / 1000));
	evtimer_add(ex->keepalive_ev, &tv);
}

/* The one-shot deadline: chatflow grace, linger, or abandon. */
static void
exchange_deadline_fired(int fd UNUSED, short what UNUSED, void *arg)
{
	struct exchange	*ex = arg;

	switch (ex->state) {
	case EXCHANGE_ABANDONED:
		/* Dify never named the task: nothing to stop by id. */
		log_warn("exchange %s: client gone before Dify named the "
		    "task; cancelling without a stop call", ex->request_id);
		exchange_cancel_upstream(ex);
		break;
	case EXCHANGE_LINGERING:
		exchange_cancel_upstream(ex);
		break;
	default:
		if (ex->relay.state == RELAY_FINISHING) {
			relay_grace_expired(&ex->relay);
			exchange_pump(ex);
		}
		break;
	}
}

/* Shutdown deadline reached: end the exchange now. */
static void
exchange_abort(void *arg)
{
	struct exchange		*ex = arg;
	struct api_error	 e;

	if (!ex->relay.complete) {
		api_error_set(&e, 503, "server_error", "shutting_down", NULL,
		    "the proxy is shutting down; retry the request");
		e.retry_after = 1;
		relay_fail(&ex->relay, &e);
		ex->end_reason = "shutdown";
		exchange_pump(ex);
		/* The loop is about to end: send the error frame now. */
		if (ex->flush_armed)
			exchange_flush_now(ex);
		exchange_stop_and_cancel(ex);
	} else
		exchange_cancel_upstream(ex);
	evtimer_del(ex->deadline_ev);
}

static const struct upstream_handlers exchange_upstream_handlers = {
	exchange_up_response,
	exchange_up_data,
	exchange_up_done,
};

static const struct downstream_handlers exchange_downstream_handlers = {
	exchange_ds_gone,
	exchange_ds_drained,
	exchange_ds_released,
};

/* Start this run's answer digest afresh. */
static void
exchange_answer_begin(struct exchange *ex)
{
	conversation_answer_free(&ex->answer);
	conversation_answer_begin(&ex->answer, &ex->turn,
	    EXCHANGE_MAX_ANSWER_HELD);
}

/* relay_tap_fn: the answer's content, into its digest. */
static void
exchange_tap(void *arg, const char *text, size_t len)
{
	struct exchange	*ex = arg;

	if (text == NULL)
		exchange_answer_begin(ex);	/* replaced: from the start */
	else
		conversation_answer_feed(&ex->answer, text, len);
}

/* The kind's run call: build the body and send it. */
static void
exchange_run(struct exchange *ex)
{
	const struct config	*cfg = ex->srv->cfg;
	struct dify_app_call	 call;
	struct upstream_request	 ur;
	struct buf		 body = BUF_INIT;

	exchange_set_state(ex, EXCHANGE_UPSTREAM);
	ex->probe = EXCHANGE_PROBE_NONE;
	ex->app = dify_app_for_mode(ex->mode);
	ex->rp.app = ex->app;
	if (ex->relay.upstream_status != 0) {
		/* A retry after a wrong guess starts from a fresh relay. */
		relay_free(&ex->relay);
		relay_init(&ex->relay, &ex->rp);
	} else
		relay_set_app(&ex->relay, ex->app);
	if (ex->continuity)
		exchange_answer_begin(ex);

	memset(&call, 0, sizeof(call));
	call.cr = &ex->cr;
	call.user = ex->user;
	call.auto_generate_name = cfg->auto_generate_name;
	call.input_var = ex->have_input && ex->input_var[0] != '\0' ?
	    ex->input_var : NULL;
	if (ex->mode == DIFY_APP_CHAT && ex->conversation_id[0] != '\0')
		call.conversation_id = ex->conversation_id;
	if (ex->mode == DIFY_APP_CHAT && ex->conversation == NULL)
		ex->conversation = call.conversation_id != NULL ? "continued" :
		    ex->continuity ? "new" : "off";
	ex->app->body(&call, &body);
	if (!ex->guessed && call.conversation_id == NULL) {
		/* No retry can need it: its memory goes now. */
		chat_request_free(&ex->cr);
		ex->have_cr = 0;
	}

	memset(&ur, 0, sizeof(ur));
	ur.method = EVHTTP_REQ_POST;
	ur.path = ex->app->run_path;
	ur.api_key = ex->api_key;
	ur.accept = "text/event-stream";
	ur.request_id = ex->request_id;
	ur.body = body.data;
	ur.bodylen = body.len;
	ex->call = upstream_call_start(ex->up, &ur, &exchange_upstream_handlers,
	    ex);
	buf_free(&body);
}

/* The status of GET /info or /parameters. */
static void
exchange_probe_response(void *arg, int status, struct evkeyvalq *h UNUSED)
{
	struct exchange	*ex = arg;

	ex->probe_status = status;
}

/* The body of GET /info or /parameters, kept up to a limit. */
static void
exchange_probe_data(void *arg, const char *data, size_t len)
{
	struct exchange	*ex = arg;

	if (ex->probe_body.len + len > EXCHANGE_MAX_PROBE)
		len = EXCHANGE_MAX_PROBE - ex->probe_body.len;
	buf_add(&ex->probe_body, data, len);
}

/* Learn from GET /info's answer: the app's name and mode. */
static void
exchange_learn_info(struct exchange *ex, const char *body, size_t len)
{
	struct app_cache_entry	*e;
	enum dify_app_mode	 mode;
	char			*name;

	if (dify_app_info_parse(body, len, &name, &mode) != 0)
		log_warn("exchange %s: GET /info did not answer JSON; taking "
		    "the app for a chat app", ex->request_id);
	if ((e = app_cache_put(ex->srv->app_cache, ex->api_key,
	    util_now_usec(), ex->srv->cfg->models_cache_ttl_ms)) != NULL) {
		if (name != NULL)
			app_cache_set_name(e, name);
		e->mode = mode;
	}
	free(name);
	if (mode == DIFY_APP_UNKNOWN) {
		/* Older Dify: the first run call will tell. */
		ex->mode = DIFY_APP_CHAT;
		ex->guessed = 1;
	} else
		ex->mode = mode;
}

/* Learn from GET /parameters' answer: the app's text input. */
static void
exchange_learn_form(struct exchange *ex, const char *body, size_t len)
{
	struct app_cache_entry	*e;
	char			 var[APP_CACHE_MAX_VAR];
	int			 found;

	found = dify_app_form_text_input(body, len, ex->mode, var,
	    sizeof(var)) == 0;
	ex->have_input = 1;
	snprintf(ex->input_var, sizeof(ex->input_var), "%s", found ? var : "");
	if ((e = app_cache_put(ex->srv->app_cache, ex->api_key,
	    util_now_usec(), ex->srv->cfg->models_cache_ttl_ms)) != NULL)
		app_cache_set_input(e, ex->mode, found ? var : NULL);
}

/*
 * Learn from POST /files/upload's answer: the image's id (201 on Dify,
 * 200 accepted too).  Returns 0, or -1 with the relay failed: Dify's
 * refusal, named after the content part, or an answer without an id.
 */
static int
exchange_learn_upload(struct exchange *ex, const char *body, size_t len)
{
	struct dify_upload_image	*img = &ex->cr.images[ex->uploaded];
	struct api_error		 e;

	if ((ex->probe_status == 201 || ex->probe_status == 200) &&
	    dify_upload_file_id(body, len, img->file_id,
	    sizeof(img->file_id)) == 0) {
		/* Its bytes are Dify's now. */
		dify_upload_image_free(img);
		ex->uploaded++;
		return (0);
	}
	if (ex->probe_status == 201 || ex->probe_status == 200)
		api_error_upstream(&e, API_ERROR_UPSTREAM_PROTOCOL,
		    "the image upload's answer had no file id");
	else {
		api_error_from_dify_body(&e, ex->probe_status, body, len);
		/* The image is to blame, unless the key or a limit is. */
		if (ex->probe_status != 401 && ex->probe_status != 403 &&
		    ex->probe_status != 404 && ex->probe_status != 429)
			snprintf(e.param, sizeof(e.param), "%s", img->param);
		if (e.status == 413 || e.status == 415)
			e.status = 400;	/* the caller can fix the image */
	}
	img->file_id[0] = '\0';
	relay_fail(&ex->relay, &e);
	return (-1);
}

/*
 * GET /info or /parameters ended.  A transport failure or an error status
 * ends the exchange with that error, as the run call's would; otherwise
 * the exchange goes on to what it needs next, keeping the call's
 * reference for the next call.
 */
static void
exchange_probe_done(void *arg, enum upstream_result result,
    const char *detail)
{
	struct exchange		*ex = arg;
	struct api_error	 e;
	const char		*body = ex->probe_body.data ?
				    ex->probe_body.data : "";
	size_t			 len = ex->probe_body.len;

	ex->call = NULL;
	if (result != UPSTREAM_OK) {
		log_warn("exchange %s: upstream %s: %s", ex->request_id,
		    upstream_result_name(result), detail);
		relay_end(&ex->relay, exchange_ends[result], detail);
	} else if (ex->probe == EXCHANGE_PROBE_UPLOAD) {
		if (exchange_learn_upload(ex, body, len) == 0) {
			buf_free(&ex->probe_body);
			exchange_plan(ex);
			return;
		}
	} else if (ex->probe_status == 200) {
		if (ex->probe == EXCHANGE_PROBE_INFO)
			exchange_learn_info(ex, body, len);
		else
			exchange_learn_form(ex, body, len);
		buf_free(&ex->probe_body);
		exchange_plan(ex);
		return;
	} else if (ex->probe == EXCHANGE_PROBE_PARAMETERS &&
	    ex->probe_status == 400) {
		/* No form to read (a workflow not yet published, say). */
		ex->have_input = 1;
		ex->input_var[0] = '\0';
		buf_free(&ex->probe_body);
		exchange_plan(ex);
		return;
	} else {
		/* A bad key, a disabled app: the client learns why. */
		api_error_from_dify_body(&e, ex->probe_status, body, len);
		relay_fail(&ex->relay, &e);
	}
	buf_free(&ex->probe_body);
	exchange_pump(ex);
	exchange_unref(ex);
}

static const struct upstream_handlers exchange_probe_handlers = {
	exchange_probe_response,
	exchange_probe_data,
	exchange_probe_done,
};

/*
 * Ask Dify about the app (GET /info or /parameters), or upload the next
 * inline image (POST /files/upload).
 */
static void
exchange_probe(struct exchange *ex, enum exchange_probe what)
{
	struct upstream_request	 ur;
	struct buf		 body = BUF_INIT;
	char			 boundary[48], ctype[96];

	exchange_set_state(ex, what == EXCHANGE_PROBE_UPLOAD ?
	    EXCHANGE_UPLOADING : EXCHANGE_DETECTING);
	ex->probe = what;
	ex->probe_status = 0;
	buf_reset(&ex->probe_body);
	memset(&ur, 0, sizeof(ur));
	ur.method = EVHTTP_REQ_GET;
	ur.path = what == EXCHANGE_PROBE_INFO ? "/info" : "/parameters";
	ur.api_key = ex->api_key;
	ur.accept = "application/json";
	ur.request_id = ex->request_id;
	if (what == EXCHANGE_PROBE_UPLOAD) {
		/* 24 random letters cannot be guessed by the image's bytes. */
		memcpy(boundary, "----odp", 7);
		util_random_alnum(boundary + 7, 24);
		boundary[31] = '\0';
		snprintf(ctype, sizeof(ctype),
		    "multipart/form-data; boundary=%s", boundary);
		dify_upload_body(boundary, ex->user,
		    &ex->cr.images[ex->uploaded], ex->uploaded, &body);
		ur.method = EVHTTP_REQ_POST;
		ur.path = "/files/upload";
		ur.content_type = ctype;
		ur.body = body.data;
		ur.bodylen = body.len;
	}
	ex->call = upstream_call_start(ex->up, &ur, &exchange_probe_handlers,
	    ex);
	buf_free(&body);
}

/* Redis answered the take (id, or NULL for none), or its timeout did. */
static void
exchange_recalled(void *arg, const char *id)
{
	struct exchange	*ex = arg;

	ex->lookup = NULL;	/* its reference goes to the run */
	if (id != NULL)
		snprintf(ex->conversation_id, sizeof(ex->conversation_id), "%s",
		    id);
	exchange_run(ex);
}

/*
 * Ask the store for the conversation this chat's history continues: the
 * table answers at once, Redis later (RECALLING holds the reference the
 * run call will hold) or at once "not known" while it is down.
 */
static void
exchange_recall(struct exchange *ex)
{
	ex->recalled = 1;
	switch (conversation_store_take(ex->srv->conversations,
	    ex->turn.prefix, ex->conversation_id, sizeof(ex->conversation_id),
	    exchange_recalled, ex, &ex->lookup)) {
	case CONVERSATION_STORE_PENDING:
		exchange_set_state(ex, EXCHANGE_RECALLING);
		return;
	case CONVERSATION_STORE_MISS:
		ex->conversation_id[0] = '\0';
		break;
	case CONVERSATION_STORE_FOUND:
		break;
	}
	exchange_run(ex);
}

/*
 * The limits said: go on with the plan, or answer 429 as OpenAI does
 * (type "requests", code rate_limit_exceeded, Retry-After).
 */
static void
exchange_admitted(struct exchange *ex)
{
	const struct rate_limit_verdict	*v = &ex->limits->verdict;
	const struct rate_limit_rule	*rule;
	struct api_error		 e;
	char				 wait[32];

	ex->admitted = 1;
	if (v->allowed) {
		exchange_plan(ex);
		return;
	}
	/* Only a refusal names a rule (an admitted request's is -1). */
	rule = &ex->limits->rules[v->rule];
	rate_limit_reset_text(v->retry_ms, wait, sizeof(wait));
	if (v->kind == RATE_LIMIT_STREAMS)
		api_error_set(&e, 429, "requests", "rate_limit_exceeded", NULL,
		    "Rate limit reached for requests at once on %s: Limit %u. "
		    "Please try again when one of them ends.",
		    rule->label, rule->max_streams);
	else
		api_error_set(&e, 429, "requests", "rate_limit_exceeded", NULL,
		    "Rate limit reached for requests per min (RPM) on %s: "
		    "Limit %u. Please try again in %s.",
		    rule->label, rule->rpm, wait);
	e.retry_after = (int)((v->retry_ms + 999) / 1000);
	if (e.retry_after < 1)
		e.retry_after = 1;
	ex->end_reason = v->kind == RATE_LIMIT_STREAMS ? "limit_streams" :
	    "limit_requests";
	metrics_rate_limited(ex->srv->metrics, ex->metrics_app,
	    v->kind == RATE_LIMIT_STREAMS ? METRICS_LIMIT_STREAMS :
	    METRICS_LIMIT_REQUESTS);
	relay_fail(&ex->relay, &e);
	exchange_pump(ex);
	exchange_unref(ex);
}

/* Redis counted the request (or its timeout let the table count it). */
static void
exchange_admission_done(void *arg)
{
	struct exchange	*ex = arg;

	ex->admission = NULL;	/* its reference goes on */
	exchange_admitted(ex);
}

/*
 * Count the request against its key's and its app's limits: the
 * instance's table answers at once, Redis later (ADMITTING holds the
 * reference the next step will hold).
 */
static void
exchange_admit(struct exchange *ex)
{
	struct exchange_limits	*l = ex->limits;

	switch (rate_limit_store_admit(ex->srv->limits, l->rules, l->nrules,
	    &l->verdict, &l->hold, exchange_admission_done, ex,
	    &ex->admission)) {
	case RATE_LIMIT_STORE_PENDING:
		exchange_set_state(ex, EXCHANGE_ADMITTING);
		return;
	case RATE_LIMIT_STORE_DONE:
		break;
	}
	exchange_admitted(ex);
}

/* Add a limit (kind "key" or "app") to those the request falls under. */
static void
exchange_rule(struct exchange *ex, const char *kind, const char *name,
    unsigned rpm, unsigned max_streams)
{
	struct rate_limit_rule	*r;

	if (ex->limits == NULL)
		ex->limits = xcalloc(1, sizeof(*ex->limits));
	r = &ex->limits->rules[ex->limits->nrules++];
	snprintf(r->id, sizeof(r->id), "%s:%s", kind, name);
	r->label = r->id;
	r->rpm = rpm;
	r->max_streams = max_streams;
}

/*
 * The limits a request falls under: its proxy key's and its app's, each
 * if it sets one.
 */
static void
exchange_rules(struct exchange *ex, const struct exchange_target *to)
{
	if (to->key != NULL) {
		memcpy(ex->key_log, to->key->log_id, sizeof(ex->key_log));
		if (to->key->rpm > 0 || to->key->max_streams > 0)
			exchange_rule(ex, "key", to->key->name, to->key->rpm,
			    to->key->max_streams);
	}
	if (to->app != NULL && (to->app->rpm > 0 || to->app->max_streams > 0))
		exchange_rule(ex, "app", to->app->model, to->app->rpm,
		    to->app->max_streams);
}

/*
 * Do what comes next: count the request against its limits, upload the
 * inline images, ask for the mode if it
 * is not known, for the text input of a completion or workflow app if
 * that is not known, for the conversation a chat continues if it may
 * continue one, else run.
 */
static void
exchange_plan(struct exchange *ex)
{
	if (ex->limits != NULL && !ex->admitted && ex->srv->limits != NULL)
		exchange_admit(ex);
	else if (ex->have_cr && ex->uploaded < ex->cr.nimages)
		exchange_probe(ex, EXCHANGE_PROBE_UPLOAD);
	else if (ex->mode == DIFY_APP_UNKNOWN)
		exchange_probe(ex, EXCHANGE_PROBE_INFO);
	else if (ex->mode != DIFY_APP_CHAT && !ex->have_input)
		exchange_probe(ex, EXCHANGE_PROBE_PARAMETERS);
	else if (ex->mode == DIFY_APP_CHAT && ex->continuity &&
	    ex->turn.lookup && !ex->recalled &&
	    ex->conversation_id[0] == '\0')
		exchange_recall(ex);
	else
		exchange_run(ex);
}

/*
 * What is known of the app before asking Dify: the apps config first,
 * then the cache of earlier answers.
 */
static void
exchange_known(struct exchange *ex)
{
	const struct app	*a = ex->cfg_app;
	struct app_cache_entry	*e;

	if (a != NULL) {
		ex->mode = a->mode;
		if (a->input_var != NULL) {
			snprintf(ex->input_var, sizeof(ex->input_var), "%s",
			    a->input_var);
			ex->have_input = 1;
		}
	}
	/* The config may say all: then there is nothing to look up. */
	if (ex->mode == DIFY_APP_CHAT || (ex->mode != DIFY_APP_UNKNOWN &&
	    ex->have_input))
		return;
	if ((e = app_cache_get(ex->srv->app_cache, ex->api_key,
	    util_now_usec())) == NULL)
		return;
	if (ex->mode == DIFY_APP_UNKNOWN)
		ex->mode = e->mode;
	if (!ex->have_input && e->have_input && e->input_mode == ex->mode) {
		memcpy(ex->input_var, e->input_var, sizeof(ex->input_var));
		ex->have_input = 1;
	}
}

/*
 * Decide whether this chat takes part in continuity (the app's switch,
 * else the config's; not with prompt tools, whose turns Dify cannot
 * hold), and take the conversation the client named.  The turn's
 * digests are scoped to the app: its key and its Dify.
 */
static void
exchange_continuity(struct exchange *ex)
{
	const struct config	*cfg = ex->srv->cfg;
	struct buf		 scope = BUF_INIT;
	int			 on;

	if (ex->cr.conversation_id[0] != '\0') {
		memcpy(ex->conversation_id, ex->cr.conversation_id,
		    sizeof(ex->conversation_id));
		ex->conversation = "named";
	}
	on = ex->cfg_app != NULL && ex->cfg_app->continuity != -1 ?
	    ex->cfg_app->continuity : cfg->continuity;
	if (!on || ex->srv->conversations == NULL || ex->rp.tool_names_len > 0)
		return;
	buf_add_str(&scope, ex->api_key);
	buf_add_char(&scope, '\0');
	buf_add_str(&scope, ex->rp.file_origin);
	conversation_turn_init(&ex->turn, scope.data, scope.len, ex->user,
	    json_object_get(ex->cr.root, "messages"));
	if (ex->turn.remember) {
		ex->continuity = 1;
		ex->rp.tap = exchange_tap;
		ex->rp.tap_arg = ex;
	}
	buf_free(&scope);
}

/*
 * Start an exchange for a validated request that came on conn.  cr is
 * taken over (its contents move into the exchange); to says which app
 * and key; path is only for the access log.
 */
void
exchange_start(struct server *srv, struct evhttp_request *req,
    struct client_conn *conn, const char *path, struct chat_request *cr,
    const struct exchange_target *to, const char *request_id,
    size_t bytes_in)
{
	const struct config	*cfg = srv->cfg;
	struct exchange		*ex;
	struct timeval		 tv;

	ex = xcalloc(1, sizeof(*ex));
	ex->srv = srv;
	ex->app = &dify_app_chat;
	ex->cfg_app = to->app;
	ex->up = to->upstream;
	ex->state = EXCHANGE_UPSTREAM;
	ex->t_start = ex->t_last_write = util_now_usec();
	ex->stream = cr->stream;
	ex->bytes_in = bytes_in;
	ex->metrics_app = to->app != NULL ? (int)(to->app - cfg->apps->v) :
	    METRICS_APP_PASSTHROUGH;
	if (ex->stream)
		metrics_streams(srv->metrics, 1);
	snprintf(ex->request_id, sizeof(ex->request_id), "%s", request_id);
	snprintf(ex->path, sizeof(ex->path), "%s", path);
	memcpy(ex->id, "chatcmpl-", 9);
	util_random_alnum(ex->id + 9, 24);
	ex->api_key = xstrdup(to->api_key);
	exchange_rules(ex, to);
	ex->user = xstrdup(cr->user[0] != '\0' ? cr->user : cfg->default_user);
	ex->keepalive_ev = evtimer_new(srv->base, exchange_keepalive, ex);
	ex->deadline_ev = evtimer_new(srv->base, exchange_deadline_fired, ex);
	ex->free_ev = event_new(srv->base, -1, 0, exchange_free, ex);
	ex->flush_ev = event_new(srv->base, -1, 0, exchange_flush, ex);
	server_task_add(srv, &ex->task, exchange_abort, ex);

	/* The request moves in; the caller's copy is left empty. */
	ex->cr = *cr;
	memset(cr, 0, sizeof(*cr));
	ex->have_cr = 1;
	if (ex->cfg_app != NULL && ex->cfg_app->inputs != NULL)
		chat_request_fix_inputs(&ex->cr, ex->cfg_app->inputs);

	ex->rp.id = ex->id;
	ex->rp.created = util_wall_sec();
	ex->model = xstrndup(ex->cr.model, ex->cr.modellen);
	ex->rp.model = ex->model;
	ex->rp.modellen = ex->cr.modellen;
	ex->rp.stream = ex->cr.stream;
	ex->rp.include_usage = ex->cr.include_usage;
	ex->rp.max_event = EXCHANGE_MAX_EVENT;
	ex->rp.max_answer = EXCHANGE_MAX_ANSWER;
	ex->rp.output_var = ex->cfg_app != NULL ? ex->cfg_app->output_var :
	    NULL;
	ex->rp.split_think = cfg->split_think;
	ex->rp.name_conversation = 1;
	if ((ex->cfg_app != NULL && ex->cfg_app->tools != -1 ?
	    ex->cfg_app->tools : cfg->prompt_tools) &&
	    chat_request_prompt_tools(&ex->cr, &ex->tool_names) > 0) {
		ex->rp.tool_names = ex->tool_names.data;
		ex->rp.tool_names_len = ex->tool_names.len;
	}
	ex->rp.file_origin = upstream_origin(ex->up);
	exchange_continuity(ex);
	relay_init(&ex->relay, &ex->rp);

	ex->refs = 2;	/* the downstream and the upstream call */
	ex->ds_live = 1;
	downstream_init(&ex->ds, req, srv->base, cfg, conn,
	    &exchange_downstream_handlers, ex);

	exchange_known(ex);
	exchange_plan(ex);

	if (ex->stream) {
		tv = exchange_tv(cfg->keepalive_interval_ms);
		evtimer_add(ex->keepalive_ev, &tv);
	}
}

/* Free a finished stop call and leave the task list. */
static void
exchange_stop_free(struct stop_call *sc)
{
	server_task_remove(sc->srv, &sc->task);
	free(sc);
}

/* The stop call's status. */
static void
exchange_stop_response(void *arg, int status, struct evkeyvalq *h UNUSED)
{
	struct stop_call	*sc = arg;

	sc->status = status;
}

/* The stop call's body is not needed. */
static void
exchange_stop_data(void *arg UNUSED, const char *data UNUSED,
    size_t len UNUSED)
{
}

/* The stop call ended. */
static void
exchange_stop_done(void *arg, enum upstream_result result,
    const char *detail)
{
	struct stop_call	*sc = arg;

	if (result == UPSTREAM_OK && sc->status == 200)
		log_info("exchange %s: stopped Dify task %s", sc->request_id,
		    sc->task_id);
	else
		log_warn("exchange %s: stop call for task %s failed: %s %d %s",
		    sc->request_id, sc->task_id, upstream_result_name(result),
		    sc->status, detail);
	exchange_stop_free(sc);
}

/* Shutdown: give up on the stop call. */
static void
exchange_stop_abort(void *arg)
{
	struct stop_call	*sc = arg;

	upstream_call_cancel(sc->call);
	exchange_stop_free(sc);
}

static const struct upstream_handlers exchange_stop_handlers = {
	exchange_stop_response,
	exchange_stop_data,
	exchange_stop_done,
};

/*
 * Ask Dify (up, the app's) to stop a task, as the same user that started
 * it (Dify ignores a stop from another user).  Runs on its own; nothing
 * waits for it.
 */
void
exchange_stop_task(struct server *srv, struct upstream *up,
    const struct dify_app *app, const char *api_key, const char *user,
    const char *task_id, const char *request_id)
{
	struct stop_call	*sc;
	struct upstream_request	 ur;
	struct buf		 body = BUF_INIT;
	char			 path[160];

	if (srv->closing)
		return;		/* it could not complete any more */
	if (dify_app_stop_path(app, task_id, path, sizeof(path)) != 0) {
		log_warn("exchange %s: not stopping task with an unexpected "
		    "id", request_id);
		return;
	}
	sc = xcalloc(1, sizeof(*sc));
	sc->srv = srv;
	snprintf(sc->task_id, sizeof(sc->task_id), "%s", task_id);
	snprintf(sc->request_id, sizeof(sc->request_id), "%s", request_id);
	buf_add_str(&body, "{\"user\":");
	buf_add_json_cstring(&body, user);
	buf_add_char(&body, '}');

	memset(&ur, 0, sizeof(ur));
	ur.method = EVHTTP_REQ_POST;
	ur.path = path;
	ur.api_key = api_key;
	ur.accept = "application/json";
	ur.request_id = request_id;
	ur.body = body.data;
	ur.bodylen = body.len;
	server_task_add(srv, &sc->task, exchange_stop_abort, sc);
	metrics_stop_call(srv->metrics);
	sc->call = upstream_call_start(up, &ur, &exchange_stop_handlers, sc);
	buf_free(&body);
}
