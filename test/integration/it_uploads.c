/*
 * it_uploads: inline (data:) images.  The proxy checks and decodes them,
 * uploads each to the look-alike's POST /v1/files/upload as the run's
 * user, and the run refers to them as local_file mappings; what it
 * cannot send, and what Dify refuses, is the client's error, naming the
 * content part, with no run behind it.
 *
 * The "uploads" case shares one look-alike and one passthrough proxy;
 * the others start the proxies they need inside the test.
 */
#include <sys/types.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "it_suites.h"

#define UP_PART1	"messages[0].content[1].image_url"
#define UP_MIB		(1024 * 1024)

static struct proc	up_mock, up_proxy;

/* Tiny but well-formed starts of the image types. */
static const char	 up_png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01"
			    "\0\0\0\x01\x08\x06\0\0\0";
static const char	 up_jpeg[] = "\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01"
			    "\0\0\x01\0\x01\0\0";
static const char	 up_gif[] = "GIF89a\x01\0\x01\0\x80\0\0\0\0\0";

/* One look-alike and one default (passthrough) proxy for the case. */
static void
up_setup(void)
{
	harness_mock_start(&up_mock, NULL);
	harness_proxy_start(&up_proxy, up_mock.port, NULL);
}

/* Stop both; each must exit cleanly with no sanitizer report. */
static void
up_teardown(void)
{
	int	rc = harness_proc_stop(&up_proxy);
	int	mrc = harness_proc_stop(&up_mock);

	ck_assert_msg(rc == 0, "proxy did not shut down cleanly");
	ck_assert_msg(mrc == 0, "look-alike did not shut down cleanly");
}

/* Stop a proxy a test started. */
static void
up_stop(struct proc *p)
{
	ck_assert_msg(harness_proc_stop(p) == 0, "proxy %s did not shut down "
	    "cleanly", p->log);
}

/* Standard, padded base64 of n bytes (malloc'd). */
static char *
up_b64(const void *data, size_t n)
{
	static const char	 a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*p = data;
	char			*out, *o;
	size_t			 i;
	unsigned		 v;

	out = o = malloc((n + 2) / 3 * 4 + 1);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		*o++ = a[v >> 18 & 63];
		*o++ = a[v >> 12 & 63];
		*o++ = a[v >> 6 & 63];
		*o++ = a[v & 63];
	}
	if (n - i == 1) {
		v = (unsigned)p[i] << 16;
		*o++ = a[v >> 18 & 63];
		*o++ = a[v >> 12 & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		*o++ = a[v >> 18 & 63];
		*o++ = a[v >> 12 & 63];
		*o++ = a[v >> 6 & 63];
		*o++ = '=';
	}
	*o = '\0';
	return (out);
}

/* "data:<mime>;base64,<bytes>" (malloc'd). */
static char *
up_data_url(const char *mime, const void *data, size_t n)
{
	char	*enc = up_b64(data, n), *s;

	if (asprintf(&s, "data:%s;base64,%s", mime, enc) < 0)
		abort();
	free(enc);
	return (s);
}

/* A PNG of n bytes: the magic, then a pattern (malloc'd). */
static char *
up_big_png(size_t n)
{
	char	*b = malloc(n);
	size_t	 i;

	ck_assert_ptr_nonnull(b);
	for (i = 0; i < n; i++)
		b[i] = (char)(i * 7 + 3);
	memcpy(b, up_png, n < 8 ? n : 8);
	return (b);
}

