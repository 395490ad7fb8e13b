/*
 * check_util: helpers the unit suites share.
 */
#ifndef CHECK_UTIL_H
#define CHECK_UTIL_H

#include <stddef.h>

#include "buf.h"

void	check_show(const char *, size_t, char *, size_t);
int	check_same(const char *, size_t, const char *, size_t, char *, size_t);
int	check_same_buf(const struct buf *, const struct buf *, char *, size_t);

#endif
