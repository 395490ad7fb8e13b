/*
 * libevent_internals: what the proxy relies on that libevent does not
 * promise, for the one tested version (see the .c file's contract).
 */
#ifndef ODP_LIBEVENT_INTERNALS_H
#define ODP_LIBEVENT_INTERNALS_H

#include <stddef.h>

struct bufferevent;
struct evbuffer;
struct evhttp_connection;
struct evhttp_request;

int	 libevent_internals_check(char *, size_t);
int	 libevent_internals_write_queued(struct bufferevent *);
void	 libevent_internals_take_output(struct bufferevent *,
	    struct evbuffer *);
void	 libevent_internals_run_write_cb(struct bufferevent *, int);
void	 libevent_internals_run_read_cb(struct bufferevent *);
int	 libevent_internals_is_http10(const struct evhttp_request *);
int	 libevent_internals_reply_is_chunked(const struct evhttp_request *);
void	 libevent_internals_send_framed(struct evhttp_request *,
	    struct evbuffer *, void (*)(struct evhttp_connection *, void *),
	    void *);
void	 libevent_internals_end_framed(struct evhttp_request *);
void	 libevent_internals_take_framing(struct evhttp_request *);
int	 libevent_internals_frames_body(const struct evhttp_request *);
void	 libevent_internals_end_body(struct evhttp_request *);
struct evhttp_connection *libevent_internals_connection_of(
	    struct bufferevent *);
void	 libevent_internals_close_incoming(struct bufferevent *);

#endif
