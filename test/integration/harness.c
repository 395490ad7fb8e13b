/*
 * harness: processes and raw HTTP for the integration tests.
 *
 * The proxy and the Dify look-alike run as real processes on ephemeral
 * ports, logging to files.  The HTTP client here is deliberately raw (a
 * socket, a request written by hand, the response parsed by hand) so tests
 * see the exact bytes and can misbehave: hang up, read slowly, send
 * garbage.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

const char	*harness_build = "build";

/*
 * ODP_TEST_UPSTREAM_TLS=1: every look-alike also listens with TLS (a
 * certificate for localhost the harness makes) and every proxy is sent
 * to Dify over it, unless its test names a dify_api_url of its own; the
 * tests still drive and read the look-alike over its plain port.
 */
int		 harness_upstream_tls;
static char	 harness_tls_cert[64], harness_tls_key[64];
static struct {
	int	plain, tls;
}		 harness_tls_ports[64];
static size_t	 harness_ntls;

static void	 harness_tls_init(void);

/* Milliseconds on the monotonic clock. */
double
harness_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6);
}

/* Sleep for ms milliseconds. */
void
harness_sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Read the whole of a small file; NULL if missing. */
static char *
harness_slurp(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap + 1);
		}
		if ((n = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return (buf);
}

/* Pick up settings from the environment. */
void
harness_init(void)
{
	const char	*b = getenv("ODP_BUILD");
	const char	*t = getenv("ODP_TEST_UPSTREAM_TLS");

	if (b != NULL && *b != '\0')
		harness_build = b;
	signal(SIGPIPE, SIG_IGN);
	if (t != NULL && strcmp(t, "1") == 0)
		harness_tls_init();
}

static pid_t	 harness_tls_owner;	/* made them; Check forks tests */

/* Remove the TLS mode's certificate and key, in the process that made them. */
static void
harness_tls_cleanup(void)
{
	if (getpid() != harness_tls_owner)
		return;
	unlink(harness_tls_cert);
	unlink(harness_tls_key);
}

/* Make the TLS mode's certificate for localhost (see above). */
static void
harness_tls_init(void)
{
	char	cmd[512];

	snprintf(harness_tls_cert, sizeof(harness_tls_cert),
	    "/tmp/odp-harness-%d.crt", (int)getpid());
	snprintf(harness_tls_key, sizeof(harness_tls_key),
	    "/tmp/odp-harness-%d.key", (int)getpid());
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -keyout %s -out %s -days 2 "
	    "-subj /CN=localhost -addext subjectAltName=DNS:localhost "
	    ">/dev/null 2>&1", harness_tls_key, harness_tls_cert);
	if (system(cmd) != 0) {
		fprintf(stderr, "harness: cannot make a certificate\n");
		abort();
	}
	harness_tls_owner = getpid();
	atexit(harness_tls_cleanup);
	harness_upstream_tls = 1;
	fprintf(stderr, "harness: every proxy reaches the look-alike over "
	    "TLS\n");
}

/* The TLS port of the look-alike on plain port, or 0. */
static int
harness_tls_port(int plain)
{
	size_t	i;

	for (i = 0; i < harness_ntls; i++)
		if (harness_tls_ports[i].plain == plain)
			return (harness_tls_ports[i].tls);
	return (0);
}

/*
 * The port the proxies reach the look-alike on plain port at (its TLS
 * port in the TLS mode), and the host name they use, as "host:port".
 */
int
harness_dify_port(int plain)
{
	int	tls = harness_tls_port(plain);

	return (tls != 0 ? tls : plain);
}

/* The Host header a proxy sends the look-alike on plain port. */
void
harness_dify_host(int plain, char *buf, size_t size)
{
	int	tls = harness_tls_port(plain);

	if (tls != 0)
		snprintf(buf, size, "localhost:%d", tls);
	else
		snprintf(buf, size, "127.0.0.1:%d", plain);
}

