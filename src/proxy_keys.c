/*
 * proxy_keys: the client keys the proxy issues itself.
 *
 * The config's "api_keys" (or the JSON file "api_keys_file" names) is an
 * array of objects, one per key holder:
 *
 *   {"name": "alice", "sha256": "<64 hex digits>",
 *    "models": ["support", "writer"], "rpm": 60, "max_streams": 4}
 *
 * name and sha256 are required: the digest of the key the holder sends
 * as "Authorization: Bearer <key>", never the key itself, so a leaked
 * config gives no key away.  `openai-dify-proxy -k` prints a new key and
 * its digest.  models lists the configured apps the key may use (absent:
 * all of them); rpm and max_streams limit its requests a minute and its
 * requests at once (absent or 0: no limit; rate_limit.c counts).
 *
 * A lookup hashes the client's key once and compares the digest with
 * every stored one in constant time, so neither the time taken nor the
 * place of a match tells anything of the stored digests.  The table is
 * built once per config and read-only after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "proxy_keys.h"
#include "util.h"

#define PROXY_KEYS_MAX		100000
#define PROXY_KEYS_MAX_NAME	64
#define PROXY_KEYS_MAX_MODELS	1024
#define PROXY_KEYS_MAX_FILE	(64 * 1024 * 1024)

/* The members a key object may have. */
static const char *proxy_keys_members[] = {
	"name", "sha256", "models", "rpm", "max_streams"
};

/* SHA-256, fetched once (OpenSSL 3 looks it up on every one-shot call). */
static const EVP_MD *
proxy_keys_md(void)
{
	static EVP_MD	*md;

	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return (md != NULL ? md : EVP_sha256());
}

/* Digest a key into out (PROXY_KEY_DIGEST bytes). */
static void
proxy_keys_digest(const char *key, size_t len, uint8_t *out)
{
	unsigned	n = PROXY_KEY_DIGEST;

	if (EVP_Digest(key, len, out, &n, proxy_keys_md(), NULL) != 1)
		memset(out, 0, PROXY_KEY_DIGEST);	/* matches no key */
}

/* Write a digest's lowercase hex (2 * PROXY_KEY_DIGEST + 1 bytes). */
static void
proxy_keys_hex(const uint8_t *d, char *out)
{
	static const char	xd[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < PROXY_KEY_DIGEST; i++) {
		out[2 * i] = xd[d[i] >> 4];
		out[2 * i + 1] = xd[d[i] & 15];
	}
	out[2 * PROXY_KEY_DIGEST] = '\0';
}

/* Read 64 hex digits (either case) into a digest; 0 or -1. */
static int
proxy_keys_unhex(const char *s, size_t len, uint8_t *out)
{
	size_t	i;
	int	hi, lo;

	if (len != 2 * PROXY_KEY_DIGEST)
		return (-1);
	for (i = 0; i < PROXY_KEY_DIGEST; i++) {
		hi = util_hex_digit((unsigned char)s[2 * i]);
		lo = util_hex_digit((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return (-1);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (0);
}

/* True if a holder's name is 1-64 of [A-Za-z0-9._@-] (it is logged). */
static int
proxy_keys_name_ok(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > PROXY_KEYS_MAX_NAME)
		return (0);
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    strchr("._@-", s[i]) != NULL))
			return (0);
	}
	return (1);
}

/* Read a limit member (absent: 0); returns 0 or 1 (reported). */
static int
proxy_keys_limit(json_t *obj, const char *name, unsigned *out,
    const char *where, size_t i, struct config_errors *errs)
{
	json_t	*v = json_object_get(obj, name);

	*out = 0;
	if (v == NULL)
		return (0);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 100000000) {
		config_errors_add(errs, "%s: api_keys[%zu]: \"%s\" must be a "
		    "whole number from 0 (no limit) to 100000000", where, i,
		    name);
		return (1);
	}
	*out = (unsigned)json_integer_value(v);
	return (0);
}

