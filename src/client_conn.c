/*
 * client_conn: one client connection, from accept to close, around
 * evhttp's reading of it.
 *
 * evhttp 2.1.12 gives an application no say before a request is whole:
 * no per-connection limit, no deadline for a request that arrives a byte
 * a second, HTML pages for what it cannot parse, and a lenient parser
 * (http_guard.c says where).  This module puts a connection object in
 * front of it:
 *
 *  - Every byte read from the client passes through http_guard first (an
 *    evbuffer callback on the connection's input, which runs inside the
 *    socket read, before evhttp's read callback parses the bytes).  A
 *    request the guard refuses is cut out of the input before evhttp sees
 *    it; the connection then answers it with an OpenAI error of its own
 *    once the responses to the requests before it are out, stops
 *    sending, reads and discards what the client still sends for a
 *    moment (so closing cannot reset the connection over the answer),
 *    and closes.
 *  - Deadlines for a whole phase, as nginx has: the head of a request
 *    must arrive within client_header_timeout (counted from accept for
 *    the first request, from its first byte for later ones), its body
 *    within client_body_timeout of the head's end; else 408.  Nothing is
 *    cut while a request is being answered: a deadline of a request
 *    pipelined behind one in flight starts when that one is answered.
 *  - max_connections per worker: above it a new connection gets a 503.
 *  - A budget for bytes of requests not yet handled (heads and bodies
 *    still arriving, and whole requests waiting behind one in flight),
 *    max_buffered_request_bytes per worker: the request whose bytes would
 *    go over it gets a 503, so slow uploads cannot pile up memory.
 *
 * Lifetime (libevent_internals.c, contracts 3, 4 and 6): evhttp asks
 * client_conns_bev for each accepted connection's bufferevent; the
 * connection object is made there and owned by this module.  It is set
 * up (its socket, its evhttp connection, the close callback) on a
 * zero-timeout event that runs before any byte of the connection is
 * read; a reference on the bufferevent keeps it valid until then, and a
 * connection evhttp already let go of is dropped.  From then on the
 * connection's close callback, which evhttp runs first thing when it
 * frees the connection (client gone, timeout, our close, shutdown), is
 * where the object is freed: nothing of it is touched after.  A request
 * in flight has an owner (downstream.c) that hears the request's
 * completion and the connection's close through this module, which
 * holds the one on_complete and close callback evhttp allows.
 *
 * Drain (client_conns_drain): the listener is closed by the server, and
 * no request a client has sent is refused or lost.  A connection with
 * nothing of a next request sent (no byte in evhttp's input or in the
 * socket) is closed at once, as nginx closes its idle keep-alive
 * connections; any other is served as usual, its last response says
 * Connection: close, and evhttp closes it after that response.  The
 * server's drain ends when no task and no connection is left, which it
 * hears through the callback it gave.
 *
 * Connections are closed only through evhttp's own error path
 * (libevent_internals_close_incoming), from this module's events, never
 * from inside an evhttp or evbuffer callback.
 */
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include <openssl/ssl.h>
#include <event2/event.h>
#include <event2/http.h>

#include "buf.h"
#include "client_conn.h"
#include "config.h"
#include "http_reply.h"
#include "libevent_internals.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/* Lingering before the close: idle time, and time in all. */
#define CLIENT_CONN_LINGER_IDLE_MS	2000
#define CLIENT_CONN_LINGER_MAX_MS	10000
/* Descriptors kept back from max_connections' default for the rest. */
#define CLIENT_CONN_FD_RESERVE		64
/* Upper end of the default max_connections. */
#define CLIENT_CONN_MAX_DEFAULT		1000000
/* Evhttp's own limits sit this far above the guard's, never reached. */
#define CLIENT_CONN_EVHTTP_MARGIN	4096
/* A request body read straight from the socket: per read, per turn. */
#define CLIENT_CONN_BODY_READ		(64 * 1024)
#define CLIENT_CONN_BODY_TURN		(1024 * 1024)

TAILQ_HEAD(client_conn_list, client_conn);

