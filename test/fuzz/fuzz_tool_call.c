/*
 * fuzz_tool_call: prompt-mode function calling's parser and gate.
 *
 * The first byte's low two bits say how many of the next bytes are piece
 * lengths (0-3); the rest is an answer.  tool_call_parse must either
 * refuse it or give 1..TOOL_CALL_MAX calls, each of a name in the fixed
 * list, with an id "call_" + 24 letters or digits and arguments that are
 * a JSON object.  tool_gate_feed, fed the answer in pieces of those
 * lengths in turn, must hold exactly what it was fed until it passes,
 * and when it passes return the count of everything it holds; its
 * decision must not depend on the pieces, and must agree with the
 * parser (an answer that parses starts, after whitespace, with the tag).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "tool_call.h"

static const char	fuzz_names[] = "get_weather\0get_time\0f\0";
#define FUZZ_NAMESLEN	(sizeof(fuzz_names) - 1)

/* True if name is one of the fixed names. */
static int
fuzz_known(const char *name)
{
	size_t	off;

	for (off = 0; off < FUZZ_NAMESLEN; off += strlen(fuzz_names + off) + 1)
		if (strcmp(fuzz_names + off, name) == 0)
			return (1);
	return (0);
}

/* Skip JSON whitespace. */
static size_t
fuzz_ws(const char *p, size_t len)
{
	size_t	i = 0;

	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' ||
	    p[i] == '\r'))
		i++;
	return (i);
}

/* Check the parser's answer for text. */
static int
fuzz_parse(const char *text, size_t len)
{
	struct tool_calls	 calls;
	json_t			*args;
	size_t			 i, j;
	int			 rc;

	rc = tool_call_parse(text, len, fuzz_names, FUZZ_NAMESLEN, &calls);
	if (rc != 0) {
		if (rc != -1 || calls.n != 0)
			abort();
		return (0);
	}
	if (calls.n == 0 || calls.n > TOOL_CALL_MAX)
		abort();
	for (i = 0; i < calls.n; i++) {
		struct tool_call	*c = &calls.v[i];

		if (c->name == NULL || !fuzz_known(c->name))
			abort();
		if (strncmp(c->id, "call_", 5) != 0 || strlen(c->id) != 29)
			abort();
		for (j = 5; j < 29; j++)
			if (!isalnum((unsigned char)c->id[j]) ||
			    (unsigned char)c->id[j] >= 0x80)
				abort();
		if (c->arguments == NULL)
			abort();
		args = json_loads(c->arguments, 0, NULL);
		if (!json_is_object(args))
			abort();
		json_decref(args);
	}
	tool_calls_free(&calls);
	if (calls.n != 0)
		abort();
	return (1);
}

/*
 * Feed text to a gate in pieces of the given lengths in turn (nlens 0:
 * whole), stopping when it passes, as the relay does.  Returns the state.
 */
static enum tool_gate_state
fuzz_gate(const char *text, size_t len, const uint8_t *lens, size_t nlens)
{
	struct tool_gate	 g;
	enum tool_gate_state	 st;
	size_t			 off = 0, n, ret, k = 0, ws;
	static const size_t	 olen = sizeof(TOOL_CALL_OPEN) - 1;

	tool_gate_init(&g);
	if (g.state != TOOL_GATE_DECIDING)
		abort();
	while (off < len) {
		n = nlens == 0 ? len : lens[k++ % nlens] % 16;
		if (n > len - off)
			n = len - off;
		/*
		 * Empty pieces once something is held.  (An empty first
		 * feed does NULL + 0 in tool_gate_feed, undefined behaviour
		 * UBSan reports: check_tool_call.c's tc_gate_prefixes has
		 * it; here it would stop every run.)
		 */
		if (n == 0 && off == 0) {
			if (nlens > 0 && k >= nlens)
				nlens = 0;	/* only empty pieces: whole */
			continue;
		}
		ret = tool_gate_feed(&g, text + off, n);
		off += n;
		/* Everything fed is held, in order. */
		if (g.text.len != off || (off > 0 &&
		    memcmp(g.text.data, text, off) != 0))
			abort();
		if (g.state == TOOL_GATE_PASS) {
			/* It hands back all it holds, once. */
			if (ret != off)
				abort();
			break;
		}
		if (ret != 0)
			abort();
	}
	st = g.state;
	/* The decision is the tag's: check it against what was fed. */
	ws = fuzz_ws(text, off);
	n = off - ws;
	switch (st) {
	case TOOL_GATE_PASS:
		if (n == 0 || memcmp(text + ws, TOOL_CALL_OPEN,
		    n < olen ? n : olen) == 0)
			abort();
		break;
	case TOOL_GATE_DECIDING:
		if (n >= olen || (n > 0 && memcmp(text + ws, TOOL_CALL_OPEN,
		    n) != 0) || off != len)
			abort();
		break;
	case TOOL_GATE_CAPTURING:
		if (n < olen || memcmp(text + ws, TOOL_CALL_OPEN, olen) != 0 ||
		    off != len)
			abort();
		break;
	default:
		abort();
	}
	tool_gate_free(&g);
	return (st);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t		*lens;
	const char		*text;
	size_t			 nlens, len;
	enum tool_gate_state	 whole, cut;
	int			 ok;

	if (size == 0)
		return (0);
	nlens = data[0] & 3;
	if (nlens > size - 1)
		nlens = size - 1;
	lens = data + 1;
	text = (const char *)data + 1 + nlens;
	len = size - 1 - nlens;

	ok = fuzz_parse(text, len);
	whole = fuzz_gate(text, len, NULL, 0);
	cut = fuzz_gate(text, len, lens, nlens);
	if (whole != cut)
		abort();
	/* Calls start with the tag: the gate captured them. */
	if (ok && whole != TOOL_GATE_CAPTURING)
		abort();
	return (0);
}
