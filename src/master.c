/*
 * master: the process that binds, runs the workers and keeps them running.
 *
 * With workers > 1 the first process becomes the master.  It opens the
 * listening sockets, one per worker slot, each bound to the same address
 * with SO_REUSEPORT (the first resolves port 0), so the kernel spreads
 * connections over them; it keeps them open and forks the workers.
 * Worker i accepts on the slots j with j % n == i (one slot, unless a
 * reload lowered the count) and runs its own event base (server_run), so
 * no worker shares any state with another.  The master says it is
 * listening once every worker accepts.
 *
 * The sockets belong to the master: a worker that closes its copy (a
 * drain, a crash) leaves the socket open and what is queued on it waits
 * for the next worker of that slot, instead of being reset with the
 * socket.  A worker that cannot be restarted at once (it died within a
 * second of starting) has its slots closed, so the kernel sends new
 * connections to the others meanwhile; they are opened again when it
 * restarts.  The metrics listener is one socket every worker accepts on.
 *
 * The master only supervises, in a loop of sigtimedwait(2): SIGTERM and
 * SIGINT go to every worker (they drain; a second one ends them at once),
 * the master closes its copies of the sockets (each closes when its
 * worker's drain_delay is over) and exits 0 when the workers have; a
 * worker that dies otherwise is restarted, at most once a second per
 * slot.
 *
 * SIGHUP reloads.  The master reads the settings again, as at start; if
 * they have errors (each logged as -t prints it) or change what a
 * running instance cannot (the listen addresses), nothing changes.
 * Otherwise it starts a new set of workers with them on the same
 * sockets (more are opened if the new set is larger), and once every
 * new one accepts it sends the old ones SIGTERM: they stop accepting and
 * drain as at a stop, so no running stream is cut and no queued
 * connection is lost.  The old set is only waited for, never restarted.
 * Settings read before the fork (the conversation store) keep their
 * first values until a restart.  Workers ask the kernel for SIGTERM
 * should the master die first.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "master.h"
#include "sd_notify.h"
#include "server.h"
#include "sock.h"
#include "util.h"

#define MASTER_READY_MS		10000	/* workers must be up by then */
#define MASTER_RESTART_USEC	1000000	/* at most one restart a second */
#define MASTER_KILL_GRACE_MS	5000	/* after drain_timeout */

struct master_worker {
	pid_t		 pid;		/* 0: not running */
	uint64_t	 started;	/* monotonic usec */
	uint64_t	 restart_at;	/* 0: none due */
};

/* Workers of an older generation, draining after a reload. */
struct master_old {
	pid_t			*pids;		/* 0: gone */
	int			 n;
};

struct master {
	const struct config	*cfg;
	struct config		*owned;		/* a reloaded cfg, or NULL */
	master_reload_fn	 reload;
	void			*reload_arg;
	struct master_old	 old;
	const struct server_shared *shared;	/* made before the forks */
	struct master_worker	*w;
	int			 n;
	int			 port;		/* the resolved port */
	int			*slots;		/* listening; -1: closed */
	int			 nslots;	/* the largest set's count */
	int			 metrics_port;	/* metrics_listen's, resolved */
	int			 metrics_fd;	/* listening, or -1 */
	pid_t			 pid;		/* the master's own */
	sigset_t		 sigs;		/* handled by sigtimedwait */
	int			 stopping;
	int			 reloading;	/* a new set is starting */
	uint64_t		 kill_at;	/* SIGKILL stragglers then */
};

/*
 * In a new worker: take this worker's slots, serve until told to stop,
 * exit.  ready_fd gets a byte once it accepts.
 */