/*
 * Fork and exec argv with stdout and stderr going to logpath.  nofile,
 * unless 0, is the child's open-file limit (soft and hard).
 */
static pid_t
harness_spawn(char *const argv[], const char *logpath, int nofile)
{
	struct rlimit	rl;
	pid_t	pid;
	int	fd;

	/*
	 * Truncate the log before the fork, not in the child: the caller
	 * reads it at once for the port, and a log an earlier run left
	 * under the same name (the pid and counter come round again) would
	 * hand it a stale port until the child got to it.
	 */
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if ((pid = fork()) == -1) {
		if (fd != -1)
			close(fd);
		return (-1);
	}
	if (pid == 0) {
		/*
		 * A test killed by Check's timeout never reaches its
		 * teardown; take the server down with it.
		 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		if (fd != -1) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		setpgid(0, 0);
		if (nofile > 0) {
			rl.rlim_cur = rl.rlim_max = (rlim_t)nofile;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				_exit(126);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (fd != -1)
		close(fd);
	return (pid);
}

/*
 * Start the Dify look-alike on an ephemeral port.  extra is a
 * space-separated list of further arguments, or NULL.
 */
void
harness_mock_start(struct proc *p, const char *extra)
{
	char		 bin[256], portfile[256], *argv[32], *copy = NULL, *tok;
	char		*save, *text, tlsfile[272];
	char		 opt_p[] = "-p", opt_zero[] = "0";
	char		 opt_portfile[] = "--port-file", opt_q[] = "-q";
	char		 opt_cert[] = "--tls-cert", opt_key[] = "--tls-key";
	char		 opt_tp[] = "--tls-port", opt_tf[] = "--tls-port-file";
	int		 argc = 0, i, tls;
	static int	 seq;

	memset(p, 0, sizeof(*p));
	snprintf(bin, sizeof(bin), "%s/mock-dify", harness_build);
	snprintf(portfile, sizeof(portfile), "/tmp/odp-mock-%d-%d.port",
	    (int)getpid(), ++seq);
	snprintf(p->log, sizeof(p->log), "/tmp/odp-mock-%d-%d.log",
	    (int)getpid(), seq);
	unlink(portfile);
	argv[argc++] = bin;
	argv[argc++] = opt_p;
	argv[argc++] = opt_zero;
	argv[argc++] = opt_portfile;
	argv[argc++] = portfile;
	argv[argc++] = opt_q;
	/* The TLS mode's second listener, unless the test brings its own. */
	tls = harness_upstream_tls && (extra == NULL ||
	    strstr(extra, "--tls-cert") == NULL);
	snprintf(tlsfile, sizeof(tlsfile), "%s.tls", portfile);
	unlink(tlsfile);
	if (tls) {
		argv[argc++] = opt_cert;
		argv[argc++] = harness_tls_cert;
		argv[argc++] = opt_key;
		argv[argc++] = harness_tls_key;
		argv[argc++] = opt_tp;
		argv[argc++] = opt_zero;
		argv[argc++] = opt_tf;
		argv[argc++] = tlsfile;
	}
	if (extra != NULL) {
		copy = strdup(extra);
		for (tok = strtok_r(copy, " ", &save); tok != NULL &&
		    argc < (int)nitems(argv) - 1; tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
	}
	argv[argc] = NULL;
	p->pid = harness_spawn(argv, p->log, 0);
	for (i = 0; i < 1000; i++) {
		if ((text = harness_slurp(portfile, NULL)) != NULL) {
			p->port = atoi(text);
			free(text);
			if (p->port > 0)
				break;
		}
		harness_sleep_ms(10);
	}
	free(copy);
	unlink(portfile);
	if (p->port <= 0) {
		fprintf(stderr, "harness: mock did not start (log %s)\n",
		    p->log);
		abort();
	}
	/* Its port file is written after the TLS one: both are there. */
	if (tls) {
		if ((text = harness_slurp(tlsfile, NULL)) == NULL ||
		    harness_ntls == nitems(harness_tls_ports)) {
			fprintf(stderr, "harness: no TLS port (log %s)\n",
			    p->log);
			abort();
		}
		harness_tls_ports[harness_ntls].plain = p->port;
		harness_tls_ports[harness_ntls++].tls = atoi(text);
		free(text);
		unlink(tlsfile);
	}
}

/*
 * Start the proxy in front of the look-alike on mock_port with a config
 * file holding extra (more JSON members, or NULL), on an ephemeral port.
 */
void
harness_proxy_start(struct proc *p, int mock_port, const char *extra)
{
	harness_proxy_start_limited(p, mock_port, extra, 0);
}

/* A free TCP port on 127.0.0.1 (free when asked: bind it soon). */
static int
harness_free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return (port);
}

/*
 * Start a redis-server (Debian's, on PATH) on 127.0.0.1:port, or on a
 * free port when port is 0, without persistence; wait until it accepts.
 */
void
harness_redis_start(struct proc *p, int port)
{
	char		 bin[] = "/usr/bin/redis-server", portstr[16];
	char		 o_port[] = "--port", o_bind[] = "--bind";
	char		 lo[] = "127.0.0.1", o_save[] = "--save", none[] = "";
	char		 o_aof[] = "--appendonly", no[] = "no";
	char		*argv[12];
	int		 i, fd;
	static int	 seq;

	memset(p, 0, sizeof(*p));
	p->port = port > 0 ? port : harness_free_port();
	snprintf(portstr, sizeof(portstr), "%d", p->port);
	snprintf(p->log, sizeof(p->log), "/tmp/odp-redis-%d-%d.log",
	    (int)getpid(), ++seq);
	argv[0] = bin;
	argv[1] = o_port;
	argv[2] = portstr;
	argv[3] = o_bind;
	argv[4] = lo;
	argv[5] = o_save;
	argv[6] = none;
	argv[7] = o_aof;
	argv[8] = no;
	argv[9] = NULL;
	p->pid = harness_spawn(argv, p->log, 0);
	for (i = 0; i < 500; i++) {
		if (harness_log_contains(p, "Ready to accept connections") &&
		    (fd = http_connect(p->port)) != -1) {
			close(fd);
			return;
		}
		harness_sleep_ms(10);
	}
	fprintf(stderr, "harness: redis-server did not start (log %s)\n",
	    p->log);
	abort();
}

/* The same, with an open-file limit of nofile (0: inherited). */
void
harness_proxy_start_limited(struct proc *p, int mock_port, const char *extra,
    int nofile)
{
	char		 bin[256], *argv[4], *text, *at, opt_c[] = "-c";
	FILE		*f;
	int		 i, tls_port;
	static int	 seq;

	memset(p, 0, sizeof(*p));
	snprintf(bin, sizeof(bin), "%s/openai-dify-proxy", harness_build);
	snprintf(p->config, sizeof(p->config), "/tmp/odp-proxy-%d-%d.json",
	    (int)getpid(), ++seq);
	snprintf(p->log, sizeof(p->log), "/tmp/odp-proxy-%d-%d.log",
	    (int)getpid(), seq);
	if ((f = fopen(p->config, "w")) == NULL)
		abort();
	fprintf(f, "{\n  // written by the integration harness\n"
	    "  \"host\": \"127.0.0.1\",\n");
	if ((extra == NULL || strstr(extra, "dify_api_url") == NULL) &&
	    (tls_port = harness_tls_port(mock_port)) != 0)
		fprintf(f, "  \"dify_api_url\": \"https://localhost:%d/v1\",\n"
		    "  \"tls_ca_file\": \"%s\",\n", tls_port, harness_tls_cert);
	else if (extra == NULL || strstr(extra, "dify_api_url") == NULL)
		fprintf(f, "  \"dify_api_url\": \"http://127.0.0.1:%d/v1\",\n",
		    mock_port);
	if (extra != NULL && *extra != '\0')
		fprintf(f, "  %s,\n", extra);
	/* One process unless the test is about workers. */
	if (extra == NULL || strstr(extra, "workers") == NULL)
		fprintf(f, "  \"workers\": 1,\n");
	/* Each proxy its own metrics port, learnt from its log. */
	if (extra == NULL || strstr(extra, "metrics_listen") == NULL)
		fprintf(f, "  \"metrics_listen\": \"127.0.0.1:0\",\n");
	if (extra == NULL || strstr(extra, "log_level") == NULL)
		fprintf(f, "  \"log_level\": \"info\",\n");
	fprintf(f, "  \"port\": 0\n}\n");
	fclose(f);

	argv[0] = bin;
	argv[1] = opt_c;
	argv[2] = p->config;
	argv[3] = NULL;
	p->pid = harness_spawn(argv, p->log, nofile);
	for (i = 0; i < 1000; i++) {
		if ((text = harness_slurp(p->log, NULL)) != NULL) {
			at = strstr(text, "listening on 127.0.0.1:");
			if (at != NULL)
				p->port = atoi(at + 23);
			at = strstr(text, "metrics: GET /metrics on 127.0.0.1:");
			if (at != NULL)
				p->metrics_port = atoi(at + 35);
			free(text);
			if (p->port > 0)
				break;
		}
		harness_sleep_ms(10);
	}
	if (p->port <= 0) {
		fprintf(stderr, "harness: proxy did not start (log %s)\n",
		    p->log);
		abort();
	}
}

/* True if the process log holds needle. */
int
harness_log_contains(const struct proc *p, const char *needle)
{
	char	*text;
	int	 found;

	if ((text = harness_slurp(p->log, NULL)) == NULL)
		return (0);
	found = strstr(text, needle) != NULL;
	free(text);
	return (found);
}

/*
 * Whether p's log holds needle within ms: a line written when a request
 * ends (the access line) may follow the response's last byte.
 */
int
harness_log_wait(const struct proc *p, const char *needle, int ms)
{
	double	end = harness_now_ms() + ms;

	while (!harness_log_contains(p, needle)) {
		if (harness_now_ms() >= end)
			return (0);
		harness_sleep_ms(10);
	}
	return (1);
}

/*
 * The number after " field=" on the first log line holding marker, or -1
 * when there is no such line or field.
 */
long
harness_log_number(const struct proc *p, const char *marker,
    const char *field)
{
	char	*text, *line, *end, *at, key[64];
	long	 v = -1;

	if ((text = harness_slurp(p->log, NULL)) == NULL)
		return (-1);
	snprintf(key, sizeof(key), " %s=", field);
	if ((line = strstr(text, marker)) != NULL) {
		if ((end = strchr(line, '\n')) != NULL)
			*end = '\0';
		if ((at = strstr(line, key)) != NULL)
			v = strtol(at + strlen(key), NULL, 10);
	}
	free(text);
	return (v);
}

/*
 * Stop a process with SIGTERM.  Returns 0 if it exited 0 within 10 s with
 * no sanitizer report in its log, else -1 (after printing the log tail).
 */
int
harness_proc_stop(struct proc *p)
{
	int	status = 0, i, rc = -1;
	pid_t	r = 0;

	if (p->pid <= 0)
		return (0);
	kill(p->pid, SIGTERM);
	for (i = 0; i < 1000; i++) {
		if ((r = waitpid(p->pid, &status, WNOHANG)) == p->pid)
			break;
		harness_sleep_ms(10);
	}
	if (r != p->pid) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &status, 0);
		fprintf(stderr, "harness: %s did not exit on SIGTERM\n",
		    p->log);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else
		fprintf(stderr, "harness: %s exited with status %d\n", p->log,
		    status);
	p->pid = 0;
	if (harness_log_contains(p, "ERROR: AddressSanitizer") ||
	    harness_log_contains(p, "ERROR: LeakSanitizer") ||
	    harness_log_contains(p, "still in use at exit") ||
	    harness_log_contains(p, "runtime error:")) {
		fprintf(stderr, "harness: sanitizer report in %s\n", p->log);
		rc = -1;
	}
	if (rc != 0) {
		char	*text = harness_slurp(p->log, NULL);
		size_t	 len;

		if (text != NULL) {
			len = strlen(text);
			fprintf(stderr, "---- %s (tail) ----\n%s\n", p->log,
			    text + (len > 6000 ? len - 6000 : 0));
			free(text);
		}
	}
	return (rc);
}

/* Kill a process outright (for tests that expect it to stay up). */
void
harness_proc_kill(struct proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
}

/* Resident set size of a process in KiB, or -1. */
long
harness_rss_kb(pid_t pid)
{
	char	 path[64], *text, *at;
	long	 kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((text = harness_slurp(path, NULL)) == NULL)
		return (-1);
	if ((at = strstr(text, "VmRSS:")) != NULL)
		kb = strtol(at + 6, NULL, 10);
	free(text);
	return (kb);
}

/* Order socket inodes for bsearch. */
static int
harness_inode_cmp(const void *a, const void *b)
{
	unsigned long	x = *(const unsigned long *)a;
	unsigned long	y = *(const unsigned long *)b;

	return (x < y ? -1 : x > y);
}

/*
 * Count a process's open descriptors (/proc/PID/fd) and, of them, its TCP
 * connections to port.  Returns -1 if the process is gone.
 */
int
harness_fd_count(pid_t pid, int port, int *peer)
{
	static const char *const tables[] = { "tcp", "tcp6" };
	char		 path[320], link[128], line[512];
	unsigned long	*inodes = NULL, inode;
	size_t		 n = 0, cap = 0, i;
	unsigned int	 rport;
	DIR		*d;
	FILE		*f;
	struct dirent	*e;
	ssize_t		 len;
	int		 all = 0;

	*peer = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return (-1);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		all++;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid,
		    e->d_name);
		if ((len = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &inode) != 1)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			inodes = realloc(inodes, cap * sizeof(*inodes));
		}
		inodes[n++] = inode;
	}
	closedir(d);
	if (n > 0)
		qsort(inodes, n, sizeof(*inodes), harness_inode_cmp);
	for (i = 0; i < nitems(tables) && n > 0; i++) {
		snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid,
		    tables[i]);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, " %*s %*s %*[0-9A-Fa-f]:%x %*x %*s "
			    "%*s %*s %*d %*d %lu", &rport, &inode) == 2 &&
			    (int)rport == port && bsearch(&inode, inodes, n,
			    sizeof(*inodes), harness_inode_cmp) != NULL)
				(*peer)++;
		fclose(f);
	}
	free(inodes);
	return (all);
}

