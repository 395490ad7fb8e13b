/*
 * models: GET /v1/models and /v1/models/{id}, named after the Dify app.
 */
#ifndef ODP_MODELS_H
#define ODP_MODELS_H

struct client_conn;
struct evhttp_request;
struct models;
struct server;

struct models	*models_new(void);
void		 models_free(struct models *);
void		 models_handle(struct server *, struct evhttp_request *,
		    struct client_conn *, const char *, const char *,
		    const char *);

#endif
