/*
 * bench-history: long chats through one target (the proxy or nginx),
 * every request a different chat, each sent once.
 *
 *   bench-history -a HOST:PORT -f openai|dify [-p] [-k AUTH] [-c CONNS]
 *                 [-n REQUESTS] [-K BATCH] [-W WARM_BATCHES] [-s BYTES]
 *                 [-t TURNS] [-E EVENTS] [-P PIDS] [-U PIDS] [-X PIDS]
 *                 [-S SPANS]
 *   bench-history -D DIR [-s BYTES] [-t TURNS] [-E EVENTS]
 *
 * Chat g (g = 0, 1, ...) is a system prompt that names the chat ("Chat
 * 00000042."), TURNS user/assistant pairs and a new user message, about
 * BYTES of OpenAI JSON in all: the history of a chat's turn TURNS + 1 as
 * an OpenAI client sends it.  Its TURNS-th answer is what the look-alike
 * answers to the TURNS-th user message (mock:events=EVENTS: "w0 w1 ...").
 * Only the system prompt's chat number differs between chats, so each
 * chat's history has its own digest.
 *
 * A request is the chat's last turn ("B"): -f openai sends it to POST
 * /v1/chat/completions as the client would; -f dify sends the Dify call
 * the proxy makes of it without continuity (POST /v1/chat-messages, the
 * whole history as the transcript query), for nginx to relay.
 *
 * -p primes: before its B requests, each batch of chats first sends the
 * turn before ("A": the history up to and with the TURNS-th user
 * message), so that a proxy with continuity remembers the history B
 * continues; the B request is then a continuation (its history before
 * the new message is A's history and answer).  A take consumes what the
 * proxy remembered, so no chat's B is sent twice.  -G starts the chat
 * numbers at FIRST, so that a second run against the same proxy sends
 * chats of its own (run.sh's rounds).
 *
 * The run is WARM_BATCHES batches not counted, then batches of BATCH
 * chats until REQUESTS B requests were measured: per batch, (with -p)
 * all its A requests, a pause, then all its B requests over CONNS
 * keep-alive connections; only the B phases are timed, and the CPU time
 * of the target's processes (-P), the upstream's (-U), any other (-X:
 * Redis) and this client's is read at each B phase's ends (20 ms after
 * its last response, so that work a response leaves behind counts).
 * The look-alike keeps every conversation's transcript (it has a 64 MiB
 * budget), so a batch is kept to about 40 MB of primed transcripts.
 *
 * Every response is checked: status 200, the end of the stream (data:
 * [DONE], or Dify's message_end) and exactly EVENTS answer pieces.
 * Requests carry X-Request-Id hp-N (A), hw-N (B, warm-up) or hm-N (B,
 * measured), so the proxy's access log tells how each measured request
 * was handled.  Results are key=value lines for run.sh.
 *
 * -S writes each measured B phase's start and end (CLOCK_MONOTONIC
 * seconds, a line each) to SPANS, so that a profile taken with perf
 * record -k CLOCK_MONOTONIC can be cut to the measured requests.
 *
 * -D writes chat 0's A and B requests (openai-a.json, openai-b.json) and
 * B's Dify call (dify-b.json) into DIR and exits.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define HIST_TAIL	2048		/* END must be in these last bytes */
#define HIST_NONCE	8		/* digits of the chat number */
#define HIST_ID		11		/* "hm-" and HIST_NONCE digits */
#define HIST_SETTLE_US	20000		/* after a phase, before the CPU */
#define HIST_PAUSE_US	50000		/* between priming and measuring */
#define HIST_PRIMED_MAX	40000000	/* bytes of primed transcripts */
#define HIST_USER	"openai-dify-proxy"	/* the proxy's default user */

/* A growable byte string. */
struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* A request's bytes, with where the chat number and the id go. */
struct tmpl {
	struct sbuf	 b;
	size_t		 nonce_at;	/* in the body */
	size_t		 id_at;		/* the X-Request-Id value */
	size_t		 body_len;
};

enum hconn_state {
	HC_DOWN,		/* no connection */
	HC_CONNECTING,
	HC_IDLE,		/* connected, no request */
	HC_SENDING,
	HC_READING
};

struct hconn {
	int		 fd;
	enum hconn_state state;
	const char	*req;
	size_t		 req_len;
	size_t		 sent;
	long long	 t_begin;
	struct http_resp resp;
	char		 tail[2 * HIST_TAIL];
	size_t		 tail_len;
	struct http_mark mark;
};

