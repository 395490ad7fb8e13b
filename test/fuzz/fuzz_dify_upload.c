/*
 * fuzz_dify_upload: any data: URL either decodes to an image Dify takes
 * (at most 10 MiB, starting with its type's magic number, and the same
 * bytes again once re-encoded as standard base64), or is a 400 naming
 * the content part.  The first input byte picks the URL's start and
 * whether the rest is sent as is or base64-encoded first (standard or
 * URL-safe, padded or not), so that images that decode are reached.
 * The input is also read as an upload's answer (dify_upload_file_id).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
#include "buf.h"
#include "dify_upload.h"

#define PARAM	"messages[3].content[7].image_url"

static const char *const	 prefixes[] = {
	"data:image/png;base64,",
	"data:image/jpeg;base64,",
	"data:image/jpg;base64,",
	"data:image/gif;base64,",
	"data:image/webp;base64,",
	"DATA:IMAGE/PNG;BASE64,",
	"data:image/png;charset=x;base64,",
	"data:",
	"data:image/",
	"",
	"data:image/svg+xml;base64,",
	"data:image/png,",
	"Data:Image/WebP;Base64,",
	"data:image/gif;name=\"a,b\";base64,",
	"data:;base64,",
	"data:image/jpeg;base64",
};

static const struct {
	const char	*mime;
	const char	*ext;
	const char	*magic;
	size_t		 len;
	size_t		 off;
} types[] = {
	{ "image/png", "png", "\x89PNG\r\n\x1a\n", 8, 0 },
	{ "image/jpeg", "jpg", "\xff\xd8\xff", 3, 0 },
	{ "image/gif", "gif", "GIF8", 4, 0 },
	{ "image/webp", "webp", "WEBP", 4, 8 },
};

/* Base64 of n bytes into out: urlsafe alphabet, padding as asked. */
static void
b64(const unsigned char *p, size_t n, int urlsafe, int pad, struct buf *out)
{
	static const char	 std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char	 url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const char		*a = urlsafe ? url : std;
	size_t			 i;
	unsigned		 v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		buf_add_char(out, a[v >> 18 & 63]);
		buf_add_char(out, a[v >> 12 & 63]);
		buf_add_char(out, a[v >> 6 & 63]);
		buf_add_char(out, a[v & 63]);
	}
	if (n - i == 1) {
		v = (unsigned)p[i] << 16;
		buf_add_char(out, a[v >> 18 & 63]);
		buf_add_char(out, a[v >> 12 & 63]);
		if (pad)
			buf_add_str(out, "==");
	} else if (n - i == 2) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		buf_add_char(out, a[v >> 18 & 63]);
		buf_add_char(out, a[v >> 12 & 63]);
		buf_add_char(out, a[v >> 6 & 63]);
		if (pad)
			buf_add_char(out, '=');
	}
}

/* The type row of a decoded image's mime, or -1. */
static int
type_of(const char *mime)
{
	size_t	i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].mime, mime) == 0)
			return ((int)i);
	return (-1);
}