static void __attribute__((noreturn))
master_child(struct master *m, int i, int ready_fd)
{
	char		 tag[16];
	int		*fds, nfds = 0, j, rc;
	sigset_t	 chld;

	/*
	 * SIGTERM, SIGINT and SIGHUP stay held back until server_run has its
	 * signal events: one that came before would meet the default action
	 * and end the worker instead of draining it (or, for SIGHUP, of
	 * being ignored).  Only SIGCHLD, the master's own, is let in here.
	 */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* Not "== 1": in a container the master itself may be PID 1. */
	if (getppid() != m->pid)
		_exit(1);	/* the master is gone already */
	util_random_reseed();
	snprintf(tag, sizeof(tag), "w%d", i);
	log_set_tag(tag);
	/* Only this worker's: another's slot closes when that one drains. */
	fds = xcalloc((size_t)m->nslots, sizeof(*fds));
	for (j = 0; j < m->nslots; j++) {
		if (m->slots[j] == -1)
			continue;
		if (j % m->n == i)
			fds[nfds++] = m->slots[j];
		else
			close(m->slots[j]);
	}
	rc = server_run(m->cfg, m->shared, fds, (size_t)nfds, m->metrics_fd,
	    ready_fd, i);
	free(fds);
	exit(rc);
}

/*
 * Open the listening sockets that are not open among worker i's slots
 * of the current set (i < 0: every slot), after growing the slots to
 * the set's count.  Slot 0, the first opened, resolves port 0.  Returns
 * 0, or -1 (logged).
 */
static int
master_slots_open(struct master *m, int i)
{
	char	*cause = NULL;
	int	 j, port;

	if (m->n > m->nslots) {
		m->slots = xrealloc(m->slots, (size_t)m->n * sizeof(*m->slots));
		for (j = m->nslots; j < m->n; j++)
			m->slots[j] = -1;
		m->nslots = m->n;
	}
	for (j = 0; j < m->nslots; j++) {
		if (m->slots[j] != -1 || (i >= 0 && j % m->n != i))
			continue;
		port = m->port != 0 ? m->port : m->cfg->port;
		m->slots[j] = sock_listen(m->cfg->host, port, SOCK_REUSEPORT,
		    &m->port, &cause);
		if (m->slots[j] == -1) {
			log_error("%s", cause != NULL ? cause :
			    "cannot listen");
			free(cause);
			return (-1);
		}
	}
	return (0);
}

/* Close slot j's socket, if open. */
static void
master_slot_close(struct master *m, int j)
{
	if (m->slots[j] != -1) {
		close(m->slots[j]);
		m->slots[j] = -1;
	}
}

/* Close the master's copies of every listening socket. */
static void
master_listeners_close(struct master *m)
{
	int	j;

	for (j = 0; j < m->nslots; j++)
		master_slot_close(m, j);
	if (m->metrics_fd != -1) {
		close(m->metrics_fd);
		m->metrics_fd = -1;
	}
}

/* Start worker i; ready_fd (or -1) is passed to it.  Returns 0 or -1. */
static int
master_start(struct master *m, int i, int ready_fd)
{
	pid_t	pid;

	if (master_slots_open(m, i) != 0)
		return (-1);
	if ((pid = fork()) == -1) {
		log_error("fork: %s", strerror(errno));
		return (-1);
	}
	if (pid == 0)
		master_child(m, i, ready_fd);
	m->w[i].pid = pid;
	m->w[i].started = util_now_usec();
	m->w[i].restart_at = 0;
	log_debug("worker %d started, pid %d", i, (int)pid);
	return (0);
}

/* Send a signal to every running worker. */
static void
master_signal_all(struct master *m, int sig)
{
	int	i;

	for (i = 0; i < m->n; i++) {
		if (m->w[i].pid > 0)
			kill(m->w[i].pid, sig);
	}
}

/* Number of running workers. */
static int
master_running(const struct master *m)
{
	int	i, n = 0;

	for (i = 0; i < m->n; i++)
		n += m->w[i].pid > 0;
	return (n);
}

/* Number of older workers still draining. */
static int
master_old_running(const struct master *m)
{
	int	i, n = 0;

	for (i = 0; i < m->old.n; i++)
		n += m->old.pids[i] > 0;
	return (n);
}

/* Send a signal to every older worker still draining. */
static void
master_signal_old(struct master *m, int sig)
{
	int	i;

	for (i = 0; i < m->old.n; i++)
		if (m->old.pids[i] > 0)
			kill(m->old.pids[i], sig);
}

