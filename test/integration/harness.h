/*
 * harness: processes and raw HTTP for the integration tests.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <sys/types.h>

#include <stddef.h>

#include <jansson.h>

/* A child process (the proxy or the Dify look-alike) and its log. */
struct proc {
	pid_t	 pid;
	int	 port;
	int	 metrics_port;	/* metrics_listen's, 0: none */
	char	 log[256];
	char	 config[256];
};

/* A parsed HTTP response. */
struct http_response {
	int	 status;
	char	*headers;	/* raw header block, NUL-terminated */
	char	*body;		/* decoded body, NUL-terminated */
	size_t	 bodylen;
	int	 chunked;
	int	 complete;	/* the whole body arrived before EOF */
	double	 elapsed_ms;	/* request sent to connection closed */
};

/* SSE data payloads of a stream body. */
struct sse_frames {
	char	**data;
	size_t	  n;
	int	  well_formed;	/* every frame was exactly "data: X\n\n" */
};

extern const char	*harness_build;
extern int		 harness_upstream_tls;

void	 harness_init(void);
void	 harness_mock_start(struct proc *, const char *);
void	 harness_proxy_start(struct proc *, int, const char *);
void	 harness_proxy_start_limited(struct proc *, int, const char *, int);
void	 harness_redis_start(struct proc *, int);
int	 harness_proc_stop(struct proc *);
void	 harness_proc_kill(struct proc *);
int	 harness_log_contains(const struct proc *, const char *);
int	 harness_log_wait(const struct proc *, const char *, int);
int	 harness_dify_port(int);
void	 harness_dify_host(int, char *, size_t);
long	 harness_log_number(const struct proc *, const char *, const char *);
long	 harness_rss_kb(pid_t);
int	 harness_fd_count(pid_t, int, int *);
double	 harness_now_ms(void);
void	 harness_sleep_ms(int);

int	 http_connect(int);
int	 harness_healthy_within(int, int);
int	 http_send_all(int, const void *, size_t);
int	 http_read_response(int, struct http_response *, int);
int	 http_read_responses(int, struct http_response *, int, int);
int	 http_parse_response(char *, size_t, struct http_response *);
int	 http_request(int, const char *, const char *, const char *,
	    const char *, struct http_response *, int);
int	 http_chat(int, const char *, const char *, struct http_response *);
char	*http_header(const struct http_response *, const char *);
void	 http_response_free(struct http_response *);

void	 sse_split(const char *, size_t, struct sse_frames *);
void	 sse_frames_free(struct sse_frames *);
char	*sse_content(const struct sse_frames *);

json_t	*mock_get(int, const char *);
void	 mock_reset(int);
void	 mock_words(int, char *, size_t);
char	*chat_body(const char *, const char *, int, int);

#endif
