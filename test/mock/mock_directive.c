/*
 * directive: the scenario switches a test hides in the user's message.
 *
 * Tokens look like "mock:NAME" or "mock:NAME=VALUE" and may appear anywhere
 * in the query text; NAME is [A-Za-z0-9_] and VALUE runs to the next
 * whitespace.  Numbers are read from the leading digits of VALUE, so a
 * token followed by punctuation ("mock:events=3.") still works.  Unknown
 * names and malformed values are ignored.
 *
 *   events=N piece=BYTES bytes=N stamp     what the answer pieces are
 *   interval=MS first_delay=MS ping_every=MS ping slow_headers=MS
 *                                           timing
 *   crlf spaced fragment                    framing and serializer
 *   message_file replace usage=P,C          event variants
 *   error error_nocode error_first=CODE,STATUS workflow_failed
 *   http=STATUS,CODE cut[=N] hang hang_headers close_after_end
 *                                           failures (cut: after N pieces,
 *                                           2 by default)
 *   framing=ext|bad|junk|nolast             chunk framing by hand:
 *       extensions and a trailer, a malformed chunk after the first
 *       event, bytes after the last chunk, or no last chunk
 *   think split=N                           reasoning
 *   tool_call=NAME                          the answer is a prompt-mode
 *       call: <tool_call>{"name": "NAME", "arguments": {"city":
 *       "Paris"}}</tool_call> instead of the echo
 *   wf_outputs=SHAPE no_text_chunk          workflow runs
 *   recall                                  conversations: the answer
 *       is "turns=N", N the turns the conversation had before this one
 *
 * think: the answer text starts with "<think>\nThe user wants a mock
 * answer.\n</think>\n\n", as DeepSeek R1 through Dify sends it, in
 * 8-byte pieces of their own (message, agent_message or text_chunk; every
 * app kind).  split=N (N >= 1): the whole answer text, think block
 * included, leaves in consecutive pieces of N bytes, the last one
 * shorter, whatever events, piece or bytes say; a piece never ends inside
 * a UTF-8 character (it grows to the character's end), so JSON stays
 * valid.  The text is built in full first, at most 16 MiB of it.
 * wf_outputs=SHAPE: the outputs object of a workflow run (A is the whole
 * answer the text_chunks carried): text {"text":A} (the default), answer
 * {"answer":A}, output {"output":A}, result {"result":A}, single
 * {"summary":A,"count":3}, multi {"title":"T","body":A}, object
 * {"data":{"answer":A,"n":1}}, named {"text":"decoy","final":A}, none {}.
 * no_text_chunk: a workflow run sends no text_chunk at all; the answer
 * is only in the outputs.
 * recall: the answer text is exactly "turns=N" in place of the echo,
 * events, bytes, stamp or tool_call text, streaming or blocking, where N
 * counts the earlier turns of the conversation (0 for a new one, and for
 * completion and workflow apps, which have none); think and split still
 * apply to it.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "mock.h"

#define DIRECTIVE_MAX_MS	(24LL * 3600 * 1000)
#define DIRECTIVE_MAX_EVENTS	10000000LL
#define DIRECTIVE_MAX_BYTES	(16LL * 1024 * 1024 * 1024)

/* Set every field to "not requested". */
static void
directive_defaults(struct directives *d)
{
	memset(d, 0, sizeof(*d));
	d->events = -1;
	d->piece = 0;
	d->interval = 0;
	d->first_delay = 0;
	d->ping_every = 10000;
	d->bytes = -1;
	d->slow_headers = -1;
}

/* Read a decimal number from the front of v; -1 if there is none. */
static long long
directive_num(const char **v, const char *end, long long max)
{
	long long	n = 0;
	int		digits = 0;

	while (*v < end && isdigit((unsigned char)**v)) {
		if (n <= max)
			n = n * 10 + (**v - '0');
		(*v)++;
		digits++;
	}
	if (digits == 0)
		return (-1);
	return (n > max ? max : n);
}

