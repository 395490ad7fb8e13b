/*
 * tool_call: OpenAI function calling in prompt mode, for Dify apps,
 * which cannot run a client's functions themselves.
 *
 * With prompt tools on (per app in the config), a request's "tools" are
 * described to the app in its query, with the one format a call must
 * take:
 *
 *   <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>
 *
 * The answer is then watched from its first bytes (tool_gate): one that
 * starts otherwise streams as content at once; one that starts with the
 * tag is held to its end and parsed (tool_call_parse).  If every block
 * is a call of a tool the request offered, with an object of arguments,
 * the client gets tool_calls and finish_reason "tool_calls"; anything
 * else, the held text goes out as plain content, so nothing the model
 * said is lost.  The next request's assistant tool_calls and "tool"
 * messages go back into the transcript in the same format
 * (tool_call_render and chat_request's "Tool (id):" lines).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_text.h"
#include "tool_call.h"
#include "util.h"

/*
 * Describe the request's tools (a json_t array) to the app, honouring
 * tool_choice (a json_t or NULL): "none" offers nothing, "required" or
 * a named function asks for a call.  The preamble goes to out, and the
 * names the answer may call to names, NUL-separated.  Returns the
 * number of tools offered (0: prompt tools do not apply).
 */
int
tool_call_preamble(const void *tools_v, const void *choice_v,
    struct buf *out, struct buf *names)
{
	json_t		*tools = (json_t *)(uintptr_t)tools_v;
	json_t		*choice = (json_t *)(uintptr_t)choice_v;
	json_t		*t, *fn, *name, *list, *item, *forced = NULL;
	const char	*mode = "auto";
	size_t		 i;
	int		 n = 0;

	if (!json_is_array(tools) || json_array_size(tools) == 0)
		return (0);
	if (json_is_string(choice))
		mode = json_string_value(choice);
	else if (json_is_object(choice))
		forced = json_object_get(json_object_get(choice, "function"),
		    "name");
	if (strcmp(mode, "none") == 0)
		return (0);
	list = json_array();
	json_array_foreach(tools, i, t) {
		fn = json_object_get(t, "function");
		name = json_object_get(fn, "name");
		if (!json_is_string(name) || json_string_length(name) == 0 ||
		    strlen(json_string_value(name)) != json_string_length(name))
			continue;
		if (json_is_string(forced) && !json_equal(forced, name))
			continue;
		item = json_object();
		json_object_set(item, "name", name);
		if (json_is_string(json_object_get(fn, "description")))
			json_object_set(item, "description",
			    json_object_get(fn, "description"));
		if (json_object_get(fn, "parameters") != NULL)
			json_object_set(item, "parameters",
			    json_object_get(fn, "parameters"));
		json_array_append_new(list, item);
		buf_add(names, json_string_value(name),
		    json_string_length(name) + 1);
		n++;
	}
	if (n > 0) {
		buf_add_str(out, "You can call these functions, described as "
		    "JSON:\n");
		json_text_append(list, JSON_COMPACT, out);
		buf_add_str(out, "\nTo call a function, answer with only "
		    "this, once per call and nothing else:\n" TOOL_CALL_OPEN
		    "{\"name\": \"<function name>\", \"arguments\": "
		    "{<the arguments as a JSON object>}}" TOOL_CALL_CLOSE
		    "\nA function's result comes back in a later message as "
		    "\"Tool (<call id>): <result>\".");
		if (strcmp(mode, "required") == 0 || json_is_string(forced))
			buf_add_str(out, "\nYou must call a function now.");
		else
			buf_add_str(out, "\nIf no function is needed, answer "
			    "normally.");
	}
	json_decref(list);
	return (n);
}

/* Append an assistant message's tool_calls (a json_t array) as calls. */
void
tool_call_render(const void *calls_v, struct buf *out)
{
	json_t		*calls = (json_t *)(uintptr_t)calls_v;
	json_t		*call, *fn, *name, *args, *obj, *parsed;
	size_t		 i;

	json_array_foreach(calls, i, call) {
		fn = json_object_get(call, "function");
		name = json_object_get(fn, "name");
		args = json_object_get(fn, "arguments");
		if (!json_is_string(name))
			continue;
		obj = json_object();
		json_object_set(obj, "name", name);
		parsed = json_is_string(args) ? json_loads(json_string_value(
		    args), 0, NULL) : NULL;
		if (!json_is_object(parsed)) {
			/* Arguments are an object, or none that can be read. */
			json_decref(parsed);
			parsed = json_object();
		}
		json_object_set_new(obj, "arguments", parsed);
		if (out->len > 0)
			buf_add_char(out, '\n');
		buf_add_str(out, TOOL_CALL_OPEN);
		json_text_append(obj, JSON_COMPACT, out);
		buf_add_str(out, TOOL_CALL_CLOSE);
		json_decref(obj);
	}
}

