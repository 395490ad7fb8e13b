/*
 * url: parse the Dify base URL (http or https, host, port, base path).
 */
#ifndef ODP_URL_H
#define ODP_URL_H

#include <stddef.h>

struct url {
	int	 tls;		/* https */
	char	 host[256];	/* without IPv6 brackets */
	int	 port;
	int	 host_is_ip;	/* IPv4 or IPv6 literal */
	char	 path[512];	/* base path without a trailing slash */
};

struct buf;

int	 url_parse(const char *, struct url *, char *, size_t);
int	 url_decode_segment(const char *, struct buf *);
void	 url_origin(const struct url *, char *, size_t);

#endif
