/*
 * check_dify_upload: inline (data:) images, checked and decoded, the
 * 400s for the ones Dify could not take, the multipart body of POST
 * /files/upload and reading the id from its answer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
#include "buf.h"
#include "check_suites.h"
#include "check_util.h"
#include "dify_upload.h"

#define PARAM	"messages[0].content[1].image_url"

/* Tiny but well-formed starts of each type. */
static const char	 png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";
static const char	 jpeg[] = "\xff\xd8\xff\xe0\0\x10JFIF\0\x01";
static const char	 gif[] = "GIF89a\x01\0\x01\0\x80\0\0";
static const char	 webp[] = "RIFF\x1a\0\0\0WEBPVP8 \x0e\0\0\0";

/*
 * Base64 of n bytes into a malloc'd string: standard or URL-safe
 * alphabet, with or without padding.
 */
static char *
b64(const void *data, size_t n, int urlsafe, int pad)
{
	static const char	 std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char	 url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char	*p = data;
	const char		*a = urlsafe ? url : std;
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
		if (pad) {
			*o++ = '=';
			*o++ = '=';
		}
	} else if (n - i == 2) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		*o++ = a[v >> 18 & 63];
		*o++ = a[v >> 12 & 63];
		*o++ = a[v >> 6 & 63];
		if (pad)
			*o++ = '=';
	}
	*o = '\0';
	return (out);
}

/* "prefix" + base64 of the bytes (standard, padded); malloc'd. */
static char *
data_url(const char *prefix, const void *data, size_t n)
{
	char	*enc = b64(data, n, 0, 1), *s;

	if (asprintf(&s, "%s%s", prefix, enc) < 0)
		abort();
	free(enc);
	return (s);
}

/* A fresh image whose param names the content part. */
static void
img_init(struct dify_upload_image *img)
{
	memset(img, 0, sizeof(*img));
	snprintf(img->param, sizeof(img->param), "%s", PARAM);
}

/* Decode url (len bytes) that must be accepted as mime/ext with bytes. */
static void
decode_ok_len(const char *url, size_t len, const char *mime, const char *ext,
    const void *want, size_t wantlen)
{
	struct dify_upload_image	 img;
	struct api_error		 e;
	char				 msg[4000];

	img_init(&img);
	memset(&e, 0, sizeof(e));
	ck_assert_msg(dify_upload_decode(url, len, &img, &e) == 0,
	    "refused %.80s: %s %s", url, e.code, e.message);
	ck_assert_str_eq(img.mime, mime);
	ck_assert_str_eq(img.ext, ext);
	ck_assert_msg(check_same(img.data.data, img.data.len, want, wantlen,
	    msg, sizeof(msg)), "%.80s: %s", url, msg);
	ck_assert_str_eq(img.file_id, "");
	ck_assert_str_eq(img.param, PARAM);
	dify_upload_image_free(&img);
}

static void
decode_ok(const char *url, const char *mime, const char *ext,
    const void *want, size_t wantlen)
{
	decode_ok_len(url, strlen(url), mime, ext, want, wantlen);
}

/*
 * Decode url (len bytes) that must be refused: a 400 invalid_request_error
 * of code, naming the part, whose message holds needle (NULL: any).
 */
static void
decode_bad_len(const char *url, size_t len, const char *code,
    const char *needle)
{
	struct dify_upload_image	 img;
	struct api_error		 e;

	img_init(&img);
	memset(&e, 0, sizeof(e));
	ck_assert_msg(dify_upload_decode(url, len, &img, &e) == -1,
	    "accepted: %.120s", url);
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.type, "invalid_request_error");
	ck_assert_msg(strcmp(e.code, code) == 0, "%.80s: code %s, want %s (%s)",
	    url, e.code, code, e.message);
	ck_assert_str_eq(e.param, PARAM);
	ck_assert_msg(strncmp(e.message, "Invalid image in '" PARAM "': ",
	    strlen("Invalid image in '" PARAM "': ")) == 0, "message: %s",
	    e.message);
	if (needle != NULL)
		ck_assert_msg(strstr(e.message, needle) != NULL,
		    "%.80s: message \"%s\" lacks \"%s\"", url, e.message,
		    needle);
	dify_upload_image_free(&img);
}

