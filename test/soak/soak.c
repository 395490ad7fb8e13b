/*
 * soak: mixed traffic against one proxy for a long time (make soak; not
 * in CI), to see that its memory and descriptors stay flat.
 *
 * About 100 clients, each in a loop: streamed chats and plain chats
 * (mock:events=50 mock:interval=20), GET /v1/models and /healthz, often
 * several on one keep-alive connection; a share of chats whose clients
 * hang up or reset at a random moment; and a trickle of malformed
 * requests.  Every answer is checked: a chat must end whole (a stream in
 * data: [DONE]), a malformed request must get its JSON error; anything
 * else is an error and is printed.
 *
 * Every minute the clients pause until their requests are done, and one
 * line gives the requests completed by kind, the errors, and the proxy's
 * RSS and open descriptors.  At the end the first and last minute are
 * compared: descriptors within 5 (connections to the look-alike, which
 * the pool keeps, aside), RSS within 20 %.  Exit 0 only if they stayed
 * flat, no error was seen and the proxy exited cleanly.
 *
 * SOAK_SECONDS sets the length (600 by default), SOAK_CLIENTS the
 * population (100), SOAK_SEED the random choices.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"

/* What every chat asks the look-alike for. */
#define SOAK_EVENTS		50
#define SOAK_DIRECTIVES		"mock:events=50 mock:interval=20"
/* A request that takes longer than this is an error. */
#define SOAK_REQUEST_MS		30000
/* Pause between a client's requests: up to this. */
#define SOAK_THINK_MS		100
/* Errors printed in full; after that only counted. */
#define SOAK_ERRORS_SHOWN	20
/* Descriptors may differ by this much, RSS grow by this fraction. */
#define SOAK_FD_SLACK		5
#define SOAK_RSS_GROWTH		0.20
/* Idle connections the proxy's pool keeps to Dify by default. */
#define SOAK_POOL_SIZE		64
/* Input kept per connection. */
#define SOAK_IN_MAX		(4 * 1024 * 1024)

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Kinds of request, and how often each is picked (in 100). */
enum soak_kind {
	SOAK_STREAM,
	SOAK_CHAT,
	SOAK_MODELS,
	SOAK_HEALTH,
	SOAK_HANGUP,
	SOAK_MALFORMED,
	SOAK_NKINDS
};
static const char *const soak_kind_names[SOAK_NKINDS] = { "stream", "chat",
    "models", "healthz", "hangup", "malformed" };
static const unsigned	 soak_kind_weights[SOAK_NKINDS] = { 36, 26, 10, 11,
    15, 2 };

/* How and when a hang-up happens. */
enum soak_when {
	SOAK_AT_SENT,		/* send_limit bytes are out */
	SOAK_AT_NEEDLE,		/* the input holds needle */
	SOAK_AT_DELAY		/* delay_ms after the request was out */
};

/* A malformed request and the status it must get. */
struct soak_bad {
	const char	*what;
	const char	*bytes;
	int		 status;
};