/* The outcome of one phase (a batch's A or B requests). */
struct phase {
	char		**reqs;
	size_t		 req_len;
	int		 n, next, done;
	long long	 t0, t1;
	long long	 ok, bad_status, bad_end, bad_count, conn_errors;
	int		 first_bad_status;
	long long	*lat;		/* us per request, or NULL */
	long long	 nlat;
};

struct hist {
	struct sockaddr_in addr;
	const char	*end;
	const char	*marker;
	long long	 events;
	int		 nconns;
	struct hconn	*conns;
	int		 epfd;
	struct proc_set	 target, upstream, extra;
};

static char	 hist_rbuf[65536];

/* ------------------------------------------------------------ bytes */

static void
sb_add(struct sbuf *s, const char *p, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		s->cap = (s->len + n + 1) * 2;
		s->p = util_xrealloc(s->p, s->cap);
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	s->p[s->len] = '\0';
}

static void
sb_str(struct sbuf *s, const char *p)
{
	sb_add(s, p, strlen(p));
}

/* Append p[0..n) JSON-escaped, as the proxy and Dify's clients write it. */
static void
sb_esc(struct sbuf *s, const char *p, size_t n)
{
	char	u[8];
	size_t	i;

	for (i = 0; i < n; i++) {
		unsigned char	c = (unsigned char)p[i];

		if (c == '"')
			sb_add(s, "\\\"", 2);
		else if (c == '\\')
			sb_add(s, "\\\\", 2);
		else if (c == '\n')
			sb_add(s, "\\n", 2);
		else if (c == '\t')
			sb_add(s, "\\t", 2);
		else if (c < 0x20) {
			snprintf(u, sizeof(u), "\\u%04x", c);
			sb_add(s, u, 6);
		} else
			sb_add(s, p + i, 1);
	}
}

/* The escaped length of p[0..n). */
static size_t
esc_len(const char *p, size_t n)
{
	struct sbuf	s = { NULL, 0, 0 };
	size_t		len;

	sb_esc(&s, p, n);
	len = s.len;
	free(s.p);
	return (len);
}

/* ------------------------------------------------------------ chats */

/*
 * What a long chat with a coding assistant holds: prose, code with
 * quotes, backslashes and tabs, a little non-ASCII text.  No "mock:"
 * (the look-alike's directives), no "### Task:", no leading <think>.
 */
static const char *const hist_pieces[] = {
	"The service reads its settings from config.json when it starts, "
	    "and the environment overrides the file. ",
	"    if (len > max) {\n        log_warn(\"body too long: %zu\", "
	    "len);\n        return (-1);\n    }\n",
	"Could you explain why the second run of the test fails while the "
	    "first one passes? ",
	"printf(\"%s: %d items\\n\", name, n);\n",
	"\tkey = \"value\";\t// quoted, with a tab\n",
	"Les donn\xc3\xa9""es sont valid\xc3\xa9""es c\xc3\xb4t\xc3\xa9 "
	    "serveur avant l'envoi. ",
	"\xe6\xa3\x80\xe6\x9f\xa5\xe6\xaf\x8f\xe4\xb8\xaa\xe8\xaf\xb7\xe6"
	    "\xb1\x82\xe7\x9a\x84\xe9\x95\xbf\xe5\xba\xa6\xe3\x80\x82 ",
	"- step 3: rebuild with make, then run the unit tests again\n",
	"for (i = 0; i < n; i++)\n\tsum += v[i] * w[i];\n",
	"The stack trace points at the parser: path = \"C:\\\\tmp\\\\out\" "
	    "was read with a single backslash. ",
	"Here is the function after the change:\n\n```c\nstatic int\n"
	    "parse(const char *s)\n{\n\treturn (atoi(s));\n}\n```\n",
	"That makes sense, thank you. One more question about the cache. ",
};
#define HIST_NPIECES	(sizeof(hist_pieces) / sizeof(hist_pieces[0]))

/* Raw text whose escaped form is about want bytes; seed varies it. */
static void
hist_filler(struct sbuf *s, size_t want, unsigned seed)
{
	unsigned	x = seed * 2654435761u + 1;
	size_t		have = 0;
	const char	*p;

	while (have < want) {
		x = x * 1103515245u + 12345u;
		p = hist_pieces[(x >> 16) % HIST_NPIECES];
		sb_str(s, p);
		have += esc_len(p, strlen(p));
	}
}

