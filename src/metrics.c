/*
 * metrics: counters, gauges and histograms of every worker of an
 * instance in one shared mapping, and their Prometheus text.
 *
 * The mapping is made before the workers are forked (main.c), like the
 * conversation table, so every worker of the instance, restarted ones
 * and those of a reload included, sees the same memory.  It holds a
 * header (the app names known at start) and a fixed number of slots.
 * A worker claims a slot when it starts: a free one (pid 0) or one whose
 * process is gone, taken with a compare-and-swap on the pid.  The slot
 * is then written only by that worker, with relaxed atomic loads and
 * stores (one writer: no read-modify-write instruction, no lock), and
 * read by whichever worker renders a scrape.
 *
 * Counters are never zeroed: a slot taken over from a dead worker keeps
 * its counts and the new owner adds to them, so every sum stays
 * monotonic across crashes, restarts and reloads.  Gauges (open streams,
 * upstream connections, Redis state) belong to a live process: they are
 * reset when a slot is claimed or released, and a scrape sums them over
 * the slots whose process is alive only.
 *
 * Labels are bounded.  The app label is an index: the apps configured at
 * start (their model names, from config), then "passthrough", "none"
 * and "other" (an app added by a reload, whose name the mapping made at
 * start does not hold).  A worker maps its own config's apps onto these
 * by name when it claims its slot.  odp_requests_total, labelled by
 * route, app, status and end, lives in a small open-addressing table per
 * slot, keyed by the four packed in 32 bits: the owner publishes a new
 * key after its count, with a release store, so a reader never sees a
 * key without its count.  Should a slot's table fill up, requests of
 * new label sets are counted in odp_metrics_dropped_total.
 *
 * Histogram buckets are kept per bucket (not cumulative) in integer
 * microseconds; a render sums them, makes them cumulative, and takes
 * _count from the sum of the buckets, so +Inf always equals _count.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "metrics.h"
#include "util.h"

#define METRICS_MAGIC		0x6f64706d6574726bULL
#define METRICS_REQ_ENTRIES	512	/* a power of two */
#define METRICS_NAME_MAX	128
#define METRICS_KEY_USED	0x80000000U

/* Bucket bounds, microseconds: 1 ms to 5 min. */
static const uint64_t metrics_bounds[METRICS_NBUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000, 120000000,
	300000000
};

static const char *const metrics_route_names[] = {
	[METRICS_ROUTE_CHAT] = "chat",
	[METRICS_ROUTE_MODELS] = "models",
	[METRICS_ROUTE_MODEL] = "model",
	[METRICS_ROUTE_HEALTH] = "healthz",
	[METRICS_ROUTE_READY] = "readyz",
	[METRICS_ROUTE_METRICS] = "metrics",
	[METRICS_ROUTE_NONE] = "none",
	[METRICS_ROUTE_REFUSED] = "refused",
};

/*
 * End names: those exchange.c and server.c log, and the proxy's own
 * error codes.  Codes that are not here (Dify's own, passed through)
 * count as "error".
 */
static const char *const metrics_end_names[] = {
	[METRICS_END_COMPLETE] = "complete",
	[METRICS_END_CLIENT_GONE] = "client_gone",
	[METRICS_END_SHUTDOWN] = "shutdown",
	[METRICS_END_ERROR] = "error",
	[METRICS_END_UPSTREAM_UNREACHABLE] = "upstream_unreachable",
	[METRICS_END_UPSTREAM_DNS] = "upstream_dns_error",
	[METRICS_END_UPSTREAM_TLS] = "upstream_tls_error",
	[METRICS_END_UPSTREAM_TIMEOUT] = "upstream_timeout",
	[METRICS_END_UPSTREAM_INCOMPLETE] = "upstream_incomplete",
	[METRICS_END_UPSTREAM_PROTOCOL] = "upstream_protocol_error",
	[METRICS_END_OVERLOADED] = "overloaded",
	[METRICS_END_INVALID_API_KEY] = "invalid_api_key",
	[METRICS_END_UPSTREAM_RATE_LIMITED] = "rate_limit_exceeded",
	[METRICS_END_INSUFFICIENT_QUOTA] = "insufficient_quota",
	[METRICS_END_MODEL_NOT_FOUND] = "model_not_found",
	[METRICS_END_NO_KEY] = "no_key",
	[METRICS_END_BAD_REQUEST] = "bad_request",
	[METRICS_END_UNKNOWN_URL] = "unknown_url",
	[METRICS_END_METHOD_NOT_ALLOWED] = "method_not_allowed",
	[METRICS_END_REQUEST_TIMEOUT] = "request_timeout",
	[METRICS_END_RATE_LIMITED] = "rate_limited",
	[METRICS_END_LOCAL] = "local",
	[METRICS_END_UNKNOWN] = "unknown",
};

