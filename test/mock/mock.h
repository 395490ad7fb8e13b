/*
 * mock-dify: a Dify Service API look-alike for the integration tests and
 * the benchmarks of openai-dify-proxy.
 *
 * Modules (one prefix per file):
 *   mock_dify.c       mock_*       command line, listener, TLS, signals
 *   mock_api.c        api_*        routing, auth, validation, records
 *   mock_stream.c     stream_*     SSE streams and the blocking body
 *   mock_directive.c  directive_*  "mock:NAME=VALUE" scenario switches
 *   mock_upload.c     upload_*     multipart/form-data, issued file ids
 *   mock_conversation.c
 *                     conv_*       conversations, their turns, the bounds
 *   mock_jw.c         jw_*         JSON writer in Dify's three styles
 *   mock_mbuf.c       mbuf_*       growable byte buffer
 *   mock_util.c       util_*       allocation, random ids, clocks
 */
#ifndef MOCK_H
#define MOCK_H

#include <sys/time.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>

#define MOCK_RECORDS_MAX	10000		/* kept per record kind */
#define MOCK_HIWAT		(256 * 1024)	/* output queued per stream */
#define MOCK_MAX_BODY		(64 * 1024 * 1024)

/* Process-wide state; everything else is static inside its module. */
struct mock_env {
	struct event_base	*base;
	struct evhttp		*http;
	struct evhttp		*https;		/* --tls-port's, or NULL */
	SSL_CTX			*ssl_ctx;
	int			 quiet;
	int			 no_records;	/* benchmarks: keep none */
	unsigned long long	 info_calls;
	unsigned long long	 parameters_calls;
	unsigned long long	 chat_requests;
	unsigned long long	 completion_requests;
	unsigned long long	 workflow_requests;
	unsigned long long	 upload_requests;
	unsigned long long	 conns_accepted;
	unsigned long long	 tls_full;	/* handshakes: new sessions */
	unsigned long long	 tls_resumed;	/* handshakes: resumed */
};
extern struct mock_env	 env;

/* The Dify app behind each API key. */
enum app_kind {
	APP_CHAT,
	APP_AGENT,
	APP_CHATFLOW,		/* >= 1.13.1: ..., message_end, wf_finished */
	APP_CHATFLOW_OLD,	/* <= 1.12: ..., wf_finished, message_end */
	APP_CHATFLOW_1130,	/* 1.13.0: ..., wf_finished, no message_end */
	APP_WORKFLOW,
	APP_COMPLETION
};

/* One variable of an app's user input form (GET /v1/parameters). */
struct mock_var {
	const char	*type;		/* "text-input", "paragraph" */
	const char	*label;
	const char	*variable;
	int		 required;
	int		 max_length;	/* 0: none, not shown */
};

struct mock_app {
	const char		*key;
	const char		*name;
	const char		*mode;
	enum app_kind		 kind;
	const struct mock_var	*form;
	size_t			 nform;
	int			 info_no_mode;	/* older Dify: no "mode" */
};

