/*
 * downstream: the client side of one request, over evhttp.
 *
 * Who frees what (libevent 2.1.12, see docs/architecture.md):
 *
 *  - evhttp owns the evhttp_request.  It frees it after the response is
 *    sent (our on_complete callback runs first), or when the connection
 *    dies (our closecb runs first).  The one case where we free it is the
 *    orphan: the connection failed before the response was finished, evhttp
 *    detached the request (its connection is NULL) and left it to us.
 *
 *  - The released handler runs exactly once: when the response is
 *    complete, or when the connection closes first.  evhttp allows one
 *    on_complete callback per request and one close callback per
 *    connection; both belong to the connection object (client_conn.c),
 *    which passes them on to the request's downstream.
 *
 *  - Until the reply starts, evhttp does not read the client socket and
 *    would not notice a client hanging up.  So a separate event watches
 *    the socket for EV_READ from the moment the request arrives: a close
 *    makes the socket readable (end of file), and libevent's epoll backend
 *    reports a reset (EPOLLERR) as EV_READ|EV_WRITE.  The watch costs no
 *    epoll_ctl of its own when set up and dropped at the right moments:
 *    evhttp turns its reading off just before our handler runs, and the
 *    watch is added in that loop turn, so the socket changes only from
 *    evhttp's reader to ours (one EPOLL_CTL_MOD, where evhttp alone would
 *    make a DEL now and an ADD when the reply starts); it is dropped just
 *    after the reply has turned evhttp's reading back on, so the socket
 *    always has a reader and libevent has nothing to change.  (EV_CLOSED
 *    would add EPOLLRDHUP, and with it an epoll_ctl each way.)  When the
 *    event fires, poll(2) with POLLRDHUP tells a hang-up from bytes of a
 *    pipelined request; in that case the event is dropped (its readiness
 *    would not clear) and the same check runs from a timer.
 *    A client that hung up gets a 499 with Connection: close, which evhttp
 *    writes (or fails to write) and cleans up through its normal paths.
 *    A client that half-closes its sending side also counts as gone: HTTP
 *    clients do not do that while waiting.
 *
 *  - While a stream is sent, evhttp reads the socket only to notice a
 *    close.  Its read timeout would end long streams, so it is switched off
 *    for the stream and restored when the response completes.  The write
 *    timeout (send_timeout) catches clients that stop reading: it counts
 *    from the last write that made progress (see downstream_queue).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>

#include "client_conn.h"
#include "config.h"
#include "downstream.h"
#include "libevent_internals.h"
#include "util.h"

/* Input a streaming client may pipeline before reading pauses. */
#define DOWNSTREAM_MAX_PIPELINED	(64 * 1024)
/* How often a client with pipelined bytes is checked for a hang-up. */
#define DOWNSTREAM_RECHECK_MS		250

/* Convert milliseconds to a timeval. */
static struct timeval
downstream_tv(unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return (tv);
}

/*
 * The client socket of a request, or -1: none, or a TLS connection,
 * whose bytes must all go through its bufferevent (no writes to the
 * socket and no hang-up watch on it: a peek there sees TLS records; a
 * client gone is then noticed when a write fails, keep-alives included).
 */
int
downstream_fd(struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;

	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    bufferevent_openssl_get_ssl(bev) != NULL)
		return (-1);
	return (bufferevent_getfd(bev));
}

/* Stop watching for an early hang-up. */
static void
downstream_unwatch(struct downstream *ds)
{
	if (ds->closed_ev != NULL) {
		event_free(ds->closed_ev);
		ds->closed_ev = NULL;
	}
}

/* Release the request: the owner hears about it exactly once. */
static void
downstream_release(struct downstream *ds)
{
	downstream_unwatch(ds);
	ds->req = NULL;
	ds->h->released(ds->arg);
}

/* The response is fully written; evhttp frees req when we return. */
static void
downstream_complete(struct evhttp_request *req, void *arg)
{
	struct downstream		*ds = arg;
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	struct timeval			 tv;

	if ((evcon = evhttp_request_get_connection(req)) != NULL) {
		if ((ds->started || ds->timeouts_changed) &&
		    (bev = evhttp_connection_get_bufferevent(evcon)) != NULL) {
			/* Undo the response's settings for the next request. */
			tv = downstream_tv(ds->idle_timeout_ms);
			bufferevent_set_timeouts(bev, &tv, &tv);
			bufferevent_setwatermark(bev, EV_READ, 0, 0);
		}
	}
	downstream_release(ds);
}

/*
 * The client connection is going away (EOF, reset, timeout, shutdown).
 * ds->req is cleared first, so nothing the owner does from its gone
 * handler can reach the request evhttp is about to free (or we free).
 */
