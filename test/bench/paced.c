/*
 * bench-paced: many concurrent slow streams through one target (the
 * proxy or nginx), measuring what each relayed event costs it.
 *
 *   bench-paced -a HOST:PORT -u PATH -b BODY [-k AUTH] [-c CLIENTS]
 *               [-r RAMP_MS] [-w WARMUP_MS] [-d SECONDS] [-e END]
 *               [-m MARKER -E EVENTS] [-P PIDS] [-U PIDS] [-s SAMPLES]
 *   bench-paced -1 -a HOST:PORT -u PATH -b BODY [-k AUTH] [-e END] [-m M]
 *
 * CLIENTS connections, started RAMP_MS apart in total, each POST the
 * BODY to PATH again as soon as their previous stream is complete.  After
 * WARMUP_MS a window of SECONDS opens; in it the program counts the
 * streams that complete: status 200, END found in the last bytes of the
 * body, and, with -m, exactly EVENTS occurrences of MARKER.  The CPU time
 * of the target's processes (-P) and of the upstream's (-U) is read at
 * the window's ends, the target's RSS at SAMPLES points inside it and once
 * before any connection is made (idle).  Results are printed as
 * key=value lines; run.sh turns them into the table.
 *
 * -1 sends one request and says whether it completed (a smoke test).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define PACED_TAIL		2048	/* END must be in these last bytes */
#define PACED_SAMPLES_MAX	32

/* The state of the stream in flight on one connection. */
struct paced_stream {
	char		 tail[2 * PACED_TAIL];
	size_t		 tail_len;
	struct http_mark mark;
};

/* The whole run. */
struct paced {
	struct paced_stream	*streams;
	const char		*end;
	const char		*marker;
	long long		 expect;	/* events per stream, or -1 */
	int			 once;
	struct proc_set		 target;
	struct proc_set		 upstream;
	int			 nsamples;
	long long		 window_us;
	long long		 win_start;	/* absolute times */
	long long		 win_end;
	long long		 next_sample;
	int			 measuring;

	/* Results. */
	long long		 rss_idle;
	long long		 rss[PACED_SAMPLES_MAX];
	long long		 open[PACED_SAMPLES_MAX];
	int			 taken;
	long long		 cpu0, cpu1, up0, up1, self0, self1;
	long long		 busy0, busy1, total0, total1;
	long long		 complete, failed, events;
	long long		 bad_status, bad_end, bad_count;
	unsigned long long	 conn_errors0;
	int			 last_status;
	long long		 last_marks;
	unsigned long long	 last_bytes;
};

/* Print the usage and exit. */
static void
paced_usage(void)
{
	fprintf(stderr, "usage: bench-paced -a host:port -u path -b body "
	    "[-k auth] [-c clients]\n"
	    "                   [-r ramp_ms] [-w warmup_ms] [-d seconds] "
	    "[-e end]\n"
	    "                   [-m marker -E events] [-P pids] [-U pids] "
	    "[-s samples] [-1]\n");
	exit(2);
}

/* load_ops.begin: a new stream on c. */
static void
paced_begin(struct load *l, struct load_conn *c)
{
	struct paced		*pc = l->arg;
	struct paced_stream	*s = &pc->streams[c->id];

	s->tail_len = 0;
	if (pc->marker != NULL)
		http_mark_init(&s->mark, pc->marker);
	else
		memset(&s->mark, 0, sizeof(s->mark));
}

/* load_ops.body: keep the last bytes, count markers. */
static void
paced_body(struct load *l, struct load_conn *c, const char *p, size_t n,
    long long now)
{
	struct paced		*pc = l->arg;
	struct paced_stream	*s = &pc->streams[c->id];

	(void)now;
	http_mark_feed(&s->mark, p, n);
	if (n >= PACED_TAIL) {
		memcpy(s->tail, p + n - PACED_TAIL, PACED_TAIL);
		s->tail_len = PACED_TAIL;
		return;
	}
	if (s->tail_len + n > sizeof(s->tail)) {
		memmove(s->tail, s->tail + s->tail_len - PACED_TAIL,
		    PACED_TAIL);
		s->tail_len = PACED_TAIL;
	}
	memcpy(s->tail + s->tail_len, p, n);
	s->tail_len += n;
}