static const struct soak_bad	soak_bad[] = {
	{ "garbage", "GARBAGE\r\n\r\n", 400 },
	{ "two Content-Length", "POST /v1/chat/completions HTTP/1.1\r\n"
	  "Host: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400 },
	{ "chunk size zz", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
	  "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400 },
	{ "unknown method", "FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 501 },
	{ "obs-fold", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n"
	  "\r\n", 400 },
	{ "no Host", "GET /healthz HTTP/1.1\r\n\r\n", 400 },
	{ "bad JSON", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
	  "Authorization: Bearer app-chat\r\nConnection: close\r\n"
	  "Content-Type: application/json\r\nContent-Length: 9\r\n\r\n"
	  "{not json", 400 },
	{ "no key", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
	  "Connection: close\r\nContent-Type: application/json\r\n"
	  "Content-Length: 2\r\n\r\n{}", 401 },
};

/* One client: a connection (or none) and the request it has in flight. */
struct soak_client {
	int		 fd;
	int		 connecting;
	int		 busy;		/* a request is in flight */
	double		 t_next;	/* when to start the next request */
	double		 t_req;		/* when this one started */
	enum soak_kind	 kind;
	int		 stream;
	int		 keep;		/* reuse the connection after */
	int		 reset;		/* hang up with an RST */
	enum soak_when	 when;
	char		 needle[48];
	int		 delay_ms;
	const struct soak_bad *bad;

	char		*out;
	size_t		 outlen;
	size_t		 send_limit;
	size_t		 sent;
	double		 t_sent;

	char		*in;
	size_t		 inlen;
	size_t		 incap;
};

/* What the run has seen. */
struct soak_stats {
	unsigned long	 done[SOAK_NKINDS];	/* this period */
	unsigned long	 total[SOAK_NKINDS];
	unsigned long	 errors;
};

/* One sample of the proxy. */
struct soak_sample {
	long	 rss_kb;
	int	 fds;		/* all open descriptors */
	int	 upstream;	/* of them, connections to the look-alike */
};

static struct proc		 soak_mock, soak_proxy;
static struct soak_stats	 soak_stats;
static unsigned long long	 soak_rng = 0x2545f4914f6cdd1dULL;
static char			 soak_words[4096];
static int			 soak_dead;	/* the proxy is gone */



/* A pseudo-random number below n (xorshift64*). */
static unsigned
soak_random(unsigned n)
{
	soak_rng ^= soak_rng >> 12;
	soak_rng ^= soak_rng << 25;
	soak_rng ^= soak_rng >> 27;
	return ((unsigned)((soak_rng * 2685821657736338717ULL) >> 33) % n);
}

/* Whether the proxy still runs; once it is gone, remember so. */
static int
soak_alive(void)
{
	int	status;

	if (!soak_dead && waitpid(soak_proxy.pid, &status, WNOHANG) != 0) {
		soak_dead = 1;
		printf("soak: the proxy is gone (status %d; log %s)\n", status,
		    soak_proxy.log);
		fflush(stdout);
		soak_proxy.pid = 0;
	}
	return (!soak_dead);
}

/* Raise this process's open-file soft limit to the hard limit. */
static void
soak_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}



/* Record and (the first few) print an error. */
static void __attribute__((format(printf, 2, 3)))
soak_error(const struct soak_client *c, const char *fmt, ...)
{
	va_list	ap;
	char	text[512];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (++soak_stats.errors <= SOAK_ERRORS_SHOWN) {
		printf("soak: error: %s%s%s: %s\n", soak_kind_names[c->kind],
		    c->kind == SOAK_MALFORMED && c->bad != NULL ? " " : "",
		    c->kind == SOAK_MALFORMED && c->bad != NULL ?
		    c->bad->what : "", text);
		fflush(stdout);
	} else if (soak_stats.errors == SOAK_ERRORS_SHOWN + 1) {
		printf("soak: more errors; only counting them now\n");
		fflush(stdout);
	}
}

/* Close the client's connection (with an RST if reset). */
static void
soak_client_close(struct soak_client *c, int reset)
{
	struct linger	lg = { 1, 0 };

	if (c->fd == -1)
		return;
	if (reset)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->fd);
	c->fd = -1;
	c->connecting = 0;
	c->inlen = 0;
}

/* Start a non-blocking connection to the proxy; 0, or -1. */
static int
soak_client_connect(struct soak_client *c)
{
	struct sockaddr_in	sin;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		return (-1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)soak_proxy.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->connecting = 0;
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		if (errno != EINPROGRESS) {
			close(c->fd);
			c->fd = -1;
			return (-1);
		}
		c->connecting = 1;
	}
	return (0);
}

/* Pick a kind by the weights. */
static enum soak_kind
soak_pick_kind(void)
{
	unsigned	r = soak_random(100), k;

	for (k = 0; k < SOAK_NKINDS - 1; k++) {
		if (r < soak_kind_weights[k])
			return ((enum soak_kind)k);
		r -= soak_kind_weights[k];
	}
	return (SOAK_MALFORMED);
}

/* Build the bytes of a chat request. */
static void
soak_chat_request(struct soak_client *c)
{
	char	*body;

	body = chat_body(SOAK_DIRECTIVES, NULL, c->stream, 0);
	if (asprintf(&c->out, "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAuthorization: Bearer app-chat\r\n"
	    "Content-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n"
	    "%s", c->keep ? "" : "Connection: close\r\n", strlen(body),
	    body) < 0)
		abort();
	free(body);
}