static void
downstream_closed(void *arg)
{
	struct downstream	*ds = arg;
	struct evhttp_request	*req = ds->req;

	if (req == NULL)
		return;
	ds->req = NULL;
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);	/* orphaned: ours to free */
	if (!ds->finished) {
		ds->gone = 1;
		ds->finished = 1;
		ds->h->gone(ds->arg);
	}
	downstream_release(ds);
}

/* True if the peer of fd has hung up (closed, reset or half-closed). */
static int
downstream_peer_gone(int fd)
{
	struct pollfd	pfd;

	pfd.fd = fd;
	pfd.events = POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == -1)
		return (0);
	return ((pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0);
}

/* The client hung up while we had not started replying. */
static void
downstream_hangup(struct downstream *ds)
{
	struct evkeyvalq	*hdrs;

	downstream_unwatch(ds);
	if (ds->req == NULL || ds->finished)
		return;
	ds->gone = 1;
	ds->h->gone(ds->arg);
	if (ds->req == NULL || ds->finished)
		return;
	/* Answer into the void so evhttp frees the request its usual way. */
	ds->finished = 1;
	ds->status = 499;
	hdrs = evhttp_request_get_output_headers(ds->req);
	evhttp_remove_header(hdrs, "Connection");
	evhttp_add_header(hdrs, "Connection", "close");
	evhttp_send_reply(ds->req, 499, "Client Closed Request", NULL);
}

/*
 * The client socket is readable, closed or in error before our reply, or
 * the recheck timer fired: find out which.
 */
static void
downstream_watch(int fd UNUSED, short what, void *arg)
{
	struct downstream	*ds = arg;
	struct timeval		 tv;

	if (downstream_peer_gone(ds->fd)) {
		downstream_hangup(ds);
		return;
	}
	if (what & EV_TIMEOUT) {
		tv = downstream_tv(DOWNSTREAM_RECHECK_MS);
		evtimer_add(ds->closed_ev, &tv);
		return;
	}
	/*
	 * Bytes of a pipelined request: evhttp reads them after our reply.
	 * Their readiness stays set, so check on a timer from now on.
	 */
	event_free(ds->closed_ev);
	ds->closed_ev = evtimer_new(ds->base, downstream_watch, ds);
	tv = downstream_tv(DOWNSTREAM_RECHECK_MS);
	evtimer_add(ds->closed_ev, &tv);
}

/* All output was written: tell the owner, which may resume reading Dify. */
static void
downstream_flushed(struct evhttp_connection *evcon UNUSED, void *arg)
{
	struct downstream	*ds = arg;

	ds->queued = 0;
	if (ds->req != NULL && !ds->finished && ds->h->drained != NULL)
		ds->h->drained(ds->arg);
}

static const struct client_conn_handlers downstream_conn_handlers = {
	downstream_complete,
	downstream_closed,
};

/*
 * Take charge of a request that evhttp handed to a route, on the client
 * connection conn.  The config's
 * send_timeout bounds how long a response may make no progress writing
 * to a client that stops reading; client_idle_timeout is the
 * connection's normal timeout, restored after the response.
 */
void
downstream_init(struct downstream *ds, struct evhttp_request *req,
    struct event_base *base, const struct config *cfg, struct client_conn *conn,
    const struct downstream_handlers *h, void *arg)
{
	int				 fd;

	memset(ds, 0, sizeof(*ds));
	ds->req = req;
	ds->base = base;
	ds->fd = -1;
	ds->h = h;
	ds->arg = arg;
	ds->idle_timeout_ms = cfg->client_idle_timeout_ms;
	ds->write_timeout_ms = cfg->send_timeout_ms;
	ds->chunk = evbuffer_new();
	client_conn_attach(conn, &downstream_conn_handlers, ds);
	if ((fd = downstream_fd(req)) != -1) {
		/*
		 * Tokens must not wait for Nagle and delayed ACKs: accepted
		 * sockets inherit TCP_NODELAY from the listener (server.c).
		 * The hang-up watch starts now (see the top of this file).
		 */
		ds->fd = fd;
		ds->closed_ev = event_new(base, fd, EV_READ, downstream_watch,
		    ds);
		if (ds->closed_ev != NULL)
			event_add(ds->closed_ev, NULL);
	}
}

/* Free what the downstream owns (the owner calls this after released). */
void
downstream_free(struct downstream *ds)
{
	downstream_unwatch(ds);
	if (ds->chunk != NULL) {
		evbuffer_free(ds->chunk);
		ds->chunk = NULL;
	}
}

/* Headers of the response, to add to before it is sent; NULL if gone. */
struct evkeyvalq *
downstream_headers(struct downstream *ds)
{
	if (ds->req == NULL)
		return (NULL);
	return (evhttp_request_get_output_headers(ds->req));
}

