/*
 * bench-latency: how long a token takes from the upstream writing it to
 * the client reading it, through one target (the proxy or nginx).
 *
 *   bench-latency -a HOST:PORT -u PATH -b BODY [-k AUTH] [-c STREAMS]
 *                 [-r RAMP_MS] [-d SECONDS] [-e END] [-f]
 *
 * The BODY asks mock-dify for stamped events (mock:stamp): each event's
 * text is "t=<CLOCK_MONOTONIC us at write time> ".  STREAMS connections,
 * started RAMP_MS apart in total so their events do not all fall on the
 * same instant, stream back to back for SECONDS.  On every read the
 * client takes CLOCK_MONOTONIC and, for each stamp completed by the newly
 * read bytes (a stamp split across reads or chunks is joined), records
 * now - stamp.  The proxy's chunks ("content":"t=...") and Dify's raw
 * events ("answer":"t=...") carry the same text, so one parser serves
 * both.  The first event of each stream is dropped unless -f: it leaves
 * with the response headers and measures the target's setup of the
 * stream rather than the relay of a token.  Results are key=value lines.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define LATENCY_DIGITS_MAX	18

/* The stamp parser's state on one connection. */
struct latency_stream {
	int		 state;		/* 0: text, 1: after 't', 2: digits */
	int		 ndigits;
	long long	 value;
	long long	 stamps;	/* stamps seen in this stream */
	char		 tail[2048];	/* last body bytes, for -e */
	size_t		 tail_len;
};

/* The whole run. */
struct latency {
	struct latency_stream	*streams;
	const char		*end;
	int			 keep_first;
	long long		*samples;
	size_t			 nsamples;
	size_t			 cap;
	long long		 dropped;
	long long		 negative;
	long long		 complete;
	long long		 failed;
};

/* Print the usage and exit. */
static void
latency_usage(void)
{
	fprintf(stderr, "usage: bench-latency -a host:port -u path -b body "
	    "[-k auth] [-c streams]\n"
	    "                     [-r ramp_ms] [-d seconds] [-e end] [-f]\n");
	exit(2);
}

/* Record one delay in microseconds. */
static void
latency_record(struct latency *lt, long long us)
{
	if (lt->nsamples == lt->cap) {
		lt->cap = lt->cap ? lt->cap * 2 : 4096;
		lt->samples = util_xrealloc(lt->samples,
		    lt->cap * sizeof(*lt->samples));
	}
	if (us < 0)
		lt->negative++;
	lt->samples[lt->nsamples++] = us;
}

/* A stamp is complete: its value was written at stamp, read at now. */
static void
latency_stamp(struct latency *lt, struct latency_stream *s, long long stamp,
    long long now)
{
	s->stamps++;
	if (s->stamps == 1 && !lt->keep_first) {
		lt->dropped++;
		return;
	}
	latency_record(lt, now - stamp);
}

/* load_ops.begin: a new stream on c. */
static void
latency_begin(struct load *l, struct load_conn *c)
{
	struct latency		*lt = l->arg;
	struct latency_stream	*s = &lt->streams[c->id];

	memset(s, 0, sizeof(*s));
}

/* load_ops.body: find "t=<digits>" in the bytes read at now. */
static void
latency_body(struct load *l, struct load_conn *c, const char *p, size_t n,
    long long now)
{
	struct latency		*lt = l->arg;
	struct latency_stream	*s = &lt->streams[c->id];
	size_t			 i, keep;

	for (i = 0; i < n; i++) {
		char	ch = p[i];

		switch (s->state) {
		case 0:
			if (ch == 't')
				s->state = 1;
			break;
		case 1:
			if (ch == '=') {
				s->state = 2;
				s->value = 0;
				s->ndigits = 0;
			} else if (ch != 't')
				s->state = 0;
			break;
		default:
			if (ch >= '0' && ch <= '9' &&
			    s->ndigits < LATENCY_DIGITS_MAX) {
				s->value = s->value * 10 + (ch - '0');
				s->ndigits++;
				break;
			}
			if (s->ndigits > 0)
				latency_stamp(lt, s, s->value, now);
			s->state = ch == 't' ? 1 : 0;
			break;
		}
	}
	/* The end of the body, to check the stream's end marker. */
	keep = sizeof(s->tail);
	if (n >= keep) {
		memcpy(s->tail, p + n - keep, keep);
		s->tail_len = keep;
	} else {
		if (s->tail_len + n > keep) {
			memmove(s->tail, s->tail + s->tail_len + n - keep,
			    keep - n);
			s->tail_len = keep - n;
		}
		memcpy(s->tail + s->tail_len, p, n);
		s->tail_len += n;
	}
}

