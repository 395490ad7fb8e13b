/*
 * exchange: one chat completion, from the client's request to Dify's last
 * event.
 */
#ifndef ODP_EXCHANGE_H
#define ODP_EXCHANGE_H

struct chat_request;
struct client_conn;
struct dify_app;
struct evhttp_request;
struct server;

void	exchange_start(struct server *, struct evhttp_request *,
	    struct client_conn *, const char *, struct chat_request *,
	    const char *, const char *, size_t);
void	exchange_stop_task(struct server *, const struct dify_app *,
	    const char *, const char *, const char *, const char *);

#endif
