/*
 * check_fixtures: Dify streams used by several suites, as string literals.
 *
 * CHECK_FX_CHAT_*, CHECK_FX_CHAT_ERROR_*, CHECK_FX_AGENT_* and
 * CHECK_FX_WORKFLOW_* are the realistic streams of dify-api.md §3.5, byte
 * for byte (generated from the reference; the "…" of the original are
 * kept, so CHECK_FX_AGENT_7 and some CHECK_FX_WORKFLOW_* are not valid
 * JSON: they suit the SSE parser, which does not read the data).
 * CHECK_FX_CF_* is a valid chatflow (advanced-chat) stream in the same
 * shapes (§3.3, §3.4), and CHECK_FX_AGENT_END a valid agent message_end.
 * CHECK_FX_BLOCKING is the blocking chat answer of §4.1.
 */
#ifndef CHECK_FIXTURES_H
#define CHECK_FIXTURES_H

/* §3.5 chat, data event 1. */
#define CHECK_FX_CHAT_1 \
	"{\"event\":\"message\",\"conversation_id\":\"45701982-8118-4bc" \
	"5-8e9b-64562b4555f2\",\"message_id\":\"5ad4cb98-f0c7-4085-b384" \
	"-88c403be6290\",\"created_at\":1718000000,\"task_id\":\"c38006" \
	"78-a077-43df-a102-53f23ed20b88\",\"id\":\"5ad4cb98-f0c7-4085-b" \
	"384-88c403be6290\",\"answer\":\"Hello\",\"from_variable_select" \
	"or\":null}"

/* §3.5 chat, data event 2. */
#define CHECK_FX_CHAT_2 \
	"{\"event\":\"message\",\"conversation_id\":\"45701982-8118-4bc" \
	"5-8e9b-64562b4555f2\",\"message_id\":\"5ad4cb98-f0c7-4085-b384" \
	"-88c403be6290\",\"created_at\":1718000000,\"task_id\":\"c38006" \
	"78-a077-43df-a102-53f23ed20b88\",\"id\":\"5ad4cb98-f0c7-4085-b" \
	"384-88c403be6290\",\"answer\":\"! How can I help?\",\"from_var" \
	"iable_selector\":null}"

/* §3.5 chat, data event 3. */
#define CHECK_FX_CHAT_3 \
	"{\"event\":\"message_end\",\"conversation_id\":\"45701982-8118" \
	"-4bc5-8e9b-64562b4555f2\",\"message_id\":\"5ad4cb98-f0c7-4085-" \
	"b384-88c403be6290\",\"created_at\":1718000000,\"task_id\":\"c3" \
	"800678-a077-43df-a102-53f23ed20b88\",\"id\":\"5ad4cb98-f0c7-40" \
	"85-b384-88c403be6290\",\"metadata\":{\"annotation_reply\":null" \
	",\"retriever_resources\":[],\"usage\":{\"prompt_tokens\":17,\"" \
	"prompt_unit_price\":\"0.15\",\"prompt_price_unit\":\"0.000001" \
	"\",\"prompt_price\":\"0.0000026\",\"completion_tokens\":9,\"co" \
	"mpletion_unit_price\":\"0.6\",\"completion_price_unit\":\"0.00" \
	"0001\",\"completion_price\":\"0.0000054\",\"total_tokens\":26," \
	"\"total_price\":\"0.0000080\",\"currency\":\"USD\",\"latency\"" \
	":0.8132,\"time_to_first_token\":null,\"time_to_generate\":null" \
	"}},\"files\":null}"

#define CHECK_FX_CHAT_N	3

/* §3.5 chat: the whole stream. */
#define CHECK_FX_CHAT_STREAM \
	"data: " CHECK_FX_CHAT_1 "\n\n" \
	"data: " CHECK_FX_CHAT_2 "\n\n" \
	"event: ping\n\n" \
	"data: " CHECK_FX_CHAT_3 "\n\n"

/* §3.5 chat_error, data event 1. */
#define CHECK_FX_CHAT_ERROR_1 \
	"{\"event\":\"error\",\"conversation_id\":\"45701982-…\",\"me" \
	"ssage_id\":\"5ad4cb98-…\",\"created_at\":1718000000,\"code\"" \
	":\"completion_request_error\",\"status\":400,\"message\":\"Inc" \
	"orrect API key provided\"}"