/* Hex of the first 16 bytes (or fewer), as /mock/uploads shows them. */
static void
up_hex16(const void *data, size_t n, char out[33])
{
	const unsigned char	*p = data;
	size_t			 i;

	for (i = 0; i < n && i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	out[2 * i] = '\0';
}

/*
 * A chat body: one user message of a text part then one image part per
 * url; model (NULL: gpt-4o); extra holds more members or is NULL.
 */
static char *
up_body(const char *model, const char *text, const char *const *urls,
    size_t n, const char *extra, int stream)
{
	json_t	*j, *parts;
	char	*s, *t;
	size_t	 i;

	parts = json_pack("[{s:s, s:s}]", "type", "text", "text", text);
	for (i = 0; i < n; i++)
		json_array_append_new(parts, json_pack("{s:s, s:{s:s}}",
		    "type", "image_url", "image_url", "url", urls[i]));
	j = json_pack("{s:s, s:[{s:s, s:o}]}", "model", model != NULL ?
	    model : "gpt-4o", "messages", "role", "user", "content", parts);
	ck_assert_ptr_nonnull(j);
	if (stream)
		json_object_set_new(j, "stream", json_true());
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	ck_assert_ptr_nonnull(s);
	if (extra != NULL) {
		if (asprintf(&t, "%.*s,%s}", (int)strlen(s) - 1, s, extra) < 0)
			abort();
		free(s);
		s = t;
	}
	return (s);
}

/*
 * The content of a 200 answer, streamed or not, checking its shape: a
 * chat.completion with a stop finish, or a stream ending in [DONE]
 * without an error frame.
 */
static char *
up_content(const struct http_response *r, int stream)
{
	struct sse_frames	 f;
	json_t			*j, *choice;
	char			*content;
	size_t			 i;

	ck_assert_msg(r->status == 200, "status %d: %s", r->status, r->body);
	if (!stream) {
		j = json_loads(r->body, 0, NULL);
		ck_assert_msg(j != NULL, "not JSON: %s", r->body);
		choice = json_array_get(json_object_get(j, "choices"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(choice,
		    "finish_reason")), "stop");
		content = strdup(json_string_value(json_object_get(
		    json_object_get(choice, "message"), "content")));
		json_decref(j);
		return (content);
	}
	ck_assert(r->complete);
	sse_split(r->body, r->bodylen, &f);
	ck_assert_msg(f.well_formed, "bad framing: %s", r->body);
	ck_assert_uint_ge(f.n, 3);
	ck_assert_str_eq(f.data[f.n - 1], "[DONE]");
	for (i = 0; i + 1 < f.n; i++)
		ck_assert_msg(strstr(f.data[i], "\"error\"") == NULL,
		    "error frame: %s", f.data[i]);
	content = sse_content(&f);
	sse_frames_free(&f);
	return (content);
}

/* POST body with key and expect 200 with content want. */
static void
up_expect(int port, const char *key, const char *body, int stream,
    const char *want)
{
	struct http_response	 r;
	char			*got;

	ck_assert_int_eq(http_chat(port, key, body, &r), 0);
	got = up_content(&r, stream);
	ck_assert_msg(strcmp(got, want) == 0, "content \"%s\", want \"%s\"",
	    got, want);
	free(got);
	http_response_free(&r);
}

/*
 * Check an OpenAI error answer (JSON even for a stream: nothing was sent
 * yet): status, type, code and param.  Returns the message (caller
 * frees).
 */
static char *
up_error(const struct http_response *r, int status, const char *type,
    const char *code, const char *param)
{
	json_t	*j, *e;
	char	*h, *msg;

	ck_assert_msg(r->status == status, "status %d, want %d: %s",
	    r->status, status, r->body);
	h = http_header(r, "Content-Type");
	ck_assert_str_eq(h, "application/json");
	free(h);
	j = json_loads(r->body, 0, NULL);
	ck_assert_msg(j != NULL, "error body is not JSON: %s", r->body);
	e = json_object_get(j, "error");
	ck_assert_msg(json_is_object(e), "no error object: %s", r->body);
	ck_assert_str_eq(json_string_value(json_object_get(e, "type")), type);
	ck_assert_msg(json_is_string(json_object_get(e, "code")) &&
	    strcmp(json_string_value(json_object_get(e, "code")), code) == 0,
	    "code, want %s: %s", code, r->body);
	if (param == NULL)
		ck_assert_msg(json_is_null(json_object_get(e, "param")),
		    "param, want null: %s", r->body);
	else
		ck_assert_msg(json_is_string(json_object_get(e, "param")) &&
		    strcmp(json_string_value(json_object_get(e, "param")),
		    param) == 0, "param, want %s: %s", param, r->body);
	msg = strdup(json_string_value(json_object_get(e, "message")));
	json_decref(j);
	return (msg);
}

/* A look-alike introspection array (caller decrefs). */
static json_t *
up_list(int mock_port, const char *path)
{
	json_t	*a = mock_get(mock_port, path);

	ck_assert_msg(json_is_array(a), "no %s", path);
	return (a);
}

/* A counter of GET /mock/stats. */
static long long
up_stat(int mock_port, const char *name)
{
	json_t		*s = mock_get(mock_port, "/mock/stats");
	long long	 v;

	ck_assert_msg(json_is_integer(json_object_get(s, name)), "no %s",
	    name);
	v = json_integer_value(json_object_get(s, name));
	json_decref(s);
	return (v);
}

/* A string member, "" if absent. */
static const char *
up_str(json_t *o, const char *name)
{
	const char	*s = json_string_value(json_object_get(o, name));

	return (s != NULL ? s : "");
}

/* Check one /mock/uploads record: a 201 with its id; returns the id. */
static const char *
up_upload_is(json_t *u, const char *key, const char *user, const char *name,
    const char *mime, const void *data, size_t size)
{
	char	head[33];

	up_hex16(data, size, head);
	ck_assert_int_eq(json_integer_value(json_object_get(u, "status")),
	    201);
	ck_assert_str_eq(up_str(u, "key"), key);
	ck_assert_str_eq(up_str(u, "user"), user);
	ck_assert_str_eq(up_str(u, "name"), name);
	ck_assert_str_eq(up_str(u, "mime_type"), mime);
	ck_assert_int_eq(json_integer_value(json_object_get(u, "size")),
	    (json_int_t)size);
	ck_assert_str_eq(up_str(u, "head"), head);
	ck_assert_uint_eq(strlen(up_str(u, "id")), 36);
	return (up_str(u, "id"));
}

/* The local_file mapping of an id, as the run must carry it. */
static json_t *
up_local(const char *id)
{
	return (json_pack("{s:s, s:s, s:s}", "type", "image",
	    "transfer_method", "local_file", "upload_file_id", id));
}

/* Check a run's files equal want (stolen). */
static void
up_files_are(json_t *rec, json_t *want)
{
	char	*got, *w;

	got = json_dumps(json_object_get(rec, "files"), JSON_COMPACT |
	    JSON_ENCODE_ANY);
	w = json_dumps(want, JSON_COMPACT);
	ck_assert_msg(json_equal(json_object_get(rec, "files"), want),
	    "files %s, want %s", got, w);
	free(got);
	free(w);
	json_decref(want);
}

/* Nothing reached the look-alike: no upload, no run. */
static void
up_nothing_reached(int mock_port)
{
	json_t	*a;

	a = up_list(mock_port, "/mock/uploads");
	ck_assert_msg(json_array_size(a) == 0, "%zu uploads",
	    json_array_size(a));
	json_decref(a);
	ck_assert_int_eq(up_stat(mock_port, "upload_requests"), 0);
	a = up_list(mock_port, "/mock/requests");
	ck_assert_msg(json_array_size(a) == 0, "%zu runs", json_array_size(a));
	json_decref(a);
}

/*
 * A PNG data URL: one upload as the request's user (the default user
 * without one; a number as its text), the file as sent, and the run
 * carries its id as a local_file and answers.  Streaming and not.
 */
START_TEST(inline_png_is_uploaded)
{
	static const char *const	 extras[] = { "\"user\":\"alice\"",
					    NULL, "\"user\":42" };
	static const char *const	 users[] = { "alice",
					    "openai-dify-proxy", "42" };
	int				 stream = _i & 1, k = _i >> 1;
	json_t				*ups, *reqs, *run;
	const char			*id;
	char				*url, *b;

	mock_reset(up_mock.port);
	url = up_data_url("image/png", up_png, sizeof(up_png) - 1);
	b = up_body(NULL, "Describe it", (const char *const *)&url, 1,
	    extras[k], stream);
	up_expect(up_proxy.port, "app-chat", b, stream, "Echo: Describe it");

	ups = up_list(up_mock.port, "/mock/uploads");
	ck_assert_uint_eq(json_array_size(ups), 1);
	id = up_upload_is(json_array_get(ups, 0), "app-chat", users[k],
	    "image-1.png", "image/png", up_png, sizeof(up_png) - 1);
	reqs = up_list(up_mock.port, "/mock/requests");
	ck_assert_uint_eq(json_array_size(reqs), 1);
	run = json_array_get(reqs, 0);
	ck_assert_str_eq(up_str(run, "path"), "/v1/chat-messages");
	ck_assert_str_eq(up_str(run, "key"), "app-chat");
	ck_assert_str_eq(up_str(run, "query"), "Describe it");
	/* The same user as the upload's (a number goes as its text). */
	ck_assert_str_eq(up_str(run, "user"), users[k]);
	up_files_are(run, json_pack("[o]", up_local(id)));
	ck_assert_int_eq(up_stat(up_mock.port, "upload_requests"), 1);
	json_decref(reqs);
	json_decref(ups);
	free(b);
	free(url);
}
END_TEST

/* Two images: two uploads in their order; the run has both, in order. */
START_TEST(two_images_two_uploads_in_order)
{
	int	 stream = _i;
	json_t	*ups, *reqs;
	char	*urls[3], *b, id0[37], id1[37], id2[37];

	mock_reset(up_mock.port);
	urls[0] = up_data_url("image/png", up_png, sizeof(up_png) - 1);
	urls[1] = up_data_url("image/jpg", up_jpeg, sizeof(up_jpeg) - 1);
	urls[2] = up_data_url("image/gif", up_gif, sizeof(up_gif) - 1);
	b = up_body(NULL, "Which?", (const char *const *)urls, 3,
	    "\"user\":\"bob\"", stream);
	up_expect(up_proxy.port, "app-chat", b, stream, "Echo: Which?");
	ups = up_list(up_mock.port, "/mock/uploads");
	ck_assert_uint_eq(json_array_size(ups), 3);
	snprintf(id0, sizeof(id0), "%s", up_upload_is(json_array_get(ups, 0),
	    "app-chat", "bob", "image-1.png", "image/png", up_png,
	    sizeof(up_png) - 1));
	snprintf(id1, sizeof(id1), "%s", up_upload_is(json_array_get(ups, 1),
	    "app-chat", "bob", "image-2.jpg", "image/jpeg", up_jpeg,
	    sizeof(up_jpeg) - 1));
	snprintf(id2, sizeof(id2), "%s", up_upload_is(json_array_get(ups, 2),
	    "app-chat", "bob", "image-3.gif", "image/gif", up_gif,
	    sizeof(up_gif) - 1));
	ck_assert_str_ne(id0, id1);
	reqs = up_list(up_mock.port, "/mock/requests");
	ck_assert_uint_eq(json_array_size(reqs), 1);
	up_files_are(json_array_get(reqs, 0), json_pack("[o, o, o]",
	    up_local(id0), up_local(id1), up_local(id2)));
	json_decref(reqs);
	json_decref(ups);
	free(b);
	free(urls[0]);
	free(urls[1]);
	free(urls[2]);
}
END_TEST

/* An https image and an inline one: remote first, then the upload. */
START_TEST(remote_and_inline_images_mixed)
{
	int	 stream = _i;
	json_t	*ups, *reqs;
	char	*urls[3], *b, id[37];

	mock_reset(up_mock.port);
	urls[0] = up_data_url("image/jpeg", up_jpeg, sizeof(up_jpeg) - 1);
	urls[1] = strdup("https://example.com/cat.png");
	urls[2] = strdup("http://example.com/dog.jpg");
	b = up_body(NULL, "Mixed", (const char *const *)urls, 3, NULL, stream);
	up_expect(up_proxy.port, "app-chat", b, stream, "Echo: Mixed");
	ups = up_list(up_mock.port, "/mock/uploads");
	ck_assert_uint_eq(json_array_size(ups), 1);
	/* Inline images are counted alone: the first is image-1. */
	snprintf(id, sizeof(id), "%s", up_upload_is(json_array_get(ups, 0),
	    "app-chat", "openai-dify-proxy", "image-1.jpg", "image/jpeg",
	    up_jpeg, sizeof(up_jpeg) - 1));
	reqs = up_list(up_mock.port, "/mock/requests");
	ck_assert_uint_eq(json_array_size(reqs), 1);
	up_files_are(json_array_get(reqs, 0), json_pack("[{s:s, s:s, s:s}, "
	    "{s:s, s:s, s:s}, o]",
	    "type", "image", "transfer_method", "remote_url", "url",
	    "https://example.com/cat.png",
	    "type", "image", "transfer_method", "remote_url", "url",
	    "http://example.com/dog.jpg", up_local(id)));
	json_decref(reqs);
	json_decref(ups);
	free(b);
	free(urls[0]);
	free(urls[1]);
	free(urls[2]);
}
END_TEST

/*
 * What the proxy refuses itself: a type Dify does not take as an image,
 * bytes that are not the type said, not base64.  A 400 naming the part,
 * and nothing reached the look-alike (no upload, no run, no /info).
 */
START_TEST(bad_images_are_refused_before_dify)
{
	int			 stream = _i;
	struct http_response	 r;
	char			*urls[2], *b, *msg;

	mock_reset(up_mock.port);

	/* image/tiff. */
	urls[0] = strdup("data:image/tiff;base64,SUkqAAgAAAA=");
	b = up_body(NULL, "tiff", (const char *const *)urls, 1, NULL, stream);
	ck_assert_int_eq(http_chat(up_proxy.port, "app-chat", b, &r), 0);
	msg = up_error(&r, 400, "invalid_request_error",
	    "invalid_image_format", UP_PART1);
	ck_assert_msg(strstr(msg, "image/tiff") != NULL && strstr(msg,
	    UP_PART1) != NULL, "message: %s", msg);
	free(msg);
	http_response_free(&r);
	free(b);
	free(urls[0]);

	/* PNG said, JPEG sent. */
	urls[0] = up_data_url("image/png", up_jpeg, sizeof(up_jpeg) - 1);
	b = up_body(NULL, "lie", (const char *const *)urls, 1, NULL, stream);
	ck_assert_int_eq(http_chat(up_proxy.port, "app-chat", b, &r), 0);
	msg = up_error(&r, 400, "invalid_request_error",
	    "invalid_image_format", UP_PART1);
	ck_assert_msg(strstr(msg, "not a PNG image") != NULL, "message: %s",
	    msg);
	free(msg);
	http_response_free(&r);
	free(b);
	free(urls[0]);

	/* A good image, then one that is not base64: the second is named. */
	urls[0] = up_data_url("image/png", up_png, sizeof(up_png) - 1);
	urls[1] = strdup("data:image/gif;base64,R0lG OD lh");
	b = up_body(NULL, "two", (const char *const *)urls, 2, NULL, stream);
	ck_assert_int_eq(http_chat(up_proxy.port, "app-chat", b, &r), 0);
	msg = up_error(&r, 400, "invalid_request_error",
	    "invalid_image_format", "messages[0].content[2].image_url");
	ck_assert_msg(strstr(msg, "base64") != NULL, "message: %s", msg);
	free(msg);
	http_response_free(&r);
	free(b);
	free(urls[0]);
	free(urls[1]);

	up_nothing_reached(up_mock.port);
	ck_assert_int_eq(up_stat(up_mock.port, "info_calls"), 0);
}
END_TEST

/*
 * Exactly 10 MiB goes up whole; a byte more is image_too_large before
 * anything reaches Dify.  Both requests fit the default max_body_bytes.
 */
START_TEST(image_size_limit)
{
	const size_t		 max = 10 * UP_MIB;
	struct http_response	 r;
	json_t			*ups, *reqs;
	char			*png, *url, *b, *msg, id[37];

	/* Exactly the limit. */
	mock_reset(up_mock.port);
	png = up_big_png(max);
	url = up_data_url("image/png", png, max);
	b = up_body(NULL, "Big", (const char *const *)&url, 1, NULL, 0);
	ck_assert_uint_lt(strlen(b), 16 * UP_MIB);
	up_expect(up_proxy.port, "app-chat", b, 0, "Echo: Big");
	ups = up_list(up_mock.port, "/mock/uploads");
	ck_assert_uint_eq(json_array_size(ups), 1);
	snprintf(id, sizeof(id), "%s", up_upload_is(json_array_get(ups, 0),
	    "app-chat", "openai-dify-proxy", "image-1.png", "image/png", png,
	    max));
	reqs = up_list(up_mock.port, "/mock/requests");
	ck_assert_uint_eq(json_array_size(reqs), 1);
	up_files_are(json_array_get(reqs, 0), json_pack("[o]", up_local(id)));
	json_decref(reqs);
	json_decref(ups);
	free(b);
	free(url);
	free(png);

	/* One byte more, streaming: a 400 still, nothing sent. */
	mock_reset(up_mock.port);
	png = up_big_png(max + 1);
	url = up_data_url("image/png", png, max + 1);
	b = up_body(NULL, "Bigger", (const char *const *)&url, 1, NULL, 1);
	ck_assert_uint_lt(strlen(b), 16 * UP_MIB);
	ck_assert_int_eq(http_chat(up_proxy.port, "app-chat", b, &r), 0);
	msg = up_error(&r, 400, "invalid_request_error", "image_too_large",
	    UP_PART1);
	ck_assert_msg(strstr(msg, "10 MB") != NULL, "message: %s", msg);
	free(msg);
	http_response_free(&r);
	up_nothing_reached(up_mock.port);
	free(b);
	free(url);
	free(png);
}
END_TEST

/* What Dify's refusal of an upload becomes for the client. */
static const struct {
	int		 status;	/* the look-alike's */
	const char	*code;
	int		 want_status;	/* the client's */
	const char	*want_type;
	const char	*want_code;
} up_refusals[] = {
	{ 415, "unsupported_file_type", 400, "invalid_request_error",
	    "unsupported_file_type" },
	{ 413, "file_too_large", 400, "invalid_request_error",
	    "file_too_large" },
	{ 500, "internal_server_error", 502, "server_error",
	    "internal_server_error" },
	{ 400, "no_file_uploaded", 400, "invalid_request_error",
	    "no_file_uploaded" },
};

/*
 * Dify refuses the upload (POST /mock/upload-fail, one shot): the client
 * gets the OpenAI error naming the part, 400 for 413/415, and no run
 * reached the look-alike; the next request goes through.
 */
START_TEST(dify_refusing_the_upload)
{
	int			 stream = _i & 1;
	size_t			 k = (size_t)(_i >> 1);
	struct http_response	 r;
	json_t			*ups, *reqs;
	char			*urls[2], *b, *msg, arm[160];

	mock_reset(up_mock.port);
	snprintf(arm, sizeof(arm), "{\"status\":%d,\"code\":\"%s\","
	    "\"message\":\"Refused by the test.\"}", up_refusals[k].status,
	    up_refusals[k].code);
	ck_assert_int_eq(http_request(up_mock.port, "POST", "/mock/upload-fail",
	    NULL, arm, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	http_response_free(&r);

	/* Two images: the first is refused, the second never goes. */
	urls[0] = up_data_url("image/png", up_png, sizeof(up_png) - 1);
	urls[1] = up_data_url("image/gif", up_gif, sizeof(up_gif) - 1);
	b = up_body(NULL, "Refuse", (const char *const *)urls, 2,
	    "\"user\":\"carol\"", stream);
	ck_assert_int_eq(http_chat(up_proxy.port, "app-chat", b, &r), 0);
	msg = up_error(&r, up_refusals[k].want_status, up_refusals[k].want_type,
	    up_refusals[k].want_code, UP_PART1);
	ck_assert_msg(strstr(msg, "Refused by the test.") != NULL, "message: %s",
	    msg);
	free(msg);
	http_response_free(&r);

	ups = up_list(up_mock.port, "/mock/uploads");
	ck_assert_uint_eq(json_array_size(ups), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ups,
	    0), "status")), up_refusals[k].status);
	ck_assert_str_eq(up_str(json_array_get(ups, 0), "user"), "carol");
	json_decref(ups);
	reqs = up_list(up_mock.port, "/mock/requests");
	ck_assert_msg(json_array_size(reqs) == 0, "%zu runs",
	    json_array_size(reqs));
	json_decref(reqs);

	/* The failure was one shot: the same request now succeeds. */
	up_expect(up_proxy.port, "app-chat", b, stream, "Echo: Refuse");
	ck_assert_int_eq(up_stat(up_mock.port, "upload_requests"), 3);
	free(b);
	free(urls[0]);
	free(urls[1]);
}
END_TEST