/* load_ops.end: judge the stream and count it if the window is open. */
static void
paced_end(struct load *l, struct load_conn *c, int ok)
{
	struct paced		*pc = l->arg;
	struct paced_stream	*s = &pc->streams[c->id];
	int			 good = ok;

	pc->last_status = c->resp.status;
	pc->last_marks = s->mark.count;
	pc->last_bytes = c->resp.body_bytes;
	if (pc->once)
		l->stopping = 1;
	if (!pc->measuring && !pc->once)
		return;
	if (ok && c->resp.status != 200) {
		pc->bad_status++;
		good = 0;
	} else if (ok && pc->end != NULL && memmem(s->tail, s->tail_len,
	    pc->end, strlen(pc->end)) == NULL) {
		pc->bad_end++;
		good = 0;
	} else if (ok && pc->marker != NULL && pc->expect >= 0 &&
	    s->mark.count != pc->expect) {
		pc->bad_count++;
		good = 0;
	}
	if (good) {
		pc->complete++;
		pc->events += pc->marker != NULL ? s->mark.count : 0;
	} else
		pc->failed++;
}

/* load_ops.tick: open the window, sample RSS, close the window. */
static long long
paced_tick(struct load *l, long long now)
{
	struct paced	*pc = l->arg;

	if (!pc->measuring && now < pc->win_end) {
		pc->cpu0 = proc_cpu_us(&pc->target);
		pc->up0 = proc_cpu_us(&pc->upstream);
		pc->self0 = proc_self_cpu_us();
		proc_machine(&pc->busy0, &pc->total0);
		pc->conn_errors0 = l->conn_errors;
		pc->win_start = now;
		pc->win_end = now + pc->window_us;
		pc->measuring = 1;
		pc->next_sample = now + pc->window_us / (pc->nsamples + 1);
		return (pc->next_sample < pc->win_end ? pc->next_sample :
		    pc->win_end);
	}
	if (pc->measuring && now < pc->win_end) {
		if (pc->taken < pc->nsamples) {
			pc->rss[pc->taken] = proc_rss_kib(&pc->target);
			pc->open[pc->taken] = load_open(l);
			pc->taken++;
		}
		pc->next_sample += pc->window_us / (pc->nsamples + 1);
		if (pc->taken < pc->nsamples && pc->next_sample < pc->win_end)
			return (pc->next_sample);
		return (pc->win_end);
	}
	if (pc->measuring) {
		pc->cpu1 = proc_cpu_us(&pc->target);
		pc->up1 = proc_cpu_us(&pc->upstream);
		pc->self1 = proc_self_cpu_us();
		proc_machine(&pc->busy1, &pc->total1);
		pc->win_end = now;
		pc->measuring = 0;
		l->stopping = 1;
		/* Streams still open this long after the window are cut. */
		l->hard_stop = now + l->ramp_us + 10000000;
	}
	return (0);
}

/* Percent of one CPU that d microseconds of CPU over w are. */
static double
paced_pct(long long d, long long w)
{
	return (w > 0 ? 100.0 * (double)d / (double)w : 0);
}

/* Print the results as key=value lines. */
static void
paced_report(struct paced *pc, struct load *l)
{
	long long	 w = pc->win_end - pc->win_start, per[PACED_SAMPLES_MAX];
	long long	 cpu = pc->cpu1 - pc->cpu0;
	double		 secs = (double)w / 1e6;
	int		 i, n = 0;

	printf("clients=%d\n", l->nconns);
	printf("window_s=%.3f\n", secs);
	printf("streams_complete=%lld\n", pc->complete);
	printf("streams_failed=%lld\n", pc->failed);
	printf("bad_status=%lld\nbad_end=%lld\nbad_count=%lld\n",
	    pc->bad_status, pc->bad_end, pc->bad_count);
	printf("conn_errors=%llu\n", l->conn_errors - pc->conn_errors0);
	printf("events=%lld\n", pc->events);
	printf("events_per_s=%.1f\n", secs > 0 ? (double)pc->events / secs : 0);
	if (pc->target.n > 0 && pc->cpu0 >= 0 && pc->cpu1 >= 0) {
		printf("cpu_us=%lld\n", cpu);
		printf("cpu_pct=%.1f\n", paced_pct(cpu, w));
		if (pc->events > 0)
			printf("cpu_us_per_event=%.3f\n",
			    (double)cpu / (double)pc->events);
	}
	if (pc->upstream.n > 0 && pc->up0 >= 0 && pc->up1 >= 0)
		printf("upstream_cpu_pct=%.1f\n",
		    paced_pct(pc->up1 - pc->up0, w));
	printf("client_cpu_pct=%.1f\n", paced_pct(pc->self1 - pc->self0, w));
	if (pc->total1 > pc->total0)
		printf("machine_busy_pct=%.1f\nmachine_cpus_pct=%.0f\n",
		    paced_pct(pc->busy1 - pc->busy0, w),
		    paced_pct(pc->total1 - pc->total0, w));
	if (pc->target.n == 0)
		return;
	printf("rss_idle_kib=%lld\n", pc->rss_idle);
	printf("rss_kib_samples=");
	for (i = 0; i < pc->taken; i++)
		printf("%s%lld", i ? "," : "", pc->rss[i]);
	printf("\nopen_samples=");
	for (i = 0; i < pc->taken; i++)
		printf("%s%lld", i ? "," : "", pc->open[i]);
	printf("\n");
	/* KiB per open stream at each sample, then the median (x1000). */
	for (i = 0; i < pc->taken; i++)
		if (pc->open[i] > 0 && pc->rss[i] >= 0 && pc->rss_idle >= 0)
			per[n++] = (pc->rss[i] - pc->rss_idle) * 1000 /
			    pc->open[i];
	if (n > 0) {
		printf("open_median=%lld\n",
		    util_percentile(pc->open, (size_t)pc->taken, 50));
		printf("rss_kib_per_stream=%.2f\n",
		    (double)util_percentile(per, (size_t)n, 50) / 1000.0);
	}
}