/* Close the slots of worker i of the current set. */
static void
master_slots_close_of(struct master *m, int i)
{
	int	j;

	for (j = i; j < m->nslots; j += m->n)
		master_slot_close(m, j);
}

/* Collect exited workers; schedule restarts for those that died. */
static void
master_reap(struct master *m)
{
	uint64_t	now = util_now_usec(), soonest;
	pid_t		pid;
	int		status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < m->old.n; i++)
			if (m->old.pids[i] == pid)
				m->old.pids[i] = 0;
		for (i = 0; i < m->n && m->w[i].pid != pid; i++)
			;
		if (i == m->n)
			continue;
		m->w[i].pid = 0;
		if (m->stopping)
			continue;
		if (WIFSIGNALED(status))
			log_warn("worker %d (pid %d) killed by signal %d; "
			    "restarting", i, (int)pid, WTERMSIG(status));
		else
			log_warn("worker %d (pid %d) exited with status %d; "
			    "restarting", i, (int)pid, WEXITSTATUS(status));
		soonest = m->w[i].started + MASTER_RESTART_USEC;
		m->w[i].restart_at = soonest > now ? soonest : now;
		/*
		 * Not at once: the others take its connections meanwhile.
		 * (In a reload's start the old set still holds these slots.)
		 */
		if (m->w[i].restart_at > now && !m->reloading)
			master_slots_close_of(m, i);
	}
}

/* Start the workers whose restart is due. */
static void
master_restart_due(struct master *m)
{
	uint64_t	now = util_now_usec();
	int		i;

	for (i = 0; i < m->n; i++) {
		if (m->w[i].pid == 0 && m->w[i].restart_at != 0 &&
		    m->w[i].restart_at <= now)
			master_start(m, i, -1);
	}
}

/* Wait until every worker has written its ready byte.  Returns 0 or -1. */
static int
master_wait_ready(struct master *m, int rfd)
{
	struct pollfd	pfd;
	char		buf[64];
	int		ready = 0, left = MASTER_READY_MS;
	ssize_t		n;

	while (ready < m->n && left > 0) {
		pfd.fd = rfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) == -1 && errno != EINTR)
			return (-1);
		left -= 100;
		if (pfd.revents & POLLIN) {
			n = read(rfd, buf, sizeof(buf));
			if (n > 0)
				ready += (int)n;
		}
		master_reap(m);
		if (master_running(m) < m->n)
			return (-1);	/* one died while starting */
	}
	return (ready >= m->n ? 0 : -1);
}

/* Tell systemd a reload began (RELOADING=1 with the monotonic time). */
static void
master_notify_reloading(void)
{
	struct timespec	ts;
	char		msg[96];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
	sd_notify_send(msg);
}

/* The workers a config asks for (0: one per CPU), at least one. */
static int
master_count(const struct config *cfg)
{
	long	ncpu;
	int	n = (int)cfg->workers;

	if (n == 0 && (ncpu = sysconf(_SC_NPROCESSORS_ONLN)) > 0)
		n = (int)ncpu;
	return (n < 1 ? 1 : n);
}

/* Kill and collect a set of workers that never became ready. */
static void
master_discard(struct master_worker *w, int n)
{
	int	i, status;

	for (i = 0; i < n; i++) {
		if (w[i].pid > 0) {
			kill(w[i].pid, SIGKILL);
			waitpid(w[i].pid, &status, 0);
		}
	}
}

/*
 * Settings that a new set of workers cannot take from a reload: the
 * listen address (the port is bound) and the conversation table's size
 * (made before the first fork).  Returns -1 for a change that refuses
 * the reload.
 */
static int
master_reload_allowed(const struct config *old, const struct config *nc)
{
	if (strcmp(old->host, nc->host) != 0 || old->port != nc->port) {
		log_error("reload: host and port cannot change while running "
		    "(%s:%d to %s:%d); restart for that", old->host, old->port,
		    nc->host, nc->port);
		return (-1);
	}
	if (strcmp(old->metrics_listen, nc->metrics_listen) != 0) {
		log_error("reload: metrics_listen cannot change while running "
		    "(%s to %s); restart for that", old->metrics_listen,
		    nc->metrics_listen);
		return (-1);
	}
	if (old->conversation_max != nc->conversation_max ||
	    old->continuity != nc->continuity)
		log_warn("reload: the conversation table keeps its first size "
		    "and store until a restart");
	return (0);
}

