/*
 * check_sse: the incremental SSE parser gives the same events however its
 * input is split.
 *
 * Every stream below is fed whole, split in two at every position, one
 * byte at a time and in thousands of random partitions; each way must give
 * exactly the expected list of (event name, data) pairs.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check_fixtures.h"
#include "check_suites.h"
#include "check_util.h"
#include "sse.h"

#define CHECK_SSE_MAX		(64 * 1024)
#define CHECK_SSE_PARTITIONS	3000

/* One expected event. */
struct check_sse_event {
	const char	*event;
	const char	*data;
};

/* A stream and the events it must give. */
struct check_sse_case {
	const char			*name;
	const char			*input;
	const struct check_sse_event	*want;
	size_t				 nwant;
};

/* What the callback saw. */
struct check_sse_log {
	struct buf	 events;	/* serialized (name, data) pairs */
	int		 count;
	int		 stop_at;	/* stop at this event (1-based) */
};

/* Append one (event, data) pair to a serialized list. */
static void
check_sse_serialize(struct buf *b, const char *event, size_t eventlen,
    const char *data, size_t datalen)
{
	buf_printf(b, "[%zu:", eventlen);
	buf_add(b, event, eventlen);
	buf_printf(b, "|%zu:", datalen);
	buf_add(b, data, datalen);
	buf_add_str(b, "]\n");
}

/* sse_event_fn that records every event. */
static int
check_sse_record(void *arg, const char *event, size_t eventlen,
    const char *data, size_t datalen)
{
	struct check_sse_log	*log = arg;

	log->count++;
	check_sse_serialize(&log->events, event, eventlen, data, datalen);
	return (log->stop_at != 0 && log->count >= log->stop_at);
}

/* sse_event_fn that must never be called. */
static int
check_sse_never(void *arg, const char *event, size_t eventlen,
    const char *data, size_t datalen)
{
	(void)arg;
	(void)event;
	(void)eventlen;
	(void)data;
	(void)datalen;
	ck_abort_msg("callback called after the parser stopped");
	return (1);
}

/* Serialize a case's expected events. */
static void
check_sse_expected(const struct check_sse_case *c, struct buf *b)
{
	size_t	i;

	for (i = 0; i < c->nwant; i++)
		check_sse_serialize(b, c->want[i].event,
		    strlen(c->want[i].event), c->want[i].data,
		    strlen(c->want[i].data));
}

/*
 * Feed len bytes of input in the pieces given by cuts (ncuts increasing
 * positions) to a fresh parser and serialize the events into out.  Stops
 * at and returns the first result that was not SSE_OK, or SSE_OK.
 */
static enum sse_result
check_sse_run(const char *input, size_t len, const size_t *cuts,
    size_t ncuts, size_t max_event, struct buf *out)
{
	struct sse_parser	p;
	struct check_sse_log	log;
	enum sse_result		r, first = SSE_OK;
	size_t			i, start = 0, end;

	memset(&log, 0, sizeof(log));
	buf_init(&log.events);
	sse_parser_init(&p, max_event);
	for (i = 0; i <= ncuts; i++) {
		end = i < ncuts ? cuts[i] : len;
		r = sse_parser_feed(&p, input + start, end - start,
		    check_sse_record, &log);
		if (r != SSE_OK) {
			/* Like the relay: a failed stream is not fed again. */
			first = r;
			break;
		}
		start = end;
	}
	sse_parser_free(&p);
	buf_add(out, log.events.data, log.events.len);
	buf_free(&log.events);
	return (first);
}

/* Deterministic xorshift64 generator. */
static uint64_t
check_sse_rand(uint64_t *state)
{
	uint64_t	x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return (x);
}

