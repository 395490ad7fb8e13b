/*
 * check_dify_event: reading one Dify stream event, for every event type of
 * dify-api.md §3.3 and the real events of §3.5.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_fixtures.h"
#include "check_suites.h"
#include "dify_event.h"

/* True if a parsed string is exactly the NUL-terminated want. */
static int
check_dify_event_str_is(const struct dify_str *s, const char *want)
{
	return (s->s != NULL && s->len == strlen(want) &&
	    memcmp(s->s, want, s->len) == 0);
}

/* Parse a NUL-terminated JSON text into ev (zeroed first); returns rc. */
static int
check_dify_event_parse(struct dify_event *ev, const char *json)
{
	return (dify_event_parse(ev, json, strlen(json)));
}

/* A chat message event of §3.5. */
START_TEST(check_dify_event_message)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_CHAT_1), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE);
	ck_assert(check_dify_event_str_is(&ev.name, "message"));
	ck_assert(check_dify_event_str_is(&ev.answer, "Hello"));
	ck_assert(check_dify_event_str_is(&ev.task_id,
	    "c3800678-a077-43df-a102-53f23ed20b88"));
	ck_assert(check_dify_event_str_is(&ev.conversation_id,
	    "45701982-8118-4bc5-8e9b-64562b4555f2"));
	ck_assert(check_dify_event_str_is(&ev.message_id,
	    "5ad4cb98-f0c7-4085-b384-88c403be6290"));
	ck_assert_ptr_null(ev.code.s);
	ck_assert_ptr_null(ev.message.s);
	ck_assert_int_eq(ev.status, 0);
	ck_assert_int_eq(ev.usage.present, 0);
	ck_assert(dify_event_is_text(&ev));

	/* Reparsing the same struct replaces everything. */
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_CHAT_2), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE);
	ck_assert(check_dify_event_str_is(&ev.answer, "! How can I help?"));
	dify_event_clear(&ev);
	ck_assert_int_eq(ev.type, DIFY_EVENT_UNKNOWN);
	ck_assert_ptr_null(ev.answer.s);
	ck_assert_ptr_null(ev.scratch.data);
	ck_assert_ptr_null(ev.answer.s);
	ck_assert_int_eq(ev.type, DIFY_EVENT_UNKNOWN);
}
END_TEST

/* message_end of §3.5 carries the usage counts 17/9/26. */
START_TEST(check_dify_event_message_end)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_CHAT_3), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE_END);
	ck_assert(check_dify_event_str_is(&ev.name, "message_end"));
	ck_assert(check_dify_event_str_is(&ev.task_id,
	    "c3800678-a077-43df-a102-53f23ed20b88"));
	ck_assert_ptr_null(ev.answer.s);
	ck_assert_int_eq(ev.usage.present, 1);
	ck_assert_int_eq(ev.usage.split, 1);
	ck_assert_uint_eq(ev.usage.prompt_tokens, 17);
	ck_assert_uint_eq(ev.usage.completion_tokens, 9);
	ck_assert_uint_eq(ev.usage.total_tokens, 26);
	ck_assert(!dify_event_is_text(&ev));
	dify_event_clear(&ev);
}
END_TEST

