/*
 * dify_event: read one Dify stream event (the JSON of a data: line).
 *
 * This runs once per Dify event, so it is a single pass over the bytes
 * that picks out the few fields the proxy needs (event, answer, ids, error
 * fields, usage, workflow status) and skips the rest without building a
 * tree or allocating.  Strings without escapes point into the input;
 * strings with escapes are decoded into the event's scratch buffer, which
 * is reserved at the input's size first (a decoded string is never longer
 * than its JSON form), so the pointers stay valid.  Both live until the
 * next parse or dify_event_clear.
 *
 * It accepts and rejects what jansson (JSON_ALLOW_NUL) would: an object at
 * the top and nothing after it, strings of valid UTF-8 with no raw control
 * characters and well-formed escapes (surrogates paired), numbers by the
 * JSON grammar (integers that overflow 64 bits and reals that overflow a
 * double are errors), at most 2048 levels of nesting; of duplicate keys
 * the last one counts.  One deliberate difference: jansson 2.14 skips a raw
 * NUL byte right after a number, which is an error here.
 * test/fuzz/fuzz_dify_event.c holds it to jansson.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dify_event.h"
#include "util.h"

#define DIFY_EVENT_MAX_DEPTH	2048

static const struct {
	const char		*name;
	enum dify_event_type	 type;
} dify_event_names[] = {
	{ "message", DIFY_EVENT_MESSAGE },
	{ "agent_message", DIFY_EVENT_AGENT_MESSAGE },
	{ "message_file", DIFY_EVENT_MESSAGE_FILE },
	{ "message_replace", DIFY_EVENT_MESSAGE_REPLACE },
	{ "message_end", DIFY_EVENT_MESSAGE_END },
	{ "workflow_started", DIFY_EVENT_WORKFLOW_STARTED },
	{ "workflow_finished", DIFY_EVENT_WORKFLOW_FINISHED },
	{ "workflow_paused", DIFY_EVENT_WORKFLOW_PAUSED },
	{ "error", DIFY_EVENT_ERROR },
	{ "ping", DIFY_EVENT_OTHER },
	{ "agent_thought", DIFY_EVENT_OTHER },
	{ "agent_log", DIFY_EVENT_OTHER },
	{ "tts_message", DIFY_EVENT_OTHER },
	{ "tts_message_end", DIFY_EVENT_OTHER },
	{ "node_started", DIFY_EVENT_OTHER },
	{ "node_finished", DIFY_EVENT_OTHER },
	{ "node_retry", DIFY_EVENT_OTHER },
	{ "iteration_started", DIFY_EVENT_OTHER },
	{ "iteration_next", DIFY_EVENT_OTHER },
	{ "iteration_completed", DIFY_EVENT_OTHER },
	{ "loop_started", DIFY_EVENT_OTHER },
	{ "loop_next", DIFY_EVENT_OTHER },
	{ "loop_completed", DIFY_EVENT_OTHER },
	{ "text_chunk", DIFY_EVENT_OTHER },
	{ "text_replace", DIFY_EVENT_OTHER },
	{ "reasoning_chunk", DIFY_EVENT_OTHER },
	{ "human_input_required", DIFY_EVENT_OTHER },
	{ "human_input_form_filled", DIFY_EVENT_OTHER },
	{ "human_input_form_timeout", DIFY_EVENT_OTHER },
};

/* The kind of value just scanned. */
enum dify_scan_kind {
	SCAN_OTHER,		/* object, array, true, false, null, real */
	SCAN_STRING,
	SCAN_INTEGER
};

/* A scanned value: what the field extractors may want of it. */
struct dify_scan_value {
	enum dify_scan_kind	 kind;
	struct dify_str		 str;
	int64_t			 integer;
};

struct dify_scan {
	const char	*p;
	const char	*end;
	struct buf	*scratch;
};

/* The fields found, before the event type decides which of them count. */
struct dify_fields {
	struct dify_scan_value	 event, answer, task_id, conversation_id;
	struct dify_scan_value	 message_id, code, message, status;
	struct dify_scan_value	 wf_status, wf_error, wf_total;
	struct dify_scan_value	 prompt, completion, total;
	int			 have_meta_usage;	/* metadata.usage object */
};