/* GET /healthz until it answers 200, for up to timeout_ms. */
int
harness_healthy_within(int port, int timeout_ms)
{
	struct http_response	r;
	double			end = harness_now_ms() + timeout_ms;
	int			ok = 0;

	while (!ok && harness_now_ms() < end) {
		if (http_request(port, "GET", "/healthz", NULL, NULL, &r,
		    1000) == 0 && r.status == 200)
			ok = 1;
		http_response_free(&r);
		if (!ok)
			harness_sleep_ms(100);
	}
	return (ok);
}

/* Connect to 127.0.0.1:port; returns the socket or -1. */
int
http_connect(int port)
{
	struct sockaddr_in	sin;
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Write all of buf; returns 0 or -1. */
int
http_send_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Decode a chunked body in place; returns 1 if the last chunk was seen. */
static int
http_dechunk(char *body, size_t len, size_t *outlen)
{
	size_t	 in = 0, out = 0, size;
	char	*end;

	for (;;) {
		if (in >= len)
			break;
		size = strtoul(body + in, &end, 16);
		if (end == body + in)
			break;
		while ((size_t)(end - body) < len && *end != '\n')
			end++;
		if ((size_t)(end - body) >= len)
			break;
		in = (size_t)(end - body) + 1;
		if (size == 0) {
			*outlen = out;
			return (1);
		}
		if (in + size + 2 > len) {
			memmove(body + out, body + in, len - in);
			out += len - in;
			break;
		}
		memmove(body + out, body + in, size);
		out += size;
		in += size + 2;
	}
	*outlen = out;
	return (0);
}

/*
 * Parse a whole response (as read until the server closed) from buf, which
 * is taken over.  Returns 0 if it starts with a status line, else -1.
 */
int
http_parse_response(char *buf, size_t len, struct http_response *r)
{
	char	*hdr_end, *cl;
	size_t	 hlen;

	if (buf == NULL)
		return (-1);
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || len < 12 ||
	    (hdr_end = strstr(buf, "\r\n\r\n")) == NULL) {
		free(buf);
		return (-1);
	}
	r->status = atoi(buf + 9);
	hlen = (size_t)(hdr_end - buf) + 2;
	r->headers = strndup(buf, hlen);
	r->bodylen = len - hlen - 2;
	r->body = malloc(r->bodylen + 1);
	memcpy(r->body, hdr_end + 4, r->bodylen);
	r->body[r->bodylen] = '\0';
	free(buf);
	cl = http_header(r, "Transfer-Encoding");
	if (cl != NULL && strcasecmp(cl, "chunked") == 0) {
		r->chunked = 1;
		r->complete = http_dechunk(r->body, r->bodylen, &r->bodylen);
		r->body[r->bodylen] = '\0';
	} else if ((free(cl), cl = http_header(r, "Content-Length")) != NULL) {
		r->complete = (size_t)atol(cl) == r->bodylen;
	} else
		r->complete = 1;	/* close-delimited */
	free(cl);
	return (0);
}

