/*
 * http_reply: a whole HTTP/1.1 error response as bytes, for connections
 * evhttp does not answer itself (refused, or stopped before a request).
 */
#ifndef ODP_HTTP_REPLY_H
#define ODP_HTTP_REPLY_H

#include <stdint.h>

#include "api_error.h"
#include "buf.h"

const char	*http_reply_reason(int);
void		 http_reply_error(struct buf *, const struct api_error *,
		    const char *, int64_t);

#endif