struct client_conns {
	struct event_base		*base;
	const struct config		*cfg;
	struct http_guard_limits	 lim;
	unsigned			 max_connections;
	struct client_conn		**by_fd;
	size_t				 nby_fd;
	struct client_conn_list		 fresh;		/* not set up yet */
	struct event			*fresh_ev;
	unsigned			 count;		/* set up, not freed */
	uint64_t			 held;		/* budget in use */
	SSL_CTX				*tls;		/* TLS listener, or NULL */
	struct metrics_slot		*metrics;	/* NULL: none */
	int				 draining;
	void				(*drained)(void *); /* last closed */
	void				*drained_arg;
};

static void	client_conn_act(int, short, void *);
static void	client_conn_timer(int, short, void *);

/* Convert milliseconds to a timeval. */
static struct timeval
client_conn_tv(unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return (tv);
}

/* Arm (or re-arm) the connection's one timer as kind, ms from now. */
static void
client_conn_arm(struct client_conn *c, enum client_conn_deadline kind,
    unsigned ms)
{
	struct timeval	tv = client_conn_tv(ms);

	c->deadline = kind;
	evtimer_add(c->timer, &tv);
}

/* Disarm the timer. */
static void
client_conn_disarm(struct client_conn *c)
{
	c->deadline = CLIENT_CONN_NO_DEADLINE;
	evtimer_del(c->timer);
}

/* Change the connection's bytes counted in the budget by delta. */
static void
client_conn_hold(struct client_conn *c, int64_t delta)
{
	c->held += (uint64_t)delta;
	c->set->held += (uint64_t)delta;
}

/* True while nothing of this connection is with evhttp or a handler. */
static int
client_conn_quiet(const struct client_conn *c)
{
	return (c->inflight == 0 && c->qlen == 0);
}

/*
 * True if closing the connection loses nothing a client sent: it is open,
 * no request of it is with evhttp or a handler, and no byte of a next
 * one has come, neither into the input nor into the socket.
 */
static int
client_conn_idle(const struct client_conn *c)
{
	int	pending = 0;

	if (c->state != CLIENT_CONN_OPEN || !client_conn_quiet(c) ||
	    c->guard.phase != HTTP_GUARD_IDLE ||
	    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		return (0);
	if (ioctl(c->fd, FIONREAD, &pending) == -1)
		return (0);
	return (pending == 0);
}

/* Start the deadline of the phase the guard is in, if any, from now. */
static void
client_conn_arm_phase(struct client_conn *c)
{
	const struct config	*cfg = c->set->cfg;

	if (c->state != CLIENT_CONN_OPEN || !client_conn_quiet(c))
		return;
	if (c->guard.phase == HTTP_GUARD_HEAD)
		client_conn_arm(c, CLIENT_CONN_HEAD_DEADLINE,
		    cfg->client_header_timeout_ms);
	else if (c->guard.phase == HTTP_GUARD_BODY)
		client_conn_arm(c, CLIENT_CONN_BODY_DEADLINE,
		    cfg->client_body_timeout_ms);
}

/*
 * Refuse the request being read with e (or, silent, close without an
 * answer): the connection takes no more requests.  Bytes of the refused
 * request and everything after it leave the input, so evhttp never
 * parses them; whole requests before it stay and are answered first.
 * Called from the input callback or from this module's events.
 */
static void
client_conn_fail(struct client_conn *c, const struct api_error *e,
    int silent)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev), *tmp;
	uint64_t	 consumed, keep, queued = 0;
	size_t		 len = evbuffer_get_length(in);
	unsigned	 i;

	if (c->state != CLIENT_CONN_OPEN)
		return;
	c->state = CLIENT_CONN_FAILED;
	/* Only a refused connection carries its answer (840 bytes). */
	c->error = xmalloc(sizeof(*c->error));
	*c->error = *e;
	c->silent = silent;
	client_conn_disarm(c);
	/*
	 * Every byte that came passed the guard, so evhttp has taken all
	 * of them but those still in the input.  What is before the refused
	 * request's first byte there (whole requests) stays; if evhttp has
	 * taken part of the refused request already, nothing stays.
	 */
	consumed = c->seen - len;
	keep = c->req_start > consumed ? c->req_start - consumed : 0;
	c->in_input++;
	if (keep == 0)
		evbuffer_drain(in, len);
	else if (keep < len && (tmp = evbuffer_new()) != NULL) {
		evbuffer_add_buffer(tmp, in);
		evbuffer_remove_buffer(tmp, in, (size_t)keep);
		evbuffer_free(tmp);
	}
	c->in_input--;
	/* The refused request's own bytes are no longer held. */
	for (i = 0; i < c->qlen; i++)
		queued += c->queue[(c->qhead + i) % CLIENT_CONN_MAX_QUEUED];
	client_conn_hold(c, -(int64_t)(c->held - queued));
	if (client_conn_quiet(c))
		event_active(c->act_ev, EV_TIMEOUT, 1);
}

