/*
 * auth: the key a request authenticates with.
 *
 * A client sends its Dify app key as "Authorization: Bearer <key>" (the
 * scheme in any case, then spaces or tabs); the proxy checks only that it
 * is there and printable, and passes it on to Dify, which says whether it
 * is valid.  A later change adds keys the proxy issues itself, checked
 * here and mapped to an app key before the request goes to Dify.
 */
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "util.h"

/*
 * Copy the key from an Authorization header's value (NULL: none) into
 * out, without the spaces and tabs around it.  Returns 0, or -1 if there
 * is no usable key: another scheme, an empty key, one with a space or a
 * byte outside visible ASCII inside it, or one that does not fit in size.
 */
int
auth_bearer(const char *v, char *out, size_t size)
{
	const char	*key;
	size_t		 len;

	if (v == NULL || strncasecmp(v, "Bearer", 6) != 0 ||
	    (v[6] != ' ' && v[6] != '\t'))
		return (-1);
	for (key = v + 6; *key == ' ' || *key == '\t'; key++)
		;
	len = strlen(key);
	while (len > 0 && (key[len - 1] == ' ' || key[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= size || !util_token_is_printable(key, len))
		return (-1);
	memcpy(out, key, len);
	out[len] = '\0';
	return (0);
}