/* Partial usage: only a total, or no total, or no usage at all. */
START_TEST(check_dify_event_usage_forms)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message_end\",\"task_id\":\"T\",\"metadata\":"
	    "{\"usage\":{\"total_tokens\":42}}}"), 0);
	ck_assert_int_eq(ev.usage.present, 1);
	ck_assert_int_eq(ev.usage.split, 0);
	ck_assert_uint_eq(ev.usage.total_tokens, 42);
	ck_assert_uint_eq(ev.usage.prompt_tokens, 0);
	ck_assert_uint_eq(ev.usage.completion_tokens, 0);

	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message_end\",\"metadata\":{\"usage\":"
	    "{\"prompt_tokens\":5,\"completion_tokens\":6}}}"), 0);
	ck_assert_int_eq(ev.usage.present, 1);
	ck_assert_int_eq(ev.usage.split, 1);
	ck_assert_uint_eq(ev.usage.total_tokens, 11);

	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message_end\",\"metadata\":{\"annotation_reply\":"
	    "null,\"retriever_resources\":[]},\"files\":null}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE_END);
	ck_assert_int_eq(ev.usage.present, 0);

	/* Counts that are not non-negative integers are not counts. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message_end\",\"metadata\":{\"usage\":"
	    "{\"prompt_tokens\":\"5\",\"completion_tokens\":-1,"
	    "\"total_tokens\":1.5}}}"), 0);
	ck_assert_int_eq(ev.usage.present, 0);
	ck_assert_int_eq(ev.usage.split, 0);

	/* Large counts survive. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message_end\",\"metadata\":{\"usage\":"
	    "{\"prompt_tokens\":4000000000,\"completion_tokens\":5000000000,"
	    "\"total_tokens\":9000000000}}}"), 0);
	ck_assert_uint_eq(ev.usage.prompt_tokens, 4000000000ULL);
	ck_assert_uint_eq(ev.usage.completion_tokens, 5000000000ULL);
	ck_assert_uint_eq(ev.usage.total_tokens, 9000000000ULL);
	dify_event_clear(&ev);
}
END_TEST

/* agent_message is text; agent_thought is not (§3.5 agent stream). */
START_TEST(check_dify_event_agent)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_AGENT_5), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_AGENT_MESSAGE);
	ck_assert(check_dify_event_str_is(&ev.answer, "It is 10:00 UTC."));
	ck_assert(check_dify_event_str_is(&ev.task_id, "T"));
	ck_assert(check_dify_event_str_is(&ev.conversation_id, "C"));
	ck_assert(check_dify_event_str_is(&ev.message_id, "M"));
	ck_assert(dify_event_is_text(&ev));

	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_AGENT_2), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_AGENT_THOUGHT);
	ck_assert(check_dify_event_str_is(&ev.name, "agent_thought"));
	ck_assert(check_dify_event_str_is(&ev.task_id, "T"));
	ck_assert(check_dify_event_str_is(&ev.id, "A1"));
	ck_assert_int_eq(ev.position, 1);
	ck_assert(check_dify_event_str_is(&ev.tool, "current_time"));
	ck_assert(check_dify_event_str_is(&ev.tool_input,
	    "{\"current_time\": {\"timezone\": \"UTC\"}}"));
	ck_assert(check_dify_event_str_is(&ev.observation, ""));
	ck_assert(!dify_event_is_text(&ev));

	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_AGENT_3), 0);
	ck_assert(check_dify_event_str_is(&ev.observation,
	    "{\"current_time\": \"2026-06-12 10:00:00\"}"));

	/* The thought that repeats the answer text is still not text. */
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_AGENT_6), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_AGENT_THOUGHT);
	ck_assert_int_eq(ev.position, 2);
	ck_assert(check_dify_event_str_is(&ev.thought, "It is 10:00 UTC."));
	ck_assert(!dify_event_is_text(&ev));

	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_AGENT_END), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE_END);
	ck_assert_uint_eq(ev.usage.total_tokens, 57);
	dify_event_clear(&ev);
}
END_TEST

/* message_file: text when it has an answer, a file when it has a url. */
START_TEST(check_dify_event_message_file)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message_file\",\"conversation_id\":\"C\","
	    "\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\","
	    "\"id\":\"M\",\"answer\":\"chunk of text\","
	    "\"from_variable_selector\":null}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE_FILE);
	ck_assert(check_dify_event_str_is(&ev.answer, "chunk of text"));
	ck_assert(dify_event_is_text(&ev));

	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message_file\",\"conversation_id\":\"C\","
	    "\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\","
	    "\"id\":\"F1\",\"type\":\"image\",\"belongs_to\":\"assistant\","
	    "\"url\":\"https://upload.dify.ai/files/F1/file-preview?sign=x\"}"),
	    0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE_FILE);
	ck_assert_ptr_null(ev.answer.s);
	ck_assert(check_dify_event_str_is(&ev.task_id, "T"));
	ck_assert(!dify_event_is_text(&ev));

	/* An empty answer is still text (an empty delta). */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message_file\",\"task_id\":\"T\",\"answer\":\"\"}"),
	    0);
	ck_assert(dify_event_is_text(&ev));
	ck_assert_uint_eq(ev.answer.len, 0);
	dify_event_clear(&ev);
}
END_TEST

