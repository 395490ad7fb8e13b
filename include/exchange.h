/*
 * exchange: one chat completion, from the client's request to Dify's last
 * event.
 */
#ifndef ODP_EXCHANGE_H
#define ODP_EXCHANGE_H

struct app;
struct chat_request;
struct client_conn;
struct dify_app;
struct evhttp_request;
struct proxy_key;
struct server;
struct upstream;

/* Where an exchange goes: the app, the key it is called with, its Dify. */
struct exchange_target {
	const struct app	*app;		/* configured, or NULL */
	const struct proxy_key	*key;		/* the proxy's key, or NULL */
	const char		*api_key;
	struct upstream		*upstream;
};

void	exchange_start(struct server *, struct evhttp_request *,
	    struct client_conn *, const char *, struct chat_request *,
	    const struct exchange_target *, const char *, size_t);
void	exchange_stop_task(struct server *, struct upstream *,
	    const struct dify_app *, const char *, const char *, const char *,
	    const char *);

#endif