static void
decode_bad(const char *url, const char *code, const char *needle)
{
	decode_bad_len(url, strlen(url), code, needle);
}

#define NOT_B64		"the data is not valid base64."

/* Only data: URLs, the scheme in any case. */
START_TEST(check_dify_upload_is_data_url)
{
	ck_assert(dify_upload_is_data_url("data:image/png;base64,AA"));
	ck_assert(dify_upload_is_data_url("DATA:"));
	ck_assert(dify_upload_is_data_url("DaTa:x"));
	ck_assert(!dify_upload_is_data_url("data"));
	ck_assert(!dify_upload_is_data_url("datax:"));
	ck_assert(!dify_upload_is_data_url(" data:"));
	ck_assert(!dify_upload_is_data_url("https://e.com/a.png"));
	ck_assert(!dify_upload_is_data_url(""));
}
END_TEST

/* PNG, JPEG (and its image/jpg alias), GIF and WebP decode to their bytes. */
START_TEST(check_dify_upload_types)
{
	char	*u;

	u = data_url("data:image/png;base64,", png, sizeof(png) - 1);
	decode_ok(u, "image/png", "png", png, sizeof(png) - 1);
	free(u);
	u = data_url("data:image/jpeg;base64,", jpeg, sizeof(jpeg) - 1);
	decode_ok(u, "image/jpeg", "jpg", jpeg, sizeof(jpeg) - 1);
	free(u);
	/* image/jpg is taken and sent as Dify's image/jpeg. */
	u = data_url("data:image/jpg;base64,", jpeg, sizeof(jpeg) - 1);
	decode_ok(u, "image/jpeg", "jpg", jpeg, sizeof(jpeg) - 1);
	free(u);
	u = data_url("data:image/gif;base64,", gif, sizeof(gif) - 1);
	decode_ok(u, "image/gif", "gif", gif, sizeof(gif) - 1);
	free(u);
	u = data_url("data:image/webp;base64,", webp, sizeof(webp) - 1);
	decode_ok(u, "image/webp", "webp", webp, sizeof(webp) - 1);
	free(u);
	/* The magic alone is enough (GIF87a too). */
	decode_ok("data:image/gif;base64,R0lGODdh", "image/gif", "gif",
	    "GIF87a", 6);
	decode_ok("data:image/jpeg;base64,/9j/", "image/jpeg", "jpg",
	    "\xff\xd8\xff", 3);
	/* A known string, checked by hand: "\x89PNG\r\n\x1a\n". */
	decode_ok("data:image/png;base64,iVBORw0KGgo=", "image/png", "png",
	    "\x89PNG\r\n\x1a\n", 8);
}
END_TEST

/* Scheme, type and "base64" in any case; the type is given canonically. */
START_TEST(check_dify_upload_case)
{
	decode_ok("DATA:IMAGE/PNG;BASE64,iVBORw0KGgo=", "image/png", "png",
	    "\x89PNG\r\n\x1a\n", 8);
	decode_ok("Data:Image/Jpg;Base64,/9j/", "image/jpeg", "jpg",
	    "\xff\xd8\xff", 3);
	decode_ok("data:image/WebP;base64,UklGRhoAAABXRUJQ", "image/webp",
	    "webp", "RIFF\x1a\0\0\0WEBP", 12);
}
END_TEST

