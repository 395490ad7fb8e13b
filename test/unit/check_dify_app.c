/*
 * check_dify_app: the table of Dify app kinds, their bodies and events.
 *
 * The completion and workflow kinds are driven through the relay the way
 * check_relay drives the chat kind (status, body bytes in any pieces,
 * end), with the client bytes compared exactly against bytes built here
 * by hand from OpenAI's chunk shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "buf.h"
#include "chat_request.h"
#include "check_fixtures.h"
#include "check_suites.h"
#include "check_util.h"
#include "dify_app.h"
#include "relay.h"

#define CK_APP_HEAD	"{\"id\":\"chatcmpl-abc\",\"object\":" \
			"\"chat.completion.chunk\",\"created\":" \
			"1700000000,\"model\":\"gpt-4o\""
#define CK_APP_CHOICE	",\"choices\":[{\"index\":0,\"delta\":"
#define CK_APP_SSE	"text/event-stream; charset=utf-8"
#define CK_APP_JSON	"application/json; charset=utf-8"

/* The non-stream completion object around an answer (JSON-escaped). */
#define CK_APP_COMPLETION(content, reason, usage) \
	"{\"id\":\"chatcmpl-abc\",\"object\":\"chat.completion\"," \
	"\"created\":1700000000,\"model\":\"gpt-4o\",\"choices\":" \
	"[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":" \
	"\"" content "\",\"refusal\":null},\"logprobs\":null," \
	"\"finish_reason\":\"" reason "\"}]" usage "}"
#define CK_APP_USAGE(p, c, t) \
	",\"usage\":{\"prompt_tokens\":" #p ",\"completion_tokens\":" #c \
	",\"total_tokens\":" #t "}"

/*
 * A completion app's stream (§3.3, §3.4): the chat events without a
 * conversation_id, the same answer and usage as CHECK_FX_CHAT_STREAM.
 */
#define CK_CO_MSG(answer) \
	"{\"event\":\"message\",\"message_id\":\"5ad4cb98-f0c7-4085-b384-" \
	"88c403be6290\",\"created_at\":1718000000,\"task_id\":\"c3800678-" \
	"a077-43df-a102-53f23ed20b88\",\"id\":\"5ad4cb98-f0c7-4085-b384-" \
	"88c403be6290\",\"answer\":\"" answer "\",\"from_variable_selector" \
	"\":null}"
#define CK_CO_END \
	"{\"event\":\"message_end\",\"message_id\":\"5ad4cb98-f0c7-4085-" \
	"b384-88c403be6290\",\"created_at\":1718000000,\"task_id\":\"c3800" \
	"678-a077-43df-a102-53f23ed20b88\",\"id\":\"5ad4cb98-f0c7-4085-b38" \
	"4-88c403be6290\",\"metadata\":{\"annotation_reply\":null,\"retrie" \
	"ver_resources\":[],\"usage\":{\"prompt_tokens\":17,\"prompt_unit_" \
	"price\":\"0.15\",\"prompt_price_unit\":\"0.000001\",\"prompt_pric" \
	"e\":\"0.0000026\",\"completion_tokens\":9,\"completion_unit_price" \
	"\":\"0.6\",\"completion_price_unit\":\"0.000001\",\"completion_pr" \
	"ice\":\"0.0000054\",\"total_tokens\":26,\"total_price\":\"0.00000" \
	"80\",\"currency\":\"USD\",\"latency\":0.8132,\"time_to_first_toke" \
	"n\":null,\"time_to_generate\":null}},\"files\":null}"
#define CK_CO_STREAM \
	"data: " CK_CO_MSG("Hello") "\n\n" \
	"data: " CK_CO_MSG("! How can I help?") "\n\n" \
	"event: ping\n\n" \
	"data: " CK_CO_END "\n\n"
#define CK_CO_ERROR \
	"{\"event\":\"error\",\"message_id\":\"5ad4cb98-f0c7-4085-b384-88c4" \
	"03be6290\",\"created_at\":1718000000,\"code\":\"completion_request" \
	"_error\",\"status\":400,\"message\":\"Incorrect API key provided\"}"

/*
 * A workflow app's stream: §3.5's, with valid JSON where the reference
 * elides fields with "…" (events 4, 7, 8 and 9).
 */
#define CK_WF_NODE_LLM_STARTED \
	"{\"event\":\"node_started\",\"workflow_run_id\":\"R\",\"task_id\":" \
	"\"T\",\"data\":{\"id\":\"NE2\",\"node_id\":\"1718000000002\",\"nod" \
	"e_type\":\"llm\",\"title\":\"LLM\",\"index\":2,\"predecessor_node_" \
	"id\":\"1718000000001\",\"inputs\":null,\"inputs_truncated\":false," \
	"\"created_at\":1718000000,\"extras\":{},\"iteration_id\":null,\"lo" \
	"op_id\":null,\"agent_strategy\":null}}"
#define CK_WF_NODE_LLM_FINISHED \
	"{\"event\":\"node_finished\",\"workflow_run_id\":\"R\",\"task_id\"" \
	":\"T\",\"data\":{\"id\":\"NE2\",\"node_id\":\"1718000000002\",\"no" \
	"de_type\":\"llm\",\"title\":\"LLM\",\"index\":2,\"predecessor_node" \
	"_id\":\"1718000000001\",\"inputs\":{},\"inputs_truncated\":false," \
	"\"process_data\":null,\"process_data_truncated\":false,\"outputs\"" \
	":{\"text\":\"Bonjour le monde\",\"reasoning_content\":\"\",\"usage" \
	"\":{\"prompt_tokens\":120,\"completion_tokens\":30,\"total_tokens" \
	"\":150,\"total_price\":\"0.0001\",\"currency\":\"USD\",\"latency\"" \
	":1.2},\"finish_reason\":\"stop\"},\"outputs_truncated\":false,\"st" \
	"atus\":\"succeeded\",\"error\":null,\"elapsed_time\":1.2,\"executi" \
	"on_metadata\":{\"total_tokens\":150,\"total_price\":\"0.0001\",\"c" \
	"urrency\":\"USD\"},\"created_at\":1718000000,\"finished_at\":17180" \
	"00002,\"files\":[],\"iteration_id\":null,\"loop_id\":null}}"
#define CK_WF_NODE_END_STARTED \
	"{\"event\":\"node_started\",\"workflow_run_id\":\"R\",\"task_id\":" \
	"\"T\",\"data\":{\"id\":\"NE3\",\"node_id\":\"1718000000003\",\"nod" \
	"e_type\":\"end\",\"title\":\"End\",\"index\":3,\"predecessor_node_" \
	"id\":\"1718000000002\",\"inputs\":null,\"inputs_truncated\":false," \
	"\"created_at\":1718000002,\"extras\":{},\"iteration_id\":null,\"lo" \
	"op_id\":null,\"agent_strategy\":null}}"
#define CK_WF_NODE_END_FINISHED \
	"{\"event\":\"node_finished\",\"workflow_run_id\":\"R\",\"task_id\"" \
	":\"T\",\"data\":{\"id\":\"NE3\",\"node_id\":\"1718000000003\",\"no" \
	"de_type\":\"end\",\"title\":\"End\",\"index\":3,\"predecessor_node" \
	"_id\":\"1718000000002\",\"inputs\":{\"result\":\"Bonjour le monde" \
	"\"},\"inputs_truncated\":false,\"process_data\":null,\"process_dat" \
	"a_truncated\":false,\"outputs\":{\"result\":\"Bonjour le monde\"}," \
	"\"outputs_truncated\":false,\"status\":\"succeeded\",\"error\":nul" \
	"l,\"elapsed_time\":0.001,\"execution_metadata\":null,\"created_at" \
	"\":1718000002,\"finished_at\":1718000002,\"files\":[],\"iteration_" \
	"id\":null,\"loop_id\":null}}"

/* workflow_finished with a status, outputs and error (JSON text). */
#define CK_WF_FINISHED(status, outputs, error) \
	"{\"event\":\"workflow_finished\",\"workflow_run_id\":\"R\",\"task_" \
	"id\":\"T\",\"data\":{\"id\":\"R\",\"workflow_id\":\"W\",\"status\"" \
	":\"" status "\",\"outputs\":" outputs ",\"error\":" error ",\"elap" \
	"sed_time\":1.53,\"total_tokens\":150,\"total_steps\":3,\"created_b" \
	"y\":{\"id\":\"EU\",\"user\":\"abc-123\"},\"created_at\":1718000000" \
	",\"finished_at\":1718000002,\"exceptions_count\":0,\"files\":[]}}"

/* The stream up to the LLM node's start, and its end after the text. */
#define CK_WF_HEAD \
	"event: ping\n\n" \
	"data: " CHECK_FX_WORKFLOW_1 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_2 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_3 "\n\n" \
	"data: " CK_WF_NODE_LLM_STARTED "\n\n"
#define CK_WF_CHUNKS \
	"data: " CHECK_FX_WORKFLOW_5 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_6 "\n\n"
#define CK_WF_NODES_END \
	"data: " CK_WF_NODE_LLM_FINISHED "\n\n" \
	"data: " CK_WF_NODE_END_STARTED "\n\n" \
	"data: " CK_WF_NODE_END_FINISHED "\n\n"

/* The whole §3.5 workflow stream, valid. */
#define CK_WF_STREAM \
	CK_WF_HEAD CK_WF_CHUNKS CK_WF_NODES_END \
	"data: " CHECK_FX_WORKFLOW_10 "\n\n"

/* The same run with no text_chunk (an End node fed by no stream). */
#define CK_WF_STREAM_NOCHUNKS \
	CK_WF_HEAD CK_WF_NODES_END \
	"data: " CHECK_FX_WORKFLOW_10 "\n\n"

/* A run whose outputs name "final" besides the streamed text. */
#define CK_WF_STREAM_FINAL \
	CK_WF_HEAD CK_WF_CHUNKS CK_WF_NODES_END \
	"data: " CK_WF_FINISHED("succeeded", "{\"result\":\"Bonjour le " \
	    "monde\",\"final\":\"Hello world\"}", "null") "\n\n"

/* One text_chunk event. */
#define CK_WF_CHUNK(text) \
	"{\"event\":\"text_chunk\",\"workflow_run_id\":\"R\",\"task_id\":" \
	"\"T\",\"data\":{\"text\":\"" text "\",\"from_variable_selector\":" \
	"[\"1718000000002\",\"text\"]}}"

/* The failure of §3.4: the LLM node failed. */
#define CK_WF_FAILED \
	CK_WF_FINISHED("failed", "{}", "\"Node LLM run failed: [openai] " \
	    "Error: quota\"")
#define CK_WF_FAILED_ERROR \
	"{\"error\":{\"message\":\"Run failed: Node LLM run failed: " \
	"[openai] Error: quota\",\"type\":\"server_error\",\"param\":null," \
	"\"code\":\"workflow_failed\"}}"
#define CK_WF_FAILED_FRAME	"data: " CK_WF_FAILED_ERROR "\n\n"
#define CK_WF_STOPPED_ERROR \
	"{\"error\":{\"message\":\"the Dify workflow run was stopped\"," \
	"\"type\":\"server_error\",\"param\":null,\"code\":" \
	"\"workflow_stopped\"}}"
#define CK_WF_INCOMPLETE_ERROR \
	"{\"error\":{\"message\":\"Dify closed the stream before the answer " \
	"was complete\",\"type\":\"server_error\",\"param\":null,\"code\":" \
	"\"upstream_incomplete\"}}"

