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
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dify_event.h"
#include "json_scan.h"
#include "util.h"

#define DIFY_EVENT_MAX_DEPTH	2048

#define DIFY_EVENT_NAME(n, t)	{ n, sizeof(n) - 1, t }

/* Event names, the frequent ones first. */
static const struct {
	const char		*name;
	size_t			 len;
	enum dify_event_type	 type;
} dify_event_names[] = {
	DIFY_EVENT_NAME("message", DIFY_EVENT_MESSAGE),
	DIFY_EVENT_NAME("agent_message", DIFY_EVENT_AGENT_MESSAGE),
	DIFY_EVENT_NAME("message_file", DIFY_EVENT_MESSAGE_FILE),
	DIFY_EVENT_NAME("message_replace", DIFY_EVENT_MESSAGE_REPLACE),
	DIFY_EVENT_NAME("message_end", DIFY_EVENT_MESSAGE_END),
	DIFY_EVENT_NAME("workflow_started", DIFY_EVENT_WORKFLOW_STARTED),
	DIFY_EVENT_NAME("workflow_finished", DIFY_EVENT_WORKFLOW_FINISHED),
	DIFY_EVENT_NAME("workflow_paused", DIFY_EVENT_WORKFLOW_PAUSED),
	DIFY_EVENT_NAME("error", DIFY_EVENT_ERROR),
	DIFY_EVENT_NAME("ping", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("text_chunk", DIFY_EVENT_TEXT_CHUNK),
	DIFY_EVENT_NAME("agent_thought", DIFY_EVENT_AGENT_THOUGHT),
	DIFY_EVENT_NAME("agent_log", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("tts_message", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("tts_message_end", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("node_started", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("node_finished", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("node_retry", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("iteration_started", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("iteration_next", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("iteration_completed", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("loop_started", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("loop_next", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("loop_completed", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("text_replace", DIFY_EVENT_TEXT_REPLACE),
	DIFY_EVENT_NAME("reasoning_chunk", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("human_input_required", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("human_input_form_filled", DIFY_EVENT_OTHER),
	DIFY_EVENT_NAME("human_input_form_timeout", DIFY_EVENT_OTHER),
};

struct dify_scan {
	const char	*p;
	const char	*end;
	struct buf	*scratch;
	const char	*start;		/* the input */
	int		 memo;		/* record the prefix memo at "answer" */
	struct dify_event *ev;
	unsigned	 sets;		/* fields and nested objects met */
	/* The first top-level "answer" with a string value, if any. */
	const char	*ans_member;	/* where its member begins */
	const char	*ans_quote;	/* its string's opening quote */
	const char	*ans_end;	/* just past its closing quote */
	unsigned	 ans_sets;	/* sets when it was read */
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

/* Skip JSON whitespace (orjson writes none: the loop rarely turns). */
static inline void
dify_scan_ws(struct dify_scan *s)
{
	s->p = json_scan_ws(s->p, s->end);
}

/* Scan a string (s->p at its opening quote) into out. */
static inline int
dify_scan_string(struct dify_scan *s, struct dify_str *out)
{
	return (json_scan_string(&s->p, s->end, s->scratch, &out->s,
	    &out->len));
}

/*
 * Scan an object key: a string without NUL bytes (jansson refuses them).
 * Raw control bytes are refused in any string, so only a key with escapes,
 * decoded into scratch rather than pointing into the input, can hold one.
 */
static int
dify_scan_key(struct dify_scan *s, struct dify_str *out)
{
	const char	*start = s->p + 1;

	if (dify_scan_string(s, out) != 0)
		return (-1);
	return (out->s != start && memchr(out->s, '\0', out->len) != NULL ?
	    -1 : 0);
}

/* Scan a number; only an integer's value is kept. */
static int
dify_scan_number(struct dify_scan *s, struct dify_scan_value *v)
{
	struct json_scan_number	n;

	if (json_scan_number(&s->p, s->end, &n) != 0)
		return (-1);
	v->kind = n.is_integer ? SCAN_INTEGER : SCAN_OTHER;
	v->integer = n.integer;
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
	if (k->len < 2 || k->len > 17)
		return (NULL);
	switch (where) {
	case WHERE_TOP:
		switch (k->len) {
		case 2:
			return (dify_scan_key_is(k, "id") ? &f->id : NULL);
		case 3:
			return (dify_scan_key_is(k, "url") ? &f->url : NULL);
		case 4:
			if (dify_scan_key_is(k, "code"))
				return (&f->code);
			if (dify_scan_key_is(k, "type"))
				return (&f->type);
			return (dify_scan_key_is(k, "tool") ? &f->tool : NULL);
		case 5:
			return (dify_scan_key_is(k, "event") ? &f->event : NULL);
		case 6:
			if (dify_scan_key_is(k, "answer"))
				return (&f->answer);
			return (dify_scan_key_is(k, "status") ? &f->status :
			    NULL);
		case 7:
			if (dify_scan_key_is(k, "thought"))
				return (&f->thought);
			return (dify_scan_key_is(k, "task_id") ? &f->task_id :
			    dify_scan_key_is(k, "message") ? &f->message : NULL);
		case 8:
			return (dify_scan_key_is(k, "position") ?
			    &f->position : NULL);
		case 10:
			if (dify_scan_key_is(k, "belongs_to"))
				return (&f->belongs_to);
			if (dify_scan_key_is(k, "tool_input"))
				return (&f->tool_input);
			return (dify_scan_key_is(k, "message_id") ?
			    &f->message_id : NULL);
		case 11:
			return (dify_scan_key_is(k, "observation") ?
			    &f->observation : NULL);
		case 15:
			return (dify_scan_key_is(k, "conversation_id") ?
			    &f->conversation_id : NULL);
		}
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
		if (dify_scan_key_is(k, "text"))
			return (&f->wf_text);
		if (dify_scan_key_is(k, "outputs"))
			return (&f->wf_outputs);
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
		f->wf_text = f->wf_outputs = none;
		f->wf_outputs_json.s = NULL;
		f->wf_outputs_json.len = 0;
		break;
	default:
		break;
	}
}

static int	dify_scan_members(struct dify_scan *, struct dify_fields *,
		    enum dify_scan_where, int);
static void	dify_event_memo_save(struct dify_scan *,
		    const struct dify_fields *, const char *, int);
static void	dify_event_reset(struct dify_event *);

/*
 * Scan an object (s->p at its brace) whose members may be fields we want.
 */
static int
dify_scan_object(struct dify_scan *s, struct dify_fields *f,
    enum dify_scan_where where)
{
	s->p++;
	return (dify_scan_members(s, f, where, 1));
}

/*
 * Scan an object's members from just after its brace (first set) or a
 * comma to its closing brace.  Parsing can resume here from the prefix
 * memo, which is why the whitespace and the empty object are handled here.
 */
static int
dify_scan_members(struct dify_scan *s, struct dify_fields *f,
    enum dify_scan_where where, int first)
{
	struct dify_scan_value	 key, v, *field;
	enum dify_scan_where	 inner;
	const char		*member, *value;
	int			 depth = where == WHERE_TOP ? 1 :
				    where == WHERE_USAGE ? 3 : 2;
	int			 answer;

	for (;; first = 0) {
		member = s->p;
		dify_scan_ws(s);
		if (first && s->p < s->end && *s->p == '}') {
			s->p++;
			return (0);
		}
		if (s->p >= s->end || *s->p != '"' ||
		    dify_scan_key(s, &key.str) != 0)
			return (-1);
		answer = where == WHERE_TOP &&
		    dify_scan_key_is(&key.str, "answer");
		if (answer && s->memo) {
			/* What came before the answer repeats in the stream. */
			dify_event_memo_save(s, f, member, first);
			s->memo = 0;
		}
		dify_scan_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return (-1);
		s->p++;
		dify_scan_ws(s);
		if (s->p >= s->end)
			return (-1);
		value = s->p;

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
			s->sets++;
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
			    NULL) {
				*field = v;
				if (field == &f->wf_outputs) {
					f->wf_outputs_json.s = value;
					f->wf_outputs_json.len =
					    (size_t)(s->p - value);
				}
				s->sets++;
			}
			if (answer && v.kind == SCAN_STRING &&
			    s->ans_member == NULL) {
				s->ans_member = member;
				s->ans_quote = value;
				s->ans_end = s->p;
				s->ans_sets = s->sets;
			}
		}
		dify_scan_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return (0);
		}
		return (-1);
	}
}

/* Move a string field's pointer from one copy of the bytes to another. */
static void
dify_event_rebase(struct dify_scan_value *v, const char *from, const char *to)
{
	if (v->kind == SCAN_STRING && v->str.s != NULL)
		v->str.s = to + (v->str.s - from);
}

/* Rebase every string field of f. */
static void
dify_event_rebase_all(struct dify_fields *f, const char *from, const char *to)
{
	static const size_t	offs[] = {
		offsetof(struct dify_fields, event),
		offsetof(struct dify_fields, answer),
		offsetof(struct dify_fields, task_id),
		offsetof(struct dify_fields, conversation_id),
		offsetof(struct dify_fields, message_id),
		offsetof(struct dify_fields, code),
		offsetof(struct dify_fields, message),
		offsetof(struct dify_fields, status),
		offsetof(struct dify_fields, wf_status),
		offsetof(struct dify_fields, wf_error),
		offsetof(struct dify_fields, wf_total),
		offsetof(struct dify_fields, wf_text),
		offsetof(struct dify_fields, wf_outputs),
		offsetof(struct dify_fields, id),
		offsetof(struct dify_fields, type),
		offsetof(struct dify_fields, url),
		offsetof(struct dify_fields, belongs_to),
		offsetof(struct dify_fields, position),
		offsetof(struct dify_fields, thought),
		offsetof(struct dify_fields, observation),
		offsetof(struct dify_fields, tool),
		offsetof(struct dify_fields, tool_input),
		offsetof(struct dify_fields, prompt),
		offsetof(struct dify_fields, completion),
		offsetof(struct dify_fields, total),
	};
	size_t			i;

	for (i = 0; i < nitems(offs); i++)
		dify_event_rebase((struct dify_scan_value *)(void *)
		    ((char *)f + offs[i]), from, to);
	if (f->wf_outputs_json.s != NULL)
		f->wf_outputs_json.s = to + (f->wf_outputs_json.s - from);
}

/*
 * Remember the bytes of this event before its top-level "answer" member
 * (up to just after the comma, or the brace, that precedes it) and the
 * scanner's state there: the fields found so far and whether it was the
 * first member.  The events of a Dify stream repeat those bytes (event name
 * and ids) and differ from the answer on: the next event that starts with
 * the same bytes resumes scanning there in the same state, which the same
 * bytes would have produced anyway.  Only prefixes whose strings point
 * into the input (no escapes) are kept.
 */
static void
dify_event_memo_save(struct dify_scan *s, const struct dify_fields *f,
    const char *member, int first)
{
	struct dify_event	*ev = s->ev;
	size_t			 len = (size_t)(member - s->start);

	ev->memo_len = 0;
	ev->tmpl_head = 0;
	if (s->scratch->len != 0 || len > DIFY_EVENT_MEMO_MAX)
		return;
	buf_reset(&ev->memo);
	buf_add(&ev->memo, s->start, len);
	ev->memo_fields = *f;
	dify_event_rebase_all(&ev->memo_fields, s->start, ev->memo.data);
	ev->memo_first = first;
	ev->memo_len = len;
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

/* Where string v lies in the event's bytes at json (unset if absent). */
static struct dify_span
dify_event_span(const struct dify_str *v, const char *json)
{
	struct dify_span	sp = { 0, 0, 0 };

	if (v->s != NULL) {
		sp.off = (size_t)(v->s - json);
		sp.len = v->len;
		sp.set = 1;
	}
	return (sp);
}

/* The string a template span marks in the event's bytes at json. */
static struct dify_str
dify_event_unspan(const struct dify_span *sp, const char *json)
{
	struct dify_str	v = { NULL, 0 };

	if (sp->set) {
		v.s = json + sp->off;
		v.len = sp->len;
	}
	return (v);
}

/*
 * After a full parse of a text event, keep its bytes around the answer
 * string as the template.  Only an event whose answer is the member the
 * memo stops at, and after which no field we read was set, qualifies:
 * then every field but the answer lies in the bytes before it, and an
 * event made of the same bytes around another valid string parses to the
 * same fields with that answer.  The memo's prefix strings point into the
 * input (it is kept only when they do), so the spans are offsets in it.
 */
static void
dify_event_tmpl_save(struct dify_event *ev, const struct dify_scan *s,
    const char *json, size_t len)
{
	size_t	head, tail;

	if (ev->memo_len == 0 || s->ans_member != json + ev->memo_len ||
	    s->ans_sets != s->sets || ev->usage.present)
		return;
	switch (ev->type) {
	case DIFY_EVENT_MESSAGE:
	case DIFY_EVENT_AGENT_MESSAGE:
	case DIFY_EVENT_MESSAGE_FILE:
	case DIFY_EVENT_MESSAGE_REPLACE:
		break;
	default:
		return;
	}
	head = (size_t)(s->ans_quote - json) + 1;
	tail = len - (size_t)(s->ans_end - json);
	if (head > DIFY_EVENT_MEMO_MAX || tail > DIFY_EVENT_MEMO_MAX)
		return;
	/* memo holds json's first memo_len bytes; add the answer's key. */
	ev->memo.len = ev->memo_len;
	buf_add(&ev->memo, json + ev->memo_len, head - ev->memo_len);
	buf_reset(&ev->tmpl_tail);
	buf_add(&ev->tmpl_tail, s->ans_end, tail);
	ev->tmpl_type = ev->type;
	ev->tmpl_name = dify_event_span(&ev->name, json);
	ev->tmpl_task_id = dify_event_span(&ev->task_id, json);
	ev->tmpl_conversation_id = dify_event_span(&ev->conversation_id,
	    json);
	ev->tmpl_message_id = dify_event_span(&ev->message_id, json);
	ev->tmpl_head = head;
}

/*
 * Parse an event that may be the template with another answer: the same
 * bytes before and after a string.  Returns 0 with ev filled, or -1 with
 * ev cleared when the event is shaped otherwise.
 */
static int
dify_event_parse_tmpl(struct dify_event *ev, struct dify_scan *s,
    const char *json, size_t len)
{
	size_t	tail = ev->tmpl_tail.len;

	if (len <= ev->tmpl_head + tail ||
	    memcmp(json, ev->memo.data, ev->tmpl_head) != 0 ||
	    memcmp(json + len - tail, ev->tmpl_tail.data, tail) != 0)
		return (-1);
	s->p = json + ev->tmpl_head - 1;
	if (dify_scan_string(s, &ev->answer) != 0 ||
	    s->p != json + len - tail) {
		dify_event_reset(ev);
		return (-1);
	}
	ev->type = ev->tmpl_type;
	ev->name = dify_event_unspan(&ev->tmpl_name, json);
	ev->task_id = dify_event_unspan(&ev->tmpl_task_id, json);
	ev->conversation_id = dify_event_unspan(&ev->tmpl_conversation_id,
	    json);
	ev->message_id = dify_event_unspan(&ev->tmpl_message_id, json);
	return (0);
}

/* Clear the parsed fields, keeping the scratch buffer and the memo. */
static void
dify_event_reset(struct dify_event *ev)
{
	/* The parse results come first in the struct, the buffers after. */
	memset(ev, 0, offsetof(struct dify_event, scratch));
	if (ev->extras)
		memset(&ev->extras, 0, sizeof(*ev) -
		    offsetof(struct dify_event, extras));
	buf_reset(&ev->scratch);
}

/*
 * Parse len bytes of event JSON into ev.  Returns 0, or -1 (with ev
 * cleared) if the bytes are not a JSON object.  An object without a known
 * "event" parses as DIFY_EVENT_UNKNOWN.
 */
int
dify_event_parse(struct dify_event *ev, const char *json, size_t len)
{
	struct dify_fields	 f;
	struct dify_scan	 s;
	struct dify_str		 name;
	size_t			 i;

	dify_event_reset(ev);
	buf_reserve(&ev->scratch, len);
	s.p = json;
	s.end = json + len;
	s.start = json;
	s.scratch = &ev->scratch;
	s.ev = ev;
	s.sets = 0;
	s.ans_member = s.ans_quote = s.ans_end = NULL;
	s.ans_sets = 0;

	if (ev->tmpl_head > 0) {
		if (dify_event_parse_tmpl(ev, &s, json, len) == 0)
			return (0);
		s.p = json;
	}
	if (ev->memo_len > 0 && len > ev->memo_len &&
	    memcmp(json, ev->memo.data, ev->memo_len) == 0) {
		/* Same bytes as the memo up to "answer": resume there. */
		f = ev->memo_fields;
		dify_event_rebase_all(&f, ev->memo.data, json);
		s.p = json + ev->memo_len;
		s.memo = 0;
		if (dify_scan_members(&s, &f, WHERE_TOP, ev->memo_first) != 0)
			goto fail;
	} else {
		memset(&f, 0, sizeof(f));
		s.memo = 1;
		dify_scan_ws(&s);
		if (s.p >= s.end || *s.p != '{' ||
		    dify_scan_object(&s, &f, WHERE_TOP) != 0)
			goto fail;
	}
	dify_scan_ws(&s);
	if (s.p != s.end)
		goto fail;

	name = dify_event_str(&f.event);
	ev->name = name;
	if (name.s != NULL) {
		for (i = 0; i < nitems(dify_event_names); i++) {
			if (dify_event_names[i].len == name.len &&
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
		if (ev->type == DIFY_EVENT_MESSAGE_FILE) {
			ev->extras = 1;
			ev->id = dify_event_str(&f.id);
			ev->file_type = dify_event_str(&f.type);
			ev->url = dify_event_str(&f.url);
			ev->belongs_to = dify_event_str(&f.belongs_to);
		}
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
		ev->extras = 1;
		ev->wf_outputs = f.wf_outputs_json;
		if (dify_event_count(&f.wf_total, &ev->usage.total_tokens) == 0)
			ev->usage.present = 1;
		break;
	case DIFY_EVENT_TEXT_CHUNK:
	case DIFY_EVENT_TEXT_REPLACE:
		ev->answer = dify_event_str(&f.wf_text);
		break;
	case DIFY_EVENT_AGENT_THOUGHT:
		ev->extras = 1;
		ev->id = dify_event_str(&f.id);
		if (f.position.kind == SCAN_INTEGER)
			ev->position = f.position.integer;
		ev->thought = dify_event_str(&f.thought);
		ev->observation = dify_event_str(&f.observation);
		ev->tool = dify_event_str(&f.tool);
		ev->tool_input = dify_event_str(&f.tool_input);
		break;
	default:
		break;
	}
	if (s.ans_member != NULL)
		dify_event_tmpl_save(ev, &s, json, len);
	return (0);
fail:
	dify_event_reset(ev);
	return (-1);
}

/*
 * The event is handled: clear its fields and give the buffer of its
 * decoded strings back (to the pool, where the next event of any stream
 * takes it), so that a stream waiting for Dify holds none.  The memo and
 * template stay.
 */
void
dify_event_done(struct dify_event *ev)
{
	dify_event_reset(ev);
	buf_free(&ev->scratch);
}

/* Release the event's buffers and clear every field. */
void
dify_event_clear(struct dify_event *ev)
{
	buf_free(&ev->scratch);
	buf_free(&ev->memo);
	buf_free(&ev->tmpl_tail);
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