/* Plan where a hang-up happens. */
static void
soak_plan_hangup(struct soak_client *c)
{
	const char	*e = strstr(c->out, "\r\n\r\n");
	size_t		 head = (size_t)(e - c->out) + 4;

	c->reset = soak_random(2);
	switch (soak_random(5)) {
	case 0:		/* in the head */
		c->send_limit = 1 + soak_random((unsigned)head - 1);
		c->when = SOAK_AT_SENT;
		break;
	case 1:		/* mid-body */
		c->send_limit = head + 1 + soak_random((unsigned)(c->outlen -
		    head - 1));
		c->when = SOAK_AT_SENT;
		break;
	case 2:		/* right after the request */
		c->when = SOAK_AT_SENT;
		break;
	case 3:		/* after the first event */
		if (c->stream) {
			snprintf(c->needle, sizeof(c->needle), "data: ");
			c->when = SOAK_AT_NEEDLE;
		} else {
			c->delay_ms = 40;
			c->when = SOAK_AT_DELAY;
		}
		break;
	default:	/* mid-stream */
		if (c->stream) {
			snprintf(c->needle, sizeof(c->needle),
			    "\"content\":\"w%u \"", 2 + soak_random(45));
			c->when = SOAK_AT_NEEDLE;
		} else {
			c->delay_ms = 60 + (int)soak_random(900);
			c->when = SOAK_AT_DELAY;
		}
		break;
	}
}

/* Start the client's next request (on its connection, or a new one). */
static void
soak_client_start(struct soak_client *c, double now)
{
	c->kind = soak_pick_kind();
	c->stream = soak_random(2);
	/* Hang-ups and malformed requests end their connection. */
	c->keep = c->kind < SOAK_HANGUP && soak_random(10) < 6;
	c->bad = NULL;
	c->needle[0] = '\0';
	c->delay_ms = 0;
	c->sent = 0;
	c->t_sent = 0;
	c->inlen = 0;
	free(c->out);
	c->out = NULL;
	switch (c->kind) {
	case SOAK_STREAM:
		c->stream = 1;
		soak_chat_request(c);
		break;
	case SOAK_CHAT:
		c->stream = 0;
		soak_chat_request(c);
		break;
	case SOAK_MODELS:
	case SOAK_HEALTH:
		if (asprintf(&c->out, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Authorization: Bearer app-chat\r\n%s\r\n",
		    c->kind == SOAK_MODELS ? "/v1/models" : "/healthz",
		    c->keep ? "" : "Connection: close\r\n") < 0)
			abort();
		break;
	case SOAK_HANGUP:
		soak_chat_request(c);
		break;
	default:
		c->bad = &soak_bad[soak_random(nitems(soak_bad))];
		c->out = strdup(c->bad->bytes);
		break;
	}
	c->outlen = c->send_limit = strlen(c->out);
	if (c->kind == SOAK_HANGUP)
		soak_plan_hangup(c);
	if (c->fd != -1 && c->kind >= SOAK_HANGUP)
		soak_client_close(c, 0);
	c->busy = 1;
	c->t_req = now;
	if (c->fd == -1 && soak_client_connect(c) != 0) {
		soak_error(c, "connect: %s", strerror(errno));
		c->busy = 0;
		c->t_next = now + 1000;
	}
}

/* Value of header name in the raw head [buf, buf + hlen), into out. */
static int
soak_header(const char *buf, size_t hlen, const char *name, char *out,
    size_t size)
{
	const char	*p = buf, *end = buf + hlen, *eol, *v;
	size_t		 nlen = strlen(name), n;

	while (p < end && (eol = memmem(p, (size_t)(end - p), "\r\n", 2)) !=
	    NULL) {
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    strncasecmp(p, name, nlen) == 0) {
			for (v = p + nlen + 1; v < eol && *v == ' '; v++)
				;
			n = (size_t)(eol - v) < size - 1 ? (size_t)(eol - v) :
			    size - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return (1);
		}
		p = eol + 2;
	}
	return (0);
}

/*
 * Length of the whole response at the start of buf, 0 if it is not all
 * there yet; *at_eof is set if only the end of the connection ends it.
 */