struct metrics_hist_data {
	uint64_t	 sum_us;
	uint64_t	 b[METRICS_NBUCKETS + 1];	/* the last: +Inf */
};

struct metrics_req_entry {
	uint32_t	 key;		/* 0: free */
	uint32_t	 pad;
	uint64_t	 count;
};

/* One worker's part of the mapping; followed by its per-app arrays. */
struct metrics_slot_data {
	int32_t			 pid;		/* 0: free */
	int32_t			 redis[METRICS_REDIS_N]; /* 0 unused, 1 down, 2 up */
	int64_t			 streams;
	int64_t			 up_idle, up_busy;
	uint64_t		 up_opened, up_failed, stop_calls, pauses;
	uint64_t		 tls_full, tls_resumed;
	uint64_t		 dropped;
	struct metrics_req_entry req[METRICS_REQ_ENTRIES];
};

/* Per app, after a slot's fixed part. */
struct metrics_app_data {
	struct metrics_hist_data	 duration[METRICS_ROUTE_N];
	struct metrics_hist_data	 ttft, gap;
	uint64_t			 tokens[2];
	uint64_t			 limited[METRICS_LIMIT_N];
};

/* The head of the mapping. */
struct metrics_head {
	uint64_t	 magic;
	size_t		 bytes;
	unsigned	 nslots;
	unsigned	 napps;		/* configured at start */
	unsigned	 nlabels;	/* napps + passthrough, none, other */
	size_t		 slot_bytes;
	int64_t		 started;	/* Unix time of the instance */
	char		 names[METRICS_MAX_APPS][METRICS_NAME_MAX];
};

struct metrics {
	struct metrics_head	*h;
	metrics_alive_fn	 alive;
};

/* A worker's handle on its slot (process memory). */
struct metrics_slot {
	struct metrics			*m;
	struct metrics_slot_data	*d;
	struct metrics_app_data		*apps;
	unsigned			 nmap;
	uint16_t			*map;	/* cfg index -> label index */
};

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
/* Only the owner writes: a load and a store, no locked instruction. */
#define ADD(p, v)	STORE((p), LOAD(p) + (v))

/* Slot i of the mapping. */
static struct metrics_slot_data *
metrics_slot_at(const struct metrics *m, unsigned i)
{
	return ((struct metrics_slot_data *)((char *)m->h +
	    sizeof(*m->h) + (size_t)i * m->h->slot_bytes));
}

/* The per-app arrays of a slot. */
static struct metrics_app_data *
metrics_apps_of(struct metrics_slot_data *d)
{
	return ((struct metrics_app_data *)(d + 1));
}

/* kill(2) as the default liveness test. */
static int
metrics_kill_alive(pid_t pid)
{
	return (kill(pid, 0) == 0 || errno == EPERM);
}

/*
 * Make the shared mapping for nslots workers and the apps named at start
 * (at most METRICS_MAX_APPS; more count as "other").  NULL on failure.
 */
struct metrics *
metrics_new(unsigned nslots, const char *const *names, size_t napps)
{
	struct metrics		*m;
	struct metrics_head	*h;
	size_t			 slot_bytes, bytes, i;
	unsigned		 nlabels;
	void			*p;

	if (nslots == 0)
		return (NULL);
	if (napps > METRICS_MAX_APPS)
		napps = METRICS_MAX_APPS;
	nlabels = (unsigned)napps + 3;
	slot_bytes = sizeof(struct metrics_slot_data) +
	    nlabels * sizeof(struct metrics_app_data);
	slot_bytes = (slot_bytes + 63) & ~(size_t)63;
	bytes = sizeof(*h) + nslots * slot_bytes;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return (NULL);
	h = p;
	h->magic = METRICS_MAGIC;
	h->bytes = bytes;
	h->nslots = nslots;
	h->napps = (unsigned)napps;
	h->nlabels = nlabels;
	h->slot_bytes = slot_bytes;
	h->started = (int64_t)time(NULL);
	for (i = 0; i < napps; i++)
		snprintf(h->names[i], METRICS_NAME_MAX, "%s", names[i]);
	m = xcalloc(1, sizeof(*m));
	m->h = h;
	m->alive = metrics_kill_alive;
	return (m);
}

