/*
 * mock-dify: a Dify Service API look-alike on libevent's evhttp.
 *
 *   mock-dify [-a ADDR] [-p PORT] [--port-file FILE]
 *             [--tls-cert FILE --tls-key FILE
 *              [--tls-port PORT --tls-port-file FILE]]
 *             [--idle-timeout SECS] [--no-records] [-q]
 *
 * With a certificate, -p speaks TLS; with --tls-port as well, -p stays
 * plain and the TLS port serves the same look-alike (the same state), so
 * a test can send the proxy to Dify over TLS and still drive and read
 * the look-alike over plain HTTP.
 *
 * This file holds the process: command line, listeners (plain or TLS),
 * signals, and the orderly teardown that lets ASan/LSan see nothing left
 * at exit.  See mock.h for the other modules.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <openssl/err.h>

#include "mock.h"

struct mock_env	 env;

/* Print the usage line and exit. */
static void
mock_usage(void)
{
	fprintf(stderr, "usage: mock-dify [-q] [-a addr] [-p port] "
	    "[--port-file file]\n"
	    "                 [--tls-cert file --tls-key file\n"
	    "                  [--tls-port port --tls-port-file file]]\n"
	    "                 [--idle-timeout secs] [--no-records] [-q]\n");
	exit(2);
}

/*
 * evhttp asks for a bufferevent per accepted connection (before the fd is
 * attached); counting here gives /mock/stats its connections_accepted.
 */
static struct bufferevent *
mock_bevcb(struct event_base *base, void *arg)
{
	SSL	*ssl;
	int	 tls = arg != NULL;

	env.conns_accepted++;
	if (!tls)
		return (bufferevent_socket_new(base, -1,
		    BEV_OPT_CLOSE_ON_FREE));
	if ((ssl = SSL_new(env.ssl_ctx)) == NULL)
		return (NULL);
	/* The bufferevent owns ssl from here, even if it fails. */
	return (bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE));
}

/* SIGTERM or SIGINT: leave the loop; main frees everything. */
static void
mock_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (!env.quiet)
		fprintf(stderr, "mock-dify: signal %d, exiting\n", (int)sig);
	event_base_loopexit(env.base, NULL);
}

/* SSL ex_data slot marking a connection whose handshake was counted. */
static int	mock_tls_index = -1;

/*
 * Count each connection's handshake once, when it completes, as full or
 * resumed (GET /mock/stats): the benchmarks compare how often the proxy
 * and nginx pay for a new session.  The mark keeps a later
 * HANDSHAKE_DONE on the same connection (TLS 1.2 renegotiation) out.
 */
static void
mock_tls_info(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if ((where & SSL_CB_HANDSHAKE_DONE) == 0 ||
	    SSL_get_ex_data(ssl, mock_tls_index) != NULL)
		return;
	/* The callback is given a const SSL; the mark is ours to set. */
	SSL_set_ex_data((SSL *)(uintptr_t)ssl, mock_tls_index, &env);
	if (SSL_session_reused(ssl))
		env.tls_resumed++;
	else
		env.tls_full++;
}

/*
 * Load the certificate and key into a server SSL_CTX that lets clients
 * resume: a session id context for the session cache, tickets on (the
 * default), both as a Dify behind a usual TLS terminator allows.
 */
static SSL_CTX *
mock_tls(const char *cert, const char *key)
{
	static const unsigned char	sid_ctx[] = "mock-dify";
	SSL_CTX				*ctx;

	if (mock_tls_index == -1 && (mock_tls_index = SSL_get_ex_new_index(0,
	    NULL, NULL, NULL, NULL)) == -1)
		return (NULL);
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_session_id_context(ctx, sid_ctx,
	    sizeof(sid_ctx) - 1) != 1)
		goto fail;
	SSL_CTX_set_info_callback(ctx, mock_tls_info);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	return (ctx);
fail:
	ERR_print_errors_fp(stderr);
	SSL_CTX_free(ctx);
	return (NULL);
}

/* Write the port to file atomically: a temporary file, then rename. */
static int
mock_port_file(const char *path, int port)
{
	char	 tmp[4096];
	FILE	*f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof(tmp))
		return (-1);
	if ((f = fopen(tmp, "w")) == NULL)
		return (-1);
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		unlink(tmp);
		return (-1);
	}
	return (0);
}

/* The port a bound socket ended up on. */
static int
mock_bound_port(evutil_socket_t fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return (-1);
	if (ss.ss_family == AF_INET)
		return (ntohs(((struct sockaddr_in *)&ss)->sin_port));
	if (ss.ss_family == AF_INET6)
		return (ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	return (-1);
}

/* A non-blocking listening socket on addr:port with a deep backlog. */
static int
mock_listen(const char *addr, int port)
{
	struct addrinfo	 hints, *res = NULL;
	char		 ps[8];
	int		 fd, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(addr, ps, &hints, &res) != 0)
		return (-1);
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, 4096) != 0) {
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return (-1);
	}
	freeaddrinfo(res);
	return (fd);
}

/*
 * An evhttp serving the look-alike on addr:port, TLS or not; *bound_port
 * gets the port.  Returns NULL (with a message) on failure.
 */