/* §4.3 blocking workflow body (json.dumps style). */
#define CK_WF_BLOCKING(status, outputs, error) \
	"{\"task_id\": \"c3800678-a077-43df-a102-53f23ed20b88\", " \
	"\"workflow_run_id\": \"fb47b2e6-0000-4000-8000-000000000001\", " \
	"\"data\": {\"id\": \"fb47b2e6-0000-4000-8000-000000000001\", " \
	"\"workflow_id\": \"7c3e33d4-0000-4000-8000-000000000002\", " \
	"\"status\": \"" status "\", \"outputs\": " outputs ", \"error\": " \
	error ", \"elapsed_time\": 1.23, \"total_tokens\": 150, " \
	"\"total_steps\": 3, \"created_at\": 1705407629, \"finished_at\": " \
	"1705407630}}"

/* One exchange under test. */
struct ck_app_run {
	struct relay	r;
	struct buf	out;	/* every byte the client got */
};

/* Start an exchange of a kind with the example id, created and model. */
static void
ck_app_start(struct ck_app_run *t, const struct dify_app *app,
    const char *output_var, int stream, int include_usage)
{
	struct relay_params	p;

	memset(t, 0, sizeof(*t));
	memset(&p, 0, sizeof(p));
	p.app = app;
	p.output_var = output_var;
	p.id = "chatcmpl-abc";
	p.created = 1700000000;
	p.model = "gpt-4o";
	p.modellen = 6;
	p.stream = stream;
	p.include_usage = include_usage;
	p.max_event = 256 * 1024;
	p.max_answer = 1024 * 1024;
	buf_init(&t->out);
	relay_init(&t->r, &p);
}

/* Move what the relay produced to the client, as the glue does. */
static void
ck_app_drain(struct ck_app_run *t)
{
	buf_add(&t->out, t->r.out.data, t->r.out.len);
	buf_reset(&t->r.out);
}

/* Dify's status and headers. */
static void
ck_app_response(struct ck_app_run *t, int status, const char *ct)
{
	relay_response(&t->r, status, ct, NULL);
	ck_app_drain(t);
}

/* Body bytes, len of them. */
static void
ck_app_datan(struct ck_app_run *t, const char *s, size_t len)
{
	relay_data(&t->r, s, len);
	ck_app_drain(t);
}

/* Body bytes, as one piece. */
static void
ck_app_data(struct ck_app_run *t, const char *s)
{
	ck_app_datan(t, s, strlen(s));
}

/* The end of Dify's response. */
static void
ck_app_end(struct ck_app_run *t)
{
	relay_end(&t->r, RELAY_END_EOF, NULL);
	ck_app_drain(t);
}

/* Release an exchange. */
static void
ck_app_stop(struct ck_app_run *t)
{
	relay_free(&t->r);
	buf_free(&t->out);
}

/* A whole exchange: a 200 of type ct, the body, EOF; client bytes out. */
static void
ck_app_exchange(const struct dify_app *app, const char *output_var,
    int stream, int usage, const char *ct, const char *body, struct buf *out,
    int *status)
{
	struct ck_app_run	t;

	ck_app_start(&t, app, output_var, stream, usage);
	ck_app_response(&t, 200, ct);
	ck_app_data(&t, body);
	ck_app_end(&t);
	ck_assert(t.r.complete);
	ck_assert(t.r.upstream_done);
	buf_add(out, t.out.data, t.out.len);
	if (status != NULL)
		*status = t.r.status;
	ck_app_stop(&t);
}

/* Expected role chunk. */
static void
ck_want_role(struct buf *b, int usage)
{
	buf_add_str(b, "data: " CK_APP_HEAD CK_APP_CHOICE
	    "{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
	    "\"finish_reason\":null}]");
	buf_add_str(b, usage ? ",\"usage\":null}\n\n" : "}\n\n");
}

/* Expected content chunk; text is already JSON-escaped. */
static void
ck_want_content(struct buf *b, int usage, const char *text)
{
	buf_add_str(b, "data: " CK_APP_HEAD CK_APP_CHOICE "{\"content\":\"");
	buf_add_str(b, text);
	buf_add_str(b, "\"},\"logprobs\":null,\"finish_reason\":null}]");
	buf_add_str(b, usage ? ",\"usage\":null}\n\n" : "}\n\n");
}

/* Expected finish chunk, the usage chunk if asked for, and [DONE]. */
static void
ck_want_end(struct buf *b, int usage, const char *reason, unsigned p,
    unsigned c, unsigned t)
{
	buf_printf(b, "data: " CK_APP_HEAD CK_APP_CHOICE "{},"
	    "\"logprobs\":null,\"finish_reason\":\"%s\"}]", reason);
	buf_add_str(b, usage ? ",\"usage\":null}\n\n" : "}\n\n");
	if (usage)
		buf_printf(b, "data: " CK_APP_HEAD ",\"choices\":[],\"usage\":"
		    "{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
		    "\"total_tokens\":%u}}\n\n", p, c, t);
	buf_add_str(b, "data: [DONE]\n\n");
}

/* Assert got holds exactly the bytes of want. */
#define ck_assert_buf_is(got, want) do {				\
	char	ck_msg_[4096];						\
									\
	ck_assert_msg(check_same_buf((got), (want), ck_msg_,		\
	    sizeof(ck_msg_)), "%s", ck_msg_);				\
} while (0)

/* Assert got holds exactly the NUL-terminated want. */
#define ck_assert_buf_str(got, want) do {				\
	char	ck_msg_[4096];						\
	const char *ck_w_ = (want);					\
									\
	ck_assert_msg(check_same((got)->data ? (got)->data : "",	\
	    (got)->len, ck_w_, strlen(ck_w_), ck_msg_,			\
	    sizeof(ck_msg_)), "%s", ck_msg_);				\
} while (0)

/* Every mode string Dify reports maps to the kind that serves it. */
START_TEST(check_dify_app_modes)
{
	static const struct {
		const char		*name;
		enum dify_app_mode	 mode;
	} want[] = {
		{ "chat", DIFY_APP_CHAT },
		{ "agent-chat", DIFY_APP_CHAT },
		{ "agent", DIFY_APP_CHAT },
		{ "advanced-chat", DIFY_APP_CHAT },
		{ "completion", DIFY_APP_COMPLETION },
		{ "workflow", DIFY_APP_WORKFLOW },
		{ "rag-pipeline", DIFY_APP_UNKNOWN },
		{ "channel", DIFY_APP_UNKNOWN },
		{ "Chat", DIFY_APP_UNKNOWN },
		{ "", DIFY_APP_UNKNOWN },
	};
	size_t	i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(dify_app_mode_parse(want[i].name,
		    strlen(want[i].name)) == want[i].mode, "%s", want[i].name);
	ck_assert_ptr_eq(dify_app_for_mode(DIFY_APP_COMPLETION),
	    &dify_app_completion);
	ck_assert_ptr_eq(dify_app_for_mode(DIFY_APP_WORKFLOW),
	    &dify_app_workflow);
	ck_assert_ptr_eq(dify_app_for_mode(DIFY_APP_UNKNOWN), &dify_app_chat);
	ck_assert_str_eq(dify_app_workflow.run_path, "/workflows/run");
	ck_assert_str_eq(dify_app_completion.run_path, "/completion-messages");
}
END_TEST

/* Stop paths per kind; ids that cannot go into a URL are refused. */
START_TEST(check_dify_app_stop_paths)
{
	char	p[64];

	ck_assert_int_eq(dify_app_stop_path(&dify_app_chat, "ab-12", p,
	    sizeof(p)), 0);
	ck_assert_str_eq(p, "/chat-messages/ab-12/stop");
	ck_assert_int_eq(dify_app_stop_path(&dify_app_completion, "T", p,
	    sizeof(p)), 0);
	ck_assert_str_eq(p, "/completion-messages/T/stop");
	ck_assert_int_eq(dify_app_stop_path(&dify_app_workflow, "T", p,
	    sizeof(p)), 0);
	ck_assert_str_eq(p, "/workflows/tasks/T/stop");
	ck_assert_int_eq(dify_app_stop_path(&dify_app_chat, "a/b", p,
	    sizeof(p)), -1);
	ck_assert_int_eq(dify_app_stop_path(&dify_app_chat, "", p,
	    sizeof(p)), -1);
	ck_assert_int_eq(dify_app_stop_path(&dify_app_chat,
	    "0123456789012345678901234567890123456789012345678901234567", p,
	    sizeof(p)), -1);
}
END_TEST

/* The answer outputs (len bytes of JSON) give for name: exactly want. */
static void
ck_output_isn(const char *json, size_t len, const char *name,
    const char *want, size_t wantlen)
{
	struct buf	out = BUF_INIT;
	char		msg[4096];

	dify_app_workflow_output(json, len, name, &out);
	ck_assert_msg(check_same(out.data ? out.data : "", out.len, want,
	    wantlen, msg, sizeof(msg)), "outputs %.*s, name %s: %s", (int)len,
	    json, name ? name : "(none)", msg);
	buf_free(&out);
}

/* The same for NUL-terminated outputs and an answer of wantlen bytes. */
static void
ck_output_nul(const char *json, const char *name, const char *want,
    size_t wantlen)
{
	ck_output_isn(json, strlen(json), name, want, wantlen);
}

/* The same for NUL-terminated outputs and answer. */
static void
ck_output_is(const char *json, const char *name, const char *want)
{
	ck_output_isn(json, strlen(json), name, want, strlen(want));
}

/* The named output is the answer; a non-string one as JSON text. */
START_TEST(check_dify_app_output_named)
{
	ck_output_is("{\"text\":\"T\",\"final\":\"F\"}", "final", "F");
	ck_output_is("{\"final\":\"\",\"text\":\"T\"}", "final", "");
	ck_output_is("{\"text\":\"T\",\"final\":{\"a\":1,\"b\":[true,null]}}",
	    "final", "{\n  \"a\": 1,\n  \"b\": [\n    true,\n    null\n  ]\n}");
	ck_output_is("{\"text\":\"T\",\"n\":42}", "n", "42");
	ck_output_is("{\"text\":\"T\",\"r\":2.5}", "r", "2.5");
	ck_output_is("{\"text\":\"T\",\"l\":[\"a\",\"b\"]}", "l",
	    "[\n  \"a\",\n  \"b\"\n]");
	ck_output_is("{\"text\":\"T\",\"ok\":false}", "ok", "false");
	/* A name is also taken when it is one of the usual ones. */
	ck_output_is("{\"text\":\"T\",\"result\":\"R\"}", "result", "R");
	/* Named but missing: the usual choice. */
	ck_output_is("{\"text\":\"T\"}", "final", "T");
	ck_output_is("{\"summary\":\"S\",\"count\":3}", "final", "S");
	ck_output_is("{\"Final\":\"X\",\"answer\":\"A\"}", "final", "A");
}
END_TEST

/* text, answer, output, result: the first that is a string wins. */
START_TEST(check_dify_app_output_priority)
{
	ck_output_is("{\"result\":\"R\",\"text\":\"T\"}", NULL, "T");
	ck_output_is("{\"result\":\"R\",\"output\":\"O\",\"answer\":\"A\","
	    "\"text\":\"T\"}", NULL, "T");
	ck_output_is("{\"result\":\"R\",\"output\":\"O\",\"answer\":\"A\"}",
	    NULL, "A");
	ck_output_is("{\"result\":\"R\",\"output\":\"O\"}", NULL, "O");
	ck_output_is("{\"result\":\"R\",\"other\":\"X\"}", NULL, "R");
	/* A known name that is not a string does not stop the search. */
	ck_output_is("{\"text\":{\"a\":1},\"answer\":\"A\"}", NULL, "A");
	ck_output_is("{\"text\":5,\"answer\":null,\"output\":[\"x\"],"
	    "\"result\":\"R\"}", NULL, "R");
	/* An empty string is still the first string. */
	ck_output_is("{\"text\":\"\",\"answer\":\"A\"}", NULL, "");
	/* Names are matched exactly. */
	ck_output_is("{\"Text\":\"X\",\"texts\":\"Y\",\"result\":\"R\"}", NULL,
	    "R");
}
END_TEST

