/*
 * hostile_conn: many client connections in one process, driven by one
 * poll(2) loop.
 *
 * Each connection has a plan: bytes to send (some at once, the rest a
 * byte at a time), where to stall, when to stop reading, and when to hang
 * up (close or reset) -- after some bytes were sent, once the input holds
 * a string, or a while after the request was out.  The loop records when
 * each step happened and how the connection ended, so the scenarios can
 * judge the proxy by the clock.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "hostile.h"

/* Input kept per connection; beyond it the front is dropped. */
#define HOSTILE_IN_MAX		(8 * 1024 * 1024)
/* Bytes written at most per write(2). */
#define HOSTILE_WRITE_MAX	65536

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))


/* Seconds on the wall clock (what the look-alike stamps its records with). */
double
hostile_wall(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}


/* Raise this process's open-file soft limit to the hard limit. */
void
hostile_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}




/* True while the process runs (it has not died or exited). */
int
hostile_alive(pid_t pid)
{
	int	status;

	return (pid > 0 && waitpid(pid, &status, WNOHANG) == 0);
}

/*
 * Set up c to send len bytes at out to port, all at once, reading
 * everything, with no planned hang-up.
 */
void
hostile_conn_init(struct hostile_conn *c, int port, const char *out,
    size_t len)
{
	const char	*e;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->port = port;
	c->out = out;
	c->outlen = c->send_limit = c->fast_len = c->head_len = len;
	if (out != NULL && (e = memmem(out, len, "\r\n\r\n", 4)) != NULL)
		c->head_len = (size_t)(e - out) + 4;
}

/* Start connecting c (non-blocking). */
static void
hostile_conn_start(struct hostile_conn *c, double now)
{
	struct sockaddr_in	sin;

	c->started = 1;
	c->t_start = now;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		c->err = errno;
		c->end = HOSTILE_CONNECT_FAILED;
		c->t_end = now;
		return;
	}
	if (c->rcvbuf > 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf,
		    sizeof(c->rcvbuf));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)c->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		c->t_connected = now;
	else if (errno == EINPROGRESS)
		c->connecting = 1;
	else {
		c->err = errno;
		close(c->fd);
		c->fd = -1;
		c->end = HOSTILE_CONNECT_FAILED;
		c->t_end = now;
	}
}

/* End c: the descriptor is closed and how it ended recorded. */
static void
hostile_conn_end(struct hostile_conn *c, enum hostile_end how, double now)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->end = how;
	c->t_end = now;
}

/* Hang up on the proxy as planned: close, or reset. */
static void
hostile_conn_abort(struct hostile_conn *c, double now)
{
	struct linger	lg = { 1, 0 };

	if (c->abort_how == HOSTILE_RESET)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	hostile_conn_end(c, HOSTILE_ABORTED, now);
}

/* Whether c has bytes to write now. */
static int
hostile_conn_wants_write(const struct hostile_conn *c, double now)
{
	if (c->connecting || c->write_failed || c->sent >= c->send_limit)
		return (0);
	if (c->stop_on_reply && c->intotal > 0)
		return (0);
	return (c->sent < c->fast_len || now >= c->next_send);
}

/* The earliest time c needs the loop to wake up for, or 0. */
static double
hostile_conn_wake(const struct hostile_conn *c)
{
	double	t = 0;

	if (!c->connecting && !c->write_failed && c->sent >= c->fast_len &&
	    c->sent < c->send_limit && !(c->stop_on_reply && c->intotal > 0))
		t = c->next_send;
	if (c->abort_when == HOSTILE_AT_DELAY && c->t_limit > 0 &&
	    (t == 0 || c->t_limit + c->delay_ms < t))
		t = c->t_limit + c->delay_ms;
	return (t);
}

/* Write what is due. */
static void
hostile_conn_write(struct hostile_conn *c, double now)
{
	size_t	n;
	ssize_t	w;

	while (hostile_conn_wants_write(c, now)) {
		if (c->sent < c->fast_len)
			n = c->fast_len - c->sent;
		else
			n = 1;
		if (n > c->send_limit - c->sent)
			n = c->send_limit - c->sent;
		if (n > HOSTILE_WRITE_MAX)
			n = HOSTILE_WRITE_MAX;
		w = send(c->fd, c->out + c->sent, n, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				c->write_failed = 1;
				c->err = errno;
			}
			return;
		}
		if (c->sent == 0)
			c->t_first_sent = now;
		c->sent += (size_t)w;
		if (c->t_head == 0 && c->sent >= c->head_len)
			c->t_head = now;
		if (c->t_limit == 0 && c->sent >= c->send_limit)
			c->t_limit = now;
		if (c->sent >= c->fast_len)
			c->next_send = now + c->trickle_ms;
		if (c->sent > c->fast_len)
			return;		/* one trickled byte per turn */
	}
}

