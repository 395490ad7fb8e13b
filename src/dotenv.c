/*
 * dotenv: read KEY=VALUE lines of a .env file.
 *
 * The format is the common one: blank lines and lines starting with # are
 * skipped, "export " may precede a key, keys are [A-Za-z_][A-Za-z0-9_]*,
 * values are bare (trimmed, a " #" starts a comment), 'single-quoted'
 * (literal) or "double-quoted" (with \n, \t, \" and \\ escapes).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "dotenv.h"

/* Set the error text and line. */
static int
dotenv_error(int line, int *errline, char *err, size_t errlen,
    const char *msg)
{
	*errline = line;
	snprintf(err, errlen, "%s", msg);
	return (-1);
}

/*
 * Parse a .env file held in buf.  Returns 0, or -1 with the line number in
 * *errline and a message in err.
 */
int
dotenv_parse(const char *buf, size_t len, dotenv_fn fn, void *arg,
    int *errline, char *err, size_t errlen)
{
	const char	*p = buf, *end = buf + len, *eol, *k, *v, *q, *eq;
	struct buf	 key = BUF_INIT, val = BUF_INIT;
	int		 line = 0, rc = 0;

	for (; p < end; p = eol + 1) {
		line++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		q = eol;
		if (q > p && q[-1] == '\r')
			q--;
		while (p < q && isspace((unsigned char)*p))
			p++;
		if (p == q || *p == '#')
			continue;
		if ((size_t)(q - p) > 7 && strncmp(p, "export", 6) == 0 &&
		    (p[6] == ' ' || p[6] == '\t')) {
			p += 7;
			while (p < q && isspace((unsigned char)*p))
				p++;
		}
		k = p;
		if (p < q && (isalpha((unsigned char)*p) || *p == '_')) {
			while (p < q && (isalnum((unsigned char)*p) ||
			    *p == '_'))
				p++;
		}
		if (p == k) {
			rc = dotenv_error(line, errline, err, errlen,
			    "expected a variable name");
			break;
		}
		buf_reset(&key);
		buf_add(&key, k, (size_t)(p - k));
		while (p < q && (*p == ' ' || *p == '\t'))
			p++;
		if (p == q || *p != '=') {
			rc = dotenv_error(line, errline, err, errlen,
			    "expected '=' after the variable name");
			break;
		}
		p++;
		eq = p;
		while (p < q && (*p == ' ' || *p == '\t'))
			p++;
		buf_reset(&val);
		if (p < q && (*p == '"' || *p == '\'')) {
			char	quote = *p++;

			for (v = p; v < q && *v != quote; v++) {
				if (quote == '"' && *v == '\\' && v + 1 < q) {
					v++;
					buf_add_char(&val, *v == 'n' ? '\n' :
					    *v == 't' ? '\t' : *v);
				} else
					buf_add_char(&val, *v);
			}
			if (v == q) {
				rc = dotenv_error(line, errline, err, errlen,
				    "unterminated quoted value");
				break;
			}
		} else {
			/* " #" starts a comment; a value may start with #. */
			for (v = p; v < q; v++) {
				if (*v == '#' && v > eq && (v[-1] == ' ' ||
				    v[-1] == '\t'))
					break;
			}
			while (v > p && (v[-1] == ' ' || v[-1] == '\t'))
				v--;
			buf_add(&val, p, (size_t)(v - p));
		}
		if (memchr(val.data ? val.data : "", '\0', val.len) != NULL) {
			rc = dotenv_error(line, errline, err, errlen,
			    "value contains a NUL byte");
			break;
		}
		fn(arg, buf_cstr(&key), buf_cstr(&val));
	}
	buf_free(&key);
	buf_free(&val);
	return (rc);
}
