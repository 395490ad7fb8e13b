/*
 * dify_upload: inline (data:) images, checked and made into Dify's
 * POST /files/upload.
 *
 * Dify fetches remote_url images itself, but a data: URL it cannot take
 * (dify-api.md §2.4): the proxy decodes the image, uploads it as the
 * same end user (an upload is usable only by its owner) and sends the
 * run a local_file mapping with the id Dify gave.  Before anything goes
 * to Dify the image is checked here: a data: URL of base64, a type Dify
 * takes as an image (PNG, JPEG, GIF, WebP), bytes that are that type
 * (its magic number), and no more than Dify's 10 MB.  Whatever fails is
 * a 400 naming the content part, so the client knows which image.
 */
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "dify_upload.h"
#include "util.h"

/* The image types Dify takes, with their magic numbers. */
static const struct {
	const char	*mime;
	const char	*ext;
	const char	*magic;
	size_t		 magiclen;
	size_t		 magicoff;
	const char	*name;
} dify_upload_types[] = {
	{ "image/png", "png", "\x89PNG\r\n\x1a\n", 8, 0, "PNG" },
	{ "image/jpeg", "jpg", "\xff\xd8\xff", 3, 0, "JPEG" },
	{ "image/jpg", "jpg", "\xff\xd8\xff", 3, 0, "JPEG" },
	{ "image/gif", "gif", "GIF8", 4, 0, "GIF" },
	{ "image/webp", "webp", "WEBP", 4, 8, "WebP" },
};

/* True if url is a data: URL (the scheme in any case). */
int
dify_upload_is_data_url(const char *url)
{
	return (strncasecmp(url, "data:", 5) == 0);
}

/* The value of a base64 digit, or -1. */
static int
dify_upload_b64(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+' || c == '-')
		return (62);
	if (c == '/' || c == '_')
		return (63);
	return (-1);
}

/*
 * Decode base64 (standard or URL-safe, padding optional, no other bytes)
 * into out, stopping with -2 past max bytes.  Returns 0, or -1 for bytes
 * that are not base64.
 */
static int
dify_upload_unbase64(const char *s, size_t len, size_t max, struct buf *out)
{
	unsigned	acc = 0;
	int		bits = 0, v;
	size_t		i, pad = 0;

	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if ((len + pad) % 4 != 0 && pad > 0)
		return (-1);
	if (len % 4 == 1)
		return (-1);
	if (len / 4 * 3 > max + 3)
		return (-2);
	buf_reserve(out, len / 4 * 3 + 3);
	for (i = 0; i < len; i++) {
		if ((v = dify_upload_b64((unsigned char)s[i])) == -1)
			return (-1);
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_add_char(out, (char)((acc >> bits) & 0xff));
		}
	}
	return (out->len > max ? -2 : 0);
}

/* A 400 about one image. */
static int
dify_upload_refuse(struct api_error *err, const struct dify_upload_image *img,
    const char *code, const char *why)
{
	api_error_set(err, 400, "invalid_request_error", code, img->param,
	    "Invalid image in '%s': %s", img->param, why);
	return (-1);
}

/*
 * Check and decode the data: URL url (len bytes) into img, whose param
 * names the content part.  Returns 0, or -1 with err a 400 saying what
 * is wrong.
 */
int
dify_upload_decode(const char *url, size_t len, struct dify_upload_image *img,
    struct api_error *err)
{
	const char	*comma, *semi, *p, *end = url + len;
	char		 why[160], mime[80];
	size_t		 mlen, i;
	int		 rc;