/* Keep n more bytes of input. */
static void
hostile_conn_keep(struct hostile_conn *c, const char *p, size_t n)
{
	size_t	drop;

	if (c->inlen + n > HOSTILE_IN_MAX) {
		drop = c->inlen + n - HOSTILE_IN_MAX / 2;
		if (drop > c->inlen)
			drop = c->inlen;
		memmove(c->in, c->in + drop, c->inlen - drop);
		c->inlen -= drop;
	}
	if (c->inlen + n + 1 > c->incap) {
		while (c->inlen + n + 1 > c->incap)
			c->incap = c->incap ? c->incap * 2 : 16384;
		c->in = realloc(c->in, c->incap);
	}
	memcpy(c->in + c->inlen, p, n);
	c->inlen += n;
	c->in[c->inlen] = '\0';
	c->intotal += n;
}

/* Read what has come; ends c at end of file or a reset. */
static void
hostile_conn_read(struct hostile_conn *c, double now)
{
	char	buf[65536];
	ssize_t	n;

	while (c->fd != -1 && !c->parked) {
		n = read(c->fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == 0) {
			hostile_conn_end(c, HOSTILE_EOF, now);
			return;
		}
		if (n == -1) {
			c->err = errno;
			hostile_conn_end(c, HOSTILE_RST, now);
			return;
		}
		if (c->t_first_in == 0)
			c->t_first_in = now;
		hostile_conn_keep(c, buf, (size_t)n);
		if (c->park_needle != NULL && c->in != NULL &&
		    strstr(c->in, c->park_needle) != NULL) {
			c->parked = 1;
			c->t_parked = now;
		}
	}
}

/* Hang up if the plan says so now. */
static void
hostile_conn_maybe_abort(struct hostile_conn *c, double now)
{
	int	go = 0;

	if (c->fd == -1 || c->connecting || c->abort_how == HOSTILE_KEEP)
		return;
	switch (c->abort_when) {
	case HOSTILE_AT_SENT:
		go = c->t_limit > 0;
		break;
	case HOSTILE_AT_NEEDLE:
		go = c->in != NULL && strstr(c->in, c->needle) != NULL;
		break;
	case HOSTILE_AT_DELAY:
		go = c->t_limit > 0 && now >= c->t_limit + c->delay_ms;
		break;
	case HOSTILE_NEVER:
		break;
	}
	if (go)
		hostile_conn_abort(c, now);
}

/* A non-blocking connect finished: note how. */
static void
hostile_conn_connected(struct hostile_conn *c, double now)
{
	int		err = 0;
	socklen_t	len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	c->connecting = 0;
	if (err != 0) {
		c->err = err;
		hostile_conn_end(c, HOSTILE_CONNECT_FAILED, now);
		return;
	}
	c->t_connected = now;
}

/*
 * Run the connections in c[0..n) until each has ended (or, with
 * stop_when_parked, stopped reading), tick asks to stop, or the timeout.
 * Connections still open afterwards stay open.
 */
void
hostile_conns_run(struct hostile_conn *c, size_t n,
    const struct hostile_run *run)
{
	struct pollfd	*pfd;
	size_t		*idx, np, i, next = 0, active, open;
	double		 now, deadline, wake, t;
	int		 timeout, r;

	pfd = calloc(n + 1, sizeof(*pfd));
	idx = calloc(n + 1, sizeof(*idx));
	deadline = harness_now_ms() + run->timeout_ms;
	while (next < n && c[next].started)
		next++;
	for (;;) {
		now = harness_now_ms();
		if (now >= deadline)
			break;
		active = 0;
		for (i = 0; i < n; i++)
			if (c[i].started && c[i].fd != -1)
				active++;
		while (next < n && (run->max_active == 0 ||
		    active < run->max_active)) {
			if (!c[next].started) {
				hostile_conn_start(&c[next], now);
				if (c[next].fd != -1)
					active++;
			}
			next++;
		}
		if (run->tick != NULL && run->tick(c, n, run->arg))
			break;
		np = 0;
		open = 0;
		wake = deadline;
		for (i = 0; i < n; i++) {
			if (!c[i].started || c[i].fd == -1)
				continue;
			hostile_conn_maybe_abort(&c[i], now);
			if (c[i].fd == -1)
				continue;
			if (!c[i].parked || !run->stop_when_parked)
				open++;
			pfd[np].events = 0;
			pfd[np].revents = 0;
			if (c[i].connecting || hostile_conn_wants_write(&c[i],
			    now))
				pfd[np].events |= POLLOUT;
			if (!c[i].connecting && !c[i].parked)
				pfd[np].events |= POLLIN;
			/* Nothing to wait for: poll(2) skips it. */
			pfd[np].fd = pfd[np].events != 0 ? c[i].fd : -1;
			if ((t = hostile_conn_wake(&c[i])) > 0 && t < wake)
				wake = t;
			idx[np++] = i;
		}
		if (open == 0 && next >= n)
			break;
		if (run->tick != NULL && now + 50 < wake)
			wake = now + 50;
		timeout = wake > now ? (int)(wake - now) + 1 : 0;
		r = poll(pfd, (nfds_t)np, timeout);
		if (r == -1 && errno != EINTR)
			break;
		now = harness_now_ms();
		for (i = 0; i < np && r > 0; i++) {
			struct hostile_conn	*k = &c[idx[i]];

			if (pfd[i].revents == 0) {
				if (hostile_conn_wants_write(k, now))
					hostile_conn_write(k, now);
				continue;
			}
			if (k->connecting) {
				hostile_conn_connected(k, now);
				if (k->fd == -1)
					continue;
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				hostile_conn_read(k, now);
			if (k->fd != -1 && hostile_conn_wants_write(k, now))
				hostile_conn_write(k, now);
			if (k->fd != -1)
				hostile_conn_maybe_abort(k, now);
		}
		if (r == 0)
			for (i = 0; i < np; i++) {
				struct hostile_conn	*k = &c[idx[i]];

				if (k->fd != -1 &&
				    hostile_conn_wants_write(k, now))
					hostile_conn_write(k, now);
			}
	}
	free(pfd);
	free(idx);
}

/* Close c if it is still open. */
void
hostile_conn_close(struct hostile_conn *c)
{
	if (c->fd != -1)
		hostile_conn_end(c, HOSTILE_CLOSED, harness_now_ms());
}

/* Close every connection still open. */
void
hostile_conns_close(struct hostile_conn *c, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		hostile_conn_close(&c[i]);
}

/* Close and free an array of connections. */
void
hostile_conns_free(struct hostile_conn *c, size_t n)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < n; i++) {
		hostile_conn_close(&c[i]);
		free(c[i].in);
		c[i].in = NULL;
	}
	free(c);
}

