/*
 * hostile: a bounded run of hostile clients against the proxy.
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <sys/types.h>

#include <stddef.h>

#include "harness.h"

/* What a connection does when its abort condition is met. */
enum hostile_abort {
	HOSTILE_KEEP,		/* no abort planned */
	HOSTILE_CLOSE,		/* close(2) */
	HOSTILE_RESET		/* SO_LINGER {1, 0}, then close(2): an RST */
};

/* When a planned abort happens. */
enum hostile_when {
	HOSTILE_NEVER,
	HOSTILE_AT_SENT,	/* all of send_limit has been written */
	HOSTILE_AT_NEEDLE,	/* the input holds needle */
	HOSTILE_AT_DELAY	/* delay_ms after send_limit was written */
};

/* How a connection ended. */
enum hostile_end {
	HOSTILE_OPEN,		/* not ended (yet) */
	HOSTILE_EOF,		/* the proxy closed: read(2) gave 0 */
	HOSTILE_RST,		/* the proxy reset it */
	HOSTILE_ABORTED,	/* we closed or reset it as planned */
	HOSTILE_CONNECT_FAILED,
	HOSTILE_CLOSED		/* we closed it at the end of a run */
};

/* One client connection driven by the poll loop. */
struct hostile_conn {
	int			 fd;
	int			 port;
	int			 rcvbuf;	/* SO_RCVBUF, unless 0 */
	int			 connecting;
	int			 started;

	/* What to send: fast_len bytes at once, the rest trickled. */
	const char		*out;
	size_t			 outlen;
	size_t			 send_limit;	/* stop (stall) after this */
	size_t			 head_len;	/* t_head when this is out */
	size_t			 fast_len;
	int			 trickle_ms;	/* 0: all as fast as it goes */
	int			 stop_on_reply;	/* stop sending at a reply */
	size_t			 sent;
	double			 next_send;
	int			 write_failed;

	/* What came back; reading stops once park_needle arrived. */
	char			*in;
	size_t			 inlen;
	size_t			 incap;
	size_t			 intotal;	/* all bytes, kept or not */
	const char		*park_needle;
	int			 parked;

	/* A planned hang-up. */
	enum hostile_abort	 abort_how;
	enum hostile_when	 abort_when;
	const char		*needle;
	int			 delay_ms;

	/* Times on the monotonic clock in ms (0: not yet). */
	double			 t_start;
	double			 t_connected;
	double			 t_first_sent;
	double			 t_head;
	double			 t_limit;	/* send_limit written */
	double			 t_first_in;
	double			 t_parked;
	double			 t_end;
	enum hostile_end	 end;
	int			 err;		/* errno of a failure */
};

/* How to run a set of connections. */
struct hostile_run {
	int		  timeout_ms;
	size_t		  max_active;	/* 0: all at once */
	/* Called every turn of the loop; nonzero ends the run. */
	int		(*tick)(struct hostile_conn *, size_t, void *);
	void		 *arg;
	int		  stop_when_parked;	/* end once all are parked */
};

double	 hostile_wall(void);
void	 hostile_raise_nofile(void);
int	 hostile_alive(pid_t);

void	 hostile_conn_init(struct hostile_conn *, int, const char *, size_t);
void	 hostile_conns_run(struct hostile_conn *, size_t,
	     const struct hostile_run *);
void	 hostile_conn_close(struct hostile_conn *);
void	 hostile_conns_close(struct hostile_conn *, size_t);
void	 hostile_conns_free(struct hostile_conn *, size_t);
int	 hostile_conn_closed(const struct hostile_conn *);
int	 hostile_conn_response(const struct hostile_conn *,
	     struct http_response *);
const char *hostile_error_problem(const struct http_response *, int,
	     const char *, int);
const char *hostile_end_name(enum hostile_end);

#endif
