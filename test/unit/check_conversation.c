/*
 * check_conversation: the canonical digest of a chat and the in-process
 * conversation store (TTL, take-once, LRU bound, shared across fork).
 */
#include <sys/wait.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "check_suites.h"
#include "conversation.h"
#include "conversation_memory.h"

/* The messages of a JSON text; the caller decrefs. */
static json_t *
msgs(const char *text)
{
	json_error_t	 e;
	json_t		*v = json_loads(text, 0, &e);

	ck_assert_msg(v != NULL, "bad fixture: %s", e.text);
	return (v);
}

/*
 * The digest of a history of that ends with an assistant answer, as the
 * next request sees it: the prefix of messages + a new user message.
 */
static void
prefix_of(const char *scope, const char *user, const char *text,
    uint8_t *out)
{
	struct conversation_turn	 t;
	json_t				*m = msgs(text);

	json_array_append_new(m, json_pack("{s:s,s:s}", "role", "user",
	    "content", "next"));
	conversation_turn_init(&t, scope, strlen(scope), user, m);
	ck_assert_int_eq(t.lookup, 1);
	memcpy(out, t.prefix, CONVERSATION_DIGEST_LEN);
	conversation_turn_free(&t);
	json_decref(m);
}

/* The digest remembered after answering the request text with answer. */
static void
answered(const char *scope, const char *user, const char *text,
    const char *answer, uint8_t *out)
{
	struct conversation_turn	 t;
	json_t				*m = msgs(text);

	conversation_turn_init(&t, scope, strlen(scope), user, m);
	ck_assert_int_eq(t.remember, 1);
	ck_assert_int_eq(conversation_turn_answer(&t, answer, strlen(answer),
	    out), 0);
	conversation_turn_free(&t);
	json_decref(m);
}

#define TURN1	"[{\"role\":\"system\",\"content\":\"Be brief.\"}," \
		"{\"role\":\"user\",\"content\":\"Hi\"}"

/* The remembered digest of a turn is what the next turn looks up. */
START_TEST(check_conversation_digest_continues)
{
	uint8_t	a[CONVERSATION_DIGEST_LEN], b[CONVERSATION_DIGEST_LEN];

	answered("k", "u", TURN1 "]", "Hello!", a);
	prefix_of("k", "u", TURN1 ",{\"role\":\"assistant\","
	    "\"content\":\"Hello!\"}]", b);
	ck_assert_mem_eq(a, b, CONVERSATION_DIGEST_LEN);
}
END_TEST

/* Variants clients produce of the same history digest alike. */
START_TEST(check_conversation_digest_same)
{
	uint8_t	a[CONVERSATION_DIGEST_LEN], b[CONVERSATION_DIGEST_LEN];

	answered("k", "u", TURN1 "]", "Hello!", a);
	/* Parts instead of a string, developer for system, extra members,
	 * whitespace around the answer, a <think> block kept by the client,
	 * reasoning_content echoed back. */
	prefix_of("k", "u", "[{\"role\":\"developer\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"Be brief.\"}]},{\"role\":\"user\",\"name\":"
	    "\"bob\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]},"
	    "{\"role\":\"assistant\",\"refusal\":null,\"reasoning_content\":"
	    "\"hmm\",\"content\":\"<think>hmm</think>\\n\\nHello!\\n\"}]", b);
	ck_assert_mem_eq(a, b, CONVERSATION_DIGEST_LEN);
	/* Open WebUI's reasoning block. */
	prefix_of("k", "u", TURN1 ",{\"role\":\"assistant\",\"content\":"
	    "\"<details type=\\\"reasoning\\\" done=\\\"true\\\">\\n<summary>"
	    "Thought</summary>x</details>\\nHello!\"}]", b);
	ck_assert_mem_eq(a, b, CONVERSATION_DIGEST_LEN);
}
END_TEST

