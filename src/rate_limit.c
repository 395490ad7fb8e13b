/*
 * rate_limit: requests a minute and requests at once, per proxy key and
 * per app, for every worker of an instance.
 *
 * Requests a minute are a token bucket per rule: it holds up to rpm
 * tokens, refills at rpm a minute (so a quiet key may burst to its whole
 * minute, then goes at the steady rate), and each request takes one.
 * Requests at once are counted per rule and per worker: a request holds
 * its count (the lease) until its exchange ends, whether it streams or
 * not.  A request is admitted only if every rule it falls under (its key
 * and its app) has a token and a free place, and then takes from all of
 * them at once, under one lock: nothing is taken for a refused request.
 *
 * The table lives in a shared zone made before the workers are forked.
 * Entries are found by their id ("key:NAME", "app:MODEL") with open
 * addressing and never removed (there are as many as configured keys and
 * apps, reloads included), so a lease keeps the index it was given; a
 * full table admits what it cannot count, once logged by the caller.
 * The limits themselves are passed in with every call, from the worker's
 * config: a reload changes them at once, the counts carry on.
 *
 * Workers claim a slot of the table by pid.  A slot whose worker is gone
 * (killed, crashed) is taken over by the next worker to start, and its
 * counts of requests at once are zeroed then: a dead worker's requests
 * do not hold places for ever.  A worker that dies holding the lock
 * leaves the buckets as they were (each update is a few stores), and the
 * counts are rebuilt as above.
 *
 * Time is passed in, in milliseconds of a clock the processes share
 * (CLOCK_MONOTONIC).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "rate_limit.h"
#include "shared_zone.h"

struct rate_limit_entry {
	uint64_t	 hash;		/* 0: unused */
	char		 id[RATE_LIMIT_MAX_ID];
	double		 tokens;
	uint64_t	 last_ms;	/* of the last refill; 0: full */
	uint32_t	 streams[RATE_LIMIT_WORKERS];
};

struct rate_limit {
	pthread_mutex_t		 lock;
	size_t			 bytes;
	uint32_t		 capacity;	/* a power of two */
	uint32_t		 used;
	pid_t			 workers[RATE_LIMIT_WORKERS];
	struct rate_limit_entry	 entries[];
};

/* FNV-1a of an id, never 0 (ids come from the config, not clients). */
static uint64_t
rate_limit_hash(const char *id)
{
	uint64_t	h = 14695981039346656037ULL;

	for (; *id != '\0'; id++) {
		h ^= (unsigned char)*id;
		h *= 1099511628211ULL;
	}
	return (h != 0 ? h : 1);
}

/*
 * A table for at least capacity rules in a shared zone, to be inherited
 * by forked workers.  NULL if it cannot be made.
 */
struct rate_limit *
rate_limit_new(size_t capacity)
{
	struct rate_limit	*rl;
	size_t			 n = 16, bytes;

	while (n < capacity * 2 && n < (1U << 24))
		n <<= 1;
	bytes = sizeof(*rl) + n * sizeof(struct rate_limit_entry);
	if ((rl = shared_zone_map(bytes)) == NULL)
		return (NULL);
	rl->bytes = bytes;
	rl->capacity = (uint32_t)n;
	if (shared_zone_lock_init(&rl->lock) != 0) {
		shared_zone_unmap(rl, bytes);
		return (NULL);
	}
	return (rl);
}

/* Unmap the table in this process. */
void
rate_limit_free(struct rate_limit *rl)
{
	if (rl != NULL)
		shared_zone_unmap(rl, rl->bytes);
}

/*
 * Claim a worker slot for pid: a free one, or one whose process is gone
 * (its requests at once are forgotten).  Returns the slot, or -1 if every
 * slot is held by a live process.
 */