/* Read a key object's "models" (absent: every app); 0 or 1 (reported). */
static int
proxy_keys_models(json_t *obj, struct proxy_key *k, const char *where,
    size_t i, struct config_errors *errs)
{
	json_t	*v = json_object_get(obj, "models"), *m;
	size_t	 j;

	if (v == NULL)
		return (0);
	if (!json_is_array(v) || json_array_size(v) > PROXY_KEYS_MAX_MODELS)
		goto bad;
	json_array_foreach(v, j, m) {
		if (!json_is_string(m) || json_string_length(m) == 0 ||
		    strlen(json_string_value(m)) != json_string_length(m))
			goto bad;
	}
	k->models = xcalloc(json_array_size(v) + 1, sizeof(char *));
	json_array_foreach(v, j, m)
		k->models[j] = xstrdup(json_string_value(m));
	return (0);
bad:
	config_errors_add(errs, "%s: api_keys[%zu]: \"models\" must be an "
	    "array of up to %d model names", where, i, PROXY_KEYS_MAX_MODELS);
	return (1);
}

/* Read one key object into k; returns the number of errors added. */
static int
proxy_keys_parse_one(json_t *obj, struct proxy_key *k, const char *where,
    size_t i, struct config_errors *errs)
{
	const char	*member;
	json_t		*v, *name, *digest;
	size_t		 j;
	int		 bad = 0, known;

	if (!json_is_object(obj)) {
		config_errors_add(errs, "%s: api_keys[%zu] must be an object",
		    where, i);
		return (1);
	}
	json_object_foreach(obj, member, v) {
		for (known = 0, j = 0; j < nitems(proxy_keys_members); j++)
			known |= strcmp(member, proxy_keys_members[j]) == 0;
		if (!known) {
			config_errors_add(errs, "%s: api_keys[%zu]: unknown "
			    "member \"%s\"", where, i, member);
			bad++;
		}
	}
	name = json_object_get(obj, "name");
	if (!json_is_string(name) || !proxy_keys_name_ok(
	    json_string_value(name), json_string_length(name))) {
		config_errors_add(errs, "%s: api_keys[%zu]: \"name\" must be "
		    "1-%d characters of A-Z a-z 0-9 . _ @ -", where, i,
		    PROXY_KEYS_MAX_NAME);
		bad++;
	} else
		k->name = xstrdup(json_string_value(name));
	digest = json_object_get(obj, "sha256");
	if (!json_is_string(digest) || proxy_keys_unhex(
	    json_string_value(digest), json_string_length(digest),
	    k->digest) != 0) {
		config_errors_add(errs, "%s: api_keys[%zu]: \"sha256\" must be "
		    "the key's SHA-256 digest in 64 hex digits (openai-dify-"
		    "proxy -k prints a key and its digest)", where, i);
		bad++;
	} else {
		memcpy(k->log_id, json_string_value(digest),
		    PROXY_KEY_LOG_PREFIX);
		for (j = 0; j < PROXY_KEY_LOG_PREFIX; j++)
			if (k->log_id[j] >= 'A' && k->log_id[j] <= 'F')
				k->log_id[j] = (char)(k->log_id[j] - 'A' + 'a');
	}
	bad += proxy_keys_models(obj, k, where, i, errs);
	bad += proxy_keys_limit(obj, "rpm", &k->rpm, where, i, errs);
	bad += proxy_keys_limit(obj, "max_streams", &k->max_streams, where, i,
	    errs);
	return (bad);
}

/* Free one key's members. */
static void
proxy_keys_free_one(struct proxy_key *k)
{
	size_t	i;

	free(k->name);
	for (i = 0; k->models != NULL && k->models[i] != NULL; i++)
		free(k->models[i]);
	free(k->models);
}

/*
 * Add the keys of an "api_keys" value (a json_t *; where names it in
 * messages) to ks.  Names and digests must be unique over all of ks.
 * Returns the number of errors added; on errors ks is unchanged.
 */
int
proxy_keys_parse(struct proxy_keys *ks, const void *value, const char *where,
    struct config_errors *errs)
{
	json_t		*v = (json_t *)(uintptr_t)value, *item;
	struct proxy_key *all;
	size_t		 i, j, n;
	int		 bad = 0;