/* Copy [s, e) into a fixed-size field, truncating. */
static void
directive_copy(char *dst, size_t size, const char *s, const char *e)
{
	size_t	n = (size_t)(e - s);

	if (n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Whether name (n bytes) is the word w. */
static int
directive_is(const char *name, size_t n, const char *w)
{
	return (strlen(w) == n && memcmp(name, w, n) == 0);
}

/* mock:wf_outputs=SHAPE; an unknown shape is ignored. */
static void
directive_wf_outputs(struct directives *d, const char *v, size_t n)
{
	static const char *const	 shapes[] = {
		"text", "answer", "output", "result", "single", "multi",
		"object", "named", "none"
	};
	size_t				 i;

	/* Trailing punctuation ("mock:wf_outputs=single.") is allowed. */
	while (n > 0 && !isalnum((unsigned char)v[n - 1]))
		n--;
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (directive_is(v, n, shapes[i]))
			d->wf_outputs = WFO_TEXT + (int)i;
}

/* Apply one NAME[=VALUE] token. */
static void
directive_apply(struct directives *d, const char *name, size_t nlen,
    const char *v, const char *vend)
{
	const char	*comma;
	long long	 n = -1, m;

	if (v != NULL) {
		const char *t = v;

		n = directive_num(&t, vend, DIRECTIVE_MAX_BYTES);
	}
	if (directive_is(name, nlen, "events") && n >= 0)
		d->events = n > DIRECTIVE_MAX_EVENTS ? DIRECTIVE_MAX_EVENTS : n;
	else if (directive_is(name, nlen, "piece") && n >= 0)
		d->piece = n > 1048576 ? 1048576 : n;
	else if (directive_is(name, nlen, "interval") && n >= 0)
		d->interval = n > DIRECTIVE_MAX_MS ? DIRECTIVE_MAX_MS : n;
	else if (directive_is(name, nlen, "first_delay") && n >= 0)
		d->first_delay = n > DIRECTIVE_MAX_MS ? DIRECTIVE_MAX_MS : n;
	else if (directive_is(name, nlen, "ping_every") && n > 0)
		d->ping_every = n > DIRECTIVE_MAX_MS ? DIRECTIVE_MAX_MS : n;
	else if (directive_is(name, nlen, "slow_headers") && n >= 0)
		d->slow_headers = n > DIRECTIVE_MAX_MS ? DIRECTIVE_MAX_MS : n;
	else if (directive_is(name, nlen, "bytes") && n >= 0)
		d->bytes = n;
	else if (directive_is(name, nlen, "ping"))
		d->ping_each = 1;
	else if (directive_is(name, nlen, "crlf"))
		d->crlf = 1;
	else if (directive_is(name, nlen, "spaced"))
		d->spaced = 1;
	else if (directive_is(name, nlen, "fragment"))
		d->fragment = 1;
	else if (directive_is(name, nlen, "stamp"))
		d->stamp = 1;
	else if (directive_is(name, nlen, "message_file"))
		d->message_file = 1;
	else if (directive_is(name, nlen, "replace"))
		d->replace = 1;
	else if (directive_is(name, nlen, "error"))
		d->error = 1;
	else if (directive_is(name, nlen, "error_nocode"))
		d->error_nocode = 1;
	else if (directive_is(name, nlen, "cut")) {
		d->cut = 1;
		d->cut_after = n >= 0 ? n : 2;
	}
	else if (directive_is(name, nlen, "hang"))
		d->hang = 1;
	else if (directive_is(name, nlen, "hang_headers"))
		d->hang_headers = 1;
	else if (directive_is(name, nlen, "workflow_failed"))
		d->workflow_failed = 1;
	else if (directive_is(name, nlen, "close_after_end"))
		d->close_after_end = 1;
	else if (directive_is(name, nlen, "think"))
		d->think = 1;
	else if (directive_is(name, nlen, "tool_call") && v != NULL)
		directive_copy(d->tool_call, sizeof(d->tool_call), v, vend);
	else if (directive_is(name, nlen, "split") && n >= 1)
		d->split = n > 1048576 ? 1048576 : n;
	else if (directive_is(name, nlen, "no_text_chunk"))
		d->no_text_chunk = 1;
	else if (directive_is(name, nlen, "recall"))
		d->recall = 1;
	else if (directive_is(name, nlen, "wf_outputs") && v != NULL)
		directive_wf_outputs(d, v, (size_t)(vend - v));
	else if (directive_is(name, nlen, "framing") && v != NULL) {
		size_t	vlen = (size_t)(vend - v);

		if (directive_is(v, vlen, "ext"))
			d->framing = FRAMING_EXT;
		else if (directive_is(v, vlen, "bad"))
			d->framing = FRAMING_BAD;
		else if (directive_is(v, vlen, "junk"))
			d->framing = FRAMING_JUNK;
		else if (directive_is(v, vlen, "nolast"))
			d->framing = FRAMING_NOLAST;
	}
	else if (directive_is(name, nlen, "usage") && v != NULL) {
		/* usage=P,C */
		const char *t = v;

		if ((n = directive_num(&t, vend, 1000000000LL)) < 0 ||
		    t >= vend || *t++ != ',')
			return;
		if ((m = directive_num(&t, vend, 1000000000LL)) < 0)
			return;
		d->usage = 1;
		d->usage_p = n;
		d->usage_c = m;
	} else if (directive_is(name, nlen, "http") && v != NULL) {
		/* http=STATUS,CODE */
		const char *t = v;

		if ((n = directive_num(&t, vend, 999)) < 100 || n > 599)
			return;
		d->http = 1;
		d->http_status = (int)n;
		if (t < vend && *t == ',' && t + 1 < vend)
			directive_copy(d->http_code, sizeof(d->http_code),
			    t + 1, vend);
		else
			snprintf(d->http_code, sizeof(d->http_code), "%s",
			    "mock_error");
	} else if (directive_is(name, nlen, "error_first") && v != NULL) {
		/* error_first=CODE,STATUS */
		for (comma = vend; comma > v && comma[-1] != ','; comma--)
			;
		if (comma > v) {
			const char *t = comma;

			if ((m = directive_num(&t, vend, 999)) < 0)
				m = 400;
			directive_copy(d->error_first_code,
			    sizeof(d->error_first_code), v, comma - 1);
		} else {
			m = 400;
			directive_copy(d->error_first_code,
			    sizeof(d->error_first_code), v, vend);
		}
		d->error_first = 1;
		d->error_first_status = (int)m;
	}
}

/* Collect every directive found in the query text q of n bytes. */
void
directive_parse(struct directives *d, const char *q, size_t n)
{
	const char	*p = q, *end = q + n, *name, *v, *vend;
	size_t		 nlen;

	directive_defaults(d);
	while (p < end && (p = memmem(p, (size_t)(end - p), "mock:", 5)) !=
	    NULL) {
		p += 5;
		name = p;
		while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
			p++;
		nlen = (size_t)(p - name);
		v = vend = NULL;
		if (p < end && *p == '=') {
			v = ++p;
			while (p < end && !isspace((unsigned char)*p))
				p++;
			vend = p;
		}
		if (nlen > 0)
			directive_apply(d, name, nlen, v, vend);
	}
}