/* Parse the options, run the load, print the results. */
int
main(int argc, char **argv)
{
	static const struct load_ops	 ops = {
		paced_begin, paced_body, paced_end, paced_tick
	};
	struct sockaddr_in		 addr;
	struct paced			 pc;
	struct load			 l;
	const char			*target = NULL, *path = NULL;
	const char			*body = NULL, *auth = "Bearer app-chat";
	char				*req;
	size_t				 req_len;
	long long			 clients = 2000, ramp_ms = -1;
	long long			 warm_ms = -1, secs = 10;
	int				 ch;

	memset(&pc, 0, sizeof(pc));
	pc.expect = -1;
	pc.nsamples = 5;
	while ((ch = getopt(argc, argv, "1a:b:c:d:e:k:m:r:s:u:w:E:P:U:")) !=
	    -1) {
		switch (ch) {
		case '1':
			pc.once = 1;
			break;
		case 'a':
			target = optarg;
			break;
		case 'b':
			body = optarg;
			break;
		case 'c':
			clients = util_num("-c", optarg, 1, 1000000);
			break;
		case 'd':
			secs = util_num("-d", optarg, 1, 86400);
			break;
		case 'e':
			pc.end = optarg;
			break;
		case 'k':
			auth = optarg;
			break;
		case 'm':
			pc.marker = optarg;
			break;
		case 'r':
			ramp_ms = util_num("-r", optarg, 0, 3600000);
			break;
		case 's':
			pc.nsamples = (int)util_num("-s", optarg, 1,
			    PACED_SAMPLES_MAX);
			break;
		case 'u':
			path = optarg;
			break;
		case 'w':
			warm_ms = util_num("-w", optarg, 0, 3600000);
			break;
		case 'E':
			pc.expect = util_num("-E", optarg, 0, 100000000);
			break;
		case 'P':
			proc_parse(&pc.target, optarg);
			break;
		case 'U':
			proc_parse(&pc.upstream, optarg);
			break;
		default:
			paced_usage();
		}
	}
	if (optind != argc || target == NULL || path == NULL || body == NULL)
		paced_usage();
	if (util_addr(target, &addr) == -1)
		util_die("bench-paced: bad address \"%s\"", target);
	if (pc.marker != NULL && strlen(pc.marker) > HTTP_MARK_MAX)
		util_die("bench-paced: marker longer than %d", HTTP_MARK_MAX);
	if (pc.once)
		clients = 1;
	if (ramp_ms < 0)
		ramp_ms = 2000;
	if (warm_ms < 0)
		warm_ms = ramp_ms + 500;

	req = http_request(path, target, auth, body, &req_len);
	pc.streams = util_xcalloc((size_t)clients, sizeof(*pc.streams));
	pc.window_us = secs * 1000000;
	pc.rss_idle = pc.target.n > 0 ? proc_rss_kib(&pc.target) : -1;
	if (pc.target.n > 0 && pc.rss_idle < 0)
		util_die("bench-paced: cannot read /proc for -P pids");
	load_init(&l, &ops, &pc, &addr, req, req_len, (int)clients,
	    pc.once ? 0 : ramp_ms * 1000);
	if (pc.once)
		l.hard_stop = util_now_us() + secs * 1000000;
	else
		l.next_tick = util_now_us() + warm_ms * 1000;
	pc.win_end = l.next_tick + pc.window_us;
	if (load_run(&l) == -1)
		util_die("bench-paced: epoll failed");

	if (pc.once) {
		printf("status=%d body_bytes=%llu markers=%lld complete=%lld\n",
		    pc.last_status, pc.last_bytes, pc.last_marks, pc.complete);
		load_free(&l);
		free(pc.streams);
		free(req);
		return (pc.complete == 1 ? 0 : 1);
	}
	paced_report(&pc, &l);
	load_free(&l);
	free(pc.streams);
	free(req);
	return (0);
}
