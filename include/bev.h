/*
 * bev: what libevent 2.1's socket bufferevents lack.
 */
#ifndef ODP_BEV_H
#define ODP_BEV_H

struct bufferevent;

int	bev_write_queued(struct bufferevent *);

#endif
