/*
 * master: the process that binds, runs the workers and keeps them running.
 */
#ifndef ODP_MASTER_H
#define ODP_MASTER_H

struct config;

struct server_shared;

int	master_run(const struct config *, const struct server_shared *, int);

#endif