/* Push a whole request's size on the queue of those evhttp will take. */
static int
client_conn_queue(struct client_conn *c, uint64_t bytes)
{
	if (c->qlen == CLIENT_CONN_MAX_QUEUED)
		return (-1);
	c->queue[(c->qhead + c->qlen) % CLIENT_CONN_MAX_QUEUED] = bytes;
	c->qlen++;
	return (0);
}

/*
 * Run the guard over n new bytes of the input, which end at its end, and
 * act on what it reports.
 */
static void
client_conn_check(struct client_conn *c, struct evbuffer *in, size_t n)
{
	struct evbuffer_iovec	 vec[8];
	struct evbuffer_ptr	 pos;
	enum http_guard_event	 ev;
	struct api_error	 e;
	const char		*p;
	size_t			 left, used, len = evbuffer_get_length(in);
	int			 nvec, i;

	if (evbuffer_ptr_set(in, &pos, len - n, EVBUFFER_PTR_SET) != 0)
		return;
	nvec = evbuffer_peek(in, (ev_ssize_t)n, &pos, vec, (int)nitems(vec));
	if (nvec > (int)nitems(vec)) {
		/* Rare: more pieces than fit; take them in one. */
		evbuffer_pullup(in, -1);
		evbuffer_ptr_set(in, &pos, len - n, EVBUFFER_PTR_SET);
		nvec = evbuffer_peek(in, (ev_ssize_t)n, &pos, vec, 1);
	}
	for (i = 0; i < nvec && c->state == CLIENT_CONN_OPEN; i++) {
		p = vec[i].iov_base;
		left = vec[i].iov_len;
		while (left > 0 && c->state == CLIENT_CONN_OPEN) {
			used = http_guard_feed(&c->guard, p, left, &ev);
			p += used;
			left -= used;
			c->seen += used;
			client_conn_hold(c, (int64_t)used);
			switch (ev) {
			case HTTP_GUARD_STARTED:
				c->req_start = c->seen - 1;
				if (c->deadline == CLIENT_CONN_HEAD_DEADLINE &&
				    !c->any_byte) {
					/* The first request: from accept. */
					c->any_byte = 1;
					break;
				}
				c->any_byte = 1;
				client_conn_arm_phase(c);
				break;
			case HTTP_GUARD_HEAD_DONE:
				client_conn_arm_phase(c);
				break;
			case HTTP_GUARD_COMPLETE:
				client_conn_disarm(c);
				if (client_conn_queue(c, c->guard.bytes) != 0) {
					api_error_set(&e, 503, "server_error",
					    "overloaded", NULL, "More than %d "
					    "pipelined requests wait on this "
					    "connection.",
					    CLIENT_CONN_MAX_QUEUED);
					e.retry_after = 1;
					client_conn_fail(c, &e, 0);
				}
				c->req_start = c->seen;
				break;
			case HTTP_GUARD_ERROR:
				http_guard_error(&c->guard, &e);
				client_conn_fail(c, &e, 0);
				break;
			case HTTP_GUARD_MORE:
				break;
			}
		}
	}
	if (c->state == CLIENT_CONN_OPEN && c->guard.phase != HTTP_GUARD_IDLE &&
	    c->set->held > c->set->cfg->max_buffered_request_bytes) {
		api_error_set(&e, 503, "server_error", "overloaded", NULL,
		    "The proxy holds too many unfinished requests right now; "
		    "retry the request.");
		e.retry_after = 1;
		client_conn_fail(c, &e, 0);
	}
}

