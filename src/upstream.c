/*
 * upstream: HTTP(S) calls to Dify over a pool of keep-alive connections.
 *
 * Ownership and lifetimes (see docs/architecture.md):
 *
 *  - A struct upstream_call belongs to this module.  Its owner gets exactly
 *    one done() callback, after which the call is freed, or cancels it,
 *    after which no callback comes.  Callbacks never run inside
 *    upstream_call_start: the request is sent from a zero-timeout event, so
 *    the caller always holds a valid call pointer when a callback arrives.
 *
 *  - evhttp frees its evhttp_request itself: after our done callback on
 *    success, before our callbacks on failure, synchronously on cancel.  We
 *    never touch call->req after any of these.
 *
 *  - A struct upstream_conn wraps one evhttp_connection (which owns its
 *    bufferevent, which owns the SSL).  It is busy (used by one call), idle
 *    (in the pool) or dying.  Connections are never freed inside an evhttp
 *    callback: they are moved to the dying list and freed from the reap
 *    event on a later loop iteration.  A connection evhttp has reset
 *    (closed) is never reused: evhttp would reconnect it on the same SSL
 *    object, so a fresh one is made instead.
 *
 *  - A chunked response body is decoded here, not by evhttp (chunked.c).
 *    evhttp's own decoder calls back once per chunk, and Dify sends one
 *    chunk per event, each costing evhttp a line read, two allocations and
 *    a buffer move.  So the header callback removes Transfer-Encoding (and
 *    Connection and Content-Length) from the response headers before
 *    evhttp looks at them: evhttp then reads "until close" and hands over
 *    whatever each read brought.  When the decoder reads the last chunk,
 *    the data callback sets the request's ntoread to 0 (a field of the
 *    public struct, see libevent_internals.c), and evhttp completes the request as it does at the
 *    end of a known length, keeping the connection for reuse; it adds
 *    "Connection: close" back first if Dify asked for that or sent bytes
 *    past the body.  A close before the last chunk, which evhttp would
 *    take for the end, is reported as a broken response, and bad framing
 *    drops the connection.
 *
 *  - libevent 2.1 reads a socket 4 KiB at a time, one read per loop turn
 *    and an ioctl(FIONREAD) before each, so a 30 KiB burst of events
 *    would take eight turns, eight relay calls and eight writes to the
 *    client.  On plain HTTP, once evhttp has handed over the first body
 *    bytes, the call reads the rest of a chunked body itself: evhttp's
 *    reading is switched off and an event of the call's own
 *    (upstream_call_readable) reads up to 64 KiB at a time straight into
 *    the decoder, with the idle timeout as its timeout.  When evhttp's
 *    first read was cut at its 4 KiB, the call reads once more at once,
 *    so a burst reaches the client in one write.  evhttp never
 *    sees those bytes; it reads "until close" and the decoder decides
 *    where the body ends.  At the last chunk the call sets ntoread to 0
 *    and runs evhttp's read callback, which completes the request as
 *    above.  At end of file or a read error evhttp gets the socket back
 *    and finds the same by its own read.
 *
 *  - Over TLS the same holds with OpenSSL in between (upstream_tls.c):
 *    libevent's OpenSSL bufferevent reads each record in two reads of
 *    the socket (its header, then the rest) and a 4 KiB piece of it per
 *    call.  So a request that fits one record is written at once
 *    (upstream_call_flush_tls), and the call takes a chunked body over
 *    from the response head's callback, with OpenSSL reading ahead (all
 *    the socket has, in one read), reading every record OpenSSL can
 *    give per wake-up.  What OpenSSL holds brings no readiness event,
 *    so a read that stops early is followed by another in the same loop
 *    turn (tls_more).  At end of file or a TLS error the call ends
 *    itself: the socket may never be readable again.  New connections
 *    resume the last TLS session (upstream_tls.c).
 *
 * Host names are resolved here with evdns_getaddrinfo and cached; evhttp is
 * given the numeric address.  This keeps DNS non-blocking, avoids libevent
 * #1064 (cancelling during evhttp's own lookup on an OpenSSL bufferevent)
 * and lets the connect timeout cover the lookup.  The Host header and TLS
 * SNI/verification still use the name.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "buf.h"
#include "chunked.h"
#include "config.h"
#include "libevent_internals.h"
#include "log.h"
#include "metrics.h"
#include "upstream.h"
#include "upstream_tls.h"
#include "util.h"

#define UPSTREAM_DNS_TTL_USEC	(60ULL * 1000000)
#define UPSTREAM_MAX_HEADERS	(64 * 1024)
#define UPSTREAM_USER_AGENT	"openai-dify-proxy/" ODP_VERSION
/*
 * What one read of a plain-HTTP Dify socket by the call may take: with
 * room for a NUL its decoded bytes still fit the largest pooled buffer.
 */
#define UPSTREAM_DIRECT_READ	(64 * 1024 - 1)
/*
 * libevent 2.1 reads a socket at most 4 KiB at a time (EVBUFFER_MAX_READ).
 * When evhttp's first read of a response brought at least this much body
 * besides the head, it was almost surely cut at that limit with more
 * waiting, and the call reads on at once (see upstream_req_chunk).
 */
#define UPSTREAM_FULL_FIRST_READ	(3 * 1024)
/*
 * A request written to a TLS connection at once, as one record: at most
 * what libevent's OpenSSL bufferevent writes as one piece (WRITE_FRAME),
 * so a retry it makes offers the same bytes.
 */
#define UPSTREAM_TLS_RECORD		15000

enum upstream_conn_where {
	CONN_BUSY,
	CONN_IDLE,
	CONN_DYING
};

struct upstream_conn {
	struct upstream			*up;
	struct evhttp_connection	*evcon;
	TAILQ_ENTRY(upstream_conn)	 entry;	/* idle or dying list */
	enum upstream_conn_where	 where;
	int				 closed; /* evhttp reset it */
	int				 used;	/* has carried a request */
	long				 verify_error; /* X509_V_*, 0 if none */
	int				 nodelay;	/* TCP_NODELAY set */
	int				 tls_counted;	/* handshake in metrics */
};
TAILQ_HEAD(upstream_conns, upstream_conn);

enum upstream_call_state {
	CALL_STARTING,		/* waiting for the zero-timeout start */
	CALL_RESOLVING,		/* waiting for the host name */
	CALL_SENT,		/* evhttp has the request */
	CALL_RECEIVING,		/* response headers arrived */
	CALL_FINISHING		/* done() is running */
};