/* Unmap the mapping (in the process that made it, at exit). */
void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	munmap(m->h, m->h->bytes);
	free(m);
}

/* Replace the liveness test (tests). */
void
metrics_set_alive(struct metrics *m, metrics_alive_fn fn)
{
	m->alive = fn != NULL ? fn : metrics_kill_alive;
}

/* Zero a slot's gauges: they belong to the process that set them. */
static void
metrics_reset_gauges(struct metrics_slot_data *d)
{
	int	i;

	STORE(&d->streams, 0);
	STORE(&d->up_idle, 0);
	STORE(&d->up_busy, 0);
	for (i = 0; i < METRICS_REDIS_N; i++)
		STORE(&d->redis[i], 0);
}

/*
 * Claim a slot for process pid, whose config names its apps (names, n):
 * a free slot, else one whose process is gone.  NULL if every slot is
 * held by a live process.
 */
struct metrics_slot *
metrics_claim(struct metrics *m, pid_t pid, const char *const *names,
    size_t n)
{
	struct metrics_slot_data	*d = NULL;
	struct metrics_slot		*s;
	int32_t				 old;
	unsigned			 i, j, pass;

	if (m == NULL)
		return (NULL);
	for (pass = 0; pass < 2 && d == NULL; pass++) {
		for (i = 0; i < m->h->nslots && d == NULL; i++) {
			d = metrics_slot_at(m, i);
			old = __atomic_load_n(&d->pid, __ATOMIC_ACQUIRE);
			if ((pass == 0 && old != 0) || (pass == 1 &&
			    (old == 0 || old == pid || m->alive(old))) ||
			    !__atomic_compare_exchange_n(&d->pid, &old,
			    (int32_t)pid, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				d = NULL;
		}
	}
	if (d == NULL)
		return (NULL);
	metrics_reset_gauges(d);
	s = xcalloc(1, sizeof(*s));
	s->m = m;
	s->d = d;
	s->apps = metrics_apps_of(d);
	s->nmap = (unsigned)n;
	s->map = xcalloc(n + 1, sizeof(*s->map));
	for (i = 0; i < n; i++) {
		s->map[i] = (uint16_t)(m->h->napps + 2);	/* other */
		for (j = 0; j < m->h->napps; j++) {
			if (strcmp(m->h->names[j], names[i]) == 0) {
				s->map[i] = (uint16_t)j;
				break;
			}
		}
	}
	return (s);
}

/* Give the slot back at exit: its gauges go, its counters stay. */
void
metrics_release(struct metrics_slot *s)
{
	if (s == NULL)
		return;
	metrics_reset_gauges(s->d);
	__atomic_store_n(&s->d->pid, 0, __ATOMIC_RELEASE);
	free(s->map);
	free(s);
}

/* The label index of an app argument. */
static unsigned
metrics_app_label(const struct metrics_slot *s, int app)
{
	if (app >= 0)
		return ((unsigned)app < s->nmap ? s->map[app] :
		    s->m->h->napps + 2);
	return (app == METRICS_APP_PASSTHROUGH ? s->m->h->napps :
	    s->m->h->napps + 1);
}

/* The bucket a value in microseconds falls in (NBUCKETS: +Inf). */
int
metrics_bucket(uint64_t us)
{
	int	i;

	for (i = 0; i < METRICS_NBUCKETS; i++)
		if (us <= metrics_bounds[i])
			return (i);
	return (METRICS_NBUCKETS);
}

/* The upper bound of bucket i in microseconds (UINT64_MAX: +Inf). */
uint64_t
metrics_bucket_bound(int i)
{
	return (i >= 0 && i < METRICS_NBUCKETS ? metrics_bounds[i] :
	    UINT64_MAX);
}

/* Count a value into a histogram. */
static void
metrics_hist_add(struct metrics_hist_data *hd, uint64_t us)
{
	ADD(&hd->b[metrics_bucket(us)], 1);
	ADD(&hd->sum_us, us);
}

/* The end for a name as the access log writes it. */
enum metrics_end
metrics_end_parse(const char *name)
{
	int	i;

	if (name == NULL)
		return (METRICS_END_UNKNOWN);
	for (i = 0; i < METRICS_END_N; i++)
		if (strcmp(name, metrics_end_names[i]) == 0)
			return ((enum metrics_end)i);
	if (strcmp(name, "proxy_overloaded") == 0)
		return (METRICS_END_OVERLOADED);
	if (strcmp(name, "shutting_down") == 0)
		return (METRICS_END_SHUTDOWN);
	if (strcmp(name, "limit_requests") == 0 ||
	    strcmp(name, "limit_streams") == 0)
		return (METRICS_END_RATE_LIMITED);
	if (strcmp(name, "bad_key") == 0)
		return (METRICS_END_INVALID_API_KEY);
	if (strcmp(name, "model_not_allowed") == 0)
		return (METRICS_END_MODEL_NOT_FOUND);
	return (METRICS_END_ERROR);
}

/* The label value of an end. */
const char *
metrics_end_name(enum metrics_end e)
{
	return (e < METRICS_END_N ? metrics_end_names[e] : "unknown");
}

/* The label value of a route. */
const char *
metrics_route_name(enum metrics_route r)
{
	return (r < METRICS_ROUTE_N ? metrics_route_names[r] : "none");
}

/* Pack the labels of a request into a table key. */
static uint32_t
metrics_req_key(unsigned route, unsigned app, int status, unsigned end)
{
	if (status < 100 || status > 999)
		status = 0;
	return (METRICS_KEY_USED | (route & 0xf) << 27 | (end & 0x1f) << 22 |
	    ((unsigned)status & 0x3ff) << 12 | (app & 0xfff));
}

/* One request ended: count it, and its duration. */
void
metrics_request(struct metrics_slot *s, enum metrics_route route, int app,
    int status, enum metrics_end end, uint64_t duration_us)
{
	struct metrics_req_entry	*e;
	unsigned			 a, i, h;
	uint32_t			 key, k;

	if (s == NULL)
		return;
	if (route >= METRICS_ROUTE_N)
		route = METRICS_ROUTE_NONE;
	if (end >= METRICS_END_N)
		end = METRICS_END_UNKNOWN;
	a = metrics_app_label(s, app);
	metrics_hist_add(&s->apps[a].duration[route], duration_us);
	key = metrics_req_key(route, a, status, end);
	h = (key * 2654435761U) >> 23;		/* 9 bits: 512 entries */
	for (i = 0; i < METRICS_REQ_ENTRIES; i++) {
		e = &s->d->req[(h + i) & (METRICS_REQ_ENTRIES - 1)];
		k = LOAD(&e->key);
		if (k == key) {
			ADD(&e->count, 1);
			return;
		}
		if (k == 0) {
			STORE(&e->count, 1);
			__atomic_store_n(&e->key, key, __ATOMIC_RELEASE);
			return;
		}
	}
	ADD(&s->d->dropped, 1);
}

/* Observe a time to first token or an inter-token gap. */
void
metrics_observe(struct metrics_slot *s, enum metrics_hist kind, int app,
    uint64_t us)
{
	struct metrics_app_data	*ad;

	if (s == NULL)
		return;
	ad = &s->apps[metrics_app_label(s, app)];
	if (kind == METRICS_HIST_TTFT)
		metrics_hist_add(&ad->ttft, us);
	else if (kind == METRICS_HIST_GAP)
		metrics_hist_add(&ad->gap, us);
	else
		metrics_hist_add(&ad->duration[METRICS_ROUTE_CHAT], us);
}

/* Tokens Dify reported for an answer. */
void
metrics_tokens(struct metrics_slot *s, int app, uint64_t prompt,
    uint64_t completion)
{
	struct metrics_app_data	*ad;

	if (s == NULL)
		return;
	ad = &s->apps[metrics_app_label(s, app)];
	ADD(&ad->tokens[0], prompt);
	ADD(&ad->tokens[1], completion);
}

/* A stream opened (+1) or ended (-1). */
void
metrics_streams(struct metrics_slot *s, int delta)
{
	if (s != NULL)
		ADD(&s->d->streams, delta);
}

/* Upstream connections moved between idle and busy (deltas). */
void
metrics_upstream_conns(struct metrics_slot *s, int didle, int dbusy)
{
	if (s == NULL)
		return;
	ADD(&s->d->up_idle, didle);
	ADD(&s->d->up_busy, dbusy);
}

/* A new connection to Dify was made. */
void
metrics_upstream_opened(struct metrics_slot *s)
{
	if (s != NULL)
		ADD(&s->d->up_opened, 1);
}

/* A TLS connection to Dify finished its handshake (resumed or full). */
void
metrics_upstream_tls(struct metrics_slot *s, int resumed)
{
	if (s != NULL)
		ADD(resumed ? &s->d->tls_resumed : &s->d->tls_full, 1);
}

/* A call could not reach Dify (connect, DNS, TLS, no descriptors). */
void
metrics_upstream_failed(struct metrics_slot *s)
{
	if (s != NULL)
		ADD(&s->d->up_failed, 1);
}

/* A stop call went to Dify. */
void
metrics_stop_call(struct metrics_slot *s)
{
	if (s != NULL)
		ADD(&s->d->stop_calls, 1);
}

/* Dify's reading paused for a slow client. */
void
metrics_pause(struct metrics_slot *s)
{
	if (s != NULL)
		ADD(&s->d->pauses, 1);
}

/* A rate limit refused a request of app (see METRICS_APP_*). */
void
metrics_rate_limited(struct metrics_slot *s, int app, enum metrics_limit kind)
{
	if (s == NULL || kind >= METRICS_LIMIT_N)
		return;
	ADD(&s->apps[metrics_app_label(s, app)].limited[kind], 1);
}

/* This worker's Redis connection for use is up (1) or down (0). */
void
metrics_redis(struct metrics_slot *s, enum metrics_redis_use use, int up)
{
	if (s != NULL && use < METRICS_REDIS_N)
		STORE(&s->d->redis[use], up ? 2 : 1);
}

/* ---- rendering ---- */

/* Append a label value, escaped as the text format wants. */
static void
metrics_add_label(struct buf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			buf_add_str(b, "\\\\");
		else if (*v == '"')
			buf_add_str(b, "\\\"");
		else if (*v == '\n')
			buf_add_str(b, "\\n");
		else
			buf_add_char(b, *v);
	}
}

/* The app label's value for label index a. */
static const char *
metrics_app_name(const struct metrics *m, unsigned a)
{
	if (a < m->h->napps)
		return (m->h->names[a]);
	if (a == m->h->napps)
		return ("passthrough");
	if (a == m->h->napps + 1)
		return ("none");
	return ("other");
}

/* # HELP and # TYPE lines. */
static void
metrics_head(struct buf *b, const char *name, const char *type,
    const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Append seconds from microseconds, exactly. */
static void
metrics_add_seconds(struct buf *b, uint64_t us)
{
	buf_printf(b, "%llu.%06llu", (unsigned long long)(us / 1000000),
	    (unsigned long long)(us % 1000000));
}

/* Sum one histogram over every slot. */
static void
metrics_hist_sum(struct metrics *m, size_t off, struct metrics_hist_data *out)
{
	const struct metrics_hist_data	*hd;
	unsigned			 i;
	int				 j;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < m->h->nslots; i++) {
		hd = (const struct metrics_hist_data *)((char *)
		    metrics_slot_at(m, i) + off);
		out->sum_us += LOAD(&hd->sum_us);
		for (j = 0; j <= METRICS_NBUCKETS; j++)
			out->b[j] += LOAD(&hd->b[j]);
	}
}

/*
 * Emit one histogram series with labels (already escaped, "" for none),
 * unless it has never counted anything.
 */
static void
metrics_hist_emit(struct buf *b, const char *name, const char *labels,
    const struct metrics_hist_data *hd)
{
	uint64_t	cum = 0;
	int		j;

	for (j = 0; j <= METRICS_NBUCKETS; j++)
		cum += hd->b[j];
	if (cum == 0)
		return;
	cum = 0;
	for (j = 0; j <= METRICS_NBUCKETS; j++) {
		cum += hd->b[j];
		buf_printf(b, "%s_bucket{%s%sle=\"", name, labels,
		    labels[0] != '\0' ? "," : "");
		if (j == METRICS_NBUCKETS)
			buf_add_str(b, "+Inf");
		else
			metrics_add_seconds(b, metrics_bounds[j]);
		buf_printf(b, "\"} %llu\n", (unsigned long long)cum);
	}
	buf_printf(b, "%s_sum%s%s%s ", name, labels[0] != '\0' ? "{" : "",
	    labels, labels[0] != '\0' ? "}" : "");
	metrics_add_seconds(b, hd->sum_us);
	buf_printf(b, "\n%s_count%s%s%s %llu\n", name,
	    labels[0] != '\0' ? "{" : "", labels,
	    labels[0] != '\0' ? "}" : "", (unsigned long long)cum);
}

/* Offset of a field of app a's data within a slot. */
static size_t
metrics_app_off(unsigned a, size_t field)
{
	return (sizeof(struct metrics_slot_data) +
	    a * sizeof(struct metrics_app_data) + field);
}

/* Sum a counter of the fixed part over every slot. */
static uint64_t
metrics_sum(struct metrics *m, size_t off, int live_only)
{
	struct metrics_slot_data	*d;
	uint64_t			 sum = 0;
	int32_t				 pid;
	unsigned			 i;

	for (i = 0; i < m->h->nslots; i++) {
		d = metrics_slot_at(m, i);
		if (live_only && ((pid = LOAD(&d->pid)) == 0 || !m->alive(pid)))
			continue;
		sum += LOAD((uint64_t *)((char *)d + off));
	}
	return (sum);
}

/* qsort: request table entries by key. */
static int
metrics_entry_cmp(const void *a, const void *b)
{
	uint32_t	x = ((const struct metrics_req_entry *)a)->key;
	uint32_t	y = ((const struct metrics_req_entry *)b)->key;

	return (x < y ? -1 : x > y);
}

/* odp_requests_total: the tables of every slot, merged. */
static void
metrics_render_requests(struct metrics *m, struct buf *b)
{
	struct metrics_req_entry	*all, *e;
	struct metrics_slot_data	*d;
	size_t				 n = 0, i, j;
	unsigned			 s;
	uint32_t			 k;
	uint64_t			 count;

	all = xcalloc((size_t)m->h->nslots * METRICS_REQ_ENTRIES,
	    sizeof(*all));
	for (s = 0; s < m->h->nslots; s++) {
		d = metrics_slot_at(m, s);
		for (i = 0; i < METRICS_REQ_ENTRIES; i++) {
			e = &d->req[i];
			if ((k = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE)) ==
			    0)
				continue;
			all[n].key = k;
			all[n++].count = LOAD(&e->count);
		}
	}
	qsort(all, n, sizeof(*all), metrics_entry_cmp);
	metrics_head(b, "odp_requests_total", "counter",
	    "Requests answered, by route, app, HTTP status and how they "
	    "ended.");
	for (i = 0; i < n; i = j) {
		k = all[i].key;
		for (count = 0, j = i; j < n && all[j].key == k; j++)
			count += all[j].count;
		buf_printf(b, "odp_requests_total{route=\"%s\",app=\"",
		    metrics_route_name((k >> 27) & 0xf));
		metrics_add_label(b, metrics_app_name(m, k & 0xfff));
		buf_printf(b, "\",status=\"%u\",end=\"%s\"} %llu\n",
		    (k >> 12) & 0x3ff, metrics_end_name((k >> 22) & 0x1f),
		    (unsigned long long)count);
	}
	free(all);
}