#define CHECK_FX_CHAT_ERROR_N	1

/* §3.5 chat_error: the whole stream. */
#define CHECK_FX_CHAT_ERROR_STREAM \
	"data: " CHECK_FX_CHAT_ERROR_1 "\n\n"

/* §3.5 agent, data event 1. */
#define CHECK_FX_AGENT_1 \
	"{\"event\":\"agent_thought\",\"conversation_id\":\"C\",\"messa" \
	"ge_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\",\"id" \
	"\":\"A1\",\"position\":1,\"thought\":\"\",\"observation\":\"\"" \
	",\"tool\":\"\",\"tool_labels\":{},\"tool_input\":\"\",\"messag" \
	"e_files\":[]}"

/* §3.5 agent, data event 2. */
#define CHECK_FX_AGENT_2 \
	"{\"event\":\"agent_thought\",\"conversation_id\":\"C\",\"messa" \
	"ge_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\",\"id" \
	"\":\"A1\",\"position\":1,\"thought\":\"\",\"observation\":\"\"" \
	",\"tool\":\"current_time\",\"tool_labels\":{\"current_time\":{" \
	"\"en_US\":\"Current Time\",\"zh_Hans\":\"获取当前时间\"}" \
	"},\"tool_input\":\"{\\\"current_time\\\": {\\\"timezone\\\": " \
	"\\\"UTC\\\"}}\",\"message_files\":[]}"

/* §3.5 agent, data event 3. */
#define CHECK_FX_AGENT_3 \
	"{\"event\":\"agent_thought\",\"conversation_id\":\"C\",\"messa" \
	"ge_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\",\"id" \
	"\":\"A1\",\"position\":1,\"thought\":\"\",\"observation\":\"{" \
	"\\\"current_time\\\": \\\"2026-06-12 10:00:00\\\"}\",\"tool\":" \
	"\"current_time\",\"tool_labels\":{\"current_time\":{\"en_US\":" \
	"\"Current Time\",\"zh_Hans\":\"获取当前时间\"}},\"tool_i" \
	"nput\":\"{\\\"current_time\\\": {\\\"timezone\\\": \\\"UTC\\\"" \
	"}}\",\"message_files\":[]}"

/* §3.5 agent, data event 4. */
#define CHECK_FX_AGENT_4 \
	"{\"event\":\"agent_thought\",\"conversation_id\":\"C\",\"messa" \
	"ge_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\",\"id" \
	"\":\"A2\",\"position\":2,\"thought\":\"\",\"observation\":\"\"" \
	",\"tool\":\"\",\"tool_labels\":{},\"tool_input\":\"\",\"messag" \
	"e_files\":[]}"

/* §3.5 agent, data event 5. */
#define CHECK_FX_AGENT_5 \
	"{\"event\":\"agent_message\",\"conversation_id\":\"C\",\"messa" \
	"ge_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\",\"id" \
	"\":\"M\",\"answer\":\"It is 10:00 UTC.\"}"

/* §3.5 agent, data event 6. */
#define CHECK_FX_AGENT_6 \
	"{\"event\":\"agent_thought\",\"conversation_id\":\"C\",\"messa" \
	"ge_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\",\"id" \
	"\":\"A2\",\"position\":2,\"thought\":\"It is 10:00 UTC.\",\"ob" \
	"servation\":\"\",\"tool\":\"\",\"tool_labels\":{},\"tool_input" \
	"\":\"\",\"message_files\":[]}"

/* §3.5 agent, data event 7. */
#define CHECK_FX_AGENT_7 \
	"{\"event\":\"message_end\",\"conversation_id\":\"C\",\"message" \
	"_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\",\"id\"" \
	":\"M\",\"metadata\":{\"annotation_reply\":null,\"retriever_res" \
	"ources\":[],\"usage\":{…}},\"files\":null}"

#define CHECK_FX_AGENT_N	7

/* §3.5 agent: the whole stream. */
#define CHECK_FX_AGENT_STREAM \
	"data: " CHECK_FX_AGENT_1 "\n\n" \
	"data: " CHECK_FX_AGENT_2 "\n\n" \
	"data: " CHECK_FX_AGENT_3 "\n\n" \
	"data: " CHECK_FX_AGENT_4 "\n\n" \
	"data: " CHECK_FX_AGENT_5 "\n\n" \
	"data: " CHECK_FX_AGENT_6 "\n\n" \
	"data: " CHECK_FX_AGENT_7 "\n\n"

