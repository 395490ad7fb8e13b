/*
 * fuzz_dify_event: the hand-written event scanner must agree with jansson
 * (JSON_ALLOW_NUL), the parser it replaced, on every input: the same
 * accept or reject, and the same fields.  The oracle below is the old
 * jansson-based extraction, kept here as the reference.
 *
 * The input is two events: A, and B made of a prefix of A (a length the
 * first byte picks), the bytes after a 0xFE separator, and a suffix of A
 * (from where the second byte picks).  Parsing A first leaves the
 * scanner's prefix memo and template behind, which B often shares (the
 * template: B is A with another answer string): B must come out the same
 * with them as without, and agree with jansson.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dify_event.h"

/* What the oracle extracts. */
struct oracle {
	int		 ok;
	const char	*event;
	size_t		 eventlen;
	json_t		*root;
};

/* Borrow a string member of obj, or NULL. */
static const char *
oracle_str(json_t *obj, const char *key, size_t *len)
{
	json_t	*v = json_object_get(obj, key);

	if (!json_is_string(v))
		return (NULL);
	*len = json_string_length(v);
	return (json_string_value(v));
}

/* Abort unless a scanned string equals the oracle's (both absent too). */
static void
oracle_same_str(const struct dify_str *got, json_t *obj, const char *key)
{
	const char	*want;
	size_t		 len = 0;

	want = obj != NULL ? oracle_str(obj, key, &len) : NULL;
	if ((got->s == NULL) != (want == NULL))
		abort();
	if (want != NULL && (got->len != len || memcmp(got->s, want, len) != 0))
		abort();
}

/* A non-negative integer member, as the old code read counts. */
static int
oracle_count(json_t *obj, const char *key, uint64_t *out)
{
	json_t	*v = json_object_get(obj, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return (0);
	}
	return (-1);
}

/* Compare usage read from metadata.usage. */
static void
oracle_same_usage(const struct dify_usage *u, json_t *usage)
{
	uint64_t	p = 0, c = 0, t = 0;
	int		hp, hc, ht;

	if (!json_is_object(usage)) {
		if (u->present)
			abort();
		return;
	}
	hp = oracle_count(usage, "prompt_tokens", &p) == 0;
	hc = oracle_count(usage, "completion_tokens", &c) == 0;
	ht = oracle_count(usage, "total_tokens", &t) == 0;
	if (u->present != (hp || hc || ht) || u->split != (hp && hc))
		abort();
	if (hp && u->prompt_tokens != p)
		abort();
	if (hc && u->completion_tokens != c)
		abort();
	if ((ht ? t : p + c) != u->total_tokens && u->present)
		abort();
}

