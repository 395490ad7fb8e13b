/*
 * redis_client: one connection to Redis on a worker's event base, kept
 * up in the background, and calls that wait at most a timeout.
 *
 * The connection is hiredis's async context with its libevent adapter,
 * on the worker's base: the loop never blocks on Redis.  While it is not
 * up a call fails at once; a lost or refused connection is retried every
 * second, with one warning when it goes and one line when it is back.  A
 * host name is resolved with evdns, so not even a reconnect blocks the
 * loop.  AUTH and SELECT are pipelined ahead of everything else and
 * never logged.  Users (conversation_redis.c, rate_limit_redis.c) say
 * what they do while Redis is down; Redis is never a reason to fail a
 * request.
 *
 * Lifetime of a call: it belongs to hiredis's reply callback, which
 * hiredis calls exactly once (with the reply, or with NULL when the
 * connection goes or is freed) and which frees it.  The caller may stop
 * caring first (redis_client_cancel, or the timeout): that only clears
 * the call's callback, so a late reply finds nobody.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "log.h"
#include "redis_client.h"
#include "redis_url.h"
#include "util.h"

#define REDIS_CLIENT_RETRY_MS	1000
#define REDIS_CLIENT_CONNECT_MS	2000	/* at least */

enum redis_client_state {
	REDIS_DOWN,		/* waiting to retry */
	REDIS_RESOLVING,
	REDIS_CONNECTING,
	REDIS_UP
};

struct redis_client {
	struct event_base	*base;
	struct redis_url	 url;
	unsigned		 timeout_ms;
	const char		*meanwhile;	/* for the log */
	const char		*again;
	redis_client_state_fn	 on_state;	/* NULL: nobody listens */
	void			*state_arg;
	enum redis_client_state	 state;
	redisAsyncContext	*ac;		/* NULL unless CONNECTING/UP */
	struct evdns_base	*dns;		/* for a host name */
	struct evdns_getaddrinfo_request *dnsreq;
	char			 addr[256];	/* the host's address */
	struct event		*retry_ev;	/* reconnect, connect timeout */
	int			 warned;	/* since the last success */
	int			 freeing;
};

struct redis_call {
	redis_client_fn		 fn;		/* NULL: nobody waits */
	void			*arg;
	struct event		*timeout_ev;
	const char		*what;		/* for the log */
};

static void	redis_client_connect(struct redis_client *);

/* Arm the retry timer (also the connect timeout) for ms. */
static void
redis_client_arm(struct redis_client *r, unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(r->retry_ev, &tv);
}

/* The connection failed or went: say so once, retry in a while. */
static void
redis_client_down(struct redis_client *r, const char *why)
{
	r->ac = NULL;
	r->state = REDIS_DOWN;
	if (r->freeing)
		return;
	if (r->on_state != NULL)
		r->on_state(r->state_arg, 0);
	if (!r->warned) {
		log_warn("redis %s:%d: %s; %s until it is back (retrying "
		    "every %d ms)", r->url.host, r->url.port, why, r->meanwhile,
		    REDIS_CLIENT_RETRY_MS);
		r->warned = 1;
	}
	redis_client_arm(r, REDIS_CLIENT_RETRY_MS);
}

/* The retry timer: reconnect, or give up on a connect that hangs. */
static void
redis_client_timer(evutil_socket_t fd UNUSED, short what UNUSED,
    void *arg)
{
	struct redis_client	*r = arg;
	redisAsyncContext		*ac;

	switch (r->state) {
	case REDIS_DOWN:
		redis_client_connect(r);
		break;
	case REDIS_RESOLVING:
		evdns_getaddrinfo_cancel(r->dnsreq);	/* calls back */
		break;
	case REDIS_CONNECTING:
		/* Not connected yet: no disconnect callback will come. */
		ac = r->ac;
		r->ac = NULL;
		redisAsyncFree(ac);
		redis_client_down(r, "connect timed out");
		break;
	case REDIS_UP:
		break;
	}
}

/* Log the reply to AUTH or SELECT when Redis refused it. */
static void
redis_client_setup_reply(redisAsyncContext *ac UNUSED, void *reply,
    void *arg)
{
	struct redis_client	*r = arg;
	redisReply			*rep = reply;

	if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		log_warn("redis %s:%d: %.*s", r->url.host, r->url.port,
		    (int)rep->len, rep->str);
}

