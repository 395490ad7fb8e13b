/*
 * rate_limit_store: where a worker counts its requests against the
 * limits.
 *
 * Without redis_url, in the instance's shared table (rate_limit.c): every
 * worker of the instance counts together, and an admission answers at
 * once.  With redis_url, in Redis, so every instance behind the balancer
 * counts together: one script (EVAL, atomic in Redis: no
 * read-modify-write race between instances) refills and checks each
 * rule's bucket (a hash: tokens and the time of the last refill, by
 * Redis's own clock), checks each rule's requests at once (a sorted set
 * of members scored by when their lease ends, so an instance that dies
 * holding some frees them when the lease ends), and takes from all of
 * them or from none.  A release removes the request's members.
 *
 * Redis down, or no answer within redis_timeout: the request is counted
 * in the instance's table instead, as if there were no Redis (logged by
 * redis_client.c when the connection goes and comes back).  Limits are
 * then per instance for that while, never absent.
 *
 * Lifetime of a pending admission: it is freed once the caller had its
 * answer, or when the caller cancels it; the verdict and hold it fills
 * in are the caller's and must live until one of the two.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "rate_limit_store.h"
#include "redis_client.h"
#include "util.h"

/* Longest a request at once is counted in Redis without its release. */
#define RATE_LIMIT_STORE_LEASE_MS	(15 * 60 * 1000)
#define RATE_LIMIT_STORE_PREFIX		"odp:rl:"

/*
 * KEYS: per rule, its bucket and its set of requests at once.  ARGV: the
 * number of rules, per rule its rpm and max_streams, then the request's
 * member and the lease in ms.  Returns {refused rule (0: none), kind
 * (1: requests, 2: at once), retry ms, limit, remaining, reset ms} of
 * the tightest bucket, as rate_limit_admit does.
 */
static const char rate_limit_store_script[] =
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"local n = tonumber(ARGV[1])\n"
"local member = ARGV[2 + 2 * n]\n"
"local lease = tonumber(ARGV[3 + 2 * n])\n"
"local refused, kind, retry = 0, 0, 0\n"
"local limit, rem, reset = 0, 0, 0\n"
"local tok = {}\n"
"for i = 1, n do\n"
"  local rpm = tonumber(ARGV[2 * i])\n"
"  local maxs = tonumber(ARGV[2 * i + 1])\n"
"  if rpm > 0 then\n"
"    local v = redis.call('HMGET', KEYS[2 * i - 1], 't', 'n')\n"
"    local last, tk = tonumber(v[1]), tonumber(v[2])\n"
"    if last == nil or tk == nil or now < last then tk = rpm\n"
"    else tk = math.min(rpm, tk + (now - last) * rpm / 60000) end\n"
"    tok[i] = tk\n"
"    if tk < 1 and refused == 0 then\n"
"      refused, kind = i, 1\n"
"      retry = math.ceil((1 - tk) * 60000 / rpm)\n"
"    end\n"
"  end\n"
"  if maxs > 0 and refused == 0 then\n"
"    redis.call('ZREMRANGEBYSCORE', KEYS[2 * i], '-inf', now)\n"
"    if redis.call('ZCARD', KEYS[2 * i]) >= maxs then\n"
"      refused, kind, retry = i, 2, 1000\n"
"    end\n"
"  end\n"
"end\n"
"for i = 1, n do\n"
"  local rpm = tonumber(ARGV[2 * i])\n"
"  local maxs = tonumber(ARGV[2 * i + 1])\n"
"  if rpm > 0 then\n"
"    local tk = tok[i]\n"
"    if refused == 0 then tk = tk - 1 end\n"
"    redis.call('HSET', KEYS[2 * i - 1], 't', now, 'n', tostring(tk))\n"
"    redis.call('PEXPIRE', KEYS[2 * i - 1], 120000)\n"
"    if limit == 0 or math.floor(tk) < rem then\n"
"      limit, rem = rpm, math.floor(tk)\n"
"      reset = math.ceil((rpm - tk) * 60000 / rpm)\n"
"    end\n"
"  end\n"
"  if maxs > 0 and refused == 0 then\n"
"    redis.call('ZADD', KEYS[2 * i], now + lease, member)\n"
"    redis.call('PEXPIRE', KEYS[2 * i], lease)\n"
"  end\n"
"end\n"
"return {refused, kind, retry, limit, rem, reset}\n";

struct rate_limit_store {
	struct rate_limit	*local;		/* the instance's, shared */
	int			 slot;		/* this worker's in it */
	struct redis_client	*redis;		/* NULL: no redis_url */
};

/* An admission Redis is asked about. */
struct rate_limit_pending {
	struct rate_limit_store	*s;
	struct rate_limit_rule	 rules[RATE_LIMIT_RULES];
	size_t			 n;
	struct rate_limit_verdict *verdict;	/* the caller's */
	struct rate_limit_hold	*hold;		/* the caller's */
	rate_limit_store_fn	 fn;
	void			*arg;
	struct redis_call	*call;
};