/* The texts of a chat, raw (unescaped). */
struct chat {
	int		 turns;
	struct sbuf	 sys;		/* after "Chat NNNNNNNN. " */
	struct sbuf	*user;		/* [0, turns]: user[turns] is new */
	struct sbuf	*asst;		/* [0, turns): asst[turns-1] answer */
};

/* Make the texts for about bytes of B, in turns pairs. */
static void
chat_make(struct chat *c, size_t bytes, int turns, long long events)
{
	struct sbuf	 tag = { NULL, 0, 0 };
	size_t		 per, sys, fixed;
	char		 num[32];
	long long	 i;
	int		 t;

	memset(c, 0, sizeof(*c));
	c->turns = turns;
	c->user = util_xcalloc((size_t)turns + 1, sizeof(*c->user));
	c->asst = util_xcalloc((size_t)turns, sizeof(*c->asst));
	snprintf(num, sizeof(num), " mock:events=%lld", events);
	sb_str(&tag, num);
	/* The answer the look-alike gives to the turns-th user message. */
	for (i = 0; i < events; i++) {
		snprintf(num, sizeof(num), "w%lld ", i);
		sb_str(&c->asst[turns - 1], num);
	}
	/* JSON around the texts: about 40 bytes a message, the head. */
	fixed = 64 + 40 * (2 * (size_t)turns + 2) + c->asst[turns - 1].len +
	    300 + 2 * tag.len;
	per = bytes > fixed ? (bytes - fixed) : 2 * turns * 16;
	sys = per / 20;
	per = (per - sys) / (2 * (size_t)turns - 1);
	hist_filler(&c->sys, sys, 1);
	for (t = 0; t < turns; t++) {
		hist_filler(&c->user[t], per, 100 + (unsigned)t);
		if (t < turns - 1)
			hist_filler(&c->asst[t], per, 200 + (unsigned)t);
	}
	sb_add(&c->user[turns - 1], tag.p, tag.len);
	/* The new question: short, as a follow-up is. */
	sb_str(&c->user[turns], "Thanks. Now add a test for the empty "
	    "input, and tell me what else the function should check.");
	sb_add(&c->user[turns], tag.p, tag.len);
	free(tag.p);
}

static void
chat_free(struct chat *c)
{
	int	t;

	for (t = 0; t <= c->turns; t++)
		free(c->user[t].p);
	for (t = 0; t < c->turns; t++)
		free(c->asst[t].p);
	free(c->user);
	free(c->asst);
	free(c->sys.p);
}

/* Append one OpenAI message. */
static void
openai_msg(struct sbuf *b, const char *role, const struct sbuf *text)
{
	sb_str(b, ",{\"role\":\"");
	sb_str(b, role);
	sb_str(b, "\",\"content\":\"");
	sb_esc(b, text->p, text->len);
	sb_str(b, "\"}");
}

/*
 * The OpenAI body of chat c's turn: full (B: the whole history and the
 * new message) or not (A: up to and with the turns-th user message).
 * *nonce_at is where the chat number goes.
 */
static void
openai_body(const struct chat *c, int full, struct sbuf *b, size_t *nonce_at)
{
	int	t;

	sb_str(b, "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":"
	    "\"system\",\"content\":\"Chat ");
	*nonce_at = b->len;
	sb_str(b, "00000000. ");
	sb_esc(b, c->sys.p, c->sys.len);
	sb_str(b, "\"}");
	for (t = 0; t < c->turns; t++) {
		openai_msg(b, "user", &c->user[t]);
		if (t < c->turns - 1 || full)
			openai_msg(b, "assistant", &c->asst[t]);
	}
	if (full)
		openai_msg(b, "user", &c->user[c->turns]);
	sb_str(b, "]}");
}

/*
 * B's Dify call as the proxy makes it without a conversation to
 * continue: every message under its role in the query (the transcript),
 * streaming, the proxy's default user.
 */
static void
dify_body(const struct chat *c, struct sbuf *b, size_t *nonce_at)
{
	struct sbuf	q = { NULL, 0, 0 };
	int		t;

	sb_add(&q, c->sys.p, c->sys.len);
	for (t = 0; t <= c->turns; t++) {
		sb_str(&q, "\n\nUser: ");
		sb_add(&q, c->user[t].p, c->user[t].len);
		if (t < c->turns) {
			sb_str(&q, "\n\nAssistant: ");
			sb_add(&q, c->asst[t].p, c->asst[t].len);
		}
	}
	sb_str(b, "{\"inputs\":{},\"query\":\"System: Chat ");
	*nonce_at = b->len;
	sb_str(b, "00000000. ");
	sb_esc(b, q.p, q.len);
	sb_str(b, "\",\"response_mode\":\"streaming\",\"user\":\"" HIST_USER
	    "\",\"auto_generate_name\":false}");
	free(q.p);
}

