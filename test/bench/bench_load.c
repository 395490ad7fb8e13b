/*
 * load: N clients on one epoll loop, each sending the same POST again as
 * soon as its previous response is complete (on the same connection when
 * the server keeps it open, else on a new one).
 *
 * Client i starts at t0 + i * ramp / N, so slow streams end spread out in
 * time rather than in waves, and the listener never sees N connects at
 * once.  The main program sees each request through load_ops: begin,
 * body (with the time of the read that brought the bytes), end, and a
 * timer.  Setting `stopping` lets the running requests finish and starts
 * no new ones; load_run returns when none is left, or at `hard_stop`.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define LOAD_READ_MAX		65536
#define LOAD_EVENTS		512
#define LOAD_RETRY_US		100000	/* wait after a failed connection */

static char	 load_buf[LOAD_READ_MAX];

/* Set up l; nothing runs until load_run. */
void
load_init(struct load *l, const struct load_ops *ops, void *arg,
    const struct sockaddr_in *addr, const char *req, size_t req_len,
    int nconns, long long ramp_us)
{
	int	i;

	memset(l, 0, sizeof(*l));
	l->ops = ops;
	l->arg = arg;
	l->addr = *addr;
	l->req = req;
	l->req_len = req_len;
	l->nconns = nconns;
	l->ramp_us = ramp_us;
	l->epfd = -1;
	l->conns = util_xcalloc((size_t)nconns, sizeof(*l->conns));
	for (i = 0; i < nconns; i++) {
		l->conns[i].id = i;
		l->conns[i].fd = -1;
		l->conns[i].state = LC_WAITING;
		l->conns[i].load = l;
	}
}

/* Release what load_init and load_run allocated. */
void
load_free(struct load *l)
{
	free(l->conns);
	l->conns = NULL;
}

/* Requests sent whose response has not ended: the open streams. */
int
load_open(const struct load *l)
{
	return (l->inflight);
}

/* Change what epoll watches on c. */
static void
load_watch(struct load_conn *c, uint32_t events)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(c->load->epfd, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		util_die("epoll_ctl: %s", strerror(errno));
}

/* Close c's socket; it starts again at `at` unless the load is stopping. */
static void
load_close(struct load_conn *c, long long at)
{
	struct load	*l = c->load;

	if (c->fd != -1) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (l->stopping)
		c->state = LC_CLOSED;
	else {
		c->state = LC_WAITING;
		c->start_at = at;
		if (l->next_start == 0 || at < l->next_start)
			l->next_start = at;
	}
}

/* End c's request: tell the main program, and drop it from the count. */
static void
load_end(struct load_conn *c, int ok)
{
	struct load	*l = c->load;

	l->inflight--;
	l->ops->end(l, c, ok);
}

/* Write as much of the request as the socket takes; -1 on failure. */
static int
load_send(struct load_conn *c)
{
	struct load	*l = c->load;
	ssize_t		 n;

	while (c->sent < l->req_len) {
		n = write(c->fd, l->req + c->sent, l->req_len - c->sent);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			load_watch(c, EPOLLOUT);
			return (0);
		}
		if (n <= 0)
			return (-1);
		c->sent += (size_t)n;
	}
	c->state = LC_READING;
	load_watch(c, EPOLLIN | EPOLLRDHUP);
	return (0);
}

/* Begin a request on c's open connection. */
static void
load_request(struct load_conn *c)
{
	struct load	*l = c->load;

	c->sent = 0;
	c->state = LC_SENDING;
	http_resp_init(&c->resp);
	l->inflight++;
	l->ops->begin(l, c);
	if (load_send(c) == -1) {
		l->conn_errors++;
		load_end(c, 0);
		load_close(c, util_now_us() + LOAD_RETRY_US);
	}
}