/* message_replace carries the whole replacement answer. */
START_TEST(check_dify_event_message_replace)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message_replace\",\"conversation_id\":\"C\","
	    "\"message_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\","
	    "\"answer\":\"I cannot talk about that.\",\"reason\":"
	    "\"output_moderation\"}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE_REPLACE);
	ck_assert(check_dify_event_str_is(&ev.answer,
	    "I cannot talk about that."));
	ck_assert(check_dify_event_str_is(&ev.task_id, "T"));
	/* Not a delta: the relay handles it on its own. */
	ck_assert(!dify_event_is_text(&ev));
	dify_event_clear(&ev);
}
END_TEST

/* error events: with a code (§3.5) and the ≥1.13 no-code form (§5.4). */
START_TEST(check_dify_event_error)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_CHAT_ERROR_1),
	    0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_ERROR);
	ck_assert(check_dify_event_str_is(&ev.code,
	    "completion_request_error"));
	ck_assert(check_dify_event_str_is(&ev.message,
	    "Incorrect API key provided"));
	ck_assert_int_eq(ev.status, 400);
	ck_assert_ptr_null(ev.task_id.s);
	ck_assert(check_dify_event_str_is(&ev.conversation_id,
	    "45701982-\xe2\x80\xa6"));
	ck_assert(!dify_event_is_text(&ev));

	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"error\",\"message\":\"Conversation Not Exists.\","
	    "\"status\":500}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_ERROR);
	ck_assert_ptr_null(ev.code.s);
	ck_assert(check_dify_event_str_is(&ev.message,
	    "Conversation Not Exists."));
	ck_assert_int_eq(ev.status, 500);

	/* Quota order: code, message, status. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"error\",\"conversation_id\":\"C\",\"message_id\":"
	    "\"M\",\"created_at\":1718000000,\"code\":"
	    "\"provider_quota_exceeded\",\"message\":\"Your quota for Dify "
	    "Hosted Model Provider has been exhausted.\",\"status\":400}"), 0);
	ck_assert(check_dify_event_str_is(&ev.code, "provider_quota_exceeded"));
	ck_assert_int_eq(ev.status, 400);

	/* No status, or a nonsense one, reads as 0. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"error\",\"message\":\"x\"}"), 0);
	ck_assert_int_eq(ev.status, 0);
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"error\",\"message\":\"x\",\"status\":\"500\"}"), 0);
	ck_assert_int_eq(ev.status, 0);
	dify_event_clear(&ev);
}
END_TEST

/* workflow_finished: data.status, data.error and data.total_tokens. */
START_TEST(check_dify_event_workflow_finished)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_CF_WF_FINISHED),
	    0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_WORKFLOW_FINISHED);
	ck_assert(check_dify_event_str_is(&ev.wf_status, "succeeded"));
	ck_assert_ptr_null(ev.wf_error.s);
	ck_assert_int_eq(ev.usage.present, 1);
	ck_assert_int_eq(ev.usage.split, 0);
	ck_assert_uint_eq(ev.usage.total_tokens, 150);
	ck_assert(check_dify_event_str_is(&ev.task_id, "T2"));
	ck_assert(check_dify_event_str_is(&ev.conversation_id, "C2"));

	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_CF_WF_FAILED),
	    0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_WORKFLOW_FINISHED);
	ck_assert(check_dify_event_str_is(&ev.wf_status, "failed"));
	ck_assert(check_dify_event_str_is(&ev.wf_error,
	    "Node LLM run failed: [openai] Error: quota"));
	ck_assert_uint_eq(ev.usage.total_tokens, 0);

	/* The workflow app's own finish event (§3.5). */
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_WORKFLOW_10),
	    0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_WORKFLOW_FINISHED);
	ck_assert(check_dify_event_str_is(&ev.wf_status, "succeeded"));
	ck_assert_uint_eq(ev.usage.total_tokens, 150);

	/* A stopped run. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"workflow_finished\",\"task_id\":\"T\",\"data\":"
	    "{\"status\":\"stopped\",\"error\":\"Stopped by user.\"}}"), 0);
	ck_assert(check_dify_event_str_is(&ev.wf_status, "stopped"));
	ck_assert(check_dify_event_str_is(&ev.wf_error, "Stopped by user."));
	ck_assert_int_eq(ev.usage.present, 0);
	dify_event_clear(&ev);
}
END_TEST

/* workflow_started and workflow_paused have their own types. */
START_TEST(check_dify_event_workflow_other)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_CF_STARTED), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_WORKFLOW_STARTED);
	ck_assert(check_dify_event_str_is(&ev.task_id, "T2"));
	ck_assert(!dify_event_is_text(&ev));
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_WORKFLOW_1), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_WORKFLOW_STARTED);
	ck_assert(check_dify_event_str_is(&ev.task_id, "T"));

	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"workflow_paused\",\"task_id\":\"T\",\"data\":"
	    "{\"workflow_run_id\":\"R\",\"paused_nodes\":[],\"outputs\":{},"
	    "\"reasons\":[],\"status\":\"paused\",\"created_at\":1718000000,"
	    "\"elapsed_time\":1.0,\"total_tokens\":12,\"total_steps\":2}}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_WORKFLOW_PAUSED);
	ck_assert(check_dify_event_str_is(&ev.wf_status, "paused"));
	ck_assert(!dify_event_is_text(&ev));
	dify_event_clear(&ev);
}
END_TEST