/* Paths of the nested objects whose members we read. */
enum dify_scan_where {
	WHERE_TOP,
	WHERE_METADATA,
	WHERE_USAGE,
	WHERE_DATA,
	WHERE_NONE		/* an object we only validate */
};

static int	dify_scan_object(struct dify_scan *, struct dify_fields *,
		    enum dify_scan_where);

static int	dify_scan_string(struct dify_scan *, struct dify_str *);

/* Skip JSON whitespace. */
static void
dify_scan_ws(struct dify_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Value of one hex digit, or -1. */
static int
dify_scan_hex(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Read the four hex digits of a \u escape at p (p + 4 <= end). */
static long
dify_scan_u4(const char *p)
{
	long	v = 0;
	int	i, h;

	for (i = 0; i < 4; i++) {
		if ((h = dify_scan_hex(p[i])) < 0)
			return (-1);
		v = v * 16 + h;
	}
	return (v);
}

/*
 * True if any byte of the 8 at p is a quote, a backslash, a control
 * character or not ASCII: the bytes a string scan must look at one by one.
 * (The usual "has a zero byte" / "has a byte less than n" word tests.)
 */
static int
dify_scan_word_special(const char *p)
{
	const uint64_t	ones = 0x0101010101010101ULL;
	const uint64_t	highs = 0x8080808080808080ULL;
	uint64_t	w, q, b;

	memcpy(&w, p, 8);
	q = w ^ (ones * '"');
	b = w ^ (ones * '\\');
	return ((((w - ones * 0x20) & ~w) | w | ((q - ones) & ~q) |
	    ((b - ones) & ~b)) & highs) != 0;
}

/* Append code point cp as UTF-8 to the scratch buffer (space reserved). */
static void
dify_scan_put_utf8(struct buf *b, long cp)
{
	char	*o = b->data + b->len;

	if (cp < 0x80) {
		o[0] = (char)cp;
		b->len += 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		b->len += 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		b->len += 3;
	} else {
		o[0] = (char)(0xf0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		b->len += 4;
	}
}

/*
 * Scan a string (s->p at its opening quote) into out: a pointer into the
 * input when it has no escapes, else its decoded form in scratch.
 */
static int
dify_scan_string(struct dify_scan *s, struct dify_str *out)
{
	const char	*start = ++s->p, *q;
	struct buf	*b = s->scratch;
	size_t		 n, decoded = 0;
	long		 cp, lo;
	int		 escaped = 0;

	for (q = start; q < s->end; ) {
		unsigned char c;

		/* Plain ASCII needs no decision: skip it a word at a time. */
		if (!escaped) {
			while (s->end - q >= 8 && !dify_scan_word_special(q))
				q += 8;
			if (q >= s->end)
				break;
		}
		c = (unsigned char)*q;

		if (c == '"')
			break;
		if (c < 0x20)
			return (-1);
		if (c == '\\') {
			if (!escaped) {
				/* Copy what came before the first escape. */
				escaped = 1;
				decoded = b->len;
				memcpy(b->data + b->len, start,
				    (size_t)(q - start));
				b->len += (size_t)(q - start);
			}
			if (++q >= s->end)
				return (-1);
			switch (*q) {
			case '"':
			case '\\':
			case '/':
				b->data[b->len++] = *q;
				break;
			case 'b':
				b->data[b->len++] = '\b';
				break;
			case 'f':
				b->data[b->len++] = '\f';
				break;
			case 'n':
				b->data[b->len++] = '\n';
				break;
			case 'r':
				b->data[b->len++] = '\r';
				break;
			case 't':
				b->data[b->len++] = '\t';
				break;
			case 'u':
				if (s->end - q < 5 ||
				    (cp = dify_scan_u4(q + 1)) < 0)
					return (-1);
				q += 4;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return (-1);	/* lone low half */
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (s->end - q < 7 || q[1] != '\\' ||
					    q[2] != 'u' ||
					    (lo = dify_scan_u4(q + 3)) < 0xdc00 ||
					    lo > 0xdfff)
						return (-1);
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (lo - 0xdc00);
					q += 6;
				}
				dify_scan_put_utf8(b, cp);
				break;
			default:
				return (-1);
			}
			q++;
			continue;
		}
		if (c < 0x80)
			n = 1;
		else if ((n = buf_utf8_seqlen((const unsigned char *)q,
		    (size_t)(s->end - q))) == 0)
			return (-1);
		if (escaped) {
			memcpy(b->data + b->len, q, n);
			b->len += n;
		}
		q += n;
	}
	if (q >= s->end)
		return (-1);
	if (escaped) {
		out->s = b->data + decoded;
		out->len = b->len - decoded;
	} else {
		out->s = start;
		out->len = (size_t)(q - start);
	}
	s->p = q + 1;
	return (0);
}

/* Scan an object key: a string without NUL bytes (jansson refuses them). */
static int
dify_scan_key(struct dify_scan *s, struct dify_str *out)
{
	if (dify_scan_string(s, out) != 0)
		return (-1);
	return (memchr(out->s, '\0', out->len) != NULL ? -1 : 0);
}

/*
 * Scan a number.  An integer (no fraction or exponent) must fit in 64
 * bits; a real must not overflow a double.
 */
static int
dify_scan_number(struct dify_scan *s, struct dify_scan_value *v)
{
	const char	*start = s->p, *p = s->p;
	char		 tmp[64], *end;
	int		 real = 0;
	double		 d;
	uint64_t	 u = 0, digit, limit;

	if (p < s->end && *p == '-')
		p++;
	if (p >= s->end)
		return (-1);
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9') {
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	} else
		return (-1);
	if (p < s->end && *p == '.') {
		real = 1;
		if (++p >= s->end || *p < '0' || *p > '9')
			return (-1);
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < s->end && (*p == 'e' || *p == 'E')) {
		real = 1;
		if (++p < s->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= s->end || *p < '0' || *p > '9')
			return (-1);
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	s->p = p;
	if (real) {
		/* Only the overflow check needs the value. */
		if ((size_t)(p - start) < sizeof(tmp)) {
			memcpy(tmp, start, (size_t)(p - start));
			tmp[p - start] = '\0';
			errno = 0;
			d = strtod(tmp, &end);
			if (errno == ERANGE && isinf(d))
				return (-1);
		} else {
			char	*big = xstrndup(start, (size_t)(p - start));

			errno = 0;
			d = strtod(big, &end);
			free(big);
			if (errno == ERANGE && isinf(d))
				return (-1);
		}
		v->kind = SCAN_OTHER;
		return (0);
	}
	limit = *start == '-' ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (p = start + (*start == '-'); p < s->p; p++) {
		digit = (uint64_t)(*p - '0');
		if (u > (limit - digit) / 10)
			return (-1);
		u = u * 10 + digit;
	}
	v->kind = SCAN_INTEGER;
	v->integer = *start == '-' ? (int64_t)(0 - u) : (int64_t)u;
	return (0);
}

/* Scan a literal (true, false, null). */
static int
dify_scan_literal(struct dify_scan *s, const char *word, size_t len)
{
	if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len) != 0)
		return (-1);
	s->p += len;
	return (0);
}

