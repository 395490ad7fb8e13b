/*
 * conversation_redis: the conversation store in Redis, shared by every
 * instance behind a load balancer; hiredis on the worker's event base.
 *
 * Each worker keeps one connection (hiredis's async context with its
 * libevent adapter, on the worker's base: the loop never blocks on
 * Redis).  Keys are "odp:conv:" and the digest in hex; a take is GETDEL
 * (Redis 6.2 or later), so a history continues its conversation once,
 * as in the in-process table; a put is SET ... PX ttl, so Redis expires
 * entries itself and its maxmemory policy bounds them.
 *
 * Redis is an optimisation, never a reason to fail a request.  While the
 * connection is not up a take answers "not known" at once; a take that
 * Redis does not answer within redis_timeout answers "not known" then
 * (the request goes on with the transcript); a lost or refused
 * connection is retried every second in the background, with one
 * warning when it goes and one line when it is back.  A host name is
 * resolved with evdns, so not even a reconnect blocks the loop.
 *
 * Lifetime of a take: the lookup belongs to hiredis's reply callback,
 * which hiredis calls exactly once (with the reply, or with NULL when
 * the connection goes or is freed) and which frees it.  The caller may
 * stop caring first (conversation_redis_cancel, or the timeout): that
 * only clears the lookup's callback, so a late reply finds nobody.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "conversation.h"
#include "conversation_redis.h"
#include "log.h"
#include "metrics.h"
#include "redis_url.h"
#include "util.h"

#define CONVERSATION_REDIS_PREFIX	"odp:conv:"
#define CONVERSATION_REDIS_RETRY_MS	1000
#define CONVERSATION_REDIS_CONNECT_MS	2000	/* at least */

enum conversation_redis_state {
	REDIS_DOWN,		/* waiting to retry */
	REDIS_RESOLVING,
	REDIS_CONNECTING,
	REDIS_UP
};

struct conversation_redis {
	struct event_base	*base;
	struct redis_url	 url;
	unsigned		 timeout_ms;
	unsigned		 ttl_ms;
	enum conversation_redis_state state;
	redisAsyncContext	*ac;		/* NULL unless CONNECTING/UP */
	struct evdns_base	*dns;		/* for a host name */
	struct evdns_getaddrinfo_request *dnsreq;
	char			 addr[256];	/* the host's address */
	struct event		*retry_ev;	/* reconnect, connect timeout */
	int			 warned;	/* since the last success */
	int			 freeing;
	struct metrics_slot	*metrics;	/* the worker's, or NULL */
};

struct conversation_lookup {
	conversation_store_fn	 fn;		/* NULL: nobody waits */
	void			*arg;
	struct event		*timeout_ev;
};

static void	conversation_redis_connect(struct conversation_redis *);

/* Arm the retry timer (also the connect timeout) for ms. */
static void
conversation_redis_arm(struct conversation_redis *r, unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(r->retry_ev, &tv);
}

/* The connection failed or went: say so once, retry in a while. */
static void
conversation_redis_down(struct conversation_redis *r, const char *why)
{
	r->ac = NULL;
	r->state = REDIS_DOWN;
	if (r->freeing)
		return;
	metrics_redis(r->metrics, METRICS_REDIS_CONVERSATIONS, 0);
	if (!r->warned) {
		log_warn("redis %s:%d: %s; conversations continue from the "
		    "transcript until it is back (retrying every %d ms)",
		    r->url.host, r->url.port, why, CONVERSATION_REDIS_RETRY_MS);
		r->warned = 1;
	}
	conversation_redis_arm(r, CONVERSATION_REDIS_RETRY_MS);
}

/* The retry timer: reconnect, or give up on a connect that hangs. */
static void
conversation_redis_timer(evutil_socket_t fd UNUSED, short what UNUSED,
    void *arg)
{
	struct conversation_redis	*r = arg;
	redisAsyncContext		*ac;

	switch (r->state) {
	case REDIS_DOWN:
		conversation_redis_connect(r);
		break;
	case REDIS_RESOLVING:
		evdns_getaddrinfo_cancel(r->dnsreq);	/* calls back */
		break;
	case REDIS_CONNECTING:
		/* Not connected yet: no disconnect callback will come. */
		ac = r->ac;
		r->ac = NULL;
		redisAsyncFree(ac);
		conversation_redis_down(r, "connect timed out");
		break;
	case REDIS_UP:
		break;
	}
}

/* Log the reply to AUTH or SELECT when Redis refused it. */
static void
conversation_redis_setup_reply(redisAsyncContext *ac UNUSED, void *reply,
    void *arg)
{
	struct conversation_redis	*r = arg;
	redisReply			*rep = reply;

	if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		log_warn("redis %s:%d: %.*s", r->url.host, r->url.port,
		    (int)rep->len, rep->str);
}