/* load_ops.end: count the stream as complete or failed. */
static void
latency_end(struct load *l, struct load_conn *c, int ok)
{
	struct latency		*lt = l->arg;
	struct latency_stream	*s = &lt->streams[c->id];

	if (ok && c->resp.status == 200 && (lt->end == NULL ||
	    memmem(s->tail, s->tail_len, lt->end, strlen(lt->end)) != NULL))
		lt->complete++;
	else
		lt->failed++;
}

/* load_ops.tick: stop at the deadline; cut what is left 5 s later. */
static long long
latency_tick(struct load *l, long long now)
{
	l->stopping = 1;
	l->hard_stop = now + 5000000;
	return (0);
}

/* Parse the options, run the streams, print the percentiles. */
int
main(int argc, char **argv)
{
	static const struct load_ops	 ops = {
		latency_begin, latency_body, latency_end, latency_tick
	};
	struct sockaddr_in		 addr;
	struct latency			 lt;
	struct load			 l;
	const char			*target = NULL, *path = NULL;
	const char			*body = NULL, *auth = "Bearer app-chat";
	char				*req;
	size_t				 req_len;
	long long			 streams = 20, ramp_ms = 20, secs = 5;
	long long			 lo, p50, p90, p99, p999, hi;
	int				 ch;

	memset(&lt, 0, sizeof(lt));
	while ((ch = getopt(argc, argv, "a:b:c:d:e:fk:r:u:")) != -1) {
		switch (ch) {
		case 'a':
			target = optarg;
			break;
		case 'b':
			body = optarg;
			break;
		case 'c':
			streams = util_num("-c", optarg, 1, 100000);
			break;
		case 'd':
			secs = util_num("-d", optarg, 1, 86400);
			break;
		case 'e':
			lt.end = optarg;
			break;
		case 'f':
			lt.keep_first = 1;
			break;
		case 'k':
			auth = optarg;
			break;
		case 'r':
			ramp_ms = util_num("-r", optarg, 0, 3600000);
			break;
		case 'u':
			path = optarg;
			break;
		default:
			latency_usage();
		}
	}
	if (optind != argc || target == NULL || path == NULL || body == NULL)
		latency_usage();
	if (util_addr(target, &addr) == -1)
		util_die("bench-latency: bad address \"%s\"", target);

	req = http_request(path, target, auth, body, &req_len);
	lt.streams = util_xcalloc((size_t)streams, sizeof(*lt.streams));
	load_init(&l, &ops, &lt, &addr, req, req_len, (int)streams,
	    ramp_ms * 1000);
	l.next_tick = util_now_us() + secs * 1000000;
	if (load_run(&l) == -1)
		util_die("bench-latency: epoll failed");

	lo = util_percentile(lt.samples, lt.nsamples, 0);
	p50 = util_percentile(lt.samples, lt.nsamples, 50);
	p90 = util_percentile(lt.samples, lt.nsamples, 90);
	p99 = util_percentile(lt.samples, lt.nsamples, 99);
	p999 = util_percentile(lt.samples, lt.nsamples, 99.9);
	hi = util_percentile(lt.samples, lt.nsamples, 100);
	printf("streams=%lld\n", streams);
	printf("samples=%zu\n", lt.nsamples);
	printf("dropped_first=%lld\n", lt.dropped);
	printf("negative=%lld\n", lt.negative);
	printf("streams_complete=%lld\n", lt.complete);
	printf("streams_failed=%lld\n", lt.failed);
	printf("conn_errors=%llu\n", l.conn_errors);
	printf("min_us=%lld\np50_us=%lld\np90_us=%lld\np99_us=%lld\n"
	    "p999_us=%lld\nmax_us=%lld\n", lo, p50, p90, p99, p999, hi);
	load_free(&l);
	free(lt.streams);
	free(lt.samples);
	free(req);
	return (lt.nsamples > 0 ? 0 : 1);
}
