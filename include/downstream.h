/*
 * downstream: the client side of one request, over evhttp.
 */
#ifndef ODP_DOWNSTREAM_H
#define ODP_DOWNSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct client_conn;
struct config;
struct event;
struct event_base;
struct evbuffer;
struct evhttp_request;
struct evkeyvalq;

struct downstream_handlers {
	/* The client left before the response was complete. */
	void	(*gone)(void *);
	/* The client's output drained to empty (backpressure release). */
	void	(*drained)(void *);
	/* The request is released: complete, or the client gone. Last call. */
	void	(*released)(void *);
};

struct downstream {
	struct evhttp_request		*req;	/* NULL once released */
	struct event_base		*base;
	int				 fd;	/* client socket */
	struct event			*closed_ev;	/* hang-up watch */
	struct evbuffer			*chunk;
	struct evbuffer			*output;	/* the stream's, once started */
	int				 queued;	/* bytes wait in output */
	const struct downstream_handlers *h;
	void				*arg;
	unsigned			 write_timeout_ms;
	unsigned			 idle_timeout_ms;
	int				 started;	/* streaming reply begun */
	int				 timeouts_changed; /* for a reply */
	int				 finished;	/* last byte queued */
	int				 gone;		/* client left early */
	int				 status;	/* status sent */
	uint64_t			 bytes_out;
	unsigned			 writes;	/* stream sends with bytes */
};

void		 downstream_init(struct downstream *, struct evhttp_request *,
		    struct event_base *, const struct config *,
		    struct client_conn *, const struct downstream_handlers *,
		    void *);
void		 downstream_free(struct downstream *);
struct evkeyvalq *downstream_headers(struct downstream *);
void		 downstream_reply(struct downstream *, int, const void *, size_t);
void		 downstream_start(struct downstream *, int);
void		 downstream_send(struct downstream *, const void *, size_t, int);
size_t		 downstream_pending(struct downstream *);
int		 downstream_fd(struct evhttp_request *);

#endif
