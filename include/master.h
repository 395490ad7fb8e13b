/*
 * master: the process that binds, runs the workers and keeps them running.
 */
#ifndef ODP_MASTER_H
#define ODP_MASTER_H

struct config;

struct config;
struct server_shared;

/* Reads the settings again into a config; 0, or -1 (errors logged). */
typedef int (*master_reload_fn)(struct config *, void *);

int	master_run(const struct config *, const struct server_shared *, int,
	    master_reload_fn, void *);

#endif