int
rate_limit_claim(struct rate_limit *rl, pid_t pid)
{
	uint32_t	i;
	int		slot = -1, s;

	shared_zone_lock(&rl->lock);
	for (s = 0; s < RATE_LIMIT_WORKERS && slot == -1; s++) {
		if (rl->workers[s] == pid || rl->workers[s] == 0 ||
		    (kill(rl->workers[s], 0) == -1 && errno == ESRCH))
			slot = s;
	}
	if (slot != -1) {
		rl->workers[slot] = pid;
		for (i = 0; i < rl->capacity; i++)
			rl->entries[i].streams[slot] = 0;
	}
	shared_zone_unlock(&rl->lock);
	return (slot);
}

/* The entry of id (index + 1), made if new; 0 when the table is full. */
static uint32_t
rate_limit_entry(struct rate_limit *rl, const char *id)
{
	uint64_t	h = rate_limit_hash(id);
	uint32_t	i, n, mask = rl->capacity - 1;

	for (n = 0, i = (uint32_t)h & mask; n < rl->capacity;
	    n++, i = (i + 1) & mask) {
		if (rl->entries[i].hash == 0) {
			/* Half full at most: probes stay short. */
			if (rl->used >= rl->capacity / 2)
				return (0);
			rl->entries[i].hash = h;
			snprintf(rl->entries[i].id, sizeof(rl->entries[i].id),
			    "%s", id);
			rl->used++;
			return (i + 1);
		}
		if (rl->entries[i].hash == h &&
		    strcmp(rl->entries[i].id, id) == 0)
			return (i + 1);
	}
	return (0);
}

/* Requests at once under an entry, over every worker. */
static unsigned
rate_limit_count(const struct rate_limit_entry *e)
{
	unsigned	n = 0;
	int		s;

	for (s = 0; s < RATE_LIMIT_WORKERS; s++)
		n += e->streams[s];
	return (n);
}

/*
 * A token bucket of rpm a minute, as *tokens at *last_ms (0: full): refill
 * it to now, and if take, take a token if there is one.  Returns 1 if a
 * token was there (and, with take, taken), with what is left, the time
 * until the bucket is full and, without a token, the time until one is.
 * Shared with the Redis script's arithmetic (rate_limit_redis.c).
 */
int
rate_limit_bucket(double *tokens, uint64_t *last_ms, unsigned rpm,
    uint64_t now_ms, int take, unsigned *remaining, uint64_t *reset_ms,
    uint64_t *retry_ms)
{
	double	per_ms = rpm / 60000.0, t;
	int	ok;

	if (*last_ms == 0 || now_ms < *last_ms)
		t = rpm;
	else
		t = *tokens + (double)(now_ms - *last_ms) * per_ms;
	if (t > rpm)
		t = rpm;
	ok = t >= 1.0;
	if (ok && take)
		t -= 1.0;
	*tokens = t;
	*last_ms = now_ms;
	*remaining = (unsigned)floor(t);
	*reset_ms = (uint64_t)ceil((rpm - t) / per_ms);
	*retry_ms = ok ? 0 : (uint64_t)ceil((1.0 - t) / per_ms);
	return (ok);
}

/*
 * Admit a request under n rules (at most RATE_LIMIT_RULES) for the worker
 * in slot, at now_ms.  Fills the verdict; an admitted request's lease says
 * what to release when it ends.
 */
void
rate_limit_admit(struct rate_limit *rl, int slot,
    const struct rate_limit_rule *rules, size_t n, uint64_t now_ms,
    struct rate_limit_verdict *v, struct rate_limit_lease *lease)
{
	struct rate_limit_entry	*e;
	uint32_t		 idx[RATE_LIMIT_RULES];
	double			 tokens;
	uint64_t		 last, reset, retry;
	unsigned		 remaining;
	size_t			 i;

