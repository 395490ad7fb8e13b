/*
 * fuzz_workflow_output: the answer a workflow's outputs give
 * (dify_app_workflow_output) and the text input of an app's form
 * (dify_app_form_text_input), on any bytes, against jansson as the
 * oracle.
 *
 * The first byte is flags: bit 0 passes an output name, bits 1-3 its
 * length (the bytes that follow, cut at a NUL), bits 4-7 the size of the
 * buffer the form's variable name goes into.  The rest is the JSON text
 * both functions read.  Besides agreeing with the oracle:
 *   - the answer is appended to what the buffer held;
 *   - when the rest is a valid UTF-8 string s, the objects
 *     {"count":1,"text":s,"other":"x"}, {name:s,"text":"T"} and
 *     {"zz":s,"n":2} give exactly s;
 *   - the form's name is never empty, never holds a NUL and fits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "dify_app.h"

#define FUZZ_FLAGS_DECODE	(JSON_DECODE_ANY | JSON_ALLOW_NUL)

/* Output names taken as the answer, in this order. */
static const char *answer_names[] = { "text", "answer", "output", "result" };

/* Abort unless out holds exactly len bytes at p. */
static void
same_bytes(const struct buf *out, const char *p, size_t len)
{
	if (out->len != len || (len > 0 && memcmp(out->data, p, len) != 0))
		abort();
}

/* Abort unless out is a string's text or JSON text equal to v. */
static void
same_value(const struct buf *out, json_t *v)
{
	json_t	*got;

	if (json_is_string(v)) {
		same_bytes(out, json_string_value(v), json_string_length(v));
		return;
	}
	got = json_loadb(out->data, out->len, FUZZ_FLAGS_DECODE, NULL);
	if (got == NULL || !json_equal(got, v))
		abort();
	json_decref(got);
}

/* Check the answer outputs gave against what the oracle chose. */
static void
check_output(const char *json, size_t len, const char *name,
    const struct buf *out)
{
	json_t		*root, *v, *only = NULL;
	const char	*key;
	size_t		 i, nstrings = 0;

	root = json_loadb(json, len, FUZZ_FLAGS_DECODE, NULL);
	if (root == NULL || json_is_null(root)) {
		if (out->len != 0)
			abort();
		json_decref(root);
		return;
	}
	if (!json_is_object(root)) {
		same_value(out, root);
		json_decref(root);
		return;
	}
	/* A named output that is null does not answer (the rest may). */
	if (name != NULL && (v = json_object_get(root, name)) != NULL &&
	    !json_is_null(v)) {
		same_value(out, v);
		json_decref(root);
		return;
	}
	for (i = 0; i < sizeof(answer_names) / sizeof(answer_names[0]); i++) {
		v = json_object_get(root, answer_names[i]);
		if (json_is_string(v)) {
			same_value(out, v);
			json_decref(root);
			return;
		}
	}
	json_object_foreach(root, key, v) {
		if (json_is_string(v)) {
			only = v;
			nstrings++;
		}
	}
	if (nstrings == 1)
		same_value(out, only);
	else if (json_object_size(root) == 0) {
		if (out->len != 0)
			abort();
	} else {
		same_value(out, root);
		/* JavaScript's rendering of an object is never the answer. */
		if (memmem(out->data, out->len, "[object Object]", 15) !=
		    NULL && memmem(json, len, "[object Object]", 15) == NULL)
			abort();
	}
	json_decref(root);
}

/* Dump obj, ask for its answer and abort unless it is exactly s. */
static void
check_built(json_t *obj, const char *name, json_t *s)
{
	struct buf	 out = BUF_INIT;
	char		*text;

	if (obj == NULL)
		return;
	text = json_dumps(obj, JSON_COMPACT);
	if (text == NULL)
		abort();
	dify_app_workflow_output(text, strlen(text), name, &out);
	same_bytes(&out, json_string_value(s), json_string_length(s));
	buf_free(&out);
	free(text);
	json_decref(obj);
}

/* True if var may be the form's text input for a buffer of size. */
static int
form_var_ok(json_t *var, size_t size)
{
	return (json_is_string(var) && json_string_length(var) > 0 &&
	    json_string_length(var) < size &&
	    memchr(json_string_value(var), '\0',
	    json_string_length(var)) == NULL);
}