/* The URL-safe alphabet (- and _) decodes like + and /. */
START_TEST(check_dify_upload_urlsafe)
{
	/* PNG magic then bytes whose base64 needs 62 and 63. */
	static const char	 bytes[] = "\x89PNG\r\n\x1a\n\xfb\xff\xbf\xfe"
				    "\xfb\xef";
	size_t			 n = sizeof(bytes) - 1;
	char			*std, *url, *u;

	std = b64(bytes, n, 0, 1);
	url = b64(bytes, n, 1, 1);
	ck_assert_msg(strpbrk(std, "+") && strpbrk(std, "/"), "%s", std);
	ck_assert_msg(strpbrk(url, "-") && strpbrk(url, "_") &&
	    !strpbrk(url, "+/"), "%s", url);
	if (asprintf(&u, "data:image/png;base64,%s", std) < 0)
		abort();
	decode_ok(u, "image/png", "png", bytes, n);
	free(u);
	if (asprintf(&u, "data:image/png;base64,%s", url) < 0)
		abort();
	decode_ok(u, "image/png", "png", bytes, n);
	free(u);
	free(std);
	free(url);
	/* As written by hand: "+/8" and "-_8" are \xfb\xff. */
	decode_ok("data:image/jpeg;base64,/9j/+/8", "image/jpeg", "jpg",
	    "\xff\xd8\xff\xfb\xff", 5);
	decode_ok("data:image/jpeg;base64,_9j_-_8", "image/jpeg", "jpg",
	    "\xff\xd8\xff\xfb\xff", 5);
}
END_TEST

/* Padding is optional: 1 and 2 trailing bytes decode either way. */
START_TEST(check_dify_upload_padding_optional)
{
	/* 8 + k bytes for k = 0, 1, 2: every remainder of 3. */
	static const char	 bytes[] = "\x89PNG\r\n\x1a\n\x01\x02\x03";
	char			*enc, *u;
	size_t			 n;
	int			 pad;

	for (n = 8; n <= 11; n++) {
		for (pad = 0; pad < 2; pad++) {
			enc = b64(bytes, n, 0, pad);
			if (asprintf(&u, "data:image/png;base64,%s", enc) < 0)
				abort();
			decode_ok(u, "image/png", "png", bytes, n);
			free(u);
			free(enc);
		}
	}
	/* "/9j/4A" (6 chars, no "=="), "/9j/4AA" (7, no "="). */
	decode_ok("data:image/jpeg;base64,/9j/4A", "image/jpeg", "jpg",
	    "\xff\xd8\xff\xe0", 4);
	decode_ok("data:image/jpeg;base64,/9j/4A==", "image/jpeg", "jpg",
	    "\xff\xd8\xff\xe0", 4);
	decode_ok("data:image/jpeg;base64,/9j/4AA", "image/jpeg", "jpg",
	    "\xff\xd8\xff\xe0\0", 5);
	decode_ok("data:image/jpeg;base64,/9j/4AA=", "image/jpeg", "jpg",
	    "\xff\xd8\xff\xe0\0", 5);
}
END_TEST

/* Padding that does not complete a quantum, or too much of it. */
START_TEST(check_dify_upload_padding_errors)
{
	static const char *const	 bad[] = {
		"data:image/jpeg;base64,/9j/4A=",	/* needs two */
		"data:image/jpeg;base64,/9j/4A===",	/* three */
		"data:image/jpeg;base64,/9j/4AA==",	/* needs one */
		"data:image/jpeg;base64,/9j/====",	/* a quantum of it */
		"data:image/jpeg;base64,/9j/=",
		"data:image/jpeg;base64,/9j=/4AA",	/* in the middle */
		"data:image/jpeg;base64,/9j/4A==/9j/",	/* then more */
		"data:image/jpeg;base64,/9j/4",		/* 1 digit left */
		"data:image/jpeg;base64,/9j/4===",
		"data:image/jpeg;base64,=",
		"data:image/jpeg;base64,==",
	};
	size_t				 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		decode_bad(bad[i], "invalid_image_format", NOT_B64);
}
END_TEST