static size_t
soak_response_length(const char *buf, size_t len, int *at_eof)
{
	const char	*hdr_end, *p, *nl, *end = buf + len;
	char		 v[64], *next;
	size_t		 size, hlen;

	*at_eof = 0;
	if ((hdr_end = memmem(buf, len, "\r\n\r\n", 4)) == NULL)
		return (0);
	hlen = (size_t)(hdr_end - buf) + 2;
	p = hdr_end + 4;
	if (soak_header(buf, hlen, "Transfer-Encoding", v, sizeof(v)) &&
	    strcasecmp(v, "chunked") == 0) {
		for (;;) {
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				return (0);
			size = strtoul(p, &next, 16);
			if (next == p)
				return (0);
			p = nl + 1;
			if ((size_t)(end - p) < size + 2)
				return (0);
			p += size + 2;
			if (size == 0)
				return ((size_t)(p - buf));
		}
	}
	if (soak_header(buf, hlen, "Content-Length", v, sizeof(v))) {
		size = strtoul(v, NULL, 10);
		return ((size_t)(end - p) >= size ? (size_t)(p - buf) + size :
		    0);
	}
	*at_eof = 1;
	return (0);
}

/* Check an OpenAI JSON error of status; NULL if it is one. */
static const char *
soak_check_error(const struct http_response *r, int status)
{
	static char	 why[128];
	char		*ct = http_header(r, "Content-Type");
	json_t		*j = json_loads(r->body, 0, NULL);

	why[0] = '\0';
	if (r->status != status)
		snprintf(why, sizeof(why), "status %d, wanted %d", r->status,
		    status);
	else if (ct == NULL || strcmp(ct, "application/json") != 0)
		snprintf(why, sizeof(why), "Content-Type %s",
		    ct != NULL ? ct : "missing");
	else if (!json_is_object(json_object_get(j, "error")))
		snprintf(why, sizeof(why), "body %.60s", r->body);
	free(ct);
	json_decref(j);
	return (why[0] != '\0' ? why : NULL);
}

/* Check the answer to the client's request; NULL if it is right. */
static const char *
soak_check(const struct soak_client *c, const struct http_response *r)
{
	static char		 why[256];
	struct sse_frames	 f;
	const char		*s;
	char			*got;
	json_t			*j;

	why[0] = '\0';
	if (c->kind == SOAK_MALFORMED)
		return (soak_check_error(r, c->bad->status));
	if (r->status != 200) {
		snprintf(why, sizeof(why), "status %d: %.100s", r->status,
		    r->body);
		return (why);
	}
	switch (c->kind) {
	case SOAK_STREAM:
		sse_split(r->body, r->bodylen, &f);
		if (!f.well_formed || f.n == 0 ||
		    strcmp(f.data[f.n - 1], "[DONE]") != 0)
			snprintf(why, sizeof(why), "stream did not end in "
			    "data: [DONE] (%zu frames)", f.n);
		else if (strcmp((got = sse_content(&f)), soak_words) != 0) {
			snprintf(why, sizeof(why), "content %.60s", got);
			free(got);
		} else
			free(got);
		sse_frames_free(&f);
		break;
	case SOAK_CHAT:
		j = json_loads(r->body, 0, NULL);
		s = json_string_value(json_object_get(json_object_get(
		    json_array_get(json_object_get(j, "choices"), 0),
		    "message"), "content"));
		if (s == NULL || strcmp(s, soak_words) != 0)
			snprintf(why, sizeof(why), "answer %.60s",
			    s != NULL ? s : r->body);
		json_decref(j);
		break;
	case SOAK_MODELS:
		j = json_loads(r->body, 0, NULL);
		if (json_array_size(json_object_get(j, "data")) == 0)
			snprintf(why, sizeof(why), "models %.60s", r->body);
		json_decref(j);
		break;
	case SOAK_HEALTH:
		if (strstr(r->body, "\"ok\"") == NULL)
			snprintf(why, sizeof(why), "healthz %.60s", r->body);
		break;
	default:
		break;
	}
	return (why[0] != '\0' ? why : NULL);
}

/* The request is over (done, failed or hung up): count it, go on. */
static void
soak_client_finish(struct soak_client *c, double now, int ok, int keep)
{
	if (ok) {
		soak_stats.done[c->kind]++;
		soak_stats.total[c->kind]++;
	}
	if (!keep)
		soak_client_close(c, 0);
	c->busy = 0;
	c->t_next = now + soak_random(SOAK_THINK_MS + 1);
}