	if (len < 5 || !dify_upload_is_data_url(url) ||
	    (comma = memchr(p = url + 5, ',', len - 5)) == NULL)
		return (dify_upload_refuse(err, img, "invalid_image_format",
		    "not a data: URL (data:image/png;base64,...)."));
	semi = memchr(p, ';', (size_t)(comma - p));
	mlen = (size_t)((semi != NULL ? semi : comma) - p);
	/* Only base64: the last parameter must say so. */
	if (semi == NULL || (size_t)(comma - semi) < 7 ||
	    strncasecmp(comma - 7, ";base64", 7) != 0)
		return (dify_upload_refuse(err, img, "invalid_image_format",
		    "only base64 data: URLs are supported."));
	for (i = 0; i < nitems(dify_upload_types); i++) {
		if (strlen(dify_upload_types[i].mime) == mlen &&
		    strncasecmp(p, dify_upload_types[i].mime, mlen) == 0)
			break;
	}
	if (i == nitems(dify_upload_types)) {
		/* As an error message of a client error would be (status 400). */
		api_error_sanitize(p, mlen > 64 ? 64 : mlen, 400, mime,
		    sizeof(mime));
		snprintf(why, sizeof(why), "type '%s' is not supported; "
		    "send PNG, JPEG, GIF or WebP.", mime);
		return (dify_upload_refuse(err, img, "invalid_image_format",
		    why));
	}
	img->mime = dify_upload_types[i].mime;
	img->ext = dify_upload_types[i].ext;
	if (strcmp(img->mime, "image/jpg") == 0)
		img->mime = "image/jpeg";
	buf_reset(&img->data);
	rc = dify_upload_unbase64(comma + 1, (size_t)(end - comma - 1),
	    DIFY_UPLOAD_MAX_IMAGE, &img->data);
	if (rc == -2)
		return (dify_upload_refuse(err, img, "image_too_large",
		    "larger than Dify's 10 MB limit for images."));
	if (rc != 0)
		return (dify_upload_refuse(err, img, "invalid_image_format",
		    "the data is not valid base64."));
	if (img->data.len < dify_upload_types[i].magicoff +
	    dify_upload_types[i].magiclen || memcmp(img->data.data +
	    dify_upload_types[i].magicoff, dify_upload_types[i].magic,
	    dify_upload_types[i].magiclen) != 0) {
		snprintf(why, sizeof(why), "the data is not a %s image.",
		    dify_upload_types[i].name);
		return (dify_upload_refuse(err, img, "invalid_image_format",
		    why));
	}
	return (0);
}

/* Release an image's bytes. */
void
dify_upload_image_free(struct dify_upload_image *img)
{
	buf_free(&img->data);
}

/*
 * Append the multipart/form-data body of POST /files/upload: the user
 * field and the image as the one file part, named image-<index>.<ext>.
 * boundary must not occur in the image (the caller makes it random).
 */
void
dify_upload_body(const char *boundary, const char *user,
    const struct dify_upload_image *img, size_t index, struct buf *out)
{
	buf_reserve(out, img->data.len + 512);
	buf_add_str(out, "--");
	buf_add_str(out, boundary);
	buf_add_str(out, "\r\nContent-Disposition: form-data; name=\"user\""
	    "\r\n\r\n");
	buf_add_str(out, user);
	buf_add_str(out, "\r\n--");
	buf_add_str(out, boundary);
	buf_add_str(out, "\r\nContent-Disposition: form-data; name=\"file\"; "
	    "filename=\"image-");
	buf_add_uint(out, index + 1);
	buf_add_char(out, '.');
	buf_add_str(out, img->ext);
	buf_add_str(out, "\"\r\nContent-Type: ");
	buf_add_str(out, img->mime);
	buf_add_str(out, "\r\n\r\n");
	buf_add(out, img->data.data, img->data.len);
	buf_add_str(out, "\r\n--");
	buf_add_str(out, boundary);
	buf_add_str(out, "--\r\n");
}

/*
 * Read the id from the upload's answer ({"id": ...}) into out; only what
 * a UUID is made of (hex digits and dashes) is taken.  Returns 0, or -1.
 */
int
dify_upload_file_id(const char *json, size_t len, char *out, size_t size)
{
	json_t		*root, *id;
	const char	*s;
	size_t		 n, i;
	int		 rc = -1;

	if ((root = json_loadb(json, len, 0, NULL)) == NULL)
		return (-1);
	id = json_object_get(root, "id");
	if (json_is_string(id) && (n = json_string_length(id)) > 0 &&
	    n < size) {
		s = json_string_value(id);
		rc = 0;
		for (i = 0; i < n; i++) {
			if (!((s[i] >= '0' && s[i] <= '9') ||
			    (s[i] >= 'a' && s[i] <= 'f') ||
			    (s[i] >= 'A' && s[i] <= 'F') || s[i] == '-'))
				rc = -1;
		}
		if (rc == 0)
			memcpy(out, s, n + 1);
	}
	json_decref(root);
	return (rc);
}