/* Node, agent, TTS and other known events are OTHER and never text. */
START_TEST(check_dify_event_other)
{
	static const char	*names[] = {
		"ping", "agent_log", "tts_message",
		"tts_message_end", "node_started", "node_finished",
		"node_retry", "iteration_started", "iteration_next",
		"iteration_completed", "loop_started", "loop_next",
		"loop_completed", "reasoning_chunk", "human_input_required",
		"human_input_form_filled", "human_input_form_timeout"
	};
	struct dify_event	 ev;
	char			 json[256];
	size_t			 i;

	memset(&ev, 0, sizeof(ev));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		/* Even with an "answer" member, these are not text. */
		snprintf(json, sizeof(json), "{\"event\":\"%s\",\"task_id\":"
		    "\"T\",\"answer\":\"x\",\"audio\":\"\"}", names[i]);
		ck_assert_int_eq(check_dify_event_parse(&ev, json), 0);
		ck_assert_msg(ev.type == DIFY_EVENT_OTHER, "%s: type %d",
		    names[i], ev.type);
		ck_assert_msg(!dify_event_is_text(&ev), "%s is text", names[i]);
		ck_assert(check_dify_event_str_is(&ev.name, names[i]));
	}
	/* The real node and text_chunk events of §3.5. */
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_WORKFLOW_3), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_OTHER);
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_CF_NODE_FINISHED),
	    0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_OTHER);
	ck_assert_int_eq(ev.usage.present, 0);
	dify_event_clear(&ev);
}
END_TEST

/* Workflow apps: text_chunk's data.text, workflow_finished's outputs. */
START_TEST(check_dify_event_workflow)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_WORKFLOW_5), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_TEXT_CHUNK);
	ck_assert(check_dify_event_str_is(&ev.answer, "Bonjour"));
	ck_assert(check_dify_event_str_is(&ev.task_id, "T"));
	/* Not chat text: only the workflow kind reads it. */
	ck_assert(!dify_event_is_text(&ev));
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"text_replace\",\"task_id\":\"T\","
	    "\"data\":{\"text\":\"a\\nb\"}}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_TEXT_REPLACE);
	ck_assert(check_dify_event_str_is(&ev.answer, "a\nb"));

	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_WORKFLOW_10), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_WORKFLOW_FINISHED);
	ck_assert(check_dify_event_str_is(&ev.wf_outputs,
	    "{\"result\":\"Bonjour le monde\"}"));
	ck_assert(check_dify_event_str_is(&ev.wf_status, "succeeded"));
	ck_assert_uint_eq(ev.usage.total_tokens, 150);
	/* A node's outputs are not the run's. */
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_WORKFLOW_3), 0);
	ck_assert_ptr_null(ev.wf_outputs.s);
	/* The last "outputs" counts; null is kept as its JSON text. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"workflow_finished\",\"data\":{\"outputs\":"
	    "{\"a\":[1,{\"b\":2}]},\"outputs\": null}}"), 0);
	ck_assert(check_dify_event_str_is(&ev.wf_outputs, "null"));
	/* Any value is kept as its JSON text, a string with its quotes. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"workflow_finished\",\"data\":{\"outputs\":"
	    "\"x\"}}"), 0);
	ck_assert(check_dify_event_str_is(&ev.wf_outputs, "\"x\""));
	dify_event_clear(&ev);
}
END_TEST

/* A real message_file event names its file. */
START_TEST(check_dify_event_file_fields)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message_file\",\"conversation_id\":\"C\","
	    "\"id\":\"F1\",\"type\":\"image\",\"belongs_to\":"
	    "\"assistant\",\"url\":\"https://f.example/a.png\"}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE_FILE);
	ck_assert(check_dify_event_str_is(&ev.id, "F1"));
	ck_assert(check_dify_event_str_is(&ev.file_type, "image"));
	ck_assert(check_dify_event_str_is(&ev.belongs_to, "assistant"));
	ck_assert(check_dify_event_str_is(&ev.url, "https://f.example/a.png"));
	ck_assert(!dify_event_is_text(&ev));
	dify_event_clear(&ev);
}
END_TEST