/* hiredis: the connect finished, either way. */
static void
redis_client_connected(const redisAsyncContext *ac, int status)
{
	struct redis_client	*r = ac->data;

	if (r == NULL || r->ac != ac)
		return;
	evtimer_del(r->retry_ev);
	if (status != REDIS_OK) {
		/* hiredis frees the context after this. */
		redis_client_down(r, ac->errstr[0] != '\0' ? ac->errstr :
		    "cannot connect");
		return;
	}
	r->state = REDIS_UP;
	if (r->warned)
		log_info("redis %s:%d: connected; %s", r->url.host,
		    r->url.port, r->again);
	r->warned = 0;
	if (r->on_state != NULL)
		r->on_state(r->state_arg, 1);
	/* Pipelined ahead of every take and put; never logged. */
	if (r->url.password[0] != '\0') {
		if (r->url.user[0] != '\0')
			redisAsyncCommand(r->ac, redis_client_setup_reply,
			    r, "AUTH %s %s", r->url.user, r->url.password);
		else
			redisAsyncCommand(r->ac, redis_client_setup_reply,
			    r, "AUTH %s", r->url.password);
	}
	if (r->url.db != 0)
		redisAsyncCommand(r->ac, redis_client_setup_reply, r,
		    "SELECT %d", r->url.db);
}

/* hiredis: an established connection went (the context is freed after). */
static void
redis_client_disconnected(const redisAsyncContext *ac, int status UNUSED)
{
	struct redis_client	*r = ac->data;

	if (r == NULL || r->ac != ac)
		return;
	redis_client_down(r, ac->errstr[0] != '\0' ? ac->errstr :
	    "connection closed");
}

/* Open the connection to the resolved address. */
static void
redis_client_open(struct redis_client *r)
{
	redisAsyncContext	*ac;
	unsigned		 ms;

	ac = redisAsyncConnect(r->addr, r->url.port);
	if (ac == NULL) {
		redis_client_down(r, "out of memory");
		return;
	}
	if (ac->err != 0) {
		char	why[128];

		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		redis_client_down(r, why);
		return;
	}
	ac->data = r;
	r->ac = ac;
	r->state = REDIS_CONNECTING;
	redisLibeventAttach(ac, r->base);
	redisAsyncSetConnectCallback(ac, redis_client_connected);
	redisAsyncSetDisconnectCallback(ac, redis_client_disconnected);
	ms = r->timeout_ms * 4;
	redis_client_arm(r, ms > REDIS_CLIENT_CONNECT_MS ? ms :
	    REDIS_CLIENT_CONNECT_MS);
}

/* evdns: the host name's address, or a failure. */
static void
redis_client_resolved(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct redis_client	*r = arg;
	const void			*a;

	r->dnsreq = NULL;
	if (r->state != REDIS_RESOLVING) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		return;
	}
	evtimer_del(r->retry_ev);
	if (err != 0 || ai == NULL) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		redis_client_down(r, err == EVUTIL_EAI_CANCEL ?
		    "name lookup timed out" : evutil_gai_strerror(err));
		return;
	}
	a = ai->ai_family == AF_INET6 ?
	    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr :
	    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	evutil_inet_ntop(ai->ai_family, a, r->addr, sizeof(r->addr));
	evutil_freeaddrinfo(ai);
	redis_client_open(r);
}