/* Anything that changes what Dify would know digests differently. */
START_TEST(check_conversation_digest_differs)
{
	static const char *const variants[] = {
		/* another system prompt */
		"[{\"role\":\"system\",\"content\":\"Be long.\"},"
		"{\"role\":\"user\",\"content\":\"Hi\"},"
		"{\"role\":\"assistant\",\"content\":\"Hello!\"}]",
		/* no system prompt (deleted) */
		"[{\"role\":\"user\",\"content\":\"Hi\"},"
		"{\"role\":\"assistant\",\"content\":\"Hello!\"}]",
		/* an edited user turn */
		"[{\"role\":\"system\",\"content\":\"Be brief.\"},"
		"{\"role\":\"user\",\"content\":\"Hi!\"},"
		"{\"role\":\"assistant\",\"content\":\"Hello!\"}]",
		/* another answer (regenerated) */
		TURN1 ",{\"role\":\"assistant\",\"content\":\"Hey!\"}]",
		/* inner whitespace counts */
		TURN1 ",{\"role\":\"assistant\",\"content\":\"Hello !\"}]",
		/* roles swapped */
		"[{\"role\":\"user\",\"content\":\"Be brief.\"},"
		"{\"role\":\"user\",\"content\":\"Hi\"},"
		"{\"role\":\"assistant\",\"content\":\"Hello!\"}]",
		/* an image added */
		"[{\"role\":\"system\",\"content\":\"Be brief.\"},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
		"\"Hi\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
		"\"https://x/a.png\"}}]},"
		"{\"role\":\"assistant\",\"content\":\"Hello!\"}]",
		/* the text split differently into two messages */
		"[{\"role\":\"system\",\"content\":\"Be\"},"
		"{\"role\":\"system\",\"content\":\"brief.\"},"
		"{\"role\":\"user\",\"content\":\"Hi\"},"
		"{\"role\":\"assistant\",\"content\":\"Hello!\"}]",
	};
	uint8_t	a[CONVERSATION_DIGEST_LEN], b[CONVERSATION_DIGEST_LEN];
	uint8_t	c[CONVERSATION_DIGEST_LEN];
	size_t	i;

	answered("k", "u", TURN1 "]", "Hello!", a);
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		prefix_of("k", "u", variants[i], b);
		ck_assert_msg(memcmp(a, b, CONVERSATION_DIGEST_LEN) != 0,
		    "variant %zu matched", i);
	}
	/* Another user or another app: another conversation. */
	prefix_of("k", "v", TURN1 ",{\"role\":\"assistant\","
	    "\"content\":\"Hello!\"}]", b);
	ck_assert(memcmp(a, b, CONVERSATION_DIGEST_LEN) != 0);
	prefix_of("k2", "u", TURN1 ",{\"role\":\"assistant\","
	    "\"content\":\"Hello!\"}]", c);
	ck_assert(memcmp(a, c, CONVERSATION_DIGEST_LEN) != 0);
	/* Another image URL. */
	answered("k", "u", "[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"image_url\",\"image_url\":{\"url\":\"https://x/a.png\"}}]}]",
	    "A cat.", a);
	answered("k", "u", "[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"image_url\",\"image_url\":\"https://x/b.png\"}]}]", "A cat.", b);
	ck_assert(memcmp(a, b, CONVERSATION_DIGEST_LEN) != 0);
}
END_TEST

/* Which requests look up, which may be remembered. */
START_TEST(check_conversation_turn_kinds)
{
	struct conversation_turn	 t;
	json_t				*m;

	/* A first turn: nothing to look up, but remembered. */
	m = msgs("[{\"role\":\"user\",\"content\":\"Hi\"}]");
	conversation_turn_init(&t, "k", 1, "u", m);
	ck_assert_int_eq(t.lookup, 0);
	ck_assert_int_eq(t.remember, 1);
	conversation_turn_free(&t);
	json_decref(m);
	/* Ending with a tool result or an assistant prefill: neither. */
	m = msgs("[{\"role\":\"user\",\"content\":\"Hi\"},"
	    "{\"role\":\"assistant\",\"content\":\"Sure\"}]");
	conversation_turn_init(&t, "k", 1, "u", m);
	ck_assert_int_eq(t.lookup, 0);
	ck_assert_int_eq(t.remember, 0);
	conversation_turn_free(&t);
	json_decref(m);
	/* Open WebUI's background tasks, as user or system prompt. */
	m = msgs("[{\"role\":\"user\",\"content\":\"Hi\"},"
	    "{\"role\":\"assistant\",\"content\":\"Hello\"},"
	    "{\"role\":\"user\",\"content\":\"  ### Task:\\nGenerate a "
	    "title\"}]");
	ck_assert_int_eq(conversation_is_task_prompt(m), 1);
	conversation_turn_init(&t, "k", 1, "u", m);
	ck_assert_int_eq(t.lookup, 0);
	ck_assert_int_eq(t.remember, 0);
	conversation_turn_free(&t);
	json_decref(m);
	m = msgs("[{\"role\":\"system\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"### Task: suggest tags\"}]},"
	    "{\"role\":\"user\",\"content\":\"Hi\"}]");
	ck_assert_int_eq(conversation_is_task_prompt(m), 1);
	json_decref(m);
	m = msgs("[{\"role\":\"user\",\"content\":\"What is ### Task:?\"}]");
	ck_assert_int_eq(conversation_is_task_prompt(m), 0);
	json_decref(m);
}
END_TEST