/* Open c's connection; the request goes out once it is up. */
static void
load_connect(struct load_conn *c)
{
	struct load		*l = c->load;
	struct epoll_event	 ev;
	int			 one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		util_die("socket: %s (raise the open-file limit)",
		    strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	l->connects++;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		util_die("epoll_ctl: %s", strerror(errno));
	if (connect(c->fd, (const struct sockaddr *)&l->addr,
	    sizeof(l->addr)) == -1 && errno != EINPROGRESS) {
		l->conn_errors++;
		load_close(c, util_now_us() + LOAD_RETRY_US);
		return;
	}
	c->state = LC_CONNECTING;
}

/* Body bytes for the main program, stamped with the read time. */
struct load_piece {
	struct load_conn	*c;
	long long		 now;
};

/* http_body_fn: forward decoded body bytes to ops->body. */
static void
load_body(void *arg, const char *p, size_t n)
{
	struct load_piece	*pc = arg;

	pc->c->load->ops->body(pc->c->load, pc->c, p, n, pc->now);
}

/* The response on c is complete: next request, or close. */
static void
load_complete(struct load_conn *c)
{
	struct load	*l = c->load;
	int		 keep = c->resp.keepalive;

	load_end(c, 1);
	if (l->stopping)
		load_close(c, 0);
	else if (keep)
		load_request(c);
	else
		load_close(c, util_now_us());
}

/* c's socket is readable: read once, parse, act on the result. */
static void
load_readable(struct load_conn *c)
{
	struct load		*l = c->load;
	struct load_piece	 pc;
	enum http_result	 res;
	ssize_t			 n;
	size_t			 used;

	n = read(c->fd, load_buf, sizeof(load_buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	pc.c = c;
	pc.now = util_now_us();
	if (n <= 0) {
		if (c->state == LC_READING && n == 0 &&
		    http_resp_eof(&c->resp) == HTTP_DONE) {
			c->resp.keepalive = 0;
			load_complete(c);
			return;
		}
		/* A keep-alive connection the server closed while idle. */
		l->conn_errors++;
		if (c->state == LC_SENDING || c->state == LC_READING)
			load_end(c, 0);
		load_close(c, pc.now + LOAD_RETRY_US);
		return;
	}
	if (c->state != LC_READING) {
		l->conn_errors++;
		load_end(c, 0);
		load_close(c, pc.now + LOAD_RETRY_US);
		return;
	}
	res = http_resp_feed(&c->resp, load_buf, (size_t)n, &used, load_body,
	    &pc);
	if (res == HTTP_ERROR || (res == HTTP_DONE && used < (size_t)n)) {
		l->conn_errors++;
		load_end(c, 0);
		load_close(c, pc.now + LOAD_RETRY_US);
	} else if (res == HTTP_DONE)
		load_complete(c);
}

/* c's socket is writable: finish connecting, or go on sending. */
static void
load_writable(struct load_conn *c)
{
	struct load	*l = c->load;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (c->state == LC_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			l->conn_errors++;
			load_close(c, util_now_us() + LOAD_RETRY_US);
			return;
		}
		if (l->stopping) {
			load_close(c, 0);
			return;
		}
		load_request(c);
		return;
	}
	if (c->state == LC_SENDING && load_send(c) == -1) {
		l->conn_errors++;
		load_end(c, 0);
		load_close(c, util_now_us() + LOAD_RETRY_US);
	}
}

/* Start the connections that are due; note when the next one is. */
static void
load_start_due(struct load *l, long long now)
{
	int	i;

	l->next_start = 0;
	for (i = 0; i < l->nconns; i++) {
		struct load_conn	*c = &l->conns[i];

		if (c->state != LC_WAITING)
			continue;
		if (l->stopping)
			c->state = LC_CLOSED;
		else if (c->start_at <= now)
			load_connect(c);	/* a failure re-queues c */
		else if (l->next_start == 0 || c->start_at < l->next_start)
			l->next_start = c->start_at;
	}
}

/* Close every connection, ending what is still running as failed. */
static void
load_abort(struct load *l)
{
	int	i;

	l->stopping = 1;
	for (i = 0; i < l->nconns; i++) {
		struct load_conn	*c = &l->conns[i];

		if (c->state == LC_SENDING || c->state == LC_READING)
			load_end(c, 0);
		if (c->state != LC_CLOSED)
			load_close(c, 0);
	}
}

/* Run until stopped and drained, or hard_stop; 0, or -1 on error. */
int
load_run(struct load *l)
{
	struct epoll_event	 evs[LOAD_EVENTS];
	long long		 now, wake;
	int			 i, n, timeout;

	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return (-1);
	l->t0 = util_now_us();
	for (i = 0; i < l->nconns; i++)
		l->conns[i].start_at = l->t0 +
		    l->ramp_us * i / (l->nconns > 0 ? l->nconns : 1);
	l->next_start = l->t0;
	for (;;) {
		now = util_now_us();
		if (l->next_tick != 0 && now >= l->next_tick)
			l->next_tick = l->ops->tick(l, now);
		if (l->next_start != 0 && (now >= l->next_start ||
		    l->stopping))
			load_start_due(l, now);
		if (l->stopping && l->inflight == 0)
			break;
		if (l->hard_stop != 0 && now >= l->hard_stop) {
			load_abort(l);
			break;
		}
		wake = l->next_tick;
		if (l->next_start != 0 && (wake == 0 || l->next_start < wake))
			wake = l->next_start;
		if (l->hard_stop != 0 && (wake == 0 || l->hard_stop < wake))
			wake = l->hard_stop;
		timeout = 100;
		if (wake != 0) {
			timeout = (int)((wake - now + 999) / 1000);
			if (timeout < 0)
				timeout = 0;
			if (timeout > 100)
				timeout = 100;
		}
		n = epoll_wait(l->epfd, evs, LOAD_EVENTS, timeout);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (-1);
		for (i = 0; i < n; i++) {
			struct load_conn	*c = evs[i].data.ptr;

			if (c->fd == -1)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR |
			    EPOLLHUP)) {
				if (c->state == LC_CONNECTING)
					load_writable(c);
				else
					load_readable(c);
			} else if (evs[i].events & EPOLLOUT)
				load_writable(c);
		}
	}
	close(l->epfd);
	l->epfd = -1;
	return (0);
}
