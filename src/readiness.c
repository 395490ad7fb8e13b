/*
 * readiness: whether Dify answered this worker recently.
 *
 * With ready_probe_interval set, each worker asks its Dify a light
 * question every interval: GET /parameters with a key no app has, which
 * Dify answers 401 from its auth layer without touching an app or a
 * model.  Any HTTP answer means Dify is reachable (an error status is
 * Dify's to give); a connect failure, a TLS failure or no answer within
 * connect_timeout is not.  GET /readyz is 503 until the first answer and
 * once no answer came for three intervals, so a balancer sends no
 * traffic to an instance that cannot reach Dify, while /healthz stays
 * 200 (the process is alive; restarting it would not help).
 *
 * The probe is one call at a time, owned here: readiness_free cancels a
 * call in flight (it runs when the worker starts to drain, so a probe
 * never holds a drain up).
 */
#include <stdlib.h>

#include <event2/event.h>
#include <event2/http.h>

#include "log.h"
#include "readiness.h"
#include "upstream.h"
#include "util.h"

struct readiness {
	struct event_base	*base;
	struct upstream		*up;		/* not owned */
	unsigned		 interval_ms;
	struct event		*timer;
	struct upstream_call	*call;		/* in flight, or NULL */
	int			 status;	/* of the call in flight */
	uint64_t		 last_ok;	/* usec; 0: never */
	int			 failing;	/* logged as such */
};

/* The probe's status line: Dify answered. */
static void
readiness_response(void *arg, int status, struct evkeyvalq *h UNUSED)
{
	struct readiness	*r = arg;

	r->status = status;
}

/* The probe's body is not needed. */
static void
readiness_data(void *arg UNUSED, const char *data UNUSED, size_t len UNUSED)
{
}

/* The probe ended: an answer, or why none came. */
static void
readiness_done(void *arg, enum upstream_result result, const char *detail)
{
	struct readiness	*r = arg;
	struct timeval		 tv;

	r->call = NULL;
	if (result == UPSTREAM_OK && r->status > 0) {
		r->last_ok = util_now_usec();
		if (r->failing)
			log_info("readiness: Dify answers again");
		r->failing = 0;
	} else if (!r->failing) {
		log_warn("readiness: Dify did not answer the probe (%s %s); "
		    "/readyz turns 503 if it stays so", upstream_result_name(
		    result), detail != NULL ? detail : "");
		r->failing = 1;
	}
	tv.tv_sec = r->interval_ms / 1000;
	tv.tv_usec = (r->interval_ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
}

static const struct upstream_handlers readiness_handlers = {
	readiness_response,
	readiness_data,
	readiness_done,
};

/* The timer: send the next probe. */
static void
readiness_probe(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct readiness	*r = arg;
	struct upstream_request	 ur = { 0 };

	ur.method = EVHTTP_REQ_GET;
	ur.path = "/parameters";
	ur.api_key = "odp-readiness-probe";
	ur.accept = "application/json";
	ur.request_id = "readiness-probe";
	r->status = 0;
	r->call = upstream_call_start(r->up, &ur, &readiness_handlers, r);
}

/*
 * Probe up every interval_ms (0: never; readiness_ok is then always
 * true), the first at once.  NULL when off.
 */
struct readiness *
readiness_new(struct event_base *base, struct upstream *up,
    unsigned interval_ms, unsigned first_ms)
{
	struct readiness	*r;
	struct timeval		 tv;

	if (interval_ms == 0)
		return (NULL);
	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->up = up;
	r->interval_ms = interval_ms;
	r->timer = evtimer_new(base, readiness_probe, r);
	tv.tv_sec = first_ms / 1000;
	tv.tv_usec = (first_ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
	return (r);
}

/* Stop probing (cancels a probe in flight) and free. */
void
readiness_free(struct readiness *r)
{
	if (r == NULL)
		return;
	if (r->call != NULL)
		upstream_call_cancel(r->call);
	event_free(r->timer);
	free(r);
}

/* True if Dify answered within three intervals of now (usec). */
int
readiness_ok(const struct readiness *r, uint64_t now)
{
	if (r == NULL)
		return (1);
	return (r->last_ok != 0 &&
	    now - r->last_ok <= 3ULL * r->interval_ms * 1000);
}