/* Labels route and app into out (escaped). */
static void
metrics_labels(struct buf *out, const struct metrics *m, int route,
    unsigned a)
{
	buf_reset(out);
	if (route >= 0)
		buf_printf(out, "route=\"%s\",", metrics_route_name(route));
	buf_add_str(out, "app=\"");
	metrics_add_label(out, metrics_app_name(m, a));
	buf_add_char(out, '"');
}

/* The histograms, per app (and route for durations). */
static void
metrics_render_hists(struct metrics *m, struct buf *b)
{
	static const struct {
		const char	*name;
		const char	*help;
		size_t		 field;
	} kinds[] = {
		{ "odp_time_to_first_token_seconds", "Time from the request "
		    "to the first content sent, per app.",
		    offsetof(struct metrics_app_data, ttft) },
		{ "odp_inter_token_gap_seconds", "Time between successive "
		    "deliveries of content from Dify, per app.",
		    offsetof(struct metrics_app_data, gap) },
	};
	struct metrics_hist_data	 hd;
	struct buf			 labels = BUF_INIT;
	unsigned			 a, k;
	int				 r;

	metrics_head(b, "odp_request_duration_seconds", "histogram",
	    "Time from the request to its end, by route and app.");
	for (r = 0; r < METRICS_ROUTE_N; r++) {
		for (a = 0; a < m->h->nlabels; a++) {
			metrics_hist_sum(m, metrics_app_off(a,
			    offsetof(struct metrics_app_data, duration) +
			    (size_t)r * sizeof(struct metrics_hist_data)), &hd);
			metrics_labels(&labels, m, r, a);
			metrics_hist_emit(b, "odp_request_duration_seconds",
			    buf_cstr(&labels), &hd);
		}
	}
	for (k = 0; k < nitems(kinds); k++) {
		metrics_head(b, kinds[k].name, "histogram", kinds[k].help);
		for (a = 0; a < m->h->nlabels; a++) {
			metrics_hist_sum(m, metrics_app_off(a, kinds[k].field),
			    &hd);
			metrics_labels(&labels, m, -1, a);
			metrics_hist_emit(b, kinds[k].name, buf_cstr(&labels),
			    &hd);
		}
	}
	buf_free(&labels);
}

