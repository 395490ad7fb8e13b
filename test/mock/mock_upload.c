/*
 * upload: the pieces of POST /v1/files/upload that are not HTTP.  A strict
 * multipart/form-data parser (RFC 7578) that only ever reads inside the
 * body it is given, and the table of the file ids the look-alike issued,
 * with the key and the user each belongs to, which the generation
 * endpoints check local_file mappings against.
 *
 * The parser takes CRLF line ends only, at most UPLOAD_MAX_PARTS parts and
 * UPLOAD_MAX_HEADERS bytes of headers per part; anything it does not like
 * makes it fail as a whole, which the caller answers like a request
 * without a file, as werkzeug leaves request.files empty then.  A part is
 * a file when its Content-Disposition has a non-empty filename (or
 * filename*=UTF-8''...); names and filenames are made valid UTF-8.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

#define UPLOAD_IDS_MAX		MOCK_RECORDS_MAX	/* issued ids kept */
#define UPLOAD_BOUNDARY_MAX	70			/* RFC 2046 */

struct upload_id {
	char	 id[37];
	char	*key;
	char	*user;
};

/* What one part's headers said. */
struct upload_part {
	char	*name;
	char	*filename;
	char	*mime;
};

static struct upload_id	*upload_ids;	/* a ring of UPLOAD_IDS_MAX */
static size_t		 upload_nids;	/* entries in use */
static size_t		 upload_next;	/* the slot written next */
static char		 upload_tenant_id[37];

/* Prepare the id table and the tenant id. */
void
upload_init(void)
{
	upload_ids = util_xcalloc(UPLOAD_IDS_MAX, sizeof(*upload_ids));
	upload_nids = upload_next = 0;
	util_uuid4(upload_tenant_id);
}

/* Forget every issued id. */
void
upload_reset(void)
{
	size_t	i;

	if (upload_ids == NULL)
		return;
	for (i = 0; i < UPLOAD_IDS_MAX; i++) {
		free(upload_ids[i].key);
		free(upload_ids[i].user);
		memset(&upload_ids[i], 0, sizeof(upload_ids[i]));
	}
	upload_nids = upload_next = 0;
}

/* Release the id table. */
void
upload_free(void)
{
	upload_reset();
	free(upload_ids);
	upload_ids = NULL;
}

/* The tenant every upload belongs to. */
const char *
upload_tenant(void)
{
	return (upload_tenant_id);
}

/* Remember that id was issued for key and user; the oldest id goes. */
void
upload_issue(const char *id, const char *key, const char *user)
{
	struct upload_id	*u = &upload_ids[upload_next];

	free(u->key);
	free(u->user);
	snprintf(u->id, sizeof(u->id), "%s", id);
	u->key = util_xstrdup(key);
	u->user = util_xstrdup(user);
	upload_next = (upload_next + 1) % UPLOAD_IDS_MAX;
	if (upload_nids < UPLOAD_IDS_MAX)
		upload_nids++;
}

/* Whether id was issued for this key and this user. */
int
upload_known(const char *id, const char *key, const char *user)
{
	size_t	i;

	for (i = 0; i < UPLOAD_IDS_MAX && upload_ids != NULL; i++) {
		if (upload_ids[i].key == NULL)
			continue;
		if (strcmp(upload_ids[i].id, id) == 0 &&
		    strcmp(upload_ids[i].key, key) == 0 &&
		    strcmp(upload_ids[i].user, user) == 0)
			return (1);
	}
	return (0);
}

/* The length of the valid UTF-8 sequence at s, or 0. */
static size_t
upload_utf8(const unsigned char *s, size_t n)
{
	unsigned int	cp;
	size_t		len, i;

	if (s[0] >= 0x01 && s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] < 0xe0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] < 0xf0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] < 0xf5) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return (0);
	if (len > n)
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return (0);
	return (len);
}

/*
 * Copy n bytes as a valid UTF-8 C string: NUL bytes and invalid sequences
 * become U+FFFD, as werkzeug decodes with errors="replace".
 */
static char *
upload_text(const char *p, size_t n)
{
	const unsigned char	*s = (const unsigned char *)p;
	struct mbuf		 b = { NULL, 0, 0 };
	size_t			 i = 0, len;

	mbuf_reserve(&b, n);
	while (i < n) {
		if ((len = upload_utf8(s + i, n - i)) == 0) {
			mbuf_add(&b, "\xef\xbf\xbd", 3);
			i++;
			continue;
		}
		mbuf_add(&b, s + i, len);
		i += len;
	}
	b.p[b.len] = '\0';	/* mbuf_reserve left room; n may be 0 */
	return (b.p);
}

/* The value of a %XX pair, or -1. */
static int
upload_hex2(const char *p, const char *end)
{
	int	hi, lo;

	if (end - p < 2 || !isxdigit((unsigned char)p[0]) ||
	    !isxdigit((unsigned char)p[1]))
		return (-1);
	hi = isdigit((unsigned char)p[0]) ? p[0] - '0' :
	    tolower((unsigned char)p[0]) - 'a' + 10;
	lo = isdigit((unsigned char)p[1]) ? p[1] - '0' :
	    tolower((unsigned char)p[1]) - 'a' + 10;
	return (hi * 16 + lo);
}