/* Unknown or missing event names parse as UNKNOWN. */
START_TEST(check_dify_event_unknown)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"brand_new_event\",\"task_id\":\"T\","
	    "\"answer\":\"x\"}"),
	    0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_UNKNOWN);
	ck_assert(check_dify_event_str_is(&ev.name, "brand_new_event"));
	ck_assert(check_dify_event_str_is(&ev.task_id, "T"));
	ck_assert(!dify_event_is_text(&ev));

	ck_assert_int_eq(check_dify_event_parse(&ev, "{}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_UNKNOWN);
	ck_assert_ptr_null(ev.name.s);

	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":7,\"answer\":\"x\"}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_UNKNOWN);
	ck_assert_ptr_null(ev.name.s);

	/* Case matters. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"Message\",\"answer\":\"x\"}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_UNKNOWN);

	/* A prefix of a known name is not that name. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message_\",\"answer\":\"x\"}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_UNKNOWN);
	dify_event_clear(&ev);
}
END_TEST

/* JSON that is not an object, or not JSON, is -1 and leaves ev empty. */
START_TEST(check_dify_event_not_object)
{
	static const char	*bad[] = {
		"[1,2,3]", "\"message\"", "42", "null", "true", "garbage",
		"", "{\"event\":\"message\"", "{\"event\":\"message\"}}",
		"event: ping", "[DONE]"
	};
	struct dify_event	 ev;
	size_t			 i;

	memset(&ev, 0, sizeof(ev));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Start from a parsed event so clearing is visible. */
		ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_CHAT_1),
		    0);
		ck_assert_msg(check_dify_event_parse(&ev, bad[i]) == -1,
		    "\"%s\" parsed", bad[i]);
		ck_assert_int_eq(ev.type, DIFY_EVENT_UNKNOWN);
		ck_assert_ptr_null(ev.task_id.s);
		ck_assert_ptr_null(ev.answer.s);
		ck_assert_ptr_null(ev.answer.s);
		ck_assert_int_eq(ev.type, DIFY_EVENT_UNKNOWN);
	}
	/* The invalid agent and workflow lines of §3.5 ("…" placeholders). */
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_AGENT_7), -1);
	ck_assert_int_eq(check_dify_event_parse(&ev, CHECK_FX_WORKFLOW_4), -1);
	dify_event_clear(&ev);
}
END_TEST