/* Bytes outside both alphabets, NUL included, are refused. */
START_TEST(check_dify_upload_bad_chars)
{
	static const char *const	 bad[] = {
		"data:image/jpeg;base64,/9j/4A*A",
		"data:image/jpeg;base64,/9j/4A.A",
		"data:image/jpeg;base64,/9j/4A%2B",
		"data:image/jpeg;base64,/9j/\xc3\xa9\xc3\xa9",
		"data:image/jpeg;base64,/9j/4A\\A",
		"data:image/jpeg;base64,/9j/4A\"A",
		"data:image/jpeg;base64,/9j/4AA,",
		"data:image/jpeg;base64,/9j/4AA;",
	};
	static const char		 nul[] = "data:image/jpeg;base64,/9j/\0AAA";
	size_t				 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		decode_bad(bad[i], "invalid_image_format", NOT_B64);
	/* The length counts, not the NUL: a NUL inside is a bad byte. */
	decode_bad_len(nul, sizeof(nul) - 1, "invalid_image_format", NOT_B64);
	/* And the bytes after the length are never read. */
	decode_ok_len("data:image/jpeg;base64,/9j/!!!!", 27, "image/jpeg",
	    "jpg", "\xff\xd8\xff", 3);
}
END_TEST

/* Whitespace anywhere in the data is not base64 here: refused. */
START_TEST(check_dify_upload_whitespace)
{
	static const char *const	 bad[] = {
		"data:image/jpeg;base64,/9j/ 4AA",
		"data:image/jpeg;base64,/9j/\n4AA",
		"data:image/jpeg;base64,/9j/\r\n4AA",
		"data:image/jpeg;base64,/9j/\t4AA",
		"data:image/jpeg;base64, /9j/4AA",
		"data:image/jpeg;base64,/9j/4AA= ",
		"data:image/jpeg;base64,/9j/4AA=\n",
	};
	size_t				 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		decode_bad(bad[i], "invalid_image_format", NOT_B64);
}
END_TEST

/* Valid base64 that is not the type it says, or too short to be it. */
START_TEST(check_dify_upload_magic)
{
	char	*u;

	/* JPEG bytes as PNG, PNG bytes as JPEG, GIF as WebP, ... */
	u = data_url("data:image/png;base64,", jpeg, sizeof(jpeg) - 1);
	decode_bad(u, "invalid_image_format", "the data is not a PNG image.");
	free(u);
	u = data_url("data:image/jpeg;base64,", png, sizeof(png) - 1);
	decode_bad(u, "invalid_image_format", "the data is not a JPEG image.");
	free(u);
	u = data_url("data:image/jpg;base64,", gif, sizeof(gif) - 1);
	decode_bad(u, "invalid_image_format", "the data is not a JPEG image.");
	free(u);
	u = data_url("data:image/webp;base64,", gif, sizeof(gif) - 1);
	decode_bad(u, "invalid_image_format", "the data is not a WebP image.");
	free(u);
	u = data_url("data:image/gif;base64,", webp, sizeof(webp) - 1);
	decode_bad(u, "invalid_image_format", "the data is not a GIF image.");
	free(u);
	/* Text, and one wrong byte in the PNG signature. */
	decode_bad("data:image/png;base64,aGVsbG8gd29ybGQ=",
	    "invalid_image_format", "not a PNG image");
	u = data_url("data:image/png;base64,", "\x89PNG\r\n\x1a\r\0\0", 10);
	decode_bad(u, "invalid_image_format", "not a PNG image");
	free(u);
	/* WebP is "WEBP" at offset 8; RIFF alone is not enough. */
	u = data_url("data:image/webp;base64,", "RIFF\x1a\0\0\0WAVEfmt ", 16);
	decode_bad(u, "invalid_image_format", "not a WebP image");
	free(u);
}
END_TEST

/* Data shorter than the magic number: empty, or cut within it. */
START_TEST(check_dify_upload_truncated)
{
	char	*u;

	decode_bad("data:image/png;base64,", "invalid_image_format",
	    "not a PNG image");
	decode_bad("data:image/gif;base64,", "invalid_image_format",
	    "not a GIF image");
	u = data_url("data:image/png;base64,", png, 7);
	decode_bad(u, "invalid_image_format", "not a PNG image");
	free(u);
	u = data_url("data:image/jpeg;base64,", jpeg, 2);
	decode_bad(u, "invalid_image_format", "not a JPEG image");
	free(u);
	u = data_url("data:image/gif;base64,", gif, 3);
	decode_bad(u, "invalid_image_format", "not a GIF image");
	free(u);
	/* WebP needs 12 bytes: 11 are not enough, 12 are. */
	u = data_url("data:image/webp;base64,", webp, 11);
	decode_bad(u, "invalid_image_format", "not a WebP image");
	free(u);
	u = data_url("data:image/webp;base64,", webp, 12);
	decode_ok(u, "image/webp", "webp", webp, 12);
	free(u);
}
END_TEST