static struct evhttp *
mock_http(const char *addr, long port, int tls, long idle, int *bound_port)
{
	struct evhttp	*http;
	int		 fd, one = 1;

	if ((http = evhttp_new(env.base)) == NULL)
		return (NULL);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(http, MOCK_MAX_BODY);
	if (idle > 0)
		evhttp_set_timeout(http, (int)idle);
	evhttp_set_default_content_type(http, "application/json");
	/* The argument only says TLS or not: any non-NULL pointer. */
	evhttp_set_bevcb(http, mock_bevcb, tls ? (void *)&env : NULL);
	evhttp_set_gencb(http, api_dispatch, NULL);
	/* Our own socket: evhttp's listen backlog of 128 drops bursts. */
	if ((fd = mock_listen(addr, (int)port)) == -1 ||
	    evhttp_accept_socket_with_handle(http, fd) == NULL) {
		fprintf(stderr, "mock-dify: cannot bind %s:%ld: %s\n", addr,
		    port, strerror(errno));
		if (fd != -1)
			close(fd);
		evhttp_free(http);
		return (NULL);
	}
	/* Linux copies TCP_NODELAY from the listener to accepted sockets. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*bound_port = mock_bound_port(fd);
	return (http);
}

/* Parse the options, serve until SIGTERM or SIGINT, free everything. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'F' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "tls-port", required_argument, NULL, 'T' },
		{ "tls-port-file", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "no-records", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	struct event			*ev_term = NULL, *ev_int = NULL;
	const char			*addr = "127.0.0.1";
	const char			*port_file = NULL, *cert = NULL;
	const char			*key = NULL, *tls_port_file = NULL;
	char				*end;
	long				 port = 0, idle = 0, tls_port = -1;
	int				 ch, rc = 1, bound, tls_bound;

	while ((ch = getopt_long(argc, argv, "a:p:q", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			errno = 0;
			port = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || port < 0 ||
			    port > 65535)
				mock_usage();
			break;
		case 'F':
			port_file = optarg;
			break;
		case 'C':
			cert = optarg;
			break;
		case 'T':
			errno = 0;
			tls_port = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || tls_port < 0 ||
			    tls_port > 65535)
				mock_usage();
			break;
		case 'P':
			tls_port_file = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		case 'q':
			env.quiet = 1;
			break;
		case 'R':
			/* Benchmarks: no per-request records to build. */
			env.no_records = 1;
			break;
		case 'I':
			/* Close idle keep-alive connections, as servers do. */
			errno = 0;
			idle = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || idle < 1 ||
			    idle > 3600)
				mock_usage();
			break;
		default:
			mock_usage();
		}
	}
	if (optind != argc || (cert == NULL) != (key == NULL) ||
	    (tls_port != -1 && cert == NULL) ||
	    (tls_port_file != NULL && tls_port == -1))
		mock_usage();

	signal(SIGPIPE, SIG_IGN);
	util_rand_init();
	if ((env.base = event_base_new()) == NULL) {
		fprintf(stderr, "mock-dify: event_base_new failed\n");
		return (1);
	}
	if (cert != NULL && (env.ssl_ctx = mock_tls(cert, key)) == NULL) {
		fprintf(stderr, "mock-dify: cannot load %s / %s\n", cert, key);
		goto done;
	}
	api_init();
	stream_init(env.base);
	/*
	 * Before any port is announced: a harness that stops the look-alike
	 * the moment it has its port must find SIGTERM handled, not fatal.
	 */
	ev_term = evsignal_new(env.base, SIGTERM, mock_signal, NULL);
	ev_int = evsignal_new(env.base, SIGINT, mock_signal, NULL);
	if (ev_term == NULL || ev_int == NULL ||
	    evsignal_add(ev_term, NULL) == -1 ||
	    evsignal_add(ev_int, NULL) == -1)
		goto done;
	if ((env.http = mock_http(addr, port, cert != NULL && tls_port == -1,
	    idle, &bound)) == NULL)
		goto done;
	port = bound;
	printf("mock-dify listening on %s:%ld\n", addr, port);
	fflush(stdout);
	if (tls_port != -1) {
		if ((env.https = mock_http(addr, tls_port, 1, idle,
		    &tls_bound)) == NULL)
			goto done;
		printf("mock-dify listening on %s:%d (TLS)\n", addr, tls_bound);
		fflush(stdout);
		if (tls_port_file != NULL &&
		    mock_port_file(tls_port_file, tls_bound) == -1) {
			fprintf(stderr, "mock-dify: cannot write %s: %s\n",
			    tls_port_file, strerror(errno));
			goto done;
		}
	}
	/* Last: its appearance says every listener is up. */
	if (port_file != NULL && mock_port_file(port_file, (int)port) == -1) {
		fprintf(stderr, "mock-dify: cannot write %s: %s\n", port_file,
		    strerror(errno));
		goto done;
	}

	if (event_base_dispatch(env.base) == -1)
		goto done;
	rc = 0;

done:
	/* evhttp_free fires every closecb, which finishes the live streams. */
	if (env.http != NULL)
		evhttp_free(env.http);
	if (env.https != NULL)
		evhttp_free(env.https);
	stream_shutdown();
	api_free();
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	SSL_CTX_free(env.ssl_ctx);
	event_base_free(env.base);
	libevent_global_shutdown();
	return (rc);
}