/* Old json.dumps style (spaces, \uXXXX escapes) reads the same. */
START_TEST(check_dify_event_old_style)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\": \"message\", \"conversation_id\": \"C\", "
	    "\"message_id\": \"M\", \"created_at\": 1718000000, "
	    "\"task_id\": \"T\", \"id\": \"M\", \"answer\": "
	    "\"\\u4f60\\u597d \\ud83d\\ude42 caf\\u00e9\\n\\\"q\\\"\", "
	    "\"from_variable_selector\": null}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE);
	ck_assert(check_dify_event_str_is(&ev.answer,
	    "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x99\x82 caf\xc3\xa9\n\"q\""));
	ck_assert(check_dify_event_str_is(&ev.task_id, "T"));

	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\": \"message_end\", \"task_id\": \"T\", \"metadata\": "
	    "{\"usage\": {\"prompt_tokens\": 17, \"completion_tokens\": 9, "
	    "\"total_tokens\": 26}}}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE_END);
	ck_assert_uint_eq(ev.usage.total_tokens, 26);

	/* Escaped event names are the same names. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\": \"agent\\u005fmessage\", \"answer\": \"ok\"}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_AGENT_MESSAGE);
	dify_event_clear(&ev);
}
END_TEST

/* The blocking body of §4.1 reads as a message with usage. */
START_TEST(check_dify_event_blocking_body)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\": \"message\", \"task_id\": \"c3800678-x\", \"id\": "
	    "\"9da23599-x\", \"message_id\": \"9da23599-x\", "
	    "\"conversation_id\": \"45701982-x\", \"mode\": \"chat\", "
	    "\"answer\": \"iPhone 13 Pro Max specs are listed here:...\", "
	    "\"metadata\": {\"annotation_reply\": null, "
	    "\"retriever_resources\": [], \"usage\": {\"prompt_tokens\": 1033, "
	    "\"prompt_unit_price\": \"0.001\", \"prompt_price_unit\": "
	    "\"0.001\", \"prompt_price\": \"0.0010330\", "
	    "\"completion_tokens\": "
	    "128, \"completion_unit_price\": \"0.002\", "
	    "\"completion_price_unit\": \"0.001\", \"completion_price\": "
	    "\"0.0002560\", \"total_tokens\": 1161, \"total_price\": "
	    "\"0.0012890\", \"currency\": \"USD\", \"latency\": "
	    "0.7682376249867957, \"time_to_first_token\": null, "
	    "\"time_to_generate\": null}}, \"created_at\": 1705407629}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE);
	ck_assert(check_dify_event_str_is(&ev.answer,
	    "iPhone 13 Pro Max specs are listed here:..."));
	ck_assert_int_eq(ev.usage.present, 1);
	ck_assert_uint_eq(ev.usage.prompt_tokens, 1033);
	ck_assert_uint_eq(ev.usage.completion_tokens, 128);
	ck_assert_uint_eq(ev.usage.total_tokens, 1161);
	dify_event_clear(&ev);
}
END_TEST

/* Strings with NUL bytes keep their full length. */
START_TEST(check_dify_event_nul)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"answer\":\"a\\u0000b\"}"), 0);
	ck_assert_ptr_nonnull(ev.answer.s);
	ck_assert_uint_eq(ev.answer.len, 3);
	ck_assert_int_eq(memcmp(ev.answer.s, "a\0b", 3), 0);
	/* Only len bytes are read: trailing garbage past len is ignored. */
	ck_assert_int_eq(dify_event_parse(&ev,
	    "{\"event\":\"message\",\"answer\":\"x\"}GARBAGE",
	    strlen("{\"event\":\"message\",\"answer\":\"x\"}")), 0);
	ck_assert(check_dify_event_str_is(&ev.answer, "x"));
	dify_event_clear(&ev);
}
END_TEST

/*
 * The events of a stream share their bytes before "answer": the second one
 * resumes from the memo and its strings point into its own bytes.
 */
START_TEST(check_dify_event_memo_reused)
{
	static const char	 a[] = "{\"event\":\"message\",\"task_id\":"
	    "\"T1\",\"id\":\"M\",\"answer\":\"Hel\",\"x\":null}";
	static const char	 b[] = "{\"event\":\"message\",\"task_id\":"
	    "\"T1\",\"id\":\"M\",\"answer\":\"lo!\",\"x\":[1,{}]}";
	struct dify_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev, a), 0);
	ck_assert_uint_gt(ev.memo_len, 0);
	ck_assert(check_dify_event_str_is(&ev.answer, "Hel"));
	ck_assert_int_eq(check_dify_event_parse(&ev, b), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_MESSAGE);
	ck_assert(check_dify_event_str_is(&ev.answer, "lo!"));
	ck_assert(check_dify_event_str_is(&ev.task_id, "T1"));
	/* Rebased into b, not left pointing at the memo's copy. */
	ck_assert(ev.task_id.s >= b && ev.task_id.s < b + sizeof(b));
	ck_assert(ev.name.s >= b && ev.name.s < b + sizeof(b));
	dify_event_clear(&ev);
}
END_TEST