/* Tokens and rate-limit refusals, per app. */
static void
metrics_render_apps(struct metrics *m, struct buf *b)
{
	static const char *const dirs[] = { "prompt", "completion" };
	static const char *const limits[] = { "requests", "streams" };
	uint64_t	 v;
	unsigned	 a, i;

	metrics_head(b, "odp_tokens_total", "counter",
	    "Tokens Dify reported using, per app and direction.");
	for (a = 0; a < m->h->nlabels; a++) {
		for (i = 0; i < 2; i++) {
			v = metrics_sum(m, metrics_app_off(a,
			    offsetof(struct metrics_app_data, tokens) +
			    i * sizeof(uint64_t)), 0);
			if (v == 0 && a >= m->h->napps)
				continue;
			buf_add_str(b, "odp_tokens_total{app=\"");
			metrics_add_label(b, metrics_app_name(m, a));
			buf_printf(b, "\",direction=\"%s\"} %llu\n", dirs[i],
			    (unsigned long long)v);
		}
	}
	metrics_head(b, "odp_rate_limited_total", "counter",
	    "Requests the proxy's rate limits refused, per app and limit.");
	for (a = 0; a < m->h->nlabels; a++) {
		for (i = 0; i < METRICS_LIMIT_N; i++) {
			v = metrics_sum(m, metrics_app_off(a,
			    offsetof(struct metrics_app_data, limited) +
			    i * sizeof(uint64_t)), 0);
			if (v == 0 && a >= m->h->napps)
				continue;
			buf_add_str(b, "odp_rate_limited_total{app=\"");
			metrics_add_label(b, metrics_app_name(m, a));
			buf_printf(b, "\",limit=\"%s\"} %llu\n", limits[i],
			    (unsigned long long)v);
		}
	}
}