/* A refusal must be a 400 about the part, with a clean message. */
static void
check_refusal(const struct api_error *e)
{
	size_t	i;

	if (e->status != 400 || strcmp(e->type, "invalid_request_error") != 0 ||
	    strcmp(e->param, PARAM) != 0 || e->message[0] == '\0')
		abort();
	if (strcmp(e->code, "invalid_image_format") != 0 &&
	    strcmp(e->code, "image_too_large") != 0)
		abort();
	for (i = 0; e->message[i] != '\0'; i++)
		if ((unsigned char)e->message[i] < 0x20)
			abort();
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dify_upload_image	 img, again;
	struct api_error		 err;
	struct buf			 url = BUF_INIT, enc = BUF_INIT;
	struct buf			 body = BUF_INIT, want = BUF_INIT;
	const uint8_t			*rest;
	char				*exact;
	size_t				 n;
	char				 id[64];
	int				 sel, encode, t, rc, starts;

	/* The input as Dify's answer to the upload. */
	if (dify_upload_file_id((const char *)data, size, id, sizeof(id)) ==
	    0) {
		if (id[0] == '\0' || strlen(id) >= sizeof(id))
			abort();
		for (n = 0; id[n] != '\0'; n++)
			if (!((id[n] >= '0' && id[n] <= '9') ||
			    (id[n] >= 'a' && id[n] <= 'z') ||
			    (id[n] >= 'A' && id[n] <= 'Z') || id[n] == '-'))
				abort();
	}
	if (size == 0)
		return (0);
	sel = data[0];
	rest = data + 1;
	n = size - 1;
	encode = sel & 0x80;
	buf_add_str(&url, prefixes[(sel & 0x0f) % (sizeof(prefixes) /
	    sizeof(prefixes[0]))]);
	if (encode)
		b64(rest, n, sel & 0x20, sel & 0x10, &url);
	else
		buf_add(&url, rest, n);

	memset(&img, 0, sizeof(img));
	memcpy(img.param, PARAM, sizeof(PARAM));
	memset(&err, 0, sizeof(err));
	/*
	 * Exactly url.len bytes of their own, never NULL (an empty URL is
	 * a zero-sized block), so that reading past them is caught.
	 */
	if ((exact = malloc(url.len)) == NULL)
		abort();
	if (url.len > 0)
		memcpy(exact, url.data, url.len);
	rc = dify_upload_decode(exact, url.len, &img, &err);
	free(exact);
	if (rc != 0) {
		if (rc != -1)
			abort();
		check_refusal(&err);
	} else {
		if (img.data.len > DIFY_UPLOAD_MAX_IMAGE ||
		    (t = type_of(img.mime)) == -1 ||
		    strcmp(img.ext, types[t].ext) != 0 ||
		    img.data.len < types[t].off + types[t].len ||
		    memcmp(img.data.data + types[t].off, types[t].magic,
		    types[t].len) != 0 || img.file_id[0] != '\0' ||
		    strcmp(img.param, PARAM) != 0)
			abort();
		/* What was encoded comes back exactly. */
		if (encode && (img.data.len != n || (n > 0 &&
		    memcmp(img.data.data, rest, n) != 0)))
			abort();
		/* Re-encoded as standard base64, the same bytes again. */
		buf_add_str(&enc, "data:");
		buf_add_str(&enc, img.mime);
		buf_add_str(&enc, ";base64,");
		b64((const unsigned char *)img.data.data, img.data.len, 0, 1,
		    &enc);
		memset(&again, 0, sizeof(again));
		memcpy(again.param, PARAM, sizeof(PARAM));
		if (dify_upload_decode(enc.data, enc.len, &again, &err) != 0 ||
		    strcmp(again.mime, img.mime) != 0 ||
		    again.data.len != img.data.len ||
		    memcmp(again.data.data, img.data.data, img.data.len) != 0)
			abort();
		dify_upload_image_free(&again);
		/* And its upload body is what it must be, to the byte. */
		dify_upload_body("B", "u", &img, 0, &body);
		buf_add_str(&want, "--B\r\nContent-Disposition: form-data; "
		    "name=\"user\"\r\n\r\nu\r\n--B\r\nContent-Disposition: "
		    "form-data; name=\"file\"; filename=\"image-1.");
		buf_add_str(&want, img.ext);
		buf_add_str(&want, "\"\r\nContent-Type: ");
		buf_add_str(&want, img.mime);
		buf_add_str(&want, "\r\n\r\n");
		buf_add(&want, img.data.data, img.data.len);
		buf_add_str(&want, "\r\n--B--\r\n");
		if (body.len != want.len || memcmp(body.data, want.data,
		    want.len) != 0)
			abort();
	}

	/*
	 * Completeness: an encoded image of a known type with its magic
	 * and within the limit must be taken.
	 */
	if (encode && rc != 0 && (sel & 0x0f) <= 4) {
		t = (sel & 0x0f) == 2 ? 1 : (sel & 0x0f) > 2 ?
		    (sel & 0x0f) - 1 : sel & 0x0f;
		starts = n >= types[t].off + types[t].len &&
		    memcmp(rest + types[t].off, types[t].magic,
		    types[t].len) == 0;
		if (starts && n <= DIFY_UPLOAD_MAX_IMAGE)
			abort();
	}
	dify_upload_image_free(&img);
	buf_free(&url);
	buf_free(&enc);
	buf_free(&body);
	buf_free(&want);
	return (0);
}
