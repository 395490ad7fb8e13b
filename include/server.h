/*
 * server: the evhttp server, its dispatch, and what every response shares.
 */
#ifndef ODP_SERVER_H
#define ODP_SERVER_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "api_error.h"

struct client_conns;
struct config;
struct event;
struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct evkeyvalq;
struct exchange;
struct app_cache;
struct conversation_memory;
struct conversation_store;
struct rate_limit;
struct rate_limit_store;
struct readiness;
struct upstream;
struct metrics;
struct metrics_slot;

/*
 * What the workers of one instance share, made before they are forked:
 * the conversation table (NULL when Redis holds conversations or
 * continuity is off) and the rate limits' counts.
 */
struct server_shared {
	struct conversation_memory	*conversations;
	struct rate_limit		*limits;	/* NULL: none made */
	struct metrics			*metrics;	/* NULL: metrics off */
};

/* Work the server must wait for before it exits: exchanges, model
 * lookups and stop calls. */
struct server_task {
	TAILQ_ENTRY(server_task)	 entry;
	void				(*abort)(void *);	/* shutdown */
	void				*arg;
};
TAILQ_HEAD(server_tasks, server_task);

struct server {
	struct event_base		*base;
	const struct config		*cfg;
	struct evhttp			*http;
	struct evhttp_bound_socket	**bound;	/* nbound; NULL: none */
	size_t				 nbound;
	struct upstream			*upstream;
	struct app_cache		*app_cache;	/* what Dify said */
	struct conversation_store	*conversations;	/* NULL: none */
	struct rate_limit_store		*limits;	/* NULL: none */
	struct readiness		*readiness;	/* NULL: no probe */
	struct upstream			**app_upstreams; /* per config app */
	struct client_conns		*conns;		/* every client's */
	struct server_tasks		 tasks;
	unsigned			 ntasks;
	struct event			*drain_ev;
	struct event			*accept_ev;	/* re-enable after EMFILE */
	int				 reserve_fd;	/* freed to refuse at EMFILE */
	uint64_t			 refused_fd;	/* since the last log line */
	uint64_t			 refused_logged; /* usec of that line */
	int				 unready;	/* told to stop */
	int				 notify;	/* talks to systemd */
	struct event			*watchdog_ev;	/* WatchdogSec */
	struct event			*delay_ev;	/* drain_delay */
	int				 draining;
	int				 aborted;
	int				 exiting;	/* loop told to end */
	int				 closing;	/* in server_free */
	int64_t				 started;	/* Unix time */
	struct event			*quiet_ev;	/* gives memory back */
	uint64_t			 last_busy;	/* usec: a task came or went */
	uint64_t			 last_trim;	/* usec */
	const struct server_shared	*shared;
	struct metrics_slot		*metrics;	/* this worker's, or NULL */
	struct evhttp			*metrics_http;	/* metrics_listen's */
};

struct server	*server_new(struct event_base *, const struct config *,
		    const struct server_shared *, const int *, size_t, int,
		    char **);
void		 server_signals_block(int);
int		 server_run(const struct config *, const struct server_shared *,
		    const int *, size_t, int, int, int);
void		 server_free(struct server *);
void		 server_drain(struct server *);
void		 server_task_add(struct server *, struct server_task *,
		    void (*)(void *), void *);
void		 server_task_remove(struct server *, struct server_task *);
void		 server_send_error(struct server *, struct evhttp_request *,
		    const char *, const struct api_error *);
void		 server_error_headers(struct evkeyvalq *,
		    const struct api_error *);
int		 server_api_key(struct evhttp_request *, char *, size_t);

#endif