/* A shared prefix with a different tail parses as the whole bytes say. */
START_TEST(check_dify_event_memo_other_tails)
{
	struct dify_event	ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"task_id\":\"T\",\"answer\":\"a\"}"),
	    0);
	/* A later duplicate key replaces what the prefix said. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"task_id\":\"T\",\"task_id\":\"U\","
	    "\"event\":\"error\",\"code\":\"c\"}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_ERROR);
	ck_assert(check_dify_event_str_is(&ev.task_id, "U"));
	ck_assert(check_dify_event_str_is(&ev.code, "c"));
	/* Broken after the prefix: rejected, as a full parse would be. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"task_id\":\"T\",}"), -1);
	/* The memo taken at the first member still allows {} and { }. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"answer\":\"x\",\"event\":\"message\"}"), 0);
	ck_assert_uint_eq(ev.memo_len, 1);
	ck_assert_int_eq(check_dify_event_parse(&ev, "{}"), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_UNKNOWN);
	ck_assert_int_eq(check_dify_event_parse(&ev, "{ \n }"), 0);
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{  \"answer\":\"y\",\"event\":\"message\"}"), 0);
	ck_assert(check_dify_event_str_is(&ev.answer, "y"));
	dify_event_clear(&ev);
}
END_TEST

/*
 * Events that differ from the last text event only in their answer string
 * take the template: the fields come out the same as a full parse gives,
 * pointing into the new bytes, escapes decoded.
 */
START_TEST(check_dify_event_template_reused)
{
	static const char	 a[] = "{\"event\": \"agent_message\", "
	    "\"conversation_id\": \"C\", \"message_id\": \"M\", "
	    "\"task_id\": \"T\", \"answer\": \"w0 \", "
	    "\"from_variable_selector\": null}\n";
	static const char	 b[] = "{\"event\": \"agent_message\", "
	    "\"conversation_id\": \"C\", \"message_id\": \"M\", "
	    "\"task_id\": \"T\", \"answer\": \"\\u4f60\\n\\\"x\", "
	    "\"from_variable_selector\": null}\n";
	static const char	 c[] = "{\"event\": \"agent_message\", "
	    "\"conversation_id\": \"C\", \"message_id\": \"M\", "
	    "\"task_id\": \"T\", \"answer\": \"\", "
	    "\"from_variable_selector\": null}\n";
	struct dify_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev, a), 0);
	ck_assert_uint_gt(ev.tmpl_head, 0);
	ck_assert_int_eq(check_dify_event_parse(&ev, b), 0);
	ck_assert_int_eq(ev.type, DIFY_EVENT_AGENT_MESSAGE);
	ck_assert(check_dify_event_str_is(&ev.name, "agent_message"));
	ck_assert(check_dify_event_str_is(&ev.answer, "\xe4\xbd\xa0\n\"x"));
	ck_assert(check_dify_event_str_is(&ev.task_id, "T"));
	ck_assert(check_dify_event_str_is(&ev.conversation_id, "C"));
	ck_assert(check_dify_event_str_is(&ev.message_id, "M"));
	ck_assert(ev.task_id.s >= b && ev.task_id.s < b + sizeof(b));
	ck_assert(ev.message_id.s >= b && ev.message_id.s < b + sizeof(b));
	ck_assert(!ev.usage.present);
	ck_assert_int_eq(check_dify_event_parse(&ev, c), 0);
	ck_assert(ev.answer.s != NULL);
	ck_assert_uint_eq(ev.answer.len, 0);
	ck_assert(ev.answer.s > c && ev.answer.s < c + sizeof(c));
	dify_event_clear(&ev);
}
END_TEST

/*
 * Bytes that match the template before and after but are not one string
 * between are parsed in full: rejected when broken, read as they say when
 * not.  No template is kept for an event with a field after its answer.
 */