	memset(v, 0, sizeof(*v));
	memset(lease, 0, sizeof(*lease));
	v->allowed = 1;
	v->rule = -1;
	lease->slot = slot;
	if (n > RATE_LIMIT_RULES)
		n = RATE_LIMIT_RULES;
	shared_zone_lock(&rl->lock);
	/* First look: does every rule have a token and a place? */
	for (i = 0; i < n; i++) {
		idx[i] = rate_limit_entry(rl, rules[i].id);
		if (idx[i] == 0)
			continue;	/* full: admitted, not counted */
		e = &rl->entries[idx[i] - 1];
		if (rules[i].rpm > 0) {
			tokens = e->tokens;
			last = e->last_ms;
			if (!rate_limit_bucket(&tokens, &last, rules[i].rpm,
			    now_ms, 0, &remaining, &reset, &retry) &&
			    v->allowed) {
				v->allowed = 0;
				v->kind = RATE_LIMIT_REQUESTS;
				v->rule = (int)i;
				v->retry_ms = retry;
			}
		}
		if (rules[i].max_streams > 0 && v->allowed &&
		    rate_limit_count(e) >= rules[i].max_streams) {
			v->allowed = 0;
			v->kind = RATE_LIMIT_STREAMS;
			v->rule = (int)i;
			v->retry_ms = 1000;
		}
	}
	/* Then take from all, or from none; report the tightest bucket. */
	for (i = 0; i < n; i++) {
		if (idx[i] == 0)
			continue;
		e = &rl->entries[idx[i] - 1];
		if (rules[i].rpm > 0) {
			rate_limit_bucket(&e->tokens, &e->last_ms, rules[i].rpm,
			    now_ms, v->allowed, &remaining, &reset, &retry);
			if (v->limit == 0 || remaining < v->remaining) {
				v->limit = rules[i].rpm;
				v->remaining = remaining;
				v->reset_ms = reset;
			}
		}
		if (v->allowed && slot >= 0 && slot < RATE_LIMIT_WORKERS) {
			e->streams[slot]++;
			lease->entry[i] = idx[i];
		}
	}
	shared_zone_unlock(&rl->lock);
}

/* Give back what an admitted request held (once: the lease is emptied). */
void
rate_limit_release(struct rate_limit *rl, struct rate_limit_lease *lease)
{
	struct rate_limit_entry	*e;
	size_t			 i;

	if (rl == NULL || lease->slot < 0 || lease->slot >= RATE_LIMIT_WORKERS)
		return;
	shared_zone_lock(&rl->lock);
	for (i = 0; i < RATE_LIMIT_RULES; i++) {
		if (lease->entry[i] == 0)
			continue;
		e = &rl->entries[lease->entry[i] - 1];
		if (e->streams[lease->slot] > 0)
			e->streams[lease->slot]--;
		lease->entry[i] = 0;
	}
	shared_zone_unlock(&rl->lock);
}

/* Requests at once under a rule id now (for tests and metrics). */
unsigned
rate_limit_streams(struct rate_limit *rl, const char *id)
{
	uint64_t	h = rate_limit_hash(id);
	uint32_t	i, n, mask = rl->capacity - 1;
	unsigned	count = 0;

	shared_zone_lock(&rl->lock);
	for (n = 0, i = (uint32_t)h & mask; n < rl->capacity &&
	    rl->entries[i].hash != 0; n++, i = (i + 1) & mask) {
		if (rl->entries[i].hash == h &&
		    strcmp(rl->entries[i].id, id) == 0) {
			count = rate_limit_count(&rl->entries[i]);
			break;
		}
	}
	shared_zone_unlock(&rl->lock);
	return (count);
}

/*
 * Write a duration as OpenAI writes x-ratelimit-reset-*: "20ms", "1s",
 * "6m0s", "1h2m3s" (whole seconds above a second, rounded up).
 */
void
rate_limit_reset_text(uint64_t ms, char *out, size_t size)
{
	uint64_t	s;

	if (ms < 1000) {
		snprintf(out, size, "%llums", (unsigned long long)ms);
		return;
	}
	s = (ms + 999) / 1000;
	if (s < 60)
		snprintf(out, size, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(out, size, "%llum%llus", (unsigned long long)(s / 60),
		    (unsigned long long)(s % 60));
	else
		snprintf(out, size, "%lluh%llum%llus",
		    (unsigned long long)(s / 3600),
		    (unsigned long long)(s / 60 % 60),
		    (unsigned long long)(s % 60));
}