/* The single string output among non-strings is the answer. */
START_TEST(check_dify_app_output_single_string)
{
	ck_output_is("{\"summary\":\"S\",\"count\":3}", NULL, "S");
	ck_output_is("{\"count\":3,\"flags\":[1,2],\"meta\":{\"k\":\"v\"},"
	    "\"summary\":\"S\",\"ok\":true,\"none\":null}", NULL, "S");
	ck_output_is("{\"only\":\"O\"}", NULL, "O");
	/* A known name that is no string does not count as a string. */
	ck_output_is("{\"text\":7,\"summary\":\"S\"}", NULL, "S");
}
END_TEST

/* Several strings and no known name: all the outputs as JSON text. */
START_TEST(check_dify_app_output_json_text)
{
	static const char	*inputs[] = {
		"{\"a\":\"x\",\"b\":\"y\"}",
		"{\"title\":\"T\",\"body\":\"B\",\"n\":3,"
		    "\"tags\":[\"p\",\"q\"],"
		    "\"nested\":{\"text\":\"inner\"}}",
		"{\"a\":\"\\u00e9\\u4f60\",\"b\":\"\\u0000\\\"\\n\"}",
	};
	struct buf		 out = BUF_INIT;
	json_t			*want, *got;
	json_error_t		 err;
	size_t			 i;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		buf_reset(&out);
		dify_app_workflow_output(inputs[i], strlen(inputs[i]), NULL,
		    &out);
		ck_assert_uint_gt(out.len, 0);
		want = json_loads(inputs[i], JSON_ALLOW_NUL, NULL);
		ck_assert_ptr_nonnull(want);
		got = json_loadb(out.data, out.len, JSON_ALLOW_NUL, &err);
		ck_assert_msg(got != NULL, "not JSON (%s): %s", err.text,
		    buf_cstr(&out));
		ck_assert_msg(json_equal(got, want), "%s", buf_cstr(&out));
		ck_assert_ptr_null(strstr(buf_cstr(&out), "[object Object]"));
		json_decref(want);
		json_decref(got);
	}
	/* The exact text: two-space indentation, members in their order. */
	ck_output_is("{\"a\":\"x\",\"b\":\"y\"}", NULL,
	    "{\n  \"a\": \"x\",\n  \"b\": \"y\"\n}");
	/* A named output that is missing falls back to the same. */
	ck_output_is("{\"a\":\"x\",\"b\":\"y\"}", "c",
	    "{\n  \"a\": \"x\",\n  \"b\": \"y\"\n}");
	buf_free(&out);
}
END_TEST

/* Nested objects: no string at the top is the whole object as JSON. */
START_TEST(check_dify_app_output_nested)
{
	ck_output_is("{\"data\":{\"text\":\"inner\"}}", NULL,
	    "{\n  \"data\": {\n    \"text\": \"inner\"\n  }\n}");
	ck_output_is("{\"list\":[{\"answer\":\"a\"}],\"n\":1}", NULL,
	    "{\n  \"list\": [\n    {\n      \"answer\": \"a\"\n    }\n  ],\n"
	    "  \"n\": 1\n}");
	/* The named output, an object, as JSON text of itself only. */
	ck_output_is("{\"data\":{\"text\":\"inner\"},\"text\":\"T\"}", "data",
	    "{\n  \"text\": \"inner\"\n}");
	/* Only members of the top level count as strings. */
	ck_output_is("{\"data\":{\"s\":\"x\"},\"summary\":\"S\"}", NULL, "S");
}
END_TEST

/* Empty, null, absent or unreadable outputs give nothing. */
START_TEST(check_dify_app_output_nothing)
{
	struct buf	out = BUF_INIT;

	ck_output_is("{}", NULL, "");
	ck_output_is("{}", "final", "");
	ck_output_is("null", NULL, "");
	ck_output_is("null", "final", "");
	ck_output_is(" { } ", NULL, "");
	ck_output_is("{\"text\":", NULL, "");
	ck_output_is("{\"text\":\"T\"} x", NULL, "");
	ck_output_is("{\"text\":\"T\",}", NULL, "");
	ck_output_is("nope", NULL, "");
	ck_output_is("", NULL, "");
	ck_output_is("{\"text\":\"\xff\"}", NULL, "");
	/* No outputs at all (the event had none). */
	dify_app_workflow_output(NULL, 0, NULL, &out);
	ck_assert_uint_eq(out.len, 0);
	dify_app_workflow_output(NULL, 0, "final", &out);
	ck_assert_uint_eq(out.len, 0);
	/* What the buffer held is kept: the answer is appended. */
	buf_add_str(&out, "pre:");
	dify_app_workflow_output("{}", 2, NULL, &out);
	ck_assert_str_eq(buf_cstr(&out), "pre:");
	dify_app_workflow_output("{\"text\":\"T\"}", 12, NULL, &out);
	ck_assert_str_eq(buf_cstr(&out), "pre:T");
	/* Only len bytes are read. */
	dify_app_workflow_output("{\"text\":\"U\"}garbage", 12, NULL, &out);
	ck_assert_str_eq(buf_cstr(&out), "pre:TU");
	buf_free(&out);
}
END_TEST

/* Outputs that are not an object: a string's text, else JSON text. */
START_TEST(check_dify_app_output_top_level)
{
	ck_output_is("\"hello\"", NULL, "hello");
	ck_output_is("\"hello\"", "final", "hello");
	ck_output_is("\"\"", NULL, "");
	ck_output_is("42", NULL, "42");
	ck_output_is("-3.5", NULL, "-3.5");
	ck_output_is("true", NULL, "true");
	ck_output_is("[\"a\",1]", NULL, "[\n  \"a\",\n  1\n]");
	ck_output_is("[]", NULL, "[]");
}
END_TEST

/* Non-ASCII and NUL-containing strings come out byte for byte. */
START_TEST(check_dify_app_output_bytes)
{
	ck_output_is("{\"text\":\"\\u00e9t\\u00e9 \\u4f60\\u597d "
	    "\\ud83d\\ude42\"}", NULL,
	    "\xc3\xa9t\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x99\x82");
	ck_output_is("{\"text\":\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x99\x82\"}",
	    NULL, "\xc3\xa9t\xc3\xa9 \xf0\x9f\x99\x82");
	ck_output_is("{\"text\":\"say \\\"hi\\\"\\n\\t\\\\\"}", NULL,
	    "say \"hi\"\n\t\\");
	/* A NUL does not cut the text: on every path. */
	ck_output_nul("{\"text\":\"a\\u0000b\"}", NULL, "a\0b", 3);
	ck_output_nul("{\"x\":\"a\\u0000b\",\"n\":1}", NULL, "a\0b", 3);
	ck_output_nul("{\"final\":\"\\u0000\",\"text\":\"T\"}", "final",
	    "\0", 1);
	ck_output_nul("\"\\u0000z\"", NULL, "\0z", 2);
	/* In JSON text the NUL stays escaped. */
	ck_output_is("{\"a\":\"\\u0000\",\"b\":\"y\"}", NULL,
	    "{\n  \"a\": \"\\u0000\",\n  \"b\": \"y\"\n}");
}
END_TEST

/* The text input found in a form (a /parameters body) for a mode. */
static void
ck_form_is(const char *json, enum dify_app_mode mode, const char *want)
{
	char	out[64];
	int	rc;

	memset(out, 'Z', sizeof(out));
	rc = dify_app_form_text_input(json, strlen(json), mode, out,
	    sizeof(out));
	if (want == NULL) {
		ck_assert_msg(rc == -1, "mode %s found \"%.*s\" in %s",
		    dify_app_mode_name(mode), (int)sizeof(out), out, json);
		ck_assert_int_eq(out[0], 'Z');
	} else {
		ck_assert_msg(rc == 0, "mode %s found nothing in %s",
		    dify_app_mode_name(mode), json);
		ck_assert_str_eq(out, want);
	}
}

/* A /parameters body of §4.5 around a user_input_form. */
#define CK_PARAMS(form) \
	"{\"opening_statement\": \"\", \"suggested_questions\": [], " \
	"\"suggested_questions_after_answer\": {\"enabled\": false}, " \
	"\"speech_to_text\": {\"enabled\": false}, \"text_to_speech\": " \
	"{\"enabled\": false}, \"retriever_resource\": {\"enabled\": true}, " \
	"\"annotation_reply\": {\"enabled\": false}, \"more_like_this\": " \
	"{\"enabled\": false}, \"user_input_form\": " form ", " \
	"\"sensitive_word_avoidance\": {\"enabled\": false}, " \
	"\"file_upload\": {\"image\": {\"enabled\": false, " \
	"\"number_limits\": 3, \"detail\": \"high\", \"transfer_methods\": " \
	"[\"remote_url\", \"local_file\"]}}, " \
	"\"system_parameters\": {\"image_file_size_limit\": 10, " \
	"\"video_file_size_limit\": 100, \"audio_file_size_limit\": 50, " \
	"\"file_size_limit\": 15, \"workflow_file_upload_limit\": 10}}"
#define CK_TEXT_INPUT(var) \
	"{\"text-input\": {\"label\": \"L\", \"variable\": \"" var "\", " \
	"\"required\": true, \"default\": \"\", \"max_length\": 48}}"
#define CK_PARAGRAPH(var) \
	"{\"paragraph\": {\"label\": \"P\", \"variable\": \"" var "\", " \
	"\"required\": true, \"default\": \"\", \"max_length\": 4000}}"
#define CK_SELECT(var) \
	"{\"select\": {\"label\": \"S\", \"variable\": \"" var "\", " \
	"\"required\": false, \"default\": \"a\", \"options\": [\"a\", " \
	"\"b\"]}}"
#define CK_NUMBER(var) \
	"{\"number\": {\"label\": \"N\", \"variable\": \"" var "\", " \
	"\"required\": false, \"default\": \"\"}}"
#define CK_FILE(var) \
	"{\"file\": {\"label\": \"F\", \"variable\": \"" var "\", " \
	"\"required\": false, \"allowed_file_types\": [\"document\"]}}"

/* Workflow: the first paragraph, even after text-inputs; else a text-input. */
START_TEST(check_dify_app_form_workflow)
{
	ck_form_is(CK_PARAMS("[" CK_TEXT_INPUT("city") ", " CK_SELECT("color")
	    ", " CK_PARAGRAPH("doc") ", " CK_PARAGRAPH("doc2") "]"),
	    DIFY_APP_WORKFLOW, "doc");
	ck_form_is(CK_PARAMS("[" CK_NUMBER("n") ", " CK_TEXT_INPUT("first")
	    ", " CK_TEXT_INPUT("second") "]"), DIFY_APP_WORKFLOW, "first");
	ck_form_is(CK_PARAMS("[" CK_PARAGRAPH("only") "]"), DIFY_APP_WORKFLOW,
	    "only");
	/* A paragraph with an unusable name gives way to a text-input. */
	ck_form_is(CK_PARAMS("[" CK_PARAGRAPH("") ", " CK_TEXT_INPUT("t")
	    "]"), DIFY_APP_WORKFLOW, "t");
	ck_form_is(CK_PARAMS("[{\"paragraph\": {\"variable\": 3}}, "
	    CK_TEXT_INPUT("t") ", " CK_PARAGRAPH("p") "]"), DIFY_APP_WORKFLOW,
	    "p");
}
END_TEST