/*
 * Dify refusing an upload for the key or a limit, not the image: the
 * error names no content part.
 */
START_TEST(upload_auth_and_limit_errors_name_no_part)
{
	struct http_response	 r;
	char			*url, *b, *msg;

	mock_reset(up_mock.port);
	url = up_data_url("image/png", up_png, sizeof(up_png) - 1);
	b = up_body(NULL, "Who", (const char *const *)&url, 1, NULL, 0);
	ck_assert_int_eq(http_chat(up_proxy.port, "app-nobody", b, &r), 0);
	msg = up_error(&r, 401, "authentication_error", "invalid_api_key",
	    NULL);
	free(msg);
	http_response_free(&r);

	ck_assert_int_eq(http_request(up_mock.port, "POST", "/mock/upload-fail",
	    NULL, "{\"status\":429,\"code\":\"too_many_requests\","
	    "\"message\":\"Slow down.\"}", &r, 5000), 0);
	http_response_free(&r);
	ck_assert_int_eq(http_chat(up_proxy.port, "app-chat", b, &r), 0);
	msg = up_error(&r, 429, "rate_limit_error", "rate_limit_exceeded",
	    NULL);
	free(msg);
	http_response_free(&r);
	free(b);
	free(url);
}
END_TEST

/*
 * A configured completion app and a (detected) workflow app: the
 * uploads go as the same key and user, and the files reach
 * /completion-messages and /workflows/run.
 */