/*
 * Write a whole response evhttp has just queued, now, not a loop turn
 * later (see libevent_internals.c).  When all of it is out, the write event evhttp asked
 * for is withdrawn before the loop applies it, and evhttp's write
 * callback (which completes the request: on_complete, then the next
 * request or the close) is deferred, as if the write event had fired:
 * run from here it would free the request under the caller of
 * downstream_reply.
 */
static void
downstream_flush_reply(struct downstream *ds)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;

	if (ds->req == NULL ||
	    (evcon = evhttp_request_get_connection(ds->req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    !libevent_internals_write_queued(bev))
		return;
	bufferevent_disable(bev, EV_WRITE);
	libevent_internals_run_write_cb(bev, 1);
}

/*
 * Give the client's connection the send timeout for writing a response
 * (reading keeps the idle timeout); downstream_complete restores it.
 */
static void
downstream_set_send_timeout(struct downstream *ds)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	struct timeval			 rtv, wtv;

	if ((evcon = evhttp_request_get_connection(ds->req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
		return;
	rtv = downstream_tv(ds->idle_timeout_ms);
	wtv = downstream_tv(ds->write_timeout_ms);
	bufferevent_set_timeouts(bev, &rtv, &wtv);
	ds->timeouts_changed = 1;
}

/* Send a whole response with body (Content-Length is set by evhttp). */
void
downstream_reply(struct downstream *ds, int status, const void *body,
    size_t len)
{
	if (ds->req == NULL || ds->finished)
		return;
	if (ds->write_timeout_ms != ds->idle_timeout_ms)
		downstream_set_send_timeout(ds);
	ds->finished = 1;
	ds->status = status;
	ds->bytes_out += len;
	evbuffer_add(ds->chunk, body, len);
	evhttp_send_reply(ds->req, status, NULL, ds->chunk);
	/* After evhttp's reader is back on (see the top of this file). */
	downstream_unwatch(ds);
	downstream_flush_reply(ds);
}

/*
 * Start a streamed response (chunked on HTTP/1.1, close-framed on 1.0).
 * evhttp formats the status line and headers into the connection's
 * output; they are taken back into ds->chunk and go out with the first
 * downstream_send, in the same write as the first event.
 */
void
downstream_start(struct downstream *ds, int status)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	struct timeval			 tv;

	if (ds->req == NULL || ds->finished || ds->started)
		return;
	ds->started = 1;
	ds->status = status;
	/*
	 * An HTTP/1.0 keep-alive request would get Content-Length: 0 from
	 * evhttp_send_reply_start; without keep-alive the stream is framed by
	 * closing the connection, as HTTP/1.0 expects.
	 */
	if (libevent_internals_is_http10(ds->req))
		evhttp_remove_header(evhttp_request_get_input_headers(ds->req),
		    "Connection");
	evhttp_send_reply_start(ds->req, status, NULL);
	if ((evcon = evhttp_request_get_connection(ds->req)) != NULL &&
	    (bev = evhttp_connection_get_bufferevent(evcon)) != NULL) {
		tv = downstream_tv(ds->write_timeout_ms);
		bufferevent_set_timeouts(bev, NULL, &tv);
		bufferevent_setwatermark(bev, EV_READ, 0,
		    DOWNSTREAM_MAX_PIPELINED);
		/*
		 * Nothing waits in the output but the headers we take; the
		 * write event evhttp just asked for is dropped before the
		 * loop applies it.  A socket bufferevent freezes the front of
		 * its output after each write it makes (and only a new fd
		 * thaws it), so on a connection that has carried an evhttp
		 * write the headers can only be taken with the front thawed.
		 * It is left frozen: the state every write leaves it in.
		 */
		ds->output = bufferevent_get_output(bev);
		libevent_internals_take_output(bev, ds->chunk);
		bufferevent_disable(bev, EV_WRITE);
	}
	/* After evhttp's reader is back on (see the top of this file). */
	downstream_unwatch(ds);
}

/* Format n as the hex size line of an HTTP chunk; returns its length. */
static size_t
downstream_chunk_line(char *line, size_t n)
{
	static const char	 digits[] = "0123456789abcdef";
	char			 tmp[2 * sizeof(size_t)];
	size_t			 i = 0, len = 0;

	do {
		tmp[i++] = digits[n & 0xf];
		n >>= 4;
	} while (n != 0);
	while (i > 0)
		line[len++] = tmp[--i];
	line[len++] = '\r';
	line[len++] = '\n';
	return (len);
}

/*
 * Queue ds->chunk, already framed, behind what the client has not read
 * yet.  The first time, evhttp enables writing, arming the write timeout,
 * and calls downstream_flushed when the output has drained.  While bytes
 * wait, more are appended to the output directly: through evhttp, every
 * append would enable writing again and so restart the timeout, and a
 * client that stopped reading would never be cut as long as keepalives
 * or Dify's events kept coming.  The timeout thus counts from the last
 * write that made progress (nginx's send_timeout).
 */
static void
downstream_queue(struct downstream *ds)
{
	if (ds->queued) {
		evbuffer_add_buffer(ds->output, ds->chunk);
		return;
	}
	ds->queued = 1;
	libevent_internals_send_framed(ds->req, ds->chunk, downstream_flushed,
	    ds);
}

/*
 * Send bytes of a streamed response, framed as one chunk, and end the
 * response if last.  When nothing is queued for the client, the bytes
 * (with the headers, the first time) are written to the socket at once in
 * one writev: no copy into evhttp's buffer and no write event.  What the
 * socket does not take, and everything sent while anything is queued,
 * goes through evhttp.  The end of a response with nothing queued
 * completes it now: the owner's released handler may run before this
 * returns.
 *
 * Whether anything is queued is ds->queued, set when bytes go to evhttp
 * and cleared when evhttp reports the output drained; evhttp itself puts
 * nothing in the output while a stream is sent.  With thousands of
 * streams open, not touching evhttp's connection and buffer structs on
 * every event (they are rarely in the cache) is measurably cheaper.
 */
void
downstream_send(struct downstream *ds, const void *data, size_t len,
    int last)
{
	static const char	 tail[] = "\r\n0\r\n\r\n";
	struct evbuffer_iovec	 head[4];
	struct iovec		 iov[8];
	char			 line[24];
	size_t			 total = 0, skip;
	ssize_t			 n;
	int			 niov = 0, nhead, i, chunked;

	if (ds->req == NULL || !ds->started || ds->finished ||
	    ds->output == NULL ||
	    (len == 0 && !last && evbuffer_get_length(ds->chunk) == 0))
		return;
	chunked = libevent_internals_reply_is_chunked(ds->req);
	ds->bytes_out += len;

	/* The headers, if not sent yet: a few pieces of evhttp's buffer. */
	nhead = evbuffer_peek(ds->chunk, -1, NULL, head, (int)nitems(head));
	if (nhead > (int)nitems(head)) {
		evbuffer_pullup(ds->chunk, -1);
		nhead = evbuffer_peek(ds->chunk, -1, NULL, head, 1);
	}
	for (i = 0; i < nhead; i++) {
		iov[niov].iov_base = head[i].iov_base;
		iov[niov++].iov_len = head[i].iov_len;
	}
	if (chunked && len > 0) {
		iov[niov].iov_base = line;
		iov[niov++].iov_len = downstream_chunk_line(line, len);
	}
	if (len > 0) {
		iov[niov].iov_base = (void *)(uintptr_t)data;
		iov[niov++].iov_len = len;
	}
	if (chunked && (len > 0 || last)) {
		/* "\r\n" after data, "0\r\n\r\n" at the end, or both. */
		iov[niov].iov_base = (void *)(uintptr_t)(len > 0 ? tail :
		    tail + 2);
		iov[niov++].iov_len = (len > 0 ? 2 : 0) + (last ? 5 : 0);
	}
	for (i = 0; i < niov; i++)
		total += iov[i].iov_len;
	if (total > 0)
		ds->writes++;

	n = 0;
	if (!ds->queued && ds->fd != -1) {
		do
			n = writev(ds->fd, iov, niov);
		while (n == -1 && errno == EINTR);
		/* Errors are left to evhttp's own write, which reports them. */
		if (n < 0)
			n = 0;
	}
	if ((size_t)n < total) {
		/* Queue what the socket did not take, in order. */
		skip = (size_t)n;
		for (i = 0; i < nhead; i++)
			skip -= skip >= iov[i].iov_len ? iov[i].iov_len : skip;
		evbuffer_drain(ds->chunk, (size_t)n - skip);
		for (i = nhead; i < niov; i++) {
			if (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				continue;
			}
			evbuffer_add(ds->chunk, (const char *)iov[i].iov_base +
			    skip, iov[i].iov_len - skip);
			skip = 0;
		}
		downstream_queue(ds);
	} else
		evbuffer_drain(ds->chunk, evbuffer_get_length(ds->chunk));
	if (last) {
		ds->finished = 1;
		/* With nothing queued this completes the response now. */
		libevent_internals_end_framed(ds->req);
	}
}

/* Bytes queued for the client but not yet written to its socket. */
size_t
downstream_pending(struct downstream *ds)
{
	if (ds->req == NULL || ds->output == NULL || !ds->queued)
		return (0);
	return (evbuffer_get_length(ds->output));
}