/*
 * Read from fd until the server closes or timeout_ms passes.  Returns the
 * bytes (with room for a NUL; the caller frees them), NULL if none came.
 */
static char *
http_read_raw(int fd, size_t *lenp, int timeout_ms)
{
	char		*buf = NULL;
	size_t		 len = 0, cap = 0;
	double		 start = harness_now_ms(), left;
	struct pollfd	 pfd;
	ssize_t		 n;

	for (;;) {
		left = timeout_ms - (harness_now_ms() - start);
		if (left <= 0)
			break;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 131072;
			buf = realloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	*lenp = len;
	return (buf);
}

/*
 * Read one response until the server closes (requests are sent with
 * Connection: close) or timeout_ms passes.  Returns 0 if a status line
 * arrived, -1 otherwise.
 */
int
http_read_response(int fd, struct http_response *r, int timeout_ms)
{
	double	 start = harness_now_ms();
	char	*buf;
	size_t	 len;

	memset(r, 0, sizeof(*r));
	buf = http_read_raw(fd, &len, timeout_ms);
	r->elapsed_ms = harness_now_ms() - start;
	return (http_parse_response(buf, len, r));
}

/*
 * Length of the response at the start of buf (status line, headers and a
 * body framed by Content-Length or chunks), or 0 if it is not all there.
 */
static size_t
http_response_length(const char *buf, size_t len)
{
	const char	*hdr_end, *p, *nl, *end = buf + len;
	const char	*te, *cl;
	char		*next;
	size_t		 size, hlen;

	if ((hdr_end = memmem(buf, len, "\r\n\r\n", 4)) == NULL)
		return (0);
	hlen = (size_t)(hdr_end - buf) + 2;
	p = hdr_end + 4;
	te = memmem(buf, hlen, "\r\nTransfer-Encoding: chunked\r\n", 30);
	cl = memmem(buf, hlen, "\r\nContent-Length: ", 18);
	if (te == NULL) {
		size = cl != NULL ? strtoul(cl + 18, NULL, 10) : 0;
		return ((size_t)(end - p) >= size ? (size_t)(p - buf) + size :
		    0);
	}
	for (;;) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return (0);
		size = strtoul(p, &next, 16);
		if (next == p)
			return (0);
		p = nl + 1;
		if ((size_t)(end - p) < size + 2)
			return (0);
		p += size + 2;
		if (size == 0)
			return ((size_t)(p - buf));
	}
}