/* filename*=UTF-8'lang'pct-encoded (RFC 5987); NULL if not that. */
static char *
upload_ext_value(const char *v, size_t n)
{
	const char	*end = v + n, *q;
	struct mbuf	 b = { NULL, 0, 0 };
	char		*s;
	int		 c;

	if (n < 7 || strncasecmp(v, "utf-8'", 6) != 0)
		return (NULL);
	if ((q = memchr(v + 6, '\'', (size_t)(end - (v + 6)))) == NULL)
		return (NULL);
	for (q++; q < end; q++) {
		if (*q != '%') {
			mbuf_addc(&b, *q);
			continue;
		}
		if ((c = upload_hex2(q + 1, end)) == -1) {
			mbuf_free(&b);
			return (NULL);
		}
		mbuf_addc(&b, (char)c);
		q += 2;
	}
	s = upload_text(b.p != NULL ? b.p : "", b.len);
	mbuf_free(&b);
	return (s);
}

/*
 * Read a token or a quoted-string (backslash escapes) at *pp, before end,
 * into out; returns -1 if a quote is not closed.
 */
static int
upload_param_value(const char **pp, const char *end, struct mbuf *out)
{
	const char	*p = *pp;

	out->len = 0;
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			mbuf_addc(out, *p);
		}
		if (p >= end)
			return (-1);
		*pp = p + 1;
		return (0);
	}
	while (p < end && *p != ';' && *p != ' ' && *p != '\t')
		mbuf_addc(out, *p++);
	*pp = p;
	return (0);
}

/* Parse a Content-Disposition value [v, end) into part; -1 if broken. */
static int
upload_disposition(const char *v, const char *end, struct upload_part *part)
{
	struct mbuf	 val = { NULL, 0, 0 };
	const char	*p = v, *name;
	char		*ext = NULL;
	size_t		 nlen;
	int		 rc = -1;

	while (p < end && *p != ';')
		p++;
	if ((size_t)(p - v) != 9 || strncasecmp(v, "form-data", 9) != 0)
		goto done;
	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == ';') {
			p++;
			continue;
		}
		name = p;
		while (p < end && *p != '=' && *p != ';')
			p++;
		nlen = (size_t)(p - name);
		while (nlen > 0 && (name[nlen - 1] == ' ' ||
		    name[nlen - 1] == '\t'))
			nlen--;
		if (p >= end || *p != '=')
			continue;	/* a bare word: ignored */
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (upload_param_value(&p, end, &val) == -1)
			goto done;
		if (nlen == 4 && strncasecmp(name, "name", 4) == 0) {
			free(part->name);
			part->name = upload_text(val.p != NULL ? val.p : "",
			    val.len);
		} else if (nlen == 8 && strncasecmp(name, "filename", 8) == 0) {
			free(part->filename);
			part->filename = upload_text(val.p != NULL ? val.p :
			    "", val.len);
		} else if (nlen == 9 && ext == NULL &&
		    strncasecmp(name, "filename*", 9) == 0)
			ext = upload_ext_value(val.p != NULL ? val.p : "",
			    val.len);
	}
	if (ext != NULL) {
		free(part->filename);
		part->filename = ext;
		ext = NULL;
	}
	rc = 0;
done:
	free(ext);
	mbuf_free(&val);
	return (rc);
}

/* Parse a Content-Type value into part->mime: lowercase, no parameters. */
static void
upload_mime(const char *v, const char *end, struct upload_part *part)
{
	const char	*e;
	char		*m;
	size_t		 i, n;

	for (e = v; e < end && *e != ';'; e++)
		;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if ((n = (size_t)(e - v)) == 0)
		return;
	m = upload_text(v, n);
	for (i = 0; m[i] != '\0'; i++)
		m[i] = (char)tolower((unsigned char)m[i]);
	free(part->mime);
	part->mime = m;
}

/* Parse the header block [p, end) of one part, CRLF-terminated lines. */
static int
upload_headers(const char *p, const char *end, struct upload_part *part)
{
	const char	*eol, *colon, *v;
	size_t		 nlen;

	while (p < end) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (eol == NULL)
			eol = end;
		if (p[0] == ' ' || p[0] == '\t') {
			/* Obsolete folding: ignored. */
			p = eol < end ? eol + 2 : end;
			continue;
		}
		if ((colon = memchr(p, ':', (size_t)(eol - p))) == NULL)
			return (-1);
		nlen = (size_t)(colon - p);
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		if (nlen == 19 && strncasecmp(p, "Content-Disposition", 19) ==
		    0) {
			if (upload_disposition(v, eol, part) == -1)
				return (-1);
		} else if (nlen == 12 &&
		    strncasecmp(p, "Content-Type", 12) == 0)
			upload_mime(v, eol, part);
		p = eol < end ? eol + 2 : end;
	}
	return (0);
}