/* §3.5 workflow, data event 1. */
#define CHECK_FX_WORKFLOW_1 \
	"{\"event\":\"workflow_started\",\"workflow_run_id\":\"R\",\"ta" \
	"sk_id\":\"T\",\"data\":{\"id\":\"R\",\"workflow_id\":\"W\",\"i" \
	"nputs\":{\"query\":\"Translate: Hello\",\"sys.files\":[],\"sys" \
	".user_id\":\"abc-123\",\"sys.app_id\":\"APP\",\"sys.workflow_i" \
	"d\":\"W\",\"sys.workflow_run_id\":\"R\"},\"created_at\":171800" \
	"0000,\"reason\":\"initial\"}}"

/* §3.5 workflow, data event 2. */
#define CHECK_FX_WORKFLOW_2 \
	"{\"event\":\"node_started\",\"workflow_run_id\":\"R\",\"task_i" \
	"d\":\"T\",\"data\":{\"id\":\"NE1\",\"node_id\":\"1718000000001" \
	"\",\"node_type\":\"start\",\"title\":\"Start\",\"index\":1,\"p" \
	"redecessor_node_id\":null,\"inputs\":null,\"inputs_truncated\"" \
	":false,\"created_at\":1718000000,\"extras\":{},\"iteration_id" \
	"\":null,\"loop_id\":null,\"agent_strategy\":null}}"

/* §3.5 workflow, data event 3. */
#define CHECK_FX_WORKFLOW_3 \
	"{\"event\":\"node_finished\",\"workflow_run_id\":\"R\",\"task_" \
	"id\":\"T\",\"data\":{\"id\":\"NE1\",\"node_id\":\"171800000000" \
	"1\",\"node_type\":\"start\",\"title\":\"Start\",\"index\":1,\"" \
	"predecessor_node_id\":null,\"inputs\":{\"query\":\"Translate: " \
	"Hello\"},\"inputs_truncated\":false,\"process_data\":null,\"pr" \
	"ocess_data_truncated\":false,\"outputs\":{\"query\":\"Translat" \
	"e: Hello\"},\"outputs_truncated\":false,\"status\":\"succeeded" \
	"\",\"error\":null,\"elapsed_time\":0.004,\"execution_metadata" \
	"\":null,\"created_at\":1718000000,\"finished_at\":1718000000," \
	"\"files\":[],\"iteration_id\":null,\"loop_id\":null}}"

/* §3.5 workflow, data event 4. */
#define CHECK_FX_WORKFLOW_4 \
	"{\"event\":\"node_started\",\"workflow_run_id\":\"R\",\"task_i" \
	"d\":\"T\",\"data\":{\"id\":\"NE2\",\"node_id\":\"1718000000002" \
	"\",\"node_type\":\"llm\",\"title\":\"LLM\",\"index\":2,\"prede" \
	"cessor_node_id\":\"1718000000001\", … }}"

/* §3.5 workflow, data event 5. */
#define CHECK_FX_WORKFLOW_5 \
	"{\"event\":\"text_chunk\",\"workflow_run_id\":\"R\",\"task_id" \
	"\":\"T\",\"data\":{\"text\":\"Bonjour\",\"from_variable_select" \
	"or\":[\"1718000000002\",\"text\"]}}"

/* §3.5 workflow, data event 6. */
#define CHECK_FX_WORKFLOW_6 \
	"{\"event\":\"text_chunk\",\"workflow_run_id\":\"R\",\"task_id" \
	"\":\"T\",\"data\":{\"text\":\" le monde\",\"from_variable_sele" \
	"ctor\":[\"1718000000002\",\"text\"]}}"

