/*
 * config: the proxy's settings, from defaults, a JSON file and the
 * environment, with every error reported.
 */
#ifndef ODP_CONFIG_H
#define ODP_CONFIG_H

#include <stddef.h>

#include "log.h"
#include "proxy_keys.h"
#include "redis_url.h"
#include "url.h"

struct apps;

/* Where GET /metrics is served (metrics_listen). */
enum config_metrics {
	CONFIG_METRICS_OFF,
	CONFIG_METRICS_MAIN,	/* on the main port */
	CONFIG_METRICS_LISTEN	/* on metrics_host:metrics_port */
};

struct config {
	char		*host;
	int		 port;
	char		*dify_api_url;
	struct url	 upstream;		/* parsed dify_api_url */
	unsigned	 connect_timeout_ms;
	unsigned	 upstream_idle_timeout_ms;
	unsigned	 client_idle_timeout_ms;
	unsigned	 send_timeout_ms;
	unsigned	 client_header_timeout_ms;
	unsigned	 client_body_timeout_ms;
	unsigned	 max_connections;		/* 0: from the fd limit */
	size_t		 max_buffered_request_bytes;
	unsigned	 keepalive_interval_ms;
	unsigned	 drain_timeout_ms;
	unsigned	 drain_delay_ms;	/* /readyz 503 before closing */
	unsigned	 ready_probe_interval_ms; /* 0: /readyz asks no Dify */
	unsigned	 upstream_keepalive_ms;
	unsigned	 models_cache_ttl_ms;
	size_t		 max_body_bytes;
	size_t		 max_header_bytes;
	unsigned	 upstream_pool_size;
	char		*tls_ca_file;			/* NULL: system store */
	char		*tls_cert_file;		/* the TLS listener's; NULL: none */
	char		*tls_key_file;
	int		 tls_verify;
	char		**cors_origins;			/* NULL-terminated */
	enum log_level	 log_level;
	char		*default_user;
	int		 auto_generate_name;
	unsigned	 workers;			/* 0: one per CPU */
	struct apps	*apps;				/* NULL: none */
	int		 passthrough;	/* Bearer is a Dify key; -1: auto */
	int		 split_think;	/* <think> blocks to reasoning */
	int		 prompt_tools;	/* OpenAI tools in prompt mode */
	int		 continuity;	/* Dify conversations across turns */
	unsigned	 conversation_ttl_ms;
	unsigned	 conversation_max;	/* in-process store bound */
	char		*redis_url;		/* NULL: in-process store */
	struct redis_url redis;			/* parsed redis_url */
	unsigned	 redis_timeout_ms;
	struct proxy_keys api_keys;		/* n == 0: none */
	char		*api_keys_file;		/* more of them, or NULL */
	char		*metrics_listen;	/* as given */
	enum config_metrics metrics_mode;	/* parsed from it */
	char		*metrics_host;
	int		 metrics_port;
};

/* Errors collected while loading, each "where: what". */
struct config_errors {
	char	**v;
	size_t	  n;
};

/* Looks up an environment variable (getenv, or a table in tests). */
typedef const char *(*config_getenv_fn)(const char *);

void	 config_defaults(struct config *);
void	 config_free(struct config *);
int	 config_load_text(struct config *, const char *, const char *, size_t,
	    struct config_errors *);
int	 config_load_file(struct config *, const char *,
	    struct config_errors *);
int	 config_apply_env(struct config *, config_getenv_fn,
	    struct config_errors *);
int	 config_finish(struct config *, struct config_errors *);
size_t	 config_names_key(const char *);
void	 config_errors_free(struct config_errors *);
void	 config_errors_add(struct config_errors *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 config_cors_allows(const struct config *, const char *);
void	 config_strip_comments(char *, size_t);

#endif