/* odp_redis_up: 1 if every live worker using Redis for it is connected. */
static void
metrics_render_redis(struct metrics *m, struct buf *b)
{
	static const char *const uses[] = { "conversations", "limits" };
	struct metrics_slot_data	*d;
	int32_t				 pid, st;
	unsigned			 i, u;
	int				 used, up, headed = 0;

	for (u = 0; u < METRICS_REDIS_N; u++) {
		used = 0;
		up = 1;
		for (i = 0; i < m->h->nslots; i++) {
			d = metrics_slot_at(m, i);
			if ((pid = LOAD(&d->pid)) == 0 || !m->alive(pid) ||
			    (st = LOAD(&d->redis[u])) == 0)
				continue;
			used = 1;
			up &= st == 2;
		}
		if (!used)
			continue;
		if (!headed++)
			metrics_head(b, "odp_redis_up", "gauge", "1 if every "
			    "worker's connection to Redis for this use is up.");
		buf_printf(b, "odp_redis_up{use=\"%s\"} %d\n", uses[u], up);
	}
}

/* A counter or gauge without labels. */
static void
metrics_simple(struct buf *b, const char *name, const char *type,
    const char *help, long long v)
{
	metrics_head(b, name, type, help);
	buf_printf(b, "%s %lld\n", name, v);
}