	if (!json_is_array(v) || ks->n + json_array_size(v) > PROXY_KEYS_MAX) {
		config_errors_add(errs, "%s: \"api_keys\" must be an array of "
		    "up to %d key objects", where, PROXY_KEYS_MAX);
		return (1);
	}
	n = ks->n + json_array_size(v);
	all = xcalloc(n + 1, sizeof(*all));
	if (ks->n > 0)
		memcpy(all, ks->v, ks->n * sizeof(*all));
	json_array_foreach(v, i, item)
		bad += proxy_keys_parse_one(item, &all[ks->n + i], where, i,
		    errs);
	for (i = ks->n; bad == 0 && i < n; i++) {
		for (j = 0; j < i; j++) {
			if (strcmp(all[i].name, all[j].name) == 0 ||
			    memcmp(all[i].digest, all[j].digest,
			    PROXY_KEY_DIGEST) == 0) {
				config_errors_add(errs, "%s: api_keys[%zu]: "
				    "\"%s\" has the name or the digest of "
				    "\"%s\"", where, i - ks->n, all[i].name,
				    all[j].name);
				bad++;
			}
		}
	}
	if (bad > 0) {
		for (i = ks->n; i < n; i++)
			proxy_keys_free_one(&all[i]);
		free(all);
		return (bad);
	}
	free(ks->v);
	ks->v = all;
	ks->n = n;
	return (0);
}

/* Add the keys of a JSON file holding an api_keys array; errors added. */
int
proxy_keys_load_file(struct proxy_keys *ks, const char *path,
    struct config_errors *errs)
{
	json_error_t	 je;
	json_t		*v;
	int		 rc;

	if ((v = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		config_errors_add(errs, "api_keys_file %s:%d:%d: %s", path,
		    je.line, je.column, je.text);
		return (1);
	}
	rc = proxy_keys_parse(ks, v, path, errs);
	json_decref(v);
	return (rc);
}

/* Free every key. */
void
proxy_keys_free(struct proxy_keys *ks)
{
	size_t	i;

	for (i = 0; i < ks->n; i++)
		proxy_keys_free_one(&ks->v[i]);
	free(ks->v);
	ks->v = NULL;
	ks->n = 0;
}

/*
 * The key a client's Bearer value is, or NULL.  Every stored digest is
 * compared, in constant time, whatever matched first.
 */
const struct proxy_key *
proxy_keys_find(const struct proxy_keys *ks, const char *key, size_t len)
{
	const struct proxy_key	*found = NULL;
	uint8_t			 d[PROXY_KEY_DIGEST];
	size_t			 i;

	proxy_keys_digest(key, len, d);
	for (i = 0; i < ks->n; i++) {
		if (CRYPTO_memcmp(d, ks->v[i].digest, PROXY_KEY_DIGEST) == 0)
			found = &ks->v[i];
	}
	return (found);
}

/* True if key k may use the app a model name selects. */
int
proxy_key_allows(const struct proxy_key *k, const char *model, size_t len)
{
	size_t	i;

	if (k->models == NULL)
		return (1);
	for (i = 0; k->models[i] != NULL; i++) {
		if (strlen(k->models[i]) == len &&
		    memcmp(k->models[i], model, len) == 0)
			return (1);
	}
	return (0);
}

/* Write the SHA-256 digest of a key, in hex, into out (65 bytes). */
void
proxy_keys_digest_hex(const char *key, size_t len, char *out, size_t size)
{
	uint8_t	d[PROXY_KEY_DIGEST];
	char	hex[2 * PROXY_KEY_DIGEST + 1];

	proxy_keys_digest(key, len, d);
	proxy_keys_hex(d, hex);
	snprintf(out, size, "%s", hex);
}

/*
 * Make a new key from 32 bytes of the system's randomness: "sk-odp-" and
 * their base64url, into key (PROXY_KEY_NEW_SIZE bytes), and its digest's
 * hex into digest (65 bytes).  Returns 0, or -1 if no randomness.
 */
int
proxy_keys_generate(char *key, size_t keysize, char *digest,
    size_t digestsize)
{
	unsigned char	raw[32], b64[48];
	size_t		i;
	int		n;

	if (keysize < PROXY_KEY_NEW_SIZE || RAND_priv_bytes(raw,
	    sizeof(raw)) != 1)
		return (-1);
	n = EVP_EncodeBlock(b64, raw, sizeof(raw));
	while (n > 0 && b64[n - 1] == '=')
		n--;
	for (i = 0; i < (size_t)n; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	snprintf(key, keysize, "sk-odp-%.*s", n, (const char *)b64);
	OPENSSL_cleanse(raw, sizeof(raw));
	proxy_keys_digest_hex(key, strlen(key), digest, digestsize);
	return (0);
}
