/*
 * redis_url: parse a Redis URL (redis:// or rediss://, user, password,
 * host, port, database number).
 */
#ifndef ODP_REDIS_URL_H
#define ODP_REDIS_URL_H

#include <stddef.h>

struct redis_url {
	int	 tls;		/* rediss:// */
	char	 host[256];	/* without IPv6 brackets */
	int	 port;		/* 6379 unless given */
	char	 user[128];	/* "": none (AUTH password alone) */
	char	 password[256];	/* "": none */
	int	 db;		/* SELECT; 0 unless given */
};

int	 redis_url_parse(const char *, struct redis_url *, char *, size_t);

#endif