/* §3.5 workflow, data event 7. */
#define CHECK_FX_WORKFLOW_7 \
	"{\"event\":\"node_finished\",\"workflow_run_id\":\"R\",\"task_" \
	"id\":\"T\",\"data\":{\"id\":\"NE2\",\"node_id\":\"171800000000" \
	"2\",\"node_type\":\"llm\",\"title\":\"LLM\", … ,\"outputs\":" \
	"{\"text\":\"Bonjour le monde\",\"reasoning_content\":\"\",\"us" \
	"age\":{…},\"finish_reason\":\"stop\"},\"status\":\"succeeded" \
	"\",\"error\":null,\"elapsed_time\":1.2,\"execution_metadata\":" \
	"{\"total_tokens\":150,\"total_price\":\"0.0001\",\"currency\":" \
	"\"USD\"}, … }}"

/* §3.5 workflow, data event 8. */
#define CHECK_FX_WORKFLOW_8 \
	"{\"event\":\"node_started\", … \"node_type\":\"end\" … }"

/* §3.5 workflow, data event 9. */
#define CHECK_FX_WORKFLOW_9 \
	"{\"event\":\"node_finished\", … \"node_type\":\"end\", … " \
	"\"outputs\":{\"result\":\"Bonjour le monde\"} … }"

/* §3.5 workflow, data event 10. */
#define CHECK_FX_WORKFLOW_10 \
	"{\"event\":\"workflow_finished\",\"workflow_run_id\":\"R\",\"t" \
	"ask_id\":\"T\",\"data\":{\"id\":\"R\",\"workflow_id\":\"W\",\"" \
	"status\":\"succeeded\",\"outputs\":{\"result\":\"Bonjour le mo" \
	"nde\"},\"error\":null,\"elapsed_time\":1.53,\"total_tokens\":1" \
	"50,\"total_steps\":3,\"created_by\":{\"id\":\"EU\",\"user\":\"" \
	"abc-123\"},\"created_at\":1718000000,\"finished_at\":171800000" \
	"2,\"exceptions_count\":0,\"files\":[]}}"

#define CHECK_FX_WORKFLOW_N	10

/* §3.5 workflow: the whole stream. */
#define CHECK_FX_WORKFLOW_STREAM \
	"event: ping\n\n" \
	"data: " CHECK_FX_WORKFLOW_1 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_2 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_3 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_4 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_5 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_6 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_7 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_8 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_9 "\n\n" \
	"data: " CHECK_FX_WORKFLOW_10 "\n\n"

/* chatflow workflow_started. */
#define CHECK_FX_CF_STARTED \
	"{\"event\":\"workflow_started\",\"conversation_id\":\"C2\",\"m" \
	"essage_id\":\"M2\",\"created_at\":1718000000,\"task_id\":\"T2" \
	"\",\"workflow_run_id\":\"R2\",\"data\":{\"id\":\"R2\",\"workfl" \
	"ow_id\":\"W2\",\"inputs\":{\"sys.query\":\"Translate: Hello\"," \
	"\"sys.files\":[],\"sys.conversation_id\":\"C2\",\"sys.user_id" \
	"\":\"abc-123\",\"sys.dialogue_count\":1,\"sys.app_id\":\"APP\"" \
	",\"sys.workflow_id\":\"W2\",\"sys.workflow_run_id\":\"R2\"},\"" \
	"created_at\":1718000000,\"reason\":\"initial\"}}"

/* chatflow node_started (LLM). */
#define CHECK_FX_CF_NODE_STARTED \
	"{\"event\":\"node_started\",\"conversation_id\":\"C2\",\"messa" \
	"ge_id\":\"M2\",\"created_at\":1718000000,\"task_id\":\"T2\",\"" \
	"workflow_run_id\":\"R2\",\"data\":{\"id\":\"NE2\",\"node_id\":" \
	"\"1718000000002\",\"node_type\":\"llm\",\"title\":\"LLM\",\"in" \
	"dex\":2,\"predecessor_node_id\":\"1718000000001\",\"inputs\":n" \
	"ull,\"inputs_truncated\":false,\"created_at\":1718000000,\"ext" \
	"ras\":{},\"iteration_id\":null,\"loop_id\":null,\"agent_strate" \
	"gy\":null}}"

/* chatflow message "Bonjour". */
#define CHECK_FX_CF_MSG1 \
	"{\"event\":\"message\",\"conversation_id\":\"C2\",\"message_id" \
	"\":\"M2\",\"created_at\":1718000000,\"task_id\":\"T2\",\"id\":" \
	"\"M2\",\"answer\":\"Bonjour\",\"from_variable_selector\":[\"17" \
	"18000000002\",\"text\"]}"

