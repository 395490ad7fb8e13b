/*
 * sock: the listening socket.
 */
#ifndef ODP_SOCK_H
#define ODP_SOCK_H

#define SOCK_REUSEPORT	0x1	/* share the port with other processes */

int	sock_listen(const char *, int, int, int *, char **);
void	sock_refuse(int, const char *);

#endif
