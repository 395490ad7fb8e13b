/*
 * raise_at_start: an LD_PRELOAD shim that sends the proxy a signal at the
 * worst moment of its start: when server_run makes its event base, after
 * the process (a worker, or a single process) exists and before its
 * signal events do.  ODP_TEST_RAISE_AT_START is the signal's number; the
 * shim raises it once per process, then makes the base as libevent
 * would.  A proxy that lets signals in before it handles them dies of it
 * (SIGHUP's default action ends a process).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>

struct event_config;

struct event_config	*event_config_new(void);

/* Raise the signal once, then libevent's event_config_new. */
struct event_config *
event_config_new(void)
{
	static int		  raised;
	struct event_config	*(*real)(void);
	const char		 *sig = getenv("ODP_TEST_RAISE_AT_START");

	if (!raised && sig != NULL && atoi(sig) > 0) {
		raised = 1;
		raise(atoi(sig));
	}
	real = (struct event_config *(*)(void))dlsym(RTLD_NEXT,
	    "event_config_new");
	return (real != NULL ? real() : NULL);
}