/*
 * SIGHUP: read the settings again; if they are good, start a new set of
 * workers with them and, once all of it accepts, let the old set drain.
 */
static void
master_reload(struct master *m)
{
	struct master_worker	*oldw = m->w;
	const struct config	*oldcfg = m->cfg;
	struct config		*nc;
	int			 oldn = m->n, oldslots = m->nslots, n, i, j;
	int			 pfd[2];

	if (m->reload == NULL) {
		log_info("received SIGHUP: there are no settings to reload");
		return;
	}
	log_info("received SIGHUP: reading the settings again");
	master_notify_reloading();
	nc = xcalloc(1, sizeof(*nc));
	if (m->reload(nc, m->reload_arg) != 0 ||
	    master_reload_allowed(oldcfg, nc) != 0) {
		log_error("reload: refused; the running settings stay");
		goto keep;
	}
	if (pipe(pfd) == -1) {
		log_error("reload: pipe: %s", strerror(errno));
		goto keep;
	}
	n = master_count(nc);
	m->w = xcalloc((size_t)n, sizeof(*m->w));
	m->n = n;
	m->cfg = nc;
	m->reloading = 1;
	for (i = 0; i < n; i++) {
		if (master_start(m, i, pfd[1]) != 0)
			break;
	}
	close(pfd[1]);
	if (i < n || master_wait_ready(m, pfd[0]) != 0) {
		close(pfd[0]);
		log_error("reload: the new workers did not start; the running "
		    "ones stay");
		master_discard(m->w, m->n);
		free(m->w);
		m->w = oldw;
		m->n = oldn;
		m->cfg = oldcfg;
		m->reloading = 0;
		/* Slots opened for the new set: no old worker holds them. */
		for (j = oldslots; j < m->nslots; j++)
			master_slot_close(m, j);
		m->nslots = oldslots;
		goto keep;
	}
	close(pfd[0]);
	m->reloading = 0;

	/* The new set accepts: the old one drains, as at a stop. */
	m->old.pids = xrealloc(m->old.pids, (size_t)(m->old.n + oldn) *
	    sizeof(*m->old.pids));
	for (i = 0; i < oldn; i++) {
		m->old.pids[m->old.n++] = oldw[i].pid;
		if (oldw[i].pid > 0)
			kill(oldw[i].pid, SIGTERM);
	}
	free(oldw);
	if (m->owned != NULL) {
		config_free(m->owned);
		free(m->owned);
	}
	m->owned = nc;
	log_set_level(nc->log_level);
	log_info("reload: %d workers serve the new settings; %d old ones "
	    "drain", n, oldn);
	sd_notify_send("READY=1\nSTATUS=serving (reloaded)");
	return;
keep:
	config_free(nc);
	free(nc);
	sd_notify_send("READY=1");
}

/* Handle one signal the master waited for. */
static void
master_handle(struct master *m, int sig)
{
	uint64_t	grace;

	switch (sig) {
	case SIGCHLD:
		master_reap(m);
		break;
	case SIGTERM:
	case SIGINT:
		if (!m->stopping) {
			log_info("received %s: stopping %d workers",
			    sig == SIGTERM ? "SIGTERM" : "SIGINT", m->n);
			m->stopping = 1;
			sd_notify_send("STOPPING=1\nSTATUS=draining");
			grace = (uint64_t)m->cfg->drain_delay_ms +
			    m->cfg->drain_timeout_ms + MASTER_KILL_GRACE_MS;
			m->kill_at = util_now_usec() + grace * 1000;
			/* Older workers of a reload are draining already. */
			master_signal_all(m, SIGTERM);
			/* Each socket closes with its worker's listener. */
			master_listeners_close(m);
			break;
		}
		/* A second signal: every worker ends at once. */
		master_signal_all(m, SIGTERM);
		master_signal_old(m, SIGTERM);
		break;
	case SIGHUP:
		if (!m->stopping)
			master_reload(m);
		break;
	}
}

