/*
 * redis_url: parse a Redis URL, as redis-cli -u and the Redis clients
 * read it: redis[s]://[[user]:password@]host[:port][/db].  The user and
 * password may be percent-encoded; IPv6 hosts go in brackets.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "redis_url.h"
#include "url.h"
#include "util.h"

#define REDIS_URL_PORT	6379
#define REDIS_URL_MAX_DB	1000000

/* Decode a percent-encoded part into dst (size bytes).  Returns 0 or -1. */
static int
redis_url_part(const char *s, size_t len, char *dst, size_t size)
{
	struct buf	 b = BUF_INIT;
	char		*tmp = xstrndup(s, len);
	int		 rc = -1;

	if (url_decode_segment(tmp, &b) == 0 && b.len < size &&
	    memchr(b.data ? b.data : "", '\0', b.len) == NULL) {
		memcpy(dst, b.data ? b.data : "", b.len);
		dst[b.len] = '\0';
		rc = 0;
	}
	buf_free(&b);
	free(tmp);
	return (rc);
}

/*
 * Parse text into u.  Returns 0, or -1 with a phrase for "redis_url ...
 * <phrase>" in err.
 */
int
redis_url_parse(const char *text, struct redis_url *u, char *err,
    size_t errsize)
{
	const char	*p, *at, *host, *hend, *colon, *slash, *end;
	uint64_t	 port;
	size_t		 n;
	int		 v;

	memset(u, 0, sizeof(*u));
	u->port = REDIS_URL_PORT;
	if (strncmp(text, "redis://", 8) == 0)
		p = text + 8;
	else if (strncmp(text, "rediss://", 9) == 0) {
		p = text + 9;
		u->tls = 1;
	} else {
		snprintf(err, errsize, "must start with redis:// or rediss://");
		return (-1);
	}
	end = p + strlen(p);
	slash = memchr(p, '/', (size_t)(end - p));
	if (slash == NULL)
		slash = end;
	/* The last @ before the path ends the credentials. */
	at = NULL;
	for (host = p; host < slash; host++)
		if (*host == '@')
			at = host;
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon == NULL) {
			/* redis://password@host, as some clients write it */
			if (redis_url_part(p, (size_t)(at - p), u->password,
			    sizeof(u->password)) != 0)
				goto bad_credentials;
		} else if (redis_url_part(p, (size_t)(colon - p), u->user,
		    sizeof(u->user)) != 0 || redis_url_part(colon + 1,
		    (size_t)(at - colon - 1), u->password,
		    sizeof(u->password)) != 0)
			goto bad_credentials;
		p = at + 1;
	}
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(slash - p));
		if (hend == NULL) {
			snprintf(err, errsize, "has an unclosed [ in its host");
			return (-1);
		}
		host = p + 1;
		n = (size_t)(hend - host);
		colon = hend + 1 < slash && hend[1] == ':' ? hend + 1 : NULL;
		if (hend + 1 < slash && colon == NULL) {
			snprintf(err, errsize, "has text after its host");
			return (-1);
		}
	} else {
		host = p;
		colon = memchr(p, ':', (size_t)(slash - p));
		n = (size_t)((colon != NULL ? colon : slash) - host);
	}
	if (n == 0 || n >= sizeof(u->host)) {
		snprintf(err, errsize, "has no host");
		return (-1);
	}
	memcpy(u->host, host, n);
	u->host[n] = '\0';
	if (colon != NULL) {
		if (util_parse_uint(colon + 1, (size_t)(slash - colon - 1),
		    65535, &port) != 0 || port == 0)
			goto bad_port;
		u->port = (int)port;
	}
	if (slash < end && slash + 1 < end) {
		v = 0;
		for (p = slash + 1; p < end; p++) {
			if (*p < '0' || *p > '9' || v > REDIS_URL_MAX_DB) {
				snprintf(err, errsize, "has a database that is "
				    "not a number (redis://host:port/N)");
				return (-1);
			}
			v = v * 10 + (*p - '0');
		}
		u->db = v;
	}
	return (0);

bad_credentials:
	snprintf(err, errsize, "has a user or password that is too long or "
	    "badly percent-encoded");
	return (-1);
bad_port:
	snprintf(err, errsize, "has a port that is not 1-65535");
	return (-1);
}
