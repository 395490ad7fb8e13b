/*
 * libevent_internals: everything the proxy relies on that libevent does
 * not promise, in one place, for the one version it was tested with.
 *
 * The glue uses libevent 2.1.12's documented API, and in a few places
 * leans on how 2.1.12 works inside (read from its http.c, buffer.c and
 * bufferevent_sock.c).  Each such use is a function here, with the
 * behaviour it depends on written above it, and libevent_internals_check
 * refuses, at start, any libevent other than 2.1.12: a different http.c
 * could break these silently.  Moving to another version means reading
 * each contract below against its source and running the whole suite
 * (make test, make test-asan, make test-hostile) before raising the pin.
 *
 * The contract, in short:
 *
 *  1. struct evhttp_request (event2/http_struct.h, a public but
 *     deprecated header) keeps major, minor, chunked and ntoread, and
 *     evhttp reads chunked and ntoread at the moments described below.
 *  2. A socket bufferevent writes its output only from its write event,
 *     freezes the output's front between its own writes, and thaws it
 *     only around them; bytes may be written by us while it is thawed.
 *  3. evhttp's bufferevent callbacks for a connection have the
 *     evhttp_connection as their argument (bufferevent_getcb).
 *  4. An incoming connection's close callback runs first thing in
 *     evhttp_connection_free, for every connection that got past accept,
 *     and a request's on_complete callback runs in evhttp_send_done before
 *     the next request on the connection is created.
 *  5. evhttp's read callback, run through bufferevent_trigger, completes
 *     a response whose ntoread is 0, and its write callback, likewise,
 *     completes a request whose output has drained.
 *  6. The bufferevent that evhttp_set_bevcb's callback returns becomes the
 *     connection's, before any byte of it is read; evhttp closes the
 *     socket itself at free (the bufferevent has no BEV_OPT_CLOSE_ON_FREE).
 *     An evbuffer callback on its input runs inside each socket read,
 *     before evhttp's read callback parses the bytes read.
 *  7. evhttp's error callback, given a read timeout on an incoming
 *     connection, frees it through its own path (close callback first, a
 *     request handed to the application detached from it), as its own
 *     idle timeout does; there is always a request on the connection's
 *     queue to fail.
 */
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>

#include "libevent_internals.h"

/* The one libevent these contracts were read from and tested against. */
#define LIBEVENT_INTERNALS_TESTED	0x02010c00	/* 2.1.12-stable */

#if LIBEVENT_VERSION_NUMBER != LIBEVENT_INTERNALS_TESTED
#error "built against an untested libevent: see src/libevent_internals.c"
#endif

/*
 * Refuse a libevent other than the tested one (the headers above are
 * checked at build time; this checks the library loaded at run time).
 * Returns 0, or -1 with the reason in why.
 */
int
libevent_internals_check(char *why, size_t size)
{
	ev_uint32_t	v = event_get_version_number();

	if ((v & 0xffffff00) == LIBEVENT_INTERNALS_TESTED)
		return (0);
	snprintf(why, size, "libevent %s is not the tested 2.1.12: the proxy "
	    "relies on its internals (src/libevent_internals.c) and refuses "
	    "to run on another version", event_get_version());
	return (-1);
}

/*
 * Contract 2.  Write what bev has queued to its socket now, not from the
 * write event a loop turn later, thawing the output's front for the write
 * as libevent's own write does.  Returns 1 when something was queued and
 * all of it left, else 0 (what is left stays queued for libevent, which
 * finds the same condition on its next write).
 */
int
libevent_internals_write_queued(struct bufferevent *bev)
{
	struct evbuffer	*out = bufferevent_get_output(bev);
	int		 fd, n;

	/* TLS: only the bufferevent may write (it encrypts). */
	if ((fd = bufferevent_getfd(bev)) == -1 ||
	    bufferevent_openssl_get_ssl(bev) != NULL ||
	    evbuffer_get_length(out) == 0)
		return (0);
	evbuffer_unfreeze(out, 1);
	n = evbuffer_write(out, fd);
	evbuffer_freeze(out, 1);
	return (n > 0 && evbuffer_get_length(out) == 0);
}