/* A PNG of exactly n bytes as a data: URL (padded or not); malloc'd. */
static char *
png_of(size_t n, int pad, char **bytesp)
{
	char	*bytes, *enc, *u;

	bytes = calloc(1, n);
	ck_assert_ptr_nonnull(bytes);
	memcpy(bytes, png, n < 8 ? n : 8);
	if (n > 8)
		bytes[n - 1] = '\x7f';
	enc = b64(bytes, n, 0, pad);
	if (asprintf(&u, "data:image/png;base64,%s", enc) < 0)
		abort();
	free(enc);
	if (bytesp != NULL)
		*bytesp = bytes;
	else
		free(bytes);
	return (u);
}

/* Exactly 10 MiB is taken; a byte more is image_too_large. */
START_TEST(check_dify_upload_size_limit)
{
	static const char	 big[] = "larger than Dify's 10 MB limit";
	const size_t		 max = DIFY_UPLOAD_MAX_IMAGE;
	char			*u, *bytes;
	size_t			 n;
	int			 pad;

	ck_assert_uint_eq(max, 10 * 1024 * 1024);
	for (pad = 0; pad < 2; pad++) {
		u = png_of(max, pad, &bytes);
		decode_ok(u, "image/png", "png", bytes, max);
		free(u);
		free(bytes);
		/* One, two and three bytes more: each remainder of 3. */
		for (n = max + 1; n <= max + 3; n++) {
			u = png_of(n, pad, NULL);
			decode_bad(u, "image_too_large", big);
			free(u);
		}
		u = png_of(max - 1, pad, &bytes);
		decode_ok(u, "image/png", "png", bytes, max - 1);
		free(u);
		free(bytes);
	}
	/* Far too large: refused as such before decoding all of it. */
	u = png_of(max + 1024 * 1024, 1, NULL);
	decode_bad(u, "image_too_large", big);
	free(u);
}
END_TEST

/* What is not a base64 data: URL at all. */
START_TEST(check_dify_upload_not_base64)
{
	static const char	 nb[] = "only base64 data: URLs are supported.";
	static const char	 nd[] = "not a data: URL";

	decode_bad("data:image/png,\x89PNG", "invalid_image_format", nb);
	decode_bad("data:image/png;charset=utf-8,abc", "invalid_image_format",
	    nb);
	decode_bad("data:,hello", "invalid_image_format", nb);
	decode_bad("data:image/png;base64x,iVBORw0KGgo=",
	    "invalid_image_format", nb);
	decode_bad("data:image/png;xbase64,iVBORw0KGgo=",
	    "invalid_image_format", nb);
	decode_bad("data:image/pngbase64,iVBORw0KGgo=", "invalid_image_format",
	    nb);
	/* ";base64" must be the last parameter. */
	decode_bad("data:image/png;base64;charset=x,iVBORw0KGgo=",
	    "invalid_image_format", nb);
	/* No comma, no scheme, too short. */
	decode_bad("data:image/png;base64", "invalid_image_format", nd);
	decode_bad("data:image/png;base64;iVBORw0KGgo=",
	    "invalid_image_format", nd);
	decode_bad("https://e.com/a.png", "invalid_image_format", nd);
	decode_bad("data", "invalid_image_format", nd);
	decode_bad("", "invalid_image_format", nd);
	decode_bad_len("data:image/png;base64,iVBORw0KGgo=", 4,
	    "invalid_image_format", nd);
	/* The comma past the length does not count. */
	decode_bad_len("data:image/png;base64,iVBORw0KGgo=", 21,
	    "invalid_image_format", nd);
}
END_TEST