/*
 * The store of a worker on base: the instance's table (made before the
 * workers, NULL if it could not be), and Redis if cfg names one.
 */
struct rate_limit_store *
rate_limit_store_new(struct event_base *base, const struct config *cfg,
    struct rate_limit *local)
{
	struct rate_limit_store	*s;

	s = xcalloc(1, sizeof(*s));
	s->local = local;
	s->slot = local != NULL ? rate_limit_claim(local, getpid()) : -1;
	if (local != NULL && s->slot == -1)
		log_warn("rate limits: no free worker slot; requests at once "
		    "are not counted for this worker");
	if (cfg->redis_url != NULL)
		s->redis = redis_client_new(base, &cfg->redis,
		    cfg->redis_timeout_ms,
		    "rate limits count on this instance only",
		    "rate limits are shared again");
	return (s);
}

/* Free the worker's store (the shared table stays). */
void
rate_limit_store_free(struct rate_limit_store *s)
{
	if (s == NULL)
		return;
	redis_client_free(s->redis);
	free(s);
}

/* redis_client: the connection came up or went; tell the metrics. */
static void
rate_limit_store_state(void *arg, int up)
{
	metrics_redis(arg, METRICS_REDIS_LIMITS, up);
}

/* Report Redis's state (when limits use it) to a worker's metrics. */
void
rate_limit_store_set_metrics(struct rate_limit_store *s,
    struct metrics_slot *ms)
{
	if (s == NULL || s->redis == NULL)
		return;
	redis_client_on_state(s->redis, rate_limit_store_state, ms);
	metrics_redis(ms, METRICS_REDIS_LIMITS, redis_client_up(s->redis));
}

/* Count in the instance's table (no table: admit, uncounted). */
static void
rate_limit_store_local(struct rate_limit_store *s,
    const struct rate_limit_rule *rules, size_t n,
    struct rate_limit_verdict *v, struct rate_limit_hold *hold)
{
	memset(hold, 0, sizeof(*hold));
	if (s->local == NULL) {
		memset(v, 0, sizeof(*v));
		v->allowed = 1;
		v->rule = -1;
		hold->lease.slot = -1;
		return;
	}
	rate_limit_admit(s->local, s->slot, rules, n, util_now_usec() / 1000,
	    v, &hold->lease);
}

/* An integer element of the script's reply array. */
static long long
rate_limit_store_int(const struct redisReply *rep, size_t i)
{
	return (i < rep->elements && rep->element[i]->type ==
	    REDIS_REPLY_INTEGER ? rep->element[i]->integer : 0);
}

/* redis_client: the script's answer (NULL: none in time, or link gone). */
static void
rate_limit_store_answered(void *arg, const struct redisReply *rep)
{
	struct rate_limit_pending	*p = arg;
	struct rate_limit_verdict	*v = p->verdict;
	struct rate_limit_hold		*hold = p->hold;
	long long			 refused;
	size_t				 i;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
	    rep->elements != 6) {
		rate_limit_store_local(p->s, p->rules, p->n, v, hold);
	} else {
		memset(v, 0, sizeof(*v));
		refused = rate_limit_store_int(rep, 0);
		v->allowed = refused == 0;
		v->rule = refused > 0 && (size_t)refused <= p->n ?
		    (int)refused - 1 : -1;
		v->kind = !v->allowed ? (rate_limit_store_int(rep, 1) == 2 ?
		    RATE_LIMIT_STREAMS : RATE_LIMIT_REQUESTS) : RATE_LIMIT_NONE;
		v->retry_ms = (uint64_t)rate_limit_store_int(rep, 2);
		v->limit = (unsigned)rate_limit_store_int(rep, 3);
		v->remaining = (unsigned)rate_limit_store_int(rep, 4);
		v->reset_ms = (uint64_t)rate_limit_store_int(rep, 5);
		if (!v->allowed)
			hold->nkeys = 0;
		hold->in_redis = v->allowed && hold->nkeys > 0;
		for (i = 0; !v->allowed && i < RATE_LIMIT_RULES; i++)
			hold->keys[i][0] = '\0';
	}
	p->fn(p->arg);
	free(p);
}

/*
 * Ask Redis: the script over the rules' keys.  Returns 0 with *out set,
 * or -1 if Redis cannot be asked now.
 */