/*
 * Skip an array or object (s->p at its opening bracket) without recursion:
 * a stack of the closers expected, as deep as jansson allows.
 */
static int
dify_scan_skip_container(struct dify_scan *s, int depth)
{
	char			 stack[DIFY_EVENT_MAX_DEPTH];
	int			 top = 0;
	struct dify_scan_value	 v;
	int			 in_object;

	for (;;) {
		/* At an opening bracket. */
		if (depth + top + 1 > DIFY_EVENT_MAX_DEPTH)
			return (-1);
		stack[top++] = *s->p == '{' ? '}' : ']';
		s->p++;
		dify_scan_ws(s);
		if (s->p < s->end && *s->p == stack[top - 1]) {
			s->p++;
			goto closed;
		}
element:
		in_object = stack[top - 1] == '}';
		if (in_object) {
			if (s->p >= s->end || *s->p != '"' ||
			    dify_scan_key(s, &v.str) != 0)
				return (-1);
			dify_scan_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return (-1);
			s->p++;
			dify_scan_ws(s);
		}
		if (s->p >= s->end)
			return (-1);
		switch (*s->p) {
		case '{':
		case '[':
			continue;	/* descend */
		case '"':
			if (dify_scan_string(s, &v.str) != 0)
				return (-1);
			break;
		case 't':
			if (dify_scan_literal(s, "true", 4) != 0)
				return (-1);
			break;
		case 'f':
			if (dify_scan_literal(s, "false", 5) != 0)
				return (-1);
			break;
		case 'n':
			if (dify_scan_literal(s, "null", 4) != 0)
				return (-1);
			break;
		default:
			if (dify_scan_number(s, &v) != 0)
				return (-1);
			break;
		}
		/* jansson counts scalars as a level of nesting too. */
		if (depth + top + 1 > DIFY_EVENT_MAX_DEPTH)
			return (-1);
after_value:
		dify_scan_ws(s);
		if (s->p >= s->end)
			return (-1);
		if (*s->p == ',') {
			s->p++;
			dify_scan_ws(s);
			goto element;
		}
		if (*s->p != stack[top - 1])
			return (-1);
		s->p++;
closed:
		if (--top == 0)
			return (0);
		goto after_value;
	}
}