/* A type Dify does not take as an image: the message names it, cleaned. */
START_TEST(check_dify_upload_unknown_type)
{
	struct dify_upload_image	 img;
	struct api_error		 e;
	char				 url[512], *q, *end;
	size_t				 i;

	decode_bad("data:image/tiff;base64,SUkqAA==", "invalid_image_format",
	    "type 'image/tiff' is not supported; send PNG, JPEG, GIF or "
	    "WebP.");
	decode_bad("data:image/svg+xml;base64,PHN2Zz4=",
	    "invalid_image_format", "type 'image/svg+xml' is not supported");
	decode_bad("data:IMAGE/BMP;base64,Qk0=", "invalid_image_format",
	    "type 'IMAGE/BMP' is not supported");
	decode_bad("data:text/plain;base64,aGk=", "invalid_image_format",
	    "type 'text/plain' is not supported");
	decode_bad("data:;base64,iVBORw0KGgo=", "invalid_image_format",
	    "type '' is not supported");
	/* A prefix or an extension of a known type is not it. */
	decode_bad("data:image/pn;base64,iVBORw0KGgo=", "invalid_image_format",
	    "type 'image/pn' is not supported");
	decode_bad("data:image/pngx;base64,iVBORw0KGgo=",
	    "invalid_image_format", "type 'image/pngx' is not supported");
	/* Control characters are blanked; the type is checked, not the data. */
	decode_bad("data:image/x\x01y\nz\r\x7f;base64,!!!",
	    "invalid_image_format", "type 'image/x y z' is not supported");

	/* A long type is cut; the message stays whole. */
	memcpy(url, "data:", 5);
	for (i = 0; i < 300; i++)
		url[5 + i] = (char)('a' + i % 26);
	memcpy(url + 305, ";base64,AAAA", 13);
	img_init(&img);
	ck_assert_int_eq(dify_upload_decode(url, strlen(url), &img, &e), -1);
	ck_assert_str_eq(e.code, "invalid_image_format");
	ck_assert_ptr_nonnull(q = strstr(e.message, "type '"));
	q += 6;
	ck_assert_ptr_nonnull(end = strchr(q, '\''));
	ck_assert_uint_gt((size_t)(end - q), 32);
	ck_assert_uint_lt((size_t)(end - q), 100);
	ck_assert_int_eq(strncmp(q, url + 5, (size_t)(end - q)), 0);
	ck_assert_msg(strstr(e.message, "send PNG, JPEG, GIF or WebP.") !=
	    NULL, "%s", e.message);
	dify_upload_image_free(&img);
}
END_TEST

/* Parameters before ";base64" are allowed and ignored. */
START_TEST(check_dify_upload_parameters)
{
	decode_ok("data:image/png;charset=x;base64,iVBORw0KGgo=", "image/png",
	    "png", "\x89PNG\r\n\x1a\n", 8);
	decode_ok("data:image/jpeg;name=a.jpg;q=1;BASE64,/9j/", "image/jpeg",
	    "jpg", "\xff\xd8\xff", 3);
	/* The type is what comes before the first ';'. */
	decode_bad("data:image/tiff;x=image/png;base64,iVBORw0KGgo=",
	    "invalid_image_format", "type 'image/tiff'");
}
END_TEST

/* An image decoded into again holds the new bytes only. */
START_TEST(check_dify_upload_reuse)
{
	struct dify_upload_image	 img;
	struct api_error		 e;
	static const char		 a[] = "data:image/png;base64,iVBORw0KGgo=";
	static const char		 b[] = "data:image/gif;base64,R0lGODlh";

	img_init(&img);
	ck_assert_int_eq(dify_upload_decode(a, strlen(a), &img, &e), 0);
	ck_assert_uint_eq(img.data.len, 8);
	ck_assert_int_eq(dify_upload_decode(b, strlen(b), &img, &e), 0);
	ck_assert_str_eq(img.mime, "image/gif");
	ck_assert_str_eq(img.ext, "gif");
	ck_assert_uint_eq(img.data.len, 6);
	ck_assert_int_eq(memcmp(img.data.data, "GIF89a", 6), 0);
	dify_upload_image_free(&img);
	ck_assert_uint_eq(img.data.len, 0);
	dify_upload_image_free(&img);	/* twice is harmless */
}
END_TEST