/*
 * A request body arrives through libevent 2.1 at most 4 KiB per loop
 * turn (EVBUFFER_MAX_READ), each turn an epoll_wait, an ioctl and a
 * readv: 25 turns for a chat's 100 KB history.  While the guard is
 * inside a Content-Length body with more to come, the rest is read here,
 * within the same socket read, straight into the input, until the socket
 * has no more or the body is whole (at most 1 MiB a turn, so that one
 * client cannot hold the loop).  The guard sees each read as it sees
 * libevent's, and evhttp parses everything when this callback returns.
 * An end of file or an error is left for libevent's next read to find.
 * Plain connections only: TLS bytes must pass through OpenSSL.
 */
static void
client_conn_read_body(struct client_conn *c, struct evbuffer *in)
{
	struct evbuffer_iovec	v;
	size_t			want, total = 0;
	ssize_t			n;

	while (c->state == CLIENT_CONN_OPEN &&
	    c->guard.phase == HTTP_GUARD_BODY && c->guard.left > 0 &&
	    total < CLIENT_CONN_BODY_TURN) {
		want = c->guard.left < CLIENT_CONN_BODY_READ ?
		    (size_t)c->guard.left : CLIENT_CONN_BODY_READ;
		if (evbuffer_reserve_space(in, (ev_ssize_t)want, &v, 1) != 1)
			return;
		do
			n = read(c->fd, v.iov_base, want);
		while (n == -1 && errno == EINTR);
		if (n <= 0)
			return;		/* the reservation lapses */
		v.iov_len = (size_t)n;
		evbuffer_commit_space(in, &v, 1);
		total += (size_t)n;
		client_conn_check(c, in, (size_t)n);
	}
}

/*
 * Bytes were added to or removed from the connection's input.  New bytes
 * of an open connection go through the guard (and the rest of a large
 * body is read at once); a refused connection's are thrown away.
 */
static void
client_conn_input(struct evbuffer *in, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct client_conn	*c = arg;

	if (info->n_added == 0 || c->in_input || c->evcon == NULL)
		return;
	c->in_input++;
	if (c->state == CLIENT_CONN_OPEN) {
		client_conn_check(c, in, info->n_added);
		if (c->set->tls == NULL)
			client_conn_read_body(c, in);
	} else {
		c->last_input = util_now_usec();
		evbuffer_drain(in, evbuffer_get_length(in));
	}
	c->in_input--;
}

/* Close the connection through evhttp; c is freed before this returns. */
static void
client_conn_close_now(struct client_conn *c)
{
	libevent_internals_close_incoming(c->bev);
}

/*
 * A refused connection with nothing in flight: write its answer straight
 * to the socket (evhttp has no request to answer), stop sending, and
 * linger.  A silent refusal closes at once.
 */
static void
client_conn_act(int fd UNUSED, short what UNUSED, void *arg)
{
	struct client_conn	*c = arg;
	struct buf		 b = BUF_INIT;
	char			 id[32];
	ssize_t			 n;

	if (c->state != CLIENT_CONN_FAILED || !client_conn_quiet(c))
		return;
	metrics_request(c->set->metrics, METRICS_ROUTE_REFUSED,
	    METRICS_APP_NONE, c->error->status, metrics_end_parse(
	    c->error->code), 0);
	/* Over TLS the raw socket cannot carry the answer: close. */
	if (c->silent || c->set->tls != NULL) {
		client_conn_close_now(c);
		return;
	}
	memcpy(id, "req_", 4);
	util_random_alnum(id + 4, 24);
	http_reply_error(&b, c->error, id, util_wall_sec());
	do
		n = write(c->fd, b.data, b.len);
	while (n == -1 && errno == EINTR);
	buf_free(&b);
	log_info("access id=%s method=- path=- status=%d end=%s", id,
	    c->error->status, c->error->code);
	if (n != (ssize_t)b.len) {
		/* A client that reads nothing gets nothing more. */
		client_conn_close_now(c);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = CLIENT_CONN_LINGERING;
	c->linger_start = c->last_input = util_now_usec();
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	client_conn_arm(c, CLIENT_CONN_LINGER_DEADLINE,
	    CLIENT_CONN_LINGER_IDLE_MS);
}

/* The connection's timer: a phase deadline passed, or lingering ends. */
static void
client_conn_timer(int fd UNUSED, short what UNUSED, void *arg)
{
	struct client_conn	*c = arg;
	struct api_error	 e;
	uint64_t		 now = util_now_usec(), idle;
	unsigned		 secs;

	switch (c->deadline) {
	case CLIENT_CONN_LINGER_DEADLINE:
		idle = (now - c->last_input) / 1000;
		if (idle < CLIENT_CONN_LINGER_IDLE_MS &&
		    now - c->linger_start < CLIENT_CONN_LINGER_MAX_MS * 1000ULL) {
			client_conn_arm(c, CLIENT_CONN_LINGER_DEADLINE,
			    CLIENT_CONN_LINGER_IDLE_MS - (unsigned)idle);
			return;
		}
		client_conn_close_now(c);
		return;
	case CLIENT_CONN_HEAD_DEADLINE:
	case CLIENT_CONN_BODY_DEADLINE:
		c->deadline = CLIENT_CONN_NO_DEADLINE;
		if (!client_conn_quiet(c) || c->state != CLIENT_CONN_OPEN)
			return;		/* re-armed when answered */
		secs = (c->guard.phase == HTTP_GUARD_BODY ?
		    c->set->cfg->client_body_timeout_ms :
		    c->set->cfg->client_header_timeout_ms) / 1000;
		api_error_set(&e, 408, "invalid_request_error",
		    "request_timeout", NULL, "The request's %s did not arrive "
		    "in full within %u s.", c->guard.phase == HTTP_GUARD_BODY ?
		    "body" : "headers", secs);
		/* A connection that never sent a byte is closed silently. */
		client_conn_fail(c, &e, !c->any_byte);
		return;
	case CLIENT_CONN_NO_DEADLINE:
		return;
	}
}

/* Free a connection object (off every list). */
static void
client_conn_free(struct client_conn *c)
{
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->act_ev != NULL)
		event_free(c->act_ev);
	free(c->error);
	free(c);
}

