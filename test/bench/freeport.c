/*
 * bench-freeport: print N TCP ports that are free on 127.0.0.1.
 *
 *   bench-freeport [N]
 *
 * All N sockets are bound to port 0 at once, so the ports differ; they
 * are closed before the program exits and the caller hands them to nginx
 * and the proxy.  Another program could take one in between: unlikely on
 * a bench machine, and the harness would then fail to start, not measure
 * the wrong thing.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define FREEPORT_MAX	16

/* Bind a socket to 127.0.0.1:0; its port, and the socket in *fd. */
static int
freeport_one(int *fd)
{
	struct sockaddr_in	sa;
	socklen_t		len = sizeof(sa);

	if ((*fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		util_die("bench-freeport: socket: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    getsockname(*fd, (struct sockaddr *)&sa, &len) == -1)
		util_die("bench-freeport: bind: %s", strerror(errno));
	return (ntohs(sa.sin_port));
}

/* Print the ports, one a line. */
int
main(int argc, char **argv)
{
	int	fds[FREEPORT_MAX], i, n = 1;

	if (argc > 2)
		util_die("usage: bench-freeport [n]");
	if (argc == 2)
		n = (int)util_num("n", argv[1], 1, FREEPORT_MAX);
	for (i = 0; i < n; i++)
		printf("%d\n", freeport_one(&fds[i]));
	for (i = 0; i < n; i++)
		close(fds[i]);
	return (0);
}