START_TEST(completion_and_workflow_apps)
{
	static const struct {
		const char	*model;
		const char	*key;
		const char	*path;
	} apps[] = {
		{ "writer", "app-completion", "/v1/completion-messages" },
		{ "flow", "app-workflow", "/v1/workflows/run" },
	};
	int		 stream = _i;
	struct proc	 p;
	json_t		*ups, *reqs, *rec, *body;
	char		*url, *b, id[37];
	size_t		 i;

	harness_proxy_start(&p, up_mock.port, "\"apps\": ["
	    "{\"model\": \"writer\", \"key\": \"app-completion\", "
	    "\"mode\": \"completion\"}, "
	    "{\"model\": \"flow\", \"key\": \"app-workflow\"}]");
	url = up_data_url("image/png", up_png, sizeof(up_png) - 1);
	for (i = 0; i < 2; i++) {
		mock_reset(up_mock.port);
		b = up_body(apps[i].model, "Caption", (const char *const *)&url,
		    1, "\"user\":\"dora\"", stream);
		up_expect(p.port, NULL, b, stream, "Echo: Caption");
		ups = up_list(up_mock.port, "/mock/uploads");
		ck_assert_uint_eq(json_array_size(ups), 1);
		snprintf(id, sizeof(id), "%s", up_upload_is(json_array_get(ups,
		    0), apps[i].key, "dora", "image-1.png", "image/png", up_png,
		    sizeof(up_png) - 1));
		reqs = up_list(up_mock.port, "/mock/requests");
		ck_assert_uint_eq(json_array_size(reqs), 1);
		rec = json_array_get(reqs, 0);
		ck_assert_str_eq(up_str(rec, "path"), apps[i].path);
		ck_assert_str_eq(up_str(rec, "key"), apps[i].key);
		body = json_object_get(rec, "body");
		ck_assert_str_eq(up_str(body, "user"), "dora");
		up_files_are(rec, json_pack("[o]", up_local(id)));
		json_decref(reqs);
		json_decref(ups);
		free(b);
	}
	free(url);
	up_stop(&p);
}
END_TEST