/*
 * evhttp is freeing the connection (contract 4): tell the owner of a
 * request in flight, and free the object.
 */
static void
client_conn_closed(struct evhttp_connection *evcon UNUSED, void *arg)
{
	struct client_conn		*c = arg;
	const struct client_conn_handlers *h = c->h;
	struct client_conns		*set = c->set;

	c->h = NULL;
	if (h != NULL)
		h->closed(c->arg);
	evbuffer_remove_cb(bufferevent_get_input(c->bev), client_conn_input, c);
	client_conn_hold(c, -(int64_t)c->held);
	if (c->fd >= 0 && (size_t)c->fd < set->nby_fd &&
	    set->by_fd[c->fd] == c)
		set->by_fd[c->fd] = NULL;
	set->count--;
	client_conn_free(c);
	if (set->draining && set->count == 0 && TAILQ_EMPTY(&set->fresh) &&
	    set->drained != NULL)
		set->drained(set->drained_arg);
}

/* Remember c as the connection on its socket. */
static void
client_conn_index(struct client_conns *set, struct client_conn *c)
{
	size_t	n;

	if ((size_t)c->fd >= set->nby_fd) {
		n = set->nby_fd == 0 ? 1024 : set->nby_fd;
		while (n <= (size_t)c->fd)
			n *= 2;
		set->by_fd = xrealloc(set->by_fd, n * sizeof(*set->by_fd));
		memset(set->by_fd + set->nby_fd, 0,
		    (n - set->nby_fd) * sizeof(*set->by_fd));
		set->nby_fd = n;
	}
	set->by_fd[c->fd] = c;
}

/*
 * Set up a connection evhttp has made, before any byte of it is read:
 * its socket, its evhttp connection and the close callback.  One evhttp
 * already let go of is dropped.  A connection over max_connections is
 * refused.
 */
static void
client_conn_setup(struct client_conn *c)
{
	struct client_conns	*set = c->set;
	struct evhttp_connection *evcon;
	struct api_error	 e;
	int			 fd;

	TAILQ_REMOVE(&set->fresh, c, entry);
	evcon = libevent_internals_connection_of(c->bev);
	fd = bufferevent_getfd(c->bev);
	if (evcon == NULL || fd == -1) {
		bufferevent_decref(c->bev);
		client_conn_free(c);
		return;
	}
	c->evcon = evcon;
	c->fd = fd;
	evhttp_connection_set_closecb(evcon, client_conn_closed, c);
	client_conn_index(set, c);
	set->count++;
	bufferevent_decref(c->bev);
	http_guard_init(&c->guard, &set->lim);
	client_conn_arm(c, CLIENT_CONN_HEAD_DEADLINE,
	    set->cfg->client_header_timeout_ms);
	if (set->count > set->max_connections) {
		api_error_set(&e, 503, "server_error", "overloaded", NULL,
		    "The proxy has its maximum of %u connections open; retry "
		    "the request.", set->max_connections);
		e.retry_after = 1;
		client_conn_fail(c, &e, 0);
	}
}