/* Start connecting: resolve a host name first, an address at once. */
static void
redis_client_connect(struct redis_client *r)
{
	struct evutil_addrinfo	hints;
	unsigned char		tmp[16];

	if (evutil_inet_pton(AF_INET, r->url.host, tmp) == 1 ||
	    evutil_inet_pton(AF_INET6, r->url.host, tmp) == 1) {
		snprintf(r->addr, sizeof(r->addr), "%s", r->url.host);
		redis_client_open(r);
		return;
	}
	if (r->dns == NULL && (r->dns = evdns_base_new(r->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL) {
		redis_client_down(r, "cannot start the DNS resolver");
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r->state = REDIS_RESOLVING;
	redis_client_arm(r, REDIS_CLIENT_CONNECT_MS);
	r->dnsreq = evdns_getaddrinfo(r->dns, r->url.host, NULL, &hints,
	    redis_client_resolved, r);
}

/*
 * A client for the Redis at url on base, whose calls wait at most
 * timeout_ms.  meanwhile says in the log what the proxy does while Redis
 * is down, again what it does once it is back.  It connects at once, in
 * the background.
 */
struct redis_client *
redis_client_new(struct event_base *base, const struct redis_url *url,
    unsigned timeout_ms, const char *meanwhile, const char *again)
{
	struct redis_client	*r;

	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->url = *url;
	r->timeout_ms = timeout_ms;
	r->meanwhile = meanwhile;
	r->again = again;
	r->retry_ev = evtimer_new(base, redis_client_timer, r);
	r->state = REDIS_DOWN;
	redis_client_connect(r);
	return (r);
}

/* Close the connection (pending calls answer NULL) and free. */
void
redis_client_free(struct redis_client *r)
{
	redisAsyncContext	*ac;

	if (r == NULL)
		return;
	r->freeing = 1;
	if (r->dnsreq != NULL) {
		r->state = REDIS_DOWN;
		evdns_getaddrinfo_cancel(r->dnsreq);
	}
	if ((ac = r->ac) != NULL) {
		r->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	if (r->dns != NULL)
		evdns_base_free(r->dns, 0);
	event_free(r->retry_ev);
	free(r);
}

/* Be told when the connection comes up (1) or goes down (0). */
void
redis_client_on_state(struct redis_client *r, redis_client_state_fn fn,
    void *arg)
{
	r->on_state = fn;
	r->state_arg = arg;
}

/* True while the connection is up. */
int
redis_client_up(const struct redis_client *r)
{
	return (r->state == REDIS_UP);
}

/* Free a call nobody needs any more. */
static void
redis_client_call_free(struct redis_call *c)
{
	event_free(c->timeout_ev);
	free(c);
}

/* A call's timer: Redis is slow; the caller goes on without it. */
static void
redis_client_timed_out(evutil_socket_t fd UNUSED, short what UNUSED,
    void *arg)
{
	struct redis_call	*c = arg;
	redis_client_fn		 fn = c->fn;

	static uint64_t		 warned;
	uint64_t		 now = util_now_usec();

	c->fn = NULL;
	if (fn == NULL)
		return;
	if (warned == 0 || now - warned >= 10 * 1000000ULL) {
		/* One line per ten seconds, however many requests wait. */
		log_warn("redis: no answer within redis_timeout to %s; "
		    "requests go on without it", c->what);
		warned = now;
	}
	fn(c->arg, NULL);
}

/* hiredis: a call's reply (NULL when the connection went). */
static void
redis_client_replied(redisAsyncContext *ac UNUSED, void *reply, void *arg)
{
	struct redis_call	*c = arg;
	redisReply		*rep = reply;
	redis_client_fn		 fn = c->fn;

	if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		log_warn("redis: %s: %.*s", c->what, (int)rep->len, rep->str);
	c->fn = NULL;
	evtimer_del(c->timeout_ev);
	if (fn != NULL)
		fn(c->arg, rep);
	redis_client_call_free(c);
}

/*
 * Send a command of argc arguments (argv, with lengths) whose reply goes
 * to fn(arg, reply or NULL) within the timeout, unless cancelled first;
 * what names it in the log.  Returns 0 with *out set, or -1 when Redis
 * is not connected (nothing will follow).
 */
int
redis_client_call(struct redis_client *r, const char *what, int argc,
    const char **argv, const size_t *argvlen, redis_client_fn fn, void *arg,
    struct redis_call **out)
{
	struct redis_call	*c;
	struct timeval		 tv;

	if (r->state != REDIS_UP)
		return (-1);
	c = xcalloc(1, sizeof(*c));
	c->fn = fn;
	c->arg = arg;
	c->what = what;
	c->timeout_ev = evtimer_new(r->base, redis_client_timed_out, c);
	if (redisAsyncCommandArgv(r->ac, redis_client_replied, c, argc, argv,
	    argvlen) != REDIS_OK) {
		redis_client_call_free(c);
		return (-1);
	}
	tv.tv_sec = r->timeout_ms / 1000;
	tv.tv_usec = (r->timeout_ms % 1000) * 1000;
	evtimer_add(c->timeout_ev, &tv);
	*out = c;
	return (0);
}

/* Send a command whose reply nobody waits for (dropped while down). */
void
redis_client_send(struct redis_client *r, int argc, const char **argv,
    const size_t *argvlen)
{
	if (r->state == REDIS_UP)
		redisAsyncCommandArgv(r->ac, NULL, NULL, argc, argv, argvlen);
}

/* The caller no longer waits for this call's reply. */
void
redis_client_cancel(struct redis_call *c)
{
	c->fn = NULL;
	evtimer_del(c->timeout_ev);
}
