/*
 * sock: the listening socket.
 *
 * With several workers the master opens one socket per worker, each
 * bound to the same address with SO_REUSEPORT, and the kernel spreads
 * connections over them (master.c).
 *
 * sock_refuse answers a connection the proxy cannot take with a 503.
 */
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api_error.h"
#include "buf.h"
#include "http_reply.h"
#include "sock.h"
#include "util.h"

/*
 * Bind and listen on host:port.  Returns the
 * non-blocking socket and sets *bound to the port it got, or returns -1
 * with a message in *cause.
 */
int
sock_listen(const char *host, int port, int flags, int *bound, char **cause)
{
	struct addrinfo		 hints, *res = NULL;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 portstr[8];
	int			 fd = -1, one = 1, rc, saved;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		if (asprintf(cause, "cannot resolve listen host %s: %s", host,
		    gai_strerror(rc)) < 0)
			*cause = NULL;
		return (-1);
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((flags & SOCK_REUSEPORT) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		goto fail;
	/* Accepted sockets inherit this: tokens never wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0)
		goto fail;
	if (listen(fd, 4096) != 0)
		goto fail;
	if (bound != NULL && getsockname(fd, (struct sockaddr *)&ss,
	    &sslen) == 0)
		*bound = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(res);
	return (fd);
fail:
	saved = errno;
	if (asprintf(cause, "cannot listen on %s:%s: %s", host, portstr,
	    strerror(saved)) < 0)
		*cause = NULL;
	if (fd != -1)
		close(fd);
	freeaddrinfo(res);
	return (-1);
}

/*
 * Refuse an accepted connection fd (taken over) with a 503 and close it.
 * What the client already sent is read first: closing with unread bytes
 * resets the connection, and the reset can discard the answer before the
 * client reads it.  Best effort: a short write is not retried.
 */
void
sock_refuse(int fd, const char *message)
{
	struct api_error	 e;
	struct buf		 b = BUF_INIT;
	char			 id[32], junk[4096];
	ssize_t			 n;

	api_error_set(&e, 503, "server_error", "overloaded", NULL, "%s",
	    message);
	e.retry_after = 1;
	memcpy(id, "req_", 4);
	util_random_alnum(id + 4, 24);
	http_reply_error(&b, &e, id, util_wall_sec());
	while (read(fd, junk, sizeof(junk)) > 0)
		;
	n = write(fd, b.data, b.len);
	(void)n;
	shutdown(fd, SHUT_WR);
	close(fd);
	buf_free(&b);
}