/* Whether the response came whole; if so, check it and finish. */
static void
soak_client_response(struct soak_client *c, double now, int eof)
{
	struct http_response	 r;
	const char		*why;
	char			*copy, conn[32] = "";
	size_t			 rlen;
	int			 at_eof, keep;

	rlen = soak_response_length(c->in, c->inlen, &at_eof);
	if (rlen == 0 && !(eof && at_eof)) {
		if (eof) {
			soak_error(c, "the connection ended after %zu bytes, "
			    "before the whole response", c->inlen);
			soak_client_finish(c, now, 0, 0);
		}
		return;
	}
	if (rlen == 0)
		rlen = c->inlen;
	copy = malloc(rlen + 1);
	memcpy(copy, c->in, rlen);
	memset(&r, 0, sizeof(r));
	if (http_parse_response(copy, rlen, &r) != 0) {
		soak_error(c, "not an HTTP response: %.60s", c->in);
		soak_client_finish(c, now, 0, 0);
		return;
	}
	if ((why = soak_check(c, &r)) != NULL)
		soak_error(c, "%s", why);
	else if (rlen < c->inlen) {
		soak_error(c, "%zu bytes after the response: %.40s",
		    c->inlen - rlen, c->in + rlen);
		why = "";
	}
	soak_header(r.headers, strlen(r.headers), "Connection", conn,
	    sizeof(conn));
	keep = c->keep && !eof && rlen == c->inlen &&
	    strcasecmp(conn, "close") != 0;
	http_response_free(&r);
	c->inlen = 0;
	soak_client_finish(c, now, why == NULL, keep);
}

/* Hang up if the plan says so now. */
static void
soak_client_maybe_hang_up(struct soak_client *c, double now)
{
	int	go = 0;

	if (!c->busy || c->kind != SOAK_HANGUP || c->fd == -1 ||
	    c->connecting)
		return;
	if (c->when == SOAK_AT_SENT)
		go = c->sent >= c->send_limit;
	else if (c->when == SOAK_AT_NEEDLE)
		go = c->in != NULL && c->inlen > 0 &&
		    strstr(c->in, c->needle) != NULL;
	else
		go = c->t_sent > 0 && now >= c->t_sent + c->delay_ms;
	if (go) {
		soak_client_close(c, c->reset);
		soak_client_finish(c, now, 1, 0);
	}
}

/* Write what the request still has to send. */
static void
soak_client_write(struct soak_client *c, double now)
{
	ssize_t	n;

	while (c->sent < c->send_limit) {
		n = send(c->fd, c->out + c->sent, c->send_limit - c->sent,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    c->kind != SOAK_MALFORMED)
				soak_error(c, "write: %s", strerror(errno));
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->send_limit = c->sent;   /* read what came */
			return;
		}
		c->sent += (size_t)n;
	}
	if (c->t_sent == 0)
		c->t_sent = now;
}

/* Read what came; an idle connection's end just closes it. */
static void
soak_client_read(struct soak_client *c, double now)
{
	char	buf[65536];
	ssize_t	n;
	int	eof = 0;

	for (;;) {
		n = read(c->fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			eof = 1;
			break;
		}
		if (c->inlen + (size_t)n + 1 > c->incap) {
			while (c->inlen + (size_t)n + 1 > c->incap)
				c->incap = c->incap ? c->incap * 2 : 16384;
			c->in = realloc(c->in, c->incap);
		}
		if (c->inlen + (size_t)n > SOAK_IN_MAX) {
			soak_error(c, "more than %d bytes of response",
			    SOAK_IN_MAX);
			soak_client_finish(c, now, 0, 0);
			return;
		}
		memcpy(c->in + c->inlen, buf, (size_t)n);
		c->inlen += (size_t)n;
		c->in[c->inlen] = '\0';
	}
	if (!c->busy) {
		/* Between requests: the proxy closed (or sent junk). */
		if (eof || c->inlen > 0) {
			if (c->inlen > 0)
				soak_error(c, "bytes on an idle connection: "
				    "%.60s", c->in);
			soak_client_close(c, 0);
		}
		return;
	}
	if (c->kind == SOAK_HANGUP) {
		soak_client_maybe_hang_up(c, now);
		if (c->busy && eof)
			/* The answer ended before the planned moment. */
			soak_client_finish(c, now, 1, 0);
		return;
	}
	soak_client_response(c, now, eof);
}

/* A non-blocking connect finished. */
static void
soak_client_connected(struct soak_client *c, double now)
{
	int		err = 0;
	socklen_t	len = sizeof(err);

	c->connecting = 0;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		soak_error(c, "connect: %s", strerror(err));
		soak_client_finish(c, now, 0, 0);
	}
}

/*
 * Drive the clients for up to ms, starting requests unless pausing; with
 * pausing, return as soon as none is in flight.
 */
