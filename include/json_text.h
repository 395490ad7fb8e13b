/*
 * json_text: a jansson value's JSON text, into our buffers and heap.
 */
#ifndef ODP_JSON_TEXT_H
#define ODP_JSON_TEXT_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

int	 json_text_append(const json_t *, size_t, struct buf *);
char	*json_text_dup(const json_t *, size_t);

#endif