/* Scan any value into v (containers are validated and skipped). */
static int
dify_scan_value(struct dify_scan *s, struct dify_scan_value *v, int depth)
{
	v->kind = SCAN_OTHER;
	v->str.s = NULL;
	v->str.len = 0;
	if (s->p >= s->end)
		return (-1);
	switch (*s->p) {
	case '{':
	case '[':
		return (dify_scan_skip_container(s, depth));
	case '"':
		v->kind = SCAN_STRING;
		return (dify_scan_string(s, &v->str));
	case 't':
		return (dify_scan_literal(s, "true", 4));
	case 'f':
		return (dify_scan_literal(s, "false", 5));
	case 'n':
		return (dify_scan_literal(s, "null", 4));
	default:
		return (dify_scan_number(s, v));
	}
}

/* True if a decoded key equals name (a literal: its length is free). */
#define dify_scan_key_is(k, name)					\
	((k)->len == sizeof(name) - 1 &&				\
	    memcmp((k)->s, (name), sizeof(name) - 1) == 0)

/* The field a key of an object at where fills, or NULL. */
static struct dify_scan_value *
dify_scan_field(struct dify_fields *f, enum dify_scan_where where,
    const struct dify_str *k)
{
	switch (where) {
	case WHERE_TOP:
		if (dify_scan_key_is(k, "event"))
			return (&f->event);
		if (dify_scan_key_is(k, "answer"))
			return (&f->answer);
		if (dify_scan_key_is(k, "task_id"))
			return (&f->task_id);
		if (dify_scan_key_is(k, "conversation_id"))
			return (&f->conversation_id);
		if (dify_scan_key_is(k, "message_id"))
			return (&f->message_id);
		if (dify_scan_key_is(k, "code"))
			return (&f->code);
		if (dify_scan_key_is(k, "message"))
			return (&f->message);
		if (dify_scan_key_is(k, "status"))
			return (&f->status);
		break;
	case WHERE_USAGE:
		if (dify_scan_key_is(k, "prompt_tokens"))
			return (&f->prompt);
		if (dify_scan_key_is(k, "completion_tokens"))
			return (&f->completion);
		if (dify_scan_key_is(k, "total_tokens"))
			return (&f->total);
		break;
	case WHERE_DATA:
		if (dify_scan_key_is(k, "status"))
			return (&f->wf_status);
		if (dify_scan_key_is(k, "error"))
			return (&f->wf_error);
		if (dify_scan_key_is(k, "total_tokens"))
			return (&f->wf_total);
		break;
	default:
		break;
	}
	return (NULL);
}