/* chatflow message " le monde 🙂". */
#define CHECK_FX_CF_MSG2 \
	"{\"event\":\"message\",\"conversation_id\":\"C2\",\"message_id" \
	"\":\"M2\",\"created_at\":1718000000,\"task_id\":\"T2\",\"id\":" \
	"\"M2\",\"answer\":\" le monde 🙂\",\"from_variable_selector" \
	"\":[\"1718000000002\",\"text\"]}"

/* chatflow node_finished (LLM). */
#define CHECK_FX_CF_NODE_FINISHED \
	"{\"event\":\"node_finished\",\"conversation_id\":\"C2\",\"mess" \
	"age_id\":\"M2\",\"created_at\":1718000000,\"task_id\":\"T2\"," \
	"\"workflow_run_id\":\"R2\",\"data\":{\"id\":\"NE2\",\"node_id" \
	"\":\"1718000000002\",\"node_type\":\"llm\",\"title\":\"LLM\"," \
	"\"index\":2,\"predecessor_node_id\":\"1718000000001\",\"inputs" \
	"\":{},\"inputs_truncated\":false,\"process_data\":null,\"proce" \
	"ss_data_truncated\":false,\"outputs\":{\"text\":\"Bonjour le m" \
	"onde 🙂\",\"reasoning_content\":\"\",\"usage\":{\"prompt_tok" \
	"ens\":120,\"prompt_unit_price\":\"0.15\",\"prompt_price_unit\"" \
	":\"0.000001\",\"prompt_price\":\"0.0000180\",\"completion_toke" \
	"ns\":30,\"completion_unit_price\":\"0.6\",\"completion_price_u" \
	"nit\":\"0.000001\",\"completion_price\":\"0.0000180\",\"total_" \
	"tokens\":150,\"total_price\":\"0.0000360\",\"currency\":\"USD" \
	"\",\"latency\":1.2,\"time_to_first_token\":0.3,\"time_to_gener" \
	"ate\":0.9},\"finish_reason\":\"stop\"},\"outputs_truncated\":f" \
	"alse,\"status\":\"succeeded\",\"error\":null,\"elapsed_time\":" \
	"1.2,\"execution_metadata\":{\"total_tokens\":150,\"total_price" \
	"\":\"0.0000360\",\"currency\":\"USD\"},\"created_at\":17180000" \
	"00,\"finished_at\":1718000002,\"files\":[],\"iteration_id\":nu" \
	"ll,\"loop_id\":null}}"

/* chatflow message_end (120/30/150). */
#define CHECK_FX_CF_END \
	"{\"event\":\"message_end\",\"conversation_id\":\"C2\",\"messag" \
	"e_id\":\"M2\",\"created_at\":1718000000,\"task_id\":\"T2\",\"i" \
	"d\":\"M2\",\"metadata\":{\"annotation_reply\":null,\"retriever" \
	"_resources\":[],\"usage\":{\"prompt_tokens\":120,\"prompt_unit" \
	"_price\":\"0.15\",\"prompt_price_unit\":\"0.000001\",\"prompt_" \
	"price\":\"0.0000180\",\"completion_tokens\":30,\"completion_un" \
	"it_price\":\"0.6\",\"completion_price_unit\":\"0.000001\",\"co" \
	"mpletion_price\":\"0.0000180\",\"total_tokens\":150,\"total_pr" \
	"ice\":\"0.0000360\",\"currency\":\"USD\",\"latency\":1.2,\"tim" \
	"e_to_first_token\":0.3,\"time_to_generate\":0.9}},\"files\":[]" \
	"}"

/* chatflow workflow_finished, succeeded. */
#define CHECK_FX_CF_WF_FINISHED \
	"{\"event\":\"workflow_finished\",\"conversation_id\":\"C2\",\"" \
	"message_id\":\"M2\",\"created_at\":1718000000,\"task_id\":\"T2" \
	"\",\"workflow_run_id\":\"R2\",\"data\":{\"id\":\"R2\",\"workfl" \
	"ow_id\":\"W2\",\"status\":\"succeeded\",\"outputs\":{\"answer" \
	"\":\"Bonjour le monde 🙂\"},\"error\":null,\"elapsed_time\":" \
	"1.53,\"total_tokens\":150,\"total_steps\":3,\"created_by\":{\"" \
	"id\":\"EU\",\"user\":\"abc-123\"},\"created_at\":1718000000,\"" \
	"finished_at\":1718000002,\"exceptions_count\":0,\"files\":[]}}"