/* The multipart body of POST /files/upload, byte for byte. */
START_TEST(check_dify_upload_body)
{
	static const char	 want[] =
	    "--BOUNDARY42\r\n"
	    "Content-Disposition: form-data; name=\"user\"\r\n"
	    "\r\n"
	    "alice\r\n"
	    "--BOUNDARY42\r\n"
	    "Content-Disposition: form-data; name=\"file\"; "
	    "filename=\"image-1.png\"\r\n"
	    "Content-Type: image/png\r\n"
	    "\r\n"
	    "\x89PNG\r\n\x1a\n\0\r\n--\xff"
	    "\r\n--BOUNDARY42--\r\n";
	static const char	 want2[] =
	    "prefix--b\r\n"
	    "Content-Disposition: form-data; name=\"user\"\r\n"
	    "\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Disposition: form-data; name=\"file\"; "
	    "filename=\"image-10.jpg\"\r\n"
	    "Content-Type: image/jpeg\r\n"
	    "\r\n"
	    "\xff\xd8\xff"
	    "\r\n--b--\r\n";
	struct dify_upload_image img;
	struct buf		 out = BUF_INIT;
	char			 msg[4000];

	memset(&img, 0, sizeof(img));
	img.mime = "image/png";
	img.ext = "png";
	buf_add(&img.data, "\x89PNG\r\n\x1a\n\0\r\n--\xff", 14);
	dify_upload_body("BOUNDARY42", "alice", &img, 0, &out);
	ck_assert_msg(check_same(out.data, out.len, want, sizeof(want) - 1,
	    msg, sizeof(msg)), "%s", msg);
	buf_free(&img.data);

	/* Appended to what out holds; the index counts from 0. */
	buf_reset(&out);
	buf_add_str(&out, "prefix");
	img.mime = "image/jpeg";
	img.ext = "jpg";
	buf_add(&img.data, "\xff\xd8\xff", 3);
	dify_upload_body("b", "", &img, 9, &out);
	ck_assert_msg(check_same(out.data, out.len, want2, sizeof(want2) - 1,
	    msg, sizeof(msg)), "%s", msg);
	buf_free(&img.data);
	buf_free(&out);
}
END_TEST

/* A decoded image goes into the body unchanged. */
START_TEST(check_dify_upload_body_decoded)
{
	struct dify_upload_image img;
	struct api_error	 e;
	struct buf		 out = BUF_INIT;
	static const char	 url[] = "data:image/webp;base64,"
				    "UklGRhoAAABXRUJQVlA4IA4AAAA=";
	const char		*p;

	img_init(&img);
	ck_assert_int_eq(dify_upload_decode(url, strlen(url), &img, &e), 0);
	dify_upload_body("xyz", "bob", &img, 2, &out);
	ck_assert_ptr_nonnull(p = memmem(out.data, out.len,
	    "filename=\"image-3.webp\"\r\nContent-Type: image/webp\r\n\r\n",
	    53));
	p += 53;
	ck_assert_int_eq(memcmp(p, webp, sizeof(webp) - 1), 0);
	ck_assert_int_eq(memcmp(p + sizeof(webp) - 1, "\r\n--xyz--\r\n", 11),
	    0);
	ck_assert_uint_eq((size_t)(p - out.data) + sizeof(webp) - 1 + 11,
	    out.len);
	buf_free(&out);
	dify_upload_image_free(&img);
}
END_TEST