START_TEST(check_dify_event_template_misfits)
{
	static const char	 a[] = "{\"event\":\"message\",\"task_id\":"
	    "\"T\",\"answer\":\"w0\",\"x\":null}";
	struct dify_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev, a), 0);
	ck_assert_uint_gt(ev.tmpl_head, 0);
	/* The string ends early: what follows is not the template's tail. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"task_id\":\"T\",\"answer\":"
	    "\"a\",\"x\":null},\"x\":null}"), -1);
	/* A string, then more members, then the tail: a full parse. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"task_id\":\"T\",\"answer\":"
	    "\"a\",\"task_id\":\"U\",\"answer\":\"b\",\"x\":null}"), 0);
	ck_assert(check_dify_event_str_is(&ev.answer, "b"));
	ck_assert(check_dify_event_str_is(&ev.task_id, "U"));
	/* A raw control character in the answer: invalid either way. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"task_id\":\"T\",\"answer\":"
	    "\"a\tb\",\"x\":null}"), -1);
	/* The template still serves events shaped like the first. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"task_id\":\"T\",\"answer\":"
	    "\"c\",\"x\":null}"), 0);
	ck_assert(check_dify_event_str_is(&ev.answer, "c"));
	dify_event_clear(&ev);

	/* A field after the answer keeps an event from being the template. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"answer\":\"a\",\"task_id\":\"T\"}"),
	    0);
	ck_assert_uint_eq(ev.tmpl_head, 0);
	dify_event_clear(&ev);
	/* So does usage in a text event (a blocking body). */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"metadata\":{\"usage\":"
	    "{\"total_tokens\":3}},\"answer\":\"a\"}"), 0);
	ck_assert(ev.usage.present);
	ck_assert_uint_eq(ev.tmpl_head, 0);
	dify_event_clear(&ev);
	/* And a non-text event. */
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"agent_thought\",\"answer\":\"a\"}"), 0);
	ck_assert_uint_eq(ev.tmpl_head, 0);
	dify_event_clear(&ev);
}
END_TEST

/*
 * A failed parse of input larger than any before (the scratch buffer grows,
 * and may move) leaves the event usable: the next parse works, and clear
 * frees everything (ASan catches a stale buffer here).
 */
START_TEST(check_dify_event_fail_after_growth)
{
	struct dify_event	 ev;
	char			*big;
	size_t			 n = 100000;

	memset(&ev, 0, sizeof(ev));
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"answer\":\"a\\n\"}"), 0);
	big = malloc(n);
	memset(big, ' ', n);
	memcpy(big, "{\"event\":\"message\",\"answer\":\"\\n", 31);
	/* Unterminated string: fails after the scratch buffer grew. */
	ck_assert_int_eq(dify_event_parse(&ev, big, n), -1);
	ck_assert_int_eq(check_dify_event_parse(&ev,
	    "{\"event\":\"message\",\"answer\":\"b\\t\"}"), 0);
	ck_assert(check_dify_event_str_is(&ev.answer, "b\t"));
	dify_event_clear(&ev);
	free(big);
}
END_TEST

/* The dify_event suite. */
Suite *
dify_event_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("dify_event");
	tc = tcase_create("events");
	tcase_add_test(tc, check_dify_event_message);
	tcase_add_test(tc, check_dify_event_message_end);
	tcase_add_test(tc, check_dify_event_usage_forms);
	tcase_add_test(tc, check_dify_event_agent);
	tcase_add_test(tc, check_dify_event_message_file);
	tcase_add_test(tc, check_dify_event_message_replace);
	tcase_add_test(tc, check_dify_event_error);
	tcase_add_test(tc, check_dify_event_workflow_finished);
	tcase_add_test(tc, check_dify_event_workflow_other);
	tcase_add_test(tc, check_dify_event_other);
	tcase_add_test(tc, check_dify_event_workflow);
	tcase_add_test(tc, check_dify_event_file_fields);
	tcase_add_test(tc, check_dify_event_unknown);
	tcase_add_test(tc, check_dify_event_not_object);
	tcase_add_test(tc, check_dify_event_old_style);
	tcase_add_test(tc, check_dify_event_blocking_body);
	tcase_add_test(tc, check_dify_event_nul);
	tcase_add_test(tc, check_dify_event_fail_after_growth);
	tcase_add_test(tc, check_dify_event_memo_reused);
	tcase_add_test(tc, check_dify_event_memo_other_tails);
	tcase_add_test(tc, check_dify_event_template_reused);
	tcase_add_test(tc, check_dify_event_template_misfits);
	suite_add_tcase(s, tc);
	return (s);
}