/* hiredis: the connect finished, either way. */
static void
conversation_redis_connected(const redisAsyncContext *ac, int status)
{
	struct conversation_redis	*r = ac->data;

	if (r == NULL || r->ac != ac)
		return;
	evtimer_del(r->retry_ev);
	if (status != REDIS_OK) {
		/* hiredis frees the context after this. */
		conversation_redis_down(r, ac->errstr[0] != '\0' ? ac->errstr :
		    "cannot connect");
		return;
	}
	r->state = REDIS_UP;
	metrics_redis(r->metrics, METRICS_REDIS_CONVERSATIONS, 1);
	if (r->warned)
		log_info("redis %s:%d: connected; conversations are shared "
		    "again", r->url.host, r->url.port);
	r->warned = 0;
	/* Pipelined ahead of every take and put; never logged. */
	if (r->url.password[0] != '\0') {
		if (r->url.user[0] != '\0')
			redisAsyncCommand(r->ac, conversation_redis_setup_reply,
			    r, "AUTH %s %s", r->url.user, r->url.password);
		else
			redisAsyncCommand(r->ac, conversation_redis_setup_reply,
			    r, "AUTH %s", r->url.password);
	}
	if (r->url.db != 0)
		redisAsyncCommand(r->ac, conversation_redis_setup_reply, r,
		    "SELECT %d", r->url.db);
}

/* hiredis: an established connection went (the context is freed after). */
static void
conversation_redis_disconnected(const redisAsyncContext *ac, int status UNUSED)
{
	struct conversation_redis	*r = ac->data;

	if (r == NULL || r->ac != ac)
		return;
	conversation_redis_down(r, ac->errstr[0] != '\0' ? ac->errstr :
	    "connection closed");
}

/* Open the connection to the resolved address. */
static void
conversation_redis_open(struct conversation_redis *r)
{
	redisAsyncContext	*ac;
	unsigned		 ms;

	ac = redisAsyncConnect(r->addr, r->url.port);
	if (ac == NULL) {
		conversation_redis_down(r, "out of memory");
		return;
	}
	if (ac->err != 0) {
		char	why[128];

		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		conversation_redis_down(r, why);
		return;
	}
	ac->data = r;
	r->ac = ac;
	r->state = REDIS_CONNECTING;
	redisLibeventAttach(ac, r->base);
	redisAsyncSetConnectCallback(ac, conversation_redis_connected);
	redisAsyncSetDisconnectCallback(ac, conversation_redis_disconnected);
	ms = r->timeout_ms * 4;
	conversation_redis_arm(r, ms > CONVERSATION_REDIS_CONNECT_MS ? ms :
	    CONVERSATION_REDIS_CONNECT_MS);
}

/* evdns: the host name's address, or a failure. */
static void
conversation_redis_resolved(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct conversation_redis	*r = arg;
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
		conversation_redis_down(r, err == EVUTIL_EAI_CANCEL ?
		    "name lookup timed out" : evutil_gai_strerror(err));
		return;
	}
	a = ai->ai_family == AF_INET6 ?
	    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr :
	    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	evutil_inet_ntop(ai->ai_family, a, r->addr, sizeof(r->addr));
	evutil_freeaddrinfo(ai);
	conversation_redis_open(r);
}

