/*
 * main: command line, configuration, signals and the event loop.
 *
 *   openai-dify-proxy [-t] [-c file]
 *   openai-dify-proxy -k [name]
 *   openai-dify-proxy -h | -V
 *
 * Settings come from the defaults, then the JSON file given with -c, then
 * the environment (a .env file in the working directory fills in what the
 * real environment does not set).  -t checks them and exits.
 */
#include <sys/resource.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "apps.h"
#include "buf.h"
#include "config.h"
#include "conversation_memory.h"
#include "dotenv.h"
#include "libevent_internals.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "mempool.h"
#include "proxy_keys.h"
#include "rate_limit.h"
#include "server.h"
#include "sock.h"
#include "util.h"

#define MAIN_DOTENV_MAX		(1024 * 1024)

/*
 * -k: print a new key (give it to its holder) and the api_keys entry
 * for the config (only its digest).  Returns the exit status.
 */
static int
main_new_key(const char *name)
{
	char	key[PROXY_KEY_NEW_SIZE], digest[65];

	if (proxy_keys_generate(key, sizeof(key), digest, sizeof(digest)) !=
	    0) {
		fprintf(stderr, "openai-dify-proxy: no randomness for a key\n");
		return (1);
	}
	printf("key:    %s\n", key);
	printf("sha256: %s\n", digest);
	printf("entry:  {\"name\": \"%s\", \"sha256\": \"%s\"}\n",
	    name != NULL ? name : "NAME", digest);
	return (0);
}

/* Print usage. */
static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: openai-dify-proxy [-t] [-c file]\n"
	    "       openai-dify-proxy -k [name]\n"
	    "       openai-dify-proxy -h | -V\n"
	    "\n"
	    "  -c file  read settings from a JSON file (comments allowed)\n"
	    "  -t       check the settings, print each error, and exit\n"
	    "  -k       print a new client key and the api_keys entry with\n"
	    "           its SHA-256 digest (the proxy keeps only the digest)\n"
	    "  -h       show this help\n"
	    "  -V       show the version\n"
	    "\n"
	    "Environment (overrides the file): DIFY_API_URL, HOST, PORT,\n"
	    "LOG_LEVEL, and ODP_<KEY> for every key (see config/).  A .env\n"
	    "file in the working directory is read too; the real environment\n"
	    "wins over it.\n");
}

/* dotenv_fn: set a variable unless the real environment has it. */
static void
main_dotenv_set(void *arg UNUSED, const char *key, const char *value)
{
	setenv(key, value, 0);
}

/* Read ./.env if there is one.  Returns -1 (after reporting) on errors. */
static int
main_load_dotenv(void)
{
	FILE	*f;
	char	*data, err[256];
	size_t	 len;
	int	 line;

	if ((f = fopen(".env", "r")) == NULL)
		return (errno == ENOENT ? 0 : -1);
	data = xmalloc(MAIN_DOTENV_MAX);
	len = fread(data, 1, MAIN_DOTENV_MAX, f);
	fclose(f);
	if (len == MAIN_DOTENV_MAX) {
		fprintf(stderr, ".env: larger than %d bytes\n",
		    MAIN_DOTENV_MAX);
		free(data);
		return (-1);
	}
	if (dotenv_parse(data, len, main_dotenv_set, NULL, &line, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, ".env:%d: %s\n", line, err);
		free(data);
		return (-1);
	}
	free(data);
	return (0);
}

/* config_getenv_fn over the process environment. */
static const char *
main_getenv(const char *name)
{
	return (getenv(name));
}