/* True if name (NUL-terminated) is among the NUL-separated names. */
static int
tool_call_known(const char *names, size_t len, const char *name)
{
	size_t	off, n;

	for (off = 0; off < len; off += n + 1) {
		n = strlen(names + off);
		if (strcmp(names + off, name) == 0)
			return (1);
	}
	return (0);
}

/* Skip JSON whitespace from p to end. */
static const char *
tool_call_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'))
		p++;
	return (p);
}

/*
 * Parse a whole answer that may be calls: only <tool_call>{...}
 * </tool_call> blocks and whitespace, each a known name and an object of
 * arguments (or a string holding one).  Returns 0 with calls filled, or
 * -1 (calls empty) if the answer is anything else.
 */
int
tool_call_parse(const char *text, size_t len, const char *names,
    size_t nameslen, struct tool_calls *calls)
{
	static const size_t	 olen = sizeof(TOOL_CALL_OPEN) - 1;
	static const size_t	 clen = sizeof(TOOL_CALL_CLOSE) - 1;
	const char		*p = text, *end = text + len, *close;
	json_t			*obj, *name, *args;
	struct tool_call	*c;

	memset(calls, 0, sizeof(*calls));
	for (;;) {
		p = tool_call_ws(p, end);
		if (p == end)
			break;
		if ((size_t)(end - p) < olen || memcmp(p, TOOL_CALL_OPEN,
		    olen) != 0 || calls->n == TOOL_CALL_MAX)
			goto fail;
		p += olen;
		close = memmem(p, (size_t)(end - p), TOOL_CALL_CLOSE, clen);
		if (close == NULL)
			goto fail;
		obj = json_loadb(p, (size_t)(close - p), 0, NULL);
		name = json_object_get(obj, "name");
		args = json_object_get(obj, "arguments");
		if (json_is_string(args)) {
			/* A string must hold an object: else not a call. */
			args = json_loads(json_string_value(args), 0, NULL);
			if (args == NULL)
				args = json_null();
			json_object_set_new(obj, "arguments", args);
		}
		if (!json_is_object(obj) || !json_is_string(name) ||
		    strlen(json_string_value(name)) != json_string_length(
		    name) || !tool_call_known(names, nameslen,
		    json_string_value(name)) ||
		    (args != NULL && !json_is_object(args))) {
			json_decref(obj);
			goto fail;
		}
		c = &calls->v[calls->n++];
		memcpy(c->id, "call_", 5);
		util_random_alnum(c->id + 5, 24);
		c->name = xstrdup(json_string_value(name));
		c->arguments = args != NULL ? json_text_dup(args, JSON_COMPACT) :
		    xstrdup("{}");
		json_decref(obj);
		p = close + clen;
	}
	if (calls->n > 0)
		return (0);
fail:
	tool_calls_free(calls);
	return (-1);
}

/* Free the calls. */
void
tool_calls_free(struct tool_calls *calls)
{
	size_t	i;

	for (i = 0; i < calls->n; i++) {
		free(calls->v[i].name);
		free(calls->v[i].arguments);
	}
	memset(calls, 0, sizeof(*calls));
}

/* Start watching an answer. */
void
tool_gate_init(struct tool_gate *g)
{
	g->state = TOOL_GATE_DECIDING;
	buf_init(&g->text);
}

/* Release what the gate holds. */
void
tool_gate_free(struct tool_gate *g)
{
	buf_free(&g->text);
}

/*
 * Feed answer text.  While deciding, the text is held until it either
 * starts (after whitespace) with the call tag, and the gate captures the
 * rest, or cannot, and the gate passes: then it returns how many bytes
 * of its held text the caller must now send as content (they are at the
 * front of g->text) and holds nothing more.  Returns 0 otherwise.
 */
size_t
tool_gate_feed(struct tool_gate *g, const char *p, size_t len)
{
	static const size_t	 olen = sizeof(TOOL_CALL_OPEN) - 1;
	const char		*s;
	size_t			 n;

	if (len == 0 || g->state == TOOL_GATE_PASS)
		return (0);
	buf_add(&g->text, p, len);
	if (g->state != TOOL_GATE_DECIDING)
		return (0);
	s = tool_call_ws(g->text.data, g->text.data + g->text.len);
	n = (size_t)(g->text.data + g->text.len - s);
	if (n == 0)
		return (0);
	if (memcmp(s, TOOL_CALL_OPEN, n < olen ? n : olen) != 0) {
		g->state = TOOL_GATE_PASS;
		return (g->text.len);
	}
	if (n >= olen)
		g->state = TOOL_GATE_CAPTURING;
	return (0);
}
