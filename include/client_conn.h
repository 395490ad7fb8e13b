/*
 * client_conn: one client connection, from accept to close, around
 * evhttp's reading of it.
 */
#ifndef ODP_CLIENT_CONN_H
#define ODP_CLIENT_CONN_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "api_error.h"
#include "http_guard.h"

struct bufferevent;
struct config;
struct event;
struct event_base;
struct evhttp;
struct evhttp_connection;
struct evhttp_request;

/* Complete requests a connection may have waiting behind one in flight. */
#define CLIENT_CONN_MAX_QUEUED	16

/* What the owner of a request (downstream.c) hears from its connection. */
struct client_conn_handlers {
	/* The response was written in full; the request is freed next. */
	void	(*complete)(struct evhttp_request *, void *);
	/* The connection is going away with the response unfinished. */
	void	(*closed)(void *);
};

enum client_conn_state {
	CLIENT_CONN_OPEN,	/* requests flow to evhttp */
	CLIENT_CONN_FAILED,	/* a request was refused: answer, then close */
	CLIENT_CONN_LINGERING	/* answered; reading what still comes */
};

enum client_conn_deadline {
	CLIENT_CONN_NO_DEADLINE,
	CLIENT_CONN_HEAD_DEADLINE,	/* client_header_timeout */
	CLIENT_CONN_BODY_DEADLINE,	/* client_body_timeout */
	CLIENT_CONN_LINGER_DEADLINE	/* reading before the close */
};

struct client_conns;

struct client_conn {
	struct client_conns		*set;
	TAILQ_ENTRY(client_conn)	 entry;		/* until set up */
	struct bufferevent		*bev;		/* evhttp's */
	struct evhttp_connection	*evcon;		/* NULL until set up */
	int				 fd;
	enum client_conn_state		 state;
	struct http_guard		 guard;
	uint64_t			 seen;		/* bytes through the guard */
	uint64_t			 req_start;	/* offset of the request */
	uint64_t			 held;		/* counted in the budget */
	uint64_t			 queue[CLIENT_CONN_MAX_QUEUED];
	unsigned			 qhead, qlen;	/* complete, waiting */
	unsigned			 inflight;	/* dispatched, unanswered */
	int				 in_input;	/* in our input callback */
	int				 any_byte;	/* of the first request */
	enum client_conn_deadline	 deadline;
	struct event			*timer;
	struct event			*act_ev;	/* answers a refusal */
	uint64_t			 linger_start;	/* usec */
	uint64_t			 last_input;	/* usec, while lingering */
	struct api_error		*error;		/* once FAILED */
	int				 silent;	/* close without answer */
	const struct client_conn_handlers *h;		/* the request's owner */
	void				*arg;
};

struct metrics_slot;
struct ssl_ctx_st;

struct client_conns	*client_conns_new(struct event_base *,
			    const struct config *, struct evhttp *);
void			 client_conns_free(struct client_conns *);
void			 client_conns_set_metrics(struct client_conns *,
			    struct metrics_slot *);
void			 client_conns_set_tls(struct client_conns *,
			    struct ssl_ctx_st *);
unsigned		 client_conns_drain(struct client_conns *,
			    void (*)(void *), void *);
unsigned		 client_conns_open(const struct client_conns *);
struct client_conn	*client_conns_find(struct client_conns *,
			    struct evhttp_request *);
void			 client_conn_begin(struct client_conn *,
			    struct evhttp_request *);
void			 client_conn_attach(struct client_conn *,
			    const struct client_conn_handlers *, void *);

#endif