/* Compare qsort-style. */
static int
check_sse_cmp(const void *a, const void *b)
{
	size_t	x = *(const size_t *)a, y = *(const size_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * Feed input whole, in two at every position, byte by byte and in random
 * partitions, and check every run gives the expected events.
 */
static void
check_sse_all_splits(const struct check_sse_case *c, const char *input,
    size_t len)
{
	struct buf	 want = BUF_INIT, got = BUF_INIT;
	size_t		*cuts, i, n, k;
	uint64_t	 seed = 0x2545f4914f6cdd1dULL ^ len;
	char		 msg[4096];
	int		 round;

	check_sse_expected(c, &want);
	cuts = calloc(len + 1, sizeof(*cuts));
	ck_assert_ptr_nonnull(cuts);

	/* (1) Whole. */
	ck_assert_int_eq(check_sse_run(input, len, NULL, 0, CHECK_SSE_MAX,
	    &got), SSE_OK);
	ck_assert_msg(check_same_buf(&got, &want, msg, sizeof(msg)),
	    "%s, whole: %s", c->name, msg);

	/* (2) Two pieces, at every position (both empty ends included). */
	for (i = 0; i <= len; i++) {
		buf_reset(&got);
		cuts[0] = i;
		ck_assert_int_eq(check_sse_run(input, len, cuts, 1,
		    CHECK_SSE_MAX, &got), SSE_OK);
		ck_assert_msg(check_same_buf(&got, &want, msg, sizeof(msg)),
		    "%s, split at %zu: %s", c->name, i, msg);
	}

	/* (3) One byte at a time. */
	for (i = 0; i + 1 < len; i++)
		cuts[i] = i + 1;
	buf_reset(&got);
	ck_assert_int_eq(check_sse_run(input, len, cuts, len > 0 ? len - 1 : 0,
	    CHECK_SSE_MAX, &got), SSE_OK);
	ck_assert_msg(check_same_buf(&got, &want, msg, sizeof(msg)),
	    "%s, byte by byte: %s", c->name, msg);

	/* (4) Random partitions into 2 to 40 non-empty pieces. */
	for (round = 0; round < CHECK_SSE_PARTITIONS && len > 2; round++) {
		n = 1 + check_sse_rand(&seed) % 39;
		if (n > len - 1)
			n = len - 1;
		for (k = 0; k < n; k++)
			cuts[k] = 1 + check_sse_rand(&seed) % (len - 1);
		qsort(cuts, n, sizeof(*cuts), check_sse_cmp);
		/* Drop repeated cuts so every piece is non-empty. */
		for (i = 0, k = 0; k < n; k++) {
			if (i == 0 || cuts[i - 1] != cuts[k])
				cuts[i++] = cuts[k];
		}
		buf_reset(&got);
		ck_assert_int_eq(check_sse_run(input, len, cuts, i,
		    CHECK_SSE_MAX, &got), SSE_OK);
		if (!check_same_buf(&got, &want, msg, sizeof(msg))) {
			char	where[512];
			size_t	o = 0;

			for (k = 0; k < i && o + 12 < sizeof(where); k++)
				o += (size_t)snprintf(where + o,
				    sizeof(where) - o, "%zu ", cuts[k]);
			ck_abort_msg("%s, partition %d (cuts %s): %s", c->name,
			    round, where, msg);
		}
	}
	free(cuts);
	buf_free(&want);
	buf_free(&got);
}

/* Run a case on its own input. */
static void
check_sse_case_run(const struct check_sse_case *c)
{
	check_sse_all_splits(c, c->input, strlen(c->input));
}

/* Copy of s with every LF replaced by eol (for CRLF and CR variants). */
static char *
check_sse_with_eol(const char *s, const char *eol)
{
	struct buf	b = BUF_INIT;

	for (; *s != '\0'; s++) {
		if (*s == '\n')
			buf_add_str(&b, eol);
		else
			buf_add_char(&b, *s);
	}
	return (buf_detach(&b));
}

/* Run a case with its line endings replaced by eol and an optional BOM. */
static void
check_sse_case_variant(const struct check_sse_case *c, const char *eol,
    int bom)
{
	struct buf	 b = BUF_INIT;
	char		*s;

	s = check_sse_with_eol(c->input, eol);
	if (bom)
		buf_add_str(&b, "\xef\xbb\xbf");
	buf_add_str(&b, s);
	check_sse_all_splits(c, b.data, b.len);
	free(s);
	buf_free(&b);
}

static const struct check_sse_event check_sse_chat_events[] = {
	{ "", CHECK_FX_CHAT_1 },
	{ "", CHECK_FX_CHAT_2 },
	{ "", CHECK_FX_CHAT_3 },
};
static const struct check_sse_case check_sse_chat_fx = {
	"chat app (§3.5)", CHECK_FX_CHAT_STREAM, check_sse_chat_events, 3
};

static const struct check_sse_event check_sse_chat_error_events[] = {
	{ "", CHECK_FX_CHAT_ERROR_1 },
};
static const struct check_sse_case check_sse_chat_error_fx = {
	"chat app error (§3.5)", CHECK_FX_CHAT_ERROR_STREAM,
	check_sse_chat_error_events, 1
};

static const struct check_sse_event check_sse_agent_events[] = {
	{ "", CHECK_FX_AGENT_1 },
	{ "", CHECK_FX_AGENT_2 },
	{ "", CHECK_FX_AGENT_3 },
	{ "", CHECK_FX_AGENT_4 },
	{ "", CHECK_FX_AGENT_5 },
	{ "", CHECK_FX_AGENT_6 },
	{ "", CHECK_FX_AGENT_7 },
};
static const struct check_sse_case check_sse_agent_fx = {
	"agent app (§3.5)", CHECK_FX_AGENT_STREAM, check_sse_agent_events, 7
};

static const struct check_sse_event check_sse_workflow_events[] = {
	{ "", CHECK_FX_WORKFLOW_1 },
	{ "", CHECK_FX_WORKFLOW_2 },
	{ "", CHECK_FX_WORKFLOW_3 },
	{ "", CHECK_FX_WORKFLOW_4 },
	{ "", CHECK_FX_WORKFLOW_5 },
	{ "", CHECK_FX_WORKFLOW_6 },
	{ "", CHECK_FX_WORKFLOW_7 },
	{ "", CHECK_FX_WORKFLOW_8 },
	{ "", CHECK_FX_WORKFLOW_9 },
	{ "", CHECK_FX_WORKFLOW_10 },
};
static const struct check_sse_case check_sse_workflow_fx = {
	"workflow app with leading ping (§3.5)", CHECK_FX_WORKFLOW_STREAM,
	check_sse_workflow_events, 10
};

static const struct check_sse_event check_sse_chatflow_events[] = {
	{ "", CHECK_FX_CF_STARTED },
	{ "", CHECK_FX_CF_NODE_STARTED },
	{ "", CHECK_FX_CF_MSG1 },
	{ "", CHECK_FX_CF_MSG2 },
	{ "", CHECK_FX_CF_NODE_FINISHED },
	{ "", CHECK_FX_CF_END },
	{ "", CHECK_FX_CF_WF_FINISHED },
};
static const struct check_sse_case check_sse_chatflow_fx = {
	"chatflow with leading ping", CHECK_FX_CF_STREAM,
	check_sse_chatflow_events, 7
};

/* Field syntax the SSE specification allows and Dify does not use. */
static const struct check_sse_event check_sse_syntax_events[] = {
	{ "", "no space" },
	{ "", " two spaces" },
	{ "", "line one\nline two" },
	{ "", "" },
	{ "custom", "named: with colon" },
	{ "", "after named" },
	{ "", "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x99\x82" },
	{ "", "{\"answer\":\"caf\xc3\xa9\"}" },
	{ "", "a\n\nb" },
	{ "", "last" },
};
static const struct check_sse_case check_sse_syntax_fx = {
	"field syntax",
	": keep-alive\n"
	":\n"
	"id: 42\n"
	"retry: 10000\n"
	"data:no space\n"
	"\n"
	"event: ping\n"
	"\n"
	"data:  two spaces\n"
	"id\n"
	"\n"
	": comment between events\n"
	"\n"
	"data: line one\n"
	": a comment inside an event\n"
	"data: line two\n"
	"\n"
	"data\n"
	"\n"
	"event: custom\n"
	"data: named: with colon\n"
	"\n"
	"data: after named\n"
	"unknown: field\n"
	"\n"
	"event: ping\n"
	"\n"
	"\n"
	"\n"
	"data: \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x99\x82\n"
	"\n"
	"event: ping\n"
	"id: 7\n"
	"\n"
	"data: {\"answer\":\"caf\xc3\xa9\"}\n"
	"\n"
	"data: a\n"
	"data:\n"
	"data: b\n"
	"\n"
	"retry: 1\n"
	"data: last\n"
	"\n",
	check_sse_syntax_events, 10
};

/*
 * The first bytes look like a byte order mark but are not one: they are
 * put back and form part of the first line (an unknown field, ignored).
 */
static const struct check_sse_event check_sse_not_bom_events[] = {
	{ "", "1" },
};
static const struct check_sse_case check_sse_not_bom_fx = {
	"almost a BOM", "\xef\xbbX: junk\ndata: 1\n\n",
	check_sse_not_bom_events, 1
};

/* A second BOM is not stripped: it makes the first field unknown. */
static const struct check_sse_event check_sse_two_boms_events[] = {
	{ "", "2" },
};
static const struct check_sse_case check_sse_two_boms_fx = {
	"two BOMs", "\xef\xbb\xbf\xef\xbb\xbf" "data: 1\n\ndata: 2\n\n",
	check_sse_two_boms_events, 1
};

/* Mixed line endings in one stream. */
static const struct check_sse_event check_sse_mixed_events[] = {
	{ "", "a\nb\nc" },
	{ "", "d" },
	{ "", "e" },
};
static const struct check_sse_case check_sse_mixed_fx = {
	"mixed endings",
	"data: a\r\ndata: b\rdata: c\n\r\n"
	"event: ping\r\r"
	"data: d\r\r"
	": c\r\n"
	"data: e\n\n",
	check_sse_mixed_events, 3
};

/* The chat stream of §3.5: every split gives the three data events. */
START_TEST(check_sse_chat_lf)
{
	check_sse_case_run(&check_sse_chat_fx);
}
END_TEST

/* The §3.5 chat stream with CRLF line endings. */
START_TEST(check_sse_chat_crlf)
{
	check_sse_case_variant(&check_sse_chat_fx, "\r\n", 0);
}
END_TEST

/* The §3.5 chat stream with lone CR line endings. */
START_TEST(check_sse_chat_cr)
{
	check_sse_case_variant(&check_sse_chat_fx, "\r", 0);
}
END_TEST

/* The §3.5 chat stream behind a UTF-8 byte order mark, LF and CRLF. */
START_TEST(check_sse_chat_bom)
{
	check_sse_case_variant(&check_sse_chat_fx, "\n", 1);
	check_sse_case_variant(&check_sse_chat_fx, "\r\n", 1);
	check_sse_case_variant(&check_sse_chat_fx, "\r", 1);
}
END_TEST

/* The §3.5 chat error stream. */
START_TEST(check_sse_chat_error)
{
	check_sse_case_run(&check_sse_chat_error_fx);
	check_sse_case_variant(&check_sse_chat_error_fx, "\r\n", 1);
}
END_TEST

/* The §3.5 agent stream (multi-byte UTF-8 in tool labels). */
START_TEST(check_sse_agent)
{
	check_sse_case_run(&check_sse_agent_fx);
	check_sse_case_variant(&check_sse_agent_fx, "\r\n", 0);
}
END_TEST

/* The §3.5 workflow stream, which opens with event: ping. */
START_TEST(check_sse_workflow)
{
	check_sse_case_run(&check_sse_workflow_fx);
	check_sse_case_variant(&check_sse_workflow_fx, "\r", 0);
}
END_TEST

/* A chatflow stream with a leading ping and UTF-8 answers. */
START_TEST(check_sse_chatflow)
{
	check_sse_case_run(&check_sse_chatflow_fx);
	check_sse_case_variant(&check_sse_chatflow_fx, "\r\n", 1);
}
END_TEST

/* Comments, id:, retry:, data: without space, multi-line events. */
START_TEST(check_sse_syntax_all)
{
	check_sse_case_run(&check_sse_syntax_fx);
	check_sse_case_variant(&check_sse_syntax_fx, "\r\n", 0);
	check_sse_case_variant(&check_sse_syntax_fx, "\r", 1);
}
END_TEST

/* Byte order mark corner cases and mixed line endings. */
START_TEST(check_sse_bom_and_mixed)
{
	check_sse_case_run(&check_sse_not_bom_fx);
	check_sse_case_run(&check_sse_two_boms_fx);
	check_sse_case_run(&check_sse_mixed_fx);
}
END_TEST

/* A ping block alone never reaches the callback. */
START_TEST(check_sse_ping_only)
{
	static const char	 s[] = "event: ping\n\nevent: ping\r\n\r\n"
				    "event: ping\r\r: x\n\n";
	struct buf		 got = BUF_INIT;

	ck_assert_int_eq(check_sse_run(s, sizeof(s) - 1, NULL, 0,
	    CHECK_SSE_MAX, &got), SSE_OK);
	ck_assert_uint_eq(got.len, 0);
	buf_free(&got);
}
END_TEST

/* An event without its blank line waits; the blank line dispatches it. */
START_TEST(check_sse_unterminated)
{
	struct sse_parser	p;
	struct check_sse_log	log;
	struct buf		want = BUF_INIT;
	char			msg[4096];

	memset(&log, 0, sizeof(log));
	sse_parser_init(&p, CHECK_SSE_MAX);
	ck_assert_int_eq(sse_parser_pending(&p), 0);
	ck_assert_int_eq(sse_parser_feed(&p, "data: {\"a\":1}\n", 14,
	    check_sse_record, &log), SSE_OK);
	ck_assert_int_eq(log.count, 0);
	ck_assert_int_eq(sse_parser_pending(&p), 1);
	ck_assert_int_eq(sse_parser_feed(&p, "data: {\"b\":2}", 13,
	    check_sse_record, &log), SSE_OK);
	ck_assert_int_eq(log.count, 0);
	ck_assert_int_eq(sse_parser_pending(&p), 1);
	ck_assert_int_eq(sse_parser_feed(&p, "\n", 1, check_sse_record, &log),
	    SSE_OK);
	ck_assert_int_eq(log.count, 0);
	ck_assert_int_eq(sse_parser_feed(&p, "\n", 1, check_sse_record, &log),
	    SSE_OK);
	ck_assert_int_eq(log.count, 1);
	ck_assert_int_eq(sse_parser_pending(&p), 0);
	check_sse_serialize(&want, "", 0, "{\"a\":1}\n{\"b\":2}", 15);
	ck_assert_msg(check_same_buf(&log.events, &want, msg, sizeof(msg)),
	    "%s", msg);

	/* A ping's event: line is pending until its blank line. */
	ck_assert_int_eq(sse_parser_feed(&p, "event: ping\n", 12,
	    check_sse_record, &log), SSE_OK);
	ck_assert_int_eq(sse_parser_pending(&p), 1);
	ck_assert_int_eq(sse_parser_feed(&p, "\n", 1, check_sse_record, &log),
	    SSE_OK);
	ck_assert_int_eq(sse_parser_pending(&p), 0);
	/* A whole comment leaves nothing pending. */
	ck_assert_int_eq(sse_parser_feed(&p, ": keep-alive\n", 13,
	    check_sse_record, &log), SSE_OK);
	ck_assert_int_eq(sse_parser_pending(&p), 0);
	/* Nor does a whole event, fed at once. */
	ck_assert_int_eq(sse_parser_feed(&p, "data: x\n\n", 9,
	    check_sse_record, &log), SSE_OK);
	ck_assert_int_eq(sse_parser_pending(&p), 0);
	ck_assert_int_eq(log.count, 2);
	/* The last event of a stream with no final blank line stays put. */
	ck_assert_int_eq(sse_parser_feed(&p, "data: tail\r\n", 12,
	    check_sse_record, &log), SSE_OK);
	ck_assert_int_eq(log.count, 2);
	ck_assert_int_eq(sse_parser_pending(&p), 1);
	sse_parser_free(&p);
	buf_free(&log.events);
	buf_free(&want);
}
END_TEST

/* CR ending one feed and LF opening the next make a single line end. */
START_TEST(check_sse_cr_lf_across_feeds)
{
	struct sse_parser	p;
	struct check_sse_log	log;
	struct buf		want = BUF_INIT;
	char			msg[4096];

	memset(&log, 0, sizeof(log));
	sse_parser_init(&p, CHECK_SSE_MAX);
	/* "data: a" CR | LF "data: b" CRLF CR | LF: one event "a\nb". */
	ck_assert_int_eq(sse_parser_feed(&p, "data: a\r", 8, check_sse_record,
	    &log), SSE_OK);
	ck_assert_int_eq(sse_parser_feed(&p, "\ndata: b\r\n\r", 11,
	    check_sse_record, &log), SSE_OK);
	ck_assert_int_eq(log.count, 1);
	ck_assert_int_eq(sse_parser_feed(&p, "\n", 1, check_sse_record, &log),
	    SSE_OK);
	ck_assert_int_eq(log.count, 1);
	/* The next event must not be cut by a stray LF either. */
	ck_assert_int_eq(sse_parser_feed(&p, "data: c\r", 8, check_sse_record,
	    &log), SSE_OK);
	ck_assert_int_eq(sse_parser_feed(&p, "\ndata: d\r", 9, check_sse_record,
	    &log), SSE_OK);
	ck_assert_int_eq(sse_parser_feed(&p, "\n\r", 2, check_sse_record,
	    &log), SSE_OK);
	ck_assert_int_eq(sse_parser_feed(&p, "\n", 1, check_sse_record, &log),
	    SSE_OK);
	ck_assert_int_eq(log.count, 2);
	check_sse_serialize(&want, "", 0, "a\nb", 3);
	check_sse_serialize(&want, "", 0, "c\nd", 3);
	ck_assert_msg(check_same_buf(&log.events, &want, msg, sizeof(msg)),
	    "%s", msg);
	sse_parser_free(&p);
	buf_free(&log.events);
	buf_free(&want);
}
END_TEST

/* Empty feeds, anywhere (also between a CR and its LF), change nothing. */
START_TEST(check_sse_empty_feeds)
{
	static const char	 s[] =
	    "data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n";
	struct sse_parser	 p;
	struct check_sse_log	 log;
	struct buf		 want = BUF_INIT;
	char			 msg[4096];
	size_t			 i;

	memset(&log, 0, sizeof(log));
	sse_parser_init(&p, CHECK_SSE_MAX);
	for (i = 0; i < sizeof(s) - 1; i++) {
		ck_assert_int_eq(sse_parser_feed(&p, "", 0, check_sse_record,
		    &log), SSE_OK);
		ck_assert_int_eq(sse_parser_feed(&p, s + i, 1,
		    check_sse_record, &log), SSE_OK);
	}
	check_sse_serialize(&want, "", 0, "a\nb", 3);
	check_sse_serialize(&want, "", 0, "c", 1);
	ck_assert_msg(check_same_buf(&log.events, &want, msg, sizeof(msg)),
	    "%s", msg);
	sse_parser_free(&p);
	buf_free(&log.events);
	buf_free(&want);
}
END_TEST

/* Feed s whole and byte by byte with a small limit; expect TOO_LARGE. */
static void
check_sse_expect_too_large(const char *s, size_t max_event)
{
	struct buf	got = BUF_INIT;
	size_t		len = strlen(s), *cuts, i;

	ck_assert_int_eq(check_sse_run(s, len, NULL, 0, max_event, &got),
	    SSE_TOO_LARGE);
	ck_assert_msg(got.len == 0, "an event went through: %s",
	    buf_cstr(&got));
	cuts = calloc(len, sizeof(*cuts));
	ck_assert_ptr_nonnull(cuts);
	for (i = 0; i + 1 < len; i++)
		cuts[i] = i + 1;
	buf_reset(&got);
	ck_assert_int_eq(check_sse_run(s, len, cuts, len - 1, max_event, &got),
	    SSE_TOO_LARGE);
	ck_assert_uint_eq(got.len, 0);
	for (i = 1; i < len; i++) {
		buf_reset(&got);
		ck_assert_int_eq(check_sse_run(s, len, &i, 1, max_event, &got),
		    SSE_TOO_LARGE);
		ck_assert_uint_eq(got.len, 0);
	}
	free(cuts);
	buf_free(&got);
}

/* Feed s in every way with a small limit; expect one event, data want. */
static void
check_sse_expect_fits(const char *s, size_t max_event, const char *want)
{
	struct buf	got = BUF_INIT, w = BUF_INIT;
	size_t		len = strlen(s), i;
	char		msg[4096];

	check_sse_serialize(&w, "", 0, want, strlen(want));
	for (i = 0; i <= len; i++) {
		buf_reset(&got);
		ck_assert_int_eq(check_sse_run(s, len, &i, 1, max_event, &got),
		    SSE_OK);
		ck_assert_msg(check_same_buf(&got, &w, msg, sizeof(msg)),
		    "split at %zu: %s", i, msg);
	}
	buf_free(&got);
	buf_free(&w);
}

/* A line longer than max_event is refused, whole or in pieces. */
START_TEST(check_sse_line_too_large)
{
	/* "data: 0123456789" is 16 bytes: it fits a limit of 16... */
	check_sse_expect_fits("data: 0123456789\n\n", 16, "0123456789");
	check_sse_expect_fits("data: 0123456789\r\n\r\n", 16, "0123456789");
	/* ...and one byte more does not. */
	check_sse_expect_too_large("data: 0123456789A\n\n", 16);
	check_sse_expect_too_large("data: 0123456789A\r\n\r\n", 16);
	/* A long comment or unknown field is a long line too. */
	check_sse_expect_too_large(": 0123456789abcdefghij\ndata: x\n\n", 16);
	/* A huge line with no end at all. */
	check_sse_expect_too_large("data: 0123456789abcdefghijklmnop", 16);
}
END_TEST

/* An event whose data lines add up to more than max_event is refused. */
START_TEST(check_sse_event_too_large)
{
	/* Each line fits; together "0123456789\n0123456789" (21) does not. */
	check_sse_expect_too_large("data: 0123456789\ndata: 0123456789\n\n",
	    16);
	check_sse_expect_too_large(
	    "data: 01234\ndata: 01234\ndata: 01234\ndata: 01234\n\n", 16);
	/* "0123456\n0123456" is 15 bytes: fits. */
	check_sse_expect_fits("data: 0123456\ndata: 0123456\n\n", 16,
	    "0123456\n0123456");
}
END_TEST

/*
 * After SSE_TOO_LARGE the parser must not depend on the caller's earlier
 * input, which the caller may reuse: a later feed never yields its bytes.
 */
START_TEST(check_sse_too_large_keeps_no_input)
{
	struct sse_parser	 p;
	struct check_sse_log	 log;
	char			 in[64];
	size_t			 len;

	memset(&log, 0, sizeof(log));
	sse_parser_init(&p, 16);
	/* One data line read from this buffer, then a line too long. */
	len = (size_t)snprintf(in, sizeof(in), "%s",
	    "data: abc\ndata: 0123456789ABCDEFGHIJ\n");
	ck_assert_int_eq(sse_parser_feed(&p, in, len, check_sse_record, &log),
	    SSE_TOO_LARGE);
	/* The caller reuses its read buffer... */
	memset(in, 'X', sizeof(in));
	/* ...and a careless caller feeds on. */
	(void)sse_parser_feed(&p, "data: d\n\n", 9, check_sse_record, &log);
	ck_assert_msg(log.count == 0 ||
	    memchr(log.events.data, 'X', log.events.len) == NULL,
	    "an event holds bytes of a buffer the parser no longer owns: %s",
	    buf_cstr(&log.events));
	sse_parser_free(&p);
	buf_free(&log.events);
}
END_TEST

/* A non-zero callback result stops the parser for good. */
START_TEST(check_sse_stop)
{
	static const char	 s[] = CHECK_FX_CHAT_STREAM;
	struct sse_parser	 p;
	struct check_sse_log	 log;
	struct buf		 want = BUF_INIT;
	enum sse_result		 r;
	size_t			 i;
	int			 stopped = 0;
	char			 msg[4096];

	/* Whole: stops at the second event. */
	memset(&log, 0, sizeof(log));
	log.stop_at = 2;
	sse_parser_init(&p, CHECK_SSE_MAX);
	ck_assert_int_eq(sse_parser_feed(&p, s, sizeof(s) - 1,
	    check_sse_record, &log), SSE_STOPPED);
	ck_assert_int_eq(log.count, 2);
	check_sse_serialize(&want, "", 0, CHECK_FX_CHAT_1,
	    strlen(CHECK_FX_CHAT_1));
	check_sse_serialize(&want, "", 0, CHECK_FX_CHAT_2,
	    strlen(CHECK_FX_CHAT_2));
	ck_assert_msg(check_same_buf(&log.events, &want, msg, sizeof(msg)),
	    "%s", msg);
	ck_assert_int_eq(sse_parser_feed(&p, s, sizeof(s) - 1,
	    check_sse_never, NULL), SSE_STOPPED);
	ck_assert_int_eq(sse_parser_feed(&p, "data: x\n\n", 9,
	    check_sse_never, NULL), SSE_STOPPED);
	sse_parser_free(&p);
	buf_free(&log.events);

	/* Byte by byte: once stopped, every later feed says so. */
	memset(&log, 0, sizeof(log));
	log.stop_at = 1;
	sse_parser_init(&p, CHECK_SSE_MAX);
	for (i = 0; i < sizeof(s) - 1; i++) {
		r = sse_parser_feed(&p, s + i, 1, stopped ? check_sse_never :
		    check_sse_record, &log);
		if (stopped)
			ck_assert_int_eq(r, SSE_STOPPED);
		else if (r == SSE_STOPPED)
			stopped = 1;
		else
			ck_assert_int_eq(r, SSE_OK);
	}
	ck_assert(stopped);
	ck_assert_int_eq(log.count, 1);
	sse_parser_free(&p);
	buf_free(&log.events);
	buf_free(&want);
}
END_TEST

/* The event: field names the event and is reset after each dispatch. */
START_TEST(check_sse_event_name)
{
	static const char	 s[] = "event: delta\ndata: 1\n\ndata: 2\n\n"
				    "event: a\nevent: b\ndata: 3\n\n"
				    "event:nospace\ndata: 4\n\n";
	struct buf		 got = BUF_INIT, want = BUF_INIT;
	char			 msg[4096];

	check_sse_serialize(&want, "delta", 5, "1", 1);
	check_sse_serialize(&want, "", 0, "2", 1);
	check_sse_serialize(&want, "b", 1, "3", 1);
	check_sse_serialize(&want, "nospace", 7, "4", 1);
	ck_assert_int_eq(check_sse_run(s, sizeof(s) - 1, NULL, 0,
	    CHECK_SSE_MAX, &got), SSE_OK);
	ck_assert_msg(check_same_buf(&got, &want, msg, sizeof(msg)), "%s",
	    msg);
	buf_free(&got);
	buf_free(&want);
}
END_TEST

/* A parser can be reused after a stream: buffers are kept, state is not. */
START_TEST(check_sse_many_events)
{
	struct buf	in = BUF_INIT, want = BUF_INIT, got = BUF_INIT;
	size_t		cuts[64], i;
	char		msg[4096], data[64];
	int		n;

	for (n = 0; n < 2000; n++) {
		snprintf(data, sizeof(data), "{\"n\":%d}", n);
		buf_printf(&in, "data: %s\n\n", data);
		if (n % 7 == 0)
			buf_add_str(&in, "event: ping\n\n");
		check_sse_serialize(&want, "", 0, data, strlen(data));
	}
	for (i = 0; i < 64; i++)
		cuts[i] = (i + 1) * (in.len / 65) + i % 3;
	ck_assert_int_eq(check_sse_run(in.data, in.len, cuts, 64,
	    CHECK_SSE_MAX, &got), SSE_OK);
	ck_assert_msg(check_same_buf(&got, &want, msg, sizeof(msg)), "%s",
	    msg);
	buf_free(&in);
	buf_free(&want);
	buf_free(&got);
}
END_TEST

/* The sse suite. */
Suite *
sse_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("sse");
	tc = tcase_create("streams");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, check_sse_chat_lf);
	tcase_add_test(tc, check_sse_chat_crlf);
	tcase_add_test(tc, check_sse_chat_cr);
	tcase_add_test(tc, check_sse_chat_bom);
	tcase_add_test(tc, check_sse_chat_error);
	tcase_add_test(tc, check_sse_agent);
	tcase_add_test(tc, check_sse_workflow);
	tcase_add_test(tc, check_sse_chatflow);
	tcase_add_test(tc, check_sse_syntax_all);
	tcase_add_test(tc, check_sse_bom_and_mixed);
	tcase_add_test(tc, check_sse_many_events);
	suite_add_tcase(s, tc);

	tc = tcase_create("behaviour");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_sse_ping_only);
	tcase_add_test(tc, check_sse_unterminated);
	tcase_add_test(tc, check_sse_cr_lf_across_feeds);
	tcase_add_test(tc, check_sse_empty_feeds);
	tcase_add_test(tc, check_sse_line_too_large);
	tcase_add_test(tc, check_sse_event_too_large);
	tcase_add_test(tc, check_sse_too_large_keeps_no_input);
	tcase_add_test(tc, check_sse_stop);
	tcase_add_test(tc, check_sse_event_name);
	suite_add_tcase(s, tc);
	return (s);
}