/*
 * Contract 2.  Move everything queued on bev's output to dst, thawing the
 * front for the move and freezing it again, the state every write of the
 * bufferevent leaves it in.
 */
void
libevent_internals_take_output(struct bufferevent *bev, struct evbuffer *dst)
{
	struct evbuffer	*out = bufferevent_get_output(bev);

	evbuffer_unfreeze(out, 1);
	evbuffer_add_buffer(dst, out);
	evbuffer_freeze(out, 1);
}

/*
 * Contract 5.  Run evhttp's write callback now (or on the loop, deferred)
 * as the write event would: with the output drained it completes what
 * evhttp was writing.
 */
void
libevent_internals_run_write_cb(struct bufferevent *bev, int deferred)
{
	bufferevent_trigger(bev, EV_WRITE, deferred ?
	    BEV_TRIG_DEFER_CALLBACKS : 0);
}

/*
 * Contract 5.  Run evhttp's read callback now, whatever the watermarks:
 * it completes a response whose body was ended with
 * libevent_internals_end_body.
 */
void
libevent_internals_run_read_cb(struct bufferevent *bev)
{
	bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
}

/*
 * Contract 1.  True for an HTTP/1.0 request (one the server got) or
 * response (to a request the client made): evhttp keeps the version of
 * either in the same fields.
 */
int
libevent_internals_is_http10(const struct evhttp_request *req)
{
	return (req->major == 1 && req->minor == 0);
}

/*
 * Contract 1.  True while evhttp frames the reply it sends as chunked
 * (set by evhttp_send_reply_start for HTTP/1.1).
 */
int
libevent_internals_reply_is_chunked(const struct evhttp_request *req)
{
	return (req->chunked != 0);
}

/*
 * Contract 1.  Queue buf, which holds bytes already framed, behind what
 * the client has not read: evhttp must add no chunk framing of its own,
 * so its chunked flag is lowered around the call.  evhttp enables
 * writing and calls cb when the output has drained.
 */
void
libevent_internals_send_framed(struct evhttp_request *req,
    struct evbuffer *buf, void (*cb)(struct evhttp_connection *, void *),
    void *arg)
{
	unsigned	chunked = req->chunked;

	req->chunked = 0;
	evhttp_send_reply_chunk_with_cb(req, buf, cb, arg);
	req->chunked = chunked;
}

/*
 * Contract 1.  End a reply whose last chunk (framing included) is already
 * written or queued: evhttp must not add another.  With nothing queued it
 * completes the request before this returns.
 */
void
libevent_internals_end_framed(struct evhttp_request *req)
{
	req->chunked = 0;
	evhttp_send_reply_end(req);
}

/*
 * Contract 1.  Take a response body's chunked framing away from evhttp,
 * after its Transfer-Encoding header was removed in the header callback
 * (patched 2.1.12 builds decide while parsing the headers).
 */
void
libevent_internals_take_framing(struct evhttp_request *req)
{
	req->chunked = 0;
}

/*
 * Contract 1.  True if evhttp frames this response body itself after all
 * (chunked, or a known length), so the caller must not decode it.
 */
int
libevent_internals_frames_body(const struct evhttp_request *req)
{
	return (req->chunked || req->ntoread >= 0);
}

/*
 * Contract 1 and 5.  The caller decoded the end of a body evhttp reads
 * "until close": with ntoread 0 evhttp's next read callback completes
 * the response as at the end of a known length, keeping the connection.
 */
void
libevent_internals_end_body(struct evhttp_request *req)
{
	req->ntoread = 0;
}

/*
 * Contract 3.  The evhttp connection a bufferevent belongs to, or NULL if
 * evhttp has let go of it (its callbacks are cleared when it is freed).
 */
struct evhttp_connection *
libevent_internals_connection_of(struct bufferevent *bev)
{
	void	*arg = NULL;

	bufferevent_getcb(bev, NULL, NULL, NULL, &arg);
	return (arg);
}

/*
 * Contract 7.  Close an incoming connection as evhttp's own read timeout
 * would.  Not from inside an evhttp or evbuffer callback of the same
 * connection: evhttp frees it before this returns.
 */
void
libevent_internals_close_incoming(struct bufferevent *bev)
{
	bufferevent_trigger_event(bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT,
	    0);
}
