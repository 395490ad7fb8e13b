/*
 * bench: the clients behind `make bench` (see test/bench/run.sh).
 *
 * Modules (one prefix per file):
 *   bench_util.c   util_*     clocks, allocation, numbers, percentiles
 *   bench_http.c   http_*     the request bytes and an incremental
 *                             HTTP/1.1 response parser (chunked,
 *                             Content-Length, close-delimited)
 *   bench_load.c   load_*     N keep-alive clients on epoll, each sending
 *                             the same request again as soon as its
 *                             response is complete, started staggered
 *   bench_proc.c   proc_*     CPU time and RSS of processes from /proc
 *   latency.c      latency_*  bench-latency: upstream-write to
 *                             client-read delay of stamped events
 *   paced.c        paced_*    bench-paced: events/s, CPU and memory per
 *                             stream with thousands of slow streams
 *   history.c      hist_*, hc_* bench-history: long chats, each request a
 *                             different chat sent once (continuity);
 *                             its own connection loop
 *   freeport.c     freeport_* bench-freeport: free TCP ports
 *
 * No library beyond libc: the clients must cost little next to the
 * processes they measure on the same small machine.
 */
#ifndef BENCH_H
#define BENCH_H

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

/* bench_util.c */
long long	 util_now_us(void);
void		*util_xmalloc(size_t);
void		*util_xcalloc(size_t, size_t);
void		*util_xrealloc(void *, size_t);
long long	 util_num(const char *, const char *, long long, long long);
int		 util_addr(const char *, struct sockaddr_in *);
long long	 util_percentile(long long *, size_t, double);
void		 util_die(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));

/* bench_http.c */
#define HTTP_HEAD_MAX	16384

enum http_result {
	HTTP_MORE,		/* the response goes on */
	HTTP_DONE,		/* the response is complete */
	HTTP_ERROR		/* malformed, or ended early */
};

enum http_state {
	HS_HEAD,		/* status line and headers */
	HS_LENGTH,		/* body of Content-Length bytes */
	HS_CLOSE,		/* body delimited by the connection closing */
	HS_CHUNK_SIZE,		/* a chunk-size line */
	HS_CHUNK_DATA,		/* chunk data */
	HS_CHUNK_CRLF,		/* the CRLF after chunk data */
	HS_TRAILER,		/* trailer lines after the last chunk */
	HS_DONE
};

/* Called with each run of decoded body bytes. */
typedef void	 http_body_fn(void *, const char *, size_t);

struct http_resp {
	enum http_state	 state;
	char		 head[HTTP_HEAD_MAX];
	size_t		 head_len;
	char		 line[64];	/* chunk-size or trailer line */
	size_t		 line_len;
	int		 status;
	int		 keepalive;	/* the connection may be reused */
	long long	 left;		/* bytes left in the body or chunk */
	unsigned long long body_bytes;
};

char		*http_request(const char *, const char *, const char *,
		    const char *, size_t *);
void		 http_resp_init(struct http_resp *);
enum http_result http_resp_feed(struct http_resp *, const char *, size_t,
		    size_t *, http_body_fn *, void *);
enum http_result http_resp_eof(struct http_resp *);

/* A streaming substring counter: occurrences across any split. */
#define HTTP_MARK_MAX	64
struct http_mark {
	const char	*s;
	size_t		 len;
	char		 carry[HTTP_MARK_MAX];
	size_t		 carry_len;
	long long	 count;
};
void		 http_mark_init(struct http_mark *, const char *);
void		 http_mark_feed(struct http_mark *, const char *, size_t);

/* bench_load.c */
enum load_conn_state {
	LC_WAITING,		/* not started yet, or between reconnects */
	LC_CONNECTING,
	LC_SENDING,
	LC_READING,
	LC_CLOSED		/* finished for good */
};

struct load;

struct load_conn {
	int			 id;
	int			 fd;
	enum load_conn_state	 state;
	size_t			 sent;
	long long		 start_at;	/* LC_WAITING: when to start */
	struct http_resp	 resp;
	struct load		*load;
};

/* What the main program does at each point of a request's life. */
struct load_ops {
	/* A request is about to be sent on c. */
	void		(*begin)(struct load *, struct load_conn *);
	/* Decoded body bytes of c's response, read at now (us). */
	void		(*body)(struct load *, struct load_conn *,
			    const char *, size_t, long long);
	/* c's response is complete (ok: 1) or failed (ok: 0). */
	void		(*end)(struct load *, struct load_conn *, int);
	/* Timer: called when now passes next_tick; returns the next. */
	long long	(*tick)(struct load *, long long);
};

struct load {
	const struct load_ops	*ops;
	void			*arg;
	struct sockaddr_in	 addr;
	const char		*req;		/* the request's bytes */
	size_t			 req_len;
	int			 nconns;
	long long		 ramp_us;	/* starts spread over this */
	long long		 next_tick;	/* 0: no timer */
	long long		 next_start;	/* next LC_WAITING start, or 0 */
	long long		 hard_stop;	/* 0: none; else close all then */
	int			 stopping;	/* set: no new requests */
	int			 inflight;	/* requests sent, not ended */
	unsigned long long	 connects;
	unsigned long long	 conn_errors;	/* connect, reset, EOF early */
	struct load_conn	*conns;
	int			 epfd;
	long long		 t0;		/* when load_run began */
};

void		 load_init(struct load *, const struct load_ops *, void *,
		    const struct sockaddr_in *, const char *, size_t, int,
		    long long);
int		 load_run(struct load *);
int		 load_open(const struct load *);
void		 load_free(struct load *);

/* bench_proc.c */
#define PROC_MAX	64

struct proc_set {
	int		 pids[PROC_MAX];
	int		 n;
};

void		 proc_parse(struct proc_set *, const char *);
long long	 proc_cpu_us(const struct proc_set *);
long long	 proc_rss_kib(const struct proc_set *);
int		 proc_machine(long long *, long long *);
long long	 proc_self_cpu_us(void);

#endif /* BENCH_H */