/* Completion: the first of paragraph and text-input, in form order. */
START_TEST(check_dify_app_form_completion)
{
	ck_form_is(CK_PARAMS("[" CK_TEXT_INPUT("city") ", " CK_SELECT("color")
	    ", " CK_PARAGRAPH("doc") "]"), DIFY_APP_COMPLETION, "city");
	ck_form_is(CK_PARAMS("[" CK_PARAGRAPH("p") ", " CK_TEXT_INPUT("t")
	    "]"), DIFY_APP_COMPLETION, "p");
	ck_form_is(CK_PARAMS("[" CK_SELECT("s") ", " CK_NUMBER("n") ", "
	    CK_FILE("f") ", " CK_PARAGRAPH("p") ", " CK_TEXT_INPUT("t") "]"),
	    DIFY_APP_COMPLETION, "p");
	ck_form_is(CK_PARAMS("[" CK_TEXT_INPUT("") ", " CK_TEXT_INPUT("q")
	    "]"), DIFY_APP_COMPLETION, "q");
	/* The query default of older apps is a text-input like any other. */
	ck_form_is(CK_PARAMS("[" CK_TEXT_INPUT("query") "]"),
	    DIFY_APP_COMPLETION, "query");
}
END_TEST

/* select, number, file and the other types are never the text input. */
START_TEST(check_dify_app_form_skipped)
{
	static const char	form[] = CK_PARAMS("[" CK_SELECT("s") ", "
	    CK_NUMBER("n") ", " CK_FILE("f") ", {\"file-list\": {\"variable\": "
	    "\"fl\"}}, {\"checkbox\": {\"variable\": \"c\"}}, "
	    "{\"json_object\": {\"variable\": \"j\"}}, "
	    "{\"external_data_tool\": {\"variable\": \"e\"}}]");
	static const char	then[] = CK_PARAMS("[" CK_SELECT("s") ", "
	    CK_NUMBER("n") ", " CK_FILE("f") ", " CK_TEXT_INPUT("t") "]");

	ck_form_is(form, DIFY_APP_WORKFLOW, NULL);
	ck_form_is(form, DIFY_APP_COMPLETION, NULL);
	ck_form_is(then, DIFY_APP_WORKFLOW, "t");
	ck_form_is(then, DIFY_APP_COMPLETION, "t");
}
END_TEST

/* No usable text input: -1, and out untouched. */
START_TEST(check_dify_app_form_refused)
{
	static const char	*forms[] = {
		CK_PARAMS("[]"),
		"{\"opening_statement\": \"\"}",
		"{\"user_input_form\": null}",
		"{\"user_input_form\": {\"paragraph\": {\"variable\": \"p\"}}}",
		"[" CK_PARAGRAPH("p") "]",
		"nope",
		"",
		"{\"user_input_form\": [" CK_PARAGRAPH("p") "]",
		CK_PARAMS("[{\"paragraph\": {\"variable\": 5}}]"),
		CK_PARAMS("[{\"paragraph\": {\"variable\": null}}]"),
		CK_PARAMS("[{\"paragraph\": {\"label\": \"no variable\"}}]"),
		CK_PARAMS("[{\"paragraph\": \"p\"}]"),
		CK_PARAMS("[\"paragraph\", 3, null]"),
		CK_PARAMS("[" CK_PARAGRAPH("") "]"),
		CK_PARAMS("[" CK_TEXT_INPUT("") "]"),
		CK_PARAMS("[{\"paragraph\": {\"variable\": \"a\\u0000b\"}}]"),
	};
	char			out[8];
	size_t			i;
	enum dify_app_mode	mode;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		ck_form_is(forms[i], DIFY_APP_WORKFLOW, NULL);
		ck_form_is(forms[i], DIFY_APP_COMPLETION, NULL);
	}
	/* A name must fit with its NUL: 7 bytes in 8 do, 8 do not. */
	for (mode = DIFY_APP_COMPLETION; mode <= DIFY_APP_WORKFLOW; mode++) {
		static const char	fits[] = CK_PARAMS("["
		    CK_PARAGRAPH("abcdefg") "]");
		static const char	big[] = CK_PARAMS("["
		    CK_PARAGRAPH("abcdefgh") "]");

		memset(out, 'Z', sizeof(out));
		ck_assert_int_eq(dify_app_form_text_input(big, strlen(big),
		    mode, out, sizeof(out)), -1);
		ck_assert_int_eq(out[0], 'Z');
		ck_assert_int_eq(dify_app_form_text_input(fits, strlen(fits),
		    mode, out, sizeof(out)), 0);
		ck_assert_str_eq(out, "abcdefg");
	}
	/* Only len bytes are read: the trailing bytes are not seen. */
	{
		static const char	cut[] = "{\"user_input_form\":"
		    "[{\"paragraph\":{\"variable\":\"p\"}}]}xyz";

		ck_assert_int_eq(dify_app_form_text_input(cut, sizeof(cut) - 4,
		    DIFY_APP_WORKFLOW, out, sizeof(out)), 0);
		ck_assert_str_eq(out, "p");
		ck_assert_int_eq(dify_app_form_text_input(cut, sizeof(cut) - 1,
		    DIFY_APP_WORKFLOW, out, sizeof(out)), -1);
	}
}
END_TEST

/* Parse a NUL-terminated OpenAI request that must be accepted. */
static void
ck_request(struct chat_request *cr, const char *body)
{
	struct api_error	e;

	memset(&e, 0, sizeof(e));
	ck_assert_msg(chat_request_parse(cr, body, strlen(body), &e) == 0,
	    "refused (%s): %s", e.code, e.message);
}

/* Build a run body and parse it (the caller frees it); raw gets the text. */
static json_t *
ck_run_body(const struct chat_request *cr, const char *user, const char *var,
    int with_query, struct buf *raw)
{
	struct buf	 b = BUF_INIT;
	json_t		*v;
	json_error_t	 err;

	chat_request_dify_run_body(cr, user, var, with_query, &b);
	v = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &err);
	ck_assert_msg(v != NULL, "run body is not JSON (%s): %s", err.text,
	    buf_cstr(&b));
	ck_assert(json_is_object(v));
	ck_assert(json_is_object(json_object_get(v, "inputs")));
	ck_assert_str_eq(json_string_value(json_object_get(v,
	    "response_mode")), "streaming");
	if (raw != NULL)
		buf_add(raw, b.data, b.len);
	buf_free(&b);
	return (v);
}

/* A string member of obj, asserted present. */
static const char *
ck_json_str(json_t *obj, const char *key)
{
	json_t	*v = json_object_get(obj, key);

	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return (json_string_value(v));
}

/* A first turn: the user's text is the text input; nothing else. */
START_TEST(check_dify_app_run_body_first_turn)
{
	struct chat_request	 cr;
	struct buf		 raw = BUF_INIT;
	json_t			*body, *inputs;

	ck_request(&cr, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"Translate: Hello\"}],\"stream\":true}");
	body = ck_run_body(&cr, "u1", "query", 0, &raw);
	ck_assert_buf_str(&raw, "{\"inputs\":{\"query\":\"Translate: Hello\"},"
	    "\"response_mode\":\"streaming\",\"user\":\"u1\"}");
	inputs = json_object_get(body, "inputs");
	ck_assert_uint_eq(json_object_size(inputs), 1);
	ck_assert_str_eq(ck_json_str(inputs, "query"), "Translate: Hello");
	ck_assert_str_eq(ck_json_str(body, "user"), "u1");
	ck_assert_ptr_null(json_object_get(body, "query"));
	ck_assert_ptr_null(json_object_get(body, "files"));
	ck_assert_ptr_null(json_object_get(body, "conversation_id"));
	ck_assert_uint_eq(json_object_size(body), 3);
	json_decref(body);

	/* Another variable name, and a user that needs escaping. */
	body = ck_run_body(&cr, "a \"b\" \\c", "doc", 0, NULL);
	inputs = json_object_get(body, "inputs");
	ck_assert_uint_eq(json_object_size(inputs), 1);
	ck_assert_str_eq(ck_json_str(inputs, "doc"), "Translate: Hello");
	ck_assert_str_eq(ck_json_str(body, "user"), "a \"b\" \\c");
	json_decref(body);

	/* A variable name that needs escaping is a key like any other. */
	body = ck_run_body(&cr, "u", "my \"var\"\n", 0, NULL);
	inputs = json_object_get(body, "inputs");
	ck_assert_str_eq(ck_json_str(inputs, "my \"var\"\n"),
	    "Translate: Hello");
	json_decref(body);
	chat_request_free(&cr);
	buf_free(&raw);
}
END_TEST

/* Earlier turns and a system prompt: the text input is the transcript. */
START_TEST(check_dify_app_run_body_transcript)
{
	struct chat_request	 cr;
	struct buf		 q = BUF_INIT;
	json_t			*body, *v;

	ck_request(&cr, "{\"messages\":[{\"role\":\"system\",\"content\":"
	    "\"Be terse.\"},{\"role\":\"user\",\"content\":\"2+2?\"},"
	    "{\"role\":\"assistant\",\"content\":\"4\"},{\"role\":\"user\","
	    "\"content\":\"And 3+3? \\\"quoted\\\" \\u00e9\"}]}");
	chat_request_query(&cr, 0, &q);
	ck_assert_buf_str(&q, "System: Be terse.\n\nUser: 2+2?\n\n"
	    "Assistant: 4\n\nUser: And 3+3? \"quoted\" \xc3\xa9");
	body = ck_run_body(&cr, "u", "doc", 1, NULL);
	v = json_object_get(json_object_get(body, "inputs"), "doc");
	ck_assert(json_is_string(v));
	ck_assert_uint_eq(json_string_length(v), q.len);
	ck_assert_int_eq(memcmp(json_string_value(v), q.data, q.len), 0);
	v = json_object_get(body, "query");
	ck_assert(json_is_string(v));
	ck_assert_uint_eq(json_string_length(v), q.len);
	ck_assert_int_eq(memcmp(json_string_value(v), q.data, q.len), 0);
	json_decref(body);
	chat_request_free(&cr);

	/* NUL bytes reach Dify whole. */
	buf_reset(&q);
	ck_request(&cr, "{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"a\\u0000b\"}]}");
	body = ck_run_body(&cr, "u", "query", 0, NULL);
	v = json_object_get(json_object_get(body, "inputs"), "query");
	ck_assert_uint_eq(json_string_length(v), 3);
	ck_assert_int_eq(memcmp(json_string_value(v), "a\0b", 3), 0);
	json_decref(body);
	chat_request_free(&cr);
	buf_free(&q);
}
END_TEST

/* The client's inputs are kept; the text input overrides its namesake. */
START_TEST(check_dify_app_run_body_inputs)
{
	struct chat_request	 cr;
	struct buf		 raw = BUF_INIT;
	json_t			*body, *inputs;

	ck_request(&cr, "{\"inputs\":{\"city\":\"Paris\",\"doc\":\"client "
	    "text\",\"n\":2,\"o\":{\"k\":[1]}},\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"Hi\"}]}");
	body = ck_run_body(&cr, "u", "doc", 0, NULL);
	inputs = json_object_get(body, "inputs");
	ck_assert_uint_eq(json_object_size(inputs), 4);
	ck_assert_str_eq(ck_json_str(inputs, "city"), "Paris");
	ck_assert_str_eq(ck_json_str(inputs, "doc"), "Hi");
	ck_assert_int_eq(json_integer_value(json_object_get(inputs, "n")), 2);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(
	    json_object_get(inputs, "o"), "k"), 0)), 1);
	json_decref(body);
	chat_request_free(&cr);

	/* The only client input is the text input's name: just the text. */
	ck_request(&cr, "{\"inputs\":{\"doc\":\"x\"},\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"Hi\"}]}");
	body = ck_run_body(&cr, "u", "doc", 0, &raw);
	ck_assert_buf_str(&raw, "{\"inputs\":{\"doc\":\"Hi\"},"
	    "\"response_mode\":\"streaming\",\"user\":\"u\"}");
	json_decref(body);
	chat_request_free(&cr);

	/* Empty and null inputs are no inputs. */
	ck_request(&cr, "{\"inputs\":{},\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hi\"}]}");
	body = ck_run_body(&cr, "u", "doc", 0, NULL);
	ck_assert_uint_eq(json_object_size(json_object_get(body, "inputs")), 1);
	json_decref(body);
	chat_request_free(&cr);
	ck_request(&cr, "{\"inputs\":null,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hi\"}]}");
	body = ck_run_body(&cr, "u", "doc", 0, NULL);
	ck_assert_uint_eq(json_object_size(json_object_get(body, "inputs")), 1);
	json_decref(body);
	chat_request_free(&cr);
	buf_free(&raw);
}
END_TEST