static int
rate_limit_store_ask(struct rate_limit_store *s,
    const struct rate_limit_rule *rules, size_t n,
    struct rate_limit_verdict *v, struct rate_limit_hold *hold,
    rate_limit_store_fn fn, void *arg, struct rate_limit_pending **out)
{
	struct rate_limit_pending	*p;
	const char			*argv[3 + 2 * RATE_LIMIT_RULES + 1 +
					    2 * RATE_LIMIT_RULES + 2];
	size_t				 argvlen[nitems(argv)];
	char				 bucket[RATE_LIMIT_RULES][
					    RATE_LIMIT_MAX_ID + 16];
	char				 nums[2 * RATE_LIMIT_RULES + 3][24];
	int				 argc = 0, k = 0;
	size_t				 i;

	if (s->redis == NULL || !redis_client_up(s->redis))
		return (-1);
	memset(hold, 0, sizeof(*hold));
	hold->lease.slot = -1;
	util_random_alnum(hold->member, sizeof(hold->member) - 1);
	hold->member[sizeof(hold->member) - 1] = '\0';
	argv[argc++] = "EVAL";
	argv[argc++] = rate_limit_store_script;
	snprintf(nums[k], sizeof(nums[k]), "%zu", 2 * n);
	argv[argc++] = nums[k++];
	for (i = 0; i < n; i++) {
		snprintf(bucket[i], sizeof(bucket[i]), "%s%s:rpm",
		    RATE_LIMIT_STORE_PREFIX, rules[i].id);
		snprintf(hold->keys[i], sizeof(hold->keys[i]), "%s%s:at_once",
		    RATE_LIMIT_STORE_PREFIX, rules[i].id);
		argv[argc++] = bucket[i];
		argv[argc++] = hold->keys[i];
		if (rules[i].max_streams == 0)
			hold->keys[i][0] = '\0';	/* nothing to release */
		else
			hold->nkeys++;
	}
	snprintf(nums[k], sizeof(nums[k]), "%zu", n);
	argv[argc++] = nums[k++];
	for (i = 0; i < n; i++) {
		snprintf(nums[k], sizeof(nums[k]), "%u", rules[i].rpm);
		argv[argc++] = nums[k++];
		snprintf(nums[k], sizeof(nums[k]), "%u", rules[i].max_streams);
		argv[argc++] = nums[k++];
	}
	argv[argc++] = hold->member;
	snprintf(nums[k], sizeof(nums[k]), "%d", RATE_LIMIT_STORE_LEASE_MS);
	argv[argc++] = nums[k++];
	/* A rule without max_streams got an empty key: give its name. */
	for (i = 0; i < (size_t)argc; i++)
		argvlen[i] = strlen(argv[i]);
	for (i = 0; i < n; i++) {
		if (hold->keys[i][0] == '\0') {
			argv[4 + 2 * i] = bucket[i];	/* unused by the script */
			argvlen[4 + 2 * i] = strlen(bucket[i]);
		}
	}
	p = xcalloc(1, sizeof(*p));
	p->s = s;
	memcpy(p->rules, rules, n * sizeof(*rules));
	p->n = n;
	p->verdict = v;
	p->hold = hold;
	p->fn = fn;
	p->arg = arg;
	if (redis_client_call(s->redis, "the rate-limit script", argc, argv,
	    argvlen, rate_limit_store_answered, p, &p->call) != 0) {
		free(p);
		return (-1);
	}
	*out = p;
	return (0);
}

/*
 * Admit a request under n rules.  DONE: v and hold are filled in.
 * PENDING: fn(arg) follows once they are, unless *out is cancelled
 * first.
 */
enum rate_limit_store_admit
rate_limit_store_admit(struct rate_limit_store *s,
    const struct rate_limit_rule *rules, size_t n,
    struct rate_limit_verdict *v, struct rate_limit_hold *hold,
    rate_limit_store_fn fn, void *arg, struct rate_limit_pending **out)
{
	if (n > RATE_LIMIT_RULES)
		n = RATE_LIMIT_RULES;
	if (rate_limit_store_ask(s, rules, n, v, hold, fn, arg, out) == 0)
		return (RATE_LIMIT_STORE_PENDING);
	rate_limit_store_local(s, rules, n, v, hold);
	return (RATE_LIMIT_STORE_DONE);
}

/* Give back what an admitted request holds (once). */
void
rate_limit_store_release(struct rate_limit_store *s,
    struct rate_limit_hold *hold)
{
	const char	*argv[3];
	size_t		 argvlen[3];
	int		 i;

	if (hold->in_redis) {
		for (i = 0; i < RATE_LIMIT_RULES; i++) {
			if (hold->keys[i][0] == '\0')
				continue;
			argv[0] = "ZREM";
			argv[1] = hold->keys[i];
			argv[2] = hold->member;
			argvlen[0] = 4;
			argvlen[1] = strlen(argv[1]);
			argvlen[2] = strlen(argv[2]);
			/* Down meanwhile: the lease ends it. */
			if (s->redis != NULL)
				redis_client_send(s->redis, 3, argv, argvlen);
			hold->keys[i][0] = '\0';
		}
		hold->in_redis = 0;
		return;
	}
	rate_limit_release(s->local, &hold->lease);
}

/* The caller no longer waits for this admission. */
void
rate_limit_pending_cancel(struct rate_limit_pending *p)
{
	redis_client_cancel(p->call);
	free(p);
}