/* Forget what an earlier object at where set (a duplicate key replaces it). */
static void
dify_scan_reset(struct dify_fields *f, enum dify_scan_where where)
{
	static const struct dify_scan_value	none;

	switch (where) {
	case WHERE_METADATA:
		f->have_meta_usage = 0;
		/* FALLTHROUGH */
	case WHERE_USAGE:
		f->prompt = f->completion = f->total = none;
		break;
	case WHERE_DATA:
		f->wf_status = f->wf_error = f->wf_total = none;
		break;
	default:
		break;
	}
}

/*
 * Scan an object (s->p at its brace) whose members may be fields we want;
 * depth counts the enclosing containers.
 */
static int
dify_scan_object(struct dify_scan *s, struct dify_fields *f,
    enum dify_scan_where where)
{
	struct dify_scan_value	 key, v, *field;
	enum dify_scan_where	 inner;
	int			 depth = where == WHERE_TOP ? 1 :
				    where == WHERE_USAGE ? 3 : 2;

	s->p++;
	dify_scan_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return (0);
	}
	for (;;) {
		if (s->p >= s->end || *s->p != '"' ||
		    dify_scan_key(s, &key.str) != 0)
			return (-1);
		dify_scan_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return (-1);
		s->p++;
		dify_scan_ws(s);
		if (s->p >= s->end)
			return (-1);

		inner = WHERE_NONE;
		if (where == WHERE_TOP && dify_scan_key_is(&key.str,
		    "metadata"))
			inner = WHERE_METADATA;
		else if (where == WHERE_TOP && dify_scan_key_is(&key.str,
		    "data"))
			inner = WHERE_DATA;
		else if (where == WHERE_METADATA && dify_scan_key_is(&key.str,
		    "usage"))
			inner = WHERE_USAGE;
		if (inner != WHERE_NONE) {
			/* The last occurrence of a key is the one that counts. */
			dify_scan_reset(f, inner);
			if (*s->p == '{') {
				if (inner == WHERE_USAGE)
					f->have_meta_usage = 1;
				if (dify_scan_object(s, f, inner) != 0)
					return (-1);
			} else if (dify_scan_value(s, &v, depth) != 0)
				return (-1);
		} else {
			if (dify_scan_value(s, &v, depth) != 0)
				return (-1);
			if ((field = dify_scan_field(f, where, &key.str)) !=
			    NULL)
				*field = v;
		}
		dify_scan_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			dify_scan_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return (0);
		}
		return (-1);
	}
}

/* A string field as a dify_str (NULL if the value was not a string). */
static struct dify_str
dify_event_str(const struct dify_scan_value *v)
{
	struct dify_str	none = { NULL, 0 };

	return (v->kind == SCAN_STRING ? v->str : none);
}

/* A count: a non-negative integer; returns 0 if present. */
static int
dify_event_count(const struct dify_scan_value *v, uint64_t *out)
{
	if (v->kind != SCAN_INTEGER || v->integer < 0)
		return (-1);
	*out = (uint64_t)v->integer;
	return (0);
}

/* Fill usage from the counts of metadata.usage. */
static void
dify_event_usage(const struct dify_fields *f, struct dify_usage *u)
{
	int	have_prompt, have_completion, have_total;

	have_prompt = dify_event_count(&f->prompt, &u->prompt_tokens) == 0;
	have_completion = dify_event_count(&f->completion,
	    &u->completion_tokens) == 0;
	have_total = dify_event_count(&f->total, &u->total_tokens) == 0;
	u->present = have_prompt || have_completion || have_total;
	u->split = have_prompt && have_completion;
	if (!have_total)
		u->total_tokens = u->prompt_tokens + u->completion_tokens;
}

/*
 * Parse len bytes of event JSON into ev.  Returns 0, or -1 (with ev
 * cleared) if the bytes are not a JSON object.  An object without a known
 * "event" parses as DIFY_EVENT_UNKNOWN.
 */
