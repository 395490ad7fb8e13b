/*
 * bev: what libevent 2.1's socket bufferevents lack.
 *
 * A socket bufferevent writes what is queued on its output only from its
 * write event, a loop turn after the bytes were queued and after an
 * epoll_ctl that adds EPOLLOUT (and another that drops it).  Between its
 * own writes it keeps the front of its output frozen, so nobody else can
 * drain it.  bev_write_queued writes the queue now, thawing the front for
 * the write as libevent's own write does.  What it does not write (a
 * short write, an error) stays queued for libevent, which finds the same
 * condition on its next write.  The caller decides what to run in place
 * of the write callback libevent would have run.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "bev.h"

/*
 * Write what bev has queued to its socket now.  Returns 1 when something
 * was queued and all of it left, else 0.
 */
int
bev_write_queued(struct bufferevent *bev)
{
	struct evbuffer	*out = bufferevent_get_output(bev);
	int		 fd, n;

	if ((fd = bufferevent_getfd(bev)) == -1 ||
	    evbuffer_get_length(out) == 0)
		return (0);
	evbuffer_unfreeze(out, 1);
	n = evbuffer_write(out, fd);
	evbuffer_freeze(out, 1);
	return (n > 0 && evbuffer_get_length(out) == 0);
}