/* Set up the connections accepted since the last turn of the loop. */
static void
client_conns_setup(int fd UNUSED, short what UNUSED, void *arg)
{
	struct client_conns	*set = arg;

	while (!TAILQ_EMPTY(&set->fresh))
		client_conn_setup(TAILQ_FIRST(&set->fresh));
}

/*
 * evhttp's bufferevent callback (contract 6): make the bufferevent of a
 * connection just accepted, and the connection object behind it.
 */
static struct bufferevent *
client_conns_bev(struct event_base *base, void *arg)
{
	struct client_conns	*set = arg;
	struct client_conn	*c;
	struct bufferevent	*bev;
	SSL			*ssl;

	if (set->tls != NULL) {
		/*
		 * TLS: the bufferevent owns the SSL and closes the socket
		 * (evhttp then leaves it alone: it looks at the option); the
		 * handshake starts once evhttp gives it the socket.
		 */
		if ((ssl = SSL_new(set->tls)) == NULL)
			return (NULL);
		if ((bev = bufferevent_openssl_socket_new(base, -1, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)) ==
		    NULL) {
			SSL_free(ssl);
			return (NULL);
		}
		/* Clients that close without close_notify are common. */
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	} else if ((bev = bufferevent_socket_new(base, -1, 0)) == NULL)
		return (NULL);
	c = xcalloc(1, sizeof(*c));
	c->set = set;
	c->bev = bev;
	c->fd = -1;
	c->timer = evtimer_new(base, client_conn_timer, c);
	c->act_ev = event_new(base, -1, 0, client_conn_act, c);
	bufferevent_incref(bev);	/* until set up */
	evbuffer_add_cb(bufferevent_get_input(bev), client_conn_input, c);
	TAILQ_INSERT_TAIL(&set->fresh, c, entry);
	event_active(set->fresh_ev, EV_TIMEOUT, 1);
	return (bev);
}

/* max_connections when the config leaves it to the open-file limit. */
static unsigned
client_conns_default_max(void)
{
	struct rlimit	rl;
	uint64_t	limit = CLIENT_CONN_MAX_DEFAULT * 2ULL;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < limit)
		limit = rl.rlim_cur;
	/* Each connection may need one to Dify too. */
	if (limit > 2 * CLIENT_CONN_FD_RESERVE)
		return ((unsigned)((limit - CLIENT_CONN_FD_RESERVE) / 2));
	return ((unsigned)(limit / 2 > 0 ? limit / 2 : 1));
}

/*
 * Watch the connections of http: the guard's limits, evhttp's own limits
 * above them, and the bufferevent callback that makes connections ours.
 */
struct client_conns *
client_conns_new(struct event_base *base, const struct config *cfg,
    struct evhttp *http)
{
	struct client_conns	*set;

	set = xcalloc(1, sizeof(*set));
	set->base = base;
	set->cfg = cfg;
	set->lim.max_head = cfg->max_header_bytes;
	set->lim.max_body = cfg->max_body_bytes;
	set->max_connections = cfg->max_connections != 0 ?
	    cfg->max_connections : client_conns_default_max();
	TAILQ_INIT(&set->fresh);
	set->fresh_ev = event_new(base, -1, 0, client_conns_setup, set);
	evhttp_set_max_headers_size(http, (ev_ssize_t)(cfg->max_header_bytes +
	    CLIENT_CONN_EVHTTP_MARGIN));
	evhttp_set_max_body_size(http, (ev_ssize_t)(cfg->max_body_bytes +
	    CLIENT_CONN_EVHTTP_MARGIN));
	evhttp_set_bevcb(http, client_conns_bev, set);
	log_debug("at most %u connections", set->max_connections);
	return (set);
}

/* Count refused connections in a worker's metrics from now on. */
void
client_conns_set_metrics(struct client_conns *set, struct metrics_slot *ms)
{
	set->metrics = ms;
}