/* The whole request around body: headers with a fixed-width id. */
static void
tmpl_make(struct tmpl *t, const char *path, const char *host,
    const char *auth, const struct sbuf *body, size_t nonce_at)
{
	char	head[1024];
	int	n;

	memset(t, 0, sizeof(*t));
	n = snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "Authorization: %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Accept: */*\r\n"
	    "X-Request-Id: ", path, host, auth);
	if (n < 0 || (size_t)n >= sizeof(head))
		util_die("bench-history: headers too long");
	sb_add(&t->b, head, (size_t)n);
	t->id_at = t->b.len;
	sb_str(&t->b, "hx-00000000");
	n = snprintf(head, sizeof(head), "\r\nContent-Length: %zu\r\n\r\n",
	    body->len);
	sb_add(&t->b, head, (size_t)n);
	t->nonce_at = t->b.len + nonce_at;
	sb_add(&t->b, body->p, body->len);
	t->body_len = body->len;
}

/* Write chat g's number and the id (kind: 'p', 'w', 'm') into req. */
static void
tmpl_patch(const struct tmpl *t, char *req, long long g, char kind)
{
	char	s[32];

	snprintf(s, sizeof(s), "%0*lld", HIST_NONCE, g % 100000000);
	memcpy(req + t->nonce_at, s, HIST_NONCE);
	snprintf(s, sizeof(s), "h%c-%0*lld", kind, HIST_NONCE, g % 100000000);
	memcpy(req + t->id_at, s, HIST_ID);
}

/* ----------------------------------------------------------- CPU */

/*
 * CPU time of a set in ns: the scheduler's sum_exec_runtime of every
 * thread (/proc/PID/task/TID/schedstat), which utime + stime add up to,
 * without their 10 ms steps; utime + stime where schedstat is missing.
 * -1 if no process could be read.
 */
static long long
hist_cpu_ns(const struct proc_set *s)
{
	char			 path[320];
	unsigned long long	 ns;
	long long		 total = 0, t;
	struct proc_set		 one;
	struct dirent		*de;
	DIR			*d;
	FILE			*f;
	int			 i, seen = 0, threads;

	for (i = 0; i < s->n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task", s->pids[i]);
		threads = 0;
		if ((d = opendir(path)) != NULL) {
			while ((de = readdir(d)) != NULL) {
				if (de->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path),
				    "/proc/%d/task/%s/schedstat", s->pids[i],
				    de->d_name);
				if ((f = fopen(path, "r")) == NULL)
					continue;
				if (fscanf(f, "%llu", &ns) == 1) {
					total += (long long)ns;
					threads++;
				}
				fclose(f);
			}
			closedir(d);
		}
		if (threads > 0) {
			seen++;
			continue;
		}
		one.n = 1;
		one.pids[0] = s->pids[i];
		if ((t = proc_cpu_us(&one)) >= 0) {
			total += t * 1000;
			seen++;
		}
	}
	return (seen > 0 ? total : -1);
}

/* ------------------------------------------------------- connections */

static void
hc_watch(struct hist *h, struct hconn *c, uint32_t events, int op)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(h->epfd, op, c->fd, &ev) == -1)
		util_die("epoll_ctl: %s", strerror(errno));
}