/*
 * A client that hangs up while a large upload is in flight: the upload
 * is cancelled and no run reaches the look-alike.  The look-alike is
 * stopped (SIGSTOP) so the upload cannot finish before the hang-up.
 */
START_TEST(disconnect_during_upload_runs_nothing)
{
	const size_t	 n = 8 * UP_MIB;
	struct proc	 p;
	json_t		*reqs;
	char		*png, *url, *b, *req;
	int		 fd, len, peer = 0, i, sent, gone = 0;
	size_t		 nruns;

	/* A proxy of its own: no pooled connection to the look-alike. */
	harness_proxy_start(&p, up_mock.port, NULL);
	mock_reset(up_mock.port);
	png = up_big_png(n);
	url = up_data_url("image/png", png, n);
	b = up_body(NULL, "Gone", (const char *const *)&url, 1, NULL, 1);
	len = asprintf(&req, "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAuthorization: Bearer app-chat\r\n"
	    "Connection: close\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(b), b);
	ck_assert_int_gt(len, 0);
	ck_assert_int_ge(fd = http_connect(p.port), 0);

	/* No assertion until the look-alike runs again. */
	kill(up_mock.pid, SIGSTOP);
	sent = http_send_all(fd, req, (size_t)len);
	/* The proxy read it all and is connected to upload. */
	for (i = 0; i < 200 && peer == 0; i++) {
		harness_sleep_ms(25);
		harness_fd_count(p.pid, harness_dify_port(up_mock.port),
		    &peer);
	}
	harness_sleep_ms(200);
	close(fd);
	harness_sleep_ms(500);
	kill(up_mock.pid, SIGCONT);

	ck_assert_int_eq(sent, 0);
	ck_assert_msg(peer > 0, "the proxy never connected to upload");
	for (i = 0; i < 100 && !gone; i++) {
		gone = harness_log_contains(&p, "end=client_gone");
		if (!gone)
			harness_sleep_ms(50);
	}
	ck_assert_msg(gone, "no client_gone access line in %s", p.log);
	harness_sleep_ms(300);
	reqs = up_list(up_mock.port, "/mock/requests");
	nruns = json_array_size(reqs);
	json_decref(reqs);
	ck_assert_msg(nruns == 0, "%zu runs after the hang-up", nruns);
	ck_assert_int_eq(up_stat(up_mock.port, "chat_requests"), 0);
	/* The proxy is fine: the next one works. */
	free(b);
	free(url);
	url = up_data_url("image/png", up_png, sizeof(up_png) - 1);
	b = up_body(NULL, "Again", (const char *const *)&url, 1, NULL, 0);
	up_expect(p.port, "app-chat", b, 0, "Echo: Again");
	free(b);
	free(url);
	free(req);
	free(png);
	up_stop(&p);
}
END_TEST

/* The uploads suite. */
Suite *
it_uploads_suite(void)
{
	Suite	*s = suite_create("uploads");
	TCase	*tc = tcase_create("uploads");
	TCase	*tcp = tcase_create("own proxy");

	tcase_add_unchecked_fixture(tc, up_setup, up_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, inline_png_is_uploaded, 0, 6);
	tcase_add_loop_test(tc, two_images_two_uploads_in_order, 0, 2);
	tcase_add_loop_test(tc, remote_and_inline_images_mixed, 0, 2);
	tcase_add_loop_test(tc, bad_images_are_refused_before_dify, 0, 2);
	tcase_add_test(tc, image_size_limit);
	tcase_add_test(tc, upload_auth_and_limit_errors_name_no_part);
	tcase_add_loop_test(tc, dify_refusing_the_upload, 0,
	    2 * (int)(sizeof(up_refusals) / sizeof(up_refusals[0])));
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(tcp, up_setup, up_teardown);
	tcase_set_timeout(tcp, 120);
	tcase_add_loop_test(tcp, completion_and_workflow_apps, 0, 2);
	tcase_add_test(tcp, disconnect_during_upload_runs_nothing);
	suite_add_tcase(s, tcp);
	return (s);
}