static void
soak_drive(struct soak_client *cl, size_t n, struct pollfd *pfd,
    size_t *idx, int ms, int pausing)
{
	double	 now, end = harness_now_ms() + ms, wake, check = 0;
	size_t	 i, np, busy;
	int	 r;

	for (;;) {
		now = harness_now_ms();
		if (now >= end)
			return;
		if (now >= check) {
			if (!soak_alive())
				return;
			check = now + 1000;
		}
		np = busy = 0;
		wake = end;
		for (i = 0; i < n; i++) {
			struct soak_client	*c = &cl[i];

			if (!c->busy && !pausing && now >= c->t_next)
				soak_client_start(c, now);
			if (c->busy && now - c->t_req > SOAK_REQUEST_MS) {
				soak_error(c, "no whole response within %d s "
				    "(%zu bytes sent, %zu received)",
				    SOAK_REQUEST_MS / 1000, c->sent, c->inlen);
				soak_client_finish(c, now, 0, 0);
			}
			soak_client_maybe_hang_up(c, now);
			if (c->busy)
				busy++;
			if (!c->busy && !pausing && c->t_next < wake)
				wake = c->t_next;
			if (c->busy && c->kind == SOAK_HANGUP &&
			    c->when == SOAK_AT_DELAY && c->t_sent > 0 &&
			    c->t_sent + c->delay_ms < wake)
				wake = c->t_sent + c->delay_ms;
			if (c->fd == -1)
				continue;
			pfd[np].fd = c->fd;
			pfd[np].events = POLLIN;
			if (c->connecting || (c->busy &&
			    c->sent < c->send_limit))
				pfd[np].events |= POLLOUT;
			pfd[np].revents = 0;
			idx[np++] = i;
		}
		if (pausing && busy == 0)
			return;
		r = poll(pfd, (nfds_t)np, wake > now ? (int)(wake - now) + 1 :
		    0);
		if (r <= 0)
			continue;
		now = harness_now_ms();
		for (i = 0; i < np; i++) {
			struct soak_client	*c = &cl[idx[i]];

			if (pfd[i].revents == 0 || c->fd != pfd[i].fd)
				continue;
			if (c->connecting) {
				soak_client_connected(c, now);
				if (c->fd == -1)
					continue;
			}
			if (c->busy && c->sent < c->send_limit &&
			    (pfd[i].revents & (POLLOUT | POLLERR | POLLHUP)))
				soak_client_write(c, now);
			soak_client_maybe_hang_up(c, now);
			if (c->fd != -1 &&
			    (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				soak_client_read(c, now);
		}
	}
}

/* Sample the proxy's RSS and descriptors. */
static void
soak_sample(struct soak_sample *s)
{
	s->rss_kb = harness_rss_kb(soak_proxy.pid);
	s->fds = harness_fd_count(soak_proxy.pid,
	    harness_dify_port(soak_mock.port), &s->upstream);
}

/*
 * Pause the clients until their requests are done, close their idle
 * connections, sample the proxy and print a line.
 */
static void
soak_report(struct soak_client *cl, size_t n, struct pollfd *pfd,
    size_t *idx, double start, struct soak_sample *s)
{
	char		 line[512];
	size_t		 i, off = 0;
	unsigned long	 all = 0, period = 0;
	int		 secs;

	soak_drive(cl, n, pfd, idx, 10000, 1);
	for (i = 0; i < n; i++)
		soak_client_close(&cl[i], 0);
	/* Let the proxy see the closes and let go. */
	harness_sleep_ms(500);
	soak_sample(s);
	for (i = 0; i < SOAK_NKINDS; i++) {
		off += (size_t)snprintf(line + off, sizeof(line) - off,
		    "%s%s %lu", i > 0 ? ", " : "", soak_kind_names[i],
		    soak_stats.done[i]);
		period += soak_stats.done[i];
		all += soak_stats.total[i];
		soak_stats.done[i] = 0;
	}
	secs = (int)((harness_now_ms() - start) / 1000 + 0.5);
	printf("soak: %d:%02d  %s (%lu this minute, %lu in all); errors %lu; "
	    "RSS %ld KiB; %d descriptors (%d to the look-alike)\n", secs / 60,
	    secs % 60, line, period, all, soak_stats.errors, s->rss_kb, s->fds,
	    s->upstream);
	fflush(stdout);
}

/* Run the soak; exit 0 only if the proxy stayed flat and all was right. */
int
main(void)
{
	struct soak_client	*cl;
	struct soak_sample	 first = { 0, 0, 0 }, last = { 0, 0, 0 };
	struct pollfd		*pfd;
	const char		*env;
	size_t			*idx, nclients = 100, i;
	double			 start, end, next, now, growth;
	long			 seconds = 600;
	int			 minutes = 0, fds_flat, rss_flat, pool_ok;
	int			 stopped, alive;

	harness_init();
	soak_raise_nofile();
	if ((env = getenv("SOAK_SECONDS")) != NULL && atol(env) > 0)
		seconds = atol(env);
	if ((env = getenv("SOAK_CLIENTS")) != NULL && atol(env) > 0)
		nclients = (size_t)atol(env);
	if ((env = getenv("SOAK_SEED")) != NULL && *env != '\0')
		soak_rng = strtoull(env, NULL, 10);
	else
		soak_rng ^= (unsigned long long)time(NULL) << 16 ^
		    (unsigned long long)getpid();
	if (soak_rng == 0)
		soak_rng = 1;
	mock_words(SOAK_EVENTS, soak_words, sizeof(soak_words));
	harness_mock_start(&soak_mock, NULL);
	harness_proxy_start(&soak_proxy, soak_mock.port, NULL);
	printf("soak: %zu clients for %ld s against proxy pid %d (workers 1, "
	    "default limits), seed %llu\n", nclients, seconds,
	    (int)soak_proxy.pid, soak_rng);
	fflush(stdout);

	cl = calloc(nclients, sizeof(*cl));
	pfd = calloc(nclients, sizeof(*pfd));
	idx = calloc(nclients, sizeof(*idx));
	start = harness_now_ms();
	for (i = 0; i < nclients; i++) {
		cl[i].fd = -1;
		/* Spread the first requests over a second. */
		cl[i].t_next = start + soak_random(1000);
	}
	end = start + seconds * 1000.0;
	next = start + 60000;
	while ((now = harness_now_ms()) < end) {
		soak_drive(cl, nclients, pfd, idx, (int)((next < end ? next :
		    end) - now), 0);
		if (soak_dead)
			break;
		if (harness_now_ms() >= next || harness_now_ms() >= end) {
			soak_report(cl, nclients, pfd, idx, start, &last);
			if (++minutes == 1)
				first = last;
			next += 60000;
		}
	}
	alive = soak_alive();
	for (i = 0; i < nclients; i++) {
		soak_client_close(&cl[i], 0);
		free(cl[i].out);
		free(cl[i].in);
	}
	free(cl);
	free(pfd);
	free(idx);

	growth = first.rss_kb > 0 ?
	    (double)(last.rss_kb - first.rss_kb) / (double)first.rss_kb : 0;
	fds_flat = abs((last.fds - last.upstream) -
	    (first.fds - first.upstream)) <= SOAK_FD_SLACK;
	pool_ok = last.upstream <= SOAK_POOL_SIZE + SOAK_FD_SLACK;
	rss_flat = growth <= SOAK_RSS_GROWTH;
	printf("soak: first minute: RSS %ld KiB, %d descriptors (%d to the "
	    "look-alike); last: RSS %ld KiB (%+.1f %%, limit +%.0f %%), %d "
	    "descriptors (%d to the look-alike; others %+d, limit +-%d): %s\n",
	    first.rss_kb, first.fds, first.upstream, last.rss_kb,
	    growth * 100, SOAK_RSS_GROWTH * 100, last.fds, last.upstream,
	    (last.fds - last.upstream) - (first.fds - first.upstream),
	    SOAK_FD_SLACK, fds_flat && rss_flat && pool_ok ? "flat" :
	    "NOT FLAT");
	stopped = alive && harness_proc_stop(&soak_proxy) == 0;
	if (alive && !stopped)
		printf("soak: the proxy did not exit 0 on SIGTERM, or its log "
		    "has a sanitizer report\n");
	harness_proc_stop(&soak_mock);
	printf("soak: %lu errors; %s\n", soak_stats.errors,
	    fds_flat && rss_flat && pool_ok && stopped &&
	    soak_stats.errors == 0 ? "passed" : "FAILED");
	return (fds_flat && rss_flat && pool_ok && stopped &&
	    soak_stats.errors == 0 ? 0 : 1);
}
