/*
 * url: parse the Dify base URL (http or https, host, port, base path),
 * and decode a path segment of a client's URL.
 *
 * Only what a base URL needs is accepted: a scheme, a host (name, IPv4 or
 * bracketed IPv6), an optional port and an optional path.  User info,
 * queries and fragments are refused rather than silently dropped.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "url.h"
#include "util.h"

/* Report a parse error into err. */
static int
url_error(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return (-1);
}

/*
 * Parse s into u.  Returns 0, or -1 with a message in err (errlen bytes).
 */
int
url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
	const char	*p, *host, *hostend, *portp, *path;
	unsigned char	 addr[16];
	uint64_t	 port;
	size_t		 hostlen, pathlen, i;

	memset(u, 0, sizeof(*u));
	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return (url_error(err, errlen,
			    "contains spaces or control characters"));
	}
	if (strncasecmp(s, "https://", 8) == 0) {
		u->tls = 1;
		u->port = 443;
		p = s + 8;
	} else if (strncasecmp(s, "http://", 7) == 0) {
		u->port = 80;
		p = s + 7;
	} else
		return (url_error(err, errlen,
		    "must start with http:// or https://"));
	if (strpbrk(p, "?#@") != NULL)
		return (url_error(err, errlen,
		    "must not contain user info, a query or a fragment"));

	path = strchr(p, '/');
	if (path == NULL)
		path = p + strlen(p);
	if (*p == '[') {
		host = p + 1;
		hostend = memchr(host, ']', (size_t)(path - host));
		if (hostend == NULL)
			return (url_error(err, errlen, "unclosed [ in host"));
		portp = hostend + 1;
		u->host_is_ip = 1;
	} else {
		host = p;
		hostend = memchr(host, ':', (size_t)(path - host));
		if (hostend == NULL)
			hostend = path;
		portp = hostend;
	}
	hostlen = (size_t)(hostend - host);
	if (hostlen == 0 || hostlen >= sizeof(u->host))
		return (url_error(err, errlen, "has an empty or too long host"));
	memcpy(u->host, host, hostlen);
	u->host[hostlen] = '\0';
	if (u->host_is_ip) {
		if (inet_pton(AF_INET6, u->host, addr) != 1)
			return (url_error(err, errlen,
			    "has an invalid IPv6 address"));
	} else {
		for (i = 0; i < hostlen; i++) {
			if (!isalnum((unsigned char)u->host[i]) &&
			    u->host[i] != '-' && u->host[i] != '.' &&
			    u->host[i] != '_')
				return (url_error(err, errlen,
				    "has an invalid host name"));
		}
		u->host_is_ip = inet_pton(AF_INET, u->host, addr) == 1;
	}

	if (portp < path) {
		if (*portp != ':' ||
		    util_parse_uint(portp + 1, (size_t)(path - portp - 1),
		    65535, &port) != 0 || port == 0)
			return (url_error(err, errlen,
			    "has an invalid port (1-65535)"));
		u->port = (int)port;
	}

	pathlen = strlen(path);
	while (pathlen > 0 && path[pathlen - 1] == '/')
		pathlen--;
	if (pathlen >= sizeof(u->path))
		return (url_error(err, errlen, "has a too long path"));
	memcpy(u->path, path, pathlen);
	u->path[pathlen] = '\0';
	return (0);
}

/*
 * Decode %XX escapes of a URL path segment into out (a '+' stays a '+'; a
 * '%' not followed by two hex digits stays as it is); buf_cstr(out) is
 * the result.  Returns 0, or -1 when it would hold a NUL byte.
 */
int
url_decode_segment(const char *s, struct buf *out)
{
	int	hi, lo;
	char	c;

	buf_reset(out);
	for (; *s != '\0'; s++) {
		c = *s;
		if (c == '%' &&
		    (hi = util_hex_digit((unsigned char)s[1])) != -1 &&
		    (lo = util_hex_digit((unsigned char)s[2])) != -1) {
			c = (char)(hi << 4 | lo);
			s += 2;
			if (c == '\0')
				return (-1);
		}
		buf_add_char(out, c);
	}
	return (0);
}

/*
 * Write the URL's origin, scheme://host[:port] (the port only when it is
 * not the scheme's), into out.
 */
void
url_origin(const struct url *u, char *out, size_t size)
{
	int	v6 = u->host_is_ip && strchr(u->host, ':') != NULL;

	if (u->port == (u->tls ? 443 : 80))
		snprintf(out, size, "%s://%s%s%s", u->tls ? "https" : "http",
		    v6 ? "[" : "", u->host, v6 ? "]" : "");
	else
		snprintf(out, size, "%s://%s%s%s:%d", u->tls ? "https" : "http",
		    v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
}