/*
 * Serve TLS on every connection accepted from now on, with ctx (the set
 * takes it over: SSL objects hold their own references to it).
 */
void
client_conns_set_tls(struct client_conns *set, SSL_CTX *ctx)
{
	set->tls = ctx;
}

/* Free the set, after evhttp freed its connections (their close runs). */
void
client_conns_free(struct client_conns *set)
{
	struct client_conn	*c;

	if (set == NULL)
		return;
	while ((c = TAILQ_FIRST(&set->fresh)) != NULL) {
		TAILQ_REMOVE(&set->fresh, c, entry);
		bufferevent_decref(c->bev);
		client_conn_free(c);
	}
	event_free(set->fresh_ev);
	if (set->tls != NULL)
		SSL_CTX_free(set->tls);
	free(set->by_fd);
	free(set);
}

/*
 * The listener is closed: close every connection that holds nothing a
 * client sent, and from now on every other one after its last response.
 * drained(arg) runs when the last connection is gone.  Returns the number
 * of connections left open.  Called from the server's events, never from
 * an evhttp callback.
 */
unsigned
client_conns_drain(struct client_conns *set, void (*drained)(void *),
    void *arg)
{
	struct client_conn	*c;
	size_t			 fd;

	set->draining = 1;
	set->drained = drained;
	set->drained_arg = arg;
	/* Those accepted since the last turn first: they may hold requests. */
	client_conns_setup(-1, 0, set);
	for (fd = 0; fd < set->nby_fd; fd++) {
		if ((c = set->by_fd[fd]) != NULL && client_conn_idle(c))
			client_conn_close_now(c);
	}
	return (set->count);
}

/* Connections open (accepted and not yet closed). */
unsigned
client_conns_open(const struct client_conns *set)
{
	const struct client_conn	*c;
	unsigned			 n = set->count;

	TAILQ_FOREACH(c, &set->fresh, entry)
		n++;
	return (n);
}

/* The connection a request came on, or NULL. */
struct client_conn *
client_conns_find(struct client_conns *set, struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	struct client_conn		*c;
	int				 fd;

	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (fd = bufferevent_getfd(bev)) < 0)
		return (NULL);
	if ((size_t)fd < set->nby_fd && (c = set->by_fd[fd]) != NULL &&
	    c->evcon == evcon)
		return (c);
	return (NULL);
}

/* The request is complete (contract 4): tell its owner, then go on. */
static void
client_conn_request_done(struct evhttp_request *req, void *arg)
{
	struct client_conn		*c = arg;
	const struct client_conn_handlers *h = c->h;

	c->h = NULL;
	if (h != NULL)
		h->complete(req, c->arg);
	if (c->inflight > 0)
		c->inflight--;
	/* Draining: evhttp closes after this response if nothing follows. */
	if (c->set->draining && client_conn_idle(c) &&
	    evhttp_find_header(evhttp_request_get_output_headers(req),
	    "Connection") == NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
	if (!client_conn_quiet(c))
		return;
	if (c->state == CLIENT_CONN_FAILED)
		event_active(c->act_ev, EV_TIMEOUT, 1);
	else
		client_conn_arm_phase(c);
}

/*
 * evhttp handed a whole request to a route: it is in flight until its
 * response is written, and its bytes leave the budget (the route takes
 * the body from here).
 */
void
client_conn_begin(struct client_conn *c, struct evhttp_request *req)
{
	evhttp_request_set_on_complete_cb(req, client_conn_request_done, c);
	c->inflight++;
	if (c->qlen > 0) {
		client_conn_hold(c, -(int64_t)c->queue[c->qhead]);
		c->qhead = (c->qhead + 1) % CLIENT_CONN_MAX_QUEUED;
		c->qlen--;
	}
	client_conn_disarm(c);
	/* Draining: the last request a connection has sent ends it. */
	if (c->set->draining && c->qlen == 0 && c->guard.phase ==
	    HTTP_GUARD_IDLE) {
		evhttp_remove_header(evhttp_request_get_output_headers(req),
		    "Connection");
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
	}
}

/* The request in flight has an owner that hears its end. */
void
client_conn_attach(struct client_conn *c, const struct client_conn_handlers *h,
    void *arg)
{
	c->h = h;
	c->arg = arg;
}