/*
 * Run as the master of n workers until they have all stopped after a
 * SIGTERM or SIGINT.  Returns the exit status.
 */
int
master_run(const struct config *cfg, const struct server_shared *shared,
    int n, master_reload_fn reload, void *reload_arg)
{
	struct master	 m;
	struct timespec	 ts = { 0, 200 * 1000 * 1000 };
	char		*cause = NULL, status[64];
	uint64_t	 next_watchdog;
	unsigned	 watchdog_ms;
	int		 pfd[2], i, sig, rc = 0;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.pid = getpid();
	m.shared = shared;
	m.reload = reload;
	m.reload_arg = reload_arg;
	m.n = n;
	m.w = xcalloc((size_t)n, sizeof(*m.w));
	sigemptyset(&m.sigs);
	sigaddset(&m.sigs, SIGCHLD);
	sigaddset(&m.sigs, SIGTERM);
	sigaddset(&m.sigs, SIGINT);
	sigaddset(&m.sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &m.sigs, NULL);

	m.metrics_fd = -1;
	if (master_slots_open(&m, -1) != 0) {
		master_listeners_close(&m);
		free(m.slots);
		free(m.w);
		return (1);
	}
	if (cfg->metrics_mode == CONFIG_METRICS_LISTEN && shared->metrics !=
	    NULL) {
		m.metrics_fd = sock_listen(cfg->metrics_host, cfg->metrics_port,
		    SOCK_REUSEPORT, &m.metrics_port, &cause);
		if (m.metrics_fd == -1) {
			log_error("metrics_listen: %s", cause != NULL ? cause :
			    "cannot listen");
			free(cause);
			master_listeners_close(&m);
			free(m.slots);
			free(m.w);
			return (1);
		}
		log_info("metrics: GET /metrics on %s:%d", cfg->metrics_host,
		    m.metrics_port);
	}
	if (pipe(pfd) == -1) {
		log_error("pipe: %s", strerror(errno));
		master_listeners_close(&m);
		free(m.slots);
		free(m.w);
		return (1);
	}
	for (i = 0; i < n; i++) {
		if (master_start(&m, i, pfd[1]) != 0)
			break;
	}
	close(pfd[1]);
	if (i < n || master_wait_ready(&m, pfd[0]) != 0) {
		log_error("the workers did not start");
		master_handle(&m, SIGTERM);
		rc = 1;
	} else {
		log_info("openai-dify-proxy %s listening on %s:%d, Dify at %s "
		    "(%d workers)", ODP_VERSION, cfg->host, m.port,
		    cfg->dify_api_url, n);
		snprintf(status, sizeof(status), "READY=1\nSTATUS=serving "
		    "with %d workers", n);
		if (sd_notify_send(status) == -1)
			log_warn("NOTIFY_SOCKET is set but cannot be reached");
	}
	close(pfd[0]);
	watchdog_ms = sd_notify_watchdog_ms();
	next_watchdog = util_now_usec();

	while (!m.stopping || master_running(&m) > 0 ||
	    master_old_running(&m) > 0) {
		sig = sigtimedwait(&m.sigs, NULL, &ts);
		if (sig > 0)
			master_handle(&m, sig);
		if (watchdog_ms > 0 && util_now_usec() >= next_watchdog) {
			/* The master's loop turns: systemd's watchdog is fed. */
			sd_notify_send("WATCHDOG=1");
			next_watchdog = util_now_usec() + watchdog_ms * 1000ULL;
		}
		master_reap(&m);
		if (!m.stopping)
			master_restart_due(&m);
		else if (util_now_usec() >= m.kill_at) {
			log_warn("workers still running after the drain: "
			    "killing them");
			master_signal_all(&m, SIGKILL);
			master_signal_old(&m, SIGKILL);
			m.kill_at = UINT64_MAX;
		}
	}
	log_info("stopped");
	master_listeners_close(&m);
	free(m.slots);
	free(m.w);
	free(m.old.pids);
	if (m.owned != NULL) {
		config_free(m.owned);
		free(m.owned);
	}
	return (rc);
}