struct upstream_call {
	struct upstream			*up;
	struct upstream_conn		*conn;
	struct evhttp_request		*req;
	const struct upstream_handlers	*h;
	void				*arg;
	enum upstream_call_state	 state;
	struct event			*timer;	/* start, then DNS deadline */
	TAILQ_ENTRY(upstream_call)	 entry;	/* all calls */
	TAILQ_ENTRY(upstream_call)	 wentry; /* waiting for DNS */
	int				 in_callback;
	int				 sending;	/* in evhttp_make_request */
	int				 failed_in_send; /* evhttp ended it there */
	int				 cancelled;
	int				 have_error;
	enum evhttp_request_error	 error;
	unsigned long			 ssl_error;
	enum evhttp_cmd_type		 method;
	char				*path;
	char				*auth;
	char				*accept;
	char				*content_type;	/* of body */
	char				*request_id;
	struct evbuffer			*body;
	int				 chunked;	/* we decode the body */
	int				 close_after;	/* Dify said close */
	struct chunked			 dechunk;
	struct buf			 decoded;	/* one read's body */
	struct event			*read_ev;	/* our reads of the body */
	struct event			*idle_ev;	/* their idle clock */
	uint64_t			 last_read_us;	/* of read_ev */
	int				 own_read;	/* read_ev is in charge */
	int				 own_done;	/* evhttp has it back */
	SSL				*ssl;		/* https: read through it */
	int				 tls_more;	/* OpenSSL may hold more */
	unsigned long			 tls_error;	/* of the read that ended */
	int				 paused;	/* backpressure */
};
TAILQ_HEAD(upstream_calls, upstream_call);

struct upstream {
	struct event_base		*base;
	const struct config		*cfg;
	const struct url		*url;		/* the Dify base URL */
	char				 origin[320];	/* its scheme://host:port */
	struct evdns_base		*dns;
	struct upstream_tls		*tls;		/* https: sessions */
	char				 host_header[300];
	char				 addr[256];	/* numeric */
	uint64_t			 addr_expires;	/* 0: literal */
	int				 have_addr;
	int				 resolving;
	struct evdns_getaddrinfo_request *dnsreq;
	struct upstream_conns		 idle;
	unsigned			 nidle;
	struct upstream_conns		 dying;
	struct upstream_calls		 calls;
	struct upstream_calls		 waiting;
	struct event			*reap;
	struct metrics_slot		*metrics;	/* the worker's, or NULL */
};

static void	upstream_call_finish(struct upstream_call *,
		    enum upstream_result, const char *);
static void	upstream_call_send(struct upstream_call *);
static void	upstream_call_readable(evutil_socket_t, short, void *);
static void	upstream_call_idle(evutil_socket_t, short, void *);
static void	upstream_call_read_on(struct upstream_call *);
static int	upstream_call_own_start(struct upstream_call *);
static int	upstream_call_body_fd(struct upstream_call *, SSL **);
static void	upstream_call_flush_tls(struct upstream_call *);
static void	upstream_call_count_tls(struct upstream_call *);

/* The origin (scheme://host[:port]) of the Dify this client calls. */
const char *
upstream_origin(const struct upstream *up)
{
	return (up->origin);
}

/* Name of a result, for logs. */
const char *
upstream_result_name(enum upstream_result r)
{
	static const char *names[] = {
		[UPSTREAM_OK] = "ok",
		[UPSTREAM_UNREACHABLE] = "unreachable",
		[UPSTREAM_DNS] = "dns",
		[UPSTREAM_TLS] = "tls",
		[UPSTREAM_TIMEOUT] = "timeout",
		[UPSTREAM_BROKEN] = "broken",
		[UPSTREAM_NO_DESCRIPTORS] = "no_descriptors",
	};

	return (names[r]);
}

/* Convert milliseconds to a timeval. */
static struct timeval
upstream_tv(unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return (tv);
}

/* Free the connections waiting on the dying list. */
static void
upstream_reap(int fd UNUSED, short what UNUSED, void *arg)
{
	struct upstream		*up = arg;
	struct upstream_conn	*conn;

	while ((conn = TAILQ_FIRST(&up->dying)) != NULL) {
		TAILQ_REMOVE(&up->dying, conn, entry);
		evhttp_connection_set_closecb(conn->evcon, NULL, NULL);
		evhttp_connection_free(conn->evcon);
		free(conn);
	}
}

/* Queue a connection to be freed on a later loop iteration. */
static void
upstream_conn_kill(struct upstream_conn *conn)
{
	struct upstream	*up = conn->up;

	if (conn->where == CONN_DYING)
		return;
	if (conn->where == CONN_IDLE) {
		TAILQ_REMOVE(&up->idle, conn, entry);
		up->nidle--;
		metrics_upstream_conns(up->metrics, -1, 0);
	} else
		metrics_upstream_conns(up->metrics, 0, -1);
	conn->where = CONN_DYING;
	TAILQ_INSERT_TAIL(&up->dying, conn, entry);
	event_active(up->reap, EV_TIMEOUT, 1);
}

/*
 * evhttp reset the connection (peer closed, error, cancel, idle timeout).
 * An idle one leaves the pool; a busy one is dropped when its call ends.
 */
static void
upstream_conn_closed(struct evhttp_connection *evcon UNUSED, void *arg)
{
	struct upstream_conn	*conn = arg;

	conn->closed = 1;
	if (conn->where == CONN_IDLE)
		upstream_conn_kill(conn);
}