/* Canonical text: blocks and whitespace off the ends only. */
START_TEST(check_conversation_canonical_text)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "  a b \n", "a b" },
		{ "<think>x</think>a", "a" },
		{ "\n<think>x</think>\n\n<details>y</details> a ", "a" },
		{ "<think>unclosed a", "<think>unclosed a" },
		{ "a <think>x</think>", "a <think>x</think>" },
		{ "   ", "" },
	};
	size_t	i, s, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conversation_canonical_text(cases[i].in, strlen(cases[i].in),
		    &s, &n);
		ck_assert_int_eq(n, strlen(cases[i].out));
		ck_assert(memcmp(cases[i].in + s, cases[i].out, n) == 0);
	}
}
END_TEST

/*
 * An answer fed in pieces (one byte at a time, or cut anywhere) digests
 * as the whole text does; holding more than max gives up.
 */
START_TEST(check_conversation_answer_stream)
{
	static const char *const answers[] = {
		"Hello!", "  Hello!\n\n", "<think>x</think>\n\nHello!",
		"\n<think>a</think> <details type=\"r\">b</details>Hi \n",
		"<thi", "<think>unclosed", "   ", "", "a  b   ", "<details>",
		"<think>x</think><think>y</think><think>z</think>w",
	};
	struct conversation_turn	 t;
	struct conversation_answer	 a;
	json_t				*m = msgs("[{\"role\":\"user\","
					    "\"content\":\"Hi\"}]");
	uint8_t				 whole[CONVERSATION_DIGEST_LEN];
	uint8_t				 part[CONVERSATION_DIGEST_LEN];
	size_t				 i, j, len, cut;

	conversation_turn_init(&t, "k", 1, "u", m);
	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		len = strlen(answers[i]);
		ck_assert_int_eq(conversation_turn_answer(&t, answers[i], len,
		    whole), 0);
		ck_assert_int_eq(conversation_answer_begin(&a, &t, 4096), 0);
		for (j = 0; j < len; j++)
			conversation_answer_feed(&a, answers[i] + j, 1);
		ck_assert_int_eq(conversation_answer_end(&a, part), 0);
		ck_assert_msg(memcmp(whole, part,
		    CONVERSATION_DIGEST_LEN) == 0, "bytewise: %s",
		    answers[i]);
		for (cut = 0; cut <= len; cut++) {
			ck_assert_int_eq(conversation_answer_begin(&a, &t, 4096),
			    0);
			conversation_answer_feed(&a, answers[i], cut);
			conversation_answer_feed(&a, answers[i] + cut, len - cut);
			ck_assert_int_eq(conversation_answer_end(&a, part), 0);
			ck_assert_msg(memcmp(whole, part,
			    CONVERSATION_DIGEST_LEN) == 0, "cut %zu: %s",
			    cut, answers[i]);
		}
	}
	/* Blanks around the answer do not count, wherever they are cut. */
	ck_assert_int_eq(conversation_turn_answer(&t, "Hi there", 8, whole), 0);
	ck_assert_int_eq(conversation_answer_begin(&a, &t, 4096), 0);
	conversation_answer_feed(&a, " \n Hi ", 6);
	conversation_answer_feed(&a, "there", 5);
	conversation_answer_feed(&a, " \n", 2);
	conversation_answer_feed(&a, "\n", 1);
	ck_assert_int_eq(conversation_answer_end(&a, part), 0);
	ck_assert(memcmp(whole, part, CONVERSATION_DIGEST_LEN) == 0);
	/* A stage's worth of text and blanks, in one piece and in many. */
	{
		char	big[3000];

		memset(big, 'x', sizeof(big));
		memset(big + 1000, ' ', 1100);
		memset(big + 2900, '\n', 100);
		ck_assert_int_eq(conversation_turn_answer(&t, big, 2900,
		    whole), 0);
		ck_assert_int_eq(conversation_answer_begin(&a, &t, 4096), 0);
		for (j = 0; j < sizeof(big); j += 7)
			conversation_answer_feed(&a, big + j, sizeof(big) - j <
			    7 ? sizeof(big) - j : 7);
		ck_assert_int_eq(conversation_answer_end(&a, part), 0);
		ck_assert(memcmp(whole, part, CONVERSATION_DIGEST_LEN) == 0);
	}
	/* A lead block longer than max is not remembered. */
	ck_assert_int_eq(conversation_answer_begin(&a, &t, 8), 0);
	conversation_answer_feed(&a, "<think>long thoughts", 20);
	ck_assert_int_eq(conversation_answer_end(&a, part), -1);
	/* The text itself is never held: a long answer passes any max. */
	ck_assert_int_eq(conversation_answer_begin(&a, &t, 8), 0);
	for (j = 0; j < 1000; j++)
		conversation_answer_feed(&a, "word word ", 10);
	ck_assert_int_eq(conversation_answer_end(&a, part), 0);
	ck_assert_uint_eq(a.held.len, 0);
	conversation_turn_free(&t);
	json_decref(m);
}
END_TEST