/* Start connecting: resolve a host name first, an address at once. */
static void
conversation_redis_connect(struct conversation_redis *r)
{
	struct evutil_addrinfo	hints;
	unsigned char		tmp[16];

	if (evutil_inet_pton(AF_INET, r->url.host, tmp) == 1 ||
	    evutil_inet_pton(AF_INET6, r->url.host, tmp) == 1) {
		snprintf(r->addr, sizeof(r->addr), "%s", r->url.host);
		conversation_redis_open(r);
		return;
	}
	if (r->dns == NULL && (r->dns = evdns_base_new(r->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL) {
		conversation_redis_down(r, "cannot start the DNS resolver");
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r->state = REDIS_RESOLVING;
	conversation_redis_arm(r, CONVERSATION_REDIS_CONNECT_MS);
	r->dnsreq = evdns_getaddrinfo(r->dns, r->url.host, NULL, &hints,
	    conversation_redis_resolved, r);
}

/*
 * A client for the Redis at url on base: takes wait at most timeout_ms,
 * puts live ttl_ms.  It connects at once, in the background.
 */
struct conversation_redis *
conversation_redis_new(struct event_base *base, const struct redis_url *url,
    unsigned timeout_ms, unsigned ttl_ms)
{
	struct conversation_redis	*r;

	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->url = *url;
	r->timeout_ms = timeout_ms;
	r->ttl_ms = ttl_ms;
	r->retry_ev = evtimer_new(base, conversation_redis_timer, r);
	r->state = REDIS_DOWN;
	conversation_redis_connect(r);
	return (r);
}

/* Report the connection's state to a worker's metrics from now on. */
void
conversation_redis_set_metrics(struct conversation_redis *r,
    struct metrics_slot *ms)
{
	r->metrics = ms;
	metrics_redis(ms, METRICS_REDIS_CONVERSATIONS, r->state == REDIS_UP);
}

/* Close the connection (pending takes answer "not known") and free. */
void
conversation_redis_free(struct conversation_redis *r)
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

/* Free a lookup nobody needs any more. */
static void
conversation_redis_lookup_free(struct conversation_lookup *l)
{
	event_free(l->timeout_ev);
	free(l);
}

/* The take's timer: Redis is slow; the request goes on without it. */
static void
conversation_redis_timed_out(evutil_socket_t fd UNUSED, short what UNUSED,
    void *arg)
{
	struct conversation_lookup	*l = arg;
	conversation_store_fn		 fn = l->fn;

	static uint64_t			 warned;
	uint64_t			 now = util_now_usec();

	l->fn = NULL;
	if (fn == NULL)
		return;
	if (warned == 0 || now - warned >= 10 * 1000000ULL) {
		/* One line per ten seconds, however many requests wait. */
		log_warn("redis: no answer within redis_timeout; requests "
		    "continue from their transcripts");
		warned = now;
	}
	fn(l->arg, NULL);
}

/* hiredis: GETDEL's reply (NULL when the connection went). */
static void
conversation_redis_took(redisAsyncContext *ac UNUSED, void *reply, void *arg)
{
	struct conversation_lookup	*l = arg;
	redisReply			*rep = reply;
	conversation_store_fn		 fn = l->fn;
	char				 id[CONVERSATION_MAX_ID];

	id[0] = '\0';
	if (rep != NULL && rep->type == REDIS_REPLY_STRING &&
	    conversation_id_ok(rep->str, rep->len)) {
		memcpy(id, rep->str, rep->len);
		id[rep->len] = '\0';
	} else if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		log_warn("redis: GETDEL: %.*s", (int)rep->len, rep->str);
	l->fn = NULL;
	evtimer_del(l->timeout_ev);
	if (fn != NULL)
		fn(l->arg, id[0] != '\0' ? id : NULL);
	conversation_redis_lookup_free(l);
}

/* Write the Redis key of a digest into key (10 + 64 + 1 bytes). */
static void
conversation_redis_key(const uint8_t *digest, char *key)
{
	size_t	n = strlen(CONVERSATION_REDIS_PREFIX);

	memcpy(key, CONVERSATION_REDIS_PREFIX, n);
	conversation_digest_hex(digest, key + n);
}

/*
 * Ask Redis for (and forget) the conversation of digest.  Returns 0 with
 * *out set: fn(arg, id or NULL) follows unless cancelled first; or -1
 * when Redis is not connected (nothing will follow).
 */
int
conversation_redis_take(struct conversation_redis *r, const uint8_t *digest,
    conversation_store_fn fn, void *arg, struct conversation_lookup **out)
{
	struct conversation_lookup	*l;
	struct timeval			 tv;
	char				 key[80];

	if (r->state != REDIS_UP)
		return (-1);
	conversation_redis_key(digest, key);
	l = xcalloc(1, sizeof(*l));
	l->fn = fn;
	l->arg = arg;
	l->timeout_ev = evtimer_new(r->base, conversation_redis_timed_out, l);
	if (redisAsyncCommand(r->ac, conversation_redis_took, l, "GETDEL %s",
	    key) != REDIS_OK) {
		conversation_redis_lookup_free(l);
		return (-1);
	}
	tv.tv_sec = r->timeout_ms / 1000;
	tv.tv_usec = (r->timeout_ms % 1000) * 1000;
	evtimer_add(l->timeout_ev, &tv);
	*out = l;
	return (0);
}

/* Remember id for digest in Redis (best effort: dropped while down). */
void
conversation_redis_put(struct conversation_redis *r, const uint8_t *digest,
    const char *id)
{
	char	key[80];

	if (r->state != REDIS_UP)
		return;
	conversation_redis_key(digest, key);
	redisAsyncCommand(r->ac, NULL, NULL, "SET %s %s PX %u", key, id,
	    r->ttl_ms);
}

/* The caller no longer waits for this take's answer. */
void
conversation_redis_cancel(struct conversation_lookup *l)
{
	l->fn = NULL;
	evtimer_del(l->timeout_ev);
}