/* with_query adds a top-level query equal to the text input: exact bytes. */
START_TEST(check_dify_app_run_body_query)
{
	struct chat_request	 cr;
	struct buf		 raw = BUF_INIT;
	json_t			*body;

	ck_request(&cr, "{\"inputs\":{\"city\":\"Paris\"},\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"Hi \\\"there\\\"\\n\"}],"
	    "\"user\":\"ignored here\"}");
	body = ck_run_body(&cr, "u-1", "query", 1, &raw);
	ck_assert_buf_str(&raw, "{\"inputs\":{\"city\":\"Paris\",\"query\":"
	    "\"Hi \\\"there\\\"\\n\"},\"query\":\"Hi \\\"there\\\"\\n\","
	    "\"response_mode\":\"streaming\",\"user\":\"u-1\"}");
	ck_assert_str_eq(ck_json_str(body, "query"), "Hi \"there\"\n");
	ck_assert_str_eq(ck_json_str(json_object_get(body, "inputs"), "query"),
	    "Hi \"there\"\n");
	ck_assert_str_eq(ck_json_str(body, "user"), "u-1");
	ck_assert_uint_eq(json_object_size(body), 4);
	json_decref(body);
	/* Without it, no top-level query. */
	body = ck_run_body(&cr, "u-1", "query", 0, NULL);
	ck_assert_ptr_null(json_object_get(body, "query"));
	ck_assert_uint_eq(json_object_size(body), 3);
	json_decref(body);
	chat_request_free(&cr);
	buf_free(&raw);
}
END_TEST

/* Images of the last user message go as the files array. */
START_TEST(check_dify_app_run_body_files)
{
	struct chat_request	 cr;
	json_t			*body, *files, *f;

	ck_request(&cr, "{\"messages\":[{\"role\":\"user\",\"content\":["
	    "{\"type\":\"text\",\"text\":\"What is this?\"},{\"type\":"
	    "\"image_url\",\"image_url\":{\"url\":\"https://e.com/a.png\","
	    "\"detail\":\"low\"}},{\"type\":\"image_url\",\"image_url\":"
	    "\"http://e.com/b.jpg\"}]}]}");
	ck_assert_uint_eq(cr.nfiles, 2);
	body = ck_run_body(&cr, "u", "query", 1, NULL);
	ck_assert_str_eq(ck_json_str(json_object_get(body, "inputs"), "query"),
	    "What is this?");
	files = json_object_get(body, "files");
	ck_assert(json_is_array(files));
	ck_assert_uint_eq(json_array_size(files), 2);
	f = json_array_get(files, 0);
	ck_assert_uint_eq(json_object_size(f), 3);
	ck_assert_str_eq(ck_json_str(f, "type"), "image");
	ck_assert_str_eq(ck_json_str(f, "transfer_method"), "remote_url");
	ck_assert_str_eq(ck_json_str(f, "url"), "https://e.com/a.png");
	ck_assert_str_eq(ck_json_str(json_array_get(files, 1), "url"),
	    "http://e.com/b.jpg");
	ck_assert_uint_eq(json_object_size(body), 5);
	json_decref(body);
	chat_request_free(&cr);
}
END_TEST

/* Each kind's table builds its own body from the same call. */
START_TEST(check_dify_app_kind_bodies)
{
	struct chat_request	 cr;
	struct dify_app_call	 c;
	struct buf		 b = BUF_INIT;

	ck_request(&cr, "{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Hi\"}]}");
	memset(&c, 0, sizeof(c));
	c.cr = &cr;
	c.user = "u";
	/* Workflow: inputs.query without a top-level query. */
	dify_app_workflow.body(&c, &b);
	ck_assert_buf_str(&b, "{\"inputs\":{\"query\":\"Hi\"},"
	    "\"response_mode\":\"streaming\",\"user\":\"u\"}");
	/* Completion without a form input: inputs.query and query. */
	buf_reset(&b);
	dify_app_completion.body(&c, &b);
	ck_assert_buf_str(&b, "{\"inputs\":{\"query\":\"Hi\"},\"query\":\"Hi\","
	    "\"response_mode\":\"streaming\",\"user\":\"u\"}");
	/* With the form's input, only that. */
	c.input_var = "prompt";
	buf_reset(&b);
	dify_app_completion.body(&c, &b);
	ck_assert_buf_str(&b, "{\"inputs\":{\"prompt\":\"Hi\"},"
	    "\"response_mode\":\"streaming\",\"user\":\"u\"}");
	buf_reset(&b);
	dify_app_workflow.body(&c, &b);
	ck_assert_buf_str(&b, "{\"inputs\":{\"prompt\":\"Hi\"},"
	    "\"response_mode\":\"streaming\",\"user\":\"u\"}");
	/* The chat kind sends the query and its conversation fields. */
	buf_reset(&b);
	dify_app_chat.body(&c, &b);
	ck_assert_buf_str(&b, "{\"inputs\":{},\"query\":\"Hi\","
	    "\"response_mode\":\"streaming\",\"user\":\"u\","
	    "\"auto_generate_name\":false}");
	buf_free(&b);
	chat_request_free(&cr);
}
END_TEST