int
dify_event_parse(struct dify_event *ev, const char *json, size_t len)
{
	struct buf		 scratch = ev->scratch;
	struct dify_fields	 f;
	struct dify_scan	 s;
	struct dify_str		 name;
	size_t			 i;

	memset(ev, 0, sizeof(*ev));
	ev->scratch = scratch;
	buf_reset(&ev->scratch);
	buf_reserve(&ev->scratch, len);
	memset(&f, 0, sizeof(f));
	s.p = json;
	s.end = json + len;
	s.scratch = &ev->scratch;

	dify_scan_ws(&s);
	if (s.p >= s.end || *s.p != '{' ||
	    dify_scan_object(&s, &f, WHERE_TOP) != 0)
		goto fail;
	dify_scan_ws(&s);
	if (s.p != s.end)
		goto fail;

	name = dify_event_str(&f.event);
	ev->name = name;
	if (name.s != NULL) {
		for (i = 0; i < nitems(dify_event_names); i++) {
			if (strlen(dify_event_names[i].name) == name.len &&
			    memcmp(name.s, dify_event_names[i].name,
			    name.len) == 0) {
				ev->type = dify_event_names[i].type;
				break;
			}
		}
	}
	ev->task_id = dify_event_str(&f.task_id);
	ev->conversation_id = dify_event_str(&f.conversation_id);
	ev->message_id = dify_event_str(&f.message_id);

	switch (ev->type) {
	case DIFY_EVENT_MESSAGE:
	case DIFY_EVENT_AGENT_MESSAGE:
	case DIFY_EVENT_MESSAGE_FILE:
	case DIFY_EVENT_MESSAGE_REPLACE:
		ev->answer = dify_event_str(&f.answer);
		/* A blocking-mode body carries the usage as well. */
		if (f.have_meta_usage)
			dify_event_usage(&f, &ev->usage);
		break;
	case DIFY_EVENT_MESSAGE_END:
		if (f.have_meta_usage)
			dify_event_usage(&f, &ev->usage);
		break;
	case DIFY_EVENT_ERROR:
		ev->code = dify_event_str(&f.code);
		ev->message = dify_event_str(&f.message);
		if (f.status.kind == SCAN_INTEGER && f.status.integer > 0 &&
		    f.status.integer < 1000)
			ev->status = (int)f.status.integer;
		break;
	case DIFY_EVENT_WORKFLOW_FINISHED:
	case DIFY_EVENT_WORKFLOW_PAUSED:
		ev->wf_status = dify_event_str(&f.wf_status);
		ev->wf_error = dify_event_str(&f.wf_error);
		if (dify_event_count(&f.wf_total, &ev->usage.total_tokens) == 0)
			ev->usage.present = 1;
		break;
	default:
		break;
	}
	return (0);
fail:
	/* Keep the scratch buffer as it is now: reserving may have moved it. */
	scratch = ev->scratch;
	memset(ev, 0, sizeof(*ev));
	ev->scratch = scratch;
	buf_reset(&ev->scratch);
	return (-1);
}

/* Release the event's scratch buffer and clear every field. */
void
dify_event_clear(struct dify_event *ev)
{
	buf_free(&ev->scratch);
	memset(ev, 0, sizeof(*ev));
}

/* True if a string field holds exactly the C string want. */
int
dify_str_eq(const struct dify_str *s, const char *want)
{
	size_t	n = strlen(want);

	return (s->s != NULL && s->len == n && memcmp(s->s, want, n) == 0);
}

/*
 * True if the event carries answer text: message and agent_message, and a
 * message_file with an "answer" (Dify >= 1.11.2 labels LLM text chunks
 * message_file once the message has a file; a real file event has url,
 * type and belongs_to instead).
 */
int
dify_event_is_text(const struct dify_event *ev)
{
	switch (ev->type) {
	case DIFY_EVENT_MESSAGE:
	case DIFY_EVENT_AGENT_MESSAGE:
	case DIFY_EVENT_MESSAGE_FILE:
		return (ev->answer.s != NULL);
	default:
		return (0);
	}
}