/* Take the boundary from a multipart/form-data Content-Type; -1 if none. */
static int
upload_boundary(const char *ct, char *out, size_t size)
{
	struct mbuf	 val = { NULL, 0, 0 };
	const char	*p = ct, *end, *name;
	size_t		 nlen;
	int		 rc = -1;

	if (ct == NULL)
		return (-1);
	end = ct + strlen(ct);
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) < 19 ||
	    strncasecmp(p, "multipart/form-data", 19) != 0)
		return (-1);
	p += 19;
	if (p < end && *p != ';' && *p != ' ' && *p != '\t')
		return (-1);
	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == ';') {
			p++;
			continue;
		}
		name = p;
		while (p < end && *p != '=' && *p != ';')
			p++;
		nlen = (size_t)(p - name);
		if (p >= end || *p != '=')
			continue;
		p++;
		if (upload_param_value(&p, end, &val) == -1)
			break;
		if (nlen == 8 && strncasecmp(name, "boundary", 8) == 0) {
			if (val.len == 0 || val.len > UPLOAD_BOUNDARY_MAX ||
			    val.len >= size || memchr(val.p, '\r', val.len) ||
			    memchr(val.p, '\n', val.len))
				break;
			memcpy(out, val.p, val.len);
			out[val.len] = '\0';
			rc = 0;
			break;
		}
	}
	mbuf_free(&val);
	return (rc);
}

/* Release what a part's headers left. */
static void
upload_part_free(struct upload_part *part)
{
	free(part->name);
	free(part->filename);
	free(part->mime);
	memset(part, 0, sizeof(*part));
}

/* Release a parsed form; it may be parsed into again. */
void
upload_form_free(struct upload_form *f)
{
	free(f->filename);
	free(f->mime);
	free(f->user);
	memset(f, 0, sizeof(*f));
}

/* Keep what a part brings to the form: the first file, the user field. */
static void
upload_take(struct upload_form *f, struct upload_part *part,
    const char *data, size_t len)
{
	int	isfile = part->filename != NULL && part->filename[0] != '\0';

	if (isfile)
		f->nfiles++;
	if (part->name == NULL)
		return;
	if (isfile && !f->has_file && strcmp(part->name, "file") == 0) {
		f->has_file = 1;
		f->data = data;
		f->size = len;
		f->filename = part->filename;
		f->mime = part->mime;
		part->filename = part->mime = NULL;
	} else if (!isfile && f->user == NULL &&
	    strcmp(part->name, "user") == 0)
		f->user = upload_text(data, len);
}

/*
 * Parse a multipart/form-data body of len bytes whose Content-Type header
 * is ctype.  Returns 0 with f filled in (f->data points into body), or -1
 * with f empty: not multipart, or malformed.
 */
int
upload_parse(const char *ctype, const char *body, size_t len,
    struct upload_form *f)
{
	struct upload_part	 part;
	char			 delim[UPLOAD_BOUNDARY_MAX + 3];
	const char		*p, *end, *hdr, *hend, *data, *next;
	size_t			 dlen, lim;
	int			 nparts = 0;

	memset(f, 0, sizeof(*f));
	memset(&part, 0, sizeof(part));
	delim[0] = delim[1] = '-';
	if (body == NULL || upload_boundary(ctype, delim + 2,
	    sizeof(delim) - 2) == -1)
		return (-1);
	dlen = strlen(delim);
	end = body + len;

	/* The first delimiter: at the very start or after a preamble. */
	if (len >= dlen && memcmp(body, delim, dlen) == 0)
		p = body;
	else {
		for (p = body; ; p += 2) {
			p = memmem(p, (size_t)(end - p), "\r\n", 2);
			if (p == NULL)
				goto fail;
			if ((size_t)(end - p) >= dlen + 2 &&
			    memcmp(p + 2, delim, dlen) == 0) {
				p += 2;
				break;
			}
		}
	}
	for (;;) {
		/* p is at a delimiter: the close one, or a part follows. */
		p += dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			break;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			goto fail;
		p += 2;
		if (++nparts > UPLOAD_MAX_PARTS)
			goto fail;
		hdr = p;
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			hend = p;
			data = p + 2;
		} else {
			lim = (size_t)(end - p);
			if (lim > UPLOAD_MAX_HEADERS)
				lim = UPLOAD_MAX_HEADERS;
			if ((hend = memmem(p, lim, "\r\n\r\n", 4)) == NULL)
				goto fail;
			data = hend + 4;
			hend += 2;	/* keep the last line's CRLF */
		}
		if (upload_headers(hdr, hend, &part) == -1)
			goto fail;
		/* The content runs to CRLF and the next delimiter. */
		for (next = data; ; next += 2) {
			next = memmem(next, (size_t)(end - next), "\r\n", 2);
			if (next == NULL)
				goto fail;
			if ((size_t)(end - next) >= dlen + 2 &&
			    memcmp(next + 2, delim, dlen) == 0)
				break;
		}
		upload_take(f, &part, data, (size_t)(next - data));
		upload_part_free(&part);
		p = next + 2;
	}
	return (0);
fail:
	upload_part_free(&part);
	upload_form_free(f);
	return (-1);
}