/* The oracle's text input of a form, or NULL. */
static const char *
form_oracle(json_t *root, enum dify_app_mode mode, size_t size)
{
	json_t	*form, *item, *entry;
	size_t	 i;

	form = json_object_get(root, "user_input_form");
	if (!json_is_array(form))
		return (NULL);
	if (mode == DIFY_APP_WORKFLOW) {
		json_array_foreach(form, i, item) {
			entry = json_object_get(item, "paragraph");
			if (form_var_ok(json_object_get(entry, "variable"),
			    size))
				return (json_string_value(json_object_get(entry,
				    "variable")));
		}
		json_array_foreach(form, i, item) {
			entry = json_object_get(item, "text-input");
			if (form_var_ok(json_object_get(entry, "variable"),
			    size))
				return (json_string_value(json_object_get(entry,
				    "variable")));
		}
		return (NULL);
	}
	json_array_foreach(form, i, item) {
		if ((entry = json_object_get(item, "paragraph")) == NULL)
			entry = json_object_get(item, "text-input");
		if (form_var_ok(json_object_get(entry, "variable"), size))
			return (json_string_value(json_object_get(entry,
			    "variable")));
	}
	return (NULL);
}

/* Find the form's text input into a buffer of size and check it. */
static void
check_form(const char *json, size_t len, enum dify_app_mode mode,
    size_t size)
{
	json_t		*root;
	const char	*want = NULL;
	char		*out;
	int		 rc;

	if ((out = malloc(size)) == NULL)
		abort();
	memset(out, 0xa5, size);
	rc = dify_app_form_text_input(json, len, mode, out, size);
	/* Without JSON_ALLOW_NUL, as a /parameters body is read. */
	if ((root = json_loadb(json, len, 0, NULL)) != NULL)
		want = form_oracle(root, mode, size);
	if (want == NULL) {
		if (rc != -1 || (unsigned char)out[0] != 0xa5)
			abort();
	} else {
		if (rc != 0 || strcmp(out, want) != 0 || strlen(out) == 0 ||
		    strlen(out) >= size)
			abort();
	}
	json_decref(root);
	free(out);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 out = BUF_INIT, again = BUF_INIT;
	char		 name[8];
	const char	*json, *namep = NULL;
	json_t		*s;
	size_t		 len, namelen = 0, formsize;
	uint8_t		 flags;

	if (size < 1)
		return (0);
	flags = data[0];
	data++;
	size--;
	if (flags & 1) {
		namelen = (flags >> 1) & 7;
		if (namelen > size)
			namelen = size;
		memcpy(name, data, namelen);
		name[namelen] = '\0';
		namep = name;
		data += namelen;
		size -= namelen;
	}
	formsize = 1 + (size_t)(flags >> 4) * 5;
	json = (const char *)data;
	len = size;

	dify_app_workflow_output(json, len, namep, &out);
	check_output(json, len, namep, &out);
	/* The answer is appended to what the buffer held. */
	buf_add_str(&again, "P");
	dify_app_workflow_output(json, len, namep, &again);
	if (again.len != out.len + 1 || again.data[0] != 'P' ||
	    (out.len > 0 && memcmp(again.data + 1, out.data, out.len) != 0))
		abort();
	buf_free(&out);
	buf_free(&again);

	/* The rest as a string inside objects whose answer it must be. */
	if ((s = json_stringn(json, len)) != NULL) {
		check_built(json_pack("{s:i,s:O,s:s}", "count", 1, "text", s,
		    "other", "x"), NULL, s);
		check_built(json_pack("{s:i,s:O,s:s}", "count", 1, "text", s,
		    "other", "x"), namep != NULL && strcmp(namep, "count") &&
		    strcmp(namep, "other") ? namep : NULL, s);
		if (namep != NULL && *namep != '\0' &&
		    strcmp(namep, "text") != 0)
			check_built(json_pack("{s:O,s:s}", namep, s, "text",
			    "T"), namep, s);
		check_built(json_pack("{s:O,s:i}", "zz", s, "n", 2), NULL, s);
		json_decref(s);
	}

	check_form(json, len, DIFY_APP_WORKFLOW, formsize);
	check_form(json, len, DIFY_APP_COMPLETION, formsize);
	check_form(json, len, DIFY_APP_WORKFLOW, 256);
	check_form(json, len, DIFY_APP_COMPLETION, 256);
	return (0);
}