/* The id from the upload's answer: a UUID's characters, and it must fit. */
START_TEST(check_dify_upload_file_id)
{
	static const char	 good[] = "{\"id\":\"72fa9618-8f89-4a37-9b33-"
				    "7e1178a24a67\",\"name\":\"image-1.png\","
				    "\"size\":8,\"extension\":\"png\","
				    "\"mime_type\":\"image/png\"}";
	static const char *const bad[] = {
		"",
		"{",
		"not json",
		"[\"72fa9618-8f89-4a37-9b33-7e1178a24a67\"]",
		"{}",
		"{\"ID\":\"72fa9618\"}",
		"{\"id\":null}",
		"{\"id\":42}",
		"{\"id\":{\"id\":\"abc\"}}",
		"{\"id\":\"\"}",
		"{\"id\":\"../../etc/passwd\"}",
		"{\"id\":\"72fa9618 8f89\"}",
		"{\"id\":\"72fa9618\\\"8f89\"}",
		"{\"id\":\"72fa9618\\u00008f89\"}",
		"{\"id\":\"72fa9618\\n\"}",
		"{\"id\":\"72fa9618_8f89\"}",
		"{\"id\":\"72fa9618/8f89\"}",
		"{\"id\":\"caf\xc3\xa9\"}",
		"{\"id\":\"72fa9618\"} trailing",
	};
	static const char	 pretty[] = "{ \"id\": \"ABCDEF-0123\" }\n";
	char			 out[64], json[200], id[80];
	size_t			 i;

	memset(out, 'x', sizeof(out));
	ck_assert_int_eq(dify_upload_file_id(good, strlen(good), out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "72fa9618-8f89-4a37-9b33-7e1178a24a67");
	/* Upper case and Dify's pretty-printed answer. */
	ck_assert_int_eq(dify_upload_file_id(pretty, strlen(pretty), out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "ABCDEF-0123");
	/* Only len bytes are read. */
	ck_assert_int_eq(dify_upload_file_id("{\"id\":\"a1\"}garbage", 11, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "a1");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(out, "untouched");
		ck_assert_msg(dify_upload_file_id(bad[i], strlen(bad[i]), out,
		    sizeof(out)) == -1, "accepted %s", bad[i]);
		ck_assert_msg(strcmp(out, "untouched") == 0, "%s wrote %s",
		    bad[i], out);
	}

	/* size - 1 characters fit; size do not. */
	memset(id, 'a', sizeof(id));
	id[63] = '\0';
	snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
	ck_assert_int_eq(dify_upload_file_id(json, strlen(json), out,
	    sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), 63);
	id[63] = 'a';
	id[64] = '\0';
	snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
	strcpy(out, "untouched");
	ck_assert_int_eq(dify_upload_file_id(json, strlen(json), out,
	    sizeof(out)), -1);
	ck_assert_str_eq(out, "untouched");
	/* A small buffer: a UUID does not fit in 36, does in 37. */
	ck_assert_int_eq(dify_upload_file_id(good, strlen(good), out, 36), -1);
	ck_assert_int_eq(dify_upload_file_id(good, strlen(good), out, 37), 0);
	ck_assert_str_eq(out, "72fa9618-8f89-4a37-9b33-7e1178a24a67");
}
END_TEST

/* The dify_upload suite. */
Suite *
dify_upload_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("dify_upload");
	tc = tcase_create("decode");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_dify_upload_is_data_url);
	tcase_add_test(tc, check_dify_upload_types);
	tcase_add_test(tc, check_dify_upload_case);
	tcase_add_test(tc, check_dify_upload_urlsafe);
	tcase_add_test(tc, check_dify_upload_padding_optional);
	tcase_add_test(tc, check_dify_upload_padding_errors);
	tcase_add_test(tc, check_dify_upload_bad_chars);
	tcase_add_test(tc, check_dify_upload_whitespace);
	tcase_add_test(tc, check_dify_upload_magic);
	tcase_add_test(tc, check_dify_upload_truncated);
	tcase_add_test(tc, check_dify_upload_size_limit);
	tcase_add_test(tc, check_dify_upload_not_base64);
	tcase_add_test(tc, check_dify_upload_unknown_type);
	tcase_add_test(tc, check_dify_upload_parameters);
	tcase_add_test(tc, check_dify_upload_reuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("upload");
	tcase_add_test(tc, check_dify_upload_body);
	tcase_add_test(tc, check_dify_upload_body_decoded);
	tcase_add_test(tc, check_dify_upload_file_id);
	suite_add_tcase(s, tc);
	return (s);
}