/* Render every metric, summed over the slots, as Prometheus text 0.0.4. */
void
metrics_render(struct metrics *m, const struct metrics_info *info,
    struct buf *b)
{
#define FIXED(f)	offsetof(struct metrics_slot_data, f)
	metrics_head(b, "odp_build_info", "gauge",
	    "The proxy's version and the libraries it runs with.");
	buf_add_str(b, "odp_build_info{version=\"");
	metrics_add_label(b, info->version);
	buf_add_str(b, "\",libevent=\"");
	metrics_add_label(b, info->libevent);
	buf_add_str(b, "\",openssl=\"");
	metrics_add_label(b, info->openssl);
	buf_add_str(b, "\"} 1\n");
	metrics_simple(b, "odp_process_start_time_seconds", "gauge",
	    "Start time of the instance, in seconds since the epoch.",
	    (long long)m->h->started);
	metrics_render_requests(m, b);
	metrics_render_hists(m, b);
	metrics_render_apps(m, b);
	metrics_simple(b, "odp_open_streams", "gauge",
	    "Streaming chat completions in flight.",
	    (long long)(int64_t)metrics_sum(m, FIXED(streams), 1));
	metrics_head(b, "odp_upstream_connections", "gauge",
	    "Connections to Dify, idle in the pool or busy with a call.");
	buf_printf(b, "odp_upstream_connections{state=\"idle\"} %lld\n"
	    "odp_upstream_connections{state=\"busy\"} %lld\n",
	    (long long)(int64_t)metrics_sum(m, FIXED(up_idle), 1),
	    (long long)(int64_t)metrics_sum(m, FIXED(up_busy), 1));
	metrics_simple(b, "odp_upstream_connections_opened_total", "counter",
	    "Connections to Dify made.",
	    (long long)metrics_sum(m, FIXED(up_opened), 0));
	metrics_head(b, "odp_upstream_tls_handshakes_total", "counter",
	    "TLS handshakes with Dify, by whether they resumed a session.");
	buf_printf(b, "odp_upstream_tls_handshakes_total{resumed=\"false\"} "
	    "%lld\nodp_upstream_tls_handshakes_total{resumed=\"true\"} "
	    "%lld\n", (long long)metrics_sum(m, FIXED(tls_full), 0),
	    (long long)metrics_sum(m, FIXED(tls_resumed), 0));
	metrics_simple(b, "odp_upstream_connect_failures_total", "counter",
	    "Calls that could not reach Dify (connect, DNS, TLS, no "
	    "descriptors).", (long long)metrics_sum(m, FIXED(up_failed), 0));
	metrics_simple(b, "odp_stop_calls_total", "counter",
	    "Stop calls sent to Dify for tasks whose client left.",
	    (long long)metrics_sum(m, FIXED(stop_calls), 0));
	metrics_simple(b, "odp_backpressure_pauses_total", "counter",
	    "Times reading Dify paused because a client read slowly.",
	    (long long)metrics_sum(m, FIXED(pauses), 0));
	metrics_render_redis(m, b);
	metrics_simple(b, "odp_metrics_dropped_total", "counter",
	    "Requests not in odp_requests_total: a worker's table of label "
	    "sets was full.", (long long)metrics_sum(m, FIXED(dropped), 0));
#undef FIXED
}