/*
 * Read the responses to pipelined requests until the server closes (the
 * last request says Connection: close) or timeout_ms passes, and parse up
 * to n of them into r.  Returns how many whole responses arrived.
 */
int
http_read_responses(int fd, struct http_response *r, int n, int timeout_ms)
{
	char	*buf, *one;
	size_t	 len, off = 0, rlen;
	int	 got = 0;

	memset(r, 0, sizeof(*r) * (size_t)n);
	if ((buf = http_read_raw(fd, &len, timeout_ms)) == NULL)
		return (0);
	while (got < n && off < len &&
	    (rlen = http_response_length(buf + off, len - off)) > 0) {
		one = malloc(rlen + 1);
		memcpy(one, buf + off, rlen);
		if (http_parse_response(one, rlen, &r[got]) != 0)
			break;
		off += rlen;
		got++;
	}
	free(buf);
	return (got);
}

/*
 * Send one request (with Connection: close) and read the response.
 * headers holds extra "Name: value\r\n" lines or NULL.
 */
int
http_request(int port, const char *method, const char *path,
    const char *headers, const char *body, struct http_response *r,
    int timeout_ms)
{
	char	*req;
	size_t	 blen = body != NULL ? strlen(body) : 0;
	int	 fd, rc, n;

	memset(r, 0, sizeof(*r));
	if ((fd = http_connect(port)) == -1)
		return (-1);
	n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Connection: close\r\n%s%s%zu\r\n\r\n", method, path, port,
	    headers != NULL ? headers : "",
	    body != NULL ? "Content-Type: application/json\r\n"
	    "Content-Length: " : "Content-Length: ", blen);
	if (n < 0) {
		close(fd);
		return (-1);
	}
	rc = http_send_all(fd, req, (size_t)n);
	if (rc == 0 && blen > 0)
		rc = http_send_all(fd, body, blen);
	free(req);
	if (rc == 0)
		rc = http_read_response(fd, r, timeout_ms);
	close(fd);
	return (rc);
}

