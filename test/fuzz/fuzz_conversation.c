/*
 * fuzz_conversation: an answer's digest fed as it streams against the
 * digest of the whole text, and the turn digests of any messages array.
 *
 * Input: byte 0 & 7 is a count n, the next n bytes are piece sizes (each
 * % 16, used in turn, again and again), the rest is the answer.  Checked:
 *   - fed in those pieces, the answer digests as conversation_turn_answer
 *     digests it whole (the canonical form is the same however the text
 *     is cut), and nothing is held past the lead and trailing blanks;
 *   - the rest, read as JSON, never crashes conversation_turn_init, and a
 *     turn that may be remembered, answered with the text, digests as its
 *     continuation's prefix does (the next request's history is this one
 *     plus the answer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "conversation.h"

/* The whole answer's digest against the streamed one, for turn t. */
static void
check_stream(const struct conversation_turn *t, const uint8_t *sizes,
    size_t nsizes, const char *text, size_t len)
{
	struct conversation_answer	a;
	uint8_t				whole[CONVERSATION_DIGEST_LEN];
	uint8_t				part[CONVERSATION_DIGEST_LEN];
	size_t				off = 0, k = 0, n;

	if (conversation_turn_answer(t, text, len, whole) != 0)
		abort();
	if (conversation_answer_begin(&a, t, len + 1) != 0)
		abort();
	while (off < len) {
		n = nsizes > 0 ? sizes[k++ % nsizes] % 16 : len;
		if (n > len - off)
			n = len - off;
		conversation_answer_feed(&a, text + off, n);
		off += n;
		if (nsizes > 0 && k > 4 * len + 16)
			break;	/* all-zero sizes: feed the rest at once */
	}
	conversation_answer_feed(&a, text + off, len - off);
	if (a.state == CONVERSATION_ANSWER_FAILED)
		abort();
	if (conversation_answer_end(&a, part) != 0)
		abort();
	if (memcmp(whole, part, sizeof(whole)) != 0)
		abort();
}

/* libFuzzer's entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char		 base[] = "[{\"role\":\"user\","
					    "\"content\":\"hi\"}]";
	struct conversation_turn	 t, next;
	const uint8_t			*sizes;
	const char			*text;
	json_t				*msgs, *cont;
	uint8_t				 d[CONVERSATION_DIGEST_LEN];
	size_t				 nsizes, len;

	if (size == 0)
		return (0);
	nsizes = data[0] & 7;
	if (nsizes + 1 > size)
		return (0);
	sizes = data + 1;
	text = (const char *)data + 1 + nsizes;
	len = size - 1 - nsizes;

	msgs = json_loads(base, 0, NULL);
	conversation_turn_init(&t, "k", 1, "u", msgs);
	if (!t.remember)
		abort();
	check_stream(&t, sizes, nsizes, text, len);

	/* The answered history continues: its digest is the next prefix. */
	if (conversation_turn_answer(&t, text, len, d) != 0)
		abort();
	cont = json_deep_copy(msgs);
	json_array_append_new(cont, json_pack("{s:s,s:s%}", "role",
	    "assistant", "content", text, len));
	json_array_append_new(cont, json_pack("{s:s,s:s}", "role", "user",
	    "content", "next"));
	if (json_array_size(cont) == 3 &&
	    json_is_string(json_object_get(json_array_get(cont, 1),
	    "content"))) {
		conversation_turn_init(&next, "k", 1, "u", cont);
		if (!next.lookup || memcmp(next.prefix, d, sizeof(d)) != 0)
			abort();
		conversation_turn_free(&next);
	}
	json_decref(cont);
	conversation_turn_free(&t);
	json_decref(msgs);

	/* Any JSON as messages: no crash, no leak. */
	if ((msgs = json_loadb(text, len, 0, NULL)) != NULL) {
		if (json_is_array(msgs)) {
			conversation_turn_init(&t, "k", 1, "u", msgs);
			if (t.remember && conversation_turn_answer(&t, "a", 1,
			    d) != 0)
				abort();
			conversation_turn_free(&t);
		}
		json_decref(msgs);
	}
	return (0);
}
