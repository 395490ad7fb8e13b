/*
 * master: the process that binds, runs the workers and keeps them running.
 */
#ifndef ODP_MASTER_H
#define ODP_MASTER_H

struct config;

int	master_run(const struct config *, int);

#endif