/* Whether the proxy closed (or reset) c. */
int
hostile_conn_closed(const struct hostile_conn *c)
{
	return (c->end == HOSTILE_EOF || c->end == HOSTILE_RST);
}

/* Parse what c received as one response; 0, or -1 if it is none. */
int
hostile_conn_response(const struct hostile_conn *c, struct http_response *r)
{
	char	*copy;

	memset(r, 0, sizeof(*r));
	if (c->inlen == 0)
		return (-1);
	copy = malloc(c->inlen + 1);
	memcpy(copy, c->in, c->inlen);
	return (http_parse_response(copy, c->inlen, r));
}

/*
 * What is wrong with r as the proxy's early refusal: an OpenAI JSON error
 * of status (with code, unless NULL), a request id, and with want_close
 * Connection: close.  NULL if nothing.
 */
const char *
hostile_error_problem(const struct http_response *r, int status,
    const char *code, int want_close)
{
	static char	 why[256];
	char		*ct, *id, *conn;
	const char	*got;
	json_t		*j;

	ct = http_header(r, "Content-Type");
	id = http_header(r, "X-Request-Id");
	conn = http_header(r, "Connection");
	j = r->body != NULL ? json_loads(r->body, 0, NULL) : NULL;
	got = json_string_value(json_object_get(json_object_get(j, "error"),
	    "code"));
	why[0] = '\0';
	if (r->status != status)
		snprintf(why, sizeof(why), "status %d", r->status);
	else if (ct == NULL || strcmp(ct, "application/json") != 0)
		snprintf(why, sizeof(why), "Content-Type %s",
		    ct != NULL ? ct : "missing");
	else if (id == NULL)
		snprintf(why, sizeof(why), "no X-Request-Id");
	else if (strncmp(r->body, "{\"error\":{\"message\":", 20) != 0)
		snprintf(why, sizeof(why), "body %.40s", r->body);
	else if (!r->complete || j == NULL)
		snprintf(why, sizeof(why), "body cut or not JSON");
	else if (code != NULL && (got == NULL || strcmp(got, code) != 0))
		snprintf(why, sizeof(why), "code %s", got != NULL ? got :
		    "missing");
	else if (want_close && (conn == NULL || strcmp(conn, "close") != 0))
		snprintf(why, sizeof(why), "Connection %s",
		    conn != NULL ? conn : "missing");
	json_decref(j);
	free(ct);
	free(id);
	free(conn);
	return (why[0] != '\0' ? why : NULL);
}

/* A word for how a connection ended. */
const char *
hostile_end_name(enum hostile_end e)
{
	switch (e) {
	case HOSTILE_OPEN:
		return ("still open at the run's time bound");
	case HOSTILE_EOF:
		return ("closed");
	case HOSTILE_RST:
		return ("reset");
	case HOSTILE_ABORTED:
		return ("hung up by us");
	case HOSTILE_CONNECT_FAILED:
		return ("connect failed");
	case HOSTILE_CLOSED:
		return ("closed by us");
	}
	return ("?");
}

