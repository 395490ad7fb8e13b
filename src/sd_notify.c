/*
 * sd_notify: systemd's notify protocol (Type=notify), without libsystemd.
 *
 * systemd passes $NOTIFY_SOCKET, a datagram socket's path ('/...') or
 * abstract name ('@...'); a service sends it newline-separated
 * assignments: READY=1 once it serves, STOPPING=1 when it starts to
 * stop, STATUS=<text> for `systemctl status`, WATCHDOG=1 at least every
 * $WATCHDOG_USEC when WatchdogSec= is set (and $WATCHDOG_PID, if set,
 * names this process).  The proxy sends from the process systemd
 * started (the master, or the single process), so the unit needs no
 * NotifyAccess beyond the default "main".  Without $NOTIFY_SOCKET every
 * call does nothing.  One datagram per message, sent without blocking.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sd_notify.h"
#include "util.h"

/*
 * Send msg to systemd.  Returns 1 when sent, 0 when not run under
 * Type=notify, -1 when the socket could not be reached.
 */
int
sd_notify_send(const char *msg)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	socklen_t		 len;
	size_t			 plen;
	ssize_t			 n;
	int			 fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return (0);
	plen = strlen(path);
	if (plen < 2 || plen >= sizeof(sun.sun_path))
		return (-1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* an abstract name */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
	    (path[0] == '/' ? 1 : 0));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return (-1);
	do
		n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
		    (struct sockaddr *)&sun, len);
	while (n == -1 && errno == EINTR);
	close(fd);
	return (n == (ssize_t)strlen(msg) ? 1 : -1);
}

/*
 * How often to send WATCHDOG=1, in milliseconds: half of $WATCHDOG_USEC,
 * or 0 when systemd expects none from this process.
 */
unsigned
sd_notify_watchdog_ms(void)
{
	const char	*usec = getenv("WATCHDOG_USEC");
	const char	*pid = getenv("WATCHDOG_PID");
	uint64_t	 v, p;

	if (usec == NULL || util_parse_uint(usec, strlen(usec), UINT64_MAX,
	    &v) != 0 || v == 0)
		return (0);
	if (pid != NULL && (util_parse_uint(pid, strlen(pid), UINT64_MAX,
	    &p) != 0 || p != (uint64_t)getpid()))
		return (0);
	v = v / 2000;
	if (v == 0)
		v = 1;
	return (v > UINT32_MAX ? UINT32_MAX : (unsigned)v);
}