/* POST a chat completion with an app key (NULL: none). */
int
http_chat(int port, const char *key, const char *body,
    struct http_response *r)
{
	char	headers[512] = "";

	if (key != NULL)
		snprintf(headers, sizeof(headers),
		    "Authorization: Bearer %s\r\n", key);
	return (http_request(port, "POST", "/v1/chat/completions", headers,
	    body, r, 20000));
}

/* Value of a response header (first match), malloc'd; NULL if absent. */
char *
http_header(const struct http_response *r, const char *name)
{
	const char	*p, *eol, *v;
	size_t		 nlen = strlen(name);

	if (r->headers == NULL)
		return (NULL);
	for (p = strstr(r->headers, "\r\n"); p != NULL; p = strstr(p, "\r\n")) {
		p += 2;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			v = p + nlen + 1;
			while (*v == ' ')
				v++;
			eol = strstr(v, "\r\n");
			return (strndup(v, eol != NULL ? (size_t)(eol - v) :
			    strlen(v)));
		}
	}
	return (NULL);
}

/* Free a response. */
void
http_response_free(struct http_response *r)
{
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Split an SSE body into its data payloads, checking the framing. */
void
sse_split(const char *body, size_t len, struct sse_frames *f)
{
	const char	*p = body, *end = body + len, *sep;

	memset(f, 0, sizeof(*f));
	f->well_formed = 1;
	while (p < end) {
		sep = strstr(p, "\n\n");
		if (sep == NULL || sep > end) {
			f->well_formed = 0;	/* trailing partial frame */
			break;
		}
		if (strncmp(p, "data: ", 6) != 0 ||
		    memchr(p, '\n', (size_t)(sep - p)) != NULL ||
		    memchr(p, '\r', (size_t)(sep - p)) != NULL)
			f->well_formed = 0;
		f->data = realloc(f->data, (f->n + 1) * sizeof(char *));
		f->data[f->n++] = strncmp(p, "data: ", 6) == 0 ?
		    strndup(p + 6, (size_t)(sep - p - 6)) :
		    strndup(p, (size_t)(sep - p));
		p = sep + 2;
	}
}

/* Free split frames. */
void
sse_frames_free(struct sse_frames *f)
{
	size_t	i;

	for (i = 0; i < f->n; i++)
		free(f->data[i]);
	free(f->data);
	memset(f, 0, sizeof(*f));
}

/* Concatenated delta.content of all chunk frames (malloc'd). */
char *
sse_content(const struct sse_frames *f)
{
	json_t		*j, *c;
	char		*out;
	size_t		 len = 0, cap = 256, i, n;
	const char	*s;

	out = malloc(cap);
	out[0] = '\0';
	for (i = 0; i < f->n; i++) {
		if ((j = json_loads(f->data[i], 0, NULL)) == NULL)
			continue;
		c = json_object_get(json_object_get(json_array_get(
		    json_object_get(j, "choices"), 0), "delta"), "content");
		if (json_is_string(c)) {
			s = json_string_value(c);
			n = json_string_length(c);
			if (len + n + 1 > cap) {
				while (len + n + 1 > cap)
					cap *= 2;
				out = realloc(out, cap);
			}
			memcpy(out + len, s, n);
			len += n;
			out[len] = '\0';
		}
		json_decref(j);
	}
	return (out);
}

/* GET a look-alike introspection path and parse the JSON. */
json_t *
mock_get(int port, const char *path)
{
	struct http_response	r;
	json_t			*j = NULL;

	if (http_request(port, "GET", path, NULL, NULL, &r, 5000) == 0)
		j = json_loads(r.body, 0, NULL);
	http_response_free(&r);
	return (j);
}

/* Clear the look-alike's records. */
void
mock_reset(int port)
{
	struct http_response	r;

	http_request(port, "POST", "/mock/reset", NULL, "{}", &r, 5000);
	http_response_free(&r);
}

/* The look-alike's answer for mock:events=n: "w0 w1 ... w<n-1> ". */
void
mock_words(int n, char *out, size_t size)
{
	size_t	len = 0;
	int	i;

	out[0] = '\0';
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "w%d ", i);
}

/* A chat request body with one user message (malloc'd). */
char *
chat_body(const char *content, const char *extra, int stream,
    int include_usage)
{
	json_t	*j, *msgs, *m;
	char	*s, *t;

	j = json_object();
	msgs = json_array();
	m = json_object();
	json_object_set_new(m, "role", json_string("user"));
	json_object_set_new(m, "content", json_string(content));
	json_array_append_new(msgs, m);
	json_object_set_new(j, "model", json_string("gpt-4o"));
	json_object_set_new(j, "messages", msgs);
	if (stream)
		json_object_set_new(j, "stream", json_true());
	if (include_usage)
		json_object_set_new(j, "stream_options",
		    json_pack("{s:b}", "include_usage", 1));
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (extra != NULL) {
		/* Splice extra members in before the closing brace. */
		if (asprintf(&t, "%.*s,%s}", (int)strlen(s) - 1, s, extra) < 0)
			abort();
		free(s);
		s = t;
	}
	return (s);
}