static void
hc_close(struct hist *h, struct hconn *c)
{
	if (c->fd != -1) {
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->state = HC_DOWN;
}

/* The request on c failed: count it, drop the connection. */
static void
hc_fail(struct hist *h, struct hconn *c, struct phase *ph)
{
	ph->conn_errors++;
	ph->done++;
	hc_close(h, c);
}

/* Write what the socket takes of c's request. */
static void
hc_send(struct hist *h, struct hconn *c, struct phase *ph)
{
	ssize_t	n;

	while (c->sent < c->req_len) {
		n = write(c->fd, c->req + c->sent, c->req_len - c->sent);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			hc_watch(h, c, EPOLLOUT, EPOLL_CTL_MOD);
			return;
		}
		if (n <= 0) {
			hc_fail(h, c, ph);
			return;
		}
		c->sent += (size_t)n;
	}
	c->state = HC_READING;
	hc_watch(h, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
}

/* Give c the phase's next request (connecting first if need be). */
static void
hc_start(struct hist *h, struct hconn *c, struct phase *ph)
{
	int	one = 1;

	c->req = ph->reqs[ph->next++];
	c->req_len = ph->req_len;
	c->sent = 0;
	c->tail_len = 0;
	http_resp_init(&c->resp);
	http_mark_init(&c->mark, h->marker);
	c->t_begin = util_now_us();
	if (ph->t0 == 0)
		ph->t0 = c->t_begin;
	if (c->state == HC_IDLE) {
		c->state = HC_SENDING;
		hc_send(h, c, ph);
		return;
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		util_die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	hc_watch(h, c, EPOLLOUT, EPOLL_CTL_ADD);
	c->state = HC_CONNECTING;
	if (connect(c->fd, (const struct sockaddr *)&h->addr,
	    sizeof(h->addr)) == -1 && errno != EINPROGRESS)
		hc_fail(h, c, ph);
}

/* Keep the last bytes of the body and count the answer pieces. */
static void
hc_body(void *arg, const char *p, size_t n)
{
	struct hconn	*c = arg;

	http_mark_feed(&c->mark, p, n);
	if (n >= HIST_TAIL) {
		memcpy(c->tail, p + n - HIST_TAIL, HIST_TAIL);
		c->tail_len = HIST_TAIL;
		return;
	}
	if (c->tail_len + n > sizeof(c->tail)) {
		memmove(c->tail, c->tail + c->tail_len - HIST_TAIL, HIST_TAIL);
		c->tail_len = HIST_TAIL;
	}
	memcpy(c->tail + c->tail_len, p, n);
	c->tail_len += n;
}

/* c's response is complete: judge it, then the next request or idle. */
static void
hc_complete(struct hist *h, struct hconn *c, struct phase *ph)
{
	long long	now = util_now_us();

	ph->done++;
	ph->t1 = now;
	if (c->resp.status != 200) {
		ph->bad_status++;
		if (ph->first_bad_status == 0)
			ph->first_bad_status = c->resp.status;
	} else if (memmem(c->tail, c->tail_len, h->end, strlen(h->end)) ==
	    NULL)
		ph->bad_end++;
	else if (c->mark.count != h->events)
		ph->bad_count++;
	else {
		ph->ok++;
		if (ph->lat != NULL)
			ph->lat[ph->nlat++] = now - c->t_begin;
	}
	if (!c->resp.keepalive) {
		hc_close(h, c);
		return;
	}
	c->state = HC_IDLE;
	hc_watch(h, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
}

static void
hc_readable(struct hist *h, struct hconn *c, struct phase *ph)
{
	enum http_result	res;
	ssize_t			n;
	size_t			used;

	n = read(c->fd, hist_rbuf, sizeof(hist_rbuf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (c->state == HC_IDLE) {
		/* The server closed an idle connection (or sent junk). */
		hc_close(h, c);
		return;
	}
	if (n <= 0) {
		if (n == 0 && c->state == HC_READING &&
		    http_resp_eof(&c->resp) == HTTP_DONE) {
			c->resp.keepalive = 0;
			hc_complete(h, c, ph);
			return;
		}
		hc_fail(h, c, ph);
		return;
	}
	if (c->state != HC_READING) {
		hc_fail(h, c, ph);
		return;
	}
	res = http_resp_feed(&c->resp, hist_rbuf, (size_t)n, &used, hc_body,
	    c);
	if (res == HTTP_ERROR || (res == HTTP_DONE && used < (size_t)n))
		hc_fail(h, c, ph);
	else if (res == HTTP_DONE)
		hc_complete(h, c, ph);
}

static void
hc_writable(struct hist *h, struct hconn *c, struct phase *ph)
{
	socklen_t	len = sizeof(int);
	int		err = 0;

	if (c->state == HC_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			hc_fail(h, c, ph);
			return;
		}
		c->state = HC_SENDING;
	}
	if (c->state == HC_SENDING)
		hc_send(h, c, ph);
}

/* Drop idle connections the server has closed since the last phase. */
static void
hist_check_idle(struct hist *h)
{
	char	b;
	ssize_t	n;
	int	i;

	for (i = 0; i < h->nconns; i++) {
		struct hconn	*c = &h->conns[i];

		if (c->state != HC_IDLE)
			continue;
		n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK) || n > 0)
			hc_close(h, c);
	}
}

/* Run every request of ph over the connections; 30 s at most. */
static void
hist_phase(struct hist *h, struct phase *ph)
{
	struct epoll_event	 evs[256];
	long long		 deadline = util_now_us() + 30000000;
	int			 i, n;

	hist_check_idle(h);
	ph->next = ph->done = 0;
	ph->t0 = ph->t1 = 0;
	while (ph->done < ph->n) {
		for (i = 0; i < h->nconns && ph->next < ph->n; i++)
			if (h->conns[i].state == HC_IDLE ||
			    h->conns[i].state == HC_DOWN)
				hc_start(h, &h->conns[i], ph);
		if (ph->done >= ph->n)
			break;
		if (util_now_us() > deadline) {
			for (i = 0; i < h->nconns; i++) {
				struct hconn	*c = &h->conns[i];

				if (c->state == HC_CONNECTING ||
				    c->state == HC_SENDING ||
				    c->state == HC_READING)
					hc_fail(h, c, ph);
			}
			/* What was never sent counts as failed too. */
			ph->conn_errors += ph->n - ph->next;
			ph->done = ph->next = ph->n;
			break;
		}
		n = epoll_wait(h->epfd, evs, 256, 100);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			util_die("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			struct hconn	*c = evs[i].data.ptr;

			if (c->fd == -1)
				continue;
			if (c->state == HC_CONNECTING ||
			    (c->state == HC_SENDING &&
			    !(evs[i].events & (EPOLLERR | EPOLLHUP))))
				hc_writable(h, c, ph);
			else
				hc_readable(h, c, ph);
		}
	}
	if (ph->t1 == 0)
		ph->t1 = util_now_us();
}

/* ------------------------------------------------------------ main */

static void
hist_usage(void)
{
	fprintf(stderr, "usage: bench-history -a host:port -f openai|dify "
	    "[-p] [-k auth] [-c conns]\n"
	    "                     [-n requests] [-K batch] [-W warm_batches] "
	    "[-s bytes]\n"
	    "                     [-t turns] [-E events] [-G first_chat] "
	    "[-P pids]\n"
	    "                     [-U pids] [-X pids] [-S spans_file]\n"
	    "       bench-history -D dir [-s bytes] [-t turns] [-E events]\n");
	exit(2);
}

/* Write s to dir/name. */
static void
hist_dump(const char *dir, const char *name, const struct sbuf *s)
{
	char	path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(s->p, 1, s->len, f) != s->len || fclose(f) != 0)
		util_die("bench-history: cannot write %s", path);
}

static double
pct(long long d, long long w)
{
	return (w > 0 ? 100.0 * (double)d / (double)w : 0);
}

int
main(int argc, char **argv)
{
	struct hist	 h;
	struct chat	 chat;
	struct sbuf	 body_a = { NULL, 0, 0 }, body_b = { NULL, 0, 0 };
	struct sbuf	 body_d = { NULL, 0, 0 };
	struct tmpl	 ta, tb;
	struct phase	 pa, pb;
	const char	*target = NULL, *format = NULL, *auth = "Bearer app-chat";
	const char	*dump = NULL, *path;
	char		**ra = NULL, **rb;
	long long	 requests = 4000, batch = 0, warm = 1, bytes = 100000;
	long long	 turns = 20, measured = 0, g = 0, k, nb;
	long long	 cpu = 0, up = 0, ext = 0, self = 0, busy = 0, wall = 0;
	long long	 c0, c1, u0, u1, x0, x1, s0, s1, b0, b1, tot;
	long long	 ok = 0, bad_status = 0, bad_end = 0, bad_count = 0;
	long long	 errs = 0, primed = 0, prime_bad = 0, round;
	long long	*lat;
	size_t		 nonce_a, nonce_b, nonce_d;
	int		 ch, prime = 0, first_bad = 0, i, dify;
	FILE		*spans = NULL;

	memset(&h, 0, sizeof(h));
	h.events = 20;
	h.nconns = 16;
	while ((ch = getopt(argc, argv, "a:c:f:k:n:ps:t:D:E:G:K:P:S:U:W:X:")) !=
	    -1) {
		switch (ch) {
		case 'a':
			target = optarg;
			break;
		case 'S':
			if ((spans = fopen(optarg, "w")) == NULL)
				util_die("%s: %s", optarg, strerror(errno));
			break;
		case 'c':
			h.nconns = (int)util_num("-c", optarg, 1, 10000);
			break;
		case 'f':
			format = optarg;
			break;
		case 'k':
			auth = optarg;
			break;
		case 'n':
			requests = util_num("-n", optarg, 1, 100000000);
			break;
		case 'p':
			prime = 1;
			break;
		case 's':
			bytes = util_num("-s", optarg, 1000, 100000000);
			break;
		case 't':
			turns = util_num("-t", optarg, 1, 10000);
			break;
		case 'D':
			dump = optarg;
			break;
		case 'E':
			h.events = util_num("-E", optarg, 1, 100000);
			break;
		case 'G':
			g = util_num("-G", optarg, 0, 99999999);
			break;
		case 'K':
			batch = util_num("-K", optarg, 1, 1000000);
			break;
		case 'P':
			proc_parse(&h.target, optarg);
			break;
		case 'U':
			proc_parse(&h.upstream, optarg);
			break;
		case 'W':
			warm = util_num("-W", optarg, 0, 1000);
			break;
		case 'X':
			proc_parse(&h.extra, optarg);
			break;
		default:
			hist_usage();
		}
	}
	if (optind != argc)
		hist_usage();

	chat_make(&chat, (size_t)bytes, (int)turns, h.events);
	openai_body(&chat, 0, &body_a, &nonce_a);
	openai_body(&chat, 1, &body_b, &nonce_b);
	dify_body(&chat, &body_d, &nonce_d);
	if (dump != NULL) {
		hist_dump(dump, "openai-a.json", &body_a);
		hist_dump(dump, "openai-b.json", &body_b);
		hist_dump(dump, "dify-b.json", &body_d);
		printf("openai_a_bytes=%zu\nopenai_b_bytes=%zu\n"
		    "dify_b_bytes=%zu\n", body_a.len, body_b.len, body_d.len);
		return (0);
	}
	if (target == NULL || format == NULL)
		hist_usage();
	if (strcmp(format, "openai") == 0)
		dify = 0;
	else if (strcmp(format, "dify") == 0)
		dify = 1;
	else
		hist_usage();
	if (dify && prime)
		util_die("bench-history: -p is for -f openai");
	if (util_addr(target, &h.addr) == -1)
		util_die("bench-history: bad address \"%s\"", target);
	/* The look-alike keeps each primed chat's transcript. */
	if (batch == 0) {
		batch = HIST_PRIMED_MAX / (long long)body_d.len;
		if (batch > 500)
			batch = 500;
		if (batch < 1)
			batch = 1;
	}
	if (batch > requests)
		batch = requests;
	h.end = dify ? "\"event\":\"message_end\"" : "data: [DONE]";
	h.marker = dify ? "\"answer\":\"w" : "\"content\":\"w";
	path = dify ? "/v1/chat-messages" : "/v1/chat/completions";
	tmpl_make(&ta, path, target, auth, &body_a, nonce_a);
	tmpl_make(&tb, path, target, auth, dify ? &body_d : &body_b,
	    dify ? nonce_d : nonce_b);

	rb = util_xcalloc((size_t)batch, sizeof(*rb));
	for (k = 0; k < batch; k++) {
		rb[k] = util_xmalloc(tb.b.len);
		memcpy(rb[k], tb.b.p, tb.b.len);
	}
	if (prime) {
		ra = util_xcalloc((size_t)batch, sizeof(*ra));
		for (k = 0; k < batch; k++) {
			ra[k] = util_xmalloc(ta.b.len);
			memcpy(ra[k], ta.b.p, ta.b.len);
		}
	}
	lat = util_xcalloc((size_t)requests, sizeof(*lat));
	h.conns = util_xcalloc((size_t)h.nconns, sizeof(*h.conns));
	for (i = 0; i < h.nconns; i++) {
		h.conns[i].fd = -1;
		h.conns[i].state = HC_DOWN;
	}
	if ((h.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		util_die("epoll_create1: %s", strerror(errno));

	for (round = 0; measured < requests; round++) {
		int	counted = round >= warm;

		nb = counted && requests - measured < batch ?
		    requests - measured : batch;
		for (k = 0; k < nb; k++) {
			tmpl_patch(&tb, rb[k], g + k, counted ? 'm' : 'w');
			if (prime)
				tmpl_patch(&ta, ra[k], g + k, 'p');
		}
		if (prime) {
			memset(&pa, 0, sizeof(pa));
			pa.reqs = ra;
			pa.req_len = ta.b.len;
			pa.n = (int)nb;
			hist_phase(&h, &pa);
			primed += nb;
			prime_bad += nb - pa.ok;
			if (pa.ok != nb)
				fprintf(stderr, "bench-history: %lld of %lld "
				    "priming requests failed (%lld non-200, "
				    "first %d; %lld incomplete, %lld short, "
				    "%lld connection errors)\n", nb - pa.ok, nb,
				    pa.bad_status, pa.first_bad_status,
				    pa.bad_end, pa.bad_count, pa.conn_errors);
			usleep(HIST_PAUSE_US);
		}
		memset(&pb, 0, sizeof(pb));
		pb.reqs = rb;
		pb.req_len = tb.b.len;
		pb.n = (int)nb;
		pb.lat = counted ? lat + ok : NULL;
		c0 = hist_cpu_ns(&h.target);
		u0 = hist_cpu_ns(&h.upstream);
		x0 = hist_cpu_ns(&h.extra);
		s0 = proc_self_cpu_us();
		proc_machine(&b0, &tot);
		hist_phase(&h, &pb);
		usleep(HIST_SETTLE_US);
		c1 = hist_cpu_ns(&h.target);
		u1 = hist_cpu_ns(&h.upstream);
		x1 = hist_cpu_ns(&h.extra);
		s1 = proc_self_cpu_us();
		proc_machine(&b1, &tot);
		g += nb;
		if (!counted) {
			if (pb.ok != nb)
				fprintf(stderr, "bench-history: warm-up: %lld "
				    "of %lld requests failed (%lld non-200, "
				    "first %d)\n", nb - pb.ok, nb,
				    pb.bad_status, pb.first_bad_status);
			continue;
		}
		measured += nb;
		if (spans != NULL)
			fprintf(spans, "%.6f %.6f\n", (double)pb.t0 / 1e6,
			    (double)pb.t1 / 1e6);
		wall += pb.t1 - pb.t0;
		cpu += c1 - c0;
		up += u1 - u0;
		ext += x1 - x0;
		self += s1 - s0;
		busy += b1 - b0;
		ok += pb.ok;
		bad_status += pb.bad_status;
		bad_end += pb.bad_end;
		bad_count += pb.bad_count;
		errs += pb.conn_errors;
		if (first_bad == 0)
			first_bad = pb.first_bad_status;
	}

	printf("requests=%lld\n", measured);
	printf("complete=%lld\n", ok);
	printf("bad_status=%lld\nfirst_bad_status=%d\nbad_end=%lld\n"
	    "bad_count=%lld\nconn_errors=%lld\n", bad_status, first_bad,
	    bad_end, bad_count, errs);
	printf("batch=%lld\nwarm_batches=%lld\nconnections=%d\n", batch, warm,
	    h.nconns);
	printf("primed=%lld\nprime_failed=%lld\n", primed, prime_bad);
	printf("chats=%lld\n", g);
	printf("body_bytes=%zu\nprime_body_bytes=%zu\ndify_body_bytes=%zu\n",
	    tb.body_len, ta.body_len, body_d.len);
	printf("seconds=%.3f\n", (double)wall / 1e6);
	printf("req_per_s=%.1f\n", wall > 0 ? (double)measured * 1e6 /
	    (double)wall : 0);
	if (h.target.n > 0) {
		printf("cpu_us=%.0f\n", (double)cpu / 1000);
		printf("cpu_pct=%.1f\n", pct(cpu / 1000, wall));
		printf("cpu_us_per_request=%.2f\n", measured > 0 ?
		    (double)cpu / 1000 / (double)measured : 0);
	}
	if (h.upstream.n > 0)
		printf("upstream_cpu_pct=%.1f\nupstream_us_per_request=%.2f\n",
		    pct(up / 1000, wall), (double)up / 1000 /
		    (double)measured);
	if (h.extra.n > 0)
		printf("extra_cpu_pct=%.1f\nextra_us_per_request=%.2f\n",
		    pct(ext / 1000, wall), (double)ext / 1000 /
		    (double)measured);
	printf("client_cpu_pct=%.1f\n", pct(self, wall));
	printf("machine_busy_pct=%.1f\n", pct(busy, wall));
	if (ok > 0) {
		printf("p50_us=%lld\n", util_percentile(lat, (size_t)ok, 50));
		printf("p99_us=%lld\n", util_percentile(lat, (size_t)ok, 99));
	}
	for (k = 0; k < batch; k++) {
		free(rb[k]);
		if (ra != NULL)
			free(ra[k]);
	}
	free(rb);
	free(ra);
	free(lat);
	for (i = 0; i < h.nconns; i++)
		if (h.conns[i].fd != -1)
			close(h.conns[i].fd);
	free(h.conns);
	close(h.epfd);
	free(ta.b.p);
	free(tb.b.p);
	free(body_a.p);
	free(body_b.p);
	free(body_d.p);
	chat_free(&chat);
	if (spans != NULL && fclose(spans) != 0)
		util_die("spans: %s", strerror(errno));
	return (0);
}