/* Client-named ids: UUID spellings pass, header-breaking bytes do not. */
START_TEST(check_conversation_id_ok)
{
	ck_assert(conversation_id_ok("45701982-8118-4bc5-8e9b-64562b4555f2",
	    36));
	ck_assert(conversation_id_ok("{abc}", 5));
	ck_assert(!conversation_id_ok("", 0));
	ck_assert(!conversation_id_ok("a\r\nX: y", 7));
	ck_assert(!conversation_id_ok("a b", 3));
	ck_assert(!conversation_id_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaa", 64));
}
END_TEST

/* A key made from a number. */
static void
key_of(uint32_t n, uint8_t *key)
{
	uint32_t	h = n * 2654435761u;

	memset(key, 0, CONVERSATION_DIGEST_LEN);
	memcpy(key, &h, sizeof(h));
	memcpy(key + 8, &n, sizeof(n));
}

/* Take finds an entry once, before its TTL ends and not after. */
START_TEST(check_conversation_memory_ttl)
{
	struct conversation_memory	*m = conversation_memory_new(8);
	uint8_t				 k[CONVERSATION_DIGEST_LEN];
	char				 id[64];

	ck_assert_ptr_nonnull(m);
	key_of(1, k);
	ck_assert_int_eq(conversation_memory_take(m, k, 0, id, sizeof(id)), 0);
	conversation_memory_put(m, k, "c-1", 1000, 500);
	ck_assert_int_eq(conversation_memory_take(m, k, 1499, id, sizeof(id)),
	    1);
	ck_assert_str_eq(id, "c-1");
	/* Taken: a second request with the same history starts afresh. */
	ck_assert_int_eq(conversation_memory_take(m, k, 1499, id, sizeof(id)),
	    0);
	conversation_memory_put(m, k, "c-2", 1000, 500);
	ck_assert_int_eq(conversation_memory_take(m, k, 1500, id, sizeof(id)),
	    0);
	/* A put for a known key replaces its id. */
	conversation_memory_put(m, k, "c-3", 2000, 500);
	conversation_memory_put(m, k, "c-4", 2000, 500);
	ck_assert_int_eq(conversation_memory_take(m, k, 2001, id, sizeof(id)),
	    1);
	ck_assert_str_eq(id, "c-4");
	/* An id that does not fit the caller's buffer is not returned. */
	conversation_memory_put(m, k, "c-5", 2000, 500);
	ck_assert_int_eq(conversation_memory_take(m, k, 2001, id, 3), 0);
	conversation_memory_free(m);
}
END_TEST

/*
 * 100,000 conversations through a table of 10,000: it holds exactly its
 * bound, the newest stay, the oldest went, and its size never changes.
 */
START_TEST(check_conversation_memory_bound)
{
	struct conversation_memory		*m = conversation_memory_new(10000);
	struct conversation_memory_stats	 st;
	uint8_t				 k[CONVERSATION_DIGEST_LEN];
	char					 id[64], want[64];
	size_t					 bytes;
	uint32_t				 i;

	conversation_memory_stats(m, &st);
	bytes = st.bytes;
	for (i = 0; i < 100000; i++) {
		key_of(i, k);
		snprintf(id, sizeof(id), "conv-%u", i);
		conversation_memory_put(m, k, id, 1000, 86400000);
	}
	conversation_memory_stats(m, &st);
	printf("conversation_memory: 100000 conversations put, %zu held "
	    "(bound %zu), %zu bytes of table, %llu evicted\n", st.count,
	    st.capacity, st.bytes, (unsigned long long)st.evicted);
	ck_assert_uint_eq(st.count, 10000);
	ck_assert_uint_eq(st.bytes, bytes);
	ck_assert_uint_eq(st.evicted, 90000);
	key_of(89999, k);
	ck_assert_int_eq(conversation_memory_take(m, k, 1001, id, sizeof(id)),
	    0);
	for (i = 90000; i < 100000; i += 997) {
		key_of(i, k);
		snprintf(want, sizeof(want), "conv-%u", i);
		ck_assert_int_eq(conversation_memory_take(m, k, 1001, id,
		    sizeof(id)), 1);
		ck_assert_str_eq(id, want);
	}
	conversation_memory_free(m);
}
END_TEST

/* Expired entries at the LRU tail make room before anything is evicted. */
START_TEST(check_conversation_memory_reclaim)
{
	struct conversation_memory		*m = conversation_memory_new(4);
	struct conversation_memory_stats	 st;
	uint8_t				 k[CONVERSATION_DIGEST_LEN];
	char					 id[64];
	uint32_t				 i;

	for (i = 0; i < 4; i++) {
		key_of(i, k);
		conversation_memory_put(m, k, "old", 0, 100);
	}
	for (i = 10; i < 14; i++) {
		key_of(i, k);
		conversation_memory_put(m, k, "new", 200, 100);
	}
	conversation_memory_stats(m, &st);
	ck_assert_uint_eq(st.count, 4);
	ck_assert_uint_eq(st.evicted, 0);
	ck_assert_uint_eq(st.expired, 4);
	key_of(13, k);
	ck_assert_int_eq(conversation_memory_take(m, k, 250, id, sizeof(id)),
	    1);
	conversation_memory_free(m);
}
END_TEST

/* A forked process sees and changes the same table. */
START_TEST(check_conversation_memory_shared)
{
	struct conversation_memory	*m = conversation_memory_new(16);
	uint8_t				 k[CONVERSATION_DIGEST_LEN];
	char				 id[64];
	pid_t				 pid;
	int				 status;

	key_of(7, k);
	conversation_memory_put(m, k, "from-parent", 0, 1000);
	if ((pid = fork()) == 0) {
		uint8_t	k2[CONVERSATION_DIGEST_LEN];

		key_of(8, k2);
		conversation_memory_put(m, k2, "from-child", 0, 1000);
		_exit(conversation_memory_take(m, k, 1, id, sizeof(id)) == 1 &&
		    strcmp(id, "from-parent") == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(conversation_memory_take(m, k, 1, id, sizeof(id)), 0);
	key_of(8, k);
	ck_assert_int_eq(conversation_memory_take(m, k, 1, id, sizeof(id)), 1);
	ck_assert_str_eq(id, "from-child");
	conversation_memory_free(m);
}
END_TEST

/* The conversation suite. */
Suite *
conversation_suite(void)
{
	Suite	*s = suite_create("conversation");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, check_conversation_digest_continues);
	tcase_add_test(tc, check_conversation_digest_same);
	tcase_add_test(tc, check_conversation_digest_differs);
	tcase_add_test(tc, check_conversation_turn_kinds);
	tcase_add_test(tc, check_conversation_canonical_text);
	tcase_add_test(tc, check_conversation_answer_stream);
	tcase_add_test(tc, check_conversation_id_ok);
	tcase_add_test(tc, check_conversation_memory_ttl);
	tcase_add_test(tc, check_conversation_memory_bound);
	tcase_add_test(tc, check_conversation_memory_reclaim);
	tcase_add_test(tc, check_conversation_memory_shared);
	suite_add_tcase(s, tc);
	return (s);
}