/* Fixed inputs: the operator's values win, new ones are added. */
START_TEST(check_dify_app_fix_inputs)
{
	struct chat_request	 cr;
	json_t			*body, *inputs;

	ck_request(&cr, "{\"inputs\":{\"city\":\"Paris\",\"lang\":\"en\"},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
	ck_assert_int_eq(chat_request_fix_inputs(&cr, "{\"lang\":\"fr\","
	    "\"tone\":\"dry\",\"n\":3}"), 0);
	body = ck_run_body(&cr, "u", "doc", 0, NULL);
	inputs = json_object_get(body, "inputs");
	ck_assert_uint_eq(json_object_size(inputs), 5);
	ck_assert_str_eq(ck_json_str(inputs, "city"), "Paris");
	ck_assert_str_eq(ck_json_str(inputs, "lang"), "fr");
	ck_assert_str_eq(ck_json_str(inputs, "tone"), "dry");
	ck_assert_int_eq(json_integer_value(json_object_get(inputs, "n")), 3);
	ck_assert_str_eq(ck_json_str(inputs, "doc"), "Hi");
	json_decref(body);
	/* The text input is still the conversation. */
	ck_assert_int_eq(chat_request_fix_inputs(&cr, "{\"doc\":\"operator\"}"),
	    0);
	body = ck_run_body(&cr, "u", "doc", 0, NULL);
	ck_assert_str_eq(ck_json_str(json_object_get(body, "inputs"), "doc"),
	    "Hi");
	json_decref(body);
	/* Empty fixed inputs change nothing. */
	ck_assert_int_eq(chat_request_fix_inputs(&cr, "{}"), 0);
	body = ck_run_body(&cr, "u", "doc", 0, NULL);
	ck_assert_uint_eq(json_object_size(json_object_get(body, "inputs")), 5);
	json_decref(body);
	chat_request_free(&cr);

	/* No client inputs, or null ones: the fixed ones are set. */
	ck_request(&cr, "{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Hi\"}]}");
	ck_assert_int_eq(chat_request_fix_inputs(&cr, "{\"a\":\"1\"}"), 0);
	body = ck_run_body(&cr, "u", "doc", 0, NULL);
	inputs = json_object_get(body, "inputs");
	ck_assert_uint_eq(json_object_size(inputs), 2);
	ck_assert_str_eq(ck_json_str(inputs, "a"), "1");
	json_decref(body);
	chat_request_free(&cr);
	ck_request(&cr, "{\"inputs\":null,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hi\"}]}");
	ck_assert_int_eq(chat_request_fix_inputs(&cr, "{\"a\":\"1\"}"), 0);
	body = ck_run_body(&cr, "u", "doc", 0, NULL);
	ck_assert_str_eq(ck_json_str(json_object_get(body, "inputs"), "a"),
	    "1");
	json_decref(body);
	chat_request_free(&cr);
}
END_TEST

/* Fixed inputs that are not a JSON object: -1, the request unchanged. */
START_TEST(check_dify_app_fix_inputs_refused)
{
	static const char	*bad[] = {
		"[1]", "\"x\"", "3", "null", "nope", "", "{\"a\":", "{} {}",
	};
	struct chat_request	 cr;
	json_t			*body, *inputs;
	size_t			 i;

	ck_request(&cr, "{\"inputs\":{\"city\":\"Paris\"},\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"Hi\"}]}");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(chat_request_fix_inputs(&cr, bad[i]) == -1, "%s",
		    bad[i]);
	body = ck_run_body(&cr, "u", "doc", 0, NULL);
	inputs = json_object_get(body, "inputs");
	ck_assert_uint_eq(json_object_size(inputs), 2);
	ck_assert_str_eq(ck_json_str(inputs, "city"), "Paris");
	json_decref(body);
	chat_request_free(&cr);
}
END_TEST

/* The client bytes a chat stream with this answer gives. */
static void
ck_want_hello(struct buf *w, int stream, int usage)
{
	if (!stream) {
		buf_add_str(w, CK_APP_COMPLETION("Hello! How can I help?",
		    "stop", CK_APP_USAGE(17, 9, 26)));
		return;
	}
	ck_want_role(w, usage);
	ck_want_content(w, usage, "Hello");
	ck_want_content(w, usage, "! How can I help?");
	ck_want_end(w, usage, "stop", 17, 9, 26);
}

/* A completion stream gives the bytes the chat stream of its answer does. */
START_TEST(check_dify_app_completion_stream)
{
	struct buf	 chat = BUF_INIT, got = BUF_INIT, w = BUF_INIT;
	int		 stream, usage, status;

	for (stream = 0; stream <= 1; stream++) {
		for (usage = 0; usage <= 1; usage++) {
			buf_reset(&chat);
			buf_reset(&got);
			buf_reset(&w);
			ck_app_exchange(NULL, NULL, stream, usage, CK_APP_SSE,
			    CHECK_FX_CHAT_STREAM, &chat, NULL);
			ck_app_exchange(&dify_app_completion, NULL, stream,
			    usage, CK_APP_SSE, CK_CO_STREAM, &got, &status);
			ck_assert_int_eq(status, 200);
			ck_want_hello(&w, stream, usage);
			ck_assert_buf_is(&got, &chat);
			ck_assert_buf_is(&got, &w);
		}
	}
	buf_free(&chat);
	buf_free(&got);
	buf_free(&w);
}
END_TEST

/* A completion stream, step by step: ids, states, the end at message_end. */
START_TEST(check_dify_app_completion_states)
{
	struct ck_app_run	t;
	struct buf		w = BUF_INIT;

	ck_app_start(&t, &dify_app_completion, NULL, 1, 0);
	ck_app_response(&t, 200, CK_APP_SSE);
	ck_assert_int_eq(t.r.state, RELAY_AWAIT_EVENT);
	ck_app_data(&t, "data: " CK_CO_MSG("Hello") "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_STREAMING);
	ck_assert_int_eq(t.r.event_stream, 1);
	ck_want_role(&w, 0);
	ck_want_content(&w, 0, "Hello");
	ck_assert_buf_is(&t.out, &w);
	ck_app_data(&t, "data: " CK_CO_MSG("! How can I help?") "\n\n"
	    "data: " CK_CO_END "\n\n"
	    "data: " CK_CO_MSG("after the end") "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_DONE);
	ck_assert_str_eq(t.r.task_id, "c3800678-a077-43df-a102-53f23ed20b88");
	ck_assert_str_eq(t.r.conversation_id, "");
	buf_reset(&w);
	ck_want_hello(&w, 1, 0);
	ck_assert_buf_is(&t.out, &w);
	ck_app_end(&t);
	ck_assert_buf_is(&t.out, &w);
	ck_app_stop(&t);

	/* A blocking completion body (§4.2) is an answer too. */
	buf_reset(&w);
	ck_app_exchange(&dify_app_completion, NULL, 0, 0, CK_APP_JSON,
	    "{\"event\": \"message\", \"task_id\": \"T\", \"id\": \"M\", "
	    "\"message_id\": \"M\", \"mode\": \"completion\", \"answer\": "
	    "\"Hello! How can I help?\", \"metadata\": {\"usage\": "
	    "{\"prompt_tokens\": 17, \"completion_tokens\": 9, "
	    "\"total_tokens\": 26}}, \"created_at\": 1705407629}", &w, NULL);
	ck_assert_buf_str(&w, CK_APP_COMPLETION("Hello! How can I help?",
	    "stop", CK_APP_USAGE(17, 9, 26)));
	buf_free(&w);
}
END_TEST

/* A completion error event: an error frame mid-stream, else an error. */
START_TEST(check_dify_app_completion_error)
{
	struct ck_app_run	t;
	struct buf		w = BUF_INIT;
	static const char	err[] = "{\"error\":{\"message\":"
				    "\"Incorrect API key provided\",\"type\":"
				    "\"invalid_request_error\",\"param\":null,"
				    "\"code\":\"completion_request_error\"}}";
	int			stream;

	/* After text, streamed: the text, then the frame; no [DONE]. */
	ck_app_start(&t, &dify_app_completion, NULL, 1, 1);
	ck_app_response(&t, 200, CK_APP_SSE);
	ck_app_data(&t, "data: " CK_CO_MSG("Hello") "\n\n"
	    "data: " CK_CO_ERROR "\n\n" "data: " CK_CO_END "\n\n");
	ck_app_end(&t);
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.status, 200);
	ck_want_role(&w, 1);
	ck_want_content(&w, 1, "Hello");
	buf_printf(&w, "data: %s\n\n", err);
	ck_assert_buf_is(&t.out, &w);
	ck_app_stop(&t);

	/* Not streamed, or as the first event: the error as the response. */
	for (stream = 0; stream <= 1; stream++) {
		ck_app_start(&t, &dify_app_completion, NULL, stream, 0);
		ck_app_response(&t, 200, CK_APP_SSE);
		if (!stream)
			ck_app_data(&t, "data: " CK_CO_MSG("Hello") "\n\n");
		ck_app_data(&t, "data: " CK_CO_ERROR "\n\n");
		ck_assert_int_eq(t.r.state, RELAY_FAILED);
		ck_assert_int_eq(t.r.status, 400);
		ck_assert_int_eq(t.r.event_stream, 0);
		ck_assert_buf_str(&t.out, err);
		ck_app_stop(&t);
	}

	/* EOF before message_end: the answer is incomplete. */
	ck_app_start(&t, &dify_app_completion, NULL, 1, 0);
	ck_app_response(&t, 200, CK_APP_SSE);
	ck_app_data(&t, "data: " CK_CO_MSG("Hello") "\n\n");
	ck_app_end(&t);
	buf_reset(&w);
	ck_want_role(&w, 0);
	ck_want_content(&w, 0, "Hello");
	buf_add_str(&w, "data: " CK_WF_INCOMPLETE_ERROR "\n\n");
	ck_assert_buf_is(&t.out, &w);
	ck_app_stop(&t);
	buf_free(&w);
}
END_TEST

/* The client bytes of the §3.5 workflow run (answer "Bonjour le monde"). */
static void
ck_want_bonjour(struct buf *w, int stream, int usage, int chunks)
{
	if (!stream) {
		buf_add_str(w, CK_APP_COMPLETION("Bonjour le monde", "stop",
		    CK_APP_USAGE(0, 0, 150)));
		return;
	}
	ck_want_role(w, usage);
	if (chunks) {
		ck_want_content(w, usage, "Bonjour");
		ck_want_content(w, usage, " le monde");
	} else
		ck_want_content(w, usage, "Bonjour le monde");
	ck_want_end(w, usage, "stop", 0, 0, 150);
}

/* The §3.5 workflow stream: its text chunks, stop, usage total 150. */
START_TEST(check_dify_app_workflow_stream)
{
	struct ck_app_run	t;
	struct buf		w = BUF_INIT, got = BUF_INIT;
	int			stream, usage;

	ck_app_start(&t, &dify_app_workflow, NULL, 1, 1);
	ck_app_response(&t, 200, CK_APP_SSE);
	ck_app_data(&t, CK_WF_HEAD);
	/* workflow_started commits the stream. */
	ck_assert_int_eq(t.r.state, RELAY_STREAMING);
	ck_want_role(&w, 1);
	ck_assert_buf_is(&t.out, &w);
	ck_app_data(&t, CK_WF_CHUNKS CK_WF_NODES_END);
	ck_want_content(&w, 1, "Bonjour");
	ck_want_content(&w, 1, " le monde");
	ck_assert_buf_is(&t.out, &w);
	ck_assert_int_eq(t.r.complete, 0);
	ck_app_data(&t, "data: " CHECK_FX_WORKFLOW_10 "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_DONE);
	ck_assert_int_eq(t.r.complete, 1);
	ck_assert_str_eq(t.r.task_id, "T");
	/* The outputs repeat the streamed text: it is not sent again. */
	ck_want_end(&w, 1, "stop", 0, 0, 150);
	ck_assert_buf_is(&t.out, &w);
	ck_app_stop(&t);

	for (stream = 0; stream <= 1; stream++) {
		for (usage = 0; usage <= 1; usage++) {
			buf_reset(&w);
			buf_reset(&got);
			ck_app_exchange(&dify_app_workflow, NULL, stream, usage,
			    CK_APP_SSE, CK_WF_STREAM, &got, NULL);
			ck_want_bonjour(&w, stream, usage, 1);
			ck_assert_buf_is(&got, &w);
		}
	}
	buf_free(&w);
	buf_free(&got);
}
END_TEST

/* No text_chunk: the output chosen at workflow_finished, in one chunk. */
START_TEST(check_dify_app_workflow_no_chunks)
{
	struct buf	w = BUF_INIT, got = BUF_INIT;
	int		stream, usage;

	for (stream = 0; stream <= 1; stream++) {
		for (usage = 0; usage <= 1; usage++) {
			buf_reset(&w);
			buf_reset(&got);
			ck_app_exchange(&dify_app_workflow, NULL, stream, usage,
			    CK_APP_SSE, CK_WF_STREAM_NOCHUNKS, &got, NULL);
			ck_want_bonjour(&w, stream, usage, 0);
			ck_assert_buf_is(&got, &w);
		}
	}
	/* Outputs with no string: the JSON text, escaped in the chunk. */
	buf_reset(&w);
	buf_reset(&got);
	ck_app_exchange(&dify_app_workflow, NULL, 1, 0, CK_APP_SSE,
	    CK_WF_HEAD "data: " CK_WF_FINISHED("succeeded", "{\"n\":3}", "null")
	    "\n\n", &got, NULL);
	ck_want_role(&w, 0);
	ck_want_content(&w, 0, "{\\n  \\\"n\\\": 3\\n}");
	ck_want_end(&w, 0, "stop", 0, 0, 0);
	ck_assert_buf_is(&got, &w);
	/* Empty outputs and no chunks: an empty answer, still stop. */
	buf_reset(&got);
	ck_app_exchange(&dify_app_workflow, NULL, 0, 0, CK_APP_SSE,
	    CK_WF_HEAD "data: " CK_WF_FINISHED("succeeded", "{}", "null")
	    "\n\n", &got, NULL);
	ck_assert_buf_str(&got, CK_APP_COMPLETION("", "stop",
	    CK_APP_USAGE(0, 0, 150)));
	buf_free(&w);
	buf_free(&got);
}
END_TEST

/* A named output is the answer: the text chunks are not content. */
START_TEST(check_dify_app_workflow_output_var)
{
	struct buf	w = BUF_INIT, got = BUF_INIT;
	int		usage;

	for (usage = 0; usage <= 1; usage++) {
		buf_reset(&w);
		buf_reset(&got);
		ck_app_exchange(&dify_app_workflow, "final", 1, usage,
		    CK_APP_SSE, CK_WF_STREAM_FINAL, &got, NULL);
		ck_want_role(&w, usage);
		ck_want_content(&w, usage, "Hello world");
		ck_want_end(&w, usage, "stop", 0, 0, 150);
		ck_assert_buf_is(&got, &w);
		ck_assert_ptr_null(strstr(buf_cstr(&got), "Bonjour"));
	}
	buf_reset(&got);
	ck_app_exchange(&dify_app_workflow, "final", 0, 0, CK_APP_SSE,
	    CK_WF_STREAM_FINAL, &got, NULL);
	ck_assert_buf_str(&got, CK_APP_COMPLETION("Hello world", "stop",
	    CK_APP_USAGE(0, 0, 150)));
	/* A name the outputs lack: the usual choice, once. */
	buf_reset(&got);
	ck_app_exchange(&dify_app_workflow, "missing", 1, 0, CK_APP_SSE,
	    CK_WF_STREAM, &got, NULL);
	buf_reset(&w);
	ck_want_bonjour(&w, 1, 0, 0);
	ck_assert_buf_is(&got, &w);
	buf_free(&w);
	buf_free(&got);
}
END_TEST

/* A failed run: the in-stream workflow_failed frame, else a 502. */
START_TEST(check_dify_app_workflow_failed)
{
	struct ck_app_run	t;
	struct buf		w = BUF_INIT;

	ck_app_start(&t, &dify_app_workflow, NULL, 1, 1);
	ck_app_response(&t, 200, CK_APP_SSE);
	ck_app_data(&t, CK_WF_HEAD "data: " CHECK_FX_WORKFLOW_5 "\n\n"
	    "data: " CK_WF_FAILED "\n\n");
	ck_assert_int_eq(t.r.state, RELAY_FAILED);
	ck_assert_int_eq(t.r.complete, 1);
	ck_assert_ptr_nonnull(t.r.error);
	ck_assert_str_eq(t.r.error->code, "workflow_failed");
	ck_want_role(&w, 1);
	ck_want_content(&w, 1, "Bonjour");
	buf_add_str(&w, CK_WF_FAILED_FRAME);
	ck_assert_buf_is(&t.out, &w);
	/* Anything after it adds nothing. */
	ck_app_data(&t, "data: " CHECK_FX_WORKFLOW_10 "\n\n");
	ck_app_end(&t);
	ck_assert_buf_is(&t.out, &w);
	ck_app_stop(&t);

	/* Not streamed: a 502 with the same error, not the partial text. */
	ck_app_start(&t, &dify_app_workflow, NULL, 0, 0);
	ck_app_response(&t, 200, CK_APP_SSE);
	ck_app_data(&t, CK_WF_HEAD "data: " CHECK_FX_WORKFLOW_5 "\n\n"
	    "data: " CK_WF_FAILED "\n\n");
	ck_assert_int_eq(t.r.status, 502);
	ck_assert_int_eq(t.r.event_stream, 0);
	ck_assert_buf_str(&t.out, CK_WF_FAILED_ERROR);
	ck_app_stop(&t);

	/* No error text: the status says what happened. */
	buf_reset(&w);
	ck_app_exchange(&dify_app_workflow, NULL, 0, 0, CK_APP_SSE,
	    CK_WF_HEAD "data: " CK_WF_FINISHED("failed", "null", "null")
	    "\n\n", &w, NULL);
	ck_assert_buf_str(&w, "{\"error\":{\"message\":\"Run failed: failed\","
	    "\"type\":\"server_error\",\"param\":null,\"code\":"
	    "\"workflow_failed\"}}");
	buf_free(&w);
}
END_TEST

/* A stopped run: workflow_stopped, in the stream or as the response. */
START_TEST(check_dify_app_workflow_stopped)
{
	struct buf	w = BUF_INIT, got = BUF_INIT;
	int		status;

	ck_app_exchange(&dify_app_workflow, NULL, 1, 0, CK_APP_SSE,
	    CK_WF_HEAD CK_WF_CHUNKS "data: " CK_WF_FINISHED("stopped",
	    "{\"result\":\"Bonjour le monde\"}", "\"Workflow execution stopped "
	    "by user.\"") "\n\n", &got, &status);
	ck_assert_int_eq(status, 200);
	ck_want_role(&w, 0);
	ck_want_content(&w, 0, "Bonjour");
	ck_want_content(&w, 0, " le monde");
	buf_add_str(&w, "data: " CK_WF_STOPPED_ERROR "\n\n");
	ck_assert_buf_is(&got, &w);

	buf_reset(&got);
	ck_app_exchange(&dify_app_workflow, NULL, 0, 1, CK_APP_SSE,
	    CK_WF_HEAD CK_WF_CHUNKS "data: " CK_WF_FINISHED("stopped", "{}",
	    "null") "\n\n", &got, &status);
	ck_assert_int_eq(status, 502);
	ck_assert_buf_str(&got, CK_WF_STOPPED_ERROR);
	buf_free(&w);
	buf_free(&got);
}
END_TEST

/* EOF before workflow_finished: upstream_incomplete, never [DONE]. */
START_TEST(check_dify_app_workflow_eof)
{
	struct buf	w = BUF_INIT, got = BUF_INIT;
	int		status;

	ck_app_exchange(&dify_app_workflow, NULL, 1, 1, CK_APP_SSE,
	    CK_WF_HEAD CK_WF_CHUNKS CK_WF_NODES_END "data: {\"event\":\"work",
	    &got, &status);
	ck_assert_int_eq(status, 200);
	ck_want_role(&w, 1);
	ck_want_content(&w, 1, "Bonjour");
	ck_want_content(&w, 1, " le monde");
	buf_add_str(&w, "data: " CK_WF_INCOMPLETE_ERROR "\n\n");
	ck_assert_buf_is(&got, &w);

	buf_reset(&got);
	ck_app_exchange(&dify_app_workflow, NULL, 0, 0, CK_APP_SSE,
	    CK_WF_HEAD CK_WF_CHUNKS CK_WF_NODES_END, &got, &status);
	ck_assert_int_eq(status, 502);
	ck_assert_buf_str(&got, CK_WF_INCOMPLETE_ERROR);
	buf_free(&w);
	buf_free(&got);
}
END_TEST

/* text_replace follows a streamed answer, replaces a held one. */
START_TEST(check_dify_app_workflow_replace)
{
	static const char	 in[] = CK_WF_HEAD CK_WF_CHUNKS
				    "data: {\"event\":\"text_replace\","
				    "\"workflow_run_id\":\"R\",\"task_id\":"
				    "\"T\",\"data\":{\"text\":\"[redacted]\"}}"
				    "\n\n"
				    "data: " CK_WF_CHUNK(" more") "\n\n"
				    CK_WF_NODES_END
				    "data: " CHECK_FX_WORKFLOW_10 "\n\n";
	struct buf		 w = BUF_INIT, got = BUF_INIT;
	int			 usage;

	for (usage = 0; usage <= 1; usage++) {
		buf_reset(&w);
		buf_reset(&got);
		ck_app_exchange(&dify_app_workflow, NULL, 1, usage, CK_APP_SSE,
		    in, &got, NULL);
		ck_want_role(&w, usage);
		ck_want_content(&w, usage, "Bonjour");
		ck_want_content(&w, usage, " le monde");
		ck_want_content(&w, usage, "[redacted]");
		ck_want_end(&w, usage, "content_filter", 0, 0, 150);
		ck_assert_buf_is(&got, &w);
	}
	buf_reset(&got);
	ck_app_exchange(&dify_app_workflow, NULL, 0, 0, CK_APP_SSE, in, &got,
	    NULL);
	ck_assert_buf_str(&got, CK_APP_COMPLETION("[redacted]",
	    "content_filter", CK_APP_USAGE(0, 0, 150)));
	/* EOF after the replacement: the replacement was the answer. */
	buf_reset(&got);
	ck_app_exchange(&dify_app_workflow, NULL, 0, 0, CK_APP_SSE,
	    CK_WF_HEAD CK_WF_CHUNKS "data: {\"event\":\"text_replace\","
	    "\"task_id\":\"T\",\"data\":{\"text\":\"[redacted]\"}}\n\n", &got,
	    NULL);
	ck_assert_buf_str(&got, CK_APP_COMPLETION("[redacted]",
	    "content_filter", ""));
	buf_free(&w);
	buf_free(&got);
}
END_TEST

/*
 * Output moderation also covers a named output: after text_replace the
 * replacement is the whole answer, whatever workflow_finished holds.
 */
START_TEST(check_dify_app_workflow_replace_named)
{
	static const char	 in[] = CK_WF_HEAD CK_WF_CHUNKS
				    "data: {\"event\":\"text_replace\","
				    "\"task_id\":\"T\",\"data\":{\"text\":"
				    "\"[redacted]\"}}\n\n"
				    "data: {\"event\":\"workflow_finished\","
				    "\"task_id\":\"T\",\"data\":{\"status\":"
				    "\"succeeded\",\"outputs\":{\"final\":"
				    "\"bad words\"},\"total_tokens\":3}}\n\n";
	static const char	 early[] = CK_WF_HEAD
				    "data: {\"event\":\"text_replace\","
				    "\"task_id\":\"T\",\"data\":{\"text\":"
				    "\"\"}}\n\n"
				    "data: {\"event\":\"workflow_finished\","
				    "\"task_id\":\"T\",\"data\":{\"status\":"
				    "\"succeeded\",\"outputs\":{\"text\":"
				    "\"bad words\"}}}\n\n";
	struct buf		 got = BUF_INIT;

	ck_app_exchange(&dify_app_workflow, "final", 0, 0, CK_APP_SSE, in,
	    &got, NULL);
	ck_assert_buf_str(&got, CK_APP_COMPLETION("[redacted]",
	    "content_filter", CK_APP_USAGE(0, 0, 3)));
	buf_reset(&got);
	ck_app_exchange(&dify_app_workflow, NULL, 0, 0, CK_APP_SSE, early,
	    &got, NULL);
	ck_assert_ptr_null(strstr(buf_cstr(&got), "bad words"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&got), "content_filter"));
	buf_free(&got);
}
END_TEST

/* A blocking body's NUL bytes and a null named output. */
START_TEST(check_dify_app_workflow_blocking_nul)
{
	static const char	body[] = CK_WF_BLOCKING("succeeded",
				    "{\"text\": \"a\\u0000b\", \"final\": null}",
				    "null");
	struct buf		got = BUF_INIT;
	int			status;

	ck_app_exchange(&dify_app_workflow, "final", 0, 0, CK_APP_JSON, body,
	    &got, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(memmem(got.data, got.len, "a\\u0000b", 7));
	buf_free(&got);
}
END_TEST

/* A blocking workflow body (§4.3): the answer from its outputs. */
START_TEST(check_dify_app_workflow_blocking)
{
	struct ck_app_run	t;
	struct buf		w = BUF_INIT, got = BUF_INIT;
	static const char	body[] = CK_WF_BLOCKING("succeeded",
				    "{\"result\": \"Bonjour le monde\"}",
				    "null");
	int			usage, status;

	for (usage = 0; usage <= 1; usage++) {
		ck_app_start(&t, &dify_app_workflow, NULL, 1, usage);
		ck_app_response(&t, 200, CK_APP_JSON);
		ck_assert_int_eq(t.r.state, RELAY_JSON_BODY);
		ck_app_datan(&t, body, 40);
		ck_app_datan(&t, body + 40, sizeof(body) - 1 - 40);
		ck_assert_uint_eq(t.out.len, 0);
		ck_app_end(&t);
		ck_assert_int_eq(t.r.state, RELAY_DONE);
		ck_assert_int_eq(t.r.status, 200);
		ck_assert_int_eq(t.r.event_stream, 1);
		ck_assert_str_eq(t.r.task_id,
		    "c3800678-a077-43df-a102-53f23ed20b88");
		buf_reset(&w);
		ck_want_bonjour(&w, 1, usage, 0);
		ck_assert_buf_is(&t.out, &w);
		ck_app_stop(&t);
	}
	buf_reset(&got);
	ck_app_exchange(&dify_app_workflow, NULL, 0, 0, "application/json",
	    body, &got, &status);
	ck_assert_int_eq(status, 200);
	buf_reset(&w);
	ck_want_bonjour(&w, 0, 0, 0);
	ck_assert_buf_is(&got, &w);
	/* json.dumps escapes non-ASCII; the named output is chosen. */
	buf_reset(&got);
	ck_app_exchange(&dify_app_workflow, "final", 0, 0, CK_APP_JSON,
	    CK_WF_BLOCKING("partial-succeeded", "{\"result\": \"R\", "
	    "\"final\": \"\\u00e9t\\u00e9\"}", "null"), &got, &status);
	ck_assert_int_eq(status, 200);
	ck_assert_buf_str(&got, CK_APP_COMPLETION("\xc3\xa9t\xc3\xa9", "stop",
	    CK_APP_USAGE(0, 0, 150)));
	buf_free(&w);
	buf_free(&got);
}
END_TEST

/* A blocking failed or unreadable run is an error response. */
START_TEST(check_dify_app_workflow_blocking_failed)
{
	struct buf	got = BUF_INIT;
	int		stream, status;

	for (stream = 0; stream <= 1; stream++) {
		buf_reset(&got);
		ck_app_exchange(&dify_app_workflow, NULL, stream, 1,
		    CK_APP_JSON, CK_WF_BLOCKING("failed", "{}",
		    "\"Node LLM run failed: [openai] Error: quota\""), &got,
		    &status);
		ck_assert_int_eq(status, 502);
		ck_assert_buf_str(&got, CK_WF_FAILED_ERROR);
		buf_reset(&got);
		ck_app_exchange(&dify_app_workflow, NULL, stream, 0,
		    CK_APP_JSON, CK_WF_BLOCKING("stopped", "null", "null"),
		    &got, &status);
		ck_assert_int_eq(status, 502);
		ck_assert_buf_str(&got, CK_WF_STOPPED_ERROR);
		/* Not Dify's shape, or cut off. */
		buf_reset(&got);
		ck_app_exchange(&dify_app_workflow, NULL, stream, 0,
		    CK_APP_JSON, "{\"task_id\": \"T\", \"data\": \"x\"}", &got,
		    &status);
		ck_assert_int_eq(status, 502);
		ck_assert_ptr_nonnull(strstr(buf_cstr(&got),
		    "\"code\":\"upstream_protocol_error\""));
		buf_reset(&got);
		ck_app_exchange(&dify_app_workflow, NULL, stream, 0,
		    CK_APP_JSON, "{\"task_id\": \"T\", \"data\": {\"status\"",
		    &got, &status);
		ck_assert_int_eq(status, 502);
		ck_assert_ptr_nonnull(strstr(buf_cstr(&got),
		    "\"code\":\"upstream_protocol_error\""));
	}
	buf_free(&got);
}
END_TEST

/* Feed input to a fresh relay of a kind cut at cuts, then EOF. */
static void
ck_app_feed_cut(const struct dify_app *app, const char *output_var,
    int stream, int usage, const char *input, size_t len, const size_t *cuts,
    size_t ncuts, struct buf *out)
{
	struct ck_app_run	t;
	size_t			i, start = 0, stop;

	ck_app_start(&t, app, output_var, stream, usage);
	ck_app_response(&t, 200, CK_APP_SSE);
	for (i = 0; i <= ncuts; i++) {
		stop = i < ncuts ? cuts[i] : len;
		ck_app_datan(&t, input + start, stop - start);
		start = stop;
	}
	ck_app_end(&t);
	buf_add(out, t.out.data, t.out.len);
	ck_app_stop(&t);
}

/*
 * Feed input whole, in two at every position and byte by byte: the client
 * bytes are always want(stream, usage).
 */
static void
ck_app_every_split(const char *name, const struct dify_app *app,
    const char *output_var, const char *input,
    void (*want)(struct buf *, int, int))
{
	struct buf	 w = BUF_INIT, got = BUF_INIT;
	size_t		 len = strlen(input), i, *cuts;
	int		 stream, usage;
	char		 msg[4096];

	cuts = calloc(len + 1, sizeof(*cuts));
	ck_assert_ptr_nonnull(cuts);
	for (i = 0; i + 1 < len; i++)
		cuts[i] = i + 1;
	for (stream = 0; stream <= 1; stream++) {
		for (usage = 0; usage <= 1; usage++) {
			buf_reset(&w);
			want(&w, stream, usage);
			buf_reset(&got);
			ck_app_feed_cut(app, output_var, stream, usage, input,
			    len, NULL, 0, &got);
			ck_assert_msg(check_same_buf(&got, &w, msg,
			    sizeof(msg)), "%s stream=%d usage=%d whole: %s",
			    name, stream, usage, msg);
			for (i = 1; i < len; i++) {
				buf_reset(&got);
				ck_app_feed_cut(app, output_var, stream, usage,
				    input, len, &i, 1, &got);
				ck_assert_msg(check_same_buf(&got, &w, msg,
				    sizeof(msg)), "%s stream=%d usage=%d "
				    "split at %zu: %s", name, stream, usage, i,
				    msg);
			}
			buf_reset(&got);
			ck_app_feed_cut(app, output_var, stream, usage, input,
			    len, cuts, len - 1, &got);
			ck_assert_msg(check_same_buf(&got, &w, msg,
			    sizeof(msg)), "%s stream=%d usage=%d byte by byte: "
			    "%s", name, stream, usage, msg);
		}
	}
	free(cuts);
	buf_free(&w);
	buf_free(&got);
}

/* Golden bytes of the §3.5 workflow stream, text chunks streamed. */
static void
ck_golden_workflow(struct buf *w, int stream, int usage)
{
	ck_want_bonjour(w, stream, usage, 1);
}

/* Golden bytes of the run answered at workflow_finished. */
static void
ck_golden_workflow_final(struct buf *w, int stream, int usage)
{
	if (!stream) {
		buf_add_str(w, CK_APP_COMPLETION("Hello world", "stop",
		    CK_APP_USAGE(0, 0, 150)));
		return;
	}
	ck_want_role(w, usage);
	ck_want_content(w, usage, "Hello world");
	ck_want_end(w, usage, "stop", 0, 0, 150);
}

/* Golden bytes of a workflow streaming multi-byte UTF-8. */
static void
ck_golden_workflow_utf8(struct buf *w, int stream, int usage)
{
	if (!stream) {
		buf_add_str(w, CK_APP_COMPLETION("\xe4\xbd\xa0\xe5\xa5\xbd "
		    "\xf0\x9f\x99\x82\\\"\\n", "stop",
		    CK_APP_USAGE(0, 0, 150)));
		return;
	}
	ck_want_role(w, usage);
	ck_want_content(w, usage, "\xe4\xbd\xa0\xe5\xa5\xbd");
	ck_want_content(w, usage, " \xf0\x9f\x99\x82\\\"\\n");
	ck_want_end(w, usage, "stop", 0, 0, 150);
}

/* Golden bytes of the completion stream. */
static void
ck_golden_completion(struct buf *w, int stream, int usage)
{
	ck_want_hello(w, stream, usage);
}

/* Every split of the workflow stream gives the golden bytes. */
START_TEST(check_dify_app_split_workflow)
{
	ck_app_every_split("workflow", &dify_app_workflow, NULL, CK_WF_STREAM,
	    ck_golden_workflow);
}
END_TEST

/* Every split of a named-output run and a UTF-8 run is the golden one. */
START_TEST(check_dify_app_split_workflow_more)
{
	ck_app_every_split("final", &dify_app_workflow, "final",
	    CK_WF_STREAM_FINAL, ck_golden_workflow_final);
	ck_app_every_split("nochunks-final", &dify_app_workflow, "final",
	    CK_WF_HEAD CK_WF_NODES_END "data: " CK_WF_FINISHED("succeeded",
	    "{\"final\":\"Hello world\"}", "null") "\n\n",
	    ck_golden_workflow_final);
	ck_app_every_split("utf8", &dify_app_workflow, NULL,
	    "event: ping\r\n\r\n"
	    "data: " CHECK_FX_WORKFLOW_1 "\r\n\r\n"
	    "data: " CK_WF_CHUNK("\xe4\xbd\xa0\xe5\xa5\xbd") "\r\n\r\n"
	    "data: " CK_WF_CHUNK(" \\ud83d\\ude42\\\"\\n") "\r\n\r\n"
	    "data: " CHECK_FX_WORKFLOW_10 "\r\n\r\n", ck_golden_workflow_utf8);
}
END_TEST

/* Every split of the completion stream gives the golden bytes. */
START_TEST(check_dify_app_split_completion)
{
	ck_app_every_split("completion", &dify_app_completion, NULL,
	    CK_CO_STREAM, ck_golden_completion);
}
END_TEST

/* The dify_app suite. */
/* Assistant files become Markdown links; relative urls get the origin. */
START_TEST(check_dify_app_file_links)
{
	static const struct {
		const char	*event;
		const char	*want;		/* content; NULL: none */
	} cases[] = {
		{ "\"type\":\"image\",\"belongs_to\":\"assistant\","
		    "\"url\":\"https://f.example/a.png\"",
		    "![image](https://f.example/a.png)\n\n" },
		{ "\"type\":\"document\",\"belongs_to\":\"assistant\","
		    "\"url\":\"https://f.example/r.pdf\"",
		    "[file](https://f.example/r.pdf)\n\n" },
		{ "\"type\":\"image\",\"belongs_to\":\"assistant\","
		    "\"url\":\"/files/tools/x.png?sign=1\"",
		    "![image](http://dify.local:5001/files/tools/x.png?sign=1)"
		    "\n\n" },
		{ "\"type\":\"image\",\"belongs_to\":\"assistant\","
		    "\"url\":\"https://f.example/a b(1).png\"",
		    "![image](https://f.example/a%20b%281%29.png)\n\n" },
		{ "\"type\":\"image\",\"belongs_to\":\"user\","
		    "\"url\":\"https://f.example/u.png\"", NULL },
		{ "\"type\":\"image\",\"belongs_to\":\"assistant\","
		    "\"url\":\"javascript:alert(1)\"", NULL },
		{ "\"type\":\"image\",\"belongs_to\":\"assistant\","
		    "\"url\":\"//evil.example/x.png\"", NULL },
		{ "\"type\":\"image\",\"belongs_to\":\"assistant\","
		    "\"url\":\"https://f.example/\\nx\"", NULL },
		{ "\"type\":\"image\",\"belongs_to\":\"assistant\"", NULL },
	};
	struct relay_params	 p;
	struct relay		 r;
	char			 ev[512];
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.id = "chatcmpl-x";
		p.model = "m";
		p.modellen = 1;
		p.max_event = 65536;
		p.max_answer = 65536;
		p.file_origin = "http://dify.local:5001";
		relay_init(&r, &p);
		relay_response(&r, 200, "text/event-stream", NULL);
		snprintf(ev, sizeof(ev), "data: {\"event\":\"message_file\","
		    "\"task_id\":\"T\",\"id\":\"F\",%s}\n\n",
		    cases[i].event);
		relay_data(&r, ev, strlen(ev));
		if (cases[i].want == NULL)
			ck_assert_msg(r.answer.len == 0, "case %zu", i);
		else {
			ck_assert_msg(r.answer.len == strlen(cases[i].want) &&
			    memcmp(r.answer.data, cases[i].want,
			    r.answer.len) == 0, "case %zu: %.*s", i,
			    (int)r.answer.len, r.answer.data);
		}
		relay_free(&r);
	}
}
END_TEST

Suite *
dify_app_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("dify_app");
	tc = tcase_create("kinds");
	tcase_add_test(tc, check_dify_app_modes);
	tcase_add_test(tc, check_dify_app_stop_paths);
	tcase_add_test(tc, check_dify_app_kind_bodies);
	suite_add_tcase(s, tc);

	tc = tcase_create("workflow_output");
	tcase_add_test(tc, check_dify_app_output_named);
	tcase_add_test(tc, check_dify_app_output_priority);
	tcase_add_test(tc, check_dify_app_output_single_string);
	tcase_add_test(tc, check_dify_app_output_json_text);
	tcase_add_test(tc, check_dify_app_output_nested);
	tcase_add_test(tc, check_dify_app_output_nothing);
	tcase_add_test(tc, check_dify_app_output_top_level);
	tcase_add_test(tc, check_dify_app_output_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("form");
	tcase_add_test(tc, check_dify_app_form_workflow);
	tcase_add_test(tc, check_dify_app_form_completion);
	tcase_add_test(tc, check_dify_app_form_skipped);
	tcase_add_test(tc, check_dify_app_form_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("run_body");
	tcase_add_test(tc, check_dify_app_run_body_first_turn);
	tcase_add_test(tc, check_dify_app_run_body_transcript);
	tcase_add_test(tc, check_dify_app_run_body_inputs);
	tcase_add_test(tc, check_dify_app_run_body_query);
	tcase_add_test(tc, check_dify_app_run_body_files);
	tcase_add_test(tc, check_dify_app_fix_inputs);
	tcase_add_test(tc, check_dify_app_fix_inputs_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("completion");
	tcase_add_test(tc, check_dify_app_completion_stream);
	tcase_add_test(tc, check_dify_app_completion_states);
	tcase_add_test(tc, check_dify_app_completion_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("workflow");
	tcase_add_test(tc, check_dify_app_workflow_stream);
	tcase_add_test(tc, check_dify_app_workflow_no_chunks);
	tcase_add_test(tc, check_dify_app_workflow_output_var);
	tcase_add_test(tc, check_dify_app_workflow_failed);
	tcase_add_test(tc, check_dify_app_workflow_stopped);
	tcase_add_test(tc, check_dify_app_workflow_eof);
	tcase_add_test(tc, check_dify_app_workflow_replace);
	tcase_add_test(tc, check_dify_app_workflow_blocking);
	tcase_add_test(tc, check_dify_app_workflow_replace_named);
	tcase_add_test(tc, check_dify_app_workflow_blocking_nul);
	tcase_add_test(tc, check_dify_app_file_links);
	tcase_add_test(tc, check_dify_app_workflow_blocking_failed);
	suite_add_tcase(s, tc);

	tc = tcase_create("splits");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, check_dify_app_split_workflow);
	tcase_add_test(tc, check_dify_app_split_workflow_more);
	tcase_add_test(tc, check_dify_app_split_completion);
	suite_add_tcase(s, tc);
	return (s);
}
