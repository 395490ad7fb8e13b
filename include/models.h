/*
 * models: GET /v1/models and /v1/models/{id}, named after the Dify app.
 */
#ifndef ODP_MODELS_H
#define ODP_MODELS_H

#include <stddef.h>

struct client_conn;
struct evhttp_request;
struct proxy_key;
struct server;

void		 models_not_found(struct server *, struct evhttp_request *,
		    const char *, size_t);
int		 models_handle(struct server *, struct evhttp_request *,
		    struct client_conn *, const char *, const char *,
		    const struct proxy_key *, const char *);

#endif