/* Check one parse (result rc, event ev) of data against the oracle. */
static void
oracle_check(const struct dify_event *pev, int rc, const uint8_t *data,
    size_t size)
{
	const struct dify_event		 ev = *pev;
	json_t				*root, *meta, *d, *st;
	const char			*name;
	size_t				 namelen = 0;
	uint64_t			 total = 0;

	root = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
	if (root != NULL && !json_is_object(root)) {
		json_decref(root);
		root = NULL;
	}
	/*
	 * jansson 2.14 skips a raw NUL byte right after a number
	 * ({"a":5<NUL>} parses); the scanner rejects every stray NUL.  With
	 * such bytes the scanner may only be stricter than the oracle.
	 */
	if (memchr(data, '\0', size) != NULL) {
		if (rc == 0 && root == NULL)
			abort();
		if (rc != 0) {
			json_decref(root);
			return;
		}
	} else if ((rc == 0) != (root != NULL))
		abort();
	if (root == NULL) {
		if (ev.type != DIFY_EVENT_UNKNOWN || ev.answer.s != NULL)
			abort();
		return;
	}
	name = oracle_str(root, "event", &namelen);
	oracle_same_str(&ev.name, root, "event");
	oracle_same_str(&ev.task_id, root, "task_id");
	oracle_same_str(&ev.conversation_id, root, "conversation_id");
	oracle_same_str(&ev.message_id, root, "message_id");
	meta = json_object_get(root, "metadata");
	d = json_object_get(root, "data");
	switch (ev.type) {
	case DIFY_EVENT_MESSAGE:
	case DIFY_EVENT_AGENT_MESSAGE:
	case DIFY_EVENT_MESSAGE_FILE:
	case DIFY_EVENT_MESSAGE_REPLACE:
	case DIFY_EVENT_MESSAGE_END:
		if (ev.type != DIFY_EVENT_MESSAGE_END)
			oracle_same_str(&ev.answer, root, "answer");
		oracle_same_usage(&ev.usage, json_is_object(meta) ?
		    json_object_get(meta, "usage") : NULL);
		break;
	case DIFY_EVENT_ERROR:
		oracle_same_str(&ev.code, root, "code");
		oracle_same_str(&ev.message, root, "message");
		st = json_object_get(root, "status");
		if (json_is_integer(st) && json_integer_value(st) > 0 &&
		    json_integer_value(st) < 1000) {
			if (ev.status != (int)json_integer_value(st))
				abort();
		} else if (ev.status != 0)
			abort();
		break;
	case DIFY_EVENT_WORKFLOW_FINISHED:
	case DIFY_EVENT_WORKFLOW_PAUSED:
		oracle_same_str(&ev.wf_status, json_is_object(d) ? d : NULL,
		    "status");
		oracle_same_str(&ev.wf_error, json_is_object(d) ? d : NULL,
		    "error");
		if (json_is_object(d) && oracle_count(d, "total_tokens",
		    &total) == 0) {
			if (!ev.usage.present || ev.usage.total_tokens != total)
				abort();
		} else if (ev.usage.present)
			abort();
		break;
	case DIFY_EVENT_UNKNOWN:
		/* Only names outside the table are unknown. */
		if (name != NULL && namelen == 7 &&
		    memcmp(name, "message", 7) == 0)
			abort();
		break;
	default:
		break;
	}
	json_decref(root);
}

/* Abort unless two strings hold the same bytes (or are both absent). */
static void
same_str(const struct dify_str *a, const struct dify_str *b)
{
	if ((a->s == NULL) != (b->s == NULL) || a->len != b->len)
		abort();
	if (a->s != NULL && memcmp(a->s, b->s, a->len) != 0)
		abort();
}

/* Abort unless two parses of the same bytes gave the same event. */
static void
same_event(const struct dify_event *a, const struct dify_event *b)
{
	if (a->type != b->type || a->status != b->status ||
	    memcmp(&a->usage, &b->usage, sizeof(a->usage)) != 0)
		abort();
	same_str(&a->name, &b->name);
	same_str(&a->answer, &b->answer);
	same_str(&a->task_id, &b->task_id);
	same_str(&a->conversation_id, &b->conversation_id);
	same_str(&a->message_id, &b->message_id);
	same_str(&a->code, &b->code);
	same_str(&a->message, &b->message);
	same_str(&a->wf_status, &b->wf_status);
	same_str(&a->wf_error, &b->wf_error);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dify_event	 ev;	/* memo and scratch reused */
	struct dify_event		 fresh;
	const uint8_t			*sep, *a;
	uint8_t				*b;
	size_t				 alen, blen, m, k, mid;
	int				 rc, rc2;

	if (size < 2)
		return (0);
	a = data + 2;
	sep = memchr(a, 0xfe, size - 2);
	alen = sep != NULL ? (size_t)(sep - a) : size - 2;
	rc = dify_event_parse(&ev, (const char *)a, alen);
	oracle_check(&ev, rc, a, alen);
	if (sep == NULL)
		return (0);

	m = (size_t)data[0] * alen / 255;
	k = (size_t)data[1] * alen / 255;
	mid = size - 2 - alen - 1;
	blen = m + mid + (alen - k);
	b = malloc(blen + 1);
	memcpy(b, a, m);
	memcpy(b + m, sep + 1, mid);
	memcpy(b + m + mid, a + k, alen - k);
	rc = dify_event_parse(&ev, (const char *)b, blen);
	oracle_check(&ev, rc, b, blen);
	memset(&fresh, 0, sizeof(fresh));
	rc2 = dify_event_parse(&fresh, (const char *)b, blen);
	if (rc != rc2)
		abort();
	same_event(&ev, &fresh);
	dify_event_clear(&fresh);
	free(b);
	return (0);
}