/* mock_mbuf.c */
struct mbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};
void	 mbuf_reserve(struct mbuf *, size_t);
void	 mbuf_add(struct mbuf *, const void *, size_t);
void	 mbuf_adds(struct mbuf *, const char *);
void	 mbuf_addc(struct mbuf *, char);
void	 mbuf_addf(struct mbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 mbuf_addnum(struct mbuf *, unsigned long long, unsigned);
void	 mbuf_free(struct mbuf *);

/* mock_util.c */
void	*util_xmalloc(size_t);
void	*util_xcalloc(size_t, size_t);
void	*util_xrealloc(void *, size_t);
char	*util_xstrdup(const char *);
char	*util_xstrndup(const char *, size_t);
void	 util_rand_init(void);
uint64_t util_rand(void);
void	 util_uuid4(char [37]);
long long util_mono_us(void);
double	 util_wall(void);
struct timeval *util_tv_ms(struct timeval *, long long);

/* mock_jw.c */
#define JW_ORJSON	0	/* streams: compact, raw UTF-8 */
#define JW_PY		1	/* json.dumps: spaced, \uXXXX escapes */
#define JW_UJSON	2	/* flask-restx: compact, \uXXXX, "\/" */
#define JW_MAXDEPTH	32

struct jw {
	struct mbuf	*b;
	int		 style;
	int		 depth;
	unsigned char	 first[JW_MAXDEPTH];
	unsigned char	 isarr[JW_MAXDEPTH];
};
void	 jw_init(struct jw *, struct mbuf *, int);
void	 jw_obj(struct jw *);
void	 jw_arr(struct jw *);
void	 jw_close(struct jw *);
void	 jw_key(struct jw *, const char *);
void	 jw_str(struct jw *, const char *);
void	 jw_strn(struct jw *, const char *, size_t);
void	 jw_int(struct jw *, long long);
void	 jw_real(struct jw *, double);
void	 jw_raw(struct jw *, const char *);
void	 jw_json(struct jw *, json_t *);
void	 jw_escape(struct mbuf *, const char *, size_t, int);
void	 jw_error_body(struct mbuf *, int, const char *, const char *);

/* mock_directive.c */
struct directives {
	long long	 events;	/* -1: echo the query */
	long long	 piece;		/* pad pieces to this size */
	long long	 interval;	/* ms between data events */
	long long	 first_delay;	/* ms before the first event */
	long long	 ping_every;	/* ms between periodic pings */
	long long	 bytes;		/* -1: off */
	long long	 slow_headers;	/* -1: off */
	long long	 usage_p;
	long long	 usage_c;
	int		 usage;
	int		 ping_each;
	int		 crlf;
	int		 spaced;
	int		 fragment;
	int		 stamp;
	int		 message_file;
	int		 replace;
	int		 error;
	int		 error_nocode;
	int		 error_first;
	int		 error_first_status;
	char		 error_first_code[64];
	int		 http;
	int		 http_status;
	char		 http_code[64];
	int		 cut;
	long long	 cut_after;	/* pieces before the cut */
	int		 hang;
	int		 hang_headers;
	int		 workflow_failed;
	int		 close_after_end;
	int		 framing;	/* FRAMING_*: chunk framing by hand */
	int		 think;		/* a <think> block before the answer */
	char		 tool_call[64];	/* the answer is a call of this tool */
	long long	 split;		/* 0: off; else bytes per piece */
	int		 wf_outputs;	/* WFO_*: workflow outputs shape */
	int		 no_text_chunk;
	int		 recall;	/* the answer is "turns=N" */
};

/* mock:wf_outputs=SHAPE: the outputs of a workflow run. */
enum {
	WFO_TEXT,		/* {"text": A} (the default) */
	WFO_ANSWER,		/* {"answer": A} */
	WFO_OUTPUT,		/* {"output": A} */
	WFO_RESULT,		/* {"result": A} */
	WFO_SINGLE,		/* {"summary": A, "count": 3} */
	WFO_MULTI,		/* {"title": "T", "body": A} */
	WFO_OBJECT,		/* {"data": {"answer": A, "n": 1}} */
	WFO_NAMED,		/* {"text": "decoy", "final": A} */
	WFO_NONE		/* {} */
};

/* mock:framing=NAME: the mock frames its chunks itself. */
enum {
	FRAMING_EVHTTP,		/* evhttp frames (the default) */
	FRAMING_EXT,		/* extensions on every chunk, a trailer */
	FRAMING_BAD,		/* a malformed chunk after the first event */
	FRAMING_JUNK,		/* bytes after the last chunk */
	FRAMING_NOLAST		/* close without the last chunk */
};
void	 directive_parse(struct directives *, const char *, size_t);

/* mock_stream.c */
enum stream_reply {
	RK_SSE,			/* text/event-stream */
	RK_BLOCKING,		/* the blocking JSON body */
	RK_HTTPERR		/* a pre-formatted error envelope */
};

struct stream_params {
	const struct mock_app	*app;
	enum stream_reply	 reply;
	const char		*key;
	const char		*user;		/* str(user) */
	const char		*query;
	size_t			 query_len;
	json_t			*inputs;	/* borrowed */
	const char		*conversation_id; /* canonical, or NULL */
	const struct directives	*dir;
	int			 status;	/* RK_HTTPERR */
	const struct mbuf	*body;		/* RK_HTTPERR */
	int			 retry_after;	/* RK_HTTPERR */
};
void	 stream_init(struct event_base *);
void	 stream_start(struct evhttp_request *,
	    const struct stream_params *);
int	 stream_stop(const char *, const char *, const char *);
json_t	*stream_list_json(void);
int	 stream_running(void);
void	 stream_reset(void);
void	 stream_shutdown(void);

/* mock_upload.c */
#define UPLOAD_MAX_PARTS	64
#define UPLOAD_MAX_HEADERS	16384	/* header bytes per part */

struct upload_form {
	int		 nfiles;	/* parts with a filename */
	int		 has_file;	/* a file part named "file" */
	const char	*data;		/* its content, inside the body */
	size_t		 size;
	char		*filename;	/* UTF-8, never NULL if has_file */
	char		*mime;		/* lowercase, no parameters; or NULL */
	char		*user;		/* the "user" field, or NULL */
};
void	 upload_init(void);
void	 upload_free(void);
int	 upload_parse(const char *, const char *, size_t,
	    struct upload_form *);
void	 upload_form_free(struct upload_form *);
void	 upload_issue(const char *, const char *, const char *);
int	 upload_known(const char *, const char *, const char *);
const char *upload_tenant(void);
void	 upload_reset(void);

/* mock_conversation.c */
#define CONV_MAX	MOCK_RECORDS_MAX	/* conversations kept */
#define CONV_TEXT_MAX	(4 * 1024 * 1024)	/* a stored query, answer */
#define CONV_BYTES_MAX	(64 * 1024 * 1024)	/* the whole table */

struct conv;
void	 conv_init(void);
void	 conv_reset(void);
void	 conv_free(void);
struct conv *conv_find(const char *, const char *, const char *);
long long conv_begin(const char *, const char *, const char *,
	    const char *, const char *, size_t, long long);
void	 conv_end(const char *, const char *, const char *, size_t, int);
void	 conv_delete(struct conv *);
int	 conv_messages(const struct conv *, const char *, long long,
	    struct mbuf *);
void	 conv_list(struct mbuf *);

/* mock_api.c */
void	 api_init(void);
void	 api_free(void);
void	 api_dispatch(struct evhttp_request *, void *);
const char *api_reason(int);

#endif /* MOCK_H */