/* Open a new connection object (it connects on its first request). */
static struct upstream_conn *
upstream_conn_new(struct upstream *up)
{
	struct upstream_conn	*conn;
	struct bufferevent	*bev = NULL;
	SSL			*ssl;
	const struct url	*u = up->url;

	conn = xcalloc(1, sizeof(*conn));
	conn->up = up;
	if (u->tls) {
		if ((ssl = upstream_tls_ssl_new(up->tls, u,
		    &conn->verify_error)) == NULL)
			goto fail;
		/* The bufferevent owns the SSL from here, even on failure. */
		bev = bufferevent_openssl_socket_new(up->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (bev == NULL)
			goto fail;
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	conn->evcon = evhttp_connection_base_bufferevent_new(up->base, NULL,
	    bev, up->addr, (unsigned short)u->port);
	if (conn->evcon == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		goto fail;
	}
	evhttp_connection_set_max_headers_size(conn->evcon,
	    UPSTREAM_MAX_HEADERS);
	evhttp_connection_set_closecb(conn->evcon, upstream_conn_closed, conn);
	conn->where = CONN_BUSY;
	metrics_upstream_opened(up->metrics);
	metrics_upstream_conns(up->metrics, 0, 1);
	return (conn);
fail:
	free(conn);
	return (NULL);
}

/* Take the most recently used idle connection, or make a new one. */
static struct upstream_conn *
upstream_conn_get(struct upstream *up)
{
	struct upstream_conn	*conn;

	if ((conn = TAILQ_LAST(&up->idle, upstream_conns)) != NULL) {
		TAILQ_REMOVE(&up->idle, conn, entry);
		up->nidle--;
		conn->where = CONN_BUSY;
		metrics_upstream_conns(up->metrics, -1, 1);
		return (conn);
	}
	return (upstream_conn_new(up));
}

/* Return a connection after a call: to the pool if it can serve again. */
static void
upstream_conn_release(struct upstream_conn *conn, int reusable)
{
	struct upstream	*up = conn->up;
	struct timeval	 tv;

	if (reusable && !conn->closed && up->nidle < up->cfg->upstream_pool_size) {
		tv = upstream_tv(up->cfg->upstream_keepalive_ms);
		evhttp_connection_set_timeout_tv(conn->evcon, &tv);
		conn->where = CONN_IDLE;
		TAILQ_INSERT_TAIL(&up->idle, conn, entry);
		up->nidle++;
		metrics_upstream_conns(up->metrics, 1, -1);
		return;
	}
	upstream_conn_kill(conn);
}

/*
 * Set up the client for a Dify base URL (the config's, or an app's own;
 * it must outlive the client).
 */
struct upstream *
upstream_new(struct event_base *base, const struct config *cfg,
    const struct url *u, char **cause)
{
	struct upstream		*up;
	int			 defport;

	up = xcalloc(1, sizeof(*up));
	up->base = base;
	up->cfg = cfg;
	up->url = u;
	url_origin(u, up->origin, sizeof(up->origin));
	TAILQ_INIT(&up->idle);
	TAILQ_INIT(&up->dying);
	TAILQ_INIT(&up->calls);
	TAILQ_INIT(&up->waiting);
	up->reap = event_new(base, -1, 0, upstream_reap, up);

	defport = u->tls ? 443 : 80;
	if (u->port == defport)
		snprintf(up->host_header, sizeof(up->host_header),
		    u->host_is_ip && strchr(u->host, ':') ? "[%s]" : "%s",
		    u->host);
	else
		snprintf(up->host_header, sizeof(up->host_header),
		    u->host_is_ip && strchr(u->host, ':') ? "[%s]:%d" :
		    "%s:%d", u->host, u->port);

	if (u->tls && (up->tls = upstream_tls_new(cfg, cause)) == NULL)
		goto fail;
	if (u->host_is_ip) {
		snprintf(up->addr, sizeof(up->addr), "%s", u->host);
		up->have_addr = 1;
	} else {
		up->dns = evdns_base_new(base,
		    EVDNS_BASE_INITIALIZE_NAMESERVERS |
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (up->dns == NULL) {
			*cause = xstrdup("cannot start the DNS resolver");
			goto fail;
		}
	}
	return (up);
fail:
	upstream_free(up);
	return (NULL);
}

/* Free a call's memory (it must be off every list). */
static void
upstream_call_free(struct upstream_call *call)
{
	if (call->timer != NULL)
		event_free(call->timer);
	if (call->read_ev != NULL)
		event_free(call->read_ev);
	if (call->idle_ev != NULL)
		event_free(call->idle_ev);
	if (call->body != NULL)
		evbuffer_free(call->body);
	free(call->path);
	free(call->auth);
	free(call->accept);
	free(call->content_type);
	free(call->request_id);
	buf_free(&call->decoded);
	free(call);
}

/*
 * Free the client.  Calls still running are cancelled without callbacks:
 * their owners must already be gone.
 */
void
upstream_free(struct upstream *up)
{
	struct upstream_call	*call;
	struct upstream_conn	*conn;

	if (up == NULL)
		return;
	while ((call = TAILQ_FIRST(&up->calls)) != NULL)
		upstream_call_cancel(call);
	if (up->dnsreq != NULL)
		evdns_getaddrinfo_cancel(up->dnsreq);
	while ((conn = TAILQ_FIRST(&up->idle)) != NULL)
		upstream_conn_kill(conn);
	upstream_reap(-1, 0, up);
	if (up->reap != NULL)
		event_free(up->reap);
	if (up->dns != NULL)
		evdns_base_free(up->dns, 0);
	upstream_tls_free(up->tls);
	free(up);
}

/* The host name resolved (or did not): start or fail the waiting calls. */
static void
upstream_dns_done(int result, struct evutil_addrinfo *res, void *arg)
{
	struct upstream		*up = arg;
	struct upstream_call	*call;
	struct evutil_addrinfo	*ai, *pick = NULL;
	const void		*sa;
	char			 detail[512];

	up->resolving = 0;
	up->dnsreq = NULL;
	if (result == EVUTIL_EAI_CANCEL)
		return;
	/* Prefer IPv4: "localhost" often lists ::1 that nothing listens on. */
	for (ai = res; result == 0 && ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			pick = ai;
			break;
		}
		if (pick == NULL && ai->ai_family == AF_INET6)
			pick = ai;
	}
	if (pick != NULL) {
		if (pick->ai_family == AF_INET)
			sa = &((struct sockaddr_in *)pick->ai_addr)->sin_addr;
		else
			sa = &((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
		evutil_inet_ntop(pick->ai_family, sa, up->addr,
		    sizeof(up->addr));
		up->have_addr = 1;
		up->addr_expires = util_now_usec() + UPSTREAM_DNS_TTL_USEC;
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);

	snprintf(detail, sizeof(detail), "%s: %s", up->url->host,
	    result != 0 ? evutil_gai_strerror(result) : "no address");
	while ((call = TAILQ_FIRST(&up->waiting)) != NULL) {
		TAILQ_REMOVE(&up->waiting, call, wentry);
		evtimer_del(call->timer);
		if (pick != NULL)
			upstream_call_send(call);
		else
			upstream_call_finish(call, UPSTREAM_DNS, detail);
	}
}

/* True if the cached address may be used now. */
static int
upstream_addr_fresh(struct upstream *up)
{
	return (up->have_addr &&
	    (up->addr_expires == 0 || util_now_usec() < up->addr_expires));
}

/* Start resolving the host name unless a lookup is already running. */
static void
upstream_resolve(struct upstream *up)
{
	struct evutil_addrinfo			 hints;
	struct evdns_getaddrinfo_request	*req;

	if (up->resolving)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	up->resolving = 1;
	/* The callback may run before this returns (cached or /etc/hosts). */
	req = evdns_getaddrinfo(up->dns, up->url->host, NULL, &hints,
	    upstream_dns_done, up);
	if (up->resolving)
		up->dnsreq = req;
}

/* The start event, then the DNS deadline, of a call. */
static void
upstream_call_timer(int fd UNUSED, short what UNUSED, void *arg)
{
	struct upstream_call	*call = arg;
	struct upstream		*up = call->up;
	struct timeval		 tv;

	if (call->state == CALL_STARTING) {
		if (upstream_addr_fresh(up)) {
			upstream_call_send(call);
			return;
		}
		call->state = CALL_RESOLVING;
		TAILQ_INSERT_TAIL(&up->waiting, call, wentry);
		tv = upstream_tv(up->cfg->connect_timeout_ms);
		evtimer_add(call->timer, &tv);
		upstream_resolve(up);
		return;
	}
	if (call->state == CALL_RESOLVING) {
		TAILQ_REMOVE(&up->waiting, call, wentry);
		upstream_call_finish(call, UPSTREAM_DNS,
		    "name lookup timed out");
	}
}

/*
 * A chunked response: take the body's framing from evhttp (see the top of
 * this file), remembering whether Dify asked to close the connection.
 */
static void
upstream_take_chunked(struct upstream_call *call, struct evhttp_request *req)
{
	struct evkeyvalq	*hdrs = evhttp_request_get_input_headers(req);
	const char		*te, *conn;

	te = evhttp_find_header(hdrs, "Transfer-Encoding");
	if (te == NULL || evutil_ascii_strcasecmp(te, "chunked") != 0)
		return;
	conn = evhttp_find_header(hdrs, "Connection");
	call->close_after = conn != NULL &&
	    evutil_ascii_strcasecmp(conn, "close") == 0;
	while (evhttp_remove_header(hdrs, "Transfer-Encoding") == 0)
		;
	while (evhttp_remove_header(hdrs, "Connection") == 0)
		;
	while (evhttp_remove_header(hdrs, "Content-Length") == 0)
		;
	libevent_internals_take_framing(req);
	chunked_init(&call->dechunk);
	call->chunked = 1;
}

/*
 * An HTTP/1.0 response without "Connection: keep-alive" ends with the
 * server closing the connection.  evhttp 2.1 keeps an outgoing
 * connection unless a header says "Connection: close", and the next call
 * would be sent on a socket the server has closed, to fail before any
 * response.  Say it for the server, so that evhttp closes it.
 */
static void
upstream_http10_close(struct evhttp_request *req)
{
	struct evkeyvalq	*hdrs = evhttp_request_get_input_headers(req);
	const char		*conn;

	if (!libevent_internals_is_http10(req))
		return;
	conn = evhttp_find_header(hdrs, "Connection");
	if (conn != NULL && evutil_ascii_strcasecmp(conn, "keep-alive") == 0)
		return;
	while (evhttp_remove_header(hdrs, "Connection") == 0)
		;
	evhttp_add_header(hdrs, "Connection", "close");
}

/* Response headers arrived; a negative return aborts the request. */
static int
upstream_req_header(struct evhttp_request *req, void *arg)
{
	struct upstream_call	*call = arg;
	struct timeval		 tv;

	upstream_http10_close(req);
	upstream_take_chunked(call, req);
	call->state = CALL_RECEIVING;
	/* From here the idle timeout applies, not the connect timeout. */
	tv = upstream_tv(call->up->cfg->upstream_idle_timeout_ms);
	evhttp_connection_set_timeout_tv(call->conn->evcon, &tv);
	if (call->cancelled)
		return (-1);
	call->in_callback++;
	call->h->response(call->arg, evhttp_request_get_response_code(req),
	    evhttp_request_get_input_headers(req));
	call->in_callback--;
	if (call->cancelled)
		return (-1);
	/*
	 * Over TLS the call reads a chunked body itself from here on, with
	 * OpenSSL reading ahead (upstream_call_own_start): evhttp's reads
	 * would take each record in two reads of the socket and one loop
	 * turn.  Its first read comes later in this loop turn, after evhttp
	 * has passed on the body bytes it already holds.  The head is read
	 * without reading ahead: libevent's OpenSSL bufferevent would leave
	 * a second record of it unseen in OpenSSL, with no readiness event
	 * to come for it.
	 */
	if (call->up->url->tls) {
		upstream_call_count_tls(call);
		if (upstream_call_own_start(call) != -1) {
			call->tls_more = 1;
			upstream_call_read_on(call);
		}
	}
	return (0);
}

/* Count a TLS connection's handshake once, at its first response. */
static void
upstream_call_count_tls(struct upstream_call *call)
{
	SSL	*ssl;

	if (call->conn->tls_counted || upstream_call_body_fd(call, &ssl) ==
	    -1 || ssl == NULL)
		return;
	call->conn->tls_counted = 1;
	metrics_upstream_tls(call->up->metrics, upstream_tls_resumed(ssl));
}

/*
 * The socket of the call's connection when it is plain HTTP (TLS bytes
 * must pass through OpenSSL) and has one, else -1; *bevp gets its
 * bufferevent.
 */
static int
upstream_call_plain_fd(struct upstream_call *call, struct bufferevent **bevp)
{
	struct bufferevent	*bev;

	if (call->up->url->tls || call->conn == NULL ||
	    (bev = evhttp_connection_get_bufferevent(call->conn->evcon)) ==
	    NULL)
		return (-1);
	*bevp = bev;
	return (bufferevent_getfd(bev));
}

/*
 * The socket the call can read a body from itself, else -1: a plain one,
 * or a TLS one with its SSL in *sslp (NULL for plain).
 */
static int
upstream_call_body_fd(struct upstream_call *call, SSL **sslp)
{
	struct bufferevent	*bev;

	*sslp = NULL;
	if (call->conn == NULL || (bev = evhttp_connection_get_bufferevent(
	    call->conn->evcon)) == NULL)
		return (-1);
	if (call->up->url->tls && (*sslp = bufferevent_openssl_get_ssl(bev)) ==
	    NULL)
		return (-1);
	return (bufferevent_getfd(bev));
}

/*
 * The call's own read event for socket fd, made on first use (or made
 * again if the connection's socket changed since); NULL when out of
 * memory.  Not added here.
 */
static struct event *
upstream_call_read_event(struct upstream_call *call, int fd)
{
	if (call->read_ev != NULL && event_get_fd(call->read_ev) != fd) {
		event_free(call->read_ev);
		call->read_ev = NULL;
	}
	if (call->read_ev == NULL)
		call->read_ev = event_new(call->up->base, fd,
		    EV_READ | EV_PERSIST, upstream_call_readable, call);
	return (call->read_ev);
}

/* Hand the body decoded from one read to the owner. */
static void
upstream_call_pass_decoded(struct upstream_call *call)
{
	if (call->decoded.len > 0 && !call->cancelled)
		call->h->data(call->arg, call->decoded.data, call->decoded.len);
	buf_reset(&call->decoded);
}

/*
 * Pass what a read brought to the owner: as it is, or decoded from the
 * chunked framing into one run (a read usually holds several of Dify's
 * one-event chunks).  With hold, decoded bytes stay in call->decoded for
 * the caller to pass on with more.  Returns the decoder's verdict
 * (CHUNKED_MORE when not chunked).
 */
static enum chunked_result
upstream_call_feed(struct upstream_call *call, struct evbuffer *buf,
    int hold)
{
	struct evbuffer_iovec	 vec[8];
	enum chunked_result	 r = CHUNKED_MORE;
	size_t			 used, taken;
	int			 n, i;

	if (call->chunked)
		buf_reserve(&call->decoded, evbuffer_get_length(buf));
	while (evbuffer_get_length(buf) > 0 && !call->cancelled) {
		n = evbuffer_peek(buf, -1, NULL, vec, (int)nitems(vec));
		if (n > (int)nitems(vec))
			n = (int)nitems(vec);
		taken = 0;
		for (i = 0; i < n && !call->cancelled; i++) {
			if (!call->chunked) {
				call->h->data(call->arg, vec[i].iov_base,
				    vec[i].iov_len);
				taken += vec[i].iov_len;
				continue;
			}
			r = chunked_feed(&call->dechunk, vec[i].iov_base,
			    vec[i].iov_len, &used, &call->decoded);
			taken += used;
			if (r != CHUNKED_MORE)
				break;
		}
		if (!hold)
			upstream_call_pass_decoded(call);
		evbuffer_drain(buf, taken);
		if (r != CHUNKED_MORE)
			break;
	}
	return (r);
}

/* The idle timeout between Dify's reads, as a timeval. */
static struct timeval
upstream_idle_tv(struct upstream_call *call)
{
	return (upstream_tv(call->up->cfg->upstream_idle_timeout_ms));
}

/* Watch Dify's socket ourselves, with the idle clock starting now. */
static void
upstream_call_own_arm(struct upstream_call *call)
{
	struct timeval	tv = upstream_idle_tv(call);

	call->last_read_us = util_now_usec();
	event_add(call->read_ev, NULL);
	evtimer_add(call->idle_ev, &tv);
	if (call->ssl != NULL && SSL_has_pending(call->ssl))
		call->tls_more = 1;
	upstream_call_read_on(call);
}

/*
 * Read again in this loop turn when the last TLS read stopped before
 * OpenSSL wanted the socket (a full buffer, a pause, the peer's close):
 * what OpenSSL already took in brings no readiness event.
 */
static void
upstream_call_read_on(struct upstream_call *call)
{
	if (call->tls_more && call->own_read && !call->paused)
		event_active(call->read_ev, EV_READ, 1);
}

/* Stop watching Dify's socket and its idle clock (pause or stop). */
static void
upstream_call_own_disarm(struct upstream_call *call)
{
	event_del(call->read_ev);
	event_del(call->idle_ev);
}

/* Stop reading Dify's socket ourselves. */
static void
upstream_call_own_stop(struct upstream_call *call)
{
	if (call->own_read && call->read_ev != NULL)
		upstream_call_own_disarm(call);
	call->own_read = 0;
	if (call->ssl != NULL)
		SSL_set_read_ahead(call->ssl, 0);
	call->ssl = NULL;
	call->tls_more = 0;
}

/*
 * Take over reading a chunked body from evhttp (see the top of this
 * file).  Nothing happens where that is not possible.  Returns the
 * socket when the call now reads it itself and is not paused, else -1.
 */
static int
upstream_call_own_start(struct upstream_call *call)
{
	struct bufferevent	*bev;
	SSL			*ssl;
	int			 fd;

	if (call->own_read || call->own_done || !call->chunked ||
	    (fd = upstream_call_body_fd(call, &ssl)) == -1 ||
	    upstream_call_read_event(call, fd) == NULL)
		return (-1);
	if (call->idle_ev == NULL && (call->idle_ev = evtimer_new(
	    call->up->base, upstream_call_idle, call)) == NULL)
		return (-1);
	bev = evhttp_connection_get_bufferevent(call->conn->evcon);
	/*
	 * Ours first, then evhttp's off: the socket keeps a reader
	 * throughout, so libevent has no epoll change to make (off, then
	 * ours, cost an epoll_ctl per stream; so does the way back).
	 */
	call->own_read = 1;
	call->ssl = ssl;
	if (ssl != NULL)
		SSL_set_read_ahead(ssl, 1);
	if (!call->paused)
		upstream_call_own_arm(call);
	bufferevent_disable(bev, EV_READ);
	return (call->paused ? -1 : fd);
}

/*
 * Give the socket back to evhttp for good (end of file, read error), so
 * that its own read finds the same: its reader on before ours goes (see
 * own_start).  Paused, it stays off until the resume.  At the end of the
 * body the call keeps its reader instead (upstream_call_after_read).
 */
static void
upstream_call_own_return(struct upstream_call *call)
{
	struct bufferevent	*bev;

	if (call->own_read && !call->paused && (bev =
	    evhttp_connection_get_bufferevent(call->conn->evcon)) != NULL)
		bufferevent_enable(bev, EV_READ);
	upstream_call_own_stop(call);
	call->own_done = 1;
}

/*
 * Read Dify's socket once, as the call, and decode what came into
 * call->decoded (the caller passes it on).  Returns 1 with the decoder's
 * verdict in *r (*extra set when bytes followed the body), 0 when there
 * was nothing to read, -1 at end of file or on an error (see
 * upstream_call_read_end).  A TLS read takes every record OpenSSL can
 * give, and sets tls_more when it stopped before OpenSSL wanted the
 * socket.
 */
static int
upstream_call_read_once(struct upstream_call *call, int fd,
    enum chunked_result *r, int *extra)
{
	static char		 in[UPSTREAM_DIRECT_READ];
	enum upstream_tls_read	 st;
	unsigned long		 err;
	ssize_t			 n;
	size_t			 used, got;

	if (call->ssl != NULL) {
		st = upstream_tls_read(call->ssl, in, sizeof(in), &got, &err);
		call->tls_more = got > 0 && st != UPSTREAM_TLS_WOULD_BLOCK;
		if (got == 0 && st == UPSTREAM_TLS_WOULD_BLOCK)
			return (0);
		if (got == 0) {
			call->tls_error = st == UPSTREAM_TLS_ERROR ? err : 0;
			return (-1);
		}
		n = (ssize_t)got;
		/* The peer closed right after: never reuse the connection. */
		if (st == UPSTREAM_TLS_CLOSED || st == UPSTREAM_TLS_ERROR)
			*extra = 1;
	} else {
		do
			n = read(fd, in, sizeof(in));
		while (n == -1 && errno == EINTR);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return (0);
		if (n <= 0)
			return (-1);
	}
	call->last_read_us = util_now_usec();
	buf_reserve(&call->decoded, (size_t)n);
	*r = chunked_feed(&call->dechunk, in, (size_t)n, &used,
	    &call->decoded);
	if (*r == CHUNKED_END && used < (size_t)n)
		*extra = 1;
	return (1);
}

/*
 * End a call whose connection cannot be trusted or waited on any longer:
 * drop the connection and report result.
 */
static void
upstream_call_drop(struct upstream_call *call, enum upstream_result result,
    const char *detail)
{
	struct evhttp_request	*req = call->req;

	upstream_call_own_stop(call);
	call->cancelled = 1;	/* evhttp's cancel error is ours */
	call->req = NULL;
	if (req != NULL)
		evhttp_cancel_request(req);
	call->cancelled = 0;
	upstream_conn_release(call->conn, 0);
	call->conn = NULL;
	upstream_call_finish(call, result, detail);
}

/*
 * Drop a cancelled call for good: its request, its connection (never
 * reused after a cancel) and its memory.  No callback follows.
 */
static void
upstream_call_discard(struct upstream_call *call)
{
	struct evhttp_request	*req = call->req;

	upstream_call_own_stop(call);
	call->req = NULL;
	if (req != NULL)
		evhttp_cancel_request(req);
	TAILQ_REMOVE(&call->up->calls, call, entry);
	upstream_conn_release(call->conn, 0);
	upstream_call_free(call);
}

/*
 * After a read's bytes went to the owner: complete a cancel made from its
 * data callback, or act on the decoder's verdict.  Returns 1 when the
 * call is gone.  leftover: bytes of the read follow the body.
 */
static int
upstream_call_after_read(struct upstream_call *call, enum chunked_result r,
    int leftover)
{
	struct evhttp_request	*req = call->req;

	if (call->cancelled) {
		/* Cancelled from the data callback: completed here. */
		upstream_call_discard(call);
		return (1);
	}
	if (r == CHUNKED_BAD) {
		/* Nothing on this connection can be trusted now. */
		upstream_call_drop(call, UPSTREAM_BROKEN,
		    "malformed chunked body");
		return (1);
	}
	if (r == CHUNKED_END) {
		/*
		 * The body is complete: evhttp finishes the request within
		 * this loop turn, turning its reader off and on again to
		 * watch the idle connection, and the done callback stops
		 * ours.  Ours stays until then, so the socket never lacks a
		 * reader and libevent has no epoll change to make.
		 */
		if (call->close_after || leftover)
			evhttp_add_header(evhttp_request_get_input_headers(req),
			    "Connection", "close");
		libevent_internals_end_body(req);
	}
	return (0);
}

/*
 * The idle clock of a call reading the body itself.  Reads only note
 * their time: re-arming a timeout on every read cost a timer-heap update
 * per event.  This timer runs once per idle period and either finds Dify
 * quiet for the whole timeout or waits for the rest of it.
 */
static void
upstream_call_idle(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct upstream_call	*call = arg;
	uint64_t		 idle_us, quiet_us;
	struct timeval		 tv;
	char			 detail[64];

	idle_us = (uint64_t)call->up->cfg->upstream_idle_timeout_ms * 1000;
	quiet_us = util_now_usec() - call->last_read_us;
	if (quiet_us < idle_us) {
		tv.tv_sec = (time_t)((idle_us - quiet_us) / 1000000);
		tv.tv_usec = (suseconds_t)((idle_us - quiet_us) % 1000000);
		evtimer_add(call->idle_ev, &tv);
		return;
	}
	snprintf(detail, sizeof(detail), "no data for %u ms",
	    call->up->cfg->upstream_idle_timeout_ms);
	upstream_call_drop(call, UPSTREAM_TIMEOUT, detail);
}

/*
 * A read of the call's found the end of the connection, or an error,
 * before the end of the body.  On plain HTTP evhttp gets the socket back
 * and its own read finds the same.  Over TLS OpenSSL has taken in what
 * said so, and the socket may never be readable again: the call ends
 * here, as evhttp would have ended it (a broken response).
 */
static void
upstream_call_read_end(struct upstream_call *call)
{
	char	detail[300];

	if (call->ssl == NULL) {
		upstream_call_own_return(call);
		return;
	}
	if (call->tls_error != 0) {
		memcpy(detail, "TLS: ", 5);
		ERR_error_string_n(call->tls_error, detail + 5,
		    sizeof(detail) - 5);
	} else
		snprintf(detail, sizeof(detail), "connection closed");
	upstream_call_drop(call, UPSTREAM_BROKEN, detail);
}

/*
 * True when the call's TLS connection holds bytes OpenSSL has read from
 * the socket but not handed out (no readiness event will come for them).
 */
static int
upstream_call_tls_held(struct upstream_call *call)
{
	SSL	*ssl;

	return (upstream_call_body_fd(call, &ssl) != -1 && ssl != NULL &&
	    SSL_has_pending(ssl));
}

/*
 * Dify's socket is readable while the call reads the body itself.  One
 * read of up to 64 KiB per wake-up.
 */
static void
upstream_call_readable(evutil_socket_t fd, short what UNUSED, void *arg)
{
	struct upstream_call	*call = arg;
	struct bufferevent	*bev;
	enum chunked_result	 r = CHUNKED_MORE;
	int			 extra = 0, got;

	if ((got = upstream_call_read_once(call, fd, &r, &extra)) == 0)
		return;
	if (got == -1) {
		upstream_call_read_end(call);
		return;
	}
	call->in_callback++;
	upstream_call_pass_decoded(call);
	call->in_callback--;
	if (upstream_call_after_read(call, r, extra))
		return;
	if (r != CHUNKED_END) {
		upstream_call_read_on(call);
		return;
	}
	/*
	 * Let evhttp complete the request now (its read callback sees
	 * ntoread 0); the done callback frees the call before this returns.
	 */
	bev = evhttp_connection_get_bufferevent(call->conn->evcon);
	libevent_internals_run_read_cb(bev);
}

/* Body bytes arrived through evhttp's reading. */
static void
upstream_req_chunk(struct evhttp_request *req, void *arg)
{
	struct upstream_call	*call = arg;
	struct evbuffer		*buf = evhttp_request_get_input_buffer(req);
	enum chunked_result	 r;
	size_t			 first;
	int			 extra, fd, got = 0;

	if (call->cancelled)
		return;
	if (call->chunked && libevent_internals_frames_body(req)) {
		/* This libevent frames the body itself after all: let it. */
		call->chunked = 0;
	}
	/*
	 * Hold what evhttp read: when its read was cut at its 4 KiB limit,
	 * the call takes the socket over now and reads the rest at once, so
	 * a burst of events reaches the owner, and the client, in one pass
	 * instead of one now and one a loop turn later.
	 */
	call->in_callback++;
	first = evbuffer_get_length(buf);
	r = upstream_call_feed(call, buf, 1);
	extra = evbuffer_get_length(buf) > 0;
	if (r == CHUNKED_MORE && !call->cancelled &&
	    (first >= UPSTREAM_FULL_FIRST_READ || upstream_call_tls_held(call)) &&
	    (fd = upstream_call_own_start(call)) != -1)
		got = upstream_call_read_once(call, fd, &r, &extra);
	upstream_call_pass_decoded(call);
	call->in_callback--;
	if (upstream_call_after_read(call, r, extra))
		return;
	if (got == -1)
		upstream_call_read_end(call);
	/* evhttp completes an ended body when we return. */
	else if (r == CHUNKED_MORE) {
		upstream_call_own_start(call);
		upstream_call_read_on(call);
	}
}

/* evhttp reports an error; the done callback follows unless cancelled. */
static void
upstream_req_error(enum evhttp_request_error error, void *arg)
{
	struct upstream_call	*call = arg;
	struct bufferevent	*bev;
	unsigned long		 e;

	if (call->cancelled && error == EVREQ_HTTP_REQUEST_CANCEL)
		return;
	call->have_error = 1;
	call->error = error;
	bev = evhttp_connection_get_bufferevent(call->conn->evcon);
	if (call->up->url->tls && bev != NULL) {
		while ((e = bufferevent_get_openssl_error(bev)) != 0) {
			if (call->ssl_error == 0)
				call->ssl_error = e;
		}
	}
}

/* Describe a TLS failure of a call. */
static void
upstream_tls_detail(struct upstream_call *call, char *buf, size_t size)
{
	if (call->conn->verify_error != 0)
		snprintf(buf, size, "certificate verification failed: %s",
		    X509_verify_cert_error_string(call->conn->verify_error));
	else
		ERR_error_string_n(call->ssl_error, buf, size);
}

/*
 * The request ended.  req is NULL after a failure (evhttp freed it), or
 * has response code 0 when the connection could not be made.
 */
static void
upstream_req_done(struct evhttp_request *req, void *arg)
{
	struct upstream_call	*call = arg;
	enum upstream_result	 result;
	char			 detail[512] = "";
	int			 tls_failed;

	call->req = NULL;
	if (call->sending) {
		/* Failed inside evhttp_make_request: finished by the sender. */
		call->failed_in_send = 1;
		return;
	}
	upstream_call_own_stop(call);
	if (call->cancelled) {
		/* Aborted from the header callback. */
		upstream_call_discard(call);
		return;
	}
	tls_failed = call->conn->verify_error != 0 || call->ssl_error != 0;
	if (req != NULL && call->chunked && !chunked_done(&call->dechunk)) {
		/* evhttp took a close for the end of the body; it was not. */
		result = UPSTREAM_BROKEN;
		snprintf(detail, sizeof(detail), "connection closed");
	} else if (req != NULL && evhttp_request_get_response_code(req) != 0) {
		result = UPSTREAM_OK;
	} else if (call->state != CALL_RECEIVING && tls_failed) {
		result = UPSTREAM_TLS;
		upstream_tls_detail(call, detail, sizeof(detail));
	} else if (req != NULL) {
		result = UPSTREAM_UNREACHABLE;
		snprintf(detail, sizeof(detail), "%s:%d",
		    call->up->url->host, call->up->url->port);
	} else if (call->have_error && call->error == EVREQ_HTTP_TIMEOUT) {
		result = UPSTREAM_TIMEOUT;
		snprintf(detail, sizeof(detail), call->state == CALL_RECEIVING ?
		    "no data for %u ms" : "no response within %u ms",
		    call->state == CALL_RECEIVING ?
		    call->up->cfg->upstream_idle_timeout_ms :
		    call->up->cfg->connect_timeout_ms);
	} else {
		result = UPSTREAM_BROKEN;
		snprintf(detail, sizeof(detail), "%s",
		    call->state == CALL_RECEIVING ? "connection closed" :
		    "connection closed before a response");
	}
	upstream_conn_release(call->conn, result == UPSTREAM_OK);
	call->conn = NULL;
	upstream_call_finish(call, result, detail);
}

/*
 * The TLS side of upstream_call_flush: on a connection past its
 * handshake, a request that fits one record (most do; a long transcript
 * does not) is encrypted and written at once, as one record, and
 * evhttp's write callback runs as for plain HTTP.  The bufferevent's own
 * write would take a loop turn, an epoll change each way, and a record
 * per piece of its output (head and body).  Should the socket be full,
 * nothing is taken: the bufferevent offers OpenSSL the same bytes, in
 * the one piece the pull-up made, as a retry must.
 */
static void
upstream_call_flush_tls(struct upstream_call *call)
{
	struct bufferevent	*bev;
	struct evbuffer		*out;
	SSL			*ssl;
	size_t			 len;
	int			 rc;

	if (upstream_call_body_fd(call, &ssl) == -1 || ssl == NULL ||
	    !SSL_is_init_finished(ssl))
		return;
	bev = evhttp_connection_get_bufferevent(call->conn->evcon);
	out = bufferevent_get_output(bev);
	if ((len = evbuffer_get_length(out)) == 0 ||
	    len > UPSTREAM_TLS_RECORD)
		return;
	rc = upstream_tls_write(ssl, evbuffer_pullup(out, -1), len);
	if (rc != 1)
		return;		/* the bufferevent tries, and reports */
	evbuffer_drain(out, len);
	libevent_internals_run_write_cb(bev, 0);
}

/*
 * Write a request evhttp has just queued on a live plain connection now,
 * not a loop turn later (see libevent_internals.c).  Once everything is out, evhttp's
 * write callback runs here, as it would from the write event: the
 * connection moves on to reading the response, and the write event it
 * had enabled is withdrawn within the same loop turn, so epoll never
 * hears of it.  A new connection has nothing queued yet (evhttp writes
 * after the connect), and TLS bytes must pass through OpenSSL: both are
 * left alone.
 *
 * Sending also turns evhttp's reader of an idle connection off (it was
 * watching for a close) and on again (for the response), which in one
 * loop turn libevent applies as an EPOLL_CTL_MOD that changes nothing.
 * The call's own read event, which it needs later anyway, holds the
 * socket meanwhile (upstream_call_hold), so the reader count never
 * drops to zero and there is nothing to apply.
 */
static void
upstream_call_flush(struct upstream_call *call)
{
	struct bufferevent	*bev;

	if (upstream_call_plain_fd(call, &bev) != -1) {
		if (libevent_internals_write_queued(bev))
			libevent_internals_run_write_cb(bev, 0);
		return;
	}
	upstream_call_flush_tls(call);
}

/*
 * Add (on) or remove the call's read event on a live connection's socket
 * (plain or TLS) around evhttp's send, as upstream_call_flush explains.  The
 * event is the one the call reads the body with later; its callback
 * never runs while held, since both calls happen in one function.
 */
static void
upstream_call_hold(struct upstream_call *call, int on)
{
	SSL	*ssl;
	int	 fd;

	if (!on) {
		if (call->read_ev != NULL && !call->own_read)
			event_del(call->read_ev);
		return;
	}
	if ((fd = upstream_call_body_fd(call, &ssl)) != -1 &&
	    upstream_call_read_event(call, fd) != NULL)
		event_add(call->read_ev, NULL);
}

/*
 * True unless the process is out of file descriptors: a socket for a new
 * connection to Dify can be made now.  Without this check evhttp finds out
 * inside evhttp_make_request and reports it as a connect failure.
 */
static int
upstream_socket_available(void)
{
	int	fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (errno != EMFILE && errno != ENFILE);
	close(fd);
	return (1);
}

/* Hand the request to evhttp on a pooled or new connection. */
static void
upstream_call_send(struct upstream_call *call)
{
	struct upstream		*up = call->up;
	struct evkeyvalq	*hdrs;
	struct evhttp_request	*req;
	struct bufferevent	*bev;
	struct timeval		 tv;
	char			 path[1024];
	int			 fd, one = 1, rc;

	if ((call->conn = upstream_conn_get(up)) == NULL) {
		upstream_call_finish(call, UPSTREAM_UNREACHABLE,
		    "cannot create a connection");
		return;
	}
	if (!call->conn->used && !upstream_socket_available()) {
		upstream_conn_release(call->conn, 0);
		call->conn = NULL;
		upstream_call_finish(call, UPSTREAM_NO_DESCRIPTORS,
		    "out of file descriptors");
		return;
	}
	call->conn->used = 1;
	tv = upstream_tv(up->cfg->connect_timeout_ms);
	evhttp_connection_set_timeout_tv(call->conn->evcon, &tv);

	req = evhttp_request_new(upstream_req_done, call);
	evhttp_request_set_header_cb(req, upstream_req_header);
	evhttp_request_set_chunked_cb(req, upstream_req_chunk);
	evhttp_request_set_error_cb(req, upstream_req_error);
	hdrs = evhttp_request_get_output_headers(req);
	evhttp_add_header(hdrs, "Host", up->host_header);
	evhttp_add_header(hdrs, "User-Agent", UPSTREAM_USER_AGENT);
	evhttp_add_header(hdrs, "Authorization", call->auth);
	if (call->accept != NULL)
		evhttp_add_header(hdrs, "Accept", call->accept);
	if (call->request_id != NULL)
		evhttp_add_header(hdrs, "X-Request-Id", call->request_id);
	if (call->body != NULL) {
		evhttp_add_header(hdrs, "Content-Type",
		    call->content_type != NULL ? call->content_type :
		    "application/json");
		evbuffer_add_buffer(evhttp_request_get_output_buffer(req),
		    call->body);
	}
	snprintf(path, sizeof(path), "%s%s", up->url->path,
	    call->path);

	call->state = CALL_SENT;
	call->req = req;
	upstream_call_hold(call, 1);
	/*
	 * A connect that fails at once (no socket, no route) ends the
	 * request inside evhttp_make_request, done callback included; the
	 * callback leaves the ending to this function.
	 */
	call->sending = 1;
	rc = evhttp_make_request(call->conn->evcon, req, call->method, path);
	call->sending = 0;
	if (rc != 0 || call->failed_in_send) {
		/* evhttp freed req. */
		upstream_call_hold(call, 0);
		call->req = NULL;
		upstream_conn_release(call->conn, 0);
		call->conn = NULL;
		upstream_call_finish(call, UPSTREAM_UNREACHABLE,
		    "cannot send the request");
		return;
	}
	/* Tokens must not wait for Nagle: no delay on the upstream socket. */
	if (!call->conn->nodelay &&
	    (bev = evhttp_connection_get_bufferevent(call->conn->evcon)) !=
	    NULL && (fd = bufferevent_getfd(bev)) != -1) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		call->conn->nodelay = 1;
	}
	upstream_call_flush(call);
	upstream_call_hold(call, 0);
}

/*
 * Start a call.  Nothing happens before the next loop iteration, so the
 * caller can store the returned pointer before any callback.
 */
struct upstream_call *
upstream_call_start(struct upstream *up, const struct upstream_request *r,
    const struct upstream_handlers *h, void *arg)
{
	struct upstream_call	*call;
	size_t			 len;

	call = xcalloc(1, sizeof(*call));
	call->up = up;
	call->h = h;
	call->arg = arg;
	call->state = CALL_STARTING;
	call->method = r->method;
	call->path = xstrdup(r->path);
	len = strlen(r->api_key) + 8;
	call->auth = xmalloc(len);
	snprintf(call->auth, len, "Bearer %s", r->api_key);
	if (r->accept != NULL)
		call->accept = xstrdup(r->accept);
	if (r->request_id != NULL)
		call->request_id = xstrdup(r->request_id);
	if (r->content_type != NULL)
		call->content_type = xstrdup(r->content_type);
	if (r->body != NULL) {
		call->body = evbuffer_new();
		evbuffer_add(call->body, r->body, r->bodylen);
	}
	call->timer = evtimer_new(up->base, upstream_call_timer, call);
	TAILQ_INSERT_TAIL(&up->calls, call, entry);
	event_active(call->timer, EV_TIMEOUT, 1);
	return (call);
}

/* End a call: tell the owner (unless cancelled) and free it. */
static void
upstream_call_finish(struct upstream_call *call, enum upstream_result result,
    const char *detail)
{
	TAILQ_REMOVE(&call->up->calls, call, entry);
	call->state = CALL_FINISHING;
	if (result == UPSTREAM_UNREACHABLE || result == UPSTREAM_DNS ||
	    result == UPSTREAM_TLS || result == UPSTREAM_NO_DESCRIPTORS)
		metrics_upstream_failed(call->up->metrics);
	evtimer_del(call->timer);
	if (!call->cancelled)
		call->h->done(call->arg, result, detail);
	upstream_call_free(call);
}

/*
 * Cancel a call: no callback follows.  Inside this call's own data or
 * response callback the cancel completes when that callback returns.
 */
void
upstream_call_cancel(struct upstream_call *call)
{
	if (call->cancelled || call->state == CALL_FINISHING)
		return;
	call->cancelled = 1;
	switch (call->state) {
	case CALL_RESOLVING:
		TAILQ_REMOVE(&call->up->waiting, call, wentry);
		/* FALLTHROUGH */
	case CALL_STARTING:
		TAILQ_REMOVE(&call->up->calls, call, entry);
		upstream_call_free(call);
		return;
	default:
		break;
	}
	if (call->in_callback)
		return;
	upstream_call_discard(call);
}

/*
 * Whether each delivery of the call's data is a whole read of Dify's
 * socket (the call reads for itself), so its owner need not wait for
 * more in the same loop turn before writing.
 */
int
upstream_call_reads_whole(const struct upstream_call *call)
{
	return (call->own_read);
}

/* Count this client's connections and failures in a worker's slot. */
void
upstream_set_metrics(struct upstream *up, struct metrics_slot *ms)
{
	up->metrics = ms;
}

/* Stop or resume reading the response (backpressure). */
void
upstream_call_pause(struct upstream_call *call, int pause)
{
	struct bufferevent	*bev;

	if (call->conn == NULL || call->state != CALL_RECEIVING)
		return;
	call->paused = pause;
	if (call->own_read) {
		/* Paused, the idle timeout does not run either. */
		if (pause)
			upstream_call_own_disarm(call);
		else
			upstream_call_own_arm(call);
		return;
	}
	bev = evhttp_connection_get_bufferevent(call->conn->evcon);
	if (pause)
		bufferevent_disable(bev, EV_READ);
	else
		bufferevent_enable(bev, EV_READ);
}
