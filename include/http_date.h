/*
 * http_date: the Date header's value (RFC 9110 IMF-fixdate), formatted
 * once per second.
 */
#ifndef ODP_HTTP_DATE_H
#define ODP_HTTP_DATE_H

#include <stdint.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" and its NUL. */
#define HTTP_DATE_LEN	30

void		 http_date_format(int64_t, char [HTTP_DATE_LEN]);
const char	*http_date_for(int64_t);

#endif