/* chatflow workflow_finished, failed. */
#define CHECK_FX_CF_WF_FAILED \
	"{\"event\":\"workflow_finished\",\"conversation_id\":\"C2\",\"" \
	"message_id\":\"M2\",\"created_at\":1718000000,\"task_id\":\"T2" \
	"\",\"workflow_run_id\":\"R2\",\"data\":{\"id\":\"R2\",\"workfl" \
	"ow_id\":\"W2\",\"status\":\"failed\",\"outputs\":{},\"error\":" \
	"\"Node LLM run failed: [openai] Error: quota\",\"elapsed_time" \
	"\":0.8,\"total_tokens\":0,\"total_steps\":2,\"created_by\":{\"" \
	"id\":\"EU\",\"user\":\"abc-123\"},\"created_at\":1718000000,\"" \
	"finished_at\":1718000001,\"exceptions_count\":0,\"files\":[]}}"

/* agent message_end with real usage (§3.5 elides it). */
#define CHECK_FX_AGENT_END \
	"{\"event\":\"message_end\",\"conversation_id\":\"C\",\"message" \
	"_id\":\"M\",\"created_at\":1718000000,\"task_id\":\"T\",\"id\"" \
	":\"M\",\"metadata\":{\"annotation_reply\":null,\"retriever_res" \
	"ources\":[],\"usage\":{\"prompt_tokens\":50,\"prompt_unit_pric" \
	"e\":\"0.15\",\"prompt_price_unit\":\"0.000001\",\"prompt_price" \
	"\":\"0.0000180\",\"completion_tokens\":7,\"completion_unit_pri" \
	"ce\":\"0.6\",\"completion_price_unit\":\"0.000001\",\"completi" \
	"on_price\":\"0.0000180\",\"total_tokens\":57,\"total_price\":" \
	"\"0.0000360\",\"currency\":\"USD\",\"latency\":1.2,\"time_to_f" \
	"irst_token\":0.3,\"time_to_generate\":0.9}},\"files\":null}"

/* A ≥1.13.1 chatflow stream: leading ping, message_end then finished. */
#define CHECK_FX_CF_STREAM \
	"event: ping\n\n" \
	"data: " CHECK_FX_CF_STARTED "\n\n" \
	"data: " CHECK_FX_CF_NODE_STARTED "\n\n" \
	"data: " CHECK_FX_CF_MSG1 "\n\n" \
	"data: " CHECK_FX_CF_MSG2 "\n\n" \
	"data: " CHECK_FX_CF_NODE_FINISHED "\n\n" \
	"data: " CHECK_FX_CF_END "\n\n" \
	"data: " CHECK_FX_CF_WF_FINISHED "\n\n"

/* §4.1 blocking chat body (json.dumps style; lines joined). */
#define CHECK_FX_BLOCKING \
	"{\"event\": \"message\", \"task_id\": \"c3800678-…\", \"id\"" \
	": \"9da23599-…\", \"message_id\": \"9da23599-…\", \"conver" \
	"sation_id\": \"45701982-…\", \"mode\": \"chat\", \"answer\":" \
	" \"iPhone 13 Pro Max specs are listed here:...\", \"metadata\"" \
	": {\"annotation_reply\": null, \"retriever_resources\": [], \"" \
	"usage\": {\"prompt_tokens\": 1033, \"prompt_unit_price\": \"0." \
	"001\", \"prompt_price_unit\": \"0.001\", \"prompt_price\": \"0" \
	".0010330\", \"completion_tokens\": 128, \"completion_unit_pric" \
	"e\": \"0.002\", \"completion_price_unit\": \"0.001\", \"comple" \
	"tion_price\": \"0.0002560\", \"total_tokens\": 1161, \"total_p" \
	"rice\": \"0.0012890\", \"currency\": \"USD\", \"latency\": 0.7" \
	"682376249867957, \"time_to_first_token\": null, \"time_to_gene" \
	"rate\": null}}, \"created_at\": 1705407629}"

#endif