/* Route libevent's own warnings into our log. */
static void
main_event_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_error("libevent: %s", msg);
	else if (severity >= EVENT_LOG_WARN)
		log_warn("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* Say which apps are served by model name (never their keys). */
static void
main_log_apps(const struct config *cfg)
{
	struct buf	names = BUF_INIT;
	size_t		i;

	if (cfg->apps == NULL || cfg->apps->n == 0)
		return;
	for (i = 0; i < cfg->apps->n && names.len < 400; i++) {
		if (i > 0)
			buf_add_str(&names, ", ");
		buf_add_str(&names, cfg->apps->v[i].model);
	}
	if (i < cfg->apps->n)
		buf_add_str(&names, ", ...");
	log_info("%zu apps by model name: %s; %s", cfg->apps->n,
	    buf_cstr(&names), cfg->passthrough ? "other models use the "
	    "caller's key as a Dify key" : "other models get a 404");
	buf_free(&names);
}

/* True if any chat may continue a Dify conversation. */
static int
main_continuity_used(const struct config *cfg)
{
	size_t	i;

	if (cfg->continuity)
		return (1);
	for (i = 0; cfg->apps != NULL && i < cfg->apps->n; i++)
		if (cfg->apps->v[i].continuity == 1)
			return (1);
	return (0);
}

/*
 * Make what the workers share before any is forked: the conversation
 * table, unless Redis keeps conversations or continuity is off.  Says
 * where conversations live (never the Redis password).  Returns 0 or -1.
 */
static int
main_conversations(const struct config *cfg, struct server_shared *shared)
{
	struct conversation_memory_stats	st;

	memset(shared, 0, sizeof(*shared));
	if (!main_continuity_used(cfg)) {
		log_info("conversations: continuity is off; every request "
		    "sends its transcript");
		return (0);
	}
	if (cfg->redis_url != NULL) {
		log_info("conversations: in Redis at %s:%d db %d, kept %u s",
		    cfg->redis.host, cfg->redis.port, cfg->redis.db,
		    cfg->conversation_ttl_ms / 1000);
		return (0);
	}
	shared->conversations = conversation_memory_new(cfg->conversation_max);
	if (shared->conversations == NULL) {
		log_error("cannot make the conversation table for %u entries",
		    cfg->conversation_max);
		return (-1);
	}
	conversation_memory_stats(shared->conversations, &st);
	log_info("conversations: in memory, at most %zu (%zu KiB), kept %u s",
	    st.capacity, st.bytes / 1024, cfg->conversation_ttl_ms / 1000);
	return (0);
}

/*
 * Make the metrics mapping before any worker is forked, unless metrics
 * are off: slots for four times the workers (a reload's new set runs
 * beside the draining old one, and a restarted worker may find its
 * predecessor's slot not yet free), named after the apps known now.
 * Returns 0 or -1.
 */
static int
main_metrics(const struct config *cfg, struct server_shared *shared,
    unsigned workers)
{
	const char	**names;
	size_t		  i, n = cfg->apps != NULL ? cfg->apps->n : 0;
	unsigned	  nslots = workers * 4 < 16 ? 16 : workers * 4;

	if (cfg->metrics_mode == CONFIG_METRICS_OFF) {
		log_info("metrics: off");
		return (0);
	}
	names = xcalloc(n + 1, sizeof(*names));
	for (i = 0; i < n; i++)
		names[i] = cfg->apps->v[i].model;
	shared->metrics = metrics_new(nslots, names, n);
	free(names);
	if (shared->metrics == NULL) {
		log_error("cannot make the metrics mapping");
		return (-1);
	}
	if (cfg->metrics_mode == CONFIG_METRICS_MAIN)
		log_info("metrics: GET /metrics on the main port");
	return (0);
}

/* Load every source of settings; prints the errors and returns -1. */
static int
main_configure(struct config *cfg, const char *path)
{
	struct config_errors	errs = { NULL, 0 };
	size_t			i;
	int			bad = 0;

	if (main_load_dotenv() != 0)
		bad = 1;
	config_defaults(cfg);
	if (path != NULL)
		config_load_file(cfg, path, &errs);
	config_apply_env(cfg, main_getenv, &errs);
	config_finish(cfg, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.v[i]);
	if (errs.n > 0)
		bad = 1;
	config_errors_free(&errs);
	return (bad ? -1 : 0);
}

/* The -c file, for reloads (NULL: none). */
static const char	*main_config_path;

/*
 * master_reload_fn: the settings again from every source, as at start;
 * errors are printed as -t prints them.
 */
static int
main_reload(struct config *cfg, void *arg UNUSED)
{
	if (main_configure(cfg, main_config_path) != 0) {
		config_free(cfg);
		config_defaults(cfg);
		return (-1);
	}
	return (0);
}

/*
 * Raise the soft open-file limit to the hard one: every open stream holds
 * two descriptors, and the usual soft limit of 1024 would cap a worker at
 * about 500 streams.  The hard limit is the administrator's choice
 * (LimitNOFILE=, ulimit -Hn, docker --ulimit).
 */
static void
main_raise_fd_limit(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("cannot raise the open-file limit: %s",
			    strerror(errno));
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	if (rl.rlim_cur != RLIM_INFINITY)
		log_info("open-file limit %llu: up to about %llu streams "
		    "per process", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_cur / 2);
}

/*
 * Serve libevent's and jansson's blocks from the pool (see mempool.c).
 * Before any call into either library: blocks must not change allocator.
 */
static void
main_install_allocator(void)
{
	if (!mempool_for_libraries())
		return;
	event_set_mem_functions(mempool_alloc, mempool_realloc, mempool_free);
	json_set_alloc_funcs(mempool_alloc, mempool_free);
}

/* Start the proxy. */
int
main(int argc, char **argv)
{
	struct config		 cfg;
	struct server_shared	 shared;
	const char		*path = NULL;
	char			*cause = NULL, why[256];
	unsigned		 workers;
	long			 ncpu;
	size_t			 leaked;
	int			 ch, check = 0, fd, port = 0, rc, newkey = 0;
	int			 mfd = -1, mport = 0;

	main_install_allocator();
	while ((ch = getopt(argc, argv, "c:tkhV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'k':
			newkey = 1;
			break;
		case 'h':
			main_usage(stdout);
			return (0);
		case 'V':
			printf("openai-dify-proxy %s\n", ODP_VERSION);
			return (0);
		default:
			main_usage(stderr);
			return (2);
		}
	}
	if (newkey && optind + 1 >= argc)
		return (main_new_key(optind < argc ? argv[optind] : NULL));
	if (optind != argc) {
		main_usage(stderr);
		return (2);
	}
	if (libevent_internals_check(why, sizeof(why)) != 0) {
		fprintf(stderr, "openai-dify-proxy: %s\n", why);
		return (1);
	}

	if (main_configure(&cfg, path) != 0) {
		config_free(&cfg);
		return (1);
	}
	if (check) {
		printf("configuration OK\n");
		config_free(&cfg);
		return (0);
	}
	log_set_level(cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	main_raise_fd_limit();
	/*
	 * Keep freed memory for the next requests: by default glibc hands the
	 * top of the heap back whenever 128 KiB are free there, and requests
	 * then page-fault it back in (about 6 faults per streamed request in
	 * the profile).  Buffers up to 4 MiB stay on the heap.
	 */
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	event_set_log_callback(main_event_log);
	main_log_apps(&cfg);
	if (main_conversations(&cfg, &shared) != 0) {
		config_free(&cfg);
		return (1);
	}
	/* Room for the keys and apps of this config and of reloads. */
	shared.limits = rate_limit_new(1024 + 2 * (cfg.api_keys.n +
	    (cfg.apps != NULL ? cfg.apps->n : 0)));
	if (shared.limits == NULL)
		log_warn("rate limits: cannot make the shared table; limits "
		    "are counted only in Redis, if set");

	workers = cfg.workers;
	if (workers == 0 && (ncpu = sysconf(_SC_NPROCESSORS_ONLN)) > 0)
		workers = (unsigned)ncpu;
	if (main_metrics(&cfg, &shared, workers) != 0) {
		config_free(&cfg);
		return (1);
	}
	if (workers <= 1) {
		if (cfg.metrics_mode == CONFIG_METRICS_LISTEN) {
			mfd = sock_listen(cfg.metrics_host, cfg.metrics_port, 0,
			    &mport, &cause);
			if (mfd == -1) {
				log_error("metrics_listen: %s", cause != NULL ?
				    cause : "cannot listen");
				free(cause);
				config_free(&cfg);
				return (1);
			}
			log_info("metrics: GET /metrics on %s:%d",
			    cfg.metrics_host, mport);
		}
		fd = sock_listen(cfg.host, cfg.port, 0, &port, &cause);
		if (fd == -1) {
			log_error("%s", cause != NULL ? cause : "cannot listen");
			free(cause);
			config_free(&cfg);
			return (1);
		}
		server_signals_block(1);	/* server_run lets them in */
		log_info("openai-dify-proxy %s listening on %s:%d, Dify at %s",
		    ODP_VERSION, cfg.host, port, cfg.dify_api_url);
		rc = server_run(&cfg, &shared, &fd, 1, mfd, -1, -1);
	} else {
		main_config_path = path;
		rc = master_run(&cfg, &shared, (int)workers, main_reload,
		    NULL);
	}
	conversation_memory_free(shared.conversations);
	rate_limit_free(shared.limits);
	metrics_free(shared.metrics);
	config_free(&cfg);
	buf_pool_drain();
	if ((leaked = mempool_drain()) != 0)
		log_error("%zu blocks of libevent or jansson still in use at "
		    "exit (a leak)", leaked);
	return (rc);
}
